"""Structured ensembles of binarized networks and their exact integer vote (docs/design.md §2).

An ensemble is a list of two-class member networks that share one quantizer, activation and
output convention, combined by an ``EnsembleKind``:

* ``ovo`` (one-vs-one, BeMi's structured ensemble): one member per pair of classes ``a < b``,
  trained on that pair's rows only; local class 0 is ``a``, 1 is ``b``.
* ``ovr`` (one-vs-rest): one member per class ``c``; local class 1 is ``c``, 0 the rest.

Every member reduces to one integer, its *decision* ``d``: ``s1 - s0`` for the ``argmax``
output (two scores), ``s0`` for the ``single`` output. The member picks local class 1 iff
``d >= t`` with ``t = 1`` for argmax (a tie goes to local class 0, the lower index, as in
``OutputKind.predict``) and ``t = 0`` for single, so the member's own prediction is unchanged.

Votes (all integer, so numpy, ONNX and C agree bit for bit):

* ovo: each member gives one vote to the class it picks and adds ``|d|`` to that class's margin
  sum; the class with the most votes wins, ties go to the larger margin sum, then to the lowest
  class index.
* ovr: the class whose member's decision ``d`` is largest; ties go to the lowest class index.

``Ensemble`` offers the interface the exporters and ``bdnn verify`` read from ``Network``:
``n_inputs``, ``classes``, ``quantizer``, ``forward_q`` (scores = the members' scores
concatenated, hidden bits = the members' hidden layers concatenated), ``predict``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from .errors import BDNNError
from .network import ForwardResult, Network, Predicts
from .quantizer import AnyQuantizer
from .records import NamedRecord, lookup


@dataclass(frozen=True, eq=False)
class EnsembleKind(NamedRecord):
    """How an ensemble splits a k-class problem into two-class members and votes."""

    name: str
    description: str
    member_classes: Callable[[int], list[tuple[int, ...]]]  # n_classes -> class sets
    pairwise: bool  # True: member (a, b) votes a or b; False: member (c,) scores class c

    def member_rows(self, classes: tuple[int, ...], y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask of the rows the member trains on, their local labels 0/1)."""
        y = np.asarray(y, dtype=np.int64)
        if self.pairwise:
            a, b = classes
            mask = (y == a) | (y == b)
            return mask, (y[mask] == b).astype(np.int64)
        (c,) = classes
        return np.ones(len(y), bool), (y == c).astype(np.int64)

    def class_keys(self, decisions: np.ndarray, member_classes: list[tuple[int, ...]],
                   thresholds: np.ndarray, n_classes: int, margin_weight: int) -> np.ndarray:
        """int64 [N, n_classes]: the vote as one integer per class, whose first largest entry
        is the class. ovr: the decision of each class's member. ovo: ``votes * margin_weight +
        margin sum``, with ``margin_weight`` above any margin sum, so the order is (votes, then
        margin sum) exactly as the C compares them."""
        d = np.asarray(decisions, dtype=np.int64)
        n = d.shape[0]
        if not self.pairwise:
            keys = np.zeros((n, n_classes), dtype=np.int64)
            for k, (c,) in enumerate(member_classes):
                keys[:, c] = d[:, k]
            return keys
        votes = np.zeros((n, n_classes), np.int64)
        margins = np.zeros((n, n_classes), np.int64)
        rows = np.arange(n)
        for k, (a, b) in enumerate(member_classes):
            winner = np.where(d[:, k] >= thresholds[k], b, a)
            votes[rows, winner] += 1
            margins[rows, winner] += np.abs(d[:, k])
        return votes * np.int64(margin_weight) + margins

    def vote(self, decisions: np.ndarray, member_classes: list[tuple[int, ...]],
             thresholds: np.ndarray, n_classes: int, margin_weight: int) -> np.ndarray:
        """Class indices (int64 [N]) from the members' decisions (int64 [N, n_members]);
        ties go to the lowest class index."""
        keys = self.class_keys(decisions, member_classes, thresholds, n_classes, margin_weight)
        return np.argmax(keys, axis=1).astype(np.int64)


def _pairs(n_classes: int) -> list[tuple[int, ...]]:
    return [tuple(p) for p in combinations(range(n_classes), 2)]


def _singles(n_classes: int) -> list[tuple[int, ...]]:
    return [(c,) for c in range(n_classes)]


OVO = EnsembleKind("ovo", "one member per pair of classes, majority vote", _pairs, True)
OVR = EnsembleKind("ovr", "one member per class against the rest, largest decision", _singles,
                   False)
ENSEMBLE_KINDS: dict[str, EnsembleKind] = {k.name: k for k in (OVO, OVR)}


def get_ensemble_kind(kind: str | EnsembleKind) -> EnsembleKind:
    """The ensemble kind named ``kind`` (a record passes through)."""
    return lookup(ENSEMBLE_KINDS, kind, EnsembleKind, "ensemble")


