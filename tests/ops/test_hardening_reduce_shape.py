"""Regression tests for the differential fuzzer's findings on reductions, shape ops and matmul
(issue 9, phase 2): 0-d and zero-size inputs, the order in which dim arguments are checked,
``dtype=`` of sum/prod/mean, std/var of empty and constant inputs, uint8/bool matmul, and
``gradcheck`` on tensors without elements.

Each case is compared with PyTorch (values, dtypes, or exception class and message) where it is
installed, and gradients are checked by finite differences.
"""

import math

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore:.*(degrees of freedom|deprecated on 0-D)")

import microtorch as mt
from microtorch import nn
from microtorch.autograd import gradcheck
from microtorch.ops import reduction, shape
from tests.helpers import make, outcome


def _torch():
    return pytest.importorskip("torch")


def assert_same_as_torch(mt_fn, torch_fn=None):
    """``mt_fn(microtorch)`` and ``torch_fn(torch)`` (the same function when not given) agree:
    the same dtypes, shapes and values, or the same exception class and message."""
    torch = _torch()
    got, want = outcome(mt, mt_fn), outcome(torch, torch_fn or mt_fn)
    assert got[0] == want[0], (got, want)
    if got[0] == "error":
        assert got[1:] == want[1:]
        return
    assert len(got[1]) == len(want[1]), (got, want)
    for (gd, gv), (wd, wv) in zip(got[1], want[1]):
        assert gd == wd
        assert gv.shape == wv.shape
        np.testing.assert_allclose(gv, wv, rtol=1e-6, atol=1e-6)


def _grad(lib, fn, data):
    x = lib.tensor(data, dtype=lib.float64, requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


# ---- dim lists: checked one at a time, as PyTorch ----------------------------------------

@pytest.mark.parametrize("call", [
    lambda lib: lib.ones(2, 3, 4).sum((0, 0, 3)),                         # every range first
    lambda lib: lib.ones(2, 3, 4).mean((0, 3, 0)),
    lambda lib: lib.ones(2, 3).sum((1, 0, 1)),
    lambda lib: lib.ones((), dtype=lib.int32).amax((0, 0, 1)),
    lambda lib: lib.ones(2, 3, 4).logsumexp((0, 0, 3)),
    lambda lib: lib.ones(2, 3, 4).var((0, 0, 3)),                         # var/std: in turn
    lambda lib: lib.ones(2, 3, 4).std((0, 3, 0)),
    lambda lib: lib.ones(1, 4, 4, 1).std((1, 1, 4), keepdim=True),
    lambda lib: lib.ones(4, 1, 4, 3).std((-4, 0, 4), unbiased=False),
    lambda lib: lib.ones(()).var((-1, -1, 1)),                           # 0-d: -1 is dim 0
    lambda lib: lib.ones(2).var((-1, -1, 1), unbiased=True),
    lambda lib: lib.ones(2, 3).sum((1, -1)),
    lambda lib: lib.zeros(0, 0, dtype=lib.bool).amax((0, 0), keepdim=True),  # empty first
    lambda lib: lib.zeros(0, 3, dtype=lib.uint8).amin((0, 0)),
    lambda lib: lib.ones(2, 3).amax((0, 0)),
    lambda lib: lib.zeros(0, 3).amax((0, 5, 5)),                          # empty dim 0 first
    lambda lib: lib.zeros(0, 4, 3).permute(0, 0, 3),                     # repeat before range
    lambda lib: lib.zeros(0, 4, 3).permute(0, 5, 5),
])
def test_dim_list_errors_match_torch(call):
    assert_same_as_torch(call)


# ---- 0-d inputs ---------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda lib: lib.tensor(3, dtype=lib.uint8).argmax(0, keepdim=True),
    lambda lib: lib.tensor(-2).argmin(0, keepdim=True),
    lambda lib: lib.tensor(-2).argmin(-1),
    lambda lib: lib.tensor(-2).argmin(1),
    lambda lib: lib.tensor(2).prod(1),
    lambda lib: lib.tensor(2).prod(-1, keepdim=True),
    lambda lib: lib.tensor(2).flatten(2, 2),
    lambda lib: lib.tensor(2).flatten(0, -1),
    lambda lib: lib.tensor(2).transpose(0, 0),
    lambda lib: lib.tensor(2.0).transpose(0, -1),
    lambda lib: lib.tensor(2).transpose(0, 1),
])
def test_zero_dim_inputs_match_torch(call):
    assert_same_as_torch(call)


def test_transpose_of_zero_dim_backward():
    x = mt.tensor(3.0, requires_grad=True)
    y = x.transpose(0, -1)
    (y * 2).backward()
    assert y.shape == () and x.grad.item() == 2.0


