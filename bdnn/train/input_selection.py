"""``--max-inputs K``: networks that read at most K of the inputs (docs/design.md §4, "Reading
few inputs").

A network's first layer multiplies every input by a weight; an input whose column of weights is
all zero is never read, so the exported C need not quantize it (nor store its level keys) and a
network that reads few inputs can be exported as a table (the predict table, docs/export.md).

The K inputs are chosen before training, on the quantized training rows only, by greedy forward
selection (Kohavi & John's wrapper) with two classifiers:

* a decision-table majority classifier, while it gains: each step adds the input whose levels,
  together with those already chosen, predict the training labels best by leave-one-out
  majority vote within each cell of equal levels (a row alone in its cell gets the most
  frequent class). Leave-one-out penalises cells too small to vote, so the criterion does not
  simply favour the finest inputs: what a table network of a few inputs needs;
* once no input raises that count (the cells are too fine to vote: after two or three inputs of
  16 levels on a few hundred rows), a nearest-class-mean classifier on the levels, again by
  leave-one-out: the input that, added to those chosen, classifies most rows right by the
  nearest class mean. Without it the table count rewards inputs that split no cell (a constant
  pixel keeps every vote), and ``--max-inputs 24`` on digits read constant border pixels
  (test accuracy 0.47 against 0.93 for all inputs); a class-mean distance is linear in the
  levels, as a network's first layer is.

Then every training method trains on those K columns (a
smaller model for CP-SAT) and the network is widened back with zero weights for the others;
its quantizer puts those inputs at level 0 (``Quantizer.reading_only``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import BDNNError
from ..network import Layer, Network
from .problem import TrainProblem
from .result import TrainResult


def loo_table_correct(cells: np.ndarray, y: np.ndarray, n_classes: int, default: int) -> int:
    """Rows whose label the other rows of their cell (``cells``: a small non-negative cell id
    per row, as ``choose_inputs`` numbers them) predict by majority (ties: the lowest class
    index; no other row: ``default``)."""
    counts = np.zeros((int(cells.max(initial=0)) + 1, n_classes), np.int64)
    np.add.at(counts, (cells, y), 1)
    others = counts[cells]
    others[np.arange(len(y)), y] -= 1
    pred = others.argmax(axis=1)
    pred[others.sum(axis=1) == 0] = default
    return int(np.sum(pred == y))


def loo_mean_correct(dist: np.ndarray, y: np.ndarray, counts: np.ndarray) -> int:
    """Rows the nearest class mean classifies right, leaving each row out of its own class's
    mean. ``dist`` [N, C]: squared distances of every row to every class mean (over the chosen
    inputs), ``counts`` [C]: rows per class. Without row ``i`` its class's mean moves away from
    it by the factor ``n / (n - 1)`` (``n`` that class's rows), so the distance to it is
    ``dist[i, y] (n / (n - 1))^2``; a class of one row has no mean left (infinite distance).
    Ties go to the lower class index."""
    n = len(y)
    own = counts[y].astype(np.float64)
    scale = (own / np.maximum(own - 1, 1)) ** 2
    d = dist.copy()
    d[np.arange(n), y] = np.where(own > 1, dist[np.arange(n), y] * scale, np.inf)
    return int(np.sum(d.argmin(axis=1) == y))


def _joint_cells(cells: np.ndarray, column: np.ndarray, base: int) -> np.ndarray:
    """The cells of ``cells`` split by ``column``'s levels (each below ``base``), numbered
    anew from 0, so the ids stay below ``n x base``."""
    return np.unique(cells * base + column, return_inverse=True)[1].reshape(-1)


def choose_inputs(Q: np.ndarray, y: np.ndarray, k: int, n_classes: int) -> list[int]:
    """The ``min(k, n_inputs)`` inputs greedy forward selection picks (module docstring), in
    increasing order. Ties go to the lower input index, so the choice is deterministic; inputs
    constant on the training rows come after every other."""
    Q = np.asarray(Q, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    n, d = Q.shape
    if k < 1:
        raise BDNNError(f"--max-inputs must be at least 1, got {k}")
    counts = np.bincount(y, minlength=n_classes)
    default = int(counts.argmax())
    sums = np.zeros((n_classes, d))
    np.add.at(sums, y, Q.astype(np.float64))
    means = sums / np.maximum(counts, 1)[:, None]

    def to_means(j: int) -> np.ndarray:
        """Squared distance of every row to every class mean on input ``j`` [N, C]; a class
        without training rows has no mean."""
        d2 = (Q[:, j, None] - means[None, :, j]) ** 2
        d2[:, counts == 0] = np.inf
        return d2

    base = int(Q.max(initial=0)) + 1
    chosen: list[int] = []
    cells = np.zeros(n, np.int64)
    table = loo_table_correct(cells, y, n_classes, default)
    dist = np.zeros((n, n_classes))  # over the chosen inputs
    # inputs constant on the training rows inform no classifier: chosen only when no other
    # is left (the criteria would take one over an input that costs a row)
    constant = set(np.flatnonzero(np.ptp(Q, axis=0) == 0).tolist()) if n else set()
    for _ in range(min(k, d)):
        left = [j for j in range(d) if j not in chosen and j not in constant]
        left = left or [j for j in range(d) if j not in chosen]
        best, best_correct, best_cells = -1, -1, cells
        for j in left:
            trial = _joint_cells(cells, Q[:, j], base)
            correct = loo_table_correct(trial, y, n_classes, default)
            if correct > best_correct:
                best, best_correct, best_cells = j, correct, trial
        if best_correct > table:
            table = best_correct
        else:  # the table gains nothing: the class means choose
            best_correct = -1
            for j in left:
                correct = loo_mean_correct(dist + to_means(j), y, counts)
                if correct > best_correct:
                    best, best_correct = j, correct
            best_cells = _joint_cells(cells, Q[:, best], base)
            table = loo_table_correct(best_cells, y, n_classes, default)
        chosen.append(best)
        cells = best_cells
        dist += to_means(best)
    return sorted(chosen)


def _columns_of(problem: TrainProblem, cols: list[int]) -> TrainProblem:
    """``problem`` on the inputs ``cols`` only (the warm start keeps those columns)."""
    warm = problem.warm_start
    if warm is not None:
        first = warm.layers[0]
        warm = _with_first_layer(warm, warm.quantizer.columns(cols), first.weights[:, cols])
    return problem.replace(
        Q=np.asarray(problem.Q)[:, cols], quantizer=problem.quantizer.columns(cols),
        arch=dataclasses.replace(problem.arch, n_inputs=len(cols)), warm_start=warm,
        X_raw=None if problem.X_raw is None else np.asarray(problem.X_raw)[:, cols],
        Q_val=None if problem.Q_val is None else np.asarray(problem.Q_val)[:, cols],
    )


def widened(net: Network, problem: TrainProblem, cols: list[int]) -> Network:
    """``net`` (trained on the inputs ``cols``) as a network of all of ``problem``'s inputs:
    zero weights on the others, whose quantizer gives level 0 (the same function on every
    row)."""
    first = net.layers[0]
    weights = np.zeros((first.n_out, problem.arch.n_inputs), dtype=first.weights.dtype)
    weights[:, cols] = first.weights
    return _with_first_layer(net, problem.quantizer.reading_only(cols), weights)


def _with_first_layer(net: Network, quantizer, weights: np.ndarray) -> Network:
    """``net`` with another quantizer and first-layer weights (biases and later layers kept)."""
    first = net.layers[0]
    return dataclasses.replace(net, quantizer=quantizer,
                               layers=[Layer(weights, first.bias.copy(), first.weight_bound),
                                       *net.layers[1:]])


def train_reading_few(train, problem: TrainProblem, max_inputs: int) -> TrainResult:
    """``train(problem)`` restricted to the ``max_inputs`` inputs ``choose_inputs`` picks;
    ``train`` is a training method on a problem (``methods.train_network`` without
    ``max_inputs``). The record gains ``max_inputs`` and ``inputs`` (the chosen columns)."""
    cols = choose_inputs(problem.Q, problem.y, max_inputs, problem.n_classes)
    problem.say(f"reading {len(cols)} of {problem.arch.n_inputs} inputs: {cols}")
    result = train(_columns_of(problem, cols))
    net = widened(result.network, problem, cols)
    # the widened network is the same function, so every recorded figure still holds
    Q = np.asarray(problem.Q)
    if not np.array_equal(net.forward_q(Q).scores, result.network.forward_q(Q[:, cols]).scores):
        raise RuntimeError("internal error: widening the network changed its scores")
    net.training.update({"max_inputs": int(max_inputs), "inputs": [int(j) for j in cols]})
    result.network = net
    return result
