"""GEMM for the CPU backend (placeholder: being replaced by the blocked, packed kernel)."""

import numpy as np

from .._numba import jit


@jit(parallel=False)
def _gemm_kernel(a, b, out):
    m, k = a.shape
    n = b.shape[1]
    for i in range(m):
        for j in range(n):
            out[i, j] = 0
        for p in range(k):
            aip = a[i, p]
            for j in range(n):
                out[i, j] += aip * b[p, j]


def gemm(a, b, out=None):
    """out = a @ b for 2-D arrays a (M, K), b (K, N) of one float dtype, any strides."""
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    _gemm_kernel(a, b, out)
    return out
