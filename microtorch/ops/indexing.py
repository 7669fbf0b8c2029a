"""Indexing ops: ``x[index]``, ``x[index] = v``, cat/stack/split, gather/scatter_add.

An index is normalised once (:func:`normalize_index`) into a tuple of ints, slices, None,
Ellipsis and integer/bool arrays, checked against the shape, and then handed to the backend.
"""

import numpy as np

from .. import _dtype
from .._tensor import Tensor
from ..autograd.function import Function
from ._register import alias, public, tensor_method
from .inplace import inplace
from ._util import check_same_device, normalize_dim, sum_to_shape, wrap


def normalize_index(x, index, check_bounds=True):
    """Validate ``index`` for tensor ``x`` and convert tensors/lists to NumPy arrays (whose
    values are checked against the sizes unless ``check_bounds`` is False).

    Returns (index tuple, kind) where kind is 'select' (ints only), 'slice' (basic indexing)
    or 'index' (advanced indexing with arrays), which names the backward node.
    """
    if not isinstance(index, tuple):
        index = (index,)
    index = _drop_extra_ellipses(x, index)
    out, kind, dim = [], "select", 0
    n_real = _count_indexed_dims(x, index)
    # PyTorch applies the ints and slices in order (an int's bounds, a slice's step) before
    # any index tensor; the dims of ints after an index tensor are found by the loop below
    d, advanced = 0, False
    for i in index:
        if isinstance(i, slice) and i.step is not None and i.step <= 0:
            raise ValueError("slice step cannot be zero" if i.step == 0 else
                             "step must be greater than zero")
        if i is Ellipsis:
            d = x.ndim - (n_real - d)
        elif isinstance(i, slice):
            d += 1
        elif isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)):
            if not advanced and not -x.shape[d] <= i < x.shape[d]:
                raise IndexError(f"index {i} is out of bounds for dimension {d} with size "
                                 f"{x.shape[d]}")
            d += 1
        elif i is not None:
            advanced = True
    for i in index:
        if i is Ellipsis:
            out.append(i)
            dim = x.ndim - (n_real - dim)
            continue
        if i is None:
            out.append(None)
            kind = "slice" if kind == "select" else kind
            continue
        if isinstance(i, Tensor):
            if i.ndim == 0 and i.dtype.category == 1:
                i = int(i.item())
            else:
                i = i._backend.to_numpy(i._data)
        if isinstance(i, (list, tuple)):
            i = np.asarray(i)
            if i.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if isinstance(i, (bool, np.bool_)):
            i = np.asarray(i)
        if isinstance(i, (int, np.integer)):
            size = x.shape[dim]
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size "
                                 f"{size}")
            out.append(int(i))
            dim += 1
        elif isinstance(i, slice):
            out.append(i)
            kind = "slice" if kind == "select" else kind
            dim += 1
        elif isinstance(i, np.ndarray):
            kind = "index"
            if i.dtype == np.bool_:
                for j, (m, s) in enumerate(zip(i.shape, x.shape[dim:])):
                    if m != s:
                        raise IndexError(f"The shape of the mask {list(i.shape)} at index {j} "
                                         "does not match the shape of the indexed tensor "
                                         f"{list(x.shape)} at index {dim + j}")
                dim += max(i.ndim, 1)
            elif i.dtype.kind in "iu":
                size = x.shape[dim]
                if size == 0 and i.size:  # PyTorch checks this first (before dtypes, values)
                    raise IndexError("index is out of bounds for dimension with size 0")
                if check_bounds and i.size and (i.max() >= size or i.min() < -size):
                    bad = i.max() if i.max() >= size else i.min()
                    raise IndexError(f"index {bad} is out of bounds for dimension {dim} with "
                                     f"size {size}")
                i = i.astype(np.int64, copy=False)
                dim += 1
            else:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            out.append(i)
        else:
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {type(i).__name__})")
    _check_arrays_broadcast(out)
    return tuple(out), kind


def _check_arrays_broadcast(index):
    """PyTorch's IndexError when the index arrays (a bool mask counting as its positions of
    True along each of its dims) do not broadcast together."""
    shapes = []
    for i in index:
        if isinstance(i, np.ndarray):
            shapes += [(int(np.count_nonzero(i)),)] * i.ndim if i.dtype == np.bool_ and i.ndim \
                else [i.shape]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together with "
                         f"shapes {', '.join(str(list(s)) for s in shapes)}") from None


