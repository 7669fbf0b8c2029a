"""Bad arguments to convolution, pooling, adaptive pooling and ``F.pad``: every one is refused
in Python, before any kernel, with PyTorch's exception class and message (issue 9: negative
dilation or padding made the CPU convolution read and write outside its buffers). Integer and
bool inputs compute what PyTorch computes or raise its error; the kernels themselves refuse
bad geometry even when called directly."""

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import microtorch as mt
import microtorch.nn.functional as F
from microtorch.backends.cpu import conv as cpu_conv
from microtorch.backends.cpu import pool as cpu_pool
from microtorch.backends.geometry import AvgPool2dGeometry, Conv2dGeometry, MaxPool2dGeometry

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def _ones(lib, *shape, dtype="float32"):
    return lib.ones(*shape, dtype=getattr(lib, dtype))


# Each case: (id, fn(lib) that calls the op, key words). With PyTorch installed the case must
# raise in both libraries, the same exception class, and (unless key words are given) the same
# message; key words, when given, must appear in both messages (a few of PyTorch's messages
# come from its C++ argument parser, worded around its overloads).
def _conv(lib, x=(1, 1, 5, 5), w=(1, 1, 2, 2), dtype="float32", wdtype=None, **kw):
    return lib.nn.functional.conv2d(_ones(lib, *x, dtype=dtype),
                                    _ones(lib, *w, dtype=wdtype or dtype), **kw)


def _max(lib, *args, x=(1, 1, 5, 5), dtype="float32", **kw):
    return lib.nn.functional.max_pool2d(_ones(lib, *x, dtype=dtype), *args, **kw)


def _avg(lib, *args, x=(1, 1, 5, 5), dtype="float32", **kw):
    return lib.nn.functional.avg_pool2d(_ones(lib, *x, dtype=dtype), *args, **kw)


def _adaptive(lib, size, x=(1, 1, 5, 5), dtype="float32"):
    return lib.nn.functional.adaptive_avg_pool2d(_ones(lib, *x, dtype=dtype), size)


def _pad(lib, pad, x=(1, 1, 5, 5), **kw):
    return lib.nn.functional.pad(_ones(lib, *x), pad, **kw)


