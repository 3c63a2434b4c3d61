"""Structured ensembles (ovo / ovr): the vote against a plain-Python brute force with ties made
on purpose, the C and ONNX exports bit for bit against numpy, the model file round trip and
hostile ensemble files, and ``bdnn train --ensemble`` end to end."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import bdnn
from firmware_fixtures.helpers import need_target
from toolchains import require_tool

from bdnn.ensemble import OVO, OVR, Ensemble
from bdnn.errors import BDNNError, ModelFileError
from bdnn.model_file import (
    dumps_model,
    load_model,
    load_network,
    model_from_dict,
    model_to_dict,
    network_to_dict,
    save_network,
)
from bdnn.network import Layer, Network, random_network
from bdnn.quantizer import Pow2Quantizer, Quantizer, ThresholdQuantizer
from bdnn.raw_input import with_raw_input
from bdnn.train.ensemble import MIN_MEMBER_SECONDS
from codegen.c_export import render_c
from codegen.verify import random_inputs, verify

ROOT = Path(__file__).resolve().parents[1]


def random_ensemble(seed: int, kind, n_classes: int = 3, n_inputs: int = 5, hidden=(3,),
                    output: str = "argmax", activation: str = "heaviside",
                    weight_bound: int = 1, bits: int = 3) -> Ensemble:
    rng = np.random.default_rng(seed)
    member_classes = kind.member_classes(n_classes)
    members = [random_network(rng, n_inputs, hidden, 2, weight_bound, activation, output, bits)
               for _ in member_classes]
    return Ensemble(kind, members, member_classes, classes=[f"c{i}" for i in range(n_classes)])


def tie_ensemble(kind, n_classes: int = 4, output: str = "argmax") -> Ensemble:
    """Members whose output layer ignores its inputs: every decision is a constant chosen so
    that votes and margin sums tie (ovo) or decisions tie (ovr)."""
    base = random_ensemble(7, kind, n_classes, output=output)
    members = []
    for k, m in enumerate(base.members):
        out = m.output_layer
        if m.output.one_unit:
            bias = np.array([k % 2 - 1])  # d = 0 or -1
        else:
            bias = np.array([0, 0]) if k % 2 else np.array([1, 0])  # d = 0 or -1
        members.append(Network(m.quantizer, [*m.hidden_layers,
                                             Layer(np.zeros_like(out.weights), bias, 1)],
                               classes=[0, 1], activation=m.activation, output=m.output))
    return Ensemble(kind, members, base.member_classes, classes=base.classes)


def brute_force_vote(ens: Ensemble, Q: np.ndarray) -> list[int]:
    """The documented vote in plain Python over each member's own numpy scores."""
    out = []
    member_scores = [m.forward_q(Q).scores for m in ens.members]
    for r in range(len(Q)):
        decisions = []
        for s in member_scores:
            row = [int(v) for v in s[r]]
            d = row[0] if len(row) == 1 else row[1] - row[0]
            picks_second = d >= 0 if len(row) == 1 else d > 0  # argmax: a tie is class 0
            decisions.append((d, picks_second))
        if ens.kind.pairwise:
            votes = [0] * ens.n_classes
            margins = [0] * ens.n_classes
            for (a, b), (d, second) in zip(ens.member_classes, decisions, strict=True):
                winner = b if second else a
                votes[winner] += 1
                margins[winner] += abs(d)
            best = max(range(ens.n_classes), key=lambda c: (votes[c], margins[c], -c))
        else:
            by_class = {c: d for ((c,), (d, _)) in zip(ens.member_classes, decisions,
                                                       strict=True)}
            best = max(range(ens.n_classes), key=lambda c: (by_class[c], -c))
        out.append(best)
    return out


CASES = [
    ("ovo-argmax", lambda: random_ensemble(1, OVO, 4)),
    ("ovo-single-sign", lambda: random_ensemble(2, OVO, 3, output="single", activation="sign",
                                                weight_bound=2)),
    ("ovr-argmax-deep", lambda: random_ensemble(3, OVR, 3, hidden=(4, 2))),
    ("ovr-single", lambda: random_ensemble(4, OVR, 4, output="single")),
    ("ovo-ties", lambda: tie_ensemble(OVO, 4)),
    ("ovr-ties", lambda: tie_ensemble(OVR, 4, output="single")),
]


