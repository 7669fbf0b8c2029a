"""Run one case in PyTorch and in microtorch and say how they disagree (or ``None``).

The rules (PyTorch is the spec):

1. Both succeed or both raise.
2. When both raise, microtorch's exception has the same built-in class as PyTorch's (the first
   built-in class in each one's MRO: ``torch._C._LinAlgError`` counts as ``RuntimeError``), and
   is not a NumPy or Numba exception leaking through.
3. When both succeed, every output agrees on type, shape, dtype and values (``allclose`` with a
   tolerance for the dtype, NaN and inf in the same places).
4. When the outputs require grad, ``backward()`` of a random weighted sum of them succeeds or
   fails in both, and leaves the same gradient on every input leaf.

A disagreement that matches a known PyTorch quirk (:mod:`tests.fuzz.quirks`) is accepted.

Reproduce a case printed by a failing test with::

    python -m tests.fuzz.compare OP "CASE"
"""

import builtins
import math
import sys
import warnings

import numpy as np

import microtorch

from .inputs import FLOATS, build
from .quirks import known_quirk
from .specs import SPECS

# the most elements an output may have for its values and gradients to be compared
MAX_COMPARED = 10**6


def builtin_class(exc):
    """The first built-in exception class in ``type(exc)``'s MRO."""
    for cls in type(exc).__mro__:
        if cls.__module__ == "builtins":
            return cls
    return Exception


def run(lib, spec, case):
    """``(output, leaves, error)`` of the case's op in ``lib``."""
    inputs, leaves = [], []
    for desc in case["inputs"]:
        tensor, leaf = build(lib, desc)
        inputs.append(tensor)
        leaves.append(leaf if desc["requires_grad"] else None)
    try:
        return spec.call(lib, *inputs, **case["args"]), leaves, None
    except Exception as exc:  # the exception is the result being compared
        return None, leaves, exc


def describe_error(exc):
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {str(exc)[:300]}"


def compare_errors(t_exc, m_exc, what="op"):
    """Rule 2, or ``None`` when it holds."""
    module = type(m_exc).__module__.split(".")[0]
    if module not in ("builtins", "microtorch"):
        return f"{what}: microtorch leaked a {module} exception: {describe_error(m_exc)}"
    if builtin_class(m_exc) is not builtin_class(t_exc):
        return (f"{what}: both raise, but torch raises {describe_error(t_exc)}\n"
                f"  and microtorch raises {describe_error(m_exc)}")
    return None


def tolerance(dtype_name, reference):
    """(rtol, atol) for comparing values of ``dtype_name`` whose largest size is ``reference``."""
    scale = max(1.0, float(reference))
    if dtype_name.endswith("float32"):
        return 1e-4, 1e-5 * scale
    if dtype_name.endswith("float64"):
        return 1e-7, 1e-10 * scale
    return 0, 0


