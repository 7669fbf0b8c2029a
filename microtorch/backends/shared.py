"""Python shared by the CPU and CUDA backends (no device code): facts about the contract's op
names that both backends' entry points use."""

INTEGER_UNARY_OPS = frozenset({"neg", "abs", "relu", "sign"})
"""Unary ops defined on integer arrays; every other unary op is float-valued (the CPU refuses
integer input, the CUDA backend computes it in float32)."""


def is_float_valued(op):
    """True when the unary ``op`` is float-valued (``exp``, ``sqrt``...): see
    :data:`INTEGER_UNARY_OPS`."""
    return op not in INTEGER_UNARY_OPS