@pytest.mark.parametrize("name, make", CASES, ids=[c[0] for c in CASES])
def test_vote_matches_brute_force(name, make):
    ens = make()
    Q = random_inputs(ens, 300, seed=5)
    assert ens.predict_q(Q).tolist() == brute_force_vote(ens, Q)


def test_ties_go_to_the_documented_class():
    # 3-class ovo where every class wins once (a cycle) with equal margins: the lowest index
    d = np.array([[5, -5, 5]])  # (0,1) -> 1, (0,2) -> 0, (1,2) -> 2, each |d| = 5
    pairs = OVO.member_classes(3)
    assert OVO.vote(d, pairs, np.array([1, 1, 1]), 3, 100).tolist() == [0]
    # the same cycle, class 2 with the larger margin
    d = np.array([[5, -5, 6]])
    assert OVO.vote(d, pairs, np.array([1, 1, 1]), 3, 100).tolist() == [2]
    # argmax member tie d = 0 picks the first class, single member d = 0 the second
    assert OVO.vote(np.array([[0, 0, 0]]), pairs, np.array([1, 1, 1]), 3, 100).tolist() == [0]
    assert OVO.vote(np.array([[0, 0, 0]]), pairs, np.array([0, 0, 0]), 3, 100).tolist() == [2]
    # ovr: equal decisions -> lowest index
    assert OVR.vote(np.array([[3, 7, 7]]), OVR.member_classes(3), np.zeros(3, np.int64), 3,
                    1).tolist() == [1]


def test_tie_ensembles_really_tie():
    ens = tie_ensemble(OVO, 4)
    Q = random_inputs(ens, 20, seed=1)
    d = ens.decisions(ens.forward_q(Q).scores)
    assert set(np.unique(d).tolist()) <= {0, -1}
    assert len(set(ens.predict_q(Q).tolist())) == 1  # a constant, decided by the tie rule


@pytest.mark.parametrize("name, make", CASES, ids=[c[0] for c in CASES])
def test_c_host_and_onnx_match_numpy(name, make):
    pytest.importorskip("onnxruntime")
    ens = make()
    X = np.random.default_rng(0).uniform(-1, 9, size=(40, ens.n_inputs))
    report = verify(ens, X, n_random=150, seed=3,
                    backends=["numpy", "onnxruntime", "onnx-reference", "c-host"])
    statuses = {b.backend: (b.status, b.reason) for b in report.backends}
    assert report.ok, statuses
    assert all(s in ("ok", "reference") for s, _ in statuses.values()), statuses


def shared_quantizer_ensemble(quantizer, kind=OVO, output: str = "single",
                              seed: int = 31) -> Ensemble:
    """A random 3-class ensemble whose members share ``quantizer``, with the int16 raw-input
    API in its training record."""
    base = random_ensemble(seed, kind, 3, n_inputs=quantizer.n_inputs, output=output,
                           bits=quantizer.bits)
    members = [Network(quantizer, m.layers, classes=[0, 1], activation=m.activation,
                       output=m.output) for m in base.members]
    return with_raw_input(Ensemble(kind, members, base.member_classes, classes=base.classes),
                          "int16")


# The quantizers of main's float path, carried into the ensemble's shared quantizer code:
# fitted cut points (a column without any, one with fewer than L), and affine quantizers whose
# inputs share level-key rows (one row for all inputs; two rows through NAME_level_row).
QUANTIZERS = {
    "thresholds": lambda: ThresholdQuantizer(3, (
        np.array([-40.0, -3.5, 0.0, 2.25, 7.0, 90.0, 1000.0], np.float32),
        np.array([], np.float32),
        np.array([-1.5, 4.0], np.float32),
        np.array([0.5, 1.5, 2.5], np.float32),
    )),
    "one-row": lambda: Quantizer(3, np.full(4, -2.0), np.full(4, 0.75)),
    "two-rows": lambda: Quantizer(3, np.array([-2.0, 1.0, -2.0, 1.0]),
                                  np.array([0.75, 2.0, 0.75, 2.0])),
    # int8 offsets: AVR's 16-bit pow2 level, in the ensemble's one copy of the level code
    "pow2": lambda: Pow2Quantizer(3, np.array([0, 2, -3, 5]), np.array([-3, 0, 7, -100])),
}


