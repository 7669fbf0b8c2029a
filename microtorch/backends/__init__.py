"""Device backends: one kernel module per device type, all implementing
:mod:`microtorch.backends.contract`. :func:`get_backend` is the one place that maps a device to
its kernels."""

import importlib

from . import cuda as cuda_backend

_BACKENDS = {}


def get_backend(device):
    """The kernel module of ``device`` (``microtorch.backends.cpu.kernels`` or
    ``microtorch.backends.cuda.kernels``)."""
    kind = device.type
    be = _BACKENDS.get(kind)
    if be is None:
        if kind == "cuda":
            cuda_backend.check_available()
        be = importlib.import_module(f".{kind}.kernels", __name__)
        _BACKENDS[kind] = be
    return be
