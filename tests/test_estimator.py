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
    assert clf.decision_function(X).shape == (60, 2)


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
    with pytest.raises(BDNNError, match="NaN"):
        BDNNClassifier(time_limit=5).fit(bad, y)


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
