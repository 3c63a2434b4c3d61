"""Measurements on the emulated targets: instruction counts from the QEMU trace (exact and
repeatable), AVR cycles from Timer1, flash/RAM from size -A."""

from __future__ import annotations

import numpy as np
import pytest
from firmware_fixtures.helpers import need_target

from bdnn.network import random_network
from codegen.plan import plan_model
from codegen.targets.measure import bench, count_instructions

pytestmark = pytest.mark.toolchain


def small_net():
    return random_network(np.random.default_rng(21), 6, [8], 3)


def large_net():
    return random_network(np.random.default_rng(22), 24, [40, 16], 3)


def test_count_instructions_on_a_handmade_trace(tmp_path):
    """Counting between markers, skipping the measuring function, on a known trace."""
    ranges = {
        "bdnn_mark_begin": (0x100, 0x102),
        "bdnn_mark_end": (0x102, 0x104),
        "timed_predict.constprop.0": (0x200, 0x240),
        "platform_cycles": (0x300, 0x304),
        "model_predict_q": (0x400, 0x480),
    }
    pcs = [0x210, 0x100, 0x204, 0x400, 0x402, 0x300, 0x404, 0x406, 0x102, 0x404,
           0x100, 0x400, 0x102]
    lines = [f"Trace 0: 0x7f00 [00800400/{pc:08x}/00000110/ff000201] f\n" for pc in pcs]
    log = tmp_path / "trace.log"
    log.write_text("".join(lines))
    assert count_instructions(log, ranges) == [4, 1]


def test_cortex_m_instruction_count_is_repeatable_and_grows_with_the_model():
    need_target("cortex-m3")
    a = bench(small_net(), "cortex-m3", n_vectors=3)
    b = bench(small_net(), "cortex-m3", n_vectors=3)
    big = bench(large_net(), "cortex-m3", n_vectors=3)
    assert a["unit"] == "instructions"
    assert a["per_inference"] == b["per_inference"]  # the trace count is exact
    # at least one instruction per weight word and layer, far below one per weight bit * 100
    n_words = sum(la.n_out * la.n_planes * la.n_words * la.input_planes
                  for la in plan_model(small_net(), 32).layers)
    assert n_words < a["per_inference"]["min"] < 100 * small_net().n_weights()
    assert big["per_inference"]["min"] > 2 * a["per_inference"]["max"]
    assert big["model_flash_bytes"] > a["model_flash_bytes"]
    assert a["flash_bytes"] < 4096  # no printf in the size build


def test_avr_cycles_and_sizes():
    need_target("avr")
    net = small_net()
    r = bench(net, "avr", n_vectors=4)
    assert r["unit"] == "cycles"
    plan = plan_model(net, 8)
    weights = sum(plan.weight_bytes(la) + plan.constant_bytes(la) for la in plan.layers)
    assert r["model_flash_bytes"] >= weights  # the packed weights are in flash (PROGMEM)
    assert r["model_ram_bytes"] == 0  # and not copied to RAM
    assert r["flash_bytes"] <= r["flash_capacity"] and r["ram_bytes"] < 256
    assert 200 < r["per_inference"]["min"] <= r["per_inference"]["max"] < 200_000
    assert 0 < r["stack_bytes"] < 1024
