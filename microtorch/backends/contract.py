"""The kernel contract: every device backend implements exactly these functions.

The ops layer (``microtorch/ops``) computes *only* through these names, so a new device is a new
module that implements this list. Arrays are the device's native arrays (``numpy.ndarray`` on the
CPU, numba's ``DeviceNDArray`` on CUDA). Shapes, dtypes and indices are validated by the ops
layer before a kernel runs; kernels may assume:

* binary inputs have the same dtype and broadcastable shapes (any strides, 0-strides included);
* ``axes`` are non-negative, sorted and unique; ``axis`` is non-negative;
* dtypes are numpy dtypes from :data:`microtorch._dtype` (float32, float64, int64, int32, uint8,
  bool); integer arithmetic wraps around on overflow, bitwise ops get bool or integer arrays.

Functions that take ``out=`` write there (it has the result's shape and dtype) and return it.

The path from an op to its kernel
---------------------------------
An op lives in (at most) three source files:

1. its ``microtorch/ops`` module, which declares any *new* contract name it needs next to the
   op that uses it: an entry point with :func:`declare` (``declare("attention", "attention(q,
   k, v, scale) -> out")``) or an op name of an existing entry point with :func:`declare_unary`,
   :func:`declare_binary` or :func:`declare_reduce` (``declare_binary("hypot", "sqrt(a*a +
   b*b)")``); the core names below are declared here;
2. the CPU kernel module (``microtorch/backends/cpu/<module>.py``), which registers the kernel
   beside its code with that backend's :class:`Registry` (``@REGISTRY.kernel("attention")``,
   ``@REGISTRY.reference("attention")`` for the short textbook version, or
   ``REGISTRY.op("binary", "hypot")`` for an op name that an entry point branches on);
3. the CUDA kernel module (``microtorch/backends/cuda/<module>.py``), the same way.

Each backend's ``kernels`` module builds its namespace and ``__all__`` from its registry; no list
is kept by hand anywhere else. ``tests/backends/test_backend_contract.py`` checks, after
``import microtorch``, that every backend registers exactly the declared names.

Data movement and reference kernels
-----------------------------------
Every *compute* entry point (elementwise, reductions, matmul, nn kernels) has, on the CPU, a
short textbook reference kernel beside the fast one (see
:func:`microtorch.backends.cpu.use_reference_kernels`). The entries of :data:`DATA_MOVEMENT`
(allocation, views, copies, random numbers, indexing) do no arithmetic: they are NumPy data
movement and are their own reference.
"""

UNARY_OPS = {}
"""Op names of the ``unary`` entry point: name -> formula (a dict, so ops modules can add)."""
BINARY_OPS = {}
"""Op names of the ``binary`` entry point: name -> formula; comparisons give bool."""
REDUCE_OPS = {}
"""Op names of the ``reduce`` entry point: name -> formula."""
ARG_REDUCE_OPS = {}
"""Op names of the ``arg_reduce`` entry point: name -> formula."""

OP_NAMES = {"unary": UNARY_OPS, "binary": BINARY_OPS, "reduce": REDUCE_OPS,
            "arg_reduce": ARG_REDUCE_OPS}
"""The entry points that take an op name, each with its declared op names."""

KERNELS = {}
"""Every entry point of the contract: name -> signature doc."""
DATA_MOVEMENT = set()
"""Entry points that only move data (NumPy on the CPU): they have no separate reference kernel."""


def declare(name, signature, data_movement=False):
    """Declare the contract entry point ``name`` with its ``signature`` doc (``"f(x) -> y"``).

    ``data_movement=True`` marks an entry that does no arithmetic (it then needs no reference
    kernel). Declaring a name again with the same signature is allowed (a module imported
    twice); with another signature it is an error."""
    if KERNELS.get(name, signature) != signature:
        raise ValueError(f"contract entry point {name!r} is already declared as {KERNELS[name]!r}")
    KERNELS[name] = signature
    if data_movement:
        DATA_MOVEMENT.add(name)


def _declare_op(kind, name, formula):
    table = OP_NAMES[kind]
    if table.get(name, formula) != formula:
        raise ValueError(f"{kind} op {name!r} is already declared as {table[name]!r}")
    table[name] = formula


def declare_unary(name, formula):
    """Declare the op name ``name`` of the ``unary`` entry point (``formula`` documents it)."""
    _declare_op("unary", name, formula)


def declare_binary(name, formula):
    """Declare the op name ``name`` of the ``binary`` entry point (``formula`` documents it)."""
    _declare_op("binary", name, formula)


def declare_reduce(name, formula):
    """Declare the op name ``name`` of the ``reduce`` entry point (``formula`` documents it)."""
    _declare_op("reduce", name, formula)


