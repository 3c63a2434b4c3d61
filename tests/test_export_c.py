"""The generated C, compiled with the host compiler, against Network.forward_q bit for bit.

Many networks are linked into one harness per compiler call (a generated model table), so a few
hundred random networks cost a few compiler runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from export_strategies import NetSpec, assert_same, net_specs, table_sizes, test_inputs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from toolchains import require_tool

from bdnn.errors import BDNNError
from bdnn.model_file import load_network, save_network
from bdnn.network import Layer, Network, random_network
from bdnn.quantizer import Quantizer
from codegen.backends import c_host
from codegen.c_export import export_c, render_c
from codegen.level_keys import KEY_INF, KEY_NEVER, boundary_inputs, key_floats, level_keys
from codegen.render import read_static

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden"
FAST = ("-std=c99", "-O0", "-Wall", "-Wextra", "-Werror", "-pedantic")


@pytest.fixture(scope="module")
def cc() -> str:
    return require_tool(os.environ.get("CC", "gcc"), "gcc")


def run_batch(nets: list[Network], workdir: Path, word_bits, cflags, rows: int = 24, seed: int = 0):
    """Build all nets into one harness, run ``rows`` inputs each, compare with forward_q."""
    names = [f"m{i}" for i in range(len(nets))]
    exe = c_host.build(list(zip(nets, names, strict=True)), workdir, word_bits, cflags)
    inputs = [test_inputs(net, rows, seed + i) for i, net in enumerate(nets)]
    lines = [line for i, Q in enumerate(inputs) for line in c_host.encode_q(i, Q)]
    out = c_host.run_harness(exe, lines)
    start = 0
    for i, (net, Q) in enumerate(zip(nets, inputs, strict=True)):
        got = c_host.parse_q(out[start : start + len(Q)], net)
        start += len(Q)
        assert_same(net.forward_q(Q), got, f"network {i}")
    return exe


@pytest.mark.slow
@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(specs=st.lists(net_specs(), min_size=100, max_size=100), seed=st.integers(0, 2**16))
def test_random_networks_match_reference(specs: list[NetSpec], seed: int, tmp_path_factory) -> None:
    """200 random networks, new ones every run (depth 1-3, widths 1-70, bounds 1-3, both
    activations, 2-5 classes and single output, 1-8 input bits, every word size), 24 inputs
    each incl. all-0/all-max."""
    require_tool(os.environ.get("CC", "gcc"), "gcc")
    nets = [s.build() for s in specs]
    run_batch(nets, tmp_path_factory.mktemp("c"), [s.word_bits for s in specs], FAST, seed=seed)


def test_optimized_build_wide_bounds_and_int32_accumulators(cc, tmp_path) -> None:
    """-O2 as users build it; weight bounds up to 100 force int32 accumulators and constants.
    12 networks: every combination of bound, activation and word size once."""
    rng = np.random.default_rng(11)
    nets, sizes = [], []
    for k in range(12):
        bound = [1, 3, 100][k % 3]
        nets.append(
            random_network(rng, int(rng.integers(1, 120)), [int(rng.integers(1, 90))], 3,
                           weight_bound=bound, activation=["heaviside", "sign"][k % 2], bits=8)
        )
        sizes.append([8, 16, 32, 64][k % 4])
    run_batch(nets, tmp_path, sizes, c_host.CFLAGS, rows=40)
    text = render_c(nets[2], "wide", 32)["wide.c"]
    assert "int_fast32_t pos = 0, neg = 0" in text  # bound 100 x 255 x n_in needs int32


@pytest.mark.slow
def test_sanitizers(cc, tmp_path) -> None:
    """AddressSanitizer + UBSan (no recovery: any report fails the run)."""
    rng = np.random.default_rng(5)
    nets = [
        random_network(rng, n, [w, 65], 4, weight_bound=[3, 1, 2], activation=act, bits=8)
        for n, w, act in [
            (1, 1, "sign"), (33, 64, "heaviside"), (100, 31, "sign"), (65, 70, "sign")
        ]
    ]
    flags = ("-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic", *c_host.SANITIZE)
    # the narrowest and the widest packing word, two networks each (the instrumented builds of
    # the large generated files are what this test spends its time on)
    for bits, batch in ((8, nets[::2]), (64, nets[1::2])):
        (tmp_path / str(bits)).mkdir()
        run_batch(batch, tmp_path / str(bits), bits, flags, rows=30)


def test_weight_extremes_in_every_position(cc, tmp_path) -> None:
    """Unit j's only weight is +-w at input j (sizes 1..100); one-hot and all-max inputs."""
    nets = []
    for n in [1, 31, 32, 33, 63, 64, 65, 100]:
        for w in (1, 3):
            alternating = np.where(np.arange(n) % 2, w, -w)
            hidden = Layer(np.diag(alternating), np.zeros(n, np.int64), w)
            out = Layer(np.vstack([alternating, -alternating]), np.zeros(2, np.int64), w)
            nets.append(Network(Quantizer.identity(n, 2), [hidden, out], classes=[0, 1]))
    names = [f"x{i}" for i in range(len(nets))]
    for word_bits in (8, 32, 64):
        work = tmp_path / str(word_bits)
        work.mkdir()
        exe = c_host.build(list(zip(nets, names, strict=True)), work, word_bits, FAST)
        for i, net in enumerate(nets):
            n = net.n_inputs
            Q = np.vstack([np.eye(n, dtype=np.int64) * 3, np.full((1, n), 3)]).astype(np.uint8)
            got = c_host.parse_q(c_host.run_harness(exe, c_host.encode_q(i, Q)), net)
            assert_same(net.forward_q(Q), got, f"n={n}")


