"""The margin objective and lexicographic training (docs/design.md §2 margins, §4 lexicographic
training): per-row losses against a plain-Python recomputation on every path, ``margin 0`` is
``errors`` row for row, the margin stage's CP-SAT encoding with pinned weights against numpy, and
a tiny lexicographic training against brute force over every network."""

import itertools

import numpy as np
import pytest
from brute_force import unit_columns
from ortools.sat.python import cp_model

from bdnn.activation import ACTIVATIONS
from bdnn.errors import BDNNError
from bdnn.network import Network, random_network
from bdnn.objective import ERRORS, MarginObjective, get_objective, row_margins
from bdnn.output_kind import OUTPUT_KINDS
from bdnn.quantizer import Quantizer
from bdnn.train.architecture import Architecture
from bdnn.train.coordinate_descent import coordinate_descent
from bdnn.train.cpsat_model import BDNNCpModel, ModelOptions
from bdnn.train.data_split import point_losses
from bdnn.train.exact import train_exact
from bdnn.train.problem import TrainProblem
from bdnn.train.rows import unique_rows
from bdnn.train.solver import SolveOptions


def plain_scores(net: Network, q) -> list[int]:
    """Output scores of one row in plain Python (docs/design.md §2)."""
    x = [int(v) for v in q]
    low = -1 if net.activation.name == "sign" else 0
    for li, layer in enumerate(net.layers):
        inp = x if li == 0 else [low if v == 0 else 1 for v in x]
        a = [sum(int(layer.weights[j][i]) * inp[i] for i in range(layer.n_in))
             + int(layer.bias[j]) for j in range(layer.n_out)]
        x = [1 if v >= 0 else 0 for v in a]
    return a


def plain_margin(a: list[int], label: int, single: bool) -> int:
    """How far ``label``'s score is above its best rival (single: ``s`` or ``-s``)."""
    if single:
        return a[0] if label == 1 else -a[0]
    return min(a[label] - a[k] for k in range(len(a)) if k != label)


def plain_correct(a: list[int], label: int, single: bool) -> bool:
    if single:
        return (a[0] >= 0) == (label == 1)
    return all(a[label] > a[k] if k < label else a[label] >= a[k]
               for k in range(len(a)) if k != label)


def plain_loss(a: list[int], label: int, single: bool, m: int) -> int:
    """1 unless the row is correct with margin >= m (docs/design.md §2)."""
    return int(not (plain_correct(a, label, single) and plain_margin(a, label, single) >= m))


def _case(output, activation, seed, n=40):
    rng = np.random.default_rng(seed)
    k = 2 if output == "single" else 3
    net = random_network(rng, 3, (3, 2), k, weight_bound=[2, 2, 3], activation=activation,
                         output=output, bits=2)
    Q = rng.integers(0, 4, size=(n, 3))
    Q[20:30] = Q[:10]  # repeated inputs with their own labels
    y = rng.integers(0, k, size=n)
    return net, Q, y, k


def _pinned(builder: BDNNCpModel, net: Network) -> None:
    m = builder.model
    for lv, layer in zip(builder.layers, net.layers, strict=True):
        for j, row in enumerate(lv.W):
            for i, v in enumerate(row):
                m.Add(v == int(layer.weights[j, i]))
            m.Add(lv.b[j] == int(layer.bias[j]))


def _solve(model) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    assert solver.Solve(model) == cp_model.OPTIMAL
    return solver


@pytest.mark.parametrize("output,activation", list(itertools.product(OUTPUT_KINDS, ACTIVATIONS)))
@pytest.mark.parametrize("margin", [0, 1, 3])
def test_margin_losses_agree_on_every_path(output, activation, margin):
    obj = get_objective("margin", margin=margin)
    for seed in range(2):
        net, Q, y, k = _case(output, activation, seed)
        single = net.output.one_unit
        a = [plain_scores(net, q) for q in Q]
        margins = [plain_margin(s, int(c), single) for s, c in zip(a, y, strict=True)]
        expect = [plain_loss(s, int(c), single, margin) for s, c in zip(a, y, strict=True)]
        assert row_margins(net.forward_q(Q).scores, y, net.output).tolist() == margins
        assert obj.row_losses(net.forward_q(Q).scores, y, net.output).tolist() == expect
        assert point_losses(net, Q, y, obj).tolist() == expect
        out = coordinate_descent(net, Q, y, obj, max_sweeps=0, center=False)
        assert out.loss_before == sum(expect)
        rows = unique_rows(Q, y, k)
        for pattern_limit in (256, 0):  # table and product encodings
            builder = BDNNCpModel(Architecture.of(net), rows,
                                  ModelOptions(objective=obj, pattern_limit=pattern_limit))
            _pinned(builder, net)
            assert int(round(_solve(builder.model).ObjectiveValue())) == sum(expect)


