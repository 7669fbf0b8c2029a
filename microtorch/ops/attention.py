"""Scaled dot-product attention: ``F.scaled_dot_product_attention``.

For a query ``q (..., L, E)``, key ``k (..., S, E)`` and value ``v (..., S, Ev)`` (batch dims
broadcast)::

    s = q @ k^T * scale + bias          (L, S) scores; bias: the additive mask, -inf where masked
    p = softmax(s, dim=-1)              (a row with every key masked gives p = 0, as PyTorch)
    out = p @ v                         (L, Ev)

The gradients (``g = d loss / d out``; ``D_i = sum_e g[i, e] * out[i, e] = sum_j p[i, j] dp[i, j]``)::

    dv = p^T @ g
    dp = g @ v^T
    ds = p * (dp - D)                   (the softmax backward, row by row)
    dq = ds @ k * scale
    dk = ds^T @ q * scale
    dbias = ds                          (a float mask that requires grad)

:class:`ScaledDotProductAttention` computes this with the fused backend kernels
``attention`` (one pass over the keys with an online softmax, saving only each row's
log-sum-exp) and ``attention_backward`` (which recomputes the weights). The composed form
(matmul, where, softmax, matmul) is :func:`_composed_attention`; it serves dropout
(``dropout_p > 0``: the weights are never stored by the fused kernel, so there is nothing to
drop) and a float mask that requires grad.
"""

import math

from .. import _creation, _dtype
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..backends import contract
from ._register import public
from ._util import broadcast_shapes, check_same_device, sum_to_shape
from .elementwise import where
from .nn import dropout_mask

contract.declare("attention", "attention(q, k, v, bias, causal, scale) -> (out, lse)")
contract.declare("attention_backward",
                 "attention_backward(g, q, k, v, bias, causal, scale, out, lse) -> (gq, gk, gv)")

_NEG_INF = float("-inf")
#: PyTorch's scalar type names, for its errors.
_SCALAR_NAMES = {"int64": "Long", "int32": "Int", "bool": "Bool", "uint8": "Byte"}


class ScaledDotProductAttention(Function):
    """out = softmax(q k^T * scale + bias) v, fused (see the module docstring for the
    gradients).

    ``q``, ``k``, ``v`` are broadcast to ``batch`` and flattened to ``(N, L, E)`` arrays for
    the kernels; ``bias`` (no gradient) is ``None`` or an ``(Nb, L, S)`` tensor with ``Nb`` 1
    or N. The saved state is q, k, v, out and the ``(N, L)`` log-sum-exp, never the weights.
    """

    node_name = "ScaledDotProductFlashAttentionForCpuBackward0"

    @staticmethod
    def forward(ctx, q, k, v, bias, batch, causal, scale):
        be = q._backend
        arrays = [_flat(be, t, batch) for t in (q, k, v)]
        b = None if bias is None else be.contiguous(bias._data)
        out, lse = be.attention(*arrays, b, causal, scale)
        out = Tensor._make(be.view(out, batch + tuple(out.shape[1:])), q._device)
        ctx.save_for_backward(q, k, v, out, bias)
        ctx.lse, ctx.batch, ctx.causal, ctx.scale = lse, batch, causal, scale
        return out

    @staticmethod
    def backward(ctx, g):
        q, k, v, out, bias = ctx.saved_tensors
        if is_grad_enabled():  # create_graph: a differentiable formula
            grads = _composed_backward(g, q, k, v, bias, ctx.causal, ctx.scale)
        else:
            be = g._backend
            flat = [_flat(be, t, ctx.batch) for t in (g, q, k, v, out)]
            b = None if bias is None else be.contiguous(bias._data)
            grads = be.attention_backward(*flat[:4], b, ctx.causal, ctx.scale, flat[4], ctx.lse)
            grads = [Tensor._make(be.view(a, ctx.batch + tuple(a.shape[1:])), g._device)
                     for a in grads]
        grads = [sum_to_shape(d, t.shape) if need else None
                 for d, t, need in zip(grads, (q, k, v), ctx.needs_input_grad)]
        return (*grads, None, None, None, None)


def _flat(be, t, batch):
    """The array of ``t (..., X, Y)`` broadcast to ``batch`` and made ``(N, X, Y)``
    C-contiguous."""
    shape = tuple(batch) + tuple(t.shape[-2:])
    a = t._data if tuple(t.shape) == shape else be.expand(t._data, shape)
    return be.view(be.contiguous(a), (math.prod(batch),) + shape[-2:])


