"""Fused scaled dot-product attention on CUDA, forward and backward.

The same algorithm as the CPU kernels (:mod:`microtorch.backends.cpu.attention`), written for
correctness first: one thread per query row ``(n, i)`` walks the keys once with an online
softmax (running max ``m``, running sum ``l``; the running ``sum_j exp(s_j - m) v_j`` is kept
in the output row itself and rescaled when the max grows), and saves ``lse = m + log(l)``
(``+inf`` for a row with every key masked, whose output is 0).

The backward recomputes ``p_ij = exp(s_ij - lse_i)`` in two kernels, so no two threads add to
the same row: one thread per query row computes ``D_i = g_i . out_i`` and
``dq_i = scale sum_j p_ij (g_i . v_j - D_i) k_j``; then one thread per key row computes
``dv_j = sum_i p_ij g_i`` and ``dk_j = scale sum_i p_ij (g_i . v_j - D_i) q_i``.

Arrays: ``q (N, L, E)``, ``k (N, S, E)``, ``v (N, S, Ev)``, ``bias (Nb, L, S)`` with ``Nb`` 0
(no mask), 1 (shared) or N; scores and sums accumulate in float64.
"""

import math

import numpy as np
from numba import cuda

from .. import contract
from . import _core
from ._core import arr, b1, f32, f64
from .elementwise import contiguous

REGISTRY = contract.registry("cuda")


@cuda.jit(device=True)
def _score(q, k, bias, scale, n, i, j):
    """s_ij of head n: q_i . k_j * scale + bias_ij."""
    d = 0.0
    for e in range(q.shape[2]):
        d += q[n, i, e] * k[n, j, e]
    x = d * scale
    nb = bias.shape[0]
    if nb > 0:
        x += bias[n if nb > 1 else 0, i, j]
    return x


@cuda.jit
def attention_rows(q, k, v, bias, causal, scale, out, lse):
    """One thread per query row: out and lse (see the module docstring)."""
    N, L = q.shape[0], q.shape[1]
    S = k.shape[1]
    Ev = v.shape[2]
    for t in range(cuda.grid(1), N * L, cuda.gridsize(1)):
        n = t // L
        i = t % L
        for e in range(Ev):
            out[n, i, e] = 0
        m = -math.inf
        total = 0.0
        jend = min(S, i + 1) if causal else S
        for j in range(jend):
            x = _score(q, k, bias, scale, n, i, j)
            if x == -math.inf:
                continue
            if x > m:
                alpha = math.exp(m - x)
                total *= alpha
                for e in range(Ev):
                    out[n, i, e] *= alpha
                m = x
            p = math.exp(x - m)
            total += p
            for e in range(Ev):
                out[n, i, e] += p * v[n, j, e]
        if total == 0.0:
            lse[n, i] = math.inf
        else:
            lse[n, i] = m + math.log(total)
            inv = 1.0 / total
            for e in range(Ev):
                out[n, i, e] *= inv


@cuda.jit
def attention_backward_rows(g, q, k, v, bias, causal, scale, out, lse, dsum, gq):
    """One thread per query row: D_i (into dsum) and dq_i."""
    N, L, E = q.shape
    S = k.shape[1]
    Ev = v.shape[2]
    for t in range(cuda.grid(1), N * L, cuda.gridsize(1)):
        n = t // L
        i = t % L
        for e in range(E):
            gq[n, i, e] = 0
        d = 0.0
        for e in range(Ev):
            d += g[n, i, e] * out[n, i, e]
        dsum[n, i] = d
        li = lse[n, i]
        if li == math.inf:
            continue
        jend = min(S, i + 1) if causal else S
        for j in range(jend):
            p = math.exp(_score(q, k, bias, scale, n, i, j) - li)
            dp = 0.0
            for e in range(Ev):
                dp += g[n, i, e] * v[n, j, e]
            ds = p * (dp - d) * scale
            for e in range(E):
                gq[n, i, e] += ds * k[n, j, e]


@cuda.jit
def attention_backward_cols(g, q, k, v, bias, causal, scale, lse, dsum, gk, gv):
    """One thread per key row: dk_j and dv_j, given D from :func:`attention_backward_rows`."""
    N, L, E = q.shape
    S = k.shape[1]
    Ev = v.shape[2]
    for t in range(cuda.grid(1), N * S, cuda.gridsize(1)):
        n = t // S
        j = t % S
        for e in range(E):
            gk[n, j, e] = 0
        for e in range(Ev):
            gv[n, j, e] = 0
        for i in range(j if causal else 0, L):
            li = lse[n, i]
            if li == math.inf:
                continue
            p = math.exp(_score(q, k, bias, scale, n, i, j) - li)
            dp = 0.0
            for e in range(Ev):
                dp += g[n, i, e] * v[n, j, e]
                gv[n, j, e] += p * g[n, i, e]
            ds = p * (dp - dsum[n, i]) * scale
            for e in range(E):
                gk[n, j, e] += ds * q[n, i, e]


for _dt in (f32, f64):
    _a3 = arr(_dt, 3)
    REGISTRY.launches(attention_rows, (_a3, _a3, _a3, _a3, b1, f64, _a3, arr(f64, 2)))
    REGISTRY.launches(attention_backward_rows, (_a3, _a3, _a3, _a3, _a3, b1, f64, _a3,
                                                arr(f64, 2), arr(f64, 2), _a3))
    REGISTRY.launches(attention_backward_cols, (_a3, _a3, _a3, _a3, _a3, b1, f64, arr(f64, 2),
                                                arr(f64, 2), _a3, _a3))


def _bias(bias, dtype):
    return _core.empty((0, 1, 1), dtype) if bias is None else contiguous(bias)


@REGISTRY.kernel("attention")
def attention(q, k, v, bias, causal, scale):
    """``(out, lse)`` of fused attention (see the CPU kernel of the same name)."""
    dtype = np.dtype(q.dtype)
    q, k, v = contiguous(q), contiguous(k), contiguous(v)
    N, L = q.shape[0], q.shape[1]
    out = _core.empty((N, L, v.shape[2]), dtype)
    lse = _core.empty((N, L), np.float64)
    if N * L:
        _core.launch_1d(attention_rows, N * L, q, k, v, _bias(bias, dtype), bool(causal),
                        float(scale), out, lse)
    return out, lse


@REGISTRY.kernel("attention_backward")
def attention_backward(g, q, k, v, bias, causal, scale, out, lse):
    """``(gq, gk, gv)``: gradients of :func:`attention`, recomputing the weights."""
    dtype = np.dtype(q.dtype)
    g, q, k, v, out = (contiguous(a) for a in (g, q, k, v, out))
    N, L = q.shape[0], q.shape[1]
    S = k.shape[1]
    gq, gk, gv = (_core.empty(a.shape, dtype) for a in (q, k, v))
    dsum = _core.empty((N, L), np.float64)
    b = _bias(bias, dtype)
    if N * L:
        _core.launch_1d(attention_backward_rows, N * L, g, q, k, v, b, bool(causal),
                        float(scale), out, lse, dsum, gq)
    if N * S:
        _core.launch_1d(attention_backward_cols, N * S, g, q, k, v, b, bool(causal),
                        float(scale), lse, dsum, gk, gv)
    return gq, gk, gv
