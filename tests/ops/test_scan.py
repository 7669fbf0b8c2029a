"""``cumsum`` and ``cumprod`` (microtorch/ops/scan.py, kernels in backends/cpu/scan.py):
gradients against finite differences (zeros in cumprod's input included), values, dtypes,
gradients, grad_fn names and errors against PyTorch, and the reference kernels against the fast
ones. The CUDA kernel is run by tests/cuda/test_scan.py and compiled by tests/cuda_ptx."""

import numpy as np
import pytest

import microtorch as mt
from microtorch.autograd import gradcheck, gradgradcheck
from microtorch.backends import cpu as cpu_backend
from microtorch.backends.cpu import scan as cpu_scan
from tests.helpers import make, outcome

torch = pytest.importorskip("torch")

SHAPES_DIMS = [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1),
               ((2, 3, 4), 0), ((1, 1), -2)]


def assert_same_outcome(fn, rtol=0.0):
    a, b = outcome(mt, fn), outcome(torch, fn)
    assert a[0] == b[0], (a, b)
    if a[0] == "error":
        assert a[1:] == b[1:]
        return
    for (da, va), (db, vb) in zip(a[1], b[1]):
        assert da == db
        np.testing.assert_allclose(va, vb, rtol=rtol, atol=0)


# ---- gradient ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_gradcheck(name, shape, dim):
    x = make(shape, seed=len(shape) + dim, away_from=[0.0])
    assert gradcheck(lambda t: getattr(mt, name)(t, dim), (x,))
    assert gradgradcheck(lambda t: getattr(t, name)(dim), (x,))


@pytest.mark.parametrize("line", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 3.0], [1.0, 2.0, 0.0],
                                  [0.0, 0.0, 2.0], [3.0, 0.0, -1.5, 0.0, 5.0]])
def test_cumprod_gradient_with_zeros(line):
    """Zeros in the input: the gradient at the first zero is not revcumsum(g * y) / x."""
    x = mt.tensor(line, dtype=mt.float64, requires_grad=True)
    assert gradcheck(lambda t: t.cumprod(0), (x,))

    def fn(lib):
        leaf = lib.tensor(line, dtype=lib.float64, requires_grad=True)
        w = lib.arange(1.0, len(line) + 1, dtype=lib.float64)
        (leaf.cumprod(0) * w).sum().backward()
        return leaf.grad
    assert_same_outcome(fn, rtol=1e-12)


def test_cumprod_gradient_with_zeros_batched():
    data = np.array([[[1.0, 0.0, 2.0], [0.5, 3.0, 0.0]], [[0.0, 1.5, 2.0], [2.0, -1.0, 0.5]]])
    for dim in (0, 1, 2):
        x = mt.tensor(data, requires_grad=True)
        assert gradcheck(lambda t, d=dim: t.cumprod(d), (x,))


# ---- parity with PyTorch -------------------------------------------------------------------

