"""The Dask engine of ``bdnn select``: every training is a task on a ``distributed`` cluster.

Without a scheduler address a ``LocalCluster`` of worker *processes* is started, one thread
each (one training at a time per process; CP-SAT's own workers are the task's threads), sized
``cores // workers_per_task``. With ``--scheduler tcp://HOST:8786`` the same tasks go to an
existing cluster. The data parts are scattered to every worker once; tasks are submitted with
``retries`` so that one whose worker dies (or that raises) runs again elsewhere, and results are
handed to the caller as they complete (the caller appends them to the JSONL file at once).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence

from ..errors import BDNNError
from .task import DataPart, train_task

#: How often a task runs again after an exception or its worker's death.
TASK_RETRIES = 3
CONNECT_TIMEOUT_S = 10
# starting the local cluster's worker processes: minutes only on a machine that cannot start
# them at all (a busy 2-core machine takes seconds)
LOCAL_WORKERS_TIMEOUT_S = 600.0


def machine_cores() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def local_processes(workers_per_task: int, cores: int | None = None) -> int:
    """Worker processes of the default ``LocalCluster``: cores // CP-SAT workers per task."""
    return max(1, (cores or machine_cores()) // max(1, workers_per_task))


@contextlib.contextmanager
def _sigint_ignored():
    """SIGINT ignored while the local worker processes are started: they inherit it, so a
    Ctrl-C in the terminal (sent to the whole process group) reaches only ``bdnn select``,
    which stops the sweep and closes the cluster, instead of printing a traceback per worker."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class SweepEngine:
    """A Dask client (and, without a scheduler address, its ``LocalCluster``) for one sweep;
    use as a context manager."""

    def __init__(self, scheduler: str | None = None, n_processes: int = 1) -> None:
        self.scheduler = scheduler
        self.n_processes = n_processes
        self.cluster = None
        self.client = None
        self.start_seconds = 0.0

    def __enter__(self) -> SweepEngine:
        t0 = time.monotonic()
        # the distributed package logs worker deaths, retries and shutdown chatter at WARNING;
        # the sweep reports what matters itself
        for name in ("distributed", "tornado"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout=f"{CONNECT_TIMEOUT_S}s",
                                     set_as_default=False)
            except (OSError, TimeoutError, ValueError) as e:
                raise BDNNError(f"cannot reach the Dask scheduler at {self.scheduler} "
                                f"({' '.join(str(e).split())[:120]}); start it with `dask "
                                "scheduler` or drop --scheduler to use this machine") from None
        else:
            with warnings.catch_warnings(), _sigint_ignored():
                # the scheduler's HTTP server moves off a busy 8787 and warns; nothing to fix
                warnings.filterwarnings("ignore", message="Port .* is already in use")
                self.cluster = LocalCluster(n_workers=self.n_processes, threads_per_worker=1,
                                            processes=True, dashboard_address=None,
                                            silence_logs=logging.CRITICAL)
            self.client = Client(self.cluster, set_as_default=False)
            # the workers register with the scheduler some time after their processes start
            # (seconds on a busy machine); until then the client sees none and a sweep would
            # be refused for want of workers. Local workers come (a dead one is restarted by
            # its nanny), so the bound is for a machine that cannot start them at all.
            try:
                self.client.wait_for_workers(self.n_processes, timeout=LOCAL_WORKERS_TIMEOUT_S)
            except TimeoutError:
                raise BDNNError(f"the {self.n_processes} local Dask worker process(es) did not "
                                f"start within {LOCAL_WORKERS_TIMEOUT_S:.0f} s; try --processes "
                                "1, or start a cluster and pass --scheduler") from None
        # import bdnn, OR-Tools and numpy in every worker now (seconds on a busy machine), so
        # that the estimate counts it and the first trainings are not slower than the rest
        self.client.run(importlib.import_module, "bdnn.select.task")
        self.start_seconds = time.monotonic() - t0
        return self

    def __exit__(self, *exc) -> None:
        for thing in (self.client, self.cluster):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # noqa: BLE001 - a dying cluster must not hide the real error
                    pass

    def slots(self) -> int:
        """Trainings that run at the same time: the cluster's worker threads."""
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def run(self, tasks: Sequence[dict], parts: Sequence[DataPart],
            on_result: Callable[[dict], None]) -> None:
        """Run every task (``task["part"]`` indexes ``parts``) and call ``on_result`` with
        each result as it arrives. Ctrl-C (KeyboardInterrupt) cancels what is left."""
        from distributed import as_completed

        if not tasks:
            return
        if not self.client.scheduler_info().get("workers"):
            raise BDNNError(f"the Dask scheduler at {self.scheduler} has no workers; start "
                            f"some with `dask worker {self.scheduler}`")
        scattered = self.client.scatter(list(parts), broadcast=True, hash=False)
        futures = [
            self.client.submit(train_task, task, scattered[task["part"]],
                               key=f"bdnn-train-{task['key']}-{i}", pure=False,
                               retries=TASK_RETRIES)
            for i, task in enumerate(tasks)
        ]
        try:
            for future in as_completed(futures, loop=self.client.loop):
                try:
                    result = future.result()
                except Exception as e:  # noqa: BLE001 - failed after every retry
                    name = type(e).__name__
                    raise BDNNError(f"a training failed {TASK_RETRIES + 1} times on the "
                                    f"cluster ({name}: {' '.join(str(e).split())[:160]}); "
                                    "finished results are kept, rerun with --resume") from None
                on_result(result)
        finally:
            self.client.cancel([f for f in futures if not f.done()])
