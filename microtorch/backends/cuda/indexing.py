"""Indexing kernels: getitem/setitem (NumPy rules), index_add, gather, scatter_add, cat.

Basic indices (ints, slices, ``None``, ``...``) only compute a new shape, strides and offset:
``getitem`` returns a device *view*, ``setitem`` copies into that view.

Advanced indices (integer arrays, bool masks, and ints mixed with them) follow NumPy: the index
arrays broadcast to a shape ``B``; the result has ``B`` in place of the indexed dims when those
are adjacent, else in front. After applying the basic part, one kernel computes for every
``b`` in ``B`` the memory offset ``sum_j idx_j[b] * stride_j`` (negative indices wrap); then
one thread per result element adds the offset of its position in the remaining (sliced) dims
and reads (``getitem``), writes (``setitem``) or atomically adds (``index_add``: repeated
indices accumulate). A bool mask is first turned into coordinates on the device (one block
scanning the mask in chunks with a shared-memory prefix sum); only its count comes back to the
host, to size the result, as in PyTorch.
"""

import math

import numpy as np
from numba import cuda, int64

from .. import contract
from . import _core
from ._core import U6, arr, b1, f32, f64, i64
from .elementwise import astype, binary, contiguous, copy_, fill_
from .reduce import reduce

REGISTRY = contract.registry("cuda")

THREADS = _core.THREADS


def _is_array(obj):
    return hasattr(obj, "shape") and hasattr(obj, "dtype") and not isinstance(obj, np.generic)


def _to_device_index(obj):
    if isinstance(obj, (list, tuple)) or isinstance(obj, np.ndarray):
        arr = np.asarray(obj)
        if arr.dtype != np.bool_:
            arr = arr.astype(np.int64)
        return cuda.to_device(np.ascontiguousarray(arr))
    return obj


def _expand_index(index, ndim):
    """Tuple form of ``index`` with ``...`` expanded and device arrays for array indices."""
    if not isinstance(index, tuple):
        index = (index,)
    items = []
    for item in index:
        if isinstance(item, (list, np.ndarray)) or (_is_array(item) and not np.isscalar(item)):
            item = _to_device_index(item)
        items.append(item)
    used = 0
    for item in items:
        if item is None or item is Ellipsis:
            continue
        if _is_array(item) and np.dtype(item.dtype) == np.bool_:
            used += item.ndim
        else:
            used += 1
    if used > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, "
                         f"but {used} were indexed")
    if Ellipsis in [i for i in items if not _is_array(i)]:
        pos = next(k for k, i in enumerate(items) if i is Ellipsis and not _is_array(i))
        items = items[:pos] + [slice(None)] * (ndim - used) + items[pos + 1:]
    else:
        items = items + [slice(None)] * (ndim - used)
    return items


def _int_like(item):
    return isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))


def _basic(x, items, ints_are_advanced):
    """Apply slices, None and (unless advanced) ints. Returns (view, adv) where adv lists
    ``(dim_in_view, index)`` for the advanced items, which keep their dims in the view."""
    shape, strides = [], []
    offset = 0
    adv = []
    xst = _core.elem_strides(x)
    d = 0
    for item in items:
        if item is None:
            shape.append(1)
            strides.append(0)
            continue
        if _is_array(item):
            k = item.ndim if np.dtype(item.dtype) == np.bool_ else 1
            adv.append((len(shape), item))
            for _ in range(k):
                shape.append(x.shape[d])
                strides.append(xst[d])
                d += 1
            continue
        n = x.shape[d]
        if isinstance(item, slice):
            start, stop, step = item.indices(n)
            shape.append(len(range(start, stop, step)))
            strides.append(xst[d] * step)
            offset += start * xst[d] if shape[-1] else 0
        elif _int_like(item):
            i = int(item)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {d} with size {n}")
            i %= n
            if ints_are_advanced:
                adv.append((len(shape), i))
                shape.append(n)
                strides.append(xst[d])
            else:
                offset += i * xst[d]
        else:
            raise IndexError(f"unsupported index {item!r}")
        d += 1
    return _core.view(x, shape, strides, offset), adv


# -- bool masks -> coordinates -----------------------------------------------------------

