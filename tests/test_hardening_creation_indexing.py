"""Regression tests for creation and indexing found by the differential fuzzer (issue 9).

Each case runs in PyTorch and in microtorch: both must succeed with the same values, or both
raise the same exception class.
"""

import math

import numpy as np
import pytest

import microtorch

torch = pytest.importorskip("torch")

nan, inf = math.nan, math.inf


def _run(lib, fn):
    try:
        out = fn(lib)
    except Exception as exc:  # the exception is the result compared
        return exc
    return out


def _same(fn):
    """Run ``fn(lib)`` in both libraries and assert they agree."""
    t, m = _run(torch, fn), _run(microtorch, fn)
    if isinstance(t, Exception) or isinstance(m, Exception):
        assert isinstance(t, Exception), f"microtorch raised {m!r}, torch gave {t!r}"
        assert isinstance(m, Exception), f"torch raised {t!r}, microtorch gave {m!r}"
        assert type(m).__module__ == "builtins", m
        assert isinstance(m, type(t).__mro__[[c.__module__ for c in type(t).__mro__]
                                             .index("builtins")]), (t, m)
        return m
    t_np = t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)
    m_np = m.detach().numpy() if hasattr(m, "detach") else np.asarray(m)
    assert t_np.shape == m_np.shape and str(t_np.dtype) == str(m_np.dtype), (t, m)
    np.testing.assert_allclose(m_np, t_np, rtol=1e-6, equal_nan=True)
    return m


def _dt(lib, name):
    return None if name is None else getattr(lib, name)


@pytest.mark.parametrize("size", [(2**62,), (2**63 - 1,), (2**61, 4), (2**63,), (-1, 2**63)])
@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
def test_sizes_too_large_raise_pytorchs_errors(name, size):
    m = _same(lambda lib: getattr(lib, name)(size, dtype=lib.bool))
    assert isinstance(m, (RuntimeError, TypeError))


@pytest.mark.parametrize("size", [(2**62,), (2**63,), (2**40,)])
@pytest.mark.parametrize("name", ["rand", "randn"])
def test_random_sizes_too_large_raise_pytorchs_errors(name, size):
    _same(lambda lib: getattr(lib, name)(*size))


def test_storage_overflow_message():
    with pytest.raises(RuntimeError, match=r"Storage size calculation overflowed with "
                                           r"sizes=\[2305843009213693952, 4\]"):
        microtorch.zeros(2**61, 4)


@pytest.mark.parametrize("value", [-256, -255, -1, 255, 256, -0.5, -1.3, 255.5, nan, inf, True,
                                   3.7])
@pytest.mark.parametrize("dtype", ["uint8", "int32", "bool", "float32"])
def test_fill_values_that_do_not_fit(value, dtype):
    _same(lambda lib: lib.full((2,), value, dtype=getattr(lib, dtype)))
    _same(lambda lib: lib.tensor(value, dtype=getattr(lib, dtype)))
    _same(lambda lib: lib.tensor([[value, 1]], dtype=getattr(lib, dtype)))
    _same(lambda lib: lib.zeros(1, dtype=getattr(lib, dtype)).new_full((2,), value))


def test_overflow_messages():
    with pytest.raises(RuntimeError, match="value cannot be converted to type uint8_t without"):
        microtorch.full((4,), -1.16, dtype=microtorch.uint8)
    with pytest.raises(RuntimeError, match="value cannot be converted to type uint8 without"):
        microtorch.tensor([-1.3], dtype=microtorch.uint8)
    assert microtorch.full_like(microtorch.zeros((), dtype=microtorch.uint8), -2).item() == 254
    assert microtorch.tensor([-1, 0.5], dtype=microtorch.uint8).tolist() == [255, 0]


@pytest.mark.parametrize("args", [(0, 2.5, 1), (0, 2.5, 0.5), (-5, -2.8e-186, 0.5), (3.3, 3.3, inf),
                                  (-5, 2, inf), (0, nan, 1), (inf, 0.5, -1), (0, 4, nan),
                                  (-5, 3, 3), (0, 1e30, 1), (0.5, 3, 1), (0, 10, 3),
                                  (0, 1, 0.1), (0, 3, -1), (3, 3, 0), (2**63 - 5, 2**63 - 1, 1)])
@pytest.mark.parametrize("dtype", [None, "int64", "int32", "uint8", "float32", "float64", "bool"])
def test_arange(args, dtype):
    _same(lambda lib: lib.arange(*args, dtype=_dt(lib, dtype)))


