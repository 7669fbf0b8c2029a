"""LayerNorm / F.layer_norm (fused kernels) and RMSNorm / F.rms_norm (composed of Tensor ops):
gradients against finite differences, the reference kernels against the fast ones, and PyTorch
parity (values, gradients, grad_fn names, reprs, state dicts, errors)."""

import numpy as np
import pytest

import microtorch as mt
from microtorch.autograd import gradcheck, gradgradcheck
from microtorch.backends import contract
from microtorch.backends import cpu as cpu_backend
from microtorch.backends.cpu import kernels as cpu_kernels

F = mt.nn.functional

# (input shape, normalized_shape)
SHAPES = [((3, 5), (5,)), ((2, 3, 4), (3, 4)), ((4,), (4,)), ((2, 1, 3), (2, 1, 3)),
          ((0, 3), (3,))]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _f64(shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return mt.tensor(data, dtype=mt.float64, requires_grad=requires_grad)


def test_declared_and_registered_by_both_backends():
    assert {"layer_norm", "layer_norm_backward"} <= set(contract.KERNELS)
    assert {"layer_norm", "layer_norm_backward"} <= set(cpu_kernels.REGISTRY.kernels)
    assert {"layer_norm", "layer_norm_backward"} <= set(cpu_kernels.REGISTRY.references)


def test_bindings():
    assert mt.layer_norm is F.layer_norm and mt.rms_norm is F.rms_norm
    assert not hasattr(mt.Tensor, "layer_norm")


@pytest.mark.parametrize("shape,ns", SHAPES)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_gradcheck(shape, ns, affine):
    x = _f64(shape)
    w = _f64(ns, 1) if affine != "none" else None
    b = _f64(ns, 2) if affine == "both" else None
    params = [t for t in (w, b) if t is not None]

    def fn(x, *p):
        return F.layer_norm(x, ns, *p, eps=1e-3) if len(p) != 1 else \
            F.layer_norm(x, ns, p[0], None, eps=1e-3)
    assert gradcheck(fn, (x, *params))


@pytest.mark.parametrize("shape,ns", SHAPES[:3])
def test_layer_norm_gradgradcheck(shape, ns):
    """Double backward works: with create_graph the backward is recorded with Tensor ops."""
    x, w, b = _f64(shape), _f64(ns, 1), _f64(ns, 2)
    assert gradgradcheck(lambda x, w, b: F.layer_norm(x, ns, w, b), (x, w, b))


@pytest.mark.parametrize("shape,ns", SHAPES)
def test_rms_norm_gradcheck(shape, ns):
    x, w = _f64(shape), _f64(ns, 1)
    assert gradcheck(lambda x, w: F.rms_norm(x, ns, w, eps=1e-3), (x, w))
    assert gradgradcheck(lambda x: F.rms_norm(x, ns), (x,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,d", [(1, 1), (3, 7), (200, 160), (0, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_reference_kernels_equal_fast(dtype, rows, d, affine):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((rows, d)) * 3 + 1).astype(dtype)
    w = rng.standard_normal(d).astype(dtype) if affine else None
    b = rng.standard_normal(d).astype(dtype) if affine else None
    gy = rng.standard_normal((rows, d)).astype(dtype)
    results = []
    try:
        for reference in (False, True):
            cpu_backend.use_reference_kernels(reference)
            y, mean, rstd = cpu_kernels.layer_norm(x, w, b, 1e-5)
            results.append((y, mean, rstd) + cpu_kernels.layer_norm_backward(gy, x, w, mean,
                                                                             rstd))
    finally:
        cpu_backend.use_reference_kernels(False)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for fast, ref in zip(*results):
        assert fast.dtype == dtype and ref.dtype == dtype
        np.testing.assert_allclose(fast, ref, rtol=tol, atol=tol)


def test_layer_norm_through_the_reference_kernels():
    x = _f64((4, 6))
    try:
        cpu_backend.use_reference_kernels(True)
        assert gradcheck(lambda x: F.layer_norm(x, (6,)), (x,))
    finally:
        cpu_backend.use_reference_kernels(False)


def test_non_contiguous_input():
    x = _f64((5, 4), requires_grad=False)
    np.testing.assert_allclose(F.layer_norm(x.t(), (5,)).numpy(),
                               F.layer_norm(x.t().contiguous(), (5,)).numpy())


def test_layers_defaults_and_state_dict():
    ln = mt.nn.LayerNorm(8)
    assert ln.weight.shape == (8,) and ln.bias.shape == (8,)
    assert (ln.weight.detach().numpy() == 1).all() and (ln.bias.detach().numpy() == 0).all()
    assert list(ln.state_dict()) == ["weight", "bias"]
    assert list(mt.nn.LayerNorm(8, bias=False).state_dict()) == ["weight"]
    assert list(mt.nn.LayerNorm(8, elementwise_affine=False).state_dict()) == []
    assert list(mt.nn.RMSNorm((2, 3)).state_dict()) == ["weight"]
    assert mt.nn.RMSNorm((2, 3)).weight.shape == (2, 3)


# ---- PyTorch parity -------------------------------------------------------------------------

def _parity(torch, fn, arrays, rtol=1e-5, atol=1e-6):
    """fn(lib, *tensors) in both libraries: values, grad_fn name and every input's gradient."""
    results = []
    for lib in (mt, torch):
        ins = [lib.tensor(a, requires_grad=True) if a is not None else None for a in arrays]
        out = fn(lib, *ins)
        w = np.random.default_rng(9).standard_normal(tuple(out.shape)).astype(arrays[0].dtype)
        (out * lib.tensor(w)).sum().backward()
        results.append((out, [t.grad for t in ins if t is not None]))
    (m, mg), (t, tg) = results
    assert type(m.grad_fn).__name__ == type(t.grad_fn).__name__
    assert str(m.dtype) == str(t.dtype)
    np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    for a, b in zip(mg, tg):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, atol=atol * 10)


@pytest.mark.parametrize("shape,ns", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_parity(torch, shape, ns, dtype):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    w, b = rng.standard_normal(ns).astype(dtype), rng.standard_normal(ns).astype(dtype)
    _parity(torch, lambda lib, x, w, b: lib.nn.functional.layer_norm(x, ns, w, b, 1e-5),
            [x, w, b])
    _parity(torch, lambda lib, x: lib.nn.functional.layer_norm(x, list(ns)), [x])
    _parity(torch, lambda lib, x, w: lib.nn.functional.layer_norm(x, ns, w), [x, w])


@pytest.mark.parametrize("shape,ns", SHAPES)
@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm_parity(torch, shape, ns, eps):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(ns).astype(np.float32)
    _parity(torch, lambda lib, x, w: lib.nn.functional.rms_norm(x, ns, w, eps), [x, w])
    _parity(torch, lambda lib, x: lib.rms_norm(x, ns, eps=eps), [x])


def test_modules_parity(torch):
    x = np.random.default_rng(5).standard_normal((2, 3, 4)).astype(np.float32)
    for args, kwargs in [((4,), {}), (((3, 4),), {"eps": 1e-3}), ((4,), {"bias": False}),
                         ((4,), {"elementwise_affine": False})]:
        m, t = mt.nn.LayerNorm(*args, **kwargs), torch.nn.LayerNorm(*args, **kwargs)
        assert repr(m) == repr(t)
        np.testing.assert_allclose(m(mt.tensor(x)).detach().numpy(),
                                   t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    for args, kwargs in [((4,), {}), (((3, 4),), {"eps": 1e-3}),
                         ((4,), {"elementwise_affine": False})]:
        m, t = mt.nn.RMSNorm(*args, **kwargs), torch.nn.RMSNorm(*args, **kwargs)
        assert repr(m) == repr(t)
        np.testing.assert_allclose(m(mt.tensor(x)).detach().numpy(),
                                   t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_load_pytorch_state_dict(torch):
    t = torch.nn.LayerNorm(4)
    with torch.no_grad():
        t.weight.uniform_()
        t.bias.uniform_()
    m = mt.nn.LayerNorm(4)
    m.load_state_dict({k: mt.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(6).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(m(mt.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def _same_error(torch, fn):
    """fn(lib) raises the same class and message in both libraries."""
    errors = []
    for lib in (mt, torch):
        with pytest.raises(Exception) as info:
            fn(lib)
        errors.append(info.value)
    assert type(errors[0]).__name__ == type(errors[1]).__name__
    assert str(errors[0]) == str(errors[1])


@pytest.mark.parametrize("ns", [(3,), (2, 3, 4, 5), (4, 4)])
def test_layer_norm_shape_mismatch(torch, ns):
    """Issue 11 point 4: a normalized_shape that is not the input's trailing dims."""
    _same_error(torch, lambda lib: lib.nn.functional.layer_norm(lib.zeros(2, 3, 4), ns))


@pytest.mark.parametrize("ns", [(3,), (2, 4), (1, 2, 3, 4)])
def test_rms_norm_shape_mismatch(torch, ns):
    _same_error(torch, lambda lib: lib.nn.functional.rms_norm(lib.zeros(2, 3, 4), ns))


@pytest.mark.parametrize("call", [
    lambda lib, F: F.layer_norm(lib.zeros(2, 4), (4,), lib.ones(3)),
    lambda lib, F: F.layer_norm(lib.zeros(2, 4), (4,), None, lib.ones(3)),
    lambda lib, F: F.layer_norm(lib.zeros(2, 4), ()),
    lambda lib, F: F.layer_norm(lib.zeros(2, 4), 4),
    lambda lib, F: F.layer_norm(lib.zeros(2, 4, dtype=lib.int64), (4,)),
    lambda lib, F: F.layer_norm(lib.zeros(2, 4), (4,), lib.ones(4, dtype=lib.float64)),
    lambda lib, F: F.rms_norm(lib.zeros(2, 4), (4,), lib.ones(3)),
    lambda lib, F: F.rms_norm(lib.zeros(2, 4), ()),
    lambda lib, F: F.rms_norm(lib.zeros(2, 4), 4),
    lambda lib, F: F.rms_norm(lib.zeros(2, 4, dtype=lib.int64), (4,)),
])
def test_argument_errors(torch, call):
    _same_error(torch, lambda lib: call(lib, lib.nn.functional))


def test_empty_input(torch):
    for shape, ns in [((0, 3), (3,)), ((2, 0), (0,))]:
        m = F.layer_norm(mt.zeros(*shape), ns)
        t = torch.nn.functional.layer_norm(torch.zeros(*shape), ns)
        assert tuple(m.shape) == tuple(t.shape)
