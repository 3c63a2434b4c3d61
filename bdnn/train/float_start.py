"""A starting network for the exact solver: a float MLP rounded to integer weights.

On larger data (hundreds of rows, tens of inputs) CP-SAT's own first solutions are poor and a
good hint is worth a lot. A scikit-learn ``MLPClassifier`` with ``tanh`` units (whose sign is a
Heaviside unit) trains in a second; each layer is then rounded:

* weights: a per-unit (hidden) or per-layer (output, so that the argmax is unchanged) scale maps
  the largest |weight| to ``w``, then round and clip to ``[-w, w]``;
* the next layer reads the integer network's own bits, so a tanh output ``s`` becomes
  ``2h - 1`` for heaviside networks: ``W s + b = 2 W h + (b - sum(W))``;
* each hidden bias is chosen by scanning the integer pre-activations of the training rows for the
  threshold that best reproduces the float unit's sign on them.

The rounded network is then improved on the integer side by ``coordinate_descent`` (single-weight
moves with optimal biases, over every training row): ``descended_start``. On digits 64-8-10 this
takes the start from 80 % to 98 % training accuracy in about a second; on credit-card (15,000
rows) from 81 % to 82 %, which CP-SAT alone does not reach in minutes.

The result is only a hint: the exact model keeps the guarantee and the proof.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..network import Layer, Network
from ..objective import Objective, get_objective
from ..quantizer import Quantizer
from .architecture import Architecture
from .coordinate_descent import coordinate_descent
from .safe_solver import interrupt_requested, request_interrupt

if TYPE_CHECKING:
    from .problem import TrainProblem

# Share of the time limit the starts may use: each start is a rounded MLP (another seed) plus
# coordinate descent, a second or two on 15,000 rows; different seeds end in different local
# optima (credit-card, 4 units: 81.5-82.2 % training accuracy), so several starts pay.
DESCENT_SHARE = 0.2
MAX_STARTS = 8
DETERMINISTIC_STARTS = 3
# The first start's MLP fit may use up to this share of the time left (at idle it takes well
# under the descent share: 0.4 s on digits, 1.4 s on credit-card's 15,000 rows); on a busy
# machine its epochs stop there instead of running past the time limit.
FIRST_FIT_SHARE = 0.5
# L2 penalty of the float MLP (scikit-learn's ``alpha``; ``--float-alpha``). A hint for the
# exact solver needs little of it; a network kept as rounded (``--method rounded``) generalises
# better with more (digits, 64-128 units: 1.0 beats 1e-3 by 1-2 test points, docs/benchmarks.md
# §13)
FLOAT_ALPHA = 1e-3


def _clocked_mlp(deadline: float | None, **params):
    """An ``MLPClassifier`` whose fit also ends, after the epoch in progress, at ``deadline``
    (``time.monotonic()``; ``None``: no clock, so the fit depends on the seed only).

    scikit-learn has no callback between epochs; its stochastic solvers ask
    ``_update_no_improvement_count`` after each one whether the loss still improves, so the
    override reports "no improvement" once the clock has run out, which ends adam's fit the
    way convergence does (weights kept). A scikit-learn without that method fits unclocked.
    """
    from sklearn.neural_network import MLPClassifier

    class ClockedMLP(MLPClassifier):
        def _update_no_improvement_count(self, *args, **kwargs):
            super()._update_no_improvement_count(*args, **kwargs)
            if deadline is not None and time.monotonic() >= deadline:
                self._no_improvement_count = self.n_iter_no_change + 1

    return ClockedMLP(**params)


@dataclass
class FloatMLP:
    """A float ``tanh`` MLP of an architecture, its layers rewritten for the integer network's
    inputs: layer ``l`` maps what the integer network's layer ``l`` reads (the quantized codes,
    then ``activation.read`` of the bits) to float pre-activations, a ``tanh`` unit's sign
    being the Heaviside bit."""

    weights: list[np.ndarray]  # float [n_out, n_in] per layer, output rows in bdnn's convention
    biases: list[np.ndarray]  # float [n_out] per layer
    signs: list[np.ndarray]  # bool [N, n_out] per hidden layer: the float unit's sign per row


@dataclass
class RoundedMLP:
    """A ``FloatMLP`` rounded to a ``Network``, with the scale each layer's unit was rounded at
    (float weight = scale x integer weight; one scale per layer for the output)."""

    network: Network
    scales: list[np.ndarray]  # float [n_out] per layer


def fit_float_mlp(Q: np.ndarray, y: np.ndarray, arch: Architecture, seed: int = 0,
                  max_iter: int = 400, deadline: float | None = None,
                  alpha: float = FLOAT_ALPHA) -> FloatMLP:
    """Train a float MLP of ``arch``'s shape on ``Q`` (L2 penalty ``alpha``), rewritten for the
    integer network's inputs. ``deadline`` (``time.monotonic()``) ends its epochs early on a
    slow machine."""
    from sklearn.exceptions import ConvergenceWarning

    # standardised inputs keep the tanh units centred, so their signs carry information
    Qf = np.asarray(Q, dtype=np.float64)
    mu, sd = Qf.mean(axis=0), Qf.std(axis=0)
    sd[sd == 0] = 1.0
    Xf = (Qf - mu) / sd
    mlp = _clocked_mlp(deadline, hidden_layer_sizes=arch.hidden, activation="tanh",
                       max_iter=max_iter, random_state=seed, alpha=float(alpha))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(Xf, y)
    weights, biases, signs = [], [], []
    a_float = Xf
    for li, (Wf, bf) in enumerate(zip(mlp.coefs_, mlp.intercepts_, strict=True)):
        pre = a_float @ Wf + bf
        Wf = Wf.T.copy()  # [n_out, n_in]
        bf = bf.copy()
        if li == 0:  # the float net saw (Q - mu) / sd, the integer one sees Q
            bf = bf - Wf @ (mu / sd)
            Wf = Wf / sd
        else:  # tanh ~ 2h - 1 = (2 / s) x - (2 c / s + 1) where the next layer reads x = s h + c
            act = arch.activation
            bf = bf - (2 * act.shift / act.scale + 1) * Wf.sum(axis=1)
            Wf = (2 / act.scale) * Wf
        if li == arch.n_layers - 1:
            Wf, bf = _output_rows(Wf, bf, arch)
        else:
            signs.append(pre >= 0)
            a_float = np.tanh(pre)
        weights.append(Wf)
        biases.append(bf)
    return FloatMLP(weights, biases, signs)


def round_float_mlp(mlp: FloatMLP, Q: np.ndarray, y: np.ndarray, arch: Architecture,
                    quantizer: Quantizer, classes: list) -> RoundedMLP:
    """Round each layer of ``mlp`` to integers (module docstring): hidden units reproduce the
    float unit's sign on the training rows, the output layer classifies the most rows."""
    layers: list[Layer] = []
    scales: list[np.ndarray] = []
    h_int = np.asarray(Q, dtype=np.int64)  # what the integer network's next layer reads
    for li, (Wf, bf) in enumerate(zip(mlp.weights, mlp.biases, strict=True)):
        w = int(arch.weight_bounds[li])
        x_int = h_int if li == 0 else arch.activation.read(h_int)
        reach = w * arch.widths[li] * (arch.max_level if li == 0 else
                                       max(map(abs, arch.activation.input_range)))
        if li == arch.n_layers - 1:
            layer, scale = _round_output(Wf, bf, x_int, y, w, reach, arch)
            layers.append(layer)
            scales.append(np.full(len(Wf), scale))
            break
        W = np.zeros(Wf.shape, dtype=np.int64)
        b = np.zeros(len(Wf), dtype=np.int64)
        unit_scales = np.zeros(len(Wf))
        for j in range(len(Wf)):
            W[j], b[j], unit_scales[j] = _round_unit(Wf[j], x_int, mlp.signs[li][:, j], w, reach)
        layers.append(Layer(W, b, w))
        scales.append(unit_scales)
        h_int = (x_int @ W.T + b >= 0).astype(np.int64)
    net = Network(quantizer, layers, classes=list(classes), activation=arch.activation,
                  output=arch.output)
    return RoundedMLP(net, scales)