def _drop_extra_ellipses(x, index):
    """``index`` without the ``...`` after the first one.

    NumPy allows one ``...``; PyTorch accepts more (``x[..., None, ...]``), each one matching
    the dims that the other indices leave, so the later ones match nothing when the first
    took all of them. Otherwise only ``...`` and ``:`` may follow a second ``...``: PyTorch
    runs any other index there past the last dim (it ignores ``x[..., ..., 0:1]``'s slice and
    refuses ``x[..., ..., 0]``), so microtorch refuses them all.
    """
    where = [k for k, i in enumerate(index) if i is Ellipsis]
    if len(where) < 2:
        return index
    rest = index[:where[1]] + tuple(i for i in index[where[1]:] if i is not Ellipsis)
    if _count_indexed_dims(x, rest) == x.ndim:
        return rest
    for i in index[where[1]:]:
        if i is not Ellipsis and not (isinstance(i, slice) and i == slice(None)):
            raise IndexError("an index with several ellipses ('...') can have only '...' and "
                             f"':' after the second one (got {i!r})")
    return index[:where[1]]


def _count_indexed_dims(x, index):
    """How many dims of ``x`` the index tuple consumes; PyTorch's IndexError when too many."""
    n_real = sum(_mask_ndim(i) if _is_bool_mask(i) else 1 for i in index
                 if i is not None and i is not Ellipsis)
    if n_real > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    return n_real


def _is_bool_mask(i):
    return (isinstance(i, Tensor) and i.dtype is _dtype.bool_) or (
        isinstance(i, np.ndarray) and i.dtype == np.bool_)


def _mask_ndim(i):
    return max(i.ndim, 1)


class Index(Function):
    """out = x[index];  dx = zeros with g added at index (repeats accumulate)"""

    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, x, index):
        ctx.meta = (x.shape, x.dtype, index)
        data = x._backend.getitem(x._data, index)
        basic = not any(isinstance(i, np.ndarray) for i in index)
        return Tensor._make(data, x.device, base=x if basic else None)

    @staticmethod
    def backward(ctx, g):
        shape, dtype, index = ctx.meta
        return IndexAdd.apply(g, shape, index), None


class Select(Index):
    """out = x[i] for integer i"""

    node_name = "SelectBackward0"


class Slice(Index):
    """out = x[a:b:c] (basic slicing)"""

    node_name = "SliceBackward0"


_INDEX_NODES = {"select": Select, "slice": Slice, "index": Index}


class IndexAdd(Function):
    """out = zeros(shape) with g added at index;  dg = out_grad[index]"""

    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, g, shape, index):
        ctx.index = index
        be = g._backend
        out = be.full(shape, 0, g.dtype.np)
        be.index_add(out, index, g._data)
        return Tensor._make(out, g.device)

    @staticmethod
    def backward(ctx, gg):
        return gg[ctx.index], None, None


@tensor_method("__getitem__")
def getitem(x, index):
    """``x[index]`` with PyTorch's basic and advanced indexing rules (NumPy's, except where an
    int and an index tensor are apart: see :func:`_advanced_dims_moved`)."""
    index, kind = normalize_index(x, index)
    out = _INDEX_NODES[kind].apply(x, index)
    order = _advanced_dims_moved(index, x.ndim, out.ndim)
    return out if order is None else out.permute(order)


def _advanced_dims_moved(index, ndim, out_ndim):
    """The permutation from NumPy's result dims to PyTorch's, or None when they agree.

    Both put the dims of the broadcast index arrays in place of the arrays when these are
    adjacent, and first otherwise. NumPy counts an int as one of those arrays, PyTorch
    applies ints first (as ``select``), so ``x[0, :, idx]`` is ``(B, n)`` in NumPy and
    ``(n, B)`` in PyTorch: the arrays are adjacent for PyTorch only.
    """
    def is_array(i):
        return isinstance(i, np.ndarray)

    def adjacent(flags):
        """True when the positions flagged True are consecutive."""
        where = [k for k, flag in enumerate(flags) if flag]
        return where[-1] - where[0] == len(where) - 1

    if not any(is_array(i) for i in index) or not any(isinstance(i, int) for i in index):
        return None
    used = sum(_mask_ndim(i) if is_array(i) and i.dtype == np.bool_ else 1 for i in index
               if i is not None and i is not Ellipsis)
    index = [j for i in index for j in ([slice(None)] * (ndim - used) if i is Ellipsis
                                        else [i])]  # an Ellipsis as the ':'s it stands for
    torch_items = [i for i in index if not isinstance(i, int)]
    if adjacent([is_array(i) or isinstance(i, int) for i in index]) or not adjacent(
            [is_array(i) for i in torch_items]):
        return None
    n_adv = max(1 if i.dtype == np.bool_ else i.ndim for i in index if is_array(i))
    before = 0  # PyTorch's result dims in front of the first array (from ':' and None)
    while not is_array(torch_items[before]):
        before += 1
    rest = list(range(n_adv, out_ndim))
    return rest[:before] + list(range(n_adv)) + rest[before:]


