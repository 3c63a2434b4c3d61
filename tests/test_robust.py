"""Robustness checks against brute force on tiny networks whose input boxes can be enumerated.

The reachable quantized levels of a box are computed independently here with exact rational
arithmetic (the test quantizers use dyadic inputs and scales, so the model's float32
arithmetic is exact too) and every level vector is run through ``Network.forward_q``.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from bdnn.errors import BDNNError
from bdnn.network import Layer, Network, random_network
from bdnn.quantizer import Quantizer
from bdnn.robust import (
    pattern_holds_on_box,
    quantized_box,
    radius_in_levels,
    random_attack,
    random_corners_check,
    rows_with_stable_pattern,
    worst_case_check,
)

# quantizers whose float32 arithmetic is exact on inputs that are multiples of 1/8
QUANTIZERS = [
    lambda n, bits: Quantizer.identity(n, bits),
    lambda n, bits: Quantizer(bits, np.full(n, -1.0), np.full(n, 2.5)),
]


def _level(qz: Quantizer, i: int, v: Fraction) -> int:
    t = (v - Fraction(float(qz.lo[i]))) * Fraction(float(qz.scale[i])) + Fraction(1, 2)
    return min(max(math.floor(t), 0), qz.max_level)


def reachable_levels(qz, x, eps, lo=None, hi=None) -> list[list[int]]:
    """Levels reached by real inputs of the box; exact, and monotone, so [level(a), level(b)]."""
    out = []
    for i, xi in enumerate(x):
        a, b = Fraction(float(xi)) - Fraction(eps), Fraction(float(xi)) + Fraction(eps)
        if lo is not None:
            a = max(a, Fraction(float(lo[i])))
        if hi is not None:
            b = min(b, Fraction(float(hi[i])))
        out.append(list(range(_level(qz, i, a), _level(qz, i, b) + 1)))
    return out


def brute_force_flips(net: Network, X, eps, lo=None, hi=None) -> list[bool]:
    flips = []
    for x in X:
        original = net.predict_q(np.array([[_level(net.quantizer, i, Fraction(float(v)))
                                             for i, v in enumerate(x)]]))[0]
        grid = np.array(list(itertools.product(*reachable_levels(net.quantizer, x, eps, lo, hi))))
        flips.append(bool(np.any(net.predict_q(grid) != original)))
    return flips


def tiny_cases():
    rng = np.random.default_rng(2024)
    cases = []
    for k in range(12):
        n = 2 + k % 2
        bits = 2 + (k // 2) % 2
        output = "single" if k % 4 == 3 else "argmax"
        n_classes = 2 if output == "single" else 2 + k % 2
        activation = "sign" if k % 3 == 2 else "heaviside"
        hidden = [3] if k % 2 else [3, 2]
        grid = np.array(list(itertools.product(range(1 << bits), repeat=n)))
        while True:  # a network that is not constant on the input grid, so flips can exist
            net = random_network(rng, n, hidden, n_classes, weight_bound=[2] + [1] * len(hidden),
                                 activation=activation, output=output, bits=bits)
            if len(set(net.predict_q(grid).tolist())) > 1:
                break
        net = Network(QUANTIZERS[k % 2](n, bits), net.layers, net.classes, activation, output)
        X = rng.integers(-4, 8 * ((1 << bits) + 1), size=(24, n)) / 8.0
        y = rng.integers(0, n_classes, size=24)
        eps = [0.5, 0.75, 1.125, 1.625][k % 4]
        cases.append((net, X, y, eps))
    return cases


@pytest.mark.parametrize("case", range(12))
def test_worst_case_matches_brute_force(case):
    net, X, y, eps = tiny_cases()[case]
    expected = brute_force_flips(net, X, eps)
    for limit in (0, 10_000):  # CP-SAT always, then the exhaustive path for small boxes
        res = worst_case_check(net, X, y, eps, enumerate_limit=limit, time_limit=20)
        assert [s == "flipped" for s in res.status] == expected
        assert all(s in ("flipped", "certified") for s in res.status)
        for x, s, ce, p in zip(X, res.status, res.counterexamples, res.predicted, strict=True):
            if s == "flipped":
                assert ce.dtype == np.float32
                assert np.all(np.abs(ce.astype(np.float64) - x) <= eps + 1e-12)
                assert net.forward(ce[None, :]).class_index[0] != p
            else:
                assert ce is None
    correct = net.predict(X) == y
    cert = np.array([not f for f in expected])
    assert res.certified_accuracy == pytest.approx(np.mean(correct & cert))
    assert res.summary()["certified"] == int(cert.sum())


def test_worst_case_respects_feature_range():
    net, X, y, eps = tiny_cases()[4]
    lo = X.min(axis=0)
    hi = X.max(axis=0)
    expected = brute_force_flips(net, X, eps, lo, hi)
    res = worst_case_check(net, X, y, eps, lo, hi, enumerate_limit=0)
    assert [s == "flipped" for s in res.status] == expected
    for ce in res.counterexamples:
        if ce is not None:
            assert np.all(ce >= lo.astype(np.float32)) and np.all(ce <= hi.astype(np.float32))
    # a wider range can only add flips
    wide = worst_case_check(net, X, y, eps, enumerate_limit=0)
    pairs = zip(wide.status, res.status, strict=True)
    assert all(w == "flipped" for w, s in pairs if s == "flipped")


def test_eps_zero_certifies_everything_and_only_correct_skips():
    net, X, y, _ = tiny_cases()[1]
    res = worst_case_check(net, X, y, 0.0, enumerate_limit=0)
    assert res.status == ["certified"] * len(X)
    assert res.certified_accuracy == pytest.approx(np.mean(net.predict(X) == y))
    skipped = worst_case_check(net, X, y, 1.0, only_correct=True)
    wrong = net.predict(X) != y
    assert [s == "skipped" for s in skipped.status] == list(wrong)


def test_levels_skipped_by_a_huge_scale():
    # at 1000 one float32 step is 2**-14, times the scale 2**20 = 64 levels per step
    qz = Quantizer(8, np.array([1000.0]), np.array([2.0**20]))
    x = np.array([1000.0])
    box = quantized_box(qz, x, 2.0**-12)
    v = np.float32(box.lo[0])
    seen = set()
    while v <= box.hi[0]:  # every float32 of the box, through the real quantizer
        seen.add(int(qz.quantize(np.array([[v]]))[0, 0]))
        v = np.nextafter(v, np.float32(np.inf))
    levels = box.levels(qz)[0].tolist()
    assert levels == sorted(seen)
    assert len(levels) < box.q_hi[0] - box.q_lo[0] + 1  # some levels really are skipped
    for lv in levels:
        pre = box.preimage(qz, np.array([lv]), x)
        assert qz.quantize(pre[None, :])[0, 0] == lv


def test_worst_case_with_skipped_levels_agrees_with_float_enumeration():
    # a single-feature net that flips only on level 255: reachable or not decides the answer
    qz = Quantizer(8, np.array([1000.0]), np.array([2.0**20]))
    layers = [
        Layer(np.array([[1]]), np.array([-255]), 1),
        Layer(np.array([[1]]), np.array([-1]), 1),
    ]
    net = Network(qz, layers, classes=[0, 1], output="single")
    for eps in (2.0**-14 * 3, 2.0**-14 * 4):
        x = np.array([[1000.0]])
        res = worst_case_check(net, x, np.array([0]), eps, enumerate_limit=0)
        v, flips = np.float32(1000.0 - eps), False
        while v <= np.float32(1000.0 + eps):
            flips |= bool(net.predict(np.array([[v]]))[0] == 1)
            v = np.nextafter(v, np.float32(np.inf))
        assert (res.status[0] == "flipped") == flips


def test_random_attack_eps_zero_is_plain_accuracy_and_respects_certificates():
    net, X, y, eps = tiny_cases()[2]
    assert random_attack(net, X, y, 0.0, seed=3) == pytest.approx(np.mean(net.predict(X) == y))
    res = worst_case_check(net, X, y, eps)
    for seed in range(5):
        rng = np.random.default_rng(seed)  # the attack's own signs, recomputed here
        attacked = X + eps * (rng.integers(0, 2, size=X.shape) * 2 - 1)
        acc = random_attack(net, X, y, eps, seed=seed)
        assert acc == pytest.approx(np.mean(net.predict(attacked) == y))
        cert = np.array([s == "certified" for s in res.status])
        assert np.all(net.predict(attacked)[cert] == res.predicted[cert])
        assert acc >= res.certified_accuracy


def test_bad_inputs_are_one_line_errors():
    net, X, y, _ = tiny_cases()[0]
    with pytest.raises(BDNNError, match="eps"):
        worst_case_check(net, X, y, -1.0)
    with pytest.raises(BDNNError, match="features"):
        random_attack(net, X[:, :1], y, 0.5)
    with pytest.raises(BDNNError, match="labels"):
        random_attack(net, X, y[:-1], 0.5)
    with pytest.raises(BDNNError, match="NaN"):
        worst_case_check(net, np.where(X > 0, np.nan, X), y, 0.5)
    with pytest.raises(BDNNError, match="bound per feature"):
        worst_case_check(net, X, y, 0.5, feature_lo=np.zeros(X.shape[1] + 1))
    with pytest.raises(BDNNError, match="time limit"):
        worst_case_check(net, X, y, 0.5, time_limit=0)


# -- the linear box of robust training ---------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_pattern_holds_on_box_matches_exhaustive_enumeration(seed):
    rng = np.random.default_rng(seed)
    n = 3
    net = random_network(rng, n, [4], 2, weight_bound=[2, 1], bits=3)
    Q = rng.integers(0, 8, size=(25, n))
    rho = rng.integers(0, 3, size=n)
    layer = net.layers[0]
    expected = []
    for q in Q:  # every integer point of the (unclipped) box, not only corners
        axes = [range(v - r, v + r + 1) for v, r in zip(q, rho, strict=True)]
        pts = np.array(list(itertools.product(*axes)))
        pats = (pts @ layer.weights.T + layer.bias) >= 0
        expected.append(bool(np.all(pats == pats[0])))
    assert rows_with_stable_pattern(net, Q, rho).tolist() == expected
    assert pattern_holds_on_box(net, Q, rho) == all(expected)
    stable = np.array(expected)
    if stable.any():
        assert pattern_holds_on_box(net, Q[stable], rho)
        assert random_corners_check(net, Q[stable], rho, n_corners=64, seed=seed)
    if not stable.all():  # 64 random corners out of 8 find the broken row
        assert not random_corners_check(net, Q[~stable], rho, n_corners=64, seed=seed)
    assert pattern_holds_on_box(net, Q, 0)


def test_radius_in_levels():
    qz = Quantizer(4, np.array([0.0, 1.0]), np.array([3.0, 0.5]))
    assert radius_in_levels(qz, 0.5).tolist() == [1.5, 0.25]
    assert radius_in_levels(qz, 0.5, integer=True).tolist() == [2.0, 1.0]
    assert radius_in_levels(qz, np.array([1.0, 2.0]), integer=True).tolist() == [3.0, 1.0]
    with pytest.raises(BDNNError):
        radius_in_levels(qz, -1.0)
