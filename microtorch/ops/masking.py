"""Masking ops: ``tril``/``triu`` (keep a triangle of the last two dims) and ``masked_fill``
(write one value where a bool mask is true), with their in-place variants.

Both are selections, not arithmetic: they are composed from ``arange``, a comparison and the
``where`` kernel, so they run on every device with no kernel of their own, and a NaN outside
the kept part is replaced (``x * mask`` would keep it). The gradient is the same selection
applied to the incoming gradient.
"""

from .. import _dtype
from .._creation import _fill_value
from .._tensor import Tensor
from ..autograd.function import Function
from ._register import public, tensor_method
from ._util import broadcast_shapes, check_same_device, grad_for
from .elementwise import where
from .inplace import check_broadcasts_to_self, inplace

# ---- tril / triu -----------------------------------------------------------------------------

def _zero(x):
    """A 0-d zero of ``x``'s dtype on ``x``'s device."""
    return Tensor._make(x._backend.full((), 0, x.dtype.np), x._device)


def _triangle_mask(x, diagonal, upper):
    """The bool ``(rows, cols)`` mask of the kept triangle: ``j - i <= diagonal`` (lower) or
    ``j - i >= diagonal`` (upper), on ``x``'s device."""
    be, rows, cols = x._backend, x.shape[-2], x.shape[-1]
    i = Tensor._make(be.arange(0, rows, 1, _dtype.int64.np), x._device).reshape(rows, 1)
    j = Tensor._make(be.arange(0, cols, 1, _dtype.int64.np), x._device)
    offset = j - i
    return offset >= diagonal if upper else offset <= diagonal


def _triangle(x, diagonal, upper):
    """``x`` with the elements outside the triangle of its last two dims set to zero."""
    return where(_triangle_mask(x, diagonal, upper), x, _zero(x))


class Tril(Function):
    """out[..., i, j] = x[..., i, j] if j - i <= diagonal else 0;  dx = tril(g, diagonal)"""

    node_name = "TrilBackward0"
    upper = False

    @classmethod
    def forward(cls, ctx, x, diagonal):
        ctx.diagonal = diagonal
        return _triangle(x, diagonal, cls.upper)

    @staticmethod
    def backward(ctx, g):
        return _triangle(g, ctx.diagonal, ctx._forward_cls.upper), None


class Triu(Tril):
    """out[..., i, j] = x[..., i, j] if j - i >= diagonal else 0;  dx = triu(g, diagonal)"""

    node_name = "TriuBackward0"
    upper = True


def _check_triangle(name, input, diagonal):
    if input.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    if isinstance(diagonal, bool) or not isinstance(diagonal, int):
        raise TypeError(f"{name}(): argument 'diagonal' (position 2) must be int, not "
                        f"{type(diagonal).__name__}")


@public(method=True)
def tril(input, diagonal=0):
    """The lower triangle of the last two dims (``j - i <= diagonal``); the rest is zero.

    ``diagonal=0`` keeps the main diagonal, ``1`` one more diagonal above it, ``-1`` drops the
    main diagonal. Leading dims are a batch. ``torch.tril(torch.ones(T, T))`` is the causal
    mask of attention."""
    _check_triangle("tril", input, diagonal)
    return Tril.apply(input, diagonal)


@public(method=True)
def triu(input, diagonal=0):
    """The upper triangle of the last two dims (``j - i >= diagonal``); the rest is zero.
    Leading dims are a batch."""
    _check_triangle("triu", input, diagonal)
    return Triu.apply(input, diagonal)


@tensor_method()
def tril_(self, diagonal=0):
    """In-place :func:`tril`."""
    _check_triangle("tril", self, diagonal)
    return inplace(self, Tril, diagonal)


@tensor_method()
def triu_(self, diagonal=0):
    """In-place :func:`triu`."""
    _check_triangle("triu", self, diagonal)
    return inplace(self, Triu, diagonal)


# ---- masked_fill -----------------------------------------------------------------------------

class MaskedFill(Function):
    """out = mask ? value : x  (a Python number);  dx = mask ? 0 : g"""

    node_name = "MaskedFillBackward0"
    non_differentiable = (1,)

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.mask, ctx.shape, ctx.dtype = mask, x.shape, x.dtype
        fill = Tensor._make(x._backend.full((), _fill_value(value, x.dtype), x.dtype.np),
                            x._device)
        return where(mask, fill, x)

    @staticmethod
    def backward(ctx, g):
        return grad_for(where(ctx.mask, _zero(g), g), ctx.shape, ctx.dtype), None, None


class MaskedFillTensor(Function):
    """out = mask ? value : x  (``value`` a 0-d tensor);  dx = mask ? 0 : g,
    dvalue = sum(mask ? g : 0)"""

    node_name = "MaskedFillBackward1"
    non_differentiable = (1,)

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.mask, ctx.shape, ctx.dtype = mask, x.shape, x.dtype
        ctx.value_dtype = value.dtype
        return where(mask, value.to(x.device, x.dtype), x)

    @staticmethod
    def backward(ctx, g):
        gx = grad_for(where(ctx.mask, _zero(g), g), ctx.shape, ctx.dtype)
        gv = None
        if ctx.needs_input_grad[2]:
            gv = where(ctx.mask, g, _zero(g)).sum().to(ctx.value_dtype)
        return gx, None, gv


def _check_masked_fill(input, mask, value, name):
    """PyTorch's checks of ``masked_fill``: a bool mask on the input's device, a number or a
    0-d tensor as the value."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name}(): argument 'mask' (position 1) must be Tensor, not "
                        f"{type(mask).__name__}")
    if mask.dtype is not _dtype.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype.c_name}")
    check_same_device(input, mask)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.ndim} dimension(s).")
    elif not isinstance(value, (bool, int, float)):
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"(Tensor, {type(value).__name__}), but expected one of:\n"
                        " * (Tensor mask, Tensor value)\n * (Tensor mask, Number value)")
    broadcast_shapes(mask.shape, input.shape)


@public(method=True)
def masked_fill(input, mask, value):
    """``input`` with ``value`` where the bool ``mask`` (broadcast with ``input``) is true.

    ``value`` is a Python number or a 0-d tensor, cast to ``input``'s dtype; a 0-d tensor
    gets the sum of the gradient over the filled places. ``x.masked_fill(~causal,
    float("-inf"))`` masks attention scores before a softmax."""
    _check_masked_fill(input, mask, value, "masked_fill")
    if isinstance(value, Tensor):
        return MaskedFillTensor.apply(input, mask, value)
    return MaskedFill.apply(input, mask, value)


@tensor_method()
def masked_fill_(self, mask, value):
    """In-place :func:`masked_fill`; ``mask`` must broadcast to this tensor's shape."""
    _check_masked_fill(self, mask, value, "masked_fill_")
    check_broadcasts_to_self(self, mask)
    if isinstance(value, Tensor):
        return inplace(self, MaskedFillTensor, mask, value)
    return inplace(self, MaskedFill, mask, value)
