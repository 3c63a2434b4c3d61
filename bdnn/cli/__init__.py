"""The ``bdnn`` command line: one module per command, registered on one click group.

Every user error (``BDNNError`` or a click usage error) is printed as one line
``error: ...`` on stderr with exit code 2 and no traceback. An interrupt is one line too:
Ctrl-C (SIGINT) exits 130 and SIGTERM 143, at any moment from the first import on; ``train``
keeps the best network found so far on either (a job scheduler or ``timeout`` sends SIGTERM).

This module imports nothing heavy at the top, so that an interrupt while numpy, OR-Tools and
click load is caught by :func:`main` like any other.
"""

from __future__ import annotations

import signal
import sys

_received: dict[str, int] = {"signal": signal.SIGINT}


def _sigterm_as_sigint(signum, frame) -> None:
    # SIGTERM takes the Ctrl-C path: whatever handles SIGINT right now handles it (during a
    # forked CP-SAT solve, safe_solver's handler tells the solve to stop and return its best
    # solution; elsewhere Python's default handler raises KeyboardInterrupt).
    _received["signal"] = signal.SIGTERM
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    elif handler != signal.SIG_IGN:
        raise KeyboardInterrupt


def _interrupted() -> None:
    name = "SIGTERM" if _received["signal"] == signal.SIGTERM else "Ctrl-C"
    try:
        sys.stderr.write(f"error: interrupted ({name}); nothing was written\n")
        sys.stderr.flush()
    except (OSError, KeyboardInterrupt):
        pass
    sys.exit(128 + int(_received["signal"]))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turning user errors into one-line messages."""
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _sigterm_as_sigint)
        import click

        from ..errors import BDNNError
        from .app import cli

        try:
            rv = cli.main(args=argv, prog_name="bdnn", standalone_mode=False)
        except click.exceptions.Abort:
            _interrupted()
        except click.ClickException as e:
            msg = " ".join(e.format_message().split())
            click.echo(f"error: {msg}", err=True)
            sys.exit(2)
        except BDNNError as e:
            click.echo(f"error: {' '.join(str(e).split())}", err=True)
            sys.exit(2)
    except KeyboardInterrupt:
        _interrupted()
    sys.exit(rv if isinstance(rv, int) else 0)


def __getattr__(name: str):
    # ``from bdnn.cli import cli`` still works, without importing every command up front.
    if name == "cli":
        from .app import cli

        return cli
    raise AttributeError(name)
