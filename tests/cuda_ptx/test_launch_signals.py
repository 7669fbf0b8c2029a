"""A CUDA kernel's compile step (at its first launch with new argument types) runs with signals
deferred, as the CPU kernels' do: Numba's compiler is not safe to interrupt.

This needs the real (non-simulated) CUDA backend module, which imports without a GPU; the
kernel here is a stand-in that records whether signals were held back while it "compiled".
"""

import os
import signal
import sys

import pytest

if "numba" in sys.modules:
    import numba

    _SIM = bool(numba.config.ENABLE_CUDASIM)
else:
    _SIM = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
pytestmark = pytest.mark.skipif(_SIM, reason="the simulator does not compile kernels")


class FakeKernel:
    """Looks like a numba.cuda dispatcher to ``launch``: ``kernel[grid, block](*args)`` calls
    ``self.compile`` (as the dispatcher does on a new signature), which sends itself SIGINT."""

    def __init__(self):
        self.compiled, self.launched = [], 0

    def compile(self, sig):
        os.kill(os.getpid(), signal.SIGINT)   # arrives mid-compile
        self.compiled.append(sig)              # reached: the interrupt was held back
        return sig

    def __getitem__(self, config):
        def run(*args):
            self.compile(tuple(type(a).__name__ for a in args))
            self.launched += 1
        return run


def test_first_launch_compiles_with_signals_deferred():
    from microtorch.backends.cuda import _core

    kernel = FakeKernel()
    with pytest.raises(KeyboardInterrupt):
        _core.launch(kernel, 1, 1, 1.0)
    # the compile finished before the interrupt was delivered, and only then did it arrive
    assert kernel.compiled == [("float",)]
    assert kernel.launched == 0
    with pytest.raises(KeyboardInterrupt):   # still wrapped on later launches
        _core.launch(kernel, 1, 1, 2)
    assert kernel.compiled == [("float",), ("int",)]
