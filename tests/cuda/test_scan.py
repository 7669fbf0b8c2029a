"""``cumsum`` and ``cumprod`` on a CUDA device (backends/cuda/scan.py): values and gradients
equal the CPU's, along every dim, forward and reversed (simulator or GPU; tiny shapes)."""

import numpy as np
import pytest

import microtorch as torch
from microtorch.backends.cuda import kernels


def test_registered_by_the_cuda_backend():
    assert {"cumsum", "cumprod"} <= set(kernels.REGISTRY.kernels)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
@pytest.mark.parametrize("reverse", [False, True])
def test_kernels_match_cpu(dtype, reverse):
    x = np.random.default_rng(0).uniform(-2, 2, size=(2, 3, 4)) * 2
    t = torch.tensor(x).to(dtype)
    g = t.to("cuda")
    for name in ("cumsum", "cumprod"):
        for axis in range(3):
            cpu = getattr(t._backend, name)(t._data, axis, reverse)
            gpu = getattr(g._backend, name)(g._data, axis, reverse)
            np.testing.assert_allclose(g._backend.to_numpy(gpu), cpu, rtol=1e-5)


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_ops_and_gradients_match_cpu(name):
    data = np.array([[1.5, 0.0, 2.0, -1.0], [0.5, 2.0, 0.0, 0.0], [1.0, -2.0, 3.0, 0.5]])
    results = []
    for dev in ("cpu", "cuda"):
        x = torch.tensor(data, device=dev, requires_grad=True)
        y = getattr(x, name)(1)
        assert y.grad_fn.name() == name.capitalize() + "Backward0"
        (y * torch.tensor(data, device=dev)).sum().backward()
        results.append([y.detach().cpu().numpy(), x.grad.cpu().numpy()])
    for c, g in zip(*results):
        np.testing.assert_allclose(g, c, rtol=1e-12)


def test_integers_and_empty():
    x = torch.tensor([[True, False, True]], device="cuda")
    assert torch.cumsum(x, 1).cpu().tolist() == [[1, 1, 2]]
    assert torch.cumsum(torch.ones(2, 0, device="cuda"), 1).shape == (2, 0)


# ---- the masking ops (ops/masking.py: composed from arange, a comparison and where) ----------

@pytest.mark.parametrize("name", ["tril", "triu"])
def test_triangles_match_cpu(name):
    data = np.arange(1.0, 25.0).reshape(2, 3, 4)
    results = []
    for dev in ("cpu", "cuda"):
        x = torch.tensor(data, device=dev, requires_grad=True)
        y = getattr(torch, name)(x, 1)
        (y * torch.tensor(data, device=dev)).sum().backward()
        results.append([y.detach().cpu().numpy(), x.grad.cpu().numpy()])
    for c, g in zip(*results):
        np.testing.assert_array_equal(g, c)


def test_masked_fill_matches_cpu():
    data = np.arange(1.0, 13.0).reshape(3, 4)
    results = []
    for dev in ("cpu", "cuda"):
        x = torch.tensor(data, device=dev, requires_grad=True)
        mask = torch.tril(torch.ones(3, 4, device=dev)) == 0
        y = x.masked_fill(mask, float("-inf")).softmax(-1)
        (y * torch.tensor(data, device=dev)).sum().backward()
        results.append([y.detach().cpu().numpy(), x.grad.cpu().numpy()])
    for c, g in zip(*results):
        np.testing.assert_allclose(g, c, rtol=1e-12)
