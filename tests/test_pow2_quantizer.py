"""The ``pow2`` quantizer: ``level = clamp(floor(x * 2**shift + 0.5) - offset, 0, L)``.

Every level is compared with an exact computation on the float's value (``fractions.Fraction``,
plain Python integers), independent of the cut points the class derives and of the C kernel.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from toolchains import require_tool

from bdnn.errors import BDNNError, ModelFileError
from bdnn.model_file import dumps_model, load_network, network_from_dict, network_to_dict
from bdnn.network import Network, random_network
from bdnn.quantizer import QUANTIZER_KINDS, Pow2Quantizer, Quantizer, fit_quantizer
from codegen.level_keys import level_keys, levels_by_keys
from codegen.verify import verify

F32 = np.float32


def exact_level(x: float, shift: int, offset: int, L: int) -> int:
    """The definition, in exact arithmetic on the float's value."""
    if math.isnan(x):
        return 0
    if math.isinf(x):
        return L if x > 0 else 0
    v = math.floor(Fraction(x) * Fraction(2) ** shift + Fraction(1, 2)) - offset
    return min(max(v, 0), L)


def exact_levels(q: Pow2Quantizer, X: np.ndarray) -> np.ndarray:
    return np.array([[exact_level(float(X[r, j]), int(q.shift[j]), int(q.offset[j]),
                                  q.max_level) for j in range(X.shape[1])]
                     for r in range(X.shape[0])], np.int64)


def hard_floats(q: Pow2Quantizer, rng: np.random.Generator, n_random: int) -> np.ndarray:
    """float32 rows [N, n_inputs]: random bit patterns, every cut point and its neighbours
    (+-1 ulp), +-0, +-inf, NaNs with payloads and sign, subnormals, huge values."""
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.17549435e-38,
                        -1.17549435e-38, 1e-40, -1e-40, 3.4028235e38, -3.4028235e38, 1e30,
                        -1e30, 0.5, -0.5, 1.0, -1.0], F32)
    nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF],
                    np.uint32).view(F32)
    cols = []
    for j, t in enumerate(q.thresholds):
        near = np.concatenate([t, np.nextafter(t, F32(np.inf)), np.nextafter(t, F32(-np.inf))])
        # the C's cases by r = (149 - shift) - biased exponent: r = 0/1, the 16-bit path's
        # edges 9/10 (AVR, int8 offsets), 24/25; smallest, middle and largest mantissas
        edges = [(sign << 31) | (e << 23) | mant
                 for r in (0, 1, 9, 10, 24, 25) if 1 <= (e := 149 - int(q.shift[j]) - r) <= 254
                 for mant in (0, 0x400000, 0x7FFFFF) for sign in (0, 1)]
        near = np.concatenate([near, np.array(edges, np.uint32).view(F32)])
        bits = rng.integers(0, 2**32, n_random, dtype=np.uint64).astype(np.uint32).view(F32)
        scaled = (rng.normal(0, 1, n_random) * float(np.abs(t).max() + 1) * 3).astype(F32)
        cols.append(np.concatenate([special, nans, near.astype(F32), bits, scaled]))
    n = max(len(c) for c in cols)
    X = np.stack([np.resize(c, n) for c in cols], axis=1)
    return X.astype(F32)


def random_pow2(rng: np.random.Generator, n: int, bits: int,
                small_offsets: bool = False) -> Pow2Quantizer:
    """Random shifts (-100..100, the ends included) and offsets: int16, or int8 (``small_offsets``,
    the C then stores them as int8_t)."""
    shift = rng.integers(-100, 101, n)
    shift[: min(n, 4)] = [0, -100, 100, -3][: min(n, 4)]
    top = 128 if small_offsets else 32768
    offset = rng.integers(-top, max(top - (1 << bits), 1 - top), n)
    offset[: min(n, 3)] = [0, -7, 12][: min(n, 3)]
    return Pow2Quantizer(bits, shift, offset)


