"""Batch normalisation kernels for the CPU backend: statistics, forward and fused backward.

Inputs are ``(N, C, *)`` arrays (channels on axis 1), viewed as ``(N, C, S)``; ``M = N*S`` is
the number of values per channel. Per-channel sums accumulate in float64 (also for float32
input); results are returned in x's dtype. Threads take blocks of channels for the statistics
and the backward pass (one channel's data is re-read while it is still in cache), and blocks of
(image, channel) planes for the elementwise forward.

The math, with xhat = (x - mean) * invstd::

    forward     y  = xhat * weight + bias  = (x - mean) * a + bias,  a = invstd*weight
    backward    gbias = sum(gy),  gweight = sum(gy * xhat)
                training: gx = weight*invstd * (gy - mean(gy) - xhat * mean(gy * xhat))
                eval:     gx = weight*invstd * gy        (mean and invstd are constants)
"""

import math

import numpy as np

from .. import contract
from .._numba import jit
from .threads import parallel_for

REGISTRY = contract.registry("cpu")

# Reassociation lets LLVM vectorise the sums; NaN and infinity handling stay IEEE.
_FAST = {"reassoc", "contract", "nsz", "arcp"}
# Smaller inputs are handled on one thread: waking another costs more than it saves.
_PARALLEL_SIZE = 1 << 16


def _channels(x):
    """x (N, C, *) as a C-contiguous (N, C, S) array."""
    x = np.ascontiguousarray(x)
    return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))  # no -1: x may be empty


@jit(fastmath=_FAST, error_model="numpy")
def _stats_kernel(x, mean, var, c_lo, c_hi):
    """mean[c], var[c] (biased) of x (N, C, S) over axes 0 and 2 for channels c_lo..c_hi:
    shifted two-pass, float64."""
    N, S = x.shape[0], x.shape[2]
    M = N * S
    for c in range(c_lo, c_hi):
        acc = 0.0
        for n in range(N):
            for s in range(S):
                acc += x[n, c, s]
        mu = acc / M
        dev = 0.0
        dev2 = 0.0
        for n in range(N):
            for s in range(S):
                d = x[n, c, s] - mu
                dev += d
                dev2 += d * d
        # dev is the rounding error of mu times M; subtracting its share corrects the variance
        mean[c] = mu
        v = (dev2 - dev * dev / M) / M
        # clamp rounding below 0, but keep a NaN (an inf or NaN in the channel): max(0.0, nan)
        # would turn it into 0
        var[c] = 0.0 if v < 0.0 else v


@jit(fastmath={"contract"})
def _affine_kernel(x, mean, a, b, y, q_lo, q_hi):
    """y[n, c, s] = (x[n, c, s] - mean[c]) * a[c] + b[c] for the (n, c) planes q = n*C + c in
    [q_lo, q_hi).

    The mean is subtracted first, not folded into b (x * a + (b - mean * a)): for data far from
    zero (a channel of values near 1e4) the folded form cancels two large rounded products,
    while x - mean is small and exact for values close to the mean. No reassociation is allowed
    here, so the compiler cannot fold it back."""
    C, S = x.shape[1], x.shape[2]
    for q in range(q_lo, q_hi):
        n = q // C
        c = q % C
        mc = mean[c]
        ac = a[c]
        bc = b[c]
        for s in range(S):
            y[n, c, s] = (x[n, c, s] - mc) * ac + bc


