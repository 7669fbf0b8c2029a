"""2-D convolution for the CPU backend: the direct convolution as the reference, and
im2col / col2im and implicit-GEMM Numba kernels as the fast path.

Layout and shapes (NCHW, C-contiguous, float32 or float64)::

    x  (N, C, H, W)            w  (O, C // groups, kh, kw)          y  (N, O, OH, OW)
    OH = (H + 2*ph - dh*(kh - 1) - 1) // sh + 1      (the same for OW)

Every entry point takes its stride, padding, dilation and groups as one
:class:`~microtorch.backends.geometry.Conv2dGeometry`; the Numba kernels receive the eight ints
of a :class:`~microtorch.backends.geometry.Window2d` (``kh, kw, sh, sw, ph, pw, dh, dw``).

**Reference.** :func:`_direct_conv` and its two gradients are the textbook convolution, seven
nested loops; they are registered as the reference kernels of ``conv2d``,
``conv2d_grad_input`` and ``conv2d_grad_weight``
(:func:`microtorch.backends.cpu.use_reference_kernels`). Everything else in this module
computes the same numbers faster.

**im2col.** For one group ``g`` of a chunk of ``nb`` images, with ``K = Cg*kh*kw`` and
``L = OH*OW``::

    cols  (K, nb*L)   cols[(c, i, j), n*L + p] = x[n, c0 + c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
                      (zero where that falls in the padding; p = oh*OW + ow)
    forward       Y_g   (Og, nb*L) = W_g (Og, K)       @ cols   (K, nb*L)
    grad input    gcols (K, nb*L)  = W_g^T (K, Og)     @ GY_g   (Og, nb*L);   gx = col2im(gcols)
    grad weight   gW_g  (Og, K)   += GY_g (Og, nb*L)   @ cols^T (nb*L, K)

Several images can share one GEMM so that small feature maps (ResNet's last stage works on 2x2
maps) still give it a wide right-hand side; ``Y_g`` / ``GY_g`` are then moved between that
``(Og, nb*L)`` layout and NCHW by two small copy kernels. With one image per GEMM (``nb == 1``)
no copy is needed: an image's ``(Og, L)`` block of NCHW is contiguous. A 1x1, stride-1,
unpadded convolution needs no im2col either: ``x[n]`` viewed as ``(C, H*W)`` is its own
``cols``. The buffers are per-thread scratch arrays reused between calls (see :func:`_scratch`).

**Implicit GEMM.** A stride-1 convolution with one group never builds ``cols`` (which is
``kh*kw`` times the size of the input): see :func:`_implicit_conv`. Its input gradient is a
stride-1 convolution too, and its weight gradient the same trick transposed.

**Threads.** With at least as many images as threads (and not tiny maps) each thread takes
whole images, in chunks whose buffers stay in its L2 cache, and every kernel and GEMM call
inside runs on that thread alone (:class:`_Plan`); otherwise the images go one chunk after
another and the kernels and GEMMs split their own work over the threads.

**Integers.** int32/int64/uint8 convolutions (which PyTorch computes on the CPU) take the
textbook direct convolution :func:`_direct_conv` instead: the GEMM is float-only.

The caller (``microtorch/ops``) validates shapes and adds the bias; every entry point checks the
geometry again (:func:`microtorch.backends.geometry.check_conv_geometry`) so that no kernel can
be handed a window that reaches outside its buffers. Matrix products go through
:mod:`microtorch.backends.cpu.gemm` only, never NumPy's BLAS (its thread pool fights ours on a
small machine).
"""

import threading

import numpy as np

from .._numba import jit
from ..contract import registry
from ..geometry import Conv2dGeometry, Window2d, check_conv_geometry, conv_output_shape
from .gemm import KC_MAX, MR, VEC_BYTES, _tile, _tile_taps, gemm
from .threads import get_num_threads, parallel_for, run, split

REGISTRY = registry("cpu")

# Largest im2col buffer built at once, in elements; bigger batches are processed in chunks.
_MAX_COLS = 1 << 22
# Threads take whole images when there are at least this many output pixels per image...
_BATCH_L = 64
# ... and work through them in chunks whose im2col matrix has at most this many elements (or
# one image): 512 KiB of float32, which stays in the L2 cache.
_CACHE_COLS = 1 << 17
# Stride-1 convolutions skip im2col when the wide output grid has at most this many pixels per
# output pixel (small maps waste too much: 8x8 computes 96 per 64).
_IMPLICIT_JUNK = 1.25
# With at least this many output pixels per image, each image gets its own GEMM, which writes
# straight into (or, for pointwise convolutions, reads straight from) the NCHW arrays.
_DIRECT_L = 1024
_DIRECT_FLOPS = 16e6
# Copy kernels (im2col, col2im, packs) moving fewer elements run on one thread: waking the others
# costs tens of microseconds, more than they save on a small copy.
_PARALLEL_COPY = 1 << 18
# The weight gradient's GEMM is computed transposed when its reduction is at least this deep.
_GW_TRANSPOSED_L = 256


# --------------------------------------------------------------------------------------------
# The reference kernels: the direct convolution, seven nested loops (read these first)
# --------------------------------------------------------------------------------------------
#
# Each output pixel is a sum over the input channels of its group and the kernel's taps; a tap
# that falls in the zero padding adds nothing. The three kernels below walk the same seven loops
# (image, output channel, output row, output column, input channel, kernel row, kernel column):
# the forward pass gathers, the input gradient scatters each output gradient back onto the
# pixels its window read, the weight gradient sums input times output gradient per tap. Everything
# after this section computes the same numbers faster (tested equal in
# tests/backends/test_nn_kernels.py).

