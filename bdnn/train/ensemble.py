"""Training a structured ensemble (``--ensemble ovo|ovr``, docs/design.md §4).

Every member is an ordinary two-class ``TrainProblem`` on its own rows (a pair's rows for ovo,
every row relabelled c / rest for ovr) with the ensemble's one quantizer, architecture options,
objective and method. The members are independent, so they train in parallel processes
(``ProcessPoolExecutor``), each with one CP-SAT worker unless ``--workers`` leaves more per
process. The processes are forked, as ``SafeSolver`` forks every solve, before any solve has
started a thread: a spawned child re-imports numpy and OR-Tools, which took 5 to 10 s of an
8 s budget on the shared 2-core machine; where ``fork`` does not exist they are spawned.

Budget: the one time limit covers the whole ensemble. With ``M`` members on ``P`` processes the
members run in ``R = ceil(M / P)`` rounds (member ``k`` in round ``k // P``). Every member is
handed the ensemble's deadline (``time.monotonic()``, one clock for all processes of the machine)
and, when it starts in its child, takes ``(deadline - now) / (rounds left, its own included)``:
so the time a child spends starting (importing numpy and OR-Tools takes seconds on a busy
machine) and any earlier member's overrun come out of the later members' shares, not on top of
the limit. ``FINISH_RESERVE`` is kept for the vote, the evaluation and writing the file.

A daemonic process (a Dask worker of ``bdnn select``) may not start children: there the members
train one after the other in the process itself (``P = 1``).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..ensemble import Ensemble, EnsembleKind, get_ensemble_kind
from ..errors import BDNNError
from ..objective import Objective, objective_with_margin
from ..progress import progress_line
from ..quantizer import AnyQuantizer
from .float_start import FLOAT_ALPHA
from .methods import check_lexicographic
from .safe_solver import interrupt_requested, request_interrupt

#: Seconds a member needs at least (float start, model, solve) for the budget to hold: a
#: time limit below rounds x this is refused rather than overrun.
MIN_MEMBER_BUDGET = 1.0
#: Seconds kept after the members for the ensemble's evaluation and the model file.
FINISH_RESERVE = 0.5
#: The shortest time a member is given, even when the budget is nearly spent.
MIN_MEMBER_SECONDS = 0.5
#: Seconds between two progress lines while members train.
PROGRESS_EVERY = 5.0
#: Seconds between two looks at the interrupt flag while members train.
POLL_EVERY = 0.25
#: Set by the parent on Ctrl-C / SIGTERM; forked members that have not started yet then train
#: for MIN_MEMBER_SECONDS only (an ensemble needs every member, so none is skipped).
_STOP = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                    else "spawn").Event()


@dataclass
class EnsembleResult:
    """A trained ensemble and its members' training summaries."""

    ensemble: Ensemble
    members: list[dict]  # per member: its training summary (status, objective, seconds, ...)
    seconds: float
    train_errors: int
    n_train: int
    interrupted: bool = False

    @property
    def train_accuracy(self) -> float:
        return 1.0 - self.train_errors / max(1, self.n_train)

    def summary(self) -> dict:
        """Machine-readable summary (the CLI's ``--json`` keys)."""
        statuses = sorted({m["status"] for m in self.members})
        return {
            "ensemble": self.ensemble.kind.name,
            "members": len(self.members),
            "status": statuses[0] if len(statuses) == 1 else "/".join(statuses),
            "member_status": [m["status"] for m in self.members],
            "member_train_errors": [m["train_errors"] for m in self.members],
            "seconds": round(self.seconds, 3),
            "train_errors": self.train_errors,
            "train_accuracy": self.train_accuracy,
            "n_train": self.n_train,
            "nonzero_weights": self.ensemble.n_nonzero_weights(),
            "weights": self.ensemble.n_weights(),
            "interrupted": self.interrupted,
        }


def member_time_limit(deadline: float, now: float, rounds_left: int) -> float:
    """Seconds for a member starting at ``now``: an equal share of the time to ``deadline``
    over the rounds left (its own included), at least ``MIN_MEMBER_SECONDS``."""
    return max(MIN_MEMBER_SECONDS, (deadline - now) / max(1, rounds_left))


def _watch_stop(finished: threading.Event) -> None:
    """In a member's process: once the parent sets ``_STOP`` (Ctrl-C or SIGTERM reached it),
    interrupt this member as Ctrl-C would -- one SIGINT unless one already arrived (a solve
    stops and keeps its incumbent; a second one would abort) -- and keep the interrupt flag
    set until the member ends, since ``train_network`` clears it when it starts."""
    while not finished.is_set():
        if _STOP.wait(POLL_EVERY):
            break
    if finished.is_set():
        return
    if not interrupt_requested():
        os.kill(os.getpid(), signal.SIGINT)
    while not finished.wait(POLL_EVERY):
        request_interrupt()


