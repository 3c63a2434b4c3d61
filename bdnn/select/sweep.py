"""``bdnn select`` end to end: data parts, tasks, resume, the sweep, the pick, the final model.

The sweep trains every configuration x solver seed (x fold) on the Dask engine; each result is
appended to the JSONL results file the moment it arrives, so an interrupted sweep loses only
the trainings that were running, and ``--resume FILE`` skips every task whose key (config,
seed, fold, time limit, CP-SAT workers, data fingerprint) is in FILE.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codegen.switches import SMALL_CODE, WEIGHTS_AS_CODE, switch_record
from codegen.weights_as_code import weights_as_code_applies

from ..data import Dataset
from ..errors import BDNNError
from ..model_file import model_from_dict
from ..progress import progress_line
from ..train.methods import FLOAT_MLP_METHODS
from .choose import (
    Budgets,
    Candidate,
    build_candidates,
    choose,
    measure_on_target,
    measure_within,
    model_bytes,
)
from .engine import SweepEngine, local_processes, machine_cores
from .grid import config_label
from .task import DataPart, task_key, train_config

#: Seconds per task beyond its time limit (shipping, quantizing, the forked solve's start),
#: and per target measurement (cross-compile + emulator run), measured on this machine
#: (bcw, cortex-m0, both cores busy) -- used for the time estimate only.
TASK_OVERHEAD_S = 1.0
MEASURE_S = 3.0
SHUTDOWN_S = 2.0
#: Pareto candidates expected to be measured (the estimate; the real count is printed).
EXPECTED_FRONT = 4
#: Seconds a ``rounded`` or ``qat`` training is expected to take (one MLP fit, no search; bcw
#: 0.2-0.5 s, digits with 128 units up to 9 s; qat's later starts, where its loss stays clearly
#: above the data's bound, within half the limit: the default bcw sweep 110 -> 121 s against an
#: estimate of 277 s), capped by the time limit -- the estimate only.
ROUNDED_TASK_S = 3.0


class SelectInterrupted(Exception):
    """Ctrl-C during the sweep: ``done`` results are kept in ``path``."""

    def __init__(self, done: int, total: int, path: Path) -> None:
        super().__init__(f"{done} of {total}")
        self.done, self.total, self.path = done, total, path


@dataclass
class SelectOptions:
    """Everything ``bdnn select`` needs besides the data set."""

    configs: list[dict]
    seed: int = 0
    repeats: int = 1
    time_limit: float = 10.0
    workers_per_task: int = 1
    cv: int | None = None
    refit: bool = False
    budgets: Budgets = field(default_factory=Budgets)
    entry: str = "predict_q"
    scheduler: str | None = None
    processes: int | None = None
    results_path: Path | None = None
    resume_path: Path | None = None
    progress: bool = True


def data_parts(ds: Dataset, cv: int | None, seed: int) -> list[DataPart]:
    """The parts tasks train/validate on: the paper split's (train, validation), or with
    ``cv`` K stratified folds of the non-test rows (train on K-1, validate on one)."""
    feature_names = [str(c) for c in ds.feature_names] if ds.feature_names else None
    if cv is None:
        if not len(ds.val):
            raise BDNNError(f"{ds.name} has no validation part (split {ds.split.protocol!r}); "
                            "use --split paper or --cv K")
        X, y = ds.train_part()
        Xv, yv = ds.val_part()
        return [DataPart(ds.name, X, y, Xv, yv, list(ds.classes), feature_names)]
    from sklearn.model_selection import StratifiedKFold

    rows = np.sort(np.concatenate([ds.train, ds.val]))
    counts = np.bincount(ds.y[rows], minlength=ds.n_classes)
    if cv < 2 or cv > len(rows) // 2 or counts[counts > 0].min() < cv:
        raise BDNNError(f"--cv {cv}: need 2 <= K and at least K rows of every class among the "
                        f"{len(rows)} non-test rows (smallest class: {counts[counts > 0].min()})")
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    parts = []
    for tr, va in folds.split(ds.X[rows], ds.y[rows]):
        parts.append(DataPart(ds.name, ds.X[rows[tr]], ds.y[rows[tr]], ds.X[rows[va]],
                              ds.y[rows[va]], list(ds.classes), feature_names))
    return parts


def make_tasks(opts: SelectOptions, parts: list[DataPart]) -> list[dict]:
    """Every training: configuration x seed (``seed .. seed+repeats-1``) x part."""
    prints = [p.fingerprint() for p in parts]
    tasks = []
    for config in opts.configs:
        for r in range(opts.repeats):
            for i in range(len(parts)):
                fold = None if opts.cv is None else i
                seed = opts.seed + r
                tasks.append({
                    "key": task_key(config, seed, fold, opts.time_limit, opts.workers_per_task,
                                    prints[i]),
                    "config": config, "seed": seed, "fold": fold, "part": i,
                    "time_limit": opts.time_limit, "workers": opts.workers_per_task,
                })
    return tasks


def read_results(path: Path) -> dict[str, dict]:
    """Finished results of a results file by key (a torn last line is ignored)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise BDNNError(f"cannot read results file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise BDNNError(f"{path} is not a bdnn select results file (not UTF-8 text)") from None
    out = {}
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            out[str(r["key"])] = r
        except (json.JSONDecodeError, KeyError, TypeError):
            if i == len(lines) - 1:
                continue  # the line being written when the sweep stopped
            raise BDNNError(f"{path} line {i + 1} is not a bdnn select result; give the "
                            "JSONL file a previous `bdnn select` wrote") from None
    return out


class Progress:
    """One stderr line per finished training: done/total, best so far, ETA."""

    def __init__(self, total: int, slots: int, time_limit: float, enabled: bool,
                 max_bytes: int | None) -> None:
        self.total, self.slots, self.time_limit = total, slots, time_limit
        self.enabled, self.max_bytes = enabled, max_bytes
        self.done = 0
        self.best: tuple[float, str] | None = None
        self.started = time.monotonic()

    def add(self, r: dict) -> None:
        self.done += 1
        if "error" not in r and r.get("val_accuracy") is not None:
            fits = (self.max_bytes is None
                    or model_bytes(model_from_dict(r["model"])) <= self.max_bytes)
            if fits and (self.best is None or r["val_accuracy"] > self.best[0]):
                self.best = (r["val_accuracy"], config_label(r["config"]))
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        eta = elapsed / self.done * left if self.done else left * self.time_limit / self.slots
        width = 20
        bar = "#" * round(width * self.done / max(1, self.total))
        best = (f"best val {self.best[0]:.4f} ({self.best[1]})" if self.best
                else "no model within budget yet")
        note = f"; {r['error'][:60]}" if "error" in r else ""
        progress_line("select", self.started, f"[{bar:<{width}}] {self.done}/{self.total}; "
                      f"{best}; ETA {eta:.0f} s{note}")


def say(opts: SelectOptions, message: str) -> None:
    if opts.progress:
        print(f"[select] {message}", file=sys.stderr, flush=True)


def run_select(ds: Dataset, opts: SelectOptions, started: float | None = None) -> dict:
    """Run the sweep, choose, build the final network; returns the outcome (see the CLI).
    ``started`` (``time.monotonic()``, default now) is when the command started: elapsed
    time and the estimate count from there."""
    t0 = time.monotonic() if started is None else started
    parts = data_parts(ds, opts.cv, opts.seed)
    tasks = make_tasks(opts, parts)
    finished: dict[str, dict] = {}
    if opts.resume_path is not None:
        previous = read_results(opts.resume_path)
        # the task's configuration: an older file's lacks the axes added since (same key)
        finished = {t["key"]: {**previous[t["key"]], "config": t["config"]} for t in tasks
                    if t["key"] in previous}
        say(opts, f"resume: {len(finished)} of {len(tasks)} trainings already in "
                  f"{opts.resume_path}")
    todo = [t for t in tasks if t["key"] not in finished]
    results_path = opts.results_path
    assert results_path is not None
    same = (opts.resume_path is not None
            and results_path.resolve() == opts.resume_path.resolve())
    mode = "a" if same else "w"  # a fresh results file, unless resuming into the same one
    n_proc = opts.processes or local_processes(opts.workers_per_task)
    timings = {"cluster_start_s": 0.0, "sweep_s": 0.0, "measure_s": 0.0, "final_s": 0.0}
    with open(results_path, mode, encoding="utf-8") as sink:
        if mode == "w":  # a fresh file holds this sweep's resumed results too
            for r in finished.values():
                sink.write(json.dumps(r, sort_keys=True) + "\n")
            sink.flush()
        engine = SweepEngine(opts.scheduler, n_proc) if todo else None
        try:
            if engine is not None:
                say(opts, f"connecting to the Dask scheduler {opts.scheduler}" if opts.scheduler
                    else f"starting a local Dask cluster of {n_proc} worker process(es)")
                engine.__enter__()
                timings["cluster_start_s"] = engine.start_seconds
                slots = engine.slots()
            else:
                slots = 1
            estimate = estimate_seconds(todo, slots, opts, time.monotonic() - t0)
            say(opts, f"{len(todo)} trainings to run ({len(opts.configs)} configurations x "
                      f"{opts.repeats} seed(s) x {len(parts)} part(s)"
                      f"{f', {len(finished)} resumed' if finished else ''}) of <= "
                      f"{opts.time_limit:g} s on {slots} parallel slot(s) "
                      f"({'scheduler ' + opts.scheduler if opts.scheduler else 'this machine'}); "
                      f"estimate {estimate:.0f} s in all")
            progress = Progress(len(todo), slots, opts.time_limit, opts.progress,
                                opts.budgets.max_model_bytes)

            def on_result(r: dict) -> None:
                sink.write(json.dumps(r, sort_keys=True) + "\n")
                sink.flush()
                finished[r["key"]] = r
                progress.add(r)

            t_sweep = time.monotonic()
            try:
                if engine is not None:
                    engine.run(todo, parts, on_result)
            except KeyboardInterrupt:
                raise SelectInterrupted(len(finished), len(tasks), results_path) from None
            timings["sweep_s"] = time.monotonic() - t_sweep
        finally:
            if engine is not None:
                engine.__exit__(None, None, None)
    results = [finished[t["key"]] for t in tasks]
    return finish(ds, opts, parts, results, timings, estimate, t0, results_path)


def estimate_seconds(tasks: list[dict], slots: int, opts: SelectOptions,
                     so_far: float) -> float:
    """The time so far (start-up, data, cluster) + waves of searching trainings x (time limit
    + overhead) + the rounded ones' (``ROUNDED_TASK_S`` each) spread over the slots +
    measuring + the final training + shutting the cluster down."""
    slots = max(1, slots)
    rounded = sum(1 for t in tasks if t["config"]["method"] in FLOAT_MLP_METHODS)
    waves = math.ceil((len(tasks) - rounded) / slots)
    quick = math.ceil(rounded / slots) * (min(opts.time_limit, ROUNDED_TASK_S) + TASK_OVERHEAD_S)
    total = so_far + waves * (opts.time_limit + TASK_OVERHEAD_S) + quick + SHUTDOWN_S
    if opts.budgets.target is not None:
        total += EXPECTED_FRONT * MEASURE_S
    if opts.refit or opts.cv is not None:
        total += opts.time_limit + TASK_OVERHEAD_S
    return total


def _test_accuracy(ds: Dataset, net) -> float | None:
    X, y = ds.test_part()
    return float(np.mean(net.predict(X) == y)) if len(y) else None


def finish(ds: Dataset, opts: SelectOptions, parts: list[DataPart], results: list[dict],
           timings: dict, estimate: float, t0: float, results_path: Path) -> dict:
    """Choose among the results, build the final network, return the outcome."""
    cands, failed = build_candidates(results)
    if not cands and failed:  # say why, not only where
        f = failed[0]
        raise BDNNError(f"no configuration trained successfully ({len(failed)} refused; "
                        f"{config_label(f['config'])}: {f['error']}); see {results_path}")
    if opts.cv is not None:  # the candidate's network: its fold model best on validation
        for c in cands:
            best = max(c.results, key=lambda r: r["val_accuracy"])
            c.model = best["model"]
    for c in cands:
        c.test_accuracy = _test_accuracy(ds, c.network())
    t_measure = time.monotonic()
    n_measured = [0]
    counting = threading.Lock()

    def measure(c: Candidate, switches: dict) -> dict:
        with counting:  # measurements run in threads (choose's parallel)
            n_measured[0] += 1
        forms = [name for switch, name in ((WEIGHTS_AS_CODE, "weights as code"),
                                           (SMALL_CODE, "small code")) if switches.get(switch.key)]
        missed = "time" if switches.get(WEIGHTS_AS_CODE.key) else "flash"
        say(opts, f"measuring {config_label(c.config)} (seed {c.seed}, val "
                  f"{c.val_accuracy:.4f}, {c.model_bytes} B) on {opts.budgets.target}"
                  + (f" with {' and '.join(forms)} (its default build misses the {missed} "
                     "budget)" if forms else ""))
        return measure_on_target(c.network(), opts.budgets.target, opts.entry, switches)

    chosen, front = choose(cands, opts.budgets, measure, parallel=machine_cores(),
                           code_form=lambda c: weights_as_code_applies(c.network()))
    timings["measure_s"] = time.monotonic() - t_measure
    net = chosen.network()
    final = {"refit": False, "model_bytes": chosen.model_bytes,
             "train_accuracy": chosen.train_accuracy, "test_accuracy": chosen.test_accuracy,
             "measured": chosen.measured}
    if opts.refit or opts.cv is not None:
        t_final = time.monotonic()
        final, net = _refit(ds, opts, chosen, net, final)
        timings["final_s"] = time.monotonic() - t_final
    X, y = ds.part("train") if not final["refit"] else _non_test(ds)
    net.training.update({
        "data": ds.name, "split": ds.split.protocol, "split_seed": opts.seed,
        "val_accuracy": chosen.val_accuracy, "test_accuracy": final["test_accuracy"],
        "select": {"config": chosen.config, "seed": chosen.seed, "cv": opts.cv,
                   "refit": final["refit"], "val_accuracy": chosen.val_accuracy,
                   "results": str(results_path)},
    })
    if ds.feature_names is not None:
        net.training["feature_names"] = [str(c) for c in ds.feature_names]
    elapsed = time.monotonic() - t0
    chosen_out = {**chosen.summary(), **{k: v for k, v in final.items() if v is not None},
                  "selected_test_accuracy": chosen.test_accuracy,
                  "label": config_label(chosen.config),
                  # the pick meets the budgets only when built with these switches 1
                  **switch_record(final["measured"] or {})}
    return {
        "network": net,
        "chosen": chosen_out,
        "candidates": [c.summary() for c in sorted(cands, key=lambda c: (c.model_bytes,
                                                                         -c.val_accuracy))],
        "pareto": [c.summary() for c in front],
        "failed": [{"config": r["config"], "seed": r["seed"], "fold": r["fold"],
                    "error": r["error"]} for r in failed],
        "budgets": opts.budgets.__dict__,
        "n_tasks": len(results), "n_measured": n_measured[0],
        "data": ds.name, "seed": opts.seed, "cv": opts.cv, "repeats": opts.repeats,
        "time_limit": opts.time_limit, "workers_per_task": opts.workers_per_task,
        "split": ds.split.protocol, "n_train": int(len(parts[0].y)),
        "estimate_s": round(estimate, 1), "elapsed_s": round(elapsed, 1),
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "results": str(results_path),
        "train_rows_accuracy": float(np.mean(net.predict(X) == y)),
    }


def _non_test(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    rows = np.sort(np.concatenate([ds.train, ds.val]))
    return ds.X[rows], ds.y[rows]


def _refit(ds: Dataset, opts: SelectOptions, chosen: Candidate, net, final: dict):
    """Train the chosen configuration on train + validation, warm-started from the chosen
    network; kept only when it still meets the budgets (else the chosen network stays)."""
    X, y = _non_test(ds)
    empty_X = np.zeros((0, ds.n_features))
    part = DataPart(ds.name, X, y, empty_X, np.zeros(0, dtype=np.int64), list(ds.classes),
                    [str(c) for c in ds.feature_names] if ds.feature_names else None)
    say(opts, f"refit: {config_label(chosen.config)} on train + validation "
              f"({len(y)} rows, {opts.time_limit:g} s)")
    new, record = train_config(chosen.config, part, seed=chosen.seed,
                               time_limit=opts.time_limit, workers=opts.workers_per_task,
                               warm_start=net)
    probe = Candidate(config=chosen.config, seed=chosen.seed, results=chosen.results,
                      val_accuracy=chosen.val_accuracy, train_accuracy=record["train_accuracy"],
                      model_bytes=model_bytes(new), seconds=0.0)
    if opts.budgets.target is not None:
        probe.measured = measure_within(opts.budgets, lambda switches: measure_on_target(
            new, opts.budgets.target, opts.entry, switches), weights_as_code_applies(new))
    why = opts.budgets.unmet(probe)
    if why:
        say(opts, f"refit model breaks the budget ({why[0]}); keeping the selected network")
        return {**final, "refit": False, "refit_rejected": why[0]}, net
    return {"refit": True, "model_bytes": probe.model_bytes,
            "train_accuracy": float(record["train_accuracy"]),
            "test_accuracy": _test_accuracy(ds, new),
            "measured": probe.measured if probe.measured is not None else final["measured"]}, new
