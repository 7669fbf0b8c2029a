"""Fused scaled_dot_product_attention on a CUDA device: values and gradients equal the CPU's
(simulator or GPU; tiny shapes)."""

import numpy as np
import pytest

import microtorch as torch
from microtorch.backends.cuda import kernels

F = torch.nn.functional


def test_registered_by_the_cuda_backend():
    assert {"attention", "attention_backward"} <= set(kernels.REGISTRY.kernels)


def _run(device, arrays, mask, **kw):
    ts = [torch.tensor(a, device=device, requires_grad=True) for a in arrays]
    m = None if mask is None else torch.tensor(mask, device=device)
    out = F.scaled_dot_product_attention(*ts, attn_mask=m, **kw)
    out.backward(torch.ones_like(out) if hasattr(torch, "ones_like") else None)
    return [t.cpu().numpy() for t in [out.detach()] + [t.grad for t in ts]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["plain", "causal", "bool", "float"])
def test_matches_cpu(dtype, case):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3))]
    mask, kw = None, {}
    if case == "causal":
        kw["is_causal"] = True
    elif case in ("bool", "float"):
        keep = rng.random((2, 3, 5)) > 0.4
        keep[0, 1] = False  # every key masked: output and gradients 0
        mask = keep if case == "bool" else np.where(keep, rng.standard_normal(keep.shape),
                                                    -np.inf).astype(dtype)
    gpu = _run("cuda", arrays, mask, **kw)
    cpu = _run("cpu", arrays, mask, **kw)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for g, c in zip(gpu, cpu):
        np.testing.assert_allclose(g, c, rtol=tol, atol=tol)


def test_broadcast_batch_and_per_batch_mask_match_cpu():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in ((2, 1, 3, 4), (3, 5, 4), (1, 5, 2))]
    keep = rng.random((2, 3, 3, 5)) > 0.3
    gpu = _run("cuda", arrays, keep)
    cpu = _run("cpu", arrays, keep)
    for g, c in zip(gpu, cpu):
        np.testing.assert_allclose(g, c, rtol=1e-12, atol=1e-12)
