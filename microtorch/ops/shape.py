"""Shape ops: views that share memory with their input (view, permute, expand, squeeze...)
and copies (clone, contiguous, to). Their backward only moves the gradient's axes back."""

import math

from .. import _dtype
from .._device import as_device
from .._tensor import Tensor, parse_to_args
from ..autograd.function import Function
from ..backends import cuda as cuda_backend
from ..backends import get_backend
from ._register import public, tensor_method, tensor_property
from ._util import normalize_dim, sum_to_shape


def infer_shape(shape, numel):
    """Resolve one ``-1`` in ``shape`` for a tensor of ``numel`` elements."""
    shape = tuple(shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s}")
        if s != -1:
            known *= s
    if unknown:
        if known == 0 and numel == 0:
            raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} "
                               "because the unspecified dimension size -1 can be any value and "
                               "is ambiguous")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[:unknown[0]] + (numel // known,) + shape[unknown[0] + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def check_fits_numpy(shape, dtype):
    """PyTorch makes views such as ``expand`` to (2**31, 2**31) (0 strides) or a reshape to
    (0, 2**31, 2**31) (no elements); a NumPy array cannot span 2**63 bytes or more, even with
    a 0 stride or another size 0, so microtorch says so instead."""
    if math.prod(s for s in shape if s) * dtype.itemsize > 2**63 - 1:
        raise RuntimeError(f"sizes={list(shape)} are too large: microtorch stores tensors in "
                           "NumPy arrays, whose nonzero sizes must multiply to under 2**63 bytes")


def _view_of(x, data):
    return Tensor._make(data, x.device, base=x)


class View(Function):
    """out = x viewed with a new shape (no copy);  dx = g.reshape(x.shape)"""

    node_name = "ViewBackward0"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        data = x._backend.view(x._data, shape)
        if data is None:
            raise RuntimeError("view size is not compatible with input tensor's size and stride "
                               "(at least one dimension spans across two contiguous subspaces). "
                               "Use .reshape(...) instead.")
        return _view_of(x, data)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


class UnsafeView(View):
    """out = a copy of x reshaped (reshape of a non-viewable tensor)"""

    node_name = "UnsafeViewBackward0"


@public(torch=False, method=True)
def view(x, *shape):
    """A view of ``x`` with ``shape`` (one entry may be -1); the strides must allow it."""
    shape = infer_shape(_shape_arg(shape), x.numel())
    if isinstance(shape, _dtype.dtype):
        raise TypeError("view(dtype) is not supported")
    check_fits_numpy(shape, x.dtype)
    return View.apply(x, shape)


@public(method=True)
def reshape(x, *shape):
    """``x`` with a new shape: a view when the strides allow it, else a copy."""
    shape = infer_shape(_shape_arg(shape), x.numel())
    if shape == x.shape:
        return x
    check_fits_numpy(shape, x.dtype)
    if x._backend.view(x._data, shape) is not None:
        return View.apply(x, shape)
    return UnsafeView.apply(x.clone(), shape)


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(int(s) for s in shape)


class Permute(Function):
    """out = x with its dims reordered;  dx = g permuted by the inverse order"""

    node_name = "PermuteBackward0"

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return _view_of(x, x._backend.permute(x._data, dims))

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return g.permute(*inverse), None


@public(method=True)
def permute(x, *dims):
    """A view of ``x`` with its dimensions reordered."""
    dims = _shape_arg(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {x.ndim} is not equal to len(dims) = {len(dims)}")
    seen = []
    for d in dims:  # one at a time, as PyTorch: a repeat is reported before a later bad dim
        d = normalize_dim(d, x.ndim)
        if d in seen:
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        seen.append(d)
    return Permute.apply(x, tuple(seen))


class Transpose(Function):
    """out = x with dims d0 and d1 swapped;  dx = g with them swapped back"""

    node_name = "TransposeBackward0"

    @staticmethod
    def forward(ctx, x, d0, d1):
        ctx.pair = (d0, d1)
        order = list(range(x.ndim))
        if x.ndim:  # a 0-d tensor has nothing to swap (dims 0 and -1 both name it)
            order[d0], order[d1] = d1, d0
        return _view_of(x, x._backend.permute(x._data, tuple(order)))

    @staticmethod
    def backward(ctx, g):
        return g.transpose(*ctx.pair), None, None


class T(Transpose):
    """out = x.t() for a matrix;  dx = g.t()"""

    node_name = "TBackward0"


@public(method=True)
def transpose(x, dim0, dim1):
    """A view of ``x`` with ``dim0`` and ``dim1`` swapped."""
    return Transpose.apply(x, normalize_dim(dim0, x.ndim), normalize_dim(dim1, x.ndim))


@tensor_property("mT")
def matrix_transpose(x):
    """``x.mT``: the last two dims swapped; a 0-d tensor is returned as is (PyTorch's
    deprecated identity), a 1-d tensor is refused."""
    if x.ndim == 0:
        return x
    if x.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {x.ndim}-D tensor.")
    return transpose(x, -2, -1)


@public(method=True)
def t(x):
    """Transpose of a matrix (a 0-d or 1-d tensor is returned as is)."""
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return T.apply(x, 0, 1) if x.ndim == 2 else x


class Expand(Function):
    """out = x broadcast to a larger shape (no copy: 0-strides);  dx = g summed back"""

    node_name = "ExpandBackward0"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return _view_of(x, x._backend.expand(x._data, shape))

    @staticmethod
    def backward(ctx, g):
        return sum_to_shape(g, ctx.in_shape), None


@public(torch=False, method=True)
def expand(x, *sizes):
    """A view of ``x`` broadcast to ``sizes`` (-1 keeps a dim's size)."""
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(x.shape)}}}, size={list(sizes)}): "
                           "the number of sizes provided "
                           f"({len(sizes)}) must be greater or equal to the number of dimensions "
                           f"in the tensor ({x.ndim})")
    lead = len(sizes) - x.ndim
    shape = []
    for i, s in enumerate(sizes):
        own = x.shape[i - lead] if i >= lead else None
        if s == -1:
            if own is None:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing "
                                   "dimension")
            s = own
        elif own is not None and own != s and own != 1:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing "
                               f"size ({own}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(sizes)}.  Tensor sizes: {list(x.shape)}")
        shape.append(s)
    shape = tuple(shape)
    check_fits_numpy(shape, x.dtype)
    return x if shape == x.shape else Expand.apply(x, shape)


