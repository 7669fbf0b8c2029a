"""Threads of the CPU backend: a small fork-join pool of Python threads running Numba kernels.

Numba can parallelise a loop itself (``parallel=True`` with ``prange``), but every such kernel is
compiled into an OpenMP work-sharing function as well, and measured here that takes 2-3 times as
long as compiling the same loop serially (an im2col: 2.4 s against 0.8 s). A user waits for that
on the first run. So every CPU kernel is compiled serially with ``nogil=True`` (Numba releases
the GIL while the machine code runs; see :func:`microtorch.backends._numba.jit`), and a kernel
that pays for threads is called once per thread on a part of its work: the calling thread takes
the first part, ``get_num_threads() - 1`` worker threads take the others, and :func:`run` returns
when all are done.

Waking a sleeping thread costs tens of microseconds on a virtual machine, as much as a small
kernel. So both sides of a hand-over first *spin*, for at most ``SPIN_US`` microseconds, on a
sequence number the other side publishes (:func:`_spin`, Numba code without the GIL: an atomic
load and a ``pause`` per iteration), and only then sleep on a lock. A worker that just finished
a job is still spinning when the next one comes, as in a training loop, and picks it up in a
microsecond or two; an idle one goes to sleep after ``SPIN_US`` and takes no CPU time from other
processes. One fork-join runs at a time: a second Python thread calling :func:`run` meanwhile
runs its calls itself, one after another, and so does a share of a fork-join that calls
:func:`run` again (:func:`get_num_threads` is 1 inside a share): a convolution can give each
thread whole images and call the GEMM inside. After ``os.fork`` the child starts with no
workers.

An interrupt (Ctrl-C's ``KeyboardInterrupt``, or any exception a signal handler raises) can
arrive in the calling thread between any two steps of a fork-join. So nothing here depends on
a step having run to its end: each hand-over is written down as numbers both sides read again
after every wake-up (:class:`_Worker`), the caller waits again for its workers when a wait is
interrupted, and a fork-join that an interrupt cut short is finished by the next one before it
starts (:func:`run`).
"""

import os
import platform
import threading
import time

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .._numba import jit

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


#: Longest a thread spins waiting for the other side of a hand-over before it sleeps.
SPIN_US = 200
#: How long a worker that has seen a new job waits before taking the GIL (see _publish_and_spin)
GRACE_US = 2
_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


@intrinsic
def _load_acquire(typingctx, flags, index):
    """flags[index] read with an atomic acquire load: never hoisted out of a loop."""
    sig = types.int64(flags, types.intp)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
        return builder.load_atomic(ptr, "acquire", 8)

    return sig, codegen


@intrinsic
def _pause(typingctx):
    """The x86 ``pause`` instruction (a spin-wait hint); nothing elsewhere."""
    def codegen(context, builder, signature, args):
        if _X86:
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def _store_release(typingctx, flags, index, value):
    """flags[index] = value with an atomic release store."""
    sig = types.void(flags, types.intp, types.int64)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
        builder.store_atomic(args[2], ptr, "release", 8)
        return context.get_dummy_value()

    return sig, codegen


@jit
def _spin(flags, index, value, budget):
    """Wait, without the GIL, until flags[index] == value, for at most ``budget`` iterations;
    return whether it happened."""
    for _ in range(budget):
        if _load_acquire(flags, index) == value:
            return True
        _pause()
    return False


@jit
def _publish_and_spin(flags, done, value, index, wait, budget, grace):
    """flags[done] = value, then :func:`_spin` on flags[index] == wait; once it is seen, spin
    ``grace`` more iterations before returning (and taking the GIL back): the other thread,
    which has just published, is about to release the GIL, and taking it while it is held puts
    this thread to sleep, to be woken tens of microseconds later."""
    _store_release(flags, done, value)
    seen = _spin(flags, index, wait, budget)
    if seen:
        for _ in range(grace):
            _pause()
    return seen


_per_us = None


def _spins(us):
    """Iterations of :func:`_spin` in ``us`` microseconds (the rate measured on first use)."""
    global _per_us
    if _per_us is None:
        flags = np.zeros(1, np.int64)
        _spin(flags, 0, 1, 10)  # compile (or load from the cache) first
        n = 20_000
        t0 = time.perf_counter()
        _spin(flags, 0, 1, n)
        _per_us = n / max((time.perf_counter() - t0) * 1e6, 1e-3)
    return max(1, int(_per_us * us))


