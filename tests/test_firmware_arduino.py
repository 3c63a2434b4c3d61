"""The per-model Arduino library: layout, and its sketch and C sources compiled with avr-g++ /
avr-gcc against a minimal Arduino core stub, then run on an ATmega328P under simavr."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from firmware_fixtures.helpers import heaviside_single_net, need_target, sign_argmax_net

from bdnn.data import load_dataset
from bdnn.errors import BDNNError
from bdnn.network import Network, random_network
from bdnn.quantizer import Quantizer
from codegen.arduino import ExampleRow, write_arduino_library
from codegen.targets.run_simavr import run_simavr

STUB = Path(__file__).parent / "firmware_fixtures" / "arduino_stub"


def test_library_layout_and_determinism(tmp_path):
    net = sign_argmax_net()
    paths = write_arduino_library(net, tmp_path / "lib", "gesture")
    rel = sorted(str(p.relative_to(tmp_path / "lib")) for p in paths)
    assert rel == ["examples/gesture/gesture.ino", "library.properties",
                   "src/gesture.c", "src/gesture.h"]
    props = (tmp_path / "lib" / "library.properties").read_text()
    # name= is the library folder's name (the Arduino IDE expects them equal)
    assert "name=lib\n" in props and "includes=gesture.h\n" in props
    (tmp_path / "again").mkdir()
    write_arduino_library(net, tmp_path / "again" / "lib", "gesture")
    for r in rel:
        assert (tmp_path / "lib" / r).read_bytes() == \
            (tmp_path / "again" / "lib" / r).read_bytes()
    with pytest.raises(BDNNError, match="not an Arduino library name"):
        write_arduino_library(net, tmp_path / "bad name!", "gesture")
    assert not (tmp_path / "bad name!").exists()


def test_bad_name_and_missing_parent_write_nothing(tmp_path):
    net = sign_argmax_net()
    with pytest.raises(BDNNError, match="not a C identifier"):
        write_arduino_library(net, tmp_path / "lib", "my-model")
    with pytest.raises(BDNNError, match="does not exist"):
        write_arduino_library(net, tmp_path / "no" / "such" / "lib", "m")
    assert not (tmp_path / "lib").exists() and not (tmp_path / "no").exists()


def iris_net() -> Network:
    """A random 4-6-3 network with iris's classes and a quantizer fitted on iris, whose
    training record names the data set as ``bdnn train`` writes it."""
    ds = load_dataset("iris", split="paper", seed=0)
    net = random_network(np.random.default_rng(5), 4, [6], 3)
    net.quantizer = Quantizer.fit(ds.train_part()[0], 4)
    net.classes = list(ds.classes)
    net.training = {"data": "iris", "split": "paper", "split_seed": 0}
    return net


def sketch_row(ino: str) -> tuple[np.ndarray, int]:
    """The float row and expected class embedded in a generated sketch."""
    body = ino.split("example_x[", 1)[1].split("{", 1)[1].split("}", 1)[0]
    x = np.array([float(v.strip().rstrip("f")) for v in body.split(",")], np.float32)
    expected = int(ino.split("expected_class = ", 1)[1].split(";", 1)[0])
    return x, expected


def test_sketch_embeds_the_first_test_row_of_the_training_data(tmp_path):
    net = iris_net()
    write_arduino_library(net, tmp_path / "iris_lib", "iris")
    ino = (tmp_path / "iris_lib/examples/iris/iris.ino").read_text()
    x, expected = sketch_row(ino)
    Xt, yt = load_dataset("iris", split="paper", seed=0).test_part()
    np.testing.assert_array_equal(x, Xt[0].astype(np.float32))
    # the expected class is the numpy forward pass of that row, quantizer included
    q = np.floor((x - net.quantizer.lo) * net.quantizer.scale + np.float32(0.5))
    q = np.clip(q, 0, net.quantizer.max_level).astype(np.uint8)
    assert expected == int(net.forward_q(q.reshape(1, -1)).class_index[0])
    assert f"Its label: {net.classes[int(yt[0])]}." in ino
    assert "iris_predict(example_x)" in ino and "iris_class_names[c]" in ino


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.toolchain
@pytest.mark.parametrize("make_net", [sign_argmax_net, heaviside_single_net, iris_net])
def test_sketch_compiles_and_runs_on_the_atmega328p(make_net, tmp_path):
    """The sketch, compiled with avr-g++ against the generated library, prints the class index
    and name of its embedded row, equal to the numpy forward pass."""
    target = need_target("avr")
    net = make_net()
    example = None
    if make_net is not iris_net:  # no training data: a random raw row
        x = np.random.default_rng(3).normal(0, 10, net.n_inputs).astype(np.float32)
        example = ExampleRow(x, "random")
    lib = tmp_path / "lib"
    write_arduino_library(net, lib, "sensor", example=example)
    mcu = ["-mmcu=atmega328p", "-DF_CPU=16000000UL", "-Os", "-Wall", "-Wextra", "-Werror"]
    inc = [f"-I{STUB}", f"-I{lib / 'src'}"]
    _run(["avr-g++", *mcu, *inc, "-x", "c++", "-c", str(lib / "examples/sensor/sensor.ino"),
          "-o", "sketch.o"], tmp_path)
    _run(["avr-g++", *mcu, *inc, "-c", str(STUB / "main.cpp"), "-o", "main.o"], tmp_path)
    _run(["avr-gcc", *mcu, "-std=c99", "-pedantic", "-c", str(lib / "src/sensor.c"),
          "-o", "model.o"], tmp_path)
    _run(["avr-gcc", "-mmcu=atmega328p", "-o", "sketch.elf", "sketch.o", "main.o", "model.o"],
         tmp_path)
    lines = run_simavr(target, tmp_path / "sketch.elf")
    x, expected = sketch_row((lib / "examples/sensor/sensor.ino").read_text())
    assert example is None or (x == example.x).all()
    assert expected == int(net.forward(x.reshape(1, -1)).class_index[0])
    name = net.classes[expected]
    assert any(line.startswith(f"class {expected} {name} ok in ") for line in lines), lines
