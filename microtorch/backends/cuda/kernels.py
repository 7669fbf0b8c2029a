"""The CUDA backend's kernel module: every name of :data:`microtorch.backends.contract.KERNELS`.

Arrays are numba device arrays (``DeviceNDArray``); nothing here copies data to the host except
``to_numpy`` (and the count of a bool-mask index, which sizes the result, as in PyTorch).
Importing this module imports numba-cuda; check :func:`microtorch.backends.cuda.is_available`
first.
"""

from .conv import conv2d, conv2d_grad_input, conv2d_grad_weight
from .elementwise import astype, binary, clamp, contiguous, copy_, unary, where
from .gemm import matmul
from .indexing import cat, gather, getitem, index_add, scatter_add, setitem
from .memory import (arange, empty, expand, from_cuda_array_interface, from_numpy, full, permute,
                     to_numpy, view)
from .norm import batch_norm, batch_norm_backward, batch_norm_stats
from .pool import (adaptive_avg_pool2d, adaptive_avg_pool2d_backward, avg_pool2d,
                   avg_pool2d_backward, max_pool2d, max_pool2d_backward)
from .random import Generator, default_generator, normal, randint, uniform
from .reduce import arg_reduce, reduce
from .softmax import softmax, softmax_backward

__all__ = [
    "empty", "full", "arange", "from_numpy", "to_numpy", "contiguous", "astype", "copy_",
    "view", "permute", "expand", "from_cuda_array_interface",
    "uniform", "normal", "randint", "Generator", "default_generator",
    "unary", "binary", "where", "clamp",
    "reduce", "arg_reduce",
    "matmul",
    "getitem", "setitem", "index_add", "gather", "scatter_add", "cat",
    "conv2d", "conv2d_grad_input", "conv2d_grad_weight",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
    "batch_norm", "batch_norm_stats", "batch_norm_backward",
    "softmax", "softmax_backward",
]
