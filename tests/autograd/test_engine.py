"""The backward engine: higher-order gradients, autograd.grad, retain_graph, accumulation,
hooks, retain_grad, deep graphs, version counters, requires_grad propagation."""

import numpy as np
import pytest

import microtorch as torch
from tests.helpers import make


def test_second_derivative_of_cube():
    x = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    (dx,) = torch.autograd.grad(x ** 3, x, create_graph=True)
    assert dx.item() == pytest.approx(12.0)  # 3x^2
    assert dx.requires_grad and dx.grad_fn is not None
    (d2x,) = torch.autograd.grad(dx, x, create_graph=True)
    assert d2x.item() == pytest.approx(12.0)  # 6x
    (d3x,) = torch.autograd.grad(d2x, x)
    assert d3x.item() == pytest.approx(6.0)


def test_second_derivative_via_backward():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    y = (x.sin() * x).sum()
    y.backward(create_graph=True)
    g = x.grad
    x.grad = None
    g.sum().backward()
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(xv) - xv * np.sin(xv))


def test_hessian_vector_product_matches_analytic_hessian():
    # f = (a . x)^3 + sum(x^4):  H = 6 (a . x) a a^T + diag(12 x^2)
    a = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    x = torch.tensor([0.3, 0.7, -1.1], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([1.0, 0.5, -2.0], dtype=torch.float64)
    f = (a * x).sum() ** 3 + (x ** 4).sum()
    (g,) = torch.autograd.grad(f, x, create_graph=True)
    (hv,) = torch.autograd.grad((g * v).sum(), x)
    an, xn, vn = a.numpy(), x.detach().numpy(), v.numpy()
    hessian = 6 * an.dot(xn) * np.outer(an, an) + np.diag(12 * xn ** 2)
    np.testing.assert_allclose(hv.numpy(), hessian @ vn, rtol=1e-10)


def test_grad_allow_unused():
    x, y = make((2,)), make((2,), seed=1)
    out = (x * 2).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        torch.autograd.grad(out, [x, y], retain_graph=True)
    gx, gy = torch.autograd.grad(out, [x, y], allow_unused=True, retain_graph=True)
    assert gx.tolist() == [2.0, 2.0] and gy is None
    gx, gy = torch.autograd.grad(out, [x, y], materialize_grads=True)
    assert gy.tolist() == [0.0, 0.0]


def test_grad_does_not_touch_dot_grad():
    x = make((3,))
    torch.autograd.grad((x * x).sum(), x)
    assert x.grad is None


def test_grad_with_grad_outputs_and_several_outputs():
    x = make((3,))
    y1, y2 = x * 2, x ** 2
    v = torch.ones(3, dtype=torch.float64)
    (g,) = torch.autograd.grad([y1, y2], x, [v, v])
    np.testing.assert_allclose(g.numpy(), 2 + 2 * x.detach().numpy())


def test_grad_of_non_leaf_input():
    x = make((3,))
    h = x * 3
    (gh,) = torch.autograd.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.numpy(), 2 * h.detach().numpy())


def test_backward_twice_needs_retain_graph():
    x = make((3,))
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first.numpy())
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_backward_through_graph_without_saved_tensors_twice_is_fine():
    x = make((3,))
    y = (x + 1).sum()  # add and sum save nothing
    y.backward()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_gradients_accumulate_across_backward_calls():
    x = make((2,))
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * x.detach().numpy())
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_shared_subexpression_gradients_are_summed():
    x = make((2,))
    y = x * 2
    z = y * y + y  # y used three times
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (2 * y.detach().numpy() + 1) * 2)


def test_non_leaf_grad_is_not_kept():
    x = make((2,))
    y = x * 2
    (y * y).sum().backward()
    assert y.grad is None and y.is_leaf is False and x.is_leaf


def test_retain_grad():
    x = make((2,))
    y = x * 2
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.detach().numpy())


def test_retain_grad_accumulates():
    x = make((2,))
    y = x * 2
    y.retain_grad()
    z = (y * 3).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert y.grad.tolist() == [6.0, 6.0]


