"""Training rows as the solver sees them: identical inputs merged, one count per label.

Merging keeps the objective exact (a merged row costs the count of every label it does not
predict) and rows that share an input but differ in label give a free lower bound
(``Objective.lower_bound``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class UniqueRows:
    """Distinct quantized inputs with their label counts."""

    Q: np.ndarray  # int64 [U, n_inputs], distinct rows
    counts: np.ndarray  # int64 [U, n_classes], how often each label occurs with that input
    inverse: np.ndarray  # int64 [N], the unique row of every original row

    @property
    def n_rows(self) -> int:
        return int(self.Q.shape[0])

    def labels_of(self, r: int) -> list[int]:
        """The labels that occur with unique row ``r``."""
        return [int(k) for k in np.flatnonzero(self.counts[r])]



def unique_rows(Q: np.ndarray, y: np.ndarray, n_classes: int) -> UniqueRows:
    """Merge identical input rows of ``Q`` and count their labels ``y`` (class indices)."""
    Q = np.asarray(Q, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    uq, inverse = np.unique(Q, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.zeros((uq.shape[0], n_classes), dtype=np.int64)
    np.add.at(counts, (inverse, y), 1)
    return UniqueRows(uq, counts, inverse)
