"""make_dot: the autograd graph as DOT text (nodes, edges, colours), and rendering with Graphviz."""

import shutil

import pytest

import microtorch as torch
from microtorch import nn
from microtorch.utils.viz import Digraph, make_dot


def _graph(dot):
    """(labels by node id, set of (tail label, head label) edges, colours by label)."""
    labels = {name: attrs.get("label", name) for name, attrs in dot.nodes.items()}
    edges = {(labels[t], labels[h]) for t, h, attrs in dot.edges if "dir" not in attrs}
    colors = {labels[n]: attrs.get("fillcolor") for n, attrs in dot.nodes.items()}
    return labels, edges, colors


def _q_graph(**kwargs):
    a = torch.tensor([2., 3.], requires_grad=True)
    b = torch.tensor([6., 4.], requires_grad=True)
    Q = 3 * a**3 - b**2
    return make_dot(Q, params={"a": a, "b": b}, **kwargs), Q


def test_q_nodes_and_edges():
    dot, Q = _q_graph()
    labels, edges, colors = _graph(dot)
    assert sorted(labels.values()) == sorted([
        "\n (2)", "SubBackward0", "MulBackward0", "PowBackward0", "PowBackward0",
        "AccumulateGrad", "AccumulateGrad", "a\n (2)", "b\n (2)"])
    # edges follow the forward pass: leaf -> AccumulateGrad -> Pow -> ... -> output
    assert edges == {
        ("a\n (2)", "AccumulateGrad"), ("b\n (2)", "AccumulateGrad"),
        ("AccumulateGrad", "PowBackward0"),
        ("PowBackward0", "MulBackward0"), ("MulBackward0", "SubBackward0"),
        ("PowBackward0", "SubBackward0"), ("SubBackward0", "\n (2)")}
    assert len(dot.edges) == 8  # each leaf chain is separate: two AccumulateGrad->Pow edges
    assert colors["a\n (2)"] == colors["b\n (2)"] == "lightblue"
    assert colors["\n (2)"] == "darkolivegreen1"
    assert colors["SubBackward0"] is None  # op nodes keep Graphviz's default grey


def test_q_structure_follows_next_functions():
    """Walk from Q.grad_fn by next_functions and find each node's id in the DOT graph."""
    dot, Q = _q_graph()
    sub = Q.grad_fn
    mul, pow_b = (fn for fn, _ in sub.next_functions)
    pow_a = mul.next_functions[0][0]
    acc_a = pow_a.next_functions[0][0]
    ids = {(t, h) for t, h, _ in dot.edges}
    assert (str(id(mul)), str(id(sub))) in ids
    assert (str(id(pow_b)), str(id(sub))) in ids
    assert (str(id(pow_a)), str(id(mul))) in ids
    assert (str(id(acc_a)), str(id(pow_a))) in ids
    assert (str(id(acc_a.variable)), str(id(acc_a))) in ids
    assert (str(id(sub)), str(id(Q))) in ids
    assert dot.nodes[str(id(acc_a.variable))]["label"] == "a\n (2)"


def test_source_is_valid_dot_text():
    dot, _ = _q_graph()
    src = dot.source
    assert src.startswith("digraph {") and src.rstrip().endswith("}")
    assert str(dot) == src
    assert 'node [style="filled" shape="box"' in src
    assert '[label="MulBackward0"]' in src
    assert '[label="a\\n (2)" fillcolor="lightblue"]' in src  # newline escaped as \n
    assert src.count("->") == len(dot.edges)


