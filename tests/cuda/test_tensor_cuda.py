"""The whole library on a CUDA device: tensors, autograd, nn and optim (simulator or GPU).

Tiny shapes only: under the simulator every CUDA thread is a Python thread.
"""

import numpy as np
import pytest

import microtorch as torch
from microtorch import nn
from microtorch.backends.cuda import kernels


def test_device_api():
    assert torch.cuda.is_available()
    assert torch.cuda.device_count() >= 1
    assert torch.cuda.current_device() == 0
    assert isinstance(torch.cuda.get_device_name(), str)
    torch.cuda.synchronize()


def test_to_cuda_and_back_with_repr():
    x = torch.tensor([[1., 2.], [3., 4.]])
    xc = x.to("cuda")
    assert xc.is_cuda and xc.device == torch.device("cuda", 0)
    assert repr(xc) == "tensor([[1., 2.],\n        [3., 4.]], device='cuda:0')"
    assert np.array_equal(xc.cpu().numpy(), x.numpy())
    assert x.cuda().device == xc.device


def test_ops_and_autograd_match_cpu():
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4)
    results = []
    for dev in ("cpu", "cuda"):
        a = torch.tensor(a_np, device=dev, requires_grad=True)
        b = torch.tensor(b_np.astype(np.float32), device=dev, requires_grad=True)
        out = ((a * b).exp().sum(1) + (a @ b).relu()).mean()
        out.backward()
        results.append([t.cpu().numpy() for t in (out.detach(), a.grad, b.grad)])
    for m, c in zip(*results):
        np.testing.assert_allclose(c, m, rtol=1e-5, atol=1e-6)


def test_mixed_devices_raise():
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device, but "
                                           "found at least two devices, cuda:0 and cpu!"):
        torch.ones(2, device="cuda") + torch.ones(2)


def test_numpy_of_cuda_tensor_raises():
    with pytest.raises(TypeError, match="Use Tensor.cpu"):
        torch.ones(2, device="cuda").numpy()


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)
        self.fc = nn.Linear(2 * 2 * 2, 3)

    def forward(self, x):
        x = nn.functional.max_pool2d(self.bn(self.conv(x)).relu(), 2)
        return self.fc(x.flatten(1))


def test_training_step_matches_cpu_without_host_transfers(monkeypatch):
    torch.manual_seed(0)
    cpu_net = _Net()
    gpu_net = _Net()
    gpu_net.load_state_dict(cpu_net.state_dict())
    gpu_net.to("cuda")
    x = torch.randn(2, 1, 4, 4)
    y = torch.tensor([0, 2])
    xg, yg = x.cuda(), y.cuda()
    losses = []
    transfers = []
    real = kernels.to_numpy

    def counting(arr):
        transfers.append(arr.shape)
        return real(arr)

    for net, xi, yi in ((cpu_net, x, y), (gpu_net, xg, yg)):
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        if xi.is_cuda:
            monkeypatch.setattr(kernels, "to_numpy", counting)
            kernels_launches = _launches()
        loss = nn.functional.cross_entropy(net(xi), yi)
        loss.backward()
        opt.step()
        if xi.is_cuda:
            monkeypatch.setattr(kernels, "to_numpy", real)
            print("kernel launches per training step:", _launches() - kernels_launches)
        losses.append(loss.item())
    assert transfers == [], f"host transfers during a CUDA training step: {transfers}"
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for (name, p), q in zip(cpu_net.named_parameters(), gpu_net.parameters()):
        np.testing.assert_allclose(q.detach().cpu().numpy(), p.detach().numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=name)
    np.testing.assert_allclose(gpu_net.bn.running_mean.cpu().numpy(),
                               cpu_net.bn.running_mean.numpy(), rtol=1e-5, atol=1e-6)


def _launches():
    import microtorch.backends.cuda as backend

    return backend.launch_count


def test_save_cuda_tensor_loads_on_cpu(tmp_path):
    t = torch.arange(4.0, device="cuda")
    torch.save(t, tmp_path / "t.pt")
    back = torch.load(tmp_path / "t.pt", map_location="cpu")
    assert back.device.type == "cpu" and back.tolist() == [0.0, 1.0, 2.0, 3.0]
