"""microtorch.load against hostile and broken checkpoints (issue 9): storages are read in one
copy, ``weights_only=True`` accepts only the tensor state PyTorch accepts, and every failure is
a RuntimeError or UnpicklingError that names the file and the record."""

import io
import mmap
import os
import pickle
import re
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import microtorch
from microtorch import serialization as S
from tests.test_serialization import checkpoint_from_pickle


# ---- crafting checkpoints ---------------------------------------------------------------------
class Call:
    """Pickles as ``module.name(*args)``: builds the reduce calls a hostile file can make."""

    def __init__(self, module, name, *args):
        self.function, self.args = S._TorchGlobal(module, name), args

    def __reduce__(self):
        return self.function, self.args


class Storage(S._StorageRef):
    """A storage persistent id with any type name, key and element count."""

    def __init__(self, key="0", type_name="FloatStorage", numel=4, location="cpu"):
        self.key, self.type_name, self.numel, self.location = key, type_name, numel, location

    def persistent_id(self):
        return ("storage", S._TorchGlobal("torch", self.type_name), self.key, self.location,
                self.numel)


def pickled(obj):
    buf = io.BytesIO()
    S._Pickler(buf, 2).dump(obj)
    return buf.getvalue()


def rebuild(storage=None, offset=0, size=(4,), stride=(1,)):
    """``_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``."""
    return Call("torch._utils", "_rebuild_tensor_v2", storage or Storage(), offset, size, stride,
                False, OrderedDict())


FOUR_FLOATS = [("0", np.arange(4, dtype="<f4").tobytes())]


def tensor_file(storages=FOUR_FLOATS, **kwargs):
    """A checkpoint holding one tensor rebuilt with ``kwargs`` (see :func:`rebuild`)."""
    return checkpoint_from_pickle(pickled(rebuild(**kwargs)), storages).getvalue()


def load_both(raw, **kwargs):
    """(microtorch's result or exception, torch's result or exception) for checkpoint bytes."""
    torch = pytest.importorskip("torch")
    results = []
    for lib in (microtorch, torch):
        try:
            results.append(lib.load(io.BytesIO(raw), **kwargs))
        except Exception as e:  # noqa: BLE001 - the exception is the result here
            results.append(e)
    return results


# ---- loading in one copy ----------------------------------------------------------------------
MEMORY_SCRIPT = """
import gc, resource, sys, tracemalloc
import numpy as np
import microtorch
path, n = sys.argv[1], int(sys.argv[2])
microtorch.save({"w": microtorch.ones(4)}, path + ".small")
microtorch.load(path + ".small")  # imports and first-use work, outside the measurement
gc.collect()
tracemalloc.start()  # numpy reports its buffers to tracemalloc
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
traced_before = tracemalloc.get_traced_memory()[0]
w = microtorch.load(path)["w"].numpy()
traced_peak = tracemalloc.get_traced_memory()[1] - traced_before
rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
ok = w.shape == (n,) and bool(np.array_equal(w[::99991], np.arange(0, n, 99991, dtype=np.float32)))
print(traced_peak, rss_peak, ok)
"""


def test_load_reads_each_storage_in_one_copy(tmp_path):
    """Loading a 200 MB tensor needs at most 1.1x its size (it needed 2x: the record was read
    into a temporary bytes object, then copied)."""
    n = 50_000_000
    path = tmp_path / "big.pt"
    microtorch.save({"w": microtorch.from_numpy(np.arange(n, dtype=np.float32))}, path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(path), str(n)], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    traced_peak, rss_peak, ok = proc.stdout.split()
    assert ok == "True"
    limit = 1.1 * 4 * n
    assert int(traced_peak) <= limit, f"traced peak {int(traced_peak) / 4 / n:.2f}x the data"
    assert int(rss_peak) <= limit, f"RSS peak {int(rss_peak) / 4 / n:.2f}x the data"


