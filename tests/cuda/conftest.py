"""CUDA backend tests: on a real GPU, or else under numba's CUDA simulator (tiny shapes).

``NUMBA_ENABLE_CUDASIM=1`` is set here unless the environment already sets it (a GPU machine
runs ``NUMBA_ENABLE_CUDASIM=0 pytest tests/cuda``). The simulator must be chosen before
``numba.cuda`` is first imported; when another test module of the same process imported it
without the simulator and there is no GPU, every test here is skipped: run
``pytest tests/cuda`` in its own process.
"""

import importlib.util
import os
import sys

import pytest

_REASON = None


def _setup():
    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed (pip install 'numba-cuda[cu12]')"
    if "numba.cuda" not in sys.modules:
        os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
        if "numba" in sys.modules:        # numba read its config already: read it again
            import numba

            numba.config.reload_config()
    from numba import cuda

    import microtorch.backends.cuda as backend

    backend.allow_simulator(True)
    if not backend.is_available():
        if not backend.simulator_enabled():
            return ("no GPU, and numba.cuda was imported without the simulator in this "
                    "process: run `pytest tests/cuda` on its own")
        return "the CUDA simulator is not usable"
    _ = cuda
    return None


try:
    _REASON = _setup()
except Exception as exc:  # pragma: no cover - broken installs skip, never error
    _REASON = f"CUDA setup failed: {exc!r}"


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if not os.path.abspath(str(item.fspath)).startswith(here + os.sep):
            continue
        if _REASON is not None:
            item.add_marker(pytest.mark.skip(reason=_REASON))
        # the simulator's xoroshiro code overflows uint64 on purpose; numba warns about the
        # object-mode fallback of the simulated random-state initialisation
        item.add_marker(pytest.mark.filterwarnings("ignore::RuntimeWarning"))
        item.add_marker(pytest.mark.filterwarnings("ignore:.*object mode:Warning"))
        item.add_marker(pytest.mark.filterwarnings("ignore:.*reflected list:Warning"))
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
