"""Verification backends: each module runs a network on quantized inputs its own way.

A backend module defines ``name`` (str), ``description`` (str), ``available() -> (bool, reason)``
and ``run(net, Q) -> ForwardResult`` (classes, scores, hidden bits; ``preactivations`` unused).
Register a new backend (e.g. Cortex-M under QEMU, AVR under simavr) by adding its module path to
``BACKEND_MODULES``; ``bdnn verify`` picks it up by name.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from bdnn.errors import BDNNError

BACKEND_MODULES = [
    "codegen.backends.numpy_ref",
    "codegen.backends.onnxruntime_backend",
    "codegen.backends.onnx_reference",
    "codegen.backends.c_host",
    "codegen.backends.cortex_m",
    "codegen.backends.avr",
]
REFERENCE = "numpy"


def all_backends() -> dict[str, ModuleType]:
    """Every registered backend by name, in registration order.

    A module may provide several backends (one per target) in a ``BACKENDS`` list.
    """
    out: dict[str, ModuleType] = {}
    for path in BACKEND_MODULES:
        module = importlib.import_module(path)
        for backend in getattr(module, "BACKENDS", [module]):
            out[backend.name] = backend
    return out


def get_backends(names: list[str]) -> list[ModuleType]:
    """The backends called ``names``; raise ``BDNNError`` for an unknown name."""
    known = all_backends()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BDNNError(
            f"unknown backend {unknown[0]!r}; choose from {', '.join(known)}"
        )
    return [known[n] for n in names]
