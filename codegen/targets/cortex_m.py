"""The Cortex-M family: arm-none-eabi-gcc, bare-metal firmware with semihosting output
(``templates/firmware_cortex_m/``) run under ``qemu-system-arm``; a bench counts the
instructions of each inference in QEMU's instruction trace."""

from __future__ import annotations

from pathlib import Path

from .family import Target, TargetFamily
from .run_qemu import run_qemu


def _make_vars(target: Target) -> dict[str, str]:
    return {"MACHINE": target.machine, "BOARD_LD": str(target.linker_script),
            "ARCH": " ".join(target.cflags)}


def _run(target: Target, elf: Path, timeout: float, trace_log: Path | None) -> list[str]:
    lines, _status = run_qemu(target, elf, timeout=timeout, trace_log=trace_log)
    return lines


FAMILY = TargetFamily(
    name="cortex_m",
    emulator_title="QEMU",
    cc="arm-none-eabi-gcc",
    size_tool="arm-none-eabi-size",
    nm_tool="arm-none-eabi-nm",
    emulator="qemu-system-arm",
    packages={
        "arm-none-eabi-gcc": "gcc-arm-none-eabi",
        "arm-none-eabi-size": "binutils-arm-none-eabi",
        "arm-none-eabi-nm": "binutils-arm-none-eabi",
        "qemu-system-arm": "qemu-system-arm",
    },
    word_bits=32,
    counts="instructions",
    counts_from_trace=True,
    rodata_in_ram=False,
    runner_reserve_bytes=16 * 1024,
    max_vector_bytes=192 * 1024,
    make_vars=_make_vars,
    run=_run,
    libm_make_args=("LDLIBS=-lm -lc_nano -lgcc",),
    shared_sources=("firmware_semihosting",),
)


def core(
    name: str,
    machine: str,
    board: str,
    float_abi: tuple[str, ...],
    flash_bytes: int,
    ram_bytes: int,
    linker_script: str = "mps2.ld",
    cpu: str | None = None,
    clock_hz: int | None = None,
    clock_board: str = "",
    dsp: bool = False,
) -> Target:
    """A Cortex-M target: ``cpu`` (default: ``name``) for ``-mcpu``, ``float_abi`` the float
    flags, ``linker_script`` one of the board scripts in ``templates/firmware_cortex_m/``;
    ``clock_hz`` the CPU clock of ``clock_board``, a typical board with this core (QEMU itself
    runs at no particular clock); ``dsp``: the core has the ARMv7E-M DSP instructions."""
    return Target(
        name=name,
        family=FAMILY,
        board=board,
        machine=machine,
        cflags=(f"-mcpu={cpu or name}", "-mthumb", *float_abi),
        flash_bytes=flash_bytes,
        ram_bytes=ram_bytes,
        linker_script=linker_script,
        clock_hz=clock_hz,
        clock_board=clock_board,
        dsp=dsp,
        lanes=not dsp,  # every Cortex-M core multiplies; with the DSP kernel it needs no lanes
    )
