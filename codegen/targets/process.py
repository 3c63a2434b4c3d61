"""Running a build step or an emulator in its own process group, leaving no processes behind;
emulator runs with a hang guard (``emulator_timeout``), builds without any time limit."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bdnn.errors import BDNNError

EMULATOR_TIMEOUT_ENV = "BDNN_EMULATOR_TIMEOUT"
# The hang guard only has to stop a firmware that never exits, so it is far above any real run:
# an emulated inference takes milliseconds, a traced one (a log line per instruction) ~50x more.
MIN_EMULATOR_TIMEOUT_S = 600.0
SECONDS_PER_ROW = 1.0
TRACE_SLOWDOWN = 50.0


@dataclass
class Completed:
    """Exit status and the captured text of one finished command."""

    returncode: int
    stdout: str
    stderr: str


class EmulatorTimeout(BDNNError):
    """The firmware did not finish in time (a hang, a fault loop or a far too slow model)."""


def emulator_timeout(n_rows: int, traced: bool = False) -> float:
    """Seconds after which an emulator run of ``n_rows`` test vectors counts as hung.

    ``max(MIN_EMULATOR_TIMEOUT_S, n_rows x SECONDS_PER_ROW [x TRACE_SLOWDOWN when traced])``,
    or the value of the environment variable ``BDNN_EMULATOR_TIMEOUT`` (seconds) when set.
    """
    text = os.environ.get(EMULATOR_TIMEOUT_ENV)
    if text is not None and text.strip():
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value > 0 or value == float("inf"):
            raise BDNNError(
                f"{EMULATOR_TIMEOUT_ENV}={text!r} is not a number of seconds; set it to a "
                "positive number (e.g. 1200) or unset it"
            )
        return value
    per_row = SECONDS_PER_ROW * (TRACE_SLOWDOWN if traced else 1.0)
    return max(MIN_EMULATOR_TIMEOUT_S, n_rows * per_row)


def run_command(
    argv: list[str], cwd: Path, timeout: float | None, what: str, env: dict | None = None
) -> Completed:
    """Run ``argv`` in its own process group; with a ``timeout`` (seconds; ``None``: wait as
    long as it takes), kill the whole group when it expires and raise ``EmulatorTimeout``.

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
            f"only if the model is just slow, raise the limit with {EMULATOR_TIMEOUT_ENV}=SECONDS"
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
