"""The enumeration of halfspace pairs (bdnn/train/halfspaces.py) against brute force over every
network, independent of it: every unit's distinct activation columns, every pair of them,
every output layer within its bounds."""

import itertools
import time

import numpy as np
import pytest
from brute_force import best_errors, unit_columns

from bdnn.quantizer import Quantizer
from bdnn.train.halfspaces import enumerate_best, unsupported
from bdnn.train.problem import TrainProblem


def _data(seed, n=16, d=2):
    rng = np.random.default_rng(seed)
    Q = rng.integers(0, 4, size=(n, d))
    y = rng.integers(0, 2, size=n)
    Q[n // 2:n // 2 + 2] = Q[0]  # repeated inputs, some with the other label
    return Q, y


def _problem(Q, y, hidden, w=1, activation="heaviside", output="argmax", objective="errors"):
    return TrainProblem.build(Q, y, quantizer=Quantizer.identity(Q.shape[1], 2), classes=[0, 1],
                              hidden=(hidden,), weight_bound=w, activation=activation,
                              output=output, objective=objective)


def _brute(Q, y, hidden, w, activation, output):
    """The fewest errors over every network: unit columns from brute_force.unit_columns, every
    output layer with weights in [-w, w] and biases within the model's bound."""
    cols = unit_columns(Q, w, 3)
    low, high = {"heaviside": (0, 1), "sign": (-1, 1)}[activation]
    n_out = 1 if output == "single" else 2
    bmax = w * hidden * max(abs(low), abs(high)) + 1
    units = [(np.array(r), b) for r in itertools.product(range(-w, w + 1), repeat=hidden)
             for b in range(-bmax, bmax + 1)]
    best = len(y)
    for combo in itertools.product(range(len(cols)), repeat=hidden):
        X = np.where(cols[list(combo)].T == 1, high, low)  # what the output layer reads
        S = np.stack([X @ r + b for r, b in units], axis=1)  # [N, units]
        if n_out == 1:
            pred = S >= 0
            best = min(best, int((pred != (y[:, None] == 1)).sum(axis=0).min()))
        else:  # class 1 iff s1 > s0
            pred = S[:, None, :] > S[:, :, None]
            best = min(best, int((pred != (y[:, None, None] == 1)).sum(axis=0).min()))
    return best


@pytest.mark.parametrize("hidden", [1, 2])
@pytest.mark.parametrize("seed", range(6))
def test_minimum_matches_brute_force(seed, hidden):
    Q, y = _data(seed)
    truth = best_errors(Q, y, hidden, 2, w=1, levels=3)
    p = _problem(Q, y, hidden)
    r = enumerate_best(p.arch, p.rows, p.objective, len(y) + 1, time.monotonic() + 60,
                       quantizer=p.quantizer, classes=p.classes)
    assert r.status == "OPTIMAL" and r.loss == truth
    r.network.validate()  # weights and biases within their bounds
    assert int(np.sum(r.network.predict_q(Q) != y)) == truth
    # the question at the optimum: no network is better
    r = enumerate_best(p.arch, p.rows, p.objective, truth, time.monotonic() + 60)
    assert r.status == "INFEASIBLE" and r.loss is None and r.network is None
    # just above it (the fewest candidates that still hold the optimum)
    r = enumerate_best(p.arch, p.rows, p.objective, truth + 1, time.monotonic() + 60)
    assert r.status == "OPTIMAL" and r.loss == truth


@pytest.mark.parametrize("hidden", [1, 2])
def test_separable_rows_have_no_error(hidden):
    """Separable rows: loss 0 is found when only loss 0 is allowed (below = 1)."""
    Q = np.array([[0, 0], [1, 0], [0, 1], [3, 3], [2, 3], [3, 2]])
    y = np.array([0, 0, 0, 1, 1, 1])
    p = _problem(Q, y, hidden)
    r = enumerate_best(p.arch, p.rows, p.objective, 1, time.monotonic() + 60)
    assert r.status == "OPTIMAL" and r.loss == 0
    assert np.array_equal(r.network.predict_q(Q), y)


@pytest.mark.parametrize("activation,output,w", [("sign", "argmax", 1), ("heaviside", "single", 1),
                                                 ("sign", "single", 1), ("heaviside", "argmax", 2)])
@pytest.mark.parametrize("seed", [10, 11, 12])
def test_other_conventions_match_brute_force(seed, activation, output, w):
    Q, y = _data(seed, n=12)
    truth = _brute(Q, y, 2, w, activation, output)
    p = _problem(Q, y, 2, w=w, activation=activation, output=output)
    r = enumerate_best(p.arch, p.rows, p.objective, len(y) + 1, time.monotonic() + 60,
                       quantizer=p.quantizer, classes=p.classes)
    assert r.status == "OPTIMAL" and r.loss == truth, (r.loss, truth)
    r.network.validate()
    assert int(np.sum(r.network.predict_q(Q) != y)) == truth


def test_where_it_does_not_apply():
    Q, y = _data(1)
    y3 = y.copy()
    y3[:3] = 2
    three = TrainProblem.build(Q, y3, quantizer=Quantizer.identity(2, 2), classes=[0, 1, 2],
                               hidden=(2,))
    assert "two-class" in unsupported(three.arch, three.objective)
    wide = _problem(Q, y, 3)
    assert "1 or 2 units" in unsupported(wide.arch, wide.objective)
    hamming = _problem(Q, y, 2, objective="hamming")
    assert "not the error count" in unsupported(hamming.arch, hamming.objective)
    margin = _problem(Q, y, 2, objective="margin")
    assert "not the error count" in unsupported(margin.arch, margin.objective)
    many = TrainProblem.build(np.zeros((4, 14), dtype=np.int64), [0, 1, 0, 1],
                              quantizer=Quantizer.identity(14, 2), classes=[0, 1], hidden=(2,))
    assert "weight vectors" in unsupported(many.arch, many.objective)
    assert unsupported(_problem(Q, y, 2).arch, _problem(Q, y, 2).objective) is None
    with pytest.raises(ValueError, match="two-class"):
        enumerate_best(three.arch, three.rows, three.objective, 5, time.monotonic() + 10)


def test_out_of_time_claims_nothing():
    Q, y = _data(3, n=40)
    p = _problem(Q, y, 2)
    r = enumerate_best(p.arch, p.rows, p.objective, len(y) + 1, time.monotonic() - 1)
    assert r.status in ("UNKNOWN", "FEASIBLE")
    if r.status == "FEASIBLE":  # a constant network found before the pairs: its true loss
        assert int(np.sum(r.network.predict_q(Q) != y)) == r.loss


def test_give_up_when_the_scan_cannot_finish(monkeypatch):
    """With give_up, a scan whose measured rate says it would miss the deadline stops as
    hopeless at once (refute's "auto" then asks CP-SAT); without, it runs to the deadline."""
    import bdnn.train.halfspaces as hs
    from bdnn.train.prove import refute
    from bdnn.train.solver import SolveOptions
    Q, y = _data(5, n=40)
    p = _problem(Q, y, 2)
    rng = np.random.default_rng(0)  # 200,000 random candidate sets: 2e10 pairs, minutes
    sets = rng.integers(0, 2**63, size=(200_000, 2), dtype=np.uint64)
    monkeypatch.setattr(hs, "RATE_SECONDS", 0.05)
    t0 = time.monotonic()
    *_, how = hs._best_pair(sets, np.zeros(2, dtype=np.uint64), 0, t0 + 30.0, None, 1, True)
    assert how == "hopeless" and time.monotonic() - t0 < 30
    # the dominance filter too: 50,000 distinct groups, each checked against the others
    t0 = time.monotonic()
    *_, hopeless = hs._undominated(sets[:50_000], np.zeros((50_000, 2)), 1, t0 + 30.0, True)
    assert hopeless and time.monotonic() - t0 < 30
    monkeypatch.setattr(hs, "MAX_CANDIDATES", 10)
    r = enumerate_best(p.arch, p.rows, p.objective, len(y) + 1, time.monotonic() + 60,
                       give_up=True)
    assert r.hopeless and r.pairs == 0 and r.status in ("UNKNOWN", "FEASIBLE")
    truth = best_errors(Q, y, 2, 2, w=1, levels=3)
    answer = refute(p.arch, p.rows, p.objective, SolveOptions(time_limit=60, progress=False),
                    60.0, truth + 1)
    assert answer.method == "cpsat" and answer.status == "FEASIBLE" and answer.loss <= truth


def test_undominated_keeps_exactly_the_undominated_sets():
    """Against the definition, pair by pair: every candidate dropped is dominated by one kept
    (at least as many must-be-inside rows, no other-class row more), no kept one is dominated
    by another, and the best pair over the kept ones is the best over all."""
    import bdnn.train.halfspaces as hs
    rng = np.random.default_rng(3)  # the candidates of random rows: many nested sets
    Q = rng.integers(0, 8, size=(160, 3))
    n_p, n_n = 70, 90  # two words each side
    directions = np.array(list(itertools.product(range(-2, 3), repeat=3)))
    sets, _ = hs._candidates(directions, Q, np.arange(n_p), np.arange(n_p, 160), 12)
    origin = np.arange(len(sets))[:, None]
    kept, where, hopeless = hs._undominated(sets, origin, 2, time.monotonic() + 60)
    assert not hopeless
    where = where[:, 0]
    assert 0 < len(kept) < 0.8 * len(sets)  # the filter matters here

    def dominates(b, a):
        return bool(np.all(sets[b, :2] & sets[a, :2] == sets[a, :2])
                    and np.all(sets[b, 2:] & ~sets[a, 2:] == 0)) and b != a

    assert np.array_equal(kept, sets[where])
    for a in range(len(sets)):
        if a in set(where.tolist()):
            assert not any(dominates(b, a) for b in where)
        else:
            assert any(dominates(b, a) for b in where)
    must = np.concatenate([hs._pack(np.ones((1, n_p), dtype=bool)),
                           hs._pack(np.zeros((1, n_n), dtype=bool))], axis=1)[0]
    everything = hs._best_pair(sets, must, 10**6, time.monotonic() + 60, None, 1, False)
    pruned = hs._best_pair(kept, must, 10**6, time.monotonic() + 60, None, 1, False)
    assert everything[0] == pruned[0] and everything[4] == pruned[4] == "done"


@pytest.mark.parametrize("w", [1, 2])
def test_agrees_with_cpsat_on_iris_versicolor_against_the_rest(w):
    """150 rows, 4 inputs at 4 bits, 2 units: the scan's minimum equals CP-SAT's proven
    optimum (4 errors ternary, 2 with weights in [-2, 2])."""
    from bdnn.data import load_dataset
    from bdnn.train.prove import solve_subset
    from bdnn.train.solver import SolveOptions
    X, y = load_dataset("iris", split="none", seed=0).train_part()
    q = Quantizer.fit(X, 4)
    p = TrainProblem.build(q.quantize(X), (y == 1).astype(int), quantizer=q, classes=[0, 1],
                           hidden=(2,), weight_bound=w)
    solve = SolveOptions(time_limit=600, workers=2, progress=False)
    got = {m: solve_subset(p.arch, p.rows, p.objective, solve, 600, method=m)
           for m in ("enumeration", "cpsat")}
    assert got["enumeration"][0] == got["cpsat"][0] == "OPTIMAL"
    assert got["enumeration"][2] == got["cpsat"][2] == {1: 4, 2: 2}[w]


def test_pair_scan_stopped_early_names_a_pair_with_the_errors_it_reports(monkeypatch):
    """A scan that runs out of time after finding a pair returns that pair's indices in the
    caller's order, not the scan's (sorted) one: the named pair's errors, recomputed with
    popcounts, are the reported ones."""
    import types

    import bdnn.train.halfspaces as hs
    rng = np.random.default_rng(5)
    Q = rng.integers(0, 8, size=(90, 3))
    n_p = 40
    directions = np.array(list(itertools.product(range(-2, 3), repeat=3)))
    sets, _ = hs._candidates(directions, Q, np.arange(n_p), np.arange(n_p, 90), 30)
    must = np.concatenate([hs._pack(np.ones((1, n_p), dtype=bool)),
                           hs._pack(np.zeros((1, 90 - n_p), dtype=bool))], axis=1)[0]
    monkeypatch.setattr(hs, "PAIR_BLOCK", 64)  # tiles of 8 x 8 pairs
    stopped_with_a_pair = 0
    for calls in range(3, 40):
        clock = iter(range(10**6))  # one tick per reading: time runs out after `calls`
        monkeypatch.setattr(hs, "time", types.SimpleNamespace(monotonic=lambda c=clock: next(c)))
        best, i, j, _, how = hs._best_pair(sets, must, 10**6, calls, None, 1, False)
        if best is not None:
            assert int(np.bitwise_count((sets[i] & sets[j]) ^ must).sum()) == best
            stopped_with_a_pair += how == "timeout"
    assert stopped_with_a_pair > 0
