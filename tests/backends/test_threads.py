"""The CPU backend's fork-join threads: results, errors, thread counts, concurrent callers."""

import os
import threading

import numpy as np
import pytest

import microtorch as torch
from microtorch.backends._numba import jit
from microtorch.backends.cpu import threads
from microtorch.backends.cpu.gemm import gemm


@jit
def _fill(out, value, lo, hi):
    for i in range(lo, hi):
        out[i] = value + i


@pytest.fixture
def two_threads():
    before = threads.get_num_threads()
    threads.set_num_threads(2)
    yield
    threads.set_num_threads(before)


def test_split_covers_the_range_once():
    assert threads.split(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert threads.split(2, 4) == [(0, 1), (1, 2)]
    assert threads.split(0, 2) == [(0, 0)]


def test_parallel_for_runs_every_part(two_threads):
    out = np.zeros(1001, np.int64)
    threads.parallel_for(_fill, out.size, out, 5)
    np.testing.assert_array_equal(out, 5 + np.arange(1001))


def test_run_uses_the_worker_threads(two_threads):
    seen = []

    def record(i):
        seen.append((i, threading.get_ident()))

    threads.run([(record, (i,)) for i in range(6)])
    assert sorted(i for i, _ in seen) == list(range(6))
    idents = {i: ident for i, ident in seen}
    assert idents[0] == idents[2] == idents[4] == threading.get_ident()
    assert idents[1] == idents[3] == idents[5] != threading.get_ident()


def test_an_error_in_a_worker_is_raised_by_the_caller(two_threads):
    done = []

    def fail():
        raise ValueError("boom in a worker")

    with pytest.raises(ValueError, match="boom in a worker"):
        threads.run([(done.append, (1,)), (fail, ())])
    assert done == [1]
    # the pool still works afterwards
    out = np.zeros(10, np.int64)
    threads.parallel_for(_fill, 10, out, 0)
    np.testing.assert_array_equal(out, np.arange(10))


def test_concurrent_callers_get_correct_products(two_threads):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 250)).astype(np.float32)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    results, errors = [None] * 4, []

    def work(i):
        try:
            results[i] = gemm(a, b)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    for r in results:
        np.testing.assert_allclose(r, expected, rtol=1e-4, atol=1e-3)


def test_set_num_threads_is_torch_api():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert torch.get_num_threads() == 1
        seen = []
        threads.run([(lambda: seen.append(threading.get_ident()), ()) for _ in range(3)])
        assert set(seen) == {threading.get_ident()}
    finally:
        torch.set_num_threads(before)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(RuntimeError, match="positive integer"):
            torch.set_num_threads(bad)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_starts_its_own_workers(two_threads):
    out = np.zeros(100, np.int64)
    threads.parallel_for(_fill, 100, out, 1)  # the parent has workers now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the parent's workers do not exist here
        try:
            child = np.zeros(100, np.int64)
            threads.parallel_for(_fill, 100, child, 7)
            os.write(write, b"ok" if (child == 7 + np.arange(100)).all() else b"bad")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 2) == b"ok"
