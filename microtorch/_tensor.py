"""``Tensor``: an n-dimensional array on a device, plus the metadata autograd needs.

A tensor holds its device's native array (``_data``: a NumPy array on the CPU), its ``dtype`` and
``device``, and for autograd: ``requires_grad``, ``grad``, ``grad_fn`` (the graph node that made
it, None for leaves) and a version counter shared with its views, bumped by in-place ops so that
backward can detect a saved tensor that was modified. Every math method is a one-line delegation
to a Function in :mod:`microtorch.ops`.
"""

import numpy as np

from . import _dtype
from ._device import CPU, as_device
from ._printing import tensor_repr
from .autograd.grad_mode import is_grad_enabled, no_grad
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

    __slots__ = ("_data", "_device", "dtype", "_requires_grad", "grad", "grad_fn", "_output_nr",
                 "_version", "_base", "_grad_accumulator", "_hooks", "_retains_grad",
                 "_wrapped_number", "__dict__", "__weakref__")
    __array_priority__ = 1000  # make ndarray + Tensor call Tensor.__radd__

    def __new__(cls, *args, **kwargs):
        from ._creation import tensor

        if len(args) == 1 and not isinstance(args[0], int):
            t = tensor(args[0], dtype=_dtype.float32)
        else:
            t = tensor(np.empty(tuple(args), dtype=np.float32))
        if cls is not Tensor:
            obj = object.__new__(cls)
            obj._init_from(t._data, t.device)
            return obj
        return t

    def __init__(self, *args, **kwargs):
        pass

    @classmethod
    def _make(cls, data, device, base=None):
        """Wrap a backend array without copying or validation (internal constructor)."""
        t = object.__new__(Tensor)
        t._init_from(data, device, base)
        return t

    def _init_from(self, data, device, base=None):
        self._data = data
        self._device = device
        self.dtype = _dtype._FROM_NP[data.dtype]
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._version = base._version if base is not None else _Version()
        self._base = base
        self._grad_accumulator = None
        self._hooks = None
        self._retains_grad = False
        self._wrapped_number = False

    @property
    def _backend(self):
        return _BACKENDS.get(self._device.type) or get_backend(self._device)

    # ---- attributes ----------------------------------------------------------------------
    @property
    def shape(self):
        """The tensor's dimensions, a :class:`Size`."""
        return Size(self._data.shape)

    def size(self, dim=None):
        """The shape, or the length of dimension ``dim``."""
        if dim is None:
            return self.shape
        from .ops._util import normalize_dim

        return self._data.shape[normalize_dim(dim, self.ndim)]

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

    @property
    def T(self):
        """The tensor with all its dims reversed."""
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self):
        """The last two dims transposed."""
        return _shape.matrix_transpose(self)

    # ---- autograd --------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the leaves' ``.grad``.

        ``gradient`` is needed when the tensor is not a scalar: it is the vector ``v`` of the
        vector-Jacobian product ``v^T J``.
        """
        from .autograd import engine

        engine.backward(self, gradient, retain_graph, create_graph, inputs)

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
        import weakref

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

    def __reduce_ex__(self, protocol):
        from .serialization import _rebuild_tensor_for_pickle

        return _rebuild_tensor_for_pickle, (np.array(self.cpu()._data), self.requires_grad,
                                            str(self.device))

    def __deepcopy__(self, memo):
        t = Tensor._make(self._backend.astype(self._data, self.dtype.np), self._device)
        if type(self) is not Tensor:
            t = type(self)(t, requires_grad=self.requires_grad)
        else:
            t.requires_grad = self.requires_grad
        memo[id(self)] = t
        return t

    # ---- dtype and device ----------------------------------------------------------------
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False):
        """Convert to another dtype and/or device: ``to(dtype)``, ``to(device)``,
        ``to(device, dtype)`` or ``to(other_tensor)``. Returns self when nothing changes."""
        dtype, device = parse_to_args(args, dtype, device)
        dtype = dtype or self.dtype
        device = as_device(device) if device is not None else self._device
        if device.type == "cuda":
            from . import cuda

            cuda._check_available()
        if dtype is self.dtype and device == self._device and not copy:
            return self
        return _shape.ToCopy.apply(self, dtype, device)

    def type(self, dtype=None):
        """The type name (``'torch.FloatTensor'``), or a copy converted to ``dtype``."""
        if dtype is None:
            from .autograd.function import _tensor_type_name

            return "torch." + ("cuda." if self.is_cuda else "") + _tensor_type_name(self)
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

    def clone(self):
        """A copy of the data, recorded in the graph (``CloneBackward0``)."""
        return _shape.Clone.apply(self)

    def contiguous(self):
        """Self if C-contiguous, else a contiguous copy."""
        return self if self.is_contiguous() else self.clone()

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        """Zeros with this tensor's dtype and device unless given."""
        from . import _creation

        return _creation.zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                               requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        """Ones with this tensor's dtype and device unless given."""
        from . import _creation

        return _creation.ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                              requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        """An uninitialised tensor with this tensor's dtype and device unless given."""
        from . import _creation

        return _creation.empty(*size, dtype=dtype or self.dtype, device=device or self.device,
                               requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        """A tensor filled with ``fill_value``, this tensor's dtype and device unless given."""
        from . import _creation

        return _creation.full(size, fill_value, dtype=dtype or self.dtype,
                              device=device or self.device, requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A new tensor from ``data`` with this tensor's dtype and device unless given."""
        from . import _creation

        return _creation.tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                                requires_grad=requires_grad)

    # ---- arithmetic operators ------------------------------------------------------------
    def __add__(self, other):
        return _ew.Add.apply(self, _wrap(other, self))

    def __radd__(self, other):
        return _ew.Add.apply(self, _wrap(other, self))

    def __sub__(self, other):
        return _ew.Sub.apply(self, _wrap(other, self))

    def __rsub__(self, other):
        if isinstance(other, Tensor):
            return _ew.Sub.apply(other, self)
        return _ew.Rsub.apply(self, other)

    def __mul__(self, other):
        return _ew.Mul.apply(self, _wrap(other, self))

    def __rmul__(self, other):
        return _ew.Mul.apply(self, _wrap(other, self))

    def __truediv__(self, other):
        return _ew.Div.apply(self, _wrap(other, self))

    def __rtruediv__(self, other):
        if isinstance(other, Tensor):
            return _ew.Div.apply(other, self)
        return self.reciprocal() * other

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            return _ew.Pow.apply(self, exponent)
        return _ew.PowScalar.apply(self, exponent)

    def __rpow__(self, base):
        return _ew.RpowScalar.apply(self, base)

    def __matmul__(self, other):
        return _linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return _linalg.matmul(other, self)

    def __neg__(self):
        return _ew.Neg.apply(self)

    def __pos__(self):
        if self.dtype is _dtype.bool_:
            raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
        return self

    def __abs__(self):
        return self.abs()

    def __eq__(self, other):
        return _ew.compare("eq", self, other)

    def __ne__(self, other):
        return _ew.compare("ne", self, other)

    def __lt__(self, other):
        return _ew.compare("lt", self, other)

    def __le__(self, other):
        return _ew.compare("le", self, other)

    def __gt__(self, other):
        return _ew.compare("gt", self, other)

    def __ge__(self, other):
        return _ew.compare("ge", self, other)

    def __and__(self, other):
        return _ew.bitwise("and", self, other)

    def __or__(self, other):
        return _ew.bitwise("or", self, other)

    def __xor__(self, other):
        return _ew.bitwise("xor", self, other)

    def __invert__(self):
        return _ew.bitwise_not(self)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __getitem__(self, index):
        return _indexing.getitem(self, index)

    def __setitem__(self, index, value):
        _indexing.setitem(self, index, value)

    # ---- math methods ----------------------------------------------------------------------
    def add(self, other, *, alpha=1):
        """``self + alpha * other``."""
        return _ew.add(self, other, alpha)

    def sub(self, other, *, alpha=1):
        """``self - alpha * other``."""
        return _ew.sub(self, other, alpha)

    def mul(self, other):
        """``self * other``."""
        return self * other

    def div(self, other):
        """``self / other`` (true division)."""
        return self / other

    def pow(self, exponent):
        """``self ** exponent``."""
        return self ** exponent

    def square(self):
        """``self ** 2``."""
        return self ** 2

    def neg(self):
        """``-self``."""
        return -self

    def abs(self):
        """Absolute value."""
        return _ew.Abs.apply(self)

    def exp(self):
        """e to the power of each element."""
        return _ew.Exp.apply(_ew.float_input(self))

    def log(self):
        """Natural logarithm."""
        return _ew.Log.apply(_ew.float_input(self))

    def sqrt(self):
        """Square root."""
        return _ew.Sqrt.apply(_ew.float_input(self))

    def rsqrt(self):
        """1 / sqrt."""
        return _ew.Rsqrt.apply(_ew.float_input(self))

    def reciprocal(self):
        """1 / x."""
        return _ew.Reciprocal.apply(_ew.float_input(self))

    def sin(self):
        """Sine."""
        return _ew.Sin.apply(_ew.float_input(self))

    def cos(self):
        """Cosine."""
        return _ew.Cos.apply(_ew.float_input(self))

    def tanh(self):
        """Hyperbolic tangent."""
        return _ew.Tanh.apply(_ew.float_input(self))

    def erf(self):
        """The error function 2/sqrt(pi) * integral of e^(-t^2) from 0 to x."""
        return _ew.Erf.apply(_ew.float_input(self))

    def sigmoid(self):
        """Logistic sigmoid 1 / (1 + e^-x)."""
        return _ew.Sigmoid.apply(_ew.float_input(self))

    def relu(self):
        """max(x, 0)."""
        return _ew.Relu.apply(self)

    def sign(self):
        """-1, 0 or 1 by sign."""
        return _ew.sign(self)

    def clamp(self, min=None, max=None):
        """Clip into [min, max]."""
        return _ew.clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        """Elementwise maximum."""
        return _ew.maximum(self, other)

    def minimum(self, other):
        """Elementwise minimum."""
        return _ew.minimum(self, other)

    def eq(self, other):
        """``self == other`` elementwise."""
        return self == other

    def ne(self, other):
        """``self != other`` elementwise."""
        return self != other

    def lt(self, other):
        """``self < other`` elementwise."""
        return self < other

    def le(self, other):
        """``self <= other`` elementwise."""
        return self <= other

    def gt(self, other):
        """``self > other`` elementwise."""
        return self > other

    def ge(self, other):
        """``self >= other`` elementwise."""
        return self >= other

    def equal(self, other):
        """True when shapes and all values are equal."""
        return self.shape == other.shape and bool((self == other).all())

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """True when ``|self - other| <= atol + rtol * |other|`` everywhere (same dtypes,
        broadcastable shapes)."""
        if self.dtype is not other.dtype:
            raise RuntimeError(f"{self.dtype.scalar_name} did not match "
                               f"{other.dtype.scalar_name}")
        _util.broadcast_shapes(self.shape, other.shape)
        a, b = np.asarray(self), np.asarray(other)
        return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))

    def all(self):
        """True when every element is nonzero (a bool tensor; uint8 for uint8)."""
        return _red.all(self)

    def any(self):
        """True when some element is nonzero (a bool tensor; uint8 for uint8)."""
        return _red.any(self)

    def sum(self, dim=None, keepdim=False, *, dtype=None):
        """Sum over ``dim`` (all when None)."""
        return _red.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        """Mean over ``dim`` (all when None)."""
        return _red.mean(self, dim, keepdim, dtype=dtype)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        """Product over ``dim`` (all when None)."""
        return _red.prod(self, dim, keepdim, dtype=dtype)

    def max(self, dim=None, keepdim=False):
        """Max element, or (values, indices) along ``dim``."""
        return _red.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        """Min element, or (values, indices) along ``dim``."""
        return _red.min(self, dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        """Max over ``dim``."""
        return _red.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        """Min over ``dim``."""
        return _red.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        """Index of the max."""
        return _red.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        """Index of the min."""
        return _red.argmin(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Variance (unbiased by default)."""
        return _red.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Standard deviation (unbiased by default)."""
        return _red.std(self, dim, unbiased, keepdim, correction=correction)

    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(x))) over ``dim``, computed stably."""
        return _red.logsumexp(self, dim, keepdim)

    def softmax(self, dim, dtype=None):
        """Softmax along ``dim`` (computed in ``dtype`` when given)."""
        from .nn import functional as F

        return F.softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim, dtype=None):
        """Log-softmax along ``dim`` (computed in ``dtype`` when given)."""
        from .nn import functional as F

        return F.log_softmax(self, dim, dtype=dtype)

    def matmul(self, other):
        """``self @ other``."""
        return _linalg.matmul(self, other)

    def mm(self, other):
        """Matrix product of 2-D tensors."""
        return _linalg.mm(self, other)

    def bmm(self, other):
        """Batched matrix product of 3-D tensors."""
        return _linalg.bmm(self, other)

    def dot(self, other):
        """Dot product of 1-D tensors."""
        return _linalg.matmul(self, other)

    # ---- shape methods ---------------------------------------------------------------------
    def view(self, *shape):
        """A view with a new shape."""
        return _shape.view(self, *shape)

    def view_as(self, other):
        """A view with ``other``'s shape."""
        return _shape.view(self, other.shape)

    def reshape(self, *shape):
        """A view or copy with a new shape."""
        return _shape.reshape(self, *shape)

    def reshape_as(self, other):
        """Reshape to ``other``'s shape."""
        return _shape.reshape(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dims ``start_dim..end_dim``."""
        return _shape.flatten(self, start_dim, end_dim)

    def permute(self, *dims):
        """Reorder dims (a view)."""
        return _shape.permute(self, *dims)

    def transpose(self, dim0, dim1):
        """Swap two dims (a view)."""
        return _shape.transpose(self, dim0, dim1)

    def t(self):
        """Transpose a matrix."""
        return _shape.t(self)

    def squeeze(self, dim=None):
        """Remove size-1 dims."""
        return _shape.squeeze(self, dim)

    def unsqueeze(self, dim):
        """Insert a size-1 dim."""
        return _shape.unsqueeze(self, dim)

    def expand(self, *sizes):
        """Broadcast to a larger shape (a view)."""
        return _shape.expand(self, *sizes)

    def expand_as(self, other):
        """Broadcast to ``other``'s shape."""
        return _shape.expand(self, other.shape)

    def repeat(self, *sizes):
        """Tile the tensor ``sizes`` times along each dim."""
        return _shape.repeat(self, *sizes)

    def split(self, split_size, dim=0):
        """Split into pieces of ``split_size`` (or of the given sizes)."""
        return _indexing.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        """Split into ``chunks`` pieces."""
        return _indexing.chunk(self, chunks, dim)

    def gather(self, dim, index):
        """Values at ``index`` along ``dim``."""
        return _indexing.gather(self, dim, index)

    def scatter_add(self, dim, index, src):
        """A copy with ``src`` summed in at ``index`` along ``dim``."""
        return _indexing.scatter_add(self, dim, index, src)

    # ---- in-place ops ----------------------------------------------------------------------
    def _inplace(self, fn, *args, written=None):
        """Run ``fn`` out of place, write the result into this tensor's memory, and rebase
        this tensor onto the new graph node (as PyTorch records in-place ops). ``written``,
        a basic index (ints, slices, None), says that ``fn`` changes only ``self[written]``:
        then only that part must not repeat a memory cell (``x[0] = v`` on an expanded ``x``),
        and only that part is copied back."""
        be = self._backend
        tensors = [a for a in args if isinstance(a, Tensor)]
        recording = is_grad_enabled() and (self.requires_grad or any(a.requires_grad
                                                                       for a in tensors))
        self._check_no_internal_overlap(None if written is None
                                        else be.getitem(self._data, written))
        if recording and self.is_leaf and self.requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        if recording and self._base is not None and self._base.requires_grad:
            if self._base.is_leaf:
                raise RuntimeError("a view of a leaf Variable that requires grad is being used "
                                   "in an in-place operation.")
            raise RuntimeError("microtorch does not support in-place operations on a view of a "
                               "tensor that requires grad; use the out-of-place op or clone() "
                               "the view first")
        out = fn.apply(self, *args)
        _dtype.check_can_cast(out.dtype, self.dtype)
        if recording:
            self._snapshot_saved(out.grad_fn)
        if out.shape != self.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                               f"shape {list(out.shape)}")
        if written is not None and self._has_internal_overlap():
            part = tuple(written) + (Ellipsis,)  # (a view even when every dim is an int)
            be.copy_(be.getitem(self._data, part), be.getitem(out._data, part))
        else:
            be.copy_(self._data, out._data)
        self._version.value += 1
        if recording:
            self.grad_fn, self._output_nr = out.grad_fn, out._output_nr
            self._requires_grad = True
        return self

    def _check_broadcasts_to_self(self, *others):
        """PyTorch's error for an in-place op whose operands broadcast to a larger shape than
        this tensor's (the result would not fit), checked before anything is computed."""
        for other in others:
            shape = _util.broadcast_shapes(self.shape, other.shape)
            if shape != self.shape:
                raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the "
                                   f"broadcast shape {list(shape)}")

    def _has_internal_overlap(self, data=None):
        """Whether ``data`` (default: this tensor's memory) has elements that share a memory
        cell: a 0 stride over a dim of size > 1 (an empty array has none)."""
        data = self._data if data is None else data
        return data.size > 0 and any(st == 0 and n > 1
                                     for n, st in zip(data.shape, data.strides))

    def _check_no_internal_overlap(self, data=None):
        """PyTorch's error for an in-place write into a tensor in which several elements are one
        memory cell: a 0 stride over a dim of size > 1, as ``expand()`` makes (or a checkpoint
        holding such a view). The result would depend on the order of the writes (``add_``
        would sum into one cell), so PyTorch refuses; ``fill_`` writes one value and is
        allowed. A tensor with no elements has nothing to overlap (NumPy gives empty arrays
        zero strides). ``data`` is the part of the memory that is written (default: all)."""
        if self._has_internal_overlap(data):
            raise RuntimeError("unsupported operation: more than one element of the written-to "
                               "tensor refers to a single memory location. Please clone() the "
                               "tensor before performing the operation.")

    def _snapshot_saved(self, node):
        """If ``node`` saved this tensor for backward, save a copy instead: the in-place write
        that follows must not change the value its backward will read."""
        saved = getattr(node, "_saved", None)
        if not saved or all(entry[0] is not self for entry in saved):
            return
        snap = Tensor._make(self._backend.astype(self._data, self.dtype.np), self._device)
        snap.grad_fn, snap._output_nr = self.grad_fn, self._output_nr
        snap._requires_grad = self._requires_grad
        snap._version.value = self._version.value
        node._saved = tuple((snap,) + entry[1:] if entry[0] is self else entry
                            for entry in saved)

    def _inplace_binary(self, op, fn, other):
        """``self op= other``: a direct kernel with ``out=self`` when no graph is recorded."""
        self._check_no_internal_overlap()
        if isinstance(other, Tensor) and other.device != self.device:
            from .ops._util import check_same_device

            check_same_device(self, other)
        o = _wrap(other, self)
        needs_graph = is_grad_enabled() and (self.requires_grad or o.requires_grad)
        if needs_graph:
            return self._inplace(fn, o)
        self._check_broadcasts_to_self(o)
        result = _dtype.result_type(self, o)
        if op == "div" and not result.is_floating_point:
            result = _dtype.float32
        _dtype.check_can_cast(result, self.dtype)
        be = self._backend
        od = o._data if o.dtype is self.dtype else be.astype(o._data, self.dtype.np)
        be.binary(op, self._data, od, out=self._data)
        self._version.value += 1
        return self

    def add_(self, other, *, alpha=1):
        """In-place ``self += alpha * other``."""
        return self._inplace_binary("add", _ew.Add, _ew.times_alpha(self, other, alpha))

    def sub_(self, other, *, alpha=1):
        """In-place ``self -= alpha * other``."""
        _ew.check_sub(self, _wrap(other, self))
        return self._inplace_binary("sub", _ew.Sub, _ew.times_alpha(self, other, alpha))

    def mul_(self, other):
        """In-place ``self *= other``."""
        return self._inplace_binary("mul", _ew.Mul, other)

    def div_(self, other):
        """In-place ``self /= other``."""
        return self._inplace_binary("div", _ew.Div, other)

    def addcmul_(self, t1, t2, *, value=1):
        """In-place ``self += value * t1 * t2`` (computed in the dtype of all three)."""
        self._check_no_internal_overlap()  # PyTorch's checks: memory, shapes, then dtypes
        self._check_broadcasts_to_self(t1, t2)
        dtype = _dtype.result_type(self, t1, t2)
        _dtype.check_can_cast(dtype, self.dtype)
        if self.dtype is _dtype.bool_:
            raise _ew.not_implemented(f"addcmul_{self.device.type}_out", self.dtype)
        return self.add_(t1.to(dtype) * t2.to(dtype) * value)

    def addcdiv_(self, t1, t2, *, value=1):
        """In-place ``self += value * t1 / t2`` (``t1`` or ``t2`` must be floating point;
        computed in the dtype of all three)."""
        self._check_broadcasts_to_self(t1, t2)
        if not (t1.is_floating_point() or t2.is_floating_point()):
            raise RuntimeError(
                "Integer division with addcdiv is no longer supported, and in a future  release "
                "addcdiv will perform a true division of tensor1 and tensor2. The historic "
                "addcdiv behavior can be implemented as (input + value * torch.trunc(tensor1 / "
                "tensor2)).to(input.dtype) for integer inputs and as (input + value * tensor1 / "
                "tensor2) for float inputs. The future addcdiv behavior is just the latter "
                "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
        self._check_no_internal_overlap()
        dtype = _dtype.result_type(self, t1, t2)
        return self.add_(t1.to(dtype) / t2.to(dtype) * value)

    def lerp_(self, end, weight):
        """In-place ``self += weight * (end - self)``; ``end`` has self's floating point dtype."""
        self._check_broadcasts_to_self(end)
        if end.dtype is not self.dtype:
            raise RuntimeError(f"expected dtype {self.dtype.c_name} for `end` but got dtype "
                               f"{end.dtype.c_name}")
        self._check_no_internal_overlap()
        if not self.dtype.is_floating_point:
            kind = "tensor" if isinstance(weight, Tensor) else "scalar"
            raise _ew.not_implemented(f"lerp_kernel_{kind}", self.dtype)
        return self.add_((end - self) * weight)

    def pow_(self, exponent):
        """In-place ``self **= exponent``."""
        if isinstance(exponent, Tensor):
            self._check_broadcasts_to_self(exponent)
        return self._inplace(_ew.PowScalar if not isinstance(exponent, Tensor) else _ew.Pow,
                             exponent)

    def _inplace_float_op(self, fn):
        """An in-place op whose result is floating point (sqrt, exp...): an integer or bool
        tensor can't hold it."""
        if not self.dtype.is_floating_point:
            _dtype.check_can_cast(_dtype.float32, self.dtype)
        return self._inplace(fn)

    def sqrt_(self):
        """In-place square root."""
        return self._inplace_float_op(_ew.Sqrt)

    def exp_(self):
        """In-place exp."""
        return self._inplace_float_op(_ew.Exp)

    def neg_(self):
        """In-place negation."""
        return self._inplace(_ew.Neg)

    def relu_(self):
        """In-place ReLU."""
        return self._inplace(_ew.Relu)

    def sigmoid_(self):
        """In-place sigmoid."""
        return self._inplace_float_op(_ew.Sigmoid)

    def tanh_(self):
        """In-place tanh."""
        return self._inplace_float_op(_ew.Tanh)

    def clamp_(self, min=None, max=None):
        """In-place clamp."""
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        bounds = [b for b in (min, max) if b is not None]
        _dtype.check_can_cast(_dtype.result_type(self, *bounds), self.dtype)
        return self._inplace(_ew.Clamp, *_ew.clamp_bounds(self.dtype, min, max))

    clip_ = clamp_

    def zero_(self):
        """Fill with zeros in place."""
        return self._fill(0, _Zero)

    def fill_(self, value):
        """Fill with ``value`` in place."""
        if isinstance(value, Tensor):
            value = value.item()
        return self._fill(value, _Fill)

    def _fill(self, value, fn):
        """``fill_``/``zero_``: on a tensor that requires grad, recorded as ``fn`` (whose gradient
        is zero: the old values no longer matter); otherwise written directly (an expanded
        tensor may be filled: every element gets the same value)."""
        if is_grad_enabled() and self.requires_grad:
            return self._inplace(fn, value)
        be = self._backend
        be.copy_(self._data, be.full((), value, self.dtype.np))
        self._version.value += 1
        return self

    def copy_(self, src, non_blocking=False):
        """Copy ``src`` (broadcast, cast) into this tensor in place."""
        self._check_no_internal_overlap()
        if not isinstance(src, Tensor):
            from ._creation import tensor

            src = tensor(src)
        self._check_broadcasts_to_self(src)
        # only a floating point tensor can carry a gradient
        recording = is_grad_enabled() and self.dtype.is_floating_point and (
            self.requires_grad or src.requires_grad)
        if not recording:
            if src.device != self.device:
                src = src.to(self.device)
            self._backend.copy_(self._data, src._data)
            self._version.value += 1
            return self
        return self._inplace(_CopyFrom, src)

    def uniform_(self, a=0.0, b=1.0, generator=None):
        """Fill with samples of U[a, b) in place."""
        from . import _random

        with no_grad():
            return self.copy_(_random.rand(self.shape, dtype=self.dtype, device=self.device,
                                           generator=generator) * (b - a) + a)

    def normal_(self, mean=0.0, std=1.0, generator=None):
        """Fill with samples of N(mean, std^2) in place."""
        from . import _random

        with no_grad():
            return self.copy_(_random.randn(self.shape, dtype=self.dtype, device=self.device,
                                            generator=generator) * std + mean)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)