BAD = [
    # conv2d: signs and ranges
    ("conv stride 0", lambda lib: _conv(lib, stride=0), None),
    ("conv stride -1", lambda lib: _conv(lib, stride=(1, -1)), None),
    ("conv padding -1", lambda lib: _conv(lib, padding=-1), None),
    ("conv padding (0,-2)", lambda lib: _conv(lib, padding=(0, -2)), None),
    ("conv padding (0,-1990)", lambda lib: _conv(lib, (1, 1, 2, 2000), (1, 1, 2, 1),
                                                 padding=(0, -1990)), None),
    ("conv dilation -1", lambda lib: _conv(lib, dilation=-1), None),
    ("conv dilation (-2000,1)", lambda lib: _conv(lib, (1, 1, 2, 10000), (1, 1, 2, 1),
                                                  dilation=(-2000, 1)), None),
    ("conv dilation 0", lambda lib: _conv(lib, dilation=0), None),
    ("conv groups 0", lambda lib: _conv(lib, groups=0), None),
    ("conv groups -1", lambda lib: _conv(lib, groups=-1), None),
    ("conv groups before stride", lambda lib: _conv(lib, stride=0, groups=0), None),
    ("conv padding before stride", lambda lib: _conv(lib, stride=0, padding=-1), None),
    ("conv weight not divisible", lambda lib: _conv(lib, (1, 2, 5, 5), (3, 1, 2, 2), groups=2),
     None),
    ("conv weight fewer than groups", lambda lib: _conv(lib, (1, 2, 5, 5), (1, 2, 2, 2),
                                                        groups=2), None),
    ("conv channels", lambda lib: _conv(lib, (1, 3, 5, 5), (2, 1, 2, 2), groups=2), None),
    ("conv kernel too big", lambda lib: _conv(lib, w=(1, 1, 6, 6)), None),
    ("conv dilated kernel too big", lambda lib: _conv(lib, w=(1, 1, 3, 3), dilation=3), None),
    ("conv empty H", lambda lib: _conv(lib, (1, 1, 0, 5)), None),
    ("conv kernel 0", lambda lib: _conv(lib, w=(1, 1, 0, 2)), None),
    ("conv out channels 0", lambda lib: _conv(lib, w=(0, 1, 2, 2)), None),
    ("conv input 2-D", lambda lib: _conv(lib, (5, 5)), None),
    ("conv input 5-D", lambda lib: _conv(lib, (1, 1, 1, 5, 5)), None),
    ("conv bias shape", lambda lib: lib.nn.functional.conv2d(
        _ones(lib, 1, 1, 5, 5), _ones(lib, 1, 1, 2, 2), _ones(lib, 2)), None),
    # conv2d: tuple lengths, strings, types
    ("conv stride (1,1,1)", lambda lib: _conv(lib, stride=(1, 1, 1)), None),
    ("conv stride []", lambda lib: _conv(lib, stride=[]), None),
    ("conv padding (1,1,1)", lambda lib: _conv(lib, padding=(1, 1, 1)), None),
    ("conv dilation (1,1,1)", lambda lib: _conv(lib, dilation=(1, 1, 1)), None),
    ("conv padding string", lambda lib: _conv(lib, padding="full"), None),
    ("conv same strided", lambda lib: _conv(lib, padding="same", stride=(1, 2)), None),
    ("conv stride float", lambda lib: _conv(lib, stride=1.0), ["stride", "float"]),
    ("conv stride bool", lambda lib: _conv(lib, stride=True), ["stride", "bool"]),
    ("conv stride None", lambda lib: _conv(lib, stride=None), ["stride", "NoneType"]),
    ("conv padding float", lambda lib: _conv(lib, padding=(1.5, 1)), ["padding"]),
    ("conv dilation float", lambda lib: _conv(lib, dilation=1.0), ["dilation", "float"]),
    ("conv groups float", lambda lib: _conv(lib, groups=1.0), ["groups", "float"]),
    ("conv groups bool", lambda lib: _conv(lib, groups=True), ["groups", "bool"]),
    # conv2d: dtypes
    ("conv bool", lambda lib: _conv(lib, dtype="bool"), None),
    ("conv float32 and float64", lambda lib: _conv(lib, wdtype="float64"), None),
    ("conv float64 and float32", lambda lib: _conv(lib, dtype="float64", wdtype="float32"), None),
    ("conv float32 and int64", lambda lib: _conv(lib, wdtype="int64"), None),
    ("conv int64 and float32", lambda lib: _conv(lib, dtype="int64", wdtype="float32"), None),
    ("conv int32 dilated", lambda lib: _conv(lib, dtype="int32", dilation=2), None),
    ("conv uint8 dilated", lambda lib: _conv(lib, dtype="uint8", dilation=(1, 2)), None),
    ("conv bool dilated", lambda lib: _conv(lib, dtype="bool", dilation=2), None),
    ("conv bias dtype", lambda lib: lib.nn.functional.conv2d(
        _ones(lib, 1, 1, 5, 5), _ones(lib, 1, 1, 2, 2), _ones(lib, 1, dtype="float64")), None),
    ("conv shapes before dtypes", lambda lib: _conv(lib, w=(1, 1, 6, 6), wdtype="float64"),
     None),
    # max_pool2d
    ("max kernel 0", lambda lib: _max(lib, 0), None),
    ("max kernel 0 stride 1", lambda lib: _max(lib, 0, 1), None),
    ("max kernel -1", lambda lib: _max(lib, -1), None),
    ("max kernel -3 stride 1", lambda lib: _max(lib, -3, 1), None),
    ("max stride 0", lambda lib: _max(lib, 2, 0), None),
    ("max stride -1", lambda lib: _max(lib, 2, -1), None),
    ("max padding -1", lambda lib: _max(lib, 2, padding=-1), None),
    ("max padding > half kernel", lambda lib: _max(lib, 2, padding=2), None),
    ("max padding > half kernel, dilated", lambda lib: _max(lib, 3, padding=2, dilation=2,
                                                            x=(1, 1, 9, 9)), None),
    ("max dilation 0", lambda lib: _max(lib, 2, dilation=0), None),
    ("max dilation -1", lambda lib: _max(lib, 2, dilation=-1), None),
    ("max kernel larger than input", lambda lib: _max(lib, 6), None),
    ("max output too small 1x2x10", lambda lib: _max(lib, 3, x=(1, 2, 10)), None),
    ("max kernel 2**40", lambda lib: _max(lib, 2 ** 40), None),
    ("max kernel (2,2,2)", lambda lib: _max(lib, (2, 2, 2)), None),
    ("max kernel ()", lambda lib: _max(lib, ()), None),
    ("max stride (1,1,1)", lambda lib: _max(lib, 2, (1, 1, 1)), None),
    ("max padding (1,1,1)", lambda lib: _max(lib, 2, padding=(1, 1, 1)), None),
    ("max dilation (1,1,1)", lambda lib: _max(lib, 2, dilation=(1, 1, 1)), None),
    ("max kernel float", lambda lib: _max(lib, 2.0), None),
    ("max kernel bool", lambda lib: _max(lib, True), None),
    ("max kernel (float, int)", lambda lib: _max(lib, (2.0, 2)), None),
    ("max stride float", lambda lib: _max(lib, 2, 1.0), None),
    ("max padding float", lambda lib: _max(lib, 2, 2, 1.0), None),
    ("max dilation float", lambda lib: _max(lib, 2, 2, 0, 1.0), None),
    ("max ceil_mode int", lambda lib: _max(lib, 2, 2, 0, 1, 1), None),
    ("max input 2-D", lambda lib: _max(lib, 2, x=(5, 5)), None),
    ("max input 5-D", lambda lib: _max(lib, 2, x=(1, 1, 1, 5, 5)), None),
    ("max zero channels", lambda lib: _max(lib, 2, x=(1, 0, 5, 5)), None),
    ("max zero height", lambda lib: _max(lib, 2, x=(1, 1, 0, 5)), None),
    ("max bool", lambda lib: _max(lib, 2, dtype="bool"), None),
    # avg_pool2d
    ("avg kernel 0", lambda lib: _avg(lib, 0), None),
    ("avg kernel -1", lambda lib: _avg(lib, -1), None),
    ("avg stride 0", lambda lib: _avg(lib, 2, 0), None),
    ("avg stride -1", lambda lib: _avg(lib, 2, -1), None),
    ("avg padding -1", lambda lib: _avg(lib, 2, padding=-1), None),
    ("avg padding > half kernel", lambda lib: _avg(lib, 2, padding=2), None),
    ("avg kernel larger than input", lambda lib: _avg(lib, 6), None),
    ("avg output too small 1x2x10", lambda lib: _avg(lib, 3, x=(1, 2, 10)), None),
    ("avg kernel (2,2,2)", lambda lib: _avg(lib, (2, 2, 2)), None),
    ("avg kernel float", lambda lib: _avg(lib, 2.0), None),
    ("avg stride float", lambda lib: _avg(lib, 2, 1.5), None),
    ("avg padding float", lambda lib: _avg(lib, 2, padding=1.0), ["padding", "float"]),
    ("avg ceil_mode int", lambda lib: _avg(lib, 2, ceil_mode=1), None),
    ("avg count_include_pad int", lambda lib: _avg(lib, 2, count_include_pad=1),
     ["count_include_pad", "bool", "int"]),
    ("avg divisor 0", lambda lib: _avg(lib, 2, divisor_override=0), None),
    ("avg divisor float", lambda lib: _avg(lib, 2, divisor_override=1.5), None),
    ("avg divisor bool", lambda lib: _avg(lib, 2, divisor_override=True), None),
    ("avg input 2-D", lambda lib: _avg(lib, 2, x=(5, 5)), None),
    ("avg zero channels", lambda lib: _avg(lib, 2, x=(1, 0, 5, 5)), None),
    ("avg int32", lambda lib: _avg(lib, 2, dtype="int32"), None),
    ("avg uint8", lambda lib: _avg(lib, 2, dtype="uint8"), None),
    ("avg bool", lambda lib: _avg(lib, 2, dtype="bool"), None),
    ("avg shape before dtype", lambda lib: _avg(lib, 6, dtype="bool"), None),
    # adaptive_avg_pool2d
    ("adaptive -1", lambda lib: _adaptive(lib, -1), None),
    ("adaptive (2,-1)", lambda lib: _adaptive(lib, (2, -1)), None),
    ("adaptive float", lambda lib: _adaptive(lib, 1.5), None),
    ("adaptive bool", lambda lib: _adaptive(lib, True), None),
    ("adaptive None", lambda lib: _adaptive(lib, None), None),
    ("adaptive (float, int)", lambda lib: _adaptive(lib, (2.0, 2)), None),
    ("adaptive (2,2,2)", lambda lib: _adaptive(lib, (2, 2, 2)), None),
    ("adaptive (2,)", lambda lib: _adaptive(lib, (2,)), None),
    ("adaptive input 2-D", lambda lib: _adaptive(lib, 2, x=(5, 5)), None),
    ("adaptive zero height", lambda lib: _adaptive(lib, 2, x=(1, 1, 0, 5)), None),
    ("adaptive int64", lambda lib: _adaptive(lib, 2, dtype="int64"), None),
    ("adaptive int64 global", lambda lib: _adaptive(lib, 1, dtype="int64"), None),
    ("adaptive uint8", lambda lib: _adaptive(lib, 2, dtype="uint8"), None),
    ("adaptive bool", lambda lib: _adaptive(lib, (2, 2), dtype="bool"), None),
    # pad
    ("pad crop too much", lambda lib: _pad(lib, (-3, -3)), None),
    ("pad crop past the end", lambda lib: _pad(lib, (-6, 0)), None),
    ("pad odd length", lambda lib: _pad(lib, (1,)), None),
    ("pad too long", lambda lib: _pad(lib, (1,) * 10), None),
    ("pad float", lambda lib: _pad(lib, (1.0, 1)), None),
    ("pad bool", lambda lib: _pad(lib, (True, 1)), None),
    ("pad int", lambda lib: _pad(lib, 1), None),
    ("pad mode", lambda lib: _pad(lib, (1, 1), mode="foo"), None),
    ("pad overflow", lambda lib: _pad(lib, (2 ** 62, 1)), None),
]


