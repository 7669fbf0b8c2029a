"""GEMM (general matrix multiply) for the CPU backend: ``C = A @ B`` in float32 and float64.

A textbook triple loop reaches a few GFLOP/s: every multiply-add loads and stores memory. This
module follows the structure of GotoBLAS/BLIS, which keeps the floating-point units busy by
moving each number as few times as possible through the memory hierarchy:

**Register tile (micro-kernel).** ``_uk_f32`` computes an ``MR x NR = 5 x 16`` tile of C
(``5 x 8`` for float64) with its 80 partial sums held in named local variables, for
``kc`` steps of the K dimension. Each step broadcasts 5 numbers of A, loads 16 numbers of B
and does 80 multiply-adds: with AVX2 that is 2 vector loads, 5 broadcasts and 10
``vfmadd231ps`` on 10 accumulator registers (5 ``zmm`` registers with AVX-512). The code is
straight-line on purpose: LLVM's SLP vectorizer turns it into vector instructions. Numba has
that vectorizer off and the loop vectorizer on by default, which turns this code into scalar
instructions or spills; :func:`_compile_microkernel` flips both settings for these two
functions only. The micro-kernel also prefetches its C tile, which it reads at the end.

**Packing.** The micro-kernel reads A and B from contiguous buffers in exactly the order it
consumes them, so every cache line it touches is used completely:

* B is packed once per call into *slivers* of ``NR`` columns: ``bp[s, p * NR + j] =
  B[p, s * NR + j]``, zero-padded past the last column;
* each block of A (``mc`` rows, ``kc`` columns) is packed into *micro-panels* of ``MR`` rows:
  ``ap[q, p, r] = A[i + q * MR + r, p0 + p]``, zero-padded past the last row. The
  micro-kernel takes its A operand as a 2-D view of any strides, ``ap[q, :kc].T``; when C has
  few columns (at most ``NO_PACK_SLIVERS`` slivers), each panel of A is used so few times
  that packing costs more than it saves, and the micro-kernel reads A in place instead.

The packed B also makes the kernel indifferent to B's strides (transposed views, slices,
broadcast rows); A of any strides is read by the packing loop or through its strided view.

**Cache blocking.** K is cut into blocks of ``kc <= KC_MAX = 256``: one B sliver (16 KiB
float32) stays in L1 while the micro-kernel sweeps it across all micro-panels of an A block
(``mc x kc``, at most ``MC_MAX`` rows: it stays in L2). The packed B (read by every block) is
served from L3. The C tile is accumulated over the K blocks.

**Threads.** ``_gemm_blocked`` runs twice: phase 0 packs B (groups of slivers in a
``prange``), phase 1 splits C into blocks of rows (and, when C has too few rows for that,
blocks of columns) in a ``prange``, with a block count that is a multiple of the thread
count so that both cores get the same work. Each block packs its own A. Products under
``SERIAL_FLOPS`` run on one thread: waking the others costs more than they would save.

**Edges.** A tile that sticks out of C (M not a multiple of 5, N not a multiple of 16) is
computed by the same micro-kernel into a small scratch tile (the padding rows and columns are
zeros) and copied into C, so the main path has no edge tests.

**Skinny products.** When C has only a few rows (``M <= SKINNY_M``: a batch of one or a few
samples through a linear layer), packing B would cost as much as the product itself, which is
bound by reading B once from memory: ``_gemm_rows_axpy`` streams B's rows
(``C[i, :] += A[i, p] * B[p, :]``) and ``_gemm_dot`` takes dot products when B's columns are
contiguous (``x @ W.T``). The dot form also serves C with few columns (matrix times vector).

Integer matmul uses a plain loop (``_matmul_int``): it exists for completeness, not speed.

**Compilation.** Every kernel is compiled on first use for one dtype with one explicit
signature (:func:`_kernel`), with Numba's on-disk cache: a float32 user never waits for the
float64 versions, and inputs of any strides share one compiled version (layout ``'A'``). The
parallel functions only run a ``prange`` over calls to serial task functions, because Numba
compiles a large ``prange`` body slowly. Cold, the float32 blocked path compiles in about 5 s
of CPU time (micro-kernel included) and each skinny path in about 1 s; from the cache all of
it loads in well under a second.

Never call NumPy's ``@``/``np.dot`` next to these kernels: OpenBLAS's thread pool and Numba's
OpenMP pool, both spinning on 2 cores, slow each other down many times over.
"""

import functools

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .._numba import jit

