"""Candidates, budgets, the Pareto front and the pick of ``bdnn select``.

A candidate is one configuration and solver seed: with the paper split its one training, with
``--cv K`` the mean validation accuracy of its K fold trainings. The pick is the most accurate
candidate on validation that meets every budget; ties go to fewer model bytes. Model bytes are
the exported C's model data (weight planes + thresholds, ``codegen.size_report``) and are known
for every candidate; flash, RAM and cycles are measured with the target's cross-compiler and
emulator (``codegen.targets.measure.bench``) for the Pareto candidates only. A candidate
whose default build misses the flash budget is measured again with small code
(``BDNN_SMALL_CODE`` 1), and one whose builds miss the time budget with weights as code
(``BDNN_WEIGHTS_AS_CODE`` 1) where the form applies (``measure_within``); the pick then
records the switches its build needs (``small_code``, ``weights_as_code``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from codegen.switches import SMALL_CODE, WEIGHTS_AS_CODE, switch_record

from ..ensemble import Ensemble
from ..errors import BDNNError
from ..model_file import model_from_dict
from ..network import Network


def model_bytes(net: Network | Ensemble) -> int:
    """Model data of the C export: weight bit-planes + thresholds (32-bit words)."""
    from codegen.size_report import size_report

    total = size_report(net, 32)["total"]
    return int(total["weight_bytes"] + total["threshold_bytes"])


@dataclass
class Budgets:
    """Limits a chosen model must meet (``None``: no limit)."""

    max_model_bytes: int | None = None
    target: str | None = None
    max_flash: int | None = None
    max_ram: int | None = None
    max_cycles: int | None = None

    def needs_target(self) -> bool:
        return any(v is not None for v in (self.max_flash, self.max_ram, self.max_cycles))

    def describe(self) -> str:
        parts = []
        if self.max_model_bytes is not None:
            parts.append(f"model data <= {self.max_model_bytes} B")
        for name, v in (("flash", self.max_flash), ("RAM", self.max_ram),
                        ("per inference", self.max_cycles)):
            if v is not None:
                parts.append(f"{name} <= {v}" + (" B" if name != "per inference" else ""))
        where = f" on {self.target}" if self.target and self.needs_target() else ""
        return (", ".join(parts) + where) if parts else "no budget"

    def unmet(self, c: Candidate) -> list[str]:
        """Why ``c`` fails the budgets (empty when it meets them all)."""
        why = []
        if self.max_model_bytes is not None and c.model_bytes > self.max_model_bytes:
            why.append(f"model data {c.model_bytes} B > {self.max_model_bytes}")
        if not self.needs_target():
            return why
        m = c.measured
        if m is None:
            return [*why, "not measured"]
        if "error" in m:
            return [*why, m["error"]]
        if self.max_flash is not None and m["flash_bytes"] > self.max_flash:
            why.append(f"flash {m['flash_bytes']} B > {self.max_flash}")
        if self.max_ram is not None and m["ram_total_bytes"] > self.max_ram:
            why.append(f"RAM {m['ram_total_bytes']} B > {self.max_ram}")
        if self.max_cycles is not None and m["per_inference_max"] > self.max_cycles:
            why.append(f"{m['unit']} {m['per_inference_max']} > {self.max_cycles}")
        return why


@dataclass
class Candidate:
    """One configuration and seed, scored on validation."""

    config: dict
    seed: int
    results: list[dict]  # its trainings (one, or one per fold)
    val_accuracy: float
    train_accuracy: float
    model_bytes: int
    seconds: float
    model: dict | None = None  # the network (paper split); with --cv the final one, later
    test_accuracy: float | None = None
    measured: dict | None = None
    pareto: bool = False
    extra: dict = field(default_factory=dict)

    def network(self) -> Network | Ensemble:
        if self.model is None:
            raise BDNNError("internal: candidate has no network yet")
        return model_from_dict(self.model)

    def summary(self) -> dict:
        """The JSON-able record (without the network)."""
        out = {"config": self.config, "seed": self.seed, "val_accuracy": self.val_accuracy,
               "train_accuracy": self.train_accuracy, "test_accuracy": self.test_accuracy,
               "model_bytes": self.model_bytes, "seconds": round(self.seconds, 3),
               "pareto": self.pareto, "status": [r.get("status") for r in self.results]}
        if self.measured is not None:
            out["measured"] = self.measured
        out.update(self.extra)
        return out


def build_candidates(results: list[dict]) -> tuple[list[Candidate], list[dict]]:
    """Group results by (configuration, seed) into candidates; return them and the failed
    results (``"error"``: a configuration ``bdnn train`` refused)."""
    groups: dict[str, list[dict]] = {}
    failed = []
    for r in results:
        if "error" in r:
            failed.append(r)
            continue
        groups.setdefault(json.dumps([r["config"], r["seed"]], sort_keys=True), []).append(r)
    out = []
    for rs in groups.values():
        rs.sort(key=lambda r: -1 if r["fold"] is None else r["fold"])
        nets = [model_from_dict(r["model"]) for r in rs]
        out.append(Candidate(
            config=rs[0]["config"], seed=int(rs[0]["seed"]), results=rs,
            val_accuracy=float(np.mean([r["val_accuracy"] for r in rs])),
            train_accuracy=float(np.mean([r["train_accuracy"] for r in rs])),
            model_bytes=max(model_bytes(n) for n in nets),
            seconds=float(sum(r["seconds"] for r in rs)),
            model=rs[0]["model"] if len(rs) == 1 else None,
        ))
    return out, failed


def order_key(c: Candidate) -> tuple:
    """Best first: validation accuracy, then fewer model bytes, then fewer non-zero weights."""
    return (-c.val_accuracy, c.model_bytes,
            sum(r.get("nonzero_weights", 0) for r in c.results))


def pareto_front(cands: list[Candidate]) -> list[Candidate]:
    """The candidates no other beats on validation accuracy at equal or fewer model bytes
    (one per accuracy), by model bytes ascending."""
    front: list[Candidate] = []
    best = -1.0
    for c in sorted(cands, key=lambda c: (c.model_bytes, -c.val_accuracy, order_key(c))):
        if c.val_accuracy > best:
            front.append(c)
            best = c.val_accuracy
    return front


def measure_within(budgets: Budgets, measure: Callable[[dict], dict],
                   weights_as_code: bool = False) -> dict:
    """The measurement of the build a user would ship: ``measure(switches)`` of the default
    build (``{}``), or of the first variant that meets the flash and time budgets when the
    default does not: small code (``BDNN_SMALL_CODE`` 1) when the default misses the flash
    budget; with ``weights_as_code`` (a network the form is made for,
    ``codegen.weights_as_code.weights_as_code_applies``) and a time budget the default misses,
    weights as code (``BDNN_WEIGHTS_AS_CODE`` 1), with small code too when only that fits.
    When none meets both, the first that meets the flash budget, else the default. RAM and
    time budgets are then checked on the variant returned (``Budgets.unmet``)."""
    def flash_ok(m: dict) -> bool:
        return "error" not in m and (budgets.max_flash is None
                                     or m["flash_bytes"] <= budgets.max_flash)

    def time_ok(m: dict) -> bool:
        return budgets.max_cycles is None or m["per_inference_max"] <= budgets.max_cycles

    default = measure({})
    tried = [default]
    if budgets.max_flash is not None and not flash_ok(default):
        tried.append(measure({SMALL_CODE.key: True}))
    if weights_as_code and budgets.max_cycles is not None and not any(
            flash_ok(m) and time_ok(m) for m in tried):
        code = measure({WEIGHTS_AS_CODE.key: True})
        tried.append(code)
        if budgets.max_flash is not None and not flash_ok(code) and "error" not in code \
                and time_ok(code):
            tried.append(measure({WEIGHTS_AS_CODE.key: True, SMALL_CODE.key: True}))
    return (next((m for m in tried if flash_ok(m) and time_ok(m)), None)
            or next((m for m in tried if flash_ok(m)), default))


def choose(cands: list[Candidate], budgets: Budgets,
           measure: Callable[[Candidate, dict], dict] | None = None, parallel: int = 1,
           code_form: Callable[[Candidate], bool] | None = None
           ) -> tuple[Candidate, list[Candidate]]:
    """The pick and the Pareto front (among candidates within the model-bytes budget).

    With a target, ``measure(c, switches)`` runs on each front member (flash, RAM,
    per-inference count), through ``measure_within`` (small code, or weights as code for a
    candidate ``code_form(c)`` admits, when only that meets the budgets).
    Flash and time are not monotone in model bytes (a predict table, or fewer inputs' level
    keys, can make a model with more weight bytes the smaller program), so under flash, RAM or
    time budgets the candidates ranked above the best front member that meets them are
    measured too, best first, until one meets them: the pick is the most accurate candidate
    (``order_key``) that meets every budget. Raises ``BDNNError`` when nothing does.

    ``parallel``: measurements run in up to this many threads (each is a cross-compile and an
    emulator run in processes of their own): the front at once, the ranked candidates
    ``parallel`` at a time, best first. The pick, and which candidates keep a measurement, are
    those of one thread: measurements of candidates ranked below the pick, made ahead in its
    batch, are dropped."""
    if not cands:
        raise BDNNError("no configuration trained successfully; see the results file")
    within = [c for c in cands if budgets.max_model_bytes is None
              or c.model_bytes <= budgets.max_model_bytes]
    front = pareto_front(within)
    measuring = budgets.target is not None and measure is not None

    def measured(c: Candidate) -> dict:
        assert measure is not None
        return measure_within(budgets, lambda switches: measure(c, switches),
                              code_form is not None and code_form(c))

    def measure_all(batch: list[Candidate]) -> None:
        if parallel <= 1 or len(batch) <= 1:
            results = [measured(c) for c in batch]
        else:
            with ThreadPoolExecutor(max_workers=parallel) as pool:
                results = list(pool.map(measured, batch))
        for c, m in zip(batch, results, strict=True):
            c.measured = m

    for c in front:
        c.pareto = True
    if measuring:
        measure_all(front)
    meets = [c for c in front if not budgets.unmet(c)]
    pick = min(meets, key=order_key) if meets else None
    if measuring and budgets.needs_target():
        ranked = [c for c in sorted(within, key=order_key)
                  if (pick is None or order_key(c) < order_key(pick))
                  # its model data alone exceed the flash
                  and (budgets.max_flash is None or c.model_bytes <= budgets.max_flash)]
        ahead: dict[int, Candidate] = {}  # measured in a batch, not yet reached in rank order
        for i, c in enumerate(ranked):
            if c.measured is None:
                batch = [d for d in ranked[i:] if d.measured is None][:max(1, parallel)]
                measure_all(batch)
                ahead.update((id(d), d) for d in batch[1:])
            ahead.pop(id(c), None)
            if not budgets.unmet(c):
                pick = c
                break
        for c in ahead.values():  # ranked below the pick: as if never measured
            c.measured = None
    if pick is None:
        smallest = min(cands, key=lambda c: c.model_bytes)
        why = budgets.unmet(front[0])[0] if front else \
            f"the smallest model has {smallest.model_bytes} B of model data"
        raise BDNNError(f"no trained model meets the budget ({budgets.describe()}): {why}; "
                        "raise the budget or add smaller configurations (--grid)")
    return pick, front


def measure_on_target(net: Network | Ensemble, target: str, entry: str = "predict_q",
                      switches: dict | None = None) -> dict:
    """Flash, RAM (static + stack) and per-inference count of ``net`` built with the target's
    toolchain (``switches``: ``{CSwitch.key: True}`` of the C switches to build with,
    ``codegen.switches``) and run on its emulator; ``{"error": ...}`` when it does not fit or
    build. The record names every switch's setting."""
    from codegen.targets.measure import bench

    switches = switch_record(switches or {})
    try:
        r = bench(net, target, n_vectors=4, entry=entry, **switches)
    except BDNNError as e:
        return {"error": " ".join(str(e).split())[:200], **switches}
    return {"target": r["target"], "entry": entry, **switches,
            "flash_bytes": int(r["flash_bytes"]),
            "ram_bytes": int(r["ram_bytes"]), "stack_bytes": r["stack_bytes"],
            "ram_total_bytes": int(r["ram_bytes"]) + int(r["stack_bytes"] or 0),
            "model_flash_bytes": int(r["model_flash_bytes"]), "unit": r["unit"],
            "per_inference_max": int(r["per_inference"]["max"]),
            "per_inference_mean": float(r["per_inference"]["mean"])}