def _float_nets(rng) -> list[Network]:
    nets = []
    for bits, n in [(1, 3), (4, 7), (8, 12), (5, 40)]:
        net = random_network(rng, n, [9], 3, bits=bits)
        lo = rng.normal(0, 10, n).astype(np.float32)
        scale = np.abs(rng.normal(0, 3, n)).astype(np.float32)
        scale[0] = 0.0  # a constant feature
        net.quantizer = Quantizer(bits, lo, scale)
        nets.append(net)
    return nets


@pytest.mark.parametrize("float_quantizer", [0, 1])
def test_float_api_matches_quantizer(cc, tmp_path, float_quantizer) -> None:
    """NAME_quantize / NAME_predict equal Quantizer.quantize / Network.predict in float32,
    incl. NaN, +-inf, huge, tiny, negative zero and values next to the rounding boundaries,
    both by thresholds (BDNN_FLOAT_QUANTIZER=0) and by float arithmetic (=1)."""
    rng = np.random.default_rng(2)
    nets = _float_nets(rng)
    cflags = (*c_host.CFLAGS, f"-DBDNN_FLOAT_QUANTIZER={float_quantizer}")
    exe = c_host.build([(net, f"f{i}") for i, net in enumerate(nets)], tmp_path, 32, cflags)
    for i, net in enumerate(nets):
        q = net.quantizer
        n = net.n_inputs
        X = [rng.normal(0, 20, (200, n)).astype(np.float32)]
        # points next to the level boundaries (lo + (k + 0.5) / scale), both sides
        k = rng.integers(-2, q.max_level + 2, size=(100, n)).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(q.scale > 0, q.scale, 1)
            edge = (q.lo + (k + np.float32(0.5)) / step).astype(np.float32)
        X += [edge, np.nextafter(edge, np.float32(np.inf)), np.nextafter(edge, np.float32(-np.inf))]
        special = np.array([np.nan, np.inf, -np.inf, 3.4e38, -3.4e38, 1e-45, -0.0, 0.0], np.float32)
        X.append(np.tile(special[:, None], (1, n)))
        X.append(boundary_inputs(q))  # every exact threshold and its neighbours
        X = np.vstack(X)
        classes, quantized = c_host.parse_float(c_host.run_harness(exe, c_host.encode_float(i, X)))
        assert np.array_equal(quantized, q.quantize(X)), f"quantizer of network {i}"
        assert np.array_equal(classes, net.predict(X)), f"predict of network {i}"


def test_level_keys_are_the_exact_boundaries() -> None:
    """Each threshold is the first float32 of its level: checked by brute force over every
    float32 between two neighbouring keys, independently of the bisection."""
    rng = np.random.default_rng(3)
    for net in _float_nets(rng):
        q = net.quantizer
        keys = level_keys(q)
        for j in range(q.n_inputs):
            for k in range(1, q.max_level + 1):
                t = int(keys[j, k - 1])
                if t == KEY_NEVER:
                    assert q.quantize(np.full((1, q.n_inputs), np.inf, np.float32))[0, j] < k
                    continue
                window = np.arange(t - 40, t + 40)
                window = window[np.abs(window) <= KEY_INF]
                X = np.zeros((len(window), q.n_inputs), np.float32)
                X[:, j] = key_floats(window)
                levels = q.quantize(X)[:, j].astype(int)
                assert np.array_equal(levels >= k, window >= t), (j, k)


