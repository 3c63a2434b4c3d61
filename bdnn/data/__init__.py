"""Data sets for bdnn: built-in sets by name, CSV files, seeded splits.

``load_dataset(spec, ...)`` is the entry point; see docs/datasets.md.
"""

from .builtin import BuiltinInfo, builtin_info, builtin_names, load_builtin
from .csv_reader import read_csv
from .dataset import Dataset, Split, fingerprint
from .loader import load_dataset
from .splits import make_split, paper_split, train_test_split
from .uniform import make_uniform

__all__ = [
    "BuiltinInfo",
    "Dataset",
    "Split",
    "builtin_info",
    "builtin_names",
    "fingerprint",
    "load_builtin",
    "load_dataset",
    "make_split",
    "make_uniform",
    "paper_split",
    "read_csv",
    "train_test_split",
]
