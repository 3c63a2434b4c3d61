"""Quantizer kinds (uniform / quantile / supervised), model file version 2, and the integer
raw-input C API (``NAME_predict_i16`` / ``_i32``).

Every check compares with an independent computation: plain Python counting of cut points,
brute force over every integer of a range, a brute-force best cut, the numpy reference.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from firmware_fixtures.helpers import need_target
from toolchains import require_tool

from bdnn.errors import BDNNError, ModelFileError
from bdnn.model_file import dumps_model, load_network, network_from_dict, network_to_dict
from bdnn.network import Network, random_network
from bdnn.quantizer import (
    QUANTIZER_KINDS,
    Pow2Quantizer,
    Quantizer,
    ThresholdQuantizer,
    fit_quantile,
    fit_quantizer,
    fit_supervised,
)
from bdnn.raw_input import RAW_INPUTS, detect_raw_input, with_raw_input
from codegen.backends import c_host
from codegen.level_keys import (
    boundary_inputs,
    boundary_ints,
    level_keys,
    level_thresholds_int,
    levels_by_int_thresholds,
    levels_by_keys,
)
from codegen.onnx_export import onnx_bytes
from codegen.verify import verify

F32 = np.float32


def _threshold_net(seed: int = 3, bits: int = 2) -> Network:
    """A random network with a hand-made threshold quantizer: negative, zero, huge, tiny and
    subnormal cut points, a column with no cut point and one with fewer than L."""
    rng = np.random.default_rng(seed)
    net = random_network(rng, 5, [6], 3, weight_bound=2, bits=bits)
    L = (1 << bits) - 1
    cols = [
        np.sort(rng.normal(0, 10, L)).astype(F32),
        np.array([0.0], F32)[: min(1, L)],
        np.array([-3e38, 1e-45, 2e38][:L], F32),
        np.array([], F32),
        np.array([-2.5, 1e6][:L], F32),
    ]
    net.quantizer = ThresholdQuantizer(bits, tuple(np.unique(c) for c in cols))
    return net


def _count_levels(thresholds, X: np.ndarray) -> np.ndarray:
    """Plain Python: the number of cut points <= x, NaN -> 0 (independent of numpy's quantize)."""
    out = np.zeros(X.shape, np.int64)
    for r in range(X.shape[0]):
        for j in range(X.shape[1]):
            x = float(X[r, j])
            out[r, j] = 0 if math.isnan(x) else sum(1 for t in thresholds[j] if x >= float(t))
    return out


# -- fitting -------------------------------------------------------------------------------

def test_quantile_cuts_split_rows_evenly_and_lie_between_values() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)).astype(F32)
    X[:, 2] = np.round(X[:, 2] * 2)  # many ties
    for bits in (1, 2, 3):
        q = fit_quantile(X, None, bits)
        L = (1 << bits) - 1
        Q = q.quantize(X)
        for j in range(2):  # continuous columns: exactly L cuts, equal counts within 1 row
            t = q.thresholds[j]
            assert len(t) == L and np.all(np.diff(t) > 0)
            counts = np.bincount(Q[:, j], minlength=L + 1)
            assert counts.max() - counts.min() <= 1, counts
            v = np.sort(X[:, j])
            for c in t:  # a cut lies strictly above one training value and at most the next
                below = v[v < c]
                assert len(below) and not np.any((v > below.max()) & (v < c))
        assert len(q.thresholds[2]) <= min(L, len(np.unique(X[:, 2])) - 1)


def test_degenerate_columns() -> None:
    X = np.array([[1.0, 5.0], [1.0, 7.0], [1.0, 5.0], [1.0, 7.0]])
    y = np.array([0, 1, 0, 1])
    for fit in (fit_quantile, fit_supervised):
        q = fit(X, y, 3)
        assert len(q.thresholds[0]) == 0  # constant column: no cut, level 0 everywhere
        assert len(q.thresholds[1]) == 1 and 5 < q.thresholds[1][0] <= 7
        assert np.array_equal(q.quantize(X)[:, 1], [0, 1, 0, 1])
    with pytest.raises(BDNNError, match="NaN"):
        fit_quantile(np.array([[np.nan], [1.0]]), None, 2)


