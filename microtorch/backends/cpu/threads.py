"""Threads of the CPU backend: a small fork-join pool of Python threads running Numba kernels.

Numba can parallelise a loop itself (``parallel=True`` with ``prange``), but every such kernel is
compiled into an OpenMP work-sharing function as well, and measured here that takes 2-3 times as
long as compiling the same loop serially (an im2col: 2.4 s against 0.8 s). A user waits for that
on the first run. So every CPU kernel is compiled serially with ``nogil=True`` (Numba releases
the GIL while the machine code runs; see :func:`microtorch.backends._numba.jit`), and a kernel
that pays for threads is called once per thread on a part of its work: the calling thread takes
the first part, ``get_num_threads() - 1`` worker threads take the others, and :func:`run` returns
when all are done. Handing a part to a sleeping worker costs about as much as waking an OpenMP
thread (tens of microseconds on a virtual machine), so small problems stay on one thread.

Workers sleep on a lock between jobs, never spinning, so idle threads take no CPU time from other
processes. One fork-join runs at a time: a second Python thread calling :func:`run` meanwhile
runs its calls itself, one after another, and so does a share of a fork-join that calls
:func:`run` again (:func:`get_num_threads` is 1 inside a share): a convolution can give each
thread whole images and call the GEMM inside. After ``os.fork`` the child starts with no
workers.
"""

import os
import threading

__all__ = ["get_num_threads", "set_num_threads", "run", "parallel_for", "split"]


def _default_threads():
    """OMP_NUM_THREADS when set (as PyTorch), else the CPUs this process may run on."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_threads = _default_threads()
_lock = threading.Lock()
_workers = []
_local = threading.local()  # .inside: this thread is running its share of a fork-join


def get_num_threads():
    """Number of threads the CPU kernels use (the calling thread included); 1 while the
    calling thread runs its share of a parallel region, so nested work runs on it alone."""
    return 1 if getattr(_local, "inside", False) else _threads


def set_num_threads(n):
    """Use ``n`` threads (the calling thread included) for the CPU kernels, as
    ``torch.set_num_threads``."""
    global _threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n!r}")
    _threads = n


class _Worker:
    """One daemon thread that runs the batch of calls it is handed, then signals it is done."""

    def __init__(self):
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self._calls = ()
        self._error = None
        threading.Thread(target=self._loop, name="microtorch-cpu", daemon=True).start()

    def _loop(self):
        _local.inside = True
        while True:
            self._go.acquire()
            try:
                for fn, args in self._calls:
                    fn(*args)
            except BaseException as exc:  # handed back to the caller by join()
                self._error = exc
            self._calls = ()
            self._done.release()

    def submit(self, calls):
        self._calls = calls
        self._go.release()

    def join(self):
        """Wait for the batch; return the exception it raised, or None."""
        self._done.acquire()
        error, self._error = self._error, None
        return error


def run(calls, threads=None):
    """Call ``fn(*args)`` for each ``(fn, args)`` in ``calls`` on up to ``threads`` (default:
    get_num_threads()) threads, the calling thread running the first share, and return when
    all have finished.

    The calls must write disjoint memory. Call ``i`` runs on thread ``i % threads``. The first
    exception raised by any call is re-raised here, after every thread has finished.
    """
    threads = min(threads or _threads, get_num_threads(), len(calls))
    if threads <= 1 or not _lock.acquire(blocking=False):
        for fn, args in calls:
            fn(*args)
        return
    try:
        while len(_workers) < threads - 1:
            _workers.append(_Worker())
        workers = _workers[:threads - 1]
        for t, worker in enumerate(workers, start=1):
            worker.submit(calls[t::threads])
        error = None
        _local.inside = True
        try:
            for fn, args in calls[::threads]:
                fn(*args)
        except BaseException as exc:
            error = exc
        finally:
            _local.inside = False
        for worker in workers:
            failure = worker.join()
            error = error or failure
        if error is not None:
            raise error
    finally:
        _lock.release()


def split(n, parts=None):
    """``[(lo, hi), ...]``: [0, n) cut into at most ``parts`` (default: the thread count)
    non-empty, contiguous ranges of near-equal length."""
    parts = max(1, min(n, parts or get_num_threads()))
    return [(i * n // parts, (i + 1) * n // parts) for i in range(parts)]


def parallel_for(kernel, n, *args, serial=False):
    """Run ``kernel(*args, lo, hi)`` over [0, n): one contiguous range per thread, or the whole
    range on the calling thread when ``serial`` (a problem too small to be worth waking a
    thread for)."""
    if serial or get_num_threads() == 1 or n < 2:
        kernel(*args, 0, n)
    else:
        run([(kernel, args + bounds) for bounds in split(n)])


def _after_fork():
    """In a forked child the workers do not exist: start without them."""
    global _lock
    _lock = threading.Lock()
    _workers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
