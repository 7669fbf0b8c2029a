"""2-D max, average and adaptive average pooling for the CPU backend (NCHW; float32/float64,
and the integer dtypes PyTorch pools: max pooling of int32/int64/uint8, average of int64).

Every kernel views its input as ``(P, H, W)`` planes (``P = N*C``) and threads take blocks of
planes, so forward and backward write disjoint memory without atomics. The output size follows
PyTorch's rule::

    OH = floor_or_ceil((H + 2*ph - dh*(kh - 1) - 1) / sh) + 1
    with ceil_mode, drop the last window if it would start at or beyond H + ph

Windows are clipped to the input: max pooling starts each window from the dtype's lowest value
(-inf, or the integer minimum) and pads with it, average pooling divides by PyTorch's divisor
(see :func:`avg_pool2d`). The caller validates shapes, ``padding <= kernel // 2`` and positive
output sizes; :mod:`microtorch.backends.geometry` checks them again here, so that no kernel ever
indexes outside its buffers.

The reference kernels come first: one plain loop per output element over its window, as a
textbook writes them. The fast kernels after them compute the same numbers with the windows
clipped to the input once per row and column (no bounds test per tap) and the planes split
over the threads.
"""

import numpy as np

from .._numba import jit
from ..contract import registry
from ..geometry import Window2d, check_adaptive_geometry, check_pool_geometry, lowest, pooled_size
from .threads import parallel_for

REGISTRY = registry("cpu")


# --------------------------------------------------------------------------------------------
# The reference kernels: one loop over every output element and its window (read these first)
# --------------------------------------------------------------------------------------------

@jit
def _max_pool_loops(x, window, lowest, y, argmax):
    """y[n, c, oh, ow] = the largest x[n, c, ih, iw] over the taps (ih, iw) of window (oh, ow)
    inside the input; argmax = its flat index ih*W + iw in the plane.

    The first largest tap wins a tie, a NaN wins (the last NaN seen); a window with no tap
    inside the input gives ``lowest`` and argmax -1.
    """
    kh, kw, sh, sw, ph, pw, dh, dw = window
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    best = lowest
                    best_at = -1  # no tap inside the input yet
                    for i in range(kh):
                        for j in range(kw):
                            ih = oh * sh - ph + i * dh
                            iw = ow * sw - pw + j * dw
                            if 0 <= ih < H and 0 <= iw < W:
                                v = x[n, c, ih, iw]
                                if best_at == -1 or v > best or v != v:
                                    best = v
                                    best_at = ih * W + iw
                    y[n, c, oh, ow] = best
                    argmax[n, c, oh, ow] = best_at


