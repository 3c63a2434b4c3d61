"""The exact CP-SAT trainer against brute force and the numpy forward pass."""

import numpy as np
import pytest
from brute_force import best_errors

from bdnn.errors import BDNNError
from bdnn.model_file import network_to_dict
from bdnn.network import errors_of, hamming_loss_of, random_network
from bdnn.quantizer import Quantizer
from bdnn.train.cpsat_model import ModelOptions
from bdnn.train.exact import train_exact
from bdnn.train.problem import TrainProblem
from bdnn.train.solver import SolveOptions

FAST = SolveOptions(time_limit=30, workers=2, progress=False)


def _tiny(seed, n=12, d=2, k=2, levels=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, levels + 1, size=(n, d)), rng.integers(0, k, size=n)


def _train(Q, y, k, **kw):
    q = Quantizer.identity(Q.shape[1], 2)
    kw.setdefault("solve", FAST)
    method_kw = {key: kw.pop(key) for key in ("sparsify", "model_options", "narrow_start",
                                              "float_start", "enumeration") if key in kw}
    return train_exact(TrainProblem.build(Q, y, quantizer=q, classes=list(range(k)), **kw),
                       **method_kw)


def test_separable_reaches_zero_and_optimal():
    rng = np.random.default_rng(0)
    Q = rng.integers(0, 16, size=(60, 3))
    while True:  # a random teacher network of the same shape with both labels well present
        teacher = random_network(rng, 3, (3,), 2, bits=4)
        y = teacher.predict_q(Q)
        if 15 <= y.sum() <= 45:
            break
    r = train_exact(TrainProblem.build(Q, y, quantizer=Quantizer.identity(3, 4), classes=[0, 1],
                                       hidden=(3,), solve=FAST))
    assert r.status == "OPTIMAL"
    assert r.objective == 0 and r.train_errors == 0
    assert errors_of(r.network, Q, y) == 0


@pytest.mark.parametrize("enumeration", [True, False])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("hidden", [1, 2])
def test_optimum_equals_brute_force(seed, hidden, enumeration):
    """Two classes, 1 or 2 units: the enumeration proves the optimum before CP-SAT is built
    (its stage replaces CP-SAT's), or CP-SAT does when it is turned off."""
    Q, y = _tiny(seed)
    expect = best_errors(Q, y, hidden, 2, w=1, levels=3)
    r = _train(Q, y, 2, hidden=(hidden,), enumeration=enumeration)
    assert r.status == "OPTIMAL"
    assert r.objective == expect
    assert errors_of(r.network, Q, y) == expect
    stages = [s["stage"] for s in r.network.training["stages"]]
    if enumeration and r.network.training["float_start"]["objective"] > expect:
        assert stages == ["enumeration"]
        assert r.network.training["enumeration"]["status"] == "OPTIMAL"
    if not enumeration:
        assert stages[0] == "loss" and "enumeration" not in r.network.training


def test_three_classes_brute_force():
    Q, y = _tiny(7, n=10, k=3)
    expect = best_errors(Q, y, 1, 3, w=1, levels=3)
    r = _train(Q, y, 3, hidden=(1,))
    assert r.status == "OPTIMAL" and r.objective == expect


def test_hamming_objective_brute_force():
    Q, y = _tiny(4)
    expect = best_errors(Q, y, 1, 2, w=1, levels=3, objective="hamming")
    r = _train(Q, y, 2, hidden=(1,), objective="hamming")
    assert r.status == "OPTIMAL" and r.objective == expect
    assert hamming_loss_of(r.network, Q, y) == expect


@pytest.mark.parametrize("activation", ["heaviside", "sign"])
def test_table_and_product_encodings_agree(activation):
    # Two hidden layers; pattern_limit=1 forces the per-row product encoding everywhere.
    Q, y = _tiny(11, n=16, k=3)
    optima = {}
    for pattern_limit, encodings in ((1, ["product", "product"]), (256, ["table", "table"])):
        r = _train(Q, y, 3, hidden=(2, 2), activation=activation,
                   model_options=ModelOptions(pattern_limit=pattern_limit))
        assert r.network.training["encodings"][1:] == encodings
        assert r.status == "OPTIMAL"
        assert r.objective == errors_of(r.network, Q, y)
        optima[pattern_limit] = r.objective
    assert optima[1] == optima[256]  # same proven optimum either way


