"""``tril``/``triu`` and ``masked_fill`` (microtorch/ops/masking.py), ``torch.where`` with
Python scalars, reductions with ``keepdims=`` and ``split``/``chunk`` with sizes: gradients
against finite differences, values, gradients, grad_fn names and errors against PyTorch."""

import numpy as np
import pytest

import microtorch as mt
from microtorch.autograd import gradcheck, gradgradcheck
from tests.helpers import make, outcome

torch = pytest.importorskip("torch")

NAN = float("nan")


def _run(lib, fn, data, requires_grad=True, **kw):
    """``fn(lib, x)`` on a leaf made from ``data``; the output, its grad_fn name and the leaf's
    gradient of ``(out * weights).sum()``."""
    x = lib.tensor(data, requires_grad=requires_grad, **kw)
    out = fn(lib, x)
    name = type(out.grad_fn).__name__ if out.grad_fn is not None else None
    grad = None
    if requires_grad:
        w = lib.tensor(np.arange(1.0, out.numel() + 1).reshape(tuple(out.shape)),
                       dtype=out.dtype)
        (out * w).sum().backward()
        grad = x.grad.numpy()
    return out.detach().numpy(), str(out.dtype).replace("torch.", ""), name, grad


def assert_same(fn, data, **kw):
    a, b = _run(mt, fn, data, **kw), _run(torch, fn, data, **kw)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1:3] == b[1:3]
    if a[3] is not None:
        np.testing.assert_array_equal(a[3], b[3])


def assert_same_outcome(fn):
    a, b = outcome(mt, fn), outcome(torch, fn)
    assert a[0] == b[0], (a, b)
    if a[0] == "error":
        assert a[1:] == b[1:]
    else:
        assert len(a[1]) == len(b[1])
        for (da, va), (db, vb) in zip(a[1], b[1]):
            assert da == db
            np.testing.assert_array_equal(va, vb)


DATA = np.arange(1.0, 2 * 3 * 4 + 1).reshape(2, 3, 4)


# ---- tril / triu ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tril", "triu"])
@pytest.mark.parametrize("diagonal", [-4, -1, 0, 1, 2, 5])
@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (2, 3, 4), (1, 1)])
def test_triangle_parity(name, diagonal, shape):
    data = np.arange(1.0, np.prod(shape) + 1).reshape(shape)
    assert_same(lambda lib, x: getattr(lib, name)(x, diagonal), data)
    assert_same(lambda lib, x: getattr(x, name)(diagonal=diagonal), data)


@pytest.mark.parametrize("name", ["tril", "triu"])
def test_triangle_gradcheck(name):
    x = make((2, 3, 4), seed=3)
    assert gradcheck(lambda t: getattr(mt, name)(t, 1), (x,))
    assert gradgradcheck(lambda t: getattr(mt, name)(t, -1), (x,))


def test_triangle_replaces_nan_and_keeps_dtype():
    assert_same_outcome(lambda lib: lib.tril(lib.full((3, 3), NAN)))
    assert_same_outcome(lambda lib: lib.triu(lib.ones(3, 3, dtype=lib.bool), 1))
    assert_same_outcome(lambda lib: lib.tril(lib.arange(12).reshape(3, 4), -1))
    assert_same_outcome(lambda lib: lib.tril(lib.ones(0, 3)))


@pytest.mark.parametrize("name", ["tril", "triu"])
def test_triangle_in_place(name):
    def fn(lib):
        x = lib.arange(12.0).reshape(3, 4)
        y = getattr(x, name + "_")(1)
        assert y is x
        return x
    assert_same_outcome(fn)

    def graph(lib):  # in place on a non-leaf: recorded as the op
        leaf = lib.tensor(DATA[0], requires_grad=True)
        x = leaf * 1.0
        getattr(x, name + "_")()
        assert type(x.grad_fn).__name__ == name.capitalize() + "Backward0"
        x.sum().backward()
        return leaf.grad
    assert_same_outcome(graph)


@pytest.mark.parametrize("name", ["tril", "triu", "tril_", "triu_"])
def test_triangle_needs_two_dims(name):
    assert_same_outcome(lambda lib: getattr(lib.ones(3), name)())
    assert_same_outcome(lambda lib: getattr(lib.tensor(1.0), name)())


