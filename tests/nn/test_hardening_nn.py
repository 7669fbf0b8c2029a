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
        values = np.asarray(values)  # (tolist() alone would lose an empty array's shape)
        t = lib.tensor(values.tolist(), dtype=getattr(lib, dtype)).reshape(values.shape)
        out.append(t.requires_grad_() if grad else t)
    return out


def both(fn, *specs, same_message=True):
    """Run ``fn(lib, *tensors)`` in PyTorch and microtorch; assert the same result (value,
    dtype, shape, requires_grad and the gradients of every input that requires grad) or the
    same exception class and message (class only without ``same_message``). Returns
    microtorch's result."""
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
        assert m_res == t_res if same_message else m_res[0] == t_res[0]
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
    for kwargs in ({}, {"pos_weight": [1.5, 0.5]}, {"weight": [2.0, 0.5]}):
        def loss(L, x, y, *extra, kw=tuple(kwargs)):
            fn = L.nn.functional.binary_cross_entropy_with_logits
            return fn(x, y, reduction=reduction, **dict(zip(kw, extra)))
        extra = [(v, "float64", False) for v in kwargs.values()]
        both(loss, (x, "float64", True), (y, "float64", True), *extra)


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


# ---- batch norm --------------------------------------------------------------------------------

def bn(L, x, *stats, training=True, affine=False):
    """F.batch_norm with running statistics (cloned, and compared) and, with ``affine``, the
    last two specs as weight and bias."""
    mean, var, *wb = stats if stats else (None, None)
    mean, var = (None if t is None else t.clone() for t in (mean, var))
    weight, bias = wb if affine else (None, None)
    out = L.nn.functional.batch_norm(x, mean, var, weight, bias, training=training)
    assert (mean is None) or np.array_equal(mean.numpy(), stats[0].numpy())  # (no update: empty)
    return out


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_of_an_empty_input_is_a_copy(training):
    """Running statistics untouched, dtype kept (int64 too), times weight[0] plus bias[0]."""
    stats = [([0.5, -1.0, 2.0], "float64", False), ([1.0, 2.0, 0.5], "float64", False)]
    both(lambda L, x, m, v: bn(L, x, m, v, training=training),
         (np.zeros((0, 3, 2)), "float64", True), *stats)
    both(lambda L, x, m, v, w, b: bn(L, x, m, v, w, b, training=training, affine=True),
         (np.zeros((0, 3)), "float64", True), *stats, ([2.0, 3, 4], "float64", True),
         ([1.0, 1, 1], "float64", True))
    both(lambda L, x: bn(L, x, training=training), (np.zeros((3, 1, 1, 0)), "int64", False))
    both(lambda L, x: bn(L, x, training=training), (np.zeros(0), "int64", False))


def test_batch_norm_checks_as_pytorch():
    x = np.arange(12.0).reshape(3, 2, 2)
    both(lambda L, x: bn(L, x), (x, "int64", False))  # Long: not implemented
    both(lambda L, x, m, v: bn(L, x, m, v, training=False), (x, "int64", False),
         ([0, 1], "int64", False), ([1, 1], "int64", False))
    both(lambda L, x, m, v: bn(L, x, m, v, training=False), (x, "float32", False),
         ([0.0, 1, 2], "float32", False), ([1.0, 1, 1], "float32", False))
    both(lambda L, x, m, v: bn(L, x, m, v), (x, "float64", False),  # mixed dtypes
         ([0.0, 1], "float32", False), ([1.0, 1], "float32", False))
    both(lambda L, x: bn(L, x, training=False), (x, "float32", False))  # eval needs stats


@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (2, 2)), ("BatchNorm2d", (1, 3, 4, 1))])
def test_batch_norm_modules_check_num_features_only_through_their_tensors(cls, shape):
    """Without affine parameters or running statistics, num_features is never compared with
    the input (PyTorch's module does not check it itself)."""
    x = np.arange(float(np.prod(shape))).reshape(shape)
    both(lambda L, x: getattr(L.nn, cls)(5, affine=False, track_running_stats=False)(x),
         (x, "float32", True))
    both(lambda L, x: getattr(L.nn, cls)(5, affine=False, track_running_stats=False)(x),
         (x, "int64", False))
    both(lambda L, x: getattr(L.nn, cls)(5)(x), (x, "float32", True))
    both(lambda L, x: getattr(L.nn, cls)(1, track_running_stats=False).eval()(x[:1, :1]),
         (x, "float32", True))


def test_batch_norm_modules_with_zero_features():
    both(lambda L, x: L.nn.BatchNorm1d(0, affine=False)(x), (np.zeros((3, 0)), "float32", True))
    both(lambda L, x: L.nn.BatchNorm2d(0, affine=False)(x), (np.zeros((2, 0, 3, 3)), "float32",
                                                             True))
    # with affine parameters: weight[0] of an empty weight, an IndexError in both (PyTorch's
    # message is its select()'s)
    both(lambda L, x: L.nn.BatchNorm1d(0)(x), (np.zeros((3, 0)), "float32", True),
         same_message=False)


