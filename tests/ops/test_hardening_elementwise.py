"""Elementwise ops on the inputs the differential fuzzer found (issue 9), compared with PyTorch:
integer wrap-around, dtype checks, in-place casting rules, bitwise ops on integers, gradients at
NaN/inf and the autograd metadata of ``fill_``/``zero_``/``copy_``."""

import math

import numpy as np
import pytest

import microtorch

torch = pytest.importorskip("torch")
F_NAMES = ("relu", "gelu", "silu", "leaky_relu")


def run(fn):
    """``fn(lib)`` for torch and microtorch: (value or None, exception class or None, message)."""
    out = []
    for lib in (torch, microtorch):
        try:
            out.append((fn(lib), None, ""))
        except Exception as e:  # noqa: BLE001 - the class is what is compared
            out.append((None, type(e), str(e)))
    return out


def to_np(x):
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def assert_same(fn, message=True):
    """Both libraries give the same values and dtype, or raise the same class (and message)."""
    (want, want_exc, want_msg), (got, got_exc, got_msg) = run(fn)
    assert got_exc is want_exc, (got_exc, got_msg, want_exc, want_msg)
    if want_exc is not None:
        if message:
            assert got_msg == want_msg
        return
    if isinstance(want, torch.Tensor):
        assert str(got.dtype) == str(want.dtype)
        np.testing.assert_array_equal(to_np(got), to_np(want))
    else:
        assert got == want


def u8(lib, values):
    return lib.tensor(values, dtype=lib.uint8)


# ---- integer arithmetic wraps around ----------------------------------------------------------

@pytest.mark.parametrize("op", ["add", "sub", "mul", "pow"])
@pytest.mark.parametrize("n", [5, 5000])  # the scalar-sized and the vectorised kernels
def test_uint8_arithmetic_wraps_around(op, n):
    a = np.resize(np.array([0, 1, 3, 200, 255], np.uint8), n)
    b = np.resize(np.array([1, 3, 1, 100, 2], np.uint8), n)
    assert_same(lambda lib: getattr(lib, op)(lib.tensor(a), lib.tensor(b)))


def test_int32_arithmetic_wraps_around():
    a = np.array([2**31 - 1, -2**31], np.int32)
    assert_same(lambda lib: lib.tensor(a) + lib.tensor(np.array([1, -1], np.int32)))


def test_sub_alpha_keeps_dtype_of_operands():
    assert_same(lambda lib: lib.sub(lib.tensor([1.0, 2.0]), u8(lib, [1, 3]), alpha=-1))
    assert_same(lambda lib: lib.add(lib.tensor(1.5, dtype=lib.float64), u8(lib, [1, 2]),
                                    alpha=0.0))


# ---- sign, abs, neg, relu, +x on bool and NaN ----------------------------------------------

def test_sign_of_nan_is_zero_and_sign_of_bool_is_itself():
    assert_same(lambda lib: lib.sign(lib.tensor([math.nan, -2.0, 0.0, math.inf])))
    assert_same(lambda lib: lib.sign(lib.tensor([True, False])))


@pytest.mark.parametrize("fn", [lambda lib, x: lib.abs(x), lambda lib, x: -x,
                                lambda lib, x: x.neg_(), lambda lib, x: lib.relu(x),
                                lambda lib, x: x.relu_(), lambda lib, x: +x],
                         ids=["abs", "neg", "neg_", "relu", "relu_", "pos"])
def test_unary_ops_refuse_bool_as_torch(fn):
    assert_same(lambda lib: fn(lib, lib.tensor([True, False])))


@pytest.mark.parametrize("name", F_NAMES[1:])
@pytest.mark.parametrize("dtype", ["bool", "int64", "uint8"])
def test_float_activations_refuse_integer_and_bool(name, dtype):
    assert_same(lambda lib: getattr(lib.nn.functional, name)(
        lib.tensor([1, 0], dtype=getattr(lib, dtype))))


def test_leaky_relu_inplace_refuses_integers():
    assert_same(lambda lib: lib.nn.functional.leaky_relu(lib.tensor([1, -1]), 0.1,
                                                         inplace=True))


# ---- bitwise ops ------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["__and__", "__or__", "__xor__"])
@pytest.mark.parametrize("dtypes", [("int64", "int64"), ("int32", "int32"), ("uint8", "bool"),
                                    ("bool", "bool"), ("float32", "float32"),
                                    ("bool", "float64")])
