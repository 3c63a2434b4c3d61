"""The columns kernel of a ternary first layer (``codegen.plan.ColumnsKernel``, ``BDNN_COLUMNS``,
the default on AVR), built here with the host compiler: every class, score and hidden bit equals
the numpy forward pass, through the quantized and the float entry points."""

from __future__ import annotations

import os

import numpy as np
import pytest
from export_strategies import assert_same, table_sizes, test_inputs
from toolchains import require_tool

from bdnn.network import Layer, Network, random_network
from bdnn.quantizer import Quantizer
from codegen.backends import c_host
from codegen.level_keys import boundary_inputs
from codegen.plan import COLUMNS_BLOCK, plan_model

COLUMNS = ("-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic", "-DBDNN_COLUMNS=1")


@pytest.fixture(scope="module")
def cc() -> str:
    return require_tool(os.environ.get("CC", "gcc"), "gcc")


def _nets() -> list[Network]:
    """Ternary first layers: 2..64 inputs, 1..16 units (partial blocks of 4), 2, 4, 7 and 8
    input bits: one 8-bit partial sum for all inputs, two to four (unrolled), six (7 bits, two
    inputs a sum: the loop over chunks), or none (8 bits: sums in the accumulator type); plus
    units whose weights are all +1 or all -1, which fill each 8-bit sum to the top."""
    rng = np.random.default_rng(31)
    nets = []
    for n_in, width, bits in ((2, 1, 4), (9, 4, 4), (30, 4, 4), (30, 13, 4), (17, 5, 4),
                              (18, 8, 4), (64, 16, 4), (21, 3, 8), (5, 9, 8), (40, 6, 2),
                              (11, 5, 7)):
        nets.append(random_network(rng, n_in, [width], 3, weight_bound=1, bits=bits))
    for n_in, bits in ((35, 4), (6, 8)):
        base = random_network(rng, n_in, [6], 2, weight_bound=1, bits=bits)
        W = base.layers[0].weights.copy()
        W[0], W[1], W[5] = 1, -1, 1
        bias = np.array([-(n_in * (2**bits - 1)), n_in * (2**bits - 1), 0, 1, -1, -3])
        nets.append(Network(base.quantizer, [Layer(W, bias, 1), base.layers[1]],
                            classes=base.classes))
    return nets


def test_the_nets_take_the_columns_kernel_in_one_and_in_many_chunks() -> None:
    """Each net's first layer has the columns form: one byte per block of 4 units and input,
    bits 2k / 2k+1 the nonzero / negative weight of unit 4b+k (read back here), and the nets
    cover the C's three forms of the sums (one input a chunk, up to 4 chunks unrolled, a loop
    over more) and partial blocks."""
    chunks, partial = set(), False
    for net in _nets():
        L = plan_model(net, 8).layers[0]
        C = L.columns
        assert L.kernel == "sums" and C is not None
        W = net.layers[0].weights
        blocks = -(-L.n_out // COLUMNS_BLOCK)
        stream = C.stream.reshape(blocks, L.n_in).astype(np.int64)
        for u in range(L.n_out):
            bits = stream[u // COLUMNS_BLOCK] >> (2 * (u % COLUMNS_BLOCK))
            assert np.array_equal((bits & 1) - 2 * ((bits >> 1) & 1), W[u])
        chunks.add((C.chunk, -(-L.n_in // C.chunk)))
        partial |= L.n_out % COLUMNS_BLOCK != 0
    forms = {"direct" if C == 1 else "unrolled" if n <= 4 else "loop" for C, n in chunks}
    assert forms == {"direct", "unrolled", "loop"} and (17, 1) in chunks and partial


@pytest.mark.parametrize("word_bits", [8, 32])
def test_columns_kernel_equals_forward_q(cc, tmp_path, word_bits) -> None:
    """predict_q / scores_q / forward_debug_q with -DBDNN_COLUMNS=1 on all-0, all-max, one-hot
    and random levels (and codes above L, clamped) equal forward_q."""
    nets = _nets()
    exe = c_host.build([(n, f"k{i}") for i, n in enumerate(nets)], tmp_path, word_bits, COLUMNS)
    for i, net in enumerate(nets):
        Q = test_inputs(net, 40, i)
        got = c_host.parse_q(c_host.run_harness(exe, c_host.encode_q(i, Q)), net)
        assert_same(net.forward_q(Q), got, f"network {i}")


def test_columns_kernel_float_entry(cc, tmp_path) -> None:
    """predict (the float inputs' levels computed by the level keys into the kernel's input)
    with -DBDNN_COLUMNS=1 equals numpy's class and levels, boundaries +-1 ulp included."""
    rng = np.random.default_rng(5)
    nets = []
    for net in _nets()[:6]:
        n = net.n_inputs
        lo = rng.normal(0, 10, n).astype(np.float32)
        scale = np.abs(rng.normal(0, 3, n)).astype(np.float32) + np.float32(0.1)
        net.quantizer = Quantizer(net.quantizer.bits, lo, scale)
        nets.append(net)
    exe = c_host.build([(n, f"f{i}") for i, n in enumerate(nets)], tmp_path, 8, COLUMNS)
    for i, net in enumerate(nets):
        X = boundary_inputs(net.quantizer)
        classes, levels = c_host.parse_float(c_host.run_harness(exe, c_host.encode_float(i, X)))
        assert np.array_equal(levels, net.quantizer.quantize(X)), i
        assert np.array_equal(classes, net.predict(X)), i


def test_columns_tables_match_size_report(cc, tmp_path) -> None:
    """With -DBDNN_COLUMNS=1 the object stores the columns form's weights and thresholds (nm -S),
    and their sum is what codegen.size_report gives AVR (target_data_bytes): n_in bytes per
    block of 4 units, thresholds in at least 8 bits; the other layers unchanged."""
    from codegen.size_report import size_report, target_data_bytes
    from codegen.targets.registry import get_target

    for i, net in enumerate(_nets()[:4]):
        work = tmp_path / str(i)
        work.mkdir()
        sizes = table_sizes(cc, work, net, "c", 8, COLUMNS)
        L = net.layers[0]
        blocks = -(-L.n_out // COLUMNS_BLOCK)
        assert sizes["c_w0"] == blocks * L.n_in
        total = size_report(net, 8)["total"]
        assert sum(sizes.values()) == target_data_bytes(total, get_target("avr"))
        assert sizes["c_w1"] == size_report(net, 8)["layers"][1]["weight_bytes"]


@pytest.mark.toolchain
def test_columns_kernel_on_simavr() -> None:
    """On the ATmega328P (simavr), where the columns kernel is the default: nets with one, two
    and six 8-bit chunks, partial blocks and the all-+1 / all--1 units give numpy's class,
    scores and hidden bits (bdnn verify: float rows with every boundary, and code rows)."""
    from firmware_fixtures.helpers import need_target

    from codegen.verify import verify

    need_target("avr")
    for i in (1, 3, 10, 11):
        net = _nets()[i]
        report = verify(net, None, n_random=30, seed=i, backends=["numpy", "avr"])
        assert [b.status for b in report.backends] == ["reference", "ok"], report.to_dict()