@jit(fastmath=_FAST, error_model="numpy")
def _backward_kernel(gy, x, weight, mean, invstd, training, gx, gweight, gbias, c_lo, c_hi):
    """Fused batch-norm backward for channels c_lo..c_hi (see the module docstring); weight
    may be ones."""
    N, S = x.shape[0], x.shape[2]
    M = N * S
    for c in range(c_lo, c_hi):
        mu = np.float64(mean[c])
        sum_gy = 0.0
        sum_gy_xmu = 0.0
        for n in range(N):
            for s in range(S):
                g = np.float64(gy[n, c, s])
                sum_gy += g
                sum_gy_xmu += g * (x[n, c, s] - mu)
        inv = np.float64(invstd[c])
        w = np.float64(weight[c])
        gbias[c] = sum_gy
        gweight[c] = sum_gy_xmu * inv
        # gx = k_gy * gy + k_x * x + k_0, with the coefficients in x's dtype
        k_gy = w * inv
        if training:
            k_x = -w * inv * inv * inv * sum_gy_xmu / M
            k_0 = -k_gy * sum_gy / M - k_x * mu
        else:
            k_x = 0.0
            k_0 = 0.0
        a = x.dtype.type(k_gy)
        b = x.dtype.type(k_x)
        d = x.dtype.type(k_0)
        for n in range(N):
            for s in range(S):
                gx[n, c, s] = a * gy[n, c, s] + b * x[n, c, s] + d


@REGISTRY.kernel("batch_norm_stats")
def batch_norm_stats(x):
    """Per-channel (mean, biased variance) of x (N, C, *) over every axis but 1.

    Computed with a shifted two-pass algorithm in float64; returned as two (C,) arrays of x's
    dtype. With no values per channel both are NaN.
    """
    x3 = _channels(x)
    C = x3.shape[1]
    mean = np.empty(C, dtype=np.float64)
    var = np.empty(C, dtype=np.float64)
    if x3.shape[0] * x3.shape[2] == 0:
        mean.fill(np.nan)
        var.fill(np.nan)
    else:
        parallel_for(_stats_kernel, C, x3, mean, var, serial=x3.size < _PARALLEL_SIZE)
    return mean.astype(x.dtype), var.astype(x.dtype)


@REGISTRY.kernel("batch_norm")
def batch_norm(x, weight, bias, mean, invstd):
    """y = (x - mean) * invstd * weight + bias per channel of x (N, C, *); a new array.

    mean and invstd are (C,) arrays (batch statistics or running statistics turned into
    1/sqrt(var + eps) by the caller); weight and bias are (C,) arrays or None (1 and 0).
    """
    x3 = _channels(x)
    dtype = x3.dtype
    C = x3.shape[1]
    a = np.asarray(invstd, dtype=np.float64)
    if weight is not None:
        a = a * np.asarray(weight, dtype=np.float64)
    b = np.zeros(C) if bias is None else np.asarray(bias, dtype=np.float64)
    y = np.empty(x3.shape, dtype=dtype)
    if y.size:
        parallel_for(_affine_kernel, x3.shape[0] * C, x3, np.asarray(mean, dtype=dtype),
                     a.astype(dtype), b.astype(dtype), y, serial=y.size < _PARALLEL_SIZE)
    return y.reshape(np.shape(x))


@REGISTRY.kernel("batch_norm_backward")
def batch_norm_backward(gy, x, weight, mean, invstd, training):
    """Gradients of :func:`batch_norm` with respect to x, weight and bias.

    gy and x are (N, C, *); weight is (C,) or None; mean and invstd are what the forward pass
    used. With ``training`` the mean and invstd are taken to be x's batch statistics (so they
    depend on x); otherwise they are constants. Returns (gx, gweight, gbias), gweight and gbias
    (C,) arrays of x's dtype (computed even when weight is None).
    """
    x3 = _channels(x)
    gy3 = _channels(gy)
    N, C, S = x3.shape
    dtype = x3.dtype
    if weight is None:
        weight = np.ones(C, dtype=dtype)
    gx = np.empty(x3.shape, dtype=dtype)
    gweight = np.zeros(C, dtype=np.float64)
    gbias = np.zeros(C, dtype=np.float64)
    if N * S:
        parallel_for(_backward_kernel, C, gy3.astype(dtype, copy=False),
                     x3, np.ascontiguousarray(weight, dtype=dtype),
                     np.ascontiguousarray(mean, dtype=dtype),
                     np.ascontiguousarray(invstd, dtype=dtype),
                     bool(training), gx, gweight, gbias, serial=x3.size < _PARALLEL_SIZE)
    return gx.reshape(np.shape(x)), gweight.astype(dtype), gbias.astype(dtype)


