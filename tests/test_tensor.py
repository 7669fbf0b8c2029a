"""The Tensor class: attributes, conversions, views and memory sharing, in-place ops outside
autograd, version counters, comparisons and Python protocols."""

import copy

import numpy as np
import pytest

import microtorch as mt


def test_attributes():
    t = mt.ones(2, 3)
    assert t.shape == (2, 3) and isinstance(t.shape, mt.Size)
    assert t.size() == (2, 3) and t.size(-1) == 3
    assert t.ndim == t.dim() == 2 and t.numel() == t.nelement() == 6
    assert t.dtype is mt.float32 and t.element_size() == 4
    assert t.device == mt.device("cpu") and not t.is_cuda
    assert t.is_leaf and not t.requires_grad and t.grad is None and t.grad_fn is None
    assert t.is_floating_point() and not mt.ones(2, dtype=mt.int64).is_floating_point()
    assert t.type() == "torch.FloatTensor"
    assert len(t) == 2


def test_tensor_constructor_class():
    t = mt.Tensor([1, 2])
    assert t.dtype is mt.float32 and t.tolist() == [1.0, 2.0]
    assert mt.Tensor(2, 3).shape == (2, 3)
    assert isinstance(t, mt.Tensor)


def test_conversions():
    t = mt.tensor([1.7, -2.2])
    assert t.long().tolist() == [1, -2] and t.long().dtype is mt.int64
    assert t.int().dtype is mt.int32 and t.double().dtype is mt.float64
    assert t.bool().tolist() == [True, True]
    assert t.to(mt.float64).dtype is mt.float64 and t.to(t) is t and t.to("cpu") is t
    assert t.float() is t and t.cpu() is t
    assert t.type(mt.float64).dtype is mt.float64
    assert mt.tensor(2.5).item() == 2.5 and isinstance(mt.tensor(3).item(), int)
    assert float(mt.tensor([2.5])) == 2.5 and int(mt.tensor(3.9)) == 3
    assert [10, 20, 30][mt.tensor(1)] == 20
    with pytest.raises(TypeError):
        [1, 2][mt.tensor(1.0)]
    assert np.asarray(t).dtype == np.float32
    assert t.numpy() is t.numpy()  # shares memory


