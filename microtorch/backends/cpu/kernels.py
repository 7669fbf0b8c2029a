"""The CPU backend's implementation of the kernel contract.

Memory movement (allocation, views, copies, indexing) uses NumPy, which does no arithmetic
there; every computation (elementwise, reductions, matmul, convolution, pooling, normalisation,
softmax) is a Numba kernel from the submodules. See :mod:`microtorch.backends.contract`.
"""

import numpy as np

from .conv import conv2d, conv2d_grad_input, conv2d_grad_weight
from .norm import batch_norm, batch_norm_backward, batch_norm_stats
from .pool import (adaptive_avg_pool2d, adaptive_avg_pool2d_backward, avg_pool2d,
                   avg_pool2d_backward, max_pool2d, max_pool2d_backward)
from .softmax import softmax, softmax_backward
from .elementwise import binary, clamp, unary, where
from .reduce import arg_reduce, reduce
from .gemm import matmul

__all__ = [
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward", "arange", "arg_reduce", "astype",
    "avg_pool2d", "avg_pool2d_backward", "batch_norm", "batch_norm_backward", "batch_norm_stats",
    "binary", "cat", "clamp", "contiguous", "conv2d", "conv2d_grad_input", "conv2d_grad_weight",
    "copy_", "empty", "expand", "from_numpy", "full", "gather", "getitem", "index_add",
    "matmul", "max_pool2d", "max_pool2d_backward", "normal", "permute", "randint", "reduce",
    "scatter_add", "setitem", "softmax", "softmax_backward", "to_numpy", "unary", "uniform",
    "view", "where",
]


# ---- memory -----------------------------------------------------------------------------
def empty(shape, dtype):
    """A new uninitialised array."""
    return np.empty(shape, dtype=dtype)


def full(shape, value, dtype):
    """A new array filled with ``value``."""
    if shape == ():  # a wrapped Python number: the common case, 3x faster than np.full
        return np.array(value, dtype=dtype)
    return np.full(shape, value, dtype=dtype)


def arange(start, end, step, dtype):
    """``start, start + step, ...`` below ``end``."""
    return np.arange(start, end, step, dtype=dtype)


def from_numpy(ndarray):
    """The CPU stores NumPy arrays: returned as is (shares memory)."""
    return ndarray


def to_numpy(array):
    """The CPU stores NumPy arrays: returned as is (shares memory)."""
    return array


def contiguous(x):
    """``x`` itself when C-contiguous, else a C-contiguous copy."""
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def astype(x, dtype):
    """A C-contiguous copy converted to ``dtype``."""
    return x.astype(dtype, order="C")


def copy_(dst, src):
    """Write ``src`` (broadcast, cast) into ``dst``."""
    np.copyto(dst, src, casting="unsafe")
    return dst


# ---- views ------------------------------------------------------------------------------
def view(x, shape):
    """``x`` with a new shape sharing memory, or None when the strides do not allow it."""
    try:
        return np.reshape(x, shape, copy=False)
    except ValueError:
        return None


def permute(x, dims):
    """``x`` with axes reordered (a view)."""
    return x.transpose(dims)


def expand(x, shape):
    """``x`` broadcast to ``shape`` with 0-strides: a view, writable when ``x`` is (as in
    PyTorch; the Tensor's in-place methods refuse writes where a 0 stride repeats an element)."""
    return np.lib.stride_tricks.as_strided(x, shape, np.broadcast_to(x, shape).strides)


# ---- random numbers ---------------------------------------------------------------------
def uniform(shape, dtype, gen):
    """Samples of U[0, 1) from the generator ``gen``."""
    return gen._np.random(shape, dtype=dtype)


def normal(shape, dtype, gen):
    """Samples of N(0, 1) from ``gen``."""
    return gen._np.standard_normal(shape, dtype=dtype)


def randint(low, high, shape, gen):
    """int64 samples of [low, high) from ``gen``."""
    return gen._np.integers(low, high, shape, dtype=np.int64)


# ---- indexing ---------------------------------------------------------------------------
def getitem(x, index):
    """``x[index]``: a view for basic indices, a copy for advanced ones."""
    return x[index]


def setitem(x, index, value):
    """``x[index] = value``."""
    x[index] = value


def index_add(out, index, value):
    """``out[index] += value`` where repeated indices accumulate."""
    np.add.at(out, index, value)
    return out


def _leading(x, index, dim):
    """The part of ``x`` that ``index`` covers in every dim but ``dim``."""
    return x[tuple(slice(None) if d == dim else slice(0, s) for d, s in enumerate(index.shape))]


def gather(x, dim, index):
    """``out[..., i, ...] = x[..., index[..., i, ...], ...]`` along ``dim``."""
    return np.take_along_axis(_leading(x, index, dim), index, axis=dim)


def scatter_add(out, dim, index, src):
    """``out[..., index[...], ...] += src[...]`` along ``dim``, accumulating repeats."""
    idx = list(np.indices(index.shape, sparse=True))
    idx[dim] = index
    np.add.at(out, tuple(idx), _leading(src, index, dim))
    return out


def cat(arrays, dim):
    """Concatenation along ``dim``."""
    return np.concatenate(arrays, axis=dim)