class CopySlices(Function):
    """out = x with out[index] = value;  dx = g with index zeroed,  dvalue = g[index] summed"""

    node_name = "CopySlices"

    @staticmethod
    def forward(ctx, x, value, index):
        # The index is checked here, after the in-place checks, and the positions of index
        # tensors after the value (as PyTorch orders its errors).
        index, _ = normalize_index(x, index, check_bounds=False)
        value_data, written_shape = _setitem_value(x, index, value)
        index, _ = normalize_index(x, index)
        ctx.meta = (index, written_shape, value.shape, value.dtype)
        # the dims along which x repeats one memory cell (x expanded; only x[index] must not
        # repeat one): a value written there shows at every repeat, so its gradient sums them
        ctx.repeated = tuple(d for d, (n, st) in enumerate(zip(x.shape, x._data.strides))
                             if st == 0 and n > 1)
        be = x._backend
        out = be.astype(x._data, x.dtype.np)
        be.setitem(out, index, be.astype(value_data, x.dtype.np))
        return Tensor._make(out, x.device)

    @staticmethod
    def backward(ctx, g):
        index, written_shape, vshape, vdtype = ctx.meta
        gx = g.clone()
        gx._backend.setitem(gx._data, index, gx._backend.full((), 0, g.dtype.np))
        gv = None
        if ctx.needs_input_grad[1]:
            if ctx.repeated:
                g = g.sum(ctx.repeated, keepdim=True).expand(g.shape)
            gv = sum_to_shape(g[index], written_shape).reshape(vshape)
        return gx, gv if gv is None or gv.dtype is vdtype else gv.to(vdtype), None


def _setitem_value(x, index, value):
    """The data of ``value`` to write at ``x[index]`` (in NumPy's order of dims) and its shape
    as PyTorch sees it, checked as PyTorch checks it.

    Leading size-1 dims of ``value`` are dropped (``x0d[()] = tensor([5.])`` is allowed); the
    rest must broadcast to the indexed part. With an advanced index (PyTorch's ``index_put_``)
    a tensor value must have ``x``'s dtype, unless it is a single value written through one
    bool mask (``masked_fill_``); Python numbers are always converted.
    """
    arrays = [i for i in index if isinstance(i, np.ndarray)]
    shape = value.shape
    while shape and shape[0] == 1:
        shape = shape[1:]
    if arrays and not value._wrapped_number and value.dtype is not x.dtype:
        is_mask_fill = (len(arrays) == 1 and arrays[0].dtype == np.bool_ and arrays[0].ndim
                        and value.numel() == 1)
        if not is_mask_fill:
            raise RuntimeError("Index put requires the source and destination dtypes match, got "
                               f"{x.dtype.scalar_name} for the destination and "
                               f"{value.dtype.scalar_name} for the source.")
    be = value._backend
    data = be.view(be.contiguous(value._data), shape)
    if not shape:  # a single value broadcasts anywhere: only a shaped value needs the target
        return data, shape
    target = _indexed_shape(x, index)  # in NumPy's order of dims
    order = _advanced_dims_moved(index, x.ndim, len(target))
    if order is not None:
        target = tuple(target[d] for d in order)  # PyTorch's
    fits = len(shape) <= len(target) and all(
        s in (1, t) for s, t in zip(shape[::-1], target[::-1]))
    if not fits:
        raise RuntimeError(_setitem_shape_error(shape, target, value, bool(arrays)))
    if order is None:
        return data, shape
    return be.permute(be.expand(data, target), tuple(np.argsort(order))), shape


