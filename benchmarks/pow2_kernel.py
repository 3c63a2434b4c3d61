"""pow2 quantizer benchmark: ``NAME_predict`` (float features in) of the pow2 benchmark nets with
the level computed from the float's bits by integers (``BDNN_POW2_QUANTIZER=1``: a uint8
exponent and an int16 offset per input) against the level keys of the same model (``=0``: ``4 L``
bytes per input), next to ``NAME_predict_q``; and the bytes of each form.

    python3 benchmarks/pow2_kernel.py [MODEL.json ...] [--targets cortex-m0,...] [--json OUT]

Instructions per inference on Cortex-M and RISC-V (QEMU trace), cycles on AVR (simavr), each
the mean over ``--vectors`` random inputs, measured by ``bdnn bench``
(``codegen.targets.measure.bench``) after the firmware's outputs were checked against numpy.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from float_input import entry_row, run_matrix  # noqa: E402  (this folder: the script's own sys.path[0])

from bdnn.model_file import load_network  # noqa: E402
from codegen.level_keys import quantizer_bytes  # noqa: E402

MODELS = sorted((Path(__file__).resolve().parent / "models" / "pow2").glob("*.json"))
TARGETS = ["cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "avr", "rv32imc", "rv32ec"]


def measure(path: Path, target: str, vectors: int) -> dict:
    """predict_q, predict by the integer form and by level keys: per inference and flash."""
    net = load_network(path)
    q = net.quantizer
    return entry_row(path, net, target, vectors, [
        ("predict_q", "predict_q", ()),
        ("predict_pow2", "predict", ("-DBDNN_POW2_QUANTIZER=1",)),
        ("predict_keys", "predict", ("-DBDNN_POW2_QUANTIZER=0",)),
    ], pow2_bytes=quantizer_bytes(q, False, pow2_steps=True), key_bytes=quantizer_bytes(q, False))


def table(rows: list[dict]) -> str:
    """A markdown table of the measurements."""
    out = [
        "| model | shape | target | unit | predict_q | predict, pow2 integer form | "
        "predict, level keys | per input: integer - keys | flash: integer / keys program | "
        "quantizer bytes: integer / keys |",
        "|---|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        n_inputs = int(r["shape"].split("-")[0])
        out.append(
            f"| {r['model']} | {r['shape']} | {r['target']} | {r['unit']} | "
            f"{r['predict_q']:,.0f} | {r['predict_pow2']:,.0f} | {r['predict_keys']:,.0f} | "
            f"{(r['predict_pow2'] - r['predict_keys']) / n_inputs:+.1f} | "
            f"{r['predict_pow2_flash']:,} / {r['predict_keys_flash']:,} | "
            f"{r['pow2_bytes']:,} / {r['key_bytes']:,} |"
        )
    return "\n".join(out)


def main() -> None:
    run_matrix(__doc__, MODELS, TARGETS, measure, table)


if __name__ == "__main__":
    main()
