"""char-GPT training step, microtorch against PyTorch.

    python benchmarks/bench_gpt.py [--out benchmarks/results/gpt.md] [--rounds 3]

One training step of ``examples/char_gpt.py``'s GPT (the same model code, imported from the
example with ``--lib``): n_layer=4, n_head=4, n_embd=128, block 64, batch 32, vocabulary 103
(the pydoc corpus), forward + cross-entropy, backward, ``clip_grad_norm_`` and an AdamW step with
nanoGPT's parameter groups, on the CPU with 2 threads. Each library runs in its own process, the
two alternating for ``--rounds`` rounds; each figure is the median over rounds of a process's
best-of-5 timing (of 5 steps each, after 3 warm-up steps that compile the kernels), with
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset for those processes. Target: microtorch
within 1.5x of PyTorch.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

WORKER = r"""
import sys, time
lib, root, device = sys.argv[1], sys.argv[2], sys.argv[3]
sys.argv = ["char_gpt.py", "--lib", lib]  # the example picks its library from its arguments
sys.path[:0] = [root, root + "/examples"]
import char_gpt
torch = char_gpt.torch
if device == "cpu":
    torch.set_num_threads(2)
torch.manual_seed(0)
V, B, T = 103, 32, 64
model = char_gpt.GPT(V, T, n_layer=4, n_head=4, n_embd=128).to(device)
opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99))
x = torch.randint(0, V, (B, T)).to(device)
y = torch.randint(0, V, (B, T)).to(device)


def sync():
    if device == "cuda":
        torch.cuda.synchronize()


def step():
    _, loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


for _ in range(3):
    step()
sync()
runs = []
for _ in range(5):
    t0 = time.perf_counter()
    for _ in range(5):
        step()
    sync()
    runs.append((time.perf_counter() - t0) / 5)
print(min(runs) * 1e3)
"""


def time_step(lib, device="cpu"):
    """Milliseconds per training step in a fresh process of ``lib``, with the OpenBLAS
    handicaps of these machines unset (``../shared/PERF_NOTES.md``: peers at full speed)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    out = subprocess.run([sys.executable, "-c", WORKER, lib, ROOT, device], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "gpt.md"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    load = os.getloadavg()[0]  # other work on the machine skews both columns
    times = {"microtorch": [], "torch": []}
    for _ in range(args.rounds):
        for lib in times:
            times[lib].append(time_step(lib))
    mt, th = statistics.median(times["microtorch"]), statistics.median(times["torch"])
    ratio = mt / th
    text = "\n".join([
        f"char-GPT training step, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"load average {load:.1f} at the start",
        "",
        "| measurement | microtorch | PyTorch | ratio | target | met |",
        "|---|---|---|---|---|---|",
        f"| char-GPT step (4 layers, 4 heads, 128 channels, block 64, batch 32, AdamW), "
        f"2 threads | {mt:.1f} ms | {th:.1f} ms | {ratio:.2f}x | ≤1.5x | "
        f"{'yes' if ratio <= 1.5 else 'NO'} |",
    ]) + "\n"
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
