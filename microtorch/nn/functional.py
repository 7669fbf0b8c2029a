"""``microtorch.nn.functional``: stateless layers, activations and losses (as
``torch.nn.functional``). Shapes, dtypes and arguments are validated here, before any kernel."""

import math
import operator

from .. import _creation, _dtype
from ..backends.geometry import pooled_size
from ..ops import nn as _ops
from ..ops._register import FUNCTIONAL as _FUNCTIONAL
from ..ops._util import broadcast_shapes, check_same_device, normalize_dim
from ..ops.inplace import inplace as _inplace
from ..ops.softmax import log_softmax


def _pair(v, name="value", op="Conv2d"):
    """``v`` (an int or a sequence of one or two ints) as a pair of ints, for the modules'
    attributes; TypeError for floats and bools, as PyTorch's argument parser."""
    v = _ints(v, name, op)
    if len(v) not in (1, 2):
        raise ValueError(f"expected {name} to be a single integer value or a list of 2 values")
    return (v[0], v[-1])


# --------------------------------------------------------------------------------------------
# Arguments of convolution and pooling: PyTorch's checks, in PyTorch's order, with its exception
# classes and messages. No kernel runs before they pass (and the backends check the geometry
# once more, see microtorch/backends/geometry.py).
# --------------------------------------------------------------------------------------------

def _is_int(v):
    """True for Python and NumPy integers (anything with ``__index__``), False for bools and
    floats: what PyTorch's argument parser accepts as an int."""
    return hasattr(v, "__index__") and not isinstance(v, bool)


def _ints(value, name, op, position=None):
    """``value`` (an int or a sequence of ints) as a tuple of Python ints.

    Raises TypeError, worded as PyTorch's argument parser, for anything else: a float, a bool,
    None, or a sequence holding one.
    """
    where = f"argument '{name}'" + (f" (position {position})" if position else "")
    if _is_int(value):
        return (operator.index(value),)
    if isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            if not _is_int(v):
                raise TypeError(f"{op}(): {where} must be tuple of ints, but found element of "
                                f"type {type(v).__name__} at pos {i}")
        return tuple(operator.index(v) for v in value)
    raise TypeError(f"{op}(): {where} must be tuple of ints, not {type(value).__name__}")


def _check_bool(value, name, op, position=None):
    """PyTorch's TypeError when a bool flag (``ceil_mode``, ...) is given anything else."""
    if not isinstance(value, bool):
        where = f"argument '{name}'" + (f" (position {position})" if position else "")
        raise TypeError(f"{op}(): {where} must be bool, not {type(value).__name__}")


