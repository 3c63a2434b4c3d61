"""Verification backends: each runs a network on quantized inputs its own way.

A backend has ``name`` (str), ``description`` (str), ``available() -> (bool, reason)`` and
``run(net, Q) -> ForwardResult`` (classes, scores, hidden bits; ``preactivations`` unused)
and, if it has a float API, ``run_float(net, X) -> (classes, levels)`` (``NAME_predict`` and
``NAME_quantize`` of float rows).
The host backends are modules listed in ``BACKEND_MODULES``; the microcontroller backends
(``firmware.FirmwareBackend``) are derived from the target table, one per target, so a new
target needs no change here. ``bdnn verify`` picks them up by name.
"""

from __future__ import annotations

import importlib
from typing import Protocol

import numpy as np

from bdnn.errors import BDNNError
from bdnn.network import ForwardResult, Network

BACKEND_MODULES = [
    "codegen.backends.numpy_ref",
    "codegen.backends.onnxruntime_backend",
    "codegen.backends.onnx_reference",
    "codegen.backends.c_host",
    "codegen.backends.c_host_code",
]
REFERENCE = "numpy"


class Backend(Protocol):
    """What ``bdnn verify`` needs of a backend (a module or an object)."""

    name: str
    description: str

    def available(self) -> tuple[bool, str]: ...

    def run(self, net: Network, Q: np.ndarray) -> ForwardResult: ...


def all_backends() -> dict[str, Backend]:
    """Every backend by name: the host modules in ``BACKEND_MODULES`` order, then one per
    registered microcontroller target in table order."""
    from .firmware import firmware_backends

    out: dict[str, Backend] = {}
    for path in BACKEND_MODULES:
        module = importlib.import_module(path)
        out[module.name] = module
    for backend in firmware_backends():
        out[backend.name] = backend
    return out


def backend_names() -> list[str]:
    """Names of every backend, in the order ``bdnn verify`` runs them."""
    return list(all_backends())


def get_backends(names: list[str]) -> list[Backend]:
    """The backends called ``names``; raise ``BDNNError`` for an unknown name."""
    known = all_backends()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BDNNError(
            f"unknown backend {unknown[0]!r}; choose from {', '.join(known)}"
        )
    return [known[n] for n in names]