def _golden_net() -> Network:
    layers = [
        Layer([[1, -1, 0, 1, 1], [0, 1, 1, -1, 0], [-1, -1, 1, 0, 1], [1, 0, 0, 0, -1]],
              [-3, 2, 0, -1], 1),
        Layer([[3, -2, 0, 1], [-3, 1, 2, 2], [0, 0, -1, 3]], [1, -4, 0], 3),
        Layer([[1, -1, 0], [0, 1, -1], [-1, 0, 1]], [0, 1, -1], 1),
    ]
    q = Quantizer(3, np.array([4.3, 2.0, 1.0, 0.1, -5.0], np.float32),
                  np.array([1.9, 2.9, 1.2, 2.9, 0.25], np.float32))
    return Network(q, layers, classes=["setosa", "versi*/color", "virginica"], activation="sign",
                   training={"method": "cpsat", "status": "OPTIMAL", "objective": 3,
                             "accuracy": 0.96, "data": {"fingerprint": "sha256:0123abcd"},
                             "note": "tricky */ /* ??/ \\ text"})


def _golden_table_net() -> Network:
    """A network that reads 2 of its 4 inputs at 2 bits: its predict functions read a predict
    table of 16 entries (docs/export.md, "The predict table")."""
    layers = [Layer([[1, 0, 0, -1], [-1, 0, 0, 1], [0, 0, 0, 1]], [0, -1, -2], 1),
              Layer([[1, -1, 0], [-1, 1, -1], [-1, 0, 1]], [0, 0, 0], 1)]
    q = Quantizer(2, np.array([4.3, 2.0, 1.0, 0.1], np.float32),
                  np.array([1.9, 2.9, 1.2, 2.9], np.float32))
    return Network(q, layers, classes=["setosa", "versicolor", "virginica"])


@pytest.mark.parametrize("name", ["golden_net", "golden_table"])
def test_golden_generated_code(name) -> None:
    """The generated code for fixed models (golden_table: with a predict table); regenerate
    with BDNN_UPDATE_GOLDEN=1."""
    net = _golden_net() if name == "golden_net" else _golden_table_net()
    files = render_c(net, name, 32)
    if os.environ.get("BDNN_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        for fname, text in files.items():
            (GOLDEN / fname).write_text(text, encoding="utf-8")
    for fname, text in files.items():
        expected = (GOLDEN / fname).read_text(encoding="utf-8")
        assert text == expected, (
            f"{fname} differs from tests/golden; if the change is intended, "
            "regenerate with BDNN_UPDATE_GOLDEN=1 python3 -m pytest tests/test_export_c.py"
        )


def test_golden_model_runs_and_user_text_is_escaped(cc, tmp_path) -> None:
    net = _golden_net()
    text = "".join(render_c(net, "golden_net", 32).values())
    comments = re.findall(r"/\*.*?\*/", text, flags=re.S)
    stripped = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # outside comments user text appears only in the class-name string literals
    stripped = re.sub(r'"(?:[^"\\\n]|\\.)*"', "", stripped)
    assert "tricky" not in stripped and "versi" not in stripped, "user text escaped a comment"
    assert any("tricky" in c for c in comments)
    assert "??" not in text
    run_batch([net, _golden_table_net()], tmp_path, 32, c_host.CFLAGS, rows=200)


def test_header_lists_features_and_class_names(cc, tmp_path) -> None:
    """NAME_class_names holds the labels byte for byte (quotes, backslashes, trigraphs,
    non-ASCII, newlines); the header lists the inputs with the training data's names."""
    net = _golden_net()
    labels = ['a "quoted" \\ label', "??/ tri", "caf\u00e9\n2"]
    net = Network(net.quantizer, net.layers, classes=labels, activation=net.activation,
                  training={"feature_names": ["sepal length (cm)", "b", "c", "d", "e */ x"]})
    export_c(net, tmp_path, "names")
    header = (tmp_path / "names.h").read_text()
    assert re.search(r"\*\s+0\s+sepal length \(cm\)\s+4\.3\s+1\.9\s+", header)
    assert "e *\\x2f x" in header  # a name cannot end the comment
    n, top = net.n_inputs, net.quantizer.max_level
    assert f"{4 * top * n} bytes of level thresholds" in header  # int32 keys, L per input
    assert f"{8 * n} bytes of lo and scale" in header
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "names.h"\n'
        "int main(void) { int c; for (c = 0; c < NAMES_N_CLASSES; c++) "
        'printf("%s|", names_class_names[c]); return 0; }\n'
    )
    subprocess.run([cc, *c_host.CFLAGS, "main.c", "names.c", "-o", "names"], cwd=tmp_path,
                   check=True, capture_output=True)
    out = subprocess.run([str(tmp_path / "names")], capture_output=True, check=True).stdout
    assert out == "".join(f"{c}|" for c in labels).encode("utf-8")


