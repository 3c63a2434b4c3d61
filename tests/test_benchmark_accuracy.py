"""benchmarks/accuracy.py: the folded scaler and emlearn's forest vote against independent
computations, and a ``--quick`` run on iris (real ``bdnn select`` sweeps, real emlearn firmware
under QEMU and simavr) whose output has the promised structure, whose accuracies are recomputed
from the saved models and whose emlearn firmware agrees with the Python reference."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_benchmark():
    saved = np.geterr()  # emlearn's import runs numpy.seterr(all="raise"): keep ours
    try:
        pytest.importorskip("emlearn", reason="emlearn not installed (pip install emlearn)",
                            exc_type=ImportError)
    finally:
        np.seterr(**saved)
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location(
        "bench_accuracy", ROOT / "benchmarks" / "accuracy.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_accuracy"] = module
    spec.loader.exec_module(module)
    return module


def test_folded_scaler_takes_raw_features():
    acc = load_benchmark()
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(3)
    X = rng.normal(5.0, [1.0, 20.0, 0.1], size=(120, 3))
    y = (X[:, 0] + X[:, 1] / 20 > 5.2).astype(int)
    scaler = StandardScaler().fit(X)
    mlp = MLPClassifier((5,), solver="lbfgs", max_iter=500, random_state=0)
    mlp.fit(scaler.transform(X), y)
    folded = acc.fold_scaler(mlp, scaler)
    # the folded network's raw-input logits equal the original on standardised inputs
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    np.testing.assert_allclose(folded.predict_proba(X), mlp.predict_proba(Z), rtol=1e-9,
                               atol=1e-12)
    assert acc.mlp_params(folded) == 3 * 5 + 5 + 5 * 1 + 1


def test_forest_vote_is_a_majority_of_tree_classes():
    acc = load_benchmark()
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 4))
    y = rng.integers(0, 3, 90)
    forest = RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0).fit(X, y)
    got = acc.vote(forest, X, 3)
    for i in range(len(X)):  # brute force: count the trees' votes row by row
        counts = [0, 0, 0]
        for tree in forest.estimators_:
            counts[int(tree.predict(X[i:i + 1])[0])] += 1
        assert got[i] == counts.index(max(counts))  # first class on a tie, as the C


def test_merge_lets_a_rerun_replace_a_data_set_and_keeps_its_provenance():
    acc = load_benchmark()

    def record(date, code, sets, test):
        runs = [{"seed": 0, "load_avg_1min": 4.0, "tools": {
            "mlp": {"test_accuracy": 0.9, "model_bytes": 400},
            "bdnn-10": {"test_accuracy": test, "model_bytes": 20, "quantizer_bytes": 8}}}]
        return {"command": f"run {code}", "date": date, "code_version": code, "time_limit": 5,
                "elapsed_s": 1, "complete": True, "machine": "m", "bdnn_mode": "select",
                "seeds": [0], "targets": [],
                "datasets": {d: {"runs": runs, "summary": acc.summarise(runs)} for d in sets}}

    old = record("d1", "aaa", ["wine", "iris"], 0.5)
    new = record("d2", "bbb", ["wine"], 0.895)
    merged = acc.merge_records([old, new])
    assert list(merged["datasets"]) == ["iris", "wine"]  # DATASETS order
    assert merged["datasets"]["wine"]["run"]["code_version"] == "bbb"
    assert merged["datasets"]["iris"]["run"]["code_version"] == "aaa"
    assert merged["datasets"]["wine"]["summary"]["bdnn-10"]["test_mean"] == 0.895
    # -0.5 points is a hit, -40 a miss; the rendered report says which run each set is from
    assert merged["targets_tally"]["wine"]["within_1pt_of_mlp"]
    assert not merged["targets_tally"]["iris"]["within_1pt_of_mlp"]
    md = acc.render_md(merged)
    assert "- wine: d2, code bbb, bdnn trainings of 5 s, load average (1 min) 4-4" in md


def test_tree_target_needs_one_model_that_is_small_accurate_and_fast_on_every_seed():
    """The tree target per data set is the pick under the tree's flash and instructions: it
    must exist on every seed, be as accurate, and its measured program smaller and faster;
    the flash-only pick's accuracy is counted apart."""
    acc = load_benchmark()

    def record(flash_pick: dict, fast_runs: list, fast_fw: dict) -> dict:
        runs = [{"seed": i, "tools": {
            "mlp": {"test_accuracy": 0.95, "model_bytes": 400},
            "tree": {"test_accuracy": 0.90}, "forest": {"test_accuracy": 0.80},
            "bdnn-10": {"test_accuracy": 0.95, "model_bytes": 20, "quantizer_bytes": 8},
            "bdnn-tree-flash": flash_pick, "bdnn-tree-fast": fast}}
            for i, fast in enumerate(fast_runs)]
        fw_ok = {"status": "ok", "flash_bytes": 1000, "per_inference": 150.0}
        firmware = {"tree": fw_ok, "forest": fw_ok,
                    "bdnn-tree-flash": {"status": "ok", "flash_bytes": 900, "per_inference": 600.0},
                    "bdnn-tree-fast": fast_fw}
        return {"datasets": {"d": {"runs": runs, "summary": acc.summarise(runs),
                                   "firmware": {"cortex-m0": firmware}}}}

    accurate_slow = {"test_accuracy": 0.92, "model_bytes": 20}
    fast_fw = {"status": "ok", "flash_bytes": 800, "per_inference": 90.0}
    good = {"test_accuracy": 0.91, "model_bytes": 10}
    row = acc.targets_tally(record(accurate_slow, [good, good], fast_fw))["d"]
    assert row["as_accurate_as_tree_at_le_flash"] and not row["faster_than_tree"]
    assert row["as_accurate_fast"] and row["speedup_fast"] == pytest.approx(150 / 90)
    assert row["tree_target"]
    # a fast pick measured slower than the tree (its budget is checked on select's rows): no hit
    row = acc.targets_tally(record(accurate_slow, [good, good],
                                   {**fast_fw, "per_inference": 151.0}))["d"]
    assert row["as_accurate_fast"] and not row["tree_target"]
    # a seed without a model under both budgets: no hit, though the mean of the rest is higher
    row = acc.targets_tally(record(accurate_slow, [good, None], fast_fw))["d"]
    assert row["fast_seeds"] == 1 and not row["as_accurate_fast"] and not row["tree_target"]
    # less accurate than the tree by more than a tie: no hit
    worse = {"test_accuracy": 0.89, "model_bytes": 10}
    row = acc.targets_tally(record(accurate_slow, [worse, worse], fast_fw))["d"]
    assert row["delta_tree_points_fast"] == pytest.approx(-1.0) and not row["tree_target"]


