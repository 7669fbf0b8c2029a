"""GEMM (general matrix multiply) for the CPU backend: ``C = A @ B`` in float32 and float64.

A textbook triple loop reaches a few GFLOP/s: every multiply-add loads and stores memory. This
module follows the structure of GotoBLAS/BLIS, which keeps the floating-point units busy by
moving each number as few times as possible through the memory hierarchy:

**Register tile (micro-kernel).** :func:`_tile` computes an ``MR x NR`` tile of C for ``kc``
steps of the K dimension with its sums held in vector registers: each step loads two vectors
of B (``NR`` numbers), broadcasts ``MR`` numbers of A and does ``2 * MR`` vector fused
multiply-adds. With AVX-512 (32 ``zmm`` registers) the tile is ``8 x 32`` float32 / ``8 x 16``
float64: 16 accumulators, 10 loads per 16 FMAs; with AVX2 (16 ``ymm`` registers) it is
``6 x 16`` / ``6 x 8``: 12 accumulators. The tile is not left to LLVM's vectorizers (Numba's
defaults turn unrolled scalar code into scalar instructions or spills, and a wide scalar tile
takes seconds to compile): it is a Numba *intrinsic* that emits the loop directly as LLVM IR on
vector types (``<16 x float>`` and ``llvm.fma``), so the machine code is what one would write
by hand, and it compiles in milliseconds. It reads A through two element strides (``sa``
between rows, ``sp`` between steps), so it reads A in place whatever its layout.

**Packing.** The micro-kernel reads B from a contiguous buffer in exactly the order it
consumes it, so every cache line it touches is used completely: each K block of B (``kc``
rows) is packed into *slivers* of ``NR`` columns, ``bp[s * kc * NR + p * NR + j] =
B[p0 + p, s * NR + j]``, zero-padded past the last column. This makes the kernel indifferent
to B's strides (transposed views, slices, broadcast rows). A is *not* packed: the micro-kernel
reads its ``MR`` rows in place through their strides (a contiguous A, a transposed view and a
broadcast row all work). GotoBLAS packs A as well; measured here, reading A in place was as
fast or faster for every shape (an ``MR x kc`` panel is 8 short streams that the hardware
prefetches, and it stays in L1/L2 while the slivers sweep it), and packing it cost up to 20 %
on mid-size products.

**Cache blocking.** K is cut into blocks of ``kc <= KC_MAX``: one B sliver (``kc x NR``) stays
in L1 while the micro-kernel sweeps it across all micro-panels of an A block (``mc x kc``, at
most ``MC_MAX`` rows: it stays in L2). The packed B block of a task is served from L2/L3. The C
tile is accumulated over the K blocks.

**B read in place.** Packing pays when each sliver is reused by many rows of A. With few rows
(e.g. a convolution ``16 x 144 @ 144 x 28672``) packing all of B would triple its memory
traffic, and measured here it pays back only for tall products (``M > INPLACE_M``), so when
B's rows are contiguous the micro-kernel reads its full slivers straight from B through B's
row stride (``ldb``), prefetching the same rows ``B_AHEAD`` slivers ahead; only a last,
partial sliver is packed. C at most one vector wide (N <= 16 float32) uses a one-vector tile
instead of padding the sliver to two.

**Threads.** :func:`gemm` hands one task (:func:`_blocked_task`) per thread to
:func:`microtorch.backends.cpu.threads.run`: C is cut into equal blocks of columns, or of rows
when C is much taller than wide (``M > 4 N``, e.g. the im2col product ``4096 x 1152 @ 1152 x
128``), or K is cut when C is small and K long (``K >= K_SPLIT * (M + N)``: a weight gradient
such as ``144 x 28672 @ 28672 x 16``): each further K part goes to a partial C, added at the
end. Each task packs the part of B it needs itself, so a call is one fork-join with no barrier;
splitting by columns repeats nothing (A is read in place), splitting by rows repeats the
packing of B, which is small when N is. Products under ``SERIAL_FLOPS`` run one task on the
calling thread: waking another costs more than it saves.

**Edges.** A tile that sticks out of C (M not a multiple of MR, N not a multiple of NR) is
computed by the same micro-kernel into a small scratch tile (B's padding is zeros; rows of A
past the end are not read) and copied into C, so the main path has no edge tests.

**Skinny products.** A single row of C (a batch of one sample through a linear layer) is bound
by reading B once from memory, and packing B, or a micro-kernel computing MR rows, would cost
more than the product: ``_vecmat_task`` streams B's rows (``C[0, :] += A[0, p] * B[p, :]``).
When C has a few rows (``M <= SKINNY_M``) and B's columns are contiguous (``x @ W.T``),
``_dot_task`` takes dot products along them; the dot form also serves C with few columns
(``N <= SKINNY_N``, matrix times vector). Other products with a few rows take the main path,
whose micro-kernel reads a row-major B in place.

Integer matmul uses a plain loop (``_matmul_int``): it exists for completeness, not speed.

**Compilation.** Every task function is compiled on first use for one dtype with one explicit
signature (:func:`_kernel`), with Numba's on-disk cache: a float32 user never waits for the
float64 versions, and inputs of any strides share one compiled version (layout ``'A'``). From
the cache all of it loads in well under a second.

Never call NumPy's ``@``/``np.dot`` next to these kernels: OpenBLAS's spinning thread pool and
this backend's threads, on 2 cores, slow each other down many times over.
"""

