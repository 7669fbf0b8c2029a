"""Memory kernels: allocation, fill, arange, host <-> device copies, casts and copies.

Only :func:`from_numpy` and :func:`to_numpy` move data between host and device; everything else
stays on the device.
"""

import math

import numpy as np
from numba import cuda

from . import _core
from .elementwise import astype, contiguous, copy_, fill_

__all__ = ["empty", "full", "arange", "from_numpy", "to_numpy", "contiguous", "astype", "copy_"]


def empty(shape, dtype):
    """A new uninitialised C-contiguous device array."""
    return _core.empty(shape, dtype)


def full(shape, value, dtype):
    """A new device array of ``shape`` filled with ``value``."""
    return fill_(_core.empty(shape, dtype), value)


@cuda.jit
def _arange_kernel(start, step, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = start + i * step


def arange(start, end, step, dtype):
    """``[start, start + step, ...)`` up to ``end`` (exclusive), like ``numpy.arange``."""
    n = max(0, math.ceil((end - start) / step))
    out = _core.empty((n,), dtype)
    if n:
        if np.dtype(dtype).kind in "iub":
            args = (np.int64(start), np.int64(step))
        else:
            args = (np.float64(start), np.float64(step))  # computed in double, stored as dtype
        _core.launch_1d(_arange_kernel, n, *args, out)
    return out


def from_numpy(array):
    """Copy a host ``numpy.ndarray`` (any strides) to a new C-contiguous device array."""
    array = np.ascontiguousarray(array)
    return cuda.to_device(array)


def to_numpy(x):
    """Copy a device array to a new C-contiguous ``numpy.ndarray``."""
    x = contiguous(x)
    if x.size == 0:
        return np.empty(x.shape, dtype=x.dtype)
    return x.copy_to_host()
