"""Tests of the CPU backend's neural-network kernels: conv, pooling, batch norm, softmax.

NumPy-only references (a direct convolution loop, naive pooling, textbook formulas and the
adjoint identity <conv(x), gy> = <x, conv_grad_input(gy)>) run everywhere; comparisons with
``torch.nn.functional`` run where PyTorch is installed.
"""

import importlib
import itertools

import numpy as np
import pytest

from microtorch.backends.geometry import (AvgPool2dGeometry, Conv2dGeometry, MaxPool2dGeometry,
                                         Window2d, check_pool_geometry, conv_output_shape)

# The package re-exports functions named like these modules (cpu.softmax is the function):
# fetch the modules themselves.
conv, norm, pool, softmax, threads = (
    importlib.import_module(f"microtorch.backends.cpu.{name}")
    for name in ("conv", "norm", "pool", "softmax", "threads"))

RNG = np.random.default_rng(1234)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _rand(shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-4)


# ---------------------------------------------------------------- geometry

def test_geometry_named_tuples():
    geom = Conv2dGeometry(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=1)
    window = Window2d.of_conv((4, 3, 3, 2), geom)
    assert window == Window2d(kh=3, kw=2, sh=2, sw=1, ph=1, pw=0, dh=1, dw=2)
    assert type(window.flat()) is tuple and window.flat() == (3, 2, 2, 1, 1, 0, 1, 2)
    assert conv_output_shape((2, 3, 7, 6), (4, 3, 3, 2), geom) == (2, 4, 4, 4)
    avg = AvgPool2dGeometry(kernel=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True,
                            count_include_pad=False)
    assert avg.divisor_override is None and avg.dilation == (1, 1)
    assert Window2d.of_pool(avg) == (3, 3, 2, 2, 1, 1, 1, 1)
    assert check_pool_geometry((1, 1, 6, 5), avg) == (4, 3)
    pool_geom = MaxPool2dGeometry(kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(2, 1),
                                  ceil_mode=False)
    assert Window2d.of_pool(pool_geom) == (2, 2, 2, 2, 0, 0, 2, 1)
    assert check_pool_geometry((1, 1, 6, 5), pool_geom) == (2, 2)


# ---------------------------------------------------------------- convolution