def test_matrix_transpose_matches_torch_mT():
    for data in ([[1, 2, 3], [4, 5, 6]], np.arange(24.0).reshape(2, 3, 4), 7.0):
        assert_same_as_torch(lambda lib: shape.matrix_transpose(lib.tensor(data)),
                             lambda lib: lib.tensor(data).mT)
    assert_same_as_torch(lambda lib: shape.matrix_transpose(lib.zeros(0, dtype=lib.bool)),
                         lambda lib: lib.zeros(0, dtype=lib.bool).mT)


# ---- argmax / argmin refuse bool ----------------------------------------------------------

@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("shape_, dim", [((1, 4), -1), ((0,), -3), ((0, 2), None), ((), 0)])
def test_argmax_argmin_refuse_bool_first(op, shape_, dim):
    assert_same_as_torch(lambda lib: getattr(lib.zeros(shape_, dtype=lib.bool), op)(dim))


# ---- zero-size shapes ---------------------------------------------------------------------

@pytest.mark.parametrize("shape_, start, end", [
    ((0, 1, 1, 4), 2, 3), ((1, 1, 0), 0, 1), ((2, 0, 3), 1, -1), ((0, 3), 0, -1)])
def test_flatten_zero_size(shape_, start, end):
    assert_same_as_torch(lambda lib: lib.zeros(shape_, dtype=lib.bool).flatten(start, end))


def test_nn_flatten_zero_size_with_grad():
    torch = _torch()
    x = mt.zeros(1, 1, 0, requires_grad=True)
    y = nn.Flatten(0, 1)(x)
    assert y.shape == torch.nn.Flatten(0, 1)(torch.zeros(1, 1, 0)).shape == (1, 0)
    y.sum().backward()
    assert x.grad.shape == (1, 1, 0)


def test_reshape_minus_one_of_empty_is_ambiguous():
    for target in ((0, -1), (-1, 0)):
        assert_same_as_torch(lambda lib: lib.zeros(0, 3).reshape(target))
    assert_same_as_torch(lambda lib: lib.zeros(3).reshape(0, -1))


@pytest.mark.parametrize("data, sizes", [
    (np.zeros(0, np.uint8), (-1,)),          # a negative count passes for an empty dim
    (np.zeros(2), (-1,)),
    (np.zeros(2), (2, -1)),
    (np.arange(2.0), (0, 3)),
    (np.arange(6.0).reshape(2, 3), (2, 1, 3)),
    (np.array(5.0), (3,)),
    (np.arange(3.0), (1,)),
])
def test_repeat_matches_torch(data, sizes):
    assert_same_as_torch(lambda lib: shape.repeat(lib.tensor(data), *sizes),
                         lambda lib: lib.tensor(data).repeat(*sizes))


def test_repeat_copies_and_sums_the_tiles_in_backward():
    x = make((2, 3))
    y = shape.repeat(x, 1, 1)
    y.data[0, 0] = 100.0  # a copy, never a view of x
    assert x[0, 0].item() != 100.0
    assert gradcheck(lambda t: shape.repeat(t, 2, 1, 3), (x,))


# ---- std / var ----------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(2, 0).var(correction=-1),
    lambda lib: lib.zeros(3, 1, 4, 0, dtype=lib.float64).std((3, -2), correction=-1),
    lambda lib: lib.zeros(0).std(),
    lambda lib: lib.zeros(0, 3).var(0),
    lambda lib: lib.ones(1, 3).var(0),     # n - correction = 0: nan
])
def test_var_std_of_empty_is_nan(call):
    assert_same_as_torch(call)


@pytest.mark.parametrize("fn, data", [
    (lambda x: x.std(0, unbiased=False), np.array(2.0)),      # a 0-d input: std 0
    (lambda x: x.std(), np.full((2, 3), 1.5)),                # a constant input
    (lambda x: x.std(1, keepdim=True), np.array([[1.0, 1.0], [1.0, 2.0]])),
])
def test_std_gradient_is_zero_where_std_is_zero(fn, data):
    torch = _torch()
    np.testing.assert_array_equal(_grad(mt, fn, data), _grad(torch, fn, data))
    assert not np.isnan(_grad(mt, fn, data)).any()


def test_std_var_over_empty_dim_tuple_are_over_all_dims():
    # PyTorch's own backward is wrong here (its gradcheck fails); finite differences decide
    x = make((2, 3, 4), seed=1)
    assert gradcheck(lambda t: t.std(dim=(), correction=0, keepdim=True), (x,))
    assert gradcheck(lambda t: t.var(dim=(), unbiased=True), (x,))
    np.testing.assert_allclose(x.std(dim=()).item(), np.std(x.detach().numpy(), ddof=1))


