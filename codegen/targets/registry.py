"""The table of microcontroller targets the firmware can be built for and run on.

Everything else (``bdnn bench/size/export --target``, the verify backends, the tests) reads this
table: a new chip of an existing family is one entry here (or one ``register_target`` call).
"""

from __future__ import annotations

from bdnn.errors import BDNNError

from . import avr, cortex_m, riscv
from .family import Target, TargetFamily

__all__ = ["FAMILIES", "TARGETS", "Target", "TargetFamily", "get_target", "register_target",
           "target_names"]

FAMILIES: tuple[TargetFamily, ...] = (cortex_m.FAMILY, avr.FAMILY, riscv.FAMILY)

_KB = 1024
_MB = 1024 * 1024
_SOFT = ("-mfloat-abi=soft",)
# clock_hz / clock_board: a typical board with the chip, for bench's time per inference
TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        cortex_m.core("cortex-m0", "microbit", "BBC micro:bit (nRF51822)", _SOFT,
                      256 * _KB, 16 * _KB, linker_script="microbit.ld",
                      clock_hz=48_000_000, clock_board="SAMD21 (Arduino Zero) at 48 MHz"),
        cortex_m.core("cortex-m3", "mps2-an385", "ARM MPS2 AN385", _SOFT, 4 * _MB, 4 * _MB,
                      clock_hz=72_000_000, clock_board="STM32F103 (Blue Pill) at 72 MHz"),
        cortex_m.core("cortex-m4", "mps2-an386", "ARM MPS2 AN386",
                      ("-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"), 4 * _MB, 4 * _MB,
                      clock_hz=80_000_000, clock_board="STM32L476 (Nucleo-L476RG) at 80 MHz",
                      dsp=True),
        cortex_m.core("cortex-m7", "mps2-an500", "ARM MPS2 AN500",
                      ("-mfloat-abi=hard", "-mfpu=fpv5-d16"), 4 * _MB, 4 * _MB,
                      clock_hz=216_000_000, clock_board="STM32F746 (Nucleo-F746ZG) at 216 MHz",
                      dsp=True),
        avr.mcu("avr", "atmega328p", "ATmega328P (Arduino Uno) at 16 MHz", 16_000_000,
                32 * _KB, 2 * _KB, clock_board="ATmega328P (Arduino Uno) at 16 MHz"),
        riscv.core("rv32imc", "rv32imc", "ilp32", "virt", "ESP32-C3 class RV32IMC", 4 * _MB,
                   384 * _KB, linker_script="virt.ld",
                   clock_hz=160_000_000, clock_board="ESP32-C3 at 160 MHz"),
        riscv.core("rv32ec", "rv32ec", "ilp32e", "sifive_e",
                   "CH32V003 class RV32EC, no multiplier", 16 * _KB, 2 * _KB,
                   linker_script="sifive_e.ld",
                   clock_hz=48_000_000, clock_board="CH32V003 at 48 MHz"),
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


def register_target(target: Target) -> Target:
    """Add ``target`` to the table (e.g. a chip of an existing family defined at run time);
    ``bench``, ``size``, ``export --target`` and the verify backends see it from then on."""
    if target.name in TARGETS:
        raise BDNNError(f"target {target.name!r} is already registered")
    if not isinstance(target.family, TargetFamily):
        raise BDNNError(f"target {target.name!r} has no TargetFamily")
    TARGETS[target.name] = target
    return target
