"""2-D max, average and adaptive average pooling (NCHW) and their gradients: float32/float64,
and max pooling of the integer dtypes too (each window starts from the dtype's lowest value,
:func:`~microtorch.backends.geometry.lowest`).

Same semantics as the CPU backend (PyTorch's output-size rule, argmax = flat ``ih * W + iw``
within the plane, the last nan wins a max window, PyTorch's average divisors). Mapping: inputs
are viewed as ``(P, H, W)`` planes, ``P = N * C``; forward kernels run one thread per output
element; backward kernels run one thread per output-gradient element and scatter into a zeroed
``gx`` with atomic adds (windows may overlap). Every entry point checks the geometry first
(:mod:`microtorch.backends.geometry`), so no kernel is launched with a window outside its input.
Window kernels take the eight ints of a :class:`~microtorch.backends.geometry.Window2d`; the
average kernels of each float dtype are picked by name from :data:`AVG_KERNELS`.
"""

import numpy as np
from numba import cuda, float32, float64

from ..contract import registry
from ..geometry import Window2d, check_adaptive_geometry, check_pool_geometry, lowest
from . import _core
from ._core import U8, arr, b1, f32, f64, i64
from .elementwise import contiguous, fill_

REGISTRY = registry("cuda")


@cuda.jit(device=True, inline=True)
def _valid_range(start, step, k, limit):
    """Indices t in [0, k) with 0 <= start + t*step < limit, as a half-open range (lo, hi)."""
    lo = 0
    if start < 0:
        lo = min(k, (-start + step - 1) // step)
    hi = k
    if start + (k - 1) * step >= limit:
        hi = max(0, (limit - start + step - 1) // step)
    if hi < lo:
        hi = lo
    return lo, hi


@cuda.jit(device=True, inline=True)
def _avg_window(o, s, pad, k, size, count_include_pad):
    start = o * s - pad
    end = min(start + k, size + pad)
    span = end - start
    lo = max(start, 0)
    hi = min(end, size)
    if not count_include_pad:
        span = hi - lo
    return lo, hi, span


@cuda.jit(device=True, inline=True)
def _adaptive_bin(i, size, out_size):
    """Input range [start, end) of adaptive bin i: floor(i*size/out), ceil((i+1)*size/out)."""
    return (i * size) // out_size, ((i + 1) * size + out_size - 1) // out_size


@cuda.jit
def max_pool_kernel(x, window, start, y, argmax):
    """y[p, oh, ow] = max over window (oh, ow) of plane p, argmax its flat index (one thread
    per output element); ``window`` the ints of a Window2d."""
    kh, kw, sh, sw, ph, pw, dh, dw = window
    H = x.shape[1]
    W = x.shape[2]
    OH = y.shape[1]
    OW = y.shape[2]
    for t in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        ow = t % OW
        oh = (t // OW) % OH
        p = t // (OW * OH)
        h0 = oh * sh - ph
        w0 = ow * sw - pw
        i_lo, i_hi = _valid_range(h0, dh, kh, H)
        j_lo, j_hi = _valid_range(w0, dw, kw, W)
        best = start
        best_at = -1  # a window with no tap inside the input: no element, as on the CPU
        if i_lo < i_hi and j_lo < j_hi:
            best_at = (h0 + i_lo * dh) * W + w0 + j_lo * dw
        for i in range(i_lo, i_hi):
            ih = h0 + i * dh
            for j in range(j_lo, j_hi):
                iw = w0 + j * dw
                v = x[p, ih, iw]
                if v > best or v != v:
                    best = v
                    best_at = ih * W + iw
        y[p, oh, ow] = best
        argmax[p, oh, ow] = best_at


@cuda.jit
def max_pool_backward_kernel(gy, argmax, gx):
    """gx[p, argmax[p, k]] += gy[p, k] (atomic adds; gx zeroed by the caller)."""
    hw = gx.shape[1]
    k = gy.shape[1]
    for t in range(cuda.grid(1), gy.size, cuda.gridsize(1)):
        p = t // k
        i = t % k
        at = argmax[p, i]
        if at >= 0 and at < hw:
            cuda.atomic.add(gx, (p, at), gy[p, i])


def _make_avg_kernels(dt):
    """The average-pooling kernels for float type ``dt`` (divisors are cast to ``dt``), by name:
    ``avg_pool``, ``avg_pool_backward``, ``adaptive_avg``, ``adaptive_avg_backward``."""
    @cuda.jit
    def avg_pool_kernel(x, window, count_include_pad, divisor, zero, y):
        kh, kw, sh, sw, ph, pw, _, _ = window
        H = x.shape[1]
        W = x.shape[2]
        OH = y.shape[1]
        OW = y.shape[2]
        for t in range(cuda.grid(1), y.size, cuda.gridsize(1)):
            ow = t % OW
            oh = (t // OW) % OH
            p = t // (OW * OH)
            h_lo, h_hi, h_span = _avg_window(oh, sh, ph, kh, H, count_include_pad)
            w_lo, w_hi, w_span = _avg_window(ow, sw, pw, kw, W, count_include_pad)
            acc = zero
            if h_lo < h_hi and w_lo < w_hi:
                for ih in range(h_lo, h_hi):
                    for iw in range(w_lo, w_hi):
                        acc += x[p, ih, iw]
                acc = acc / (dt(h_span * w_span) if divisor == 0 else divisor)
            y[p, oh, ow] = acc

    @cuda.jit
    def avg_pool_backward_kernel(gy, window, count_include_pad, divisor, zero, gx):
        kh, kw, sh, sw, ph, pw, _, _ = window
        H = gx.shape[1]
        W = gx.shape[2]
        OH = gy.shape[1]
        OW = gy.shape[2]
        for t in range(cuda.grid(1), gy.size, cuda.gridsize(1)):
            ow = t % OW
            oh = (t // OW) % OH
            p = t // (OW * OH)
            h_lo, h_hi, h_span = _avg_window(oh, sh, ph, kh, H, count_include_pad)
            w_lo, w_hi, w_span = _avg_window(ow, sw, pw, kw, W, count_include_pad)
            if h_lo < h_hi and w_lo < w_hi:
                g = gy[p, oh, ow] / (dt(h_span * w_span) if divisor == 0 else divisor)
                for ih in range(h_lo, h_hi):
                    for iw in range(w_lo, w_hi):
                        cuda.atomic.add(gx, (p, ih, iw), g)

    @cuda.jit
    def adaptive_avg_kernel(x, zero, y):
        H = x.shape[1]
        W = x.shape[2]
        OH = y.shape[1]
        OW = y.shape[2]
        for t in range(cuda.grid(1), y.size, cuda.gridsize(1)):
            j = t % OW
            i = (t // OW) % OH
            p = t // (OW * OH)
            hs, he = _adaptive_bin(i, H, OH)
            ws, we = _adaptive_bin(j, W, OW)
            acc = zero
            for ih in range(hs, he):
                for iw in range(ws, we):
                    acc += x[p, ih, iw]
            y[p, i, j] = acc / dt((he - hs) * (we - ws))

    @cuda.jit
    def adaptive_avg_backward_kernel(gy, zero, gx):
        H = gx.shape[1]
        W = gx.shape[2]
        OH = gy.shape[1]
        OW = gy.shape[2]
        for t in range(cuda.grid(1), gy.size, cuda.gridsize(1)):
            j = t % OW
            i = (t // OW) % OH
            p = t // (OW * OH)
            hs, he = _adaptive_bin(i, H, OH)
            ws, we = _adaptive_bin(j, W, OW)
            g = gy[p, i, j] / dt((he - hs) * (we - ws))
            for ih in range(hs, he):
                for iw in range(ws, we):
                    cuda.atomic.add(gx, (p, ih, iw), g)
    return {"avg_pool": avg_pool_kernel, "avg_pool_backward": avg_pool_backward_kernel,
            "adaptive_avg": adaptive_avg_kernel,
            "adaptive_avg_backward": adaptive_avg_backward_kernel}


AVG_KERNELS = {np.dtype(np.float32): _make_avg_kernels(float32),
               np.dtype(np.float64): _make_avg_kernels(float64)}
"""The average-pooling kernels of each float dtype, by name (see :func:`_make_avg_kernels`)."""


for _dt, _kernels in ((f32, AVG_KERNELS[np.dtype(np.float32)]),
                     (f64, AVG_KERNELS[np.dtype(np.float64)])):
    _k2, _k3 = arr(_dt, 2), arr(_dt, 3)
    REGISTRY.launches(max_pool_kernel, (_k3, U8, _dt, _k3, arr(i64, 3)))
    REGISTRY.launches(max_pool_backward_kernel, (_k2, arr(i64, 2), _k2))
    REGISTRY.launches(_kernels["avg_pool"], (_k3, U8, b1, _dt, _dt, _k3))
    REGISTRY.launches(_kernels["avg_pool_backward"], (_k3, U8, b1, _dt, _dt, _k3))
    REGISTRY.launches(_kernels["adaptive_avg"], (_k3, _dt, _k3))
    REGISTRY.launches(_kernels["adaptive_avg_backward"], (_k3, _dt, _k3))


def _avg_kernel(name, dtype, op):
    """The average kernel ``name`` for ``dtype``: float32/float64 only (as PyTorch's CUDA
    ones); another dtype is refused for entry point ``op``."""
    kernels = AVG_KERNELS.get(np.dtype(dtype))
    if kernels is None:
        raise ValueError(f"{op} kernel: CUDA average pooling takes float32/float64, not {dtype}")
    return kernels[name]


def _planes(x):
    """x (N, C, H, W) as a C-contiguous (N*C, H, W) array."""
    n, c, h, w = x.shape
    return _core.reshape(contiguous(x), (n * c, h, w))


@REGISTRY.kernel("max_pool2d")
def max_pool2d(x, geometry):
    """Max pooling of x (N, C, H, W) with a
    :class:`~microtorch.backends.geometry.MaxPool2dGeometry`; returns (y, argmax), argmax =
    flat ``ih * W + iw``."""
    n, c = x.shape[0], x.shape[1]
    oh, ow = check_pool_geometry(tuple(x.shape), geometry)
    y = _core.empty((n, c, oh, ow), x.dtype)
    argmax = _core.empty((n, c, oh, ow), np.int64)
    if y.size:
        _core.launch_1d(max_pool_kernel, y.size, _planes(x), Window2d.of_pool(geometry).flat(),
                        _core.scalar(lowest(x.dtype), x.dtype),
                        _core.reshape(y, (n * c, oh, ow)),
                        _core.reshape(argmax, (n * c, oh, ow)))
    return y, argmax


@REGISTRY.kernel("max_pool2d_backward")
def max_pool2d_backward(gy, argmax, x_shape):
    """Gradient of max_pool2d: gy routed to each argmax (atomic adds into a zeroed gx)."""
    n, c, h, w = x_shape
    if tuple(gy.shape[:2]) != (n, c) or tuple(argmax.shape) != tuple(gy.shape):
        raise ValueError(f"max_pool2d_backward kernel: gy {tuple(gy.shape)} and argmax "
                         f"{tuple(argmax.shape)} do not match the input {tuple(x_shape)}")
    gx = fill_(_core.empty((n, c, h, w), gy.dtype), 0)
    if gx.size and gy.size:
        p = n * c
        _core.launch_1d(max_pool_backward_kernel, gy.size,
                        _core.reshape(contiguous(gy), (p, gy.size // p)),
                        _core.reshape(contiguous(argmax), (p, gy.size // p)),
                        _core.reshape(gx, (p, h * w)))
    return gx


@REGISTRY.kernel("avg_pool2d")
def avg_pool2d(x, geometry):
    """Average pooling of x (N, C, H, W) with an
    :class:`~microtorch.backends.geometry.AvgPool2dGeometry`: PyTorch's divisor rules (or
    ``divisor_override``)."""
    n, c = x.shape[0], x.shape[1]
    oh, ow = check_pool_geometry(tuple(x.shape), geometry)
    kernel = _avg_kernel("avg_pool", x.dtype, "avg_pool2d")
    y = _core.empty((n, c, oh, ow), x.dtype)
    if y.size:
        _core.launch_1d(kernel, y.size, _planes(x), Window2d.of_pool(geometry).flat(),
                        bool(geometry.count_include_pad),
                        _core.scalar(geometry.divisor_override or 0, x.dtype),
                        _core.scalar(0, x.dtype), _core.reshape(y, (n * c, oh, ow)))
    return y


@REGISTRY.kernel("avg_pool2d_backward")
def avg_pool2d_backward(gy, x_shape, geometry):
    """Gradient of avg_pool2d: each gy element spread evenly over its window."""
    n, c, h, w = x_shape
    out = check_pool_geometry(tuple(x_shape), geometry)
    if tuple(gy.shape) != tuple(x_shape[:2]) + out:
        raise ValueError(f"avg_pool2d_backward kernel: gy {tuple(gy.shape)} does not match the "
                         f"input {tuple(x_shape)}")
    gx = fill_(_core.empty((n, c, h, w), gy.dtype), 0)
    if gx.size and gy.size:
        kernel = _avg_kernel("avg_pool_backward", gy.dtype, "avg_pool2d_backward")
        _core.launch_1d(kernel, gy.size, _planes(gy), Window2d.of_pool(geometry).flat(),
                        bool(geometry.count_include_pad),
                        _core.scalar(geometry.divisor_override or 0, gy.dtype),
                        _core.scalar(0, gy.dtype), _core.reshape(gx, (n * c, h, w)))
    return gx


@REGISTRY.kernel("adaptive_avg_pool2d")
def adaptive_avg_pool2d(x, output_size):
    """Adaptive average pooling of x (N, C, H, W) to ``output_size`` (OH, OW)."""
    n, c, h, w = x.shape
    oh, ow = (int(s) for s in output_size)
    check_adaptive_geometry(tuple(x.shape), (oh, ow))
    kernel = _avg_kernel("adaptive_avg", x.dtype, "adaptive_avg_pool2d")
    y = _core.empty((n, c, oh, ow), x.dtype)
    if y.size:
        _core.launch_1d(kernel, y.size, _planes(x), _core.scalar(0, x.dtype),
                        _core.reshape(y, (n * c, oh, ow)))
    return y


@REGISTRY.kernel("adaptive_avg_pool2d_backward")
def adaptive_avg_pool2d_backward(gy, x_shape):
    """Gradient of adaptive_avg_pool2d: gy spread evenly over each bin."""
    n, c, h, w = x_shape
    check_adaptive_geometry(tuple(x_shape), tuple(gy.shape[2:]))
    if tuple(gy.shape[:2]) != (n, c):
        raise ValueError(f"adaptive_avg_pool2d_backward kernel: gy {tuple(gy.shape)} does not "
                         f"match the input {tuple(x_shape)}")
    gx = fill_(_core.empty((n, c, h, w), gy.dtype), 0)
    if gx.size and gy.size:
        kernel = _avg_kernel("adaptive_avg_backward", gy.dtype, "adaptive_avg_pool2d_backward")
        _core.launch_1d(kernel, gy.size, _planes(gy), _core.scalar(0, gy.dtype),
                        _core.reshape(gx, (n * c, h, w)))
    return gx
