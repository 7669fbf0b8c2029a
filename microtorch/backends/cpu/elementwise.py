"""Elementwise kernels of the CPU backend: ``unary``, ``binary``, ``where`` and ``clamp``.

Design
------
Binary ops come in two families of module-level Numba kernels that take an integer op code, so
one compiled function (per dtype and layout) serves 7 arithmetic ops or 6 comparisons: the code
is tested *inside* the element loop (``_arith(code, x, y)``); it is loop-invariant and LLVM
unswitches the small branch, so each op still gets its own vectorised loop. Unary ops are the
other way round: one small kernel per op (``_relu``, ``_exp``...), so a program compiles only
the ones it uses. What a user waits for on a fresh install is compilation: the cold compile of
add/mul/pow/exp and sum is a few seconds, a cached load a few ms per kernel (see
``benchmarks/bench_elementwise.py --compile``).

Two memory layouts reach the kernels:

* **flat** -- every operand is C-contiguous with the result's number of elements (its shape, or
  one that differs by size-1 axes only): the wrappers pass 1-D views (``reshape(-1)``) and a
  plain ``for i in range(n)`` loop runs. Large arrays (``>= PARALLEL_MIN``
  elements) are cut into one contiguous piece per thread, each run by the same serial kernel
  (see :mod:`.threads`; inner loops stay vectorised). Elementwise ops are memory-bound, so two
  threads roughly halve the time on an idle machine.
* **strided** (binary and where only) -- anything else: broadcasting (0-strides), 0-d operands,
  transposed or sliced views, negative strides. The wrapper collapses the result's dimensions
  (dropping size-1 axes and merging axes that are contiguous for *every* operand) to at most four
  and passes, per operand, a 1-D view of the memory it spans plus ``(offset, s0, s1, s2, s3)`` in
  elements. The kernel loops over the first three dimensions and hands each innermost row to a
  row kernel with four loops: all unit strides, a scalar right or left operand (stride 0, hoisted
  out of the loop), or general strides. Binary ops of at most ``SMALL_COPY`` elements copy such
  operands to contiguous ones and take the flat kernels instead: cheaper than the geometry work,
  and a small program (the autograd tutorial) never compiles the strided kernels. A one-element
  integer result (a counter such as BatchNorm's ``num_batches_tracked``) is computed by NumPy's
  ufunc: the same wrapped result, and no integer kernel to compile.
* **tensor-scalar** -- a contiguous array with a one-element operand (``x * 0.5`` after the ops
  layer made 0.5 a 0-d array): the scalar is passed as a NumPy scalar to a flat kernel, which
  skips the Python-side geometry work (a few µs per call on small arrays).

The strided kernels always get their input buffers as *read-only* 1-D C arrays, so a read-only
``np.broadcast_to`` view and an ordinary array share one compiled specialization there.
Unary ops on non-contiguous arrays copy to a contiguous temporary first (rare in practice).

float32 ``exp`` (and ``tanh``/``sigmoid``, built on it) uses an inline Cephes-style ``expf``
(range reduction by ``ln 2`` + degree-5 polynomial, about 1 ulp, inf/NaN/underflow handled) that
LLVM vectorises; Numba's ``math.exp`` is a scalar libm call. Numba's SVML path is not available
(no ``icc_rt``). Other transcendental ops call NumPy's scalar functions and are slower than
NumPy's SIMD loops.

All kernels use ``error_model='numpy'``: ``1.0 / 0.0`` is ``inf`` and integer division by zero
gives 0, instead of raising ``ZeroDivisionError`` from inside a loop.
"""

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from .. import contract
from .._numba import jit
from ..shared import is_float_valued
from .threads import run, split

REGISTRY = contract.registry("cpu")

__all__ = ["unary", "binary", "where", "clamp", "PARALLEL_MIN"]

#: Arrays with at least this many elements use the multi-threaded kernels.
PARALLEL_MIN = 1 << 16
#: Binary ops with at most this many elements copy operands of other layouts to contiguous.
SMALL_COPY = 4096

# The binary op names come in three families, each a set of named codes that one kernel
# branches on (``if code == ADD``); each ``add`` also registers the op name with the backend.
ARITH = REGISTRY.codes("binary")
ADD = ARITH.add("add")
SUB = ARITH.add("sub")
MUL = ARITH.add("mul")
DIV = ARITH.add("div")
POW = ARITH.add("pow")
MAXIMUM = ARITH.add("maximum")
MINIMUM = ARITH.add("minimum")
ARITH_CODES = ARITH.codes
"""Arithmetic op name -> code: the result has the inputs' dtype."""

COMPARE = REGISTRY.codes("binary")
EQ = COMPARE.add("eq")
NE = COMPARE.add("ne")
LT = COMPARE.add("lt")
LE = COMPARE.add("le")
GT = COMPARE.add("gt")
GE = COMPARE.add("ge")
COMPARE_CODES = COMPARE.codes
"""Comparison op name -> code: the result is bool."""

