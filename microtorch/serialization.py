"""``save`` and ``load`` in PyTorch's own checkpoint format, without needing PyTorch.

A checkpoint written by ``torch.save`` (PyTorch >= 1.6) loads here, and one written here loads
with ``torch.load``. The format is an uncompressed zip archive whose entries all sit in one folder
(``<archive>/``, the file's base name, or ``archive`` for a file object)::

    archive/data.pkl              the object, pickled (protocol 2); tensors are reduced to
                                  torch._utils._rebuild_tensor_v2(storage, storage_offset, size,
                                  stride, requires_grad, backward_hooks)
    archive/.format_version       "1"
    archive/.storage_alignment    "64"
    archive/byteorder             "little"
    archive/data/0, data/1, ...   the raw bytes of each storage (a tensor's whole memory block)
    archive/version               "3\\n"
    archive/.data/serialization_id

Each storage is not pickled but named by a *persistent id*
``('storage', torch.FloatStorage, key, location, numel)``, so tensor data never goes through the
pickle machinery, and views that share memory (``x`` and ``x.t()``) share one storage. As
PyTorch's writer does, every record's data starts at a multiple of 64 bytes: the zip local header
carries an extra field ``FB`` padded with ``Z``.

Loading is safe by default (``weights_only=True``): the unpickler resolves only an allow-list of
globals (``collections.OrderedDict``, torch's tensor and parameter rebuild functions, storage
classes, dtypes, ``torch.device``, ``torch.Size``, ``set``, ``complex``, ...) to microtorch
equivalents; any other global (``os.system``, ``builtins.eval``...) raises
:class:`pickle.UnpicklingError` before anything runs, and the opcodes that could mutate an
object (``BUILD``, ``SETITEM``, ``APPEND``...) are restricted to the containers they are meant
for. A tensor's saved Python attributes are restored as PyTorch restores them, but no file can
set what microtorch keeps internally (``_data``, ``dtype``, ``grad_fn``...), and a ``grad`` is
checked as ``Tensor.grad``'s setter checks it.

Each storage is read from the archive straight into its final NumPy array (one copy of the data
in memory), after its size has been checked against the file. Every failure on a broken or
hostile file is a ``RuntimeError`` or a :class:`pickle.UnpicklingError` naming the file and the
record.
"""

import _compat_pickle
import builtins
import codecs
import copyreg
import importlib
import io
import math
import mmap as _mmap
import os
import pickle
import struct
import sys
import warnings
import zipfile
import zlib
from collections import Counter, OrderedDict

import numpy as np

from . import _dtype, cuda
from ._device import CPU, as_device
from ._device import device as _device_cls
from ._tensor import Size, Tensor
from .nn.parameter import Parameter

__all__ = ["save", "load"]

_ALIGNMENT = 64
_MAX32 = 0xFFFFFFFF
_TORCH_ZIP_MESSAGE = (
    "This is an internal miniz error. If you are seeing this error, there is a high likelihood "
    "that your checkpoint file is corrupted. This can happen if the checkpoint was not saved "
    "properly, was transferred incorrectly, or the file was modified after saving.")
_UNSAFE_MESSAGE = (
    "Re-running `microtorch.load` with `weights_only` set to `False` will likely succeed, but it "
    "can result in arbitrary code execution. Do it only if you got the file from a trusted "
    "source.")


# ---- storage types: torch's storage class names and the element types they hold ----------
class _StorageType:
    """What ``torch.FloatStorage`` & co. become when a checkpoint is read: the element type."""

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)  # little-endian element type as stored in the file

    def __repr__(self):
        return f"torch.{self.name}"


_STORAGE_TYPES = {t.name: t for t in [
    _StorageType("FloatStorage", "<f4"), _StorageType("DoubleStorage", "<f8"),
    _StorageType("LongStorage", "<i8"), _StorageType("IntStorage", "<i4"),
    _StorageType("ByteStorage", "u1"), _StorageType("BoolStorage", "?"),
    # read and converted: microtorch has no float16, bfloat16, int16 or int8
    _StorageType("HalfStorage", "<f2"), _StorageType("BFloat16Storage", "<u2"),
    _StorageType("ShortStorage", "<i2"), _StorageType("CharStorage", "i1"),
    _StorageType("UntypedStorage", "u1"),
]}
_CONVERTED = {"HalfStorage": "float32", "BFloat16Storage": "float32", "ShortStorage": "int32",
              "CharStorage": "int32"}


# ===========================================================================================
# Saving
# ===========================================================================================
class _TorchGlobal:
    """A reference to a PyTorch global (``torch._utils._rebuild_tensor_v2``) that the pickler
    writes as a ``GLOBAL`` opcode without importing torch."""

    __slots__ = ("module", "name")
    _cache = {}

    def __new__(cls, module, name):
        key = (module, name)
        if key not in cls._cache:
            obj = object.__new__(cls)
            obj.module, obj.name = module, name
            cls._cache[key] = obj
        return cls._cache[key]

    def __call__(self, *args):  # pickle requires reduce callables to be callable
        raise TypeError(f"{self.module}.{self.name} is a placeholder for pickling")