def _cdiv(a, b):
    """``a / b`` rounded toward zero, as C++ divides integers (PyTorch's checks rely on it)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _pool_geometry(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    """The checked ``(kernel, stride, padding, dilation)`` pairs of a 2-D pooling, and
    ``(OH, OW)``.

    PyTorch's checks in PyTorch's order: argument types (TypeError); tuple lengths (one or
    two ints; ``stride`` may be empty or None, meaning ``kernel_size``); values that fit a C
    ``int``; for each spatial dim a non-zero stride, ``0 <= padding <= half the dilated
    kernel``; then positive kernel, stride and dilation, no empty dim but the batch,
    ``padding <= kernel // 2`` and at least one output element (RuntimeError).
    """
    kernel = _ints(kernel_size, "kernel_size", op, 2)
    stride = () if stride is None else _ints(stride, "stride", op, 3)
    padding = _ints(padding, "padding", op, 4)
    dilation = _ints(dilation, "dilation", op, 5)
    _check_bool(ceil_mode, "ceil_mode", op, 6 if op == "max_pool2d" else None)
    if len(kernel) not in (1, 2):
        raise RuntimeError(f"{op}: kernel_size must either be a single int, or a tuple of two "
                           "ints")
    if len(stride) not in (0, 1, 2):
        raise RuntimeError(f"{op}: stride must either be omitted, a single int, or a tuple of "
                           "two ints")
    if len(padding) not in (1, 2):
        raise RuntimeError(f"{op}: padding must either be a single int, or a tuple of two ints")
    if len(dilation) not in (1, 2):
        raise RuntimeError(f"{op}: dilation must be either a single int, or a tuple of two ints")
    kernel, padding, dilation = ((t[0], t[-1]) for t in (kernel, padding, dilation))
    stride = (stride[0], stride[-1]) if stride else kernel
    if any(not -2 ** 31 <= v < 2 ** 31 for v in kernel + stride + padding + dilation):
        raise RuntimeError("value cannot be converted to type int without overflow")
    if op == "max_pool2d" and input.ndim not in (3, 4):
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    if input.ndim < 3:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.ndim}, "
                         f"{input.ndim - 1}], but got -3)")
    out = []
    for size, k, s, p, d in zip(input.shape[-2:], kernel, stride, padding, dilation):
        if s == 0:
            raise RuntimeError("stride should not be zero")
        if p < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {p}")
        if p > _cdiv((k - 1) * d + 1, 2):
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
        out.append(pooled_size(size, k, s, p, d, ceil_mode))
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    if kh <= 0 or kw <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {kh} kW: {kw}")
    if sh <= 0 or sw <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got dH: {sh} dW: {sw}")
    if dh <= 0 or dw <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: {dh} "
                           f"dilationW: {dw}")
    shape = input.shape
    if input.ndim not in (3, 4) or 0 in shape[-3:]:
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size "
                           f"for input, but got:{list(shape)}")
    if ph > _cdiv(kh, 2) or pw > _cdiv(kw, 2):
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got "
                           f"padW = {pw}, padH = {ph}, kW = {kw}, kH = {kh}")
    if min(out) < 1:
        raise RuntimeError(f"Given input size: ({shape[-3]}x{shape[-2]}x{shape[-1]}). "
                           f"Calculated output size: ({shape[-3]}x{out[0]}x{out[1]}). "
                           "Output size is too small")
    return kernel, stride, padding, dilation


def _conv_args(input, stride, padding, dilation, groups):
    """Checked ``(stride, padding, dilation, groups)`` of ``conv2d``; ``padding`` stays a
    string when it is 'valid' or 'same'. PyTorch's checks in its order: types (TypeError),
    the padding string, the input's dims, tuple lengths, then signs (RuntimeError)."""
    stride = _ints(stride, "stride", "conv2d")
    if not isinstance(padding, str):
        padding = _ints(padding, "padding", "conv2d")
    dilation = _ints(dilation, "dilation", "conv2d")
    if not _is_int(groups):
        raise TypeError(f"conv2d(): argument 'groups' must be int, not {type(groups).__name__}")
    groups = operator.index(groups)
    if isinstance(padding, str) and padding not in ("valid", "same"):
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got "
                           f"input of size: {list(input.shape)}")
    for name, value in (("stride", stride), ("padding", padding), ("dilation", dilation)):
        if not isinstance(value, str) and len(value) not in (1, 2):
            raise RuntimeError(f"expected {name} to be a single integer value or a list of 2 "
                               f"values to match the convolution dimensions, but got "
                               f"{name}={list(value)}")
    stride, dilation = (stride[0], stride[-1]), (dilation[0], dilation[-1])
    if not isinstance(padding, str):
        padding = (padding[0], padding[-1])
    if any(abs(v) >= 2 ** 63 for v in stride + dilation + (groups,) +
           (() if isinstance(padding, str) else padding)):
        raise ValueError("Overflow when unpacking long long")
    if padding == "same" and stride != (1, 1):
        raise RuntimeError("padding='same' is not supported for strided convolutions")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if not isinstance(padding, str) and min(padding) < 0:
        raise RuntimeError("negative padding is not supported")
    if min(stride) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(dilation) < 0:
        raise RuntimeError("dilation should be greater than zero")
    return stride, padding, dilation, groups


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``: the input's last dim must equal ``weight``'s second, and
    ``bias`` must broadcast to the output's shape (it is added to the output in place)."""
    if input.ndim == 0 or weight.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are "
                           f"{input.ndim}D and {weight.ndim}D")
    if input.shape[-1] != weight.shape[-1]:
        cols = input.shape[-1]
        rows = input.numel() // max(cols, 1)
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and "
                           f"{weight.shape[1]}x{weight.shape[0]})")
    check_same_device(input, weight, *([bias] if bias is not None else []))
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{_c(input.dtype)} and {_c(weight.dtype)}")
    if bias is not None:
        _check_linear_bias(bias, input.shape[:-1] + weight.shape[:-1])
    if bias is None or weight.ndim != 2 or bias.shape != weight.shape[:1]:
        out = input.matmul(weight.t())
        return out + bias if bias is not None else out
    if input.ndim == 2:
        return _ops.Addmm.apply(bias, input, weight.t())
    # as PyTorch: addmm on the flattened batch, viewed back (ViewBackward0)
    rows = math.prod(input.shape[:-1])  # counted: reshape(-1, 0) is ambiguous
    out = _ops.Addmm.apply(bias, input.reshape(rows, input.shape[-1]), weight.t())
    return out.view(input.shape[:-1] + (weight.shape[0],))