def _indexed_shape(x, index):
    """The shape of ``x[index]`` (NumPy's order of dims), for an index whose arrays' values
    are not checked yet: a view for a basic index; for an advanced one, NumPy indexes a
    stand-in of ``x``'s shape with no memory (one bool per selected element is made), with
    zeros for the arrays' values (which do not change the shape)."""
    if not any(isinstance(i, np.ndarray) for i in index):
        return tuple(x._backend.getitem(x._data, index).shape)
    shape, safe, dim = list(x.shape), [], 0
    n_real = _count_indexed_dims(x, index)
    for i in index:
        if i is Ellipsis:
            dim += x.ndim - n_real
        elif isinstance(i, np.ndarray) and i.dtype != np.bool_:
            shape[dim] = max(shape[dim], 1)  # (a 0-size dim has no valid position)
            i = np.zeros_like(i)
            dim += 1
        elif i is not None:
            dim += _mask_ndim(i) if isinstance(i, np.ndarray) else 1
        safe.append(i)
    return np.broadcast_to(np.zeros((), dtype=np.bool_), shape)[tuple(safe)].shape


def _setitem_shape_error(shape, target, value, advanced):
    """PyTorch's message for a value of ``shape`` that does not fit ``target``."""
    if advanced:
        return (f"shape mismatch: value tensor of shape {list(shape)} cannot be broadcast to "
                f"indexing result of shape {list(target)}")
    if len(shape) > len(target):
        return (f"expand({_type_name(value)}{{{list(shape)}}}, size={list(target)}): the number "
                f"of sizes provided ({len(target)}) must be greater or equal to the number of "
                f"dimensions in the tensor ({len(shape)})")
    for d in range(1, len(shape) + 1):
        if shape[-d] not in (1, target[-d]):
            break
    return (f"The expanded size of the tensor ({target[-d]}) must match the existing size "
            f"({shape[-d]}) at non-singleton dimension {len(target) - d}.  Target sizes: "
            f"{list(target)}.  Tensor sizes: {list(shape)}")


def _type_name(t):
    """PyTorch's legacy type name of a tensor (``torch.FloatTensor``)."""
    return f"torch.{t.dtype.tensor_type_name}"


@tensor_method("__setitem__")
def setitem(x, index, value):
    """``x[index] = value`` in place (recorded in the graph as ``CopySlices``)."""
    value = wrap(value, x)
    check_same_device(x, value)
    if value.requires_grad and not x.dtype.is_floating_point:  # no gradient flows there
        value = value.detach()
    if not _is_advanced(index):
        # PyTorch applies a basic index (ints, slices) first, as a view, so its errors come
        # before the in-place checks; an advanced index is checked by the write itself,
        # except for the number of dims it indexes.
        index, _ = normalize_index(x, index)
        inplace(x, CopySlices, value, index, written=index)
        return
    _count_indexed_dims(x, _drop_extra_ellipses(x, index if isinstance(index, tuple)
                                                   else (index,)))
    inplace(x, CopySlices, value, index)


def _is_advanced(index):
    """True when ``index`` has a list, array, bool or non-0-d/non-integer tensor part."""
    for i in index if isinstance(index, tuple) else (index,):
        if isinstance(i, Tensor):
            if i.ndim or i.dtype.category != 1:
                return True
        elif isinstance(i, (list, np.ndarray, bool, np.bool_)):
            return True
    return False


class Cat(Function):
    """out = the inputs joined along dim;  each input's grad is its slice of g"""

    node_name = "CatBackward0"

    @staticmethod
    def forward(ctx, dim, *tensors):
        # PyTorch's legacy rule: 1-D empty tensors (shape (0,)) are skipped, beside any shapes
        # (they still take part in the graph: the output requires grad if one of them does)
        skip = [t.shape == (0,) for t in tensors]
        if all(skip):
            skip = [False] * len(tensors)
        ctx.dim, ctx.skip = dim, skip
        ctx.sizes = [t.shape[dim] for t, s in zip(tensors, skip) if not s]
        be = tensors[0]._backend
        data = [t._data for t, s in zip(tensors, skip) if not s]
        return Tensor._make(be.cat(data, dim), tensors[0].device)

    @staticmethod
    def backward(ctx, g):
        parts = iter(g.split(ctx.sizes, ctx.dim))
        return (None,) + tuple(g.new_zeros((0,)) if s else next(parts) for s in ctx.skip)


