"""Default initialisations and ``nn.init``: distribution bounds and moments (fixed seed,
loose tolerances)."""

import math

import numpy as np
import pytest

import microtorch as mt
from microtorch import nn


def _np(t):
    return t.detach().numpy().ravel()


@pytest.mark.parametrize("fan_in, out", [(400, 120), (30, 200)])
def test_linear_default_init(fan_in, out):
    mt.manual_seed(0)
    lin = nn.Linear(fan_in, out)
    bound = 1 / math.sqrt(fan_in)
    w, b = _np(lin.weight), _np(lin.bias)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.95 * bound
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.05)  # U(-a, a): a/sqrt(3)
    assert abs(w.mean()) < 0.05 * bound


@pytest.mark.parametrize("cin, cout, k, groups", [(16, 32, 3, 1), (6, 16, 5, 1), (8, 8, 3, 4)])
def test_conv2d_default_init(cin, cout, k, groups):
    mt.manual_seed(0)
    conv = nn.Conv2d(cin, cout, k, groups=groups)
    fan_in = cin // groups * k * k
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), ...)
    w, b = _np(conv.weight), _np(conv.bias)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.1)
    assert conv.weight.shape == (cout, cin // groups, k, k)


def test_batchnorm_default_init():
    bn = nn.BatchNorm2d(4)
    assert bn.weight.tolist() == [1.0] * 4 and bn.bias.tolist() == [0.0] * 4
    assert bn.running_mean.tolist() == [0.0] * 4 and bn.running_var.tolist() == [1.0] * 4


def test_init_functions():
    mt.manual_seed(1)
    t = mt.empty(200, 300)
    fan_in, fan_out = 300, 200
    assert nn.init.uniform_(t, -2, 3) is t
    assert _np(t).min() >= -2 and _np(t).max() < 3
    nn.init.normal_(t, 1.0, 0.5)
    np.testing.assert_allclose([_np(t).mean(), _np(t).std()], [1.0, 0.5], rtol=0.02)
    nn.init.xavier_uniform_(t)
    a = math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(_np(t)).max() <= a
    np.testing.assert_allclose(_np(t).std(), a / math.sqrt(3), rtol=0.02)
    nn.init.xavier_normal_(t, gain=2.0)
    np.testing.assert_allclose(_np(t).std(), 2 * math.sqrt(2 / (fan_in + fan_out)), rtol=0.02)
    nn.init.kaiming_uniform_(t, nonlinearity="relu")
    np.testing.assert_allclose(_np(t).std(), math.sqrt(2 / fan_in), rtol=0.02)
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    np.testing.assert_allclose(_np(t).std(), math.sqrt(2 / fan_out), rtol=0.02)
    nn.init.constant_(t, 0.3)
    assert set(_np(t).tolist()) == {np.float32(0.3)}
    nn.init.zeros_(t)
    assert _np(t).sum() == 0
    nn.init.ones_(t)
    assert _np(t).sum() == t.numel()


def test_init_on_parameter_records_no_graph():
    lin = nn.Linear(3, 3)
    nn.init.normal_(lin.weight)
    assert lin.weight.is_leaf and lin.weight.grad_fn is None and lin.weight.requires_grad


def test_calculate_gain_and_errors():
    g = nn.init.calculate_gain
    assert g("linear") == 1 and g("sigmoid") == 1 and g("conv2d") == 1
    assert g("relu") == math.sqrt(2) and g("tanh") == 5 / 3
    assert g("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        g("swish")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(mt.empty(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_uniform_(mt.empty(3, 3), mode="fan_avg")


def test_init_matches_torch_formulas():
    torch = pytest.importorskip("torch")
    for name in ("linear", "relu", "tanh", "selu", "conv2d"):
        assert nn.init.calculate_gain(name) == torch.nn.init.calculate_gain(name)
    for shape in ((5, 3), (4, 2, 3, 3)):
        assert nn.init._calculate_fan_in_and_fan_out(mt.empty(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
