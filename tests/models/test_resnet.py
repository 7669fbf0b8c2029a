"""ResNet-18 against a torch implementation of torchvision's (torchvision is not needed): the
same state_dict keys and shapes, and with the same weights the same outputs, gradients and
BatchNorm statistics."""

import os
import sys

import numpy as np
import pytest

import microtorch as mt
from microtorch import nn
from microtorch.models import resnet18

torch = pytest.importorskip("torch")
tnn = torch.nn


# the same torch twin of torchvision's ResNet-18 that benchmarks/bench_resnet.py times
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "benchmarks"))
from _torch_models import ResNet18 as TorchResNet18  # noqa: E402


def _to_mt(state_dict):
    return {k: mt.tensor(v.detach().numpy()) for k, v in state_dict.items()}


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    t = TorchResNet18()
    # non-trivial BatchNorm parameters and statistics, so that every term is exercised
    with torch.no_grad():
        for m in t.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    m = resnet18()
    m.load_state_dict(_to_mt(t.state_dict()))
    return m, t


def test_state_dict_keys_and_shapes(models):
    m, t = models
    msd, tsd = m.state_dict(), t.state_dict()
    assert len(msd) == len(tsd) == 122
    assert [(k, tuple(v.shape)) for k, v in msd.items()] == \
        [(k, tuple(v.shape)) for k, v in tsd.items()]
    assert len(list(m.parameters())) == 62
    assert sum(p.numel() for p in m.parameters()) == 11689512
    assert msd._metadata.keys() == tsd._metadata.keys()
    assert repr(m) == repr(t).replace("ResNet18(", "ResNet(")


def test_train_step_matches_torch(models):
    m, t = models
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    labels = np.random.default_rng(1).random((2, 1000)).astype(np.float32)
    m.train()
    t.train()
    m.zero_grad()
    t.zero_grad()
    mp = m(mt.tensor(x))
    tp = t(torch.tensor(x))
    np.testing.assert_allclose(mp.detach().numpy(), tp.detach().numpy(), rtol=1e-3, atol=1e-3)
    (mp - mt.tensor(labels)).sum().backward()
    (tp - torch.tensor(labels)).sum().backward()
    tparams = dict(t.named_parameters())
    for name, p in m.named_parameters():
        tg = tparams[name].grad.numpy()
        scale = np.abs(tg).max() + 1e-6
        np.testing.assert_allclose(p.grad.numpy() / scale, tg / scale, atol=1e-3, err_msg=name)
    tbufs = dict(t.named_buffers())
    for name, b in m.named_buffers():
        np.testing.assert_allclose(b.numpy(), tbufs[name].numpy(), rtol=1e-3, atol=1e-4,
                                   err_msg=name)

    m.eval()
    t.eval()
    with mt.no_grad(), torch.no_grad():
        me, te = m(mt.tensor(x)), t(torch.tensor(x))
    np.testing.assert_allclose(me.numpy(), te.numpy(), rtol=1e-3, atol=1e-3)
    assert not me.requires_grad


def test_fine_tuning_with_frozen_backbone():
    mt.manual_seed(0)
    model = resnet18()
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(512, 10)
    assert [k for k, p in model.named_parameters() if p.requires_grad] == \
        ["fc.weight", "fc.bias"]
    opt = mt.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = mt.rand(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is None for k, p in model.named_parameters() if not k.startswith("fc"))
    opt.step()
    after = model.state_dict()
    for k, v in before.items():
        changed = not np.array_equal(v.numpy(), after[k].numpy())
        # fc is trained; BN running statistics move in train mode; nothing else changes
        assert changed == (k.startswith("fc.") or "running" in k or "num_batches" in k), k


def test_weights_errors(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        resnet18(weights=str(missing))


def test_weights_from_checkpoint(tmp_path, models):
    m, _ = models
    if not hasattr(mt, "save"):
        pytest.skip("microtorch.save not available")
    path = tmp_path / "r18.pth"
    mt.save(m.state_dict(), str(path))
    loaded = resnet18(weights=str(path))
    for (k, a), (_, b) in zip(m.state_dict().items(), loaded.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
