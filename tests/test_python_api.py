"""The Python API has the command line's export, verify and size steps (README "From Python"),
and ``evaluate`` scores the held-out part recorded in the model file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

import bdnn
from bdnn.cli import main
from bdnn.data import load_dataset
from bdnn.model_file import save_network
from bdnn.network import random_network

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def net():
    return random_network(np.random.default_rng(1), 4, (3,), 3)


def run_main(argv, capsys) -> tuple[int, str, str]:
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_export_functions_match_the_command_line(tmp_path, net, capsys):
    """bdnn.export_c/export_onnx/export_arduino write exactly what `bdnn export` writes, and
    create a missing output directory as it does."""
    model = tmp_path / "m.json"
    save_network(net, model)
    code, _, err = run_main(["export", model, "--c", tmp_path / "cli_c", "--name", "m",
                             "--onnx", tmp_path / "cli.onnx", "--arduino", tmp_path / "cli_ard"],
                            capsys)
    assert code == 0, err
    c_files = bdnn.export_c(net, tmp_path / "api_c", name="m")  # directory did not exist
    assert sorted(p.name for p in c_files) == ["m.c", "m.h"]
    for name in ("m.c", "m.h"):
        assert (tmp_path / "api_c" / name).read_text() == (tmp_path / "cli_c" / name).read_text()
    assert bdnn.export_onnx(model, tmp_path / "api.onnx") == tmp_path / "api.onnx"
    assert (tmp_path / "api.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    # the library takes its folder's name: the same name in another directory
    (tmp_path / "api").mkdir()
    written = bdnn.export_arduino(net, tmp_path / "api" / "cli_ard", name="m")
    cli_files = sorted(p.relative_to(tmp_path / "cli_ard") for p in
                       (tmp_path / "cli_ard").rglob("*") if p.is_file())
    assert sorted(p.relative_to(tmp_path / "api" / "cli_ard") for p in written) == cli_files
    for rel in cli_files:
        api, cli = tmp_path / "api" / "cli_ard" / rel, tmp_path / "cli_ard" / rel
        assert api.read_bytes() == cli.read_bytes()
    assert "name=cli_ard\n" in (tmp_path / "cli_ard" / "library.properties").read_text()


def test_export_refuses_like_the_command_line(tmp_path, net):
    with pytest.raises(bdnn.BDNNError, match="does not exist"):
        bdnn.export_c(net, tmp_path / "no" / "deeper")
    assert not (tmp_path / "no").exists()
    with pytest.raises(bdnn.BDNNError, match="C identifier"):
        bdnn.export_c(net, tmp_path / "c", name="1bad")
    assert not (tmp_path / "c").exists()  # nothing created on failure
    os.mkfifo(tmp_path / "pipe.onnx")
    with pytest.raises(bdnn.BDNNError, match="not a regular file"):
        bdnn.export_onnx(net, tmp_path / "pipe.onnx")
    assert stat.S_ISFIFO((tmp_path / "pipe.onnx").lstat().st_mode)


def test_verify_and_size(net):
    X = np.random.default_rng(0).uniform(0, 15, size=(20, 4))
    report = bdnn.verify(net, X, n_random=50, backends=["numpy", "onnxruntime"])
    assert report.ok and report.to_dict()["backends"][1]["status"] == "ok"
    size = bdnn.size(net)
    # 4x3 and 3x3 ternary weights: 2 bits each, bit-contiguous per layer
    assert size["total"]["weight_bytes"] == -(-12 * 2 // 8) + -(-9 * 2 // 8)
    assert size["total"]["min_weight_bytes"] == pytest.approx(21 * np.log2(3) / 8)
    with pytest.raises(bdnn.BDNNError, match="model expects"):
        bdnn.verify(net, X[:, :3])


def test_readme_documents_the_api_and_path():
    readme = (ROOT / "README.md").read_text()
    for name in ("bdnn.export_c", "bdnn.export_onnx", "bdnn.export_arduino", "bdnn.verify",
                 "bdnn.size", ". .venv/bin/activate"):
        assert name in readme, name
    assert ". $(VENV)/bin/activate" in (ROOT / "Makefile").read_text()


def test_evaluate_scores_the_recorded_held_out_part(tmp_path, capsys):
    """A model trained with --split test --test-fraction 0.3 --seed 4 on a CSV is evaluated
    on the same 30 % test rows by default; --part all scores every row."""
    ds = load_dataset("iris", split="none")
    csv = tmp_path / "iris.csv"
    rows = ["a,b,c,d,label"] + [",".join(f"{v:g}" for v in x) + f",{ds.classes[k]}"
                                for x, k in zip(ds.X, ds.y, strict=True)]
    csv.write_text("\n".join(rows) + "\n")
    model = tmp_path / "m.json"
    code, out, err = run_main(["train", csv, "--hidden", "2", "--time-limit", "3", "--split",
                               "test", "--test-fraction", "0.3", "--seed", "4", "--quiet",
                               "--json", "-o", model], capsys)
    assert code == 0, err
    trained = json.loads(out)
    net = bdnn.load_network(model)
    # the same split, computed independently of evaluate
    split = load_dataset(str(csv), split="test", test_fraction=0.3, seed=4,
                         classes=list(net.classes))
    Xt, yt = split.test_part()
    code, out, err = run_main(["evaluate", model, csv, "--json"], capsys)
    assert code == 0, err
    ev = json.loads(out)
    assert ev["part"] == "test" and ev["rows"] == len(yt) == 45
    assert ev["accuracy"] == pytest.approx(float(np.mean(net.predict(Xt) == yt)))
    assert ev["accuracy"] == pytest.approx(trained["test_accuracy"])
    assert "as recorded in the model file" in ev["split"]
    code, out, err = run_main(["evaluate", model, csv], capsys)
    assert "test part of the 0.3 test split (seed 4, as recorded in the model file)" in out
    code, out, err = run_main(["evaluate", model, csv, "--part", "all", "--json"], capsys)
    ev = json.loads(out)
    assert ev["rows"] == 150
    assert ev["accuracy"] == pytest.approx(float(np.mean(net.predict(split.X) == split.y)))
    code, out, err = run_main(["evaluate", model, csv, "--part", "train", "--json"], capsys)
    assert json.loads(out)["rows"] == 105


@pytest.mark.parametrize("where", ["weight", "bias"])
def test_network_refuses_min_int64(net, where):
    """np.abs(-2**63) wraps to a negative number; the bound checks must not be fooled."""
    layer = net.layers[0]
    W, b = layer.weights.copy(), layer.bias.copy()
    if where == "weight":
        W[0, 0] = np.iinfo(np.int64).min
    else:
        b[0] = np.iinfo(np.int64).min
    with pytest.raises(bdnn.BDNNError, match="9223372036854775808 exceeds|beyond its bound"):
        bdnn.Network(net.quantizer, [bdnn.Layer(W, b, layer.weight_bound), *net.layers[1:]],
                     classes=net.classes)
