"""BDNN_SMALL_CODE (bdnn export / size / bench --small-code, and bdnn select under --max-flash):
the same results as the numpy reference on the emulators, less flash, and a select pick that
fits the flash budget only with small code."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import bdnn as cli_bdnn
from export_strategies import net_specs, test_inputs
from firmware_fixtures.helpers import need_target
from hypothesis import HealthCheck, given, settings

from bdnn.network import random_network
from codegen.c_export import render_c
from codegen.switches import SMALL_CODE, WEIGHTS_AS_CODE
from codegen.targets.build import make, write_project
from codegen.targets.measure import measured_size, run_firmware

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def bdnn(*args) -> subprocess.CompletedProcess:
    return cli_bdnn(*args, env=ENV)


def _small_code_writer(net, out: Path, name: str, word_bits: int) -> None:
    """The project's model as ``bdnn export --small-code`` writes it."""
    for fname, text in render_c(net, name, word_bits, small_code=True).items():
        (out / fname).write_text(text, encoding="utf-8")


def _unrolled_net():
    """30 one-bit inputs -> 4 -> 3: the popcount kernel's unrolled units, 8 32-bit popcounts
    (wider inputs take the subset-sum table, which has no popcount to put out of line)."""
    return random_network(np.random.default_rng(5), 30, [4], 3, bits=1)


@pytest.mark.toolchain
@pytest.mark.parametrize("target_name", ["cortex-m0", "avr"])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(spec=net_specs(max_width=40))
def test_small_code_firmware_matches_numpy(target_name, spec, tmp_path_factory):
    """Built from the --small-code export and run on QEMU (M0) / simavr (AVR): hidden bits,
    scores and classes are the numpy forward pass's; the runner's self-check covers the
    other entry points and the float API."""
    target = need_target(target_name)
    net = spec.build()
    Q = test_inputs(net, 24, spec.seed % 1000)
    tmp = tmp_path_factory.mktemp("small")
    project = write_project(net, target, tmp, "net", Q, _small_code_writer)
    assert "#define BDNN_SMALL_CODE 1" in (tmp / "net.c").read_text()
    make(project, "prog.elf")
    run = run_firmware(project, net, len(Q))
    ref = net.forward_q(Q)
    np.testing.assert_array_equal(run.classes, ref.class_index)
    np.testing.assert_array_equal(run.scores, ref.scores)
    np.testing.assert_array_equal(run.hidden, np.concatenate(ref.hidden_bits, axis=1))
    assert run.mismatches == 0, f"firmware self-check failed on rows {run.error_rows}"


@pytest.mark.toolchain
@pytest.mark.parametrize("target_name", ["cortex-m0", "avr"])
def test_small_code_takes_less_flash_for_an_unrolled_net(target_name):
    need_target(target_name)
    net = _unrolled_net()
    default = measured_size(net, target_name, run=False)
    small = measured_size(net, target_name, run=False, small_code=True)
    assert default[SMALL_CODE.key] is False and small[SMALL_CODE.key] is True
    assert small["flash_bytes"] < default["flash_bytes"], (small, default)