def test_detach_shares_memory_and_version():
    x = mt.ones(3, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad
    with mt.no_grad():
        x.mul_(2)
    assert d.tolist() == [2.0, 2.0, 2.0]
    assert d._version.value == x._version.value == 1
    x.data.fill_(5)
    assert x.tolist() == [5.0, 5.0, 5.0] and x.requires_grad


def test_views_share_memory_and_version():
    base = mt.zeros(2, 3)
    views = [base[0], base.view(6), base.t(), base.reshape(3, 2), base.unsqueeze(0),
             base[:, ::2], base.transpose(0, 1), base.permute(1, 0), base.squeeze(),
             base.expand(4, 2, 3), base.flatten(), base.split(1)[0]]
    base.add_(1)
    for v in views:
        assert (v == 1).all(), v
        assert v._version is base._version
    base[0, 0] = 9.0
    assert base.view(6)[0].item() == 9.0 and base._version.value == 2


def test_advanced_indexing_copies():
    base = mt.zeros(3)
    picked = base[[0, 1]]
    base.add_(1)
    assert picked.tolist() == [0.0, 0.0]


def test_clone_and_contiguous():
    x = mt.arange(6.0).reshape(2, 3)
    c = x.clone()
    x.add_(1)
    assert c.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    t = x.t()
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    assert x.contiguous() is x


def test_inplace_arithmetic_without_grad():
    x = mt.tensor([1.0, 2.0])
    x += 1
    x -= mt.tensor([0.5, 0.5])
    x *= 2
    x /= 4
    assert x.tolist() == [0.75, 1.25]
    x.add_(mt.ones(2), alpha=2).sub_(1, alpha=3)
    assert x.tolist() == [-0.25, 0.25]
    x.zero_()
    assert x.tolist() == [0.0, 0.0]
    x.fill_(3).clamp_(max=2)
    assert x.tolist() == [2.0, 2.0]
    x.copy_(mt.tensor([7, 8]))  # cast int64 -> float32
    assert x.tolist() == [7.0, 8.0] and x.dtype is mt.float32
    x.copy_(mt.tensor(1.0))  # broadcast
    assert x.tolist() == [1.0, 1.0]
    i = mt.tensor([1, 2])
    i += 1
    assert i.tolist() == [2, 3] and i.dtype is mt.int64
    x.addcmul_(mt.tensor([2.0, 2.0]), mt.tensor([3.0, 1.0]), value=0.5)
    assert x.tolist() == [4.0, 2.0]
    x.lerp_(mt.tensor([0.0, 0.0]), 0.5)
    assert x.tolist() == [2.0, 1.0]


def test_inplace_returns_self_and_bumps_version():
    x = mt.ones(2)
    v0 = x._version.value
    assert x.mul_(2) is x and x.exp_() is x and x.neg_() is x
    assert x._version.value == v0 + 3


def test_comparisons_and_logic():
    a, b = mt.tensor([1, 2, 3]), mt.tensor([3, 2, 1])
    assert (a < b).tolist() == [True, False, False] and (a == 2).dtype is mt.bool
    assert (a >= b).tolist() == [False, True, True] and (a != b).tolist() == [True, False, True]
    assert a.le(2).tolist() == [True, True, False] and mt.gt(a, 1).tolist() == [False, True, True]
    m = a > 1
    assert (m & (b > 1)).tolist() == [False, True, False]
    assert (m | (b > 2)).tolist() == [True, True, True]
    assert (m ^ (b > 1)).tolist() == [True, False, True]
    assert (~m).tolist() == [True, False, False]
    assert bool((a > 0).all()) and not bool((a > 2).all()) and bool((a > 2).any())
    assert a.equal(mt.tensor([1, 2, 3])) and not a.equal(b)
    assert mt.tensor([1.0, 2.0]).allclose(mt.tensor([1.0, 2.0 + 1e-7]))


def test_python_protocols():
    t = mt.tensor([[1, 2], [3, 4]])
    assert [r.tolist() for r in t] == [[1, 2], [3, 4]]
    assert bool(mt.tensor([0.0])) is False and bool(mt.tensor(2))
    assert abs(mt.tensor(-2.0)).item() == 2.0 and (+t) is t
    assert {t: 1}[t] == 1  # hashable by identity
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(mt.tensor(1.0))


def test_deepcopy():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = copy.deepcopy(x)
    assert y is not x and y.requires_grad and y.tolist() == x.tolist()
    with mt.no_grad():
        y.add_(1)
    assert x.tolist() == [1.0, 2.0]


def test_requires_grad_setters():
    x = mt.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad = False
    assert not x.requires_grad
    y = mt.ones(2, requires_grad=True) * 2
    y.requires_grad = True  # allowed: already true
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad"):
        mt.ones(2).retain_grad()
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't"):
        mt.ones(2).register_hook(lambda g: g)


def test_detach_():
    x = mt.ones(2, requires_grad=True)
    y = x * 2
    assert y.detach_() is y and y.grad_fn is None and not y.requires_grad


def test_repeat_and_shape_helpers():
    x = mt.tensor([[1, 2]])
    assert x.repeat(2, 2).tolist() == [[1, 2, 1, 2], [1, 2, 1, 2]]
    assert x.T.shape == (2, 1) and mt.ones(2, 3, 4).mT.shape == (2, 4, 3)
    assert mt.ones(2, 3, 4).T.shape == (4, 3, 2)
    assert x.view_as(mt.ones(2)).shape == (2,) and x.reshape_as(mt.ones(2, 1)).shape == (2, 1)
    assert x.expand_as(mt.ones(3, 2)).shape == (3, 2)
    assert mt.ones(2, 3).chunk(3, 1)[2].shape == (2, 1)
    assert [c.shape[0] for c in mt.ones(5).chunk(2)] == [3, 2]
    assert [c.shape[0] for c in mt.ones(5).split(2)] == [2, 2, 1]


def test_ops_on_integer_tensors():
    a = mt.tensor([1, 2, 3])
    assert (a + 1).dtype is mt.int64 and (a * 2.0).dtype is mt.float32
    assert (a / 2).tolist() == [0.5, 1.0, 1.5] and (a / 2).dtype is mt.float32
    assert a.sum().item() == 6 and a.sum().dtype is mt.int64
    assert a.prod().item() == 6 and a.max().item() == 3 and a.argmax().item() == 2
    assert a.exp().dtype is mt.float32
    assert (a ** 2).tolist() == [1, 4, 9]


def test_reductions_values():
    x = mt.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    assert x.sum(0).tolist() == [5.0, 7.0, 9.0] and x.mean().item() == 3.5
    values, indices = x.max(1)
    assert values.tolist() == [5.0, 6.0] and indices.tolist() == [1, 2]
    assert x.min(dim=0).indices.tolist() == [0, 1, 0]
    assert x.amax(1, keepdim=True).shape == (2, 1)
    assert x.var().item() == pytest.approx(3.5) and x.std(unbiased=False).item() == pytest.approx(
        np.std([1, 5, 3, 4, 2, 6]))
    np.testing.assert_allclose(x.logsumexp(1).numpy(), np.log(np.exp(x.numpy()).sum(1)),
                               rtol=1e-6)
    assert mt.max(x, mt.full((2, 3), 4.5)).tolist() == [[4.5, 5.0, 4.5], [4.5, 4.5, 6.0]]
    big = mt.tensor([1000.0, 1000.0])
    assert big.logsumexp(0).item() == pytest.approx(1000 + np.log(2))