def _composed_backward(g, q, k, v, bias, causal, scale):
    """The gradients of q, k, v at the batch shape, written with Tensor ops (differentiable)."""
    scores = q.matmul(k.transpose(-2, -1)) * scale
    L, S = scores.shape[-2:]
    if causal:
        scores = where(_causal_keep(L, S, q.device), scores, _NEG_INF)
    if bias is not None:
        scores = scores + (bias.reshape(L, S) if bias.shape[0] == 1 else
                           bias.reshape(scores.shape))
    p = _safe_softmax(scores)
    gv = p.transpose(-2, -1).matmul(g)
    dp = g.matmul(v.transpose(-2, -1))
    ds = p * (dp - (dp * p).sum(-1, keepdim=True))
    return ds.matmul(k) * scale, ds.transpose(-2, -1).matmul(q) * scale, gv


def _safe_softmax(scores):
    """softmax along the last dim with rows whose every score is -inf giving 0 (not NaN), and
    no NaN in their gradient either."""
    dead = scores.amax(-1, keepdim=True) == _NEG_INF
    return where(dead, 0.0, where(dead, 0.0, scores).softmax(-1))


def _check(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa):
    """PyTorch's errors for bad arguments, in PyTorch's order; returns the broadcast batch shape
    of ``query``, ``key`` and ``value``."""
    for t in (query, key, value):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument 'query' must be Tensor, "
                            f"not {type(t).__name__}")
    check_same_device(query, key, value)
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, "
                           f"but got query.dim: {query.ndim} key.dim: {key.ndim} and value.dim: "
                           f"{value.ndim} instead.")
    if not (query.dtype is key.dtype is value.dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {_c_name(query.dtype)} key.dtype: "
                           f"{_c_name(key.dtype)} and value.dtype: {_c_name(value.dtype)} "
                           f"instead.")
    if attn_mask is not None and attn_mask.dtype is not _dtype.bool_ and \
            attn_mask.dtype is not query.dtype:
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query "
                           f"dtype, but got attn_mask.dtype: {_c_name(attn_mask.dtype)} and  "
                           f"query.dtype: {_c_name(query.dtype)} instead.")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if dropout_p > 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got "
                           f"{dropout_p}")
    if not query.dtype.is_floating_point:  # PyTorch's mm (2-d key) or bmm error
        if key.ndim == 2:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: float != "
                               f"{_c_name(query.dtype)}")
        raise RuntimeError(f"expected scalar type Float but found "
                           f"{_SCALAR_NAMES.get(query.dtype.name, query.dtype.name)}")
    kbatch, vbatch = key.shape[:-2], value.shape[:-2]
    if enable_gqa and _check_gqa(query, key, value):  # heads compared after the repeat
        kbatch = kbatch[:-1] + query.shape[-3:-2]
        vbatch = vbatch[:-1] + query.shape[-3:-2]
    L, E = query.shape[-2:]
    S, Ek = key.shape[-2:]
    Sv = value.shape[-2]
    if _empty_result(query, kbatch, vbatch, value) is not None:  # PyTorch checks no sizes
        return None
    qk = broadcast_shapes(query.shape[:-2], kbatch)
    if Ek != E:
        _mismatch(qk, (L, E), (E, S), (Ek, S))
    batch = broadcast_shapes(qk, vbatch)
    if Sv != S:
        _mismatch(batch, (L, S), (S, value.shape[-1]), (Sv, value.shape[-1]))
    if attn_mask is not None:
        broadcast_shapes(batch + (L, S), attn_mask.shape)
    return batch


def _empty_result(query, kbatch, vbatch, value):
    """The batch shape when the result has no elements (batch, L or Ev of size 0), else
    None."""
    try:
        batch = broadcast_shapes(query.shape[:-2], kbatch, vbatch)
    except RuntimeError:
        batch = query.shape[:-2]
    return batch if math.prod(batch) * query.shape[-2] * value.shape[-1] == 0 else None


def _check_gqa(query, key, value):
    """With ``enable_gqa``, the query's head dim (-3) must be a multiple of key's and value's;
    whether heads get repeated (every input has a head dim)."""
    if min(query.ndim, key.ndim, value.ndim) < 3:
        return False
    hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
    if hq % hk or hq % hv:
        # PyTorch's message, cut short as PyTorch prints it
        raise RuntimeError("Number of heads in key and value must divide the number of heads in ")
    return True


def _mismatch(batch, a, expected, got):
    """PyTorch's bmm (or mm, without batch dims) error for ``a @ b`` whose inner sizes differ."""
    if not batch:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a[0]}x{a[1]} and "
                           f"{got[0]}x{got[1]})")
    n = math.prod(batch)
    raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                       f"[{n}, {expected[0]}] but got: [{n}, {got[0]}].")


def _c_name(dtype):
    """The C name PyTorch's attention errors use for a dtype (``float``, ``long int``)."""
    return {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
            "uint8": "unsigned char", "bool": "bool"}.get(dtype.name, dtype.name)


