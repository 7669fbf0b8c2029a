"""Where an op's one public function form is bound: ``microtorch.<name>``, a ``Tensor`` method,
``microtorch.nn.functional.<name>``.

An op module decorates its function form once, beside the op's ``Function``::

    @public(method=True)            # microtorch.exp and Tensor.exp
    def exp(input):
        '''e to the power of each element.'''
        return Exp.apply(float_input(input))

``public`` sets the Tensor method at once (the Tensor class is the layer below) and records the
names of the higher layers in :data:`TORCH_FUNCTIONS` and :data:`FUNCTIONAL`, which
``microtorch/__init__.py`` and ``microtorch/nn/functional.py`` bind with one loop each. So a new
op edits none of ``_tensor.py``, ``__init__.py`` or ``nn/functional.py``.

Operators and methods that have no ``microtorch.<name>`` form (``__add__``, ``add_``) are bound
with :func:`tensor_method`; properties (``x.T``) with :func:`tensor_property`.
"""

from .._tensor import Tensor

TORCH_FUNCTIONS = {}  # name -> function, bound as microtorch.<name>
FUNCTIONAL = {}  # name -> function, bound as microtorch.nn.functional.<name>


def _names(names, default):
    """``names`` (True, a name or a tuple of names) as a tuple of names."""
    if names is True:
        return (default,)
    return (names,) if isinstance(names, str) else tuple(names)


def public(name=None, *, torch=True, method=False, functional=False):
    """Bind the decorated function form of an op.

    ``name`` defaults to the function's name. ``torch=True`` binds ``microtorch.<name>``;
    ``method=True`` (or a method name, or a tuple of names) binds ``Tensor.<name>``;
    ``functional=True`` binds ``microtorch.nn.functional.<name>``. Returns the function
    unchanged.
    """
    def bind(fn):
        own = name or fn.__name__
        if torch:
            TORCH_FUNCTIONS[own] = fn
        if functional:
            FUNCTIONAL[own] = fn
        if method:
            for m in _names(method, own):
                setattr(Tensor, m, fn)
        return fn
    return bind


def alias(name, fn, *, method=False):
    """Bind ``microtorch.<name>`` (and ``Tensor.<name>`` with ``method=True``) to the already
    public function ``fn`` (``clip`` for ``clamp``)."""
    TORCH_FUNCTIONS[name] = fn
    if method:
        setattr(Tensor, name, fn)


def tensor_method(*names):
    """Bind the decorated function as the ``Tensor`` methods ``names`` (default: its own name);
    for operators and in-place methods, which have no ``microtorch.<name>`` form."""
    def bind(fn):
        for m in names or (fn.__name__,):
            setattr(Tensor, m, fn)
        return fn
    return bind


def tensor_property(name):
    """Bind the decorated function as the read-only ``Tensor`` property ``name``."""
    def bind(fn):
        setattr(Tensor, name, property(fn, doc=fn.__doc__))
        return fn
    return bind
