"""``gradcheck``: compare autograd's gradients with central finite differences (float64)."""

import numpy as np

from .. import _creation
from .._tensor import Tensor
from .engine import grad as autograd_grad
from .grad_mode import enable_grad, no_grad


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when analytical and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _flat_outputs(fn, inputs):
    """The outputs of ``fn(*inputs)`` as one flat NumPy vector."""
    return np.concatenate([np.asarray(o).reshape(-1) for o in _as_tuple(fn(*inputs))])


def _numerical_jacobian(fn, inputs, i, eps):
    """d(outputs, flattened)/d(inputs[i], flattened) by central differences."""
    x = inputs[i]
    flat = x._data.reshape(-1)  # inputs are contiguous float64 leaves (checked by the caller)
    columns = []
    with no_grad():
        if flat.size == 0:  # no column to perturb: a (number of outputs, 0) Jacobian
            return np.zeros((_flat_outputs(fn, inputs).size, 0))
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = _flat_outputs(fn, inputs)
            flat[k] = orig - eps
            minus = _flat_outputs(fn, inputs)
            flat[k] = orig
            columns.append((plus - minus) / (2 * eps))
    return np.stack(columns, axis=1)


def _analytical_jacobian(fn, inputs, diff_inputs):
    outputs = _as_tuple(fn(*inputs))
    sizes = [o.numel() for o in outputs]
    rows = []
    for j, out in enumerate(outputs):
        for k in range(out.numel()):
            if not out.requires_grad:
                rows.append([np.zeros(x.numel()) for x in diff_inputs])
                continue
            v = _creation.zeros(out.shape, dtype=out.dtype)
            v._data.reshape(-1)[k] = 1
            grads = autograd_grad(out, diff_inputs, v, retain_graph=True, allow_unused=True)
            rows.append([np.zeros(x.numel()) if g is None else np.asarray(g).reshape(-1)
                         for g, x in zip(grads, diff_inputs)])
    # sizes spelled out: -1 cannot be inferred when there are no outputs or no input elements
    return [np.array([r[i] for r in rows]).reshape(sum(sizes), x.numel())
            for i, x in enumerate(diff_inputs)]


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **kwargs):
    """Check the gradients of ``func`` at ``inputs`` against finite differences.

    Inputs that require grad must be float64 tensors (as in PyTorch, float32 is too coarse for
    finite differences). Returns True, or raises :class:`GradcheckError` (False when
    ``raise_exception=False``) naming the input and the largest mismatch.
    """
    inputs = _as_tuple(inputs)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    for x in diff:
        if x.dtype.name != "float64":
            raise GradcheckError(f"gradcheck expects float64 inputs, got {x.dtype}")
        if not x._data.flags.c_contiguous or not x.is_leaf:
            raise GradcheckError("gradcheck expects contiguous leaf tensors")
    analytical = _analytical_jacobian(func, inputs, diff)
    for n, x in enumerate(diff):
        position = next(i for i, t in enumerate(inputs) if t is x)
        numerical = _numerical_jacobian(func, inputs, position, eps)
        a = analytical[n]
        if a.shape != numerical.shape or not np.allclose(a, numerical, rtol=rtol, atol=atol):
            if not raise_exception:
                return False
            err = np.max(np.abs(a - numerical)) if a.shape == numerical.shape else "shape"
            raise GradcheckError(
                f"Jacobian mismatch for output 0 with respect to input {n},\n"
                f"numerical:{numerical}\nanalytical:{a}\nmax abs difference: {err}")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, **kw):
    """Check second derivatives: gradcheck of the function ``inputs -> grad(func(inputs))``."""
    inputs = _as_tuple(inputs)
    outs = _as_tuple(func(*inputs))
    if grad_outputs is None:
        gen = np.random.default_rng(0)
        grad_outputs = tuple(_creation.tensor(gen.standard_normal(o.shape), dtype=o.dtype)
                             for o in outs)
    def first_grad(*xs):
        with enable_grad():  # the numerical Jacobian calls this under no_grad
            out = _as_tuple(func(*xs))
            d = [x for x in xs if x.requires_grad]
            gs = autograd_grad(out, d, grad_outputs, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grad, inputs, eps=eps, atol=atol, rtol=rtol)