def test_margin_zero_is_errors_row_for_row():
    """Ties included: scores from a small range, argmax and single."""
    rng = np.random.default_rng(3)
    zero = MarginObjective(0)
    for kind in OUTPUT_KINDS.values():
        n_out = 1 if kind.one_unit else 4
        scores = rng.integers(-2, 3, size=(500, n_out))
        y = rng.integers(0, 2 if kind.one_unit else 4, size=500)
        assert zero.row_losses(scores, y, kind).tolist() == \
            ERRORS.row_losses(scores, y, kind).tolist()
        # a larger margin only adds errors
        assert (MarginObjective(2).row_losses(scores, y, kind)
                >= zero.row_losses(scores, y, kind)).all()


@pytest.mark.parametrize("output", list(OUTPUT_KINDS))
def test_margin_stage_encoding_with_pinned_weights(output):
    """With every weight pinned, the largest ``M`` is the smallest margin of the rows that
    clear the objective's margin (numpy), in both encodings; the hints are a feasible
    solution."""
    for seed in range(3):
        net, Q, y, k = _case(output, "heaviside", seed)
        obj = MarginObjective(1)
        single = net.output.one_unit
        a = [plain_scores(net, q) for q in Q]
        kept = [plain_margin(s, int(c), single) for s, c in zip(a, y, strict=True)
                if not plain_loss(s, int(c), single, 1)]
        if not kept:
            continue
        expect = min(kept)
        rows = unique_rows(Q, y, k)
        for pattern_limit in (256, 0):
            builder = BDNNCpModel(Architecture.of(net), rows,
                                  ModelOptions(objective=obj, pattern_limit=pattern_limit))
            M = builder.margin_variable()
            _pinned(builder, net)
            builder.model.Maximize(M)
            builder.add_hints(net)
            builder.hint_margin(net)
            solver = cp_model.CpSolver()
            solver.parameters.num_workers = 1
            solver.parameters.fix_variables_to_their_hinted_value = True
            assert solver.Solve(builder.model) == cp_model.OPTIMAL  # the hint is feasible
            assert solver.Value(M) == expect
            assert int(solver.ObjectiveValue()) == expect


def _brute_lexicographic(Q, y, margin: int) -> tuple[int, int]:
    """(fewest margin errors, largest smallest margin at that count) over every network with
    one hidden layer of 2 units, ternary weights, 2 output units (argmax), output biases in the
    model's range [-3, 3]."""
    cols = unit_columns(Q, 1, 3)
    params = [(np.array(r), b) for r in itertools.product((-1, 0, 1), repeat=2)
              for b in range(-3, 4)]
    best = (len(y) + 1, -1)
    for combo in itertools.combinations_with_replacement(range(len(cols)), 2):
        H = cols[list(combo)].T
        per = np.stack([H @ r + b for r, b in params], axis=1)  # [N, P]
        S0, S1 = per[:, :, None], per[:, None, :]  # every (unit 0, unit 1) pair: [N, P, P]
        m = np.where((y == 1)[:, None, None], S1 - S0, S0 - S1)
        # class 1 loses a tie (lowest index wins): it needs a margin of at least 1
        ok = m >= np.maximum(margin, (y == 1)[:, None, None].astype(np.int64))
        errors = (~ok).sum(axis=0)
        smallest = np.where(ok, m, 10**6).min(axis=0)
        e = int(errors.min())
        s = int(smallest[errors == e].max())
        if e < best[0] or (e == best[0] and s > best[1]):
            best = (e, s)
    return best


def test_lexicographic_training_reaches_the_brute_force_optimum():
    rng = np.random.default_rng(1)
    Q = rng.integers(0, 4, size=(14, 1))
    y = (Q[:, 0] >= 2).astype(np.int64)
    y[[0, 5]] = 1 - y[[0, 5]]  # two rows against the trend
    errors, smallest = _brute_lexicographic(Q, y, 1)
    quantizer = Quantizer.fit(Q.astype(float), 2)
    problem = TrainProblem.build(Q, y, quantizer=quantizer, classes=[0, 1], hidden=(2,),
                                 objective=MarginObjective(1),
                                 solve=SolveOptions(time_limit=60, workers=1, progress=False))
    assert (quantizer.quantize(Q.astype(float)) == Q).all()
    result = train_exact(problem, lexicographic=True, sparsify=True, float_start=False)
    lex = result.network.training["lexicographic"]
    assert [s["stage"] for s in lex["stages"]] == ["loss", "margin", "sparsify"]
    assert all(s["finished"] for s in lex["stages"]), lex
    assert lex["loss"] == result.objective == errors
    assert lex["smallest_margin"] == smallest
    # the record's values are the network's (numpy)
    m = row_margins(result.network.forward_q(Q).scores, y, result.network.output)
    # (a margin >= 1 implies a correct row: no tie to lose)
    assert int((m < 1).sum()) == errors and int(m[m >= 1].min()) == smallest
    assert lex["nonzero_weights"] == result.network.n_nonzero_weights()
    assert result.network.training["objective_params"] == {"margin": 1}