@public()
def cat(tensors, dim=0):
    """Concatenate tensors along an existing dim; the shapes must match elsewhere."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    check_same_device(*tensors)
    dtype = _dtype.result_type(*tensors) if len({t.dtype for t in tensors}) > 1 else \
        tensors[0].dtype
    # 1-D empty tensors are skipped (see Cat.forward)
    kept = [t for t in tensors if t.shape != (0,)]
    if not kept:
        kept, dim = tensors, 0
    ref = kept[0]
    dim = normalize_dim(dim, ref.ndim)
    for i, t in enumerate(kept):
        if t.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and "
                               f"{t.ndim}")
        for d in range(ref.ndim):
            if d != dim and t.shape[d] != ref.shape[d]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {dim}. "
                                   f"Expected size {ref.shape[d]} but got size {t.shape[d]} for "
                                   f"tensor number {i} in the list.")
    return Cat.apply(dim, *[t if t.dtype is dtype else t.to(dtype) for t in tensors])


class Stack(Function):
    """out = the inputs stacked along a new dim;  each input's grad is its slice of g"""

    node_name = "StackBackward0"

    @staticmethod
    def forward(ctx, dim, *tensors):
        ctx.dim = dim
        be = tensors[0]._backend
        shape = tensors[0].shape[:dim] + (1,) + tensors[0].shape[dim:]
        parts = [be.view(be.contiguous(t._data), shape) for t in tensors]
        return Tensor._make(be.cat(parts, dim), tensors[0].device)

    @staticmethod
    def backward(ctx, g):
        return (None,) + tuple(s.squeeze(ctx.dim) for s in g.split(1, ctx.dim))


@public()
def stack(tensors, dim=0):
    """Stack same-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    dim = normalize_dim(dim, tensors[0].ndim + 1)  # the dim is checked first, as in PyTorch
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(tensors[0].shape)} at entry 0 and {list(t.shape)} at "
                               f"entry {i}")
    check_same_device(*tensors)
    if len({t.dtype for t in tensors}) > 1:
        dtype = _dtype.result_type(*tensors)
        tensors = [t.to(dtype) for t in tensors]
    return Stack.apply(dim, *tensors)


class Split(Function):
    """outs = views of x's consecutive pieces along dim;  dx = the piece grads joined"""

    node_name = "SplitBackward0"

    @staticmethod
    def forward(ctx, x, sizes, dim):
        ctx.dim = dim
        outs, start = [], 0
        for s in sizes:
            idx = (slice(None),) * dim + (slice(start, start + s),)
            outs.append(Tensor._make(x._backend.getitem(x._data, idx), x.device, base=x))
            start += s
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        return cat(grads, ctx.dim), None, None


class SplitWithSizes(Split):
    """outs = views of x's pieces of the given sizes along dim"""

    node_name = "SplitWithSizesBackward0"


@public()
def split(x, split_size_or_sections, dim=0):
    """Split ``x`` into pieces of ``split_size`` (the last may be smaller) or of given sizes."""
    if x.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    if isinstance(split_size_or_sections, int) and split_size_or_sections < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got "
                           f"split_size={split_size_or_sections}")
    dim = normalize_dim(dim, x.ndim)
    n = x.shape[dim]
    node = Split
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step == 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        sizes = [min(step, n - i) for i in range(0, n, step)] if n else [0]
    else:
        node = SplitWithSizes
        sizes = list(split_size_or_sections)
        if min(sizes, default=0) < 0:
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative "
                               f"entries, but got split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {dim}), but got "
                               f"split_sizes={sizes}")
    return node.apply(x, tuple(sizes), dim)


@tensor_method("split")
def split_method(self, split_size, dim=0):
    """``Tensor.split``: :func:`split`, whose first argument PyTorch's method names
    ``split_size`` (an int or a list of sizes)."""
    return split(self, split_size, dim)


