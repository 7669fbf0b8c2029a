"""Elementwise and reduction kernels of the CPU backend against NumPy and PyTorch.

Prints a markdown table of median times (µs) for add, mul, exp and a full sum on 1e6 float32
elements, and the call latency on 2 elements, with the ratio NumPy time / microtorch time
(> 1 means microtorch is faster). microtorch and NumPy are timed in this process, alternating
rounds; PyTorch (``torch.set_num_threads(2)``) runs in a child process, because two thread pools
in one process collapse on a 2-core machine (see PERF_NOTES.md) and ``import torch`` is slow.

``--compile`` also measures compile latency: first calls of add, mul, pow, exp (float32) and sum
in fresh child processes with an empty Numba cache directory (cold), then again with it filled
(cached load).

    python benchmarks/bench_elementwise.py [--compile] [--repeat 200]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

N = 1_000_000
SMALL = 2


def _median_us(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e6


def _cases(lib, n):
    """name -> zero-argument callable for the library ``lib`` on n float32 elements."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    if lib == "microtorch":
        import importlib
        ew = importlib.import_module("microtorch.backends.cpu.elementwise")
        red = importlib.import_module("microtorch.backends.cpu.reduce")   # not the function
        return {"add": lambda: ew.binary("add", a, b), "mul": lambda: ew.binary("mul", a, b),
                "exp": lambda: ew.unary("exp", a), "sum": lambda: red.reduce("sum", a, (0,), False)}
    if lib == "numpy":
        return {"add": lambda: np.add(a, b), "mul": lambda: np.multiply(a, b),
                "exp": lambda: np.exp(a), "sum": lambda: np.sum(a)}
    import torch
    torch.set_num_threads(2)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    return {"add": lambda: torch.add(ta, tb), "mul": lambda: torch.mul(ta, tb),
            "exp": lambda: torch.exp(ta), "sum": lambda: torch.sum(ta)}


def _run_torch(repeat):
    """Child process: time PyTorch and print {"op/n": µs} as JSON."""
    out = {}
    for n in (N, SMALL):
        for name, fn in _cases("torch", n).items():
            out[f"{name}/{n}"] = _median_us(fn, repeat)
    print(json.dumps(out))


def _torch_times(repeat):
    try:
        proc = subprocess.run([sys.executable, __file__, "--torch-child", "--repeat", str(repeat)],
                              capture_output=True, text=True, timeout=600, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None


def _table(repeat):
    rows = []
    torch_t = _torch_times(repeat)
    for n in (N, SMALL):
        mt, ref = _cases("microtorch", n), _cases("numpy", n)
        for name in mt:
            # alternate microtorch and NumPy in 5 rounds so that machine noise hits both
            t_mt, t_np = [], []
            for _ in range(5):
                t_mt.append(_median_us(mt[name], max(1, repeat // 5)))
                t_np.append(_median_us(ref[name], max(1, repeat // 5)))
            rows.append((name, n, float(np.median(t_mt)), float(np.median(t_np)),
                         torch_t.get(f"{name}/{n}") if torch_t else None))
    print("| op | n | microtorch µs | NumPy µs | torch µs (2 threads) | NumPy / microtorch "
          "| torch / microtorch |")
    print("|---|---|---|---|---|---|---|")
    for name, n, t_mt, t_np, t_torch in rows:
        torch_cols = (f"{t_torch:.1f} | {t_torch / t_mt:.2f}x" if t_torch is not None
                      else "n/a | n/a")
        print(f"| {name} | {n:,} | {t_mt:.1f} | {t_np:.1f} | {torch_cols.split(' | ')[0]} "
              f"| {t_np / t_mt:.2f}x | {torch_cols.split(' | ')[1]} |")


_COMPILE_CHILD = r"""
import time
t0 = time.perf_counter()
import importlib
import numpy as np
ew = importlib.import_module("microtorch.backends.cpu.elementwise")
red = importlib.import_module("microtorch.backends.cpu.reduce")
t_import = time.perf_counter() - t0
a = np.ones(8, np.float32)
s = np.array(2.0, np.float32)
big = np.ones(1_000_000, np.float32)
huge = np.ones(4_000_000, np.float32)
calls = [("import", None),
         ("add", lambda: ew.binary("add", a, a)), ("mul", lambda: ew.binary("mul", a, a)),
         ("mul scalar", lambda: ew.binary("mul", a, s)), ("pow", lambda: ew.binary("pow", a, s)),
         ("exp", lambda: ew.unary("exp", a)), ("sum", lambda: red.reduce("sum", a, (0,), False)),
         ("add 1e6 (threaded)", lambda: ew.binary("add", big, big)),
         ("exp 1e6 (threaded)", lambda: ew.unary("exp", big)),
         ("sum 4e6 (threaded)", lambda: red.reduce("sum", huge, (0,), False))]
out = {"import": t_import}
for name, fn in calls[1:]:
    t0 = time.perf_counter()
    fn()
    out[name] = time.perf_counter() - t0
print(repr(out))
"""


def _compile_times():
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        results = []
        for _ in range(2):
            proc = subprocess.run([sys.executable, "-c", _COMPILE_CHILD], env=env,
                                  capture_output=True, text=True, check=True)
            results.append(eval(proc.stdout.strip().splitlines()[-1]))   # a dict we printed
    cold, warm = results
    print("\n| first call | cold compile s | cached load s |")
    print("|---|---|---|")
    for name in cold:
        print(f"| {name} | {cold[name]:.3f} | {warm[name]:.3f} |")
    small = [k for k in cold if k != "import" and "threaded" not in k]
    print(f"| total, small-array kernels | {sum(cold[k] for k in small):.3f} "
          f"| {sum(warm[k] for k in small):.3f} |")
    print("\n(The first kernel call also pays Numba's one-time start-up, ~0.3 s even when cached.)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--compile", action="store_true", help="also measure compile latency")
    parser.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_child:
        _run_torch(args.repeat)
        return
    import numba

    import microtorch
    print(f"numpy {np.__version__}, numba {numba.__version__}, "
          f"{microtorch.get_num_threads()} microtorch threads")
    _table(args.repeat)
    if args.compile:
        _compile_times()


if __name__ == "__main__":
    main()
