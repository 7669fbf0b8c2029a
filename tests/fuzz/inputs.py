"""How the fuzzer describes a tensor input and builds it in either library.

A case never holds a tensor: it holds a *tensor description*, a small dict of plain Python
values (so it pickles to the child process and prints as a one-line reproduction)::

    {"shape": (2, 3), "dtype": "float32", "layout": "transposed", "seed": 7,
     "requires_grad": True, "special": False, "low": -3, "high": 3}

:func:`build` turns a description into a tensor of ``torch`` or ``microtorch``: the values come
from a NumPy generator seeded with ``seed``, so both libraries get the same numbers. ``layout``
says how the tensor is made from its leaf, with the library's own ops:

- ``contiguous``: the leaf itself;
- ``transposed``: a leaf with the last two sizes swapped, ``.transpose(-1, -2)``;
- ``expanded``: a leaf with some sizes 1, ``.expand(shape)`` (stride 0);
- ``sliced``: a leaf twice as long in the last dim, ``[..., ::2]``.

Gradients are compared on the leaf.
"""

import numpy as np
from hypothesis import strategies as st

DTYPES = ("float32", "float64", "int32", "int64", "uint8", "bool")
FLOATS = ("float32", "float64")
INTS = ("int32", "int64", "uint8")
LAYOUTS = ("contiguous", "transposed", "expanded", "sliced")


# ---------------------------------------------------------------- strategies

def sizes(max_size=4):
    """One dimension's size: 0 and 1 are drawn as often as the larger ones."""
    return st.integers(0, max_size)


def shapes(min_dims=0, max_dims=4, max_size=4):
    """A shape of ``min_dims..max_dims`` sizes, each ``0..max_size``."""
    return st.lists(sizes(max_size), min_size=min_dims, max_size=max_dims).map(tuple)


def ints(normal=(1, 4)):
    """An integer argument (size, stride, padding, ...): negative, zero, normal or too large."""
    return st.one_of(st.integers(*normal), st.integers(-3, 0), st.sampled_from([5, 7, 100, 2**31]))


def dims(ndim, extra=2):
    """A dim argument for a tensor of ``ndim`` dims: mostly valid, sometimes out of range."""
    return st.integers(-ndim - extra, max(ndim - 1, 0) + extra)


@st.composite
def tensors(draw, shape=None, dtypes=DTYPES, low=-3, high=3, grad=True, special=True):
    """A tensor description (see the module docstring). ``shape`` may be a tuple or a strategy."""
    if shape is None:
        shape = shapes()
    if not isinstance(shape, tuple):
        shape = draw(shape)
    dtype = draw(st.sampled_from(dtypes))
    layouts = LAYOUTS if len(shape) >= 1 else ("contiguous",)
    return {
        "shape": tuple(shape),
        "dtype": dtype,
        "layout": draw(st.sampled_from(layouts)),
        "seed": draw(st.integers(0, 2**16)),
        "requires_grad": grad and dtype in FLOATS and draw(st.booleans()),
        "special": special and dtype in FLOATS and draw(st.integers(0, 4)) == 4,
        "low": low,
        "high": high,
    }


def index_tensors(shape, high, dtype="int64"):
    """A tensor description of integer indices in ``[0, high)`` (sometimes out of range)."""
    return tensors(shape=shape, dtypes=(dtype,), low=-1, high=high, grad=False)


# ---------------------------------------------------------------- building

def leaf_array(desc):
    """The NumPy values of the leaf of a description, and how to get the input from it."""
    rng = np.random.default_rng(desc["seed"])
    shape, layout = list(desc["shape"]), desc["layout"]
    if layout == "transposed" and len(shape) >= 2:
        shape[-1], shape[-2] = shape[-2], shape[-1]
    elif layout == "transposed":  # a 1-D "transpose" is a no-op: use a step slice instead
        layout = "sliced"
    if layout == "expanded":
        shape = [1 if rng.random() < 0.5 else n for n in shape]
    if layout == "sliced":
        shape[-1] *= 2
    dtype, low, high = desc["dtype"], desc["low"], desc["high"]
    if dtype in FLOATS:
        data = rng.uniform(low, high, shape)
        if desc["special"]:
            specials = np.array([0.0, np.nan, np.inf, -np.inf])
            mask = rng.random(shape) < 0.2
            data[mask] = rng.choice(specials, size=int(mask.sum()))
    elif dtype == "bool":
        data = rng.random(shape) < 0.5
    else:
        data = rng.integers(max(low, 0) if dtype == "uint8" else low, high, shape, endpoint=True)
    return np.asarray(data).astype(dtype), layout


def build(lib, desc):
    """The tensor of library ``lib`` (``torch`` or ``microtorch``) and its leaf."""
    data, layout = leaf_array(desc)
    leaf = lib.tensor(data, dtype=getattr(lib, desc["dtype"]))
    if desc["requires_grad"]:
        leaf.requires_grad_(True)
    if layout == "transposed":
        return leaf.transpose(-1, -2), leaf
    if layout == "expanded":
        return leaf.expand(*desc["shape"]), leaf
    if layout == "sliced":
        return leaf[..., ::2], leaf
    return leaf, leaf