@public(method=True)
def chunk(x, chunks, dim=0):
    """Split ``x`` into ``chunks`` pieces of ceil(size / chunks) (fewer when it divides)."""
    if x.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    n = x.shape[normalize_dim(dim, x.ndim)]
    if n == 0:  # an empty dim gives `chunks` empty pieces, as in PyTorch
        return split(x, [0] * chunks, dim)
    return split(x, -(-n // chunks), dim)


def _check_gather(x, dim, index, src=None):
    """PyTorch's checks of ``gather`` (``src`` None) and ``scatter_add``, in its order.

    A 0-d tensor counts as a 1-d tensor of one element. ``index`` may be smaller than ``x``
    (and than ``src``) but not larger, except along ``dim`` for ``gather``; its values must be
    valid positions along ``dim``. An empty ``index`` selects nothing and is not checked.
    """
    name = "gather" if src is None else "scatter"
    if src is not None and src.dtype is not x.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if index.numel() == 0:
        return
    if index.dtype not in (_dtype.int64, _dtype.int32):
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if max(index.ndim, 1) != max(x.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as "
                           f"{'input' if src is None else 'self'} tensor")
    for d in range(index.ndim):
        too_big = d != dim and index.shape[d] > _size(x, d)
        if src is None and too_big:
            raise RuntimeError(f"Size does not match at dimension {d} expected index "
                               f"{list(index.shape)} to be no larger than self {list(x.shape)} "
                               f"apart from dimension {dim}")
        if src is not None and (too_big or index.shape[d] > _size(src, d)):
            raise RuntimeError(f"Expected index {list(index.shape)} to be no larger than self "
                               f"{list(x.shape)} apart from dimension {dim} and to be no larger "
                               f"size than src {list(src.shape)}")
    idx = index._backend.to_numpy(index._data)
    if idx.size and (idx.min() < 0 or idx.max() >= _size(x, dim)):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise RuntimeError(f"index {bad} is out of bounds for dimension {dim} with size "
                           f"{_size(x, dim)}")


def _size(t, d):
    """``t.shape[d]``, where a 0-d tensor has one element along dim 0 (PyTorch's rule)."""
    return t.shape[normalize_dim(d, t.ndim)] if t.ndim else 1


def _as_1d(t):
    """``t``, or a 0-d ``t`` as a 1-element 1-d tensor (the kernels index real dims)."""
    return t if t.ndim else t.reshape(1)


class Gather(Function):
    """out[i][j] = x[index[i][j]][j] (dim 0);  dx = zeros.scatter_add(dim, index, g)"""

    node_name = "GatherBackward0"
    non_differentiable = (2,)

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.meta = (x.shape, dim, index)
        return Tensor._make(x._backend.gather(x._data, dim, index._data), x.device)

    @staticmethod
    def backward(ctx, g):
        shape, dim, index = ctx.meta
        zeros = g.new_zeros(shape)
        return zeros.scatter_add(dim, index, g), None, None


@public(method=True)
def gather(x, dim, index):
    """Pick values of ``x`` along ``dim`` at ``index`` (same rank as ``x``)."""
    dim = normalize_dim(dim, x.ndim)
    _check_gather(x, dim, index)
    if index.numel() == 0:  # nothing to pick: an empty tensor of index's shape
        return x.reshape(-1)[:0].reshape(index.shape)
    index = index.to(_dtype.int64)
    if x.ndim and index.ndim:
        return Gather.apply(x, dim, index)
    return Gather.apply(_as_1d(x), dim, _as_1d(index)).reshape(index.shape)


class ScatterAdd(Function):
    """out = x with src added at index along dim;  dx = g,  dsrc = g.gather(dim, index)"""

    node_name = "ScatterAddBackward0"
    non_differentiable = (2,)

    @staticmethod
    def forward(ctx, x, dim, index, src):
        ctx.meta = (dim, index)
        be = x._backend
        out = be.astype(x._data, x.dtype.np)
        be.scatter_add(out, dim, index._data, src._data)
        return Tensor._make(out, x.device)

    @staticmethod
    def backward(ctx, g):
        dim, index = ctx.meta
        return g, None, None, g.gather(dim, index)


@public(method=True)
def scatter_add(x, dim, index, src):
    """A copy of ``x`` with ``src`` summed into the positions ``index`` along ``dim``."""
    dim = normalize_dim(dim, x.ndim)
    _check_gather(x, dim, index, src)
    if index.numel() == 0 and (index.ndim != x.ndim or index.shape != src.shape):
        return x.clone()  # nothing to add (and shapes PyTorch does not check then)
    index, src = _as_1d(index.to(_dtype.int64)), _as_1d(src)
    if src.shape != index.shape:  # only the part of src that index covers is added
        src = src[tuple(slice(0, n) for n in index.shape)]
    if x.ndim:
        return ScatterAdd.apply(x, dim, index, src)
    return ScatterAdd.apply(_as_1d(x), dim, index, src).reshape(x.shape)


alias("concat", cat)
alias("concatenate", cat)