@pytest.mark.slow
@pytest.mark.toolchain
def test_quick_run_structure_and_recomputed_accuracies(tmp_path):
    from firmware_fixtures.helpers import need_target

    need_target("cortex-m0")
    need_target("avr")
    acc = load_benchmark()
    out, md = tmp_path / "a.json", tmp_path / "a.md"
    # bdnn select on a LocalCluster of one worker process (the real sweep, no mock), in a
    # process of its own: Dask's spawned workers leave multiprocessing's resource tracker
    # behind for the life of the process that started them, which is not this test's
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "accuracy.py"), "--quick",
                           "--seeds", "0", "--processes", "1", "--work", str(tmp_path / "m"),
                           "--json", str(out), "--md", str(md), "--plots", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = json.loads(out.read_text())
    assert rec["complete"] and rec["seeds"] == [0] and rec["command"].endswith("--plots " +
                                                                             str(tmp_path))
    assert rec["code_version"] and rec["date"].endswith("UTC")
    assert rec["bdnn_mode"].startswith("bdnn select")
    e = rec["datasets"]["iris"]
    assert [r["seed"] for r in e["runs"]] == [0]
    run = e["runs"][0]
    assert set(run["tools"]) == set(acc.TOOLS)

    from bdnn.data import load_dataset
    from bdnn.model_file import load_network

    ds = load_dataset("iris", split="paper", seed=0)
    (Xv, yv), (Xt, yt) = ds.val_part(), ds.test_part()
    mlp = run["tools"]["mlp"]
    for tool, divisor in acc.BUDGET_DIVISORS.items():
        r = run["tools"][tool]
        if r is None:
            continue
        assert r["model_bytes"] <= mlp["model_bytes"] / divisor
        assert r["model_bytes"] == r["select"]["model_bytes"]
        net = load_network(tmp_path / "m" / r["path"])  # named in --work
        # the numpy forward pass of the saved model, on the paper split's parts
        for X, y, key in ((Xv, yv, "val_accuracy"), (Xt, yt, "test_accuracy")):
            pred = net.forward_q(net.quantizer.quantize(X)).class_index
            assert r[key] == pytest.approx(float(np.mean(pred == y)))
        assert r["select"]["test_accuracy"] == pytest.approx(r["test_accuracy"])
    # under the emlearn tree's / forest's M0 flash: the pick's own program fits it
    for tool, kind in acc.FLASH_TOOLS.items():
        r = run["tools"][tool]
        budget = e["firmware"]["cortex-m0"][kind]["flash_bytes"]
        if r is None:
            continue
        assert r["budget_flash"] == budget
        assert e["firmware"]["cortex-m0"][tool]["flash_bytes"] <= budget
        net = load_network(tmp_path / "m" / r["path"])  # named in --work
        pred = net.forward_q(net.quantizer.quantize(Xt)).class_index
        assert r["test_accuracy"] == pytest.approx(float(np.mean(pred == yt)))
    # under that flash and the tree's / forest's mean M0 instructions: select's own measurement
    # of the pick meets both, and its program fits the flash
    for tool, kind in acc.FAST_TOOLS.items():
        r = run["tools"][tool]
        if r is None:
            continue
        fw_kind = e["firmware"]["cortex-m0"][kind]
        assert r["budget_flash"] == fw_kind["flash_bytes"]
        assert r["budget_instructions"] == int(fw_kind["per_inference"])
        assert r["select"]["measured"]["per_inference_max"] <= r["budget_instructions"]
        assert e["firmware"]["cortex-m0"][tool]["flash_bytes"] <= r["budget_flash"]
        net = load_network(tmp_path / "m" / r["path"])
        pred = net.forward_q(net.quantizer.quantize(Xt)).class_index
        assert r["test_accuracy"] == pytest.approx(float(np.mean(pred == yt)))
    # the summary is the mean of the per-seed accuracies
    for tool in acc.TOOLS:
        vals = [x["tools"][tool]["test_accuracy"] for x in e["runs"] if x["tools"][tool]]
        if vals:
            assert e["summary"][tool]["test_mean"] == pytest.approx(np.mean(vals))
    # the emlearn C on each target classifies the timed rows as the Python reference does,
    # and every tool's firmware was measured
    for target in ("cortex-m0", "avr"):
        f = e["firmware"][target]
        for kind in ("mlp", "tree", "forest"):
            assert f[kind]["status"] == "ok", f[kind]
            assert f[kind]["agree_timed"] == acc.QUICK["n_timed"]
            assert f[kind]["flash_bytes"] > f[kind]["model_data_bytes"] > 0
            assert f[kind]["per_inference"] > 0
        for tool in [*acc.BUDGET_DIVISORS, *acc.FLASH_TOOLS, *acc.FAST_TOOLS]:
            if run["tools"][tool] is not None:
                assert f[tool]["status"] == "ok", f[tool]
                assert f[tool]["model_data_bytes"] == run["tools"][tool]["model_bytes"]
    text = md.read_text()
    assert "| iris |" in text and "## The issue's targets" in text
    assert "](./accuracy_iris.png)" in text  # the plot, relative to the report
    assert all("/" not in run["tools"][t]["path"] for t in acc.BUDGET_DIVISORS
               if run["tools"][t] is not None)
    assert (tmp_path / "accuracy_iris.png").stat().st_size > 1000


