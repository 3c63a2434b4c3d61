"""``bdnn verify``: every backend against the numpy reference, bit for bit."""

from __future__ import annotations

import sys

import click

from codegen.backends import backend_names

from ..errors import BDNNError
from ..model_file import load_model
from .options import emit_json


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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def command(model, data, n_random, seed, backends, label_column, delimiter, as_json) -> None:
    """Check that every backend computes exactly what the numpy reference does on MODEL.

    DATA (optional) is a CSV file or a built-in data set name; its rows are quantized with the
    model's quantizer. Exit 0 if all agree, 1 on any mismatch or backend failure.
    """
    from codegen.verify import format_table, verify

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
    report = verify(net, X, n_random=n_random, seed=seed, backends=names)
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
