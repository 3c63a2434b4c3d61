"""The first layer's kernel choice (``codegen.plan.first_layer_kernel``) against measurement.

    python3 benchmarks/kernel_choice.py [--targets cortex-m0,cortex-m3,rv32imc,avr,cortex-m4]
        [--json benchmarks/results/kernel_choice.json] [--md benchmarks/results/kernel_choice.md]

For each network shape (random ternary networks, ``bdnn.network.random_network``) the C is
exported twice, with the first layer forced to the ``popcount`` kernel and to the ``sums``
(subset-sum) kernel, and ``NAME_predict_q`` is measured on every target (instructions under
QEMU, cycles under simavr; outputs checked bit for bit against the numpy forward pass by
``codegen.targets.measure.bench``). The report says which kernel the export picks, which one
is faster on each target, and what the pick costs against the faster one. A least-squares fit
of the two kernels' difference on the instruction-count cores (Cortex-M0, M3, RV32IMC) gives
the operation counts ``first_layer_kernel`` uses (per input bit packed, per popcount, per
table group built, per table entry read).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import codegen.plan as plan  # noqa: E402
from bdnn.network import random_network  # noqa: E402
from codegen.bitpack import n_planes, n_words  # noqa: E402
from codegen.targets.measure import bench  # noqa: E402

TARGETS = ("cortex-m0", "cortex-m3", "rv32imc", "avr", "cortex-m4")
FIT_TARGETS = ("cortex-m0", "cortex-m3", "rv32imc")
# (inputs, hidden units, classes, input bits)
SHAPES = ((13, 2, 3, 2), (13, 2, 3, 1), (9, 4, 2, 2), (30, 2, 2, 2), (30, 4, 2, 1),
          (10, 8, 2, 2), (64, 16, 10, 1), (64, 8, 10, 2), (13, 4, 3, 4), (100, 4, 2, 1),
          (64, 8, 10, 1), (20, 4, 2, 1))
KERNELS = ("popcount", "sums")


class forced_kernel:
    """Within the block every export uses ``kernel`` for its first layer."""

    def __init__(self, kernel: str) -> None:
        self.kernel = kernel

    def __enter__(self) -> None:
        self.saved = plan.first_layer_kernel
        plan.first_layer_kernel = lambda *args, **kw: self.kernel

    def __exit__(self, *exc) -> None:
        plan.first_layer_kernel = self.saved


def features(n_in: int, hidden: int, bits: int, planes: int = 2) -> list[int]:
    """The terms of ``first_layer_kernel``'s two counts (popcount minus sums)."""
    groups = -(-n_in // plan.SUM_GROUP)
    return [n_in * bits, hidden * planes * n_words(n_in, 32) * bits, -groups,
            -hidden * planes * groups]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/kernel_choice.json")
    ap.add_argument("--md", type=Path, default=ROOT / "benchmarks/results/kernel_choice.md")
    args = ap.parse_args(argv)
    targets = args.targets.split(",")
    rows = []
    for n_in, hidden, classes, bits in SHAPES:
        rng = np.random.default_rng(n_in * 100 + hidden * 10 + bits)
        net = random_network(rng, n_in, [hidden], classes, bits=bits)
        layer = net.layers[0]
        sum_bits = plan.sum_entry_bits((1 << bits) - 1)
        pick = plan.first_layer_kernel(n_in, hidden, n_planes(layer.weight_bound), bits, 32,
                                       sum_bits)
        for target in targets:
            row = {"shape": [n_in, hidden, classes, bits], "target": target, "pick": pick}
            for kernel in KERNELS:
                with forced_kernel(kernel):
                    r = bench(net, target, entry="predict_q", n_vectors=4)
                row[kernel] = r["per_inference"]["mean"]
                row[f"{kernel}_flash"] = r["flash_bytes"]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    fit_rows = [r for r in rows if r["target"] in FIT_TARGETS and r["popcount"] != r["sums"]]
    X = np.array([features(r["shape"][0], r["shape"][1], r["shape"][3]) for r in fit_rows],
                 dtype=float)
    y = np.array([r["popcount"] - r["sums"] for r in fit_rows])
    coef = np.linalg.lstsq(X, y, rcond=None)[0] if len(fit_rows) >= 4 else np.full(4, np.nan)
    record = {
        "command": " ".join(["python3 benchmarks/kernel_choice.py", *(argv or sys.argv[1:])]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "fit": dict(zip(("pack_per_input_bit", "popcount", "build_per_group", "lookup"),
                        [round(float(c), 2) for c in coef], strict=True)),
        "used": {"PACK_OPS": plan.PACK_OPS, "POPCOUNT_OPS": plan.POPCOUNT_OPS,
                 "BUILD_OPS": plan.BUILD_OPS, "LOOKUP_OPS": plan.LOOKUP_OPS},
        "rows": rows,
    }
    args.json.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    args.md.write_text(render(record), encoding="utf-8")
    print(render(record))
    return 0


def render(record: dict) -> str:
    lines = [
        "# First-layer kernel choice against measurement",
        "",
        "Generated by `benchmarks/kernel_choice.py`; do not edit by hand (rerun it).",
        "",
        f"- command: `{record['command']}`",
        f"- date: {record['date']}",
        "- `NAME_predict_q` per inference (instructions; AVR: cycles), mean of 4 random inputs, "
        "random ternary networks; the pick is `codegen.plan.first_layer_kernel`'s",
        f"- fitted operation counts (Cortex-M0, M3, RV32IMC): {record['fit']}; "
        f"used: {record['used']}",
        "",
        "| shape (in-hidden-classes, bits) | target | popcount | sums | pick | pick / best |",
        "|---|---|--:|--:|---|--:|",
    ]
    worst = {}
    for r in record["rows"]:
        best = min(r["popcount"], r["sums"])
        ratio = r[r["pick"]] / best
        worst[r["target"]] = max(worst.get(r["target"], 1.0), ratio)
        n, h, c, b = r["shape"]
        lines.append(f"| {n}-{h}-{c}, {b} bit{'s' if b > 1 else ''} | {r['target']} | "
                     f"{r['popcount']:,.0f} | {r['sums']:,.0f} | {r['pick']} | {ratio:.2f} |")
    lines += ["", "Worst pick / best per target: "
              + ", ".join(f"{t} {v:.2f}" for t, v in worst.items()), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