# ---- dtype= of sum / prod / mean ----------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda lib: lib.tensor([True, True]).sum(dtype=lib.bool),
    lambda lib: lib.sum(lib.tensor(True), 0, dtype=lib.bool),
    lambda lib: lib.tensor([1, 2], dtype=lib.int32).sum(0, dtype=lib.int32),
    lambda lib: lib.tensor([100, 100], dtype=lib.int32).sum(dtype=lib.uint8),   # wraps
    lambda lib: lib.tensor([3, 4], dtype=lib.int32).sum(dtype=lib.float64),
    lambda lib: lib.tensor([1.5, 2.0]).prod(dtype=lib.int32),
    lambda lib: lib.tensor([1.0, 2.0]).mean(dtype=lib.int64),
    lambda lib: lib.tensor([1, 2]).mean(),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).sum(dtype=lib.int64),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).sum((0,), dtype=lib.bool),
    lambda lib: lib.tensor([3.0, 2.0], requires_grad=True).sum(dtype=lib.uint8),
    lambda lib: lib.tensor(3.0, requires_grad=True).prod(dtype=lib.int32),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).sum(dtype=lib.float64),
    lambda lib: lib.zeros(0, 0, requires_grad=True).sum((2,), dtype=lib.int32),  # dim first
    lambda lib: lib.ones(2, requires_grad=True).prod(1, dtype=lib.int32),
])
def test_sum_prod_mean_dtype_argument(call):
    assert_same_as_torch(call)


def test_sum_to_integer_dtype_is_allowed_without_grad_mode():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    with mt.no_grad():
        assert x.sum(dtype=mt.int64).item() == 3


# ---- all / any ----------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["all", "any"])
@pytest.mark.parametrize("data, dtype", [
    ([3, 0], "uint8"), (5, "uint8"), ([], "uint8"), ([3, 0], "int32"), ([1.0, 2.0], "float32"),
    ([], "bool"), ([True], "bool")])
def test_all_any_dtype_matches_torch(op, data, dtype):
    assert_same_as_torch(lambda lib: getattr(reduction, op)(lib.tensor(data, dtype=getattr(
                             lib, dtype))),
                         lambda lib: getattr(lib.tensor(data, dtype=getattr(lib, dtype)), op)())


# ---- uint8 and bool matmul ----------------------------------------------------------------

U8 = np.array([[1, 2], [3, 200]], np.uint8)


@pytest.mark.parametrize("call", [
    lambda lib: lib.tensor(U8) @ lib.tensor(U8),             # wraps like uint8 arithmetic
    lambda lib: lib.tensor(U8) @ lib.tensor(U8[0]),
    lambda lib: lib.tensor(U8[1]) @ lib.tensor(U8[1]),
    lambda lib: lib.tensor(U8).unsqueeze(0) @ lib.tensor(U8),
    lambda lib: lib.zeros(3, dtype=lib.uint8) @ lib.zeros(3, 0, dtype=lib.uint8),
    lambda lib: lib.tensor(U8 > 1) @ lib.tensor(U8 > 1),
    lambda lib: lib.tensor(U8 > 1) @ lib.tensor(U8[0] > 1),
    lambda lib: lib.tensor(U8[0] > 1) @ lib.tensor(U8[0] > 1),
    lambda lib: lib.zeros(0, 4, dtype=lib.bool) @ lib.zeros(4, dtype=lib.bool),   # empty result
    lambda lib: lib.zeros(2, 3, dtype=lib.bool) @ lib.zeros(3, 0, dtype=lib.bool),
])
def test_uint8_and_bool_matmul(call):
    assert_same_as_torch(call)


# ---- gradcheck on tensors without elements ------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda x: x * 2.0,
    lambda x: x.sum(0),
    lambda x: x.sum(),
    lambda x: x.std(0),
])
def test_gradcheck_accepts_inputs_without_elements(fn):
    x = mt.zeros(0, 3, dtype=mt.float64, requires_grad=True)
    assert gradcheck(fn, (x,))


def test_gradcheck_accepts_outputs_without_elements():
    x = make((2, 3))
    assert gradcheck(lambda t: t[:0] * 3.0, (x,))
    assert gradcheck(lambda t, u: (t[:, :0], u.sum()), (x, make((0,))))


def test_gradcheck_still_catches_a_wrong_gradient_next_to_an_empty_input():
    x, empty = make((3,)), make((0, 2))
    assert gradcheck(lambda t, e: t * 2.0 + e.sum(), (x, empty))
    no_grad_through_t = lambda t, e: t.detach() * 2.0 + t * 0.0 + e.sum()  # noqa: E731
    assert not gradcheck(no_grad_through_t, (x, empty), raise_exception=False)


# ---- through the public API: Tensor.all/any/mT/repeat, cat, split, chunk, stack -----------

