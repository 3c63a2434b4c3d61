"""--prove: symmetry breaking, subset bounds and certificates against brute force."""

import json
import subprocess
import time

import numpy as np
import pytest
from brute_force import best_errors
from cli_helpers import assert_one_line_error, bdnn

from bdnn.network import Layer, Network, random_network
from bdnn.quantizer import Quantizer
from bdnn.train.cpsat_model import canonical_order
from bdnn.train.problem import TrainProblem
from bdnn.train.prove import (
    check_certificate,
    make_certificate,
    parse_certificate,
    prove_bound,
    refute,
    row_bounds,
    solve_subset,
    subset_rows,
    train_prove,
)
from bdnn.train.solver import SolveOptions

FAST = SolveOptions(time_limit=30, workers=2, progress=False)


def _tiny(seed, n=12, d=2, k=2, levels=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, levels + 1, size=(n, d)), rng.integers(0, k, size=n)


def _problem(Q, y, k=2, hidden=(2,), time_limit=30.0):
    q = Quantizer.identity(Q.shape[1], 2)  # levels 0..3
    return TrainProblem.build(Q, y, quantizer=q, classes=list(range(k)), hidden=hidden,
                              weight_bound=1,
                              solve=SolveOptions(time_limit=time_limit, workers=2,
                                                 progress=False))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_symmetry_breaking_keeps_the_optimum(seed):
    """2 inputs, 2 ternary hidden units: brute force over every network vs CP-SAT with and
    without the lexicographic order of the hidden units."""
    Q, y = _tiny(seed, n=14)
    expect = best_errors(Q, y, 2, 2, w=1, levels=3)
    p = _problem(Q, y)
    for sb in (True, False):
        status, bound, value, answer = solve_subset(
            p.arch, p.rows, p.objective, FAST, 30.0, symmetry_breaking=sb, method="cpsat")
        assert status == "OPTIMAL" and value == bound == expect, (sb, value)
        assert answer.method == "cpsat"
        net = answer.network(p.quantizer, p.classes)
        assert int(np.sum(net.predict_q(Q) != y)) == expect


