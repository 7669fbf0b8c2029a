"""Tests of the CPU backend's reductions (``reduce`` and ``arg_reduce``) against NumPy.

Covers every subset of axes of a 3-D array (consecutive runs and split runs), keepdim, 0-d and
empty inputs, non-contiguous and read-only inputs, NaN propagation, the int64 result of integer
and bool sums, the accuracy of long float32 sums, and the threaded kernel on large inputs.
"""

import importlib
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# the package re-exports the function ``reduce``, which shadows the submodule attribute
red = importlib.import_module("microtorch.backends.cpu.reduce")
# entry points through the kernels module (MICROTORCH_KERNELS=reference checks the references)
K = importlib.import_module("microtorch.backends.cpu.kernels")

RNG = np.random.default_rng(11)
DTYPES = (np.float32, np.float64, np.int32, np.int64, np.bool_)
NP_OPS = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}


def _data(shape, dtype, op="sum"):
    if dtype == np.bool_:
        return RNG.integers(0, 2, size=shape).astype(bool)
    if np.dtype(dtype).kind == "i":
        low, high = (-3, 4) if op == "prod" else (-100, 100)
        return RNG.integers(low, high, size=shape).astype(dtype)
    x = RNG.standard_normal(shape)
    if op == "prod":
        x = 1 + 0.1 * x
    return x.astype(dtype)


def _ref(op, x, axes, keepdim):
    if op in ("sum", "prod") and x.dtype.kind in "biu":
        r = NP_OPS[op](x.astype(np.int64), axis=axes, keepdims=keepdim)
        return np.asarray(r, np.int64)
    r = NP_OPS[op](x.astype(np.float64) if x.dtype.kind == "f" else x, axis=axes,
                   keepdims=keepdim)
    return np.asarray(r).astype(x.dtype)


def _check(got, want):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape and got.flags.c_contiguous
    if got.dtype.kind == "f":
        tol = 2e-6 if got.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)
    else:
        np.testing.assert_array_equal(got, want)


ALL_AXES_3D = [axes for k in range(4) for axes in itertools.combinations(range(3), k)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(red.REDUCE_CODES))
def test_reduce_all_axis_subsets(op, dtype):
    x = _data((3, 4, 5), dtype, op)
    for axes in ALL_AXES_3D:
        for keepdim in (False, True):
            _check(K.reduce(op, x, axes, keepdim), _ref(op, x, axes, keepdim))
    xt = x.transpose(2, 0, 1)                        # non-contiguous input
    _check(K.reduce(op, xt, (0, 2), False), _ref(op, xt, (0, 2), False))
    xs = x[:, ::-2, 1:]                              # stepped and reversed
    _check(K.reduce(op, xs, (1,), True), _ref(op, xs, (1,), True))


@pytest.mark.parametrize("op", list(red.REDUCE_CODES))
def test_reduce_readonly_broadcast_input(op):
    x = np.broadcast_to(_data((1, 6), np.float32, op), (4, 6))
    _check(K.reduce(op, x, (0,), False), _ref(op, np.asarray(x), (0,), False))


def test_reduce_0d_and_identity():
    x = np.array(2.5, np.float32)
    got = K.reduce("sum", x, (), False)
    assert got.shape == () and got.dtype == np.float32 and got == 2.5
    y = _data((2, 3), np.int32)
    got = K.reduce("sum", y, (), True)            # empty axes: an identity copy
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, y)
    assert not np.shares_memory(got, y)


def test_reduce_empty():
    x = np.empty((0, 3), np.float32)
    np.testing.assert_array_equal(K.reduce("sum", x, (0,), False), np.zeros(3))
    np.testing.assert_array_equal(K.reduce("prod", x, (0, 1), False), 1.0)
    assert K.reduce("max", x, (1,), False).shape == (0,)    # non-empty reduced axis
    with pytest.raises(ValueError, match="size 0"):
        K.reduce("max", x, (0,), False)
    with pytest.raises(ValueError, match="size 0"):
        K.arg_reduce("argmin", x, 0, False)
    assert K.arg_reduce("argmax", x, 1, False).shape == (0,)


