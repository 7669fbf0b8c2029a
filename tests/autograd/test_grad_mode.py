"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode; context managers,
decorators, nesting, exceptions, and thread-locality."""

import threading

import pytest

import microtorch as torch


def _records():
    x = torch.ones(2, requires_grad=True)
    return (x * 2).requires_grad


def test_no_grad_context():
    with torch.no_grad():
        assert not torch.is_grad_enabled()
        assert not _records()
    assert torch.is_grad_enabled() and _records()


def test_no_grad_decorator_and_function_metadata():
    @torch.no_grad()
    def f(a):
        """doc"""
        return _records(), a

    assert f(1) == (False, 1)
    assert f.__name__ == "f" and f.__doc__ == "doc"
    assert torch.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    with torch.no_grad():
        with torch.enable_grad():
            assert _records()
        assert not _records()

    @torch.enable_grad()
    def f():
        return _records()

    with torch.no_grad():
        assert f()


def test_set_grad_enabled_context_and_call():
    with torch.set_grad_enabled(False):
        assert not _records()
    assert _records()
    torch.set_grad_enabled(False)
    try:
        assert not _records()
    finally:
        torch.set_grad_enabled(True)
    assert _records()

    @torch.set_grad_enabled(False)
    def f():
        return _records()

    assert torch.is_grad_enabled()  # decorating does not switch the mode
    assert f() is False and torch.is_grad_enabled()


def test_inference_mode():
    with torch.inference_mode():
        assert torch.is_inference_mode_enabled()
        assert not _records()
    assert not torch.is_inference_mode_enabled()
    with torch.inference_mode(False):
        assert _records()

    @torch.inference_mode()
    def f():
        return _records()

    assert f() is False


def test_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with torch.no_grad():
            raise ValueError
    assert torch.is_grad_enabled()

    @torch.no_grad()
    def boom():
        raise KeyError

    with pytest.raises(KeyError):
        boom()
    assert torch.is_grad_enabled()


def test_nested_and_reentrant_decorator():
    @torch.no_grad()
    def inner(depth):
        assert not torch.is_grad_enabled()
        return inner(depth - 1) if depth else _records()

    assert inner(3) is False
    assert torch.is_grad_enabled()


def test_grad_mode_is_thread_local():
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        with torch.no_grad():
            seen["worker"] = _records()
            inside.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main"] = _records()  # while the worker sits inside no_grad
    release.set()
    t.join()
    assert seen == {"worker": False, "main": True}


def test_new_thread_starts_with_grad_enabled():
    result = {}
    with torch.no_grad():
        t = threading.Thread(target=lambda: result.setdefault("enabled", torch.is_grad_enabled()))
        t.start()
        t.join()
    assert result["enabled"] is True


def test_no_grad_results_are_leaves():
    x = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        y = x * 2
    assert y.is_leaf and y.grad_fn is None
    z = y * x  # grad flows only to x
    z.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_inplace_update_of_leaf_under_no_grad():
    w = torch.ones(2, requires_grad=True)
    (w * 3).sum().backward()
    with torch.no_grad():
        w -= 0.5 * w.grad
    assert w.tolist() == [-0.5, -0.5] and w.requires_grad and w.is_leaf
