"""``microtorch.cuda``: is a CUDA GPU usable, and which (as ``torch.cuda``)."""


def _backend_module():
    from .backends import cuda as cuda_backend

    return cuda_backend


def is_available():
    """True when numba-cuda is installed and a GPU (or the enabled simulator) is present."""
    try:
        return bool(_backend_module().is_available())
    except Exception:
        return False


def _check_available():
    if not is_available():
        raise AssertionError("Torch not compiled with CUDA enabled" if not _has_numba_cuda()
                             else "Found no NVIDIA driver on your system. Please check that you "
                             "have an NVIDIA GPU and installed a driver.")


def _has_numba_cuda():
    import importlib.util

    return importlib.util.find_spec("numba_cuda") is not None


def device_count():
    """The number of visible GPUs (0 without CUDA)."""
    return _backend_module().device_count() if is_available() else 0


def current_device():
    """The index of the current GPU."""
    _check_available()
    return _backend_module().current_device()


def get_device_name(device=None):
    """The name of a GPU, e.g. 'NVIDIA H100 80GB HBM3'."""
    _check_available()
    return _backend_module().get_device_name(device)


def synchronize(device=None):
    """Wait for all kernels on the GPU to finish."""
    _check_available()
    _backend_module().synchronize()


def manual_seed(seed):
    """Seed the CUDA generator (the default generator also seeds CUDA streams)."""
    from . import _random

    _random.default_generator.manual_seed(seed)


manual_seed_all = manual_seed