class Squeeze(Function):
    """out = x without size-1 dims;  dx = g reshaped to x's shape"""

    node_name = "SqueezeBackward0"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return _view_of(x, x._backend.view(x._data, shape))

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


class SqueezeDim(Squeeze):
    """out = x without the given size-1 dim(s)"""

    node_name = "SqueezeBackward1"


class Unsqueeze(Squeeze):
    """out = x with a new size-1 dim;  dx = g with that dim removed"""

    node_name = "UnsqueezeBackward0"


@public(method=True)
def squeeze(x, dim=None):
    """A view of ``x`` without size-1 dims (only ``dim``, an int or tuple, when given)."""
    if dim is None:
        return Squeeze.apply(x, tuple(s for s in x.shape if s != 1))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    dims = {normalize_dim(d, x.ndim) for d in dims}
    shape = tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1))
    return SqueezeDim.apply(x, shape)


@public(method=True)
def unsqueeze(x, dim):
    """A view of ``x`` with a size-1 dim inserted at ``dim``."""
    dim = normalize_dim(dim, x.ndim + 1)
    return Unsqueeze.apply(x, x.shape[:dim] + (1,) + x.shape[dim:])


@public(method=True)
def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one (a view when possible)."""
    s = normalize_dim(start_dim, x.ndim)
    e = normalize_dim(end_dim, x.ndim)
    if x.ndim == 0:
        return x.reshape(1)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return x
    merged = 1  # counted, not inferred with -1, which is ambiguous when another dim is 0
    for size in x.shape[s:e + 1]:
        merged *= size
    return x.reshape(x.shape[:s] + (merged,) + x.shape[e + 1:])


@public(torch=False, method=True)
def repeat(x, *sizes):
    """``x`` tiled ``sizes[i]`` times along dim i (leading sizes add new dims): a copy.

    Each dim of size s repeated r times is viewed as (1, s), broadcast to (r, s) without a copy,
    copied, and the copy viewed as r * s; the backward of that broadcast sums the tiles.
    """
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than "
                           "number of dimensions of tensor")
    own = (1,) * (len(sizes) - x.ndim) + x.shape
    target = tuple(r * s for r, s in zip(sizes, own))
    if min(target, default=0) < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(target)}: "
                           f"{list(target)}")
    pairs = tuple(n for s in own for n in (1, s))
    # a negative count passes only for an empty dim (as in PyTorch); it tiles 0 times
    tiled = tuple(n for r, s in zip(sizes, own) for n in (max(r, 0), s))
    return x.reshape(pairs).expand(tiled).clone().reshape(target)


class Clone(Function):
    """out = a C-contiguous copy of x;  dx = g"""

    node_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, x):
        be = x._backend
        return Tensor._make(be.astype(x._data, x.dtype.np), x.device)

    @staticmethod
    def backward(ctx, g):
        return g


class ToCopy(Function):
    """out = x converted to another dtype and/or device;  dx = g converted back"""

    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, x, dtype, device):
        ctx.src = (x.dtype, x.device)
        if device != x.device:
            host = x._backend.to_numpy(x._data)
            dst = get_backend(device)
            data = dst.from_numpy(host.astype(dtype.np, copy=False))
            return Tensor._make(data, device)
        return Tensor._make(x._backend.astype(x._data, dtype.np), x.device)

    @staticmethod
    def backward(ctx, g):
        dtype, device = ctx.src
        return g.to(device=device, dtype=dtype), None, None


# ---- Tensor methods made of the shape ops ---------------------------------------------------

@tensor_method()
def size(self, dim=None):
    """The shape, or the length of dimension ``dim``."""
    if dim is None:
        return self.shape
    return self._data.shape[normalize_dim(dim, self.ndim)]


@tensor_property("T")
def _reversed_dims(self):
    """The tensor with all its dims reversed."""
    return permute(self, *range(self.ndim - 1, -1, -1))


@tensor_method()
def view_as(self, other):
    """A view with ``other``'s shape."""
    return view(self, other.shape)


@tensor_method()
def reshape_as(self, other):
    """Reshape to ``other``'s shape."""
    return reshape(self, other.shape)


@tensor_method()
def expand_as(self, other):
    """Broadcast to ``other``'s shape."""
    return expand(self, other.shape)


@tensor_method()
def clone(self):
    """A copy of the data, recorded in the graph (``CloneBackward0``)."""
    return Clone.apply(self)


@tensor_method()
def contiguous(self):
    """Self if C-contiguous, else a contiguous copy."""
    return self if self.is_contiguous() else clone(self)


@tensor_method()
def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False):
    """Convert to another dtype and/or device: ``to(dtype)``, ``to(device)``,
    ``to(device, dtype)`` or ``to(other_tensor)``. Returns self when nothing changes."""
    dtype, device = parse_to_args(args, dtype, device)
    dtype = dtype or self.dtype
    device = as_device(device) if device is not None else self._device
    if device.type == "cuda":
        cuda_backend.check_available()
    if dtype is self.dtype and device == self._device and not copy:
        return self
    return ToCopy.apply(self, dtype, device)
