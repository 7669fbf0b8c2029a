"""Issue 9's numerics defects on the CUDA backend (simulator or GPU; tiny shapes): zero-size
matmul, batch-norm precision far from zero, in-place writes into expanded views."""

import numpy as np
import pytest

import microtorch as torch

OVERLAP = "more than one element of the written-to tensor refers to a single memory location"


@pytest.mark.parametrize("sa, sb", [((3, 0), (0, 4)), ((0, 3), (3, 4)), ((3, 2), (2, 0)),
                                    ((0,), (0,)), ((3, 0), (0,)), ((2, 3, 0), (2, 0, 4)),
                                    ((0, 3, 2), (0, 2, 4)), ((2, 1, 3, 0), (5, 0, 4))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_zero_size(K, sa, sb, dtype):
    a, b = np.ones(sa, dtype), np.ones(sb, dtype)
    got = K.to_numpy(K.matmul(K.from_numpy(a), K.from_numpy(b)))
    ref = np.matmul(a, b)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


def test_matmul_empty_inner_dim_backward_on_device(K):
    a = torch.ones(3, 0, device="cuda", requires_grad=True)
    b = torch.ones(0, 4, device="cuda", requires_grad=True)
    out = a @ b
    np.testing.assert_array_equal(out.cpu().detach().numpy(), np.zeros((3, 4), np.float32))
    out.sum().backward()
    assert a.grad.shape == (3, 0) and b.grad.shape == (0, 4)


def test_batch_norm_constant_channel_of_1e4_is_zero(K):
    x = np.full((4, 2, 3), 1e4, np.float32)
    mean, var = (K.to_numpy(t) for t in K.batch_norm_stats(K.from_numpy(x)))
    np.testing.assert_array_equal(mean, np.full(2, 1e4, np.float32))
    np.testing.assert_array_equal(var, np.zeros(2, np.float32))
    invstd = (1 / np.sqrt(var + 1e-5)).astype(np.float32)
    y = K.to_numpy(K.batch_norm(*map(K.from_numpy, (x, np.ones(2, np.float32),
                                                    np.zeros(2, np.float32), mean, invstd))))
    np.testing.assert_array_equal(y, np.zeros_like(x))


def test_batch_norm_large_offset_within_rounding(K):
    rng = np.random.default_rng(0)
    x = (1e4 + 1e-2 * rng.standard_normal((4, 2, 5))).astype(np.float32)
    x64 = x.astype(np.float64)
    m64, v64 = x64.mean((0, 2), keepdims=True), x64.var((0, 2), keepdims=True)
    exact = (x64 - m64) / np.sqrt(v64 + 1e-5)
    mean, var = (K.to_numpy(t) for t in K.batch_norm_stats(K.from_numpy(x)))
    invstd = (1 / np.sqrt(var.astype(np.float64) + 1e-5)).astype(np.float32)
    y = K.to_numpy(K.batch_norm(K.from_numpy(x), None, None, K.from_numpy(mean),
                                K.from_numpy(invstd)))
    bound = 0.5 * np.spacing(np.float32(1e4)) / np.sqrt(v64 + 1e-5) + 1e-4 * (1 + np.abs(exact))
    assert np.all(np.abs(y - exact) <= bound)


def test_inplace_on_expanded_cuda_tensor_refused(K):
    base = torch.arange(3.0, device="cuda").reshape(3, 1)
    e = base.expand(3, 4)
    for write in (lambda: e.add_(1.0), lambda: e.mul_(torch.ones(3, 4, device="cuda")),
                  lambda: e.copy_(torch.ones(3, 4, device="cuda")), lambda: e.exp_()):
        with pytest.raises(RuntimeError, match=OVERLAP):
            write()
    np.testing.assert_array_equal(base.cpu().numpy(), [[0.0], [1.0], [2.0]])
