"""Function forms of tensor methods: ``microtorch.exp(x)`` is ``x.exp()``, and so on."""

from .ops import indexing as _indexing
from .ops import linalg as _linalg


def abs(input):
    """Absolute value."""
    return input.abs()


def neg(input):
    """``-input``."""
    return -input


def exp(input):
    """e to the power of each element."""
    return input.exp()


def erf(input):
    """Gauss error function, ``2/sqrt(pi) * integral from 0 to input of exp(-t**2) dt``."""
    return input.erf()


def log(input):
    """Natural logarithm."""
    return input.log()


def sqrt(input):
    """Square root."""
    return input.sqrt()


def rsqrt(input):
    """1 / sqrt(input)."""
    return input.rsqrt()


def sin(input):
    """Sine."""
    return input.sin()


def cos(input):
    """Cosine."""
    return input.cos()


def tanh(input):
    """Hyperbolic tangent."""
    return input.tanh()


def sigmoid(input):
    """Logistic sigmoid."""
    return input.sigmoid()


def relu(input):
    """max(input, 0)."""
    return input.relu()


def sign(input):
    """-1, 0 or 1 by sign."""
    return input.sign()


def softmax(input, dim, *, dtype=None):
    """``exp(input) / exp(input).sum(dim, keepdim=True)`` along ``dim`` (computed in ``dtype``
    when given); the same as :func:`microtorch.nn.functional.softmax`."""
    return input.softmax(dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """``input - logsumexp(input, dim, keepdim=True)`` along ``dim`` (computed in ``dtype`` when
    given); the same as :func:`microtorch.nn.functional.log_softmax`."""
    return input.log_softmax(dim, dtype=dtype)


def square(input):
    """``input ** 2``."""
    return input ** 2


def pow(input, exponent):
    """``input ** exponent`` (either may be a Python number)."""
    from ._tensor import Tensor

    if not isinstance(input, Tensor):
        return exponent.__rpow__(input)
    return input ** exponent


def add(input, other, *, alpha=1):
    """``input + alpha * other``."""
    return input.add(other, alpha=alpha)


def sub(input, other, *, alpha=1):
    """``input - alpha * other``."""
    return input.sub(other, alpha=alpha)


def mul(input, other):
    """``input * other``."""
    return input * other


def div(input, other):
    """``input / other``."""
    return input / other


def clip(input, min=None, max=None):
    """Alias of :func:`microtorch.clamp`."""
    return input.clamp(min, max)


def dot(input, other):
    """Dot product of two 1-D tensors."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return _linalg.matmul(input, other)


def concat(tensors, dim=0):
    """Alias of :func:`microtorch.cat`."""
    return _indexing.cat(tensors, dim)


concatenate = concat


def eq(input, other):
    """``input == other`` elementwise."""
    return input == other


def ne(input, other):
    """``input != other`` elementwise."""
    return input != other


def lt(input, other):
    """``input < other`` elementwise."""
    return input < other


def le(input, other):
    """``input <= other`` elementwise."""
    return input <= other


def gt(input, other):
    """``input > other`` elementwise."""
    return input > other


def ge(input, other):
    """``input >= other`` elementwise."""
    return input >= other


def equal(input, other):
    """True when both tensors have the same shape and values."""
    return input.equal(other)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when all values are close."""
    return input.allclose(other, rtol, atol, equal_nan)
