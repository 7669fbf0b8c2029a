"""Layers against PyTorch: reprs, forward values and gradients with the same weights,
BatchNorm's running statistics, and bad input."""

import numpy as np
import pytest

import microtorch as mt
from microtorch import nn
from tests.nn.parity import compare, copy_params, rand

torch = pytest.importorskip("torch")

# (constructor args, kwargs, input shape)
LAYERS = {
    "Linear": [((3, 5), {}, (4, 3)), ((3, 5), dict(bias=False), (2, 4, 3)),
               ((400, 120), {}, (2, 400))],
    "Conv2d": [((1, 6, 5), {}, (1, 1, 8, 8)), ((3, 4, 3), dict(stride=2, padding=1), (2, 3, 7, 7)),
               ((4, 4, (3, 2)), dict(groups=2, dilation=2, bias=False), (1, 4, 8, 8)),
               ((2, 3, 3), dict(padding="same"), (1, 2, 5, 5)),
               ((2, 3, 3), dict(padding="valid"), (1, 2, 5, 5)),
               ((2, 3, 1), dict(stride=(2, 1), padding=(0, 1)), (1, 2, 5, 5))],
    "MaxPool2d": [((2,), {}, (1, 2, 6, 6)), ((3, 2, 1), {}, (1, 2, 7, 7)),
                  ((3,), dict(stride=2, ceil_mode=True), (1, 2, 8, 8)),
                  (((2, 3),), dict(dilation=(1, 2)), (1, 2, 7, 9))],
    "AvgPool2d": [((2,), {}, (1, 2, 6, 6)), ((3, 2, 1), {}, (1, 2, 7, 7)),
                  ((3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                   (1, 2, 8, 8))],
    "AdaptiveAvgPool2d": [(((1, 1),), {}, (2, 3, 5, 5)), ((3,), {}, (1, 2, 7, 8)),
                          (((None, 2),), {}, (1, 2, 4, 5))],
    "BatchNorm1d": [((3,), {}, (4, 3)), ((3,), dict(affine=False, momentum=None), (4, 3, 5))],
    "BatchNorm2d": [((3,), {}, (2, 3, 4, 4)),
                    ((3,), dict(eps=1e-3, momentum=0.3, track_running_stats=False),
                     (2, 3, 2, 2))],
    "ReLU": [((), {}, (3, 4)), ((), dict(inplace=True), (3, 4))],
    "LeakyReLU": [((), {}, (3, 4)), ((0.2,), dict(inplace=True), (3, 4))],
    "GELU": [((), {}, (3, 4)), ((), dict(approximate="tanh"), (3, 4))],
    "Sigmoid": [((), {}, (3, 4))],
    "Tanh": [((), {}, (3, 4))],
    "SiLU": [((), {}, (3, 4)), ((), dict(inplace=True), (3, 4))],
    "Softmax": [((), dict(dim=1), (3, 4)), ((-1,), {}, (2, 3, 4))],
    "LogSoftmax": [((), dict(dim=1), (3, 4))],
    "Dropout": [((), {}, (3, 4)), ((0.2,), {}, (3, 4)), ((0.2,), dict(inplace=True), (3, 4))],
    "Identity": [((), {}, (3, 4)), ((54,), dict(unused="x"), (3, 4))],
    "Flatten": [((), {}, (2, 3, 4)), ((0, 1), {}, (2, 3, 4))],
}
CASES = [(name, *case) for name, cases in LAYERS.items() for case in cases]


def _pair(name, args, kwargs):
    torch.manual_seed(0)
    t = getattr(torch.nn, name)(*args, **kwargs)
    m = getattr(nn, name)(*args, **kwargs)
    if t.state_dict():
        copy_params(m, t)
    return m, t


@pytest.mark.parametrize("name, args, kwargs, shape", CASES)
def test_layer_repr_and_state(name, args, kwargs, shape):
    m, t = _pair(name, args, kwargs)
    assert repr(m) == repr(t)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
    assert [k for k, _ in m.named_parameters()] == [k for k, _ in t.named_parameters()]


@pytest.mark.parametrize("name, args, kwargs, shape", CASES)
@pytest.mark.parametrize("training", [True, False])
def test_layer_forward_backward(name, args, kwargs, shape, training):
    if name == "Dropout" and training:
        pytest.skip("random; see test_functional.test_dropout_statistics")
    m, t = _pair(name, args, kwargs)
    m.train(training)
    t.train(training)
    inplace = kwargs.get("inplace", False)
    compare(torch, lambda L, x: (m if L is mt else t)(x * 1 if inplace else x), rand(*shape),
            rtol=1e-4, atol=1e-4,
            check_name=name not in ("SiLU", "Sigmoid", "Tanh") and kwargs.get("bias", True))
    for (k, a), (_, b) in zip(m.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-4,
                                   err_msg=k)
    for (k, a), (_, b) in zip(m.state_dict().items(), t.state_dict().items()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


# ---- BatchNorm running statistics --------------------------------------------------------

@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)),
                                        ("BatchNorm2d", (2, 3, 4, 3))])
