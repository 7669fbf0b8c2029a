"""Matrix products: ``mm``, ``bmm``, ``matmul``/``@`` (1-D, 2-D and batched with broadcasting).

For out = a @ b the gradients are  da = g @ b^T  and  db = a^T @ g,  summed over any batch
dimensions that broadcasting added.
"""

import numpy as np

from .._tensor import Tensor
from ..autograd.function import Function
from ._register import public, tensor_method
from ._util import broadcast_shapes, check_same_device, sum_to_shape


def _check_dtypes(a, b):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{a.dtype.c_name} != {b.dtype.c_name}")
    check_same_device(a, b)


def _product(kernel, be, a, b):
    """The backend's ``matmul`` of arrays ``a`` and ``b``, both at least 2-D.

    The kernels take float32/float64/int64/int32. A uint8 product is computed in int64 and
    wrapped back to uint8 (the low byte of the exact sum is what uint8 arithmetic gives). PyTorch
    has no bool product (its error names its ``kernel``) unless the result is empty, when there
    is nothing to multiply.
    """
    if a.dtype == np.uint8 or a.dtype == np.bool_:
        out_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
        if a.dtype == np.bool_ and 0 not in out_shape:
            raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
        wide = be.matmul(be.astype(a, np.int64), be.astype(b, np.int64))
        return be.astype(wide, a.dtype)
    return be.matmul(a, b)


class Mm(Function):
    """out = a @ b for matrices;  da = g @ b.T,  db = a.T @ g"""

    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        return Tensor._make(_product("addmm_impl_cpu_", a._backend, a._data, b._data), a.device)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g @ b.transpose(-1, -2) if ctx.needs_input_grad[0] else None
        gb = a.transpose(-1, -2) @ g if ctx.needs_input_grad[1] else None
        return ga, gb


class Bmm(Function):
    """out = a @ b batched (batch dims broadcast);  grads as for mm, summed over broadcasting"""

    node_name = "BmmBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        ctx.shapes = (a.shape, b.shape)
        return Tensor._make(_product("bmm", a._backend, a._data, b._data), a.device)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        ga = sum_to_shape(g @ b.transpose(-1, -2), sa) if ctx.needs_input_grad[0] else None
        gb = sum_to_shape(a.transpose(-1, -2) @ g, sb) if ctx.needs_input_grad[1] else None
        return ga, gb


class Dot(Function):
    """out = sum(a * b) for vectors;  da = g * b,  db = g * a"""

    node_name = "DotBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        be = a._backend
        out = _product("dot", be, be.view(be.contiguous(a._data), (1, a.shape[0])),
                       be.view(be.contiguous(b._data), (b.shape[0], 1)))
        return Tensor._make(be.view(out, ()), a.device)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b, g * a


class Mv(Function):
    """out = M @ v;  dM = outer(g, v),  dv = M.T @ g"""

    node_name = "MvBackward0"

    @staticmethod
    def forward(ctx, m, v):
        ctx.save_for_backward(m, v)
        be = m._backend
        out = _product("addmv_impl_cpu", be, m._data,
                       be.view(be.contiguous(v._data), (v.shape[0], 1)))
        return Tensor._make(be.view(out, (m.shape[0],)), m.device)

    @staticmethod
    def backward(ctx, g):
        m, v = ctx.saved_tensors
        gm = g.unsqueeze(1) @ v.unsqueeze(0) if ctx.needs_input_grad[0] else None
        gv = m.t() @ g if ctx.needs_input_grad[1] else None
        return gm, gv


@public(method=True)
def mm(a, b):
    """Matrix product of 2-D tensors (M, K) @ (K, N)."""
    if a.ndim != 2 or b.ndim != 2:
        bad = a if a.ndim != 2 else b
        raise RuntimeError(f"{'self' if bad is a else 'mat2'} must be a matrix")
    _check_dtypes(a, b)
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} "
                           f"and {b.shape[0]}x{b.shape[1]})")
    return Mm.apply(a, b)


@public(method=True)
def bmm(a, b):
    """Batched matrix product of 3-D tensors (B, M, K) @ (B, K, N)."""
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if a.ndim != 3 else
                           "batch2 must be a 3D tensor")
    _check_dtypes(a, b)
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    return Bmm.apply(a, b)


@public(method=("matmul", "__matmul__"))
def matmul(a, b):
    """``a @ b`` with NumPy's rules: dot for vectors, mm for matrices, batched with broadcasting
    for higher ranks (a 1-D operand gets a dim of size 1 that is removed afterwards)."""
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    _check_dtypes(a, b)
    if a.ndim == 1 and b.ndim == 1:
        if a.shape[0] != b.shape[0]:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                               f"[{b.shape[0]}] to have the same number of elements, but got "
                               f"{a.shape[0]} and {b.shape[0]} elements respectively")
        return Dot.apply(a, b)
    if a.ndim == 2 and b.ndim == 1:
        if a.shape[1] != b.shape[0]:
            raise RuntimeError(f"size mismatch, got input ({a.shape[0]}x{a.shape[1]}), vec "
                               f"({b.shape[0]})")
        return Mv.apply(a, b)
    if a.ndim == 1:
        return matmul(a.unsqueeze(0), b).squeeze(-2)
    if b.ndim == 1:
        return matmul(a, b.unsqueeze(-1)).squeeze(-1)
    if a.ndim == 2 and b.ndim == 2:
        return mm(a, b)
    if a.shape[-1] != b.shape[-2]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{_batch(a)}, {a.shape[-1]}] but got: [{_batch(b)}, "
                           f"{b.shape[-2]}].")
    broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return Bmm.apply(a, b)


def _batch(t):
    n = 1
    for s in t.shape[:-2]:
        n *= s
    return n


@tensor_method("__rmatmul__")
def _rmatmul_operator(self, other):
    """``other @ self``."""
    return matmul(other, self)


@public(method=True)
def dot(input, other):
    """Dot product of two 1-D tensors."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return matmul(input, other)
