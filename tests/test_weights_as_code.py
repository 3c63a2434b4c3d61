"""BDNN_WEIGHTS_AS_CODE (bdnn export / size / bench --weights-as-code, and bdnn select under
--max-cycles): NAME_predict and NAME_predict_q with the network's non-zero weights as code give
the numpy reference's classes on the host and on the emulators, take fewer instructions than
the table kernels on a sparse network, and are refused, in one line, where they change
nothing."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from cli_helpers import bdnn as cli_bdnn
from export_strategies import FLOAT_SPECIALS, float_probe_rows, net_specs, test_inputs
from firmware_fixtures.helpers import need_target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bdnn.ensemble import Ensemble, get_ensemble_kind
from bdnn.model_file import save_network as save_model
from bdnn.network import Layer, Network, random_network
from bdnn.quantizer import Quantizer
from codegen.backends import c_host
from codegen.c_export import render_c
from codegen.level_keys import boundary_inputs
from codegen.predict_table import predict_table
from codegen.switches import SMALL_CODE, WEIGHTS_AS_CODE
from codegen.targets.build import make, write_project
from codegen.targets.measure import bench, run_firmware
from codegen.weights_as_code import BASE_SPAN, code_form

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
F32 = np.float32


def bdnn(*args) -> subprocess.CompletedProcess:
    return cli_bdnn(*args, env=ENV)


def _sparse(net: Network, rng: np.random.Generator, keep: float) -> Network:
    """``net`` with each weight kept with probability ``keep`` (else 0)."""
    layers = [Layer(np.where(rng.random(L.weights.shape) < keep, L.weights, 0), L.bias,
                    L.weight_bound) for L in net.layers]
    return Network(net.quantizer, layers, net.classes, net.activation, net.output)


def _host_check(nets: list[Network], tmp_path, cflags: tuple[str, ...]) -> None:
    """Every network built into one host harness with ``cflags``: NAME_predict_q (the harness
    exits 1 when it differs from NAME_forward_debug_q's class, which equals numpy's) on random
    codes 0..255, and NAME_predict on the probe float rows, against numpy."""
    exe = c_host.build([(n, f"m{i}") for i, n in enumerate(nets)], tmp_path,
                       word_bits=[(32, 8, 16, 64)[i % 4] for i in range(len(nets))],
                       cflags=(*c_host.CFLAGS, *cflags))
    rng = np.random.default_rng(len(nets))
    for i, net in enumerate(nets):
        Q = rng.integers(0, 256, (120, net.n_inputs))
        got = c_host.parse_q(c_host.run_harness(exe, c_host.encode_q(i, Q)), net)
        np.testing.assert_array_equal(got.class_index, net.forward_q(Q).class_index)
        X = float_probe_rows(net, rng, n_special=30, n_random=80)
        classes, _ = c_host.parse_float(c_host.run_harness(exe, c_host.encode_float(i, X)))
        np.testing.assert_array_equal(classes, net.predict(X), err_msg=f"predict of m{i}")


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(specs=st.lists(net_specs(max_width=60), min_size=6, max_size=6),
       keep=st.sampled_from([0.05, 0.3, 1.0]), small_code=st.booleans())
def test_host_predict_equals_numpy(specs, keep, small_code, tmp_path_factory):
    """Random networks (1-3 hidden layers, heaviside and sign, argmax and single output, 1-8
    input bits, weights up to +-3, sparse and dense, more than BASE_SPAN inputs or units so
    several base pointers), with the predict table off so every one runs as code."""
    if c_host.find_compiler() is None:
        pytest.skip("no C compiler on PATH (install gcc or set CC)")
    rng = np.random.default_rng(specs[0].seed)
    nets = [_sparse(s.build(), rng, keep) for s in specs]
    flags = (f"-D{WEIGHTS_AS_CODE.macro}=1", "-DBDNN_PREDICT_TABLE=0",
             f"-D{SMALL_CODE.macro}={int(small_code)}")
    _host_check(nets, tmp_path_factory.mktemp("wac"), flags)


def test_host_wide_layers_and_every_quantizer_kind(tmp_path):
    """Beyond one base pointer in every layer (70 inputs, 40 and 34 units), and the quantizer
    forms: level keys, the float affine form (BDNN_FLOAT_QUANTIZER 1)."""
    if c_host.find_compiler() is None:
        pytest.skip("no C compiler on PATH (install gcc or set CC)")
    rng = np.random.default_rng(1)
    nets = [_sparse(random_network(rng, 70, [40, 34], 4, weight_bound=2, bits=b), rng, 0.2)
            for b in (1, 8)]
    assert all(len(L.bases) > 1 for L in code_form_layers(nets[0])[:2])
    for fq in (0, 1):
        d = tmp_path / f"fq{fq}"
        d.mkdir()
        _host_check(nets, d, (f"-D{WEIGHTS_AS_CODE.macro}=1", f"-DBDNN_FLOAT_QUANTIZER={fq}"))


def code_form_layers(net: Network):
    from codegen.plan import plan_model

    return code_form(plan_model(net)).layers


def _tiny() -> Network:
    """2 inputs (2 bits) -> 2 -> 2 classes, by hand: unit 0 = x0 - 2 x1 >= 1, unit 1 = x1 >= 0
    (bias 0, weight 0 on x0), scores h0 - h1 and 3 h1 - 1 (heaviside, argmax)."""
    q = Quantizer(2, np.zeros(2, F32), np.ones(2, F32))
    return Network(q, [Layer(np.array([[1, -2], [0, 1]]), np.array([-1, 0]), 2),
                       Layer(np.array([[1, -1], [0, 3]]), np.array([0, -1]), 3)],
                   classes=["a", "b"])


def test_golden_code_of_a_tiny_network():
    """The sums of a hand-made network, as the generated C writes them (weights as terms,
    thresholds as the start, a zero weight absent)."""
    net = _tiny()
    c = render_c(net, "t", weights_as_code=True)["t.c"]
    body = c[c.index("int t_code_layers("):]
    body = body[:body.index("\n}\n")]
    statements = [s.strip() for s in body.splitlines() if s.strip().startswith(("s =", "in1["))]
    assert statements == [
        "s = -1 + in0_0[0] - 2 * in0_0[1];", "in1[0] = (uint8_t)(s >= 0);",
        "s = 0 + in0_0[1];", "in1[1] = (uint8_t)(s >= 0);",
        "s = 0 + in1_0[0] - in1_0[1];", "s = -1 + 3 * in1_0[1];"]
    assert "#define BDNN_WEIGHTS_AS_CODE 1" in c
    assert "#define BDNN_WEIGHTS_AS_CODE 0" in render_c(net, "t")["t.c"]
    # the inputs read: both; a network that ignores input 0 quantizes only input 1
    W = np.array([[0, -2], [0, 1]])
    net2 = Network(net.quantizer, [Layer(W, net.layers[0].bias, 2), net.layers[1]],
                   classes=["a", "b"])
    from codegen.plan import plan_model

    assert code_form(plan_model(net2, with_predict_table=False)).inputs_read == (1,)


def test_base_pointers_split_at_the_span():
    """Input j is read through base j // BASE_SPAN at offset j % BASE_SPAN."""
    rng = np.random.default_rng(0)
    net = random_network(rng, 2 * BASE_SPAN + 3, [3], 2, bits=1)
    W = np.zeros_like(net.layers[0].weights)
    W[0, [0, BASE_SPAN - 1, BASE_SPAN, 2 * BASE_SPAN + 2]] = 1
    W[1:, 5] = -1
    net = Network(net.quantizer, [Layer(W, net.layers[0].bias, 1), net.layers[1]])
    # the inputs read (0, 5, 31, 32, 66) are positions 0..4 of the level array: one base
    assert code_form_layers(net)[0].bases == [0]
    assert "in0_0[0] + in0_0[2] + in0_0[3] + in0_0[4]" in render_c(
        net, "b", weights_as_code=True)["b.c"]
    wide = Network(net.quantizer, [Layer(np.ones_like(W), net.layers[0].bias, 1), net.layers[1]])
    assert code_form_layers(wide)[0].bases == [0, 1, 2]
    cw = render_c(wide, "w", weights_as_code=True)["w.c"]
    assert f"in0_1[{(BASE_SPAN + 1) % BASE_SPAN}]" in cw and "in0_2[2]" in cw
    assert f"in0_0[{BASE_SPAN}]" not in cw