def _train_member(task: dict, watch: bool = True) -> dict:
    """Child process: train one member; returns its model document and summary (plain data,
    so nothing but numpy arrays and dicts crosses the process boundary). ``watch``: follow
    the parent's ``_STOP`` (a forked member)."""
    from ..model_file import network_to_dict
    from .methods import train_network
    from .problem import TrainProblem
    from .solver import SolveOptions

    started = time.monotonic()
    # --deterministic: a share fixed in advance (CP-SAT then counts deterministic time), so
    # the members do not depend on when their process happened to start
    time_limit = task["fixed_limit"] or member_time_limit(task["deadline"], started,
                                                          task["rounds_left"])
    if _STOP.is_set():
        time_limit = MIN_MEMBER_SECONDS
    finished = threading.Event()
    if watch:
        threading.Thread(target=_watch_stop, args=(finished,), daemon=True).start()
    problem = TrainProblem.build(
        task["Q"], task["y"], quantizer=task["quantizer"], classes=[0, 1],
        hidden=task["hidden"], weight_bound=task["weight_bound"],
        activation=task["activation"], output=task["output"], objective=task["objective"],
        solve=SolveOptions(time_limit=time_limit, workers=task["workers"],
                           seed=task["seed"], deterministic=task["deterministic"],
                           progress=False),
        Q_val=task["Q_val"], y_val=task["y_val"], float_alpha=task["float_alpha"],
        started=started,
    )
    try:
        result = train_network(task["method"], problem, sparsify=task["sparsify"],
                               **task["method_options"])
    finally:
        finished.set()
    summary = result.summary()
    summary["time_limit"] = round(time_limit, 3)
    return {"model": network_to_dict(result.network), "summary": summary}


