"""The CLI end to end in a subprocess: results, --json, and every bad input (one line, exit 2)."""

import json
import re

import numpy as np
import pytest
from cli_helpers import assert_one_line_error, bdnn

from bdnn.model_file import load_network, network_to_dict
from bdnn.network import random_network


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "iris.json"
    p = bdnn("train", "iris", "--hidden", "2", "--time-limit", "10", "--json", "-o", out)
    assert p.returncode == 0, p.stderr
    return out, json.loads(p.stdout)


def test_train_json_and_model(trained):
    out, res = trained
    for key in ("status", "objective", "bound", "gap", "seconds", "train_accuracy",
                "test_accuracy", "val_accuracy"):
        assert key in res
    net = load_network(out)
    assert net.training["data_fingerprint"] and net.training["method"] == "exact"
    # the reported accuracy is what the forward pass gives on the same split
    from bdnn.data import load_dataset
    ds = load_dataset("iris", split="paper", seed=0)
    X, y = ds.train_part()
    assert res["train_accuracy"] == pytest.approx(float(np.mean(net.predict(X) == y)))
    Xt, yt = ds.test_part()
    assert res["test_accuracy"] == pytest.approx(float(np.mean(net.predict(Xt) == yt)))
    assert res["objective"] == int(np.sum(net.predict(X) != y))


def test_evaluate_and_info(trained):
    out, res = trained
    p = bdnn("evaluate", out, "iris", "--json")
    assert p.returncode == 0, p.stderr
    ev = json.loads(p.stdout)
    assert ev["accuracy"] == pytest.approx(res["test_accuracy"])
    assert np.trace(np.array(ev["confusion"])) == ev["rows"] - ev["errors"]
    p = bdnn("info", out, "--json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["total_weights"] == 4 * 2 + 2 * 3
    assert sum(sum(L["histogram"].values()) for L in info["layers"]) == 14
    assert bdnn("info", out).returncode == 0


def test_progress_on_stderr(tmp_path):
    # a small problem CP-SAT proves optimal in well under a second, so the generous limit costs
    # nothing on an idle machine and a busy one still gets past start-up into the solve
    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, size=(24, 2))
    y = (X[:, 0] + X[:, 1] > 3).astype(int)
    csv = tmp_path / "small.csv"
    np.savetxt(csv, np.column_stack([X, y]), fmt="%d", delimiter=",")
    p = bdnn("train", csv, "--hidden", "2", "--time-limit", "300", "-o", tmp_path / "m.json")
    assert p.returncode == 0
    assert "incumbent" in p.stderr and "bound" in p.stderr and "elapsed" in p.stderr
    assert "status" in p.stdout
    # the report says where the network came from, and the first progress line names what
    # the trainer is doing with the seconds since the process started
    assert re.search(r"^network from    \S", p.stdout, re.M), p.stdout
    assert re.search(r"^\[exact +\d+\.\ds\] float start", p.stderr, re.M), p.stderr


def test_csv_train_with_string_labels(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    lab = np.where(X[:, 0] + X[:, 1] > 0, "pos", "neg")
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,c,label\n" + "".join(
        f"{x[0]:.4f},{x[1]:.4f},{x[2]:.4f},{c}\n" for x, c in zip(X, lab, strict=True)))
    out = tmp_path / "m.json"
    p = bdnn("train", csv, "--hidden", "2", "--time-limit", "10", "--json", "-o", out)
    assert p.returncode == 0, p.stderr
    assert load_network(out).classes == ["neg", "pos"]
    assert "test_accuracy" not in json.loads(p.stdout)  # CSV: all rows train by default


def _csv(tmp_path, text, name="bad.csv"):
    f = tmp_path / name
    f.write_text(text)
    return f


BAD_DATA = [
    ("missing", None, "not found"),
    ("empty", "", "empty"),
    ("ragged", "1,2,0\n1,0\n2,2,1\n", "line 2"),
    ("nonnumeric", "1,2,0\n1,x,1\n2,2,1\n", "not a number"),
    ("nan", "1,2,0\n1,nan,1\n2,2,1\n3,3,0\n", "NaN"),
    ("inf", "1,2,0\n1,inf,1\n2,2,1\n3,3,0\n", "infinite"),
    ("single class", "1,2,0\n1,3,0\n2,2,0\n3,3,0\n", "single class"),
]