def rounded_mlp_start(Q: np.ndarray, y: np.ndarray, arch: Architecture, quantizer: Quantizer,
                      classes: list, seed: int = 0, max_iter: int = 400,
                      deadline: float | None = None, alpha: float = FLOAT_ALPHA) -> Network:
    """Train a float MLP of ``arch``'s shape on ``Q`` (L2 penalty ``alpha``) and round it to a
    ``Network``.

    ``deadline`` (``time.monotonic()``) ends the MLP's epochs early on a slow machine.
    """
    mlp = fit_float_mlp(Q, y, arch, seed=seed, max_iter=max_iter, deadline=deadline, alpha=alpha)
    return round_float_mlp(mlp, Q, y, arch, quantizer, classes).network


def descended_start(Q: np.ndarray, y: np.ndarray, arch: Architecture, quantizer: Quantizer,
                    classes: list, objective: Objective | str, *, seed: int, time_limit: float,
                    deterministic: bool = False, alpha: float = FLOAT_ALPHA
                    ) -> tuple[Network, dict]:
    """The best of several rounded MLPs, each improved by coordinate descent, and a record.

    Starts from MLP seeds ``seed, seed + 1, ...`` until ``DESCENT_SHARE`` of ``time_limit`` is
    used (at least one, at most ``MAX_STARTS``); the one with the lowest training loss wins.
    The first MLP fit may run to ``FIRST_FIT_SHARE`` of ``time_limit``, later ones to the
    descent share's end. ``deterministic`` runs ``DETERMINISTIC_STARTS`` starts, each fit and
    descent without a clock, so the start depends on the seed only. ``alpha``: the MLPs' L2
    penalty.
    """
    t0 = time.monotonic()
    budget = DESCENT_SHARE * time_limit
    best = None
    losses = []
    for k in range(DETERMINISTIC_STARTS if deterministic else MAX_STARTS):
        left = budget - (time.monotonic() - t0)
        if k > 0 and ((not deterministic and left <= 0) or interrupt_requested()):
            break
        try:
            share = FIRST_FIT_SHARE if k == 0 else DESCENT_SHARE
            rounded = rounded_mlp_start(
                Q, y, arch, quantizer, classes, seed=seed + k,
                deadline=None if deterministic else t0 + share * time_limit, alpha=alpha)
            first = get_objective(objective).start_objective()
            if first is not None:  # e.g. margin: a rounded MLP often clears no margin at all,
                # a plateau for single-weight moves; descend on the easier loss first
                rounded = coordinate_descent(
                    rounded, Q, y, first, seed=seed + k,
                    time_limit=None if deterministic else max(left, 0.0) / 2).network
                left = budget - (time.monotonic() - t0)
            out = coordinate_descent(rounded, Q, y, objective, seed=seed + k,
                                     time_limit=None if deterministic else max(left, 0.0))
        except KeyboardInterrupt:
            if best is None:
                raise
            request_interrupt()  # Ctrl-C: the best start so far is kept, the trainer stops
            break
        losses.append([out.loss_before, out.loss_after])
        if best is None or out.loss_after < best.loss_after:
            best = out
    record = {"objective_rounded": best.loss_before, "objective": best.loss_after,
              "starts": losses, "descent_seconds": round(time.monotonic() - t0, 3)}
    return best.network, record


