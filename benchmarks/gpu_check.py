"""GPU check for the CUDA backend, to run on a lent GPU machine (about 5 minutes)::

    python benchmarks/gpu_check.py            # from the repository root

1. runs ``pytest tests/cuda -x -q`` on the real device (simulator off);
2. times SGEMM (float32, 4096 x 4096) against ``torch.mm`` with TF32 off and CuPy;
3. times elementwise add of 1e8 float32 against torch (effective bandwidth, GB/s);
4. times one ResNet-18 training step (32, 3, 224, 224) against torch, when
   ``microtorch.models.resnet18`` exists (see :func:`resnet18_step`);
5. times one char-GPT training step (``examples/char_gpt.py``'s model: 4 layers, 4 heads,
   128 channels, block 64, batch 32, AdamW) against torch on the GPU, each library in its own
   process (see :func:`char_gpt_step`).

Prints one markdown table (ratios are microtorch / reference throughput: higher is better).
Targets: SGEMM >= 0.5x cuBLAS FP32, add >= 0.7x torch bandwidth. Numbers from one run on one
card; say which card when you quote them.
"""

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ["NUMBA_ENABLE_CUDASIM"] = "0"          # the real device, before numba is imported

ROWS = []


def row(what, ours, ref_name, ref, unit, higher_is_better=True):
    ratio = (ours / ref if higher_is_better else ref / ours) if ours and ref else float("nan")
    ROWS.append((what, ours, ref_name, ref, unit, ratio))


def run_tests(timeout=200):
    """Step 1: the CUDA test-suite on the real device."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "tests/cuda", "-x", "-q",
                               "-p", "no:cacheprovider"], cwd=ROOT, env=env, timeout=timeout,
                              capture_output=True, text=True)
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        print("\n".join(tail))
        status = "passed" if proc.returncode == 0 else f"FAILED (rc {proc.returncode})"
    except subprocess.TimeoutExpired:
        status = f"timed out after {timeout} s"
    print(f"pytest tests/cuda: {status} in {time.perf_counter() - t0:.0f} s")
    return status


def _time_cuda(fn, sync, repeat=10, warmup=2):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def bench_sgemm(n=4096):
    """Step 2: SGEMM n x n x n, TFLOP/s."""
    import numpy as np
    from numba import cuda

    from microtorch.backends.cuda import kernels as K

    flops = 2.0 * n ** 3
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    da, db = K.from_numpy(a), K.from_numpy(b)
    t0 = time.perf_counter()
    out = K.matmul(da, db)
    cuda.synchronize()
    print(f"SGEMM first call (compile + run): {time.perf_counter() - t0:.2f} s")
    t = _time_cuda(lambda: K.matmul(da, db), cuda.synchronize)
    ours = flops / t / 1e12
    check = K.to_numpy(out)[:64, :64]
    err = np.abs(check - a[:64].astype(np.float64) @ b[:, :64]).max()
    print(f"SGEMM max abs error on a 64x64 corner: {err:.2e}")
    try:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        ta, tb = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
        tt = _time_cuda(lambda: torch.mm(ta, tb), torch.cuda.synchronize)
        row(f"SGEMM {n}^3 fp32", ours, "torch.mm (cuBLAS, TF32 off)", flops / tt / 1e12, "TFLOP/s")
    except Exception as exc:
        print(f"torch SGEMM not available: {exc!r}")
        row(f"SGEMM {n}^3 fp32", ours, "torch.mm", None, "TFLOP/s")
    try:
        import cupy

        ca, cb = cupy.asarray(a), cupy.asarray(b)
        tc = _time_cuda(lambda: ca @ cb, cupy.cuda.Device().synchronize)
        row(f"SGEMM {n}^3 fp32", ours, "CuPy matmul", flops / tc / 1e12, "TFLOP/s")
    except Exception as exc:
        print(f"CuPy SGEMM not available: {exc!r}")


def bench_add(n=100_000_000):
    """Step 3: elementwise add, effective bandwidth (2 reads + 1 write)."""
    from numba import cuda

    from microtorch.backends.cuda import kernels as K

    nbytes = 3 * 4 * n
    x = K.full((n,), 1.0, "float32")
    y = K.full((n,), 2.0, "float32")
    out = K.empty((n,), "float32")
    t = _time_cuda(lambda: K.binary("add", x, y, out=out), cuda.synchronize)
    ours = nbytes / t / 1e9
    try:
        import torch

        tx = torch.ones(n, device="cuda")
        ty = torch.full((n,), 2.0, device="cuda")
        to = torch.empty(n, device="cuda")
        tt = _time_cuda(lambda: torch.add(tx, ty, out=to), torch.cuda.synchronize)
        row("add 1e8 fp32", ours, "torch.add", nbytes / tt / 1e9, "GB/s")
    except Exception as exc:
        print(f"torch add not available: {exc!r}")
        row("add 1e8 fp32", ours, "torch.add", None, "GB/s")


# ------------------------------------------------------------------------------------------
# ResNet-18 training step: microtorch vs torch. Runs only when microtorch.models.resnet18
# exists and tensors can live on device 'cuda'; otherwise prints 'not available'.
# ------------------------------------------------------------------------------------------
def resnet18_step(batch=32, steps=3):
    """Step 4: one SGD training step of ResNet-18 on (batch, 3, 224, 224), images/s."""
    try:
        import numpy as np

        import microtorch as mt
        import microtorch.backends.cuda as cuda_pkg
        from microtorch.models import resnet18

        model = resnet18(num_classes=1000).to("cuda")
        opt = mt.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        rng = np.random.default_rng(0)
        x = mt.tensor(rng.standard_normal((batch, 3, 224, 224), dtype=np.float32),
                      device="cuda")
        y = mt.tensor(rng.integers(0, 1000, batch), device="cuda")

        def step():
            opt.zero_grad()
            loss = mt.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()

        t0 = time.perf_counter()
        step()
        cuda_pkg.synchronize()
        print(f"ResNet-18 first step (compile + run): {time.perf_counter() - t0:.1f} s")
        cuda_pkg.reset_launch_count()
        step()
        cuda_pkg.synchronize()
        print(f"ResNet-18 kernel launches per training step: {cuda_pkg.launch_count}")
        t = _time_cuda(step, cuda_pkg.synchronize, repeat=steps, warmup=0)
        ours = batch / t
    except Exception as exc:
        print(f"ResNet-18 on microtorch: not available ({exc!r})")
        return
    try:
        import torch

        tmodel = _torch_resnet18().cuda()
    except Exception as exc:
        print(f"torch ResNet-18 reference not available: {exc!r}")
        row("ResNet-18 step, batch 32", ours, "torch", None, "img/s")
        return
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.01, momentum=0.9)
    tx = torch.randn(batch, 3, 224, 224, device="cuda")
    ty = torch.randint(0, 1000, (batch,), device="cuda")

    def tstep():
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(tx), ty).backward()
        topt.step()

    tt = _time_cuda(tstep, torch.cuda.synchronize, repeat=steps)
    row("ResNet-18 step, batch 32", ours, "torch (cuDNN)", batch / tt, "img/s")


def _torch_resnet18():
    """torchvision's ResNet-18 when installed, else the same network written out."""
    try:
        import torchvision

        return torchvision.models.resnet18()
    except ImportError:
        pass
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
            return (out + (x if self.down is None else self.down(x))).relu()

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


