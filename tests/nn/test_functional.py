"""nn.functional against PyTorch (values, grad_fn names, input gradients) and by finite
differences in float64 (microtorch's gradcheck)."""

import numpy as np
import pytest

import microtorch as mt
import microtorch.nn.functional as F
from microtorch.autograd import gradcheck
from tests.nn.parity import compare, f64, rand

try:
    import torch
except ImportError:  # parity tests are skipped, gradchecks still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")


# ---- linear ----------------------------------------------------------------------------------

LINEAR = [((4, 3), (5, 3), True), ((4, 3), (5, 3), False), ((2, 4, 3), (5, 3), True),
          ((3,), (2, 3), True)]


@needs_torch
@pytest.mark.parametrize("xs, ws, bias", LINEAR)
def test_linear_parity(xs, ws, bias):
    arrays = [rand(*xs), rand(*ws, seed=1)] + ([rand(ws[0], seed=2)] if bias else [])
    # without bias torch's matmul records UnsafeViewBackward0/SqueezeBackward4 (core's matmul)
    compare(torch, lambda L, *t: L.nn.functional.linear(*t), *arrays,
            check_name=bias or len(xs) == 2)


@pytest.mark.parametrize("xs, ws, bias", LINEAR)
def test_linear_gradcheck(xs, ws, bias):
    args = (f64(*xs), f64(*ws, seed=1)) + ((f64(ws[0], seed=2),) if bias else ())
    assert gradcheck(F.linear, args)


# ---- conv2d ----------------------------------------------------------------------------------

CONV = [  # (input shape, weight shape, kwargs)
    ((2, 3, 7, 7), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 2), dict(stride=2, padding=1)),
    ((1, 2, 8, 8), (3, 2, 3, 3), dict(stride=(2, 1), padding=(1, 2), dilation=2)),
    ((2, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((1, 4, 5, 5), (4, 1, 3, 3), dict(groups=4)),
    ((1, 2, 6, 6), (3, 2, 3, 3), dict(padding="same")),
    ((1, 2, 6, 5), (3, 2, 4, 2), dict(padding="same")),
    ((1, 2, 7, 7), (2, 2, 3, 3), dict(padding="same", dilation=2)),
    ((1, 2, 5, 5), (3, 2, 3, 3), dict(padding="valid")),
    ((2, 5, 5), (3, 2, 3, 3), {}),  # unbatched
]


@needs_torch
@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs, ws, kw", CONV)
def test_conv2d_parity(xs, ws, kw, bias):
    arrays = [rand(*xs), rand(*ws, seed=1)] + ([rand(ws[0], seed=2)] if bias else [])
    compare(torch, lambda L, x, w, b=None: L.nn.functional.conv2d(x, w, b, **kw), *arrays,
            rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("xs, ws, kw", CONV)
def test_conv2d_gradcheck(xs, ws, kw):
    xs = (1,) + xs[1:] if len(xs) == 4 else xs
    args = (f64(*xs), f64(*ws, seed=1), f64(ws[0], seed=2))
    proj = f64(*F.conv2d(*args, **kw).shape, seed=3, requires_grad=False)
    # a random projection of the output: one backward per check, every Jacobian entry counts
    assert gradcheck(lambda x, w, b: (F.conv2d(x, w, b, **kw) * proj).sum(), args)


@needs_torch
def test_conv2d_wrong_channels():
    x, w = mt.randn(1, 3, 8, 8), mt.randn(6, 1, 5, 5)
    with pytest.raises(RuntimeError) as m_err:
        F.conv2d(x, w)
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.functional.conv2d(torch.randn(1, 3, 8, 8), torch.randn(6, 1, 5, 5))
    assert str(m_err.value) == str(t_err.value)


# ---- pooling ---------------------------------------------------------------------------------

MAXPOOL = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
           dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=2, stride=1),
           dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
           dict(kernel_size=2, dilation=2, stride=1), dict(kernel_size=2, stride=2, padding=1,
                                                          ceil_mode=True)]
