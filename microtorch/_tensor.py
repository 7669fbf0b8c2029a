"""``Tensor``: an n-dimensional array on a device, plus the metadata autograd needs.

A tensor holds its device's native array (``_data``: a NumPy array on the CPU), its ``dtype`` and
``device``, and for autograd: ``requires_grad``, ``grad``, ``grad_fn`` (the graph node that made
it, None for leaves) and a version counter shared with its views, bumped by in-place ops so that
backward can detect a saved tensor that was modified.

This module is the data model only: it imports no op. The math methods (``x.exp()``, ``x + y``,
``x.sum()``, ``x.add_(y)``...) are bound onto the class by the modules that implement them
(:mod:`microtorch.ops`, through :mod:`microtorch.ops._register`), ``backward`` by
:mod:`microtorch.autograd.engine`, the constructors (``Tensor(data)``, ``new_zeros``...) by
:mod:`microtorch._creation`; all of them are imported by ``import microtorch``.
"""

import weakref

from . import _dtype
from ._device import CPU
from ._printing import tensor_repr
from .backends import _BACKENDS, get_backend


class Size(tuple):
    """A tensor's shape: a tuple printed as ``torch.Size([2, 3])``."""

    def __repr__(self):
        return f"torch.Size({list(self)})"

    def numel(self):
        """The number of elements of a tensor of this shape."""
        n = 1
        for s in self:
            n *= s
        return n


