"""Coordinate descent on integer networks, checked against brute force and the numpy forward."""

import numpy as np
import pytest

from bdnn.network import Layer, Network, errors_of, hamming_loss_of, random_network
from bdnn.train.coordinate_descent import best_threshold_bias, center_biases, coordinate_descent


def _loss(net, Q, y, objective):
    return errors_of(net, Q, y) if objective == "errors" else hamming_loss_of(net, Q, y)


def _data(seed, n=40, d=3, k=3, bits=3):
    rng = np.random.default_rng(seed)
    Q = rng.integers(0, 2**bits, size=(n, d))
    y = ((Q[:, 0] + 2 * Q[:, 1] - Q[:, 2]) // 5 % k).astype(np.int64)
    y[rng.random(n) < 0.15] = rng.integers(0, k)  # some noise, so the loss is not zero
    return Q, y


def _with(net, li, W=None, b=None):
    layers = list(net.layers)
    old = layers[li]
    layers[li] = Layer(old.weights if W is None else W, old.bias if b is None else b,
                       old.weight_bound)
    return Network(net.quantizer, layers, classes=list(net.classes), activation=net.activation,
                   output=net.output)


def _single_moves(net):
    """Every network one weight change (with any bias of that unit) away: brute force."""
    for li, layer in enumerate(net.layers):
        B = net.bias_bound(li)
        w = layer.weight_bound
        for j in range(layer.n_out):
            for i in [None, *range(layer.n_in)]:
                for v in range(-w, w + 1) if i is not None else [None]:
                    W = layer.weights.copy()
                    if i is not None:
                        if v == W[j, i]:
                            continue
                        W[j, i] = v
                    for b in range(-B, B + 1):
                        bias = layer.bias.copy()
                        bias[j] = b
                        yield _with(net, li, W, bias)


@pytest.mark.parametrize("seed,objective,activation,output", [
    (0, "errors", "heaviside", "argmax"),
    (1, "hamming", "heaviside", "argmax"),
    (2, "errors", "sign", "argmax"),
    (3, "errors", "heaviside", "single"),
])
def test_descent_ends_in_a_brute_force_local_optimum(seed, objective, activation, output):
    k = 2 if output == "single" else 3
    Q, y = _data(seed, k=k)
    rng = np.random.default_rng(seed)
    net = random_network(rng, 3, (2,), k, 1, activation=activation, output=output, bits=3)
    start = _loss(net, Q, y, objective)
    out = coordinate_descent(net, Q, y, objective, time_limit=None, seed=seed, center=False)
    got = _loss(out.network, Q, y, objective)  # recomputed by the reference forward pass
    assert out.loss_before == start and out.loss_after == got <= start
    assert out.moves >= 1 and got < start  # random networks are far from a local optimum
    best_neighbour = min(_loss(m, Q, y, objective) for m in _single_moves(out.network))
    assert best_neighbour >= got


def test_descent_on_two_hidden_layers_never_increases_the_loss_and_is_deterministic():
    Q, y = _data(5, n=60)
    net = random_network(np.random.default_rng(5), 3, (3, 2), 3, (2, 1, 1), bits=3)
    a = coordinate_descent(net, Q, y, time_limit=None, seed=7)
    b = coordinate_descent(net, Q, y, time_limit=None, seed=7)
    assert a.loss_after == errors_of(a.network, Q, y) <= a.loss_before
    for la, lb in zip(a.network.layers, b.network.layers, strict=True):
        assert (la.weights == lb.weights).all() and (la.bias == lb.bias).all()
    assert int(np.abs(a.network.layers[0].weights).max()) <= 2


def test_best_threshold_bias_matches_a_scan_of_every_bias():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        pre = rng.integers(-12, 13, size=n)
        off, on = rng.integers(0, 3, size=n), rng.integers(0, 3, size=n)
        lo, hi = -int(rng.integers(1, 15)), int(rng.integers(0, 15))
        every = {b: int(np.where(pre + b >= 0, on, off).sum()) for b in range(lo, hi + 1)}
        loss, first, last, mid = best_threshold_bias(pre, off, on, lo, hi)
        assert loss == min(every.values())
        assert lo <= first <= mid <= last <= hi
        assert all(every[b] == loss for b in range(first, last + 1))
        # a maximal interval: its neighbours (inside the range) are worse
        assert first == lo or every[first - 1] > loss
        assert last == hi or every[last + 1] > loss


def test_centering_moves_each_bias_to_the_middle_of_its_equal_loss_interval():
    Q, y = _data(9, n=60)
    net = coordinate_descent(random_network(np.random.default_rng(9), 3, (3,), 3, 1, bits=3),
                             Q, y, time_limit=None, center=False).network
    centered = center_biases(net, Q, y)
    loss = errors_of(net, Q, y)
    assert errors_of(centered, Q, y) == loss
    assert (centered.layers[0].weights == net.layers[0].weights).all()
    B = net.bias_bound(0)
    moved = 0
    for j, (old, new) in enumerate(zip(net.layers[0].bias, centered.layers[0].bias, strict=True)):
        bias = centered.layers[0].bias.copy()

        def loss_at(b, j=j, bias=bias):
            bias[j] = b
            return errors_of(_with(centered, 0, b=bias.copy()), Q, y)

        # brute force: the maximal run of biases around the old one with the same loss
        first = last = int(old)
        while first > -B and loss_at(first - 1) == loss:
            first -= 1
        while last < B and loss_at(last + 1) == loss:
            last += 1
        assert new == (first + last) // 2
        moved += int(new != old)
    assert moved >= 1


def test_ctrl_c_during_descent_keeps_a_network_no_worse_than_the_start():
    import signal

    from bdnn.train.safe_solver import interrupt_requested, reset_interrupt

    rng = np.random.default_rng(3)
    Q = rng.integers(0, 16, size=(20000, 30))
    y = (Q[:, :10].sum(axis=1) > Q[:, 10:20].sum(axis=1)).astype(np.int64)
    net = random_network(rng, 30, (8,), 2, 1, bits=4)
    start = errors_of(net, Q, y)
    reset_interrupt()
    signal.setitimer(signal.ITIMER_REAL, 0.5)  # SIGALRM -> KeyboardInterrupt, like Ctrl-C
    previous = signal.signal(signal.SIGALRM, signal.default_int_handler)
    try:
        out = coordinate_descent(net, Q, y, time_limit=None, seed=0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    try:
        assert interrupt_requested()  # the trainers stop after the descent
        assert out.seconds < 5 and out.sweeps < 100  # it stopped early, not at the optimum
        assert out.loss_after == errors_of(out.network, Q, y) <= start
    finally:
        reset_interrupt()
