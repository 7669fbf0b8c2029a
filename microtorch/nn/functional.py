"""``microtorch.nn.functional``: stateless layers, activations and losses (as
``torch.nn.functional``). Shapes, dtypes and arguments are validated here, before any kernel."""

import math

from .. import _dtype
from .._tensor import Tensor
from ..ops import nn as _ops
from ..ops._util import check_same_device, normalize_dim


def _pair(v, name="value"):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"expected {name} to be a single integer value or a list of 2 values")
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``: the input's last dim must equal ``weight``'s second."""
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        cols = input.shape[-1] if input.ndim else 1
        rows = input.numel() // max(cols, 1)
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and "
                           f"{weight.shape[1]}x{weight.shape[0]})")
    check_same_device(input, weight, *([bias] if bias is not None else []))
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{_c(input.dtype)} and {_c(weight.dtype)}")
    if input.ndim == 2 and bias is not None:
        return _ops.Addmm.apply(bias, input, weight.t())
    if bias is not None:  # as PyTorch: addmm on the flattened batch, viewed back (ViewBackward0)
        rows = math.prod(input.shape[:-1])  # counted: reshape(-1, 0) is ambiguous
        out = _ops.Addmm.apply(bias, input.reshape(rows, input.shape[-1]), weight.t())
        return out.view(input.shape[:-1] + (weight.shape[0],))
    out = input.matmul(weight.t())
    return out + bias if bias is not None else out


def _c(d):
    return {"float32": "Float", "float64": "Double"}.get(d.name, d.name)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of an (N, C, H, W) or (C, H, W) input."""
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    if input.ndim != 4:
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got "
                           f"input of size: {list(input.shape)}")
    stride, dilation = _pair(stride), _pair(dilation)
    kh, kw = weight.shape[2], weight.shape[3]
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError("padding='same' is not supported for strided convolutions")
            tot = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
            if tot[0] % 2 or tot[1] % 2:
                input = pad(input, (tot[1] // 2, tot[1] - tot[1] // 2,
                                    tot[0] // 2, tot[0] - tot[0] // 2))
                padding = (0, 0)
            else:
                padding = (tot[0] // 2, tot[1] // 2)
        else:
            raise ValueError(f"Invalid padding string '{padding}', should be one of "
                             "{'valid', 'same'}")
    padding = _pair(padding)
    c = input.shape[1]
    if weight.ndim != 4 or c != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                           f"expected input{list(input.shape)} to have "
                           f"{weight.shape[1] * groups} channels, but got {c} channels instead")
    if weight.shape[0] % groups:
        raise RuntimeError("Given groups={groups}, expected weight to be divisible by {groups} "
                           "at dimension 0")
    check_same_device(input, weight, *([bias] if bias is not None else []))
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"Input type ({_tname(input)}) and weight type ({_tname(weight)}) "
                           "should be the same")
    for i, (size, p, d, k) in enumerate(zip(input.shape[2:], padding, dilation, (kh, kw))):
        if size + 2 * p < d * (k - 1) + 1:
            raise RuntimeError(f"Calculated padded input size per channel: "
                               f"({input.shape[2] + 2 * padding[0]} x "
                               f"{input.shape[3] + 2 * padding[1]}). Kernel size: ({kh} x {kw}). "
                               "Kernel size can't be greater than actual input size")
    out = _ops.Conv2d.apply(input, weight, bias, stride, padding, dilation, groups)
    return out.squeeze(0) if unbatched else out


def _tname(t):
    from ..autograd.function import _tensor_type_name

    return "torch." + _tensor_type_name(t)


def pad(input, pad, mode="constant", value=0.0):
    """Pad the last dims: ``pad = (left, right, top, bottom, ...)`` with a constant."""
    if mode != "constant":
        raise NotImplementedError(f"pad mode '{mode}' is not implemented in microtorch")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise RuntimeError("Padding length must be divisible by 2 and at most twice the number "
                           "of dimensions of the input")
    shape = list(input.shape)
    index = [slice(None)] * input.ndim
    for i in range(len(pad) // 2):
        d = input.ndim - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        shape[d] += lo + hi
        index[d] = slice(lo, lo + input.shape[d])
    from .. import _creation

    out = _creation.full(shape, value, dtype=input.dtype, device=input.device)
    out[tuple(index)] = input
    return out


def _pool_args(kernel_size, stride, padding):
    kernel = _pair(kernel_size)
    stride = kernel if stride is None or stride == [] else _pair(stride)
    padding = _pair(padding)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                           f"pad={padding[0]}, kernel_size={kernel[0]} and dilation=1")
    return kernel, stride, padding


def _check_3d_4d(input, name):
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{name}: Expected 3D or 4D (batch mode) tensor for input, but got: "
                           f"{list(input.shape)}")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of ``kernel_size`` (padding counts as -inf). With ``return_indices``,
    also each maximum's flat index ``ih * W + iw`` within its (H, W) plane (int64), as torch."""
    _check_3d_4d(input, "max_pool2d")
    kernel, stride, padding = _pool_args(kernel_size, stride, padding)
    return _ops.MaxPool2d.apply(input, kernel, stride, padding, _pair(dilation), ceil_mode,
                                bool(return_indices))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over windows of ``kernel_size``: each window's sum divided by its size (see
    ``count_include_pad``), or by ``divisor_override`` when given."""
    _check_3d_4d(input, "avg_pool2d")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    kernel, stride, padding = _pool_args(kernel_size, stride, padding)
    return _ops.AvgPool2d.apply(input, kernel, stride, padding, ceil_mode, count_include_pad,
                                divisor_override)


def adaptive_avg_pool2d(input, output_size):
    """Mean over an ``output_size`` grid of bins covering the input (1x1 is a global mean)."""
    _check_3d_4d(input, "adaptive_avg_pool2d")
    oh, ow = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    oh = input.shape[-2] if oh is None else oh
    ow = input.shape[-1] if ow is None else ow
    if (oh, ow) == (1, 1):
        return input.mean((-2, -1), keepdim=True)
    return _ops.AdaptiveAvgPool2d.apply(input, (oh, ow))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) by batch statistics (training) or running statistics."""
    if input.ndim < 2:
        raise ValueError(f"expected 2D or more input (got {input.ndim}D input)")
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t.shape != (c,):
            raise RuntimeError(f"running_mean should contain {c} elements not {t.numel()}"
                               if name.startswith("running") else
                               f"{name} should contain {c} elements not {t.numel()}")
    per_channel = input.shape[0] * math.prod(input.shape[2:])
    if training and per_channel == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{input.shape}")
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    return _ops.BatchNorm.apply(input, weight, bias, running_mean, running_var, training,
                                momentum, eps)