__all__ = ["gemm", "matmul"]

MR = 5            # rows of the register tile = height of an A micro-panel
NR_F32 = 16       # columns of the register tile for float32 = width of a B sliver
NR_F64 = 8        # ... for float64 (the same 64 bytes per row)
KC_MAX = 256      # depth of a K block: one B sliver (kc x NR) stays in L1
MC_MAX = 160      # rows of an A block: its packed copy (MC x KC) stays in L2
PACK_GROUP = 8    # B slivers packed together (reading 8 x 64 bytes of each row of B)
NO_PACK_SLIVERS = 8  # an A block used by at most this many B slivers is read in place
SKINNY_M = 8      # at most this many rows of C: no packing, stream B (see module docstring)
SKINNY_N = 4      # at most this many columns of C: dot products along rows of A
SERIAL_FLOPS = 2_000_000  # smaller products run on one thread
_FASTMATH = {"contract"}  # fuse a * b + c into one FMA instruction; no other reordering
_FASTMATH_DOT = {"contract", "reassoc", "nsz"}  # dot products may be summed in vector lanes


@intrinsic
def _prefetch(typingctx, arr, i, j):
    """Hint the CPU to bring the cache line of ``arr[i, j]`` into cache for writing."""
    sig = types.void(arr, i, j)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1], args[2]],
                                       wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        name = "llvm.prefetch." + i8p.intrinsic_name  # "p0i8"; newer LLVMs read it as "p0"
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)
        # (address, rw=1: for writing, locality=3: keep in all cache levels, cache=1: data)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


# --------------------------------------------------------------------------------------------
# Micro-kernels: c[i0:i0+MR, j0:j0+NR] (+)= a[:MR, :kc] @ (B sliver), sums in registers.
# a is a packed micro-panel (a transposed view of ap[q]) or A itself; b[p * NR + j] is the
# sliver's B[p, j]; c is C-contiguous. accumulate: add to c, else overwrite it.
# The code is written out (80 named sums) because that is what LLVM turns into vector code.
# --------------------------------------------------------------------------------------------

