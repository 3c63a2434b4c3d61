"""The benchmark baselines: the paper's big-M MILP on HiGHS, and the float MLP.

The MILP is checked against brute force over every ternary network of a tiny architecture,
under the paper's own rules (binary output units, Hamming loss, and the eps big-M rule that
makes a pre-activation of exactly 0 on a training point infeasible).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("highspy", reason="the paper MILP baseline needs highspy (pip install highspy)")

from bdnn.network import errors_of, hamming_loss_of  # noqa: E402
from bdnn.robust import pattern_holds_on_box  # noqa: E402
from benchmarks.baselines.mlp import train_mlp  # noqa: E402
from benchmarks.baselines.paper_milp import paper_forward, train_paper_milp  # noqa: E402


def separable_set():
    Q = np.array(list(itertools.product(range(4), repeat=2)))
    Q = Q[Q[:, 0] != Q[:, 1]]  # q0 - q1 is never 0, so W = (1, -1), b = 0 obeys the eps rule
    return Q, (Q[:, 0] > Q[:, 1]).astype(np.int64)


def paper_brute_force(Q, y):
    """Min Hamming loss over 2 inputs -> 1 hidden unit -> 2 binary output units, weights in
    {-1, 0, 1}, integer biases in [-B, B], no training pre-activation equal to 0."""
    B = max(int(Q.sum(axis=1).max()), 2)
    onehot = np.eye(2, dtype=np.int64)[y]
    biases = range(-B, B + 1)
    best = None
    for w in itertools.product((-1, 0, 1), repeat=2):
        for b in biases:
            a = Q @ np.array(w) + b
            if np.any(a == 0):
                continue
            h = (a > 0).astype(np.int64)
            total = 0
            for k in range(2):  # output units are independent given h: add their minima
                losses = [int(np.sum(((v * h + c) > 0) != onehot[:, k]))
                          for v in (-1, 0, 1) for c in biases if not np.any(v * h + c == 0)]
                total += min(losses) if losses else 10**9
            best = total if best is None else min(best, total)
    return best


def test_milp_fits_a_separable_set_and_the_network_recomputes_it():
    Q, y = separable_set()
    res = train_paper_milp(Q, y, [2], time_limit=30)
    assert res.status == "OPTIMAL"
    assert res.objective == pytest.approx(0.0, abs=1e-6)
    net = res.network
    assert net is not None and res.exact_conversion and res.grid_factor == 1
    assert errors_of(net, Q, y) == res.train_errors == 0
    assert hamming_loss_of(net, Q, y) == res.hamming == 0
    # the bdnn network computes the paper's float network everywhere on the input grid
    grid = np.array(list(itertools.product(range(net.quantizer.max_level + 1), repeat=2)))
    assert np.array_equal(net.predict_q(grid), paper_forward(res.weights, res.biases, grid)[0])
    # another thread count in the same process (HiGHS's scheduler is per process)
    again = train_paper_milp(Q, y, [2], time_limit=30, threads=2)
    assert again.status == "OPTIMAL" and again.hamming == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_milp_matches_brute_force_on_a_non_separable_set(seed):
    rng = np.random.default_rng(seed)
    Q = rng.integers(0, 4, size=(9, 2))
    y = rng.integers(0, 2, size=9)
    expected = paper_brute_force(Q, y)
    res = train_paper_milp(Q, y, [1], time_limit=30)
    assert res.status == "OPTIMAL"
    assert round(res.objective) == expected
    assert res.hamming == expected  # recomputed by the forward pass of the returned network
    assert hamming_loss_of(res.network, Q, y) == expected
    assert errors_of(res.network, Q, y) == res.train_errors


def test_milp_continuous_weights_and_subsets():
    Q, y = separable_set()
    res = train_paper_milp(Q, y, [2], integer_weights=False, time_limit=30)
    assert res.status == "OPTIMAL" and res.hamming == 0
    if res.network is not None:  # mapped to the integer grid round(K W)
        assert errors_of(res.network, Q, y) == res.train_errors == 0
    # two subsets that must each share one pattern: at most 2 patterns, the fit gets worse
    subsets = [np.flatnonzero(y == 0), np.flatnonzero(y == 1)]
    sub = train_paper_milp(Q, y, [2], subsets=subsets, time_limit=30)
    hidden = sub.network.forward_q(Q).hidden_bits[0]
    for rows in subsets:
        assert len({tuple(r) for r in hidden[rows]}) == 1


def test_robust_milp_network_keeps_its_pattern_on_the_box():
    Q, y = separable_set()
    res = train_paper_milp(Q, y, [2], rho=1.0, time_limit=30)
    assert res.network is not None
    # the paper's robust rows, converted, are the docs/design.md §4 condition for an integer radius
    assert pattern_holds_on_box(res.network, Q, 1)
    assert hamming_loss_of(res.network, Q, y) == res.hamming == round(res.objective)


@pytest.mark.parametrize("seed", [0, 1])
def test_mlp_keeps_the_best_validation_epoch(seed):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3)) * [1.0, 5.0, 0.1] + [0.0, 10.0, 0.0]
    y = (X[:, 0] + 0.1 * (X[:, 1] - 10) > 0).astype(np.int64)
    parts = [(X[:2000], y[:2000]), (X[2000:2500], y[2000:2500]), (X[2500:], y[2500:])]
    res = train_mlp(*parts[0], *parts[1], *parts[2], [8], epochs=30, seed=seed)
    assert len(res.val_history) == 30
    assert res.best_epoch == int(np.argmax(res.val_history)) + 1  # earliest best epoch
    # the restored weights are the best epoch's: recompute its validation accuracy
    assert res.val_accuracy == pytest.approx(np.mean(res.predict(parts[1][0]) == parts[1][1]))
    assert res.val_accuracy == pytest.approx(max(res.val_history))
    assert res.test_accuracy == pytest.approx(np.mean(res.predict(parts[2][0]) == parts[2][1]))
    assert res.train_errors == int(np.sum(res.predict(parts[0][0]) != parts[0][1]))
    if seed == 0:  # this seed learns the rule
        assert res.test_accuracy > 0.85
    else:  # this one degrades after epoch 1: the restored model is not the last epoch's
        assert res.best_epoch < 30 and res.val_history[-1] < res.val_accuracy
