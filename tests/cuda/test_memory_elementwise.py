"""CUDA memory, random and elementwise kernels against NumPy (tiny shapes: simulator-friendly)."""

import math
import warnings

import numpy as np
import pytest

import microtorch.backends.cuda as cuda_pkg
from microtorch.backends.contract import BINARY_OPS, UNARY_OPS

RNG = np.random.default_rng(7)
warnings.filterwarnings("ignore", category=RuntimeWarning)


def _rand(shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def test_device_helpers():
    assert cuda_pkg.is_available()
    assert cuda_pkg.device_count() >= 1
    assert isinstance(cuda_pkg.get_device_name(), str)
    assert cuda_pkg.current_device() == 0
    cuda_pkg.synchronize()


def test_launch_count_counts(K):
    before = cuda_pkg.launch_count
    K.full((3,), 1.0, np.float32)
    assert cuda_pkg.launch_count == before + 1
    cuda_pkg.reset_launch_count()
    assert cuda_pkg.launch_count == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_roundtrip_full_empty(K, dtype):
    a = (RNG.standard_normal((2, 3)) * 3).astype(dtype)
    d = K.from_numpy(a)
    assert K.to_numpy(d).dtype == a.dtype
    np.testing.assert_array_equal(K.to_numpy(d), a)
    np.testing.assert_array_equal(K.to_numpy(K.full((2, 2), 1, dtype)), np.ones((2, 2), dtype))
    e = K.empty((0, 3), dtype)
    assert K.to_numpy(e).shape == (0, 3)


def test_from_numpy_strided_host_array(K):
    a = _rand((4, 6))[::2, ::3]
    np.testing.assert_array_equal(K.to_numpy(K.from_numpy(a)), a)


@pytest.mark.parametrize("args", [(0, 5, 1, np.int64), (1, 2, 0.25, np.float32),
                                  (5, 0, -2, np.int64), (0, 1, 0.1, np.float64)])
def test_arange(K, args):
    start, end, step, dtype = args
    np.testing.assert_allclose(K.to_numpy(K.arange(start, end, step, dtype)),
                               np.arange(start, end, step, dtype=dtype), rtol=1e-6)
    assert K.to_numpy(K.arange(start, end, step, dtype)).dtype == dtype


def test_views_contiguous_astype_copy(K):
    a = _rand((2, 3, 4))
    d = K.from_numpy(a)
    p = K.permute(d, (2, 0, 1))
    np.testing.assert_array_equal(K.to_numpy(p), a.transpose(2, 0, 1))
    c = K.contiguous(p)
    assert c is not p and K.contiguous(c) is c
    np.testing.assert_array_equal(K.to_numpy(c), a.transpose(2, 0, 1))
    assert K.view(p, (8, 3)) is None
    np.testing.assert_array_equal(K.to_numpy(K.view(p, (4, 6))), a.transpose(2, 0, 1).reshape(4, 6))
    np.testing.assert_array_equal(K.to_numpy(K.view(d, (6, 4))), a.reshape(6, 4))
    np.testing.assert_array_equal(K.to_numpy(K.view(d, (2, 1, 12))), a.reshape(2, 1, 12))
    np.testing.assert_array_equal(K.to_numpy(K.view(K.permute(d, (1, 0, 2)), (3, 2, 2, 2))),
                                  a.transpose(1, 0, 2).reshape(3, 2, 2, 2))
    e = K.expand(K.from_numpy(a[:, :1, :]), (2, 3, 4))
    np.testing.assert_array_equal(K.to_numpy(e), np.broadcast_to(a[:, :1, :], (2, 3, 4)))
    i = K.astype(d, np.int64)
    np.testing.assert_array_equal(K.to_numpy(i), a.astype(np.int64))
    np.testing.assert_array_equal(K.to_numpy(K.astype(d, np.bool_)), a.astype(bool))
    dst = K.from_numpy(np.zeros((2, 3, 4), np.float64))
    K.copy_(dst, K.from_numpy(a[0, :, :1]))
    np.testing.assert_array_equal(K.to_numpy(dst), np.broadcast_to(a[0, :, :1], (2, 3, 4)))


def test_random(K):
    gen = K.Generator(3)
    u = K.to_numpy(K.uniform((40,), np.float32, gen))
    assert u.dtype == np.float32 and (u >= 0).all() and (u < 1).all() and u.std() > 0.1
    n = K.to_numpy(K.normal((5, 8), np.float64, gen))
    assert n.dtype == np.float64 and abs(n.mean()) < 1 and 0.4 < n.std() < 2
    r = K.to_numpy(K.randint(-3, 4, (50,), gen))
    assert r.dtype == np.int64 and r.min() >= -3 and r.max() < 4 and len(set(r)) > 3
    again = K.to_numpy(K.uniform((40,), np.float32, K.Generator(3)))
    np.testing.assert_array_equal(u, again)                         # reproducible from a seed
    assert not np.array_equal(u, K.to_numpy(K.uniform((40,), np.float32, gen)))  # streams go on


def test_random_accepts_foreign_generator(K):
    class Gen:
        def initial_seed(self):
            return 11
    g = Gen()
    a = K.to_numpy(K.uniform((4,), np.float32, g))
    assert g._cuda_states is not None
    np.testing.assert_array_equal(a, K.to_numpy(K.uniform((4,), np.float32, K.Generator(11))))


_UNARY_REF = {"neg": np.negative, "abs": np.abs, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
              "rsqrt": lambda x: 1 / np.sqrt(x), "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
              "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "relu": lambda x: np.maximum(x, 0),
              "sign": np.sign, "reciprocal": lambda x: 1 / x,
              "erf": lambda x: np.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype)}


