"""docs/export.md names every macro, table and function of the generated C and every name of the
ONNX graph, so the documentation cannot drift from the code; the header macros hold the values
the documentation gives them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bdnn.network import Layer, Network, random_network
from bdnn.quantizer import Pow2Quantizer, ThresholdQuantizer
from bdnn.raw_input import raw_input_of, with_raw_input
from codegen.c_export import render_c
from codegen.onnx_export import build_onnx
from codegen.plan import plan_model

DOC = (Path(__file__).resolve().parents[1] / "docs" / "export.md").read_text(encoding="utf-8")
NAME = "demo"

DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)", re.M)
ARRAY = re.compile(r"static const [a-z0-9_]+ (?:\*const )?(demo_[a-z0-9_]+)\[")
FUNCTION = re.compile(r"^(?:int|void) (demo_[a-z0-9_]+)\(", re.M)


def _models() -> list[tuple[Network, int]]:
    """Networks and word sizes that together reach every branch of the templates: both
    first-layer kernels, popcounts of 8, 16, 32 and 64 bits, sign and heaviside, argmax and a
    single output unit, nibble and wide constants."""
    rng = np.random.default_rng(5)
    thresholds = random_network(rng, 3, [4], 3, weight_bound=1, bits=2)
    thresholds.quantizer = ThresholdQuantizer(2, ([-1.0, 0.5], [2.0], []))
    pow2 = random_network(rng, 12, [3], 2, weight_bound=1, bits=4)
    pow2.quantizer = Pow2Quantizer(4, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -3, 2],
                                   [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, -7])
    # DSP thresholds stored as a base + int8 (all weights -1: 480 - bias, 210..300), and a pow2
    # quantizer with a row per input and int8 offsets (the FPU form's rounding-mode macros)
    based = random_network(rng, 30, [6], 2, weight_bound=1, bits=4)
    based = Network(Pow2Quantizer(4, np.arange(30) % 5 - 2, np.arange(30) % 7 - 3),
                    [Layer(-np.ones((6, 30), np.int64), rng.integers(180, 271, 6), 1),
                     based.layers[1]], classes=based.classes)
    return [
        (based, 32),
        (random_network(rng, 6, [5, 3], 3, weight_bound=1, bits=4), 32),  # subset sums
        (random_network(rng, 70, [9], 2, weight_bound=2, bits=1, output="single"), 64),
        (random_network(rng, 20, [17], 4, weight_bound=3, bits=2, activation="sign"), 16),
        (random_network(rng, 40, [33, 4], 3, weight_bound=100, bits=8), 32),
        (with_raw_input(random_network(rng, 5, [3], 2, weight_bound=1, bits=1), "int32"), 8),
        (with_raw_input(thresholds, "int16"), 32),  # fitted thresholds, int16 raw input,
        # and a predict table (it reads 3 inputs of 2 bits)
        (pow2, 32),  # power-of-two steps: exponent and offset tables, rows shared by an index
    ]


def _normalized(symbol: str) -> str:
    """``DEMO_X`` -> ``NAME_X``, ``demo_w0`` -> ``name_w<i>``, ``BDNN_DEMO_H`` -> ``BDNN_NAME_H``
    (the documentation's spelling)."""
    symbol = symbol.replace(NAME.upper(), "NAME").replace(f"{NAME}_", "name_")
    return re.sub(r"^name_(w|threshold|offset)\d+(_base)?$", r"name_\1<i>\2", symbol)


def test_every_generated_c_name_is_documented() -> None:
    macros, arrays, functions = set(), set(), set()
    for net, word_bits in _models():
        files = render_c(net, NAME, word_bits)
        for text in files.values():
            macros |= {_normalized(m) for m in DEFINE.findall(text)}
            arrays |= {_normalized(a) for a in ARRAY.findall(text)}
        functions |= {_normalized(f) for f in FUNCTION.findall(files[f"{NAME}.h"])}
    # the models above reach every template branch that defines a macro
    assert {"NAME_SIMD", "NAME_LAYER0_INPUTS", "NAME_MAX_LEVEL", "BDNN_NAME_H"} <= macros
    assert {f"BDNN_POPCOUNT{n}" for n in (8, 16, 32, 64)} <= macros
    assert {"name_w<i>", "name_threshold<i>", "name_offset<i>", "name_nibble_mask",
            "name_class_names", "name_level_key", "name_lo", "name_scale"} <= arrays
    assert "BDNN_FLOAT_QUANTIZER" in macros
    assert "name_threshold<i>_base" in arrays and "NAME_ROUND_DOWN" in macros
    assert {"name_predict_q", "name_scores_q", "name_forward_debug_q"} <= functions
    assert {"name_predict_i16", "name_quantize_i32", "NAME_RAW_INPUT_I16"} <= functions | macros
    assert {"name_level_i16", "name_top_i32"} <= arrays
    # models that read few input bits: the predict table (its loop over the inputs read too)
    assert {"name_predict_table", "name_predict_table_inputs"} <= arrays
    assert "BDNN_PREDICT_TABLE" in macros
    missing = sorted(f"`{s}`" for s in macros | arrays | functions if f"`{s}" not in DOC)
    assert not missing, f"docs/export.md does not mention {', '.join(missing)}"


def _defines(header: str) -> dict[str, str]:
    return dict(re.findall(rf"^#define {NAME.upper()}_(\w+) (.+)$", header, re.M))


@pytest.mark.parametrize("model", range(len(_models())))
def test_header_macro_values(model: int) -> None:
    """The documented meaning of each header macro, computed from the network itself."""
    net, word_bits = _models()[model]
    d = _defines(render_c(net, NAME, word_bits)[f"{NAME}.h"])
    widths = [layer.n_out for layer in net.layers[:-1]]
    bits = int(net.quantizer.bits)
    assert int(d["N_INPUTS"]) == net.layers[0].n_in
    assert int(d["N_CLASSES"]) == len(net.classes)
    assert int(d["N_OUTPUTS"]) == (1 if net.output == "single" else len(net.classes))
    assert int(d["N_HIDDEN_LAYERS"]) == len(widths)
    assert int(d["N_HIDDEN_UNITS"]) == sum(widths)
    assert d["HIDDEN_WIDTHS"] == "{ " + ", ".join(map(str, widths)) + " }"
    assert int(d["MAX_LEVEL"]) == 2**bits - 1 == net.quantizer.max_level
    assert int(d["INPUT_BITS"]) == bits
    assert int(d["WORD_BITS"]) == word_bits
    assert int(d["SCRATCH_BYTES"]) == plan_model(net, word_bits).scratch_bytes
    raw = raw_input_of(net)
    if raw is not None:
        assert d.pop(f"RAW_INPUT_{raw.suffix.upper()}") == "1"
    assert set(d) == {"N_INPUTS", "N_CLASSES", "N_OUTPUTS", "N_HIDDEN_LAYERS", "N_HIDDEN_UNITS",
                      "HIDDEN_WIDTHS", "MAX_LEVEL", "INPUT_BITS", "WORD_BITS", "SCRATCH_BYTES"}


def _graph_name(name: str) -> str:
    return re.sub(r"^(W|threshold|offset|acc|on|in|hidden_bits)(\d+)", r"\1<i>", name)


def test_every_onnx_name_is_documented() -> None:
    names, metadata, outputs = set(), set(), set()
    for net, _ in _models():
        for float_input in (False, True):
            model = build_onnx(net, hidden_outputs=True, float_input=float_input)
            g = model.graph
            outputs |= {_graph_name(o.name) for o in g.output}
            names |= {_graph_name(t.name) for t in [*g.input, *g.output, *g.initializer]}
            names |= {_graph_name(out) for node in g.node for out in node.output}
            metadata |= {p.key for p in model.metadata_props}
    assert {"class", "scores", "hidden_bits<i>"} == outputs
    assert {"xq", "x", "threshold<i>", "offset<i>", "score_scale"} <= names
    missing = sorted(n for n in names | metadata if f"`{n}`" not in DOC
                     and not (n.startswith("q_") and "`q_*`" in DOC))
    assert not missing, f"docs/export.md does not mention {', '.join(missing)}"
    assert "max_level" in metadata and "input_levels" not in metadata
