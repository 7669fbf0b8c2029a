"""How every CPU kernel is compiled: ``njit`` with an on-disk cache only in a folder no one else
can write, and with signals held back while Numba compiles.

**Where compiled kernels are cached.** Numba keeps compiled machine code in an index file it reads
back with ``pickle``: whoever can write the cache folder can make the next process that loads a
kernel run their code. So :func:`cache_folder` picks the folder for a kernel's source file, in
this order:

1. ``$NUMBA_CACHE_DIR`` when the user set it: always respected, never replaced. If it is not
   writable, kernels are not cached (one warning), rather than cached somewhere else.
2. The ``__pycache__`` folder next to the source, when it is writable, not writable by the
   group or by others, not a symbolic link, and owned by the current user or by the owner of
   the source file (who controls the code anyway).
3. A folder of the current user's own: ``$XDG_CACHE_HOME/microtorch/numba`` (by default
   ``~/.cache/microtorch/numba``), then ``<temp dir>/microtorch-numba-cache-<uid>``. Each is
   created with mode 0700 and used only if it is a real folder (not a symbolic link) owned by
   the current user and not writable by the group or by others (:func:`unsafe_reason`).

When none qualifies, kernels compile in memory on every run, and one warning names each folder
and why it was refused. The choice is made by microtorch's own cache locator for its kernels
only: Numba's other defaults (a user-wide folder it does not check) are never used, and
``numba.config.CACHE_DIR`` is left as it is, for other libraries.

**Compiling under interrupts.** Numba's compiler is not safe to interrupt: a
``KeyboardInterrupt`` raised inside it can corrupt memory (seen: ``free(): double free
detected``). In the main thread, the compile step of every kernel runs with Python's signal
handlers held back (:func:`signals_deferred`); a signal that arrives meanwhile is delivered again
once the compile is done, so Ctrl-C still works, a moment later.
"""

import contextlib
import os
import signal
import stat
import tempfile
import threading
import warnings

import numba
from numba.core import typeinfer
from numba.core.caching import CompileResultCacheImpl, FunctionCache, InTreeCacheLocator

__all__ = ["jit", "cache_folder", "unsafe_reason", "signals_deferred",
           "compile_with_signals_deferred"]


# --- where the cache lives ---------------------------------------------------------------------

def unsafe_reason(path, owners=None, parent_check=True):
    """Why ``path`` must not hold a cache that this user loads with pickle, or None when it may.

    The folder must be a real directory (not a symbolic link), owned by the current user (or by
    one of the uids in ``owners``), and not writable by the group or by others; with
    ``parent_check``, its parent must not let others swap it (writable by others without the
    sticky bit that ``/tmp`` has)."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if st.st_uid not in (owners or {os.getuid()}):
        return f"is owned by uid {st.st_uid}, not by this user (uid {os.getuid()})"
    if st.st_mode & 0o022:
        return f"is writable by other users (mode {stat.S_IMODE(st.st_mode):o})"
    if parent_check:
        parent = os.lstat(os.path.dirname(os.path.abspath(path)))
        if parent.st_mode & 0o002 and not parent.st_mode & stat.S_ISVTX:
            return "is in a folder that any user can write (without the sticky bit)"
    return None


def _private_folder(path):
    """Create ``path`` (mode 0700) if missing; return None if it is safe and writable, else why
    not."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        return f"cannot be created ({exc.strerror})"
    return unsafe_reason(path) or _not_writable(path)


def _not_writable(path):
    """None if a file can be created in ``path``, else why not."""
    try:
        tempfile.TemporaryFile(dir=path).close()
        return None
    except OSError as exc:
        return f"is not writable ({exc.strerror})"


