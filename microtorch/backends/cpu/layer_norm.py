"""Layer normalisation kernels for the CPU backend: a fused forward and a fused backward.

The input is a C-contiguous ``(R, D)`` array: ``R`` rows (every dim before the normalised ones)
of ``D`` values (the normalised dims, flattened). Each row is normalised on its own, so threads
take blocks of rows. A row is read while it is in cache: once for its mean, once for its
variance (two passes, so the variance does not lose digits to cancellation), once to write the
output. Sums accumulate in float64; results have x's dtype.

The math, with ``xhat = (x - mean) * rstd`` and ``rstd = 1 / sqrt(var + eps)`` per row::

    forward     y = xhat * weight + bias
    backward    gxhat = gy * weight
                gx = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat))   (per row)
                gweight = sum over rows of gy * xhat,   gbias = sum over rows of gy

The backward kernel writes each thread's share of ``gweight`` and ``gbias`` to its own row of a
``(threads, D)`` buffer, summed at the end, so no two threads write the same place.
"""

import numpy as np

from .. import contract
from .._numba import jit
from .threads import get_num_threads, run, split

REGISTRY = contract.registry("cpu")

# Reassociation lets LLVM vectorise the sums; NaN and infinity handling stay IEEE.
_FAST = {"reassoc", "contract", "nsz", "arcp"}
# Smaller inputs are handled on one thread: waking another costs more than it saves.
_PARALLEL_SIZE = 1 << 15


@jit(fastmath=_FAST, error_model="numpy")
def _forward_rows(x, weight, bias, has_w, has_b, eps, y, mean, rstd, r_lo, r_hi):
    """Rows r_lo..r_hi of x (R, D): y, and each row's mean and rstd."""
    D = x.shape[1]
    for r in range(r_lo, r_hi):
        s = 0.0
        for d in range(D):
            s += x[r, d]
        m = s / D
        v = 0.0
        for d in range(D):
            c = x[r, d] - m
            v += c * c
        inv = 1.0 / np.sqrt(v / D + eps)
        mean[r] = m
        rstd[r] = inv
        for d in range(D):
            h = (x[r, d] - m) * inv
            if has_w:
                h *= weight[d]
            if has_b:
                h += bias[d]
            y[r, d] = h


@jit(fastmath=_FAST, error_model="numpy")
def _backward_rows(gy, x, weight, has_w, mean, rstd, gx, gw_part, gb_part, r_lo, r_hi):
    """gx for rows r_lo..r_hi; their sums of gy * xhat and gy added to gw_part and gb_part."""
    D = x.shape[1]
    for r in range(r_lo, r_hi):
        m = np.float64(mean[r])
        inv = np.float64(rstd[r])
        a = 0.0  # sum of gxhat
        b = 0.0  # sum of gxhat * xhat
        for d in range(D):
            h = (x[r, d] - m) * inv
            g = np.float64(gy[r, d])
            gw_part[d] += g * h
            gb_part[d] += g
            if has_w:
                g *= weight[d]
            a += g
            b += g * h
        a /= D
        b /= D
        for d in range(D):
            h = (x[r, d] - m) * inv
            g = np.float64(gy[r, d])
            if has_w:
                g *= weight[d]
            gx[r, d] = inv * (g - a - h * b)


def _affine(weight, x):
    """(array, flag): ``weight`` or, when None, a one-element placeholder of x's dtype."""
    if weight is None:
        return np.zeros(1, dtype=x.dtype), False
    return np.ascontiguousarray(weight, dtype=x.dtype), True


def _parts(rows, size):
    """The row ranges the threads take (one range when the work is small)."""
    if size < _PARALLEL_SIZE or get_num_threads() == 1:
        return [(0, rows)]
    return split(rows)


@REGISTRY.kernel("layer_norm")
def layer_norm(x, weight, bias, eps):
    """Normalise each row of x (R, D) to mean 0 and variance 1, then ``* weight + bias`` (each
    (D,) or None). Returns (y (R, D), mean (R,), rstd (R,)), all of x's dtype."""
    x = np.ascontiguousarray(x)
    R, D = x.shape
    y = np.empty((R, D), dtype=x.dtype)
    mean = np.empty(R, dtype=x.dtype)
    rstd = np.empty(R, dtype=x.dtype)
    if R == 0:
        return y, mean, rstd
    w, has_w = _affine(weight, x)
    b, has_b = _affine(bias, x)
    run([(_forward_rows, (x, w, b, has_w, has_b, float(eps), y, mean, rstd, lo, hi))
         for lo, hi in _parts(R, x.size)])
    return y, mean, rstd


