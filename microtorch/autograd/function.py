"""Graph nodes and the ``Function`` base class.

A differentiable op is a ``Function`` subclass with two static methods side by side::

    class Mul(Function):
        '''d(a*b)/da = b,  d(a*b)/db = a'''
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return ...                          # a Tensor computed by a backend kernel
        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            return grad * b, grad * a           # written with Tensor ops

``Mul.apply(a, b)`` runs ``forward`` without recording, then, when grad mode is on and an input
requires grad, links the output to a graph node. The node *is* the ``ctx``: an instance of a class
named after the op (``MulBackward0``) that keeps the saved tensors and ``next_functions``, the
edges to the nodes of the inputs. Leaves end in an :class:`AccumulateGrad` node.
"""

import re
import weakref

from .._tensor import Tensor
from .grad_mode import _state as _grad_state


class Node:
    """A node of the backward graph (what ``tensor.grad_fn`` returns)."""

    next_functions = ()
    _pre_hooks = None  # {output_nr: [hook, ...]} from Tensor.register_hook / retain_grad

    def name(self):
        """The node's class name, e.g. ``'MulBackward0'``."""
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def register_hook(self, hook):
        """Register ``hook(grad_inputs, grad_outputs)`` called after this node runs."""
        self.__dict__.setdefault("_post_hooks", []).append(hook)

    def _add_pre_hook(self, output_nr, hook):
        if self._pre_hooks is None:
            self._pre_hooks = {}
        self._pre_hooks.setdefault(output_nr, []).append(hook)


class AccumulateGrad(Node):
    """The node at a leaf: adds the incoming gradient into ``variable.grad``."""

    _output_meta = (None,)  # one gradient arrives: the leaf's

    def __init__(self, variable):
        self.variable = variable

    def _apply(self, grads, create_graph):
        (grad,) = grads
        var = self.variable
        if not create_graph:
            grad = grad.detach()
        for hook in var._hooks or ():
            new = hook(grad)
            grad = grad if new is None else new
        var.grad = grad if var.grad is None else var.grad + grad
        return ()


class FunctionCtx(Node):
    """The context (``ctx``) given to ``forward``/``backward``; also the graph node."""

    _saved = None
    _freed = False
    _recording = False  # set by Function.apply on the nodes it links into the graph
    materialize_grads = True

    def save_for_backward(self, *tensors):
        """Keep tensors for ``backward``; checked for in-place changes when unpacked."""
        if not self._recording:  # the op is not recorded in a graph: nothing to keep
            return
        self._saved = tuple((t, t._version.value, t.grad_fn is None) if t is not None
                            else (None, 0, False) for t in tensors)

    def mark_non_differentiable(self, *tensors):
        """Mark outputs that never carry a gradient (e.g. indices)."""
        self._non_diff = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        """Whether ``None`` output gradients reach ``backward`` as zeros (default True)."""
        self.materialize_grads = value

    @property
    def saved_tensors(self):
        """The tensors given to ``save_for_backward``, checked against in-place changes."""
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or if "
                "you need to access saved tensors after calling backward."
            )
        if self._saved is None:
            return ()
        for t, version, had_no_grad_fn in self._saved:
            if t is not None and t._version.value != version:
                kind = f"torch.{t.dtype.tensor_type_name} {list(t.shape)}"
                made_by = ""
                if t.grad_fn is not None:  # name the op that made it (this one for an output)
                    maker = self if had_no_grad_fn else t.grad_fn
                    op = re.sub(r"Backward\d*$", "", maker.name())
                    made_by = f", which is output {t._output_nr} of {op},"
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{kind}]{made_by} is at version {t._version.value}; "
                    f"expected version {version} instead. Hint: the backtrace further above can "
                    "point to the operation that failed to compute its gradient. The variable in "
                    "question was changed in there or anywhere later. Good luck!"
                )
        return tuple(t for t, _, _ in self._saved)

    def _free(self):
        self._saved = None
        self._freed = True

    def _apply(self, grads, create_graph):
        result = self._forward_cls.backward(self, *grads)
        result = result if isinstance(result, tuple) else (result,)
        n = self._num_args
        if len(result) != n and (len(result) < n or any(g is not None for g in result[n:])):
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(result)})")
        if len(self._tensor_args) == n:  # every argument is a differentiable tensor
            return result[:n]
        return tuple(result[i] for i in self._tensor_args)


