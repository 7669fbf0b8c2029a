"""Correctness of the CPU GEMM (microtorch/backends/cpu/gemm.py) against NumPy.

The reference is computed in float64 (and with exact integer arithmetic for int dtypes); float32
results are compared with a tolerance that grows with K, since both sides round each partial
sum. Shapes cover every path of the module: the blocked kernel with its edge tiles (sizes around
multiples of the register tiles (8 x 32 / 8 x 16 with AVX-512) and of the K block), the skinny paths (few rows or
columns), empty and degenerate sizes, and inputs of any strides.
"""

import numpy as np
import pytest

from microtorch.backends.cpu import gemm as G
# matmul through the kernels module (MICROTORCH_KERNELS=reference checks the reference)
from microtorch.backends.cpu import kernels as K

FLOATS = (np.float32, np.float64)


def _ref_matmul(a, b):
    """a @ b without NumPy's BLAS: OpenBLAS's thread pool and Numba's would fight over the
    cores (see PERF_NOTES.md), and the oracle should not share code paths with the subject."""
    return np.einsum("...ik,...kj->...ij", a, b)


def _rand(rng, shape, dtype):
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-50, 50, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _check(got, a, b):
    ref = _ref_matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == ref.shape
    assert got.dtype == a.dtype
    k = a.shape[-1]
    if a.dtype == np.float32:
        tol = 2e-6 * (k + 1)
    else:
        tol = 1e-14 * (k + 1)
    scale = np.sqrt(_ref_matmul(a.astype(np.float64) ** 2, b.astype(np.float64) ** 2))
    np.testing.assert_array_less(np.abs(got - ref), tol * (scale + 1e-30) + 1e-30)


# (M, K, N): tile and block edges (MR = 8 or 6, NR = 32/16 or 16/8, KC_MAX = 256), the
# skinny thresholds (SKINNY_M = 8, SKINNY_N = 4) and odd sizes.
SHAPES = [
    (1, 1, 1), (1, 7, 1), (2, 3, 4), (5, 16, 16), (5, 8, 8), (4, 9, 15), (6, 17, 17),
    (9, 5, 5), (9, 5, 4), (8, 40, 5), (9, 40, 33), (10, 1, 32), (11, 13, 129),
    (33, 257, 31), (31, 256, 48), (64, 513, 17), (161, 20, 40), (165, 30, 3), (321, 7, 65),
    (1, 300, 100), (3, 64, 1000), (8, 100, 47), (100, 77, 1), (200, 33, 2), (2, 5000, 3),
    (17, 600, 65), (40, 129, 200), (520, 300, 170), (100, 27, 1030),
    # B read in place with a partial last sliver, the one-vector tile (N <= 16 / 8), K split
    (9, 20, 16), (9, 20, 15), (12, 40, 8), (30, 700, 17), (20, 1500, 40), (600, 50, 70),
]

