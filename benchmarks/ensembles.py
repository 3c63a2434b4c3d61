"""Structured ensembles (ovo, ovr) against one network of about the same exported bytes.

    python benchmarks/ensembles.py [--data iris,wine,digits] [--seeds 0,1,2] [--member-hidden 2]
        [--time-limit iris=20,wine=20,digits=60] [--workers 2] [--method qat] [--out FILE.json]

For every data set and seed (the data set's default split: 50/25/25 train/val/test, seeded):
``bdnn train --ensemble ovo`` and ``--ensemble ovr`` with members ``--hidden H --output
single``, then a single network (``--output argmax``) whose hidden width makes its exported
weight and threshold bytes the closest to the larger ensemble's (the width is chosen from the
C export's size report of a network of that shape; weight bound 1 everywhere). Every run gets
the same --time-limit (the whole ensemble shares it) and the same ``--method`` (train's default
unless given). Reports test accuracy (mean and sd over
the seeds), training accuracy and exported bytes. Each run goes through the command line, as a
user would.

    python benchmarks/ensembles.py --merge A.json B.json --out C.json   # e.g. more seeds
    python benchmarks/ensembles.py --flash FILE.json [--flash-target cortex-m0]

adds to a results file the model's flash on a target (``bdnn size --target``, code and tables:
an ensemble repeats the layer code per member), measured on networks of the same shapes with
random weights (the code depends on the shapes, not on the trained values), and prints the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bdnn.data import load_dataset
from bdnn.model_file import load_model
from bdnn.network import random_network
from codegen.size_report import size_report

WIDTHS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64)


def table_bytes(model) -> int:
    """Weight and threshold bytes of the C export (32-bit words)."""
    total = size_report(model, 32)["total"]
    return int(total["weight_bytes"] + total["threshold_bytes"])


def matching_width(n_inputs: int, n_classes: int, target_bytes: int) -> int:
    """The hidden width whose single network's table bytes are the closest to the target."""
    rng = np.random.default_rng(0)
    best = min(WIDTHS, key=lambda h: abs(table_bytes(random_network(
        rng, n_inputs, [h], n_classes, 1, "heaviside", "argmax", 4)) - target_bytes))
    return best


def train(data: str, seed: int, time_limit: float, workers: int, out: Path, *extra) -> dict:
    cmd = [sys.executable, "-m", "bdnn", "train", data, "--seed", str(seed), "--time-limit",
           str(time_limit), "--workers", str(workers), "--json", "--quiet", "-o", str(out),
           *map(str, extra)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr.strip()[-400:]}")
    summary = json.loads(p.stdout)
    summary["bytes"] = table_bytes(load_model(out))
    return summary


def shaped_model(data: str, model: str, hidden: int):
    """A random network or ensemble of the benchmark's shape for ``data``."""
    from bdnn.ensemble import Ensemble, get_ensemble_kind

    ds = load_dataset(data)
    rng = np.random.default_rng(0)
    if model == "single":
        return random_network(rng, ds.n_features, [hidden], ds.n_classes, 1, "heaviside",
                              "argmax", 4)
    kind = get_ensemble_kind(model)
    classes = kind.member_classes(ds.n_classes)
    members = [random_network(rng, ds.n_features, [hidden], 2, 1, "heaviside", "single", 4)
               for _ in classes]
    return Ensemble(kind, members, classes, classes=list(range(ds.n_classes)))


def add_flash(path: Path, target: str) -> None:
    from codegen.targets.measure import measured_size

    doc = json.loads(path.read_text())
    for s in doc["summary"]:
        sizes = [measured_size(shaped_model(s["data"], s["model"], h), target, run=False)
                 for h in s["hidden"]]
        s[f"model_flash_{target}"] = max(m["model_flash_bytes"] for m in sizes)
    doc["flash_target"] = target
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(format_table(doc["summary"], target))