def pow2_net(seed: int = 0, bits: int = 3, n_inputs: int = 6,
             small_offsets: bool = False) -> Network:
    rng = np.random.default_rng(seed)
    net = random_network(rng, n_inputs, [5], 3, weight_bound=2, bits=bits)
    net.quantizer = random_pow2(rng, n_inputs, bits, small_offsets)
    return net


# -- the definition --------------------------------------------------------------------------

@pytest.mark.parametrize("bits", [1, 4, 8])
def test_levels_equal_exact_arithmetic(bits) -> None:
    rng = np.random.default_rng(bits)
    q = random_pow2(rng, 8, bits)
    X = hard_floats(q, rng, 300)
    want = exact_levels(q, X)
    assert np.array_equal(q.quantize(X), want)
    assert np.array_equal(levels_by_keys(level_keys(q), X), want)  # the level-key C path
    feats = np.tile(np.arange(q.n_inputs), len(X))
    assert np.array_equal(q.quantize_at(X.reshape(-1), feats), want.reshape(-1))


def test_cut_points_are_exact_float32() -> None:
    rng = np.random.default_rng(5)
    for q in [random_pow2(rng, 20, 8), Pow2Quantizer(8, [-100, 100], [-32768, 32767 - 255])]:
        for j, t in enumerate(q.thresholds):
            s, o = int(q.shift[j]), int(q.offset[j])
            want = [Fraction(2 * (o + k) - 1, 2) * Fraction(2) ** -s for k in range(1, 256)]
            assert [Fraction(float(v)) for v in t] == want


def test_level_values_and_quantized_units() -> None:
    q = Pow2Quantizer(3, [2, -1, 0], [-5, 3, 0])
    Q = np.array([[0, 7, 3], [4, 1, 7]])
    assert np.array_equal(q.quantize(q.level_values(Q)), Q)
    assert np.array_equal(q.to_quantized_units(0.5), [2.0, 0.25, 0.5])
    lo, hi = q.value_range()
    assert list(lo) == [-5 / 4, 6, 0] and list(hi) == [2 / 4, 20, 7]


@pytest.mark.parametrize("shift, offset, message", [
    ([101], [0], "shift"), ([-101], [0], "shift"), ([0], [32768], "offset"),
    ([0], [-32769], "offset"), ([0.5], [0], "integers"), ([0], [float("nan")], "integers"),
    ([0, 1], [0], "one value per input"),
])
def test_refuses_out_of_bounds(shift, offset, message) -> None:
    with pytest.raises(BDNNError, match=message):
        Pow2Quantizer(4, shift, offset)


# -- the fit ---------------------------------------------------------------------------------

def _sse(x: np.ndarray, s: int, o: int, L: int) -> Fraction:
    """Exact sum of squared differences between the values and their levels' centres."""
    step = Fraction(2) ** -s
    return sum((Fraction(float(v)) - (exact_level(float(v), s, o, L) + o) * step) ** 2
               for v in x)


def test_fit_least_squares_among_covering_and_half_steps() -> None:
    rng = np.random.default_rng(7)
    pixels = np.minimum(rng.geometric(0.25, 200) - 1, 16).astype(float)  # digits-like 0..16
    pixels[:2] = [0, 16]
    X = np.stack([rng.uniform(-3, 14, 200), rng.uniform(0.001, 0.0012, 200),
                  np.full(200, 2.5), rng.normal(-1e4, 50, 200), np.r_[0.0, 15.0,
                  rng.uniform(0, 15, 198)], pixels], axis=1)
    for bits in (2, 4):
        L = (1 << bits) - 1
        q = fit_quantizer("pow2", X, None, bits)
        assert isinstance(q, Pow2Quantizer) and QUANTIZER_KINDS["pow2"].name == "pow2"
        for j in range(X.shape[1]):
            x = X[:, j]
            lo, hi = Fraction(x.min()), Fraction(x.max())
            s, o = int(q.shift[j]), int(q.offset[j])
            if hi == lo:
                assert s == 0
                continue
            # the covering shift, found independently: the smallest power of two >= (hi-lo)/L
            cover = 0
            while Fraction(2) ** -cover < (hi - lo) / L:
                cover -= 1
            while Fraction(2) ** -(cover + 1) >= (hi - lo) / L:
                cover += 1
            assert s in (cover, cover + 1)
            rivals = []
            for rs in (cover, cover + 1):
                step = Fraction(2) ** -rs
                for ro in (math.floor((lo + hi) / 2 / step - Fraction(L, 2) + Fraction(1, 2)),
                           math.floor(lo / step + Fraction(1, 2)),
                           math.floor(hi / step + Fraction(1, 2)) - L):
                    rivals.append((rs, ro))
            assert _sse(x, s, o, L) == min(_sse(x, rs, ro, L) for rs, ro in rivals)
    # pixels 0..16 at 4 bits: steps of 1 (16 clipped to 15) reconstruct better than steps of 2
    q = fit_quantizer("pow2", X, None, 4)
    assert q.shift[5] == 0 and q.offset[5] == 0
    ident = fit_quantizer("pow2", np.array([[0, 3], [2, 1]]), None, 2)
    assert ident.is_identity and list(ident.shift) == [0, 0] and list(ident.offset) == [0, 0]
    with pytest.raises(BDNNError, match="float32"):
        fit_quantizer("pow2", np.array([[0.0], [1e39]]), None, 2)


