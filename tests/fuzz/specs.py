"""The table of ops the fuzzer checks: ``SPECS[name] = Spec(cases, call)``.

``cases`` is a hypothesis strategy that draws one case, a dict of plain values::

    {"inputs": [tensor description, ...], "args": {keyword: value, ...}}

(tensor descriptions: see :mod:`tests.fuzz.inputs`), and ``call(lib, *tensors, **args)`` runs
the op with ``lib`` = ``torch`` or ``microtorch``: the same lambda runs on both libraries.

Left out on purpose: random ops (``rand*``, ``bernoulli``, ``randperm``, ``normal_``,
``uniform_``, dropout in training mode) draw different numbers in the two libraries, so only
dropout in evaluation mode (and ``p`` validation) is compared; ``empty`` and ``empty_like``
are compared on shape and dtype only (their values are uninitialised).
"""

from typing import Callable, NamedTuple

import numpy as np
from hypothesis import strategies as st

from .inputs import DTYPES, FLOATS, dims, index_tensors, ints, shapes, sizes, tensors


class Spec(NamedTuple):
    """How to draw a case (``cases``) and how to run it in a library (``call``)."""

    cases: st.SearchStrategy
    call: Callable


SPECS = {}


def add(name, call, inputs, **args):
    """Register op ``name``: a list of tensor strategies and a strategy per keyword argument."""
    SPECS[name] = Spec(st.fixed_dictionaries({"inputs": st.tuples(*inputs).map(list),
                                              "args": st.fixed_dictionaries(args)}), call)


def add_cases(name, call, cases):
    """Register op ``name`` with a strategy that draws whole cases (arguments that depend on
    the shapes of the inputs)."""
    SPECS[name] = Spec(cases, call)


def case(inputs, **args):
    return {"inputs": list(inputs), "args": args}


def F(lib):
    return lib.nn.functional


# ------------------------------------------------------------------ elementwise, unary

for _name in ("abs", "neg", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid",
              "relu", "sign", "square", "isnan", "isfinite"):
    add(_name, lambda lib, x, _n=_name: getattr(lib, _n)(x), [tensors()])

for _name in ("reciprocal", "clone", "contiguous", "float", "double", "long", "int", "bool",
              "all", "any", "item", "tolist", "numel", "t", "detach"):
    add(f"Tensor.{_name}", lambda lib, x, _n=_name: getattr(x, _n)(), [tensors()])

add("Tensor.__invert__", lambda lib, x: ~x, [tensors()])
add("Tensor.__pos__", lambda lib, x: +x, [tensors()])
add("Tensor.__len__", lambda lib, x: len(x), [tensors()])
add("Tensor.__bool__", lambda lib, x: bool(x), [tensors()])
add("Tensor.__float__", lambda lib, x: float(x), [tensors()])
add("Tensor.__int__", lambda lib, x: int(x), [tensors()])
add("Tensor.T", lambda lib, x: x.T, [tensors()])
add("Tensor.mT", lambda lib, x: x.mT, [tensors()])
add("Tensor.to", lambda lib, x, dtype: x.to(getattr(lib, dtype)), [tensors()],
    dtype=st.sampled_from(DTYPES))
add("Tensor.size(dim)", lambda lib, x, dim: x.size(dim), [tensors()], dim=st.integers(-5, 4))
add("Tensor.new_zeros", lambda lib, x, size: x.new_zeros(size), [tensors()],
    size=st.lists(st.integers(-1, 3), max_size=3).map(tuple))
add("Tensor.new_full", lambda lib, x, size, value: x.new_full(size, value), [tensors()],
    size=st.lists(st.integers(-1, 3), max_size=3).map(tuple), value=st.integers(-3, 3))
add("Tensor.new_tensor", lambda lib, x, data: x.new_tensor(data), [tensors()],
    data=st.lists(st.floats(-3, 3), max_size=3))

for _name in ("relu", "sigmoid", "tanh", "silu"):
    add(f"F.{_name}", lambda lib, x, _n=_name: getattr(F(lib), _n)(x), [tensors()])
add("F.gelu", lambda lib, x, approximate: F(lib).gelu(x, approximate=approximate), [tensors()],
    approximate=st.sampled_from(["none", "tanh", "bad"]))
add("F.leaky_relu", lambda lib, x, slope: F(lib).leaky_relu(x, slope), [tensors()],
    slope=st.sampled_from([0.01, 0.0, -1.0, 2.0]))

_bounds = st.one_of(st.none(), st.integers(-2, 2), st.floats(-2, 2))
add("clamp", lambda lib, x, lo, hi: lib.clamp(x, lo, hi), [tensors()], lo=_bounds, hi=_bounds)
add("Tensor.clamp", lambda lib, x, lo, hi: x.clamp(min=lo, max=hi), [tensors()], lo=_bounds,
    hi=_bounds)

# ------------------------------------------------------------------ elementwise, binary


@st.composite
def broadcast_pair(draw, dtypes=DTYPES):
    """Two tensors whose shapes broadcast (or, one time in five, do not)."""
    a = list(draw(shapes(0, 3)))
    b = a[draw(st.integers(0, len(a))):]
    b = [1 if draw(st.booleans()) else n for n in b]
    if b and draw(st.integers(0, 4)) == 0:
        b[draw(st.integers(0, len(b) - 1))] = draw(sizes())
    if draw(st.booleans()):
        a, b = b, a
    return [draw(tensors(tuple(a), dtypes)), draw(tensors(tuple(b), dtypes))]


_scalars = st.one_of(st.integers(-3, 3), st.floats(-3, 3), st.booleans())

