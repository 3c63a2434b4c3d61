"""A float ReLU MLP of the same hidden widths as the BDNN (benchmark baseline).

The paper's DNN (Kurtz & Bah 2021, ``trainDNN`` in the authors' code): ReLU hidden layers,
softmax output, Adam with learning rate 1e-3, batch size 64, min-max scaled features, and the
weights of the epoch with the best validation accuracy (Keras ``ModelCheckpoint`` with
``save_best_only``). Here the same with scikit-learn's ``MLPClassifier``: one ``partial_fit``
call is one epoch, and the coefficients of the best-validation epoch are restored at the end
(the earliest epoch wins ties). Paper default: 30 epochs (20 in the robust experiments).
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier


@dataclass
class MinMaxScaling:
    """``(x - lo) / span`` fitted on the training data (constant features map to 0)."""

    lo: np.ndarray
    span: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> MinMaxScaling:
        X = np.asarray(X, dtype=np.float64)
        span = X.max(axis=0) - X.min(axis=0)
        return cls(X.min(axis=0), np.where(span > 0, span, 1.0))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.lo) / self.span


@dataclass
class MLPResult:
    """The trained MLP, its scaling, and the benchmark figures."""

    model: MLPClassifier
    scaling: MinMaxScaling | None
    classes: np.ndarray  # class indices the model was trained on
    test_accuracy: float
    val_accuracy: float
    train_errors: int
    n_train: int
    best_epoch: int  # 1-based
    epochs: int
    seconds: float
    val_history: list[float]  # validation accuracy after each epoch

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices for raw features (scaled like the training data)."""
        Z = self.scaling(X) if self.scaling is not None else np.asarray(X, dtype=np.float64)
        return self.model.predict(Z)

    def summary(self) -> dict:
        return {
            "method": "mlp-sklearn",
            "test_accuracy": self.test_accuracy,
            "val_accuracy": self.val_accuracy,
            "train_errors": self.train_errors,
            "n_train": self.n_train,
            "best_epoch": self.best_epoch,
            "epochs": self.epochs,
            "seconds": self.seconds,
        }


def train_mlp(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    hidden: Sequence[int],
    *,
    epochs: int = 30,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    scale: bool = True,
    n_classes: int | None = None,
) -> MLPResult:
    """Train the paper's DNN baseline and keep the best-validation epoch.

    ``y_*`` are class indices; ``scale`` min-max scales features on the training data like the
    paper. ``seconds`` covers training and the per-epoch validation.
    """
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    start = time.perf_counter()
    scaling = MinMaxScaling.fit(X_train) if scale else None
    prep = scaling if scaling is not None else (lambda X: np.asarray(X, dtype=np.float64))
    Xtr, Xva, Xte = prep(X_train), prep(X_val), prep(X_test)
    y_train = np.asarray(y_train).reshape(-1)
    if n_classes is None:
        n_classes = int(max(np.max(y_train), np.max(y_val), np.max(y_test))) + 1
    classes = np.arange(n_classes)
    model = MLPClassifier(
        hidden_layer_sizes=tuple(int(w) for w in hidden),
        activation="relu",
        solver="adam",
        learning_rate_init=learning_rate,
        batch_size=batch_size,
        shuffle=True,
        random_state=seed,
    )
    best = (-1.0, 0, None)
    history: list[float] = []
    for epoch in range(1, int(epochs) + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(Xtr, y_train, classes=classes)
        acc = float(np.mean(model.predict(Xva) == np.asarray(y_val).reshape(-1)))
        history.append(acc)
        if acc > best[0]:
            best = (acc, epoch, (copy.deepcopy(model.coefs_), copy.deepcopy(model.intercepts_)))
    val_acc, best_epoch, params = best
    model.coefs_, model.intercepts_ = params
    seconds = time.perf_counter() - start
    return MLPResult(
        model=model,
        scaling=scaling,
        classes=classes,
        test_accuracy=float(np.mean(model.predict(Xte) == np.asarray(y_test).reshape(-1))),
        val_accuracy=val_acc,
        train_errors=int(np.sum(model.predict(Xtr) != y_train)),
        n_train=int(y_train.shape[0]),
        best_epoch=best_epoch,
        epochs=int(epochs),
        seconds=seconds,
        val_history=history,
    )
