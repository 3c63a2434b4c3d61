"""Which programs a target needs, and a clear error naming the Debian package when one is
missing."""

from __future__ import annotations

import shutil

from bdnn.errors import BDNNError

from .family import Target

# programs every target needs beside its family's own (the build runs make)
COMMON_PACKAGES = {"make": "make"}


def programs_for(target: Target, run: bool = True) -> list[str]:
    """Programs needed to build (and, with ``run``, to run) firmware for ``target``."""
    return [*COMMON_PACKAGES, *target.family.programs(run)]


def package_of(target: Target, program: str) -> str:
    """The Debian package that installs ``program`` for ``target``."""
    return {**COMMON_PACKAGES, **target.family.packages}.get(program, program)


def missing_programs(target: Target, run: bool = True) -> list[str]:
    """The programs from :func:`programs_for` that are not on ``PATH``."""
    return [p for p in programs_for(target, run) if shutil.which(p) is None]


def require_toolchain(target: Target, run: bool = True) -> None:
    """Raise ``BDNNError`` naming the missing programs and the packages that install them."""
    missing = missing_programs(target, run)
    if missing:
        packages = sorted({package_of(target, p) for p in missing})
        raise BDNNError(
            f"target {target.name} needs {', '.join(missing)}, not found on PATH; install it "
            f"with: apt-get install --no-install-recommends {' '.join(packages)} "
            "(or run .ci/install-toolchains.sh)"
        )


def toolchain_available(target: Target, run: bool = True) -> tuple[bool, str]:
    """``(True, "")`` when the target can be built and run here, else ``(False, reason)``."""
    try:
        require_toolchain(target, run)
    except BDNNError as e:
        return False, str(e)
    return True, ""
