"""Neural-network ops: linear, convolution, pooling, batch norm, softmax and the losses.

Forward and backward call fused backend kernels. Softmax's backward falls back to Tensor ops
when the backward itself is being recorded (``create_graph=True``); convolution, pooling and
batch norm do not support double backward and say so.
"""

import math

from .. import _creation, _random
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..backends.geometry import AvgPool2dGeometry, Conv2dGeometry, MaxPool2dGeometry
from ._util import sum_to_shape, wrap
from .elementwise import not_implemented, where
from .indexing import Gather, ScatterAdd


def _t(data, like):
    return Tensor._make(data, like.device)


def _no_grads_for(geometry_type):
    """One None per field of a geometry named tuple: the gradients of the geometry arguments
    (ints and flags, not differentiable) that an op's ``backward`` returns after its tensors'."""
    return (None,) * len(geometry_type._fields)


def _no_double_backward(name):
    if is_grad_enabled():
        raise RuntimeError(f"microtorch does not implement double backward (create_graph=True) "
                           f"through {name}")


class Addmm(Function):
    """out = bias + x @ w (w is the transposed weight);  dx = g @ w.T,  dw = x.T @ g,
    dbias = g summed over the batch"""

    node_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, bias, x, w):
        ctx.save_for_backward(x if ctx.needs_input_grad[2] else None,
                              w if ctx.needs_input_grad[1] else None)
        be = x._backend
        out = be.matmul(x._data, w._data)
        be.binary("add", out, bias._data, out=out)
        return _t(out, x)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gb = g.sum(0) if ctx.needs_input_grad[0] else None
        gx = g.mm(w.t()) if ctx.needs_input_grad[1] else None
        gw = x.t().mm(g) if ctx.needs_input_grad[2] else None
        return gb, gx, gw


class Conv2d(Function):
    """y = conv2d(x, w) + b;  dx = conv2d_grad_input(g, w),  dw = conv2d_grad_weight(x, g),
    db = g summed over N, H, W"""

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        ctx.save_for_backward(x, w)
        ctx.geometry = Conv2dGeometry(stride=stride, padding=padding, dilation=dilation,
                                      groups=groups)
        be = x._backend
        y = be.conv2d(be.contiguous(x._data), be.contiguous(w._data), ctx.geometry)
        if b is not None:
            be.binary("add", y, be.view(b._data, (1, b.shape[0], 1, 1)), out=y)
        return _t(y, x)

    @staticmethod
    def backward(ctx, g):
        _no_double_backward("conv2d")
        x, w = ctx.saved_tensors
        be = x._backend
        gd = be.contiguous(g._data)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = gw = gb = None
        if need_x:
            gx = _t(be.conv2d_grad_input(gd, be.contiguous(w._data), x.shape, ctx.geometry), x)
        if need_w:
            gw = _t(be.conv2d_grad_weight(be.contiguous(x._data), gd, w.shape, ctx.geometry), x)
        if need_b:
            gb = _t(be.reduce("sum", gd, (0, 2, 3), False), x)
        return (gx, gw, gb) + _no_grads_for(Conv2dGeometry)


def _batched(x):
    """The contiguous data of a (C, H, W) or (N, C, H, W) tensor, as (N, C, H, W)."""
    be = x._backend
    d = be.contiguous(x._data)
    return d if x.ndim == 4 else be.view(d, (1,) + x.shape)


def _batched_shape(shape):
    """A (C, H, W) or (N, C, H, W) shape as (N, C, H, W)."""
    return (1,) * (4 - len(shape)) + tuple(shape)


def _unbatched(data, like, shape=None):
    """A tensor of the pooling kernel's 4-D result, dropping the batch dim of unbatched input
    (``shape``: the input's shape, default ``like``'s)."""
    if len(shape or like.shape) == 3:
        data = like._backend.view(data, data.shape[1:])
    return _t(data, like)


class MaxPool2d(Function):
    """y = max over each window;  dx = g routed to each window's argmax"""

    node_name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, ceil_mode, return_indices):
        be = x._backend
        geometry = MaxPool2dGeometry(kernel=kernel, stride=stride, padding=padding,
                                     dilation=dilation, ceil_mode=ceil_mode)
        y, argmax = be.max_pool2d(_batched(x), geometry)
        ctx.argmax, ctx.in_shape = argmax, x.shape
        if not return_indices:
            return _unbatched(y, x)
        # the indices: each maximum's flat position ih*W + iw within its plane, as torch's
        indices = _unbatched(argmax, x)
        ctx.mark_non_differentiable(indices)
        return _unbatched(y, x), indices

    @staticmethod
    def backward(ctx, g, *_):
        _no_double_backward("max_pool2d")
        be = g._backend
        gx = be.max_pool2d_backward(_batched(g), ctx.argmax, _batched_shape(ctx.in_shape))
        no_grad_return_indices = (None,)
        return (_unbatched(gx, g, ctx.in_shape),) + _no_grads_for(MaxPool2dGeometry) \
            + no_grad_return_indices


