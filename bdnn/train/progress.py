"""Progress of a CP-SAT solve on stderr: incumbent, bound, gap, elapsed."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ortools.sat.python import cp_model

from .result import relative_gap


class ProgressPrinter(cp_model.CpSolverSolutionCallback):
    """Prints a line for each improving solution and for bound improvements (throttled)."""

    def __init__(self, label: str = "", stream: TextIO | None = None, enabled: bool = True,
                 offset: float = 0.0) -> None:
        super().__init__()
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.offset = offset  # added to CP-SAT's objective values (constant part of the loss)
        self.start = time.monotonic()
        self.incumbent: float | None = None
        self.bound: float | None = None
        self._last_bound_print = 0.0
        self.n_solutions = 0

    def on_solution_callback(self) -> None:
        self.n_solutions += 1
        self.incumbent = self.ObjectiveValue() + self.offset
        self.bound = max(self.bound or float("-inf"), self.BestObjectiveBound() + self.offset)
        self._print("solution")

    def on_bound(self, bound: float) -> None:
        """Called by CP-SAT (``best_bound_callback``) when the lower bound improves."""
        self.bound = bound + self.offset
        now = time.monotonic()
        if now - self._last_bound_print >= 0.5:
            self._last_bound_print = now
            self._print("bound")

    def finish(self, solver: cp_model.CpSolver, status_name: str) -> None:
        """Final line with the solver's closing incumbent and bound."""
        if self.n_solutions:
            self.incumbent = solver.ObjectiveValue() + self.offset
        self.bound = solver.BestObjectiveBound() + self.offset
        self._print(status_name.lower())

    def _print(self, event: str) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        inc = "-" if self.incumbent is None else f"{self.incumbent:g}"
        bnd = "-" if self.bound is None else f"{self.bound:g}"
        gap = (
            "-"
            if self.incumbent is None or self.bound is None
            else f"{100 * relative_gap(self.incumbent, self.bound):.1f}%"
        )
        prefix = f"[{self.label}] " if self.label else ""
        print(
            f"{prefix}{event:8s} incumbent {inc:>7s}  bound {bnd:>7s}  gap {gap:>6s}  "
            f"elapsed {elapsed:7.1f}s",
            file=self.stream,
            flush=True,
        )