@cuda.jit
def nonzero_kernel(mask, shape, ndim, out):
    """One block: out[p, :] = coordinates (in a 6-D padded ``shape``) of the p-th true
    element of the flat ``mask``, by chunks of THREADS with a Hillis-Steele scan."""
    sm = cuda.shared.array(THREADS, int64)
    tid = cuda.threadIdx.x
    n = mask.size
    base = 0
    for start in range(0, n, THREADS):
        i = start + tid
        flag = 1 if (i < n and mask[i]) else 0
        sm[tid] = flag
        cuda.syncthreads()
        s = 1
        while s < THREADS:
            v = sm[tid - s] if tid >= s else 0
            cuda.syncthreads()
            sm[tid] += v
            cuda.syncthreads()
            s *= 2
        if flag:
            pos = base + sm[tid] - 1
            r = i
            for d in range(5, 5 - ndim, -1):
                out[pos, d - 6 + ndim] = r % shape[d]
                r //= shape[d]
        base += sm[THREADS - 1]
        cuda.syncthreads()


def nonzero(mask):
    """int64 coordinates (count, ndim) of the true elements of a bool device array."""
    mask = contiguous(mask)
    count = int(reduce("sum", mask, tuple(range(mask.ndim)), False).copy_to_host()) \
        if mask.ndim else int(bool(mask.copy_to_host()))
    out = _core.empty((count, max(mask.ndim, 1)), np.int64)
    if count and mask.ndim:
        _core.launch(nonzero_kernel, 1, THREADS, _core.reshape(mask, (mask.size,)),
                     _core.pad_tuple(mask.shape, 1), mask.ndim, out)
    elif count:
        fill_(out, 0)
    return out


# -- advanced indexing kernels --------------------------------------------------------------

@cuda.jit
def adv_offsets_kernel(idx, dims, strides, k, out):
    """out[b] = sum_j wrap(idx[j, b], dims[j]) * strides[j] for j < k."""
    for b in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        off = 0
        for j in range(k):
            v = idx[j, b]
            if v < 0:
                v += dims[j]
            off += v * strides[j]
        out[b] = off


@cuda.jit(device=True, inline=True)
def _rest_offset(r, shape, strides):
    off = 0
    for d in range(5, -1, -1):
        off += (r % shape[d]) * strides[d]
        r //= shape[d]
    return off