#: Bitwise ops (bool and integer tensors only, and rare) are NumPy's ufuncs in the fast
#: kernel: three more branches in :func:`_arith` would stop LLVM from specialising its loops
#: per op, and the float loops would lose vectorisation (a flat float32 add measured 5x
#: slower). The reference kernel loops over :func:`_bitwise`.
BITWISE = REGISTRY.codes("binary")
BITWISE_AND = BITWISE.add("bitwise_and")
BITWISE_OR = BITWISE.add("bitwise_or")
BITWISE_XOR = BITWISE.add("bitwise_xor")
BITWISE_CODES = BITWISE.codes
"""Bitwise op name -> code (bool and integer arrays only)."""
_BITWISE_UFUNCS = {BITWISE_AND: np.bitwise_and, BITWISE_OR: np.bitwise_or,
                   BITWISE_XOR: np.bitwise_xor}

#: Float functions of two arguments (``hypot``) are NumPy's ufuncs in the fast kernel, for the
#: same reason as the bitwise ops: one more branch in :func:`_arith` (even ``x - y``) measured
#: 10x slower on every flat float32 and float64 arithmetic loop, as LLVM then stops
#: specialising them per op. The reference kernel loops over :func:`_float_math`. A new op of
#: this family is a named code here, its ufunc, and a branch in :func:`_float_math`.
FLOAT_MATH = REGISTRY.codes("binary")
HYPOT = FLOAT_MATH.add("hypot")
FLOAT_MATH_CODES = FLOAT_MATH.codes
"""Float function op name -> code (the ops layer passes float arrays; integer arrays get the
result truncated to their dtype)."""
_FLOAT_MATH_UFUNCS = {HYPOT: np.hypot}
_NUMPY_INT_SCALAR = {"add": np.add, "sub": np.subtract, "mul": np.multiply}

_F32 = np.float32
_LOG2E = _F32(1.44269504088896341)
_LN2_HI = _F32(0.693359375)
_LN2_LO = _F32(-2.12194440e-4)
_EXP_HI = _F32(88.8)          # above log(FLT_MAX): the result overflows to inf
_EXP_LO = _F32(-104.0)        # below log(smallest denormal / 2): the result is 0
_HALF = _F32(0.5)
_ONE = _F32(1.0)
_TWO = _F32(2.0)
_ZERO = _F32(0.0)
_P0, _P1, _P2 = _F32(1.9875691500e-4), _F32(1.3981999507e-3), _F32(8.3334519073e-3)
_P3, _P4, _P5 = _F32(4.1665795894e-2), _F32(1.6666665459e-1), _F32(5.0000001201e-1)
_T0, _T1, _T2 = _F32(-5.70498872745e-3), _F32(2.06390887954e-2), _F32(-5.37397155531e-2)
_T3, _T4 = _F32(1.33314422036e-1), _F32(-3.33332819422e-1)
_TANH_SMALL = _F32(0.625)


# --------------------------------------------------------------------------------------------
# scalar helpers (inlined by LLVM into the loops)
# --------------------------------------------------------------------------------------------

@intrinsic
def _exp2_int(typingctx, z):
    """2.0 ** z for a float z holding an integer in the normal exponent range, by building the
    bits (float32: [-126, 127]; float64: [-1022, 1023]).

    ``fptosi`` + ``shl`` + ``bitcast`` all vectorise, unlike ``math.ldexp``. (Kernels compiled
    for float64 or integers type the float32 fast paths too, hence the float64 case.)
    """
    if z not in (types.float32, types.float64):
        return None
    width, bias, shift = (32, 127, 23) if z == types.float32 else (64, 1023, 52)

    def codegen(context, builder, signature, args):
        ity = ir.IntType(width)
        n = builder.fptosi(args[0], ity)
        bits = builder.shl(builder.add(n, ir.Constant(ity, bias)), ir.Constant(ity, shift))
        return builder.bitcast(bits, context.get_value_type(z))

    return z(z), codegen


@jit
def _expf(x):
    """exp(x) for float32 x without a libm call (Cephes ``expf``): about 1 ulp, vectorisable.

    Range reduction x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two for exactness), a
    degree-5 polynomial for exp(r), then the scale 2**n applied as two factors 2**n1 * 2**n2 so
    that results down to the denormals (n = -150) and up to overflow (n = 128) come out right.
    NaN stays NaN, -inf gives 0 and +inf gives inf (through the clamp to [-104, 88.8]).
    """
    x = _EXP_HI if x > _EXP_HI else x
    x = _EXP_LO if x < _EXP_LO else x
    z = np.floor(x * _LOG2E + _HALF)
    z = z if z == z else _ZERO          # NaN: keep fptosi well defined; the polynomial is NaN
    r = x - z * _LN2_HI - z * _LN2_LO
    p = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
    p = p * (r * r) + r + _ONE
    z1 = np.floor(z * _HALF)
    return p * _exp2_int(z1) * _exp2_int(z - z1)


@jit
def _tanhf(x):
    """tanh(x) for float32 (Cephes ``tanhf``): odd polynomial for |x| < 0.625, else via expf."""
    ax = abs(x)
    z = x * x
    small = ((((_T0 * z + _T1) * z + _T2) * z + _T3) * z + _T4) * z * x + x
    big = _ONE - _TWO / (_expf(_TWO * ax) + _ONE)
    big = big if x >= _ZERO else -big
    return small if ax < _TANH_SMALL else big


