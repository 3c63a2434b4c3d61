"""One loss definition: every objective x output kind x activation gives the same per-row losses
through every path that computes them (numpy reference, coordinate descent, the data split, the
exact trainer's re-check, the CP-SAT model with the weights pinned), compared with a plain-Python
recomputation written from docs/design.md §2."""

import itertools

import numpy as np
import pytest
from ortools.sat.python import cp_model

from bdnn.activation import ACTIVATIONS, get_activation
from bdnn.errors import BDNNError
from bdnn.network import Network, errors_of, hamming_loss_of, random_network
from bdnn.objective import OBJECTIVES, get_objective
from bdnn.output_kind import OUTPUT_KINDS
from bdnn.train.architecture import Architecture
from bdnn.train.coordinate_descent import coordinate_descent
from bdnn.train.cpsat_model import BDNNCpModel, ModelOptions
from bdnn.train.data_split import point_losses
from bdnn.train.problem import TrainProblem
from bdnn.train.rows import unique_rows
from bdnn.train.solver import SolveOptions

CASES = list(itertools.product(OBJECTIVES, OUTPUT_KINDS, ACTIVATIONS))


def slow_row_loss(net: Network, q, label: int, objective: str) -> int:
    """The loss of one row in plain Python (no numpy forward pass, no Objective)."""
    x = [int(v) for v in q]
    low = -1 if net.activation.name == "sign" else 0
    for li, layer in enumerate(net.layers):
        inp = x if li == 0 else [low if v == 0 else 1 for v in x]
        a = [sum(int(layer.weights[j][i]) * inp[i] for i in range(layer.n_in))
             + int(layer.bias[j]) for j in range(layer.n_out)]
        x = [1 if v >= 0 else 0 for v in a]
    single = net.output.name == "single"
    if objective == "margin":  # correct, and every rival beaten by at least m (docs §2)
        m = get_objective("margin").margin
        if single:
            ok = a[0] >= m if label == 1 else a[0] <= -max(m, 1)
        else:  # beat lower indices by max(m, 1), tie or beat higher ones by m
            ok = all(a[label] - a[k] >= max(m, 1 if k < label else 0)
                     for k in range(len(a)) if k != label)
        return int(not ok)
    if objective == "errors":
        if single:
            pred = 1 if a[0] >= 0 else 0
        else:
            pred = 0
            for k in range(1, len(a)):
                if a[k] > a[pred]:
                    pred = k
        return int(pred != label)
    target = [int(label == 1)] if single else [int(k == label) for k in range(len(a))]
    return sum(int((1 if v >= 0 else 0) != t) for v, t in zip(a, target, strict=True))


def _case(objective, output, activation, seed):
    rng = np.random.default_rng(seed)
    k = 2 if output == "single" else 3
    net = random_network(rng, 3, (3, 2), k, weight_bound=[2, 1, 1], activation=activation,
                         output=output, bits=2)
    Q = rng.integers(0, 4, size=(40, 3))
    Q[20:30] = Q[:10]  # repeated inputs with their own labels: merged rows with label counts
    y = rng.integers(0, k, size=40)
    return net, Q, y, k


@pytest.mark.parametrize("objective,output,activation", CASES)
def test_row_losses_agree_on_every_path(objective, output, activation):
    obj = get_objective(objective)
    for seed in range(3):
        net, Q, y, k = _case(objective, output, activation, seed)
        expect = np.array([slow_row_loss(net, q, int(c), objective)
                           for q, c in zip(Q, y, strict=True)])
        # the definition, on the numpy forward pass
        assert obj.row_losses(net.forward_q(Q).scores, y, net.output).tolist() == expect.tolist()
        # the network's helpers, the problem's re-check, the data split's point losses
        helper = {"errors": errors_of, "hamming": hamming_loss_of}.get(objective, obj.loss)
        assert helper(net, Q, y) == obj.loss(net, Q, y) == int(expect.sum())
        problem = TrainProblem.build(Q, y, quantizer=net.quantizer, classes=list(range(k)),
                                     hidden=(3, 2), weight_bound=(2, 1, 1),
                                     activation=activation, output=output, objective=objective)
        assert problem.loss(net) == int(expect.sum())
        assert point_losses(net, Q, y, obj).tolist() == expect.tolist()
        # coordinate descent's own evaluation (no moves)
        out = coordinate_descent(net, Q, y, objective, max_sweeps=0, center=False)
        assert out.loss_before == out.loss_after == int(expect.sum())
        # the CP-SAT model with every weight and bias pinned to the network's values
        assert _cpsat_loss(net, Q, y, k, objective) == int(expect.sum())


