"""Training objectives: the per-row loss every trainer minimises (docs/design.md §2, §4, §7).

An ``Objective`` is the one definition of a training loss. It gives

* ``row_losses(scores, y, output)``: the loss of every row from the output layer's integer
  scores — used by the numpy reference (``loss``), the exact trainer's re-check, coordinate
  descent, local search and the data split;
* ``lower_bound(counts, output)``: the loss no network can avoid because rows with equal
  quantized inputs carry different labels (``counts``: label counts per distinct input);
* the CP-SAT side: which output Booleans the model needs (``class_choice``, ``units_needed``),
  their values for a given network (``output_values``, for hints) and the loss terms of one
  distinct row (``row_terms``).

A new objective is one more subclass and one entry in ``OBJECTIVES``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from .output_kind import OutputKind
from .records import NamedRecord, lookup

if TYPE_CHECKING:
    from .network import Network


class Objective(NamedRecord, ABC):
    """A training loss: a non-negative integer per row, summed over the rows."""

    name: str = ""
    description: str = ""

    # -- the definition ----------------------------------------------------------------
    @abstractmethod
    def row_losses(self, scores: np.ndarray, y: np.ndarray, output: OutputKind) -> np.ndarray:
        """Loss of every row (int64 [N]) for integer output scores [N, n_outputs] and class
        indices ``y``."""

    def loss(self, net: Network, Q: np.ndarray, y: np.ndarray) -> int:
        """The training loss of ``net`` on quantized rows ``Q`` (the numpy forward pass)."""
        return int(self.row_losses(net.forward_q(Q).scores, y, net.output).sum())

    @abstractmethod
    def lower_bound(self, counts: np.ndarray, output: OutputKind) -> int:
        """Loss no network avoids, from label counts per distinct input [U, n_classes]."""

    # -- the CP-SAT model --------------------------------------------------------------
    def class_choice(self, output: OutputKind) -> bool:
        """True when the model's output Booleans are a one-hot class choice (else one bit
        ``s >= 0`` per output unit)."""
        return False

    def units_needed(self, output: OutputKind, labels: list[int], n_outputs: int) -> list[int]:
        """The output Booleans a distinct row's loss depends on (``labels``: its labels)."""
        return list(range(n_outputs))

    def output_values(self, scores: np.ndarray, output: OutputKind) -> np.ndarray:
        """The output Booleans' values for integer scores [N, n_outputs] (for hints)."""
        scores = np.asarray(scores)
        if not self.class_choice(output):
            return (scores >= 0).astype(np.int64)
        onehot = np.zeros_like(scores, dtype=np.int64)
        onehot[np.arange(len(scores)), output.predict(scores)] = 1
        return onehot

    @abstractmethod
    def row_terms(self, model: Any, out: list, counts: np.ndarray,
                  output: OutputKind) -> tuple[list[tuple[int, Any]], int]:
        """``(terms, constant)``: the loss of one distinct row with label counts ``counts``
        as ``sum(coef * var) + constant`` over its output Booleans ``out`` (may add
        constraints to ``model``)."""

class ErrorsObjective(Objective):
    """Misclassified rows."""

    name = "errors"
    description = "misclassified training rows"

    def row_losses(self, scores, y, output):
        return (output.predict(scores) != np.asarray(y)).astype(np.int64)

    def lower_bound(self, counts, output):
        counts = np.asarray(counts, dtype=np.int64)
        return int((counts.sum(axis=1) - counts.max(axis=1, initial=0)).sum())

    def class_choice(self, output):
        return not output.one_unit

    def units_needed(self, output, labels, n_outputs):
        return list(labels) if self.class_choice(output) else list(range(n_outputs))

    def row_terms(self, model, out, counts, output):
        counts = [int(c) for c in counts]
        if output.one_unit:  # out[0] = predicted class 1: costs the class-0 rows, saves class 1
            return [(counts[0] - counts[1], out[0])], counts[1]
        labels = [k for k, c in enumerate(counts) if c]
        terms = [(-counts[k], out[k]) for k in labels]
        if len(labels) > 1:  # at most one of the row's labels is the predicted class
            model.Add(sum(out[k] for k in labels) <= 1)
        return terms, sum(counts)


class HammingObjective(Objective):
    """The paper's Hamming loss: output bits ``s >= 0`` against the label's target bits."""

    name = "hamming"
    description = "output bits s >= 0 against the one-hot label (Kurtz & Bah)"

    def row_losses(self, scores, y, output):
        scores = np.asarray(scores)
        bits = (scores >= 0).astype(np.int64)
        return (bits != output.target_bits(y, scores.shape[1])).sum(axis=1).astype(np.int64)

    def lower_bound(self, counts, output):
        counts = np.asarray(counts, dtype=np.int64)
        if output.one_unit:  # one bit: the minority label of each input is wrong
            return int(np.minimum(counts[:, 0], counts[:, 1]).sum())
        n = counts.sum(axis=1, keepdims=True)  # each bit independently: on costs n - n_k
        return int(np.minimum(counts, n - counts).sum())

    def row_terms(self, model, out, counts, output):
        counts = [int(c) for c in counts]
        if output.one_unit:
            return [(counts[0] - counts[1], out[0])], counts[1]
        n = sum(counts)  # bit k costs (n - n_k) when on, n_k when off
        return [(n - 2 * nk, out[k]) for k, nk in enumerate(counts)], sum(counts)


ERRORS = ErrorsObjective()
HAMMING = HammingObjective()

OBJECTIVES: dict[str, Objective] = {o.name: o for o in (ERRORS, HAMMING)}


def get_objective(objective: str | Objective) -> Objective:
    """The objective named ``objective`` (a record passes through)."""
    return lookup(OBJECTIVES, objective, Objective, "objective")
