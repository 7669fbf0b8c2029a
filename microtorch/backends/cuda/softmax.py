"""Fused softmax / log-softmax along one axis and their gradients.

``x`` is viewed as ``(A, K, B)`` with the softmax axis in the middle. When ``B == 1`` (the axis
is the last one: classifier logits) one block handles one row: a shared-memory tree finds the
row's max, a second tree sums ``exp(x - max)``, and every thread writes its strided share of
the row. Otherwise one thread handles one ``(a, b)`` column, looping over ``K`` (neighbouring
threads read neighbouring addresses). Gradients, given the forward output ``y``:

* softmax:     ``gx = y * (gy - sum(gy * y))``
* log-softmax: ``gx = gy - exp(y) * sum(gy)``
"""

import math

import numpy as np
from numba import cuda, float32, float64

from .. import contract
from . import _core
from ._core import arr, b1, f32, f64
from .elementwise import contiguous

REGISTRY = contract.registry("cuda")

THREADS = _core.THREADS


def _make_row_kernels(dt):
    @cuda.jit
    def softmax_rows(x, log, y):
        sm = cuda.shared.array(THREADS, dt)
        tid = cuda.threadIdx.x
        r = cuda.blockIdx.x
        K = x.shape[1]
        m = dt(-math.inf)
        for k in range(tid, K, THREADS):
            v = x[r, k]
            if v > m or v != v:
                m = v
        sm[tid] = m
        cuda.syncthreads()
        s = THREADS // 2
        while s > 0:
            if tid < s:
                other = sm[tid + s]
                if other > sm[tid] or other != other:
                    sm[tid] = other
            cuda.syncthreads()
            s //= 2
        m = sm[0]
        cuda.syncthreads()
        acc = dt(0)
        for k in range(tid, K, THREADS):
            acc += math.exp(x[r, k] - m)
        sm[tid] = acc
        cuda.syncthreads()
        s = THREADS // 2
        while s > 0:
            if tid < s:
                sm[tid] += sm[tid + s]
            cuda.syncthreads()
            s //= 2
        total = sm[0]
        if log:
            lse = math.log(total)
            for k in range(tid, K, THREADS):
                y[r, k] = x[r, k] - m - lse
        else:
            inv = dt(1) / total
            for k in range(tid, K, THREADS):
                y[r, k] = math.exp(x[r, k] - m) * inv

    @cuda.jit
    def softmax_backward_rows(gy, y, log, gx):
        sm = cuda.shared.array(THREADS, dt)
        tid = cuda.threadIdx.x
        r = cuda.blockIdx.x
        K = y.shape[1]
        acc = dt(0)
        for k in range(tid, K, THREADS):
            if log:
                acc += gy[r, k]
            else:
                acc += gy[r, k] * y[r, k]
        sm[tid] = acc
        cuda.syncthreads()
        s = THREADS // 2
        while s > 0:
            if tid < s:
                sm[tid] += sm[tid + s]
            cuda.syncthreads()
            s //= 2
        total = sm[0]
        for k in range(tid, K, THREADS):
            if log:
                gx[r, k] = gy[r, k] - math.exp(y[r, k]) * total
            else:
                gx[r, k] = y[r, k] * (gy[r, k] - total)

    return softmax_rows, softmax_backward_rows


softmax_rows_f32, softmax_backward_rows_f32 = _make_row_kernels(float32)
softmax_rows_f64, softmax_backward_rows_f64 = _make_row_kernels(float64)
_ROWS_FORWARD = {np.dtype(np.float32): softmax_rows_f32, np.dtype(np.float64): softmax_rows_f64}
_ROWS_BACKWARD = {np.dtype(np.float32): softmax_backward_rows_f32,
                  np.dtype(np.float64): softmax_backward_rows_f64}
for _dt, _fwd, _bwd in ((f32, softmax_rows_f32, softmax_backward_rows_f32),
                        (f64, softmax_rows_f64, softmax_backward_rows_f64)):
    REGISTRY.launches(_fwd, (arr(_dt, 2), b1, arr(_dt, 2)))
    REGISTRY.launches(_bwd, (arr(_dt, 2), arr(_dt, 2), b1, arr(_dt, 2)))


