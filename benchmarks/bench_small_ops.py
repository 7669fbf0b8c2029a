"""Per-op overhead and example latency.

    python benchmarks/bench_small_ops.py [--out benchmarks/results/small_ops.md] [--rounds 5]

1. The cost of an op on tiny tensors, microtorch against PyTorch (each library in its own
   process, the two alternating for ``--rounds`` rounds; each figure is the median over rounds of
   a process's best-of-7 timing):

   * ``Q = 3*a**3 - b**2`` forward+backward on 2-element tensors (the autograd tutorial's
     example): target ≤2.5x PyTorch;
   * one ``a + b`` on 2-element tensors without grad: target ≤3x PyTorch;
   * one training step of an MNIST-sized MLP (784-256-256-10, ReLU, batch 64, cross-entropy,
     SGD with momentum), one thread each: reported (most of it is per-op cost at this size).
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
import sys, time
if sys.argv[1] == "torch":
    import torch
else:
    import microtorch as torch
torch.set_num_threads(1 if sys.argv[2] == "mlp" else 2)
torch.manual_seed(0)


def best_of(fn, number, repeat=7, warmup=200):
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    return min(runs)


if sys.argv[2] == "q":
    a = torch.tensor([2., 3.], requires_grad=True)
    b = torch.tensor([6., 4.], requires_grad=True)
    v = torch.tensor([1., 1.])

    def step():
        Q = 3 * a**3 - b**2
        Q.backward(gradient=v)
    print(best_of(step, 2000) * 1e6)
elif sys.argv[2] == "add":
    a = torch.tensor([2., 3.])
    b = torch.tensor([6., 4.])
    print(best_of(lambda: a + b, 20000) * 1e6)
else:
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(64, 784)
    y = torch.randint(0, 10, (64,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    print(best_of(step, 50, warmup=20) * 1e6)
"""

CASES = [  # (key, label, target ratio or None)
    ("q", "Q = 3a³ - b², fwd+bwd, 2 elements", 2.5),
    ("add", "a + b, 2 elements, no grad", 3.0),
    ("mlp", "MLP 784-256-256-10 SGD step, batch 64, 1 thread", None),
]


def time_case(lib, case):
    """Microseconds per call of ``case`` in a fresh process of ``lib``."""
    out = subprocess.run([sys.executable, "-c", WORKER, lib, case], capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def per_op_rows(rounds):
    """One table row per case: the two libraries alternate, ``rounds`` processes each."""
    rows = []
    for key, label, target in CASES:
        times = {"microtorch": [], "torch": []}
        for _ in range(rounds):
            for lib in times:
                times[lib].append(time_case(lib, key))
        mt, th = statistics.median(times["microtorch"]), statistics.median(times["torch"])
        ratio = mt / th
        met = "" if target is None else ("yes" if ratio <= target else "NO")
        shown = f"≤{target:g}x" if target is not None else "report"
        rows.append(f"| {label} | {mt:.1f} µs | {th:.1f} µs | {ratio:.2f}x | {shown} | {met} |")
    return rows


def example_time(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "examples", "autograd_tutorial.py")],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "small_ops.md"))
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rows = per_op_rows(args.rounds)
    with tempfile.TemporaryDirectory() as cache:
        cold = example_time(cache)
        warm = statistics.median(example_time(cache) for _ in range(3))
    text = "\n".join([
        f"Per-op cost and example latency, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores",
        "",
        "| measurement | microtorch | PyTorch | ratio | target | met |",
        "|---|---|---|---|---|---|",
        *rows,
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