# --------------------------------------------------------------------------------------------
# reference kernels: the textbook versions (see microtorch.backends.cpu.use_reference_kernels)
# --------------------------------------------------------------------------------------------

@jit(error_model="numpy")
def _stats_reference_loop(x, mean, var):
    """mean[c] and biased var[c] of x[:, c, :] (N, C, S): a pass for the mean, one for var."""
    N, C, S = x.shape
    for c in range(C):
        total = 0.0
        for n in range(N):
            for s in range(S):
                total += x[n, c, s]
        mean[c] = total / (N * S)
        total = 0.0
        for n in range(N):
            for s in range(S):
                total += (x[n, c, s] - mean[c]) ** 2
        var[c] = total / (N * S)


@REGISTRY.reference("batch_norm_stats")
def batch_norm_stats_reference(x):
    """Textbook ``batch_norm_stats``: two plain passes per channel in float64."""
    x3 = _channels(x)
    mean = np.empty(x3.shape[1])
    var = np.empty(x3.shape[1])
    _stats_reference_loop(x3, mean, var)
    return mean.astype(x.dtype), var.astype(x.dtype)


@jit
def _affine_reference_loop(x, weight, bias, mean, invstd, y):
    """y[n, c, s] = (x[n, c, s] - mean[c]) * invstd[c] * weight[c] + bias[c]."""
    N, C, S = x.shape
    for n in range(N):
        for c in range(C):
            for s in range(S):
                y[n, c, s] = (x[n, c, s] - mean[c]) * invstd[c] * weight[c] + bias[c]


def _per_channel(v, C, default):
    """A (C,) float64 array of ``v``, or of ``default`` when v is None."""
    return np.full(C, default) if v is None else np.asarray(v, dtype=np.float64)


@REGISTRY.reference("batch_norm")
def batch_norm_reference(x, weight, bias, mean, invstd):
    """Textbook ``batch_norm``: one plain loop over every element, in float64."""
    x3 = _channels(x)
    C = x3.shape[1]
    y = np.empty(x3.shape, dtype=x3.dtype)
    _affine_reference_loop(x3, _per_channel(weight, C, 1.0), _per_channel(bias, C, 0.0),
                           _per_channel(mean, C, 0.0), _per_channel(invstd, C, 1.0), y)
    return y.reshape(np.shape(x))


@jit(error_model="numpy")
def _backward_reference_loop(gy, x, weight, mean, invstd, training, gx, gweight, gbias):
    """The batch-norm gradients of the module docstring, channel by channel, in float64."""
    N, C, S = x.shape
    M = N * S
    for c in range(C):
        sum_gy = 0.0
        sum_gy_xhat = 0.0
        for n in range(N):
            for s in range(S):
                sum_gy += gy[n, c, s]
                sum_gy_xhat += gy[n, c, s] * (x[n, c, s] - mean[c]) * invstd[c]
        gbias[c] = sum_gy
        gweight[c] = sum_gy_xhat
        for n in range(N):
            for s in range(S):
                g = gy[n, c, s]
                if training:
                    xhat = (x[n, c, s] - mean[c]) * invstd[c]
                    g = g - sum_gy / M - xhat * sum_gy_xhat / M
                gx[n, c, s] = weight[c] * invstd[c] * g


@REGISTRY.reference("batch_norm_backward")
def batch_norm_backward_reference(gy, x, weight, mean, invstd, training):
    """Textbook ``batch_norm_backward``: plain loops per channel, in float64."""
    x3 = _channels(x)
    C = x3.shape[1]
    gx = np.empty(x3.shape, dtype=x3.dtype)
    gweight = np.empty(C)
    gbias = np.empty(C)
    _backward_reference_loop(_channels(gy), x3, _per_channel(weight, C, 1.0),
                             _per_channel(mean, C, 0.0), _per_channel(invstd, C, 1.0),
                             bool(training), gx, gweight, gbias)
    return gx.reshape(np.shape(x)), gweight.astype(x3.dtype), gbias.astype(x3.dtype)
