"""What the concept records (activation, output kind, objective) share: a name, and a registry
that looks them up by it with a one-line error listing the known names."""

from __future__ import annotations

from typing import TypeVar

from .errors import BDNNError

R = TypeVar("R", bound="NamedRecord")


class NamedRecord:
    """A record known by its name: printed as it, and equal to it (the model file, the command
    line and the templates spell a record as its name)."""

    name: str

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return other == self.name
        return type(other) is type(self) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


def lookup(registry: dict[str, R], value: R | str, kind: type, what: str) -> R:
    """``value`` itself when it is a record of ``kind``, else the registry's entry of that name;
    an unknown name raises ``BDNNError`` naming ``what`` and the known names."""
    if isinstance(value, kind):
        return value
    try:
        return registry[value]
    except (KeyError, TypeError):
        raise BDNNError(f"{what} must be one of {', '.join(registry)}, not {value!r}") from None
