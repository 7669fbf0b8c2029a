"""The CUDA backend implements every name of the kernel contract (checked without importing
numba: the kernel module's source is parsed)."""

import ast
import os

from microtorch.backends.contract import KERNELS

HERE = os.path.dirname(os.path.abspath(__file__))
CUDA_DIR = os.path.join(HERE, "..", "..", "microtorch", "backends", "cuda")


def _module_functions(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _kernel_exports():
    tree = ast.parse(open(os.path.join(CUDA_DIR, "kernels.py"), encoding="utf-8").read())
    exports = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                exports[alias.asname or alias.name] = node.module
    return exports


def test_cuda_kernels_module_exports_every_contract_name():
    exports = _kernel_exports()
    missing = sorted(set(KERNELS) - set(exports))
    assert not missing, f"microtorch.backends.cuda.kernels lacks {missing}"


def test_exported_names_are_defined_with_the_contract_parameters():
    exports = _kernel_exports()
    for name, module in exports.items():
        if name not in KERNELS:
            continue
        functions = _module_functions(os.path.join(CUDA_DIR, module + ".py"))
        assert name in functions, f"{module}.py does not define {name}"
        params = [a.arg for a in functions[name].args.args]
        documented = KERNELS[name].split("(", 1)[1].split(")", 1)[0]
        expected = [p.strip().split("=")[0] for p in documented.split(",") if p.strip()]
        expected = [p for p in expected if p != "..." and not p.startswith("*")]
        assert len(params) >= len(expected), (name, params, expected)


def test_package_imports_without_numba_cuda():
    import subprocess
    import sys

    code = ("import sys; import microtorch.backends.cuda as c; "
            "assert 'numba.cuda' not in sys.modules and 'numba_cuda' not in sys.modules; "
            "print(c.launch_count, c.device_count() >= 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.join(HERE, "..", ".."))
    assert out.returncode == 0, out.stderr