# ------------------------------------------------------------------------------------------
# char-GPT training step: the example's model on each library, in separate processes (the
# example imports its library by name), timed by benchmarks/bench_gpt.py's worker.
# ------------------------------------------------------------------------------------------
def char_gpt_step(batch=32, block=64):
    """Step 5: one AdamW training step of the char-GPT on the GPU, tokens/s."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import bench_gpt

    times = {}
    for lib in ("microtorch", "torch"):
        try:
            times[lib] = bench_gpt.time_step(lib, device="cuda") / 1e3
        except subprocess.CalledProcessError as exc:
            print(f"char-GPT step on {lib}: failed\n{exc.stderr[-2000:]}")
            times[lib] = None
    ours = batch * block / times["microtorch"] if times["microtorch"] else None
    ref = batch * block / times["torch"] if times["torch"] else None
    if ours is not None:
        print(f"char-GPT step: microtorch {times['microtorch'] * 1e3:.1f} ms")
        row("char-GPT step, batch 32 x block 64", ours, "torch", ref, "tokens/s")


def main():
    t_start = time.perf_counter()
    status = run_tests()
    for name, fn in (("SGEMM", bench_sgemm), ("add", bench_add), ("ResNet-18", resnet18_step),
                     ("char-GPT", char_gpt_step)):
        try:
            fn()
        except Exception as exc:
            print(f"{name} benchmark failed: {exc!r}")
    try:
        import microtorch.backends.cuda as cuda_pkg

        device = cuda_pkg.get_device_name()
    except Exception:
        device = "unknown device"
    print()
    print(f"Device: {device}; tests/cuda: {status}; total {time.perf_counter() - t_start:.0f} s")
    print()
    print("| benchmark | microtorch | reference | reference value | unit | ratio |")
    print("| --- | ---: | --- | ---: | --- | ---: |")
    for what, ours, ref_name, ref, unit, ratio in ROWS:
        ref_s = f"{ref:.2f}" if ref else "n/a"
        print(f"| {what} | {ours:.2f} | {ref_name} | {ref_s} | {unit} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
