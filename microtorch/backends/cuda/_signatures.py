"""The argument types every CUDA kernel of this backend is launched with.

Each kernel module records them beside its kernels with ``REGISTRY.launches(kernel, (argument
types), ...)``. ``tests/cuda_ptx`` compiles each pair to PTX with ``numba.cuda.compile_ptx`` (no
GPU needed), and checks that every kernel of the package's :data:`MODULES` is listed.
"""

import sys

from . import kernels

MODULES = tuple(module for name, module in sorted(sys.modules.items())
                if name.startswith(f"{__package__}.") and module is not None)
"""The modules of the backend (all imported by :mod:`.kernels`)."""


def signatures():
    """``[(kernel, argument types), ...]`` for every kernel launch of the backend."""
    return list(kernels.REGISTRY.signatures)
