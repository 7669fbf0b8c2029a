"""CUDA reductions, matmul and indexing kernels against NumPy (tiny shapes: simulator-friendly)."""

import warnings

import numpy as np
import pytest

RNG = np.random.default_rng(11)
warnings.filterwarnings("ignore", category=RuntimeWarning)


def _rand(shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


_REDUCE = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}


@pytest.mark.parametrize("op", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("axes", [(0,), (1,), (2,), (0, 2), (1, 2), (0, 1, 2)])
def test_reduce_axes(K, op, axes):
    a = _rand((3, 4, 20))
    for keepdim in (False, True):
        got = K.to_numpy(K.reduce(op, K.from_numpy(a), axes, keepdim))
        ref = _REDUCE[op](a, axis=axes, keepdims=keepdim)
        assert got.shape == ref.shape and got.dtype == ref.dtype
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_reduce_long_rows_multi_block(K, SIM):
    n = 700 if SIM else 3_000_000
    a = _rand((n,))
    for op in ("sum", "max", "min"):
        got = K.to_numpy(K.reduce(op, K.from_numpy(a), (0,), False))
        np.testing.assert_allclose(got, _REDUCE[op](a.astype(np.float64)), rtol=1e-4, atol=1e-3)
    b = _rand((2, n // 2))
    got = K.to_numpy(K.reduce("sum", K.from_numpy(b), (1,), False))
    np.testing.assert_allclose(got, b.astype(np.float64).sum(1), rtol=1e-4, atol=1e-3)


def test_reduce_strided_int_bool_nan_empty(K):
    a = _rand((4, 6))
    d = K.from_numpy(a)
    t = K.permute(d, (1, 0))
    np.testing.assert_allclose(K.to_numpy(K.reduce("sum", t, (1,), False)), a.T.sum(1),
                               rtol=1e-5)
    i = np.array([[1, 2, 3], [4, 5, 6]])
    got = K.to_numpy(K.reduce("sum", K.from_numpy(i), (1,), False))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, [6, 15])
    np.testing.assert_array_equal(K.to_numpy(K.reduce("max", K.from_numpy(i), (0,), False)),
                                  [4, 5, 6])
    bo = np.array([[True, False, True], [True, True, True]])
    got = K.to_numpy(K.reduce("sum", K.from_numpy(bo), (0, 1), False))
    assert got.dtype == np.int64 and got == 5
    x = np.float32([1, np.nan, 3])
    assert np.isnan(K.to_numpy(K.reduce("max", K.from_numpy(x), (0,), False)))
    e = K.from_numpy(np.zeros((2, 0), np.float32))
    np.testing.assert_array_equal(K.to_numpy(K.reduce("sum", e, (1,), False)), [0, 0])
    np.testing.assert_array_equal(K.to_numpy(K.reduce("prod", e, (1,), True)), [[1], [1]])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_arg_reduce(K, op):
    a = _rand((3, 5, 4))
    for axis in range(3):
        for keepdim in (False, True):
            got = K.to_numpy(K.arg_reduce(op, K.from_numpy(a), axis, keepdim))
            ref = getattr(np, op)(a, axis=axis)
            if keepdim:
                ref = np.expand_dims(ref, axis)
            assert got.dtype == np.int64
            np.testing.assert_array_equal(got, ref)
    long = _rand((2, 90))                                 # block-per-row path
    long[1, 10] = long[1, 70] = 50                        # tie: first index wins
    long[0, 33] = np.nan
    got = K.to_numpy(K.arg_reduce(op, K.from_numpy(long), 1, False))
    np.testing.assert_array_equal(got, getattr(np, op)(long, axis=1))


@pytest.mark.parametrize("shapes", [((5, 7), (7, 3)), ((9, 4), (4, 10)), ((2, 3, 5), (5, 4)),
                                    ((2, 1, 3, 4), (3, 4, 2)), ((4,), (4, 3)), ((3, 4), (4,)),
                                    ((6,), (6,)), ((3, 0), (0, 2))])
def test_matmul(K, shapes):
    sa, sb = shapes
    a, b = _rand(sa), _rand(sb)
    got = K.to_numpy(K.matmul(K.from_numpy(a), K.from_numpy(b)))
    ref = a @ b
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_matmul_transposed_float64_and_large(K, SIM):
    a, b = _rand((6, 5), np.float64), _rand((7, 6), np.float64)
    da, db = K.from_numpy(a), K.from_numpy(b)
    got = K.to_numpy(K.matmul(K.permute(da, (1, 0)), K.permute(db, (1, 0))))
    np.testing.assert_allclose(got, a.T @ b.T, rtol=1e-12)
    if not SIM:
        a, b = _rand((300, 257)), _rand((257, 130))
        np.testing.assert_allclose(K.to_numpy(K.matmul(K.from_numpy(a), K.from_numpy(b))),
                                   a @ b, rtol=1e-4, atol=1e-4)


_INDICES = [
    (1,), (slice(None), 2), (Ellipsis, 1), (None, 1, slice(1, 4, 2)),
    (slice(None, None, -1),), (np.array([2, 0, 2]),), (slice(None), np.array([3, 3, 0])),
    (slice(None), 1, np.array([0, 4])), (np.array([0, 2]), slice(None), np.array([1, 4])),
    (np.array([[0, 1], [2, 2]]), Ellipsis, 3), (np.array([-1, 0]),),
]


@pytest.mark.parametrize("index", _INDICES + ["mask", "mask_rows"])
def test_getitem_setitem_index_add(K, index):
    a = _rand((3, 4, 5))
    if index == "mask":
        index = (a > 0.3,)
    elif index == "mask_rows":
        index = (1, a[0, :, 0] > 0)
    got = K.to_numpy(K.getitem(K.from_numpy(a), index))
    ref = a[index]
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    val = _rand(ref.shape)
    d = K.from_numpy(a)
    K.setitem(d, index, K.from_numpy(val))
    expect = a.copy()
    expect[index] = val
    if not any(isinstance(i, np.ndarray) and i.dtype != bool and len(set(i.ravel().tolist()))
               < i.size for i in index):       # repeated indices: any writer may win
        np.testing.assert_array_equal(K.to_numpy(d), expect)
    d = K.from_numpy(a)
    K.index_add(d, index, K.from_numpy(val))
    expect = a.copy()
    np.add.at(expect, index, val)
    np.testing.assert_allclose(K.to_numpy(d), expect, rtol=1e-6)


def test_getitem_basic_is_view_and_setitem_scalar(K):
    a = _rand((3, 4))
    d = K.from_numpy(a)
    v = K.getitem(d, (slice(1, 3), slice(None, None, 2)))
    K.setitem(v, (Ellipsis,), 0.0)
    a[1:3, ::2] = 0
    np.testing.assert_array_equal(K.to_numpy(d), a)
    K.setitem(d, (np.array([0, 2]),), 5.0)
    a[[0, 2]] = 5
    np.testing.assert_array_equal(K.to_numpy(d), a)


def test_gather_scatter_add(K):
    x = _rand((3, 4, 5))
    for dim in range(3):
        shape = list(x.shape)
        shape[dim] = 6
        idx = RNG.integers(0, x.shape[dim], shape)
        got = K.to_numpy(K.gather(K.from_numpy(x), dim, K.from_numpy(idx)))
        np.testing.assert_array_equal(got, np.take_along_axis(x, idx, dim))
        src = _rand(shape)
        out = np.zeros_like(x)
        d = K.from_numpy(out)
        K.scatter_add(d, dim, K.from_numpy(idx), K.from_numpy(src))
        expect = np.zeros_like(x)
        for pos in np.ndindex(*shape):
            target = list(pos)
            target[dim] = idx[pos]
            expect[tuple(target)] += src[pos]
        np.testing.assert_allclose(K.to_numpy(d), expect, rtol=1e-5, atol=1e-6)


def test_cat(K):
    a, b = _rand((2, 3)), _rand((2, 1))
    np.testing.assert_array_equal(K.to_numpy(K.cat([K.from_numpy(a), K.from_numpy(b)], 1)),
                                  np.concatenate([a, b], 1))
    np.testing.assert_array_equal(
        K.to_numpy(K.cat([K.from_numpy(a), K.from_numpy(np.zeros((0, 3), np.float32)),
                          K.permute(K.from_numpy(a.T.copy()), (1, 0))], 0)),
        np.concatenate([a, a], 0))
