"""Plumbing shared by the CUDA kernels: launches, launch sizes, strided views, dim collapsing.

Every kernel launch goes through :func:`launch` (it counts launches in
``microtorch.backends.cuda.launch_count``, kept by :mod:`.device`). Strided kernels receive arrays as fixed-rank views
(:data:`RANK` dims, padded in front with size-1 dims) built by :func:`view`, so one compiled
kernel per dtype serves every shape, broadcast (0 strides) and transposed layout.

Under the simulator (``NUMBA_ENABLE_CUDASIM=1``) launches use few, small blocks: each simulated
thread is a Python thread.
"""

import math

import numba
import numpy as np
from numba import cuda, types

from .._numba import compile_with_signals_deferred
from .device import count_launch

SIM = bool(numba.config.ENABLE_CUDASIM)
RANK = 6                                  # fixed rank of strided kernel arguments
THREADS = 32 if SIM else 256              # threads per block of 1-D launches (a power of 2)
MAX_BLOCKS = 2 if SIM else 8192           # grid-stride launches use at most this many blocks

if SIM:
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
else:
    from numba.cuda.cudadrv.devicearray import DeviceNDArray


# Numba argument types, for the launch signatures each module records with
# ``REGISTRY.launches(kernel, (argument types), ...)`` (compiled to PTX by tests/cuda_ptx).
f32, f64, i64, b1, u64 = types.float32, types.float64, types.int64, types.boolean, types.uint64
U6 = types.UniTuple(i64, 6)
U8 = types.UniTuple(i64, 8)


def arr(dtype, ndim, layout="A"):
    """The numba type of a device array argument: ``ndim`` dims of ``dtype``."""
    return types.Array(dtype, ndim, layout)


def launch(kernel, griddim, blockdim, *args):
    """Launch ``kernel[griddim, blockdim](*args)`` and count it.

    At a kernel's first launch its ``compile`` step is wrapped so that it runs with signals
    deferred, as the CPU kernels' (Numba's compiler is not safe to interrupt; see
    :mod:`microtorch.backends._numba`). The simulator does not compile.
    """
    count_launch()
    if not SIM and "compile" not in vars(kernel):
        kernel.compile = compile_with_signals_deferred(kernel.compile)
    kernel[griddim, blockdim](*args)


def launch_1d(kernel, n, *args):
    """Launch a grid-stride kernel that covers ``n`` work items."""
    blocks = max(1, min(math.ceil(n / THREADS), MAX_BLOCKS))
    launch(kernel, blocks, THREADS, *args)


def scalar(value, dtype):
    """A numpy scalar of ``dtype``: kernels receive typed constants, so float32 stays float32."""
    return np.dtype(dtype).type(value)


# -- arrays --------------------------------------------------------------------------------

def empty(shape, dtype):
    shape = tuple(int(s) for s in shape)
    return cuda.device_array(shape, dtype=np.dtype(dtype))