class AvgPool2d(Function):
    """y = mean over each window;  dx = g spread evenly over each window"""

    node_name = "AvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        be = x._backend
        ctx.in_shape = x.shape
        ctx.geometry = AvgPool2dGeometry(kernel=kernel, stride=stride, padding=padding,
                                         ceil_mode=ceil_mode,
                                         count_include_pad=count_include_pad,
                                         divisor_override=divisor_override)
        return _unbatched(be.avg_pool2d(_batched(x), ctx.geometry), x)

    @staticmethod
    def backward(ctx, g):
        _no_double_backward("avg_pool2d")
        be = g._backend
        gx = be.avg_pool2d_backward(_batched(g), _batched_shape(ctx.in_shape), ctx.geometry)
        return (_unbatched(gx, g, ctx.in_shape),) + _no_grads_for(AvgPool2dGeometry)


class AdaptiveAvgPool2d(Function):
    """y = mean over torch's adaptive bins;  dx = g spread evenly over each bin"""

    node_name = "AdaptiveAvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x, output_size):
        be = x._backend
        ctx.in_shape = x.shape
        return _unbatched(be.adaptive_avg_pool2d(_batched(x), output_size), x)

    @staticmethod
    def backward(ctx, g):
        _no_double_backward("adaptive_avg_pool2d")
        be = g._backend
        gx = be.adaptive_avg_pool2d_backward(_batched(g), _batched_shape(ctx.in_shape))
        return _unbatched(gx, g, ctx.in_shape), None


class BatchNorm(Function):
    """y = (x - mean) * invstd * w + b per channel, with the batch's statistics in training
    (updating the running ones) or the running statistics in eval;
    training dx = w * invstd * (g - mean(g) - xhat * mean(g * xhat))"""

    node_name = "NativeBatchNormBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        be = x._backend
        xd = be.contiguous(x._data)
        if training:
            mean, var = be.batch_norm_stats(xd)
            if running_mean is not None:
                n = x.shape[0] * math.prod(x.shape[2:])  # values per channel
                unbiased = be.binary("mul", var, be.full((), n / max(n - 1, 1), var.dtype))
                for stat, new in ((running_mean, mean), (running_var, unbiased)):
                    stat.mul_(1 - momentum).add_(_t(new, x) * momentum)
        else:
            mean, var = running_mean._data, running_var._data
        invstd = be.unary("rsqrt", be.binary("add", var, be.full((), eps, var.dtype)))
        ctx.saved = (xd, mean, invstd, training)
        ctx.save_for_backward(weight)
        w = weight._data if weight is not None else None
        b = bias._data if bias is not None else None
        return _t(be.batch_norm(xd, w, b, mean, invstd), x)

    @staticmethod
    def backward(ctx, g):
        _no_double_backward("batch_norm")
        xd, mean, invstd, training = ctx.saved
        (weight,) = ctx.saved_tensors
        be = g._backend
        gx, gw, gb = be.batch_norm_backward(be.contiguous(g._data), xd,
                                            weight._data if weight is not None else None,
                                            mean, invstd, training)
        has_w = weight is not None
        return (_t(gx, g), _t(gw, g) if has_w else None, _t(gb, g) if has_w else None,
                None, None, None, None, None)


class Softmax(Function):
    """y = exp(x) / sum(exp(x)) along dim;  dx = y * (g - sum(g * y))"""

    node_name = "SoftmaxBackward0"
    log = False

    @classmethod
    def forward(cls, ctx, x, dim):
        be = x._backend
        y = _t(be.softmax(be.contiguous(x._data), dim, cls.log), x)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        log = ctx._forward_cls.log
        if is_grad_enabled():  # create_graph: a differentiable formula
            if log:
                return g - y.exp() * g.sum(ctx.dim, keepdim=True), None
            return y * (g - (g * y).sum(ctx.dim, keepdim=True)), None
        be = g._backend
        return _t(be.softmax_backward(be.contiguous(g._data), y._data, ctx.dim, log), g), None


class LogSoftmax(Softmax):
    """y = x - logsumexp(x) along dim;  dx = g - exp(y) * sum(g)"""

    node_name = "LogSoftmaxBackward0"
    log = True


