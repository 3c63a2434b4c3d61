"""scikit-learn estimator: ``BDNNClassifier`` (fit / predict / score, usable in pipelines)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_X_y, validate_data

from .ensemble import is_ensemble
from .errors import BDNNError
from .network import Network
from .objective import get_objective
from .output_kind import get_output_kind
from .quantizer import fit_quantizer
from .train.float_start import FLOAT_ALPHA
from .train.limits import check_problem_size
from .train.methods import check_max_inputs, train_network
from .train.problem import TrainProblem, check_float_alpha
from .train.result import TrainResult
from .train.solver import SolveOptions


class BDNNClassifier(ClassifierMixin, BaseEstimator):
    """A binarized neural network trained with CP-SAT.

    Parameters mirror ``bdnn train`` (``method``: exact, local-search, split, auto, rounded or qat;
    ``float_alpha``: the float MLP's L2 penalty;
    ``robust_radius`` in raw feature units; ``ensemble``: None, ``"ovo"`` or ``"ovr"`` for a
    structured ensemble of two-class networks trained in parallel processes). After ``fit``:
    ``network_`` (the :class:`bdnn.Network`, or the :class:`bdnn.ensemble.Ensemble`, ready for
    export), ``result_`` (status, objective, bound, gap, seconds), ``classes_``,
    ``n_features_in_``.
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (4,),
        weight_bound: int = 1,
        activation: str = "heaviside",
        output: str = "argmax",
        input_bits: int = 4,
        quantizer: str = "uniform",
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
        margin: int | None = None,
        lexicographic: bool = False,
        ensemble: str | None = None,
        max_inputs: int | None = None,
        float_alpha: float = FLOAT_ALPHA,
    ) -> None:
        self.hidden = hidden
        self.weight_bound = weight_bound
        self.activation = activation
        self.output = output
        self.input_bits = input_bits
        self.quantizer = quantizer
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
        self.margin = margin  # objective "margin": how far the label must clear the decision
        self.lexicographic = lexicographic
        self.ensemble = ensemble
        self.max_inputs = max_inputs  # read at most this many inputs (input_selection)
        self.float_alpha = float_alpha  # L2 penalty of the float MLP that is rounded

    def fit(self, X, y, X_val=None, y_val=None) -> BDNNClassifier:
        """Train on ``X`` [N, d] (floats) and labels ``y`` (classes: strings or whole numbers).

        Inputs are checked with scikit-learn's own validation and messages (``ValueError``);
        a problem too large to build raises ``BDNNError`` with the estimate and the limit. A
        DataFrame's column names are kept in the training record as ``feature_names`` (the C
        header lists them).
        """
        columns = getattr(X, "columns", None)
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        check_classification_targets(y)  # refuses fractional labels, as the command line does
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise BDNNError("y holds a single class; a classifier needs at least 2")
        hidden = (self.hidden,) if np.isscalar(self.hidden) else tuple(self.hidden)
        n_outputs = get_output_kind(self.output).n_outputs(len(self.classes_))
        check_problem_size(X.shape[0], X.shape[1], hidden, n_outputs, self.weight_bound,
                           self.input_bits, self.workers, self.time_limit)
        quantizer = fit_quantizer(self.quantizer, X, y_idx, int(self.input_bits))
        Q = quantizer.quantize(X)
        classes = [c.item() if hasattr(c, "item") else c for c in self.classes_]
        Q_val = y_val_idx = None
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                raise ValueError("give both X_val and y_val, or neither")
            X_val, y_val = check_X_y(X_val, y_val, dtype=np.float64)
            if X_val.shape[1] != X.shape[1]:
                raise ValueError(f"X_val has {X_val.shape[1]} features, but X has "
                                 f"{X.shape[1]} features")
            unknown = np.setdiff1d(y_val, self.classes_)
            if len(unknown):
                raise ValueError(f"y_val holds labels not in y: {unknown[:5].tolist()}")
            Q_val = quantizer.quantize(X_val)
            y_val_idx = np.searchsorted(self.classes_, y_val)
        if self.max_inputs is not None:
            check_max_inputs(self.max_inputs, ensemble=self.ensemble)
        if self.ensemble is not None:
            return self._fit_ensemble(Q, y_idx, quantizer, classes, hidden, Q_val, y_val_idx,
                                      columns)
        problem = TrainProblem.build(
            Q, y_idx, quantizer=quantizer, classes=classes, hidden=hidden,
            weight_bound=int(self.weight_bound), activation=self.activation, output=self.output,
            objective=get_objective(self.objective,
                                    **({} if self.margin is None else
                                       {"margin": int(self.margin)})),
            warm_start=self.warm_start,
            solve=SolveOptions(time_limit=float(self.time_limit), workers=int(self.workers),
                               seed=int(self.seed), deterministic=bool(self.deterministic),
                               progress=bool(self.verbose)),
            Q_val=Q_val, y_val=y_val_idx, X_raw=X,
            robust_radius=None if self.robust_radius is None else float(self.robust_radius),
            float_alpha=self.float_alpha,
        )
        result: TrainResult = train_network(
            self.method, problem, sparsify=bool(self.sparsify), splits=self.splits,
            batch_size=self.batch_size, paper=bool(self.paper), restarts=self.restarts,
            lexicographic=bool(self.lexicographic),
            max_inputs=None if self.max_inputs is None else int(self.max_inputs),
        )
        if columns is not None and len(columns) == X.shape[1]:
            result.network.training["feature_names"] = [str(c) for c in columns]
        self.result_ = result
        self.network_ = result.network
        return self

    def _fit_ensemble(self, Q, y_idx, quantizer, classes, hidden, Q_val, y_val_idx,
                      columns) -> BDNNClassifier:
        from .train.ensemble import train_ensemble

        if self.warm_start is not None or self.robust_radius is not None:
            raise BDNNError("ensemble= cannot be combined with warm_start or robust_radius")
        options = {k: v for k, v in (("splits", self.splits), ("batch_size", self.batch_size),
                                     ("paper", self.paper), ("restarts", self.restarts))
                   if v not in (None, False)}
        result = train_ensemble(
            self.ensemble, Q, y_idx, quantizer=quantizer, classes=classes, hidden=hidden,
            weight_bound=int(self.weight_bound), activation=self.activation,
            output=self.output, objective=self.objective, margin=self.margin,
            method=self.method, float_alpha=check_float_alpha(self.float_alpha),
            sparsify=bool(self.sparsify),
            lexicographic=bool(self.lexicographic), method_options=options,
            time_limit=float(self.time_limit), workers=int(self.workers), seed=int(self.seed),
            deterministic=bool(self.deterministic), progress=bool(self.verbose),
            Q_val=Q_val, y_val=y_val_idx)
        if columns is not None and len(columns) == Q.shape[1]:
            result.ensemble.training["feature_names"] = [str(c) for c in columns]
        self.result_ = result
        self.network_ = result.ensemble
        return self

    def _validated(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        return validate_data(self, X, dtype=np.float64, reset=False)

    def predict(self, X) -> np.ndarray:
        """Predicted labels for float features ``X`` [N, d]."""
        return self.classes_[self.network_.predict(self._validated(X))]

    def decision_function(self, X) -> np.ndarray:
        """The network's integer class scores, in scikit-learn's shape.

        Several classes: ``[N, n_classes]``, the output scores (the prediction is the first
        largest). Two classes: ``[N]``, larger means more ``classes_[1]`` -- the one score of
        a single-output network (``classes_[1]`` when >= 0), else score 1 minus score 0
        (``classes_[1]`` when > 0). An ensemble gives its vote's integer per class
        (``Ensemble.class_keys``). Usable with ``roc_auc_score`` and ``RocCurveDisplay``.
        """
        scores = self.network_.forward(self._validated(X)).scores
        if is_ensemble(self.network_):  # the vote's integer per class (Ensemble.class_keys)
            scores = self.network_.class_keys(scores)
        if scores.shape[1] == 1:
            return scores[:, 0]
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores
