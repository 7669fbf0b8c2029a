"""CUDA backend tests: on a real GPU, or else under numba's CUDA simulator (tiny shapes).

``NUMBA_ENABLE_CUDASIM=1`` is set here unless the environment already sets it (a GPU machine
runs ``NUMBA_ENABLE_CUDASIM=0 pytest tests/cuda``). The simulator must be chosen before
``numba.cuda`` is first imported, and it changes what ``is_available()`` says for the whole
process, so it is switched on only when pytest was asked for ``tests/cuda`` alone. Collected
with other tests (``pytest tests``) on a machine without a GPU, every test here is skipped:
run ``pytest tests/cuda`` in its own process.
"""

import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_REASON = "CUDA tests not set up"


def _only_this_directory(config):
    """True when this pytest run was asked for tests under tests/cuda only."""
    args = [a.split("::")[0] for a in config.args if not a.startswith("-")]
    paths = [os.path.abspath(os.path.join(str(config.invocation_params.dir), a)) for a in args]
    return bool(paths) and all(p == HERE or p.startswith(HERE + os.sep) for p in paths)


def _setup(config):
    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed (pip install 'numba-cuda[cu12]')"
    if "numba.cuda" not in sys.modules and _only_this_directory(config):
        os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
        if "numba" in sys.modules:        # numba read its config already: read it again
            import numba

            numba.config.reload_config()
    import microtorch.backends.cuda as backend

    if backend.simulator_enabled():
        backend.allow_simulator(True)
    if not backend.is_available():
        return ("no GPU here: run `pytest tests/cuda` on its own, which uses the CUDA "
                "simulator")
    return None


def pytest_configure(config):
    global _REASON
    try:
        _REASON = _setup(config)
    except Exception as exc:  # pragma: no cover - broken installs skip, never error
        _REASON = f"CUDA setup failed: {exc!r}"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not os.path.abspath(str(item.fspath)).startswith(HERE + os.sep):
            continue
        if _REASON is not None:
            item.add_marker(pytest.mark.skip(reason=_REASON))
        # the simulator's xoroshiro code overflows uint64 on purpose; numba warns about the
        # object-mode fallback of the simulated random-state initialisation
        item.add_marker(pytest.mark.filterwarnings("ignore::RuntimeWarning"))
        item.add_marker(pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaWarning"))
        item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))


@pytest.fixture(scope="session")
def K():
    """The CUDA kernel module (``microtorch.backends.cuda.kernels``)."""
    if _REASON is not None:
        pytest.skip(_REASON)
    from microtorch.backends.cuda import kernels

    return kernels


@pytest.fixture(scope="session")
def SIM():
    from microtorch.backends.cuda import _core

    return _core.SIM
