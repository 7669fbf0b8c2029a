"""Elementwise kernels: unary, binary (broadcast), comparisons, where, clamp, copy/cast, fill.

Mapping: one thread per output element in a grid-stride loop. Every kernel has two variants:
``*_1d`` for arrays that walk memory with a single stride each (contiguous, or broadcast
scalars: the fast path, no index arithmetic) and ``*_nd`` for :data:`_core.RANK`-dim strided
views (0 strides for broadcast dims), where the flat output index is unravelled into
coordinates. Which op runs is an integer ``code`` argument (uniform across the grid, so the
branch costs nothing), so one compilation per dtype serves all ops.

Scalars reach kernels as numpy scalars of the array's dtype (``zero``, ``one``, ``lo``...):
a float32 array never meets a float64 constant.
"""

import math

import numpy as np
from numba import cuda

from . import _core
from ._core import unravel6

UNARY_CODES = {name: i for i, name in enumerate(
    ("neg", "abs", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid",
     "relu", "sign", "reciprocal", "erf"))}
BINARY_CODES = {name: i for i, name in enumerate(
    ("add", "sub", "mul", "div", "pow", "maximum", "minimum"))}
COMPARE_CODES = {name: i for i, name in enumerate(("eq", "ne", "lt", "le", "gt", "ge"))}
BITWISE_CODES = {name: i for i, name in enumerate(("bitwise_and", "bitwise_or", "bitwise_xor"))}
_FLOAT_ONLY_UNARY = {"exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid",
                     "reciprocal", "erf"}


@cuda.jit(device=True, inline=True)
def _unary(code, v, zero, one):
    if code == 0:
        return -v
    if code == 1:
        return abs(v)
    if code == 2:
        return math.exp(v)
    if code == 3:
        return math.log(v)
    if code == 4:
        return math.sqrt(v)
    if code == 5:
        return one / math.sqrt(v)
    if code == 6:
        return math.sin(v)
    if code == 7:
        return math.cos(v)
    if code == 8:
        return math.tanh(v)
    if code == 9:
        return one / (one + math.exp(-v))
    if code == 10:
        return v if v > zero else zero
    if code == 11:
        if v > zero:
            return one
        if v < zero:
            return -one
        return zero  # 0, -0 and nan give 0, as in PyTorch
    if code == 12:
        return one / v
    return math.erf(v)


@cuda.jit(device=True, inline=True)
def _binary_store(code, a, b, out, j):
    """out[j] = op(a, b). Each branch stores its own value, which the store casts to out's
    dtype: integer results wrap around (uint8 0 - 1 = 255, as in PyTorch), and a float32 op
    stays float32 (a shared return value would unify the branches' types, to float64)."""
    if code == 0:
        out[j] = a + b
    elif code == 1:
        out[j] = a - b
    elif code == 2:
        out[j] = a * b
    elif code == 3:
        out[j] = a / b
    elif code == 4:
        out[j] = a ** b
    elif code == 5:
        out[j] = a if (a > b or a != a) else b   # nan propagates, as torch.maximum
    else:
        out[j] = a if (a < b or a != a) else b


@cuda.jit(device=True, inline=True)
def _bitwise(code, a, b):
    """a & b, a | b or a ^ b; its own kernels, compiled for bool and integer dtypes only."""
    if code == 0:
        return a & b
    if code == 1:
        return a | b
    return a ^ b


@cuda.jit(device=True, inline=True)
def _compare(code, a, b):
    if code == 0:
        return a == b
    if code == 1:
        return a != b
    if code == 2:
        return a < b
    if code == 3:
        return a <= b
    if code == 4:
        return a > b
    return a >= b


@cuda.jit(device=True, inline=True)
def _clamp(v, lo, hi, has_lo, has_hi):
    if v != v:
        return v
    if has_lo and v < lo:
        v = lo
    if has_hi and v > hi:
        v = hi
    return v


# -- kernels: (scalars..., inputs..., out) ---------------------------------------------------

