"""Compile every CUDA kernel of the backend to PTX for Ampere (cc 8.0) and Hopper (cc 9.0).

``numba.cuda.compile_ptx`` runs the real typing and NVVM code generation without a GPU, so this
catches typing errors that the simulator (which runs kernels as Python) cannot. It needs
numba-cuda with its NVRTC/NVVM wheels (``pip install 'numba-cuda[cu12]'``) and a process in
which the simulator is off; otherwise it is skipped.
"""

import importlib.util
import os
import sys

import pytest


def _skip_reason():
    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed"
    if "numba" in sys.modules:
        import numba

        if numba.config.ENABLE_CUDASIM:
            return "the CUDA simulator is enabled in this process"
    elif os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        return "NUMBA_ENABLE_CUDASIM is set"
    try:
        from numba.cuda.cudadrv import nvrtc  # noqa: F401
        from numba import cuda

        @cuda.jit
        def probe(a):
            a[0] = 1.0

        from numba import types
        cuda.compile_ptx(probe.py_func, (types.float32[::1],), cc=(8, 0))
    except Exception as exc:  # no NVRTC/NVVM: nothing to compile with
        return f"numba-cuda cannot compile PTX here: {exc!r}"[:300]
    return None


REASON = _skip_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=str(REASON))


@pytest.fixture
def no_device_query(monkeypatch):
    """numba.cuda.random's helpers are compiled through a path that asks the current device
    for its compute capability; without a GPU, answer with the cc being compiled for."""
    import numba.cuda.dispatcher as dispatcher

    class FakeDevice:
        compute_capability = (9, 0)

    monkeypatch.setattr(dispatcher, "get_current_device", lambda: FakeDevice)
    return FakeDevice


def _kernels():
    from microtorch.backends.cuda import _signatures

    return _signatures


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)])
def test_every_kernel_compiles_to_ptx(cc, no_device_query):
    from numba import cuda

    no_device_query.compute_capability = cc
    sigs = _kernels().signatures()
    failures = []
    for kernel, argtypes in sigs:
        try:
            ptx, _ = cuda.compile_ptx(kernel.py_func, argtypes, cc=cc)
            assert f".target sm_{cc[0]}{cc[1]}" in ptx
        except Exception as exc:  # collect all failures, report them together
            failures.append(f"{kernel.py_func.__qualname__}{argtypes}: {str(exc)[:400]}")
    assert not failures, "\n\n".join(failures)


def test_gemm_accumulators_live_in_registers(no_device_query):
    """The 8x8 register tile must not spill to local memory (the point of register blocking)."""
    from numba import cuda, types

    from microtorch.backends.cuda import gemm

    arr = types.Array(types.float32, 4, "A")
    ptx, _ = cuda.compile_ptx(gemm.gemm_f32.py_func, (arr, arr, arr), cc=(9, 0))
    assert ".local" not in ptx
    assert ptx.count("fma.rn.f32") >= gemm.TM * gemm.TN


def test_signature_list_covers_every_kernel():
    """Every kernel of every module of the backend records its launch types beside it
    (``REGISTRY.launches``)."""
    from numba.cuda.dispatcher import CUDADispatcher

    sig = _kernels()
    listed = {id(k) for k, _ in sig.signatures()}
    missing = []
    for module in sig.MODULES:
        for name, obj in vars(module).items():
            if isinstance(obj, CUDADispatcher) and not obj.targetoptions.get("device"):
                if id(obj) not in listed:
                    missing.append(f"{module.__name__}.{name}")
    assert not missing, f"kernels without PTX signatures: {missing}"
