"""The differential fuzzer needs PyTorch as its oracle: without it, nothing here is collected."""

from tests.fuzz.worker import STATS

try:
    import torch  # noqa: F401
except ImportError:
    collect_ignore_glob = ["*.py"]


def pytest_terminal_summary(terminalreporter):
    """Print how many cases the fuzzer ran and how long they took."""
    if STATS["cases"]:
        terminalreporter.write_line(
            f"fuzz: {STATS['cases']} cases over {STATS['ops']} ops in {STATS['seconds']:.1f} s")
