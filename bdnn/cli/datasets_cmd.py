"""``bdnn datasets``: list the built-in data sets."""

from __future__ import annotations

import dataclasses

import click

from ..data.builtin import BUILTINS, UNIFORM_GEN
from .options import emit_json

_COLUMNS = ("name", "rows", "features", "classes", "source")
_NOTES = (
    "uniform-10:K and uniform-100:K pick instance K (0-9, default 0);",
    f"{UNIFORM_GEN}:N:M[:SEED] generates a new instance with N features and M points.",
    "Any CSV file path works too (the label is the last column unless --label-column).",
)


@click.command("datasets")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def command(as_json: bool) -> None:
    """List the built-in data sets (rows x features, classes, source)."""
    infos = list(BUILTINS.values())
    if as_json:
        emit_json(
            {
                "datasets": [dataclasses.asdict(i) for i in infos],
                "generator": f"{UNIFORM_GEN}:N:M[:SEED]",
            }
        )
        return
    rows = [[str(getattr(i, c)) for c in _COLUMNS] for i in infos]
    header = [c.upper() for c in _COLUMNS]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(_COLUMNS) - 1)]
    for r in [header, *rows]:
        cells = [r[k].ljust(widths[k]) for k in range(len(widths))]
        click.echo("  ".join([*cells, r[-1]]))
    click.echo("")
    for line in _NOTES:
        click.echo(line)
