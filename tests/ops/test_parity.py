"""microtorch against PyTorch: forward values, gradients, dtypes, grad_fn names and graph
structure, reprs, type promotion and exception classes. Skipped when torch is not installed."""

import numpy as np
import pytest

import microtorch as mt

torch = pytest.importorskip("torch")


def _lib_tensor(lib, a, requires_grad):
    return lib.tensor(a, requires_grad=requires_grad and a.dtype.kind == "f")


def run_both(fn, *arrays, requires_grad=True):
    """Run ``fn(lib, *tensors)`` with microtorch and with torch; return both results and inputs."""
    results = []
    for lib in (mt, torch):
        inputs = [_lib_tensor(lib, a, requires_grad) for a in arrays]
        results.append((fn(lib, *inputs), inputs))
    return results


def assert_same_tensor(m, t, rtol=1e-5, atol=1e-6):
    assert str(m.dtype) == str(t.dtype), (m.dtype, t.dtype)
    assert tuple(m.shape) == tuple(t.shape)
    np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    assert m.requires_grad == t.requires_grad
    m_name = type(m.grad_fn).__name__ if m.grad_fn is not None else None
    t_name = type(t.grad_fn).__name__ if t.grad_fn is not None else None
    assert m_name == t_name


def check_parity(fn, *arrays, rtol=1e-5, atol=1e-6, check_names=True):
    (m_out, m_in), (t_out, t_in) = run_both(fn, *arrays)
    m_outs = m_out if isinstance(m_out, (tuple, list)) else (m_out,)
    t_outs = t_out if isinstance(t_out, (tuple, list)) else (t_out,)
    assert len(m_outs) == len(t_outs)
    rng = np.random.default_rng(0)
    m_loss, t_loss = 0, 0
    for m, t in zip(m_outs, t_outs):
        if check_names:
            assert_same_tensor(m, t, rtol, atol)
        else:
            np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=rtol,
                                       atol=atol)
        if t.requires_grad:
            w = rng.standard_normal(tuple(t.shape)).astype(np.float32)
            m_loss = m_loss + (m * mt.tensor(w)).sum()
            t_loss = t_loss + (t * torch.tensor(w)).sum()
    if isinstance(t_loss, int):
        return
    m_loss.backward()
    t_loss.backward()
    for m, t in zip(m_in, t_in):
        if t.grad is None:
            assert m.grad is None
        else:
            np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


