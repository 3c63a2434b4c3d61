"""``load_dataset``: one entry point for built-in names and CSV files, with the split."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from .builtin import is_builtin_name, load_builtin, unknown_name_message
from .csv_reader import read_csv
from .dataset import Dataset, Label, Split
from .labels import map_to_classes
from .splits import make_split

SPLITS = ("default", "paper", "test", "none")


def load_dataset(
    spec: str | Path,
    *,
    label_column: int | str | None = None,
    delimiter: str | None = None,
    split: str = "default",
    seed: int = 0,
    test_fraction: float = 0.25,
    header: bool | None = None,
    classes: Sequence[Label] | None = None,
    allow_single_class: bool = False,
) -> Dataset:
    """Load a built-in data set (by name) or a CSV file (by path) and split it.

    ``split``: ``"paper"`` (50/25/25 train/val/test, stratified, seeded), ``"test"``
    (train/test with ``test_fraction``), ``"none"`` (all rows train) or ``"default"``
    (``"paper"`` for built-in sets, ``"none"`` for CSV files). ``label_column``,
    ``delimiter`` and ``header`` apply to CSV files only (see :func:`read_csv`).
    ``classes``: index the labels by this class list (e.g. a model's classes) instead of by
    the labels found. A data set with a single class is an error unless
    ``allow_single_class`` (e.g. to evaluate a model on rows of one class).
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use one of: {', '.join(SPLITS)}")
    ds, builtin = _read(spec, label_column, delimiter, header)
    if classes is not None:
        ds.y = map_to_classes(ds.y, ds.classes, classes, f"data set {ds.name!r}")
        ds.classes = list(classes)
    present = np.unique(ds.y)
    if len(present) < 2 and not allow_single_class:
        only = ds.classes[int(present[0])] if len(present) else None
        raise DataError(
            f"data set {ds.name!r} has a single class (label {only!r}); a classifier needs at "
            "least 2 classes — check the label column"
        )
    protocol = ("paper" if builtin else "none") if split == "default" else split
    train, val, test = make_split(protocol, ds.n_rows, seed, ds.y, test_fraction)
    return dataclasses.replace(ds, split=Split(train, val, test, protocol, int(seed)))


def _read(
    spec: str | Path, label_column: int | str | None, delimiter: str | None, header: bool | None
) -> tuple[Dataset, bool]:
    """The data set with every row in training, and whether it is built-in."""
    if isinstance(spec, Path):
        return read_csv(spec, label_column=label_column, delimiter=delimiter, header=header), False
    if not isinstance(spec, str) or not spec.strip():
        raise DataError(f"no data set given ({spec!r}); give a built-in name or a CSV path")
    if is_builtin_name(spec):  # a name wins over a file of that name (use ./name for the file)
        csv_only = {"label_column": label_column, "delimiter": delimiter, "header": header}
        given = [k for k, v in csv_only.items() if v is not None]
        if given:
            raise DataError(
                f"{', '.join(given)} applies to CSV files only, not to the built-in set {spec!r}"
            )
        return load_builtin(spec), True
    if Path(spec).exists() or _looks_like_path(spec):
        return read_csv(spec, label_column=label_column, delimiter=delimiter, header=header), False
    raise DataError(unknown_name_message(spec))


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or "\\" in spec or "." in Path(spec).name