@pytest.mark.parametrize("op", UNARY_OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary(K, op, dtype):
    a = _rand((3, 5), dtype)
    if op in ("log", "sqrt", "rsqrt"):
        a = np.abs(a) + dtype(0.1)
    got = K.to_numpy(K.unary(op, K.from_numpy(a)))
    assert got.dtype == dtype
    np.testing.assert_allclose(got, _UNARY_REF[op](a).astype(dtype), rtol=1e-5, atol=1e-6)


def test_unary_strided_out_and_int(K):
    a = _rand((4, 6))
    d = K.from_numpy(a)
    out = K.from_numpy(np.zeros((6, 4), np.float32))
    K.unary("neg", K.permute(d, (1, 0)), out=out)
    np.testing.assert_array_equal(K.to_numpy(out), -a.T)
    i = K.from_numpy(np.array([-2, 0, 3]))
    np.testing.assert_array_equal(K.to_numpy(K.unary("abs", i)), [2, 0, 3])
    assert K.to_numpy(K.unary("exp", i)).dtype == np.float32


_BINARY_REF = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
               "pow": np.power, "maximum": np.maximum, "minimum": np.minimum, "eq": np.equal,
               "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
               "ge": np.greater_equal, "bitwise_and": np.bitwise_and,
               "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor, "hypot": np.hypot}


@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_broadcast(K, op):
    a = _rand((2, 1, 4))
    b = _rand((3, 1))
    if op == "pow":
        a = np.abs(a) + np.float32(0.5)
    if op.startswith("bitwise"):  # bool and integer arrays only
        a, b = (a * 10).astype(np.int64), (b * 10).astype(np.int64)
    got = K.to_numpy(K.binary(op, K.from_numpy(a), K.from_numpy(b)))
    ref = _BINARY_REF[op](a, b)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_binary_strided_views_and_out(K):
    a = _rand((3, 4))
    d = K.from_numpy(a)
    t = K.permute(d, (1, 0))                         # (4, 3), non-contiguous
    s = K.getitem(d, (slice(None), slice(None, None, 2)))  # (3, 2), strided
    np.testing.assert_allclose(K.to_numpy(K.binary("mul", t, K.from_numpy(a.T))), a.T * a.T)
    np.testing.assert_allclose(K.to_numpy(K.binary("add", s, s)), 2 * a[:, ::2])
    out = K.getitem(d, (slice(None), 0))             # write into a column view
    K.binary("add", out, K.from_numpy(np.float32([1, 2, 3])), out=out)
    a[:, 0] += [1, 2, 3]
    np.testing.assert_allclose(K.to_numpy(d), a)


def test_binary_nan_and_ints(K):
    a = K.from_numpy(np.float32([np.nan, 1, 2]))
    b = K.from_numpy(np.float32([0, np.nan, 1]))
    np.testing.assert_array_equal(K.to_numpy(K.binary("maximum", a, b)), [np.nan, np.nan, 2])
    i = K.from_numpy(np.array([7, -4]))
    j = K.from_numpy(np.array([2, 3]))
    np.testing.assert_array_equal(K.to_numpy(K.binary("mul", i, j)), [14, -12])
    np.testing.assert_allclose(K.to_numpy(K.binary("div", i, j)), [3.5, -4 / 3], rtol=1e-6)
    bo = K.from_numpy(np.array([True, False]))
    np.testing.assert_array_equal(K.to_numpy(K.binary("add", bo, bo)), [True, False])


def test_where_clamp(K):
    c = RNG.standard_normal((3, 1)) > 0
    a, b = _rand((3, 4)), _rand((4,))
    got = K.to_numpy(K.where(K.from_numpy(c), K.from_numpy(a), K.from_numpy(b)))
    np.testing.assert_array_equal(got, np.where(c, a, b))
    x = np.float32([-2, -0.5, 0.5, 2, np.nan])
    d = K.from_numpy(x)
    np.testing.assert_array_equal(K.to_numpy(K.clamp(d, -1, 1)), np.clip(x, -1, 1))
    np.testing.assert_array_equal(K.to_numpy(K.clamp(d, None, 1)), np.minimum(x, 1))
    np.testing.assert_array_equal(K.to_numpy(K.clamp(d, 0, None)), np.maximum(x, 0))
    assert K.to_numpy(K.clamp(d, -1, 1)).dtype == np.float32


def test_compare_with_cpu_backend(K):
    cpu = pytest.importorskip("microtorch.backends.cpu.elementwise")
    a, b = _rand((2, 3, 4)), _rand((3, 1))
    for op in ("add", "mul", "maximum", "lt"):
        np.testing.assert_allclose(K.to_numpy(K.binary(op, K.from_numpy(a), K.from_numpy(b))),
                                   cpu.binary(op, a, b), rtol=1e-6)
    for op in ("tanh", "sigmoid", "relu"):
        np.testing.assert_allclose(K.to_numpy(K.unary(op, K.from_numpy(a))), cpu.unary(op, a),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "pow"])
def test_uint8_arithmetic_wraps_around(K, op):
    a = np.array([0, 1, 3, 200, 255], np.uint8)
    b = np.array([1, 3, 1, 100, 2], np.uint8)
    got = K.to_numpy(K.binary(op, K.from_numpy(a), K.from_numpy(b)))
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, _BINARY_REF[op](a, b))   # NumPy's uint8 also wraps


def test_sign_of_nan_is_zero(K):
    x = np.array([np.nan, -2.0, 0.0, 3.0], np.float32)
    np.testing.assert_array_equal(K.to_numpy(K.unary("sign", K.from_numpy(x))), [0, -1, 0, 1])