_BINARY = {
    "add": lambda lib, x, y: lib.add(x, y),
    "sub": lambda lib, x, y: lib.sub(x, y),
    "mul": lambda lib, x, y: lib.mul(x, y),
    "div": lambda lib, x, y: lib.div(x, y),
    "pow": lambda lib, x, y: lib.pow(x, y),
    "maximum": lambda lib, x, y: lib.maximum(x, y),
    "minimum": lambda lib, x, y: lib.minimum(x, y),
    "hypot": lambda lib, x, y: lib.hypot(x, y),
    "eq": lambda lib, x, y: lib.eq(x, y),
    "ne": lambda lib, x, y: lib.ne(x, y),
    "lt": lambda lib, x, y: lib.lt(x, y),
    "le": lambda lib, x, y: lib.le(x, y),
    "gt": lambda lib, x, y: lib.gt(x, y),
    "ge": lambda lib, x, y: lib.ge(x, y),
    "Tensor.__and__": lambda lib, x, y: x & y,
    "Tensor.__or__": lambda lib, x, y: x | y,
    "Tensor.__xor__": lambda lib, x, y: x ^ y,
    "Tensor.__matmul__": lambda lib, x, y: x @ y,
    "equal": lambda lib, x, y: lib.equal(x, y),
    "allclose": lambda lib, x, y: lib.allclose(x, y),
    "Tensor.expand_as": lambda lib, x, y: x.expand_as(y),
    "Tensor.view_as": lambda lib, x, y: x.view_as(y),
    "Tensor.reshape_as": lambda lib, x, y: x.reshape_as(y),
}
for _name, _call in _BINARY.items():
    add_cases(_name, _call, broadcast_pair().map(case))

add_cases("add(alpha)", lambda lib, x, y, alpha: lib.add(x, y, alpha=alpha),
          st.builds(case, broadcast_pair(), alpha=_scalars))
add_cases("sub(alpha)", lambda lib, x, y, alpha: x.sub(y, alpha=alpha),
          st.builds(case, broadcast_pair(), alpha=_scalars))

_SCALAR = {
    "x + s": lambda lib, x, s: x + s,
    "s - x": lambda lib, x, s: s - x,
    "x * s": lambda lib, x, s: x * s,
    "x / s": lambda lib, x, s: x / s,
    "s / x": lambda lib, x, s: s / x,
    "x ** s": lambda lib, x, s: x ** s,
    "s ** x": lambda lib, x, s: s ** x,
    "x == s": lambda lib, x, s: x == s,
    "x < s": lambda lib, x, s: x < s,
    "x >= s": lambda lib, x, s: x >= s,
}
for _name, _call in _SCALAR.items():
    add(_name, _call, [tensors()], s=_scalars)

add_cases("where", lambda lib, c, x, y: lib.where(c.bool(), x, y),
          st.tuples(broadcast_pair(), tensors(shapes(0, 2))).map(
              lambda p: case([p[1]] + p[0])))
add("where(scalar)", lambda lib, x, s, first: lib.where(x > 0, s, x) if first
    else lib.where(x > 0, x, s), [tensors()], s=_scalars, first=st.booleans())
for _name in ("tril", "triu"):
    add(_name, lambda lib, x, k, _n=_name: getattr(lib, _n)(x, k), [tensors()],
        k=st.integers(-4, 4))
    add(f"Tensor.{_name}_", lambda lib, x, k, _n=_name: getattr(x.clone(), _n + "_")(k),
        [tensors()], k=st.integers(-4, 4))
add_cases("masked_fill", lambda lib, x, m, value: x.masked_fill(m.bool(), value),
          broadcast_pair().map(case).map(lambda c: {**c, "args": {"value": -1.5}}))
add_cases("masked_fill(mask dtype)", lambda lib, x, m, value: x.masked_fill(m, value),
          broadcast_pair().map(case).map(lambda c: {**c, "args": {"value": 2}}))

# ------------------------------------------------------------------ in place

_INPLACE_BINARY = {
    "Tensor.add_": lambda x, y: x.add_(y),
    "Tensor.sub_": lambda x, y: x.sub_(y),
    "Tensor.mul_": lambda x, y: x.mul_(y),
    "Tensor.div_": lambda x, y: x.div_(y),
    "Tensor.pow_": lambda x, y: x.pow_(y),
    "Tensor.copy_": lambda x, y: x.copy_(y),
    "Tensor.__iadd__": lambda x, y: x.__iadd__(y),
    "Tensor.lerp_": lambda x, y: x.lerp_(y, 0.3),
    "Tensor.addcmul_": lambda x, y: x.addcmul_(y, y, value=0.5),
    "Tensor.addcdiv_": lambda x, y: x.addcdiv_(y, y + 5, value=0.5),
}
for _name, _call in _INPLACE_BINARY.items():
    add_cases(_name, lambda lib, x, y, clone, _c=_call: _c(x.clone() if clone else x, y),
              st.builds(case, broadcast_pair(), clone=st.booleans()))

_INPLACE_UNARY = {
    "Tensor.sqrt_": lambda x: x.sqrt_(),
    "Tensor.exp_": lambda x: x.exp_(),
    "Tensor.neg_": lambda x: x.neg_(),
    "Tensor.relu_": lambda x: x.relu_(),
    "Tensor.sigmoid_": lambda x: x.sigmoid_(),
    "Tensor.tanh_": lambda x: x.tanh_(),
    "Tensor.clamp_": lambda x: x.clamp_(-1, 1),
    "Tensor.zero_": lambda x: x.zero_(),
    "Tensor.fill_": lambda x: x.fill_(2),
}
for _name, _call in _INPLACE_UNARY.items():
    add(_name, lambda lib, x, clone, _c=_call: _c(x.clone() if clone else x), [tensors()],
        clone=st.booleans())
add("F.relu(inplace)", lambda lib, x, clone: F(lib).relu(x.clone() if clone else x, inplace=True),
    [tensors()], clone=st.booleans())
