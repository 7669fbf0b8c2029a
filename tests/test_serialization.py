"""microtorch.save / microtorch.load: PyTorch's zip checkpoint format in all four directions,
the weights-only safety net, corrupt files and map_location."""

import copy
import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import microtorch
from microtorch import serialization as S

DTYPES = ["float32", "float64", "int64", "int32", "uint8", "bool"]


def sample(dtype_name, shape=(3, 4)):
    rng = np.random.default_rng(0)
    if dtype_name == "bool":
        return rng.random(shape) > 0.5
    if dtype_name == "uint8":
        return rng.integers(0, 256, shape).astype(np.uint8)
    if dtype_name.startswith("int"):
        return rng.integers(-1000, 1000, shape).astype(dtype_name)
    return rng.standard_normal(shape).astype(dtype_name)


def mt_tensor(arr):
    return microtorch.from_numpy(np.array(arr))


def assert_same(mt, ref):
    """A microtorch tensor equals a NumPy array or a torch tensor (values, dtype, shape)."""
    ref = ref.detach().numpy() if hasattr(ref, "detach") else np.asarray(ref)
    assert tuple(mt.shape) == ref.shape
    assert mt.dtype.np == ref.dtype
    np.testing.assert_array_equal(mt.detach().numpy(), ref)


def checkpoint_from_pickle(pkl, storages=()):
    """A valid zip checkpoint holding the given data.pkl bytes and raw storages."""
    buf = io.BytesIO()
    z = S._ZipWriter(buf, "archive")
    z.write_record("data.pkl", pkl)
    z.write_record("byteorder", b"little")
    for key, data in storages:
        z.write_record(f"data/{key}", data)
    z.write_record("version", b"3\n")
    z.finish()
    buf.seek(0)
    return buf


def saved_on_cuda(obj):
    """Bytes of a checkpoint of ``obj`` whose storages are tagged 'cuda:0'."""
    buf = io.BytesIO()
    microtorch.save(obj, buf)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    pkl = z.read("archive/data.pkl").replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
    storages = [(n.split("/")[-1], z.read(n)) for n in z.namelist() if "/data/" in n]
    return checkpoint_from_pickle(pkl, storages).getvalue()


# ---- microtorch -> microtorch ------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_roundtrip_each_dtype(tmp_path, dtype):
    t = mt_tensor(sample(dtype))
    microtorch.save(t, tmp_path / "t.pt")
    assert_same(microtorch.load(tmp_path / "t.pt"), t.numpy())


def test_roundtrip_views_share_storage(tmp_path):
    x = microtorch.arange(12.0).reshape(3, 4)
    obj = {"x": x, "t": x.t(), "row": x[1], "cols": x[:, ::2], "again": x}
    microtorch.save(obj, tmp_path / "v.pt")
    with zipfile.ZipFile(tmp_path / "v.pt") as z:  # one storage for all the views
        assert [n for n in z.namelist() if "/data/" in n] == ["v/data/0"]
    out = microtorch.load(tmp_path / "v.pt")
    for k in obj:
        assert_same(out[k], obj[k].numpy())
    assert out["again"] is out["x"]  # the same tensor twice stays one object
    out["x"].numpy()[0, 1] = 100.0  # and the views still view the same memory
    assert out["t"][1, 0].item() == 100.0 and out["cols"].shape == (3, 2)


def test_roundtrip_special_shapes(tmp_path):
    obj = {"scalar": microtorch.tensor(3.5), "empty": microtorch.zeros(0, 3),
           "expanded": microtorch.tensor([1.0, 2.0]).expand(3, 2),
           "fortran": microtorch.from_numpy(np.asfortranarray(np.arange(6.0).reshape(2, 3))),
           "flipped": microtorch.from_numpy(np.arange(5)[::-1])}
    microtorch.save(obj, tmp_path / "s.pt")
    out = microtorch.load(tmp_path / "s.pt")
    for k, v in obj.items():
        assert_same(out[k], np.asarray(v.numpy()))


