"""Flatten parameters into one vector and back (``torch.nn.utils.convert_parameters``), as
optimizers that work on a flat vector (L-BFGS, evolution strategies) need."""

from ..._tensor import Tensor
from ...ops.indexing import cat


def _check_param_device(param, old_device):
    """The device of the first parameter; TypeError when a later one lives elsewhere."""
    if old_device is not None and param.device != old_device:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return param.device


def parameters_to_vector(parameters):
    """All ``parameters`` flattened and concatenated into one 1-D tensor (a graph-recording
    copy, as PyTorch: gradients flow back to the parameters)."""
    device = None
    vec = []
    for param in parameters:
        device = _check_param_device(param, device)
        vec.append(param.view(-1))
    return cat(vec)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D tensor ``vec`` into ``parameters`` (each takes the
    next ``numel()`` elements, reshaped to its shape) by replacing their ``.data``."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {_typename(vec)}")
    device = None
    pointer = 0
    for param in parameters:
        device = _check_param_device(param, device)
        num_param = param.numel()
        param.data = vec[pointer:pointer + num_param].view_as(param).data
        pointer += num_param


def _typename(obj):
    """``torch.typename``: the qualified type name of a non-tensor object."""
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", "__builtin__", None) else f"{module}.{name}"
