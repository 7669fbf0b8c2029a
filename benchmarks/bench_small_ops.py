"""Small-op overhead and example latency.

    python benchmarks/bench_small_ops.py [--out benchmarks/results/small_ops.md]

1. Forward+backward of ``Q = 3*a**3 - b**2`` on 2-element tensors: microtorch vs PyTorch
   (each in its own process; median of 7 runs of 2000 iterations). Target: ≤3x PyTorch.
2. ``python examples/autograd_tutorial.py`` wall time: first run with an empty Numba cache
   (what a fresh install pays: compiling) and warm runs (kernels cached). Targets: ≤10 s, ≤2 s.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

WORKER = r"""
import statistics, sys, time
if sys.argv[1] == "torch":
    import torch
    torch.set_num_threads(2)
else:
    import microtorch as torch
a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
v = torch.tensor([1., 1.])
def step():
    Q = 3 * a**3 - b**2
    Q.backward(gradient=v)
for _ in range(300):
    step()
runs = []
for _ in range(7):
    t0 = time.perf_counter()
    for _ in range(2000):
        step()
    runs.append((time.perf_counter() - t0) / 2000)
print(statistics.median(runs) * 1e6)
"""


def small_op(lib):
    out = subprocess.run([sys.executable, "-c", WORKER, lib], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def example_time(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "examples", "autograd_tutorial.py")],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "small_ops.md"))
    args = ap.parse_args()
    mt, th = small_op("microtorch"), small_op("torch")
    with tempfile.TemporaryDirectory() as cache:
        cold = example_time(cache)
        warm = statistics.median(example_time(cache) for _ in range(3))
    text = "\n".join([
        f"Small ops and example latency, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores",
        "",
        "| measurement | microtorch | PyTorch | ratio | target | met |",
        "|---|---|---|---|---|---|",
        f"| Q = 3a³ - b², fwd+bwd, 2 elements | {mt:.0f} µs | {th:.0f} µs | {mt / th:.2f}x | "
        f"≤3x | {'yes' if mt / th <= 3 else 'NO'} |",
        f"| autograd_tutorial.py, empty kernel cache | {cold:.1f} s | | | ≤10 s | "
        f"{'yes' if cold <= 10 else 'NO'} |",
        f"| autograd_tutorial.py, warm cache (median of 3) | {warm:.1f} s | | | ≤2 s | "
        f"{'yes' if warm <= 2 else 'NO'} |",
    ]) + "\n"
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
