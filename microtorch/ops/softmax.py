"""The entry points of softmax and log-softmax: ``microtorch.softmax``, ``Tensor.softmax`` and
``microtorch.nn.functional.softmax`` are the one function here (and the same for
``log_softmax``). The fused ``Function`` classes live in :mod:`microtorch.ops.nn`."""

from ._register import public
from ._util import normalize_dim
from .nn import LogSoftmax, Softmax


@public(method=True, functional=True)
def softmax(input, dim=None, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim``, computed stably. Integer and bool inputs need
    ``dtype=`` (a floating point dtype the input is cast to first), as in PyTorch."""
    return _softmax_like(Softmax, "softmax", input, dim, dtype)


@public(method=True, functional=True)
def log_softmax(input, dim=None, dtype=None):
    """``x - logsumexp(x)`` along ``dim``, computed stably. Integer and bool inputs need
    ``dtype=`` (a floating point dtype the input is cast to first), as in PyTorch."""
    return _softmax_like(LogSoftmax, "log_softmax", input, dim, dtype)


def _softmax_like(node, name, input, dim, dtype):
    """``node`` (Softmax or LogSoftmax) along ``dim``, after the cast to ``dtype`` and the
    checks both share."""
    if dtype is not None:
        input = input.to(dtype)
    dim = normalize_dim(_implicit_dim(dim, input), input.ndim)
    if not input.dtype.is_floating_point:
        return _refuse_integer(name, input, dim)
    if input.ndim == 0:  # a 0-d tensor is its own (one-element) row
        return node.apply(input.reshape(1), 0).reshape(())
    return node.apply(input, dim)


def _implicit_dim(dim, input):
    if dim is not None:
        return dim
    return 0 if input.ndim in (0, 1, 3) else 1


def _refuse_integer(name, input, dim):
    """PyTorch's error for (log-)softmax of a non-empty integer or bool tensor (its kernels
    exist for floating point only; an empty tensor is returned as an empty copy)."""
    if input.numel() == 0:
        return input.clone()
    kernel = f"{name}_lastdim_kernel_impl" if dim == max(input.ndim - 1, 0) else \
        f"{name}_kernel_impl"
    raise NotImplementedError(f'"{kernel}" not implemented for \'{input.dtype.scalar_name}\'')
