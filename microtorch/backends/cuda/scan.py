"""Scans (running sums and products) along one axis on CUDA: ``cumsum`` and ``cumprod``.

``x`` is viewed as ``(A, D, B)`` with the scanned axis in the middle; one thread scans one
``(a, b)`` line, looping over ``D`` (from its end when ``reverse``), so neighbouring threads read
neighbouring addresses when ``B > 1``. The running total has the array's dtype (float32,
float64 or int64), as in PyTorch's CUDA kernel::

    cumsum   y[d] = x[0] + ... + x[d]        cumprod   y[d] = x[0] * ... * x[d]
"""

import math

import numpy as np
from numba import cuda

from .. import contract
from . import _core
from ._core import arr, b1, f32, f64, i64
from .elementwise import contiguous

REGISTRY = contract.registry("cuda")


@cuda.jit
def scan_lines(x, prod, reverse, first, y):
    """x, y (A, D, B): one thread per (a, b) line; ``first`` is 0 or 1 in x's dtype."""
    D = x.shape[1]
    B = x.shape[2]
    for t in range(cuda.grid(1), x.shape[0] * B, cuda.gridsize(1)):
        a = t // B
        b = t % B
        acc = first
        for k in range(D):
            d = D - 1 - k if reverse else k
            if prod:
                acc *= x[a, d, b]
            else:
                acc += x[a, d, b]
            y[a, d, b] = acc


for _dt in (f32, f64, i64):
    REGISTRY.launches(scan_lines, (arr(_dt, 3), b1, b1, _dt, arr(_dt, 3)))


def _scan(x, axis, reverse, prod):
    dtype = np.dtype(x.dtype)
    axis = int(axis)
    a, d, b = math.prod(x.shape[:axis]), int(x.shape[axis]), math.prod(x.shape[axis + 1:])
    y = _core.empty(x.shape, dtype)
    if y.size == 0:
        return y
    _core.launch_1d(scan_lines, a * b, _core.reshape(contiguous(x), (a, d, b)), bool(prod),
                    bool(reverse), _core.scalar(1 if prod else 0, dtype),
                    _core.reshape(y, (a, d, b)))
    return y


@REGISTRY.kernel("cumsum")
def cumsum(x, axis, reverse=False):
    """Running sums of x (float32, float64 or int64) along ``axis`` (from its end when
    ``reverse``): a new device array of x's shape and dtype."""
    return _scan(x, axis, reverse, False)


@REGISTRY.kernel("cumprod")
def cumprod(x, axis, reverse=False):
    """Running products of x along ``axis`` (from its end when ``reverse``)."""
    return _scan(x, axis, reverse, True)
