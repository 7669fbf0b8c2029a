"""Helpers for the nn tests: run the same function with microtorch and with PyTorch (when
installed) and compare values, dtypes, grad_fn names and input gradients."""

import numpy as np

import microtorch as mt


def rand(*shape, low=-2.0, high=2.0, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def _inputs(lib, arrays):
    return [lib.tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray)
            else a for a in arrays]


def compare(torch, fn, *arrays, rtol=1e-5, atol=1e-5, check_name=True, seed=1):
    """``fn(lib, *tensors)`` with lib = microtorch and torch: same values, dtype, grad_fn name,
    and same gradients of ``sum(out * w)`` (w random) for every float input."""
    results = []
    for lib in (mt, torch):
        ins = _inputs(lib, arrays)
        results.append((fn(lib, *ins), ins))
    (m, m_in), (t, t_in) = results
    assert tuple(m.shape) == tuple(t.shape), (m.shape, t.shape)
    assert str(m.dtype) == str(t.dtype), (m.dtype, t.dtype)
    np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    if check_name:
        assert type(m.grad_fn).__name__ == type(t.grad_fn).__name__
    if not t.requires_grad:
        return m, t
    w = np.random.default_rng(seed).standard_normal(tuple(t.shape)).astype(np.float32)
    (m * mt.tensor(w, dtype=m.dtype)).sum().backward()
    (t * torch.tensor(w, dtype=t.dtype)).sum().backward()
    for a, b in zip(m_in, t_in):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            assert (a.grad is None) == (b.grad is None)
            if b.grad is not None:
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol,
                                           atol=atol)
    return m, t


def f64(*shape, low=-2.0, high=2.0, seed=0, requires_grad=True):
    """A float64 leaf for gradcheck."""
    return mt.tensor(rand(*shape, low=low, high=high, seed=seed, dtype=np.float64),
                     dtype=mt.float64, requires_grad=requires_grad)


def copy_params(m_module, t_module):
    """Copy a torch module's parameters and buffers into the microtorch module."""
    sd = {k: mt.tensor(v.detach().numpy()) for k, v in t_module.state_dict().items()}
    m_module.load_state_dict(sd)
