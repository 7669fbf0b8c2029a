"""Regression tests for the disagreements with PyTorch that the differential fuzzer (tests/fuzz)
found in the nn layer: losses, softmax, batch norm, linear, convolution, pooling, padding and
the initialisers. Each case runs the same code on PyTorch (the oracle) and on microtorch and
compares values, dtypes, gradients, or the exception class and message."""

import warnings

import numpy as np
import pytest

import microtorch as mt

torch = pytest.importorskip("torch")


def _tensors(lib, specs):
    """Tensors of ``lib`` from ``(values, dtype name, requires_grad)`` specs."""
    out = []
    for values, dtype, grad in specs:
        t = lib.tensor(np.asarray(values).tolist(), dtype=getattr(lib, dtype))
        out.append(t.requires_grad_() if grad else t)
    return out


def both(fn, *specs):
    """Run ``fn(lib, *tensors)`` in PyTorch and microtorch; assert the same result (value,
    dtype, shape, requires_grad and the gradients of every input that requires grad) or the
    same exception class and message. Returns microtorch's result."""
    results = []
    for lib in (torch, mt):
        inputs = _tensors(lib, specs)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = fn(lib, *inputs)
        except Exception as e:  # noqa: BLE001 (the exception is what is compared)
            results.append((type(e), str(e)))
            continue
        grads = []
        if out.requires_grad:
            out.sum().backward()
            grads = [None if t.grad is None else (t.grad.numpy(), str(t.grad.dtype))
                     for t in inputs if t.requires_grad]
        results.append((out.detach().numpy(), str(out.dtype), out.requires_grad, grads))
    (t_res, m_res) = results
    if isinstance(t_res[0], type) or isinstance(m_res[0], type):
        assert m_res == t_res
        return None
    np.testing.assert_allclose(m_res[0], t_res[0], rtol=1e-5, atol=1e-6)
    assert m_res[0].shape == t_res[0].shape
    assert m_res[1:3] == t_res[1:3]
    assert len(m_res[3]) == len(t_res[3])
    for m_g, t_g in zip(m_res[3], t_res[3]):
        assert (m_g is None) == (t_g is None)
        if m_g is not None:
            np.testing.assert_allclose(m_g[0], t_g[0], rtol=1e-5, atol=1e-6)
            assert m_g[1] == t_g[1]
    return m_res


# ---- softmax ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("value", [0.5, float("inf"), float("nan")])
def test_softmax_of_a_0d_tensor_is_0d(name, value):
    both(lambda L, x: getattr(L.nn.functional, name)(x, 0), (value, "float32", True))
    both(lambda L, x: getattr(x, name)(0), (value, "float32", True))
    both(lambda L, x: getattr(L, name)(x, 0), (value, "float64", True))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtype_argument_everywhere(name):
    data = [[1, 0, 3], [2, 2, 0]]
    both(lambda L, x: getattr(x, name)(1, dtype=L.float64), (data, "int64", False))
    both(lambda L, x: getattr(L, name)(x, 0, dtype=L.float32), (data, "int64", False))
    both(lambda L, x: getattr(L, name)(x, -1, dtype=L.float64), (data, "float32", True))
    both(lambda L, x: getattr(L.nn.functional, name)(x, 0, dtype=L.float32), (True, "bool",
                                                                              False))


# ---- pointwise losses ------------------------------------------------------------------------

POINTWISE = ["mse_loss", "l1_loss", "smooth_l1_loss"]


@pytest.mark.parametrize("name", POINTWISE)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pointwise_losses_promote_mixed_float_dtypes(name, reduction):
    """A 0-d float64 target makes a float32 loss float64, as PyTorch; each gradient keeps its
    operand's dtype."""
    loss = lambda L, x, y: getattr(L.nn.functional, name)(x, y, reduction=reduction)  # noqa: E731
    both(loss, (0.25, "float64", True), ([0.5, -1.0, 2.0], "float32", True))
    both(loss, ([0.5, -1.0, 2.0], "float32", True), (0.25, "float64", True))
    both(loss, ([[0.5, -1.0, 2.0]], "float64", False), ([[1.5, 1.0, 2.0]], "float32", True))


