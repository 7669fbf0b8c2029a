"""Memory kernels: allocation, fill, arange, host <-> device copies, casts and copies.

Only :func:`from_numpy` and :func:`to_numpy` move data between host and device; everything else
stays on the device.
"""

import math

import numpy as np
from numba import cuda

from .. import contract
from . import _core
from ._core import arr, f32, f64, i64
from .elementwise import astype, contiguous, copy_, fill_

REGISTRY = contract.registry("cuda")

__all__ = ["empty", "full", "arange", "from_numpy", "to_numpy", "contiguous", "astype", "copy_",
           "view", "permute", "expand", "from_cuda_array_interface"]


@REGISTRY.kernel("empty")
def empty(shape, dtype):
    """A new uninitialised C-contiguous device array."""
    return _core.empty(shape, dtype)


@REGISTRY.kernel("full")
def full(shape, value, dtype):
    """A new device array of ``shape`` filled with ``value``."""
    return fill_(_core.empty(shape, dtype), value)


@cuda.jit
def _arange_kernel(start, step, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = start + i * step


REGISTRY.launches(_arange_kernel, (f64, f64, arr(f32, 1, "C")),
                  (i64, i64, arr(i64, 1, "C")))


@REGISTRY.kernel("arange")
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


@REGISTRY.kernel("from_numpy")
def from_numpy(ndarray):
    """Copy a host ``numpy.ndarray`` (any strides) to a new C-contiguous device array."""
    return cuda.to_device(np.ascontiguousarray(ndarray))


@REGISTRY.kernel("to_numpy")
def to_numpy(array):
    """Copy a device array to a new C-contiguous ``numpy.ndarray``."""
    array = contiguous(array)
    if array.size == 0:
        return np.empty(array.shape, dtype=array.dtype)
    return array.copy_to_host()


# -- views (share memory) -------------------------------------------------------------------

def _nocopy_strides(shape, strides, new_shape):
    """Strides giving ``new_shape`` over the same elements in C order, or None (NumPy's
    ``_attempt_nocopy_reshape``)."""
    old = [(n, s) for n, s in zip(shape, strides) if n != 1]
    new_strides = [0] * len(new_shape)
    if math.prod(shape) == 0 or not old:
        acc = 1
        for i in range(len(new_shape) - 1, -1, -1):
            new_strides[i] = acc
            acc *= new_shape[i]
        return tuple(new_strides)
    oi = ni = 0
    nold, nnew = len(old), len(new_shape)
    while ni < nnew and oi < nold:
        np_, op_ = new_shape[ni], old[oi][0]
        nj, oj = ni + 1, oi + 1
        while np_ != op_:
            if np_ < op_:
                np_ *= new_shape[nj]
                nj += 1
            else:
                op_ *= old[oj][0]
                oj += 1
        for k in range(oi, oj - 1):
            if old[k][1] != old[k + 1][0] * old[k + 1][1]:
                return None
        new_strides[nj - 1] = old[oj - 1][1]
        for k in range(nj - 1, ni, -1):
            new_strides[k - 1] = new_strides[k] * new_shape[k]
        ni, oi = nj, oj
    last = new_strides[ni - 1] if ni >= 1 else 1
    for k in range(ni, nnew):      # trailing size-1 dims
        new_strides[k] = last
    return tuple(new_strides)


@REGISTRY.kernel("view")
def view(x, shape):
    """``x`` with a new ``shape`` sharing memory, or None when its strides forbid it."""
    shape = tuple(int(s) for s in shape)
    if math.prod(shape) != x.size:
        raise ValueError(f"cannot view an array of size {x.size} as shape {shape}")
    strides = _nocopy_strides(tuple(x.shape), _core.elem_strides(x), shape)
    if strides is None:
        return None
    return _core.view(x, shape, strides)


@REGISTRY.kernel("permute")
def permute(x, dims):
    """``x`` with its axes reordered (a view)."""
    return _core.permute(x, [int(d) for d in dims])


@REGISTRY.kernel("expand")
def expand(x, shape):
    """``x`` broadcast to ``shape`` with 0 strides (a view)."""
    return _core.broadcast_to(x, tuple(int(s) for s in shape))


def from_cuda_array_interface(obj):
    """A device array sharing memory with any object exposing ``__cuda_array_interface__``
    (CuPy, PyTorch CUDA tensors...)."""
    return cuda.as_cuda_array(obj)
