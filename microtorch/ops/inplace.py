"""How an op writes in place, and the in-place ops of no other op: ``copy_``, ``fill_``, ``zero_``.

:func:`inplace` is the one path for a recorded in-place op: it runs the out-of-place
``Function``, writes the result back, bumps the version counter shared with every view, and
rebases the tensor onto the new graph node, as PyTorch records in-place ops. When no graph is
recorded, :func:`inplace_binary` (``add_``, ``sub_``, ``mul_``, ``div_``) calls the kernel
directly with ``out=``. An op's in-place method is bound in the op's own module with these
(``add_`` beside ``add`` in :mod:`microtorch.ops.elementwise`).
"""

from .. import _dtype
from .._creation import tensor
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ._register import tensor_method
from ._util import broadcast_shapes, check_same_device, sum_to_shape, wrap


def inplace(self, fn, *args, written=None):
    """Run ``fn`` out of place, write the result into this tensor's memory, and rebase
    this tensor onto the new graph node (as PyTorch records in-place ops). ``written``,
    a basic index (ints, slices, None), says that ``fn`` changes only ``self[written]``:
    then only that part must not repeat a memory cell (``x[0] = v`` on an expanded ``x``),
    and only that part is copied back."""
    be = self._backend
    tensors = [a for a in args if isinstance(a, Tensor)]
    recording = is_grad_enabled() and (self.requires_grad or any(a.requires_grad
                                                                   for a in tensors))
    written_data = None if written is None else be.getitem(self._data, written)
    check_no_internal_overlap(self, written_data)
    if recording and self.is_leaf and self.requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    if recording and self._base is not None and self._base.requires_grad:
        if self._base.is_leaf:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used "
                               "in an in-place operation.")
        raise RuntimeError("microtorch does not support in-place operations on a view of a "
                           "tensor that requires grad; use the out-of-place op or clone() "
                           "the view first")
    out = fn.apply(self, *args)
    _dtype.check_can_cast(out.dtype, self.dtype)
    if recording:
        _snapshot_saved(self, out.grad_fn)
    if out.shape != self.shape:
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                           f"shape {list(out.shape)}")
    if written is not None and _has_internal_overlap(self):
        part = tuple(written) + (Ellipsis,)  # (a view even when every dim is an int)
        be.copy_(be.getitem(self._data, part), be.getitem(out._data, part))
    else:
        be.copy_(self._data, out._data)
    self._version.value += 1
    if recording:
        self.grad_fn, self._output_nr = out.grad_fn, out._output_nr
        self._requires_grad = True
    return self


def check_broadcasts_to_self(self, *others):
    """PyTorch's error for an in-place op whose operands broadcast to a larger shape than
    this tensor's (the result would not fit), checked before anything is computed."""
    for other in others:
        shape = broadcast_shapes(self.shape, other.shape)
        if shape != self.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the "
                               f"broadcast shape {list(shape)}")


def _has_internal_overlap(self, data=None):
    """Whether ``data`` (default: this tensor's memory) has elements that share a memory
    cell: a 0 stride over a dim of size > 1 (an empty array has none)."""
    data = self._data if data is None else data
    return data.size > 0 and any(st == 0 and n > 1
                                 for n, st in zip(data.shape, data.strides))


def check_no_internal_overlap(self, data=None):
    """PyTorch's error for an in-place write into a tensor in which several elements are one
    memory cell: a 0 stride over a dim of size > 1, as ``expand()`` makes (or a checkpoint
    holding such a view). The result would depend on the order of the writes (``add_``
    would sum into one cell), so PyTorch refuses; ``fill_`` writes one value and is
    allowed. A tensor with no elements has nothing to overlap (NumPy gives empty arrays
    zero strides). ``data`` is the part of the memory that is written (default: all)."""
    if _has_internal_overlap(self, data):
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the "
                           "tensor before performing the operation.")