@needs_torch
@pytest.mark.parametrize("fn, words", [pytest.param(fn, words, id=name)
                                       for name, fn, words in BAD])
def test_bad_arguments_raise_torchs_error(fn, words):
    with pytest.raises(Exception) as expected:
        fn(torch)
    with pytest.raises(Exception) as got:
        fn(mt)
    assert type(got.value) is type(expected.value), (got.value, expected.value)
    if words is None:
        assert str(got.value) == str(expected.value)
    else:
        for word in words:
            assert word in str(got.value) and word in str(expected.value), (got.value, word)


# ---- edge cases that are valid: same values as PyTorch ------------------------------------------

def _arange(lib, *shape, dtype="float32"):
    n = int(np.prod(shape))
    data = (np.arange(n) * 7 % 11 - 5).reshape(shape)
    return lib.tensor(data, dtype=getattr(lib, dtype))


GOOD = [
    ("conv zero batch", lambda lib: lib.nn.functional.conv2d(_arange(lib, 0, 1, 5, 5),
                                                             _arange(lib, 1, 1, 2, 2))),
    ("conv zero channels", lambda lib: lib.nn.functional.conv2d(_arange(lib, 1, 0, 5, 5),
                                                                _arange(lib, 2, 0, 2, 2))),
    ("conv kernel as large as input", lambda lib: lib.nn.functional.conv2d(
        _arange(lib, 1, 2, 3, 4), _arange(lib, 1, 2, 3, 4))),
    ("conv huge stride", lambda lib: lib.nn.functional.conv2d(
        _arange(lib, 1, 1, 5, 5), _arange(lib, 1, 1, 2, 2), stride=10 ** 6)),
    ("conv one-element stride tuple", lambda lib: lib.nn.functional.conv2d(
        _arange(lib, 1, 1, 5, 5), _arange(lib, 1, 1, 2, 2), stride=(2,))),
    ("conv numpy ints", lambda lib: lib.nn.functional.conv2d(
        _arange(lib, 1, 1, 5, 5), _arange(lib, 1, 1, 2, 2), stride=np.int64(2),
        padding=(np.int32(1), 0))),
    ("conv same dilated", lambda lib: lib.nn.functional.conv2d(
        _arange(lib, 1, 1, 5, 5), _arange(lib, 1, 1, 2, 2), padding="same", dilation=2)),
    ("conv same kernel larger than input", lambda lib: lib.nn.functional.conv2d(
        _arange(lib, 1, 1, 1, 1), _arange(lib, 1, 1, 3, 3), padding="same")),
    ("conv unbatched", lambda lib: lib.nn.functional.conv2d(
        _arange(lib, 2, 5, 5), _arange(lib, 3, 2, 2, 2), padding=1)),
    ("max zero batch", lambda lib: lib.nn.functional.max_pool2d(_arange(lib, 0, 1, 5, 5), 2)),
    ("max stride ()", lambda lib: lib.nn.functional.max_pool2d(_arange(lib, 1, 1, 5, 5), 2, ())),
    ("max kernel (2,)", lambda lib: lib.nn.functional.max_pool2d(_arange(lib, 1, 1, 5, 5), (2,))),
    ("max huge stride", lambda lib: lib.nn.functional.max_pool2d(_arange(lib, 1, 1, 5, 5), 2,
                                                                 10 ** 6)),
    ("max 1x2x10 kernel 2", lambda lib: lib.nn.functional.max_pool2d(_arange(lib, 1, 2, 10), 2)),
    ("max dilated, padded", lambda lib: lib.nn.functional.max_pool2d(
        _arange(lib, 1, 1, 5, 5), 4, padding=2, dilation=2)),
    ("avg negative divisor", lambda lib: lib.nn.functional.avg_pool2d(
        _arange(lib, 1, 1, 5, 5), 2, divisor_override=-3)),
    ("avg zero batch", lambda lib: lib.nn.functional.avg_pool2d(_arange(lib, 0, 1, 5, 5), 2)),
    ("adaptive 0", lambda lib: lib.nn.functional.adaptive_avg_pool2d(_arange(lib, 1, 1, 5, 5),
                                                                     0)),
    ("adaptive (0, 2)", lambda lib: lib.nn.functional.adaptive_avg_pool2d(
        _arange(lib, 1, 1, 5, 5), (0, 2))),
    ("adaptive (None, 2)", lambda lib: lib.nn.functional.adaptive_avg_pool2d(
        _arange(lib, 1, 1, 5, 5), (None, 2))),
    ("adaptive larger than input", lambda lib: lib.nn.functional.adaptive_avg_pool2d(
        _arange(lib, 1, 1, 5, 5), 10)),
    ("adaptive zero channels", lambda lib: lib.nn.functional.adaptive_avg_pool2d(
        _arange(lib, 1, 0, 5, 5), 2)),
    ("adaptive global of 2-D", lambda lib: lib.nn.functional.adaptive_avg_pool2d(
        _arange(lib, 5, 5), 1)),
    ("pad crop both sides", lambda lib: lib.nn.functional.pad(_arange(lib, 2, 3, 5), (-1, -2))),
    ("pad crop and pad", lambda lib: lib.nn.functional.pad(_arange(lib, 2, 3, 5), (-2, 3, 1, -1),
                                                           value=9.0)),
    ("pad crop to nothing", lambda lib: lib.nn.functional.pad(_arange(lib, 2, 3, 5), (-5, 0))),
    ("pad zero-size dim", lambda lib: lib.nn.functional.pad(_arange(lib, 3, 0), (1, 1))),
    ("pad list", lambda lib: lib.nn.functional.pad(_arange(lib, 2, 3), [1, 2])),
    ("pad nothing", lambda lib: lib.nn.functional.pad(_arange(lib, 2, 3), ())),
]