add("F.leaky_relu(inplace)",
    lambda lib, x, clone: F(lib).leaky_relu(x.clone() if clone else x, 0.1, inplace=True),
    [tensors()], clone=st.booleans())

# ------------------------------------------------------------------ reductions


@st.composite
def with_dim(draw, dtypes=DTYPES, tuple_dims=True, none=True, min_dims=0):
    """A tensor and a dim argument for it: None, an int, or a tuple of ints."""
    x = draw(tensors(shapes(min_dims, 4), dtypes))
    n = len(x["shape"])
    choices = [dims(n)]
    if none:
        choices.append(st.none())
    if tuple_dims:
        choices.append(st.lists(dims(n, 1), max_size=3).map(tuple))
    return x, draw(st.one_of(*choices))


def reduction(name, call, dtypes=DTYPES, tuple_dims=True, none=True, **args):
    add_cases(name, call, with_dim(dtypes, tuple_dims, none).flatmap(
        lambda xd: st.fixed_dictionaries({k: v for k, v in args.items()}).map(
            lambda a: case([xd[0]], dim=xd[1], **a))))


_keep = st.booleans()
reduction("sum", lambda lib, x, dim, keepdim: x.sum(dim, keepdim) if dim is not None else x.sum(),
          keepdim=_keep)
reduction("sum(dtype)", lambda lib, x, dim, dtype: lib.sum(x, dim, dtype=getattr(lib, dtype)),
          dtype=st.sampled_from(DTYPES))
reduction("mean", lambda lib, x, dim, keepdim: x.mean(dim, keepdim) if dim is not None
          else x.mean(), keepdim=_keep)
reduction("prod", lambda lib, x, dim, keepdim: x.prod(dim, keepdim) if dim is not None
          else x.prod(), tuple_dims=False, keepdim=_keep)
for _name in ("max", "min", "argmax", "argmin"):
    reduction(_name, lambda lib, x, dim, keepdim, _n=_name: getattr(lib, _n)(x) if dim is None
              else getattr(lib, _n)(x, dim, keepdim), tuple_dims=False, keepdim=_keep)
for _name in ("amax", "amin"):
    reduction(_name, lambda lib, x, dim, keepdim, _n=_name: getattr(lib, _n)(x, dim, keepdim),
              none=False, keepdim=_keep)
for _name in ("var", "std"):
    reduction(_name, lambda lib, x, dim, keepdim, correction, _n=_name:
              getattr(x, _n)(dim, keepdim=keepdim, correction=correction), keepdim=_keep,
              correction=st.sampled_from([0, 1, 2, -1]))
    reduction(f"{_name}(unbiased)", lambda lib, x, dim, unbiased, _n=_name:
              getattr(lib, _n)(x, dim, unbiased), unbiased=st.booleans())
reduction("logsumexp", lambda lib, x, dim, keepdim: lib.logsumexp(x, dim, keepdim), none=False,
          keepdim=_keep)
for _name in ("cumsum", "cumprod"):
    reduction(_name, lambda lib, x, dim, _n=_name: getattr(lib, _n)(x, dim), tuple_dims=False,
              none=False)
    reduction(f"{_name}(dtype)", lambda lib, x, dim, dtype, _n=_name:
              getattr(x, _n)(dim, dtype=getattr(lib, dtype)), tuple_dims=False, none=False,
              dtype=st.sampled_from(DTYPES))
for _name in ("softmax", "log_softmax"):
    reduction(f"F.{_name}", lambda lib, x, dim, _n=_name: getattr(F(lib), _n)(x, dim),
              tuple_dims=False)
    reduction(f"Tensor.{_name}", lambda lib, x, dim, _n=_name: getattr(x, _n)(dim),
              tuple_dims=False, none=False)
    reduction(f"F.{_name}(dtype)", lambda lib, x, dim, dtype, _n=_name:
              getattr(F(lib), _n)(x, dim, dtype=getattr(lib, dtype)), tuple_dims=False,
              none=False, dtype=st.sampled_from(DTYPES))

reduction("sort", lambda lib, x, dim, descending: lib.sort(x, dim=dim, descending=descending,
                                                           stable=True),
          tuple_dims=False, none=False, descending=st.booleans())
reduction("argsort", lambda lib, x, dim, descending: lib.argsort(x, dim=dim,
                                                                 descending=descending,
                                                                 stable=True),
          tuple_dims=False, none=False, descending=st.booleans())
# topk: the values only (PyTorch orders the indices of ties as its selection left them)
reduction("topk", lambda lib, x, dim, k, largest: lib.topk(x, k, dim, largest).values,
          tuple_dims=False, none=False, k=ints((0, 3)), largest=st.booleans())

# ------------------------------------------------------------------ shapes


def with_ints(draw_args):
    """A case of one tensor and integer arguments drawn from its number of dims."""
    @st.composite
    def cases(draw):
        x = draw(tensors())
        return case([x], **draw(draw_args(len(x["shape"]), x["shape"])))
    return cases()


def _size_list(n, shape, allow_minus_one=True, big=2**31):
    """A size argument for a tensor of ``shape``; ``big`` is the too-large size (kept small
    where a success would allocate it, as ``repeat`` does)."""
    size = st.one_of(st.integers(-1 if allow_minus_one else -2, 4), st.sampled_from([7, big]))
    return st.one_of(st.just(tuple(shape)), st.just((-1,)), st.lists(size, max_size=4).map(tuple),
                     st.permutations(list(shape)).map(tuple))


add_cases("reshape", lambda lib, x, shape: x.reshape(shape),
          with_ints(lambda n, s: st.fixed_dictionaries({"shape": _size_list(n, s)})))
add_cases("view", lambda lib, x, shape: x.view(shape),
          with_ints(lambda n, s: st.fixed_dictionaries({"shape": _size_list(n, s)})))
add_cases("expand", lambda lib, x, shape: x.expand(shape),
          with_ints(lambda n, s: st.fixed_dictionaries({"shape": _size_list(n, s)})))
