"""How ``--max-inputs`` chooses its inputs, measured: two versions of bdnn side by side.

    python benchmarks/input_choice.py --code old=/path/to/checkout --code new=. \\
        [--datasets iris,wine,...] [--seeds 0,1,2,3,4] [--time-limit 10] [--processes 2] \\
        [--many digits:16:qat:16,24,32] --out R.json [--md R.md]

For every data set, seed and configuration of ``bdnn select``'s few-input grid
(``bdnn.select.grid.DEFAULT_FEW_INPUTS``: hidden 2 and 4, quantile and supervised 2-bit inputs,
3-5 inputs) each version runs ``bdnn train DATA --split paper --seed S ... --max-inputs K
--time-limit T --workers 1 --json`` with its own code (``PYTHONPATH`` set to that checkout),
and records the inputs chosen and the validation and test accuracy. ``--many
DATA:HIDDEN:METHOD:K1,K2`` adds networks that read many inputs (uniform 4-bit). A training whose
chosen inputs equal the other version's is run once and shared (the same problem, so the same
network up to the solver's time-limited search).

The report: per data set and version, the mean test accuracy of all few-input candidates, and of
the one ``bdnn select`` would pick among them (most accurate on validation; ties to fewer inputs,
then fewer units), mean over the seeds. Results are appended as they arrive, so a rerun skips
what is there.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bdnn.select.grid import DEFAULT_FEW_INPUTS  # noqa: E402

DATASETS = "iris,wine,bcw,breast-cancer,uniform-10,uniform-100,credit-card"


def configs(data: str, many: list[tuple[str, str, str, list[int]]]) -> list[dict]:
    """The few-input grid on ``data`` (``max_inputs`` below its inputs) and the ``--many``
    entries for it."""
    from bdnn.data.loader import load_dataset

    n_inputs = load_dataset(data).X.shape[1]
    out = []
    for k in DEFAULT_FEW_INPUTS["max_inputs"]:
        if k >= n_inputs:
            continue
        for h in DEFAULT_FEW_INPUTS["hidden"]:
            for q in DEFAULT_FEW_INPUTS["quantizer"]:
                out.append({"hidden": h, "quantizer": q,
                            "input_bits": DEFAULT_FEW_INPUTS["input_bits"], "max_inputs": k})
    for d, h, method, ks in many:
        if d == data:
            out += [{"hidden": h, "quantizer": "uniform", "input_bits": 4, "max_inputs": k,
                     "method": method} for k in ks]
    return out


def key(data: str, seed: int, cfg: dict) -> str:
    return json.dumps([data, seed, cfg], sort_keys=True)


def train(code: Path, data: str, seed: int, cfg: dict, limit: float, work: Path) -> dict:
    """One ``bdnn train`` with the checkout ``code``."""
    out = work / f"m{abs(hash((str(code), key(data, seed, cfg))))}.json"
    args = [sys.executable, "-m", "bdnn", "train", data, "--split", "paper", "--seed",
            str(seed), "--hidden", cfg["hidden"], "--quantizer", cfg["quantizer"],
            "--input-bits", str(cfg["input_bits"]), "--max-inputs", str(cfg["max_inputs"]),
            "--time-limit", f"{limit:g}", "--workers", "1", "--quiet", "--json", "-o", str(out)]
    if "method" in cfg:
        args += ["--method", cfg["method"]]
    env = {**os.environ, "PYTHONPATH": str(code)}
    p = subprocess.run(args, capture_output=True, text=True, env=env, cwd=code)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    r = json.loads(p.stdout)
    inputs = json.loads(out.read_text())["training"].get("inputs")
    out.unlink()
    return {"inputs": inputs, "val_accuracy": r["val_accuracy"],
            "test_accuracy": r["test_accuracy"], "status": r["status"],
            "seconds": r["seconds"]}


def chosen_inputs(code: Path, data: str, seed: int, cfg: dict) -> list[int]:
    """The inputs ``code``'s ``choose_inputs`` picks for this configuration (no training):
    that checkout's ``bdnn/train/input_selection.py`` loaded as a module of its own, on this
    checkout's data and quantizers (which both versions share)."""
    from bdnn.data.loader import load_dataset
    from bdnn.quantizer import fit_quantizer

    choose = _choosers.get(code)
    if choose is None:
        src = (code / "bdnn" / "train" / "input_selection.py").read_text()
        module = types.ModuleType(f"input_selection_{len(_choosers)}")
        module.__dict__["__package__"] = "bdnn.train"  # its relative imports resolve here
        exec(compile(src, str(code / "bdnn/train/input_selection.py"), "exec"), module.__dict__)
        choose = _choosers[code] = module.choose_inputs
    ds = load_dataset(data, split="paper", seed=seed)
    X, y = ds.X[ds.split.train], ds.y[ds.split.train]
    Q = fit_quantizer(cfg["quantizer"], X, y, cfg["input_bits"]).quantize(X)
    return [int(j) for j in choose(Q, y, cfg["max_inputs"], len(ds.classes))]