AVGPOOL = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
           dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
           dict(kernel_size=3, stride=2, ceil_mode=True),
           dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
           dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=True),
           dict(kernel_size=(2, 3), stride=(1, 2))]


@needs_torch
@pytest.mark.parametrize("kw", MAXPOOL)
def test_max_pool2d_parity(kw):
    # a random permutation: no ties, so the argmax (and the gradient) is unique
    x = np.random.default_rng(0).permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8)
    compare(torch, lambda L, x: L.nn.functional.max_pool2d(x, **kw), x.astype(np.float32))


@pytest.mark.parametrize("kw", MAXPOOL)
@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (3, 7, 8)])
def test_max_pool2d_return_indices(kw, shape):
    """The indices are each maximum's flat position in its plane: gathering x there gives the
    output (checked with NumPy), and they equal torch's; the values still backpropagate."""
    x = np.random.default_rng(1).permutation(int(np.prod(shape))).reshape(shape) / 7.0
    t = mt.tensor(x, dtype=mt.float32, requires_grad=True)
    y, idx = F.max_pool2d(t, return_indices=True, **kw)
    assert idx.dtype == mt.int64 and idx.shape == y.shape and not idx.requires_grad
    planes = x.reshape(-1, shape[-2] * shape[-1]).astype(np.float32)
    gathered = np.take_along_axis(planes, idx.numpy().reshape(planes.shape[0], -1), axis=1)
    np.testing.assert_array_equal(gathered.reshape(y.shape), y.detach().numpy())
    y.sum().backward()
    y2 = F.max_pool2d(mt.tensor(x, dtype=mt.float32), **kw)
    np.testing.assert_array_equal(y2.numpy(), y.detach().numpy())
    assert t.grad.sum().item() == y.numel()
    module_y, module_idx = mt.nn.MaxPool2d(return_indices=True, **kw)(mt.tensor(x))
    np.testing.assert_array_equal(module_idx.numpy(), idx.numpy())
    if torch is not None:
        ty, tidx = torch.nn.functional.max_pool2d(torch.tensor(x, dtype=torch.float32),
                                                  return_indices=True, **kw)
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


@pytest.mark.parametrize("kw", MAXPOOL)
def test_max_pool2d_gradcheck(kw):
    x = np.random.default_rng(0).permutation(7 * 6).reshape(1, 1, 7, 6) / 10.0
    assert gradcheck(lambda x: F.max_pool2d(x, **kw),
                     (mt.tensor(x, dtype=mt.float64, requires_grad=True),))


@needs_torch
@pytest.mark.parametrize("kw", AVGPOOL)
def test_avg_pool2d_parity(kw):
    compare(torch, lambda L, x: L.nn.functional.avg_pool2d(x, **kw), rand(2, 3, 7, 8))


@pytest.mark.parametrize("kw", AVGPOOL)
def test_avg_pool2d_gradcheck(kw):
    assert gradcheck(lambda x: F.avg_pool2d(x, **kw), (f64(1, 1, 7, 6),))


AVG_DIVISOR = [dict(kernel_size=2, divisor_override=3),
               dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=2),
               dict(kernel_size=(2, 3), stride=1, padding=(1, 1), divisor_override=-4)]


