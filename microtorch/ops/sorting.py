"""Sorting: ``sort``, ``argsort`` and ``topk`` along one dim.

All three rest on one kernel, ``argsort(x, axis, descending, stable)``: the int64 indices that
order each slice along ``axis``, NaN counted as the largest value (last in ascending order,
first in descending order, as PyTorch) and ties kept in index order. The values are then
gathered at those indices, so ``values == x.gather(dim, indices)`` always holds.

The gradient of a sort is a permutation of the upstream gradient: each value came from one
input element, so the gradient goes back there (``dx = zeros.scatter_add(dim, indices, g)``).
``topk`` keeps the first ``k`` of the order and scatters the same way; the other elements get
zero gradient.
"""

from .. import _dtype, return_types
from .._tensor import Tensor
from ..autograd.function import Function
from ..backends import contract
from ._register import public
from ._util import normalize_dim
from .indexing import ScatterAdd

contract.declare("argsort", "argsort(x, axis, descending, stable) -> int64 indices, x's shape")


def _t(data, like):
    return Tensor._make(data, like.device)


class Sort(Function):
    """(values, indices) = x ordered along dim;  dx = zeros.scatter_add(dim, indices, g)"""

    node_name = "SortBackward0"

    @staticmethod
    def forward(ctx, x, dim, descending, stable):
        be = x._backend
        data = _rank1(x)
        idx = be.argsort(data, dim, descending, stable)
        values = _t(be.view(be.gather(data, dim, idx), x.shape), x)
        indices = _t(be.view(idx, x.shape), x)
        ctx.meta = (x.shape, dim)
        ctx.save_for_backward(indices)
        ctx.mark_non_differentiable(indices)
        return values, indices

    @staticmethod
    def backward(ctx, g, _):
        shape, dim = ctx.meta
        (indices,) = ctx.saved_tensors
        if not shape:  # a 0-d input is its own (only) value
            return g, None, None, None
        return ScatterAdd.apply(g.new_zeros(shape), dim, indices, g), None, None, None


class Topk(Function):
    """(values, indices) = the k largest (or smallest) of x along dim, in order;
    dx = zeros.scatter_add(dim, indices, g): the k picked elements get g, the others 0"""

    node_name = "TopkBackward0"

    @staticmethod
    def forward(ctx, x, dim, k, largest):
        be = x._backend
        data = _rank1(x)
        order = be.argsort(data, dim, largest, True)
        first_k = tuple(slice(0, k) if d == dim else slice(None) for d in range(data.ndim))
        idx = be.contiguous(be.getitem(order, first_k))
        values = _t(be.gather(data, dim, idx), x)
        indices = _t(idx, x)
        if x.ndim == 0:
            values, indices = _t(be.view(values._data, ()), x), _t(be.view(idx, ()), x)
        ctx.meta = (x.shape, dim)
        ctx.save_for_backward(indices)
        ctx.mark_non_differentiable(indices)
        return values, indices

    @staticmethod
    def backward(ctx, g, _):
        shape, dim = ctx.meta
        (indices,) = ctx.saved_tensors
        if not shape:  # a 0-d input is its own (only) value
            return g, None, None, None
        return ScatterAdd.apply(g.new_zeros(shape), dim, indices, g), None, None, None


def _rank1(x):
    """``x``'s array, viewed with one element along dim 0 when ``x`` is 0-d (as PyTorch sorts
    a 0-d tensor)."""
    return x._backend.view(x._data, (1,)) if x.ndim == 0 else x._data


def _apply(node, input, dim, *args):
    """``node`` along ``dim``; an empty input gives empty values and indices."""
    if input.numel() == 0:
        shape = list(input.shape)
        if node is Topk:
            shape[dim] = args[0]
        values = input.new_empty(shape)
        if input.requires_grad:
            values = values + input.sum()  # empty, and on the graph as PyTorch's is
        return values, input.new_empty(shape, dtype=_dtype.int64)
    return node.apply(input, dim, *args)


@public(method=True)
def sort(input, dim=-1, descending=False, *, stable=False):
    """The elements of ``input`` ordered along ``dim`` and the indices they came from, as
    ``torch.return_types.sort(values, indices)``.

    NaN is larger than every number. With ``stable=True`` equal elements keep their order
    (microtorch's sort is always stable; PyTorch's ``stable=False`` may order ties otherwise).
    Gradient: each value's gradient goes back to the element it came from."""
    d = normalize_dim(dim, input.ndim)
    return return_types.sort(*_apply(Sort, input, d, bool(descending), bool(stable)))


@public(method=True)
def argsort(input, dim=-1, descending=False, *, stable=False):
    """The int64 indices that sort ``input`` along ``dim`` (``sort(...).indices``)."""
    return sort(input, dim, descending=descending, stable=stable).indices


@public(method=True)
def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest elements of ``input`` along ``dim`` (the smallest with
    ``largest=False``) and their indices, as ``torch.return_types.topk(values, indices)``.

    They always come in order (largest first, or smallest first); ``sorted=False`` allows any
    order in PyTorch, so the sorted one is a valid answer. NaN is larger than every number.
    ``k`` must be in ``[0, input.size(dim)]`` (RuntimeError otherwise, as PyTorch).
    Gradient: the k picked elements get the gradient of their value, the others zero."""
    d = normalize_dim(dim, input.ndim)
    size = input.shape[d] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    if input.ndim == 0:  # PyTorch returns the one element for k = 0 too
        k = 1
    return return_types.topk(*_apply(Topk, input, d, int(k), bool(largest)))