def test_output_is_deterministic(tmp_path) -> None:
    """Byte-identical files for identical models, also after a save/load round trip."""
    net = random_network(np.random.default_rng(9), 20, [17, 5], 4, weight_bound=2, bits=6)
    net.training = {"b": 1.5, "a": {"z": [1, 2], "y": "x"}}
    save_network(net, tmp_path / "m.json")
    again = load_network(tmp_path / "m.json")
    for bits in (8, 64):
        assert render_c(net, "det", bits) == render_c(again, "det", bits)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    export_c(net, tmp_path / "a", "det")
    export_c(again, tmp_path / "b", "det")
    for f in ("det.h", "det.c"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_no_libc_in_model_code_and_no_float_build(cc, tmp_path) -> None:
    """The model object needs no libm/stdio/malloc; BDNN_NO_FLOAT removes the float API."""
    net = random_network(np.random.default_rng(4), 30, [40, 20], 3, weight_bound=3, bits=5)
    export_c(net, tmp_path, "lean")
    source = (tmp_path / "lean.c").read_text()
    assert not re.search(r"#include\s*<(stdio|stdlib|math|string)\.h>", source)
    nm = shutil.which("nm")
    for defines, has_float in [((), True), (("-DBDNN_NO_FLOAT",), False)]:
        obj = tmp_path / f"lean{len(defines)}.o"
        subprocess.run([cc, *c_host.CFLAGS, *defines, "-c", "lean.c", "-o", obj.name],
                       cwd=tmp_path, check=True, capture_output=True)
        if nm:
            symbols = subprocess.run([nm, str(obj)], capture_output=True, text=True).stdout
            names = {line.split()[-1] for line in symbols.splitlines()}
            undefined = {line.split()[-1] for line in symbols.splitlines() if " U " in line}
            assert undefined <= {"memset", "memcpy"}, undefined
            assert ("lean_predict" in names) == has_float
            assert ("lean_quantize" in names) == has_float
            assert "lean_predict_q" in names and "lean_forward_debug_q" in names


def test_clang(tmp_path) -> None:
    clang = require_tool("clang", "clang")
    net = random_network(np.random.default_rng(8), 10, [12], 3, activation="sign")
    export_c(net, tmp_path, "cl")
    subprocess.run([clang, *c_host.CFLAGS, "-c", "cl.c"], cwd=tmp_path, check=True)


@pytest.mark.parametrize("target", ["thumbv7em-none-eabihf", "thumbv6m-none-eabi"])
def test_clang_for_cortex_m(tmp_path, target) -> None:
    """clang -Wall -Wextra -Werror -pedantic compiles the C for a Cortex-M4F (its FPU and DSP
    forms: the pow2 FPU levels with a row per input, one row and a row index, the uniform
    float levels, a DSP threshold base) and a Cortex-M0, at -O0 and -Os: no unused-function
    warning for a helper a model does not call."""
    from bdnn.quantizer import Pow2Quantizer

    clang = require_tool("clang", "clang")
    rng = np.random.default_rng(9)
    based = random_network(rng, 30, [6], 2, weight_bound=1, bits=4)
    nets = {
        "rows": Network(Pow2Quantizer(4, np.arange(30) % 5 - 2, np.arange(30) % 7 - 3),
                        [Layer(-np.ones((6, 30), np.int64), rng.integers(180, 271, 6), 1),
                         based.layers[1]], classes=based.classes),
        "one_row": random_network(rng, 9, [4], 2, weight_bound=1, bits=4),
        "index": random_network(rng, 6, [4], 3, weight_bound=1, bits=4),
        "uniform": random_network(rng, 11, [5], 3, weight_bound=1, bits=4),
        "popcount": random_network(rng, 20, [9], 2, weight_bound=1, bits=1),
    }
    nets["one_row"].quantizer = Pow2Quantizer(4, [-2] * 9, [-5] * 9)
    nets["index"].quantizer = Pow2Quantizer(4, [0, 3, 0, 3, 3, 1], [-1, 2, -1, 2, 2, 40])
    arch = (["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"] if "v7em" in target
            else ["-mcpu=cortex-m0", "-mfloat-abi=soft"])
    for name, net in nets.items():
        export_c(net, tmp_path, name)
        for opt in ("-O0", "-Os"):
            p = subprocess.run([clang, f"--target={target}", *arch, "-ffreestanding", "-std=c99",
                                opt, "-Wall", "-Wextra", "-Werror", "-pedantic", "-c",
                                f"{name}.c", "-o", f"{name}{opt}.o"], cwd=tmp_path,
                               capture_output=True, text=True)
            assert p.returncode == 0, (name, opt, p.stderr[:1500])


def test_accumulator_overflow_is_refused() -> None:
    w = 2**24
    layers = [Layer([[w, -w]], [0], w), Layer([[1], [-1]], [0, 0], 1)]
    net = Network(Quantizer.identity(2, 8), layers, classes=[0, 1])
    with pytest.raises(BDNNError, match="hidden layer 0 accumulator.*overflows int32"):
        render_c(net, "big", 32)


def test_host_harness_copy_and_makefile(cc, tmp_path) -> None:
    """firmware_examples/host is the same harness; its Makefile builds and runs one model."""
    host = REPO / "firmware_examples" / "host"
    assert (host / "main.c").read_text() == read_static("host_main.c")
    make = shutil.which("make")
    if not make:
        pytest.skip("make not installed")
    net = random_network(np.random.default_rng(12), 6, [7], 3, bits=4)
    export_c(net, tmp_path, "demo")
    build = tmp_path / "build"
    subprocess.run([make, "-C", str(host), "MODEL=demo", f"MODEL_DIR={tmp_path}",
                    f"BUILD={build}", f"CC={cc}"], check=True, capture_output=True)
    Q = test_inputs(net, 30, 1)
    got = c_host.parse_q(c_host.run_harness(build / "demo_harness", c_host.encode_q(0, Q)), net)
    assert_same(net.forward_q(Q), got, "Makefile harness")


def test_stored_tables_match_size_report(cc, tmp_path) -> None:
    """What the C really stores (nm -S of the object) equals codegen.size_report per layer:
    narrow layers store planes in bytes whatever the word size, constants in int8/16/32 (the
    plain tables: BDNN_LANES 0; tests/test_lanes_kernel.py checks the lanes form's)."""
    from codegen.size_report import size_report

    plain = (*FAST, "-DBDNN_LANES=0")

    rng = np.random.default_rng(21)
    cases = [(4, [4], 1, 32), (9, [8, 17], 1, 64), (30, [40], 3, 16), (70, [3], 100, 32),
             (64, [33], 2, 8), (5, [1], 1, 64)]
    for i, (n, hidden, bound, word_bits) in enumerate(cases):
        net = random_network(rng, n, hidden, 3, weight_bound=bound, bits=8)
        sizes = table_sizes(cc, tmp_path, net, f"s{i}", word_bits, plain)
        report = size_report(net, word_bits)
        for k, row in enumerate(report["layers"]):
            const = f"s{i}_offset{k}" if k == len(hidden) else f"s{i}_threshold{k}"
            assert sizes[f"s{i}_w{k}"] == row["weight_bytes"], (i, k, sizes)
            assert sizes[const] == row["threshold_bytes"], (i, k, sizes)
    # no padding between units: 4 units x 2 planes x 4 inputs = 32 bits = 4 bytes, and a
    # subset-sum first layer's rows in whole nibbles: 4 units x 2 planes x 12 bits (9 inputs) =
    # 96 bits = 12 bytes (a byte per plane would take 8 and 16); thresholds within [-8, 7] as
    # signed nibbles (2 units a byte), else int8
    for n_in, t_values, w_bytes, t_bytes in ((4, [-8, 7, 0, 3], 4, 2), (9, [-9, 7, 0, 3], 12, 4)):
        base = random_network(rng, n_in, [4], 3, weight_bound=1, bits=4)
        hid, out = base.layers
        net = Network(base.quantizer, [Layer(hid.weights, -np.array(t_values), 1), out],
                      classes=base.classes)
        sizes = table_sizes(cc, tmp_path, net, "iris", 32, plain)
        assert sizes["iris_w0"] == w_bytes and sizes["iris_threshold0"] == t_bytes, (n_in, sizes)
        # the output layer: 3 scores x 2 planes x 4 hidden bits = 3 bytes
        assert sizes["iris_w1"] == 3
    run_batch([net], tmp_path, 32, c_host.CFLAGS, rows=40)


def test_first_layer_kernel_choice_and_scratch_macro(cc, tmp_path) -> None:
    """Narrow multi-bit inputs use subset sums, wide 1-bit inputs popcounts, and an oversized
    table falls back to popcounts; NAME_SCRATCH_BYTES counts the table; all bit-exact."""
    rng = np.random.default_rng(3)
    narrow = random_network(rng, 6, [5], 3, weight_bound=1, bits=4)  # 2 groups, uint8 table
    wide_1bit = random_network(rng, 64, [8], 3, weight_bound=1, bits=1)
    big_table = random_network(rng, 100, [4], 2, weight_bound=1, bits=8)  # 25 x 16 x 2 > 512 B
    cases = [(narrow, "na", True), (wide_1bit, "wi", False), (big_table, "bt", False)]
    for net, name, sums in cases:
        files = render_c(net, name, 32)
        assert (f"{name}_input_sums" in files[f"{name}.c"]) == sums, name
        assert (f"{name}_pack_input" in files[f"{name}.c"]) == (not sums), name
    # narrow: table 2 groups x 16 x 1 byte + 1 word of hidden bits (the output layer's input)
    header = render_c(narrow, "na", 32)["na.h"]
    assert "#define NA_SCRATCH_BYTES 36\n" in header
    # wide: 1 input plane x 2 words + 1 hidden word, 4 bytes each
    assert "#define WI_SCRATCH_BYTES 12\n" in render_c(wide_1bit, "wi", 32)["wi.h"]
    run_batch([narrow, wide_1bit, big_table], tmp_path, [32, 32, 8], c_host.CFLAGS, rows=60)


def test_narrow_popcounts_of_small_layers(cc, tmp_path) -> None:
    """Layers that read 1-4 bits per word use the 2- and 4-bit popcounts (a field's bits above
    its inputs are the word's zero tail); bit-exact at every word size, two hidden layers
    included."""
    rng = np.random.default_rng(21)
    nets, words = [], []
    for hidden in ([1], [2], [3], [4], [5], [3, 2], [4, 4], [2, 3]):
        for word_bits in (8, 16, 32, 64):
            nets.append(random_network(rng, 7, hidden, 3, weight_bound=int(rng.integers(1, 4)),
                                       bits=2))
            words.append(word_bits)
    texts = [render_c(net, "p", wb)["p.c"] for net, wb in zip(nets, words, strict=True)]
    # 1-2 hidden units: popcount2 only; 3-4: popcount4; 5: popcount8
    assert "p_popcount2(uint8_t x)" in texts[4] and "p_popcount4" not in texts[4]
    assert "p_popcount4(uint8_t x)" in texts[12] and "p_popcount8" not in texts[12]
    assert "p_popcount8(uint8_t x)" in texts[16] and "p_popcount4" not in texts[16]
    run_batch(nets, tmp_path, words, c_host.CFLAGS, rows=60)


def test_constant_storage_boundaries(cc, tmp_path) -> None:
    """Thresholds at the ends of the signed nibble (-8, 7), int8 (-128, 127) and just past
    them, and score offsets alike, stay exact."""
    rng = np.random.default_rng(12)
    nets = []
    for b in (-128, -127, 128, 129, 8, -7, 9, -8):
        net = random_network(rng, 3, [2], 2, weight_bound=1, bits=8)
        hidden, out = net.layers
        nets.append(Network(net.quantizer, [Layer(hidden.weights, np.array([b, 0]), 1),
                                            Layer(out.weights, out.bias, 1)], classes=[0, 1]))
    texts = [render_c(net, "k", 32)["k.c"] for net in nets]
    # thresholds -bias and 0: 128 and -129 need int16; 127, -128, -9 and 8 int8; -8 and 7 fit
    # a signed nibble (two units a byte)
    # (the nibble form first: the AVR columns form beside it stores at least int8)
    kinds = [
        "nibble" if "const uint8_t k_threshold0[1]" in t
        else "int16" if "const int16_t k_threshold0" in t
        else "int8" if "const int8_t k_threshold0" in t else "?"
        for t in texts
    ]
    assert kinds == ["int16", "int8", "int8", "int16", "nibble", "nibble", "int8", "int8"]
    run_batch(nets, tmp_path, 32, c_host.CFLAGS, rows=80)
