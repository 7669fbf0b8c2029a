"""Losses (functional and modules) against PyTorch and by finite differences in float64."""

import numpy as np
import pytest

import microtorch as mt
import microtorch.nn.functional as F
from microtorch import nn
from microtorch.autograd import gradcheck
from tests.nn.parity import compare, f64, rand

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")
REDUCTIONS = ["mean", "sum", "none"]

TARGET = np.array([1, 0, 3, 2, 3])
TARGET_IGNORE = np.array([1, -100, 3, 2, -100])
TARGET_2D = np.random.default_rng(5).integers(0, 4, (2, 3, 2))
PROBS = np.random.default_rng(6).dirichlet(np.ones(4), 5).astype(np.float32)
WEIGHT = np.array([0.5, 2.0, 1.0, 1.5], np.float32)


def _probs(x):
    return 1 / (1 + np.exp(-x))


# name -> (fn(F, *inputs), arrays)   (arrays: float arrays get requires_grad)
LOSSES = {
    "mse": (lambda F, x, y, r: F.mse_loss(x, y, reduction=r), [rand(3, 4), rand(3, 4, seed=1)]),
    "l1": (lambda F, x, y, r: F.l1_loss(x, y, reduction=r), [rand(3, 4), rand(3, 4, seed=1)]),
    "smooth_l1": (lambda F, x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.5),
                  [rand(3, 4), rand(3, 4, seed=1)]),
    "ce": (lambda F, x, t, r: F.cross_entropy(x, t, reduction=r), [rand(5, 4), TARGET]),
    "ce_weight": (lambda F, x, t, w, r: F.cross_entropy(x, t, w.detach(), reduction=r),
                  [rand(5, 4), TARGET, WEIGHT]),
    "ce_ignore": (lambda F, x, t, r: F.cross_entropy(x, t, reduction=r),
                  [rand(5, 4), TARGET_IGNORE]),
    "ce_ignore_index_2": (lambda F, x, t, r: F.cross_entropy(x, t, ignore_index=2, reduction=r),
                          [rand(5, 4), TARGET]),
    "ce_smooth": (lambda F, x, t, r: F.cross_entropy(x, t, reduction=r, label_smoothing=0.2),
                  [rand(5, 4), TARGET]),
    "ce_smooth_weight_ignore": (
        lambda F, x, t, w, r: F.cross_entropy(x, t, w.detach(), reduction=r,
                                              label_smoothing=0.3),
        [rand(5, 4), TARGET_IGNORE, WEIGHT]),
    "ce_probs": (lambda F, x, p, r: F.cross_entropy(x, p.detach(), reduction=r),
                 [rand(5, 4), PROBS]),
    "ce_probs_weight_smooth": (
        lambda F, x, p, w, r: F.cross_entropy(x, p.detach(), w.detach(), reduction=r,
                                              label_smoothing=0.1),
        [rand(5, 4), PROBS, WEIGHT]),
    "ce_spatial": (lambda F, x, t, r: F.cross_entropy(x, t, reduction=r),
                   [rand(2, 4, 3, 2), TARGET_2D]),
    "ce_1d": (lambda F, x, t, r: F.cross_entropy(x, t, reduction=r),
              [rand(4), np.array(2)]),
    "nll": (lambda F, x, t, r: F.nll_loss(x, t, reduction=r), [rand(5, 4), TARGET]),
    "nll_weight_ignore": (lambda F, x, t, w, r: F.nll_loss(x, t, w.detach(), reduction=r),
                          [rand(5, 4), TARGET_IGNORE, WEIGHT]),
    "bce": (lambda F, x, y, r: F.binary_cross_entropy(x, y.detach(), reduction=r),
            [_probs(rand(3, 4)), _probs(rand(3, 4, seed=1))]),
    "bce_weight": (lambda F, x, y, w, r: F.binary_cross_entropy(x, y.detach(), w.detach(),
                                                                reduction=r),
                   [_probs(rand(3, 4)), _probs(rand(3, 4, seed=1)), rand(4, low=0.5, seed=2)]),
    "bce_logits": (lambda F, x, y, r: F.binary_cross_entropy_with_logits(x, y.detach(),
                                                                         reduction=r),
                   [rand(3, 4, low=-6, high=6), _probs(rand(3, 4, seed=1))]),
    "bce_logits_pos_weight": (
        lambda F, x, y, w, pw, r: F.binary_cross_entropy_with_logits(
            x, y.detach(), w.detach(), reduction=r, pos_weight=pw.detach()),
        [rand(3, 4, low=-6, high=6), _probs(rand(3, 4, seed=1)), rand(3, 1, low=0.5, seed=2),
         rand(4, low=0.5, high=3, seed=3)]),
}
NO_NAME_CHECK = {"l1", "smooth_l1", "ce_probs", "ce_probs_weight_smooth", "ce_smooth",
                 "ce_smooth_weight_ignore", "ce_spatial", "ce_1d"}


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_parity(name, reduction):
    fn, arrays = LOSSES[name]
    if name.startswith("nll"):
        arrays = [np.log(np.random.default_rng(0).dirichlet(np.ones(4), 5)).astype(np.float32)
                  ] + arrays[1:]
    compare(torch, lambda L, *t: fn(L.nn.functional, *t, reduction), *arrays,
            check_name=name not in NO_NAME_CHECK and reduction != "none", rtol=1e-5,
            atol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_gradcheck(name, reduction):
    fn, arrays = LOSSES[name]
    inputs = []
    for i, a in enumerate(arrays):
        if a.dtype.kind == "f":
            t = mt.tensor(a.astype(np.float64), dtype=mt.float64, requires_grad=i == 0)
            if name.startswith("nll") and i == 0:
                t = f64(*a.shape)
            inputs.append(t)
        else:
            inputs.append(mt.tensor(a))
    assert gradcheck(lambda *t: fn(F, *t, reduction), tuple(inputs))


@needs_torch
@pytest.mark.parametrize("name, kwargs", [
    ("MSELoss", {}), ("L1Loss", dict(reduction="sum")), ("CrossEntropyLoss", {}),
    ("CrossEntropyLoss", dict(label_smoothing=0.1, ignore_index=1)), ("NLLLoss", {}),
    ("BCELoss", {}), ("BCEWithLogitsLoss", dict(reduction="none"))])
def test_loss_modules(name, kwargs):
    m, t = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(m) == repr(t)
    if name in ("CrossEntropyLoss", "NLLLoss"):
        arrays = [rand(5, 4), TARGET]
    elif name.startswith("BCE"):
        arrays = [_probs(rand(3, 4)), _probs(rand(3, 4, seed=1))]
    else:
        arrays = [rand(3, 4), rand(3, 4, seed=1)]
    compare(torch, lambda L, x, y: (m if L is mt else t)(x, y.detach() if y.dtype.is_floating_point
                                                         else y), *arrays, check_name=False)


@needs_torch
def test_loss_module_buffers_weight_and_pos_weight():
    w = rand(4, low=0.5)
    m = nn.CrossEntropyLoss(weight=mt.tensor(w))
    t = torch.nn.CrossEntropyLoss(weight=torch.tensor(w))
    assert list(m.state_dict()) == list(t.state_dict()) == ["weight"]
    m = nn.BCEWithLogitsLoss(pos_weight=mt.tensor(w))
    t = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w))
    assert list(m.state_dict()) == list(t.state_dict())
    compare(torch, lambda L, x, y: (m if L is mt else t)(x, y.detach()), rand(3, 4),
            _probs(rand(3, 4, seed=1)), check_name=False)


