"""``sort``, ``argsort`` and ``topk`` (microtorch/ops/sorting.py): values, indices, NaN order,
gradients (finite differences in float64 and PyTorch's), reprs, grad_fn names, errors, and the
CPU reference kernel against the fast one. The CUDA kernel: tests/cuda/test_sorting.py."""

import numpy as np
import pytest

import microtorch as mt
from microtorch.autograd import gradcheck
from microtorch.backends import cpu as cpu_backend

torch = pytest.importorskip("torch")

NAN = float("nan")


def _data(shape, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    if ties:
        return rng.integers(0, 3, shape).astype(np.float64)
    return rng.standard_normal(shape)


def _both(a, dtype="float32", requires_grad=False):
    m = mt.tensor(a.astype(dtype), requires_grad=requires_grad)
    t = torch.tensor(a.astype(dtype), requires_grad=requires_grad)
    return m, t


SHAPES_DIMS = [((7,), 0), ((7,), -1), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), 1), ((2, 1, 4), 1)]


# ---- sort and argsort --------------------------------------------------------------------

@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("descending", [False, True])
def test_sort_matches_torch(shape, dim, descending):
    m, t = _both(_data(shape, seed=len(shape)))
    mv, mi = mt.sort(m, dim, descending)
    tv, ti = torch.sort(t, dim, descending)
    np.testing.assert_array_equal(mv.numpy(), tv.numpy())
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())      # no ties: the order is unique
    assert mi.dtype == mt.int64


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
def test_stable_sort_with_ties_matches_torch_indices(descending, dtype):
    a = _data((4, 9), seed=3, ties=True)
    m, t = _both(a, dtype)
    mv, mi = m.sort(dim=1, descending=descending, stable=True)
    tv, ti = t.sort(dim=1, descending=descending, stable=True)
    np.testing.assert_array_equal(mv.numpy(), tv.numpy())
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())
    # unstable sort: any order of ties, but the values and the gather of the indices agree
    mv2, mi2 = mt.sort(m, 1, descending=descending)
    np.testing.assert_array_equal(mv2.numpy(), tv.numpy())
    np.testing.assert_array_equal(m.gather(1, mi2).numpy(), mv2.numpy())


@pytest.mark.parametrize("descending", [False, True])
def test_nan_is_the_largest_value(descending):
    a = np.array([[1.0, NAN, -2.0, NAN, 3.0, float("inf"), -float("inf")]])
    m, t = _both(a)
    mv, mi = mt.sort(m, descending=descending, stable=True)
    tv, ti = torch.sort(t, descending=descending, stable=True)
    np.testing.assert_array_equal(mv.numpy(), tv.numpy())      # NaN == NaN for this assert
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())


def test_bool_sort_and_argsort():
    a = np.array([True, False, True, False])
    m, t = mt.tensor(a), torch.tensor(a)
    assert mt.sort(m, stable=True).values.tolist() == torch.sort(t, stable=True).values.tolist()
    assert mt.sort(m, stable=True).indices.tolist() == torch.sort(t, stable=True).indices.tolist()
    assert m.argsort(descending=True, stable=True).tolist() == \
        t.argsort(descending=True, stable=True).tolist()


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_argsort_matches_torch(shape, dim):
    m, t = _both(_data(shape, seed=5))
    np.testing.assert_array_equal(mt.argsort(m, dim).numpy(), torch.argsort(t, dim).numpy())
    np.testing.assert_array_equal(m.argsort(dim, descending=True).numpy(),
                                  t.argsort(dim, descending=True).numpy())


def test_sort_of_0d_and_empty():
    for m, t in (_both(np.array(2.5)), _both(np.zeros((2, 0))), _both(np.zeros((0, 3)))):
        mv, mi = mt.sort(m)
        tv, ti = torch.sort(t)
        assert tuple(mv.shape) == tuple(tv.shape) and tuple(mi.shape) == tuple(ti.shape)
        assert mi.dtype == mt.int64
        assert repr(mt.sort(m)) == repr(torch.sort(t))


def test_sort_repr_and_grad_fn():
    a = np.array([[3.0, 1.0, 2.0], [NAN, 0.0, 5.0]])
    m, t = _both(a, requires_grad=True)
    assert repr(mt.sort(m, descending=True)) == repr(torch.sort(t, descending=True))
    assert repr(mt.sort(m)) == repr(torch.sort(t))
    assert mt.sort(m).values.grad_fn.name() == "SortBackward0"
    assert not mt.sort(m).indices.requires_grad
    assert isinstance(mt.sort(m), mt.return_types.sort)


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("descending", [False, True])
def test_sort_gradcheck(shape, dim, descending):
    x = mt.tensor(_data(shape, seed=7), requires_grad=True)
    assert gradcheck(lambda x: mt.sort(x, dim, descending).values, (x,))


def test_sort_gradient_matches_torch():
    a = _data((3, 5), seed=11)
    g = _data((3, 5), seed=12)
    m, t = _both(a, requires_grad=True)
    mt.sort(m, 0, descending=True).values.backward(mt.tensor(g.astype("float32")))
    torch.sort(t, 0, descending=True).values.backward(torch.tensor(g.astype("float32")))
    np.testing.assert_array_equal(m.grad.numpy(), t.grad.numpy())


def test_sort_dim_out_of_range():
    m, t = _both(_data((2, 3)))
    with pytest.raises(IndexError) as me:
        mt.sort(m, 2)
    with pytest.raises(IndexError) as te:
        torch.sort(t, 2)
    assert str(me.value) == str(te.value)


