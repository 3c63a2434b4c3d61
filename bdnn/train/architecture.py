"""The shape of the network a trainer searches over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..activation import Activation, get_activation
from ..errors import BDNNError
from ..network import Network
from ..output_kind import OutputKind, get_output_kind


@dataclass(frozen=True)
class Architecture:
    """Layer widths, weight bounds and conventions of a BDNN to be trained."""

    n_inputs: int
    hidden: tuple[int, ...]
    n_classes: int
    weight_bounds: tuple[int, ...]  # one per layer, output layer last
    max_level: int  # largest quantized input value L
    activation: Activation | str = "heaviside"  # a name is turned into its record
    output: OutputKind | str = "argmax"

    def __post_init__(self) -> None:
        object.__setattr__(self, "activation", get_activation(self.activation))
        object.__setattr__(self, "output", get_output_kind(self.output))
        if not self.hidden:
            raise BDNNError("give at least one hidden layer, e.g. --hidden 4")
        if any(int(w) < 1 for w in self.hidden):
            raise BDNNError(f"hidden layer widths must be >= 1, got {list(self.hidden)}")
        if len(self.weight_bounds) != len(self.hidden) + 1:
            raise BDNNError("give one weight bound per layer (hidden layers and output)")
        if any(int(w) < 1 for w in self.weight_bounds):
            raise BDNNError(f"weight bound must be >= 1, got {min(self.weight_bounds)}")
        self.output.check_classes(self.n_classes)
        if self.n_classes < 2:
            raise BDNNError("training needs at least 2 classes")

    @property
    def widths(self) -> list[int]:
        """Input width, hidden widths, output width."""
        return [self.n_inputs, *self.hidden, self.n_outputs]

    @property
    def n_outputs(self) -> int:
        return self.output.n_outputs(self.n_classes)

    @property
    def n_layers(self) -> int:
        return len(self.hidden) + 1

    def describe(self) -> str:
        """Shape and conventions, e.g. ``4-[3]-3 (heaviside, argmax)``."""
        return (f"{self.n_inputs}-{list(self.hidden)}-{self.n_outputs} "
                f"({self.activation}, {self.output})")

    @classmethod
    def for_training(cls, Q: np.ndarray, y: np.ndarray, *, max_level: int, n_classes: int,
                     hidden: Sequence[int], weight_bound: int | Sequence[int],
                     activation: Activation | str,
                     output: OutputKind | str) -> Architecture:
        """The architecture every trainer builds from its arguments (one weight bound for all
        layers or one per layer), after checking that the labels hold two classes."""
        bounds = ((int(weight_bound),) * (len(hidden) + 1) if np.isscalar(weight_bound)
                  else tuple(int(w) for w in weight_bound))
        arch = cls(n_inputs=int(np.shape(Q)[1]), hidden=tuple(int(h) for h in hidden),
                   n_classes=int(n_classes), weight_bounds=bounds, max_level=int(max_level),
                   activation=activation, output=output)
        if len(np.unique(y)) < 2:
            raise BDNNError("the training data hold a single class; a classifier needs at "
                            "least 2")
        return arch

    @classmethod
    def of(cls, net: Network) -> Architecture:
        """The architecture of an existing network."""
        return cls(
            n_inputs=net.n_inputs,
            hidden=net.hidden_widths,
            n_classes=net.n_classes,
            weight_bounds=tuple(int(layer.weight_bound) for layer in net.layers),
            max_level=net.quantizer.max_level,
            activation=net.activation,
            output=net.output,
        )

    def check_compatible(self, net: Network) -> None:
        """Raise unless ``net`` has exactly this shape (for warm starts)."""
        other = Architecture.of(net)
        if (other.n_inputs, other.hidden, other.n_outputs, other.activation, other.output) != (
            self.n_inputs, self.hidden, self.n_outputs, self.activation, self.output
        ):
            raise BDNNError(
                f"warm-start model has shape {other.describe()}, the training asks for "
                f"{self.describe()}"
            )
        for i, layer in enumerate(net.layers):
            wmax = int(abs(layer.weights).max()) if layer.weights.size else 0
            if wmax > self.weight_bounds[i]:
                raise BDNNError(
                    f"warm-start model has weight {wmax} in layer {i}, above the bound "
                    f"{self.weight_bounds[i]} asked for"
                )