# ---- linear, convolution and the initialisers ------------------------------------------------

@pytest.mark.parametrize("ctor, shape", [((0, 3), (2, 0)), ((0, 0, False), (0, 0)),
                                         ((0, 3), ())])
def test_linear_without_inputs(ctor, shape):
    """fan_in 0: PyTorch's initialisers skip zero-element tensors (with a warning)."""
    with pytest.warns(UserWarning, match="zero-element"):
        mt.nn.Linear(*ctor)
    both(lambda L, x: L.nn.Linear(*ctor)(x) * 0, (np.zeros(shape), "float32", True))


def test_conv2d_without_input_channels():
    with pytest.warns(UserWarning, match="zero-element"):
        conv = mt.nn.Conv2d(0, 2, 3, bias=False)
    assert conv.weight.shape == (2, 0, 3, 3)
    both(lambda L, x: L.nn.Conv2d(0, 1, 3, bias=False)(x),
         (np.zeros((0, 0, 5, 5)), "float32", True))


@pytest.mark.parametrize("init", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_init_of_an_empty_tensor_is_a_no_op(init):
    t = mt.empty(3, 0)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert getattr(mt.nn.init, init)(t) is t


def test_linear_checks_its_operands():
    lin = lambda L, x, w, b=None: L.nn.functional.linear(x, w, b)  # noqa: E731
    both(lin, (1.0, "float32", True), (np.ones((3, 1)), "float32", True))
    both(lin, (np.ones(0), "int64", False), (np.ones((2, 0)), "int64", False),
         ([1, 2, 3], "int64", False))
    both(lin, (np.ones((4, 2)), "float32", True), (np.ones((3, 2)), "float32", True),
         ([1.0, 2.0], "float32", True))
    both(lin, (np.ones((1, 0, 2, 2)), "int64", False), (np.ones((1, 2)), "int64", False),
         ([1, 2], "int64", False))
    both(lin, (np.ones((2,)), "float32", True), (np.ones((3, 2)), "float32", True),
         (np.ones((4, 3)), "float32", True))


def test_linear_bias_that_broadcasts():
    lin = lambda L, x, w, b: L.nn.functional.linear(x, w, b)  # noqa: E731
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(5, 4, 2)), rng.normal(size=(3, 2))
    for b in (rng.normal(size=(4, 3)), rng.normal(size=(1,)), np.float64(0.5)):
        both(lin, (x, "float64", True), (w, "float64", True), (b, "float64", True))
        both(lin, (x[0], "float64", True), (w, "float64", True), (b, "float64", True))


def test_conv2d_of_an_empty_batch_in_any_dtype():
    """No kernel runs on an empty input, so PyTorch computes it for uint8 (dilated) and bool."""
    conv = lambda L, x, w, **kw: L.nn.functional.conv2d(x, w, **kw)  # noqa: E731
    both(lambda L, x, w: conv(L, x, w, stride=2, padding=5, dilation=3),
         (np.ones((0, 1, 3, 5)), "uint8", False), (np.ones((4, 1, 1, 2)), "uint8", False))
    both(conv, (np.ones((0, 2, 3, 5)), "bool", False), (np.ones((4, 2, 1, 2)), "bool", False))
    both(conv, (np.ones((2, 0, 3, 5)), "bool", False), (np.ones((4, 0, 1, 2)), "bool", False))
    both(conv, (np.ones((1, 2, 3, 5)), "bool", False), (np.ones((4, 2, 1, 2)), "bool", False))


# ---- adaptive average pooling and padding ----------------------------------------------------

@pytest.mark.parametrize("shape, size", [((2, 2, 6), 0), ((0, 0, 4, 2), 5), ((1, 1, 4, 2), (0, 3)),
                                         ((1, 1, 4, 2), 5)])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_adaptive_avg_pool2d_to_an_empty_output_in_any_dtype(shape, size, dtype):
    both(lambda L, x: L.nn.functional.adaptive_avg_pool2d(x, size),
         (np.ones(shape), dtype, False))


@pytest.mark.parametrize("shape, size", [((3,), (3, 5)), ((3, 3), (3, 5)), ((), (0, -2)),
                                         ((3, 3), (None, 5)), ((3, 3, 3), (3, 5, 1)),
                                         ((3, 3), 3)])
def test_adaptive_avg_pool2d_needs_more_dims_than_the_output_size(shape, size):
    both(lambda L, x: L.nn.functional.adaptive_avg_pool2d(x, size),
         (np.ones(shape), "float32", True))
    both(lambda L, x: L.nn.AdaptiveAvgPool2d(size)(x), (np.ones(shape), "float32", True))


