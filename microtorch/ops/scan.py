"""Scans along one dim: ``cumsum`` (running sums) and ``cumprod`` (running products).

Each is a contract entry point (kernels in ``backends/cpu/scan.py`` and
``backends/cuda/scan.py``) with a ``reverse`` flag, which scans from the end of the dim: the
backward of ``cumsum`` is the reversed ``cumsum`` of the gradient, and ``cumprod``'s backward is
built from both. Bool and integer inputs are scanned in int64, as in PyTorch.
"""

from .. import _dtype
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..backends.contract import declare
from ._register import public
from ._util import normalize_dim
from .elementwise import where

declare("cumsum", "cumsum(x, axis, reverse=False) -> running sums along axis (from its end "
        "when reverse); float32, float64 or int64")
declare("cumprod", "cumprod(x, axis, reverse=False) -> running products along axis (from its "
        "end when reverse); float32, float64 or int64")


def _scan(name, x, dim, reverse=False):
    """The scan kernel ``name`` on ``x`` along ``dim`` (a 0-d tensor is its own scan)."""
    if x.ndim == 0:
        return x.clone()
    be = x._backend
    return Tensor._make(getattr(be, name)(x._data, dim, reverse), x._device)


class Cumsum(Function):
    """y[i] = sum_{j <= i} x[j] along dim;  dx[j] = sum_{i >= j} g[i]  (the reversed cumsum of
    g; with ``reverse`` the two directions swap)"""

    node_name = "CumsumBackward0"

    @staticmethod
    def forward(ctx, x, dim, reverse=False):
        ctx.dim, ctx.reverse = dim, reverse
        return _scan("cumsum", x, dim, reverse)

    @staticmethod
    def backward(ctx, g):
        return Cumsum.apply(g, ctx.dim, not ctx.reverse), None, None


class Cumprod(Function):
    """y[i] = prod_{j <= i} x[j] along dim;
    dx[k] = sum_{i >= k} g[i] * prod_{j <= i, j != k} x[j].

    Without zeros that is ``revcumsum(g * y) / x``. With zeros (as PyTorch computes it), let
    ``z`` be the first zero of a line: before ``z`` the same formula holds (every ``y[i]`` with
    ``i >= z`` is 0, so those terms vanish); at ``z``, ``dx[z] = revcumsum(g * y')[z]`` where
    ``y'`` is the cumprod of the line with ``x[z]`` replaced by 1; after ``z`` every product
    holds ``x[z] = 0``, so ``dx = 0``."""

    node_name = "CumprodBackward0"

    @staticmethod
    def forward(ctx, x, dim):
        y = _scan("cumprod", x, dim)
        ctx.save_for_backward(x, y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        dim = ctx.dim
        if x.ndim == 0:
            return g, None
        zero = x == 0
        zeros_so_far = Cumsum.apply(zero.to(_dtype.int64), dim)
        before = zeros_so_far == 0
        first_zero = zero & (zeros_so_far == 1)
        one = Tensor._make(x._backend.full((), 1, x.dtype.np), x._device)
        nil = Tensor._make(x._backend.full((), 0, x.dtype.np), x._device)
        gx = Cumsum.apply(g * y, dim, True) / where(before, x, one)
        y_skip = Cumprod.apply(where(first_zero, one, x), dim)
        at_zero = Cumsum.apply(g * y_skip, dim, True)
        return where(before, gx, where(first_zero, at_zero, nil)), None


def _scan_input(name, input, dim, dtype):
    """``(input, dim)`` checked and cast as PyTorch does: ``dtype=`` first, else integers and
    bool to int64."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{name}(): argument 'dim' (position 2) must be int, not "
                        f"{type(dim).__name__}")
    dim = normalize_dim(dim, input.ndim)
    if dtype is not None:
        if not dtype.is_floating_point and input.requires_grad and is_grad_enabled():
            raise RuntimeError(f"Autograd not support dtype: {dtype.scalar_name}")
        if dtype is _dtype.bool_ and input.numel():
            raise NotImplementedError(f'"{name}_out_cpu" not implemented for \'Bool\'')
        input = input.to(dtype)
    if not input.dtype.is_floating_point and input.dtype is not _dtype.int64:
        input = input.to(_dtype.int64)
    return input, dim


def _in_dtype(out, dtype):
    """The result in the ``dtype=`` argument (integers are scanned in int64, and the cast
    back wraps as arithmetic in the narrower type would)."""
    return out if dtype is None or out.dtype is dtype else out.to(dtype)


@public(method=True)
def cumsum(input, dim, *, dtype=None):
    """Running sums along ``dim``: ``out[i]`` is the sum of ``input[0]`` to ``input[i]``.

    Integer and bool inputs give int64 (unless ``dtype`` is given: the input is cast to it
    first)."""
    input, dim = _scan_input("cumsum", input, dim, dtype)
    return _in_dtype(Cumsum.apply(input, dim), dtype)


@public(method=True)
def cumprod(input, dim, *, dtype=None):
    """Running products along ``dim``: ``out[i]`` is the product of ``input[0]`` to
    ``input[i]``.

    The gradient is exact where the input has zeros. Integer and bool inputs give int64."""
    input, dim = _scan_input("cumprod", input, dim, dtype)
    return _in_dtype(Cumprod.apply(input, dim), dtype)

