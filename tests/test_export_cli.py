"""``bdnn export``, ``bdnn verify`` and ``bdnn size``: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import math
import os
import sys
import types

import numpy as np
import pytest
from toolchains import require_tool

from bdnn.cli import main
from bdnn.model_file import load_network, save_network
from bdnn.network import ForwardResult, Layer, Network, random_network
from bdnn.quantizer import Quantizer


def run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture
def model(tmp_path) -> str:
    net = random_network(np.random.default_rng(0), 4, [5], 3, weight_bound=1, bits=4)
    net.quantizer = Quantizer(4, np.array([4.3, 2.0, 1.0, 0.1]), np.array([3.0, 4.0, 2.5, 6.0]))
    path = tmp_path / "iris-model.json"
    save_network(net, path)
    return str(path)


def assert_one_line_error(code: int, err: str, fragment: str) -> None:
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert fragment in err, err


def test_export_c_and_onnx(model, tmp_path, capsys) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, _ = run(["export", model, "--c", str(out_dir), "--onnx", str(tmp_path / "m.onnx"),
                        "--word-bits", "8"], capsys)
    assert code == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["iris_model.c", "iris_model.h"]
    assert "#define IRIS_MODEL_WORD_BITS 8" in (out_dir / "iris_model.h").read_text()
    assert (tmp_path / "m.onnx").stat().st_size > 0
    assert out.count("wrote ") == 3
    # --json: the same files, as one JSON object
    json_dir = tmp_path / "json_out"
    json_dir.mkdir()
    code, out, _ = run(["export", model, "--c", str(json_dir), "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert sorted(os.path.basename(p) for p in doc["written"]) == sorted(
        p.name for p in json_dir.iterdir()) == ["iris_model.c", "iris_model.h"]


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--name", "int"], "reserved"),
        (["--name", "1net"], "not a C identifier"),
        (["--name", "a-b"], "not a C identifier"),
        (["--name", "_x"], "not a C identifier"),
        (["--word-bits", "12"], "--word-bits"),
    ],
)
def test_export_bad_options(model, tmp_path, capsys, extra, fragment) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, _, err = run(["export", model, "--c", str(out_dir), *extra], capsys)
    assert_one_line_error(code, err, fragment)
    assert list(out_dir.iterdir()) == []


def test_export_bad_targets_write_nothing(model, tmp_path, capsys) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, _, err = run(["export", model, "--c", str(tmp_path / "missing" / "c")], capsys)
    assert_one_line_error(code, err, "does not exist")
    assert not (tmp_path / "missing").exists()
    # a new --c directory is created when its parent exists, but not when another target fails
    code, _, err = run(["export", model, "--c", str(tmp_path / "new"), "--onnx",
                        str(tmp_path / "missing" / "m.onnx")], capsys)
    assert_one_line_error(code, err, "does not exist")
    assert not (tmp_path / "new").exists()
    code, _, _ = run(["export", model, "--c", str(tmp_path / "new")], capsys)
    assert code == 0 and sorted(p.suffix for p in (tmp_path / "new").iterdir()) == [".c", ".h"]
    code, _, err = run(["export", model, "--c", model], capsys)
    assert_one_line_error(code, err, "not a directory")
    # the ONNX target fails: the C files must not be written either
    code, _, err = run(["export", model, "--c", str(out_dir), "--onnx",
                        str(tmp_path / "missing" / "m.onnx")], capsys)
    assert_one_line_error(code, err, "does not exist")
    assert list(out_dir.iterdir()) == []
    code, _, err = run(["export", model], capsys)
    assert_one_line_error(code, err, "nothing to export")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_export_unwritable_directory(model, tmp_path, capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    code, _, err = run(["export", model, "--c", str(locked)], capsys)
    assert_one_line_error(code, err, "not writable")


def test_export_invalid_model_and_overflow(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "bdnn", "version": 99}')
    code, _, err = run(["export", str(bad), "--c", str(tmp_path)], capsys)
    assert_one_line_error(code, err, "version")
    w = 2**24
    layers = [Layer([[w, w]], [0], w), Layer([[1], [-1]], [0, 0], 1)]
    big = Network(Quantizer.identity(2, 8), layers, classes=[0, 1])
    save_network(big, tmp_path / "big.json")
    code, _, err = run(["export", str(tmp_path / "big.json"), "--onnx", str(tmp_path / "b.onnx")],
                       capsys)
    assert_one_line_error(code, err, "hidden layer 0 accumulator")
    assert not (tmp_path / "b.onnx").exists()


def _csv(tmp_path, n_features: int) -> str:
    rng = np.random.default_rng(1)
    X = rng.normal(3, 2, (40, n_features))
    y = np.arange(40) % 2
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", fmt="%.5f")
    return str(path)


def test_verify_all_backends_on_csv(model, tmp_path, capsys) -> None:
    require_tool(os.environ.get("CC", "gcc"), "gcc")
    code, out, _ = run(["verify", model, _csv(tmp_path, 4), "--random", "30", "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["data_rows"] == 40 and doc["random_rows"] == 30
    status = {b["backend"]: (b["status"], b["rows"], b["mismatches"]) for b in doc["backends"]}
    host = {"numpy", "onnxruntime", "onnx-reference", "c-host", "c-host-code"}
    assert {k: v for k, v in status.items() if k in host} == {
        "numpy": ("reference", 70, 0),
        "onnxruntime": ("ok", 70, 0),
        "onnx-reference": ("ok", 70, 0),
        "c-host": ("ok", 70, 0),
        "c-host-code": ("ok", 70, 0),
    }
    # the firmware backends run by default too, where their toolchains exist
    for name, (state, rows, mismatches) in status.items():
        if name not in host:
            assert state == "skipped" or (state, rows, mismatches) == ("ok", 70, 0), name
    code, out, _ = run(["verify", model, "--random", "10", "--backends", "numpy,onnxruntime"],
                       capsys)
    assert code == 0 and "onnxruntime" in out and "c-host" not in out


def test_verify_bad_data_and_backend(model, tmp_path, capsys) -> None:
    code, _, err = run(["verify", model, _csv(tmp_path, 6)], capsys)
    assert_one_line_error(code, err, "6 features, the model expects 4")
    code, _, err = run(["verify", model, "--backends", "gpu"], capsys)
    assert_one_line_error(code, err, "unknown backend")


def test_verify_shows_each_backend_as_it_starts(model, capsys) -> None:
    """Progress on stderr: the model line first, then one line per backend in the table's
    order (a firmware backend takes a second or more); nothing with --quiet."""
    code, out, err = run(["verify", model, "--random", "5", "--backends",
                          "numpy,onnxruntime,onnx-reference"], capsys)
    assert code == 0
    lines = err.splitlines()
    assert all(line.startswith("[verify ") for line in lines), err
    assert model in lines[0] and "4 inputs" in lines[0]
    starts = [line.split("] ", 1)[1] for line in lines if "] backend " in line]
    assert starts == ["backend 1/3: numpy", "backend 2/3: onnxruntime",
                      "backend 3/3: onnx-reference"]
    table = [x.split()[0] for x in out.splitlines()[3:6]]
    assert table == ["numpy", "onnxruntime", "onnx-reference"], out
    code, _, err = run(["verify", model, "--random", "5", "--backends", "numpy", "--quiet"],
                       capsys)
    assert code == 0 and err == ""


def test_verify_without_c_compiler_skips_c_host(model, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no compiler anywhere
    monkeypatch.delenv("CC", raising=False)
    code, out, _ = run(["verify", model, "--random", "12"], capsys)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("c-host"))
    assert "skipped" in line and "no C compiler" in line
    assert "onnxruntime" in out


def test_verify_reports_a_differing_backend(model, capsys, monkeypatch) -> None:
    """A backend that flips one hidden bit on one row: exit 1 and the first differing row."""
    import codegen.backends as registry

    def flipped(net, Q):
        r = net.forward_q(Q)
        hidden = [h.copy() for h in r.hidden_bits]
        hidden[0][5, 0] ^= 1
        return ForwardResult(r.class_index, r.scores, hidden)

    broken = types.SimpleNamespace(name="flipper", available=lambda: (True, ""), run=flipped)
    known = registry.all_backends()
    monkeypatch.setattr(registry, "all_backends", lambda: {**known, "flipper": broken})
    code, out, _ = run(["verify", model, "--random", "20", "--backends", "numpy,flipper"], capsys)
    assert code == 1
    assert "flipper" in out and "random row 5" in out and "VERIFY FAILED" in out


def test_size_text_and_json(model, capsys) -> None:
    code, out, _ = run(["size", model, "--word-bits", "16", "--json"], capsys)
    doc = json.loads(out)
    assert code == 0
    hidden, output = doc["layers"]
    # independent: the planes are bit-contiguous across units, whatever the 16-bit word:
    # 5 units x 2 planes x 4 inputs = 40 bits = 5 bytes; 3 x 2 x 5 = 30 bits = 4 bytes;
    # thresholds (-bias) as signed nibbles if all fit [-8, 7], else int8 (|bias| <= 60)
    net = load_network(model)
    t = -net.layers[0].bias
    t_bytes = 3 if t.min() >= -8 and t.max() <= 7 else 5
    assert hidden["weight_bytes"] == 5 and hidden["threshold_bytes"] == t_bytes
    assert output["weight_bytes"] == 4
    assert math.isclose(doc["total"]["min_weight_bytes"], (20 + 15) * math.log2(3) / 8)
    code, out, _ = run(["size", model], capsys)
    assert code == 0 and "minimum" in out and "hidden 0" in out
    code, _, err = run(["size", model, "--word-bits", "7"], capsys)
    assert_one_line_error(code, err, "--word-bits")


def test_size_reports_the_predict_table(model, tmp_path, capsys) -> None:
    """A network that reads inputs 0 and 2 of 4 at 2 bits: 16 entries of 2 bits (3 classes),
    4 bytes, on a line of its own and in the JSON; the layer rows are unchanged."""
    layers = [Layer([[1, 0, -1, 0], [0, 0, 1, 0]], [0, -1], 1),
              Layer([[1, -1], [-1, 1], [0, 1]], [0, 0, -1], 1)]
    path = tmp_path / "table.json"
    save_network(Network(Quantizer.identity(4, 2), layers, classes=[0, 1, 2]), path)
    code, out, _ = run(["size", str(path), "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["predict_table"] == {
        "bytes": 4, "entries": 16, "entry_bits": 2, "inputs_read": [0, 2], "index_bits": 4}
    assert doc["total"]["weight_bytes"] == 2 + 2  # 2 x 2 x 4 bits; 3 x 2 x 2 = 12 bits
    code, out, _ = run(["size", str(path)], capsys)
    assert code == 0 and "predict table: 4 B (16 entries x 2 bits)" in out
    assert "reads only inputs 0, 2: 4 bits" in out
    code, out, _ = run(["size", model, "--json"], capsys)
    assert json.loads(out)["predict_table"] is None  # 4 inputs of 4 bits: 16 bits
    code, out, _ = run(["size", model], capsys)
    assert "predict table" not in out


def test_console_entry_point_runs_verify(model) -> None:
    """The module entry point as a user runs it (python -m bdnn)."""
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "bdnn", "verify", model, "--random", "5",
                           "--backends", "numpy,onnx-reference"], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == 0, proc.stderr
    assert "all backends agree" in proc.stdout


def test_export_refuses_a_model_too_large_for_the_target(tmp_path, capsys) -> None:
    net = random_network(np.random.default_rng(0), 64, [3000], 10)
    path = tmp_path / "big.json"
    save_network(net, path)
    for extra in (["--c", str(tmp_path / "c"), "--target", "avr"],
                  ["--arduino", str(tmp_path / "lib")]):
        code, _, err = run(["export", str(path), *extra], capsys)
        assert_one_line_error(code, err, "does not fit target avr")
        assert "32768 bytes of flash" in err
    assert not (tmp_path / "c").exists() and not (tmp_path / "lib").exists()
    code, _, err = run(["export", str(path), "--c", str(tmp_path / "c"), "--target", "z80"],
                       capsys)
    assert_one_line_error(code, err, "unknown target")
    code, _, _ = run(["export", str(path), "--c", str(tmp_path / "c"), "--target", "cortex-m3"],
                     capsys)
    assert code == 0 and (tmp_path / "c" / "big.c").exists()