@pytest.mark.parametrize("args", [(4, inf, 4), (0, inf, 2), (inf, 0, 5), (0, 10, 7), (0, 10, 1),
                                  (-1, 1, 3), (-1, 300, 3), (-1.5, 1, 3), (10, 0, 7), (nan, nan, 2),
                                  (-4.0, -4.0, 1), (3, 3, 6), (0, 1, -1), (0, 1, 0)])
@pytest.mark.parametrize("dtype", [None, "int64", "int32", "uint8", "float64", "bool"])
def test_linspace(args, dtype):
    _same(lambda lib: lib.linspace(*args, dtype=_dt(lib, dtype)))


@pytest.mark.parametrize("args", [(0, 2, 5), (0, inf, 5), (-1.5, -1.5, -1), (1, 2, 1)])
def test_logspace(args):
    _same(lambda lib: lib.logspace(*args))


@pytest.mark.parametrize("n, m", [(2, -1), (-1, None), (-1, 2), (2**62, None), (0, 3)])
def test_eye_sizes(n, m):
    _same(lambda lib: lib.eye(n, *([] if m is None else [m])))


@pytest.mark.parametrize("data", [[[], True], [[[], []], [[], [], 0.0], [1.4, 0.0]], [[], []],
                                  [[1, 2], []], [2**63]])
def test_tensor_from_lists(data):
    _same(lambda lib: lib.tensor(data))


@pytest.mark.parametrize("index", [(..., 0, ...), (0, ..., 1, ...), (..., None, ...),
                                   (None, ..., None, ...), (0, ..., ...), (..., ..., slice(None))])
def test_getitem_several_ellipses(index):
    _same(lambda lib: lib.arange(24).reshape(2, 3, 4)[index])


@pytest.mark.parametrize("index", [
    (0, slice(None), [0, 1]), (0, ..., [1, 2]), (0, ..., [1, 2], slice(None)),
    (slice(None), 0, None, [1, 2]), (1, slice(None), 2, [[0, 1]]),
    ([0, 1], 0, slice(None), [1, 2]), (0, slice(None), [True, False, True, True]),
    (..., None, ..., None), (..., ..., 0, 1, 2, 3), (slice(None, None, 0),)])
def test_getitem_ints_apart_from_index_tensors(index):
    """PyTorch applies ints first: ``x[0, :, idx]`` has the index dims last (NumPy: first)."""
    _same(lambda lib: lib.arange(120).reshape(2, 3, 4, 5)[index])


@pytest.mark.parametrize("index", [
    (0, slice(None), [0, 1]), (0, ..., [1, 2]), (slice(None), 0, None, [1, 2]),
    (1, slice(None), 2, [[0, 1]]), ([0, 1], 0, slice(None), [1, 2])])
def test_setitem_ints_apart_from_index_tensors_with_gradient(index):
    shape = tuple(torch.zeros(2, 3, 4, 5)[index].shape)
    results = []
    for lib in (torch, microtorch):
        v = lib.arange(math.prod(shape), dtype=lib.float64).reshape(shape).requires_grad_()
        w = lib.arange(120, dtype=lib.float64).reshape(2, 3, 4, 5)
        x = lib.zeros(2, 3, 4, 5, dtype=lib.float64)
        x[index] = v * 1
        (x * w).sum().backward()
        y = lib.zeros(2, 3, 4, 5, dtype=lib.float64)
        y[index] = v.detach()[..., :1]  # broadcast along the last dim
        results.append((x.detach().numpy(), v.grad.numpy(), y.numpy()))
    for t, m in zip(*results):
        np.testing.assert_array_equal(m, t)


def _setitem(x, index, value):
    x[index] = value
    return x


