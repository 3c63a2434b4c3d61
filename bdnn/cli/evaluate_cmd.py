"""``bdnn evaluate``: accuracy and confusion matrix of a model on data."""

from __future__ import annotations

import click
import numpy as np

from ..errors import BDNNError
from ..model_file import load_network
from .data_options import data_options, read_data
from .options import emit_json


@click.command("evaluate")
@click.argument("model")
@click.argument("data")
@click.option("--part", type=click.Choice(["auto", "all", "train", "val", "test"]), default="auto",
              show_default=True, help="Rows to evaluate; auto = test part if any, else all.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result on stdout.")
@data_options
def command(model, data, part, seed, as_json, label_column, delimiter, split,
            test_fraction) -> None:
    """Evaluate MODEL on DATA (built-in name or CSV file)."""
    net = load_network(model)
    ds = read_data(data, label_column, delimiter, split, seed, test_fraction,
                   classes=list(net.classes))
    if ds.n_features != net.n_inputs:
        raise BDNNError(
            f"the data have {ds.n_features} features, the model expects {net.n_inputs}; "
            "evaluate on data with the training set's columns"
        )
    if part == "auto":
        part = "test" if len(ds.test) else "all"
    X, y = ds.part(part)
    if len(y) == 0:
        raise BDNNError(f"the {part} part of {ds.name} is empty; choose another --part")
    pred = net.predict(X)
    k = net.n_classes
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    result = {
        "data": ds.name,
        "part": part,
        "rows": int(len(y)),
        "accuracy": float(np.mean(pred == y)),
        "errors": int(np.sum(pred != y)),
        "classes": [str(c) for c in net.classes],
        "confusion": confusion.tolist(),
    }
    if as_json:
        emit_json(result)
        return
    click.echo(f"{ds.name} ({part}, {len(y)} rows): accuracy {result['accuracy']:.4f} "
               f"({result['errors']} errors)")
    click.echo(_confusion_table(confusion, result["classes"]))


def _confusion_table(confusion: np.ndarray, names: list[str]) -> str:
    width = max(6, *(len(n) for n in names), len(str(int(confusion.max(initial=0)))))
    head = "true \\ pred".ljust(width + 2) + " ".join(n.rjust(width) for n in names)
    rows = [
        names[i].ljust(width + 2) + " ".join(str(int(v)).rjust(width) for v in confusion[i])
        for i in range(len(names))
    ]
    return "\n".join([head, *rows])
