"""BDNNClassifier as a scikit-learn estimator: fit/predict/score, clone, CV, search, pipeline."""

import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from bdnn import BDNNClassifier
from bdnn.errors import BDNNError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] - X[:, 1] > 0.2, "yes", "no")
    return X, y


def test_fit_predict_score(data):
    X, y = data
    clf = BDNNClassifier(hidden=(2,), time_limit=10).fit(X, y)
    pred = clf.predict(X)
    assert set(pred) <= {"no", "yes"}
    # predictions are the network's classes mapped back to the labels
    assert np.array_equal(pred, clf.classes_[clf.network_.predict(X)])
    assert clf.score(X, y) == pytest.approx(np.mean(pred == y))
    assert clf.result_.train_errors == int(np.sum(pred != y))
    assert clf.network_.classes == ["no", "yes"]
    # two classes: one margin per row, positive exactly where the prediction is classes_[1]
    scores = clf.network_.forward(X).scores
    margin = clf.decision_function(X)
    assert margin.shape == (60,)
    assert np.array_equal(margin, scores[:, 1] - scores[:, 0])
    assert np.array_equal(margin > 0, pred == clf.classes_[1])


def test_params_and_clone():
    clf = BDNNClassifier(hidden=(3, 2), weight_bound=2, seed=5)
    params = clf.get_params()
    assert params["hidden"] == (3, 2) and params["weight_bound"] == 2 and params["seed"] == 5
    other = clone(clf).set_params(weight_bound=1)
    assert other.get_params()["weight_bound"] == 1 and clf.weight_bound == 2


def test_cross_validation_grid_search_and_pipeline(data):
    X, y = data
    scores = cross_val_score(BDNNClassifier(hidden=(1,), time_limit=5), X, y, cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    grid = GridSearchCV(BDNNClassifier(time_limit=5), {"hidden": [(1,), (2,)]}, cv=2).fit(X, y)
    assert grid.best_params_["hidden"] in [(1,), (2,)]
    pipe = Pipeline([("scale", StandardScaler()), ("bdnn", BDNNClassifier(hidden=(2,),
                                                                           time_limit=5))])
    pipe.fit(X, y)
    assert pipe.score(X, y) >= 0.8


def test_bad_input(data):
    X, y = data
    with pytest.raises(BDNNError, match="single class"):
        BDNNClassifier(time_limit=5).fit(X, np.zeros(len(X)))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        BDNNClassifier(time_limit=5).fit(bad, y)


def test_sklearn_validation_messages(data):
    """Mismatched lengths, fractional labels and 1-D input get scikit-learn's messages."""
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        BDNNClassifier(time_limit=5).fit(X[:30], y[:10])
    yi = (y == "yes").astype(int)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        BDNNClassifier(time_limit=5).fit(X, yi + 0.5)
    clf = BDNNClassifier(hidden=(1,), time_limit=2).fit(X, yi)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        clf.predict(X[0])
    with pytest.raises(ValueError, match="X has 2 features, but BDNNClassifier is expecting 3"):
        clf.predict(X[:, :2])


@pytest.mark.parametrize("params, fragment", [
    (dict(hidden=(99999999999999999999999,)), "width is 1e+23, above the limit 100,000"),
    (dict(hidden=(2000, 2000)), "4,010,000 weights, above the limit 100,000"),
    (dict(workers=10**6), "workers is 1,000,000, above the limit 256"),
    (dict(weight_bound=10**9), "weight bound is 1,000,000,000, above the limit 32,767"),
    (dict(input_bits=9), "input bits is 9, above the limit 8"),
    (dict(time_limit=1e300), "above the limit 604800 s"),
    (dict(time_limit=float("nan")), "finite number of seconds"),
])
def test_size_limits_before_building(data, params, fragment):
    """Absurd sizes are refused at once, naming the estimate and the limit."""
    X, y = data
    with pytest.raises(BDNNError, match=re.escape(fragment)):
        BDNNClassifier(**params).fit(X, y)


def test_decision_function_for_roc(data):
    """The scores rank rows for ROC analysis; AUC compared with a brute-force pair count."""
    from sklearn.metrics import get_scorer, roc_auc_score

    X, y = data
    yb = (y == "yes").astype(int)
    for output in ("single", "argmax"):
        clf = BDNNClassifier(hidden=(2,), output=output, time_limit=5).fit(X, yb)
        s = clf.decision_function(X)
        assert s.shape == (len(X),) and s.dtype.kind == "i"
        expected = clf.network_.forward(X).scores
        ref = expected[:, 0] if output == "single" else expected[:, 1] - expected[:, 0]
        assert np.array_equal(s, ref)
        pos, neg = s[yb == 1], s[yb == 0]
        pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
        assert roc_auc_score(yb, s) == pytest.approx(pairs / (len(pos) * len(neg)))
        # the "roc_auc" scorer asks the estimator itself for decision_function, as
        # RocCurveDisplay.from_estimator does
        assert get_scorer("roc_auc")(clf, X, yb) == pytest.approx(
            pairs / (len(pos) * len(neg)))
    # three classes: one integer score per class, argmax is the prediction
    y3 = np.digitize(X[:, 0], [-0.5, 0.5])
    clf = BDNNClassifier(hidden=(2,), time_limit=5).fit(X, y3)
    s3 = clf.decision_function(X)
    assert s3.shape == (len(X), 3)
    assert np.array_equal(clf.classes_[np.argmax(s3, axis=1)], clf.predict(X))



def test_dataframe_columns_become_feature_names(data):
    """A DataFrame's column names reach the training record and the C header's input list."""
    pd = pytest.importorskip("pandas")
    from codegen.c_export import render_c

    X, y = data
    frame = pd.DataFrame(X, columns=["temp (C)", "rh (%)", "lux"])
    clf = BDNNClassifier(hidden=(2,), time_limit=10).fit(frame, y)
    assert clf.network_.training["feature_names"] == ["temp (C)", "rh (%)", "lux"]
    header = render_c(clf.network_, "env")["env.h"]
    for j, name in enumerate(["temp (C)", "rh (%)", "lux"]):
        assert re.search(rf"^ \*   {j}\s+{re.escape(name)}\s+-?\d", header, re.M), name