def relu(input, inplace=False):
    """max(input, 0)."""
    return input.relu_() if inplace else input.relu()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``input`` where positive, ``negative_slope * input`` elsewhere."""
    if inplace:
        return input._inplace(_ops.LeakyReluInplace, negative_slope)
    return _ops.LeakyRelu.apply(input, negative_slope)


def gelu(input, approximate="none"):
    """Gaussian error linear unit: ``x * Phi(x)`` (``approximate='tanh'`` for the tanh form)."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _ops.Gelu.apply(input, approximate)


def sigmoid(input):
    """Logistic sigmoid."""
    return input.sigmoid()


def tanh(input):
    """Hyperbolic tangent."""
    return input.tanh()


def silu(input, inplace=False):
    """``x * sigmoid(x)``."""
    if inplace:  # compute on a copy: the product saves its operands for backward
        return input.copy_(silu(input.clone()))
    return input * input.sigmoid()


def softmax(input, dim=None, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim``, computed stably. Integer and bool inputs need
    ``dtype=`` (a floating point dtype the input is cast to first), as in PyTorch."""
    if dtype is not None:
        input = input.to(dtype)
    dim = normalize_dim(_implicit_dim(dim, input), input.ndim)
    if not input.dtype.is_floating_point:
        return _refuse_integer("softmax", input, dim)
    return _ops.Softmax.apply(input, dim)


def log_softmax(input, dim=None, dtype=None):
    """``x - logsumexp(x)`` along ``dim``, computed stably. Integer and bool inputs need
    ``dtype=`` (a floating point dtype the input is cast to first), as in PyTorch."""
    if dtype is not None:
        input = input.to(dtype)
    dim = normalize_dim(_implicit_dim(dim, input), input.ndim)
    if not input.dtype.is_floating_point:
        return _refuse_integer("log_softmax", input, dim)
    return _ops.LogSoftmax.apply(input, dim)


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
    word = {"int64": "Long", "int32": "Int", "bool": "Bool", "uint8": "Byte"}[input.dtype.name]
    raise NotImplementedError(f'"{kernel}" not implemented for \'{word}\'')


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if inplace:  # multiply a copy: the product saves its operands for backward
        return input.copy_(input.clone() * _ops.dropout_mask(input, p))
    return input * _ops.dropout_mask(input, p)


def _check_loss_shapes(input, target):
    if input.shape != target.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean squared error."""
    if input.shape != target.shape:
        from ..ops._util import broadcast_shapes

        broadcast_shapes(input.shape, target.shape)
    return _ops.MseLoss.apply(input, target, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean absolute error."""
    return _ops._reduce_loss((input - target).abs(), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Huber-like loss: quadratic below ``beta``, linear above."""
    from ..ops.elementwise import where

    d = (input - target).abs()
    loss = where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta) if beta > 0 else d
    return _ops._reduce_loss(loss, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of ``target`` class indices under log-probabilities ``input``
    (N, C) or (N, C, d1, ...)."""
    if input.ndim > 2:  # (N, C, d1, ...) -> (N*d1*..., C)
        c = input.shape[1]
        x = input.permute(0, *range(2, input.ndim), 1).reshape(-1, c)  # class dim last
        loss = nll_loss(x, target.reshape(-1), weight, ignore_index=ignore_index,
                        reduction=reduction)
        if reduction == "none":
            return loss.reshape(target.shape)
        return loss
    if input.ndim == 1:
        input, target = input.unsqueeze(0), target.reshape(1)
        return nll_loss(input, target, weight, ignore_index=ignore_index,
                        reduction=reduction).squeeze(0) if reduction == "none" else \
            nll_loss(input, target, weight, ignore_index=ignore_index, reduction=reduction)
    if target.dtype.category != 1:
        raise RuntimeError(f"expected scalar type Long but found {_c(target.dtype)}")
    if target.shape[0] != input.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    check_same_device(input, target)
    if target.device.type == "cpu":  # on a GPU this would cost a host round trip: see NllLoss
        t = target._data
        bad = (t != ignore_index) & ((t < 0) | (t >= input.shape[1]))
        if bad.any():
            raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return _ops.NllLoss.apply(input, target.long(), weight, reduction, ignore_index)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits ``input`` (N, C, ...) against class indices or class
    probabilities ``target``; ``label_smoothing`` mixes in the uniform distribution."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 1 if input.ndim > 1 else 0
    logp = log_softmax(input, class_dim)
    c = input.shape[class_dim]
    if target.dtype.is_floating_point:  # class probabilities
        if target.shape != input.shape:
            raise RuntimeError(f"Expected target size {list(input.shape)}, got "
                               f"{list(target.shape)}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / c
        w = weight.reshape((c,) + (1,) * (input.ndim - 2)) if weight is not None and \
            input.ndim > 1 else weight
        loss = -(logp * target * w if w is not None else logp * target).sum(class_dim)
        if reduction == "mean":
            return loss.sum() / (input.numel() // c) if input.ndim > 1 else loss
        return _ops._reduce_loss(loss, reduction)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return nll
    w = weight.reshape((c,) + (1,) * (input.ndim - 2)) if weight is not None else None
    smooth = -(logp * w if w is not None else logp).sum(class_dim)
    ignore = target == ignore_index
    smooth = smooth * (~ignore).to(smooth.dtype)
    if reduction == "mean":
        if weight is not None:
            kept = target[~ignore]
            ret = smooth.sum() / weight[kept].sum()
        else:
            ret = smooth.sum() / (~ignore).sum()
    else:
        ret = _ops._reduce_loss(smooth, reduction)
    return nll * (1 - label_smoothing) + ret * (label_smoothing / c)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """Binary cross-entropy of probabilities ``input`` against ``target``."""
    _check_loss_shapes(input, target)
    data = input.detach()
    if data.device.type == "cpu" and bool(((data < 0) | (data > 1)).any()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    return _ops.BinaryCrossEntropy.apply(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Binary cross-entropy of ``sigmoid(input)``, computed stably from logits."""
    if input.shape != target.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    return _ops.BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim``."""
    return input.flatten(start_dim, end_dim)


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding of class indices (``num_classes`` inferred when -1)."""
    from .. import _creation

    if tensor.dtype is not _dtype.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1 if tensor.numel() else 0
    out = _creation.zeros(tensor.shape + (num_classes,), dtype=_dtype.int64,
                          device=tensor.device)
    if tensor.numel():
        if int(tensor.min().item()) < 0 or int(tensor.max().item()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
        ones = _creation.ones(tensor.shape + (1,), dtype=_dtype.int64, device=tensor.device)
        out = out.scatter_add(-1, tensor.unsqueeze(-1), ones)
    return out


__all__ = [name for name in dir() if not name.startswith("_") and name not in (
    "Tensor", "normalize_dim")]