def _reduce_loss(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


class NllLoss(Function):
    """loss_i = -w[t_i] * x[i, t_i] (ignored targets give 0); mean divides by sum of w[t_i];
    dx[i, t_i] = -w[t_i] * g (/ that sum), 0 for ignored targets"""

    node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x, target, weight, reduction, ignore_index):
        valid = target != ignore_index
        safe = target * valid.long()
        if x.device.type != "cpu":  # targets were not range-checked (no host sync): out-of-range
            in_range = (safe >= 0) & (safe < x.shape[1])  # ones give NaN, never a wild read
            safe = safe * in_range.long()
            valid = valid & in_range
        if x.shape[1] == 0:  # no classes: every target was ignored, nothing to pick
            w = _creation.zeros(safe.shape, dtype=x.dtype, device=x.device)
            picked = w
        else:
            if weight is not None:
                w = Gather.apply(weight, 0, safe.reshape(-1)).reshape(safe.shape)
            else:
                w = _creation.ones(safe.shape, dtype=x.dtype, device=x.device)
            w = w * valid.to(x.dtype)
            picked = Gather.apply(x, 1, safe.unsqueeze(1)).squeeze(1)
            # an ignored target's score may be inf or NaN: 0 * it must not reach the sum
            picked = where(valid, picked, wrap(0.0, x))
        if x.device.type != "cpu":
            picked = where((target != ignore_index) & ~valid, wrap(float("nan"), x), picked)
        loss = -picked * w
        if reduction == "mean":
            denom = w.sum()
            out = loss.sum() / denom
        elif reduction == "sum":
            denom, out = None, loss.sum()
        else:
            denom, out = None, loss
        ctx.saved = (x.shape, safe, valid, w, denom, reduction)
        return out

    @staticmethod
    def backward(ctx, g):
        shape, safe, valid, w, denom, reduction = ctx.saved
        gx = _creation.zeros(shape, dtype=g.dtype, device=g.device)
        if shape[1] == 0:
            return gx, None, None, None, None
        scale = -w * g if reduction == "none" else -w * g.expand(w.shape)
        if denom is not None:  # ignored targets get 0, even when every one is (0 / 0)
            scale = where(valid, scale / denom, wrap(0.0, scale))
        return ScatterAdd.apply(gx, 1, safe.unsqueeze(1), scale.unsqueeze(1)), None, None, None, \
            None


class MseLoss(Function):
    """d = x - y;  loss = reduce(d^2);  dx = 2 d g (/ n for mean),  dy = -dx (each summed back
    to its operand's shape when x and y broadcast)"""

    node_name = "MseLossBackward0"

    @staticmethod
    def forward(ctx, x, y, reduction):
        diff = x - y
        ctx.save_for_backward(diff)
        ctx.args = (x.shape, y.shape, reduction)
        return _reduce_loss(diff * diff, reduction)

    @staticmethod
    def backward(ctx, g):
        (diff,) = ctx.saved_tensors
        x_shape, y_shape, reduction = ctx.args
        n = diff.numel()
        gd = diff * g * (2.0 / n if reduction == "mean" and n else 2.0)  # (n = 0: nothing to scale)
        return _pointwise_loss_grads(ctx, gd, x_shape, y_shape)


def _pointwise_loss_grads(ctx, gd, x_shape, y_shape):
    """``(dx, dy, None...)`` of a loss of ``x - y``, from ``gd`` (the gradient of that
    difference): ``dx = gd``, ``dy = -gd``, each summed back to its operand's shape."""
    gx = sum_to_shape(gd, x_shape) if ctx.needs_input_grad[0] else None
    gy = sum_to_shape(-gd, y_shape) if ctx.needs_input_grad[1] else None
    return (gx, gy) + (None,) * (len(ctx.needs_input_grad) - 2)


