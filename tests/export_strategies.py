"""Random networks and inputs for the export tests (hypothesis strategies + plain helpers)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from bdnn.network import Layer, Network, random_network


@dataclass(frozen=True)
class NetSpec:
    seed: int
    n_inputs: int
    hidden: tuple[int, ...]
    n_classes: int
    bounds: tuple[int, ...]
    activation: str
    output: str
    bits: int
    word_bits: int
    extreme: bool  # weights at +-w, biases at their bounds or 0

    def build(self) -> Network:
        rng = np.random.default_rng(self.seed)
        net = random_network(
            rng,
            self.n_inputs,
            list(self.hidden),
            self.n_classes,
            weight_bound=list(self.bounds),
            activation=self.activation,
            output=self.output,
            bits=self.bits,
        )
        if not self.extreme:
            return net
        layers = []
        for i, layer in enumerate(net.layers):
            w = layer.weight_bound
            W = rng.choice([-w, 0, w], size=layer.weights.shape, p=[0.45, 0.1, 0.45])
            bound = net.bias_bound(i)
            b = rng.choice([-bound, -1, 0, 1, bound], size=layer.n_out)
            layers.append(Layer(W, b, w))
        net.layers = layers
        net.validate()
        return net


@st.composite
def net_specs(draw, max_width: int = 70, max_bound: int = 3) -> NetSpec:
    depth = draw(st.integers(1, 3))
    output = draw(st.sampled_from(["argmax", "argmax", "single"]))
    return NetSpec(
        seed=draw(st.integers(0, 2**32 - 1)),
        n_inputs=draw(st.integers(1, max_width)),
        hidden=tuple(draw(st.lists(st.integers(1, max_width), min_size=depth, max_size=depth))),
        n_classes=2 if output == "single" else draw(st.integers(2, 5)),
        bounds=tuple(
            draw(st.lists(st.integers(1, max_bound), min_size=depth + 1, max_size=depth + 1))
        ),
        activation=draw(st.sampled_from(["heaviside", "sign"])),
        output=output,
        bits=draw(st.integers(1, 8)),
        word_bits=draw(st.sampled_from([8, 16, 32, 64])),
        extreme=draw(st.booleans()),
    )


def test_inputs(net: Network, n: int, seed: int) -> np.ndarray:
    """All-0, all-max, one-hot-max rows (a few), then uniform levels and random extremes."""
    top = net.quantizer.max_level
    rng = np.random.default_rng(seed)
    rows = [np.zeros(net.n_inputs, np.int64), np.full(net.n_inputs, top, np.int64)]
    for j in rng.choice(net.n_inputs, size=min(2, net.n_inputs), replace=False):
        row = np.zeros(net.n_inputs, np.int64)
        row[j] = top
        rows.append(row)
    k = max(n - len(rows), 0)
    uniform = rng.integers(0, top + 1, size=(k - k // 2, net.n_inputs))
    extremes = rng.integers(0, 2, size=(k // 2, net.n_inputs)) * top
    return np.vstack([np.array(rows), uniform, extremes]).astype(np.uint8)


test_inputs.__test__ = False  # a helper, not a pytest test


#: IEEE specials every float-input test feeds: both NaN signs, both infinities and zeros, the
#: smallest denormals, the largest finite values
FLOAT_SPECIALS = np.array([np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, -1e-45, 3.4e38,
                           -3.4e38], np.float32)


def float_probe_rows(net: Network, rng: np.random.Generator, n_special: int = 60,
                     n_random: int = 150) -> np.ndarray:
    """Float rows for ``NAME_predict``: every quantizer cut point and 1 ulp either side, each
    special in every input, ``n_special`` rows of specials mixed, ``n_random`` normal rows
    at magnitudes 1e-3 .. 1e3."""
    from codegen.level_keys import boundary_inputs

    return np.vstack([
        boundary_inputs(net.quantizer),
        np.tile(FLOAT_SPECIALS[:, None], (1, net.n_inputs)),
        rng.choice(FLOAT_SPECIALS, (n_special, net.n_inputs)),
        rng.normal(0, 1, (n_random, net.n_inputs))
        * 10.0 ** rng.integers(-3, 4, (n_random, 1)),
    ]).astype(np.float32)


def assert_same(expected, got, context: str = "") -> None:
    """Class, every score and every hidden bit equal (with the first differing row in the msg)."""
    assert np.array_equal(np.asarray(got.class_index), expected.class_index), (
        f"{context}: class index"
    )
    assert np.array_equal(np.asarray(got.scores), expected.scores), f"{context}: scores"
    assert len(got.hidden_bits) == len(expected.hidden_bits), f"{context}: hidden layer count"
    for i, (e, g) in enumerate(zip(expected.hidden_bits, got.hidden_bits, strict=True)):
        assert np.array_equal(np.asarray(g), e), f"{context}: hidden layer {i} bits"


def table_sizes(cc: str, workdir: Path, net: Network, name: str, word_bits: int,
                cflags: tuple[str, ...]) -> dict[str, int]:
    """Bytes of every ``{name}_w<i>``, ``{name}_threshold<i>`` (and its ``_base``),
    ``{name}_offset<i>`` table of ``net``'s C export compiled with ``cc cflags``, from nm -S of
    the object."""
    from toolchains import require_tool

    from codegen.c_export import export_c

    nm = require_tool("nm", "binutils")
    export_c(net, workdir, name, word_bits)
    obj = workdir / f"{name}.o"
    subprocess.run([cc, *cflags, "-c", f"{name}.c", "-o", obj.name], cwd=workdir, check=True)
    out = subprocess.run([nm, "-S", str(obj)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        table = rf"{name}_(w\d+|threshold\d+(_base)?|offset\d+)"
        if len(parts) == 4 and re.fullmatch(table, parts[3]):
            sizes[parts[3]] = int(parts[1], 16)
    return sizes
