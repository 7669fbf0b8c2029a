"""Elementwise ops: one Function per op, forward and backward side by side.

Binary ops broadcast their operands and promote their dtypes (PyTorch's rules: a Python float
does not upcast a float32 tensor); backward sums each gradient back to its input's shape with
:func:`~microtorch.ops._util.grad_for`. Every backward is written with Tensor ops, so it can be
recorded (``create_graph=True``) and differentiated again.
"""

import math

import numpy as np

from .. import _dtype
from .._tensor import Tensor
from ..autograd.function import Function
from ..backends.contract import declare_binary
from ._register import alias, public, tensor_method
from ._util import broadcast_shapes, check_same_device, grad_for, promote_operands, wrap
from .inplace import check_broadcasts_to_self, check_no_internal_overlap, inplace, inplace_binary


def _binary_forward(ctx, op, a, b, dtype=None):
    """Run a binary kernel on promoted, broadcast operands; remember shapes for backward.

    The common cases cost little: operands on one device object skip the device check, equal
    shapes skip broadcasting, and :func:`_binary_result_type` settles the dtype of one dtype or
    of a tensor with a Python number without the general promotion."""
    if a._device is not b._device:
        check_same_device(a, b)
    be = a._backend
    if dtype is None:
        dtype = _binary_result_type(a, b)
    if a.dtype is dtype and b.dtype is dtype:
        x, y = a._data, b._data
    else:
        dtype, x, y = promote_operands(be, a, b, dtype)
    sa, sb = x.shape, y.shape
    if sa != sb:
        broadcast_shapes(sa, sb)
    ctx.shapes = (sa, sb)
    ctx.dtypes = (a.dtype, b.dtype)
    return Tensor._make(be.binary(op, x, y), a._device)


def _binary_result_type(a, b):
    """``_dtype.result_type(a, b)``, shortcut for two tensors of one dtype and for a tensor with
    a wrapped Python number of the same or a lower category (``x * 0.5``: the tensor's dtype)."""
    da, db = a.dtype, b.dtype
    wa, wb = a._wrapped_number, b._wrapped_number
    if wa == wb:
        if da is db and not wa:
            return da
    elif wb:
        if db.category <= da.category:
            return da
    elif da.category <= db.category:
        return db
    return _dtype.result_type(a, b)


def check_sub(a, b):
    """PyTorch refuses ``-`` on bool operands (it means xor or not)."""
    if a.dtype is _dtype.bool_ and b.dtype is _dtype.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if a.dtype is _dtype.bool_ or b.dtype is _dtype.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


def _unary(op, x):
    return Tensor._make(x._backend.unary(op, x._data), x.device)


def not_implemented(kernel, dtype):
    """PyTorch's error for an op that has no kernel for ``dtype``, e.g.
    ``NotImplementedError: "abs_cpu" not implemented for 'Bool'``."""
    return NotImplementedError(f"\"{kernel}\" not implemented for '{dtype.scalar_name}'")


def times_alpha(input, other, alpha):
    """``alpha * other`` for ``add``/``sub``, computed in the dtype of ``input + other`` (so that
    alpha does not change the result's dtype), with PyTorch's checks of alpha."""
    dtype = _dtype.result_type(input, other)
    if isinstance(alpha, (bool, np.bool_)):
        if dtype is not _dtype.bool_:
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
    elif isinstance(alpha, (float, np.floating)) and not dtype.is_floating_point:
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    if alpha == 1:
        return other
    if dtype is _dtype.bool_:  # a bool result: alpha counts as True or False, as in PyTorch
        alpha = bool(alpha)
        if not isinstance(other, Tensor):
            return bool(other) and alpha
    return (other.to(dtype) if isinstance(other, Tensor) else other) * alpha


class Add(Function):
    """out = a + alpha * b;  da = g,  db = alpha * g"""

    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, a, b):
        return _binary_forward(ctx, "add", a, b)

    @staticmethod
    def backward(ctx, g):
        (sa, sb), (da, db) = ctx.shapes, ctx.dtypes
        return grad_for(g, sa, da), grad_for(g, sb, db)


