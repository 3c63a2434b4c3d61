"""The per-model Arduino library: layout, and its sketch and C sources compiled with avr-g++ /
avr-gcc against a minimal Arduino core stub, then run on an ATmega328P under simavr."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from firmware_fixtures.helpers import heaviside_single_net, need_target, sign_argmax_net

from bdnn.errors import BDNNError
from codegen.arduino import write_arduino_library
from codegen.targets.run_simavr import run_simavr

STUB = Path(__file__).parent / "firmware_fixtures" / "arduino_stub"


def test_library_layout_and_determinism(tmp_path):
    net = sign_argmax_net()
    paths = write_arduino_library(net, tmp_path / "lib", "gesture")
    rel = sorted(str(p.relative_to(tmp_path / "lib")) for p in paths)
    assert rel == ["examples/gesture/gesture.ino", "library.properties",
                   "src/gesture.c", "src/gesture.h"]
    props = (tmp_path / "lib" / "library.properties").read_text()
    assert "name=gesture\n" in props and "includes=gesture.h\n" in props
    write_arduino_library(net, tmp_path / "again", "gesture")
    for r in rel:
        assert (tmp_path / "lib" / r).read_bytes() == (tmp_path / "again" / r).read_bytes()


def test_bad_name_and_missing_parent_write_nothing(tmp_path):
    net = sign_argmax_net()
    with pytest.raises(BDNNError, match="not a C identifier"):
        write_arduino_library(net, tmp_path / "lib", "my-model")
    with pytest.raises(BDNNError, match="does not exist"):
        write_arduino_library(net, tmp_path / "no" / "such" / "lib", "m")
    assert not (tmp_path / "lib").exists() and not (tmp_path / "no").exists()


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.toolchain
@pytest.mark.parametrize("make_net", [sign_argmax_net, heaviside_single_net])
def test_sketch_compiles_and_runs_on_the_atmega328p(make_net, tmp_path):
    target = need_target("avr")
    net = make_net()
    xq = np.random.default_rng(3).integers(0, net.quantizer.max_level + 1, net.n_inputs)
    lib = tmp_path / "lib"
    write_arduino_library(net, lib, "sensor", example_xq=xq)
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
    expected = int(net.forward_q(xq.reshape(1, -1)).class_index[0])
    assert any(line.startswith(f"class {expected} ok in ") for line in lines), lines
