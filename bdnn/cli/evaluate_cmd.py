"""``bdnn evaluate``: accuracy and confusion matrix of a model on data."""

from __future__ import annotations

import click
import numpy as np

from ..ensemble import is_ensemble
from ..errors import BDNNError
from ..model_file import load_model
from ..robust import random_attack, worst_case_check
from .data_options import data_options, read_data
from .options import emit_json


@click.command("evaluate")
@click.argument("model")
@click.argument("data")
@click.option("--part", type=click.Choice(["held-out", "all", "train", "validation", "test"]),
              default="held-out", show_default=True,
              help="Rows to evaluate. held-out = the test part of the split recorded in the "
                   "model file (else its validation part, else all rows).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed of the split [default: the one recorded in the model file, else 0].")
@click.option("--attack", type=click.Choice(["random", "worst-case"]), default=None,
              help="Also measure accuracy under an l-infinity attack of radius --eps.")
@click.option("--eps", type=float, default=None,
              help="Attack radius in raw feature units (needed with --attack).")
@click.option("--attack-seed", type=int, default=0, show_default=True,
              help="Seed of the random attack's signs.")
@click.option("--point-time-limit", type=float, default=10.0, show_default=True,
              help="worst-case: CP-SAT seconds per point (points out of time count as unknown).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result on stdout.")
@data_options
def command(model, data, part, seed, attack, eps, attack_seed, point_time_limit, as_json,
            label_column, delimiter, split, test_fraction) -> None:
    """Evaluate MODEL on DATA (built-in name or CSV file)."""
    if attack is not None and (eps is None or not np.isfinite(eps) or eps < 0):
        raise BDNNError("--attack needs --eps, a finite radius >= 0 in raw feature units")
    if attack is None and eps is not None:
        raise BDNNError("--eps only applies with --attack random or --attack worst-case")
    if not point_time_limit > 0:
        raise BDNNError(f"--point-time-limit must be > 0 seconds, got {point_time_limit}")
    net = load_model(model)
    if attack is not None and is_ensemble(net):
        raise BDNNError("--attack works on a single network, not on an ensemble")
    split, seed, test_fraction, recorded = _split_to_use(net.training, split, seed,
                                                         test_fraction)
    ds = read_data(data, label_column, delimiter, split, seed, test_fraction,
                   classes=list(net.classes))
    if ds.n_features != net.n_inputs:
        raise BDNNError(
            f"the data have {ds.n_features} features, the model expects {net.n_inputs}; "
            "evaluate on data with the training set's columns"
        )
    if part == "held-out":
        part = "test" if len(ds.test) else "val" if len(ds.val) else "all"
    elif part == "validation":
        part = "val"
    X, y = ds.part(part)
    if len(y) == 0:
        raise BDNNError(f"the {_PART_NAMES[part]} part of {ds.name} is empty (split "
                        f"{ds.split.protocol!r}); choose another --part or --split")
    pred = net.predict(X)
    k = net.n_classes
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    split_note = _describe_split(ds.split.protocol, seed, test_fraction, recorded)
    result = {
        "data": ds.name,
        "part": _PART_NAMES[part],
        "split": split_note,
        "rows": int(len(y)),
        "accuracy": float(np.mean(pred == y)),
        "errors": int(np.sum(pred != y)),
        "classes": [str(c) for c in net.classes],
        "confusion": confusion.tolist(),
    }
    if attack is not None:
        result["attack"] = _attack(net, X, y, attack, float(eps), attack_seed, point_time_limit)
    if as_json:
        emit_json(result)
        return
    what = "all rows" if part == "all" else f"{_PART_NAMES[part]} part of {split_note}"
    click.echo(f"{ds.name} ({what}; {len(y)} rows): accuracy {result['accuracy']:.4f} "
               f"({result['errors']} errors)")
    click.echo(_confusion_table(confusion, result["classes"]))
    if attack is not None:
        click.echo(_attack_report(result["attack"]))


_PART_NAMES = {"all": "all", "train": "train", "val": "validation", "test": "test"}


def _split_to_use(training: dict, split: str, seed: int | None,
                  test_fraction: float) -> tuple[str, int, float, bool]:
    """The split to evaluate on: the options the user gave, else the one recorded in the model
    file by ``bdnn train`` (so the default scores the rows held out from training).
    Returns ``(protocol, seed, test_fraction, recorded)``."""
    ctx = click.get_current_context()
    given = {name: ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
             for name in ("split", "seed", "test_fraction")}
    recorded = training.get("split") in ("paper", "test", "none")
    if recorded and not given["split"]:
        split = training["split"]
        if not given["test_fraction"] and isinstance(training.get("test_fraction"), float):
            test_fraction = training["test_fraction"]
    else:
        recorded = False
    if seed is None:
        rec_seed = training.get("split_seed")
        seed = rec_seed if recorded and isinstance(rec_seed, int) and rec_seed >= 0 else 0
    return split, seed, test_fraction, recorded


def _describe_split(protocol: str, seed: int, test_fraction: float, recorded: bool) -> str:
    what = {"paper": "the 50/25/25 split", "test": f"the {test_fraction:g} test split",
            "none": "no split"}.get(protocol, protocol)
    return f"{what} (seed {seed}{', as recorded in the model file' if recorded else ''})"


def _attack(net, X: np.ndarray, y: np.ndarray, attack: str, eps: float, seed: int,
            point_time_limit: float) -> dict:
    """Accuracy under attack (random signs, or the exact worst case per point)."""
    if attack == "random":
        acc = random_attack(net, X, y, eps, seed=seed)
        return {"attack": "random", "eps": eps, "seed": seed, "attacked_accuracy": acc}
    wc = worst_case_check(net, X, y, eps, time_limit=point_time_limit)
    out = wc.summary()
    out["attacked_accuracy"] = wc.certified_accuracy
    first = next(((i, ex) for i, ex in enumerate(wc.counterexamples) if ex is not None), None)
    if first is not None:
        i, ex = first
        out["first_counterexample"] = {
            "row": int(i), "input": [float(v) for v in ex],
            "predicted": str(net.classes[int(wc.predicted[i])]),
            "attacked_prediction": str(net.classes[int(net.predict(ex[None, :])[0])]),
        }
    return out


def _attack_report(a: dict) -> str:
    if a["attack"] == "random":
        return (f"random attack (eps {a['eps']:g}, seed {a['seed']}): accuracy "
                f"{a['attacked_accuracy']:.4f}")
    return (f"worst-case attack (eps {a['eps']:g}): certified accuracy "
            f"{a['certified_accuracy']:.4f}; certified {a['certified']}, flipped {a['flipped']}, "
            f"unknown {a['unknown']} of {a['n']} points ({a['seconds']:.1f} s)")


def _confusion_table(confusion: np.ndarray, names: list[str]) -> str:
    width = max(6, *(len(n) for n in names), len(str(int(confusion.max(initial=0)))))
    head = "true \\ pred".ljust(width + 2) + " ".join(n.rjust(width) for n in names)
    rows = [
        names[i].ljust(width + 2) + " ".join(str(int(v)).rjust(width) for v in confusion[i])
        for i in range(len(names))
    ]
    return "\n".join([head, *rows])
