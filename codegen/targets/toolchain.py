"""Which programs a target needs, and a clear error naming the Debian package when one is
missing."""

from __future__ import annotations

import shutil

from bdnn.errors import BDNNError

from .registry import Target

# program -> Debian package that installs it
PACKAGE_OF = {
    "arm-none-eabi-gcc": "gcc-arm-none-eabi",
    "arm-none-eabi-size": "binutils-arm-none-eabi",
    "arm-none-eabi-nm": "binutils-arm-none-eabi",
    "qemu-system-arm": "qemu-system-arm",
    "avr-gcc": "gcc-avr",
    "avr-size": "binutils-avr",
    "avr-nm": "binutils-avr",
    "simavr": "simavr",
    "make": "make",
    "timeout": "coreutils",
}


def programs_for(target: Target, run: bool = True) -> list[str]:
    """Programs needed to build (and, with ``run``, to run) firmware for ``target``."""
    progs = ["make", target.cc, target.size_tool, target.nm_tool]
    if run:
        progs.append(target.emulator)
    return progs


def missing_programs(target: Target, run: bool = True) -> list[str]:
    """The programs from :func:`programs_for` that are not on ``PATH``."""
    return [p for p in programs_for(target, run) if shutil.which(p) is None]


def require_toolchain(target: Target, run: bool = True) -> None:
    """Raise ``BDNNError`` naming the missing programs and the packages that install them."""
    missing = missing_programs(target, run)
    if missing:
        packages = sorted({PACKAGE_OF.get(p, p) for p in missing})
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