# ---- topk --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [0, 1, 2])
def test_topk_matches_torch(shape, dim, largest, k):
    k = min(k, shape[dim])
    m, t = _both(_data(shape, seed=13))
    mv, mi = mt.topk(m, k, dim, largest)
    tv, ti = torch.topk(t, k, dim, largest)
    np.testing.assert_array_equal(mv.numpy(), tv.numpy())
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())


def test_topk_unsorted_gives_the_same_set():
    m, t = _both(_data((4, 10), seed=17))
    mv, mi = m.topk(3, sorted=False)
    tv, _ = t.topk(3, sorted=False)
    np.testing.assert_array_equal(np.sort(mv.numpy(), 1), np.sort(tv.numpy(), 1))
    np.testing.assert_array_equal(m.gather(1, mi).numpy(), mv.numpy())


def test_topk_with_ties_and_nan():
    a = np.array([[1.0, 3.0, 3.0, NAN, 0.0, 3.0]])
    m, t = _both(a)
    for largest in (True, False):
        mv, mi = mt.topk(m, 4, largest=largest)
        tv, _ = torch.topk(t, 4, largest=largest)
        np.testing.assert_array_equal(mv.numpy(), tv.numpy())
        np.testing.assert_array_equal(m.gather(1, mi).numpy(), mv.numpy())


def test_topk_repr_grad_fn_and_named_tuple():
    a = np.array([[3.0, 1.0, 2.0], [NAN, 0.0, 5.0]])
    m, t = _both(a, requires_grad=True)
    assert repr(mt.topk(m, 2)) == repr(torch.topk(t, 2))
    r = mt.topk(m, 2, largest=False)
    assert r.values.grad_fn.name() == "TopkBackward0"
    assert isinstance(r, mt.return_types.topk) and r.indices is r[1]
    assert repr(mt.topk(mt.tensor(3.0), 1)) == repr(torch.topk(torch.tensor(3.0), 1))
    assert repr(mt.topk(mt.tensor([1, 3, 2]), 2)) == repr(torch.topk(torch.tensor([1, 3, 2]), 2))
    assert repr(mt.topk(mt.zeros(2, 0), 0)) == repr(torch.topk(torch.zeros(2, 0), 0))


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("largest", [True, False])
def test_topk_gradcheck(shape, dim, largest):
    x = mt.tensor(_data(shape, seed=19), requires_grad=True)
    assert gradcheck(lambda x: mt.topk(x, 1 if shape[dim] == 1 else 2, dim, largest).values,
                     (x,))


def test_topk_gradient_matches_torch_and_double_backward():
    a = _data((3, 6), seed=23)
    m, t = _both(a, "float64", requires_grad=True)
    (mt.topk(m, 3).values ** 2).sum().backward()
    (torch.topk(t, 3).values ** 2).sum().backward()
    np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy())
    x = mt.tensor(a, requires_grad=True)
    (gx,) = mt.autograd.grad((mt.topk(x, 3).values ** 3).sum(), x, create_graph=True)
    gx.sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    (gt,) = torch.autograd.grad((torch.topk(xt, 3).values ** 3).sum(), xt, create_graph=True)
    gt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("k", [4, -1])
def test_topk_k_out_of_range(k):
    """Issue 11 point 4: topk with k larger than the dim."""
    m, t = _both(_data((2, 3)))
    with pytest.raises(RuntimeError) as te:
        torch.topk(t, k)
    with pytest.raises(RuntimeError) as me:
        mt.topk(m, k)
    assert str(me.value) == str(te.value) == "selected index k out of range"


def test_bindings():
    m = mt.tensor([2.0, 1.0])
    assert mt.Tensor.sort is mt.sort and mt.Tensor.topk is mt.topk
    assert mt.Tensor.argsort is mt.argsort
    assert m.topk(1).values.tolist() == [2.0]


# ---- reference kernel --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
@pytest.mark.parametrize("descending", [False, True])
def test_reference_kernel_equals_fast(dtype, descending):
    rng = np.random.default_rng(29)
    a = rng.integers(0, 4, (3, 11, 2)).astype(dtype)
    if dtype.startswith("float"):
        a[0, 3, 0] = a[1, 0, 1] = a[1, 7, 1] = NAN
    x = mt.tensor(a)
    fast = [mt.argsort(x, d, descending, stable=True).numpy() for d in range(3)]
    try:
        cpu_backend.use_reference_kernels(True)
        ref = [mt.argsort(x, d, descending, stable=True).numpy() for d in range(3)]
    finally:
        cpu_backend.use_reference_kernels(False)
    for f, r in zip(fast, ref):
        np.testing.assert_array_equal(f, r)


def test_0d_input_keeps_the_node_and_topk_0_returns_the_element():
    m = mt.tensor(0.5, requires_grad=True)
    t = torch.tensor(0.5, requires_grad=True)
    assert repr(mt.topk(m, 0)) == repr(torch.topk(t, 0))     # PyTorch's quirk, imitated
    assert mt.sort(m).values.grad_fn.name() == "SortBackward0"
    mt.topk(m, 1).values.backward()
    assert m.grad.item() == 1.0


def test_stable_is_keyword_only_as_in_torch():
    m, t = _both(np.array([2.0, 1.0]))
    for lib, x in ((mt, m), (torch, t)):
        with pytest.raises(TypeError):
            lib.sort(x, 0, False, True)
        with pytest.raises(TypeError):
            lib.argsort(x, 0, False, True)
