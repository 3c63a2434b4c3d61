"""``bdnn size``: bytes per layer of the exported C vs the information-theoretic minimum."""

from __future__ import annotations

import click

from codegen.switches import SMALL_CODE, WEIGHTS_AS_CODE, switch_suffix
from codegen.targets.registry import target_names

from ..errors import BDNNError
from ..model_file import load_model
from .options import emit_json


@click.command("size")
@click.argument("model")
@click.option("--word-bits", type=int, default=32, show_default=True,
              help="Bits per packed word, as for bdnn export: 8, 16, 32 or 64.")
@click.option("--target", default=None,
              help=f"Also build for a microcontroller ({', '.join(target_names())}) and report "
                   "measured flash and RAM.")
@click.option(SMALL_CODE.flag, "small_code", is_flag=True,
              help=SMALL_CODE.help + " Measured with --target.")
@click.option(WEIGHTS_AS_CODE.flag, "weights_as_code", is_flag=True,
              help=WEIGHTS_AS_CODE.help + " Measured with --target.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def command(model, word_bits, target, small_code, weights_as_code, as_json) -> None:
    """Bytes of weights, thresholds and scratch per layer of MODEL's C export."""
    from codegen.bitpack import check_word_bits
    from codegen.size_report import format_size_table, size_report

    check_word_bits(word_bits)
    for switch, on in ((SMALL_CODE, small_code), (WEIGHTS_AS_CODE, weights_as_code)):
        if on and target is None:
            raise BDNNError(f"{switch.flag} changes only the compiled code, not the tables "
                            "reported without a target; give --target TARGET to measure it")
    measured = None
    if target is not None:
        from codegen.targets.registry import get_target

        get_target(target)  # unknown target: fail before any work
    from codegen.level_keys import quantizer_forms_bytes

    net = load_model(model)
    report = size_report(net, word_bits)
    report["quantizer_bytes"] = quantizer_forms_bytes(net.quantizer)
    if target is not None:
        from codegen.targets.measure import measured_size

        measured = measured_size(net, target, run=True, small_code=small_code,
                                 weights_as_code=weights_as_code)
    if as_json:
        emit_json({"model": str(model), **report, **({"measured": measured} if measured else {})})
        return
    click.echo(format_size_table(report))
    click.echo(_format_quantizer(report["quantizer_bytes"]))
    if measured:
        click.echo(_format_measured(measured))


#: what each C form of the quantizer stores, and the macro value that selects it
_QUANTIZER_FORMS = {
    "pow2": "exponent + offset (BDNN_POW2_QUANTIZER 1)",
    "level_keys": "level keys",
    "lo_scale": "lo + scale (BDNN_FLOAT_QUANTIZER 1, the default with an FPU)",
}


def _format_quantizer(forms: dict) -> str:
    """One line: the float API's quantizer bytes, each form (not with BDNN_NO_FLOAT)."""
    return "float API quantizer (not with BDNN_NO_FLOAT): " + ", or ".join(
        f"{n:,} B of {_QUANTIZER_FORMS[k]}" for k, n in forms.items())


def _format_measured(m: dict) -> str:
    """Measured footprint lines for ``--target``."""
    keys = [k for k in ("flash_bytes", "ram_bytes", "model_flash_bytes", "model_ram_bytes",
                        "stack_bytes", "flash_capacity", "ram_capacity") if k in m]
    where = f"{m['target']} ({m.get('board', '')}){switch_suffix(m)}"
    return f"measured on {where}: " + ", ".join(
        f"{k.replace('_', ' ')} {m[k]}" for k in keys)
