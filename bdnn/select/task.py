"""One training of a sweep: a top-level, picklable function that a Dask worker runs.

``train_task(task, data)`` takes a task (configuration, solver seed, time limit, CP-SAT workers,
the resume key) and the data part it trains and validates on (arrays; the test rows never reach
a worker) and returns a JSON-able result holding the model dict. A configuration ``bdnn train``
refuses (``BDNNError``) is a result with ``"error"``, not an exception: retrying it elsewhere
would fail the same way. Any other exception propagates, so Dask retries the task.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass

import numpy as np

from ..ensemble import Ensemble, is_ensemble
from ..errors import BDNNError
from ..model_file import model_from_dict, model_to_dict
from ..network import Network
from ..output_kind import get_output_kind
from ..quantizer import AnyQuantizer, fit_quantizer, recorded_kind
from ..train.limits import check_problem_size
from ..train.methods import FLOAT_MLP_METHODS, train_network
from ..train.problem import TrainProblem
from ..train.solver import SolveOptions
from .grid import GRID_AXES, KEY_OMITS_DEFAULT, hidden_widths, stage_arguments


@dataclass(frozen=True)
class DataPart:
    """Rows a task trains on and validates on (plain arrays: pickled to the workers)."""

    name: str
    X: np.ndarray
    y: np.ndarray  # class indices into ``classes``
    X_val: np.ndarray
    y_val: np.ndarray
    classes: list
    feature_names: list | None = None

    def fingerprint(self) -> str:
        """16 hex digits of a SHA-256 over the rows, labels and classes of both parts."""
        h = hashlib.sha256(b"bdnn-select-data-v1")
        for a in (self.X, self.y, self.X_val, self.y_val):
            a = np.ascontiguousarray(a)
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(a.tobytes())
        h.update(json.dumps([str(c) for c in self.classes]).encode())
        return h.hexdigest()[:16]


def task_key(config: dict, seed: int, fold: int | None, time_limit: float, workers: int,
             data_fingerprint: str) -> str:
    """The resume key of a training: configuration, seed, fold, budget and data."""
    config = {k: v for k, v in config.items()
              if not (k in KEY_OMITS_DEFAULT and v == GRID_AXES[k].default)}
    doc = json.dumps({"config": config, "seed": seed, "fold": fold, "time_limit": time_limit,
                      "workers": workers, "data": data_fingerprint}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:20]


def train_task(task: dict, data: DataPart) -> dict:
    """Train ``task["config"]`` on ``data`` (see the module docstring); the result's
    ``val_accuracy`` is the numpy forward pass on ``data``'s validation rows."""
    started = time.monotonic()
    config = task["config"]
    out = {k: task[k] for k in ("key", "config", "seed", "fold", "time_limit")}
    out["host"] = f"{socket.gethostname()}:{os.getpid()}"
    try:
        net, record = train_config(config, data, seed=int(task["seed"]),
                                   time_limit=float(task["time_limit"]),
                                   workers=int(task["workers"]),
                                   warm_start=task.get("warm_start"))
    except BDNNError as e:
        out.update(error=" ".join(str(e).split()), seconds=time.monotonic() - started)
        return out
    out.update(
        status=record["status"],
        origin=record.get("origin", ""),
        train_accuracy=float(record["train_accuracy"]),
        val_accuracy=(float(np.mean(net.predict(data.X_val) == data.y_val))
                      if len(data.y_val) else None),
        nonzero_weights=int(net.n_nonzero_weights()),
        seconds=time.monotonic() - started,
        model=model_to_dict(net),
    )
    return out


def train_config(config: dict, data: DataPart, *, seed: int, time_limit: float, workers: int,
                 warm_start: dict | Network | Ensemble | None = None,
                 progress: bool = False) -> tuple[Network | Ensemble, dict]:
    """Train one configuration as ``bdnn train`` does with the same options: the quantizer
    fitted on the training rows (or the warm start's), validation rows given to the trainer.
    An ensemble configuration trains its members afresh, and so does a rounded or qat one (none
    takes a warm start: ``warm_start`` lends them only its quantizer)."""
    args = stage_arguments(config)
    warm = (model_from_dict(warm_start) if isinstance(warm_start, dict) else warm_start)
    n_out = get_output_kind(config["output"]).n_outputs(len(data.classes))
    check_problem_size(len(data.y), data.X.shape[1], hidden_widths(config), n_out,
                       config["weight_bound"], config["input_bits"], workers, time_limit)
    quantizer = (warm.quantizer if warm is not None
                 else fit_quantizer(args["quantizer"]["kind"], data.X, data.y,
                                    args["quantizer"]["bits"], feature_names=data.feature_names,
                                    source=data.name))
    has_val = len(data.y_val) > 0
    if args["ensemble"]["kind"] is not None:
        return _train_ensemble_config(args, data, quantizer, seed=seed, time_limit=time_limit,
                                      workers=workers, progress=progress)
    if is_ensemble(warm):
        raise BDNNError("a single network cannot be warm-started from an ensemble")
    problem = TrainProblem.build(
        quantizer.quantize(data.X), data.y, quantizer=quantizer, classes=list(data.classes),
        # rounded and qat train their own float MLP: the warm start lends them its quantizer
        warm_start=None if args["method"]["method"] in FLOAT_MLP_METHODS else warm,
        solve=SolveOptions(time_limit=time_limit, workers=workers, seed=seed,
                           progress=progress),
        Q_val=quantizer.quantize(data.X_val) if has_val else None,
        y_val=data.y_val if has_val else None, X_raw=data.X, **args["problem"],
    )
    result = train_network(problem=problem, **args["method"])
    result.network.training["quantizer"] = recorded_kind(
        args["quantizer"]["kind"], None if warm is None else warm.training)
    return result.network, result.network.training


def _train_ensemble_config(args: dict, data: DataPart, quantizer: AnyQuantizer, *, seed: int,
                           time_limit: float, workers: int,
                           progress: bool) -> tuple[Ensemble, dict]:
    """``bdnn train --ensemble KIND`` with the configuration's options (``train_ensemble``)."""
    from ..train.ensemble import train_ensemble

    problem, method = args["problem"], args["method"]
    has_val = len(data.y_val) > 0
    result = train_ensemble(
        args["ensemble"]["kind"], quantizer.quantize(data.X), data.y, quantizer=quantizer,
        classes=list(data.classes), hidden=problem["hidden"],
        weight_bound=problem["weight_bound"], activation=problem["activation"],
        output=problem["output"], objective=problem["objective"], margin=problem["margin"],
        method=method["method"], float_alpha=problem["float_alpha"], sparsify=method["sparsify"],
        lexicographic=method["lexicographic"], time_limit=time_limit, workers=workers, seed=seed,
        progress=progress, Q_val=quantizer.quantize(data.X_val) if has_val else None,
        y_val=data.y_val if has_val else None)
    ens = result.ensemble
    ens.training["quantizer"] = args["quantizer"]["kind"]
    summary = result.summary()
    ens.training["status"] = summary["status"]
    ens.training["origin"] = f"{summary['members']} {summary['ensemble']} members"
    return ens, ens.training
