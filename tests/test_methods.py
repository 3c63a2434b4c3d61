"""The paper's other training methods: robust, local search, data-splitting, auto; attacks."""

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from brute_force import best_errors
from cli_helpers import bdnn

from bdnn.errors import BDNNError
from bdnn.estimator import BDNNClassifier
from bdnn.network import errors_of
from bdnn.quantizer import Quantizer
from bdnn.robust import pattern_holds_on_box, random_corners_check
from bdnn.train.data_split import run_data_split
from bdnn.train.exact import train_exact
from bdnn.train.local_search import train_local_search
from bdnn.train.methods import auto_choice, train_network
from bdnn.train.problem import TrainProblem
from bdnn.train.robust_boxes import robust_boxes
from bdnn.train.rows import unique_rows
from bdnn.train.solver import SolveOptions

ROOT = Path(__file__).resolve().parents[1]
FAST = SolveOptions(time_limit=20, workers=1, progress=False)


def _tiny(seed, n=12, d=2, k=2, lo=0, hi=3):
    rng = np.random.default_rng(seed)
    return rng.integers(lo, hi + 1, size=(n, d)), rng.integers(0, k, size=n)


def _kw(Q, bits=2, k=2):
    return {"quantizer": Quantizer.identity(Q.shape[1], bits), "classes": list(range(k)),
            "solve": FAST}


# -- robust training ----------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [1, 2])
def test_robust_pattern_holds_on_every_corner_and_costs_loss(rho):
    # levels 2..5 of 0..7: boxes of radius <= 2 are not clipped, so the box is q +- rho exactly
    rng = np.random.default_rng(rho)
    Q = rng.integers(2, 6, size=(16, 2))
    y = (Q[:, 0] > Q[:, 1]).astype(int)
    plain = train_exact(TrainProblem.build(Q, y, hidden=(2,), **_kw(Q, bits=3)))
    robust = train_exact(TrainProblem.build(Q, y, hidden=(2,), robust_radius=rho, **_kw(Q, bits=3)))
    net = robust.network
    assert robust.status == plain.status == "OPTIMAL"
    assert robust.objective >= plain.objective
    assert robust.objective == errors_of(net, Q, y)
    assert net.training["robust_radius"] == rho
    assert net.training["robust_radius_levels"] == [rho, rho]
    assert random_corners_check(net, Q, rho, n_corners=64)
    assert pattern_holds_on_box(net, Q, rho)
    # independent check: every corner of every box, numpy first layer
    W, b = net.layers[0].weights, net.layers[0].bias
    centre = (Q @ W.T + b) >= 0
    for signs in itertools.product([-1, 1], repeat=2):
        assert np.array_equal((Q + rho * np.array(signs)) @ W.T + b >= 0, centre)


def test_robust_boxes_merge_rows_and_use_raw_features():
    q = Quantizer(2, np.zeros(1, np.float32), np.ones(1, np.float32))  # levels 0..3
    X = np.array([[1.2], [0.9], [2.0]])  # first two quantize to 1
    y = np.array([0, 0, 1])
    Q = q.quantize(X)
    rows = unique_rows(Q, y, 2)
    lo, hi = robust_boxes(q, X, rows, 0.4)
    ends_lo = q.quantize(X - 0.4).astype(int)[:, 0]
    ends_hi = q.quantize(X + 0.4).astype(int)[:, 0]
    # unique row 0 holds raw rows 0 and 1: box is the union of [1.0-ish, 1.6] and [0.5, 1.3]
    assert rows.inverse.tolist() == [0, 0, 1]
    assert lo[:, 0].tolist() == [min(ends_lo[0], ends_lo[1]), ends_lo[2]] == [1, 2]
    assert hi[:, 0].tolist() == [max(ends_hi[0], ends_hi[1]), ends_hi[2]] == [2, 2]


def test_robust_bad_radius():
    Q, y = _tiny(1)
    with pytest.raises(BDNNError, match="robust-radius"):
        train_exact(TrainProblem.build(Q, y, hidden=(1,), robust_radius=-0.5, **_kw(Q)))