class _StorageRef:
    """One storage to write: a flat array holding a memory block, and its persistent id."""

    __slots__ = ("key", "array", "location")

    def __init__(self, key, array, location):
        self.key, self.array, self.location = key, array, location

    def persistent_id(self):
        name = _dtype._FROM_NP[self.array.dtype].storage_name
        return ("storage", _TorchGlobal("torch", name), self.key, self.location,
                int(self.array.size))


def _contiguous_strides(shape):
    strides, n = [], 1
    for s in reversed(shape):
        strides.append(n)
        n *= max(s, 1)
    return tuple(reversed(strides))


def _root_array(arr):
    """The outermost ndarray whose memory ``arr`` views (through ``np.lib.stride_tricks``
    views too, such as ``expand()``'s, which keep their source in a helper object's ``base``)."""
    root = arr
    while True:
        base = root.base
        if not isinstance(base, np.ndarray) and base is not None:
            base = getattr(base, "base", None)  # stride_tricks' DummyArray
        if not isinstance(base, np.ndarray):
            return root
        root = base


def _view_of(arr, root):
    """``(offset, strides)`` in elements of ``arr`` inside ``root``'s memory block, or None when
    ``arr`` cannot be described as a torch view of it (other dtype, negative strides...)."""
    item = arr.itemsize
    if (arr.size == 0 or root.dtype != arr.dtype
            or not (root.flags.c_contiguous or root.flags.f_contiguous)):
        return None
    start = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if start < 0 or start % item or any(s < 0 or s % item for s in arr.strides):
        return None
    offset, strides = start // item, tuple(s // item for s in arr.strides)
    last = offset + sum((n - 1) * s for n, s in zip(arr.shape, strides))
    return (offset, strides) if last < root.size else None


