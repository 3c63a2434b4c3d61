"""Local search (Kurtz & Bah 2021): block-coordinate descent over layers with CP-SAT.

Two blocks alternate: (A) the first layer's weights and activations with every later layer fixed,
(B) the later layers with the first layer fixed (so its activations are fixed too). Each block is
the exact model (``BDNNCpModel``) with the other block's weights pinned by equalities, hinted
with the incumbent and constrained to a loss no worse than the incumbent's, so the loss never
increases. A start ends when a full round improves nothing; random restarts fill the budget and
the best network wins.

Beyond the paper, when the training is not robust: a third, cheap block runs single-weight
coordinate descent over every training row (``coordinate_descent``), and the first start
(without a warm start) is the rounded float MLP improved by that descent (``descended_start``)
instead of a random network.
"""

from __future__ import annotations

import time

import numpy as np
from ortools.sat.python import cp_model

from ..errors import BDNNError
from ..network import Layer, Network, errors_of, random_network
from ..quantizer import Quantizer
from .architecture import Architecture
from .coordinate_descent import center_biases, coordinate_descent
from .cpsat_model import BDNNCpModel, ModelOptions
from .exact import STATUS_NAMES, SolveOptions, data_fingerprint, loss_of, make_solver
from .float_start import descended_start
from .result import TrainResult, relative_gap
from .robust_boxes import apply_robust_radius
from .rows import UniqueRows, unique_rows
from .safe_solver import interrupt_requested

BLOCKS = ("first", "later")


def _clip_biases(net: Network, domains: list[tuple[int, int]]) -> Network:
    """The network with biases clipped to the model's bias domains (a random or warm-start
    network may lie outside them; the model can only express clipped values)."""
    layers = [
        Layer(layer.weights.copy(), np.clip(layer.bias, lo, hi).astype(np.int64),
              int(layer.weight_bound))
        for layer, (lo, hi) in zip(net.layers, domains, strict=True)
    ]
    return Network(net.quantizer, layers, classes=list(net.classes), activation=net.activation,
                   output=net.output, training={})


def _random_start(rng: np.random.Generator, arch: Architecture, quantizer: Quantizer,
                  classes: list, domains: list[tuple[int, int]]) -> Network:
    bits = int(quantizer.bits)
    net = random_network(rng, arch.n_inputs, arch.hidden, arch.n_classes, arch.weight_bounds,
                         activation=arch.activation, output=arch.output, bits=bits)
    net = Network(quantizer, net.layers, classes=list(classes), activation=arch.activation,
                  output=arch.output, training={})
    return _clip_biases(net, domains)


def _solve_block(arch: Architecture, rows: UniqueRows, options: ModelOptions, block: str,
                 incumbent: Network, loss: int, solve: SolveOptions, time_limit: float,
                 quantizer: Quantizer, classes: list) -> tuple[Network, int] | None:
    """One block step; returns the (possibly equal) new network and its loss, or None when
    CP-SAT found nothing in time."""
    builder = BDNNCpModel(arch, rows, options)
    m = builder.model
    fixed = [0] if block == "later" else list(range(1, arch.n_layers))
    for li in fixed:
        lv, layer = builder.layers[li], incumbent.layers[li]
        for j, row in enumerate(lv.W):
            for i, v in enumerate(row):
                m.Add(v == int(layer.weights[j, i]))
            m.Add(lv.b[j] == int(layer.bias[j]))
    m.Add(builder.loss_expression() <= loss)  # the incumbent satisfies it: never worse
    builder.add_hints(incumbent)
    solver = make_solver(solve, time_limit)
    status = solver.Solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    net = builder.network_from(solver, quantizer, classes)
    return net, int(round(solver.ObjectiveValue()))


def _descent_block(net: Network, Q: np.ndarray, y: np.ndarray, objective: str,
                   solve: SolveOptions, time_limit: float,
                   domains: list[tuple[int, int]]) -> tuple[Network, int]:
    """Single-weight coordinate descent over all rows; biases clipped to the model's domains
    (which the data cannot tell apart from the unclipped ones)."""
    out = coordinate_descent(net, Q, y, objective, seed=solve.seed,
                             time_limit=None if solve.deterministic else time_limit)
    new = _clip_biases(out.network, domains)
    return new, loss_of(new, Q, y, objective)


