"""CP-SAT in a forked child process, so that a solver abort costs a retry, not the whole run.

OR-Tools 9.15 occasionally aborts the process from inside presolve (an uncaught
``std::out_of_range: absl::btree_map::at``, or-tools issue #5288; nondeterministic, seen here
on a 60 s solve of uniform-10). A C++ abort cannot be caught in Python, so every solve runs in
a ``fork()``-ed child that sends the response back through a pipe; when the child dies the solve
is repeated with the next seed. Progress callbacks run in the child and print to the inherited
stderr. Where ``fork`` does not exist the solve runs in-process.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import threading
import time
from typing import Any

from ortools.sat.python import cp_model

RETRIES = 2
# A solve still running this share of its time limit (at least 1 s) after the limit is stopped
# (SIGINT: CP-SAT answers with its best solution), and killed after twice that.
OVERRUN_GRACE = 0.05
_STOPPING = {signal.SIGINT, signal.SIGTERM}
STOP_RETRY_SECONDS = 0.05  # how often a search is asked to stop after a SIGINT
MAX_GUARDED_LIMIT = 30 * 24 * 3600.0  # CP-SAT's default limit is infinite: no guard then
_interrupt = {"requested": False}


def interrupt_requested() -> bool:
    """True once Ctrl-C (SIGINT) arrived during a solve: heuristics stop their loops."""
    return _interrupt["requested"]


def request_interrupt() -> None:
    """Record a Ctrl-C that arrived outside a solve (e.g. while computing a start)."""
    _interrupt["requested"] = True


def reset_interrupt() -> None:
    """Forget an earlier Ctrl-C (at the start of a training run)."""
    _interrupt["requested"] = False


class StoppableSolves:
    """A run of in-process CP-SAT solves (``with StoppableSolves() as solves: ...
    solves.solve(solver, model)``) that Ctrl-C (or SIGTERM) stops: the running search is
    stopped, and the signal's Python handler (``KeyboardInterrupt``, or whatever is
    installed) runs as soon as that solve returns.

    For many short solves, where a child process each (``SafeSolver``) would cost more than
    the solves. CP-SAT's own SIGINT handler is switched off: it takes the Ctrl-C for itself,
    ending only the current solve while the caller went on, and it keeps its callback per
    thread, so a SIGINT delivered to a search thread aborted the process. Python's handler
    stays, and while it waits for the main thread (busy in the solve) the signal's wake-up
    byte (``signal.set_wakeup_fd``, written by whichever thread took the signal) tells a
    watcher thread to stop the search. Outside the main thread, or when the wake-up fd is
    someone else's, this is plain ``solver.solve``. ``SafeSolver``'s child solves this way too.
    """

    def __init__(self) -> None:
        self._active = threading.current_thread() is threading.main_thread()
        self._solver: cp_model.CpSolver | None = None
        self._watcher: threading.Thread | None = None
        self._fds: tuple[int, int, int, int] | None = None

    def __enter__(self) -> StoppableSolves:
        if not self._active:
            return self
        wake_r, wake_w = os.pipe()
        quit_r, quit_w = os.pipe()
        os.set_blocking(wake_w, False)
        previous = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        if previous != -1:  # an event loop's: leave it alone
            signal.set_wakeup_fd(previous)
            for fd in (wake_r, wake_w, quit_r, quit_w):
                os.close(fd)
            return self
        self._fds = (wake_r, wake_w, quit_r, quit_w)
        self._watcher = threading.Thread(target=self._watch, name="bdnn-sigint", daemon=True)
        self._watcher.start()
        return self

    def _watch(self) -> None:
        wake_r, _, quit_r, _ = self._fds
        stopping = False
        while True:
            ready, _, _ = select.select([wake_r, quit_r], [], [],
                                        STOP_RETRY_SECONDS if stopping else None)
            if quit_r in ready:
                return
            if wake_r in ready:
                stopping = stopping or any(b in _STOPPING for b in os.read(wake_r, 64))
            if stopping:  # asked again: a stop before the search began is lost
                solver = self._solver
                if solver is not None:
                    solver.stop_search()

    def solve(self, solver: cp_model.CpSolver, model: cp_model.CpModel,
              callback: Any = None) -> int:
        """``solver.solve(model, callback)`` with CP-SAT's SIGINT handler off."""
        solver.parameters.catch_sigint_signal = False
        self._solver = solver
        try:
            return solver.solve(model, callback)
        finally:
            self._solver = None

    def __exit__(self, *exc) -> None:
        if self._watcher is None:
            return
        wake_r, wake_w, quit_r, quit_w = self._fds
        os.write(quit_w, b"q")
        self._watcher.join()
        signal.set_wakeup_fd(-1)
        for fd in self._fds:
            os.close(fd)
        self._watcher = None


