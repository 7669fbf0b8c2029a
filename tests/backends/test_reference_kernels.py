"""The CPU's textbook reference kernels and its fast kernels agree on the same cases.

Every compute entry point of the contract is run through both (from the CPU registry) on odd
shapes, broadcasting, strided views, empty arrays, 0-d arrays and integer dtypes; results must
have the same dtype and shape, and equal values (``allclose`` for floats: sums may be added in
another order). Convolution and pooling have their cases in ``test_nn_kernels.py``.
"""

import itertools
import pathlib

import numpy as np
import pytest

from microtorch.backends import contract
from microtorch.backends.cpu import kernels

FAST = kernels.REGISTRY.kernels
REFERENCE = kernels.REGISTRY.references
RNG = np.random.default_rng(11)
FLOATS = (np.float32, np.float64)
INTS = (np.int32, np.int64)

#: Compute entry points whose reference-vs-fast cases live in test_nn_kernels.py.
TESTED_WITH_NN_KERNELS = {"conv2d", "conv2d_grad_input", "conv2d_grad_weight", "max_pool2d",
                          "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
                          "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward"}
TESTED_HERE = {"unary", "binary", "where", "clamp", "reduce", "arg_reduce", "matmul", "softmax",
               "softmax_backward", "batch_norm", "batch_norm_stats", "batch_norm_backward"}


def _same(name, *args, **kwargs):
    """Run ``name`` through the reference and the fast kernel on copies of the same arguments
    and check that the results agree."""
    copies = [tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
              for _ in range(2)]
    expected = REFERENCE[name](*copies[0], **kwargs)
    got = FAST[name](*copies[1], **kwargs)
    _agree(expected, got)
    return expected


def _agree(expected, got):
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for e, g in zip(expected, got):
            _agree(e, g)
        return
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if expected.dtype.kind == "f":
        tol = 2e-5 if expected.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected)


