"""Coordinate descent on the integer network itself, over the whole training set.

CP-SAT proves optima on hundreds of rows but on thousands (credit-card: 15,000) its models are
too large to improve a start much, and gradient-trained float networks optimise cross-entropy,
not errors: on credit-card, logistic regression reaches 80.8 % test accuracy while the single
rule ``PAY_0 >= 2`` reaches 82.0 %. This pass searches the integer weights directly:

* one move changes one weight of one unit to another allowed value; the unit's bias is then
  chosen optimally by a sorted scan: with everything else fixed, each row's loss is ``off_r``
  below the threshold ``-pre_r`` and ``on_r`` at or above it, so the loss of every bias is a
  cumulative sum over the sorted thresholds (``O(n log n)`` per move, exact);
* output units try every bias in their (small) range directly;
* the best move of a unit is taken only if it strictly lowers the training loss (the
  ``Objective``'s row losses), so the loss never increases and the search ends in a local optimum;
* at the end every hidden bias is moved to the middle of its optimal interval (same training
  loss, largest margin to the training rows' pre-activations).

It works for any depth, both activations and both output conventions. Robust training does not
use it: a move would have to keep every training box's pattern.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..network import Layer, Network
from ..objective import Objective, get_objective
from .safe_solver import interrupt_requested, request_interrupt

# A final descent after a trainer's budget may run past the limit by this share of it (it stops
# at a local optimum, typically within a second or two).
POLISH_MIN_SHARE = 0.05


@dataclass
class DescentResult:
    """The improved network, its training loss before and after, and the work done."""

    network: Network
    loss_before: int
    loss_after: int
    sweeps: int
    moves: int
    seconds: float


class _State:
    """Integer weights, biases and the cached inputs of every layer on the training rows."""

    def __init__(self, net: Network, Q: np.ndarray, y: np.ndarray, objective: Objective):
        self.net = net
        self.W = [layer.weights.copy() for layer in net.layers]
        self.b = [layer.bias.copy() for layer in net.layers]
        self.bounds = [int(layer.weight_bound) for layer in net.layers]
        self.bias_bounds = [net.bias_bound(i) for i in range(len(net.layers))]
        self.y = np.asarray(y, dtype=np.int64)
        self.objective = objective
        self.inputs: list[np.ndarray] = [np.asarray(Q, dtype=np.int64)]
        self.refresh(0)

    def layer_input(self, h: np.ndarray) -> np.ndarray:
        return self.net.activation.read(h)

    def refresh(self, start: int) -> None:
        """Recompute the inputs of layers after ``start`` and the output scores."""
        del self.inputs[start + 1:]
        x = self.inputs[start]
        for i in range(start, len(self.W)):
            a = x @ self.W[i].T + self.b[i]
            if i == len(self.W) - 1:
                self.scores = a
                break
            x = self.layer_input((a >= 0).astype(np.int64))
            self.inputs.append(x)

    def tail_losses(self, layer: int, x_next: np.ndarray) -> np.ndarray:
        """Per-row loss when layer ``layer + 1`` reads ``x_next`` (later layers unchanged)."""
        x = x_next
        for i in range(layer + 1, len(self.W)):
            a = x @ self.W[i].T + self.b[i]
            if i == len(self.W) - 1:
                return self.row_losses(a)
            x = self.layer_input((a >= 0).astype(np.int64))
        raise AssertionError("unreachable")

    def unit_costs(self, layer: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-row loss with hidden unit ``j`` of ``layer`` forced off, and forced on."""
        nxt = self.inputs[layer + 1].copy()
        costs = []
        for bit in (0, 1):
            nxt[:, j] = self.layer_input(np.array([bit], dtype=np.int64))[0]
            costs.append(self.tail_losses(layer, nxt))
        return costs[0], costs[1]

    def apply(self, layer: int, j: int, move: tuple | None) -> bool:
        """Apply ``(loss, input or None, weight, bias)`` to unit ``j``; False for no move."""
        if move is None:
            return False
        _, i, v, b = move
        if i is not None:
            self.W[layer][j, i] = v
        self.b[layer][j] = b
        self.refresh(layer)
        return True

    def snapshot(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [W.copy() for W in self.W], [b.copy() for b in self.b]

    def restore(self, saved: tuple[list[np.ndarray], list[np.ndarray]]) -> None:
        self.W, self.b = [W.copy() for W in saved[0]], [b.copy() for b in saved[1]]
        self.refresh(0)

    def row_losses(self, scores: np.ndarray) -> np.ndarray:
        """Per-row loss of output scores (the objective's one definition)."""
        return self.objective.row_losses(scores, self.y, self.net.output)

    def loss(self) -> int:
        return int(self.row_losses(self.scores).sum())

    def network(self) -> Network:
        layers = [Layer(W.copy(), b.copy(), wb) for W, b, wb in zip(self.W, self.b, self.bounds,
                                                                   strict=True)]
        return Network(self.net.quantizer, layers, classes=list(self.net.classes),
                       activation=self.net.activation, output=self.net.output,
                       training=dict(self.net.training))


def best_threshold_bias(pre: np.ndarray, off: np.ndarray, on: np.ndarray, lo: int, hi: int,
                        prefer: int | None = None) -> tuple[int, int, int, int]:
    """Best bias in ``[lo, hi]`` for a unit ``pre + b >= 0`` whose rows cost ``off``/``on``.

    Returns ``(loss, first, last, middle)``: the optimal loss and an interval of biases that all
    give it — the one holding ``prefer`` if there is one, else the widest (the largest margin
    to the rows' pre-activations) — and its middle.
    """
    t = -pre  # the unit is on for a row iff b >= t
    order = np.argsort(t, kind="stable")
    ts = t[order]
    delta = np.concatenate([[0], np.cumsum(on[order] - off[order])])
    base = int(off.sum())
    # candidate biases: lo, and every threshold inside (lo, hi]; loss is constant in between
    cand = np.unique(np.concatenate([[lo], ts[(ts > lo) & (ts <= hi)]]))
    losses = base + delta[np.searchsorted(ts, cand, side="right")]
    best = int(losses.min())
    ends = np.append(cand[1:] - 1, hi)  # candidate k covers biases cand[k] .. ends[k]
    runs = []  # maximal runs of consecutive optimal candidates: (first, last)
    for k in np.flatnonzero(losses == best):
        if runs and runs[-1][2] == k - 1:
            runs[-1] = (runs[-1][0], int(ends[k]), k)
        else:
            runs.append((int(cand[k]), int(ends[k]), k))
    chosen = max(runs, key=lambda r: r[1] - r[0])
    if prefer is not None:
        chosen = next((r for r in runs if r[0] <= prefer <= r[1]), chosen)
    first, last = chosen[0], chosen[1]
    return best, first, last, (first + last) // 2


def _improve_hidden_unit(st: _State, layer: int, j: int, rng: np.random.Generator) -> bool:
    x = st.inputs[layer]
    off, on = st.unit_costs(layer, j)
    lo, hi = -st.bias_bounds[layer], st.bias_bounds[layer]
    w = st.W[layer][j]
    pre0 = x @ w
    current = st.loss()
    best = None
    bound = st.bounds[layer]
    for i in rng.permutation(len(w)):
        for v in range(-bound, bound + 1):
            if v == w[i]:
                continue
            pre = pre0 + (v - w[i]) * x[:, i]
            loss, _, _, mid = best_threshold_bias(pre, off, on, lo, hi)
            if loss < current and (best is None or loss < best[0]):
                best = (loss, int(i), v, mid)
    loss, _, _, mid = best_threshold_bias(pre0, off, on, lo, hi)  # the bias alone
    if loss < current and (best is None or loss < best[0]):
        best = (loss, None, None, mid)
    return st.apply(layer, j, best)


def _improve_output_unit(st: _State, k: int, rng: np.random.Generator) -> bool:
    last = len(st.W) - 1
    x = st.inputs[last]
    w = st.W[last][k]
    bias_values = np.arange(-st.bias_bounds[last], st.bias_bounds[last] + 1)
    base = st.scores.copy()
    col0 = base[:, k] - st.b[last][k]  # unit k's score without its bias
    current = st.loss()
    best = None
    bound = st.bounds[last]
    moves: list[tuple[int | None, int | None]] = [(None, None)]
    moves += [(int(i), v) for i in rng.permutation(len(w)) for v in range(-bound, bound + 1)
              if v != w[i]]
    for i, v in moves:
        col = col0 if i is None else col0 + (v - w[i]) * x[:, i]
        for b in bias_values:
            base[:, k] = col + b
            loss = int(st.row_losses(base).sum())
            if loss < current and (best is None or loss < best[0]):
                best = (loss, i, v, int(b))
    return st.apply(last, k, best)


def _center_biases(st: _State) -> None:
    """Move each hidden bias to the middle of its optimal interval (training loss unchanged)."""
    for layer in range(len(st.W) - 1):
        for j in range(st.W[layer].shape[0]):
            off, on = st.unit_costs(layer, j)
            pre = st.inputs[layer] @ st.W[layer][j]
            lo, hi = -st.bias_bounds[layer], st.bias_bounds[layer]
            before = st.loss()
            b = int(st.b[layer][j])
            loss, first, last, mid = best_threshold_bias(pre, off, on, lo, hi, prefer=b)
            if loss == before and first <= b <= last and mid != b:
                st.b[layer][j] = mid
                st.refresh(layer)
                assert st.loss() == before


def center_biases(net: Network, Q: np.ndarray, y: np.ndarray,
                  objective: Objective | str = "errors") -> Network:
    """``net`` with every hidden bias moved to the middle of the interval of biases that give
    the same training loss: the loss is unchanged, the margin to the training rows is largest
    (iris 4-4-3, 50 % split, seed 0: test accuracy 0.919 -> 0.946 at the same proven optimum).
    """
    st = _State(net, Q, y, get_objective(objective))
    before = st.loss()
    _center_biases(st)
    assert st.loss() == before
    return st.network()


def coordinate_descent(net: Network, Q: np.ndarray, y: np.ndarray,
                       objective: Objective | str = "errors",
                       *, time_limit: float | None = 10.0, seed: int = 0, max_sweeps: int = 100,
                       center: bool = True) -> DescentResult:
    """Improve ``net`` by single-weight moves with optimal biases until no move helps.

    Stops at a local optimum, after ``max_sweeps`` sweeps over all units, or after
    ``time_limit`` seconds (checked between units; ``None``: no clock, so the result depends on
    ``seed`` only, for deterministic runs). The training loss never increases.
    """
    t0 = time.monotonic()
    limit = float("inf") if time_limit is None else float(time_limit)
    rng = np.random.default_rng(seed)
    st = _State(net, Q, y, get_objective(objective))
    before = st.loss()
    sweeps = moves = 0
    improved = True
    try:
        while improved and sweeps < max_sweeps and time.monotonic() - t0 < limit:
            improved = False
            sweeps += 1
            units = [(layer, j) for layer in range(len(st.W))
                     for j in range(st.W[layer].shape[0])]
            for u in rng.permutation(len(units)):
                if time.monotonic() - t0 >= limit or interrupt_requested():
                    break
                layer, j = units[u]
                saved = st.snapshot()
                prev = st.loss()
                try:
                    if layer < len(st.W) - 1:
                        changed = _improve_hidden_unit(st, layer, j, rng)
                    else:
                        changed = _improve_output_unit(st, j, rng)
                except KeyboardInterrupt:
                    st.restore(saved)  # a move cut in half could raise the loss
                    raise
                if changed:
                    assert st.loss() < prev, "coordinate descent must lower the loss"
                    moves += 1
                    improved = True
        if center:
            saved = st.snapshot()
            try:
                _center_biases(st)
            except KeyboardInterrupt:
                st.restore(saved)
                raise
    except KeyboardInterrupt:
        request_interrupt()  # Ctrl-C: keep the network so far; the trainer stops after this
    after = st.loss()
    return DescentResult(st.network(), before, after, sweeps, moves, time.monotonic() - t0)


__all__ = ["POLISH_MIN_SHARE", "DescentResult", "best_threshold_bias", "center_biases",
           "coordinate_descent"]