@pytest.mark.toolchain
@pytest.mark.parametrize("target_name", ["cortex-m0", "avr"])
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(spec=net_specs(max_width=24), keep=st.sampled_from([0.1, 0.5, 1.0]))
def test_firmware_matches_numpy(target_name, spec, keep, tmp_path_factory):
    """The --weights-as-code export built and run on QEMU (M0) / simavr (AVR): classes equal
    numpy's; the runner's self-check compares NAME_predict_q and NAME_predict (float API) with
    the reference on every row."""
    target = need_target(target_name)
    net = _sparse(spec.build(), np.random.default_rng(spec.seed), keep)
    Q = test_inputs(net, 16, spec.seed % 1000)
    tmp = tmp_path_factory.mktemp("wacfw")

    def writer(n, out, name, word_bits):
        for fname, text in render_c(n, name, word_bits, weights_as_code=True).items():
            (out / fname).write_text(text, encoding="utf-8")

    project = write_project(net, target, tmp, "net", Q, writer)
    make(project, "prog.elf")
    run = run_firmware(project, net, len(Q))
    np.testing.assert_array_equal(run.classes, net.forward_q(Q).class_index)
    assert run.mismatches == 0, f"firmware self-check failed on rows {run.error_rows}"


def _sparse_digits_like(seed: int = 3) -> Network:
    """64 inputs of 4 bits -> 16 -> 10, a fifth of the weights non-zero (as QAT leaves digits):
    too many input bits for a predict table."""
    rng = np.random.default_rng(seed)
    return _sparse(random_network(rng, 64, [16], 10, weight_bound=1, bits=4), rng, 0.2)


