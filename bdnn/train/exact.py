"""Exact training: solve the BDNN's mixed-integer model with CP-SAT (DESIGN §4)."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass, field

import numpy as np
from ortools import __version__ as ORTOOLS_VERSION
from ortools.sat.python import cp_model

from ..errors import BDNNError
from ..network import Network, errors_of, hamming_loss_of
from ..quantizer import Quantizer
from .architecture import Architecture
from .coordinate_descent import POLISH_MIN_SHARE, center_biases, coordinate_descent
from .cpsat_model import DEFAULT_PATTERN_LIMIT, BDNNCpModel, ModelOptions
from .float_start import descended_start
from .progress import ProgressPrinter
from .result import TrainResult, relative_gap
from .robust_boxes import apply_robust_radius
from .rows import unique_rows
from .safe_solver import SafeSolver, interrupt_requested
from .widen import NARROW_TIME_SHARE, narrower, widen

# Hint with the rounded float MLP when unique rows x hidden units exceed this (see train_exact).
FLOAT_HINT_MIN_SIZE = 600


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
    p.catch_sigint_signal = True  # Ctrl-C stops the search and keeps the best solution
    if opts.deterministic:
        # Deterministic time makes the cut-off reproducible; wall time stays a safety net.
        p.interleave_search = p.num_workers > 1
        p.max_deterministic_time = float(time_limit)
        p.max_time_in_seconds = 10.0 * float(time_limit) + 10.0
    else:
        p.max_time_in_seconds = float(time_limit)
    for key, value in opts.extra_parameters.items():
        setattr(p, key, value)
    return solver


def loss_of(net: Network, Q: np.ndarray, y: np.ndarray, objective: str) -> int:
    """The training loss the exact model minimises, recomputed by the numpy forward pass."""
    return errors_of(net, Q, y) if objective == "errors" else hamming_loss_of(net, Q, y)


def solve_model(builder: BDNNCpModel, opts: SolveOptions, time_limit: float, label: str,
                hint: Network | None = None) -> tuple[SafeSolver, int, ProgressPrinter]:
    """Solve a built model with progress output; returns solver, status and the printer."""
    if hint is not None:
        builder.add_hints(hint)
    solver = make_solver(opts, time_limit)
    printer = ProgressPrinter(label=label, enabled=opts.progress)
    solver.best_bound_callback = printer.on_bound
    status = solver.Solve(builder.model, printer)
    printer.finish(solver, STATUS_NAMES.get(status, str(status)))
    return solver, status, printer


def train_exact(
    Q: np.ndarray,
    y: np.ndarray,
    *,
    quantizer: Quantizer,
    classes: list,
    hidden: tuple[int, ...] = (4,),
    weight_bound: int | tuple[int, ...] = 1,
    activation: str = "heaviside",
    output: str = "argmax",
    objective: str = "errors",
    sparsify: bool = False,
    warm_start: Network | None = None,
    solve: SolveOptions | None = None,
    model_options: ModelOptions | None = None,
    method: str = "exact",
    robust_radius: float | None = None,
    X_raw: np.ndarray | None = None,
    narrow_start: bool | None = None,
    float_start: bool | None = None,
) -> TrainResult:
    """Train a BDNN on quantized inputs ``Q`` and class indices ``y`` with CP-SAT.

    Minimises the training errors (or the paper's Hamming loss) over all networks with integer
    weights in ``[-w, w]``; with ``sparsify`` a second stage keeps the loss at the value found and
    minimises the number of non-zero weights. The returned objective is re-checked by the numpy
    forward pass (a mismatch raises ``RuntimeError``: it would be a modelling bug).

    ``robust_radius`` (raw feature units; ``X_raw`` = the raw rows behind ``Q``) asks that every
    row's first-layer activation pattern hold on its whole quantized box (DESIGN §4).

    ``narrow_start`` first solves a half-width network for a quarter of the time limit and hints
    the full model with it, padded by always-off units (``widen``); off by default (measured in
    benchmarks/ablation.py: it helped bcw with 8 units, hurt iris with 8). ``float_start``
    (default: when no warm start is given and the training is not robust) computes a float MLP
    rounded to integer weights (``float_start.rounded_mlp_start``): the result is never worse
    than it, and it hints the solver on large models (``True``: always; ``False``: not at all).
    """
    t0 = time.monotonic()
    solve = solve or SolveOptions()
    Q = np.asarray(Q)
    y = np.asarray(y, dtype=np.int64)
    n_classes = len(classes)
    arch = Architecture.for_training(Q, y, max_level=quantizer.max_level, n_classes=n_classes,
                                     hidden=hidden, weight_bound=weight_bound,
                                     activation=activation, output=output)
    if warm_start is not None:
        arch.check_compatible(warm_start)
    # a copy: the objective and robust boxes set below must not leak into the caller's options
    options = dataclasses.replace(model_options) if model_options else ModelOptions()
    options.objective = objective
    rows = unique_rows(Q, y, n_classes)
    robust_record = apply_robust_radius(options, quantizer, X_raw, Q, rows, robust_radius)
    builder = BDNNCpModel(arch, rows, options)
    record = {
        "method": method,
        "objective_name": objective,
        "solver": f"ortools-cpsat {ORTOOLS_VERSION}",
        "data_fingerprint": data_fingerprint(Q, y),
        "n_train": int(len(y)),
        "n_unique_rows": rows.n_rows,
        "seed": int(solve.seed),
        "workers": int(solve.workers),
        "deterministic": bool(solve.deterministic),
        "time_limit": float(solve.time_limit),
        "hidden": list(arch.hidden),
        "weight_bounds": list(arch.weight_bounds),
        "encodings": [lv.encoding for lv in builder.layers],
        **robust_record,
    }

    start, hint = warm_start, warm_start  # the fallback result, and what hints the solver
    start_loss = None if start is None else loss_of(start, Q, y, objective)
    if warm_start is None and robust_radius is None and float_start is not False:
        # a float MLP rounded to integer weights, then coordinate descent: a cheap, good start
        start, start_record = descended_start(Q, y, arch, quantizer, classes, objective,
                                              seed=solve.seed, time_limit=solve.time_limit,
                                              deterministic=solve.deterministic)
        start_loss = start_record["objective"]
        record["float_start"] = {**start_record, "hinted": False}
        # On small models CP-SAT finds good networks at once and a hint only slows its proof
        # (iris, 3 units: 11.6 s unhinted, 29.8 s hinted); on larger ones it is the incumbent
        # to beat (bcw, 8 units, 30 s: 3 errors hinted, 14 unhinted; benchmarks/ablation.py).
        if float_start or rows.n_rows * sum(arch.hidden) > FLOAT_HINT_MIN_SIZE:
            hint = start
            record["float_start"]["hinted"] = True
    if narrow_start:
        narrow, narrow_record = _narrow_start(
            Q, y, quantizer=quantizer, classes=classes, hidden=arch.hidden,
            weight_bound=arch.weight_bounds, activation=activation, output=output,
            objective=objective, solve=solve,
            model_options=model_options, robust_radius=robust_radius, X_raw=X_raw,
            float_start=float_start,
        )
        record["narrow_start"] = narrow_record
        if narrow is not None and (start is None or narrow_record["objective"] <= start_loss):
            start = hint = narrow
            start_loss = narrow_record["objective"]
    # The budget covers model building and the starts; deterministic runs count the solver's
    # deterministic time only (wall time would make them unrepeatable).
    if solve.deterministic:
        time_left = solve.time_limit * (1 - NARROW_TIME_SHARE if "narrow_start" in record else 1)
    else:
        time_left = max(0.1 * solve.time_limit, solve.time_limit - (time.monotonic() - t0))
    if interrupt_requested():  # Ctrl-C during the starts: the best start is the result
        time_left = 0.01
    solver, status, printer = solve_model(builder, solve, time_left, solve.label, hint=hint)
    if status == cp_model.INFEASIBLE and robust_radius is not None:
        raise BDNNError(
            f"no network keeps its first-layer pattern on every box of radius {robust_radius:g}; "
            "try a smaller --robust-radius"
        )
    if status == cp_model.INFEASIBLE:
        raise BDNNError(
            "no network satisfies the constraints (the model is infeasible); "
            "relax them, e.g. a smaller robust radius or fewer shared-pattern groups"
        )
    found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    # Without extra constraints (robust boxes, shared patterns) the start network is itself a
    # solution: when CP-SAT reports none in time (huge models), it is the result.
    # no robust boxes or shared patterns: any network is feasible, so the start is a solution
    # and coordinate descent cannot break a constraint
    unconstrained = robust_radius is None and options.groups is None
    start_is_solution = start is not None and unconstrained
    if not found and not start_is_solution:
        if solver.interrupted or interrupt_requested():
            raise BDNNError("interrupted before CP-SAT found any network; nothing was written")
        raise BDNNError(
            f"CP-SAT found no network within {solve.time_limit:g} s "
            f"(status {STATUS_NAMES.get(status, status)}); give a longer --time-limit"
        )
    if found:
        net = builder.network_from(solver, quantizer, classes)
        objective_value = int(round(solver.ObjectiveValue()))
        _recheck(net, Q, y, objective, objective_value)
        status_name = STATUS_NAMES[status]
    if start_is_solution and (not found or start_loss < objective_value):
        net = Network(quantizer, list(start.layers), classes=list(classes),
                      activation=activation, output=output)
        objective_value = start_loss
        status_name = "FEASIBLE"
        record["result_is_start"] = True
    bound = float(solver.BestObjectiveBound())  # the loss is never negative
    bound = max(0.0, min(bound, float(objective_value))) if np.isfinite(bound) else 0.0
    if objective_value <= bound:  # e.g. a start with no training error: nothing can beat it
        status_name = "OPTIMAL"
    stages = [{
        "stage": "loss",
        "status": STATUS_NAMES.get(status, str(status)),
        "objective": objective_value,
        "bound": bound,
        "seconds": round(solver.WallTime(), 3),
        "solutions": printer.n_solutions,
    }]
    interrupted = solver.interrupted or interrupt_requested()
    if (status_name != "OPTIMAL" and objective_value > bound and unconstrained
            and not interrupted
            and not (record.get("result_is_start") and "float_start" in record)):
        # CP-SAT stopped at its limit: single-weight moves over all rows may still help (a
        # descended start that is the result is already at a local optimum of these moves)
        left = solve.time_limit - (time.monotonic() - t0)
        out = coordinate_descent(net, Q, y, objective, seed=solve.seed,
                                 time_limit=None if solve.deterministic else
                                 max(left, POLISH_MIN_SHARE * solve.time_limit))
        stages.append({"stage": "descent", "objective": out.loss_after, "moves": out.moves,
                       "seconds": round(out.seconds, 3)})
        if out.loss_after < objective_value:
            net, objective_value = out.network, out.loss_after
            _recheck(net, Q, y, objective, objective_value)
            if objective_value <= bound:
                status_name = "OPTIMAL"

    if sparsify and not interrupted:
        remaining = solve.time_limit - (time.monotonic() - t0)
        budget = max(remaining, min(10.0, 0.25 * solve.time_limit))
        net = _sparsify(builder, solve, budget, net, objective_value, quantizer, classes, stages)
        _recheck(net, Q, y, objective, objective_value)
    if unconstrained:  # same loss, largest margin: CP-SAT returns any bias of the optimal range
        net = center_biases(net, Q, y, objective)
        _recheck(net, Q, y, objective, objective_value)

    seconds = time.monotonic() - t0
    gap = relative_gap(objective_value, bound)
    record.update({
        "status": status_name,
        "objective": objective_value,
        "bound": bound,
        "gap": gap,
        "seconds": round(seconds, 3),
        "stages": stages,
        "train_errors": errors_of(net, Q, y),
        "train_accuracy": 1.0 - errors_of(net, Q, y) / max(1, len(y)),
        "nonzero_weights": net.n_nonzero_weights(),
    })
    net.training = record
    return TrainResult(
        network=net, status=status_name, objective=objective_value, bound=bound, gap=gap,
        seconds=seconds, train_errors=errors_of(net, Q, y), n_train=int(len(y)),
        interrupted=interrupted, stages=stages,
    )


def _narrow_start(Q, y, *, hidden, solve: SolveOptions, **kw) -> tuple[Network | None, dict]:
    """Solve the half-width architecture briefly; return it widened to ``hidden``."""
    small = narrower(hidden)
    opts = dataclasses.replace(solve, time_limit=NARROW_TIME_SHARE * solve.time_limit,
                               label=f"{solve.label}/narrow{list(small)}")
    try:
        r = train_exact(Q, y, hidden=small, solve=opts, narrow_start=False, **kw)
    except BDNNError:  # nothing found in its share of the time: no narrow start then
        return None, {"hidden": list(small), "objective": None, "status": "UNKNOWN"}
    record = {"hidden": list(small), "objective": r.objective, "status": r.status,
              "seconds": round(r.seconds, 3)}
    return widen(r.network, hidden), record


def _recheck(net: Network, Q: np.ndarray, y: np.ndarray, objective: str, value: int) -> None:
    recomputed = loss_of(net, Q, y, objective)
    if recomputed != value:
        raise RuntimeError(
            f"internal error: CP-SAT reports {objective} = {value} but the forward pass gives "
            f"{recomputed}; please report this with the data"
        )


def _sparsify(builder: BDNNCpModel, solve: SolveOptions, budget: float, incumbent: Network,
              loss: int, quantizer: Quantizer, classes: list, stages: list) -> Network:
    """Second lexicographic stage: loss <= the value found, minimise non-zero weights."""
    model = builder.model
    model.Add(builder.loss_expression() <= loss)
    nz = builder.nonzero_indicators()
    model.Minimize(sum(nz))
    solver, status, printer = solve_model(
        builder, solve, budget, f"{solve.label}/sparsify", hint=incumbent
    )
    stages.append({
        "stage": "sparsify",
        "status": STATUS_NAMES.get(status, str(status)),
        "objective": int(round(solver.ObjectiveValue())) if status in (
            cp_model.OPTIMAL, cp_model.FEASIBLE) else None,
        "bound": float(solver.BestObjectiveBound()),
        "seconds": round(solver.WallTime(), 3),
        "solutions": printer.n_solutions,
    })
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return incumbent
    net = builder.network_from(solver, quantizer, classes)
    if net.n_nonzero_weights() > incumbent.n_nonzero_weights():
        return incumbent
    return net


__all__ = ["SolveOptions", "train_exact", "data_fingerprint", "DEFAULT_PATTERN_LIMIT", "loss_of"]
