"""Sorting and sampling on the GPU: ``argsort`` along one axis and ``multinomial``.

Both work on rows: the sorted axis is moved last and made contiguous, so the input is an
``(R, D)`` array. Correctness first, written for the short rows of sampling (a vocabulary of
logits, a top-k): one thread sorts one row.

* ``argsort``: insertion sort of the row's indices in the output row, with PyTorch's order (NaN
  larger than every number; equal elements keep their index order, so the sort is stable).
  O(D^2) per row: fine for rows of a few hundred elements, slow for long ones.
* ``multinomial(probs, u)``: inverse-CDF sampling, one thread per row. The thread writes the
  row's running sums ``cdf`` (float64) into scratch memory, then for each uniform ``u[r, j]``
  bisects for the first ``c`` with ``cdf[c] > u[r, j] * cdf[C - 1]`` (a category of probability
  0 is never picked). The uniforms come from the device generator (:mod:`.random`); nothing is
  copied to the host.
"""

import numpy as np
from numba import cuda

from .. import contract
from . import _core
from ._core import arr, b1, f32, f64, i64
from .elementwise import astype, contiguous

REGISTRY = contract.registry("cuda")


@cuda.jit(device=True)
def _before(a, b, descending):
    """Whether value a sorts strictly before value b (NaN is the largest value)."""
    if descending:
        return a > b or (a != a and b == b)
    return a < b or (b != b and a == a)


@cuda.jit
def argsort_rows(x, descending, out):
    """out[r] = the stable order of x[r] (insertion sort), one thread per row."""
    D = x.shape[1]
    for r in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        for d in range(D):
            v = x[r, d]
            j = d
            while j > 0 and _before(v, x[r, out[r, j - 1]], descending):
                out[r, j] = out[r, j - 1]
                j -= 1
            out[r, j] = d


@cuda.jit
def multinomial_rows(probs, u, cdf, out):
    """out[r, j] = the category of uniform u[r, j] under the weights probs[r]; one thread per
    row, cdf (R, C) float64 scratch."""
    C = probs.shape[1]
    for r in range(cuda.grid(1), probs.shape[0], cuda.gridsize(1)):
        s = 0.0
        for c in range(C):
            s += probs[r, c]
            cdf[r, c] = s
        for j in range(u.shape[1]):
            target = u[r, j] * s
            lo = 0
            hi = C - 1
            while lo < hi:
                mid = (lo + hi) // 2
                if cdf[r, mid] > target:
                    hi = mid
                else:
                    lo = mid + 1
            out[r, j] = lo


_SORTED_DTYPES = (f32, f64, i64)
for _dt in _SORTED_DTYPES:
    REGISTRY.launches(argsort_rows, (arr(_dt, 2, "C"), b1, arr(i64, 2, "C")))
for _dt in (f32, f64):
    REGISTRY.launches(multinomial_rows, (arr(_dt, 2, "C"), arr(f64, 2, "C"), arr(f64, 2, "C"),
                                         arr(i64, 2, "C")))


def _kernel_dtype(dtype):
    """The dtype ``argsort_rows`` is compiled for that holds ``dtype``'s order."""
    dtype = np.dtype(dtype)
    if dtype in (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)):
        return dtype
    if dtype.kind == "f":
        return np.dtype(np.float64)
    return np.dtype(np.int64)  # bool, uint8, int32: exact in int64


@REGISTRY.kernel("argsort")
def argsort(x, axis, descending, stable):
    """int64 indices that sort ``x`` along ``axis`` (NaN largest; ties in index order)."""
    out = _core.empty(x.shape, np.int64)
    if out.size == 0:
        return out
    axis = int(axis)
    nd = len(x.shape)
    moved_axes = tuple(d for d in range(nd) if d != axis) + (axis,)
    dtype = _kernel_dtype(x.dtype)
    if np.dtype(x.dtype) != dtype:
        x = astype(x, dtype)
    rows = contiguous(_core.permute(x, moved_axes))
    D = int(x.shape[axis])
    R = rows.size // D
    idx = _core.empty((R, D), np.int64)
    _core.launch_1d(argsort_rows, R, _core.reshape(rows, (R, D)), bool(descending), idx)
    moved_shape = tuple(x.shape[d] for d in moved_axes)
    back = tuple(int(np.argsort(moved_axes)[d]) for d in range(nd))
    return contiguous(_core.permute(_core.reshape(idx, moved_shape), back))


@REGISTRY.kernel("multinomial")
def multinomial(probs, u):
    """int64 (R, n): categories drawn from the (R, C) weights ``probs`` by the (R, n) float64
    uniforms ``u`` (rows with a positive, finite sum)."""
    R, n = u.shape
    out = _core.empty((R, n), np.int64)
    if out.size == 0:
        return out
    probs = contiguous(probs)
    cdf = _core.empty(probs.shape, np.float64)
    _core.launch_1d(multinomial_rows, R, probs, contiguous(u), cdf, out)
    return out
