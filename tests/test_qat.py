"""``--method qat``: the rounded float MLP trained on as the integer network it is."""

import dataclasses
import json

import numpy as np
import pytest
from cli_helpers import bdnn

from bdnn.data import load_dataset
from bdnn.network import Layer, errors_of
from bdnn.quantizer import Quantizer
from bdnn.train.float_start import fit_float_mlp, round_float_mlp
from bdnn.train.methods import train_network
from bdnn.train.problem import TrainProblem
from bdnn.train.qat import STARTS, _Latent, quantization_aware_epochs
from bdnn.train.rounded import MAX_EPOCHS
from bdnn.train.solver import SolveOptions


def _problem(Q, y, classes, **kw):
    solve = SolveOptions(time_limit=kw.pop("time_limit", 60), workers=1, seed=kw.pop("seed", 0),
                         deterministic=kw.pop("deterministic", True), progress=False)
    return TrainProblem.build(Q, y, quantizer=Quantizer.identity(Q.shape[1], 4),
                              classes=list(classes), solve=solve, **kw)


def _digits():
    ds = load_dataset("digits", split="paper", seed=0)
    X, y = ds.train_part()
    q = Quantizer.fit(X, 4)
    return q.quantize(X), y, ds


def _xor_like(seed=0, n=240, d=5):
    rng = np.random.default_rng(seed)
    Q = rng.integers(0, 16, size=(n, d))
    y = ((Q[:, 0] > 7) ^ (Q[:, 1] > 7)).astype(int) + (Q[:, 2] + Q[:, 3] > 22).astype(int)
    return Q, y


def test_qat_lowers_the_training_errors_of_the_rounding_where_it_loses_them():
    # digits 64-16-10 with ternary weights: the rounding reproduces the float units' signs on
    # ~93 % of the rows and loses accuracy; training the integer network wins it back
    Q, y, ds = _digits()
    kw = {"hidden": (16,), "weight_bound": 1}
    rounded = train_network("rounded", _problem(Q, y, ds.classes, **kw))
    qat = train_network("qat", _problem(Q, y, ds.classes, **kw))
    e_rounded = errors_of(rounded.network, Q, y)
    e_qat = errors_of(qat.network, Q, y)
    assert e_qat <= 0.6 * e_rounded, (e_rounded, e_qat)
    # the record tells the truth, by the numpy forward pass
    assert qat.objective == e_qat == qat.train_errors
    record = qat.network.training
    k = record["best_start"]
    assert record["method"] == "qat" and 0 <= k < len(record["starts"]) <= STARTS
    assert record["starts"][k] == [record["objective_rounded"], e_qat]
    assert k == 0 or record["starts"][0][1] - e_qat > 2 * record["starts"][0][1] ** 0.5 + 1
    # objective_rounded is the rounding of the winning start's float MLP (seed --seed + k)
    seed = k
    problem = _problem(Q, y, ds.classes, **kw)
    mlp = fit_float_mlp(Q, y, problem.arch, seed=seed, max_iter=MAX_EPOCHS, alpha=1e-3)
    start = round_float_mlp(mlp, Q, y, problem.arch, problem.quantizer, problem.classes)
    assert record["objective_rounded"] == errors_of(start.network, Q, y)
    if record["best_start"] == 0:
        assert record["objective_rounded"] == e_rounded
    assert 0 <= record["best_epoch"] < record["epochs"] == record["max_epochs"]
    assert [s["stage"] for s in qat.stages] == ["rounded", "qat"]
    # and on held-out rows it is no worse than the rounding (0.88 -> 0.93 on seeds 0-4)
    Xt, yt = ds.test_part()
    assert np.mean(qat.network.predict(Xt) == yt) >= np.mean(rounded.network.predict(Xt) == yt)


def test_the_latent_weights_start_as_the_rounded_network():
    Q, y = _xor_like()
    problem = _problem(Q, y, [0, 1, 2], hidden=(6, 4), weight_bound=2)
    mlp = fit_float_mlp(Q, y, problem.arch, seed=0, max_iter=300)
    start = round_float_mlp(mlp, Q, y, problem.arch, problem.quantizer, problem.classes)
    for li, layer in enumerate(start.network.layers):
        lat = _Latent(mlp.weights[li], layer, start.scales[li], li < 2,
                      start.network.bias_bound(li))
        W, b = lat.integers()
        assert np.array_equal(W, layer.weights) and np.array_equal(b, layer.bias)
    # no epoch: the start itself comes back
    net, ran, best, _ = quantization_aware_epochs(problem, mlp, start, deadline=None,
                                                  epochs=0)
    assert (ran, best) == (0, -1) and net is start.network