def _uk_f32(kc, a, b, c, i0, j0, accumulate):
    """The float32 micro-kernel: a 5 x 16 tile, sums cRJ for row R, column J (hexadecimal).

    Per step p: load B's 16 numbers, then for each row broadcast A[r, p] and multiply-add.
    """
    for r in range(MR):  # C is read at the end: start fetching it now
        _prefetch(c, i0 + r, j0)
        _prefetch(c, i0 + r, j0 + 15)
    zero = np.float32(0)
    c00 = c01 = c02 = c03 = c04 = c05 = c06 = c07 = zero
    c08 = c09 = c0a = c0b = c0c = c0d = c0e = c0f = zero
    c10 = c11 = c12 = c13 = c14 = c15 = c16 = c17 = zero
    c18 = c19 = c1a = c1b = c1c = c1d = c1e = c1f = zero
    c20 = c21 = c22 = c23 = c24 = c25 = c26 = c27 = zero
    c28 = c29 = c2a = c2b = c2c = c2d = c2e = c2f = zero
    c30 = c31 = c32 = c33 = c34 = c35 = c36 = c37 = zero
    c38 = c39 = c3a = c3b = c3c = c3d = c3e = c3f = zero
    c40 = c41 = c42 = c43 = c44 = c45 = c46 = c47 = zero
    c48 = c49 = c4a = c4b = c4c = c4d = c4e = c4f = zero
    for p in range(kc):
        b0 = b[p * 16 + 0]; b1 = b[p * 16 + 1]; b2 = b[p * 16 + 2]; b3 = b[p * 16 + 3]
        b4 = b[p * 16 + 4]; b5 = b[p * 16 + 5]; b6 = b[p * 16 + 6]; b7 = b[p * 16 + 7]
        b8 = b[p * 16 + 8]; b9 = b[p * 16 + 9]; ba = b[p * 16 + 10]; bb = b[p * 16 + 11]
        bc = b[p * 16 + 12]; bd = b[p * 16 + 13]; be = b[p * 16 + 14]; bf = b[p * 16 + 15]
        ar = a[0, p]
        c00 += ar * b0; c01 += ar * b1; c02 += ar * b2; c03 += ar * b3
        c04 += ar * b4; c05 += ar * b5; c06 += ar * b6; c07 += ar * b7
        c08 += ar * b8; c09 += ar * b9; c0a += ar * ba; c0b += ar * bb
        c0c += ar * bc; c0d += ar * bd; c0e += ar * be; c0f += ar * bf
        ar = a[1, p]
        c10 += ar * b0; c11 += ar * b1; c12 += ar * b2; c13 += ar * b3
        c14 += ar * b4; c15 += ar * b5; c16 += ar * b6; c17 += ar * b7
        c18 += ar * b8; c19 += ar * b9; c1a += ar * ba; c1b += ar * bb
        c1c += ar * bc; c1d += ar * bd; c1e += ar * be; c1f += ar * bf
        ar = a[2, p]
        c20 += ar * b0; c21 += ar * b1; c22 += ar * b2; c23 += ar * b3
        c24 += ar * b4; c25 += ar * b5; c26 += ar * b6; c27 += ar * b7
        c28 += ar * b8; c29 += ar * b9; c2a += ar * ba; c2b += ar * bb
        c2c += ar * bc; c2d += ar * bd; c2e += ar * be; c2f += ar * bf
        ar = a[3, p]
        c30 += ar * b0; c31 += ar * b1; c32 += ar * b2; c33 += ar * b3
        c34 += ar * b4; c35 += ar * b5; c36 += ar * b6; c37 += ar * b7
        c38 += ar * b8; c39 += ar * b9; c3a += ar * ba; c3b += ar * bb
        c3c += ar * bc; c3d += ar * bd; c3e += ar * be; c3f += ar * bf
        ar = a[4, p]
        c40 += ar * b0; c41 += ar * b1; c42 += ar * b2; c43 += ar * b3
        c44 += ar * b4; c45 += ar * b5; c46 += ar * b6; c47 += ar * b7
        c48 += ar * b8; c49 += ar * b9; c4a += ar * ba; c4b += ar * bb
        c4c += ar * bc; c4d += ar * bd; c4e += ar * be; c4f += ar * bf
    if not accumulate:
        row = c[i0 + 0, j0:j0 + 16]
        row[0] = c00; row[1] = c01; row[2] = c02; row[3] = c03
        row[4] = c04; row[5] = c05; row[6] = c06; row[7] = c07
        row[8] = c08; row[9] = c09; row[10] = c0a; row[11] = c0b
        row[12] = c0c; row[13] = c0d; row[14] = c0e; row[15] = c0f
        row = c[i0 + 1, j0:j0 + 16]
        row[0] = c10; row[1] = c11; row[2] = c12; row[3] = c13
        row[4] = c14; row[5] = c15; row[6] = c16; row[7] = c17
        row[8] = c18; row[9] = c19; row[10] = c1a; row[11] = c1b
        row[12] = c1c; row[13] = c1d; row[14] = c1e; row[15] = c1f
        row = c[i0 + 2, j0:j0 + 16]
        row[0] = c20; row[1] = c21; row[2] = c22; row[3] = c23
        row[4] = c24; row[5] = c25; row[6] = c26; row[7] = c27
        row[8] = c28; row[9] = c29; row[10] = c2a; row[11] = c2b
        row[12] = c2c; row[13] = c2d; row[14] = c2e; row[15] = c2f
        row = c[i0 + 3, j0:j0 + 16]
        row[0] = c30; row[1] = c31; row[2] = c32; row[3] = c33
        row[4] = c34; row[5] = c35; row[6] = c36; row[7] = c37
        row[8] = c38; row[9] = c39; row[10] = c3a; row[11] = c3b
        row[12] = c3c; row[13] = c3d; row[14] = c3e; row[15] = c3f
        row = c[i0 + 4, j0:j0 + 16]
        row[0] = c40; row[1] = c41; row[2] = c42; row[3] = c43
        row[4] = c44; row[5] = c45; row[6] = c46; row[7] = c47
        row[8] = c48; row[9] = c49; row[10] = c4a; row[11] = c4b
        row[12] = c4c; row[13] = c4d; row[14] = c4e; row[15] = c4f
    else:
        row = c[i0 + 0, j0:j0 + 16]
        row[0] += c00; row[1] += c01; row[2] += c02; row[3] += c03
        row[4] += c04; row[5] += c05; row[6] += c06; row[7] += c07
        row[8] += c08; row[9] += c09; row[10] += c0a; row[11] += c0b
        row[12] += c0c; row[13] += c0d; row[14] += c0e; row[15] += c0f
        row = c[i0 + 1, j0:j0 + 16]
        row[0] += c10; row[1] += c11; row[2] += c12; row[3] += c13
        row[4] += c14; row[5] += c15; row[6] += c16; row[7] += c17
        row[8] += c18; row[9] += c19; row[10] += c1a; row[11] += c1b
        row[12] += c1c; row[13] += c1d; row[14] += c1e; row[15] += c1f
        row = c[i0 + 2, j0:j0 + 16]
        row[0] += c20; row[1] += c21; row[2] += c22; row[3] += c23
        row[4] += c24; row[5] += c25; row[6] += c26; row[7] += c27
        row[8] += c28; row[9] += c29; row[10] += c2a; row[11] += c2b
        row[12] += c2c; row[13] += c2d; row[14] += c2e; row[15] += c2f
        row = c[i0 + 3, j0:j0 + 16]
        row[0] += c30; row[1] += c31; row[2] += c32; row[3] += c33
        row[4] += c34; row[5] += c35; row[6] += c36; row[7] += c37
        row[8] += c38; row[9] += c39; row[10] += c3a; row[11] += c3b
        row[12] += c3c; row[13] += c3d; row[14] += c3e; row[15] += c3f
        row = c[i0 + 4, j0:j0 + 16]
        row[0] += c40; row[1] += c41; row[2] += c42; row[3] += c43
        row[4] += c44; row[5] += c45; row[6] += c46; row[7] += c47
        row[8] += c48; row[9] += c49; row[10] += c4a; row[11] += c4b
        row[12] += c4c; row[13] += c4d; row[14] += c4e; row[15] += c4f