def test_causal_mask_on_attention_scores():
    """nanoGPT's use: fill the scores above the diagonal with -inf, then softmax."""
    def fn(lib):
        att = lib.tensor(DATA[:, :3, :3] / 10, requires_grad=True)
        causal = lib.tril(lib.ones(3, 3)).view(1, 3, 3)
        p = att.masked_fill(causal == 0, float("-inf")).softmax(-1)
        (p * lib.tensor(DATA[:, :3, :3])).sum().backward()
        return p, att.grad
    a, b = outcome(mt, fn), outcome(torch, fn)
    for (da, va), (db, vb) in zip(a[1], b[1]):
        assert da == db
        np.testing.assert_allclose(va, vb, rtol=1e-6, atol=1e-7)


# ---- masked_fill ----------------------------------------------------------------------------

MASK = [[True, False, False, True]]


@pytest.mark.parametrize("value", [-1.5, 0, 7, True, float("-inf")])
def test_masked_fill_parity(value):
    assert_same(lambda lib, x: x.masked_fill(lib.tensor(MASK), value), DATA)
    assert_same(lambda lib, x: lib.masked_fill(x, lib.tensor(MASK[0]), value), DATA[0])


def test_masked_fill_value_tensor_gets_gradient():
    def fn(lib):
        x = lib.tensor(DATA, requires_grad=True)
        v = lib.tensor(2.0, requires_grad=True)
        y = x.masked_fill(lib.tensor(MASK), v)
        assert type(y.grad_fn).__name__ == "MaskedFillBackward1"
        (y * lib.tensor(DATA)).sum().backward()
        return y, x.grad, v.grad
    assert_same_outcome(fn)


def test_masked_fill_gradcheck():
    x = make((2, 3, 4), seed=4)
    mask = mt.tensor(MASK)
    assert gradcheck(lambda t: t.masked_fill(mask, 0.5), (x,))
    v = make((), seed=5)
    assert gradcheck(lambda t, s: t.masked_fill(mask, s), (x, v))
    assert gradgradcheck(lambda t, s: t.masked_fill(mask, s), (x, v))


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(3).masked_fill(lib.zeros(2, 3, dtype=lib.bool), 1),  # broadcast out
    lambda lib: lib.zeros(3).masked_fill(lib.ones(4, dtype=lib.bool), 1),
    lambda lib: lib.zeros(3).masked_fill_(lib.ones(2, 3, dtype=lib.bool), 1),
    lambda lib: lib.zeros(3, dtype=lib.int64).masked_fill(lib.ones(3, dtype=lib.bool), 1.7),
    lambda lib: lib.zeros(3, dtype=lib.bool).masked_fill(lib.ones(3, dtype=lib.bool), 2),
    lambda lib: lib.zeros(3).masked_fill(lib.ones(3, dtype=lib.bool), lib.tensor([1.0])),
    lambda lib: lib.zeros(3).masked_fill(lib.ones(3, dtype=lib.bool), lib.tensor(2.5).double()),
    lambda lib: lib.zeros(3, dtype=lib.int64).masked_fill(lib.ones(3, dtype=lib.bool),
                                                          lib.tensor(2.5)),
    lambda lib: lib.zeros(3).masked_fill(mask=lib.tensor([True, False, True]), value=3),
])
def test_masked_fill_cases(call):
    assert_same_outcome(call)


@pytest.mark.parametrize("dtype", ["float32", "uint8", "int64"])
@pytest.mark.parametrize("method", ["masked_fill", "masked_fill_"])
def test_masked_fill_non_bool_mask_is_refused(dtype, method):
    """Issue 11 point 4: PyTorch's RuntimeError naming the mask's dtype."""
    def fn(lib):
        return getattr(lib.zeros(3), method)(lib.ones(3, dtype=getattr(lib, dtype)), 1.0)
    a, b = outcome(mt, fn), outcome(torch, fn)
    assert a == b
    assert a[1] == "RuntimeError" and "boolean masks" in a[2]


