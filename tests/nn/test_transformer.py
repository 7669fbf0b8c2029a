"""The nn.Transformer family: PyTorch's module tree, parameter names, defaults and reprs; values
and gradients against PyTorch with its state_dict loaded (eval mode); masks, norm_first,
activations, batch_first; cloning with deepcopy; a subclass as PyTorch's word-language-model
example writes it; PyTorch's errors."""

import math

import numpy as np
import pytest

import microtorch as mt
from microtorch import nn
from microtorch.autograd import gradcheck

D, H, FF = 8, 2, 16


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def make_pair(torch, name, *args, **kwargs):
    """The same module built by torch and microtorch, torch's weights (biases and norms made
    random too) loaded into microtorch's through numpy, both in eval mode."""
    torch.manual_seed(0)
    t_mod = getattr(torch.nn, name)(*args, **kwargs)
    with torch.no_grad():
        for p in t_mod.parameters():
            if p.dim() == 1:
                p.uniform_(0.5, 1.5)
    m_mod = getattr(nn, name)(*args, **kwargs)
    assert list(m_mod.state_dict()) == list(t_mod.state_dict())
    load(m_mod, t_mod)
    return m_mod.eval(), t_mod.eval()


def load(m_mod, t_mod):
    sd = {k: mt.tensor(v.detach().numpy()) for k, v in t_mod.state_dict().items()}
    result = m_mod.load_state_dict(sd)
    assert not result.missing_keys and not result.unexpected_keys


def run_both(torch, m_mod, t_mod, arrays, masks=None, rtol=1e-4, atol=1e-5, **kwargs):
    """Forward both on the same inputs (float arrays require grad, others are masks); compare
    outputs, input gradients and parameter gradients."""
    masks = masks or {}
    m_in = [mt.tensor(a, requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    m_out = m_mod(*m_in, **{k: mt.tensor(v) for k, v in masks.items()}, **kwargs)
    t_out = t_mod(*t_in, **{k: torch.tensor(v) for k, v in masks.items()}, **kwargs)
    assert tuple(m_out.shape) == tuple(t_out.shape)
    np.testing.assert_allclose(m_out.detach().numpy(), t_out.detach().numpy(), rtol=rtol,
                               atol=atol)
    g = rand(*t_out.shape, seed=11)
    (m_out * mt.tensor(g)).sum().backward()
    (t_out * torch.tensor(g)).sum().backward()
    for a, b in zip(m_in, t_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)
    m_params = dict(m_mod.named_parameters())
    for name, p in t_mod.named_parameters():
        if p.grad is None:
            assert m_params[name].grad is None, name
            continue
        np.testing.assert_allclose(m_params[name].grad.numpy(), p.grad.numpy(), rtol=rtol,
                                   atol=atol, err_msg=name)
    return m_out


def causal_bool(n):
    return np.triu(np.ones((n, n), dtype=bool), 1)


# ------------------------------------------------------------------------------------------
# structure
# ------------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name, args", [
    ("TransformerEncoderLayer", (D, H)),
    ("TransformerDecoderLayer", (D, H)),
    ("Transformer", ()),
])
def test_defaults_state_dict_and_repr(name, args):
    torch = pytest.importorskip("torch")
    kwargs = {} if args else {"d_model": D, "nhead": H, "num_encoder_layers": 2,
                              "num_decoder_layers": 1, "dim_feedforward": FF}
    m, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(m) == repr(t)
    assert list(m.state_dict()) == list(t.state_dict())
    assert [tuple(v.shape) for v in m.state_dict().values()] == \
        [tuple(v.shape) for v in t.state_dict().values()]


def test_layer_defaults():
    layer = nn.TransformerEncoderLayer(D, H)
    assert layer.linear1.out_features == 2048
    assert layer.dropout.p == 0.1 and layer.norm1.eps == 1e-5
    assert layer.norm_first is False and layer.self_attn.batch_first is False
    assert layer.activation is nn.functional.relu and layer.activation_relu_or_gelu == 1
    assert nn.TransformerEncoderLayer(D, H, activation="gelu").activation_relu_or_gelu == 2
    assert nn.TransformerEncoderLayer(D, H, activation=nn.GELU()).activation_relu_or_gelu == 2
    assert nn.TransformerEncoderLayer(D, H, activation=mt.tanh).activation_relu_or_gelu == 0
    t = nn.Transformer(d_model=D, nhead=H, num_encoder_layers=1, num_decoder_layers=1)
    assert (t.d_model, t.nhead, t.batch_first) == (D, H, False)


