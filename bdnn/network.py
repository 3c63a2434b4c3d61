"""The binarized network and its exact integer forward pass (docs/design.md §2).

This module is the reference every backend (ONNX, C, firmware) is compared against. All
arithmetic is exact int64; the only floating point is the input quantizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .activation import Activation, get_activation
from .errors import BDNNError
from .objective import ERRORS, HAMMING
from .output_kind import OutputKind, get_output_kind
from .quantizer import Quantizer


def _largest_magnitude(a: np.ndarray) -> int:
    """max |a| as a Python integer (``np.abs`` wraps -2**63 around to a negative number)."""
    return max(int(a.max()), -int(a.min())) if a.size else 0


@dataclass(frozen=True)
class Layer:
    """A dense integer layer ``a = W @ h + b`` with weights in ``[-weight_bound, weight_bound]``."""

    weights: np.ndarray  # int64 [n_out, n_in]
    bias: np.ndarray  # int64 [n_out]
    weight_bound: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", np.asarray(self.weights, dtype=np.int64))
        object.__setattr__(self, "bias", np.asarray(self.bias, dtype=np.int64).reshape(-1))
        if self.weights.ndim != 2:
            raise BDNNError("layer weights must be a 2-D matrix [n_out][n_in]")
        if self.bias.shape[0] != self.weights.shape[0]:
            raise BDNNError(
                f"layer has {self.weights.shape[0]} weight rows but {self.bias.shape[0]} biases"
            )
        if int(self.weight_bound) < 1:
            raise BDNNError(f"weight bound must be >= 1, got {self.weight_bound}")
        largest = _largest_magnitude(self.weights)
        if largest > int(self.weight_bound):
            raise BDNNError(
                f"a weight of {largest} exceeds the layer's weight bound {self.weight_bound}"
            )

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weights.shape[0])


@dataclass
class ForwardResult:
    """Everything a backend must reproduce: class index, integer scores and every hidden bit."""

    class_index: np.ndarray  # int64 [N], index into Network.classes (the labels)
    scores: np.ndarray  # int64 [N, n_output_units]
    hidden_bits: list[np.ndarray]  # one uint8 {0,1} array [N, width] per hidden layer
    preactivations: list[np.ndarray] = field(default_factory=list)  # int64, per layer


class Predicts:
    """Sizes and predictions from ``quantizer``, ``classes`` and ``forward_q``, the same for a
    network and an ensemble (``bdnn/ensemble.py``)."""

    @property
    def n_inputs(self) -> int:
        return self.quantizer.n_inputs

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def feature_names(self) -> list[str] | None:
        """The input features' names from the training record (``training["feature_names"]``),
        or None when the record has none (or not one string per input)."""
        names = (self.training or {}).get("feature_names")
        if isinstance(names, list) and len(names) == self.n_inputs:
            return [str(n) for n in names]
        return None

    def forward_q(self, Q: np.ndarray) -> ForwardResult:
        raise NotImplementedError

    def forward(self, X: np.ndarray) -> ForwardResult:
        """Forward pass on raw float features (quantized first)."""
        return self.forward_q(self.quantizer.quantize(X))

    def predict_q(self, Q: np.ndarray) -> np.ndarray:
        """Class indices (into ``classes``) for quantized rows."""
        return self.forward_q(Q).class_index

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices (into ``classes``) for raw float features."""
        return self.forward(X).class_index


