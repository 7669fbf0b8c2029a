"""Both backends implement the whole kernel contract, with the same names."""

import ast
import inspect
import os

from microtorch.backends import contract
from microtorch.backends.cpu import kernels as cpu

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def _cuda_exports():
    path = os.path.join(ROOT, "microtorch", "backends", "cuda", "kernels.py")
    tree = ast.parse(open(path, encoding="utf-8").read())
    return {alias.asname or alias.name for node in tree.body
            if isinstance(node, ast.ImportFrom) for alias in node.names}


def test_cpu_implements_every_contract_function():
    missing = [name for name in contract.KERNELS if not callable(getattr(cpu, name, None))]
    assert not missing, f"microtorch.backends.cpu.kernels lacks {missing}"


def test_cpu_signatures_follow_the_contract():
    for name, doc in contract.KERNELS.items():
        params = list(inspect.signature(getattr(cpu, name)).parameters)
        documented = [p.strip().split("=")[0] for p in doc.split("(", 1)[1].split(")", 1)[0]
                      .split(",") if p.strip()]
        assert params[:len(documented)] == documented, (name, params, documented)


def test_cpu_and_cuda_expose_the_same_contract():
    cuda = _cuda_exports()
    assert set(contract.KERNELS) <= cuda
    assert set(contract.KERNELS) <= set(cpu.__all__)