def summarise(rows: list[dict]) -> list[dict]:
    """Per data set and model: test accuracy mean and sd over the seeds, training accuracy,
    table bytes, hidden widths."""
    summary = []
    for data in dict.fromkeys(r["data"] for r in rows):
        for model in ("single", "ovo", "ovr"):
            sel = [r for r in rows if r["data"] == data and r["model"] == model]
            acc = [r["test_accuracy"] for r in sel]
            summary.append({
                "data": data, "model": model, "seeds": len(sel),
                "test_mean": statistics.mean(acc),
                "test_sd": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                "train_mean": statistics.mean(r["train_accuracy"] for r in sel),
                "bytes_mean": statistics.mean(r["bytes"] for r in sel),
                "hidden": sorted({r["hidden"] for r in sel}),
            })
    return summary


def merge(paths: list[str], out: str) -> None:
    """Join the rows of several results files (e.g. more seeds) into ``out``."""
    docs = [json.loads(Path(p).read_text()) for p in paths]
    rows = [r for d in docs for r in d["rows"]]
    Path(out).write_text(json.dumps({
        "command": " ; ".join(d["command"] for d in docs),
        "date": " ; ".join(d["date"] for d in docs), "rows": rows,
        "summary": summarise(rows)}, indent=1) + "\n")
    print(format_table(summarise(rows)))


def format_table(summary: list[dict], flash_target: str | None = None) -> str:
    flash = f" model flash on {flash_target} |" if flash_target else ""
    lines = ["| data | model | hidden | table bytes | test accuracy (mean ± sd) | train accuracy |"
             + flash, "|---|---|---|---|---|---|" + ("---|" if flash else "")]
    for s in summary:
        extra = f" {s[f'model_flash_{flash_target}']} |" if flash else ""
        lines.append(f"| {s['data']} | {s['model']} | {','.join(map(str, s['hidden']))} | "
                     f"{s['bytes_mean']:.0f} | {s['test_mean']:.3f} ± {s['test_sd']:.3f} | "
                     f"{s['train_mean']:.3f} |" + extra)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="iris,wine,digits")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--member-hidden", type=int, default=2)
    ap.add_argument("--time-limit", default="iris=20,wine=20,digits=60")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--method", default=None,
                    help="bdnn train --method for the members and the single network "
                         "(default: train's)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--flash", default=None, help="add model flash to this results file")
    ap.add_argument("--flash-target", default="cortex-m0")
    ap.add_argument("--merge", nargs="+", default=None,
                    help="join the rows of these results files into --out")
    a = ap.parse_args()
    if a.merge:
        merge(a.merge, a.out)
        return
    if a.flash:
        add_flash(Path(a.flash), a.flash_target)
        return
    limits = dict(item.split("=") for item in a.time_limit.split(","))
    seeds = [int(s) for s in a.seeds.split(",")]
    method = [] if a.method is None else ["--method", a.method]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bdnn-ens-bench-") as tmp:
        for data in a.data.split(","):
            ds = load_dataset(data)
            T = float(limits[data])
            for seed in seeds:
                runs = {}
                for kind in ("ovo", "ovr"):
                    runs[kind] = train(data, seed, T, a.workers, Path(tmp) / f"{kind}.json",
                                       "--ensemble", kind, "--hidden", a.member_hidden,
                                       "--output", "single", *method)
                target = max(runs["ovo"]["bytes"], runs["ovr"]["bytes"])
                h = matching_width(ds.n_features, ds.n_classes, target)
                runs["single"] = train(data, seed, T, a.workers, Path(tmp) / "single.json",
                                       "--hidden", h, *method)
                runs["single"]["hidden"] = h
                for name, s in runs.items():
                    row = {"data": data, "seed": seed, "model": name,
                           "test_accuracy": s["test_accuracy"],
                           "train_accuracy": s["train_accuracy"], "bytes": s["bytes"],
                           "nonzero_weights": s["nonzero_weights"], "seconds": s["seconds"],
                           "hidden": s.get("hidden", a.member_hidden)}
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    summary = summarise(rows)
    print(format_table(summary))
    if a.out:
        Path(a.out).write_text(json.dumps({
            "command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                  time.gmtime()),
            "rows": rows, "summary": summary}, indent=1) + "\n")


if __name__ == "__main__":
    main()
