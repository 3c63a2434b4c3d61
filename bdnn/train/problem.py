"""``TrainProblem``: what every training method is given (docs/design.md §4, §7).

The data (quantized rows, labels, the quantizer and class labels, optionally the raw rows and a
validation part), the architecture, the objective, the solver budget (``SolveOptions``: time
limit, workers, seed, determinism, progress) and the optional warm start and robust radius. The
trainers (``train_exact``, ``train_local_search``, ``run_data_split``) take one and add only their
own method options; the result record they write starts from :meth:`TrainProblem.record`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..activation import Activation
from ..errors import BDNNError
from ..network import Layer, Network
from ..objective import ERRORS, Objective, objective_with_margin
from ..output_kind import OutputKind
from ..progress import progress_line
from ..quantizer import Quantizer
from .architecture import Architecture
from .float_start import FLOAT_ALPHA
from .result import TrainResult, relative_gap
from .robust_boxes import check_radius
from .rows import UniqueRows, unique_rows
from .solver import SolveOptions, data_fingerprint


def valid_float_alpha(alpha: object) -> bool:
    """Whether ``alpha`` is a float MLP L2 penalty: a finite real number >= 0 (not a bool or a
    string); the one rule of ``--float-alpha``, ``BDNNClassifier`` and the select grid."""
    return (isinstance(alpha, numbers.Real) and not isinstance(alpha, bool)
            and math.isfinite(alpha) and alpha >= 0)


def check_float_alpha(alpha: object) -> float:
    """``--float-alpha`` as a float, or a one-line ``BDNNError``: a finite number >= 0."""
    if not valid_float_alpha(alpha):
        raise BDNNError(f"--float-alpha must be a number >= 0 (the float MLP's L2 penalty), "
                        f"got {alpha!r}")
    return float(alpha)


@dataclass(frozen=True, eq=False)
class TrainProblem:
    """A training task: data, architecture, objective, budget; see the module docstring."""

    Q: np.ndarray  # int64 [N, n_inputs], quantized training rows
    y: np.ndarray  # int64 [N], class indices into ``classes``
    quantizer: Quantizer
    classes: list
    arch: Architecture
    objective: Objective
    solve: SolveOptions
    warm_start: Network | None = None
    robust_radius: float | None = None  # raw feature units
    X_raw: np.ndarray | None = None  # the raw rows behind Q (robust training, --paper k-means)
    Q_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    float_alpha: float = FLOAT_ALPHA  # L2 penalty of the float MLP (float start, rounded)
    # when the budget started (time.monotonic()): the CLI starts it before loading the data,
    # so the time limit covers the whole command
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def build(
        cls,
        Q: np.ndarray,
        y: np.ndarray,
        *,
        quantizer: Quantizer,
        classes: Sequence,
        hidden: Sequence[int] = (4,),
        weight_bound: int | Sequence[int] = 1,
        activation: Activation | str = "heaviside",
        output: OutputKind | str = "argmax",
        objective: Objective | str = "errors",
        margin: int | None = None,
        solve: SolveOptions | None = None,
        warm_start: Network | None = None,
        robust_radius: float | None = None,
        X_raw: np.ndarray | None = None,
        Q_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        float_alpha: float = FLOAT_ALPHA,
        started: float | None = None,
    ) -> TrainProblem:
        """Check and normalise the arguments (one weight bound for every layer or one per
        layer; ``margin`` sets the margin objective's, None keeps the objective's own;
        ``float_alpha`` the float MLP's L2 penalty); raises ``BDNNError`` with a one-line
        message on anything invalid."""
        Q = np.asarray(Q)
        y = np.asarray(y, dtype=np.int64)
        arch = Architecture.for_training(Q, y, max_level=quantizer.max_level,
                                         n_classes=len(classes), hidden=hidden,
                                         weight_bound=weight_bound,
                                         activation=activation, output=output)
        if warm_start is not None:
            arch.check_compatible(warm_start)
        has_val = Q_val is not None and y_val is not None and len(y_val) > 0
        return cls(
            Q=Q, y=y, quantizer=quantizer, classes=list(classes), arch=arch,
            objective=objective_with_margin(objective, margin), solve=solve or SolveOptions(),
            warm_start=warm_start,
            robust_radius=None if robust_radius is None else check_radius(robust_radius),
            X_raw=X_raw, Q_val=np.asarray(Q_val) if has_val else None,
            y_val=np.asarray(y_val, dtype=np.int64) if has_val else None,
            float_alpha=check_float_alpha(float_alpha),
            started=time.monotonic() if started is None else float(started),
        )

    def replace(self, **changes) -> TrainProblem:
        """A copy with some fields changed (``solve``, ``arch``, ...)."""
        return dataclasses.replace(self, **changes)

    # -- the budget ------------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds since the budget started."""
        return time.monotonic() - self.started

    def remaining(self) -> float:
        """Seconds left of the time limit (negative once it has passed)."""
        return self.solve.time_limit - self.elapsed()

    def at(self, share: float) -> float:
        """The monotonic time at which ``share`` of the time limit has passed."""
        return self.started + share * self.solve.time_limit

    def say(self, message: str) -> None:
        """A progress line on stderr (with the elapsed time), unless progress is off."""
        progress_line(self.solve.label, self.started, message, quiet=not self.solve.progress)

    # -- derived ---------------------------------------------------------------------------
    @property
    def n_train(self) -> int:
        return int(len(self.y))

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def has_validation(self) -> bool:
        return self.y_val is not None

    @property
    def robust(self) -> bool:
        return self.robust_radius is not None

    @cached_property
    def rows(self) -> UniqueRows:
        """The training rows with identical inputs merged."""
        return unique_rows(self.Q, self.y, self.n_classes)

    def loss(self, net: Network) -> int:
        """The training loss of ``net`` (the numpy forward pass)."""
        return self.objective.loss(net, self.Q, self.y)

    def errors(self, net: Network) -> int:
        """Misclassified training rows."""
        return ERRORS.loss(net, self.Q, self.y)

    def lower_bound(self) -> int:
        """The loss no network avoids on these rows (conflicting labels of equal inputs)."""
        return self.objective.lower_bound(self.rows.counts, self.arch.output)

    def network(self, layers: list[Layer], training: dict | None = None) -> Network:
        """A network of this problem's quantizer, classes and conventions."""
        return Network(self.quantizer, list(layers), classes=list(self.classes),
                       activation=self.arch.activation, output=self.arch.output,
                       training=dict(training or {}))

    # -- the record ------------------------------------------------------------------------
    def record(self, method: str, solver: str = "ortools-cpsat") -> dict:
        """The first keys of every training record (``objective_params`` only for a
        parametrised objective such as margin)."""
        params = {"objective_params": self.objective.params()} if self.objective.params() else {}
        return {
            "method": method,
            "objective_name": self.objective.name,
            **params,
            "solver": solver,
            "data_fingerprint": data_fingerprint(self.Q, self.y),
            "n_train": self.n_train,
            "n_unique_rows": self.rows.n_rows,
            "seed": int(self.solve.seed),
            "workers": int(self.solve.workers),
            "deterministic": bool(self.solve.deterministic),
            "time_limit": float(self.solve.time_limit),
            "hidden": list(self.arch.hidden),
            "weight_bounds": list(self.arch.weight_bounds),
            # recorded where it differs from the default (older records lack it)
            **({"float_alpha": self.float_alpha} if self.float_alpha != FLOAT_ALPHA else {}),
        }

    def result(self, net: Network, record: dict, *, status: str, objective: int, bound: float,
               seconds: float, stages: list[dict], origin: str,
               interrupted: bool = False, warnings: list[str] | None = None) -> TrainResult:
        """Finish ``record`` with the outcome, attach it to ``net`` and wrap both.

        ``origin`` says in words where the network came from (e.g. "CP-SAT", "the float start:
        CP-SAT found no better network"): the CLI prints it beside the status; ``warnings``
        (recorded too) what the user should know about the network, a line each."""
        gap = relative_gap(objective, bound)
        train_errors = self.errors(net)
        record.update({
            "status": status,
            "objective": int(objective),
            "bound": float(bound),
            "gap": gap,
            "seconds": round(seconds, 3),
            "train_errors": train_errors,
            "train_accuracy": 1.0 - train_errors / max(1, self.n_train),
            "nonzero_weights": net.n_nonzero_weights(),
            "origin": origin,
        })
        if warnings:
            record["warnings"] = list(warnings)
        net.training = record
        return TrainResult(network=net, status=status, objective=int(objective),
                           bound=float(bound), gap=gap, seconds=seconds,
                           train_errors=train_errors, n_train=self.n_train,
                           interrupted=interrupted, stages=stages, origin=origin,
                           warnings=list(warnings or []))