@jit
def _sigmoidf(x):
    """1 / (1 + exp(-x)) for float32, written as e / (1 + e), e = exp(-|x|), for x < 0."""
    e = _expf(-abs(x))
    s = _ONE / (_ONE + e)
    return s if x >= _ZERO else e * s


def _div(x, y):
    """True division for floats, floor division (like ``torch.floor_divide``) for integers."""


@overload(_div)
def _div_impl(x, y):
    if isinstance(x, types.Float):
        return lambda x, y: x / y
    return lambda x, y: x // y


def _pow(x, y):
    """x ** y; integer power by squaring for integers (negative exponents give 0, 1 or -1)."""


@overload(_pow)
def _pow_impl(x, y):
    if isinstance(x, types.Float):
        return lambda x, y: x ** y

    def ipow(x, y):
        base = int(x)
        e = int(y)
        if e < 0:
            if base == 1:
                return 1
            if base == -1:
                return 1 if e % 2 == 0 else -1
            return 0
        result = 1
        while e > 0:
            if e & 1:
                result *= base
            base *= base
            e >>= 1
        return result
    return ipow


@intrinsic
def _cast(typingctx, v, x):
    """``v`` cast to the type of ``x`` (wrapping for integers, like a C cast)."""
    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], signature.args[0], signature.return_type)

    return x(v, x), codegen


@jit(error_model="numpy")
def _arith(code, x, y):
    """The arithmetic op ``code`` (see ARITH_CODES) on two scalars of one dtype, giving that
    dtype: integer results wrap around on overflow (uint8 0 - 1 = 255), as in PyTorch.

    Numba computes uint8 - uint8 in uint64 and int32 + int32 in int64, so each branch casts its
    result back (which also gives every branch one type: mixing uint64 with an int64 branch
    would make Numba unify them to float64).

    A new arithmetic op would be a named code (``ARITH.add(name)`` with the others above) and
    one more branch here, which the reference kernel (:func:`binary_reference`) runs too; but
    seven branches are what LLVM still specialises per op: an eighth made every flat loop 10x
    slower. A float function of two arguments with a NumPy ufunc (``hypot``) joins
    :data:`FLOAT_MATH` instead."""
    if code == ADD:
        return _cast(x + y, x)
    elif code == SUB:
        return _cast(x - y, x)
    elif code == MUL:
        return _cast(x * y, x)
    elif code == DIV:
        return _cast(_div(x, y), x)
    elif code == POW:
        return _cast(_pow(x, y), x)
    elif code == MAXIMUM:
        return x if (x > y or x != x) else y       # NaN propagates, like torch.maximum
    else:  # MINIMUM
        return x if (x < y or x != x) else y


@jit
def _compare(code, x, y):
    """The comparison ``code`` (see COMPARE_CODES) on two scalars: a bool."""
    if code == EQ:
        return x == y
    elif code == NE:
        return x != y
    elif code == LT:
        return x < y
    elif code == LE:
        return x <= y
    elif code == GT:
        return x > y
    else:  # GE
        return x >= y


@jit(error_model="numpy")
def _float_math(code, x, y):
    """The float function ``code`` (see FLOAT_MATH_CODES) of two scalars, as C's libm computes
    it: ``hypot(x, y)`` is sqrt(x*x + y*y) without overflow in x*x, and an infinite operand
    gives inf even when the other is NaN."""
    if code == HYPOT:
        return math.hypot(x, y)
    raise ValueError("unknown float function code")


@jit
def _bitwise(code, x, y):
    """The bitwise op ``code`` (see BITWISE_CODES) on two bool or integer scalars."""
    if code == BITWISE_AND:
        return x & y
    elif code == BITWISE_OR:
        return x | y
    else:  # BITWISE_XOR
        return x ^ y


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------

# One small kernel per unary op (out[i] = op(x[i]), both 1-D C-contiguous of one length and
# dtype), so a program compiles only the ops it uses. Each stores its own result, so a loop may
# compute in another precision (``1.0 / sqrt(x)`` is float64) without changing the others.

@REGISTRY.op("unary", "neg")
@jit(error_model="numpy")
def _neg(x, out):
    for i in range(x.shape[0]):
        out[i] = -x[i]


@REGISTRY.op("unary", "abs")
@jit(error_model="numpy")
def _abs(x, out):
    for i in range(x.shape[0]):
        out[i] = abs(x[i])


@REGISTRY.op("unary", "exp")
@jit(error_model="numpy")
def _exp(x, out):
    for i in range(x.shape[0]):
        out[i] = np.exp(x[i])


@REGISTRY.op("unary", "log")
@jit(error_model="numpy")
def _log(x, out):
    for i in range(x.shape[0]):
        out[i] = np.log(x[i])


@REGISTRY.op("unary", "sqrt")
@jit(error_model="numpy")
def _sqrt(x, out):
    for i in range(x.shape[0]):
        out[i] = np.sqrt(x[i])


@REGISTRY.op("unary", "rsqrt")
@jit(error_model="numpy")
def _rsqrt(x, out):
    for i in range(x.shape[0]):
        out[i] = 1.0 / np.sqrt(x[i])


@REGISTRY.op("unary", "sin")
@jit(error_model="numpy")
def _sin(x, out):
    for i in range(x.shape[0]):
        out[i] = np.sin(x[i])


