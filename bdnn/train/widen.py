"""Warm starts for wide networks from narrower ones.

A network with fewer hidden units becomes one of the wider architecture with the same function:
every added unit is always off (weights 0, bias -1) and the next layer ignores it (weight 0).
Solving the narrow model first is cheap, and its solution is a good hint for the wide one, whose
CP-SAT model is much larger (2^H activation patterns per table).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..network import Layer, Network

NARROW_TIME_SHARE = 0.25  # of the time limit, for the half-width pre-solve


def narrower(hidden: Sequence[int]) -> tuple[int, ...]:
    """Half the width of every hidden layer (rounded up)."""
    return tuple((int(h) + 1) // 2 for h in hidden)


def widen(net: Network, hidden: Sequence[int]) -> Network:
    """``net`` with its hidden layers padded to ``hidden`` by always-off units."""
    if len(hidden) != len(net.hidden_widths) or any(
        h < w for h, w in zip(hidden, net.hidden_widths, strict=True)
    ):
        raise ValueError(f"cannot widen {net.hidden_widths} to {tuple(hidden)}")
    layers = []
    added_inputs = 0
    for i, layer in enumerate(net.layers):
        W = np.hstack([layer.weights, np.zeros((layer.n_out, added_inputs), dtype=np.int64)])
        b = layer.bias
        if i < len(hidden):
            added = int(hidden[i]) - layer.n_out
            W = np.vstack([W, np.zeros((added, W.shape[1]), dtype=np.int64)])
            b = np.concatenate([b, -np.ones(added, dtype=np.int64)])
            added_inputs = added
        layers.append(Layer(W, b, layer.weight_bound))
    return Network(net.quantizer, layers, classes=list(net.classes), activation=net.activation,
                   output=net.output, training=dict(net.training))