def test_no_bias():
    torch = pytest.importorskip("torch")
    m = nn.TransformerEncoderLayer(D, H, FF, bias=False)
    t = torch.nn.TransformerEncoderLayer(D, H, FF, bias=False)
    assert list(m.state_dict()) == list(t.state_dict())


def test_encoder_clones_are_independent_deep_copies():
    layer = nn.TransformerEncoderLayer(D, H, FF)
    enc = nn.TransformerEncoder(layer, num_layers=3)
    assert isinstance(enc.layers, nn.ModuleList) and len(enc.layers) == 3
    assert enc.num_layers == 3 and enc.norm is None
    params = [enc.layers[i].linear1.weight for i in range(3)]
    assert params[0] is not params[1] and params[0] is not layer.linear1.weight
    np.testing.assert_array_equal(params[0].detach().numpy(), params[2].detach().numpy())
    with mt.no_grad():
        params[0].fill_(0.0)
    assert not np.all(params[1].detach().numpy() == 0)
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters()))


def test_transformer_xavier_reset():
    model = nn.Transformer(d_model=D, nhead=H, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=FF)
    w = model.encoder.layers[0].linear1.weight.detach().numpy()
    assert np.abs(w).max() <= math.sqrt(6.0 / (D + FF))
    ln = model.encoder.norm
    assert np.all(ln.weight.detach().numpy() == 1) and np.all(ln.bias.detach().numpy() == 0)


def test_generate_square_subsequent_mask():
    torch = pytest.importorskip("torch")
    for n in (1, 4):
        m = nn.Transformer.generate_square_subsequent_mask(n)
        t = torch.nn.Transformer.generate_square_subsequent_mask(n)
        assert m.dtype == mt.float32
        np.testing.assert_array_equal(m.numpy(), t.numpy())
        assert repr(m) == repr(t)
    m = nn.Transformer.generate_square_subsequent_mask(3, dtype=mt.float64)
    assert m.dtype == mt.float64


# ------------------------------------------------------------------------------------------
# parity
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer(norm_first, activation):
    torch = pytest.importorskip("torch")
    m, t = make_pair(torch, "TransformerEncoderLayer", D, H, FF, norm_first=norm_first,
                     activation=activation)
    run_both(torch, m, t, [rand(5, 2, D)])
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[1, 3:] = True
    run_both(torch, m, t, [rand(5, 2, D, seed=1)], {"src_mask": causal_bool(5),
                                                    "src_key_padding_mask": kpm})


@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_batch_first_and_unbatched(batch_first):
    torch = pytest.importorskip("torch")
    m, t = make_pair(torch, "TransformerEncoderLayer", D, H, FF, batch_first=batch_first)
    run_both(torch, m, t, [rand(2, 5, D) if batch_first else rand(5, 2, D)],
             {"src_mask": rand(5, 5, seed=3)})
    run_both(torch, m, t, [rand(5, D, seed=4)])