def _uk_f64(kc, a, b, c, i0, j0, accumulate):
    """The float64 micro-kernel: a 5 x 8 tile (40 sums), otherwise the same as ``_uk_f32``."""
    for r in range(MR):  # C is read at the end: start fetching it now
        _prefetch(c, i0 + r, j0)
        _prefetch(c, i0 + r, j0 + 7)
    zero = np.float64(0)
    c00 = c01 = c02 = c03 = c04 = c05 = c06 = c07 = zero
    c10 = c11 = c12 = c13 = c14 = c15 = c16 = c17 = zero
    c20 = c21 = c22 = c23 = c24 = c25 = c26 = c27 = zero
    c30 = c31 = c32 = c33 = c34 = c35 = c36 = c37 = zero
    c40 = c41 = c42 = c43 = c44 = c45 = c46 = c47 = zero
    for p in range(kc):
        b0 = b[p * 8 + 0]; b1 = b[p * 8 + 1]; b2 = b[p * 8 + 2]; b3 = b[p * 8 + 3]
        b4 = b[p * 8 + 4]; b5 = b[p * 8 + 5]; b6 = b[p * 8 + 6]; b7 = b[p * 8 + 7]
        ar = a[0, p]
        c00 += ar * b0; c01 += ar * b1; c02 += ar * b2; c03 += ar * b3
        c04 += ar * b4; c05 += ar * b5; c06 += ar * b6; c07 += ar * b7
        ar = a[1, p]
        c10 += ar * b0; c11 += ar * b1; c12 += ar * b2; c13 += ar * b3
        c14 += ar * b4; c15 += ar * b5; c16 += ar * b6; c17 += ar * b7
        ar = a[2, p]
        c20 += ar * b0; c21 += ar * b1; c22 += ar * b2; c23 += ar * b3
        c24 += ar * b4; c25 += ar * b5; c26 += ar * b6; c27 += ar * b7
        ar = a[3, p]
        c30 += ar * b0; c31 += ar * b1; c32 += ar * b2; c33 += ar * b3
        c34 += ar * b4; c35 += ar * b5; c36 += ar * b6; c37 += ar * b7
        ar = a[4, p]
        c40 += ar * b0; c41 += ar * b1; c42 += ar * b2; c43 += ar * b3
        c44 += ar * b4; c45 += ar * b5; c46 += ar * b6; c47 += ar * b7
    if not accumulate:
        row = c[i0 + 0, j0:j0 + 8]
        row[0] = c00; row[1] = c01; row[2] = c02; row[3] = c03
        row[4] = c04; row[5] = c05; row[6] = c06; row[7] = c07
        row = c[i0 + 1, j0:j0 + 8]
        row[0] = c10; row[1] = c11; row[2] = c12; row[3] = c13
        row[4] = c14; row[5] = c15; row[6] = c16; row[7] = c17
        row = c[i0 + 2, j0:j0 + 8]
        row[0] = c20; row[1] = c21; row[2] = c22; row[3] = c23
        row[4] = c24; row[5] = c25; row[6] = c26; row[7] = c27
        row = c[i0 + 3, j0:j0 + 8]
        row[0] = c30; row[1] = c31; row[2] = c32; row[3] = c33
        row[4] = c34; row[5] = c35; row[6] = c36; row[7] = c37
        row = c[i0 + 4, j0:j0 + 8]
        row[0] = c40; row[1] = c41; row[2] = c42; row[3] = c43
        row[4] = c44; row[5] = c45; row[6] = c46; row[7] = c47
    else:
        row = c[i0 + 0, j0:j0 + 8]
        row[0] += c00; row[1] += c01; row[2] += c02; row[3] += c03
        row[4] += c04; row[5] += c05; row[6] += c06; row[7] += c07
        row = c[i0 + 1, j0:j0 + 8]
        row[0] += c10; row[1] += c11; row[2] += c12; row[3] += c13
        row[4] += c14; row[5] += c15; row[6] += c16; row[7] += c17
        row = c[i0 + 2, j0:j0 + 8]
        row[0] += c20; row[1] += c21; row[2] += c22; row[3] += c23
        row[4] += c24; row[5] += c25; row[6] += c26; row[7] += c27
        row = c[i0 + 3, j0:j0 + 8]
        row[0] += c30; row[1] += c31; row[2] += c32; row[3] += c33
        row[4] += c34; row[5] += c35; row[6] += c36; row[7] += c37
        row = c[i0 + 4, j0:j0 + 8]
        row[0] += c40; row[1] += c41; row[2] += c42; row[3] += c43
        row[4] += c44; row[5] += c45; row[6] += c46; row[7] += c47


