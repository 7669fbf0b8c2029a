"""MultiheadAttention and the Transformer layers on a CUDA device: outputs and gradients equal
the CPU's (simulator or GPU; tiny shapes). They compose ops, so this checks that every mask,
buffer and intermediate is made on the input's device."""

import copy

import numpy as np

import microtorch as torch

nn = torch.nn


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _both(module, arrays, **kwargs):
    """module(*inputs, **kwargs) on the CPU and on a CUDA copy: outputs, input gradients and
    parameter gradients as NumPy arrays."""
    results = []
    for dev in ("cpu", "cuda"):
        mod = copy.deepcopy(module).to(dev).eval()
        ins = [torch.tensor(a, device=dev, requires_grad=True) for a in arrays]
        kw = {k: torch.tensor(v, device=dev) if isinstance(v, np.ndarray) else v
              for k, v in kwargs.items()}
        out = mod(*ins, **kw)
        out = out[0] if isinstance(out, tuple) else out
        assert out.device.type == dev
        g = rand(*out.shape, seed=9)
        (out * torch.tensor(g, device=dev)).sum().backward()
        results.append([out.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in ins] +
                       [p.grad.cpu().numpy() for p in mod.parameters()])
    return results


def _close(cpu, gpu):
    for c, g in zip(cpu, gpu):
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-5)


def test_multihead_attention_matches_cpu():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(4, 2, batch_first=True)
    q, kv = rand(2, 3, 4), rand(2, 2, 4, seed=1)
    mask = np.array([[False, True], [False, False], [True, False]])
    kpm = np.array([[False, False], [False, True]])
    for need_weights in (True, False):
        _close(*_both(mha, [q, kv, kv], attn_mask=mask, key_padding_mask=kpm,
                      need_weights=need_weights))


def test_encoder_and_decoder_layers_match_cpu():
    torch.manual_seed(0)
    enc = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, norm_first=True)
    causal = nn.Transformer.generate_square_subsequent_mask(3, device="cuda")
    assert causal.device.type == "cuda"
    _close(*_both(enc, [rand(3, 1, 4)], src_mask=causal.cpu().numpy()))
    dec = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, activation="gelu")
    _close(*_both(dec, [rand(3, 1, 4), rand(2, 1, 4, seed=2)], tgt_is_causal=True,
                  tgt_mask=causal.cpu().numpy()))
