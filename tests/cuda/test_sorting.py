"""``sort``/``argsort``/``topk`` and ``multinomial`` on a CUDA device (simulator or GPU; tiny
shapes): the same values, indices and gradients as the CPU, and samples on the device."""

import numpy as np
import pytest

import microtorch as torch
from microtorch.backends.cuda import kernels

NAN = float("nan")


def test_registered_by_the_cuda_backend():
    assert {"argsort", "multinomial"} <= set(kernels.REGISTRY.kernels)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.bool])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_matches_cpu(dtype, descending):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, (2, 5, 3))
    if dtype.is_floating_point:
        a = a.astype(np.float64)
        a[0, 1, 0] = a[1, 4, 2] = NAN
    x = torch.tensor(a, dtype=dtype)
    xc = x.to("cuda")
    for dim in range(3):
        cv, ci = torch.sort(x, dim, descending, stable=True)
        gv, gi = torch.sort(xc, dim, descending, stable=True)
        assert gi.is_cuda and gi.dtype == torch.int64
        np.testing.assert_array_equal(gv.cpu().numpy(), cv.numpy())
        np.testing.assert_array_equal(gi.cpu().numpy(), ci.numpy())


def test_topk_values_indices_and_gradient_match_cpu():
    a = np.random.default_rng(1).standard_normal((3, 6))
    results = []
    for dev in ("cpu", "cuda"):
        x = torch.tensor(a, device=dev, requires_grad=True)
        v, i = x.topk(2, dim=1, largest=False)
        (v * v).sum().backward()
        assert v.grad_fn.name() == "TopkBackward0"
        results.append([t.cpu().numpy() for t in (v.detach(), i, x.grad)])
    for c, g in zip(*results):
        np.testing.assert_allclose(g, c)


def test_argsort_along_first_dim():
    x = torch.tensor([[3.0, 1.0], [1.0, 2.0], [2.0, 0.0]], device="cuda")
    assert torch.argsort(x, 0).cpu().tolist() == [[1, 2], [2, 0], [0, 1]]


def test_multinomial_on_the_device():
    g = torch.Generator().manual_seed(0)
    w = torch.tensor([[0.0, 1.0, 0.0, 3.0], [2.0, 0.0, 2.0, 0.0]], device="cuda")
    s = torch.multinomial(w, 400, replacement=True, generator=g)
    assert s.is_cuda and tuple(s.shape) == (2, 400)
    s = s.cpu().numpy()
    assert set(s[0].tolist()) == {1, 3} and set(s[1].tolist()) == {0, 2}
    assert 0.6 < (s[0] == 3).mean() < 0.9      # expected 0.75, sd about 0.02
    d = torch.multinomial(w, 2, generator=g)
    assert d.is_cuda
    assert sorted(d.cpu().numpy()[0].tolist()) == [1, 3]