@dataclass
class Network(Predicts):
    """A binarized deep neural network: quantizer, hidden layers, output layer, conventions."""

    quantizer: Quantizer
    layers: list[Layer]  # hidden layers followed by the output layer
    classes: list = field(default_factory=lambda: [0, 1])
    activation: Activation | str = "heaviside"  # a name is turned into its record
    output: OutputKind | str = "argmax"
    training: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.activation = get_activation(self.activation)
        self.output = get_output_kind(self.output)
        self.validate()

    # -- structure -------------------------------------------------------------------------
    @property
    def n_outputs(self) -> int:
        """Integer output scores (the output layer's units)."""
        return self.output_layer.n_out

    @property
    def hidden_layers(self) -> list[Layer]:
        return self.layers[:-1]

    @property
    def output_layer(self) -> Layer:
        return self.layers[-1]

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return tuple(layer.n_out for layer in self.hidden_layers)

    def input_range(self, index: int) -> tuple[int, int]:
        """The value range ``(lo, hi)`` of the inputs of layer ``index``: ``(0, max_level)`` for
        the quantized inputs, ``(0, 1)`` for heaviside hidden bits, ``(-1, 1)`` for sign. ``hi``
        is the largest input of the layer in every case (the exporters read it)."""
        if index == 0:
            return 0, self.quantizer.max_level
        return self.activation.input_range

    def bias_bound(self, index: int) -> int:
        """Largest useful |bias| of layer ``index``: beyond it the unit is constant
        (docs/design.md §2)."""
        layer = self.layers[index]
        return layer_bias_bound(layer.weight_bound, layer.n_in, self.input_range(index))

    def preactivation_bound(self, index: int) -> int:
        """A bound on |W h + b| of layer ``index`` over every possible input (not only data)."""
        return 2 * self.bias_bound(index)

    def validate(self) -> None:
        """Raise ``BDNNError`` on any inconsistency in shapes, bounds or conventions."""
        self.activation = get_activation(self.activation)
        self.output = get_output_kind(self.output)
        if len(self.layers) < 2:
            raise BDNNError("a network needs at least one hidden layer and an output layer")
        if self.n_classes < 2:
            raise BDNNError(f"a network needs at least 2 classes, got {self.n_classes}")
        if len({str(c) for c in self.classes}) != self.n_classes:
            raise BDNNError("class labels must be distinct")
        n_in = self.n_inputs
        for i, layer in enumerate(self.layers):
            if layer.n_in != n_in:
                raise BDNNError(f"layer {i} takes {layer.n_in} inputs but receives {n_in}")
            if layer.n_out < 1:
                raise BDNNError(f"layer {i} has no units")
            bound = self.bias_bound(i)
            if _largest_magnitude(layer.bias) > bound:
                raise BDNNError(f"layer {i} has a bias beyond its bound {bound}")
            n_in = layer.n_out
        expected = self.output.n_outputs(self.n_classes)
        self.output.check_classes(self.n_classes)
        if self.output_layer.n_out != expected:
            raise BDNNError(
                f"output layer has {self.output_layer.n_out} units, expected {expected} "
                f"for {self.n_classes} classes with output {self.output.name!r}"
            )

    # -- inference -------------------------------------------------------------------------
    def forward_q(self, Q: np.ndarray) -> ForwardResult:
        """Exact forward pass on quantized inputs ``Q`` [N, n_inputs]: integers >= 0, where a
        code above ``L`` (max_level) counts as ``L``, as in the C and ONNX exports."""
        Q = np.asarray(Q)
        if Q.ndim == 1:
            Q = Q.reshape(1, -1)
        if Q.ndim != 2 or Q.shape[1] != self.n_inputs:
            raise BDNNError(f"data has {Q.shape[-1]} features, the model expects {self.n_inputs}")
        if Q.size and Q.min() < 0:
            raise BDNNError(
                "quantized inputs must be >= 0 (codes above "
                f"{self.quantizer.max_level} count as {self.quantizer.max_level})"
            )
        h = np.minimum(Q.astype(np.int64), self.quantizer.max_level)  # one rule: clamp above L
        hidden_bits: list[np.ndarray] = []
        pre: list[np.ndarray] = []
        for i, layer in enumerate(self.layers):
            x = h if i == 0 else self.activation.read(h)
            a = x @ layer.weights.T + layer.bias
            pre.append(a)
            if i < len(self.layers) - 1:
                h = (a >= 0).astype(np.int64)
                hidden_bits.append(h.astype(np.uint8))
        scores = pre[-1]
        return ForwardResult(self.output.predict(scores), scores, hidden_bits, pre)

    # -- statistics ------------------------------------------------------------------------
    def n_weights(self) -> int:
        return int(sum(layer.weights.size for layer in self.layers))

    def n_nonzero_weights(self) -> int:
        return int(sum(np.count_nonzero(layer.weights) for layer in self.layers))

    def inputs_read(self) -> list[int]:
        """The inputs the network reads: those with a non-zero weight in the first layer (the
        others never change its output)."""
        return [int(j) for j in np.flatnonzero(np.any(self.layers[0].weights != 0, axis=0))]


def layer_bias_bound(weight_bound: int, n_in: int, input_range: tuple[int, int]) -> int:
    """Largest useful |bias| of a layer with weights in ``[-weight_bound, weight_bound]`` on
    ``n_in`` inputs in ``input_range``: beyond it the unit is constant on every input."""
    lo, hi = input_range
    return int(weight_bound) * int(n_in) * max(abs(lo), abs(hi)) + 1


def errors_of(net: Network, Q: np.ndarray, y: np.ndarray) -> int:
    """Number of misclassified rows (y are class indices)."""
    return ERRORS.loss(net, Q, y)


def hamming_loss_of(net: Network, Q: np.ndarray, y: np.ndarray) -> int:
    """The paper's Hamming loss: output bits ``s >= 0`` against the one-hot label."""
    return HAMMING.loss(net, Q, y)


def random_network(
    rng: np.random.Generator,
    n_inputs: int,
    hidden: Sequence[int],
    n_classes: int,
    weight_bound: int | Sequence[int] = 1,
    activation: Activation | str = "heaviside",
    output: OutputKind | str = "argmax",
    bits: int = 4,
) -> Network:
    """A network with uniformly random weights and biases within their bounds (for tests)."""
    act = get_activation(activation)
    widths = [n_inputs, *hidden, get_output_kind(output).n_outputs(n_classes)]
    bounds = (
        [int(weight_bound)] * (len(widths) - 1)
        if np.isscalar(weight_bound)
        else [int(b) for b in weight_bound]
    )
    max_level = (1 << bits) - 1
    layers = []
    for i in range(len(widths) - 1):
        w = bounds[i]
        W = rng.integers(-w, w + 1, size=(widths[i + 1], widths[i]))
        lo, hi = (0, max_level) if i == 0 else act.input_range
        scale = max(abs(lo), abs(hi))
        # biases around the middle of the pre-activation range, so units fire about half the time
        centre = -(W.sum(axis=1) * (lo + hi)) // 2
        spread = max(1, w * widths[i] * scale // 4)
        b = centre + rng.integers(-spread, spread + 1, size=widths[i + 1])
        bmax = w * widths[i] * scale + 1
        layers.append(Layer(W, np.clip(b, -bmax, bmax), w))
    return Network(
        Quantizer.identity(n_inputs, bits),
        layers,
        classes=list(range(n_classes)),
        activation=activation,
        output=output,
    )
