"""Model file: round trip, atomic writes, and every malformed input rejected in one line."""

import json

import numpy as np
import pytest

from bdnn.errors import BDNNError, ModelFileError
from bdnn.model_file import load_network, network_to_dict, save_network
from bdnn.network import random_network
from bdnn.quantizer import Quantizer


@pytest.fixture
def net():
    n = random_network(np.random.default_rng(0), 3, (4, 2), 3, weight_bound=3,
                       activation="sign")
    n.quantizer = Quantizer(4, np.array([0.1, -3.25, 7.0]), np.array([1.7, 0.3, 2.0]))
    n.classes = ["a", "b", "c"]
    n.training = {"method": "exact", "objective": 3, "gap": 0.0}
    return n


def test_round_trip_is_exact(tmp_path, net):
    p = tmp_path / "m.json"
    save_network(net, p)
    back = load_network(p)
    assert network_to_dict(back) == network_to_dict(net)
    assert back.quantizer.lo.dtype == np.float32
    X = np.random.default_rng(1).normal(0, 5, size=(50, 3))
    assert np.array_equal(back.forward(X).scores, net.forward(X).scores)
    assert json.loads(p.read_text())["format"] == "bdnn"
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]  # no temp left


def test_missing_directory_writes_nothing(tmp_path, net):
    with pytest.raises(BDNNError, match="does not exist"):
        save_network(net, tmp_path / "nope" / "m.json")
    assert not (tmp_path / "nope").exists()


def _write(tmp_path, doc):
    p = tmp_path / "bad.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def _good(net):
    return network_to_dict(net)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="onnx"), "not a bdnn model file"),
    (lambda d: d.update(version=3), "unsupported model file version 3"),
    (lambda d: d.pop("quantizer"), "quantizer"),
    (lambda d: d["quantizer"].update(lo=[0.0]), "one per input"),
    (lambda d: d["quantizer"].update(bits=9), "bits"),
    (lambda d: d["layers"][0]["weights"].append([1]), "same, non-zero length"),
    (lambda d: d["layers"][0].update(bias=[0]), "biases"),
    (lambda d: d["layers"][1].update(weights=[[1, 0, 0, 1, 1]] * 2), "takes 5 inputs"),
    (lambda d: d["layers"][0]["weights"][0].__setitem__(0, 4), "weight bound"),
    (lambda d: d["layers"][0].update(weight_bound=0), "weight_bound"),
    (lambda d: d.update(classes=["a", "b"]), "expected 2"),
    (lambda d: d.update(classes=["a", "a", "b"]), "distinct"),
    (lambda d: d["layers"][0]["weights"][0].__setitem__(0, 1.5), "integers"),
    (lambda d: d.update(activation="relu"), "activation"),
    (lambda d: d.update(layers=d["layers"][-1:]), "at least one hidden layer"),
])
def test_malformed_models(tmp_path, net, mutate, message):
    doc = _good(net)
    mutate(doc)
    with pytest.raises(ModelFileError, match=message) as e:
        load_network(_write(tmp_path, doc))
    assert "\n" not in str(e.value)


def test_not_json_and_missing(tmp_path):
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_network(_write(tmp_path, "{nope"))
    with pytest.raises(ModelFileError, match="does not exist"):
        load_network(tmp_path / "missing.json")
    with pytest.raises(ModelFileError, match="JSON object"):
        load_network(_write(tmp_path, "[1, 2]"))
