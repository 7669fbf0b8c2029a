"""Reductions (sum, prod, max, min over any axes) and arg-reductions (argmax, argmin).

How a reduction is mapped onto the GPU
--------------------------------------
``reduce(op, x, axes)`` first views ``x`` as a 2-D problem: the kept dims become rows (``M`` of
them) and the reduced dims columns (``K`` long), using a permuted *view* when the data already
lies that way and one copy kernel otherwise. Then, by shape:

* **rows, long** (``K > 16``): kernel ``rows_block``. Grid ``(M, chunks)``, block of
  ``THREADS`` (256) threads. Block ``(m, c)`` owns the slice ``[c * L, (c + 1) * L)`` of row
  ``m``; each thread accumulates the elements ``tid, tid + 256, ...`` of that slice in a register
  (a block-stride loop: neighbouring threads read neighbouring addresses, so loads coalesce),
  then the block combines its 256 partial values with a shared-memory tree
  (``s = 128, 64, ..., 1``: thread ``t < s`` combines ``t`` and ``t + s``, ``syncthreads``
  between levels). When ``M`` alone cannot fill the GPU, rows are split into up to 1024 chunks
  (``chunks > 1``); their partial results ``(M, chunks)`` are reduced by a second launch of the
  same kernel. Any length works, and ``max``/``prod`` need no atomics.
* **rows, short** (``K <= 16``): kernel ``rows_thread``, one thread per row.
* **columns** (the reduced dims lead a C-contiguous array, e.g. a bias gradient summed over the
  batch): kernel ``cols_thread``, one thread per kept element walking down its column;
  neighbouring threads read neighbouring addresses.

Sums accumulate in the input dtype (float32 stays float32: the tree makes them pairwise);
integer and bool sums and products accumulate and return int64, as in PyTorch; max/min
propagate nan.

``arg_reduce(op, x, axis)`` views ``x`` as ``(outer, K, inner)``: for ``inner == 1`` and long
rows one block per row keeps ``(value, index)`` pairs in two shared arrays (ties and nans pick
the smallest index, as NumPy and PyTorch); otherwise one thread per ``(outer, inner)`` output.
"""

import math

import numpy as np
from numba import cuda, float32, float64, int64

from .. import contract
from . import _core
from ._core import arr, f32, f64, i64
from .elementwise import astype, contiguous, copy_, fill_

REGISTRY = contract.registry("cuda")

THREADS = _core.THREADS
MAX_CHUNKS = 4 if _core.SIM else 1024
REDUCE = REGISTRY.codes("reduce")
SUM = REDUCE.add("sum")
PROD = REDUCE.add("prod")
MAX = REDUCE.add("max")
MIN = REDUCE.add("min")
CODES = REDUCE.codes
"""Reduction op name -> code."""
ARG = REGISTRY.codes("arg_reduce")
ARGMAX = ARG.add("argmax")
ARGMIN = ARG.add("argmin")
ARG_CODES = ARG.codes
"""Arg-reduction op name -> code."""


@cuda.jit(device=True, inline=True)
def _combine(code, a, b):
    if code == SUM:
        return a + b
    if code == PROD:
        return a * b
    if code == MAX:
        return a if (a > b or a != a) else b
    return a if (a < b or a != a) else b  # MIN


def _make_rows_block(acc_type):
    @cuda.jit
    def rows_block(code, init, chunk, x, out):
        """x (M, K), out (M, chunks): out[m, c] = op over x[m, c*chunk:(c+1)*chunk]."""
        sm = cuda.shared.array(THREADS, acc_type)
        tid = cuda.threadIdx.x
        m = cuda.blockIdx.x
        c = cuda.blockIdx.y
        stop = min(x.shape[1], (c + 1) * chunk)
        acc = init
        for k in range(c * chunk + tid, stop, THREADS):
            acc = _combine(code, acc, x[m, k])
        sm[tid] = acc
        cuda.syncthreads()
        s = THREADS // 2
        while s > 0:
            if tid < s:
                sm[tid] = _combine(code, sm[tid], sm[tid + s])
            cuda.syncthreads()
            s //= 2
        if tid == 0:
            out[m, c] = sm[0]
    return rows_block


rows_block_f32 = _make_rows_block(float32)
rows_block_f64 = _make_rows_block(float64)
rows_block_i64 = _make_rows_block(int64)
_ROWS_BLOCK = {np.dtype(np.float32): rows_block_f32, np.dtype(np.float64): rows_block_f64,
               np.dtype(np.int64): rows_block_i64}