def _repeat_heads(t, heads):
    """``t (..., H, S, D)`` with each head repeated ``heads // H`` times (``repeat_interleave``
    along dim -3), for grouped-query attention."""
    h = t.shape[-3]
    if h == heads:
        return t
    lead = t.shape[:-3]
    rep = heads // h
    t = t.unsqueeze(-3).expand(*lead, h, rep, *t.shape[-2:])
    return t.reshape(*lead, heads, *t.shape[-2:])


def _causal_keep(L, S, device):
    """The bool ``(L, S)`` mask of PyTorch's ``is_causal``: the top-left aligned lower
    triangle (query ``i`` sees keys ``j <= i``)."""
    rows = _creation.arange(L, device=device).reshape(L, 1)
    cols = _creation.arange(S, device=device).reshape(1, S)
    return rows >= cols


def _composed_attention(query, key, value, attn_mask, dropout_p, is_causal, scale):
    """Attention from existing ops: ``softmax(q @ k^T * scale + mask) @ v``, where a row with
    every key masked gets weights 0 (not NaN), and dropout on the weights when ``dropout_p``."""
    L, S = query.shape[-2], key.shape[-2]
    scores = query.matmul(key.transpose(-2, -1)) * scale
    if is_causal:
        scores = where(_causal_keep(L, S, query.device), scores, _NEG_INF)
    if attn_mask is not None:
        if attn_mask.dtype is _dtype.bool_:
            scores = where(attn_mask, scores, _NEG_INF)
        else:
            scores = scores + attn_mask
    if S == 0:
        return query.new_zeros(*scores.shape[:-1], value.shape[-1]) + \
            0.0 * scores.sum(-1, keepdim=True)
    weights = _safe_softmax(scores)
    if dropout_p > 0:
        weights = weights * dropout_mask(weights, dropout_p)
    return weights.matmul(value)


@public(torch=False, functional=True)
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """``softmax(query @ key^T * scale + mask) @ value``, as PyTorch's.

    ``query (..., L, E)``, ``key (..., S, E)``, ``value (..., S, Ev)``; batch dims broadcast.
    ``attn_mask`` broadcasts to ``(..., L, S)``: a bool mask keeps the keys where it is True, a
    float mask is added to the scores. ``is_causal`` masks key ``j > i`` for query ``i`` (the
    top-left aligned lower triangle). ``scale`` defaults to ``1 / sqrt(E)``. ``dropout_p > 0``
    drops attention weights (always, as PyTorch's functional form: pass 0 outside training).
    ``enable_gqa`` repeats key and value heads (dim -3) to the query's number of heads. A
    query row whose every key is masked gives 0 (and no gradient), as PyTorch 2.5 and later.

    Computed by the fused kernels (:class:`ScaledDotProductAttention`: the ``(L, S)`` weights
    are never stored). With ``dropout_p > 0``, or a float ``attn_mask`` that requires grad, the
    composed form runs instead (matmul, softmax, dropout, matmul), which stores the weights.
    """
    batch = _check(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    if batch is None:  # an empty result, in the graph when an input requires grad
        batch = _empty_result(query, key.shape[:-2], value.shape[:-2], value)
        out = query.new_zeros(*batch, query.shape[-2], value.shape[-1])
        if query.requires_grad or key.requires_grad or value.requires_grad:
            out = out + 0.0 * (query.sum() + key.sum() + value.sum())
        return out
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0
    if query.shape[-1] == 0:  # empty dot products: every score is 0, whatever the scale
        scale = 1.0
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and value.ndim >= 3:
        key = _repeat_heads(key, query.shape[-3])
        value = _repeat_heads(value, query.shape[-3])
    if dropout_p > 0 or (attn_mask is not None and attn_mask.requires_grad):
        return _composed_attention(query, key, value, attn_mask, dropout_p, is_causal, scale)
    L, S = query.shape[-2], key.shape[-2]
    batch = broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    bias = None
    if attn_mask is not None:
        batch = broadcast_shapes(batch, attn_mask.shape[:-2])
        bias = _bias(attn_mask, batch, L, S, query.dtype)
    return ScaledDotProductAttention.apply(query, key, value, bias, batch, bool(is_causal),
                                           float(scale))


def _bias(attn_mask, batch, L, S, dtype):
    """The additive mask as an ``(Nb, L, S)`` tensor of ``dtype``: 0 where a bool mask is True
    and -inf where it is False (a float mask as it is), ``Nb`` 1 when the mask is the same for
    every batch entry, else the batch size."""
    if attn_mask.dtype is _dtype.bool_:
        attn_mask = where(attn_mask, 0.0, _NEG_INF).to(dtype)
    attn_mask = attn_mask.detach()
    if math.prod(attn_mask.shape[:-2]) == 1:
        return attn_mask.reshape(attn_mask.shape[-2:] if attn_mask.ndim >= 2 else
                                 (1, -1)).expand(L, S).reshape(1, L, S)
    return attn_mask.expand(*batch, L, S).reshape(-1, L, S)