def test_lexicographic_takes_errors_as_margin_zero_and_refuses_hamming():
    rng = np.random.default_rng(2)
    net = random_network(rng, 2, (2,), 2, bits=2)
    Q = rng.integers(0, 4, size=(10, 2))
    y = (Q[:, 0] >= 2).astype(np.int64)
    kw = dict(quantizer=net.quantizer, classes=[0, 1], hidden=(2,),
              solve=SolveOptions(time_limit=20, workers=1, progress=False))
    result = train_exact(TrainProblem.build(Q, y, objective="errors", **kw), lexicographic=True)
    assert result.objective == 0
    assert result.network.training["objective_params"] == {"margin": 0}
    lex = result.network.training["lexicographic"]
    m = row_margins(result.network.forward_q(Q).scores, y, result.network.output)
    assert lex["smallest_margin"] == int(m.min()) >= 0
    with pytest.raises(BDNNError, match="--lexicographic works with --objective errors or margin"):
        train_exact(TrainProblem.build(Q, y, objective="hamming", **kw), lexicographic=True)


def test_margin_objective_names_and_parameters():
    assert get_objective("margin").params() == {"margin": 1}
    two = get_objective("margin", margin=2)
    assert two == MarginObjective(2) and two != MarginObjective(1) and two == "margin"
    with pytest.raises(BDNNError, match="must be >= 0"):
        MarginObjective(-1)
    with pytest.raises(BDNNError, match="objective errors takes no parameters"):
        get_objective("errors", margin=1)


def _cli(*args):
    import subprocess
    import sys
    from pathlib import Path

    return subprocess.run([sys.executable, "-m", "bdnn", *map(str, args)], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1])


@pytest.mark.parametrize("args,fragment", [
    (["--margin", "2"], "--margin goes with --objective margin"),
    (["--lexicographic", "--objective", "hamming"], "--objective errors or margin"),
    (["--lexicographic", "--method", "split"], "--lexicographic works with --method exact"),
    (["--objective", "margin", "--margin", "-1"], "--margin"),
])
def test_cli_refuses_bad_margin_options(tmp_path, args, fragment):
    out = tmp_path / "m.json"
    p = _cli("train", "iris", "--hidden", "2", "--time-limit", "5", "-o", out, *args)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], p.stderr
    assert not out.exists()


def test_cli_lexicographic_margin_run_records_its_stages(tmp_path):
    import json

    from bdnn.model_file import load_network

    out = tmp_path / "m.json"
    p = _cli("train", "iris", "--hidden", "2", "--objective", "margin", "--margin", "1",
             "--lexicographic", "--time-limit", "6", "--workers", "1", "--json", "-o", out)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    net = load_network(out)
    t = net.training
    assert t["objective_name"] == "margin" and t["objective_params"] == {"margin": 1}
    assert [s["stage"] for s in t["lexicographic"]["stages"]] == ["loss", "margin"]
    from bdnn.data import load_dataset

    X, y = load_dataset("iris", split="paper", seed=0).train_part()
    m = row_margins(net.forward_q(net.quantizer.quantize(X)).scores, y, net.output)
    assert res["objective"] == t["lexicographic"]["loss"] == int((m < 1).sum())
    if (m >= 1).any():
        assert t["lexicographic"]["smallest_margin"] == int(m[m >= 1].min())


def test_estimator_passes_margin_and_lexicographic():
    from bdnn.estimator import BDNNClassifier

    rng = np.random.default_rng(4)
    X = rng.integers(0, 4, size=(16, 2)).astype(float)
    y = (X[:, 0] + X[:, 1] >= 3).astype(int)
    clf = BDNNClassifier(hidden=(2,), objective="margin", margin=1, lexicographic=True,
                         time_limit=10, workers=1).fit(X, y)
    t = clf.network_.training
    assert t["objective_params"] == {"margin": 1} and "lexicographic" in t
    m = row_margins(clf.network_.forward_q(clf.network_.quantizer.quantize(X)).scores, y,
                    clf.network_.output)
    assert t["objective"] == int((m < 1).sum())
    # and to every member of an ensemble
    y3 = (X[:, 0] >= 2).astype(int) + (X[:, 1] >= 2).astype(int)  # three classes
    ens = BDNNClassifier(hidden=(2,), objective="margin", margin=1, lexicographic=True,
                         ensemble="ovr", time_limit=10, workers=1).fit(X, y3).network_
    assert ens.training["objective_params"] == {"margin": 1} and ens.training["lexicographic"]
    assert all(m.training["objective_params"] == {"margin": 1} and "lexicographic" in m.training
               for m in ens.members)