class _Pickler(pickle._Pickler):
    """The pure-Python pickler, taught to write tensors, dtypes, devices and sizes under
    PyTorch's names (``reducer_override``) and storages as persistent ids."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages = {}  # id(memory block) -> _StorageRef, in key order
        self._keep = []  # arrays whose id() is a key: keep them alive while pickling

    def persistent_id(self, obj):
        return obj.persistent_id() if isinstance(obj, _StorageRef) else None

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            if isinstance(obj, Parameter):
                plain = Tensor._make(obj._data, obj._device)
                return (_TorchGlobal("torch._utils", "_rebuild_parameter"),
                        (plain, obj.requires_grad, OrderedDict()))
            return self._reduce_tensor(obj)
        if isinstance(obj, _device_cls):
            args = (obj.type,) if obj.index is None else (obj.type, obj.index)
            return _TorchGlobal("torch", "device"), args
        if isinstance(obj, Size):
            return _TorchGlobal("torch", "Size"), (tuple(int(s) for s in obj),)
        return NotImplemented

    def _reduce_tensor(self, t):
        if t.device.type == "cpu":
            arr, location = t._data, "cpu"
        else:
            arr, location = np.ascontiguousarray(t.cpu()._data), str(t.device)
        root = _root_array(arr)
        view = _view_of(arr, root) if location == "cpu" else None
        if view is None:  # save a contiguous copy as a storage of its own
            root = np.ascontiguousarray(arr)
            view = (0, _contiguous_strides(arr.shape))
        ref = self.storages.get(id(root))
        if ref is None:
            ref = _StorageRef(str(len(self.storages)), np.ravel(root, order="K"), location)
            self.storages[id(root)] = ref
            self._keep.append(root)
        offset, strides = view
        return (_TorchGlobal("torch._utils", "_rebuild_tensor_v2"),
                (ref, offset, tuple(arr.shape), strides, t.requires_grad, OrderedDict()))

    def _save_torch_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    def _save_dtype(self, obj):
        self._save_torch_global(_TorchGlobal("torch", obj.name))

    dispatch[_TorchGlobal] = _save_torch_global
    dispatch[_dtype.dtype] = _save_dtype


class _ZipWriter:
    """Writes an uncompressed zip archive the way PyTorch's writer (miniz) does: each record's
    data 64-byte aligned, a data descriptor after it, and a zip64 end of central directory."""

    def __init__(self, file, archive_name):
        self.file = file
        self.archive = archive_name
        self.offset = 0
        self.entries = []  # (name bytes, crc, size, header offset)

    def _write(self, data):
        self.file.write(data)
        self.offset += len(data)

    def write_record(self, name, data):
        data = memoryview(data).cast("B")
        name_b = f"{self.archive}/{name}".encode("utf-8")
        header_offset = self.offset
        pad = -(header_offset + 30 + len(name_b) + 4) % _ALIGNMENT
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        # signature, version, flags (data descriptor + utf-8), method, time, date, crc, sizes
        self._write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, 0x0808, 0, 0, 0, 0, 0, 0,
                                len(name_b), len(extra)) + name_b + extra)
        self._write(data)
        crc, size = zlib.crc32(data), data.nbytes
        if size >= _MAX32 or header_offset >= _MAX32:
            self._write(struct.pack("<IIQQ", 0x08074B50, crc, size, size))
        else:
            self._write(struct.pack("<IIII", 0x08074B50, crc, size, size))
        self.entries.append((name_b, crc, size, header_offset))

    def finish(self):
        cd_offset = self.offset
        for name_b, crc, size, header_offset in self.entries:
            big = [v for v in (size, size, header_offset) if v >= _MAX32]
            extra = struct.pack("<HH", 1, 8 * len(big)) + struct.pack(f"<{len(big)}Q", *big) \
                if big else b""
            s32, o32 = min(size, _MAX32), min(header_offset, _MAX32)
            self._write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, 0x0808, 0, 0, 0,
                                    crc, s32, s32, len(name_b), len(extra), 0, 0, 0, 0, o32)
                        + name_b + extra)
        cd_size, n = self.offset - cd_offset, len(self.entries)
        eocd64 = self.offset
        self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, n, n, cd_size,
                                cd_offset))
        self._write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
        self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF),
                                min(cd_size, _MAX32), min(cd_offset, _MAX32), 0))


def _archive_name(f):
    if isinstance(f, (str, os.PathLike)):
        base = os.path.basename(os.fspath(f))
        stem = base.rsplit(".", 1)[0] if "." in base else base
        return stem or "archive"
    return "archive"


def save(obj, f, pickle_protocol=2):
    """Save ``obj`` to ``f`` (a path or a binary file object) in PyTorch's checkpoint format.

    ``obj`` may nest tensors, ``nn.Parameter``\\ s, dicts (``OrderedDict`` state dicts with their
    ``_metadata``), lists, tuples, numbers, strings, bools, None, dtypes, devices and sizes. Views
    that share memory are saved once, sharing one storage, as PyTorch does; CUDA tensors are
    copied to the host and tagged with their device. The file loads with :func:`load` and with
    ``torch.load``.

    Example::

        >>> model_state = {"w": microtorch.ones(2, 3), "step": 10}
        >>> microtorch.save(model_state, "checkpoint.pt")
        >>> microtorch.load("checkpoint.pt")["step"]
        10
    """
    buf = io.BytesIO()
    pickler = _Pickler(buf, pickle_protocol)
    pickler.dump(obj)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            _write_archive(fh, _archive_name(f), buf, pickler.storages)
    else:
        _write_archive(f, "archive", buf, pickler.storages)


def _write_archive(fh, archive_name, pickled, storages):
    z = _ZipWriter(fh, archive_name)
    z.write_record("data.pkl", pickled.getbuffer())
    z.write_record(".format_version", b"1")
    z.write_record(".storage_alignment", str(_ALIGNMENT).encode())
    z.write_record("byteorder", b"little")
    for ref in storages.values():
        arr = ref.array
        if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and sys.byteorder == "big"):
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        z.write_record(f"data/{ref.key}", np.ascontiguousarray(arr).view(np.uint8))
    z.write_record("version", b"3\n")
    serialization_id = int.from_bytes(os.urandom(17), "little") % 10 ** 40
    z.write_record(".data/serialization_id", f"{serialization_id:040d}".encode())
    z.finish()


def _reduce_tensor(t):
    """How ``pickle``, ``copy`` and ``multiprocessing`` take a tensor apart: its values as a CPU
    array, ``requires_grad`` and its device (registered with :func:`copyreg.pickle`)."""
    return _rebuild_tensor_for_pickle, (np.array(t.cpu()._data), t.requires_grad, str(t.device))


def _reduce_parameter(p):
    """How ``pickle`` and ``copy`` take an ``nn.Parameter`` apart: its values as a CPU array and
    ``requires_grad``."""
    return _rebuild_parameter_for_pickle, (p.detach().cpu().numpy().copy(), p.requires_grad)


def _rebuild_tensor_for_pickle(array, requires_grad, device=None):
    """Rebuild a tensor pickled by :func:`_reduce_tensor`: a CPU array, ``requires_grad``,
    optionally the device to move to."""
    t = Tensor._make(np.ascontiguousarray(array), CPU)
    if device is not None and as_device(device) != CPU:
        t = t.to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_parameter_for_pickle(array, requires_grad):
    """Rebuild an ``nn.Parameter`` pickled by :func:`_reduce_parameter`."""
    data = Tensor._make(np.ascontiguousarray(array), CPU)
    return Parameter(data, requires_grad=bool(requires_grad))


copyreg.pickle(Tensor, _reduce_tensor)
copyreg.pickle(Parameter, _reduce_parameter)


# ===========================================================================================
# Loading
# ===========================================================================================
class _LoadedStorage:
    """A storage read from a checkpoint: a flat NumPy array and the device its tensors go to."""

    def __init__(self, array, device, type_name):
        self.array, self.device, self.type_name = array, device, type_name


def _default_restore_location(storage, location):
    """The device a storage tagged ``location`` ('cpu', 'cuda:0'...) is restored to."""
    if location == "cpu":
        return CPU
    if location == "cuda" or location.startswith("cuda:"):
        dev = as_device(location)
        if not cuda.is_available():
            raise RuntimeError(
                "Attempting to deserialize object on a CUDA device but "
                "torch.cuda.is_available() is False. If you are running on a CPU-only machine, "
                "please use torch.load with map_location=torch.device('cpu') to map your "
                "storages to the CPU.")
        count = cuda.device_count()
        if dev.index >= count:
            raise RuntimeError(
                f"Attempting to deserialize object on CUDA device {dev.index} but "
                f"torch.cuda.device_count() is {count}. Please use torch.load with "
                "map_location to map your storages to an existing device.")
        return dev
    raise RuntimeError(f"don't know how to restore data location of torch.{storage.type_name} "
                       f"(tagged with {location})")


def _restore_location_fn(map_location):
    """PyTorch's ``map_location`` rules: None, a dict, a string, a device, or a callable
    ``(storage, location) -> storage or None``; returns ``fn(storage, location)`` that sets the
    storage's device (and may replace its array)."""
    if map_location is None:
        return _default_restore_location
    if isinstance(map_location, dict):
        return lambda s, loc: _default_restore_location(s, str(map_location.get(loc, loc)))
    if isinstance(map_location, bytes):
        map_location = map_location.decode()
    if isinstance(map_location, (str, _device_cls)) or (
            not callable(map_location) and hasattr(map_location, "type")):
        name = str(map_location)
        return lambda s, loc: _default_restore_location(s, name)
    if not callable(map_location):
        raise TypeError(f"map_location should be None, a str, a device, a dict or a callable, "
                        f"got {type(map_location).__name__}")

    def restore(storage, location):
        result = map_location(Tensor._make(storage.array, CPU), location)
        if result is None:
            return _default_restore_location(storage, location)
        if not isinstance(result, Tensor):
            raise TypeError("map_location callable must return a storage (a 1-D tensor) or "
                            f"None, got {type(result).__name__}")
        if result.device.type == "cpu":
            if result.shape != (storage.array.size,):
                raise RuntimeError("map_location callable returned a storage of the wrong size")
            storage.array = np.ascontiguousarray(result._data)
        return result.device

    return restore


