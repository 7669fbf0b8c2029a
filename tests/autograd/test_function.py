"""Custom ``autograd.Function`` subclasses: ctx.save_for_backward, needs_input_grad,
mark_non_differentiable, set_materialize_grads, node names and errors."""

import numpy as np
import pytest

import microtorch as torch
from microtorch.autograd import gradcheck
from tests.helpers import make


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x ** 3 * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2 * ctx.scale, None


def test_custom_function_forward_backward_and_name():
    x = make((3,))
    y = Cube.apply(x, 2.0)
    assert type(y.grad_fn).__name__ == "CubeBackward"
    assert y.grad_fn.next_functions[0][0].variable is x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy() ** 2)
    assert gradcheck(lambda t: Cube.apply(t, 2.0), (make((3,)),))


def test_custom_function_supports_double_backward():
    x = make((2,))
    (g,) = torch.autograd.grad(Cube.apply(x, 1.0).sum(), x, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.detach().numpy())


def test_needs_input_grad():
    seen = {}

    class Mul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["forward"] = ctx.needs_input_grad
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            seen["backward"] = ctx.needs_input_grad
            return (g * b if ctx.needs_input_grad[0] else None,
                    g * a if ctx.needs_input_grad[1] else None)

    a, b = make((2,)), make((2,), seed=1, requires_grad=False)
    Mul.apply(a, b).sum().backward()
    assert seen == {"forward": (True, False), "backward": (True, False)}
    np.testing.assert_allclose(a.grad.numpy(), b.numpy())


def test_mark_non_differentiable():
    class SortWithIndex(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            idx = torch.tensor(np.argsort(x.detach().numpy()))
            values = x[idx]
            mask = values > 0
            ctx.mark_non_differentiable(idx, mask)
            ctx.save_for_backward(idx)
            return values, idx, mask

        @staticmethod
        def backward(ctx, g, g_idx, g_mask):
            (idx,) = ctx.saved_tensors
            out = torch.zeros(g.shape, dtype=g.dtype)
            out[idx] = g
            return out

    x = torch.tensor([3.0, -1.0, 2.0], requires_grad=True)
    values, idx, mask = SortWithIndex.apply(x)
    assert values.requires_grad and not idx.requires_grad and not mask.requires_grad
    assert values.tolist() == [-1.0, 2.0, 3.0]
    (values * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [3.0, 1.0, 2.0]


def test_non_tensor_forward_and_none_gradients():
    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    x = make((2,))
    Scale.apply(x, 4).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]


def test_materialize_grads_and_unused_outputs():
    seen = {}

    class Two(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            seen["g2"] = g2
            return g1 * 2

    x = make((2,))
    a, _ = Two.apply(x)
    a.sum().backward()
    assert seen["g2"] is None and x.grad.tolist() == [2.0, 2.0]


def test_wrong_number_of_gradients_raises():
    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
        Bad.apply(make((2,))).sum().backward()


def test_wrong_gradient_shape_raises():
    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g.sum()

    with pytest.raises(RuntimeError, match="returned an invalid gradient at index 0"):
        Bad.apply(make((2,))).sum().backward()


def test_saved_tensors_freed_after_backward():
    x = make((2,))
    y = Cube.apply(x, 1.0)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.grad_fn.saved_tensors


def test_no_recording_without_requires_grad_or_under_no_grad():
    x = make((2,), requires_grad=False)
    assert Cube.apply(x, 1.0).grad_fn is None
    with torch.no_grad():
        assert Cube.apply(make((2,)), 1.0).grad_fn is None


def test_forward_runs_without_grad_mode():
    seen = {}

    class Probe(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            seen["enabled"] = torch.is_grad_enabled()
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g

    Probe.apply(make((1,)))
    assert seen["enabled"] is False


def test_missing_backward_raises_not_implemented():
    class NoBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

    with pytest.raises(NotImplementedError):
        NoBackward.apply(make((1,))).sum().backward()
