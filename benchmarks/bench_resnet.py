"""ResNet benchmarks: microtorch vs PyTorch CPU, each library in its own process, same threads.

    python benchmarks/bench_resnet.py [--threads 2] [--repeats 7] [--out benchmarks/results/resnet.md]

Measures (median ms): ResNet-18 forward+backward at (8,3,64,64); ResNet-18 forward under
no_grad at (1,3,224,224); a CIFAR ResNet-20 SGD training step at batch 64, 32x32; and the peak
RSS of a process running ResNet-18 training steps at (8,3,64,64).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

WORKER = r"""
import json, os, resource, statistics, sys, time
lib, case, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[4])))
if lib == "torch":
    import torch
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    from _torch_models import ResNet18, ResNet20
    make18, make20 = ResNet18, ResNet20
else:
    import microtorch as torch
    from microtorch.models import resnet18, resnet20
    make18, make20 = resnet18, resnet20
torch.manual_seed(0)
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if case in ("train18", "rss18"):
    model = make18(); x = torch.rand(8, 3, 64, 64); y = torch.rand(8, 1000)
    def step():
        model.zero_grad()
        (model(x) - y).sum().backward()
elif case == "infer18":
    model = make18().eval(); x = torch.rand(1, 3, 224, 224)
    def step():
        with torch.no_grad():
            model(x)
else:
    model = make20(); x = torch.rand(64, 3, 32, 32); y = torch.randint(0, 10, (64,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
t0 = time.perf_counter(); step(); first = time.perf_counter() - t0
step()
times = []
for _ in range(repeats):
    t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"ms": statistics.median(times) * 1e3, "first_ms": first * 1e3,
                  "rss_mb": rss / 1024, "base_rss_mb": base_rss / 1024}))
"""

CASES = [("train18", "ResNet-18 fwd+bwd (8,3,64,64)", 1.5),
         ("infer18", "ResNet-18 no_grad fwd (1,3,224,224)", 1.5),
         ("train20", "ResNet-20 SGD step (64,3,32,32)", 1.5)]


def run(lib, case, repeats, threads):
    t = str(threads)
    env = dict(os.environ, BENCH_THREADS=t, OMP_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t,
               MKL_NUM_THREADS=t)
    out = subprocess.run([sys.executable, "-c", WORKER, lib, case, str(repeats), __file__],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per library")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "resnet.md"))
    args = ap.parse_args()
    rows = []
    for case, title, target in CASES:
        rounds = [(run("microtorch", case, args.repeats, args.threads),
                   run("torch", case, args.repeats, args.threads)) for _ in range(args.rounds)]
        mt = dict(rounds[0][0], ms=statistics.median(r[0]["ms"] for r in rounds))
        th = dict(rounds[0][1], ms=statistics.median(r[1]["ms"] for r in rounds))
        ratio = mt["ms"] / th["ms"]
        rows.append(f"| {title} | {mt['ms']:.1f} | {th['ms']:.1f} | {ratio:.2f}x | "
                    f"≤{target}x | {'yes' if ratio <= target else 'NO'} |")
        if case == "train18":
            rss = (mt["rss_mb"], th["rss_mb"])
            grow = (mt["rss_mb"] - mt["base_rss_mb"], th["rss_mb"] - th["base_rss_mb"])
    lines = [f"ResNet benchmarks, {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, {args.threads} threads, median of {args.rounds} alternating "
             f"rounds of a median of {args.repeats} steps",
             "", "| case | microtorch ms | PyTorch ms | ratio | target | met |",
             "|---|---|---|---|---|---|", *rows, "",
             f"Peak RSS of the ResNet-18 training process: microtorch {rss[0]:.0f} MB, "
             f"PyTorch {rss[1]:.0f} MB (ratio {rss[0] / rss[1]:.2f}x); growth over the "
             f"post-import baseline: {grow[0]:.0f} MB vs {grow[1]:.0f} MB."]
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