@pytest.mark.toolchain
def test_fewer_instructions_on_cortex_m0():
    """bench --entry predict of a sparse 64-16-10 network: weights as code runs in fewer
    instructions than the table kernels (both checked against numpy by bench), and records
    the switch."""
    need_target("cortex-m0")
    net = _sparse_digits_like()
    assert predict_table(net) is None
    default = bench(net, "cortex-m0", n_vectors=3, entry="predict")
    code = bench(net, "cortex-m0", n_vectors=3, entry="predict", weights_as_code=True)
    assert default[WEIGHTS_AS_CODE.key] is False and code[WEIGHTS_AS_CODE.key] is True
    assert code["per_inference"]["max"] < default["per_inference"]["max"], (code, default)


def test_cli_export_and_refusals(tmp_path):
    """export --weights-as-code writes 1 as the default; an ensemble, a network with a predict
    table, and --weights-as-code without C output or (size) without a target are refused in
    one line, exit 2, nothing written."""
    model = tmp_path / "m.json"
    save_model(_sparse_digits_like(), model)
    proc = bdnn("export", model, "--c", tmp_path / "c", "--weights-as-code", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[WEIGHTS_AS_CODE.key] is True
    assert "#define BDNN_WEIGHTS_AS_CODE 1" in (tmp_path / "c" / "m.c").read_text()

    table = tmp_path / "t.json"
    save_model(_tiny(), table)
    ens = tmp_path / "e.json"
    rng = np.random.default_rng(0)
    kind = get_ensemble_kind("ovr")
    members = [random_network(rng, 6, [3], 2, bits=4) for _ in kind.member_classes(3)]
    save_model(Ensemble(kind, members, kind.member_classes(3), classes=["a", "b", "c"]), ens)
    cases = [(("export", table, "--c", tmp_path / "t"), "predict table"),
             (("export", ens, "--c", tmp_path / "e"), "not an ensemble"),
             (("export", model, "--onnx", tmp_path / "m.onnx"), "give --c DIR"),
             (("size", model), "give --target")]
    for args, says in cases:
        proc = bdnn(*args, "--weights-as-code")
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and says in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "t").exists() and not (tmp_path / "e").exists()
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.toolchain
def test_select_picks_weights_as_code_under_a_time_budget(tmp_path):
    """bdnn select with --max-cycles between the weights-as-code and the default build's
    count: the pick is measured (and recorded) as weights as code, and the report says how to
    export it."""
    from bdnn.model_file import load_model
    from bdnn.select.choose import measure_on_target

    need_target("cortex-m0")
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"hidden": 16, "input_bits": 4, "method": "rounded"}))
    results = tmp_path / "r.jsonl"
    common = ["select", "digits", "--grid", grid, "--time-limit", 5, "--processes", 1,
              "--seed", 0, "--quiet"]
    proc = bdnn(*common, "--results", results, "-o", tmp_path / "first.json")
    assert proc.returncode == 0, proc.stderr
    net = load_model(tmp_path / "first.json")
    assert predict_table(net) is None
    default = measure_on_target(net, "cortex-m0", "predict")
    code = measure_on_target(net, "cortex-m0", "predict", {WEIGHTS_AS_CODE.key: True})
    assert code["per_inference_max"] < default["per_inference_max"], (code, default)
    budget = (code["per_inference_max"] + default["per_inference_max"]) // 2
    out, report = tmp_path / "m.json", tmp_path / "report.md"
    proc = bdnn(*common, "--target", "cortex-m0", "--entry", "predict", "--max-cycles", budget,
                "--resume", results, "--results", tmp_path / "r2.jsonl", "-o", out, "--json",
                "--report", report)
    assert proc.returncode == 0, proc.stderr
    chosen = json.loads(proc.stdout)["chosen"]
    assert chosen[WEIGHTS_AS_CODE.key] is True and chosen[SMALL_CODE.key] is False
    assert chosen["measured"]["per_inference_max"] == code["per_inference_max"]
    assert "bdnn export --weights-as-code" in report.read_text()


