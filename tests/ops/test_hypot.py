"""``hypot``, the worked example of docs/internals/custom_op.rst: an op with new kernels, added
in three source files (``ops/elementwise.py``, ``backends/cpu/elementwise.py``,
``backends/cuda/elementwise.py``).

What a new op's tests cover: the gradient against finite differences (float64, broadcasting),
values and dtypes against PyTorch (NaN and infinities included), PyTorch's errors (class and
message), the grad_fn name, every binding (``microtorch.hypot``, ``Tensor.hypot``), and the
CPU reference kernel giving what the fast kernel gives. The CUDA kernel is run by
``tests/cuda/test_hypot.py`` (simulator or GPU) and compiled to PTX by ``tests/cuda_ptx``.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import microtorch as mt
from microtorch.autograd import gradcheck
from microtorch.backends import contract
from microtorch.backends import cpu as cpu_backend
from tests.helpers import make, outcome

torch = pytest.importorskip("torch")

INF, NAN = float("inf"), float("nan")
#: Pairs with the special values, where C's hypot differs from sqrt(a*a + b*b).
SPECIAL_A = [3.0, INF, NAN, 0.0, -3.0, -INF, 1e-30, 3e38, 0.0, -0.0]
SPECIAL_B = [NAN, NAN, INF, 0.0, 4.0, NAN, 1e-30, 3e38, -5.0, 0.0]

pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, min_side=1, max_side=3)


# ---- gradient -----------------------------------------------------------------------------

@given(shapes=pairs, seed=st.integers(0, 2 ** 16))
def test_gradcheck_broadcasting(shapes, seed):
    sa, sb = shapes.input_shapes
    a = make(sa, seed=seed, away_from=[0.0])        # away from a = b = 0, where it has no slope
    b = make(sb, seed=seed + 1)
    assert gradcheck(mt.hypot, (a, b))


def test_gradcheck_second_order():
    a, b = make((2, 3), seed=1, away_from=[0.0]), make((3,), seed=2, away_from=[0.0])
    assert mt.autograd.gradgradcheck(mt.hypot, (a, b))


def test_gradient_of_one_input_only():
    a = mt.tensor([3.0, -6.0], requires_grad=True)
    mt.hypot(a, mt.tensor([4.0, 8.0])).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.6, -0.6], rtol=1e-6)


# ---- parity with PyTorch ------------------------------------------------------------------

def _both(fn, *arrays, requires_grad=False):
    """``fn`` run with microtorch and with torch on tensors made from ``arrays``."""
    results = []
    for lib in (mt, torch):
        tensors = [lib.tensor(x, requires_grad=requires_grad) for x in arrays]
        results.append((fn(lib, *tensors), tensors))
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_with_nan_and_inf_match_torch(dtype):
    a, b = np.array(SPECIAL_A, dtype), np.array(SPECIAL_B, dtype)
    (m, _), (t, _) = _both(lambda lib, x, y: lib.hypot(x, y), a, b)
    assert str(m.dtype) == str(t.dtype)
    np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-6, equal_nan=True)
    # C's hypot: an infinite operand wins over NaN
    assert list(m.numpy()[1:3]) == [INF, INF] and np.isnan(m.numpy()[0])


def test_gradient_and_grad_fn_match_torch():
    a = np.array([3.0, INF, NAN, 0.0, -3.0, 1.5], np.float64)
    b = np.array([NAN, 1.0, INF, 0.0, 4.0, -2.0], np.float64)
    (m, (ma, mb)), (t, (ta, tb)) = _both(lambda lib, x, y: lib.hypot(x, y), a, b,
                                         requires_grad=True)
    assert m.grad_fn.name() == t.grad_fn.name() == "HypotBackward0"
    m.sum().backward()
    t.sum().backward()
    np.testing.assert_allclose(ma.grad.numpy(), ta.grad.numpy(), equal_nan=True)
    np.testing.assert_allclose(mb.grad.numpy(), tb.grad.numpy(), equal_nan=True)


@pytest.mark.parametrize("da, db", [("float32", "float64"), ("float64", "float32"),
                                    ("int64", "float32"), ("float32", "int32"),
                                    ("float64", "int64")])
@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((2, 1), (3,)), ((), (2, 2)), ((4,), ())])
def test_promotion_and_broadcasting_match_torch(da, db, sa, sb):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(sa) * 3).astype(da)
    b = (rng.standard_normal(sb) * 3).astype(db)
    m = mt.hypot(mt.tensor(a), mt.tensor(b))
    t = torch.hypot(torch.tensor(a), torch.tensor(b))
    assert str(m.dtype) == str(t.dtype)
    assert tuple(m.shape) == tuple(t.shape)
    np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.hypot(lib.tensor([1, 2]), lib.tensor([3, 4])),
    lambda lib: lib.hypot(lib.tensor([True]), lib.tensor([False])),
    lambda lib: lib.hypot(lib.tensor([1], dtype=lib.int32), lib.tensor([1], dtype=lib.uint8)),
    lambda lib: lib.hypot(lib.ones(2, dtype=lib.int64), lib.ones(3, dtype=lib.int64)),
    lambda lib: lib.hypot(lib.ones(2), lib.ones(3)),
    lambda lib: lib.hypot(lib.tensor([1.0]), 2.0),
    lambda lib: lib.hypot(2.0, lib.tensor([1.0])),
], ids=["long", "bool", "int", "shapes_first", "shapes", "scalar_other", "scalar_input"])
def test_errors_match_torch(fn):
    got, expected = outcome(mt, fn), outcome(torch, fn)
    assert got[0] == expected[0] == "error"
    assert got[1:] == expected[1:]


@pytest.mark.parametrize("fn", [
    lambda lib: lib.tensor([1, 2]).hypot_(lib.tensor([3, 4])),
    lambda lib: lib.tensor([1.0]).hypot_(lib.tensor([3.0, 4.0])),
    lambda lib: lib.tensor([1.0]).hypot_(4.0),
], ids=["long", "broadcast_larger", "scalar"])
def test_inplace_errors_match_torch(fn):
    got, expected = outcome(mt, fn), outcome(torch, fn)
    assert got[0] == expected[0] == "error"
    assert got[1:] == expected[1:]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inplace_matches_torch_and_records_the_graph(dtype):
    def run(lib):
        x = lib.tensor([[3.0, 0.5], [6.0, -2.0]], dtype=getattr(lib, dtype), requires_grad=True)
        y = x * 1
        same = y.hypot_(lib.tensor([4.0, 1.5], dtype=lib.float64))
        assert same is y
        y.sum().backward()
        return y.detach().numpy(), x.grad.numpy(), type(y.grad_fn).__name__, str(y.dtype)
    got, expected = run(mt), run(torch)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)
    assert got[2:] == expected[2:] == ("HypotBackward0", f"torch.{dtype}")


def test_method_with_a_number_is_a_type_error():
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        mt.tensor([1.0]).hypot(2.0)


# ---- bindings -----------------------------------------------------------------------------

def test_bound_as_torch_function_and_tensor_method_only():
    a, b = mt.tensor([3.0, 5.0]), mt.tensor([4.0, 12.0])
    np.testing.assert_array_equal(mt.hypot(a, b).numpy(), [5.0, 13.0])
    np.testing.assert_array_equal(a.hypot(b).numpy(), [5.0, 13.0])
    assert mt.Tensor.hypot is mt.hypot
    assert hasattr(mt.Tensor, "hypot") and hasattr(torch.Tensor, "hypot")
    assert not hasattr(mt.nn.functional, "hypot") and not hasattr(torch.nn.functional, "hypot")
    assert mt.hypot.__doc__


def test_declared_in_the_contract_and_registered_by_the_cpu():
    assert "hypot" in contract.BINARY_OPS
    assert "hypot" in contract.registry("cpu").op_names("binary")


# ---- the CPU reference kernel -------------------------------------------------------------

def _hypot_cases():
    a = mt.tensor(np.array(SPECIAL_A, np.float32))
    b = mt.tensor(np.array(SPECIAL_B, np.float32))
    big = mt.tensor(np.linspace(-4, 4, 12).reshape(3, 4))
    return [mt.hypot(a, b), mt.hypot(big, big[0]), mt.hypot(big.t(), mt.tensor(2.0)),
            mt.hypot(big[:, ::2], big[:, 1::2])]


def test_reference_kernels_give_the_same():
    fast = _hypot_cases()
    before = cpu_backend.reference_kernels_enabled()
    try:
        cpu_backend.use_reference_kernels(True)
        reference = _hypot_cases()
    finally:
        cpu_backend.use_reference_kernels(before)
    for f, r in zip(fast, reference):
        assert f.dtype == r.dtype and f.shape == r.shape
        np.testing.assert_allclose(f.numpy(), r.numpy(), rtol=1e-6, equal_nan=True)