@needs_torch
@pytest.mark.parametrize("fn", [pytest.param(fn, id=name) for name, fn in GOOD])
def test_valid_edge_cases_match_torch(fn):
    got, expected = fn(mt), fn(torch)
    assert tuple(got.shape) == tuple(expected.shape)
    assert str(got.dtype) == str(expected.dtype)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)


def test_pad_negative_crops_with_gradient():
    x = mt.tensor(np.arange(10.0).reshape(2, 5), requires_grad=True)
    y = F.pad(x, (-1, 2, 1, -1), value=-7.0)
    expected = np.full((2, 6), -7.0)
    expected[1, :4] = np.arange(1.0, 5.0)
    np.testing.assert_array_equal(y.detach().numpy(), expected)
    y.backward(mt.tensor(np.arange(12.0).reshape(2, 6)))
    grad = np.zeros((2, 5))
    grad[0, 1:5] = np.arange(6.0, 10.0)
    np.testing.assert_array_equal(x.grad.numpy(), grad)


# ---- the crash of issue 9, in a child process (a crash must fail the test, not end the run) --

CRASH_SCRIPT = textwrap.dedent("""
    import microtorch as mt
    import microtorch.nn.functional as F
    from microtorch.backends.cpu import conv
    from microtorch.backends.geometry import Conv2dGeometry

    def refused(fn, exc):
        try:
            fn()
        except exc as e:
            return str(e)
        raise SystemExit("not refused: " + fn.__doc__)

    x, w = mt.ones(1, 1, 2, 10000), mt.ones(1, 1, 2, 1)
    print(refused(lambda: F.conv2d(x, w, dilation=(-2000, 1)), RuntimeError))
    for _ in range(50):
        refused(lambda: F.conv2d(x, w, padding=(0, -1990)), RuntimeError)
    print(refused(lambda: F.conv2d(x, w, padding=(0, -2)), RuntimeError))
    print(refused(lambda: F.conv2d(x, w, dilation=-1), RuntimeError))
    # straight to the kernel, skipping nn.functional: its own check refuses
    print(refused(lambda: conv.conv2d(x.numpy(), w.numpy(),
                                      Conv2dGeometry((1, 1), (0, 0), (-2000, 1), 1)),
                  ValueError))
    print(refused(lambda: conv.conv2d(x.numpy(), w.numpy(),
                                      Conv2dGeometry((1, 1), (0, -1990), (1, 1), 1)),
                  ValueError))
    print("survived")
""")


