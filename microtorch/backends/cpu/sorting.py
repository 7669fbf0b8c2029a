"""Sorting and sampling for the CPU backend: ``argsort`` along one axis and ``multinomial``
(categorical samples with replacement).

``argsort`` views the input as rows along the sorted axis (the axis moved last, made
contiguous) and sorts each row's indices. The order is PyTorch's: NaN counts as larger than
every number (last in ascending order, first in descending order), and equal elements keep
their original order (a stable sort; PyTorch's ``stable=False`` may order ties differently, any
order of ties is allowed there).

* fast kernel: Numba's ``np.argsort(kind="mergesort")`` per row (a stable merge sort that puts
  NaN last). A stable *descending* order is the ascending sort of the reversed row, read
  backwards: ties then keep their original order and NaN comes first.
* reference kernel: insertion sort of each row's indices with the comparison written out.

``multinomial(probs, u)`` picks, for each uniform ``u[r, j]`` in [0, 1), the first category
``c`` whose running sum ``cdf[r, c] = probs[r, 0] + ... + probs[r, c]`` exceeds
``u[r, j] * cdf[r, -1]`` (inverse-CDF sampling). Categories of probability 0 are never picked.
The fast kernel bisects the running sums; the reference scans them from the start. Sums are
float64.
"""

import numpy as np

from .. import contract
from .._numba import jit
from .threads import parallel_for

REGISTRY = contract.registry("cpu")

# Smaller problems are handled on one thread: waking another costs more than it saves.
_PARALLEL_SIZE = 1 << 15


def _rows(x, axis):
    """``x`` with ``axis`` moved last, contiguous, as a 2-D (rows, length) array; bool as
    uint8 (Numba compares those)."""
    if x.dtype == np.bool_:
        x = x.view(np.uint8)
    moved = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    return moved.reshape(-1, x.shape[axis]), moved.shape


def _unrows(idx, moved_shape, axis):
    """The inverse of :func:`_rows` for the (rows, length) index array ``idx``."""
    return np.ascontiguousarray(np.moveaxis(idx.reshape(moved_shape), -1, axis))


@jit
def _argsort_rows(x, descending, out, r_lo, r_hi):
    """out[r] = the stable order of x[r] for rows r_lo..r_hi (see the module docstring)."""
    D = x.shape[1]
    for r in range(r_lo, r_hi):
        if descending:
            order = np.argsort(x[r, ::-1], kind="mergesort")
            for d in range(D):
                out[r, d] = D - 1 - order[D - 1 - d]
        else:
            out[r] = np.argsort(x[r], kind="mergesort")


@REGISTRY.kernel("argsort")
def argsort(x, axis, descending, stable):
    """int64 indices that sort ``x`` along ``axis`` (NaN largest; ties in index order)."""
    if x.size == 0:
        return np.empty(x.shape, dtype=np.int64)
    rows, moved = _rows(x, axis)
    out = np.empty(rows.shape, dtype=np.int64)
    if out.size:
        parallel_for(_argsort_rows, rows.shape[0], rows, bool(descending), out,
                     serial=rows.size < _PARALLEL_SIZE)
    return _unrows(out, moved, axis)


@jit
def _multinomial_rows(probs, u, out, r_lo, r_hi):
    """out[r, j] = the category of uniform u[r, j] under the weights probs[r], by bisection."""
    C = probs.shape[1]
    cdf = np.empty(C, dtype=np.float64)
    for r in range(r_lo, r_hi):
        s = 0.0
        for c in range(C):
            s += probs[r, c]
            cdf[c] = s
        for j in range(u.shape[1]):
            target = u[r, j] * s
            lo, hi = 0, C - 1        # the answer is in [lo, hi]: cdf[C - 1] = s > target
            while lo < hi:
                mid = (lo + hi) // 2
                if cdf[mid] > target:
                    hi = mid
                else:
                    lo = mid + 1
            out[r, j] = lo


@REGISTRY.kernel("multinomial")
def multinomial(probs, u):
    """int64 (R, n): categories drawn from the (R, C) weights ``probs`` by the (R, n) float64
    uniforms ``u`` (rows with a positive, finite sum)."""
    probs = np.ascontiguousarray(probs)
    out = np.empty(u.shape, dtype=np.int64)
    if out.size:
        parallel_for(_multinomial_rows, probs.shape[0], probs, np.ascontiguousarray(u), out,
                     serial=probs.size + u.size < _PARALLEL_SIZE)
    return out


# --------------------------------------------------------------------------------------------
# reference kernels: the textbook versions (see microtorch.backends.cpu.use_reference_kernels)
# --------------------------------------------------------------------------------------------

@jit
def _before(a, b, descending):
    """Whether value a sorts strictly before value b (NaN is the largest value)."""
    if descending:
        return a > b or (a != a and b == b)
    return a < b or (b != b and a == a)


@jit
def _argsort_reference_loop(x, descending, out):
    """Insertion sort of each row's indices: stable, since an element moves only past larger
    ones."""
    R, D = x.shape
    for r in range(R):
        for d in range(D):
            j = d
            while j > 0 and _before(x[r, d], x[r, out[r, j - 1]], descending):
                out[r, j] = out[r, j - 1]
                j -= 1
            out[r, j] = d


@REGISTRY.reference("argsort")
def argsort_reference(x, axis, descending, stable):
    """Textbook ``argsort``: insertion sort of each row."""
    if x.size == 0:
        return np.empty(x.shape, dtype=np.int64)
    rows, moved = _rows(x, axis)
    out = np.empty(rows.shape, dtype=np.int64)
    _argsort_reference_loop(rows, bool(descending), out)
    return _unrows(out, moved, axis)


@jit
def _multinomial_reference_loop(probs, u, out):
    R, C = probs.shape
    for r in range(R):
        s = 0.0
        for c in range(C):
            s += probs[r, c]
        for j in range(u.shape[1]):
            target = u[r, j] * s
            acc = 0.0
            c = 0
            while c < C - 1:
                acc += probs[r, c]
                if acc > target:
                    break
                c += 1
            out[r, j] = c


@REGISTRY.reference("multinomial")
def multinomial_reference(probs, u):
    """Textbook ``multinomial``: a linear scan of the running sum for each sample."""
    out = np.empty(u.shape, dtype=np.int64)
    _multinomial_reference_loop(np.ascontiguousarray(probs), np.ascontiguousarray(u), out)
    return out
