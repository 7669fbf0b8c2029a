"""How every CPU kernel is compiled: ``njit`` with an on-disk cache when one is writable.

Numba caches compiled machine code next to the source file (``__pycache__``) or, failing that, in
``$NUMBA_CACHE_DIR`` / the user's cache directory. When no directory is writable, ``cache=True``
raises at import time; :func:`jit` checks first and falls back to compiling in memory, saying so
once.
"""

import os
import tempfile
import warnings

import numba

_CACHE_OK = None


def _cache_available():
    """Return True when Numba can write its cache for kernels of this package."""
    global _CACHE_OK
    if _CACHE_OK is not None:
        return _CACHE_OK
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [numba.config.CACHE_DIR or None, os.path.join(here, "cpu", "__pycache__")]
    for path in candidates:
        if path and _writable(path):
            _CACHE_OK = True
            return True
    fallback = os.path.join(tempfile.gettempdir(), "microtorch-numba-cache")
    if _writable(fallback):
        numba.config.CACHE_DIR = fallback
        warnings.warn(f"microtorch: package directory is read-only; caching kernels in {fallback}")
        _CACHE_OK = True
    else:
        warnings.warn("microtorch: no writable cache directory; kernels compile on every run")
        _CACHE_OK = False
    return _CACHE_OK


def _writable(path):
    try:
        os.makedirs(path, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, delete=True)
        probe.close()
        return True
    except OSError:
        return False


def jit(*args, **options):
    """``numba.njit`` with ``cache=True`` when a cache directory is writable, and ``nogil=True``
    (the compiled code runs without the GIL, so :mod:`microtorch.backends.cpu.threads` can run
    it on several threads at once).

    Use exactly as ``njit``: ``@jit``, ``@jit(fastmath=...)`` or ``@jit(signature, ...)``.
    """
    options.setdefault("cache", _cache_available())
    options.setdefault("nogil", True)
    if len(args) == 1 and callable(args[0]):
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)
