"""``bdnn bench``: run MODEL on an emulated microcontroller and measure it.

Per inference what the target's family counts (instructions on Cortex-M from a QEMU
instruction trace, CPU cycles on AVR from Timer1 under simavr), and flash/RAM measured from a
build without output code.
"""

from __future__ import annotations

from pathlib import Path

import click

from codegen.switches import SMALL_CODE, WEIGHTS_AS_CODE, switch_suffix
from codegen.targets.measure import ENTRIES
from codegen.targets.registry import target_names

from ..errors import BDNNError
from ..model_file import load_model
from .options import emit_json

TARGET_HELP = ", ".join(target_names())


@click.command("bench")
@click.argument("model")
@click.option("--target", required=True, help=f"Microcontroller: {TARGET_HELP}.")
@click.option("--vectors", "n_vectors", type=click.IntRange(1, 1000), default=8,
              show_default=True, help="Random inputs to measure (and check) on the target.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--project-dir", type=click.Path(file_okay=False), default=None,
              help="Build in DIR and keep the firmware project there (make run works in it).")
@click.option("--entry", type=click.Choice(list(ENTRIES)), default="predict_q",
              show_default=True,
              help="What to time: NAME_predict_q (quantized inputs), NAME_predict (float "
                   "inputs, the quantizer included) or NAME_predict_i16 / _i32 (integer raw "
                   "inputs such as ADC counts: bench exports that API itself, as export "
                   "--raw-input does, and feeds random integers spanning every level).")
@click.option("--clock-hz", type=float, default=None,
              help="CPU clock in Hz for the time per inference (default: a typical board's "
                   "clock for the target, named in the output). Instruction counts give an "
                   "estimate at 1 instruction per cycle; AVR cycles give the time exactly.")
@click.option(SMALL_CODE.flag, "small_code", is_flag=True, help=SMALL_CODE.help)
@click.option(WEIGHTS_AS_CODE.flag, "weights_as_code", is_flag=True, help=WEIGHTS_AS_CODE.help)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def command(model, target, n_vectors, seed, project_dir, entry, clock_hz, small_code,
            weights_as_code, as_json) -> None:
    """Instructions (Cortex-M, RISC-V: QEMU trace) or cycles (AVR: simavr) per inference and
    measured flash/RAM of MODEL.

    The firmware is built with the target's toolchain and run on its emulator; its outputs
    are checked bit for bit against the numpy reference before anything is reported.
    """
    from codegen.targets.measure import bench, check_clock_hz
    from codegen.targets.registry import get_target

    get_target(target)  # unknown target: fail before loading anything
    if clock_hz is not None:
        check_clock_hz(clock_hz)
    net = load_model(model)
    work_dir = None
    if project_dir:
        work_dir = Path(project_dir)
        if not work_dir.parent.is_dir():
            raise BDNNError(f"--project-dir {work_dir}: directory {work_dir.parent} does not exist")
    report = bench(net, target, n_vectors=n_vectors, seed=seed, work_dir=work_dir, entry=entry,
                   clock_hz=clock_hz, small_code=small_code, weights_as_code=weights_as_code)
    if as_json:
        emit_json({"model": str(model), **report})
        return
    click.echo(format_bench(report))


def format_bench(r: dict) -> str:
    """The human-readable bench report."""
    per = r["per_inference"]
    stack = r["stack_bytes"]
    lines = [
        f"target       {r['target']} ({r['board']}){switch_suffix(r)}",
        f"{r['unit']:<13}{per['mean']:.1f} per inference (min {per['min']}, max {per['max']}, "
        f"{r['n_inferences']} inputs) of {r.get('entry', 'predict_q')}",
        f"flash        {r['flash_bytes']} bytes of {r['flash_capacity']} "
        f"(model alone {r['model_flash_bytes']})",
        f"RAM          {r['ram_bytes']} bytes static + {stack if stack is not None else '?'} bytes "
        f"stack of {r['ram_capacity']} (model alone {r['model_ram_bytes']} static)",
    ]
    sec = r.get("seconds_per_inference")
    if sec is not None:
        lines.insert(2, f"time         {1e6 * sec['mean']:.2f} us per inference at "
                        f"{r['clock_hz'] / 1e6:g} MHz ({r['clock_board']}; {r['time_basis']})")
    else:
        lines.insert(2, "time         unknown: no board clock for this target (give --clock-hz)")
    return "\n".join(lines)
