"""2-D convolution (NCHW, groups, stride, padding, dilation) and both gradients: im2col + GEMM.

``im2col`` writes ``cols`` of shape ``(C * kh * kw, N * OH * OW)``: row ``(c, i, j)`` holds,
for every output position of every image, the input pixel that kernel tap ``(i, j)`` of channel
``c`` sees (0 in the padding); one thread per element of ``cols``, neighbouring threads take
neighbouring output positions. Seen as ``(G, Kg, N * P)`` (``Kg = C / G * kh * kw``,
``P = OH * OW``) the three products are batched GEMMs over the groups (see ``gemm.py``):

* forward:      ``Y[g] (Og, N*P) = W[g] (Og, Kg) @ cols[g]``, then one copy into NCHW order;
* grad weight:  ``gW[g] = gY[g] (Og, N*P) @ cols[g].T`` (a transposed view, no copy);
* grad input:   ``gcols[g] = W[g].T @ gY[g]``, then ``col2im``: one thread per input pixel
  gathers the taps that read it (no atomics, deterministic).

Float32/float64 only (the GEMM's dtypes); every entry point checks the geometry first
(:func:`microtorch.backends.geometry.check_conv_geometry`), so no kernel is launched with a
window that reaches outside its buffers.
"""

from numba import cuda

from ..contract import registry
from ..geometry import Window2d, check_conv_geometry, conv_output_shape
from . import _core
from ._core import U8, arr, f32, f64, i64
from .elementwise import contiguous, copy_, fill_
from .gemm import gemm4

REGISTRY = registry("cuda")


def _check(x_shape, w_shape, dtype, geometry, gy_shape=None):
    """The backend's own check before any launch: sound geometry (a
    :class:`~microtorch.backends.geometry.Conv2dGeometry`), a float dtype and, for the
    gradients, an output gradient shaped like the convolution's output."""
    check_conv_geometry(tuple(x_shape), tuple(w_shape), geometry)
    if dtype.kind != "f":
        raise ValueError(f"conv2d kernel: CUDA convolutions take float32/float64, not {dtype}")
    if gy_shape is not None:
        out = conv_output_shape(tuple(x_shape), tuple(w_shape), geometry)
        if tuple(gy_shape) != out:
            raise ValueError(f"conv2d backward kernel: gy has shape {tuple(gy_shape)}, the output "
                             f"of this convolution is {out}")


