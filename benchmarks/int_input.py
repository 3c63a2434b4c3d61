"""Integer-input benchmark: what ``NAME_predict_i16`` (integer raw features in, e.g. ADC
counts) costs on each target, next to ``NAME_predict`` (float features in) and
``NAME_predict_q`` (levels in), and emlearn's MLP fed the same features (its rows of the
firmware benchmark's JSON, ``benchmarks/firmware.py``: same harness, same nets' data).

    python3 benchmarks/int_input.py [MODEL.json ...] [--targets cortex-m0,...] [--json OUT]
        [--md OUT] [--firmware-json benchmarks/results/firmware.json]

Every figure is measured by ``bdnn bench --entry ...`` (``codegen.targets.measure.bench``) after
the firmware's outputs were checked against numpy: instructions per inference on Cortex-M and
RISC-V (QEMU trace), cycles on AVR (simavr, Timer1), the mean over ``--vectors`` random inputs
(``predict_i16``: random integers spanning every level and beyond both ends; ``predict``:
floats at the levels' centres; ``predict_q``: random levels), and the flash of the minimal
program calling that entry (``predict_i16``'s is built without any float code).
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bdnn.model_file import load_network  # noqa: E402
from codegen.targets.measure import bench  # noqa: E402
from codegen.targets.registry import get_target  # noqa: E402

MODELS = [ROOT / "benchmarks" / "models" / f"digits-h{h}.json" for h in (4, 8)]
TARGETS = ["cortex-m0", "cortex-m3", "avr", "rv32imc"]
ENTRIES = ["predict_i16", "predict", "predict_q"]


def emlearn_rows(path: Path) -> dict[tuple[str, str, str], dict]:
    """emlearn's rows of the firmware benchmark's JSON by (data set, hidden, target)."""
    if not path.is_file():
        return {}
    return {(r["dataset"], r["hidden"], r["target"]): r for r in json.loads(path.read_text())
            if r.get("tool") == "emlearn" and r.get("status") == "ok"}


def measure(path: Path, target: str, vectors: int, emlearn: dict) -> dict:
    """Every entry of one model on one target, and emlearn's figures for the same net."""
    net = load_network(path)
    shape = "-".join(str(n) for n in [net.n_inputs, *net.hidden_widths, net.n_classes])
    dataset = path.stem.split("-h")[0]
    row = {"model": path.stem, "shape": shape, "target": target,
           "unit": get_target(target).family.counts, "input_bits": int(net.quantizer.bits)}
    for entry in ENTRIES:
        r = bench(net, target, n_vectors=vectors, entry=entry)
        row[entry] = r["per_inference"]["mean"]
        row[entry + "_flash"] = r["flash_bytes"]
    em = emlearn.get((dataset, shape, target))
    row["emlearn"] = None if em is None else em["per_inference"]
    row["emlearn_flash"] = None if em is None else em["flash_bytes"]
    return row


def _n(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def table(rows: list[dict]) -> str:
    """A markdown table of the measurements."""
    out = [
        "| model | target | unit | `predict_i16` | `predict` (float) | `predict_q` | emlearn "
        "(float) | emlearn / i16 | flash: i16 / float / q program | emlearn flash |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        ratio = "-" if r["emlearn"] is None else f"{r['emlearn'] / r['predict_i16']:.1f}"
        out.append(
            f"| {r['model']} {r['shape']} | {r['target']} | {r['unit']} | "
            f"{_n(r['predict_i16'])} | {_n(r['predict'])} | {_n(r['predict_q'])} | "
            f"{_n(r['emlearn'])} | {ratio} | {r['predict_i16_flash']:,} / "
            f"{r['predict_flash']:,} / {r['predict_q_flash']:,} | {_n(r['emlearn_flash'])} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path, default=MODELS)
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--vectors", type=int, default=16)
    ap.add_argument("--firmware-json", type=Path,
                    default=ROOT / "benchmarks" / "results" / "firmware.json",
                    help="emlearn's figures: the firmware benchmark's JSON")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    ap.add_argument("--md", type=Path, default=None, help="also write the table as markdown")
    args = ap.parse_args()
    emlearn = emlearn_rows(args.firmware_json)
    rows = []
    for path in args.models:
        for target in args.targets.split(","):
            rows.append(measure(path, target, args.vectors, emlearn))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    code = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    meta = {"command": "python3 " + " ".join(["benchmarks/int_input.py", *sys.argv[1:]]),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "code": code, "vectors": args.vectors,
            "emlearn_source": str(args.firmware_json.relative_to(ROOT))
            if args.firmware_json.is_relative_to(ROOT) else str(args.firmware_json)}
    text = table(rows)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    if args.md:
        head = "\n".join(f"- {k}: {v}" for k, v in meta.items())
        args.md.write_text(f"# Integer raw input (`NAME_predict_i16`)\n\n{head}\n\n{text}\n")
    print(text)


if __name__ == "__main__":
    main()