import functools
import math

import numba
import numpy as np
from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .. import contract
from .._numba import jit
from .threads import get_num_threads, run

REGISTRY = contract.registry("cpu")

__all__ = ["gemm", "matmul"]

_AVX512 = "+avx512f" in llvm_binding.get_host_cpu_features().flatten()
VEC_BYTES = 64 if _AVX512 else 32  # one vector register: zmm (AVX-512) or ymm (AVX2)
MR = 8 if _AVX512 else 6  # rows of the register tile = height of an A micro-panel
NR_F32 = 2 * VEC_BYTES // 4  # columns of the tile (two vector registers) = width of a B sliver
NR_F64 = 2 * VEC_BYTES // 8  # ... for float64
KC_MAX = 256      # depth of a K block: one B sliver (kc x NR) stays in L1
MC_MAX = 256      # rows of an A block: its packed copy (MC x KC) stays in L2
SKINNY_M = 8      # at most this many rows of C: no packing, stream B (see module docstring)
SKINNY_N = 4      # at most this many columns of C: dot products along rows of A
INPLACE_M = 512   # at most this many rows of C: read a row-major B in place, do not pack it
B_AHEAD = 2       # B read in place: prefetch the sliver this many ahead
K_SPLIT = 8       # split K across threads when K >= K_SPLIT * (M + N) (small C, long sums)
SERIAL_FLOPS = 2_000_000  # smaller products run on one thread
_FASTMATH = {"contract"}  # fuse a * b + c into one FMA instruction; no other reordering
_FASTMATH_DOT = {"contract", "reassoc", "nsz"}  # dot products may be summed in vector lanes


@intrinsic(prefer_literal=True)
def _tile(typingctx, kc, a, a_off, sa, sp, mrows, b, b_off, ldb, c, c_off, ldc, accumulate, nv):
    """The micro-kernel: ``c[c_off + r * ldc + j] (+)= sum_p A[r, p] * b[b_off + p * ldb + j]``
    for ``r < MR``, ``j < NR``, ``p < kc``, where ``A[r, p] = a[a_off + r * sa + p * sp]``
    (offsets and strides in elements of the arrays' data) and ``NR = nv`` vector registers
    (``nv``: the literal 1 or 2). B is a packed sliver (a 1-D array: ``ldb`` must be ``NR``,
    used as a constant) or, read in place, a 2-D row-major B (``ldb``: its row stride; the same
    rows of a later sliver are prefetched). Rows ``r >= mrows`` of A are not read (row 0 is read
    instead; the caller drops those rows of the result).
    ``accumulate``: add to c, else overwrite it. Emitted as LLVM IR on vector types.
    """
    if not isinstance(nv, types.IntegerLiteral):
        return None
    intp = types.intp
    sig = types.void(intp, a, intp, intp, intp, intp, b, intp, intp, c, intp, intp,
                     types.boolean, nv)

    def codegen(context, builder, signature, args):
        kc, av, a_off, sa, sp, mrows, bv, b_off, ldb, cv, c_off, ldc, acc_flag, _ = args
        _emit_tile(context, builder, nv.literal_value, kc, (a, av, a_off, sa, sp, None), mrows,
                   (b, bv, b_off, ldb), None, (c, cv, c_off, ldc), acc_flag)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _tile_taps(typingctx, kc, a, a_off, sa, sp, st, mrows, b, b_off, ldb, taps, c, c_off, ldc,
               accumulate):
    """:func:`_tile` (two vectors wide, B read in place) summed over taps: ``c (+)= sum_t
    sum_p A_t[r, p] * b[b_off + taps[t] + p * ldb + j]`` with ``A_t[r, p] = a[a_off + r * sa +
    p * sp + t * st]``, ``t < len(taps)``. The sums stay in registers across the taps: one
    convolution tile, all of its kernel taps (see ``conv._implicit_conv``)."""
    intp = types.intp
    sig = types.void(intp, a, intp, intp, intp, intp, intp, b, intp, intp, taps, c, intp, intp,
                     types.boolean)

    def codegen(context, builder, signature, args):
        kc, av, a_off, sa, sp, st, mrows, bv, b_off, ldb, tv, cv, c_off, ldc, acc_flag = args
        _emit_tile(context, builder, 2, kc, (a, av, a_off, sa, sp, st), mrows,
                   (b, bv, b_off, ldb), (taps, tv), (c, cv, c_off, ldc), acc_flag)
        return context.get_dummy_value()

    return sig, codegen


