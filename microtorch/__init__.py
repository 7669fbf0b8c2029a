"""microtorch: PyTorch's core API in readable Python, with Numba kernels.

``import microtorch as torch`` runs PyTorch code for everything microtorch covers.
"""

from . import autograd, cuda, models, nn, ops, optim, return_types
from ._creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                        is_tensor, isfinite, isnan, linspace, logspace, numel, ones, ones_like,
                        scalar_tensor, tensor, zeros, zeros_like)
from ._device import device
from ._dtype import (bool_ as bool, dtype, float32, float64, get_default_dtype, int32, int64,
                     promote_types, uint8)
from ._printing import get_printoptions, printoptions, set_printoptions
from ._random import (Generator, bernoulli, default_generator, initial_seed, manual_seed, rand,
                      rand_like, randint, randint_like, randn, randn_like, randperm, seed)
from ._tensor import Size, Tensor
from .backends.cpu.threads import get_num_threads, set_num_threads
from .serialization import load, save
from .autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                 is_inference_mode_enabled, no_grad, set_grad_enabled)
from .ops._register import TORCH_FUNCTIONS as _TORCH_FUNCTIONS

# The ops' function forms (exp, sum, matmul, cat, softmax...), each declared once in its ops
# module with @public: bound here with one loop, so a new op edits no line of this file.
for _name, _function in _TORCH_FUNCTIONS.items():
    globals()[_name] = _function
del _name, _function

float = float32
double = float64
long = int64
int = int32
__version__ = "0.1.0"