def test_batchnorm_running_stats(cls, shape, momentum):
    m, t = getattr(nn, cls)(3, momentum=momentum), getattr(torch.nn, cls)(3, momentum=momentum)
    for step in range(3):
        x = rand(*shape, seed=step) * (step + 1) + step
        m(mt.tensor(x))
        t(torch.tensor(x))
    for k in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(m, k).numpy(), getattr(t, k).numpy(), rtol=1e-5,
                                   atol=1e-6)
    assert m.num_batches_tracked.item() == 3 and m.num_batches_tracked.dtype == mt.int64
    # the unbiased variance: one batch, momentum 1
    bn = getattr(nn, cls)(3, momentum=1.0)
    x = rand(*shape, seed=9)
    bn(mt.tensor(x))
    axes = tuple(i for i in range(len(shape)) if i != 1)
    np.testing.assert_allclose(bn.running_var.numpy(), x.var(axis=axes, ddof=1), rtol=1e-5)
    # eval mode uses (and does not change) the running statistics
    m.eval()
    t.eval()
    before = m.running_mean.numpy().copy()
    x = rand(*shape, seed=7)
    np.testing.assert_allclose(m(mt.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(m.running_mean.numpy(), before)
    assert m.num_batches_tracked.item() == 3


def test_batchnorm_reset_and_errors():
    bn = nn.BatchNorm2d(3)
    bn(mt.randn(2, 3, 2, 2))
    bn.reset_running_stats()
    assert bn.running_mean.tolist() == [0.0] * 3 and bn.running_var.tolist() == [1.0] * 3
    assert bn.num_batches_tracked.item() == 0
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        bn(mt.randn(2, 3, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(mt.randn(1, 3))


# ---- reprs of containers -----------------------------------------------------------------

def _nested(lib):
    n = lib.nn
    return n.Sequential(
        n.Conv2d(1, 6, 5), n.ReLU(), n.MaxPool2d(2, 2),
        n.Sequential(n.Flatten(), n.Linear(6 * 2 * 2, 10), n.Dropout(0.1)),
        n.ModuleList([n.Linear(10, 10) for _ in range(3)] + [n.ReLU()]),
        n.ModuleDict({"act": n.LeakyReLU(0.2), "bn": n.BatchNorm2d(4, affine=False)}),
        n.ModuleList(), n.Sequential())


def test_container_reprs():
    assert repr(_nested(mt)) == repr(_nested(torch))


def test_lenet_repr():
    class Net(mt.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = mt.nn.Conv2d(1, 6, 5)
            self.fc1 = mt.nn.Linear(16 * 5 * 5, 120)

    assert repr(Net()) == ("Net(\n  (conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))\n"
                           "  (fc1): Linear(in_features=400, out_features=120, bias=True)\n)")


def test_sequential_indexing():
    for lib in (mt, torch):
        s = _nested(lib)
        assert len(s) == 8 and type(s[-1]).__name__ == "Sequential"
        assert [type(m).__name__ for m in s[1:3]] == ["ReLU", "MaxPool2d"]
        assert repr(s[:2]) == repr(_nested(lib)[:2])
    m = _nested(mt)
    m.append(nn.Tanh())
    del m[0]
    t = _nested(torch)
    t.append(torch.nn.Tanh())
    del t[0]
    assert repr(m) == repr(t)
    for lib in (mt, torch):
        ml = lib.nn.ModuleList([lib.nn.ReLU(), lib.nn.Tanh(), lib.nn.ReLU()])
        del ml[0]
        ml.append(lib.nn.Sigmoid())
        del ml[:1]
        assert list(ml._modules) == ["0", "1"]
        assert [type(x).__name__ for x in ml] == ["ReLU", "Sigmoid"]


# ---- bad input ---------------------------------------------------------------------------

def test_conv2d_wrong_input_channels():
    conv = nn.Conv2d(3, 6, 5)
    with pytest.raises(RuntimeError) as err:
        conv(mt.randn(1, 1, 32, 32))
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.Conv2d(3, 6, 5)(torch.randn(1, 1, 32, 32))
    assert str(err.value) == str(t_err.value)
    assert "[6, 3, 5, 5]" in str(err.value) and "[1, 1, 32, 32]" in str(err.value)


def test_linear_wrong_feature_size():
    with pytest.raises(RuntimeError) as err:
        nn.Linear(400, 120)(mt.randn(2, 256))
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.Linear(400, 120)(torch.randn(2, 256))
    assert str(err.value) == str(t_err.value) == \
        "mat1 and mat2 shapes cannot be multiplied (2x256 and 400x120)"


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="dropout probability"):
        nn.Dropout(1.2)
