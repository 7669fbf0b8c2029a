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

from .. import contract
from ..shared import is_float_valued
from . import _core
from ._core import arr, b1, f32, f64, i64, unravel6

REGISTRY = contract.registry("cuda")

UNARY = REGISTRY.codes("unary")
NEG = UNARY.add("neg")
ABS = UNARY.add("abs")
EXP = UNARY.add("exp")
LOG = UNARY.add("log")
SQRT = UNARY.add("sqrt")
RSQRT = UNARY.add("rsqrt")
SIN = UNARY.add("sin")
COS = UNARY.add("cos")
TANH = UNARY.add("tanh")
SIGMOID = UNARY.add("sigmoid")
RELU = UNARY.add("relu")
SIGN = UNARY.add("sign")
RECIPROCAL = UNARY.add("reciprocal")
ERF = UNARY.add("erf")
UNARY_CODES = UNARY.codes
"""Unary op name -> code."""

BINARY = REGISTRY.codes("binary")
ADD = BINARY.add("add")
SUB = BINARY.add("sub")
MUL = BINARY.add("mul")
DIV = BINARY.add("div")
POW = BINARY.add("pow")
MAXIMUM = BINARY.add("maximum")
MINIMUM = BINARY.add("minimum")
HYPOT = BINARY.add("hypot")
BINARY_CODES = BINARY.codes
"""Arithmetic op name -> code."""

COMPARE = REGISTRY.codes("binary")
EQ = COMPARE.add("eq")
NE = COMPARE.add("ne")
LT = COMPARE.add("lt")
LE = COMPARE.add("le")
GT = COMPARE.add("gt")
GE = COMPARE.add("ge")
COMPARE_CODES = COMPARE.codes
"""Comparison op name -> code."""

BITWISE = REGISTRY.codes("binary")
BITWISE_AND = BITWISE.add("bitwise_and")
BITWISE_OR = BITWISE.add("bitwise_or")
BITWISE_XOR = BITWISE.add("bitwise_xor")
BITWISE_CODES = BITWISE.codes
"""Bitwise op name -> code."""


@cuda.jit(device=True, inline=True)
def _unary(code, v, zero, one):
    if code == NEG:
        return -v
    if code == ABS:
        return abs(v)
    if code == EXP:
        return math.exp(v)
    if code == LOG:
        return math.log(v)
    if code == SQRT:
        return math.sqrt(v)
    if code == RSQRT:
        return one / math.sqrt(v)
    if code == SIN:
        return math.sin(v)
    if code == COS:
        return math.cos(v)
    if code == TANH:
        return math.tanh(v)
    if code == SIGMOID:
        return one / (one + math.exp(-v))
    if code == RELU:
        return v if v > zero else zero
    if code == SIGN:
        if v > zero:
            return one
        if v < zero:
            return -one
        return zero  # 0, -0 and nan give 0, as in PyTorch
    if code == RECIPROCAL:
        return one / v
    return math.erf(v)  # ERF


@cuda.jit(device=True, inline=True)
def _binary_store(code, a, b, out, j):
    """out[j] = op(a, b). Each branch stores its own value, which the store casts to out's
    dtype: integer results wrap around (uint8 0 - 1 = 255, as in PyTorch), and a float32 op
    stays float32 (a shared return value would unify the branches' types, to float64)."""
    if code == ADD:
        out[j] = a + b
    elif code == SUB:
        out[j] = a - b
    elif code == MUL:
        out[j] = a * b
    elif code == DIV:
        out[j] = a / b
    elif code == POW:
        out[j] = a ** b
    elif code == MAXIMUM:
        out[j] = a if (a > b or a != a) else b   # nan propagates, as torch.maximum
    elif code == MINIMUM:
        out[j] = a if (a < b or a != a) else b
    else:  # HYPOT: sqrt(a*a + b*b) without overflow; hypot(inf, nan) = inf, as C's hypot
        out[j] = math.hypot(a, b)


@cuda.jit(device=True, inline=True)
def _bitwise(code, a, b):
    """a & b, a | b or a ^ b; its own kernels, compiled for bool and integer dtypes only."""
    if code == BITWISE_AND:
        return a & b
    if code == BITWISE_OR:
        return a | b
    return a ^ b  # BITWISE_XOR


@cuda.jit(device=True, inline=True)
def _compare(code, a, b):
    if code == EQ:
        return a == b
    if code == NE:
        return a != b
    if code == LT:
        return a < b
    if code == LE:
        return a <= b
    if code == GT:
        return a > b
    return a >= b  # GE


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


