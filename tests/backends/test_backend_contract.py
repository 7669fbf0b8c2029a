"""Both backends implement exactly the kernel contract, registered beside their kernels.

After ``import microtorch`` (whose ops modules may declare more names), each backend's registry
must hold every declared entry point and op name, and nothing else. The CPU also registers a
textbook reference kernel for every *compute* entry point; the rule for the others
(:data:`contract.DATA_MOVEMENT`: allocation, views, copies, random numbers, indexing) is that
they do no arithmetic, are NumPy data movement, and are their own reference: they have no
separate one. The CUDA registry is read by importing its kernel modules (numba-cuda imports
without a GPU).
"""

import inspect

import pytest

import microtorch  # noqa: F401  (the ops modules declare their contract names)
from microtorch.backends import contract
from microtorch.backends.cpu import kernels as cpu


def _cuda_registry():
    pytest.importorskip("numba_cuda")
    from microtorch.backends.cuda import kernels

    return kernels.REGISTRY


def _documented_parameters(name):
    doc = contract.KERNELS[name]
    return [p.strip().split("=")[0] for p in doc.split("(", 1)[1].split(")", 1)[0].split(",")
            if p.strip()]


@pytest.mark.parametrize("backend", ["cpu", "cuda"])
def test_backend_registers_exactly_the_contract(backend):
    registry = cpu.REGISTRY if backend == "cpu" else _cuda_registry()
    declared = set(contract.KERNELS)
    registered = set(registry.kernels)
    assert not declared - registered, f"{backend} lacks {sorted(declared - registered)}"
    assert not registered - declared, f"{backend} has undeclared {sorted(registered - declared)}"


@pytest.mark.parametrize("backend", ["cpu", "cuda"])
@pytest.mark.parametrize("kind", sorted(contract.OP_NAMES))
def test_backend_registers_exactly_the_declared_op_names(backend, kind):
    registry = cpu.REGISTRY if backend == "cpu" else _cuda_registry()
    assert registry.op_names(kind) == set(contract.OP_NAMES[kind])


def test_cpu_kernels_module_exports_the_registry():
    assert cpu.__all__ == sorted(contract.KERNELS)
    for name in contract.KERNELS:
        assert callable(getattr(cpu, name))


def test_every_compute_entry_point_has_a_reference_and_data_movement_has_none():
    compute = set(contract.KERNELS) - contract.DATA_MOVEMENT
    references = set(cpu.REGISTRY.references)
    assert not compute - references, f"no reference kernel for {sorted(compute - references)}"
    assert not references & contract.DATA_MOVEMENT, "data movement is its own reference"
    assert not references - compute, f"undeclared references {sorted(references - compute)}"


def test_cpu_signatures_follow_the_contract():
    for table in (cpu.REGISTRY.kernels, cpu.REGISTRY.references):
        for name, fn in table.items():
            params = list(inspect.signature(fn).parameters)
            documented = _documented_parameters(name)
            assert params[:len(documented)] == documented, (name, params, documented)


def test_cuda_signatures_follow_the_contract():
    for name, fn in _cuda_registry().kernels.items():
        params = list(inspect.signature(fn).parameters)
        documented = _documented_parameters(name)
        assert params[:len(documented)] == documented, (name, params, documented)


def test_use_reference_kernels_switches_the_cpu_module():
    from microtorch.backends import cpu as cpu_package

    before = cpu_package.reference_kernels_enabled()
    try:
        cpu_package.use_reference_kernels(True)
        assert cpu_package.reference_kernels_enabled()
        assert cpu.matmul is cpu.REGISTRY.references["matmul"]
        assert cpu.empty is cpu.REGISTRY.kernels["empty"]      # data movement stays
        cpu_package.use_reference_kernels(False)
        assert cpu.matmul is cpu.REGISTRY.kernels["matmul"]
    finally:
        cpu_package.use_reference_kernels(before)


def test_declaring_a_new_op_name_extends_the_contract():
    contract.declare_binary("add", "a + b")                  # the same declaration again: fine
    with pytest.raises(ValueError):
        contract.declare_binary("add", "something else")
    with pytest.raises(ValueError):
        contract.declare("matmul", "matmul(x) -> y")


def test_registry_refuses_a_second_kernel_for_one_name():
    registry = contract.Registry("test")
    registry.kernel("f")(len)
    with pytest.raises(ValueError):
        registry.kernel("f")(abs)
    codes = registry.codes("binary")
    assert (codes.add("x"), codes.add("y")) == (0, 1)
    assert registry.op_names("binary") == {"x", "y"}
