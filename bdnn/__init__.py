"""bdnn: binarized deep neural networks trained to proven optimality with CP-SAT.

Implements Kurtz & Bah (2021) and exports trained networks to bit-packed C and ONNX.

Python API: :class:`BDNNClassifier` (scikit-learn estimator), :func:`load_network` /
:func:`save_network`, and the command line's export, verify and size steps as
:func:`export_c`, :func:`export_onnx`, :func:`export_arduino`, :func:`verify` and :func:`size`.
Everything but the error classes is imported on first use, so ``import bdnn`` is instant (and
the command line can catch Ctrl-C while numpy and OR-Tools load).
"""

from importlib import import_module

from .errors import BDNNError, DataError, ModelFileError

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "ForwardResult": ".network",
    "Layer": ".network",
    "Network": ".network",
    "Quantizer": ".quantizer",
    "load_network": ".model_file",
    "save_network": ".model_file",
    "BDNNClassifier": ".estimator",
    "export_c": ".api",
    "export_onnx": ".api",
    "export_arduino": ".api",
    "verify": ".api",
    "size": ".api",
}

__all__ = ["BDNNError", "DataError", "ModelFileError", *_LAZY, "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bdnn' has no attribute {name!r}")
