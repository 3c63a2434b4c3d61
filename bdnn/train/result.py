"""What a training run returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..network import Network


@dataclass
class TrainResult:
    """A trained network with the solver's account of it.

    ``objective`` is the training loss of ``network`` (re-checked by the numpy forward pass),
    ``bound`` the best proven lower bound on the loss of any network of this architecture, and
    ``gap`` = (objective - bound) / max(1, objective).
    """

    network: Network
    status: str  # OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN, ...
    objective: int
    bound: float
    gap: float
    seconds: float
    train_errors: int
    n_train: int
    interrupted: bool = False
    stages: list[dict] = field(default_factory=list)
    origin: str = ""  # where the network came from, in words
    warnings: list[str] = field(default_factory=list)  # what the user should know, a line each

    @property
    def train_accuracy(self) -> float:
        return 1.0 - self.train_errors / max(1, self.n_train)

    def summary(self) -> dict:
        """Machine-readable summary (the CLI's ``--json`` keys)."""
        return {
            "status": self.status,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "seconds": round(self.seconds, 3),
            "train_errors": self.train_errors,
            "train_accuracy": self.train_accuracy,
            "n_train": self.n_train,
            "nonzero_weights": self.network.n_nonzero_weights(),
            "weights": self.network.n_weights(),
            "inputs_read": len(self.network.inputs_read()),
            "inputs": self.network.n_inputs,
            "interrupted": self.interrupted,
            "origin": self.origin,
            "warnings": list(self.warnings),
        }


def relative_gap(objective: float, bound: float) -> float:
    """Gap between an incumbent and a lower bound, relative to the incumbent (0 when proven)."""
    return max(0.0, float(objective) - float(bound)) / max(1.0, abs(float(objective)))