@pytest.mark.parametrize("case", [
    lambda L: _setitem(L.zeros(3, 2), (..., None, ...), L.ones(3, 2)),
    lambda L: _setitem(L.zeros(()), (), L.tensor([5.])),
    lambda L: _setitem(L.zeros(3), (), L.ones(3, 1)),
    lambda L: _setitem(L.zeros(3), (), L.ones(1, 3)),
    lambda L: _setitem(L.zeros(3), slice(0, 2), L.ones(3)),
    lambda L: _setitem(L.zeros(3), L.tensor([0, 1]), L.ones(2, 1)),
    lambda L: _setitem(L.zeros(4, 4), L.tensor([], dtype=L.int64), L.ones(4, 4)),
    lambda L: _setitem(L.zeros(4, dtype=L.int32), L.tensor([1]), L.tensor(1.5)),
    lambda L: _setitem(L.zeros(4, dtype=L.int32), L.tensor([1]), 1.5),
    lambda L: _setitem(L.zeros(4, dtype=L.int32), L.tensor([True, False, True, False]),
                       L.tensor([1.5])),
    lambda L: _setitem(L.zeros(4, dtype=L.int32), L.tensor([True, False, True, False]),
                       L.tensor([1.5, 2.0])),
    lambda L: _setitem(L.zeros(2, 3), slice(None), L.ones(2, 2, 3)),
    lambda L: _setitem(L.zeros(4, 3), (slice(None), L.tensor([1, 2])), L.ones(1, 4, 2)),
    lambda L: _setitem(L.zeros(3, 4, requires_grad=True).expand(3, 4),
                       (L.tensor([False, True, False, True]), ...), 1.0),
    lambda L: _setitem(L.zeros((), requires_grad=True), L.tensor([], dtype=L.int64), 1.0),
    lambda L: _setitem(L.zeros(2, requires_grad=True).expand(3, 2), 5, 1.0),
])
def test_setitem(case):
    _same(case)


@pytest.mark.parametrize("case", [
    lambda L: L.zeros(3, 4)[[0, 1], [0, 1, 2]],
    lambda L: L.zeros(3, 4)[L.tensor([True, False, True]), [0, 1, 2]],
    lambda L: L.zeros(3, 4)[[[0], [1]], [0, 1, 2]],
    lambda L: L.zeros(2, 2)[[5], ::-1],
    lambda L: L.zeros(2, 2)[[5], ::0],
    lambda L: L.zeros(2, 2)[:, ::0, 0],
])
def test_index_errors_in_pytorchs_order(case):
    _same(case)


def test_setitem_into_integer_tensor_does_not_require_grad():
    v = microtorch.tensor([1.5, 2.5], requires_grad=True)
    x = microtorch.zeros(2, dtype=microtorch.int32)
    x[:] = v
    assert not x.requires_grad and x.tolist() == [1, 2]


def test_scatter_add_of_an_empty_index_keeps_the_src_gradient():
    grads = []
    for lib in (torch, microtorch):
        x = lib.zeros(3, 0, dtype=lib.float64, requires_grad=True)
        src = lib.zeros(3, 0, dtype=lib.float64, requires_grad=True)
        x.scatter_add(-2, lib.zeros(3, 0, dtype=lib.int64), src).sum().backward()
        grads.append((tuple(x.grad.shape), tuple(src.grad.shape)))
    assert grads[0] == grads[1]


def test_setitem_messages():
    with pytest.raises(RuntimeError, match=r"shape mismatch: value tensor of shape \[4, 4\] cannot "
                                           r"be broadcast to indexing result of shape \[0, 4\]"):
        x = microtorch.zeros(4, 4)
        x[microtorch.tensor([], dtype=microtorch.int64)] = microtorch.ones(4, 4)
    with pytest.raises(RuntimeError, match="Index put requires the source and destination dtypes"):
        microtorch.zeros(4, dtype=microtorch.int32)[[1]] = microtorch.tensor([1.5])


def test_setitem_gradient_through_dropped_leading_ones():
    v = microtorch.tensor([[2.0]], requires_grad=True)
    x = microtorch.zeros(3)
    x[1] = v
    x.sum().backward()
    assert v.grad.shape == (1, 1) and v.grad.item() == 1.0


