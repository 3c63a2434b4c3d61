"""Output conventions: how the output layer's integer scores become a class (docs/design.md §2, §7).

``argmax``: one score per class, the class is the argmax with the lowest index winning ties
(numpy, onnxruntime's ``ArgMax`` and a C loop with strict ``>`` agree). ``single``: one score for a
2-class problem, class 1 iff ``s >= 0``. This record is the one definition every trainer,
objective and exporter reads; a new convention is one more entry in ``OUTPUT_KINDS``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import BDNNError
from .records import NamedRecord, lookup


@dataclass(frozen=True, eq=False)
class OutputKind(NamedRecord):
    """An output convention: how many output units, how scores become a class index."""

    name: str
    one_unit: bool  # one score for 2 classes (else one score per class)
    description: str

    def n_outputs(self, n_classes: int) -> int:
        """Output units for ``n_classes`` classes."""
        return 1 if self.one_unit else int(n_classes)

    def check_classes(self, n_classes: int) -> None:
        """Raise ``BDNNError`` unless the convention can express ``n_classes`` classes."""
        if self.one_unit and n_classes != 2:
            raise BDNNError("a single output unit needs a 2-class problem; use --output argmax")

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """Class indices (int64 [N]) of integer scores [N, n_outputs]."""
        scores = np.asarray(scores)
        if self.one_unit:
            return (scores[:, 0] >= 0).astype(np.int64)
        return np.argmax(scores, axis=1).astype(np.int64)  # lowest index wins ties

    def target_bits(self, y: np.ndarray, n_outputs: int) -> np.ndarray:
        """The output bits a correct row has (the Hamming loss's target): one-hot class for
        argmax, the class itself for a single unit."""
        y = np.asarray(y, dtype=np.int64)
        bits = np.zeros((len(y), n_outputs), dtype=np.int64)
        if self.one_unit:
            bits[:, 0] = y == 1
        else:
            bits[np.arange(len(y)), y] = 1
        return bits


ARGMAX = OutputKind("argmax", False, "one score per class; argmax, lowest index wins ties")
SINGLE = OutputKind("single", True, "one score for 2 classes; class 1 iff score >= 0")

OUTPUT_KINDS: dict[str, OutputKind] = {k.name: k for k in (ARGMAX, SINGLE)}


def get_output_kind(output: str | OutputKind) -> OutputKind:
    """The output convention named ``output`` (a record passes through)."""
    return lookup(OUTPUT_KINDS, output, OutputKind, "output")
