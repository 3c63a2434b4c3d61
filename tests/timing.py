"""Wall-time checks that hold on a busy machine: a command's fixed costs (interpreter start-up,
imports, writing its file, exit) take longer when it gets less of a core, so a test scales
its allowance for them by how much slower than a free core the command ran, instead of a
fixed number of seconds that a slower or busier machine trips."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass


class SlownessProbe:
    """Samples how much of a core a CPU-bound thread gets: every 0.25 s it spins for 20 ms of
    wall time and records (wall, its own CPU time) of that window. ``slowness(t0, t1)`` is
    wall / CPU over the windows inside [t0, t1], at least 1 (a 5 % load of its own)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlownessProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            w0, c0 = time.monotonic(), time.thread_time()
            while time.monotonic() - w0 < 0.02:
                pass
            self.samples.append((w0, time.monotonic() - w0, time.thread_time() - c0))

    def slowness(self, t0: float, t1: float) -> float:
        inside = [(w, c) for t, w, c in self.samples if t0 <= t <= t1]
        wall, cpu = sum(w for w, _ in inside), sum(c for _, c in inside)
        return max(1.0, wall / cpu) if cpu > 0 else 1.0


@dataclass
class TimedRun:
    """A finished command: exit code, output, wall time [t0, t1] and the CPU time it and its
    reaped children used."""

    returncode: int
    stdout: str
    stderr: str
    t0: float
    t1: float
    cpu: float

    @property
    def wall(self) -> float:
        return self.t1 - self.t0

    def slowness(self, probe: SlownessProbe) -> float:
        """How much slower than a free core the command ran, >= 1: the smaller of two
        estimates, a probe beside it (which, on a machine the commands fill, counts itself as
        load) and the command's own wall / CPU time (which a command that sleeps would
        inflate)."""
        return min(probe.slowness(self.t0, self.t1), max(1.0, self.wall / max(self.cpu, 1e-3)))


def run_bdnn_timed(*args) -> TimedRun:
    """``python -m bdnn ARGS``, its output captured, with its wall and CPU time."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "bdnn", *map(str, args)], stdout=stdout,
                                stderr=stderr, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # Popen.wait would not give the usage
        t1 = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        return TimedRun(proc.returncode, stdout.read(), stderr.read(), t0, t1,
                        usage.ru_utime + usage.ru_stime)
