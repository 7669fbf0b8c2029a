"""Reduction kernels of the CPU backend: ``reduce`` (sum, prod, max, min) and ``arg_reduce``.

Design
------
Every reduction is brought to one canonical problem: a C-contiguous block viewed as
``(P, R, Q)`` -- P independent outer slabs, R reduced rows, Q kept inner elements -- producing
``(P, Q)``. A run of consecutive reduced axes maps onto R directly (a free ``reshape``); reduced
axes that are not consecutive (``axes=(0, 2)``) are reduced one run at a time, last run first.
Non-contiguous inputs are copied to C order first (memory traffic, no math).

* ``Q == 1`` (reducing trailing axes, e.g. a full sum): each slab is one contiguous row. Sums are
  *blocked*: 1024 elements are summed in the input dtype by a loop that LLVM vectorises into
  8-lane x 4 partial sums (the flag set {'reassoc', 'contract', 'arcp', 'nsz'} allows that and
  keeps NaN checks), and the block sums are added in float64. The rounding error of a float32 sum
  is therefore that of a ~32-term sum, whatever n is: as good as NumPy's pairwise sum.
* ``Q > 1`` (reducing leading or middle axes, e.g. a bias gradient): rows are combined into a
  length-Q accumulator (float64 for floats, int64 for integers), a loop along contiguous memory
  that vectorises. All four ops share that accumulator dtype, so an input dtype compiles one
  specialization of the kernel.

Sums have a kernel of their own (the commonest reduction compiles nothing else); one more
kernel serves prod, max and min (integer op code, loop-invariant, unswitched by LLVM).
Inputs of at least ``PARALLEL_MIN`` (2**21) elements are split over threads (see
:mod:`.threads`): each runs the same kernel on a block of slabs or -- when there is one slab, as
in a full sum -- on a block of the reduced rows, and the per-thread partial results are then
reduced by the kernel once more.

dtypes: ``sum``/``prod`` of bool, int32 and int64 give int64 (like torch), accumulated in int64
(inputs are read as they are; no cast pass). Floats keep their dtype. ``max``/``min`` keep the
dtype and propagate NaN. ``arg_reduce`` returns int64: the first index of the extreme value, NaN
counting as the maximum (and as the minimum), like torch.
"""

import math

import numpy as np

from .. import contract
from .._numba import jit
from .threads import run, split

REGISTRY = contract.registry("cpu")

__all__ = ["reduce", "arg_reduce", "PARALLEL_MIN"]

#: Inputs with at least this many elements use the multi-threaded kernel. The serial kernel
#: already runs at memory speed (a 1e6-element float32 sum is ~3x faster than NumPy's), and on a
#: loaded 2-core machine a parallel region can stall for a scheduler time slice (~10 ms), so
#: threads are only used for big inputs.
PARALLEL_MIN = 1 << 21

# Named op codes of ``reduce`` and ``arg_reduce`` (each ``add`` registers the op name).
REDUCE = REGISTRY.codes("reduce")
SUM = REDUCE.add("sum")
PROD = REDUCE.add("prod")
MAX = REDUCE.add("max")
MIN = REDUCE.add("min")
REDUCE_CODES = REDUCE.codes
"""Reduction op name -> code."""
ARG = REGISTRY.codes("arg_reduce")
ARGMAX = ARG.add("argmax")
ARGMIN = ARG.add("argmin")
ARG_CODES = ARG.codes
"""Arg-reduction op name -> code."""

_SAFE_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}
_BLOCK = 1024
_INT_ZERO = np.int64(0)


@jit(fastmath=_SAFE_FASTMATH)
def _combine(code, acc, v):
    """acc <op> v for the op ``code`` (prod, max or min); max/min return NaN once either side
    is NaN."""
    if code == PROD:
        return acc * v
    elif code == MAX:
        return v if (v > acc or v != v) else acc
    else:  # MIN
        return v if (v < acc or v != v) else acc