@REGISTRY.op("unary", "cos")
@jit(error_model="numpy")
def _cos(x, out):
    for i in range(x.shape[0]):
        out[i] = np.cos(x[i])


@REGISTRY.op("unary", "tanh")
@jit(error_model="numpy")
def _tanh(x, out):
    for i in range(x.shape[0]):
        out[i] = np.tanh(x[i])


@REGISTRY.op("unary", "sigmoid")
@jit(error_model="numpy")
def _sigmoid(x, out):
    for i in range(x.shape[0]):
        v = x[i]
        e = np.exp(-abs(v))
        out[i] = 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)


@REGISTRY.op("unary", "relu")
@jit(error_model="numpy")
def _relu(x, out):
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v if (v > 0 or v != v) else 0      # relu(NaN) = NaN


@REGISTRY.op("unary", "sign")
@jit(error_model="numpy")
def _sign(x, out):
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = (v > 0) - (v < 0)      # sign(NaN) = 0, as in PyTorch


@REGISTRY.op("unary", "erf")
@jit(error_model="numpy")
def _erf(x, out):
    for i in range(x.shape[0]):
        out[i] = math.erf(x[i])


@REGISTRY.op("unary", "reciprocal")
@jit(error_model="numpy")
def _reciprocal(x, out):
    for i in range(x.shape[0]):
        out[i] = 1.0 / x[i]


@jit(error_model="numpy")
def _exp_f32(x, out):
    for i in range(x.shape[0]):
        out[i] = _expf(x[i])


@jit(error_model="numpy")
def _tanh_f32(x, out):
    for i in range(x.shape[0]):
        out[i] = _tanhf(x[i])


@jit(error_model="numpy")
def _sigmoid_f32(x, out):
    for i in range(x.shape[0]):
        out[i] = _sigmoidf(x[i])


#: Unary op name -> its kernel, from the registrations above.
_UNARY_KERNELS = REGISTRY.ops["unary"]
# float32 exp, tanh and sigmoid: the vectorisable inline expf (see the module docstring)
_UNARY_F32 = {"exp": _exp_f32, "tanh": _tanh_f32, "sigmoid": _sigmoid_f32}


@jit(error_model="numpy")
def _clamp_flat(x, lo, hi, out):
    """out[i] = min(max(x[i], lo), hi) with x's dtype; NaN in x, lo or hi gives NaN like torch."""
    for i in range(x.shape[0]):
        v = x[i]
        v = lo if (v < lo or lo != lo) else v
        out[i] = hi if (v > hi or hi != hi) else v


@jit(error_model="numpy")
def _arith_flat(code, a, b, out):
    """out[i] = op(a[i], b[i]); all 1-D C-contiguous of one length."""
    for i in range(out.shape[0]):
        out[i] = _arith(code, a[i], b[i])


@jit
def _compare_flat(code, a, b, out):
    """out[i] = a[i] <op> b[i] (bool); all 1-D C-contiguous of one length."""
    for i in range(out.shape[0]):
        out[i] = _compare(code, a[i], b[i])


@jit
def _bitwise_flat(code, a, b, out):
    """out[i] = a[i] <op> b[i] for a bitwise op; all 1-D C-contiguous of one length."""
    for i in range(out.shape[0]):
        out[i] = _bitwise(code, a[i], b[i])


@jit(error_model="numpy")
def _float_math_flat(code, a, b, out):
    """out[i] = op(a[i], b[i]) for a float function; all 1-D C-contiguous of one length."""
    for i in range(out.shape[0]):
        out[i] = _float_math(code, a[i], b[i])


@jit
def _where_flat(cond, a, b, out):
    """out[i] = a[i] if cond[i] else b[i]; all 1-D C-contiguous of one length."""
    for i in range(out.shape[0]):
        out[i] = a[i] if cond[i] else b[i]


def _flat_call(kernel, *args):
    """``kernel(*args)`` for a flat kernel (1-D C-contiguous arrays of one length, the output
    last; the other arguments scalars). Arrays of at least PARALLEL_MIN elements are cut into one
    contiguous piece per thread (the inner loops stay vectorised)."""
    n = args[-1].shape[0]
    if n < PARALLEL_MIN:
        kernel(*args)
        return
    run([(kernel, tuple(a[lo:hi] if isinstance(a, np.ndarray) else a for a in args))
         for lo, hi in split(n)])


@jit(error_model="numpy")
def _arith_scalar_right(code, a, y, out):
    """out[i] = op(a[i], y) for a scalar y; a and out 1-D C-contiguous."""
    for i in range(out.shape[0]):
        out[i] = _arith(code, a[i], y)


@jit(error_model="numpy")
def _arith_scalar_left(code, x, b, out):
    """out[i] = op(x, b[i]) for a scalar x; b and out 1-D C-contiguous."""
    for i in range(out.shape[0]):
        out[i] = _arith(code, x, b[i])


