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

_received: dict[str, int | None] = {"signal": None}


def _sigint(signum, frame) -> None:
    # Python's own behaviour (KeyboardInterrupt), remembering that an interrupt came: a C
    # extension interrupted while it initialises (OR-Tools) raises ImportError instead.
    _received["signal"] = signum
    raise KeyboardInterrupt


def _sigterm_as_sigint(signum, frame) -> None:
    # SIGTERM takes the Ctrl-C path: whatever handles SIGINT right now handles it (during a
    # forked CP-SAT solve, safe_solver's handler tells the solve to stop and return its best
    # solution; elsewhere KeyboardInterrupt is raised).
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler) and handler not in (_sigint, signal.default_int_handler):
        handler(signal.SIGINT, frame)
        _received["signal"] = signum
        return
    _received["signal"] = signum
    raise KeyboardInterrupt


def note_signal(signum: int) -> None:
    """Record which signal is ending the command (for the message and the exit code), when a
    command's own handler raises KeyboardInterrupt for it."""
    _received["signal"] = signum


def _interrupted() -> None:
    if _received["signal"] is None:
        _received["signal"] = signal.SIGINT
    name = "SIGTERM" if _received["signal"] == signal.SIGTERM else "Ctrl-C"
    try:
        sys.stderr.write(f"error: interrupted ({name}); nothing was written\n")
        sys.stderr.flush()
    except (OSError, KeyboardInterrupt):
        pass
    sys.exit(128 + int(_received["signal"]))


def _stdout_closed() -> None:
    # the reader of stdout went away (`bdnn info m.json | head -1`): end quietly, as a Unix
    # tool killed by SIGPIPE would (exit 141), with stdout pointed at /dev/null so the
    # interpreter's final flush has nowhere to fail
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(128 + 13)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turning user errors into one-line messages."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _main(argv)
    finally:  # for callers in the same process (tests): the signal handlers as they were
        _received["signal"] = None
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _main(argv: list[str] | None) -> None:
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _sigint)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _sigterm_as_sigint)
        import click

        from ..errors import BDNNError
        from .app import cli

        try:
            # not cli.main(): on KeyboardInterrupt it prints an empty line before our message
            args = sys.argv[1:] if argv is None else list(argv)
            with cli.make_context("bdnn", args) as ctx:
                rv = cli.invoke(ctx)
        except click.exceptions.Exit as e:  # --help, --version
            sys.exit(e.exit_code)
        except click.exceptions.Abort:
            _interrupted()
        except click.ClickException as e:
            msg = " ".join(e.format_message().split())
            if type(e).__name__ == "NoArgsIsHelpError":  # plain `bdnn`
                msg = "no command given; `bdnn --help` lists them"
            click.echo(f"error: {msg}", err=True)
            sys.exit(2)
        except BDNNError as e:
            click.echo(f"error: {' '.join(str(e).split())}", err=True)
            sys.exit(2)
        sys.stdout.flush()  # here, so a closed pipe is caught below and not at interpreter exit
    except KeyboardInterrupt:
        _interrupted()
    except BrokenPipeError:
        _stdout_closed()
    except Exception:
        if _received["signal"] is not None:  # the interrupt surfaced as another exception
            _interrupted()
        raise
    sys.exit(rv if isinstance(rv, int) else 0)


def __getattr__(name: str):
    # ``from bdnn.cli import cli`` still works, without importing every command up front.
    if name == "cli":
        from .app import cli

        return cli
    raise AttributeError(name)