def _check_linear_bias(bias, out_shape):
    """PyTorch's RuntimeError when ``bias`` does not broadcast to ``out_shape`` unchanged: a
    1-D bias is expanded to the flattened (rows, out_features) output of ``addmm``, any other
    is added to the output in place."""
    try:
        shape = broadcast_shapes(out_shape, bias.shape)
    except RuntimeError:
        shape = None
    if shape == tuple(out_shape):
        return
    if shape is not None and bias.ndim != 1:
        raise RuntimeError(f"output with shape {list(out_shape)} doesn't match the broadcast "
                           f"shape {list(shape)}")
    target = [math.prod(out_shape[:-1]), out_shape[-1]] if bias.ndim == 1 else list(out_shape)
    d = next(d for d in range(1, min(bias.ndim, len(target)) + 1)
             if bias.shape[-d] not in (1, target[-d]))
    raise RuntimeError(f"The expanded size of the tensor ({target[-d]}) must match the existing "
                       f"size ({bias.shape[-d]}) at non-singleton dimension {len(target) - d}.  "
                       f"Target sizes: {target}.  Tensor sizes: {list(bias.shape)}")


def _c(d):
    """A dtype as PyTorch's linear error names it: 'Float'/'Double', else the dtype's name."""
    return d.scalar_name if d.is_floating_point else d.name


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of an (N, C, H, W) or (C, H, W) input with
    ``weight`` (O, C / groups, kh, kw).

    Every argument is checked first, as PyTorch checks it (see :func:`_conv_args`): positive
    stride and groups, non-negative padding (an int, a pair, 'valid' or 'same'), positive
    dilation, channels that match the groups, a dilated kernel that fits the padded input and
    one dtype for input, weight and bias. Float dtypes run the fast kernels; int32, int64 and
    uint8 are computed exactly (sums wrap around in the dtype), as PyTorch's CPU convolution.
    """
    stride, padding, dilation, groups = _conv_args(input, stride, padding, dilation, groups)
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    if weight.ndim != 4:
        raise RuntimeError(f"Expected {weight.ndim}-dimensional input for {weight.ndim}-"
                           f"dimensional weight {list(weight.shape)}, but got 4-dimensional input "
                           f"of size {list(input.shape)} instead")
    o, cg, kh, kw = weight.shape
    if o < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {list(weight.shape)} instead")
    if o % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{list(weight.shape)}] "
                           "instead")
    c = input.shape[1]
    if c != cg * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                           f"expected input{list(input.shape)} to have "
                           f"{cg * groups} channels, but got {c} channels instead")
    if bias is not None and bias.shape != (o,):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {o} elements, but got bias of size "
                           f"{list(bias.shape)} instead")
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":
        tot = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
        if tot[0] % 2 or tot[1] % 2:
            input = pad(input, (tot[1] // 2, tot[1] - tot[1] // 2,
                                tot[0] // 2, tot[0] - tot[0] // 2))
            padding = (0, 0)
        else:
            padding = (tot[0] // 2, tot[1] // 2)
    padded = [size + 2 * p for size, p in zip(input.shape[2:], padding)]
    dilated = [d * (k - 1) + 1 for d, k in zip(dilation, (kh, kw))]
    if padded[0] < dilated[0] or padded[1] < dilated[1]:
        raise RuntimeError(f"Calculated padded input size per channel: ({padded[0]} x "
                           f"{padded[1]}). Kernel size: ({dilated[0]} x {dilated[1]}). "
                           "Kernel size can't be greater than actual input size")
    if kh <= 0 or kw <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: "
                           f"{kh} kernel_width: {kw}")
    if min(dilation) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
    check_same_device(input, weight, *([bias] if bias is not None else []))
    _check_conv_dtypes(input, weight, bias, dilation)
    if c == 0:  # as PyTorch: an input without channels gives an output without channels
        weight, bias = weight[:0], (bias[:0] if bias is not None else None)
    if input.numel() == 0 and not input.dtype.is_floating_point:  # nothing to compute (and no
        out_hw = [(p - d) // s + 1 for p, d, s in zip(padded, dilated, stride)]
        out = _creation.zeros((input.shape[0], weight.shape[0], *out_hw), dtype=input.dtype,
                              device=input.device)
        return out.squeeze(0) if unbatched else out
    out = _ops.Conv2d.apply(input, weight, bias, stride, padding, dilation, groups)
    return out.squeeze(0) if unbatched else out


def _check_conv_dtypes(input, weight, bias, dilation):
    """One dtype for input, weight and bias, and one the convolution computes (PyTorch's
    messages): every dtype but bool on the CPU (int32 and uint8 not dilated), float32/float64
    on CUDA."""
    if weight.dtype is not input.dtype:
        raise RuntimeError(f"expected scalar type {input.dtype.scalar_name} but found "
                           f"{weight.dtype.scalar_name}")
    if bias is not None and bias.dtype is not input.dtype:
        raise RuntimeError(f"Input type ({input.dtype.c_name}) and bias type "
                           f"({bias.dtype.c_name}) should be the same")
    if input.numel() == 0:  # no kernel runs on an empty input: PyTorch computes every dtype
        return
    cpu = input.device.type == "cpu"
    if cpu and dilation != (1, 1) and input.dtype in (_dtype.int32, _dtype.uint8, _dtype.bool_):
        raise NotImplementedError('"slow_conv_dilated<>" not implemented for '
                                  f"'{input.dtype.scalar_name}'")
    if input.dtype is _dtype.bool_ or (not cpu and not input.dtype.is_floating_point):
        kernel = "slow_conv2d_cpu" if cpu else "slow_conv2d_cuda"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{input.dtype.scalar_name}'")


def pad(input, pad, mode="constant", value=0.0):
    """Pad the last dims: ``pad = (left, right, top, bottom, ...)`` with a constant ``value``.

    A negative amount crops instead, as in PyTorch: ``pad(x, (-1, 2))`` drops the first column
    and appends two. Cropping more than a dimension holds is a RuntimeError.
    """
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, not "
                        f"{type(pad).__name__}")
    pad = _ints(pad, "pad", "pad", 2)
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant":
        raise NotImplementedError(f"pad mode '{mode}' is not implemented in microtorch")
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    shape = list(input.shape)
    source = [slice(None)] * input.ndim  # the part of input that is kept (negative pads crop)
    target = [slice(None)] * input.ndim  # where it lands in the output
    for i in range(len(pad) // 2):
        d = input.ndim - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        crop_lo, crop_hi = max(-lo, 0), max(-hi, 0)
        kept = shape[d] - crop_lo - crop_hi
        if kept < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
        source[d] = slice(crop_lo, crop_lo + kept)
        target[d] = slice(max(lo, 0), max(lo, 0) + kept)
        shape[d] += lo + hi
    numel = 1
    for size in shape:
        numel *= size
    if numel * input.dtype.itemsize >= 2 ** 63:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={shape}")
    out = _creation.full(shape, value, dtype=input.dtype, device=input.device)
    out[tuple(target)] = input[tuple(source)]  # (also when empty: it records the graph)
    return out


def _pool_dtype(op, input, cpu_dtypes):
    """PyTorch's NotImplementedError when pooling ``op`` has no kernel for the input's dtype:
    ``cpu_dtypes`` on the CPU, floats only on CUDA for average pooling."""
    cpu = input.device.type == "cpu"
    if cpu and input.dtype in cpu_dtypes:
        return
    if not cpu and (input.dtype.is_floating_point or op == "max_pool2d") and \
            input.dtype is not _dtype.bool_:
        return
    name = op if cpu else {"avg_pool2d": "avg_pool2d_out_cuda_frame",
                           "adaptive_avg_pool2d": "adaptive_avg_pool2d_cuda"}.get(op, op)
    raise NotImplementedError(f'"{name}" not implemented for \'{input.dtype.scalar_name}\'')


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of ``kernel_size`` (padding never wins). With ``return_indices``,
    also each maximum's flat index ``ih * W + iw`` within its (H, W) plane (int64), as torch.

    Arguments are checked as PyTorch checks them (:func:`_pool_geometry`); float and integer
    inputs are pooled (each window starts from the dtype's lowest value), bool is refused.
    """
    kernel, stride, padding, dilation = _pool_geometry("max_pool2d", input, kernel_size, stride,
                                                       padding, dilation, ceil_mode)
    _pool_dtype("max_pool2d", input, (_dtype.float32, _dtype.float64, _dtype.int64,
                                      _dtype.int32, _dtype.uint8))
    return _ops.MaxPool2d.apply(input, kernel, stride, padding, dilation, ceil_mode,
                                bool(return_indices))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over windows of ``kernel_size``: each window's sum divided by its size (see
    ``count_include_pad``), or by ``divisor_override`` when given.

    Arguments are checked as PyTorch checks them (:func:`_pool_geometry`). Float and int64
    inputs are pooled (int64 divides rounding toward zero, as PyTorch); others are refused.
    """
    _check_bool(count_include_pad, "count_include_pad", "avg_pool2d")
    if divisor_override is not None and not _is_int(divisor_override):
        raise TypeError(f"avg_pool2d(): argument 'divisor_override' must be int, not "
                        f"{type(divisor_override).__name__}")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    kernel, stride, padding, _ = _pool_geometry("avg_pool2d", input, kernel_size, stride,
                                                padding, 1, ceil_mode)
    _pool_dtype("avg_pool2d", input, (_dtype.float32, _dtype.float64, _dtype.int64))
    if divisor_override is not None:
        divisor_override = operator.index(divisor_override)
    return _ops.AvgPool2d.apply(input, kernel, stride, padding, ceil_mode, count_include_pad,
                                divisor_override)


def adaptive_avg_pool2d(input, output_size):
    """Mean over an ``output_size`` grid of bins covering the input (1x1 is a global mean).

    ``output_size``: an int or a pair whose entries are ints >= 0 or None (keep that input
    size). Checked as PyTorch checks it; float inputs only, as PyTorch.
    """
    op = "adaptive_avg_pool2d"
    if isinstance(output_size, (tuple, list)) and input.ndim <= len(output_size):
        raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")
    if isinstance(output_size, (tuple, list)):
        for i, v in enumerate(output_size):
            if v is not None and not _is_int(v):
                raise TypeError(f"{op}(): argument 'output_size' (position 2) must be tuple of "
                                f"ints, but found element of type {type(v).__name__} at pos {i}")
        sizes = [None if v is None else operator.index(v) for v in output_size]
    elif _is_int(output_size) or isinstance(output_size, bool):
        sizes = list(_ints(output_size, "output_size", op, 2)) * 2
    else:
        raise TypeError(f"object of type '{type(output_size).__name__}' has no len()")
    if len(sizes) != 2:
        raise RuntimeError(f"{op}: output_size must be 2")
    oh = input.shape[-2] if sizes[0] is None else sizes[0]
    ow = input.shape[-1] if sizes[1] is None else sizes[1]
    if oh < 0 or ow < 0:
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {{{oh}, {ow}}}")
    if (oh, ow) == (1, 1):  # as PyTorch: a mean over the last two dims, whatever the input's rank
        if not input.dtype.is_floating_point:
            raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either "
                               "a floating point or complex dtype. Got: "
                               f"{input.dtype.scalar_name}")
        return input.mean((-2, -1), keepdim=True)
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}(): Expected 3D or 4D tensor, but got {list(input.shape)}")
    for d in (input.ndim - 2, input.ndim - 1):
        if input.shape[d] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(input.shape)} with "
                               f"dimension {d} being empty")
    # the output's size is checked first (PyTorch allocates it before it looks at the dtype),
    # so a size that cannot exist is a RuntimeError, and so is running out of memory for the
    # output or its bin bounds (not NumPy's MemoryError)
    with _creation._allocation(input.shape[:-2] + (oh, ow), input.dtype):
        if oh * ow * math.prod(input.shape[:-2]) == 0 and not input.dtype.is_floating_point:
            return _creation.zeros(input.shape[:-2] + (oh, ow), dtype=input.dtype,
                                   device=input.device)
        _pool_dtype(op, input, (_dtype.float32, _dtype.float64))
        if oh * ow * math.prod(input.shape[:-2]) == 0:
            # an empty result: no bins to build (the kernel would make arrays of oh and ow
            # bounds, however large), only the shape, and a graph giving the input a zero grad
            out = input.mean((-2, -1), keepdim=True).expand(*input.shape[:-2], oh, ow)
            return out.contiguous()
        return _ops.AdaptiveAvgPool2d.apply(input, (oh, ow))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) by batch statistics (training) or running statistics.

    Checked as PyTorch checks it: more than one value per channel when training, vectors of
    one entry per channel, running statistics in evaluation mode, then floating point input
    and one dtype for every operand. An input without elements is returned as a copy (times
    ``weight[0]``, plus ``bias[0]``, as PyTorch), the running statistics untouched.
    """
    if training:  # (shape[0] of a 0-d input: an IndexError, as in PyTorch)
        per_channel = input.shape[0] * math.prod(input.shape[2:])
        if per_channel == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {input.shape}")
    if input.numel() == 0:
        out = input.clone()
        out = out * weight[0] if weight is not None else out
        return out + bias[0] if bias is not None else out
    c = input.shape[1] if input.ndim > 1 else 0  # (what PyTorch reads for a 1-D input)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is None and name.startswith("running") and not training:
            raise RuntimeError(f"{name} must be defined in evaluation mode")
        if t is not None and t.shape != (c,):
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    normalize_dim(1, input.ndim)  # the channel dim: PyTorch's IndexError for a 1-D input
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"batch_norm" not implemented for '
                                  f"'{input.dtype.scalar_name}'")
    if any(t is not None and t.dtype is not input.dtype
           for t in (weight, bias, running_mean, running_var)):
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
    return _ops.BatchNorm.apply(input, weight, bias, running_mean, running_var, training,
                                momentum, eps)