@pytest.mark.parametrize("kw", AVG_DIVISOR)
def test_avg_pool2d_divisor_override(kw):
    """Each window's sum (NumPy, over the clipped window) divided by the override; parity with
    torch and finite differences."""
    x = rand(2, 3, 7, 8).astype(np.float64)
    y = F.avg_pool2d(mt.tensor(x), **kw).numpy()
    k = kw["kernel_size"] if isinstance(kw["kernel_size"], tuple) else (kw["kernel_size"],) * 2
    s = kw.get("stride", k)
    s = s if isinstance(s, tuple) else (s, s)
    p = kw.get("padding", 0)
    p = p if isinstance(p, tuple) else (p, p)
    padded = np.pad(x, ((0, 0), (0, 0), (p[0], p[0] + k[0]), (p[1], p[1] + k[1])))
    want = np.empty(y.shape)
    for oh in range(y.shape[2]):
        for ow in range(y.shape[3]):
            r, c = oh * s[0], ow * s[1]
            want[:, :, oh, ow] = padded[:, :, r:r + k[0], c:c + k[1]].sum(axis=(2, 3))
    np.testing.assert_allclose(y, want / kw["divisor_override"], rtol=1e-12)
    assert gradcheck(lambda t: F.avg_pool2d(t, **kw), (f64(1, 2, 7, 6),))
    if torch is not None:
        compare(torch, lambda L, t: L.nn.functional.avg_pool2d(t, **kw), rand(2, 3, 7, 8))


def test_avg_pool2d_divisor_zero():
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool2d(mt.ones(1, 1, 4, 4), 2, divisor_override=0)
    module = mt.nn.AvgPool2d(2, divisor_override=3)
    np.testing.assert_allclose(module(mt.ones(1, 1, 4, 4)).numpy(), np.full((1, 1, 2, 2), 4 / 3))


ADAPTIVE = [((2, 3, 7, 7), 1), ((2, 3, 7, 7), (3, 2)), ((1, 2, 5, 8), (None, 3)),
            ((1, 2, 6, 6), (4, 4)), ((2, 5, 5), 2)]


@needs_torch
@pytest.mark.parametrize("shape, out", ADAPTIVE)
def test_adaptive_avg_pool2d_parity(shape, out):
    compare(torch, lambda L, x: L.nn.functional.adaptive_avg_pool2d(x, out), rand(*shape),
            check_name=out != 1)  # torch's 1x1 fast path records MeanBackward1 as we do


@pytest.mark.parametrize("shape, out", ADAPTIVE)
def test_adaptive_avg_pool2d_gradcheck(shape, out):
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, out), (f64(*shape),))


