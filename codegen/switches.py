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


#: BDNN_WEIGHTS_AS_CODE (templates/weights_as_code.c.j2, codegen.weights_as_code): NAME_predict
#: and NAME_predict_q run the network with its non-zero weights compiled into the code, one
#: unrolled sum per unit: fewer instructions on small cores for more flash; same results.
WEIGHTS_AS_CODE = CSwitch(
    macro="BDNN_WEIGHTS_AS_CODE", flag="--weights-as-code", key="weights_as_code",
    help="The network's non-zero weights compiled into NAME_predict and NAME_predict_q "
         "(BDNN_WEIGHTS_AS_CODE 1): fewer instructions per inference on small cores, more "
         "flash; the same results. Single networks without a predict table.")

#: every switch, in the order the commands' text output names them
SWITCHES = (SMALL_CODE, WEIGHTS_AS_CODE)


def switch_cflags(settings: dict) -> tuple[str, ...]:
    """The compiler flags of a build with ``settings`` (``{CSwitch.key: bool}``; a missing
    key is off)."""
    return tuple(f for s in SWITCHES for f in s.cflags(bool(settings.get(s.key))))


def switch_record(settings: dict) -> dict:
    """Every switch's setting as the JSON records it: ``{key: bool}``."""
    return {s.key: bool(settings.get(s.key)) for s in SWITCHES}


def switch_suffix(record: dict) -> str:
    """``", BDNN_SMALL_CODE 1, ..."`` for the switches a measurement was built with."""
    return "".join(s.suffix(record) for s in SWITCHES)
