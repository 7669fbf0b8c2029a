"""Softmax and log-softmax along one axis for the CPU backend, forward and backward.

The input is viewed as ``(A, D, B)`` with the softmax axis in the middle (``A`` = product of the
dimensions before it, ``B`` = after it). When ``B == 1`` (the last axis, the usual case) a
row kernel handles contiguous rows; otherwise a strided kernel walks ``D`` with stride ``B`` and
keeps ``B``-wide vectors of running maxima and sums. Threads take blocks of independent rows
(or chunks of columns); the input is never copied.

The math (max-subtracted, so exp never overflows)::

    softmax       y = exp(x - m) / s,        m = max(x),  s = sum(exp(x - m))
    log_softmax   y = x - m - log(s)
    backward      softmax:      gx = y * (gy - sum(gy * y))
                  log_softmax:  gx = gy - exp(y) * sum(gy)

Sums accumulate in float64; outputs have x's dtype. A NaN in a row makes the whole row NaN.
"""

import numpy as np

from .. import contract
from .._numba import jit
from .threads import parallel_for

REGISTRY = contract.registry("cpu")

_FAST = {"reassoc", "contract", "nsz", "arcp"}
# Columns handled together by one iteration of the strided kernels.
_CHUNK = 256
# Smaller arrays are handled on one thread: waking another costs more than it saves.
_PARALLEL_SIZE = 1 << 16


@jit(fastmath=_FAST)
def _softmax_rows(x, log, y, r_lo, r_hi):
    """Softmax (or log-softmax) of rows r_lo..r_hi of x (R, D) into y."""
    D = x.shape[1]
    for r in range(r_lo, r_hi):
        m = x[r, 0]
        for d in range(1, D):
            v = x[r, d]
            if v > m or v != v:
                m = v
        s = 0.0
        if log:
            for d in range(D):
                s += np.exp(x[r, d] - m)
            shift = m + x.dtype.type(np.log(s))
            for d in range(D):
                y[r, d] = x[r, d] - shift
        else:
            for d in range(D):
                e = np.exp(x[r, d] - m)
                y[r, d] = e
                s += e
            inv = x.dtype.type(1.0 / s)
            for d in range(D):
                y[r, d] *= inv


@jit(fastmath=_FAST)
def _softmax_strided(x, log, y, q_lo, q_hi):
    """Softmax (or log-softmax) of x (A, D, B) along axis 1 into y, _CHUNK columns at a time:
    chunks q_lo..q_hi of the A * ceil(B / _CHUNK)."""
    D, B = x.shape[1], x.shape[2]
    nchunks = (B + _CHUNK - 1) // _CHUNK
    for q in range(q_lo, q_hi):
        a = q // nchunks
        b0 = (q % nchunks) * _CHUNK
        b1 = min(B, b0 + _CHUNK)
        m = x[a, 0, b0:b1].copy()
        for d in range(1, D):
            for b in range(b0, b1):
                v = x[a, d, b]
                if v > m[b - b0] or v != v:
                    m[b - b0] = v
        s = np.zeros(b1 - b0)
        for d in range(D):
            for b in range(b0, b1):
                e = np.exp(x[a, d, b] - m[b - b0])
                s[b - b0] += e
                if not log:
                    y[a, d, b] = e
        for b in range(b0, b1):
            if log:
                m[b - b0] += x.dtype.type(np.log(s[b - b0]))
            else:
                s[b - b0] = 1.0 / s[b - b0]
        for d in range(D):
            for b in range(b0, b1):
                if log:
                    y[a, d, b] = x[a, d, b] - m[b - b0]
                else:
                    y[a, d, b] *= x.dtype.type(s[b - b0])


@jit(fastmath=_FAST)
def _softmax_backward_rows(gy, y, log, gx, r_lo, r_hi):
    """Backward of softmax (or log-softmax) over rows r_lo..r_hi of (R, D), given the output
    y."""
    D = y.shape[1]
    for r in range(r_lo, r_hi):
        s = 0.0
        if log:
            for d in range(D):
                s += gy[r, d]
            t = y.dtype.type(s)
            for d in range(D):
                gx[r, d] = gy[r, d] - np.exp(y[r, d]) * t
        else:
            for d in range(D):
                s += gy[r, d] * y[r, d]
            t = y.dtype.type(s)
            for d in range(D):
                gx[r, d] = y[r, d] * (gy[r, d] - t)


@jit(fastmath=_FAST)
def _softmax_backward_strided(gy, y, log, gx, q_lo, q_hi):
    """Backward of softmax (or log-softmax) of (A, D, B) along axis 1, given the output y:
    column chunks q_lo..q_hi, as in :func:`_softmax_strided`."""
    D, B = y.shape[1], y.shape[2]
    nchunks = (B + _CHUNK - 1) // _CHUNK
    for q in range(q_lo, q_hi):
        a = q // nchunks
        b0 = (q % nchunks) * _CHUNK
        b1 = min(B, b0 + _CHUNK)
        s = np.zeros(b1 - b0)
        for d in range(D):
            for b in range(b0, b1):
                if log:
                    s[b - b0] += gy[a, d, b]
                else:
                    s[b - b0] += gy[a, d, b] * y[a, d, b]
        t = s.astype(y.dtype)
        for d in range(D):
            for b in range(b0, b1):
                if log:
                    gx[a, d, b] = gy[a, d, b] - np.exp(y[a, d, b]) * t[b - b0]
                else:
                    gx[a, d, b] = y[a, d, b] * (gy[a, d, b] - t[b - b0])