add_cases("repeat", lambda lib, x, shape: x.repeat(shape),
          with_ints(lambda n, s: st.fixed_dictionaries({"shape": _size_list(n, s, False, 100)})))
add_cases("flatten", lambda lib, x, start, end: lib.flatten(x, start, end),
          with_ints(lambda n, s: st.fixed_dictionaries({"start": dims(n), "end": dims(n)})))
add_cases("permute", lambda lib, x, order: x.permute(order),
          with_ints(lambda n, s: st.fixed_dictionaries({"order": st.one_of(
              st.permutations(list(range(n))).map(tuple),
              st.lists(dims(n, 1), max_size=4).map(tuple))})))
add_cases("transpose", lambda lib, x, d0, d1: lib.transpose(x, d0, d1),
          with_ints(lambda n, s: st.fixed_dictionaries({"d0": dims(n), "d1": dims(n)})))
add_cases("squeeze", lambda lib, x, dim: x.squeeze() if dim is None else x.squeeze(dim),
          with_ints(lambda n, s: st.fixed_dictionaries({"dim": st.one_of(st.none(), dims(n))})))
add_cases("unsqueeze", lambda lib, x, dim: lib.unsqueeze(x, dim),
          with_ints(lambda n, s: st.fixed_dictionaries({"dim": dims(n + 1)})))
add_cases("split", lambda lib, x, size, dim: x.split(size, dim),
          with_ints(lambda n, s: st.fixed_dictionaries({
              "size": st.one_of(ints(), st.lists(st.integers(-1, 3), max_size=3)),
              "dim": dims(n)})))
add_cases("chunk", lambda lib, x, chunks, dim: x.chunk(chunks, dim),
          with_ints(lambda n, s: st.fixed_dictionaries({"chunks": ints(), "dim": dims(n)})))


@st.composite
def tensor_lists(draw):
    """1-3 tensors of the same shape but for one dim (sometimes differing elsewhere too)."""
    shape = list(draw(shapes(0, 3)))
    n = draw(st.integers(1, 3))
    out = []
    for _ in range(n):
        s = list(shape)
        if s and draw(st.booleans()):
            s[draw(st.integers(0, len(s) - 1))] = draw(sizes())
        out.append(draw(tensors(tuple(s))))
    return case(out, dim=draw(dims(len(shape) + 1)))


add_cases("cat", lambda lib, *xs, dim: lib.cat(xs, dim), tensor_lists())
add_cases("stack", lambda lib, *xs, dim: lib.stack(xs, dim), tensor_lists())
add_cases("concat", lambda lib, *xs, dim: lib.concat(list(xs), dim=dim), tensor_lists())


@st.composite
def gather_cases(draw, scatter=False):
    x = draw(tensors(shapes(0, 3)))
    n = len(x["shape"])
    dim = draw(dims(n))
    index_shape = tuple(draw(st.integers(0, k)) for k in x["shape"])
    if draw(st.integers(0, 4)) == 0:
        index_shape = draw(shapes(0, 3))
    high = x["shape"][dim] if -n <= dim < n else 3
    inputs = [x, draw(index_tensors(index_shape, high, draw(st.sampled_from(["int64", "int32"]))))]
    if scatter:
        inputs.append(draw(tensors(index_shape)))
    return case(inputs, dim=dim)


add_cases("gather", lambda lib, x, index, dim: lib.gather(x, dim, index), gather_cases())
add_cases("scatter_add", lambda lib, x, index, src, dim: x.scatter_add(dim, index, src),
          gather_cases(scatter=True))
add("F.one_hot", lambda lib, x, n: F(lib).one_hot(x, n),
    [index_tensors(shapes(0, 2), 4, "int64") | tensors(shapes(0, 2))],
    n=st.integers(-2, 6))

# ------------------------------------------------------------------ indexing


def decode_index(lib, items):
    """A tuple index from its plain description (so that a case stays a literal)."""
    out = []
    for kind, *v in items:
        if kind == "slice":
            out.append(slice(*v))
        elif kind == "tensor":
            out.append(lib.tensor(v[0], dtype=lib.int64 if not v[1] else lib.bool))
        elif kind == "list":
            out.append(list(v[0]))
        else:
            out.append({"int": lambda: v[0], "none": lambda: None,
                        "ellipsis": lambda: Ellipsis}[kind]())
    return tuple(out)


_bound = st.one_of(st.none(), st.integers(-6, 6))
_index_item = st.one_of(
    st.tuples(st.just("int"), st.integers(-5, 5)),
    st.tuples(st.just("slice"), _bound, _bound, st.one_of(st.none(), st.integers(-1, 3))),
    st.tuples(st.just("none")),
    st.tuples(st.just("ellipsis")),
    st.tuples(st.just("tensor"), st.lists(st.integers(-4, 4), max_size=3), st.just(False)),
    st.tuples(st.just("tensor"), st.lists(st.booleans(), max_size=4), st.just(True)),
    st.tuples(st.just("list"), st.lists(st.integers(-4, 4), min_size=1, max_size=3)),
)
_index = st.lists(_index_item, max_size=4).map(tuple)

add("Tensor.__getitem__", lambda lib, x, index: x[decode_index(lib, index)], [tensors()],
    index=_index)


def _setitem(lib, x, value, index, clone, scalar):
    x = x.clone() if clone else x
    x[decode_index(lib, index)] = value.item() if scalar and value.numel() == 1 else value
    return x


add("Tensor.__setitem__", _setitem, [tensors(), tensors(shapes(0, 2))], index=_index,
    clone=st.booleans(), scalar=st.booleans())

# ------------------------------------------------------------------ linear algebra