def test_hook_on_leaf_replaces_grad():
    x = make((3,))
    seen = []
    x.register_hook(lambda g: seen.append(g.clone()))
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    assert seen[0].tolist() == [2.0, 2.0, 2.0]
    assert x.grad.tolist() == [20.0, 20.0, 20.0]


def test_hook_on_non_leaf_replaces_grad_flowing_back():
    x = make((3,))
    y = x * 2
    y.register_hook(lambda g: g + 1)
    (y * 3).sum().backward()
    assert x.grad.tolist() == [8.0, 8.0, 8.0]  # (3 + 1) * 2


def test_hook_and_retain_grad_order():
    x = make((2,))
    y = x * 1
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_deep_graph_has_no_recursion_error():
    x = torch.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 5000, rel=1e-3)


def test_deep_graph_grad_and_create_graph():
    x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(2000):
        y = y.sin()
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    (g2,) = torch.autograd.grad(g.sum(), x)
    assert np.isfinite(g2.item())


def test_version_counter_detects_modified_saved_tensor():
    x = make((3,))
    y = x * 2
    z = y.sin()  # saves y
    y.add_(1)
    assert y._version.value == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_version_counter_is_shared_with_views():
    a = torch.ones(2, 3)
    v = a[0]
    w = torch.ones(3, requires_grad=True)
    out = (v * w).sum()  # saves v for w's gradient
    a.mul_(2)  # changes v through its base
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        out.backward()


def test_inplace_on_unsaved_tensor_is_fine():
    x = make((3,))
    y = x + 1  # AddBackward saves nothing
    z = y * 2  # saves the scalar only
    y.mul_(3)
    (z.sum() + y.sum()).backward()
    assert x.grad.tolist() == [5.0, 5.0, 5.0]


@pytest.mark.parametrize("other_requires_grad", [True, False])
def test_requires_grad_propagation(other_requires_grad):
    # the 60-minute blitz: x + y requires grad iff an input does
    x = torch.rand(5, 5)
    y = torch.rand(5, 5)
    z = torch.rand((5, 5), requires_grad=True)
    assert not (x + y).requires_grad
    assert (x + z).requires_grad
    w = torch.rand(5, requires_grad=other_requires_grad)
    assert (x * w).requires_grad == other_requires_grad
    assert (x * w).is_leaf == (not other_requires_grad)


def test_detach_and_integer_outputs():
    x = make((3,))
    assert not x.detach().requires_grad and x.detach().is_leaf
    assert not (x > 0).requires_grad
    assert not x.argmax().requires_grad
    values, indices = x.max(0)
    assert values.requires_grad and not indices.requires_grad


def test_backward_with_gradient_argument():
    x = make((3,))
    y = x * 2
    y.backward(torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64))
    assert x.grad.tolist() == [2.0, 1.0, 0.0]


def test_backward_inputs_restricts_accumulation():
    x, y = make((2,)), make((2,), seed=1)
    (x * y).sum().backward(inputs=[x])
    assert x.grad is not None and y.grad is None
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())


def test_autograd_backward_function():
    x = make((2,))
    torch.autograd.backward([(x * 2).sum(), (x * 3).sum()])
    assert x.grad.tolist() == [5.0, 5.0]


def test_grad_of_leaf_itself():
    x = make((2,))
    (g,) = torch.autograd.grad(x, x, torch.ones(2, dtype=torch.float64))
    assert g.tolist() == [1.0, 1.0]


def test_multi_output_node_gradients():
    x = make((4, 2))
    a, b = x.split(2)
    (a * 2 + b * 3).sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0]] * 2 + [[3.0, 3.0]] * 2
    x.grad = None
    a, b = x.split(2)
    (a * 2).sum().backward()  # the unused output gets zeros
    assert x.grad.tolist() == [[2.0, 2.0]] * 2 + [[0.0, 0.0]] * 2


def test_node_post_hook():
    x = make((2,))
    y = x * 2
    calls = []
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: calls.append(len(grad_inputs)))
    y.sum().backward()
    assert calls == [2]


def test_grad_mode_inside_backward_follows_create_graph():
    x = make((2,))
    y = x.exp().sum()
    (g,) = torch.autograd.grad(y, x)
    assert not g.requires_grad
    assert torch.is_grad_enabled()
