"""The in-memory data set: features, class indices, class labels and a split."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

import numpy as np

from .splits import make_split

Label = int | str


def fingerprint(X: np.ndarray, y: np.ndarray) -> str:
    """Short, exact fingerprint of a data part: 16 hex digits of a SHA-256.

    Hashed bytes: ``b"bdnn-data-v1"``, then rows and columns as two little-endian int64,
    then ``X`` as C-order little-endian float64, then ``y`` as little-endian int64. Any change
    to a single value, the row order or the shape changes the fingerprint.
    """
    X = np.ascontiguousarray(X, dtype="<f8")
    if X.ndim != 2:
        X = X.reshape(len(X), -1)
    y = np.ascontiguousarray(y, dtype="<i8").reshape(-1)
    h = hashlib.sha256(b"bdnn-data-v1")
    h.update(np.array(X.shape, dtype="<i8").tobytes())
    h.update(X.tobytes())
    h.update(y.tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Split:
    """Row indices (sorted int64) of the training, validation and test parts."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    protocol: str = "none"  # "paper", "test" or "none"
    seed: int = 0

    @classmethod
    def all_train(cls, n: int) -> Split:
        """Every row in training; validation and test empty."""
        empty = np.zeros(0, dtype=np.int64)
        return cls(np.arange(n, dtype=np.int64), empty, empty.copy(), "none", 0)


@dataclass
class Dataset:
    """A classification data set with its split.

    ``X`` is float64 ``[N, d]``; ``y`` holds int64 class indices into ``classes``, whose entries
    are ints for numeric labels and strings otherwise.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    classes: list[Label]
    feature_names: list[str]
    split: Split = field(default=None)  # type: ignore[assignment]  # filled in __post_init__
    source: str = ""

    # Exposed on the class too, so that ``Dataset.fingerprint(X, y)`` works.
    fingerprint = staticmethod(fingerprint)

    def __post_init__(self) -> None:
        self.X = np.ascontiguousarray(self.X, dtype=np.float64)
        self.y = np.ascontiguousarray(self.y, dtype=np.int64)
        if self.X.ndim != 2 or self.y.shape != (self.X.shape[0],):
            raise ValueError(f"X {self.X.shape} and y {self.y.shape} do not match")
        if len(self.feature_names) != self.X.shape[1]:
            raise ValueError("one feature name per column is needed")
        if len(self.y) and (self.y.min() < 0 or self.y.max() >= len(self.classes)):
            raise ValueError("class index out of range")
        if self.split is None:
            self.split = Split.all_train(len(self.y))

    # -- sizes ---------------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    # -- the split -------------------------------------------------------------------------
    @property
    def train(self) -> np.ndarray:
        return self.split.train

    @property
    def val(self) -> np.ndarray:
        return self.split.val

    @property
    def test(self) -> np.ndarray:
        return self.split.test

    def part(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` of ``"train"``, ``"val"``, ``"test"`` or ``"all"``."""
        if which == "all":
            return self.X, self.y
        idx = {"train": self.train, "val": self.val, "test": self.test}[which]
        return self.X[idx], self.y[idx]

    def train_part(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` of the training rows."""
        return self.part("train")

    def val_part(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` of the validation rows (may be empty)."""
        return self.part("val")

    def test_part(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` of the test rows (may be empty)."""
        return self.part("test")

    def class_counts(self, which: str = "all") -> list[int]:
        """Rows per class (in ``classes`` order) in one part."""
        _, y = self.part(which)
        return np.bincount(y, minlength=self.n_classes).astype(int).tolist()

    def with_split(self, protocol: str, seed: int = 0, test_fraction: float = 0.25) -> Dataset:
        """The same data with a new split (``"paper"``, ``"test"`` or ``"none"``).

        Use it for the paper's repeated protocol: ``[ds.with_split("paper", s) for s in
        range(10)]``. Splits are stratified by class.
        """
        train, val, test = make_split(protocol, self.n_rows, seed, self.y, test_fraction)
        return dataclasses.replace(self, split=Split(train, val, test, protocol, int(seed)))