@jit
def _max_pool_backward_loops(gy, argmax, gx):
    """gx[n, c] (flat over its plane) = the sum of gy[n, c, oh, ow] over the windows whose
    maximum sits there (argmax); a window without one (-1) gives nothing. gx is zeroed here."""
    N, C, OH, OW = gy.shape
    H, W = gx.shape[2], gx.shape[3]
    gx[...] = 0
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    at = argmax[n, c, oh, ow]
                    if 0 <= at < H * W:
                        gx[n, c, at // W, at % W] += gy[n, c, oh, ow]


@jit(inline="always")
def _avg_window(o, stride, padding, kernel, size, count_include_pad):
    """PyTorch's average-pooling window number ``o`` along one dimension: the input range
    [lo, hi) it covers and its share of the divisor (padding included when
    ``count_include_pad``)."""
    start = o * stride - padding
    end = min(start + kernel, size + padding)  # cut at the padded border
    lo, hi = max(start, 0), min(end, size)
    return lo, hi, (end - start if count_include_pad else hi - lo)


@jit
def _avg_pool_loops(x, window, count_include_pad, divisor_override, integer, y):
    """y[n, c, oh, ow] = sum of x over window (oh, ow) clipped to the input / its divisor:
    ``divisor_override`` when not 0, else the window's size, padding included when
    ``count_include_pad``. An empty window gives 0; ``integer`` (int64): the division rounds
    toward zero, as C's and PyTorch's."""
    kh, kw, sh, sw, ph, pw, _, _ = window
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    zero = y.dtype.type(0)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h_lo, h_hi, h_div = _avg_window(oh, sh, ph, kh, H, count_include_pad)
                for ow in range(OW):
                    w_lo, w_hi, w_div = _avg_window(ow, sw, pw, kw, W, count_include_pad)
                    d = divisor_override if divisor_override else h_div * w_div
                    acc = zero
                    for ih in range(h_lo, h_hi):
                        for iw in range(w_lo, w_hi):
                            acc += x[n, c, ih, iw]
                    if h_lo >= h_hi or w_lo >= w_hi:
                        y[n, c, oh, ow] = zero
                    elif integer:
                        q = abs(acc) // abs(d)
                        y[n, c, oh, ow] = q if (acc < 0) == (d < 0) else -q
                    else:
                        y[n, c, oh, ow] = acc / d


@jit
def _avg_pool_backward_loops(gy, window, count_include_pad, divisor_override, gx):
    """gx = each gy[n, c, oh, ow] / its divisor added to every input of its window (clipped to
    the input; the divisor as in :func:`_avg_pool_loops`). gx is zeroed here."""
    kh, kw, sh, sw, ph, pw, _, _ = window
    N, C, H, W = gx.shape
    OH, OW = gy.shape[2], gy.shape[3]
    gx[...] = 0
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h_lo, h_hi, h_div = _avg_window(oh, sh, ph, kh, H, count_include_pad)
                for ow in range(OW):
                    w_lo, w_hi, w_div = _avg_window(ow, sw, pw, kw, W, count_include_pad)
                    d = divisor_override if divisor_override else h_div * w_div
                    for ih in range(h_lo, h_hi):
                        for iw in range(w_lo, w_hi):
                            gx[n, c, ih, iw] += gy[n, c, oh, ow] / d


@jit(inline="always")
def _adaptive_bin(i, size, out):
    """Adaptive bin ``i`` of ``out`` along a dimension of ``size``: the input range
    [floor(i*size/out), ceil((i+1)*size/out))."""
    return (i * size) // out, ((i + 1) * size + out - 1) // out


@jit
def _adaptive_avg_loops(x, y):
    """y[n, c, oh, ow] = the mean of x[n, c] over adaptive bin (oh, ow)."""
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    zero = y.dtype.type(0)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h_lo, h_hi = _adaptive_bin(oh, H, OH)
                for ow in range(OW):
                    w_lo, w_hi = _adaptive_bin(ow, W, OW)
                    acc = zero
                    for ih in range(h_lo, h_hi):
                        for iw in range(w_lo, w_hi):
                            acc += x[n, c, ih, iw]
                    y[n, c, oh, ow] = acc / ((h_hi - h_lo) * (w_hi - w_lo))


@jit
def _adaptive_avg_backward_loops(gy, gx):
    """gx = each gy[n, c, oh, ow] / the size of bin (oh, ow) added to every input of the bin.
    gx is zeroed here."""
    N, C, H, W = gx.shape
    OH, OW = gy.shape[2], gy.shape[3]
    gx[...] = 0
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h_lo, h_hi = _adaptive_bin(oh, H, OH)
                for ow in range(OW):
                    w_lo, w_hi = _adaptive_bin(ow, W, OW)
                    g = gy[n, c, oh, ow] / ((h_hi - h_lo) * (w_hi - w_lo))
                    for ih in range(h_lo, h_hi):
                        for iw in range(w_lo, w_hi):
                            gx[n, c, ih, iw] += g


@REGISTRY.reference("max_pool2d")
def max_pool2d_reference(x, geometry):
    """:func:`max_pool2d` computed by the plain loops of :func:`_max_pool_loops`."""
    N, C = x.shape[:2]
    OH, OW = check_pool_geometry(x.shape, geometry)
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    argmax = np.empty((N, C, OH, OW), dtype=np.int64)
    _max_pool_loops(np.ascontiguousarray(x), Window2d.of_pool(geometry).flat(),
                    lowest(x.dtype), y, argmax)
    return y, argmax


@REGISTRY.reference("max_pool2d_backward")
def max_pool2d_backward_reference(gy, argmax, x_shape):
    """:func:`max_pool2d_backward` computed by the plain loops of
    :func:`_max_pool_backward_loops`."""
    _check_max_pool_backward(gy, argmax, x_shape)
    gx = np.empty(tuple(x_shape), dtype=gy.dtype)
    _max_pool_backward_loops(np.ascontiguousarray(gy),
                             np.ascontiguousarray(argmax, dtype=np.int64), gx)
    return gx


@REGISTRY.reference("avg_pool2d")
def avg_pool2d_reference(x, geometry):
    """:func:`avg_pool2d` computed by the plain loops of :func:`_avg_pool_loops`."""
    N, C = x.shape[:2]
    OH, OW = check_pool_geometry(x.shape, geometry)
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    _avg_pool_loops(np.ascontiguousarray(x), Window2d.of_pool(geometry).flat(),
                    bool(geometry.count_include_pad), int(geometry.divisor_override or 0),
                    x.dtype.kind in "iub", y)
    return y


@REGISTRY.reference("avg_pool2d_backward")
def avg_pool2d_backward_reference(gy, x_shape, geometry):
    """:func:`avg_pool2d_backward` computed by the plain loops of
    :func:`_avg_pool_backward_loops`."""
    _check_avg_pool_backward(gy, x_shape, geometry)
    gx = np.empty(tuple(x_shape), dtype=gy.dtype)
    _avg_pool_backward_loops(np.ascontiguousarray(gy), Window2d.of_pool(geometry).flat(),
                             bool(geometry.count_include_pad),
                             int(geometry.divisor_override or 0), gx)
    return gx


@REGISTRY.reference("adaptive_avg_pool2d")
def adaptive_avg_pool2d_reference(x, output_size):
    """:func:`adaptive_avg_pool2d` computed by the plain loops of :func:`_adaptive_avg_loops`."""
    OH, OW = (int(s) for s in output_size)
    check_adaptive_geometry(x.shape, (OH, OW))
    y = np.empty(x.shape[:2] + (OH, OW), dtype=x.dtype)
    _adaptive_avg_loops(np.ascontiguousarray(x), y)
    return y


@REGISTRY.reference("adaptive_avg_pool2d_backward")
def adaptive_avg_pool2d_backward_reference(gy, x_shape):
    """:func:`adaptive_avg_pool2d_backward` computed by the plain loops of
    :func:`_adaptive_avg_backward_loops`."""
    _check_adaptive_backward(gy, x_shape)
    gx = np.empty(tuple(x_shape), dtype=gy.dtype)
    _adaptive_avg_backward_loops(np.ascontiguousarray(gy), gx)
    return gx


# --------------------------------------------------------------------------------------------
# The fast kernels: windows clipped once per row and column, planes split over the threads
# --------------------------------------------------------------------------------------------

# Smaller inputs are pooled on one thread: waking another costs more than it saves.
_PARALLEL_SIZE = 1 << 16


@jit
def _max_pool_kernel(x, h_start, h_taps, w_start, w_taps, dilation, start, y, argmax, p_lo,
                     p_hi):
    """y[p, oh, ow] = max over the window; argmax = its flat index ih*W + iw in the plane.

    Window (oh, ow) reads rows h_start[oh] + i*dh for i in [h_taps[oh, 0], h_taps[oh, 1]) and
    the same for columns: :func:`_taps` has clipped those to the input. Each window starts
    from ``start``, the dtype's lowest value (:func:`~microtorch.backends.geometry.lowest`).
    Ties keep the first maximum in row-major window order; a NaN wins (the last NaN seen), as
    in PyTorch. A window with no tap inside the input (dilation can step over it) gives the
    lowest value and argmax -1: no element, so the backward gives its gradient to none
    (PyTorch's index there points outside the plane). x (P, H, W); y, argmax (P, OH, OW).
    """
    dh, dw = dilation
    P, H, W = x.shape
    OH, OW = y.shape[1], y.shape[2]
    for p in range(p_lo, p_hi):
        for oh in range(OH):
            h0 = h_start[oh]
            i_lo, i_hi = h_taps[oh, 0], h_taps[oh, 1]
            for ow in range(OW):
                w0 = w_start[ow]
                j_lo, j_hi = w_taps[ow, 0], w_taps[ow, 1]
                best = start
                best_at = (h0 + i_lo * dh) * W + w0 + j_lo * dw
                if i_lo == i_hi or j_lo == j_hi:
                    best_at = -1
                for i in range(i_lo, i_hi):
                    ih = h0 + i * dh
                    for j in range(j_lo, j_hi):
                        at = ih * W + w0 + j * dw
                        v = x[p, ih, w0 + j * dw]
                        take = (v > best) | (v != v)
                        best = v if take else best
                        best_at = at if take else best_at
                y[p, oh, ow] = best
                argmax[p, oh, ow] = best_at


def _taps(size, kernel, stride, padding, dilation, out):
    """Window starts (out,) and the taps [lo, hi) of each that fall inside [0, size), (out, 2).

    A window with no tap inside (dilation can step over the whole input) gets lo = hi = 0
    (:func:`_max_pool_kernel` gives it argmax -1).
    """
    start = np.arange(out, dtype=np.int64) * stride - padding
    t = np.arange(kernel, dtype=np.int64)
    pos = start[:, None] + t[None, :] * dilation
    inside = (pos >= 0) & (pos < size)
    lo = np.where(inside.any(axis=1), inside.argmax(axis=1), 0)
    hi = np.where(inside.any(axis=1), kernel - inside[:, ::-1].argmax(axis=1), 0)
    start = np.where(inside.any(axis=1), start, np.clip(start, 0, max(size - 1, 0)))
    return start, np.ascontiguousarray(np.stack([lo, hi], axis=1))


@jit
def _max_pool_backward_kernel(gy, argmax, gx, p_lo, p_hi):
    """gx[p, argmax[p, k]] += gy[p, k]; gx (P, H*W) is zeroed here; bad indices are skipped."""
    P, HW = gx.shape
    K = gy.shape[1]
    zero = gx.dtype.type(0)
    for p in range(p_lo, p_hi):
        for t in range(HW):
            gx[p, t] = zero
        for k in range(K):
            at = argmax[p, k]
            if at >= 0 and at < HW:
                gx[p, at] += gy[p, k]


@jit
def _avg_kernel(x, h_lo, h_hi, w_lo, w_hi, div, integer, y, p_lo, p_hi):
    """y[p, oh, ow] = sum(x[p, h_lo[oh]:h_hi[oh], w_lo[ow]:w_hi[ow]]) / div[oh, ow].

    The windows (clipped to the input, possibly empty) and divisors come from :func:`_windows`
    or :func:`_bins`; average and adaptive average pooling share this kernel. ``integer``
    (int64 input): the sum is divided as C divides integers, rounding toward zero, as PyTorch.
    """
    OH, OW = y.shape[1], y.shape[2]
    zero = x.dtype.type(0)
    for p in range(p_lo, p_hi):
        for oh in range(OH):
            for ow in range(OW):
                acc = zero
                for ih in range(h_lo[oh], h_hi[oh]):
                    for iw in range(w_lo[ow], w_hi[ow]):
                        acc += x[p, ih, iw]
                d = div[oh, ow]
                if integer:
                    q = abs(acc) // abs(d)
                    y[p, oh, ow] = q if (acc < 0) == (d < 0) else -q
                else:
                    y[p, oh, ow] = acc / d


@jit
def _avg_backward_kernel(gy, h_lo, h_hi, w_lo, w_hi, div, gx, p_lo, p_hi):
    """gx (P, H, W) = sum over the windows covering each input of gy / div (zeroed here)."""
    P, H, W = gx.shape
    OH, OW = gy.shape[1], gy.shape[2]
    zero = gx.dtype.type(0)
    for p in range(p_lo, p_hi):
        for ih in range(H):
            for iw in range(W):
                gx[p, ih, iw] = zero
        for oh in range(OH):
            for ow in range(OW):
                g = gy[p, oh, ow] / div[oh, ow]
                for ih in range(h_lo[oh], h_hi[oh]):
                    for iw in range(w_lo[ow], w_hi[ow]):
                        gx[p, ih, iw] += g


def _windows(size, kernel, stride, padding, ceil_mode, count_include_pad):
    """Clipped windows [lo, hi) of avg_pool2d along one dimension and each one's divisor share.

    PyTorch's rule: a window is first cut at the padded border (size + padding); its length
    then is the divisor share when count_include_pad, else the length clipped to the input.
    """
    out = pooled_size(size, kernel, stride, padding, 1, ceil_mode)
    start = np.arange(out, dtype=np.int64) * stride - padding
    end = np.minimum(start + kernel, size + padding)
    lo, hi = np.maximum(start, 0), np.minimum(end, size)
    hi = np.maximum(hi, lo)
    share = end - start if count_include_pad else hi - lo
    return lo, hi, share


def _bins(size, out):
    """Adaptive pooling bins along one dimension: [floor(i*size/out), ceil((i+1)*size/out))."""
    i = np.arange(out, dtype=np.int64)
    lo = (i * size) // out
    hi = -((-(i + 1) * size) // out)
    return lo, hi, hi - lo


def _divisor(h_share, w_share, h_lo, h_hi, w_lo, w_hi, dtype, override=None):
    """(OH, OW) divisors; empty windows get 1 so that they average to 0, as in PyTorch.
    ``override``: one divisor for every window (``divisor_override``)."""
    if override is not None:
        return np.full((len(h_share), len(w_share)), override, dtype=dtype)
    div = np.multiply.outer(h_share, w_share)
    empty = np.logical_or.outer(h_hi <= h_lo, w_hi <= w_lo)
    div[empty | (div == 0)] = 1
    return div.astype(dtype)


def _by_planes(kernel, size, planes, *args):
    """Run ``kernel(*args, p_lo, p_hi)`` over the planes, one block of planes per thread, or on
    the calling thread when the input (or gradient) has fewer than _PARALLEL_SIZE elements."""
    parallel_for(kernel, planes, *args, serial=size < _PARALLEL_SIZE)


def _planes(x):
    """x (N, C, H, W) as a C-contiguous (N*C, H, W) array."""
    x = np.ascontiguousarray(x)
    N, C, H, W = x.shape
    return x.reshape(N * C, H, W)


def _check_max_pool_backward(gy, argmax, x_shape):
    """Refuse an output gradient or argmax that does not match the input's batch and channels."""
    N, C = x_shape[:2]
    if tuple(gy.shape[:2]) != (N, C) or tuple(argmax.shape) != tuple(gy.shape):
        raise ValueError(f"max_pool2d_backward kernel: gy {gy.shape} and argmax {argmax.shape} "
                         f"do not match the input {tuple(x_shape)}")


def _check_avg_pool_backward(gy, x_shape, geometry):
    """Refuse an output gradient that is not shaped like the pooling's output."""
    out = check_pool_geometry(tuple(x_shape), geometry)
    if tuple(gy.shape) != tuple(x_shape[:2]) + out:
        raise ValueError(f"avg_pool2d_backward kernel: gy {gy.shape} does not match the input "
                         f"{tuple(x_shape)}")


def _check_adaptive_backward(gy, x_shape):
    """Refuse an output gradient that does not match the input's batch and channels."""
    check_adaptive_geometry(tuple(x_shape), tuple(gy.shape[2:]))
    if tuple(gy.shape[:2]) != tuple(x_shape[:2]):
        raise ValueError(f"adaptive_avg_pool2d_backward kernel: gy {gy.shape} does not match the "
                         f"input {tuple(x_shape)}")


@REGISTRY.kernel("max_pool2d")
def max_pool2d(x, geometry):
    """Max pooling of x (N, C, H, W) with a
    :class:`~microtorch.backends.geometry.MaxPool2dGeometry`.

    Returns (y, argmax), both (N, C, OH, OW); argmax (int64) holds the flat index ih*W + iw of
    each maximum within its (H, W) plane, as ``torch.nn.functional.max_pool2d(...,
    return_indices=True)``. Padding acts as the dtype's lowest value
    (:func:`~microtorch.backends.geometry.lowest`): never selected unless a whole window holds it.
    """
    N, C, H, W = x.shape
    win = Window2d.of_pool(geometry)
    OH, OW = check_pool_geometry(x.shape, geometry)
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    argmax = np.empty((N, C, OH, OW), dtype=np.int64)
    if y.size:
        h_start, h_taps = _taps(H, win.kh, win.sh, win.ph, win.dh, OH)
        w_start, w_taps = _taps(W, win.kw, win.sw, win.pw, win.dw, OW)
        _by_planes(_max_pool_kernel, x.size, N * C, _planes(x), h_start, h_taps, w_start,
                   w_taps, (win.dh, win.dw), lowest(x.dtype), y.reshape(N * C, OH, OW),
                   argmax.reshape(N * C, OH, OW))
    return y, argmax


@REGISTRY.kernel("max_pool2d_backward")
def max_pool2d_backward(gy, argmax, x_shape):
    """Gradient of max_pool2d: gx (x_shape) with gy (N, C, OH, OW) routed to each argmax."""
    _check_max_pool_backward(gy, argmax, x_shape)
    N, C, H, W = x_shape
    gx = np.empty((N, C, H, W), dtype=gy.dtype)
    if gx.size:
        gy = np.ascontiguousarray(gy).reshape(N * C, -1)
        argmax = np.ascontiguousarray(argmax, dtype=np.int64).reshape(N * C, -1)
        _by_planes(_max_pool_backward_kernel, gx.size, N * C, gy, argmax,
                   gx.reshape(N * C, H * W))
    return gx


def _avg_windows(x_shape, geometry, dtype):
    """The clipped windows of an average pooling along H and W and their (OH, OW) divisors:
    (h_lo, h_hi, w_lo, w_hi, div), what :func:`_avg` and :func:`_avg_backward` take."""
    H, W = x_shape[2], x_shape[3]
    (kh, kw), (sh, sw), (ph, pw) = geometry.kernel, geometry.stride, geometry.padding
    ceil_mode, count_include_pad = geometry.ceil_mode, geometry.count_include_pad
    h_lo, h_hi, h_share = _windows(H, kh, sh, ph, ceil_mode, count_include_pad)
    w_lo, w_hi, w_share = _windows(W, kw, sw, pw, ceil_mode, count_include_pad)
    div = _divisor(h_share, w_share, h_lo, h_hi, w_lo, w_hi, dtype, geometry.divisor_override)
    return h_lo, h_hi, w_lo, w_hi, div


@REGISTRY.kernel("avg_pool2d")
def avg_pool2d(x, geometry):
    """Average pooling of x (N, C, H, W) with an
    :class:`~microtorch.backends.geometry.AvgPool2dGeometry`.

    Each window is clipped to the padded input; its sum is divided by ``divisor_override`` when
    given, else by the clipped window's size when count_include_pad (padding counts, but in
    ceil mode never the part beyond the padded border), else by the number of real input
    elements in it; a window with no input element gives 0. As PyTorch's CPU kernel.
    """
    check_pool_geometry(x.shape, geometry)
    h_lo, h_hi, w_lo, w_hi, div = _avg_windows(x.shape, geometry, x.dtype)
    return _avg(x, h_lo, h_hi, w_lo, w_hi, div)


@REGISTRY.kernel("avg_pool2d_backward")
def avg_pool2d_backward(gy, x_shape, geometry):
    """Gradient of avg_pool2d: each gy element spread evenly (gy / divisor) over its window."""
    _check_avg_pool_backward(gy, x_shape, geometry)
    h_lo, h_hi, w_lo, w_hi, div = _avg_windows(x_shape, geometry, gy.dtype)
    return _avg_backward(gy, x_shape, h_lo, h_hi, w_lo, w_hi, div)


@REGISTRY.kernel("adaptive_avg_pool2d")
def adaptive_avg_pool2d(x, output_size):
    """Adaptive average pooling of x (N, C, H, W) to output_size (OH, OW).

    Output cell (i, j) averages rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1 and the same for
    columns, as ``torch.nn.functional.adaptive_avg_pool2d``.
    """
    OH, OW = (int(s) for s in output_size)
    check_adaptive_geometry(x.shape, (OH, OW))
    h_lo, h_hi, h_share = _bins(x.shape[2], OH)
    w_lo, w_hi, w_share = _bins(x.shape[3], OW)
    return _avg(x, h_lo, h_hi, w_lo, w_hi,
                _divisor(h_share, w_share, h_lo, h_hi, w_lo, w_hi, x.dtype))


@REGISTRY.kernel("adaptive_avg_pool2d_backward")
def adaptive_avg_pool2d_backward(gy, x_shape):
    """Gradient of adaptive_avg_pool2d: gy (N, C, OH, OW) spread evenly over each bin."""
    _check_adaptive_backward(gy, x_shape)
    OH, OW = gy.shape[2], gy.shape[3]
    h_lo, h_hi, h_share = _bins(x_shape[2], OH)
    w_lo, w_hi, w_share = _bins(x_shape[3], OW)
    return _avg_backward(gy, x_shape, h_lo, h_hi, w_lo, w_hi,
                         _divisor(h_share, w_share, h_lo, h_hi, w_lo, w_hi, gy.dtype))


def _avg(x, h_lo, h_hi, w_lo, w_hi, div):
    N, C = x.shape[:2]
    y = np.empty((N, C, len(h_lo), len(w_lo)), dtype=x.dtype)
    if y.size:
        _by_planes(_avg_kernel, x.size, N * C, _planes(x), h_lo, h_hi, w_lo, w_hi, div,
                   x.dtype.kind in "iub", y.reshape(N * C, *div.shape))
    return y


def _avg_backward(gy, x_shape, h_lo, h_hi, w_lo, w_hi, div):
    N, C, H, W = x_shape
    gx = np.empty((N, C, H, W), dtype=gy.dtype)
    if gx.size:
        _by_planes(_avg_backward_kernel, gx.size, N * C, _planes(gy), h_lo, h_hi, w_lo, w_hi,
                   div, gx.reshape(N * C, H, W))
    return gx
