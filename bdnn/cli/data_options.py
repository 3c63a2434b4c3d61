"""Click options shared by the commands that read a data set (train, evaluate, verify)."""

from __future__ import annotations

from collections.abc import Callable

import click

from ..data import Dataset, load_dataset


def data_options(f: Callable) -> Callable:
    """Add ``--label-column --delimiter --split --test-fraction`` to a command."""
    f = click.option("--test-fraction", type=float, default=0.25, show_default=True,
                     help="Test share for --split test.")(f)
    f = click.option("--split", type=click.Choice(["default", "paper", "test", "none"]),
                     default="default", show_default=True,
                     help="paper = 50/25/25 train/val/test (default for built-in sets); "
                          "none = all rows (default for CSV files).")(f)
    f = click.option("--delimiter", default=None, help="CSV delimiter (detected by default).")(f)
    f = click.option("--label-column", default=None,
                     help="CSV label column: name or index (default: last).")(f)
    return f


def read_data(spec: str, label_column, delimiter, split: str, seed: int, test_fraction: float,
              classes: list | None = None) -> Dataset:
    """Load a built-in set or CSV file with the shared options."""
    if label_column is not None:
        try:
            label_column = int(label_column)
        except ValueError:
            pass
    return load_dataset(spec, label_column=label_column, delimiter=delimiter, split=split,
                        seed=seed, test_fraction=test_fraction, classes=classes,
                        allow_single_class=classes is not None)
