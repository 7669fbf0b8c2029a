"""``torch.multinomial`` / ``Tensor.multinomial`` (microtorch/_random.py): the distribution of
the samples (fixed seeds, many samples, loose but meaningful bounds), distinct categories
without replacement, the generator, the reference kernel, and PyTorch's errors (issue 11 point
4: negative, infinite or NaN probabilities, a zero-sum row, more samples than categories
without replacement). The CUDA kernel: tests/cuda/test_sorting.py."""

import numpy as np
import pytest

import microtorch as mt
from microtorch.backends import cpu as cpu_backend

P = [0.1, 0.2, 0.0, 0.3, 0.4]
INF, NAN = float("inf"), float("nan")


def _chi2(counts, probs):
    """Pearson's statistic over the categories of positive probability."""
    counts, probs = np.asarray(counts, float), np.asarray(probs, float)
    expected = counts.sum() * probs / probs.sum()
    keep = expected > 0
    return float((((counts - expected) ** 2)[keep] / expected[keep]).sum())


# 3 degrees of freedom: P(chi2 > 40) is about 1e-8, while a wrong distribution (one category's
# probability off by 0.01 with 10^5 samples) gives chi2 in the hundreds.
CHI2_BOUND = 40.0


@pytest.mark.parametrize("dtype", [mt.float32, mt.float64])
def test_with_replacement_follows_the_weights(dtype):
    g = mt.Generator().manual_seed(1)
    w = mt.tensor(P, dtype=dtype) * 7  # unnormalised weights
    s = mt.multinomial(w, 100_000, replacement=True, generator=g)
    assert s.dtype == mt.int64 and tuple(s.shape) == (100_000,)
    counts = np.bincount(s.numpy(), minlength=5)
    assert counts[2] == 0                     # probability 0: never drawn
    assert _chi2(counts, P) < CHI2_BOUND


def test_without_replacement_first_and_second_draws():
    """One draw per row of 40000 equal rows follows the weights; the second draw follows
    P(second = j) = sum_i p_i p_j / (1 - p_i)."""
    g = mt.Generator().manual_seed(2)
    w = mt.tensor([P] * 40_000)
    s = w.multinomial(2, generator=g).numpy()
    assert s.shape == (40_000, 2)
    assert (s[:, 0] != s[:, 1]).all()
    assert _chi2(np.bincount(s[:, 0], minlength=5), P) < CHI2_BOUND
    p = np.array(P)
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(5) if i != j)
                       for j in range(5)])
    assert _chi2(np.bincount(s[:, 1], minlength=5), second) < CHI2_BOUND


def test_without_replacement_gives_distinct_indices():
    g = mt.Generator().manual_seed(3)
    w = mt.rand(50, 12, generator=g) + 0.01
    s = mt.multinomial(w, 12, generator=g).numpy()
    for row in s:
        assert sorted(row.tolist()) == list(range(12))
    s5 = mt.multinomial(w, 5, generator=g).numpy()
    assert all(len(set(row.tolist())) == 5 for row in s5)


def test_zero_weights_drawn_last_without_replacement():
    s = mt.multinomial(mt.tensor([[0.0, 1.0, 0.0, 2.0]] * 200), 2).numpy()
    assert set(s.ravel().tolist()) == {1, 3}


def test_2d_with_replacement_uses_each_row():
    g = mt.Generator().manual_seed(4)
    w = mt.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    s = mt.multinomial(w, 50, True, generator=g)
    assert tuple(s.shape) == (2, 50)
    assert (s.numpy()[0] == 0).all() and (s.numpy()[1] == 2).all()


def test_generator_reproducible_and_default_generator_used():
    w = mt.tensor(P)
    a = mt.multinomial(w, 20, True, generator=mt.Generator().manual_seed(5))
    b = mt.multinomial(w, 20, True, generator=mt.Generator().manual_seed(5))
    assert a.tolist() == b.tolist()
    mt.manual_seed(6)
    c = mt.multinomial(w, 3)
    mt.manual_seed(6)
    assert mt.multinomial(w, 3).tolist() == c.tolist()


def test_requires_grad_input_and_empty_rows():
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    s = mt.multinomial(w, 1)
    assert s.dtype == mt.int64 and not s.requires_grad
    assert tuple(mt.multinomial(mt.ones(0, 3), 2).shape) == (0, 2)
    assert tuple(mt.multinomial(mt.ones(0, 3), 2, True).shape) == (0, 2)


def test_reference_kernel_equals_fast():
    w = mt.tensor([[0.0, 1.0, 0.0, 2.0, 3.0], [5.0, 0.0, 1.0, 0.0, 0.0]], dtype=mt.float64)
    fast = mt.multinomial(w, 300, True, generator=mt.Generator().manual_seed(7))
    try:
        cpu_backend.use_reference_kernels(True)
        ref = mt.multinomial(w, 300, True, generator=mt.Generator().manual_seed(7))
    finally:
        cpu_backend.use_reference_kernels(False)
    assert fast.tolist() == ref.tolist()


# ---- errors (PyTorch's class and message) ------------------------------------------------

torch_cases = [
    ("negative", [0.5, -0.1], 1, False),
    ("infinite", [1.0, INF], 1, False),
    ("nan", [1.0, NAN], 1, False),
    ("negative, with replacement", [0.5, -0.1], 2, True),
    ("infinite, with replacement", [1.0, INF], 2, True),
    ("nan, with replacement", [1.0, NAN], 2, True),
    ("zero-sum row", [[1.0, 1.0], [0.0, 0.0]], 1, False),
    ("zero-sum row, with replacement", [[1.0, 1.0], [0.0, 0.0]], 3, True),
    ("more samples than categories", [1.0, 2.0], 3, False),
    ("no samples", [1.0, 2.0], 0, True),
    ("3-d", [[[1.0]]], 1, False),
    ("0-d", 1.0, 1, False),
    ("integer input", [1, 2], 1, False),
]


@pytest.mark.parametrize("name,probs,n,replacement", torch_cases, ids=[c[0] for c in torch_cases])
def test_errors_match_torch(name, probs, n, replacement):
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as te:
        torch.multinomial(torch.tensor(probs), n, replacement)
    with pytest.raises(Exception) as me:
        mt.multinomial(mt.tensor(probs), n, replacement)
    assert type(me.value) is type(te.value)
    assert str(me.value) == str(te.value)


def test_num_samples_must_be_int():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError) as te:
        torch.multinomial(torch.ones(3), 1.5)
    with pytest.raises(TypeError) as me:
        mt.multinomial(mt.ones(3), 1.5)
    assert str(me.value) == str(te.value)