def test_sum_dtypes_like_torch():
    b = np.ones((300, 7), bool)
    got = K.reduce("sum", b, (0, 1), False)
    assert got.dtype == np.int64 and got == 2100
    i = np.full(5, 2 ** 30, np.int32)                # overflows int32, not int64
    assert K.reduce("sum", i, (0,), False) == 5 * 2 ** 30
    assert K.reduce("max", i, (0,), False).dtype == np.int32
    assert K.reduce("max", b, (0,), False).dtype == np.bool_


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_min_propagate_nan(dtype):
    x = np.array([[1.0, np.nan, 3.0], [5.0, 2.0, -np.inf], [np.nan, np.nan, 0.0]], dtype)
    for op in ("max", "min"):
        np.testing.assert_array_equal(np.isnan(K.reduce(op, x, (1,), False)),
                                      [True, False, True])
        np.testing.assert_array_equal(np.isnan(K.reduce(op, x, (0,), False)),
                                      [True, True, False])
        assert np.isnan(K.reduce(op, x, (0, 1), False))
    assert K.reduce("min", x, (0,), False)[2] == -np.inf
    assert np.isnan(K.reduce("sum", x, (0, 1), False))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.bool_])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_arg_reduce_matches_numpy(op, dtype):
    x = _data((4, 5, 6), dtype)
    if dtype == np.int32:
        x = (x // 40).astype(dtype)                  # many ties: first index wins
    for axis in range(3):
        for keepdim in (False, True):
            got = K.arg_reduce(op, x, axis, keepdim)
            want = getattr(np, op)(x, axis=axis, keepdims=keepdim)
            assert got.dtype == np.int64 and got.flags.c_contiguous
            np.testing.assert_array_equal(got, want)
    xt = x.transpose(1, 2, 0)
    np.testing.assert_array_equal(K.arg_reduce(op, xt, 2, False), getattr(np, op)(xt, axis=2))


def test_arg_reduce_nan_and_0d():
    x = np.array([[1.0, np.nan, 3.0, np.nan], [5.0, 2.0, 5.0, 1.0]], np.float32)
    np.testing.assert_array_equal(K.arg_reduce("argmax", x, 1, False), [1, 0])
    np.testing.assert_array_equal(K.arg_reduce("argmin", x, 1, False), [1, 3])
    np.testing.assert_array_equal(K.arg_reduce("argmax", x, 0, False), [1, 0, 1, 0])
    assert K.arg_reduce("argmax", np.arange(5.0)[None], 1, True).tolist() == [[4]]


def test_float32_sum_accuracy_like_pairwise():
    x = RNG.random(1_000_000).astype(np.float32)
    exact = np.sum(x.astype(np.float64))
    got = K.reduce("sum", x, (0,), False)
    assert got.dtype == np.float32
    assert abs(float(got) - exact) / exact < 1e-6
    y = (1.0 + 1e-3 * RNG.standard_normal((1000, 1000))).astype(np.float32)
    exact = y.astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(K.reduce("sum", y, (0,), False), exact, rtol=1e-6)
    exact = y.astype(np.float64).sum(axis=1)
    np.testing.assert_allclose(K.reduce("sum", y, (1,), False), exact, rtol=1e-6)


def test_reduce_large_threaded():
    n = red.PARALLEL_MIN + 4099
    x = RNG.standard_normal(n).astype(np.float32)
    exact = x.astype(np.float64).sum()
    assert abs(float(K.reduce("sum", x, (0,), False)) - exact) < 1e-6 * np.abs(x).sum()
    x[n // 3] = np.nan
    assert np.isnan(K.reduce("max", x, (0,), False))
    m = x.reshape(-1, 7)[:, :5] if n % 7 == 0 else x[: n - n % 8].reshape(-1, 8)
    for op in ("sum", "min"):
        _check(K.reduce(op, m, (1,), False), _ref(op, m, (1,), False))
        _check(K.reduce(op, m, (0,), True), _ref(op, m, (0,), True))


@settings(max_examples=60, deadline=None)
@given(data=st.data(),
       x=hnp.arrays(st.sampled_from([np.float64, np.int64]),
                    hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5),
                    elements=st.integers(-50, 50)),
       op=st.sampled_from(["sum", "max", "min"]))
def test_reduce_hypothesis(data, x, op):
    axes = tuple(sorted(data.draw(st.sets(st.integers(0, x.ndim - 1)))))
    keepdim = data.draw(st.booleans())
    _check(K.reduce(op, x, axes, keepdim), _ref(op, x, axes, keepdim))
