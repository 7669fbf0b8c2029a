"""The argument types every CUDA kernel of this backend is launched with (one entry per dtype).

``tests/cuda_ptx`` compiles each pair to PTX with ``numba.cuda.compile_ptx`` (no GPU needed),
and checks that every kernel of the package is listed here. Keep it in step with the launches.
"""

import numpy as np
from numba import types as T

from . import conv, elementwise as ew, gemm, indexing, memory, norm, pool, random, reduce, softmax

f32, f64, i64, b1, u64 = T.float32, T.float64, T.int64, T.boolean, T.uint64
U6 = T.UniTuple(i64, 6)
U8 = T.UniTuple(i64, 8)


def A(dtype, ndim, layout="A"):
    return T.Array(dtype, ndim, layout)


def _elementwise():
    out = []
    for dt in (f32, f64, i64):
        for nd, k_un, k_bin, k_cmp, k_wh, k_cl in (
                (1, ew.unary_1d, ew.binary_1d, ew.compare_1d, ew.where_1d, ew.clamp_1d),
                (6, ew.unary_nd, ew.binary_nd, ew.compare_nd, ew.where_nd, ew.clamp_nd)):
            a = A(dt, nd)
            out += [(k_un, (i64, dt, dt, a, a)),
                    (k_bin, (i64, a, a, a)),
                    (k_cmp, (i64, a, a, A(b1, nd))),
                    (k_wh, (A(b1, nd), a, a, a)),
                    (k_cl, (dt, dt, b1, b1, a, a))]
    for dt in (i64, b1):  # bitwise and/or/xor: integer and bool tensors only
        for nd, k_bit in ((1, ew.bitwise_1d), (6, ew.bitwise_nd)):
            out.append((k_bit, (i64, A(dt, nd), A(dt, nd), A(dt, nd))))
    for nd, k_copy, k_bool, k_fill in ((1, ew.copy_1d, ew.to_bool_1d, ew.fill_1d),
                                       (6, ew.copy_nd, ew.to_bool_nd, ew.fill_nd)):
        for src, dst in ((f32, f32), (f32, f64), (f64, f32), (i64, f32), (b1, f32), (f32, i64),
                         (i64, i64), (b1, b1)):
            out.append((k_copy, (A(src, nd), A(dst, nd))))
        for src in (f32, f64, i64):
            out.append((k_bool, (A(src, nd), A(b1, nd))))
        for dt in (f32, f64, i64, b1):
            out.append((k_fill, (dt, A(dt, nd))))
    out.append((memory._arange_kernel, (f64, f64, A(f32, 1, "C"))))
    out.append((memory._arange_kernel, (i64, i64, A(i64, 1, "C"))))
    return out


def _random():
    from numba import from_dtype
    from numba.cuda.random import xoroshiro128p_dtype

    st = A(from_dtype(xoroshiro128p_dtype), 1, "C")
    return [(random._uniform32, (st, A(f32, 1, "C"))),
            (random._uniform64, (st, A(f64, 1, "C"))),
            (random._normal32, (st, A(f32, 1, "C"))),
            (random._normal64, (st, A(f64, 1, "C"))),
            (random._randint, (st, i64, u64, A(i64, 1, "C")))]


def _reduce():
    out = []
    for dt, block, argb in ((f32, reduce.rows_block_f32, reduce.arg_block_f32),
                            (f64, reduce.rows_block_f64, reduce.arg_block_f64),
                            (i64, reduce.rows_block_i64, reduce.arg_block_i64)):
        out += [(block, (i64, dt, i64, A(dt, 2), A(dt, 2))),
                (reduce.rows_thread, (i64, dt, A(dt, 2), A(dt, 2))),
                (reduce.cols_thread, (i64, dt, A(dt, 2), A(dt, 1))),
                (reduce.arg_thread, (i64, A(dt, 3), A(i64, 2))),
                (argb, (i64, A(dt, 2), A(i64, 1)))]
    return out


def _gemm():
    return [(gemm.gemm_f32, (A(f32, 4),) * 3), (gemm.gemm_f64, (A(f64, 4),) * 3),
            (gemm.gemm_f32, (A(f32, 4, "C"),) * 3)]


def _indexing():
    out = [(indexing.nonzero_kernel, (A(b1, 1), U6, i64, A(i64, 2))),
           (indexing.adv_offsets_kernel, (A(i64, 2), U6, U6, i64, A(i64, 1)))]
    for dt in (f32, f64, i64):
        one = A(dt, 1)
        out += [(indexing.adv_gather_kernel, (one, A(i64, 1), i64, i64, U6, U6, one)),
                (indexing.adv_scatter_kernel, (one, A(i64, 1), i64, i64, U6, U6, one)),
                (indexing.adv_add_kernel, (one, A(i64, 1), i64, i64, U6, U6, one)),
                (indexing.gather_kernel, (A(dt, 6), i64, A(i64, 6), A(dt, 6))),
                (indexing.scatter_add_kernel, (A(dt, 6), i64, A(i64, 6), A(dt, 6)))]
    return out


def _nn():
    out = []
    for dt in (f32, f64):
        k2, k3, k4 = A(dt, 2), A(dt, 3), A(dt, 4)
        avg, avg_b, ada, ada_b = pool._AVG[np.dtype(str(dt))]
        out += [(conv.im2col_kernel, (k4, U8, i64, dt, k2)),
                (conv.col2im_kernel, (k2, U8, i64, i64, dt, k4)),
                (pool.max_pool_kernel, (k3, U8, dt, k3, A(i64, 3))),
                (pool.max_pool_backward_kernel, (k2, A(i64, 2), k2)),
                (avg, (k3, T.UniTuple(i64, 6), b1, dt, dt, k3)),
                (avg_b, (k3, T.UniTuple(i64, 6), b1, dt, dt, k3)),
                (ada, (k3, dt, k3)),
                (ada_b, (k3, dt, k3)),
                (norm.channel_sums_kernel, (i64, k3, k3, A(dt, 1), A(dt, 1), i64, A(f64, 3))),
                (norm.stats_finish_kernel, (A(f64, 3), k3, f64, A(dt, 1), A(dt, 1))),
                (norm.affine_coef_kernel, (A(dt, 1),) * 3 + (b1, b1, A(dt, 1), A(dt, 1))),
                (norm.affine_kernel, (k3, A(dt, 1), A(dt, 1), A(dt, 1), k3)),
                (norm.backward_finish_kernel, (A(f64, 3), A(dt, 1), b1, A(dt, 1), A(dt, 1), b1,
                                               f64) + (A(dt, 1),) * 5),
                (norm.backward_apply_kernel, (k3, k3, A(dt, 1), A(dt, 1), A(dt, 1), k3)),
                (softmax.softmax_cols, (k3, b1, dt, dt, dt, k3)),
                (softmax.softmax_backward_cols, (k3, k3, b1, dt, k3))]
        rows, rows_b = softmax._ROWS[np.dtype(str(dt))]
        out += [(rows, (k2, b1, k2)), (rows_b, (k2, k2, b1, k2))]
    return out


def signatures():
    """``[(kernel, argument types), ...]`` for every kernel launch of the backend."""
    return _elementwise() + _random() + _reduce() + _gemm() + _indexing() + _nn()


MODULES = (conv, ew, gemm, indexing, memory, norm, pool, random, reduce, softmax)