def test_encoder_layer_callable_activation():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.TransformerEncoderLayer(D, H, FF, activation=torch.tanh).eval()
    m = nn.TransformerEncoderLayer(D, H, FF, activation=mt.tanh).eval()
    load(m, t)
    run_both(torch, m, t, [rand(4, 2, D)])


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer(norm_first):
    torch = pytest.importorskip("torch")
    m, t = make_pair(torch, "TransformerDecoderLayer", D, H, FF, norm_first=norm_first)
    tgt, memory = rand(4, 2, D), rand(6, 2, D, seed=1)
    run_both(torch, m, t, [tgt, memory])
    mkpm = np.zeros((2, 6), dtype=bool)
    mkpm[0, 5] = True
    run_both(torch, m, t, [tgt, memory], {"tgt_mask": causal_bool(4),
                                          "memory_key_padding_mask": mkpm})
    run_both(torch, m, t, [tgt, memory], {"tgt_mask": causal_bool(4)}, tgt_is_causal=True)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_encoder_and_decoder_stacks():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t_enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D, H, FF), 2,
                                        norm=torch.nn.LayerNorm(D)).eval()
    m_enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF), 2,
                                  norm=nn.LayerNorm(D)).eval()
    load(m_enc, t_enc)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5).numpy()
    run_both(torch, m_enc, t_enc, [rand(5, 2, D)], {"mask": mask})  # detected as causal
    run_both(torch, m_enc, t_enc, [rand(5, 2, D)], {"mask": mask}, is_causal=True)
    t_dec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(D, H, FF), 2).eval()
    m_dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, H, FF), 2).eval()
    load(m_dec, t_dec)
    run_both(torch, m_dec, t_dec, [rand(4, 2, D), rand(5, 2, D, seed=2)],
             {"tgt_mask": mask[:4, :4]})


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer(batch_first):
    torch = pytest.importorskip("torch")
    m, t = make_pair(torch, "Transformer", d_model=D, nhead=H, num_encoder_layers=2,
                     num_decoder_layers=2, dim_feedforward=FF, batch_first=batch_first)
    src = rand(2, 5, D) if batch_first else rand(5, 2, D)
    tgt = rand(2, 4, D, seed=1) if batch_first else rand(4, 2, D, seed=1)
    tgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(4).numpy()
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[1, 4] = True
    run_both(torch, m, t, [src, tgt], {"tgt_mask": tgt_mask, "src_key_padding_mask": kpm,
                                       "memory_key_padding_mask": kpm})


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_transformer_unbatched():
    torch = pytest.importorskip("torch")
    m, t = make_pair(torch, "Transformer", d_model=D, nhead=H, num_encoder_layers=1,
                     num_decoder_layers=1, dim_feedforward=FF, norm_first=True,
                     activation="gelu")
    run_both(torch, m, t, [rand(5, D), rand(3, D, seed=1)], tgt_is_causal=True,
             masks={"tgt_mask": causal_bool(3)})


def test_transformer_custom_encoder_decoder():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF), 1)
    decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, H, FF), 1)
    model = nn.Transformer(d_model=D, nhead=H, custom_encoder=encoder, custom_decoder=decoder)
    assert model.encoder is encoder and model.decoder is decoder
    out = model.eval()(mt.tensor(rand(5, 2, D)), mt.tensor(rand(3, 2, D, seed=1)))
    assert tuple(out.shape) == (3, 2, D)


def test_gradcheck_encoder_layer_float64():
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0).double()
    x = mt.tensor(rand(3, 1, 4, dtype=np.float64), requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=mt.float64)
    assert gradcheck(lambda a: layer(a, src_mask=mask), (x,))


def test_training_mode_dropout_changes_output():
    layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.5)
    x = mt.tensor(rand(4, 2, D))
    mt.manual_seed(0)
    a = layer(x).detach().numpy()
    mt.manual_seed(1)
    b = layer(x).detach().numpy()
    assert not np.allclose(a, b)
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())


# ------------------------------------------------------------------------------------------
# a subclass, as PyTorch's word-language-model example writes it
# ------------------------------------------------------------------------------------------

