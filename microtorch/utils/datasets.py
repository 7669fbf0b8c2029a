"""Classic image datasets read from local files: MNIST, CIFAR-10 and scikit-learn's 8x8 digits.

Nothing is downloaded: fetch the official files once and point ``root`` at them. A missing file
raises :class:`FileNotFoundError` naming the path looked for and the official download URL.

Each ``dataset[i]`` is ``(image, label)``: the image a float32 tensor of shape
``(channels, height, width)`` scaled to [0, 1] (what torchvision gives after ``ToTensor()``),
the label a Python int, before ``transform`` / ``target_transform`` are applied. Batching them
with a :class:`~microtorch.utils.data.DataLoader` gives ``(N, C, H, W)`` float32 images and
int64 labels.

Example::

    >>> from microtorch.utils.data import DataLoader
    >>> from microtorch.utils.datasets import MNIST
    >>> train = MNIST("data", train=True)          # data/MNIST/raw/train-images-idx3-ubyte[.gz]
    >>> images, labels = next(iter(DataLoader(train, batch_size=64, shuffle=True)))
    >>> images.shape, labels.dtype
    (torch.Size([64, 1, 28, 28]), torch.int64)
"""

import gzip
import os
import pickle

import numpy as np

from .. import _creation
from .data.dataset import Dataset

__all__ = ["MNIST", "CIFAR10", "Digits", "load_digits", "read_idx"]

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read an IDX file (the MNIST format, optionally gzipped) into a NumPy array.

    The header is two zero bytes, a type code (0x08 = uint8...), the number of dimensions and
    each dimension as a big-endian uint32; the values follow in C order.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise RuntimeError(f"cannot read IDX file {path}: {e}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise RuntimeError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RuntimeError(f"truncated IDX file {path}: header cut short")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise RuntimeError(f"corrupt IDX file {path}: dimensions {list(dims)} need {expected} "
                           f"bytes, the file has {len(raw)}")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _to_image(array):
    """A uint8 (C, H, W) array -> float32 tensor in [0, 1]."""
    return _creation.from_numpy(np.ascontiguousarray(array, dtype=np.float32) / np.float32(255))


class MNIST(Dataset):
    """The MNIST handwritten digits (60,000 training and 10,000 test images of 28x28 pixels),
    read from the original IDX files.

    The files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``) are
    looked for in ``root/MNIST/raw`` (torchvision's layout), then in ``root``. Download them
    from ``https://ossci-datasets.s3.amazonaws.com/mnist/``.

    Attributes:
        data: uint8 tensor ``(N, 28, 28)``; targets: int64 tensor ``(N,)``; classes: names.

    ``dataset[i]`` is ``(image, label)`` with a float32 image ``(1, 28, 28)`` in [0, 1].
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        if download:
            raise RuntimeError("microtorch does not download datasets: fetch the MNIST files "
                               f"from {MNIST_URL} into {os.path.join(root, 'MNIST', 'raw')}")
        self.root, self.train = root, train
        self.transform, self.target_transform = transform, target_transform
        prefix = "train" if train else "t10k"
        images = read_idx(self._find(root, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(self._find(root, f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise RuntimeError(f"MNIST files in {root} disagree: images {images.shape}, labels "
                               f"{labels.shape} (expected (N, H, W) and (N,))")
        self._images = images.astype(np.uint8, copy=False)
        self._labels = labels.astype(np.int64)
        self.data = _creation.from_numpy(self._images)
        self.targets = _creation.from_numpy(self._labels)

    @staticmethod
    def _find(root, name):
        folders = [os.path.join(root, "MNIST", "raw"), root]
        for folder in folders:
            for candidate in (name, name + ".gz"):
                path = os.path.join(folder, candidate)
                if os.path.isfile(path):
                    return path
        raise FileNotFoundError(
            f"MNIST file {name}[.gz] not found in {folders[0]} or {root}. Download it from "
            f"{MNIST_URL}{name}.gz into {folders[0]} (microtorch does not download datasets).")

    @property
    def class_to_idx(self):
        """Class name -> label."""
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        img, target = _to_image(self._images[index][None]), int(self._labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles the CIFAR batches without running arbitrary code: the only globals allowed
    are the ones NumPy arrays and protocol-2 bytes are pickled with (``ndarray``, ``dtype``,
    ``_reconstruct``, ``scalar``, ``_codecs.encode``); anything else raises
    :class:`pickle.UnpicklingError`."""

    _reconstruct = np.zeros(1).__reduce__()[0]
    _scalar = np.float64(0).__reduce__()[0]

    def find_class(self, module, name):
        allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                   ("_codecs", "encode"): _latin1_encode}
        for core in ("numpy.core.multiarray", "numpy._core.multiarray"):
            allowed[(core, "_reconstruct")] = self._reconstruct
            allowed[(core, "scalar")] = self._scalar
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refused global {module}.{name} while reading a "
                                         "CIFAR batch (only NumPy arrays are allowed)")
        return allowed[(module, name)]


