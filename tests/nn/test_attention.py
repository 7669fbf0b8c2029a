"""F.scaled_dot_product_attention: gradcheck, PyTorch parity (values, gradients, errors),
the fused kernels against the composed form and against the reference kernels."""

import numpy as np
import pytest

import microtorch
from microtorch.autograd import gradcheck

F = microtorch.nn.functional
RNG = np.random.default_rng(0)


def _arrays(*shapes, dtype=np.float64):
    return [RNG.standard_normal(s).astype(dtype) for s in shapes]


def _mt(arrays, requires_grad=True):
    return [microtorch.tensor(a, requires_grad=requires_grad) for a in arrays]


SHAPES = [((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)),
          ((4, 3), (6, 3), (6, 2)),
          ((2, 1, 3, 4), (3, 5, 4), (1, 5, 2)),
          ((1, 2, 5, 4), (1, 2, 5, 4), (1, 2, 5, 4))]


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("causal", [False, True])
def test_gradcheck(shapes, causal):
    q, k, v = _mt(_arrays(*shapes))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
                     (q, k, v))


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_gradcheck_mask(kind):
    q, k, v = _mt(_arrays((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)))
    keep = RNG.random((3, 4, 5)) > 0.4
    keep[:, 1] = False  # a row with every key masked: weights 0
    mask = microtorch.tensor(keep if kind == "bool" else np.where(keep, RNG.random(keep.shape),
                                                                  -np.inf))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                                    scale=0.7), (q, k, v))


def test_not_at_top_level():
    torch = pytest.importorskip("torch")
    assert hasattr(torch, "scaled_dot_product_attention") == \
        hasattr(microtorch, "scaled_dot_product_attention")