def test_bitwise_ops(op, dtypes):
    def fn(lib):
        a = lib.tensor([[0, 1, 6, 7]]).to(getattr(lib, dtypes[0]))
        b = lib.tensor([[3], [5]]).to(getattr(lib, dtypes[1]))
        return getattr(a, op)(b)

    assert_same(fn)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "float32"])
def test_invert(dtype):
    assert_same(lambda lib: ~lib.tensor([0, 1, 5]).to(getattr(lib, dtype)))


def test_bitwise_with_python_scalars():
    assert_same(lambda lib: lib.tensor([1, 2, 3]) & 6)
    assert_same(lambda lib: 6 | lib.tensor([1, 2, 3]))


# ---- Python conversions -----------------------------------------------------------------------

@pytest.mark.parametrize("convert", [float, int])
def test_float_and_int_of_several_elements_raise_value_error(convert):
    assert_same(lambda lib: convert(lib.tensor([1, 2])))
    assert_same(lambda lib: convert(lib.tensor([2.5])))


# ---- add/sub alpha ----------------------------------------------------------------------------

@pytest.mark.parametrize("case", [
    ("add", "float64", "float64", True), ("add", "bool", "bool", 0.0),
    ("sub", "int32", "int32", 1.5), ("sub", "uint8", "uint8", False),
    ("add", "bool", "bool", False), ("add", "int64", "int64", 3),
    ("sub", "uint8", "bool", 2), ("add", "float32", "int64", 0.5)])
def test_add_sub_alpha_checks(case):
    op, da, db, alpha = case
    assert_same(lambda lib: getattr(lib, op)(lib.tensor([1, 0]).to(getattr(lib, da)),
                                             lib.tensor([1, 1]).to(getattr(lib, db)),
                                             alpha=alpha))


# ---- in-place ops: the result must be castable to self ---------------------------------------

INPLACE = {
    "add_": lambda x, y: x.add_(y), "sub_": lambda x, y: x.sub_(y),
    "mul_": lambda x, y: x.mul_(y), "div_": lambda x, y: x.div_(y),
    "pow_": lambda x, y: x.pow_(y), "iadd": lambda x, y: x.__iadd__(y),
    "addcmul_": lambda x, y: x.addcmul_(y, y),
    "addcdiv_": lambda x, y: x.addcdiv_(y, y + 5, value=0.5),
    "lerp_": lambda x, y: x.lerp_(y, 0.3),
}


@pytest.mark.parametrize("name", list(INPLACE))
@pytest.mark.parametrize("dtypes", [("int32", "float32"), ("int64", "float64"),
                                    ("uint8", "float32"), ("bool", "float64"),
                                    ("bool", "int64"), ("float32", "uint8"),
                                    ("int64", "int64"), ("bool", "bool")])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_inplace_result_type_checks(name, dtypes, requires_grad):
    if requires_grad and "float" not in dtypes[1]:
        pytest.skip("only floating point tensors require grad")

    def fn(lib):
        x = lib.tensor([1, 2]).to(getattr(lib, dtypes[0]))
        y = lib.tensor([2, 1]).to(getattr(lib, dtypes[1])).requires_grad_(requires_grad)
        out = INPLACE[name](x, y)
        return out.detach()

    # message=False: torch words a few of these errors in several ways
    assert_same(fn, message=False)


@pytest.mark.parametrize("name", ["sqrt_", "exp_", "sigmoid_", "tanh_"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_inplace_float_ops_refuse_integer_tensors(name, dtype):
    assert_same(lambda lib: getattr(lib.tensor([1, 0]).to(getattr(lib, dtype)), name)())


# ---- clamp ------------------------------------------------------------------------------------

@pytest.mark.parametrize("bounds", [(-1, -1), (None, -1), (-1, 1), (-255, 3), (-256, None),
                                    (300, None), (0.5, None)])
def test_clamp_of_uint8_converts_bounds_as_torch(bounds):
    assert_same(lambda lib: u8(lib, [0, 1, 2, 3]).clamp(*bounds), message=False)
    assert_same(lambda lib: u8(lib, [0, 1, 2, 3]).clone().clamp_(*bounds), message=False)


def test_clamp_inplace_of_bool_and_int_bounds_overflow():
    assert_same(lambda lib: lib.tensor([True, False]).clamp_(-1, 1), message=False)
    assert_same(lambda lib: lib.tensor([1, 2], dtype=lib.int32).clamp(2**40))


# ---- allclose ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("uint8", "bool"),
                                    ("int32", "int64"), ("float32", "float32")])
