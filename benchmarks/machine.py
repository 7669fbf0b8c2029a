"""Describe the machine the benchmark tables were measured on (written as results/machine.md)."""

import os
import platform
import time


def describe():
    """A markdown paragraph: date, CPU model, cores and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    versions = []
    for name in ("numpy", "numba", "torch"):
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            pass
    return (f"Measured on {time.strftime('%Y-%m-%d')}: {cpu}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {', '.join(versions)}. Each library runs in its own "
            "process; ratios are from one run.\n")


if __name__ == "__main__":
    print(describe(), end="")
