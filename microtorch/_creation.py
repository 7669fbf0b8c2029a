"""Tensor creation: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``eye``...

Every function takes PyTorch's keywords ``dtype``, ``device`` and ``requires_grad``.
"""

import math
import numbers

import numpy as np

from . import _dtype
from ._device import as_device
from ._tensor import Tensor
from .backends import get_backend


def _size_arg(size):
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    size = tuple(size)
    for s in size:
        if not isinstance(s, (int, np.integer)) and not (isinstance(s, Tensor) and s.ndim == 0):
            raise TypeError(f"empty(): argument 'size' must be tuple of ints, but found element "
                            f"of type {type(s).__name__}")
        if int(s) < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {int(s)}: "
                               f"{list(size)}")
    return tuple(int(s) for s in size)


def _finish(t, requires_grad):
    if requires_grad:
        if not t.dtype.is_floating_point:  # (the factories word it as PyTorch's do)
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        t.requires_grad = True
    return t


def _check_ragged(data, dim=0):
    """Raise PyTorch's ValueError for nested lists of unequal lengths; return the shape."""
    if isinstance(data, Tensor):
        return tuple(data.shape)
    if not isinstance(data, (list, tuple)):
        return ()
    if len(data) == 0:
        return (0,)
    sub = _check_ragged(data[0], dim + 1)
    for item in data[1:]:
        is_seq = isinstance(item, (list, tuple)) or (isinstance(item, Tensor) and item.ndim)
        if bool(sub) != is_seq:
            raise TypeError(f"expected a sequence at dim {dim + 1}" if sub else
                            f"not a sequence at dim {dim + 1}")
        if sub and len(item) != sub[0]:
            raise ValueError(f"expected sequence of length {sub[0]} at dim {dim + 1} "
                             f"(got {len(item)})")
        if sub:
            _check_ragged(item, dim + 1)
    return (len(data),) + sub


def _to_numpy(data):
    if isinstance(data, Tensor):
        return np.array(data._backend.to_numpy(data._data))
    if isinstance(data, (list, tuple)):
        _check_ragged(data)
        if any(isinstance(x, Tensor) for x in data):
            return np.array([_to_numpy(x) for x in data])
        arr = np.array(data)
        if arr.dtype == object:
            raise TypeError(f"Could not infer dtype of {type(data[0]).__name__}")
        return arr
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, (numbers.Number, np.generic)):
        return np.array(data)
    if hasattr(data, "__array__"):
        return np.asarray(data)
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _infer_dtype(arr, data):
    if isinstance(data, (np.ndarray, np.generic, Tensor)):
        return _dtype.from_numpy_dtype(arr.dtype)
    kind = arr.dtype.kind
    return {"b": _dtype.bool_, "i": _dtype.int64, "u": _dtype.int64}.get(kind, _dtype.float32)


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data`` (a number, nested lists, a NumPy array or a tensor).

    The dtype is inferred as PyTorch does: bools give bool, ints give int64, floats give the
    default float32; NumPy arrays keep their dtype.
    """
    if not isinstance(data, Tensor) and hasattr(data, "__cuda_array_interface__"):
        return _finish(as_tensor(data, dtype=dtype, device=device).clone(), requires_grad)
    arr = _to_numpy(data)
    dtype = dtype or _infer_dtype(arr, data)
    arr = np.array(arr, dtype=dtype.np, order="C", copy=True)
    device = as_device(device)
    return _finish(Tensor._make(get_backend(device).from_numpy(arr), device), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like :func:`tensor` but shares memory with ``data`` when dtype and device allow it
    (a NumPy array, a tensor, or an object with ``__cuda_array_interface__``)."""
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device) if (dtype or device) else data
    if hasattr(data, "__cuda_array_interface__"):
        from .backends import cuda as cuda_backend

        t = Tensor._make(cuda_backend.from_cuda_array_interface(data), as_device("cuda"))
        return t.to(dtype=dtype, device=device) if (dtype or device) else t
    if isinstance(data, np.ndarray) and (device is None or as_device(device).type == "cpu"):
        t = from_numpy(data) if data.dtype in _dtype._FROM_NP else tensor(data)
        return t.to(dtype) if dtype else t
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray):
    """A CPU tensor sharing memory with a NumPy array (writes show in both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype not in _dtype._FROM_NP:
        raise TypeError(f"can't convert np.ndarray of type numpy.{ndarray.dtype}. The only "
                        "supported types are: float64, float32, int64, int32, uint8, and bool.")
    return Tensor._make(ndarray, as_device("cpu"))


def _filled(size, value, dtype, device, requires_grad):
    device = as_device(device)
    dtype = dtype or _dtype.float32
    data = get_backend(device).full(_size_arg(size), value, dtype.np)
    return _finish(Tensor._make(data, device), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros with the given shape."""
    return _filled(size, 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones with the given shape."""
    return _filled(size, 1, dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``; the dtype follows the value (bool, int64, float32)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dtype = dtype or _dtype.scalar_dtype(fill_value)
    return _filled((size,), fill_value, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=None):
    """An uninitialised tensor with the given shape."""
    device = as_device(device)
    data = get_backend(device).empty(_size_arg(size), (dtype or _dtype.float32).np)
    return _finish(Tensor._make(data, device), requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False):
    """Zeros shaped like ``input`` (its dtype and device unless given)."""
    return zeros(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False):
    """Ones shaped like ``input``."""
    return ones(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    """``fill_value`` shaped like ``input``."""
    return full(input.shape, fill_value, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor shaped like ``input``."""
    return empty(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Values ``start, start+step, ...`` below ``end`` (``arange(n)`` gives 0..n-1)."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dtype = _dtype.result_type(start, end, step)
    device = as_device(device)
    data = get_backend(device).arange(start, end, step, dtype.np)
    return _finish(Tensor._make(data, device), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """``steps`` values evenly spaced from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dtype = dtype or _dtype.float32
    values = np.linspace(start, end, steps, dtype=np.float64)
    return tensor(values.astype(dtype.np), device=device, requires_grad=requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """``base ** linspace(start, end, steps)``."""
    dtype = dtype or _dtype.float32
    values = np.power(base, np.linspace(start, end, steps, dtype=np.float64))
    return tensor(values.astype(dtype.np), device=device, requires_grad=requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The ``n`` x ``m`` identity matrix."""
    m = n if m is None else m
    dtype = dtype or _dtype.float32
    return tensor(np.eye(n, m, dtype=dtype.np), device=device, requires_grad=requires_grad)


def scalar_tensor(value, *, dtype=None, device=None, requires_grad=False):
    """A 0-d tensor holding ``value`` (float32 by default)."""
    return tensor(value, dtype=dtype or _dtype.float32, device=device,
                  requires_grad=requires_grad)


def is_tensor(obj):
    """True for microtorch tensors."""
    return isinstance(obj, Tensor)


def numel(input):
    """The number of elements of ``input``."""
    return input.numel()


def isfinite(input):
    """True where the value is neither inf nor NaN."""
    return (input == input) & (input.abs() != math.inf) if input.dtype.is_floating_point \
        else ones_like(input, dtype=_dtype.bool_)


def isnan(input):
    """True where the value is NaN."""
    return input != input