def test_export_small_code_differs_only_by_the_define(tmp_path):
    net = _unrolled_net()
    model = tmp_path / "wine.json"
    from bdnn.model_file import save_network

    save_network(net, model)
    texts = {}
    for flag in ("", SMALL_CODE.flag):
        out = tmp_path / (flag.strip("-") or "default")
        proc = bdnn("export", model, "--c", out, "--json", *([flag] if flag else []))
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)[SMALL_CODE.key] is bool(flag)
        texts[flag] = {p.name: p.read_text() for p in sorted(out.iterdir())}
    assert texts[""]["wine.h"] == texts[SMALL_CODE.flag]["wine.h"]
    diff = [line for line in difflib.unified_diff(
        texts[""]["wine.c"].splitlines(), texts[SMALL_CODE.flag]["wine.c"].splitlines(), n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert diff == ["-#define BDNN_SMALL_CODE 0", "+#define BDNN_SMALL_CODE 1"]


def test_small_code_flag_errors(tmp_path):
    net = _unrolled_net()
    model = tmp_path / "m.json"
    from bdnn.model_file import save_network

    save_network(net, model)
    proc = bdnn("size", model, "--small-code")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and "--target" in lines[0], proc.stderr
    proc = bdnn("size", model, "--small-code", "--target", "nonesuch")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and "nonesuch" in lines[0], proc.stderr


@pytest.mark.toolchain
@pytest.mark.slow
def test_select_picks_small_code_when_only_that_fits(tmp_path):
    """One trained candidate (wine 13-2-3, 2-bit) measured first with and without small code;
    under a flash budget between the two figures select (resuming the same training) picks it
    with small_code, in the JSON, the report and the summary; a cycles budget below its
    small-code count refuses it (the variant actually chosen is checked)."""
    from bdnn.model_file import load_model
    from bdnn.select.choose import measure_on_target

    need_target("cortex-m0")
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"hidden": 2, "input_bits": 2}))
    results = tmp_path / "r.jsonl"
    common = ["select", "wine", "--grid", grid, "--time-limit", 3, "--processes", 1, "--seed", 0,
              "--quiet"]
    proc = bdnn(*common, "--results", results, "-o", tmp_path / "first.json")
    assert proc.returncode == 0, proc.stderr
    net = load_model(tmp_path / "first.json")
    default = measure_on_target(net, "cortex-m0", "predict")
    small = measure_on_target(net, "cortex-m0", "predict", {SMALL_CODE.key: True})
    assert small["flash_bytes"] < default["flash_bytes"], (small, default)
    budget = (small["flash_bytes"] + default["flash_bytes"]) // 2
    out, report = tmp_path / "m.json", tmp_path / "report.md"
    target = ["--target", "cortex-m0", "--entry", "predict", "--max-flash", budget,
              "--resume", results, "--results", tmp_path / "r2.jsonl"]
    proc = bdnn(*common, *target, "-o", out, "--json", "--report", report)
    assert proc.returncode == 0, proc.stderr
    chosen = json.loads(proc.stdout)["chosen"]
    assert chosen[SMALL_CODE.key] is True
    assert chosen["measured"]["flash_bytes"] == small["flash_bytes"]
    assert chosen["measured"]["per_inference_max"] == small["per_inference_max"]
    assert "bdnn export --small-code" in report.read_text()
    proc = bdnn(*common, *target, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "C switches      it meets the budgets only with BDNN_SMALL_CODE 1" in proc.stdout
    assert "bdnn export --small-code" in proc.stdout
    # the default build meets the time budget, the small-code build (the only one of the
    # table kernels that fits the flash) does not: weights as code is tried next, and picked
    # when a build of it meets both; else nothing does
    if small["per_inference_max"] > default["per_inference_max"]:
        cycles = default["per_inference_max"]
        code = [measure_on_target(net, "cortex-m0", "predict", {WEIGHTS_AS_CODE.key: True})]
        if code[0]["flash_bytes"] > budget:  # select tries small code too only then
            code.append(measure_on_target(net, "cortex-m0", "predict",
                                          {WEIGHTS_AS_CODE.key: True, SMALL_CODE.key: True}))
        meets = [m for m in code if m["flash_bytes"] <= budget
                 and m["per_inference_max"] <= cycles]
        proc = bdnn(*common, *target, "--max-cycles", cycles, "-o", out, "--json")
        if meets:
            assert proc.returncode == 0, proc.stderr
            chosen = json.loads(proc.stdout)["chosen"]
            assert chosen[WEIGHTS_AS_CODE.key] is True
            assert chosen["measured"]["flash_bytes"] == meets[0]["flash_bytes"]
        else:
            lines = proc.stderr.strip().splitlines()
            assert proc.returncode != 0 and "no trained model meets the budget" in lines[-1], \
                proc.stderr


@pytest.mark.toolchain
@pytest.mark.parametrize("small_code", [False, True])
def test_a_large_network_keeps_one_copy_of_its_layers_on_avr(small_code, tmp_path):
    """A 25-25-33-9-1 network (1,756 weights, 1-bit inputs, weights in [-2, 2]) that a
    property test found: with its layers inlined into both entry points its code overflowed the
    ATmega328P's 32 KB; with one copy (more than 1,024 weights, or small code) it builds and
    runs, equal to numpy."""
    from export_strategies import NetSpec

    target = need_target("avr")
    net = NetSpec(seed=0, n_inputs=25, hidden=(25, 33, 9), n_classes=2, bounds=(2, 2, 2, 1),
                  activation="heaviside", output="single", bits=1, word_bits=8,
                  extreme=False).build()
    assert net.n_weights() == 1756
    Q = test_inputs(net, 12, 0)
    project = write_project(net, target, tmp_path, "net", Q,
                            _small_code_writer if small_code else None)
    make(project, "prog.elf")
    run = run_firmware(project, net, len(Q))
    np.testing.assert_array_equal(run.classes, net.forward_q(Q).class_index)
    assert run.mismatches == 0