def test_roundtrip_containers_and_scalars(tmp_path):
    sd = OrderedDict([("w", microtorch.ones(2, 2)), ("b", microtorch.zeros(2))])
    sd._metadata = OrderedDict([("", {"version": 1})])
    obj = {"sd": sd, "list": [1, 2.5, "a", None, True, (1, "b")], "int": 7, "float": 0.25,
           "str": "hi", "bool": False, "none": None, "set": {1, 2}, "bytes": b"\x00\xff",
           "complex": 1 + 2j, "dtype": microtorch.int64, "device": microtorch.device("cpu"),
           "size": microtorch.Size([2, 3]), "nested": {"a": [microtorch.tensor([1, 2])]}}
    f = io.BytesIO()
    microtorch.save(obj, f)
    f.seek(0)
    out = microtorch.load(f)
    assert isinstance(out["sd"], OrderedDict) and list(out["sd"]) == ["w", "b"]
    assert out["sd"]._metadata == {"": {"version": 1}}
    for k in ("list", "int", "float", "str", "bool", "none", "set", "bytes", "complex"):
        assert out[k] == obj[k] and type(out[k]) is type(obj[k])
    assert out["dtype"] is microtorch.int64 and out["device"] == microtorch.device("cpu")
    assert isinstance(out["size"], microtorch.Size) and out["size"] == (2, 3)
    assert_same(out["nested"]["a"][0], np.array([1, 2]))


def test_requires_grad_survives(tmp_path):
    w = microtorch.ones(3, requires_grad=True)
    microtorch.save({"w": w, "y": w * 2}, tmp_path / "g.pt")
    out = microtorch.load(tmp_path / "g.pt")
    assert out["w"].requires_grad and out["w"].is_leaf
    assert out["y"].requires_grad and out["y"].is_leaf  # loaded as a leaf, like torch


def test_parameter_roundtrip(tmp_path):
    Parameter = microtorch.nn.Parameter
    if Parameter is None:
        pytest.skip("microtorch.nn.Parameter is not there yet")
    p = Parameter(microtorch.ones(2, 3))
    microtorch.save({"p": p}, tmp_path / "p.pt")
    out = microtorch.load(tmp_path / "p.pt")["p"]
    assert isinstance(out, Parameter) and out.requires_grad
    assert_same(out, np.ones((2, 3), np.float32))
    for clone in (pickle.loads(pickle.dumps(p)), copy.deepcopy(p)):  # plain pickling too
        assert isinstance(clone, Parameter) and clone.requires_grad
        assert_same(clone, np.ones((2, 3), np.float32))


def test_records_are_aligned_like_torch(tmp_path):
    microtorch.save({"a": microtorch.ones(3), "b": microtorch.arange(5)}, tmp_path / "al.pt")
    raw = (tmp_path / "al.pt").read_bytes()
    with zipfile.ZipFile(tmp_path / "al.pt") as z:
        names = [i.filename for i in z.infolist()]
        assert names == ["al/data.pkl", "al/.format_version", "al/.storage_alignment",
                         "al/byteorder", "al/data/0", "al/data/1", "al/version",
                         "al/.data/serialization_id"]
        assert z.read("al/byteorder") == b"little" and z.read("al/version") == b"3\n"
        for info in z.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            name_len, extra_len = np.frombuffer(raw[info.header_offset + 26:
                                                    info.header_offset + 30], "<u2")
            start = info.header_offset + 30 + int(name_len) + int(extra_len)
            assert start % 64 == 0
            assert raw[start:start + info.file_size] == z.read(info)