def test_fit_far_from_zero_keeps_offset_in_int16() -> None:
    X = np.array([[1e6], [1e6 + 1]])
    q = fit_quantizer("pow2", X, None, 4)
    assert -32768 <= q.offset[0] <= 32767 - 15
    lv = q.quantize(X.astype(F32))
    assert lv.min() >= 0 and lv.max() <= 15


# -- model file, backends --------------------------------------------------------------------

def test_model_file_round_trip(tmp_path) -> None:
    net = pow2_net()
    doc = network_to_dict(net)
    assert doc["version"] == 2 and doc["quantizer"]["kind"] == "pow2"
    assert doc["quantizer"]["shift"] == [int(v) for v in net.quantizer.shift]
    path = tmp_path / "m.json"
    path.write_text(dumps_model(net))
    back = load_network(path)
    assert isinstance(back.quantizer, Pow2Quantizer) and dumps_model(back) == dumps_model(net)
    X = hard_floats(net.quantizer, np.random.default_rng(1), 20)
    assert np.array_equal(back.quantizer.quantize(X), exact_levels(net.quantizer, X))


@pytest.mark.parametrize("change, message", [
    (lambda q: q["shift"].__setitem__(0, 101), "shift"),
    (lambda q: q["offset"].__setitem__(0, 40000), "offset"),
    (lambda q: q["offset"].__setitem__(0, 1.5), "integers"),
    (lambda q: q["shift"].__setitem__(0, True), "integers"),
    (lambda q: q["shift"].pop(), "list of 6 integers"),
    (lambda q: q.pop("offset"), "offset"),
])
def test_hostile_pow2_files(tmp_path, change, message) -> None:
    doc = network_to_dict(pow2_net())
    change(doc["quantizer"])
    with pytest.raises(ModelFileError, match=message) as e:
        network_from_dict(doc)
    assert "\n" not in str(e.value)
    if message != "shift":
        return
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    p = subprocess.run([sys.executable, "-m", "bdnn", "info", str(path)], capture_output=True,
                       text=True)
    assert p.returncode == 2 and p.stderr.startswith("error: ") and "Traceback" not in p.stderr


def test_onnx_and_c_host_verify() -> None:
    require_tool(os.environ.get("CC", "gcc"), "gcc")
    pytest.importorskip("onnxruntime")
    net = pow2_net(bits=3)
    X = hard_floats(net.quantizer, np.random.default_rng(3), 10)
    report = verify(net, X, n_random=30,
                    backends=["numpy", "onnxruntime", "onnx-reference", "c-host"])
    assert report.ok, report.to_dict()
    classes = net.forward_q(exact_levels(net.quantizer, X).astype(np.uint8)).class_index
    assert np.array_equal(net.predict(X), classes)