# ---- batch norm ------------------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_parity(shape, training, affine):
    c = shape[1]
    stats = {}

    def fn(L, x, *wb):
        rm = L.tensor(rand(c, seed=3))
        rv = L.tensor(rand(c, low=0.5, high=2, seed=4))
        out = L.nn.functional.batch_norm(x, rm, rv, *wb, training=training, momentum=0.2)
        stats[L.__name__] = (rm.numpy(), rv.numpy())
        return out

    arrays = [rand(*shape)] + ([rand(c, seed=1), rand(c, seed=2)] if affine else [])
    compare(torch, fn, *arrays, rtol=1e-4, atol=1e-4)
    for a, b in zip(stats["microtorch"], stats["torch"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(training):
    rm = mt.tensor(rand(3, seed=3, dtype=np.float64), dtype=mt.float64)
    rv = mt.tensor(rand(3, low=0.5, high=2, seed=4, dtype=np.float64), dtype=mt.float64)
    for shape in ((4, 3), (2, 3, 2, 3)):
        args = (f64(*shape), f64(3, seed=1), f64(3, seed=2))
        assert gradcheck(lambda x, w, b: F.batch_norm(x, rm.clone(), rv.clone(), w, b,
                                                      training=training), args)


# ---- activations -----------------------------------------------------------------------------

ACTIVATIONS = {
    "relu": lambda F, x: F.relu(x),
    "leaky_relu": lambda F, x: F.leaky_relu(x),
    "leaky_relu_0.2": lambda F, x: F.leaky_relu(x, 0.2),
    "gelu": lambda F, x: F.gelu(x),
    "gelu_tanh": lambda F, x: F.gelu(x, approximate="tanh"),
    "sigmoid": lambda F, x: F.sigmoid(x),
    "tanh": lambda F, x: F.tanh(x),
    "silu": lambda F, x: F.silu(x),
    "softmax_0": lambda F, x: F.softmax(x, 0),
    "softmax_1": lambda F, x: F.softmax(x, dim=1),
    "softmax_-1": lambda F, x: F.softmax(x, -1),
    "log_softmax_0": lambda F, x: F.log_softmax(x, 0),
    "log_softmax_1": lambda F, x: F.log_softmax(x, dim=1),
    "log_softmax_-1": lambda F, x: F.log_softmax(x, -1),
}
NO_NAME_CHECK = {"silu", "sigmoid", "tanh"}  # torch records SiluBackward0; we compose ops


@needs_torch
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_parity(name):
    x = rand(3, 4, 5, low=-4, high=4)
    x[0, 0, :2] = (0.5, -0.5)
    compare(torch, lambda L, x: ACTIVATIONS[name](L.nn.functional, x), x,
            check_name=name not in NO_NAME_CHECK)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_gradcheck(name):
    x = f64(2, 3, 4, low=-3, high=3)
    x.data[x.data.abs() < 0.05] = 0.5  # away from relu's kink
    assert gradcheck(lambda x: ACTIVATIONS[name](F, x), (x,))


@needs_torch
def test_softmax_large_values_and_implicit_dim():
    x = rand(2, 5) * 100
    compare(torch, lambda L, x: L.nn.functional.log_softmax(x * 10, 1), x)
    compare(torch, lambda L, x: L.nn.functional.softmax(x, 1), x + 1000)


def test_gelu_bad_approximate():
    with pytest.raises(RuntimeError, match="approximate"):
        F.gelu(mt.randn(3), approximate="fast")


@needs_torch
def test_inplace_relu_and_leaky_relu():
    for lib in (mt, torch):
        x = lib.tensor([-1.0, 2.0])
        y = lib.nn.functional.relu(x, inplace=True)
        assert y is x and x.tolist() == [0.0, 2.0]
    m = mt.tensor([-1.0, 2.0])
    mt.nn.functional.leaky_relu(m, 0.5, inplace=True)
    assert m.tolist() == [-0.5, 2.0]


# ---- dropout ---------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_statistics(p):
    mt.manual_seed(0)
    x = mt.ones(200, 200)
    y = F.dropout(x, p)
    kept = (y != 0).float().mean().item()
    assert abs(kept - (1 - p)) < 0.01
    vals = y[y != 0]
    np.testing.assert_allclose(vals.numpy(), 1 / (1 - p), rtol=1e-6)
    assert abs(y.mean().item() - 1) < 0.03


def test_dropout_gradient_and_modes():
    mt.manual_seed(1)
    x = mt.ones(50, 50, requires_grad=True)
    y = F.dropout(x, 0.3)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())  # grad = mask / (1 - p)
    h = x * 1
    F.dropout(h, 0.3, inplace=True).sum().backward()  # through the overwritten input
    assert x.grad.shape == (50, 50)
    assert F.dropout(x, 0.3, training=False) is x
    assert float(F.dropout(x, 1.0).abs().sum()) == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)


# ---- misc ------------------------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("pad", [(1, 1), (1, 2, 0, 3), (0, 1, 2, 0, 1, 1)])
def test_pad_parity(pad):
    compare(torch, lambda L, x: L.nn.functional.pad(x, pad, value=0.5), rand(2, 3, 4),
            check_name=False)


@needs_torch
def test_one_hot_parity():
    t = np.array([0, 2, 1, 2])
    m = F.one_hot(mt.tensor(t))
    r = torch.nn.functional.one_hot(torch.tensor(t))
    assert m.dtype == mt.int64 and m.tolist() == r.tolist()
    assert F.one_hot(mt.tensor(t), 5).tolist() == torch.nn.functional.one_hot(
        torch.tensor(t), 5).tolist()


@needs_torch
def test_linear_wrong_feature_size():
    with pytest.raises(RuntimeError) as m_err:
        F.linear(mt.randn(4, 7), mt.randn(3, 5))
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.functional.linear(torch.randn(4, 7), torch.randn(3, 5))
    assert str(m_err.value) == str(t_err.value)