@jit(fastmath=_SAFE_FASTMATH)
def _block_sum(x, lo, hi, zero):
    """Sum of x[lo:hi] in the type of ``zero``; a plain loop that LLVM vectorises.

    The loop runs over a slice from 0: with ``range(lo, hi)`` indices Numba's negative-index
    wraparound check stays in the loop and blocks vectorisation (10x slower).
    """
    xs = x[lo:hi]
    s = zero
    for i in range(xs.shape[0]):
        s += xs[i]
    return s


@jit(fastmath=_SAFE_FASTMATH)
def _sum_kernel(code, x, P, R, Q, out, acc, zero):
    """out[p*Q + q] = sum over r of x[(p*R + r)*Q + q]; x and out 1-D C-contiguous.

    ``acc`` is a work row of length Q in the accumulator dtype (float64 for floats, int64 for
    integers and bool); ``zero`` is a zero of x's float dtype (or int64) used for block sums.
    With Q == 1 each slab is one contiguous run, summed block by block (see the module
    docstring); with Q > 1 each row is added into acc along its contiguous Q elements.
    ``code`` is unused (it is SUM): the same arguments as :func:`_fold_kernel`.
    """
    for p in range(P):
        base = p * R * Q
        for q in range(Q):
            acc[q] = 0
        if Q == 1:
            r = 0
            while r < R:
                e = min(r + _BLOCK, R)
                acc[0] += _block_sum(x, base + r, base + e, zero)
                r = e
        else:
            for r in range(R):
                xr = x[base + r * Q:base + (r + 1) * Q]
                for q in range(Q):
                    acc[q] += xr[q]
        for q in range(Q):
            out[p * Q + q] = acc[q]


@jit(fastmath=_SAFE_FASTMATH)
def _fold_kernel(code, x, P, R, Q, out, acc, zero):
    """out[p*Q + q] = prod (code PROD), max (MAX) or min (MIN) over r of x[(p*R + r)*Q + q].

    Same arguments as :func:`_sum_kernel` (``zero`` unused); R >= 1 for max/min (the wrapper
    checks). acc starts at 1 for prod, at the slab's first row for max/min.
    """
    for p in range(P):
        base = p * R * Q
        r0 = 0 if code == PROD else 1
        for q in range(Q):
            acc[q] = 1 if code == PROD else x[base + q]
        for r in range(r0, R):
            xr = x[base + r * Q:base + (r + 1) * Q]
            for q in range(Q):
                acc[q] = _combine(code, acc[q], xr[q])
        for q in range(Q):
            out[p * Q + q] = acc[q]


@jit
def _arg_kernel(code, x, P, R, Q, out, best):
    """out[p*Q + q] = first r where x[(p*R + r)*Q + q] is the max (ARGMAX) or min (ARGMIN), NaN
    winning; ``best`` is a work row of length Q in x's dtype; R >= 1."""
    for p in range(P):
        base = p * R * Q
        for q in range(Q):
            best[q] = x[base + q]
            out[p * Q + q] = 0
        for r in range(1, R):
            row = base + r * Q
            for q in range(Q):
                v = x[row + q]
                b = best[q]
                better = (v > b) if code == ARGMAX else (v < b)
                if b == b and (better or v != v):
                    best[q] = v
                    out[p * Q + q] = r


def _runs(axes):
    """Split sorted axes into runs of consecutive axes: (0, 1, 3) -> [(0, 2), (3, 4)]."""
    runs = []
    for a in axes:
        if runs and runs[-1][1] == a:
            runs[-1][1] = a + 1
        else:
            runs.append([a, a + 1])
    return runs


def _result_dtype(op, dtype):
    if op in ("sum", "prod") and dtype.kind in "biu":
        return np.dtype(np.int64)
    return dtype


def _check_nonempty(op, code, x, axes):
    """max and min have no value over an empty axis: ValueError (the ops layer raised torch's
    error before)."""
    if code in (MAX, MIN) and any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{op}(): cannot reduce over an axis of size 0")