def test_single_output_and_symmetry_breaking_keep_the_optimum():
    Q, y = _tiny(5, n=14)
    expect = best_errors(Q, y, 2, 2, w=1, levels=3)
    for opts in (ModelOptions(symmetry_breaking=True), ModelOptions()):
        r = _train(Q, y, 2, hidden=(2,), model_options=opts)
        assert r.objective == expect
    r = _train(Q, y, 2, hidden=(2,), output="single")
    assert r.status == "OPTIMAL"
    assert r.network.output == "single"
    assert r.objective == errors_of(r.network, Q, y)
    assert r.objective >= expect  # one unit can do no better than two argmax scores here


def test_duplicate_rows_with_conflicting_labels():
    Q = np.array([[1, 1]] * 5 + [[3, 0]] * 4)
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1, 0])
    r = _train(Q, y, 2, hidden=(1,))
    assert r.status == "OPTIMAL" and r.objective == 3  # 2 + 1 unavoidable
    assert r.network.training["n_unique_rows"] == 2


def test_sparsify_keeps_loss_and_never_adds_weights():
    Q, y = _tiny(8, n=20)
    plain = _train(Q, y, 2, hidden=(2,))
    sparse = _train(Q, y, 2, hidden=(2,), sparsify=True)
    assert sparse.objective == plain.objective == errors_of(sparse.network, Q, y)
    assert sparse.network.n_nonzero_weights() <= plain.network.n_nonzero_weights()
    assert [s["stage"] for s in sparse.stages] == ["loss", "sparsify"]
    assert sparse.stages[1]["status"] == "OPTIMAL"
    assert sparse.network.n_nonzero_weights() == sparse.stages[1]["objective"]


def test_wider_weights_never_worse():
    Q, y = _tiny(9, n=20, levels=7)
    q = Quantizer.identity(2, 3)
    r1 = train_exact(TrainProblem.build(Q, y, quantizer=q, classes=[0, 1], hidden=(2,),
                                        weight_bound=1, solve=FAST))
    r3 = train_exact(TrainProblem.build(Q, y, quantizer=q, classes=[0, 1], hidden=(2,),
                                        weight_bound=3, solve=FAST))
    assert r3.objective <= r1.objective
    assert int(np.abs(r3.network.layers[0].weights).max()) <= 3


def test_deterministic_mode_repeats_exactly():
    rng = np.random.default_rng(12)
    Q = rng.integers(0, 16, size=(80, 4))
    y = (Q[:, 0] + rng.integers(0, 6, size=80) > 10).astype(int)
    opts = SolveOptions(time_limit=0.5, workers=2, seed=3, deterministic=True, progress=False)
    docs = []
    for _ in range(2):
        r = train_exact(TrainProblem.build(Q, y, quantizer=Quantizer.identity(4, 4),
                                           classes=[0, 1], hidden=(3,), solve=opts))
        d = network_to_dict(r.network)
        d["training"].pop("seconds")
        d["training"].get("float_start", {}).pop("descent_seconds", None)
        for s in d["training"]["stages"]:
            s.pop("seconds")
        docs.append(d)
    assert docs[0] == docs[1]


def test_warm_start_is_used_and_shape_checked():
    Q, y = _tiny(13, n=20)
    first = _train(Q, y, 2, hidden=(2,))
    again = _train(Q, y, 2, hidden=(2,), warm_start=first.network)
    assert again.objective == first.objective
    with pytest.raises(BDNNError, match="warm-start model has shape"):
        _train(Q, y, 2, hidden=(3,), warm_start=first.network)


def test_bad_arguments():
    Q, y = _tiny(1)
    with pytest.raises(BDNNError, match="at least one hidden layer"):
        _train(Q, y, 2, hidden=())
    with pytest.raises(BDNNError, match="widths must be >= 1"):
        _train(Q, y, 2, hidden=(0,))
    with pytest.raises(BDNNError, match="weight bound"):
        _train(Q, y, 2, hidden=(1,), weight_bound=0)
    with pytest.raises(BDNNError, match="single class"):
        _train(Q, np.zeros_like(y), 2, hidden=(1,))
    with pytest.raises(BDNNError, match="time limit"):
        SolveOptions(time_limit=0)
    with pytest.raises(BDNNError, match="workers"):
        SolveOptions(workers=0)


