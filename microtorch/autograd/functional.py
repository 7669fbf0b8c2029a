"""Higher-level autograd: ``vjp``, ``jvp``-free ``jacobian`` and ``hessian`` (as
``torch.autograd.functional``)."""

from .. import _creation
from ..ops.indexing import stack
from .engine import grad as autograd_grad
from .grad_mode import enable_grad


def _as_tuple(x):
    return (tuple(x), True) if isinstance(x, (tuple, list)) else ((x,), False)


def _prepare(inputs, create_graph):
    return tuple(x.detach().requires_grad_(True) if not create_graph or not x.requires_grad
                 else x for x in inputs)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """Return ``(func(inputs), v^T J)``: the output and the vector-Jacobian product."""
    inputs, was_tuple = _as_tuple(inputs)
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        out = func(*xs)
        if v is None:
            if out.numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function "
                                   "returns a single Tensor with a single element.")
            v = _creation.ones_like(out)
        grads = autograd_grad(out, xs, v, create_graph=create_graph, allow_unused=True)
    grads = tuple(_creation.zeros_like(x) if g is None else g for g, x in zip(grads, xs))
    out = out if create_graph else out.detach()
    return out, (grads if was_tuple else grads[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: shape ``output.shape + input.shape`` (a tuple per
    input/output when several are given)."""
    inputs, in_tuple = _as_tuple(inputs)
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        outs, out_tuple = _as_tuple(func(*xs))
        result = []
        for out in outs:
            rows = []
            flat = out.reshape(-1)
            for k in range(flat.numel()):
                grads = autograd_grad(flat[k], xs, retain_graph=True,
                                      create_graph=create_graph, allow_unused=True)
                rows.append([_creation.zeros_like(x) if g is None else g
                             for g, x in zip(grads, xs)])
            per_input = []
            for i, x in enumerate(xs):
                if rows:
                    j = stack([r[i] for r in rows]).reshape(out.shape + x.shape)
                else:
                    j = _creation.zeros(out.shape + x.shape, dtype=x.dtype)
                per_input.append(j if create_graph else j.detach())
            result.append(tuple(per_input) if in_tuple else per_input[0])
    return tuple(result) if out_tuple else result[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs`` (shape ``input.shape * 2``)."""
    inputs, in_tuple = _as_tuple(inputs)

    def gradient(*xs):
        out = func(*xs)
        if out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor "
                               "with a single element.")
        grads = autograd_grad(out, xs, create_graph=True, allow_unused=True)
        grads = tuple(_creation.zeros_like(x) if g is None else g for g, x in zip(grads, xs))
        return grads if in_tuple else grads[0]

    return jacobian(gradient, inputs if in_tuple else inputs[0], create_graph=create_graph)


def vhp(func, inputs, v, create_graph=False, strict=False):
    """Return ``(func(inputs), v^T H)``: a vector-Hessian product without forming H."""
    inputs, was_tuple = _as_tuple(inputs)
    vs, _ = _as_tuple(v)
    with enable_grad():
        xs = _prepare(inputs, True)
        out = func(*xs)
        grads = autograd_grad(out, xs, create_graph=True)
        dot = sum((g * w).sum() for g, w in zip(grads, vs))
        hv = autograd_grad(dot, xs, create_graph=create_graph, allow_unused=True)
    out = out.detach()
    return out, (hv if was_tuple else hv[0])
