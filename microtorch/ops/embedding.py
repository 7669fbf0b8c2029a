"""Embedding lookup: ``nn.functional.embedding``, the op of ``nn.Embedding``.

A lookup is row selection, ``out[..., :] = weight[input[...], :]``, done by the backend's
``getitem``; its gradient adds each output row's gradient into the row it was read from
(``index_add``, where repeated indices accumulate), except the ``padding_idx`` row.
"""

import numpy as np

from .. import _dtype
from .._tensor import Tensor
from ..autograd.function import Function
from ._register import public
from ._util import check_same_device
from .indexing import IndexAdd


class Embedding(Function):
    """out = weight[indices];  dweight = zeros with g's rows added at indices (repeats
    accumulate; rows looked up at padding_idx add nothing)"""

    node_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, weight, indices, padding_idx):
        ctx.meta = (weight.shape, indices, padding_idx)
        return Tensor._make(weight._backend.getitem(weight._data, (indices,)), weight.device)

    @staticmethod
    def backward(ctx, g):
        shape, indices, padding_idx = ctx.meta
        if padding_idx is not None:
            keep = indices != padding_idx
            if not keep.all():
                g, indices = g[keep], indices[keep]
        return IndexAdd.apply(g, shape, (indices,)), None, None


def _host_indices(input, num, dim):
    """The indices as a host int64 array, checked as PyTorch checks them."""
    if input.dtype not in (_dtype.int64, _dtype.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got "
                           f"{input.type()} instead (while checking arguments for embedding)")
    indices = np.array(input._backend.to_numpy(input._data), dtype=np.int64)
    if indices.size and num == 0:
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    bad = (indices < 0) | (indices >= num)
    if bad.any():
        if dim == 0:  # PyTorch takes another path for rows of no values
            raise RuntimeError(f"INDICES element is out of DATA bounds, "
                               f"id={indices[bad].flat[0]} axis_dim={num}")
        raise IndexError("index out of range in self")
    return indices


@public(torch=False, functional=True)
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, embedding_dim) looked up by the integer tensor
    ``input``: the result has shape ``input.shape + (embedding_dim,)``. The gradient of the
    ``padding_idx`` row stays zero. Indices must lie in ``[0, num_embeddings)`` (PyTorch's
    ``IndexError: index out of range in self`` otherwise).

    ``max_norm``, ``scale_grad_by_freq`` and ``sparse=True`` are not implemented."""
    num = weight.shape[0] if weight.ndim else 0
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
            padding_idx = num + padding_idx
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    for name, value, default in (("max_norm", max_norm, None),
                                 ("scale_grad_by_freq", scale_grad_by_freq, False),
                                 ("sparse", sparse, False)):
        if value != default:
            raise NotImplementedError(f"microtorch's embedding does not implement {name}="
                                      f"{value!r}")
    check_same_device(input, weight)
    return Embedding.apply(weight, _host_indices(input, num, weight.shape[1]), padding_idx)
