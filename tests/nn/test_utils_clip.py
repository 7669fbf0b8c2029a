"""nn.utils: clip_grad_norm_ (every norm type, error_if_nonfinite), clip_grad_value_,
get_total_norm / clip_grads_with_norm_, parameters_to_vector / vector_to_parameters; against
NumPy and, where installed, PyTorch."""

import math
import warnings

import numpy as np
import pytest

import microtorch as mt
from microtorch.nn.utils import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,
                                 clip_grads_with_norm_, get_total_norm, parameters_to_vector,
                                 vector_to_parameters)

SHAPES = [(3, 4), (4,), (2, 2, 2)]


def _grads(scale=1.0):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal(s) * scale).astype(np.float32) for s in SHAPES]


def _params(lib, grads, none_last=True):
    """Parameters with the given gradients, plus one with no gradient (skipped)."""
    params = []
    for g in grads:
        p = lib.zeros(g.shape, requires_grad=True)
        p.grad = lib.tensor(g)
        params.append(p)
    if none_last:
        params.append(lib.zeros(3, requires_grad=True))
    return params


def _np_norm(grads, p):
    flat = np.concatenate([g.ravel() for g in grads]).astype(np.float64)
    if p == math.inf:
        return np.abs(flat).max()
    return (np.abs(flat) ** p).sum() ** (1 / p)


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_numpy(norm_type, max_norm):
    grads = _grads()
    p_num = float(norm_type)
    params = _params(mt, grads)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    expected = _np_norm(grads, p_num)
    assert total.shape == () and total.dtype == mt.float32
    np.testing.assert_allclose(total.item(), expected, rtol=1e-5)
    coef = min(max_norm / (expected + 1e-6), 1.0)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-5, atol=1e-7)
    assert params[-1].grad is None


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 0.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.3, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    grads = _grads(3.0)
    mp, tp = _params(mt, grads), _params(torch, grads)
    mn = mt.nn.utils.clip_grad_norm_(mp, max_norm, norm_type)
    tn = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert repr(mn).split("(")[0] == repr(tn).split("(")[0]
    np.testing.assert_allclose(mn.numpy(), tn.numpy(), rtol=1e-5)
    for a, b in zip(mp, tp):
        if b.grad is None:
            assert a.grad is None
        else:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_single_tensor_and_empty():
    torch = pytest.importorskip("torch")
    g = _grads()[0]
    for lib in (mt, torch):
        p = lib.zeros(g.shape, requires_grad=True)
        p.grad = lib.tensor(g)
        total = lib.nn.utils.clip_grad_norm_(p, 1.0)
        np.testing.assert_allclose(total.item(), np.linalg.norm(g), rtol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(p.grad.numpy()), 1.0, rtol=1e-4)
        empty = lib.nn.utils.clip_grad_norm_([lib.zeros(2, requires_grad=True)], 1.0)
        assert repr(empty) == "tensor(0.)"
    with pytest.warns(UserWarning, match="`parameters` is an empty generator"):
        clip_grad_norm_((p for p in []), 1.0)


def test_clip_grad_norm_does_not_record_a_graph():
    params = _params(mt, _grads())
    params[0].grad.requires_grad_(True)
    total = clip_grad_norm_(params, 1.0)
    assert total.grad_fn is None and not total.requires_grad


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_clip_grad_norm_nonfinite_error(bad):
    """issue 11 point 4: a NaN (or infinite) gradient with error_if_nonfinite=True."""
    torch = pytest.importorskip("torch")
    grads = _grads()
    grads[1][2] = bad
    messages = []
    for lib in (mt, torch):
        params = _params(lib, grads)
        with pytest.raises(RuntimeError) as info:
            lib.nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
        messages.append(str(info.value))
        np.testing.assert_array_equal(params[0].grad.numpy(), grads[0])  # untouched
    assert messages[0] == messages[1]
    assert messages[0].startswith("The total norm of order 2.0 for gradients from `parameters` "
                                  "is non-finite, so it cannot be clipped.")


