"""The subset-sum table built 4 entries to a word (``BDNN_SUM_WORDS``, the default on
little-endian cores but AVR, where the lanes kernel is off): with the host compiler, every
class, score and hidden bit equals the numpy forward pass, through the quantized and the float
entry points, with the word form and with the one-entry-at-a-time form it replaces. (The
firmware tests run the word form on Cortex-M0/M3 and RISC-V with BDNN_LANES 0.)"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from export_strategies import assert_same, test_inputs
from toolchains import require_tool

from bdnn.network import random_network
from bdnn.quantizer import Quantizer
from codegen.backends import c_host
from codegen.c_export import render_c
from codegen.level_keys import boundary_inputs
from codegen.plan import plan_model

BASE = ("-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic", "-DBDNN_COLUMNS=0",
        "-DBDNN_LANES=0")


@pytest.fixture(scope="module")
def cc() -> str:
    return require_tool(os.environ.get("CC", "gcc"), "gcc")


def _nets():
    """Subset-sum first layers with 8-bit entries: groups with a tail of 0-3 inputs, 2- to
    6-bit inputs (4 x 63 = 252: the largest entries that fit a byte, where a carry between
    the bytes of a word would show), more than 8 groups (the table's second base), ternary
    and wider weights, two hidden layers; random lo / scale for the float entry."""
    rng = np.random.default_rng(41)
    nets = []
    for n_in, hidden, bits, wb in ((8, [6], 4, 1), (9, [5], 6, 1), (10, [7], 2, 1),
                                   (11, [4], 5, 2), (45, [9], 6, 1), (70, [12, 5], 4, 1)):
        net = random_network(rng, n_in, hidden, 3, weight_bound=wb, bits=bits)
        lo = rng.normal(0, 10, n_in).astype(np.float32)
        scale = (np.abs(rng.normal(0, 3, n_in)) + 0.1).astype(np.float32)
        net.quantizer = Quantizer(bits, lo, scale)
        nets.append(net)
    return nets


def test_the_nets_take_the_word_built_table() -> None:
    plans = [plan_model(net).layers[0] for net in _nets()]
    assert all(L.kernel == "sums" and L.sum_bits == 8 for L in plans)
    assert {L.n_in % 4 for L in plans} == {0, 1, 2, 3} and max(L.n_groups for L in plans) > 8


@pytest.mark.parametrize("words", [1, 0])
def test_sum_words_switch_selects_the_form(cc, tmp_path, words) -> None:
    (tmp_path / "k.c").write_text(render_c(_nets()[0], "k")["k.c"])
    (tmp_path / "k.h").write_text(render_c(_nets()[0], "k")["k.h"])
    macros = subprocess.run([cc, *BASE, f"-DBDNN_SUM_WORDS={words}", "-dM", "-E", "k.c"],
                            cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert ("#define K_SUM_WORDS 1" in macros) == bool(words)


@pytest.mark.parametrize("words", [1, 0])
def test_sum_words_equals_forward(cc, tmp_path, words) -> None:
    """forward_debug_q on all-0, all-max, one-hot, random levels and codes above L (clamped),
    and predict / quantize on every quantization boundary +-1 ulp, as numpy."""
    nets = _nets()
    exe = c_host.build([(n, f"s{i}") for i, n in enumerate(nets)], tmp_path, 32,
                       (*BASE, f"-DBDNN_SUM_WORDS={words}"))
    for i, net in enumerate(nets):
        Q = test_inputs(net, 40, i)
        got = c_host.parse_q(c_host.run_harness(exe, c_host.encode_q(i, Q)), net)
        assert_same(net.forward_q(Q), got, f"network {i}")
        X = boundary_inputs(net.quantizer)
        classes, levels = c_host.parse_float(c_host.run_harness(exe, c_host.encode_float(i, X)))
        assert np.array_equal(levels, net.quantizer.quantize(X)), i
        assert np.array_equal(classes, net.predict(X)), i
