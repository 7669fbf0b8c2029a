"""A character-level GPT in the style of nanoGPT, trained on text that ships with Python.

The model is nanoGPT's ``model.py`` cut to what a character model needs: token and position
embeddings, ``n_layer`` pre-norm blocks of causal self-attention
(``F.scaled_dot_product_attention(is_causal=True)``) and a GELU MLP, a final LayerNorm and a
language-model head whose weight is the token embedding's (weight tying). Training is nanoGPT's
too: AdamW with the ``configure_optimizers`` parameter groups (2-D weights decayed, biases and
LayerNorm weights not), gradient clipping with ``nn.utils.clip_grad_norm_``, and a cosine
learning-rate schedule with linear warmup. At the end it samples text with a temperature and
top-k.

The corpus is the help text of every topic of Python's ``help()`` (``pydoc_data.topics``, about
465,000 characters, on every Python install), split 90/10 into train and validation; ``--data
PATH`` trains on any UTF-8 text file instead.

The same file runs on PyTorch: only the import differs, chosen by ``--lib``::

    python examples/char_gpt.py                       # microtorch, the default small config
    python examples/char_gpt.py --lib torch           # the same code on PyTorch
    python examples/char_gpt.py --device cuda         # on an NVIDIA GPU
    python examples/char_gpt.py --config tiny         # a few seconds (tests)
    python examples/char_gpt.py --data input.txt --max-iters 5000 --plot loss.png

The default ``small`` config (4 layers, 4 heads, 128 channels, 64 characters of context, batch 32,
600 iterations) reaches a validation loss below 2.0 nats per character in under 5 minutes on two
CPU cores. Needs tqdm (progress bar) and matplotlib (loss curve, Agg backend).
"""

import argparse
import math
import os
import sys
import tempfile
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tqdm import tqdm  # noqa: E402

# The library is chosen before the model is defined, so one file serves both: ``--lib torch``
# imports PyTorch, anything else microtorch under PyTorch's name.
_lib_parser = argparse.ArgumentParser(add_help=False)
_lib_parser.add_argument("--lib", choices=("microtorch", "torch"), default="microtorch")
LIB = _lib_parser.parse_known_args()[0].lib
if LIB == "torch":
    import torch
else:
    import microtorch as torch
nn = torch.nn
F = torch.nn.functional

CONFIGS = {
    # name: model size, batch, schedule and evaluation
    "small": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=32,
                  max_iters=600, lr=3e-3, min_lr=3e-4, warmup_iters=50, eval_interval=100,
                  eval_iters=20),
    "docs": dict(n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=16,
                 max_iters=100, lr=1e-2, min_lr=1e-3, warmup_iters=10, eval_interval=25,
                 eval_iters=4),
    "tiny": dict(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4,
                 max_iters=12, lr=1e-2, min_lr=1e-3, warmup_iters=2, eval_interval=6,
                 eval_iters=2),
}


# ---- The model ---------------------------------------------------------------------------


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t attends to positions <= t only."""

    def __init__(self, n_embd, n_head, dropout=0.0):
        super().__init__()
        assert n_embd % n_head == 0
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # query, key, value for all heads at once
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.resid_dropout = nn.Dropout(dropout)
        self.n_head, self.n_embd, self.dropout = n_head, n_embd, dropout

    def forward(self, x):
        B, T, C = x.size()  # batch, sequence length, embedding
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        # (B, T, C) -> (B, n_head, T, head size): each head attends on its own
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None,
                                           dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward: Linear(C, 4C), GELU, Linear(4C, C)."""

    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """A pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, n_embd, n_head, dropout=0.0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd, dropout)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    """Token + position embeddings, ``n_layer`` blocks, a final LayerNorm and the LM head."""

    def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd, dropout=0.0):
        super().__init__()
        self.block_size = block_size
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, n_embd),  # token embedding
            wpe=nn.Embedding(block_size, n_embd),  # position embedding
            drop=nn.Dropout(dropout),
            h=nn.ModuleList([Block(n_embd, n_head, dropout) for _ in range(n_layer)]),
            ln_f=nn.LayerNorm(n_embd),
        ))
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        # weight tying: the head scores a token by its embedding (one matrix, two uses)
        self.lm_head.weight = self.transformer.wte.weight
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        b, t = idx.size()
        assert t <= self.block_size, f"sequence of {t} longer than block size {self.block_size}"
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    def configure_optimizers(self, weight_decay, learning_rate, betas):
        """nanoGPT's AdamW groups: every 2-D parameter (matmul weights, embeddings) is decayed,
        the 1-D ones (biases, LayerNorm weights) are not."""
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        """Extend ``idx`` (B, T) by sampling one token at a time from the softmax of the last
        position's logits divided by ``temperature``, keeping only the ``top_k`` largest."""
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= self.block_size else idx[:, -self.block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits = logits.masked_fill(logits < v[:, -1:], float("-inf"))
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


# ---- Data, schedule and evaluation -------------------------------------------------------


def load_text(path=None):
    """The text of ``path`` (UTF-8), or Python's own help topics when no path is given."""
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read()
    from pydoc_data.topics import topics

    return "".join(topics.values())


class CharData:
    """The characters of a text as int64 token ids (sorted vocabulary), split 90/10."""

    def __init__(self, text, device="cpu"):
        self.chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        ids = torch.tensor([self.stoi[c] for c in text], dtype=torch.long)
        n = int(0.9 * len(ids))
        self.train, self.val = ids[:n], ids[n:]
        self.device = device

    @property
    def vocab_size(self):
        return len(self.chars)

    def encode(self, s):
        """Token ids of ``s`` (characters outside the vocabulary are dropped)."""
        return [self.stoi[c] for c in s if c in self.stoi] or [0]

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)

    def batch(self, split, batch_size, block_size):
        """``batch_size`` random windows (x) and the same windows shifted by one (y)."""
        data = self.train if split == "train" else self.val
        ix = torch.randint(len(data) - block_size, (batch_size,)).tolist()
        x = torch.stack([data[i:i + block_size] for i in ix])
        y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix])
        return x.to(self.device), y.to(self.device)


