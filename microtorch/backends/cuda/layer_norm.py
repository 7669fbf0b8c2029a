"""Layer normalisation on CUDA: a fused forward and a fused backward.

The input is a C-contiguous ``(R, D)`` array (see :mod:`microtorch.backends.cpu.layer_norm` for
the math). One block normalises one row: its threads read the row with a stride of the block
size (neighbouring threads read neighbouring addresses), and a shared-memory tree sums what
they hold, first for the mean, then for the variance; each thread then writes its share of the
output. The backward pass is two kernels: one block per row for ``gx`` (two sums per row,
``mean(gxhat)`` and ``mean(gxhat * xhat)``), and one thread per column ``d`` for ``gweight[d]``
and ``gbias[d]`` (a loop over the rows; neighbouring threads read neighbouring columns). Sums
accumulate in float64.
"""

import math

import numpy as np
from numba import cuda, float64

from .. import contract
from . import _core
from ._core import arr, b1, f32, f64
from .elementwise import contiguous

REGISTRY = contract.registry("cuda")

THREADS = _core.THREADS


@cuda.jit(device=True)
def _block_sum(sm, tid, value):
    """The sum of ``value`` over the block's threads (every thread gets it)."""
    sm[tid] = value
    cuda.syncthreads()
    s = THREADS // 2
    while s > 0:
        if tid < s:
            sm[tid] += sm[tid + s]
        cuda.syncthreads()
        s //= 2
    total = sm[0]
    cuda.syncthreads()
    return total


@cuda.jit
def layer_norm_rows(x, weight, bias, has_w, has_b, eps, y, mean, rstd):
    """Block r normalises row r of x (R, D) into y and writes its mean and rstd."""
    sm = cuda.shared.array(THREADS, float64)
    tid = cuda.threadIdx.x
    r = cuda.blockIdx.x
    D = x.shape[1]
    acc = 0.0
    for d in range(tid, D, THREADS):
        acc += x[r, d]
    m = _block_sum(sm, tid, acc) / D
    acc = 0.0
    for d in range(tid, D, THREADS):
        c = x[r, d] - m
        acc += c * c
    inv = 1.0 / math.sqrt(_block_sum(sm, tid, acc) / D + eps)
    if tid == 0:
        mean[r] = m
        rstd[r] = inv
    for d in range(tid, D, THREADS):
        h = (x[r, d] - m) * inv
        if has_w:
            h *= weight[d]
        if has_b:
            h += bias[d]
        y[r, d] = h


@cuda.jit
def layer_norm_backward_rows(gy, x, weight, has_w, mean, rstd, gx):
    """Block r writes gx for row r: rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat))."""
    sm = cuda.shared.array(THREADS, float64)
    tid = cuda.threadIdx.x
    r = cuda.blockIdx.x
    D = x.shape[1]
    m = float64(mean[r])
    inv = float64(rstd[r])
    a = 0.0
    b = 0.0
    for d in range(tid, D, THREADS):
        g = float64(gy[r, d])
        if has_w:
            g *= weight[d]
        a += g
        b += g * (x[r, d] - m) * inv
    a = _block_sum(sm, tid, a) / D
    b = _block_sum(sm, tid, b) / D
    for d in range(tid, D, THREADS):
        g = float64(gy[r, d])
        if has_w:
            g *= weight[d]
        gx[r, d] = inv * (g - a - (x[r, d] - m) * inv * b)


@cuda.jit
def layer_norm_backward_columns(gy, x, mean, rstd, gweight, gbias):
    """Thread d sums column d over the rows: gweight[d] = sum(gy * xhat), gbias[d] = sum(gy)."""
    R = x.shape[0]
    for d in range(cuda.grid(1), x.shape[1], cuda.gridsize(1)):
        sw = 0.0
        sb = 0.0
        for r in range(R):
            g = float64(gy[r, d])
            sw += g * (x[r, d] - mean[r]) * rstd[r]
            sb += g
        gweight[d] = sw
        gbias[d] = sb


for _dt in (f32, f64):
    _m, _v = arr(_dt, 2), arr(_dt, 1)
    REGISTRY.launches(layer_norm_rows, (_m, _v, _v, b1, b1, f64, _m, _v, _v))
    REGISTRY.launches(layer_norm_backward_rows, (_m, _m, _v, b1, _v, _v, _m))
    REGISTRY.launches(layer_norm_backward_columns, (_m, _m, _v, _v, _v, _v))


@REGISTRY.kernel("layer_norm")
def layer_norm(x, weight, bias, eps):
    """Normalise each row of x (R, D), then ``* weight + bias`` (each (D,) or None); returns
    (y (R, D), mean (R,), rstd (R,)) of x's dtype."""
    dtype = np.dtype(x.dtype)
    x = contiguous(x)
    R = x.shape[0]
    y = _core.empty(x.shape, dtype)
    mean = _core.empty((R,), dtype)
    rstd = _core.empty((R,), dtype)
    if R == 0:
        return y, mean, rstd
    placeholder = mean
    _core.launch(layer_norm_rows, R, THREADS, x, placeholder if weight is None else weight,
                 placeholder if bias is None else bias, weight is not None, bias is not None,
                 np.float64(eps), y, mean, rstd)
    return y, mean, rstd


@REGISTRY.kernel("layer_norm_backward")
def layer_norm_backward(gy, x, weight, mean, rstd):
    """Gradients of :func:`layer_norm`: (gx (R, D), gweight (D,), gbias (D,)); gweight and
    gbias are computed even when weight is None."""
    dtype = np.dtype(x.dtype)
    x = contiguous(x)
    gy = contiguous(gy)
    R, D = x.shape
    gx = _core.empty(x.shape, dtype)
    gweight = _core.empty((D,), dtype)
    gbias = _core.empty((D,), dtype)
    if R:
        _core.launch(layer_norm_backward_rows, R, THREADS, gy, x,
                     mean if weight is None else weight, weight is not None, mean, rstd, gx)
    if D:
        _core.launch_1d(layer_norm_backward_columns, D, gy, x, mean, rstd, gweight, gbias)
    return gx, gweight, gbias