@jit(error_model="numpy")
def _arith_row(code, a, ao, sa, b, bo, sb, out, oo, so, n):
    """out[oo + m*so] = op(a[ao + m*sa], b[bo + m*sb]) for m < n.

    Unit strides and a scalar (stride-0) operand get their own loops over slices, which LLVM
    vectorises; other strides take the general loop.
    """
    if so == 1 and sa == 1 and sb == 1:
        ar = a[ao:ao + n]
        br = b[bo:bo + n]
        orow = out[oo:oo + n]
        for m in range(n):
            orow[m] = _arith(code, ar[m], br[m])
    elif so == 1 and sa == 1 and sb == 0:
        ar = a[ao:ao + n]
        orow = out[oo:oo + n]
        y = b[bo]
        for m in range(n):
            orow[m] = _arith(code, ar[m], y)
    elif so == 1 and sa == 0 and sb == 1:
        br = b[bo:bo + n]
        orow = out[oo:oo + n]
        x = a[ao]
        for m in range(n):
            orow[m] = _arith(code, x, br[m])
    else:
        for m in range(n):
            out[oo + m * so] = _arith(code, a[ao + m * sa], b[bo + m * sb])


@jit(error_model="numpy")
def _arith_strided(code, a, b, out, shape, sa, sb, so):
    """Broadcast/strided arithmetic on buffers a, b, out (1-D C arrays) with a 4-D geometry.

    ``shape`` = (n0, n1, n2, n3); ``sa``, ``sb``, ``so`` = (offset, s0, s1, s2, s3) in elements
    (strides may be 0 or negative); element (i, j, k, l) of operand a is
    ``a[sa[0] + i*sa[1] + j*sa[2] + k*sa[3] + l*sa[4]]``. The wrapper guarantees every such index
    is inside the buffer. Each innermost row goes to :func:`_arith_row`.
    """
    n0, n1, n2, n3 = shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                _arith_row(code,
                           a, sa[0] + i * sa[1] + j * sa[2] + k * sa[3], sa[4],
                           b, sb[0] + i * sb[1] + j * sb[2] + k * sb[3], sb[4],
                           out, so[0] + i * so[1] + j * so[2] + k * so[3], so[4], n3)


@jit
def _compare_row(code, a, ao, sa, b, bo, sb, out, oo, so, n):
    """out[oo + m*so] = a[ao + m*sa] <op> b[bo + m*sb] for m < n (unit strides vectorised)."""
    if so == 1 and sa == 1 and sb == 1:
        ar = a[ao:ao + n]
        br = b[bo:bo + n]
        orow = out[oo:oo + n]
        for m in range(n):
            orow[m] = _compare(code, ar[m], br[m])
    else:
        for m in range(n):
            out[oo + m * so] = _compare(code, a[ao + m * sa], b[bo + m * sb])


@jit
def _compare_strided(code, a, b, out, shape, sa, sb, so):
    """Broadcast/strided comparison; same geometry contract as :func:`_arith_strided`."""
    n0, n1, n2, n3 = shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                _compare_row(code,
                             a, sa[0] + i * sa[1] + j * sa[2] + k * sa[3], sa[4],
                             b, sb[0] + i * sb[1] + j * sb[2] + k * sb[3], sb[4],
                             out, so[0] + i * so[1] + j * so[2] + k * so[3], so[4], n3)


@jit
def _where_strided(cond, a, b, out, shape, sc, sa, sb, so):
    """Broadcast/strided select; same geometry contract as :func:`_arith_strided`."""
    n0, n1, n2, n3 = shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                co = sc[0] + i * sc[1] + j * sc[2] + k * sc[3]
                ao = sa[0] + i * sa[1] + j * sa[2] + k * sa[3]
                bo = sb[0] + i * sb[1] + j * sb[2] + k * sb[3]
                oo = so[0] + i * so[1] + j * so[2] + k * so[3]
                for m in range(n3):
                    out[oo + m * so[4]] = (a[ao + m * sa[4]] if cond[co + m * sc[4]]
                                           else b[bo + m * sb[4]])


# --------------------------------------------------------------------------------------------
# Python side: layout normalisation
# --------------------------------------------------------------------------------------------

def _flat(x):
    """The 1-D view of a C-contiguous array that the flat kernels take.

    Read-only inputs (rare when contiguous) compile their own specialization on first use;
    making every input read-only instead would cost ~0.6 µs per operand per call.
    """
    return x.reshape(-1)