@cuda.jit
def rows_thread(code, init, x, out):
    """x (M, K), out (M, 1): one thread per row."""
    for m in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        acc = init
        for k in range(x.shape[1]):
            acc = _combine(code, acc, x[m, k])
        out[m, 0] = acc


@cuda.jit
def cols_thread(code, init, x, out):
    """x (K, M), out (M,): one thread per column."""
    for m in range(cuda.grid(1), x.shape[1], cuda.gridsize(1)):
        acc = init
        for k in range(x.shape[0]):
            acc = _combine(code, acc, x[k, m])
        out[m] = acc


for _dt, _block in ((f32, rows_block_f32), (f64, rows_block_f64), (i64, rows_block_i64)):
    REGISTRY.launches(_block, (i64, _dt, i64, arr(_dt, 2), arr(_dt, 2)))
    REGISTRY.launches(rows_thread, (i64, _dt, arr(_dt, 2), arr(_dt, 2)))
    REGISTRY.launches(cols_thread, (i64, _dt, arr(_dt, 2), arr(_dt, 1)))


def _acc_dtype(op, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return dtype
    return np.dtype(np.int64)


def _out_dtype(op, dtype):
    dtype = np.dtype(dtype)
    if op in ("sum", "prod") and dtype.kind in "biu":
        return np.dtype(np.int64)
    return dtype


def _init(op, acc):
    if op == "sum":
        return _core.scalar(0, acc)
    if op == "prod":
        return _core.scalar(1, acc)
    if acc.kind == "f":
        return _core.scalar(-np.inf if op == "max" else np.inf, acc)
    info = np.iinfo(acc)
    return _core.scalar(info.min if op == "max" else info.max, acc)


def _reduce_rows(op, x2, out2):
    """Reduce the rows of the 2-D view ``x2`` (M, K) into ``out2`` (M, 1)."""
    m, k = x2.shape
    acc = _acc_dtype(op, x2.dtype)
    code, init = CODES[op], _init(op, acc)
    if k <= 16:
        _core.launch_1d(rows_thread, m, code, init, x2, out2)
        return out2
    sms = 4 if _core.SIM else 132
    chunks = 1
    if m < 4 * sms and k > 16 * THREADS:     # too few rows to fill the GPU: split them
        chunks = min(MAX_CHUNKS, math.ceil(k / (4 * THREADS)), math.ceil(8 * sms / m))
    chunk = math.ceil(k / chunks)
    chunks = math.ceil(k / chunk)
    kernel = _ROWS_BLOCK[acc]
    if chunks == 1:
        _core.launch(kernel, (m, 1), THREADS, code, init, np.int64(chunk), x2, out2)
        return out2
    partial = _core.empty((m, chunks), acc)
    _core.launch(kernel, (m, chunks), THREADS, code, init, np.int64(chunk), x2, partial)
    return _reduce_rows(op, partial, out2)   # sum of partial sums, max of maxima...


@REGISTRY.kernel("reduce")
def reduce(op, x, axes, keepdim):
    """``op`` (sum, prod, max, min) of ``x`` over ``axes`` (sorted, unique, non-negative)."""
    axes = tuple(int(a) for a in axes)
    shape = tuple(x.shape)
    out_dtype = _out_dtype(op, x.dtype)
    kept = [d for d in range(len(shape)) if d not in axes]
    out_shape = tuple(1 if d in axes else shape[d] for d in range(len(shape))) if keepdim \
        else tuple(shape[d] for d in kept)
    out = _core.empty(out_shape, out_dtype)
    if not axes:
        return copy_(out, x)
    m = math.prod(shape[d] for d in kept)
    k = math.prod(shape[d] for d in axes)
    if out.size == 0:
        return out
    if x.dtype == np.bool_:
        x = astype(x, np.int64)
    flat_out = _core.reshape(out, (m,))
    if k == 0:
        return _fill_identity(op, out)
    contiguous_x = _core.is_contiguous(x)
    if contiguous_x and axes == tuple(range(len(kept), len(shape))):
        x2 = _core.reshape(x, (m, k))                                  # reduced dims trail
    elif contiguous_x and axes == tuple(range(len(axes))) and (m >= 1024 or k <= 4096):
        acc = _acc_dtype(op, x.dtype)
        target = flat_out if acc == out_dtype else _core.empty((m,), acc)
        _core.launch_1d(cols_thread, m, CODES[op], _init(op, acc), _core.reshape(x, (k, m)),
                        target)
        if target is not flat_out:
            copy_(flat_out, target)
        return out
    else:
        x2 = _core.reshape(contiguous(_core.permute(x, kept + list(axes))), (m, k))
    acc = _acc_dtype(op, x.dtype)
    if acc == out_dtype:
        _reduce_rows(op, x2, _core.reshape(out, (m, 1)))
    else:
        tmp = _reduce_rows(op, x2, _core.empty((m, 1), acc))
        copy_(_core.reshape(out, (m, 1)), tmp)
    return out


def _fill_identity(op, out):
    acc = _acc_dtype(op, out.dtype)
    return fill_(out, _init(op, acc))


# -- arg reductions ---------------------------------------------------------------------------

@cuda.jit(device=True, inline=True)
def _better(code, v, best):
    """True when ``v`` replaces ``best``: strictly larger (argmax) / smaller (argmin), or the
    first nan."""
    if v != v:
        return best == best
    if code == ARGMAX:
        return v > best
    return v < best  # ARGMIN


@cuda.jit
def arg_thread(code, x, out):
    """x (outer, K, inner), out (outer, inner) int64: one thread per output."""
    inner = x.shape[2]
    for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        o = t // inner
        i = t % inner
        best = x[o, 0, i]
        bi = 0
        for k in range(1, x.shape[1]):
            v = x[o, k, i]
            if _better(code, v, best):
                best = v
                bi = k
        out[o, i] = bi


def _make_arg_block(value_type):
    @cuda.jit
    def arg_block(code, x, out):
        """x (R, K), out (R,) int64: one block per row, (value, index) tree in shared memory."""
        sv = cuda.shared.array(THREADS, value_type)
        si = cuda.shared.array(THREADS, int64)
        tid = cuda.threadIdx.x
        r = cuda.blockIdx.x
        best = x[r, 0]
        bi = -1
        for k in range(tid, x.shape[1], THREADS):
            v = x[r, k]
            if bi < 0 or _better(code, v, best):
                best = v
                bi = k
        sv[tid] = best
        si[tid] = bi
        cuda.syncthreads()
        s = THREADS // 2
        while s > 0:
            if tid < s:
                j1 = si[tid]
                j2 = si[tid + s]
                if j2 >= 0:
                    v1 = sv[tid]
                    v2 = sv[tid + s]
                    take = j1 < 0 or _better(code, v2, v1)
                    if not take and j2 < j1:   # equal values or both nan: smaller index
                        take = (v2 == v1) or (v1 != v1 and v2 != v2)
                    if take:
                        sv[tid] = v2
                        si[tid] = j2
            cuda.syncthreads()
            s //= 2
        if tid == 0:
            out[r] = si[0]
    return arg_block


arg_block_f32 = _make_arg_block(float32)
arg_block_f64 = _make_arg_block(float64)
arg_block_i64 = _make_arg_block(int64)
_ARG_BLOCK = {np.dtype(np.float32): arg_block_f32, np.dtype(np.float64): arg_block_f64,
              np.dtype(np.int64): arg_block_i64}
for _dt, _block in ((f32, arg_block_f32), (f64, arg_block_f64), (i64, arg_block_i64)):
    REGISTRY.launches(arg_thread, (i64, arr(_dt, 3), arr(i64, 2)))
    REGISTRY.launches(_block, (i64, arr(_dt, 2), arr(i64, 1)))


@REGISTRY.kernel("arg_reduce")
def arg_reduce(op, x, axis, keepdim):
    """int64 indices of the max (``argmax``) or min (``argmin``) along ``axis``."""
    code = ARG_CODES[op]
    shape = tuple(x.shape)
    axis = int(axis)
    outer = math.prod(shape[:axis])
    k = shape[axis]
    inner = math.prod(shape[axis + 1:])
    out_shape = shape[:axis] + ((1,) if keepdim else ()) + shape[axis + 1:]
    out = _core.empty(out_shape, np.int64)
    if out.size == 0:
        return out
    if np.dtype(x.dtype).kind != "f" and np.dtype(x.dtype) != np.int64:
        x = astype(x, np.int64)
    x3 = _core.reshape(contiguous(x), (outer, k, inner))
    if inner == 1 and k > 64:
        kernel = _ARG_BLOCK[np.dtype(x.dtype)]
        _core.launch(kernel, outer, THREADS, code, _core.reshape(x3, (outer, k)),
                     _core.reshape(out, (outer,)))
    else:
        _core.launch_1d(arg_thread, outer * inner, code, x3, _core.reshape(out, (outer, inner)))
    return out
