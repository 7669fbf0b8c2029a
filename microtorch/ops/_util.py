"""Helpers shared by the ops: operand preparation, broadcasting and dim normalisation."""

from .. import _dtype
from .._tensor import Tensor


def wrap(value, like):
    """A Python scalar as a 0-d "wrapped number" tensor on ``like``'s device."""
    if isinstance(value, Tensor):
        return value
    dtype = _WRAPPED_DTYPES.get(type(value)) or _dtype.scalar_dtype(value)
    if dtype is _dtype.float32:  # keep a float's full precision; promotion decides the dtype
        dtype = _dtype.float64
    t = Tensor._make(like._backend.full((), value, dtype.np), like._device)
    t._wrapped_number = True
    return t


#: The dtype of a wrapped Python number by its exact type (a float keeps double precision).
_WRAPPED_DTYPES = {float: _dtype.float64, int: _dtype.int64, bool: _dtype.bool_}


def promote_operands(be, a, b, dtype=None):
    """``(dtype, x, y)``: ``dtype`` (default: PyTorch's promotion of tensors ``a`` and ``b``) and
    the arrays of ``a`` and ``b`` cast to it by backend ``be`` (uncopied when already so)."""
    dtype = dtype or _dtype.result_type(a, b)
    x = a._data if a.dtype is dtype else be.astype(a._data, dtype.np)
    y = b._data if b.dtype is dtype else be.astype(b._data, dtype.np)
    return dtype, x, y


def check_same_device(*tensors):
    """Raise PyTorch's error when tensors live on different devices."""
    first = tensors[0]._device
    for t in tensors[1:]:
        if t._device is not first and t._device != first and not t._wrapped_number:
            raise RuntimeError("Expected all tensors to be on the same device, but found at least "
                               f"two devices, {_dev_names(first, t.device)}!")


def _dev_names(a, b):
    return f"{b} and {a}" if a.type == "cpu" else f"{a} and {b}"


def broadcast_shapes(*shapes):
    """The broadcast shape, or PyTorch's RuntimeError naming the mismatching sizes."""
    if len(shapes) == 2 and (shapes[0] == shapes[1] or not shapes[1]):
        return tuple(shapes[0])
    ndim = max(len(s) for s in shapes)
    result = [1] * ndim
    for s in shapes:
        for i, size in enumerate(s):
            j = ndim - len(s) + i
            if size == 1:
                continue
            if result[j] == 1:
                result[j] = size
            elif result[j] != size:
                a, b = (result[j], size)
                raise RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b "
                                   f"({b}) at non-singleton dimension {j}")
    return tuple(result)


def sum_to_shape(grad, shape):
    """Sum ``grad`` over the dimensions that broadcasting expanded, giving ``shape``.

    This is the one place where broadcasting is undone in backward: leading dimensions that the
    input did not have are summed away, and dimensions where the input had size 1 are summed
    with ``keepdim=True``.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and grad.shape[lead + i] != 1)
    if dims:
        grad = grad.sum(dims, keepdim=True)
    return grad.reshape(shape) if grad.shape != shape else grad


def grad_for(grad, shape, dtype):
    """The gradient of an input of ``shape``/``dtype`` from a broadcast, promoted ``grad``."""
    grad = sum_to_shape(grad, shape)
    return grad if grad.dtype is dtype else grad.to(dtype)


def normalize_dim(dim, ndim):
    """A dim in [-ndim, ndim) as a non-negative int, or PyTorch's IndexError."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def normalize_dims(dim, ndim, *, one_at_a_time=False):
    """``dim`` (None, an int or a sequence) as a sorted tuple of non-negative dims; None and
    ``()`` mean every dim, as in PyTorch.

    PyTorch's reductions check every dim's range before looking for a repeated dim; var and
    std check each dim in turn (``one_at_a_time``), so a repeat is reported before a later
    out-of-range dim.
    """
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    if not one_at_a_time:
        dim = [normalize_dim(d, ndim) for d in dim]
    seen = set()
    for d in dim:
        d = normalize_dim(d, ndim)
        if d in seen:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        seen.add(d)
    return tuple(sorted(seen)) if ndim else ()
