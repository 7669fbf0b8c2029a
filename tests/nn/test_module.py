"""Module behaviour: registration, iteration order, state_dict and load_state_dict, hooks, modes
and conversion, compared with PyTorch where it is installed."""

import collections

import numpy as np
import pytest

import microtorch as mt
from microtorch import nn

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")


def build(lib):
    """A module with parameters, a parameter set to None, buffers (one non-persistent) and
    nested children, declared in a deliberately mixed order."""
    n = lib.nn

    class Block(n.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", lib.ones(2))
            self.lin = n.Linear(2, 2)
            self.alpha = n.Parameter(lib.zeros(1))

        def forward(self, x):
            return self.lin(x) * self.scale + self.alpha

    class Net(n.Module):
        def __init__(self):
            super().__init__()
            self.body = n.Sequential(Block(), n.ReLU(), Block())
            self.w = n.Parameter(lib.ones(2, 2))
            self.register_buffer("steps", lib.zeros((), dtype=lib.int64))
            self.register_buffer("cache", lib.zeros(3), persistent=False)
            self.register_parameter("unused", None)
            self.bn = n.BatchNorm1d(2)
            self.head = n.Linear(2, 1)

        def forward(self, x):
            return self.head(self.bn(self.body(x @ self.w)))

    return Net()


def test_registration():
    net = build(mt)
    assert set(net._parameters) == {"w", "unused"} and net.unused is None
    assert list(net._buffers) == ["steps", "cache"]
    assert list(net._modules) == ["body", "bn", "head"]
    assert isinstance(net.w, nn.Parameter) and net.w.requires_grad
    net.extra = mt.ones(1)  # a plain tensor is an ordinary attribute
    assert "extra" not in net._parameters and "extra" not in net._buffers
    net.b2 = nn.Buffer(mt.ones(2))
    assert "b2" in net._buffers
    del net.head
    assert "head" not in net._modules
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'head'"):
        net.head
    with pytest.raises(TypeError, match="cannot assign 'int' as parameter 'w'"):
        net.w = 3
    with pytest.raises(KeyError, match="name can"):
        net.register_buffer("a.b", mt.ones(1))
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer"):
        net.register_buffer("c", [1])
    with pytest.raises(TypeError, match="is not a Module subclass"):
        net.add_module("x", 3)


def test_assign_before_init():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(mt.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


@needs_torch
def test_iteration_order_matches_torch():
    m, t = build(mt), build(torch)
    assert [k for k, _ in m.named_parameters()] == [k for k, _ in t.named_parameters()]
    assert [k for k, _ in m.named_buffers()] == [k for k, _ in t.named_buffers()]
    assert [k for k, _ in m.named_modules()] == [k for k, _ in t.named_modules()]
    assert [k for k, _ in m.named_children()] == [k for k, _ in t.named_children()]
    assert len(list(m.parameters())) == len(list(t.parameters()))
    assert [k for k, _ in m.named_parameters(recurse=False)] == ["w"]
    assert [k for k, _ in m.named_parameters(prefix="net")][0] == "net.w"
    assert m.get_submodule("body.0.lin") is m.body[0].lin
    assert m.get_parameter("body.2.alpha") is m.body[2].alpha


@needs_torch
def test_state_dict_order_and_metadata():
    m, t = build(mt), build(torch)
    msd, tsd = m.state_dict(), t.state_dict()
    assert isinstance(msd, collections.OrderedDict)
    assert list(msd) == list(tsd)
    assert list(msd)[:3] == ["w", "steps", "body.0.alpha"]  # params, buffers, then children
    assert "cache" not in msd  # non-persistent
    assert msd._metadata == tsd._metadata
    assert msd._metadata["bn"] == {"version": 2}
    assert not msd["w"].requires_grad and msd["w"].grad_fn is None
    assert m.state_dict(keep_vars=True)["w"] is m.w
    assert list(m.state_dict(prefix="model.")) == ["model." + k for k in msd]


@needs_torch
def test_duplicate_parameters_listed_once():
    for lib in (mt, torch):
        lin = lib.nn.Linear(2, 2)
        s = lib.nn.Sequential(lin, lin)
        assert len(list(s.parameters())) == 2
        assert list(s.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_load_state_dict_round_trip_and_shares_nothing():
    a, b = build(mt), build(mt)
    sd = a.state_dict()
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=k)
    assert b.w is not a.w
    b.w.data.fill_(5)
    assert a.w.tolist() == [[1.0, 1.0], [1.0, 1.0]]


@needs_torch
def test_load_state_dict_strict_errors_match_torch():
    for lib in (mt, torch):
        net = build(lib)
        sd = net.state_dict()
        del sd["head.bias"]
        sd["extra.weight"] = lib.ones(1)
        with pytest.raises(RuntimeError) as err:
            net.load_state_dict(sd)
        if lib is mt:
            m_msg = str(err.value)
        else:
            t_msg = str(err.value)
    assert m_msg == t_msg
    assert 'Missing key(s) in state_dict: "head.bias"' in m_msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in m_msg


@needs_torch
def test_load_state_dict_non_strict_and_size_mismatch():
    for lib in (mt, torch):
        net = build(lib)
        sd = net.state_dict()
        del sd["w"]
        sd["junk"] = lib.ones(1)
        result = net.load_state_dict(sd, strict=False)
        assert result.missing_keys == ["w"] and result.unexpected_keys == ["junk"]
    msgs = []
    for lib in (mt, torch):
        net = build(lib)
        sd = net.state_dict()
        sd["head.weight"] = lib.ones(3, 2)
        with pytest.raises(RuntimeError) as err:
            net.load_state_dict(sd, strict=False)
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1]
    assert "size mismatch for head.weight" in msgs[0]


def test_load_state_dict_not_a_mapping():
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        nn.Linear(2, 2).load_state_dict([1, 2])


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda mod, args: calls.append(("pre", args[0].shape)))
    h2 = lin.register_forward_hook(lambda mod, args, out: calls.append(("post", out.shape)))
    lin(mt.ones(3, 2))
    assert calls == [("pre", (3, 2)), ("post", (3, 2))]
    h1.remove()
    h2.remove()
    lin(mt.ones(3, 2))
    assert len(calls) == 2
    # hooks may replace the input and the output
    lin.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h = lin.register_forward_hook(lambda mod, args, out: out + 1)
    np.testing.assert_allclose(lin(mt.ones(1, 2)).detach().numpy(),
                               lin.bias.detach().numpy()[None] + 1)
    h.remove()
    np.testing.assert_allclose(lin(mt.ones(1, 2)).detach().numpy(),
                               lin.bias.detach().numpy()[None])


