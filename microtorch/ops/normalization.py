"""Normalisation over the trailing dims: ``layer_norm`` (fused kernels) and ``rms_norm``
(composed of Tensor ops, as PyTorch composes it).

``microtorch.layer_norm`` / ``nn.functional.layer_norm`` and ``microtorch.rms_norm`` /
``nn.functional.rms_norm`` are the function forms here; the layers ``nn.LayerNorm`` and
``nn.RMSNorm`` call them.
"""

import math

import numpy as np

from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..backends import contract
from ._register import public
from ._util import check_same_device

contract.declare("layer_norm", "layer_norm(x, weight, bias, eps) -> (y, mean, rstd)")
contract.declare("layer_norm_backward",
                 "layer_norm_backward(gy, x, weight, mean, rstd) -> (gx, gweight, gbias)")


def _t(data, like):
    return Tensor._make(data, like.device)


class LayerNorm(Function):
    """y = xhat * w + b with xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps), the mean and
    (biased) variance taken over the normalised trailing dims of each row;
    dx = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)) with gxhat = g * w,
    dw = sum of g * xhat over the rows, db = sum of g over the rows"""

    node_name = "NativeLayerNormBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, normalized_shape, eps):
        be = x._backend
        d = math.prod(normalized_shape)
        r = x.numel() // d if d else math.prod(x.shape[:x.ndim - len(normalized_shape)])
        rows = be.view(be.contiguous(x._data), (r, d))
        y, mean, rstd = be.layer_norm(rows, _flat(weight, d), _flat(bias, d), eps)
        ctx.save_for_backward(x, weight)
        ctx.stats = (rows, mean, rstd)
        ctx.meta = (tuple(normalized_shape), eps, bias is not None)
        return _t(be.view(y, x.shape), x)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        shape, eps, has_bias = ctx.meta
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if is_grad_enabled():  # create_graph: the same formulas with Tensor ops
            gx, gw, gb = _layer_norm_backward_composite(g, x, weight, shape, eps)
        else:
            be = g._backend
            rows, mean, rstd = ctx.stats
            gxd, gwd, gbd = be.layer_norm_backward(
                be.view(be.contiguous(g._data), rows.shape), rows, _flat(weight, rows.shape[1]),
                mean, rstd)
            gx = _t(be.view(gxd, x.shape), g)
            gw = _t(be.view(gwd, shape), g)
            gb = _t(be.view(gbd, shape), g)
        return (gx if need_x else None, gw if need_w and weight is not None else None,
                gb if need_b and has_bias else None, None, None)


def _flat(t, d):
    """The data of weight or bias ``t`` as a contiguous (d,) array (None stays None)."""
    return None if t is None else t._backend.view(t._backend.contiguous(t._data), (d,))


def _layer_norm_backward_composite(g, x, weight, shape, eps):
    """LayerNorm's gradients written with Tensor ops (recorded when ``create_graph=True``):
    xhat is recomputed from x, so the result can be differentiated again."""
    dims = tuple(range(x.ndim - len(shape), x.ndim))
    mean = x.mean(dims, keepdim=True)
    centred = x - mean
    rstd = ((centred * centred).mean(dims, keepdim=True) + eps).rsqrt()
    xhat = centred * rstd
    gxhat = g * weight if weight is not None else g
    gx = rstd * (gxhat - gxhat.mean(dims, keepdim=True)
                 - xhat * (gxhat * xhat).mean(dims, keepdim=True))
    gw = (g * xhat).reshape((-1,) + shape).sum(0)
    gb = g.reshape((-1,) + shape).sum(0)
    return gx, gw, gb


def _normalized_shape(normalized_shape, fn):
    """``normalized_shape`` as a tuple of ints; PyTorch's TypeError for a bare int."""
    if isinstance(normalized_shape, (int, np.integer)) or not isinstance(
            normalized_shape, (tuple, list)) or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool)
            for s in normalized_shape):
        raise TypeError(f"{fn}(): argument 'normalized_shape' (position 2) must be tuple of "
                        f"ints, not {type(normalized_shape).__name__}")
    return tuple(int(s) for s in normalized_shape)


def _check_shapes(input, shape, params, star):
    """PyTorch's checks of ``normalized_shape`` against the input and the affine parameters
    (``params``: (name, tensor or None) pairs); ``star`` is what PyTorch writes after the ``*``
    of the expected shape (``", "`` for layer_norm, ``""`` for rms_norm)."""
    listed = list(shape)
    if not shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    for name, t in params:
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t.shape)} and normalized_shape = "
                               f"{listed}")
    if star == "" and input.ndim < len(shape):
        raise ValueError(f"Input tensor must have at least {len(shape)} dimensions, but got "
                         f"{input.ndim}")
    if input.ndim < len(shape) or tuple(input.shape[input.ndim - len(shape):]) != shape:
        expected = star + ", ".join(str(s) for s in shape)
        raise RuntimeError(f"Given normalized_shape={listed}, expected input with shape "
                           f"[*{expected}], but got input of size{list(input.shape)}")


@public(functional=True)
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise ``input`` over its trailing dims ``normalized_shape`` to mean 0 and variance 1
    (the biased variance, plus ``eps``), then scale by ``weight`` and shift by ``bias`` (each
    of shape ``normalized_shape``, or None), as ``torch.nn.functional.layer_norm``.

    Fused kernels compute the forward pass and the gradients; ``grad_fn`` is
    ``NativeLayerNormBackward0``."""
    shape = _normalized_shape(normalized_shape, "layer_norm")
    _check_shapes(input, shape, (("weight", weight), ("bias", bias)), ", ")
    check_same_device(input, *(t for t in (weight, bias) if t is not None))
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"LayerNormKernelImpl" not implemented for '
                                  f"'{input.dtype.scalar_name}'")
    if any(t is not None and t.dtype is not input.dtype for t in (weight, bias)):
        raise RuntimeError(f"mixed dtype (CPU): expect parameter to have scalar type of "
                           f"{input.dtype.scalar_name}")
    return LayerNorm.apply(input, weight, bias, shape, float(eps))


@public(functional=True)
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``input / sqrt(mean(input**2) + eps) * weight`` over the trailing dims
    ``normalized_shape``, as ``torch.nn.functional.rms_norm``; ``eps=None`` is the machine
    epsilon of the input's dtype (``torch.finfo(dtype).eps``).

    Composed of Tensor ops as PyTorch composes it, so its ``grad_fn`` is PyTorch's
    (``MulBackward0``) and it differentiates any number of times."""
    shape = _normalized_shape(normalized_shape, "rms_norm")
    _check_shapes(input, shape, (("weight", weight),), "")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"rms_norm\" not implemented for '{input.dtype.scalar_name}'")
    if eps is None:
        eps = float(np.finfo(input.dtype.np).eps)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    rstd = input.pow(2).mean(dims, keepdim=True).add(eps).rsqrt()
    out = input.mul(rstd)
    return out.mul(weight) if weight is not None else out