@pytest.mark.parametrize("qname", list(QUANTIZERS))
def test_shared_quantizer_kinds_and_raw_input_match_numpy(qname):
    """Main's quantizer forms (threshold quantizer, shared key rows) and the integer
    NAME_predict_i16 on an ensemble, bit for bit against the numpy reference."""
    require_tool(os.environ.get("CC", "gcc"), "gcc")
    pytest.importorskip("onnxruntime")
    ens = shared_quantizer_ensemble(QUANTIZERS[qname]())
    X = np.random.default_rng(4).normal(0, 30, size=(40, ens.n_inputs))
    X[:10] = np.round(X[:10])  # integer rows also go through NAME_predict_i16
    report = verify(ens, X, n_random=60, seed=1,
                    backends=["numpy", "onnxruntime", "onnx-reference", "c-host"])
    statuses = {b.backend: (b.status, b.reason) for b in report.backends}
    assert report.ok and report.raw_input == "int16" and report.int_rows > 10, statuses
    text = render_c(ens, "eq")["eq.c"]
    assert text.count("int eq_predict_i16(const int16_t *x)") == 1
    assert text.count("int eq_predict(const float *x)") == 1
    assert ("eq_level_row[4]" in text) == (qname == "two-rows")
    assert ("eq_lo[" in text) == (qname in ("one-row", "two-rows"))
    assert ("eq_q_exponent[" in text) == (qname == "pow2")


def test_threshold_quantizer_ensemble_file(tmp_path):
    ens = shared_quantizer_ensemble(QUANTIZERS["thresholds"](), OVR, output="argmax")
    path = tmp_path / "e.json"
    save_network(ens, path)
    doc = json.loads(path.read_text())
    assert doc["version"] == 2 and doc["quantizer"]["kind"] == "thresholds"
    back = load_model(path)
    assert isinstance(back.quantizer, ThresholdQuantizer)
    X = np.random.default_rng(0).normal(0, 30, size=(200, ens.n_inputs))
    np.testing.assert_array_equal(back.predict(X), ens.predict(X))
    assert dumps_model(back) == path.read_text()
    other = ThresholdQuantizer(3, (np.array([0.0], np.float32),) * 4)
    members = [*ens.members[:2], Network(other, ens.members[2].layers, classes=[0, 1],
                                         output=ens.members[2].output)]
    with pytest.raises(BDNNError, match="another quantizer"):
        Ensemble(OVR, members, ens.member_classes, classes=ens.classes)


@pytest.mark.toolchain
@pytest.mark.parametrize("target_name, qname", [
    ("cortex-m0", None), ("avr", "thresholds"), ("avr", "pow2"), ("rv32ec", "thresholds"),
    ("cortex-m4", "two-rows"),  # BDNN_FLOAT_QUANTIZER 1 with a NAME_level_row table
])
def test_emulated_targets_match_numpy(target_name, qname):
    need_target(target_name)
    ens = (random_ensemble(11, OVO, 3, hidden=(3,), output="single") if qname is None
           else shared_quantizer_ensemble(QUANTIZERS[qname]()))
    report = verify(ens, None, n_random=40, seed=2, backends=["numpy", target_name])
    assert [b.status for b in report.backends] == ["reference", "ok"], report.to_dict()
    assert report.int_rows > 0 or qname is None


def test_model_file_round_trip(tmp_path):
    for kind in (OVO, OVR):
        ens = random_ensemble(21, kind, 3, output="single")
        ens.training = {"data": "x", "ensemble": kind.name}
        path = tmp_path / f"{kind.name}.json"
        save_network(ens, path)
        back = load_model(path)
        assert isinstance(back, Ensemble) and back.kind is kind
        assert back.member_classes == ens.member_classes
        assert json.loads(path.read_text())["version"] == 2
        Q = random_inputs(ens, 100, seed=0)
        fa, fb = ens.forward_q(Q), back.forward_q(Q)
        np.testing.assert_array_equal(fa.scores, fb.scores)
        np.testing.assert_array_equal(fa.class_index, fb.class_index)
        assert dumps_model(back) == path.read_text()
        with pytest.raises(ModelFileError, match="ensemble, not a single network"):
            load_network(path)


def test_plain_networks_still_write_version_1(tmp_path):
    net = random_network(np.random.default_rng(0), 3, [2], 3)
    assert network_to_dict(net)["version"] == 1
    save_network(net, tmp_path / "n.json")
    assert isinstance(load_model(tmp_path / "n.json"), Network)


