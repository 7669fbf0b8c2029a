"""``microtorch.cuda``: is a CUDA GPU usable, and which (as ``torch.cuda``)."""

from . import _random
from .backends import cuda as cuda_backend


def is_available():
    """True when numba-cuda is installed and a GPU (or the enabled simulator) is present."""
    return bool(cuda_backend.is_available())


def device_count():
    """The number of visible GPUs (0 without CUDA)."""
    return cuda_backend.device_count() if is_available() else 0


def current_device():
    """The index of the current GPU."""
    cuda_backend.check_available()
    return cuda_backend.current_device()


def get_device_name(device=None):
    """The name of a GPU, e.g. 'NVIDIA H100 80GB HBM3'."""
    cuda_backend.check_available()
    return cuda_backend.get_device_name(device)


def synchronize(device=None):
    """Wait for all kernels on the GPU to finish."""
    cuda_backend.check_available()
    cuda_backend.synchronize()


def manual_seed(seed):
    """Seed the CUDA generator (the default generator also seeds CUDA streams)."""
    _random.default_generator.manual_seed(seed)


manual_seed_all = manual_seed