def _compile_microkernel(fn, dtype):
    """Compile a micro-kernel with LLVM's SLP vectorizer on and its loop vectorizer off.

    Numba's defaults are the reverse; with them the straight-line code above compiles to scalar
    instructions or spills its sums to the stack. The functions that call a micro-kernel are
    compiled later with the defaults and keep its machine code.
    """
    a = types.Array(dtype, 2, "A", readonly=True)
    sig = types.void(types.intp, a, dtype[::1], dtype[:, ::1], types.intp, types.intp,
                     types.boolean)
    saved = numba.config.LOOP_VECTORIZE, numba.config.SLP_VECTORIZE
    numba.config.LOOP_VECTORIZE, numba.config.SLP_VECTORIZE = 0, 1
    try:
        return jit(sig, fastmath=_FASTMATH)(fn)
    finally:
        numba.config.LOOP_VECTORIZE, numba.config.SLP_VECTORIZE = saved


def _microkernel(kc, a, b, c, i0, j0, accumulate):
    """The micro-kernel for the arrays' dtype, chosen when Numba compiles the caller."""


@overload(_microkernel)
def _microkernel_for_dtype(kc, a, b, c, i0, j0, accumulate):
    uk = _kernel("microkernel", np.dtype(str(a.dtype)))
    return lambda kc, a, b, c, i0, j0, accumulate: uk(kc, a, b, c, i0, j0, accumulate)


# --------------------------------------------------------------------------------------------
# Packing
# --------------------------------------------------------------------------------------------

@jit
def _pack_a_block(a, i_lo, i_hi, p0, kc, ap):
    """ap[q, p, r] = a[i_lo + q * MR + r, p0 + p] for p < kc, zero past row i_hi.

    ``ap[q, :kc].T`` is then micro-panel q as an (MR, kc) view whose columns are contiguous.
    """
    for q in range(ap.shape[0]):
        i = i_lo + q * MR
        rows = max(0, min(MR, i_hi - i))
        for p in range(kc):
            for r in range(rows):
                ap[q, p, r] = a[i + r, p0 + p]
            for r in range(rows, MR):
                ap[q, p, r] = 0


@jit
def _pack_b_slivers(b, s_lo, s_hi, nr, bp):
    """bp[s, p * nr + j] = b[p, s * nr + j] for slivers s_lo <= s < s_hi, zero past b's end.

    Row p of several slivers at a time: a row-major b is read along its rows, and a
    column-major b (b = W.T) re-reads the same few cache lines for consecutive p.
    """
    k, n = b.shape
    for p in range(k):
        for s in range(s_lo, s_hi):
            j0 = s * nr
            cols = min(nr, n - j0)
            dst = bp[s, p * nr:(p + 1) * nr]
            for j in range(cols):
                dst[j] = b[p, j0 + j]
            for j in range(cols, nr):
                dst[j] = 0