def _doc() -> dict:
    return model_to_dict(random_ensemble(5, OVO, 3))


HOSTILE = [
    (lambda d: d.update(version=1), "needs model file version 2"),
    (lambda d: d.update(ensemble=[1]), '"ensemble" must be an object'),
    (lambda d: d["ensemble"].update(kind="ova"), '"kind" must be one of ovo, ovr'),
    (lambda d: d["ensemble"].update(kind=None), '"kind" must be one of'),
    (lambda d: d["ensemble"].update(members=[]), "non-empty list"),
    (lambda d: d["ensemble"].update(members={}), "non-empty list"),
    (lambda d: d["ensemble"]["members"].pop(), "has members"),
    (lambda d: d["ensemble"]["members"][0].update(classes=[0, 3]), "class indices in 0..2"),
    (lambda d: d["ensemble"]["members"][0].update(classes=[True, 1]), "class indices"),
    (lambda d: d["ensemble"]["members"][0].update(classes=[0, 1, 2]), "1 or 2 class"),
    (lambda d: d["ensemble"]["members"][1].update(classes=[1, 0]), "has members"),
    (lambda d: d["ensemble"]["members"][2].update(layers="x"), "ensemble member 2"),
    (lambda d: d["ensemble"]["members"][0]["layers"][0]["weights"][0].__setitem__(0, 99),
     "exceeds the layer's weight bound"),
    (lambda d: d["ensemble"]["members"][1]["layers"][-1].update(
        weights=[[1, 1, 1]] * 3, bias=[0, 0, 0]), "output layer has 3 units"),
    (lambda d: d["ensemble"]["members"].__setitem__(0, 5), "member 0 must be an object"),
    (lambda d: d.update(classes=["a", "b"]), "class indices in 0..1"),
    (lambda d: d.update(classes=["a", "a", "b"]), "distinct"),
    (lambda d: d.update(training=[]), '"training" must be an object'),
    (lambda d: d["quantizer"].update(bits=0), "bits"),
]


@pytest.mark.parametrize("mutate, message", HOSTILE)
def test_hostile_ensemble_files(mutate, message, tmp_path):
    doc = _doc()
    mutate(doc)
    with pytest.raises(ModelFileError, match=message.replace("(", r"\(")):
        model_from_dict(copy.deepcopy(doc))


@pytest.mark.parametrize("command", ["info", "export", "verify"])
def test_hostile_ensemble_file_on_the_command_line(command, tmp_path):
    doc = _doc()
    doc["ensemble"]["members"][0].update(classes=[0, 3])
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    extra = {"export": ["--c", tmp_path], "verify": [], "info": []}[command]
    p = bdnn(command, path, *extra)
    assert p.returncode == 2 and p.stderr.startswith("error: ") and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "class indices" in p.stderr, p.stderr
    assert not list(tmp_path.glob("*.c"))


def test_members_must_share_the_quantizer():
    ens = random_ensemble(6, OVR, 3)
    other = ens.members[1]
    moved = Network(Quantizer(other.quantizer.bits, other.quantizer.lo + 1,
                              other.quantizer.scale), other.layers, classes=[0, 1])
    with pytest.raises(BDNNError, match="another quantizer"):
        Ensemble(OVR, [ens.members[0], moved, ens.members[2]], ens.member_classes,
                 classes=ens.classes)


def test_kinds_split_the_rows():
    y = np.array([0, 1, 2, 2, 1, 0])
    mask, local = OVO.member_rows((1, 2), y)
    assert mask.tolist() == [False, True, True, True, True, False]
    assert local.tolist() == [0, 1, 1, 0]
    mask, local = OVR.member_rows((2,), y)
    assert mask.all() and local.tolist() == [0, 0, 1, 1, 0, 0]
    assert OVO.member_classes(4) == list(combinations(range(4), 2))




