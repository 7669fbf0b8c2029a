r"""Gradient clipping (``torch.nn.utils.clip_grad``).

:func:`clip_grad_norm_` rescales every gradient by one factor so that their joint norm (the norm
of all gradients seen as one long vector) is at most ``max_norm``::

    total = || (||g_1||_p, ||g_2||_p, ...) ||_p
    g_i  *= min(max_norm / (total + 1e-6), 1)

:func:`clip_grad_value_` clamps each gradient element into ``[-clip_value, clip_value]``. Both
work in place on ``.grad`` without recording a graph.
"""

import math
import types
import warnings

from ... import _creation
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad
from ...ops.indexing import stack


def _vector_norm(x, norm_type):
    """The p-norm of ``x`` seen as a vector (``torch.linalg.vector_norm``): ``inf`` is the
    largest magnitude, ``-inf`` the smallest, ``0`` the number of non-zeros."""
    if norm_type == math.inf:
        return x.abs().max()
    if norm_type == -math.inf:
        return x.abs().min()
    if norm_type == 0:
        return (x != 0).to(x.dtype).sum()
    if norm_type == 2:
        return (x * x).sum().sqrt()
    if norm_type == 1:
        return x.abs().sum()
    return x.abs().pow(norm_type).sum().pow(1.0 / norm_type)


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


@no_grad()
def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of ``tensors`` taken together, as if concatenated into one vector
    (a 0-d tensor; ``tensor(0.)`` for none). ``norm_type`` may be ``inf``. With
    ``error_if_nonfinite=True`` a NaN or infinite total raises RuntimeError, as PyTorch.
    ``foreach`` is accepted for PyTorch's signature (there is one implementation)."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return _creation.tensor(0.0)
    device = tensors[0].device
    norms = [_vector_norm(t, norm_type).to(device) for t in tensors]
    total_norm = _vector_norm(stack(norms), norm_type)
    if error_if_nonfinite and not bool(_creation.isfinite(total_norm).item()):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from "
            "`parameters` is non-finite, so it cannot be clipped. To disable "
            "this error and scale the gradients by the non-finite norm anyway, "
            "set `error_if_nonfinite=False`")
    return total_norm


@no_grad()
def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every ``p.grad`` in place by ``min(max_norm / (total_norm + 1e-6), 1)``, for a
    ``total_norm`` computed beforehand (:func:`get_total_norm`)."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    clip_coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(clip_coef.to(g.device))


@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Clip the gradients of ``parameters`` (an iterable of tensors or one tensor) in place so
    that their joint ``norm_type``-norm is at most ``max_norm``; returns the total norm before
    clipping (a 0-d tensor). ``norm_type`` may be ``float('inf')``; with
    ``error_if_nonfinite=True`` a NaN or infinite total norm raises RuntimeError instead."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                          stacklevel=3)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of :func:`clip_grad_norm_` (FutureWarning, as PyTorch)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@no_grad()
def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every element of each ``p.grad`` in place into ``[-clip_value, clip_value]``;
    returns None."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad.clamp_(min=-clip_value, max=clip_value)
