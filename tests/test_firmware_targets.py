"""The exported model built for every microcontroller target and run on its emulator
(QEMU for Cortex-M, simavr for AVR): bit-exact against ``Network.forward_q``."""

from __future__ import annotations

import numpy as np
import pytest
from firmware_fixtures.helpers import (
    ALL_TARGETS,
    heaviside_single_net,
    input_rows,
    need_target,
    sign_argmax_net,
)
from firmware_fixtures.standin_model import write_standin_model

from bdnn.network import Layer, Network, random_network
from bdnn.quantizer import Quantizer
from codegen.c_export import render_c
from codegen.level_keys import boundary_inputs
from codegen.plan import plan_model
from codegen.targets.build import add_config, make, write_project, write_vectors
from codegen.targets.measure import check_against_reference, run_firmware

pytestmark = pytest.mark.toolchain

NETS = {"sign-argmax": sign_argmax_net, "heaviside-single": heaviside_single_net}


def build_and_run(net, target, tmp_path, Q, model_writer=None):
    project = write_project(net, target, tmp_path, "net", Q, model_writer)
    make(project, "prog.elf")
    return run_firmware(project, net, len(Q))


def assert_bit_exact(run, net, Q):
    ref = net.forward_q(Q)
    np.testing.assert_array_equal(run.hidden, np.concatenate(ref.hidden_bits, axis=1))
    np.testing.assert_array_equal(run.scores, ref.scores)
    np.testing.assert_array_equal(run.classes, ref.class_index)
    # the firmware's own check also covers NAME_scores_q, NAME_predict_q and the float API
    assert run.mismatches == 0, f"firmware self-check failed on rows {run.error_rows}"


@pytest.mark.parametrize("net_name", list(NETS))
@pytest.mark.parametrize("target_name", ALL_TARGETS)
def test_generated_model_runs_bit_exact(target_name, net_name, tmp_path):
    target = need_target(target_name)
    net = NETS[net_name]()
    Q = input_rows(net, 120, seed=len(target_name))
    run = build_and_run(net, target, tmp_path, Q)
    assert_bit_exact(run, net, Q)
    assert run.stack_bytes is not None and 8 <= run.stack_bytes < 2048
    if not target.family.counts_from_trace:
        # the firmware times itself (AVR: Timer1 at the CPU clock): every inference takes
        # cycles, about the same for each input
        assert len(run.cycles) == len(Q) and min(run.cycles) > 100
        assert max(run.cycles) < 2 * min(run.cycles)


@pytest.mark.parametrize("target_name", ["cortex-m0", "avr"])
def test_plain_stand_in_model_runs_bit_exact(target_name, tmp_path):
    """The firmware plumbing with a plain C model written independently of codegen.c_export."""
    target = need_target(target_name)
    net = sign_argmax_net()
    Q = input_rows(net, 40, seed=5)
    run = build_and_run(net, target, tmp_path, Q, write_standin_model)
    assert_bit_exact(run, net, Q)


def test_runner_reports_a_wrong_reference(tmp_path):
    """The firmware's own check must notice when its embedded expectations are wrong."""
    target = need_target("cortex-m3")
    net = sign_argmax_net()
    Q = input_rows(net, 10, seed=6)
    project = write_project(net, target, tmp_path, "net", Q, write_standin_model)
    vectors = (tmp_path / "vectors.h").read_text()
    start = vectors.index("vec_class[")
    brace = vectors.index("{", start) + 1
    first = vectors.index(",", brace)
    wrong = (int(vectors[brace:first]) + 1) % 3
    (tmp_path / "vectors.h").write_text(f"{vectors[:brace]}\n    {wrong}{vectors[first:]}")
    make(project, "prog.elf")
    run = run_firmware(project, net, len(Q))
    assert run.mismatches == 1 and run.error_rows == [0]


