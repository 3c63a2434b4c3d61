"""The RISC-V family: riscv64-unknown-elf-gcc with picolibc, bare-metal RV32 firmware with
semihosting output (``templates/firmware_riscv/``) run under ``qemu-system-riscv32``; a bench
counts the instructions of each inference in QEMU's instruction trace, as for Cortex-M."""

from __future__ import annotations

from pathlib import Path

from bdnn.errors import BDNNError

from .family import Target, TargetFamily
from .run_qemu import run_qemu

# QEMU's generic RV32 CPU has every common extension switched on; these are switched off
# unless the target's -march names them, so an instruction the chip lacks (a `mul` on an
# rv32ec) traps instead of running.
_OPTIONAL_EXTENSIONS = ("m", "a", "f", "d", "c")


def qemu_cpu(march: str) -> str:
    """The ``qemu-system-riscv32 -cpu`` value for a gcc ``-march`` such as ``rv32imc`` or
    ``rv32ec``: the base integer ISA (I, or E with 16 registers) and exactly its extensions."""
    if not march.startswith("rv32") or len(march) < 5 or march[4] not in "ie":
        raise BDNNError(f"not an RV32 -march: {march!r} (expected e.g. rv32imc or rv32ec)")
    base, extensions = march[4], march[5:].split("_")[0]
    props = ["rv32", f"i={'true' if base == 'i' else 'false'}",
             f"e={'true' if base == 'e' else 'false'}", "h=false"]
    props += [f"{x}={'true' if x in extensions else 'false'}" for x in _OPTIONAL_EXTENSIONS]
    return ",".join(props)


def _march(target: Target) -> str:
    for flag in target.cflags:
        if flag.startswith("-march="):
            return flag.removeprefix("-march=")
    raise BDNNError(f"target {target.name} has no -march flag")


def _make_vars(target: Target) -> dict[str, str]:
    return {"MACHINE": target.machine, "CPU": qemu_cpu(_march(target)),
            "BOARD_LD": str(target.linker_script), "ARCH": " ".join(target.cflags)}


def _run(target: Target, elf: Path, timeout: float, trace_log: Path | None) -> list[str]:
    extra = ("-cpu", qemu_cpu(_march(target)), "-bios", "none")
    lines, _status = run_qemu(target, elf, timeout=timeout, trace_log=trace_log,
                              extra_args=extra)
    return lines


FAMILY = TargetFamily(
    name="riscv",
    emulator_title="QEMU",
    cc="riscv64-unknown-elf-gcc",
    size_tool="riscv64-unknown-elf-size",
    nm_tool="riscv64-unknown-elf-nm",
    emulator="qemu-system-riscv32",
    packages={
        "riscv64-unknown-elf-gcc": "gcc-riscv64-unknown-elf",
        "riscv64-unknown-elf-size": "binutils-riscv64-unknown-elf",
        "riscv64-unknown-elf-nm": "binutils-riscv64-unknown-elf",
        "qemu-system-riscv32": "qemu-system-misc",
    },
    word_bits=32,
    counts="instructions",
    counts_from_trace=True,
    rodata_in_ram=False,
    runner_reserve_bytes=8 * 1024,
    max_vector_bytes=192 * 1024,
    make_vars=_make_vars,
    run=_run,
    libm_make_args=("LDLIBS=-lm -lc -lgcc",),
    shared_sources=("firmware_semihosting",),
)


def core(name: str, march: str, mabi: str, machine: str, board: str, flash_bytes: int,
         ram_bytes: int, linker_script: str, clock_hz: int | None = None,
         clock_board: str = "") -> Target:
    """An RV32 target: ``march``/``mabi`` for gcc with picolibc (QEMU's ``-cpu`` follows from
    ``march``), ``linker_script`` one of the board scripts in ``templates/firmware_riscv/``;
    ``clock_hz`` the CPU clock of ``clock_board``, a typical chip of this class."""
    return Target(
        name=name,
        family=FAMILY,
        board=board,
        machine=machine,
        # picolibc.specs is part of every compile and link: it adds picolibc's headers
        # (<stdint.h> needs them) and its multilib for -march/-mabi
        cflags=(f"-march={march}", f"-mabi={mabi}", "--specs=picolibc.specs"),
        flash_bytes=flash_bytes,
        ram_bytes=ram_bytes,
        linker_script=linker_script,
        clock_hz=clock_hz,
        clock_board=clock_board,
        lanes="m" in march[len("rv32"):].split("_")[0],  # the M extension: a multiplier
    )