def test_negative_dilation_and_padding_do_not_crash_the_process():
    done = subprocess.run([sys.executable, "-c", CRASH_SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-2000:])
    lines = done.stdout.splitlines()
    assert lines[0] == "dilation should be greater than zero"
    assert lines[1] == "negative padding is not supported"
    assert lines[2] == "dilation should be greater than zero"
    assert "dilation" in lines[3] and "padding" in lines[4]
    assert lines[-1] == "survived"


def test_groups_message_names_the_groups():
    """The message printed ``{groups}`` literally (a missing f-prefix)."""
    with pytest.raises(RuntimeError, match=r"Given groups=2, expected weight to be divisible "
                                           r"by 2 at dimension 0"):
        F.conv2d(mt.ones(1, 2, 5, 5), mt.ones(3, 1, 2, 2), groups=2)


# ---- every kernel entry point refuses bad geometry by itself -----------------------------------

X = np.ones((1, 1, 5, 5), np.float32)
W = np.ones((1, 1, 2, 2), np.float32)
GY = np.ones((1, 1, 4, 4), np.float32)


def _conv_geometry(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    return Conv2dGeometry(stride, padding, dilation, groups)


def _max_geometry(kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
    return MaxPool2dGeometry(kernel, stride, padding, dilation=(1, 1), ceil_mode=False)


def _avg_geometry(kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
    return AvgPool2dGeometry(kernel, stride, padding, ceil_mode=False, count_include_pad=True)


KERNEL_CALLS = [
    ("conv2d stride 0", lambda: cpu_conv.conv2d(X, W, _conv_geometry(stride=(0, 1)))),
    ("conv2d padding -1", lambda: cpu_conv.conv2d(X, W, _conv_geometry(padding=(-1, 0)))),
    ("conv2d dilation 0", lambda: cpu_conv.conv2d(X, W, _conv_geometry(dilation=(1, 0)))),
    ("conv2d groups 0", lambda: cpu_conv.conv2d(X, W, _conv_geometry(groups=0))),
    ("conv2d kernel too big", lambda: cpu_conv.conv2d(X, np.ones((1, 1, 6, 6), np.float32),
                                                      _conv_geometry())),
    ("conv2d dtypes differ", lambda: cpu_conv.conv2d(X, W.astype(np.float64), _conv_geometry())),
    ("conv2d_grad_input dilation -1", lambda: cpu_conv.conv2d_grad_input(
        GY, W, X.shape, _conv_geometry(dilation=(-1, 1)))),
    ("conv2d_grad_input wrong gy", lambda: cpu_conv.conv2d_grad_input(
        np.ones((1, 1, 9, 9), np.float32), W, X.shape, _conv_geometry())),
    ("conv2d_grad_weight padding -2", lambda: cpu_conv.conv2d_grad_weight(
        X, GY, W.shape, _conv_geometry(padding=(0, -2)))),
    ("conv2d_grad_weight wrong gy", lambda: cpu_conv.conv2d_grad_weight(
        X, np.ones((1, 1, 2, 2), np.float32), W.shape, _conv_geometry())),
    ("max_pool2d padding > kernel // 2", lambda: cpu_pool.max_pool2d(
        X, _max_geometry(padding=(2, 2)))),
    ("max_pool2d kernel larger than input", lambda: cpu_pool.max_pool2d(
        X, _max_geometry(kernel=(6, 6), stride=(1, 1)))),
    ("max_pool2d stride 0", lambda: cpu_pool.max_pool2d(X, _max_geometry(stride=(0, 2)))),
    ("max_pool2d_backward wrong argmax", lambda: cpu_pool.max_pool2d_backward(
        GY, np.zeros((1, 1, 2, 2), np.int64), X.shape)),
    ("avg_pool2d padding -1", lambda: cpu_pool.avg_pool2d(X, _avg_geometry(padding=(-1, 0)))),
    ("avg_pool2d_backward wrong gy", lambda: cpu_pool.avg_pool2d_backward(
        GY, X.shape, _avg_geometry())),
    ("adaptive_avg_pool2d -1", lambda: cpu_pool.adaptive_avg_pool2d(X, (-1, 2))),
    ("adaptive_avg_pool2d_backward wrong gy", lambda: cpu_pool.adaptive_avg_pool2d_backward(
        np.ones((1, 2, 2, 2), np.float32), X.shape)),
]


@pytest.mark.parametrize("call", [pytest.param(c, id=name) for name, c in KERNEL_CALLS])
def test_cpu_kernels_refuse_bad_geometry(call):
    with pytest.raises(ValueError, match="kernel"):
        call()


# ---- integer and bool inputs ------------------------------------------------------------------

def _ints(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    if dtype == np.uint8:
        return rng.integers(0, 256, shape).astype(dtype)
    # values near both ends of the range: a window of minima must stay the minimum
    return rng.choice([info.min, info.min + 1, -3, 0, 5, info.max], shape).astype(dtype)


def _numpy_max_pool(x, k, s, p):
    """Max pooling by definition: windows clipped to the input (padding never wins)."""
    N, C, H, W = x.shape
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    y = np.empty((N, C, OH, OW), x.dtype)
    for i in range(OH):
        for j in range(OW):
            h0, w0 = i * s - p, j * s - p
            win = x[:, :, max(h0, 0):h0 + k, max(w0, 0):w0 + k]
            y[:, :, i, j] = win.max(axis=(2, 3))
    return y


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (3, 1, 1), (3, 2, 1)])
def test_max_pool2d_integers_match_numpy(dtype, k, s, p):
    x = _ints((2, 3, 6, 7), dtype)
    got = F.max_pool2d(mt.tensor(x), k, s, p)
    assert got.dtype is getattr(mt, np.dtype(dtype).name)
    np.testing.assert_array_equal(got.numpy(), _numpy_max_pool(x, k, s, p))


def test_max_pool2d_of_all_minimum_windows_is_the_minimum():
    """The kernel started from int64(-inf), which is garbage: a window of int64 minima (or of
    uint8 zeros, with padding) gave uninitialised values."""
    for dtype in (np.int64, np.int32, np.uint8):
        low = np.iinfo(dtype).min
        x = np.full((1, 1, 2, 2), low, dtype)
        y, idx = F.max_pool2d(mt.tensor(x), 2, padding=1, return_indices=True)
        np.testing.assert_array_equal(y.numpy(), np.full((1, 1, 2, 2), low, dtype))
        np.testing.assert_array_equal(idx.numpy(), [[[[0, 1], [2, 3]]]])


@needs_torch
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1))])
def test_max_pool2d_integers_match_torch(dtype, kw):
    x = _ints((2, 3, 7, 6), np.dtype(dtype).type, seed=1)
    got, got_idx = F.max_pool2d(mt.tensor(x), return_indices=True, **kw)
    expected, expected_idx = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True,
                                                            **kw)
    assert str(got.dtype) == str(expected.dtype)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    np.testing.assert_array_equal(got_idx.numpy(), expected_idx.numpy())


