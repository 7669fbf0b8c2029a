# TEMPORARY numpy reference used while Numba kernels land. DELETE before commit.
import numpy as np
_U = {"neg": np.negative, "abs": np.abs, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
      "rsqrt": lambda x: 1 / np.sqrt(x), "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
      "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "relu": lambda x: np.maximum(x, 0),
      "sign": np.sign, "reciprocal": lambda x: 1 / x}
_B = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
      "pow": np.power, "maximum": np.maximum, "minimum": np.minimum, "eq": np.equal,
      "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
      "ge": np.greater_equal}
def unary(op, x, out=None):
    r = np.asarray(_U[op](x)).astype(x.dtype)
    if out is not None:
        out[...] = r; return out
    return r
def binary(op, a, b, out=None):
    r = np.asarray(_B[op](a, b))
    if op not in ("eq","ne","lt","le","gt","ge"):
        r = r.astype(a.dtype)
    if out is not None:
        out[...] = r; return out
    return r
def where(c, a, b): return np.where(c, a, b)
def clamp(x, lo, hi, out=None):
    r = np.clip(x, lo, hi).astype(x.dtype)
    if out is not None:
        out[...] = r; return out
    return r
def reduce(op, x, axes, keepdim):
    f = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}[op]
    r = np.asarray(f(x, axis=axes, keepdims=keepdim))
    return r.astype(np.int64) if x.dtype.kind in "biu" and op in ("sum","prod") else r.astype(x.dtype) if op in ("max","min") else r.astype(x.dtype)
def arg_reduce(op, x, axis, keepdim):
    f = np.argmax if op == "argmax" else np.argmin
    return np.asarray(f(x, axis=axis, keepdims=keepdim)).astype(np.int64)
def matmul(a, b): return np.matmul(a, b)
