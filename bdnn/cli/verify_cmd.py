"""``bdnn verify``: every backend against the numpy reference, bit for bit."""

from __future__ import annotations

import sys

import click

from codegen.backends import backend_names

from ..errors import BDNNError
from ..model_file import load_model
from ..progress import progress_line
from ..raw_input import RAW_INPUTS
from .options import emit_json, process_started


@click.command("verify")
@click.argument("model")
@click.argument("data", required=False)
@click.option("--random", "n_random", type=int, default=200, show_default=True,
              help="Random integer inputs to add (the first two are all-0 and all-max).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--backends", default=None,
              help=f"Comma-separated backends [default: all]: {', '.join(backend_names())}.")
@click.option("--label-column", default=None,
              help="CSV label column of DATA: name or index (default: last).")
@click.option("--delimiter", default=None, help="CSV delimiter of DATA (detected by default).")
@click.option("--raw-input", type=click.Choice(["none", *RAW_INPUTS]), default=None,
              help="Check this integer raw-input API (NAME_predict_i16 / _i32) [default: the "
                   "model's, when it was trained on integers].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def command(model, data, n_random, seed, backends, label_column, delimiter, raw_input,
            as_json, quiet) -> None:
    """Check that every backend computes exactly what the numpy reference does on MODEL.

    DATA (optional) is a CSV file or a built-in data set name; its rows are quantized with the
    model's quantizer. Exit 0 if all agree, 1 on any mismatch or backend failure.
    """
    started = process_started()
    from codegen.verify import format_table, verify, verify_request

    names = [b.strip() for b in backends.split(",") if b.strip()] if backends else None
    if backends is not None and not names:
        raise BDNNError("--backends is empty; list e.g. numpy,onnxruntime,c-host")
    net = load_model(model)
    X = None
    if data:
        X = _load_features(data, label_column, delimiter)
        if X.shape[1] != net.n_inputs:
            raise BDNNError(
                f"data {data} has {X.shape[1]} features, the model expects {net.n_inputs}"
            )
    verify_request(names, n_random, 0 if X is None else len(X))
    # the first progress line, once the request is known to be good (a bad one gets a
    # one-line error)
    progress_line("verify", started, f"{model}: {net.n_inputs} inputs"
                  + (f"; data {data}" if data else ""), quiet)
    report = verify(net, X, n_random=n_random, seed=seed, backends=names, raw_input=raw_input,
                    progress=lambda message: progress_line("verify", started, message, quiet))
    if as_json:
        emit_json({"model": str(model), "data": data, **report.to_dict()})
    else:
        click.echo(format_table(report))
    if not report.ok:
        sys.exit(1)


def _load_features(spec: str, label_column, delimiter):
    from ..data import load_dataset

    if label_column is not None:
        try:
            label_column = int(label_column)
        except ValueError:
            pass
    ds = load_dataset(spec, label_column=label_column, delimiter=delimiter, split="none",
                      allow_single_class=True)
    return ds.X