def test_coin_flip_rows_are_the_uniform_sets_inner_cube_and_the_table_splits_accuracy():
    """The rows of the uniform sets inside [-1, 1]^n (labels without signal) are found from
    the data's construction, on the real data: about a third of each set, and a rule that
    reads only the signs of the other rows classifies every one of them right."""
    acc = load_benchmark()
    assert acc.coin_flip_rows("iris", np.zeros((3, 4))) is None
    X = np.array([[0.5, -1.0, 1.0], [0.5, 1.01, 0.0], [-3.0, -2.0, -9.0]])
    assert acc.coin_flip_rows("uniform-10", X).tolist() == [True, False, False]
    for name in ("uniform-10", "uniform-100"):
        (X, y), _, _ = acc.split(name, 0)
        flips = acc.coin_flip_rows(name, X)
        assert 0.25 < flips.mean() < 0.42
        signs = (X[~flips] > 1).any(axis=1).astype(int)  # any coordinate beyond 1: [0, 10]^n
        assert (signs == y[~flips]).all()
    run = {"seed": 0, "tools": {
        "tree": {"test_accuracy": 0.8, "test_accuracy_signal": 1.0,
                 "test_accuracy_coin_flips": 0.4, "n_test_coin_flips": 10},
        "mlp": None}}
    lines = acc.coin_flip_table({"datasets": {"uniform-10": {"runs": [run]},
                                              "iris": {"runs": [{"seed": 0, "tools": {}}]}}})
    rows = [line for line in lines if line.startswith("| uniform-10")]
    assert rows == ["| uniform-10 | tree | 1 | 0.800 | 1.000 (1.000-1.000) | 0.400 | 10 |"]
    assert acc.coin_flip_table({"datasets": {"iris": {"runs": []}}}) == []
