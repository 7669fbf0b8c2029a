"""Tests of the CPU backend's elementwise kernels (``unary``, ``binary``, ``where``, ``clamp``).

Every result is compared with NumPy over shapes that exercise each kernel path: contiguous
(flat kernels), tensor-scalar (scalar kernels), broadcasting, transposed / stepped / reversed
views and read-only ``np.broadcast_to`` inputs (strided kernel, or a copy for small ones), more
than four non-mergeable dimensions (the Python split), 0-d and empty arrays, and ``out=``
aliasing an input. Large inputs take the threaded kernels.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from microtorch.backends import contract
from microtorch.backends.cpu import elementwise as ew
# the contract's entry points go through the kernels module, so that a run with
# MICROTORCH_KERNELS=reference checks the reference kernels on the same cases
from microtorch.backends.cpu import kernels as K

RNG = np.random.default_rng(7)
FLOATS = (np.float32, np.float64)
INTS = (np.int32, np.int64)
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 100.0,
                    -110.0, 0.5, -0.5, 3.0])


def _floats(shape, dtype, special=True):
    x = RNG.standard_normal(shape) * 3
    if special and x.size:
        flat = x.reshape(-1)
        k = min(flat.size, SPECIAL.size)
        flat[RNG.choice(flat.size, k, replace=False)] = SPECIAL[:k]
    return x.astype(dtype)


def _ints(shape, dtype, low=-50, high=50):
    return RNG.integers(low, high, size=shape).astype(dtype)


def _views(x):
    """x and non-contiguous views with the same values pattern: transposed, stepped, reversed."""
    yield x
    if x.ndim >= 2:
        yield np.ascontiguousarray(x.T).T           # F-ordered
    if x.ndim >= 1 and x.shape[-1] > 1:
        big = np.repeat(x, 2, axis=-1)
        yield big[..., ::2]                           # stepped
        yield np.ascontiguousarray(x[..., ::-1])[..., ::-1]   # negative stride


# ------------------------------------------------------------------------------------------
# unary
# ------------------------------------------------------------------------------------------

def _unary_ref(op, x):
    with np.errstate(all="ignore"):
        xd = x.astype(np.float64) if x.dtype.kind == "f" else x
        if op == "neg":
            r = -xd
        elif op == "abs":
            r = np.abs(xd)
        elif op == "rsqrt":
            r = 1.0 / np.sqrt(xd)
        elif op == "sigmoid":
            r = 1.0 / (1.0 + np.exp(-xd))
        elif op == "relu":
            r = np.where(xd > 0, xd, np.where(np.isnan(xd) if xd.dtype.kind == "f" else False,
                                              xd, 0)).astype(xd.dtype)
        elif op == "reciprocal":
            r = 1.0 / xd
        elif op == "erf":  # NumPy has no erf
            r = np.asarray(np.frompyfunc(math.erf, 1, 1)(xd), dtype=np.float64)
        elif op == "sign":  # PyTorch's sign(nan) is 0, NumPy's nan
            r = np.sign(xd)
            r = np.where(np.isnan(r), 0, r) if r.dtype.kind == "f" else r
        else:
            r = getattr(np, op)(xd)
    with np.errstate(over="ignore"):
        return r.astype(x.dtype)


def _assert_close(got, want, dtype):
    assert got.dtype == np.dtype(dtype)
    if np.dtype(dtype).kind == "f":
        # float32 transcendental results are within a few ulp of the correctly rounded value
        rtol = 4e-7 if dtype == np.float32 else 1e-14
        np.testing.assert_allclose(got, want, rtol=rtol, atol=np.finfo(dtype).tiny * 4)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", list(contract.UNARY_OPS))
def test_unary_float_matches_numpy(op, dtype):
    for shape in [(), (0,), (1,), (17,), (3, 5), (2, 3, 4)]:
        base = _floats(shape, dtype)
        if op in ("sin", "cos"):
            base = np.nan_to_num(base, posinf=5, neginf=-5).clip(-50, 50).astype(dtype)
        for x in _views(base):
            got = K.unary(op, x)
            assert got.flags.c_contiguous and got.shape == x.shape
            _assert_close(got, _unary_ref(op, x), dtype)


def test_exp_float32_whole_range_within_two_ulp():
    x = np.concatenate([np.linspace(-104, 89, 200001, dtype=np.float32),
                        np.array([np.nan, np.inf, -np.inf, -87.4, -103.9, 88.72], np.float32)])
    got = K.unary("exp", x)
    want = np.exp(x.astype(np.float64))
    tiny32, max32 = np.finfo(np.float32).tiny, np.finfo(np.float32).max
    normal = (want >= tiny32) & (want <= max32)
    ulp = np.spacing(want[normal].astype(np.float32)).astype(np.float64)
    assert (np.abs(got[normal] - want[normal]) / ulp).max() <= 2.0
    denormal = want < tiny32                      # absolute error of at most one denormal ulp
    assert np.all(np.abs(got[denormal] - want[denormal]) <= 1.5e-45)
    assert np.isinf(got[x == np.float32(89)]).all() and got[-5] == np.inf and got[-4] == 0
    assert np.isnan(got[-6])


@pytest.mark.parametrize("op", ["tanh", "sigmoid"])
def test_tanh_sigmoid_float32_accuracy(op):
    x = np.linspace(-30, 30, 100001, dtype=np.float32)
    got = K.unary(op, x).astype(np.float64)
    want = _unary_ref(op, x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=5e-7, atol=1e-7 if op == "tanh" else 1e-30)


@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("op", ["neg", "abs", "relu", "sign"])
def test_unary_int(op, dtype):
    for shape in [(), (0,), (9,), (4, 6)]:
        for x in _views(_ints(shape, dtype)):
            _assert_close(K.unary(op, x), _unary_ref(op, x), dtype)


def test_unary_rejects_bool_and_int_transcendentals():
    with pytest.raises(TypeError):
        K.unary("neg", np.ones(3, bool))
    with pytest.raises(TypeError):
        K.unary("exp", np.ones(3, np.int64))


def test_unary_out_and_inplace():
    x = _floats((4, 5), np.float32)
    want = _unary_ref("exp", x)
    out = np.empty_like(x)
    assert K.unary("exp", x, out=out) is out
    _assert_close(out, want, np.float32)
    assert K.unary("exp", x, out=x) is x                     # in place
    _assert_close(x, want, np.float32)
    y = _floats((5, 4), np.float64)
    out_t = np.empty((4, 5), np.float64).T                    # non-contiguous out
    K.unary("neg", y, out=out_t)
    np.testing.assert_array_equal(out_t, -y)


def test_unary_large_threaded():
    x = _floats((ew.PARALLEL_MIN + 1001,), np.float32)
    for op in ("exp", "neg", "tanh"):
        _assert_close(K.unary(op, x), _unary_ref(op, x), np.float32)


# ------------------------------------------------------------------------------------------
# binary
# ------------------------------------------------------------------------------------------

ARITH = list(ew.ARITH_CODES)
COMPARE = list(ew.COMPARE_CODES)

SHAPE_PAIRS = [
    ((), ()), ((5,), ()), ((), (5,)), ((7,), (7,)), ((3, 4), (4,)), ((3, 4), (3, 1)),
    ((3, 1), (1, 4)), ((2, 1, 3), (4, 1)), ((0,), (0,)), ((0, 3), (3,)), ((1,), (6,)),
    ((2, 3, 2, 3, 2, 3), (3, 1, 3, 1, 3)),            # > 4 dims that cannot merge
]


def _binary_ref(op, a, b):
    with np.errstate(all="ignore"):
        if op == "div":
            r = np.true_divide(a, b) if a.dtype.kind == "f" else np.floor_divide(a, b)
        elif op == "pow":
            r = np.power(a, b)
        elif op in ("maximum", "minimum"):
            r = getattr(np, op)(a, b)
        else:
            name = {"add": "add", "sub": "subtract", "mul": "multiply", "eq": "equal",
                    "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater",
                    "ge": "greater_equal", "bitwise_and": "bitwise_and",
                    "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor"}[op]
            r = getattr(np, name)(a, b)
    return r


def _operands(op, shape, dtype):
    if np.dtype(dtype).kind == "f":
        x = _floats(shape, dtype)
        if op == "pow":
            x = np.abs(np.nan_to_num(x, posinf=3, neginf=-3)).clip(0, 4).astype(dtype)
        return x
    if dtype == np.bool_:
        return RNG.integers(0, 2, size=shape).astype(bool)
    if op == "pow":
        return _ints(shape, dtype, 0, 6)
    return _ints(shape, dtype)


@pytest.fixture(params=["strided", "copied"])
def small_layouts(request, monkeypatch):
    """Small operands of other layouts take the strided kernels, or are copied to contiguous
    first (the default below ``SMALL_COPY`` elements): test both."""
    if request.param == "strided":
        monkeypatch.setattr(ew, "SMALL_COPY", 0)
    return request.param


@pytest.mark.parametrize("dtype", FLOATS + INTS)
@pytest.mark.parametrize("op", ARITH + COMPARE)
def test_binary_matches_numpy(op, dtype, small_layouts):
    if op.startswith("bitwise") and np.dtype(dtype).kind == "f":
        pytest.skip("bitwise ops take bool and integer arrays only")
    # int32 shares every code path with int64; it skips the strided cases to save compile time
    pairs = SHAPE_PAIRS if dtype != np.int32 else [((7,), (7,)), ((5,), ()), ((), (5,))]
    for sa, sb in pairs:
        a, b = _operands(op, sa, dtype), _operands(op, sb, dtype)
        if op == "div" and np.dtype(dtype).kind == "i":
            b[b == 0] = 3
        want = _binary_ref(op, a, b)
        if dtype == np.int32:
            _assert_close(K.binary(op, a, b), want, want.dtype)
            continue
        for av in _views(a):
            got = K.binary(op, av, b)
            assert got.shape == want.shape and got.flags.c_contiguous
            _assert_close(got, want.astype(got.dtype), want.dtype)
        for bv in _views(b):
            _assert_close(K.binary(op, a, bv), want, want.dtype)


@pytest.mark.parametrize("op", ["add", "mul", "maximum", "minimum", "eq", "ne", "gt"])
def test_binary_bool(op):
    a = RNG.integers(0, 2, size=(4, 5)).astype(bool)
    b = RNG.integers(0, 2, size=(5,)).astype(bool)
    ref = {"add": np.logical_or, "mul": np.logical_and, "maximum": np.logical_or,
           "minimum": np.logical_and}.get(op)
    want = ref(a, b) if ref else _binary_ref(op, a, b)
    got = K.binary(op, a, b)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, want)


def test_binary_float32_stays_float32_and_div_by_zero():
    a = np.array([1.0, -1.0, 0.0, 2.0], np.float32)
    b = np.zeros(4, np.float32)
    got = K.binary("div", a, b)
    assert got.dtype == np.float32
    assert got[0] == np.inf and got[1] == -np.inf and np.isnan(got[2])
    s = K.binary("mul", a, np.array(0.1, np.float32))
    assert s.dtype == np.float32
    np.testing.assert_array_equal(s, a * np.float32(0.1))
    z = K.binary("div", np.array([7, -7], np.int64), np.array([0, 2], np.int64))
    np.testing.assert_array_equal(z, [0, -4])                  # floor division, x // 0 == 0


def test_integer_pow_exact_and_negative_exponents():
    a = np.array([3, -2, 1, -1, 5, 0], np.int64)
    b = np.array([39, 5, -3, -3, -1, 0], np.int64)
    np.testing.assert_array_equal(K.binary("pow", a, b), [3 ** 39, -32, 1, -1, 0, 1])


def test_maximum_minimum_propagate_nan():
    a = np.array([np.nan, 1.0, np.nan, -np.inf], np.float32)
    b = np.array([1.0, np.nan, np.nan, 2.0], np.float32)
    for op in ("maximum", "minimum"):
        got = K.binary(op, a, b)
        np.testing.assert_array_equal(np.isnan(got), [True, True, True, False])
    assert K.binary("maximum", a, b)[3] == 2.0


def test_binary_readonly_broadcast_to_inputs():
    a = np.broadcast_to(np.arange(4, dtype=np.float32), (3, 4))
    b = np.broadcast_to(np.float32(2), (3, 4))
    assert not a.flags.writeable
    np.testing.assert_array_equal(K.binary("mul", a, b), np.asarray(a) * 2)
    np.testing.assert_array_equal(K.binary("add", np.ones((3, 4), np.float32), a),
                                  np.asarray(a) + 1)


def test_binary_out_aliasing():
    a = _floats((6, 5), np.float32, special=False)
    b = _floats((5,), np.float32, special=False)
    want = a + b
    assert K.binary("add", a, b, out=a) is a                    # a.add_(b)
    np.testing.assert_array_equal(a, want)
    c = _floats((6, 5), np.float32, special=False)
    d = _floats((6, 5), np.float32, special=False)
    want = c * d
    K.binary("mul", c, d, out=d)                                # out is b
    np.testing.assert_array_equal(d, want)
    e = _floats((6, 5), np.float32, special=False)
    want = e - e[1]                                              # b overlaps a row of out
    K.binary("sub", e, e[1], out=e)
    np.testing.assert_array_equal(e, want)
    f = _floats((4, 4), np.float64, special=False)
    want = f + f.T                                               # b is out transposed
    K.binary("add", f, f.T, out=f)
    np.testing.assert_array_equal(f, want)
    g = _floats((4, 6), np.float32, special=False)
    out = np.zeros((6, 4), np.float32).T                         # non-contiguous out
    K.binary("add", g, np.float32(1) + np.zeros((), np.float32), out=out)
    np.testing.assert_array_equal(out, g + 1)
    cmp_out = np.empty((4, 6), bool)
    assert K.binary("gt", g, np.zeros(6, np.float32), out=cmp_out) is cmp_out
    np.testing.assert_array_equal(cmp_out, g > 0)


def test_binary_large_threaded():
    n = ew.PARALLEL_MIN + 777
    a, b = _floats((n,), np.float32), _floats((n,), np.float32)
    for op in ("add", "mul", "gt"):
        np.testing.assert_array_equal(K.binary(op, a, b), _binary_ref(op, a, b))
    big = _floats((300, 400), np.float32)
    np.testing.assert_array_equal(K.binary("add", big, b[:400]), big + b[:400])


@settings(max_examples=60, deadline=None)
@given(data=st.data(),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=5,
                                                max_side=4),
       op=st.sampled_from(["add", "sub", "mul", "maximum", "lt"]),
       dtype=st.sampled_from([np.float32, np.float64, np.int64]))
def test_binary_hypothesis_broadcasting(data, shapes, op, dtype):
    sa, sb = shapes.input_shapes
    a = data.draw(hnp.arrays(dtype, sa, elements=st.integers(-100, 100)))
    b = data.draw(hnp.arrays(dtype, sb, elements=st.integers(-100, 100)))
    if a.ndim and data.draw(st.booleans()):
        a = np.ascontiguousarray(a[..., ::-1])[..., ::-1]
    if b.ndim >= 2 and data.draw(st.booleans()):
        b = np.ascontiguousarray(b.T).T
    np.testing.assert_array_equal(K.binary(op, a, b), _binary_ref(op, a, b))


# ------------------------------------------------------------------------------------------
# where and clamp
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_where(dtype):
    for sc, sa, sb in [((), (), ()), ((5,), (5,), (5,)), ((3, 4), (4,), ()),
                       ((3, 1), (1, 4), (3, 4)), ((0, 2), (2,), (2,))]:
        cond = RNG.integers(0, 2, size=sc).astype(bool)
        a = (RNG.standard_normal(sa) * 10).astype(dtype)
        b = (RNG.standard_normal(sb) * 10).astype(dtype)
        want = np.where(cond, a, b)
        got = K.where(cond, a, b)
        assert got.dtype == np.dtype(dtype) and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)
        if cond.ndim:
            np.testing.assert_array_equal(K.where(cond[..., ::-1], a, b),
                                          np.where(cond[..., ::-1], a, b))


@pytest.mark.parametrize("dtype", FLOATS)
def test_clamp_float(dtype):
    x = _floats((5, 7), dtype)
    for lo, hi in [(-1.0, 1.0), (None, 0.5), (-0.5, None), (None, None), (2.0, -2.0)]:
        want = x
        if lo is not None:
            want = np.where(want < lo, lo, want)
        if hi is not None:
            want = np.where(want > hi, hi, want)
        got = K.clamp(x, lo, hi)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, want.astype(dtype))
        np.testing.assert_array_equal(K.clamp(x.T, lo, hi), want.T.astype(dtype))
    assert np.isnan(K.clamp(np.array([np.nan], dtype), -1.0, 1.0)).all()   # NaN stays NaN
    assert np.isnan(K.clamp(np.array([0.0], dtype), float("nan"), 1.0)).all()


def test_clamp_int_and_out():
    x = np.arange(-5, 5, dtype=np.int64)
    np.testing.assert_array_equal(K.clamp(x, -2, 3), np.clip(x, -2, 3))
    np.testing.assert_array_equal(K.clamp(x.astype(np.int32), None, 0), np.minimum(x, 0))
    y = np.linspace(-2, 2, 9, dtype=np.float32)
    assert K.clamp(y, 0.0, 1.0, out=y) is y
    np.testing.assert_array_equal(y, np.clip(np.linspace(-2, 2, 9, dtype=np.float32), 0, 1))
    assert K.clamp(np.empty((0, 3), np.float32), 0.0, 1.0).shape == (0, 3)
