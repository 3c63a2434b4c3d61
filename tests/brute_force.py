"""Brute-force optima for tiny training problems, independent of the CP-SAT model.

Hidden-layer-1 units are enumerated as the distinct 0/1 columns they can produce on the rows
(every weight vector in [-w, w]^d and every bias within the model file's bound), then every
combination of columns with every output layer is scored with plain numpy.
"""

from __future__ import annotations

import itertools

import numpy as np


def unit_columns(Q: np.ndarray, w: int, levels: int) -> np.ndarray:
    """All distinct activation columns a first-layer unit can produce on the rows of ``Q``."""
    d = Q.shape[1]
    bmax = w * d * levels + 1
    cols = set()
    for W in itertools.product(range(-w, w + 1), repeat=d):
        a = Q @ np.array(W)
        for b in range(-bmax, bmax + 1):
            cols.add(tuple((a + b >= 0).astype(np.int64)))
    return np.array(sorted(cols), dtype=np.int64)


def best_errors(Q: np.ndarray, y: np.ndarray, hidden: int, n_classes: int, w: int = 1,
                levels: int = 3, objective: str = "errors") -> int:
    """The minimum training loss over every 1-hidden-layer network of width ``hidden``."""
    cols = unit_columns(Q, w, levels)
    wo = w
    bmax = wo * hidden + 1
    out_rows = list(itertools.product(range(-wo, wo + 1), repeat=hidden))
    best = None
    onehot = np.eye(n_classes, dtype=np.int64)[y]
    # A row of output weights and a bias per class, searched jointly.
    unit_params = [(np.array(r), b) for r in out_rows for b in range(-bmax, bmax + 1)]
    for combo in itertools.combinations_with_replacement(range(len(cols)), hidden):
        H = cols[list(combo)].T  # [N, hidden]
        per_unit = np.stack([H @ r + b for r, b in unit_params], axis=1)  # [N, P]
        if n_classes == 2 and objective == "errors":
            # class 1 iff score1 > score0 (ties go to class 0), all pairs at once
            pred1 = per_unit[:, None, :] > per_unit[:, :, None]  # [N, P0, P1]
            loss = int((pred1 != (y[:, None, None] == 1)).sum(axis=0).min())
            if best is None or loss < best:
                best = loss
            continue
        for choice in itertools.product(range(len(unit_params)), repeat=n_classes):
            S = per_unit[:, list(choice)]
            if objective == "errors":
                loss = int(np.sum(np.argmax(S, axis=1) != y))
            else:
                loss = int(np.sum((S >= 0).astype(np.int64) != onehot))
            if best is None or loss < best:
                best = loss
                if best == 0:
                    return 0
    return int(best)
