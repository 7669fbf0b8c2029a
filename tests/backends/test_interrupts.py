"""Interrupts (a signal handler's exception, as Ctrl-C or Jupyter's "interrupt kernel") while the
CPU backend's threads work, or while Numba compiles a kernel, must leave the process working.

Each scenario runs in a child process with a time limit: a hang or an abort is a failure here,
not a stuck test run.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from microtorch.backends._numba import jit
from microtorch.backends.cpu import threads

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIMIT_S = 240

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer")


def run_child(source, env=None, limit=LIMIT_S):
    """Run ``source`` in a fresh Python with the repository on its path; return its stdout.
    A child that runs past ``limit`` seconds (a hang) or dies (an abort) fails the test."""
    environ = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(source)], env=environ,
                              capture_output=True, text=True, timeout=limit, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the child hung (no exit within {limit} s); its output:\n{exc.stdout}\n"
                    f"{exc.stderr}")
    assert done.returncode == 0, (f"child exited with {done.returncode}:\n{done.stdout}\n"
                                  f"{done.stderr}")
    return done.stdout


# Timer signals whose handler raises KeyboardInterrupt hit matmuls and convolutions on three
# threads at every point of a fork-join (handing out work, running a share, waiting); each
# interrupt is caught, as Jupyter does. Afterwards the pool must still give correct results.
INTERRUPTED_LOOP = """
    import signal, sys
    import numpy as np
    import microtorch as torch
    import microtorch.nn.functional as F

    torch.set_num_threads(3)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((192, 160)).astype(np.float32)
    b = rng.standard_normal((160, 224)).astype(np.float32)
    x = rng.standard_normal((4, 3, 20, 20)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    ta, tb, tx, tw = (torch.tensor(v) for v in (a, b, x, w))

    def reference_conv(x, w):
        n, c, h, wd = x.shape
        o, _, kh, kw = w.shape
        out = np.zeros((n, o, h - kh + 1, wd - kw + 1))
        for i in range(kh):
            for j in range(kw):
                patch = x[:, :, i:i + h - kh + 1, j:j + wd - kw + 1].astype(np.float64)
                out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j].astype(np.float64))
        return out

    def check():
        np.testing.assert_allclose((ta @ tb).numpy(), a.astype(np.float64) @ b, rtol=1e-4,
                                   atol=1e-3)
        np.testing.assert_allclose(F.conv2d(tx, tw).numpy(), reference_conv(x, w), rtol=1e-4,
                                   atol=1e-3)

    check()  # compiles (or loads) the kernels before the first interrupt
    armed = False

    def interrupt(signum, frame):
        global armed
        if armed:  # one interrupt per armed try block, never inside the except clause
            armed = False
            raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, interrupt)
    interval = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0007
    signal.setitimer(signal.ITIMER_REAL, interval, interval)
    caught = 0
    while caught < {interrupts}:
        try:
            armed = True
            for _ in range(3):
                ta @ tb
                F.conv2d(tx, tw)
            armed = False
        except KeyboardInterrupt:
            caught += 1
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    for _ in range(20):
        check()
    print("ok", caught)
