"""scikit-learn estimator: ``BDNNClassifier`` (fit / predict / score, usable in pipelines)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .errors import BDNNError
from .network import Network
from .quantizer import Quantizer
from .train.exact import SolveOptions
from .train.methods import train_network
from .train.result import TrainResult


class BDNNClassifier(ClassifierMixin, BaseEstimator):
    """A binarized neural network trained with CP-SAT.

    Parameters mirror ``bdnn train`` (``method``: exact, local-search, split or auto;
    ``robust_radius`` in raw feature units). After ``fit``: ``network_`` (the :class:`bdnn.Network`,
    ready for export), ``result_`` (status, objective, bound, gap, seconds), ``classes_``,
    ``n_features_in_``.
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (4,),
        weight_bound: int = 1,
        activation: str = "heaviside",
        output: str = "argmax",
        input_bits: int = 4,
        objective: str = "errors",
        method: str = "exact",
        sparsify: bool = False,
        time_limit: float = 60.0,
        workers: int = 2,
        seed: int = 0,
        deterministic: bool = False,
        verbose: bool = False,
        warm_start: Network | None = None,
        robust_radius: float | None = None,
        splits: int | None = None,
        batch_size: int | None = None,
        paper: bool = False,
        restarts: int | None = None,
    ) -> None:
        self.hidden = hidden
        self.weight_bound = weight_bound
        self.activation = activation
        self.output = output
        self.input_bits = input_bits
        self.objective = objective
        self.method = method
        self.sparsify = sparsify
        self.time_limit = time_limit
        self.workers = workers
        self.seed = seed
        self.deterministic = deterministic
        self.verbose = verbose
        self.warm_start = warm_start
        self.robust_radius = robust_radius
        self.splits = splits
        self.batch_size = batch_size
        self.paper = paper
        self.restarts = restarts

    def fit(self, X, y, X_val=None, y_val=None) -> BDNNClassifier:
        """Train on ``X`` [N, d] (floats) and labels ``y``; a DataFrame's column names are kept
        in the training record as ``feature_names`` (the C header lists them)."""
        columns = getattr(X, "columns", None)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise BDNNError("X must be a non-empty 2-D array [n_samples, n_features]")
        if not np.all(np.isfinite(X)):
            raise BDNNError("X holds NaN or infinite values; clean or impute them first")
        self.classes_, y_idx = np.unique(np.asarray(y), return_inverse=True)
        if len(self.classes_) < 2:
            raise BDNNError("y holds a single class; a classifier needs at least 2")
        hidden = (self.hidden,) if np.isscalar(self.hidden) else tuple(self.hidden)
        quantizer = Quantizer.fit(X, int(self.input_bits))
        Q = quantizer.quantize(X)
        classes = [c.item() if hasattr(c, "item") else c for c in self.classes_]
        Q_val = y_val_idx = None
        if X_val is not None:
            Q_val = quantizer.quantize(np.asarray(X_val, dtype=np.float64))
            y_val_idx = np.searchsorted(self.classes_, np.asarray(y_val))
        result: TrainResult = train_network(
            self.method, Q, y_idx, quantizer=quantizer, classes=classes, hidden=hidden,
            weight_bound=int(self.weight_bound), activation=self.activation, output=self.output,
            objective=self.objective, sparsify=bool(self.sparsify), warm_start=self.warm_start,
            solve=SolveOptions(time_limit=float(self.time_limit), workers=int(self.workers),
                               seed=int(self.seed), deterministic=bool(self.deterministic),
                               progress=bool(self.verbose)),
            Q_val=Q_val, y_val=y_val_idx, X_raw=X,
            robust_radius=None if self.robust_radius is None else float(self.robust_radius),
            splits=self.splits, batch_size=self.batch_size, paper=bool(self.paper),
            restarts=self.restarts,
        )
        if columns is not None and len(columns) == X.shape[1]:
            result.network.training["feature_names"] = [str(c) for c in columns]
        self.result_ = result
        self.network_ = result.network
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted labels for float features ``X``."""
        check_is_fitted(self, "network_")
        return self.classes_[self.network_.predict(np.asarray(X, dtype=np.float64))]

    def decision_function(self, X) -> np.ndarray:
        """The integer output scores (one column for a single-unit output)."""
        check_is_fitted(self, "network_")
        scores = self.network_.forward(np.asarray(X, dtype=np.float64)).scores
        return scores[:, 0] if scores.shape[1] == 1 else scores
