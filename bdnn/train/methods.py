"""One entry point over every training method (``--method``)."""

from __future__ import annotations

import numpy as np

from ..errors import BDNNError
from ..network import Network
from ..quantizer import Quantizer
from .exact import SolveOptions, train_exact
from .result import TrainResult

METHODS = ("exact",)


def train_network(
    method: str,
    Q: np.ndarray,
    y: np.ndarray,
    *,
    quantizer: Quantizer,
    classes: list,
    hidden: tuple[int, ...],
    weight_bound: int = 1,
    activation: str = "heaviside",
    output: str = "argmax",
    objective: str = "errors",
    sparsify: bool = False,
    warm_start: Network | None = None,
    solve: SolveOptions | None = None,
    Q_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
) -> TrainResult:
    """Train with ``method`` on quantized inputs ``Q`` and class indices ``y``."""
    if method not in METHODS:
        raise BDNNError(f"unknown method {method!r}; use one of: {', '.join(METHODS)}")
    return train_exact(
        Q, y, quantizer=quantizer, classes=classes, hidden=hidden, weight_bound=weight_bound,
        activation=activation, output=output, objective=objective, sparsify=sparsify,
        warm_start=warm_start, solve=solve,
    )
