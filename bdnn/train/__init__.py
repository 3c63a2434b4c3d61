"""Trainers: the exact CP-SAT model and the paper's heuristics built on it.

The names below are imported on first use, so that light modules (``bdnn.train.limits``) can be
imported without loading OR-Tools.
"""

from importlib import import_module

_LAZY = {"SolveOptions": ".solver", "TrainProblem": ".problem", "TrainResult": ".result",
         "train_exact": ".exact", "train_network": ".methods"}

__all__ = ["SolveOptions", "TrainProblem", "TrainResult", "train_exact", "train_network"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bdnn.train' has no attribute {name!r}")
