"""Known PyTorch quirks that microtorch deliberately does not imitate.

PyTorch is the spec, but on a few pathological inputs PyTorch itself is wrong or inconsistent
(a wrong gradient, an internal assert, an error from the middle of its implementation). There,
microtorch does the sensible thing, and the fuzzer accepts the disagreement *only* when it
matches one entry of :data:`QUIRKS`: the op's name and a precise predicate on the case and on
what each library did. Every other disagreement still fails.

A predicate receives ``(case, t, m)``: the case, and what torch (``t``) and microtorch (``m``)
did, as dicts with the keys ``out`` (the output, or ``None``), ``exc`` (the exception the op
raised, or ``None``), ``backward`` (the exception ``backward()`` raised, or ``None``),
``leaves`` (the input leaves; ``None`` for those that do not require grad), and in ``m`` only
``problem`` (the disagreement found) and ``op`` (the op's name).
"""

import math
from typing import Callable, NamedTuple

import numpy as np

FLOATS = ("float32", "float64")


class Quirk(NamedTuple):
    """One known PyTorch quirk: the ops it concerns, when it applies, and why microtorch
    does not imitate it."""

    ops: tuple
    applies: Callable
    reason: str


def _raised(result, cls, text=""):
    """Whether ``result``'s op raised an exception of class ``cls`` whose message has ``text``."""
    exc = result["exc"]
    return isinstance(exc, cls) and text in str(exc)


def _succeeded(result):
    return result["exc"] is None


def _index_items(case, kind):
    return [item for item in case["args"].get("index", ()) if item[0] == kind]


def _too_large_for_numpy(case, t, m):
    """torch made a tensor whose nonzero sizes need 2**63 bytes or more (its strides are 0,
    or another size is 0); microtorch says NumPy cannot hold it."""
    import torch

    if not (_succeeded(t) and _raised(m, RuntimeError, "microtorch stores tensors in NumPy")):
        return False
    out = t["out"]
    if isinstance(out, tuple) and isinstance(out[0], torch.Tensor):  # a layer: (output, params)
        out = out[0]
    if isinstance(out, tuple):  # empty(): (shape, dtype name), see specs._no_values
        shape, dtype = out
        out = torch.empty(0, dtype=getattr(torch, dtype.replace("torch.", "")))
    elif isinstance(out, torch.Tensor):
        shape = out.shape
    else:
        return False
    return math.prod(n for n in shape if n) * out.element_size() > 2**63 - 1


def _gelu_of_inf(case, t, m):
    """float32 gelu(+inf): torch's vectorised float32 kernel gives NaN (its float64 kernel gives
    inf); microtorch gives inf. Accepted only where the input is +inf and nothing else differs."""
    if not (_succeeded(t) and _succeeded(m) and m["problem"].startswith("output: values")):
        return False
    x = _numpy_input(case["inputs"][0])
    a, b = t["out"].detach().numpy(), m["out"].detach().numpy()
    differ = ~((a == b) | (np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=1e-4, atol=1e-5))
    return bool(np.all((x[differ] == np.inf) & np.isnan(a[differ]) & (b[differ] == np.inf)))


def _numpy_input(desc):
    """The values of an input, as NumPy builds them for both libraries."""
    import torch

    from .inputs import build

    return build(torch, desc)[0].detach().numpy()


def _var_without_degrees_of_freedom(case, t, m):
    """var/std with ``correction`` >= the number of reduced elements: both give inf or NaN,
    and torch's infinite gradient ignores the sign of ``x - mean``; accepted when the two
    gradients agree up to that sign."""
    shape, dim = case["inputs"][0]["shape"], case["args"]["dim"]
    if dim is None or dim == ():
        dim = tuple(range(len(shape)))
    dims = {d % len(shape) for d in (dim if isinstance(dim, tuple) else (dim,))} if shape else ()
    n = math.prod(shape[d] for d in dims)
    if case["args"]["correction"] < n or not m["problem"].startswith("grad of input 0"):
        return False
    a, b = t["leaves"][0].grad.numpy(), m["leaves"][0].grad.numpy()
    return bool(np.array_equal(np.abs(a), np.abs(b), equal_nan=True))


def _std_var_empty_dim(case, t, m):
    """``dim=()`` (all dims): torch's gradient differs from its own gradient for the same
    reduction written ``dim=(0, 1, ...)``, which microtorch's matches."""
    from .compare import disagreement

    if case["args"].get("dim") != () or not m["problem"].startswith("grad of input"):
        return False
    ndim = len(case["inputs"][0]["shape"])
    all_dims = dict(case, args=dict(case["args"], dim=tuple(range(ndim))))
    return disagreement(m["op"], {"case": all_dims}, {"case": case}) is None


