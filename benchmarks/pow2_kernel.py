"""pow2 quantizer benchmark: ``NAME_predict`` (float features in) of the pow2 benchmark nets with
the level computed from a shift and an offset per input (``BDNN_POW2_QUANTIZER=1``: a uint8
exponent and an int8/int16 offset; by the FPU on Cortex-M4F/M7, ``BDNN_FLOAT_QUANTIZER=1``, and
also measured there by integers on the float's bits, ``=0``, the form of the other cores)
against the level keys of the same model (``BDNN_POW2_QUANTIZER=0``: ``4 L`` bytes per input),
next to ``NAME_predict_q``; and the bytes of each form.

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
FPU_TARGETS = ("cortex-m4", "cortex-m7")  # where the default pow2 form is the FPU one


def measure(path: Path, target: str, vectors: int) -> dict:
    """predict_q, predict by the default shift/offset form (and on M4F/M7 by the integer one)
    and by level keys: per inference and flash."""
    net = load_network(path)
    q = net.quantizer
    entries = [
        ("predict_q", "predict_q", ()),
        ("predict_pow2", "predict", ("-DBDNN_POW2_QUANTIZER=1",)),
        ("predict_keys", "predict", ("-DBDNN_POW2_QUANTIZER=0",)),
    ]
    if target in FPU_TARGETS:
        entries.append(("predict_int", "predict",
                        ("-DBDNN_POW2_QUANTIZER=1", "-DBDNN_FLOAT_QUANTIZER=0")))
    return entry_row(path, net, target, vectors, entries,
                     pow2_bytes=quantizer_bytes(q, False, pow2_steps=True),
                     key_bytes=quantizer_bytes(q, False))


def table(rows: list[dict]) -> str:
    """A markdown table of the measurements."""
    out = [
        "| model | shape | target | unit | predict_q | predict, pow2 form (FPU on M4F/M7, "
        "else integer) | predict, integer form on M4F/M7 | predict, level keys | per input: "
        "pow2 form - keys | flash: pow2 form / keys program | quantizer bytes: pow2 / keys |",
        "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        n_inputs = int(r["shape"].split("-")[0])
        integer = f"{r['predict_int']:,.0f}" if "predict_int" in r else "="
        per_input = (r["predict_pow2"] - r["predict_keys"]) / n_inputs
        out.append(
            f"| {r['model']} | {r['shape']} | {r['target']} | {r['unit']} | "
            f"{r['predict_q']:,.0f} | {r['predict_pow2']:,.0f} | {integer} | "
            f"{r['predict_keys']:,.0f} | {per_input:+.1f} | "
            f"{r['predict_pow2_flash']:,} / {r['predict_keys_flash']:,} | "
            f"{r['pow2_bytes']:,} / {r['key_bytes']:,} |"
        )
    return "\n".join(out)


def main() -> None:
    run_matrix(__doc__, MODELS, TARGETS, measure, table)


if __name__ == "__main__":
    main()
