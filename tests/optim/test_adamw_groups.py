"""AdamW with parameter groups as nanoGPT's ``configure_optimizers`` builds them (2-D weights
decayed, biases and norms not), a learning rate set per step by hand (cosine schedule with
warmup), against PyTorch: parameter trajectories, group settings, repr and state_dict."""

import math

import numpy as np
import pytest

import microtorch as mt

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
Y = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)


def _model(lib):
    """A small MLP with weights from a fixed seed, the same in both libraries."""
    rng = np.random.default_rng(2)
    model = lib.nn.Sequential(lib.nn.Linear(5, 8), lib.nn.Tanh(), lib.nn.Linear(8, 3))
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.tensor(rng.uniform(-0.5, 0.5, tuple(p.shape)).astype(np.float32)))
    return model


def configure_optimizers(lib, model, weight_decay, learning_rate, betas, fused=None):
    """nanoGPT's ``GPT.configure_optimizers``, verbatim in substance."""
    param_dict = {pn: p for pn, p in model.named_parameters()}
    param_dict = {pn: p for pn, p in param_dict.items() if p.requires_grad}
    decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
    nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
    optim_groups = [
        {"params": decay_params, "weight_decay": weight_decay},
        {"params": nodecay_params, "weight_decay": 0.0},
    ]
    extra_args = dict(fused=True) if fused else dict()
    return lib.optim.AdamW(optim_groups, lr=learning_rate, betas=betas, **extra_args)


def get_lr(it, learning_rate=6e-3, warmup_iters=3, lr_decay_iters=10, min_lr=6e-4):
    """nanoGPT's cosine schedule with linear warmup."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


def _train(lib, steps=12, weight_decay=0.1, clip=1.0):
    model = _model(lib)
    opt = configure_optimizers(lib, model, weight_decay, 6e-3, (0.9, 0.95))
    for it in range(steps):
        for group in opt.param_groups:
            group["lr"] = get_lr(it)
        loss = ((model(lib.tensor(X)) - lib.tensor(Y)) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return model, opt


@pytest.mark.parametrize("weight_decay", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("clip", [None, 0.05])
def test_nanogpt_groups_trajectory_matches_torch(weight_decay, clip):
    (mm, mo), (tm, to) = (_train(lib, weight_decay=weight_decay, clip=clip)
                          for lib in (mt, torch))
    for (name, a), (_, b) in zip(mm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)
    assert [g["weight_decay"] for g in mo.param_groups] == [weight_decay, 0.0]
    assert [len(g["params"]) for g in mo.param_groups] == [2, 2]
    assert mo.param_groups[0]["lr"] == to.param_groups[0]["lr"]


def test_groups_decay_only_the_weights():
    """With zero gradients the decayed group shrinks by (1 - lr * wd) and the other stays."""
    model = _model(mt)
    opt = configure_optimizers(mt, model, 0.5, 0.1, (0.9, 0.95))
    before = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = mt.zeros_like(p)
    opt.step()
    for n, p in model.named_parameters():
        factor = 1 - 0.1 * 0.5 if p.dim() >= 2 else 1.0
        np.testing.assert_allclose(p.detach().numpy(), before[n] * factor, rtol=1e-6, err_msg=n)


def test_groups_repr_and_state_dict_match_torch():
    (mm, mo), (tm, to) = (_train(lib, steps=3) for lib in (mt, torch))
    assert repr(mo) == repr(to)
    msd, tsd = mo.state_dict(), to.state_dict()
    assert msd["param_groups"] == tsd["param_groups"]
    assert sorted(msd["state"]) == sorted(tsd["state"])
    for k in tsd["state"]:
        for name in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(msd["state"][k][name].numpy(),
                                       tsd["state"][k][name].numpy(), rtol=1e-5, atol=1e-7)
        assert float(msd["state"][k]["step"]) == float(tsd["state"][k]["step"])
    # a fresh optimizer loads the state and continues exactly as the original
    fresh = configure_optimizers(mt, mm, 0.1, 6e-3, (0.9, 0.95))
    fresh.load_state_dict(msd)
    assert fresh.state_dict()["param_groups"] == msd["param_groups"]


def test_fused_flag_accepted():
    model = _model(mt)
    opt = configure_optimizers(mt, model, 0.1, 1e-3, (0.9, 0.95), fused=True)
    assert opt.param_groups[0]["fused"] is True