"""


def test_the_pool_survives_caught_interrupts():
    out = run_child(INTERRUPTED_LOOP.replace("{interrupts}", "300"))
    assert out.split() == ["ok", "300"]


@jit
def _fill(out, value, lo, hi):
    for i in range(lo, hi):
        out[i] = value + i


@pytest.fixture
def three_threads():
    before = threads.get_num_threads()
    threads.set_num_threads(3)
    yield
    threads.set_num_threads(before)


def _check_pool_works():
    out = np.zeros(999, np.int64)
    threads.parallel_for(_fill, out.size, out, 3)
    np.testing.assert_array_equal(out, 3 + np.arange(999))
    seen = set()
    threads.run([(lambda: seen.add(threading.get_ident()), ()) for _ in range(3)])
    assert len(seen) == 3  # the workers were used, not only the calling thread


def test_an_exception_in_the_callers_share_waits_for_the_workers(three_threads):
    finished = []

    def slow(i):
        time.sleep(0.05)
        finished.append(i)

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        threads.run([(interrupted, ()), (slow, (1,)), (slow, (2,))])
    assert sorted(finished) == [1, 2]  # run() returned only after the workers were done
    _check_pool_works()


def test_an_interrupted_wait_waits_again(three_threads, monkeypatch):
    # the first blocking wait for a worker raises KeyboardInterrupt, as a signal handler would
    calls = []
    original = threads._Worker._sleep_until_done

    def interrupted_once(self):
        if not calls:
            calls.append(1)
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(threads._Worker, "_sleep_until_done", interrupted_once)
    finished = []

    def slow(i):
        time.sleep(0.05)
        finished.append(i)

    with pytest.raises(KeyboardInterrupt):
        threads.run([(finished.append, (0,)), (slow, (1,)), (slow, (2,))])
    assert calls and sorted(finished) == [0, 1, 2]
    monkeypatch.undo()
    _check_pool_works()


def test_a_call_left_behind_by_an_interrupt_is_finished_first(three_threads):
    # An interrupt may end run() at a point where no handler can run: the pool is left owned by
    # this thread with work handed out. The next call settles that before using the workers.
    _check_pool_works()
    release = threading.Event()
    finished = []

    def blocked():
        release.wait(10)
        finished.append(1)

    worker = threads._workers[0]
    assert threads._claim_pool()
    worker.post([(blocked, ())])  # as if run() was interrupted right after handing this out
    threading.Timer(0.1, release.set).start()
    out = np.zeros(30, np.int64)
    threads.parallel_for(_fill, out.size, out, 0)
    assert finished == [1]
    np.testing.assert_array_equal(out, np.arange(30))
    assert threads._pool.get("owner") is None
    _check_pool_works()


def test_another_thread_runs_serially_while_the_pool_is_owned(three_threads):
    _check_pool_works()
    assert threads._claim_pool()
    try:
        seen = []

        def other():
            threads.run([(lambda: seen.append(threading.get_ident()), ()) for _ in range(3)])
            seen.append(threading.get_ident())

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert len(set(seen)) == 1 and seen[0] != threading.get_ident()
    finally:
        threads._release_pool()
    _check_pool_works()


# Signals whose handler raises KeyboardInterrupt arrive while Numba compiles a kernel: sent when
# Numba's "numba:compile" event starts (fresh cache folder, so it really compiles). The compile
# must finish (no abort, no half-compiled kernel), the interrupt arrives after it, and the kernel
# works afterwards.
SIGNAL_AT_COMPILE = """
    import os, signal
    from numba.core import event

    class SignalAtCompile(event.Listener):
        def on_start(self, event):
            {send}

        def on_end(self, event):
            pass

    event.register("numba:compile", SignalAtCompile())
"""

INTERRUPTED_COMPILE = SIGNAL_AT_COMPILE.replace(
    "{send}", "signal.setitimer(signal.ITIMER_REAL, 0.001, 0.002)") + """
    import numpy as np
    from microtorch.backends._numba import jit

    @jit
    def kernel(x):
        total = 0.0
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                total += np.sin(x[i, j]) * np.cos(x[i, j]) + np.sqrt(abs(x[i, j]))
        return total

    hits = []

    def interrupt(signum, frame):
        hits.append(signum)
        if len(hits) == 1:
            raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, interrupt)
    x = np.ones((3, 4))
    try:
        kernel(x)
        print("no interrupt")
    except KeyboardInterrupt:
        print("interrupted")
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    print("compiled", len(kernel.signatures))
    print("value", round(kernel(x), 6), round(float((np.sin(x) * np.cos(x) + 1).sum()), 6))
"""


def test_an_interrupt_during_the_first_compile_waits_for_the_compile(tmp_path):
    out = run_child(INTERRUPTED_COMPILE, env={"NUMBA_CACHE_DIR": str(tmp_path)}).split("\n")
    assert out[0] == "interrupted"
    assert out[1] == "compiled 1"  # the compile was not abandoned half way
    value = out[2].split()
    assert value[1] == value[2]


INTERRUPTED_SIGINT_COMPILE = SIGNAL_AT_COMPILE.replace(
    "{send}", "os.kill(os.getpid(), signal.SIGINT)") + """
    import numpy as np
    from microtorch.backends._numba import jit

    @jit
    def kernel(x):
        return np.tanh(x).sum() + np.exp(-x).sum()

    try:
        kernel(np.ones(5))
        print("no interrupt")
    except KeyboardInterrupt:
        print("interrupted")
    print("compiled", len(kernel.signatures))
    print("value", round(kernel(np.ones(5)), 6))
"""


def test_ctrl_c_during_the_first_compile_arrives_after_it(tmp_path):
    out = run_child(INTERRUPTED_SIGINT_COMPILE, env={"NUMBA_CACHE_DIR": str(tmp_path)})
    lines = out.split("\n")
    assert lines[0] == "interrupted" and lines[1] == "compiled 1"
    assert float(lines[2].split()[1]) == pytest.approx(5 * (np.tanh(1) + np.exp(-1)), rel=1e-6)


def test_an_old_error_of_an_unused_worker_is_not_raised_again(three_threads):
    def fail():
        raise ValueError("boom in worker 2")

    with pytest.raises(ValueError, match="boom in worker 2"):
        threads.run([(lambda: None, ()), (lambda: None, ()), (fail, ())])
    out = np.zeros(10, np.int64)
    threads.run([(_fill, (out, 0, 0, 5)), (_fill, (out, 0, 5, 10))])  # two threads only
    np.testing.assert_array_equal(out, np.arange(10))