def _split(shape, axis):
    """(A, D, B): the sizes before, at and after axis."""
    A = int(np.prod(shape[:axis], dtype=np.int64))
    B = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return A, int(shape[axis]), B


@REGISTRY.kernel("softmax")
def softmax(x, axis, log):
    """softmax(x) along axis (log_softmax when log is true); a new array of x's shape and dtype.

    x has any rank >= 1 and 0 <= axis < x.ndim; an empty x (or axis) gives an empty result.
    """
    x = np.ascontiguousarray(x)
    y = np.empty(x.shape, dtype=x.dtype)
    if x.size == 0:
        return y
    A, D, B = _split(x.shape, axis)
    serial = x.size < _PARALLEL_SIZE
    if B == 1:
        parallel_for(_softmax_rows, A, x.reshape(A, D), bool(log), y.reshape(A, D),
                     serial=serial)
    else:
        parallel_for(_softmax_strided, A * -(-B // _CHUNK), x.reshape(A, D, B), bool(log),
                     y.reshape(A, D, B), serial=serial)
    return y


@REGISTRY.kernel("softmax_backward")
def softmax_backward(gy, y, axis, log):
    """Gradient of :func:`softmax` with respect to its input, from gy and the forward output y."""
    gy = np.ascontiguousarray(gy, dtype=y.dtype)
    y = np.ascontiguousarray(y)
    gx = np.empty(y.shape, dtype=y.dtype)
    if y.size == 0:
        return gx
    A, D, B = _split(y.shape, axis)
    serial = y.size < _PARALLEL_SIZE
    if B == 1:
        parallel_for(_softmax_backward_rows, A, gy.reshape(A, D), y.reshape(A, D), bool(log),
                     gx.reshape(A, D), serial=serial)
    else:
        parallel_for(_softmax_backward_strided, A * -(-B // _CHUNK), gy.reshape(A, D, B),
                     y.reshape(A, D, B), bool(log), gx.reshape(A, D, B), serial=serial)
    return gx


# --------------------------------------------------------------------------------------------
# reference kernels: the textbook versions (see microtorch.backends.cpu.use_reference_kernels)
# --------------------------------------------------------------------------------------------

@jit
def _softmax_reference_loop(x, log, y):
    """y[a, :, b] = softmax (or log_softmax) of x[a, :, b] for x, y (A, D, B), D >= 1."""
    A, D, B = x.shape
    for a in range(A):
        for b in range(B):
            m = x[a, 0, b]
            for d in range(1, D):
                if x[a, d, b] > m or x[a, d, b] != x[a, d, b]:
                    m = x[a, d, b]
            s = 0.0
            for d in range(D):
                s += np.exp(x[a, d, b] - m)
            for d in range(D):
                if log:
                    y[a, d, b] = x[a, d, b] - m - np.log(s)
                else:
                    y[a, d, b] = np.exp(x[a, d, b] - m) / s


@REGISTRY.reference("softmax")
def softmax_reference(x, axis, log):
    """Textbook ``softmax``: a plain loop per slice along ``axis``."""
    y = np.empty(x.shape, dtype=x.dtype)
    if x.size:
        _softmax_reference_loop(np.ascontiguousarray(x).reshape(_split(x.shape, axis)),
                                bool(log), y.reshape(_split(x.shape, axis)))
    return y


@jit
def _softmax_backward_reference_loop(gy, y, log, gx):
    """gx[a, :, b] from gy and y along axis 1 of (A, D, B) arrays (see the module docstring)."""
    A, D, B = y.shape
    for a in range(A):
        for b in range(B):
            s = 0.0
            for d in range(D):
                s += gy[a, d, b] if log else gy[a, d, b] * y[a, d, b]
            for d in range(D):
                if log:
                    gx[a, d, b] = gy[a, d, b] - np.exp(y[a, d, b]) * s
                else:
                    gx[a, d, b] = y[a, d, b] * (gy[a, d, b] - s)


@REGISTRY.reference("softmax_backward")
def softmax_backward_reference(gy, y, axis, log):
    """Textbook ``softmax_backward``: a plain loop per slice along ``axis``."""
    gx = np.empty(y.shape, dtype=y.dtype)
    if y.size:
        shape = _split(y.shape, axis)
        _softmax_backward_reference_loop(np.ascontiguousarray(gy, dtype=y.dtype).reshape(shape),
                                         np.ascontiguousarray(y).reshape(shape), bool(log),
                                         gx.reshape(shape))
    return gx