class SafeSolver:
    """A drop-in for the parts of ``cp_model.CpSolver`` the trainers use."""

    def __init__(self, retries: int = RETRIES) -> None:
        self._solver = cp_model.CpSolver()
        self.retries = retries
        self.best_bound_callback = None
        self.crashes = 0
        self.interrupted = False  # a SIGINT arrived during a solve
        self._values: list[int] = []
        self._objective = 0.0
        self._bound = 0.0
        self._wall = 0.0

    @property
    def parameters(self):
        return self._solver.parameters

    # -- solving ---------------------------------------------------------------------------
    def Solve(self, model: cp_model.CpModel, callback: Any = None) -> int:  # noqa: N802
        """Solve ``model``; returns the CP-SAT status code."""
        if not hasattr(os, "fork"):
            return self._solve_here(model, callback)
        for attempt in range(self.retries + 1):
            result = self._solve_forked(model, callback)
            if result is not None:
                break
            self.crashes += 1
            seed = self._solver.parameters.random_seed + 1
            self._solver.parameters.random_seed = seed
            print(f"warning: CP-SAT aborted (known OR-Tools bug); retrying with seed {seed} "
                  f"({attempt + 1}/{self.retries})", file=sys.stderr, flush=True)
        else:
            raise RuntimeError("CP-SAT aborted on every retry; try other --seed or --workers")
        status, self._values, self._objective, self._bound, self._wall, n_solutions = result
        if callback is not None and hasattr(callback, "n_solutions"):
            callback.n_solutions = n_solutions
        return status

    solve = Solve

    def _solve_here(self, model: cp_model.CpModel, callback: Any,
                    solves: StoppableSolves | None = None) -> int:
        if self.best_bound_callback is not None:
            self._solver.best_bound_callback = self.best_bound_callback
        status = (self._solver.Solve(model, callback) if solves is None
                  else solves.solve(self._solver, model, callback))
        self._collect(status)
        return status

    def _collect(self, status: int) -> tuple:
        has_solution = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        self._values = list(self._solver.response_proto.solution) if has_solution else []
        self._objective = self._solver.ObjectiveValue() if has_solution else 0.0
        self._bound = self._solver.BestObjectiveBound()
        self._wall = self._solver.WallTime()
        return (int(status), self._values, self._objective, self._bound, self._wall)

    def _solve_forked(self, model: cp_model.CpModel, callback: Any) -> tuple | None:
        sys.stdout.flush()
        sys.stderr.flush()
        read_fd, write_fd = os.pipe()
        # SIGINT is held from before the fork until each process's handler is in place, so one
        # that arrives in between reaches neither process's old handler (which would only note
        # it): the parent's passes it on, the child's stops the search
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        pid = os.fork()
        if pid == 0:  # child: solve, send the response, leave without Python clean-up
            code = 0
            try:
                os.close(read_fd)
                # SIGTERM reaches the solve through the parent, which forwards it as SIGINT
                # (the child must not die of it, nor run the parent's Python handler)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                # SIGINT stops the search, which answers with its best solution; the parent's
                # handler, inherited, must not run here, nor its event loop's wake-up fd stay
                signal.signal(signal.SIGINT, lambda *_: None)
                signal.set_wakeup_fd(-1)
                with StoppableSolves() as solves:
                    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                    status = self._solve_here(model, callback, solves)
                n = getattr(callback, "n_solutions", 0)
                payload = pickle.dumps((int(status), self._values, self._objective, self._bound,
                                        self._wall, n))
                with os.fdopen(write_fd, "wb") as f:
                    f.write(payload)
            except BaseException:  # noqa: BLE001 - report nothing; the parent retries
                code = 1
            finally:
                sys.stderr.flush()
                os._exit(code)
        os.close(write_fd)
        # Ctrl-C in a terminal reaches the child too (same process group); a SIGINT sent to
        # the parent alone is passed on. CP-SAT stops and returns its best solution, which the
        # parent must wait for rather than die.
        # Only the main thread may set handlers: a solve in another thread (a Dask worker's
        # task, joblib's threads) leaves SIGINT to whoever owns the process.
        in_main = threading.current_thread() is threading.main_thread()
        previous = (signal.signal(signal.SIGINT, lambda *_: self._forward_sigint(pid))
                    if in_main else None)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a SIGINT held meanwhile runs it now
        if in_main and _interrupt["requested"] and not self.interrupted:
            self._forward_sigint(pid)  # noted before the fork (e.g. while the model was built)
        started = time.monotonic()
        try:
            data, overdue = self._read_with_deadline(read_fd, pid, started)
            _, wait_status = os.waitpid(pid, 0)
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)
        if overdue and not data:  # stopped for its time limit before it could answer
            return (cp_model.UNKNOWN, [], 0.0, 0.0, time.monotonic() - started, 0)
        if not data or not os.WIFEXITED(wait_status) or os.WEXITSTATUS(wait_status) != 0:
            return None
        return pickle.loads(data)

    def _read_with_deadline(self, read_fd: int, pid: int, started: float) -> tuple[bytes, bool]:
        """The child's whole answer. CP-SAT can overrun its time limit (loading or presolving a
        huge model); past the limit plus a grace the child gets SIGINT (CP-SAT stops and
        answers with its best solution), and past a second grace SIGKILL."""
        limit = float(self._solver.parameters.max_time_in_seconds)
        grace = max(1.0, OVERRUN_GRACE * limit)
        chunks: list[bytes] = []
        overdue = False
        stops = [] if limit > MAX_GUARDED_LIMIT else [
            (started + limit + grace, signal.SIGINT),
            (started + limit + 2 * grace, signal.SIGKILL)]
        with os.fdopen(read_fd, "rb", buffering=0) as f:
            while True:
                wait = None if not stops else max(0.0, stops[0][0] - time.monotonic())
                ready, _, _ = select.select([f], [], [], wait)
                if ready:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        return b"".join(chunks), overdue
                    chunks.append(chunk)
                    continue
                _, sig = stops.pop(0)
                overdue = True
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass

    def _forward_sigint(self, pid: int) -> None:
        self.interrupted = True
        _interrupt["requested"] = True
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            pass

    # -- the response ----------------------------------------------------------------------
    def Value(self, var: Any) -> int:  # noqa: N802
        """Value of an integer variable (or literal) in the best solution."""
        if isinstance(var, (int,)):
            return int(var)
        index = var.Index()
        if index < 0:  # negated literal
            return 1 - int(self._values[-index - 1])
        return int(self._values[index])

    def ObjectiveValue(self) -> float:  # noqa: N802
        return float(self._objective)

    def BestObjectiveBound(self) -> float:  # noqa: N802
        return float(self._bound)

    def WallTime(self) -> float:  # noqa: N802
        return float(self._wall)

    value = Value
    objective_value = property(ObjectiveValue)
    best_objective_bound = property(BestObjectiveBound)
    wall_time = property(WallTime)