def _cpsat_loss(net: Network, Q, y, k: int, objective: str) -> int:
    rows = unique_rows(Q, y, k)
    arch = Architecture.of(net)
    for pattern_limit in (256, 0):  # both encodings of the hidden-bit layers
        builder = BDNNCpModel(arch, rows, ModelOptions(objective=objective,
                                                       pattern_limit=pattern_limit))
        m = builder.model
        for lv, layer in zip(builder.layers, net.layers, strict=True):
            for j, row in enumerate(lv.W):
                for i, v in enumerate(row):
                    m.Add(v == int(layer.weights[j, i]))
                m.Add(lv.b[j] == int(np.clip(layer.bias[j], *lv.bias_domain)))
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        assert solver.Solve(m) == cp_model.OPTIMAL
        value = int(round(solver.ObjectiveValue()))
        if pattern_limit == 256:
            first = value
        else:
            assert value == first
    return first


@pytest.mark.parametrize("objective,output", list(itertools.product(OBJECTIVES, OUTPUT_KINDS)))
def test_lower_bound_is_the_best_any_output_can_do(objective, output):
    """The data bound equals, per distinct input, the best loss over every possible output
    (brute force over classes or output bit vectors)."""
    obj = get_objective(objective)
    kind = OUTPUT_KINDS[output]
    rng = np.random.default_rng(5)
    k = 2 if output == "single" else 3
    Q = rng.integers(0, 2, size=(30, 2))  # 4 distinct inputs, many conflicting labels
    y = rng.integers(0, k, size=30)
    rows = unique_rows(Q, y, k)
    n_out = 1 if output == "single" else k
    expect = 0
    for r in range(rows.n_rows):
        members = [int(c) for c in y[rows.inverse == r]]
        if objective in ("errors", "margin"):  # any class can be predicted (or clear m)
            best = min(sum(c != pred for c in members) for pred in range(k))
        else:  # any output bit vector can come out
            def target(c):
                return [int(c == 1)] if output == "single" else [int(c == u) for u in range(k)]
            best = min(sum(sum(b != t for b, t in zip(bits, target(c), strict=True))
                           for c in members)
                       for bits in itertools.product((0, 1), repeat=n_out))
        expect += best
    assert obj.lower_bound(rows.counts, kind) == expect
    assert expect > 0


def test_split_picks_its_worst_subset_from_the_real_hamming_loss():
    """508c693 regression: with --objective hamming --output single the split's point losses
    were constant (a one-hot matrix of 2 columns against 1 score column)."""
    rng = np.random.default_rng(0)
    net = random_network(rng, 2, (2,), 2, output="single", bits=2)
    Q = rng.integers(0, 4, size=(12, 2))
    y = net.predict_q(Q).copy()
    y[:3] = 1 - y[:3]  # exactly three rows wrong
    losses = point_losses(net, Q, y, get_objective("hamming"))
    assert losses.tolist() == [1, 1, 1] + [0] * 9


def test_unknown_names_are_one_line_errors():
    with pytest.raises(BDNNError, match="objective must be one of errors, hamming"):
        get_objective("margin?")
    with pytest.raises(BDNNError, match="activation must be one of heaviside, sign"):
        get_activation("relu")
    with pytest.raises(BDNNError, match="objective must be one of"):
        TrainProblem.build(np.zeros((4, 2), int), np.array([0, 1, 0, 1]),
                           quantizer=random_network(np.random.default_rng(0), 2, (1,), 2).quantizer,
                           classes=[0, 1], objective="nope", solve=SolveOptions(progress=False))