def _latin1_encode(obj, encoding="latin1"):
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed for latin-1 strings")
    return obj.encode("latin1")


def _load_batch(path):
    try:
        with open(path, "rb") as f:
            return _BatchUnpickler(f, encoding="bytes").load()
    except (EOFError, ValueError, TypeError, IndexError, KeyError) as e:
        raise RuntimeError(f"corrupt CIFAR-10 batch {path}: {type(e).__name__}: {e}") from e


class CIFAR10(Dataset):
    """CIFAR-10 (50,000 training and 10,000 test colour images of 32x32 pixels, 10 classes),
    read from the "python version" batches.

    Looks for ``root/cifar-10-batches-py/data_batch_1`` ... ``data_batch_5`` (training) or
    ``test_batch``: extract ``https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz`` into
    ``root``. The batches are pickles, read with a restricted unpickler that only rebuilds
    NumPy arrays.

    Attributes:
        data: uint8 NumPy array ``(N, 32, 32, 3)`` (HWC, as torchvision); targets: list of
        ints; classes: the names (from ``batches.meta`` when present).

    ``dataset[i]`` is ``(image, label)`` with a float32 image ``(3, 32, 32)`` in [0, 1].
    """

    base_folder = "cifar-10-batches-py"
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        folder = os.path.join(root, self.base_folder)
        if download:
            raise RuntimeError(f"microtorch does not download datasets: extract {CIFAR10_URL} "
                               f"into {root}")
        self.root, self.train = root, train
        self.transform, self.target_transform = transform, target_transform
        data, targets = [], []
        for name in self.train_list if train else self.test_list:
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"CIFAR-10 batch not found: {path}. Download {CIFAR10_URL} and extract it "
                    f"into {root} (microtorch does not download datasets).")
            entry = _load_batch(path)
            images = entry.get(b"data") if isinstance(entry, dict) else None
            labels = entry.get(b"labels", entry.get(b"fine_labels")) if images is not None \
                else None
            if (not isinstance(images, np.ndarray) or images.dtype != np.uint8
                    or images.ndim != 2 or images.shape[1] != 3072 or labels is None
                    or len(labels) != len(images)):
                raise RuntimeError(f"corrupt CIFAR-10 batch {path}: expected a dict with "
                                   "b'data' (uint8, N x 3072) and N b'labels'")
            data.append(images)
            targets.extend(int(t) for t in labels)
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.targets = targets
        meta = os.path.join(folder, "batches.meta")
        if os.path.isfile(meta):
            names = _load_batch(meta).get(b"label_names")
            if names:
                self.classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]

    @property
    def class_to_idx(self):
        """Class name -> label."""
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = _to_image(self.data[index].transpose(2, 0, 1)), self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


def load_digits(as_tensors=True):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download needed).

    Returns ``(images, labels)``: float32 images ``(N, 1, 8, 8)`` scaled to [0, 1] and int64
    labels ``(N,)``, as microtorch tensors (or NumPy arrays with ``as_tensors=False``).
    Needs scikit-learn (``pip install microtorch[examples]``).
    """
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as e:
        raise ImportError("the digits dataset needs scikit-learn: pip install scikit-learn "
                          "(or pip install microtorch[examples])") from e
    digits = sklearn_load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    labels = digits.target.astype(np.int64)
    if as_tensors:
        return _creation.from_numpy(images), _creation.from_numpy(labels)
    return images, labels


class Digits(Dataset):
    """scikit-learn's 8x8 digits as a dataset with a deterministic train/test split, for
    examples that run offline in seconds.

    Args:
        train: the training part (``split`` of the images) or the test part (the rest).
        split: the fraction of images in the training part (default 0.8).
        seed: seeds the shuffle before splitting; the same seed gives the same split.
        transform, target_transform: applied to each image / label.

    ``dataset[i]`` is ``(image, label)``: a float32 tensor ``(1, 8, 8)`` in [0, 1] and an int.
    ``data`` and ``targets`` hold the whole part as tensors.
    """

    classes = [str(i) for i in range(10)]

    def __init__(self, train=True, split=0.8, seed=0, transform=None, target_transform=None):
        if not 0.0 < split < 1.0:
            raise ValueError(f"split should be a fraction in (0, 1), got {split}")
        images, labels = load_digits(as_tensors=False)
        order = np.random.default_rng(seed).permutation(len(images))
        n_train = int(round(split * len(images)))
        keep = order[:n_train] if train else order[n_train:]
        self.train = train
        self.transform, self.target_transform = transform, target_transform
        self._images, self._labels = np.ascontiguousarray(images[keep]), labels[keep]
        self.data = _creation.from_numpy(self._images)
        self.targets = _creation.from_numpy(self._labels)

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        img = _creation.from_numpy(self._images[index].copy())
        target = int(self._labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target
