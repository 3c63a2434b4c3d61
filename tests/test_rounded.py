"""``--method rounded`` and ``--float-alpha``: the float MLP rounded to integer weights."""

import json
import math
import warnings

import numpy as np
import pytest
from cli_helpers import assert_one_line_error, bdnn

from bdnn.errors import BDNNError
from bdnn.network import errors_of
from bdnn.quantizer import Quantizer
from bdnn.select.grid import expand
from bdnn.train.methods import train_network
from bdnn.train.problem import TrainProblem, check_float_alpha
from bdnn.train.rounded import MAX_EPOCHS
from bdnn.train.solver import SolveOptions


def _data(seed=0, n=160, d=6):
    rng = np.random.default_rng(seed)
    Q = rng.integers(0, 16, size=(n, d))
    y = ((Q[:, 0] + Q[:, 1] > Q[:, 2] + 8).astype(int)
         + ((Q[:, 3] > 9) & (Q[:, 4] < 7)).astype(int))
    return Q, y


def _problem(Q, y, **kw):
    solve = SolveOptions(time_limit=kw.pop("time_limit", 30), workers=1, seed=kw.pop("seed", 0),
                         deterministic=kw.pop("deterministic", True), progress=False)
    return TrainProblem.build(Q, y, quantizer=Quantizer.identity(Q.shape[1], 4),
                              classes=[0, 1, 2], solve=solve, **kw)


def _float_hidden_signs(Q, y, hidden, alpha, seed):
    """The hidden units' signs of scikit-learn's own MLP, fitted as the method says it fits
    it (standardised levels, tanh, L2 penalty ``alpha``, the seed, its epochs)."""
    from sklearn.neural_network import MLPClassifier

    Qf = Q.astype(float)
    mu, sd = Qf.mean(axis=0), Qf.std(axis=0)
    sd[sd == 0] = 1.0
    X = (Qf - mu) / sd
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier(hidden_layer_sizes=(hidden,), activation="tanh", alpha=alpha,
                            random_state=seed, max_iter=MAX_EPOCHS).fit(X, y)
    return (X @ mlp.coefs_[0] + mlp.intercepts_[0]) >= 0


@pytest.mark.parametrize("alpha", [1e-3, 1.0])
def test_rounded_network_keeps_the_float_mlps_hidden_signs(alpha):
    Q, y = _data()
    r = train_network("rounded", _problem(Q, y, hidden=(8,), weight_bound=7,
                                          float_alpha=alpha))
    net = r.network
    # the integer hidden units reproduce the float units' signs on (nearly) every row:
    # 15 weight levels per unit and a bias fitted to the float signs
    bits = (Q @ net.layers[0].weights.T + net.layers[0].bias) >= 0
    agree = np.mean(bits == _float_hidden_signs(Q, y, 8, alpha, seed=0))
    assert agree >= 0.95, agree
    assert int(np.abs(net.layers[0].weights).max()) <= 7
    # the record tells the truth: loss by the numpy forward pass, the method, the penalty
    assert r.objective == errors_of(net, Q, y) == r.train_errors
    assert r.objective < 0.25 * len(y)  # far better than the 1/3 of chance
    assert net.training["method"] == "rounded"
    assert net.training["float_alpha"] == alpha
    assert r.status == ("OPTIMAL" if r.objective == 0 else "FEASIBLE")
    assert r.origin.startswith("the float MLP, rounded")


def test_the_penalty_reaches_the_mlp_and_the_seed_repeats():
    Q, y = _data(1)
    a = train_network("rounded", _problem(Q, y, hidden=(6,), float_alpha=1e-3)).network
    b = train_network("rounded", _problem(Q, y, hidden=(6,), float_alpha=1e-3)).network
    c = train_network("rounded", _problem(Q, y, hidden=(6,), float_alpha=10.0)).network
    same = all(np.array_equal(p.weights, q.weights) and np.array_equal(p.bias, q.bias)
               for p, q in zip(a.layers, b.layers, strict=True))
    assert same  # deterministic: the same seed, the same network
    assert any(not np.array_equal(p.weights, q.weights) or not np.array_equal(p.bias, q.bias)
               for p, q in zip(a.layers, c.layers, strict=True))


def test_exact_records_a_non_default_penalty_for_its_start():
    Q, y = _data(2, n=60)
    r = train_network("exact", _problem(Q, y, hidden=(2,), float_alpha=0.5, time_limit=5,
                                        deterministic=False))
    assert r.network.training["float_alpha"] == 0.5
    plain = train_network("exact", _problem(Q, y, hidden=(2,), time_limit=5,
                                            deterministic=False))
    assert "float_alpha" not in plain.network.training  # older records stay as they were


@pytest.mark.parametrize("bad", [-1, -0.001, float("nan"), float("inf"), True, "x", "1", None])
def test_bad_penalties_are_refused(bad):
    with pytest.raises(BDNNError, match="--float-alpha must be a number >= 0"):
        check_float_alpha(bad)
    Q, y = _data()
    with pytest.raises(BDNNError, match="--float-alpha"):
        _problem(Q, y, float_alpha=bad)
    # numpy's numbers are numbers: what a GridSearchCV over np.logspace hands the estimator
    assert check_float_alpha(np.float64(0.5)) == 0.5 and check_float_alpha(np.int64(2)) == 2.0


