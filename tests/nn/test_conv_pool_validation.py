"""Bad arguments to convolution, pooling, adaptive pooling and ``F.pad``: every one is refused
in Python, before any kernel, with PyTorch's exception class and message (issue 9: negative
dilation or padding made the CPU convolution read and write outside its buffers). Integer and
bool inputs compute what PyTorch computes or raise its error; the kernels themselves refuse
bad geometry even when called directly."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import microtorch as mt
import microtorch.nn.functional as F
from microtorch.backends.cpu import conv as cpu_conv
from microtorch.backends.cpu import pool as cpu_pool

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
    return lib.nn.functional.conv2d(_ones(lib, *x, dtype=dtype), _ones(lib, *w, dtype=wdtype or dtype),
                                    **kw)


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