@pytest.mark.slow
def test_train_ensemble_cli_end_to_end(tmp_path):
    """Real CP-SAT solves in spawned processes; the file exports and verifies, and the
    recorded accuracy is the one numpy computes from the written members."""
    out = tmp_path / "iris.json"
    p = bdnn("train", "iris", "--ensemble", "ovo", "--quantizer", "supervised", "--hidden",
              "2", "--time-limit", "8", "--json", "-o", out)
    assert p.returncode == 0, p.stderr
    assert "[ovo" in p.stderr  # progress on stderr
    summary = json.loads(p.stdout)
    ens = load_model(out)
    assert isinstance(ens, Ensemble) and len(ens.members) == 3 and summary["members"] == 3
    assert ens.training["quantizer"] == "supervised" and not ens.quantizer.affine
    from bdnn.data import load_dataset

    ds = load_dataset("iris", seed=0)
    X, y = ds.part("test")
    assert summary["test_accuracy"] == pytest.approx(float(np.mean(ens.predict(X) == y)))
    Xt, yt = ds.train_part()
    assert summary["train_errors"] == int(np.sum(ens.predict(Xt) != yt))
    p = bdnn("verify", out, "iris", "--backends", "numpy,c-host,onnxruntime", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    p = bdnn("export", out, "--c", tmp_path, "--name", "iris_ovo")
    assert p.returncode == 0, p.stderr
    text = (tmp_path / "iris_ovo.c").read_text()
    assert text.count("int iris_ovo_predict(const float *x)") == 1
    assert "static int iris_ovo_m2_forward_debug_q" in text


def test_qat_members_leave_a_stuck_float_mlp(tmp_path):
    """One-vs-rest on iris with 2-unit qat members (paper split seed 2): versicolor against the
    rest starts from a float MLP that keeps 18 of 76 training rows wrong; the later starts of
    every member (no clock with --deterministic) leave it, and the ensemble's recorded training
    errors are the ones numpy counts from the written members."""
    out = tmp_path / "ovr.json"
    p = bdnn("train", "iris", "--ensemble", "ovr", "--method", "qat", "--hidden", "2",
            "--output", "single", "--seed", "2", "--deterministic", "--time-limit", "60",
            "--json", "-o", out)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert max(summary["member_train_errors"]) <= 7, summary["member_train_errors"]
    from bdnn.data import load_dataset

    X, y = load_dataset("iris", seed=2).train_part()
    ens = load_model(out)
    assert summary["train_errors"] == int(np.sum(ens.predict(X) != y)) <= 7


@pytest.mark.slow
def test_margin_and_lexicographic_members(tmp_path):
    """``margin=2, lexicographic=True`` reaches every member: each trains the margin objective
    in lexicographic stages, and its loss (in the member's record and the ensemble's) is the
    count, recomputed here from its scores, of its rows whose label does not clear by 2."""
    from bdnn.data import load_dataset
    from bdnn.objective import row_margins
    from bdnn.train.ensemble import train_ensemble

    ds = load_dataset("iris", seed=0)
    X, y = ds.train_part()
    quantizer = Quantizer.fit(X, 4)
    Q = quantizer.quantize(X)
    result = train_ensemble("ovr", Q, y, quantizer=quantizer, classes=list(ds.classes),
                            hidden=(2,), objective="margin", margin=2, lexicographic=True,
                            time_limit=9.0, workers=2, progress=False)
    ens = result.ensemble
    assert ens.training["objective_name"] == "margin"
    assert ens.training["objective_params"] == {"margin": 2} and ens.training["lexicographic"]
    for k, (member, classes) in enumerate(zip(ens.members, ens.member_classes, strict=True)):
        assert member.training["objective_params"] == {"margin": 2}
        stages = [s["stage"] for s in member.training["lexicographic"]["stages"]]
        assert stages == ["loss", "margin"]
        mask, local_y = OVR.member_rows(classes, y)
        m = row_margins(member.forward_q(Q[mask]).scores, local_y, member.output)
        assert member.training["objective"] == ens.training["members"][k]["objective"] == int(
            (m < 2).sum())
    # hamming has no lexicographic form, for an ensemble as for one network
    p = bdnn("train", "iris", "--ensemble", "ovo", "--objective", "hamming", "--lexicographic",
              "--time-limit", "9", "-o", tmp_path / "h.json")
    assert p.returncode == 2 and "errors or margin, not hamming" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "h.json").exists()