def _check_ints(name, values):
    if not isinstance(values, tuple) or not all(type(v) is int and v >= 0 for v in values):
        raise pickle.UnpicklingError(f"_rebuild_tensor_v2: bad {name} {values!r}")


_MAX_DIMS = 64  # NumPy's limit on the number of dimensions


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       metadata=None):
    """Rebuild a tensor as a view of a loaded storage.

    Sizes, strides and the offset are checked (non-negative Python ints, every element inside
    the storage, byte counts NumPy can address) before the view is made."""
    if not isinstance(storage, _LoadedStorage):
        raise pickle.UnpicklingError("_rebuild_tensor_v2: the first argument is not a storage")
    _check_ints("size", tuple(size) if isinstance(size, (tuple, list)) else size)
    _check_ints("stride", tuple(stride) if isinstance(stride, (tuple, list)) else stride)
    size, stride = tuple(size), tuple(stride)
    if type(storage_offset) is not int or storage_offset < 0 or len(size) != len(stride):
        raise pickle.UnpicklingError("_rebuild_tensor_v2: bad storage offset or stride")
    arr = storage.array
    item = arr.itemsize
    if len(size) > _MAX_DIMS:
        raise RuntimeError(f"_rebuild_tensor_v2: {len(size)} dimensions, more than the "
                           f"{_MAX_DIMS} microtorch supports")
    numel = math.prod(size)  # Python ints: no overflow
    if math.prod(max(n, 1) for n in size) * item > sys.maxsize or any(
            s * item > sys.maxsize for s in stride):
        raise RuntimeError(f"_rebuild_tensor_v2: sizes {list(size)} and strides {list(stride)} "
                           "overflow the addressable memory")
    if numel == 0:
        data = np.empty(size, dtype=arr.dtype)
    else:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= arr.size:
            raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                               f"offset {storage_offset} out of bounds for storage of "
                               f"{arr.size} elements")
        # a view of the storage, kept as PyTorch keeps it, also where a 0 stride repeats
        # elements (an ``expand()`` view): it is represented as microtorch's own expand()
        data = np.ndarray(size, dtype=arr.dtype, buffer=arr, offset=storage_offset * item,
                          strides=tuple(s * item for s in stride))
    t = Tensor._make(data, CPU)
    if storage.device != CPU:
        t = t.to(storage.device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data, requires_grad, backward_hooks):
    """``nn.Parameter(data, requires_grad)``."""
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError("_rebuild_parameter: data is not a tensor")
    return Parameter(data, requires_grad=bool(requires_grad))


def _set_state(obj, state):
    """Restore the Python attributes a tensor or parameter was saved with, as PyTorch's
    ``torch._utils._set_obj_state`` does: ``state`` is ``{name: value}`` or
    ``({name: value}, {slot name: value})``.

    What PyTorch accepts is accepted: ordinary attributes (stored in the instance's
    ``__dict__``), ``grad`` (validated as ``Tensor.grad``'s setter validates it), ``data`` (a
    tensor) and ``requires_grad`` (a bool). Everything microtorch keeps internally (``_data``,
    ``dtype``, ``_version``, ``grad_fn``...), every method and read-only property, and dunder
    names are refused with :class:`pickle.UnpicklingError`: a file never sets a slot."""
    if isinstance(state, tuple):
        if len(state) != 2:
            raise RuntimeError(f"Invalid serialized state: a tuple of {len(state)} items "
                               "(expected (dict state, slot state))")
        parts = state
    else:
        parts = (state,)
    for part in parts:
        if not part:
            continue
        if not isinstance(part, dict):
            raise pickle.UnpicklingError(f"refused tensor state: expected a dict of attributes, "
                                         f"got {type(part).__name__}")
        for name, value in part.items():
            _set_state_attribute(obj, name, value)
    return obj


