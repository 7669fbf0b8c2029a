"""Benchmark microtorch's CPU GEMM against NumPy (OpenBLAS) and PyTorch, float32, 2 threads.

Run as ``python benchmarks/bench_gemm.py``; it prints a markdown table of GFLOP/s.

Each library runs in its own subprocess: microtorch's thread pool and OpenBLAS's pool in one
process keep each other's idle workers spinning and collapse on a 2-core machine. The workers run
in alternating rounds (microtorch, numpy, torch, microtorch, ...) so that machine noise hits all
three alike; the table shows the median over all rounds' timed samples and, in brackets, the ratio
of the best samples (robust when other processes share the machine).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

THREADS = 2  # default; --threads N to change
SHAPES = [  # (M, K, N): C (M, N) = A (M, K) @ B (K, N)
    (256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
    (4096, 27, 64), (256, 576, 1024), (4096, 1152, 128),          # im2col convolutions
    (4, 4608, 512), (1, 512, 1000), (8, 512, 1000),               # skinny: ResNet-18's tail
    # CIFAR ResNet-20 convolutions (batch 64): few rows and huge N (forward, input gradient with
    # A = W.T, marked "T": A is a transposed view) or small C and huge K (weight gradient)
    (16, 144, 28672), (32, 288, 14336), (64, 576, 4096), (16, 144, 8192), (16, 27, 65536),
    (144, 16, 28672, "T"), (16, 32, 16384, "T"),
    (144, 28672, 16), (27, 65536, 16), (16, 16384, 32),
]
LIBS = ("microtorch", "numpy", "torch")


def _worker(lib, shapes, samples, sample_s, threads):
    """Time ``lib`` on every shape; print one JSON dict {"M,K,N": [seconds per call, ...]}."""
    import numpy as np

    if lib == "microtorch":
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        sys.path.insert(0, root)
        from microtorch.backends.cpu.gemm import gemm

        def mm(a, b, out):
            gemm(a, b, out)
    elif lib == "numpy":
        def mm(a, b, out):
            np.matmul(a, b, out=out)
    else:
        import torch
        torch.set_num_threads(threads)

        def mm(a, b, out):
            torch.mm(a, b, out=out)

    rng = np.random.default_rng(0)
    result = {}
    for shape in shapes:
        m, k, n = shape[:3]
        a = rng.standard_normal((m, k), dtype=np.float32)
        if shape[3:] == ("T",):  # A as a transposed view (C-contiguous A.T)
            a = rng.standard_normal((k, m), dtype=np.float32).T
        b = rng.standard_normal((k, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)
        if lib == "torch":
            a, b, out = (torch.from_numpy(x) for x in (a, b, out))
        mm(a, b, out)                                   # warm up (and compile)
        t0 = time.perf_counter()
        mm(a, b, out)
        once = max(time.perf_counter() - t0, 1e-7)
        calls = max(1, int(sample_s / once))
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            for _ in range(calls):
                mm(a, b, out)
            times.append((time.perf_counter() - t0) / calls)
        result[_key(shape)] = times
    print(json.dumps(result))


def _key(shape):
    return ",".join(map(str, shape))


def _parse_shapes(text):
    """"M,K,N;M,K,N,T;..." -> [(M, K, N), (M, K, N, "T"), ...]"""
    return [tuple(int(x) if x.isdigit() else x for x in s.split(",")) for s in text.split(";")]


def _run_worker(lib, args):
    t = str(args.threads)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=t, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib, "--threads", t,
           "--samples", str(args.samples), "--sample-s", str(args.sample_s)]
    if args.shapes:
        cmd += ["--shapes", args.shapes]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"{lib} worker failed:\n{proc.stderr}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=LIBS, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=THREADS, help="threads per library")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per library")
    parser.add_argument("--samples", type=int, default=5, help="timed samples per shape per round")
    parser.add_argument("--sample-s", type=float, default=0.04, help="seconds per timed sample")
    parser.add_argument("--shapes", help="M,K,N;M,K,N;... (default: the built-in list)")
    parser.add_argument("--libs", default=",".join(LIBS), help="comma-separated subset of libs")
    args = parser.parse_args()
    shapes = SHAPES
    if args.shapes:
        shapes = _parse_shapes(args.shapes)
    if args.worker:
        _worker(args.worker, shapes, args.samples, args.sample_s, args.threads)
        return

    libs = [lib for lib in args.libs.split(",") if lib]
    runs = {lib: [] for lib in libs}
    for _ in range(args.rounds):
        for lib in libs:
            res = _run_worker(lib, args)
            if res is not None:
                runs[lib].append(res)

    def gflops(lib, shape, stat):
        m, k, n = shape[:3]
        times = [t for r in runs.get(lib, []) for t in r.get(_key(shape), [])]
        if not times:
            return float("nan")
        return 2.0 * m * k * n / stat(times) / 1e9

    print(f"float32 GEMM, GFLOP/s, {args.threads} threads; median of {args.rounds} alternating "
          f"rounds x {args.samples} samples per library (best sample's ratio in brackets)\n")
    print("| M, K, N | microtorch | NumPy | torch | mt / NumPy | mt / torch |")
    print("|---|---:|---:|---:|---:|---:|")
    for shape in shapes:
        med = [gflops(lib, shape, statistics.median) for lib in LIBS]
        best = [gflops(lib, shape, min) for lib in LIBS]
        print(f"| {', '.join(map(str, shape))} | {med[0]:.1f} | {med[1]:.1f} | {med[2]:.1f} | "
              f"{med[0] / med[1]:.2f} ({best[0] / best[1]:.2f}) | "
              f"{med[0] / med[2]:.2f} ({best[0] / best[2]:.2f}) |")

if __name__ == "__main__":
    main()