def test_a_hidden_bit_is_the_sign_of_its_float_preactivation():
    # the forward pass trains on s (x W) + B >= 0 and the network runs x W + floor(B / s) >= 0
    rng = np.random.default_rng(3)
    for _ in range(200):
        n_in = int(rng.integers(1, 12))
        w = int(rng.integers(1, 4))
        s = float(rng.uniform(0.01, 3.0))
        layer = Layer(np.zeros((1, n_in), dtype=np.int64), np.zeros(1, dtype=np.int64), w)
        lat = _Latent(rng.normal(0, 2 * s, (1, n_in)), layer, np.array([s]), True,
                      w * n_in * 15 + 1)
        lat.B[:] = rng.normal(0, 5 * s * n_in)
        W, b = lat.integers()
        x = rng.integers(0, 16, size=(64, n_in)).astype(np.float64)
        u = s * (x @ W.T) + lat.B
        fires = (x.astype(np.int64) @ W.T + b) >= 0
        clear = np.abs(u) > 1e-9 * (1 + np.abs(lat.B))  # floating point on the very boundary
        assert np.array_equal((u >= 0)[clear], fires[clear])


@pytest.mark.parametrize("activation, output, hidden", [("sign", "argmax", (8,)),
                                                        ("heaviside", "single", (6,)),
                                                        ("heaviside", "argmax", (8, 4))])
def test_qat_on_every_convention_keeps_the_rounding_or_better(activation, output, hidden,
                                                             monkeypatch):
    monkeypatch.setattr("bdnn.train.qat.STARTS", 2)  # the starts' rule: the test below
    Q, y = _xor_like(1)
    classes = [0, 1, 2]
    if output == "single":
        y = (y > 0).astype(int)
        classes = [0, 1]
    kw = {"hidden": hidden, "weight_bound": 1, "activation": activation, "output": output}
    rounded = train_network("rounded", _problem(Q, y, classes, **kw)).network
    r = train_network("qat", _problem(Q, y, classes, **kw))
    assert r.network.activation.name == activation and r.network.output.name == output
    assert r.objective == errors_of(r.network, Q, y) <= errors_of(rounded, Q, y)
    again = train_network("qat", _problem(Q, y, classes, **kw)).network  # deterministic
    assert all(np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
               for a, b in zip(r.network.layers, again.layers, strict=True))


def test_every_backend_runs_a_qat_network_bit_exactly(tmp_path):
    from bdnn.model_file import save_network

    ds = load_dataset("wine", split="paper", seed=2)
    X, y = ds.train_part()
    q = Quantizer.fit(X, 4)
    problem = TrainProblem.build(q.quantize(X), y, quantizer=q, classes=list(ds.classes),
                                 hidden=(8,), solve=SolveOptions(time_limit=30, workers=1,
                                                                 seed=2, deterministic=True,
                                                                 progress=False))
    out = tmp_path / "m.json"
    save_network(train_network("qat", problem).network, out)
    p = bdnn("verify", out, "wine", "--backends", "numpy,onnxruntime,c-host", "--json",
             "--quiet")
    assert p.returncode == 0, p.stderr + p.stdout
    report = json.loads(p.stdout)
    assert report["ok"] and report["data_rows"] == 178
    assert {b["backend"]: (b["status"], b["mismatches"]) for b in report["backends"]} == {
        "numpy": ("reference", 0), "onnxruntime": ("ok", 0), "c-host": ("ok", 0)}


def test_estimator_trains_qat():
    from sklearn.datasets import load_iris

    from bdnn import BDNNClassifier

    X, y = load_iris(return_X_y=True)
    clf = BDNNClassifier(hidden=(8,), method="qat", time_limit=30, deterministic=True).fit(X, y)
    assert clf.network_.training["method"] == "qat"
    assert clf.score(X, y) == np.mean(clf.network_.predict(X) == y) > 0.9


def _same(a, b) -> bool:
    return len(a.layers) == len(b.layers) and all(
        np.array_equal(p.weights, q.weights) and np.array_equal(p.bias, q.bias)
        for p, q in zip(a.layers, b.layers, strict=True))


