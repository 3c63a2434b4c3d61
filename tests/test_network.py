"""The numpy reference forward pass against a scalar, loop-based recomputation."""

import itertools

import numpy as np
import pytest

from bdnn.errors import BDNNError
from bdnn.network import Layer, Network, errors_of, hamming_loss_of, random_network
from bdnn.quantizer import Quantizer


def slow_forward(net: Network, q):
    """Plain Python loops, written from docs/design.md §2 without looking at Network.forward_q."""
    x = [int(v) for v in q]
    hidden = []
    for li, layer in enumerate(net.layers):
        inp = x if li == 0 or net.activation == "heaviside" else [2 * v - 1 for v in x]
        a = [sum(int(layer.weights[j][i]) * inp[i] for i in range(layer.n_in)) + int(layer.bias[j])
             for j in range(layer.n_out)]
        if li < len(net.layers) - 1:
            x = [1 if v >= 0 else 0 for v in a]
            hidden.append(x)
    if net.output == "single":
        cls = 1 if a[0] >= 0 else 0
    else:
        cls = 0
        for k in range(1, len(a)):
            if a[k] > a[cls]:
                cls = k
    return cls, a, hidden


@pytest.mark.parametrize("activation", ["heaviside", "sign"])
@pytest.mark.parametrize("output", ["argmax", "single"])
@pytest.mark.parametrize("hidden", [(1,), (3,), (5, 2), (2, 3, 4)])
def test_forward_matches_loops(activation, output, hidden):
    rng = np.random.default_rng(len(hidden) * 7 + len(activation) + len(output))
    n_classes = 2 if output == "single" else 3
    net = random_network(rng, 4, hidden, n_classes, weight_bound=2, activation=activation,
                         output=output, bits=3)
    Q = rng.integers(0, 8, size=(40, 4))
    Q[0] = 0
    Q[1] = 7
    res = net.forward_q(Q)
    for r in range(len(Q)):
        cls, scores, hid = slow_forward(net, Q[r])
        assert res.class_index[r] == cls
        assert res.scores[r].tolist() == scores
        for layer_bits, expect in zip(res.hidden_bits, hid, strict=True):
            assert layer_bits[r].tolist() == expect


def test_tiny_net_exhaustive_inputs():
    # 2 inputs on 1 bit, one unit computing AND, output argmax: check the truth table.
    net = Network(Quantizer.identity(2, 1),
                  [Layer([[1, 1]], [-2], 1), Layer([[-1], [1]], [0, 0], 1)], classes=["no", "yes"])
    for a, b in itertools.product([0, 1], repeat=2):
        assert net.predict_q(np.array([[a, b]]))[0] == (a & b)


def test_argmax_ties_go_to_lowest_index():
    net = Network(Quantizer.identity(1, 1),
                  [Layer([[1]], [0], 1), Layer([[0], [0], [0]], [1, 1, 1], 1)], classes=[0, 1, 2])
    assert net.predict_q(np.array([[0], [1]])).tolist() == [0, 0]


def test_quantizer_float32_order_and_clamp():
    q = Quantizer(4, np.array([1.0, -2.0]), np.array([2.5, 0.5]))
    X = np.array([[1.0, -2.0], [7.0, 100.0], [-5.0, 0.0], [np.nan, np.inf], [1.2, -np.inf]])
    got = q.quantize(X)
    expect = []
    for row in X:
        out = []
        for v, lo, s in zip(row, q.lo, q.scale, strict=True):
            t = np.float32(np.float32(np.float32(v) - lo) * s) + np.float32(0.5)
            out.append(0 if not t >= 0 else (15 if t >= 15 else int(np.floor(t))))
        expect.append(out)
    assert got.tolist() == expect


def test_quantizer_fit_identity_for_levels():
    X = np.array([[1, 10], [3, 0]], dtype=float)
    assert Quantizer.fit(X, 4).is_identity
    assert not Quantizer.fit(X, 3).is_identity
    assert Quantizer.fit(X, 3).quantize(X).max() == 7


def test_losses():
    net = random_network(np.random.default_rng(3), 3, (2,), 3, bits=2)
    Q = np.random.default_rng(4).integers(0, 4, size=(30, 3))
    y = np.random.default_rng(5).integers(0, 3, size=30)
    res = net.forward_q(Q)
    assert errors_of(net, Q, y) == int(np.sum(res.class_index != y))
    onehot = np.eye(3, dtype=int)[y]
    assert hamming_loss_of(net, Q, y) == int(np.sum((res.scores >= 0) != onehot))


def test_validation_errors():
    q = Quantizer.identity(2, 2)
    with pytest.raises(BDNNError, match="exceeds the layer's weight bound"):
        Layer([[2, 0]], [0], 1)
    with pytest.raises(BDNNError, match="receives"):
        Network(q, [Layer([[1, 0, 1]], [0], 1), Layer([[1], [1]], [0, 0], 1)])
    with pytest.raises(BDNNError, match="bias beyond"):
        Network(q, [Layer([[1, 0]], [100], 1), Layer([[1], [1]], [0, 0], 1)])
    with pytest.raises(BDNNError, match="expected 2"):
        Network(q, [Layer([[1, 0]], [0], 1), Layer([[1]], [0], 1)])
    with pytest.raises(BDNNError, match="data has 3 features"):
        Network(q, [Layer([[1, 0]], [0], 1), Layer([[1], [1]], [0, 0], 1)]).forward_q(
            np.zeros((1, 3)))