def test_file_object_archive_name_and_pathlike(tmp_path):
    f = io.BytesIO()
    microtorch.save(microtorch.ones(1), f)
    assert zipfile.ZipFile(io.BytesIO(f.getvalue())).namelist()[0] == "archive/data.pkl"
    microtorch.save(microtorch.ones(1), str(tmp_path / "model.v1.pt"))
    assert zipfile.ZipFile(tmp_path / "model.v1.pt").namelist()[0] == "model.v1/data.pkl"


def test_pickle_and_deepcopy_use_rebuild_function():
    t = microtorch.tensor([[1.0, 2.0]], requires_grad=True)
    for clone in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
        assert_same(clone, np.array([[1.0, 2.0]], np.float32))
        assert clone.requires_grad
    r = S._rebuild_tensor_for_pickle(np.arange(3), False)
    assert r.dtype is microtorch.int64 and not r.requires_grad


# ---- torch <-> microtorch ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_to_microtorch_each_dtype(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(sample(dtype))
    torch.save({"t": t, "view": t.t()[1:]}, tmp_path / "t.pt")
    out = microtorch.load(tmp_path / "t.pt")
    assert_same(out["t"], t)
    assert_same(out["view"], t.t()[1:])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights_only", [True, False])
def test_microtorch_to_torch_each_dtype(tmp_path, dtype, weights_only):
    torch = pytest.importorskip("torch")
    x = mt_tensor(sample(dtype, (4, 5)))
    microtorch.save({"x": x, "view": x.t()[1:, ::2]}, tmp_path / "m.pt")
    out = torch.load(tmp_path / "m.pt", weights_only=weights_only)
    assert out["x"].dtype == getattr(torch, dtype)
    np.testing.assert_array_equal(out["x"].numpy(), x.numpy())
    np.testing.assert_array_equal(out["view"].numpy(), x.t()[1:, ::2].numpy())
    assert out["view"].untyped_storage().data_ptr() == out["x"].untyped_storage().data_ptr()