@cuda.jit
def softmax_cols(x, log, ninf, zero, one, y):
    """x, y (A, K, B): one thread per (a, b)."""
    K = x.shape[1]
    B = x.shape[2]
    for t in range(cuda.grid(1), x.shape[0] * B, cuda.gridsize(1)):
        a = t // B
        b = t % B
        m = ninf
        for k in range(K):
            v = x[a, k, b]
            if v > m or v != v:
                m = v
        acc = zero
        for k in range(K):
            acc += math.exp(x[a, k, b] - m)
        if log:
            lse = math.log(acc)
            for k in range(K):
                y[a, k, b] = x[a, k, b] - m - lse
        else:
            inv = one / acc
            for k in range(K):
                y[a, k, b] = math.exp(x[a, k, b] - m) * inv


@cuda.jit
def softmax_backward_cols(gy, y, log, zero, gx):
    K = y.shape[1]
    B = y.shape[2]
    for t in range(cuda.grid(1), y.shape[0] * B, cuda.gridsize(1)):
        a = t // B
        b = t % B
        acc = zero
        for k in range(K):
            if log:
                acc += gy[a, k, b]
            else:
                acc += gy[a, k, b] * y[a, k, b]
        for k in range(K):
            if log:
                gx[a, k, b] = gy[a, k, b] - math.exp(y[a, k, b]) * acc
            else:
                gx[a, k, b] = y[a, k, b] * (gy[a, k, b] - acc)


for _dt in (f32, f64):
    REGISTRY.launches(softmax_cols, (arr(_dt, 3), b1, _dt, _dt, _dt, arr(_dt, 3)))
    REGISTRY.launches(softmax_backward_cols, (arr(_dt, 3), arr(_dt, 3), b1, _dt, arr(_dt, 3)))


def _split(shape, axis):
    return math.prod(shape[:axis]), int(shape[axis]), math.prod(shape[axis + 1:])


@REGISTRY.kernel("softmax")
def softmax(x, axis, log):
    """Softmax (or log-softmax when ``log``) of a float array along ``axis``."""
    dtype = np.dtype(x.dtype)
    a, k, b = _split(x.shape, int(axis))
    y = _core.empty(x.shape, dtype)
    if y.size == 0:
        return y
    x3 = _core.reshape(contiguous(x), (a, k, b))
    y3 = _core.reshape(y, (a, k, b))
    if b == 1:
        _core.launch(_ROWS_FORWARD[dtype], a, THREADS, _core.reshape(x3, (a, k)), bool(log),
                     _core.reshape(y3, (a, k)))
    else:
        _core.launch_1d(softmax_cols, a * b, x3, bool(log), _core.scalar(-np.inf, dtype),
                        _core.scalar(0, dtype), _core.scalar(1, dtype), y3)
    return y


@REGISTRY.kernel("softmax_backward")
def softmax_backward(gy, y, axis, log):
    """Gradient of :func:`softmax` given the upstream gradient ``gy`` and forward output ``y``."""
    dtype = np.dtype(y.dtype)
    a, k, b = _split(y.shape, int(axis))
    gx = _core.empty(y.shape, dtype)
    if gx.size == 0:
        return gx
    gy3 = _core.reshape(contiguous(gy), (a, k, b))
    y3 = _core.reshape(contiguous(y), (a, k, b))
    gx3 = _core.reshape(gx, (a, k, b))
    if b == 1:
        _core.launch(_ROWS_BACKWARD[dtype], a, THREADS, _core.reshape(gy3, (a, k)),
                     _core.reshape(y3, (a, k)), bool(log), _core.reshape(gx3, (a, k)))
    else:
        _core.launch_1d(softmax_backward_cols, a * b, gy3, y3, bool(log),
                        _core.scalar(0, dtype), gx3)
    return gx