@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_losses_broadcast_in_backward(name):
    """Input (1,) against target (3,): the gradient is summed back to (1,)."""
    loss = lambda L, x, y: getattr(L.nn.functional, name)(x, y)  # noqa: E731
    both(loss, ([0.5], "float64", True), ([0.25, -1.0, 3.0], "float64", True))
    both(loss, ([[0.5], [2.0]], "float32", True), ([0.25, -1.0, 3.0], "float32", False))


@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_losses_of_empty_tensors(name):
    loss = lambda L, x, y: getattr(L.nn.functional, name)(x, y)  # noqa: E731
    both(loss, (np.zeros((0, 2)), "float32", True), (np.zeros(0), "float64", True))


@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_losses_check_shapes_then_the_reduction(name):
    loss = lambda L, x, y: getattr(L.nn.functional, name)(x, y, reduction="bad")  # noqa: E731
    both(loss, ([1.0, 2.0], "float32", True), ([1.0, 2.0, 3.0], "float32", False))
    both(loss, ([1.0, 2.0], "float32", True), ([1.0], "float32", False))


def test_smooth_l1_gradient_at_an_infinite_difference_is_finite():
    """where() would send 0 * inf = nan back through the quadratic branch."""
    both(lambda L, x, y: L.nn.functional.smooth_l1_loss(x, y),
         (0.5, "float32", False), ([float("inf"), 0.25, -float("inf"), 3.0], "float32", True))
    both(lambda L, x, y: L.nn.functional.smooth_l1_loss(x, y, reduction="none", beta=0.5),
         ([float("inf"), 0.1, -2.0], "float64", True), ([0.0, 0.0, 0.0], "float64", True))


def test_smooth_l1_beta():
    both(lambda L, x, y: L.nn.functional.smooth_l1_loss(x, y, beta=0.0),
         ([0.5, 2.0], "float64", True), ([0.0, 3.0], "float64", True))
    both(lambda L, x, y: L.nn.functional.smooth_l1_loss(x, y, beta=-1.0),
         ([0.5, 2.0], "float64", True), ([0.0, 3.0], "float64", True))


# ---- binary cross-entropy --------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_differentiates_the_target(reduction):
    p, y = [[0.2, 0.7], [0.5, 0.9]], [[0.0, 1.0], [0.3, 0.6]]
    both(lambda L, p, y: L.nn.functional.binary_cross_entropy(p, y, reduction=reduction),
         (p, "float64", True), (y, "float64", True))
    both(lambda L, p, y, w: L.nn.functional.binary_cross_entropy(p, y, w, reduction=reduction),
         (p, "float32", False), (y, "float32", True), ([0.5, 2.0], "float32", False))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits_differentiates_the_target(reduction):
    x, y = [[-2.0, 0.7], [30.0, -40.0]], [[0.0, 1.0], [0.3, 0.6]]
    F = "nn.functional"  # noqa: N806
    for kwargs in ({}, {"pos_weight": [1.5, 0.5]}, {"weight": [2.0, 0.5]}):
        def loss(L, x, y, *extra, kw=tuple(kwargs)):
            fn = L.nn.functional.binary_cross_entropy_with_logits
            return fn(x, y, reduction=reduction, **dict(zip(kw, extra)))
        extra = [(v, "float64", False) for v in kwargs.values()]
        both(loss, (x, "float64", True), (y, "float64", True), *extra)
    assert F


def test_binary_cross_entropy_with_logits_gradient_dtypes_follow_the_operands():
    both(lambda L, x, y: L.nn.functional.binary_cross_entropy_with_logits(x, y),
         ([0.5, -1.0], "float32", True), ([0.0, 1.0], "float64", True))


def test_binary_cross_entropy_refuses_mixed_dtypes_and_checks_reduction_first():
    bce = lambda L, p, y, r="mean": L.nn.functional.binary_cross_entropy(p, y, reduction=r)  # noqa
    both(bce, ([0.5], "float32", True), ([1.0], "float64", False))
    both(bce, ([0.5], "float64", True), ([1.0], "float32", False))
    both(lambda L, p, y: bce(L, p, y, "bad"), ([0.5], "float64", True), ([1.0, 0], "float32",
                                                                          False))
    both(bce, ([1, 0], "int64", False), ([1, 1], "int64", False))


# ---- nll_loss and cross_entropy --------------------------------------------------------------

def nll(L, x, t, *w, **kw):
    return L.nn.functional.nll_loss(x, t, *w, **kw)


def ce(L, x, t, *w, **kw):
    return L.nn.functional.cross_entropy(x, t, *w, **kw)


