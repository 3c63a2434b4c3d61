"""Weights as code against the table kernels, per inference and in flash, beside the forest.

    python benchmarks/weights_as_code.py --config digits:16:4:qat --config wine:2:2:auto \\
        [--seeds 0,1,2,3,4] [--time-limit 10] [--targets cortex-m0,avr,rv32imc,cortex-m4] \\
        --work DIR --out R.json [--md R.md]

For each configuration ``DATA:HIDDEN:INPUT_BITS:METHOD`` and seed it trains ``bdnn train DATA
--split paper --seed S ...`` (one CP-SAT worker), then times ``NAME_predict`` (float input, as
the user calls it) with ``bdnn bench --entry predict`` on each target, built four ways: the
default, ``--small-code``, ``--weights-as-code`` and both. Every build's outputs are checked
against the numpy reference by bench itself. Seed 0 runs on every target, the other seeds on
the first (counts do not depend on load, so the seeds only spread the networks).

The report sets the counts beside the emlearn forest and tree of
``benchmarks/results/accuracy.json`` (same data set, seed-0 firmware, Cortex-M0 and AVR): test
accuracy over the seeds, per-inference count and flash, and the ratio of each build's count to
the default's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ACCURACY = ROOT / "benchmarks" / "results" / "accuracy.json"
BUILDS = {"default": (), "small code": ("--small-code",),
          "weights as code": ("--weights-as-code",),
          "weights as code + small code": ("--weights-as-code", "--small-code")}


def bdnn(*args: str) -> dict:
    """``bdnn ARGS --json`` as a dict (the run stops on an error)."""
    out = subprocess.run([sys.executable, "-m", "bdnn", *args, "--json"], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"bdnn {' '.join(args)} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def parse_config(cfg: str, ap: argparse.ArgumentParser) -> tuple[str, str, str, str]:
    parts = cfg.split(":")
    if len(parts) != 4 or not parts[1].replace(",", "").isdigit() or not parts[2].isdigit():
        ap.error(f"--config {cfg!r}: give DATA:HIDDEN:INPUT_BITS:METHOD, e.g. digits:16:4:qat")
    return parts[0], parts[1], parts[2], parts[3]


def peers(data: str) -> dict:
    """The tree's and forest's test accuracy and seed-0 firmware figures of the accuracy
    record, per target (``{}`` when the record lacks the data set)."""
    d = json.loads(ACCURACY.read_text())["datasets"].get(data, {})
    out = {}
    for tool in ("tree", "forest"):
        fw = {t: {"count": r.get("per_inference"), "flash": r.get("flash_bytes")}
              for t, rows in d.get("firmware", {}).items() for k, r in rows.items() if k == tool}
        out[tool] = {"test_mean": d.get("summary", {}).get(tool, {}).get("test_mean"),
                     "firmware": fw}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", action="append", required=True,
                    help="DATA:HIDDEN:INPUT_BITS:METHOD, repeatable")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--time-limit", default="10")
    ap.add_argument("--targets", default="cortex-m0,avr,rv32imc,cortex-m4")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--md", type=Path)
    args = ap.parse_args()
    configs = [parse_config(c, ap) for c in args.config]  # before any training
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        ap.error(f"--seeds {args.seeds!r}: give whole numbers separated by commas, e.g. 0,1,2")
    targets = args.targets.split(",")
    rows = []
    for data, hidden, bits, method in configs:
        for seed in seeds:
            work = args.work / f"{data}_{hidden.replace(',', '-')}_{bits}_{method}_{seed}"
            work.mkdir(parents=True, exist_ok=True)
            model = work / "model.json"
            t = bdnn("train", data, "--hidden", hidden, "--input-bits", bits, "--method",
                     method, "--split", "paper", "--seed", str(seed), "--time-limit",
                     args.time_limit, "--workers", "1", "-o", str(model))
            row = {"config": f"{data}:{hidden}:{bits}:{method}", "data": data, "seed": seed,
                   "test_accuracy": t["test_accuracy"], "nonzero_weights": t["nonzero_weights"],
                   "inputs_read": t["inputs_read"], "bench": {}}
            for target in targets if seed == seeds[0] else targets[:1]:
                for build, flags in BUILDS.items():
                    r = bdnn("bench", str(model), "--target", target, "--entry", "predict",
                             "--vectors", "8", *flags)
                    row["bench"].setdefault(target, {})[build] = {
                        "unit": r["unit"], "mean": r["per_inference"]["mean"],
                        "max": r["per_inference"]["max"], "flash_bytes": r["flash_bytes"]}
            print(json.dumps(row), flush=True)
            rows.append(row)
    record = {"command": "python benchmarks/weights_as_code.py " + " ".join(sys.argv[1:]),
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "code": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                     capture_output=True, text=True).stdout.strip(),
              "peers": {d: peers(d) for d, *_ in configs}, "rows": rows}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    if args.md:
        args.md.write_text(markdown(record, [f"{d}:{h}:{b}:{m}" for d, h, b, m in configs],
                                    targets))


def markdown(record: dict, configs: list[str], targets: list[str]) -> str:
    """Per configuration and target: the builds' mean count over the seeds measured, their
    ratio to the default, flash, and the tree and forest of the accuracy record."""
    lines = ["# Weights as code: `NAME_predict` per inference and flash", "",
             f"`{record['command']}`, {record['date']}, code {record['code']}. Counts: "
             "instructions (Cortex-M, RISC-V: QEMU trace) or cycles (AVR: simavr), mean over "
             "8 random inputs per network, then over the seeds measured; flash of the program "
             "that calls only `NAME_predict`.", "",
             "| config | seeds | test (mean ± sd) | non-zero weights | target | build | count "
             "| / default | max | flash B | tree: count, flash | forest: count, flash |",
             "|---|--:|--:|--:|---|---|--:|--:|--:|--:|--:|--:|"]
    for cfg in configs:
        rs = [r for r in record["rows"] if r["config"] == cfg]
        acc = [r["test_accuracy"] for r in rs]
        sd = float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0
        peer = record["peers"][rs[0]["data"]]
        for target in targets:
            measured = [r for r in rs if target in r["bench"]]
            if not measured:
                continue
            default = np.mean([r["bench"][target]["default"]["mean"] for r in measured])
            for build in BUILDS:
                b = [r["bench"][target][build] for r in measured]
                mean = float(np.mean([x["mean"] for x in b]))
                ref = []
                for tool in ("tree", "forest"):
                    fw = peer[tool]["firmware"].get(target)
                    ref.append(f"{fw['count']:,.0f}, {fw['flash']:,}" if fw and fw["count"]
                               else "–")
                lines.append(
                    f"| {cfg} | {len(measured)} | {np.mean(acc):.3f} ± {sd:.3f} "
                    f"| {np.mean([r['nonzero_weights'] for r in rs]):.0f} | {target} | {build} "
                    f"| {mean:,.0f} | {mean / default:.2f} | {max(x['max'] for x in b):,} "
                    f"| {np.mean([x['flash_bytes'] for x in b]):,.0f} | {ref[0]} | {ref[1]} |")
    tree = {d: p["tree"]["test_mean"] for d, p in record["peers"].items()}
    forest = {d: p["forest"]["test_mean"] for d, p in record["peers"].items()}
    lines += ["", "Tree / forest test accuracy (accuracy record, mean over its seeds): "
              + "; ".join(f"{d} {tree[d]:.3f} / {forest[d]:.3f}" for d in tree
                          if tree[d] is not None and forest[d] is not None) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