def rand(*shape, low=-2.0, high=2.0, seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def pos(*shape, seed=0):
    return rand(*shape, low=0.5, high=2.0, seed=seed)


# ---- forward values, gradients and node names -------------------------------------------------

BINARY = {
    "add": lambda L, a, b: a + b,
    "sub": lambda L, a, b: a - b,
    "mul": lambda L, a, b: a * b,
    "div": lambda L, a, b: a / b,
    "pow": lambda L, a, b: a ** b,
    "maximum": lambda L, a, b: L.maximum(a, b),
    "minimum": lambda L, a, b: L.minimum(a, b),
    "where": lambda L, a, b: L.where(a > 1, a, b),
    "add_alpha": lambda L, a, b: L.add(a, b, alpha=2),
    "matmul": lambda L, a, b: a @ b.t(),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary(name):
    check_parity(BINARY[name], pos(2, 3), pos(3, seed=1) if name != "matmul" else pos(4, 3))


SCALAR = {
    "add": lambda L, a: a + 2, "radd": lambda L, a: 2 + a, "sub": lambda L, a: a - 2,
    "rsub": lambda L, a: 2 - a, "mul": lambda L, a: a * 2.5, "rmul": lambda L, a: 2.5 * a,
    "div": lambda L, a: a / 2, "rdiv": lambda L, a: 2 / a, "pow": lambda L, a: a ** 3,
    "pow_float": lambda L, a: a ** 0.5, "rpow": lambda L, a: 2 ** a, "neg": lambda L, a: -a,
    "square": lambda L, a: a.square(), "pow2": lambda L, a: a ** 2,
}


@pytest.mark.parametrize("name", list(SCALAR))
def test_scalar(name):
    check_parity(SCALAR[name], pos(2, 3))


UNARY = ["abs", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu",
         "reciprocal", "sign"]


@pytest.mark.parametrize("name", UNARY)
def test_unary(name):
    x = rand(3, 4) if name not in ("log", "sqrt", "rsqrt") else pos(3, 4)
    check_parity(lambda L, a: getattr(a, name)(), x)


@pytest.mark.parametrize("fn", [
    lambda L, a: a.clamp(-0.5, 0.5), lambda L, a: a.clamp(min=0.1), lambda L, a: a.clamp(max=0),
    lambda L, a: L.clamp(a, -1, 1),
], ids=["both", "min", "max", "fn"])
def test_clamp(fn):
    check_parity(fn, rand(3, 4))


REDUCTIONS = {
    "sum": lambda L, a: a.sum(), "sum_dim": lambda L, a: a.sum(1),
    "sum_tuple_keep": lambda L, a: a.sum((0, 2), keepdim=True),
    "mean": lambda L, a: a.mean(), "mean_dim": lambda L, a: a.mean(-1, keepdim=True),
    "prod": lambda L, a: a.prod(), "prod_dim": lambda L, a: a.prod(1),
    "max": lambda L, a: a.max(), "min": lambda L, a: a.min(),
    "max_dim": lambda L, a: tuple(a.max(1)), "min_dim_keep": lambda L, a: tuple(a.min(0, True)),
    "amax": lambda L, a: a.amax((0, 1)), "amin": lambda L, a: L.amin(a, 2),
    "var": lambda L, a: a.var(), "var_dim": lambda L, a: a.var(1, keepdim=True),
    "var_biased": lambda L, a: a.var(unbiased=False), "std": lambda L, a: a.std(),
    "std_dim": lambda L, a: a.std(0), "std_correction": lambda L, a: a.std(2, correction=0),
    "logsumexp": lambda L, a: a.logsumexp(1), "logsumexp_keep": lambda L, a: L.logsumexp(
        a, (0, 2), keepdim=True),
    "argmax": lambda L, a: a.argmax(), "argmin_dim": lambda L, a: a.argmin(1),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduction(name):
    check_parity(REDUCTIONS[name], rand(2, 3, 4))


SHAPE = {
    "reshape": lambda L, a: a.reshape(4, -1), "view": lambda L, a: a.view(2, 12),
    "flatten": lambda L, a: a.flatten(), "flatten1": lambda L, a: L.flatten(a, 1),
    "permute": lambda L, a: a.permute(2, 0, 1), "transpose": lambda L, a: a.transpose(0, 2),
    "t": lambda L, a: a[0].t(), "squeeze": lambda L, a: a[:, :1].squeeze(),
    "squeeze_dim": lambda L, a: a[:, :1].squeeze(1), "unsqueeze": lambda L, a: a.unsqueeze(1),
    "expand": lambda L, a: a[:, :1].expand(2, 5, 4), "clone": lambda L, a: a.clone(),
    "T_reshape": lambda L, a: a.permute(2, 1, 0).reshape(-1),
    "repeat": lambda L, a: a.repeat(1, 2, 1),
    "contiguous": lambda L, a: a.transpose(0, 1).contiguous(),
    "to_double": lambda L, a: a.double(),
}


@pytest.mark.parametrize("name", list(SHAPE))
def test_shape(name):
    check_parity(SHAPE[name], rand(2, 3, 4), check_names=name not in ("repeat",))


INDEX = {
    "int": lambda L, a: a[1], "slice": lambda L, a: a[:, 1:], "step": lambda L, a: a[::2, ::3],
    "none": lambda L, a: a[None, 0], "ellipsis": lambda L, a: a[..., 2],
    "list": lambda L, a: a[[0, 0, 2]], "tensor": lambda L, a: a[L.tensor([2, 1, 2])],
    "mask": lambda L, a: a[a > 0], "pair": lambda L, a: a[[0, 1], [1, 2]],
    "mixed": lambda L, a: a[1:, [0, 0]],
}


@pytest.mark.parametrize("name", list(INDEX))
def test_getitem(name):
    # torch records a[None, 0] as unsqueeze then select (SelectBackward0); microtorch records
    # one node per indexing expression (SliceBackward0)
    check_parity(INDEX[name], rand(3, 4), check_names=name != "none")


def test_setitem():
    def fn(L, a, b):
        y = a * 2
        y[0, 1:] = b
        y[:, 0] = 7.0
        return y

    check_parity(fn, rand(3, 4), rand(3, seed=1))


JOIN = {
    "cat": lambda L, a, b: L.cat([a, b], 1), "stack": lambda L, a, b: L.stack([a, b], -1),
    "split": lambda L, a, b: a.split(1, 1), "split_sizes": lambda L, a, b: L.split(b, [1, 1], 1),
    "chunk": lambda L, a, b: a.chunk(2, 1),
    "gather": lambda L, a, b: a.gather(1, L.tensor([[0, 0], [1, 0]])),
    "scatter_add": lambda L, a, b: a.scatter_add(1, L.tensor([[0, 0], [1, 0]]), b),
}


@pytest.mark.parametrize("name", list(JOIN))
def test_join(name):
    check_parity(JOIN[name], rand(2, 2), rand(2, 2, seed=1))


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 2)), ((4,), (4,)), ((3, 4), (4,)),
                                   ((4,), (4, 2)), ((2, 3, 4), (2, 4, 5)),
                                   ((2, 1, 3, 4), (3, 4, 2)), ((2, 3, 4), (4,))])
