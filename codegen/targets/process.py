"""Running a build step or an emulator with a hard timeout and no leftover processes."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bdnn.errors import BDNNError


@dataclass
class Completed:
    """Exit status and the captured text of one finished command."""

    returncode: int
    stdout: str
    stderr: str


class EmulatorTimeout(BDNNError):
    """The firmware did not finish in time (a hang, a fault loop or a far too slow model)."""


def run_command(
    argv: list[str], cwd: Path, timeout: float, what: str, env: dict | None = None
) -> Completed:
    """Run ``argv`` in its own process group; on timeout kill the whole group and raise.

    A new session means the emulator and anything it spawned die together, and the caller
    reaps the child, so a hang leaves neither orphans nor zombies.
    """
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
        env=env,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise EmulatorTimeout(
            f"{what} did not finish within {timeout:g} s and was stopped "
            f"(command: {' '.join(argv[:3])} ...); the firmware may hang or fault — "
            "raise the timeout only if the model is just slow"
        ) from None
    except BaseException:
        _kill_group(proc)
        proc.communicate()
        raise
    return Completed(proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
