"""Convolution and pooling geometry as named tuples, the output sizes of their windows, and
the checks that keep a kernel from ever seeing geometry it cannot handle.

Every backend entry point for convolution and pooling takes its geometry as one named tuple::

    conv2d(x, w, Conv2dGeometry(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1))
    max_pool2d(x, MaxPool2dGeometry(kernel=(2, 2), stride=(2, 2), padding=(0, 0),
                                    dilation=(1, 1), ceil_mode=False))

A Numba kernel takes flat scalars, not a named tuple: :class:`Window2d` names the eight ints
a window kernel reads (``kh, kw, sh, sw, ph, pw, dh, dw``) and :meth:`Window2d.flat` hands
them over as the plain tuple the kernel unpacks.

``nn.functional`` validates every argument with PyTorch's messages before any kernel runs. The
``check_*`` functions here are a second, cheap line of defence at each backend entry point: a
kernel indexes raw buffers, so a negative padding, a zero stride or a window larger than its
input would read or write out of bounds. They raise ``ValueError`` naming the bad geometry, and
only fire if an internal caller skipped the public checks.
"""

from typing import NamedTuple

import numpy as np

Pair = tuple[int, int]


class Conv2dGeometry(NamedTuple):
    """How a 2-D convolution's kernel moves over its input: ``stride``, zero ``padding`` on
    each side and ``dilation`` (the gap between taps) as (height, width) pairs, and ``groups``
    (input and output channels split into that many independent convolutions)."""

    stride: Pair
    padding: Pair
    dilation: Pair
    groups: int


class MaxPool2dGeometry(NamedTuple):
    """The windows of a 2-D max pooling: ``kernel`` (window size), ``stride``, ``padding``
    (never selected) and ``dilation`` as (height, width) pairs; ``ceil_mode`` rounds the output
    size up instead of down (PyTorch's rule, :func:`pooled_size`)."""

    kernel: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    ceil_mode: bool


class AvgPool2dGeometry(NamedTuple):
    """The windows of a 2-D average pooling and what each sum is divided by: ``kernel``,
    ``stride``, ``padding`` as (height, width) pairs and ``ceil_mode`` as in
    :class:`MaxPool2dGeometry` (never dilated); ``count_include_pad`` counts padded elements in
    the divisor; ``divisor_override``, when not None, divides every window instead."""

    kernel: Pair
    stride: Pair
    padding: Pair
    ceil_mode: bool
    count_include_pad: bool
    divisor_override: int | None = None

    @property
    def dilation(self):
        """Average pooling never dilates its window: (1, 1)."""
        return (1, 1)


class Window2d(NamedTuple):
    """The eight ints a window kernel (convolution, pooling) reads, named: kernel size
    ``kh, kw``, stride ``sh, sw``, padding ``ph, pw`` and dilation ``dh, dw``.

    Build one with :meth:`of_conv` or :meth:`of_pool`; a Numba kernel receives
    :meth:`flat` and unpacks it as ``kh, kw, sh, sw, ph, pw, dh, dw = window``.
    """

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int

    @classmethod
    def of_conv(cls, w_shape, geometry):
        """The window of a convolution with weights of shape ``w_shape`` (O, C/groups, kh, kw)
        and :class:`Conv2dGeometry` ``geometry``."""
        return cls._make(int(v) for v in (w_shape[2], w_shape[3], *geometry.stride,
                                          *geometry.padding, *geometry.dilation))

    @classmethod
    def of_pool(cls, geometry):
        """The window of a :class:`MaxPool2dGeometry` or :class:`AvgPool2dGeometry`."""
        return cls._make(int(v) for v in (*geometry.kernel, *geometry.stride,
                                          *geometry.padding, *geometry.dilation))

    def flat(self):
        """The plain tuple of ints a Numba kernel takes (a named tuple would be a new type)."""
        return tuple(self)


