"""Shared helpers for the core test suite (hypothesis profile, float64 inputs)."""

import numpy as np
from hypothesis import HealthCheck, settings

import microtorch

settings.register_profile("core", max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("core")


def make(shape, *, low=-2.0, high=2.0, seed=0, requires_grad=True, away_from=None):
    """A float64 leaf with values in [low, high) (kept 0.1 away from ``away_from`` values)."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(low, high, size=shape)
    if away_from is not None:
        for v in away_from:
            close = np.abs(data - v) < 0.1
            data[close] = v + 0.3
    return microtorch.tensor(data, dtype=microtorch.float64, requires_grad=requires_grad)


def outcome(lib, fn):
    """``fn(lib)`` as ("ok", [(dtype name, values), ...]) or ("error", exception class name,
    message): what a test compares between microtorch and torch (``lib`` is either module)."""
    try:
        out = fn(lib)
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return ("error", type(exc).__name__, str(exc))
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return ("ok", [(str(o.dtype).replace("torch.", ""), o.detach().numpy()) for o in outs])
