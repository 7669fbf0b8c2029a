"""CUDA conv, pooling, batch-norm and softmax kernels (forward and backward) against the CPU
backend and NumPy references (tiny shapes: simulator-friendly)."""

import importlib
import warnings

import numpy as np
import pytest

from microtorch.backends.geometry import AvgPool2dGeometry, Conv2dGeometry, MaxPool2dGeometry

RNG = np.random.default_rng(5)
warnings.filterwarnings("ignore", category=RuntimeWarning)


def _rand(shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def _cpu(name):
    try:
        return importlib.import_module("microtorch.backends.cpu." + name)
    except ImportError:
        pytest.skip(f"CPU backend module {name} is not available")


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)


def _conv_ref(x, w, stride, padding, dilation, groups):
    """Direct convolution loop in float64 (NumPy reference)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * cg:(g + 1) * cg, i * dh:i * dh + sh * oh:sh,
                           j * dw:j * dw + sw * ow:sw]
                y[:, oc] += np.einsum("nchw,c->nhw", patch, w[oc, :, i, j])
    return y


_CONV_CASES = [((2, 4, 5, 5), (6, 2, 3, 3), (2, 1), (1, 1), (1, 1), 2),
               ((1, 3, 6, 5), (2, 3, 3, 2), (1, 1), (0, 1), (2, 1), 1),
               ((2, 2, 4, 4), (3, 2, 1, 1), (1, 1), (0, 0), (1, 1), 1)]


@pytest.mark.parametrize("case", _CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_and_grads(K, case, dtype):
    xs, ws, stride, padding, dilation, groups = case
    x, w = _rand(xs, dtype), _rand(ws, dtype)
    geom = Conv2dGeometry(stride, padding, dilation, groups)
    y = K.to_numpy(K.conv2d(K.from_numpy(x), K.from_numpy(w), geom))
    assert y.dtype == dtype
    np.testing.assert_allclose(y, _conv_ref(x, w, *geom), **_tol(dtype))
    gy = _rand(y.shape, dtype)
    gx = K.to_numpy(K.conv2d_grad_input(K.from_numpy(gy), K.from_numpy(w), xs, geom))
    gw = K.to_numpy(K.conv2d_grad_weight(K.from_numpy(x), K.from_numpy(gy), ws, geom))
    # adjoint identities: <conv(x, w), gy> = <x, gx> = <w, gw>
    inner = (y.astype(np.float64) * gy).sum()
    np.testing.assert_allclose((x.astype(np.float64) * gx).sum(), inner, rtol=1e-4)
    np.testing.assert_allclose((w.astype(np.float64) * gw).sum(), inner, rtol=1e-4)
    cpu = _cpu("conv")
    np.testing.assert_allclose(gx, cpu.conv2d_grad_input(gy, w, xs, geom), **_tol(dtype))
    np.testing.assert_allclose(gw, cpu.conv2d_grad_weight(x, gy, ws, geom), **_tol(dtype))


@pytest.mark.parametrize("params", [((3, 3), (2, 2), (1, 1), (1, 1), True),
                                    ((2, 2), (2, 2), (0, 0), (1, 1), False),
                                    ((2, 3), (1, 2), (1, 1), (2, 1), False)])
def test_max_pool(K, params):
    cpu = _cpu("pool")
    x = _rand((2, 2, 5, 6))
    x[0, 0, 1, 1] = np.nan
    y, am = K.max_pool2d(K.from_numpy(x), MaxPool2dGeometry(*params))
    ry, ram = cpu.max_pool2d(x, MaxPool2dGeometry(*params))
    np.testing.assert_array_equal(K.to_numpy(y), ry)
    np.testing.assert_array_equal(K.to_numpy(am), ram)
    gy = _rand(ry.shape)
    np.testing.assert_allclose(K.to_numpy(K.max_pool2d_backward(K.from_numpy(gy), am, x.shape)),
                               cpu.max_pool2d_backward(gy, ram, x.shape), rtol=1e-6)


@pytest.mark.parametrize("params", [((3, 3), (2, 2), (1, 1), True, False),
                                    ((3, 3), (2, 2), (1, 1), True, True),
                                    ((2, 2), (2, 1), (0, 0), False, True),
                                    ((3, 3), (2, 2), (1, 1), True, True, 2)])   # divisor_override
def test_avg_pool(K, params):
    cpu = _cpu("pool")
    x = _rand((2, 2, 5, 6))
    geom = AvgPool2dGeometry(*params)
    y = K.avg_pool2d(K.from_numpy(x), geom)
    np.testing.assert_allclose(K.to_numpy(y), cpu.avg_pool2d(x, geom), rtol=1e-5, atol=1e-6)
    gy = _rand(y.shape)
    np.testing.assert_allclose(
        K.to_numpy(K.avg_pool2d_backward(K.from_numpy(gy), x.shape, geom)),
        cpu.avg_pool2d_backward(gy, x.shape, geom), rtol=1e-5, atol=1e-6)


def test_adaptive_avg_pool(K):
    cpu = _cpu("pool")
    x = _rand((1, 3, 5, 7))
    for size in ((1, 1), (2, 3), (5, 7)):
        y = K.adaptive_avg_pool2d(K.from_numpy(x), size)
        np.testing.assert_allclose(K.to_numpy(y), cpu.adaptive_avg_pool2d(x, size), rtol=1e-5,
                                   atol=1e-6)
        gy = _rand(size and (1, 3) + size)
        np.testing.assert_allclose(
            K.to_numpy(K.adaptive_avg_pool2d_backward(K.from_numpy(gy), x.shape)),
            cpu.adaptive_avg_pool2d_backward(gy, x.shape), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(4, 3, 2, 3), (5, 2), (3, 2, 4)])
def test_batch_norm(K, shape):
    x = _rand(shape) * 3 + 10
    c = shape[1]
    mean, var = (K.to_numpy(t) for t in K.batch_norm_stats(K.from_numpy(x)))
    axes = tuple(i for i in range(len(shape)) if i != 1)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axes), rtol=1e-5)
    np.testing.assert_allclose(var, x.astype(np.float64).var(axes), rtol=1e-4)
    w, b = _rand((c,)), _rand((c,))
    invstd = (1 / np.sqrt(var + 1e-5)).astype(np.float32)
    bshape = (1, c) + (1,) * (len(shape) - 2)
    xhat = (x - mean.reshape(bshape)) * invstd.reshape(bshape)
    y = K.to_numpy(K.batch_norm(*map(K.from_numpy, (x, w, b, mean, invstd))))
    np.testing.assert_allclose(y, xhat * w.reshape(bshape) + b.reshape(bshape), rtol=1e-4,
                               atol=1e-5)
    y0 = K.to_numpy(K.batch_norm(K.from_numpy(x), None, None, K.from_numpy(mean),
                                 K.from_numpy(invstd)))
    np.testing.assert_allclose(y0, xhat, rtol=1e-4, atol=1e-5)
    gy = _rand(shape)
    cpu = _cpu("norm")
    for training in (True, False):
        for weight in (w, None):
            got = K.batch_norm_backward(K.from_numpy(gy), K.from_numpy(x),
                                        None if weight is None else K.from_numpy(weight),
                                        K.from_numpy(mean), K.from_numpy(invstd), training)
            ref = cpu.batch_norm_backward(gy, x, weight, mean, invstd, training)
            for g, r in zip(got, ref):
                np.testing.assert_allclose(K.to_numpy(g), r, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("log", [False, True])
def test_softmax(K, axis, log):
    x = _rand((3, 4, 70 if axis == 2 else 5)) * 4
    y = K.softmax(K.from_numpy(x), axis, log)
    xm = x - x.max(axis, keepdims=True)
    lse = np.log(np.exp(xm).sum(axis, keepdims=True))
    ref = xm - lse if log else np.exp(xm - lse)
    np.testing.assert_allclose(K.to_numpy(y), ref, rtol=1e-5, atol=1e-6)
    gy = _rand(x.shape)
    if log:
        gref = gy - np.exp(ref) * gy.sum(axis, keepdims=True)
    else:
        gref = ref * (gy - (gy * ref).sum(axis, keepdims=True))
    np.testing.assert_allclose(K.to_numpy(K.softmax_backward(K.from_numpy(gy), y, axis, log)),
                               gref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_max_pool_integers(K, dtype):
    """The kernel started every window from dtype(-inf): garbage for integers. Windows of the
    dtype's minimum (with padding around them) must give the minimum, as on the CPU."""
    cpu = _cpu("pool")
    low = np.iinfo(dtype).min
    x = np.full((1, 2, 3, 3), low, dtype)
    x[0, 1] = np.arange(9).reshape(3, 3).astype(dtype)
    params = ((2, 2), (2, 2), (1, 1), (1, 1), False)
    y, am = K.max_pool2d(K.from_numpy(x), MaxPool2dGeometry(*params))
    ry, ram = cpu.max_pool2d(x, MaxPool2dGeometry(*params))
    np.testing.assert_array_equal(K.to_numpy(y), ry)
    np.testing.assert_array_equal(K.to_numpy(am), ram)
    np.testing.assert_array_equal(ry[0, 0], np.full((2, 2), low, dtype))
    np.testing.assert_array_equal(ry[0, 1], np.array([[0, 2], [6, 8]], dtype))


