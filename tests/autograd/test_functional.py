"""``autograd.functional``: vjp, jacobian, hessian and vhp against known results."""

import numpy as np
import pytest

import microtorch as torch
from microtorch.autograd import functional as F


def t64(*values):
    return torch.tensor(list(values), dtype=torch.float64)


def test_jacobian_of_elementwise_and_linear_maps():
    x = t64(1.0, 2.0, 3.0)
    j = F.jacobian(lambda v: v ** 2, x)
    np.testing.assert_allclose(j.numpy(), np.diag([2.0, 4.0, 6.0]))
    a = torch.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]], dtype=torch.float64)
    np.testing.assert_allclose(F.jacobian(lambda v: a @ v, x).numpy(), a.numpy())
    assert not F.jacobian(lambda v: v ** 2, x).requires_grad


def test_jacobian_shapes_and_tuples():
    x, y = t64(1.0, 2.0), torch.ones(2, 3, dtype=torch.float64)
    j = F.jacobian(lambda a: a.reshape(2, 1) * 3, x)
    assert j.shape == (2, 1, 2)
    ja, jb = F.jacobian(lambda a, b: (a.unsqueeze(1) * b).sum(1), (x, y))
    np.testing.assert_allclose(ja.numpy(), np.diag([3.0, 3.0]))
    assert jb.shape == (2, 2, 3)
    np.testing.assert_allclose(jb.numpy()[0, 0], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(jb.numpy()[0, 1], [0.0, 0.0, 0.0])


def test_jacobian_of_unused_input_is_zero():
    x, y = t64(1.0, 2.0), t64(5.0)
    ja, jb = F.jacobian(lambda a, b: a * 2, (x, y))
    assert jb.tolist() == [[0.0], [0.0]]


def test_vjp():
    x = t64(1.0, 2.0)
    out, g = F.vjp(lambda v: v.exp(), x, t64(1.0, 0.5))
    np.testing.assert_allclose(out.numpy(), np.exp([1.0, 2.0]))
    np.testing.assert_allclose(g.numpy(), [np.exp(1.0), 0.5 * np.exp(2.0)])
    out, g = F.vjp(lambda v: (v ** 3).sum(), x)
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.vjp(lambda v: v * 2, x)


def test_hessian_of_quadratic_and_cubic():
    a = torch.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    x = t64(0.5, -1.0)
    h = F.hessian(lambda v: 0.5 * (v @ (a @ v)), x)
    np.testing.assert_allclose(h.numpy(), a.numpy())
    h = F.hessian(lambda v: (v ** 3).sum() + v[0] * v[1], x)
    np.testing.assert_allclose(h.numpy(), [[3.0, 1.0], [1.0, -6.0]])


def test_hessian_of_several_inputs():
    x, y = t64(2.0), t64(3.0)
    ((hxx, hxy), (hyx, hyy)) = F.hessian(lambda a, b: (a * a * b).sum(), (x, y))
    assert hxx.item() == pytest.approx(6.0) and hxy.item() == pytest.approx(4.0)
    assert hyx.item() == pytest.approx(4.0) and hyy.item() == pytest.approx(0.0)


def test_vhp_matches_hessian():
    x = t64(0.3, -0.7, 1.1)
    f = lambda v: (v.sin() * v).sum() + v.prod()  # noqa: E731
    v = t64(1.0, 2.0, -1.0)
    _, hv = F.vhp(f, x, v)
    h = F.hessian(f, x)
    np.testing.assert_allclose(hv.numpy(), v.numpy() @ h.numpy(), rtol=1e-10)


def test_functional_inputs_are_untouched():
    x = t64(1.0, 2.0)
    F.jacobian(lambda v: v * 2, x)
    F.hessian(lambda v: (v ** 2).sum(), x)
    assert not x.requires_grad and x.grad is None