def decision_matrix(net: Network) -> np.ndarray:
    """int64 [n_outputs, 1]: the member's decision ``d`` as scores @ matrix."""
    if net.output.one_unit:
        return np.array([[1]], np.int64)
    return np.array([[-1], [1]], np.int64)


def decision_threshold(net: Network) -> int:
    """``t``: the member picks local class 1 iff ``d >= t`` (argmax ties go to class 0)."""
    return 0 if net.output.one_unit else 1


@dataclass
class Ensemble(Predicts):
    """Two-class member networks sharing one quantizer, combined by an ``EnsembleKind``."""

    kind: EnsembleKind | str
    members: list[Network]
    member_classes: list[tuple[int, ...]]  # class indices into ``classes`` per member
    classes: list = field(default_factory=lambda: [0, 1, 2])
    training: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = get_ensemble_kind(self.kind)
        self.member_classes = [tuple(int(c) for c in m) for m in self.member_classes]
        self.validate()

    def validate(self) -> None:
        """Raise ``BDNNError`` unless the members fit the kind, the classes and each other."""
        k = len(self.classes)
        if k < 3:
            raise BDNNError(f"an ensemble needs at least 3 classes, got {k}; "
                            "train a single network for 2 classes")
        if len({str(c) for c in self.classes}) != k:
            raise BDNNError("class labels must be distinct")
        expected = self.kind.member_classes(k)
        if self.member_classes != expected:
            raise BDNNError(f"a {self.kind.name} ensemble of {k} classes has members "
                            f"{[list(m) for m in expected]}, got "
                            f"{[list(m) for m in self.member_classes]}")
        if len(self.members) != len(expected):
            raise BDNNError(f"{len(self.members)} member networks for {len(expected)} members")
        first = self.members[0]
        for i, m in enumerate(self.members):
            m.validate()
            if m.n_classes != 2:
                raise BDNNError(f"member {i} has {m.n_classes} classes; members are two-class")
            # the file form compares every quantizer kind exactly (float32 values as floats)
            if m.quantizer.to_dict() != first.quantizer.to_dict():
                raise BDNNError(f"member {i} has another quantizer; members share one")
            if m.activation is not first.activation or m.output is not first.output:
                raise BDNNError(f"member {i} has another activation or output; members share "
                                "them")

    # -- the Network-like interface ----------------------------------------------------------
    @property
    def quantizer(self) -> AnyQuantizer:
        return self.members[0].quantizer

    @property
    def activation(self):
        return self.members[0].activation

    @property
    def output(self):
        return self.members[0].output

    @property
    def n_outputs(self) -> int:
        """Integer scores: the members' output scores concatenated."""
        return int(sum(m.n_outputs for m in self.members))

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        """Every member's hidden layer widths, members in order (the hidden bits' layout)."""
        return tuple(w for m in self.members for w in m.hidden_widths)

    @property
    def decision_thresholds(self) -> np.ndarray:
        return np.array([decision_threshold(m) for m in self.members], np.int64)

    def decisions(self, scores: np.ndarray) -> np.ndarray:
        """The members' decisions (int64 [N, n_members]) from the concatenated scores."""
        scores = np.asarray(scores, dtype=np.int64)
        out, start = [], 0
        for m in self.members:
            out.append(scores[:, start:start + m.n_outputs] @ decision_matrix(m))
            start += m.n_outputs
        return np.hstack(out)

    def class_keys(self, scores: np.ndarray) -> np.ndarray:
        """int64 [N, n_classes]: one integer per class whose first largest is the vote's class
        (``EnsembleKind.class_keys``), from the concatenated member scores."""
        return self.kind.class_keys(self.decisions(scores), self.member_classes,
                                    self.decision_thresholds, self.n_classes,
                                    self.margin_bound() + 1)

    def vote(self, scores: np.ndarray) -> np.ndarray:
        """Class indices from the concatenated member scores (int64 [N, n_outputs])."""
        return np.argmax(self.class_keys(scores), axis=1).astype(np.int64)

    def forward_q(self, Q: np.ndarray) -> ForwardResult:
        """Every member on quantized rows; class by the vote."""
        results = [m.forward_q(Q) for m in self.members]
        scores = np.hstack([r.scores for r in results])
        hidden = [h for r in results for h in r.hidden_bits]
        pre = [p for r in results for p in r.preactivations]
        return ForwardResult(self.vote(scores), scores, hidden, pre)

    def n_weights(self) -> int:
        return int(sum(m.n_weights() for m in self.members))

    def n_nonzero_weights(self) -> int:
        return int(sum(m.n_nonzero_weights() for m in self.members))

    def margin_bound(self) -> int:
        """A bound on any class's margin sum (sum over members of the largest |d|)."""
        return int(sum(2 * m.preactivation_bound(len(m.layers) - 1) for m in self.members))


def is_ensemble(model: object) -> bool:
    """True for an :class:`Ensemble` (the exporters branch on the record type, not a name)."""
    return isinstance(model, Ensemble)
