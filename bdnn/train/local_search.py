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

import numpy as np

from ..errors import BDNNError
from ..network import Layer, Network, random_network
from .coordinate_descent import center_biases, coordinate_descent
from .cpsat_model import BDNNCpModel, ModelBuildTimeout, ModelOptions, bias_domains
from .float_start import problem_start
from .problem import TrainProblem
from .result import TrainResult
from .robust_boxes import apply_robust_radius
from .safe_solver import interrupt_requested
from .solver import found_solution, make_solver

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


def _random_start(rng: np.random.Generator, problem: TrainProblem,
                  domains: list[tuple[int, int]]) -> Network:
    arch = problem.arch
    net = random_network(rng, arch.n_inputs, arch.hidden, arch.n_classes, arch.weight_bounds,
                         activation=arch.activation, output=arch.output,
                         bits=int(problem.quantizer.bits))
    return _clip_biases(problem.network(net.layers), domains)


def _solve_block(problem: TrainProblem, options: ModelOptions, block: str,
                 incumbent: Network, loss: int, time_limit: float) -> tuple[Network, int] | None:
    """One block step; returns the (possibly equal) new network and its loss, or None when
    CP-SAT found nothing in time."""
    arch = problem.arch
    try:  # a model too large to build in the time left gives no step
        builder = BDNNCpModel(arch, problem.rows, options,
                              deadline=None if problem.solve.deterministic else problem.at(1.0))
    except ModelBuildTimeout:
        return None
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
    solver = make_solver(problem.solve, time_limit)
    status = solver.Solve(m)
    if not found_solution(status):
        return None
    net = builder.network_from(solver, problem.quantizer, problem.classes)
    return net, int(round(solver.ObjectiveValue()))


def _descent_block(problem: TrainProblem, net: Network, time_limit: float,
                   domains: list[tuple[int, int]]) -> tuple[Network, int]:
    """Single-weight coordinate descent over all rows; biases clipped to the model's domains
    (which the data cannot tell apart from the unclipped ones)."""
    solve = problem.solve
    out = coordinate_descent(net, problem.Q, problem.y, problem.objective, seed=solve.seed,
                             time_limit=None if solve.deterministic else time_limit)
    new = _clip_biases(out.network, domains)
    return new, problem.loss(new)


def train_local_search(
    problem: TrainProblem,
    *,
    restarts: int | None = None,
    block_time_limit: float | None = None,
) -> TrainResult:
    """Block-coordinate descent from the problem's warm start (if any) and random networks.

    ``restarts`` caps the number of starts (None: as many as the time limit allows); each block
    solve gets at most ``block_time_limit`` seconds (default: a tenth of the time limit).
    """
    solve, arch, objective = problem.solve, problem.arch, problem.objective
    Q, y, quantizer = problem.Q, problem.y, problem.quantizer
    warm_start, robust_radius = problem.warm_start, problem.robust_radius
    if restarts is not None and int(restarts) < 1:
        raise BDNNError(f"--restarts must be >= 1, got {restarts}")
    rows = problem.rows
    options = ModelOptions(objective=objective)
    robust_record = apply_robust_radius(options, quantizer, problem.X_raw, Q, rows, robust_radius)
    domains = bias_domains(arch, rows, options)
    lower = problem.lower_bound()
    step_limit = float(block_time_limit or max(0.5, solve.time_limit / 10))
    rng = np.random.default_rng(solve.seed)

    def remaining() -> float:
        if interrupt_requested():  # Ctrl-C: keep the best network so far
            return 0.0
        return problem.remaining()

    # coordinate descent cannot keep robust boxes, so robust runs use the CP-SAT blocks only
    blocks = BLOCKS + (("descent",) if robust_radius is None else ())
    best: Network | None = None
    best_loss: int | None = None
    history: list[dict] = []
    n_starts = 0
    # the first start always runs (a network is owed even when start-up used the budget)
    while ((n_starts == 0 and not interrupt_requested()) or remaining() > 0) and (
            restarts is None or n_starts < int(restarts)):
        if n_starts == 0 and warm_start is not None:
            net = _clip_biases(warm_start, domains)
            origin = "warm-start"
        elif n_starts == 0 and robust_radius is None:
            net, _ = problem_start(problem)
            net = _clip_biases(net, domains)
            origin = "float-start"
        else:
            net = _random_start(rng, problem, domains)
            origin = "random"
        if robust_radius is not None:
            # a random network rarely keeps its pattern on the boxes; all-off units always do
            first = net.layers[0]
            net.layers[0] = Layer(np.zeros_like(first.weights),
                                  np.full_like(first.bias, -1), int(first.weight_bound))
        n_starts += 1
        loss = problem.loss(net)
        steps = [loss]
        stale = 0  # consecutive blocks without improvement
        k = 0
        while stale < len(blocks) and remaining() > 0 and loss > lower:
            block = blocks[k % len(blocks)]
            k += 1
            if block == "descent":
                out = _descent_block(problem, net, min(step_limit, remaining()), domains)
            else:
                out = _solve_block(problem, options, block, net, loss,
                                   min(step_limit, remaining()))
            if out is None:
                stale += 1
                continue
            new_net, new_loss = out
            recomputed = problem.loss(new_net)
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
        assert problem.loss(best) == best_loss
    status = "OPTIMAL" if best_loss <= lower else "FEASIBLE"
    record = {**problem.record("local-search"), "restarts": n_starts,
              "block_time_limit": step_limit, "history": history, **robust_record}
    origin = f"local search ({n_starts} start{'s' if n_starts > 1 else ''})"
    return problem.result(best, record, status=status, objective=best_loss, bound=lower,
                          seconds=problem.elapsed(), origin=origin,
                          stages=[{"stage": "local-search", "status": status, **h}
                                  for h in history])


__all__ = ["train_local_search"]