# -- launch signatures (one per dtype and rank) ----------------------------------------------

for _dt in (f32, f64, i64):
    for _nd, _kernels in ((1, (unary_1d, binary_1d, compare_1d, where_1d, clamp_1d)),
                          (6, (unary_nd, binary_nd, compare_nd, where_nd, clamp_nd))):
        _a = arr(_dt, _nd)
        _un, _bin, _cmp, _wh, _cl = _kernels
        REGISTRY.launches(_un, (i64, _dt, _dt, _a, _a))
        REGISTRY.launches(_bin, (i64, _a, _a, _a))
        REGISTRY.launches(_cmp, (i64, _a, _a, arr(b1, _nd)))
        REGISTRY.launches(_wh, (arr(b1, _nd), _a, _a, _a))
        REGISTRY.launches(_cl, (_dt, _dt, b1, b1, _a, _a))
for _dt in (i64, b1):  # bitwise and/or/xor: integer and bool tensors only
    for _nd, _bit in ((1, bitwise_1d), (6, bitwise_nd)):
        REGISTRY.launches(_bit, (i64, arr(_dt, _nd), arr(_dt, _nd), arr(_dt, _nd)))
for _nd, _copy, _bool, _fill in ((1, copy_1d, to_bool_1d, fill_1d),
                                 (6, copy_nd, to_bool_nd, fill_nd)):
    for _src, _dst in ((f32, f32), (f32, f64), (f64, f32), (i64, f32), (b1, f32), (f32, i64),
                       (i64, i64), (b1, b1)):
        REGISTRY.launches(_copy, (arr(_src, _nd), arr(_dst, _nd)))
    for _src in (f32, f64, i64):
        REGISTRY.launches(_bool, (arr(_src, _nd), arr(b1, _nd)))
    for _dt in (f32, f64, i64, b1):
        REGISTRY.launches(_fill, (_dt, arr(_dt, _nd)))


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


@REGISTRY.kernel("unary")
def unary(op, x, out=None):
    """``op(x)`` for ``op`` in ``contract.UNARY_OPS``; integer inputs of float-valued ops (exp,
    sqrt...) give float32, as in PyTorch."""
    code = UNARY_CODES[op]
    dtype = np.dtype(x.dtype)
    if is_float_valued(op) and dtype.kind != "f":
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


@REGISTRY.kernel("binary")
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


@REGISTRY.kernel("where")
def where(cond, a, b):
    """``a`` where ``cond`` else ``b``, all three broadcast."""
    shape = _core.broadcast_shape(cond.shape, a.shape, b.shape)
    out = _core.empty(shape, a.dtype)
    return run((where_1d, where_nd), (), [cond, a, b], out)


@REGISTRY.kernel("clamp")
def clamp(x, lo, hi, out=None):
    """``x`` clipped to ``[lo, hi]``; ``lo`` or ``hi`` may be None; nan stays nan."""
    dtype = np.dtype(x.dtype)
    out = _out(out, x.shape, dtype)
    scalars = (_core.scalar(0 if lo is None else lo, dtype),
               _core.scalar(0 if hi is None else hi, dtype), lo is not None, hi is not None)
    return run((clamp_1d, clamp_nd), scalars, [x], out)


@REGISTRY.kernel("copy_")
def copy_(dst, src):
    """Write ``src`` (broadcast to ``dst.shape``, cast to ``dst.dtype``) into ``dst``."""
    if np.dtype(dst.dtype) == np.bool_ and np.dtype(src.dtype) != np.bool_:
        return run((to_bool_1d, to_bool_nd), (), [src], dst)
    return run((copy_1d, copy_nd), (), [src], dst)


def fill_(dst, value):
    """Set every element of ``dst`` to ``value`` (cast to its dtype)."""
    return run((fill_1d, fill_nd), (_core.scalar(value, dst.dtype),), [], dst)


@REGISTRY.kernel("astype")
def astype(x, dtype):
    """A new C-contiguous array of ``dtype`` with ``x``'s values."""
    out = _core.empty(x.shape, dtype)
    return copy_(out, x)


@REGISTRY.kernel("contiguous")
def contiguous(x):
    """``x`` itself when C-contiguous, else a C-contiguous copy."""
    if _core.is_contiguous(x):
        return x
    return copy_(_core.empty(x.shape, x.dtype), x)
