"""The Jinja2 environment for the templates in ``codegen.templates`` (StrictUndefined)."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import jinja2


def templates_dir() -> Traversable:
    """The one templates folder, for the C renderer and the firmware builder alike.

    Rule: the package ``codegen.templates``. ``pyproject.toml`` maps that package to the repo's
    ``templates/``, so it is the checkout's folder in an editable install and the installed copy
    in a regular one. Only when the package cannot be imported at all (a checkout put on
    ``sys.path`` without any ``pip install``) is it the ``templates/`` beside ``codegen/``,
    which is the same folder.
    """
    try:
        return files("codegen.templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"


class _PackageLoader(jinja2.BaseLoader):
    """Loads templates from the installed package ``codegen.templates`` (the repo's templates/)."""

    def get_source(self, environment: jinja2.Environment, template: str):
        path = templates_dir().joinpath(template)
        if not path.is_file():
            raise jinja2.TemplateNotFound(template)
        source = path.read_text(encoding="utf-8")
        return source, str(path), lambda: True


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared environment: undefined variables are errors, block tags eat their newline."""
    return jinja2.Environment(
        loader=_PackageLoader(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template: str, **context: object) -> str:
    """Render one template with ``context``."""
    return environment().get_template(template).render(**context)


def read_static(name: str) -> str:
    """The text of a non-template file shipped with the templates (e.g. the host harness)."""
    return templates_dir().joinpath(name).read_text(encoding="utf-8")