@cuda.jit
def im2col_kernel(x, window, out_w, zero, cols):
    """cols[(c, i, j), n*P + p] = the pixel of x[n, c] that tap (i, j) of output position p
    reads, 0 in the padding (one thread per element of cols); ``window`` the ints of a
    Window2d."""
    kh, kw, sh, sw, ph, pw, dh, dw = window
    N = x.shape[0]
    H = x.shape[2]
    W = x.shape[3]
    NP = cols.shape[1]
    P = NP // N
    for t in range(cuda.grid(1), cols.size, cuda.gridsize(1)):
        col = t % NP
        row = t // NP
        j = row % kw
        i = (row // kw) % kh
        c = row // (kw * kh)
        n = col // P
        p = col % P
        ih = (p // out_w) * sh - ph + i * dh
        iw = (p % out_w) * sw - pw + j * dw
        if 0 <= ih < H and 0 <= iw < W:
            cols[row, col] = x[n, c, ih, iw]
        else:
            cols[row, col] = zero


@cuda.jit
def col2im_kernel(gcols, window, out_h, out_w, zero, gx):
    """gx[n, c, h, w] = the sum of the gcols entries of every tap that reads pixel (h, w) (one
    thread per input pixel: a gather, no atomics)."""
    kh, kw, sh, sw, ph, pw, dh, dw = window
    C = gx.shape[1]
    H = gx.shape[2]
    W = gx.shape[3]
    P = out_h * out_w
    for t in range(cuda.grid(1), gx.size, cuda.gridsize(1)):
        w = t % W
        h = (t // W) % H
        c = (t // (W * H)) % C
        n = t // (W * H * C)
        acc = zero
        for i in range(kh):
            hh = h + ph - i * dh
            if hh < 0 or hh % sh != 0:
                continue
            oh = hh // sh
            if oh >= out_h:
                continue
            for j in range(kw):
                ww = w + pw - j * dw
                if ww < 0 or ww % sw != 0:
                    continue
                ow = ww // sw
                if ow >= out_w:
                    continue
                acc += gcols[(c * kh + i) * kw + j, n * P + oh * out_w + ow]
        gx[n, c, h, w] = acc


for _dt in (f32, f64):
    REGISTRY.launches(im2col_kernel, (arr(_dt, 4), U8, i64, _dt, arr(_dt, 2)))
    REGISTRY.launches(col2im_kernel, (arr(_dt, 2), U8, i64, i64, _dt, arr(_dt, 4)))


def _im2col(x, window, oh, ow):
    """The (C*kh*kw, N*OH*OW) im2col matrix of x for a :class:`Window2d`."""
    n, c = x.shape[0], x.shape[1]
    cols = _core.empty((c * window.kh * window.kw, n * oh * ow), x.dtype)
    if cols.size:
        _core.launch_1d(im2col_kernel, cols.size, contiguous(x), window.flat(), ow,
                        _core.scalar(0, x.dtype), cols)
    return cols


def _batched(x3):
    """A (1, G, rows, cols) view of a 3-D array (the GEMM's 4-D form)."""
    return _core.view(x3, (1,) + tuple(x3.shape), (0,) + _core.elem_strides(x3))


def _transposed(x3):
    """A (G, rows, cols) array viewed as (G, cols, rows)."""
    return _core.permute(x3, (0, 2, 1))


def _gy_groups(gy, groups):
    """gy (N, O, OH, OW) as a C-contiguous (G, Og, N * P)."""
    n, o, oh, ow = gy.shape
    g = groups
    gy4 = _core.reshape(contiguous(gy), (n, g, o // g, oh * ow))
    return _core.reshape(contiguous(_core.permute(gy4, (1, 2, 0, 3))), (g, o // g, n * oh * ow))


@REGISTRY.kernel("conv2d")
def conv2d(x, w, geometry):
    """y (N, O, OH, OW) = conv2d of x (N, C, H, W) with w (O, C / groups, kh, kw) and a
    :class:`~microtorch.backends.geometry.Conv2dGeometry`."""
    _check(x.shape, w.shape, x.dtype, geometry)
    n, c = x.shape[0], x.shape[1]
    o = w.shape[0]
    window = Window2d.of_conv(w.shape, geometry)
    oh, ow = conv_output_shape(tuple(x.shape), tuple(w.shape), geometry)[2:]
    g = int(geometry.groups)
    kg = (c // g) * window.kh * window.kw
    y = _core.empty((n, o, oh, ow), x.dtype)
    if y.size == 0:
        return y
    if kg == 0:  # no input channels: every sum is empty
        return fill_(y, 0)
    cols = _im2col(x, window, oh, ow)
    ytmp = _core.empty((g, o // g, n * oh * ow), x.dtype)
    w3 = _core.reshape(contiguous(w), (g, o // g, kg))
    gemm4(_batched(w3), _batched(_core.reshape(cols, (g, kg, n * oh * ow))), _batched(ytmp))
    if n == 1:
        return _core.reshape(ytmp, (n, o, oh, ow))
    y4 = _core.permute(_core.reshape(ytmp, (g, o // g, n, oh * ow)), (2, 0, 1, 3))
    copy_(_core.reshape(y, (n, g, o // g, oh * ow)), y4)
    return y


@REGISTRY.kernel("conv2d_grad_input")
def conv2d_grad_input(gy, w, x_shape, geometry):
    """gx (x_shape) of conv2d given gy (N, O, OH, OW)."""
    _check(x_shape, w.shape, gy.dtype, geometry, gy.shape)
    n, c, h, wd = x_shape
    o = w.shape[0]
    window = Window2d.of_conv(w.shape, geometry)
    kh, kw = window.kh, window.kw
    oh, ow = gy.shape[2], gy.shape[3]
    g = int(geometry.groups)
    kg = (c // g) * kh * kw
    gx = _core.empty((n, c, h, wd), gy.dtype)
    if gx.size == 0:
        return gx
    if gy.size == 0:
        return fill_(gx, 0)
    gyg = _gy_groups(gy, g)
    w3 = _core.reshape(contiguous(w), (g, o // g, kg))
    gcols = _core.empty((g, kg, n * oh * ow), gy.dtype)
    gemm4(_batched(_transposed(w3)), _batched(gyg), _batched(gcols))
    _core.launch_1d(col2im_kernel, gx.size, _core.reshape(gcols, (c * kh * kw, n * oh * ow)),
                    window.flat(), oh, ow, _core.scalar(0, gy.dtype), gx)
    return gx


@REGISTRY.kernel("conv2d_grad_weight")
def conv2d_grad_weight(x, gy, w_shape, geometry):
    """gw (w_shape) of conv2d given x and gy."""
    _check(x.shape, w_shape, x.dtype, geometry, gy.shape)
    n, c = x.shape[0], x.shape[1]
    o = w_shape[0]
    window = Window2d.of_conv(w_shape, geometry)
    kh, kw = window.kh, window.kw
    oh, ow = gy.shape[2], gy.shape[3]
    g = int(geometry.groups)
    kg = (c // g) * kh * kw
    gw = _core.empty(tuple(w_shape), x.dtype)
    if gw.size == 0:
        return gw
    cols = _core.reshape(_im2col(x, window, oh, ow), (g, kg, n * oh * ow))
    gemm4(_batched(_gy_groups(gy, g)), _batched(_transposed(cols)),
          _batched(_core.reshape(gw, (g, o // g, kg))))
    return gw