def test_supervised_one_cut_is_the_best_single_split() -> None:
    """With 1 bit (one cut), the supervised cut has the lowest weighted entropy of every cut
    between distinct values (brute force)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 300)
    y = (x > 0.37).astype(int) ^ (rng.uniform(size=300) < 0.1)
    q = fit_supervised(x[:, None], y, 1)
    (cut,) = q.thresholds[0]

    def cost(c: float) -> float:
        total = 0.0
        for side in (x < c, x >= c):
            p = np.bincount(y[side], minlength=2) / max(side.sum(), 1)
            total += side.sum() * -sum(v * math.log2(v) for v in p if v > 0)
        return total

    vals = np.unique(x.astype(F32)).astype(np.float64)
    best = min(cost(c) for c in vals[1:])
    assert cost(float(cut)) <= best + 1e-9
    assert abs(float(cut) - 0.37) < 0.05


def test_kinds_record_and_uniform_unchanged() -> None:
    assert list(QUANTIZER_KINDS) == ["uniform", "quantile", "supervised", "pow2"]
    X = np.random.default_rng(1).normal(size=(50, 3))
    a, b = fit_quantizer("uniform", X, None, 3), Quantizer.fit(X, 3)
    assert np.array_equal(a.lo, b.lo) and np.array_equal(a.scale, b.scale)
    with pytest.raises(BDNNError, match="unknown quantizer"):
        fit_quantizer("kmeans", X, None, 3)
    with pytest.raises(BDNNError, match="labels"):
        fit_supervised(X, None, 2)


# -- numpy, ONNX and C agree with counting ---------------------------------------------------

def test_numpy_levels_are_counts_of_cut_points() -> None:
    net = _threshold_net()
    q = net.quantizer
    X = boundary_inputs(q)
    assert np.array_equal(q.quantize(X), _count_levels(q.thresholds, X))
    assert np.array_equal(levels_by_keys(level_keys(q), X), _count_levels(q.thresholds, X))
    assert np.array_equal(q.quantize(q.level_values(q.quantize(X))), q.quantize(X))


def test_onnx_threshold_quantizer_matches_counting() -> None:
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator

    net = _threshold_net()
    X = boundary_inputs(net.quantizer)
    want = _count_levels(net.quantizer.thresholds, X)
    model = onnx_bytes(net, False, float_input=True)
    ops = {n.op_type for n in __import__("onnx").load_from_string(model).graph.node}
    assert {"GreaterOrEqual", "ReduceSum"} <= ops and "Mul" not in ops
    got = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(["class"], {"x": X})
    ref = ReferenceEvaluator(model).run(["class"], {"x": X})
    classes = net.forward_q(want.astype(np.uint8)).class_index
    assert np.array_equal(got[0], classes) and np.array_equal(ref[0], classes)


def test_c_host_and_onnx_verify_threshold_quantizer() -> None:
    require_tool(os.environ.get("CC", "gcc"), "gcc")
    net = _threshold_net(bits=3)
    X = np.random.default_rng(2).normal(0, 20, (30, 5)).astype(F32)
    report = verify(net, X, n_random=50, backends=["numpy", "onnxruntime", "c-host"])
    assert report.ok, report.to_dict()
    host = [b for b in report.backends if b.backend == "c-host"][0]
    assert host.float_rows == len(boundary_inputs(net.quantizer)) + 30
    from codegen.c_export import render_c

    files = render_c(net, "tq")
    assert "#define BDNN_FLOAT_QUANTIZER 0" in files["tq.c"] and "tq_lo" not in files["tq.c"]
    assert "first cut" in files["tq.h"]


# -- model file ------------------------------------------------------------------------------

def test_model_file_versions(tmp_path) -> None:
    uniform = random_network(np.random.default_rng(0), 3, [2], 2, bits=2)
    doc = network_to_dict(uniform)
    assert doc["version"] == 1 and "kind" not in doc["quantizer"]  # old readers read it
    assert dumps_model(network_from_dict(json.loads(dumps_model(uniform)))) == dumps_model(uniform)
    net = _threshold_net()
    doc = network_to_dict(net)
    assert doc["version"] == 2 and doc["quantizer"]["kind"] == "thresholds"
    path = tmp_path / "m.json"
    path.write_text(dumps_model(net))
    back = load_network(path)
    X = boundary_inputs(net.quantizer)
    assert np.array_equal(back.quantizer.quantize(X), net.quantizer.quantize(X))
    assert dumps_model(back) == dumps_model(net)
    doc["quantizer"] = {"kind": "affine", **uniform.quantizer.to_dict()}
    doc["n_inputs"] = 3
    doc["layers"] = network_to_dict(uniform)["layers"]
    doc["classes"] = network_to_dict(uniform)["classes"]
    assert network_from_dict(doc).quantizer.is_identity == uniform.quantizer.is_identity


@pytest.mark.parametrize("change, message", [
    (lambda q: q["thresholds"].__setitem__(0, [2.0, 1.0]), "strictly increasing"),
    (lambda q: q["thresholds"].__setitem__(0, [float("nan")]), "finite"),
    (lambda q: q["thresholds"].__setitem__(0, [1e39]), "finite float32"),
    (lambda q: q["thresholds"].pop(), "list of 5 lists"),
    (lambda q: q["thresholds"].__setitem__(0, [1.0, 2.0, 3.0, 4.0]), "at most 3"),
    (lambda q: q["thresholds"].__setitem__(0, ["1"]), "finite numbers"),
    (lambda q: q.__setitem__("kind", "spline"), "kind"),
])
def test_hostile_threshold_files(tmp_path, change, message) -> None:
    doc = network_to_dict(_threshold_net())
    change(doc["quantizer"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=message) as e:
        load_network(path)
    assert "\n" not in str(e.value)
    if message != "strictly increasing":  # the command line once is enough (a subprocess each)
        return
    p = subprocess.run([sys.executable, "-m", "bdnn", "info", str(path)], capture_output=True,
                       text=True)
    assert p.returncode == 2 and p.stderr.startswith("error: ") and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_kind_needs_version_2() -> None:
    doc = network_to_dict(_threshold_net())
    doc["version"] = 1
    with pytest.raises(ModelFileError, match="version 2"):
        network_from_dict(doc)


# -- integer raw-input API ------------------------------------------------------------------

def _small_quantizers() -> list:
    return [
        Quantizer(3, np.array([-100.5, 0, 7, -40000], F32), np.array([0.07, 0, 1e-5, 1e-4], F32)),
        ThresholdQuantizer(2, (np.array([-7.5, 0.0, 3.2], F32), np.array([], F32),
                                np.array([-32768.0, 32767.0], F32),
                                np.array([40000.0], F32))),
        Pow2Quantizer(3, np.array([0, -12, 3, -4]), np.array([0, -4, 7, 2000])),
    ]


@pytest.mark.parametrize("q", _small_quantizers(), ids=["affine", "thresholds", "pow2"])
def test_integer_thresholds_brute_force_int16(q) -> None:
    """Every int16 value: counting integer thresholds = Quantizer.quantize(float32(x))."""
    raw = RAW_INPUTS["int16"]
    T, top = level_thresholds_int(q, raw)
    X = np.repeat(np.arange(raw.lo, raw.hi + 1, dtype=np.int64)[:, None], q.n_inputs, axis=1)
    assert np.array_equal(levels_by_int_thresholds(T, top, X), q.quantize(X.astype(F32)))


@pytest.mark.parametrize("q", _small_quantizers(), ids=["affine", "thresholds", "pow2"])
def test_integer_thresholds_int32_boundaries(q) -> None:
    raw = RAW_INPUTS["int32"]
    T, top = level_thresholds_int(q, raw)
    X = boundary_ints(q, raw)
    rng = np.random.default_rng(0)
    X = np.vstack([X, rng.integers(raw.lo, raw.hi, (200, q.n_inputs), endpoint=True)])
    assert np.array_equal(levels_by_int_thresholds(T, top, X), q.quantize(X.astype(F32)))


def test_detect_raw_input() -> None:
    assert detect_raw_input(np.array([[1, -5], [300, 2]])).name == "int16"
    assert detect_raw_input(np.array([[1, 70000]])).name == "int32"
    assert detect_raw_input(np.array([[1.5, 2]])) is None
    assert detect_raw_input(np.array([[2.0**40]])) is None


def test_c_host_integer_api_matches_numpy() -> None:
    require_tool(os.environ.get("CC", "gcc"), "gcc")
    rng = np.random.default_rng(8)
    for raw, q in zip(["int16", "int32", "int16"], _small_quantizers(), strict=True):
        net = random_network(rng, 4, [5], 3, weight_bound=2, bits=q.bits)
        net.quantizer = q
        net = with_raw_input(net, raw)
        Xi = np.vstack([boundary_ints(q, RAW_INPUTS[raw]),
                        rng.integers(-50000, 50000, (50, 4)).clip(RAW_INPUTS[raw].lo,
                                                                   RAW_INPUTS[raw].hi)])
        classes, levels = c_host.run_int(net, Xi)
        want = q.quantize(Xi.astype(F32))
        assert np.array_equal(levels, want), raw
        assert np.array_equal(classes, net.forward_q(want).class_index), raw


@pytest.mark.toolchain
@pytest.mark.slow
@pytest.mark.parametrize("target", ["cortex-m0", "avr", "rv32ec"])
def test_firmware_integer_api(target) -> None:
    need_target(target)
    net = with_raw_input(_threshold_net(bits=2), "int16")
    report = verify(net, None, n_random=5, backends=["numpy", target])
    assert report.ok and report.int_rows > 0, report.to_dict()
    assert [b.int_mismatches for b in report.backends if b.backend == target] == [0]


@pytest.mark.slow
def test_cli_train_quantile_records_raw_input_and_exports_i16(tmp_path) -> None:
    require_tool(os.environ.get("CC", "gcc"), "gcc")
    model = tmp_path / "bcw.json"
    run = [sys.executable, "-m", "bdnn"]
    p = subprocess.run(run + ["train", "bcw", "--quantizer", "quantile", "--input-bits", "2",
                              "--hidden", "2", "--time-limit", "3", "--workers", "1", "--quiet",
                              "-o", str(model)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    doc = json.loads(model.read_text())
    assert doc["version"] == 2 and doc["training"]["raw_input"] == "int16"
    assert doc["training"]["quantizer"] == "quantile"
    p = subprocess.run(run + ["export", str(model), "--c", str(tmp_path / "c")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "int bcw_predict_i16(const int16_t *x);" in (tmp_path / "c" / "bcw.h").read_text()
    p = subprocess.run(run + ["export", str(model), "--raw-input", "none", "--c",
                              str(tmp_path / "d")], capture_output=True, text=True)
    assert "_i16" not in (tmp_path / "d" / "bcw.h").read_text()
    p = subprocess.run(run + ["train", "iris", "--quantizer", "supervised", "--robust-radius",
                              "0.1", "--time-limit", "3", "-o", str(tmp_path / "r.json")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("error: ") and "uniform" in p.stderr
    assert not (tmp_path / "r.json").exists()


def test_quantize_at_and_estimator() -> None:
    """Per-feature quantization (used by the exact robustness box) agrees with counting, and
    the scikit-learn estimator fits a supervised quantizer."""
    net = _threshold_net()
    q = net.quantizer
    X = boundary_inputs(q)
    feats = np.tile(np.arange(q.n_inputs), len(X))
    assert np.array_equal(q.quantize_at(X.reshape(-1), feats),
                          _count_levels(q.thresholds, X).reshape(-1))
    from bdnn.estimator import BDNNClassifier

    rng = np.random.default_rng(3)
    Xf = rng.normal(size=(60, 2))
    y = (Xf[:, 0] > 0.3).astype(int)
    clf = BDNNClassifier(hidden=(2,), input_bits=1, quantizer="supervised", time_limit=5,
                         workers=1).fit(Xf, y)
    assert isinstance(clf.network_.quantizer, ThresholdQuantizer)
    assert abs(float(clf.network_.quantizer.thresholds[0][0]) - 0.3) < 0.3
    assert clf.score(Xf, y) >= 0.9
