"""The CUDA backend package: importable without numba, one availability check.

That the CUDA kernels implement exactly the contract (names, op names, parameters) is checked
from the registry in ``tests/backends/test_backend_contract.py``.
"""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def test_package_imports_without_numba_cuda():
    code = ("import sys; import microtorch.backends.cuda as c; "
            "assert 'numba.cuda' not in sys.modules and 'numba_cuda' not in sys.modules; "
            "print(c.launch_count, c.device_count() >= 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.join(HERE, "..", ".."))
    assert out.returncode == 0, out.stderr


def test_check_available_raises_torchs_messages():
    from microtorch.backends import cuda

    if cuda.is_available():
        cuda.check_available()          # no error where CUDA works
        return
    expected = ("Found no NVIDIA driver" if cuda.numba_cuda_installed()
                else "Torch not compiled with CUDA enabled")
    with pytest.raises(AssertionError, match=expected):
        cuda.check_available()


def test_launch_count_is_read_from_the_device_module():
    from microtorch.backends import cuda
    from microtorch.backends.cuda import device

    assert cuda.launch_count == device.launch_count
    with pytest.raises(AttributeError):
        cuda.no_such_name  # noqa: B018
