"""Float inputs end to end, and the one rule for codes above max_level.

Float rows probe every quantization boundary of every input (the exact threshold and 1 ulp on
either side), +-0, +-inf, NaN, subnormals and values far outside the training range; every
backend must give the quantized codes and the class that ``Quantizer.quantize`` and
``Network.forward`` give. Integer codes 0..255 must behave everywhere as if clamped to
max_level (checked against a plain numpy forward pass on the clamped codes).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from firmware_fixtures.helpers import need_target
from toolchains import require_tool

from bdnn.errors import BDNNError
from bdnn.network import Network, random_network
from bdnn.quantizer import Quantizer
from codegen.backends import c_host, onnx_reference, onnxruntime_backend
from codegen.level_keys import (
    boundary_inputs,
    key_rows,
    level_keys,
    levels_by_keys,
    quantizer_bytes,
)
from codegen.onnx_export import onnx_bytes
from codegen.plan import level_search
from codegen.targets.build import make, write_project, write_vectors
from codegen.targets.measure import check_against_reference, run_firmware
from codegen.targets.registry import get_target


@pytest.fixture(scope="module")
def cc() -> str:
    return require_tool(os.environ.get("CC", "gcc"), "gcc")


def _nets() -> list[Network]:
    """A binary search (4 bits) and a linear scan (1 bit) of the thresholds;
    a constant input (scale 0), a negative offset, a huge and a tiny scale."""
    rng = np.random.default_rng(21)
    nets = []
    for bits, hidden in [(4, [6]), (1, [5, 3])]:
        net = random_network(rng, 5, hidden, 3, weight_bound=2, bits=bits)
        lo = np.array([4.3, -2.5, 0.0, -1e4, 1e-3], np.float32)
        scale = np.array([4.5454, 0.0, 1e6, 3e-4, 7.25], np.float32)
        net.quantizer = Quantizer(bits, lo, scale)
        nets.append(net)
    assert [level_search(n.quantizer.max_level, 8) for n in nets] == ["binary", "linear"]
    return nets


def _shared_nets() -> list[Network]:
    """Inputs that share thresholds: all five one quantizer (one row of level keys, no index),
    and three quantizers over five inputs (rows indexed by NAME_level_row)."""
    rng = np.random.default_rng(22)
    nets = []
    for lo, scale in [([1.0] * 5, [1.5] * 5),
                      ([4.3, -2.5, 4.3, 4.3, 1e-3], [4.5454, 0.25, 4.5454, 4.5454, 7.25])]:
        net = random_network(rng, 5, [6], 3, weight_bound=2, bits=4)
        net.quantizer = Quantizer(4, np.array(lo, np.float32), np.array(scale, np.float32))
        nets.append(net)
    return nets


def test_inputs_with_the_same_thresholds_share_a_row() -> None:
    """key_rows stores each distinct row of level keys once; row index[j] is input j's row."""
    (one, two), L = _shared_nets(), 15
    keys = level_keys(one.quantizer)
    rows, index = key_rows(keys)
    assert rows.shape == (1, L) and index.tolist() == [0] * 5
    assert quantizer_bytes(one.quantizer, False) == 4 * L
    assert quantizer_bytes(one.quantizer, True) == 8
    keys = level_keys(two.quantizer)
    rows, index = key_rows(keys)
    assert rows.shape == (3, L) and index.tolist() == [0, 1, 0, 0, 2]
    assert np.array_equal(rows[index], keys)
    assert quantizer_bytes(two.quantizer, False) == 4 * 3 * L + 5
    assert quantizer_bytes(two.quantizer, True) == 8 * 3 + 5
    for net in _nets():  # no two inputs alike: one row per input, no index
        rows, index = key_rows(level_keys(net.quantizer))
        assert index is None and np.array_equal(rows, level_keys(net.quantizer))