class SmoothL1Loss(Function):
    """d = x - y;  loss = reduce(d^2 / (2 beta) where |d| < beta, else |d| - beta / 2);
    dx = g clamp(d / beta, -1, 1) (/ n for mean),  dy = -dx (beta > 0: beta = 0 is the L1 loss)

    The derivative is written out rather than left to autograd through ``where``: the branch
    that ``where`` drops would still send ``0 * inf = nan`` back at an infinite difference."""

    node_name = "SmoothL1LossBackward0"

    @staticmethod
    def forward(ctx, x, y, reduction, beta):
        diff = x - y
        d = diff.abs()
        loss = where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
        ctx.save_for_backward(diff)
        ctx.args = (x.shape, y.shape, reduction, beta)
        return _reduce_loss(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        (diff,) = ctx.saved_tensors
        x_shape, y_shape, reduction, beta = ctx.args
        gd = (diff / beta).clamp(-1, 1) * g
        if reduction == "mean" and diff.numel():
            gd = gd / diff.numel()
        return _pointwise_loss_grads(ctx, gd, x_shape, y_shape)


class BinaryCrossEntropy(Function):
    """loss = -w (y log p + (1 - y) log(1 - p)) (logs clamped at -100);
    dp = g w (p - y) / max(p (1 - p), 1e-12),  dy = g w (log(1 - p) - log p)"""

    node_name = "BinaryCrossEntropyBackward0"

    @staticmethod
    def forward(ctx, p, y, weight, reduction):
        log_p = p.log().clamp(min=-100)
        log_1p = (1 - p).log().clamp(min=-100)
        loss = -(y * log_p + (1 - y) * log_1p)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(p, y)
        ctx.args = (weight, reduction)
        return _reduce_loss(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        p, y = ctx.saved_tensors
        weight, reduction = ctx.args
        scale = g if weight is None else g * weight
        if reduction == "mean":
            scale = scale / p.numel()
        gp = scale * (p - y) / (p * (1 - p)).clamp(min=1e-12) if ctx.needs_input_grad[0] else None
        gy = scale * ((1 - p).log() - p.log()) if ctx.needs_input_grad[1] else None
        return gp, gy, None, None


class BinaryCrossEntropyWithLogits(Function):
    """loss = (1 - y) x - (1 + (pw - 1) y) log_sigmoid(x) (the stable form of
    -(pw y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))));
    dx = g (sigmoid(x) (1 + (pw - 1) y) - pw y),
    dy = g (log_sigmoid(-x) - pw log_sigmoid(x)) (= -g x without pos_weight)"""

    node_name = "BinaryCrossEntropyWithLogitsBackward0"

    @staticmethod
    def forward(ctx, x, y, weight, pos_weight, reduction):
        softplus_neg = -_log_sigmoid(x)  # log(1 + e^-x)
        if pos_weight is not None:
            lw = 1 + (pos_weight - 1) * y
            loss = (1 - y) * x + lw * softplus_neg
        else:
            loss = (1 - y) * x + softplus_neg
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y)
        ctx.args = (weight, pos_weight, reduction)
        return _reduce_loss(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        weight, pos_weight, reduction = ctx.args
        scale = g if weight is None else g * weight
        if reduction == "mean":
            scale = scale / x.numel()
        gx = gy = None
        if ctx.needs_input_grad[0]:
            s = x.sigmoid()
            if pos_weight is not None:
                gx = scale * (s * (1 + (pos_weight - 1) * y) - pos_weight * y)
            else:
                gx = scale * (s - y)
        if ctx.needs_input_grad[1]:
            if pos_weight is not None:
                gy = scale * (_log_sigmoid(-x) - pos_weight * _log_sigmoid(x))
            else:
                gy = scale * -x
        return gx, gy, None, None, None


def _log_sigmoid(x):
    """log(sigmoid(x)) = -(log(1 + e^-|x|) + max(-x, 0)), stable for large |x|."""
    return -((1 + (-x.abs()).exp()).log() + (-x).clamp(min=0))


def check_float_activation(x, kernel):
    """PyTorch's activations other than relu have floating point kernels only."""
    if not x.dtype.is_floating_point:
        raise not_implemented(kernel, x.dtype)


class LeakyRelu(Function):
    """y = x if x > 0 else slope * x;  dx = g * (1 if x > 0 else slope)"""

    node_name = "LeakyReluBackward0"

    @staticmethod
    def forward(ctx, x, slope):
        check_float_activation(x, f"leaky_relu_{x.device.type}")
        ctx.save_for_backward(x)
        ctx.slope = slope
        pos = (x > 0).to(x.dtype)
        return x * (pos + (1 - pos) * slope)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        pos = (x > 0).to(g.dtype)
        return g * (pos + (1 - pos) * ctx.slope), None


class LeakyReluInplace(LeakyRelu):
    """``leaky_relu(x, inplace=True)``: the same node under PyTorch's in-place name."""

    node_name = "LeakyReluBackward1"


class Gelu(Function):
    """y = x * Phi(x) (exact, with erf) or the tanh approximation;  dx = g * dy/dx"""

    node_name = "GeluBackward0"

    @staticmethod
    def forward(ctx, x, approximate):
        check_float_activation(x, "GeluKernelImpl")
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return x * _gelu_cdf(x, approximate)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            inner = (x + 0.044715 * x ** 3) * k
            t = inner.tanh()
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
        else:
            pdf = (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
            d = _gelu_cdf(x, "none") + x * pdf
        return g * d, None


def _gelu_cdf(x, approximate):
    """Phi(x), the standard normal CDF (1 + erf(x / sqrt 2)) / 2, or its tanh approximation."""
    if approximate == "tanh":
        return ((x + 0.044715 * x ** 3) * math.sqrt(2 / math.pi)).tanh() * 0.5 + 0.5
    return ((x * (1 / math.sqrt(2))).erf() + 1) * 0.5


def dropout_mask(x, p, generator=None):
    """A mask of 0 and 1/(1-p) with keep-probability 1-p, shaped like ``x``."""
    keep = _random.rand(x.shape, dtype=x.dtype, device=x.device, generator=generator) >= p
    return keep.to(x.dtype) * (1.0 / (1.0 - p)) if p < 1 else keep.to(x.dtype) * 0.0