@st.composite
def matmul_pair(draw, a_dims=(1, 4), b_dims=(1, 4), dtypes=DTYPES):
    """Two tensors whose shapes multiply (inner size sometimes 0, sometimes mismatched)."""
    k = draw(sizes())
    a = list(draw(shapes(*a_dims))) or [k]
    b = list(draw(shapes(*b_dims))) or [k]
    a[-1] = k
    b[-2 if len(b) >= 2 else -1] = k if draw(st.integers(0, 5)) else draw(sizes())
    if len(a) > 2 and len(b) > 2 and draw(st.booleans()):  # batch dims that broadcast
        b[:-2] = [1 if draw(st.booleans()) else n for n in a[:-2]][-len(b[:-2]):]
    dtype = draw(st.sampled_from(dtypes))
    other = dtype if draw(st.integers(0, 5)) else draw(st.sampled_from(dtypes))
    return [draw(tensors(tuple(a), (dtype,))), draw(tensors(tuple(b), (other,)))]


_MATMUL_DTYPES = FLOATS + ("int64", "int32")
add_cases("matmul", lambda lib, x, y: lib.matmul(x, y),
          matmul_pair(dtypes=_MATMUL_DTYPES).map(case))
add_cases("mm", lambda lib, x, y: lib.mm(x, y),
          matmul_pair((1, 3), (1, 3), _MATMUL_DTYPES).map(case))
add_cases("bmm", lambda lib, x, y: lib.bmm(x, y),
          matmul_pair((2, 4), (2, 4), _MATMUL_DTYPES).map(case))
add_cases("dot", lambda lib, x, y: lib.dot(x, y),
          matmul_pair((0, 2), (0, 2), _MATMUL_DTYPES).map(case))


@st.composite
def linear_cases(draw):
    fan_in, fan_out = draw(sizes()), draw(sizes())
    x_shape = draw(shapes(0, 3)) + (fan_in,)
    if draw(st.integers(0, 5)) == 0:
        x_shape = draw(shapes(0, 3))
    dtype = draw(st.sampled_from(FLOATS + ("int64",)))
    inputs = [draw(tensors(x_shape, (dtype,))), draw(tensors((fan_out, fan_in), (dtype,)))]
    if draw(st.booleans()):
        inputs.append(draw(tensors((fan_out,) if draw(st.integers(0, 5)) else (fan_out + 1,),
                                   (dtype,))))
    return case(inputs)


add_cases("F.linear", lambda lib, *xs: F(lib).linear(*xs), linear_cases())

# ------------------------------------------------------------------ convolution and pooling

_pair = st.one_of(ints(), st.tuples(ints(), ints()))


@st.composite
def conv_cases(draw):
    n, c, h, w = draw(sizes(2)), draw(st.integers(0, 4)), draw(sizes(6)), draw(sizes(6))
    groups = draw(st.one_of(st.just(1), ints()))
    out_c = draw(st.integers(0, 4))
    cg = c // groups if isinstance(groups, int) and groups > 0 and draw(st.integers(0, 5)) else c
    kh, kw = draw(sizes(3)), draw(sizes(3))
    dtype = draw(st.sampled_from(DTYPES))
    x_shape = (n, c, h, w) if draw(st.integers(0, 4)) else draw(shapes(2, 5, 4))
    inputs = [draw(tensors(x_shape, (dtype,))), draw(tensors((out_c, cg, kh, kw), (dtype,)))]
    if draw(st.booleans()):
        inputs.append(draw(tensors((out_c,), (dtype,))))
    padding = draw(st.one_of(_pair, st.sampled_from(["same", "valid", "bad"])))
    return case(inputs, stride=draw(_pair), padding=padding, dilation=draw(_pair), groups=groups)


def _conv(lib, x, w, b=None, **args):
    return F(lib).conv2d(x, w, b, **args)


add_cases("F.conv2d", _conv, conv_cases())

_pool_input = tensors(st.one_of(st.tuples(sizes(2), sizes(3), sizes(6), sizes(6)),
                                st.tuples(sizes(3), sizes(6), sizes(6)), shapes(0, 5, 4)))
add("F.max_pool2d", lambda lib, x, **a: F(lib).max_pool2d(x, **a), [_pool_input],
    kernel_size=_pair, stride=st.one_of(st.none(), _pair), padding=_pair,
    dilation=_pair, ceil_mode=st.booleans(), return_indices=st.booleans())
add("F.avg_pool2d", lambda lib, x, **a: F(lib).avg_pool2d(x, **a), [_pool_input],
    kernel_size=_pair, stride=st.one_of(st.none(), _pair), padding=_pair,
    ceil_mode=st.booleans(), count_include_pad=st.booleans(),
    divisor_override=st.one_of(st.none(), ints()))
add("F.adaptive_avg_pool2d", lambda lib, x, size: F(lib).adaptive_avg_pool2d(x, size),
    [_pool_input], size=st.one_of(ints(), st.tuples(st.one_of(st.none(), ints()), ints())))

_pad_list = st.lists(st.one_of(st.integers(-3, 3), st.just(5)), max_size=7).map(tuple)
add("F.pad", lambda lib, x, pad, value: F(lib).pad(x, pad, value=value), [tensors()],
    pad=_pad_list, value=st.sampled_from([0, 1.5, -2]))

# ------------------------------------------------------------------ normalisation, dropout


@st.composite
def batch_norm_cases(draw):
    x = draw(tensors(shapes(1, 4), FLOATS + ("int64",)))
    c = x["shape"][1] if len(x["shape"]) > 1 else 1
    vec = (c,) if draw(st.integers(0, 5)) else (c + 1,)
    running = draw(st.booleans())
    inputs = [x]
    inputs += [draw(tensors(vec, (x["dtype"],), grad=False, special=False)),
               draw(tensors(vec, (x["dtype"],), low=0.5, high=2, grad=False, special=False))]
    inputs += [draw(tensors(vec, (x["dtype"],), special=False)),
               draw(tensors(vec, (x["dtype"],), special=False))]
    return case(inputs, training=draw(st.booleans()), running=running,
                affine=draw(st.booleans()), eps=draw(st.sampled_from([1e-5, 0.1])))