# CIFAR ResNet-20 convolution products (batch 64): few rows and huge N, or small C and huge K;
# "T": A is a transposed view (the input gradient W.T @ gy)
RESNET_SHAPES = [
    (16, 144, 28672), (144, 28672, 16), (32, 288, 14336), (144, 16, 28672, "T"),
    (64, 576, 4096), (16, 144, 8192), (16, 27, 65536), (27, 65536, 16), (16, 16384, 32),
    (16, 32, 16384, "T"),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gemm_contiguous(shape, dtype):
    rng = np.random.default_rng(sum(shape))
    m, k, n = shape
    a, b = _rand(rng, (m, k), dtype), _rand(rng, (k, n), dtype)
    _check(G.gemm(a, b), a, b)


@pytest.mark.parametrize("shape", RESNET_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gemm_resnet_shapes(shape):
    rng = np.random.default_rng(sum(shape[:3]))
    m, k, n = shape[:3]
    a = _rand(rng, (k, m), np.float32).T if shape[3:] == ("T",) else _rand(rng, (m, k),
                                                                          np.float32)
    b = _rand(rng, (k, n), np.float32)
    _check(G.gemm(a, b), a, b)


LAYOUTS = ["C", "F", "slice", "reversed", "rows_reversed", "broadcast"]


def _layout(x, how, rng):
    """The same matrix as x, stored with other strides."""
    if how == "C":
        return x
    if how == "F":
        return np.asfortranarray(x)
    if how == "slice":  # every other row and column of a bigger array
        big = _rand(rng, (2 * x.shape[0] + 1, 3 * x.shape[1] + 2), x.dtype)
        big[1::2, 2::3] = x
        return big[1::2, 2::3]
    if how == "reversed":  # negative strides
        return np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1]
    if how == "rows_reversed":  # negative row stride, contiguous rows
        return np.ascontiguousarray(x[::-1])[::-1]
    # 0-strides: rows all equal
    return np.broadcast_to(x[:1], x.shape)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("la", LAYOUTS)
@pytest.mark.parametrize("lb", LAYOUTS)
@pytest.mark.parametrize("shape", [(3, 37, 21), (23, 37, 21), (23, 37, 3), (23, 37, 70),
                                   (10, 400, 12)],
                         ids=lambda s: "x".join(map(str, s)))
def test_gemm_strides(shape, la, lb, dtype):
    rng = np.random.default_rng(7)
    m, k, n = shape
    a = _layout(_rand(rng, (m, k), dtype), la, rng)
    b = _layout(_rand(rng, (k, n), dtype), lb, rng)
    _check(G.gemm(a, b), a, b)


@pytest.mark.parametrize("dtype", FLOATS)
def test_gemm_transposed_views(dtype):
    rng = np.random.default_rng(3)
    x = _rand(rng, (70, 45), dtype)
    w = _rand(rng, (33, 45), dtype)
    _check(G.gemm(x, w.T), x, w.T)           # linear layer: x @ W.T
    _check(G.gemm(x.T, x), x.T, x)           # gradient of W: gy.T @ x
    for rows in (1, 3, 4, 6, 8):              # a few rows, B column-major: dot products
        _check(G.gemm(x[:rows], w.T), x[:rows], w.T)


@pytest.mark.parametrize("dtype", FLOATS)
def test_gemm_out(dtype):
    rng = np.random.default_rng(4)
    a, b = _rand(rng, (17, 9), dtype), _rand(rng, (9, 23), dtype)
    out = np.full((17, 23), np.nan, dtype)
    assert G.gemm(a, b, out=out) is out
    _check(out, a, b)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0), (6, 0, 17)])
def test_gemm_empty(shape, dtype):
    m, k, n = shape
    a, b = np.ones((m, k), dtype), np.ones((k, n), dtype)
    out = np.full((m, n), np.nan, dtype)
    G.gemm(a, b, out=out)
    assert np.array_equal(out, np.zeros((m, n), dtype))


def test_gemm_float32_stays_float32():
    # big K in float32 would be visibly more accurate if summed in float64: check it is not
    # worse than NumPy's float32 by more than a few times, and the dtype is float32
    rng = np.random.default_rng(5)
    a = rng.random((7, 4000), dtype=np.float32)
    b = rng.random((4000, 30), dtype=np.float32)
    got = G.gemm(a, b)
    assert got.dtype == np.float32
    _check(got, a, b)


def test_gemm_special_values():
    a = np.array([[1.0, np.inf], [np.nan, 2.0], [0.0, 1.0]], np.float32)
    b = np.array([[1.0, 0.0], [1.0, 1.0]], np.float32)
    got = G.gemm(a, b)
    with np.errstate(invalid="ignore"):
        ref = _ref_matmul(a, b)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(got[~np.isnan(ref)], ref[~np.isnan(ref)])


@pytest.mark.parametrize("a_shape,b_shape", [
    ((2, 3), (3,)), ((3, 4, 5), (3, 5)), ((2,), (2, 3)),
])
def test_gemm_rejects_bad_shapes(a_shape, b_shape):
    with pytest.raises(ValueError):
        G.gemm(np.ones(a_shape, np.float32), np.ones(b_shape, np.float32))


def test_gemm_rejects_bad_dtypes_and_out():
    a = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError):
        G.gemm(a, np.ones((3, 2), np.float64))
    with pytest.raises(TypeError):
        G.gemm(a.astype(np.int64), np.ones((3, 2), np.int64))
    with pytest.raises(ValueError):
        G.gemm(a, np.ones((3, 2), np.float32), out=np.empty((2, 3), np.float32))
    with pytest.raises(ValueError):
        G.gemm(a, np.ones((3, 2), np.float32), out=np.empty((2, 2), np.float32).T)