@pytest.mark.parametrize("activation", ["heaviside", "sign"])
def test_widen_keeps_the_function(activation):
    from bdnn.train.widen import widen

    rng = np.random.default_rng(21)
    net = random_network(rng, 3, (2, 3), 4, weight_bound=2, activation=activation)
    wide = widen(net, (5, 4))
    assert wide.hidden_widths == (5, 4)
    Q = rng.integers(0, 16, size=(200, 3))
    a, b = net.forward_q(Q), wide.forward_q(Q)
    assert np.array_equal(a.class_index, b.class_index) and np.array_equal(a.scores, b.scores)


def test_narrow_start_hints_the_wide_model():
    Q, y = _tiny(14, n=24)
    r = _train(Q, y, 2, hidden=(6,), narrow_start=True)
    assert r.network.training["narrow_start"]["hidden"] == [3]
    assert r.objective <= r.network.training["narrow_start"]["objective"]
    assert r.objective == errors_of(r.network, Q, y)
    assert r.objective <= best_errors(Q, y, 2, 2, w=1, levels=3)  # 6 units beat any 2


def test_rounded_mlp_start_is_a_valid_network_and_hint():
    from bdnn.train.architecture import Architecture
    from bdnn.train.float_start import rounded_mlp_start

    rng = np.random.default_rng(30)
    Q = rng.integers(0, 16, size=(120, 5))
    y = (Q[:, 0] + Q[:, 1] > Q[:, 2] + 8).astype(int) + (Q[:, 3] > 10).astype(int)
    for activation in ("heaviside", "sign"):
        arch = Architecture(5, (4,), 3, (2, 2), 15, activation=activation)
        start = rounded_mlp_start(Q, y, arch, Quantizer.identity(5, 4), [0, 1, 2])
        assert start.hidden_widths == (4,) and int(np.abs(start.layers[0].weights).max()) <= 2
        assert errors_of(start, Q, y) < 0.5 * len(y)  # far better than chance on a simple rule
    r = train_exact(TrainProblem.build(Q, y, quantizer=Quantizer.identity(5, 4),
                                       classes=[0, 1, 2], hidden=(4,), weight_bound=2,
                                       solve=FAST))
    assert r.objective <= r.network.training["float_start"]["objective"]
    assert r.objective == errors_of(r.network, Q, y)


def test_float_start_mlp_stops_at_its_deadline_and_is_unchanged_without_one():
    # the clock hooks into a private scikit-learn method: a release that renames it would
    # silently fit unclocked, and this test would fail
    import time
    import warnings

    from sklearn.neural_network import MLPClassifier

    from bdnn.train.float_start import _clocked_mlp

    rng = np.random.default_rng(32)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    params = dict(hidden_layer_sizes=(4,), activation="tanh", max_iter=60, random_state=3,
                  alpha=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = MLPClassifier(**params).fit(X, y)
        free = _clocked_mlp(None, **params).fit(X, y)
        late = _clocked_mlp(time.monotonic() - 1.0, **params).fit(X, y)
    assert free.n_iter_ == plain.n_iter_ > 1
    for a, b in zip(free.coefs_, plain.coefs_, strict=True):
        assert np.array_equal(a, b)
    assert late.n_iter_ == 1 and late.predict(X).shape == y.shape


def test_start_network_is_the_result_when_cpsat_finds_nothing_in_time():
    rng = np.random.default_rng(31)
    Q = rng.integers(0, 16, size=(1500, 12))
    y = (Q[:, :6].sum(axis=1) > Q[:, 6:].sum(axis=1)).astype(int)
    r = train_exact(TrainProblem.build(Q, y, quantizer=Quantizer.identity(12, 4), classes=[0, 1],
                                       hidden=(12, 12),
                                       solve=SolveOptions(time_limit=0.05, workers=1,
                                                          progress=False)),
                    narrow_start=False)
    assert r.status == "FEASIBLE"
    assert r.objective == errors_of(r.network, Q, y) < len(y) // 2
    assert 0 <= r.bound <= r.objective
    # the summary says where the network came from (508c693 printed only "FEASIBLE")
    assert r.origin.startswith("the float start: ") and r.network.training["origin"] == r.origin
    assert r.summary()["origin"] == r.origin