def _set_state_attribute(obj, name, value):
    """One attribute of a saved tensor's state: see :func:`_set_state`."""
    kind = type(obj).__name__
    if not isinstance(name, str):
        raise pickle.UnpicklingError(f"refused tensor state: attribute names must be strings, "
                                     f"got {type(name).__name__}")
    if name == "grad":
        _check_state_grad(obj, value)
        obj.grad = value
    elif name == "data":
        if not isinstance(value, Tensor):
            raise pickle.UnpicklingError(f"refused tensor state: Variable data has to be a "
                                         f"tensor, but got {type(value).__name__}")
        obj.data = value
    elif name == "requires_grad":
        if type(value) is not bool:
            raise pickle.UnpicklingError("refused tensor state: requires_grad must be a bool")
        obj.requires_grad = value
    elif (name.startswith("__") or name in Tensor.__slots__
          or any(name in vars(klass) for klass in type(obj).__mro__)):
        raise pickle.UnpicklingError(f"refused tensor state: attribute '{name}' of {kind} is "
                                     "not writable")
    else:
        obj.__dict__[name] = value  # an ordinary Python attribute, as in PyTorch


def _check_state_grad(t, grad):
    """PyTorch's checks of ``t.grad = grad`` (its ``Tensor.grad`` setter), with its messages."""
    if grad is None:
        return
    if not isinstance(grad, Tensor):
        raise pickle.UnpicklingError("refused tensor state: assigned grad expected to be a "
                                     f"Tensor or None but got grad of type "
                                     f"{type(grad).__name__}")
    if grad.device.type != t.device.type:
        raise RuntimeError(f"attempting to assign a gradient with device type "
                           f"'{grad.device.type}' to a tensor with device type "
                           f"'{t.device.type}'. Please ensure that the gradient and the tensor "
                           "are on the same device")
    if grad.dtype != t.dtype:
        raise RuntimeError(f"attempting to assign a gradient with dtype '{grad.dtype.name}' to "
                           f"a tensor with dtype '{t.dtype.name}'. Please ensure that the "
                           "gradient and the tensor have the same dtype")
    if tuple(grad.shape) != tuple(t.shape):
        raise RuntimeError(f"attempting to assign a gradient of size '{list(grad.shape)}' to a "
                           f"tensor of size '{list(t.shape)}'. Please ensure that the gradient "
                           "and the tensor are the same size")


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    """A parameter carrying Python attributes (``state``)."""
    return _set_state(_rebuild_parameter(data, requires_grad, backward_hooks), state)


def _rebuild_from_type_v2(func, new_type, args, state):
    """A tensor (or parameter) that carries Python attributes: ``func(*args)`` viewed as
    ``new_type`` (as ``Tensor.as_subclass``), then its ``state`` restored."""
    if func not in (_rebuild_tensor_v2, _rebuild_parameter, _rebuild_parameter_with_state):
        raise pickle.UnpicklingError("_rebuild_from_type_v2: refused rebuild function")
    if new_type not in (Tensor, Parameter):
        raise pickle.UnpicklingError("_rebuild_from_type_v2: refused tensor type")
    if not isinstance(args, tuple):
        raise pickle.UnpicklingError("_rebuild_from_type_v2: the arguments are not a tuple")
    ret = func(*args)
    if type(ret) is not new_type:  # Tensor.as_subclass: same memory, same requires_grad
        if new_type is Tensor:
            ret = Tensor._make(ret._data, ret._device).requires_grad_(ret.requires_grad)
        else:
            ret = _rebuild_parameter(ret, ret.requires_grad, OrderedDict())
    return _set_state(ret, state)