def _reduce_3d(code, x, P, R, Q, out_dtype):
    """Run the (P, R, Q) -> (P, Q) reduction of C-contiguous x; returns a flat array of P*Q."""
    out = np.empty(P * Q, out_dtype)
    if P * Q == 0:
        return out
    # One accumulator dtype for all four ops (float64, or int64 for integers and bool; exact for
    # max/min too), so each input dtype compiles one kernel specialization, not two.
    if x.dtype.kind == "f":
        acc_dtype, zero = np.float64, x.dtype.type(0)
    else:
        acc_dtype, zero = np.int64, _INT_ZERO
    flat = x.reshape(-1)      # read-only inputs compile their own specialization on first use
    kernel = _sum_kernel if code == SUM else _fold_kernel
    if P * R * Q < PARALLEL_MIN or R < 2:
        kernel(code, flat, P, R, Q, out, np.empty(Q, acc_dtype), zero)
    elif P > 1:  # threads take blocks of slabs, straight into out
        run([(kernel, (code, flat[p0 * R * Q:p1 * R * Q], p1 - p0, R, Q,
                       out[p0 * Q:p1 * Q], np.empty(Q, acc_dtype), zero))
             for p0, p1 in split(P)])
    else:  # one slab (a full sum): threads take blocks of rows, then their results combine
        parts = split(R)
        partials = np.empty(len(parts) * Q, out_dtype)
        run([(kernel, (code, flat[r0 * Q:r1 * Q], 1, r1 - r0, Q,
                       partials[c * Q:(c + 1) * Q], np.empty(Q, acc_dtype), zero))
             for c, (r0, r1) in enumerate(parts)])
        kernel(code, partials, 1, len(parts), Q, out, np.empty(Q, acc_dtype), zero)
    return out


@REGISTRY.kernel("reduce")
def reduce(op, x, axes, keepdim):
    """Reduce x with ``op`` ("sum", "prod", "max" or "min") over ``axes``.

    x: any dtype of the library, any shape (0-d included) and strides. axes: sorted tuple of
    unique non-negative axes (all axes for a full reduction; empty: an identity copy in the result
    dtype). keepdim: keep reduced axes with size 1. Returns a new C-contiguous array: int64 for
    sum/prod of bool/int32/int64, else x's dtype. Sum of nothing is 0 and prod of nothing is 1;
    max/min over an empty axis raise ValueError (the ops layer is expected to have raised
    torch's error before). max/min propagate NaN. Float sums are blocked (see module docstring).
    """
    code = REDUCE_CODES[op]
    out_dtype = _result_dtype(op, x.dtype)
    if not axes:
        return np.array(x, dtype=out_dtype, order="C", copy=True)
    _check_nonempty(op, code, x, axes)
    y = x if x.flags.c_contiguous else np.ascontiguousarray(x)
    if len(axes) == y.ndim:                            # full reduction: the common fast path
        res = _reduce_3d(code, y, 1, y.size, 1, out_dtype)
        return res.reshape((1,) * y.ndim if keepdim else ())
    shape = list(y.shape)
    for s, e in reversed(_runs(axes)):
        P, R, Q = math.prod(shape[:s]), math.prod(shape[s:e]), math.prod(shape[e:])
        y = _reduce_3d(code, y, P, R, Q, out_dtype)
        shape = shape[:s] + [1] + shape[e:]
        y = y.reshape(shape)
    if keepdim:
        return y.reshape(tuple(1 if d in axes else n for d, n in enumerate(x.shape)))
    return y.reshape(tuple(n for d, n in enumerate(x.shape) if d not in axes))


