"""The CPU backend: NumPy arrays as storage, Numba kernels for the math.

:mod:`microtorch.backends.cpu.kernels` implements :mod:`microtorch.backends.contract` from the
kernel modules here: ``elementwise``, ``reduce``, ``gemm``, ``conv``, ``pool``, ``norm`` and
``softmax``.
"""