@pytest.mark.parametrize("float_quantizer", [0, 1])
def test_c_host_shared_threshold_rows(cc, tmp_path, float_quantizer) -> None:
    """The C with shared rows (one row; an index) gives the quantizer's levels and classes,
    by level keys (0) and by float arithmetic on the row's lo and scale (1)."""
    nets = _shared_nets()
    cflags = (*c_host.CFLAGS, f"-DBDNN_FLOAT_QUANTIZER={float_quantizer}")
    exe = c_host.build([(n, f"s{i}") for i, n in enumerate(nets)], tmp_path, [32, 8], cflags)
    for i, net in enumerate(nets):
        X = _float_rows(net)
        classes, quantized = c_host.parse_float(c_host.run_harness(exe, c_host.encode_float(i, X)))
        assert np.array_equal(quantized, net.quantizer.quantize(X)), i
        assert np.array_equal(classes, net.predict(X)), i


def _run_on_target(net, X, Q, target_name, tmp_path):
    """Build the firmware with the float rows ``X`` and the codes ``Q``, run it on the emulator
    and check its records (float levels and classes against numpy, the integer path against
    the numpy forward pass of ``Q``); returns the run."""
    project = write_project(net, get_target(target_name), tmp_path, "model")
    write_vectors(project, net, Q, X)
    make(project, "prog.elf")
    run = run_firmware(project, net, len(Q))
    assert run.mismatches == 0 and not run.error_rows, run.error_rows[:5]
    check_against_reference(run, net, Q, target_name)
    return run


@pytest.mark.toolchain
@pytest.mark.parametrize("target_name", ["cortex-m0", "cortex-m4", "avr"])
def test_firmware_shared_threshold_rows(target_name, tmp_path) -> None:
    """On the emulator (AVR: the index and keys read from PROGMEM): every probe row."""
    need_target(target_name)
    net = _shared_nets()[1]
    X = _float_rows(net)
    Q = net.quantizer.quantize(X)
    _run_on_target(net, X, Q, target_name, tmp_path)


def _float_rows(net: Network) -> np.ndarray:
    rng = np.random.default_rng(4)
    wide = (rng.normal(0, 1, (40, net.n_inputs)) * 10.0 ** rng.integers(-6, 8, (40, 1)))
    return np.vstack([boundary_inputs(net.quantizer), wide.astype(np.float32)])