def test_unfolded_keys_give_the_folded_levels_on_positive_rows():
    """On the rows positive_key_inputs admits, counting the C thresholds below the unfolded key
    gives the level of the folded key (c_keys) for every probe float: cut points and 1 ulp
    either side, every sign-bit float class (negatives, -0, -inf, negative NaNs), positive
    NaNs, denormals; and the level of Quantizer.quantize. Rows with a cut at or below 0 are
    not admitted."""
    from bdnn.quantizer import Quantizer as Q
    from codegen.level_keys import (
        c_keys,
        c_level_keys,
        positive_key_inputs,
        unfolded_c_keys,
    )

    rng = np.random.default_rng(4)
    lo = np.array([0.0, 0.5, -1.0, 1e-30, 0.0, -0.0, 3.0], F32)
    scale = np.array([1.0, 2.0, 1.0, 1e30, 0.0, 3.0, 0.25], F32)
    q = Q(4, lo, scale)
    admitted = positive_key_inputs(c_level_keys(q))
    assert admitted.any() and not admitted.all(), admitted
    nan_bits = np.array([0x7FC00000, 0x7F800001, 0xFFC00000, 0xFFFFFFFF], np.uint32)
    specials = np.concatenate([FLOAT_SPECIALS, nan_bits.view(F32)])
    thresholds = c_level_keys(q)
    for j in np.flatnonzero(admitted):
        X = np.concatenate([boundary_inputs(q)[:, j], specials,
                            rng.normal(0, 5, 200).astype(F32)]).astype(F32)
        t = thresholds[j]
        folded = (t[None, :] < c_keys(X)[:, None]).sum(1)
        unfolded = (t[None, :] < unfolded_c_keys(X)[:, None]).sum(1)
        np.testing.assert_array_equal(unfolded, folded, err_msg=f"input {j}")
        np.testing.assert_array_equal(folded, q.quantize(np.tile(X[:, None], (1, 7)))[:, j])
