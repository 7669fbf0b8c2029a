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

from . import _core
from .elementwise import contiguous, copy_, fill_
from .gemm import gemm4
from ..geometry import check_conv_geometry, conv_output_size


def _check(x_shape, w_shape, dtype, stride, padding, dilation, groups, gy_shape=None):
    """The backend's own check before any launch: sound geometry, a float dtype and, for the
    gradients, an output gradient shaped like the convolution's output."""
    check_conv_geometry(tuple(x_shape), tuple(w_shape), stride, padding, dilation, groups)
    if dtype.kind != "f":
        raise ValueError(f"conv2d kernel: CUDA convolutions take float32/float64, not {dtype}")
    if gy_shape is not None:
        out = tuple(conv_output_size(*args) for args in zip(x_shape[2:], w_shape[2:], stride,
                                                           padding, dilation))
        if tuple(gy_shape) != (x_shape[0], w_shape[0]) + out:
            raise ValueError(f"conv2d backward kernel: gy has shape {tuple(gy_shape)}, the output "
                             f"of this convolution is {(x_shape[0], w_shape[0]) + out}")


@cuda.jit
def im2col_kernel(x, geom, out_w, zero, cols):
    kh, kw, sh, sw, ph, pw, dh, dw = geom
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
def col2im_kernel(gcols, geom, out_h, out_w, zero, gx):
    kh, kw, sh, sw, ph, pw, dh, dw = geom
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


def _geom(w_shape, stride, padding, dilation):
    kh, kw = w_shape[2], w_shape[3]
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    return tuple(int(v) for v in (kh, kw, sh, sw, ph, pw, dh, dw))


def _im2col(x, geom, oh, ow):
    n, c = x.shape[0], x.shape[1]
    kh, kw = geom[0], geom[1]
    cols = _core.empty((c * kh * kw, n * oh * ow), x.dtype)
    if cols.size:
        _core.launch_1d(im2col_kernel, cols.size, contiguous(x), geom, ow,
                        _core.scalar(0, x.dtype), cols)
    return cols


def _batched(x3):
    """A (1, G, rows, cols) view of a 3-D array (the GEMM's 4-D form)."""
    return _core.view(x3, (1,) + tuple(x3.shape), (0,) + _core.elem_strides(x3))


def _transposed(x3):
    return _core.permute(x3, (0, 2, 1))


def _gy_groups(gy, groups):
    """gy (N, O, OH, OW) as a C-contiguous (G, Og, N * P)."""
    n, o, oh, ow = gy.shape
    g = groups
    gy4 = _core.reshape(contiguous(gy), (n, g, o // g, oh * ow))
    return _core.reshape(contiguous(_core.permute(gy4, (1, 2, 0, 3))), (g, o // g, n * oh * ow))


def conv2d(x, w, stride, padding, dilation, groups):
    """y (N, O, OH, OW) = conv2d of x (N, C, H, W) with w (O, C / groups, kh, kw)."""
    _check(x.shape, w.shape, x.dtype, stride, padding, dilation, groups)
    n, c, h, wd = x.shape
    o = w.shape[0]
    geom = _geom(w.shape, stride, padding, dilation)
    kh, kw, sh, sw, ph, pw, dh, dw = geom
    oh, ow = conv_output_size(h, kh, sh, ph, dh), conv_output_size(wd, kw, sw, pw, dw)
    g = int(groups)
    kg = (c // g) * kh * kw
    y = _core.empty((n, o, oh, ow), x.dtype)
    if y.size == 0:
        return y
    if kg == 0:  # no input channels: every sum is empty
        return fill_(y, 0)
    cols = _im2col(x, geom, oh, ow)
    ytmp = _core.empty((g, o // g, n * oh * ow), x.dtype)
    w3 = _core.reshape(contiguous(w), (g, o // g, kg))
    gemm4(_batched(w3), _batched(_core.reshape(cols, (g, kg, n * oh * ow))), _batched(ytmp))
    if n == 1:
        return _core.reshape(ytmp, (n, o, oh, ow))
    y4 = _core.permute(_core.reshape(ytmp, (g, o // g, n, oh * ow)), (2, 0, 1, 3))
    copy_(_core.reshape(y, (n, g, o // g, oh * ow)), y4)
    return y


def conv2d_grad_input(gy, w, x_shape, stride, padding, dilation, groups):
    """gx (x_shape) of conv2d given gy (N, O, OH, OW)."""
    _check(x_shape, w.shape, gy.dtype, stride, padding, dilation, groups, gy.shape)
    n, c, h, wd = x_shape
    o = w.shape[0]
    geom = _geom(w.shape, stride, padding, dilation)
    kh, kw = geom[0], geom[1]
    oh, ow = gy.shape[2], gy.shape[3]
    g = int(groups)
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
                    geom, oh, ow, _core.scalar(0, gy.dtype), gx)
    return gx


def conv2d_grad_weight(x, gy, w_shape, stride, padding, dilation, groups):
    """gw (w_shape) of conv2d given x and gy."""
    _check(x.shape, w_shape, x.dtype, stride, padding, dilation, groups, gy.shape)
    n, c, h, wd = x.shape
    o = w_shape[0]
    geom = _geom(w_shape, stride, padding, dilation)
    kh, kw = geom[0], geom[1]
    oh, ow = gy.shape[2], gy.shape[3]
    g = int(groups)
    kg = (c // g) * kh * kw
    gw = _core.empty(tuple(w_shape), x.dtype)
    if gw.size == 0:
        return gw
    cols = _core.reshape(_im2col(x, geom, oh, ow), (g, kg, n * oh * ow))
    gemm4(_batched(_gy_groups(gy, g)), _batched(_transposed(cols)),
          _batched(_core.reshape(gw, (g, o // g, kg))))
    return gw

