"""microtorch's modules form layers that import downwards only, with no import circle.

The imports are read from the source with ``ast``, so an import inside a function counts as much
as one at the top of a module (hiding an import in a function does not hide a dependency). A
relative import is resolved against the importing module; ``from . import x`` depends on the
submodule ``x``, not on the package's ``__init__``; importing a package depends on its
``__init__``. (Python also runs the ``__init__`` of every parent package first; a package that
re-exports its own submodules is the usual pattern, so that implicit step is not counted, as in
``../shared/tools/import_cycles.py``.)
"""

import ast
import pathlib

import pytest

import microtorch

PACKAGE_DIR = pathlib.Path(microtorch.__file__).parent
PACKAGE = "microtorch"

# The layers, lowest first. A module may import modules of its own layer or of a lower one,
# never of a higher one. The longest matching prefix decides a module's layer ("microtorch.ops"
# covers every module of the ops package; "microtorch" alone is the package's __init__).
LAYERS = [
    # L0: dtypes, devices, grad mode and the device backends (kernels know no Tensor);
    # return_types is plain named tuples (importing nothing of microtorch)
    ["microtorch._dtype", "microtorch._device", "microtorch.autograd.grad_mode",
     "microtorch.backends", "microtorch.return_types"],
    # L1: the Tensor data model
    ["microtorch._tensor", "microtorch._printing"],
    # L2: autograd's graph and engine
    ["microtorch.autograd.function", "microtorch.autograd.engine"],
    # L3: the ops, and the functions that create tensors
    ["microtorch.ops", "microtorch._creation", "microtorch._random"],
    # L4: everything built on the public API
    ["microtorch.autograd", "microtorch.nn", "microtorch.optim", "microtorch.utils",
     "microtorch.models", "microtorch.serialization", "microtorch.cuda", "microtorch"],
]

# The backends import nothing of microtorch but dtypes, devices and each other.
BACKENDS = "microtorch.backends"
BACKENDS_MAY_IMPORT = ("microtorch.backends", "microtorch._dtype", "microtorch._device")

# A function-local import is for an optional package only (imported when first needed).
OPTIONAL_PACKAGES = {"numba", "numba_cuda", "matplotlib", "graphviz", "torch", "sklearn", "PIL",
                     "torchvision", "IPython", "cupy"}


def module_files():
    """{module name: path} of every module of the package."""
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = (PACKAGE,) + path.relative_to(PACKAGE_DIR).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def _is_package(name):
    return MODULES[name].name == "__init__.py"


def imported_names(name, node):
    """The modules an ``import``/``from ... import`` statement of module ``name`` names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolved against the importing module's package
        base = name.split(".") if _is_package(name) else name.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    submodules = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in MODULES]
    # ``from pkg import submodule`` needs the submodule; any other name needs pkg itself
    return submodules + ([source] if len(submodules) < len(node.names) else [])


def own_module(target):
    """The package's module that importing ``target`` runs, or None for an outside one."""
    if target != PACKAGE and not target.startswith(PACKAGE + "."):
        return None
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def read_imports():
    """[(importer, imported module, line, inside a function)] for every import of the package,
    and the function-local imports of outside packages as (importer, name, line)."""
    edges, outside_local = [], []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        local_nodes = {id(n) for f in ast.walk(tree)
                       if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                       for n in ast.walk(f)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            local = id(node) in local_nodes
            for target in imported_names(name, node):
                module = own_module(target)
                if module is None:
                    if local:
                        outside_local.append((name, target, node.lineno))
                elif module != name:
                    edges.append((name, module, node.lineno, local))
    return edges, outside_local


EDGES, OUTSIDE_LOCAL = read_imports()


def layer_of(module):
    """The index in LAYERS of ``module``'s layer (longest matching prefix)."""
    best, best_len = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def cycles(edges):
    """The strongly connected components of two or more modules (Tarjan, iterative)."""
    graph = {m: set() for m in MODULES}
    for a, b, _, _ in edges:
        graph[a].add(b)
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if layer_of(m) is None]
    assert not missing, f"modules with no layer in LAYERS: {missing}"


def test_no_import_cycle():
    found = cycles(EDGES)
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_imports_point_down():
    upward = [f"{a} (L{layer_of(a)}) imports {b} (L{layer_of(b)}), line {line}"
              for a, b, line, _ in EDGES if layer_of(b) > layer_of(a)]
    assert not upward, "imports from a lower layer into a higher one:\n" + "\n".join(upward)


def test_backends_import_only_dtypes_devices_and_backends():
    wrong = [f"{a} imports {b}, line {line}" for a, b, line, _ in EDGES
             if a.startswith(BACKENDS) and not any(b == p or b.startswith(p + ".")
                                                   for p in BACKENDS_MAY_IMPORT)]
    assert not wrong, "backends importing the layers above them:\n" + "\n".join(wrong)


def test_no_function_local_import_of_the_package():
    hidden = [f"{a} imports {b} inside a function, line {line}"
              for a, b, line, local in EDGES if local]
    assert not hidden, "function-local imports of microtorch modules:\n" + "\n".join(hidden)


def test_function_local_imports_are_optional_packages():
    wrong = [f"{a} imports {b} inside a function, line {line}" for a, b, line in OUTSIDE_LOCAL
             if b.split(".")[0] not in OPTIONAL_PACKAGES]
    assert not wrong, ("a function-local import is for optional packages only:\n"
                       + "\n".join(wrong))


@pytest.mark.parametrize("source, expected", [
    ("from . import _dtype", ["microtorch._dtype"]),
    ("from .ops import elementwise, _util", ["microtorch.ops.elementwise", "microtorch.ops._util"]),
    ("from .ops._util import wrap", ["microtorch.ops._util"]),
    ("from .backends import get_backend", ["microtorch.backends"]),
    ("import numpy", []),
])
def test_imports_are_resolved(source, expected):
    """The reading of imports itself: relative imports of ``microtorch/_tensor.py``."""
    node = ast.parse(source).body[0]
    names = [own_module(t) for t in imported_names("microtorch._tensor", node)]
    assert [n for n in names if n] == expected


def test_a_hidden_cycle_is_found():
    """The cycle search finds a circle made by one import inside a function."""
    edges = EDGES + [("microtorch._dtype", "microtorch._tensor", 1, True)]
    assert any("microtorch._dtype" in c and "microtorch._tensor" in c for c in cycles(edges))