def test_train_ensemble_bad_input(tmp_path):
    p = bdnn("train", "bcw", "--ensemble", "ovo", "--time-limit", "5", "-o",
              tmp_path / "m.json")
    assert p.returncode == 2 and p.stderr.startswith("error: ") and "3 classes" in p.stderr
    assert not (tmp_path / "m.json").exists()
    p = bdnn("train", "iris", "--ensemble", "ovx", "-o", tmp_path / "m.json")
    assert p.returncode == 2
    p = bdnn("train", "digits", "--ensemble", "ovo", "--time-limit", "10", "-o",
              tmp_path / "m.json")
    assert p.returncode == 2 and "too short for 45 ovo members" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "m.json").exists()


@pytest.mark.slow
def test_ensemble_ends_within_its_time_limit(tmp_path):
    """The one --time-limit covers the whole ensemble, measured from outside the process (the
    margin of tests/test_time_limits.py: limit + 10 % + 2 s x how much slower than a free core
    the command ran)."""
    from timing import SlownessProbe, run_bdnn_timed

    limit = 8.0
    with SlownessProbe() as probe:
        r = run_bdnn_timed("train", "wine", "--ensemble", "ovr", "--hidden", "2", "--time-limit",
                           limit, "--quiet", "--json", "-o", tmp_path / "d.json")
    assert r.returncode == 0, r.stderr
    # a member that starts when start-up has spent the budget still trains MIN_MEMBER_SECONDS
    # (docs/design.md §4): R rounds of them may come on top of the limit, in wall seconds
    training = json.loads((tmp_path / "d.json").read_text())["training"]
    rounds = math.ceil(len(training["members"]) / training["processes"])
    allowed = 1.1 * limit + 2.0 * r.slowness(probe) + rounds * MIN_MEMBER_SECONDS
    assert r.wall <= allowed, (r.wall, r.slowness(probe), rounds)


def test_documented_ensemble_reader_matches():
    """The vote printed in docs/model-format.md (second Python block) agrees with the package,
    ties included."""
    import re

    text = (ROOT / "docs" / "model-format.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[1]
    namespace: dict = {}
    exec(code, namespace)
    for ens in (random_ensemble(8, OVO, 4, output="single"), random_ensemble(9, OVR, 3),
                tie_ensemble(OVO, 4), tie_ensemble(OVR, 3)):
        doc = model_to_dict(ens)
        Q = random_inputs(ens, 100, seed=4)
        scores = [m.forward_q(Q).scores for m in ens.members]
        got = [namespace["ensemble_predict"](doc, [[int(v) for v in s[r]] for s in scores])
               for r in range(len(Q))]
        assert got == ens.predict_q(Q).tolist()


@pytest.mark.slow
def test_deterministic_ensembles_repeat_and_members_see_their_rows():
    """--deterministic: two runs give the same members (each a real CP-SAT solve in a forked
    process); every member's training record counts exactly its kind's rows."""
    from bdnn.data import load_dataset
    from bdnn.train.ensemble import train_ensemble

    ds = load_dataset("iris", seed=1)
    X, y = ds.train_part()
    quantizer = Quantizer.fit(X, 2)
    Q = quantizer.quantize(X)
    runs = [train_ensemble("ovo", Q, y, quantizer=quantizer, classes=list(ds.classes),
                           hidden=(1,), output="single", time_limit=4.0, workers=2,
                           deterministic=True, progress=False) for _ in range(2)]
    a, b = (model_to_dict(r.ensemble) for r in runs)
    assert a["ensemble"] == b["ensemble"]
    for (c0, c1), summary in zip(OVO.member_classes(3), runs[0].members, strict=True):
        assert summary["n_train"] == int(np.sum((y == c0) | (y == c1)))
    assert runs[0].train_errors == int(np.sum(runs[0].ensemble.predict_q(Q) != y))


@pytest.mark.slow
def test_sigterm_stops_the_members_and_writes_the_ensemble(tmp_path):
    """SIGTERM while the members train: every member keeps its best so far, the ensemble is
    written with interrupted=true, long before the time limit."""
    import signal

    out = tmp_path / "d.json"
    proc = subprocess.Popen([sys.executable, "-m", "bdnn", "train", "digits", "--ensemble",
                             "ovr", "--hidden", "2", "--time-limit", "600", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    for line in proc.stderr:  # wait until the members are training
        if "training 10 members" in line:
            break
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    assert "interrupted" in stdout
    ens = load_model(out)
    assert ens.training["interrupted"] is True and len(ens.members) == 10
    assert ens.training["seconds"] < 300