@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_gradients_and_grad_fn(name, shape, dim, dtype):
    data = np.random.default_rng(1).uniform(0.5, 1.5, size=shape)

    def fn(lib):
        x = lib.tensor(data, dtype=getattr(lib, dtype), requires_grad=True)
        y = getattr(lib, name)(x, dim)
        assert type(y.grad_fn).__name__ == name.capitalize() + "Backward0"
        (y * lib.tensor(data, dtype=y.dtype)).sum().backward()
        return y, x.grad
    assert_same_outcome(fn, rtol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_integers_promote_to_int64(name, dtype):
    assert_same_outcome(lambda lib: getattr(lib, name)(
        lib.tensor([[1, 0, 3], [2, 2, 1]]).to(getattr(lib, dtype)), 1))


@pytest.mark.parametrize("call", [
    lambda lib: lib.cumsum(lib.tensor([1, 2, 3]), 0, dtype=lib.float32),
    lambda lib: lib.cumsum(lib.tensor([1.5, 2.5]), 0, dtype=lib.int64),
    lambda lib: lib.tensor([1.0, 2.0]).cumprod(0, dtype=lib.float64),
    lambda lib: lib.tensor([1.0, float("nan"), 2.0]).cumprod(0),
    lambda lib: lib.tensor([1.0, float("inf"), -2.0]).cumsum(0),
    lambda lib: lib.cumsum(lib.tensor(3.0), 0),
    lambda lib: lib.cumprod(lib.tensor(3.0), -1),
    lambda lib: lib.cumsum(lib.ones(2, 0), 1),
    lambda lib: lib.cumsum(lib.ones(2, 0), 0),
    lambda lib: lib.cumsum(lib.arange(24.0).reshape(2, 3, 4).transpose(0, 2), 1),
    lambda lib: lib.cumsum(lib.ones(2, 3), 2),                          # dim out of range
    lambda lib: lib.cumsum(lib.ones(3), 0.5),
    lambda lib: lib.cumsum(lib.ones(3, requires_grad=True), 0, dtype=lib.int64),
    lambda lib: lib.cumsum(lib.ones(3), dim=-1),
    lambda lib: lib.cumsum(lib.tensor([200, 100]), 0, dtype=lib.uint8),      # wraps
    lambda lib: lib.cumprod(lib.tensor([1, 2, 0, 3]), 0, dtype=lib.int32),
    lambda lib: lib.cumsum(lib.tensor([1, 2]), 0, dtype=lib.bool),
    lambda lib: lib.cumsum(lib.tensor([]).bool(), 0, dtype=lib.bool),
])
def test_cases(call):
    assert_same_outcome(call, rtol=1e-6)


def test_missing_dim_is_a_type_error():
    with pytest.raises(TypeError):
        mt.cumsum(mt.ones(3))
    with pytest.raises(TypeError):
        torch.cumsum(torch.ones(3))


def test_long_float32_sums_accumulate_in_double():
    """PyTorch's CPU kernel keeps float32 running sums in double."""
    assert_same_outcome(lambda lib: lib.full((20000,), 0.1).cumsum(0)[-3:], rtol=1e-7)


# ---- reference kernels ---------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((7,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), 1),
                                        ((2, 1, 3), 2), ((0, 3), 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("reverse", [False, True])
def test_reference_kernels_match_fast(shape, axis, dtype, reverse):
    x = (np.random.default_rng(2).uniform(-2, 2, size=shape) * 3).astype(dtype)
    for name in ("cumsum", "cumprod"):
        fast = getattr(cpu_scan, name)(x, axis, reverse)
        ref = getattr(cpu_scan, name + "_reference")(x, axis, reverse)
        np.testing.assert_allclose(fast, ref, rtol=1e-6)
        expect = np.flip(getattr(np, name)(np.flip(x, axis), axis), axis) if reverse else \
            getattr(np, name)(x, axis)
        np.testing.assert_allclose(fast, expect.astype(dtype), rtol=1e-5)


def test_large_scan_uses_threads_and_matches_reference():
    x = np.random.default_rng(3).uniform(0.9, 1.1, size=(300, 257))
    for axis in (0, 1):
        np.testing.assert_allclose(cpu_scan.cumsum(x, axis), cpu_scan.cumsum_reference(x, axis))
        np.testing.assert_allclose(cpu_scan.cumprod(x, axis),
                                   cpu_scan.cumprod_reference(x, axis))


def test_ops_run_on_reference_kernels():
    x = make((3, 4), seed=9)
    fast = (mt.cumsum(x, 1).detach().numpy(), mt.cumprod(x, 0).detach().numpy())
    try:
        cpu_backend.use_reference_kernels(True)
        ref = (mt.cumsum(x, 1).detach().numpy(), mt.cumprod(x, 0).detach().numpy())
        assert gradcheck(lambda t: t.cumprod(1), (x,))
    finally:
        cpu_backend.use_reference_kernels(False)
    for a, b in zip(fast, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12)
