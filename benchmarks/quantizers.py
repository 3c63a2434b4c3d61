"""Quantizer benchmark: test accuracy of ``--quantizer uniform | quantile | supervised`` at equal
input bits, side by side, on the built-in classification sets (docs/benchmarks.md).

    python3 benchmarks/quantizers.py [--sets iris,wine,...] [--bits 2,3] [--seeds 3]
        [--kinds uniform,quantile,supervised]
        [--time-limit 12] [--hidden 8] [--out benchmarks/results/quantizers]

Each run is one ``bdnn train SET --quantizer K --input-bits B --hidden H --time-limit T
--workers 1 --seed S --split paper`` (the seed picks the 50/25/25 split and the solver seed), in
its own process. Seeds are the outer loop and results are written after every run, so a run cut
short still leaves complete seeds. Writes ``OUT.json`` (every run) and ``OUT.md`` (mean +- sd of
the test accuracy per set, bits and quantizer; a kind "wins" a set and bits when its mean beats
uniform's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SETS = ["iris", "wine", "bcw", "breast-cancer", "digits", "uniform-10", "uniform-100"]
KINDS = ["uniform", "quantile", "supervised"]


def run_one(data: str, kind: str, bits: int, seed: int, hidden: str, time_limit: float) -> dict:
    """One training run; its JSON summary plus the settings."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "bdnn", "train", data, "--quantizer", kind,
               "--input-bits", str(bits), "--hidden", hidden, "--time-limit", str(time_limit),
               "--workers", "1", "--seed", str(seed), "--split", "paper", "--json", "--quiet",
               "-o", str(Path(tmp) / "m.json")]
        t0 = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        row = {"data": data, "quantizer": kind, "bits": bits, "seed": seed, "hidden": hidden,
               "time_limit": time_limit, "wall_seconds": round(time.time() - t0, 1)}
        if p.returncode != 0:
            row["error"] = (p.stderr.strip().splitlines() or ["?"])[-1]
            return row
        s = json.loads(p.stdout)
        for k in ("train_accuracy", "val_accuracy", "test_accuracy", "status", "objective"):
            row[k] = s.get(k)
        return row


def summarize(rows: list[dict]) -> dict:
    """(data, bits) -> kind -> mean, sd, n of test accuracy (complete seeds only)."""
    out: dict = {}
    for r in rows:
        if r.get("test_accuracy") is None:
            continue
        out.setdefault((r["data"], r["bits"]), {}).setdefault(r["quantizer"], []).append(
            r["test_accuracy"])
    return {k: {q: (float(np.mean(v)), float(np.std(v)), len(v)) for q, v in d.items()}
            for k, d in out.items()}


def markdown(rows: list[dict], meta: dict, kinds: list[str] = KINDS) -> str:
    s = summarize(rows)
    lines = [
        "# Quantizer benchmark: " + " vs ".join(kinds),
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}; machine: {meta['machine']} (shared with other jobs; "
        "CP-SAT with 1 worker and a wall-clock limit, so results depend on load); "
        f"code: {meta['code']}.",
        "",
        "Test accuracy, mean ± sd over seeds (n = seeds), paper split 50/25/25; **bold** = "
        "beats uniform's mean at the same bits.",
        "",
        "| data | bits | " + " | ".join(kinds) + " |",
        "|---|--:|" + "--:|" * len(kinds),
    ]
    wins = {k: set() for k in kinds if k != "uniform"}
    best_win = set()
    for (data, bits), d in sorted(s.items(), key=lambda kv: (SETS.index(kv[0][0])
                                                             if kv[0][0] in SETS else 99,
                                                             kv[0][1])):
        base = d.get("uniform", (None,))[0]
        cells = []
        for k in kinds:
            if k not in d:
                cells.append("-")
                continue
            m, sd, n = d[k]
            text = f"{m:.3f} ± {sd:.3f} (n={n})"
            if k != "uniform" and base is not None and m > base + 1e-12:
                text = f"**{text}**"
                wins[k].add((data, bits))
                best_win.add(data)
            cells.append(text)
        lines.append(f"| {data} | {bits} | " + " | ".join(cells) + " |")
    errors = [r for r in rows if "error" in r]
    n_sets = len({d for d, _ in s})
    lines += [
        "",
        f"Sets where {' or '.join(wins)} beats uniform at some bits: {len(best_win)} of "
        f"{n_sets} ({', '.join(sorted(best_win)) or 'none'}).",
    ]
    for k, w in wins.items():
        lines.append(f"- {k} beats uniform on {len(w)} of {len(s)} (set, bits) pairs.")
    if errors:
        lines += ["", f"{len(errors)} runs failed, e.g. {errors[0]['data']}: {errors[0]['error']}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--bits", default="2,3")
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help="quantizer kinds, uniform first (the one the others are compared with)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=12.0)
    ap.add_argument("--hidden", default="8")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/quantizers"))
    a = ap.parse_args()
    code = (subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True, cwd=ROOT).stdout.strip()
            or os.environ.get("BDNN_CODE_VERSION", "unknown (not a git checkout)"))
    meta = {
        "command": "python3 benchmarks/quantizers.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "code": code,
    }
    rows: list[dict] = []
    out = Path(a.out)
    sets, bits = a.sets.split(","), [int(b) for b in a.bits.split(",")]
    kinds = a.kinds.split(",")
    total = a.seeds * len(sets) * len(bits) * len(kinds)
    for seed in range(a.seeds):
        for data in sets:
            for b in bits:
                for kind in kinds:
                    r = run_one(data, kind, b, seed, a.hidden, a.time_limit)
                    rows.append(r)
                    print(f"[{len(rows)}/{total}] {data} bits={b} {kind} seed={seed}: "
                          f"test {r.get('test_accuracy', r.get('error'))}",
                          file=sys.stderr, flush=True)
                    out.with_suffix(".json").write_text(
                        json.dumps({"meta": meta, "runs": rows}, indent=1) + "\n")
                    out.with_suffix(".md").write_text(markdown(rows, meta, kinds))


if __name__ == "__main__":
    main()
