"""Hidden activations: how the next layer reads a hidden unit's bit (docs/design.md §2, §7).

Every hidden unit outputs the bit ``h = [a >= 0]``. An activation says which integer the next
layer reads for that bit: ``x = scale * h + shift``, i.e. ``low`` for 0 and ``high`` for 1. The
pre-activation of the next layer is then ``W x + b = scale * (W h) + (shift * sum(W) + b)``, so
every backend computes ``W h`` on bits and folds the rest into one integer per unit
(:meth:`Activation.fold`). This record is the one definition the numpy reference, the CP-SAT
model, coordinate descent, the float start, the robust attacks and the exporters read; a new
activation is one more entry in ``ACTIVATIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .records import NamedRecord, lookup


@dataclass(frozen=True, eq=False)
class Activation(NamedRecord):
    """A hidden activation: the values ``low`` (bit 0) and ``high`` (bit 1) the next layer reads."""

    name: str
    low: int
    high: int
    description: str

    @property
    def scale(self) -> int:
        """``high - low``: the factor on ``W h`` in the next layer."""
        return self.high - self.low

    @property
    def shift(self) -> int:
        """``low``: the value of an off bit."""
        return self.low

    @property
    def input_range(self) -> tuple[int, int]:
        """The range of values the next layer reads."""
        return self.low, self.high

    def read(self, h: np.ndarray) -> np.ndarray:
        """The next layer's input for bits ``h`` (int64 {0,1} arrays in, int64 out)."""
        h = np.asarray(h, dtype=np.int64)
        return h if (self.scale, self.shift) == (1, 0) else self.scale * h + self.shift

    def read_bit(self, bit: int) -> int:
        """The next layer's input for one bit."""
        return self.scale * int(bit) + self.shift

    def fold(self, weights: np.ndarray, bias: np.ndarray) -> tuple[int, np.ndarray]:
        """``(scale, folded_bias)`` with ``W x + b == scale * (W h) + folded_bias`` per unit."""
        W = np.asarray(weights, dtype=np.int64)
        return self.scale, np.asarray(bias, dtype=np.int64) + self.shift * W.sum(axis=1)


HEAVISIDE = Activation("heaviside", 0, 1, "the bit itself, {0, 1} (Kurtz & Bah)")
SIGN = Activation("sign", -1, 1, "the bit read as -1 / +1")

ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (HEAVISIDE, SIGN)}


def get_activation(activation: str | Activation) -> Activation:
    """The activation named ``activation`` (a record passes through); unknown names raise
    ``BDNNError`` listing the known ones."""
    return lookup(ACTIVATIONS, activation, Activation, "activation")
