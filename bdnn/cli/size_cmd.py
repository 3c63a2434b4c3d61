"""``bdnn size``: bytes per layer of the exported C vs the information-theoretic minimum."""

from __future__ import annotations

import click

from codegen.targets.registry import target_names

from ..model_file import load_model
from .options import emit_json


@click.command("size")
@click.argument("model")
@click.option("--word-bits", type=int, default=32, show_default=True,
              help="Bits per packed word, as for bdnn export: 8, 16, 32 or 64.")
@click.option("--target", default=None,
              help=f"Also build for a microcontroller ({', '.join(target_names())}) and report "
                   "measured flash and RAM.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def command(model, word_bits, target, as_json) -> None:
    """Bytes of weights, thresholds and scratch per layer of MODEL's C export."""
    from codegen.bitpack import check_word_bits
    from codegen.size_report import format_size_table, size_report

    check_word_bits(word_bits)
    measured = None
    if target is not None:
        from codegen.targets.registry import get_target

        get_target(target)  # unknown target: fail before any work
    net = load_model(model)
    report = size_report(net, word_bits)
    if target is not None:
        from codegen.targets.measure import measured_size

        measured = measured_size(net, target, run=True)
    if as_json:
        emit_json({"model": str(model), **report, **({"measured": measured} if measured else {})})
        return
    click.echo(format_size_table(report))
    if measured:
        click.echo(_format_measured(measured))


def _format_measured(m: dict) -> str:
    """Measured footprint lines for ``--target``."""
    keys = [k for k in ("flash_bytes", "ram_bytes", "model_flash_bytes", "model_ram_bytes",
                        "stack_bytes", "flash_capacity", "ram_capacity") if k in m]
    return f"measured on {m['target']} ({m.get('board', '')}): " + ", ".join(
        f"{k.replace('_', ' ')} {m[k]}" for k in keys)
