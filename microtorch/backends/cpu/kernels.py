"""The CPU backend's implementation of the kernel contract.

Memory movement (allocation, views, copies, indexing, random numbers) is defined here with
NumPy, which does no arithmetic there; every computation (elementwise, reductions, matmul,
convolution, pooling, normalisation, softmax) is a Numba kernel of the submodules, each
registered beside its code with ``@REGISTRY.kernel(name)`` (and its textbook version with
``@REGISTRY.reference(name)``). This module's namespace and ``__all__`` are built from those
registrations (:func:`use_reference_kernels` swaps the two sets). See
:mod:`microtorch.backends.contract`.
"""

import os

import numpy as np

from .. import contract
# imported for their registrations
from . import conv, elementwise, gemm, norm, pool, reduce, softmax, sorting  # noqa: F401
from . import layer_norm  # noqa: F401
from . import scan  # noqa: F401
from . import attention  # noqa: F401

REGISTRY = contract.registry("cpu")


# ---- memory -----------------------------------------------------------------------------
@REGISTRY.kernel("empty")
def empty(shape, dtype):
    """A new uninitialised array."""
    return np.empty(shape, dtype=dtype)


@REGISTRY.kernel("full")
def full(shape, value, dtype):
    """A new array filled with ``value``."""
    if shape == ():  # a wrapped Python number: the common case, 3x faster than np.full
        return np.array(value, dtype=dtype)
    return np.full(shape, value, dtype=dtype)


@REGISTRY.kernel("arange")
def arange(start, end, step, dtype):
    """``start, start + step, ...`` below ``end``."""
    return np.arange(start, end, step, dtype=dtype)


@REGISTRY.kernel("from_numpy")
def from_numpy(ndarray):
    """The CPU stores NumPy arrays: returned as is (shares memory)."""
    return ndarray


@REGISTRY.kernel("to_numpy")
def to_numpy(array):
    """The CPU stores NumPy arrays: returned as is (shares memory)."""
    return array


@REGISTRY.kernel("contiguous")
def contiguous(x):
    """``x`` itself when C-contiguous, else a C-contiguous copy."""
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


@REGISTRY.kernel("astype")
def astype(x, dtype):
    """A C-contiguous copy converted to ``dtype``."""
    return x.astype(dtype, order="C")


@REGISTRY.kernel("copy_")
def copy_(dst, src):
    """Write ``src`` (broadcast, cast) into ``dst``."""
    np.copyto(dst, src, casting="unsafe")
    return dst


# ---- views ------------------------------------------------------------------------------
@REGISTRY.kernel("view")
def view(x, shape):
    """``x`` with a new shape sharing memory, or None when the strides do not allow it."""
    try:
        return np.reshape(x, shape, copy=False)
    except ValueError:
        return None


@REGISTRY.kernel("permute")
def permute(x, dims):
    """``x`` with axes reordered (a view)."""
    return x.transpose(dims)


@REGISTRY.kernel("expand")
def expand(x, shape):
    """``x`` broadcast to ``shape`` with 0-strides: a view, writable when ``x`` is (as in
    PyTorch; the Tensor's in-place methods refuse writes where a 0 stride repeats an element)."""
    return np.lib.stride_tricks.as_strided(x, shape, np.broadcast_to(x, shape).strides)


# ---- random numbers ---------------------------------------------------------------------
@REGISTRY.kernel("uniform")
def uniform(shape, dtype, gen):
    """Samples of U[0, 1) from the generator ``gen``."""
    return gen._np.random(shape, dtype=dtype)


@REGISTRY.kernel("normal")
def normal(shape, dtype, gen):
    """Samples of N(0, 1) from ``gen``."""
    return gen._np.standard_normal(shape, dtype=dtype)


@REGISTRY.kernel("randint")
def randint(low, high, shape, gen):
    """int64 samples of [low, high) from ``gen``."""
    return gen._np.integers(low, high, shape, dtype=np.int64)


# ---- indexing ---------------------------------------------------------------------------
@REGISTRY.kernel("getitem")
def getitem(x, index):
    """``x[index]``: a view for basic indices, a copy for advanced ones."""
    return x[index]


@REGISTRY.kernel("setitem")
def setitem(x, index, value):
    """``x[index] = value``."""
    x[index] = value


@REGISTRY.kernel("index_add")
def index_add(out, index, value):
    """``out[index] += value`` where repeated indices accumulate."""
    np.add.at(out, index, value)
    return out


def _leading(x, index, dim):
    """The part of ``x`` that ``index`` covers in every dim but ``dim``."""
    return x[tuple(slice(None) if d == dim else slice(0, s) for d, s in enumerate(index.shape))]


@REGISTRY.kernel("gather")
def gather(x, dim, index):
    """``out[..., i, ...] = x[..., index[..., i, ...], ...]`` along ``dim``."""
    return np.take_along_axis(_leading(x, index, dim), index, axis=dim)


@REGISTRY.kernel("scatter_add")
def scatter_add(out, dim, index, src):
    """``out[..., index[...], ...] += src[...]`` along ``dim``, accumulating repeats."""
    idx = list(np.indices(index.shape, sparse=True))
    idx[dim] = index
    np.add.at(out, tuple(idx), _leading(src, index, dim))
    return out


@REGISTRY.kernel("cat")
def cat(arrays, dim):
    """Concatenation along ``dim``."""
    return np.concatenate(arrays, axis=dim)


# ---- the namespace ----------------------------------------------------------------------
_reference = False


def use_reference_kernels(flag=True):
    """Compute with the textbook reference kernels (``flag`` true) or the fast ones.

    Swaps this module's compute entry points, so it takes effect at once for every tensor,
    existing ones included. Data-movement entries have no separate reference and stay."""
    global _reference
    _reference = bool(flag)
    globals().update(REGISTRY.table(reference=_reference))


def reference_kernels_enabled():
    """Whether the reference kernels are in use (see :func:`use_reference_kernels`)."""
    return _reference


__all__ = sorted(REGISTRY.kernels)
use_reference_kernels(os.environ.get("MICROTORCH_KERNELS", "") == "reference")