def train_local_search(
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
    warm_start: Network | None = None,
    solve: SolveOptions | None = None,
    restarts: int | None = None,
    block_time_limit: float | None = None,
    robust_radius: float | None = None,
    X_raw: np.ndarray | None = None,
) -> TrainResult:
    """Block-coordinate descent from ``warm_start`` (if any) and random networks.

    ``restarts`` caps the number of starts (None: as many as the time limit allows); each block
    solve gets at most ``block_time_limit`` seconds (default: a tenth of the time limit).
    """
    t0 = time.monotonic()
    solve = solve or SolveOptions()
    Q = np.asarray(Q)
    y = np.asarray(y, dtype=np.int64)
    arch = Architecture.for_training(Q, y, max_level=quantizer.max_level, n_classes=len(classes),
                                     hidden=hidden, weight_bound=weight_bound,
                                     activation=activation, output=output)
    if restarts is not None and int(restarts) < 1:
        raise BDNNError(f"--restarts must be >= 1, got {restarts}")
    if warm_start is not None:
        arch.check_compatible(warm_start)
    rows = unique_rows(Q, y, len(classes))
    options = ModelOptions(objective=objective)
    robust_record = apply_robust_radius(options, quantizer, X_raw, Q, rows, robust_radius)
    domains = [lv.bias_domain for lv in BDNNCpModel(arch, rows, options).layers]
    lower = rows.conflict_lower_bound() if objective == "errors" else 0
    step_limit = float(block_time_limit or max(0.5, solve.time_limit / 10))
    rng = np.random.default_rng(solve.seed)

    def remaining() -> float:
        if interrupt_requested():  # Ctrl-C: keep the best network so far
            return 0.0
        return solve.time_limit - (time.monotonic() - t0)

    # coordinate descent cannot keep robust boxes, so robust runs use the CP-SAT blocks only
    blocks = BLOCKS + (("descent",) if robust_radius is None else ())
    best: Network | None = None
    best_loss: int | None = None
    history: list[dict] = []
    n_starts = 0
    while remaining() > 0 and (restarts is None or n_starts < int(restarts)):
        if n_starts == 0 and warm_start is not None:
            net = _clip_biases(warm_start, domains)
            origin = "warm-start"
        elif n_starts == 0 and robust_radius is None:
            net, _ = descended_start(Q, y, arch, quantizer, classes, objective, seed=solve.seed,
                                     time_limit=solve.time_limit,
                                     deterministic=solve.deterministic)
            net = _clip_biases(net, domains)
            origin = "float-start"
        else:
            net = _random_start(rng, arch, quantizer, classes, domains)
            origin = "random"
        if robust_radius is not None:
            # a random network rarely keeps its pattern on the boxes; all-off units always do
            first = net.layers[0]
            net.layers[0] = Layer(np.zeros_like(first.weights),
                                  np.full_like(first.bias, -1), int(first.weight_bound))
        n_starts += 1
        loss = loss_of(net, Q, y, objective)
        steps = [loss]
        stale = 0  # consecutive blocks without improvement
        k = 0
        while stale < len(blocks) and remaining() > 0 and loss > lower:
            block = blocks[k % len(blocks)]
            k += 1
            if block == "descent":
                out = _descent_block(net, Q, y, objective, solve, min(step_limit, remaining()),
                                     domains)
            else:
                out = _solve_block(arch, rows, options, block, net, loss, solve,
                                   min(step_limit, remaining()), quantizer, classes)
            if out is None:
                stale += 1
                continue
            new_net, new_loss = out
            recomputed = loss_of(new_net, Q, y, objective)
            if recomputed != new_loss:
                raise RuntimeError(f"internal error: block loss {new_loss} != forward {recomputed}")
            assert new_loss <= loss, "local search step increased the loss"
            stale = 0 if new_loss < loss else stale + 1
            net, loss = new_net, new_loss
            steps.append(loss)
        history.append({"start": origin, "losses": steps})
        if best_loss is None or loss < best_loss:
            best, best_loss = net, loss
        if best_loss <= lower:
            break
    if best is None:
        raise BDNNError(f"local search got no time to run; give a longer --time-limit "
                        f"(now {solve.time_limit:g} s)")
    if robust_radius is None:  # same loss, largest margin (robust boxes fix their own biases)
        best = _clip_biases(center_biases(best, Q, y, objective), domains)
        assert loss_of(best, Q, y, objective) == best_loss
    seconds = time.monotonic() - t0
    status = "OPTIMAL" if best_loss <= lower else "FEASIBLE"
    gap = relative_gap(best_loss, lower)
    train_errors = errors_of(best, Q, y)
    best.training = {
        "method": "local-search",
        "objective_name": objective,
        "solver": "ortools-cpsat",
        "data_fingerprint": data_fingerprint(Q, y),
        "n_train": int(len(y)),
        "n_unique_rows": rows.n_rows,
        "seed": int(solve.seed),
        "workers": int(solve.workers),
        "time_limit": float(solve.time_limit),
        "hidden": list(arch.hidden),
        "weight_bounds": list(arch.weight_bounds),
        "restarts": n_starts,
        "block_time_limit": step_limit,
        "history": history,
        **robust_record,
        "status": status,
        "objective": int(best_loss),
        "bound": float(lower),
        "gap": gap,
        "seconds": round(seconds, 3),
        "train_errors": train_errors,
        "train_accuracy": 1.0 - train_errors / max(1, len(y)),
        "nonzero_weights": best.n_nonzero_weights(),
    }
    return TrainResult(network=best, status=status, objective=int(best_loss), bound=float(lower),
                       gap=gap, seconds=seconds, train_errors=train_errors, n_train=int(len(y)),
                       stages=[{"stage": "local-search", "status": status, **h} for h in history])


__all__ = ["train_local_search", "STATUS_NAMES"]
