"""Random numbers generated on the device with xoroshiro128+ (``numba.cuda.random``).

A :class:`Generator` owns ``n_states`` generator states in device memory (one per thread of a
fixed-size launch); each call runs exactly that many threads in a grid-stride loop, every thread
advancing its own state, so successive calls continue the streams and results depend only on
the seed and the sequence of calls (not on the device).
"""

import numpy as np
from numba import cuda, from_dtype, int64, uint64
from numba.cuda import random as curand

from .. import contract
from . import _core
from ._core import arr, f32, f64, i64, u64

REGISTRY = contract.registry("cuda")


class Generator:
    """Device random-number generator: the seed and the device-side xoroshiro128+ states."""

    def __init__(self, seed=0, n_states=None):
        if n_states is None:
            n_states = _core.THREADS * (1 if _core.SIM else 64)
        self.n_states = int(n_states)
        self.manual_seed(seed)

    def manual_seed(self, seed):
        """Reset the states to the start of the streams of ``seed``."""
        self.seed = int(seed)
        self.states = curand.create_xoroshiro128p_states(self.n_states,
                                                         seed=self.seed & (2 ** 64 - 1))
        return self

    def initial_seed(self):
        return self.seed

    def __repr__(self):
        return f"Generator(device='cuda', seed={self.seed})"


_default = None


def default_generator():
    """The backend's global generator (created on first use, seed 0)."""
    global _default
    if _default is None:
        _default = Generator(0)
    return _default


@cuda.jit
def _uniform32(states, out):
    t = cuda.grid(1)
    for i in range(t, out.size, cuda.gridsize(1)):
        out[i] = curand.xoroshiro128p_uniform_float32(states, t)


@cuda.jit
def _uniform64(states, out):
    t = cuda.grid(1)
    for i in range(t, out.size, cuda.gridsize(1)):
        out[i] = curand.xoroshiro128p_uniform_float64(states, t)


@cuda.jit
def _normal32(states, out):
    t = cuda.grid(1)
    for i in range(t, out.size, cuda.gridsize(1)):
        out[i] = curand.xoroshiro128p_normal_float32(states, t)


@cuda.jit
def _normal64(states, out):
    t = cuda.grid(1)
    for i in range(t, out.size, cuda.gridsize(1)):
        out[i] = curand.xoroshiro128p_normal_float64(states, t)


@cuda.jit
def _randint(states, low, span, out):
    t = cuda.grid(1)
    for i in range(t, out.size, cuda.gridsize(1)):
        r = curand.xoroshiro128p_next(states, t) % uint64(span)
        out[i] = int64(r) + low


_STATES = arr(from_dtype(curand.xoroshiro128p_dtype), 1, "C")   # the generator states' type
REGISTRY.launches(_uniform32, (_STATES, arr(f32, 1, "C")))
REGISTRY.launches(_uniform64, (_STATES, arr(f64, 1, "C")))
REGISTRY.launches(_normal32, (_STATES, arr(f32, 1, "C")))
REGISTRY.launches(_normal64, (_STATES, arr(f64, 1, "C")))
REGISTRY.launches(_randint, (_STATES, i64, u64, arr(i64, 1, "C")))


def _states(gen):
    """The device states of ``gen``: a :class:`Generator`, None (the default one), or any
    generator with ``initial_seed()`` (such as ``microtorch.Generator``), whose device states
    are created on first use from its seed and kept in its ``_cuda_states`` attribute."""
    if gen is None:
        return default_generator()
    if isinstance(gen, Generator):
        return gen
    states = getattr(gen, "_cuda_states", None)
    if states is None:
        states = Generator(gen.initial_seed())
        gen._cuda_states = states
    return states


def _launch(kernel, gen, out, *args):
    gen = _states(gen)
    if out.size:
        _core.launch(kernel, gen.n_states // _core.THREADS, _core.THREADS, gen.states, *args,
                     _core.reshape(out, (out.size,)))
    return out


def _float_kernel(dtype, k32, k64):
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return k32
    if dtype == np.float64:
        return k64
    raise TypeError(f"random floats need float32 or float64, got {dtype}")


@REGISTRY.kernel("uniform")
def uniform(shape, dtype, gen=None):
    """Samples of U[0, 1) of a float dtype."""
    out = _core.empty(shape, dtype)
    return _launch(_float_kernel(dtype, _uniform32, _uniform64), gen, out)


@REGISTRY.kernel("normal")
def normal(shape, dtype, gen=None):
    """Samples of N(0, 1) of a float dtype."""
    out = _core.empty(shape, dtype)
    return _launch(_float_kernel(dtype, _normal32, _normal64), gen, out)


@REGISTRY.kernel("randint")
def randint(low, high, shape, gen=None):
    """int64 samples of ``[low, high)``."""
    if high <= low:
        raise ValueError(f"randint needs low < high, got [{low}, {high})")
    out = _core.empty(shape, np.int64)
    return _launch(_randint, gen, out, np.int64(low), np.uint64(high - low))

