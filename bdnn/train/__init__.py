"""Trainers: the exact CP-SAT model and the paper's heuristics built on it."""

from .exact import train_exact
from .methods import train_network
from .problem import TrainProblem
from .result import TrainResult
from .solver import SolveOptions

__all__ = ["SolveOptions", "TrainProblem", "TrainResult", "train_exact", "train_network"]
