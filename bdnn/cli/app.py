"""The click group holding every ``bdnn`` command (one module per command)."""

from __future__ import annotations

import importlib

import click

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
    "bdnn.cli.select_cmd",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bdnn")
def cli() -> None:
    """Train binarized neural networks with CP-SAT; export them to C and ONNX."""


for _name in COMMAND_MODULES:
    cli.add_command(importlib.import_module(_name).command)
