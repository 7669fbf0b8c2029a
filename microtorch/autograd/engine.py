"""The backward engine: reverse-mode differentiation over the graph of ``grad_fn`` nodes.

``backward`` walks the graph once to count, for each node, how many edges lead into it, then
runs nodes in topological order (a node runs when every gradient flowing into it has arrived),
summing the gradients that meet at a node. The walk is iterative, so deep graphs never hit
Python's recursion limit. Gradients are computed with Tensor ops, so under
``create_graph=True`` the backward pass itself is recorded and can be differentiated again.
"""

from .._tensor import Tensor
from .function import AccumulateGrad, _edge
from .grad_mode import set_grad_enabled


def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _make_grads(outputs, grad_outputs):
    """The seed gradient of each output: the given one, or 1 for a scalar output."""
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad_tensors has {len(grad_outputs)} elements but there are "
                           f"{len(outputs)} tensors")
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not out.dtype.is_floating_point:
                raise RuntimeError("grad can be implicitly created only for real scalar outputs "
                                   f"but got {out.dtype}")
            g = out.new_ones(out.shape)
        elif g._data.shape != out._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                               f"output[{i}] has a shape of {out.shape}.")
        grads.append(g)
    return grads


def _root(t, i):
    if not t.requires_grad:
        raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                           "grad_fn")
    return (t.grad_fn, t._output_nr) if t.grad_fn is not None else (_edge(t), 0)


def _count_dependencies(roots):
    deps = {}
    seen = {node for node, _ in roots}
    stack = list(seen)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return deps


def _run(roots, grads, retain_graph, create_graph, captures=None):
    """Run the graph from ``roots`` (node, output_nr) seeded with ``grads``.

    A node is ready when every edge into it has delivered its gradient. Each ready node runs in
    four steps: its pre-hooks (``register_hook``, ``retain_grad``), the capture of the
    gradients ``autograd.grad`` asked for, the call of the node itself, and the handing on of
    its results to the nodes of its inputs. With ``captures`` (a set of (node, output_nr)
    edges), leaves are not accumulated into: the gradients arriving at the captured edges are
    returned in a dict instead (autograd.grad).
    """
    deps = _count_dependencies(roots)
    buffers = {}
    for (node, nr), g in zip(roots, grads):
        _accumulate(buffers, node, nr, g)
    ready = [node for node in buffers if deps.get(node, 0) == 0]
    captured = {}
    with set_grad_enabled(create_graph):
        while ready:
            node = ready.pop()
            inputs = buffers.pop(node)
            if node._pre_hooks:
                _call_pre_hooks(node, inputs)
            if captures:
                _capture(node, inputs, captures, captured)
            if isinstance(node, AccumulateGrad):
                if not captures:
                    node._apply(inputs, create_graph)
                continue
            outs = _call_node(node, inputs, retain_graph, create_graph)
            _hand_on(node, outs, buffers, deps, ready)
    return captured


def _call_pre_hooks(node, inputs):
    """Let each tensor hook on the node's outputs see (and replace) its gradient."""
    for nr, hooks in node._pre_hooks.items():
        for hook in hooks:
            if inputs[nr] is not None:
                new = hook(inputs[nr])
                inputs[nr] = inputs[nr] if new is None else new


def _capture(node, inputs, captures, captured):
    """Keep the gradients arriving at the captured edges (``autograd.grad``'s inputs)."""
    for nr, g in enumerate(inputs):
        if (node, nr) in captures:
            captured[(node, nr)] = g


def _call_node(node, inputs, retain_graph, create_graph):
    """Run the node's backward (missing gradients as zeros, unless the node said otherwise),
    then its post-hooks; free its saved tensors unless ``retain_graph``."""
    for nr, g in enumerate(inputs):
        if g is None and node.materialize_grads:
            inputs[nr] = _zeros_for_missing(node, nr, inputs)
    outs = node._apply(inputs, create_graph)
    for hook in node.__dict__.get("_post_hooks", ()):
        hook(outs, tuple(inputs))
    if not retain_graph:
        node._free()
    return outs


def _zeros_for_missing(node, nr, inputs):
    """The gradient of output ``nr`` that got none: zeros of its shape, dtype and device (made
    by a gradient that did arrive; one did, since the node is running)."""
    arrived = next(g for g in inputs if g is not None)
    shape, dtype, device = node._output_meta[nr]
    return arrived.new_zeros(shape, dtype=dtype, device=device)


def _hand_on(node, outs, buffers, deps, ready):
    """Add each input gradient into the buffer of the node it flows to (checking its shape),
    and mark that node ready once every edge into it has delivered."""
    for i, ((nxt, nr), g) in enumerate(zip(node.next_functions, outs)):
        if nxt is None:
            continue
        if g is not None:
            expected = node._input_meta[i]
            if g._data.shape != expected:
                raise RuntimeError(
                    f"Function {node.name()} returned an invalid gradient at index {i} - "
                    f"got {list(g.shape)} but expected shape compatible with "
                    f"{list(expected)}")
            _accumulate(buffers, nxt, nr, g)
        deps[nxt] -= 1
        if deps[nxt] == 0 and nxt in buffers:
            ready.append(nxt)


def _accumulate(buffers, node, nr, g):
    slots = buffers.get(node)
    if slots is None:
        slots = buffers[node] = [None] * len(node._output_meta)
    slots[nr] = g if slots[nr] is None else slots[nr] + g


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate into the leaves' ``.grad`` the gradients of ``tensors``.

    ``grad_tensors`` is the "vector" of the vector-Jacobian product (required for outputs that
    are not scalars). ``retain_graph`` (default: ``create_graph``) keeps the saved tensors for
    another backward; ``create_graph`` records the backward pass for higher-order gradients;
    ``inputs`` restricts accumulation to those tensors.
    """
    tensors = _as_tuple(tensors)
    grads = _make_grads(tensors, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = [_root(t, i) for i, t in enumerate(tensors)]
    if inputs is None:
        _run(roots, grads, retain_graph, create_graph)
        return
    inputs = _as_tuple(inputs)
    result = grad(tensors, inputs, grads, retain_graph, create_graph, allow_unused=True)
    with set_grad_enabled(create_graph):
        for t, g in zip(inputs, result):
            if g is not None:
                g = g if create_graph else g.detach()
                t.grad = g if t.grad is None else t.grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """Return the gradients of ``outputs`` with respect to ``inputs`` (``.grad`` is untouched).

    An input that ``outputs`` do not depend on raises unless ``allow_unused=True`` (then its
    gradient is None, or zeros with ``materialize_grads=True``).
    """
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _make_grads(outputs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    roots = [_root(t, i) for i, t in enumerate(outputs)]
    keys = [(t.grad_fn, t._output_nr) if t.grad_fn is not None else (_edge(t), 0)
            for t in inputs]
    captured = _run(roots, grads, retain_graph, create_graph, set(keys))
    result = []
    for t, key in zip(inputs, keys):
        g = captured.get(key)
        if g is None:
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            if materialize_grads:
                g = t.new_zeros(t.shape)
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)


def _tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradient of this tensor into the leaves' ``.grad``.

    ``gradient`` is needed when the tensor is not a scalar: it is the vector ``v`` of the
    vector-Jacobian product ``v^T J``.
    """
    backward(self, gradient, retain_graph, create_graph, inputs)


Tensor.backward = _tensor_backward