def _clamped_forward(net: Network, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class and scores of codes clamped to max_level, by plain numpy (not Network.forward_q)."""
    h = np.minimum(Q.astype(np.int64), net.quantizer.max_level)
    for i, layer in enumerate(net.layers):
        x = h if i == 0 or net.activation == "heaviside" else 2 * h - 1
        a = x @ layer.weights.T + layer.bias
        h = (a >= 0).astype(np.int64)
    if net.output == "single":
        return (a[:, 0] >= 0).astype(np.int64), a
    return np.argmax(a, axis=1), a


def _codes(net: Network, n: int = 300) -> np.ndarray:
    return np.random.default_rng(6).integers(0, 256, (n, net.n_inputs)).astype(np.uint8)


@pytest.mark.parametrize("net", _nets(), ids=["binary", "linear"])
def test_boundary_rows_hit_every_threshold(net: Network) -> None:
    """The probe rows contain every threshold and its two neighbours, and counting thresholds
    in numpy gives the quantizer's codes on them."""
    q = net.quantizer
    X = _float_rows(net)
    keys = level_keys(q)
    for j in range(q.n_inputs):
        col = X[:, j]
        for t in np.unique(keys[j][keys[j] != 0x7FFFFFFF]):
            for d in (-1, 0, 1):
                want = np.array([t + d], np.int64)
                bits = np.where(want < 0, (-want) | 0x80000000, want).astype(np.uint32)
                assert (col.view(np.uint32) == bits[0]).any(), (j, t, d)
    assert np.isnan(X).any() and np.isinf(X).any()
    assert np.array_equal(levels_by_keys(keys, X), q.quantize(X))


@pytest.mark.parametrize("net", _nets(), ids=["binary", "linear"])
def test_numpy_clamps_codes_above_max_level(net: Network) -> None:
    Q = _codes(net)
    assert (Q > net.quantizer.max_level).mean() > 0.5
    classes, scores = _clamped_forward(net, Q)
    got = net.forward_q(Q)
    assert np.array_equal(got.class_index, classes) and np.array_equal(got.scores, scores)
    with pytest.raises(BDNNError, match=">= 0"):
        net.forward_q(-Q.astype(np.int64) - 1)


@pytest.mark.parametrize("net", _nets(), ids=["binary", "linear"])
def test_onnx_float_input_and_clamp(net: Network) -> None:
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator

    X = _float_rows(net)
    want = net.forward(X)
    Q = _codes(net)
    classes, scores = _clamped_forward(net, Q)
    with np.errstate(over="ignore", invalid="ignore"):  # inf * 0 and overflow are intended
        ref_out = ReferenceEvaluator(onnx_bytes(net, False, float_input=True)).run(
            ["class", "scores"], {"x": X}
        )
    assert np.array_equal(ref_out[0], want.class_index)
    assert np.array_equal(ref_out[1], want.scores)
    session = ort.InferenceSession(onnx_bytes(net, False, float_input=True),
                                   providers=["CPUExecutionProvider"])
    got_class, got_scores = session.run(["class", "scores"], {"x": X})
    assert np.array_equal(got_class, want.class_index)
    assert np.array_equal(got_scores, want.scores)
    for backend in (onnxruntime_backend, onnx_reference):
        got = backend.run(net, Q)
        assert np.array_equal(got.class_index, classes), backend.name
        assert np.array_equal(got.scores, scores), backend.name


@pytest.mark.parametrize("float_quantizer", [0, 1])
def test_c_host_float_input_and_clamp(cc, tmp_path, float_quantizer) -> None:
    nets = _nets()
    cflags = (*c_host.CFLAGS, f"-DBDNN_FLOAT_QUANTIZER={float_quantizer}")
    exe = c_host.build([(n, f"m{i}") for i, n in enumerate(nets)], tmp_path, [32, 8], cflags)
    for i, net in enumerate(nets):
        X = _float_rows(net)
        classes, quantized = c_host.parse_float(c_host.run_harness(exe, c_host.encode_float(i, X)))
        assert np.array_equal(quantized, net.quantizer.quantize(X)), i
        assert np.array_equal(classes, net.predict(X)), i
        Q = _codes(net)
        got = c_host.parse_q(c_host.run_harness(exe, c_host.encode_q(i, Q)), net)
        want_class, want_scores = _clamped_forward(net, Q)
        assert np.array_equal(got.class_index, want_class), i
        assert np.array_equal(got.scores, want_scores), i


@pytest.mark.toolchain
@pytest.mark.parametrize("target_name", ["cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7",
                                         "avr"])
@pytest.mark.parametrize("which", [0, 1], ids=["binary", "linear"])
def test_firmware_float_input_and_clamp(target_name, which, tmp_path) -> None:
    """On the emulator: NAME_quantize and NAME_predict of every probe row (thresholds on M0, M3
    and AVR, float arithmetic on M4F and M7) and the codes 0..255 of the integer API."""
    need_target(target_name)
    net = _nets()[which]
    X = _float_rows(net)
    Q = _codes(net, len(X))
    run = _run_on_target(net, X, Q, target_name, tmp_path)
    classes, scores = _clamped_forward(net, Q)
    assert np.array_equal(run.classes, classes) and np.array_equal(run.scores, scores)


@pytest.mark.toolchain
@pytest.mark.parametrize("target_name", ["cortex-m0", "cortex-m3", "avr"])
def test_threshold_quantizer_calls_no_float_library(target_name, tmp_path) -> None:
    """Without an FPU the model object with the float API calls no soft-float or libm routine
    (it has no undefined symbol but memcpy/memset); the float-arithmetic quantizer would."""
    import subprocess

    from codegen.c_export import export_c

    target = need_target(target_name)
    fam = target.family
    export_c(_nets()[0], tmp_path, "m", fam.word_bits)
    for fq in (0, 1):
        obj = tmp_path / f"m{fq}.o"
        subprocess.run([fam.cc, *target.cflags, "-std=c99", "-Os", "-Wall", "-Wextra", "-Werror",
                        "-pedantic", f"-DBDNN_FLOAT_QUANTIZER={fq}", "-c", "m.c", "-o", obj.name],
                       cwd=tmp_path, check=True, capture_output=True)
        out = subprocess.run([fam.nm_tool, "-u", obj.name], cwd=tmp_path, check=True,
                             capture_output=True, text=True).stdout
        undefined = {line.split()[-1] for line in out.splitlines() if line.strip()}
        if fq == 0:
            assert undefined <= {"memcpy", "memset"}, undefined
        else:  # the control: float arithmetic pulls in the soft-float library
            assert any(s.startswith(("__aeabi_f", "__subsf3", "__mulsf3", "__addsf3"))
                       for s in undefined), undefined


@pytest.mark.toolchain
def test_bench_times_the_float_entry() -> None:
    """bench --entry predict times NAME_predict: the quantizer's work on top of predict_q."""
    from codegen.targets.measure import bench

    need_target("cortex-m0")
    net = _nets()[0]
    q = bench(net, "cortex-m0", n_vectors=3)
    f = bench(net, "cortex-m0", n_vectors=3, entry="predict")
    assert q["entry"] == "predict_q" and f["entry"] == "predict"
    # at least one compare per input and level bit on top of the network
    extra = f["per_inference"]["min"] - q["per_inference"]["max"]
    assert extra > net.n_inputs * net.quantizer.bits
    # the size build calls NAME_predict: the thresholds (4 L bytes per input) are in its flash
    thresholds = 4 * net.quantizer.max_level * net.n_inputs
    assert f["model_flash_bytes"] >= q["model_flash_bytes"] + thresholds
    with pytest.raises(BDNNError, match="--entry"):
        bench(net, "cortex-m0", entry="predict_float")


def test_verify_checks_float_rows_on_every_float_backend(monkeypatch) -> None:
    """bdnn verify runs the probe rows through each backend's float API; a backend whose
    quantizer is off by one level on one boundary is reported."""
    from types import SimpleNamespace

    from codegen import verify as verify_mod

    net = _nets()[0]
    names = ["numpy", "onnxruntime", "onnx-reference", "c-host"]
    report = verify_mod.verify(net, n_random=20, backends=names)
    assert report.ok and report.float_rows == len(boundary_inputs(net.quantizer))
    for b in report.backends[1:]:
        assert b.status == "skipped" or (b.float_rows == report.float_rows
                                         and b.float_mismatches == 0), b

    def off_by_one(net, X):  # the reference, one level too high on one threshold
        levels = net.quantizer.quantize(X)
        levels[3, 0] = min(levels[3, 0] + 1, net.quantizer.max_level)
        return net.predict(X), levels

    fake = SimpleNamespace(name="fake", description="", available=lambda: (True, ""),
                           run=lambda n, Q: n.forward_q(Q), run_float=off_by_one)
    real = verify_mod.get_backends
    monkeypatch.setattr(verify_mod, "get_backends",
                        lambda names: [fake if n == "fake" else real([n])[0] for n in names])
    bad = verify_mod.verify(net, n_random=20, backends=["numpy", "fake"])
    assert not bad.ok and bad.backends[1].float_mismatches == 1
    assert bad.backends[1].first_mismatch["source"] == "float row 3"


def test_counting_thresholds_equals_the_quantizer_on_extreme_quantizers() -> None:
    """Random quantizers with lo and scale from subnormal to near FLT_MAX, both signs, 1-8 bits:
    counting the exact thresholds (the C algorithm) gives Quantizer.quantize on random float32
    bit patterns and on every probe row."""
    rng = np.random.default_rng(7)
    vals = np.array([0, 1e-45, 1e-38, 1e-20, 1e-3, 0.5, 1, 3, 1e3, 1e20, 1e38, 3.4e38],
                    np.float32)
    for _ in range(60):
        n = 6
        lo = rng.choice(vals, n) * rng.choice(np.array([-1, 1], np.float32), n)
        q = Quantizer(int(rng.integers(1, 9)), lo, rng.choice(vals, n))
        keys = rng.integers(-0x7F800000, 0x7F800001, size=(500, n))
        bits = np.where(keys < 0, (-keys) | 0x80000000, keys).astype(np.uint32)
        X = np.vstack([boundary_inputs(q), bits.view(np.float32)])
        assert np.array_equal(levels_by_keys(level_keys(q), X), q.quantize(X))


def _fused_nets() -> list[Network]:
    """20 inputs (groups of 4 and inputs past the first word of 8 bits) for the fused
    NAME_predict: the subset-sum kernel (4 bits) and the popcount kernel (1 bit, 32-bit words),
    each with one row per input, one row for all and indexed rows; lo and scale include a
    constant input and a threshold at +-0."""
    rng = np.random.default_rng(31)
    lo = np.concatenate([[4.3, -2.5, 0.0, -1e4, 1e-3, 7.0, -2.0**-126, 1.0, -3.0],
                         rng.normal(0, 5, 11)]).astype(np.float32)
    scale = np.concatenate([[4.5454, 0.0, 1e6, 3e-4, 7.25, 0.5, 2.0**125, 2.0, 1.75],
                            rng.uniform(0.1, 3, 11)]).astype(np.float32)
    lo_scale = [
        (lo, scale),
        (np.full(20, 1.0, np.float32), np.full(20, 1.5, np.float32)),
        (np.resize(np.array([4.3, -2.5, 4.3, 1e-3], np.float32), 20),
         np.resize(np.array([4.5454, 0.25, 4.5454, 7.25], np.float32), 20)),
    ]
    nets = []
    for bits, hidden in [(4, [5]), (1, [12])]:
        for lo_, scale_ in lo_scale:
            net = random_network(rng, 20, hidden, 3, weight_bound=2, bits=bits)
            net.quantizer = Quantizer(bits, lo_, scale_)
            nets.append(net)
    return nets


FUSED_WORD_BITS = [32, 8, 32, 32, 32, 32]  # the popcount kernel needs 32-bit words here


def test_fused_nets_cover_both_kernels_and_every_row_kind() -> None:
    from codegen.plan import plan_model

    nets = _fused_nets()
    kernels = [plan_model(n, w).layers[0].kernel for n, w in zip(nets, FUSED_WORD_BITS,
                                                                 strict=True)]
    assert kernels == ["sums"] * 3 + ["popcount"] * 3
    kinds = []
    for n in nets:
        rows, index = key_rows(level_keys(n.quantizer))
        kinds.append("per input" if index is None else "one" if len(rows) == 1 else "indexed")
    assert kinds == ["per input", "one", "indexed"] * 2
    # the +-0 threshold: -0 and +0 both reach level 1 there, the float below -0 does not
    q = nets[0].quantizer
    X = np.zeros((3, 20), np.float32)
    X[:, 6] = [-0.0, 0.0, -1e-45]
    assert q.quantize(X)[:, 6].tolist() == [1, 1, 0]


@pytest.mark.parametrize("fused", [0, 1])
@pytest.mark.parametrize("float_quantizer", [0, 1])
def test_c_host_fused_float_input(cc, tmp_path, float_quantizer, fused) -> None:
    """NAME_predict with the levels computed inside the first layer's input kernel (fused, the
    default) and through NAME_quantize + NAME_predict_q: both equal numpy's class on
    every probe row, by level keys and by float arithmetic, with 32- and 8-bit words (the
    SIMD-free kernels)."""
    nets = _fused_nets()
    cflags = (*c_host.CFLAGS, f"-DBDNN_FLOAT_QUANTIZER={float_quantizer}",
              f"-DBDNN_FUSED_INPUT={fused}")
    exe = c_host.build([(n, f"u{i}") for i, n in enumerate(nets)], tmp_path, FUSED_WORD_BITS,
                       cflags)
    for i, net in enumerate(nets):
        X = _float_rows(net)
        classes, quantized = c_host.parse_float(c_host.run_harness(exe, c_host.encode_float(i, X)))
        assert np.array_equal(quantized, net.quantizer.quantize(X)), i
        assert np.array_equal(classes, net.predict(X)), i


def test_c_keys_order_floats_and_put_nan_lowest() -> None:
    """The C's key (codegen.level_keys.c_keys) orders float32 values like floats (-0 just below
    +0) and puts every NaN below -inf: checked on sorted random bit patterns."""
    from codegen.level_keys import c_keys

    rng = np.random.default_rng(8)
    bits = np.concatenate([rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32),
                           np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7F800001,
                                     0x7FFFFFFF, 0xFF800001, 0xFFFFFFFF, 1, 0x80000001],
                                    np.uint32)])
    x = bits.view(np.float32)
    k = c_keys(x)
    nan = np.isnan(x)
    assert k[nan].max() < k[x == -np.inf].min()
    finite = x[~nan]
    order = np.lexsort((~np.signbit(finite), finite))  # by value, -0 before +0
    fk = k[~nan][order]
    assert (np.diff(fk) >= 0).all()
    sign = np.signbit(finite[order])
    # equal floats (only -0 and +0) differ in key by the sign alone
    same = np.diff(finite[order]) == 0
    assert (np.diff(fk)[same] <= 1).all() and (np.diff(fk)[~same] > 0).all()
    assert sign.any()