def test_conv2d_without_channels_is_zero(K):
    x, w = np.ones((1, 0, 4, 4), np.float32), np.ones((2, 0, 2, 2), np.float32)
    y = K.to_numpy(K.conv2d(K.from_numpy(x), K.from_numpy(w),
                            Conv2dGeometry((1, 1), (0, 0), (1, 1), 1)))
    np.testing.assert_array_equal(y, np.zeros((1, 2, 3, 3), np.float32))


def test_kernels_refuse_bad_geometry(K):
    """Each entry point checks the geometry itself: no launch reads outside its buffers."""
    x, w = K.from_numpy(np.ones((1, 1, 2, 12), np.float32)), K.from_numpy(np.ones((1, 1, 2, 1),
                                                                                  np.float32))
    calls = [lambda: K.conv2d(x, w, Conv2dGeometry((1, 1), (0, 0), (-5, 1), 1)),
             lambda: K.conv2d(x, w, Conv2dGeometry((1, 1), (0, -10), (1, 1), 1)),
             lambda: K.conv2d(x, w, Conv2dGeometry((0, 1), (0, 0), (1, 1), 1)),
             lambda: K.max_pool2d(x, MaxPool2dGeometry((2, 2), (2, 2), (2, 2), (1, 1), False)),
             lambda: K.max_pool2d(x, MaxPool2dGeometry((3, 3), (1, 1), (0, 0), (1, 1), False)),
             lambda: K.avg_pool2d(x, AvgPool2dGeometry((2, 2), (0, 2), (0, 0), False, True)),
             lambda: K.adaptive_avg_pool2d(x, (-1, 2)),
             lambda: K.avg_pool2d(K.from_numpy(np.ones((1, 1, 4, 4), np.int64)),
                                  AvgPool2dGeometry((2, 2), (2, 2), (0, 0), False, True))]
    for call in calls:
        with pytest.raises(ValueError, match="kernel"):
            call()


def test_max_pool_window_stepped_over_by_dilation(K):
    """Kernel 2, padding 1, dilation 3 on a 2x2 plane: the one window has no tap inside the
    input, so its output is -inf, its argmax -1 and its gradient reaches no element, as on the
    CPU."""
    cpu = _cpu("pool")
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    params = ((2, 2), (2, 2), (1, 1), (3, 3), False)
    y, am = K.max_pool2d(K.from_numpy(x), MaxPool2dGeometry(*params))
    ry, ram = cpu.max_pool2d(x, MaxPool2dGeometry(*params))
    np.testing.assert_array_equal(K.to_numpy(y), ry)
    np.testing.assert_array_equal(K.to_numpy(am), ram)
    assert ram.tolist() == [[[[-1]]]]
    gx = K.to_numpy(K.max_pool2d_backward(K.from_numpy(np.ones_like(ry)), am, x.shape))
    np.testing.assert_array_equal(gx, np.zeros_like(x))
