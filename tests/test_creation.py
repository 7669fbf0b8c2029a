"""Tensor creation: tensor/as_tensor/from_numpy, factories, dtype inference, random."""

import numpy as np
import pytest

import microtorch as mt


@pytest.mark.parametrize("data,dtype", [
    ([1, 2], mt.int64), ([1.0, 2], mt.float32), ([True, False], mt.bool), (3, mt.int64),
    (3.0, mt.float32), (True, mt.bool), ([[1], [2]], mt.int64), ([], mt.float32),
    (np.array([1, 2], dtype=np.int32), mt.int32), (np.array([1.0]), mt.float64),
    (np.array([1.0], dtype=np.float32), mt.float32), (np.float64(2.0), mt.float64),
])
def test_tensor_dtype_inference(data, dtype):
    assert mt.tensor(data).dtype is dtype


def test_tensor_copies_and_keeps_values():
    a = np.arange(6.0).reshape(2, 3)
    t = mt.tensor(a)
    a[0, 0] = 100
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert mt.tensor(t).tolist() == t.tolist()
    assert mt.tensor([mt.tensor(1.0), mt.tensor(2.0)]).tolist() == [1.0, 2.0]
    assert mt.tensor([[1, 2]], dtype=mt.float64).dtype is mt.float64


def test_from_numpy_and_as_tensor_share_memory():
    a = np.zeros(3, dtype=np.float32)
    t = mt.from_numpy(a)
    a[1] = 5
    assert t.tolist() == [0.0, 5.0, 0.0]
    t2 = mt.as_tensor(a)
    t2[0] = 7
    assert a[0] == 7
    assert mt.as_tensor(t) is t
    assert mt.as_tensor([1, 2]).dtype is mt.int64


def test_from_numpy_rejects_unsupported():
    with pytest.raises(TypeError, match="expected np.ndarray"):
        mt.from_numpy([1, 2])
    with pytest.raises(TypeError, match="can't convert np.ndarray of type numpy.complex128"):
        mt.from_numpy(np.zeros(2, dtype=np.complex128))


def test_ragged_and_bad_data():
    with pytest.raises(ValueError, match="expected sequence of length 2 at dim 1"):
        mt.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="Could not infer dtype of"):
        mt.tensor(object())


@pytest.mark.parametrize("factory,value", [(mt.zeros, 0.0), (mt.ones, 1.0)])
def test_zeros_ones(factory, value):
    for args in ((2, 3), ((2, 3),), ([2, 3],)):
        t = factory(*args)
        assert t.shape == (2, 3) and t.dtype is mt.float32
        assert t.tolist() == [[value] * 3] * 2
    assert factory(()).shape == () and factory(0).shape == (0,)
    t = factory(2, dtype=mt.int64, requires_grad=False)
    assert t.dtype is mt.int64
    assert factory(2, requires_grad=True).requires_grad


def test_full_and_like_factories():
    assert mt.full((2,), 3).dtype is mt.int64
    assert mt.full((2,), 3.5).tolist() == [3.5, 3.5]
    assert mt.full((2,), True).dtype is mt.bool
    x = mt.ones(2, 3, dtype=mt.float64)
    for f in (mt.zeros_like, mt.ones_like, mt.empty_like, mt.rand_like, mt.randn_like):
        y = f(x)
        assert y.shape == (2, 3) and y.dtype is mt.float64
    assert mt.full_like(x, 7).tolist() == [[7.0] * 3] * 2
    assert x.new_zeros(4).dtype is mt.float64 and x.new_ones((1, 2)).shape == (1, 2)
    assert x.new_tensor([1, 2]).dtype is mt.float64
    assert x.new_full((2,), 5).tolist() == [5.0, 5.0]


def test_arange_linspace_eye():
    assert mt.arange(5).tolist() == [0, 1, 2, 3, 4] and mt.arange(5).dtype is mt.int64
    assert mt.arange(1, 2, 0.25).tolist() == [1.0, 1.25, 1.5, 1.75]
    assert mt.arange(1, 2, 0.25).dtype is mt.float32
    assert mt.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert mt.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    np.testing.assert_allclose(mt.logspace(0, 2, 3).numpy(), [1.0, 10.0, 100.0])
    assert mt.eye(2, 3).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        mt.arange(0, 1, 0)
    with pytest.raises(RuntimeError, match="upper bound and lower bound inconsistent"):
        mt.arange(0, 5, -1)


def test_scalar_tensor_numel_is_tensor():
    assert mt.scalar_tensor(3).dtype is mt.float32 and mt.scalar_tensor(3).shape == ()
    assert mt.numel(mt.ones(2, 3)) == 6
    assert mt.is_tensor(mt.ones(1)) and not mt.is_tensor(1)


def test_random_is_seeded_and_shaped():
    mt.manual_seed(0)
    a = mt.rand(3, 4)
    mt.manual_seed(0)
    b = mt.rand(3, 4)
    assert a.tolist() == b.tolist() and a.dtype is mt.float32
    assert ((a >= 0) & (a < 1)).all()
    assert mt.randn(2, 3, dtype=mt.float64).dtype is mt.float64
    r = mt.randint(0, 5, (100,))
    assert r.dtype is mt.int64 and r.min().item() >= 0 and r.max().item() < 5
    assert sorted(mt.randperm(6).tolist()) == list(range(6))
    g = mt.Generator().manual_seed(3)
    assert mt.rand(2, generator=g).tolist() == mt.rand(
        2, generator=mt.Generator().manual_seed(3)).tolist()
    assert mt.rand(2, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError):
        mt.rand(2, dtype=mt.int64)