def relu(input, inplace=False):
    """max(input, 0)."""
    return input.relu_() if inplace else input.relu()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``input`` where positive, ``negative_slope * input`` elsewhere."""
    if inplace:
        return _inplace(input, _ops.LeakyReluInplace, negative_slope)
    return _ops.LeakyRelu.apply(input, negative_slope)


def gelu(input, approximate="none"):
    """Gaussian error linear unit: ``x * Phi(x)`` (``approximate='tanh'`` for the tanh form)."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _ops.Gelu.apply(input, approximate)


def silu(input, inplace=False):
    """``x * sigmoid(x)``."""
    _ops.check_float_activation(input, f"silu_{input.device.type}")
    if inplace:  # compute on a copy: the product saves its operands for backward
        return input.copy_(silu(input.clone()))
    return input * input.sigmoid()


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if inplace:  # multiply a copy: the product saves its operands for backward
        return input.copy_(input.clone() * _ops.dropout_mask(input, p))
    return input * _ops.dropout_mask(input, p)


def _check_reduction(reduction):
    """PyTorch's ValueError for a reduction other than 'mean', 'sum' or 'none'. Every loss
    checks it first, before shapes and dtypes, as PyTorch does."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _pointwise_loss_operands(input, target, reduction):
    """``input`` and ``target`` of a loss of ``input - target``, checked (shapes that
    broadcast, then the reduction, as PyTorch) and cast to their promoted dtype.

    PyTorch's pointwise losses promote their operands fully: a 0-d float64 target makes a
    float32 input's loss float64 (``input - target`` alone would stay float32). The casts are
    recorded, so each gradient comes back in its operand's own dtype.
    """
    broadcast_shapes(input.shape, target.shape)
    _check_reduction(reduction)
    dtype = _dtype.promote_types(input.dtype, target.dtype)
    return input.to(dtype), target.to(dtype)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean squared error ``reduce((input - target) ** 2)``; the operands broadcast."""
    input, target = _pointwise_loss_operands(input, target, reduction)
    return _ops.MseLoss.apply(input, target, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean absolute error ``reduce(|input - target|)``; the operands broadcast."""
    input, target = _pointwise_loss_operands(input, target, reduction)
    return _ops._reduce_loss((input - target).abs(), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Huber-like loss: quadratic where ``|input - target| < beta``, linear above
    (``beta=0`` is the L1 loss)."""
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    input, target = _pointwise_loss_operands(input, target, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _ops.SmoothL1Loss.apply(input, target, reduction, beta)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of ``target`` class indices under log-probabilities ``input``:
    (C,) with a 0-d target, (N, C) with (N,), or (N, C, d1, ...) with (N, d1, ...).

    ``mean`` divides by the summed weights of the targets that are not ``ignore_index``.
    """
    _check_reduction(reduction)
    _check_nll_args(input, target, weight)
    check_same_device(input, target, *([weight] if weight is not None else []))
    if input.ndim == 1:  # one sample: a batch of one, squeezed back
        loss = nll_loss(input.unsqueeze(0), target.reshape(1), weight,
                        ignore_index=ignore_index, reduction=reduction)
        return loss.squeeze(0) if reduction == "none" else loss
    if input.ndim > 2:  # (N, C, d1, ...) -> (N*d1*..., C), class dim last
        c = input.shape[1]
        rows = math.prod(target.shape)  # counted: reshape(-1, 0) is ambiguous
        x = input.permute(0, *range(2, input.ndim), 1).reshape(rows, c)
        loss = nll_loss(x, target.reshape(rows), weight, ignore_index=ignore_index,
                        reduction=reduction)
        return loss.reshape(target.shape) if reduction == "none" else loss
    if target.device.type == "cpu":  # on a GPU this would cost a host round trip: see NllLoss
        t = target._data
        bad = (t != ignore_index) & ((t < 0) | (t >= input.shape[1]))
        if bad.any():
            raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    return _ops.NllLoss.apply(input, target.long(), weight, reduction, ignore_index)


def _check_nll_args(input, target, weight):
    """PyTorch's checks of ``nll_loss``'s operands, in its order: dims and batch sizes
    (ValueError), the target's shape, the weight's length, then the dtypes (int64 or uint8
    targets; floating point scores, with a weight of the same dtype)."""
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    target_batch = target.shape[0] if target.ndim else 0  # (what PyTorch reads for a 0-d one)
    if input.ndim != 1 and input.shape[0] != target_batch:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target_batch}).")
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    if input.ndim <= 2:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if input.ndim == 1 and target.ndim == 1 and target.shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: "
                             f"{target.shape[0]}")
        if weight is not None and weight.shape != (c,):
            raise RuntimeError(f"weight tensor should be defined either for all {c} classes or "
                               f"no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
    else:
        n = input.shape[0]
        if target.shape[1:] != input.shape[2:]:
            raise RuntimeError(f"Expected target size {[n, *input.shape[2:]]}, got "
                               f"{list(target.shape)}")
        if input.ndim != 4 and input.numel() == 0 and target.numel():
            # PyTorch views empty (N, C, d, ...) scores as (N, C, 0, 0) and the target as
            # (N, 1, -1): a target with elements cannot match them
            raise RuntimeError(f"size mismatch (got input: {[n, c, 0, 0]} , target: "
                               f"{[n, 1, target.numel() // n]}")
        if weight is not None and weight.shape != (c,):
            raise RuntimeError("weight tensor should be defined either for all or no classes")
    if target.dtype not in (_dtype.int64, _dtype.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{target.dtype.scalar_name}")
    if input.ndim == 2 and target.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if input.ndim > 2 and target.dtype is _dtype.uint8:
        raise RuntimeError("expected scalar type Long but found Byte")
    if not input.dtype.is_floating_point:
        kernel = "nll_loss2d_forward_out_frame" if input.ndim > 2 else "nll_loss_out_frame"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{input.dtype.scalar_name}'")
    if weight is not None and weight.dtype is not input.dtype:
        raise RuntimeError(f"expected scalar type {input.dtype.scalar_name} but found "
                           f"{weight.dtype.scalar_name}")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits ``input`` (C,), (N, C) or (N, C, d1, ...) against class indices
    or class probabilities ``target``; ``label_smoothing`` mixes in the uniform distribution.

    As in PyTorch, a ``target`` of the input's shape holds probabilities (and must be floating
    point); any other shape holds class indices.
    """
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.shape == target.shape:
        return _cross_entropy_probabilities(input, target, weight, ignore_index, reduction,
                                            label_smoothing)
    class_dim = 0 if input.ndim == 1 else 1
    logp = log_softmax(input, class_dim)
    c = input.shape[class_dim]
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


def _cross_entropy_probabilities(input, target, weight, ignore_index, reduction,
                                 label_smoothing):
    """``cross_entropy`` with class probabilities: ``-sum(w * target * log_softmax(input))``
    over the class dim; ``mean`` averages over the samples (NaN when there are none)."""
    if not target.dtype.is_floating_point:
        raise RuntimeError(f"Expected floating point type for target with class probabilities, "
                           f"got {target.dtype.scalar_name}")
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    if input.ndim == 0:
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    class_dim = 1 if input.ndim > 1 else 0
    c = input.shape[class_dim]
    if weight is not None and weight.shape != (c,):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {c} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    logp = log_softmax(input, class_dim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / c
    w = weight.reshape((c,) + (1,) * (input.ndim - 2)) if weight is not None and \
        input.ndim > 1 else weight
    loss = -(logp * target * w if w is not None else logp * target).sum(class_dim)
    if reduction == "mean" and input.ndim > 1:
        samples = input.numel() // c if c else 0
        return loss.sum() / samples  # (0 samples: 0 / 0 = NaN, as PyTorch)
    return _ops._reduce_loss(loss, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """Binary cross-entropy of probabilities ``input`` against ``target`` (same shape and
    dtype; the input's values in [0, 1]). Both ``input`` and ``target`` get gradients."""
    _check_reduction(reduction)
    if input.shape != target.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")
    if target.dtype is not input.dtype:
        raise RuntimeError(f"Found dtype {target.dtype.scalar_name} but expected "
                           f"{input.dtype.scalar_name}")
    if not input.dtype.is_floating_point:
        raise NotImplementedError('"binary_cross_entropy" not implemented for '
                                  f"'{input.dtype.scalar_name}'")
    data = input.detach()
    if data.device.type == "cpu" and bool(((data < 0) | (data > 1)).any()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    return _ops.BinaryCrossEntropy.apply(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Binary cross-entropy of ``sigmoid(input)``, computed stably from logits. Both ``input``
    and ``target`` get gradients; mixed float dtypes compute in the promoted one."""
    _check_reduction(reduction)
    if input.shape != target.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    dtype = _dtype.promote_types(input.dtype, target.dtype)
    input, target = input.to(dtype), target.to(dtype)
    return _ops.BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim``."""
    return input.flatten(start_dim, end_dim)


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding of class indices (``num_classes`` inferred when -1)."""
    if tensor.dtype is not _dtype.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if tensor.numel() == 0:
        if num_classes <= 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        return _creation.zeros(tensor.shape + (num_classes,), dtype=_dtype.int64,
                               device=tensor.device)
    if int(tensor.min().item()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1
    elif int(tensor.max().item()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = _creation.zeros(tensor.shape + (num_classes,), dtype=_dtype.int64,
                          device=tensor.device)
    ones = _creation.ones(tensor.shape + (1,), dtype=_dtype.int64, device=tensor.device)
    return out.scatter_add(-1, tensor.unsqueeze(-1), ones)


# The function forms that ops modules declare with ``@public(functional=True)`` (softmax,
# log_softmax, sigmoid, tanh...): bound here with one loop, so a new op edits no line of this file.
for _name, _function in _FUNCTIONAL.items():
    globals()[_name] = _function

__all__ = sorted([
    "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "conv2d", "cross_entropy", "dropout", "flatten",
    "gelu", "l1_loss", "leaky_relu", "linear", "max_pool2d", "mse_loss", "nll_loss", "one_hot",
    "pad", "relu", "silu", "smooth_l1_loss",
    # helpers the page has always listed (PyTorch's F does not have them)
    "check_same_device", "pooled_size",
] + list(_FUNCTIONAL))