def _parity(dtype, shapes, **kw):
    torch = pytest.importorskip("torch")
    arrays = _arrays(*shapes, dtype=dtype)
    ours, theirs = _mt(arrays), [torch.tensor(a, requires_grad=True) for a in arrays]
    mask = kw.pop("mask", None)
    out = F.scaled_dot_product_attention(
        *ours, attn_mask=None if mask is None else microtorch.tensor(mask), **kw)
    ref = torch.nn.functional.scaled_dot_product_attention(
        *theirs, attn_mask=None if mask is None else torch.tensor(mask), **kw)
    g = RNG.standard_normal(ref.shape).astype(dtype)
    out.backward(microtorch.tensor(g))
    ref.backward(torch.tensor(g))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    assert out.dtype.name == ref.dtype.__str__().split(".")[1]
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), **tol)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.3}])
def test_parity(dtype, shapes, kw):
    _parity(dtype, shapes, **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parity_masks(dtype):
    keep = RNG.random((4, 5)) > 0.4
    keep[1] = False
    shapes = SHAPES[0]
    _parity(dtype, shapes, mask=keep)
    _parity(dtype, shapes, mask=np.where(keep, RNG.standard_normal(keep.shape), -np.inf)
            .astype(dtype))
    _parity(dtype, shapes, mask=RNG.standard_normal((3, 1, 5)).astype(dtype))


def test_causal_longer_query():
    _parity(np.float64, ((1, 1, 6, 4), (1, 1, 3, 4), (1, 1, 3, 2)), is_causal=True)


def test_gqa():
    _parity(np.float64, ((2, 4, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3)), enable_gqa=True)


def test_empty_keys():
    q, k, v = _mt(_arrays((1, 2, 3), (0, 3), (0, 4)))
    out = F.scaled_dot_product_attention(q, k, v)
    assert out.shape == (1, 2, 4) and not out.detach().numpy().any()


def test_dropout_statistics():
    q, k, v = _mt(_arrays((1, 4, 8), (1, 6, 8), (1, 6, 8)), requires_grad=False)
    microtorch.manual_seed(0)
    full = F.scaled_dot_product_attention(q, k, v)
    dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert dropped.shape == full.shape
    assert not np.allclose(dropped.numpy(), full.numpy())
    assert np.allclose(F.scaled_dot_product_attention(q, k, v, dropout_p=0.0).numpy(),
                       full.numpy())


# ---- bad input (issue 11, point 4): PyTorch's class and message --------------------------

def _error(shapes, dtype=np.float32, **kw):
    torch = pytest.importorskip("torch")
    arrays = _arrays(*shapes, dtype=dtype)
    ours, theirs = [microtorch.tensor(a) for a in arrays], [torch.tensor(a) for a in arrays]
    mask = kw.pop("mask", None)
    with pytest.raises(Exception) as expected:
        torch.nn.functional.scaled_dot_product_attention(
            *theirs, attn_mask=None if mask is None else torch.tensor(mask), **kw)
    with pytest.raises(type(expected.value)) as got:
        F.scaled_dot_product_attention(
            *ours, attn_mask=None if mask is None else microtorch.tensor(mask), **kw)
    assert str(got.value) == str(expected.value)


def test_error_head_dim_mismatch():
    _error(((2, 3, 4, 8), (2, 3, 5, 7), (2, 3, 5, 6)))


def test_error_head_dim_mismatch_2d():
    _error(((4, 8), (5, 7), (5, 6)))


def test_error_sequence_mismatch():
    _error(((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 6, 6)))


def test_error_sequence_mismatch_2d():
    _error(((4, 8), (5, 8), (6, 6)))


def test_error_num_heads_mismatch():
    _error(((2, 3, 4, 8), (2, 2, 5, 8), (2, 2, 5, 6)))


def test_error_value_heads_mismatch():
    _error(((2, 3, 4, 8), (2, 3, 5, 8), (2, 2, 5, 6)))


def test_error_mask_shape():
    _error(((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)), mask=np.ones((4, 6), dtype=bool))


def test_error_mask_dtype():
    _error(((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)), mask=np.ones((4, 5), dtype=np.int64))


def test_error_mask_with_causal():
    _error(((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)), mask=np.ones((4, 5), dtype=bool),
           is_causal=True)


def test_error_rank():
    _error(((8,), (8,), (8,)))


def test_error_dtypes():
    torch = pytest.importorskip("torch")
    q, k, v = _arrays((2, 4, 8), (2, 5, 8), (2, 5, 6), dtype=np.float32)
    with pytest.raises(RuntimeError) as expected:
        torch.nn.functional.scaled_dot_product_attention(
            torch.tensor(q), torch.tensor(k).double(), torch.tensor(v))
    with pytest.raises(RuntimeError) as got:
        F.scaled_dot_product_attention(microtorch.tensor(q), microtorch.tensor(k).double(),
                                       microtorch.tensor(v))
    assert str(got.value) == str(expected.value)


def test_error_dropout_p():
    _error(((2, 4, 8), (2, 5, 8), (2, 5, 6)), dropout_p=1.5)


def test_error_gqa_heads():
    _error(((2, 3, 4, 8), (2, 2, 5, 8), (2, 2, 5, 6)), enable_gqa=True)


# ---- the fused kernels ------------------------------------------------------------------

def _fused_and_composed(shapes, dtype=np.float64, mask=None, **kw):
    """Output and gradients of the fused op, and of the composed form, for the same inputs."""
    from microtorch.ops import attention as ops_attention
    arrays = _arrays(*shapes, dtype=dtype)
    results = []
    for fused in (True, False):
        ts = _mt(arrays)
        m = None if mask is None else microtorch.tensor(mask)
        if fused:
            out = F.scaled_dot_product_attention(*ts, attn_mask=m, **kw)
        else:
            scale = kw.get("scale") or 1 / np.sqrt(shapes[0][-1])
            out = ops_attention._composed_attention(*ts, m, 0.0, kw.get("is_causal", False),
                                                    scale)
        g = np.cos(np.arange(out.numel())).reshape(out.shape).astype(dtype)
        out.backward(microtorch.tensor(g))
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    return results


BIG = [((2, 3, 70, 16), (2, 3, 130, 16), (2, 3, 130, 8)),
       ((1, 2, 65, 8), (1, 2, 65, 8), (1, 2, 65, 8))]


@pytest.mark.parametrize("shapes", BIG)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("reference", [False, True])
def test_fused_matches_composed(shapes, causal, reference):
    from microtorch.backends import cpu
    cpu.use_reference_kernels(reference)
    try:
        fused, composed = _fused_and_composed(shapes, is_causal=causal)
    finally:
        cpu.use_reference_kernels(False)
    for a, b in zip(fused, composed):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reference", [False, True])
def test_fused_masks_per_batch(reference):
    keep = RNG.random((2, 3, 70, 130)) > 0.3
    keep[0, 1, 5] = False
    keep[1, 2, 69] = False
    from microtorch.backends import cpu
    cpu.use_reference_kernels(reference)
    try:
        for mask in (keep, np.where(keep, RNG.standard_normal(keep.shape), -np.inf)):
            fused, composed = _fused_and_composed(BIG[0], mask=mask)
            for a, b in zip(fused, composed):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    finally:
        cpu.use_reference_kernels(False)


def test_fused_float32():
    fused, composed = _fused_and_composed(BIG[0], dtype=np.float32, is_causal=True)
    assert fused[0].dtype == np.float32
    for a, b in zip(fused, composed):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_reference_equals_fast():
    from microtorch.backends import cpu
    q, k, v = _mt(_arrays(*BIG[0]))
    fast = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    cpu.use_reference_kernels(True)
    try:
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    finally:
        cpu.use_reference_kernels(False)
    np.testing.assert_allclose(fast.detach().numpy(), ref.detach().numpy(), rtol=1e-12,
                               atol=1e-13)


def test_grad_fn_name():
    torch = pytest.importorskip("torch")
    q, k, v = _mt(_arrays((2, 2, 4, 8), (2, 2, 4, 8), (2, 2, 4, 8)))
    ours = F.scaled_dot_product_attention(q, k, v).grad_fn.name()
    tq = torch.randn(2, 2, 4, 8, requires_grad=True)
    assert ours == torch.nn.functional.scaled_dot_product_attention(tq, tq, tq).grad_fn.name()


def test_double_backward():
    from microtorch.autograd import gradgradcheck
    q, k, v = _mt(_arrays((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 3)))
    keep = RNG.random((3, 5)) > 0.3
    keep[1] = False
    keep = microtorch.tensor(keep)
    assert gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep),
                         (q, k, v))
    assert gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                         (q, k, v))