def _versicolor_against_the_rest():
    ds = load_dataset("iris", split="paper", seed=2)
    X, y = ds.train_part()
    q = Quantizer.fit(X, 4)
    return q.quantize(X), (y == 1).astype(int)


def test_later_starts_leave_a_float_mlp_stuck_in_a_poor_minimum():
    # iris versicolor against the rest needs both of 2 hidden units (the class lies between
    # the others); --seed 0's float MLP there stops with a unit that says nothing, and
    # training the integer network on from its rounding keeps 18 of 76 rows wrong
    Q, y = _versicolor_against_the_rest()
    kw = {"hidden": (2,), "output": "single"}
    problem = _problem(Q, y, [0, 1], seed=2, **kw)
    losses, nets = [], []  # each start by hand: MLP seed 2 + k, rounded, trained on
    for k in range(STARTS):
        mlp = fit_float_mlp(Q, y, problem.arch, seed=2 + k, max_iter=MAX_EPOCHS)
        start = round_float_mlp(mlp, Q, y, problem.arch, problem.quantizer, problem.classes)
        run = problem.replace(solve=dataclasses.replace(problem.solve, seed=2 + k))
        net = quantization_aware_epochs(run, mlp, start, deadline=None)[0]
        losses.append([errors_of(start.network, Q, y), errors_of(net, Q, y)])
        nets.append(net)
    assert losses[0][1] >= 10
    qat = train_network("qat", _problem(Q, y, [0, 1], seed=2, **kw))
    record = qat.network.training
    # the rule: "clearly" is by more than 2 sqrt(L) + 1 rows; another start runs while the
    # data's bound is clearly below the best loss (no clock: the restarts' time share is off)
    def clearly(lower, than):
        return than - lower > 2 * than ** 0.5 + 1

    best, kept, ran = losses[0][1], 0, STARTS
    for k in range(1, STARTS):
        if not clearly(problem.lower_bound(), best):
            ran = k
            break
        if clearly(losses[k][1], best):
            best, kept = losses[k][1], k
    assert qat.train_errors == errors_of(qat.network, Q, y) == best <= losses[0][1] // 2
    assert record["starts"] == losses[:ran] and record["best_start"] == kept > 0
    # the network kept is the by-hand start's, weight for weight (the starts' seeds come from
    # --seed, so the same call gives the same network)
    assert _same(qat.network, nets[kept])


def test_one_start_is_the_first_start_and_a_fit_stops_the_starts(monkeypatch):
    Q, y = _versicolor_against_the_rest()
    kw = {"hidden": (2,), "output": "single"}
    monkeypatch.setattr("bdnn.train.qat.STARTS", 1)
    only = train_network("qat", _problem(Q, y, [0, 1], seed=2, **kw))
    problem = _problem(Q, y, [0, 1], seed=2, **kw)
    mlp = fit_float_mlp(Q, y, problem.arch, seed=2, max_iter=MAX_EPOCHS)
    start = round_float_mlp(mlp, Q, y, problem.arch, problem.quantizer, problem.classes)
    first = quantization_aware_epochs(problem, mlp, start, deadline=None)[0]
    assert _same(only.network, first) and len(only.network.training["starts"]) == 1
    monkeypatch.undo()
    # a network that meets the data's bound (0 errors: setosa against the rest) ends the starts
    qat = train_network("qat", _problem(Q, (Q[:, 2] < 5).astype(int), [0, 1], **kw))
    assert qat.train_errors == 0 and qat.network.training["starts"] == [[0, 0]]


def test_a_limit_that_leaves_no_epoch_says_so(tmp_path):
    """A time limit the float MLP's fit uses up (a slow or busy machine; here 0.05 s on
    digits) leaves the rounded MLP, often near chance: bdnn train says so in a warning line
    and in the JSON's and the model record's warnings, naming the remedy. A limit with time for
    the epochs gives none."""
    out = tmp_path / "m.json"
    p = bdnn("train", "digits", "--hidden", 16, "--method", "qat", "--time-limit", 0.05,
             "--workers", 1, "-o", out, "--json", "--quiet")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert len(summary["warnings"]) == 1 and "raise --time-limit" in summary["warnings"][0]
    assert json.loads(out.read_text())["training"]["warnings"] == summary["warnings"]
    p = bdnn("train", "iris", "--hidden", 4, "--method", "qat", "--time-limit", 30,
             "--workers", 1, "--seed", 0, "-o", out)
    assert p.returncode == 0 and "warning" not in p.stdout, p.stdout
