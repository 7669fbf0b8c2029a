"""How a :class:`DataLoader` turns a list of samples into a batch (``default_collate``) and
converts a single sample when batching is off (``default_convert``), as in
``torch.utils.data``."""

import collections.abc
import copy
import re

import numpy as np

from ... import _creation, _dtype
from ..._tensor import Tensor
from ...ops.indexing import stack

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map"]

_np_str_obj_array_pattern = re.compile(r"[SaUO]")
_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def default_convert(data):
    """Convert NumPy arrays and scalars to tensors, recursing into mappings, namedtuples and
    sequences (tuples become lists, as in PyTorch); everything else is returned unchanged.

    This is the DataLoader's ``collate_fn`` when automatic batching is off
    (``batch_size=None``).
    """
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_"):
        if isinstance(data, np.ndarray) and _np_str_obj_array_pattern.search(data.dtype.str):
            return data
        return _creation.as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data


def _rebuild_mapping(elem, values):
    """A mapping of ``elem``'s type holding ``values`` (a plain dict if the type resists)."""
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(values)
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def _rebuild_sequence(elem, items):
    """A sequence of ``elem``'s type holding ``items`` (a list if the type resists)."""
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(elem)(items)
    except TypeError:
        return items


def _collate_tensor(batch, *, collate_fn_map=None):
    return stack(batch, 0)


def _collate_numpy_array(batch, *, collate_fn_map=None):
    if _np_str_obj_array_pattern.search(batch[0].dtype.str) is not None:
        raise TypeError(_ERR.format(batch[0].dtype))
    return collate([_creation.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def _collate_numpy_scalar(batch, *, collate_fn_map=None):
    return _creation.as_tensor(np.array(batch))


def _collate_float(batch, *, collate_fn_map=None):
    return _creation.tensor(batch, dtype=_dtype.float64)


def _collate_int(batch, *, collate_fn_map=None):
    return _creation.tensor(batch)


def _collate_str(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {
    Tensor: _collate_tensor,
    np.ndarray: _collate_numpy_array,
    (np.bool_, np.number, np.object_): _collate_numpy_scalar,
    float: _collate_float,
    int: _collate_int,
    str: _collate_str,
    bytes: _collate_str,
}
"""Element type -> collate function used by :func:`default_collate`; extend a copy of it and
pass it to :func:`collate` for custom types."""


def collate(batch, *, collate_fn_map=None):
    """Collate a list of samples by the type of the first one: a function from
    ``collate_fn_map`` (exact type first, then ``isinstance``), else recursion into mappings
    (per key), namedtuples and sequences (per position; tuples give lists)."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, {key: collate([d[key] for d in batch],
                                                    collate_fn_map=collate_fn_map)
                                       for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map)
                           for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [collate(samples, collate_fn_map=collate_fn_map)
                      for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed  # tuples give lists, as in PyTorch
        return _rebuild_sequence(elem, transposed)
    raise TypeError(_ERR.format(elem_type))


def default_collate(batch):
    """Merge a list of samples into a batch, as PyTorch's ``default_collate``:

    * tensors are stacked along a new first dimension;
    * NumPy arrays become stacked tensors, NumPy scalars a tensor of their dtype;
    * Python ints (and bools) give an int64 (bool) tensor, floats a float64 tensor;
    * strings and bytes are kept as a list;
    * dicts, namedtuples, tuples and lists are collated per key or position (tuples and lists
      give lists, namedtuples stay namedtuples).

    Example::

        >>> default_collate([(microtorch.ones(2), 0), (microtorch.zeros(2), 1)])
        [tensor([[1., 1.],
                [0., 0.]]), tensor([0, 1])]
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)