def _encode(obj, encoding="latin1"):
    """``_codecs.encode`` as protocol 2 pickles ``bytes``: only latin-1 is accepted."""
    if not isinstance(obj, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError("_codecs.encode is only allowed for latin-1 strings")
    return obj.encode("latin1")


def _bytearray(data=b""):
    """``bytearray`` as pickles call it: from bytes only (``bytearray(10**12)`` would allocate
    a terabyte)."""
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("builtins.bytearray is only allowed on bytes, got "
                                     f"{builtins.type(data).__name__}")
    return bytearray(data)


def _device_global(type, index=None):
    """``torch.device`` with validated arguments."""
    if not isinstance(type, str) or not (index is None or (builtins.type(index) is int
                                                             and index >= 0)):
        raise pickle.UnpicklingError("torch.device: bad arguments")
    return _device_cls(type, index)


def _size_global(values=()):
    """``torch.Size`` from a tuple of ints."""
    values = tuple(values)
    _check_ints("torch.Size", values)
    return Size(values)


def _allowed_globals():
    """``"module.name"`` -> the microtorch object a weights-only load may use for it."""
    allowed = {
        "collections.OrderedDict": OrderedDict,
        "collections.Counter": Counter,
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "torch.Tensor": Tensor,
        "torch.nn.parameter.Parameter": Parameter,
        "torch.device": _device_global,
        "torch.Size": _size_global,
        "_codecs.encode": _encode,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.complex": complex,
        "builtins.bytearray": _bytearray,
    }
    for name, st in _STORAGE_TYPES.items():
        allowed[f"torch.{name}"] = st
    for d in _dtype.ALL:
        allowed[f"torch.{d.name}"] = d
    return allowed


def _fix_name(module, name):
    """Python 2 names that protocol-2 pickles use (``__builtin__.set``) -> Python 3 names."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class _Unpickler(pickle._Unpickler):
    """The pure-Python unpickler with torch's names mapped to microtorch and storages read
    from the archive on demand. This full version imports any global: unsafe on untrusted
    files (``weights_only=False``)."""

    def __init__(self, file, load_storage):
        super().__init__(file, encoding="utf-8")
        self._load_storage = load_storage
        self._allowed = _allowed_globals()

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        _, storage_type, key, location, numel = pid
        if (not isinstance(storage_type, _StorageType) or not isinstance(key, str)
                or not isinstance(location, str) or type(numel) is not int or numel < 0):
            raise pickle.UnpicklingError(f"malformed storage id {pid!r}")
        return self._load_storage(storage_type, key, location, numel)

    def find_class(self, module, name):
        module, name = _fix_name(module, name)
        full = f"{module}.{name}"
        if full in self._allowed:
            return self._allowed[full]
        if module == "torch" or module.startswith("torch."):
            try:
                obj = importlib.import_module("microtorch" + module[len("torch"):])
                for part in name.split("."):
                    obj = getattr(obj, part)
                return obj
            except (ImportError, AttributeError):
                raise pickle.UnpicklingError(f"microtorch has no equivalent of {full}") from None
        return super().find_class(module, name)


class _WeightsOnlyUnpickler(_Unpickler):
    """The safe unpickler of ``weights_only=True``: globals only from the allow-list, and the
    opcodes that mutate objects restricted to the containers they are meant for."""

    dispatch = _Unpickler.dispatch.copy()

    def find_class(self, module, name):
        module, name = _fix_name(module, name)
        full = f"{module}.{name}"
        if full not in self._allowed:
            raise pickle.UnpicklingError(
                f"Unsupported global: GLOBAL {full} was not an allowed global by default.")
        return self._allowed[full]

    def _refuse(self, what):
        raise pickle.UnpicklingError(f"Unsupported operand: {what} is not allowed by "
                                     "weights_only loading")

    def _load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) not in (OrderedDict, Counter) or not isinstance(state, dict) or not all(
                isinstance(k, str) and not k.startswith("__") for k in state):
            self._refuse(f"BUILD of {type(inst).__name__}")
        inst.__dict__.update(state)  # e.g. a state_dict's _metadata

    def _load_setitem(self):
        value, key = self.stack.pop(), self.stack.pop()
        self._check_dict(self.stack[-1])[key] = value

    def _load_setitems(self):
        items = self.pop_mark()
        d = self._check_dict(self.stack[-1])
        for i in range(0, len(items), 2):
            d[items[i]] = items[i + 1]

    def _check_dict(self, d):
        if type(d) not in (dict, OrderedDict, Counter):
            self._refuse(f"SETITEM on {type(d).__name__}")
        return d

    def _load_append(self):
        value = self.stack.pop()
        self._check_list(self.stack[-1]).append(value)

    def _load_appends(self):
        items = self.pop_mark()
        self._check_list(self.stack[-1]).extend(items)

    def _check_list(self, lst):
        if type(lst) is not list:
            self._refuse(f"APPEND on {type(lst).__name__}")
        return lst

    def _load_additems(self):
        items = self.pop_mark()
        if type(self.stack[-1]) is not set:
            self._refuse(f"ADDITEMS on {type(self.stack[-1]).__name__}")
        self.stack[-1].update(items)

    def _load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls not in (OrderedDict, Counter, set):
            self._refuse(f"NEWOBJ of {getattr(cls, '__name__', cls)!r}")
        self.append(cls.__new__(cls, *args))

    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.SETITEM[0]] = _load_setitem
    dispatch[pickle.SETITEMS[0]] = _load_setitems
    dispatch[pickle.APPEND[0]] = _load_append
    dispatch[pickle.APPENDS[0]] = _load_appends
    dispatch[pickle.ADDITEMS[0]] = _load_additems
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    for _op, _name in [(pickle.INST, "INST"), (pickle.OBJ, "OBJ"), (pickle.NEWOBJ_EX, "NEWOBJ_EX"),
                       (pickle.EXT1, "EXT1"), (pickle.EXT2, "EXT2"), (pickle.EXT4, "EXT4"),
                       (pickle.PERSID, "PERSID"), (pickle.NEXT_BUFFER, "NEXT_BUFFER"),
                       (pickle.READONLY_BUFFER, "READONLY_BUFFER")]:
        dispatch[_op[0]] = (lambda name: lambda self: self._refuse(name))(_name)
    del _op, _name


_CHUNK = 1 << 22  # bytes copied at a time from a compressed record or a file without readinto
_MAX_DEFLATE_RATIO = 1032  # deflate never expands more than this: a larger claim is a zip bomb


class _ZipReader:
    """Reads the records of a PyTorch zip checkpoint, with PyTorch's error messages.

    Storages are read straight into their final NumPy buffer (one copy of the data in memory,
    never a temporary ``bytes``), after the size each record claims has been checked against
    what the file really holds."""

    def __init__(self, fh, mapped=None):
        self.fh = fh
        self.mapped = mapped  # the whole file memory-mapped copy-on-write (load(mmap=True))
        try:
            self.zip = zipfile.ZipFile(fh)
            names = self.zip.namelist()
            self.file_size = fh.seek(0, io.SEEK_END)
        except Exception as e:
            raise RuntimeError("PytorchStreamReader failed reading zip archive: failed finding "
                               f"central directory. {_TORCH_ZIP_MESSAGE}") from e
        if not names:
            raise RuntimeError("PytorchStreamReader failed reading zip archive: no records")
        self.prefix = names[0].split("/", 1)[0]
        self.names = set(names)

    def has_record(self, name):
        return f"{self.prefix}/{name}" in self.names

    def info(self, name):
        full = f"{self.prefix}/{name}"
        if full not in self.names:
            raise RuntimeError(f"PytorchStreamReader failed locating file {name}: file not found")
        return self.zip.getinfo(full)

    def read(self, name):
        """The bytes of record ``name``."""
        info = self.info(name)
        self._data_start(name, info)  # refuse sizes the file cannot hold before reading
        return self._guarded(name, lambda: self.zip.read(info))

    def read_array(self, name, dtype, numel):
        """Record ``name`` read into a new array of ``numel`` elements of ``dtype``.

        The record's size is checked against ``numel`` and against the file before anything is
        allocated; the bytes then go from the file straight into the array's memory."""
        nbytes = numel * dtype.itemsize
        info = self.info(name)
        if info.file_size != nbytes:
            raise RuntimeError(f"PytorchStreamReader failed reading file {name}: expected "
                               f"{nbytes} bytes, the record holds {info.file_size}")
        start = self._data_start(name, info)
        if (self.mapped is not None and info.compress_type == zipfile.ZIP_STORED
                and start % dtype.itemsize == 0):  # a view of the mapped file: no copy at all
            return np.frombuffer(self.mapped, dtype=dtype, count=numel, offset=start)
        out = np.empty(numel, dtype=dtype)
        buf = memoryview(out.view(np.uint8))

        def fill():
            if info.compress_type == zipfile.ZIP_STORED:
                self.fh.seek(start)
                crc = _read_into(self.fh, buf)
                if crc != info.CRC:
                    raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
            else:  # deflated: zipfile decompresses (and checks the CRC), chunk by chunk
                with self.zip.open(info) as r:
                    _read_into(r, buf)
            return out

        return self._guarded(name, fill)

    def _data_start(self, name, info):
        """Where record ``name``'s data starts in the file, after checking that its local
        header is there, that it is not encrypted, and that the file really holds the
        (compressed) size it claims."""

        def corrupt(why):
            return RuntimeError(f"PytorchStreamReader failed reading file {name}: {why}. "
                                f"{_TORCH_ZIP_MESSAGE}")

        if info.flag_bits & 0x1:
            raise corrupt("the record is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise corrupt(f"unsupported compression method {info.compress_type}")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise corrupt("stored record whose sizes disagree")
        if (info.compress_type == zipfile.ZIP_DEFLATED
                and info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 64):
            raise corrupt(f"{info.compress_size} compressed bytes cannot hold "
                          f"{info.file_size} bytes")
        if not 0 <= info.header_offset <= self.file_size - 30:
            raise corrupt(f"local header offset {info.header_offset} outside the file")
        self.fh.seek(info.header_offset)
        header = self.fh.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise corrupt("bad local file header")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        if start + info.compress_size > self.file_size:
            raise corrupt(f"the record claims {info.compress_size} bytes at offset {start} but "
                          f"the file holds {self.file_size} bytes")
        return start

    def _guarded(self, name, fn):
        try:
            return fn()
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error, zlib.error,
                NotImplementedError) as e:
            raise RuntimeError(f"PytorchStreamReader failed reading file {name}: {e}. "
                               f"{_TORCH_ZIP_MESSAGE}") from e


def _read_into(src, buf):
    """Fill the writable byte memoryview ``buf`` from the binary stream ``src``; returns the
    CRC-32 of what was read. ``readinto`` writes into ``buf`` directly (no temporary copy);
    streams without it are read in chunks of ``_CHUNK`` bytes."""
    crc, pos, total = 0, 0, len(buf)
    readinto = getattr(src, "readinto", None)
    while pos < total:
        part = buf[pos:min(pos + _CHUNK, total)]
        if readinto is not None:
            n = readinto(part)
        else:
            data = src.read(len(part))
            n = len(data)
            part[:n] = data
        if not n:
            raise EOFError(f"record truncated: {pos} of {total} bytes read")
        crc = zlib.crc32(part[:n], crc)
        pos += n
    return crc


def _open_for_read(f):
    if isinstance(f, (str, os.PathLike)):
        return open(f, "rb"), True
    if not (hasattr(f, "read") and hasattr(f, "seek")) or not _seekable(f):
        return io.BytesIO(f.read()), False
    return f, False


def _seekable(f):
    try:
        return f.seekable()
    except (AttributeError, OSError):
        return False


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None):
    """Load an object saved by :func:`save` or by ``torch.save`` from ``f`` (a path or a binary
    file object), without PyTorch.

    Args:
        map_location: where the storages go, as in ``torch.load``: None (where they were
            saved), ``'cpu'``, a device or ``'cuda:0'``, a dict mapping saved locations to new
            ones, or a callable ``(storage, location)`` returning a storage (a 1-D tensor) or
            None. Tensors saved on a GPU need ``map_location='cpu'`` on a machine without one.
        weights_only: True (the default, safe): only tensors, parameters, containers, numbers,
            strings and a few torch types load; any other global raises
            :class:`pickle.UnpicklingError` and nothing runs. False unpickles anything, mapping
            ``torch.X`` names to ``microtorch.X``: only for files you trust.
        pickle_module: must be None with ``weights_only=True`` (accepted for compatibility).
        mmap: True maps the file into memory (copy-on-write, as ``torch.load``'s default
            mmap options) and makes each storage a view of it, so pages are read from disk
            when first used; ``f`` must then be a path. Otherwise each storage is read
            straight into its own array (one copy of the data in memory).

    Raises:
        RuntimeError: a broken archive (truncated, a record missing or shorter than its
            tensors, sizes or strides out of bounds), a location that cannot be restored.
        pickle.UnpicklingError: a corrupt ``data.pkl``, or (``weights_only=True``) a global,
            an opcode or a tensor state that is not allowed. Both messages end with the file
            and the record, e.g. ``(checkpoint 'model.pt', record 'data/3')``.
        EOFError: an empty file (as ``torch.load``).

    Only the zip format (``torch.save`` since PyTorch 1.6) is read, not the legacy tar/pickle
    format. float16/bfloat16 and int8/int16 storages are converted to float32 and int32 with a
    warning, as microtorch has no such dtypes.

    Example::

        >>> state = microtorch.load("resnet18.pth", map_location="cpu")
    """
    if weights_only is None:
        weights_only = True
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is "
                           "specified")
    if mmap and not isinstance(f, (str, os.PathLike)):
        raise ValueError("f must be a file path in order to use the mmap argument")
    restore = _restore_location_fn(map_location)
    fh, owned = _open_for_read(f)
    where = _Where(f)
    try:
        start = fh.tell()
        magic = fh.read(4)
        fh.seek(start)
        if not magic:
            raise EOFError(f"Ran out of input: the checkpoint file {where.source} is empty")
        if magic != b"PK\x03\x04":
            raise RuntimeError(
                "Invalid checkpoint: not a zip archive. microtorch.load reads the zip format "
                "written by torch.save (PyTorch >= 1.6) and microtorch.save; the file is corrupt "
                "or in PyTorch's legacy format (re-save it with a recent torch.save).")
        mapped = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_COPY) if mmap else None
        return _load_zip(_ZipReader(fh, mapped), restore, weights_only, where)
    except (RuntimeError, pickle.UnpicklingError) as e:
        where.annotate(e)
        raise
    finally:
        if owned:
            fh.close()