def test_allclose_needs_one_dtype(dtypes):
    assert_same(lambda lib: lib.allclose(lib.tensor([1.0, 2.0]).to(getattr(lib, dtypes[0])),
                                         lib.tensor([1.0, 2.0]).to(getattr(lib, dtypes[1]))))


def test_allclose_shapes_must_broadcast():
    assert_same(lambda lib: lib.allclose(lib.ones(4), lib.ones(0)))


# ---- pow --------------------------------------------------------------------------------------

def test_pow_of_bools():
    assert_same(lambda lib: lib.pow(lib.tensor([True, False]), lib.tensor(True)))
    assert_same(lambda lib: True ** lib.tensor([True, False]))
    assert_same(lambda lib: lib.tensor([True, False]) ** 2)
    assert_same(lambda lib: 2 ** lib.tensor([True, False]))


# ---- gradients at NaN / inf / 0 ---------------------------------------------------------------

def grads(fn, values):
    """d sum(fn(lib, x)) / dx in float64 for torch and microtorch."""
    out = []
    for lib in (torch, microtorch):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        fn(lib, x).sum().backward()
        out.append(to_np(x.grad))
    return out


@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.relu(x),
    lambda lib, x: lib.nn.functional.relu(x.clone(), inplace=True),
    lambda lib, x: 0 ** x,
    lambda lib, x: 2.0 ** x,
    lambda lib, x: lib.tensor([0.0, 2.0, 0.0, 0.0, 3.0], dtype=lib.float64) ** x,
    lambda lib, x: x ** lib.tensor([0.0, 2.0, 0.0, -1.0, 0.5], dtype=lib.float64),
    lambda lib, x: lib.tensor([False, True, False, True, False]) ** x,
], ids=["relu", "relu_inplace", "0**x", "2**x", "t**x (exponent)", "x**t (base)",
        "bool**x"])
def test_gradients_at_special_values_match_torch(fn):
    want, got = grads(fn, [math.nan, -1.0, 0.0, math.inf, -math.inf])
    np.testing.assert_array_equal(got, want)


# ---- fill_, zero_, copy_ ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["zero_", "fill_"])
def test_fill_and_zero_of_non_leaf_stay_in_the_graph(name):
    def fn(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = a * 2
        getattr(b, name)(*([] if name == "zero_" else [3.0]))
        assert b.requires_grad and b.grad_fn is not None
        (b * a).sum().backward()
        return a.grad

    assert_same(fn)


@pytest.mark.parametrize("name", ["zero_", "fill_"])
def test_fill_and_zero_of_a_view_of_a_leaf_raise(name):
    assert_same(lambda lib: getattr(lib.tensor([1.0, 2.0], requires_grad=True)[:1], name)(
        *([] if name == "zero_" else [3.0])))


def test_copy_checks_shapes_and_gradient_flow():
    assert_same(lambda lib: lib.zeros(4, 3).copy_(lib.ones(3, 1, 3)))
    assert_same(lambda lib: lib.zeros(()).copy_(lib.ones(1, 1)))
    assert_same(lambda lib: lib.zeros(2).copy_(lib.ones(3)))

    def into_uint8(lib):
        u = lib.zeros(2, dtype=lib.uint8).copy_(lib.tensor([1.5, 2.0], requires_grad=True))
        return (u.requires_grad, u.grad_fn is None, u.tolist())

    assert_same(into_uint8)


# ---- check order, precision -------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda lib: lib.ones(2) & lib.ones(0),
    lambda lib: lib.zeros(0, dtype=lib.bool).pow_(lib.zeros(0, 0, 0, dtype=lib.bool)),
    lambda lib: lib.tensor(1, dtype=lib.int32).lerp_(lib.zeros(0, 0, 0, dtype=lib.int32), 0.3),
    lambda lib: lib.zeros(2).addcmul_(lib.ones(3, 2), lib.ones(2)),
], ids=["and", "pow_", "lerp_", "addcmul_"])
def test_shapes_are_checked_before_dtypes(fn):
    assert_same(fn)