def compare_values(t, m, where):
    """Rule 3 on one output (tensors, scalars, tuples and lists, recursively)."""
    import torch

    if isinstance(t, torch.Tensor):
        if not isinstance(m, microtorch.Tensor):
            return f"{where}: torch returns a Tensor, microtorch a {type(m).__name__}"
        if tuple(t.shape) != tuple(m.shape):
            return f"{where}: shape {tuple(t.shape)} (torch) != {tuple(m.shape)} (microtorch)"
        if str(t.dtype) != str(m.dtype):
            return f"{where}: dtype {t.dtype} (torch) != {m.dtype} (microtorch)"
        if t.numel() > MAX_COMPARED:
            return None
        a, b = t.detach().numpy(), m.detach().numpy()
        finite = np.abs(a[np.isfinite(a)]) if a.dtype.kind == "f" else np.abs(a)
        rtol, atol = tolerance(str(t.dtype), finite.max(initial=0))
        try:
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, equal_nan=True)
        except AssertionError as e:
            return f"{where}: values differ{e}\n  torch: {a!r}\n  microtorch: {b!r}"
        return None
    if isinstance(t, (tuple, list)):
        if not isinstance(m, (tuple, list)) or len(t) != len(m):
            return f"{where}: torch returns {type(t).__name__} {t!r}, microtorch {m!r}"
        for i, (ti, mi) in enumerate(zip(t, m)):
            problem = compare_values(ti, mi, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if type(t) is not type(m):
        return (f"{where}: torch returns {type(t).__name__} {t!r}, "
                f"microtorch {type(m).__name__} {m!r}")
    if isinstance(t, float) and np.isclose(t, m, rtol=1e-5, equal_nan=True):
        return None
    if t != m:
        return f"{where}: torch returns {t!r}, microtorch {m!r}"
    return None


def flat_tensors(out, lib):
    """The tensors inside an output (a tensor, or nested tuples/lists of them)."""
    if isinstance(out, lib.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat_tensors(o, lib)]
    return []


def backward(lib, out, seed):
    """``sum(out_i * w_i)`` over the outputs that require grad, then ``backward()``."""
    rng = np.random.default_rng(seed)
    try:
        total = None
        for t in flat_tensors(out, lib):
            if t.requires_grad and t.numel() <= MAX_COMPARED:
                w = lib.tensor(rng.standard_normal(tuple(t.shape)), dtype=t.dtype)
                term = (t * w).sum()
                total = term if total is None else total + term
        if total is None:
            return None
        total.backward()
    except Exception as exc:
        return exc
    return None


def compare_case(name, case):
    """The disagreement between torch and microtorch on ``case`` of op ``name``, or ``None``
    (also when the disagreement is a known PyTorch quirk, see :mod:`tests.fuzz.quirks`)."""
    t, m = {"case": case}, {"case": case, "op": name}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m["problem"] = disagreement(name, t, m)
        if m["problem"] is not None and known_quirk(name, case, t, m):
            return None
    return m["problem"]


def disagreement(name, t, m):
    """Rules 1-4 on the case ``t["case"]`` run in torch and ``m["case"]`` in microtorch; each
    dict gets what its library did (``out``, ``leaves``, ``exc``, ``backward``)."""
    import torch

    spec = SPECS[name]
    case = m["case"]
    t["out"], t["leaves"], t["exc"] = run(torch, spec, t["case"])
    m["out"], m["leaves"], m["exc"] = run(microtorch, spec, case)
    t_leaves, m_leaves = t["leaves"], m["leaves"]
    t["backward"] = m["backward"] = None
    t_out, m_out, t_exc, m_exc = t["out"], m["out"], t["exc"], m["exc"]
    if t_exc is not None and m_exc is not None:
        return compare_errors(t_exc, m_exc)
    if t_exc is not None:
        return (f"torch raises {describe_error(t_exc)}\n  but microtorch succeeds with "
                f"{short(m_out)}")
    if m_exc is not None:
        return (f"torch succeeds with {short(t_out)}\n  but microtorch raises "
                f"{describe_error(m_exc)}")
    problem = compare_values(t_out, m_out, "output")
    if problem:
        return problem
    t_req = [o.requires_grad for o in flat_tensors(t_out, torch)]
    m_req = [o.requires_grad for o in flat_tensors(m_out, microtorch)]
    if t_req != m_req:
        return f"requires_grad of the outputs: {t_req} (torch) != {m_req} (microtorch)"
    t_exc = t["backward"] = backward(torch, t_out, 1)
    m_exc = m["backward"] = backward(microtorch, m_out, 1)
    if t_exc is not None and m_exc is not None:
        return compare_errors(t_exc, m_exc, "backward")
    if (t_exc is None) != (m_exc is None):
        return (f"backward: torch {'raises ' + describe_error(t_exc) if t_exc else 'succeeds'}"
                f", microtorch {'raises ' + describe_error(m_exc) if m_exc else 'succeeds'}")
    for i, (tl, ml) in enumerate(zip(t_leaves, m_leaves)):
        if tl is None or not case["inputs"][i]["dtype"] in FLOATS:
            continue
        if (tl.grad is None) != (ml.grad is None):
            return f"grad of input {i}: torch {tl.grad}, microtorch {ml.grad}"
        if tl.grad is not None:
            problem = compare_values(tl.grad, ml.grad, f"grad of input {i}")
            if problem:
                return problem
    return None


def short(out):
    """A one-line summary of an op's output."""
    text = repr(out).replace("\n", " ")
    return text if len(text) < 200 else text[:200] + "..."


def main(argv):
    """``python -m tests.fuzz.compare OP "CASE"``: print both results and their disagreement."""
    # a case is a Python literal, but for the floats inf and nan
    name, case = argv[1], eval(argv[2], {"__builtins__": {}}, {"inf": math.inf, "nan": math.nan})
    import torch

    for lib in (torch, microtorch):
        out, _, exc = run(lib, SPECS[name], case)
        builtins.print(f"{lib.__name__}: {describe_error(exc) if exc else short(out)}")
    builtins.print("disagreement:", compare_case(name, case))


if __name__ == "__main__":
    main(sys.argv)
