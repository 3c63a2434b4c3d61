"""Seeded train/validation/test splits as sorted index arrays.

The paper's protocol (Kurtz & Bah 2021) is 50/25/25 train/validation/test over 10 random
splits. Sizes are fixed by ``n`` alone: validation and test get ``n // 4`` rows each and
training the rest (so training is never smaller than half). With labels ``y`` the split is
stratified: every class is spread over the parts in proportion, within one row.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

#: Split protocols understood by :func:`make_split` (``"default"`` is resolved by the loader).
SPLIT_PROTOCOLS = ("paper", "test", "none")

#: Fewest rows each protocol can split so that every non-empty part gets at least one row.
MIN_ROWS = {"paper": 4, "test": 2, "none": 1}


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"split seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_rows(n: int, protocol: str) -> None:
    need = MIN_ROWS[protocol]
    if n < need:
        raise DataError(
            f"{n} row(s) are too few for the {protocol!r} split, which needs at least {need}; "
            "add rows or use split 'none' (all rows train)"
        )


def _ordered_rows(n: int, rng: np.random.Generator, y: np.ndarray | None) -> np.ndarray:
    """A random order of the rows; with labels, grouped by class (random inside a class).

    Picking evenly spaced positions from this order then gives a stratified sample.
    """
    perm = rng.permutation(n)
    if y is None:
        return perm
    y = np.asarray(y)
    if y.shape != (n,):
        raise DataError(f"labels have shape {y.shape}, expected ({n},)")
    return perm[np.argsort(y[perm], kind="stable")]


def _spaced_take(order: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``order`` into ``k`` evenly spaced elements and the rest (systematic sampling)."""
    m = len(order)
    i = np.arange(m)
    picked = (i + 1) * k // m > i * k // m  # exactly k positions, spread over the order
    return order[picked], order[~picked]


def paper_split(
    n: int, seed: int, y: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's 50/25/25 split of ``n`` rows: ``(train, val, test)`` sorted int64 indices.

    ``val`` and ``test`` get ``n // 4`` rows each, ``train`` the rest. Deterministic for a
    seed; stratified by class when ``y`` is given. Needs ``n >= 4``.
    """
    seed = _check_seed(seed)
    _check_rows(n, "paper")
    order = _ordered_rows(n, np.random.default_rng(seed), y)
    val, rest = _spaced_take(order, n // 4)
    test, train = _spaced_take(rest, n // 4)
    return _sorted(train), _sorted(val), _sorted(test)


def train_test_split(
    n: int, test_fraction: float, seed: int, y: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A plain train/test split: ``(train, test)`` sorted int64 indices.

    The test part has ``floor(n * test_fraction + 0.5)`` rows, kept within ``1..n-1``.
    Deterministic for a seed; stratified by class when ``y`` is given. Needs ``n >= 2``.
    """
    seed = _check_seed(seed)
    try:
        frac = float(test_fraction)
    except (TypeError, ValueError):
        frac = float("nan")
    if not 0.0 < frac < 1.0:
        raise DataError(
            f"test fraction must be strictly between 0 and 1, got {test_fraction!r}; e.g. 0.25"
        )
    _check_rows(n, "test")
    n_test = min(n - 1, max(1, int(np.floor(n * frac + 0.5))))
    order = _ordered_rows(n, np.random.default_rng(seed), y)
    test, train = _spaced_take(order, n_test)
    return _sorted(train), _sorted(test)


def make_split(
    protocol: str,
    n: int,
    seed: int = 0,
    y: np.ndarray | None = None,
    test_fraction: float = 0.25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(train, val, test)`` for a protocol name: ``"paper"``, ``"test"`` or ``"none"``."""
    if protocol == "paper":
        return paper_split(n, seed, y)
    empty = np.zeros(0, dtype=np.int64)
    if protocol == "test":
        train, test = train_test_split(n, test_fraction, seed, y)
        return train, empty, test
    if protocol == "none":
        _check_rows(n, "none")
        return np.arange(n, dtype=np.int64), empty, empty.copy()
    raise DataError(
        f"unknown split {protocol!r}; use one of: default, " + ", ".join(SPLIT_PROTOCOLS)
    )


def _sorted(idx: np.ndarray) -> np.ndarray:
    return np.sort(idx).astype(np.int64)
