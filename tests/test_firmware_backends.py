"""The microcontroller verify backends (one per registered target), through the backend
registry and `bdnn verify`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from firmware_fixtures.helpers import heaviside_single_net, need_target, predict_table_net

from bdnn.model_file import save_network
from codegen.backends import all_backends, backend_names
from codegen.predict_table import predict_table
from codegen.targets import run_rows
from codegen.targets.registry import target_names
from codegen.verify import verify

pytestmark = pytest.mark.toolchain


def test_backend_names():
    """The host backends, then one per target of the table (a new target needs no edit here)."""
    assert backend_names() == ["numpy", "onnxruntime", "onnx-reference", "c-host",
                               "c-host-code", *target_names()]
    assert {"cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "avr", "rv32imc",
            "rv32ec"} <= set(target_names())


@pytest.mark.parametrize("name", ["cortex-m0", "avr", "rv32ec"])
def test_backend_runs_many_rows_in_chunks(name, monkeypatch):
    need_target(name)
    backend = all_backends()[name]
    monkeypatch.setattr(run_rows, "MAX_ROWS_PER_RUN", 70)  # force three firmware runs
    net = heaviside_single_net()
    rng = np.random.default_rng(8)
    Q = rng.integers(0, 256, size=(150, net.n_inputs)).astype(np.uint8)
    Q = np.vstack([Q, Q[:30]])  # duplicates run once, come back in place
    got = backend.run(net, Q)
    ref = net.forward_q(Q)
    np.testing.assert_array_equal(got.class_index, ref.class_index)
    np.testing.assert_array_equal(got.scores, ref.scores)
    for g, r in zip(got.hidden_bits, ref.hidden_bits, strict=True):
        np.testing.assert_array_equal(g, r)


def test_bench_cli_json(tmp_path):
    need_target("cortex-m0")
    model = tmp_path / "m.json"
    save_network(heaviside_single_net(), model)
    proc = subprocess.run([sys.executable, "-m", "bdnn", "bench", str(model), "--target",
                           "cortex-m0", "--vectors", "3", "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["target"] == "cortex-m0" and report["unit"] == "instructions"
    assert report["n_inferences"] == 3 and report["per_inference"]["min"] > 50
    # time at the default board clock (SAMD21, 48 MHz), 1 instruction per cycle
    assert report["clock_hz"] == 48e6 and "48 MHz" in report["clock_board"]
    assert report["time_basis"] == "estimate at 1 instruction per cycle"
    sec = report["seconds_per_inference"]
    for k in ("min", "max", "mean"):
        assert sec[k] == pytest.approx(report["per_inference"][k] / 48e6, rel=1e-12)
    assert report["flash_bytes"] < report["flash_capacity"] == 256 * 1024


def test_bench_time_at_a_given_clock(tmp_path):
    """AVR cycles at --clock-hz give the time exactly: cycles / clock, in the text output."""
    need_target("avr")
    model = tmp_path / "m.json"
    save_network(heaviside_single_net(), model)
    argv = [sys.executable, "-m", "bdnn", "bench", str(model), "--target", "avr", "--vectors",
            "2", "--clock-hz", "8e6"]
    proc = subprocess.run([*argv, "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["time_basis"] == "cycles" and report["clock_hz"] == 8e6
    mean_us = 1e6 * report["per_inference"]["mean"] / 8e6
    text = subprocess.run(argv, capture_output=True, text=True).stdout
    assert f"time         {mean_us:.2f} us per inference at 8 MHz (given by --clock-hz; " \
           "cycles)" in text


@pytest.mark.parametrize("kind", ["quantile", "uniform", "pow2"])
def test_predict_table_model_agrees_on_every_backend(kind):
    """A network that reads 3 of 5 inputs (NAME_predict and NAME_predict_q read its predict
    table): bdnn verify runs it on every backend, the host C and every emulated target
    included, and all equal the numpy reference bit for bit: codes 0..255 (the targets'
    NAME_predict_q checked by their own runner, the host's by the harness) and the float probe
    rows through NAME_predict, with level keys, float arithmetic (uniform on the FPU cores) and
    the pow2 integer form."""
    for name in target_names():
        need_target(name)
    net, X = predict_table_net(kind)
    table = predict_table(net)
    assert table is not None and len(set(table.classes.tolist())) == 3
    report = verify(net, X, n_random=40, seed=2)
    assert [b.backend for b in report.backends] == backend_names()
    assert report.ok, [(b.backend, b.status, b.reason, b.first_mismatch) for b in report.backends]
    assert {b.status for b in report.backends[1:]} == {"ok"}
    assert report.float_rows > len(X) and all(b.float_rows == report.float_rows
                                              for b in report.backends[1:])
