"""Regression tests for issue 9's numerics defects: zero-size matmul/linear and their backward,
reductions over empty dims, batch-norm precision far from zero, integer inputs to softmax and
friends, and in-place writes into views (overlapping ones are refused as in PyTorch).

Each case is checked against NumPy (or an exact float64 computation) and, where PyTorch is
installed, against PyTorch's values, dtypes and exceptions.
"""

import numpy as np
import pytest

import microtorch as mt
import microtorch.nn.functional as F
from microtorch.autograd import gradcheck
from tests.helpers import make, outcome

OVERLAP = "more than one element of the written-to tensor refers to a single memory location"


def _torch():
    return pytest.importorskip("torch")


def assert_same_as_torch(fn, rtol=1e-5, atol=1e-6):
    """``fn(mt)`` and ``fn(torch)`` agree: the same values and dtypes, or the same exception
    class and message."""
    torch = _torch()
    got, want = outcome(mt, fn), outcome(torch, fn)
    assert got[0] == want[0], (got, want)
    if got[0] == "error":
        assert got[1:] == want[1:]
        return
    for (gd, gv), (wd, wv) in zip(got[1], want[1]):
        assert gd == wd
        assert gv.shape == wv.shape
        np.testing.assert_allclose(gv, wv, rtol=rtol, atol=atol)


# ---- matmul with zero-size dims ------------------------------------------------------------

MATMUL_SHAPES = [
    ((3, 0), (0, 4)),          # empty inner dim: zeros
    ((0, 3), (3, 4)),          # no rows
    ((3, 5), (5, 0)),          # no columns
    ((0,), (0,)),              # dot of two empty vectors: 0
    ((3, 0), (0,)),            # matrix @ empty vector
    ((0,), (0, 4)),            # empty vector @ matrix
    ((2, 3, 0), (2, 0, 4)),    # batched
    ((2, 3, 0), (0, 4)),       # batch folded into rows
    ((0, 3, 2), (0, 2, 4)),    # empty batch
    ((2, 1, 3, 0), (5, 0, 4)), # broadcast batch dims
]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matmul_zero_size_values_and_grads(sa, sb, dtype):
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    a = mt.tensor(a_np, requires_grad=True)
    b = mt.tensor(b_np, requires_grad=True)
    out = a @ b
    ref = np.matmul(a_np, b_np)
    assert out.shape == ref.shape and out.dtype is getattr(mt, dtype)
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-6)
    w = rng.standard_normal(ref.shape).astype(dtype)
    (out * mt.tensor(w)).sum().backward()
    # d(sum(w * (a @ b))) / da = w @ b^T, summed over broadcast dims (NumPy by hand, 2-D cases)
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    if len(sa) == 2 and len(sb) == 2:
        np.testing.assert_allclose(a.grad.numpy(), w @ b_np.T, atol=1e-6)
        np.testing.assert_allclose(b.grad.numpy(), a_np.T @ w, atol=1e-6)
    torch = pytest.importorskip("torch")
    ta = torch.tensor(a_np, requires_grad=True)
    tb = torch.tensor(b_np, requires_grad=True)
    (ta @ tb * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), atol=1e-6)


def test_empty_inner_dim_gives_zeros_not_reshape_error():
    out = mt.ones(3, 0) @ mt.ones(0, 4)
    np.testing.assert_array_equal(out.numpy(), np.zeros((3, 4), np.float32))
    assert (mt.ones(0) @ mt.ones(0)).item() == 0.0
    np.testing.assert_array_equal(mt.mm(mt.ones(3, 0), mt.ones(0, 2)).numpy(), np.zeros((3, 2)))
    np.testing.assert_array_equal(mt.bmm(mt.ones(2, 3, 0), mt.ones(2, 0, 2)).numpy(),
                                  np.zeros((2, 3, 2)))
    np.testing.assert_array_equal(mt.matmul(mt.ones(4, 2, 3, 0), mt.ones(0, 5)).numpy(),
                                  np.zeros((4, 2, 3, 5)))


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_integer_matmul_empty_inner_dim(dtype):
    a = mt.tensor(np.ones((2, 3, 0), dtype))
    b = mt.tensor(np.ones((0, 4), dtype))
    out = a @ b
    assert out.dtype is getattr(mt, dtype)
    np.testing.assert_array_equal(out.numpy(), np.zeros((2, 3, 4), dtype))