@needs_torch
def test_mse_loss_grad_fn_chain():
    """The blitz's ``loss.grad_fn`` walk: MseLoss -> Addmm -> Accumulate/Relu... names."""
    for lib in (mt, torch):
        x = lib.ones(2, 3, requires_grad=True)
        y = lib.nn.functional.mse_loss(x * 2, lib.zeros(2, 3))
        assert type(y.grad_fn).__name__ == "MseLossBackward0"
        assert type(y.grad_fn.next_functions[0][0]).__name__ == "MulBackward0"


# ---- bad input -------------------------------------------------------------------------------

@needs_torch
def test_cross_entropy_class_out_of_range():
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        nn.CrossEntropyLoss()(mt.randn(3, 5), mt.tensor([1, 7, 0]))
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        torch.nn.CrossEntropyLoss()(torch.randn(3, 5), torch.tensor([1, 7, 0]))
    with pytest.raises(IndexError, match="Target -2 is out of bounds"):
        F.nll_loss(mt.randn(3, 5), mt.tensor([1, -2, 0]))


@needs_torch
def test_loss_bad_shapes_and_reduction():
    with pytest.raises(ValueError) as m_err:
        F.cross_entropy(mt.randn(3, 5), mt.tensor([1, 2]))
    with pytest.raises(ValueError) as t_err:
        torch.nn.functional.cross_entropy(torch.randn(3, 5), torch.tensor([1, 2]))
    assert str(m_err.value) == str(t_err.value)
    with pytest.raises(ValueError) as m_err:
        F.binary_cross_entropy_with_logits(mt.randn(3, 5), mt.rand(3, 4))
    with pytest.raises(ValueError) as t_err:
        torch.nn.functional.binary_cross_entropy_with_logits(torch.randn(3, 5), torch.rand(3, 4))
    assert str(m_err.value) == str(t_err.value)
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(mt.tensor([1.5]), mt.tensor([1.0]))
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(mt.randn(3, 5), mt.tensor([1, 2, 0]), label_smoothing=1.5)
