"""Running AVR firmware under ``simavr``: UART text arrives on stderr in colour, each newline
shown as '.', and simavr always exits 0, so the result is read from the text."""

from __future__ import annotations

import re
from pathlib import Path

from bdnn.errors import BDNNError

from .family import Target
from .process import emulator_timeout, run_command

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_UART_COLOUR = "\x1b[32m"  # simavr prints UART lines in green


def simavr_command(target: Target, elf: Path) -> list[str]:
    """The simavr command line that runs ``elf``."""
    return [target.family.emulator, "-m", target.machine, "-f", str(target.clock_hz), str(elf)]


def uart_lines(stderr: str) -> list[str]:
    """The firmware's UART lines from simavr's stderr.

    simavr prints each UART line (ending in '.', its rendering of '\\n') in colour, and splits
    lines longer than its buffer without the '.': those pieces are joined again. Lines without
    the green colour are simavr's own messages and are dropped.
    """
    lines: list[str] = []
    pending = ""
    for raw in stderr.splitlines():
        start = raw.find(_UART_COLOUR)
        if start < 0:
            continue
        text = _ANSI.sub("", raw[start:])
        if text.endswith("."):
            lines.append(pending + text[:-1])
            pending = ""
        else:
            pending += text
    if pending:
        lines.append(pending)
    return lines


def run_simavr(target: Target, elf: Path, timeout: float | None = None) -> list[str]:
    """Run ``elf`` on the simulated MCU; return the UART lines. A hang raises after ``timeout``
    seconds (default: ``emulator_timeout`` of one row)."""
    if timeout is None:
        timeout = emulator_timeout(1)
    result = run_command(
        simavr_command(target, Path(elf).resolve()),
        cwd=Path(elf).parent,
        timeout=timeout,
        what=f"simavr ({target.machine}) running {Path(elf).name}",
    )
    if result.returncode != 0:
        last = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise BDNNError(f"simavr failed with status {result.returncode}: {_ANSI.sub('', last[0])}")
    return uart_lines(result.stderr)
