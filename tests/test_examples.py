"""Run each script in ``examples/`` in a subprocess and check the lines that matter; a script
whose optional dependencies are missing is skipped."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SGD_REPR = """SGD (
Parameter Group 0
    dampening: 0
    differentiable: False
    foreach: None
    fused: None
    lr: {lr}
    maximize: False
    momentum: {momentum}
    nesterov: False
    weight_decay: 0
)"""


def run_example(name, *args, needs=()):
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)}")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_autograd_tutorial():
    out = run_example("autograd_tutorial.py")
    assert SGD_REPR.format(lr=0.01, momentum=0.9) in out
    assert out.count("tensor([True, True])\n") == 2
    assert "tensor([-12.,  65.], grad_fn=<SubBackward0>)" in out
    assert "tensor([36., 81.]) tensor([-12.,  -8.])" in out
    assert "prediction: torch.Size([1, 1000]) loss grad_fn: <SumBackward0 object at" in out
    assert re.search(r"\(\(<MulBackward0 object at 0x[0-9a-f]+>, 0\), "
                     r"\(<PowBackward0 object at 0x[0-9a-f]+>, 0\)\)", out)
    assert "Does `a` require gradients?: False\nDoes `b` require gradients?: True" in out
    assert "parameters with gradients after fine-tuning step: ['fc.weight', 'fc.bias']" in out


def test_neural_networks():
    out = run_example("neural_networks.py")
    assert out.startswith(
        "Net(\n"
        "  (conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))\n"
        "  (conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))\n"
        "  (fc1): Linear(in_features=400, out_features=120, bias=True)\n"
        "  (fc2): Linear(in_features=120, out_features=84, bias=True)\n"
        "  (fc3): Linear(in_features=84, out_features=10, bias=True)\n"
        ")\n10\ntorch.Size([6, 1, 5, 5])\ntensor([[")
    assert "grad_fn=<AddmmBackward0>)" in out
    assert re.search(r"tensor\(\d\.\d{4}, grad_fn=<MseLossBackward0>\)", out)
    assert re.search(r"<MseLossBackward0 object at 0x[0-9a-f]+>\n"
                     r"<AddmmBackward0 object at 0x[0-9a-f]+>\n"
                     r"<AccumulateGrad object at 0x[0-9a-f]+>\n", out)
    assert "conv1.bias.grad before backward\nNone\nconv1.bias.grad after backward\ntensor([" \
        in out
    assert SGD_REPR.format(lr=0.01, momentum=0) in out
    assert "loss after one SGD step: True" in out


def test_train_classifier(tmp_path):
    curve, ckpt = tmp_path / "curve.png", tmp_path / "net.pth"
    out = run_example("train_classifier.py", "--loss-curve", str(curve), "--checkpoint",
                      str(ckpt), needs=("sklearn", "tqdm", "matplotlib"))
    acc = float(re.search(r"Accuracy of the network on the 359 test images: ([\d.]+) %",
                          out).group(1))
    assert acc >= 95.0, out
    assert f"Accuracy of the reloaded network: {acc:.1f} %" in out
    assert "Finished Training" in out and "[epoch  1] loss:" in out
    assert out.count("Accuracy for class:") == 10
    with open(curve, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert ckpt.stat().st_size > 0


@pytest.mark.parametrize("lib", ["microtorch", "torch"])
def test_char_gpt_tiny(tmp_path, lib):
    """The tiny config trains a few iterations, prints both losses, writes the curve and
    samples text; the same file runs on PyTorch with --lib torch."""
    curve = tmp_path / "gpt_loss.png"
    needs = ("tqdm", "matplotlib") + (("torch",) if lib == "torch" else ())
    out = run_example("char_gpt.py", "--lib", lib, "--config", "tiny", "--plot", str(curve),
                      "--sample-chars", "40", needs=needs)
    assert re.search(rf"^{lib} on cpu: [\d,]+ characters, vocabulary \d+, [\d,]+ "
                     r"parameters \(tiny config\)$", out, re.M), out
    losses = [(float(a), float(b)) for a, b in
              re.findall(r"step +\d+: train loss ([\d.]+), val loss ([\d.]+)", out)]
    assert len(losses) == 3, out
    assert all(0.5 < v < 6.0 for pair in losses for v in pair)
    assert losses[-1][0] < losses[0][0]  # the training loss falls even in 12 iterations
    assert "final val loss" in out and "sample (temperature 0.8, top-k 20):\nThe " in out
    with open(curve, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