@pytest.mark.parametrize("in_shape", [(2, 0), (5, 2, 0), (0, 0)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_zero_in_features(in_shape, bias):
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal(in_shape).astype(np.float32)
    w_np = rng.standard_normal((3, 0)).astype(np.float32)
    b_np = rng.standard_normal(3).astype(np.float32)
    x, w = mt.tensor(x_np, requires_grad=True), mt.tensor(w_np, requires_grad=True)
    b = mt.tensor(b_np, requires_grad=True) if bias else None
    out = F.linear(x, w, b)
    ref = np.broadcast_to(b_np if bias else np.float32(0), in_shape[:-1] + (3,))
    np.testing.assert_array_equal(out.detach().numpy(), ref)
    out.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape
    if bias:  # d(sum)/dbias = the number of rows
        np.testing.assert_array_equal(b.grad.numpy(), np.full(3, np.prod(in_shape[:-1])))
    torch = pytest.importorskip("torch")
    tx, tw = torch.tensor(x_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    tb = torch.tensor(b_np, requires_grad=True) if bias else None
    torch.nn.functional.linear(tx, tw, tb).sum().backward()
    if bias:
        np.testing.assert_array_equal(b.grad.numpy(), tb.grad.numpy())


def test_matmul_empty_inner_dim_gradcheck():
    """Finite differences through a product with an empty inner dim (the empty operands do
    not require grad: gradcheck's Jacobian of an empty input is not defined)."""
    a, b = make((2, 0), requires_grad=False), make((0, 4), seed=1, requires_grad=False)
    c = make((2, 4), seed=2)
    assert gradcheck(lambda c: (a @ b + c) * c, (c,))
    x, w = make((3, 0), seed=3, requires_grad=False), make((2, 0), seed=4, requires_grad=False)
    bias = make((2,), seed=5)
    assert gradcheck(lambda bias: F.linear(x, w, bias) * bias, (bias,))


# ---- reductions over empty dims ------------------------------------------------------------

def test_logsumexp_of_empty_dim_is_minus_inf():
    x = mt.ones(2, 0, requires_grad=True)
    out = mt.logsumexp(x, 1)
    np.testing.assert_array_equal(out.detach().numpy(), np.full(2, -np.inf, np.float32))
    out.sum().backward()
    assert x.grad.shape == (2, 0)
    kept = mt.logsumexp(mt.ones(3, 0, dtype=mt.float64), -1, keepdim=True)
    assert kept.shape == (3, 1) and kept.dtype is mt.float64
    assert np.all(kept.numpy() == -np.inf)


REDUCTIONS = {
    "logsumexp": lambda lib, x, d: lib.logsumexp(x, d),
    "sum": lambda lib, x, d: lib.sum(x, d),
    "prod": lambda lib, x, d: lib.prod(x, d),
    "mean": lambda lib, x, d: lib.mean(x, d),
    "var": lambda lib, x, d: lib.var(x, d),
    "std": lambda lib, x, d: lib.std(x, d),
    "amax": lambda lib, x, d: lib.amax(x, d),
    "amin": lambda lib, x, d: lib.amin(x, d),
    "max": lambda lib, x, d: lib.max(x, d),
    "min": lambda lib, x, d: lib.min(x, d),
    "argmax": lambda lib, x, d: lib.argmax(x, d),
    "argmin": lambda lib, x, d: lib.argmin(x, d),
}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("shape, dim", [((2, 0), 1), ((2, 0), 0), ((0, 3), 0), ((0,), 0),
                                        ((2, 0), -1)])
def test_reduction_over_empty_dims_matches_torch(name, shape, dim):
    assert_same_as_torch(lambda lib: REDUCTIONS[name](lib, lib.ones(shape), dim))


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", ["logsumexp", "sum", "mean", "var", "std", "amax", "amin"])
@pytest.mark.parametrize("shape, dims", [((2, 0), (-1, 0)), ((0, 3), (1, -2)), ((2, 0, 3), (0, 2))])
def test_reduction_over_several_dims_with_empty_matches_torch(name, shape, dims):
    assert_same_as_torch(lambda lib: REDUCTIONS[name](lib, lib.ones(shape), dims))


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", ["sum", "prod", "mean", "var", "std", "max", "min", "argmax",
                                  "argmin", "amax", "amin"])
def test_full_reduction_of_empty_tensor_matches_torch(name):
    assert_same_as_torch(lambda lib: getattr(lib, name)(lib.ones(2, 0)))


@pytest.mark.parametrize("dtype", ["bool", "int64", "int32"])
def test_logsumexp_of_integers_is_float32(dtype):
    assert_same_as_torch(lambda lib: lib.logsumexp(lib.tensor([[1, 0, 1], [0, 0, 1]],
                                                              dtype=getattr(lib, dtype)), 1))


@pytest.mark.parametrize("name", ["var", "std", "mean"])
def test_integer_var_std_mean_raise_torch_error(name):
    assert_same_as_torch(lambda lib: getattr(lib, name)(lib.tensor([1, 2, 3])))


# ---- softmax and friends on integers -------------------------------------------------------

@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
@pytest.mark.parametrize("dim", [0, -1, 1])
def test_softmax_of_integers_refused_like_torch(fn, dtype, dim):
    def run(lib):
        x = lib.tensor([[1, 0, 1], [1, 1, 0]], dtype=getattr(lib, dtype))
        return getattr(lib.nn.functional, fn)(x, dim)

    with pytest.raises(NotImplementedError, match="not implemented for"):
        run(mt)
    assert_same_as_torch(run)


def test_softmax_method_of_integers_refused():
    with pytest.raises(NotImplementedError,
                       match="\"softmax_lastdim_kernel_impl\" not implemented for 'Long'"):
        mt.tensor([1, 2, 3]).softmax(0)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_of_integers_with_dtype_casts_first(fn, dtype):
    def run(lib):
        return getattr(lib.nn.functional, fn)(lib.tensor([1, 2, 3]), 0,
                                              dtype=getattr(lib, dtype))

    out = run(mt)
    x = np.array([1.0, 2.0, 3.0])
    ref = np.exp(x) / np.exp(x).sum()
    ref = ref if fn == "softmax" else np.log(ref)
    assert out.dtype is getattr(mt, dtype)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    assert_same_as_torch(run)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim, dtype", [((2, 0), 1, "float32"), ((0, 3), 1, "float32"),
                                               ((2, 0), 0, "float64"), ((0,), 0, "int64")])