def train_ensemble(
    kind: EnsembleKind | str,
    Q: np.ndarray,
    y: np.ndarray,
    *,
    quantizer: AnyQuantizer,
    classes: list,
    hidden: tuple[int, ...] = (4,),
    weight_bound: int | list[int] = 1,
    activation: str = "heaviside",
    output: str = "argmax",
    objective: str | Objective = "errors",
    margin: int | None = None,
    method: str = "exact",
    float_alpha: float = FLOAT_ALPHA,
    sparsify: bool = False,
    lexicographic: bool = False,
    method_options: dict | None = None,
    time_limit: float = 60.0,
    workers: int = 2,
    seed: int = 0,
    deterministic: bool = False,
    progress: bool = True,
    Q_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    started: float | None = None,
) -> EnsembleResult:
    """Train every member of a ``kind`` ensemble in parallel processes within ``time_limit``
    seconds counted from ``started`` (``time.monotonic()``; default now). Every member takes
    the objective (``margin``: the margin objective's margin) and ``lexicographic`` as
    ``bdnn train`` does (``float_alpha``: the float MLP's L2 penalty, as ``--float-alpha``)."""
    from ..model_file import network_from_dict

    kind = get_ensemble_kind(kind)
    objective = objective_with_margin(objective, margin)
    if lexicographic:
        check_lexicographic(method, objective)  # before any member starts
        method_options = {**(method_options or {}), "lexicographic": True}
    started = time.monotonic() if started is None else started
    Q = np.asarray(Q)
    y = np.asarray(y, dtype=np.int64)
    n_classes = len(classes)
    if n_classes < 3:
        raise BDNNError(f"--ensemble needs at least 3 classes, the data have {n_classes}; "
                        "train a single network instead")
    member_classes = kind.member_classes(n_classes)
    # a daemonic process (e.g. a Dask worker of bdnn select) cannot start children: the
    # members then train one after the other here
    in_process = multiprocessing.current_process().daemon
    n_processes = 1 if in_process else min(int(workers), len(member_classes))
    per_process_workers = max(1, int(workers) // n_processes)
    deadline = started + time_limit - FINISH_RESERVE
    n_rounds = math.ceil(len(member_classes) / n_processes)
    needed = n_rounds * MIN_MEMBER_BUDGET + FINISH_RESERVE
    if time_limit < needed:
        raise BDNNError(
            f"--time-limit {time_limit:g} s is too short for {len(member_classes)} {kind.name} "
            f"members on {n_processes} process{'es' if n_processes > 1 else ''} ({n_rounds} "
            f"rounds of at least {MIN_MEMBER_BUDGET:g} s); give at least {math.ceil(needed)} "
            "s or more --workers")

    def say(message: str) -> None:
        progress_line(kind.name, started, message, quiet=not progress)

    say(f"training {len(member_classes)} members on {n_processes} process"
        f"{'es' if n_processes > 1 else ''} in {n_rounds} round{'s' if n_rounds > 1 else ''}, "
        f"{max(0.0, deadline - time.monotonic()):.1f} s left")
    tasks = []
    for mc in member_classes:
        mask, local_y = kind.member_rows(mc, y)
        if len(np.unique(local_y)) < 2:
            raise BDNNError(f"member {list(mc)} has rows of one class only in the training "
                            "part; use another split or fewer classes")
        val_mask, val_y = (kind.member_rows(mc, y_val) if y_val is not None and len(y_val)
                           else (None, None))
        tasks.append({
            "Q": Q[mask], "y": local_y, "quantizer": quantizer, "hidden": tuple(hidden),
            "weight_bound": weight_bound, "activation": str(activation), "output": str(output),
            "objective": objective, "method": method, "sparsify": sparsify,
            "float_alpha": float_alpha,
            "method_options": dict(method_options or {}), "deadline": deadline,
            "rounds_left": n_rounds - len(tasks) // n_processes,
            "fixed_limit": (max(MIN_MEMBER_SECONDS, (deadline - started) / n_rounds)
                            if deterministic else None),
            "workers": per_process_workers, "seed": seed, "deterministic": deterministic,
            "Q_val": None if val_mask is None else np.asarray(Q_val)[val_mask],
            "y_val": val_y,
        })
    if in_process:
        results = _train_here(tasks, say, member_classes)
    else:
        results = _train_in_processes(tasks, n_processes, say, member_classes)
    members = [network_from_dict(r["model"]) for r in results]
    for net, mc in zip(members, member_classes, strict=True):
        net.training["member_classes"] = list(mc)
    ensemble = Ensemble(kind, members, member_classes, classes=list(classes))
    errors = int(np.sum(ensemble.predict_q(Q) != y))
    result = EnsembleResult(
        ensemble=ensemble, members=[r["summary"] for r in results],
        seconds=time.monotonic() - started, train_errors=errors, n_train=len(y),
        interrupted=interrupt_requested() or any(r["summary"]["interrupted"] for r in results),
    )
    ensemble.training = {
        "ensemble": kind.name, "method": method, "objective_name": objective.name,
        **({"objective_params": objective.params()} if objective.params() else {}),
        **({"lexicographic": True} if lexicographic else {}),
        "hidden": list(hidden), "seed": int(seed), "workers": int(workers),
        "time_limit": float(time_limit),
        "processes": n_processes, "n_train": len(y), "train_errors": errors,
        "train_accuracy": result.train_accuracy, "seconds": round(result.seconds, 3),
        "interrupted": bool(result.interrupted),
        "members": [
            {"classes": list(mc), **{k: s[k] for k in ("status", "objective", "train_errors",
                                                        "n_train", "seconds", "time_limit")}}
            for mc, s in zip(member_classes, result.members, strict=True)
        ],
    }
    return result


def _train_in_processes(tasks: list[dict], n_processes: int, say, member_classes) -> list[dict]:
    """The members on ``n_processes`` forked processes; Ctrl-C / SIGTERM reach them through
    ``_STOP``."""
    results: list = [None] * len(tasks)
    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    _STOP.clear()
    with cf.ProcessPoolExecutor(max_workers=n_processes, mp_context=context) as pool:
        futures = {pool.submit(_train_member, t): k for k, t in enumerate(tasks)}
        pending = set(futures)
        last_line = time.monotonic()
        while pending:
            done, pending = cf.wait(pending, timeout=POLL_EVERY,
                                    return_when=cf.FIRST_COMPLETED)
            if interrupt_requested() and not _STOP.is_set():
                _STOP.set()  # the members' watchers stop them (_watch_stop)
            for f in done:
                k = futures[f]
                results[k] = f.result()
                say(_member_line(k, member_classes[k], results[k]["summary"]))
            if done:
                last_line = time.monotonic()
            elif time.monotonic() - last_line >= PROGRESS_EVERY:
                say(f"{len(tasks) - len(pending)} of {len(tasks)} members done")
                last_line = time.monotonic()
    return results


def _train_here(tasks: list[dict], say, member_classes) -> list[dict]:
    """The members one after the other in this process (one that may not start children);
    after an interrupt the rest train for ``MIN_MEMBER_SECONDS`` each, as in processes."""
    results = []
    stopped = False
    for k, task in enumerate(tasks):
        if stopped:
            task = {**task, "fixed_limit": MIN_MEMBER_SECONDS}
        results.append(_train_member(task, watch=False))
        s = results[-1]["summary"]
        stopped = stopped or bool(s["interrupted"]) or interrupt_requested()
        say(_member_line(k, member_classes[k], s))
    if stopped:
        request_interrupt()  # the result reports the interrupt, as the process pool's does
    return results


def _member_line(k: int, classes: tuple[int, ...], summary: dict) -> str:
    """The progress line of a finished member."""
    return (f"member {k} {list(classes)}: {summary['status']}, {summary['train_errors']} of "
            f"{summary['n_train']} training rows wrong")
