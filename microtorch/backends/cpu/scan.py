"""Scans (running sums and products) along one axis for the CPU backend: ``cumsum`` and
``cumprod``, from the start of the axis or, with ``reverse``, from its end (the backward of
``cumsum`` is a reversed ``cumsum`` of the gradient).

The input is viewed as ``(A, D, B)`` with the scanned axis in the middle. When ``B == 1`` (the
last axis) each of the ``A`` rows is one sequential loop; otherwise a row of ``B`` running
totals moves down ``D``, reading contiguous ``B``-wide slices (the inner loop vectorises).
Threads take blocks of ``A``. Floating point totals are kept in float64 (as PyTorch's CPU
kernel keeps them), integer ones in int64; outputs have the input's dtype::

    cumsum   y[d] = x[0] + x[1] + ... + x[d]
    cumprod  y[d] = x[0] * x[1] * ... * x[d]
"""

import numpy as np

from .. import contract
from .._numba import jit
from .threads import parallel_for

REGISTRY = contract.registry("cpu")

# Smaller arrays are scanned on one thread: waking another costs more than it saves.
_PARALLEL_SIZE = 1 << 16


@jit
def _scan_rows(x, prod, reverse, first, y, r_lo, r_hi):
    """Scan rows r_lo..r_hi of x (R, D) into y, starting from ``first`` (0 or 1, in the type
    of the running total)."""
    D = x.shape[1]
    for r in range(r_lo, r_hi):
        acc = first
        for k in range(D):
            d = D - 1 - k if reverse else k
            if prod:
                acc *= x[r, d]
            else:
                acc += x[r, d]
            y[r, d] = acc


@jit
def _scan_strided(x, prod, reverse, first, y, a_lo, a_hi):
    """Scan x (A, D, B) along axis 1 into y for a in a_lo..a_hi: B running totals at once."""
    D, B = x.shape[1], x.shape[2]
    acc = np.full(B, first)
    for a in range(a_lo, a_hi):
        acc[:] = first
        for k in range(D):
            d = D - 1 - k if reverse else k
            for b in range(B):
                if prod:
                    acc[b] *= x[a, d, b]
                else:
                    acc[b] += x[a, d, b]
                y[a, d, b] = acc[b]


def _split(shape, axis):
    """(A, D, B): the sizes before, at and after axis."""
    A = int(np.prod(shape[:axis], dtype=np.int64))
    B = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return A, int(shape[axis]), B


def _first(x, prod):
    """The scan's starting total: 0 or 1 as float64 (floating x) or int64."""
    kind = np.float64 if x.dtype.kind == "f" else np.int64
    return kind(1 if prod else 0)


def _scan(x, axis, reverse, prod):
    x = np.ascontiguousarray(x)
    y = np.empty(x.shape, dtype=x.dtype)
    if x.size == 0:
        return y
    A, D, B = _split(x.shape, axis)
    serial = x.size < _PARALLEL_SIZE
    first = _first(x, prod)
    if B == 1:
        parallel_for(_scan_rows, A, x.reshape(A, D), prod, bool(reverse), first,
                     y.reshape(A, D), serial=serial)
    else:
        parallel_for(_scan_strided, A, x.reshape(A, D, B), prod, bool(reverse), first,
                     y.reshape(A, D, B), serial=serial)
    return y


@REGISTRY.kernel("cumsum")
def cumsum(x, axis, reverse=False):
    """Running sums of x (float32, float64 or int64, any rank >= 1) along ``axis``; from the
    end of the axis when ``reverse``. A new array of x's shape and dtype."""
    return _scan(x, axis, reverse, False)


@REGISTRY.kernel("cumprod")
def cumprod(x, axis, reverse=False):
    """Running products of x along ``axis`` (from its end when ``reverse``)."""
    return _scan(x, axis, reverse, True)


# --------------------------------------------------------------------------------------------
# reference kernels: the textbook versions (see microtorch.backends.cpu.use_reference_kernels)
# --------------------------------------------------------------------------------------------

@jit
def _scan_reference_loop(x, prod, reverse, first, y):
    """y[a, :, b] = the running sums (or products) of x[a, :, b], for x, y (A, D, B)."""
    A, D, B = x.shape
    for a in range(A):
        for b in range(B):
            acc = first
            for k in range(D):
                d = D - 1 - k if reverse else k
                acc = acc * x[a, d, b] if prod else acc + x[a, d, b]
                y[a, d, b] = acc


def _scan_reference(x, axis, reverse, prod):
    y = np.empty(x.shape, dtype=x.dtype)
    if x.size:
        shape = _split(x.shape, axis)
        _scan_reference_loop(np.ascontiguousarray(x).reshape(shape), prod, bool(reverse),
                             _first(x, prod), y.reshape(shape))
    return y


@REGISTRY.reference("cumsum")
def cumsum_reference(x, axis, reverse=False):
    """Textbook ``cumsum``: one plain loop per line along ``axis``."""
    return _scan_reference(x, axis, reverse, False)


@REGISTRY.reference("cumprod")
def cumprod_reference(x, axis, reverse=False):
    """Textbook ``cumprod``: one plain loop per line along ``axis``."""
    return _scan_reference(x, axis, reverse, True)