_choosers: dict = {}


def report(rows: list[dict], versions: list[str]) -> str:
    """Markdown: mean test accuracy of all candidates and of the validation pick, per set."""
    lines = ["| data | configurations | " + " | ".join(
        f"{v}: all candidates | {v}: validation pick" for v in versions) + " | inputs differ |",
        "|---|--:|" + "--:|--:|" * len(versions) + "--:|"]
    sets = list(dict.fromkeys(r["data"] for r in rows))
    for many in (False, True):
        for data in sets:
            sel = [r for r in rows if r["data"] == data and ("method" in r["config"]) == many]
            if not sel:
                continue
            cells = []
            for v in versions:
                ok = [r for r in sel if "test_accuracy" in r[v]]
                every = sum(r[v]["test_accuracy"] for r in ok) / max(1, len(ok))
                picks = []
                for seed in sorted({r["seed"] for r in ok}):
                    cand = [r for r in ok if r["seed"] == seed]
                    best = max(cand, key=lambda r: (r[v]["val_accuracy"],
                                                    -r["config"]["max_inputs"],
                                                    -int(r["config"]["hidden"])))
                    picks.append(best[v]["test_accuracy"])
                cells += [f"{every:.3f}", f"{sum(picks) / max(1, len(picks)):.3f}"]
            differ = sum(r["differ"] for r in sel)
            label = data + (" (many inputs)" if many else "")
            lines.append(f"| {label} | {len(sel)} | " + " | ".join(cells)
                         + f" | {differ} of {len(sel)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", action="append", required=True,
                    help="LABEL=PATH of a bdnn checkout (two of them)")
    ap.add_argument("--datasets", default=DATASETS)
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--many", action="append", default=[],
                    help="DATA:HIDDEN:METHOD:K1,K2 networks reading many inputs")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--md", type=Path)
    a = ap.parse_args()
    codes = dict(c.split("=", 1) for c in a.code)
    versions = list(codes)
    if len(versions) != 2:
        sys.exit("input_choice.py: give two --code LABEL=PATH")
    codes = {v: Path(p).resolve() for v, p in codes.items()}
    many = []
    for m in a.many:
        d, h, method, ks = m.split(":")
        many.append((d, h, method, [int(k) for k in ks.split(",")]))
    done = {}
    if a.out.exists():
        for line in a.out.read_text().splitlines()[1:]:
            r = json.loads(line)
            done[key(r["data"], r["seed"], r["config"])] = r
    else:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        a.out.write_text(json.dumps({"command": " ".join(sys.argv), "code": rev,
                                     "date": datetime.datetime.now(datetime.UTC).isoformat(
                                         timespec="seconds"),
                                     "versions": {v: str(p) for v, p in codes.items()}}) + "\n")
    work = a.out.parent / (a.out.stem + "_models")
    work.mkdir(exist_ok=True)
    grids = {d: configs(d, many) for d in a.datasets.split(",") if d}
    jobs = [(d, int(s), c) for d, grid in grids.items() for s in a.seeds.split(",")
            for c in grid]
    jobs = [j for j in jobs if key(*j) not in done]
    print(f"{len(jobs)} configurations to run, {len(done)} already in {a.out}", file=sys.stderr)

    # the choices first, in this thread (each version's module is loaded once)
    picks = {key(*j): {v: chosen_inputs(codes[v], *j) for v in versions} for j in jobs}

    def one(job):
        data, seed, cfg = job
        first = train(codes[versions[0]], data, seed, cfg, a.time_limit, work)
        chose = picks[key(*job)]
        same = chose[versions[0]] == chose[versions[1]]
        second = first if same else train(codes[versions[1]], data, seed, cfg,
                                          a.time_limit, work)
        return {"data": data, "seed": seed, "config": cfg, "differ": not same,
                versions[0]: first, versions[1]: second}

    with ThreadPoolExecutor(max_workers=a.processes) as pool:
        for i, row in enumerate(pool.map(one, jobs), 1):
            with a.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            done[key(row["data"], row["seed"], row["config"])] = row
            print(f"[{i}/{len(jobs)}] {row['data']} seed {row['seed']} {row['config']}: "
                  + ", ".join(f"{v} {row[v].get('test_accuracy', row[v].get('error'))}"
                              for v in versions), file=sys.stderr)
    text = report(list(done.values()), versions)
    print(text)
    if a.md:
        a.md.write_text(text + "\n")


if __name__ == "__main__":
    main()
