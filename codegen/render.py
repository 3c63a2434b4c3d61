"""The Jinja2 environment for the templates in ``codegen.templates`` (StrictUndefined)."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import jinja2


def template_root() -> Traversable:
    """The templates directory: package ``codegen.templates`` when installed, else the repo's."""
    try:
        return files("codegen.templates")
    except ModuleNotFoundError:  # running from a source checkout without `pip install`
        return Path(__file__).resolve().parent.parent / "templates"


class _PackageLoader(jinja2.BaseLoader):
    """Loads templates from the installed package ``codegen.templates`` (the repo's templates/)."""

    def get_source(self, environment: jinja2.Environment, template: str):
        path = template_root().joinpath(template)
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
    return template_root().joinpath(name).read_text(encoding="utf-8")
