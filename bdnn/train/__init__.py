"""Trainers: the exact CP-SAT model and the paper's heuristics built on it."""

from .exact import SolveOptions, train_exact
from .result import TrainResult

__all__ = ["SolveOptions", "TrainResult", "train_exact"]
