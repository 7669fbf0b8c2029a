"""Data types and PyTorch's type-promotion rules."""

import numpy as np


class dtype:
    """A tensor element type, printed as PyTorch prints it (``torch.float32``)."""

    def __init__(self, name, np_dtype, category, itemsize, scalar_name, c_name, cpp_name):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category  # 0 bool, 1 integer, 2 floating point
        self.itemsize = itemsize
        self.scalar_name = scalar_name  # PyTorch's ScalarType name, as its errors print it
        self.c_name = c_name  # the C type name some PyTorch errors print instead
        self.cpp_name = cpp_name  # the C++ type name of PyTorch's overflow errors ("int64_t")

    @property
    def tensor_type_name(self):
        """PyTorch's legacy tensor type name, ``'FloatTensor'`` (``x.type()`` prefixes
        ``torch.``)."""
        return self.scalar_name + "Tensor"

    @property
    def storage_name(self):
        """PyTorch's storage class name, ``'FloatStorage'`` (as checkpoints record it)."""
        return self.scalar_name + "Storage"

    @property
    def is_floating_point(self):
        """True for float32 and float64."""
        return self.category == 2

    @property
    def is_signed(self):
        """True for every dtype except bool and uint8."""
        return self.name not in ("bool", "uint8")

    def __repr__(self):
        return f"torch.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


# The one table of dtype names: name, NumPy dtype, category, bytes, ScalarType, C, C++ names
bool_ = dtype("bool", np.bool_, 0, 1, "Bool", "bool", "bool")
uint8 = dtype("uint8", np.uint8, 1, 1, "Byte", "unsigned char", "uint8_t")
int32 = dtype("int32", np.int32, 1, 4, "Int", "int", "int")
int64 = dtype("int64", np.int64, 1, 8, "Long", "long int", "int64_t")
float32 = dtype("float32", np.float32, 2, 4, "Float", "float", "float")
float64 = dtype("float64", np.float64, 2, 8, "Double", "double", "double")

ALL = (bool_, uint8, int32, int64, float32, float64)
_FROM_NP = {d.np: d for d in ALL}
_RANK = {d: i for i, d in enumerate(ALL)}


def _by_name(name):
    return {d.name: d for d in ALL}[name]


def from_numpy_dtype(np_dtype):
    """The microtorch dtype of a NumPy dtype; raises TypeError for unsupported ones."""
    np_dtype = np.dtype(np_dtype)
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        if np_dtype == np.float16:
            return float32
        if np_dtype.kind in "iu":
            return int64
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{np_dtype}. The only supported types are: "
            "float64, float32, int64, int32, uint8, and bool."
        ) from None


def can_cast(from_, to):
    """PyTorch's rule for writing a result into an existing tensor (in-place ops, ``out=``):
    no conversion to a lower category (float to integer, integer to bool)."""
    return from_.category <= to.category


def check_can_cast(result, output):
    """Raise PyTorch's error when an op's ``result`` dtype can't be written into ``output``'s."""
    if not can_cast(result, output):
        raise RuntimeError(f"result type {result.scalar_name} can't be cast to the desired "
                           f"output type {output.scalar_name}")


def get_default_dtype():
    """The default floating point dtype (float32)."""
    return float32


def promote_types(a, b):
    """The smallest dtype both ``a`` and ``b`` convert to without losing category."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return a if _RANK[a] > _RANK[b] else b


def scalar_dtype(value):
    """The dtype PyTorch gives a Python scalar: bool, int64 or the default float."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    return float32


def result_type(*operands):
    """PyTorch's promotion: dimensioned tensors win over 0-d tensors over Python scalars,
    unless a lower-priority operand is of a higher category (bool < integer < float).

    A tensor is told from a Python scalar by its ``dtype``, a microtorch dtype (this module
    sits below the Tensor class and does not import it)."""
    levels = [None, None, None]  # dimensioned tensors, 0-d tensors, scalars
    for x in operands:
        if isinstance(getattr(x, "dtype", None), dtype):
            lvl, d = (0 if x._data.ndim > 0 and not x._wrapped_number else
                      1 if not x._wrapped_number else 2), x.dtype
        else:
            lvl, d = 2, scalar_dtype(x)
        levels[lvl] = d if levels[lvl] is None else promote_types(levels[lvl], d)
    result = levels[0]
    for lvl in (1, 2):
        d = levels[lvl]
        if d is None:
            continue
        if result is None:  # only scalars: Python's types, whatever a wrapped number holds
            result = d if lvl == 1 else {0: bool_, 1: int64, 2: float32}[d.category]
        elif d.category > result.category:
            result = d if lvl == 1 else {1: int64, 2: float32}[d.category]
    return result
