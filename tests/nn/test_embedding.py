"""Embedding / F.embedding: gradients (repeated indices add, the padding row gets none), the
default initialisation, ``from_pretrained``, and PyTorch parity (values, gradients, grad_fn,
repr, state dict, errors)."""

import numpy as np
import pytest

import microtorch as mt
from microtorch.autograd import gradcheck, gradgradcheck

F = mt.nn.functional


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _weight(n=6, d=3, seed=0):
    data = np.random.default_rng(seed).standard_normal((n, d))
    return mt.tensor(data, dtype=mt.float64, requires_grad=True)


def test_bindings():
    assert F.embedding is mt.nn.functional.embedding
    assert not hasattr(mt, "embedding")  # torch.embedding takes (weight, indices): not bound


@pytest.mark.parametrize("index", [[1, 1, 3], [[0, 5, 1], [2, 2, 2]], 4, [[]]])
def test_gradcheck(index):
    w = _weight()
    idx = mt.tensor(index, dtype=mt.int64)
    assert gradcheck(lambda w: F.embedding(idx, w), (w,))
    assert gradgradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))


def test_repeated_indices_add_and_padding_row_gets_none():
    w = _weight()
    idx = mt.tensor([[1, 2, 1], [2, 0, 1]])
    out = F.embedding(idx, w, padding_idx=2)
    assert out.shape == (2, 3, 3) and out.grad_fn.name() == "EmbeddingBackward0"
    np.testing.assert_array_equal(out.detach().numpy(), w.detach().numpy()[idx.numpy()])
    out.sum().backward()
    counts = np.array([1, 3, 0, 0, 0, 0], dtype=np.float64)[:, None]
    np.testing.assert_array_equal(w.grad.numpy(), np.broadcast_to(counts, (6, 3)))


def test_negative_padding_idx_and_int32_indices():
    w = _weight()
    out = F.embedding(mt.tensor([5, 0], dtype=mt.int32), w, padding_idx=-1)
    out.sum().backward()
    assert (w.grad.numpy()[5] == 0).all() and (w.grad.numpy()[0] == 1).all()


def test_layer_init_and_padding_row():
    mt.manual_seed(0)
    e = mt.nn.Embedding(2000, 16, padding_idx=3)
    w = e.weight.detach().numpy()
    assert (w[3] == 0).all()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02  # N(0, 1)
    assert e.weight.requires_grad and list(e.state_dict()) == ["weight"]
    e(mt.tensor([3, 4])).sum().backward()
    assert (e.weight.grad.numpy()[3] == 0).all() and (e.weight.grad.numpy()[4] == 1).all()


def test_from_pretrained():
    table = mt.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    e = mt.nn.Embedding.from_pretrained(table, padding_idx=1)
    assert not e.weight.requires_grad
    assert e.num_embeddings == 3 and e.embedding_dim == 2
    np.testing.assert_array_equal(e(mt.tensor([1, 2])).numpy(), [[3.0, 4.0], [5.0, 6.0]])
    assert mt.nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_not_implemented_options():
    w = _weight()
    for kwargs in ({"max_norm": 1.0}, {"scale_grad_by_freq": True}, {"sparse": True}):
        with pytest.raises(NotImplementedError, match=next(iter(kwargs))):
            F.embedding(mt.tensor([1]), w, **kwargs)


# ---- PyTorch parity -------------------------------------------------------------------------

def test_values_and_gradients_match_torch(torch):
    rng = np.random.default_rng(1)
    table = rng.standard_normal((7, 4)).astype(np.float32)
    idx = rng.integers(0, 7, (3, 5))
    g = rng.standard_normal((3, 5, 4)).astype(np.float32)
    results = []
    for lib in (mt, torch):
        w = lib.tensor(table, requires_grad=True)
        out = lib.nn.functional.embedding(lib.tensor(idx), w, padding_idx=idx[0, 0])
        (out * lib.tensor(g)).sum().backward()
        results.append((out.detach().numpy(), w.grad.numpy(), type(out.grad_fn).__name__))
    (mv, mg, mn), (tv, tg, tn) = results
    assert mn == tn == "EmbeddingBackward0"
    np.testing.assert_array_equal(mv, tv)
    np.testing.assert_allclose(mg, tg, rtol=1e-6, atol=1e-6)


def test_repr_matches_torch(torch):
    for args, kwargs in [((10, 3), {}), ((10, 3), {"padding_idx": 0}),
                         ((10, 3), {"padding_idx": -1}),
                         ((10, 3), {"max_norm": 1.0, "norm_type": 1.0,
                                    "scale_grad_by_freq": True, "sparse": True})]:
        assert repr(mt.nn.Embedding(*args, **kwargs)) == repr(torch.nn.Embedding(*args, **kwargs))


def test_load_pytorch_state_dict(torch):
    t = torch.nn.Embedding(5, 3)
    m = mt.nn.Embedding(5, 3)
    m.load_state_dict({k: mt.tensor(v.numpy()) for k, v in t.state_dict().items()})
    idx = [[4, 0], [1, 1]]
    np.testing.assert_array_equal(m(mt.tensor(idx)).detach().numpy(),
                                  t(torch.tensor(idx)).detach().numpy())


def _same_error(torch, fn):
    errors = []
    for lib in (mt, torch):
        with pytest.raises(BaseException) as info:
            fn(lib)
        errors.append(info.value)
    assert type(errors[0]).__name__ == type(errors[1]).__name__
    assert str(errors[0]) == str(errors[1])


def test_index_out_of_range(torch):
    """Issue 11 point 4: an index past the table."""
    _same_error(torch, lambda lib: lib.nn.functional.embedding(lib.tensor([1, 10]),
                                                               lib.zeros(10, 3)))


def test_negative_index(torch):
    """Issue 11 point 4: a negative index (not counted from the end, unlike x[i])."""
    _same_error(torch, lambda lib: lib.nn.functional.embedding(lib.tensor([[0], [-1]]),
                                                               lib.zeros(10, 3)))


def test_index_out_of_range_through_the_layer(torch):
    _same_error(torch, lambda lib: lib.nn.Embedding(4, 2)(lib.tensor([4])))


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.embedding(lib.tensor([1.0]), lib.zeros(10, 3)),
    lambda lib: lib.nn.functional.embedding(lib.tensor([1]), lib.zeros(10)),
    lambda lib: lib.nn.functional.embedding(lib.tensor([1]), lib.zeros(10, 3), padding_idx=10),
    lambda lib: lib.nn.functional.embedding(lib.tensor([1]), lib.zeros(10, 3), padding_idx=-11),
    lambda lib: lib.nn.Embedding(10, 3, padding_idx=10),
    lambda lib: lib.nn.Embedding.from_pretrained(lib.zeros(3)),
    lambda lib: lib.nn.Embedding(3, 2, _weight=lib.zeros(2, 2)),
])
def test_argument_errors(torch, call):
    _same_error(torch, call)
