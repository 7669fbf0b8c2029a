"""Reductions: sum, mean, prod, max/min (with and without dim), var, std, logsumexp.

``dim`` is an int, a tuple of ints or None (all dims); ``keepdim`` keeps reduced dims as size 1
(spelt ``keepdims`` too, NumPy's name, which PyTorch's argument parser accepts as well).
Backward re-inserts the reduced dims (``_unsqueeze_to``) and broadcasts the gradient back.
"""

import builtins

from .. import _dtype, return_types
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ._util import normalize_dim, normalize_dims, wrap
from ._register import public
from .elementwise import maximum, minimum, where
from .indexing import Gather, ScatterAdd


def _reduce(op, x, dims, keepdim):
    return Tensor._make(x._backend.reduce(op, x._data, dims, keepdim), x.device)


def _unsqueeze_to(g, shape, dims, keepdim):
    """Reshape a reduced gradient so that it broadcasts against the input's ``shape``."""
    if not keepdim and dims:
        g = g.reshape(tuple(1 if i in dims else s for i, s in enumerate(shape)))
    return g


def _numel(shape, dims):
    n = 1
    for d in dims:
        n *= shape[d]
    return n


class Sum(Function):
    """out = sum of x over dims;  dx = g broadcast back over the reduced dims"""

    node_name = "SumBackward1"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.args = (x.shape, dims, keepdim)
        if x.dtype.category < 2:
            x = x.to(_dtype.int64)
        return _reduce("sum", x, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        shape, dims, keepdim = ctx.args
        return _unsqueeze_to(g, shape, dims, keepdim).expand(shape), None, None


class SumAll(Sum):
    """out = sum of every element of x;  dx = g broadcast to x's shape"""

    node_name = "SumBackward0"


class Mean(Function):
    """out = sum(x) / n over dims;  dx = g / n broadcast back"""

    node_name = "MeanBackward1"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.args = (x.shape, dims, keepdim)
        return _reduce("sum", x, dims, keepdim) / _numel(x.shape, dims)

    @staticmethod
    def backward(ctx, g):
        shape, dims, keepdim = ctx.args
        # divide the small gradient, then copy it out: a contiguous result for the next ops
        g = _unsqueeze_to(g, shape, dims, keepdim) / _numel(shape, dims)
        return g.expand(shape).contiguous(), None, None


class MeanAll(Mean):
    """out = mean of every element;  dx = g / numel"""

    node_name = "MeanBackward0"


class Prod(Function):
    """out = prod of x over dims;  dx_i = g * prod_{j != i} x_j (zeros handled exactly)"""

    node_name = "ProdBackward1"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.save_for_backward(x)
        ctx.args = (dims, keepdim)
        return _reduce("prod", x, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        dims, keepdim = ctx.args
        g = _unsqueeze_to(g, x.shape, dims, keepdim)
        is_zero = x == 0
        nonzero = where(is_zero, wrap(1.0, x), x)
        prod_nonzero = Prod.apply(nonzero, dims, True) if dims else nonzero
        zeros = is_zero.sum(dims, keepdim=True) if dims else is_zero.long()
        others = where(zeros == 0, prod_nonzero / nonzero,
                       where((zeros == 1) & is_zero, prod_nonzero, wrap(0.0, x)))
        return g * others, None, None


class ProdAll(Prod):
    """out = product of every element"""

    node_name = "ProdBackward0"


class Amax(Function):
    """out = max over dims;  dx = g split evenly among the elements equal to the max"""

    node_name = "AmaxBackward0"
    op = "max"

    @classmethod
    def forward(cls, ctx, x, dims, keepdim):
        out = _reduce(cls.op, x, dims, keepdim)
        ctx.save_for_backward(x, out)
        ctx.args = (dims, keepdim)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        dims, keepdim = ctx.args
        out = _unsqueeze_to(out, x.shape, dims, keepdim)
        mask = (x == out).to(g.dtype)
        count = mask.sum(dims, keepdim=True)
        return _unsqueeze_to(g, x.shape, dims, keepdim) * mask / count, None, None


class Amin(Amax):
    """out = min over dims;  dx = g split evenly among the elements equal to the min"""

    node_name = "AminBackward0"
    op = "min"


class MaxAll(Amax):
    """out = max of every element (``x.max()``)"""

    node_name = "MaxBackward1"


class MinAll(Amax):
    """out = min of every element (``x.min()``)"""

    node_name = "MinBackward1"
    op = "min"


class MaxDim(Function):
    """(values, indices) = max over one dim;  dx = g scattered to the indices"""

    node_name = "MaxBackward0"
    op = "argmax"

    @classmethod
    def forward(cls, ctx, x, dim, keepdim):
        idx = Tensor._make(x._backend.arg_reduce(cls.op, x._data, dim, True), x.device)
        values = Gather.apply(x, dim, idx)
        ctx.args = (x.shape, dim, keepdim)
        ctx.save_for_backward(idx)
        ctx.mark_non_differentiable(idx)
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
            ctx.mark_non_differentiable(idx)
        return values, idx

    @staticmethod
    def backward(ctx, g, _):
        shape, dim, keepdim = ctx.args
        (idx,) = ctx.saved_tensors
        if not keepdim:
            g = g.unsqueeze(dim)
        zeros = g.new_zeros(shape)
        return ScatterAdd.apply(zeros, dim, idx, g), \
            None, None


class MinDim(MaxDim):
    """(values, indices) = min over one dim;  dx = g scattered to the indices"""

    node_name = "MinBackward0"
    op = "argmin"


class Var(Function):
    """out = sum((x - mean)^2) / (n - correction);  dx = g * 2 (x - mean) / (n - correction)"""

    node_name = "VarBackward0"

    @staticmethod
    def forward(ctx, x, dims, correction, keepdim):
        diff = x - x.mean(dims, keepdim=True)
        denom = _var_denominator(x.shape, dims, correction)
        ctx.save_for_backward(x)
        ctx.args = (dims, keepdim, denom)
        return (diff * diff).sum(dims, keepdim=keepdim) / denom

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        dims, keepdim, denom = ctx.args
        diff = x - x.mean(dims, keepdim=True)  # recomputed from x, so it can be differentiated
        return _unsqueeze_to(g, x.shape, dims, keepdim) * diff * 2.0 / denom, None, None, None


def _var_denominator(shape, dims, correction):
    """``n - correction`` (at least 0) for a variance over ``dims``; NaN when the reduction is
    empty, so that the variance of no elements is NaN, as in PyTorch (its mean is undefined)."""
    n = _numel(shape, dims)
    return builtins.max(n - correction, 0) if n else float("nan")


class Std(Function):
    """out = sqrt(var(x));  dx = g * (x - mean) / ((n - correction) * out), and 0 where out = 0
    (a constant input: PyTorch's choice for the undefined derivative of sqrt at 0)"""

    node_name = "StdBackward0"

    @staticmethod
    def forward(ctx, x, dims, correction, keepdim):
        diff = x - x.mean(dims, keepdim=True)
        denom = _var_denominator(x.shape, dims, correction)
        out = ((diff * diff).sum(dims, keepdim=keepdim) / denom).sqrt()
        ctx.save_for_backward(x, out)
        ctx.args = (dims, keepdim, denom)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        dims, keepdim, denom = ctx.args
        diff = x - x.mean(dims, keepdim=True)
        scale = where(out == 0, wrap(0.0, out), g / (out * denom))
        scale = _unsqueeze_to(scale, x.shape, dims, keepdim)
        return scale * diff, None, None, None


class LogSumExp(Function):
    """out = m + log(sum(exp(x - m))), m = max (stable);  dx = g * exp(x - out)"""

    node_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        if _numel(x.shape, dims) == 0:
            # an empty sum is 0 and log(0) = -inf (there is no max to subtract)
            out = x.exp().sum(dims, keepdim=True).log()
        else:
            m = x.amax(dims, keepdim=True)
            m = where(m.abs() == float("inf"), wrap(0.0, m), m)
            out = (x - m).exp().sum(dims, keepdim=True).log() + m
        if not keepdim:
            out = out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in dims))
        ctx.save_for_backward(x, out)  # the returned tensor, so create_graph can reach x
        ctx.args = (dims, keepdim)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        dims, keepdim = ctx.args
        out = _unsqueeze_to(out, x.shape, dims, keepdim)
        return _unsqueeze_to(g, x.shape, dims, keepdim) * (x - out).exp(), None, None