def test_train_eval():
    net = build(mt)
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    net = build(mt)
    out = net(mt.ones(4, 2)).sum()
    out.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and float(p.grad.abs().sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    assert not net(mt.ones(4, 2)).requires_grad


def test_apply_order():
    net = build(mt)
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen[-1] == "Net" and seen[0] == "Linear" and seen.count("Block") == 2

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)

    net.apply(init)
    assert net.head.weight.tolist() == [[0.5, 0.5]]


def test_to_dtype():
    net = build(mt)
    net.w.grad = mt.ones(2, 2)
    w = net.w
    assert net.to(mt.float64) is net
    assert net.w is w and w.dtype == mt.float64 and w.grad.dtype == mt.float64
    assert net.bn.running_mean.dtype == mt.float64
    assert net.steps.dtype == mt.int64 and net.bn.num_batches_tracked.dtype == mt.int64
    assert net(mt.ones(4, 2, dtype=mt.float64)).dtype == mt.float64
    assert net.float().w.dtype == mt.float32
    assert net.double().head.bias.dtype == mt.float64
    assert net.to(dtype=mt.float32, device="cpu").w.dtype == mt.float32
    with pytest.raises(TypeError, match="floating point"):
        net.to(mt.int64)


def test_parameter_repr_and_type():
    p = nn.Parameter(mt.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert type(p * 2) is mt.Tensor
    assert not nn.Parameter(mt.ones(1), requires_grad=False).requires_grad


def test_missing_forward():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


def test_reassigned_entries_keep_their_place_as_in_torch():
    torch = pytest.importorskip("torch")

    def names(lib):
        m = lib.nn.Module()
        m.a = lib.nn.Linear(1, 1)
        m.b = lib.nn.Linear(1, 1)
        m.a = lib.nn.Linear(2, 2)           # a submodule re-assigned
        m.p = lib.nn.Parameter(lib.zeros(1))
        m.q = lib.nn.Parameter(lib.zeros(1))
        m.p = lib.nn.Parameter(lib.ones(1))  # a parameter re-assigned
        m.register_buffer("u", lib.zeros(1))
        m.register_buffer("v", lib.zeros(1))
        m.register_buffer("u", lib.ones(1))
        return list(m.state_dict())

    assert names(mt) == names(torch) == ["p", "q", "u", "v", "a.weight", "a.bias", "b.weight",
                                         "b.bias"]
