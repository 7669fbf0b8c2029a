"""Reverse-mode automatic differentiation: ``backward``, ``grad``, ``Function``, grad modes,
``gradcheck`` and the ``functional`` helpers (``vjp``, ``jacobian``, ``hessian``)."""

from . import functional
from .engine import backward, grad
from .function import Function, FunctionCtx, Node
from .gradcheck import gradcheck, gradgradcheck
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad,
                        set_grad_enabled)

__all__ = ["Function", "FunctionCtx", "Node", "backward", "enable_grad", "functional", "grad",
           "gradcheck", "gradgradcheck", "inference_mode", "is_grad_enabled", "no_grad",
           "set_grad_enabled"]
