"""Draw the autograd graph: :func:`make_dot` returns it as Graphviz DOT text.

This mirrors `torchviz <https://github.com/szagoruyko/pytorchviz>`_'s ``make_dot`` with no extra
dependency: the graph is built as plain DOT text (a small :class:`Digraph` with a ``source``),
and only *rendering* it to SVG or PNG needs Graphviz (the ``dot`` program, or the ``graphviz``
Python package pointing at one)::

    >>> import microtorch as torch
    >>> from microtorch.utils.viz import make_dot
    >>> a = torch.tensor([2., 3.], requires_grad=True)
    >>> b = torch.tensor([6., 4.], requires_grad=True)
    >>> Q = 3 * a**3 - b**2
    >>> dot = make_dot(Q, params={"a": a, "b": b})
    >>> [label for label in dot.labels() if label.endswith("Backward0")]
    ['SubBackward0', 'MulBackward0', 'PowBackward0', 'PowBackward0']

What the picture shows (torchviz's colours):

* the output tensor in green (``darkolivegreen1``), labelled with its shape;
* one grey box per ``grad_fn`` node, named as in PyTorch (``MulBackward0``, ``AddmmBackward0``...);
  the leaves' nodes are ``AccumulateGrad``;
* each leaf tensor in light blue, labelled with its name from ``params`` and its shape;
* with ``show_saved=True``, the tensors a node saved for backward in orange, joined to the node
  by an undirected edge.

Edges point the way the forward pass went: from a node's inputs (its ``next_functions``) to the
node, and from the last node to the output. The backward pass walks them in reverse.
"""

import shutil
import subprocess

from .._tensor import Tensor

__all__ = ["Digraph", "make_dot"]

# torchviz's look: small monospace boxes, filled.
_NODE_ATTR = {"style": "filled", "shape": "box", "align": "left", "fontsize": "10",
              "ranksep": "0.1", "height": "0.2", "fontname": "monospace"}
_OUTPUT_COLOR = "darkolivegreen1"
_BASE_COLOR = "darkolivegreen3"
_LEAF_COLOR = "lightblue"
_SAVED_COLOR = "orange"


def _quote(value):
    """A DOT string literal: ``"..."`` with quotes and backslashes escaped, newlines as ``\\n``."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _attrs(attrs):
    return " ".join(f"{key}={_quote(val)}" for key, val in attrs.items())


class Digraph:
    """A directed graph as DOT text: the subset of ``graphviz.Digraph`` that :func:`make_dot` uses.

    ``nodes`` maps a node id to its attributes (``label``, ``fillcolor``...) in insertion order,
    ``edges`` is a list of ``(tail, head, attrs)``. :attr:`source` is the DOT text; rendering it
    (:meth:`render`, :meth:`pipe`, :meth:`_repr_svg_`) needs Graphviz's ``dot`` program.
    """

    def __init__(self, name="", node_attr=None, graph_attr=None):
        self.name = name
        self.node_attr = dict(node_attr or {})
        self.graph_attr = dict(graph_attr or {})
        self.nodes = {}
        self.edges = []

    def node(self, name, label=None, **attrs):
        """Add (or update) node ``name``; ``label`` defaults to the name, as in Graphviz."""
        entry = self.nodes.setdefault(str(name), {})
        if label is not None:
            entry["label"] = label
        entry.update(attrs)

    def edge(self, tail, head, **attrs):
        """Add an edge from node ``tail`` to node ``head``."""
        self.edges.append((str(tail), str(head), dict(attrs)))

    def labels(self):
        """The nodes' labels, in the order the nodes were added."""
        return [attrs.get("label", name) for name, attrs in self.nodes.items()]

    @property
    def source(self):
        """The graph as DOT text."""
        lines = [f"digraph {_quote(self.name)} {{" if self.name else "digraph {"]
        if self.graph_attr:
            lines.append(f"\tgraph [{_attrs(self.graph_attr)}]")
        if self.node_attr:
            lines.append(f"\tnode [{_attrs(self.node_attr)}]")
        for name, attrs in self.nodes.items():
            lines.append(f"\t{_quote(name)} [{_attrs(attrs)}]" if attrs else f"\t{_quote(name)}")
        for tail, head, attrs in self.edges:
            edge = f"\t{_quote(tail)} -> {_quote(head)}"
            lines.append(f"{edge} [{_attrs(attrs)}]" if attrs else edge)
        lines.append("}")
        return "\n".join(lines) + "\n"

    def __str__(self):
        return self.source

    def __repr__(self):
        return (f"<{type(self).__name__} with {len(self.nodes)} nodes and {len(self.edges)} "
                "edges>")

    def pipe(self, format="svg"):
        """The graph rendered by Graphviz, as bytes (``format`` is ``'svg'``, ``'png'``...)."""
        return _run_dot(self.source, format)

    def render(self, filename, format="svg"):
        """Write the DOT text to ``filename`` and the picture to ``filename + '.' + format``.

        As ``graphviz.Digraph.render``; returns the picture's path. Raises RuntimeError when
        Graphviz is not installed (the DOT text is written first all the same).
        """
        filename = str(filename)
        with open(filename, "w", encoding="utf-8") as f:
            f.write(self.source)
        out = f"{filename}.{format}"
        data = self.pipe(format)
        with open(out, "wb") as f:
            f.write(data)
        return out

    def _repr_svg_(self):
        """SVG for Jupyter (rendered by Graphviz)."""
        return self.pipe("svg").decode("utf-8")


