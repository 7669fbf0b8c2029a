"""nn.MultiheadAttention: PyTorch's parameters, init, repr, masks, batch_first, need_weights,
values and gradients against PyTorch (state_dict loaded through numpy), and its errors."""

import numpy as np
import pytest

import microtorch as mt
from microtorch import nn
from microtorch.autograd import gradcheck

E, H, L, S, N = 8, 2, 3, 4, 2


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def load_from_torch(m_module, t_module, dtype=None):
    """Copy a torch module's state_dict into the microtorch module through numpy."""
    sd = {k: mt.tensor(v.detach().numpy(), dtype=dtype) for k, v in
          t_module.state_dict().items()}
    result = m_module.load_state_dict(sd)
    assert not result.missing_keys and not result.unexpected_keys
    return m_module


def pair(torch, **kwargs):
    """A torch MHA and a microtorch MHA with the same weights (random biases too), eval mode."""
    torch.manual_seed(0)
    t_mha = torch.nn.MultiheadAttention(E, H, **kwargs)
    with torch.no_grad():
        for p in t_mha.parameters():
            if p.dim() == 1:
                p.uniform_(-0.5, 0.5)
    m_mha = load_from_torch(nn.MultiheadAttention(E, H, **kwargs), t_mha)
    return m_mha.eval(), t_mha.eval()


