"""Float-input benchmark: what ``NAME_predict`` (float features in) costs on each target with
the float-arithmetic quantizer (``BDNN_FLOAT_QUANTIZER=1``, the only one before the threshold
quantizer existed) and with the default of the target, next to ``NAME_predict_q``; and the
quantizer's model data: thresholds (``4 L`` bytes per distinct input quantizer, plus an index
byte per input when some inputs share one) against ``lo``/``scale`` (8 per distinct
quantizer, and the same index).

    python3 benchmarks/float_input.py [MODEL.json ...] [--targets cortex-m0,...] [--json OUT]

Instructions per inference on Cortex-M (QEMU trace), cycles on AVR (simavr, Timer1), each the
mean over ``--vectors`` random inputs, measured by ``bdnn bench`` (``codegen.targets.measure``)
after the firmware's outputs were checked against numpy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bdnn.model_file import load_network  # noqa: E402
from codegen.level_keys import quantizer_bytes  # noqa: E402
from codegen.size_report import size_report  # noqa: E402
from codegen.targets.measure import bench  # noqa: E402
from codegen.targets.registry import get_target  # noqa: E402

MODELS = sorted((Path(__file__).resolve().parent / "models").glob("*.json"))
TARGETS = ["cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "avr"]


def entry_row(path: Path, net, target: str, vectors: int,
              variants: list[tuple[str, str, tuple[str, ...]]], **extra) -> dict:
    """One model on one target: its name, shape and unit, ``extra``, and per ``(key, entry,
    cflags)`` variant the mean per inference (``key``) and the flash of the whole minimal
    program calling that entry (``key_flash``), from ``bdnn bench``."""
    row = {
        "model": path.stem,
        "target": target,
        "shape": "-".join(str(n) for n in [net.n_inputs, *net.hidden_widths, net.n_classes]),
        "unit": get_target(target).family.counts,
        **extra,
    }
    for key, entry, cflags in variants:
        r = bench(net, target, n_vectors=vectors, entry=entry, cflags=cflags)
        row[key] = r["per_inference"]["mean"]
        row[key + "_flash"] = r["flash_bytes"]
    return row


def measure(path: Path, target: str, vectors: int) -> dict:
    """The four figures of one model on one target (mean per inference)."""
    net = load_network(path)
    q = net.quantizer
    data = size_report(net, get_target(target).family.word_bits)["total"]
    return entry_row(path, net, target, vectors, [
        ("predict_q", "predict_q", ()),
        ("predict_float_arithmetic", "predict", ("-DBDNN_FLOAT_QUANTIZER=1",)),
        ("predict_thresholds", "predict", ("-DBDNN_FLOAT_QUANTIZER=0",)),
        ("predict_default", "predict", ()),
    ], network_bytes=data["weight_bytes"] + data["threshold_bytes"],
        lo_scale_bytes=quantizer_bytes(q, float_arithmetic=True),
        threshold_bytes=quantizer_bytes(q, float_arithmetic=False))


def table(rows: list[dict]) -> str:
    """A markdown table of the measurements."""
    out = [
        "| model | shape | target | unit | predict_q | predict, float arithmetic (before) | "
        "predict, thresholds | predict, default (after) | before / after | "
        "flash: predict_q / float arithmetic / thresholds program | network bytes | "
        "lo/scale bytes | threshold bytes |",
        "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        out.append(
            f"| {r['model']} | {r['shape']} | {r['target']} | {r['unit']} | "
            f"{r['predict_q']:,.0f} | {r['predict_float_arithmetic']:,.0f} | "
            f"{r['predict_thresholds']:,.0f} | {r['predict_default']:,.0f} | "
            f"{r['predict_float_arithmetic'] / r['predict_default']:.1f} | "
            f"{r['predict_q_flash']:,} / {r['predict_float_arithmetic_flash']:,} / "
            f"{r['predict_thresholds_flash']:,} | "
            f"{r['network_bytes']:,} | {r['lo_scale_bytes']:,} | {r['threshold_bytes']:,} |"
        )
    return "\n".join(out)


def run_matrix(doc: str, models: list[Path], targets: list[str], measure, table) -> None:
    """The command line of a models x targets entry benchmark (this one, pow2_kernel.py):
    ``measure(path, target, vectors)`` per pair, a JSON line each on stderr as it comes,
    ``--json`` for the rows, ``table(rows)`` (markdown) on stdout."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path, default=models)
    ap.add_argument("--targets", default=",".join(targets))
    ap.add_argument("--vectors", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = ap.parse_args()
    rows = []
    for path in args.models:
        for target in args.targets.split(","):
            rows.append(measure(path, target, args.vectors))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    print(table(rows))


def main() -> None:
    run_matrix(__doc__, MODELS, TARGETS, measure, table)


if __name__ == "__main__":
    main()
