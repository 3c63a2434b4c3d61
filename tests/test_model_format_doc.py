"""The stand-alone reader printed in docs/model-format.md agrees with the package."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from bdnn.model_file import dumps_model
from bdnn.network import random_network
from bdnn.quantizer import Pow2Quantizer, Quantizer, ThresholdQuantizer

DOC = Path(__file__).resolve().parents[1] / "docs" / "model-format.md"


@pytest.fixture(scope="module")
def doc_predict():
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)  # the documented reader, with the standard library only
    return namespace["predict"]


@pytest.mark.parametrize("activation", ["heaviside", "sign"])
@pytest.mark.parametrize("output", ["argmax", "single"])
def test_documented_reader_matches(doc_predict, activation, output):
    rng = np.random.default_rng(len(activation) + len(output))
    net = random_network(rng, 5, (6, 3), 2 if output == "single" else 4, weight_bound=2,
                         activation=activation, output=output, bits=3)
    net.quantizer = Quantizer(3, rng.normal(0, 1, 5), rng.uniform(0.2, 3, 5))
    net.classes = [f"c{k}" for k in range(net.n_classes)]
    model = json.loads(dumps_model(net))
    X = rng.normal(0, 3, size=(300, 5))
    X[0, 0], X[1, 1], X[2, 2] = np.nan, np.inf, -np.inf
    expect = [net.classes[c] for c in net.predict(X)]
    got = [doc_predict(model, [float(v) for v in row]) for row in X]
    assert got == expect


def test_documented_reader_matches_thresholds(doc_predict):
    rng = np.random.default_rng(9)
    net = random_network(rng, 4, (5,), 3, weight_bound=2, bits=2)
    cuts = (np.sort(rng.normal(0, 1, 3)), np.array([0.0]), np.array([]), np.array([-1.0, 2.5]))
    net.quantizer = ThresholdQuantizer(2, cuts)
    model = json.loads(dumps_model(net))
    assert model["version"] == 2
    X = rng.normal(0, 2, size=(300, 4))
    X[0, 0], X[1, 1], X[2, 3], X[3, 1] = np.nan, np.inf, -np.inf, -0.0
    expect = [net.classes[c] for c in net.predict(X)]
    assert [doc_predict(model, [float(v) for v in row]) for row in X] == expect


def test_documented_reader_matches_pow2(doc_predict):
    rng = np.random.default_rng(10)
    net = random_network(rng, 4, (5,), 3, weight_bound=2, bits=3)
    net.quantizer = Pow2Quantizer(3, [1, -2, 0, 100], [-4, 2, 0, -3])
    model = json.loads(dumps_model(net))
    assert model["version"] == 2 and model["quantizer"]["kind"] == "pow2"
    X = rng.normal(0, 4, size=(300, 4))
    X[:, 3] *= 2.0 ** -100
    for j, t in enumerate(net.quantizer.thresholds):  # every cut point and its neighbours
        X[4:11, j], X[11:18, j] = t, np.nextafter(t, np.float32(-np.inf))
    X[0, 0], X[1, 1], X[2, 3], X[3, 1] = np.nan, np.inf, -np.inf, -0.0
    expect = [net.classes[c] for c in net.predict(X)]
    assert [doc_predict(model, [float(v) for v in row]) for row in X] == expect