@pytest.mark.parametrize("method", ["rounded", "qat"])
def test_float_mlp_methods_refuse_what_they_cannot_keep(method):
    Q, y = _data()
    X = Q.astype(float)
    with pytest.raises(BDNNError, match=f"--robust-radius needs a method that searches.*not "
                                        f"{method}"):
        train_network(method, _problem(Q, y, robust_radius=0.5, X_raw=X))
    start = train_network("rounded", _problem(Q, y, hidden=(4,))).network
    with pytest.raises(BDNNError, match=f"--method {method} trains its own float MLP; a warm "
                                        "start"):
        train_network(method, _problem(Q, y, hidden=(4,), warm_start=start))
    for option in ("sparsify", "lexicographic", "prove"):
        with pytest.raises(BDNNError, match=f"--{option} works with --method exact only"):
            train_network(method, _problem(Q, y), **{option: True})


@pytest.mark.parametrize("value, words", [(-1, "-1 is not a number >= 0"),
                                          (True, "true is not a number >= 0"),
                                          ("1", "\"1\" is not a number >= 0")])
def test_float_alpha_grid_axis(value, words):
    with pytest.raises(BDNNError, match=words):
        expand({"float_alpha": value})
    configs = expand({"hidden": 8, "method": "rounded", "float_alpha": [0.001, 1]})
    assert [c["float_alpha"] for c in configs] == [0.001, 1.0]


@pytest.mark.parametrize("method", ["rounded", "qat"])
def test_cli_trains_float_mlp_methods_and_refuses_bad_penalties(tmp_path, method):
    out = tmp_path / "m.json"
    p = bdnn("train", "iris", "--method", method, "--hidden", "8", "--float-alpha", "1",
             "--time-limit", "30", "--json", "--quiet", "-o", out)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    model = json.loads(out.read_text())
    assert summary["method"] == method and model["training"]["method"] == method
    assert model["training"]["float_alpha"] == 1.0
    assert math.isclose(summary["train_accuracy"], model["training"]["train_accuracy"])
    for args, words in ((["--float-alpha", "-1"], "--float-alpha must be a number >= 0"),
                        (["--float-alpha", "nan"], "--float-alpha must be a number >= 0"),
                        (["--sparsify"], "--sparsify works with --method exact only")):
        bad = tmp_path / "bad.json"
        p = bdnn("train", "iris", "--method", method, *args, "-o", bad)
        assert_one_line_error(p, words)
        assert not bad.exists()


def test_select_cross_validates_rounded_and_trains_the_pick_on_every_row(tmp_path):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"method": "rounded", "hidden": [4, 8],
                                "float_alpha": [0.001, 1.0]}))
    out = tmp_path / "m.json"
    p = bdnn("select", "iris", "--cv", "3", "--grid", grid, "--time-limit", "30", "--quiet",
             "--json", "-o", out, "--results", tmp_path / "r.jsonl")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["chosen"]["config"]["method"] == "rounded"
    assert report["chosen"]["refit"] is True  # --cv: the pick retrained on every non-test row
    model = json.loads(out.read_text())
    assert model["training"]["method"] == "rounded"
    assert model["training"]["n_train"] == 113  # iris' non-test rows (paper split)


def test_estimator_takes_the_method_and_the_penalty():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV

    from bdnn import BDNNClassifier

    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(BDNNClassifier(hidden=(16,), method="rounded", time_limit=30,
                                         deterministic=True),
                          {"float_alpha": [1e-3, 1.0]}, cv=3).fit(X, y)
    best = search.best_estimator_
    assert best.network_.training["method"] == "rounded"
    assert best.network_.training["float_alpha"] == search.best_params_["float_alpha"]
    assert best.score(X, y) == np.mean(best.network_.predict(X) == y)
    with pytest.raises(BDNNError, match="--float-alpha must be a number >= 0"):
        BDNNClassifier(method="rounded", float_alpha=-1.0).fit(X, y)


def test_cli_refuses_rounded_with_a_warm_start_or_a_robust_radius(tmp_path):
    start = tmp_path / "start.json"
    p = bdnn("train", "iris", "--method", "rounded", "--hidden", "4", "--quiet", "-o", start)
    assert p.returncode == 0, p.stderr
    bad = tmp_path / "bad.json"
    for args, words in ((["--warm-start", start], "a warm start (--warm-start) needs exact"),
                        (["--robust-radius", "0.2"], "(exact, local-search or split), not "
                                                     "rounded")):
        p = bdnn("train", "iris", "--method", "rounded", "--hidden", "4", *args, "-o", bad)
        assert_one_line_error(p, words)
        assert not bad.exists()


def test_the_bias_scan_is_the_first_best_threshold_by_brute_force():
    from bdnn.train.float_start import _best_threshold

    rng = np.random.default_rng(7)
    for _ in range(500):
        n, reach = int(rng.integers(1, 40)), int(rng.integers(1, 30))
        pre = rng.integers(-reach - 4, reach + 4, n)
        target = rng.random(n) < rng.random()
        scores = {b: int(np.sum((pre + b >= 0) == target)) for b in range(-(reach + 1), reach + 1)}
        best = max(scores.values())
        chosen = _best_threshold(pre, target, reach)
        assert scores[chosen] == best
        # the first best among the thresholds that change something (the data's -pre, the ends)
        ends = {-(reach + 1), reach}
        useful = sorted({int(v) for v in -pre if -(reach + 1) <= v <= reach} | ends)
        assert chosen == next(b for b in useful if scores[b] == best)