# --------------------------------------------------------------------------------------------
# The blocked, packed product (the main path)
# --------------------------------------------------------------------------------------------

def _signature(dtype, layouts, n_ints):
    """void(2-D arrays of dtype with these layouts, then n_ints integers). Layout 'A' takes any
    strides, so all views share one compiled version; 'C' is C-contiguous. The first two arrays
    are inputs, typed read-only so that read-only arrays (broadcast views) are accepted too."""
    dt = numba.from_dtype(dtype)
    arrays = [types.Array(dt, 2, layout, readonly=i < 2) for i, layout in enumerate(layouts)]
    return types.void(*arrays, *([types.intp] * n_ints))


@functools.cache
def _kernel(name, dtype):
    """The kernel ``name`` compiled for ``dtype`` (float32 or float64) on its first use.

    Each kernel has one explicit signature per dtype, so a float64 product never costs a
    float32 user compile time, and transposed or sliced inputs do not compile new versions.
    Numba's on-disk cache makes later runs load the machine code instead (well under a second).
    """
    if name == "microkernel":
        return _compile_microkernel(_uk_f32 if dtype == np.float32 else _uk_f64,
                                    numba.from_dtype(dtype))
    if name == "blocked":
        return jit(_signature(dtype, "AACC", 6), parallel=True)(_gemm_blocked)
    if name == "axpy":
        return jit(_signature(dtype, "ACC", 1), parallel=True)(_gemm_rows_axpy)
    if name == "dot":
        return jit(_signature(dtype, "CCC", 2), parallel=True)(_gemm_dot)
    raise KeyError(name)


@jit
def _edge_tile(kc, panel, sliver, tile, c, i, j, accumulate):
    """A tile that sticks out of c: run the micro-kernel on scratch, copy the part inside c."""
    m, n = c.shape
    _microkernel(kc, panel, sliver, tile, 0, 0, False)
    for r in range(min(MR, m - i)):
        for jj in range(min(tile.shape[1], n - j)):
            if accumulate:
                c[i + r, j + jj] += tile[r, jj]
            else:
                c[i + r, j + jj] = tile[r, jj]


