"""Turn label strings into class indices and class labels.

Numeric labels (``0``, ``1.0``, ``-1``) become ints and are ordered numerically; any other
labels are kept as strings and ordered as strings. Class index ``k`` is ``classes[k]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import DataError
from .dataset import Label


def _numeric_labels(raw: np.ndarray) -> np.ndarray | None:
    """Labels as float64 if every one is a number, else None."""
    try:
        return raw.astype(np.float64)
    except ValueError:
        return None


def encode_labels(
    raw: np.ndarray, line_numbers: Sequence[int], column: str
) -> tuple[np.ndarray, list[Label]]:
    """Class indices (int64) and sorted class labels for an array of label strings.

    ``line_numbers[i]`` is the file line of ``raw[i]`` and ``column`` names the label
    column; both are only used in error messages.
    """
    raw = np.asarray(raw, dtype=str)
    empty = np.flatnonzero(raw == "")
    if len(empty):
        raise DataError(
            f"empty label on line {line_numbers[empty[0]]} in label column {column}; "
            "fill it in or drop the row"
        )
    values = _numeric_labels(raw)
    if values is None:
        classes, y = np.unique(raw, return_inverse=True)
        return y.astype(np.int64), [str(c) for c in classes]
    # Past 2**53 a float no longer holds every integer exactly: refuse rather than merge labels.
    whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) <= 2.0**53)
    bad = np.flatnonzero(~whole)
    if len(bad):
        i = bad[0]
        raise DataError(
            f"label {str(raw[i])!r} on line {line_numbers[i]} (label column {column}) is not a "
            "whole number or a class name; bdnn classifies, so labels must be classes "
            "(check the label column)"
        )
    classes, y = np.unique(values.astype(np.int64), return_inverse=True)
    return y.astype(np.int64), [int(c) for c in classes]


def map_to_classes(
    y: np.ndarray, found: Sequence[Label], wanted: Sequence[Label], source: str
) -> np.ndarray:
    """Re-index ``y`` (indices into ``found``) onto a given class list ``wanted``.

    Labels are matched by their text (``1`` matches ``"1"``), so a model's class list can
    be applied to a file that holds only some of the classes.
    """
    position = {str(c): k for k, c in enumerate(wanted)}
    missing = [c for c in found if str(c) not in position]
    if missing:
        raise DataError(
            f"{source} has label(s) {', '.join(map(repr, missing[:5]))} that are not among the "
            f"expected classes {list(wanted)}; use data with the model's classes"
        )
    table = np.array([position[str(c)] for c in found], dtype=np.int64)
    return table[y] if len(y) else y.astype(np.int64)