@needs_torch
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=3, stride=1, padding=1, count_include_pad=False),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=2, divisor_override=3),
                                dict(kernel_size=2, divisor_override=-3)])
def test_avg_pool2d_int64_matches_torch(kw):
    """int64 average pooling divides rounding toward zero, as PyTorch."""
    x = np.random.default_rng(2).integers(-1000, 1000, (2, 3, 7, 6))
    got = F.avg_pool2d(mt.tensor(x), **kw)
    expected = torch.nn.functional.avg_pool2d(torch.tensor(x), **kw)
    assert str(got.dtype) == str(expected.dtype)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def _numpy_conv(x, w, b, stride, padding, dilation, groups):
    """Direct convolution in int64 (then cast: wraps as the dtype does)."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), np.int64)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    OH = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((N, O, OH, OW), np.int64)
    og = O // groups
    for o in range(O):
        c0 = (o // og) * Cg
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, c0:c0 + Cg, i * dh:i * dh + sh * (OH - 1) + 1:sh,
                           j * dw:j * dw + sw * (OW - 1) + 1:sw]
                y[:, o] += np.einsum("nchw,c->nhw", patch, w[o, :, i, j].astype(np.int64))
    if b is not None:
        y += b.astype(np.int64)[None, :, None, None]
    return y.astype(x.dtype)


CONV_GEOMETRIES = [dict(), dict(stride=(2, 1), padding=1), dict(groups=2, padding=1)]
# PyTorch's dilated convolution exists for int64 only among the integer dtypes
INT_CONV_CASES = [(dtype, kw) for dtype in ("int64", "int32", "uint8") for kw in CONV_GEOMETRIES] \
    + [("int64", dict(dilation=(1, 2), padding=(2, 0))), ("int64", dict(dilation=2, groups=2))]


@pytest.mark.parametrize("dtype, kw", INT_CONV_CASES)
def test_conv2d_integers_match_numpy(dtype, kw):
    """conv2d on int32/int64 raised an LLVM IR parsing error; PyTorch computes it on the CPU,
    with sums that wrap around in the dtype (uint8 here overflows)."""
    rng = np.random.default_rng(3)
    lo, hi = (0, 256) if dtype == "uint8" else (-2 ** 20, 2 ** 20)
    x = rng.integers(lo, hi, (2, 4, 6, 5)).astype(dtype)
    w = rng.integers(lo, hi, (6, 4 // kw.get("groups", 1), 3, 2)).astype(dtype)
    b = rng.integers(lo, hi, 6).astype(dtype)
    stride, padding, dilation = (F._pair(kw.get(k, d)) for k, d in
                                 (("stride", 1), ("padding", 0), ("dilation", 1)))
    got = F.conv2d(mt.tensor(x), mt.tensor(w), mt.tensor(b), **kw)
    assert got.dtype is getattr(mt, dtype)
    np.testing.assert_array_equal(got.numpy(), _numpy_conv(x, w, b, stride, padding, dilation,
                                                           kw.get("groups", 1)))


@needs_torch
@pytest.mark.parametrize("dtype, kw", INT_CONV_CASES)
def test_conv2d_integers_match_torch(dtype, kw):
    rng = np.random.default_rng(4)
    lo, hi = (0, 256) if dtype == "uint8" else (-2 ** 30, 2 ** 30)
    x = rng.integers(lo, hi, (2, 4, 6, 5)).astype(dtype)
    w = rng.integers(lo, hi, (6, 4 // kw.get("groups", 1), 3, 2)).astype(dtype)
    got = F.conv2d(mt.tensor(x), mt.tensor(w), **kw)
    expected = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **kw)
    assert str(got.dtype) == str(expected.dtype)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_conv2d_without_input_channels_is_empty_as_torch():
    """A zero-channel input gave uninitialised memory; PyTorch returns no output channels."""
    y = F.conv2d(mt.ones(2, 0, 5, 5), mt.ones(3, 0, 2, 2), mt.ones(3))
    assert y.shape == (2, 0, 4, 4)


# ---- the modules ------------------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("make, shape", [
    (lambda nn: nn.Conv2d(1, 1, 2, stride=0), (1, 1, 5, 5)),
    (lambda nn: nn.Conv2d(1, 1, 2, padding=(0, -2)), (1, 1, 5, 5)),
    (lambda nn: nn.Conv2d(1, 1, 2, dilation=(-2, 1)), (1, 1, 5, 5)),
    (lambda nn: nn.MaxPool2d(0), (1, 1, 5, 5)),
    (lambda nn: nn.MaxPool2d(6), (1, 1, 5, 5)),
    (lambda nn: nn.MaxPool2d(2, padding=-1), (1, 1, 5, 5)),
    (lambda nn: nn.AvgPool2d(3), (1, 2, 10)),
    (lambda nn: nn.AdaptiveAvgPool2d(-1), (1, 1, 5, 5)),
], ids=["Conv2d stride 0", "Conv2d padding -2", "Conv2d dilation -2", "MaxPool2d 0",
        "MaxPool2d larger than input", "MaxPool2d padding -1", "AvgPool2d output too small",
        "AdaptiveAvgPool2d -1"])
def test_modules_refuse_bad_geometry_as_torch(make, shape):
    with pytest.raises(RuntimeError) as expected:
        make(torch.nn)(torch.ones(shape))
    with pytest.raises(RuntimeError) as got:
        make(mt.nn)(mt.ones(shape))
    assert str(got.value) == str(expected.value)


def test_conv2d_module_refuses_float_sizes():
    with pytest.raises(TypeError, match="float"):
        mt.nn.Conv2d(1, 1, 2.0)
    with pytest.raises(TypeError, match="float"):
        mt.nn.Conv2d(1, 1, 2, stride=1.5)
    with pytest.raises(TypeError, match="groups.*float"):
        mt.nn.Conv2d(2, 2, 2, groups=2.0)


@needs_torch
@pytest.mark.parametrize("args, kw", [((1, -1, 2), {}), ((1, 1, -1), {}), ((2, 2, (2, -3)), {}),
                                      ((3, 6, 3), dict(groups=2)), ((2, 3, 3), dict(groups=2)),
                                      ((2, 2, 3), dict(groups=0)),
                                      ((1, 1, 3), dict(padding="full")),
                                      ((1, 1, 3), dict(padding="same", stride=2)),
                                      ((1, 1, 3), dict(padding_mode="foo"))])
def test_conv2d_module_constructor_errors_match_torch(args, kw):
    with pytest.raises(Exception) as expected:
        torch.nn.Conv2d(*args, **kw)
    with pytest.raises(Exception) as got:
        mt.nn.Conv2d(*args, **kw)
    assert type(got.value) is type(expected.value)
    assert _sets_sorted(str(got.value)) == _sets_sorted(str(expected.value))


def _sets_sorted(message):
    """The message with each ``{'a', 'b'}`` sorted: PyTorch prints Python sets, whose order
    changes with the hash seed."""
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", ")))
                  + "}", message)


def test_max_pool_window_with_no_tap_inside_gets_no_gradient():
    """Dilation can step a whole window over the input (kernel 2, padding 1, dilation 3 on a
    2x2 plane): its output is -inf and no element is its maximum, so no element gets its
    gradient (it used to go to x[0, 0]). PyTorch's index there points outside the plane (its
    own backward then writes out of bounds), so microtorch's index is -1."""
    x = mt.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], requires_grad=True)
    y, idx = F.max_pool2d(x, 2, None, 1, 3, return_indices=True)
    y.sum().backward()
    assert y.tolist() == [[[[-np.inf]]]]
    assert idx.tolist() == [[[[-1]]]]
    assert x.grad.tolist() == [[[[0.0, 0.0], [0.0, 0.0]]]]
    # a window that keeps taps in both dims still routes its gradient to its maximum
    x = mt.tensor([[[[1.0, 2.0, 5.0], [3.0, 4.0, 6.0]]]], requires_grad=True)
    y = F.max_pool2d(x, (1, 2), None, (0, 1), (1, 3))
    y.sum().backward()
    assert y.tolist() == [[[[5.0], [6.0]]]]
    assert x.grad.tolist() == [[[[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]]]
