"""Shared click parameter types and helpers for the commands."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click


class IntList(click.ParamType):
    """A comma-separated list of positive integers, such as ``4,4``."""

    name = "INTS"

    def convert(self, value: Any, param, ctx) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        if not text:
            self.fail("must list at least one layer width, e.g. 4 or 8,4", param, ctx)
        try:
            widths = tuple(int(v) for v in text.split(","))
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of integers, e.g. 8,4", param, ctx)
        if any(w < 1 for w in widths):
            self.fail(f"every layer width must be >= 1, got {value}", param, ctx)
        return widths


def emit_json(obj: dict) -> None:
    """Print one JSON object on stdout (machine-readable results)."""
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def process_started() -> float:
    """``time.monotonic()`` at the start of this process (from /proc on Linux, so that a
    command's time limit covers the interpreter's start-up and imports), else now."""
    now = time.monotonic()
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time
    except (OSError, ValueError, IndexError):
        return now
    return now - min(max(age, 0.0), 3600.0)