def test_float_mask_requires_grad():
    torch = pytest.importorskip("torch")
    q, k, v, m = _arrays((2, 3, 4), (2, 5, 4), (2, 5, 2), (3, 5))
    ours = _mt([q, k, v, m])
    theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v, m)]
    F.scaled_dot_product_attention(*ours[:3], attn_mask=ours[3]).sum().backward()
    torch.nn.functional.scaled_dot_product_attention(
        *theirs[:3], attn_mask=theirs[3]).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shapes", [((0, 0), (0, 0), (1, 0)), ((2, 0), (2, 0), (2, 3)),
                                    ((2, 2, 3), (2, 2, 3), (2, 3, 0)),
                                    ((0, 2, 3), (0, 2, 4), (0, 2, 4)), ((1, 0), (2, 0), (2, 1))])
def test_empty_shapes(shapes):
    """Empty results skip PyTorch's size checks; E == 0 gives scores 0 (weights uniform)."""
    torch = pytest.importorskip("torch")
    arrays = _arrays(*shapes, dtype=np.float32)
    out = F.scaled_dot_product_attention(*_mt(arrays))
    ref = torch.nn.functional.scaled_dot_product_attention(
        *[torch.tensor(a, requires_grad=True) for a in arrays])
    assert out.shape == tuple(ref.shape) and out.requires_grad
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.uint8])
@pytest.mark.parametrize("shapes", [((2, 2, 3), (2, 2, 3), (2, 2, 3)), ((2, 3), (2, 3), (2, 3)),
                                    ((2, 2, 3), (2, 3), (2, 3))])
def test_error_integer_inputs(dtype, shapes):
    _error(shapes, dtype=dtype)