def test_deflated_records_load_in_chunks(tmp_path, monkeypatch):
    """Compressed records (which torch.save never writes) are decompressed chunk by chunk
    straight into the array."""
    monkeypatch.setattr(S, "_CHUNK", 1000)  # many chunks, and a last one that is partial
    x = microtorch.from_numpy(np.arange(10_001, dtype=np.float64))
    microtorch.save({"x": x, "t": x[1::3]}, tmp_path / "s.pt")
    with zipfile.ZipFile(tmp_path / "s.pt") as src, \
            zipfile.ZipFile(tmp_path / "d.pt", "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    out = microtorch.load(tmp_path / "d.pt")
    np.testing.assert_array_equal(out["x"].numpy(), x.numpy())
    np.testing.assert_array_equal(out["t"].numpy(), x.numpy()[1::3])


def test_file_object_without_readinto(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "_CHUNK", 7)

    class Plain:  # read/seek/tell only
        def __init__(self, raw):
            self._f = io.BytesIO(raw)
            self.read, self.seek, self.tell = self._f.read, self._f.seek, self._f.tell

        def seekable(self):
            return True

    f = io.BytesIO()
    microtorch.save(microtorch.arange(25.0), f)
    np.testing.assert_array_equal(microtorch.load(Plain(f.getvalue())).numpy(),
                                  np.arange(25.0, dtype=np.float32))


def test_mmap_maps_storages_copy_on_write(tmp_path):
    torch = pytest.importorskip("torch")
    x = microtorch.arange(10.0)
    microtorch.save({"x": x, "odd": x[1::2], "i": microtorch.arange(3)}, tmp_path / "m.pt")
    out = microtorch.load(tmp_path / "m.pt", mmap=True)
    th = torch.load(tmp_path / "m.pt", mmap=True)
    for k in ("x", "odd", "i"):
        np.testing.assert_array_equal(out[k].numpy(), th[k].numpy())
    root = S._root_array(out["x"].numpy())
    assert isinstance(root.base.obj, mmap.mmap)  # a view of the mapped file
    out["x"].add_(1)  # copy-on-write: the views see it, the file does not
    np.testing.assert_array_equal(out["odd"].numpy(), np.arange(2.0, 11.0, 2))
    np.testing.assert_array_equal(microtorch.load(tmp_path / "m.pt")["x"].numpy(),
                                  np.arange(10.0))
    with pytest.raises(ValueError, match="f must be a file path in order to use the mmap"):
        microtorch.load(io.BytesIO((tmp_path / "m.pt").read_bytes()), mmap=True)


# ---- weights_only: the tensor state PyTorch accepts ----------------------------------------
def with_state(state, parameter=True):
    """A checkpoint of a 2x3 parameter (or plain tensor: ``_rebuild_from_type_v2``) saved with
    the Python attributes ``state``."""
    if parameter:
        obj = Call("torch._utils", "_rebuild_parameter_with_state", microtorch.ones(2, 3), True,
                   OrderedDict(), state)
    else:  # what torch.save writes for a tensor with attributes
        obj = Call("torch._tensor", "_rebuild_from_type_v2",
                   S._TorchGlobal("torch._utils", "_rebuild_parameter"),
                   S._TorchGlobal("torch", "Tensor"),
                   (microtorch.ones(2, 3), False, OrderedDict()), state)
    f = io.BytesIO()
    microtorch.save(obj, f)
    return f.getvalue()


@pytest.mark.parametrize("state", [{"note": "kept", "step": 3},
                                   ({"note": "kept"}, {"step": 3}),
                                   {"note": "kept", "requires_grad": False},
                                   None, {}])
def test_ordinary_attributes_load_as_in_torch(state):
    torch = pytest.importorskip("torch")
    mt, th = load_both(with_state(state))
    assert isinstance(th, torch.nn.Parameter), th
    assert isinstance(mt, microtorch.nn.Parameter)
    flat = {} if not state else ({**state[0], **state[1]} if isinstance(state, tuple) else state)
    for name, value in flat.items():
        assert getattr(mt, name) == getattr(th, name) == value
    assert mt.requires_grad == th.requires_grad
    np.testing.assert_array_equal(mt.detach().numpy(), th.detach().numpy())


def test_tensor_with_attributes_saved_by_torch():
    torch = pytest.importorskip("torch")
    t, p = torch.arange(4.0), torch.nn.Parameter(torch.ones(2))
    t.note, p.note = "kept", {"lr": 0.1}
    f = io.BytesIO()
    torch.save({"t": t, "p": p}, f)
    f.seek(0)
    out = microtorch.load(f)
    assert type(out["t"]) is microtorch.Tensor and out["t"].note == "kept"
    assert isinstance(out["p"], microtorch.nn.Parameter) and out["p"].note == {"lr": 0.1}
    np.testing.assert_array_equal(out["t"].numpy(), np.arange(4.0))


def test_grad_and_data_in_state_are_validated_and_set():
    mt, th = load_both(with_state({"grad": microtorch.full((2, 3), 2.0)}))
    np.testing.assert_array_equal(mt.grad.numpy(), th.grad.numpy())
    mt, th = load_both(with_state({"data": microtorch.arange(4.0)}))
    assert mt.shape == th.shape == (4,) and mt.dtype is microtorch.float32
    np.testing.assert_array_equal(mt.detach().numpy(), th.detach().numpy())


@pytest.mark.parametrize("name,value", [
    ("dtype", microtorch.float64), ("_data", 5), ("_version", 5), ("grad_fn", None),
    ("_base", None), ("_device", microtorch.device("cpu")), ("_requires_grad", True),
    ("shape", (1,)), ("is_leaf", False), ("device", "cpu"), ("T", 1), ("__class__", "Tensor"),
    ("__dict__", {}), ("add", 1), ("numpy", None)])
def test_internal_slots_cannot_be_set_from_a_file(name, value):
    """dtype, _data, _version... were written straight into the tensor's slots."""
    for parameter in (True, False):
        with pytest.raises(pickle.UnpicklingError,
                           match=rf"(?s)Weights only load failed.*refused tensor state: "
                                 rf"attribute '{name}' of \w+ is not writable"):
            microtorch.load(io.BytesIO(with_state({name: value}, parameter)))
    with pytest.raises(pickle.UnpicklingError, match=f"attribute '{name}'"):
        microtorch.load(io.BytesIO(with_state({name: value})), weights_only=False)


@pytest.mark.parametrize("name", ["dtype", "_version", "grad_fn", "shape", "is_leaf", "device"])
def test_torch_refuses_the_same_slots(name):
    torch = pytest.importorskip("torch")
    with pytest.raises(AttributeError, match="not writable"):
        torch.load(io.BytesIO(with_state({name: None})))


@pytest.mark.parametrize("grad,error,match", [
    (microtorch.ones(3), RuntimeError, r"attempting to assign a gradient of size '\[3\]' to a "
                                       r"tensor of size '\[2, 3\]'"),
    (microtorch.ones(2, 3, dtype=microtorch.float64), RuntimeError,
     "attempting to assign a gradient with dtype 'float64' to a tensor with dtype 'float32'"),
    (5, pickle.UnpicklingError, "assigned grad expected to be a Tensor or None but got grad of "
                                "type int"),
])
def test_grad_in_state_is_checked_like_the_grad_setter(grad, error, match):
    mt, th = load_both(with_state({"grad": grad}))
    assert isinstance(mt, error) and re.search(match, str(mt))
    assert isinstance(th, Exception)


@pytest.mark.parametrize("state,match", [
    ({"data": 4}, "Variable data has to be a tensor, but got int"),
    ({"requires_grad": 1}, "requires_grad must be a bool"),
    ([("note", 1)], "expected a dict of attributes, got list"),
    ({1: 2}, "attribute names must be strings, got int"),
])
def test_malformed_state_is_refused(state, match):
    mt, th = load_both(with_state(state))
    assert isinstance(mt, pickle.UnpicklingError) and match in str(mt)
    assert isinstance(th, Exception)


def test_state_tuple_of_wrong_length():
    mt, th = load_both(with_state(({}, {}, {})))
    assert isinstance(mt, RuntimeError) and "Invalid serialized state" in str(mt)
    assert isinstance(th, RuntimeError) and "Invalid serialized state" in str(th)


def test_rebuild_from_type_v2_gives_the_requested_type():
    mt = microtorch.load(io.BytesIO(with_state({"note": 1}, parameter=False)))
    assert type(mt) is microtorch.Tensor and mt.note == 1


# ---- every failure: RuntimeError / UnpicklingError naming the file and the record -----------
def expect(raw, error, match, record, tmp_path=None, **kwargs):
    """Loading ``raw`` raises ``error`` matching ``match`` and naming the file and ``record``,
    from a file object and from a path."""
    with pytest.raises(error, match=match) as info:
        microtorch.load(io.BytesIO(raw), **kwargs)
    where = "(checkpoint <BytesIO>" + (f", record '{record}')" if record else ")")
    assert where in str(info.value)
    if tmp_path is not None:
        path = tmp_path / "hostile.pt"
        path.write_bytes(raw)
        with pytest.raises(error, match=match) as info:
            microtorch.load(path, **kwargs)
        assert f"(checkpoint {str(path)!r}" in str(info.value)
    return info.value


def test_truncated_zip_names_the_file(tmp_path):
    microtorch.save({"w": microtorch.ones(100)}, tmp_path / "ok.pt")
    raw = (tmp_path / "ok.pt").read_bytes()
    expect(raw[:len(raw) // 2], RuntimeError, "failed finding central directory", None,
           tmp_path)


def test_missing_storage_record(tmp_path):
    raw = tensor_file(storages=[])
    expect(raw, RuntimeError, "failed locating file data/0: file not found", "data/0", tmp_path)
    _, th = load_both(raw)
    assert isinstance(th, RuntimeError)


def test_storage_shorter_than_numel(tmp_path):
    raw = tensor_file(storages=[("0", b"\x00" * 10)])
    expect(raw, RuntimeError, "expected 16 bytes, the record holds 10", "data/0", tmp_path)
    _, th = load_both(raw)
    assert isinstance(th, RuntimeError)


def claiming(size):
    """A checkpoint whose record data/0 holds 16 bytes but whose central directory claims
    ``size`` (the pickle asks for as many float32 elements)."""
    buf = io.BytesIO()
    z = S._ZipWriter(buf, "archive")
    z.write_record("data.pkl", pickled(rebuild(Storage(numel=size // 4))))
    z.write_record("data/0", np.arange(4, dtype="<f4"))
    name, crc, _, offset = z.entries[-1]
    z.entries[-1] = (name, crc, size, offset)
    z.write_record("version", b"3\n")
    z.finish()
    return buf.getvalue()


@pytest.mark.parametrize("size", [2 ** 42, 2 ** 62, 1 << 20])
def test_absurd_numel_is_refused_before_allocating(tmp_path, size):
    """A record claiming terabytes that the file does not hold raised a bare MemoryError (or
    allocated); its size is now checked against the file before anything is allocated."""
    expect(claiming(size), RuntimeError, f"the record claims {size} bytes at offset \\d+ but "
           "the file holds \\d+ bytes", "data/0", tmp_path)


def test_absurd_numel_torch_also_refuses():
    _, th = load_both(claiming(2 ** 42))
    assert isinstance(th, RuntimeError)


@pytest.mark.parametrize("kwargs,match", [
    (dict(size=(-1,)), r"bad size \(-1,\)"),
    (dict(stride=(-1,)), r"bad stride \(-1,\)"),
    (dict(offset=-1), "bad storage offset"),
    (dict(size=(2, 2), stride=(1,)), "bad storage offset or stride"),
    (dict(size=(1.5,)), r"bad size \(1.5,\)"),
])
def test_negative_or_malformed_geometry(kwargs, match):
    e = expect(tensor_file(**kwargs), pickle.UnpicklingError, match, "data.pkl")
    assert str(e).startswith("Weights only load failed")


@pytest.mark.parametrize("kwargs,match", [
    # numel overflowed int64 (2**80 -> 0) and NumPy raised a bare ValueError
    (dict(size=(2 ** 40, 2 ** 40), stride=(0, 0)), "overflow the addressable memory"),
    (dict(size=(0, 2 ** 62), stride=(1, 1)), "overflow the addressable memory"),
    (dict(size=(1,), stride=(2 ** 70,)), "overflow the addressable memory"),
    (dict(size=(2 ** 62,), stride=(0,)), "overflow the addressable memory"),
    (dict(size=(2,), stride=(2 ** 40,)), "out of bounds for storage of 4 elements"),
    (dict(offset=2 ** 70), "out of bounds for storage of 4 elements"),
    (dict(size=(1,) * 70, stride=(1,) * 70), "70 dimensions, more than the 64"),
])
def test_overflowing_geometry(kwargs, match):
    """Sizes, strides and offsets NumPy cannot address are refused with a RuntimeError (torch
    accepts some of them, e.g. a (0, 2**62) tensor, that a NumPy array cannot hold)."""
    expect(tensor_file(**kwargs), RuntimeError, match, "data.pkl")


@pytest.mark.parametrize("kwargs", [dict(size=(2 ** 40, 2 ** 40), stride=(0, 0)),
                                    dict(size=(2,), stride=(2 ** 40,)), dict(offset=2 ** 70)])
def test_overflowing_geometry_torch_also_refuses(kwargs):
    _, th = load_both(tensor_file(**kwargs))
    assert isinstance(th, (RuntimeError, ValueError, TypeError))


@pytest.mark.parametrize("weights_only,match", [
    (True, "GLOBAL torch.ComplexFloatStorage was not an allowed global"),
    (False, "microtorch has no equivalent of torch.ComplexFloatStorage")])
def test_unknown_storage_dtype(weights_only, match):
    raw = tensor_file(storage=Storage(type_name="ComplexFloatStorage"))
    expect(raw, pickle.UnpicklingError, match, "data.pkl", weights_only=weights_only)


def test_storage_id_of_a_non_storage_type():
    raw = tensor_file(storage=Storage(type_name="float32"))
    expect(raw, pickle.UnpicklingError, "malformed storage id", "data.pkl")


@pytest.mark.parametrize("mark", [b"middle", b"\xff\xfe", b""])
def test_bad_byteorder(mark):
    """A bad byteorder record raised a bare ValueError (torch: ValueError too)."""
    buf = io.BytesIO()
    z = S._ZipWriter(buf, "archive")
    z.write_record("data.pkl", pickled(rebuild()))
    z.write_record("byteorder", mark)
    z.write_record("data/0", FOUR_FLOATS[0][1])
    z.finish()
    expect(buf.getvalue(), RuntimeError, "Unknown endianness type", "byteorder")


def test_big_endian_storages_are_swapped():
    buf = io.BytesIO()
    z = S._ZipWriter(buf, "archive")
    z.write_record("data.pkl", pickled(rebuild()))
    z.write_record("byteorder", b"big")
    z.write_record("data/0", np.arange(4, dtype=">f4"))
    z.finish()
    buf.seek(0)
    np.testing.assert_array_equal(microtorch.load(buf).numpy(), np.arange(4.0))


@pytest.mark.parametrize("pkl", [
    pickled(rebuild())[:-5],  # truncated
    b"\x80\x02\xff\xff.",  # unknown opcodes
    b"\x80\x02ccollections\nOrderedDict\nK\x05\x85R.",  # OrderedDict(5): TypeError
    b"\x80\x02c__builtin__\ncomplex\nX\x01\x00\x00\x00x\x85R.",  # complex('x'): ValueError
    b"\x80\x02c__builtin__\nbytearray\n\x8a\x06\x00\x00\x00\x00\x00\x01\x85R.",  # 2**40 bytes
    b"\x80\x02ctorch\nSize\nK\x05\x85R.",  # torch.Size(5)
    b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nK\x01\x85R.",  # wrong number of arguments
])
def test_corrupt_pickle(pkl, tmp_path):
    """Each of these raised IndexError/TypeError/ValueError/MemoryError (or allocated 1 TB)."""
    raw = checkpoint_from_pickle(pkl, FOUR_FLOATS).getvalue()
    expect(raw, pickle.UnpicklingError, "Weights only load failed|corrupt data.pkl", "data.pkl",
           tmp_path)
    _, th = load_both(raw)
    assert isinstance(th, Exception)


def test_corrupt_pickle_with_weights_only_false():
    raw = checkpoint_from_pickle(pickled(rebuild())[:-5], FOUR_FLOATS).getvalue()
    expect(raw, pickle.UnpicklingError, "corrupt data.pkl", "data.pkl", weights_only=False)


def test_corrupt_and_unsupported_records(tmp_path):
    microtorch.save(microtorch.arange(4.0), tmp_path / "c.pt")
    with zipfile.ZipFile(tmp_path / "c.pt") as src, \
            zipfile.ZipFile(tmp_path / "b.pt", "w") as dst:
        for info in src.infolist():
            method = zipfile.ZIP_BZIP2 if info.filename.endswith("data/0") else 0
            dst.writestr(info.filename, src.read(info), compress_type=method)
    expect((tmp_path / "b.pt").read_bytes(), RuntimeError, "unsupported compression method 12",
           "data/0")
    raw = bytearray((tmp_path / "c.pt").read_bytes())
    with zipfile.ZipFile(tmp_path / "c.pt") as z:
        offset = z.getinfo("c/data/0").header_offset
    raw[offset:offset + 4] = b"XXXX"  # the local header of data/0 is gone
    expect(bytes(raw), RuntimeError, "bad local file header", "data/0")


def central_entry(raw, name):
    """Offset of the central directory entry of record ``name`` in the zip bytes ``raw``."""
    at = raw.index(b"PK\x01\x02")
    while raw[at + 46:at + 46 + len(name)] != name:
        at = raw.index(b"PK\x01\x02", at + 1)
    return at


@pytest.mark.parametrize("offset", [0xFFFFFFF0, 2 ** 31])
def test_local_header_offset_outside_the_file(offset):
    """A central directory entry pointing outside the file is refused before any seek (a
    negative or huge offset made seek raise a bare ValueError/OverflowError)."""
    raw = bytearray(tensor_file())
    at = central_entry(raw, b"archive/data/0")
    raw[at + 42:at + 46] = offset.to_bytes(4, "little")
    expect(bytes(raw), RuntimeError, f"local header offset {offset} outside the file", "data/0")


def test_deflate_bomb_claim_is_refused(tmp_path):
    """A deflated record cannot expand more than 1032 times: a larger claim is refused before
    the array is allocated."""
    numel = 2 ** 29
    with zipfile.ZipFile(tmp_path / "d.pt", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", pickled(rebuild(Storage(numel=numel))))
        z.writestr("archive/data/0", bytes(40_000))
    raw = bytearray((tmp_path / "d.pt").read_bytes())
    at = central_entry(raw, b"archive/data/0")  # which claims numel * 4 bytes
    raw[at + 24:at + 28] = (4 * numel).to_bytes(4, "little")
    expect(bytes(raw), RuntimeError, f"compressed bytes cannot hold {4 * numel} bytes",
           "data/0")


# ---- stride-0 views -----------------------------------------------------------------------------
def in_place_outcome(t):
    """What ``t.add_(1)`` does: the new values, or the exception's class and message."""
    try:
        return t.add_(1).numpy().tolist()
    except Exception as e:  # noqa: BLE001 - the outcome is compared, whatever it is
        return type(e).__name__, str(e)


def test_expanded_tensor_from_torch_keeps_stride_zero():
    torch = pytest.importorskip("torch")
    f = io.BytesIO()
    torch.save({"e": torch.arange(3.0).expand(4, 3), "base": torch.ones(2)}, f)
    f.seek(0)
    e = microtorch.load(f)["e"]
    assert e.shape == (4, 3) and e._data.strides == (0, 4)
    np.testing.assert_array_equal(e.numpy(), np.broadcast_to(np.arange(3.0), (4, 3)))
    np.testing.assert_array_equal((e * 2).numpy(), 2 * np.broadcast_to(np.arange(3.0), (4, 3)))
    # the loaded view behaves as microtorch's own expand() under an in-place write
    own = microtorch.arange(3.0).expand(4, 3)
    assert e._data.flags.writeable == own._data.flags.writeable
    assert in_place_outcome(e) == in_place_outcome(own)


def test_expanded_view_saved_as_torch_saves_it(tmp_path):
    """An expand() view is saved as a 0-stride view of its base's storage (it was saved as a
    materialised copy), and loads back as one in microtorch and in torch."""
    torch = pytest.importorskip("torch")
    x = microtorch.arange(3.0)
    microtorch.save({"x": x, "e": x.expand(2, 3)}, tmp_path / "e.pt")
    with zipfile.ZipFile(tmp_path / "e.pt") as z:
        assert [n for n in z.namelist() if "/data/" in n] == ["e/data/0"]
    out = microtorch.load(tmp_path / "e.pt")
    assert out["e"]._data.strides == (0, 4)
    out["x"].numpy()[1] = 7.0  # the view follows its base
    assert out["e"][1, 1].item() == 7.0
    th = torch.load(tmp_path / "e.pt")
    assert th["e"].stride() == (0, 1)
    assert th["e"].untyped_storage().data_ptr() == th["x"].untyped_storage().data_ptr()
    np.testing.assert_array_equal(th["e"].numpy(), np.broadcast_to(np.arange(3.0), (2, 3)))
