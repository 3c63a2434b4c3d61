"""``bdnn bench --entry predict_i16 / predict_i32``: the integer raw-input API timed on the
targets, on random integers spanning every level; its results must be the numpy quantizer and
forward pass of the same values (an independent computation: float32(x), then the network)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from firmware_fixtures.helpers import need_target
from toolchains import require_tool

from bdnn.errors import BDNNError
from bdnn.model_file import save_network
from bdnn.network import Network, random_network
from bdnn.quantizer import Quantizer
from bdnn.raw_input import RAW_INPUTS, raw_input_of, with_raw_input
from codegen.level_keys import boundary_ints
from codegen.targets.build import Project
from codegen.targets.measure import (
    INT_ENTRIES,
    int_entry_network,
    random_int_inputs,
    run_firmware,
)
from codegen.targets.registry import get_target


def _net(scale: float = 15 / 16, lo: float = 0.0) -> Network:
    """A small net whose 6 inputs are counts 0..16 at 4 bits (like digits' pixels), one input
    with its own range so the threshold rows differ."""
    net = random_network(np.random.default_rng(5), 6, [5], 3, weight_bound=2, bits=4)
    lo_v = np.full(6, lo, np.float32)
    lo_v[2] = lo - 7
    sc = np.full(6, scale, np.float32)
    sc[2] = scale / 3
    return dataclasses.replace(net, quantizer=Quantizer(4, lo_v, sc))


def test_entries_name_every_raw_input_type() -> None:
    assert {f"predict_{r.suffix}" for r in RAW_INPUTS.values()} == set(INT_ENTRIES)


def test_random_int_inputs_span_every_level_and_beyond_both_ends() -> None:
    net = _net()
    raw = RAW_INPUTS["int16"]
    Xi = random_int_inputs(net, raw, 600, seed=3)
    assert Xi.dtype == np.int64 and Xi.shape == (600, 6)
    assert (Xi >= raw.lo).all() and (Xi <= raw.hi).all()
    levels = net.quantizer.quantize(Xi.astype(np.float32))
    L = net.quantizer.max_level
    for j in range(6):  # every level, and values below level 1 and above level L's start
        assert set(levels[:, j]) == set(range(L + 1)), j
    lo, hi = net.quantizer.value_range()
    assert (Xi.min(axis=0) < lo).all() and (Xi.max(axis=0) > hi).all()
    assert np.array_equal(Xi, random_int_inputs(net, raw, 600, seed=3))  # reproducible


def test_int_entry_refused_when_it_does_not_fit_the_model() -> None:
    wide = _net(scale=15 / 1e6)  # features span 0..1e6: beyond int16, within int32
    with pytest.raises(BDNNError, match=r"--entry predict_i16 does not fit this model.*"
                                        r"predict_i32 or predict"):
        int_entry_network(wide, RAW_INPUTS["int16"])
    assert raw_input_of(int_entry_network(wide, RAW_INPUTS["int32"])).name == "int32"
    recorded = with_raw_input(_net(), "int32")  # trained on int32 data: int16 is too narrow
    with pytest.raises(BDNNError, match="were int32 values.*use --entry predict_i32"):
        int_entry_network(recorded, RAW_INPUTS["int16"])
    assert raw_input_of(int_entry_network(_net(), RAW_INPUTS["int16"])).name == "int16"


def test_cli_int_entry_error_is_one_line(tmp_path) -> None:
    path = tmp_path / "wide.json"
    save_network(_net(scale=15 / 1e6), path)
    proc = subprocess.run(
        [sys.executable, "-m", "bdnn", "bench", str(path), "--target", "cortex-m0",
         "--entry", "predict_i16"], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --entry predict_i16 does not fit")
    assert not proc.stdout


def test_c_host_int_entry_equals_numpy_on_bench_vectors() -> None:
    """The host runner (c-host backend's NAME_predict_i16 harness) on bench's integer rows."""
    from codegen.backends import c_host

    require_tool(os.environ.get("CC", "gcc"), "gcc")
    for name in RAW_INPUTS:
        net = int_entry_network(_net(), RAW_INPUTS[name])
        Xi = random_int_inputs(net, RAW_INPUTS[name], 300, seed=1)
        classes, levels = c_host.run_int(net, Xi)
        X = Xi.astype(np.float32)
        assert np.array_equal(levels, net.quantizer.quantize(X)), name
        assert np.array_equal(classes, net.forward(X).class_index), name


@pytest.mark.toolchain
@pytest.mark.parametrize("target_name", ["cortex-m0", "avr"])
def test_bench_times_the_int_entry(target_name, tmp_path) -> None:
    from codegen.targets.measure import bench

    target = need_target(target_name)
    net = _net()
    n = 6
    work = tmp_path / "project"
    r = bench(net, target_name, n_vectors=n, seed=2, work_dir=work, entry="predict_i16")
    assert r["entry"] == "predict_i16" and r["n_inferences"] == n
    # rerun the kept firmware: its raw-input results are numpy's on the same integers
    Xi = random_int_inputs(net, RAW_INPUTS["int16"], n, seed=2)
    X = Xi.astype(np.float32)
    run = run_firmware(Project(target, work, "model"), with_raw_input(net, "int16"), n)
    assert run.mismatches == 0
    assert np.array_equal(run.float_classes, net.forward(X).class_index)
    assert np.array_equal(run.float_levels, net.quantizer.quantize(X))
    if target_name == "cortex-m0":
        q = bench(net, target_name, n_vectors=n, seed=2)
        # at least one compare per input and level on top of the network
        extra = r["per_inference"]["min"] - q["per_inference"]["max"]
        assert extra > net.n_inputs * net.quantizer.max_level
        # its size build calls NAME_predict_i16: the int16 thresholds are in its flash
        assert r["flash_bytes"] >= q["flash_bytes"] + 2 * net.quantizer.max_level * 6


@pytest.mark.toolchain
def test_cli_bench_int_entry_json(tmp_path) -> None:
    need_target("cortex-m0")
    path = tmp_path / "m.json"
    save_network(_net(), path)
    proc = subprocess.run(
        [sys.executable, "-m", "bdnn", "bench", str(path), "--target", "cortex-m0",
         "--entry", "predict_i32", "--vectors", "3", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["entry"] == "predict_i32" and r["unit"] == "instructions"
    assert r["per_inference"]["min"] > 0 and r["flash_bytes"] > 0
    assert get_target("cortex-m0").name == r["target"]


def test_int_threshold_rows_are_shared_and_expand_to_every_input() -> None:
    from codegen.level_keys import int_threshold_rows, level_thresholds_int

    for net, n_rows, indexed in [(_net(), 2, True), (_one_row_net(), 1, False),
                                 (_distinct_net(), 6, False)]:
        for raw in RAW_INPUTS.values():
            T, top = level_thresholds_int(net.quantizer, raw)
            rows, rtop, index = int_threshold_rows(net.quantizer, raw)
            assert len(rows) == n_rows and (index is not None and n_rows > 1) == indexed
            r = np.arange(6) if index is None else index
            assert np.array_equal(rows[r], T) and np.array_equal(rtop[r], top)


def _one_row_net() -> Network:
    net = _net()
    return dataclasses.replace(net, quantizer=Quantizer(4, np.zeros(6), np.full(6, 15 / 16)))


def _distinct_net() -> Network:
    net = _net()
    q = Quantizer(4, -np.arange(6.0), 15 / (16 + np.arange(6)))
    return dataclasses.replace(net, quantizer=q)


def test_c_host_int_entry_every_row_layout() -> None:
    """One row for all inputs, one per input, and an index (_net): the C's levels are numpy's."""
    from codegen.backends import c_host

    require_tool(os.environ.get("CC", "gcc"), "gcc")
    for base in (_one_row_net(), _distinct_net(), _net()):
        for name, raw in RAW_INPUTS.items():
            net = with_raw_input(base, name)
            Xi = np.vstack([boundary_ints(net.quantizer, raw),
                            random_int_inputs(net, raw, 100, seed=4)])
            classes, levels = c_host.run_int(net, Xi)
            X = Xi.astype(np.float32)
            assert np.array_equal(levels, net.quantizer.quantize(X)), name
            assert np.array_equal(classes, net.forward(X).class_index), name