@REGISTRY.kernel("layer_norm_backward")
def layer_norm_backward(gy, x, weight, mean, rstd):
    """Gradients of :func:`layer_norm` (gx (R, D), gweight (D,), gbias (D,)) from the upstream
    gradient gy (R, D) and the forward's saved mean and rstd; gweight and gbias are computed
    even when weight is None."""
    x = np.ascontiguousarray(x)
    gy = np.ascontiguousarray(gy, dtype=x.dtype)
    R, D = x.shape
    gx = np.empty((R, D), dtype=x.dtype)
    w, has_w = _affine(weight, x)
    parts = _parts(R, x.size) if R else []
    gw_part = np.zeros((max(len(parts), 1), D))
    gb_part = np.zeros((max(len(parts), 1), D))
    run([(_backward_rows, (gy, x, w, has_w, mean, rstd, gx, gw_part[i], gb_part[i], lo, hi))
         for i, (lo, hi) in enumerate(parts)])
    return gx, gw_part.sum(0).astype(x.dtype), gb_part.sum(0).astype(x.dtype)


# --------------------------------------------------------------------------------------------
# reference kernels: the textbook versions (see microtorch.backends.cpu.use_reference_kernels)
# --------------------------------------------------------------------------------------------

@jit
def _layer_norm_reference_loop(x, weight, bias, has_w, has_b, eps, y, mean, rstd):
    R, D = x.shape
    for r in range(R):
        m = 0.0
        for d in range(D):
            m += x[r, d]
        m /= D
        v = 0.0
        for d in range(D):
            v += (x[r, d] - m) ** 2
        v /= D
        mean[r] = m
        rstd[r] = 1.0 / np.sqrt(v + eps)
        for d in range(D):
            y[r, d] = (x[r, d] - m) / np.sqrt(v + eps)
            if has_w:
                y[r, d] *= weight[d]
            if has_b:
                y[r, d] += bias[d]


@REGISTRY.reference("layer_norm")
def layer_norm_reference(x, weight, bias, eps):
    """Textbook ``layer_norm``: mean, variance and output of each row in plain loops."""
    x = np.ascontiguousarray(x)
    R, D = x.shape
    y = np.empty((R, D), dtype=x.dtype)
    mean = np.empty(R, dtype=x.dtype)
    rstd = np.empty(R, dtype=x.dtype)
    w, has_w = _affine(weight, x)
    b, has_b = _affine(bias, x)
    _layer_norm_reference_loop(x, w, b, has_w, has_b, float(eps), y, mean, rstd)
    return y, mean, rstd


@jit
def _layer_norm_backward_reference_loop(gy, x, weight, has_w, mean, rstd, gx, gw, gb):
    R, D = x.shape
    for r in range(R):
        a = 0.0
        b = 0.0
        for d in range(D):
            xhat = (x[r, d] - mean[r]) * rstd[r]
            g = gy[r, d] * weight[d] if has_w else gy[r, d]
            a += g / D
            b += g * xhat / D
            gw[d] += gy[r, d] * xhat
            gb[d] += gy[r, d]
        for d in range(D):
            xhat = (x[r, d] - mean[r]) * rstd[r]
            g = gy[r, d] * weight[d] if has_w else gy[r, d]
            gx[r, d] = rstd[r] * (g - a - xhat * b)


@REGISTRY.reference("layer_norm_backward")
def layer_norm_backward_reference(gy, x, weight, mean, rstd):
    """Textbook ``layer_norm_backward``: the formulas of the module docstring, row by row."""
    x = np.ascontiguousarray(x)
    R, D = x.shape
    gx = np.empty((R, D), dtype=x.dtype)
    gw = np.zeros(D)
    gb = np.zeros(D)
    w, has_w = _affine(weight, x)
    _layer_norm_backward_reference_loop(np.ascontiguousarray(gy, dtype=x.dtype), x, w, has_w,
                                        mean.astype(np.float64), rstd.astype(np.float64), gx,
                                        gw, gb)
    return gx, gw.astype(x.dtype), gb.astype(x.dtype)
