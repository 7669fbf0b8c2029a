"""``microtorch.utils.data``: datasets, samplers and the ``DataLoader``, as
``torch.utils.data``.

Datasets give samples (``dataset[i]`` or ``iter(dataset)``); samplers choose the order of the
indices; the :class:`DataLoader` fetches samples in that order and merges each batch with a
``collate_fn`` (:func:`default_collate` stacks tensors and turns numbers into tensors).
Batches are loaded in the main process (``num_workers`` is accepted and ignored).
"""

from .collate import collate, default_collate, default_collate_fn_map, default_convert
from .dataloader import DataLoader, get_worker_info
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset,
                      TensorDataset, random_split)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler)

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
           "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "Subset",
           "SubsetRandomSampler", "TensorDataset", "collate", "default_collate",
           "default_collate_fn_map", "default_convert", "get_worker_info", "random_split"]
