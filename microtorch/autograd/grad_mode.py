"""Grad modes: whether operations record the autograd graph (thread-local).

Every class here works both as a context manager and as a function decorator, as in PyTorch::

    with microtorch.no_grad():
        y = x * 2            # y.requires_grad is False

    @microtorch.no_grad()
    def evaluate(model, x):
        return model(x)
"""

import functools
import threading

class _GradState(threading.local):
    """The grad mode of one thread; every thread starts with grad enabled, outside inference
    mode. ``Function.apply`` reads and sets ``enabled`` directly (the per-op fast path)."""

    enabled = True
    inference = False


_state = _GradState()


def is_grad_enabled():
    """True when operations on tensors that require grad record the graph (this thread)."""
    return _state.enabled


def is_inference_mode_enabled():
    """True inside ``inference_mode()`` (this thread)."""
    return _state.inference


def _set_enabled(mode):
    _state.enabled = bool(mode)


class _DecoratorContextManager:
    """Base: a context manager that also decorates functions (a fresh copy per call)."""

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_DecoratorContextManager):
    """Disable graph recording: results of ops have ``requires_grad=False``.

    Example::

        >>> x = microtorch.ones(2, requires_grad=True)
        >>> with microtorch.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __enter__(self):
        self.prev = is_grad_enabled()
        _set_enabled(False)

    def __exit__(self, *exc):
        _set_enabled(self.prev)


class enable_grad(_DecoratorContextManager):
    """Enable graph recording inside a ``no_grad`` block."""

    def __enter__(self):
        self.prev = is_grad_enabled()
        _set_enabled(True)

    def __exit__(self, *exc):
        _set_enabled(self.prev)


class set_grad_enabled(_DecoratorContextManager):
    """Set grad mode on or off; takes effect at once, and restores on exit when used with ``with``.

    ``microtorch.set_grad_enabled(False)`` as a plain call switches recording off for the thread.
    """

    def __init__(self, mode):
        self.prev = is_grad_enabled()
        self.mode = bool(mode)
        _set_enabled(self.mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _set_enabled(self.prev)

    def __call__(self, func):
        _set_enabled(self.prev)
        return super().__call__(func)

    def clone(self):
        return self.__class__(self.mode)


class inference_mode(_DecoratorContextManager):
    """Like ``no_grad`` (no graph is recorded); ``inference_mode(False)`` is a no-op block."""

    def __init__(self, mode=True):
        self.mode = mode

    def __enter__(self):
        self.prev = (is_grad_enabled(), is_inference_mode_enabled())
        if self.mode:
            _set_enabled(False)
            _state.inference = True

    def __exit__(self, *exc):
        _set_enabled(self.prev[0])
        _state.inference = self.prev[1]

    def clone(self):
        return self.__class__(self.mode)
