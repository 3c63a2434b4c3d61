"""Compile-time switches of the generated C that bdnn's commands set, one record each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CSwitch:
    """A 0/1 macro of the generated C: ``bdnn export`` can write 1 as the file's default
    (``#ifndef MACRO`` / ``#define MACRO 1``), the measuring commands build with ``-DMACRO=1``,
    and their JSON records the setting under ``key``."""

    macro: str
    flag: str  # the command-line flag of bdnn export, size, bench
    key: str  # the JSON field (and the Python keyword argument)
    help: str

    def cflags(self, on: bool) -> tuple[str, ...]:
        """The compiler flags of a build with the switch ``on`` (none for the default 0)."""
        return (f"-D{self.macro}=1",) if on else ()

    def suffix(self, record: dict) -> str:
        """``", MACRO 1"`` when a measurement ``record`` was built with the switch on, else
        ``""``: what the commands' text output appends to the target's name."""
        return f", {self.macro} 1" if record.get(self.key) else ""


#: BDNN_SMALL_CODE (templates/small_code.j2): the helpers used at every unit of the unrolled
#: layers (popcounts) and at every input of the fused float input (the level code) are called,
#: not inlined: less flash on small cores for a few percent more instructions; same results.
SMALL_CODE = CSwitch(
    macro="BDNN_SMALL_CODE", flag="--small-code", key="small_code",
    help="Out-of-line popcount and level helpers (BDNN_SMALL_CODE 1): less flash on small "
         "cores (Cortex-M0, AVR) for a few percent more cycles; the same results.")
