"""Attacks on a trained BDNN: the paper's random-sign attack and an exact worst-case check.

* ``random_attack``: the protocol of Kurtz & Bah (2021): every test feature is moved by
  ``+eps`` or ``-eps`` (raw feature units) with a random sign, then the accuracy is measured.
  (The paper moves min-max scaled features; pass ``eps`` in the units of ``X``.)
* ``worst_case_check``: for each test point, CP-SAT decides exactly whether *some* input of the
  l-infinity box of radius ``eps`` around it changes the predicted class. It works in quantized
  space: the box becomes a set of levels per feature (``box.quantized_box``), the network's
  integer forward pass is encoded exactly (Heaviside units as two enforced linear constraints),
  and "class != original class" respects argmax lowest-index tie breaking and the single-unit
  output. A flip comes with a raw float32 counterexample that ``Network.forward`` re-checks.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from ..errors import BDNNError
from ..network import Network
from ..train.safe_solver import StoppableSolves
from .box import QuantizedBox, quantized_box

CERTIFIED = "certified"  # no input of the box changes the class (proof)
FLIPPED = "flipped"  # a counterexample input was found and re-checked
UNKNOWN = "unknown"  # the time limit ended the search
SKIPPED = "skipped"  # misclassified point not checked (only_correct=True)


def _check_data(
    net: Network, X: np.ndarray, y: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise BDNNError(
            f"data has {X.shape[-1] if X.ndim else 0} features, the model expects {net.n_inputs}"
        )
    if X.shape[0] != y.shape[0]:
        raise BDNNError(f"data has {X.shape[0]} rows but {y.shape[0]} labels")
    if not np.all(np.isfinite(X)):
        raise BDNNError("the attacked data contain NaN or infinite values; clean them first")
    if not (np.isfinite(eps) and eps >= 0):
        raise BDNNError(f"the attack radius eps must be a finite number >= 0, got {eps}")
    if y.size and (y.min() < 0 or y.max() >= net.n_classes):
        raise BDNNError(f"labels must be class indices in 0..{net.n_classes - 1}")
    return X, y.astype(np.int64)


# -- random attack -----------------------------------------------------------------------------


def random_sign_perturbation(shape: tuple[int, ...], eps: float, seed: int) -> np.ndarray:
    """``eps`` times a random sign per entry; the same ``seed`` gives the same signs, so two
    models attacked with one seed see the same perturbed inputs."""
    rng = np.random.default_rng(seed)
    return float(eps) * (rng.integers(0, 2, size=shape) * 2 - 1).astype(np.float64)


def random_attack_accuracy(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    eps: float,
    seed: int = 0,
) -> float:
    """Accuracy of any classifier ``predict`` (raw features -> class indices) under the
    random-sign attack; used for the BDNN and for baselines alike."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if X.shape[0] == 0:
        return float("nan")
    attacked = X + random_sign_perturbation(X.shape, eps, seed)
    return float(np.mean(np.asarray(predict(attacked)).reshape(-1) == y))


def random_attack(net: Network, X: np.ndarray, y: np.ndarray, eps: float, seed: int = 0) -> float:
    """Accuracy of ``net`` when every feature of every row of ``X`` moves by ``±eps`` (raw units,
    random sign drawn from ``seed``). ``y`` are class indices (into ``net.classes``).
    ``eps = 0`` gives the plain accuracy."""
    X, y = _check_data(net, X, y, eps)
    return random_attack_accuracy(net.predict, X, y, eps, seed)


# -- worst case ----------------------------------------------------------------------------------


