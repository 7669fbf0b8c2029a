"""Fused scaled dot-product attention against attention written with matmul + softmax.

    python benchmarks/bench_attention.py [--out benchmarks/results/attention.md] [--rounds 3]

For each shape (B, H, L, D) and each of forward and forward+backward, float32, 2 threads:

* microtorch ``F.scaled_dot_product_attention`` (the fused kernels: online softmax over key
  blocks, a backward that recomputes the weights from the saved log-sum-exp);
* the same attention in microtorch with ``q @ k^T * scale``, ``softmax`` and ``@ v`` (every
  intermediate stored);
* PyTorch's ``F.scaled_dot_product_attention`` in the same run.

Causal masking throughout (``is_causal=True``; the composed form adds the mask with ``where``),
as in the char-GPT. Each figure is the median over ``--rounds`` rounds of a best-of-5 timing.
"""

import argparse
import math
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import microtorch  # noqa: E402

SHAPES = [(32, 4, 64, 32), (8, 8, 256, 64)]


def best_of(fn, repeat=5, number=3):
    fn()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    return min(runs)


def composed(lib, q, k, v):
    """Causal attention from matmul, where and softmax."""
    L, S = q.shape[-2], k.shape[-2]
    keep = lib.arange(L).reshape(L, 1) >= lib.arange(S).reshape(1, S)
    s = q.matmul(k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    s = lib.where(keep, s, float("-inf"))
    return s.softmax(-1).matmul(v)


def cases(lib, shape, backward):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    ts = [lib.tensor(a, requires_grad=backward) for a in arrays]
    g = lib.tensor(rng.standard_normal(shape).astype(np.float32))

    def run(fn):
        def step():
            out = fn(*ts)
            if backward:
                for t in ts:
                    t.grad = None
                out.backward(g)
        return step
    sdpa = lib.nn.functional.scaled_dot_product_attention
    return run(lambda q, k, v: sdpa(q, k, v, is_causal=True)), \
        run(lambda q, k, v: composed(lib, q, k, v))


def measure(rounds):
    import torch
    torch.set_num_threads(2)
    microtorch.set_num_threads(2)
    rows = []
    for shape in SHAPES:
        for backward in (False, True):
            fused, comp = cases(microtorch, shape, backward)
            theirs, _ = cases(torch, shape, backward)
            times = {"fused": [], "composed": [], "torch": []}
            for _ in range(rounds):
                times["fused"].append(best_of(fused))
                times["composed"].append(best_of(comp))
                times["torch"].append(best_of(theirs))
            med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
            rows.append((shape, "fwd+bwd" if backward else "fwd", med))
    return rows


def table(rows, rounds):
    lines = [f"Causal scaled dot-product attention, float32, 2 threads, {time.strftime('%Y-%m-%d')}"
             f", median of {rounds} rounds of best-of-5 (ms; ratios = fused microtorch / other)",
             "",
             "| B, H, L, D | pass | fused microtorch | matmul+softmax microtorch | PyTorch SDPA "
             "| fused / matmul+softmax | fused / PyTorch |",
             "|---|---|---|---|---|---|---|"]
    for shape, kind, m in rows:
        lines.append(f"| {', '.join(map(str, shape))} | {kind} | {m['fused']:.3f} | "
                     f"{m['composed']:.3f} | {m['torch']:.3f} | "
                     f"{m['fused'] / m['composed']:.2f}x | {m['fused'] / m['torch']:.2f}x |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="write the table here (default: print it)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    text = table(measure(args.rounds), args.rounds)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
