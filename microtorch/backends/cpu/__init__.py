"""The CPU backend: NumPy arrays as storage, Numba kernels for the math.

:mod:`microtorch.backends.cpu.kernels` implements :mod:`microtorch.backends.contract` from the
kernel modules here: ``elementwise``, ``reduce``, ``gemm``, ``conv``, ``pool``, ``norm`` and
``softmax``, each of which registers its fast kernels and, beside each, a short textbook
reference kernel. :func:`use_reference_kernels` switches between the two at run time; the
environment variable ``MICROTORCH_KERNELS=reference`` makes the reference kernels the default
(read when the kernels are first loaded).
"""

from .kernels import reference_kernels_enabled, use_reference_kernels

__all__ = ["use_reference_kernels", "reference_kernels_enabled"]