def _batch_norm(lib, x, mean, var, weight, bias, training, running, affine, eps):
    mean, var = (mean.clone(), var.clone()) if running else (None, None)
    weight, bias = (weight, bias) if affine else (None, None)
    out = F(lib).batch_norm(x, mean, var, weight, bias, training=training, eps=eps)
    return (out, mean, var) if running else out


add_cases("F.batch_norm", _batch_norm, batch_norm_cases())


@st.composite
def layer_norm_cases(draw, bias=True):
    x = draw(tensors(shapes(1, 4), FLOATS + ("int64",)))
    k = draw(st.integers(1, len(x["shape"])))
    shape = tuple(x["shape"][-k:]) if draw(st.integers(0, 5)) else draw(shapes(1, 2))
    params = [draw(tensors(shape, (x["dtype"],), special=False)) for _ in range(1 + bias)]
    return case([x] + params, shape=shape, affine=draw(st.booleans()),
                eps=draw(st.sampled_from([1e-5, 0.1, None] if not bias else [1e-5, 0.1])))


add_cases("F.layer_norm", lambda lib, x, w, b, shape, affine, eps: F(lib).layer_norm(
    x, shape, w if affine else None, b if affine else None, eps), layer_norm_cases())
add_cases("F.rms_norm", lambda lib, x, w, shape, affine, eps: F(lib).rms_norm(
    x, shape, w if affine else None, eps), layer_norm_cases(bias=False))


@st.composite
def embedding_cases(draw):
    weight = draw(tensors(st.tuples(sizes(), sizes()) | shapes(1, 3), FLOATS, special=False))
    n = weight["shape"][0]
    index = draw(index_tensors(draw(shapes(0, 3)), n + 1, draw(st.sampled_from(["int64",
                                                                                 "int32"]))))
    return case([index, weight], padding_idx=draw(st.one_of(st.none(), st.integers(-n - 1, n))))


add_cases("F.embedding", lambda lib, index, weight, padding_idx: F(lib).embedding(
    index, weight, padding_idx), embedding_cases())
add("F.dropout(eval)", lambda lib, x, p: F(lib).dropout(x, p, training=False), [tensors()],
    p=st.sampled_from([0.0, 0.5, 1.0, -0.1, 1.5]))
add("F.dropout(p=0)", lambda lib, x: F(lib).dropout(x, 0.0, training=True), [tensors()])

@st.composite
def attention_cases(draw):
    batch = draw(shapes(0, 2, 3))
    L, S, E, Ev = (draw(st.integers(0, 4)) for _ in range(4))
    Ek, Sv = draw(st.sampled_from([E, E, E, E + 1])), draw(st.sampled_from([S, S, S, S + 1]))
    dtype = draw(st.sampled_from(FLOATS))
    qkv = [draw(tensors(tuple(b) + s, (dtype,), special=False))
           for b, s in ((batch, (L, E)), (batch[1:], (S, Ek)), (batch, (Sv, Ev)))]
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask = draw(tensors((L, S), ("bool",) if kind == "bool" else (dtype,), special=False))
    return case(qkv + [mask], kind=kind, scale=draw(st.sampled_from([None, 0.5])))


add_cases("F.scaled_dot_product_attention", lambda lib, q, k, v, m, kind, scale: F(
    lib).scaled_dot_product_attention(q, k, v, attn_mask=m if kind in ("bool", "float") else
                                      None, is_causal=kind == "causal", scale=scale),
    attention_cases())

# ------------------------------------------------------------------ losses

_reductions = st.sampled_from(["mean", "sum", "none", "bad"])


def _loss_pair(dtypes=FLOATS, low=-3, high=3):
    return broadcast_pair(dtypes).map(lambda p: [p[0], {**p[1], "low": low, "high": high}])


for _name in ("mse_loss", "l1_loss", "smooth_l1_loss"):
    add_cases(f"F.{_name}", lambda lib, x, y, reduction, _n=_name:
              getattr(F(lib), _n)(x, y, reduction=reduction),
              st.builds(case, _loss_pair(), reduction=_reductions))
add_cases("F.binary_cross_entropy",
          lambda lib, x, y, reduction: F(lib).binary_cross_entropy(x, y, reduction=reduction),
          st.builds(case, broadcast_pair(FLOATS).map(
              lambda p: [{**t, "low": 0, "high": 1, "special": False} for t in p]),
              reduction=_reductions))
add_cases("F.binary_cross_entropy_with_logits",
          lambda lib, x, y, reduction: F(lib).binary_cross_entropy_with_logits(
              x, y, reduction=reduction),
          st.builds(case, _loss_pair(FLOATS, 0, 1), reduction=_reductions))


@st.composite
def classification_cases(draw, probabilities=False):
    """(N, C) or (N, C, d) scores and class-index targets (sometimes out of range)."""
    n, c = draw(sizes()), draw(sizes())
    extra = draw(st.lists(sizes(3), max_size=1))
    x_shape = (n, c, *extra) if draw(st.integers(0, 6)) else draw(shapes(0, 3))
    t_shape = (n, *extra) if draw(st.integers(0, 6)) else draw(shapes(0, 2))
    inputs = [draw(tensors(x_shape, FLOATS + ("int64",)))]
    if probabilities:
        inputs.append(draw(tensors(x_shape, FLOATS, low=0, high=1)))
    else:
        inputs.append(draw(index_tensors(t_shape, c, draw(st.sampled_from(["int64", "int32",
                                                                           "float32"])))))
    if draw(st.booleans()):
        inputs.append(draw(tensors((c,), FLOATS, low=0.1, high=2, grad=False, special=False)))
    return case(inputs, reduction=draw(_reductions), ignore_index=draw(st.sampled_from(
        [-100, 0, 1])))