def _span(x, writeable=False):
    """(buffer, offset, element strides) describing x's memory; buffer is a 1-D C array view.

    Negative-stride axes are flipped to find the lowest address, so the buffer starts there and
    ``offset`` locates ``x[0, ..., 0]`` in it. Inputs whose strides are not multiples of the
    item size are copied (outputs never are: they come from ``np.empty`` or the ops layer).
    """
    isz = x.itemsize
    if not writeable and any(s % isz for s in x.strides):
        x = np.ascontiguousarray(x)
    strides = tuple(s // isz for s in x.strides)
    low = x
    offset = 0
    if any(s < 0 for s in strides):
        flip = tuple(slice(None, None, -1) if s < 0 else slice(None) for s in strides)
        low = x[flip]
        offset = sum((n - 1) * -s for n, s in zip(x.shape, strides) if s < 0)
    extent = 1 + sum((n - 1) * abs(s) for n, s in zip(x.shape, strides))
    buf = np.lib.stride_tricks.as_strided(low, shape=(extent,), strides=(isz,),
                                          writeable=writeable)
    return buf, offset, strides


def _geometry(shape, strides_list):
    """Collapse ``shape`` and each operand's element strides: drop size-1 axes, merge mergeable.

    Two neighbouring axes merge when, for every operand, the outer stride equals the inner
    stride times the inner size. Returns (sizes, [strides per operand]) of equal length >= 1.
    """
    sizes = []
    per_op = [[] for _ in strides_list]
    for d, n in enumerate(shape):
        if n == 1:
            continue
        if sizes and all(st[d] * n == ops[-1] for st, ops in zip(strides_list, per_op)):
            sizes[-1] *= n
            for st, ops in zip(strides_list, per_op):
                ops[-1] = st[d]
            continue
        sizes.append(n)
        for st, ops in zip(strides_list, per_op):
            ops.append(st[d])
    if not sizes:
        sizes = [1]
        per_op = [[0] for _ in strides_list]
    return sizes, per_op


def _run_strided(kernel, prefix, arrays, out):
    """Run a strided kernel over broadcast inputs ``arrays`` into ``out`` (any layout).

    ``prefix`` holds the leading kernel arguments (the op code, or nothing). Geometries of more
    than four collapsed dimensions are split by a Python loop over the leading index.
    """
    shape = out.shape
    spans = []
    for x in arrays:
        x = np.broadcast_to(x, shape) if x.shape != shape else x
        spans.append(_span(x))
    obuf, ooff, ostr = _span(out, writeable=True)
    sizes, per_op = _geometry(shape, [s[2] for s in spans] + [ostr])
    offsets = [s[1] for s in spans] + [ooff]
    bufs = [s[0] for s in spans]
    _run_geometry(kernel, prefix, bufs, obuf, sizes, per_op, offsets)
    return out


def _run_geometry(kernel, prefix, bufs, obuf, sizes, per_op, offsets):
    if len(sizes) > 4:      # rare: peel the leading axis in Python
        for i in range(sizes[0]):
            sub_offsets = [o + i * st[0] for o, st in zip(offsets, per_op)]
            _run_geometry(kernel, prefix, bufs, obuf, sizes[1:], [st[1:] for st in per_op],
                          sub_offsets)
        return
    pad = 4 - len(sizes)
    shape4 = (1,) * pad + tuple(sizes)
    geoms = tuple((o,) + (0,) * pad + tuple(st) for o, st in zip(offsets, per_op))
    kernel(*prefix, *bufs, obuf, shape4, *geoms)


def _result(shape, dtype, out):
    return np.empty(shape, dtype) if out is None else out


def _unalias(x, out):
    """Copy input x when it overlaps ``out`` other than element-for-element (e.g. a broadcast
    row of out itself), so no element is read after it has been overwritten."""
    if out is None or not np.may_share_memory(x, out):
        return x
    if (x.shape == out.shape and x.strides == out.strides
            and x.__array_interface__["data"][0] == out.__array_interface__["data"][0]):
        return x
    return x.copy()


# --------------------------------------------------------------------------------------------
# public API (the contract's elementwise kernels)
# --------------------------------------------------------------------------------------------

def _check_unary(op, x):
    """Refuse bool arrays, and integer arrays for float-valued ops (exp, log...)."""
    if x.dtype == np.bool_ or (x.dtype.kind in "iu" and is_float_valued(op)):
        raise TypeError(f"unary {op!r} does not support dtype {x.dtype}")


@REGISTRY.kernel("unary")
def unary(op, x, out=None):
    """Return ``op(x)`` elementwise, ``op`` one of ``contract.UNARY_OPS``.

    x: float32/float64 array of any shape and strides (0-d included); int32/int64 for neg, abs,
    relu and sign. The result has x's dtype; ``out`` (x's shape and dtype, may be x itself for
    the in-place variants) receives it when given, else a new C-contiguous array is returned.
    NaN and inf follow torch (``relu(nan) = nan``, ``sign(nan) = 0``, ``log(-1) = nan``).
    """
    if out is None and x.dtype == np.float32 and x.flags.c_contiguous and 0 < x.size < PARALLEL_MIN:
        # the commonest call (a small float32 array), made as directly as possible
        res = np.empty(x.shape, np.float32)
        _UNARY_F32.get(op, _UNARY_KERNELS[op])(x.reshape(-1), res.reshape(-1))
        return res
    kernel = _UNARY_KERNELS[op]
    _check_unary(op, x)
    if x.dtype == np.float32:
        kernel = _UNARY_F32.get(op, kernel)
    res = _result(x.shape, x.dtype, out)
    if x.size == 0:
        return res
    src = x if x.flags.c_contiguous else np.ascontiguousarray(x)
    dst = res if res.flags.c_contiguous else np.empty(x.shape, x.dtype)
    _flat_call(kernel, _flat(src), dst.reshape(-1))
    if dst is not res:
        np.copyto(res, dst)
    return res


@REGISTRY.kernel("binary")
def binary(op, a, b, out=None):
    """Return ``op(a, b)`` elementwise with broadcasting, ``op`` one of ``contract.BINARY_OPS``.

    a and b have the same dtype (float32, float64, int32, int64 or bool; the ops layer promotes),
    broadcastable shapes and any strides (0-strides and 0-d included). Arithmetic ops return that
    dtype, comparisons return bool. ``div`` is true division on floats and floor division on
    integers; ``pow`` on integers is exact integer power; ``maximum``/``minimum`` propagate NaN.
    Integer results wrap around on overflow. ``bitwise_and/or/xor`` take bool and integer
    arrays only; ``hypot`` is meant for floats (integers get the result truncated). On bool,
    add/mul/maximum/minimum act as or/and/or/and. ``out`` (the broadcast shape and the result
    dtype; it may alias a or b element-for-element, as in ``a.add_(b)``) receives the result
    when given; otherwise a new C-contiguous array is returned.
    """
    code = ARITH_CODES.get(op)
    if (out is None and code is not None and a.dtype.kind == "f" and a.flags.c_contiguous
            and 0 < a.size < PARALLEL_MIN):
        # the commonest calls, made as directly as possible: float arithmetic on a small
        # contiguous array and an operand of the same shape, or a 0-d one (``x * 0.5``)
        if a.shape == b.shape and b.flags.c_contiguous:
            res = np.empty(a.shape, a.dtype)
            _arith_flat(code, a.reshape(-1), b.reshape(-1), res.reshape(-1))
            return res
        if b.ndim == 0:
            res = np.empty(a.shape, a.dtype)
            _arith_scalar_right(code, a.reshape(-1), b[()], res.reshape(-1))
            return res
    if op in BITWISE_CODES:
        res = _result(np.broadcast_shapes(a.shape, b.shape), a.dtype, out)
        # NumPy's ufuncs handle broadcasting and aliasing
        _BITWISE_UFUNCS[BITWISE_CODES[op]](a, b, out=res)
        return res
    if op in FLOAT_MATH_CODES:
        res = _result(np.broadcast_shapes(a.shape, b.shape), a.dtype, out)
        with np.errstate(all="ignore"):     # hypot(3e38, 3e38) is inf in float32, silently
            _FLOAT_MATH_UFUNCS[FLOAT_MATH_CODES[op]](a, b, out=res, casting="unsafe")
        return res
    if op in ARITH_CODES:
        code = ARITH_CODES[op]
        flat, strided = _arith_flat, _arith_strided
        dtype = a.dtype
    else:
        code = COMPARE_CODES[op]
        flat, strided = _compare_flat, _compare_strided
        dtype = np.bool_
    if a.shape == b.shape or b.ndim == 0:
        shape = a.shape
    elif a.ndim == 0:
        shape = b.shape
    else:
        shape = np.broadcast_shapes(a.shape, b.shape)
    res = _result(shape, dtype, out)
    if res.size == 0:
        return res
    if res.size == 1 and res.dtype.kind in "iu" and op in _NUMPY_INT_SCALAR:
        # one integer element (a counter such as BatchNorm's num_batches_tracked): NumPy's
        # ufunc gives the same wrapped result, and no integer kernel is compiled for it
        _NUMPY_INT_SCALAR[op](a.reshape(res.shape), b.reshape(res.shape), out=res)
        return res
    a, b = _unalias(a, out), _unalias(b, out)
    if not res.flags.c_contiguous:
        return _run_strided(strided, (code,), (a, b), res)
    if b.size == 1 and a.shape == shape and a.flags.c_contiguous and op in ARITH_CODES:
        # tensor <op> scalar, the commonest broadcast: the scalar travels as a NumPy scalar
        _flat_call(_arith_scalar_right, code, _flat(a), b.reshape(-1)[0], res.reshape(-1))
        return res
    if a.size == 1 and b.shape == shape and b.flags.c_contiguous and op in ARITH_CODES:
        _flat_call(_arith_scalar_left, code, a.reshape(-1)[0], _flat(b), res.reshape(-1))
        return res
    if (a.size == res.size and b.size == res.size and a.flags.c_contiguous
            and b.flags.c_contiguous):
        # same shapes, or shapes that differ by size-1 axes only ((1, 1000) + (1000,)): the
        # elements pair up in memory order
        _flat_call(flat, code, _flat(a), _flat(b), res.reshape(-1))
        return res
    if res.size <= SMALL_COPY:
        # small operands of other layouts (broadcast views, slices): copying them out costs
        # less than the strided kernels' set-up, and compiles nothing more
        a = np.ascontiguousarray(a if a.shape == shape else np.broadcast_to(a, shape))
        b = np.ascontiguousarray(b if b.shape == shape else np.broadcast_to(b, shape))
        _flat_call(flat, code, _flat(a), _flat(b), res.reshape(-1))
        return res
    return _run_strided(strided, (code,), (a, b), res)


@REGISTRY.kernel("where")
def where(cond, a, b):
    """Return ``a if cond else b`` elementwise with broadcasting (a new C-contiguous array).

    cond is bool; a and b share one dtype; all three broadcast together; any strides.
    """
    shape = np.broadcast_shapes(cond.shape, a.shape, b.shape)
    res = np.empty(shape, a.dtype)
    if res.size == 0:
        return res
    # a one-element operand (a wrapped number, as in where(out <= 0, 0.0, g)) is filled out to
    # the full shape: the flat kernel then runs instead of the strided one, 5x faster
    cond, a, b = (np.full(shape, x.reshape(-1)[0], x.dtype) if x.size == 1 and x.shape != shape
                  else x for x in (cond, a, b))
    if all(x.shape == shape and x.flags.c_contiguous for x in (cond, a, b)):
        _flat_call(_where_flat, _flat(cond), _flat(a), _flat(b), res.reshape(-1))
        return res
    return _run_strided(_where_strided, (), (cond, a, b), res)


def _clamp_bounds(x, lo, hi):
    """``lo`` and ``hi`` as scalars of x's dtype (None: no bound; integer bounds saturate)."""
    if x.dtype.kind == "f":
        return (x.dtype.type(-np.inf if lo is None else lo),
                x.dtype.type(np.inf if hi is None else hi))
    info = np.iinfo(x.dtype)
    return (x.dtype.type(info.min if lo is None else max(int(lo), info.min)),
            x.dtype.type(info.max if hi is None else min(int(hi), info.max)))


@REGISTRY.kernel("clamp")
def clamp(x, lo, hi, out=None):
    """Return x clipped to [lo, hi] elementwise; ``lo`` / ``hi`` are Python scalars or None.

    Computed as ``min(max(x, lo), hi)`` like torch (so lo > hi gives hi everywhere); NaN in x
    stays NaN, and a NaN bound gives NaN. Bounds are converted to x's dtype (for integer x, float
    bounds are truncated toward zero). ``out`` (x's shape and dtype, may be x) receives the
    result when given; otherwise a new C-contiguous array is returned.
    """
    lo, hi = _clamp_bounds(x, lo, hi)
    res = _result(x.shape, x.dtype, out)
    if x.size == 0:
        return res
    src = x if x.flags.c_contiguous else np.ascontiguousarray(x)
    dst = res if res.flags.c_contiguous else np.empty(x.shape, x.dtype)
    _flat_call(_clamp_flat, _flat(src), lo, hi, dst.reshape(-1))
    if dst is not res:
        np.copyto(res, dst)
    return res


# --------------------------------------------------------------------------------------------
# reference kernels: the textbook versions (see microtorch.backends.cpu.use_reference_kernels)
# --------------------------------------------------------------------------------------------
# Each one copies its inputs, broadcast to the result's shape, into C-contiguous arrays (NumPy
# data movement), then runs one plain loop ``out[i] = op(a[i], b[i])`` over every element with
# the same scalar ops as the fast kernels (:func:`_arith`, :func:`_compare`, :func:`_bitwise`,
# the one-loop-per-op unary kernels). What the fast kernels add -- threads, the strided and
# tensor-scalar layouts, the float32 ``expf`` -- is absent.

def _contiguous_as(x, shape):
    """x broadcast to ``shape``, as a flat C-contiguous array (a copy when needed)."""
    return np.ascontiguousarray(np.broadcast_to(x, shape)).reshape(-1)


def _stored(res, out):
    """``res`` written into ``out`` when given (returning out), else res."""
    if out is None:
        return res
    np.copyto(out, res)
    return out


@REGISTRY.reference("unary")
def unary_reference(op, x, out=None):
    """Textbook ``unary``: the op's plain loop over a C-contiguous copy of x."""
    _check_unary(op, x)
    res = np.empty(x.shape, x.dtype)
    _UNARY_KERNELS[op](_contiguous_as(x, x.shape), res.reshape(-1))
    return _stored(res, out)


@REGISTRY.reference("binary")
def binary_reference(op, a, b, out=None):
    """Textbook ``binary``: both inputs broadcast to the result's shape, then one plain loop."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = _contiguous_as(a, shape), _contiguous_as(b, shape)
    if op in ARITH_CODES:
        res = np.empty(shape, a.dtype)
        _arith_flat(ARITH_CODES[op], a, b, res.reshape(-1))
    elif op in COMPARE_CODES:
        res = np.empty(shape, np.bool_)
        _compare_flat(COMPARE_CODES[op], a, b, res.reshape(-1))
    elif op in FLOAT_MATH_CODES:
        res = np.empty(shape, a.dtype)
        _float_math_flat(FLOAT_MATH_CODES[op], a, b, res.reshape(-1))
    else:
        res = np.empty(shape, a.dtype)
        _bitwise_flat(BITWISE_CODES[op], a, b, res.reshape(-1))
    return _stored(res, out)


@REGISTRY.reference("where")
def where_reference(cond, a, b):
    """Textbook ``where``: the three inputs broadcast to one shape, then one plain loop."""
    shape = np.broadcast_shapes(cond.shape, a.shape, b.shape)
    res = np.empty(shape, a.dtype)
    _where_flat(_contiguous_as(cond, shape), _contiguous_as(a, shape), _contiguous_as(b, shape),
                res.reshape(-1))
    return res


@REGISTRY.reference("clamp")
def clamp_reference(x, lo, hi, out=None):
    """Textbook ``clamp``: the bounds in x's dtype, then one plain loop."""
    lo, hi = _clamp_bounds(x, lo, hi)
    res = np.empty(x.shape, x.dtype)
    _clamp_flat(_contiguous_as(x, x.shape), lo, hi, res.reshape(-1))
    return _stored(res, out)
