"""The AVR family: avr-gcc with avr-libc (weights and test vectors in PROGMEM), firmware in
``templates/firmware_avr/`` run under ``simavr``; UART text out, CPU cycles per inference
from Timer1."""

from __future__ import annotations

from pathlib import Path

from bdnn.errors import BDNNError

from .family import Target, TargetFamily
from .run_simavr import run_simavr


def _make_vars(target: Target) -> dict[str, str]:
    return {"MCU": target.machine, "F_CPU": str(target.clock_hz), "ARCH": " ".join(target.cflags)}


def _run(target: Target, elf: Path, timeout: float, trace_log: Path | None) -> list[str]:
    if trace_log is not None:
        raise BDNNError(f"{target.name}: simavr writes no instruction trace; AVR counts cycles")
    return run_simavr(target, elf, timeout=timeout)


FAMILY = TargetFamily(
    name="avr",
    emulator_title="simavr",
    cc="avr-gcc",
    size_tool="avr-size",
    nm_tool="avr-nm",
    emulator="simavr",
    packages={"avr-gcc": "gcc-avr", "avr-size": "binutils-avr", "avr-nm": "binutils-avr",
              "simavr": "simavr"},
    word_bits=8,
    counts="cycles",
    counts_from_trace=False,
    rodata_in_ram=True,
    runner_reserve_bytes=6 * 1024,
    max_vector_bytes=24 * 1024,
    make_vars=_make_vars,
    run=_run,
)


def mcu(name: str, machine: str, board: str, clock_hz: int, flash_bytes: int,
        ram_bytes: int, clock_board: str = "") -> Target:
    """An AVR target: ``machine`` is the avr-gcc ``-mmcu`` and simavr ``-m`` name; the
    emulator and ``F_CPU`` run at ``clock_hz``, the clock of ``clock_board``."""
    return Target(
        name=name,
        family=FAMILY,
        board=board,
        machine=machine,
        cflags=(f"-mmcu={machine}", f"-DF_CPU={clock_hz}UL"),
        columns=True,
        flash_bytes=flash_bytes,
        ram_bytes=ram_bytes,
        clock_hz=clock_hz,
        clock_board=clock_board or board,
    )