def _empty_result_out_of_bounds(case, t, m):
    """An out-of-bounds index tensor that selects nothing (another dim is 0): torch skips the
    bounds check because nothing is copied."""
    if not (_succeeded(t) and _raised(m, IndexError, "out of bounds")):
        return False
    if not (_index_items(case, "tensor") or _index_items(case, "list")):
        return False
    return 0 in case["inputs"][0]["shape"]


def _matmul_bool_empty_inner(case, t, m):
    """bool (n, 0) @ (0, m): torch returns zeros, though it refuses every other bool product."""
    x, y = case["inputs"][:2]
    return (x["dtype"] == y["dtype"] == "bool" and x["shape"] and x["shape"][-1] == 0
            and _succeeded(t) and _raised(m, NotImplementedError))


def _float32_rounding(case, t, m):
    """Values or gradients that agree to float32 precision (relative 1e-6) where float32 scores
    meet a float64 operand: the result is float64, so the fuzzer's float64 tolerance sees the
    1-2 ulps by which two float32 log-softmax kernels may differ."""
    if case["inputs"][0]["dtype"] != "float32" or not (_succeeded(t) and _succeeded(m)):
        return False
    problem = m["problem"]
    if problem.startswith("output: values"):
        a, b = t["out"], m["out"]
    elif problem.startswith("grad of input "):
        i = int(problem.split()[3].rstrip(":"))
        a, b = t["leaves"][i].grad, m["leaves"][i].grad
    else:
        return False
    a, b = a.detach().numpy(), b.detach().numpy()
    return bool(np.allclose(a, b, rtol=1e-6, atol=1e-7, equal_nan=True))


def _index_put_into_overlap(case, t, m):
    """An advanced-index write into an expanded tensor: torch deprecates it (a warning) and
    writes through the aliased memory; microtorch refuses, as PyTorch's other in-place ops do."""
    return (case["inputs"][0]["layout"] == "expanded"
            and (_index_items(case, "tensor") or _index_items(case, "list"))
            and _succeeded(t)
            and _raised(m, RuntimeError, "refers to a single memory location"))


def _float32_softmax_of_float64(case, t, m):
    """softmax(x, dtype=float32) of a float64 x: both compute in float32 and cast the gradient
    back to float64, where the fuzzer's float64 tolerance sees the float32 ulps by which two
    softmax kernels may differ. Accepted when the gradients agree to float32 precision."""
    if not (case["inputs"][0]["dtype"] == "float64" and case["args"]["dtype"] == "float32"
            and m["problem"].startswith("grad of input 0")):
        return False
    a, b = t["leaves"][0].grad.numpy(), m["leaves"][0].grad.numpy()
    finite = np.abs(a[np.isfinite(a)])
    return bool(np.allclose(a, b, rtol=1e-4, atol=1e-5 * max(1.0, finite.max(initial=0)),
                            equal_nan=True))


def _std_of_a_rounded_constant(case, t, m):
    """std of values that are equal up to rounding: both results are 0 or a float rounding
    error of the mean (1e-7 relative), where the derivative of sqrt is infinite; torch gives 0
    where its std is exactly 0, so the gradients depend on the last bit of each mean."""
    if not (_succeeded(t) and _succeeded(m) and m["problem"].startswith("grad of input 0")):
        return False
    x = np.abs(_numpy_input(case["inputs"][0]))
    if x.size == 0 or not np.all(np.isfinite(x)):
        return False
    a, b = np.abs(t["out"].detach().numpy()), np.abs(m["out"].detach().numpy())
    eps = 4 * np.finfo(a.dtype).eps * max(1.0, float(x.max()))
    return bool(np.all(a <= eps) and np.all(b <= eps))


def _conv_of_an_empty_batch(case, t, m):
    """A convolution of an input without elements: torch skips its checks of the kernel size,
    dilation and dtypes (or fails in an internal ``select()``); microtorch checks them
    whatever the input, with PyTorch's message for a non-empty input."""
    if 0 not in case["inputs"][0]["shape"]:
        return False
    if not (_succeeded(t) or _raised(t, Exception, "select()")):
        return False
    return any(_raised(m, RuntimeError, text) for text in (
        "kernel size should be greater than zero", "dilation should be greater than zero",
        "expected scalar type"))


def _float32_gradient_of_a_float64_scalar(case, t, m):
    """A 0-d float64 tensor combined with a float32 tensor: the result is float32, so the
    0-d input's float64 gradient is a float32 sum, whose order (and so its last ulps) differs
    between the two libraries. Accepted when the gradients agree to float32 precision."""
    x = case["inputs"][0]
    if not (x["shape"] == () and x["dtype"] == "float64" and _succeeded(t) and _succeeded(m)
            and str(t["out"].dtype) == "torch.float32"
            and m["problem"].startswith("grad of input 0")):
        return False
    a, b = t["leaves"][0].grad.numpy(), m["leaves"][0].grad.numpy()
    return bool(np.allclose(a, b, rtol=1e-6, atol=1e-7, equal_nan=True))