def _emit_tile(context, builder, n_vec, kc, a_arg, mrows, b_arg, taps_arg, c_arg, acc_flag):
    """The LLVM IR of :func:`_tile` / :func:`_tile_taps` (``taps_arg`` None or (type, value))."""
    aty, a, a_off, sa, sp, st = a_arg
    bty, b, b_off, ldb = b_arg
    cty, c, c_off, ldc = c_arg
    fty = context.get_value_type(cty.dtype)
    itemsize = context.get_abi_sizeof(fty)
    width = VEC_BYTES // itemsize
    nr = n_vec * width
    vty = ir.VectorType(fty, width)
    ity = context.get_value_type(types.intp)

    def data(ty, val):
        return context.make_array(ty)(context, builder, val).data

    def vec_at(base, index):  # pointer to a vector starting at element `index`
        return builder.bitcast(builder.gep(base, [index]), vty.as_pointer())

    adata, bdata, cdata = data(aty, a), data(bty, b), data(cty, c)
    # C is read at the end: start fetching it now
    i8p = ir.IntType(8).as_pointer()
    i32 = ir.IntType(32)
    pf = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
        "llvm.prefetch." + i8p.intrinsic_name)
    rows_c = []
    for r in range(MR):
        row = builder.add(c_off, builder.mul(ity(r), ldc))
        rows_c.append(row)
        for j in (0, nr - 1):
            ptr = builder.bitcast(builder.gep(cdata, [builder.add(row, ity(j))]), i8p)
            builder.call(pf, [ptr, i32(1), i32(3), i32(1)])
    rows_a = []
    for r in range(MR):
        keep = builder.icmp_signed("<", ity(r), mrows)
        off = builder.select(keep, builder.mul(ity(r), sa), ity(0))
        rows_a.append(builder.gep(adata, [builder.add(a_off, off)]))
    fma = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vty, [vty, vty, vty]),
        f"llvm.fma.v{width}f{8 * itemsize}")
    zero = ir.Constant(vty, None)
    splat_mask = ir.Constant(ir.VectorType(i32, width), [0] * width)
    entry = builder.basic_block
    done = builder.append_basic_block("tile_done")
    loop = builder.append_basic_block("tile_loop")
    start = [zero] * (MR * n_vec)
    if taps_arg is None:  # one pass over kc steps
        b_start, a_start, loop_entry = b_off, ity(0), entry
        builder.cbranch(builder.icmp_signed(">", kc, ity(0)), loop, done)
    else:  # an outer loop over the taps, the sums carried across them
        taps_ty, taps = taps_arg
        ntaps = context.make_array(taps_ty)(context, builder, taps).shape
        ntaps = builder.extract_value(ntaps, 0)
        head = builder.append_basic_block("tile_tap")
        tap_end = builder.append_basic_block("tile_tap_end")
        nonempty = builder.and_(builder.icmp_signed(">", kc, ity(0)),
                                builder.icmp_signed(">", ntaps, ity(0)))
        builder.cbranch(nonempty, head, done)
        builder.position_at_end(head)
        t = builder.phi(ity)
        t.add_incoming(ity(0), entry)
        tap_accs = []
        for _ in range(MR * n_vec):
            phi = builder.phi(vty)
            phi.add_incoming(zero, entry)
            tap_accs.append(phi)
        tdata = data(taps_ty, taps)
        b_start = builder.add(b_off, builder.load(builder.gep(tdata, [t])))
        a_start = builder.mul(t, st)
        start, loop_entry = tap_accs, head
        builder.branch(loop)

    builder.position_at_end(loop)
    p = builder.phi(ity)
    p.add_incoming(ity(0), loop_entry)
    accs = []
    for init in start:
        phi = builder.phi(vty)
        phi.add_incoming(init, loop_entry)
        accs.append(phi)
    # a packed sliver (1-D) has ldb == NR: use the constant
    bbase = builder.add(b_start, builder.mul(p, ldb if bty.ndim == 2 else ity(nr)))
    bv = [builder.load(vec_at(bdata, builder.add(bbase, ity(v * width))), align=itemsize)
          for v in range(n_vec)]
    if bty.ndim == 2:  # B read in place: fetch the same rows of a later sliver
        for v in range(n_vec):
            ptr = builder.gep(bdata, [builder.add(bbase, ity(B_AHEAD * nr + v * width))])
            builder.call(pf, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
    poff = builder.add(a_start, builder.mul(p, sp))
    new = []
    for r in range(MR):
        x = builder.load(builder.gep(rows_a[r], [poff]))
        xv = builder.insert_element(ir.Constant(vty, ir.Undefined), x, i32(0))
        xv = builder.shuffle_vector(xv, ir.Constant(vty, ir.Undefined), splat_mask)
        for v in range(n_vec):
            new.append(builder.call(fma, [xv, bv[v], accs[n_vec * r + v]]))
    p1 = builder.add(p, ity(1))
    end = builder.basic_block
    p.add_incoming(p1, end)
    for phi, val in zip(accs, new):
        phi.add_incoming(val, end)
    if taps_arg is None:
        builder.cbranch(builder.icmp_signed("<", p1, kc), loop, done)
        last = end
    else:
        builder.cbranch(builder.icmp_signed("<", p1, kc), loop, tap_end)
        builder.position_at_end(tap_end)
        t1 = builder.add(t, ity(1))
        t.add_incoming(t1, tap_end)
        for phi, val in zip(tap_accs, new):
            phi.add_incoming(val, tap_end)
        builder.cbranch(builder.icmp_signed("<", t1, ntaps), head, done)
        last = tap_end

    builder.position_at_end(done)
    sums = []
    for val in new:
        phi = builder.phi(vty)
        phi.add_incoming(zero, entry)
        phi.add_incoming(val, last)
        sums.append(phi)
    ptrs = [vec_at(cdata, builder.add(rows_c[r], ity(v * width)))
            for r in range(MR) for v in range(n_vec)]
    with builder.if_else(acc_flag) as (then, otherwise):
        with then:
            for ptr, s in zip(ptrs, sums):
                builder.store(builder.fadd(builder.load(ptr, align=itemsize), s), ptr,
                              align=itemsize)
        with otherwise:
            for ptr, s in zip(ptrs, sums):
                builder.store(s, ptr, align=itemsize)


# --------------------------------------------------------------------------------------------
# Packing
# --------------------------------------------------------------------------------------------

@jit
def _pack_b(b, p0, kc, j_lo, j_hi, nr, bp):
    """bp[s * kc * nr + p * nr + j] = b[p0 + p, j_lo + s * nr + j] for p < kc, zero past
    column j_hi. Row p of all slivers in turn: a row-major b is read along its rows."""
    n_slivers = (j_hi - j_lo + nr - 1) // nr
    for p in range(kc):
        for s in range(n_slivers):
            j0 = j_lo + s * nr
            cols = min(nr, j_hi - j0)
            dst = bp[(s * kc + p) * nr:(s * kc + p + 1) * nr]
            for j in range(cols):
                dst[j] = b[p0 + p, j0 + j]
            for j in range(cols, nr):
                dst[j] = 0


# --------------------------------------------------------------------------------------------
# The blocked, packed product (the main path)
# --------------------------------------------------------------------------------------------

def _blocked_task(a, b, c, kc_max, mc_max, i_lo, i_hi, j_lo, j_hi, inplace):
    """c[i_lo:i_hi, j_lo:j_hi] = a[i_lo:i_hi] @ b[:, j_lo:j_hi]: the work of one thread.

    For each K block: pack that block of b's columns into slivers, then for each block of
    mc_max rows of a sweep every sliver across its micro-panels (a is read in place).
    ``inplace`` (b's rows contiguous): the micro-kernel reads the full slivers straight from b
    through its row stride, and only a last, partial sliver is packed (zero-padded). A task at
    most one vector wide uses the one-vector tile (``NR = width``): no padding to two.
    """
    k = a.shape[1]
    isz = c.itemsize
    width = VEC_BYTES // isz
    narrow = j_hi - j_lo <= width
    nr = width if narrow else 2 * width
    ldc = c.strides[0] // isz
    sa = a.strides[0] // isz
    sp = a.strides[1] // isz
    ldb = b.strides[0] // isz
    n_slivers = (j_hi - j_lo + nr - 1) // nr
    n_direct = (j_hi - j_lo) // nr if inplace else 0  # slivers read in place from b
    bp = np.empty((n_slivers - n_direct) * kc_max * nr, dtype=c.dtype)
    tile = np.empty((MR, 2 * width), dtype=c.dtype)
    for p0 in range(0, k, kc_max):
        kc = min(kc_max, k - p0)
        accumulate = p0 > 0
        if n_direct < n_slivers:
            _pack_b(b, p0, kc, j_lo + n_direct * nr, j_hi, nr, bp)
        for i0 in range(i_lo, i_hi, mc_max):
            i1 = min(i_hi, i0 + mc_max)
            for s in range(n_slivers):
                j = j_lo + s * nr
                cols = min(nr, j_hi - j)
                direct = s < n_direct
                b_off = p0 * ldb + j if direct else (s - n_direct) * kc * nr
                for i in range(i0, i1, MR):
                    rows = min(MR, i1 - i)
                    full = rows == MR and cols == nr
                    dst = c if full else tile  # edge tile: compute into scratch, copy below
                    c_off = i * ldc + j if full else 0
                    ldd = ldc if full else 2 * width
                    acc = accumulate and full
                    if direct and narrow:
                        _tile(kc, a, i * sa + p0 * sp, sa, sp, rows, b, b_off, ldb, dst, c_off,
                              ldd, acc, 1)
                    elif direct:
                        _tile(kc, a, i * sa + p0 * sp, sa, sp, rows, b, b_off, ldb, dst, c_off,
                              ldd, acc, 2)
                    elif narrow:
                        _tile(kc, a, i * sa + p0 * sp, sa, sp, rows, bp, b_off, nr, dst, c_off,
                              ldd, acc, 1)
                    else:
                        _tile(kc, a, i * sa + p0 * sp, sa, sp, rows, bp, b_off, nr, dst, c_off,
                              ldd, acc, 2)
                    if not full:
                        for r in range(rows):
                            for jj in range(cols):
                                if accumulate:
                                    c[i + r, j + jj] += tile[r, jj]
                                else:
                                    c[i + r, j + jj] = tile[r, jj]


# --------------------------------------------------------------------------------------------
# Skinny products: no packing, one pass over the big operand
# --------------------------------------------------------------------------------------------

def _vecmat_task(a, b, c, j_lo, j_hi):
    """c[0, j_lo:j_hi] = a[0] @ b[:, j_lo:j_hi] (one row of C), adding 4 rows of b at a time
    (b C-contiguous).

    b is read once; the row of c (a few KiB) stays in L1. The row views start at j_lo so their
    loop index starts at 0: LLVM then knows it is not negative (Numba's wraparound test
    vanishes) and vectorizes the loop.
    """
    k = a.shape[1]
    crow = c[0, j_lo:j_hi]
    crow[:] = 0
    p = 0
    while p + 4 <= k:
        b0, b1 = b[p, j_lo:j_hi], b[p + 1, j_lo:j_hi]
        b2, b3 = b[p + 2, j_lo:j_hi], b[p + 3, j_lo:j_hi]
        a0, a1, a2, a3 = a[0, p], a[0, p + 1], a[0, p + 2], a[0, p + 3]
        for j in range(crow.shape[0]):
            crow[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j]
        p += 4
    while p < k:
        brow = b[p, j_lo:j_hi]
        a0 = a[0, p]
        for j in range(crow.shape[0]):
            crow[j] += a0 * brow[j]
        p += 1


def _dot_task(a, bt, c, i_lo, i_hi, j_lo, j_hi):
    """c[i, j] = dot(a[i, :], bt[j, :]) for i in [i_lo, i_hi), j in [j_lo, j_hi).

    Four rows of a at a time share each load of bt's row: 5 loads per 4 multiply-adds.
    """
    k = a.shape[1]
    zero = np.zeros(1, dtype=c.dtype)[0]  # a literal 0.0 would make the sums float64
    i = i_lo
    while i + 4 <= i_hi:
        a0, a1, a2, a3 = a[i], a[i + 1], a[i + 2], a[i + 3]
        for j in range(j_lo, j_hi):
            w = bt[j]
            s0 = s1 = s2 = s3 = zero
            for p in range(k):
                s0 += a0[p] * w[p]
                s1 += a1[p] * w[p]
                s2 += a2[p] * w[p]
                s3 += a3[p] * w[p]
            c[i, j], c[i + 1, j], c[i + 2, j], c[i + 3, j] = s0, s1, s2, s3
        i += 4
    while i < i_hi:
        a0 = a[i]
        for j in range(j_lo, j_hi):
            w = bt[j]
            s0 = zero
            for p in range(k):
                s0 += a0[p] * w[p]
            c[i, j] = s0
        i += 1


@jit
def _matmul_int(a, b, c):
    """c = a @ b for integer arrays (wrapping on overflow like NumPy): a plain i-p-j loop."""
    m, k = a.shape
    n = b.shape[1]
    for i in range(m):
        for j in range(n):
            c[i, j] = 0
        for p in range(k):
            aip = a[i, p]
            for j in range(n):
                c[i, j] += aip * b[p, j]


# --------------------------------------------------------------------------------------------
# Python entry points: validate, choose a path, size the blocks
# --------------------------------------------------------------------------------------------

def _signature(dtype, layouts, n_ints):
    """void(2-D arrays of dtype with these layouts, then n_ints integers). Layout 'A' takes any
    strides, so all views share one compiled version; 'C' is C-contiguous. The first two arrays
    are inputs, typed read-only so that read-only arrays (broadcast views) are accepted too."""
    dt = numba.from_dtype(dtype)
    arrays = [types.Array(dt, 2, layout, readonly=i < 2) for i, layout in enumerate(layouts)]
    return types.void(*arrays, *([types.intp] * n_ints))


# name: (task function, layouts of its three arrays, number of integer arguments, jit options)
_TASKS = {
    "blocked": (_blocked_task, "AAC", 7, {}),
    "vecmat": (_vecmat_task, "ACC", 2, {"fastmath": _FASTMATH}),
    "dot": (_dot_task, "CCC", 4, {"fastmath": _FASTMATH_DOT}),
}


@functools.cache
def _kernel(name, dtype):
    """The task function ``name`` compiled for ``dtype`` (float32 or float64) on its first use.

    Each has one explicit signature per dtype, so a float64 product never costs a float32 user
    compile time, and transposed or sliced inputs do not compile new versions. Numba's on-disk
    cache makes later runs load the machine code instead (well under a second).
    """
    function, layouts, n_ints, options = _TASKS[name]
    return jit(_signature(dtype, layouts, n_ints), **options)(function)


def _blocks(m, n, k, nr, threads):
    """(kc, mc, m_step, n_step, k_step) for the blocked path: one task per thread, C cut along
    its longer side (rows in multiples of MR, columns in multiples of nr), or K cut in equal
    parts when C is small and K long (``K >= K_SPLIT * (M + N)``); each task's K range in equal
    blocks of at most KC_MAX and its rows in blocks of at most MC_MAX."""
    m_step, n_step, k_step = m, n, k
    if threads > 1:
        panels, slivers = -(-m // MR), -(-n // nr)
        if k >= K_SPLIT * (m + n):
            k_step = -(-k // threads)
        elif m > 4 * n or slivers < threads:
            m_step = -(-panels // threads) * MR
        else:
            n_step = -(-slivers // threads) * nr
    n_k = -(-k_step // KC_MAX)
    kc = -(-k_step // n_k)
    rows = -(-min(m, m_step) // MR)
    n_mc = -(-rows * MR // MC_MAX)
    mc = -(-rows // n_mc) * MR
    return kc, mc, m_step, n_step, k_step


def _as_c(x):
    """x itself when C-contiguous, else a C-contiguous copy (a copy, not a product: no BLAS)."""
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def gemm(a, b, out=None):
    """Matrix product ``out = a @ b`` of 2-D float arrays, computed by this module's kernels.

    Args:
        a: (M, K) float32 or float64 array, any strides (transposed views, slices, 0-strides).
        b: (K, N) array of a's dtype, any strides.
        out: optional C-contiguous (M, N) array of that dtype; it must not overlap a or b.
            Allocated when None.

    Returns:
        ``out``. Any of M, N, K may be 0 (K == 0 gives zeros). Sums are in the input dtype
        (float32 stays float32), in an order that differs from NumPy's: results agree to
        rounding, not bit for bit.

    Raises:
        TypeError: unsupported or mismatched dtypes. ValueError: shapes or ``out`` are wrong.
    """
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"gemm expects 2-D arrays, got shapes {a.shape} and {b.shape}")
    dtype = a.dtype
    if b.dtype != dtype or dtype not in _FLOAT_DTYPES:
        raise TypeError(f"gemm expects two float32 or two float64 arrays, got {a.dtype} and "
                        f"{b.dtype}")
    m, k = a.shape
    if b.shape[0] != k:
        raise ValueError(f"gemm: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({k} != {b.shape[0]})")
    n = b.shape[1]
    if out is None:
        out = np.empty((m, n), dtype=dtype)
    elif out.shape != (m, n) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"gemm: out must be a C-contiguous {a.dtype} array of shape {(m, n)}, "
                         f"got {out.dtype} {out.shape}")
    if m == 0 or n == 0:
        return out
    if k == 0:
        out.fill(0)
        return out
    threads = 1 if 2 * m * n * k < SERIAL_FLOPS else get_num_threads()
    item = a.itemsize
    if m == 1 or (m <= SKINNY_M and b.strides[0] == item and b.strides[1] != item) \
            or n <= SKINNY_N:
        _skinny(a, b, out, threads)
    else:
        _blocked(a, b, out, threads)
    return out


_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _blocked(a, b, c, threads):
    """The main path of gemm: one :func:`_blocked_task` per block of C (and of K) given by
    :func:`_blocks`, run on ``threads`` threads; partial products of a split K are added at
    the end."""
    (m, k), n = a.shape, b.shape[1]
    width = VEC_BYTES // a.itemsize
    nr = width if n <= width else 2 * width  # one-vector tile for narrow C
    # B read in place (no packing) when its rows are contiguous and C has not so many rows
    # (packing all of B for a few rows of C would double the memory traffic) or is narrow;
    # packing wins back its cost (TLB misses, strided streams) only for tall products
    inplace = int(b.strides[1] == a.itemsize and (m <= INPLACE_M or n <= nr))
    _run_blocked(a, b, c, _blocks(m, n, k, nr, threads), inplace, threads)


def _run_blocked(a, b, c, plan, inplace, threads):
    """c = a @ b by the tasks of ``plan`` = (kc, mc, m_step, n_step, k_step) (see
    :func:`_blocks`), on ``threads`` threads."""
    (m, k), n = a.shape, b.shape[1]
    kc, mc, m_step, n_step, k_step = plan
    task = _kernel("blocked", a.dtype)
    calls, parts = [], []
    for p_lo in range(0, k, k_step):
        dst = c
        if p_lo > 0:
            dst = np.empty((m, n), dtype=c.dtype)
            parts.append(dst)
        a_k, b_k = a[:, p_lo:p_lo + k_step], b[p_lo:p_lo + k_step]
        for i_lo in range(0, m, m_step):
            for j_lo in range(0, n, n_step):
                calls.append((task, (a_k, b_k, dst, kc, mc, i_lo, min(m, i_lo + m_step), j_lo,
                                     min(n, j_lo + n_step), inplace)))
    run(calls, threads)
    for part in parts:
        np.add(c, part, out=c)


def _skinny(a, b, out, threads):
    """The skinny paths of gemm on ``threads`` threads: one row of C (``_vecmat_task`` over
    blocks of columns, unless b's columns are contiguous), or dot products (``_dot_task`` over
    blocks of C) when b's columns are contiguous and C has few rows, or C has few columns."""
    m, n = a.shape[0], b.shape[1]
    item = a.itemsize
    if m == 1 and not (b.strides[0] == item and b.strides[1] != item):
        # stream b's rows: c[0, :] += a[0, p] * b[p, :]
        task, b = _kernel("vecmat", a.dtype), _as_c(b)
        chunk = max(64, -(-n // (2 * threads) // 16) * 16)
        calls = [(task, (a, b, out, j, min(n, j + chunk))) for j in range(0, n, chunk)]
    else:
        # dot products along rows of a and columns of b (b = W.T, or C with few columns)
        task, a, bt = _kernel("dot", a.dtype), _as_c(a), _as_c(b.T)
        if m <= SKINNY_M:
            rows, cols = m, -(-n // (2 * threads))
        else:
            rows, cols = -(-m // (4 * threads)), n
        calls = [(task, (a, bt, out, i, min(m, i + rows), j, min(n, j + cols)))
                 for i in range(0, m, rows) for j in range(0, n, cols)]
    run(calls, threads)


def _matmul_shape(a, b):
    """(batch shape, M, K, N) of ``a @ b``, after checking the shapes and the dtype (float32,
    float64, int64 or int32, one for both)."""
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul expects arrays of at least 2 dimensions, got {a.shape} and "
                         f"{b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul expects one dtype, got {a.dtype} and {b.dtype}")
    if a.dtype not in (np.float32, np.float64, np.int64, np.int32):
        raise TypeError(f"matmul does not support dtype {a.dtype}")
    (m, k), (k2, n) = a.shape[-2:], b.shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({k} != {k2})")
    return np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), m, k, n


@REGISTRY.kernel("matmul")
def matmul(a, b):
    """Kernel contract ``matmul``: ``a @ b`` for a (..., M, K), b (..., K, N), batch dims broadcast.

    Both arrays are at least 2-D (the ops layer promotes 1-D operands) and have one dtype:
    float32, float64, int64 or int32. Returns a new C-contiguous (..., M, N) array. Each
    matrix of the batch is one :func:`gemm` call; when only ``a`` has batch dimensions they are
    folded into M, which makes one large product instead of many small ones.
    """
    batch, m, k, n = _matmul_shape(a, b)
    out = np.empty(batch + (m, n), dtype=a.dtype)
    product = gemm if a.dtype.kind == "f" else _gemm_int
    if out.size == 0:
        return out
    if all(d == 1 for d in b.shape[:-2]) and a.flags.c_contiguous and a.ndim >= b.ndim:
        # b is one matrix: stack a's matrices into one tall product (rows counted, not
        # inferred with -1, which NumPy refuses for an empty K)
        rows = math.prod(a.shape[:-1])
        product(a.reshape(rows, k), b.reshape(k, n), out.reshape(rows, n))
        return out
    a = np.broadcast_to(a, batch + (m, k))
    b = np.broadcast_to(b, batch + (k, n))
    for index in np.ndindex(*batch):
        product(a[index], b[index], out[index])
    return out


def _gemm_int(a, b, out):
    _matmul_int(_as_c(a), _as_c(b), out)
    return out


# --------------------------------------------------------------------------------------------
# reference kernel: the textbook version (see microtorch.backends.cpu.use_reference_kernels)
# --------------------------------------------------------------------------------------------

@jit
def _matmul_reference_loop(a, b, c):
    """c[i, j] = sum over p of a[i, p] * b[p, j]: the triple loop, summed in c's dtype."""
    m, k = a.shape
    n = b.shape[1]
    for i in range(m):
        for j in range(n):
            s = c.dtype.type(0)
            for p in range(k):
                s += a[i, p] * b[p, j]
            c[i, j] = s


@REGISTRY.reference("matmul")
def matmul_reference(a, b):
    """Textbook ``matmul``: the triple loop once per matrix of the broadcast batch."""
    batch, m, k, n = _matmul_shape(a, b)
    out = np.empty(batch + (m, n), dtype=a.dtype)
    a = np.broadcast_to(a, batch + (m, k))
    b = np.broadcast_to(b, batch + (k, n))
    for index in np.ndindex(*batch):
        _matmul_reference_loop(a[index], b[index], out[index])
    return out
