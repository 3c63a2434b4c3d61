"""``bdnn train``: train a BDNN on a built-in data set or a CSV file."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from pathlib import Path

import click
import numpy as np

from ..activation import ACTIVATIONS
from ..atomic_files import resolve_output_file, write_error, write_files
from ..ensemble import ENSEMBLE_KINDS
from ..errors import BDNNError
from ..model_file import dumps_model, load_network, save_network
from ..objective import OBJECTIVES, objective_with_margin
from ..output_kind import OUTPUT_KINDS, get_output_kind
from ..quantizer import QUANTIZER_KINDS, fit_quantizer, recorded_kind
from ..raw_input import detect_raw_input
from ..train.float_start import FLOAT_ALPHA
from ..train.limits import (
    MAX_INPUT_BITS,
    MAX_INPUTS,
    MAX_SEED,
    MAX_TIME_LIMIT,
    MAX_WEIGHT_BOUND,
    MAX_WORKERS,
    check_problem_size,
)
from ..train.methods import METHODS, check_lexicographic, check_max_inputs, train_network
from ..train.problem import TrainProblem, check_float_alpha
from ..train.robust_boxes import check_radius
from ..train.safe_solver import interrupt_requested, request_interrupt
from ..train.solver import SolveOptions
from . import note_signal
from .data_options import data_options, read_data
from .options import IntList, emit_json, process_started


@click.command("train")
@click.argument("data")
@click.option("--hidden", type=IntList(), default="4", show_default=True,
              help="Hidden layer widths, comma-separated.")
@click.option("--weight-bound", type=click.IntRange(1, MAX_WEIGHT_BOUND), default=1,
              show_default=True,
              help="Weights are integers in [-w, w] (1 = ternary).")
@click.option("--activation", type=click.Choice(list(ACTIVATIONS)), default="heaviside",
              show_default=True)
@click.option("--output", "output_kind", type=click.Choice(list(OUTPUT_KINDS)),
              default="argmax", show_default=True,
              help="argmax of one score per class, or one unit for 2 classes.")
@click.option("--input-bits", type=click.IntRange(1, MAX_INPUT_BITS), default=4,
              show_default=True,
              help="Bits per quantized input (1..8): levels 0..max_level, "
                   "max_level = 2^bits - 1.")
@click.option("--quantizer", "quantizer_kind", type=click.Choice(list(QUANTIZER_KINDS)),
              default="uniform", show_default=True,
              help="How raw features become levels: "
                   + "; ".join(f"{k.name}: {k.help}" for k in QUANTIZER_KINDS.values()) + ".")
@click.option("--objective", type=click.Choice(list(OBJECTIVES)), default="errors",
              show_default=True,
              help="errors; hamming (output bits, Kurtz & Bah); margin (a row counts as correct "
                   "only when its label clears the decision by --margin).")
@click.option("--margin", type=click.IntRange(0, MAX_WEIGHT_BOUND), default=None,
              help="margin objective: how far the label's score must clear every other "
                   "(default 1; 0 is errors).")
@click.option("--lexicographic", is_flag=True,
              help="exact: minimise the loss (errors = margin 0), then keep it and maximise the "
                   "smallest margin, then (--sparsify) minimise non-zero weights.")
@click.option("--method", type=click.Choice(list(METHODS)), default="exact", show_default=True,
              help="exact (CP-SAT on the whole training part), local-search (CP-SAT on layer "
                   "blocks), split (CP-SAT on k-means subsets, picked on validation), auto "
                   "(exact or split by size), rounded (a float MLP rounded to integer weights, "
                   "no integer search), qat (the rounded MLP trained on as the integer network: "
                   "quantization-aware training).")
@click.option("--float-alpha", type=float, default=FLOAT_ALPHA, show_default=True,
              help="L2 penalty of the float MLP that is rounded: the start of exact, "
                   "local-search and split, and all of --method rounded and qat.")
@click.option("--robust-radius", type=click.FloatRange(min=0), default=None,
              help="Robust training: the first-layer pattern must hold when every feature moves "
                   "by up to this much (raw feature units).")
@click.option("--splits", type=click.IntRange(min=1), default=None,
              help="split: number of subset splits (default 20; 5 with --paper and robust).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="split: rows per iteration, a random contiguous batch (default 128, or all "
                   "rows when fewer).")
@click.option("--paper", is_flag=True,
              help="split: the published settings (25 k-means restarts on raw features, "
                   "batches of 64, 20 splits, no warm start).")
@click.option("--restarts", type=click.IntRange(min=1), default=None,
              help="local-search: number of starts (default: as many as the time limit allows).")
@click.option("--ensemble", "ensemble_kind", type=click.Choice(list(ENSEMBLE_KINDS)),
              default=None,
              help="Train a structured ensemble of two-class networks: ovo (one per pair of "
                   "classes, majority vote) or ovr (one per class against the rest), in "
                   "parallel processes within the one --time-limit.")
@click.option("--sparsify", is_flag=True,
              help="Second stage: keep the loss, minimise the number of non-zero weights.")
@click.option("--max-inputs", type=click.IntRange(1, MAX_INPUTS), default=None,
              help="Train a network that reads at most K inputs (chosen on the training rows "
                   "by greedy forward selection); the C stores level keys for those only.")
@click.option("--prove", is_flag=True,
              help="exact: spend most of the time limit on the lower bound (subset bounds by "
                   "row generation); the model records a certificate.")
@click.option("--certificate", "certificate_path", type=click.Path(dir_okay=False),
              default=None,
              help="With --prove: also write the bound's certificate here (check it with "
                   "`bdnn certify`).")
@click.option("--time-limit", type=click.FloatRange(0, MAX_TIME_LIMIT, min_open=True),
              default=60.0, show_default=True, help="Seconds.")
@click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=2, show_default=True)
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
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
def command(data, hidden, weight_bound, activation, output_kind, input_bits, quantizer_kind,
            objective, margin, lexicographic, method, float_alpha,
            robust_radius, splits, batch_size, paper, restarts, ensemble_kind, sparsify,
            max_inputs, prove, certificate_path, time_limit, workers,
            seed, deterministic, warm_start, out_path, as_json,
            quiet, label_column, delimiter, split, test_fraction) -> None:
    """Train on DATA (a built-in name, see `bdnn datasets`, or a CSV file)."""
    started = process_started()  # --time-limit covers the whole command, start-up included
    # click's ranges refuse the simple cases; these catch NaN (which compares false to any
    # bound) and the sizes that depend on the data
    if robust_radius is not None:
        check_radius(robust_radius)
    float_alpha = check_float_alpha(float_alpha)
    if sparsify and method not in ("exact", "auto"):
        raise BDNNError(f"--sparsify works with --method exact only, not {method}")
    if certificate_path is not None and not prove:
        raise BDNNError("--certificate needs --prove (only --prove writes a certificate)")
    if prove and method not in ("exact", "auto"):
        raise BDNNError(f"--prove works with --method exact only, not {method}")
    if prove and robust_radius is not None:
        raise BDNNError("--prove does not support --robust-radius; leave one of them out")
    if ensemble_kind and (warm_start or robust_radius is not None):
        raise BDNNError("--ensemble cannot be combined with --warm-start or --robust-radius")
    if ensemble_kind and prove:
        raise BDNNError("--prove trains one network; leave out --ensemble or --prove")
    if max_inputs is not None:
        check_max_inputs(max_inputs, prove=prove, ensemble=ensemble_kind)
    objective_record = objective_with_margin(objective, margin)
    if lexicographic:
        check_lexicographic(method, objective_record)
    if prove and lexicographic:
        raise BDNNError("--prove and --lexicographic cannot be combined; drop one")
    _check_writable(Path(out_path))
    if certificate_path is not None:
        if Path(certificate_path).resolve() == Path(out_path).resolve():
            raise BDNNError("--certificate and -o name the same file; give two names")
        _check_writable(Path(certificate_path))
    ds = read_data(data, label_column, delimiter, split, seed, test_fraction)
    X, y = ds.train_part()
    check_problem_size(len(y), ds.n_features, hidden,
                       get_output_kind(output_kind).n_outputs(ds.n_classes), weight_bound,
                       input_bits,
                       workers, time_limit)
    warm = load_network(warm_start) if warm_start else None
    if warm is not None and warm.n_inputs != ds.n_features:
        raise BDNNError(
            f"warm-start model takes {warm.n_inputs} features, the data have {ds.n_features}"
        )
    if warm is not None and quantizer_kind != "uniform":
        raise BDNNError("--warm-start keeps the warm-start model's quantizer; drop --quantizer")
    quantizer = (warm.quantizer if warm is not None
                 else fit_quantizer(quantizer_kind, X, y, input_bits,
                                    feature_names=ds.feature_names, source=ds.name))
    if robust_radius is not None:
        quantizer.to_quantized_units(robust_radius)  # refuses fitted thresholds
    Q = quantizer.quantize(X)
    Xv, yv = ds.val_part()
    if ensemble_kind:
        _train_ensemble(ensemble_kind, ds, Q, y, quantizer, Xv, yv, started=started,
                        hidden=hidden, weight_bound=weight_bound, activation=activation,
                        output=output_kind, objective=objective_record, method=method,
                        float_alpha=float_alpha, sparsify=sparsify,
                        lexicographic=lexicographic, method_options={
                            k: v for k, v in (("splits", splits), ("batch_size", batch_size),
                                              ("paper", paper), ("restarts", restarts))
                            if v not in (None, False)},
                        time_limit=time_limit, workers=workers, seed=seed,
                        deterministic=deterministic, quiet=quiet, out_path=out_path,
                        as_json=as_json, test_fraction=test_fraction,
                        quantizer_kind=quantizer_kind, raw=detect_raw_input(X))
        return
    # from here on the network is kept (and written) however training ends, Ctrl-C and
    # SIGTERM included
    _keep_best_on_interrupt()
    problem = TrainProblem.build(
        Q, y, quantizer=quantizer, classes=list(ds.classes), hidden=hidden,
        weight_bound=weight_bound, activation=activation, output=output_kind,
        objective=objective_record, warm_start=warm,
        solve=SolveOptions(time_limit=time_limit, workers=workers, seed=seed,
                           deterministic=deterministic, progress=not quiet),
        Q_val=quantizer.quantize(Xv) if len(yv) else None, y_val=yv if len(yv) else None,
        X_raw=X, robust_radius=robust_radius, float_alpha=float_alpha, started=started,
    )
    result = train_network(method, problem, sparsify=sparsify, splits=splits,
                           batch_size=batch_size, paper=paper, restarts=restarts,
                           prove=prove, lexicographic=lexicographic, max_inputs=max_inputs)
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
    net.training["quantizer"] = recorded_kind(quantizer_kind,
                                              None if warm is None else warm.training)
    raw = detect_raw_input(X)
    if raw is not None:  # bdnn export adds NAME_predict_i16 / _i32 by default
        net.training["raw_input"] = raw.name
    if ds.feature_names is not None:  # the C header lists the inputs by name
        net.training["feature_names"] = [str(c) for c in ds.feature_names]
    if ds.split.protocol == "test":
        net.training["test_fraction"] = float(test_fraction)
    cert = net.training.get("certificate")
    if cert is not None:  # how to read the rows again (the checker re-quantizes them)
        cert["data"].update({"name": ds.name, "split": split, "split_seed": seed,
                             "test_fraction": float(test_fraction),
                             "label_column": label_column, "delimiter": delimiter})
        summary["certificate"] = str(certificate_path) if certificate_path else None
    _save_or_rescue(net, Path(out_path))
    if certificate_path is not None and cert is not None:
        write_files({certificate_path: json.dumps(cert, indent=1) + "\n"})
    if as_json:
        emit_json(summary)
    else:
        click.echo(_report(summary))


def _train_ensemble(kind, ds, Q, y, quantizer, Xv, yv, *, started, quiet, out_path, as_json,
                    test_fraction, quantizer_kind, raw, **options) -> None:
    """``--ensemble``: train the members in parallel, evaluate, write one model file."""
    from ..train.ensemble import train_ensemble

    _keep_best_on_interrupt()
    result = train_ensemble(
        kind, Q, y, quantizer=quantizer, classes=list(ds.classes), progress=not quiet,
        Q_val=quantizer.quantize(Xv) if len(yv) else None, y_val=yv if len(yv) else None,
        started=started, **options)
    ens = result.ensemble
    summary = result.summary()
    summary.update({"data": ds.name, "method": options["method"], "model": str(out_path)})
    for part in ("val", "test"):
        Xp, yp = ds.part(part)
        if len(yp):
            summary[f"{part}_accuracy"] = float(np.mean(ens.predict(Xp) == yp))
            ens.training[f"{part}_accuracy"] = summary[f"{part}_accuracy"]
    ens.training.update({"data": ds.name, "split": ds.split.protocol,
                         "split_seed": options["seed"], "quantizer": quantizer_kind})
    if raw is not None:  # the members share the quantizer: one NAME_predict_i16 / _i32
        ens.training["raw_input"] = raw.name
    if ds.feature_names is not None:
        ens.training["feature_names"] = [str(c) for c in ds.feature_names]
    if ds.split.protocol == "test":
        ens.training["test_fraction"] = float(test_fraction)
    _save_or_rescue(ens, Path(out_path))
    if as_json:
        emit_json(summary)
        return
    lines = [
        f"ensemble        {summary['ensemble']} of {summary['members']} networks",
        f"status          {summary['status']}",
        f"train accuracy  {summary['train_accuracy']:.4f}  ({summary['train_errors']} errors "
        f"of {summary['n_train']})",
    ]
    for part in ("val", "test"):
        if f"{part}_accuracy" in summary:
            lines.append(f"{part} accuracy{' ' * (5 - len(part))}  "
                         f"{summary[f'{part}_accuracy']:.4f}")
    lines += [f"non-zero        {summary['nonzero_weights']} of {summary['weights']} weights",
              f"seconds         {summary['seconds']:.1f}", f"model           {out_path}"]
    if summary["interrupted"]:
        lines.append("interrupted     training stopped early; every member's best network so "
                     "far was written")
    click.echo("\n".join(lines))


def _keep_best_on_interrupt() -> None:
    """For the rest of the command, Ctrl-C (SIGINT) and SIGTERM ask the trainer to stop and
    return its best network, which is then written as usual; a second one aborts.

    Without this, a signal that arrives between two CP-SAT solves (while a start is built, a
    descent runs or the network is assembled) raised KeyboardInterrupt there and the network
    was lost. During a solve, ``SafeSolver`` has its own SIGINT handler that stops the solve and
    keeps its best solution; SIGTERM is passed to that handler. ``bdnn.cli.main`` restores the
    previous handlers when the command returns.
    """
    def record(signum, frame) -> None:
        current = signal.getsignal(signal.SIGINT)
        if signum == signal.SIGTERM and callable(current) and current is not record:
            current(signal.SIGINT, frame)  # a solve is running: let it stop and keep its best
            return
        if interrupt_requested():
            note_signal(signum)
            raise KeyboardInterrupt  # the second interrupt: give up, write nothing
        request_interrupt()
        name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        print(f"[{name}] stopping; the best network so far will be written "
              "(press Ctrl-C again to abort)", file=sys.stderr, flush=True)

    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:  # e.g. a background job: keep ignoring
        signal.signal(signal.SIGINT, record)
    signal.signal(signal.SIGTERM, record)


def _check_writable(path: Path) -> None:
    """Fail before a long solve rather than after it: the output must be a regular file (or
    new) in a directory where a file can really be created (read-only mounts, full disks)."""
    if path.is_dir():
        raise BDNNError(f"output path {path} is a directory; give a file name like model.json")
    target = resolve_output_file(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=directory)
        try:
            os.write(fd, b"{}" * 2048)  # about the size of a small model file
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise write_error(path, e) from None


def _save_or_rescue(net, path: Path) -> None:
    """Write the model file; if that fails after training (disk full, directory removed),
    write a rescue copy to the temp directory and say where, so the network is not lost."""
    try:
        save_network(net, path)
    except BDNNError as e:
        try:
            fd, rescue = tempfile.mkstemp(prefix="bdnn-rescue-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(dumps_model(net))
        except OSError as e2:
            raise BDNNError(f"{e}; a rescue copy in {tempfile.gettempdir()} failed too "
                            f"({e2.strerror}): the trained network is lost") from None
        raise BDNNError(f"{e}; the trained network was saved to {rescue} instead "
                        f"(move it where you want it)") from None


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
    lines.append(f"inputs read     {s['inputs_read']} of {s['inputs']}")
    lines.append(f"seconds         {s['seconds']:.1f}")
    lines.append(f"model           {s['model']}")
    if s.get("interrupted"):
        lines.append("interrupted     training stopped early; the best network found so far "
                     "was written")
    lines += [f"warning         {w}" for w in s.get("warnings", [])]
    return "\n".join(lines)
