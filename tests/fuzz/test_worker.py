"""The child-process runner reports a crash or a hang of the child as the case's failure,
and the next case runs in a fresh child."""

import sys

from tests.fuzz.worker import Worker

CASE = {"inputs": [], "args": {}}


def test_a_crash_is_reported_and_the_next_case_runs():
    crashing = Worker(timeout=60, command=[sys.executable, "-c",
                                           "import os; os.read(0, 1); os.abort()"])
    try:
        for _ in range(2):  # the second case runs in a fresh child
            assert "crashed on the case (signal 6)" in crashing.run("zeros", CASE)
        assert crashing.cases == 2
    finally:
        crashing.close()


def test_a_hang_is_reported_and_the_child_killed():
    hanging = Worker(timeout=1, command=[sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert "hung: no answer within 1 s" in hanging.run("zeros", CASE)
        assert hanging.process is None
    finally:
        hanging.close()


def test_the_real_child_answers():
    worker = Worker(timeout=120)
    try:
        assert worker.run("zeros", {"inputs": [], "args": {"size": (2, 0), "dtype": None}}) is None
        assert "not-an-op" in worker.run("not-an-op", CASE)  # a fuzzer bug is reported, too
    finally:
        worker.close()