# ---- public functions ----------------------------------------------------------------------

def _cast_to_dtype_arg(input, dtype):
    """``input`` cast to the ``dtype=`` argument of a reduction. Gradients flow through floating
    point results only, so an integer or bool ``dtype`` is refused for an input that requires
    grad (PyTorch's error)."""
    if not dtype.is_floating_point and input.requires_grad and is_grad_enabled():
        raise RuntimeError(f"Autograd not support dtype: {dtype.scalar_name}")
    return input.to(dtype)


def _in_dtype_arg(out, dtype):
    """A reduction's result in its ``dtype=`` argument: integers are summed and multiplied in
    int64, and the cast back wraps as arithmetic in the narrower type would."""
    return out if dtype is None or out.dtype is dtype else out.to(dtype)


@public(method=True)
def sum(input, dim=None, keepdim=False, *, dtype=None, keepdims=None):
    """Sum over ``dim`` (all dims when None); bool and integer inputs sum to int64, unless
    ``dtype`` is given: the input is cast to it and the sum has that dtype."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    dims = None if dim is None else normalize_dims(dim, input.ndim)  # checked before dtype
    if dtype is not None:
        input = _cast_to_dtype_arg(input, dtype)
    if dims is None:
        out = SumAll.apply(input, tuple(range(input.ndim)), False)
    else:
        out = Sum.apply(input, dims, keepdim)
    return _in_dtype_arg(out, dtype)


@public(method=True)
def mean(input, dim=None, keepdim=False, *, dtype=None, keepdims=None):
    """Arithmetic mean over ``dim`` (all dims when None); needs a floating point input."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    given = "Optional" if dtype is not None else "Input"
    dtype = input.dtype if dtype is None else dtype
    if not dtype.is_floating_point:
        raise RuntimeError(f"mean(): could not infer output dtype. {given} dtype must be either "
                           f"a floating point or complex dtype. Got: {dtype.scalar_name}")
    input = input.to(dtype)
    if dim is None:
        return MeanAll.apply(input, tuple(range(input.ndim)), False)
    return Mean.apply(input, normalize_dims(dim, input.ndim), keepdim)