class _Where:
    """The file being loaded and the record being read, for error messages."""

    def __init__(self, f):
        if isinstance(f, (str, os.PathLike)):
            self.source = repr(os.fspath(f))
        else:
            name = getattr(f, "name", None)
            self.source = repr(name) if isinstance(name, str) else f"<{type(f).__name__}>"
        self.record = None

    def annotate(self, error):
        """Append "(checkpoint ..., record ...)" to ``error``'s message, keeping its class and
        traceback."""
        where = f"checkpoint {self.source}"
        if self.record is not None:
            where += f", record '{self.record}'"
        if error.args and isinstance(error.args[0], str):
            error.args = (f"{error.args[0]} ({where})",) + error.args[1:]
        else:
            error.args = (f"({where})",) + error.args


def _load_zip(reader, restore, weights_only, where):
    byteorder = "little"
    if reader.has_record("byteorder"):
        where.record = "byteorder"
        raw = reader.read("byteorder")
        if raw not in (b"little", b"big"):
            raise RuntimeError(f"Unknown endianness type: {raw.decode('latin-1')!r}")
        byteorder = raw.decode()
    storages = {}
    converted = set()

    def load_storage(storage_type, key, location, numel):
        if key in storages:
            return storages[key]
        where.record = f"data/{key}"
        dt = storage_type.np.newbyteorder("=")
        array = reader.read_array(f"data/{key}", dt, numel)
        if byteorder != sys.byteorder and dt.itemsize > 1:
            array.byteswap(inplace=True)
        if storage_type.name == "BFloat16Storage":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        if storage_type.name in _CONVERTED:
            array = array.astype(_CONVERTED[storage_type.name])
            converted.add(storage_type.name)
        storage = _LoadedStorage(array, CPU, storage_type.name)
        storage.device = restore(storage, location)
        storages[key] = storage
        where.record = "data.pkl"
        return storage

    cls = _WeightsOnlyUnpickler if weights_only else _Unpickler
    where.record = "data.pkl"
    unpickler = cls(io.BytesIO(reader.read("data.pkl")), load_storage)
    try:
        result = unpickler.load()
    except pickle.UnpicklingError as e:
        if not weights_only:
            raise
        raise pickle.UnpicklingError(f"Weights only load failed. {_UNSAFE_MESSAGE}\n\n{e}") \
            from None
    except RuntimeError:
        raise
    except Exception as e:  # a corrupt pickle: IndexError, TypeError, ValueError, MemoryError...
        raise pickle.UnpicklingError(f"corrupt data.pkl in the checkpoint: "
                                     f"{type(e).__name__}: {e}") from e
    if converted:
        warnings.warn(f"microtorch has no {', '.join(sorted(converted))} dtype: those storages "
                      "were converted to float32 / int32", UserWarning, stacklevel=3)
    return result