def word_language_model(lib):
    """PyTorch's examples/word_language_model TransformerModel, written against ``lib``."""
    F = lib.nn.functional

    class PositionalEncoding(lib.nn.Module):
        def __init__(self, d_model, dropout=0.1, max_len=50):
            super().__init__()
            self.dropout = lib.nn.Dropout(p=dropout)
            pe = lib.zeros(max_len, d_model)
            position = lib.arange(0, max_len, dtype=lib.float).unsqueeze(1)
            div_term = lib.exp(lib.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = lib.sin(position * div_term)
            pe[:, 1::2] = lib.cos(position * div_term)
            pe = pe.unsqueeze(0).transpose(0, 1)
            self.register_buffer("pe", pe)

        def forward(self, x):
            x = x + self.pe[:x.size(0), :]
            return self.dropout(x)

    class TransformerModel(lib.nn.Transformer):
        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
            super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                             num_encoder_layers=nlayers)
            self.model_type = "Transformer"
            self.src_mask = None
            self.pos_encoder = PositionalEncoding(ninp, dropout)
            self.input_emb = lib.nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = lib.nn.Linear(ninp, ntoken)
            self.init_weights()

        def _generate_square_subsequent_mask(self, sz):
            return lib.log(lib.tril(lib.ones(sz, sz)))

        def init_weights(self):
            initrange = 0.1
            lib.nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
            lib.nn.init.zeros_(self.decoder.bias)
            lib.nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, src, has_mask=True):
            if has_mask:
                if self.src_mask is None or self.src_mask.size(0) != len(src):
                    self.src_mask = self._generate_square_subsequent_mask(len(src))
            else:
                self.src_mask = None
            src = self.input_emb(src) * math.sqrt(self.ninp)
            src = self.pos_encoder(src)
            output = self.encoder(src, mask=self.src_mask)
            output = self.decoder(output)
            return F.log_softmax(output, dim=-1)

    return TransformerModel


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_word_language_model_subclass():
    torch = pytest.importorskip("torch")
    for name in ("tril", "log", "sin", "cos"):
        if not hasattr(mt, name):
            pytest.skip(f"microtorch.{name} not available yet")
    if not hasattr(nn, "Embedding"):
        pytest.skip("nn.Embedding not available yet")
    torch.manual_seed(0)
    t_model = word_language_model(torch)(20, D, H, FF, 2).eval()
    m_model = word_language_model(mt)(20, D, H, FF, 2).eval()
    # the same keys (their order: see test_reassigned_submodule_keeps_its_place)
    assert sorted(m_model.state_dict()) == sorted(t_model.state_dict())
    load(m_model, t_model)
    tokens = np.random.default_rng(0).integers(0, 20, (6, 3))
    m_out = m_model(mt.tensor(tokens))
    t_out = t_model(torch.tensor(tokens))
    np.testing.assert_allclose(m_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-4,
                               atol=1e-5)
    loss = m_out.sum()
    loss.backward()
    assert m_model.input_emb.weight.grad is not None


def test_reassigned_submodule_keeps_its_place():
    class Model(nn.Transformer):
        def __init__(self):
            super().__init__(d_model=D, nhead=H, num_encoder_layers=1, dim_feedforward=FF)
            self.extra = nn.Linear(D, 2)
            self.decoder = nn.Linear(D, 3)  # replaces the TransformerDecoder, as the example

    assert list(dict(Model().named_children())) == ["encoder", "decoder", "extra"]


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------

def _same_error(torch, call):
    errors = []
    for lib in (torch, mt):
        with pytest.raises(Exception) as info:
            call(lib)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1], errors


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_error_batch_mismatch():
    torch = pytest.importorskip("torch")

    def call(lib):
        model = lib.nn.Transformer(d_model=D, nhead=H, num_encoder_layers=1,
                                   num_decoder_layers=1, dim_feedforward=FF)
        model(lib.zeros(5, 2, D), lib.zeros(4, 3, D))
    _same_error(torch, call)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_error_feature_mismatch():
    torch = pytest.importorskip("torch")

    def call(lib):
        model = lib.nn.Transformer(d_model=D, nhead=H, num_encoder_layers=1,
                                   num_decoder_layers=1, dim_feedforward=FF)
        model(lib.zeros(5, 2, D), lib.zeros(4, 2, D + 1))
    _same_error(torch, call)


def test_error_bad_activation():
    torch = pytest.importorskip("torch")
    _same_error(torch, lambda lib: lib.nn.TransformerEncoderLayer(D, H, activation="tanh"))


def test_error_nhead_does_not_divide_d_model():
    torch = pytest.importorskip("torch")
    _same_error(torch, lambda lib: lib.nn.TransformerEncoderLayer(6, 4))


def test_error_src_mask_shape():
    torch = pytest.importorskip("torch")

    def call(lib):
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(D, H, FF)
        layer(lib.zeros(5, 2, D), src_mask=lib.zeros(4, 4))
    _same_error(torch, call)