@dataclass
class WorstCaseResult:
    """Per-point outcome of ``worst_case_check`` and the totals."""

    eps: float
    status: list[str]  # per point: certified / flipped / unknown / skipped
    predicted: np.ndarray  # int64 [N], class index without attack
    correct: np.ndarray  # bool [N], predicted == label
    counterexamples: list[np.ndarray | None]  # float32 input in the box that flips, or None
    seconds: float
    solver_seconds: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.status)

    def count(self, status: str) -> int:
        return sum(s == status for s in self.status)

    @property
    def accuracy(self) -> float:
        """Accuracy without attack."""
        return float(np.mean(self.correct)) if self.n else float("nan")

    @property
    def certified_accuracy(self) -> float:
        """Share of points that are correct and proven robust (a lower bound on robust accuracy)."""
        ok = self.correct & np.array([s == CERTIFIED for s in self.status], dtype=bool)
        return float(np.mean(ok)) if self.n else float("nan")

    @property
    def robust_accuracy_upper(self) -> float:
        """Share of points that are correct and not shown to flip (equals the certified accuracy
        when no check ran out of time)."""
        ok = self.correct & np.array([s in (CERTIFIED, UNKNOWN) for s in self.status], dtype=bool)
        return float(np.mean(ok)) if self.n else float("nan")

    def summary(self) -> dict:
        """Machine-readable totals (JSON-friendly)."""
        return {
            "attack": "worst-case",
            "eps": self.eps,
            "n": self.n,
            "accuracy": self.accuracy,
            "certified_accuracy": self.certified_accuracy,
            "robust_accuracy_upper": self.robust_accuracy_upper,
            "certified": self.count(CERTIFIED),
            "flipped": self.count(FLIPPED),
            "unknown": self.count(UNKNOWN),
            "skipped": self.count(SKIPPED),
            "seconds": self.seconds,
        }


def _affine(model: cp_model.CpModel, one: cp_model.IntVar, weights, bias: int, inputs: list):
    """``sum_j weights[j] * inputs[j] + bias`` as a CP-SAT expression; ``inputs[j]`` is a
    variable or a ``(var, scale, offset)`` triple meaning ``scale * var + offset``."""
    vars_, coeffs, const = [one], [0], int(bias)
    for w, x in zip(weights, inputs, strict=True):
        w = int(w)
        if w == 0:
            continue
        if isinstance(x, tuple):
            var, scale, offset = x
            vars_.append(var)
            coeffs.append(w * scale)
            const += w * offset
        else:
            vars_.append(x)
            coeffs.append(w)
    coeffs[0] = const
    return cp_model.LinearExpr.weighted_sum(vars_, coeffs)


def _flip_model(net: Network, levels: list[np.ndarray], original: int):
    """CP-SAT model: integer inputs on ``levels``, exact forward pass, class != ``original``."""
    model = cp_model.CpModel()
    one = model.new_constant(1)
    q = [
        model.new_int_var_from_domain(cp_model.Domain.from_values([int(v) for v in lv]), f"q{i}")
        for i, lv in enumerate(levels)
    ]
    inputs: list = list(q)
    for li, layer in enumerate(net.hidden_layers):
        bits = []
        for j in range(layer.n_out):
            a = _affine(model, one, layer.weights[j], layer.bias[j], inputs)
            h = model.new_bool_var(f"h{li}_{j}")
            model.add(a >= 0).only_enforce_if(h)
            model.add(a <= -1).only_enforce_if(~h)
            bits.append(h)
        # the next layer reads the bit h as scale * h + shift (sign: 2h - 1)
        act = net.activation
        inputs = bits if (act.scale, act.shift) == (1, 0) else [(h, act.scale, act.shift)
                                                                 for h in bits]
    out = net.output_layer
    scores = [_affine(model, one, out.weights[k], out.bias[k], inputs) for k in range(out.n_out)]
    if net.output.one_unit:
        model.add(scores[0] <= -1 if original == 1 else scores[0] >= 0)
    else:
        beats = []
        for k in range(out.n_out):
            if k == original:
                continue
            z = model.new_bool_var(f"beats{k}")
            # argmax takes the lowest index among ties: k < original wins a tie, k > original not
            model.add(scores[k] - scores[original] >= (0 if k < original else 1)).only_enforce_if(z)
            beats.append(z)
        model.add_bool_or(beats)
    return model, q


def _enumerate_flip(net: Network, levels: list[np.ndarray], original: int) -> np.ndarray | None:
    grid = np.array(list(itertools.product(*[lv.tolist() for lv in levels])), dtype=np.int64)
    classes = net.predict_q(grid)
    hits = np.flatnonzero(classes != original)
    return grid[hits[0]] if hits.size else None