def test_canonical_order_is_the_same_function_and_sorted():
    rng = np.random.default_rng(7)
    Q = rng.integers(0, 16, size=(200, 4))
    for _ in range(20):
        net = random_network(rng, 4, (4, 3), 3, bits=4)
        c = canonical_order(net)
        a, b = net.forward_q(Q), c.forward_q(Q)
        assert np.array_equal(a.scores, b.scores)
        for la in c.layers[:-1]:
            keys = [(int(la.bias[j]), *map(int, la.weights[j])) for j in range(len(la.bias))]
            assert keys == sorted(keys)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_subset_bound_is_at_most_the_true_optimum(seed):
    Q, y = _tiny(seed, n=16)
    Q[8:10] = Q[0]  # repeated inputs: some of them with other labels (a data bound)
    truth = best_errors(Q, y, 1, 2, w=1, levels=3)
    p = _problem(Q, y, hidden=(1,))
    rows = p.rows
    per_row = row_bounds(rows, p.objective, p.arch)
    assert per_row.sum() == p.lower_bound()
    rng = np.random.default_rng(seed)
    for _ in range(3):
        S = sorted(rng.choice(rows.n_rows, size=rows.n_rows // 2, replace=False).tolist())
        status, sb, value, _ = solve_subset(p.arch, subset_rows(rows, S), p.objective, FAST,
                                            30.0, method="cpsat")
        assert status == "OPTIMAL"
        rest = np.ones(rows.n_rows, dtype=bool)
        rest[S] = False
        assert sb + per_row[rest].sum() <= truth
    proof = prove_bound(p, None, deadline=1e18)
    assert proof.bound <= truth
    assert proof.loss is not None and proof.loss >= truth


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_bound_above_a_networks_verified_loss(seed):
    """--prove's bound never exceeds the loss of its network (numpy forward pass) nor the
    brute-force optimum; a proof of optimality is right."""
    Q, y = _tiny(10 + seed, n=14)
    truth = best_errors(Q, y, 1, 2, w=1, levels=3)
    p = _problem(Q, y, hidden=(1,))
    r = train_prove(p)
    loss = int(np.sum(r.network.predict_q(Q) != y))
    assert r.objective == loss
    assert r.bound <= truth <= loss
    if r.status == "OPTIMAL":
        assert loss == truth
    cert = parse_certificate(r.network.training["certificate"])
    assert cert.bound <= truth


@pytest.mark.parametrize("method", ["cpsat", "enumeration"])
@pytest.mark.parametrize("seed", [20, 21, 22])
def test_refute_answers_against_brute_force(seed, method):
    """"Is there a network with loss < b?" is infeasible at the brute-force optimum and
    feasible one above it, with a network whose numpy loss is below b."""
    Q, y = _tiny(seed, n=14)
    truth = best_errors(Q, y, 1, 2, w=1, levels=3)
    p = _problem(Q, y, hidden=(1,))
    answer = refute(p.arch, p.rows, p.objective, FAST, 30.0, truth, method=method)
    assert answer.status == "INFEASIBLE" and answer.method == method
    answer = refute(p.arch, p.rows, p.objective, FAST, 30.0, truth + 1, method=method)
    assert answer.status == "FEASIBLE" and answer.loss == truth
    net = answer.network(p.quantizer, p.classes)
    assert int(np.sum(net.predict_q(Q) != y)) == truth


@pytest.mark.parametrize("method", ["cpsat", "enumeration"])
@pytest.mark.parametrize("seed", [30, 31, 32])
def test_whole_set_question_improves_and_proves_the_incumbent(seed, method):
    """From the worst incumbent (a constant network), prove_bound's whole-set questions find
    better networks until none is better: the bound and the loss meet at the brute-force
    optimum, proven by an infeasible answer (CP-SAT) or by one complete scan (the enumeration:
    its feasible answer is the minimum)."""
    Q, y = _tiny(seed, n=14)
    truth = best_errors(Q, y, 1, 2, w=1, levels=3)
    p = _problem(Q, y, hidden=(1,))
    constant = Network(p.quantizer, [Layer(np.zeros((1, 2)), [0], 1),
                                     Layer(np.zeros((2, 1)), [0, -1], 1)], classes=[0, 1])
    start = int(np.sum(constant.predict_q(Q) != y))
    proof = prove_bound(p, constant, deadline=1e18, method=method)
    assert proof.bound == proof.loss == truth
    assert int(np.sum(proof.network.predict_q(Q) != y)) == truth
    assert all(r["question"] and r["method"] == method for r in proof.rounds)
    if method == "cpsat":
        assert proof.rounds[-1]["status"] == "INFEASIBLE"
        assert len(proof.rounds) >= (2 if start > truth else 1)
    else:
        assert len(proof.rounds) == 1
        assert proof.rounds[0]["status"] == ("FEASIBLE" if start > truth else "INFEASIBLE")


def _xor_data(n_copies=2):
    """Class 1 iff exactly one of two inputs is high: one hidden unit cannot fit it."""
    pts = [(0, 0, 0), (0, 3, 1), (3, 0, 1), (3, 3, 0), (1, 1, 0), (2, 2, 0), (1, 3, 1),
           (3, 1, 1)]
    Q = np.array([p[:2] for p in pts] * n_copies)
    y = np.array([p[2] for p in pts] * n_copies)
    return Q, y


def test_certificate_round_trip_and_tampering():
    Q, y = _xor_data()
    truth = best_errors(Q, y, 1, 2, w=1, levels=3)
    assert truth > 0
    p = _problem(Q, y, hidden=(1,))
    r = train_prove(p)
    assert r.status == "OPTIMAL" and r.bound == truth
    doc = r.network.training["certificate"]
    cert = parse_certificate(doc)
    assert cert.bound == truth
    ok = check_certificate(cert, Q=Q, y=y, time_limit=30)
    assert ok.verdict == "verified", ok
    # a claim above the subset's optimum is refuted by re-solving it
    bad = json.loads(json.dumps(doc))
    bad["subset"]["bound"] += 1
    bad["bound"] += 1
    assert check_certificate(parse_certificate(bad), Q=Q, y=y, time_limit=30).verdict == \
        "refuted"
    # other data (one label flipped) do not match the fingerprint
    y2 = y.copy()
    y2[0] = 1 - y2[0]
    assert check_certificate(cert, Q=Q, y=y2, time_limit=30).verdict == "refuted"
    # a proof made on a subset of other rows: built by hand from a subset proof
    rows = p.rows
    S = list(range(rows.n_rows))
    status, sb, _, _ = solve_subset(p.arch, subset_rows(rows, S), p.objective, FAST, 30)
    from bdnn.train.prove import SubsetProof
    doc2 = make_certificate(p, SubsetProof(S, status, sb, 0, 0.0), data={},
                            quantizer={"bits": 2, "lo": [0, 0], "scale": [1, 1]})
    doc2["subset"]["label_counts"][0] = [c + 1 for c in doc2["subset"]["label_counts"][0]]
    assert check_certificate(parse_certificate(doc2), Q=Q, y=y, time_limit=30).verdict == \
        "refuted"
    # a model whose loss is below the claim refutes it
    perfect_on_first = Network(p.quantizer, [Layer(np.zeros((1, 2)), [0], 1),
                                             Layer(np.zeros((2, 1)), [0, -1], 1)],
                               classes=[0, 1])
    low = json.loads(json.dumps(doc))
    low["bound"] = low["subset"]["bound"] = len(y)  # more than the constant network's errors
    res = check_certificate(parse_certificate(low), Q=Q, y=y, time_limit=30,
                            model=perfect_on_first)
    assert res.verdict == "refuted"




@pytest.fixture(scope="module")
def proven(tmp_path_factory):
    d = tmp_path_factory.mktemp("prove")
    Q, y = _xor_data(3)
    csv = d / "xor.csv"
    lines = [f"{a},{b},{c}\n" for (a, b), c in zip(Q, y, strict=True)]
    csv.write_text("a,b,label\n" + "".join(lines))
    model, cert = d / "m.json", d / "m.cert.json"
    p = bdnn("train", csv, "--hidden", "1", "--input-bits", "2", "--prove", "--certificate",
             cert, "--time-limit", "30", "--json", "--quiet", "-o", model)
    assert p.returncode == 0, p.stderr
    return d, csv, model, cert, json.loads(p.stdout)


@pytest.mark.slow  # three CLI processes: ~15 s idle, 40 s on a busy machine
def test_cli_prove_and_certify(proven):
    d, csv, model, cert, res = proven
    assert res["bound"] > 0 and res["bound"] <= res["objective"]
    for f in (cert, model):
        p = bdnn("certify", f, csv, "--json", "--quiet")
        assert p.returncode == 0, p.stdout + p.stderr
        out = json.loads(p.stdout)
        assert out["verdict"] == "verified" and out["claimed"] == res["bound"]
    doc = json.loads(cert.read_text())
    doc["bound"] += 1
    doc["subset"]["bound"] += 1
    bad = d / "bad.json"
    bad.write_text(json.dumps(doc))
    p = bdnn("certify", bad, csv, "--quiet")
    assert p.returncode == 1 and p.stdout.startswith("refuted"), p.stdout + p.stderr


def bdnn_here(capsys, *args):
    """The CLI in this process (each subprocess costs seconds of start-up)."""
    from bdnn.cli import main
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, e.value.code, out.out, out.err)


def test_cli_hostile_certificates(proven, tmp_path, capsys):
    d, csv, model, cert, _ = proven
    good = json.loads(cert.read_text())

    def write(name, text):
        f = tmp_path / name
        f.write_text(text)
        return f

    cases = [
        (write("a.json", "{not json"), "not valid JSON"),
        (write("b.json", "[1, 2]"), "must be a JSON object"),
        (write("c.json", json.dumps({**good, "format": "zip"})), "not a bdnn certificate"),
        (write("d.json", json.dumps({**good, "version": 99})), "version"),
        (write("e.json", json.dumps({**good, "bound": -1})), "bound"),
        (write("f.json", json.dumps({**good, "bound": "7"})), "integer"),
        (write("g.json", json.dumps({**good, "subset": {**good["subset"],
                                                        "inputs": [[1, 2, 3]]}})), "subset"),
        (write("h.json", json.dumps({**good, "architecture": {**good["architecture"],
                                                              "hidden": [10**9]}})),
         "architecture"),
        (write("i.json", "[" * 100000 + "]" * 100000), "certificate"),
        (write("j.json", json.dumps({**good, "quantizer": {"bits": 2}})), "quantizer"),
        (tmp_path / "missing.json", "does not exist"),
        (tmp_path, "directory"),
    ]
    for f, fragment in cases:
        assert_one_line_error(bdnn_here(capsys, "certify", f, csv), fragment)
    p = bdnn_here(capsys, "train", csv, "--certificate", tmp_path / "x.json", "-o",
                  tmp_path / "m.json")
    assert_one_line_error(p, "--certificate needs --prove")
    p = bdnn_here(capsys, "train", csv, "--prove", "--method", "split", "-o",
                  tmp_path / "m.json")
    assert_one_line_error(p, "--prove works with --method exact only")


def test_data_bound_certificate_with_an_empty_subset():
    """A certificate of the data bound alone (no subset): verified, and refuted when its rest
    bound is raised above what the repeated inputs give."""
    from bdnn.train.prove import SubsetProof
    Q = np.array([[1, 1]] * 3 + [[2, 0]] * 4 + [[0, 3]])
    y = np.array([0, 1, 1, 0, 0, 1, 0, 1])
    p = _problem(Q, y, hidden=(1,))
    assert p.lower_bound() == 2  # one of the first input's labels, one of the second's
    doc = make_certificate(p, SubsetProof([], "EMPTY", 0, p.lower_bound(), 0.0), data={},
                           quantizer={"bits": 2, "lo": [0, 0], "scale": [1, 1]})
    assert check_certificate(parse_certificate(doc), Q=Q, y=y, time_limit=10).verdict == \
        "verified"
    doc["bound"] = doc["rest"]["data_bound"] = 3
    assert check_certificate(parse_certificate(doc), Q=Q, y=y, time_limit=10).verdict == \
        "refuted"


def _expanded(rows, S):
    """The original rows (repeated as often as they occur) of distinct rows S."""
    Q = np.concatenate([np.repeat(rows.Q[S], rows.counts[S, c], axis=0) for c in (0, 1)])
    y = np.repeat([0, 1], rows.counts[S].sum(axis=0))
    return Q, y


@pytest.mark.parametrize("seed", [41, 42])
def test_disjoint_blocks_add_up_and_their_certificate(seed):
    """Each block's bound is its brute-force optimum (or below, when not closed), the blocks are
    disjoint, their sum plus the rest's data bound is at most the whole set's brute-force
    optimum; the version-2 certificate is verified, and refuted when a block's bound is raised."""
    from bdnn.train.prove import partition_bound
    rng = np.random.default_rng(seed)
    Q = rng.integers(0, 4, size=(60, 2))  # 16 distinct inputs, most with both labels
    y = rng.integers(0, 2, size=60)
    truth = best_errors(Q, y, 2, 2, w=1, levels=3)
    p = _problem(Q, y, hidden=(2,))
    proof = partition_bound(p, deadline=1e18, sizes=[8])
    assert proof is not None and len(proof.blocks) >= 2
    seen = [r for b in proof.blocks for r in b.rows]
    assert len(seen) == len(set(seen))
    for b in proof.blocks:
        assert b.status == "OPTIMAL" and b.method == "enumeration"
        bq, by = _expanded(p.rows, b.rows)
        assert b.subset_bound == best_errors(bq, by, 2, 2, w=1, levels=3)
    assert proof.bound <= truth
    doc = make_certificate(p, proof, data={}, quantizer={"bits": 2, "lo": [0, 0],
                                                        "scale": [1, 1]})
    assert doc["version"] == 2 and len(doc["subsets"]) == len(proof.blocks)
    cert = parse_certificate(json.loads(json.dumps(doc)))
    assert cert.bound == proof.bound
    assert check_certificate(cert, Q=Q, y=y, time_limit=60).verdict == "verified"
    bad = json.loads(json.dumps(doc))
    bad["subsets"][-1]["bound"] += 1  # the last one: every subset is re-proven
    bad["bound"] += 1
    res = check_certificate(parse_certificate(bad), Q=Q, y=y, time_limit=60)
    assert res.verdict == "refuted" and "below the claimed" in res.reasons[0]
    if len(doc["subsets"]) > 1:  # two subsets sharing a row are refused
        overlap = json.loads(json.dumps(doc))
        overlap["subsets"][1]["inputs"][0] = overlap["subsets"][0]["inputs"][0]
        overlap["subsets"][1]["label_counts"][0] = overlap["subsets"][0]["label_counts"][0]
        with pytest.raises(Exception, match="share no row"):
            parse_certificate(overlap)


def test_prove_bound_starts_with_blocks_when_the_whole_set_is_too_big(monkeypatch):
    """When the enumeration could not scan every row (its candidate cap, lowered here), the
    proof begins with disjoint blocks; its bound never exceeds the brute-force optimum."""
    import bdnn.train.halfspaces as hs
    import bdnn.train.prove as prove
    monkeypatch.setattr(prove, "PARTITION_ROWS", 6)
    monkeypatch.setattr(hs, "MAX_CANDIDATES", 100)  # the whole set's question is beyond it
    monkeypatch.setattr(prove, "core_rows", lambda rows, wrong: None)  # no core: blocks only
    rng = np.random.default_rng(43)
    Q = rng.integers(0, 4, size=(36, 2))
    y = rng.integers(0, 2, size=36)
    truth = best_errors(Q, y, 2, 2, w=1, levels=3)
    p = _problem(Q, y, hidden=(2,))
    constant = Network(p.quantizer, [Layer(np.zeros((2, 2)), [0, 0], 1),
                                     Layer(np.zeros((2, 2)), [0, -1], 1)], classes=[0, 1])
    proof = prove_bound(p, constant, deadline=time.monotonic() + 60)
    assert proof.rounds[0]["question"] == "disjoint blocks"
    assert proof.rounds[0]["bound"] <= proof.bound <= truth <= proof.loss


def test_core_in_the_box_of_the_wrong_rows_is_proven_by_the_enumeration(monkeypatch):
    """Two well-separated clusters and a noisy box between them (uniform-10's shape, small):
    an incumbent wrong only in the box, the whole set beyond the enumeration's (lowered) cap,
    the box within it. The proof's first round is the core: its bound is the brute-force
    optimum of the box's rows plus the rest's data bound, never above the whole set's
    brute-force optimum, and its certificate is re-proven from the file."""
    import bdnn.train.halfspaces as hs
    rng = np.random.default_rng(7)
    high = rng.integers(6, 8, size=(12, 3))
    low = rng.integers(0, 2, size=(12, 3))
    noisy = rng.integers(3, 5, size=(16, 3))
    Q = np.concatenate([high, low, noisy])
    y = np.concatenate([np.ones(12, int), np.zeros(12, int), rng.integers(0, 2, size=16)])
    p = TrainProblem.build(Q, y, quantizer=Quantizer.identity(3, 3), classes=[0, 1],
                           hidden=(2,), weight_bound=1,
                           solve=SolveOptions(time_limit=60, workers=2, progress=False))
    # class 1 iff x1 + x2 + x3 >= 11: right on both clusters, wrong on some of the box
    incumbent = Network(p.quantizer, [Layer(np.array([[1, 1, 1], [0, 0, 0]]), [-11, 0], 1),
                                      Layer(np.array([[-1, 0], [1, 0]]), [0, 0], 1)],
                        classes=[0, 1])
    err = incumbent.predict_q(Q) != y
    assert err.any() and err[:24].sum() == 0
    # wrong: an input on which it errs more often than that input's minority label occurs
    same = (Q[:, None, :] == Q[None, :, :]).all(axis=2)
    wrong = np.array([(err & same[i]).sum() > min((same[i] & (y == c)).sum() for c in (0, 1))
                      for i in range(len(Q))])
    box = np.all((Q >= Q[wrong].min(axis=0)) & (Q <= Q[wrong].max(axis=0)), axis=1)
    assert set(np.flatnonzero(box)) <= set(range(24, 40))
    loss = int(err.sum())
    monkeypatch.setattr(hs, "MAX_CANDIDATES", 27 * loss - 1)  # the whole set's scan: refused
    assert not hs.candidates_fit(p.arch, loss)
    proof = prove_bound(p, incumbent, deadline=time.monotonic() + 60)
    first = proof.rounds[0]
    assert first["question"] == "core" and first["method"] == "enumeration"
    assert first["rows"] == len(np.unique(Q[box], axis=0))
    rest = [i for i in range(len(Q)) if not box[i]]
    rest_bound = sum(min(np.sum(y[[j for j in rest if (Q[j] == Q[i]).all()]] == c)
                         for c in (0, 1)) for i in {tuple(Q[i]): i for i in rest}.values())
    assert first["subset_bound"] == best_errors(Q[box], y[box], 2, 2, w=1, levels=7)
    assert first["bound"] == first["subset_bound"] + rest_bound
    truth = best_errors(Q, y, 2, 2, w=1, levels=7)
    assert first["bound"] <= proof.bound <= truth <= proof.loss
    doc = make_certificate(p, proof.best, data={}, quantizer={"bits": 3, "lo": [0] * 3,
                                                              "scale": [1] * 3})
    cert = parse_certificate(json.loads(json.dumps(doc)))
    assert check_certificate(cert, Q=Q, y=y, time_limit=60).verdict == "verified"


def test_bcw_with_four_units_fits_its_training_half():
    """Issue 14 asked for a bound >= 1 on bcw's training half with 4 ternary hidden units; the
    optimum is 0: the network in benchmarks/results/bcw4_zero_errors.json (found by
    benchmarks/zero_errors.py) makes no training error, by plain numpy on the quantizer fitted
    as `bdnn train` and benchmarks/prove.py fit it, and --prove from it says OPTIMAL at 0."""
    from pathlib import Path

    from bdnn.data import load_dataset
    from bdnn.model_file import load_network

    path = Path(__file__).resolve().parent.parent / "benchmarks/results/bcw4_zero_errors.json"
    net = load_network(path)
    ds = load_dataset("bcw", split="paper", seed=0)
    X, y = ds.train_part()
    Q = Quantizer.fit(X, 4).quantize(X)
    assert np.array_equal(net.quantizer.quantize(X), Q)  # the file's quantizer is that one
    (W1, b1), (W2, b2) = ((layer.weights, layer.bias) for layer in net.layers)
    assert W1.shape == (4, 9) and np.abs(W1).max() <= 1 and np.abs(W2).max() <= 1
    scores = (Q @ W1.T + b1 >= 0).astype(np.int64) @ W2.T + b2
    predicted = (scores[:, 1] > scores[:, 0]).astype(np.int64)  # argmax, ties to class 0
    assert len(y) == 351 and np.array_equal(predicted, y)
    p = TrainProblem.build(Q, y, quantizer=net.quantizer, classes=list(ds.classes), hidden=(4,),
                           weight_bound=1, warm_start=net,
                           solve=SolveOptions(time_limit=60, workers=2, progress=False))
    r = train_prove(p)
    assert r.status == "OPTIMAL" and r.objective == 0 and r.bound == 0
    assert p.loss(r.network) == 0