def test_matmul(sa, sb):
    # torch's composite matmul names its batched and vector-matrix results after its internal
    # reshapes (UnsafeViewBackward0, SqueezeBackward4); only mm, dot and mv are compared by name
    check_parity(lambda L, a, b: a @ b, rand(*sa), rand(*sb, seed=1),
                 check_names=(len(sa), len(sb)) in ((2, 2), (1, 1), (2, 1)))


def test_mm_bmm_dot():
    check_parity(lambda L, a, b: L.mm(a, b), rand(2, 3), rand(3, 4))
    check_parity(lambda L, a, b: L.bmm(a, b), rand(2, 2, 3), rand(2, 3, 4))
    check_parity(lambda L, a, b: L.dot(a, b), rand(5), rand(5, seed=1))


INPLACE = {
    "add_": lambda y, b: y.add_(b), "mul_": lambda y, b: y.mul_(b), "div_": lambda y, b: y.div_(b),
    "sub_alpha": lambda y, b: y.sub_(b, alpha=2), "pow_": lambda y, b: y.pow_(2),
    "exp_": lambda y, b: y.exp_(), "clamp_": lambda y, b: y.clamp_(0.6, 1.5),
    "relu_": lambda y, b: y.relu_(), "iadd": lambda y, b: y.__iadd__(b),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_on_non_leaf(name):
    def fn(L, a, b):
        y = a * 1
        INPLACE[name](y, b)
        return y

    check_parity(fn, pos(2, 3), pos(3, seed=1))


EDGE_CASES = {
    "max_of_0d": lambda L, a: tuple(a.sum().max(0)),
    "min_of_0d_keepdim": lambda L, a: tuple(a.sum().min(-1, keepdim=True)),
    "sum_empty_dims": lambda L, a: a.sum(()),
    "mean_empty_dims": lambda L, a: a.mean(()),
    "where_two_scalars": lambda L, a: L.where(a > 0, 1.0, 0.0),
    "where_scalar_other": lambda L, a: L.where(a > 0, a, 0.0),
    "clamp_int_float_bounds": lambda L, a: (a > 0).long().clamp(0.5, 2.5),
    "int_pow_negative": lambda L, a: (a > 0).long() ** -1,
    "int_pow": lambda L, a: (a > 0).long() ** 2,
    "bool_sum": lambda L, a: (a > 0).sum(),
    "bool_times_float": lambda L, a: (a > 0) * 2.5,
    "bool_plus_bool": lambda L, a: (a > 0) + (a > 1),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_edge_cases(name):
    def outcome(lib):
        try:
            x = np.round(rand(2, 3) * 4) / 4  # exact sums in any order
            out = EDGE_CASES[name](lib, lib.tensor(x, requires_grad=True))
        except RuntimeError as e:
            return "RuntimeError", str(e)
        outs = out if isinstance(out, tuple) else (out,)
        return [(str(o.dtype), tuple(o.shape), str(o.tolist()),
                 type(o.grad_fn).__name__ if o.grad_fn is not None else None) for o in outs]

    assert outcome(mt) == outcome(torch)


# ---- graph structure ---------------------------------------------------------------------------

def _structure(node, depth=3):
    """(name, children) of a grad_fn, children from next_functions."""
    if node is None:
        return None
    name = type(node).__name__
    if depth == 0 or name == "AccumulateGrad":
        return name
    return (name, tuple(_structure(n, depth - 1) for n, _ in node.next_functions))


@pytest.mark.parametrize("fn", [
    lambda L, a, b: 3 * a ** 3 - b ** 2,
    lambda L, a, b: (a * b + a / b).sum(),
    lambda L, a, b: (a @ b.t()).mean(),
    lambda L, a, b: (a - b).abs().max(),
    lambda L, a, b: L.cat([a, b]).relu().var(),
    lambda L, a, b: (a[0] * b.exp()).sigmoid().tanh(),
    lambda L, a, b: a.reshape(-1).sqrt().unsqueeze(0).expand(2, 4).sum(1),
    lambda L, a, b: L.where(a > b, a, 0.5 * b).permute(1, 0),
    # torch's add keeps the transposed layout (so reshape copies); microtorch's output is C-order
    lambda L, a, b: (a + 1).t().reshape(-1) * 2,
    lambda L, a, b: a.max(0).values - b.min(),
], ids=["blitz", "sum", "mean", "max", "var", "chain", "expand", "where", "view", "maxdim"])
def test_next_functions(fn):
    (m, _), (t, _) = run_both(fn, pos(2, 2), pos(2, 2, seed=1))
    assert _structure(m.grad_fn, 6) == _structure(t.grad_fn, 6)


def test_blitz_graph():
    a = mt.tensor([2., 3.], requires_grad=True)
    b = mt.tensor([6., 4.], requires_grad=True)
    q = 3 * a ** 3 - b ** 2
    names = [type(n).__name__ for n, _ in q.grad_fn.next_functions]
    assert type(q.grad_fn).__name__ == "SubBackward0"
    assert names == ["MulBackward0", "PowBackward0"]
    q.backward(gradient=mt.tensor([1., 1.]))
    assert a.grad.tolist() == (9 * a ** 2).tolist()
    assert b.grad.tolist() == (-2 * b).tolist()


# ---- reprs -------------------------------------------------------------------------------------

REPRS = [
    lambda L: L.tensor([1, 2, 3]),
    lambda L: L.tensor([-12., 65.], requires_grad=True) * 1,
    lambda L: L.tensor([1.5, 2.25, -3.0]),
    lambda L: L.tensor([1e-5, 1.0, 1e4]),
    lambda L: L.tensor([1e9, 2.0]),
    lambda L: L.tensor([True, True]),
    lambda L: L.tensor([1.0, 2.0], dtype=L.float64),
    lambda L: L.tensor([1, 2], dtype=L.int32),
    lambda L: L.tensor([1.0, 2.0], requires_grad=True),
    lambda L: L.tensor(3.5),
    lambda L: L.tensor(7),
    lambda L: L.tensor([]),
    lambda L: L.zeros(0, 3),
    lambda L: L.zeros(2, 0, dtype=L.int64),
    lambda L: L.arange(12.).reshape(3, 4),
    lambda L: L.arange(24).reshape(2, 3, 4) - 10,
    lambda L: L.arange(40.) / 7,
    lambda L: L.arange(2000.),
    lambda L: L.arange(1200).reshape(40, 30),
    lambda L: L.arange(3000.).reshape(10, 10, 30) / 3,
    lambda L: L.tensor([float("inf"), float("nan"), 1.0, -2.0]),
    lambda L: L.tensor([0.0, 0.0]),
    lambda L: L.tensor([1.0, 2.0], dtype=L.float64, requires_grad=True),
    lambda L: L.tensor(2.0, requires_grad=True).exp(),
    lambda L: L.tensor([[0.001, 123.456], [1.0, -0.5]]),
    lambda L: L.tensor([123456789.0]),
    lambda L: L.ones(3, dtype=L.bool),
    lambda L: L.tensor([[1, -200], [30, 4]]),
    lambda L: L.tensor([0.1, 0.25]) * L.tensor(3.0, requires_grad=True),
]


@pytest.mark.parametrize("i", range(len(REPRS)))
def test_repr(i):
    assert repr(REPRS[i](mt)) == repr(REPRS[i](torch))


def test_repr_print_options(restore_printoptions):
    for kwargs in ({"precision": 2}, {"sci_mode": True}, {"sci_mode": False}, {"linewidth": 40},
                   {"threshold": 5, "edgeitems": 2}):
        mt.set_printoptions(**kwargs)
        torch.set_printoptions(**kwargs)
        try:
            for make in (lambda L: L.arange(12.).reshape(3, 4) / 3,
                         lambda L: L.tensor([1e-5, 1.0, 1e4])):
                assert repr(make(mt)) == repr(make(torch)), kwargs
        finally:
            torch.set_printoptions(profile="default", sci_mode=None)
            mt.set_printoptions(profile="default", sci_mode=None)


def test_size_and_dtype_repr():
    assert repr(mt.zeros(2, 3).shape) == repr(torch.zeros(2, 3).shape)
    assert repr(mt.zeros(()).shape) == repr(torch.zeros(()).shape)
    for name in ("float32", "float64", "int32", "int64", "bool", "uint8"):
        assert repr(getattr(mt, name)) == repr(getattr(torch, name))


# ---- type promotion ----------------------------------------------------------------------------

DTYPES = ["bool", "int32", "int64", "float32", "float64"]
SCALARS = [True, 2, 2.5]


def _operand(lib, kind, dtype):
    if kind == "tensor":
        return lib.tensor([1, 0], dtype=getattr(lib, dtype))
    return lib.tensor(1, dtype=getattr(lib, dtype))  # 0-d


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # 0 / 0
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("other", SCALARS + [f"0d-{d}" for d in DTYPES]
                         + [f"t-{d}" for d in DTYPES])
@pytest.mark.parametrize("op", ["add", "mul", "div", "lt"])
def test_promotion(dtype, other, op):
    results = []
    for lib in (mt, torch):
        a = _operand(lib, "tensor", dtype)
        if isinstance(other, str):
            kind, d = other.split("-")
            b = _operand(lib, "tensor" if kind == "t" else "0d", d)
        else:
            b = other
        fn = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y,
              "div": lambda x, y: x / y, "lt": lambda x, y: x < y}[op]
        try:
            out = fn(a, b)
            results.append((str(out.dtype), str(out.tolist())))  # str: nan == nan
        except RuntimeError:
            results.append("RuntimeError")
    assert results[0] == results[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scalar", SCALARS)
def test_promotion_reflected_and_zero_dim(dtype, scalar):
    def outcome(make, lib):
        try:
            return str(make(lib).dtype)
        except RuntimeError:
            return "RuntimeError"

    for make in (lambda L: scalar - L.tensor(1, dtype=getattr(L, dtype)),
                 lambda L: scalar * L.tensor([1, 1], dtype=getattr(L, dtype)),
                 lambda L: L.tensor(1, dtype=getattr(L, dtype)) + scalar,
                 lambda L: scalar / L.tensor(2, dtype=getattr(L, dtype))):
        assert outcome(make, mt) == outcome(make, torch)


def test_dtype_inference():
    for data in ([1, 2], [1.0, 2], [True, False], 3, 3.0, True, [[1], [2]],
                 np.array([1, 2], dtype=np.int32), np.array([1.0]), np.array([1.0], np.float32)):
        assert str(mt.tensor(data).dtype) == str(torch.tensor(data).dtype), data
    assert str(mt.arange(5).dtype) == str(torch.arange(5).dtype)
    assert str(mt.arange(0, 1, 0.5).dtype) == str(torch.arange(0, 1, 0.5).dtype)
    assert str(mt.full((2,), 3).dtype) == str(torch.full((2,), 3).dtype)
    assert str(mt.full((2,), True).dtype) == str(torch.full((2,), True).dtype)
    assert str(mt.tensor([1, 2]).sum().dtype) == str(torch.tensor([1, 2]).sum().dtype)
    assert str(mt.tensor([True]).sum().dtype) == str(torch.tensor([True]).sum().dtype)
    assert str(mt.tensor([1, 2]).exp().dtype) == str(torch.tensor([1, 2]).exp().dtype)


# ---- exception classes --------------------------------------------------------------------------

ERRORS = [
    lambda L: L.tensor([[1, 2], [3]]),
    lambda L: L.ones(2, 3) + L.ones(2, 4),
    lambda L: L.ones(2, 3) @ L.ones(4, 5),
    lambda L: L.ones(2, 3).t().view(6),
    lambda L: L.ones(2, 3).reshape(-1, -1),
    lambda L: L.ones(2, 3).reshape(4),
    lambda L: L.ones(2, 3)[2],
    lambda L: L.ones(2, 3)[:, 5],
    lambda L: L.ones(2, 3)[0, 0, 0],
    lambda L: L.ones(2, 3)[L.tensor([0, 3])],
    lambda L: L.ones(2, 3).sum(2),
    lambda L: L.ones(2, 3).transpose(0, 3),
    lambda L: L.ones(2, dtype=L.int64).requires_grad_(),
    lambda L: L.ones(2, requires_grad=True).mul(2).backward(),
    lambda L: L.ones(2).sum().backward(),
    lambda L: L.ones(2, requires_grad=True).add_(1),
    lambda L: L.ones(2).item(),
    lambda L: bool(L.ones(2)),
    lambda L: L.ones(2, requires_grad=True).numpy(),
    lambda L: L.ones(2, 3) @ L.ones(3, 2, dtype=L.float64),
    lambda L: L.ones(2, 3).expand(3, 3),
    lambda L: L.cat([L.ones(2, 3), L.ones(2, 4)]),
    lambda L: L.stack([L.ones(2), L.ones(3)]),
    lambda L: L.ones(2, 3).permute(0, 0),
    lambda L: L.ones(2).squeeze(1),
    lambda L: L.ones(3, dtype=L.int64).mean(),
    lambda L: L.ones(2, 3).gather(1, L.tensor([[0, 5], [0, 0]])),
    lambda L: L.ones(2, 3).split([1, 2]),
    lambda L: L.ones(2, 3)[L.tensor([True, False, True])],
    lambda L: L.tensor([1.0, 2.0]).max(dim=1),
    lambda L: L.zeros(0).max(),
    lambda L: L.ones(2).dot(L.ones(3)),
    lambda L: L.ones(2, 3).bmm(L.ones(2, 3)),
    lambda L: L.where(L.ones(2), L.ones(2), L.ones(2)),
    lambda L: L.zeros(-1),
    lambda L: len(L.tensor(1.0)),
    lambda L: L.ones(2)[1.5],
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_exception_class(i):
    with pytest.raises(Exception) as t_err:
        ERRORS[i](torch)
    with pytest.raises(Exception) as m_err:
        ERRORS[i](mt)
    assert type(m_err.value).__name__ == type(t_err.value).__name__, (
        str(m_err.value), str(t_err.value))


def test_backward_twice_and_saved_tensor_errors():
    for lib in (mt, torch):
        x = lib.ones(2, requires_grad=True)
        y = (x * x).sum()
        y.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.backward()
        z = x * 2
        w = z * z
        z.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            w.sum().backward()


@pytest.mark.parametrize("name", ["erf", "softmax", "log_softmax"])
def test_top_level_functions_match_torch(name):
    """``torch.erf``, ``torch.softmax`` and ``torch.log_softmax`` exist at the top level and
    agree with PyTorch (values, gradients, grad_fn names)."""
    a = np.random.default_rng(1).standard_normal((3, 4))
    args = () if name == "erf" else (1,)
    check_parity(lambda lib, x: getattr(lib, name)(x, *args), a)