class _Version:
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Tensor:
    """A multi-dimensional array with autograd support, as ``torch.Tensor``.

    Create tensors with :func:`microtorch.tensor`, :func:`microtorch.zeros` and friends;
    ``Tensor(data)`` also works and gives a float32 tensor.
    """

    __slots__ = ("_data", "_device", "dtype", "_version", "__dict__", "__weakref__")
    # A tensor made by an op sets only the four slots above. Its autograd fields start as these
    # class-level defaults and are stored on the tensor when first set (less work per op).
    grad = None
    grad_fn = None
    _requires_grad = False
    _output_nr = 0
    _base = None
    _grad_accumulator = None
    _hooks = None
    _retains_grad = False
    _wrapped_number = False
    __array_priority__ = 1000  # make ndarray + Tensor call Tensor.__radd__

    def __init__(self, *args, **kwargs):
        pass

    @classmethod
    def _make(cls, data, device, base=None):
        """Wrap a backend array without copying or validation (internal constructor; every op's
        output is made here, so it does what :meth:`_init_from` does without a second call)."""
        t = object.__new__(Tensor)
        t._data = data
        t._device = device
        t.dtype = _dtype._FROM_NP[data.dtype]
        if base is None:
            t._version = _Version()
        else:
            t._version = base._version
            t._base = base
        return t

    def _init_from(self, data, device, base=None):
        self._data = data
        self._device = device
        self.dtype = _dtype._FROM_NP[data.dtype]
        if base is None:
            self._version = _Version()
        else:
            self._version = base._version
            self._base = base

    @property
    def _backend(self):
        return _BACKENDS.get(self._device.type) or get_backend(self._device)

    # ---- attributes ----------------------------------------------------------------------
    @property
    def shape(self):
        """The tensor's dimensions, a :class:`Size`."""
        return Size(self._data.shape)

    @property
    def ndim(self):
        """The number of dimensions."""
        return self._data.ndim

    def dim(self):
        """The number of dimensions."""
        return self._data.ndim

    def numel(self):
        """The number of elements."""
        return self._data.size

    def nelement(self):
        """Alias of :meth:`numel`."""
        return self._data.size

    def element_size(self):
        """Bytes per element."""
        return self.dtype.itemsize

    @property
    def device(self):
        """Where the data lives, a :class:`microtorch.device`."""
        return self._device

    @property
    def is_cuda(self):
        """True for tensors on a CUDA device."""
        return self._device.type == "cuda"

    @property
    def __cuda_array_interface__(self):
        """The CUDA array interface of a CUDA tensor's memory (for CuPy, PyTorch, Numba)."""
        if self._device.type != "cuda":
            raise AttributeError("Can't get __cuda_array_interface__ on non-CUDA tensor type: "
                                 f"{self.type()} If CUDA data is required use tensor.cuda() to "
                                 "copy tensor to device memory.")
        if self.requires_grad:
            raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires "
                               "grad. If gradients aren't required, use var.detach() to get "
                               "Variable that doesn't require grad.")
        return self._data.__cuda_array_interface__

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded op (user-created or ``requires_grad=False``)."""
        return self.grad_fn is None

    @property
    def requires_grad(self):
        """Whether gradients are computed for this tensor."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if value and not (self.dtype.is_floating_point):
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if self.grad_fn is not None and not value:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def data(self):
        """A tensor sharing this one's memory, detached from the graph."""
        return Tensor._make(self._data, self._device)

    @data.setter
    def data(self, value):
        self._data = value._data
        self._device = value._device
        self.dtype = value.dtype

    def is_floating_point(self):
        """True for float32/float64 tensors."""
        return self.dtype.is_floating_point

    def is_contiguous(self):
        """True when the elements are laid out in C order without gaps."""
        return self._backend.contiguous(self._data) is self._data

    # ---- autograd --------------------------------------------------------------------------

    def detach(self):
        """A tensor sharing memory (and the version counter), cut from the graph."""
        return Tensor._make(self._data, self._device, base=self)

    def detach_(self):
        """Cut this tensor from the graph in place and return it."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        ref = weakref.ref(self)

        def hook(grad):
            t = ref()
            if t is not None:
                g = grad.detach()
                t.grad = g if t.grad is None else t.grad + g

        self.grad_fn._add_pre_hook(self._output_nr, hook)
        self._retains_grad = True

    @property
    def retains_grad(self):
        """True after :meth:`retain_grad` on a non-leaf tensor."""
        return self._retains_grad

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a
        replacement gradient."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            self.grad_fn._add_pre_hook(self._output_nr, hook)
        else:
            self._hooks = (self._hooks or []) + [hook]
        return hook

    # ---- conversion ------------------------------------------------------------------------
    def numpy(self, *, force=False):
        """A NumPy array sharing memory with this CPU tensor."""
        if self._device.type != "cpu":
            raise TypeError(f"can't convert {self._device} device type tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self._backend.to_numpy(self._data)
        return a if dtype is None else a.astype(dtype)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to "
                               "Scalar")
        return self._backend.to_numpy(self._data).reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return self._backend.to_numpy(self._data).tolist()

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self._scalar_for_python())

    def __int__(self):
        return int(self._scalar_for_python())

    def _scalar_for_python(self):
        """The one element, for ``float(x)`` and ``int(x)`` (a ValueError otherwise, as
        Python's conversions raise)."""
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __index__(self):
        if self.dtype.category != 1 or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    def __repr__(self, *, tensor_contents=None):
        return tensor_repr(self, self._backend.to_numpy(self._data))

    def __format__(self, spec):
        if self.ndim == 0 and spec:
            return self.item().__format__(spec)
        return object.__format__(self, spec) if spec else repr(self)

    def __deepcopy__(self, memo):
        t = Tensor._make(self._backend.astype(self._data, self.dtype.np), self._device)
        if type(self) is not Tensor:
            t = type(self)(t, requires_grad=self.requires_grad)
        else:
            t.requires_grad = self.requires_grad
        memo[id(self)] = t
        return t

    # ---- dtype and device ----------------------------------------------------------------
    def type(self, dtype=None):
        """The type name (``'torch.FloatTensor'``), or a copy converted to ``dtype``."""
        if dtype is None:
            return "torch." + ("cuda." if self.is_cuda else "") + self.dtype.tensor_type_name
        return self.to(dtype)

    def float(self):
        """Convert to float32."""
        return self.to(_dtype.float32)

    def double(self):
        """Convert to float64."""
        return self.to(_dtype.float64)

    def long(self):
        """Convert to int64."""
        return self.to(_dtype.int64)

    def int(self):
        """Convert to int32."""
        return self.to(_dtype.int32)

    def bool(self):
        """Convert to bool."""
        return self.to(_dtype.bool_)

    def cpu(self):
        """A copy on the CPU (self when already there)."""
        return self.to(CPU)

    def cuda(self, device=None):
        """A copy on a CUDA device (default: the current one)."""
        return self.to(device if device is not None else "cuda")



def parse_to_args(args, dtype=None, device=None):
    """(dtype, device) from ``to()``'s positional arguments: dtypes, devices or a tensor."""
    for a in args:
        if isinstance(a, _dtype.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        else:
            device = a
    return dtype, device
