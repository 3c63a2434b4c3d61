"""Lowering a :class:`Network` to the integer form every exporter emits.

For each layer the plan holds the packed weight bit-planes, one integer threshold per hidden
neuron (bias and sign activation folded in), the output offsets, and the accumulator type chosen
from ``Network.preactivation_bound`` (a model whose bound does not fit is refused, naming the
layer). The C templates, the ONNX exporter and the size report all read this one plan.

Folding (``acc = W . h`` with ``h`` the {0,1} bits of the previous layer, or the quantized inputs
for layer 0):

* heaviside input: ``a = acc + b``; unit on iff ``acc >= -b``; scores ``acc + b``.
* sign input (``x = 2h - 1``): ``a = 2 acc - sum(W) + b``; unit on iff
  ``acc >= ceil((sum(W) - b) / 2)``; scores ``2 acc + (b - sum(W))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bdnn.errors import BDNNError
from bdnn.network import Network

from .bitpack import check_word_bits, n_planes, n_words, plane_weights, weight_bit_planes

INT16_MAX = 2**15 - 1
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class LayerPlan:
    """One layer in exported form."""

    index: int
    n_in: int
    n_out: int
    weight_bound: int
    is_output: bool
    input_planes: int  # bit-planes of the input: quantizer bits for layer 0, else 1
    n_planes: int  # weight bit-planes
    plane_weights: tuple[int, ...]
    n_words: int  # words per plane (n_in bits)
    planes: np.ndarray  # uint64 [n_out, n_planes, n_words]
    acc_bits: int  # 16 or 32: accumulator type int{acc_bits}_t
    bound: int  # Network.preactivation_bound(index)
    thresholds: np.ndarray  # int64 [n_out] hidden: unit on iff acc >= threshold
    score_scale: int  # output: scores = score_scale * acc + offsets
    offsets: np.ndarray  # int64 [n_out] (output layer)
    const_bits: int  # 16 or 32: storage type of thresholds / offsets

    @property
    def constants(self) -> np.ndarray:
        """Thresholds (hidden layer) or score offsets (output layer)."""
        return self.offsets if self.is_output else self.thresholds


@dataclass(frozen=True)
class ModelPlan:
    """A network lowered for export with ``word_bits``-bit words."""

    net: Network
    word_bits: int
    layers: tuple[LayerPlan, ...]

    @property
    def hidden(self) -> tuple[LayerPlan, ...]:
        return self.layers[:-1]

    @property
    def output(self) -> LayerPlan:
        return self.layers[-1]

    @property
    def word_bytes(self) -> int:
        return self.word_bits // 8

    def weight_bytes(self, layer: LayerPlan) -> int:
        return layer.n_out * layer.n_planes * layer.n_words * self.word_bytes

    def constant_bytes(self, layer: LayerPlan) -> int:
        return layer.n_out * layer.const_bits // 8

    def scratch_words(self, layer: LayerPlan) -> int:
        """Words of packed input this layer reads (input bit-planes or the previous layer)."""
        return layer.input_planes * layer.n_words

    @property
    def scratch_bytes(self) -> int:
        """Stack bytes of the packed buffers (all layer inputs; scores and locals excluded)."""
        return sum(self.scratch_words(layer) for layer in self.layers) * self.word_bytes


def _int_type_bits(bound: int, what: str) -> int:
    if bound <= INT16_MAX:
        return 16
    if bound <= INT32_MAX:
        return 32
    raise BDNNError(f"{what}: bound {bound} overflows int32_t; use smaller weights or fewer inputs")


def plan_model(net: Network, word_bits: int = 32) -> ModelPlan:
    """Lower ``net`` for export; raise ``BDNNError`` if an accumulator bound overflows int32."""
    check_word_bits(word_bits)
    layers = []
    n_layers = len(net.layers)
    for i, layer in enumerate(net.layers):
        is_output = i == n_layers - 1
        name = "output layer" if is_output else f"hidden layer {i}"
        bound = int(net.preactivation_bound(i))
        acc_bits = _int_type_bits(bound, f"{name} accumulator")
        W = layer.weights
        sum_w = W.sum(axis=1)
        sign_input = i > 0 and net.activation == "sign"
        if sign_input:
            thresholds = -((layer.bias - sum_w) // 2)  # ceil((sum(W) - b) / 2)
            scale, offsets = 2, layer.bias - sum_w
        else:
            thresholds = -layer.bias
            scale, offsets = 1, layer.bias.copy()
        constants = offsets if is_output else thresholds
        # the folded constants stay within the pre-activation bound, so they fit the accumulator
        assert int(np.abs(constants).max()) <= bound, (name, constants, bound)
        const_bits = 16 if int(np.abs(constants).max()) <= INT16_MAX else 32
        P = n_planes(layer.weight_bound)
        # partial sums: the positive planes and the negative plane are accumulated apart; each
        # is at most 2**(P-1) * n_in * max_input <= 2 w n_in max_input, inside the bound.
        max_input = net.quantizer.levels if i == 0 else 1
        assert (1 << (P - 1)) * layer.n_in * max_input <= bound, (name, P, bound)
        layers.append(
            LayerPlan(
                index=i,
                n_in=layer.n_in,
                n_out=layer.n_out,
                weight_bound=int(layer.weight_bound),
                is_output=is_output,
                input_planes=int(net.quantizer.bits) if i == 0 else 1,
                n_planes=P,
                plane_weights=tuple(plane_weights(P)),
                n_words=n_words(layer.n_in, word_bits),
                planes=weight_bit_planes(W, layer.weight_bound, word_bits),
                acc_bits=acc_bits,
                bound=bound,
                thresholds=np.asarray(thresholds, dtype=np.int64),
                score_scale=scale,
                offsets=np.asarray(offsets, dtype=np.int64),
                const_bits=const_bits,
            )
        )
    return ModelPlan(net=net, word_bits=word_bits, layers=tuple(layers))