SCORES = [[-0.5, -1.5, -2.0], [-1.0, -0.2, -3.0]]


@pytest.mark.parametrize("fn", [nll, ce])
@pytest.mark.parametrize("case", [
    # (scores, target, extra specs, kwargs): wrong target dtype, Long scores, batch mismatch
    (SCORES, ([0, 1], "int32", False), {}),
    (SCORES, ([0.0, 1.0], "float32", False), {}),
    ([[1, 2], [0, 1]], ([0, 1], "int64", False), {}),
    (SCORES, ([0, 1, 2], "int64", False), {}),
    (SCORES, (1, "int64", False), {}),
    (SCORES, ([[0], [1]], "int64", False), {}),
    (SCORES, ([0, 5], "int64", False), {"reduction": "bad"}),
    (SCORES, ([0, 1], "int64", False), {"weight": [1.0, 2.0]}),
    ([[[0.5, 0.1]] * 3] * 2, ([[0, 1]] * 2, "int32", False), {}),
    ([[[0.5, 0.1]] * 3] * 2, ([[0, 1, 2]] * 2, "int64", False), {}),
    ([[[1, 1]] * 3] * 2, ([[0, 1]] * 2, "int64", False), {}),
    ([-0.5, -1.5], ([0, 1], "int64", False), {}),
])
def test_classification_losses_check_their_operands_as_pytorch(fn, case):
    scores, target, kwargs = case
    dtype = "int64" if isinstance(np.asarray(scores).flat[0].item(), int) else "float32"
    if "weight" in kwargs:
        both(lambda L, x, t, w: fn(L, x, t, w), (scores, dtype, False), target,
             (kwargs["weight"], "float32", False))
    else:
        both(lambda L, x, t: fn(L, x, t, **kwargs), (scores, dtype, False), target)


@pytest.mark.parametrize("fn", [nll, ce])
def test_classification_losses_with_a_weight_of_another_dtype(fn):
    both(lambda L, x, t, w: fn(L, x, t, w), (SCORES, "float64", True), ([0, 1], "int64", False),
         ([1.0, 2.0, 0.5], "float32", False))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_gradient_is_zero_where_every_target_is_ignored(reduction):
    both(lambda L, x, t: nll(L, x, t, ignore_index=0, reduction=reduction),
         ([0.5], "float32", True), (0, "int64", False))
    both(lambda L, x, t: nll(L, x, t, ignore_index=1, reduction=reduction),
         (SCORES, "float64", True), ([1, 1], "int64", False))


@pytest.mark.parametrize("fn", [nll, ce])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_classification_losses_with_no_classes_or_no_samples(fn, reduction):
    both(lambda L, x, t: fn(L, x, t, ignore_index=0, reduction=reduction),
         (np.zeros((2, 0)), "float32", True), ([0, 0], "int64", False))
    both(lambda L, x, t: fn(L, x, t, reduction=reduction),
         (np.zeros((0, 0, 0)), "float32", True), (np.zeros((0, 0)), "int64", False))
    both(lambda L, x, t: fn(L, x, t, reduction=reduction),
         (np.zeros((0, 3, 0)), "float32", True), (np.zeros(0), "int64", False))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probabilities(reduction):
    probs = [[0.2, 0.8, 0.0], [0.5, 0.25, 0.25]]
    both(lambda L, x, t: ce(L, x, t, reduction=reduction), (SCORES, "float32", True),
         (probs, "float64", True))
    both(lambda L, x, t: ce(L, x, t, reduction=reduction),
         (np.zeros((2, 0, 3)), "float32", True), (np.zeros((2, 0, 3)), "float64", True))
    # probabilities are told by the shape: same shape, integer target -> PyTorch's error
    both(lambda L, x, t: ce(L, x, t, reduction=reduction), (SCORES, "float32", True),
         ([[0, 1, 0], [1, 0, 0]], "int64", False))
    both(lambda L, x, t: ce(L, x, t, ignore_index=1), (SCORES, "float32", True),
         (probs, "float32", False))
    both(lambda L, x, t: ce(L, x, t), (0.5, "float32", True), (1.0, "float32", False))
    both(lambda L, x, t, w: ce(L, x, t, w), (SCORES, "float32", True),
         (probs, "float32", False), ([1.0, 2.0], "float32", False))
