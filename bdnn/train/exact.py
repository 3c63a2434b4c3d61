"""Exact training: solve the BDNN's mixed-integer model with CP-SAT (docs/design.md §4)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from ortools import __version__ as ORTOOLS_VERSION
from ortools.sat.python import cp_model

from ..errors import BDNNError
from ..network import Network
from ..objective import lexicographic_objective, smallest_margin
from . import halfspaces
from .coordinate_descent import POLISH_MIN_SHARE, center_biases, coordinate_descent
from .cpsat_model import BDNNCpModel, ModelBuildTimeout, ModelOptions
from .float_start import problem_start
from .problem import TrainProblem
from .result import TrainResult
from .robust_boxes import apply_robust_radius
from .safe_solver import interrupt_requested
from .solver import STATUS_NAMES, found_solution, solve_model, status_name
from .widen import NARROW_TIME_SHARE, narrower, widen

# Hint with the rounded float MLP when unique rows x hidden units exceed this (see train_exact).
FLOAT_HINT_MIN_SIZE = 600
# With a start to fall back on, model building must end this share of the time limit before
# the limit; without one, CP-SAT gets at least this share even past the limit.
MIN_SOLVE_SHARE = 0.1
# A solve shorter than this is not started (process start-up and presolve alone take longer).
MIN_SOLVE_SECONDS = 0.05
# Lexicographic training: the loss stage ends at this share of the time limit, the margin stage
# at the next (or at the limit without --sparsify); a stage that ends early leaves its time to
# the next.
LEX_LOSS_END = 0.5
LEX_MARGIN_END = 0.8


def train_exact(
    problem: TrainProblem,
    *,
    sparsify: bool = False,
    model_options: ModelOptions | None = None,
    method: str = "exact",
    narrow_start: bool | None = None,
    float_start: bool | None = None,
    lexicographic: bool = False,
    enumeration: bool = True,
) -> TrainResult:
    """Train ``problem``'s network with CP-SAT (or, where it applies, by enumeration).

    Minimises the problem's objective (training errors, or the paper's Hamming loss) over all
    networks with integer weights in ``[-w, w]``; with ``sparsify`` a second stage keeps the loss
    at the value found and minimises the number of non-zero weights. The returned objective is
    re-checked by the numpy forward pass (a mismatch raises ``RuntimeError``: it would be a
    modelling bug).

    A robust problem (``robust_radius`` in raw feature units, ``X_raw`` the raw rows behind
    ``Q``) asks that every row's first-layer activation pattern hold on its whole quantized box
    (docs/design.md §4).

    ``narrow_start`` first solves a half-width network for a quarter of the time limit and hints
    the full model with it, padded by always-off units (``widen``); off by default (measured in
    benchmarks/ablation.py: it helped bcw with 8 units, hurt iris with 8). ``float_start``
    (default: when no warm start is given and the training is not robust) computes a float MLP
    rounded to integer weights (``float_start.rounded_mlp_start``): the result is never worse
    than it, and it hints the solver on large models (``True``: always; ``False``: not at all).

    ``lexicographic`` (BeMi's stages, docs/design.md §4): minimise the margin objective's loss
    (``errors`` counts as margin 0), then keep that loss and maximise the smallest margin of the
    rows counted correct, then (with ``sparsify``) keep both and minimise non-zero weights; each
    stage is hinted with the last one's network, all within the one time limit.

    ``enumeration`` (default on): where ``halfspaces`` applies (one hidden layer of at most 2
    units, two classes, the error count; no robust radius, ``sparsify``, ``lexicographic`` or
    ``--deterministic``), every network is first scanned for one below the start's loss: a
    complete scan proves the optimum (bcw's training half with 2 units in under 10 s, where
    CP-SAT's bound stayed 0); a scan that would not finish in time leaves it to CP-SAT.
    """
    if lexicographic:
        problem = lexicographic_problem(problem)
    solve, arch, objective = problem.solve, problem.arch, problem.objective
    Q, y = problem.Q, problem.y
    wall = not solve.deterministic  # deterministic runs count the solver's own time only
    # a copy: the objective and robust boxes set below must not leak into the caller's options
    options = dataclasses.replace(model_options) if model_options else ModelOptions()
    options.objective = objective
    rows = problem.rows
    robust_record = apply_robust_radius(options, problem.quantizer, problem.X_raw, Q, rows,
                                        problem.robust_radius)
    record = {**problem.record(method, solver=f"ortools-cpsat {ORTOOLS_VERSION}"),
              **robust_record}
    # no robust boxes or shared patterns: any network is feasible, so a start is a solution
    # (the result when CP-SAT has none in time) and coordinate descent cannot break a constraint
    unconstrained = not problem.robust and options.groups is None

    warm_start = problem.warm_start
    start, hint = warm_start, warm_start  # the fallback result, and what hints the solver
    start_loss = None if start is None else problem.loss(start)
    start_kind = "warm start"
    if warm_start is None and not problem.robust and float_start is not False:
        # a float MLP rounded to integer weights, then coordinate descent: a cheap, good start
        start, start_record = problem_start(problem)
        start_loss = start_record["objective"]
        start_kind = "float start"
        record["float_start"] = {**start_record, "hinted": False}
        problem.say(f"float start: {objective.name} {start_loss}")
        # On small models CP-SAT finds good networks at once and a hint only slows its proof
        # (iris, 3 units: 11.6 s unhinted, 29.8 s hinted); on larger ones it is the incumbent
        # to beat (bcw, 8 units, 30 s: 3 errors hinted, 14 unhinted; benchmarks/ablation.py).
        if float_start or rows.n_rows * sum(arch.hidden) > FLOAT_HINT_MIN_SIZE:
            hint = start
            record["float_start"]["hinted"] = True
    if narrow_start:
        narrow, narrow_record = _narrow_start(problem, model_options=model_options,
                                              float_start=float_start)
        record["narrow_start"] = narrow_record
        if narrow is not None and (start is None or narrow_record["objective"] <= start_loss):
            start = hint = narrow
            start_loss = narrow_record["objective"]
            start_kind = "narrow start"
    start_is_solution = start is not None and unconstrained
    if (enumeration and start_is_solution and not lexicographic and not sparsify and wall
            and start_loss > problem.lower_bound()  # else the start is optimal already
            and halfspaces.unsupported(arch, objective) is None):
        proven, better = _enumerate(problem, start, start_loss, start_kind, record)
        if proven is not None:
            return proven
        if better is not None:
            start, start_loss = better, problem.loss(better)
            start_kind = "best network of the unfinished enumeration"
            hint = start

    # The model is built within the budget: with a start to fall back on, building may use
    # the time up to MIN_SOLVE_SHARE before the limit (a model that big would not be solved
    # further in what is left); without one it may use the whole budget.
    problem.say(f"building the CP-SAT model ({rows.n_rows} distinct rows, layers "
                f"{arch.widths})")
    build_deadline = None
    if wall:
        build_deadline = problem.at(1 - MIN_SOLVE_SHARE if start_is_solution else 1.0)
    try:
        builder = BDNNCpModel(arch, rows, options, deadline=build_deadline)
    except ModelBuildTimeout:
        builder = None
        if not start_is_solution:
            raise BDNNError(
                f"the CP-SAT model ({rows.n_rows} distinct rows, layers {arch.widths}) could "
                f"not be built within --time-limit {solve.time_limit:g} s; give a longer time "
                "limit, fewer hidden units or --method split") from None
    stages: list[dict] = []
    status = cp_model.UNKNOWN
    found = False
    solver = None
    if builder is not None:
        record["encodings"] = [lv.encoding for lv in builder.layers]
        if wall:
            # coordinate descent may follow an unproven result: leave it its share
            time_left = problem.remaining() - (POLISH_MIN_SHARE * solve.time_limit
                                               if unconstrained else 0.0)
            if lexicographic:  # the later stages get the rest
                time_left = min(time_left, problem.at(LEX_LOSS_END) - time.monotonic())
            if not start_is_solution:  # nothing to fall back on: solve at least briefly
                time_left = max(time_left, MIN_SOLVE_SHARE * solve.time_limit)
        else:
            time_left = solve.time_limit * (1 - NARROW_TIME_SHARE if narrow_start else 1)
        if interrupt_requested():  # Ctrl-C during the starts: the best start is the result
            time_left = 0.0
        if time_left >= MIN_SOLVE_SECONDS:
            if hint is not None:
                builder.add_hints(hint)
            solver, status, printer = solve_model(builder.model, solve, time_left, solve.label)
            found = found_solution(status)
            stages.append({"stage": "loss", "status": status_name(status), "objective": None,
                           "bound": 0.0, "seconds": round(solver.WallTime(), 3),
                           "solutions": printer.n_solutions})
    else:
        record["encodings"] = None
        stages.append({"stage": "loss", "status": "NOT_BUILT", "objective": None, "bound": 0.0,
                       "seconds": 0.0, "solutions": 0})
        problem.say("the CP-SAT model was too large to build in the time left; keeping the "
                    "start")
    if status == cp_model.INFEASIBLE and problem.robust:
        raise BDNNError(
            f"no network keeps its first-layer pattern on every box of radius "
            f"{problem.robust_radius:g}; try a smaller --robust-radius"
        )
    if status == cp_model.INFEASIBLE:
        raise BDNNError(
            "no network satisfies the constraints (the model is infeasible); "
            "relax them, e.g. a smaller robust radius or fewer shared-pattern groups"
        )
    if not found and not start_is_solution:
        if (solver is not None and solver.interrupted) or interrupt_requested():
            raise BDNNError("interrupted before CP-SAT found any network; nothing was written")
        raise BDNNError(
            f"CP-SAT found no network within {solve.time_limit:g} s "
            f"(status {status_name(status)}); give a longer --time-limit"
        )
    origin = "CP-SAT"
    if found:
        net = builder.network_from(solver, problem.quantizer, problem.classes)
        objective_value = int(round(solver.ObjectiveValue()))
        _recheck(problem, net, objective_value)
        result_status = STATUS_NAMES[status]
    if start_is_solution and (not found or start_loss < objective_value):
        net = problem.network(start.layers)
        objective_value = start_loss
        result_status = "FEASIBLE"
        record["result_is_start"] = True
        origin = (f"the {start_kind}: CP-SAT found no better network" if found else
                  f"the {start_kind}: CP-SAT found no network in time" if solver is not None
                  else f"the {start_kind}: no time was left to build the CP-SAT model"
                  if "enumeration" in record
                  else f"the {start_kind}: the CP-SAT model was too large for the time limit")
    # the solver's bound, never below the data's own bound nor above the loss found
    bound = float(solver.BestObjectiveBound()) if solver is not None else 0.0
    bound = bound if np.isfinite(bound) else 0.0
    bound = max(0.0, float(problem.lower_bound()), min(bound, float(objective_value)))
    bound = min(bound, float(objective_value))
    if objective_value <= bound:  # e.g. a start with no training error: nothing can beat it
        result_status = "OPTIMAL"
    if stages:
        stages[0].update({"objective": objective_value, "bound": bound})
    interrupted = (solver is not None and solver.interrupted) or interrupt_requested()
    if (result_status != "OPTIMAL" and objective_value > bound and unconstrained
            and not interrupted
            and not (record.get("result_is_start") and "float_start" in record)):
        # CP-SAT stopped at its limit: single-weight moves over all rows may still help (a
        # descended start that is the result is already at a local optimum of these moves)
        descent_limit = problem.remaining()
        if lexicographic:
            descent_limit = min(descent_limit, problem.at(LEX_LOSS_END) - time.monotonic())
        out = coordinate_descent(net, Q, y, objective, seed=solve.seed,
                                 time_limit=max(descent_limit, 0.0) if wall else None)
        stages.append({"stage": "descent", "objective": out.loss_after, "moves": out.moves,
                       "seconds": round(out.seconds, 3)})
        if out.loss_after < objective_value:
            net, objective_value = out.network, out.loss_after
            origin += ", improved by coordinate descent"
            _recheck(problem, net, objective_value)
            if objective_value <= bound:
                result_status = "OPTIMAL"

    margin_value = None
    if lexicographic:
        margin_value = _smallest_margin(problem, net)
        if not interrupted and builder is not None:
            budget = ((problem.at(LEX_MARGIN_END if sparsify else 1.0) - time.monotonic())
                      if wall else min(10.0, 0.25 * solve.time_limit))
            if budget >= MIN_SOLVE_SECONDS:
                net, margin_value = _maximise_margin(builder, problem, budget, net,
                                                     objective_value, margin_value, stages)
                # the stage keeps loss <= the value found; after an unproven first stage it can
                # find a lower one, which is better lexicographically too
                objective_value, result_status, origin = _lower_loss(
                    problem, net, objective_value, bound, result_status, origin, "margin")
                _recheck(problem, net, objective_value)
        interrupted = interrupted or interrupt_requested()
    if sparsify and not interrupted and builder is not None:
        budget = problem.remaining() if wall else min(10.0, 0.25 * solve.time_limit)
        if budget >= MIN_SOLVE_SECONDS:
            net = _sparsify(builder, problem, budget, net, objective_value, stages,
                            margin=margin_value)
            objective_value, result_status, origin = _lower_loss(
                problem, net, objective_value, bound, result_status, origin, "sparsify")
            _recheck(problem, net, objective_value)
    if unconstrained:  # same loss, largest margin: CP-SAT returns any bias of the optimal range
        centred = center_biases(net, Q, y, objective)
        _recheck(problem, centred, objective_value)
        # centring keeps the loss; lexicographic training also keeps the smallest margin
        if margin_value is None or _smallest_margin(problem, centred) >= margin_value:
            net = centred
    if lexicographic:
        record["lexicographic"] = _lexicographic_record(stages, result_status, objective_value,
                                                        margin_value, net, sparsify)

    record["stages"] = stages
    return problem.result(net, record, status=result_status, objective=objective_value,
                          bound=bound, seconds=problem.elapsed(), stages=stages,
                          origin=origin, interrupted=interrupted)


def _enumerate(problem: TrainProblem, start: Network, start_loss: int, start_kind: str,
               record: dict) -> tuple[TrainResult | None, Network | None]:
    """Scan every network for one below the start's loss (``halfspaces``: one hidden layer of
    at most 2 units, two classes, the error count). Returns (the proven-optimal result, None),
    or (None, a better network found before the scan gave up, or None) to go on with CP-SAT,
    which then gets the time left."""
    arch, rows = problem.arch, problem.rows
    problem.say(f"enumeration: is any network's {problem.objective.name} below {start_loss}?")
    e = halfspaces.enumerate_best(arch, rows, problem.objective, start_loss, problem.at(1.0),
                                  quantizer=problem.quantizer, classes=problem.classes,
                                  progress=problem.say, give_up=True)
    record["enumeration"] = {"status": e.status, "candidates": e.candidates, "kept": e.kept,
                             "pairs": e.pairs, "seconds": round(e.seconds, 3),
                             "hopeless": e.hopeless}
    problem.say(f"enumeration: {e.status}" + (f", loss {e.loss}" if e.loss is not None else "")
                + f" after {e.seconds:.0f} s")
    if e.status not in ("OPTIMAL", "INFEASIBLE"):
        return None, e.network  # any network it holds is below the start's loss
    if e.status == "OPTIMAL":  # the minimum, below the start's loss
        net, loss = problem.network(e.network.layers), int(e.loss)
        origin = "exhaustive enumeration of halfspaces"
    else:  # nothing below the start: the start is optimal
        net, loss = problem.network(start.layers), start_loss
        origin = f"the {start_kind}, proven optimal by exhaustive enumeration"
    _recheck(problem, net, loss)
    centred = center_biases(net, problem.Q, problem.y, problem.objective)
    _recheck(problem, centred, loss)
    stages = [{"stage": "enumeration", "status": "OPTIMAL", "objective": loss,
               "bound": float(loss), "seconds": round(e.seconds, 3)}]
    record["encodings"] = None
    record["stages"] = stages
    return problem.result(centred, record, status="OPTIMAL", objective=loss, bound=float(loss),
                          seconds=problem.elapsed(), stages=stages, origin=origin,
                          interrupted=interrupt_requested()), None


def _narrow_start(problem: TrainProblem, **kw) -> tuple[Network | None, dict]:
    """Solve the half-width architecture briefly; return it widened to the problem's width."""
    hidden = problem.arch.hidden
    small = narrower(hidden)
    solve = problem.solve
    opts = dataclasses.replace(solve, time_limit=NARROW_TIME_SHARE * solve.time_limit,
                               label=f"{solve.label}/narrow{list(small)}")
    narrow_problem = problem.replace(arch=dataclasses.replace(problem.arch, hidden=small),
                                     solve=opts, warm_start=None)
    try:
        r = train_exact(narrow_problem, narrow_start=False, **kw)
    except BDNNError:  # nothing found in its share of the time: no narrow start then
        return None, {"hidden": list(small), "objective": None, "status": "UNKNOWN"}
    record = {"hidden": list(small), "objective": r.objective, "status": r.status,
              "seconds": round(r.seconds, 3)}
    return widen(r.network, hidden), record


def _recheck(problem: TrainProblem, net: Network, value: int) -> None:
    recomputed = problem.loss(net)
    if recomputed != value:
        raise RuntimeError(
            f"internal error: CP-SAT reports {problem.objective.name} = {value} but the forward "
            f"pass gives {recomputed}; please report this with the data"
        )


def _sparsify(builder: BDNNCpModel, problem: TrainProblem, budget: float, incumbent: Network,
              loss: int, stages: list, margin: int | None = None) -> Network:
    """Last lexicographic stage: loss <= the value found (and, after a margin stage, the
    smallest margin >= ``margin``), minimise non-zero weights."""
    model = builder.model
    model.Add(builder.loss_expression() <= loss)
    if margin is not None:
        model.Add(builder.margin_variable() >= margin)
    nz = builder.nonzero_indicators()
    model.Minimize(sum(nz))
    builder.add_hints(incumbent)
    builder.hint_margin(incumbent)
    solve = problem.solve
    solver, status, printer = solve_model(model, solve, budget, f"{solve.label}/sparsify")
    stages.append({
        "stage": "sparsify",
        "status": status_name(status),
        "objective": int(round(solver.ObjectiveValue())) if found_solution(status) else None,
        "bound": float(solver.BestObjectiveBound()),
        "seconds": round(solver.WallTime(), 3),
        "solutions": printer.n_solutions,
    })
    if not found_solution(status):
        return incumbent
    net = builder.network_from(solver, problem.quantizer, problem.classes)
    if net.n_nonzero_weights() > incumbent.n_nonzero_weights():
        return incumbent
    if margin is not None and (_smallest_margin(problem, net) or 0) < margin:
        return incumbent  # cannot happen (M <= every correct row's margin); kept as a guard
    return net


def _lower_loss(problem: TrainProblem, net: Network, value: int, bound: float, status: str,
                origin: str, stage: str) -> tuple[int, str, str]:
    """``(loss, status, origin)`` after a later stage whose constraint is ``loss <= value``:
    the network's own loss when that stage found a lower one (possible after an unproven
    first stage), else unchanged."""
    loss = problem.loss(net)
    if loss >= value:
        return value, status, origin
    return (loss, "OPTIMAL" if loss <= bound else status,
            f"{origin}, a lower loss found by the {stage} stage")


def lexicographic_problem(problem: TrainProblem) -> TrainProblem:
    """``problem`` with the objective lexicographic training minimises first: the margin
    objective as given, ``errors`` as margin 0 (the same loss row for row); anything else is
    refused."""
    objective = lexicographic_objective(problem.objective)
    return problem if objective is problem.objective else problem.replace(objective=objective)


def _smallest_margin(problem: TrainProblem, net: Network) -> int | None:
    """The smallest margin of the training rows the margin objective counts correct."""
    return smallest_margin(net.forward_q(problem.Q).scores, problem.y, net.output,
                           problem.objective.margin)


def _maximise_margin(builder: BDNNCpModel, problem: TrainProblem, budget: float,
                     incumbent: Network, loss: int, margin: int | None,
                     stages: list) -> tuple[Network, int | None]:
    """Second lexicographic stage: loss <= the value found, maximise the smallest margin of
    the rows counted correct. Returns the network and its smallest margin (numpy)."""
    model = builder.model
    model.Add(builder.loss_expression() <= loss)
    M = builder.margin_variable()
    model.Maximize(M)
    builder.add_hints(incumbent)
    builder.hint_margin(incumbent)
    solve = problem.solve
    solver, status, printer = solve_model(model, solve, budget, f"{solve.label}/margin")
    bound = float(solver.BestObjectiveBound()) if found_solution(status) else None
    net = incumbent
    if found_solution(status):
        candidate = builder.network_from(solver, problem.quantizer, problem.classes)
        value = _smallest_margin(problem, candidate)
        cand_loss = problem.loss(candidate)
        if cand_loss < loss or (cand_loss == loss and (margin is None or
                                                       (value is not None and value >= margin))):
            net, margin = candidate, value
    stages.append({
        "stage": "margin",
        "status": status_name(status),
        "objective": margin,
        "bound": bound,
        "seconds": round(solver.WallTime(), 3),
        "solutions": printer.n_solutions,
    })
    problem.say(f"margin stage: smallest margin {margin} ({status_name(status)})")
    return net, margin


def _lexicographic_record(stages: list, loss_status: str, loss: int, margin: int | None,
                          net: Network, sparsify: bool) -> dict:
    """Which lexicographic stages ran, their status and value (the training record)."""
    by_name = {s["stage"]: s for s in stages}
    out = []
    for name, value in (("loss", loss), ("margin", margin),
                        ("sparsify", net.n_nonzero_weights() if sparsify else None)):
        if name == "sparsify" and not sparsify:
            continue
        s = by_name.get(name)
        status = s.get("status", "NOT_RUN") if s else "NOT_RUN"
        if name == "loss":
            status = loss_status  # the result's: a start or descent may have beaten the solve
        out.append({"stage": name, "status": status, "value": value,
                    "finished": status == "OPTIMAL"})
    return {"stages": out, "loss": int(loss), "smallest_margin": margin,
            "nonzero_weights": net.n_nonzero_weights()}


__all__ = ["lexicographic_problem", "train_exact"]
