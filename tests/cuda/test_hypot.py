"""``hypot`` (the worked example of docs/internals/custom_op.rst) on a CUDA device: values,
special values and gradients equal the CPU's (simulator or GPU; tiny shapes)."""

import numpy as np
import pytest

import microtorch as torch
from microtorch.backends.cuda import kernels

INF, NAN = float("inf"), float("nan")


def test_registered_by_the_cuda_backend():
    assert "hypot" in kernels.REGISTRY.op_names("binary")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_and_special_values_match_cpu(dtype):
    a = [3.0, INF, NAN, 0.0, -3.0, 1e-30]
    b = [NAN, NAN, INF, 0.0, 4.0, 1e-30]
    cpu = torch.hypot(torch.tensor(a, dtype=dtype), torch.tensor(b, dtype=dtype))
    gpu = torch.hypot(torch.tensor(a, dtype=dtype, device="cuda"),
                      torch.tensor(b, dtype=dtype, device="cuda"))
    assert gpu.is_cuda and gpu.dtype == dtype
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu.numpy(), rtol=1e-6, equal_nan=True)
    assert list(gpu.cpu().numpy()[1:3]) == [INF, INF]     # inf wins over NaN, as C's hypot


def test_broadcast_gradient_matches_cpu():
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal((2, 3)), rng.standard_normal(3)
    results = []
    for dev in ("cpu", "cuda"):
        a = torch.tensor(a_np, device=dev, requires_grad=True)
        b = torch.tensor(b_np, device=dev, requires_grad=True)
        out = a.hypot(b)
        out.sum().backward()
        assert out.grad_fn.name() == "HypotBackward0"
        results.append([t.cpu().numpy() for t in (out.detach(), a.grad, b.grad)])
    for c, g in zip(*results):
        np.testing.assert_allclose(g, c, rtol=1e-10)