def has_graphviz():
    """True when a Graphviz renderer is available (the ``dot`` program on ``PATH``)."""
    return shutil.which("dot") is not None


def _run_dot(source, format):
    dot = shutil.which("dot")
    if dot is not None:
        proc = subprocess.run([dot, f"-T{format}"], input=source.encode("utf-8"),
                              capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"Graphviz's dot failed (exit {proc.returncode}): "
                               f"{proc.stderr.decode('utf-8', 'replace').strip()}")
        return proc.stdout
    try:
        import graphviz
    except ImportError:
        graphviz = None
    if graphviz is not None:
        try:
            return graphviz.Source(source).pipe(format=format)
        except Exception as exc:  # graphviz.ExecutableNotFound and friends
            raise RuntimeError(f"rendering the graph needs Graphviz: {exc}") from exc
    raise RuntimeError(
        "rendering the graph needs Graphviz's `dot` program, which was not found on PATH "
        "(install it: `apt-get install graphviz`, `brew install graphviz` or `conda install "
        "graphviz`). The graph itself is available as DOT text in `.source`.")


def _size_to_str(shape):
    return "(" + ", ".join(str(int(v)) for v in shape) + ")"


def make_dot(output, params=None, show_saved=False):
    """The autograd graph that produced ``output``, as a :class:`Digraph` (torchviz's drawing).

    Args:
        output: a Tensor with a ``grad_fn``, or a tuple of Tensors (several outputs).
        params: optional ``{name: tensor}`` (e.g. ``dict(model.named_parameters())``) used to
            label the leaves; unnamed leaves show only their shape.
        show_saved: also draw the tensors each node saved for backward (orange).

    Returns:
        A :class:`Digraph`; ``str(dot)`` is the DOT text, ``dot.render("graph", format="svg")``
        draws it with Graphviz, and Jupyter displays it directly.
    """
    if params is not None:
        if not all(isinstance(p, Tensor) for p in params.values()):
            raise TypeError("make_dot: params must map names to Tensors, e.g. "
                            "dict(model.named_parameters())")
        param_map = {id(v): k for k, v in params.items()}
    else:
        param_map = {}

    dot = Digraph(node_attr=_NODE_ATTR, graph_attr={"size": "12,12"})
    seen = set()

    def var_label(var, name=None):
        if not name:
            name = param_map.get(id(var), "")
        return f"{name}\n {_size_to_str(var.shape)}"

    def add_saved(fn):
        for i, entry in enumerate(getattr(fn, "_saved", None) or ()):
            t = entry[0] if isinstance(entry, tuple) else entry
            if not isinstance(t, Tensor):
                continue
            dot.edge(id(fn), id(t), dir="none")
            if id(t) not in seen:
                seen.add(id(t))
                dot.node(id(t), var_label(t, f"saved[{i}]"), fillcolor=_SAVED_COLOR)

    def add_nodes(root):
        stack = [root]
        while stack:  # iterative: deep graphs (ResNets) never hit the recursion limit
            fn = stack.pop()
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            dot.node(id(fn), fn.name() if hasattr(fn, "name") else type(fn).__name__)
            variable = getattr(fn, "variable", None)
            if variable is not None:  # AccumulateGrad: draw the leaf it accumulates into
                seen.add(id(variable))
                dot.node(id(variable), var_label(variable), fillcolor=_LEAF_COLOR)
                dot.edge(id(variable), id(fn))
            if show_saved:
                add_saved(fn)
            nexts = [u for u, _ in getattr(fn, "next_functions", ()) if u is not None]
            for u in nexts:
                dot.edge(id(u), id(fn))
            stack.extend(reversed(nexts))  # visit inputs left to right

    def add_base_tensor(var, color=_OUTPUT_COLOR):
        if id(var) in seen:
            return
        seen.add(id(var))
        dot.node(id(var), var_label(var), fillcolor=color)
        if var.grad_fn is not None:
            add_nodes(var.grad_fn)
            dot.edge(id(var.grad_fn), id(var))
        base = getattr(var, "_base", None)
        if base is not None:
            add_base_tensor(base, color=_BASE_COLOR)
            dot.edge(id(base), id(var), style="dotted")

    outputs = output if isinstance(output, (tuple, list)) else (output,)
    for out in outputs:
        if not isinstance(out, Tensor):
            raise TypeError(f"make_dot expects a Tensor or a tuple of Tensors, got "
                            f"{type(out).__name__}")
        add_base_tensor(out)
    _resize_graph(dot)
    return dot


def _resize_graph(dot, size_per_element=0.15, min_size=12):
    """Grow the drawing with the number of nodes and edges (as torchviz does)."""
    size = max(min_size, (len(dot.nodes) + len(dot.edges)) * size_per_element)
    dot.graph_attr["size"] = f"{size:g},{size:g}"