def test_radius_covering_every_range_is_refused_with_a_radius_that_works(tmp_path):
    import re

    out = tmp_path / "m.json"
    bad = subprocess.run([sys.executable, "-m", "bdnn", "train", "iris", "--robust-radius",
                          "100", "--time-limit", "5", "-o", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and not out.exists()
    msg = bad.stderr.strip().splitlines()
    assert len(msg) == 1 and "no first-layer unit can change" in msg[0]
    below = float(re.search(r"below ([0-9.]+)", msg[0]).group(1))
    # just above the suggestion is still refused, just below it trains
    for rho, code in ((below + 0.02, 2), (below - 0.02, 0)):
        # one hidden unit proves optimal in seconds: the generous limit only matters when the
        # machine is busy (the limit counts from process start)
        r = subprocess.run([sys.executable, "-m", "bdnn", "train", "iris", "--robust-radius",
                            f"{rho:.4f}", "--hidden", "1", "--time-limit", "120", "--workers",
                            "1", "--quiet",
                            "-o", str(out)], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == code, r.stderr


# -- local search -------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [(2,), (2, 2)])
def test_local_search_never_increases_and_reports_true_loss(hidden):
    Q, y = _tiny(3, n=20, hi=7)
    r = train_local_search(TrainProblem.build(Q, y, hidden=hidden, **_kw(Q, bits=3)), restarts=3)
    assert r.objective == errors_of(r.network, Q, y) == r.train_errors
    assert r.network.training["method"] == "local-search"
    hist = r.network.training["history"]
    assert 1 <= len(hist) <= 3
    for start in hist:
        assert all(b <= a for a, b in itertools.pairwise(start["losses"]))
    assert r.objective == min(s["losses"][-1] for s in hist)
    if hidden == (2,):
        assert r.objective >= best_errors(Q, y, 2, 2, w=1, levels=7)


def test_local_search_from_optimal_warm_start_stays_optimal():
    Q, y = _tiny(5)
    exact = train_exact(TrainProblem.build(Q, y, hidden=(2,), **_kw(Q)))
    problem = TrainProblem.build(Q, y, hidden=(2,), warm_start=exact.network, **_kw(Q))
    r = train_local_search(problem, restarts=1)
    assert r.objective == exact.objective
    assert r.network.training["history"][0]["start"] == "warm-start"


def test_local_search_bad_input():
    Q, y = _tiny(1)
    with pytest.raises(BDNNError, match="hidden layer"):
        train_local_search(TrainProblem.build(Q, y, hidden=(), **_kw(Q)))
    with pytest.raises(BDNNError, match="restarts"):
        train_local_search(TrainProblem.build(Q, y, hidden=(1,), **_kw(Q)), restarts=0)


# -- data-splitting -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2, 3])
def test_split_down_to_single_points_reaches_the_exact_optimum(seed):
    Q, y = _tiny(seed)
    expect = best_errors(Q, y, 2, 2, w=1, levels=3)
    problem = TrainProblem.build(Q, y, hidden=(2,), **_kw(Q))
    run = run_data_split(problem, splits=len(y), descend=False)
    assert run.result.objective == expect == errors_of(run.result.network, Q, y)
    iters = run.result.network.training["iterations"]
    assert iters[-1]["status"] == "OPTIMAL"
    assert iters[0]["subsets"] == 1 and iters[-1]["subsets"] > 1


def test_split_shared_patterns_hold_in_the_returned_network():
    rng = np.random.default_rng(4)
    Q = rng.integers(0, 8, size=(40, 3))
    y = (Q[:, 0] + Q[:, 1] > 7).astype(int)
    Qv = rng.integers(0, 8, size=(15, 3))
    yv = (Qv[:, 0] + Qv[:, 1] > 7).astype(int)
    problem = TrainProblem.build(Q, y, hidden=(2, 2), Q_val=Qv, y_val=yv, **_kw(Q, bits=3))
    run = run_data_split(problem, splits=3, batch_size=30, descend=False)
    net = run.result.network
    assert len(run.batch) == 30 and net.training["selected_by"] == "val_accuracy"
    fwd = net.forward_q(Q[run.batch])
    checked = 0
    for g in np.unique(run.groups):
        members = np.flatnonzero(run.groups == g)
        for hidden_bits in fwd.hidden_bits:
            assert (hidden_bits[members] == hidden_bits[members[0]]).all()
        checked += len(members) > 1
    assert checked >= 1
    kept = [it for it in net.training["iterations"] if it.get("kept")]
    best_val = max(it["val_accuracy"] for it in net.training["iterations"] if "val_accuracy" in it)
    assert kept[-1]["val_accuracy"] == best_val
    assert best_val == pytest.approx(1 - errors_of(net, Qv, yv) / len(yv))


def test_split_default_adds_a_descended_start_and_keeps_the_best_validation_network():
    rng = np.random.default_rng(8)
    Q = rng.integers(0, 8, size=(120, 3))
    y = (Q[:, 0] + Q[:, 1] - Q[:, 2] > 4).astype(int)
    Qv = rng.integers(0, 8, size=(40, 3))
    yv = (Qv[:, 0] + Qv[:, 1] - Qv[:, 2] > 4).astype(int)
    problem = TrainProblem.build(Q, y, hidden=(2,), Q_val=Qv, y_val=yv, **_kw(Q, bits=3))
    run = run_data_split(problem, splits=2, batch_size=30)
    its = run.result.network.training["iterations"]
    assert its[0]["iteration"] == "start" and its[-1]["iteration"] == "descent"
    net_val = 1 - errors_of(run.result.network, Qv, yv) / len(yv)
    assert net_val == pytest.approx(max(it["val_accuracy"] for it in its if "val_accuracy" in it))
    # the start is a rounded MLP plus coordinate descent on all rows: on this linear rule it
    # is far better than the majority class
    assert its[0]["train_accuracy"] >= 0.9
    with pytest.raises(BDNNError, match="robust"):
        problem = TrainProblem.build(
            Q, y, hidden=(2,), robust_radius=0.5, X_raw=Q.astype(float), **_kw(Q, bits=3))
        run_data_split(problem, splits=1, descend=True)


def test_split_paper_settings_and_bad_input():
    Q, y = _tiny(6, n=70, hi=3)
    r = run_data_split(TrainProblem.build(Q, y, hidden=(1,), **_kw(Q)), paper=True, splits=2).result
    rec = r.network.training
    assert rec["paper"] and rec["batch_size"] == 64 and rec["kmeans_init"] == 25
    assert all(it["batch"][1] == 64 for it in rec["iterations"])
    with pytest.raises(BDNNError, match="splits"):
        run_data_split(TrainProblem.build(Q, y, hidden=(1,), **_kw(Q)), splits=0)
    with pytest.raises(BDNNError, match="batch-size 71 is larger"):
        run_data_split(TrainProblem.build(Q, y, hidden=(1,), **_kw(Q)), batch_size=71)


# -- dispatch, auto, estimator ------------------------------------------------------------------


def test_auto_picks_exact_for_small_and_split_for_large(capsys):
    Q, y = _tiny(2)
    opts = SolveOptions(time_limit=20, workers=1, progress=True)
    r = train_network("auto", TrainProblem.build(Q, y, hidden=(2,), **{**_kw(Q), "solve": opts}))
    assert r.network.training["auto_choice"] == "exact"
    assert r.network.training["method"] == "auto"
    assert "chose method exact" in capsys.readouterr().err
    assert r.objective == best_errors(Q, y, 2, 2, w=1, levels=3)
    big = np.arange(60000 * 2).reshape(60000, 2)  # 60,000 distinct rows x 4 units
    assert auto_choice(big, (4,)) == "split"
    assert auto_choice(big[:40000], (4,)) == "exact"
    with pytest.raises(BDNNError, match="unknown method"):
        train_network("nope", TrainProblem.build(Q, y, hidden=(2,), **_kw(Q)))
    with pytest.raises(BDNNError, match="sparsify"):
        train_network("split", TrainProblem.build(Q, y, hidden=(2,), **_kw(Q)), sparsify=True)


def test_estimator_methods_and_robust_radius():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = np.where(X[:, 0] + 0.3 * X[:, 1] > 0, "a", "b")
    for method in ("local-search", "split"):
        clf = BDNNClassifier(hidden=2, input_bits=2, method=method, time_limit=5, workers=1,
                             restarts=1, splits=2).fit(X, y)
        assert clf.network_.training["method"] == method
        assert clf.result_.train_errors == int(np.sum(clf.predict(X) != y))
    clf = BDNNClassifier(hidden=2, input_bits=3, robust_radius=0.2, time_limit=10,
                         workers=1).fit(X, y)
    rec = clf.network_.training
    assert rec["robust_radius"] == 0.2
    levels = clf.network_.quantizer.scale * 0.2
    assert rec["robust_radius_levels"] == pytest.approx(levels.tolist())


# -- CLI ----------------------------------------------------------------------------------------




@pytest.mark.slow
def test_cli_methods_and_attacks(tmp_path):
    out = tmp_path / "m.json"
    # split ends when its two splits are solved (6-7 s on a free core); the limit is only a
    # bound for a busy machine, where 6 s once found no network
    p = bdnn("train", "iris", "--hidden", "2", "--method", "split", "--splits", "2",
              "--robust-radius", "0.05", "--time-limit", "60", "--quiet", "--json", "-o", out)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["method"] == "split" and s["robust_radius"] == 0.05
    p = bdnn("evaluate", out, "iris", "--attack", "worst-case", "--eps", "0.3", "--json")
    assert p.returncode == 0, p.stderr
    a = json.loads(p.stdout)["attack"]
    assert a["certified"] + a["flipped"] + a["unknown"] == a["n"]
    if a["flipped"]:  # the counterexample really flips the model's prediction
        from bdnn.model_file import load_network
        net = load_network(out)
        ce = a["first_counterexample"]
        x = np.array([ce["input"]], dtype=np.float32)
        assert str(net.classes[int(net.predict(x)[0])]) == ce["attacked_prediction"]
        assert ce["attacked_prediction"] != ce["predicted"]
    p = bdnn("evaluate", out, "iris", "--attack", "random", "--eps", "0", "--json")
    d = json.loads(p.stdout)
    assert d["attack"]["attacked_accuracy"] == d["accuracy"]  # eps 0 = plain accuracy
    for args, frag in [
        (("train", "iris", "--robust-radius", "-1", "-o", tmp_path / "x.json"), "robust-radius"),
        (("train", "iris", "--method", "split", "--batch-size", "999", "-o",
          tmp_path / "x.json"), "batch-size"),
        (("train", "iris", "--method", "split", "--splits", "0", "-o", tmp_path / "x.json"),
         "splits"),
        (("evaluate", out, "iris", "--attack", "random"), "--eps"),
    ]:
        p = bdnn(*args)
        assert p.returncode == 2 and p.stderr.startswith("error: ") and frag in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()
