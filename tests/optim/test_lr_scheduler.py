"""Learning-rate schedulers against PyTorch: the lr (and OneCycleLR's momentum) of every
step."""

import math
import warnings

import numpy as np
import pytest

import microtorch as mt

torch = pytest.importorskip("torch")

SCHEDULERS = [
    ("StepLR", dict(step_size=3)), ("StepLR", dict(step_size=2, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 6], gamma=0.3)),
    ("MultiStepLR", dict(milestones=[8, 3])),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)), ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e)),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (e + 1), lambda e: e + 1])),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=20)),
    ("OneCycleLR", dict(max_lr=[0.5, 2.0], epochs=4, steps_per_epoch=5, pct_start=0.4,
                        anneal_strategy="linear")),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=21, three_phase=True, div_factor=10,
                        final_div_factor=100, base_momentum=0.8, max_momentum=0.9)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=12, cycle_momentum=False)),
]


def _trace(lib, opt_name, name, kwargs, steps):
    params = [lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.5}]
    opt_kwargs = dict(lr=0.1, momentum=0.9) if opt_name == "SGD" else dict(lr=0.1)
    opt = getattr(lib.optim, opt_name)(groups, **opt_kwargs)
    sched = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
    trace = []
    for _ in range(steps):
        momenta = [g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups]
        trace.append(([g["lr"] for g in opt.param_groups], momenta, sched.get_last_lr()))
        opt.step()
        sched.step()
    return trace, sched


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name, kwargs", SCHEDULERS)
def test_schedule_matches_torch(name, kwargs, opt_name):
    steps = kwargs.get("total_steps") or (kwargs.get("epochs", 0) * kwargs.get(
        "steps_per_epoch", 0)) or 12
    m, _ = _trace(mt, opt_name, name, kwargs, steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, _ = _trace(torch, opt_name, name, kwargs, steps)
    for step, (a, b) in enumerate(zip(m, t)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(np.array(x, dtype=float), np.array(y, dtype=float),
                                       rtol=1e-9, atol=1e-12, err_msg=f"step {step}")


def test_initial_lr_and_state_dict():
    p = [mt.zeros(1, requires_grad=True)]
    opt = mt.optim.SGD(p, lr=1.0)
    sched = mt.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    assert opt.param_groups[0]["initial_lr"] == 1.0 and sched.base_lrs == [1.0]
    for _ in range(3):
        opt.step()
        sched.step()
    assert sched.last_epoch == 3 and sched.get_last_lr() == [0.5]
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3
    opt2 = mt.optim.SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    s2 = mt.optim.lr_scheduler.StepLR(opt2, step_size=7)
    s2.load_state_dict(sd)
    s2.step()
    assert s2.get_last_lr() == [0.25] and opt2.param_groups[0]["lr"] == 0.25


def test_cosine_formula():
    opt = mt.optim.SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    sched = mt.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8)
    for _ in range(4):
        opt.step()
        sched.step()
    assert math.isclose(opt.param_groups[0]["lr"], 0.5)


def test_scheduler_errors():
    opt = mt.optim.SGD([mt.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(KeyError, match="initial_lr"):
        mt.optim.lr_scheduler.StepLR(opt, 2, last_epoch=3)
    with pytest.raises(ValueError, match="total_steps"):
        mt.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        mt.optim.lr_scheduler.LambdaLR(opt, [lambda e: 1, lambda e: 2])
    sched = mt.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        sched.step()
    with pytest.raises(ValueError, match="momentum or beta1"):
        mt.optim.lr_scheduler.OneCycleLR(_NoMomentum(), max_lr=1.0, total_steps=5)


class _NoMomentum(mt.optim.Optimizer):
    def __init__(self):
        super().__init__([mt.zeros(1, requires_grad=True)], dict(lr=0.1))