def _snapshot_saved(self, node):
    """If ``node`` saved this tensor for backward, save a copy instead: the in-place write
    that follows must not change the value its backward will read."""
    saved = getattr(node, "_saved", None)
    if not saved or all(entry[0] is not self for entry in saved):
        return
    snap = Tensor._make(self._backend.astype(self._data, self.dtype.np), self._device)
    snap.grad_fn, snap._output_nr = self.grad_fn, self._output_nr
    snap._requires_grad = self._requires_grad
    snap._version.value = self._version.value
    node._saved = tuple((snap,) + entry[1:] if entry[0] is self else entry
                        for entry in saved)


def inplace_binary(self, op, fn, other):
    """``self op= other``: a direct kernel with ``out=self`` when no graph is recorded."""
    check_no_internal_overlap(self)
    if isinstance(other, Tensor) and other.device != self.device:
        check_same_device(self, other)
    o = wrap(other, self)
    needs_graph = is_grad_enabled() and (self.requires_grad or o.requires_grad)
    if needs_graph:
        return inplace(self, fn, o)
    check_broadcasts_to_self(self, o)
    result = _dtype.result_type(self, o)
    if op == "div" and not result.is_floating_point:
        result = _dtype.float32
    _dtype.check_can_cast(result, self.dtype)
    be = self._backend
    od = o._data if o.dtype is self.dtype else be.astype(o._data, self.dtype.np)
    be.binary(op, self._data, od, out=self._data)
    self._version.value += 1
    return self


@tensor_method()
def zero_(self):
    """Fill with zeros in place."""
    return _fill(self, 0, Zero)


@tensor_method()
def fill_(self, value):
    """Fill with ``value`` in place."""
    if isinstance(value, Tensor):
        value = value.item()
    return _fill(self, value, Fill)


def _fill(self, value, fn):
    """``fill_``/``zero_``: on a tensor that requires grad, recorded as ``fn`` (whose gradient
    is zero: the old values no longer matter); otherwise written directly (an expanded
    tensor may be filled: every element gets the same value)."""
    if is_grad_enabled() and self.requires_grad:
        return inplace(self, fn, value)
    be = self._backend
    be.copy_(self._data, be.full((), value, self.dtype.np))
    self._version.value += 1
    return self


@tensor_method()
def copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast, cast) into this tensor in place."""
    check_no_internal_overlap(self)
    if not isinstance(src, Tensor):
        src = tensor(src)
    check_broadcasts_to_self(self, src)
    # only a floating point tensor can carry a gradient
    recording = is_grad_enabled() and self.dtype.is_floating_point and (
        self.requires_grad or src.requires_grad)
    if not recording:
        if src.device != self.device:
            src = src.to(self.device)
        self._backend.copy_(self._data, src._data)
        self._version.value += 1
        return self
    return inplace(self, CopyFrom, src)


class Fill(Function):
    """out = value everywhere;  dself = 0 (the old values no longer matter)"""

    node_name = "FillBackward2"

    @staticmethod
    def forward(ctx, dst, value):
        return Tensor._make(dst._backend.full(dst.shape, value, dst.dtype.np), dst.device)

    @staticmethod
    def backward(ctx, g):
        return g * 0, None


class Zero(Fill):
    """``zero_()``: the same node under PyTorch's name for it."""

    node_name = "ZeroBackward0"


class CopyFrom(Function):
    """out = src broadcast and cast to self's shape and dtype;  dsrc = g summed back"""

    node_name = "CopyBackwards"

    @staticmethod
    def forward(ctx, dst, src):
        ctx.meta = (src.shape, src.dtype, src.device)
        be = dst._backend
        data = be.empty(dst.shape, dst.dtype.np)
        be.copy_(data, src.to(dst.device)._data)
        return Tensor._make(data, dst.device)

    @staticmethod
    def backward(ctx, g):
        shape, dtype, device = ctx.meta
        gs = sum_to_shape(g, shape).to(dtype=dtype, device=device)
        return g * 0, gs
