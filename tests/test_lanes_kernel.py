"""The lanes kernel of a hidden first layer (``codegen.plan.LanesKernel``, ``BDNN_LANES``, the
default on Cortex-M0/M3 and RV32IMC): its lane arithmetic checked by brute force in Python, and
the C built here with the host compiler, unrolled and with ``BDNN_SMALL_CODE`` (a loop): every
class, score and hidden bit equals the numpy forward pass, through the quantized and the float
entry points. (The firmware tests run it on the emulated cores.)"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from export_strategies import assert_same, table_sizes, test_inputs
from toolchains import require_tool

from bdnn.network import Layer, Network, random_network
from bdnn.quantizer import Quantizer
from codegen import plan
from codegen.backends import c_host
from codegen.c_export import render_c
from codegen.level_keys import boundary_inputs, quantizer_forms_bytes
from codegen.plan import LANES_PASS, lanes_kernel, plan_model

LANES = ("-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic", "-DBDNN_COLUMNS=0",
         "-DBDNN_LANES=1")


@pytest.fixture(scope="module")
def cc() -> str:
    return require_tool(os.environ.get("CC", "gcc"), "gcc")


@pytest.fixture(autouse=True)
def any_data_growth(monkeypatch):
    """The test nets take the lanes form whatever it adds to their data (the budget rule has a
    test of its own below)."""
    monkeypatch.setattr(plan, "LANES_MAX_DATA_GROWTH", float("inf"))


def test_lane_arithmetic_by_brute_force() -> None:
    """On random layers (weights up to +-3, 1- to 8-bit inputs, thresholds beyond what the sums
    reach, all-zero units) and every input row of tiny ones, the top bit of each final lane is
    exactly ``W x >= t``: the lanes never borrow from each other modulo the word."""
    rng = np.random.default_rng(7)
    word_bits, lanes_seen = set(), set()
    for trial in range(300):
        n_in, n_out = int(rng.integers(1, 25)), int(rng.integers(1, 13))
        B, L = int(rng.integers(1, 4)), int(rng.choice([1, 3, 15, 255]))
        W = rng.integers(-B, B + 1, (n_out, n_in))
        W[rng.random((n_out, n_in)) < 0.3] = 0
        if trial % 7 == 0:
            W[0] = 0
        t = rng.integers(-B * n_in * L - 3, B * n_in * L + 4, n_out)
        K = lanes_kernel(W, t, L)
        assert K is not None
        word_bits.add(K.word_bits)
        lanes_seen.add(K.lanes)
        X = rng.integers(0, L + 1, (30, n_in))
        X[0], X[1] = 0, L
        if n_in <= 3 and L <= 3:  # every row
            X = np.array(np.meshgrid(*[range(L + 1)] * n_in)).reshape(n_in, -1).T
        got = _bits(K, X, n_out)
        assert np.array_equal(got, (X @ W.T >= t).astype(int)), trial
    assert word_bits == {8, 16, 32} and max(lanes_seen) >= 4


def _bits(K, X: np.ndarray, n_out: int) -> np.ndarray:
    """The units' bits as the kernel computes them on the rows ``X``, in Python integers
    (independent of numpy's int64 and of the C)."""
    mod = 1 << K.word_bits
    out = np.zeros((len(X), n_out), dtype=int)
    for r, x in enumerate(X):
        acc = [(int(K.starts[k]) + sum(int(v) * int(c) for v, c in zip(x, K.columns[k],
                                                                       strict=True))) % mod
               for k in range(K.n_words)]
        for u in range(n_out):
            out[r, u] = acc[u // K.lanes] >> (K.lane_bits * (u % K.lanes) + K.lane_bits - 1) & 1
    return out


def _nets() -> list[Network]:
    """Hidden first layers of 1 to 20 units: 8-, 16- and 32-bit lane words, one pass and
    several (more than LANES_PASS words), a partial last word, weights up to +-3, 1- to 8-bit
    inputs, two hidden layers, more than one word of hidden bits at 8-bit words; plus units
    always on, always off and at the edges of their reach."""
    rng = np.random.default_rng(23)
    nets = []
    for n_in, hidden, bits, wb in ((2, [1], 4, 1), (13, [2], 2, 1), (9, [4], 4, 1),
                                   (12, [7], 1, 1), (17, [5, 3], 4, 2), (64, [16], 4, 1),
                                   (21, [3], 8, 1), (5, [9], 8, 3), (40, [20], 2, 1),
                                   (11, [12], 7, 2)):
        nets.append(random_network(rng, n_in, hidden, 3, weight_bound=wb, bits=bits))
    base = random_network(rng, 6, [6], 2, weight_bound=1, bits=4)
    W = base.layers[0].weights.copy()
    W[0], W[1], W[5] = 1, -1, 1
    top = 6 * 15
    bias = np.array([-top, top, 0, 1, top + 1, -top - 1])  # the edges, and past them both ways
    nets.append(Network(base.quantizer, [Layer(W, bias, 1), base.layers[1]],
                        classes=base.classes))
    return nets


def test_the_nets_take_the_lanes_kernel_in_every_form() -> None:
    plans = [plan_model(net).layers[0] for net in _nets()]
    assert all(L.kernel == "sums" and L.lanes is not None for L in plans)
    assert {L.lanes.word_bits for L in plans} == {8, 16, 32}
    assert max(L.lanes.n_words for L in plans) > LANES_PASS
    assert any(L.n_out % L.lanes.lanes for L in plans)


@pytest.mark.parametrize("small", [0, 1])
@pytest.mark.parametrize("word_bits", [8, 32])
def test_lanes_kernel_equals_forward_q(cc, tmp_path, word_bits, small) -> None:
    """predict_q / scores_q / forward_debug_q with -DBDNN_LANES=1, unrolled and as a loop, on
    all-0, all-max, one-hot and random levels (and codes above L, clamped) equal forward_q."""
    nets = _nets()
    exe = c_host.build([(n, f"k{i}") for i, n in enumerate(nets)], tmp_path, word_bits,
                       (*LANES, f"-DBDNN_SMALL_CODE={small}"))
    for i, net in enumerate(nets):
        Q = test_inputs(net, 40, i)
        got = c_host.parse_q(c_host.run_harness(exe, c_host.encode_q(i, Q)), net)
        assert_same(net.forward_q(Q), got, f"network {i}")


@pytest.mark.parametrize("small", [0, 1])
def test_lanes_kernel_float_entry(cc, tmp_path, small) -> None:
    """predict (each float input's level computed in the kernel's first pass and kept for the
    others) equals numpy's class and levels, every quantization boundary +-1 ulp included."""
    rng = np.random.default_rng(5)
    nets = []
    for net in _nets():
        n = net.n_inputs
        lo = rng.normal(0, 10, n).astype(np.float32)
        scale = np.abs(rng.normal(0, 3, n)).astype(np.float32) + np.float32(0.1)
        net.quantizer = Quantizer(net.quantizer.bits, lo, scale)
        nets.append(net)
    exe = c_host.build([(n, f"f{i}") for i, n in enumerate(nets)], tmp_path, 32,
                       (*LANES, f"-DBDNN_SMALL_CODE={small}"))
    for i, net in enumerate(nets):
        X = boundary_inputs(net.quantizer)
        classes, levels = c_host.parse_float(c_host.run_harness(exe, c_host.encode_float(i, X)))
        assert np.array_equal(levels, net.quantizer.quantize(X)), i
        assert np.array_equal(classes, net.predict(X)), i


@pytest.mark.parametrize("lanes", [1, 0])
def test_lanes_switch_selects_the_form(cc, tmp_path, lanes) -> None:
    files = render_c(_nets()[1], "k")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    macros = subprocess.run([cc, *LANES[:-1], f"-DBDNN_LANES={lanes}", "-dM", "-E", "k.c"],
                            cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert ("#define K_LANES 1" in macros) == bool(lanes)
    assert ("#define K_SUM_WORDS 1" in macros) == (not lanes)


def test_lanes_tables_match_size_report(cc, tmp_path) -> None:
    """With -DBDNN_LANES=1 the object stores the lanes form's columns and start words (nm -S),
    and their sum is what codegen.size_report gives Cortex-M0 and RV32IMC (target_data_bytes):
    one word per input and lane word, one start word per lane word; the other layers unchanged."""
    from codegen.size_report import size_report, target_data_bytes
    from codegen.targets.registry import get_target

    for i, net in enumerate(_nets()[:6]):
        work = tmp_path / str(i)
        work.mkdir()
        sizes = table_sizes(cc, work, net, "c", 32, LANES)
        K = plan_model(net).layers[0].lanes
        assert sizes["c_w0"] == K.n_words * net.n_inputs * K.word_bits // 8
        assert sizes["c_threshold0"] == K.n_words * K.word_bits // 8
        total = size_report(net, 32)["total"]
        for target in ("cortex-m0", "rv32imc"):
            assert sum(sizes.values()) == target_data_bytes(total, get_target(target))
        assert sizes["c_w1"] == size_report(net, 32)["layers"][1]["weight_bytes"]


def test_lanes_form_only_within_the_data_budget(monkeypatch) -> None:
    """The lanes form is kept exactly when its tables add at most LANES_MAX_DATA_GROWTH to the
    model's data (plain weights and thresholds plus the float path's quantizer tables), counted
    here from the size report: a 5-9 layer behind 8-bit level keys keeps it, a 64-16 layer
    does not."""
    from codegen.size_report import size_report

    monkeypatch.setattr(plan, "LANES_MAX_DATA_GROWTH", 1 / 8)
    kept = set()
    for i, net in enumerate(_nets()):
        monkeypatch.setattr(plan, "LANES_MAX_DATA_GROWTH", float("inf"))
        total = size_report(net, 32)["total"]
        quantizer = next(iter(quantizer_forms_bytes(net.quantizer).values()))
        extra = (total["lanes_weight_bytes"] + total["lanes_threshold_bytes"]
                 - total["weight_bytes"] - total["threshold_bytes"])
        monkeypatch.setattr(plan, "LANES_MAX_DATA_GROWTH", 1 / 8)
        has = plan_model(net).layers[0].lanes is not None
        assert has == (extra * 8 <= total["weight_bytes"] + total["threshold_bytes"] + quantizer), i
        if has:
            kept.add(i)
    assert {0, 7} <= kept and 5 not in kept


def _lanes_ensemble():
    from bdnn.ensemble import OVO, Ensemble

    rng = np.random.default_rng(12)
    member_classes = OVO.member_classes(3)
    members = [random_network(rng, 9, [4], 2, 1, bits=2) for _ in member_classes]
    return Ensemble(OVO, members, member_classes, classes=["a", "b", "c"])


def test_ensemble_members_take_the_lanes_kernel(cc) -> None:
    """An ovo ensemble whose members' first layers have the lanes form (one C function for the
    vote) gives numpy's votes, scores and levels on the host, quantized and float input."""
    from codegen.verify import verify

    ens = _lanes_ensemble()
    assert all(plan_model(m, with_predict_table=False).layers[0].lanes is not None
               for m in ens.members)
    report = verify(ens, None, n_random=60, seed=2, backends=["numpy", "c-host"])
    assert [b.status for b in report.backends] == ["reference", "ok"], report.to_dict()


@pytest.mark.toolchain
@pytest.mark.parametrize("target", ["cortex-m0", "rv32imc"])
def test_lanes_kernel_on_emulated_cores(target) -> None:
    """On Cortex-M0 and RV32IMC (QEMU), where the lanes kernel is the default: one pass and
    several, 8-, 16- and 32-bit words, and the ovo ensemble give numpy's class, scores and
    hidden bits (bdnn verify: float rows with every boundary, and code rows)."""
    from firmware_fixtures.helpers import need_target

    from codegen.verify import verify

    need_target(target)
    for i, model in enumerate([_nets()[k] for k in (0, 1, 4, 9)] + [_lanes_ensemble()]):
        report = verify(model, None, n_random=30, seed=i, backends=["numpy", target])
        assert [b.status for b in report.backends] == ["reference", "ok"], report.to_dict()