@public(method=True)
def prod(input, dim=None, keepdim=False, *, dtype=None, keepdims=None):
    """Product over one ``dim`` (all elements when None)."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    if dim is not None:
        dim = normalize_dim(dim, input.ndim)  # a 0-d input takes dim 0 or -1, reduces nothing
    if dtype is not None:
        input = _cast_to_dtype_arg(input, dtype)
    if dim is None:
        return _in_dtype_arg(ProdAll.apply(input, tuple(range(input.ndim)), False), dtype)
    return _in_dtype_arg(Prod.apply(input, (dim,) if input.ndim else (), keepdim), dtype)


def _check_nonempty(input, name, dims):
    """PyTorch's errors for a max/min-like reduction of an empty tensor (``dims`` empty: no dim
    was given); the dims are shown as given (amax/amin get the user's, max/min normalised
    ones)."""
    if input.numel():
        return
    if not dims:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                           "== 0. Specify the reduction dim with the 'dim' argument.")
    for s in dims:
        if input.shape[normalize_dim(s, input.ndim)] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {s} to have non-zero size.")


def _as_tuple(dim):
    return tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)


@public(method=True)
def amax(input, dim=(), keepdim=False, *, keepdims=None):
    """Maximum over ``dim`` (all dims when empty); ties share the gradient."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    _check_nonempty(input, "amax", _as_tuple(dim))  # before duplicate dims, as in PyTorch
    return Amax.apply(input, normalize_dims(dim, input.ndim), keepdim)


