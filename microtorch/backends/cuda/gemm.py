"""Matrix multiplication: a shared-memory tiled, register-blocked GEMM kernel.

How the GEMM is mapped onto the GPU
-----------------------------------
``C = A @ B`` with ``A`` (M, K), ``B`` (K, N) is cut into ``BM x BN`` = 128 x 128 tiles of ``C``;
one thread block of 16 x 16 = 256 threads computes one tile (grid: ``ceil(N / BN)`` blocks in x,
``ceil(M / BM)`` in y, the batch in z). Each thread owns ``TM x TN`` = 8 x 8 outputs held in
registers: thread ``(tx, ty)`` computes rows ``ty + 16 i`` and columns ``tx + 16 j``
(``i, j < 8``) of the tile. Interleaving the outputs this way makes the 32 threads of a warp read
32 consecutive shared-memory words of ``B`` (no bank conflicts) and write consecutive addresses
of ``C`` (coalesced stores).

The ``K`` dimension is walked in steps of ``BK`` = 8. At each step the block copies an
``BM x BK`` panel of ``A`` and a ``BK x BN`` panel of ``B`` into shared memory (4 elements per
thread each; out-of-range elements are stored as 0, so any M, N, K work), ``syncthreads``, then
every thread does ``BK`` rank-1 updates of its 8 x 8 accumulator from 8 values of ``A`` and 8 of
``B`` loaded into registers: 64 fused multiply-adds per 16 shared-memory loads. The ``A`` panel
is stored transposed (``As[k, m]``) and padded by 4 columns so the copy-in is free of bank
conflicts and the inner loop reads it by broadcast.

Batches: the kernel takes 4-D arrays ``(P, Q, rows, cols)`` with any strides (0 strides for a
broadcast batch dim), so ``matmul``'s batch dims, transposed operands (``a.T`` views from
backward) and the grouped GEMMs of convolution need no copies; blocks walk ``P * Q`` with a
grid-stride loop in z. Accumulation is in the operands' dtype (float32 or float64).

Under the simulator the same kernel runs with an 8 x 8 tile, ``BK`` = 4, 2 x 2 outputs per
thread (16 threads).
"""

import math

import numpy as np
from numba import cuda, float32, float64

from .. import contract
from . import _core
from ._core import arr, f32, f64
from .elementwise import contiguous, fill_

REGISTRY = contract.registry("cuda")

if _core.SIM:
    BM, BN, BK, TM, TN = 8, 8, 4, 2, 2
else:
    BM, BN, BK, TM, TN = 128, 128, 8, 8, 8
NTX = BN // TN                    # threads along N
NTY = BM // TM                    # threads along M
NT = NTX * NTY                    # threads per block
A_LOADS = BM * BK // NT           # elements of the A panel each thread copies
B_LOADS = BK * BN // NT
PAD = 4
AS_COLS = BM + PAD                # row length of the A panel in shared memory
MAX_Z = 65535


def _make_gemm(dt):
    @cuda.jit
    def gemm(a, b, c):
        """c[p, q] = a[p, q] @ b[p, q] for 4-D arrays (P, Q, M, K), (P, Q, K, N), (P, Q, M, N)."""
        As = cuda.shared.array((BK, AS_COLS), dt)
        Bs = cuda.shared.array((BK, BN), dt)
        acc = cuda.local.array((TM, TN), dt)
        ra = cuda.local.array(TM, dt)
        rb = cuda.local.array(TN, dt)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * NTX + tx
        m_size = a.shape[2]
        k_size = a.shape[3]
        n_size = b.shape[3]
        nq = c.shape[1]
        row0 = cuda.blockIdx.y * BM
        col0 = cuda.blockIdx.x * BN
        zero = dt(0)
        for z in range(cuda.blockIdx.z, c.shape[0] * nq, cuda.gridDim.z):
            p = z // nq
            q = z % nq
            for i in range(TM):
                for j in range(TN):
                    acc[i, j] = zero
            for k0 in range(0, k_size, BK):
                for t in range(A_LOADS):
                    e = tid + t * NT
                    mm = e // BK
                    kk = e % BK
                    gm = row0 + mm
                    gk = k0 + kk
                    if gm < m_size and gk < k_size:
                        As[kk, mm] = a[p, q, gm, gk]
                    else:
                        As[kk, mm] = zero
                for t in range(B_LOADS):
                    e = tid + t * NT
                    kk = e // BN
                    nn = e % BN
                    gk = k0 + kk
                    gn = col0 + nn
                    if gk < k_size and gn < n_size:
                        Bs[kk, nn] = b[p, q, gk, gn]
                    else:
                        Bs[kk, nn] = zero
                cuda.syncthreads()
                for kk in range(BK):
                    for i in range(TM):
                        ra[i] = As[kk, ty + i * NTY]
                    for j in range(TN):
                        rb[j] = Bs[kk, tx + j * NTX]
                    for i in range(TM):
                        for j in range(TN):
                            acc[i, j] += ra[i] * rb[j]
                cuda.syncthreads()
            for i in range(TM):
                gm = row0 + ty + i * NTY
                if gm < m_size:
                    for j in range(TN):
                        gn = col0 + tx + j * NTX
                        if gn < n_size:
                            c[p, q, gm, gn] = acc[i, j]
    return gemm


