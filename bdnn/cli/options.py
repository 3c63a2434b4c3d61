"""Shared click parameter types and helpers for the commands."""

from __future__ import annotations

import json
import sys
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
