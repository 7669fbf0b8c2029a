"""Random numbers: a seedable global generator and ``rand``/``randn``/``randint``/``randperm``,
``bernoulli`` and ``multinomial``.

microtorch's streams are reproducible for a given seed but are not PyTorch's streams.
"""

import numpy as np

from . import _dtype
from ._creation import _allocation, _finish, _size_arg, tensor
from ._device import as_device
from ._tensor import Tensor
from .autograd.grad_mode import no_grad
from .backends import contract, get_backend
from .ops._register import public
from .ops.sorting import topk

contract.declare("multinomial", "multinomial(probs, u) -> int64 indices (R, n)")


class Generator:
    """A random number generator, as ``torch.Generator`` (``manual_seed``, ``initial_seed``)."""

    def __init__(self, device="cpu"):
        self.device = as_device(device)
        self._seed = 67280421310721
        self._np = np.random.default_rng(self._seed)
        self._cuda_states = None

    def manual_seed(self, seed):
        """Reseed the generator; returns it."""
        self._seed = int(seed)
        self._np = np.random.default_rng(self._seed)
        self._cuda_states = None
        return self

    def initial_seed(self):
        """The seed last set."""
        return self._seed

    def seed(self):
        """Reseed from the OS's entropy; returns the new seed."""
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(seed)
        return seed

    def get_state(self):
        """The generator's state (opaque)."""
        return self._np.bit_generator.state

    def set_state(self, state):
        """Restore a state from :meth:`get_state`."""
        self._np.bit_generator.state = state


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator (and CUDA's); returns the default generator."""
    default_generator.manual_seed(seed)
    return default_generator


def seed():
    """Seed the default generator non-deterministically; returns the seed."""
    return default_generator.seed()


def initial_seed():
    """The default generator's seed."""
    return default_generator.initial_seed()


def _make(kind, size, dtype, device, generator, requires_grad, **kw):
    shape = _size_arg(size, {"uniform": "rand", "normal": "randn"}.get(kind, kind))
    device = as_device(device)
    gen = generator or default_generator
    be = get_backend(device)
    if kind == "randint":
        with _allocation(shape, _dtype.int64):
            data = be.randint(kw["low"], kw["high"], shape, gen)
        if dtype is not None and dtype is not _dtype.int64:
            data = be.astype(data, dtype.np)
        return Tensor._make(data, device)
    dtype = dtype or _dtype.float32
    if not dtype.is_floating_point:
        raise RuntimeError(f"\"{'check_uniform_bounds' if kind == 'uniform' else 'normal_kernel_cpu'}"
                           f"\" not implemented for '{dtype.name.capitalize()}'")
    with _allocation(shape, dtype):
        data = getattr(be, kind)(shape, dtype.np, gen)
    return _finish(Tensor._make(data, device), requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Samples of U[0, 1) with the given shape."""
    return _make("uniform", size, dtype, device, generator, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Samples of N(0, 1) with the given shape."""
    return _make("normal", size, dtype, device, generator, requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers drawn uniformly from [low, high) (``randint(high, size)`` also works)."""
    if size is None:
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint() missing required arguments 'high' and 'size'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    return _make("randint", size, dtype, device, generator, requires_grad, low=low, high=high)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1 (int64)."""
    gen = generator or default_generator
    return tensor(gen._np.permutation(n), dtype=dtype or _dtype.int64, device=device)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):
    """Uniform samples shaped like ``input``."""
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False):
    """Normal samples shaped like ``input``."""
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False):
    """Random integers in [low, high) shaped like ``input``."""
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=dtype or input.dtype,
                   device=device or input.device)


def bernoulli(input, p=None, *, generator=None):
    """Samples of Bernoulli(p) with p = ``input`` (elementwise probabilities)."""
    probs = input if p is None else input.new_full(input.shape, p)
    return (rand(probs.shape, dtype=probs.dtype, device=probs.device, generator=generator)
            < probs).to(probs.dtype)


@public(method=True)
def multinomial(input, num_samples, replacement=False, *, generator=None):
    """``num_samples`` category indices (int64) drawn from each row of ``input``, whose
    non-negative weights need not sum to 1 (1-D: one distribution, 2-D: one per row).

    With ``replacement`` each draw is independent: inverse-CDF sampling by the ``multinomial``
    kernel, from float64 uniforms of ``generator``. Without it a category is drawn at most once:
    the exponential-race trick (as PyTorch): with ``q ~ Exp(1)`` per category, the categories of
    the ``num_samples`` largest ``p / q`` are distributed as successive draws without
    replacement, so it is a :func:`~microtorch.topk`. Both run on the input's device.

    Raises PyTorch's RuntimeError for a non-floating input, a rank other than 1 or 2,
    ``num_samples <= 0``, more samples than categories without replacement, negative, infinite
    or NaN weights, and a row whose weights sum to 0.
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError("multinomial(): argument 'num_samples' (position 2) must be int, not "
                        f"{type(num_samples).__name__}")
    n = int(num_samples)
    _check_multinomial(input, n, replacement)
    probs = input.detach()
    rows = probs.reshape(1, -1) if probs.ndim == 1 else probs
    gen = generator or default_generator
    be = probs._backend
    if rows.shape[0] == 0:
        out = Tensor._make(be.empty((0, n), _dtype.int64.np), probs.device)
    elif replacement and n > 1:
        u = be.uniform((rows.shape[0], n), _dtype.float64.np, gen)
        out = Tensor._make(be.multinomial(be.contiguous(rows._data), u), probs.device)
    else:
        with no_grad():
            q = -rand(rows.shape, dtype=rows.dtype, device=rows.device, generator=gen).log()
            out = topk(rows / q, n).indices
    return out.reshape(-1) if probs.ndim == 1 else out


def _check_multinomial(input, n, replacement):
    """PyTorch's checks of ``multinomial``'s arguments, in its order and with its messages."""
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError("multinomial only supports floating-point dtypes for input, got: "
                           f"{input.dtype.scalar_name}")
    if n <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    categories = input.shape[-1]
    if not replacement and n > categories:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if categories > 2 ** 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    rows = input.detach().reshape(-1, categories) if categories else None
    if input.ndim == 2 and input.shape[0] == 0:
        return
    if not replacement or n == 1:
        if input.numel() == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
        if not bool(((rows.max() < float("inf")) & (rows.min() >= 0)).item()):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    elif rows is not None:
        if not bool((rows.min() >= 0).item()):
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               "entry < 0)")
        if not bool((rows.max() < float("inf")).item()):
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               "entry = infinity or NaN)")
    if rows is None or bool((rows.sum(1) == 0).any().item()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")


def uniform_(self, a=0.0, b=1.0, generator=None):
    """Fill with samples of U[a, b) in place."""
    with no_grad():
        return self.copy_(rand(self.shape, dtype=self.dtype, device=self.device,
                               generator=generator) * (b - a) + a)


def normal_(self, mean=0.0, std=1.0, generator=None):
    """Fill with samples of N(mean, std^2) in place."""
    with no_grad():
        return self.copy_(randn(self.shape, dtype=self.dtype, device=self.device,
                                generator=generator) * std + mean)


for _method in (uniform_, normal_):
    setattr(Tensor, _method.__name__, _method)
