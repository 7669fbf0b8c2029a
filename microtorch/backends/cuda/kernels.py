"""The CUDA backend's kernel module: every name of :data:`microtorch.backends.contract.KERNELS`.

Arrays are numba device arrays (``DeviceNDArray``); nothing here copies data to the host except
``to_numpy`` (and the count of a bool-mask index, which sizes the result, as in PyTorch).
Importing this module imports numba-cuda; check :func:`microtorch.backends.cuda.is_available`
first.

Each kernel module registers its entry points beside their code (``@REGISTRY.kernel(name)``);
this module's namespace and ``__all__`` are built from those registrations, plus the CUDA-only
helpers ``from_cuda_array_interface``, ``Generator`` and ``default_generator``.
"""

from .. import contract
# imported for their registrations
from . import conv, elementwise, gemm, indexing, memory, norm, pool, random, reduce, softmax  # noqa: F401
from . import layer_norm  # noqa: F401
from . import sorting  # noqa: F401
from . import scan  # noqa: F401
from . import attention  # noqa: F401
from .memory import from_cuda_array_interface
from .random import Generator, default_generator

REGISTRY = contract.registry("cuda")

globals().update(REGISTRY.table())
__all__ = sorted(REGISTRY.kernels) + ["Generator", "default_generator",
                                      "from_cuda_array_interface"]
