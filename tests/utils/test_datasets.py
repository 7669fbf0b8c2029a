"""microtorch.utils.datasets: MNIST and CIFAR-10 readers on small files written here, and the
scikit-learn digits dataset when scikit-learn is installed."""

import gzip
import pickle
import struct
import sys

import numpy as np
import pytest

import microtorch
from microtorch.utils.data import DataLoader
from microtorch.utils.datasets import CIFAR10, MNIST, Digits, load_digits, read_idx


def write_idx(path, array, gz=False):
    array = np.asarray(array, dtype=np.uint8)
    raw = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    raw += struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    (gzip.open if gz else open)(path, "wb").write(raw)


def fake_mnist(folder, n=5, gz=False, prefix="train"):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    ext = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images, gz)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", labels, gz)
    return images, labels


def fake_cifar(root, per_batch=2):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        entry = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                 b"filenames": [f"img{i}.png".encode() for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
        batches[name] = (data, labels)
    meta = {b"label_names": [b"plane", b"car", b"bird", b"cat", b"deer", b"dog", b"frog",
                             b"horse", b"ship", b"truck"], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return batches


# ---- MNIST -------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files(tmp_path, gz):
    images, labels = fake_mnist(tmp_path / "MNIST" / "raw", gz=gz)
    ds = MNIST(tmp_path, train=True)
    assert len(ds) == 5
    assert ds.data.dtype is microtorch.uint8 and ds.data.shape == (5, 28, 28)
    assert ds.targets.dtype is microtorch.int64 and ds.targets.tolist() == labels.tolist()
    img, target = ds[2]
    assert img.dtype is microtorch.float32 and img.shape == (1, 28, 28)
    np.testing.assert_allclose(img.numpy()[0], images[2] / 255.0, rtol=1e-6)
    assert target == int(labels[2]) and isinstance(target, int)
    assert ds.class_to_idx["3 - three"] == 3


def test_mnist_test_split_in_root_and_transforms(tmp_path):
    _, labels = fake_mnist(tmp_path, n=3, prefix="t10k")
    ds = MNIST(tmp_path, train=False, transform=lambda x: x * 2,
               target_transform=lambda y: y + 100)
    img, target = ds[0]
    assert float(img.max()) <= 2.0 and target == int(labels[0]) + 100
    batch_images, batch_labels = next(iter(DataLoader(MNIST(tmp_path, train=False),
                                                      batch_size=3)))
    assert batch_images.shape == (3, 1, 28, 28) and batch_labels.dtype is microtorch.int64


def test_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*MNIST.*raw.*"
                       r"https://ossci-datasets.s3.amazonaws.com/mnist/"):
        MNIST(tmp_path)
    with pytest.raises(RuntimeError, match="does not download"):
        MNIST(tmp_path, download=True)


def test_mnist_corrupt_files(tmp_path):
    folder = tmp_path / "MNIST" / "raw"
    fake_mnist(folder)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(RuntimeError, match="corrupt IDX file"):
        MNIST(tmp_path)
    path.write_bytes(b"\x12\x34\x56\x78" + bytes(100))
    with pytest.raises(RuntimeError, match="not an IDX file"):
        read_idx(path)
    fake_mnist(folder, n=5)
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(4))
    with pytest.raises(RuntimeError, match="disagree"):
        MNIST(tmp_path)


def test_read_idx_other_types(tmp_path):
    values = np.arange(6, dtype=">i4").reshape(2, 3)
    raw = struct.pack(">BBBB", 0, 0, 0x0C, 2) + struct.pack(">2I", 2, 3) + values.tobytes()
    (tmp_path / "ints").write_bytes(raw)
    out = read_idx(tmp_path / "ints")
    assert out.dtype == np.int32 and out.tolist() == [[0, 1, 2], [3, 4, 5]]


# ---- CIFAR-10 ------------------------------------------------------------------------------
def test_cifar10_reads_batches(tmp_path):
    batches = fake_cifar(tmp_path)
    train, test = CIFAR10(tmp_path, train=True), CIFAR10(tmp_path, train=False)
    assert len(train) == 10 and len(test) == 2
    assert train.data.shape == (10, 32, 32, 3) and train.data.dtype == np.uint8
    assert train.targets[:2] == batches["data_batch_1"][1]
    assert train.classes[1] == "car" and train.class_to_idx["truck"] == 9
    img, target = test[1]
    expected = batches["test_batch"][0][1].reshape(3, 32, 32) / 255.0
    assert img.shape == (3, 32, 32) and img.dtype is microtorch.float32
    np.testing.assert_allclose(img.numpy(), expected, rtol=1e-6)
    assert target == batches["test_batch"][1][1]
    x, y = next(iter(DataLoader(train, batch_size=4, shuffle=True,
                                generator=microtorch.Generator().manual_seed(0))))
    assert x.shape == (4, 3, 32, 32) and y.dtype is microtorch.int64


def test_cifar10_missing_and_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cifar-10-batches-py.*data_batch_1.*"
                       r"https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"):
        CIFAR10(tmp_path)
    fake_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(
        pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, protocol=2))
    with pytest.raises(RuntimeError, match="corrupt CIFAR-10 batch"):
        CIFAR10(tmp_path, train=False)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"\x80\x02}q\x00(")
    with pytest.raises(RuntimeError, match="corrupt CIFAR-10 batch"):
        CIFAR10(tmp_path, train=False)


def test_cifar10_refuses_malicious_pickle(tmp_path):
    fake_cifar(tmp_path)
    marker = tmp_path / "pwned"
    evil = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(evil)
    with pytest.raises(pickle.UnpicklingError, match="refused global os.system"):
        CIFAR10(tmp_path, train=False)
    assert not marker.exists()


# ---- scikit-learn digits ---------------------------------------------------------------------
def test_digits_dataset():
    pytest.importorskip("sklearn")
    images, labels = load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype is microtorch.float32
    assert labels.dtype is microtorch.int64 and float(images.max()) == 1.0
    assert float(images.min()) == 0.0
    arrays = load_digits(as_tensors=False)
    assert isinstance(arrays[0], np.ndarray)
    train, test = Digits(train=True), Digits(train=False)
    assert len(train) + len(test) == 1797 and len(train) == round(0.8 * 1797)
    img, target = train[0]
    assert img.shape == (1, 8, 8) and img.dtype is microtorch.float32 and isinstance(target, int)
    again = Digits(train=True, seed=0)
    np.testing.assert_array_equal(again.data.numpy(), train.data.numpy())
    assert Digits(train=True, seed=1).targets.tolist() != train.targets.tolist()
    # train and test are disjoint and together make the whole set
    whole = np.concatenate([train.data.numpy(), test.data.numpy()]).reshape(1797, -1)
    assert len({row.tobytes() for row in whole}) == len({row.tobytes() for row in
                                                         images.numpy().reshape(1797, -1)})
    x, y = next(iter(DataLoader(test, batch_size=32)))
    assert x.shape == (32, 1, 8, 8) and y.dtype is microtorch.int64
    with pytest.raises(ValueError, match="split"):
        Digits(split=1.5)


def test_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="needs scikit-learn"):
        load_digits()