@public(method=True)
def amin(input, dim=(), keepdim=False, *, keepdims=None):
    """Minimum over ``dim`` (all dims when empty); ties share the gradient."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    _check_nonempty(input, "amin", _as_tuple(dim))
    return Amin.apply(input, normalize_dims(dim, input.ndim), keepdim)


def _extremum(name, all_fn, dim_fn, elementwise, input, dim, keepdim):
    if isinstance(dim, Tensor):
        return elementwise(input, dim)
    if dim is None:
        _check_nonempty(input, name, ())
        return all_fn.apply(input, tuple(range(input.ndim)), False)
    d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:  # a 0-d tensor is its own extremum along dim 0 (or -1)
        input, keepdim = input.reshape(1), False
    _check_nonempty(input, name, (d,))
    return getattr(return_types, name)(*dim_fn.apply(input, d, keepdim))


@public(method=True)
def max(input, dim=None, keepdim=False, *, keepdims=None):
    """``max(x)``: the largest element; ``max(x, dim)``: a (values, indices) pair;
    ``max(x, other)``: the elementwise maximum."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    return _extremum("max", MaxAll, MaxDim, maximum, input, dim, keepdim)


@public(method=True)
def min(input, dim=None, keepdim=False, *, keepdims=None):
    """``min(x)``: the smallest element; ``min(x, dim)``: a (values, indices) pair;
    ``min(x, other)``: the elementwise minimum."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    return _extremum("min", MinAll, MinDim, minimum, input, dim, keepdim)


def _arg(op, input, dim, keepdim):
    if input.dtype is _dtype.bool_:
        raise RuntimeError(f"{op}(): does not support bool input")
    if dim is None:
        flat = input.reshape(-1)
        if input.numel() == 0:
            raise IndexError(f"{op}(): Expected reduction dim to be specified for input.numel() "
                             "== 0.")
        return Tensor._make(flat._backend.arg_reduce(op, flat._data, 0, False), input.device)
    d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:  # a 0-d tensor is its own extremum, at index 0
        return Tensor._make(input._backend.full((), 0, _dtype.int64.np), input.device)
    if input.shape[d] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")
    return Tensor._make(input._backend.arg_reduce(op, input._data, d, keepdim), input.device)


@public(method=True)
def argmax(input, dim=None, keepdim=False, *, keepdims=None):
    """Index of the maximum (of the flattened input when ``dim`` is None)."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    return _arg("argmax", input, dim, keepdim)


@public(method=True)
def argmin(input, dim=None, keepdim=False, *, keepdims=None):
    """Index of the minimum (of the flattened input when ``dim`` is None)."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    return _arg("argmin", input, dim, keepdim)


@public(torch=False, method=True)
def all(input):
    """True when every element is nonzero: a 0-d bool tensor (uint8 for a uint8 input, as in
    PyTorch); True for an empty tensor."""
    return _all_any(input, "amin", True)


@public(torch=False, method=True)
def any(input):
    """True when some element is nonzero: a 0-d bool tensor (uint8 for a uint8 input, as in
    PyTorch); False for an empty tensor."""
    return _all_any(input, "amax", False)


def _all_any(input, reduce, empty):
    """``all`` (the minimum of the bools) or ``any`` (their maximum); ``empty`` for no
    elements."""
    if input.numel():
        out = getattr(input.bool(), reduce)()
    else:
        out = Tensor._make(input._backend.full((), empty, _dtype.bool_.np), input.device)
    return out.to(_dtype.uint8) if input.dtype is _dtype.uint8 else out


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def _check_floating(input):
    if not input.dtype.is_floating_point:
        raise RuntimeError("std and var only support floating point and complex dtypes")


@public(method=True)
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, keepdims=None):
    """Variance over ``dim`` with Bessel's correction (``correction=1``) by default."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    _check_floating(input)
    dims = normalize_dims(dim, input.ndim, one_at_a_time=True)
    return Var.apply(input, dims, _correction(unbiased, correction), keepdim)


@public(method=True)
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, keepdims=None):
    """Standard deviation over ``dim`` (square root of :func:`var`)."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    _check_floating(input)
    dims = normalize_dims(dim, input.ndim, one_at_a_time=True)
    return Std.apply(input, dims, _correction(unbiased, correction), keepdim)


@public(method=True)
def logsumexp(input, dim, keepdim=False, *, keepdims=None):
    """``log(sum(exp(x)))`` over ``dim``, computed stably; -inf over an empty dim. Integer and
    bool inputs are cast to the default float dtype first, as in PyTorch."""
    if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
        keepdim = keepdims
    if not input.dtype.is_floating_point:
        input = input.to(_dtype.get_default_dtype())
    return LogSumExp.apply(input, normalize_dims(dim, input.ndim), keepdim)