class Registry:
    """What one backend implements, registered beside each kernel.

    A backend module registers its entry points with ``@REGISTRY.kernel(name)`` (the fast
    kernel) and ``@REGISTRY.reference(name)`` (the textbook kernel, CPU), and the op names an
    entry point branches on with ``REGISTRY.op(kind, name, value)`` (or :meth:`codes` for named
    integer codes); a CUDA module records its launch signatures with :meth:`launches`. The
    backend's ``kernels`` module then exports :meth:`table`.
    """

    def __init__(self, backend):
        self.backend = backend
        self.kernels = {}
        self.references = {}
        self.ops = {kind: {} for kind in OP_NAMES}
        self.signatures = []

    def kernel(self, name):
        """Decorator: register the function as this backend's kernel for entry point ``name``."""
        def register(fn):
            self._put(self.kernels, name, fn)
            return fn
        return register

    def reference(self, name):
        """Decorator: register the function as the textbook reference kernel of ``name``."""
        def register(fn):
            self._put(self.references, name, fn)
            return fn
        return register

    def op(self, kind, name, value=None):
        """Register op name ``name`` of entry point ``kind`` (``"unary"``, ``"binary"``...)
        with ``value`` (the kernel or code that implements it); returns ``value``. Without
        ``value`` it is a decorator that registers the decorated function."""
        if value is None:
            return lambda fn: self.op(kind, name, fn)
        self._put(self.ops[kind], name, value)
        return value

    def launches(self, kernel, *argtypes):
        """Record each tuple of ``argtypes`` (numba types) that device ``kernel`` is launched
        with (CUDA: ``tests/cuda_ptx`` compiles every pair to PTX); returns ``kernel``."""
        self.signatures.extend((kernel, tuple(types)) for types in argtypes)
        return kernel

    def codes(self, kind):
        """A new :class:`OpCodes` family of named integer codes for op names of ``kind``."""
        return OpCodes(self, kind)

    def op_names(self, kind):
        """The op names of entry point ``kind`` this backend registered."""
        return set(self.ops[kind])

    def table(self, reference=False):
        """``{name: function}`` of every registered entry point; with ``reference=True`` the
        reference kernels replace the fast ones where one is registered."""
        table = dict(self.kernels)
        if reference:
            table.update(self.references)
        return table

    def _put(self, table, name, value):
        if name in table and table[name] is not value:
            raise ValueError(f"{self.backend}: {name!r} is registered twice")
        table[name] = value


class OpCodes:
    """Named integer codes for a family of op names that one kernel branches on
    (``if code == ADD``). ``ADD = ARITH.add("add")`` gives the next code and registers the op
    name with the backend; ``ARITH.codes`` maps names to codes."""

    def __init__(self, registry, kind):
        self.registry = registry
        self.kind = kind
        self.codes = {}

    def add(self, name):
        """The next integer code, for op name ``name`` (registered with the backend)."""
        code = len(self.codes)
        self.codes[name] = code
        self.registry.op(self.kind, name, code)
        return code

    def __contains__(self, name):
        return name in self.codes

    def __getitem__(self, name):
        return self.codes[name]


_REGISTRIES = {}


def registry(backend):
    """The one :class:`Registry` of ``backend`` (``"cpu"``, ``"cuda"``), made on first use."""
    if backend not in _REGISTRIES:
        _REGISTRIES[backend] = Registry(backend)
    return _REGISTRIES[backend]


# ---- the core contract ----------------------------------------------------------------------
for _name, _formula in (("neg", "-x"), ("abs", "|x|"), ("exp", "e**x"), ("log", "ln x"),
                        ("sqrt", "x**0.5"), ("rsqrt", "1 / x**0.5"), ("sin", "sin x"),
                        ("cos", "cos x"), ("tanh", "tanh x"), ("sigmoid", "1 / (1 + e**-x)"),
                        ("relu", "max(x, 0), NaN stays NaN"), ("sign", "-1, 0 or 1 (NaN: 0)"),
                        ("reciprocal", "1 / x"), ("erf", "the error function")):
    declare_unary(_name, _formula)
for _name, _formula in (("add", "a + b"), ("sub", "a - b"), ("mul", "a * b"),
                        ("div", "a / b (floor division for integers)"), ("pow", "a ** b"),
                        ("maximum", "max(a, b), NaN propagates"),
                        ("minimum", "min(a, b), NaN propagates"),
                        ("bitwise_and", "a & b"), ("bitwise_or", "a | b"),
                        ("bitwise_xor", "a ^ b"),
                        ("eq", "a == b"), ("ne", "a != b"), ("lt", "a < b"), ("le", "a <= b"),
                        ("gt", "a > b"), ("ge", "a >= b")):
    declare_binary(_name, _formula)
for _name, _formula in (("sum", "a + b + ..."), ("prod", "a * b * ..."),
                        ("max", "the largest, NaN propagates"),
                        ("min", "the smallest, NaN propagates")):
    declare_reduce(_name, _formula)
ARG_REDUCE_OPS.update(argmax="index of the first largest (NaN counts as largest)",
                      argmin="index of the first smallest (NaN counts as smallest)")