def lowest(dtype):
    """The value every max-pooling window starts from: -inf for floats, the smallest integer of
    an integer dtype (``-inf`` cast to an integer type is undefined: garbage)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return dtype.type(-np.inf)
    return dtype.type(np.iinfo(dtype).min)


def conv_output_size(size, kernel, stride, padding, dilation):
    """Output length of one spatial dimension of a convolution, PyTorch's rule::

        (size + 2*padding - dilation*(kernel - 1) - 1) // stride + 1
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pooled_size(size, kernel, stride, padding, dilation, ceil_mode):
    """Pooled length of one spatial dimension, PyTorch's ``pooling_output_shape``."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
    else:
        out = span // stride + 1
    return out


def _refuse(op, what, **values):
    shown = ", ".join(f"{k}={v}" for k, v in values.items())
    raise ValueError(f"{op} kernel: {what} ({shown}); nn.functional validates this before "
                     "calling a kernel")


def _pairs_of_ints(op, **pairs):
    for name, pair in pairs.items():
        if len(pair) != 2 or not all(isinstance(v, int) or hasattr(v, "__index__")
                                     for v in pair):
            _refuse(op, f"{name} must be a pair of ints", **{name: pair})


def check_conv_geometry(x_shape, w_shape, geometry):
    """Refuse a convolution a kernel cannot compute in bounds: x (N, C, H, W) and
    w (O, C/groups, kh, kw) 4-D, kernel >= 1, stride >= 1, padding >= 0, dilation >= 1,
    groups >= 1 dividing O and C, and the dilated kernel inside the padded input.

    ``geometry`` is a :class:`Conv2dGeometry`."""
    op = "conv2d"
    stride, padding = geometry.stride, geometry.padding
    dilation, groups = geometry.dilation, geometry.groups
    _pairs_of_ints(op, stride=stride, padding=padding, dilation=dilation)
    if len(x_shape) != 4 or len(w_shape) != 4:
        _refuse(op, "x and w must be 4-D", x_shape=x_shape, w_shape=w_shape)
    N, C, H, W = x_shape
    O, Cg, kh, kw = w_shape
    if groups < 1 or O % groups or Cg * groups != C:
        _refuse(op, "groups must be positive and divide the channels", groups=groups,
                x_shape=x_shape, w_shape=w_shape)
    if min(kh, kw) < 1 or min(stride) < 1 or min(padding) < 0 or min(dilation) < 1:
        _refuse(op, "kernel, stride, dilation must be positive and padding non-negative",
                kernel=(kh, kw), stride=stride, padding=padding, dilation=dilation)
    for size, k, p, d in ((H, kh, padding[0], dilation[0]), (W, kw, padding[1], dilation[1])):
        if size + 2 * p < d * (k - 1) + 1:
            _refuse(op, "the dilated kernel is larger than the padded input", x_shape=x_shape,
                    w_shape=w_shape, padding=padding, dilation=dilation)


def conv_output_shape(x_shape, w_shape, geometry):
    """The output shape (N, O, OH, OW) of a convolution of x (``x_shape``) with w
    (``w_shape``) and :class:`Conv2dGeometry` ``geometry``."""
    out = (conv_output_size(size, k, s, p, d) for size, k, s, p, d in
           zip(x_shape[2:], w_shape[2:], geometry.stride, geometry.padding, geometry.dilation))
    return (x_shape[0], w_shape[0], *out)


def check_pool_geometry(x_shape, geometry):
    """Refuse a pooling window a kernel cannot handle: x (N, C, H, W), kernel, stride and
    dilation >= 1, 0 <= padding <= kernel // 2 and at least one output element per dimension
    unless the input is empty. Returns the output size (OH, OW).

    ``geometry`` is a :class:`MaxPool2dGeometry` or :class:`AvgPool2dGeometry`."""
    op = "pool2d"
    kernel, stride, padding, dilation = (geometry.kernel, geometry.stride, geometry.padding,
                                         geometry.dilation)
    _pairs_of_ints(op, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    if len(x_shape) != 4:
        _refuse(op, "x must be 4-D", x_shape=x_shape)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 \
            or padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        _refuse(op, "kernel, stride, dilation must be positive and 0 <= padding <= kernel // 2",
                kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    out = tuple(pooled_size(size, k, s, p, d, geometry.ceil_mode) for size, k, s, p, d in
                zip(x_shape[2:], kernel, stride, padding, dilation))
    if min(out) < 1 and min(x_shape) > 0:
        _refuse(op, "the window is larger than the padded input", x_shape=x_shape, kernel=kernel,
                stride=stride, padding=padding, dilation=dilation)
    return out


def check_adaptive_geometry(x_shape, output_size):
    """Refuse an adaptive pooling a kernel cannot compute: x (N, C, H, W) with H, W >= 1 unless
    there is nothing to pool, and output_size a pair of ints >= 0."""
    op = "adaptive_avg_pool2d"
    _pairs_of_ints(op, output_size=output_size)
    if len(x_shape) != 4 or min(output_size) < 0:
        _refuse(op, "x must be 4-D and output_size non-negative", x_shape=x_shape,
                output_size=output_size)
    if min(x_shape[2:]) < 1 and x_shape[0] * x_shape[1] * output_size[0] * output_size[1]:
        _refuse(op, "empty input planes", x_shape=x_shape, output_size=output_size)
