"""bdnn: binarized deep neural networks trained to proven optimality with CP-SAT.

Implements Kurtz & Bah (2021) and exports trained networks to bit-packed C and ONNX.
"""

from .errors import BDNNError, DataError, ModelFileError
from .model_file import load_network, save_network
from .network import ForwardResult, Layer, Network
from .quantizer import Quantizer

__version__ = "0.1.0"

__all__ = [
    "BDNNError",
    "DataError",
    "ModelFileError",
    "ForwardResult",
    "Layer",
    "Network",
    "Quantizer",
    "load_network",
    "save_network",
    "BDNNClassifier",
    "__version__",
]


def __getattr__(name: str):
    # The estimator pulls in scikit-learn and OR-Tools; import it only when asked for.
    if name == "BDNNClassifier":
        from .estimator import BDNNClassifier

        return BDNNClassifier
    raise AttributeError(name)
