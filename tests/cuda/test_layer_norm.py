"""LayerNorm, RMSNorm and Embedding on a CUDA device: values and gradients equal the CPU's
(simulator or GPU; tiny shapes)."""

import numpy as np
import pytest

import microtorch as torch
from microtorch.backends.cuda import kernels

F = torch.nn.functional


def test_registered_by_the_cuda_backend():
    assert {"layer_norm", "layer_norm_backward"} <= set(kernels.REGISTRY.kernels)


def _both(fn, arrays):
    """fn(*tensors) on the CPU and on CUDA: outputs and input gradients, as NumPy arrays."""
    results = []
    for dev in ("cpu", "cuda"):
        ins = [torch.tensor(a, device=dev, requires_grad=a.dtype.kind == "f") for a in arrays]
        out = fn(*ins)
        assert out.device.type == dev
        g = np.random.default_rng(7).standard_normal(tuple(out.shape)).astype(out.dtype.np)
        (out * torch.tensor(g, device=dev)).sum().backward()
        results.append([out.detach().cpu().numpy()] +
                       [t.grad.cpu().numpy() for t in ins if t.requires_grad])
        results[-1].append(out.grad_fn.name())
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,ns", [((3, 5), (5,)), ((2, 3, 4), (3, 4)), ((2, 70), (70,))])
def test_layer_norm_matches_cpu(dtype, shape, ns):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    w, b = rng.standard_normal(ns).astype(dtype), rng.standard_normal(ns).astype(dtype)
    for fn, arrays in [(lambda x, w, b: F.layer_norm(x, ns, w, b), [x, w, b]),
                       (lambda x: F.layer_norm(x, ns), [x])]:
        cpu, gpu = _both(fn, arrays)
        assert cpu[-1] == gpu[-1] == "NativeLayerNormBackward0"
        tol = 1e-5 if dtype == np.float32 else 1e-12
        for c, g in zip(cpu[:-1], gpu[:-1]):
            np.testing.assert_allclose(g, c, rtol=tol, atol=tol)


def test_layer_norm_module_and_rms_norm_match_cpu():
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    cpu, gpu = _both(lambda x: F.rms_norm(x, (4,), eps=1e-6), [x])
    for c, g in zip(cpu[:-1], gpu[:-1]):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6)
    ln = torch.nn.LayerNorm(4).to("cuda")
    np.testing.assert_allclose(ln(torch.tensor(x, device="cuda")).detach().cpu().numpy(),
                               F.layer_norm(torch.tensor(x), (4,)).numpy(), rtol=1e-5, atol=1e-6)


def test_embedding_matches_cpu():
    table = np.random.default_rng(2).standard_normal((5, 3)).astype(np.float32)
    idx = np.array([[0, 4, 4], [2, 0, 1]])
    results = []
    for dev in ("cpu", "cuda"):
        w = torch.tensor(table, device=dev, requires_grad=True)
        out = F.embedding(torch.tensor(idx, device=dev), w, padding_idx=0)
        out.sum().backward()
        assert out.device.type == dev and out.grad_fn.name() == "EmbeddingBackward0"
        results.append((out.detach().cpu().numpy(), w.grad.cpu().numpy()))
    for c, g in zip(*results):
        np.testing.assert_allclose(g, c, rtol=1e-6)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(torch.tensor([5], device="cuda"), torch.zeros(5, 3, device="cuda"))
