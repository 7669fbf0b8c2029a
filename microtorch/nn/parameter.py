"""``Parameter``: a tensor that a Module registers as a learnable weight."""

from .. import _creation
from .._tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is registered by a :class:`Module` when assigned as an attribute.

    ``Parameter(data, requires_grad=True)`` shares ``data``'s memory. Ops on a Parameter return
    plain Tensors.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _creation.empty(0)
        obj = object.__new__(cls)
        obj._init_from(data._data, data.device)
        obj.requires_grad = requires_grad
        return obj

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self.data.clone(), self.requires_grad)
        memo[id(self)] = result
        return result


class Buffer:
    """Marks a tensor assigned to a Module as a buffer: ``self.x = nn.Buffer(t)``."""

    def __init__(self, data, persistent=True):
        self.data = data
        self.persistent = persistent
