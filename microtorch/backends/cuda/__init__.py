"""The CUDA backend: numba.cuda kernels on numba device arrays (``DeviceNDArray``).

Importing this package never imports numba, so it works on machines without numba-cuda or a GPU.
The kernels themselves live in :mod:`microtorch.backends.cuda.kernels`, which implements every
name of :data:`microtorch.backends.contract.KERNELS`; import it only after :func:`is_available`
said yes (or :func:`check_available` did not raise)::

    from microtorch.backends import cuda
    if cuda.is_available():
        from microtorch.backends.cuda import kernels
        x = kernels.from_numpy(numpy_array)

The device helpers (mirroring ``torch.cuda``) and the launch counter come from
:mod:`microtorch.backends.cuda.device`; ``launch_count`` reads its current value.
"""

from . import device
from .device import (allow_simulator, check_available, current_device, device_count,
                     from_cuda_array_interface, get_device_name, is_available,
                     numba_cuda_installed, reset_launch_count, simulator_enabled, synchronize)

__all__ = ["allow_simulator", "check_available", "current_device", "device_count",
           "from_cuda_array_interface", "get_device_name", "is_available", "launch_count",
           "numba_cuda_installed", "reset_launch_count", "simulator_enabled", "synchronize"]


def __getattr__(name):
    """``launch_count``: the number of kernel launches so far (kept by :mod:`.device`)."""
    if name == "launch_count":
        return device.launch_count
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
