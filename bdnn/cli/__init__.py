"""The ``bdnn`` command line: one module per command, registered on one click group.

Every user error (``BDNNError`` or a click usage error) is printed as one line
``error: ...`` on stderr with exit code 2 and no traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from ..errors import BDNNError

# Each module defines a click command named ``command``; registered in this order.
COMMAND_MODULES = [
    "bdnn.cli.train_cmd",
    "bdnn.cli.evaluate_cmd",
    "bdnn.cli.info_cmd",
    "bdnn.cli.datasets_cmd",
    "bdnn.cli.export_cmd",
    "bdnn.cli.verify_cmd",
    "bdnn.cli.size_cmd",
    "bdnn.cli.bench_cmd",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bdnn")
def cli() -> None:
    """Train binarized neural networks with CP-SAT; export them to C and ONNX."""


for _name in COMMAND_MODULES:
    cli.add_command(importlib.import_module(_name).command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turning user errors into one-line messages."""
    try:
        rv = cli.main(args=argv, prog_name="bdnn", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        msg = " ".join(e.format_message().split())
        click.echo(f"error: {msg}", err=True)
        sys.exit(2)
    except BDNNError as e:
        click.echo(f"error: {' '.join(str(e).split())}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