def test_masked_fill_in_place():
    def fn(lib):
        leaf = lib.tensor(DATA, requires_grad=True)
        x = leaf * 2.0
        y = x.masked_fill_(lib.tensor(MASK), -3.0)
        assert y is x and type(x.grad_fn).__name__ == "MaskedFillBackward0"
        (x * lib.tensor(DATA)).sum().backward()
        return x, leaf.grad
    assert_same_outcome(fn)


# ---- where with a Python scalar -------------------------------------------------------------

@pytest.mark.parametrize("data,kw", [([1.0, -2.0, 3.0], {}), ([1, -2, 3], {}),
                                     ([1.0, -2.0, 3.0], {"dtype": "float64"})])
@pytest.mark.parametrize("scalar", [0.0, 1, 0.5, True])
@pytest.mark.parametrize("first", [True, False])
def test_where_with_scalar(data, kw, scalar, first):
    def fn(lib):
        x = lib.tensor(data, **{k: getattr(lib, v) for k, v in kw.items()})
        cond = x > 0
        return lib.where(cond, scalar, x) if first else lib.where(cond, x, scalar)
    assert_same_outcome(fn)


def test_where_two_scalars_and_gradient():
    assert_same_outcome(lambda lib: lib.where(lib.tensor([True, False]), 1.0, 0.0))
    assert_same_outcome(lambda lib: lib.where(lib.tensor([True, False]), 1, 0))
    assert_same(lambda lib, x: lib.where(x > 2, x, 0.0), DATA[0, 0])
    assert_same(lambda lib, x: lib.where(x > 2, -1.0, x), DATA[0, 0])


# ---- reductions with keepdims= --------------------------------------------------------------

@pytest.mark.parametrize("name", ["sum", "mean", "prod", "amax", "amin", "max", "min", "std",
                                  "var", "logsumexp", "argmax", "argmin"])
@pytest.mark.parametrize("keep", [True, False])
def test_reductions_accept_keepdims(name, keep):
    assert_same_outcome(lambda lib: getattr(lib, name)(lib.tensor(DATA), 1, keepdims=keep))
    assert_same_outcome(lambda lib: getattr(lib.tensor(DATA), name)(dim=-1, keepdims=keep))


def test_keepdims_gradient():
    assert_same(lambda lib, x: x.sum(1, keepdims=True), DATA)
    assert_same(lambda lib, x: x.mean((0, 2), keepdims=True), DATA)


# ---- split / chunk with sizes ---------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda lib, x: x.split([1, 2, 1], dim=-1),
    lambda lib, x: x.split((2, 1), 1),
    lambda lib, x: lib.split(x, [2, 0, 1], dim=1),
    lambda lib, x: lib.split(x, split_size_or_sections=[1, 1], dim=0),
    lambda lib, x: x.split(3, -1),
    lambda lib, x: x.split(split_size=2, dim=1),
    lambda lib, x: x.chunk(3, -1),
    lambda lib, x: lib.chunk(x, 2, dim=1),
    lambda lib, x: x.chunk(5),
])
def test_split_chunk_parity(call):
    def fn(lib, x):
        return lib.cat([(p * (i + 1)).reshape(-1) for i, p in enumerate(call(lib, x))])
    assert_same(fn, DATA)
    names = {type(p.grad_fn).__name__ for p in call(mt, mt.tensor(DATA, requires_grad=True))}
    assert names == {type(p.grad_fn).__name__
                     for p in call(torch, torch.tensor(DATA, requires_grad=True))}


@pytest.mark.parametrize("call", [
    lambda lib: lib.ones(5, 6).split([1, 1]),
    lambda lib: lib.ones(5, 6).split([2, -1, 4]),
    lambda lib: lib.ones(5, 6).split(0),
    lambda lib: lib.ones(5, 6).split(-1),
    lambda lib: lib.ones(5, 6).chunk(0),
    lambda lib: lib.ones(5, 6).split([5], dim=2),
    lambda lib: lib.ones(0, 3).chunk(3),
])
def test_split_chunk_errors_and_edges(call):
    assert_same_outcome(call)


def test_split_gradcheck():
    x = make((4, 5), seed=6)
    assert gradcheck(lambda t: mt.cat([p * (i + 1) for i, p in enumerate(t.split([2, 3], 1))],
                                      1), (x,))