def _nll(lib, x, target, weight=None, **args):
    return F(lib).nll_loss(x, target, weight, **args)


def _cross_entropy(lib, x, target, weight=None, **args):
    return F(lib).cross_entropy(x, target, weight, **args)


add_cases("F.nll_loss", _nll, classification_cases())
add_cases("F.cross_entropy", _cross_entropy, classification_cases())
add_cases("F.cross_entropy(probabilities)", _cross_entropy, classification_cases(True))

# ------------------------------------------------------------------ creation


def _no_values(t):
    return (tuple(t.shape), str(t.dtype))


_sizes = st.lists(st.one_of(st.integers(-2, 4), st.sampled_from([2**62, 2**63 - 1, 2**63])),
                  max_size=3).map(tuple)
_dtype_names = st.one_of(st.none(), st.sampled_from(DTYPES))


def _dt(lib, name):
    return None if name is None else getattr(lib, name)


for _name in ("zeros", "ones"):
    add(_name, lambda lib, size, dtype, _n=_name: getattr(lib, _n)(size, dtype=_dt(lib, dtype)),
        [], size=_sizes, dtype=_dtype_names)
add("empty", lambda lib, size, dtype: _no_values(lib.empty(size, dtype=_dt(lib, dtype))), [],
    size=_sizes, dtype=_dtype_names)
add("full", lambda lib, size, value, dtype: lib.full(size, value, dtype=_dt(lib, dtype)), [],
    size=_sizes, value=_scalars, dtype=_dtype_names)
_numbers = st.one_of(st.integers(-5, 5), st.floats(-5, 5), st.sampled_from([0.5, float("inf"),
                                                                            float("nan")]))
add("arange", lambda lib, start, end, step, dtype: lib.arange(start, end, step,
                                                              dtype=_dt(lib, dtype)), [],
    start=_numbers, end=_numbers, step=st.one_of(_numbers, st.just(0)), dtype=_dtype_names)
add("linspace", lambda lib, start, end, steps, dtype: lib.linspace(start, end, steps,
                                                                   dtype=_dt(lib, dtype)), [],
    start=_numbers, end=_numbers, steps=st.integers(-2, 6), dtype=_dtype_names)
add("logspace", lambda lib, start, end, steps: lib.logspace(start, end, steps), [],
    start=st.floats(-3, 3), end=st.floats(-3, 3), steps=st.integers(-2, 6))
add("eye", lambda lib, n, m, dtype: lib.eye(n, *([] if m is None else [m]),
                                            dtype=_dt(lib, dtype)), [],
    n=st.integers(-2, 5), m=st.one_of(st.none(), st.integers(-2, 5)), dtype=_dtype_names)
for _name in ("zeros_like", "ones_like"):
    add(_name, lambda lib, x, dtype, _n=_name: getattr(lib, _n)(x, dtype=_dt(lib, dtype)),
        [tensors()], dtype=_dtype_names)
add("full_like", lambda lib, x, value: lib.full_like(x, value), [tensors()], value=_scalars)
add("empty_like", lambda lib, x: _no_values(lib.empty_like(x)), [tensors()])
add("tensor", lambda lib, data, dtype: lib.tensor(data, dtype=_dt(lib, dtype)), [],
    data=st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=8),
    dtype=_dtype_names)
add("scalar_tensor", lambda lib, value, dtype: lib.scalar_tensor(value, dtype=_dt(lib, dtype)),
    [], value=_scalars, dtype=st.one_of(st.none(), st.sampled_from(FLOATS)))

# ------------------------------------------------------------------ layers


def reset_parameters(lib, module, seed=0):
    """Give a module's float parameters and buffers the same values in both libraries
    (variances positive), instead of each library's random initialisation. Tensors without
    elements are left alone (NumPy could not even describe some of them: (1, 0, 2**31, 2**31))."""
    rng = np.random.default_rng(seed)
    with lib.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if t.is_floating_point() and t.numel() > 0:
                low, high = (0.5, 2.0) if name.endswith("running_var") else (-1.0, 1.0)
                t.copy_(lib.tensor(rng.uniform(low, high, tuple(t.shape)), dtype=t.dtype))


def layer(lib, x, cls, ctor, training=False, target=None):
    """Build ``lib.nn.<cls>(*ctor)``, set its parameters, run it on ``x`` (and ``target``)."""
    module = getattr(lib.nn, cls)(*ctor)
    reset_parameters(lib, module)
    module.train(training)
    out = module(x) if target is None else module(x, target)
    return out, [b for b in module.buffers()]


def add_layer(cls, ctor, x=None, training=st.booleans()):
    add(f"nn.{cls}", lambda lib, x, ctor, training: layer(lib, x, cls, ctor, training),
        [x if x is not None else tensors(shapes(1, 4), FLOATS + ("int64",))],
        ctor=st.tuples(*ctor), training=training)


_image_in = tensors(st.one_of(st.tuples(sizes(2), sizes(3), sizes(6), sizes(6)), shapes(0, 5)),
                    FLOATS + ("int64",))
add_layer("Linear", [sizes(), sizes(), st.booleans()], x=tensors(
    st.tuples(sizes(), sizes()) | shapes(0, 3), FLOATS))
add_layer("Conv2d", [sizes(3), ints(), _pair, _pair, _pair, _pair, st.one_of(st.just(1), ints()),
                     st.booleans()], x=_image_in)
add_layer("BatchNorm1d", [ints(), st.sampled_from([1e-5, 0.1]), st.sampled_from([0.1, None]),
                          st.booleans(), st.booleans()])
add_layer("BatchNorm2d", [ints(), st.sampled_from([1e-5, 0.1]), st.sampled_from([0.1, None]),
                          st.booleans(), st.booleans()], x=_image_in)