def test_c_level_keys_count_like_the_quantizer() -> None:
    """Counting the C's thresholds below the key gives Quantizer.quantize on every probe row
    and on random bit patterns (NaNs, infinities and subnormals included)."""
    from codegen.level_keys import c_level_keys, levels_by_c_keys

    rng = np.random.default_rng(9)
    for net in [*_nets(), *_fused_nets()]:
        q = net.quantizer
        raw = rng.integers(0, 2**32, (3000, q.n_inputs), dtype=np.uint64).astype(np.uint32)
        for X in (_float_rows(net), raw.view(np.float32)):
            assert np.array_equal(levels_by_c_keys(c_level_keys(q), X), q.quantize(X))


@pytest.mark.toolchain
@pytest.mark.parametrize("target_name", ["cortex-m0", "cortex-m4", "avr", "rv32imc"])
@pytest.mark.parametrize("which", [0, 3], ids=["sums", "popcount"])
def test_firmware_fused_float_input(target_name, which, tmp_path) -> None:
    """On the emulator, every probe row and random bit patterns (NaNs, infinities, subnormals):
    the fused NAME_predict (M0, RISC-V: level keys; M4F: VCVT/USAT and VCVT.S16/PKHBT/USAT16
    float path; AVR: xq loop with 16-bit halves) and NAME_quantize equal numpy."""
    _probe_on_target(_fused_nets()[which], target_name, 10, tmp_path)


def _probe_on_target(net, target_name: str, seed: int, tmp_path) -> None:
    """``net`` on ``target_name``: its probe rows and 48 random float bit patterns (seed
    ``seed``) against numpy."""
    need_target(target_name)
    bits = np.random.default_rng(seed).integers(0, 2**32, (48, net.n_inputs), dtype=np.uint64)
    X = np.vstack([_float_rows(net), bits.astype(np.uint32).view(np.float32)])
    _run_on_target(net, X, net.quantizer.quantize(X), target_name, tmp_path)


@pytest.mark.toolchain
@pytest.mark.parametrize("target_name", ["cortex-m4", "cortex-m7"])
@pytest.mark.parametrize("which", [1, 2], ids=["one-row", "indexed-rows"])
def test_firmware_fused_float_rows_on_dsp_cores(target_name, which, tmp_path) -> None:
    """The M4F/M7 float path loads 4 floats per VLDM and their lo/scale by VLDM (a row per
    input, test_firmware_fused_float_input), from one register pair (one row for every input)
    or per input by the row index: each equals numpy on the probe rows and random bit
    patterns."""
    _probe_on_target(_fused_nets()[which], target_name, 11, tmp_path)