@pytest.mark.parametrize("case", [
    lambda L: L.gather(L.tensor(5), 0, L.tensor(0)),
    lambda L: L.gather(L.tensor(5), 0, L.tensor(1)),
    lambda L: L.gather(L.tensor([5, 6]), 0, L.tensor(1)),
    lambda L: L.gather(L.tensor([5, 6]), 0, L.tensor([1], dtype=L.int32)),
    lambda L: L.gather(L.tensor([5, 6]), 0, L.tensor([1], dtype=L.uint8)),
    lambda L: L.gather(L.zeros(2, 3), 0, L.zeros(2, 4, dtype=L.int64)),
    lambda L: L.zeros(2, 3).scatter_add(0, L.zeros(2, 4, dtype=L.int64), L.ones(2, 4)),
    lambda L: L.zeros(2, 3).scatter_add(0, L.zeros(1, 3, dtype=L.int64), L.ones(3, 3)),
    lambda L: L.zeros(2, 3).scatter_add(0, L.zeros(1, 3, dtype=L.int64),
                                        L.ones(3, 3, dtype=L.float64)),
    lambda L: L.zeros(3).scatter_add(0, L.zeros((), dtype=L.int64), L.ones(2)),
    lambda L: L.zeros(()).scatter_add(0, L.zeros(5, dtype=L.int64), L.ones(5)),
    lambda L: L.tensor(1).scatter_add(0, L.tensor(3), L.tensor(2)),
    lambda L: L.tensor(1.0).scatter_add(0, L.zeros(0, 0, dtype=L.int64), L.zeros(0, 0)),
    lambda L: L.tensor(1.0).scatter_add(0, L.zeros(0, 0, dtype=L.uint8), L.zeros(0, 0)),
    lambda L: L.tensor(1.0).scatter_add(0, L.zeros(0, 0, dtype=L.int64),
                                        L.zeros(0, 0, dtype=L.float64)),
    lambda L: L.zeros(2, 3).gather(0, L.zeros(0, 5, 4, dtype=L.int64)),
])
def test_gather_scatter_add(case):
    _same(case)


def test_gather_of_0d_has_a_gradient():
    x = microtorch.tensor(2.0, requires_grad=True)
    x.gather(0, microtorch.tensor([0, 0])).sum().backward()
    assert x.grad.item() == 2.0


@pytest.mark.parametrize("data, n", [([], -1), ([], 0), ([], 3), ([1], -2), ([-1], 3), ([2], -1)])
def test_one_hot(data, n):
    _same(lambda lib: lib.nn.functional.one_hot(lib.tensor(data, dtype=lib.int64), n))


@pytest.mark.parametrize("index", [0, -1, (0, None), (slice(1, 2),)])
def test_setitem_one_cell_of_an_expanded_tensor(index):
    """x[index] = v on an expanded x writes one memory cell, which PyTorch allows (only the
    written part must not repeat a cell); every element that shares the cell changes."""
    def fn(lib):
        x = lib.tensor([[1.0], [3.0]]).expand(2, 3)
        x[index] = lib.tensor(5.0)
        return x
    _same(fn)


def test_setitem_refuses_a_write_that_repeats_a_cell():
    def fn(lib):
        x = lib.tensor([[1.0], [3.0]]).expand(2, 3)
        x[1] = lib.tensor(5.0)
        return x
    assert isinstance(_same(fn), RuntimeError)


@pytest.mark.parametrize("shape, index", [
    ((0, 0), (0, slice(None, None, 0))),
    ((3, 3), (5, slice(None, None, 0))),
    ((3, 3), (slice(None, None, 0), 5)),
    ((3, 0), (0, slice(None, None, 0))),
    ((2, 3, 4), (Ellipsis, 5, slice(None, None, 0))),
])
def test_index_checks_ints_and_slices_in_order(shape, index):
    """PyTorch applies ints (bounds) and slices (step) from left to right: an out-of-bounds
    int before a zero step is an IndexError, after it a ValueError."""
    _same(lambda lib: lib.zeros(shape)[index])


def test_setitem_into_an_expanded_tensor_gradient_counts_every_repeat():
    """x[1] = v on an expanded x: the value shows in every element that shares its memory
    cells, so v's gradient sums over them (as PyTorch's, through the expanded base)."""
    grads = []
    for lib in (torch, microtorch):
        v = lib.tensor([2.0, 3.0], requires_grad=True)
        x = lib.tensor([[1.0], [4.0]]).expand(2, 3).transpose(0, 1)  # dim 0 repeats cells
        x[1] = v
        (x * lib.tensor(np.arange(6.0).reshape(3, 2), dtype=lib.float32)).sum().backward()
        grads.append((x.detach().numpy(), v.grad.numpy()))
    for want, got in zip(*grads):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape, index", [((0,), [0]), ((0, 3), [0]), ((3,), [5]), ((3, 0), [1])])
def test_index_tensor_into_a_size_0_dim_is_checked_before_the_dtype(shape, index):
    """x[index] = v with v of another dtype: PyTorch first refuses an index tensor into a
    size-0 dim (IndexError), and only then the dtypes (RuntimeError)."""
    def fn(lib):
        x = lib.zeros(shape)
        x[lib.tensor(index)] = lib.tensor(1, dtype=lib.int32)
        return x
    _same(fn)
    _same(lambda lib: lib.zeros(shape)[lib.tensor(index)])