for _name, _signature in (
        # memory
        ("empty", "empty(shape, dtype) -> new uninitialised array"),
        ("full", "full(shape, value, dtype) -> new array filled with value"),
        ("arange", "arange(start, end, step, dtype) -> 1-D array"),
        ("from_numpy", "from_numpy(ndarray) -> device array (the CPU shares memory)"),
        ("to_numpy", "to_numpy(array) -> numpy.ndarray (the CPU shares memory)"),
        ("contiguous", "contiguous(x) -> x if C-contiguous, else a C-contiguous copy"),
        ("astype", "astype(x, dtype) -> new array of that dtype"),
        ("copy_", "copy_(dst, src) -> dst, src broadcast to dst's shape and cast to its dtype"),
        # views (share memory with x)
        ("view", "view(x, shape) -> x with a new shape sharing memory, or None if strides "
                 "forbid it"),
        ("permute", "permute(x, dims) -> x with axes reordered, sharing memory"),
        ("expand", "expand(x, shape) -> x broadcast to shape with 0-strides, sharing memory"),
        # random numbers; gen is the device's generator object
        ("uniform", "uniform(shape, dtype, gen) -> samples of U[0, 1)"),
        ("normal", "normal(shape, dtype, gen) -> samples of N(0, 1)"),
        ("randint", "randint(low, high, shape, gen) -> int64 samples of [low, high)"),
        # indexing
        ("getitem", "getitem(x, index) -> x[index] (numpy indexing; views for basic indices)"),
        ("setitem", "setitem(x, index, value) -> writes value into x[index]"),
        ("index_add", "index_add(out, index, value) -> out[index] += value, accumulating "
                      "repeats"),
        ("gather", "gather(x, dim, index) -> out[i][j] = x[index[i][j]][j] (for dim=0), etc."),
        ("scatter_add", "scatter_add(out, dim, index, src) -> out[index[i][j]][j] += "
                        "src[i][j], ..."),
        ("cat", "cat(arrays, dim) -> concatenation")):
    declare(_name, _signature, data_movement=True)

for _name, _signature in (
        # elementwise
        ("unary", "unary(op, x, out=None) -> op(x); op in UNARY_OPS"),
        ("binary", "binary(op, a, b, out=None) -> op(a, b) broadcast; comparisons give bool"),
        ("where", "where(cond, a, b) -> broadcast select"),
        ("clamp", "clamp(x, lo, hi, out=None) -> x clipped to [lo, hi]; lo or hi may be None"),
        # reductions
        ("reduce", "reduce(op, x, axes, keepdim) -> op over axes; op in REDUCE_OPS"),
        ("arg_reduce", "arg_reduce(op, x, axis, keepdim) -> int64 indices; op in "
                       "ARG_REDUCE_OPS"),
        # linear algebra
        ("matmul", "matmul(a, b) -> a @ b for a (..., M, K), b (..., K, N), batch dims "
                   "broadcast"),
        # neural-network kernels (NCHW, C-contiguous float arrays; the geometry is a named
        # tuple of microtorch.backends.geometry)
        ("conv2d", "conv2d(x, w, geometry) -> y; geometry a geometry.Conv2dGeometry(stride, "
                   "padding, dilation, groups)"),
        ("conv2d_grad_input", "conv2d_grad_input(gy, w, x_shape, geometry) -> gx"),
        ("conv2d_grad_weight", "conv2d_grad_weight(x, gy, w_shape, geometry) -> gw"),
        ("max_pool2d", "max_pool2d(x, geometry) -> (y, argmax); geometry a "
                       "geometry.MaxPool2dGeometry(kernel, stride, padding, dilation, ceil_mode)"),
        ("max_pool2d_backward", "max_pool2d_backward(gy, argmax, x_shape) -> gx"),
        ("avg_pool2d", "avg_pool2d(x, geometry) -> y; geometry a geometry.AvgPool2dGeometry("
                       "kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)"),
        ("avg_pool2d_backward", "avg_pool2d_backward(gy, x_shape, geometry) -> gx"),
        ("adaptive_avg_pool2d", "adaptive_avg_pool2d(x, output_size) -> y (torch's floor/ceil "
                                "bins)"),
        ("adaptive_avg_pool2d_backward", "adaptive_avg_pool2d_backward(gy, x_shape) -> gx"),
        ("batch_norm", "batch_norm(x, weight, bias, mean, invstd) -> y, per channel (axis 1)"),
        ("batch_norm_stats", "batch_norm_stats(x) -> (mean, biased var) per channel (axis 1)"),
        ("batch_norm_backward", "batch_norm_backward(gy, x, weight, mean, invstd, training) "
                                "-> (gx, gweight, gbias)"),
        ("softmax", "softmax(x, axis, log) -> softmax or log_softmax along axis"),
        ("softmax_backward", "softmax_backward(gy, y, axis, log) -> gx given the forward "
                             "output y")):
    declare(_name, _signature)
del _name, _formula, _signature