_dtype._TENSOR_TYPES = (Tensor,)


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


def _wrap(value, like):
    return _util.wrap(value, like)


# The ops modules import Tensor from here, so they are imported after the class exists.
from .ops import _util  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import indexing as _indexing  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import reduction as _red  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .autograd.function import Function as _Function  # noqa: E402


class _Fill(_Function):
    """out = value everywhere;  dself = 0 (the old values no longer matter)"""

    node_name = "FillBackward2"

    @staticmethod
    def forward(ctx, dst, value):
        return Tensor._make(dst._backend.full(dst.shape, value, dst.dtype.np), dst.device)

    @staticmethod
    def backward(ctx, g):
        return g * 0, None


class _Zero(_Fill):
    """``zero_()``: the same node under PyTorch's name for it."""

    node_name = "ZeroBackward0"


class _CopyFrom(_Function):
    """out = src broadcast and cast to self's shape and dtype;  dsrc = g summed back"""

    node_name = "CopyBackwards"

    @staticmethod
    def forward(ctx, dst, src):
        ctx.meta = (src.shape, src.dtype, src.device)
        be = dst._backend
        data = be.empty(dst.shape, dst.dtype.np)
        be.copy_(data, src.to(dst.device)._data)
        return Tensor._make(data, dst.device)

    @staticmethod
    def backward(ctx, g):
        shape, dtype, device = ctx.meta
        gs = _util.sum_to_shape(g, shape).to(dtype=dtype, device=device)
        return g * 0, gs