def _user_folders():
    """The current user's own cache folders, in order of preference."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [os.path.join(base, "microtorch", "numba"),
            os.path.join(tempfile.gettempdir(), f"microtorch-numba-cache-{os.getuid()}")]


def cache_folder(source_file, user_dir=None, user_folders=None):
    """The folder where kernels defined in ``source_file`` are cached, and the reasons the
    folders tried before it were refused: ``(folder or None, [(folder, reason), ...])``.

    ``user_dir`` is the user's ``NUMBA_CACHE_DIR`` ("" or None when unset); ``user_folders`` the
    per-user folders to fall back on (default: :func:`_user_folders`). See the module docstring
    for the order."""
    if user_dir:
        sub = os.path.join(user_dir, InTreeCacheLocator.get_suitable_cache_subpath(source_file))
        try:
            os.makedirs(sub, exist_ok=True)
        except OSError as exc:
            return None, [(user_dir, f"(NUMBA_CACHE_DIR) cannot be created ({exc.strerror})")]
        reason = _not_writable(sub)
        return (sub, []) if reason is None else (None, [(user_dir, f"(NUMBA_CACHE_DIR) {reason}")])
    refused = []
    in_tree = os.path.join(os.path.dirname(os.path.abspath(source_file)), "__pycache__")
    try:
        os.makedirs(in_tree, exist_ok=True)
        # owned by this user or by the owner of the source, who controls the code anyway
        owners = {os.getuid(), os.stat(source_file).st_uid}
        reason = (unsafe_reason(in_tree, owners, parent_check=False)
                  or _not_writable(in_tree))
    except OSError as exc:
        reason = f"cannot be created ({exc.strerror})"
    if reason is None:
        return in_tree, refused
    refused.append((in_tree, reason))
    for folder in _user_folders() if user_folders is None else user_folders:
        reason = _folder_verdict(folder)
        if reason is None:
            sub = InTreeCacheLocator.get_suitable_cache_subpath(source_file)
            return os.path.join(folder, sub), refused
        refused.append((folder, reason))
    return None, refused


_verdicts = {}  # folder -> reason it was refused, or None: each folder is checked once


def _folder_verdict(folder):
    if folder not in _verdicts:
        _verdicts[folder] = _private_folder(folder)
    return _verdicts[folder]


class _KernelCacheLocator(InTreeCacheLocator):
    """Numba's cache locator for microtorch's kernels: the folder :func:`cache_folder` chose."""

    def __init__(self, py_func, py_file, folder):
        super().__init__(py_func, py_file)
        self._cache_path = folder

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.exists(py_file):  # e.g. "<stdin>": nothing to key a cache on
            return None
        folder, refused = cache_folder(py_file, user_dir=numba.config.CACHE_DIR)
        if folder is None:
            _warn_once(refused)
            return None
        return cls(py_func, py_file, folder)


class _KernelCacheImpl(CompileResultCacheImpl):
    _locator_classes = [_KernelCacheLocator]


class _KernelCache(FunctionCache):
    """Numba's per-function cache, located by :class:`_KernelCacheLocator` only."""

    _impl_class = _KernelCacheImpl


_warned = False


def _warn_once(refused):
    global _warned
    if not _warned:
        _warned = True
        why = "; ".join(f"{folder} {reason}" for folder, reason in refused)
        warnings.warn(f"microtorch: kernels are not cached on disk and compile on every run: "
                      f"{why}", RuntimeWarning, stacklevel=3)


# --- compiling with signals held back ----------------------------------------------------------

_deferring = False  # the main thread is compiling with signals held back


@contextlib.contextmanager
def signals_deferred():
    """Hold back Python's signal handlers (Ctrl-C's ``KeyboardInterrupt`` among them) for the
    duration of the block, then deliver each signal that arrived, once.

    Only the main thread runs signal handlers, so only it needs this (elsewhere, and when
    already inside, the block runs as it is). While deferring, each handler is replaced by one
    that records the signal; once the block ends it forwards straight to the original, so even
    a handler that an interrupt left in place behaves as the user's.
    """
    global _deferring
    if _deferring or threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived, originals, active = [], {}, [True]

    def hold(signum, frame):
        if active[0]:
            arrived.append(signum)
        else:
            originals[signum](signum, frame)

    try:
        _deferring = True
        for signum in signal.valid_signals():
            handler = signal.getsignal(signum)
            if callable(handler):
                originals[signum] = handler
                signal.signal(signum, hold)
        yield
    finally:
        active[0] = False
        _deferring = False
        for signum, handler in originals.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(arrived):  # each signal once, in order of arrival
            signal.raise_signal(signum)


def compile_with_signals_deferred(compile):
    """Wrap a dispatcher's ``compile(sig)`` (called for each new signature, from the first call
    with it or from the compile of a kernel that calls this one) in :func:`signals_deferred`.
    Used for the CPU kernels by :func:`jit`, and for the CUDA kernels at their first launch
    (:func:`microtorch.backends.cuda._core.launch`)."""
    def deferred(sig):
        with signals_deferred():
            return compile(sig)

    deferred.__doc__ = compile.__doc__
    return deferred


# --- the decorator -----------------------------------------------------------------------------

def jit(*args, **options):
    """``numba.njit`` with ``nogil=True`` (the compiled code runs without the GIL, so
    :mod:`microtorch.backends.cpu.threads` can run it on several threads at once), cached on
    disk in a folder chosen by :func:`cache_folder` (``cache=False`` turns the cache off), and
    compiled with signals deferred (see the module docstring).

    Use exactly as ``njit``: ``@jit``, ``@jit(fastmath=...)`` or ``@jit(signature, ...)``.
    """
    cache = options.pop("cache", True)
    options.setdefault("nogil", True)

    def decorate(fn):
        dispatcher = numba.njit(**options)(fn)
        dispatcher.compile = compile_with_signals_deferred(dispatcher.compile)
        if cache:
            try:
                dispatcher._cache = _KernelCache(dispatcher.py_func)  # what enable_caching does
            except RuntimeError:  # no folder qualifies: compile in memory (already warned)
                pass
        if signatures:  # compile now, as njit(signature) does
            with typeinfer.register_dispatcher(dispatcher):
                for sig in signatures:
                    dispatcher.compile(sig)
            dispatcher.disable_compile()
        return dispatcher

    if len(args) == 1 and callable(args[0]):
        signatures = ()
        return decorate(args[0])
    signatures = args
    return decorate
