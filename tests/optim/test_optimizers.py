"""Optimizers against PyTorch: parameter trajectories over several steps for every option,
state_dict round trips, reprs, and bad arguments."""

import copy

import numpy as np
import pytest

import microtorch as mt
from microtorch import optim

torch = pytest.importorskip("torch")

INIT = [np.random.default_rng(0).uniform(-1, 1, (3, 4)).astype(np.float32),
        np.random.default_rng(1).uniform(-1, 1, (4,)).astype(np.float32),
        np.random.default_rng(2).uniform(-1, 1, (2,)).astype(np.float32)]  # never gets a grad
X = np.random.default_rng(3).uniform(-1, 1, (5, 3)).astype(np.float32)


def _loss(lib, params):
    w, b, _ = params
    h = (lib.tensor(X) @ w + b).tanh()
    return (h * h).sum() + (w ** 3).sum() * 0.1


def _run(lib, cls, kwargs, steps, groups=False):
    params = [lib.tensor(a.copy(), requires_grad=True) for a in INIT]
    if groups:
        arg = [{"params": params[:1], "lr": 0.05}, {"params": params[1:]}]
    else:
        arg = params
    opt = getattr(lib.optim, cls)(arg, **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss = _loss(lib, params)
        loss.backward()
        opt.step()
    return params, opt


def _check(cls, kwargs, steps=5, groups=False):
    (mp, mo), (tp, to) = (_run(lib, cls, kwargs, steps, groups) for lib in (mt, torch))
    for a, b in zip(mp, tp):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
    np.testing.assert_array_equal(mp[2].detach().numpy(), INIT[2])  # grad None: skipped
    return mo, to


SGD_CASES = [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9, dampening=0.3),
             dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.1, weight_decay=0.1),
             dict(lr=0.05, momentum=0.5, weight_decay=0.01, maximize=True),
             dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05)]
ADAM_CASES = [dict(), dict(lr=0.01), dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6),
              dict(lr=0.01, weight_decay=0.1), dict(lr=0.01, amsgrad=True),
              dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)]
RMSPROP_CASES = [dict(), dict(lr=0.01, alpha=0.9), dict(lr=0.01, centered=True),
                 dict(lr=0.01, momentum=0.9), dict(lr=0.01, centered=True, momentum=0.5,
                                                   weight_decay=0.1),
                 dict(lr=0.01, maximize=True)]
CASES = ([("SGD", k) for k in SGD_CASES] + [("Adam", k) for k in ADAM_CASES]
         + [("AdamW", k) for k in ADAM_CASES] + [("RMSprop", k) for k in RMSPROP_CASES])


@pytest.mark.parametrize("cls, kwargs", CASES)
def test_trajectory_and_repr(cls, kwargs):
    mo, to = _check(cls, kwargs)
    assert repr(mo) == repr(to)
    assert set(mo.state_dict()["state"]) == set(to.state_dict()["state"])


@pytest.mark.parametrize("cls", ["SGD", "Adam", "RMSprop"])
def test_param_groups(cls):
    kwargs = dict(lr=0.01, momentum=0.9) if cls != "Adam" else dict(lr=0.01)
    mo, to = _check(cls, kwargs, steps=3, groups=True)
    assert repr(mo) == repr(to)
    assert [g["lr"] for g in mo.param_groups] == [0.05, 0.01]


def test_sgd_first_momentum_buffer_is_gradient():
    p = mt.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    (p * mt.tensor([3.0, 4.0])).sum().backward()
    opt.step()
    assert opt.state[p]["momentum_buffer"].tolist() == [3.0, 4.0]
    np.testing.assert_allclose(p.detach().numpy(), [0.7, 1.6], rtol=1e-6)


@pytest.mark.parametrize("cls, kwargs", [("SGD", dict(lr=0.1, momentum=0.9)),
                                         ("Adam", dict(lr=0.01, amsgrad=True)),
                                         ("AdamW", dict(lr=0.01)),
                                         ("RMSprop", dict(lr=0.01, centered=True,
                                                          momentum=0.5))])
def test_state_dict_round_trip(cls, kwargs):
    params, opt = _run(mt, cls, kwargs, 3)
    sd = opt.state_dict()
    _, tref = _run(torch, cls, kwargs, 3)
    tsd = tref.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert sorted(sd["state"][0]) == sorted(tsd["state"][0])
    for k, v in sd["state"][0].items():
        np.testing.assert_allclose(np.asarray(v.numpy()), tsd["state"][0][k].numpy(),
                                   rtol=1e-5, atol=1e-7, err_msg=k)
    # continue from a copy: same trajectory as the original
    params2 = [p.detach().clone().requires_grad_() for p in params]
    opt2 = getattr(optim, cls)(params2, **kwargs)
    opt2.load_state_dict(copy.deepcopy(sd))
    assert opt2.state_dict()["param_groups"] == sd["param_groups"]
    for ps, o in ((params, opt), (params2, opt2)):
        for _ in range(2):
            o.zero_grad()
            _loss(mt, ps).backward()
            o.step()
    for a, b in zip(params, params2):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)
    # loading does not alias the saved state
    k = next(iter(sd["state"][0]))
    if k != "step":
        assert opt2.state[params2[0]][k] is not sd["state"][0][k]


def test_zero_grad_and_closure():
    p = mt.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 1.0
    assert p.item() == 0.0
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0]
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("cls", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_bad_params(cls):
    make = getattr(optim, cls)
    with pytest.raises(ValueError) as err:
        make([], lr=0.1)
    with pytest.raises(ValueError) as t_err:
        getattr(torch.optim, cls)([], lr=0.1)
    assert str(err.value) == str(t_err.value) == "optimizer got an empty parameter list"
    with pytest.raises(TypeError) as err:
        make([mt.ones(1, requires_grad=True), 3.0], lr=0.1)
    with pytest.raises(TypeError) as t_err:
        getattr(torch.optim, cls)([torch.ones(1, requires_grad=True), 3.0], lr=0.1)
    assert str(err.value) == str(t_err.value)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        make(mt.ones(1, requires_grad=True), lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        make([mt.ones(1, requires_grad=True)], lr=-1)


def test_bad_options():
    p = [mt.ones(1, requires_grad=True)]
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p[0] * 2], lr=0.1)
    opt = optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": p})