def run_both(torch, m_mha, t_mha, arrays, masks=None, **kwargs):
    """Forward both modules on the same inputs; compare outputs, weights and all gradients."""
    masks = masks or {}
    m_in = [mt.tensor(a, requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    m_masks = {k: mt.tensor(v) for k, v in masks.items()}
    t_masks = {k: torch.tensor(v) for k, v in masks.items()}
    m_out, m_w = m_mha(*m_in, **m_masks, **kwargs)
    t_out, t_w = t_mha(*t_in, **t_masks, **kwargs)
    assert tuple(m_out.shape) == tuple(t_out.shape)
    np.testing.assert_allclose(m_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    assert (m_w is None) == (t_w is None)
    if t_w is not None:
        assert tuple(m_w.shape) == tuple(t_w.shape)
        np.testing.assert_allclose(m_w.detach().numpy(), t_w.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
    g = rand(*t_out.shape, seed=7)
    (m_out * mt.tensor(g)).sum().backward()
    (t_out * torch.tensor(g)).sum().backward()
    for a, b in zip(m_in, t_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    m_params = dict(m_mha.named_parameters())
    for name, p in t_mha.named_parameters():
        np.testing.assert_allclose(m_params[name].grad.numpy(), p.grad.numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=name)
    return m_out, m_w


# ------------------------------------------------------------------------------------------
# construction
# ------------------------------------------------------------------------------------------

def test_parameters_repr_and_init():
    torch = pytest.importorskip("torch")
    m, t = nn.MultiheadAttention(E, H), torch.nn.MultiheadAttention(E, H)
    assert repr(m) == repr(t)
    assert list(m.state_dict()) == list(t.state_dict())
    assert [tuple(p.shape) for p in m.parameters()] == [tuple(p.shape) for p in t.parameters()]
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(m.out_proj, nn.Linear)
    assert np.all(m.in_proj_bias.detach().numpy() == 0)
    assert np.all(m.out_proj.bias.detach().numpy() == 0)
    bound = np.sqrt(6.0 / (E + 3 * E))  # xavier_uniform_ on (3E, E)
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound
    assert (m.embed_dim, m.num_heads, m.head_dim, m.kdim, m.vdim, m.batch_first) == \
        (t.embed_dim, t.num_heads, t.head_dim, t.kdim, t.vdim, t.batch_first)


def test_separate_kdim_vdim_and_no_bias_keys():
    torch = pytest.importorskip("torch")
    for kwargs in ({"kdim": 5, "vdim": 6}, {"bias": False}, {"kdim": 5, "bias": False}):
        m, t = nn.MultiheadAttention(E, H, **kwargs), torch.nn.MultiheadAttention(E, H, **kwargs)
        assert list(m.state_dict()) == list(t.state_dict())
        assert [tuple(v.shape) for v in m.state_dict().values()] == \
            [tuple(v.shape) for v in t.state_dict().values()]
        assert m._qkv_same_embed_dim == t._qkv_same_embed_dim
        assert repr(m) == repr(t)


def test_add_bias_kv_not_implemented():
    with pytest.raises(NotImplementedError):
        nn.MultiheadAttention(E, H, add_bias_kv=True)


def test_embed_dim_not_divisible_by_num_heads():
    torch = pytest.importorskip("torch")
    for lib in (torch, mt):
        with pytest.raises(AssertionError, match="^embed_dim must be divisible by num_heads$"):
            lib.nn.MultiheadAttention(6, 4)


def test_non_positive_dims():
    torch = pytest.importorskip("torch")
    msgs = []
    for lib in (torch, mt):
        with pytest.raises(ValueError) as info:
            lib.nn.MultiheadAttention(0, 2)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


# ------------------------------------------------------------------------------------------
# forward parity
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_first", [False, True])
def test_self_attention_with_weights(batch_first):
    torch = pytest.importorskip("torch")
    m, t = pair(torch, batch_first=batch_first)
    x = rand(N, L, E) if batch_first else rand(L, N, E)
    run_both(torch, m, t, [x, x, x])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("average", [True, False])
def test_cross_attention_masks(batch_first, average):
    torch = pytest.importorskip("torch")
    m, t = pair(torch, batch_first=batch_first)
    shape = (lambda n: (N, n, E)) if batch_first else (lambda n: (n, N, E))
    q, k, v = rand(*shape(L), seed=1), rand(*shape(S), seed=2), rand(*shape(S), seed=3)
    bool_mask = np.zeros((L, S), dtype=bool)
    bool_mask[0, 1] = bool_mask[2, 3] = True
    kpm = np.zeros((N, S), dtype=bool)
    kpm[1, 0] = True
    run_both(torch, m, t, [q, k, v], {"attn_mask": bool_mask, "key_padding_mask": kpm},
             average_attn_weights=average)
    run_both(torch, m, t, [q, k, v], {"attn_mask": rand(L, S, seed=4)},
             average_attn_weights=average)
    run_both(torch, m, t, [q, k, v], {"attn_mask": rand(N * H, L, S, seed=5)})
    run_both(torch, m, t, [q, k, v], {"key_padding_mask": rand(N, S, seed=6)})


def test_unbatched_input():
    torch = pytest.importorskip("torch")
    m, t = pair(torch)
    q, kv = rand(L, E, seed=1), rand(S, E, seed=2)
    kpm = np.array([False, True, False, False])
    run_both(torch, m, t, [q, kv, kv], {"key_padding_mask": kpm})


def test_kdim_vdim():
    torch = pytest.importorskip("torch")
    m, t = pair(torch, kdim=5, vdim=6)
    run_both(torch, m, t, [rand(L, N, E), rand(S, N, 5, seed=1), rand(S, N, 6, seed=2)])


def test_need_weights_false_uses_sdpa():
    torch = pytest.importorskip("torch")
    if not hasattr(nn.functional, "scaled_dot_product_attention"):
        pytest.skip("F.scaled_dot_product_attention not available yet")
    m, t = pair(torch, batch_first=True)
    x = rand(N, L, E)
    kpm = np.zeros((N, L), dtype=bool)
    kpm[0, 2] = True
    causal = np.triu(np.ones((L, L), dtype=bool), 1)
    run_both(torch, m, t, [x, x, x], need_weights=False)
    run_both(torch, m, t, [x, x, x], {"key_padding_mask": kpm}, need_weights=False)
    run_both(torch, m, t, [x, x, x], {"attn_mask": causal}, need_weights=False, is_causal=True)
    run_both(torch, m, t, [x, x, x], {"attn_mask": rand(L, L, seed=3)}, need_weights=False)


def test_dropout_in_training_only():
    m = nn.MultiheadAttention(E, H, dropout=0.5)
    x = mt.tensor(rand(L, N, E))
    m.eval()
    a, _ = m(x, x, x)
    b, _ = m(x, x, x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    m.train()
    mt.manual_seed(0)
    _, w = m(x, x, x, average_attn_weights=False)
    assert np.any(w.detach().numpy() == 0)


def test_gradcheck_float64():
    m = nn.MultiheadAttention(4, 2, dtype=mt.float64).double()
    q = mt.tensor(rand(2, 1, 4, seed=1, dtype=np.float64), requires_grad=True)
    kv = mt.tensor(rand(3, 1, 4, seed=2, dtype=np.float64), requires_grad=True)
    mask = mt.tensor(np.array([[False, True, False], [False, False, True]]))
    assert gradcheck(lambda a, b: m(a, b, b, attn_mask=mask)[0], (q, kv))
    assert gradcheck(lambda a, b: m(a, b, b)[1], (q, kv))


# ------------------------------------------------------------------------------------------
# errors: PyTorch's class and message
# ------------------------------------------------------------------------------------------

def _same_error(torch, call):
    """``call(lib)`` raises the same class and message with torch and microtorch."""
    errors = []
    for lib in (torch, mt):
        with pytest.raises(Exception) as info:
            call(lib)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1], errors


def _mha(lib, **kwargs):
    lib.manual_seed(0)
    return lib.nn.MultiheadAttention(E, H, **kwargs)


def test_error_query_embed_dim_mismatch():
    torch = pytest.importorskip("torch")
    _same_error(torch, lambda lib: _mha(lib)(lib.zeros(L, N, E + 2), lib.zeros(S, N, E + 2),
                                             lib.zeros(S, N, E + 2)))


def test_error_key_value_shape_mismatch():
    torch = pytest.importorskip("torch")
    _same_error(torch, lambda lib: _mha(lib)(lib.zeros(L, N, E), lib.zeros(S, N, E),
                                             lib.zeros(S + 1, N, E)))


def test_error_key_value_seq_mismatch_separate_weights():
    torch = pytest.importorskip("torch")
    _same_error(torch, lambda lib: _mha(lib, kdim=5, vdim=6)(
        lib.zeros(L, N, E), lib.zeros(S, N, 5), lib.zeros(S + 1, N, 6)))


def test_error_rank_mismatch():
    torch = pytest.importorskip("torch")
    _same_error(torch, lambda lib: _mha(lib)(lib.zeros(L, N, E), lib.zeros(S, E),
                                             lib.zeros(S, E)))
    _same_error(torch, lambda lib: _mha(lib)(lib.zeros(1, L, N, E), lib.zeros(1, S, N, E),
                                             lib.zeros(1, S, N, E)))


def test_error_attn_mask_shape():
    torch = pytest.importorskip("torch")
    _same_error(torch, lambda lib: _mha(lib)(lib.zeros(L, N, E), lib.zeros(S, N, E),
                                             lib.zeros(S, N, E), attn_mask=lib.zeros(L, L)))
    _same_error(torch, lambda lib: _mha(lib)(lib.zeros(L, N, E), lib.zeros(S, N, E),
                                             lib.zeros(S, N, E), attn_mask=lib.zeros(H, L, S)))


def test_error_key_padding_mask_shape():
    torch = pytest.importorskip("torch")
    _same_error(torch, lambda lib: _mha(lib)(lib.zeros(L, N, E), lib.zeros(S, N, E),
                                             lib.zeros(S, N, E),
                                             key_padding_mask=lib.zeros(N, S + 1)))


def test_error_mask_dtype():
    torch = pytest.importorskip("torch")
    _same_error(torch, lambda lib: _mha(lib)(lib.zeros(L, N, E), lib.zeros(S, N, E),
                                             lib.zeros(S, N, E),
                                             attn_mask=lib.zeros(L, S, dtype=lib.int64)))


def test_error_is_causal_without_mask():
    torch = pytest.importorskip("torch")
    _same_error(torch, lambda lib: _mha(lib)(lib.zeros(L, N, E), lib.zeros(L, N, E),
                                             lib.zeros(L, N, E), is_causal=True))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kwargs", [{}, {"need_weights": False},
                                    {"average_attn_weights": False}])
def test_grad_fn_names(batch_first, kwargs):
    torch = pytest.importorskip("torch")
    names = []
    for lib in (torch, mt):
        lib.manual_seed(0)
        x = lib.tensor(rand(L, N, E), requires_grad=True)
        out, w = lib.nn.MultiheadAttention(E, H, batch_first=batch_first)(x, x, x, **kwargs)
        names.append((type(out.grad_fn).__name__, w if w is None else type(w.grad_fn).__name__))
    assert names[0] == names[1]


def test_mismatched_mask_types_warn_as_torch():
    torch = pytest.importorskip("torch")
    messages = []
    for lib in (torch, mt):
        lib.manual_seed(0)
        m = lib.nn.MultiheadAttention(E, H)
        x = lib.zeros(L, N, E)
        with pytest.warns(UserWarning) as record:
            m(x, x, x, key_padding_mask=lib.zeros(N, L, dtype=lib.bool),
              attn_mask=lib.zeros(L, L))
        messages.append(sorted({str(r.message) for r in record
                                if "mismatched" in str(r.message)}))
    assert messages[0] == messages[1] and messages[0]
