"""Normalisation over the trailing dims: LayerNorm and RMSNorm."""

import numbers

from ... import _creation
from .. import functional as F
from ..parameter import Parameter
from .module import Module


def _shape(normalized_shape):
    """An int or a sequence of ints as a tuple, as the layers accept it."""
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(normalized_shape)


class LayerNorm(Module):
    """``y = (x - mean) / sqrt(var + eps) * weight + bias`` over the trailing dims
    ``normalized_shape`` of each sample (the statistics of each sample and position, in
    training and evaluation alike), as ``torch.nn.LayerNorm``.

    ``weight`` starts at ones and ``bias`` at zeros; ``elementwise_affine=False`` has neither,
    ``bias=False`` no bias.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_creation.empty(*self.normalized_shape, device=device,
                                                    dtype=dtype))
            if bias:
                self.bias = Parameter(_creation.empty(*self.normalized_shape, device=device,
                                                      dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Set the weight to ones and the bias to zeros."""
        if self.weight is not None:
            self.weight.data.fill_(1)
        if self.bias is not None:
            self.bias.data.zero_()

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """``y = x / sqrt(mean(x**2) + eps) * weight`` over the trailing dims
    ``normalized_shape``, as ``torch.nn.RMSNorm``; ``eps=None`` is ``torch.finfo`` of the
    input's dtype's ``eps``. ``weight`` starts at ones (none with
    ``elementwise_affine=False``).
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_creation.empty(*self.normalized_shape, device=device,
                                                    dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Set the weight to ones."""
        if self.weight is not None:
            self.weight.data.fill_(1)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