@jit
def _direct_conv(x, w, window, groups, y, n_lo, n_hi):
    """y[n, o, oh, ow] = sum over c, i, j of x[n, g*Cg + c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
    * w[o, c, i, j] (taps in the padding skipped; g = o // Og), for images n_lo..n_hi.

    The textbook convolution: the reference kernel of ``conv2d``, and the fast path of the
    integer dtypes too (the GEMM is float-only). Integer products are 64-bit and the sum is
    stored in y's dtype, so it wraps around exactly as PyTorch's integer convolution does.
    """
    kh, kw, sh, sw, ph, pw, dh, dw = window
    H, W = x.shape[2], x.shape[3]
    O, Cg = w.shape[0], w.shape[1]
    OH, OW = y.shape[2], y.shape[3]
    Og = O // groups
    zero = y.dtype.type(0)
    for n in range(n_lo, n_hi):
        for o in range(O):
            c0 = (o // Og) * Cg  # the first input channel of o's group
            for oh in range(OH):
                for ow in range(OW):
                    acc = zero
                    for c in range(Cg):
                        for i in range(kh):
                            for j in range(kw):
                                ih = oh * sh - ph + i * dh
                                iw = ow * sw - pw + j * dw
                                if 0 <= ih < H and 0 <= iw < W:
                                    acc += x[n, c0 + c, ih, iw] * w[o, c, i, j]
                    y[n, o, oh, ow] = acc


@jit
def _direct_conv_grad_input(gy, w, window, groups, gx):
    """gx[n, g*Cg + c, ih, iw] = sum of gy[n, o, oh, ow] * w[o, c, i, j] over every window
    (oh, ow) whose tap (i, j) reads input pixel (ih, iw): the loops of :func:`_direct_conv`,
    scattering instead of gathering. gx is zeroed here."""
    kh, kw, sh, sw, ph, pw, dh, dw = window
    N, H, W = gx.shape[0], gx.shape[2], gx.shape[3]
    O, Cg = w.shape[0], w.shape[1]
    OH, OW = gy.shape[2], gy.shape[3]
    Og = O // groups
    gx[...] = 0
    for n in range(N):
        for o in range(O):
            c0 = (o // Og) * Cg
            for oh in range(OH):
                for ow in range(OW):
                    g = gy[n, o, oh, ow]
                    for c in range(Cg):
                        for i in range(kh):
                            for j in range(kw):
                                ih = oh * sh - ph + i * dh
                                iw = ow * sw - pw + j * dw
                                if 0 <= ih < H and 0 <= iw < W:
                                    gx[n, c0 + c, ih, iw] += g * w[o, c, i, j]


@jit
def _direct_conv_grad_weight(x, gy, window, groups, gw):
    """gw[o, c, i, j] = sum over n, oh, ow of gy[n, o, oh, ow] * x[n, g*Cg + c, ih, iw] with
    (ih, iw) the pixel tap (i, j) of window (oh, ow) reads (none in the padding): the loops of
    :func:`_direct_conv` once more. gw is zeroed here."""
    kh, kw, sh, sw, ph, pw, dh, dw = window
    N, H, W = x.shape[0], x.shape[2], x.shape[3]
    O, Cg = gw.shape[0], gw.shape[1]
    OH, OW = gy.shape[2], gy.shape[3]
    Og = O // groups
    gw[...] = 0
    for n in range(N):
        for o in range(O):
            c0 = (o // Og) * Cg
            for oh in range(OH):
                for ow in range(OW):
                    g = gy[n, o, oh, ow]
                    for c in range(Cg):
                        for i in range(kh):
                            for j in range(kw):
                                ih = oh * sh - ph + i * dh
                                iw = ow * sw - pw + j * dw
                                if 0 <= ih < H and 0 <= iw < W:
                                    gw[o, c, i, j] += g * x[n, c0 + c, ih, iw]


def _checked_inputs(x, w, geometry):
    """x and w, C-contiguous, once the geometry is sound and their dtypes agree."""
    check_conv_geometry(x.shape, w.shape, geometry)
    if x.dtype != w.dtype:
        raise ValueError(f"conv2d kernel: x ({x.dtype}) and w ({w.dtype}) differ in dtype")
    return np.ascontiguousarray(x), np.ascontiguousarray(w)


def _check_gy(gy, x_shape, w_shape, geometry):
    """Refuse an output gradient whose shape is not the convolution's output shape."""
    out = conv_output_shape(tuple(x_shape), tuple(w_shape), geometry)
    if tuple(gy.shape) != out:
        raise ValueError(f"conv2d backward kernel: gy has shape {gy.shape}, the output of this "
                         f"convolution is {out}")


@REGISTRY.reference("conv2d")
def conv2d_reference(x, w, geometry):
    """:func:`conv2d` computed by the direct convolution :func:`_direct_conv`."""
    x, w = _checked_inputs(x, w, geometry)
    y = np.empty(conv_output_shape(x.shape, w.shape, geometry), dtype=x.dtype)
    _direct_conv(x, w, Window2d.of_conv(w.shape, geometry).flat(), int(geometry.groups), y, 0,
                 x.shape[0])
    return y


@REGISTRY.reference("conv2d_grad_input")
def conv2d_grad_input_reference(gy, w, x_shape, geometry):
    """:func:`conv2d_grad_input` computed by the direct loops :func:`_direct_conv_grad_input`."""
    check_conv_geometry(tuple(x_shape), w.shape, geometry)
    _check_gy(gy, x_shape, w.shape, geometry)
    gx = np.empty(tuple(x_shape), dtype=gy.dtype)
    _direct_conv_grad_input(np.ascontiguousarray(gy), np.ascontiguousarray(w),
                            Window2d.of_conv(w.shape, geometry).flat(), int(geometry.groups), gx)
    return gx


@REGISTRY.reference("conv2d_grad_weight")
def conv2d_grad_weight_reference(x, gy, w_shape, geometry):
    """:func:`conv2d_grad_weight` computed by the direct loops :func:`_direct_conv_grad_weight`."""
    check_conv_geometry(x.shape, tuple(w_shape), geometry)
    _check_gy(gy, x.shape, w_shape, geometry)
    gw = np.empty(tuple(w_shape), dtype=x.dtype)
    _direct_conv_grad_weight(np.ascontiguousarray(x), np.ascontiguousarray(gy),
                             Window2d.of_conv(w_shape, geometry).flat(), int(geometry.groups),
                             gw)
    return gw


def _copy(kernel, size, n, *args):
    """Run a copy kernel ``kernel(*args, lo, hi)`` over its n outer iterations: split over the
    threads, or on the calling thread when it moves fewer than _PARALLEL_COPY elements."""
    parallel_for(kernel, n, *args, serial=size < _PARALLEL_COPY)


@jit(inline="always")
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


# The copy loops below index flat views with unsigned (uint64) offsets: Numba then skips its
# negative-index wraparound test, which otherwise keeps LLVM from vectorising them (3-6x slower).
# Keep every operand of an offset expression uint64: uint64 mixed with int64 gives float64.


@jit
def _im2col(x, n0, c0, window, OH, OW, cols, r_lo, r_hi):
    """Fill rows r_lo..r_hi of cols (Cg*kh*kw, nb*OH*OW) from images n0..n0+nb and channels
    c0..c0+Cg of x.

    window: :meth:`Window2d.flat() <microtorch.backends.geometry.Window2d.flat>`. Threads take
    blocks of rows of cols; writes every element (zeros for padding) and reads x only inside its
    bounds.
    """
    kh, kw, sh, sw, ph, pw, dh, dw = window
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    L = OH * OW
    K, ncols = cols.shape
    nb = ncols // L
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    zero = cols.dtype.type(0)
    step = np.uint64(sw)
    width = np.uint64(OW)
    for r in range(r_lo, r_hi):
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        # output columns ow whose input column iw = iw0 + ow*sw lies inside [0, W)
        iw0 = j * dw - pw
        ow_lo, ow_hi = _valid_range(iw0, sw, OW, W)
        lo = np.uint64(ow_lo)
        hi = np.uint64(ow_hi)
        for n in range(nb):
            for oh in range(OH):
                ih = oh * sh - ph + i * dh
                dst = np.uint64(r * ncols + n * L + oh * OW)
                if ih < 0 or ih >= H:
                    for ow in range(width):
                        cf[dst + ow] = zero
                    continue
                # src + ow*sw >= 0 for every ow >= lo
                src = np.uint64(((n0 + n) * C + c0 + c) * H * W + ih * W + iw0 + ow_lo * sw)
                for ow in range(lo):
                    cf[dst + ow] = zero
                if sw == 1:  # contiguous: a plain copy LLVM vectorises
                    for t in range(hi - lo):
                        cf[dst + lo + t] = xf[src + t]
                else:
                    for ow in range(lo, hi):
                        cf[dst + ow] = xf[src + (ow - lo) * step]
                for ow in range(hi, width):
                    cf[dst + ow] = zero


@jit
def _col2im(gcols, n0, c0, Cg, window, OH, OW, gx, q_lo, q_hi):
    """Overwrite gx[n0:n0+nb, c0:c0+Cg] with the sum of gcols (Cg*kh*kw, nb*OH*OW) over windows,
    for the (image, channel) planes q_lo..q_hi (q = n*Cg + c).

    Threads take blocks of planes, so no two threads write the same element.
    """
    kh, kw, sh, sw, ph, pw, dh, dw = window
    C, H, W = gx.shape[1], gx.shape[2], gx.shape[3]
    L = OH * OW
    ncols = gcols.shape[1]
    gf = gcols.reshape(-1)
    xf = gx.reshape(-1)
    zero = gx.dtype.type(0)
    step = np.uint64(sw)
    plane_size = np.uint64(H * W)
    for q in range(q_lo, q_hi):
        n = q // Cg
        c = q % Cg
        plane = np.uint64(((n0 + n) * C + c0 + c) * H * W)
        for t in range(plane_size):
            xf[plane + t] = zero
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                iw0 = j * dw - pw
                ow_lo, ow_hi = _valid_range(iw0, sw, OW, W)
                lo = np.uint64(ow_lo)
                hi = np.uint64(ow_hi)
                for oh in range(OH):
                    ih = oh * sh - ph + i * dh
                    if ih < 0 or ih >= H:
                        continue
                    src = np.uint64(r * ncols + n * L + oh * OW)
                    dst = plane + np.uint64(ih * W + iw0 + ow_lo * sw)
                    if sw == 1:
                        for t in range(hi - lo):
                            xf[dst + t] += gf[src + lo + t]
                    else:
                        for ow in range(lo, hi):
                            xf[dst + (ow - lo) * step] += gf[src + ow]


@jit
def _pack(src, n0, o0, dst, q_lo, q_hi):
    """dst (Og, nb*L)[o, n*L + p] = src (N, O, L)[n0 + n, o0 + o, p] for q = o*nb + n in
    [q_lo, q_hi)."""
    L = src.shape[2]
    nb = dst.shape[1] // L
    for q in range(q_lo, q_hi):
        o = q // nb
        n = q % nb
        for p in range(L):
            dst[o, n * L + p] = src[n0 + n, o0 + o, p]


@jit
def _unpack(src, n0, o0, dst, q_lo, q_hi):
    """dst (N, O, L)[n0 + n, o0 + o, p] = src (Og, nb*L)[o, n*L + p] for q = o*nb + n in
    [q_lo, q_hi); the inverse of _pack."""
    L = dst.shape[2]
    nb = src.shape[1] // L
    for q in range(q_lo, q_hi):
        o = q // nb
        n = q % nb
        for p in range(L):
            dst[n0 + n, o0 + o, p] = src[o, n * L + p]


@jit
def _pack_t(src, n0, o0, dst, q_lo, q_hi):
    """dst (nb*L, Og)[n*L + p, o] = src (N, O, L)[n0 + n, o0 + o, p] for q = n*Og + o in
    [q_lo, q_hi): _pack, transposed."""
    Og = dst.shape[1]
    L = src.shape[2]
    for q in range(q_lo, q_hi):
        n = q // Og
        o = q % Og
        for p in range(L):
            dst[n * L + p, o] = src[n0 + n, o0 + o, p]


# --------------------------------------------------------------------------------------------
# Stride-1 convolution without im2col ("implicit GEMM")
# --------------------------------------------------------------------------------------------
#
# Pad one image into xp (C, P): channel c's plane is row c, Hp x Wp (Hp = H + 2ph,
# Wp = W + 2pw) followed by zeros. Compute the output on a "wide" grid of OH x Wp pixels (the
# last Wp - OW columns of each row are junk, never copied out), flat index p = oh*Wp + ow. Then
# the im2col row of tap (i, j) and channel c is a contiguous run of xp's row c:
#     cols[(c, i, j), p] = xp[c, i*dh*Wp + j*dw + p]
# so  Y_wide (O, OH*Wp) = sum over taps t of  W_t (O, C) @ xp[:, off_t : off_t + OH*Wp],
# a GEMM whose right operand is read in place: the micro-kernel runs through every tap of a
# tile while its sums stay in registers (gemm._tile_taps). Nothing the size of the im2col
# matrix is written.

@jit
def _pad_image(x, n, ph, pw, Wp, xp):
    """xp[c, :Hp*Wp] = image n of x (N, C, H, W) zero-padded by ph rows / pw columns on each
    side, as Hp x Wp planes; the rest of each row of xp is zeroed."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    P = xp.shape[1]
    zero = xp.dtype.type(0)
    for c in range(C):
        row = xp[c]
        for t in range(ph * Wp):
            row[t] = zero
        for h in range(H):
            dst = row[(ph + h) * Wp:(ph + h + 1) * Wp]
            src = x[n, c, h]
            for t in range(pw):
                dst[t] = zero
            for t in range(W):
                dst[pw + t] = src[t]
            for t in range(pw + W, Wp):
                dst[t] = zero
        for t in range((ph + H) * Wp, P):
            row[t] = zero


@jit
def _implicit_tiles(w, wgeom, xp, taps, yw, i_lo, i_hi):
    """yw[i_lo:i_hi] = sum_t W_t[i_lo:i_hi] @ xp[:, taps[t] : taps[t] + Lw] (see above).

    The weights are read in place from the flat array w: with wgeom = (O, C, sa, sp, st, base),
    W_t[o, c] = w[base + o*sa + c*sp + t*st]. xp (C, P); yw (ceil(O/MR)*MR, Lw) with Lw a
    multiple of the sliver width NR and i_lo of MR, so every tile is a full MR x NR tile (rows
    past O are junk).
    """
    O, C, sa, sp, st, base = wgeom
    ldb = xp.shape[1]
    ldc = yw.shape[1]
    nr = 2 * (VEC_BYTES // yw.itemsize)
    for p0 in range(0, C, KC_MAX):
        kc = min(KC_MAX, C - p0)
        for i in range(i_lo, min(i_hi, O), MR):
            rows = min(MR, O - i)
            for j in range(0, ldc, nr):
                _tile_taps(kc, w, base + i * sa + p0 * sp, sa, sp, st, rows, xp, p0 * ldb + j,
                           ldb, taps, yw, i * ldc + j, ldc, p0 > 0)


@jit
def _crop_image(yw, OH, Wp, y, n, o_lo, o_hi):
    """y[n, o, oh, ow] = yw[o, oh*Wp + ow] for o in [o_lo, o_hi): the valid columns of the wide
    output grid."""
    OW = y.shape[3]
    for o in range(o_lo, min(o_hi, y.shape[1])):
        for oh in range(OH):
            src = yw[o, oh * Wp:oh * Wp + OW]
            dst = y[n, o, oh]
            for t in range(OW):
                dst[t] = src[t]


@jit
def _implicit_images(x, w, wgeom, taps, ph, pw, Wp, y, xp, yw, n_lo, n_hi):
    """Images n_lo..n_hi of a stride-1 convolution: pad, multiply, crop (one thread's share)."""
    for n in range(n_lo, n_hi):
        _pad_image(x, n, ph, pw, Wp, xp)
        _implicit_rows(w, wgeom, xp, taps, yw, y, n, Wp, 0, yw.shape[0])


@jit
def _implicit_rows(w, wgeom, xp, taps, yw, y, n, Wp, i_lo, i_hi):
    """Output channels i_lo..i_hi of image n: :func:`_implicit_tiles`, then their crop."""
    _implicit_tiles(w, wgeom, xp, taps, yw, i_lo, i_hi)
    _crop_image(yw, y.shape[2], Wp, y, n, i_lo, i_hi)


@jit
def _wide_transpose(gy, n, Wp, gyt):
    """gyt (OH*Wp, Ow)[oh*Wp + ow, o] = gy[n, o, oh, ow]: image n's output gradient on the
    wide grid, transposed; zero in the junk columns (ow >= OW) and past O (o >= O)."""
    O, OH, OW = gy.shape[1], gy.shape[2], gy.shape[3]
    zero = gyt.dtype.type(0)
    gyt[:] = zero
    for o in range(O):
        for oh in range(OH):
            src = gy[n, o, oh]
            for ow in range(OW):
                gyt[oh * Wp + ow, o] = src[ow]


@jit
def _implicit_grad_tiles(xp, gyt, taps, gwt, t_lo, t_hi):
    """gwt[t] (C, O) += xp[:, taps[t] : taps[t] + Lw] @ gyt (Lw, O) for taps t_lo..t_hi.

    The weight gradient of one image on the wide grid (junk columns of gyt are zero). gwt is
    (T, ceil(C/MR)*MR, Ow) with Ow a multiple of the sliver width, so every tile is full; gyt
    is (Lw, Ow), its columns past O zero.
    """
    Lw, Ow = gyt.shape
    C = xp.shape[0]
    lda = xp.shape[1]
    Cr = gwt.shape[1]
    width = VEC_BYTES // gwt.itemsize
    for t in range(t_lo, t_hi):
        for p0 in range(0, Lw, KC_MAX):
            kc = min(KC_MAX, Lw - p0)
            for i in range(0, C, MR):
                rows = min(MR, C - i)
                for j in range(0, Ow, 2 * width):
                    c_off = (t * Cr + i) * Ow + j
                    if Ow - j == width:
                        _tile(kc, xp, i * lda + taps[t] + p0, lda, 1, rows, gyt, p0 * Ow + j,
                              Ow, gwt, c_off, Ow, True, 1)
                    else:
                        _tile(kc, xp, i * lda + taps[t] + p0, lda, 1, rows, gyt, p0 * Ow + j,
                              Ow, gwt, c_off, Ow, True, 2)


def _implicit_conv(plan, x, w, y, flipped=False):
    """y = conv2d(x, w) for stride 1 and one group, without im2col (see above).

    ``flipped``: w is (C, O, kh, kw) and the convolution uses it turned by 180 degrees with its
    channel axes swapped (the input gradient of a convolution with weights w); the weights are
    read in place either way.
    """
    win = plan.window
    kh, kw, ph, pw, dh, dw = win.kh, win.kw, win.ph, win.pw, win.dh, win.dw
    O, C, T = plan.O, plan.C, kh * kw
    Hp, Wp = plan.H + 2 * ph, plan.W + 2 * pw
    nr = 2 * (VEC_BYTES // x.itemsize)
    Lw = -(-plan.OH * Wp // nr) * nr          # wide grid, rounded up to whole slivers
    P = Hp * Wp + (kw - 1) * dw + nr          # room for the last tap's last sliver
    taps = np.array([i * dh * Wp + j * dw for i in range(kh) for j in range(kw)], np.int64)
    # W_t[o, c] = wf[base + o*sa + c*sp + t*st]
    wgeom = (O, C, T, O * T, -1, T - 1) if flipped else (O, C, C * T, T, 1, 0)
    wf = np.ascontiguousarray(w).reshape(-1)
    rows = -(-O // MR) * MR

    def buffers():
        return (_take(_scratch("cols", C * P, x.dtype), C, P),
                _take(_scratch("out", rows * Lw, x.dtype), rows, Lw))

    if len(plan.ranges) > 1:  # whole images per thread
        def share(n_lo, n_hi):
            xp, yw = buffers()
            _implicit_images(x, wf, wgeom, taps, ph, pw, Wp, y, xp, yw, n_lo, n_hi)
        run([(share, bounds) for bounds in plan.ranges])
        return
    # few images: the threads share each image's output channels (and so read a part of the
    # weights each, the bulk of the memory traffic in late layers)
    xp, yw = buffers()
    for n in range(plan.N):
        _pad_image(x, n, ph, pw, Wp, xp)
        run([(_implicit_rows, (wf, wgeom, xp, taps, yw, y, n, Wp, lo * MR, hi * MR))
             for lo, hi in split(rows // MR)])


@jit
def _implicit_grad_images(x, gy, taps, ph, pw, Wp, xp, gyt, gwt, n_lo, n_hi):
    """Add the weight gradient of images n_lo..n_hi of a stride-1 convolution to gwt."""
    for n in range(n_lo, n_hi):
        _pad_image(x, n, ph, pw, Wp, xp)
        _wide_transpose(gy, n, Wp, gyt)
        _implicit_grad_tiles(xp, gyt, taps, gwt, 0, taps.shape[0])


def _implicit_grad_weight(plan, x, gy):
    """conv2d_grad_weight for stride 1 and one group, without im2col: returns gw (O, C, kh, kw)."""
    win = plan.window
    kh, kw, ph, pw, dh, dw = win.kh, win.kw, win.ph, win.pw, win.dh, win.dw
    C, O, dtype = plan.C, plan.O, x.dtype
    Hp, Wp = plan.H + 2 * ph, plan.W + 2 * pw
    width = VEC_BYTES // x.itemsize
    P = Hp * Wp + (kw - 1) * dw + 2 * width
    taps = np.array([i * dh * Wp + j * dw for i in range(kh) for j in range(kw)], np.int64)
    Ow, Cr = -(-O // width) * width, -(-C // MR) * MR
    partials = [np.zeros((kh * kw, Cr, Ow), dtype) for _ in plan.ranges]

    def buffers():
        return (_take(_scratch("cols", C * P, dtype), C, P),
                _take(_scratch("gy", plan.OH * Wp * Ow, dtype), plan.OH * Wp, Ow))

    if len(plan.ranges) > 1:  # whole images per thread, each into its own partial sum
        def share(gwt, n_lo, n_hi):
            xp, gyt = buffers()
            _implicit_grad_images(x, gy, taps, ph, pw, Wp, xp, gyt, gwt, n_lo, n_hi)
        run([(share, (gwt, lo, hi)) for gwt, (lo, hi) in zip(partials, plan.ranges)])
        for part in partials[1:]:
            partials[0] += part
    else:  # few images: the threads take the taps of each image
        xp, gyt = buffers()
        for n in range(plan.N):
            _pad_image(x, n, ph, pw, Wp, xp)
            _wide_transpose(gy, n, Wp, gyt)
            run([(_implicit_grad_tiles, (xp, gyt, taps, partials[0], lo, hi))
                 for lo, hi in split(kh * kw)])
    gwt = partials[0][:, :C, :O].reshape(kh, kw, C, O)
    return np.ascontiguousarray(gwt.transpose(3, 2, 0, 1))


_workspace = threading.local()


def _scratch(slot, size, dtype):
    """A flat scratch array of at least size elements, kept between calls (per thread).

    Reusing the im2col buffer matters: a fresh multi-megabyte np.empty is fresh memory from the
    OS, and its page faults cost as much as the im2col itself. The buffers only grow; each
    thread keeps at most three per dtype (about 3 * _MAX_COLS elements at worst).
    """
    cache = getattr(_workspace, "buffers", None)
    if cache is None:
        cache = _workspace.buffers = {}
    key = (slot, np.dtype(dtype).str)
    buf = cache.get(key)
    if buf is None or buf.size < size:
        buf = cache[key] = np.empty(size, dtype=dtype)
    return buf


def _take(buf, rows, cols):
    """A C-contiguous (rows, cols) matrix on the front of the flat scratch buffer buf."""
    return buf[:rows * cols].reshape(rows, cols)


class _Plan:
    """Sizes, the split of the batch over threads, and the chunking shared by the forward and
    both backward passes.

    With enough images and output pixels each thread takes whole images (``ranges``, one per
    thread) and works through them in chunks of ``nb`` images whose im2col matrix fits in its
    L2 cache (``_CACHE_COLS``): the im2col buffer is written and read back from cache, and every
    kernel call runs on its thread alone. Otherwise (one image, or small late-stage maps where
    the weights dominate) the images are processed in chunks one after another, and the
    im2col/GEMM calls themselves are split over the threads.
    """

    def __init__(self, x_shape, w_shape, geometry, batch_all=False):
        N, C, H, W = (int(s) for s in x_shape)
        O, Cg, kh, kw = (int(s) for s in w_shape)
        self.N, self.C, self.H, self.W = N, C, H, W
        self.O, self.Cg, self.G = O, Cg, int(geometry.groups)
        self.Og = O // self.G
        self.window = win = Window2d.of_conv(w_shape, geometry)
        self.OH, self.OW = conv_output_shape(x_shape, w_shape, geometry)[2:]
        self.L = self.OH * self.OW
        self.K = Cg * kh * kw
        self.pointwise = (kh, kw, win.sh, win.sw, win.ph, win.pw) == (1, 1, 1, 1, 0, 0)
        threads = get_num_threads()
        per_image = max(1, self.K * self.L)
        if threads > 1 and N >= threads and self.L >= _BATCH_L:
            self.ranges = split(N, threads)
            self.nb = max(1, _CACHE_COLS // per_image)
            if batch_all:  # the weight gradient's GEMM sums over nb*L: keep that deep
                self.nb = max(self.nb, -(-_GW_TRANSPOSED_L // self.L))
            self.nb = min(self.nb, N // threads)
        else:
            self.ranges = [(0, N)]
            # One image per GEMM writes straight into the output, but only pays when that GEMM
            # is big enough to run near peak; small ones share a GEMM (and a copy back to NCHW).
            if self.L >= _DIRECT_L and 2 * self.Og * self.K * self.L >= _DIRECT_FLOPS \
                    and not batch_all:
                self.nb = 1
            else:
                self.nb = max(1, min(N, _MAX_COLS // per_image))
        # stride 1 and one group: no im2col (see _implicit_conv), unless the wide grid (rounded
        # up to whole slivers) has too many junk pixels, compared with the columns per image of
        # the im2col GEMM (nb images' columns, rounded up to whole slivers)
        wide = -(-self.OH * (W + 2 * win.pw) // 32) * 32
        cols = -(-self.L * self.nb // 32) * 32 / self.nb
        self.implicit = (win.sh, win.sw) == (1, 1) and self.G == 1 and not self.pointwise \
            and wide <= _IMPLICIT_JUNK * cols

    def chunks(self, n_lo, n_hi):
        """(n0, nb): the chunks of at most self.nb images covering images n_lo..n_hi."""
        for n0 in range(n_lo, n_hi, self.nb):
            yield n0, min(self.nb, n_hi - n0)

    def cols(self, x, n0, nb, g, buf):
        """The (K, nb*L) im2col matrix of images n0..n0+nb, group g (a view when possible)."""
        c0 = g * self.Cg
        if self.pointwise:
            x3 = x.reshape(self.N, self.C, self.L)
            if nb == 1:
                return x3[n0, c0:c0 + self.Cg]
            cols = _take(buf, self.K, nb * self.L)
            _copy(_pack, cols.size, self.K * nb, x3, n0, c0, cols)
            return cols
        cols = _take(buf, self.K, nb * self.L)
        _copy(_im2col, cols.size, self.K, x, n0, c0, self.window.flat(), self.OH, self.OW,
              cols)
        return cols

    def gy_block(self, gy3, n0, nb, g, buf):
        """GY_g (Og, nb*L) of images n0..n0+nb (a view of gy when nb == 1)."""
        o0 = g * self.Og
        if nb == 1:
            return gy3[n0, o0:o0 + self.Og]
        block = _take(buf, self.Og, nb * self.L)
        _copy(_pack, block.size, self.Og * nb, gy3, n0, o0, block)
        return block


@REGISTRY.kernel("conv2d")
def conv2d(x, w, geometry):
    """Cross-correlation y = conv2d(x, w) without bias, as ``torch.nn.functional.conv2d``.

    x (N, C, H, W) and w (O, C // groups, kh, kw) of one dtype; ``geometry`` a
    :class:`~microtorch.backends.geometry.Conv2dGeometry` (padding symmetric, zeros). Returns a
    new C-contiguous y (N, O, OH, OW).
    """
    x, w = _checked_inputs(x, w, geometry)
    plan = _Plan(x.shape, w.shape, geometry)
    N, O = plan.N, plan.O
    y = np.empty((N, O, plan.OH, plan.OW), dtype=x.dtype)
    if y.size == 0:
        return y
    if plan.K == 0:  # no input channels: every sum is empty
        y[...] = 0
        return y
    if x.dtype.kind != "f":
        parallel_for(_direct_conv, N, x, w, plan.window.flat(), plan.G, y,
                     serial=x.size * plan.K < _PARALLEL_COPY)
        return y
    if plan.implicit:
        _implicit_conv(plan, x, w, y)
        return y
    w2, y3 = w.reshape(O, plan.K), y.reshape(N, O, plan.L)
    run([(_forward, (plan, x, w2, y3, lo, hi)) for lo, hi in plan.ranges])
    return y


def _forward(plan, x, w2, y3, n_lo, n_hi):
    """y3 (N, O, L) for images n_lo..n_hi: one thread's share of :func:`conv2d`."""
    Og, L, K = plan.Og, plan.L, plan.K
    cols_buf = None if plan.pointwise and plan.nb == 1 else \
        _scratch("cols", K * plan.nb * L, x.dtype)
    out_buf = _scratch("out", Og * plan.nb * L, x.dtype) if plan.nb > 1 else None
    for n0, nb in plan.chunks(n_lo, n_hi):
        for g in range(plan.G):
            cols = plan.cols(x, n0, nb, g, cols_buf)
            wg = w2[g * Og:(g + 1) * Og]
            if nb == 1:
                gemm(wg, cols, out=y3[n0, g * Og:(g + 1) * Og])
            else:
                out = _take(out_buf, Og, nb * L)
                gemm(wg, cols, out=out)
                _copy(_unpack, out.size, Og * nb, out, n0, g * Og, y3)


@REGISTRY.kernel("conv2d_grad_input")
def conv2d_grad_input(gy, w, x_shape, geometry):
    """Gradient of conv2d with respect to x: gx (x_shape) from gy (N, O, OH, OW) and w.

    Same conventions as :func:`conv2d`; input rows/columns that no window reaches (when
    (H + 2*ph - dh*(kh-1) - 1) is not a multiple of sh) get zero gradient. When the forward
    pass skips im2col (stride 1, see :func:`_implicit_conv`) so does this one: the input
    gradient is then itself a stride-1 convolution, of gy with the kernel turned by 180 degrees
    and its channel axes swapped. Otherwise a GEMM and col2im.
    """
    check_conv_geometry(tuple(x_shape), w.shape, geometry)
    gy = np.ascontiguousarray(gy)
    w = np.ascontiguousarray(w)
    plan = _Plan(x_shape, w.shape, geometry)
    _check_gy(gy, x_shape, w.shape, geometry)
    N, C, O, L = plan.N, plan.C, plan.O, plan.L
    win = plan.window
    kh, kw, ph, pw, dh, dw = win.kh, win.kw, win.ph, win.pw, win.dh, win.dw
    if L == 0 or O == 0:
        return np.zeros(x_shape, dtype=gy.dtype)
    gx = np.empty((N, C, plan.H, plan.W), dtype=gy.dtype)
    if gx.size == 0:
        return gx
    if plan.implicit and ph <= dh * (kh - 1) and pw <= dw * (kw - 1):
        back = _Plan(gy.shape, (C, O, kh, kw), _flipped_geometry(win))
        _implicit_conv(back, gy, w, gx, flipped=True)
        return gx
    run([(_grad_input, (plan, gy.reshape(N, O, L), w.reshape(O, plan.K), gx, lo, hi))
         for lo, hi in plan.ranges])
    return gx


def _flipped_geometry(window):
    """The geometry of the stride-1 convolution that computes the input gradient of a stride-1
    convolution with ``window``: the full padding ``d*(k - 1) - p`` on each side."""
    return Conv2dGeometry(stride=(1, 1),
                          padding=(window.dh * (window.kh - 1) - window.ph,
                                   window.dw * (window.kw - 1) - window.pw),
                          dilation=(window.dh, window.dw), groups=1)


def _grad_input(plan, gy3, w2, gx, n_lo, n_hi):
    """gx for images n_lo..n_hi by GEMM and col2im: one thread's share of conv2d_grad_input."""
    Og, Cg, L, K = plan.Og, plan.Cg, plan.L, plan.K
    dtype = gy3.dtype
    gy_buf = _scratch("gy", Og * plan.nb * L, dtype) if plan.nb > 1 else None
    if plan.pointwise:
        gx3 = gx.reshape(plan.N, plan.C, L)
        out_buf = _scratch("out", Cg * plan.nb * L, dtype) if plan.nb > 1 else None
    else:
        gcols_buf = _scratch("cols", K * plan.nb * L, dtype)
    for n0, nb in plan.chunks(n_lo, n_hi):
        for g in range(plan.G):
            gyg = plan.gy_block(gy3, n0, nb, g, gy_buf)
            wgt = w2[g * Og:(g + 1) * Og].T
            if plan.pointwise and nb == 1:
                gemm(wgt, gyg, out=gx3[n0, g * Cg:(g + 1) * Cg])
            elif plan.pointwise:
                out = _take(out_buf, Cg, nb * L)
                gemm(wgt, gyg, out=out)
                _copy(_unpack, out.size, Cg * nb, out, n0, g * Cg, gx3)
            else:
                gcols = _take(gcols_buf, K, nb * L)
                gemm(wgt, gyg, out=gcols)
                _copy(_col2im, gcols.size, nb * Cg, gcols, n0, g * Cg, Cg, plan.window.flat(),
                      plan.OH, plan.OW, gx)


@REGISTRY.kernel("conv2d_grad_weight")
def conv2d_grad_weight(x, gy, w_shape, geometry):
    """Gradient of conv2d with respect to w: gw (w_shape) from x (N, C, H, W) and gy.

    Same conventions as :func:`conv2d`; sums over the batch in x's dtype. Without a split of
    the batch over threads, images are batched into one GEMM whatever their size (bounded by
    ``_MAX_COLS``); with one, each thread sums its images into a partial gw, and the partials
    are added at the end. When a GEMM has a deep reduction (``nb*L >= _GW_TRANSPOSED_L``) it is
    computed transposed, as ``gW_g^T (K, Og) = cols (K, nb*L) @ GY_g^T (nb*L, Og)`` with both
    operands contiguous, which the GEMM runs 1.5-3x faster than ``GY_g @ cols^T`` (whose right
    operand is a transposed view); the transpose back costs K*Og copies.
    """
    check_conv_geometry(x.shape, tuple(w_shape), geometry)
    x = np.ascontiguousarray(x)
    gy = np.ascontiguousarray(gy)
    plan = _Plan(x.shape, w_shape, geometry, batch_all=True)
    _check_gy(gy, x.shape, w_shape, geometry)
    N, O, L, K = plan.N, plan.O, plan.L, plan.K
    gw = np.zeros((O, K), dtype=x.dtype)
    if N == 0 or L == 0 or gw.size == 0:
        return gw.reshape(w_shape)
    if plan.implicit:
        return _implicit_grad_weight(plan, x, gy)
    partials = [gw] + [np.empty_like(gw) for _ in plan.ranges[1:]]
    gy3 = gy.reshape(N, O, L)
    run([(_grad_weight, (plan, x, gy3, part, lo, hi))
         for part, (lo, hi) in zip(partials, plan.ranges)])
    for part in partials[1:]:
        gw += part
    return gw.reshape(w_shape)


def _grad_weight(plan, x, gy3, gw, n_lo, n_hi):
    """Overwrite gw (O, K) with the weight gradient of images n_lo..n_hi: one thread's share
    of conv2d_grad_weight."""
    Og, L, K = plan.Og, plan.L, plan.K
    dtype = x.dtype
    cols_buf = None if plan.pointwise and plan.nb == 1 else \
        _scratch("cols", K * plan.nb * L, dtype)
    gy_buf = _scratch("gy", Og * plan.nb * L, dtype)
    partial_buf = _scratch("out", Og * K, dtype)
    first = True
    for n0, nb in plan.chunks(n_lo, n_hi):
        for g in range(plan.G):
            cols = plan.cols(x, n0, nb, g, cols_buf)
            gwg = gw[g * Og:(g + 1) * Og]
            if nb * L >= _GW_TRANSPOSED_L:
                gyt = _take(gy_buf, nb * L, Og)
                _copy(_pack_t, gyt.size, nb * Og, gy3, n0, g * Og, gyt)
                result = gemm(cols, gyt, out=_take(partial_buf, K, Og)).T
            else:
                gyg = plan.gy_block(gy3, n0, nb, g, gy_buf)
                if first:  # straight into gw: no copy
                    gemm(gyg, cols.T, out=gwg)
                    continue
                result = gemm(gyg, cols.T, out=_take(partial_buf, Og, K))
            if first:
                gwg[...] = result
            else:
                gwg += result
        first = False