def test_uniform_unchanged_and_robust_units() -> None:
    X = np.random.default_rng(1).normal(size=(50, 3))
    a = fit_quantizer("uniform", X, None, 3)
    assert type(a) is Quantizer
    q = fit_quantizer("pow2", X, None, 3)
    assert np.array_equal(q.to_quantized_units(np.array([1.0, 2.0, 0.5])),
                          [1.0 * 2.0 ** q.shift[0], 2.0 * 2.0 ** q.shift[1],
                           0.5 * 2.0 ** q.shift[2]])


def test_cli_train_pow2(tmp_path) -> None:
    model = tmp_path / "iris.json"
    p = subprocess.run([sys.executable, "-m", "bdnn", "train", "iris", "--quantizer", "pow2",
                        "--hidden", "2", "--time-limit", "2", "--workers", "1", "--quiet",
                        "-o", str(model)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    doc = json.loads(model.read_text())
    assert doc["version"] == 2 and doc["quantizer"]["kind"] == "pow2"
    assert doc["training"]["quantizer"] == "pow2"
    from bdnn.data.loader import load_dataset

    X = load_dataset("iris").X
    q = load_network(model).quantizer
    levels = exact_levels(q, X.astype(F32))
    assert levels.min() >= 0 and levels.max() <= q.max_level and len(np.unique(levels)) > 4


# -- the C kernel ----------------------------------------------------------------------------

_BITS_MAIN = r"""/* Float bit patterns (hex) on stdin; prints the class, "|", the levels. */
#include <stdio.h>
#include <string.h>
#include "model.h"

int main(void)
{
    static float x[MODEL_N_INPUTS];
    static uint8_t xq[MODEL_N_INPUTS];
    unsigned long v;
    unsigned j;
    for (;;) {
        for (j = 0; j < MODEL_N_INPUTS; j++) {
            uint32_t u;
            if (scanf("%lx", &v) != 1)
                return 0;
            u = (uint32_t)v;
            memcpy(&x[j], &u, sizeof u);
        }
        printf("%d |", model_predict(x));
        model_quantize(x, xq);
        for (j = 0; j < MODEL_N_INPUTS; j++)
            printf(" %u", (unsigned)xq[j]);
        printf("\n");
    }
}
"""


def c_host_levels(net: Network, X: np.ndarray, work, cflags: tuple[str, ...]) -> tuple:
    """(classes of NAME_predict, levels of NAME_quantize) of the float32 rows ``X``, fed to
    the generated C as bit patterns (NaN payloads and signs kept), built with the host gcc."""
    from codegen.backends import c_host
    from codegen.c_export import render_c

    cc = require_tool(os.environ.get("CC", "gcc"), "gcc")
    work.mkdir(parents=True, exist_ok=True)
    for fname, text in render_c(net, "model").items():
        (work / fname).write_text(text)
    (work / "main.c").write_text(_BITS_MAIN)
    p = subprocess.run([cc, *c_host.CFLAGS, *cflags, "-I.", "main.c", "model.c", "-o", "prog"],
                       cwd=work, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[:2000]
    rows = "\n".join(" ".join(f"{int(u):x}" for u in r) for r in X.view(np.uint32)) + "\n"
    p = subprocess.run([str(work / "prog")], input=rows, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[:2000]
    lines = p.stdout.splitlines()
    assert len(lines) == len(X)
    classes = np.array([int(s.partition(" |")[0]) for s in lines])
    levels = np.array([[int(v) for v in s.partition(" |")[2].split()] for s in lines])
    return classes, levels


@pytest.mark.parametrize("form", ["integer", "integer, byte shifts", "level keys"])
def test_c_host_levels_equal_exact_arithmetic(tmp_path, form) -> None:
    """The C level (BDNN_POW2_QUANTIZER 1: integers on the float's bits, also with AVR's byte
    shifts; 0: level keys) of random bit patterns, every cut point +-1 ulp, +-0, +-inf, NaNs,
    subnormals and huge values, for random shifts (-100..100) and offsets (int16 and int8:
    with byte shifts, int8 offsets take the 16-bit path), equals the exact definition; built
    with -fsanitize=undefined (no overflowing shift or signed overflow on any of them)."""
    flags = ("-fsanitize=undefined", "-fno-sanitize-recover=all",
             f"-DBDNN_POW2_QUANTIZER={0 if form == 'level keys' else 1}",
             f"-DBDNN_POW2_BYTE_SHIFTS={1 if 'byte' in form else 0}")
    for bits, small in ((1, False), (4, False), (8, False), (1, True), (4, True), (8, True)):
        rng = np.random.default_rng(10 + bits + small)
        net = random_network(rng, 12, [5], 3, weight_bound=2, bits=bits)
        net.quantizer = random_pow2(rng, 12, bits, small_offsets=small)
        X = hard_floats(net.quantizer, rng, 400)
        want = exact_levels(net.quantizer, X)
        classes, levels = c_host_levels(net, X, tmp_path / f"b{bits}{small}", flags)
        assert np.array_equal(levels, want)
        assert np.array_equal(classes, net.forward_q(want.astype(np.uint8)).class_index)


@pytest.mark.toolchain
@pytest.mark.parametrize("target", ["cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "avr",
                                    "rv32imc", "rv32ec"])
def test_firmware_verify_pow2(target) -> None:
    """bdnn verify on the emulator: NAME_predict and NAME_quantize of every cut point +-1 ulp,
    +-0, +-inf, NaNs, subnormals, huge values and random bit patterns equal numpy (the integer
    form by default, ARMv7-M's USAT path on M3, byte shifts on AVR; the FPU form on M4/M7),
    with both first-layer kernels (4-bit subset sums, 1-bit popcounts)."""
    from firmware_fixtures.helpers import need_target

    need_target(target)
    for bits, seed, small in [(4, 1, False), (1, 2, True)]:
        net = pow2_net(seed=seed, bits=bits, n_inputs=9, small_offsets=small)
        X = hard_floats(net.quantizer, np.random.default_rng(seed), 6)
        report = verify(net, X, n_random=5, backends=["numpy", target])
        assert report.ok, report.to_dict()
        tb = [b for b in report.backends if b.backend == target][0]
        assert tb.float_rows >= len(X) and tb.float_mismatches == 0 and tb.mismatches == 0


def fpu_form_nets() -> list[tuple[str, Network]]:
    """Networks for the FPU form's code paths: its quantizer rows distinct with int8 offsets
    (the shared-bias group form, offsets at both ends of int8) or int16 offsets (a bias per
    input), one row for every input, rows shared through an index; groups of 4 with tails of
    1, 2 and 3 inputs; the subset-sum kernel (4 bits: groups) and the popcount one (1 bit: one
    input at a time)."""
    nets = []
    for name, bits, n, seed in [("int8 rows", 4, 7, 11), ("int8 rows, 1 bit", 1, 9, 12),
                                ("int16 rows", 4, 10, 13), ("one row", 4, 9, 14),
                                ("row index", 4, 6, 15)]:
        rng = np.random.default_rng(seed)
        net = random_network(rng, n, [5], 3, weight_bound=2, bits=bits)
        q = random_pow2(rng, n, bits, small_offsets="int8" in name)
        shift, offset = q.shift.copy(), q.offset.copy()
        if "int8" in name:
            offset[-2:] = [-128, 127 - (1 << bits) + 1]
        if name == "one row":
            shift[:], offset[:] = -2, -5
        if name == "row index":
            shift, offset = shift[[0, 3, 0, 3, 3, 1]], offset[[0, 3, 0, 3, 3, 1]]
        net.quantizer = Pow2Quantizer(bits, shift, offset)
        nets.append((name, net))
    return nets


@pytest.mark.toolchain
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m7"])
def test_firmware_fpu_form(target) -> None:
    """The FPU form (BDNN_FLOAT_QUANTIZER 1, the default on Cortex-M4F/M7: VMUL and VSUB
    rounding toward minus infinity) on the emulator: NAME_predict and NAME_quantize of every
    cut point +-1 ulp, +-0, +-inf, NaNs, subnormals, huge values and random bit patterns equal
    numpy on every code path of fpu_form_nets; the exact definition is checked against numpy
    in test_levels_equal_exact_arithmetic."""
    from firmware_fixtures.helpers import need_target

    need_target(target)
    for name, net in fpu_form_nets():
        X = hard_floats(net.quantizer, np.random.default_rng(7), 4)
        assert np.array_equal(net.quantizer.quantize(X), exact_levels(net.quantizer, X)), name
        report = verify(net, X, n_random=5, backends=["numpy", target])
        assert report.ok, (name, report.to_dict())
        tb = [b for b in report.backends if b.backend == target][0]
        assert tb.float_rows >= len(X) and tb.float_mismatches == 0 and tb.mismatches == 0


def run_with_flags(net: Network, target: str, flags: str, work) -> tuple:
    """Build ``net``'s firmware for ``target`` with ``flags`` added to EXTRA_CFLAGS, run it on
    the emulator with the hard floats, and check that NAME_quantize / NAME_predict equal the
    exact levels and the numpy classes; (target, project path, nm output)."""
    from firmware_fixtures.helpers import need_target

    from codegen.targets.build import make, write_project, write_vectors
    from codegen.targets.measure import check_against_reference, run_firmware

    t = need_target(target)
    X = hard_floats(net.quantizer, np.random.default_rng(4), 6)
    Q = exact_levels(net.quantizer, X).astype(np.uint8)
    project = write_project(net, t, work, "model")
    with open(project.path / "config.mk", "a") as f:
        f.write(f"EXTRA_CFLAGS += {flags}\n")
    write_vectors(project, net, Q, X)
    make(project, "prog.elf")
    run = run_firmware(project, net, len(Q))
    assert run.mismatches == 0 and not run.error_rows, run.error_rows[:5]
    # the runner compared NAME_quantize / NAME_predict of X with numpy's levels, which are Q
    assert np.array_equal(net.quantizer.quantize(X), Q)
    check_against_reference(run, net, Q, target)
    syms = subprocess.run([t.family.nm_tool, str(project.path / "prog.elf")], capture_output=True,
                          text=True, check=True).stdout
    return t, project.path, syms


def level_probe(q: Pow2Quantizer, j: int) -> Network:
    """A network whose class is the level of input ``j`` under ``q``: hidden unit t (1..L) is
    on iff that level >= t, and class c scores (units t <= c) - (units t > c), which is
    largest, first, at c = level (numpy and the C take the first largest score). One more
    unit reads every other input, with weight 0 in the output layer: the network reads all
    inputs, so the C computes every level in its first layer's kernel (no predict table)."""
    from bdnn.network import Layer

    L, n = q.max_level, q.n_inputs
    W1 = np.zeros((L + 1, n), np.int64)
    W1[:L, j] = 1
    W1[L, :] = 1
    W1[L, j] = 0
    t = np.arange(1, L + 1)
    W2 = np.zeros((L + 1, L + 1), np.int64)
    W2[:, :L] = np.where(t[None, :] <= np.arange(L + 1)[:, None], 1, -1)
    return Network(q, [Layer(W1, np.append(-t, 0), 1),
                       Layer(W2, np.zeros(L + 1, np.int64), 1)], classes=list(range(L + 1)))


@pytest.mark.toolchain
def test_firmware_fpu_form_fused_levels() -> None:
    """The levels NAME_predict computes itself (fused into the DSP words kernel, 4 per asm
    block, the rounding mode set once per call) seen through level probes: on QEMU's M4 the
    class of an input's probe equals the exact level of every cut point +-1 ulp and the other
    hard floats, for distinct rows with int8 offsets (shared bias) and with int16 offsets (every
    input), one row (inputs in the first, second and tail group) and rows through an index."""
    from firmware_fixtures.helpers import need_target

    from codegen.plan import plan_model

    need_target("cortex-m4")
    for name, net in fpu_form_nets():
        q = net.quantizer
        if q.bits == 1:  # the popcount kernel: one level at a time, no groups
            continue
        X = hard_floats(q, np.random.default_rng(8), 4)
        want = exact_levels(q, X)
        for j in ([0, 5, 8] if name == "one row" else range(q.n_inputs)):
            probe = level_probe(q, j)
            plan = plan_model(probe)
            assert plan.layers[0].kernel == "sums" and plan.predict_table is None
            assert np.array_equal(probe.forward_q(want.astype(np.uint8)).class_index, want[:, j])
            report = verify(probe, X, n_random=0, backends=["numpy", "cortex-m4"])
            assert report.ok, (name, j, report.to_dict())


@pytest.mark.toolchain
@pytest.mark.parametrize("flags", ["-DBDNN_SMALL_CODE=1", "-DBDNN_FUSED_INPUT=0", "-O0", "-O3"])
def test_firmware_fpu_form_other_builds(flags, tmp_path) -> None:
    """The FPU form out of line (small code), through the xq array (not fused), and built
    with -O0 and -O3 instead of -Os (the asm's ordering and the opaque row pointer), on M4."""
    for i, (name, net) in enumerate(fpu_form_nets()):
        _, _, syms = run_with_flags(net, "cortex-m4", flags, tmp_path / str(i))
        assert "model_q_exponent" in syms, name


@pytest.mark.toolchain
@pytest.mark.parametrize("target, form", [("avr", 0), ("cortex-m4", 0), ("cortex-m4", "integer")])
def test_firmware_other_form(target, form, tmp_path) -> None:
    """The non-default forms on the emulator: level keys (AVR: read from PROGMEM), and on
    Cortex-M4F the integer form instead of the FPU one: NAME_quantize and NAME_predict of the
    hard rows equal the exact levels."""
    net = pow2_net(seed=4, bits=4, n_inputs=9)
    t, project_path, syms = run_with_flags(
        net, target, "-DBDNN_FLOAT_QUANTIZER=0" if form == "integer"
        else f"-DBDNN_POW2_QUANTIZER={form}", tmp_path)
    assert ("model_q_exponent" in syms) == (form != 0)
    assert ("model_level_key" in syms) == (form == 0)
    if form == "integer":  # the integer form's code, not the FPU's
        dis = subprocess.run([t.family.nm_tool.replace("nm", "objdump"), "-d",
                              str(project_path / "prog.elf")], capture_output=True, text=True,
                             check=True).stdout
        assert "vmsr" not in dis and "model_pow2_outside" in syms


def test_quantizer_bytes_equal_what_the_c_stores(tmp_path) -> None:
    """bdnn size's quantizer bytes (both forms) equal nm -S of the compiled tables: distinct
    rows, rows shared through the index, and one row for every input."""
    from codegen.c_export import render_c
    from codegen.level_keys import quantizer_forms_bytes

    cc = require_tool(os.environ.get("CC", "gcc"), "gcc")
    nm = require_tool("nm", "binutils")
    rng = np.random.default_rng(6)
    cases = [pow2_net().quantizer,
             Pow2Quantizer(4, [0] * 10 + [-3, 2], [1] * 10 + [5, -7]),
             Pow2Quantizer(4, [2] * 12, [-3] * 12)]
    for i, q in enumerate(cases):
        net = random_network(rng, q.n_inputs, [3], 2, weight_bound=1, bits=4)
        net.quantizer = q
        (tmp_path / "m.c").write_text(render_c(net, "m")["m.c"])
        (tmp_path / "m.h").write_text(render_c(net, "m")["m.h"])
        got = {}
        for form, flag in (("pow2", 1), ("level_keys", 0)):
            subprocess.run([cc, "-std=c99", "-O0", f"-DBDNN_POW2_QUANTIZER={flag}", "-c", "m.c",
                            "-o", "m.o"], cwd=tmp_path, check=True, capture_output=True)
            out = subprocess.run([nm, "-S", "m.o"], cwd=tmp_path, check=True,
                                 capture_output=True, text=True).stdout
            got[form] = sum(int(p[1], 16) for p in (line.split() for line in out.splitlines())
                            if len(p) == 4 and p[3] in ("m_q_exponent", "m_q_offset",
                                                        "m_level_key", "m_level_row"))
        assert got == quantizer_forms_bytes(q), i
    # int16 offsets (3 B a row), int8 offsets (2 B a row) with a row index, one row for all
    assert [quantizer_forms_bytes(q)["pow2"] for q in cases] == [6 * 3, 12 + 3 * 2, 2]
