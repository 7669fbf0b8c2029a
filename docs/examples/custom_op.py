"""A worked example of a new differentiable op: ``softplus(x, beta) = log(1 + e^(beta x)) / beta``.

This file is the op of the "Add your own op" page (docs/internals/custom_op.rst), which shows it
piece by piece; tests/docs/test_custom_op.py checks its gradients with ``gradcheck``. It uses only
microtorch's public API, so it works as it is in your own code. To add the op to the library
itself, the same pieces go into ``microtorch/ops/<module>.py`` (the Function and its ``@public``
function form, which binds ``torch.<name>`` and the Tensor method) and the backends' kernel
modules (``microtorch/backends/cpu/`` and ``cuda/``), as the page explains with ``hypot``.
"""

import numba
import numpy as np

import microtorch as torch
from microtorch.autograd import Function


# ---- 1. the kernel: a Numba loop over a NumPy array -----------------------------------------
@numba.njit(cache=True)
def softplus_kernel(x, beta, out):
    """out[i] = log(1 + exp(beta * x[i])) / beta for contiguous 1-D arrays, without overflow.

    log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): the exponential never exceeds 1.
    """
    for i in range(x.size):
        z = beta * x[i]
        out[i] = (max(z, 0.0) + np.log1p(np.exp(-abs(z)))) / beta
    return out


# ---- 2. the Function: forward calls the kernel, backward is written with Tensor ops ----------
class Softplus(Function):
    """out = log(1 + e^(beta x)) / beta;  dx = g * sigmoid(beta x)"""

    node_name = "SoftplusBackward0"  # the name grad_fn shows, as in PyTorch

    @staticmethod
    def forward(ctx, x, beta):
        if not x.dtype.is_floating_point:
            raise TypeError(f"softplus expects a floating-point tensor, got {x.dtype}")
        if beta <= 0:
            raise ValueError(f"softplus expects beta > 0, got {beta}")
        ctx.save_for_backward(x)
        ctx.beta = beta
        data = np.ascontiguousarray(x.detach().numpy())
        out = np.empty_like(data)
        softplus_kernel(data.reshape(-1), data.dtype.type(beta), out.reshape(-1))
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # One gradient per forward argument: beta is a Python number, so None.
        return grad * torch.sigmoid(ctx.beta * x), None


# ---- 3. the user-facing function (in the library: a Tensor method too) ----------------------
def softplus(x, beta=1.0):
    """Smooth ReLU: ``log(1 + exp(beta * x)) / beta``, differentiable to any order."""
    return Softplus.apply(x, beta)


if __name__ == "__main__":
    x = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    y = softplus(x)
    print(y)
    y.sum().backward()
    print(x.grad)