@pytest.mark.parametrize("shape, pad", [((0,), ()), ((0, 2), (1, 1)), ((0, 2), (1, -2)),
                                        ((2, 0), (0, 0, 1, 1))])
def test_pad_of_an_empty_tensor_keeps_the_graph(shape, pad):
    both(lambda L, x: L.nn.functional.pad(x, pad, value=1.5), (np.zeros(shape), "float32", True))


def test_batch_norm_of_inputs_without_a_channel_dim():
    both(lambda L, x: bn(L, x, training=False), ([1.0, 2.0, 3.0], "float32", False))
    both(lambda L, x: bn(L, x, training=True), ([1.0, 2.0, 3.0], "float32", False))
    both(lambda L, x, m, v: bn(L, x, m, v, training=False), ([1.0, 2.0], "float32", False),
         ([0.0], "float32", False), ([1.0], "float32", False))


@pytest.mark.parametrize("fn", [nll, ce])
def test_classification_losses_of_3d_scores_without_classes(fn):
    """PyTorch views empty (N, 0, d) scores as (N, 0, 0, 0): a target with elements does not
    match, even when every one is ignored."""
    both(lambda L, x, t: fn(L, x, t, ignore_index=0), (np.zeros((2, 0, 3)), "float32", True),
         (np.zeros((2, 3)), "int64", False))
    both(lambda L, x, t: fn(L, x, t, ignore_index=0), (np.zeros((2, 0, 3, 1)), "float32", True),
         (np.zeros((2, 3, 1)), "int64", False))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_l1_loss_gradients_at_nan_and_inf(reduction):
    """PyTorch differentiates |d| with sign(d): 0 at NaN, +-1 at +-inf."""
    special = [float("nan"), float("inf"), -float("inf"), 1.0]
    both(lambda L, x, y: L.nn.functional.l1_loss(x, y, reduction=reduction),
         (special, "float32", True), ([0.5, 0.0, 2.0, -1.0], "float32", True))
    both(lambda L, x, y: L.nn.L1Loss(reduction=reduction)(x, y),
         ([0.5, 0.0, 2.0, -1.0], "float64", True), (special, "float64", True))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_ignored_row_with_nonfinite_score_does_not_poison_the_loss(bad, reduction):
    """An ignored target's row may hold inf or NaN: it is left out, not multiplied by 0 (which
    gave NaN); the other rows' loss and gradients are PyTorch's."""
    scores = [[bad, 1.0, 2.0], [0.5, 1.0, 2.0], [0.1, bad, 0.3]]
    out = both(lambda lib, x, t: lib.nn.functional.cross_entropy(x, t, ignore_index=1,
                                                                 reduction=reduction),
               (scores, "float32", True), ([1, 2, 1], "int64", False))
    if reduction != "none":
        assert np.isfinite(out[0])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_batch_norm_statistics_of_a_channel_with_inf_or_nan(bad):
    """A channel holding inf or NaN has a NaN batch variance, so every output of that channel
    is NaN, as in PyTorch (the variance used to be clamped to 0, turning NaN into 0)."""
    values = [[0.0, 1.0], [bad, 2.0], [3.0, -1.0]]
    out = both(lambda lib, x: lib.nn.functional.batch_norm(x, None, None, training=True),
               (values, "float32", False))
    assert np.isnan(out[0][:, 0]).all()
    both(lambda lib, x: lib.nn.BatchNorm1d(2, affine=False, track_running_stats=False)(x),
         (values, "float64", True))


@pytest.mark.parametrize("shape, size", [((0, 0, 1, 1), (2**31, 1)), ((2, 3, 4, 4), (2**31, 0)),
                                         ((3, 4, 4), (0, 5))])
def test_adaptive_avg_pool2d_to_an_empty_result_of_huge_size(shape, size):
    """An empty result needs no bins: the output size used to be turned into arrays of bin
    bounds (16 GiB for 2**31 bins). The shape and graph are PyTorch's; the gradient is zero
    (PyTorch's backward refuses the empty gradient, a known quirk)."""
    outs = []
    for lib in (torch, mt):
        x = lib.ones(shape, requires_grad=True)
        y = lib.nn.functional.adaptive_avg_pool2d(x, size)
        outs.append((tuple(y.shape), str(y.dtype), y.requires_grad))
    assert outs[0] == outs[1]
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape, size, dtype", [((1, 1, 1, 1), 2**31, "float32"),
                                                ((1, 1, 1), 2**31, "int32")])
def test_adaptive_avg_pool2d_to_an_impossible_size(shape, size, dtype):
    """An output too large to exist is PyTorch's RuntimeError, raised before the dtype check
    (it used to leak NumPy's MemoryError from building 2**31 bin bounds)."""
    both(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, size),
         (np.ones(shape), dtype, False))