def test_softmax_of_empty_tensors(fn, shape, dim, dtype):
    assert_same_as_torch(lambda lib: getattr(lib.nn.functional, fn)(
        lib.ones(shape, dtype=getattr(lib, dtype)), dim))


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sigmoid", "tanh", "sin", "cos"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_float_unary_ops_promote_integers_to_float32(name, dtype):
    def run(lib):
        return getattr(lib, name)(lib.tensor([1, 0, 3], dtype=getattr(lib, dtype)))

    out = run(mt)
    assert out.dtype is mt.float32
    with np.errstate(divide="ignore"):
        v = np.array([1, 0, 3], dtype).astype(np.float64)
        ref = 1 / (1 + np.exp(-v)) if name == "sigmoid" else getattr(np, name)(v)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    assert_same_as_torch(run)


# ---- batch norm far from zero --------------------------------------------------------------

def _bn_exact(x, eps=1e-5):
    x64 = x.astype(np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    mean = x64.mean(axes, keepdims=True)
    var = x64.var(axes, keepdims=True)
    return (x64 - mean) / np.sqrt(var + eps), mean, var


def test_batch_norm_constant_channel_of_1e4_is_zero():
    x = np.full((8, 3, 4, 4), 1e4, np.float32)
    out = F.batch_norm(mt.tensor(x), None, None, training=True)
    np.testing.assert_array_equal(out.numpy(), np.zeros_like(x))  # exact: 0 (torch: 0.027)
    rm, rv = mt.zeros(3), mt.ones(3)
    F.batch_norm(mt.tensor(x), rm, rv, training=True, momentum=1.0)
    np.testing.assert_array_equal(rm.numpy(), np.full(3, 1e4, np.float32))
    np.testing.assert_array_equal(rv.numpy(), np.zeros(3, np.float32))


@pytest.mark.parametrize("offset, noise", [(1e4, 1e-2), (1e4, 1.0), (1e6, 10.0), (-3e5, 0.5)])
def test_batch_norm_large_offset_within_rounding_of_exact(offset, noise):
    rng = np.random.default_rng(3)
    x = (offset + noise * rng.standard_normal((16, 3, 5, 5))).astype(np.float32)
    exact, mean, var = _bn_exact(x)
    out = F.batch_norm(mt.tensor(x), None, None, training=True).numpy()
    # the mean is stored in float32 (as in PyTorch): half an ulp of it, scaled by 1/std, is
    # the error that cannot be avoided; the rest is a few float32 roundings of the result
    invstd = 1 / np.sqrt(var + 1e-5)
    bound = 0.5 * np.spacing(np.abs(mean).astype(np.float32)) * invstd + 1e-5 * (1 + np.abs(exact))
    assert np.all(np.abs(out - exact) <= bound)
    torch = pytest.importorskip("torch")
    ref = torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=True).numpy()
    assert np.abs(out - exact).max() <= max(2 * np.abs(ref - exact).max(), 1e-5)


