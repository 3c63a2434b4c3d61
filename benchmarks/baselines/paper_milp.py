"""The paper's own big-M MILP for BDNN training, solved with HiGHS (benchmark baseline).

Kurtz & Bah (2021), as in the authors' published code (``solveNetworkMIP``) and docs/design.md §4:

* weights in ``[-1, 1]`` (integer or continuous), biases in ``[-B, B]`` with
  ``B = max(max_i ||x_i||_1, max layer width)`` (the output layer's width included);
* one binary activation per point (or per subset of points that must share one pattern) and
  unit, in every layer including the output layer (binary output units);
* first layer: ``W_j·x_i + b_j (+ rho·sum_f xi_jf) <= (M_i + eps)·u_ij - eps`` and
  ``W_j·x_i + b_j (- rho·sum_f xi_jf) >= (M_i + eps)·u_ij - M_i`` with ``M_i = ||x_i||_1 + B + 1``
  and ``eps = 1e-5``, so ``u = 1`` iff the pre-activation is ``>= eps`` and ``u = 0`` iff it is
  ``<= -eps``;
* deeper layers the same with ``M_l = d_(l-1) + B + 1`` on ``sum_i s_ji + b_j``, where each
  product ``s = w·u`` of a weight and a binary activation of the layer below is linearised by
  ``s <= u, s >= -u, s <= w + 1 - u, s >= w - 1 + u`` (the published code hands Gurobi the
  bilinear term instead; HiGHS needs it linear);
* objective: the Hamming loss ``sum_i sum_k (1 - 2·y_ik)·u_ik + N`` of the output bits against
  the one-hot label; robust terms with ``xi >= W, xi >= -W`` (``xi`` in ``[0, 1]``); MIP gap 1e-4.

Differences from the paper, on purpose:

* Inputs are the **quantized integer inputs** ``q`` that bdnn trains on (the paper feeds the
  min-max scaled floats), so HiGHS and CP-SAT solve the same data, ``||x_i||_1 = sum_f q_if``,
  and integer solutions convert exactly to a ``bdnn.network.Network``.
* With a robust radius ``rho > 0`` the paper's ``M_i`` is too small once ``rho·n > 1``
  (the ``rho·sum xi`` term is not covered), which would cut off valid networks; here
  ``M_i = ||x_i||_1 + B + 1 + rho·n``. With ``rho = 0`` the model is the paper's.

Semantics: the paper's unit is on iff ``a >= eps`` on training points and its prediction
code uses ``a > 0``. With integer weights and inputs ``a > 0`` iff ``a - 1 >= 0``, so the bdnn
network gets bias ``b - 1`` (Heaviside ``>= 0``) and computes exactly the paper's function on
every input. Note that with integer data the ``eps`` rule forbids ``a = 0`` on training points:
the MILP searches integer networks whose pre-activations are never 0 on the training data.
The paper's output (argmax over the binary output units, lowest index on ties) is kept by
making the output units the last hidden layer and adding an output layer ``scores = 2·u - 1``
(weights ``2·I``, bias ``-1``): then ``argmax`` is the paper's class and ``scores >= 0`` are
the paper's output bits, so ``bdnn.network.hamming_loss_of`` is the paper's loss.
Continuous weights are mapped to the integer grid ``round(K·W)`` for the smallest ``K`` in
1, 10, ..., 10**6 that reproduces the float network's activations on the training data.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np

from bdnn.errors import BDNNError
from bdnn.network import Layer, Network
from bdnn.quantizer import Quantizer

EPS = 1e-5
MIP_GAP = 1e-4


# -- a small sparse MILP builder --------------------------------------------------------------


class _Milp:
    def __init__(self) -> None:
        self.lb: list[np.ndarray] = []
        self.ub: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.n_cols = 0
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []
        self.row_idx: list[np.ndarray] = []
        self.row_val: list[np.ndarray] = []

    def add_vars(self, shape: tuple[int, ...], lb: float, ub: float, integer: bool) -> np.ndarray:
        n = int(np.prod(shape))
        self.lb.append(np.full(n, lb, dtype=np.float64))
        self.ub.append(np.full(n, ub, dtype=np.float64))
        self.integer.append(np.full(n, integer, dtype=bool))
        idx = np.arange(self.n_cols, self.n_cols + n).reshape(shape)
        self.n_cols += n
        return idx

    def add_row(self, idx: Sequence[int], val: Sequence[float], lo: float, hi: float) -> None:
        self.row_idx.append(np.asarray(idx, dtype=np.int32))
        self.row_val.append(np.asarray(val, dtype=np.float64))
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def to_lp(self, cost: np.ndarray, offset: float) -> highspy.HighsLp:
        lp = highspy.HighsLp()
        lp.num_col_ = self.n_cols
        lp.num_row_ = len(self.row_lo)
        lp.col_cost_ = cost
        lp.col_lower_ = np.concatenate(self.lb)
        lp.col_upper_ = np.concatenate(self.ub)
        lp.row_lower_ = np.asarray(self.row_lo, dtype=np.float64)
        lp.row_upper_ = np.asarray(self.row_hi, dtype=np.float64)
        lp.offset_ = float(offset)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lengths = np.array([len(i) for i in self.row_idx], dtype=np.int64)
        lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        lp.a_matrix_.index_ = np.concatenate(self.row_idx).astype(np.int32)
        lp.a_matrix_.value_ = np.concatenate(self.row_val)
        kinds = np.concatenate(self.integer)
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if k else highspy.HighsVarType.kContinuous for k in kinds
        ]
        return lp


# -- result -----------------------------------------------------------------------------------


@dataclass
class PaperMilpResult:
    """What the HiGHS run of the paper's MILP gives back.

    ``objective``/``bound``/``gap`` are HiGHS's (Hamming loss incl. the constant);
    ``hamming`` and ``train_errors`` are recomputed by a numpy forward pass of the returned
    weights (the bdnn ``Network`` when the conversion exists, else the paper's float network).
    """

    network: Network | None
    weights: list[np.ndarray]  # as solved, float [d_out, d_in] per paper layer (output last)
    biases: list[np.ndarray]
    status: str  # OPTIMAL, FEASIBLE (time limit with incumbent), UNKNOWN (no incumbent), ...
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    train_errors: int | None
    hamming: int | None
    n_train: int
    integer_weights: bool
    grid_factor: int | None  # K of the integer grid round(K·W); 1 for integer weights
    exact_conversion: bool  # network reproduces the solved weights' activations
    model_size: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "method": "paper-milp-highs",
            "status": self.status,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "seconds": self.seconds,
            "train_errors": self.train_errors,
            "hamming": self.hamming,
            "n_train": self.n_train,
            "integer_weights": self.integer_weights,
            "grid_factor": self.grid_factor,
            "exact_conversion": self.exact_conversion,
            **self.model_size,
        }


# -- the paper's float network ----------------------------------------------------------------


def paper_forward(
    weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], Q: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The published ``BDNN.evaluate``/``predict``: every layer ``c = (W c + b > 0)``, class =
    argmax of the output bits (lowest index on ties). Returns classes and every layer's bits."""
    c = np.asarray(Q, dtype=np.float64)
    bits = []
    for W, b in zip(weights, biases, strict=True):
        c = ((c @ np.asarray(W, dtype=np.float64).T + b) > 0).astype(np.float64)
        bits.append(c.astype(np.int64))
    return np.argmax(bits[-1], axis=1).astype(np.int64), bits


def _to_network(
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    factor: int,
    quantizer: Quantizer,
    classes: list,
) -> Network:
    """Integer network ``round(K·W)``, ``round(K·b) - 1`` (``> 0`` as ``>= 0``), biases clipped
    to the layer's bound (beyond it a unit is constant, so clipping keeps the function), plus
    the output layer ``2·u - 1``."""
    layers: list[Layer] = []
    for li, (W, b) in enumerate(zip(weights, biases, strict=True)):
        Wi = np.rint(np.asarray(W) * factor).astype(np.int64)
        bi = np.rint(np.asarray(b) * factor).astype(np.int64) - 1
        top = quantizer.max_level if li == 0 else 1
        bound = factor * Wi.shape[1] * top + 1
        layers.append(Layer(Wi, np.clip(bi, -bound, bound), factor))
    k = len(classes)
    layers.append(Layer(2 * np.eye(k, dtype=np.int64), -np.ones(k, dtype=np.int64), 2))
    return Network(quantizer, layers, list(classes), activation="heaviside", output="argmax")


def _same_activations(net: Network, bits: list[np.ndarray], Q: np.ndarray) -> bool:
    hidden = net.forward_q(Q).hidden_bits
    return all(np.array_equal(h.astype(np.int64), b) for h, b in zip(hidden, bits, strict=True))


# -- the model ----------------------------------------------------------------------------------


def _check_inputs(Q, y, hidden, n_classes, subsets):
    Q = np.asarray(Q)
    y = np.asarray(y).reshape(-1)
    if Q.ndim != 2 or Q.shape[0] == 0:
        raise BDNNError("training data must be a non-empty 2-D array of quantized inputs")
    if not np.issubdtype(Q.dtype, np.integer):
        if not np.all(Q == np.round(Q)):
            raise BDNNError("the paper MILP baseline takes quantized integer inputs q")
    Q = Q.astype(np.int64)
    if Q.min() < 0:
        raise BDNNError("quantized inputs must be >= 0")
    if y.shape[0] != Q.shape[0]:
        raise BDNNError(f"{Q.shape[0]} rows but {y.shape[0]} labels")
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if k < 2 or y.min() < 0 or y.max() >= k:
        raise BDNNError("labels must be class indices 0..n_classes-1 with n_classes >= 2")
    hidden = [int(w) for w in hidden]
    if not hidden or min(hidden) < 1:
        raise BDNNError("give at least one hidden layer of width >= 1")
    if subsets is None:
        pattern = np.arange(Q.shape[0])
    else:
        pattern = -np.ones(Q.shape[0], dtype=np.int64)
        for p, rows in enumerate(subsets):
            rows = np.asarray(rows, dtype=np.int64)
            if rows.size == 0 or np.any(pattern[rows] >= 0):
                raise BDNNError("subsets must be non-empty and disjoint")
            pattern[rows] = p
        if np.any(pattern < 0):
            raise BDNNError("subsets must cover every training row")
    return Q, y.astype(np.int64), hidden, k, pattern


def train_paper_milp(
    Q: np.ndarray,
    y: np.ndarray,
    hidden: Sequence[int],
    n_classes: int | None = None,
    *,
    quantizer: Quantizer | None = None,
    classes: list | None = None,
    integer_weights: bool = True,
    rho: float = 0.0,
    subsets: Sequence[Sequence[int]] | None = None,
    time_limit: float = 60.0,
    threads: int = 1,
    mip_gap: float = MIP_GAP,
    eps: float = EPS,
    seed: int = 0,
    verbose: bool = False,
) -> PaperMilpResult:
    """Train a BDNN with the paper's big-M MILP on HiGHS.

    ``Q``: quantized integer inputs [N, n] (what bdnn trains on); ``y``: class indices;
    ``hidden``: hidden widths; ``quantizer``: the one that produced ``Q`` (default: identity
    with just enough bits), stored in the returned network; ``rho``: robust radius in
    quantized units (0 = plain model); ``subsets``: optional partition of the rows whose
    members share one activation pattern (the data-splitting model; default: one per row).
    """
    Q, y, hidden, k, pattern = _check_inputs(Q, y, hidden, n_classes, subsets)
    n_rows, n = Q.shape
    if quantizer is None:
        quantizer = Quantizer.identity(n, max(1, int(Q.max()).bit_length()))
    if quantizer.n_inputs != n or Q.max() > quantizer.max_level:
        raise BDNNError("the quantizer does not match the quantized inputs")
    classes = list(range(k)) if classes is None else list(classes)
    n_patterns = int(pattern.max()) + 1
    widths = [n, *hidden, k]
    norms = Q.sum(axis=1).astype(np.float64)
    B = float(max(norms.max(), max(widths[1:])))
    vtype = bool(integer_weights)

    milp = _Milp()
    shapes = list(zip(widths[1:], widths[:-1], strict=True))  # (d_out, d_in) per layer
    W = [milp.add_vars((d_out, d_in), -1.0, 1.0, vtype) for d_out, d_in in shapes]
    b = [milp.add_vars((d_out,), -B, B, vtype) for d_out, _ in shapes]
    u = [milp.add_vars((n_patterns, d_out), 0.0, 1.0, True) for d_out, _ in shapes]
    robust = rho > 0
    xi = milp.add_vars((widths[1], n), 0.0, 1.0, False) if robust else None

    # first layer, one pair of rows per point and unit
    for i in range(n_rows):
        M = norms[i] + B + 1 + (rho * n if robust else 0.0)
        nz = np.flatnonzero(Q[i])
        for j in range(widths[1]):
            idx = [*W[0][j, nz], b[0][j], u[0][pattern[i], j]]
            val = [*Q[i, nz].astype(np.float64), 1.0, -(M + eps)]
            if robust:
                milp.add_row(idx + list(xi[j]), val + [rho] * n, -np.inf, -eps)
                milp.add_row(idx + list(xi[j]), val + [-rho] * n, -M, np.inf)
            else:
                milp.add_row(idx, val, -np.inf, -eps)
                milp.add_row(idx, val, -M, np.inf)
    if robust:  # xi >= |W_1|
        for j in range(widths[1]):
            for f in range(n):
                milp.add_row([xi[j, f], W[0][j, f]], [1.0, -1.0], 0.0, np.inf)
                milp.add_row([xi[j, f], W[0][j, f]], [1.0, 1.0], 0.0, np.inf)

    # deeper layers, per pattern, with s = w·u linearised
    for layer in range(1, len(widths) - 1):
        d_in = widths[layer]
        M = d_in + B + 1
        s = milp.add_vars((n_patterns, widths[layer + 1], d_in), -1.0, 1.0, False)
        for p in range(n_patterns):
            for j in range(widths[layer + 1]):
                idx = [*s[p, j], b[layer][j], u[layer][p, j]]
                val = [1.0] * d_in + [1.0, -(M + eps)]
                milp.add_row(idx, val, -np.inf, -eps)
                milp.add_row(idx, val, -M, np.inf)
                for t in range(d_in):
                    sv, uv, wv = s[p, j, t], u[layer - 1][p, t], W[layer][j, t]
                    milp.add_row([sv, uv], [1.0, -1.0], -np.inf, 0.0)
                    milp.add_row([sv, uv], [1.0, 1.0], 0.0, np.inf)
                    milp.add_row([sv, wv, uv], [1.0, -1.0, 1.0], -np.inf, 1.0)
                    milp.add_row([sv, wv, uv], [1.0, -1.0, -1.0], -1.0, np.inf)

    # Hamming loss: sum_i sum_k (1 - 2 y_ik) u_ik + N (the constant: one 1 per one-hot label)
    cost = np.zeros(milp.n_cols)
    onehot = np.zeros((n_rows, k))
    onehot[np.arange(n_rows), y] = 1
    np.add.at(cost, u[-1][pattern].reshape(-1), (1 - 2 * onehot).reshape(-1))

    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(verbose))
    h.passModel(milp.to_lp(cost, float(n_rows)))
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    # HiGHS keeps one thread scheduler per process; a different thread count needs a reset
    highspy.Highs.resetGlobalScheduler(True)
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", int(seed))
    start = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - start

    model_status = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if model_status == highspy.HighsModelStatus.kOptimal:
        status = "OPTIMAL"
    elif has_solution:
        status = "FEASIBLE"
    elif model_status == highspy.HighsModelStatus.kInfeasible:
        status = "INFEASIBLE"
    else:
        status = "UNKNOWN"
    size = {
        "rows": len(milp.row_lo),
        "cols": milp.n_cols,
        "highs": h.version(),
        "highs_status": h.modelStatusToString(model_status),
    }
    result = PaperMilpResult(
        network=None,
        weights=[],
        biases=[],
        status=status,
        objective=float(info.objective_function_value) if has_solution else None,
        bound=float(info.mip_dual_bound),
        gap=float(info.mip_gap) if has_solution else None,
        seconds=seconds,
        train_errors=None,
        hamming=None,
        n_train=n_rows,
        integer_weights=bool(integer_weights),
        grid_factor=None,
        exact_conversion=False,
        model_size=size,
    )
    if not has_solution:
        return result

    x = np.asarray(h.getSolution().col_value)
    weights = [x[w] for w in W]
    biases = [x[v] for v in b]
    if integer_weights:  # integral up to HiGHS's tolerance
        weights = [np.rint(w) for w in weights]
        biases = [np.rint(v) for v in biases]
    result.weights, result.biases = weights, biases
    float_classes, bits = paper_forward(weights, biases, Q)
    for factor in [1] if integer_weights else [10**e for e in range(7)]:
        net = _to_network(weights, biases, factor, quantizer, classes)
        if _same_activations(net, bits, Q):
            result.network, result.grid_factor, result.exact_conversion = net, factor, True
            break
    if result.network is not None:
        fwd = result.network.forward_q(Q)
        result.train_errors = int(np.sum(fwd.class_index != y))
        result.hamming = int(np.sum((fwd.scores >= 0).astype(np.int64) != onehot))
        result.network.training = {
            "method": "paper-milp-highs",
            **{key: val for key, val in result.summary().items() if key != "method"},
        }
    else:
        result.train_errors = int(np.sum(float_classes != y))
        result.hamming = int(np.sum(bits[-1] != onehot))
    return result
