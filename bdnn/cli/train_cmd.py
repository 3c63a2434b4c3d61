"""``bdnn train``: train a BDNN on a built-in data set or a CSV file."""

from __future__ import annotations

import os
from pathlib import Path

import click
import numpy as np

from ..activation import ACTIVATIONS
from ..errors import BDNNError
from ..model_file import load_network, save_network
from ..objective import OBJECTIVES
from ..output_kind import OUTPUT_KINDS
from ..quantizer import Quantizer
from ..train.methods import METHODS, train_network
from ..train.problem import TrainProblem
from ..train.robust_boxes import check_radius
from ..train.solver import SolveOptions
from .data_options import data_options, read_data
from .options import IntList, emit_json, process_started


@click.command("train")
@click.argument("data")
@click.option("--hidden", type=IntList(), default="4", show_default=True,
              help="Hidden layer widths, comma-separated.")
@click.option("--weight-bound", type=int, default=1, show_default=True,
              help="Weights are integers in [-w, w] (1 = ternary).")
@click.option("--activation", type=click.Choice(list(ACTIVATIONS)), default="heaviside",
              show_default=True)
@click.option("--output", "output_kind", type=click.Choice(list(OUTPUT_KINDS)),
              default="argmax", show_default=True,
              help="argmax of one score per class, or one unit for 2 classes.")
@click.option("--input-bits", type=int, default=4, show_default=True,
              help="Quantized input levels 2^bits (1..8).")
@click.option("--objective", type=click.Choice(list(OBJECTIVES)), default="errors",
              show_default=True)
@click.option("--method", type=click.Choice(list(METHODS)), default="exact", show_default=True)
@click.option("--robust-radius", type=float, default=None,
              help="Robust training: the first-layer pattern must hold when every feature moves "
                   "by up to this much (raw feature units).")
@click.option("--splits", type=int, default=None,
              help="split: number of subset splits (default 20; 5 with --paper and robust).")
@click.option("--batch-size", type=int, default=None,
              help="split: rows per iteration, a random contiguous batch (default 128, or all "
                   "rows when fewer).")
@click.option("--paper", is_flag=True,
              help="split: the published settings (25 k-means restarts on raw features, "
                   "batches of 64, 20 splits, no warm start).")
@click.option("--restarts", type=int, default=None,
              help="local-search: number of starts (default: as many as the time limit allows).")
@click.option("--sparsify", is_flag=True,
              help="Second stage: keep the loss, minimise the number of non-zero weights.")
@click.option("--time-limit", type=float, default=60.0, show_default=True, help="Seconds.")
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for the split and the solver.")
@click.option("--deterministic", is_flag=True,
              help="Reproducible search (deterministic time limit, interleaved workers).")
@click.option("--warm-start", type=click.Path(dir_okay=False), default=None,
              help="Model file whose network hints the solver.")
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the model file (JSON).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result on stdout.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
@data_options
def command(data, hidden, weight_bound, activation, output_kind, input_bits, objective, method,
            robust_radius, splits, batch_size, paper, restarts, sparsify, time_limit, workers,
            seed, deterministic, warm_start, out_path, as_json,
            quiet, label_column, delimiter, split, test_fraction) -> None:
    """Train on DATA (a built-in name, see `bdnn datasets`, or a CSV file)."""
    started = process_started()  # --time-limit covers the whole command, start-up included
    if weight_bound < 1:
        raise BDNNError(f"--weight-bound must be >= 1, got {weight_bound}")
    if not time_limit > 0:
        raise BDNNError(f"--time-limit must be > 0 seconds, got {time_limit}")
    if workers < 1:
        raise BDNNError(f"--workers must be >= 1, got {workers}")
    if not 1 <= input_bits <= 8:
        raise BDNNError(f"--input-bits must be in 1..8, got {input_bits}")
    if robust_radius is not None:
        check_radius(robust_radius)
    if splits is not None and splits < 1:
        raise BDNNError(f"--splits must be >= 1, got {splits}")
    if batch_size is not None and batch_size < 1:
        raise BDNNError(f"--batch-size must be >= 1, got {batch_size}")
    if restarts is not None and restarts < 1:
        raise BDNNError(f"--restarts must be >= 1, got {restarts}")
    if sparsify and method not in ("exact", "auto"):
        raise BDNNError(f"--sparsify works with --method exact only, not {method}")
    _check_writable(Path(out_path))
    if not quiet:
        click.echo(f"[train] reading {data}", err=True)
    ds = read_data(data, label_column, delimiter, split, seed, test_fraction)
    X, y = ds.train_part()
    warm = load_network(warm_start) if warm_start else None
    if warm is not None and warm.n_inputs != ds.n_features:
        raise BDNNError(
            f"warm-start model takes {warm.n_inputs} features, the data have {ds.n_features}"
        )
    quantizer = warm.quantizer if warm is not None else Quantizer.fit(X, input_bits)
    Q = quantizer.quantize(X)
    Xv, yv = ds.val_part()
    problem = TrainProblem.build(
        Q, y, quantizer=quantizer, classes=list(ds.classes), hidden=hidden,
        weight_bound=weight_bound, activation=activation, output=output_kind,
        objective=objective, warm_start=warm,
        solve=SolveOptions(time_limit=time_limit, workers=workers, seed=seed,
                           deterministic=deterministic, progress=not quiet),
        Q_val=quantizer.quantize(Xv) if len(yv) else None, y_val=yv if len(yv) else None,
        X_raw=X, robust_radius=robust_radius, started=started,
    )
    result = train_network(method, problem, sparsify=sparsify, splits=splits,
                           batch_size=batch_size, paper=paper, restarts=restarts)
    net = result.network
    summary = result.summary()
    summary.update({"data": ds.name, "method": net.training.get("method", method),
                    "model": str(out_path)})
    for key in ("auto_choice", "robust_radius"):
        if key in net.training:
            summary[key] = net.training[key]
    for part in ("val", "test"):
        Xp, yp = ds.part(part)
        if len(yp):
            summary[f"{part}_accuracy"] = float(np.mean(net.predict(Xp) == yp))
            net.training[f"{part}_accuracy"] = summary[f"{part}_accuracy"]
    net.training.update({"data": ds.name, "split": ds.split.protocol, "split_seed": seed})
    save_network(net, out_path)
    if as_json:
        emit_json(summary)
    else:
        click.echo(_report(summary))


def _check_writable(path: Path) -> None:
    """Fail before a long solve rather than after it."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BDNNError(f"output directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise BDNNError(f"output directory {parent} is not writable")
    if path.is_dir():
        raise BDNNError(f"output path {path} is a directory; give a file name like model.json")


def _report(s: dict) -> str:
    lines = [
        f"status          {s['status']}",
        f"network from    {s['origin']}",
        f"objective       {s['objective']}  (bound {s['bound']:g}, gap {100 * s['gap']:.1f}%)",
        f"train accuracy  {s['train_accuracy']:.4f}  ({s['train_errors']} errors of "
        f"{s['n_train']})",
    ]
    if "val_accuracy" in s:
        lines.append(f"val accuracy    {s['val_accuracy']:.4f}")
    if "test_accuracy" in s:
        lines.append(f"test accuracy   {s['test_accuracy']:.4f}")
    lines.append(f"non-zero        {s['nonzero_weights']} of {s['weights']} weights")
    lines.append(f"seconds         {s['seconds']:.1f}")
    lines.append(f"model           {s['model']}")
    return "\n".join(lines)
