"""New random instances built like the paper's ``Uniform_N*_m*`` data sets.

Construction (it matches every shipped instance): row ``i`` is drawn uniformly from
``[0, 10]^n`` with label 1 when ``i % 3 == 0``, from ``[-10, 0]^n`` with label 0 when
``i % 3 == 1``, and from ``[-1, 1]^n`` with a fair random label when ``i % 3 == 2``.
So about a third of the rows are easy positives, a third easy negatives and a third noise
near the origin.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .dataset import Dataset

_MAX_VALUES = 50_000_000  # n_features * n_points; keeps a typo from eating all memory

#: Per row kind (``i % 3``): box low, box high.
BOXES = ((0.0, 10.0), (-10.0, 0.0), (-1.0, 1.0))


def make_uniform(n_features: int, n_points: int, seed: int = 0) -> Dataset:
    """A seeded random instance with ``n_points`` rows and ``n_features`` features.

    Same seed, same data (NumPy ``default_rng``). Every row is in the training part; the
    caller chooses the split. Name: ``uniform-gen:{n_features}:{n_points}:{seed}``.
    """
    _check_int("number of features", n_features, 1)
    _check_int("number of points", n_points, 1)
    _check_int("seed", seed, 0)
    if n_features * n_points > _MAX_VALUES:
        raise DataError(
            f"uniform generator: {n_points} x {n_features} is too large "
            f"(at most {_MAX_VALUES:,} values); use fewer points or features"
        )
    rng = np.random.default_rng(int(seed))
    kind = np.arange(n_points) % 3
    low = np.array([b[0] for b in BOXES])[kind][:, None]
    high = np.array([b[1] for b in BOXES])[kind][:, None]
    X = low + (high - low) * rng.random((n_points, n_features))
    noise_labels = rng.integers(0, 2, size=n_points)
    y = np.where(kind == 0, 1, np.where(kind == 1, 0, noise_labels)).astype(np.int64)
    return Dataset(
        name=f"uniform-gen:{n_features}:{n_points}:{seed}",
        X=X,
        y=y,
        classes=[0, 1],
        feature_names=[f"x{j}" for j in range(n_features)],
        source="generated (Kurtz & Bah 2021 uniform construction)",
    )


def _check_int(what: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise DataError(f"uniform generator: {what} must be an integer >= {low}, got {value!r}")
