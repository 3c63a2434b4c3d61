"""The table of microcontroller targets the firmware can be built for and run on."""

from __future__ import annotations

from dataclasses import dataclass

from bdnn.errors import BDNNError


@dataclass(frozen=True)
class Target:
    """One microcontroller, its toolchain and the emulator machine that runs it."""

    name: str  # as the user types it: cortex-m3, avr
    family: str  # "cortex_m" or "avr": selects firmware sources, runner and Makefile
    board: str  # the emulated board
    cc: str  # C compiler program
    cflags: tuple[str, ...]  # architecture flags (the Makefile holds the same)
    size_tool: str
    nm_tool: str
    emulator: str  # program that runs the firmware
    machine: str  # QEMU -M machine, or simavr -m MCU
    flash_bytes: int
    ram_bytes: int
    packages: tuple[str, ...]  # Debian packages that provide the toolchain and emulator
    counts: str  # what a bench measures per inference: "instructions" or "cycles"
    word_bits: int  # packed word size of the exported C (the CPU's natural width)


_ARM_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm")
_AVR_PACKAGES = ("gcc-avr", "avr-libc", "binutils-avr", "simavr")


def _cortex_m(name: str, machine: str, board: str, fpu: tuple[str, ...], flash: int, ram: int):
    return Target(
        name=name,
        family="cortex_m",
        board=board,
        cc="arm-none-eabi-gcc",
        cflags=(f"-mcpu={name}", "-mthumb", *fpu),
        size_tool="arm-none-eabi-size",
        nm_tool="arm-none-eabi-nm",
        emulator="qemu-system-arm",
        machine=machine,
        flash_bytes=flash,
        ram_bytes=ram,
        packages=_ARM_PACKAGES,
        counts="instructions",
        word_bits=32,
    )


_KB = 1024
_MB = 1024 * 1024
TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        _cortex_m("cortex-m0", "microbit", "BBC micro:bit (nRF51822)",
                  ("-mfloat-abi=soft",), 256 * _KB, 16 * _KB),
        _cortex_m("cortex-m3", "mps2-an385", "ARM MPS2 AN385",
                  ("-mfloat-abi=soft",), 4 * _MB, 4 * _MB),
        _cortex_m("cortex-m4", "mps2-an386", "ARM MPS2 AN386",
                  ("-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"), 4 * _MB, 4 * _MB),
        _cortex_m("cortex-m7", "mps2-an500", "ARM MPS2 AN500",
                  ("-mfloat-abi=hard", "-mfpu=fpv5-d16"), 4 * _MB, 4 * _MB),
        Target(
            name="avr",
            family="avr",
            board="ATmega328P (Arduino Uno) at 16 MHz",
            cc="avr-gcc",
            cflags=("-mmcu=atmega328p", "-DF_CPU=16000000UL"),
            size_tool="avr-size",
            nm_tool="avr-nm",
            emulator="simavr",
            machine="atmega328p",
            flash_bytes=32 * _KB,
            ram_bytes=2 * _KB,
            packages=_AVR_PACKAGES,
            counts="cycles",
            word_bits=8,
        ),
    )
}


def target_names() -> list[str]:
    """Names of every known target, in table order."""
    return list(TARGETS)


def get_target(name: str) -> Target:
    """The target called ``name``; an unknown name raises ``BDNNError`` listing the known ones."""
    try:
        return TARGETS[name]
    except (KeyError, TypeError):
        raise BDNNError(
            f"unknown target {name!r}; known targets: {', '.join(TARGETS)}"
        ) from None
