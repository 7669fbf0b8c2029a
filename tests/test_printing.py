"""Tensor ``repr`` (expected strings taken from PyTorch 2.13) and print options."""

import pytest

import microtorch as mt

CASES = [
    ('int', lambda: mt.tensor([1, 2, 3]),
     'tensor([1, 2, 3])'),
    ('int_mode_grad', lambda: mt.tensor([-12., 65.], requires_grad=True) * 1,
     'tensor([-12.,  65.], grad_fn=<MulBackward0>)'),
    ('float', lambda: mt.tensor([1.5, 2.25, -3.0]),
     'tensor([ 1.5000,  2.2500, -3.0000])'),
    ('sci', lambda: mt.tensor([1e-5, 1.0, 1e4]),
     'tensor([1.0000e-05, 1.0000e+00, 1.0000e+04])'),
    ('bool', lambda: mt.tensor([True, True]),
     'tensor([True, True])'),
    ('float64', lambda: mt.tensor([1.0, 2.0], dtype=mt.float64),
     'tensor([1., 2.], dtype=torch.float64)'),
    ('int32', lambda: mt.tensor([1, 2], dtype=mt.int32),
     'tensor([1, 2], dtype=torch.int32)'),
    ('requires_grad', lambda: mt.tensor([1.0, 2.0], requires_grad=True),
     'tensor([1., 2.], requires_grad=True)'),
    ('zero_d', lambda: mt.tensor(3.5),
     'tensor(3.5000)'),
    ('zero_d_int', lambda: mt.tensor(7),
     'tensor(7)'),
    ('empty', lambda: mt.tensor([]),
     'tensor([])'),
    ('empty_2d', lambda: mt.zeros(0, 3),
     'tensor([], size=(0, 3))'),
    ('empty_int64', lambda: mt.zeros(2, 0, dtype=mt.int64),
     'tensor([], size=(2, 0), dtype=torch.int64)'),
    ('two_d', lambda: mt.arange(12.).reshape(3, 4),
     'tensor([[ 0.,  1.,  2.,  3.],\n        [ 4.,  5.,  6.,  7.],\n        [ 8.,  9., 10., 11.]])'),
    ('three_d', lambda: mt.arange(24).reshape(2, 3, 4) - 10,
     'tensor([[[-10,  -9,  -8,  -7],\n         [ -6,  -5,  -4,  -3],\n         [ -2,  -1,   0,   1]],\n\n        [[  2,   3,   4,   5],\n         [  6,   7,   8,   9],\n         [ 10,  11,  12,  13]]])'),
    ('wrap', lambda: mt.arange(40.) / 7,
     'tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n        3.8571, 4.0000, 4.1429, 4.2857, 4.4286, 4.5714, 4.7143, 4.8571, 5.0000,\n        5.1429, 5.2857, 5.4286, 5.5714])'),
    ('summarized', lambda: mt.arange(2000.),
     'tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])'),
    ('summarized_2d', lambda: mt.arange(1200).reshape(40, 30),
     'tensor([[   0,    1,    2,  ...,   27,   28,   29],\n        [  30,   31,   32,  ...,   57,   58,   59],\n        [  60,   61,   62,  ...,   87,   88,   89],\n        ...,\n        [1110, 1111, 1112,  ..., 1137, 1138, 1139],\n        [1140, 1141, 1142,  ..., 1167, 1168, 1169],\n        [1170, 1171, 1172,  ..., 1197, 1198, 1199]])'),
    ('inf_nan', lambda: mt.tensor([float('inf'), float('nan'), 1.0, -2.0]),
     'tensor([inf, nan,  1., -2.])'),
    ('float64_grad', lambda: mt.tensor([1.0, 2.0], dtype=mt.float64, requires_grad=True),
     'tensor([1., 2.], dtype=torch.float64, requires_grad=True)'),
    ('zero_d_grad_fn', lambda: mt.tensor(2.0, requires_grad=True).exp(),
     'tensor(7.3891, grad_fn=<ExpBackward0>)'),
    ('long_grad_wrap', lambda: mt.arange(20., requires_grad=True) / 3,
     'tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n        6.0000, 6.3333], grad_fn=<DivBackward0>)'),
]


@pytest.mark.parametrize("name,make,expected", CASES, ids=[c[0] for c in CASES])
def test_repr(name, make, expected):
    assert repr(make()) == expected


def test_str_is_repr():
    t = mt.tensor([1.0, 2.0])
    assert str(t) == repr(t)
    assert f"{t}" == repr(t)
    assert f"{mt.tensor(2.5):.2f}" == "2.50"


def test_size_repr():
    assert repr(mt.zeros(2, 3).shape) == "torch.Size([2, 3])"
    assert repr(mt.zeros(()).shape) == "torch.Size([])"
    assert mt.zeros(2, 3).shape == (2, 3)
    assert mt.zeros(2, 3).size(1) == 3
    assert mt.zeros(2, 3, 4).shape.numel() == 24


def test_dtype_repr():
    assert repr(mt.float32) == "torch.float32"
    assert repr(mt.int64) == "torch.int64"
    assert repr(mt.bool) == "torch.bool"
    assert mt.float is mt.float32 and mt.double is mt.float64 and mt.long is mt.int64


def test_precision_option(restore_printoptions):
    mt.set_printoptions(precision=2)
    assert repr(mt.tensor([1.2345, 2.0])) == "tensor([1.23, 2.00])"


def test_sci_mode_option(restore_printoptions):
    mt.set_printoptions(sci_mode=True)
    assert repr(mt.tensor([1.5, 2.0])) == "tensor([1.5000e+00, 2.0000e+00])"
    mt.set_printoptions(sci_mode=False)
    assert repr(mt.tensor([1e-5, 1e4])) == "tensor([    0.0000, 10000.0000])"


def test_threshold_and_edgeitems(restore_printoptions):
    mt.set_printoptions(threshold=5, edgeitems=2)
    assert repr(mt.arange(10)) == "tensor([0, 1,  ..., 8, 9])"


def test_printoptions_context_manager():
    with mt.printoptions(precision=1):
        assert repr(mt.tensor([1.25])) == "tensor([1.2])"
    assert repr(mt.tensor([1.25])) == "tensor([1.2500])"
    assert mt.get_printoptions()["precision"] == 4
