#!/usr/bin/env bash
# Run every benchmark and write its table to benchmarks/results/ (read by the docs'
# Performance page). Run on a quiet machine: each library is timed in its own process.
set -euo pipefail
cd "$(dirname "$0")"
# Peers at full speed: some machines set these for old OpenBLAS builds, which pins NumPy's
# and PyTorch's OpenBLAS to its Haswell kernel (../shared/PERF_NOTES.md). Unset here only,
# for this command's processes: tests and CI never touch them.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
mkdir -p results
python machine.py > results/machine.md
python bench_gemm.py > results/gemm.md
python bench_elementwise.py > results/elementwise.md
python bench_conv.py > results/conv.md
python bench_small_ops.py --out results/small_ops.md
python bench_resnet.py --out results/resnet.md
