"""The predict table (``codegen/predict_table.py``): ``NAME_predict`` and ``NAME_predict_q`` of
a network that reads few input bits look the class up in a table instead of running the layers.

Everything is compared with a plain numpy forward pass written here (``_plain_classes``), not
with ``Network.forward_q``, which computes the table: every level combination of the inputs the
network reads with any codes (up to 255) on the others, codes above max_level on the used
inputs, and float rows at every cut point of the quantizer (and 1 ulp on either side), +-0,
+-inf, NaN and subnormals; for every quantizer kind and C form, with the table
(``BDNN_PREDICT_TABLE=1``) and without it (``=0``).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from export_strategies import float_probe_rows
from toolchains import require_tool

from bdnn.ensemble import Ensemble
from bdnn.model_file import load_network, save_network
from bdnn.network import Layer, Network, random_network
from bdnn.quantizer import Pow2Quantizer, Quantizer, ThresholdQuantizer, fit_quantizer
from bdnn.raw_input import with_raw_input
from codegen.backends import c_host
from codegen.c_export import render_c
from codegen.plan import plan_model
from codegen.predict_table import MAX_TABLE_INDEX_BITS, entry_bits, predict_table
from codegen.size_report import format_size_table, size_report

F32 = np.float32


@pytest.fixture(scope="module")
def cc() -> str:
    return require_tool(os.environ.get("CC", "gcc"), "gcc")


def _plain_classes(net: Network, Q: np.ndarray) -> np.ndarray:
    """The class of each row of codes by plain numpy (codes above max_level count as it)."""
    h = np.minimum(np.asarray(Q, np.int64), net.quantizer.max_level)
    for i, layer in enumerate(net.layers):
        x = h if i == 0 or net.activation.name == "heaviside" else 2 * h - 1
        a = x @ np.asarray(layer.weights, np.int64).T + np.asarray(layer.bias, np.int64)
        h = (a >= 0).astype(np.int64)
    if net.output.one_unit:
        return (a[:, 0] >= 0).astype(np.int64)
    return np.argmax(a, axis=1)  # the lowest index wins ties


def _two_of_five(q) -> Network:
    """Reads inputs 1 and 3 of 5 (4 index bits at 2 bits per input), 3 classes (2-bit
    entries), heaviside, two hidden layers."""
    layers = [
        Layer([[0, 2, 0, -1, 0], [0, -1, 0, 2, 0], [0, 1, 0, 1, 0]], [-2, 0, -4], 2),
        Layer([[1, -1, 1], [-1, 1, 0]], [-1, -1], 1),
        Layer([[1, -1], [-1, 1], [-1, -1]], [0, 0, 1], 1),
    ]
    return Network(q, layers, classes=["lo", "mid", "hi"])


def _three_of_five(q) -> Network:
    """Reads inputs 0, 2 and 4 of 5 (6 index bits), sign activation, a single output unit
    (1-bit entries)."""
    layers = [
        Layer([[1, 0, -1, 0, 1], [-1, 0, 1, 0, 1], [0, 0, 1, 0, -1], [1, 0, 1, 0, 0]],
              [-1, 0, 1, -3], 1),
        Layer([[1, -1, 1, 1]], [0], 1),
    ]
    return Network(q, layers, classes=[0, 1], activation="sign", output="single")


def _quantizers() -> dict[str, object]:
    """2-bit quantizers of 5 inputs, one of each kind and C form: fitted uniform, quantile
    (a constant column: no cut point), supervised and pow2; affine rows shared by all inputs
    and by some (an index); hand-made cut points at -0/+0, huge, tiny and subnormal values."""
    rng = np.random.default_rng(7)
    X = np.column_stack([rng.normal(0, 3, 80), rng.uniform(-1, 1, 80), rng.integers(0, 9, 80),
                         np.full(80, 2.5), rng.exponential(5, 80)]).astype(F32)
    y = (X[:, 0] + X[:, 2] > 4).astype(int)
    return {
        "uniform": fit_quantizer("uniform", X, y, 2),
        "quantile": fit_quantizer("quantile", X, y, 2),
        "supervised": fit_quantizer("supervised", X, y, 2),
        "pow2": fit_quantizer("pow2", X, y, 2),
        "pow2-hand": Pow2Quantizer(2, [0, 3, -2, 1, 5], [-1, 2, 0, 40, -3]),
        "one-row": Quantizer(2, np.full(5, -1.0, F32), np.full(5, 1.25, F32)),
        "indexed-rows": Quantizer(2, np.array([0, 1, 0, 0, 1], F32),
                                  np.array([0.5, 2, 0.5, 0.5, 2], F32)),
        "cuts": ThresholdQuantizer(2, ([-1.0, 0.5], [0.0], [-3e38, 1e-45, 2e38], [],
                                       [-0.0, 1.0, 7.5])),
    }


def _nets() -> list[tuple[str, Network]]:
    return [(f"{kind}-{shape.__name__[1:]}", shape(q))
            for kind, q in _quantizers().items() for shape in (_two_of_five, _three_of_five)]


def test_the_test_networks_have_tables_that_are_not_constant() -> None:
    for label, net in _nets():
        table = predict_table(net)
        assert table is not None, label
        assert len(np.unique(table.classes)) > 1, label  # a constant table would prove little


def test_inputs_read_and_when_a_table_is_made() -> None:
    q = Quantizer.identity(5, 2)
    assert _two_of_five(q).inputs_read() == [1, 3]
    assert _three_of_five(q).inputs_read() == [0, 2, 4]
    assert predict_table(_two_of_five(q)).index_bits == 4
    rng = np.random.default_rng(0)

    def reading(n_used: int, n_inputs: int, bits: int) -> Network:
        net = random_network(rng, n_inputs, [3], 3, bits=bits)
        W = np.zeros((3, n_inputs), np.int64)
        W[0, :n_used] = 1  # every used column non-zero somewhere
        return Network(net.quantizer, [Layer(W, [0, 0, 0], 1), net.layers[1]],
                       classes=net.classes)

    assert MAX_TABLE_INDEX_BITS == 10
    assert predict_table(reading(5, 9, 2)).n_entries == 1024  # 10 bits: the largest table
    assert predict_table(reading(10, 12, 1)).n_entries == 1024
    assert predict_table(reading(1, 3, 8)).n_entries == 256
    assert predict_table(reading(11, 12, 1)) is None  # 11 bits
    assert predict_table(reading(2, 3, 8)) is None
    assert predict_table(reading(6, 6, 2)) is None
    assert predict_table(reading(0, 4, 2)) is None  # reads nothing: no table (a constant class)
    assert [entry_bits(k) for k in (2, 3, 4, 5, 16, 17, 256, 257)] == [1, 2, 2, 4, 4, 8, 8, None]
    # an ensemble's members keep their kernels (no table, also in the size report)
    two = Network(q, [_two_of_five(q).layers[0], Layer([[1, -1, 0], [0, 1, -1]], [0, 0], 1)],
                  classes=[0, 1])
    ens = Ensemble("ovo", [two, two, two], [(0, 1), (0, 2), (1, 2)], classes=[0, 1, 2])
    text = "".join(render_c(ens, "ens").values())
    assert "predict_table" not in text and "BDNN_PREDICT_TABLE" not in text
    assert size_report(ens)["predict_table"] is None


def test_entries_are_the_plain_forward_pass_packed_lsb_first() -> None:
    """Entry k, unpacked from the stored bytes, is the class of the row whose i-th input read has
    level (k >> (i b)) & L, computed by plain numpy."""
    for label, net in _nets():
        table = predict_table(net)
        b, L = int(net.quantizer.bits), net.quantizer.max_level
        rows, ks = [], []
        for levels in itertools.product(range(L + 1), repeat=len(table.inputs_read)):
            row = np.zeros(net.n_inputs, np.int64)
            k = 0
            for i, (j, v) in enumerate(zip(table.inputs_read, levels, strict=True)):
                row[j] = v
                k |= v << (i * b)
            rows.append(row)
            ks.append(k)
        want = np.zeros(table.n_entries, np.int64)
        want[ks] = _plain_classes(net, np.array(rows))
        stream = table.stream
        e = table.entry_bits
        assert len(stream) == table.n_bytes == -(-table.n_entries * e // 8), label
        got = [(int(stream[k * e // 8]) >> (k * e % 8)) & ((1 << e) - 1)
               for k in range(table.n_entries)]
        assert got == want.tolist(), label


_MAIN = """#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
%(includes)s
typedef struct {
    int n;
    int (*predict_q)(const uint8_t *xq);
    int (*predict)(const float *x);
} model;
static const model models[] = {
%(models)s};