def test_torch_state_dict_to_microtorch(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    net.bias_param = torch.nn.Parameter(torch.ones(2))
    torch.save({"model": net.state_dict(), "epoch": 3, "param": net.bias_param,
                "opt": {"lr": 0.1, "betas": (0.9, 0.999)}}, tmp_path / "sd.pt")
    out = microtorch.load(tmp_path / "sd.pt")
    sd = out["model"]
    assert isinstance(sd, OrderedDict) and list(sd) == list(net.state_dict())
    for k, v in net.state_dict().items():
        assert_same(sd[k], v)
    assert sd["1.num_batches_tracked"].dtype is microtorch.int64
    assert sd._metadata == net.state_dict()._metadata
    assert out["epoch"] == 3 and out["opt"] == {"lr": 0.1, "betas": (0.9, 0.999)}
    assert out["param"].requires_grad
    assert_same(out["param"], net.bias_param)


def test_microtorch_state_dict_to_torch(tmp_path):
    torch = pytest.importorskip("torch")
    sd = OrderedDict([("weight", microtorch.randn(2, 3)), ("bias", microtorch.randn(2))])
    sd._metadata = OrderedDict([("", {"version": 1})])
    microtorch.save(sd, tmp_path / "sd.pt")
    lin = torch.nn.Linear(3, 2)
    lin.load_state_dict(torch.load(tmp_path / "sd.pt"))
    np.testing.assert_array_equal(lin.weight.detach().numpy(), sd["weight"].numpy())
    assert torch.load(tmp_path / "sd.pt")._metadata == {"": {"version": 1}}


def test_data_pkl_is_byte_identical_to_torch(tmp_path):
    torch = pytest.importorskip("torch")
    sd = torch.nn.Linear(3, 2).state_dict()
    torch.save(sd, tmp_path / "t.pt")
    msd = OrderedDict((k, microtorch.from_numpy(v.numpy().copy())) for k, v in sd.items())
    msd._metadata = sd._metadata
    (tmp_path / "m").mkdir()
    microtorch.save(msd, tmp_path / "m" / "t.pt")
    a, b = zipfile.ZipFile(tmp_path / "t.pt"), zipfile.ZipFile(tmp_path / "m" / "t.pt")
    assert [(i.filename, i.header_offset) for i in a.infolist()] == \
        [(i.filename, i.header_offset) for i in b.infolist()]
    for name in a.namelist():
        if not name.endswith("serialization_id"):
            assert a.read(name) == b.read(name), name


def test_microtorch_parameter_and_misc_to_torch(tmp_path):
    torch = pytest.importorskip("torch")
    obj = {"dtype": microtorch.float64, "device": microtorch.device("cpu"),
           "size": microtorch.Size([1, 2]), "rg": microtorch.ones(2, requires_grad=True)}
    Parameter = microtorch.nn.Parameter
    if Parameter is not None:
        obj["param"] = Parameter(microtorch.zeros(2))
    microtorch.save(obj, tmp_path / "o.pt")
    out = torch.load(tmp_path / "o.pt")
    assert out["dtype"] is torch.float64 and out["device"] == torch.device("cpu")
    assert out["size"] == torch.Size([1, 2]) and out["rg"].requires_grad
    if Parameter is not None:
        assert isinstance(out["param"], torch.nn.Parameter)


def test_torch_to_torch_sanity(tmp_path):
    torch = pytest.importorskip("torch")
    x = torch.arange(6.0).reshape(2, 3)
    torch.save({"x": x, "t": x.t()}, tmp_path / "tt.pt")
    out = torch.load(tmp_path / "tt.pt")
    assert torch.equal(out["t"], x.t())


def test_torch_half_precision_is_upcast_with_warning(tmp_path):
    torch = pytest.importorskip("torch")
    h = torch.tensor([1.5, -2.0], dtype=torch.float16)
    bf = torch.tensor([3.0], dtype=torch.bfloat16)
    torch.save({"h": h, "bf": bf, "i8": torch.tensor([-3], dtype=torch.int8)}, tmp_path / "h.pt")
    with pytest.warns(UserWarning, match="no BFloat16Storage, CharStorage, HalfStorage dtype"):
        out = microtorch.load(tmp_path / "h.pt")
    assert_same(out["h"], np.array([1.5, -2.0], np.float32))
    assert_same(out["bf"], np.array([3.0], np.float32))
    assert_same(out["i8"], np.array([-3], np.int32))


# ---- safety: weights-only loading ----------------------------------------------------------
def test_malicious_global_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    pkl = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    with pytest.raises(pickle.UnpicklingError, match=r"(?s)Weights only load failed.*"
                       r"Unsupported global: GLOBAL os\.system"):
        microtorch.load(checkpoint_from_pickle(pkl))
    assert not marker.exists()


@pytest.mark.parametrize("module,name", [("builtins", "eval"), ("subprocess", "Popen"),
                                         ("__builtin__", "getattr"), ("posix", "system"),
                                         ("microtorch.serialization", "_Unpickler")])
def test_other_globals_are_refused(module, name):
    pkl = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X\x01\x00\x00\x00x\x85R."
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL"):
        microtorch.load(checkpoint_from_pickle(pkl))


def test_malicious_class_pickled_by_python_is_refused(tmp_path):
    marker = tmp_path / "pwned2"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    pkl = pickle.dumps({"x": Evil()}, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="system was not an allowed global"):
        microtorch.load(checkpoint_from_pickle(pkl))
    assert not marker.exists()


@pytest.mark.parametrize("pkl,what", [
    (b"\x80\x02ctorch\nfloat32\n}(X\x02\x00\x00\x00npX\x01\x00\x00\x00xub.", "BUILD of dtype"),
    (b"\x80\x02ctorch\ndevice\nX\x03\x00\x00\x00cpu\x85R(X\x01\x00\x00\x00aK\x01u.",
     "SETITEM on device"),
    (b"\x80\x02ccollections\nOrderedDict\n)R}X\x08\x00\x00\x00__dict__}sb.", "BUILD of Ordered"),
    (b"\x80\x02ctorch\nSize\n)R(K\x01e.", "APPEND on Size"),
])
def test_mutating_opcodes_are_restricted(pkl, what):
    with pytest.raises(pickle.UnpicklingError, match=what):
        microtorch.load(checkpoint_from_pickle(pkl))
    assert microtorch.float32.np == np.float32


def test_out_of_bounds_view_is_refused():
    pkl = (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\n"
           b"FloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQK\x00K\x64\x85K\x01\x85"
           b"\x89ccollections\nOrderedDict\n)RtR.")
    with pytest.raises(RuntimeError, match="out of bounds for storage of 2 elements"):
        microtorch.load(checkpoint_from_pickle(pkl, [("0", b"\x00" * 8)]))


def test_storage_size_is_checked_before_allocating():
    pkl = (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\n"
           b"FloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu\x8a\x06\x00\x00\x00\x00\x00\x01"
           b"tQK\x00K\x01\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR.")
    with pytest.raises(RuntimeError, match="failed reading file data/0: expected 4398046511104 "
                       "bytes, the record holds 8"):
        microtorch.load(checkpoint_from_pickle(pkl, [("0", b"\x00" * 8)]))


def test_weights_only_false_loads_trusted_objects(tmp_path):
    obj = {"frac": __import__("fractions").Fraction(1, 3), "t": microtorch.ones(2)}
    microtorch.save(obj, tmp_path / "full.pt")
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL fractions.Fraction"):
        microtorch.load(tmp_path / "full.pt")
    out = microtorch.load(tmp_path / "full.pt", weights_only=False)
    assert out["frac"] == obj["frac"]
    with pytest.raises(RuntimeError, match="explicit pickle_module"):
        microtorch.load(tmp_path / "full.pt", pickle_module=pickle)


# ---- corrupt and missing files ---------------------------------------------------------------
def test_truncated_file(tmp_path):
    microtorch.save({"w": microtorch.ones(100)}, tmp_path / "ok.pt")
    raw = (tmp_path / "ok.pt").read_bytes()
    for n in (10, len(raw) // 2, len(raw) - 10):
        (tmp_path / "cut.pt").write_bytes(raw[:n])
        with pytest.raises(RuntimeError, match="failed finding central directory"):
            microtorch.load(tmp_path / "cut.pt")


def test_random_bytes_and_empty_file(tmp_path):
    (tmp_path / "rand.pt").write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(RuntimeError, match="not a zip archive"):
        microtorch.load(tmp_path / "rand.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(EOFError, match="empty"):
        microtorch.load(tmp_path / "empty.pt")


def test_missing_file_and_missing_record(tmp_path):
    with pytest.raises(FileNotFoundError):
        microtorch.load(tmp_path / "nope.pt")
    buf = io.BytesIO()
    z = S._ZipWriter(buf, "archive")
    z.write_record("version", b"3\n")
    z.finish()
    buf.seek(0)
    with pytest.raises(RuntimeError, match="failed locating file data.pkl"):
        microtorch.load(buf)


def test_corrupt_storage_record(tmp_path):
    microtorch.save(microtorch.ones(4), tmp_path / "c.pt")
    raw = bytearray((tmp_path / "c.pt").read_bytes())
    with zipfile.ZipFile(tmp_path / "c.pt") as z:
        info = z.getinfo("c/data/0")
    name_len, extra_len = np.frombuffer(raw[info.header_offset + 26:info.header_offset + 30], "<u2")
    raw[info.header_offset + 30 + int(name_len) + int(extra_len) + 5] ^= 0xFF  # flip a data byte
    (tmp_path / "c.pt").write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="failed reading file data/0"):
        microtorch.load(tmp_path / "c.pt")


# ---- map_location ----------------------------------------------------------------------------
@pytest.mark.parametrize("map_location", [None, "cpu", microtorch.device("cpu"), {"cpu": "cpu"},
                                          lambda storage, loc: storage,
                                          lambda storage, loc: None])
def test_map_location_on_cpu_checkpoint(tmp_path, map_location):
    x = microtorch.arange(6.0).reshape(2, 3)
    microtorch.save({"x": x, "t": x.t()}, tmp_path / "m.pt")
    out = microtorch.load(tmp_path / "m.pt", map_location=map_location)
    assert out["x"].device == microtorch.device("cpu")
    assert_same(out["t"], x.t().numpy())


@pytest.mark.skipif(microtorch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_checkpoint_on_cpu_only_machine(tmp_path):
    raw = saved_on_cuda({"w": microtorch.arange(4.0)})
    with pytest.raises(RuntimeError, match=r"Attempting to deserialize object on a CUDA device "
                       r"but torch.cuda.is_available\(\) is False.*map_location=torch.device"):
        microtorch.load(io.BytesIO(raw))
    for map_location in ("cpu", microtorch.device("cpu"), {"cuda:0": "cpu"},
                         lambda storage, loc: storage):
        out = microtorch.load(io.BytesIO(raw), map_location=map_location)
        assert_same(out["w"], np.arange(4.0, dtype=np.float32))
    seen = []
    microtorch.load(io.BytesIO(raw), map_location=lambda s, loc: seen.append(loc) or s)
    assert seen == ["cuda:0"]


def test_cuda_checkpoint_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("needs a CPU-only torch")
    raw = saved_on_cuda({"w": microtorch.arange(4.0)})
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        torch.load(io.BytesIO(raw))
    out = torch.load(io.BytesIO(raw), map_location="cpu")
    assert torch.equal(out["w"], torch.arange(4.0))


def test_unknown_location_and_bad_map_location(tmp_path):
    microtorch.save(microtorch.ones(2), tmp_path / "u.pt")
    with pytest.raises(RuntimeError, match=r"don't know how to restore data location of "
                       r"torch.FloatStorage \(tagged with mps\)"):
        microtorch.load(tmp_path / "u.pt", map_location="mps")
    with pytest.raises(TypeError, match="map_location"):
        microtorch.load(tmp_path / "u.pt", map_location=3)


CUDA_SCRIPT = """
import io, sys
import numpy as np
import microtorch.backends.cuda as backend
backend.allow_simulator(True)
import microtorch as mt
x = mt.arange(6.0).reshape(2, 3).cuda()
f = io.BytesIO()
mt.save({"x": x, "t": x.t(), "w": mt.ones(2, device="cuda", requires_grad=True)}, f)
assert b"cuda:0" in f.getvalue()
f.seek(0)
out = mt.load(f)
assert out["t"].device == mt.device("cuda", 0) and out["w"].requires_grad
np.testing.assert_array_equal(out["t"].cpu().numpy(), np.arange(6.0).reshape(2, 3).T)
f.seek(0)
assert mt.load(f, map_location="cpu")["x"].device == mt.device("cpu")
f.seek(0)
assert mt.load(f, map_location=lambda s, loc: s.cuda())["x"].device.type == "cuda"
g = io.BytesIO()
mt.save({"y": mt.ones(2)}, g)
g.seek(0)
assert mt.load(g, map_location="cuda:0")["y"].device.type == "cuda"
g.seek(0)
try:
    mt.load(g, map_location="cuda:7")
    sys.exit("no error for a missing GPU index")
except RuntimeError as e:
    assert "Attempting to deserialize object on CUDA device 7" in str(e)
print("ok")
"""


def test_cuda_tensors_under_simulator():
    """Saving from and loading onto CUDA, in a subprocess running numba's CUDA simulator (the
    simulator is process-wide, so it cannot be switched on inside this test process)."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("numba_cuda") is None:
        pytest.skip("numba-cuda is not installed")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", CUDA_SCRIPT], env=env, cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