def _check_point(
    net: Network,
    box: QuantizedBox,
    original: int,
    time_limit: float,
    num_workers: int,
    enumerate_limit: int,
    solves: StoppableSolves,
) -> tuple[str, np.ndarray | None, float]:
    levels = box.levels(net.quantizer)
    size = 1
    for lv in levels:
        size *= len(lv)
        if size > enumerate_limit:
            break
    if size <= enumerate_limit:  # small boxes: exhaustive and exact, cheaper than a solver call
        q = _enumerate_flip(net, levels, original)
        return (CERTIFIED, None, 0.0) if q is None else (FLIPPED, q, 0.0)
    model, qvars = _flip_model(net, levels, original)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = int(num_workers)
    solver.parameters.random_seed = 0
    status = solves.solve(solver, model)
    seconds = solver.wall_time
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return FLIPPED, np.array([solver.value(v) for v in qvars], dtype=np.int64), seconds
    if status == cp_model.INFEASIBLE:
        return CERTIFIED, None, seconds
    if status == cp_model.UNKNOWN:
        return UNKNOWN, None, seconds
    raise RuntimeError(f"CP-SAT returned {solver.status_name(status)} on the robustness model")


def worst_case_check(
    net: Network,
    X: np.ndarray,
    y: np.ndarray,
    eps: float,
    feature_lo: np.ndarray | float | None = None,
    feature_hi: np.ndarray | float | None = None,
    time_limit: float = 10.0,
    *,
    num_workers: int = 1,
    enumerate_limit: int = 256,
    only_correct: bool = False,
) -> WorstCaseResult:
    """Exact l-infinity robustness of ``net`` at each row of ``X`` (raw features, radius ``eps``
    in raw units); ``y`` are class indices.

    For each row the box ``|v - x|_inf <= eps``, intersected with ``[feature_lo, feature_hi]``
    (per-feature arrays or scalars, e.g. the training data's min and max; ``None`` leaves the
    side open, i.e. limited only by the quantizer's range), is mapped to the set of quantized
    levels its float32 inputs reach. A point is *certified* when no level vector of that box
    changes the predicted class, *flipped* when one does (``counterexamples[i]`` is a float32
    input in the box whose class ``Network.forward`` confirms differs), *unknown* when CP-SAT hit
    ``time_limit`` seconds (per point). Boxes with at most ``enumerate_limit`` level vectors are
    enumerated with the forward pass instead (also exact); ``enumerate_limit=0`` always uses
    CP-SAT. ``only_correct`` skips misclassified rows (they are never robust-correct anyway).
    ``num_workers=1`` keeps the result deterministic.
    """
    X, y = _check_data(net, X, y, eps)
    if time_limit <= 0:
        raise BDNNError(f"the time limit must be > 0 seconds, got {time_limit}")
    start = time.perf_counter()
    predicted = net.predict(X) if X.shape[0] else np.zeros(0, np.int64)
    correct = predicted == y
    status: list[str] = []
    examples: list[np.ndarray | None] = []
    solver_seconds: list[float] = []
    # in this process (a child per point would cost more than most of these solves), with
    # Ctrl-C ending the whole check rather than only this point's solve
    with StoppableSolves() as solves:
        for i in range(X.shape[0]):
            if only_correct and not correct[i]:
                status.append(SKIPPED)
                examples.append(None)
                solver_seconds.append(0.0)
                continue
            box = quantized_box(net.quantizer, X[i], eps, feature_lo, feature_hi)
            outcome, q, secs = _check_point(
                net, box, int(predicted[i]), time_limit, num_workers, enumerate_limit, solves
            )
            example = None
            if outcome == FLIPPED:
                example = box.preimage(net.quantizer, q, X[i])
                # the claim is re-checked on the raw input through the float32 quantizer
                inside = bool(np.all((example >= box.lo) & (example <= box.hi)))
                if not inside or int(net.predict(example[None, :])[0]) == int(predicted[i]):
                    raise RuntimeError(
                        f"internal error: counterexample for row {i} does not flip")
            status.append(outcome)
            examples.append(example)
            solver_seconds.append(secs)
    return WorstCaseResult(
        eps=float(eps),
        status=status,
        predicted=np.asarray(predicted, dtype=np.int64),
        correct=np.asarray(correct, dtype=bool),
        counterexamples=examples,
        seconds=time.perf_counter() - start,
        solver_seconds=solver_seconds,
    )