def get_lr(it, cfg):
    """Linear warmup for ``warmup_iters``, then cosine decay from ``lr`` to ``min_lr``."""
    if it < cfg["warmup_iters"]:
        return cfg["lr"] * (it + 1) / (cfg["warmup_iters"] + 1)
    ratio = (it - cfg["warmup_iters"]) / max(1, cfg["max_iters"] - cfg["warmup_iters"])
    coeff = 0.5 * (1.0 + math.cos(math.pi * min(ratio, 1.0)))
    return cfg["min_lr"] + coeff * (cfg["lr"] - cfg["min_lr"])


@torch.no_grad()
def estimate_loss(model, data, cfg):
    """Mean loss over ``eval_iters`` random batches of each split, in eval mode."""
    model.eval()
    out = {}
    for split in ("train", "val"):
        losses = [model(*data.batch(split, cfg["batch_size"], cfg["block_size"]))[1].item()
                  for _ in range(cfg["eval_iters"])]
        out[split] = sum(losses) / len(losses)
    model.train()
    return out


def plot_losses(history, path):
    """Train and validation loss against the iteration, written to ``path``."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history["iter"], history["train"], "o-", label="train")
    ax.plot(history["iter"], history["val"], "o-", label="val")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (nats/char)")
    ax.set_title(f"char-GPT on {LIB}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- Training --------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], parents=[_lib_parser])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="small")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--data", default=None, help="a UTF-8 text file (default: pydoc topics)")
    parser.add_argument("--plot", default=os.path.join(tempfile.gettempdir(), "microtorch_examples",
                                                       "char_gpt_loss.png"),
                        help="where to write the loss curve (PNG)")
    for key in ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_iters",
                "warmup_iters", "eval_interval", "eval_iters"):
        parser.add_argument("--" + key.replace("_", "-"), type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--min-lr", type=float, default=None)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (torch)")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--sample-chars", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--prompt", default="The ")
    parser.add_argument("--no-bar", action="store_true", help="no tqdm progress bar")
    return parser.parse_args(argv)


def main(argv=None):
    """Train, print the losses, write the curve and print a sample; returns the history."""
    args = parse_args(argv)
    cfg = dict(CONFIGS[args.config])
    for key in list(cfg):
        if getattr(args, key, None) is not None:
            cfg[key] = getattr(args, key)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = CharData(load_text(args.data), device=args.device)
    model = GPT(data.vocab_size, cfg["block_size"], cfg["n_layer"], cfg["n_head"],
                cfg["n_embd"], args.dropout).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{LIB} on {args.device}: {len(data.train) + len(data.val):,} characters, "
          f"vocabulary {data.vocab_size}, {n_params:,} parameters ({args.config} config)")
    optimizer = model.configure_optimizers(args.weight_decay, cfg["lr"], (0.9, 0.99))

    history = {"iter": [], "train": [], "val": []}

    def evaluate(it):
        losses = estimate_loss(model, data, cfg)
        for key in ("train", "val"):
            history[key].append(losses[key])
        history["iter"].append(it)
        tqdm.write(f"step {it:5d}: train loss {losses['train']:.4f}, "
                   f"val loss {losses['val']:.4f}, {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    bar = tqdm(range(cfg["max_iters"]), desc="training", unit="it", disable=args.no_bar)
    for it in bar:
        if it % cfg["eval_interval"] == 0:
            evaluate(it)
        lr = get_lr(it, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = data.batch("train", cfg["batch_size"], cfg["block_size"])
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.2e}")
    bar.close()
    evaluate(cfg["max_iters"])
    elapsed = time.perf_counter() - start
    print(f"trained {cfg['max_iters']} iterations in {elapsed:.1f} s; "
          f"final val loss {history['val'][-1]:.4f} nats/char")

    if args.plot:
        os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
        plot_losses(history, args.plot)
        print(f"loss curve written to {args.plot}")

    model.eval()
    prompt = torch.tensor([data.encode(args.prompt)], dtype=torch.long, device=args.device)
    out = model.generate(prompt, args.sample_chars, temperature=args.temperature,
                         top_k=args.top_k)
    print(f"sample (temperature {args.temperature}, top-k {args.top_k}):")
    print(data.decode(out[0].tolist()))
    history["elapsed"] = elapsed
    return history


if __name__ == "__main__":
    main(sys.argv[1:])
