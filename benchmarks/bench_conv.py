"""Benchmark: every ResNet-18 convolution at 64x64 input, batch 8, microtorch vs PyTorch (CPU).

Each library runs in its own subprocess (two thread pools in one process slow each other down
on a small machine), both limited to 2 threads, alternated for ``--rounds`` rounds; the table
shows the median over rounds of each worker's median time, and the ratio microtorch / torch
(below 1 means microtorch is faster).

    python benchmarks/bench_conv.py [--rounds 3] [--threads 2] [--dtype float32] [--cpu-time]
"""

import argparse
import json
import os
import subprocess
import sys
import time

# (name, count in the network, x shape, w shape, stride, padding)
SHAPES = [
    ("conv1 7x7 s2 3->64 @64", 1, (8, 3, 64, 64), (64, 3, 7, 7), 2, 3),
    ("3x3 64->64 @16", 4, (8, 64, 16, 16), (64, 64, 3, 3), 1, 1),
    ("3x3 s2 64->128 @16", 1, (8, 64, 16, 16), (128, 64, 3, 3), 2, 1),
    ("1x1 s2 64->128 @16", 1, (8, 64, 16, 16), (128, 64, 1, 1), 2, 0),
    ("3x3 128->128 @8", 3, (8, 128, 8, 8), (128, 128, 3, 3), 1, 1),
    ("3x3 s2 128->256 @8", 1, (8, 128, 8, 8), (256, 128, 3, 3), 2, 1),
    ("1x1 s2 128->256 @8", 1, (8, 128, 8, 8), (256, 128, 1, 1), 2, 0),
    ("3x3 256->256 @4", 3, (8, 256, 4, 4), (256, 256, 3, 3), 1, 1),
    ("3x3 s2 256->512 @4", 1, (8, 256, 4, 4), (512, 256, 3, 3), 2, 1),
    ("1x1 s2 256->512 @4", 1, (8, 256, 4, 4), (512, 256, 1, 1), 2, 0),
    ("3x3 512->512 @2", 3, (8, 512, 2, 2), (512, 512, 3, 3), 1, 1),
]
OPS = ("fwd", "grad_in", "grad_w")


# Wall-clock time; with --cpu-time the process's CPU time instead, which a busy shared machine
# disturbs much less (meaningful with --threads 1 only: idle worker threads spin).
CLOCK = time.perf_counter


def _time(fn, min_time=0.3, min_reps=5, max_reps=200):
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_reps and (len(times) < min_reps
                                     or time.perf_counter() - start < min_time):
        t0 = CLOCK()
        fn()
        times.append(CLOCK() - t0)
    times.sort()
    return times[len(times) // 2]


def worker_torch(dtype, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    dt = getattr(torch, dtype)
    out = {}
    for name, _, xs, ws, s, p in SHAPES:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(xs, generator=g, dtype=dt)
        w = torch.randn(ws, generator=g, dtype=dt)
        y = F.conv2d(x, w, None, s, p)
        gy = torch.randn(y.shape, generator=g, dtype=dt)
        gi = torch.nn.grad.conv2d_input
        gw = torch.nn.grad.conv2d_weight
        # the aten backward kernel computes one gradient at a time when asked for one
        out[name] = {
            "fwd": _time(lambda: F.conv2d(x, w, None, s, p)),
            "grad_in": _time(lambda: gi(x.shape, w, gy, s, p)),
            "grad_w": _time(lambda: gw(x, w.shape, gy, s, p)),
        }
    return out


def worker_microtorch(dtype, threads):
    import numpy as np

    from microtorch.backends.cpu import conv
    from microtorch.backends.geometry import Conv2dGeometry

    rng = np.random.default_rng(0)
    out = {}
    for name, _, xs, ws, s, p in SHAPES:
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        geom = Conv2dGeometry(stride=(s, s), padding=(p, p), dilation=(1, 1), groups=1)
        y = conv.conv2d(x, w, geom)
        gy = rng.standard_normal(y.shape).astype(dtype)
        fns = {
            "fwd": lambda: conv.conv2d(x, w, geom),
            "grad_in": lambda: conv.conv2d_grad_input(gy, w, xs, geom),
            "grad_w": lambda: conv.conv2d_grad_weight(x, gy, ws, geom),
        }
        out[name] = {op: _time(fn) for op, fn in fns.items()}
    return out


def _run_worker(lib, args):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(args.threads)
    env["MKL_NUM_THREADS"] = str(args.threads)
    env["OPENBLAS_NUM_THREADS"] = "1"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib,
           "--dtype", args.dtype, "--threads", str(args.threads)] + \
        (["--cpu-time"] if args.cpu_time else [])
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with the process's CPU time (use with --threads 1)")
    ap.add_argument("--worker", choices=("torch", "microtorch"))
    args = ap.parse_args()
    if args.worker:
        global CLOCK
        if args.cpu_time:
            CLOCK = time.process_time
        fn = worker_torch if args.worker == "torch" else worker_microtorch
        print(json.dumps(fn(args.dtype, args.threads)))
        return

    runs = {"torch": [], "microtorch": []}
    for _ in range(args.rounds):
        for lib in ("torch", "microtorch"):
            runs[lib].append(_run_worker(lib, args))

    def med(lib, name, key):
        return _median([r[name][key] for r in runs[lib]]) * 1e3

    clock = "CPU time" if args.cpu_time else "wall time"
    print(f"ResNet-18 convolutions, input 64x64, batch 8, {args.dtype}, {args.threads} threads, "
          f"{clock}, median of {args.rounds} alternated rounds (ms; ratio = microtorch / torch)\n")
    head = "| conv | n |"
    rule = "|---|---|"
    for op in OPS:
        head += f" {op} torch | {op} microtorch | ratio |"
        rule += "---|---|---|"
    print(head)
    print(rule)
    totals = {lib: {op: 0.0 for op in OPS} for lib in runs}
    for name, count, *_ in SHAPES:
        line = f"| {name} | {count} |"
        for op in OPS:
            t, m = med("torch", name, op), med("microtorch", name, op)
            totals["torch"][op] += count * t
            totals["microtorch"][op] += count * m
            line += f" {t:.3f} | {m:.3f} | {m / t:.2f} |"
        print(line)
    line = "| **network total** (x n) | |"
    for op in OPS:
        t, m = totals["torch"][op], totals["microtorch"][op]
        line += f" {t:.2f} | {m:.2f} | {m / t:.2f} |"
    print(line)


if __name__ == "__main__":
    main()