def test_addcdiv_computes_in_the_promoted_dtype():
    def fn(lib):
        x = lib.tensor([0.1, 2.7], dtype=lib.float64)
        return x.addcdiv_(lib.tensor(1.3), lib.tensor(7.1), value=0.5)

    (want, _, _), (got, _, _) = run(fn)
    np.testing.assert_allclose(to_np(got), to_np(want), rtol=1e-15)


def test_gelu_float64_value_and_gradient_are_exact():
    values = np.linspace(-6, 6, 25)
    want, got = grads(lambda lib, x: lib.nn.functional.gelu(x), values)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    (w, _, _), (g, _, _) = run(lambda lib: lib.nn.functional.gelu(
        lib.tensor(values, dtype=lib.float64)))
    np.testing.assert_allclose(to_np(g), to_np(w), rtol=1e-13, atol=1e-15)


def test_erf_gradcheck():
    x = microtorch.tensor([-2.0, -0.3, 0.0, 0.7, 3.0], dtype=microtorch.float64,
                          requires_grad=True)
    assert microtorch.autograd.gradcheck(lambda t: t.erf(), (x,))


# ---- fuzzer findings, final round --------------------------------------------------------------

@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_gradient_at_nan_goes_to_both_inputs(op):
    """Where one input is NaN (the output is NaN), PyTorch sends the gradient to both; ties
    split it evenly; otherwise it goes to the winner."""
    nan = float("nan")
    grads = []
    for lib in (torch, microtorch):
        a = lib.tensor([nan, 1.0, 2.0, 3.0, nan], requires_grad=True)
        b = lib.tensor([0.0, nan, 2.0, 1.0, nan], requires_grad=True)
        (getattr(lib, op)(a, b) * lib.tensor([1.0, 2.0, 3.0, 4.0, 5.0])).sum().backward()
        grads.append((a.grad.numpy(), b.grad.numpy()))
    for want, got in zip(grads[0], grads[1]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("alpha", [0, 1, 2, -1, True, False])
@pytest.mark.parametrize("scalar", [False, True])
def test_add_bool_with_integer_alpha_stays_bool(alpha, scalar):
    """For a bool result PyTorch reads alpha as a bool: bool + bool * 2 is still bool."""
    assert_same(lambda lib: lib.add(lib.tensor([True, False, True]),
                                    True if scalar else lib.tensor([False, False, True]),
                                    alpha=alpha))


@pytest.mark.parametrize("s", [4.77e-104, 1e-50, -1e-60, 1e300, 0.1, 0.0])
@pytest.mark.parametrize("dtype", ["bool", "float32", "int64"])
def test_pow_scalar_keeps_a_double_exponent(s, dtype):
    """float32 values are raised to the exponent in double precision, as PyTorch does:
    0 ** 1e-50 is 0, not 0 ** float32(1e-50) = 0 ** 0 = 1."""
    values = [0, 1, 2] if dtype != "bool" else [False, True, True]
    assert_same(lambda lib: lib.tensor(values, dtype=getattr(lib, dtype)) ** s)


@pytest.mark.parametrize("s", [False, True])
def test_bool_pow_bool_scalar(s):
    """bool ** False is all True and bool ** True is the tensor itself (PyTorch computes both
    without a bool pow kernel); a bool tensor exponent is still refused."""
    assert_same(lambda lib: lib.tensor([True, False]) ** s)
    assert_same(lambda lib: lib.tensor([True, False]) ** lib.tensor(s), message=False)


@pytest.mark.parametrize("op", ["lerp_", "addcmul_"])
@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_inplace_into_expanded_tensor_checks_memory_before_dtype(op, dtype):
    """PyTorch refuses a write into repeated memory cells before it looks at the dtypes."""
    def fn(lib):
        x = lib.tensor([1], dtype=getattr(lib, dtype)).expand(2)
        y = lib.tensor(1, dtype=getattr(lib, dtype))
        return x.lerp_(y, 0.3) if op == "lerp_" else x.addcmul_(y, y, value=2)
    assert_same(fn)


def test_bool_pow_checks_shapes_before_the_missing_kernel():
    assert_same(lambda lib: lib.pow(lib.zeros(0, dtype=lib.bool), lib.ones(2, dtype=lib.bool)))
