"""Training objectives: the per-row loss every trainer minimises (docs/design.md §2, §4, §7).

An ``Objective`` is the one definition of a training loss. It gives

* ``row_losses(scores, y, output)``: the loss of every row from the output layer's integer
  scores — used by the numpy reference (``loss``), the exact trainer's re-check, coordinate
  descent, local search and the data split;
* ``lower_bound(counts, output)``: the loss no network can avoid because rows with equal
  quantized inputs carry different labels (``counts``: label counts per distinct input);
* the CP-SAT side: which output Booleans the model needs (``class_choice``, ``units_needed``),
  their values for a given network (``output_values``, for hints) and the loss terms of one
  distinct row (``row_terms``).

A new objective is one more subclass and one entry in ``OBJECTIVES``. A parametrised objective
(``MarginObjective(m)``) keeps its registry name ("margin") and states its parameters in
``params()``; ``get_objective(name, **params)`` builds it, and the training record stores both
(``objective_name``, ``objective_params``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import BDNNError
from .output_kind import OutputKind
from .records import NamedRecord, lookup

if TYPE_CHECKING:
    from .network import Network


def unit_bits(model: Any, scores: list, prefix: str) -> list:
    """One CP-SAT Boolean per unit, on exactly when its integer pre-activation is ``>= 0``
    (the network's rule, §2): ``v -> s >= 0``, ``not v -> s <= -1``."""
    bits = []
    for j, s in enumerate(scores):
        v = model.NewBoolVar(f"{prefix}_{j}")
        model.Add(s >= 0).OnlyEnforceIf(v)
        model.Add(s <= -1).OnlyEnforceIf(v.Not())
        bits.append(v)
    return bits


class Objective(NamedRecord, ABC):
    """A training loss: a non-negative integer per row, summed over the rows."""

    name: str = ""
    description: str = ""

    # -- the definition ----------------------------------------------------------------
    @abstractmethod
    def row_losses(self, scores: np.ndarray, y: np.ndarray, output: OutputKind) -> np.ndarray:
        """Loss of every row (int64 [N]) for integer output scores [N, n_outputs] and class
        indices ``y``."""

    def loss(self, net: Network, Q: np.ndarray, y: np.ndarray) -> int:
        """The training loss of ``net`` on quantized rows ``Q`` (the numpy forward pass)."""
        return int(self.row_losses(net.forward_q(Q).scores, y, net.output).sum())

    @abstractmethod
    def lower_bound(self, counts: np.ndarray, output: OutputKind) -> int:
        """Loss no network avoids, from label counts per distinct input [U, n_classes]."""

    def params(self) -> dict:
        """The objective's parameters (recorded with its name; empty for a plain objective)."""
        return {}

    def with_params(self, **params: Any) -> Objective:
        """This objective with ``params`` set (a plain objective takes none)."""
        if params:
            raise BDNNError(f"objective {self.name} takes no parameters "
                            f"(got {', '.join(sorted(params))})")
        return self

    def start_objective(self) -> Objective | None:
        """An easier loss to descend on before this one when building a start (None: none)."""
        return None

    # -- the CP-SAT model --------------------------------------------------------------
    def reify_outputs(self, model: Any, scores: list, output: OutputKind,
                      prefix: str) -> list:
        """The output Booleans for one set of output-layer score expressions (a row, or a
        pattern of the table encoding), fully determined by the scores.

        Default: a one-hot class choice with lowest-index tie breaking when ``class_choice``,
        else one bit ``s >= 0`` per output unit."""
        m = model
        if not self.class_choice(output):
            return unit_bits(m, scores, prefix)
        choice = [m.NewBoolVar(f"{prefix}_c{k}") for k in range(len(scores))]
        m.AddExactlyOne(choice)
        for k, sk in enumerate(scores):
            for k2, sk2 in enumerate(scores):
                if k2 != k:
                    # class k wins: strictly above every lower index, at least every higher one
                    m.Add(sk - sk2 >= (1 if k2 < k else 0)).OnlyEnforceIf(choice[k])
        return choice

    def class_choice(self, output: OutputKind) -> bool:
        """True when the model's output Booleans are a one-hot class choice (else one bit
        ``s >= 0`` per output unit)."""
        return False

    def units_needed(self, output: OutputKind, labels: list[int], n_outputs: int) -> list[int]:
        """The output Booleans a distinct row's loss depends on (``labels``: its labels)."""
        return list(range(n_outputs))

    def output_values(self, scores: np.ndarray, output: OutputKind) -> np.ndarray:
        """The output Booleans' values for integer scores [N, n_outputs] (for hints)."""
        scores = np.asarray(scores)
        if not self.class_choice(output):
            return (scores >= 0).astype(np.int64)
        onehot = np.zeros_like(scores, dtype=np.int64)
        onehot[np.arange(len(scores)), output.predict(scores)] = 1
        return onehot

    @abstractmethod
    def row_terms(self, model: Any, out: list, counts: np.ndarray,
                  output: OutputKind) -> tuple[list[tuple[int, Any]], int]:
        """``(terms, constant)``: the loss of one distinct row with label counts ``counts``
        as ``sum(coef * var) + constant`` over its output Booleans ``out`` (may add
        constraints to ``model``)."""

class ErrorsObjective(Objective):
    """Misclassified rows."""

    name = "errors"
    description = "misclassified training rows"

    def row_losses(self, scores, y, output):
        return (output.predict(scores) != np.asarray(y)).astype(np.int64)

    def lower_bound(self, counts, output):
        counts = np.asarray(counts, dtype=np.int64)
        return int((counts.sum(axis=1) - counts.max(axis=1, initial=0)).sum())

    def class_choice(self, output):
        return not output.one_unit

    def units_needed(self, output, labels, n_outputs):
        return list(labels) if self.class_choice(output) else list(range(n_outputs))

    def row_terms(self, model, out, counts, output):
        counts = [int(c) for c in counts]
        if output.one_unit:  # out[0] = predicted class 1: costs the class-0 rows, saves class 1
            return [(counts[0] - counts[1], out[0])], counts[1]
        labels = [k for k, c in enumerate(counts) if c]
        terms = [(-counts[k], out[k]) for k in labels]
        if len(labels) > 1:  # at most one of the row's labels is the predicted class
            model.Add(sum(out[k] for k in labels) <= 1)
        return terms, sum(counts)


class HammingObjective(Objective):
    """The paper's Hamming loss: output bits ``s >= 0`` against the label's target bits."""

    name = "hamming"
    description = "output bits s >= 0 against the one-hot label (Kurtz & Bah)"

    def row_losses(self, scores, y, output):
        scores = np.asarray(scores)
        bits = (scores >= 0).astype(np.int64)
        return (bits != output.target_bits(y, scores.shape[1])).sum(axis=1).astype(np.int64)

    def lower_bound(self, counts, output):
        counts = np.asarray(counts, dtype=np.int64)
        if output.one_unit:  # one bit: the minority label of each input is wrong
            return int(np.minimum(counts[:, 0], counts[:, 1]).sum())
        n = counts.sum(axis=1, keepdims=True)  # each bit independently: on costs n - n_k
        return int(np.minimum(counts, n - counts).sum())

    def row_terms(self, model, out, counts, output):
        counts = [int(c) for c in counts]
        if output.one_unit:
            return [(counts[0] - counts[1], out[0])], counts[1]
        n = sum(counts)  # bit k costs (n - n_k) when on, n_k when off
        return [(n - 2 * nk, out[k]) for k, nk in enumerate(counts)], sum(counts)


def row_margins(scores: np.ndarray, y: np.ndarray, output: OutputKind) -> np.ndarray:
    """How far every row's label's score is above its best rival (int64 [N]; docs/design.md
    §2, margins): ``min over k != y of s_y - s_k`` for argmax; for single ``s`` (class 1) and
    ``-s`` (class 0). A correct row has margin ``>= 0`` (``>= 1`` when a rival of lower index,
    or class 1 for single, would win the tie); ``clears(..., 0)`` says which rows are correct.
    """
    scores = np.asarray(scores, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    if output.one_unit:
        s = scores[:, 0]
        return np.where(y == 1, s, -s).astype(np.int64)
    gap = scores[np.arange(n), y][:, None] - scores
    gap[np.arange(n), y] = np.iinfo(np.int64).max  # not a rival of itself
    return gap.min(axis=1).astype(np.int64)


def clears(scores: np.ndarray, y: np.ndarray, output: OutputKind, margin: int) -> np.ndarray:
    """Rows (bool [N]) classified correctly *and* with ``row_margins >= margin``."""
    correct = output.predict(scores) == np.asarray(y)
    return correct & (row_margins(scores, y, output) >= margin)


def smallest_margin(scores: np.ndarray, y: np.ndarray, output: OutputKind,
                    at_least: int = 0) -> int | None:
    """The smallest ``row_margins`` among the rows that clear ``at_least`` (the rows counted
    correct); None when there are none (the lexicographic second stage's value)."""
    kept = clears(scores, y, output, at_least)
    return int(row_margins(scores, y, output)[kept].min()) if kept.any() else None


class MarginObjective(Objective):
    """Rows not classified correctly with a margin of at least ``margin`` (BeMi's first stage).

    A row counts as correct only when it is classified correctly and its ``row_margins``
    value is ``>= margin``: for argmax the label's score is above every other score by at least
    ``margin`` (and wins any tie by the lowest-index rule when ``margin = 0``), for a single
    unit ``s >= margin`` (class 1) or ``s <= -max(margin, 1)`` (class 0). Only the output
    layer's scores count; hidden units keep their ``>= 0`` threshold (their biases are centred
    afterwards, as for every objective). ``margin = 0`` is ``errors`` row for row; ``margin = 1``
    is "correct without a tie".
    """

    name = "margin"
    description = "rows not classified correctly by at least --margin (BeMi)"

    def __init__(self, margin: int = 1):
        margin = int(margin)
        if margin < 0:
            raise BDNNError(f"--margin must be >= 0, not {margin}")
        self.margin = margin

    def __repr__(self) -> str:
        return f"MarginObjective({self.margin})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MarginObjective):
            return other.margin == self.margin
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash((self.name, self.margin))

    def params(self) -> dict:
        return {"margin": self.margin}

    def with_params(self, **params: Any) -> Objective:
        unknown = set(params) - {"margin"}
        if unknown:
            raise BDNNError(f"objective margin takes only margin, not {', '.join(sorted(unknown))}")
        return MarginObjective(params.get("margin", self.margin))

    def row_losses(self, scores, y, output):
        return (~clears(scores, y, output, self.margin)).astype(np.int64)

    def start_objective(self):
        # a rounded MLP's integer scores are often tied: no row clears m >= 1 and no single
        # weight move changes that; errors first gives descent something to climb
        return ERRORS if self.margin > 0 else None

    def lower_bound(self, counts, output):
        # at most one label of an input clears any margin >= 0: the errors bound
        return ERRORS.lower_bound(counts, output)

    def units_needed(self, output, labels, n_outputs):
        return list(labels)  # one Boolean per class: "class k clears the margin"

    def output_values(self, scores, output):
        scores = np.asarray(scores)
        n = len(scores)
        n_classes = 2 if output.one_unit else scores.shape[1]
        return np.stack([clears(scores, np.full(n, k), output, self.margin)
                         for k in range(n_classes)], axis=1).astype(np.int64)

    def class_margin_bounds(self, scores: list, k: int, output: OutputKind) -> list:
        """``(expression, least)`` pairs: class ``k`` is correct with margin ``m`` iff every
        ``expression >= max(m, least)`` (``least`` = 1 where the tie rule goes against k), and
        its margin is the smallest ``expression``."""
        if output.one_unit:
            return [(scores[0], 0)] if k == 1 else [(-scores[0], 1)]
        return [(scores[k] - scores[j], 1 if j < k else 0)
                for j in range(len(scores)) if j != k]

    def reify_outputs(self, model, scores, output, prefix):
        n_classes = 2 if output.one_unit else len(scores)
        clear = []
        for k in range(n_classes):
            c = model.NewBoolVar(f"{prefix}_m{k}")
            parts = []
            for i, (e, least) in enumerate(self.class_margin_bounds(scores, k, output)):
                need = max(self.margin, least)
                g = model.NewBoolVar(f"{prefix}_m{k}_{i}")
                model.Add(e >= need).OnlyEnforceIf(g)
                model.Add(e <= need - 1).OnlyEnforceIf(g.Not())
                parts.append(g)
            # c <-> every rival cleared (exact both ways: the objective equals the true loss)
            for g in parts:
                model.AddImplication(c, g)
            model.AddBoolOr([c, *[g.Not() for g in parts]])
            clear.append(c)
        if n_classes > 1:
            model.AddAtMostOne(clear)  # implied (a row has one predicted class)
        return clear

    def row_terms(self, model, out, counts, output):
        counts = [int(c) for c in counts]
        labels = [k for k, c in enumerate(counts) if c]
        terms = [(-counts[k], out[k]) for k in labels]
        if len(labels) > 1:
            model.Add(sum(out[k] for k in labels) <= 1)
        return terms, sum(counts)


ERRORS = ErrorsObjective()
HAMMING = HammingObjective()
MARGIN = MarginObjective(1)  # the registry's entry: --margin sets another value

OBJECTIVES: dict[str, Objective] = {o.name: o for o in (ERRORS, HAMMING, MARGIN)}


def get_objective(objective: str | Objective, **params: Any) -> Objective:
    """The objective named ``objective`` (a record passes through), with ``params`` set (e.g.
    ``get_objective("margin", margin=2)``)."""
    record = lookup(OBJECTIVES, objective, Objective, "objective")
    return record.with_params(**params) if params else record


def objective_with_margin(objective: str | Objective, margin: int | None) -> Objective:
    """``get_objective`` for the ``--objective`` / ``--margin`` pair of ``bdnn train`` and the
    select grid: ``margin`` None keeps the objective's own; a margin for an objective without
    one is a one-line ``BDNNError``."""
    try:
        return get_objective(objective, **({} if margin is None else {"margin": margin}))
    except BDNNError as e:
        raise BDNNError(f"{e}; --margin goes with --objective margin") from None


def lexicographic_objective(objective: Objective) -> Objective:
    """What lexicographic training minimises first: the margin objective as given, ``errors``
    as margin 0 (the same loss row for row); any other objective is a one-line ``BDNNError``."""
    if isinstance(objective, MarginObjective):
        return objective
    if objective == ERRORS:
        return MARGIN.with_params(margin=0)
    raise BDNNError(f"--lexicographic works with --objective errors or margin, not "
                    f"{objective.name}")