@cuda.jit
def unary_1d(code, zero, one, x, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = _unary(code, x[i], zero, one)


@cuda.jit
def unary_nd(code, zero, one, x, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        j = unravel6(i, out.shape)
        out[j] = _unary(code, x[j], zero, one)


@cuda.jit
def binary_1d(code, a, b, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        _binary_store(code, a[i], b[i], out, i)


@cuda.jit
def binary_nd(code, a, b, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        j = unravel6(i, out.shape)
        _binary_store(code, a[j], b[j], out, j)


@cuda.jit
def bitwise_1d(code, a, b, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = _bitwise(code, a[i], b[i])


@cuda.jit
def bitwise_nd(code, a, b, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        j = unravel6(i, out.shape)
        out[j] = _bitwise(code, a[j], b[j])


@cuda.jit
def compare_1d(code, a, b, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = _compare(code, a[i], b[i])


@cuda.jit
def compare_nd(code, a, b, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        j = unravel6(i, out.shape)
        out[j] = _compare(code, a[j], b[j])


@cuda.jit
def where_1d(cond, a, b, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = a[i] if cond[i] else b[i]


@cuda.jit
def where_nd(cond, a, b, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        j = unravel6(i, out.shape)
        out[j] = a[j] if cond[j] else b[j]


@cuda.jit
def clamp_1d(lo, hi, has_lo, has_hi, x, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = _clamp(x[i], lo, hi, has_lo, has_hi)


@cuda.jit
def clamp_nd(lo, hi, has_lo, has_hi, x, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        j = unravel6(i, out.shape)
        out[j] = _clamp(x[j], lo, hi, has_lo, has_hi)


@cuda.jit
def copy_1d(src, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = src[i]


@cuda.jit
def copy_nd(src, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        j = unravel6(i, out.shape)
        out[j] = src[j]


@cuda.jit
def to_bool_1d(src, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = src[i] != 0


@cuda.jit
def to_bool_nd(src, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        j = unravel6(i, out.shape)
        out[j] = src[j] != 0


@cuda.jit
def fill_1d(value, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = value


@cuda.jit
def fill_nd(value, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        j = unravel6(i, out.shape)
        out[j] = value


# -- Python entry points ---------------------------------------------------------------------

def run(kernels, scalars, inputs, out):
    """Launch ``kernels`` = (kernel_1d, kernel_nd) over ``out``'s elements, inputs broadcast."""
    if out.size == 0:
        return out
    rank, views = _core.strided_views(out.shape, list(inputs) + [out])
    kernel = kernels[0] if rank == 1 else kernels[1]
    _core.launch_1d(kernel, out.size, *scalars, *views)
    return out


def _out(out, shape, dtype):
    return _core.empty(shape, dtype) if out is None else out


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def unary(op, x, out=None):
    """``op(x)`` for ``op`` in ``contract.UNARY_OPS``; integer inputs of float-valued ops (exp,
    sqrt...) give float32, as in PyTorch."""
    code = UNARY_CODES[op]
    dtype = np.dtype(x.dtype)
    if op in _FLOAT_ONLY_UNARY and dtype.kind != "f":
        x = astype(x, np.float32)
        dtype = np.dtype(np.float32)
    if dtype == np.bool_ and op in ("neg", "sign", "relu"):
        x = astype(x, np.int64)
        dtype = np.dtype(np.int64)
    if dtype == np.bool_:     # abs of a bool is itself
        return copy_(_out(out, x.shape, dtype), x)
    out = _out(out, x.shape, dtype)
    return run((unary_1d, unary_nd), (code, _core.scalar(0, dtype), _core.scalar(1, dtype)),
               [x], out)


def binary(op, a, b, out=None):
    """``op(a, b)`` broadcast; comparisons give bool; ``div`` of integers gives float32."""
    shape = _core.broadcast_shape(a.shape, b.shape)
    if op in COMPARE_CODES:
        out = _out(out, shape, np.bool_)
        return run((compare_1d, compare_nd), (COMPARE_CODES[op],), [a, b], out)
    if op in BITWISE_CODES:  # bool and integer dtypes only (the ops layer checks)
        out = _out(out, shape, a.dtype)
        return run((bitwise_1d, bitwise_nd), (BITWISE_CODES[op],), [a, b], out)
    dtype = np.dtype(a.dtype)
    if op == "div" and dtype.kind != "f":
        a, b, dtype = astype(a, np.float32), astype(b, np.float32), np.dtype(np.float32)
    elif dtype == np.bool_:
        # bool arithmetic is computed on int64 and cast back (add: or, mul: and)
        res = binary(op, astype(a, np.int64), astype(b, np.int64))
        if out is None:
            out = _core.empty(shape, np.bool_)
        return copy_(out, res)
    out = _out(out, shape, dtype)
    return run((binary_1d, binary_nd), (BINARY_CODES[op],), [a, b], out)


def where(cond, a, b):
    """``a`` where ``cond`` else ``b``, all three broadcast."""
    shape = _core.broadcast_shape(cond.shape, a.shape, b.shape)
    out = _core.empty(shape, a.dtype)
    return run((where_1d, where_nd), (), [cond, a, b], out)


def clamp(x, lo, hi, out=None):
    """``x`` clipped to ``[lo, hi]``; ``lo`` or ``hi`` may be None; nan stays nan."""
    dtype = np.dtype(x.dtype)
    out = _out(out, x.shape, dtype)
    scalars = (_core.scalar(0 if lo is None else lo, dtype),
               _core.scalar(0 if hi is None else hi, dtype), lo is not None, hi is not None)
    return run((clamp_1d, clamp_nd), scalars, [x], out)


def copy_(dst, src):
    """Write ``src`` (broadcast to ``dst.shape``, cast to ``dst.dtype``) into ``dst``."""
    if np.dtype(dst.dtype) == np.bool_ and np.dtype(src.dtype) != np.bool_:
        return run((to_bool_1d, to_bool_nd), (), [src], dst)
    return run((copy_1d, copy_nd), (), [src], dst)


def fill_(dst, value):
    """Set every element of ``dst`` to ``value`` (cast to its dtype)."""
    return run((fill_1d, fill_nd), (_core.scalar(value, dst.dtype),), [], dst)


def astype(x, dtype):
    """A new C-contiguous array of ``dtype`` with ``x``'s values."""
    out = _core.empty(x.shape, dtype)
    return copy_(out, x)


def contiguous(x):
    """``x`` itself when C-contiguous, else a C-contiguous copy."""
    if _core.is_contiguous(x):
        return x
    return copy_(_core.empty(x.shape, x.dtype), x)