@REGISTRY.kernel("arg_reduce")
def arg_reduce(op, x, axis, keepdim):
    """Index of the max ("argmax") or min ("argmin") of x along ``axis``, as int64.

    x: float, int or bool array of any strides with ``x.shape[axis] > 0`` (ValueError
    otherwise); axis non-negative. Ties give the first index; NaN counts as the extreme value
    (the first NaN wins), like torch. keepdim keeps the axis with size 1. Returns a new
    C-contiguous int64 array.
    """
    code = ARG_CODES[op]
    if x.shape[axis] == 0:
        raise ValueError(f"{op}(): cannot reduce over an axis of size 0")
    y = x if x.flags.c_contiguous else np.ascontiguousarray(x)
    P, R, Q = math.prod(y.shape[:axis]), y.shape[axis], math.prod(y.shape[axis + 1:])
    out = np.empty(P * Q, np.int64)
    if out.size:
        _arg_kernel(code, y.reshape(-1), P, R, Q, out, np.empty(Q, y.dtype))
    if keepdim:
        return out.reshape(y.shape[:axis] + (1,) + y.shape[axis + 1:])
    return out.reshape(y.shape[:axis] + y.shape[axis + 1:])


# --------------------------------------------------------------------------------------------
# reference kernels: the textbook versions (see microtorch.backends.cpu.use_reference_kernels)
# --------------------------------------------------------------------------------------------

def _rows(x, axes):
    """x as a C-contiguous (kept elements, reduced elements) matrix: the reduced axes moved
    last (NumPy data movement)."""
    kept = [d for d in range(x.ndim) if d not in axes]
    n_rows = math.prod(x.shape[d] for d in kept)
    n = math.prod(x.shape[a] for a in axes)
    return np.ascontiguousarray(np.transpose(x, kept + list(axes))).reshape(n_rows, n)


def _reduced_shape(shape, axes, keepdim):
    """``shape`` without the ``axes`` (size 1 when ``keepdim``)."""
    if keepdim:
        return tuple(1 if d in axes else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in axes)


@jit
def _reduce_rows_reference(code, x, out):
    """out[r] = op(x[r, 0], x[r, 1], ...) for every row r: one plain loop per row."""
    for r in range(x.shape[0]):
        if code == SUM:
            out[r] = 0
            for j in range(x.shape[1]):
                out[r] += x[r, j]
        elif code == PROD:
            out[r] = 1
            for j in range(x.shape[1]):
                out[r] *= x[r, j]
        else:  # MAX or MIN: start from the first element (rows are never empty here)
            out[r] = x[r, 0]
            for j in range(1, x.shape[1]):
                out[r] = _combine(code, out[r], x[r, j])


@REGISTRY.reference("reduce")
def reduce_reference(op, x, axes, keepdim):
    """Textbook ``reduce``: the reduced axes moved last, then a plain loop per output element,
    accumulating in float64 (floats) or int64 (integers and bool)."""
    code = REDUCE_CODES[op]
    _check_nonempty(op, code, x, axes)
    rows = _rows(x, axes)
    acc = np.empty(rows.shape[0], np.float64 if x.dtype.kind == "f" else np.int64)
    _reduce_rows_reference(code, rows, acc)
    res = acc.astype(_result_dtype(op, x.dtype))
    return res.reshape(_reduced_shape(x.shape, axes, keepdim))


@jit
def _arg_rows_reference(code, x, out):
    """out[r] = the first j where x[r, j] is the largest (ARGMAX) or smallest (ARGMIN); the
    first NaN wins."""
    for r in range(x.shape[0]):
        best = 0
        for j in range(1, x.shape[1]):
            b = x[r, best]
            if b != b:
                break
            v = x[r, j]
            if v != v or ((v > b) if code == ARGMAX else (v < b)):
                best = j
        out[r] = best


@REGISTRY.reference("arg_reduce")
def arg_reduce_reference(op, x, axis, keepdim):
    """Textbook ``arg_reduce``: the axis moved last, then a plain loop per output element."""
    code = ARG_CODES[op]
    if x.shape[axis] == 0:
        raise ValueError(f"{op}(): cannot reduce over an axis of size 0")
    rows = _rows(x, (axis,))
    out = np.empty(rows.shape[0], np.int64)
    _arg_rows_reference(code, rows, out)
    return out.reshape(_reduced_shape(x.shape, (axis,), keepdim))