class Function:
    """Base class of differentiable operations; subclass it for custom ops, as in PyTorch.

    Define ``forward(ctx, *args)`` returning a Tensor (or a tuple of Tensors) and
    ``backward(ctx, *grad_outputs)`` returning one gradient (or None) per ``forward`` argument,
    then call ``YourFunction.apply(*args)``. The graph node is named ``<ClassName>Backward``,
    or the class attribute ``node_name`` when given (the built-in ops use PyTorch's names).
    """

    node_name = None
    non_differentiable = ()  # positions of tensor args that never get a gradient (an index, a
    # condition): left out of next_functions, as in PyTorch

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("node_name") or cls.__name__ + "Backward"
        cls._backward_cls = type(name, (FunctionCtx,), {"_forward_cls": cls,
                                                         "__module__": cls.__module__})

    @staticmethod
    def forward(ctx, *args):
        """Compute the op's output(s) from its inputs; runs with grad mode off."""
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Return the gradient of each forward input given the output gradients."""
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward "
                                  "mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` and, when an input requires grad, record the graph node.

        ``forward`` always runs with grad mode off. When grad mode is off or no input requires
        grad, that is all (no graph bookkeeping); otherwise the node ``ctx`` gets its edges to
        the inputs' nodes and becomes the outputs' ``grad_fn``.
        """
        ctx = cls._backward_cls()
        enabled = _grad_state.enabled
        record = False
        if enabled:
            for a in args:
                if isinstance(a, Tensor) and a._requires_grad:
                    record = True
                    break
        if not record:
            n = len(args)
            ctx.needs_input_grad = _NO_GRADS[n] if n < len(_NO_GRADS) else (False,) * n
            _grad_state.enabled = False
            try:
                return cls.forward(ctx, *args, **kwargs)
            finally:
                _grad_state.enabled = enabled
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        ctx._recording = True
        _grad_state.enabled = False
        try:
            out = cls.forward(ctx, *args, **kwargs)
        finally:
            _grad_state.enabled = enabled
        _link(ctx, cls.non_differentiable, args, out)
        return out


_NO_GRADS = tuple((False,) * n for n in range(8))  # needs_input_grad when nothing is recorded


def _link(ctx, non_differentiable, args, out):
    """Record node ``ctx`` in the graph: its edges to the nodes of the tensor ``args`` that
    require grad, the inputs' shapes, and ``grad_fn`` of the floating-point outputs."""
    tensor_args, next_functions, input_meta = [], [], []
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and i not in non_differentiable:
            tensor_args.append(i)
            next_functions.append((_edge(a), a._output_nr) if a._requires_grad else (None, 0))
            input_meta.append(a._data.shape)
    ctx._tensor_args = tuple(tensor_args)
    ctx.next_functions = tuple(next_functions)
    ctx._num_args = len(args)
    ctx._input_meta = tuple(input_meta)
    outputs = out if isinstance(out, tuple) else (out,)
    ctx._output_meta = tuple((o._data.shape, o.dtype, o._device) for o in outputs)
    non_diff = getattr(ctx, "_non_diff", ())
    for i, o in enumerate(outputs):
        if isinstance(o, Tensor) and id(o) not in non_diff and o.dtype.is_floating_point:
            o.grad_fn = ctx
            o._output_nr = i
            o._requires_grad = True


def _edge(t):
    """The node a gradient for tensor ``t`` flows into: its grad_fn or its AccumulateGrad."""
    if t.grad_fn is not None:
        return t.grad_fn
    acc = t._grad_accumulator() if t._grad_accumulator is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._grad_accumulator = weakref.ref(acc)
    return acc
