"""The worked example of docs/internals/custom_op.rst (docs/examples/custom_op.py) works."""

import math
import os
import sys

import numpy as np
import pytest

import microtorch as torch
from microtorch.autograd import gradcheck, gradgradcheck

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples"))
import custom_op  # noqa: E402


def test_forward_values_and_dtype():
    x = torch.tensor([-30.0, -2.0, 0.0, 3.0, 100.0])
    y = custom_op.softplus(x)
    expected = [math.log1p(math.exp(-30.0)), math.log1p(math.exp(-2.0)), math.log(2.0),
                3.0 + math.log1p(math.exp(-3.0)), 100.0]
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    assert y.dtype == torch.float32 and y.shape == x.shape
    y2 = custom_op.softplus(torch.ones(2, 3, dtype=torch.float64), beta=2.0)
    assert y2.dtype == torch.float64 and y2.shape == (2, 3)
    np.testing.assert_allclose(y2.numpy(), math.log1p(math.exp(2.0)) / 2.0)


def test_graph_node_name_and_gradient():
    x = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    y = custom_op.softplus(x)
    assert type(y.grad_fn).__name__ == "SoftplusBackward0"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / (1 + np.exp(-np.array([-2.0, 0.0, 3.0]))),
                               rtol=1e-6)


@pytest.mark.parametrize("beta", [1.0, 0.5, 3.0])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 1, 3)])
def test_gradcheck(shape, beta):
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: custom_op.softplus(t, beta), (x,))
    # backward is written with Tensor ops, so second derivatives work too
    assert gradgradcheck(lambda t: custom_op.softplus(t, beta), (x,))


def test_non_contiguous_input():
    x = torch.randn(4, 3, dtype=torch.float64).t()
    np.testing.assert_allclose(custom_op.softplus(x).numpy(),
                               np.logaddexp(0, x.numpy()), rtol=1e-12)


def test_bad_input():
    with pytest.raises(TypeError, match="floating-point"):
        custom_op.softplus(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="beta > 0"):
        custom_op.softplus(torch.ones(2), beta=0.0)