QUIRKS = [
    Quirk(("Tensor.addcmul_",),
          lambda case, t, m: (case["inputs"][0]["dtype"] in ("int32", "int64", "uint8")
                              and _succeeded(t)
                              and _raised(m, RuntimeError, "can't be cast to the desired")),
          "integer self with a float value (0.5): torch silently turns value into 0; microtorch "
          "refuses the float result as add_ does"),
    Quirk(("s ** x",),
          lambda case, t, m: (isinstance(case["args"]["s"], bool) and m["backward"] is None
                              and "INTERNAL ASSERT FAILED" in str(t["backward"])),
          "True ** x or False ** x with x requiring grad: torch's backward hits an internal "
          "assert; microtorch returns the right gradient"),
    Quirk(("Tensor.__setitem__",),
          lambda case, t, m: (case["inputs"][0]["dtype"] not in FLOATS
                              and case["inputs"][1]["requires_grad"]
                              and m["problem"].startswith("requires_grad of the outputs")),
          "an int/bool tensor set from a value that requires grad: torch makes it require grad "
          "for some indices only; microtorch never lets a non-float tensor require grad"),
    Quirk(("Tensor.__getitem__", "Tensor.__setitem__"), _empty_result_out_of_bounds,
          "an out-of-bounds index tensor when nothing is selected: torch skips its bounds check; "
          "microtorch always checks"),
    Quirk(("Tensor.__getitem__", "Tensor.__setitem__"),
          lambda case, t, m: (len(_index_items(case, "ellipsis")) >= 2
                              and _raised(m, IndexError, "single ellipsis")),
          "several '...' in one index: torch raises a misleading error or ignores one; "
          "microtorch raises a clear IndexError"),
    Quirk(("Tensor.__setitem__",),
          lambda case, t, m: (0 in case["inputs"][0]["shape"]
                              and (_index_items(case, "tensor") or _index_items(case, "list"))
                              and t["exc"] is not None and _raised(m, IndexError)),
          "an invalid advanced index into a tensor with a size-0 dim: torch reports another "
          "problem first (at a different stage); microtorch reports the index"),
    Quirk(("zeros", "ones", "empty", "full", "expand", "view", "reshape", "F.adaptive_avg_pool2d",
           "nn.AdaptiveAvgPool2d"), _too_large_for_numpy,
          "sizes such as (0, 2**62) or a huge expand: torch needs no storage for them; NumPy "
          "cannot represent the array, so microtorch raises a RuntimeError that says so"),
    Quirk(("tensor",),
          lambda case, t, m: (_raised(t, RuntimeError, "without overflow")
                              and isinstance(m["exc"], (ValueError, TypeError))
                              and "sequence" in str(m["exc"])),
          "a ragged list whose values also overflow the dtype: torch reports the first problem "
          "it meets, microtorch the raggedness"),
    Quirk(("logsumexp",),
          lambda case, t, m: (case["args"]["dim"] == () and len(case["inputs"][0]["shape"]) >= 1
                              and _raised(t, RuntimeError, "doesn't match the broadcast shape")
                              and _succeeded(m)),
          "dim=() (all dims, as in sum): torch's implementation fails to add its own "
          "intermediate maximum back; microtorch reduces over all dims"),
    Quirk(("std", "var", "std(unbiased)", "var(unbiased)"), _std_var_empty_dim,
          "dim=() (all dims): torch's gradient is wrong (torch's own gradcheck fails); "
          "microtorch's equals torch's gradient for dim=(0, 1, ...)"),
    Quirk(("repeat",),
          lambda case, t, m: (np.prod(case["inputs"][0]["shape"]) == 0
                              and any(n < 0 for n in case["args"]["shape"])
                              and "cannot reshape tensor of 0 elements" in str(t["backward"])
                              and m["backward"] is None),
          "an empty tensor repeated with a negative count: torch's backward fails with an "
          "internal reshape error; microtorch's succeeds"),
    Quirk(("chunk",),
          lambda case, t, m: (case["args"]["chunks"] >= 2**31
                              and _raised(t, RuntimeError, "bad_alloc")
                              and isinstance(m["exc"], MemoryError)),
          "2**31 chunks: both run out of memory building the list (the fuzzer caps it); torch "
          "reports std::bad_alloc as a RuntimeError, Python a MemoryError"),
    Quirk(("F.gelu", "nn.GELU"), _gelu_of_inf,
          "float32 gelu(+inf): torch's float32 kernel gives NaN (its float64 one gives inf); "
          "microtorch gives inf"),
    Quirk(("var", "std"), _var_without_degrees_of_freedom,
          "correction >= the number of reduced elements (a division by 0): torch's infinite "
          "gradient ignores the sign of x - mean"),
    Quirk(("bmm", "matmul", "Tensor.__matmul__"),
          lambda case, t, m: (case["inputs"][0]["dtype"] != case["inputs"][1]["dtype"]
                              and 0 in case["inputs"][0]["shape"] + case["inputs"][1]["shape"]
                              and _succeeded(t) and _raised(m, RuntimeError, "same dtype")),
          "empty batches of different dtypes: torch returns before its dtype check; microtorch "
          "checks the dtypes first"),
    Quirk(("matmul", "mm", "bmm", "dot", "Tensor.__matmul__"), _matmul_bool_empty_inner,
          "bool (n, 0) @ (0, m): torch returns zeros though it refuses bool products otherwise; "
          "microtorch always refuses bool"),
    Quirk(("Tensor.__setitem__",), _index_put_into_overlap,
          "an advanced-index write into an expanded tensor: torch deprecates it with a warning "
          "(the result depends on aliasing); microtorch refuses it like every in-place write "
          "into repeated memory"),
    Quirk(("F.binary_cross_entropy_with_logits",),
          lambda case, t, m: (case["inputs"][0]["dtype"] == "float64"
                              and case["inputs"][1]["dtype"] == "float32"
                              and m["problem"].startswith("output: dtype torch.float32 (torch) "
                                                          "!= torch.float64")),
          "float64 logits with a float32 target: torch computes in a float32 buffer of the "
          "target's and returns float32 (silently losing the input's precision); microtorch "
          "promotes to float64 as every other loss does"),
    Quirk(("F.cross_entropy(probabilities)", "nn.CrossEntropyLoss"), _float32_rounding,
          "float32 scores with a float64 weight or target: the float64 result and gradients "
          "carry the 1-2 float32 ulps by which two log-softmax kernels may differ"),
    Quirk(("F.batch_norm", "nn.BatchNorm1d", "nn.BatchNorm2d"),
          lambda case, t, m: (case["inputs"][0]["dtype"] not in FLOATS
                              and t["exc"] is not None
                              and _raised(m, NotImplementedError, "batch_norm")),
          "integer input: torch's error class depends on the memory layout (NotImplementedError "
          "when contiguous, RuntimeError from mean() otherwise); microtorch always raises "
          "NotImplementedError"),
    Quirk(("F.batch_norm",),
          lambda case, t, m: (case["inputs"][0]["dtype"] not in FLOATS
                              and len(case["inputs"][0]["shape"]) == 1
                              and _raised(t, RuntimeError, "mean(): could not infer")
                              and _raised(m, IndexError, "Dimension out of range")),
          "a 1-D integer input: torch raises an IndexError (no channel dim) when it is "
          "contiguous and a RuntimeError from mean() otherwise; microtorch always raises the "
          "IndexError"),
    Quirk(("F.softmax(dtype)", "F.log_softmax(dtype)"), _float32_softmax_of_float64,
          "a float64 input computed in float32 (dtype=float32): the float64 gradient carries "
          "the float32 ulps by which two softmax kernels may differ"),
    Quirk(("std", "std(unbiased)"), _std_of_a_rounded_constant,
          "std of equal values: the result is 0 or a rounding error of the mean, where sqrt's "
          "derivative is infinite, so the gradient depends on the mean's last bit"),
    Quirk(("F.conv2d", "nn.Conv2d"), _conv_of_an_empty_batch,
          "an input without elements: torch skips its kernel size, dilation and dtype checks "
          "(or fails in an internal select()); microtorch checks them for every input"),
    Quirk(("add", "sub", "mul", "div", "pow", "maximum", "minimum"),
          _float32_gradient_of_a_float64_scalar,
          "a 0-d float64 input with a float32 tensor: the float64 gradient is a float32 sum "
          "whose last ulps depend on the order of summation"),
    Quirk(("expand",),
          lambda case, t, m: (_succeeded(t) and any(n < 0 for n in t["out"].shape)
                              and _raised(m, RuntimeError, "-1 is not allowed")),
          "-1 in a new leading dim when another size is 0: torch returns a tensor whose size "
          "is -1; microtorch refuses -1 there"),
    Quirk(("F.adaptive_avg_pool2d", "nn.AdaptiveAvgPool2d"),
          lambda case, t, m: (_succeeded(t) and _succeeded(m) and m["backward"] is None
                              and "Expected grad_output to have non-zero size"
                              in str(t["backward"])),
          "backward of an empty output: torch refuses the empty gradient; microtorch returns "
          "the (empty or zero) gradient, which is the right one"),
]


def known_quirk(name, case, t, m):
    """The :class:`Quirk` that explains the disagreement ``m["problem"]``, or ``None``."""
    for quirk in QUIRKS:
        if name in quirk.ops and quirk.applies(case, t, m):
            return quirk
    return None