add_layer("MaxPool2d", [_pair, st.one_of(st.none(), _pair), _pair, _pair], x=_image_in)
add_layer("AvgPool2d", [_pair, st.one_of(st.none(), _pair), _pair, st.booleans(), st.booleans()],
          x=_image_in)
add_layer("AdaptiveAvgPool2d", [_pair], x=_image_in)
add_layer("Flatten", [dims(3), dims(3)])
add_layer("Identity", [])
for _cls in ("ReLU", "Sigmoid", "Tanh", "SiLU", "GELU"):
    add_layer(_cls, [])
add_layer("LeakyReLU", [st.sampled_from([0.01, -0.5])])
add_layer("Softmax", [st.one_of(st.none(), dims(3))])
add_layer("LogSoftmax", [st.one_of(st.none(), dims(3))])
add_layer("Dropout", [st.sampled_from([0.0, 0.5, 1.0, -0.5, 2.0])], training=st.just(False))
for _cls in ("MSELoss", "L1Loss"):
    add(f"nn.{_cls}", lambda lib, x, y, reduction, _c=_cls:
        getattr(lib.nn, _c)(reduction=reduction)(x, y),
        [tensors((2, 3), FLOATS), tensors((2, 3), FLOATS)], reduction=_reductions)
add_cases("nn.CrossEntropyLoss", lambda lib, x, t, w=None, reduction="mean", ignore_index=-100:
          lib.nn.CrossEntropyLoss(w, reduction=reduction, ignore_index=ignore_index)(x, t),
          classification_cases())
add_cases("nn.NLLLoss", lambda lib, x, t, w=None, reduction="mean", ignore_index=-100:
          lib.nn.NLLLoss(w, reduction=reduction, ignore_index=ignore_index)(x, t),
          classification_cases())



@st.composite
def mha_cases(draw):
    """nn.MultiheadAttention: (query, key, value) of one float dtype, batched (batch_first or
    not) or unbatched, a mask (bool or float) or none; one time in five a dim is off by one."""
    heads, batch_first = draw(st.integers(1, 3)), draw(st.booleans())
    batched = draw(st.integers(0, 4)) > 0
    embed = heads * draw(st.integers(1, 3))
    n, lq, lk = draw(sizes()), draw(sizes()), draw(sizes())
    dtype = draw(st.sampled_from(FLOATS))

    def shape(length):
        if not batched:
            return (length, embed)
        return (n, length, embed) if batch_first else (length, n, embed)
    shapes_ = [list(shape(lq)), list(shape(lk)), list(shape(lk))]
    if draw(st.integers(0, 4)) == 0:
        which = draw(st.integers(0, 2))
        shapes_[which][draw(st.integers(0, len(shapes_[which]) - 1))] += 1
    # finite values: how NaN/inf spread through attention is F.scaled_dot_product_attention's
    inputs = [draw(tensors(tuple(s), (dtype,), special=False)) for s in shapes_]
    mask = draw(st.sampled_from(["none", "bool", "float"]))
    if mask != "none":
        inputs.append(draw(tensors((lq, lk), ("bool",) if mask == "bool" else (dtype,),
                                   grad=False)))
    return case(inputs, heads=heads, batch_first=batch_first,
                need_weights=draw(st.booleans()), average=draw(st.booleans()))


def _mha(lib, q, k, v, mask=None, heads=1, batch_first=False, need_weights=True, average=True):
    module = lib.nn.MultiheadAttention(q.shape[-1], heads, batch_first=batch_first,
                                       kdim=k.shape[-1], vdim=v.shape[-1], dtype=q.dtype)
    reset_parameters(lib, module)
    return module.eval()(q, k, v, attn_mask=mask, need_weights=need_weights,
                         average_attn_weights=average)


add_cases("nn.MultiheadAttention", _mha, mha_cases())


@st.composite
def transformer_layer_cases(draw):
    """nn.TransformerEncoderLayer / DecoderLayer in eval mode: a (batched or not) input whose
    width is sometimes not d_model, a causal mask or none, norm_first, relu or gelu."""
    heads = draw(st.integers(1, 2))
    d_model = heads * draw(st.integers(1, 3))
    batched, batch_first = draw(st.integers(0, 4)) > 0, draw(st.booleans())
    n, length = draw(sizes(3)), draw(sizes(3))
    width = d_model + (draw(st.integers(0, 4)) == 0)
    shape = ((n, length) if batch_first else (length, n)) if batched else (length,)
    x = draw(tensors(shape + (width,), FLOATS, special=False))
    return case([x, draw(tensors(shape + (width,), (x["dtype"],), special=False))],
                heads=heads, d_model=d_model, ff=draw(st.integers(1, 4)),
                batch_first=batch_first, norm_first=draw(st.booleans()),
                activation=draw(st.sampled_from(["relu", "gelu"])),
                causal=draw(st.booleans()), decoder=draw(st.booleans()))


def _transformer_layer(lib, x, memory, heads, d_model, ff, batch_first, norm_first, activation,
                       causal, decoder):
    cls = lib.nn.TransformerDecoderLayer if decoder else lib.nn.TransformerEncoderLayer
    layer = cls(d_model, heads, ff, 0.0, activation, batch_first=batch_first,
                norm_first=norm_first, dtype=x.dtype)
    reset_parameters(lib, layer)
    layer.eval()
    seq = x.shape[1 if batch_first and x.dim() == 3 else 0]
    mask = lib.nn.Transformer.generate_square_subsequent_mask(seq, dtype=x.dtype) if causal \
        else None
    if decoder:
        return layer(x, memory, tgt_mask=mask, tgt_is_causal=causal)
    return layer(x, src_mask=mask, is_causal=causal)


add_cases("nn.TransformerLayer", _transformer_layer, transformer_layer_cases())