def dsp_ternary_nets() -> dict[str, Network]:
    """Layers of ternary weights for the Cortex-M4/M7 DSP kernel (codegen.plan.DspTernary):
    every group tail (n_in % 4 = 1, 2, 3, 0), 2- to 7-bit inputs, 40 hidden units (two output
    words, read back as the next layer's input), three hidden layers of 33, 36 and 5 units, the
    sign activation (scores 2 acc + offset), a weight bound of 2 after a ternary first layer
    (the plane kernel there), every weight -1 at 7 bits (the largest constants: int16), and
    8-bit inputs (no DSP form). Quantizers with a row per input, one row and indexed rows."""
    rng = np.random.default_rng(21)
    nets = {
        "tail1-4bit": random_network(rng, 9, [8], 2, weight_bound=1, bits=4),
        "tail2-7bit": random_network(rng, 30, [5], 3, weight_bound=1, bits=7),
        "tail3-2bit": random_network(rng, 7, [6], 3, weight_bound=[1, 2], bits=2),
        "40-hidden": random_network(rng, 12, [40], 3, weight_bound=1, bits=3),
        "deep": random_network(rng, 13, [33, 36, 5], 3, weight_bound=1, bits=3),
        "5-bit": random_network(rng, 11, [3], 4, weight_bound=1, bits=5),
        "sign": random_network(rng, 16, [6, 5], 3, weight_bound=1, activation="sign", bits=4),
        "8-bit": random_network(rng, 10, [6], 2, weight_bound=1, bits=8),
    }
    neg = random_network(rng, 30, [6], 2, weight_bound=1, bits=7)
    bias = rng.integers(800, 3000, 6)  # acc = -(sum of 30 levels <= 127): units on about half
    nets["all-negative"] = Network(neg.quantizer, [Layer(-np.ones((6, 30), np.int64), bias, 1),
                                                   neg.layers[1]], classes=neg.classes)
    # 4-bit, every weight -1: thresholds 480 - bias, 210..300, stored as a base + int8
    based = random_network(rng, 30, [6], 2, weight_bound=1, bits=4)
    nets["based"] = Network(based.quantizer, [
        Layer(-np.ones((6, 30), np.int64), rng.integers(180, 271, 6), 1), based.layers[1]],
        classes=based.classes)
    for k, net in enumerate(nets.values()):
        n = net.n_inputs
        lo = rng.normal(0, 3, n).astype(np.float32)
        scale = rng.uniform(0.5, 4, n).astype(np.float32)
        if k % 3 == 1:  # one row for every input
            lo, scale = np.full(n, lo[0], np.float32), np.full(n, scale[0], np.float32)
        elif k % 3 == 2:  # two rows, alternating
            lo, scale = np.resize(lo[:2], n), np.resize(scale[:2], n)
        net.quantizer = Quantizer(net.quantizer.bits, lo, scale)
    return nets


def test_dsp_ternary_nets_cover_the_kernel() -> None:
    for name, net in dsp_ternary_nets().items():
        layers = plan_model(net).layers
        assert layers[0].kernel == "sums", name
        dsp = [layer.dsp_ternary is not None for layer in layers]
        assert dsp == ([False] * 2 if name == "8-bit" else [True, False] if name == "tail3-2bit"
                       else [True] * len(layers)), name
        c = render_c(net, "m")["m.c"]
        assert ("m_ternary_mask[81]" in c) == (name != "8-bit"), name
    net = dsp_ternary_nets()["all-negative"]
    dsp = plan_model(net).layers[0].dsp_ternary
    codes = dsp.stream.reshape(6, 8)  # 8 groups of 4 of the 30 inputs per unit, all -1 (d = 2)
    assert (codes[:, :7] == 2 * (1 + 3 + 9 + 27)).all() and (codes[:, 7] == 2 * (1 + 3)).all()
    assert dsp.const_bits == 16 and dsp.base is None  # a span of 2,200: no base
    assert np.array_equal(dsp.thresholds, -net.layers[0].bias + 128 * 30)
    net = dsp_ternary_nets()["based"]
    dsp = plan_model(net).layers[0].dsp_ternary
    want = -net.layers[0].bias + 16 * 30  # above int8, within 255 of each other
    assert want.max() > 127 and dsp.const_bits == 8 and dsp.base == want.min() + 128
    assert np.array_equal(dsp.thresholds + dsp.base, want) and dsp.constant_bytes == 6 + 2
    bases = [(layer.is_output, layer.dsp_ternary.base is not None)
             for n in dsp_ternary_nets().values() for layer in plan_model(n).layers
             if layer.dsp_ternary]
    assert (True, True) not in bases  # score offsets never take a base


@pytest.mark.toolchain
def test_dsp_form_bytes_equal_what_the_c_stores(tmp_path) -> None:
    """bdnn size's DSP-form weight and threshold bytes (a base included) equal nm -S of the
    tables arm-none-eabi-gcc compiles for the Cortex-M4."""
    from export_strategies import table_sizes

    from codegen.size_report import size_report

    need_target("cortex-m4")
    flags = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os",
             "-std=c99")
    for name, net in dsp_ternary_nets().items():
        (tmp_path / name).mkdir()
        sizes = table_sizes("arm-none-eabi-gcc", tmp_path / name, net, "m", 32, flags)
        total = size_report(net)["total"]
        assert sum(sizes.values()) == total["dsp_weight_bytes"] + total["dsp_threshold_bytes"], (
            name, sizes)
        for layer in plan_model(net).layers:
            based = layer.dsp_ternary is not None and layer.dsp_ternary.base is not None
            assert (f"m_threshold{layer.index}_base" in sizes) == based, (name, layer.index)
    assert "m_threshold0_base" in sizes  # the last net, "based"