@pytest.mark.parametrize("call", [
    lambda lib: lib.tensor([3, 0], dtype=lib.uint8).all(),
    lambda lib: lib.tensor(3, dtype=lib.uint8).any(),
    lambda lib: lib.tensor(7).mT,
    lambda lib: lib.zeros(0, dtype=lib.bool).mT,
    lambda lib: lib.zeros(0, dtype=lib.uint8).repeat(-1),
    lambda lib: lib.tensor([1.0, 2.0]).repeat(2, 0),
    lambda lib: lib.cat([lib.tensor(1)], 1),                  # 0-d: refused before the dim
    lambda lib: lib.cat([lib.zeros(2), lib.tensor(True)], 0),
    lambda lib: lib.concat([lib.zeros(0)], 1),                # 1-D empty tensors are skipped
    lambda lib: lib.cat([lib.zeros(0), lib.ones(2, 3)], 1),
    lambda lib: lib.cat([lib.ones(2, 3), lib.zeros(0, dtype=lib.float64)], 0),
    lambda lib: lib.cat([lib.zeros(0), lib.ones(2, 3)], 5),
    lambda lib: lib.cat([lib.zeros(0, 3), lib.zeros(2)], 0),
    lambda lib: lib.tensor(True).chunk(1, 1),
    lambda lib: lib.tensor(True).chunk(1, 0),
    lambda lib: lib.zeros(0, 2, dtype=lib.int64).chunk(2),    # `chunks` empty pieces
    lambda lib: lib.zeros(0).chunk(3),
    lambda lib: lib.arange(5).chunk(3),
    lambda lib: lib.arange(6).chunk(4),
    lambda lib: lib.tensor(1, dtype=lib.int32).split(1, 1),
    lambda lib: lib.tensor(True).split(3, 0),
    lambda lib: lib.zeros(0, dtype=lib.bool).split(-2),
    lambda lib: lib.zeros(0).split(-1, 1),                    # split_size before the dim
    lambda lib: lib.zeros(3).split([4, -1], 5),               # the dim before the sizes
    lambda lib: lib.zeros(3).split(-2),
    lambda lib: lib.zeros(1, 0).split([1, -1], 1),
    lambda lib: lib.zeros(3).split(0),
    lambda lib: lib.zeros(0).split(0),
    lambda lib: lib.stack([lib.zeros(3), lib.zeros(4), lib.zeros(2)], -4),  # dim first
    lambda lib: lib.stack([lib.zeros(3), lib.zeros(4)], 0),
])
def test_public_shape_api_matches_torch(call):
    assert_same_as_torch(call)


def test_cat_skipping_an_empty_vector_still_differentiates():
    x, empty = make((2, 3)), make((0,))
    assert gradcheck(lambda t, e: mt.cat([e, t, e], 0), (x, empty))
    assert mt.cat([empty], 2).requires_grad


@pytest.mark.parametrize("size", [(2**31, 2**31), (0, 2**62), (2**61,), (2**60,), (0, 2**60)])
def test_expand_too_large_for_numpy_raises_runtime_error(size):
    """PyTorch expands a 0-d float32 tensor to any size (its strides are 0); NumPy cannot hold
    2**63 bytes or more, so microtorch raises a RuntimeError that says so (no NumPy
    ValueError) and makes the sizes it can."""
    x = mt.tensor(1.0)
    if math.prod(n for n in size if n) * 4 > 2**63 - 1:
        with pytest.raises(RuntimeError, match="too large: microtorch stores tensors in NumPy"):
            x.expand(size)
    else:
        assert x.expand(size).shape == size


@pytest.mark.parametrize("op", ["view", "reshape"])
def test_view_reshape_too_large_for_numpy_raise_runtime_error(op):
    """(0,) viewed as (0, 2**31, 2**31): PyTorch allows it (no elements); a NumPy array cannot
    span 2**64 bytes, so microtorch raises a RuntimeError that says so."""
    with pytest.raises(RuntimeError, match="too large: microtorch stores tensors in NumPy"):
        getattr(mt.zeros(0), op)((0, 2**31, 2**31))
    assert getattr(mt.zeros(0), op)((0, 2**30, 2**30)).shape == (0, 2**30, 2**30)


def test_cat_skipped_empty_input_still_takes_part_in_the_graph():
    """cat skips 1-D empty tensors (PyTorch's legacy rule), but one that requires grad makes
    the output require grad, and receives an empty gradient."""
    results = []
    for lib in (_torch(), mt):
        e = lib.zeros(0, requires_grad=True)
        out = lib.cat([e, lib.tensor([1, 2], dtype=lib.int32)])
        out.sum().backward()
        results.append((out.requires_grad, str(out.dtype).replace("torch.", ""),
                        out.detach().numpy().tolist(), tuple(e.grad.shape)))
    assert results[0] == results[1]
