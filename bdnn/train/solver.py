"""CP-SAT as every trainer runs it: options, the configured solver, status names, progress.

Shared by the exact trainer, local search and the data split (docs/design.md §4).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from ..errors import BDNNError
from .progress import ProgressPrinter
from .safe_solver import SafeSolver


@dataclass
class SolveOptions:
    """How CP-SAT runs: budget, parallelism, reproducibility, output."""

    time_limit: float = 60.0
    workers: int = 2
    seed: int = 0
    deterministic: bool = False
    progress: bool = True
    label: str = "exact"
    extra_parameters: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.time_limit > 0:
            raise BDNNError(f"time limit must be > 0 seconds, got {self.time_limit}")
        if int(self.workers) < 1:
            raise BDNNError(f"workers must be >= 1, got {self.workers}")


STATUS_NAMES = {
    cp_model.OPTIMAL: "OPTIMAL",
    cp_model.FEASIBLE: "FEASIBLE",
    cp_model.INFEASIBLE: "INFEASIBLE",
    cp_model.MODEL_INVALID: "MODEL_INVALID",
    cp_model.UNKNOWN: "UNKNOWN",
}


def status_name(status: int) -> str:
    """CP-SAT's name for a status code."""
    return STATUS_NAMES.get(status, str(status))


def found_solution(status: int) -> bool:
    """True when CP-SAT returned a network (optimal or not)."""
    return status in (cp_model.OPTIMAL, cp_model.FEASIBLE)


def data_fingerprint(Q: np.ndarray, y: np.ndarray) -> str:
    """Short hash of the exact training data the solver saw (quantized inputs and labels)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.asarray(Q, dtype=np.uint8)).tobytes())
    h.update(np.ascontiguousarray(np.asarray(y, dtype=np.int64)).tobytes())
    return h.hexdigest()[:16]


def make_solver(opts: SolveOptions, time_limit: float) -> SafeSolver:
    """A CP-SAT solver configured for ``opts`` with ``time_limit`` seconds.

    It runs each solve in a child process (see ``safe_solver``) and has CpSolver's interface.
    """
    solver = SafeSolver()
    p = solver.parameters
    p.num_workers = int(opts.workers)
    p.random_seed = int(opts.seed)
    # Ctrl-C stops the search and keeps the best solution (a forked solve's child does this
    # itself: safe_solver.StoppableSolves)
    p.catch_sigint_signal = True
    if opts.deterministic:
        # Deterministic time makes the cut-off reproducible; wall time stays a safety net.
        p.interleave_search = p.num_workers > 1
        p.max_deterministic_time = float(time_limit)
        p.max_time_in_seconds = 10.0 * float(time_limit) + 10.0
    else:
        p.max_time_in_seconds = float(time_limit)
    for key, value in opts.extra_parameters.items():
        if isinstance(value, (list, tuple)):  # a repeated field: no assignment, only extend
            getattr(p, key).clear()
            getattr(p, key).extend(value)
        else:
            setattr(p, key, value)
    return solver


def solve_model(model: cp_model.CpModel, opts: SolveOptions, time_limit: float,
                label: str) -> tuple[SafeSolver, int, ProgressPrinter]:
    """Solve ``model`` with progress output; returns solver, status and the printer."""
    solver = make_solver(opts, time_limit)
    printer = ProgressPrinter(label=label, enabled=opts.progress)
    solver.best_bound_callback = printer.on_bound
    status = solver.Solve(model, printer)
    printer.finish(solver, status_name(status))
    return solver, status, printer