def test_show_saved_adds_orange_undirected_edges():
    a = torch.tensor([1., 2.], requires_grad=True)
    b = torch.tensor([3., 4.], requires_grad=True)
    y = (a * b).sin()  # sin saves a * b, a tensor the graph does not otherwise show
    plain = make_dot(y)
    dot = make_dot(y, show_saved=True)
    saved = [attrs["label"] for attrs in dot.nodes.values() if attrs.get("fillcolor") == "orange"]
    assert saved == ["saved[0]\n (2)"]
    assert not [1 for attrs in plain.nodes.values() if attrs.get("fillcolor") == "orange"]
    assert not [1 for _, _, attrs in plain.edges if attrs]
    # a and b (saved by mul) keep their leaf colour: an already drawn tensor is only linked
    assert [attrs.get("fillcolor") for attrs in dot.nodes.values()].count("lightblue") == 2
    undirected = [(t, h) for t, h, attrs in dot.edges if attrs.get("dir") == "none"]
    assert undirected
    mul = y.grad_fn.next_functions[0][0]
    assert {(str(id(mul)), str(id(a))), (str(id(mul)), str(id(b)))} <= set(undirected)


def test_network_with_named_parameters():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    y = model(torch.randn(5, 4))
    dot = make_dot(y, params=dict(model.named_parameters()))
    labels, edges, colors = _graph(dot)
    leaves = sorted(label for label, color in colors.items() if color == "lightblue")
    assert leaves == ["0.bias\n (3)", "0.weight\n (3, 4)", "2.bias\n (2)", "2.weight\n (2, 3)"]
    assert list(labels.values()).count("AddmmBackward0") == 2
    assert list(labels.values()).count("AccumulateGrad") == 4
    assert ("ReluBackward0", "AddmmBackward0") in edges
    assert ("AddmmBackward0", "ReluBackward0") in edges
    assert ("AddmmBackward0", "\n (5, 2)") in edges
    assert colors["\n (5, 2)"] == "darkolivegreen1"
    for name in ("0.weight\n (3, 4)", "2.bias\n (2)"):
        assert (name, "AccumulateGrad") in edges


def test_tuple_of_outputs_and_bad_input():
    a = torch.ones(3, requires_grad=True)
    dot = make_dot((a * 2, a + 1), params={"a": a})
    labels = list(dot.labels())
    assert labels.count("a\n (3)") == 1 and labels.count("AccumulateGrad") == 1
    assert "MulBackward0" in labels and "AddBackward0" in labels
    with pytest.raises(TypeError, match="Tensor"):
        make_dot([1, 2])
    with pytest.raises(TypeError, match="named_parameters"):
        make_dot(a * 2, params={"a": 1.0})


def test_leaf_without_graph():
    a = torch.ones(2, 2)
    dot = make_dot(a)
    assert dot.labels() == ["\n (2, 2)"] and dot.edges == []


def test_digraph_basics():
    g = Digraph(node_attr={"shape": "box"})
    g.node("x", 'say "hi"', fillcolor="red")
    g.node("y")
    g.edge("x", "y", style="dotted")
    assert g.labels() == ['say "hi"', "y"]
    assert '"x" [label="say \\"hi\\"" fillcolor="red"]' in g.source
    assert '"x" -> "y" [style="dotted"]' in g.source
    assert repr(g) == "<Digraph with 2 nodes and 1 edges>"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_svg_and_png(tmp_path):
    dot, _ = _q_graph()
    svg = dot._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "SubBackward0" in svg
    out = dot.render(tmp_path / "q", format="svg")
    assert out == str(tmp_path / "q.svg")
    assert (tmp_path / "q").read_text() == dot.source
    assert "MulBackward0" in (tmp_path / "q.svg").read_text()
    png = dot.render(tmp_path / "q", format="png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_render_without_graphviz_raises_clearly(monkeypatch, tmp_path):
    import builtins

    from microtorch.utils import viz

    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    real_import = builtins.__import__

    def no_graphviz(name, *args, **kwargs):
        if name == "graphviz":
            raise ImportError("no graphviz")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    dot, _ = _q_graph()
    with pytest.raises(RuntimeError, match="dot"):
        dot._repr_svg_()
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        dot.render(tmp_path / "q", format="png")
    assert (tmp_path / "q").read_text() == dot.source  # the DOT text is still written