class _Worker:
    """One daemon thread that runs the batches of calls it is handed, one after another.

    The hand-over is written down in plain numbers that either side can read again at any
    time: ``posted`` counts the batches the caller handed over, ``finished`` the batches the
    worker has run (each side writes only its own). ``flags`` mirrors both for :func:`_spin`
    (``flags[0]`` = posted, ``flags[1]`` = finished), and each side spins on the other's
    number before it sleeps on a lock (see the module docstring).

    The locks are only wake-up calls, never the record of what happened: a waiting side checks
    the numbers again after every wake-up. So a wake-up lost or doubled by an interrupt (a
    signal handler's exception, which Python raises in the main thread between any two steps)
    costs a spurious wake-up at worst, never a hang: whoever waits on a batch can simply wait
    again.
    """

    def __init__(self):
        self.posted = 0
        self._woken = 0  # the last batch whose wake-up post() left (not cut by an interrupt)
        self.finished = 0
        self._calls = ()
        self._error = None
        self._go = threading.Lock()  # released (a wake-up) when there is a batch to run
        self._go.acquire()
        self._done = threading.Lock()  # released (a wake-up) when a batch has finished
        self._done.acquire()
        self._flags = np.zeros(2, np.int64)
        self._budget = _spins(SPIN_US)
        self._grace = _spins(GRACE_US)
        threading.Thread(target=self._loop, name="microtorch-cpu", daemon=True).start()

    def _loop(self):
        # Python runs signal handlers in the main thread only: nothing interrupts this loop.
        _local.inside = True
        while True:
            # publish batch `finished` as done (the flag is set after the GIL is released),
            # then wait for the next one
            _publish_and_spin(self._flags, 1, self.finished, 0, self.finished + 1,
                              self._budget, self._grace)
            while self.posted == self.finished:
                self._go.acquire()
            try:
                for fn, args in self._calls:
                    fn(*args)
            except BaseException as exc:  # handed back to the caller by join()
                self._error = exc
            self.finished += 1
            _wake(self._done)

    def post(self, calls):
        """Hand over a batch of ``(fn, args)`` calls (the worker must be idle)."""
        self._calls = calls
        self._error = None
        self.posted = self.finished + 1  # from here on, the batch is handed over
        self._flags[0] = self.posted
        _wake(self._go)
        self._woken = self.posted

    def busy(self):
        """Whether a batch handed over has not finished yet."""
        return self.finished != self.posted

    def join(self):
        """Wait for the batch handed over last; return the exception it raised, or None.

        May be called again after an interrupt: it waits for the same batch.
        """
        if self.busy():
            _spin(self._flags, 1, self.posted, self._budget)
        while self.busy():
            if self._woken != self.posted:  # post() was interrupted before its wake-up
                _wake(self._go)
            self._sleep_until_done()
        return self._error

    def _sleep_until_done(self):
        """Sleep until the worker's next wake-up (the caller checks the numbers again)."""
        self._done.acquire()


def _wake(lock):
    """Leave a wake-up in ``lock`` (a lock that only one thread releases and only one other
    acquires) unless one is already waiting there."""
    if lock.locked():
        lock.release()


#: {"owner": thread id} while a thread uses the workers. ``setdefault`` claims it in one step:
#: an interrupt cannot leave it claimed without the record saying by whom.
_pool = {}


def _claim_pool():
    """Claim the workers for this thread; False when another thread has them."""
    me = threading.get_ident()
    return _pool.setdefault("owner", me) == me


def _release_pool():
    if _pool.get("owner") == threading.get_ident():
        del _pool["owner"]


def _settle(workers):
    """Wait until every worker in ``workers`` is idle, even if interrupted meanwhile. Return
    ``(interrupt, failure)``: the first exception raised while waiting (a signal handler's) and
    the first raised by a batch, each None if there was none."""
    interrupt = failure = None
    for worker in workers:
        while True:
            try:
                error = worker.join()
                break
            except BaseException as exc:  # e.g. KeyboardInterrupt: wait again
                interrupt = interrupt or exc
        failure = failure or error
    return interrupt, failure


def run(calls, threads=None):
    """Call ``fn(*args)`` for each ``(fn, args)`` in ``calls`` on up to ``threads`` (default:
    get_num_threads()) threads, the calling thread running the first share, and return when
    all have finished.

    The calls must write disjoint memory. Call ``i`` runs on thread ``i % threads``. The first
    exception raised by any call, or by a signal handler while the calling thread waits, is
    re-raised here, after every thread has finished.

    An interrupt can arrive between any two steps of this function. Whatever step it stops,
    the pool stays usable: every batch handed out is waited for before the exception leaves
    here, and if the exception escapes from a point where nothing can catch it, the pool is
    left claimed by this thread with its state written down, and the next call here settles
    it first (:func:`_settle`).
    """
    threads = min(threads or _threads, get_num_threads(), len(calls))
    if threads <= 1 or not _claim_pool():
        for fn, args in calls:
            fn(*args)
        return
    error = None
    try:
        # batches left by a call that an interrupt cut short (normally none); their errors
        # were not this call's
        interrupt, _ = _settle(_workers)
        if interrupt is not None:
            raise interrupt
        while len(_workers) < threads - 1:
            _workers.append(_Worker())
        workers = _workers[:threads - 1]
        try:
            for t, worker in enumerate(workers, start=1):
                worker.post(calls[t::threads])
            _local.inside = True
            for fn, args in calls[::threads]:
                fn(*args)
        except BaseException as exc:
            error = exc
        finally:
            _local.inside = False
        # every batch handed out must be done before the pool is used again
        interrupt, failure = _settle(workers)
        error = error or interrupt or failure
        if error is not None:
            raise error
    finally:
        _release_pool()


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
    _pool.clear()
    _workers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
