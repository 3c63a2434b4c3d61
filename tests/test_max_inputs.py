"""``--max-inputs K`` (docs/design.md §4, "Reading few inputs"): the input choice against
plain-Python leave-one-out counts (a decision table, the nearest class mean), the quantizer
forms that read only some inputs against the full quantizer, and trained networks that read at
most K inputs, whose predictions do not move when the other inputs do, on the command line,
the estimator and ``bdnn select``'s grid."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bdnn.errors import BDNNError
from bdnn.model_file import load_network, network_from_dict, network_to_dict
from bdnn.quantizer import Pow2Quantizer, Quantizer, fit_quantizer
from bdnn.select.grid import compatible, expand
from bdnn.select.task import task_key
from bdnn.train.input_selection import choose_inputs, loo_mean_correct, loo_table_correct
from bdnn.train.methods import train_network
from bdnn.train.problem import TrainProblem
from bdnn.train.solver import SolveOptions

ROOT = Path(__file__).resolve().parents[1]


def plain_loo_correct(cells, y, n_classes, default) -> int:
    """Leave-one-out majority vote within cells, one row at a time."""
    correct = 0
    for r in range(len(y)):
        votes = [0] * n_classes
        for s in range(len(y)):
            if s != r and cells[s] == cells[r]:
                votes[y[s]] += 1
        pred = default if sum(votes) == 0 else votes.index(max(votes))
        correct += pred == y[r]
    return correct


@pytest.mark.parametrize("seed", range(6))
def test_loo_count_matches_plain_python(seed):
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 40)), int(rng.integers(2, 5))
    cells = rng.integers(0, 6, n)
    y = rng.integers(0, c, n)
    default = int(rng.integers(0, c))
    assert loo_table_correct(cells, y, c, default) == plain_loo_correct(cells, y, c, default)


def plain_loo_mean_correct(Z, y, n_classes) -> int:
    """Leave-one-out nearest class mean on the columns ``Z``, one row at a time (a class with
    no other row has no mean; ties to the lower class)."""
    correct = 0
    for r in range(len(y)):
        best, best_d = None, None
        for c in range(n_classes):
            rows = [s for s in range(len(y)) if s != r and y[s] == c]
            if not rows:
                continue
            mean = [sum(float(Z[s][j]) for s in rows) / len(rows) for j in range(Z.shape[1])]
            d = sum((float(Z[r][j]) - mean[j]) ** 2 for j in range(Z.shape[1]))
            if best_d is None or d < best_d:
                best, best_d = c, d
        correct += best == y[r]
    return correct


@pytest.mark.parametrize("seed", range(6))
def test_loo_mean_count_matches_plain_python(seed):
    rng = np.random.default_rng(seed)
    n, c, d = int(rng.integers(2, 30)), int(rng.integers(2, 5)), int(rng.integers(1, 4))
    # small integer levels: exact float sums, and ties between class means happen
    Z = rng.integers(0, 4, size=(n, d))
    y = rng.integers(0, c, n)
    if n >= c:
        y[:c] = np.arange(c)  # every class present
    counts = np.bincount(y, minlength=c)
    means = np.zeros((c, d))
    np.add.at(means, y, Z.astype(float))
    means /= np.maximum(counts, 1)[:, None]
    dist = ((Z[:, None, :] - means[None]) ** 2).sum(axis=2)
    dist[:, counts == 0] = np.inf  # a class without rows is nobody's nearest mean
    assert loo_mean_correct(dist, y, counts) == plain_loo_mean_correct(Z, y, c)


def test_many_inputs_are_chosen_by_class_means_and_never_a_constant_one():
    # 16 levels on 200 rows: after two or three inputs every cell of the table holds one row,
    # so its leave-one-out count stops rising; the label is a linear function of inputs 0-5
    # and inputs 14-19 are constant. The old rule (the table count alone) chose constant inputs
    # there, since they split no cell.
    rng = np.random.default_rng(0)
    Q = rng.integers(0, 16, size=(200, 20))
    Q[:, 14:] = 7
    y = (Q[:, :6].sum(axis=1) > 45).astype(np.int64)
    chosen = choose_inputs(Q, y, 6, 2)
    assert not set(chosen) & set(range(14, 20)), chosen
    assert len(set(chosen) & set(range(6))) >= 5, chosen
    # a constant input comes only when nothing else is left
    assert set(choose_inputs(Q, y, 14, 2)) == set(range(14))
    assert len(choose_inputs(Q, y, 20, 2)) == 20


def _informative(seed, n=240, d=7, used=(2, 5)):
    """Levels 0..3 on d inputs; the label is 1 when the inputs ``used`` sum above 3 (the other
    inputs are noise)."""
    rng = np.random.default_rng(seed)
    Q = rng.integers(0, 4, size=(n, d))
    y = (Q[:, list(used)].sum(axis=1) > 3).astype(np.int64)
    return Q, y


@pytest.mark.parametrize("seed", range(3))
def test_choice_finds_the_informative_inputs(seed):
    Q, y = _informative(seed)
    assert choose_inputs(Q, y, 2, 2) == [2, 5]
    # one input: the one whose leave-one-out count is highest, computed independently
    counts = [plain_loo_correct(Q[:, j], y, 2, int(np.bincount(y).argmax()))
              for j in range(Q.shape[1])]
    assert choose_inputs(Q, y, 1, 2) == [int(np.argmax(counts))]
    assert choose_inputs(Q, y, 99, 2) == list(range(Q.shape[1]))


def _quantizers(X, y):
    return [fit_quantizer(kind, X, y, 2) for kind in ("uniform", "quantile", "supervised")] + [
        Pow2Quantizer.fit(X, 3)]


def test_quantizer_columns_and_reading_only():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(80, 5)) * [1, 10, 0.1, 5, 2]
    y = (X[:, 1] > 0).astype(int)
    special = np.array([[np.inf, -np.inf, np.nan, 3.4e38, -0.0]] * 2, np.float32)
    special[1] = special[1, ::-1]
    Xs = np.vstack([X, rng.normal(size=(50, 5)) * 20, special])
    cols = [1, 3]
    for q in _quantizers(X, y):
        full = q.quantize(Xs)
        assert np.array_equal(q.columns(cols).quantize(Xs[:, cols]), full[:, cols])
        only = q.reading_only(cols)
        got = only.quantize(Xs)
        assert np.array_equal(got[:, cols], full[:, cols])
        other = [0, 2, 4]
        if not q.pow2_steps:  # pow2 keeps its steps (2-3 C bytes per input)
            assert not got[:, other].any()
        else:
            assert np.array_equal(got, full)


def _problem(Q, y, quantizer, hidden=(2,), time_limit=5.0):
    return TrainProblem.build(Q, y, quantizer=quantizer, classes=[0, 1], hidden=hidden,
                              solve=SolveOptions(time_limit=time_limit, workers=1, seed=0,
                                                 progress=False))


@pytest.mark.parametrize("method", ["exact", "local-search", "split"])
def test_training_reads_at_most_k_inputs(method):
    Q, y = _informative(1, n=120)
    q = Quantizer.identity(Q.shape[1], 2)
    result = train_network(method, _problem(Q, y, q), max_inputs=2)
    net = result.network
    assert set(net.inputs_read()) <= {2, 5}
    assert net.training["inputs"] == [2, 5] and net.training["max_inputs"] == 2
    # what the record claims holds for the widened network, recomputed by numpy
    assert result.train_errors == int(np.sum(net.predict_q(Q) != y))
    # the unread inputs change nothing: random values there, same classes
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 5, size=(300, Q.shape[1]))
    X2 = X.copy()
    X2[:, [0, 1, 3, 4, 6]] = rng.uniform(-1e6, 1e6, size=(300, 5))
    assert np.array_equal(net.predict(X), net.predict(X2))
    # and the quantizer gives them level 0 (so the C keeps no keys for them)
    assert not net.quantizer.quantize(X2)[:, [0, 1, 3, 4, 6]].any()


def test_model_file_round_trip_and_c_host_match():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 6))
    y = (X[:, 4] + 0.5 * X[:, 1] > 0).astype(int)
    for kind in ("uniform", "quantile"):
        q = fit_quantizer(kind, X, y, 2)
        net = train_network("exact", _problem(q.quantize(X), y, q, time_limit=3.0),
                            max_inputs=2).network
        again = network_from_dict(json.loads(json.dumps(network_to_dict(net))))
        Xt = rng.normal(size=(100, 6)) * 3
        assert np.array_equal(again.predict(Xt), net.predict(Xt))
        from codegen.verify import verify

        report = verify(net, Xt, n_random=100, seed=1, backends=["numpy", "c-host"])
        assert report.ok, [(b.backend, b.status, b.reason) for b in report.backends]
        assert {b.status for b in report.backends} <= {"ok", "reference"}


def test_estimator_max_inputs():
    from bdnn.estimator import BDNNClassifier

    Q, y = _informative(3, n=100)
    clf = BDNNClassifier(hidden=2, input_bits=2, max_inputs=1, time_limit=3, workers=1)
    clf.fit(Q.astype(float), y)
    assert len(clf.network_.inputs_read()) <= 1
    with pytest.raises(BDNNError, match="--max-inputs"):
        BDNNClassifier(max_inputs=2, ensemble="ovr").fit(Q.astype(float), y)
    with pytest.raises(BDNNError, match="--max-inputs"):
        BDNNClassifier(max_inputs=0).fit(Q.astype(float), y)


def test_grid_axis():
    configs = expand({"hidden": [2], "max_inputs": [None, 3], "ensemble": [None, "ovo"]})
    got = sorted((c["max_inputs"] or 0, c["ensemble"] or "") for c in configs)
    assert got == [(0, ""), (0, "ovo"), (3, "")]  # no ensemble reading few inputs
    assert not compatible({**configs[0], "max_inputs": 3, "ensemble": "ovo"})
    plain = next(c for c in configs if c["max_inputs"] is None and c["ensemble"] is None)
    few = next(c for c in configs if c["max_inputs"] == 3)
    # an older results file (no max_inputs key) still resumes; the new axis changes the key
    def key(c):
        return task_key(c, 0, None, 10.0, 1, "data")

    older = {k: v for k, v in plain.items() if k != "max_inputs"}
    assert key(plain) == key(older)
    assert key({**plain, "max_inputs": 3}) != key(plain) and key(few) != key(plain)
    with pytest.raises(BDNNError, match="max_inputs"):
        expand({"max_inputs": 0})


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "bdnn", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT)


@pytest.mark.parametrize("args, message", [
    (["--max-inputs", "2", "--prove"], "--prove and --max-inputs"),
    (["--max-inputs", "2", "--ensemble", "ovr"], "--max-inputs trains one network"),
    (["--max-inputs", "0"], "--max-inputs"),
])
def test_cli_refusals(tmp_path, args, message):
    out = tmp_path / "m.json"
    p = _cli("train", "iris", "--time-limit", "2", "-o", out, *args)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in p.stderr
    assert not out.exists()


def test_cli_train_json(tmp_path):
    out = tmp_path / "m.json"
    p = _cli("train", "breast-cancer", "--hidden", "2", "--input-bits", "2", "--quantizer",
             "quantile", "--max-inputs", "3", "--time-limit", "3", "--workers", "1", "--json",
             "-o", out)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    net = load_network(out)
    assert s["inputs"] == 30 and s["inputs_read"] == len(net.inputs_read()) <= 3
    assert set(net.inputs_read()) <= set(net.training["inputs"])
    assert len(net.training["inputs"]) == 3
    # bdnn info names the inputs read: the non-zero columns of the file's first layer
    W = np.array(json.loads(out.read_text())["layers"][0]["weights"])
    read = [int(j) for j in np.flatnonzero(np.abs(W).sum(axis=0))]
    info = _cli("info", out, "--json")
    assert json.loads(info.stdout)["inputs_read"] == read
    text = _cli("info", out).stdout
    names = net.training["feature_names"]
    assert f"inputs read: {len(read)} of 30 ({', '.join(names[j] for j in read)})" in text


def test_default_grid_reads_few_inputs_under_a_flash_budget():
    from bdnn.select.grid import default_grid

    def few(configs):
        return sorted((c["hidden"], c["max_inputs"]) for c in configs
                      if c["max_inputs"] is not None)

    plain = default_grid(30, 2, 300)
    assert few(plain) == []
    flash = default_grid(30, 2, 300, few_inputs=True)
    assert few(flash) == sorted((h, k) for h in ("2", "4") for k in (3, 4, 5) for _ in "qs")
    assert sorted(c["quantizer"] for c in flash if c["max_inputs"] is not None) == (
        ["quantile"] * 6 + ["supervised"] * 6)
    assert all(c["input_bits"] == 2 for c in flash if c["max_inputs"] is not None)
    assert flash[:len(plain)] == plain  # the plain grid is unchanged, in its order
    # K not below the data's inputs is the plain configuration again: dropped
    assert few(default_grid(4, 2, 300, few_inputs=True)) == sorted([("2", 3), ("4", 3)] * 2)
    assert few(default_grid(3, 2, 300, few_inputs=True)) == []