def elem_strides(x):
    """Strides of ``x`` in elements (numba device arrays store them in bytes)."""
    itemsize = x.dtype.itemsize
    return tuple(int(s) // itemsize for s in x.strides)


def is_contiguous(x):
    """C-contiguity, ignoring the strides of size-1 dims (as numpy does)."""
    expected = 1
    for n, s in zip(reversed(x.shape), reversed(elem_strides(x))):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True


class _Interface:
    """An object exposing ``__array_interface__`` (how numpy builds a view at any address)."""

    def __init__(self, interface, base):
        self.__array_interface__ = interface
        self.base = base


def view(x, shape, strides, offset=0):
    """A view of ``x``'s memory with ``shape`` and ``strides`` (elements), starting ``offset``
    elements after ``x``'s first element. No bounds check: callers compute in-bounds views."""
    shape = tuple(int(s) for s in shape)
    itemsize = x.dtype.itemsize
    bstrides = tuple(int(s) * itemsize for s in strides)
    if SIM:
        host = x._ary
        interface = dict(host.__array_interface__)
        interface["data"] = (interface["data"][0] + int(offset) * itemsize, False)
        interface["shape"] = shape
        interface["strides"] = bstrides
        interface.pop("mask", None)
        return FakeCUDAArray(np.asarray(_Interface(interface, host)))
    if math.prod(shape) == 0:
        return cuda.device_array(shape, dtype=x.dtype)
    data = x.gpu_data if offset == 0 else x.gpu_data.view(int(offset) * itemsize)
    return DeviceNDArray(shape, bstrides, x.dtype, gpu_data=data)


def reshape(x, shape):
    """Reshape a C-contiguous array (a view)."""
    shape = tuple(int(s) for s in shape)
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= n
    return view(x, shape, tuple(reversed(strides)))


def permute(x, axes):
    """A view with dims permuted."""
    st = elem_strides(x)
    return view(x, [x.shape[a] for a in axes], [st[a] for a in axes])


def broadcast_shape(*shapes):
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(ndim):
        n = 1
        for s in shapes:
            d = s[i - ndim + len(s)] if i - ndim + len(s) >= 0 else 1
            if d != 1:
                if n != 1 and n != d:
                    raise ValueError(f"shapes {shapes} cannot be broadcast together")
                n = d
        out.append(n)
    return tuple(out)


def broadcast_strides(x, shape):
    """Element strides of ``x`` broadcast to ``shape`` (0 for new and stretched dims)."""
    st = elem_strides(x)
    pad = len(shape) - x.ndim
    out = []
    for i, n in enumerate(shape):
        if i < pad or x.shape[i - pad] == 1 and n != 1:
            out.append(0)
        else:
            out.append(st[i - pad])
    return tuple(out)


def broadcast_to(x, shape):
    return view(x, shape, broadcast_strides(x, shape))


def collapse(shape, stride_lists):
    """Drop size-1 dims and merge neighbouring dims that are contiguous in every array.

    Returns ``(shape, stride_lists)`` of the smallest rank (at least 1) that visits the same
    elements in the same C order."""
    dims = [(n, [s[i] for s in stride_lists]) for i, n in enumerate(shape) if n != 1]
    if not dims:
        return (1,), [(0,) for _ in stride_lists]
    merged = [dims[0]]
    for n, st in dims[1:]:
        pn, pst = merged[-1]
        if all(ps == s * n for ps, s in zip(pst, st)):
            merged[-1] = (pn * n, st)
        else:
            merged.append((n, st))
    new_shape = tuple(n for n, _ in merged)
    new_strides = [tuple(st[k] for _, st in merged) for k in range(len(stride_lists))]
    return new_shape, new_strides


def strided_views(shape, arrays):
    """Views of ``arrays`` (each broadcastable to ``shape``) for an elementwise kernel.

    Returns ``(rank, views)``: rank 1 when every array walks its memory with one stride (the fast
    path: contiguous or scalar-broadcast), else :data:`RANK`-dim views padded with size-1 dims.
    """
    strides = [broadcast_strides(a, shape) for a in arrays]
    cshape, cstrides = collapse(shape, strides)
    if len(cshape) == 1:
        return 1, [view(a, cshape, st) for a, st in zip(arrays, cstrides)]
    if len(cshape) > RANK:
        raise NotImplementedError(f"CUDA elementwise kernels support up to {RANK} "
                                  f"non-mergeable dims, got shape {shape}")
    pad = RANK - len(cshape)
    shape6 = (1,) * pad + cshape
    return RANK, [view(a, shape6, (0,) * pad + st) for a, st in zip(arrays, cstrides)]


def pad_tuple(values, fill=0, n=RANK):
    """A fixed-length int64 tuple (kernel argument) padded in front with ``fill``."""
    values = tuple(int(v) for v in values)
    if len(values) > n:
        raise NotImplementedError(f"at most {n} dims are supported here, got {len(values)}")
    return (fill,) * (n - len(values)) + values


@cuda.jit(device=True, inline=True)
def unravel6(i, shape):
    """C-order coordinates of flat index ``i`` in a 6-dim ``shape``."""
    i5 = i % shape[5]
    i //= shape[5]
    i4 = i % shape[4]
    i //= shape[4]
    i3 = i % shape[3]
    i //= shape[3]
    i2 = i % shape[2]
    i //= shape[2]
    i1 = i % shape[1]
    i0 = i // shape[1]
    return i0, i1, i2, i3, i4, i5