def _conv_naive(x, w, stride, padding, dilation, groups):
    """Direct 7-loop convolution in NumPy (tiny shapes only)."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    OH = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=np.float64)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    Og = O // groups
    y = np.zeros((N, O, OH, OW))
    for o in range(O):
        g = o // Og
        for oh in range(OH):
            for ow in range(OW):
                patch = xp[:, g * Cg:(g + 1) * Cg,
                           oh * sh:oh * sh + dh * (kh - 1) + 1:dh,
                           ow * sw:ow * sw + dw * (kw - 1) + 1:dw]
                y[:, o, oh, ow] = (patch * w[o]).sum(axis=(1, 2, 3))
    return y


# (x shape, w shape, stride, padding, dilation, groups)
CONV_CASES = [
    ((2, 3, 7, 9), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    ((3, 4, 10, 11), (6, 2, 3, 2), (2, 3), (1, 0), (2, 1), 2),
    ((2, 4, 5, 5), (4, 1, 3, 3), (1, 1), (1, 1), (1, 1), 4),       # depthwise
    ((2, 4, 6, 7), (8, 1, 3, 3), (2, 2), (1, 1), (1, 1), 4),       # depthwise, multiplier 2
    ((2, 8, 6, 6), (4, 8, 1, 1), (1, 1), (0, 0), (1, 1), 1),       # pointwise, batched
    ((2, 4, 33, 32), (4, 2, 1, 1), (1, 1), (0, 0), (1, 1), 2),     # pointwise, one GEMM per image
    ((2, 8, 6, 6), (4, 8, 1, 1), (2, 2), (0, 0), (1, 1), 1),       # 1x1 stride 2
    ((1, 3, 4, 4), (2, 3, 3, 3), (3, 3), (2, 2), (3, 3), 1),       # big pad and dilation
    ((2, 3, 13, 12), (5, 3, 7, 7), (2, 2), (3, 3), (1, 1), 1),     # conv1-like
    ((2, 2, 5, 4), (3, 2, 5, 4), (1, 1), (0, 0), (1, 1), 1),       # 1x1 output
    ((2, 6, 3, 3), (6, 6, 3, 3), (1, 1), (1, 1), (1, 1), 1),       # tiny maps
    ((2, 2, 66, 34), (2, 2, 3, 3), (2, 1), (2, 1), (1, 1), 1),     # L >= 1024 per image
    ((3, 5, 9, 8), (20, 5, 3, 3), (1, 1), (1, 1), (1, 1), 1),      # O, C not multiples of 8
    ((2, 3, 9, 10), (7, 3, 3, 2), (1, 1), (2, 1), (2, 1), 1),      # stride 1, dilated
    ((3, 9, 8, 8), (4, 9, 3, 3), (1, 1), (0, 0), (1, 1), 1),       # stride 1, no padding
]

# Every path of the convolution: im2col or (stride 1, one group) implicit GEMM, and whole
# images per thread or threads inside each kernel (set through the plan's thresholds).
CONV_PATHS = {"im2col": (0, 10**9), "implicit": (10**9, 10**9),
              "im2col-by-image": (0, 1), "implicit-by-image": (10**9, 1)}


@pytest.fixture(params=list(CONV_PATHS))
def conv_path(request, monkeypatch):
    junk, batch_l = CONV_PATHS[request.param]
    monkeypatch.setattr(conv, "_IMPLICIT_JUNK", junk)
    monkeypatch.setattr(conv, "_BATCH_L", batch_l)
    monkeypatch.setattr(threads, "_threads", 2)  # as on a 2-core machine, whatever this one has
    return request.param


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_naive_and_adjoints(case, conv_path):
    xs, ws, s, p, d, g = case
    geom = Conv2dGeometry(s, p, d, g)
    x, w = _rand(xs), _rand(ws)
    y = conv.conv2d(x, w, geom)
    np.testing.assert_allclose(y, _conv_naive(x, w, s, p, d, g), rtol=1e-10, atol=1e-10)
    gy = _rand(y.shape)
    gx = conv.conv2d_grad_input(gy, w, xs, geom)
    gw = conv.conv2d_grad_weight(x, gy, ws, geom)
    assert gx.shape == xs and gw.shape == ws
    # conv is linear in x and in w: <conv(x, w), gy> = <x, gx> = <w, gw>
    inner = np.vdot(y, gy)
    assert np.isclose(np.vdot(x, gx), inner, rtol=1e-10)
    assert np.isclose(np.vdot(w, gw), inner, rtol=1e-10)
    # and each gradient is the exact adjoint: check against unit perturbations of a few entries
    for flat in RNG.choice(x.size, 3, replace=False):
        e = np.zeros(x.size)
        e[flat] = 1
        ye = _conv_naive(e.reshape(xs), w, s, p, d, g)
        assert np.isclose(gx.ravel()[flat], np.vdot(ye, gy), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(torch, case, dtype, conv_path):
    F = torch.nn.functional
    xs, ws, s, p, d, g = case
    geom = Conv2dGeometry(s, p, d, g)
    x, w = _rand(xs, dtype), _rand(ws, dtype)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    ty = F.conv2d(tx, tw, None, s, p, d, g)
    gy = _rand(tuple(ty.shape), dtype)
    ty.backward(torch.tensor(gy))
    y = conv.conv2d(x, w, geom)
    gx = conv.conv2d_grad_input(gy, w, xs, geom)
    gw = conv.conv2d_grad_weight(x, gy, ws, geom)
    for got, want in ((y, ty.detach()), (gx, tx.grad), (gw, tw.grad)):
        assert got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_allclose(got, want.numpy(), **_tol(dtype))


def test_conv2d_chunked_batch(monkeypatch):
    """A batch too big for one im2col buffer is processed in chunks with the same result."""
    xs, ws, s, p, d, g = ((5, 4, 6, 5), (6, 2, 3, 3), (1, 2), (1, 1), (1, 1), 2)
    geom = Conv2dGeometry(s, p, d, g)
    x, w = _rand(xs), _rand(ws)
    y = conv.conv2d(x, w, geom)
    gy = _rand(y.shape)
    gx = conv.conv2d_grad_input(gy, w, xs, geom)
    gw = conv.conv2d_grad_weight(x, gy, ws, geom)
    monkeypatch.setattr(conv, "_MAX_COLS", 2 * 18 * 18)  # two images per chunk: 2 + 2 + 1
    assert conv._Plan(xs, ws, geom).nb == 2
    np.testing.assert_allclose(conv.conv2d(x, w, geom), y, rtol=1e-12)
    np.testing.assert_allclose(conv.conv2d_grad_input(gy, w, xs, geom), gx, rtol=1e-12)
    for deep in (0, 10**9):  # the weight gradient's transposed and direct GEMM layouts
        monkeypatch.setattr(conv, "_GW_TRANSPOSED_L", deep)
        np.testing.assert_allclose(conv.conv2d_grad_weight(x, gy, ws, geom), gw,
                                   rtol=1e-12)


def test_conv2d_non_contiguous_input():
    x = _rand((3, 2, 6, 5)).transpose(1, 0, 2, 3)
    w = _rand((4, 3, 3, 3))
    np.testing.assert_allclose(conv.conv2d(x, w, Conv2dGeometry((1, 1), (1, 1), (1, 1), 1)),
                               _conv_naive(x, w, (1, 1), (1, 1), (1, 1), 1), rtol=1e-10)


# ---------------------------------------------------------------- pooling

def _max_pool_naive(x, k, s, p, d, ceil_mode):
    N, C, H, W = x.shape
    OH = pool.pooled_size(H, k[0], s[0], p[0], d[0], ceil_mode)
    OW = pool.pooled_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    y = np.full((N, C, OH, OW), -np.inf)
    idx = np.zeros((N, C, OH, OW), dtype=np.int64)
    for oh, ow in itertools.product(range(OH), range(OW)):
        for i, j in itertools.product(range(k[0]), range(k[1])):
            ih, iw = oh * s[0] - p[0] + i * d[0], ow * s[1] - p[1] + j * d[1]
            if 0 <= ih < H and 0 <= iw < W:
                v = x[:, :, ih, iw]
                better = v > y[:, :, oh, ow]
                y[:, :, oh, ow] = np.where(better, v, y[:, :, oh, ow])
                idx[:, :, oh, ow] = np.where(better, ih * W + iw, idx[:, :, oh, ow])
    return y, idx


def _avg_pool_naive(x, k, s, p, ceil_mode, count_include_pad):
    N, C, H, W = x.shape
    OH = pool.pooled_size(H, k[0], s[0], p[0], 1, ceil_mode)
    OW = pool.pooled_size(W, k[1], s[1], p[1], 1, ceil_mode)
    y = np.zeros((N, C, OH, OW))
    for oh, ow in itertools.product(range(OH), range(OW)):
        h0, w0 = oh * s[0] - p[0], ow * s[1] - p[1]
        h1, w1 = min(h0 + k[0], H + p[0]), min(w0 + k[1], W + p[1])
        area = (h1 - h0) * (w1 - w0)
        h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
        if not count_include_pad:
            area = (h1 - h0) * (w1 - w0)
        if h0 < h1 and w0 < w1:
            y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / area
    return y


# (x shape, kernel, stride, padding, dilation)
POOL_CASES = [
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1)),
    ((2, 3, 9, 7), (3, 3), (2, 2), (1, 1), (1, 1)),    # ResNet stem, odd sizes
    ((1, 2, 10, 11), (3, 2), (2, 3), (1, 1), (1, 1)),
    ((1, 2, 11, 9), (3, 3), (3, 2), (1, 0), (2, 2)),   # dilation
    ((2, 1, 5, 5), (4, 4), (3, 3), (2, 1), (1, 1)),
    ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0), (1, 1)),
]


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool2d_naive(case, ceil_mode):
    xs, k, s, p, d = case
    x = _rand(xs)
    y, idx = pool.max_pool2d(x, MaxPool2dGeometry(k, s, p, d, ceil_mode))
    y_ref, idx_ref = _max_pool_naive(x, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    assert idx.dtype == np.int64
    gy = _rand(y.shape)
    gx = pool.max_pool2d_backward(gy, idx, xs)
    gx_ref = np.zeros((xs[0] * xs[1], xs[2] * xs[3]))
    for plane in range(gx_ref.shape[0]):
        np.add.at(gx_ref[plane], idx.reshape(gx_ref.shape[0], -1)[plane],
                  gy.reshape(gx_ref.shape[0], -1)[plane])
    np.testing.assert_allclose(gx, gx_ref.reshape(xs), rtol=1e-12)


def test_max_pool2d_ties_nan_and_inf():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 2:, 2:] = -np.inf
    y, idx = pool.max_pool2d(x, MaxPool2dGeometry((2, 2), (2, 2), (0, 0), (1, 1), False))
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 5
    assert y[0, 0, 0, 1] == 0 and idx[0, 0, 0, 1] == 2        # first of tied maxima
    assert y[0, 0, 1, 1] == -np.inf and idx[0, 0, 1, 1] == 10  # all -inf: first element


@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("case", POOL_CASES[:5])
def test_avg_pool2d_naive(case, ceil_mode, count_include_pad):
    xs, k, s, p, _ = case
    x = _rand(xs)
    y = pool.avg_pool2d(x, AvgPool2dGeometry(k, s, p, ceil_mode, count_include_pad))
    np.testing.assert_allclose(y, _avg_pool_naive(x, k, s, p, ceil_mode, count_include_pad),
                               rtol=1e-12, atol=1e-14)
    gy = _rand(y.shape)
    gx = pool.avg_pool2d_backward(gy, xs, AvgPool2dGeometry(k, s, p, ceil_mode,
                                                              count_include_pad))
    assert np.isclose(np.vdot(x, gx), np.vdot(y, gy), rtol=1e-10)  # linear: adjoint identity


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool2d_matches_torch(torch, case, ceil_mode, dtype):
    F = torch.nn.functional
    xs, k, s, p, d = case
    x = _rand(xs, dtype)
    tx = torch.tensor(x, requires_grad=True)
    ty, tidx = F.max_pool2d(tx, k, s, p, d, ceil_mode=ceil_mode, return_indices=True)
    gy = _rand(tuple(ty.shape), dtype)
    ty.backward(torch.tensor(gy))
    y, idx = pool.max_pool2d(x, MaxPool2dGeometry(k, s, p, d, ceil_mode))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())
    np.testing.assert_allclose(pool.max_pool2d_backward(gy, idx, xs), tx.grad.numpy(),
                               **_tol(dtype))
    if d != (1, 1):
        return
    for cip in (False, True):
        tx.grad = None
        ty = F.avg_pool2d(tx, k, s, p, ceil_mode=ceil_mode, count_include_pad=cip)
        ty.backward(torch.tensor(gy))
        y = pool.avg_pool2d(x, AvgPool2dGeometry(k, s, p, ceil_mode, cip))
        assert y.dtype == dtype
        np.testing.assert_allclose(y, ty.detach().numpy(), **_tol(dtype))
        gx = pool.avg_pool2d_backward(gy, xs, AvgPool2dGeometry(k, s, p, ceil_mode, cip))
        np.testing.assert_allclose(gx, tx.grad.numpy(), **_tol(dtype))


@pytest.mark.parametrize("xs,out", [((2, 3, 7, 5), (3, 2)), ((1, 2, 4, 4), (1, 1)),
                                    ((1, 1, 3, 5), (5, 7)), ((2, 2, 6, 6), (6, 6))])
def test_adaptive_avg_pool2d(xs, out):
    x = _rand(xs)
    y = pool.adaptive_avg_pool2d(x, out)
    H, W = xs[2:]
    ref = np.empty(xs[:2] + tuple(out))
    for i, j in itertools.product(range(out[0]), range(out[1])):
        hs, he = (i * H) // out[0], -(-((i + 1) * H) // out[0])
        ws, we = (j * W) // out[1], -(-((j + 1) * W) // out[1])
        ref[:, :, i, j] = x[:, :, hs:he, ws:we].mean(axis=(2, 3))
    np.testing.assert_allclose(y, ref, rtol=1e-12)
    gy = _rand(y.shape)
    gx = pool.adaptive_avg_pool2d_backward(gy, xs)
    assert np.isclose(np.vdot(x, gx), np.vdot(y, gy), rtol=1e-10)


def test_adaptive_avg_pool2d_matches_torch(torch):
    x = _rand((2, 3, 7, 9), np.float32)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.adaptive_avg_pool2d(tx, (3, 4))
    gy = _rand(tuple(ty.shape), np.float32)
    ty.backward(torch.tensor(gy))
    y = pool.adaptive_avg_pool2d(x, (3, 4))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pool.adaptive_avg_pool2d_backward(gy, x.shape),
                               tx.grad.numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- reference kernels
#
# Each fast kernel has a textbook reference beside it (conv.conv2d_reference, ...): the same
# cases must give the same numbers (exactly where no sum is reordered).

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_reference_matches_fast(case, dtype, conv_path):
    xs, ws, s, p, d, g = case
    geom = Conv2dGeometry(s, p, d, g)
    x, w = _rand(xs, dtype), _rand(ws, dtype)
    y = conv.conv2d_reference(x, w, geom)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, conv.conv2d(x, w, geom), **_tol(dtype))
    gy = _rand(y.shape, dtype)
    gx = conv.conv2d_grad_input_reference(gy, w, xs, geom)
    gw = conv.conv2d_grad_weight_reference(x, gy, ws, geom)
    assert gx.shape == xs and gw.shape == ws and gx.dtype == gw.dtype == dtype
    np.testing.assert_allclose(gx, conv.conv2d_grad_input(gy, w, xs, geom), **_tol(dtype))
    np.testing.assert_allclose(gw, conv.conv2d_grad_weight(x, gy, ws, geom), **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_conv2d_reference_integers_wrap_like_int64(dtype):
    """Integer convolutions wrap around in their dtype: the sum in 64 bits, then cast."""
    geom = Conv2dGeometry((2, 1), (1, 1), (1, 2), 2)
    x = RNG.integers(0, 250, (2, 4, 7, 6)).astype(dtype)
    w = RNG.integers(0, 250, (6, 2, 3, 2)).astype(dtype)
    wide = conv.conv2d_reference(x.astype(np.int64), w.astype(np.int64), geom)
    np.testing.assert_array_equal(conv.conv2d_reference(x, w, geom), wide.astype(dtype))
    np.testing.assert_array_equal(conv.conv2d(x, w, geom), wide.astype(dtype))


def test_conv2d_reference_refuses_bad_geometry():
    x, w = _rand((1, 2, 4, 4)), _rand((2, 2, 3, 3))
    with pytest.raises(ValueError, match="stride"):
        conv.conv2d_reference(x, w, Conv2dGeometry((0, 1), (0, 0), (1, 1), 1))
    with pytest.raises(ValueError, match="gy has shape"):
        conv.conv2d_grad_input_reference(_rand((1, 2, 3, 3)), w, x.shape,
                                         Conv2dGeometry((1, 1), (0, 0), (1, 1), 1))
    with pytest.raises(ValueError, match="gy has shape"):
        conv.conv2d_grad_weight_reference(x, _rand((1, 2, 3, 3)), w.shape,
                                          Conv2dGeometry((1, 1), (0, 0), (1, 1), 1))


# the pooling cases, plus a window that dilation steps over the whole input (argmax -1)
REFERENCE_POOL_CASES = POOL_CASES + [((1, 2, 1, 4), (2, 2), (1, 1), (1, 1), (2, 2))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("case", REFERENCE_POOL_CASES)
def test_max_pool2d_reference_matches_fast(case, ceil_mode, dtype):
    xs, k, s, p, d = case
    geom = MaxPool2dGeometry(k, s, p, d, ceil_mode)
    x = (_rand(xs) * 50).astype(dtype)
    y, idx = pool.max_pool2d_reference(x, geom)
    y_fast, idx_fast = pool.max_pool2d(x, geom)
    np.testing.assert_array_equal(y, y_fast)
    np.testing.assert_array_equal(idx, idx_fast)
    if dtype in (np.float32, np.float64):
        gy = _rand(y.shape, dtype)
        np.testing.assert_array_equal(pool.max_pool2d_backward_reference(gy, idx, xs),
                                      pool.max_pool2d_backward(gy, idx, xs))


@pytest.mark.parametrize("max_pool2d", [pool.max_pool2d, pool.max_pool2d_reference])
def test_max_pool2d_ties_nan_and_inf_both_kernels(max_pool2d):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = np.nan
    x[0, 0, 2:, 2:] = -np.inf
    y, idx = max_pool2d(x, MaxPool2dGeometry((2, 2), (2, 2), (0, 0), (1, 1), False))
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 5    # the last NaN wins
    assert y[0, 0, 0, 1] == 0 and idx[0, 0, 0, 1] == 2         # first of tied maxima
    assert y[0, 0, 1, 1] == -np.inf and idx[0, 0, 1, 1] == 10  # all -inf: first element


@pytest.mark.parametrize("divisor_override", [None, 3])
@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("case", POOL_CASES)
def test_avg_pool2d_reference_matches_fast(case, ceil_mode, count_include_pad,
                                           divisor_override):
    xs, k, s, p, _ = case
    geom = AvgPool2dGeometry(k, s, p, ceil_mode, count_include_pad, divisor_override)
    for dtype in (np.float32, np.float64):
        x = _rand(xs, dtype)
        y = pool.avg_pool2d_reference(x, geom)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, pool.avg_pool2d(x, geom), **_tol(dtype))
        gy = _rand(y.shape, dtype)
        np.testing.assert_allclose(pool.avg_pool2d_backward_reference(gy, xs, geom),
                                   pool.avg_pool2d_backward(gy, xs, geom), **_tol(dtype))
    x = RNG.integers(-100, 100, xs)  # int64: the division rounds toward zero
    np.testing.assert_array_equal(pool.avg_pool2d_reference(x, geom), pool.avg_pool2d(x, geom))


@pytest.mark.parametrize("xs,out", [((2, 3, 7, 5), (3, 2)), ((1, 2, 4, 4), (1, 1)),
                                    ((1, 1, 3, 5), (5, 7)), ((2, 2, 6, 6), (6, 6)),
                                    ((1, 2, 9, 11), (4, 3))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adaptive_avg_pool2d_reference_matches_fast(xs, out, dtype):
    x = _rand(xs, dtype)
    y = pool.adaptive_avg_pool2d_reference(x, out)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, pool.adaptive_avg_pool2d(x, out), **_tol(dtype))
    gy = _rand(y.shape, dtype)
    np.testing.assert_allclose(pool.adaptive_avg_pool2d_backward_reference(gy, xs),
                               pool.adaptive_avg_pool2d_backward(gy, xs), **_tol(dtype))


def test_pool_references_refuse_bad_input():
    x = _rand((1, 1, 4, 4))
    with pytest.raises(ValueError, match="padding"):
        pool.max_pool2d_reference(x, MaxPool2dGeometry((2, 2), (2, 2), (2, 2), (1, 1), False))
    with pytest.raises(ValueError, match="argmax"):
        pool.max_pool2d_backward_reference(_rand((1, 1, 2, 2)), np.zeros((1, 1, 3, 2),
                                                                         np.int64), x.shape)
    with pytest.raises(ValueError, match="does not match"):
        pool.avg_pool2d_backward_reference(
            _rand((1, 1, 3, 3)), x.shape, AvgPool2dGeometry((2, 2), (2, 2), (0, 0), False, True))
    with pytest.raises(ValueError, match="output_size"):
        pool.adaptive_avg_pool2d_reference(x, (-1, 2))
    with pytest.raises(ValueError, match="does not match"):
        pool.adaptive_avg_pool2d_backward_reference(_rand((1, 2, 2, 2)), x.shape)


# ---------------------------------------------------------------- batch norm

@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (7, 2), (2, 5, 3), (1, 1, 1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_numpy(shape, dtype):
    x = _rand(shape, dtype) * 3 + 1
    axes = (0,) + tuple(range(2, len(shape)))
    mean, var = norm.batch_norm_stats(x)
    assert mean.dtype == dtype and var.dtype == dtype and mean.shape == (shape[1],)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=axes), **_tol(dtype))
    np.testing.assert_allclose(var, x64.var(axis=axes), **_tol(dtype))
    C = shape[1]
    bshape = (1, C) + (1,) * (len(shape) - 2)
    w, b = _rand(C, dtype), _rand(C, dtype)
    invstd = (1 / np.sqrt(var.astype(np.float64) + 1e-5)).astype(dtype)
    y = norm.batch_norm(x, w, b, mean, invstd)
    xhat = (x64 - mean.reshape(bshape)) * invstd.reshape(bshape)
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(y, xhat * w.reshape(bshape) + b.reshape(bshape), **_tol(dtype))
    np.testing.assert_allclose(norm.batch_norm(x, None, None, mean, invstd), xhat, **_tol(dtype))
    gy = _rand(shape, dtype)
    M = x.size // C
    for training in (True, False):
        gx, gw, gb = norm.batch_norm_backward(gy, x, w, mean, invstd, training)
        assert gx.dtype == gw.dtype == gb.dtype == dtype
        np.testing.assert_allclose(gb, gy.astype(np.float64).sum(axis=axes), **_tol(dtype))
        np.testing.assert_allclose(gw, (gy * xhat).sum(axis=axes), **_tol(dtype))
        k = (w * invstd).reshape(bshape).astype(np.float64)
        if training:
            ref = k * (gy - gy.sum(axis=axes, keepdims=True) / M
                       - xhat * (gy * xhat).sum(axis=axes, keepdims=True) / M)
        else:
            ref = k * gy
        np.testing.assert_allclose(gx, ref, rtol=1e-9 if dtype == np.float64 else 2e-3,
                                   atol=1e-9 if dtype == np.float64 else 2e-4)


def test_batch_norm_stats_accurate_with_large_offset():
    x = (RNG.standard_normal((16, 2, 32, 32)) * 0.01 + 1e4).astype(np.float32)
    mean, var = norm.batch_norm_stats(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2, 3)), rtol=1e-7)
    np.testing.assert_allclose(var, x64.var(axis=(0, 2, 3)), rtol=1e-4)


def test_batch_norm_backward_training_by_finite_differences():
    """Training mode: mean and invstd are functions of x; compare with central differences."""
    x, w, b = _rand((3, 2, 2, 3)), _rand(2), _rand(2)
    gy = _rand(x.shape)

    def loss(xv):
        mean, var = norm.batch_norm_stats(xv)
        return np.vdot(norm.batch_norm(xv, w, b, mean, 1 / np.sqrt(var + 1e-5)), gy)

    mean, var = norm.batch_norm_stats(x)
    gx, _, _ = norm.batch_norm_backward(gy, x, w, mean, 1 / np.sqrt(var + 1e-5), True)
    eps = 1e-6
    for flat in range(0, x.size, 5):
        e = np.zeros(x.size)
        e[flat] = eps
        e = e.reshape(x.shape)
        assert np.isclose(gx.ravel()[flat], (loss(x + e) - loss(x - e)) / (2 * eps),
                          rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_matches_torch(torch, dtype):
    F = torch.nn.functional
    x, w, b = _rand((4, 3, 5, 7), dtype), _rand(3, dtype), _rand(3, dtype)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = F.batch_norm(tx, None, None, tw, tb, training=True, eps=1e-5)
    gy = _rand(x.shape, dtype)
    ty.backward(torch.tensor(gy))
    mean, var = norm.batch_norm_stats(x)
    invstd = (1 / np.sqrt(var.astype(np.float64) + 1e-5)).astype(dtype)
    y = norm.batch_norm(x, w, b, mean, invstd)
    gx, gw, gb = norm.batch_norm_backward(gy, x, w, mean, invstd, True)
    tol = _tol(dtype) if dtype == np.float64 else dict(rtol=1e-3, atol=1e-4)
    for got, want in ((y, ty), (gx, tx.grad), (gw, tw.grad), (gb, tb.grad)):
        np.testing.assert_allclose(got, want.detach().numpy(), **tol)


# ---------------------------------------------------------------- softmax

def _softmax_ref(x, axis, log):
    x = x.astype(np.float64)
    z = x - x.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return z - lse if log else np.exp(z - lse)


SOFTMAX_CASES = [((5,), 0), ((4, 7), 1), ((4, 7), 0), ((3, 4, 5), 1), ((2, 3, 300), 1),
                 ((2, 600, 3), 0), ((2, 3, 4, 5), 3), ((1, 1), 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape,axis", SOFTMAX_CASES)
def test_softmax_numpy(shape, axis, log, dtype):
    x = _rand(shape, dtype) * 5
    y = softmax.softmax(x, axis, log)
    assert y.dtype == dtype and y.shape == shape
    ref = _softmax_ref(x, axis, log)
    np.testing.assert_allclose(y, ref, **_tol(dtype))
    gy = _rand(shape, dtype)
    gx = softmax.softmax_backward(gy, y, axis, log)
    g64 = gy.astype(np.float64)
    if log:
        want = g64 - np.exp(ref) * g64.sum(axis=axis, keepdims=True)
    else:
        want = ref * (g64 - (g64 * ref).sum(axis=axis, keepdims=True))
    assert gx.dtype == dtype
    np.testing.assert_allclose(gx, want, **_tol(dtype))


def test_softmax_extreme_values():
    x = np.array([[1000.0, 0.0, -1000.0], [-np.inf, 0.0, 0.0], [np.nan, 1.0, 2.0]],
                 dtype=np.float32)
    y = softmax.softmax(x, 1, False)
    np.testing.assert_allclose(y[0], [1, 0, 0])
    np.testing.assert_allclose(y[1], [0, 0.5, 0.5])
    assert np.isnan(y[2]).all()
    ly = softmax.softmax(x, 1, True)
    np.testing.assert_allclose(ly[0], [0, -1000, -2000])
    assert ly[1, 0] == -np.inf


@pytest.mark.parametrize("log", [False, True])
def test_softmax_matches_torch(torch, log):
    F = torch.nn.functional
    for shape, axis in SOFTMAX_CASES:
        x = _rand(shape, np.float32)
        tx = torch.tensor(x, requires_grad=True)
        ty = (F.log_softmax if log else F.softmax)(tx, dim=axis)
        gy = _rand(shape, np.float32)
        ty.backward(torch.tensor(gy))
        y = softmax.softmax(x, axis, log)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(softmax.softmax_backward(gy, y, axis, log),
                                   tx.grad.numpy(), rtol=1e-4, atol=1e-5)
