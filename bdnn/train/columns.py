"""The first layer as enumerated activation columns, for small row subsets (``--prove``).

On a subset of n distinct rows, a first-layer unit with integer weights in ``[-w, w]^d`` and any
integer bias can only produce a few distinct 0/1 *columns* (its bits on the n rows): for every
weight vector, one column per threshold among its n projections, plus all-zero. When
``(2w + 1)^d`` is small (ternary bcw: 3^9; iris in [-3, 3]: 7^4) they are enumerated once and each
unit's bits are constrained to that table (``AddAllowedAssignments``): the weights disappear
from the model, and so does the weak linear relaxation of the indicator constraints that keeps
CP-SAT's bound at 0. Later layers, the output and the loss are the usual ``BDNNCpModel``'s.
The optimum is the same (every network's first layer gives allowed columns, every allowed
column comes from weights and a bias); a solution is read back as a network by looking up, per
unit, a weight vector and bias that realise its column.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..network import Layer, Network
from .cpsat_model import BDNNCpModel, ModelOptions, canonical_order

# Largest (2w+1)^d enumerated and largest subset (columns are packed into 62-bit codes).
MAX_WEIGHT_VECTORS = 200_000
MAX_COLUMN_ROWS = 62
_CHUNK = 2048


def columns_possible(n_inputs: int, weight_bound: int, n_rows: int) -> bool:
    """True when the column model applies (few weight vectors, few rows)."""
    return ((2 * weight_bound + 1) ** n_inputs <= MAX_WEIGHT_VECTORS
            and 1 <= n_rows <= MAX_COLUMN_ROWS)


def enumerate_columns(Q: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct activation columns of one first-layer unit on the rows of ``Q`` [n, d].

    Returns ``codes`` (bit r = the unit's bit on row r), and per code a weight vector and a bias
    realising it.
    """
    Q = np.asarray(Q, dtype=np.int64)
    n, d = Q.shape
    W = np.array(list(itertools.product(range(-w, w + 1), repeat=d)), dtype=np.int64)
    weights = 1 << np.arange(n, dtype=np.int64)
    all_codes, all_idx, all_bias = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)], \
        [np.full(1, -1, np.int64)]  # the all-zero column: W = 0, b = -1
    for start in range(0, len(W), _CHUNK):
        P = W[start:start + _CHUNK] @ Q.T  # [m, n] projections
        # threshold at each projection value: the rows with a projection >= it
        codes = ((P[:, None, :] >= P[:, :, None]) * weights).sum(axis=2)  # [m, n]
        all_codes.append(codes.reshape(-1))
        all_idx.append(np.repeat(np.arange(start, start + len(P)), n))
        all_bias.append(-P.reshape(-1))
    codes, first = np.unique(np.concatenate(all_codes), return_index=True)
    idx = np.concatenate(all_idx)[first]
    bias = np.concatenate(all_bias)[first]
    return codes, W[idx] if len(W) else np.zeros((len(codes), d), np.int64), bias


class ColumnModel(BDNNCpModel):
    """``BDNNCpModel`` whose first layer is a table of enumerated columns (module docstring).

    Symmetry breaking orders the first layer's units by their columns (lexicographically, row 0
    first); later hidden layers keep the weight order of ``BDNNCpModel``.
    """

    def __init__(self, arch, rows, options: ModelOptions | None = None, deadline=None):
        self._order_columns = bool(options and options.symmetry_breaking)
        w = int(arch.weight_bounds[0])
        self.codes, self.code_weights, self.code_bias = enumerate_columns(rows.Q, w)
        super().__init__(arch, rows, options, deadline)

    def _first_layer(self) -> None:
        m = self.model
        lv = self.layers[0]
        n = self.rows.n_rows
        for v in [*itertools.chain.from_iterable(lv.W), *lv.b]:
            m.Add(v == 0)  # unused: the columns stand for them (read back by lookup)
        bits = ((self.codes[:, None] >> np.arange(n)) & 1).tolist()
        out = [[m.NewBoolVar(f"h0_{r}_{j}") for j in range(len(lv.b))] for r in range(n)]
        for j in range(len(lv.b)):
            m.AddAllowedAssignments([out[r][j] for r in range(n)], bits)
        lv.out = out
        lv.encoding = "columns"

    def _break_unit_permutations(self) -> None:
        super()._break_unit_permutations()  # layers >= 1 (layer 0's variables are all 0)
        m = self.model
        cols = [[hr[j] for hr in self.layers[0].out] for j in range(len(self.layers[0].b))]
        for j in range(len(cols) - 1):  # column j <= column j + 1, lexicographically
            prefix = None  # "the first k bits are equal" (None: the empty prefix)
            for k, (xk, yk) in enumerate(zip(cols[j], cols[j + 1], strict=True)):
                guard = [] if prefix is None else [prefix.Not()]
                m.AddBoolOr([xk.Not(), yk, *guard])  # x_k <= y_k under an equal prefix
                if k == len(cols[j]) - 1:
                    break
                eq = m.NewBoolVar(f"ceq_{j}_{k}")
                m.Add(xk == yk).OnlyEnforceIf(eq)
                m.Add(xk != yk).OnlyEnforceIf(eq.Not())
                nxt = m.NewBoolVar(f"cpre_{j}_{k}")
                both = [eq] if prefix is None else [eq, prefix]
                m.AddBoolAnd(both).OnlyEnforceIf(nxt)
                m.AddBoolOr([b.Not() for b in both] + [nxt])
                prefix = nxt

    def canonical(self, net: Network) -> Network:
        """``net`` in the order the symmetry breaking asks for: first-layer units by column,
        later hidden layers by ``(bias, weights)``."""
        if not self._order_columns:
            return net
        H = net.forward_q(self.rows.Q).hidden_bits[0]
        keys = [tuple(int(v) for v in H[:, j]) for j in range(H.shape[1])]
        order = sorted(range(len(keys)), key=lambda j: keys[j])
        layers = list(net.layers)
        la, nxt = layers[0], layers[1]
        layers[0] = Layer(la.weights[order], la.bias[order], la.weight_bound)
        layers[1] = Layer(nxt.weights[:, order], nxt.bias, nxt.weight_bound)
        net = Network(net.quantizer, layers, classes=list(net.classes),
                      activation=net.activation, output=net.output, training=dict(net.training))
        return canonical_order(net, [lv.bias_domain for lv in self.layers], first=1)

    def network_from(self, solver, quantizer, classes, training=None) -> Network:
        net = super().network_from(solver, quantizer, classes, training)
        lv = self.layers[0]
        n = self.rows.n_rows
        Ws, bs = [], []
        for j in range(len(lv.b)):
            code = sum(int(solver.Value(lv.out[r][j])) << r for r in range(n))
            k = int(np.searchsorted(self.codes, code))
            Ws.append(self.code_weights[k])
            bs.append(self.code_bias[k])
        layers = [Layer(np.array(Ws), np.array(bs), int(self.arch.weight_bounds[0])),
                  *net.layers[1:]]
        return Network(quantizer, layers, classes=list(classes), activation=net.activation,
                       output=net.output, training=dict(training or {}))
