"""Weights as code: the network's weights compiled into the instructions of ``NAME_predict``.

With ``BDNN_WEIGHTS_AS_CODE`` 1 (``bdnn export --weights-as-code``; ``codegen.switches``) the C
entry points ``NAME_predict`` and ``NAME_predict_q`` of a single network run this form instead
of the table kernels: every unit is one unrolled sum over its non-zero weights only,
``s = c + X[3] - X[7] + 2 * X[12] ...``, read from the levels of the inputs (the first layer) or
the previous layer's bits, one byte each. A weight costs about two instructions (a byte load
and an add); a zero weight costs nothing, where the table kernels walk every weight. Only the
inputs the first layer reads are quantized, each unrolled with its own level code. The layers'
tables are not compiled in, so the weights live in flash as code, not as model data: the form
suits sparse networks on small cores where instructions per inference matter more than a few
KB of flash (digits 64-16-10 on Cortex-M0: docs/benchmarks.md §11).

Hidden unit ``u`` is on iff ``acc >= threshold`` (``LayerPlan.thresholds``, where the activation
and bias are already folded), so the code starts at ``c = -threshold`` and tests ``s >= 0``. The
output's scores are ``score_scale * acc + offset``, then the output kind's class rule (argmax,
lowest index on ties, or the sign of a single unit). ``NAME_scores_q`` and
``NAME_forward_debug_q`` keep the table kernels. A network with a predict table
(``codegen.predict_table``) keeps the table, which is faster still.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bdnn.ensemble import is_ensemble
from bdnn.errors import BDNNError

from .plan import ModelPlan
from .predict_table import predict_table

BASE_SPAN = 32  # bytes a base pointer reaches: Thumb-1 LDRB's 5-bit offset (AVR LDD: 64)
INT16_MAX = 2**15 - 1


@dataclass(frozen=True)
class CodeUnit:
    """One unit: its non-zero weights as ``(input position, weight)`` and its constant."""

    terms: tuple[tuple[int, int], ...]
    constant: int  # hidden: -threshold (on iff s >= 0); output: the score offset


@dataclass(frozen=True)
class CodeLayer:
    """One layer of the form: its units, read from ``n_in`` bytes."""

    n_in: int
    units: tuple[CodeUnit, ...]
    is_output: bool
    score_scale: int  # output: scores = score_scale * sum + constant (1 for hidden layers)

    @property
    def bases(self) -> list[int]:
        """The base pointers the layer reads through: one per ``BASE_SPAN`` input bytes that a
        unit reads."""
        return sorted({j // BASE_SPAN for u in self.units for j, _ in u.terms})


@dataclass(frozen=True)
class CodeForm:
    """The network as code: the inputs it reads and its layers."""

    inputs_read: tuple[int, ...]  # the inputs quantized, in the order of their positions
    layers: tuple[CodeLayer, ...]
    sum_bits: int  # 16 or 32: every partial sum and score fits int{sum_bits}

    @property
    def n_terms(self) -> int:
        """The non-zero weights: the adds in the code."""
        return sum(len(u.terms) for L in self.layers for u in L.units)


def code_form(plan: ModelPlan) -> CodeForm:
    """The weights-as-code form of a single network's plan. The first layer's input positions
    are those of the inputs it reads (``Network.inputs_read``), so the level array holds
    only those."""
    net = plan.net
    read = tuple(net.inputs_read())
    position = {j: p for p, j in enumerate(read)}
    layers = []
    bound = 0
    max_in = net.quantizer.max_level
    for i, (layer, lp) in enumerate(zip(net.layers, plan.layers, strict=True)):
        W = np.asarray(layer.weights, dtype=np.int64)
        units = []
        for u in range(W.shape[0]):
            cols = np.flatnonzero(W[u])
            terms = tuple((position[int(j)] if i == 0 else int(j), int(W[u, j])) for j in cols)
            c = int(lp.offsets[u]) if lp.is_output else -int(lp.thresholds[u])
            units.append(CodeUnit(terms, c))
            scale = lp.score_scale if lp.is_output else 1
            # every partial sum lies within the sum of the terms' magnitudes and the constant
            bound = max(bound, scale * int(np.abs(W[u]).sum()) * max_in + abs(c))
        layers.append(CodeLayer(len(read) if i == 0 else layer.n_in, tuple(units), lp.is_output,
                                lp.score_scale if lp.is_output else 1))
        max_in = 1
    return CodeForm(read, tuple(layers), 16 if bound <= INT16_MAX else 32)


def term_code(terms: tuple[tuple[int, int], ...], array: str) -> str:
    """`` + X0[3] - 2 * X1[5] ...``: the terms of one base group, through the base pointers
    ``{array}{k}`` (input ``j`` at ``{array}{j // BASE_SPAN}[j % BASE_SPAN]``)."""
    out = []
    for j, w in terms:
        ref = f"{array}{j // BASE_SPAN}[{j % BASE_SPAN}]"
        out.append(f" {'+' if w > 0 else '-'} {f'{abs(w)} * ' if abs(w) > 1 else ''}{ref}")
    return "".join(out)


def unit_statements(unit: CodeUnit, array: str, start: int, acc: str = "s") -> list[dict]:
    """The unit's sum ``start + terms`` as statements, one per base pointer it reads:
    ``{"base": k, "code": ...}`` (the C marks base ``k`` opaque before each, so the compiler
    reloads the bytes per unit instead of keeping every input in a register and spilling). A
    unit with no terms gets one statement without a base."""
    groups: dict[int, list[tuple[int, int]]] = {}
    for j, w in unit.terms:
        groups.setdefault(j // BASE_SPAN, []).append((j, w))
    out = [{"base": k, "code": f"{acc} = {start if n == 0 else acc}"
            + term_code(tuple(terms), array)}
           for n, (k, terms) in enumerate(sorted(groups.items()))]
    return out or [{"base": None, "code": f"{acc} = {start}"}]


def _not_made_for(model: object) -> str | None:
    """Why ``BDNN_WEIGHTS_AS_CODE`` would not change the model's C, or None: an ensemble (its
    members keep their kernels), or a network with a predict table (which its entry points
    use instead, faster still)."""
    if is_ensemble(model):
        return "weights as code is made for a single network, not an ensemble"
    table = predict_table(model)
    if table is not None:
        return (f"this network reads {table.index_bits} input bits, so its predict functions "
                "run its predict table, faster than weights as code")
    return None


def weights_as_code_applies(model: object) -> bool:
    """Whether ``BDNN_WEIGHTS_AS_CODE`` changes the model's C: a single network without a
    predict table."""
    return _not_made_for(model) is None


def check_weights_as_code(model: object) -> None:
    """Raise ``BDNNError`` (one line) for a model that ``BDNN_WEIGHTS_AS_CODE`` would not
    change (``weights_as_code_applies``)."""
    why = _not_made_for(model)
    if why is not None:
        raise BDNNError(f"{why}; drop --weights-as-code")
