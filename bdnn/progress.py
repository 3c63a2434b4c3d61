"""The one form of a progress line on stderr, shared by the commands and the trainers."""

from __future__ import annotations

import sys
import time


def progress_line(label: str, started: float, message: str, quiet: bool = False) -> None:
    """One progress line on stderr, ``[label  1.2s] message``, the seconds counted from
    ``started`` (``time.monotonic()``, e.g. the process's start); nothing when ``quiet``."""
    if not quiet:
        print(f"[{label} {time.monotonic() - started:6.1f}s] {message}", file=sys.stderr,
              flush=True)