/* q M v1 .. vn: NAME_predict_q; f M x1 .. xn: NAME_predict. One class per line. */
int main(void)
{
    char mode, token[80];
    int m, i;
    uint8_t xq[64];
    float x[64];
    while (scanf(" %%c %%d", &mode, &m) == 2) {
        for (i = 0; i < models[m].n; i++) {
            long v;
            if (mode == 'q' && scanf("%%ld", &v) == 1)
                xq[i] = (uint8_t)v;
            else if (mode == 'f' && scanf("%%79s", token) == 1)
                x[i] = strtof(token, NULL);
            else
                return 1;
        }
        printf("%%d\\n", mode == 'q' ? models[m].predict_q(xq) : models[m].predict(x));
    }
    return 0;
}
"""


def _build(cc: str, nets: list[Network], work: Path, cflags: tuple[str, ...]) -> Path:
    """All ``nets`` (as m0, m1, ...; 32- and 8-bit words alternately) and a main that calls
    their predict functions, compiled with one gcc call."""
    work.mkdir()
    names = [f"m{i}" for i in range(len(nets))]
    for i, (net, name) in enumerate(zip(nets, names, strict=True)):
        for fname, text in render_c(net, name, (32, 8)[i % 2]).items():
            (work / fname).write_text(text)
    (work / "main.c").write_text(_MAIN % {
        "includes": "".join(f'#include "{n}.h"\n' for n in names),
        "models": "".join(f"    {{{n.upper()}_N_INPUTS, {n}_predict_q, {n}_predict}},\n"
                          for n in names),
    })
    subprocess.run([cc, *c_host.CFLAGS, *cflags, "main.c", *(f"{n}.c" for n in names), "-o",
                    "main"], cwd=work, check=True)
    return work / "main"


def _code_rows(net: Network, rng: np.random.Generator) -> np.ndarray:
    """Every level combination of the inputs read, with random codes 0..255 on the others;
    then random codes 0..255 everywhere (above max_level on the inputs read too)."""
    used = tuple(net.inputs_read())
    L = net.quantizer.max_level
    combos = np.array(list(itertools.product(range(L + 1), repeat=len(used))))
    Q = rng.integers(0, 256, (len(combos), net.n_inputs))
    Q[:, list(used)] = combos
    return np.vstack([Q, rng.integers(0, 256, (150, net.n_inputs)),
                      np.full((1, net.n_inputs), 255), np.full((1, net.n_inputs), L + 1)])


@pytest.mark.parametrize("table, fused", [(1, 1), (1, 0), (0, 1)])
@pytest.mark.parametrize("float_quantizer", [0, 1])
def test_c_predict_functions_equal_plain_forward(cc, tmp_path, table, fused,
                                                 float_quantizer) -> None:
    """NAME_predict_q on every level combination of the inputs read (any codes elsewhere, codes
    above max_level) and NAME_predict on the probe float rows, for every quantizer kind and
    form: BDNN_FLOAT_QUANTIZER 0 and 1 (the affine ones), BDNN_POW2_QUANTIZER 1 and 0 (pow2),
    with the table (the inputs read' levels unrolled, BDNN_FUSED_INPUT 1, or in a loop, 0) and
    without; the table is really there exactly when BDNN_PREDICT_TABLE=1."""
    labels, nets = zip(*_nets(), strict=True)
    flags = (f"-DBDNN_PREDICT_TABLE={table}", f"-DBDNN_FLOAT_QUANTIZER={float_quantizer}",
             f"-DBDNN_POW2_QUANTIZER={1 - float_quantizer}", f"-DBDNN_FUSED_INPUT={fused}")
    exe = _build(cc, list(nets), tmp_path / "b", flags)
    rng = np.random.default_rng(10 * table + 2 * fused + float_quantizer)
    for i, (label, net) in enumerate(zip(labels, nets, strict=True)):
        Q = _code_rows(net, rng)
        got = [int(v) for v in c_host.run_harness(exe, c_host.encode_q(i, Q))]
        assert got == _plain_classes(net, Q).tolist(), f"predict_q of {label}"
        X = float_probe_rows(net, rng)
        got = [int(v) for v in c_host.run_harness(exe, c_host.encode_float(i, X))]
        want = _plain_classes(net, net.quantizer.quantize(X))
        assert got == want.tolist(), f"predict of {label}"
    nm = shutil.which("nm")
    if nm:
        symbols = subprocess.run([nm, str(exe)], capture_output=True, text=True).stdout
        assert ("m0_predict_table" in symbols) == bool(table)
        assert ("m1_predict_table_inputs" in symbols) == bool(table and not fused)


def _reading(rng: np.random.Generator, n_used: int, n_inputs: int, bits: int,
             n_classes: int) -> Network:
    """A random network whose first layer reads only ``n_used`` inputs (every other one where
    there are enough, else the first ones), with a random affine quantizer."""
    net = random_network(rng, n_inputs, [6], n_classes, weight_bound=2, bits=bits)
    W = np.array(net.layers[0].weights)
    spaced = list(range(0, n_inputs, 2))
    used = spaced[:n_used] if len(spaced) >= n_used else list(range(n_used))
    keep = np.zeros(n_inputs, bool)
    keep[used] = True
    W[:, ~keep] = 0
    W[0, used] = 1  # every used column non-zero
    q = Quantizer(bits, rng.normal(0, 2, n_inputs).astype(F32),
                  rng.uniform(0.2, 3, n_inputs).astype(F32))
    return Network(q, [Layer(W, net.layers[0].bias, 2), *net.layers[1:]],
                   classes=list(range(n_classes)))


def test_c_extreme_tables(cc, tmp_path) -> None:
    """The table's ends: one 8-bit input (no clamp needed, 256 entries), ten 1-bit inputs
    (1,024 entries of 4 bits, 5 classes), five 2-bit inputs with 20 classes (8-bit entries);
    NAME_predict_q on every code combination of the inputs read, NAME_predict on probe rows."""
    rng = np.random.default_rng(17)
    nets = [_reading(rng, 1, 3, 8, 3), _reading(rng, 10, 12, 1, 5), _reading(rng, 5, 6, 2, 20)]
    assert [(t.n_entries, t.entry_bits) for t in map(predict_table, nets)] == [
        (256, 2), (1024, 4), (1024, 8)]
    exe = _build(cc, nets, tmp_path / "b", ())
    for i, net in enumerate(nets):
        Q = _code_rows(net, rng)
        if net.quantizer.bits == 8:
            Q = np.vstack([Q, np.tile(np.arange(256)[:, None], (1, net.n_inputs))])
        got = [int(v) for v in c_host.run_harness(exe, c_host.encode_q(i, Q))]
        assert got == _plain_classes(net, Q).tolist(), f"predict_q of network {i}"
        X = float_probe_rows(net, rng)
        got = [int(v) for v in c_host.run_harness(exe, c_host.encode_float(i, X))]
        assert got == _plain_classes(net, net.quantizer.quantize(X)).tolist(), i


def test_harness_scores_debug_and_raw_input_still_run_the_network(cc, tmp_path) -> None:
    """With the table, the host harness (NAME_forward_debug_q: class, scores, hidden bits; and
    its check that NAME_predict_q agrees) and the raw-input API (NAME_predict_i16, which calls
    NAME_predict_q) equal the numpy reference; NAME_quantize is unchanged. Built with
    AddressSanitizer and UBSan."""
    nets = [with_raw_input(net, "int16") for _, net in _nets()[:4]]
    flags = ("-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic", *c_host.SANITIZE)
    exe = c_host.build([(n, f"h{i}") for i, n in enumerate(nets)], tmp_path, [32, 8, 16, 64],
                       flags)
    rng = np.random.default_rng(3)
    for i, net in enumerate(nets):
        Q = _code_rows(net, rng)
        got = c_host.parse_q(c_host.run_harness(exe, c_host.encode_q(i, Q)), net)
        assert got.class_index.tolist() == _plain_classes(net, Q).tolist()
        ref = net.forward_q(Q)
        assert np.array_equal(got.scores, ref.scores)
        for g, r in zip(got.hidden_bits, ref.hidden_bits, strict=True):
            assert np.array_equal(g, r)
        X = float_probe_rows(net, rng)
        classes, levels = c_host.parse_float(c_host.run_harness(exe, c_host.encode_float(i, X)))
        assert np.array_equal(levels, net.quantizer.quantize(X))
        assert classes.tolist() == _plain_classes(net, net.quantizer.quantize(X)).tolist()
    for net in nets[:2]:
        Xi = rng.integers(-40, 40, (200, net.n_inputs))
        classes, levels = c_host.run_int(net, Xi)
        want = net.quantizer.quantize(Xi.astype(F32))
        assert np.array_equal(levels, want)
        assert classes.tolist() == _plain_classes(net, want).tolist()


def test_a_wrong_table_is_caught(cc, tmp_path, monkeypatch) -> None:
    """The checks above can fail: one flipped entry makes NAME_predict_q and NAME_predict
    differ from the plain forward pass, and the host harness (verify's c-host) refuses it."""
    import codegen.predict_table as pt

    net = _two_of_five(_quantizers()["quantile"])
    real = pt.predict_table

    def broken(n):
        t = real(n)
        if t is None:
            return None
        classes = t.classes.copy()
        classes[5] = (classes[5] + 1) % n.n_classes
        return pt.PredictTable(t.inputs_read, t.input_bits, t.entry_bits, classes)

    monkeypatch.setattr(pt, "predict_table", broken)
    exe = _build(cc, [net], tmp_path / "b", ())
    Q = np.zeros((1, 5), np.int64)
    Q[0, 1], Q[0, 3] = 1, 1  # k = 1 | 1 << 2 = 5
    got = int(c_host.run_harness(exe, c_host.encode_q(0, Q))[0])
    assert got != int(_plain_classes(net, Q)[0])
    with pytest.raises(c_host.BackendError, match="predict_q gives another class"):
        c_host.run(net, Q)


def test_size_report_and_header_count_the_stored_table(cc, tmp_path) -> None:
    """bdnn size's predict table bytes are what the object file stores (nm -S); the header
    comment and the size text say so; the other rows keep the network's tables."""
    nm = require_tool("nm", "binutils")
    for i, (label, net) in enumerate(_nets()[:4]):
        name = f"t{i}"
        files = render_c(net, name, 32)
        for fname, text in files.items():
            (tmp_path / fname).write_text(text)
        # the plain tables (BDNN_LANES 0), which the size report's per-layer rows count
        subprocess.run([cc, *c_host.CFLAGS, "-DBDNN_LANES=0", "-c", f"{name}.c", "-o",
                        f"{name}.o"], cwd=tmp_path, check=True)
        out = subprocess.run([nm, "-S", f"{name}.o"], cwd=tmp_path, capture_output=True,
                             text=True, check=True).stdout
        sizes = {p[3]: int(p[1], 16) for p in (line.split() for line in out.splitlines())
                 if len(p) == 4}
        report = size_report(net, 32)
        table = report["predict_table"]
        assert sizes[f"{name}_predict_table"] == table["bytes"], label
        assert table["entries"] == 2 ** (2 * len(table["inputs_read"])), label
        assert report["total"]["weight_bytes"] == sum(
            sizes[f"{name}_w{k}"] for k in range(len(net.layers))), label
        assert f"predict table: {table['bytes']} B ({table['entries']} entries" in \
            format_size_table(report)
        header = files[f"{name}.h"]
        assert re.search(rf"\*   predict table: {table['bytes']} bytes \({table['entries']} "
                         rf"entries x {table['entry_bits']} bits?\)", header), label
        used = ", ".join(map(str, table["inputs_read"]))
        assert f"{name}_predict and {name}_predict_q look the class up in a table of\n * " \
               f"{table['entries']} entries" in header, label
        assert f"reads only inputs {used} (its other first-layer weight columns are zero)" \
            in header, label


def test_generated_table_code_is_deterministic(tmp_path) -> None:
    for _, net in _nets()[:4]:
        save_network(net, tmp_path / "m.json")
        assert render_c(net, "det", 16) == render_c(load_network(tmp_path / "m.json"), "det", 16)


def test_plan_without_table_for_members() -> None:
    net = _two_of_five(Quantizer.identity(5, 2))
    assert plan_model(net).predict_table is not None
    assert plan_model(net, with_predict_table=False).predict_table is None