@cuda.jit(device=True, inline=True)
def _position(o, nb, r2, adv, shape, strides):
    r1 = o // (nb * r2)
    b = (o // r2) % nb
    rr = r1 * r2 + o % r2
    return adv[b] + _rest_offset(rr, shape, strides)


@cuda.jit
def adv_gather_kernel(base, adv, nb, r2, shape, strides, out):
    for o in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[o] = base[_position(o, nb, r2, adv, shape, strides)]


@cuda.jit
def adv_scatter_kernel(base, adv, nb, r2, shape, strides, val):
    for o in range(cuda.grid(1), val.size, cuda.gridsize(1)):
        base[_position(o, nb, r2, adv, shape, strides)] = val[o]


@cuda.jit
def adv_add_kernel(base, adv, nb, r2, shape, strides, val):
    for o in range(cuda.grid(1), val.size, cuda.gridsize(1)):
        cuda.atomic.add(base, _position(o, nb, r2, adv, shape, strides), val[o])


class _Plan:
    """Everything an advanced-index kernel needs: base view, offsets, result shape."""

    def __init__(self, x, items, writable):
        int_arrays = any(_is_array(i) for i in items)
        # bool masks become one int array per mask dim
        converted = []
        for item in items:
            if _is_array(item) and np.dtype(item.dtype) == np.bool_:
                coords = nonzero(item)
                for j in range(item.ndim):
                    converted.append(("mask", coords, j, item.ndim))
            else:
                converted.append(item)
        v, adv = _basic(x, [c if not isinstance(c, tuple) else _mask_placeholder(c)
                            for c in converted], ints_are_advanced=int_arrays)
        if any(s < 0 for s in _core.elem_strides(v)):
            if writable:
                raise NotImplementedError("advanced-index writes through negative strides")
            v = contiguous(v)
        # index arrays, broadcast
        arrays = []
        for (dim, item), c in zip(adv, [c for c in converted if _is_adv(c)]):
            if isinstance(c, tuple):
                _, coords, j, _ = c
                arrays.append(_core.view(coords, (coords.shape[0],),
                                         (_core.elem_strides(coords)[0],), j))
            elif _int_like(item):
                arrays.append(_core.view(_scalar_index(item), (), ()))
            else:
                arrays.append(item if np.dtype(item.dtype) == np.int64
                              else astype(item, np.int64))
        bshape = _core.broadcast_shape(*[a.shape for a in arrays])
        nb = math.prod(bshape)
        adv_dims = [dim for dim, _ in adv]
        vst = _core.elem_strides(v)
        k = len(arrays)
        stack = _core.empty((k, nb), np.int64)
        for j, a in enumerate(arrays):
            if nb:
                copy_(_core.view(stack, bshape, _contig_strides(bshape), j * nb), a)
        self.adv = _core.empty((nb,), np.int64)
        if nb:
            _core.launch_1d(adv_offsets_kernel, nb, stack,
                            _pad_back([v.shape[d] for d in adv_dims], 1),
                            _pad_back([vst[d] for d in adv_dims], 0), k, self.adv)
        rest = [d for d in range(v.ndim) if d not in adv_dims]
        consecutive = adv_dims == list(range(adv_dims[0], adv_dims[0] + k))
        before = [d for d in rest if consecutive and d < adv_dims[0]]
        after = [d for d in rest if d not in before]
        rshape, rstrides = [v.shape[d] for d in rest], [vst[d] for d in rest]
        if rest:
            cshape, (cstrides,) = _core.collapse(rshape, [rstrides])
        else:
            cshape, cstrides = (1,), (0,)
        self.rest_shape = _core.pad_tuple(cshape, 1)
        self.rest_strides = _core.pad_tuple(cstrides)
        self.nb = nb
        self.r2 = math.prod(v.shape[d] for d in after)
        self.shape = tuple(v.shape[d] for d in before) + bshape + \
            tuple(v.shape[d] for d in after)
        span = 1 + sum((n - 1) * s for n, s in zip(v.shape, vst) if n > 0)
        self.base = _core.view(v, (span,), (1,))
        self.size = math.prod(self.shape)


REGISTRY.launches(nonzero_kernel, (arr(b1, 1), U6, i64, arr(i64, 2)))
REGISTRY.launches(adv_offsets_kernel, (arr(i64, 2), U6, U6, i64, arr(i64, 1)))
for _dt in (f32, f64, i64):
    for _kernel in (adv_gather_kernel, adv_scatter_kernel, adv_add_kernel):
        REGISTRY.launches(_kernel, (arr(_dt, 1), arr(i64, 1), i64, i64, U6, U6, arr(_dt, 1)))


def _pad_back(values, fill):
    if len(values) > _core.RANK:
        raise NotImplementedError(f"at most {_core.RANK} advanced indices are supported")
    return tuple(int(v) for v in values) + (fill,) * (_core.RANK - len(values))


def _is_adv(c):
    return isinstance(c, tuple) or _is_array(c) or _int_like(c)


def _mask_placeholder(c):
    """A stand-in int64 array for one dim of a bool mask (only its ndim matters to _basic)."""
    _, coords, j, _ = c
    return _core.view(coords, (coords.shape[0],), (_core.elem_strides(coords)[0],), j)


def _scalar_index(i):
    return fill_(_core.empty((1,), np.int64), int(i))


def _contig_strides(shape):
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= n
    return tuple(reversed(strides))


def _has_advanced(items):
    return any(_is_array(i) for i in items)


@REGISTRY.kernel("getitem")
def getitem(x, index):
    """``x[index]`` with NumPy semantics: a view for basic indices, a new array otherwise."""
    items = _expand_index(index, x.ndim)
    if not _has_advanced(items):
        return _basic(x, items, False)[0]
    plan = _Plan(x, items, writable=False)
    out = _core.empty(plan.shape, x.dtype)
    if plan.size:
        _core.launch_1d(adv_gather_kernel, plan.size, plan.base, plan.adv, plan.nb, plan.r2,
                        plan.rest_shape, plan.rest_strides, _core.reshape(out, (plan.size,)))
    return out


def _value_for(plan_shape, dtype, value):
    val = _core.empty(plan_shape, dtype)
    if _is_array(value) and not np.isscalar(value):
        copy_(val, value)
    else:
        fill_(val, value)
    return _core.reshape(val, (val.size,))


@REGISTRY.kernel("setitem")
def setitem(x, index, value):
    """``x[index] = value`` (value broadcast and cast to ``x``'s dtype); returns ``x``."""
    items = _expand_index(index, x.ndim)
    if not _has_advanced(items):
        target = _basic(x, items, False)[0]
        if _is_array(value) and not np.isscalar(value):
            copy_(target, value)
        else:
            fill_(target, value)
        return x
    plan = _Plan(x, items, writable=True)
    if plan.size:
        val = _value_for(plan.shape, x.dtype, value)
        _core.launch_1d(adv_scatter_kernel, plan.size, plan.base, plan.adv, plan.nb, plan.r2,
                        plan.rest_shape, plan.rest_strides, val)
    return x


@REGISTRY.kernel("index_add")
def index_add(out, index, value):
    """``out[index] += value`` where repeated indices accumulate (atomics); returns ``out``."""
    items = _expand_index(index, out.ndim)
    if not _has_advanced(items):
        target = _basic(out, items, False)[0]
        binary("add", target, value, out=target)
        return out
    plan = _Plan(out, items, writable=True)
    if plan.size:
        val = _value_for(plan.shape, out.dtype, value)
        _core.launch_1d(adv_add_kernel, plan.size, plan.base, plan.adv, plan.nb, plan.r2,
                        plan.rest_shape, plan.rest_strides, val)
    return out


# -- gather / scatter_add / cat ----------------------------------------------------------------

@cuda.jit(device=True, inline=True)
def _replace(j, d, v):
    i0, i1, i2, i3, i4, i5 = j
    if d == 0:
        i0 = v
    elif d == 1:
        i1 = v
    elif d == 2:
        i2 = v
    elif d == 3:
        i3 = v
    elif d == 4:
        i4 = v
    else:
        i5 = v
    return i0, i1, i2, i3, i4, i5


@cuda.jit
def gather_kernel(x, d, index, out):
    n = x.shape[d]
    for o in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        j = _core.unravel6(o, out.shape)
        v = index[j]
        if v < 0:
            v += n
        out[j] = x[_replace(j, d, v)]


@cuda.jit
def scatter_add_kernel(out, d, index, src):
    n = out.shape[d]
    for o in range(cuda.grid(1), index.size, cuda.gridsize(1)):
        j = _core.unravel6(o, index.shape)
        v = index[j]
        if v < 0:
            v += n
        cuda.atomic.add(out, _replace(j, d, v), src[j])


for _dt in (f32, f64, i64):
    REGISTRY.launches(gather_kernel, (arr(_dt, 6), i64, arr(i64, 6), arr(_dt, 6)))
    REGISTRY.launches(scatter_add_kernel, (arr(_dt, 6), i64, arr(i64, 6), arr(_dt, 6)))


def _pad6(x, shape=None):
    shape = x.shape if shape is None else shape
    if len(shape) > _core.RANK:
        raise NotImplementedError(f"at most {_core.RANK} dims are supported, got {len(shape)}")
    st = _core.elem_strides(x)[-len(shape):] if len(shape) else ()
    pad = _core.RANK - len(shape)
    return _core.view(x, (1,) * pad + tuple(shape), (0,) * pad + tuple(st))


@REGISTRY.kernel("gather")
def gather(x, dim, index):
    """``out[i][j] = x[index[i][j]][j]`` (for dim 0), ``out.shape == index.shape``."""
    out = _core.empty(index.shape, x.dtype)
    if out.size:
        pad = _core.RANK - x.ndim
        _core.launch_1d(gather_kernel, out.size, _pad6(x), int(dim) + pad, _pad6(index),
                        _pad6(out))
    return out


@REGISTRY.kernel("scatter_add")
def scatter_add(out, dim, index, src):
    """``out[index[i][j]][j] += src[i][j]`` (for dim 0), repeats accumulate; returns ``out``."""
    if index.size:
        pad = _core.RANK - out.ndim
        src_view = _core.view(src, index.shape, _core.elem_strides(src))
        _core.launch_1d(scatter_add_kernel, index.size, _pad6(out), int(dim) + pad,
                        _pad6(index), _pad6(src_view))
    return out


@REGISTRY.kernel("cat")
def cat(arrays, dim):
    """Concatenation along ``dim`` (one copy kernel per input)."""
    arrays = list(arrays)
    dim = int(dim)
    first = arrays[0]
    shape = list(first.shape)
    shape[dim] = sum(a.shape[dim] for a in arrays)
    out = _core.empty(shape, first.dtype)
    ost = _core.elem_strides(out)
    start = 0
    for a in arrays:
        if a.size:
            part = _core.view(out, a.shape, ost, start * ost[dim])
            copy_(part, a)
        start += a.shape[dim]
    return out