# ---- matmul: the kernel-contract function ------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS + (np.int64, np.int32))
@pytest.mark.parametrize("a_shape,b_shape", [
    ((4, 3), (3, 5)),
    ((2, 4, 3), (3, 5)),              # batch only on a: folded into M
    ((4, 3), (2, 3, 5)),              # batch only on b
    ((2, 1, 4, 3), (3, 3, 5)),        # both, broadcast
    ((1, 6, 7), (5, 7, 2)),
    ((3, 2, 9, 20), (3, 2, 20, 17)),
    ((0, 4, 3), (3, 5)),              # empty batch
    ((2, 4, 0), (2, 0, 5)),           # K = 0
])
def test_matmul_batched(a_shape, b_shape, dtype):
    rng = np.random.default_rng(len(a_shape) * 10 + len(b_shape))
    a, b = _rand(rng, a_shape, dtype), _rand(rng, b_shape, dtype)
    got = K.matmul(a, b)
    assert got.flags.c_contiguous
    if np.issubdtype(dtype, np.integer):
        ref = _ref_matmul(a.astype(np.int64), b.astype(np.int64)).astype(dtype)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, ref)
    else:
        _check(got, a, b)


@pytest.mark.parametrize("dtype", FLOATS + (np.int64,))
def test_matmul_strided_batches(dtype):
    rng = np.random.default_rng(11)
    a = _rand(rng, (3, 6, 4), dtype).transpose(0, 2, 1)     # (3, 4, 6), not contiguous
    b = _rand(rng, (5, 6, 3), dtype)[::-1].transpose(2, 1, 0)[:, :, ::2]   # (3, 6, 3)
    got = K.matmul(a, b)
    ref = _ref_matmul(a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)


def test_matmul_int_wraps_like_numpy():
    a = np.array([[2**62, 2**62]], np.int64)
    b = np.array([[2], [2]], np.int64)
    np.testing.assert_array_equal(K.matmul(a, b), _ref_matmul(a, b))


def test_matmul_errors():
    with pytest.raises(ValueError):
        K.matmul(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32))
    with pytest.raises(ValueError):
        K.matmul(np.ones((2, 2, 3), np.float32), np.ones((3, 3, 2), np.float32))
    with pytest.raises(TypeError):
        K.matmul(np.ones((2, 3), np.float32), np.ones((3, 2), np.float64))
    with pytest.raises(TypeError):
        K.matmul(np.ones((2, 3), bool), np.ones((3, 2), bool))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("threads", [2, 1])
@pytest.mark.parametrize("plan", [(7, 5, 37, 150, 50), (7, 10, 8, 150, 50), (64, 35, 16, 40, 50),
                                  (13, 40, 37, 32, 50), (50, 8, 24, 64, 50), (9, 40, 37, 150, 13),
                                  (20, 16, 37, 150, 25), (256, 40, 16, 16, 30)])
@pytest.mark.parametrize("b_layout,inplace", [("C", 0), ("C", 1), ("F", 0)])
def test_blocked_kernel_any_plan(plan, threads, b_layout, inplace, dtype):
    """Every block split of the blocked path gives the same product (the planner only picks
    among these by the thread count and shape, so test the splits directly): K blocks (kc),
    row blocks (mc), tasks of m_step rows x n_step columns x k_step of K (partial products
    added); B row- or column-major, packed or (when row-major) read in place; tasks one vector
    wide use the narrow tile."""
    rng = np.random.default_rng(12)
    m, k, n = 37, 50, 150
    a = _rand(rng, (m, k), dtype)
    b = _rand(rng, (k, n), dtype) if b_layout == "C" else _rand(rng, (n, k), dtype).T
    kc, mc, m_step, n_step, k_step = plan
    mc = -(-mc // G.MR) * G.MR
    if m_step < m:
        m_step = -(-m_step // G.MR) * G.MR
    out = np.full((m, n), np.nan, dtype)
    G._run_blocked(a, b, out, (kc, mc, m_step, n_step, k_step), inplace, threads)
    _check(out, a, b)
