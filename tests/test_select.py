"""``bdnn select`` and its Dask engine, with real processes: a LocalCluster, a scheduler and
workers started with the ``dask`` command line, a worker killed mid-sweep, an interrupted sweep
resumed, and the hostile inputs. Every pick is re-derived independently: validation accuracy of
every result's model by the numpy forward pass on the paper split's validation rows, the pick
as the argmax under the budget (ties: fewer bytes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import bdnn as cli_bdnn

from bdnn.data import load_dataset
from bdnn.errors import BDNNError
from bdnn.model_file import load_network, network_from_dict
from bdnn.select.choose import Budgets, Candidate, choose, order_key, pareto_front
from bdnn.select.grid import (
    DEFAULT_HIDDEN,
    DEFAULT_INPUTS,
    DEFAULT_ROUNDED,
    GRID_AXES,
    default_grid,
    estimated_model_bytes,
    expand,
)
from bdnn.select.sweep import read_results
from codegen.switches import SMALL_CODE, WEIGHTS_AS_CODE

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
# a generous bound for waiting on processes: only a hung process reaches it
PATIENCE_S = 600


def bdnn(*args, **kw) -> subprocess.CompletedProcess:
    return cli_bdnn(*args, env=ENV, **kw)  # unbuffered: progress lines arrive as written


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_grid(tmp_path: Path, grid) -> Path:
    p = tmp_path / "grid.json"
    p.write_text(json.dumps(grid))
    return p


# -- the grid, the front and the pick, against brute force ---------------------------------

def test_grid_expands_products_unions_and_defaults():
    configs = expand([{"hidden": [2, "4,2"], "input_bits": [2, 3]}, {"hidden": 2}])
    assert len(configs) == 5  # 2 x 2, then hidden 2 at the default 4 bits
    assert {c["hidden"] for c in configs} == {"2", "4,2"}
    for c in configs:
        assert set(c) == set(GRID_AXES)
        assert c["method"] == GRID_AXES["method"].default
    # combinations bdnn train refuses are dropped; duplicates too
    assert len(expand({"method": ["exact", "split"], "sparsify": [False, True]})) == 3
    assert len(expand([{"hidden": 4}, {"hidden": "4"}])) == 1


@pytest.mark.parametrize("grid, words", [
    ({"hiden": [4]}, "unknown grid axis 'hiden'"),
    ({"hidden": [0]}, "hidden"),
    ({"input_bits": [9]}, "input_bits"),
    ({"activation": "relu"}, "activation"),
    ({"hidden": []}, "empty list"),
    ([], "grid is empty"),
    ([3], "must be an object"),
    ({"margin": 2}, "the margin objective's; add"),
    ({"margin": True, "objective": "margin"}, "true is not a whole number"),
    ({"ensemble": "ovx"}, "'ensemble': \"ovx\" is not one of: ovo, ovr"),
    ({"lexicographic": 1}, "1 is not true or false"),
    ({"method": "split", "lexicographic": True}, "no configuration bdnn train accepts"),
])
def test_bad_grids_are_one_line_errors(grid, words):
    with pytest.raises(BDNNError, match=words):
        expand(grid)


def test_default_grid_respects_the_byte_budget():
    full = default_grid(9, 2, 350)
    small = default_grid(9, 2, 350, max_bytes=12)
    assert 0 < len(small) < len(full)
    assert default_grid(9, 2, 350, max_bytes=1)  # never empty: the smallest stays
    # every width comes with every input resolution, and the fitted quantizers are in it
    float_mlp = set(DEFAULT_ROUNDED["method"])
    assert float_mlp == {"rounded", "qat"}
    searching = [c for c in full if c["method"] not in float_mlp]
    assert {c["method"] for c in searching} == {"auto"}
    assert len(searching) == len(DEFAULT_HIDDEN) * len(DEFAULT_INPUTS)
    assert {(c["quantizer"], c["input_bits"]) for c in searching} == set(DEFAULT_INPUTS)
    assert {"quantile", "supervised"} <= {c["quantizer"] for c in full}
    # and the rounded float MLPs, kept and trained on (qat): every width with every L2 penalty
    rounded = {(c["method"], c["hidden"], c["weight_bound"], c["float_alpha"]) for c in full
               if c["method"] in float_mlp}
    assert rounded == {(m, h, w, a) for m in float_mlp for h in DEFAULT_ROUNDED["hidden"]
                       for w in DEFAULT_ROUNDED["weight_bound"]
                       for a in DEFAULT_ROUNDED["float_alpha"]}
    assert len(full) == len(searching) + len(rounded)
    # many classes: two widths more (32, 64), with every resolution, and 7 weight levels at
    # widths 16 and 32; few classes: neither
    few_classes = default_grid(64, 4, 900)
    assert not {"32", "64"} & {c["hidden"] for c in few_classes if c["method"] not in float_mlp}
    assert {c["weight_bound"] for c in few_classes if c["method"] not in float_mlp} == {1}
    assert "128" not in {c["hidden"] for c in few_classes}

    def searching_of(grid):
        return [c for c in grid if c["method"] not in float_mlp]

    many_all = default_grid(64, 10, 900)
    many = searching_of(many_all)
    assert len(many) == len(searching) + 2 * len(DEFAULT_INPUTS) + 2
    # the float MLPs gain 128 units (every method, level count and penalty)
    assert len(many_all) - len(many) == len(rounded) + 8
    for width in ("32", "64"):
        assert {(c["quantizer"], c["input_bits"]) for c in many if c["hidden"] == width
                and c["weight_bound"] == 1} == set(DEFAULT_INPUTS)
    assert sorted((c["hidden"], c["quantizer"], c["input_bits"]) for c in many
                  if c["weight_bound"] == 3) == [("16", "uniform", 4), ("32", "uniform", 4)]
    narrow = default_grid(64, 10, 30)  # widths as wide as the rows go, with their levels
    assert {c["hidden"] for c in searching_of(narrow) if c["weight_bound"] == 3} == {"16"}
    assert not {"32", "64", "128"} & {c["hidden"] for c in narrow}
    # the byte budget cuts the 7-level configurations too (3 bit-planes per weight)
    cut = default_grid(64, 10, 900, max_bytes=450)
    assert "16" in {c["hidden"] for c in cut}

    def fewest_bytes(c):  # packed bit-planes + a 4-bit threshold per unit, counted here
        sizes = [64, *map(int, c["hidden"].split(",")), 10]
        planes = 2 if c["weight_bound"] == 1 else 3
        pairs = zip(sizes[:-1], sizes[1:], strict=True)
        return sum(-(-a * b * planes // 8) + -(-b // 2) for a, b in pairs)

    assert cut == [c for c in many_all if fewest_bytes(c) <= 450]
    assert ("16", 3) not in {(c["hidden"], c["weight_bound"]) for c in cut}  # 3 planes: 457 B


def test_quantizer_axis_trains_what_bdnn_train_does(tmp_path):
    """A grid's ``quantizer`` reaches the training: the task's model holds the same cut
    points as ``bdnn train --quantizer K`` on the same split (fitted on the training rows
    only), and they are not the uniform levels."""
    from bdnn.select.sweep import data_parts
    from bdnn.select.task import train_task

    ds = load_dataset("iris", split="paper", seed=2)
    part = data_parts(ds, None, 2)[0]
    X, _ = ds.train_part()
    for kind in ("supervised", "quantile"):
        config = expand({"hidden": 2, "input_bits": 2, "quantizer": kind})[0]
        r = train_task({"key": "k", "config": config, "seed": 2, "fold": None,
                        "time_limit": 1.0, "workers": 1}, part)
        net = network_from_dict(r["model"])
        assert net.training["quantizer"] == kind
        out = tmp_path / f"{kind}.json"
        proc = bdnn("train", "iris", "--hidden", 2, "--input-bits", 2, "--quantizer", kind,
                    "--time-limit", 1, "--workers", 1, "--seed", 2, "--quiet", "-o", out)
        assert proc.returncode == 0, proc.stderr
        ref = load_network(out).quantizer
        assert len(ref.thresholds) == len(net.quantizer.thresholds)
        for a, b in zip(ref.thresholds, net.quantizer.thresholds, strict=True):
            np.testing.assert_array_equal(a, b)
        lo, hi = X.min(axis=0), X.max(axis=0)  # min-max 2-bit levels, computed here
        u = np.clip(np.floor((ds.X - lo) / np.where(hi > lo, hi - lo, 1) * 3 + 0.5), 0, 3)
        assert np.any(net.quantizer.quantize(ds.X) != u)


def test_margin_and_lexicographic_axes_expand_as_bdnn_train_accepts():
    configs = expand({"hidden": 2, "objective": ["errors", "hamming", "margin"],
                      "margin": [1, 2], "lexicographic": [False, True],
                      "method": ["auto", "split"]})
    seen = {(c["objective"], c["margin"], c["lexicographic"], c["method"]) for c in configs}
    assert len(seen) == len(configs)
    # margin only with the margin objective; lexicographic only with exact/auto and errors or
    # margin (bdnn train refuses the rest)
    expect = set()
    for objective in ("errors", "hamming", "margin"):
        for margin in ((1, 2) if objective == "margin" else (None,)):
            for method in ("auto", "split"):
                for lex in (False, True):
                    if not lex or (method == "auto" and objective != "hamming"):
                        expect.add((objective, margin, lex, method))
    assert seen == expect
    with pytest.raises(BDNNError, match="lexicographic"):
        expand({"method": "split", "lexicographic": True})
    with pytest.raises(BDNNError, match="margin"):
        expand({"objective": "margin", "margin": -1})


def test_new_axes_at_their_defaults_keep_the_old_resume_keys():
    """A configuration written before ``margin`` / ``lexicographic`` existed (no such keys)
    has the key it has now at their defaults; away from them the key changes."""
    from bdnn.select.task import task_key

    config = expand({"hidden": 2})[0]
    old = {k: v for k, v in config.items() if k not in ("margin", "lexicographic")}
    args = (0, None, 1.0, 1, "f" * 16)
    assert task_key(config, *args) == task_key(old, *args)
    assert task_key({**config, "lexicographic": True}, *args) != task_key(config, *args)


def test_margin_and_lexicographic_axes_reach_the_training():
    """The trained model records what the grid asked: the margin objective with its margin,
    the lexicographic stages; its margin loss on the training rows is recomputed here."""
    from bdnn.objective import row_margins
    from bdnn.select.sweep import data_parts
    from bdnn.select.task import train_task

    ds = load_dataset("iris", split="paper", seed=1)
    part = data_parts(ds, None, 1)[0]
    config = expand({"hidden": 2, "input_bits": 2, "objective": "margin", "margin": 2,
                     "method": "exact", "lexicographic": True})[0]
    r = train_task({"key": "k", "config": config, "seed": 1, "fold": None,
                    "time_limit": 3.0, "workers": 1}, part)
    assert "error" not in r, r
    net = network_from_dict(r["model"])
    assert net.training["objective_name"] == "margin"
    assert net.training["objective_params"] == {"margin": 2}
    lex = net.training["lexicographic"]
    assert [s["stage"] for s in lex["stages"]] == ["loss", "margin"]
    m = row_margins(net.forward_q(net.quantizer.quantize(part.X)).scores, part.y, net.output)
    assert lex["loss"] == net.training["objective"] == int((m < 2).sum())


def test_ensemble_axis_expands_and_estimates_members():
    configs = expand({"hidden": 2, "ensemble": [None, "ovo", "ovr"],
                      "objective": ["errors", "margin"], "lexicographic": [False, True]})
    # every ensemble kind with every objective and stage choice (the members take them)
    assert len(configs) == 3 * 2 * 2
    single = expand({"hidden": 3, "output": "single"})[0]
    one = estimated_model_bytes(single, 13, 2)
    # 5 classes: ovo has 10 two-class members, ovr 5, each the two-class network's size
    assert estimated_model_bytes({**single, "ensemble": "ovo"}, 13, 5) == 10 * one
    assert estimated_model_bytes({**single, "ensemble": "ovr"}, 13, 5) == 5 * one


@pytest.mark.parametrize("seed", range(4))
def test_estimated_model_bytes_is_a_lower_bound_of_the_exported_size(seed):
    """The default grid drops a configuration whose estimate exceeds the byte budget, so the
    estimate must never exceed what a trained network of it exports (random networks of
    random configurations, sized by codegen.size_report), and stays within a few bytes per
    unit of it."""
    from bdnn.network import random_network
    from bdnn.select.choose import model_bytes

    rng = np.random.default_rng(seed)
    for _ in range(25):
        n_in, n_classes = int(rng.integers(1, 70)), int(rng.integers(2, 11))
        hidden = [int(rng.integers(1, 40)) for _ in range(int(rng.integers(1, 3)))]
        wb = int(rng.choice([1, 2, 3, 7]))
        output = "single" if n_classes == 2 and rng.integers(0, 2) else "argmax"
        config = expand({"hidden": ",".join(map(str, hidden)), "weight_bound": wb,
                         "output": output})[0]
        net = random_network(rng, n_in, hidden, n_classes, wb, output=output)
        exact = model_bytes(net)
        est = estimated_model_bytes(config, n_in, n_classes)
        units = sum(hidden) + len(net.layers[-1].bias)
        assert est <= exact <= est + 4 * units + 4 * len(net.layers), (config, est, exact)


def test_ensemble_axis_trains_what_bdnn_train_does():
    """A task of an ensemble configuration returns an ensemble model (one member per pair of
    iris' classes) whose validation accuracy is its vote on the validation rows."""
    from bdnn.model_file import model_from_dict
    from bdnn.select.sweep import data_parts
    from bdnn.select.task import train_task

    ds = load_dataset("iris", split="paper", seed=1)
    part = data_parts(ds, None, 1)[0]
    config = expand({"hidden": 2, "input_bits": 2, "output": "single", "ensemble": "ovo"})[0]
    r = train_task({"key": "k", "config": config, "seed": 1, "fold": None,
                    "time_limit": 6.0, "workers": 1}, part)
    assert "error" not in r, r
    ens = model_from_dict(r["model"])
    assert ens.kind.name == "ovo" and len(ens.members) == 3
    assert ens.training["quantizer"] == "uniform"
    assert r["val_accuracy"] == float(np.mean(ens.predict(part.X_val) == part.y_val))
    assert r["nonzero_weights"] == sum(m.n_nonzero_weights() for m in ens.members)
    # the two-class refusal is a result, not an exception
    bc = data_parts(load_dataset("bcw", split="paper", seed=1), None, 1)[0]
    r = train_task({"key": "k", "config": config, "seed": 1, "fold": None,
                    "time_limit": 6.0, "workers": 1}, bc)
    assert "at least 3 classes" in r["error"]


def _cand(val: float, nbytes: int) -> Candidate:
    return Candidate(config={"hidden": "2"}, seed=0, results=[{}], val_accuracy=val,
                     train_accuracy=0.0, model_bytes=nbytes, seconds=0.0)


def test_front_and_pick_match_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(200):
        cands = [_cand(float(rng.integers(0, 5)) / 4, int(rng.integers(1, 8)))
                 for _ in range(int(rng.integers(1, 9)))]
        front = pareto_front(cands)
        for c in cands:  # on the front iff nobody is >= accurate with fewer bytes or > with =
            dominated = any((o.model_bytes < c.model_bytes and o.val_accuracy >= c.val_accuracy)
                            or (o.model_bytes == c.model_bytes
                                and o.val_accuracy > c.val_accuracy) for o in cands)
            if dominated:
                assert c not in front
        assert len({c.val_accuracy for c in front}) == len(front)
        limit = int(rng.integers(1, 8))
        ok = [c for c in cands if c.model_bytes <= limit]
        if not ok:
            with pytest.raises(BDNNError, match="no trained model meets the budget"):
                choose(cands, Budgets(max_model_bytes=limit))
            continue
        chosen, _ = choose(cands, Budgets(max_model_bytes=limit))
        best = max(c.val_accuracy for c in ok)
        assert chosen.val_accuracy == best
        assert chosen.model_bytes == min(c.model_bytes for c in ok if c.val_accuracy == best)


@pytest.mark.parametrize("parallel", [1, 3])
@pytest.mark.parametrize("max_saving", [0, 300])
def test_flash_pick_is_the_best_candidate_that_fits_brute_force(max_saving, parallel):
    """Flash is not monotone in model bytes (predict tables, fewer level keys): under a flash
    budget the pick is the best-ranked candidate of all that fit, found by measuring every
    variant here, and choose measures no candidate ranked below its pick outside the front.
    A candidate whose default build misses the flash budget is eligible when its small-code
    build (up to ``max_saving`` bytes smaller, slower) meets every budget, --max-cycles
    included; one whose builds miss --max-cycles, when its weights-as-code build (faster, larger;
    only for candidates the form admits), or that build with small code when only that fits,
    meets them. The pick records the variant it needs; choose never measures the small-code
    build of a candidate whose default build fits, nor weights as code without a time budget
    or for a candidate that meets it already (``max_saving`` 0: small code never helps).
    Measuring in threads (``parallel`` 3, batches measured ahead) changes none of it: a
    candidate below the pick measured ahead keeps no measurement."""
    S, W = SMALL_CODE.key, WEIGHTS_AS_CODE.key
    rng = np.random.default_rng(11 + max_saving)
    for _ in range(400):
        cands = [_cand(float(rng.integers(0, 5)) / 4, int(rng.integers(1, 30)))
                 for _ in range(int(rng.integers(1, 10)))]
        builds: dict = {}  # (id, small, code) -> (flash, count)
        for c in cands:
            f, n = int(rng.integers(600, 1400)), int(rng.integers(500, 900))
            fc, nc = f + int(rng.integers(0, 600)), n - int(rng.integers(0, 400))
            save = int(rng.integers(0, max_saving + 1))
            builds[id(c), False, False] = (f, n)
            builds[id(c), True, False] = (f - save, n + int(rng.integers(0, 100)))
            builds[id(c), False, True] = (fc, nc)
            builds[id(c), True, True] = (fc - save, nc + int(rng.integers(0, 60)))
        admits = {id(c): bool(rng.integers(0, 2)) for c in cands}
        limit = int(rng.integers(600, 1600))
        max_cycles = None if rng.integers(0, 2) else int(rng.integers(300, 1000))
        calls: list = []

        def measure(c, switches, calls=calls, builds=builds):
            small, code = bool(switches.get(S)), bool(switches.get(W))
            calls.append((c, small, code))
            flash, n = builds[id(c), small, code]
            return {"flash_bytes": flash, "ram_total_bytes": 0, "per_inference_max": n,
                    "unit": "instructions", S: small, W: code}

        def variant(c, limit=limit, max_cycles=max_cycles, builds=builds, admits=admits):
            """The build (small, code) the pick would ship: the first of default, small code
            (when the default misses the flash), weights as code and then with small code
            (when admitted, under a time budget), that meets both budgets; None if none."""
            if c.model_bytes > limit:
                return None
            order = [(False, False)]
            if builds[id(c), False, False][0] > limit:
                order.append((True, False))
            if admits[id(c)] and max_cycles is not None:
                order.append((False, True))
                if builds[id(c), False, True][0] > limit:
                    order.append((True, True))
            return next((v for v in order if builds[(id(c), *v)][0] <= limit
                         and (max_cycles is None or builds[(id(c), *v)][1] <= max_cycles)),
                        None)

        budgets = Budgets(target="cortex-m0", max_flash=limit, max_cycles=max_cycles)
        fits = [c for c in cands if variant(c) is not None]
        code_form = lambda c, admits=admits: admits[id(c)]  # noqa: E731
        if not fits:
            with pytest.raises(BDNNError, match="no trained model meets the budget"):
                choose(cands, budgets, measure, parallel, code_form)
            continue
        chosen, front = choose(cands, budgets, measure, parallel, code_form)
        best = min(fits, key=order_key)
        assert order_key(chosen) == order_key(best)
        small, code = variant(chosen)
        assert (chosen.measured[S], chosen.measured[W]) == (small, code)
        assert chosen.measured["per_inference_max"] == builds[id(chosen), small, code][1]
        kept = [c for c in cands if c.measured is not None]
        assert all(c in front or order_key(c) <= order_key(chosen) for c in kept)
        if parallel == 1:
            assert all(c in front or order_key(c) <= order_key(chosen) for c, *_ in calls)
        assert all(builds[id(c), False, False][0] > limit
                   for c, sm, cd in calls if sm and not cd)
        assert all(admits[id(c)] and max_cycles is not None for c, _, cd in calls if cd)
        assert all(builds[id(c), False, True][0] > limit for c, sm, cd in calls if sm and cd)


def test_read_results_ignores_a_torn_last_line(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"key": "a", "x": 1}\n{"key": "b", "x"')
    assert set(read_results(p)) == {"a"}
    p.write_text('{"key": "a"}\nnot json\n{"key": "b"}\n')
    with pytest.raises(BDNNError, match="line 2"):
        read_results(p)


# -- LocalCluster sweeps through the command line -------------------------------------------

def model_data_bytes(net) -> int:
    """Independent count of the exported model data: weight bit-planes packed contiguously
    per layer (ceil(log2(2w+1)) planes), plus per-unit thresholds at their declared width."""
    from codegen.size_report import size_report

    return int(size_report(net)["total"]["weight_bytes"] + size_report(net)["total"][
        "threshold_bytes"])


def check_pick(results: list[dict], chosen: dict, seed: int, max_bytes: int | None) -> None:
    """Recompute every result's validation accuracy with the numpy forward pass and check the
    pick is the argmax under the budget, ties to fewer bytes."""
    ds = load_dataset("iris", seed=seed)
    Xv, yv = ds.val_part()
    scored = []
    for r in results:
        net = network_from_dict(r["model"])
        val = float(np.mean(net.forward(Xv).scores.argmax(axis=1) == yv))
        assert val == pytest.approx(r["val_accuracy"])
        scored.append((val, model_data_bytes(net), r))
    ok = [s for s in scored if max_bytes is None or s[1] <= max_bytes]
    best = max(s[0] for s in ok)
    assert chosen["val_accuracy"] == pytest.approx(best)
    assert chosen["model_bytes"] == min(s[1] for s in ok if s[0] == best)


@pytest.mark.slow
def test_local_cluster_sweep_picks_the_best_under_budget(tmp_path):
    grid = write_grid(tmp_path, {"hidden": [1, 2, 3], "input_bits": [1, 2]})
    out = tmp_path / "m.json"
    proc = bdnn("select", "iris", "--grid", grid, "--time-limit", 1, "--processes", 2,
                "--max-model-bytes", 9, "--seed", 3, "--json", "-o", out,
                "--report", tmp_path / "r.md", "--plot", tmp_path / "p.png")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "estimate" in proc.stderr and "6/6" in proc.stderr
    results = list(read_results(tmp_path / "m.results.jsonl").values())
    assert len(results) == 6 and all("model" in r for r in results)
    check_pick(results, doc["chosen"], 3, 9)
    # the written model is the chosen one; bdnn evaluate scores the same test part
    net = load_network(out)
    assert model_data_bytes(net) == doc["chosen"]["model_bytes"] <= 9
    ds = load_dataset("iris", seed=3)
    Xt, yt = ds.test_part()
    test_acc = float(np.mean(net.forward(Xt).scores.argmax(axis=1) == yt))
    assert doc["chosen"]["test_accuracy"] == pytest.approx(test_acc)
    ev = bdnn("evaluate", out, "iris", "--json")
    assert json.loads(ev.stdout)["accuracy"] == pytest.approx(test_acc)
    assert "## Pareto front" in (tmp_path / "r.md").read_text()
    for key in ("candidates", "elapsed_s"):
        assert key in doc
    # a budget nothing meets: one line, nothing written, the results kept (resumed: no
    # training runs again)
    other = tmp_path / "other.json"
    proc = bdnn("select", "iris", "--grid", grid, "--time-limit", 1, "--seed", 3, "--resume",
                tmp_path / "m.results.jsonl", "--max-model-bytes", 2, "-o", other, "--quiet")
    _one_line_error(proc, "no trained model meets the budget")
    assert not other.exists() and len(read_results(tmp_path / "m.results.jsonl")) == 6


@pytest.mark.slow
def test_local_cluster_sweep_trains_ensembles_in_its_workers(tmp_path):
    """Ensemble configurations train inside the Dask worker processes (daemonic: the members
    run one after the other there), are scored by their vote and written as the pick."""
    from bdnn.model_file import load_model, model_from_dict

    grid = write_grid(tmp_path, [{"hidden": 2, "input_bits": 2},
                                 {"hidden": 2, "input_bits": 2, "output": "single",
                                  "ensemble": ["ovo", "ovr"]}])
    out = tmp_path / "m.json"
    proc = bdnn("select", "iris", "--grid", grid, "--time-limit", 6, "--processes", 2,
                "--seed", 2, "--json", "-o", out)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    results = list(read_results(tmp_path / "m.results.jsonl").values())
    assert len(results) == 3 and all("model" in r for r in results), results
    Xv, yv = load_dataset("iris", seed=2).val_part()
    scored = []
    for r in results:
        model = model_from_dict(r["model"])
        assert r["val_accuracy"] == float(np.mean(model.predict(Xv) == yv))
        if r["config"]["ensemble"] is not None:
            assert model.kind.name == r["config"]["ensemble"]
            assert model.training["processes"] == 1  # a daemonic worker: no children
        scored.append((r["val_accuracy"], model_data_bytes(model)))
    best = max(v for v, _ in scored)
    assert doc["chosen"]["val_accuracy"] == best
    assert doc["chosen"]["model_bytes"] == min(b for v, b in scored if v == best)
    written = load_model(out)
    assert model_data_bytes(written) == doc["chosen"]["model_bytes"]
    # two classes: every configuration refused, and the one-line error says why
    proc = bdnn("select", "bcw", "--grid", write_grid(tmp_path, {"hidden": 2, "ensemble": "ovo"}),
                "--time-limit", 2, "--processes", 1, "--quiet", "-o", tmp_path / "b.json")
    assert proc.returncode == 2 and not (tmp_path / "b.json").exists()
    assert proc.stderr.count("\n") == 1 and "at least 3 classes" in proc.stderr, proc.stderr


@pytest.mark.slow
def test_cv_scores_folds_of_the_non_test_rows_and_refits(tmp_path):
    from sklearn.model_selection import StratifiedKFold

    grid = write_grid(tmp_path, {"hidden": [1, 2], "input_bits": 2})
    out = tmp_path / "m.json"
    proc = bdnn("select", "iris", "--grid", grid, "--time-limit", 1, "--processes", 2,
                "--cv", 2, "--seed", 1, "--json", "-o", out)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    results = list(read_results(tmp_path / "m.results.jsonl").values())
    assert sorted((r["config"]["hidden"], r["fold"]) for r in results) == [
        ("1", 0), ("1", 1), ("2", 0), ("2", 1)]
    # the folds, recomputed: stratified halves of the non-test rows of the seed-1 paper split
    ds = load_dataset("iris", seed=1)
    rows = np.sort(np.concatenate([ds.train, ds.val]))
    folds = list(StratifiedKFold(2, shuffle=True, random_state=1).split(ds.X[rows],
                                                                        ds.y[rows]))
    means = {}
    for r in results:
        va = rows[folds[r["fold"]][1]]
        net = network_from_dict(r["model"])
        acc = float(np.mean(net.forward(ds.X[va]).scores.argmax(axis=1) == ds.y[va]))
        assert acc == pytest.approx(r["val_accuracy"])
        means.setdefault(r["config"]["hidden"], []).append(acc)
    best = max(np.mean(v) for v in means.values())
    assert doc["chosen"]["val_accuracy"] == pytest.approx(best)
    # the written network was retrained on every non-test row
    net = load_network(out)
    assert net.training["select"]["refit"] is True and net.training["n_train"] == len(rows)
    Xt, yt = ds.test_part()
    assert doc["chosen"]["test_accuracy"] == pytest.approx(
        float(np.mean(net.forward(Xt).scores.argmax(axis=1) == yt)))


# -- a cluster started with the dask command line -------------------------------------------

class DaskCluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (no nanny: a killed
    worker stays dead)."""

    def __init__(self, n_workers: int) -> None:
        self.address = f"tcp://127.0.0.1:{free_port()}"
        port = self.address.rsplit(":", 1)[1]
        self.procs = [subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", port,
             "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        self.workers = [subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", self.address, "--nthreads", "1",
             "--no-nanny", "--no-dashboard", "--name", f"w{i}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(n_workers)]
        self.procs += self.workers
        self._wait_for(n_workers)

    def _wait_for(self, n: int) -> None:
        from distributed import Client

        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline:
            try:
                with Client(self.address, timeout="5s") as c:
                    if len(c.scheduler_info()["workers"]) >= n:
                        return
            except OSError:
                pass
            assert all(p.poll() is None for p in self.procs), "a dask process died"
            time.sleep(0.5)
        raise AssertionError("the dask workers never connected")

    def close(self) -> None:
        for p in self.procs:  # our own processes; a graceful dask shutdown takes seconds
            if p.poll() is None:
                p.kill()
            p.wait()


@pytest.fixture
def dask_cluster():
    clusters = []

    def start(n: int) -> DaskCluster:
        clusters.append(DaskCluster(n))
        return clusters[-1]
    yield start
    for c in clusters:
        c.close()


def wait_for(path: Path, proc: subprocess.Popen, done) -> dict[str, dict]:
    """Poll the results file until ``done(results)``; the sweep must still be running."""
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        results = read_results(path) if path.exists() else {}
        if done(results):
            return results
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("the results never arrived")


@pytest.mark.slow
def test_dask_cli_cluster_sweep_survives_a_killed_worker(tmp_path, dask_cluster):
    """A scheduler and two workers started with the dask command line run the sweep; once
    both have trained, one is killed (SIGKILL, no nanny to restart it): the sweep completes
    with every result, each reported once."""
    cluster = dask_cluster(2)
    # 12 trainings: on a busy machine one worker may train several before the other's first
    # result arrives, and the kill must come while trainings are left
    n = 12
    grid = write_grid(tmp_path, {"hidden": [1, 2, 3, 4, 5, 6], "input_bits": [1, 2]})
    results = tmp_path / "m.results.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bdnn", "select", "iris", "--grid", str(grid), "--time-limit",
         "1", "--scheduler", cluster.address, "--json", "-o", str(tmp_path / "m.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    pids = {str(w.pid): w for w in cluster.workers}
    seen = wait_for(results, proc, lambda rs: len({r["host"].rsplit(":", 1)[1]
                                                   for r in rs.values()}) == 2)
    if len(seen) >= n - 1:
        pytest.skip("the sweep was nearly over before both workers had reported")
    pids[next(iter(seen.values()))["host"].rsplit(":", 1)[1]].send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=PATIENCE_S)
    assert proc.returncode == 0, stderr
    done = read_results(results)
    assert len(done) == n
    assert len(results.read_text().splitlines()) == n  # each training reported once
    assert {r["host"].rsplit(":", 1)[1] for r in done.values()} <= set(pids)
    check_pick(list(done.values()), json.loads(stdout)["chosen"], 0, None)


@pytest.mark.slow
def test_resume_after_an_interrupt_trains_nothing_twice(tmp_path):
    grid = write_grid(tmp_path, {"hidden": [1, 2, 3], "input_bits": [1, 2]})
    results = tmp_path / "m.results.jsonl"
    args = [sys.executable, "-m", "bdnn", "select", "iris", "--grid", str(grid), "--time-limit",
            "1", "--processes", "1", "-o", str(tmp_path / "m.json")]
    # Ctrl-C's default action in the child, as in a terminal: an ignored SIGINT is inherited
    # across exec (a background job; in the whole suite the sweep ran to its end, so something
    # before it leaves SIGINT ignored in this process) and the sweep would just finish
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV, preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                      signal.SIG_DFL))
    wait_for(results, proc, lambda rs: len(rs) >= 2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=PATIENCE_S)
    if proc.returncode == 0:
        pytest.skip("the sweep finished before the interrupt arrived")
    assert proc.returncode == 130
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: interrupted (Ctrl-C);") and "--resume" in last
    first = read_results(results)
    assert 2 <= len(first) < 6
    assert not (tmp_path / "m.json").exists()
    proc2 = bdnn(*args[3:], "--resume", results, "--json")
    assert proc2.returncode == 0, proc2.stderr
    assert f"resume: {len(first)} of 6" in proc2.stderr
    assert f"{6 - len(first)} trainings to run" in proc2.stderr
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    keys = [x["key"] for x in lines]
    assert len(keys) == len(set(keys)) == 6  # nothing trained twice, nothing missing
    for key, r in first.items():  # the finished ones kept as they were
        assert next(x for x in lines if x["key"] == key)["model"] == r["model"]
    check_pick(lines, json.loads(proc2.stdout)["chosen"], 0, None)


# -- hostile input: one line, exit 2, nothing written --------------------------------------

def _one_line_error(proc, words: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
    assert "Traceback" not in proc.stderr


def in_process(capsys, *args) -> subprocess.CompletedProcess:
    """``bdnn ARGS`` through the console entry point in this process (fast)."""
    from bdnn.cli import main

    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, e.value.code, captured.out, captured.err)


def test_hostile_inputs(tmp_path, capsys):
    out = tmp_path / "m.json"
    bad = tmp_path / "bad.json"

    def select(*args) -> subprocess.CompletedProcess:
        return in_process(capsys, "select", "iris", "-o", out, *args)

    bad.write_text("{hidden: [4]")
    _one_line_error(select("--grid", bad), "not valid JSON")
    bad.write_text('{"widths": [4]}')
    _one_line_error(select("--grid", bad), "unknown grid axis")
    _one_line_error(select("--grid", tmp_path / "none.json"), "cannot read grid file")
    _one_line_error(select("--max-flash", 2048), "need --target")
    _one_line_error(select("--target", "z80"), "z80")
    _one_line_error(select("--cv", 1), "--cv")
    _one_line_error(select("--results", out), "different files")
    _one_line_error(select("--report", out), "different files")
    garbage = tmp_path / "old.jsonl"
    garbage.write_text("x\ny\n")
    _one_line_error(select("--resume", garbage), "not a bdnn select result")
    assert not out.exists()


@pytest.mark.slow
def test_unreachable_scheduler(tmp_path):
    grid = write_grid(tmp_path, {"hidden": [1, 2]})
    _one_line_error(bdnn("select", "iris", "--grid", grid, "--scheduler",
                         f"tcp://127.0.0.1:{free_port()}", "-o", tmp_path / "m.json",
                         "--quiet"),
                    "cannot reach the Dask scheduler")


# -- BDNNClassifier in GridSearchCV on Dask ---------------------------------------------------

@pytest.mark.slow
def test_estimator_grid_search_under_joblib_dask():
    import joblib
    from distributed import Client, LocalCluster, get_task_stream
    from sklearn.model_selection import GridSearchCV

    from bdnn.estimator import BDNNClassifier

    ds = load_dataset("iris", seed=0)
    X, y = ds.train_part()
    grid = {"hidden": [(1,), (2,)], "input_bits": [2]}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        with get_task_stream(client) as stream, joblib.parallel_backend("dask"):
            search = GridSearchCV(BDNNClassifier(time_limit=1, workers=1), grid, cv=2,
                                  n_jobs=-1).fit(X, y)
        ran_on = {t["worker"] for t in stream.data}
        cluster_workers = set(client.scheduler_info()["workers"])
    assert ran_on and ran_on <= cluster_workers  # the fits ran as tasks on the cluster
    assert set(search.cv_results_["params"][i]["hidden"] for i in range(2)) == {(1,), (2,)}
    net = search.best_estimator_.network_
    # the refitted best model's predictions are the numpy forward pass on the raw rows
    Xv, yv = ds.val_part()
    expected = search.best_estimator_.classes_[net.forward(Xv).scores.argmax(axis=1)]
    assert np.array_equal(search.predict(Xv), expected)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_index_ == int(np.argmax(scores))
