"""Differential fuzzing against PyTorch: every op of :mod:`tests.fuzz.specs` on random inputs.

For each op, hypothesis draws cases (shapes with zero and one sizes, six dtypes, four layouts,
negative, zero and too-large integer arguments); a child process (:mod:`tests.fuzz.worker`)
runs each case in PyTorch and in microtorch and reports any disagreement
(:mod:`tests.fuzz.compare`), including a crash or a hang of the child.

The normal test run is bounded (``MICROTORCH_FUZZ_EXAMPLES`` cases per op, default 40, always
the same cases). A long run with fresh random cases::

    MICROTORCH_FUZZ_EXAMPLES=5000 MICROTORCH_FUZZ_SEED=123 python -m pytest tests/fuzz -x

``MICROTORCH_FUZZ_OPS`` (a comma-separated list of op names) restricts a run to some ops, and
``MICROTORCH_FUZZ_TIMEOUT`` (seconds, default 300) is the time one case may take,
``MICROTORCH_FUZZ_MEMORY_GB`` (default 4) the child's address space.
"""

import os
import time

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

pytest.importorskip("torch")

from tests.fuzz.specs import SPECS  # noqa: E402
from tests.fuzz.worker import STATS, Worker  # noqa: E402

EXAMPLES = int(os.environ.get("MICROTORCH_FUZZ_EXAMPLES", "40"))
SEED = os.environ.get("MICROTORCH_FUZZ_SEED")
TIMEOUT = float(os.environ.get("MICROTORCH_FUZZ_TIMEOUT", "300"))
ONLY = [n.strip() for n in os.environ.get("MICROTORCH_FUZZ_OPS", "").split(",") if n.strip()]
OPS = [name for name in SPECS if not ONLY or name in ONLY]


@pytest.fixture(scope="module")
def worker():
    w = Worker(timeout=TIMEOUT)
    yield w
    w.close()


@pytest.mark.parametrize("name", OPS)
def test_agrees_with_torch(name, worker):
    """Every drawn case of op ``name`` agrees with PyTorch (see :mod:`tests.fuzz.compare`)."""
    spec = SPECS[name]

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=SEED is None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(case=spec.cases)
    def check(case):
        problem = worker.run(name, case)
        if problem is not None:
            raise AssertionError(f"{name}: {problem}\nreproduce with:\n"
                                 f"  python -m tests.fuzz.compare {name!r} \"{case!r}\"")

    if SEED is not None:
        check = seed(int(SEED))(check)
    start, before = time.perf_counter(), worker.cases
    try:
        check()
    finally:
        STATS["cases"] += worker.cases - before
        STATS["ops"] += 1
        STATS["seconds"] += time.perf_counter() - start