@pytest.mark.parametrize("net_name", list(dsp_ternary_nets()))
@pytest.mark.parametrize("target_name", ["cortex-m4", "cortex-m7"])
def test_dsp_ternary_layers_run_bit_exact(target_name, net_name, tmp_path):
    """NAME_forward_debug_q / NAME_predict_q on codes 0..255 (clamped to L by the kernel's
    input words) and NAME_quantize / NAME_predict on float rows (the VFP levels straight into
    the input words): every hidden bit, score and class as numpy."""
    target = need_target(target_name)
    net = dsp_ternary_nets()[net_name]
    rng = np.random.default_rng(len(net_name))
    Q = np.vstack([input_rows(net, 60, seed=3),
                   rng.integers(0, 256, (40, net.n_inputs))]).astype(np.uint8)
    X = boundary_inputs(net.quantizer)
    X = np.vstack([X, rng.normal(0, 5, (len(Q) - len(X) % len(Q), net.n_inputs))])[:len(Q)]
    project = write_project(net, target, tmp_path, "net")
    write_vectors(project, net, Q, X.astype(np.float32))
    make(project, "prog.elf")
    run = run_firmware(project, net, len(Q))
    assert run.mismatches == 0 and not run.error_rows, run.error_rows[:5]
    check_against_reference(run, net, Q, target_name)


def wide_sums_nets() -> dict[str, Network]:
    """First layers of more than 32 inputs on the subset-sum kernel, whose table then spans
    more than 128 entries and is read through a second (third) base pointer: 70 inputs at 4
    bits (uint8_t entries, 18 groups: bases T, T1, T2) and 40 at 8 bits (uint16_t entries,
    10 groups)."""
    rng = np.random.default_rng(34)
    return {"70x4bit": random_network(rng, 70, [12], 3, weight_bound=1, bits=4),
            "40x8bit": random_network(rng, 40, [10], 2, weight_bound=1, bits=8)}


def test_wide_sums_nets_cover_the_table_bases() -> None:
    got = {name: (plan_model(net).layers[0].kernel, plan_model(net).layers[0].n_groups,
                  plan_model(net).layers[0].sum_bits) for name, net in wide_sums_nets().items()}
    assert got == {"70x4bit": ("sums", 18, 8), "40x8bit": ("sums", 10, 16)}
    text = render_c(wide_sums_nets()["70x4bit"], "net")["net.c"]
    assert "T2[" in text and "T + 256" in text


@pytest.mark.parametrize("net_name", list(wide_sums_nets()))
@pytest.mark.parametrize("target_name,lanes", [("cortex-m0", 0), ("cortex-m0", 1),
                                               ("cortex-m3", 0), ("rv32imc", 0),
                                               ("rv32imc", 1), ("avr", None)])
def test_wide_sums_layers_run_bit_exact(target_name, lanes, net_name, tmp_path, monkeypatch):
    """Every hidden bit, score and class as numpy on codes 0..255 (clamped by the table's
    builder) and the float API, on the cores that read the subset-sum table with BDNN_LANES 0
    (with 1, their default, the lanes kernel: 6 and 5 lane words in two passes, also checked
    here; AVR: with
    BDNN_COLUMNS 0 it would; by default its columns kernel, also checked here)."""
    import codegen.plan

    target = need_target(target_name)
    net = wide_sums_nets()[net_name]
    # the lanes form whatever it adds to the model's data (these layers are beyond its budget)
    monkeypatch.setattr(codegen.plan, "LANES_MAX_DATA_GROWTH", float("inf"))
    rng = np.random.default_rng(len(net_name))
    Q = np.vstack([input_rows(net, 30, seed=4),
                   rng.integers(0, 256, (20, net.n_inputs))]).astype(np.uint8)
    project = write_project(net, target, tmp_path, "net", Q)
    if lanes is not None:
        add_config(project, [f"EXTRA_CFLAGS += -DBDNN_LANES={lanes}"])
    make(project, "prog.elf")
    run = run_firmware(project, net, len(Q))
    assert_bit_exact(run, net, Q)