def test_batch_norm_large_offset_gradients_match_torch():
    torch = _torch()
    rng = np.random.default_rng(4)
    x = (1e4 + rng.standard_normal((6, 2, 3, 3))).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w = np.array([1.5, -0.5], np.float32)
    b = np.array([0.1, 0.2], np.float32)
    grads = []
    for lib in (mt, torch):
        xs = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        out = lib.nn.functional.batch_norm(xs[0], None, None, xs[1], xs[2], training=True)
        (out * lib.tensor(g)).sum().backward()
        grads.append([out.detach().numpy()] + [t.grad.numpy() for t in xs])
    for got, want in zip(*grads):
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)


def test_batch_norm_gradcheck_far_from_zero():
    x = make((4, 2, 3), low=1e3, high=1e3 + 1.0)
    w = make((2,), seed=1)
    b = make((2,), seed=2)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                     (x, w, b), atol=1e-4)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 2), (2, 0, 2), (2, 3, 0), (1, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_zero_size_matches_torch(shape, training):
    def run(lib):
        c = shape[1]
        return lib.nn.functional.batch_norm(lib.ones(shape), lib.zeros(c), lib.ones(c),
                                            training=training)

    assert_same_as_torch(run)


# ---- in-place writes into views ------------------------------------------------------------

INPLACE_ON_EXPANDED = {
    "add_": lambda e, lib: e.add_(2.0),
    "add_tensor": lambda e, lib: e.add_(lib.ones(3, 4)),
    "sub_": lambda e, lib: e.sub_(1.0),
    "mul_": lambda e, lib: e.mul_(2.0),
    "div_": lambda e, lib: e.div_(lib.full((3, 4), 2.0)),
    "iadd": lambda e, lib: e.__iadd__(1.0),
    "sqrt_": lambda e, lib: e.sqrt_(),
    "exp_": lambda e, lib: e.exp_(),
    "neg_": lambda e, lib: e.neg_(),
    "relu_": lambda e, lib: e.relu_(),
    "sigmoid_": lambda e, lib: e.sigmoid_(),
    "tanh_": lambda e, lib: e.tanh_(),
    "clamp_": lambda e, lib: e.clamp_(0.0, 0.5),
    "pow_": lambda e, lib: e.pow_(2),
    "copy_": lambda e, lib: e.copy_(lib.arange(12.0).reshape(3, 4)),
    "setitem_row": lambda e, lib: e.__setitem__(0, 5.0),
    "uniform_": lambda e, lib: e.uniform_(),
}


@pytest.mark.parametrize("name", sorted(INPLACE_ON_EXPANDED))
def test_inplace_on_expanded_view_refused(name):
    base = mt.arange(3.0).reshape(3, 1)
    with pytest.raises(RuntimeError, match=OVERLAP):
        INPLACE_ON_EXPANDED[name](base.expand(3, 4), mt)
    np.testing.assert_array_equal(base.numpy(), [[0.0], [1.0], [2.0]])  # nothing written
    torch = _torch()
    with pytest.raises(RuntimeError, match=OVERLAP):
        INPLACE_ON_EXPANDED[name](torch.arange(3.0).reshape(3, 1).expand(3, 4), torch)


def test_inplace_on_expanded_view_in_graph_refused():
    a = mt.ones(3, 1, requires_grad=True)
    with pytest.raises(RuntimeError, match=OVERLAP):
        (a * 1).expand(3, 4).add_(mt.ones(3, 4, requires_grad=True))


def test_inplace_on_stride0_tensor_from_checkpoint_refused(tmp_path):
    torch = _torch()
    path = tmp_path / "expanded.pt"
    torch.save({"e": torch.arange(3.0).reshape(3, 1).expand(3, 4)}, path)
    e = mt.load(path)["e"]
    for write in (lambda: e.add_(1.0), lambda: e.mul_(mt.ones(3, 4)), lambda: e.copy_(mt.ones(3, 4))):
        with pytest.raises(RuntimeError, match=OVERLAP):
            write()
    np.testing.assert_array_equal(e.numpy(), np.arange(3.0).reshape(3, 1).repeat(4, 1))


@pytest.mark.parametrize("name", ["fill_", "zero_"])
def test_fill_on_expanded_view_writes_the_base(name):
    def run(lib):
        base = lib.arange(3.0).reshape(3, 1)
        e = base.expand(3, 4)
        getattr(e, name)(*((7.0,) if name == "fill_" else ()))
        return base, e

    assert_same_as_torch(run)


def test_inplace_on_expand_without_repeats_works():
    def run(lib):
        base = lib.tensor(1.0)
        e = base.expand(1)          # stride 0 over a dim of size 1: no element repeats
        e.add_(1.0)
        e.mul_(lib.tensor([3.0]))
        return base, e

    base, e = run(mt)
    assert base.item() == 6.0 and e.tolist() == [6.0]
    assert_same_as_torch(run)


VIEW_WRITES = {
    "add_scalar": lambda v, lib: v.add_(1.0),
    "add_tensor": lambda v, lib: v.add_(lib.arange(v.numel() * 1.0).reshape(v.shape)),
    "mul_bcast": lambda v, lib: v.mul_(lib.arange(1.0, v.shape[-1] + 1)),
    "div_": lambda v, lib: v.div_(3.0),
    "sqrt_": lambda v, lib: v.sqrt_(),
    "exp_": lambda v, lib: v.exp_(),
    "neg_": lambda v, lib: v.neg_(),
    "relu_": lambda v, lib: v.sub_(5.0).relu_(),
    "sigmoid_": lambda v, lib: v.sigmoid_(),
    "tanh_": lambda v, lib: v.tanh_(),
    "clamp_": lambda v, lib: v.clamp_(2.0, 7.0),
    "pow_": lambda v, lib: v.pow_(2),
    "copy_": lambda v, lib: v.copy_(lib.arange(v.numel() * 1.0).reshape(v.shape) * -1),
    "fill_": lambda v, lib: v.fill_(-2.0),
    "setitem": lambda v, lib: v.__setitem__(1, -9.0),
    "iadd": lambda v, lib: v.__iadd__(lib.ones(v.shape)),
}

VIEWS = {
    "transposed": lambda b: b.T,
    "sliced": lambda b: b[:, 1::2],
    "row_slice": lambda b: b[1:],
    "transposed_slice": lambda b: b.T[1:3],
}


@pytest.mark.parametrize("view", sorted(VIEWS))
@pytest.mark.parametrize("name", sorted(VIEW_WRITES))
def test_inplace_on_non_overlapping_views(view, name):
    def run(lib):
        base = lib.arange(12.0).reshape(3, 4)
        v = VIEWS[view](base)
        VIEW_WRITES[name](v, lib)
        return base, v

    base, v = run(mt)
    ref = np.arange(12.0).reshape(3, 4)   # the same writes done by NumPy on a NumPy view
    VIEW_WRITES[name](_NumpyView(VIEWS[view](ref)), _NumpyLib)
    np.testing.assert_allclose(base.numpy(), ref, rtol=1e-6)
    assert_same_as_torch(run)


def test_inplace_on_integer_transposed_view():
    def run(lib):
        b = lib.arange(12).reshape(3, 4)
        b.t().add_(1)
        b.t().mul_(2)
        return b

    np.testing.assert_array_equal(run(mt).numpy(), (np.arange(12).reshape(3, 4) + 1) * 2)
    assert_same_as_torch(run)


class _NumpyLib:
    """The few creation functions VIEW_WRITES uses, for the NumPy reference."""

    @staticmethod
    def arange(*args):
        return np.arange(*args)

    @staticmethod
    def ones(shape):
        return np.ones(shape)


class _NumpyView:
    """A NumPy view with the Tensor in-place methods VIEW_WRITES calls (the reference)."""

    def __init__(self, a):
        self.a = a
        self.shape = a.shape

    def numel(self):
        return self.a.size

    def _set(self, value):
        self.a[...] = value
        return self

    def add_(self, o):
        return self._set(self.a + o)

    def sub_(self, o):
        return self._set(self.a - o)

    def mul_(self, o):
        return self._set(self.a * o)

    def div_(self, o):
        return self._set(self.a / o)

    def sqrt_(self):
        return self._set(np.sqrt(self.a))

    def exp_(self):
        return self._set(np.exp(self.a))

    def neg_(self):
        return self._set(-self.a)

    def relu_(self):
        return self._set(np.maximum(self.a, 0))

    def sigmoid_(self):
        return self._set(1 / (1 + np.exp(-self.a)))

    def tanh_(self):
        return self._set(np.tanh(self.a))

    def clamp_(self, lo, hi):
        return self._set(np.clip(self.a, lo, hi))

    def pow_(self, e):
        return self._set(self.a ** e)

    def copy_(self, src):
        return self._set(src)

    def fill_(self, value):
        return self._set(value)

    def __setitem__(self, index, value):
        self.a[index] = value

    def __iadd__(self, o):
        return self.add_(o)


def test_inplace_into_empty_tensor_is_not_overlap():
    """NumPy gives empty arrays zero strides; a tensor with no elements has nothing to overlap,
    so in-place writes into it succeed as in PyTorch."""
    out = mt.zeros(2, 3, 0)
    out[...] = mt.ones(2, 3, 0)
    out.add_(1)
    out.copy_(mt.ones(2, 3, 0))
    assert out.shape == (2, 3, 0)
    assert out.numpy().shape == (2, 3, 0)