@jit
def _blocked_task(a, bp, c, nr, kc_max, mc, n_nblocks, task):
    """One task of _gemm_blocked: rows [i_lo, i_hi) x slivers [s_lo, s_hi) of c, all of K.

    A is packed when each of its micro-panels is used by more than NO_PACK_SLIVERS slivers;
    otherwise the micro-kernel reads A in place (only the last, partial panel is packed).
    """
    m, k = a.shape
    n = c.shape[1]
    n_slivers = bp.shape[0]
    slivers_per_block = (n_slivers + n_nblocks - 1) // n_nblocks
    i_lo = (task // n_nblocks) * mc
    i_hi = min(m, i_lo + mc)
    s_lo = (task % n_nblocks) * slivers_per_block
    s_hi = min(n_slivers, s_lo + slivers_per_block)
    n_panels = (i_hi - i_lo + MR - 1) // MR
    pack = s_hi - s_lo > NO_PACK_SLIVERS
    n_full = (i_hi - i_lo) // MR
    ap = np.empty((n_panels if pack else 1, kc_max, MR), dtype=c.dtype)
    tile = np.empty((MR, nr), dtype=c.dtype)
    for p0 in range(0, k, kc_max):
        kc = min(kc_max, k - p0)
        if pack:
            _pack_a_block(a, i_lo, i_hi, p0, kc, ap)
        elif n_full < n_panels:  # pack only the partial last panel (zero-padded rows)
            _pack_a_block(a, i_lo + n_full * MR, i_hi, p0, kc, ap)
        for s in range(s_lo, s_hi):
            j = s * nr
            sliver = bp[s, p0 * nr:(p0 + kc) * nr]
            for q in range(n_panels):
                i = i_lo + q * MR
                if pack:
                    panel = ap[q, :kc].T
                elif q < n_full:
                    panel = a[i:i + MR, p0:p0 + kc]
                else:
                    panel = ap[0, :kc].T
                if i + MR <= m and j + nr <= n:
                    _microkernel(kc, panel, sliver, c, i, j, p0 > 0)
                else:  # edge tile: compute into scratch (padding is zeros), copy what fits
                    _edge_tile(kc, panel, sliver, tile, c, i, j, p0 > 0)


def _gemm_blocked(a, b, bp, c, nr, kc_max, mc, n_mblocks, n_nblocks, phase):
    """c = a @ b through packed buffers and the micro-kernel, in two calls (phase 0 and 1).

    Phase 0 packs b into bp (n_slivers, k * nr), PACK_GROUP slivers per task. Phase 1
    computes c: its tasks are blocks of mc rows (n_mblocks of them), each cut into n_nblocks
    blocks of columns (more than one only when there are fewer row blocks than threads). One
    function with one prange calling serial functions compiles faster than a big prange body.
    Compiled per dtype by :func:`_kernel` (parallel=True), like the two skinny drivers below.
    """
    n_slivers = bp.shape[0]
    n_tasks = (n_slivers + PACK_GROUP - 1) // PACK_GROUP if phase == 0 else n_mblocks * n_nblocks
    for it in prange(n_tasks):
        task = np.intp(it)  # prange makes `it` unsigned: keep the callees' int64 signatures
        if phase == 0:
            s_lo = task * PACK_GROUP
            _pack_b_slivers(b, s_lo, min(n_slivers, s_lo + PACK_GROUP), nr, bp)
        else:
            _blocked_task(a, bp, c, nr, kc_max, mc, n_nblocks, task)


# --------------------------------------------------------------------------------------------
# Skinny products: no packing, one pass over the big operand
# --------------------------------------------------------------------------------------------

@jit(fastmath=_FASTMATH)
def _axpy_task(a, b, c, j_lo, j_hi):
    """c[:, j_lo:j_hi] = a @ b[:, j_lo:j_hi], adding 4 rows of b at a time (b C-contiguous).

    b is read once; the rows of c (a few KiB) stay in L1. The row views start at j_lo so their
    loop index starts at 0: LLVM then knows it is not negative (Numba's wraparound test
    vanishes) and vectorizes the loop.
    """
    m, k = a.shape
    c[:, j_lo:j_hi] = 0
    p = 0
    while p + 4 <= k:
        b0, b1 = b[p, j_lo:j_hi], b[p + 1, j_lo:j_hi]
        b2, b3 = b[p + 2, j_lo:j_hi], b[p + 3, j_lo:j_hi]
        for i in range(m):
            a0, a1, a2, a3 = a[i, p], a[i, p + 1], a[i, p + 2], a[i, p + 3]
            crow = c[i, j_lo:j_hi]
            for j in range(crow.shape[0]):
                crow[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j]
        p += 4
    while p < k:
        brow = b[p, j_lo:j_hi]
        for i in range(m):
            aip = a[i, p]
            crow = c[i, j_lo:j_hi]
            for j in range(crow.shape[0]):
                crow[j] += aip * brow[j]
        p += 1


def _gemm_rows_axpy(a, b, c, chunk):
    """c = a @ b for few rows: c[i, :] = sum_p a[i, p] * b[p, :], b row-major (C-contiguous).

    Threads take blocks of ``chunk`` columns; a block of b (k x chunk) is read once from
    memory and then from cache for each further row of c, and a row block of c stays in L1.
    """
    n = b.shape[1]
    for it in prange((n + chunk - 1) // chunk):
        t = np.intp(it)  # prange makes `it` unsigned: keep the callee's int64 signature
        _axpy_task(a, b, c, t * chunk, min(n, (t + 1) * chunk))


@jit(fastmath=_FASTMATH_DOT)
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


def _gemm_dot(a, bt, c, rows_per_task, cols_per_task):
    """c = a @ bt.T as dot products of rows (both operands' rows contiguous; bt is b.T).

    Threads take tiles of rows_per_task x cols_per_task of c.
    """
    m = a.shape[0]
    n = bt.shape[0]
    n_row_tiles = (m + rows_per_task - 1) // rows_per_task
    n_col_tiles = (n + cols_per_task - 1) // cols_per_task
    for it in prange(n_row_tiles * n_col_tiles):
        t = np.intp(it)  # prange makes `it` unsigned: keep the callee's int64 signature
        i_lo = (t // n_col_tiles) * rows_per_task
        j_lo = (t % n_col_tiles) * cols_per_task
        i_hi = min(m, i_lo + rows_per_task)
        _dot_task(a, bt, c, i_lo, i_hi, j_lo, min(n, j_lo + cols_per_task))


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

def _blocks(m, k, nr, threads):
    """(kc, mc, n_mblocks, n_nblocks) for _gemm_blocked: K cut into equal blocks of at most
    KC_MAX; M into equal blocks of at most MC_MAX rows, their count a multiple of the thread
    count when there are enough rows, else N cut into one block per thread."""
    n_k = -(-k // KC_MAX)
    kc = -(-k // n_k)
    panels = -(-m // MR)
    n_m = -(-m // MC_MAX)
    if panels >= threads:
        n_m = min(panels, -(-n_m // threads) * threads)
    mc = -(-panels // n_m) * MR
    n_m = -(-m // mc)
    return kc, mc, n_m, max(1, threads // n_m)


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
    if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        raise TypeError(f"gemm expects two float32 or two float64 arrays, got {a.dtype} and "
                        f"{b.dtype}")
    m, k = a.shape
    if b.shape[0] != k:
        raise ValueError(f"gemm: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({k} != {b.shape[0]})")
    n = b.shape[1]
    if out is None:
        out = np.empty((m, n), dtype=a.dtype)
    elif out.shape != (m, n) or out.dtype != a.dtype or not out.flags.c_contiguous:
        raise ValueError(f"gemm: out must be a C-contiguous {a.dtype} array of shape {(m, n)}, "
                         f"got {out.dtype} {out.shape}")
    if m == 0 or n == 0:
        return out
    if k == 0:
        out.fill(0)
        return out
    threads = numba.get_num_threads()
    if threads > 1 and 2 * m * n * k < SERIAL_FLOPS:
        # too small to share: waking the other threads would cost more than they save
        numba.set_num_threads(1)
        try:
            _product(a, b, out, 1)
        finally:
            numba.set_num_threads(threads)
    else:
        _product(a, b, out, threads)
    return out


def _product(a, b, out, threads):
    """Choose the path of gemm for its (validated) arguments and run it on ``threads``."""
    (m, k), n = a.shape, b.shape[1]
    item = a.itemsize
    if m <= SKINNY_M or n <= SKINNY_N:
        if m <= SKINNY_M and b.strides[0] == item and b.strides[1] != item:
            # b's columns are contiguous (b = W.T): dot products along them
            _kernel("dot", a.dtype)(_as_c(a), _as_c(b.T), out, m, -(-n // (2 * threads)))
        elif m <= SKINNY_M:
            chunk = -(-n // (2 * threads))
            chunk = max(64, -(-chunk // 16) * 16)
            _kernel("axpy", a.dtype)(a, _as_c(b), out, chunk)
        else:
            _kernel("dot", a.dtype)(_as_c(a), _as_c(b.T), out, -(-m // (4 * threads)), n)
        return
    nr = NR_F32 if a.dtype == np.float32 else NR_F64
    kc, mc, n_m, n_n = _blocks(m, k, nr, threads)
    bp = np.empty((-(-n // nr), k * nr), dtype=a.dtype)
    blocked = _kernel("blocked", a.dtype)
    blocked(a, b, bp, out, nr, kc, mc, n_m, n_n, 0)
    blocked(a, b, bp, out, nr, kc, mc, n_m, n_n, 1)


def matmul(a, b):
    """Kernel contract ``matmul``: ``a @ b`` for a (..., M, K), b (..., K, N), batch dims broadcast.

    Both arrays are at least 2-D (the ops layer promotes 1-D operands) and have one dtype:
    float32, float64, int64 or int32. Returns a new C-contiguous (..., M, N) array. Each
    matrix of the batch is one :func:`gemm` call; when only ``a`` has batch dimensions they are
    folded into M, which makes one large product instead of many small ones.
    """
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul expects arrays of at least 2 dimensions, got {a.shape} and "
                         f"{b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul expects one dtype, got {a.dtype} and {b.dtype}")
    (m, k), (k2, n) = a.shape[-2:], b.shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({k} != {k2})")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out = np.empty(batch + (m, n), dtype=a.dtype)
    if a.dtype in (np.float32, np.float64):
        product = gemm
    elif a.dtype in (np.int64, np.int32):
        product = _gemm_int
    else:
        raise TypeError(f"matmul does not support dtype {a.dtype}")
    if out.size == 0:
        return out
    if all(d == 1 for d in b.shape[:-2]) and a.flags.c_contiguous and a.ndim >= b.ndim:
        # b is one matrix: stack a's matrices into one tall product
        product(a.reshape(-1, k), b.reshape(k, n), out.reshape(-1, n))
        return out
    a = np.broadcast_to(a, batch + (m, k))
    b = np.broadcast_to(b, batch + (k, n))
    for index in np.ndindex(*batch):
        product(a[index], b[index], out[index])
    return out


def _gemm_int(a, b, out):
    _matmul_int(_as_c(a), _as_c(b), out)
    return out