@pytest.mark.parametrize("name, text, message", BAD_DATA)
def test_bad_training_data(tmp_path, name, text, message):
    data = tmp_path / "nope.csv" if text is None else _csv(tmp_path, text)
    out = tmp_path / "m.json"
    p = bdnn("train", data, "--time-limit", "5", "-o", out)
    assert_one_line_error(p, message)
    assert not out.exists()


def test_bad_label_column_and_split(tmp_path):
    data = _csv(tmp_path, "a,b,y\n1,2,0\n1,3,1\n")
    out = tmp_path / "m.json"
    assert_one_line_error(bdnn("train", data, "--label-column", "zz", "-o", out), "zz")
    assert_one_line_error(bdnn("train", data, "--split", "paper", "-o", out), "rows")
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--hidden", ""], "at least one layer"),
    (["--hidden", "0"], ">= 1"),
    (["--hidden", "4,-2"], ">= 1"),
    (["--hidden", "a"], "integers"),
    (["--weight-bound", "0"], "'--weight-bound': 0 is not in the range 1<=x<="),
    (["--time-limit", "0"], "'--time-limit': 0.0 is not in the range 0<x<="),
    (["--time-limit", "-3"], "'--time-limit': -3.0 is not in the range 0<x<="),
    (["--workers", "0"], "'--workers': 0 is not in the range 1<=x<="),
    (["--input-bits", "9"], "--input-bits"),
])
def test_bad_options(tmp_path, args, message):
    out = tmp_path / "m.json"
    assert_one_line_error(bdnn("train", "iris", *args, "-o", out), message)
    assert not out.exists()


def test_unknown_dataset_lists_known(tmp_path):
    p = bdnn("train", "irs", "-o", tmp_path / "m.json")
    assert_one_line_error(p, "iris", "bcw")


def test_output_directory_missing(tmp_path):
    p = bdnn("train", "iris", "--time-limit", "5", "-o", tmp_path / "no" / "m.json")
    assert_one_line_error(p, "does not exist")
    assert not (tmp_path / "no").exists()


def _model(tmp_path, mutate=None, n_inputs=4):
    net = random_network(np.random.default_rng(0), n_inputs, (3,), 3)
    doc = network_to_dict(net)
    if mutate:
        mutate(doc)
    f = tmp_path / "model.json"
    f.write_text(json.dumps(doc))
    return f


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="x"), "not a bdnn model file"),
    (lambda d: d.update(version=7), "version 7"),
    (lambda d: d["layers"][1].update(weights=[[1, 1]] * 3), "takes 2 inputs"),
    (lambda d: d["layers"][0]["weights"][0].__setitem__(1, 5), "weight bound"),
])
def test_bad_model_files(tmp_path, mutate, message):
    f = _model(tmp_path, mutate)
    assert_one_line_error(bdnn("info", f), message)
    assert_one_line_error(bdnn("evaluate", f, "iris"), message)


def test_model_not_json(tmp_path):
    f = _csv(tmp_path, "{{{", "m.json")
    assert_one_line_error(bdnn("info", f), "not valid JSON")


def test_evaluate_wrong_feature_count(tmp_path):
    f = _model(tmp_path, n_inputs=4)
    data = _csv(tmp_path, "".join(f"1,2,3,4,5,{i % 3}\n" for i in range(9)))
    assert_one_line_error(bdnn("evaluate", f, data), "5 features", "expects 4")


def test_warm_start_round_trip(trained, tmp_path):
    out, _ = trained
    p = bdnn("train", "iris", "--hidden", "2", "--time-limit", "5", "--warm-start", out,
             "--json", "-o", tmp_path / "w.json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["objective"] <= json.loads(
        json.dumps(load_network(out).training))["objective"]
