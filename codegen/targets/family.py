"""The two records of the target table: a ``TargetFamily`` holds everything chips of one kind
share (firmware sources, toolchain, Makefile settings, emulator runner, what a bench counts), a
``Target`` only what differs per chip and a reference to its family.

A new chip of an existing family is one ``Target`` in ``registry.TARGETS``; a new family is one
module defining its ``TargetFamily`` (see ``cortex_m.py``, ``avr.py``) plus its firmware folder
``templates/firmware_<family>/`` and its lines in ``registry.py`` and the toolchain install script.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

# Runs a firmware image on the family's emulator and returns the firmware's output lines:
# (target, elf, hang-guard seconds, instruction trace file or None) -> lines.
# Raises BDNNError for a fault or an emulator failure, EmulatorTimeout for a hang.
EmulatorRunner = Callable[["Target", Path, float, "Path | None"], list[str]]


@dataclass(frozen=True, eq=False)  # one object per family: compared and hashed by identity
class TargetFamily:
    """What every chip of one family shares."""

    name: str  # e.g. "cortex_m": names the firmware folder templates/firmware_<name>/
    emulator_title: str  # the emulator as the user knows it, for descriptions: "QEMU"
    cc: str  # C compiler program
    size_tool: str  # `size -A` of an ELF or object file
    nm_tool: str  # `nm -S` of an ELF file
    emulator: str  # program that runs the firmware
    packages: Mapping[str, str]  # program -> Debian package that installs it
    word_bits: int  # packed word size of the exported C (the CPU's natural width)
    counts: str  # what a bench measures per inference: "instructions" or "cycles"
    # True: counts are the instructions between the runner's markers in an emulator instruction
    # trace; False: the firmware times each inference itself (its "T" records)
    counts_from_trace: bool
    rodata_in_ram: bool  # .rodata is copied to RAM (AVR without PROGMEM)
    runner_reserve_bytes: int  # flash kept free for the runner, float API and libgcc
    max_vector_bytes: int  # flash for test vectors in one image (more rows: several images)
    # Makefile variables for config.mk, per chip (ARCH, the emulated machine, ...)
    make_vars: Callable[[Target], dict[str, str]]
    run: EmulatorRunner
    # make arguments that add libm to the link (emlearn's expf); () where gcc links it anyway
    libm_make_args: tuple[str, ...] = ()
    # firmware folders shared with other families, copied before the family's own (e.g.
    # "firmware_semihosting": the platform of the families QEMU runs with semihosting)
    shared_sources: tuple[str, ...] = ()

    @property
    def sources(self) -> str:
        """The firmware folder in the templates package (beside ``firmware_common``)."""
        return f"firmware_{self.name}"

    def programs(self, run: bool = True) -> list[str]:
        """Programs needed to build (and, with ``run``, to run) firmware of this family."""
        return [self.cc, self.size_tool, self.nm_tool] + ([self.emulator] if run else [])


@dataclass(frozen=True)
class Target:
    """One microcontroller: what differs per chip, and its family."""

    name: str  # as the user types it: cortex-m3, avr
    family: TargetFamily
    board: str  # the emulated board
    machine: str  # emulator machine: QEMU -M machine, simavr -m MCU
    cflags: tuple[str, ...]  # architecture flags (config.mk's ARCH holds the same)
    flash_bytes: int
    ram_bytes: int
    linker_script: str | None = None  # board linker script in the family's folder, if any
    # CPU clock of a typical board with this chip (clock_board): the default of bench's time
    # per inference (--clock-hz), and the clock the emulator runs at where it needs one (AVR)
    clock_hz: int | None = None
    clock_board: str = ""
    # ARMv7E-M DSP instructions (Cortex-M4/M7): the C compiles the first layer's DSP kernel and,
    # for ternary weights, its own form of that layer's tables (codegen.plan.DspTernary)
    dsp: bool = False
    # the C compiles a ternary first layer's columns kernel and its tables
    # (codegen.plan.ColumnsKernel; BDNN_COLUMNS defaults to 1): AVR
    columns: bool = False
    # the C compiles a hidden first layer's lanes kernel and its tables (codegen.plan.LanesKernel;
    # BDNN_LANES defaults to 1): the cores with a multiplier and neither of the above
    lanes: bool = False