class Sub(Function):
    """out = a - b;  da = g,  db = -g"""

    node_name = "SubBackward0"

    @staticmethod
    def forward(ctx, a, b):
        check_sub(a, b)
        return _binary_forward(ctx, "sub", a, b)

    @staticmethod
    def backward(ctx, g):
        (sa, sb), (da, db) = ctx.shapes, ctx.dtypes
        return grad_for(g, sa, da), grad_for(-g, sb, db)


class Rsub(Function):
    """out = c - a for a Python scalar c;  da = -g"""

    node_name = "RsubBackward1"

    @staticmethod
    def forward(ctx, a, c):
        c = wrap(c, a)
        check_sub(c, a)
        return _binary_forward(ctx, "sub", c, a)

    @staticmethod
    def backward(ctx, g):
        return grad_for(-g, ctx.shapes[1], ctx.dtypes[1]), None


class Mul(Function):
    """out = a * b;  da = g * b,  db = g * a"""

    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        return _binary_forward(ctx, "mul", a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        (sa, sb), (da, db) = ctx.shapes, ctx.dtypes
        ga = grad_for(g * b, sa, da) if ctx.needs_input_grad[0] else None
        gb = grad_for(g * a, sb, db) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """out = a / b (true division);  da = g / b,  db = -g * a / b**2"""

    node_name = "DivBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        dtype = _dtype.result_type(a, b)
        return _binary_forward(ctx, "div", a, b, dtype if dtype.is_floating_point
                               else _dtype.float32)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        (sa, sb), (da, db) = ctx.shapes, ctx.dtypes
        ga = grad_for(g / b, sa, da) if ctx.needs_input_grad[0] else None
        gb = grad_for(-g * a / (b * b), sb, db) if ctx.needs_input_grad[1] else None
        return ga, gb


def _pow_forward(ctx, a, b, dtype=None):
    """``a ** b`` for the three pow Functions; PyTorch has no bool ``pow``."""
    dtype = dtype or _binary_result_type(a, b)
    if dtype is _dtype.bool_:
        broadcast_shapes(a.shape, b.shape)  # (PyTorch checks the shapes first)
        raise not_implemented("pow", dtype)
    return _binary_forward(ctx, "pow", a, b, dtype)


_F32_EXACT = 2 ** 24  # every int of at most this magnitude is exactly a float32


class PowScalar(Function):
    """out = a ** c for a Python scalar c;  da = g * c * a ** (c - 1)"""

    node_name = "PowBackward0"

    @staticmethod
    def forward(ctx, a, c):
        if not a.dtype.is_floating_point and isinstance(c, int) and c < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        ctx.save_for_backward(a)
        ctx.c = c
        exponent = wrap(c, a)
        dtype = _binary_result_type(a, exponent)
        if dtype is _dtype.bool_:
            # no bool pow kernel (as in PyTorch), but x ** False is True and x ** True is x
            return _binary_forward(ctx, "bitwise_or", a, wrap(not c, a))
        if type(c) is int and -_F32_EXACT <= c <= _F32_EXACT:
            rounded = c  # an int that a float32 holds exactly (the common case: x ** 2)
        else:
            with np.errstate(over="ignore"):
                rounded = float(np.float32(c))
        if dtype is _dtype.float32 and rounded != c:
            # PyTorch raises float32 values to a double exponent (std::pow(float, double)); a
            # float32 exponent would be rounded, e.g. 0 ** 1e-50 would become 0 ** 0 = 1
            out = _binary_forward(ctx, "pow", a, exponent, _dtype.float64)
            return Tensor._make(a._backend.astype(out._data, np.float32), a.device)
        return _pow_forward(ctx, a, exponent, dtype)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        c = ctx.c
        if c == 0:
            return g * 0, None
        return g * c * a ** (c - 1) if c != 2 else g * 2 * a, None


class Pow(Function):
    """out = a ** b;  da = g * b * a ** (b - 1) (0 where b = 0),
    db = g * out * log(a) (0 where a = 0 and b >= 0, the limit of a ** b log a)"""

    node_name = "PowBackward1"

    @staticmethod
    def forward(ctx, a, b):
        out = _pow_forward(ctx, a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        (sa, sb), (da, db) = ctx.shapes, ctx.dtypes
        zero = wrap(0.0, g)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = grad_for(where(b == 0, zero, g * b * a ** (b - 1)), sa, da)
        if ctx.needs_input_grad[1]:
            gb = grad_for(where((a == 0) & (b >= 0), zero, g * out * a.log()), sb, db)
        return ga, gb


class RpowScalar(Function):
    """out = c ** a for a Python scalar c;  da = g * out * log(c) (0 where c = 0 and a >= 0)"""

    node_name = "PowBackward2"

    @staticmethod
    def forward(ctx, a, c):
        out = _pow_forward(ctx, wrap(c, a), a)
        ctx.save_for_backward(a if c == 0 else None, out)
        ctx.log_c = math.log(c) if c > 0 else -math.inf if c == 0 else math.nan
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        ga = g * out * ctx.log_c
        if a is not None:  # c = 0: 0 ** a is flat (0) for a > 0, so its gradient is 0
            ga = where(a >= 0, wrap(0.0, g), ga)
        return grad_for(ga, ctx.shapes[1], ctx.dtypes[1]), None


class Maximum(Function):
    """out = max(a, b);  the gradient goes to the larger input, split evenly on ties, and (as
    in PyTorch) to both inputs where one of them is NaN: an input loses its gradient only where
    it compares smaller than the other"""

    node_name = "MaximumBackward0"
    op = "maximum"

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary_forward(ctx, cls.op, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        (sa, sb), (da, db) = ctx.shapes, ctx.dtypes
        a_loses, b_loses = a < b, a > b
        if ctx._forward_cls.op == "minimum":
            a_loses, b_loses = b_loses, a_loses
        tie = (a == b).to(g.dtype) * 0.5
        wa = 1 - a_loses.to(g.dtype) - tie
        wb = 1 - b_loses.to(g.dtype) - tie
        return grad_for(g * wa, sa, da), grad_for(g * wb, sb, db)


class Minimum(Maximum):
    """out = min(a, b);  the gradient goes to the smaller input, split evenly on ties"""

    node_name = "MinimumBackward0"
    op = "minimum"


declare_binary("hypot", "sqrt(a*a + b*b) without overflow, as C's hypot")


class Hypot(Function):
    """out = sqrt(a**2 + b**2);  da = g * a / out,  db = g * b / out
    (NaN where a = b = 0, as in PyTorch)"""

    node_name = "HypotBackward0"

    @staticmethod
    def forward(ctx, a, b):
        dtype = _binary_result_type(a, b)
        if not dtype.is_floating_point:
            broadcast_shapes(a.shape, b.shape)  # (PyTorch checks the shapes first)
            raise not_implemented(f"hypot_{a.device.type}", dtype)
        out = _binary_forward(ctx, "hypot", a, b, dtype)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        (sa, sb), (da, db) = ctx.shapes, ctx.dtypes
        ga = grad_for(g * a / out, sa, da) if ctx.needs_input_grad[0] else None
        gb = grad_for(g * b / out, sb, db) if ctx.needs_input_grad[1] else None
        return ga, gb


class Where(Function):
    """out = cond ? a : b;  da = cond ? g : 0,  db = cond ? 0 : g"""

    node_name = "WhereBackward0"
    non_differentiable = (0,)

    @staticmethod
    def forward(ctx, cond, a, b):
        check_same_device(cond, a, b)
        broadcast_shapes(cond.shape, a.shape, b.shape)
        be = a._backend
        _, x, y = promote_operands(be, a, b)
        ctx.cond = cond
        ctx.shapes, ctx.dtypes = (a.shape, b.shape), (a.dtype, b.dtype)
        return Tensor._make(be.where(cond._data, x, y), a.device)

    @staticmethod
    def backward(ctx, g):
        (sa, sb), (da, db) = ctx.shapes, ctx.dtypes
        zero = wrap(0.0, g)
        return (None, grad_for(where(ctx.cond, g, zero), sa, da),
                grad_for(where(ctx.cond, zero, g), sb, db))


@public()
def where(condition, input, other):
    """``condition ? input : other`` elementwise, broadcasting all three."""
    if not isinstance(input, Tensor):
        input = wrap(input, other if isinstance(other, Tensor) else condition)
    if not isinstance(other, Tensor):
        other = wrap(other, input)
    if condition.dtype is not _dtype.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {condition.dtype.name.capitalize()}")
    return Where.apply(condition, input, other)


# ---- unary ops: out = f(x), dx = g * f'(x) --------------------------------------------------

class Neg(Function):
    """out = -x;  dx = -g"""

    node_name = "NegBackward0"

    @staticmethod
    def forward(ctx, x):
        if x.dtype is _dtype.bool_:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                               "you are trying to invert a mask, use the `~` or `logical_not()` "
                               "operator instead.")
        return _unary("neg", x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Abs(Function):
    """out = |x|;  dx = g * sign(x)"""

    node_name = "AbsBackward0"

    @staticmethod
    def forward(ctx, x):
        if x.dtype is _dtype.bool_:
            raise not_implemented(f"abs_{x.device.type}", x.dtype)
        ctx.save_for_backward(x)
        return _unary("abs", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.sign()


class Exp(Function):
    """out = e^x;  dx = g * out"""

    node_name = "ExpBackward0"

    @staticmethod
    def forward(ctx, x):
        out = _unary("exp", x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Log(Function):
    """out = ln x;  dx = g / x"""

    node_name = "LogBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary("log", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Sqrt(Function):
    """out = sqrt(x);  dx = g / (2 out)"""

    node_name = "SqrtBackward0"

    @staticmethod
    def forward(ctx, x):
        out = _unary("sqrt", x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g / (2 * out)


class Rsqrt(Function):
    """out = 1 / sqrt(x);  dx = -g * out^3 / 2"""

    node_name = "RsqrtBackward0"

    @staticmethod
    def forward(ctx, x):
        out = _unary("rsqrt", x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out ** 3 * -0.5


class Reciprocal(Function):
    """out = 1 / x;  dx = -g * out^2"""

    node_name = "ReciprocalBackward0"

    @staticmethod
    def forward(ctx, x):
        out = _unary("reciprocal", x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return -g * out * out


class Sin(Function):
    """out = sin x;  dx = g * cos x"""

    node_name = "SinBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary("sin", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.cos()


class Cos(Function):
    """out = cos x;  dx = -g * sin x"""

    node_name = "CosBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary("cos", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * x.sin()


class Tanh(Function):
    """out = tanh x;  dx = g * (1 - out^2)"""

    node_name = "TanhBackward0"

    @staticmethod
    def forward(ctx, x):
        out = _unary("tanh", x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


class Erf(Function):
    """out = erf x = 2/sqrt(pi) * integral of e^(-t^2) from 0 to x;  dx = g * 2/sqrt(pi) e^(-x^2)"""

    node_name = "ErfBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary("erf", x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x * x * -1.0).exp() * (2 / math.sqrt(math.pi))


class Sigmoid(Function):
    """out = 1 / (1 + e^-x);  dx = g * out * (1 - out)"""

    node_name = "SigmoidBackward0"

    @staticmethod
    def forward(ctx, x):
        out = _unary("sigmoid", x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * (1 - out)


class Relu(Function):
    """out = max(x, 0);  dx = 0 where out <= 0, else g (so NaN passes g, as in PyTorch)"""

    node_name = "ReluBackward0"

    @staticmethod
    def forward(ctx, x):
        if x.dtype is _dtype.bool_:
            raise RuntimeError("Boolean inputs not supported for relu")
        out = _unary("relu", x)
        ctx.save_for_backward(out.detach())
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return where(out <= 0, wrap(0.0, g), g)


class Clamp(Function):
    """out = min(max(x, lo), hi);  dx = g where lo <= x <= hi, else 0"""

    node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        return Tensor._make(x._backend.clamp(x._data, lo, hi), x.device)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        mask = None
        if lo is not None:
            mask = x >= lo
        if hi is not None:
            mask = (x <= hi) if mask is None else mask & (x <= hi)
        return g * mask.to(g.dtype), None, None


@public(method=True)
def clamp(input, min=None, max=None):
    """Clip every element into ``[min, max]`` (either bound may be None)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min if isinstance(min, Tensor) else wrap(min, input))
        if max is not None:
            out = minimum(out, max if isinstance(max, Tensor) else wrap(max, input))
        return out
    dtype = _dtype.result_type(input, *(b for b in (min, max) if b is not None))
    if dtype is not input.dtype:  # an integer tensor clamped to float bounds becomes float
        input = input.to(dtype)
    return Clamp.apply(input, *clamp_bounds(input.dtype, min, max))


def clamp_bounds(dtype, min, max):
    """``(min, max)`` converted as PyTorch converts clamp's bounds to an integer dtype: a bound
    must fit the dtype, except that a negative bound wraps around for uint8 (-1 is 255, as in
    C), so ``uint8_tensor.clamp(-1, 1)`` is all ones."""
    if dtype.category != 1:
        return min, max
    info = np.iinfo(dtype.np)
    lowest = -info.max if not dtype.is_signed else info.min

    def convert(bound):
        if bound is None:
            return None
        if not lowest <= bound <= info.max:
            raise RuntimeError(f"value cannot be converted to type {dtype.c_name} without "
                               "overflow")
        return int(bound) % (info.max + 1) if not dtype.is_signed else int(bound)

    return convert(min), convert(max)


@public(method=True)
def maximum(input, other):
    """Elementwise maximum of two tensors (NaN propagates)."""
    return Maximum.apply(input, other)


@public(method=True)
def minimum(input, other):
    """Elementwise minimum of two tensors (NaN propagates)."""
    return Minimum.apply(input, other)


@public(method=True)
def hypot(input, other):
    """``sqrt(input**2 + other**2)`` elementwise, without overflow in the squares; two tensors
    (floating point after promotion), broadcast together."""
    for position, (name, value) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"hypot(): argument '{name}' (position {position}) must be Tensor, "
                            f"not {type(value).__name__}")
    return Hypot.apply(input, other)


@tensor_method()
def hypot_(self, other):
    """In-place :func:`hypot`: ``self`` becomes ``sqrt(self**2 + other**2)``."""
    if not isinstance(other, Tensor):
        raise TypeError("hypot_(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(other).__name__}")
    check_broadcasts_to_self(self, other)
    return inplace(self, Hypot, other)


def compare(op, a, b):
    """A comparison (``eq ne lt le gt ge``): a bool tensor, never part of the graph."""
    b = wrap(b, a)
    check_same_device(a, b)
    broadcast_shapes(a.shape, b.shape)
    be = a._backend
    _, x, y = promote_operands(be, a, b)
    return Tensor._make(be.binary(op, x, y), a.device)


def bitwise(op, a, b):
    """``&``, ``|`` or ``^`` (``op`` is ``"and"``, ``"or"`` or ``"xor"``) of bool or integer
    tensors, bit by bit; never part of the graph."""
    b = wrap(b, a)
    check_same_device(a, b)
    broadcast_shapes(a.shape, b.shape)
    dtype = _dtype.result_type(a, b)
    if dtype.is_floating_point:
        raise not_implemented(f"bitwise_{op}_{a.device.type}", dtype)
    be = a._backend
    _, x, y = promote_operands(be, a, b, dtype)
    return Tensor._make(be.binary(f"bitwise_{op}", x, y), a.device)


def bitwise_not(x):
    """``~x``: logical not of a bool tensor, every bit flipped in an integer tensor."""
    if x.dtype.is_floating_point:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    all_ones = {_dtype.bool_: True, _dtype.uint8: 255}.get(x.dtype, -1)
    return bitwise("xor", x, Tensor._make(x._backend.full((), all_ones, x.dtype.np), x.device))


class Sign(Function):
    """out = -1, 0 or 1 by the sign of x;  dx = 0 (sign is flat almost everywhere)"""

    node_name = "SignBackward0"

    @staticmethod
    def forward(ctx, x):
        if x.dtype is _dtype.bool_:  # the sign of False and True is themselves
            return Tensor._make(x._backend.astype(x._data, x.dtype.np), x.device)
        return _unary("sign", x)

    @staticmethod
    def backward(ctx, g):
        return g * 0


@public(method=True)
def sign(input):
    """-1, 0 or 1 by the sign of each element (its gradient is zero)."""
    return Sign.apply(input)


def float_input(x):
    """``x`` itself if floating point, else ``x`` cast to float32 (for exp, log, sqrt...)."""
    return x if x.dtype.is_floating_point else x.to(_dtype.float32)


alias("clip", clamp, method=True)


# ---- the public function forms: microtorch.<name> and Tensor.<name> ------------------------

@public(method=True)
def add(input, other, *, alpha=1):
    """``input + alpha * other``."""
    return input + times_alpha(input, other, alpha)


@public(method=True)
def sub(input, other, *, alpha=1):
    """``input - alpha * other``."""
    check_sub(input, wrap(other, input))
    return input - times_alpha(input, other, alpha)


@public(method=True)
def mul(input, other):
    """``input * other``."""
    return input * other


@public(method=True)
def div(input, other):
    """``input / other`` (true division)."""
    return input / other


@public(method=True)
def pow(input, exponent):
    """``input ** exponent`` (either may be a Python number)."""
    if not isinstance(input, Tensor):
        return exponent.__rpow__(input)
    return input ** exponent


@public(method=True)
def square(input):
    """``input ** 2``."""
    return input ** 2


@public(method=True)
def neg(input):
    """``-input``."""
    return -input


@public(method=True)
def abs(input):
    """Absolute value."""
    return Abs.apply(input)


@public(method=True)
def exp(input):
    """e to the power of each element."""
    return Exp.apply(float_input(input))


@public(method=True)
def log(input):
    """Natural logarithm."""
    return Log.apply(float_input(input))


@public(method=True)
def sqrt(input):
    """Square root."""
    return Sqrt.apply(float_input(input))


@public(method=True)
def rsqrt(input):
    """1 / sqrt(input)."""
    return Rsqrt.apply(float_input(input))


@public(torch=False, method=True)
def reciprocal(input):
    """1 / input."""
    return Reciprocal.apply(float_input(input))


@public(method=True)
def sin(input):
    """Sine."""
    return Sin.apply(float_input(input))


@public(method=True)
def cos(input):
    """Cosine."""
    return Cos.apply(float_input(input))


@public(method=True, functional=True)
def tanh(input):
    """Hyperbolic tangent."""
    return Tanh.apply(float_input(input))


@public(method=True)
def erf(input):
    """Gauss error function, ``2/sqrt(pi) * integral from 0 to input of exp(-t**2) dt``."""
    return Erf.apply(float_input(input))


@public(method=True, functional=True)
def sigmoid(input):
    """Logistic sigmoid ``1 / (1 + e^-input)``."""
    return Sigmoid.apply(float_input(input))


@public(method=True)
def relu(input):
    """max(input, 0)."""
    return Relu.apply(input)


@public(method=("eq", "__eq__"))
def eq(input, other):
    """``input == other`` elementwise."""
    return compare("eq", input, other)


@public(method=("ne", "__ne__"))
def ne(input, other):
    """``input != other`` elementwise."""
    return compare("ne", input, other)


@public(method=("lt", "__lt__"))
def lt(input, other):
    """``input < other`` elementwise."""
    return compare("lt", input, other)


@public(method=("le", "__le__"))
def le(input, other):
    """``input <= other`` elementwise."""
    return compare("le", input, other)


@public(method=("gt", "__gt__"))
def gt(input, other):
    """``input > other`` elementwise."""
    return compare("gt", input, other)


@public(method=("ge", "__ge__"))
def ge(input, other):
    """``input >= other`` elementwise."""
    return compare("ge", input, other)


@public(method=True)
def equal(input, other):
    """True when both tensors have the same shape and values."""
    return input.shape == other.shape and bool((input == other).all())


@public(method=True)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when ``|input - other| <= atol + rtol * |other|`` everywhere (same dtypes,
    broadcastable shapes)."""
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{input.dtype.scalar_name} did not match "
                           f"{other.dtype.scalar_name}")
    broadcast_shapes(input.shape, other.shape)
    a, b = np.asarray(input), np.asarray(other)
    return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


# ---- Python's operators on tensors -----------------------------------------------------------

@tensor_method("__add__", "__radd__")
def _add_operator(self, other):
    """``self + other``."""
    return Add.apply(self, wrap(other, self))


@tensor_method("__sub__")
def _sub_operator(self, other):
    """``self - other``."""
    return Sub.apply(self, wrap(other, self))


@tensor_method("__rsub__")
def _rsub_operator(self, other):
    """``other - self``."""
    if isinstance(other, Tensor):
        return Sub.apply(other, self)
    return Rsub.apply(self, other)


@tensor_method("__mul__", "__rmul__")
def _mul_operator(self, other):
    """``self * other``."""
    return Mul.apply(self, wrap(other, self))


@tensor_method("__truediv__")
def _div_operator(self, other):
    """``self / other``."""
    return Div.apply(self, wrap(other, self))


@tensor_method("__rtruediv__")
def _rdiv_operator(self, other):
    """``other / self``."""
    if isinstance(other, Tensor):
        return Div.apply(other, self)
    return reciprocal(self) * other


@tensor_method("__pow__")
def _pow_operator(self, exponent):
    """``self ** exponent``."""
    if isinstance(exponent, Tensor):
        return Pow.apply(self, exponent)
    return PowScalar.apply(self, exponent)


@tensor_method("__rpow__")
def _rpow_operator(self, base):
    """``base ** self`` for a Python number ``base``."""
    return RpowScalar.apply(self, base)


@tensor_method("__neg__")
def _neg_operator(self):
    """``-self``."""
    return Neg.apply(self)


@tensor_method("__pos__")
def _pos_operator(self):
    """``+self``: self (refused for bool tensors, as in PyTorch)."""
    if self.dtype is _dtype.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return self


@tensor_method("__abs__")
def _abs_operator(self):
    """``abs(self)``."""
    return Abs.apply(self)


@tensor_method("__and__", "__rand__")
def _and_operator(self, other):
    """``self & other``."""
    return bitwise("and", self, other)


@tensor_method("__or__", "__ror__")
def _or_operator(self, other):
    """``self | other``."""
    return bitwise("or", self, other)


@tensor_method("__xor__", "__rxor__")
def _xor_operator(self, other):
    """``self ^ other``."""
    return bitwise("xor", self, other)


@tensor_method("__invert__")
def _invert_operator(self):
    """``~self``."""
    return bitwise_not(self)


# ---- in-place variants (the write-back path is microtorch.ops.inplace) --------------------
@tensor_method()
def add_(self, other, *, alpha=1):
    """In-place ``self += alpha * other``."""
    return inplace_binary(self, "add", Add, times_alpha(self, other, alpha))


@tensor_method()
def sub_(self, other, *, alpha=1):
    """In-place ``self -= alpha * other``."""
    check_sub(self, wrap(other, self))
    return inplace_binary(self, "sub", Sub, times_alpha(self, other, alpha))


@tensor_method()
def mul_(self, other):
    """In-place ``self *= other``."""
    return inplace_binary(self, "mul", Mul, other)


@tensor_method()
def div_(self, other):
    """In-place ``self /= other``."""
    return inplace_binary(self, "div", Div, other)


@tensor_method()
def addcmul_(self, t1, t2, *, value=1):
    """In-place ``self += value * t1 * t2`` (computed in the dtype of all three)."""
    check_no_internal_overlap(self)  # PyTorch's checks: memory, shapes, then dtypes
    check_broadcasts_to_self(self, t1, t2)
    dtype = _dtype.result_type(self, t1, t2)
    _dtype.check_can_cast(dtype, self.dtype)
    if self.dtype is _dtype.bool_:
        raise not_implemented(f"addcmul_{self.device.type}_out", self.dtype)
    return self.add_(t1.to(dtype) * t2.to(dtype) * value)


@tensor_method()
def addcdiv_(self, t1, t2, *, value=1):
    """In-place ``self += value * t1 / t2`` (``t1`` or ``t2`` must be floating point;
    computed in the dtype of all three)."""
    check_broadcasts_to_self(self, t1, t2)
    if not (t1.is_floating_point() or t2.is_floating_point()):
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic "
            "addcdiv behavior can be implemented as (input + value * torch.trunc(tensor1 / "
            "tensor2)).to(input.dtype) for integer inputs and as (input + value * tensor1 / "
            "tensor2) for float inputs. The future addcdiv behavior is just the latter "
            "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    check_no_internal_overlap(self)
    dtype = _dtype.result_type(self, t1, t2)
    return self.add_(t1.to(dtype) / t2.to(dtype) * value)


@tensor_method()
def lerp_(self, end, weight):
    """In-place ``self += weight * (end - self)``; ``end`` has self's floating point dtype."""
    check_broadcasts_to_self(self, end)
    if end.dtype is not self.dtype:
        raise RuntimeError(f"expected dtype {self.dtype.c_name} for `end` but got dtype "
                           f"{end.dtype.c_name}")
    check_no_internal_overlap(self)
    if not self.dtype.is_floating_point:
        kind = "tensor" if isinstance(weight, Tensor) else "scalar"
        raise not_implemented(f"lerp_kernel_{kind}", self.dtype)
    return self.add_((end - self) * weight)


@tensor_method()
def pow_(self, exponent):
    """In-place ``self **= exponent``."""
    if isinstance(exponent, Tensor):
        check_broadcasts_to_self(self, exponent)
    return inplace(self, PowScalar if not isinstance(exponent, Tensor) else Pow,
                         exponent)


def _inplace_float_op(self, fn):
    """An in-place op whose result is floating point (sqrt, exp...): an integer or bool
    tensor can't hold it."""
    if not self.dtype.is_floating_point:
        _dtype.check_can_cast(_dtype.float32, self.dtype)
    return inplace(self, fn)


@tensor_method()
def sqrt_(self):
    """In-place square root."""
    return _inplace_float_op(self, Sqrt)


@tensor_method()
def exp_(self):
    """In-place exp."""
    return _inplace_float_op(self, Exp)


@tensor_method()
def neg_(self):
    """In-place negation."""
    return inplace(self, Neg)


@tensor_method()
def relu_(self):
    """In-place ReLU."""
    return inplace(self, Relu)


@tensor_method()
def sigmoid_(self):
    """In-place sigmoid."""
    return _inplace_float_op(self, Sigmoid)


@tensor_method()
def tanh_(self):
    """In-place tanh."""
    return _inplace_float_op(self, Tanh)


@tensor_method("clamp_", "clip_")
def clamp_(self, min=None, max=None):
    """In-place clamp."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    bounds = [b for b in (min, max) if b is not None]
    _dtype.check_can_cast(_dtype.result_type(self, *bounds), self.dtype)
    return inplace(self, Clamp, *clamp_bounds(self.dtype, min, max))


@tensor_method()
def __iadd__(self, other):
    """``self += other``."""
    return self.add_(other)


@tensor_method()
def __isub__(self, other):
    """``self -= other``."""
    return self.sub_(other)


@tensor_method()
def __imul__(self, other):
    """``self *= other``."""
    return self.mul_(other)


@tensor_method()
def __itruediv__(self, other):
    """``self /= other``."""
    return self.div_(other)
