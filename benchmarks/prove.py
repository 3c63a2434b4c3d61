"""--prove benchmark (issue 14): the bound, the gap and the time on the issue's cases, each
certificate re-checked, and symmetry breaking's effect on the time to a proof.

    python benchmarks/prove.py [--cases bcw2,bcw4,iris3,uniform2] [--scale 1.0]
                               [--symmetry] [--partition uniform2:8,uniform2:16]
                               [--partition-block-seconds 5] [--partition-seconds 120]
                               [--workers 2] [--check-limit 300]
                               [--json benchmarks/results/prove.json]
                               [--md benchmarks/results/prove.md]

Cases (issue 14's targets): bcw training half (paper split, seed 0) with 2 and with 4 ternary
hidden units (600 s), iris all 150 rows with 3 hidden units in [-3, 3] (120 s), uniform-10
instance 0 training half with 2 ternary units (600 s). ``--scale`` multiplies every time limit
(tuning runs). ``--symmetry`` also solves iris training half (75 rows, 3 ternary units) to
optimality with and without the hidden-unit order
(``ModelOptions.symmetry_breaking``) and reports the time to the proof.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bdnn.data import load_dataset
from bdnn.quantizer import Quantizer
from bdnn.train.problem import TrainProblem
from bdnn.train.prove import (
    check_certificate,
    nearest_blocks,
    parse_certificate,
    solve_subset,
    train_prove,
)
from bdnn.train.solver import SolveOptions

CASES = {
    # name: data, split, hidden, weight bound, time limit (s), target
    "bcw2": ("bcw", "paper", 2, 1, 600.0, "proven optimal within 600 s"),
    "bcw4": ("bcw", "paper", 4, 1, 600.0, "bound >= 1 within 600 s"),
    "iris3": ("iris", "none", 3, 3, 120.0, "proven optimal within 120 s"),
    "uniform2": ("uniform-10", "paper", 2, 1, 600.0, "gap <= 25 % within 600 s"),
}


def _problem(data: str, split: str, hidden: int, w: int, limit: float,
             workers: int) -> TrainProblem:
    ds = load_dataset(data, split=split, seed=0)
    X, y = ds.train_part()
    q = Quantizer.fit(X, 4)
    return TrainProblem.build(q.quantize(X), y, quantizer=q, classes=list(ds.classes),
                              hidden=(hidden,), weight_bound=w,
                              solve=SolveOptions(time_limit=limit, workers=workers,
                                                 progress=True, label=f"{data}/{hidden}"))


def run_case(name: str, scale: float, workers: int, check_limit: float | None) -> dict:
    data, split, hidden, w, limit, target = CASES[name]
    limit *= scale
    p = _problem(data, split, hidden, w, limit, workers)
    t0 = time.monotonic()
    r = train_prove(p)
    seconds = time.monotonic() - t0
    loss = p.loss(r.network)  # the numpy forward pass, independent of the solver
    assert r.bound <= loss, "a bound above the network's verified loss"
    cert = parse_certificate(r.network.training["certificate"])
    check = check_certificate(cert, Q=p.Q, y=p.y, time_limit=check_limit or limit,
                              workers=workers,
                              model=r.network)
    proof = r.network.training["proof"]
    return {
        "case": name, "data": data, "split": split, "n_train": p.n_train,
        "n_unique_rows": p.rows.n_rows, "hidden": hidden, "weight_bound": w,
        "time_limit": limit, "target": target, "status": r.status, "loss": loss,
        "bound": r.bound, "data_bound": p.lower_bound(), "gap": r.gap,
        "seconds": round(seconds, 1), "search_bound": proof["search_bound"],
        "subset_rows": proof["subset_rows"], "subset_bound": proof["subset_bound"],
        "rest_bound": proof["rest_bound"], "rounds": len(proof["rounds"]),
        "round_log": proof["rounds"], "check": check.verdict,
        "check_seconds": check.seconds, "origin": r.origin,
    }


def symmetry_runs(workers: int, limit: float) -> list[dict]:
    out = []
    for data, split in (("iris", "paper"),):
        p = _problem(data, split, 3, 1, limit, workers)
        for sb in (False, True):
            solve = SolveOptions(time_limit=limit, workers=workers, progress=False)
            t0 = time.monotonic()
            status, bound, value, answer = solve_subset(p.arch, p.rows, p.objective, solve,
                                                        limit, symmetry_breaking=sb,
                                                        method="cpsat")
            out.append({"data": f"{data} ({'training half' if split == 'paper' else 'all'})",
                        "n_train": p.n_train, "hidden": 3, "weight_bound": 1,
                        "symmetry_breaking": sb, "status": status, "loss": value,
                        "bound": bound, "seconds": round(time.monotonic() - t0, 1),
                        "solver_seconds": round(answer.seconds, 1)})
            print(json.dumps(out[-1]), flush=True)
    return out


def partition_probe(case: str, size: int, per_block: float, total: float) -> dict:
    """The disjoint-blocks lever: the optima of disjoint blocks of distinct rows add up to a
    bound (each block holds whole distinct rows). Solves the mixed-label blocks, each for at
    most ``per_block`` seconds, ``total`` seconds in all; 1 worker."""
    data, split, hidden, w, _, _ = CASES[case]
    p = _problem(data, split, hidden, w, total, 1)
    rows = p.rows
    label = nearest_blocks(rows.Q, size)
    solve = SolveOptions(time_limit=per_block, workers=1, progress=False)
    from bdnn.train.prove import row_bounds, subset_rows
    per_row = row_bounds(rows, p.objective, p.arch)
    t0 = time.monotonic()
    blocks = []
    for b in range(int(label.max()) + 1):
        S = np.flatnonzero(label == b)
        if (rows.counts[S].sum(axis=0) > 0).sum() < 2:
            blocks.append({"rows": len(S), "status": "ONE_LABEL", "bound": 0, "data_bound": 0})
            continue
        if time.monotonic() - t0 > total:
            blocks.append({"rows": len(S), "status": "NOT_RUN", "bound": int(per_row[S].sum()),
                           "data_bound": int(per_row[S].sum())})
            continue
        t1 = time.monotonic()
        status, bound, value, answer = solve_subset(p.arch, subset_rows(rows, S), p.objective,
                                                    solve, per_block)
        blocks.append({"rows": len(S), "status": status, "bound": max(bound, int(
            per_row[S].sum())), "data_bound": int(per_row[S].sum()), "best": value,
            "method": None if answer is None else answer.method,
            "seconds": round(time.monotonic() - t1, 1)})
    res = {"case": case, "block_rows": size, "per_block_seconds": per_block,
           "blocks": len(blocks),
           "closed": sum(b["status"] == "OPTIMAL" for b in blocks),
           "mixed": sum(b["status"] != "ONE_LABEL" for b in blocks),
           "bound": sum(b["bound"] for b in blocks), "data_bound": p.lower_bound(),
           "seconds": round(time.monotonic() - t0, 1), "block_log": blocks}
    print(json.dumps(res), flush=True)
    return res


def _md(rows: list[dict], sym: list[dict], meta: dict) -> str:
    lines = [f"Command: `{meta['command']}`", "",
             f"Date: {meta['date']}; code: {meta['code']}; machine: {meta['machine']}; "
             f"{meta['workers']} CP-SAT workers; 1-min load average at the start "
             f"{meta.get('load', '?')} (wall-clock seconds on a shared machine are pessimistic).",
             ""]
    if rows:
        lines += ["| case | rows (distinct) | hidden | w | limit s | status | loss | bound "
                  "(data bound) | gap | subset rows | rounds | certificate | target |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(
                f"| {r['data']} {r['split']} | {r['n_train']} ({r['n_unique_rows']}) | "
                f"{r['hidden']} | {r['weight_bound']} | {r['time_limit']:g} | {r['status']} | "
                f"{r['loss']} | {r['bound']:g} ({r['data_bound']}) | {100 * r['gap']:.1f}% | "
                f"{r['subset_rows']} | {r['rounds']} | {r['check']} "
                f"({r['check_seconds']:.0f} s) | {r['target']} |")
    for pr in meta.get("partition", []):
        lines.append(f"\nDisjoint blocks ({pr['case']}): {pr['blocks']} blocks of "
                     f"{pr['block_rows']} nearest distinct rows, {pr['mixed']} with two labels, "
                     f"{pr['closed']} closed (OPTIMAL) within {pr['per_block_seconds']:g} s "
                     f"each: sum of block bounds {pr['bound']} vs the data bound "
                     f"{pr['data_bound']} ({pr['seconds']} s).")
    if sym:
        lines += ["", "Symmetry breaking (hidden units in lexicographic order of (bias, "
                  "weights)), time to the proof of the whole set's optimum:", "",
                  "| data | rows | hidden | w | symmetry breaking | status | loss | bound | "
                  "seconds (CP-SAT's own) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for s in sym:
            lines.append(f"| {s['data']} | {s['n_train']} | {s['hidden']} | "
                         f"{s['weight_bound']} | {'yes' if s['symmetry_breaking'] else 'no'} | "
                         f"{s['status']} | "
                         f"{s['loss']} | {s['bound']} | {s['seconds']} "
                         f"({s['solver_seconds']}) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES),
                    help="comma-separated cases; 'symmetry' runs the symmetry runs there")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--check-limit", type=float, default=None,
                    help="seconds the checker may take per certificate (default: the case's own "
                         "time limit, the budget the prover had)")
    ap.add_argument("--symmetry", action="store_true")
    ap.add_argument("--symmetry-limit", type=float, default=120.0)
    ap.add_argument("--partition", default="",
                    help="disjoint-blocks probe: CASE:ROWS[,CASE:ROWS...]")
    ap.add_argument("--partition-block-seconds", type=float, default=5.0,
                    help="the disjoint-blocks probe's limit per block")
    ap.add_argument("--partition-seconds", type=float, default=120.0,
                    help="the disjoint-blocks probe's limit in all")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    a = ap.parse_args()
    names = [c for c in a.cases.split(",") if c]
    try:
        code = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        code = "unknown"
    meta = {"command": "python benchmarks/prove.py " + " ".join(sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "code": code,
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
                       f"python {sys.version.split()[0]}", "workers": a.workers,
            "load": round(os.getloadavg()[0], 1)}
    rows: list[dict] = []
    sym: list[dict] = []

    def save() -> None:
        if a.json:
            Path(a.json).write_text(json.dumps({"meta": meta, "cases": rows,
                                                "symmetry": sym}, indent=1) + "\n")
        if a.md:
            Path(a.md).write_text(_md(rows, sym, meta))

    meta["partition"] = []
    for name in names:
        if name == "symmetry":  # the symmetry runs at this place in the order
            sym.extend(symmetry_runs(a.workers, a.symmetry_limit))
            save()
            continue
        r = run_case(name, a.scale, a.workers, a.check_limit)
        rows.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "round_log"}), flush=True)
        save()
    for spec in [x for x in a.partition.split(",") if x]:
        case, size = spec.split(":")
        meta["partition"].append(partition_probe(case, int(size), a.partition_block_seconds,
                                                 a.partition_seconds))
        save()
    if a.symmetry and "symmetry" not in names:
        sym.extend(symmetry_runs(a.workers, a.symmetry_limit))
        save()
    print(_md(rows, sym, meta))
    assert all(np.isfinite(r["bound"]) for r in rows)


if __name__ == "__main__":
    main()