def problem_start(problem: TrainProblem) -> tuple[Network, dict]:
    """``descended_start`` on ``problem``'s rows, objective, seed and remaining budget with its
    ``float_alpha``, announced on its progress line: the start of exact, local search and
    data splitting."""
    problem.say("float start: rounded MLPs improved by coordinate descent")
    solve = problem.solve
    return descended_start(problem.Q, problem.y, problem.arch, problem.quantizer,
                           problem.classes, problem.objective, seed=solve.seed,
                           time_limit=max(problem.remaining(), 0.0),
                           deterministic=solve.deterministic, alpha=problem.float_alpha)


def _output_rows(Wf: np.ndarray, bf: np.ndarray, arch: Architecture):
    """Float output rows in bdnn's output convention (sklearn has one logit for 2 classes)."""
    if Wf.shape[0] == 1 and not arch.output.one_unit:  # logit for class 1: scores (0, logit)
        return np.vstack([np.zeros_like(Wf), Wf]), np.concatenate([[0.0], bf])
    if Wf.shape[0] > 1 and arch.output.one_unit:  # never: one unit means 2 classes
        return Wf[1:] - Wf[:1], bf[1:] - bf[:1]
    return Wf, bf


def _scales(Wf: np.ndarray, w: int) -> np.ndarray:
    """Candidate scales: the largest |weight| maps to w, down to small weights mapping to 1."""
    top = max(float(np.abs(Wf).max()), 1e-12)
    return top / (w + 0.49) * np.geomspace(1.0, 0.1, 10)


def _round_unit(wf: np.ndarray, x_int: np.ndarray, target: np.ndarray, w: int,
                reach: int) -> tuple[np.ndarray, int, float]:
    """Integer weights, bias and scale whose unit best reproduces the float unit's sign."""
    best = (-1, None, 0, 1.0)
    for scale in _scales(wf, w):
        W = np.clip(np.rint(wf / scale), -w, w).astype(np.int64)
        pre = x_int @ W
        b = _best_threshold(pre, target, reach)
        agree = int(np.sum((pre + b >= 0) == target))
        if agree > best[0]:
            best = (agree, W, b, float(scale))
    return best[1], best[2], best[3]


def _round_output(Wf: np.ndarray, bf: np.ndarray, x_int: np.ndarray, y: np.ndarray, w: int,
                  reach: int, arch: Architecture) -> tuple[Layer, float]:
    """The rounded output layer (one scale for all rows) with the most correct training rows,
    and that scale."""
    best = (-1, None, 1.0)
    for scale in _scales(Wf, w):
        W = np.clip(np.rint(Wf / scale), -w, w).astype(np.int64)
        b = np.clip(np.rint(bf / scale), -(reach + 1), reach + 1).astype(np.int64)
        s = x_int @ W.T + b
        pred = arch.output.predict(s)
        correct = int(np.sum(pred == y))
        if correct > best[0]:
            best = (correct, Layer(W, b, w), float(scale))
    return best[1], best[2]


def _best_threshold(pre: np.ndarray, target: np.ndarray, reach: int) -> int:
    """Bias b in [-(reach+1), reach] maximising agreement of ``pre + b >= 0`` with ``target``."""
    candidates = np.unique(np.concatenate([-pre, [-(reach + 1), reach]]))
    candidates = candidates[(candidates >= -(reach + 1)) & (candidates <= reach)]
    # agreement of bias b: rows that should fire with pre >= -b, plus rows that should not
    # with pre < -b; counted for every candidate at once on the sorted pre-activations (the
    # first best, in ascending b, as a scan would keep)
    target = np.asarray(target, dtype=bool)
    fire = np.sort(pre[target])
    quiet = np.sort(pre[~target])
    agree = (len(fire) - np.searchsorted(fire, -candidates, side="left")
             + np.searchsorted(quiet, -candidates, side="left"))
    return int(candidates[int(np.argmax(agree))])
