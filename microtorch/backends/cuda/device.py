"""The CUDA device: is it usable, which one, and how many kernels were launched on it.

Importing this module never imports numba, so it works on machines without numba-cuda or a GPU;
:func:`numba_cuda_installed` is the package's one probe for numba-cuda.

Device helpers (mirroring ``torch.cuda``): :func:`is_available`, :func:`device_count`,
:func:`current_device`, :func:`get_device_name`, :func:`synchronize`. ``launch_count`` counts
every kernel launch made by this backend (each goes through ``_core.launch``, which calls
:func:`count_launch`), so tests and
benchmarks can report launches per training step; :func:`reset_launch_count` sets it to 0.

The numba CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` set before numba is first imported) runs
the same kernels one Python thread per CUDA thread. It is used by the tests; ``is_available()``
reports it only after :func:`allow_simulator` was called, so a user never gets a "GPU" that is
a thousand times slower than the CPU by accident.
"""

import importlib.util
import os
import sys

launch_count = 0
_simulator_allowed = False


def count_launch():
    """Add one to :data:`launch_count` (every kernel launch calls this)."""
    global launch_count
    launch_count += 1


def reset_launch_count():
    """Set :data:`launch_count` to 0 and return its previous value."""
    global launch_count
    previous, launch_count = launch_count, 0
    return previous


def allow_simulator(flag=True):
    """Let :func:`is_available` report the numba CUDA simulator as a device (tests use this)."""
    global _simulator_allowed
    _simulator_allowed = bool(flag)


def simulator_enabled():
    """True when numba runs CUDA kernels in its simulator (decided when numba was imported)."""
    if "numba" in sys.modules:
        import numba

        return bool(numba.config.ENABLE_CUDASIM)
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def numba_cuda_installed():
    """True when the numba-cuda package is installed (without importing it)."""
    try:
        return importlib.util.find_spec("numba_cuda") is not None
    except (ImportError, ValueError):
        return False


def is_available():
    """True when CUDA kernels can run: numba-cuda is installed and a GPU (or, if allowed, the
    simulator) is present. Never raises."""
    if not numba_cuda_installed():
        return False
    try:
        from numba import cuda

        if simulator_enabled():
            return _simulator_allowed
        return bool(cuda.is_available())
    except Exception:  # a broken driver or toolkit means "not available", not a crash
        return False


def device_count():
    """Number of visible CUDA devices (0 when none or when CUDA is unavailable)."""
    if not is_available():
        return 0
    from numba import cuda

    return len(cuda.gpus)


def current_device():
    """Index of the selected CUDA device."""
    _require()
    from numba import cuda

    return getattr(cuda.get_current_device(), "id", 0)


def get_device_name(device=None):
    """Name of a CUDA device, e.g. ``'NVIDIA H100 80GB HBM3'``."""
    _require()
    from numba import cuda

    if device is None:
        dev = cuda.get_current_device()
    else:
        dev = cuda.gpus[int(device)]
        dev = getattr(dev, "_device", dev)
    name = getattr(dev, "name", None) or "numba CUDA simulator"
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize():
    """Wait until every kernel launched on the current device has finished."""
    _require()
    from numba import cuda

    cuda.synchronize()


def check_available():
    """Raise PyTorch's AssertionError when CUDA cannot be used (no numba-cuda, or no GPU)."""
    if not is_available():
        raise AssertionError("Torch not compiled with CUDA enabled" if not numba_cuda_installed()
                             else "Found no NVIDIA driver on your system. Please check that you "
                             "have an NVIDIA GPU and installed a driver.")


def _require():
    if not is_available():
        raise RuntimeError("CUDA is not available: install numba-cuda[cu12] and run on a machine "
                           "with an NVIDIA GPU (tests may use the simulator via allow_simulator())")


def from_cuda_array_interface(obj):
    """A device array sharing memory with an object exposing ``__cuda_array_interface__``."""
    _require()
    from numba import cuda

    return cuda.as_cuda_array(obj)
