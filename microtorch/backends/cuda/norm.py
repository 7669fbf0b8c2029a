"""Batch normalisation: per-channel statistics, the normalising affine map and its gradient.

Inputs are ``(N, C, *)`` and viewed as ``(N, C, S)``. Per-channel sums run on a grid of
``(C, chunks)`` blocks: block ``(c, k)`` walks its chunk of the ``N * S`` values of channel ``c``
with a block-stride loop, accumulating two float64 sums in registers, and combines the block's
threads with a shared-memory tree; a second kernel (one thread per channel) adds the chunks and
turns the sums into per-channel coefficients. The elementwise passes then apply
``y = (x - mean[c]) * a[c] + b[c]`` (forward; the mean is subtracted first, not folded into
``b``, so data far from zero keeps its precision) or ``gx = a[c] * gy + b[c] * x + d[c]`` (backward).
Statistics use a shift (the channel's first value) so the one-pass variance stays accurate.
"""

import math

import numpy as np
from numba import cuda, float64

from .. import contract
from . import _core
from ._core import arr, b1, f32, f64, i64
from .elementwise import contiguous, fill_

REGISTRY = contract.registry("cuda")

THREADS = _core.THREADS
MAX_CHUNKS = 2 if _core.SIM else 64


@cuda.jit
def channel_sums_kernel(mode, x, y, mean, invstd, chunk, partial):
    """partial[c, k, :] = sums over chunk k of channel c of
    mode 0: (x - x[0, c, 0]) and its square; mode 1: y and y * (x - mean[c]) * invstd[c]."""
    s0 = cuda.shared.array(THREADS, float64)
    s1 = cuda.shared.array(THREADS, float64)
    tid = cuda.threadIdx.x
    c = cuda.blockIdx.x
    k = cuda.blockIdx.y
    S = x.shape[2]
    total = x.shape[0] * S
    a0 = 0.0
    a1 = 0.0
    if mode == 0:
        shift = float64(x[0, c, 0])
        for e in range(k * chunk + tid, min(total, (k + 1) * chunk), THREADS):
            v = float64(x[e // S, c, e % S]) - shift
            a0 += v
            a1 += v * v
    else:
        m = float64(mean[c])
        inv = float64(invstd[c])
        for e in range(k * chunk + tid, min(total, (k + 1) * chunk), THREADS):
            g = float64(y[e // S, c, e % S])
            a0 += g
            a1 += g * (float64(x[e // S, c, e % S]) - m) * inv
    s0[tid] = a0
    s1[tid] = a1
    cuda.syncthreads()
    s = THREADS // 2
    while s > 0:
        if tid < s:
            s0[tid] += s0[tid + s]
            s1[tid] += s1[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid == 0:
        partial[c, k, 0] = s0[0]
        partial[c, k, 1] = s1[0]


@cuda.jit
def stats_finish_kernel(partial, x, count, mean, var):
    for c in range(cuda.grid(1), mean.size, cuda.gridsize(1)):
        a0 = 0.0
        a1 = 0.0
        for k in range(partial.shape[1]):
            a0 += partial[c, k, 0]
            a1 += partial[c, k, 1]
        m = a0 / count
        mean[c] = float64(x[0, c, 0]) + m
        var[c] = max(a1 / count - m * m, 0.0)


@cuda.jit
def affine_coef_kernel(weight, bias, invstd, has_w, has_b, a, b):
    """a = invstd * weight, b = bias (per channel, float64 math)."""
    for c in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        ac = float64(invstd[c])
        if has_w:
            ac *= float64(weight[c])
        bc = 0.0
        if has_b:
            bc = float64(bias[c])
        a[c] = ac
        b[c] = bc


@cuda.jit
def affine_kernel(x, mean, a, b, y):
    """y[n, c, s] = (x[n, c, s] - mean[c]) * a[c] + b[c]: x - mean is exact for values close
    to the mean, where x * a + (b - mean * a) would cancel two large rounded products."""
    C = x.shape[1]
    S = x.shape[2]
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        s = i % S
        c = (i // S) % C
        n = i // (S * C)
        y[n, c, s] = (x[n, c, s] - mean[c]) * a[c] + b[c]


@cuda.jit
def backward_finish_kernel(partial, weight, has_w, mean, invstd, training, count,
                           gweight, gbias, a, b, d):
    for c in range(cuda.grid(1), gbias.size, cuda.gridsize(1)):
        sg = 0.0
        sgx = 0.0
        for k in range(partial.shape[1]):
            sg += partial[c, k, 0]
            sgx += partial[c, k, 1]
        gbias[c] = sg
        gweight[c] = sgx
        inv = float64(invstd[c])
        w = float64(weight[c]) if has_w else 1.0
        ac = w * inv
        if training and count > 0:
            bc = -ac * inv * sgx / count
            dc = -ac * sg / count - bc * float64(mean[c])
        else:
            bc = 0.0
            dc = 0.0
        a[c] = ac
        b[c] = bc
        d[c] = dc


@cuda.jit
def backward_apply_kernel(gy, x, a, b, d, gx):
    """gx[n, c, s] = a[c] * gy[n, c, s] + b[c] * x[n, c, s] + d[c]."""
    C = x.shape[1]
    S = x.shape[2]
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        s = i % S
        c = (i // S) % C
        n = i // (S * C)
        gx[n, c, s] = a[c] * gy[n, c, s] + b[c] * x[n, c, s] + d[c]


for _dt in (f32, f64):
    _k3, _v = arr(_dt, 3), arr(_dt, 1)
    REGISTRY.launches(channel_sums_kernel, (i64, _k3, _k3, _v, _v, i64, arr(f64, 3)))
    REGISTRY.launches(stats_finish_kernel, (arr(f64, 3), _k3, f64, _v, _v))
    REGISTRY.launches(affine_coef_kernel, (_v, _v, _v, b1, b1, _v, _v))
    REGISTRY.launches(affine_kernel, (_k3, _v, _v, _v, _k3))
    REGISTRY.launches(backward_finish_kernel, (arr(f64, 3), _v, b1, _v, _v, b1, f64) + (_v,) * 5)
    REGISTRY.launches(backward_apply_kernel, (_k3, _k3, _v, _v, _v, _k3))


def _channels(x):
    x = contiguous(x)
    n, c = x.shape[0], x.shape[1]
    return _core.reshape(x, (n, c, x.size // (n * c) if n * c else 0))


def _channel_sums(mode, x3, y3, mean, invstd):
    n, c, s = x3.shape
    total = n * s
    chunks = max(1, min(MAX_CHUNKS, math.ceil(total / (8 * THREADS))))
    chunk = math.ceil(total / chunks)
    partial = _core.empty((c, chunks, 2), np.float64)
    _core.launch(channel_sums_kernel, (c, chunks), THREADS, mode, x3, y3, mean, invstd,
                 np.int64(chunk), partial)
    return partial


@REGISTRY.kernel("batch_norm_stats")
def batch_norm_stats(x):
    """Per-channel (mean, biased variance) of x (N, C, *) over every axis but 1, as two (C,)
    arrays of x's dtype (nan when a channel has no values)."""
    x3 = _channels(x)
    n, c, s = x3.shape
    mean = _core.empty((c,), x.dtype)
    var = _core.empty((c,), x.dtype)
    if c == 0:
        return mean, var
    if n * s == 0:
        return fill_(mean, np.nan), fill_(var, np.nan)
    partial = _channel_sums(0, x3, x3, mean, mean)
    _core.launch_1d(stats_finish_kernel, c, partial, x3, np.float64(n * s), mean, var)
    return mean, var


@REGISTRY.kernel("batch_norm")
def batch_norm(x, weight, bias, mean, invstd):
    """y = (x - mean) * invstd * weight + bias per channel of x (N, C, *); weight and bias may
    be None (1 and 0)."""
    x3 = _channels(x)
    c = x3.shape[1]
    y = _core.empty(x.shape, x.dtype)
    if y.size == 0:
        return y
    a = _core.empty((c,), x.dtype)
    b = _core.empty((c,), x.dtype)
    _core.launch_1d(affine_coef_kernel, c, invstd if weight is None else weight,
                    invstd if bias is None else bias, invstd, weight is not None,
                    bias is not None, a, b)
    _core.launch_1d(affine_kernel, x3.size, x3, mean, a, b, _core.reshape(y, x3.shape))
    return y


@REGISTRY.kernel("batch_norm_backward")
def batch_norm_backward(gy, x, weight, mean, invstd, training):
    """Gradients of :func:`batch_norm` (gx, gweight, gbias); gweight and gbias are computed
    even when weight is None. With ``training`` mean and invstd are x's batch statistics."""
    x3 = _channels(x)
    gy3 = _channels(gy)
    n, c, s = x3.shape
    gx = _core.empty(x.shape, x.dtype)
    gweight = _core.empty((c,), x.dtype)
    gbias = _core.empty((c,), x.dtype)
    if c == 0:
        return gx, gweight, gbias
    if n * s == 0:
        return gx, fill_(gweight, 0), fill_(gbias, 0)
    partial = _channel_sums(1, x3, gy3, mean, invstd)
    a = _core.empty((c,), x.dtype)
    b = _core.empty((c,), x.dtype)
    d = _core.empty((c,), x.dtype)
    _core.launch_1d(backward_finish_kernel, c, partial, mean if weight is None else weight,
                    weight is not None, mean, invstd, bool(training), np.float64(n * s),
                    gweight, gbias, a, b, d)
    _core.launch_1d(backward_apply_kernel, x3.size, gy3, x3, a, b, d,
                    _core.reshape(gx, x3.shape))
    return gx, gweight, gbias
