"""Tensor creation: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``eye``...

Every function takes PyTorch's keywords ``dtype``, ``device`` and ``requires_grad``.
"""

import contextlib
import math
import numbers

import numpy as np

from . import _dtype
from ._device import as_device
from ._tensor import Tensor
from .backends import cuda as cuda_backend
from .backends import get_backend


_MAX_BYTES = 2**63 - 1  # a storage's size in bytes is an int64 (PyTorch) / intp (NumPy)


def _size_arg(size, name="empty"):
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    size = tuple(size)
    for pos, s in enumerate(size, 1):  # all are read (as int64) before any is checked
        if not isinstance(s, (int, np.integer)) and not (isinstance(s, Tensor) and s.ndim == 0):
            raise TypeError(f"{name}(): argument 'size' must be tuple of ints, but found element "
                            f"of type {type(s).__name__}")
        if not -2**63 <= int(s) < 2**63:
            raise TypeError(f"{name}(): argument 'size' failed to unpack the object at pos {pos} "
                            "with error \"Overflow when unpacking long long\"")
    for s in size:
        if int(s) < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {int(s)}: "
                               f"{list(size)}")
    return tuple(int(s) for s in size)


@contextlib.contextmanager
def _allocation(size, dtype):
    """Check that a tensor of ``size`` and ``dtype`` can exist before the ``with`` body makes
    it, and report a failed allocation as PyTorch does (``RuntimeError``, not NumPy's
    ``MemoryError``)."""
    nbytes = math.prod(size) * dtype.itemsize
    if nbytes > _MAX_BYTES:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)}")
    if math.prod(s for s in size if s) * dtype.itemsize > _MAX_BYTES:
        # PyTorch allows such a shape when another size is 0; NumPy does not
        raise RuntimeError(f"sizes={list(size)} are too large: microtorch stores tensors in "
                           "NumPy arrays, whose nonzero sizes must multiply to under 2**63 bytes")
    try:
        yield
    except MemoryError:
        raise RuntimeError(f"DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                           f"{nbytes} bytes.") from None


def _fits(value, dtype):
    """True when PyTorch stores the Python number ``value`` in ``dtype`` (c10's ``overflows``).

    Anything fits a bool. An int fits an integer dtype's range, and uint8 also takes
    -255..-1, which wrap around as C casts do (``-1`` gives 255). A float becomes an integer
    only when finite and in range, so uint8 refuses every negative float. A finite float
    beyond float32's range does not fit float32 (inf and NaN do).
    """
    if dtype is _dtype.bool_ or isinstance(value, (bool, np.bool_)):
        return True
    if dtype.is_floating_point:
        return not math.isfinite(value) or abs(value) <= float(np.finfo(dtype.np).max)
    info = np.iinfo(dtype.np)
    if isinstance(value, (int, np.integer)):
        return (-info.max if dtype is _dtype.uint8 else info.min) <= value <= info.max
    return math.isfinite(value) and info.min <= value <= info.max


def _fill_value(value, dtype):
    """``value`` as a NumPy scalar of ``dtype``, or PyTorch's error when it does not fit."""
    if not _fits(value, dtype):
        raise RuntimeError(f"value cannot be converted to type {dtype.cpp_name} without "
                           "overflow")
    return np.asarray(value).astype(dtype.np)[()]


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


def _leading_shape(data):
    """The shape read from the first item of each nesting level of a list."""
    shape = []
    while isinstance(data, (list, tuple)):
        shape.append(len(data))
        if not data:
            break
        data = data[0]
    return tuple(shape)


def _leaves(data):
    """The numbers of nested lists, in order."""
    if isinstance(data, (list, tuple)):
        for item in data:
            yield from _leaves(item)
    elif isinstance(data, (numbers.Number, np.generic)):
        yield data


def _check_values_fit(data, arr, dtype):
    """``tensor()``'s errors for Python numbers that an integer ``dtype`` cannot hold.

    A vectorised check first; only when it fails are the numbers looked at one by one, as
    PyTorch stores them (an int and a float of a mixed list follow different rules).
    """
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8:  # ints of 2**63 and more
        raise ValueError("Overflow when unpacking long long")
    if arr.dtype.kind not in "if" or arr.size == 0:
        return
    info = np.iinfo(dtype.np)
    low = -info.max if dtype is _dtype.uint8 and arr.dtype.kind == "i" else info.min
    high = info.max if arr.dtype.kind == "f" else info.max + 1  # (floats: strict, exact below)
    if np.isfinite(arr).all() and arr.min() >= low and arr.max() < high:
        return
    for value in _leaves(data):
        if isinstance(value, int) and not -2**63 <= value < 2**63:
            raise ValueError("Overflow when unpacking long long")
        if not _fits(value, dtype):
            raise RuntimeError(f"value cannot be converted to type {dtype.name} without overflow")


def _to_numpy(data):
    if isinstance(data, Tensor):
        return np.array(data._backend.to_numpy(data._data))
    if isinstance(data, (list, tuple)):
        shape = _leading_shape(data)
        if 0 in shape:  # no elements: PyTorch takes the shape from the first items, checks no more
            return np.empty(shape)
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
    if isinstance(data, (list, tuple, numbers.Number)) and dtype.category == 1:
        _check_values_fit(data, arr, dtype)
    arr = np.array(arr, dtype=dtype.np, order="C", copy=True)
    device = as_device(device)
    return _finish(Tensor._make(get_backend(device).from_numpy(arr), device), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like :func:`tensor` but shares memory with ``data`` when dtype and device allow it
    (a NumPy array, a tensor, or an object with ``__cuda_array_interface__``)."""
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device) if (dtype or device) else data
    if hasattr(data, "__cuda_array_interface__"):
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


def _filled(size, value, dtype, device, requires_grad, name):
    device = as_device(device)
    dtype = dtype or _dtype.float32
    size = _size_arg(size, name)
    value = _fill_value(value, dtype)
    with _allocation(size, dtype):
        data = get_backend(device).full(size, value, dtype.np)
    return _finish(Tensor._make(data, device), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros with the given shape."""
    return _filled(size, 0, dtype, device, requires_grad, "zeros")


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones with the given shape."""
    return _filled(size, 1, dtype, device, requires_grad, "ones")


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``; the dtype follows the value (bool, int64, float32)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dtype = dtype or _dtype.scalar_dtype(fill_value)
    return _filled((size,), fill_value, dtype, device, requires_grad, "full")


def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=None):
    """An uninitialised tensor with the given shape."""
    device = as_device(device)
    dtype = dtype or _dtype.float32
    size = _size_arg(size, "empty")
    with _allocation(size, dtype):
        data = get_backend(device).empty(size, dtype.np)
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


def _as_number(value):
    """A 0-d tensor argument as its Python number; numbers are returned as they are."""
    return value.item() if isinstance(value, Tensor) else value


def _to_int64(value):
    """``value`` truncated to an int64, as PyTorch converts an integer arange's arguments."""
    if not _fits(value, _dtype.int64):
        raise RuntimeError("value cannot be converted to type int64_t without overflow")
    return int(value)


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Values ``start, start+step, ...`` below ``end`` (``arange(n)`` gives 0..n-1).

    As in PyTorch, the length is ``ceil((end - start) / step)`` computed in double precision
    and the values are ``start + i * step`` computed in double (float dtypes) or in int64
    (integer dtypes, whose arguments are first truncated to integers; uint8 wraps around).
    """
    if end is None:
        start, end = 0, start
    start, end, step = _as_number(start), _as_number(end), _as_number(step)
    orig_start, orig_step = start, step  # an integer dtype truncates them; checks use these
    if dtype is None:
        dtype = _dtype.result_type(start, end, step)
    if dtype is _dtype.bool_:
        raise NotImplementedError('"arange_cpu" not implemented for \'Bool\'')
    if step == 0 or step != step:
        raise RuntimeError("step must be nonzero")
    if not dtype.is_floating_point:
        step = _to_int64(step)
        start = _to_int64(start) if math.isfinite(start) else start
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {start:g} -> {end:g}")
    if (orig_step > 0 and end < orig_start) or (orig_step < 0 and end > orig_start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if step == 0 and dtype is _dtype.int64:  # a fractional step truncated to 0
        raise ValueError("step must be nonzero")
    if dtype is _dtype.int64:  # exact integer arithmetic, as PyTorch does for int64
        end = _to_int64(end)
        length = -((end - start) // -step)
    else:
        length = (float(end) - float(orig_start)) / float(orig_step)
        if not length <= _MAX_BYTES:
            raise RuntimeError("invalid size, possible overflow?")
        length = math.ceil(length)
    device = as_device(device)
    if length == 0:
        return empty(0, dtype=dtype, device=device, requires_grad=requires_grad)
    if step == 0:  # int32/uint8 with a fractional step: PyTorch repeats start
        return full((length,), start, dtype=dtype, device=device, requires_grad=requires_grad)
    acc = _dtype.float64 if dtype.is_floating_point else _dtype.int64
    be = get_backend(device)
    with _allocation((length,), acc):
        stop = end if dtype.is_floating_point else start + length * step  # (exact for ints)
        data = be.arange(start, stop, step, acc.np)[:length]
        data = data if dtype is acc else be.astype(data, dtype.np)
    return _finish(Tensor._make(data, device), requires_grad)


def _spaced(start, end, steps, dtype, name):
    """The NumPy values of ``linspace(start, end, steps)`` before the cast to ``dtype``.

    PyTorch's formula: the first half counts up from ``start`` and the second half down from
    ``end``, so both ends are exact (and ``linspace(4, inf, 4)`` is ``[nan, inf, nan, nan]``).
    Integer dtypes convert ``start`` and ``end`` to the dtype first and step in double.
    """
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    if dtype is _dtype.bool_ and steps > 1:  # (PyTorch fills 0 or 1 values without a kernel)
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'Bool\'')
    start, end = _as_number(start), _as_number(end)
    step_np = dtype.np.type if dtype.is_floating_point else np.float64
    if not dtype.is_floating_point:  # (only the values used: none for 0 steps, start for 1)
        start = _fill_value(start, dtype) if steps >= 1 else 0
        end = _fill_value(end, dtype) if steps >= 2 else start
    with _allocation((steps,), _dtype.float64):
        i = np.arange(steps, dtype=step_np)
        with np.errstate(invalid="ignore", over="ignore"):
            step = (step_np(end) - step_np(start)) / step_np(max(steps - 1, 1))
            values = np.where(i < steps // 2, step_np(start) + step * i,
                              step_np(end) - step * (steps - 1 - i))
        if steps == 1:  # PyTorch's one value is start
            values[:] = start
    return values


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """``steps`` values evenly spaced from ``start`` to ``end`` inclusive."""
    dtype = dtype or _dtype.float32
    values = _spaced(start, end, steps, dtype, "linspace")
    return tensor(values.astype(dtype.np), device=device, requires_grad=requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """``base ** linspace(start, end, steps)``."""
    dtype = dtype or _dtype.float32
    exponents = _spaced(start, end, steps, dtype, "logspace")
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.power(float(base), exponents.astype(np.float64)).astype(dtype.np)
    return tensor(values, device=device, requires_grad=requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The ``n`` x ``m`` identity matrix."""
    m = n if m is None else m
    for name, size in (("n", n), ("m", m)):
        if size < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {size}")
    dtype = dtype or _dtype.float32
    with _allocation((n, m), dtype):
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


# ---- Tensor constructors: Tensor(data) and x.new_zeros(...) ---------------------------------

def _tensor_new(cls, *args, **kwargs):
    """``Tensor(data)``: a float32 copy of ``data``; ``Tensor(2, 3)``: an uninitialised one."""
    if len(args) == 1 and not isinstance(args[0], int):
        t = tensor(args[0], dtype=_dtype.float32)
    else:
        t = tensor(np.empty(tuple(args), dtype=np.float32))
    if cls is not Tensor:
        obj = object.__new__(cls)
        obj._init_from(t._data, t.device)
        return obj
    return t


Tensor.__new__ = staticmethod(_tensor_new)


def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    """Zeros with this tensor's dtype and device unless given."""
    return zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                 requires_grad=requires_grad)


def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    """Ones with this tensor's dtype and device unless given."""
    return ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor with this tensor's dtype and device unless given."""
    return empty(*size, dtype=dtype or self.dtype, device=device or self.device,
                 requires_grad=requires_grad)


def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``, this tensor's dtype and device unless given."""
    return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    """A new tensor from ``data`` with this tensor's dtype and device unless given."""
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad)


# bound here, not in _tensor.py: the Tensor class sits below the creation functions
for _method in (new_zeros, new_ones, new_empty, new_full, new_tensor):
    setattr(Tensor, _method.__name__, _method)