def _data(shape, dtype, special=False):
    """Random values of ``dtype``; floats optionally with NaN and infinities sprinkled in."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return RNG.random(shape) < 0.5
    if dtype.kind in "iu":
        return RNG.integers(-6, 7, shape).astype(dtype)
    x = (RNG.standard_normal(shape) * 2).astype(dtype)
    if special and x.size >= 4:
        flat = x.reshape(-1)
        flat[::5] = np.nan
        flat[1::7] = np.inf
        flat[2::9] = -np.inf
    return x


def _layouts(shape, dtype, special=False):
    """Arrays of ``shape`` in several layouts: contiguous, transposed, stepped slice."""
    x = _data(shape, dtype, special)
    yield x
    if x.ndim >= 2:
        yield np.ascontiguousarray(x.T).T
    big = _data(tuple(2 * n for n in shape), dtype, special)
    yield big[tuple(slice(None, None, 2) for _ in shape)]


#: Entry points whose reference-vs-fast comparison sits with the rest of their op's tests.
COMPARED_ELSEWHERE = {
    "cumsum": "tests/ops/test_scan.py::test_reference_kernels_match_fast",
    "cumprod": "tests/ops/test_scan.py::test_reference_kernels_match_fast",
    "argsort": "tests/ops/test_sorting.py::test_reference_kernel_equals_fast",
    "multinomial": "tests/test_multinomial.py::test_reference_kernel_equals_fast",
    "layer_norm": "tests/nn/test_layer_norm.py::test_reference_kernels_equal_fast",
    "layer_norm_backward": "tests/nn/test_layer_norm.py::test_reference_kernels_equal_fast",
    "attention": "tests/nn/test_attention.py::test_fused_matches_composed",
    "attention_backward": "tests/nn/test_attention.py::test_fused_matches_composed",
}


def test_every_compute_entry_point_is_compared():
    compute = set(contract.KERNELS) - contract.DATA_MOVEMENT
    assert compute == TESTED_HERE | TESTED_WITH_NN_KERNELS | set(COMPARED_ELSEWHERE)


@pytest.mark.parametrize("name", sorted(COMPARED_ELSEWHERE))
def test_comparisons_elsewhere_exist(name):
    """Each comparison named above exists and switches to the reference kernels."""
    path, test = COMPARED_ELSEWHERE[name].split("::")
    source = (pathlib.Path(__file__).parents[2] / path).read_text(encoding="utf-8")
    assert f"def {test}(" in source
    assert "use_reference_kernels" in source


# ---- elementwise ------------------------------------------------------------------------------

SHAPES = [(), (0,), (7,), (3, 5), (2, 3, 4), (70, 70)]


@pytest.mark.parametrize("op", list(contract.UNARY_OPS))
@pytest.mark.parametrize("dtype", FLOATS + INTS)
def test_unary(op, dtype):
    if np.dtype(dtype).kind == "i" and op not in ("neg", "abs", "relu", "sign"):
        with pytest.raises(TypeError):
            REFERENCE["unary"](op, _data((3,), dtype))
        return
    for shape in SHAPES:
        for x in _layouts(shape, dtype, special=True):
            _same("unary", op, x)
            _same("unary", op, x, out=np.empty(x.shape, x.dtype))


BINARY_SHAPES = [((), ()), ((5,), ()), ((), (5,)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)),
                 ((0, 3), (3,)), ((70, 70), (70, 1)), ((4, 5), (4, 5))]


def _binary_dtypes(op):
    if op.startswith("bitwise"):
        return (np.bool_,) + INTS
    return FLOATS + INTS + (np.bool_,) if op in ("add", "mul", "maximum", "minimum", "eq", "ne",
                                                  "lt", "le", "gt", "ge") else FLOATS + INTS


@pytest.mark.parametrize("op", list(contract.BINARY_OPS))
def test_binary(op):
    for dtype in _binary_dtypes(op):
        for sa, sb in BINARY_SHAPES:
            for a, b in itertools.product(_layouts(sa, dtype, special=True),
                                          _layouts(sb, dtype, special=True)):
                _same("binary", op, a, b)


@pytest.mark.parametrize("dtype", FLOATS + INTS)
def test_binary_into_out(dtype):
    a, b = _data((4, 6), dtype), _data((6,), dtype)
    a_ref, a_fast = a.copy(), a.copy()
    REFERENCE["binary"]("add", a_ref, b, out=a_ref)             # in place, as a.add_(b)
    FAST["binary"]("add", a_fast, b, out=a_fast)
    _agree(a_ref, a_fast)
    out = np.empty((6, 4), dtype).T                              # a strided out
    _agree(REFERENCE["binary"]("mul", a, b, out=out.copy()), FAST["binary"]("mul", a, b, out=out))


@pytest.mark.parametrize("dtype", FLOATS + INTS)
def test_where(dtype):
    for sc, sa, sb in [((), (), ()), ((3, 4), (4,), ()), ((0, 2), (2,), (1,)),
                       ((70, 70), (70, 1), (70,))]:
        for cond in _layouts(sc, np.bool_):
            _same("where", cond, _data(sa, dtype, special=True), _data(sb, dtype))


@pytest.mark.parametrize("dtype", FLOATS + INTS)
@pytest.mark.parametrize("lo, hi", [(-1, 2), (None, 0.5), (-0.5, None), (3, -3),
                                    (float("nan"), 1.0)])
def test_clamp(dtype, lo, hi):
    if np.dtype(dtype).kind == "i" and lo is not None and lo != lo:
        return                                            # no NaN bound for integers
    for shape in SHAPES:
        for x in _layouts(shape, dtype, special=True):
            _same("clamp", x, lo, hi)
            _same("clamp", x, lo, hi, out=np.empty(x.shape, x.dtype))


# ---- reductions -------------------------------------------------------------------------------

def _axes_sets(ndim):
    return [axes for r in range(ndim + 1) for axes in itertools.combinations(range(ndim), r)]


@pytest.mark.parametrize("op", list(contract.REDUCE_OPS))
@pytest.mark.parametrize("dtype", FLOATS + INTS + (np.bool_, np.uint8))
def test_reduce(op, dtype):
    for shape in [(), (5,), (3, 4), (2, 3, 4), (1, 0, 3)]:
        for x in _layouts(shape, dtype, special=True):
            for axes in _axes_sets(x.ndim):
                if op in ("max", "min") and any(x.shape[a] == 0 for a in axes):
                    with pytest.raises(ValueError):
                        REFERENCE["reduce"](op, x, axes, False)
                    continue
                for keepdim in (False, True):
                    _same("reduce", op, x, axes, keepdim)


@pytest.mark.parametrize("op", list(contract.ARG_REDUCE_OPS))
@pytest.mark.parametrize("dtype", FLOATS + INTS + (np.bool_,))
def test_arg_reduce(op, dtype):
    ties = np.array([[1, 3, 3, 0], [2, 2, 1, 2]], dtype)
    _same("arg_reduce", op, ties, 1, False)
    for shape in [(5,), (3, 4), (2, 3, 4), (0, 3)]:
        for x in _layouts(shape, dtype, special=True):
            for axis in range(x.ndim):
                if x.shape[axis] == 0:
                    with pytest.raises(ValueError):
                        REFERENCE["arg_reduce"](op, x, axis, False)
                    continue
                for keepdim in (False, True):
                    _same("arg_reduce", op, x, axis, keepdim)


# ---- matmul, softmax, batch norm --------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS + INTS)
@pytest.mark.parametrize("sa, sb", [((3, 4), (4, 5)), ((1, 7), (7, 9)), ((9, 7), (7, 1)),
                                    ((2, 1, 3, 4), (5, 4, 2)), ((4, 0), (0, 3)),
                                    ((0, 3), (3, 2)), ((37, 19), (19, 23))])
def test_matmul(dtype, sa, sb):
    for a, b in itertools.product(_layouts(sa, dtype), _layouts(sb, dtype)):
        _same("matmul", a, b)


def test_matmul_int32_wraps_like_the_fast_kernel():
    a = np.full((2, 3), 2 ** 20, np.int32)
    _same("matmul", a, a.T.copy())


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_and_backward(dtype, log):
    for shape, axis in [((3, 7), 1), ((3, 7), 0), ((2, 5, 3), 1), ((4,), 0), ((0, 3), 1),
                        ((1, 300, 2), 2)]:
        for x in _layouts(shape, dtype):
            y = _same("softmax", x, axis, log)
            _same("softmax_backward", _data(shape, dtype), y, axis, log)
    nan_row = np.array([[1.0, np.nan, 2.0], [0.0, 1.0, 2.0]], dtype)
    _same("softmax", nan_row, 1, log)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(4, 3, 5, 2), (6, 3), (2, 4, 7), (0, 3, 2)])
def test_batch_norm(dtype, shape):
    x = _data(shape, dtype)
    C = shape[1]
    mean, var = _same("batch_norm_stats", x)
    invstd = (1.0 / np.sqrt(np.abs(_data((C,), dtype)) + 0.5)).astype(dtype)
    mean = np.nan_to_num(mean)
    weight, bias = _data((C,), dtype), _data((C,), dtype)
    for w, b in [(weight, bias), (None, None), (weight, None)]:
        _same("batch_norm", x, w, b, mean, invstd)
    gy = _data(shape, dtype)
    for w in (weight, None):
        for training in (True, False):
            _same("batch_norm_backward", gy, x, w, mean, invstd, training)