def test_clip_grad_norm_nonfinite_without_error_matches_torch():
    torch = pytest.importorskip("torch")
    grads = _grads()
    grads[0][0, 0] = math.nan
    mp, tp = _params(mt, grads), _params(torch, grads)
    mn, tn = clip_grad_norm_(mp, 1.0), torch.nn.utils.clip_grad_norm_(tp, 1.0)
    assert math.isnan(mn.item()) and math.isnan(tn.item())
    for a, b in zip(mp[:-1], tp[:-1]):
        np.testing.assert_array_equal(np.isnan(a.grad.numpy()), np.isnan(b.grad.numpy()))


def test_get_total_norm_and_clip_grads_with_norm():
    torch = pytest.importorskip("torch")
    grads = _grads(2.0)
    mp, tp = _params(mt, grads), _params(torch, grads)
    mn = get_total_norm([p.grad for p in mp if p.grad is not None], 3.0)
    tn = torch.nn.utils.get_total_norm([p.grad for p in tp if p.grad is not None], 3.0)
    np.testing.assert_allclose(mn.numpy(), tn.numpy(), rtol=1e-5)
    clip_grads_with_norm_(mp, 0.7, mn)
    torch.nn.utils.clip_grads_with_norm_(tp, 0.7, tn)
    for a, b in zip(mp[:-1], tp[:-1]):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_deprecated_alias():
    params = _params(mt, _grads())
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        total = clip_grad_norm(params, 1.0)
    assert total.item() > 1.0


@pytest.mark.parametrize("clip_value", [0.5, 2, 10.0])
def test_clip_grad_value_matches_torch(clip_value):
    grads = _grads(2.0)
    mp = _params(mt, grads)
    assert clip_grad_value_(mp, clip_value) is None
    for p, g in zip(mp, grads):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -clip_value, clip_value))
    assert mp[-1].grad is None
    torch = pytest.importorskip("torch")
    tp = _params(torch, grads)
    torch.nn.utils.clip_grad_value_(tp, clip_value)
    for a, b in zip(mp[:-1], tp[:-1]):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_clip_grad_value_single_tensor():
    p = mt.zeros(3, requires_grad=True)
    p.grad = mt.tensor([-3.0, 0.2, 5.0])
    clip_grad_value_(p, 1)
    assert p.grad.tolist() == pytest.approx([-1.0, 0.2, 1.0])


def test_parameters_to_vector_roundtrip():
    model = mt.nn.Sequential(mt.nn.Linear(3, 4), mt.nn.Tanh(), mt.nn.Linear(4, 2))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    assert type(vec.grad_fn).__name__ == "CatBackward0"
    expected = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    np.testing.assert_array_equal(vec.detach().numpy(), expected)
    new = mt.arange(vec.numel(), dtype=mt.float32)
    vector_to_parameters(new, model.parameters())
    np.testing.assert_array_equal(parameters_to_vector(model.parameters()).detach().numpy(),
                                  np.arange(vec.numel(), dtype=np.float32))
    assert model[0].weight.shape == (4, 3) and model[0].weight.is_leaf
    np.testing.assert_array_equal(model[0].bias.detach().numpy(), np.arange(12, 16))


def test_parameters_to_vector_gradient_and_torch_parity():
    torch = pytest.importorskip("torch")
    arrays = _grads()
    outs = []
    for lib in (mt, torch):
        params = [lib.tensor(a, requires_grad=True) for a in arrays]
        vec = lib.nn.utils.parameters_to_vector(params)
        (vec * vec).sum().backward()
        outs.append((vec, params))
    (mv, mps), (tv, tps) = outs
    assert type(mv.grad_fn).__name__ == type(tv.grad_fn).__name__
    np.testing.assert_array_equal(mv.detach().numpy(), tv.detach().numpy())
    for a, b in zip(mps, tps):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy())


def test_vector_to_parameters_rejects_non_tensor():
    torch = pytest.importorskip("torch")
    messages = []
    for lib in (mt, torch):
        with pytest.raises(TypeError) as info:
            lib.nn.utils.vector_to_parameters([1.0, 2.0], [lib.zeros(2)])
        messages.append(str(info.value))
    assert messages[0] == messages[1] == "expected torch.Tensor, but got: list"


def test_vector_to_parameters_with_warnings_clean():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = mt.zeros(2, 2, requires_grad=True)
        vector_to_parameters(mt.ones(4), [p])
    assert p.detach().numpy().tolist() == [[1.0, 1.0], [1.0, 1.0]]
