"""microtorch.utils.data: datasets, samplers, collation and the DataLoader, against PyTorch's
behaviour (and against torch.utils.data itself where torch is installed)."""

import collections
import warnings

import numpy as np
import pytest

import microtorch
from microtorch.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader,
                                   Dataset, IterableDataset, RandomSampler, SequentialSampler,
                                   Subset, SubsetRandomSampler, TensorDataset, default_collate,
                                   default_convert, get_worker_info, random_split)


def seeded(seed=42):
    return microtorch.Generator().manual_seed(seed)


class Range(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def xy(n=10):
    return TensorDataset(microtorch.arange(n * 2.0).reshape(n, 2), microtorch.arange(n))


# ---- datasets ------------------------------------------------------------------------------
def test_tensor_dataset():
    ds = xy(5)
    assert len(ds) == 5
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and y.item() == 3
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(microtorch.zeros(3, 2), microtorch.zeros(4))


def test_subset_and_concat():
    sub = Subset(Range(10), [9, 2, 5])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [9, 2, 5]
    assert sub.__getitems__([0, 2]) == [9, 5]
    cat = ConcatDataset([Range(3), Range(2)])
    assert len(cat) == 5 and [cat[i] for i in range(5)] == [0, 1, 2, 0, 1]
    assert cat[-1] == 1 and cat.cumulative_sizes == [3, 5]
    assert len(Range(3) + Range(4)) == 7
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-6]
    with pytest.raises(AssertionError, match="should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        ConcatDataset([Stream(2)])
    assert list(Stream(2) + Stream(3)) == [0, 1, 0, 1, 2]
    assert isinstance(Stream(1) + Stream(1), ChainDataset)


def test_base_classes_raise():
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    with pytest.raises(NotImplementedError):
        iter(IterableDataset())


# ---- random_split --------------------------------------------------------------------------
def test_random_split_lengths_and_disjoint():
    a, b, c = random_split(Range(10), [3, 3, 4], generator=seeded())
    assert [len(a), len(b), len(c)] == [3, 3, 4]
    items = [a[i] for i in range(3)] + [b[i] for i in range(3)] + [c[i] for i in range(4)]
    assert sorted(items) == list(range(10))


def test_random_split_fractions():
    parts = random_split(Range(10), [0.5, 0.3, 0.2], generator=seeded())
    assert [len(p) for p in parts] == [5, 3, 2]
    parts = random_split(Range(11), [0.34, 0.33, 0.33], generator=seeded())
    assert [len(p) for p in parts] == [4, 4, 3]  # floor, then the remainder round robin
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(Range(3), [1.0, 0.0], generator=seeded())
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(Range(10), [3, 3])


def test_random_split_is_deterministic():
    first = random_split(Range(20), [0.8, 0.2], generator=seeded(42))
    again = random_split(Range(20), [0.8, 0.2], generator=seeded(42))
    other = random_split(Range(20), [0.8, 0.2], generator=seeded(7))
    assert first[0].indices == again[0].indices and first[1].indices == again[1].indices
    assert first[0].indices != other[0].indices
    microtorch.manual_seed(3)
    x = random_split(Range(20), [10, 10])[0].indices
    microtorch.manual_seed(3)
    assert random_split(Range(20), [10, 10])[0].indices == x  # the global generator


# ---- samplers ------------------------------------------------------------------------------
def test_samplers():
    assert list(SequentialSampler(Range(4))) == [0, 1, 2, 3]
    rs = RandomSampler(Range(6), generator=seeded())
    epoch1, epoch2 = list(rs), list(rs)
    assert sorted(epoch1) == list(range(6)) and epoch1 != epoch2 and len(rs) == 6
    assert list(RandomSampler(Range(6), generator=seeded())) == epoch1
    many = list(RandomSampler(Range(3), num_samples=7, generator=seeded()))
    assert len(many) == 7 and sorted(many[:3]) == [0, 1, 2]
    drawn = list(RandomSampler(Range(3), replacement=True, num_samples=50, generator=seeded()))
    assert len(drawn) == 50 and set(drawn) <= {0, 1, 2}
    assert sorted(SubsetRandomSampler([5, 7, 9], generator=seeded())) == [5, 7, 9]
    batches = BatchSampler(SequentialSampler(Range(5)), batch_size=2, drop_last=False)
    assert list(batches) == [[0, 1], [2, 3], [4]] and len(batches) == 3
    batches = BatchSampler(SequentialSampler(Range(5)), batch_size=2, drop_last=True)
    assert list(batches) == [[0, 1], [2, 3]] and len(batches) == 2


def test_sampler_errors():
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but "
                       "got batch_size=0"):
        BatchSampler(SequentialSampler(Range(3)), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(SequentialSampler(Range(3)), 2, 1)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(Range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(Range(3), num_samples=0)


# ---- collation -----------------------------------------------------------------------------
def test_default_collate_tensors_and_numbers():
    out = default_collate([microtorch.ones(2, 3), microtorch.zeros(2, 3)])
    assert out.shape == (2, 2, 3) and out.dtype is microtorch.float32
    ints, floats, bools = default_collate([1, 2]), default_collate([0.5, 1.5]), \
        default_collate([True, False])
    assert ints.dtype is microtorch.int64 and ints.tolist() == [1, 2]
    assert floats.dtype is microtorch.float64 and floats.tolist() == [0.5, 1.5]
    assert bools.dtype is microtorch.bool and bools.tolist() == [True, False]
    assert default_collate(["a", "b"]) == ["a", "b"]
    arr = default_collate([np.zeros((2,), np.float32), np.ones((2,), np.float32)])
    assert arr.dtype is microtorch.float32 and arr.shape == (2, 2)
    scalars = default_collate([np.float64(1.0), np.float64(2.0)])
    assert scalars.dtype is microtorch.float64 and scalars.shape == (2,)
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_collate_containers():
    Point = collections.namedtuple("Point", "x y")
    batch = [(microtorch.tensor([1.0]), 0, "a"), (microtorch.tensor([2.0]), 1, "b")]
    x, y, s = default_collate(batch)
    assert isinstance(default_collate(batch), list)  # tuples become lists, as in PyTorch
    assert x.tolist() == [[1.0], [2.0]] and y.tolist() == [0, 1] and list(s) == ["a", "b"]
    d = default_collate([{"img": microtorch.ones(2), "label": 3, "meta": {"id": 7}},
                         {"img": microtorch.zeros(2), "label": 4, "meta": {"id": 8}}])
    assert d["img"].shape == (2, 2) and d["label"].tolist() == [3, 4]
    assert d["meta"]["id"].tolist() == [7, 8]
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3] and p.y.dtype is microtorch.float64
    nested = default_collate([[1, [2, 3]], [4, [5, 6]]])
    assert nested[0].tolist() == [1, 4] and nested[1][1].tolist() == [3, 6]
    od = default_collate([collections.OrderedDict(a=1), collections.OrderedDict(a=2)])
    assert isinstance(od, collections.OrderedDict)
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        default_collate([[1, 2], [3]])


def test_default_convert():
    t = microtorch.ones(2)
    assert default_convert(t) is t
    c = default_convert({"a": np.arange(3), "b": (np.float32(1.5), "s"), "c": 4})
    assert c["a"].dtype is microtorch.int64 and c["a"].tolist() == [0, 1, 2]
    assert isinstance(c["b"], list) and c["b"][0].dtype is microtorch.float32
    assert c["b"][1] == "s" and c["c"] == 4
    strings = np.array(["x"])
    assert default_convert(strings) is strings


# ---- DataLoader ----------------------------------------------------------------------------
def test_batching_and_len():
    loader = DataLoader(xy(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 2) and batches[0][1].dtype is microtorch.int64
    it = iter(loader)
    assert len(it) == 3 and next(it)[1].tolist() == [0, 1, 2, 3]


def test_drop_last():
    loader = DataLoader(xy(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[1].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_batch_size_none_disables_batching():
    loader = DataLoader(Range(3), batch_size=None)
    assert list(loader) == [0, 1, 2] and len(loader) == 3
    arrays = list(DataLoader([np.zeros(2), np.ones(2)], batch_size=None))
    assert isinstance(arrays[0], microtorch.Tensor) and arrays[1].tolist() == [1.0, 1.0]


def test_shuffle_reproducible_with_generator():
    def order(gen, epochs=2):
        loader = DataLoader(Range(10), batch_size=3, shuffle=True, generator=gen)
        return [[b.tolist() for b in loader] for _ in range(epochs)]

    a, b = order(seeded(42)), order(seeded(42))
    assert a == b  # same seed, same order every epoch
    assert a[0] != a[1]  # a new permutation each epoch
    assert sorted(sum(a[0], [])) == list(range(10))
    assert order(seeded(1)) != a
    microtorch.manual_seed(5)
    g1 = order(None, 1)
    microtorch.manual_seed(5)
    assert order(None, 1) == g1  # without a generator, microtorch.manual_seed rules


def test_custom_sampler_batch_sampler_and_collate():
    loader = DataLoader(Range(6), batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert [b.tolist() for b in loader] == [[5, 4], [3, 2], [1, 0]]
    loader = DataLoader(Range(6), batch_sampler=[[0, 5], [1, 2, 3]])
    assert [b.tolist() for b in loader] == [[0, 5], [1, 2, 3]] and len(loader) == 2
    loader = DataLoader(Range(4), batch_size=2, collate_fn=lambda batch: sum(batch))
    assert list(loader) == [1, 5]


def test_getitems_is_used_for_batched_fetch():
    class Batched(Range):
        calls = 0

        def __getitems__(self, indices):
            Batched.calls += 1
            return [i * 10 for i in indices]

    loader = DataLoader(Subset(Batched(6), [1, 2, 3, 4]), batch_size=2)
    assert [b.tolist() for b in loader] == [[10, 20], [30, 40]] and Batched.calls == 2


def test_iterable_dataset():
    loader = DataLoader(Stream(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    loader = DataLoader(Stream(7), batch_size=3, drop_last=True)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]] and len(loader) == 2
    assert list(DataLoader(Stream(2), batch_size=None)) == [0, 1]
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(Stream(3), sampler=[0])


def test_num_workers_runs_in_main_process():
    seen = []

    class Spy(Range):
        def __getitem__(self, i):
            seen.append(get_worker_info())
            return i

    loader = DataLoader(Spy(5), batch_size=2, num_workers=4, persistent_workers=True,
                        prefetch_factor=2, pin_memory=True)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4]] and seen == [None] * 5


def test_dataloader_errors():
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(Range(3), num_workers=-1)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(Range(3), sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(Range(3), batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching"):
        DataLoader(Range(3), batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(Range(3), prefetch_factor=2)
    loader = DataLoader(Range(3))
    with pytest.raises(ValueError, match="batch_size attribute should not be set after "
                       "DataLoader is initialized"):
        loader.batch_size = 5


def test_training_loop_shapes():
    ds = TensorDataset(microtorch.randn(50, 4), microtorch.randint(0, 3, (50,)))
    train, val = random_split(ds, [0.8, 0.2], generator=seeded())
    seen = 0
    for x, y in DataLoader(train, batch_size=16, shuffle=True, generator=seeded()):
        assert x.shape[1:] == (4,) and x.dtype is microtorch.float32 and y.dtype is \
            microtorch.int64
        seen += len(y)
    assert seen == 40 and len(DataLoader(val, batch_size=16)) == 1


# ---- parity with torch.utils.data ----------------------------------------------------------
def test_collate_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    Point = collections.namedtuple("Point", "x y")
    batch = [{"a": (1, 2.5, "s", True), "p": Point(np.int32(3), np.array([1.0, 2.0]))},
             {"a": (4, 5.5, "t", False), "p": Point(np.int32(4), np.array([3.0, 4.0]))}]
    ours, theirs = default_collate(batch), torch_collate(batch)

    def same(a, b):
        if isinstance(b, torch.Tensor):
            assert isinstance(a, microtorch.Tensor) and str(a.dtype) == str(b.dtype)
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        elif isinstance(b, dict):
            assert type(a) is type(b) and a.keys() == b.keys()
            for k in b:
                same(a[k], b[k])
        elif isinstance(b, (list, tuple)):
            assert type(a) is type(b) and len(a) == len(b)
            for x, y in zip(a, b):
                same(x, y)
        else:
            assert a == b

    same(ours, theirs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(default_convert(batch[0]), torch.utils.data.default_convert(batch[0]))


def test_lengths_match_torch():
    torch = pytest.importorskip("torch")
    from torch.utils import data as tdata

    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (1, 5, False)]:
        assert len(DataLoader(Range(n), batch_size=bs, drop_last=drop)) == \
            len(tdata.DataLoader(range(n), batch_size=bs, drop_last=drop))
    for lengths in ([0.5, 0.3, 0.2], [0.34, 0.33, 0.33], [0.1] * 10):
        ours = [len(s) for s in random_split(Range(23), lengths, generator=seeded())]
        theirs = [len(s) for s in tdata.random_split(range(23), lengths,
                                                     generator=torch.Generator().manual_seed(0))]
        assert ours == theirs
