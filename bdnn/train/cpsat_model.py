"""The exact mixed-integer model of a BDNN in CP-SAT (docs/design.md §4).

Layer 1 reads constant quantized inputs, so its pre-activations are linear in the weights and the
activation link is a pair of indicator constraints (``h -> a >= 0``, ``not h -> a <= -1``): exact
for integers, no big-M, no epsilon.

A layer that reads hidden bits is encoded one of two ways:

* **pattern table** (when its input layer has at most ``pattern_limit`` activation patterns):
  the layer is imposed only on the 2^H fixed input patterns, where it is linear and product-free;
  each row is tied to its pattern by clauses ("row's pattern is t => row's output is the table's
  output at t"). This is what lets CP-SAT prove optima (docs/design.md §4, pattern decomposition).
* **products** (wide layers): a per-row integer ``z = w * h`` tied by two enforced equalities.

Every auxiliary variable is fully determined by the weights, so the objective of any solution
equals the network's true training loss (checked again by the numpy forward pass).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from ..network import Layer, Network
from ..objective import Objective, clears, get_objective, row_margins, unit_bits
from ..quantizer import Quantizer
from .architecture import Architecture
from .rows import UniqueRows

DEFAULT_PATTERN_LIMIT = 256


class ModelBuildTimeout(Exception):
    """Building the model passed its deadline (huge data x wide layers)."""


@dataclass
class ModelOptions:
    """Modelling choices (they change the search, never the optimum)."""

    objective: Objective | str = "errors"  # a record, or its name
    pattern_limit: int = DEFAULT_PATTERN_LIMIT
    symmetry_breaking: bool = False
    # Robust training: per unique row and input, the quantized box [box_lo, box_hi] on which the
    # first-layer activation pattern must hold. None = the point itself.
    box_lo: np.ndarray | None = None
    box_hi: np.ndarray | None = None
    # Rows that must share one activation pattern per hidden layer (data-splitting): a group id
    # per unique row, or None.
    groups: np.ndarray | None = None


@dataclass
class _LayerVars:
    W: list[list[cp_model.IntVar]]
    b: list[cp_model.IntVar]
    bias_domain: tuple[int, int]
    encoding: str = "linear"  # first layer: "linear"; later: "table" or "product"
    table: list[list[cp_model.IntVar]] = field(default_factory=list)  # [pattern][unit]
    out: list[list[cp_model.IntVar]] = field(default_factory=list)  # per unique row, per unit
    products: dict = field(default_factory=dict)  # (row, unit, input) -> z = w * h


def split_signs(m: cp_model.CpModel, W: list[list[cp_model.IntVar]], w: int):
    """Variables ``P, N`` in ``[0, w]`` with ``W = P - N`` and at most one of them non-zero
    (a sign literal per weight), for the robust box bounds ``P lo - N hi`` / ``P hi - N lo``.

    Returns ``P``, ``N`` and ``(unit, input, P, N, sign)`` per weight.
    """
    P = [[m.NewIntVar(0, w, f"P0_{j}_{i}") for i in range(len(row))] for j, row in enumerate(W)]
    N = [[m.NewIntVar(0, w, f"N0_{j}_{i}") for i in range(len(row))] for j, row in enumerate(W)]
    signs = []
    for j, row in enumerate(W):
        for i, v in enumerate(row):
            pos = m.NewBoolVar(f"S0_{j}_{i}")
            m.Add(N[j][i] == 0).OnlyEnforceIf(pos)
            m.Add(P[j][i] == 0).OnlyEnforceIf(pos.Not())
            m.Add(v == P[j][i] - N[j][i])
            signs.append((j, i, P[j][i], N[j][i], pos))
    return P, N, signs


def bias_domain(arch: Architecture, li: int, first_inputs: np.ndarray) -> tuple[int, int]:
    """Tight bias range of layer ``li``: beyond it a unit is constant on every row (the first
    layer, whose largest inputs per row are ``first_inputs``) or on every input (later
    layers). The output layer keeps one more value, so that a constant unit can score 0."""
    w = int(arch.weight_bounds[li])
    if li == 0:
        reach = w * int(np.abs(first_inputs).sum(axis=1).max(initial=0))
    else:
        reach = w * arch.widths[li]
    return -(reach + 1), reach + (1 if li == arch.n_layers - 1 else 0)


def bias_domains(arch: Architecture, rows: UniqueRows,
                 options: ModelOptions) -> list[tuple[int, int]]:
    """``bias_domain`` of every layer, as ``BDNNCpModel`` gives them (without building it)."""
    hi_box = rows.Q if options.box_hi is None else options.box_hi
    return [bias_domain(arch, li, hi_box) for li in range(arch.n_layers)]


def _patterns(width: int) -> list[tuple[int, ...]]:
    """All 0/1 vectors of length ``width``; pattern index t has bit j = (t >> j) & 1."""
    return [tuple((t >> j) & 1 for j in range(width)) for t in range(1 << width)]


def canonical_order(net: Network, domains: list[tuple[int, int]] | None = None,
                    first: int = 0) -> Network:
    """``net`` with each hidden layer's units permuted into lexicographic order of ``(bias,
    weights)`` (the next layer's weight columns permuted with them): the same function, in the
    order ``ModelOptions.symmetry_breaking`` asks for. ``domains``: the model's bias range per
    layer, the biases are compared as the model clips them; layers before ``first`` are left
    as they are."""
    layers = [Layer(la.weights.copy(), la.bias.copy(), la.weight_bound) for la in net.layers]
    for li in range(first, len(layers) - 1):
        la = layers[li]
        bias = la.bias if domains is None else np.clip(la.bias, *domains[li])
        keys = [(int(bias[j]), *(int(v) for v in la.weights[j])) for j in range(len(bias))]
        order = sorted(range(len(keys)), key=lambda j: keys[j])
        layers[li] = Layer(la.weights[order], la.bias[order], la.weight_bound)
        nxt = layers[li + 1]
        layers[li + 1] = Layer(nxt.weights[:, order], nxt.bias, nxt.weight_bound)
    return Network(net.quantizer, layers, classes=list(net.classes), activation=net.activation,
                   output=net.output, training=dict(net.training))


class BDNNCpModel:
    """Builds the CP-SAT model for an architecture and training rows; reads solutions back."""

    def __init__(self, arch: Architecture, rows: UniqueRows, options: ModelOptions | None = None,
                 deadline: float | None = None):
        """``deadline`` (a ``time.monotonic()`` value): raise ``ModelBuildTimeout`` when the
        per-row construction passes it."""
        self.arch = arch
        self.deadline = deadline
        self.rows = rows
        self.options = options or ModelOptions()
        self.objective = get_objective(self.options.objective)
        self.model = cp_model.CpModel()
        self.layers: list[_LayerVars] = []
        self.loss_terms: list[tuple[int, cp_model.IntVar]] = []  # (coef, var) in the loss
        self.loss_constant = 0
        self.nonzero: list[cp_model.IntVar] = []
        # the output layer's score expressions, by the prefix of their Booleans (a table
        # pattern "g{li}_{t}" or a row "v{li}_{r}"): the margin stage reads them
        self.output_scores: dict[str, list] = {}
        self.margin_var: cp_model.IntVar | None = None
        self.margin_use: dict[tuple[int, int], cp_model.IntVar] = {}
        self.margin_domain = (0, 0)
        self._build()

    # -- construction ----------------------------------------------------------------------
    def _check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ModelBuildTimeout(f"model building passed its deadline ({self.rows.n_rows} "
                                    f"rows, layers {self.arch.widths})")

    def _build(self) -> None:
        arch = self.arch
        widths = arch.widths
        for li in range(arch.n_layers):
            w = int(arch.weight_bounds[li])
            n_in, n_out = widths[li], widths[li + 1]
            lo, hi = self._bias_domain(li)
            W = [
                [self.model.NewIntVar(-w, w, f"W{li}_{j}_{i}") for i in range(n_in)]
                for j in range(n_out)
            ]
            b = [self.model.NewIntVar(lo, hi, f"b{li}_{j}") for j in range(n_out)]
            self.layers.append(_LayerVars(W, b, (lo, hi)))
        self._first_layer()
        for li in range(1, arch.n_layers):
            use_table = (1 << widths[li]) <= self.options.pattern_limit
            if use_table:
                self._table_layer(li)
            else:
                self._product_layer(li)
        self._loss()
        if self.options.symmetry_breaking:
            self._break_unit_permutations()
        if self.options.groups is not None:
            self._shared_patterns(self.options.groups)
        self.model.Minimize(
            sum(c * v for c, v in self.loss_terms) + self.loss_constant
        )

    def _break_unit_permutations(self) -> None:
        """Hidden units in lexicographic order of ``(bias, weights)`` within each hidden layer.

        Permuting a hidden layer's units (its weight rows and biases, and the next layer's
        weight columns with them) leaves every output unchanged, so some optimal network is in
        this order (``canonical_order`` builds it): the optimum stays the same while the search
        space shrinks by up to ``H!`` per layer (tests/test_prove.py checks it by brute force).
        Encoded with chained Booleans ``eq_k`` = "the first k entries are equal".
        """
        m = self.model
        for li in range(self.arch.n_layers - 1):
            lv = self.layers[li]
            keys = [[lv.b[j], *lv.W[j]] for j in range(len(lv.b))]
            for j in range(len(keys) - 1):
                x, y = keys[j], keys[j + 1]
                prefix_equal = None  # None = the empty prefix (always equal)
                for k, (xk, yk) in enumerate(zip(x, y, strict=True)):
                    c = m.Add(xk <= yk)
                    if prefix_equal is not None:
                        c.OnlyEnforceIf(prefix_equal)
                    if k == len(x) - 1:
                        break
                    same = m.NewBoolVar(f"sym{li}_{j}_{k}")
                    m.Add(xk == yk).OnlyEnforceIf(same)
                    m.Add(xk != yk).OnlyEnforceIf(same.Not())
                    nxt = m.NewBoolVar(f"symp{li}_{j}_{k}")
                    both = [same] if prefix_equal is None else [same, prefix_equal]
                    m.AddBoolAnd(both).OnlyEnforceIf(nxt)
                    m.AddBoolOr([b.Not() for b in both] + [nxt])
                    prefix_equal = nxt

    def _bias_domain(self, li: int) -> tuple[int, int]:
        hi_box = self.rows.Q if self.options.box_hi is None else self.options.box_hi
        return bias_domain(self.arch, li, hi_box)

    def _input_value(self, li: int, bit: int) -> int:
        """The value a hidden bit contributes as input to layer ``li`` (>= 1)."""
        return self.arch.activation.read_bit(bit)

    def _first_layer(self) -> None:
        m = self.model
        lv = self.layers[0]
        Q = self.rows.Q
        lo_box = Q if self.options.box_lo is None else self.options.box_lo
        hi_box = Q if self.options.box_hi is None else self.options.box_hi
        robust = self.options.box_lo is not None
        n_units = len(lv.b)
        if robust:
            # W = P - N with at most one of P, N non-zero, so min over the box is P.lo - N.hi.
            P, N, _ = split_signs(m, lv.W, int(self.arch.weight_bounds[0]))
        out = []
        for r in range(Q.shape[0]):
            self._check_deadline()
            hr = []
            for j in range(n_units):
                h = m.NewBoolVar(f"h0_{r}_{j}")
                if robust:
                    a_min = sum(int(lo_box[r, i]) * P[j][i] - int(hi_box[r, i]) * N[j][i]
                                for i in range(Q.shape[1])) + lv.b[j]
                    a_max = sum(int(hi_box[r, i]) * P[j][i] - int(lo_box[r, i]) * N[j][i]
                                for i in range(Q.shape[1])) + lv.b[j]
                    m.Add(a_min >= 0).OnlyEnforceIf(h)
                    m.Add(a_max <= -1).OnlyEnforceIf(h.Not())
                else:
                    terms = (int(Q[r, i]) * lv.W[j][i] for i in range(Q.shape[1]) if Q[r, i])
                    a = sum(terms) + lv.b[j]
                    m.Add(a >= 0).OnlyEnforceIf(h)
                    m.Add(a <= -1).OnlyEnforceIf(h.Not())
                hr.append(h)
            out.append(hr)
        lv.out = out

    def _unit_outputs(self, li: int, scores: list, prefix: str) -> list[cp_model.IntVar]:
        """Booleans for what layer ``li`` outputs given its score expressions (one per unit).

        Hidden layer: one bit per unit, ``h <-> score >= 0``. Output layer: what the objective
        asks for (``Objective.reify_outputs``): a one-hot class choice with lowest-index tie
        breaking, one bit per output unit, or one "clears the margin" Boolean per class.
        """
        m = self.model
        if li == self.arch.n_layers - 1:
            self.output_scores[prefix] = scores
            return self.objective.reify_outputs(m, scores, self.arch.output, prefix)
        return unit_bits(m, scores, prefix)

    def _table_layer(self, li: int) -> None:
        m = self.model
        lv = self.layers[li]
        prev = self.layers[li - 1].out
        width_in = self.arch.widths[li]
        pats = _patterns(width_in)
        lv.encoding = "table"
        table = []
        for t, pat in enumerate(pats):
            scores = [
                sum(self._input_value(li, pat[i]) * lv.W[j][i] for i in range(width_in)) + lv.b[j]
                for j in range(len(lv.b))
            ]
            table.append(self._unit_outputs(li, scores, f"g{li}_{t}"))
        lv.table = table
        is_output = li == self.arch.n_layers - 1
        out = []
        for r, hr in enumerate(prev):
            self._check_deadline()
            units = self._row_units_needed(r) if is_output else range(len(table[0]))
            vr: list = [None] * len(table[0])
            for u in units:
                vr[u] = m.NewBoolVar(f"v{li}_{r}_{u}")
            for t, pat in enumerate(pats):
                # the row's pattern is t  <=>  all these literals are false
                not_t = [hr[i].Not() if pat[i] else hr[i] for i in range(width_in)]
                for u in units:
                    m.AddBoolOr([*not_t, table[t][u].Not(), vr[u]])
                    m.AddBoolOr([*not_t, table[t][u], vr[u].Not()])
            out.append(vr)
        lv.out = out

    def _product_layer(self, li: int) -> None:
        m = self.model
        lv = self.layers[li]
        prev = self.layers[li - 1].out
        width_in = self.arch.widths[li]
        w = int(self.arch.weight_bounds[li])
        lv.encoding = "product"
        act = self.arch.activation
        out = []
        for r, hr in enumerate(prev):
            self._check_deadline()
            scores = []
            for j in range(len(lv.b)):
                terms = []
                for i in range(width_in):
                    z = m.NewIntVar(-w, w, f"z{li}_{r}_{j}_{i}")
                    m.Add(z == lv.W[j][i]).OnlyEnforceIf(hr[i])
                    m.Add(z == 0).OnlyEnforceIf(hr[i].Not())
                    lv.products[r, j, i] = z
                    terms.append(z)
                if (act.scale, act.shift) != (1, 0):  # W.(s h + c) = s W.h + c sum(W)
                    scores.append(act.scale * sum(terms) + act.shift * sum(lv.W[j]) + lv.b[j])
                else:
                    scores.append(sum(terms) + lv.b[j])
            out.append(self._unit_outputs(li, scores, f"v{li}_{r}"))
        lv.out = out

    def _row_units_needed(self, r: int) -> list[int]:
        """Output booleans a row's loss depends on (argmax + errors: only its labels' classes)."""
        return self.objective.units_needed(self.arch.output, self.rows.labels_of(r),
                                           self.arch.n_outputs)

    def _loss(self) -> None:
        for r, vr in enumerate(self.layers[-1].out):
            terms, constant = self.objective.row_terms(self.model, vr, self.rows.counts[r],
                                                       self.arch.output)
            self.loss_terms.extend(terms)
            self.loss_constant += constant

    def _shared_patterns(self, groups: np.ndarray) -> None:
        """All rows of a group take one activation pattern in every hidden layer."""
        groups = np.asarray(groups)
        for li in range(self.arch.n_layers - 1):
            out = self.layers[li].out
            for g in np.unique(groups):
                members = np.flatnonzero(groups == g)
                first = int(members[0])
                for r in members[1:]:
                    for j in range(len(out[first])):
                        self.model.Add(out[int(r)][j] == out[first][j])

    # -- sparsity --------------------------------------------------------------------------
    def nonzero_indicators(self) -> list[cp_model.IntVar]:
        """Booleans ``nz <-> W != 0`` for every weight (created once)."""
        if not self.nonzero:
            for li, lv in enumerate(self.layers):
                for j, row in enumerate(lv.W):
                    for i, wv in enumerate(row):
                        nz = self.model.NewBoolVar(f"nz{li}_{j}_{i}")
                        self.model.Add(wv != 0).OnlyEnforceIf(nz)
                        self.model.Add(wv == 0).OnlyEnforceIf(nz.Not())
                        self.nonzero.append(nz)
        return self.nonzero

    # -- the margin stage (lexicographic training) ----------------------------------------
    def margin_variable(self) -> cp_model.IntVar:
        """An integer ``M`` (created once) no larger than the margin (``row_margins``) of any
        training row counted correct, i.e. whose label's "clears the margin" Boolean is true:
        maximising it maximises the smallest margin at the loss kept (docs/design.md §4).

        Needs an objective with per-class margin Booleans (``MarginObjective``).
        """
        if self.margin_var is not None:
            return self.margin_var
        obj = self.objective
        if not hasattr(obj, "class_margin_bounds"):
            raise ValueError(f"the margin stage needs the margin objective, not {obj.name}")
        li = self.arch.n_layers - 1
        lv = self.layers[li]
        output = self.arch.output
        w = int(self.arch.weight_bounds[li])
        reach = w * self.arch.widths[li] * max(abs(self.arch.activation.read_bit(b))
                                               for b in (0, 1))
        top = 2 * (reach + max(abs(v) for v in lv.bias_domain)) + 1
        m = self.model
        self.margin_domain = (obj.margin, max(obj.margin, top))
        M = m.NewIntVar(*self.margin_domain, "margin")
        counts = self.rows.counts
        if lv.encoding == "table":
            prev = self.layers[li - 1].out
            width_in = self.arch.widths[li]
            for t, pat in enumerate(_patterns(width_in)):
                scores = self.output_scores[f"g{li}_{t}"]
                for k in range(counts.shape[1]):
                    members = np.flatnonzero(counts[:, k])
                    if not len(members):
                        continue
                    # true when a row of label k has pattern t and clears the margin there
                    use = m.NewBoolVar(f"mu{li}_{t}_{k}")
                    for r in members:
                        hr = prev[int(r)]
                        not_t = [hr[i].Not() if pat[i] else hr[i] for i in range(width_in)]
                        m.AddBoolOr([*not_t, lv.table[t][k].Not(), use])
                    for e, _ in obj.class_margin_bounds(scores, k, output):
                        m.Add(e >= M).OnlyEnforceIf(use)
                    self.margin_use[t, k] = use
        else:
            for r, vr in enumerate(lv.out):
                scores = self.output_scores[f"v{li}_{r}"]
                for k in self.rows.labels_of(r):
                    for e, _ in obj.class_margin_bounds(scores, k, output):
                        m.Add(e >= M).OnlyEnforceIf(vr[k])
        self.margin_var = M
        return M

    def hint_margin(self, net: Network) -> None:
        """Hint the margin stage's variables with ``net``'s values (after ``add_hints``)."""
        if self.margin_var is None:
            return
        fwd = net.forward_q(self.rows.Q)
        pairs = [(r, k) for r in range(self.rows.n_rows) for k in self.rows.labels_of(r)]
        rr = np.array([r for r, _ in pairs], dtype=np.int64)
        kk = np.array([k for _, k in pairs], dtype=np.int64)
        scores = fwd.preactivations[-1][rr]
        margins = row_margins(scores, kk, self.arch.output)
        clear = clears(scores, kk, self.arch.output, self.objective.margin)
        value = int(margins[clear].min()) if clear.any() else self.objective.margin
        self.model.AddHint(self.margin_var, int(np.clip(value, *self.margin_domain)))
        if self.margin_use:
            bits = np.asarray(fwd.hidden_bits[-1], dtype=np.int64)
            pattern = (bits << np.arange(bits.shape[1])).sum(axis=1)  # bit j = unit j
            used = {(int(pattern[r]), int(k)) for r, k, c in zip(rr, kk, clear, strict=True)
                    if c}
            for key, var in self.margin_use.items():
                self.model.AddHint(var, int(key in used))

    def loss_expression(self) -> cp_model.LinearExpr:
        return sum(c * v for c, v in self.loss_terms) + self.loss_constant

    # -- solutions -------------------------------------------------------------------------
    def network_from(self, solver: Any, quantizer: Quantizer, classes: list,
                     training: dict | None = None) -> Network:
        """Read the weights of the solver's best solution into a ``Network``."""
        layers = []
        for li, lv in enumerate(self.layers):
            W = np.array([[solver.Value(v) for v in row] for row in lv.W], dtype=np.int64)
            b = np.array([solver.Value(v) for v in lv.b], dtype=np.int64)
            layers.append(Layer(W, b, int(self.arch.weight_bounds[li])))
        return Network(quantizer, layers, classes=list(classes), activation=self.arch.activation,
                       output=self.arch.output, training=dict(training or {}))

    def canonical(self, net: Network) -> Network:
        """``net`` permuted into the order the symmetry breaking asks for (unchanged without
        it)."""
        if not self.options.symmetry_breaking:
            return net
        return canonical_order(net, [lv.bias_domain for lv in self.layers])

    def add_hints(self, net: Network) -> None:
        """Hint every variable with the values ``net`` implies (a complete, feasible hint)."""
        m = self.model
        m.ClearHints()
        net = self.canonical(net)  # the hint must satisfy the order constraints
        fwd = net.forward_q(self.rows.Q)
        for lv, layer in zip(self.layers, net.layers, strict=True):
            for j, row in enumerate(lv.W):
                for i, v in enumerate(row):
                    m.AddHint(v, int(layer.weights[j, i]))
            for j, v in enumerate(lv.b):
                m.AddHint(v, int(np.clip(layer.bias[j], *lv.bias_domain)))
        # Row-level booleans follow from the forward pass; tables from evaluating each pattern.
        for li, lv in enumerate(self.layers):
            is_output = li == len(self.layers) - 1
            values = self.objective.output_values(fwd.preactivations[li], self.arch.output) \
                if is_output else fwd.hidden_bits[li]
            for r, vr in enumerate(lv.out):
                for u, v in enumerate(vr):
                    if v is not None:
                        m.AddHint(v, int(values[r][u]))
            if lv.encoding == "table":
                pats = np.array(_patterns(self.arch.widths[li]), dtype=np.int64)
                x = self.arch.activation.read(pats)
                a = x @ net.layers[li].weights.T + net.layers[li].bias
                tvals = self.objective.output_values(a, self.arch.output) if is_output \
                    else (a >= 0)
                for t, gt in enumerate(lv.table):
                    for u, v in enumerate(gt):
                        m.AddHint(v, int(tvals[t][u]))
            if lv.encoding == "product":
                prev = fwd.hidden_bits[li - 1]
                W = net.layers[li].weights
                for (r, j, i), z in lv.products.items():
                    m.AddHint(z, int(W[j, i]) * int(prev[r, i]))