gemm_f32 = _make_gemm(float32)
gemm_f64 = _make_gemm(float64)
_GEMM = {np.dtype(np.float32): gemm_f32, np.dtype(np.float64): gemm_f64}
REGISTRY.launches(gemm_f32, (arr(f32, 4),) * 3, (arr(f32, 4, "C"),) * 3)
REGISTRY.launches(gemm_f64, (arr(f64, 4),) * 3)


def gemm4(a, b, c):
    """Launch the GEMM on 4-D views a (P, Q, M, K), b (P, Q, K, N) into c (P, Q, M, N)."""
    dtype = np.dtype(c.dtype)
    if dtype not in _GEMM:
        raise TypeError(f"CUDA matmul supports float32 and float64, got {dtype}")
    p, q, m, n = c.shape
    if c.size == 0:
        return c
    k = a.shape[3]
    if k == 0:
        return fill_(c, 0)
    grid = (math.ceil(n / BN), math.ceil(m / BM), min(p * q, MAX_Z))
    _core.launch(_GEMM[dtype], grid, (NTX, NTY), a, b, c)
    return c


def _as4(x, batch_shape, batch_strides):
    """A 4-D view (P, Q, rows, cols) of ``x`` whose batch dims are given (at most 2)."""
    st = _core.elem_strides(x)
    bshape = (1,) * (2 - len(batch_shape)) + tuple(batch_shape)
    bstrides = (0,) * (2 - len(batch_strides)) + tuple(batch_strides)
    return _core.view(x, bshape + tuple(x.shape[-2:]), bstrides + st[-2:])


@REGISTRY.kernel("matmul")
def matmul(a, b):
    """``a @ b`` for a (..., M, K), b (..., K, N); batch dims broadcast; 1-D operands as NumPy."""
    squeeze = []
    if a.ndim == 1:
        a = _core.view(a, (1,) + a.shape, (0,) + _core.elem_strides(a))
        squeeze.append(-2)
    if b.ndim == 1:
        b = _core.view(b, b.shape + (1,), _core.elem_strides(b) + (0,))
        squeeze.append(-1)
    m, k = a.shape[-2:]
    k2, n = b.shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match")
    batch = _core.broadcast_shape(a.shape[:-2], b.shape[:-2])
    out = _core.empty(batch + (m, n), a.dtype)
    a = _core.broadcast_to(a, batch + (m, k))
    b = _core.broadcast_to(b, batch + (k, n))
    ast, bst, cst = (_core.elem_strides(t)[:-2] for t in (a, b, out))
    bshape = ()
    if batch:
        bshape, (ast, bst, cst) = _core.collapse(batch, [ast, bst, cst])
    if len(bshape) > 2:                      # batch dims that do not collapse: copy operands
        a, b = contiguous(a), contiguous(b)
        nb = math.prod(batch)
        bshape, ast, bst, cst = (nb,), (m * k,), (k * n,), (m * n,)
    gemm4(_as4(a, bshape, ast), _as4(b, bshape, bst), _as4(out, bshape, cst))
    if squeeze:
        shape = list(out.shape)
        for axis in sorted(squeeze):
            shape[axis] = None
        shape = [s for s in shape if s is not None]
        out = _core.reshape(out, shape)
    return out