def test_margin_start_descends_on_errors_first():
    """The start of a margin objective is never the plateau of a tied rounded MLP: on data a
    single threshold separates, the descended start classifies at least as well as the errors
    start and its margin loss is no worse."""
    from bdnn.train.float_start import descended_start

    assert MarginObjective(1).start_objective() == ERRORS
    assert MarginObjective(0).start_objective() is None and ERRORS.start_objective() is None
    rng = np.random.default_rng(6)
    Q = rng.integers(0, 16, size=(40, 3))
    y = (Q[:, 0] + Q[:, 1] >= 15).astype(np.int64)
    quantizer = Quantizer.fit(Q.astype(float), 4)
    arch = Architecture.for_training(Q, y, max_level=15, n_classes=2, hidden=(2,),
                                     weight_bound=1, activation="heaviside", output="argmax")
    kw = dict(seed=0, time_limit=10.0, deterministic=True)
    net_e, _ = descended_start(Q, y, arch, quantizer, [0, 1], ERRORS, **kw)
    net_m, rec = descended_start(Q, y, arch, quantizer, [0, 1], MarginObjective(1), **kw)
    margin = MarginObjective(1)
    assert rec["objective"] == margin.loss(net_m, Q, y) <= margin.loss(net_e, Q, y)
    assert margin.loss(net_m, Q, y) < len(y) // 2  # not the majority-class plateau


@pytest.mark.parametrize("method", ["local-search", "split"])
def test_heuristics_optimise_the_margin_loss(method):
    """local search and the data split train on the margin objective and report its loss
    (recomputed here from plain-Python margins)."""
    from bdnn.train.methods import train_network

    rng = np.random.default_rng(7)
    Q = rng.integers(0, 4, size=(30, 2))
    y = (Q[:, 0] + Q[:, 1] >= 3).astype(np.int64)
    quantizer = Quantizer.fit(Q.astype(float), 2)
    problem = TrainProblem.build(Q, y, quantizer=quantizer, classes=[0, 1], hidden=(2,),
                                 objective=MarginObjective(1),
                                 solve=SolveOptions(time_limit=6, workers=1, progress=False))
    result = train_network(method, problem, **({"splits": 2} if method == "split" else {}))
    net = result.network
    expect = sum(plain_loss(plain_scores(net, q), int(c), False, 1)
                 for q, c in zip(Q, y, strict=True))
    assert result.objective == expect == net.training["objective"]
    assert net.training["objective_params"] == {"margin": 1}


def test_a_later_stage_may_lower_the_loss_and_the_result_says_so():
    """Regression: --sparsify (and the margin stage) keep loss <= the value found; after an
    unproven first stage they can find a lower loss, which used to fail the re-check. Here the
    incumbent is a bad dense network and the sparsest network within its loss is a constant
    one with a lower loss."""
    from bdnn.train import exact

    rng = np.random.default_rng(8)
    Q = rng.integers(0, 4, size=(20, 2))
    y = np.zeros(20, dtype=np.int64)
    y[:4] = 1  # a constant "class 0" network misclassifies 4 rows
    net = random_network(rng, 2, (2,), 2, bits=2)
    problem = TrainProblem.build(Q, y, quantizer=net.quantizer, classes=[0, 1], hidden=(2,),
                                 solve=SolveOptions(time_limit=20, workers=1, progress=False))
    from bdnn.network import Layer

    # h0 = (q0 >= 3); class 1 iff h0: every row with q0 = 3 is called class 1
    bad = problem.network([Layer(np.array([[1, 0], [0, 0]]), np.array([-3, -1]), 1),
                           Layer(np.array([[0, 0], [1, 0]]), np.array([0, 0]), 1)])
    loss = problem.loss(bad)
    if loss <= 4:
        pytest.skip("the rows with q0 = 3 happen to be class 1")
    builder = BDNNCpModel(problem.arch, problem.rows, ModelOptions())
    stages: list = []
    out = exact._sparsify(builder, problem, 10.0, bad, loss, stages)
    value, status, origin = exact._lower_loss(problem, out, loss, 4.0, "FEASIBLE", "CP-SAT",
                                              "sparsify")
    assert value == problem.loss(out) == ERRORS.loss(out, Q, y) < loss
    assert "lower loss found by the sparsify stage" in origin
    assert status == ("OPTIMAL" if value <= 4 else "FEASIBLE")
