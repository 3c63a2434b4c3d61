"""Peer benchmark: bdnn's selected model against a tuned float MLP and emlearn's decision tree and
random forest, on the same paper splits and seeds, with float input as the user calls each.

    python3 benchmarks/accuracy.py [--quick] [--datasets iris,wine] [--seeds 0,1,2,3,4]
        [--json benchmarks/results/accuracy.json] [--md benchmarks/results/accuracy.md]
        [--plots docs/]

Per data set and seed (paper split: 50/25/25 train/validation/test, ``--seed`` as in ``bdnn
train``):

- **mlp**: scikit-learn ``MLPClassifier`` on standardised inputs, widths 4-100 (one and two
  layers), lbfgs and adam, the best on the validation part (ties: fewer parameters); the scaler
  is folded into the first layer, so the emlearn C (``emlearn.convert``, inline) takes raw
  floats; model data = its float32 weights and biases.
- **tree** / **forest**: scikit-learn ``DecisionTreeClassifier`` / ``RandomForestClassifier``
  (max depth <= 10, <= 10 trees, a few ``min_samples_leaf``), the best on validation (ties:
  fewer nodes), exported with emlearn as inline float C (``method="inline", dtype="float"``):
  the model is code, so its model data is the code of the predict and tree functions. The
  forest's accuracy is emlearn's majority vote (computed here from the trees' classes), not
  scikit-learn's probability average.
- **bdnn-10** / **bdnn-30**: ``bdnn select`` (when the installed bdnn has it; else ``bdnn train``
  over a small grid with the choice made here on the validation part, said in the results)
  under a model-data budget of 1/10 and 1/30 of that seed's tuned MLP; model data = the
  network's weights and thresholds (``codegen.size_report``); the float entry point also holds
  the input quantizer's float keys (reported apart).
- **bdnn-tree-flash** / **bdnn-forest-flash**: ``bdnn select --target cortex-m0 --entry predict
  --max-flash F`` with F = the Cortex-M0 flash of seed 0's emlearn tree / forest program: what a
  user with that tree's flash gets (the default grid then also holds networks that read 3-5
  inputs). It resumes the 1/10 sweep, so only the configurations that sweep lacks train. The
  issue's tree target compares the best tree or forest with the pick under its own flash.
- **bdnn-tree-fast** / **bdnn-forest-fast**: the same, also with ``--max-cycles C``, C = seed
  0's tree / forest program's mean Cortex-M0 instructions per inference (rounded down): what a
  user who wants a model no larger and no slower than that tree gets. When the flash pick
  already meets C (select's own measurement), it is that pick, and nothing runs again.

Test accuracy is computed in Python for every seed (bdnn: the numpy forward pass; emlearn
models: scikit-learn / the vote above) and reported as mean and sd. Firmware figures come from
seed 0's models: flash of the minimal program calling the float entry point and instructions
(Cortex-M0 under QEMU) or cycles (AVR under simavr) per inference, through the harness of
``benchmarks/firmware.py`` (emlearn) and ``codegen.targets.measure.bench`` (bdnn,
``NAME_predict``): same firmware sources, flags, linker scripts and trace counting.

Results are written after every data set and seed (``--json``), so an interrupted run keeps
what finished; select's trainings go to ``--work`` (``DATASET-sSEED.results.jsonl``), and a
rerun into the same ``--work`` resumes them, training only configurations they lack.
Progress goes to stderr. ``--reuse OLD.json`` refits an earlier run's MLP, tree
and forest choices instead of tuning again; ``--merge A.json B.json`` writes one report from
runs over disjoint data sets (e.g. two processes).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import firmware as fw  # noqa: E402  (the shared firmware harness)

from bdnn.data import load_dataset  # noqa: E402
from bdnn.errors import BDNNError  # noqa: E402
from bdnn.model_file import load_network  # noqa: E402
from codegen.level_keys import quantizer_forms_bytes  # noqa: E402
from codegen.size_report import size_report  # noqa: E402
from codegen.switches import SWITCHES, switch_record  # noqa: E402
from codegen.targets.registry import get_target  # noqa: E402
from codegen.targets.toolchain import toolchain_available  # noqa: E402

DATASETS = ("iris", "wine", "bcw", "breast-cancer", "digits", "uniform-10", "uniform-100",
            "credit-card")
SEEDS = (0, 1, 2, 3, 4)
TARGETS = ("cortex-m0", "avr")
TOOLS = ("mlp", "tree", "forest", "bdnn-10", "bdnn-30", "bdnn-tree-flash", "bdnn-forest-flash",
         "bdnn-tree-fast", "bdnn-forest-fast")
BUDGET_DIVISORS = {"bdnn-10": 10, "bdnn-30": 30}
# bdnn select under the Cortex-M0 flash of (seed 0's) emlearn tree / forest program, float input
FLASH_TOOLS = {"bdnn-tree-flash": "tree", "bdnn-forest-flash": "forest"}
# ... and under its mean M0 instructions per inference too (select --max-cycles)
FAST_TOOLS = {"bdnn-tree-fast": "tree", "bdnn-forest-fast": "forest"}
FLASH_TARGET = "cortex-m0"
# Means that differ by float rounding only are equal (iris: two tools right on 177 of the 185
# test rows of the five seeds, their per-seed accuracies summed in another order)
MEAN_TIE = 1e-9
LARGE_TRAIN = 5000  # train rows above which the grids shrink and bdnn uses --method split

MLP_SHAPES = ((4,), (8,), (16,), (32,), (64,), (100,), (8, 8), (16, 16), (32, 32))
MLP_SHAPES_LARGE = ((4,), (16,), (64,), (16, 16))
MLP_SOLVERS = ("lbfgs", "adam")
TREE_DEPTHS = (2, 3, 4, 6, 8, 10)
LEAF_SIZES = (1, 5, 20)
FOREST_TREES = (3, 5, 10)
FOREST_DEPTHS = (4, 6, 8, 10)
FOREST_LEAF_SIZES = (1, 5)
# bdnn fallback grid (when `bdnn select` is missing): hidden widths x input bits
BDNN_GRID = (((2,), 4), ((4,), 4), ((8,), 4), ((16,), 4), ((32,), 4), ((8,), 2))
BDNN_TIME_LIMIT = 5.0
N_TIMED = 8

QUICK = {
    "datasets": ("iris",), "seeds": (0, 1), "mlp_shapes": ((4,), (8,)), "mlp_solvers": ("lbfgs",),
    "tree_depths": (2, 3), "forest_trees": (3,), "forest_depths": (3,),
    "bdnn_grid": (((2,), 4), ((4,), 4)), "time_limit": 2.0, "n_timed": 2,
    # bdnn select's --grid in a smoke run: two widths and one few-input network (the default
    # grid's 30 trainings are the real run's)
    "select_grid": [{"hidden": ["2", "4"], "input_bits": 2, "quantizer": "quantile"},
                    {"hidden": "2", "input_bits": 2, "quantizer": "quantile", "max_inputs": 3}],
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data


def split(dataset: str, seed: int):
    """Train, validation and test parts of the paper split (float64 X, int y)."""
    ds = load_dataset(dataset, split="paper", seed=seed)
    return ds.train_part(), ds.val_part(), ds.test_part()


def acc(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(pred) == y))


def coin_flip_rows(dataset: str, X: np.ndarray) -> np.ndarray | None:
    """Rows whose labels no model can predict, or None: the uniform data sets draw a third of
    their points in [-1, 1]^n with labels that carry no signal (no classifier beats chance on
    them: 5-fold CV of a logistic regression, a 200-tree forest and 5-NN on those rows of
    Uniform_N10_m1000_0 scores 0.46-0.50), the rest in [0, 10]^n (label 1) or [-10, 0]^n (0)."""
    if not dataset.startswith("uniform-"):
        return None
    return (np.abs(X) <= 1).all(axis=1)


def predictions(tool: str, record: dict, X: np.ndarray, n_classes: int, work: Path) -> np.ndarray:
    """Test-part classes of one tool's chosen model (refitted or read back from its file)."""
    if tool == "mlp":
        return record["model"].predict(X).astype(int)
    if tool in ("tree", "forest"):
        return vote(record["model"], X, n_classes)
    net = load_network(work / Path(record["path"]).name)  # in --work, relative or absolute
    return net.forward_q(net.quantizer.quantize(X)).class_index


# ---------------------------------------------------------------- float MLP


def fold_scaler(mlp, scaler):
    """A copy of ``mlp`` that takes raw features: the scaler folded into the first layer,
    ``W' = W / s`` (per input row), ``b' = b - (m / s) W``."""
    folded = copy.deepcopy(mlp)
    W, b = mlp.coefs_[0], mlp.intercepts_[0]
    s = scaler.scale_
    folded.coefs_[0] = W / s[:, None]
    folded.intercepts_[0] = b - (scaler.mean_ / s) @ W
    return folded


def mlp_params(mlp) -> int:
    return int(sum(w.size for w in mlp.coefs_) + sum(b.size for b in mlp.intercepts_))


def tune_mlp(parts, seed: int, shapes, solvers, large: bool = False) -> dict:
    """The MLP with the best validation accuracy (ties: fewer parameters); ``large`` data
    sets get fewer iterations (CPU time)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    (X, y), (Xv, yv), (Xt, yt) = parts
    scaler = StandardScaler().fit(X)
    Z, Zv = scaler.transform(X), scaler.transform(Xv)
    best = None
    for shape in shapes:
        for solver in solvers:
            mlp = MLPClassifier(hidden_layer_sizes=shape, solver=solver, random_state=seed,
                                max_iter=(500 if large else 2000) if solver == "lbfgs"
                                else (200 if large else 1000))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                mlp.fit(Z, y)
            key = (acc(mlp.predict(Zv), yv), -mlp_params(mlp))
            if best is None or key > best[0]:
                best = (key, shape, solver, mlp)
    (_, _), shape, solver, mlp = best
    folded = fold_scaler(mlp, scaler)
    return {
        "config": {"hidden": list(shape), "solver": solver},
        "train_accuracy": acc(folded.predict(X), y),
        "val_accuracy": acc(folded.predict(Xv), yv),
        "test_accuracy": acc(folded.predict(Xt), yt),
        "model_bytes": 4 * mlp_params(mlp),  # float32 weights and biases
        "model": folded,
    }


# ---------------------------------------------------------------- trees


def vote(model, X: np.ndarray, n_classes: int) -> np.ndarray:
    """emlearn's class: a tree's leaf argmax; a forest's majority of its trees' classes (first
    class on a tie), which is what its C computes."""
    if not hasattr(model, "estimators_"):
        return model.predict(X).astype(int)
    votes = np.zeros((len(X), n_classes), dtype=int)
    for est in model.estimators_:
        votes[np.arange(len(X)), est.predict(X).astype(int)] += 1
    return model.classes_[np.argmax(votes, axis=1)].astype(int)


def n_nodes(model) -> int:
    trees = getattr(model, "estimators_", [model])
    return int(sum(t.tree_.node_count for t in trees))


def tune_trees(parts, seed: int, kind: str, n_classes: int, q: dict,
               only: dict | None = None) -> dict:
    """The tree or forest with the best validation accuracy (ties: fewer nodes); ``only``: fit
    just that configuration (a choice reused from an earlier run)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    (X, y), (Xv, yv), (Xt, yt) = parts
    if only is not None:
        cls = DecisionTreeClassifier if kind == "tree" else RandomForestClassifier
        config = {k: v for k, v in only.items() if k != "nodes"}
        grid = [(config, lambda c: cls(random_state=seed, **c))]
    elif kind == "tree":
        grid = [({"max_depth": d, "min_samples_leaf": m},
                 lambda c: DecisionTreeClassifier(random_state=seed, **c))
                for d in q["tree_depths"] for m in LEAF_SIZES]
    else:
        grid = [({"n_estimators": n, "max_depth": d, "min_samples_leaf": m},
                 lambda c: RandomForestClassifier(random_state=seed, **c))
                for n in q["forest_trees"] for d in q["forest_depths"] for m in FOREST_LEAF_SIZES]
    best = None
    for config, make in grid:
        model = make(config).fit(X, y)
        key = (acc(vote(model, Xv, n_classes), yv), -n_nodes(model))
        if best is None or key > best[0]:
            best = (key, config, model)
    _, config, model = best
    return {
        "config": {**config, "nodes": n_nodes(model)},
        "train_accuracy": acc(vote(model, X, n_classes), y),
        "val_accuracy": acc(vote(model, Xv, n_classes), yv),
        "test_accuracy": acc(vote(model, Xt, n_classes), yt),
        "model_bytes": None,  # code: measured on the target
        "model": model,
    }


# ---------------------------------------------------------------- bdnn


def bdnn_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bdnn", *args]


def has_select() -> bool:
    proc = subprocess.run(bdnn_cli("select", "--help"), cwd=ROOT, capture_output=True, text=True)
    return proc.returncode == 0


def network_bytes(net) -> int:
    """Model data of a bdnn network: bit-planes and thresholds (``codegen.size_report``; the
    32-bit layout, as on Cortex-M)."""
    total = size_report(net, 32)["total"]
    return int(total["weight_bytes"] + total["threshold_bytes"])


def quantizer_bytes(net) -> int:
    """The float entry point's quantizer tables in the C's default form on a chip without an
    FPU (``bdnn size``'s first form): level keys, shared between inputs with equal ones, or a
    pow2 quantizer's exponent and offset."""
    return next(iter(quantizer_forms_bytes(net.quantizer).values()))


def bdnn_scores(path: Path, parts) -> dict:
    """Accuracies of a saved model from the numpy forward pass on each part."""
    net = load_network(path)
    out = {}
    for key, (X, y) in zip(("train_accuracy", "val_accuracy", "test_accuracy"), parts,
                           strict=True):
        out[key] = acc(net.forward_q(net.quantizer.quantize(X)).class_index, y)
    out["model_bytes"] = network_bytes(net)
    out["quantizer_bytes"] = quantizer_bytes(net)
    out["config"] = {"hidden": list(net.hidden_widths), "input_bits": int(
        round(math.log2(net.quantizer.max_level + 1)))}
    return out


def estimated_bytes(n_in: int, hidden: tuple[int, ...], n_classes: int) -> int:
    """A lower bound on a ternary network's model data: two bit-planes per weight."""
    widths = [n_in, *hidden, n_classes]
    return sum(math.ceil(2 * a * b / 8) for a, b in zip(widths, widths[1:], strict=False))


def bdnn_grid_train(dataset: str, seed: int, parts, budget: float, n_classes: int,
                    work: Path, q: dict) -> list[dict]:
    """Fallback for a bdnn without ``select``: ``bdnn train`` on every grid point whose
    network can fit the budget; returns the candidates with their scores."""
    n_train = len(parts[0][1])
    method = "split" if n_train > LARGE_TRAIN else "auto"
    out = []
    for hidden, bits in q["bdnn_grid"]:
        if estimated_bytes(parts[0][0].shape[1], hidden, n_classes) > budget:
            continue
        path = work / f"{dataset}-s{seed}-h{'-'.join(map(str, hidden))}-b{bits}.json"
        argv = bdnn_cli("train", dataset, "--hidden", ",".join(map(str, hidden)),
                        "--input-bits", str(bits), "--method", method, "--time-limit",
                        str(q["time_limit"]), "--workers", "1", "--seed", str(seed), "--quiet",
                        "-o", str(path))
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            log(f"  bdnn train failed: {' '.join(argv[3:])}: {proc.stderr.strip()[-200:]}")
            continue
        cand = bdnn_scores(path, parts)
        cand["config"]["method"] = method
        cand["path"] = str(path)
        out.append(cand)
    return out


def choose(cands: list[dict], budget: float) -> dict | None:
    """The most accurate candidate on validation within the budget (ties: fewer bytes)."""
    fits = [c for c in cands if c["model_bytes"] <= budget]
    if not fits:
        return None
    return max(fits, key=lambda c: (c["val_accuracy"], -c["model_bytes"]))


def bdnn_select(dataset: str, seed: int, parts, budget: float, work: Path, tag: str,
                q: dict, scheduler: str | None, flash: bool = False,
                max_cycles: int | None = None) -> dict | None:
    """``bdnn select`` (default grid) under ``--max-model-bytes budget`` (``flash``: under
    ``--max-flash budget`` on the Cortex-M0, float entry ``NAME_predict``, which adds the
    few-input configurations to the default grid; ``max_cycles``: also ``--max-cycles``
    there), on the Dask cluster at ``scheduler``; its
    trainings go to ``work/DATASET-sSEED.results.jsonl``, which a later call (another budget,
    or a rerun into the same ``--work``) resumes, training only what it lacks. The chosen
    model's scores are recomputed here."""
    if budget < 1:
        return None
    path = work / f"{dataset}-s{seed}-{tag}.json"
    results = work / f"{dataset}-s{seed}.results.jsonl"
    limit = (["--target", FLASH_TARGET, "--entry", "predict", "--max-flash"] if flash
             else ["--max-model-bytes"])
    argv = bdnn_cli("select", dataset, "--seed", str(seed), "--time-limit", str(q["time_limit"]),
                    *limit, str(math.floor(budget)),
                    *(["--max-cycles", str(max_cycles)] if max_cycles is not None else []),
                    "--json", "-o", str(path),
                    "--results", str(results), "--quiet")
    if scheduler:
        argv += ["--scheduler", scheduler]
    if q.get("select_grid"):
        grid = work / "select_grid.json"
        grid.write_text(json.dumps(q["select_grid"]), encoding="utf-8")
        argv += ["--grid", str(grid)]
    if results.exists():  # an earlier budget's sweep, or a rerun into the same --work
        argv += ["--resume", str(results)]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[-1:] or ["?"]
        log(f"  bdnn select: {why[0][:300]}")
        return None
    report = json.loads(proc.stdout)
    cand = bdnn_scores(path, parts)
    cand["config"] = {**cand["config"], **(report["chosen"].get("config") or {})}
    cand["select"] = {k: report["chosen"].get(k) for k in
                      ("val_accuracy", "test_accuracy", "model_bytes")}
    # the pick meets the budgets only with these C switches 1 (BDNN_SMALL_CODE,
    # BDNN_WEIGHTS_AS_CODE): its firmware is measured so
    cand["select"].update(switch_record(report["chosen"]))
    if report["chosen"].get("measured"):  # select's own build and run of the pick (flash, time)
        cand["select"]["measured"] = report["chosen"]["measured"]
    cand["select"]["n_candidates"] = len(report.get("candidates", []))
    cand["select"]["elapsed_s"] = report.get("elapsed_s")
    cand["path"] = str(path)
    return cand


def tool_for(tools: dict[str, str], kind: str | None) -> str | None:
    """The tool of ``tools`` (``FLASH_TOOLS`` or ``FAST_TOOLS``) picked under the budget of
    emlearn's ``kind`` ("tree" or "forest"); None for no kind."""
    return next((t for t, k in tools.items() if k == kind), None)


def fast_pick(dataset: str, seed: int, parts, work: Path, tool: str, kind: str, m0: dict,
              flash_rec: dict | None, q: dict, scheduler: str | None) -> dict | None:
    """``bdnn select`` under the M0 flash of emlearn's ``kind`` program and its mean
    instructions per inference (rounded down, so the pick's worst case is below the tree's
    mean). The flash pick when select's own measurement of it already meets that count (select
    would pick it again: the best-ranked candidate that meets both)."""
    fw_ = m0.get(kind, {})
    if fw_.get("status") != "ok":
        return None
    flash, cycles = fw_["flash_bytes"], math.floor(fw_["per_inference"])
    measured = ((flash_rec or {}).get("select") or {}).get("measured") or {}
    if flash_rec is not None and measured.get("per_inference_max", cycles + 1) <= cycles:
        rec = {**flash_rec, "same_as_flash_pick": True}
    else:
        log(f"{dataset} seed {seed}: bdnn select, {FLASH_TARGET} flash <= {flash} B and "
            f"<= {cycles} instructions per inference (the {kind}'s)")
        rec = bdnn_select(dataset, seed, parts, flash, work, tool, q, scheduler, flash=True,
                          max_cycles=cycles)
    if rec is not None:
        rec.update(budget_flash=flash, budget_instructions=cycles)
    return rec


# ---------------------------------------------------------------- firmware


def emlearn_code(model, kind: str) -> str:
    emlearn = fw.import_emlearn()
    if kind == "mlp":
        return fw.emlearn_c(model, "inline")
    return emlearn.convert(model, method="inline", dtype="float").save(name=fw.EML_NAME)


def measure_emlearn_model(dataset: str, kind: str, model, X: np.ndarray, ref: np.ndarray,
                          y: np.ndarray, target: str, n_timed: int) -> dict:
    t = get_target(target)
    ok, why = toolchain_available(t)
    if not ok:
        return {"status": f"skipped: {why}"}
    m = fw.Measurement(dataset, kind, t.name, kind, "ok", unit=t.family.counts, n_test=len(y))
    work = Path(tempfile.mkdtemp(prefix=f"bdnn-accbench-{kind}-{t.name}-"))
    try:
        fw.measure_emlearn_code(m, emlearn_code(model, kind), X.shape[1],
                                X.astype(np.float32), ref, y, t, work, n_timed,
                                fw.EML_DATA if kind == "mlp" else None, all_rows=False)
    except BDNNError as e:
        m.status = str(e) if str(e).startswith("does not fit") else f"failed: {e}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return firmware_record(m)


def firmware_record(m) -> dict:
    return {"status": m.status, "model_data_bytes": m.model_data_bytes,
            "flash_bytes": m.flash_bytes, "ram_bytes": m.ram_bytes,
            "stack_bytes": m.stack_bytes, "unit": m.unit, "per_inference": m.per_inference,
            "per_inference_max": m.per_inference_max, "agree_timed": m.agree}


def measure_bdnn_model(path: str, target: str, n_timed: int, switches: dict | None = None
                       ) -> dict:
    """Flash, RAM and time of the model at ``path`` on ``target`` (float entry); ``switches``
    (``{CSwitch.key: True}``): built with those C switches 1, as a select pick that needs them
    is shipped."""
    from codegen.targets.measure import bench

    t = get_target(target)
    ok, why = toolchain_available(t)
    if not ok:
        return {"status": f"skipped: {why}"}
    net = load_network(path)
    try:
        r = bench(net, target, n_vectors=n_timed, entry="predict",
                  **switch_record(switches or {}))
    except BDNNError as e:
        s = str(e)
        return {"status": s if "does not fit" in s or "too large" in s else f"failed: {s}"}
    return {"status": "ok", "model_data_bytes": network_bytes(net),
            "flash_bytes": r["flash_bytes"], "ram_bytes": r["ram_bytes"],
            "stack_bytes": r.get("stack_bytes"), "unit": r["unit"],
            "per_inference": r["per_inference"]["mean"],
            "per_inference_max": r["per_inference"]["max"], **switch_record(switches or {})}


# ---------------------------------------------------------------- the run


@contextlib.contextmanager
def select_cluster(use_select: bool, scheduler: str | None, processes: int):
    """The scheduler address every ``bdnn select`` uses: ``scheduler``, else a LocalCluster
    started once here (starting one per select call costs tens of seconds on a busy
    machine)."""
    if not use_select or scheduler:
        yield scheduler
        return
    import logging

    from distributed import LocalCluster

    log(f"starting a Dask LocalCluster of {processes} worker processes for bdnn select")
    with warnings.catch_warnings():  # the HTTP server moves off a busy port 8787 and warns
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = LocalCluster(n_workers=processes, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.CRITICAL)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def code_version() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def summarise(runs: list[dict]) -> dict:
    """Per tool: test accuracy mean and sd over the seeds that produced a model."""
    out = {}
    for tool in TOOLS:
        vals = [r["tools"][tool]["test_accuracy"] for r in runs
                if r["tools"].get(tool) and r["tools"][tool].get("test_accuracy") is not None]
        bytes_ = [r["tools"][tool]["model_bytes"] for r in runs
                  if r["tools"].get(tool) and r["tools"][tool].get("model_bytes") is not None]
        out[tool] = {
            "n_seeds": len(vals),
            "test_mean": float(np.mean(vals)) if vals else None,
            "test_sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else (0.0 if vals else None),
            "model_bytes_mean": float(np.mean(bytes_)) if bytes_ else None,
        }
    return out


def run_dataset(dataset: str, seeds, q: dict, work: Path, targets, use_select: bool,
                record: dict, save, scheduler: str | None = None,
                reuse: dict | None = None) -> None:
    entry = record["datasets"].setdefault(dataset, {"runs": [], "firmware": {}})
    for seed in seeds:
        t0 = time.monotonic()
        parts = split(dataset, seed)
        n_classes = int(max(parts[0][1].max(), parts[1][1].max(), parts[2][1].max())) + 1
        large = len(parts[0][1]) > LARGE_TRAIN
        tools: dict = {}
        old = (reuse or {}).get(dataset, {}).get(seed)
        if old:  # refit the earlier run's choices only (deterministic for the seed)
            log(f"{dataset} seed {seed}: refitting the reused MLP, tree and forest choices")
            cfg = old["mlp"]["config"]
            mlp = tune_mlp(parts, seed, [tuple(cfg["hidden"])], [cfg["solver"]], large)
            for kind in ("tree", "forest"):
                tools[kind] = tune_trees(parts, seed, kind, n_classes, q, old[kind]["config"])
            drifted = [kind for kind, new in (("mlp", mlp), ("tree", tools["tree"]),
                                              ("forest", tools["forest"]))
                       if new["test_accuracy"] != old[kind]["test_accuracy"]]
            if drifted:  # a choice another run made no longer fits the same: tune afresh
                log(f"{dataset} seed {seed}: the reused {', '.join(drifted)} refit(s) to another "
                    "test accuracy than recorded; tuning the MLP, tree and forest again")
                old = None
        if not old:
            log(f"{dataset} seed {seed}: tuning the MLP")
            mlp = tune_mlp(parts, seed, MLP_SHAPES_LARGE if large else q["mlp_shapes"],
                           q["mlp_solvers"], large)
            for kind in ("tree", "forest"):
                tools[kind] = tune_trees(parts, seed, kind, n_classes, q)
        tools["mlp"] = mlp
        budgets = {tool: mlp["model_bytes"] / d for tool, d in BUDGET_DIVISORS.items()}
        if seed == seeds[0]:  # the emlearn programs first: their M0 flash is a bdnn budget
            (Xt, yt) = parts[2]
            for target in targets:
                fwd = entry["firmware"].setdefault(target, {})
                for kind in ("mlp", "tree", "forest"):
                    model = tools[kind]["model"]
                    ref = (model.predict(Xt).astype(int) if kind == "mlp"
                           else vote(model, Xt, n_classes))
                    log(f"{dataset}: {kind} on {target}")
                    fwd[kind] = measure_emlearn_model(dataset, kind, model, Xt, ref, yt, target,
                                                      q["n_timed"])
        if use_select:
            for tool, budget in budgets.items():  # the looser budget first
                log(f"{dataset} seed {seed}: bdnn select, budget {budget:.0f} B")
                tools[tool] = bdnn_select(dataset, seed, parts, budget, work, tool, q,
                                          scheduler)
            m0 = entry["firmware"].get(FLASH_TARGET, {})
            for tool, kind in FLASH_TOOLS.items():
                if m0.get(kind, {}).get("status") != "ok":
                    tools[tool] = None
                    continue
                budget = m0[kind]["flash_bytes"]
                log(f"{dataset} seed {seed}: bdnn select, {FLASH_TARGET} flash <= {budget} B "
                    f"(the {kind}'s)")
                tools[tool] = bdnn_select(dataset, seed, parts, budget, work, tool, q, scheduler,
                                          flash=True)
                if tools[tool] is not None:
                    tools[tool]["budget_flash"] = budget
            for tool, kind in FAST_TOOLS.items():
                tools[tool] = fast_pick(dataset, seed, parts, work, tool, kind, m0,
                                        tools.get(tool_for(FLASH_TOOLS, kind)), q, scheduler)
        else:
            log(f"{dataset} seed {seed}: bdnn train grid (budget {max(budgets.values()):.0f} B)")
            cands = bdnn_grid_train(dataset, seed, parts, max(budgets.values()), n_classes, work,
                                    q)
            for tool, budget in budgets.items():
                tools[tool] = choose(cands, budget)
        for tool, budget in budgets.items():
            if tools[tool] is not None:
                tools[tool] = {**tools[tool], "budget_bytes": budget}
        if seed == seeds[0]:
            for target in targets:
                fwd = entry["firmware"].setdefault(target, {})
                for tool in [*BUDGET_DIVISORS,
                             *((*FLASH_TOOLS, *FAST_TOOLS) if use_select else ())]:
                    if tools.get(tool) is None:
                        fwd[tool] = {"status": "no model within the budget"}
                        continue
                    if tool in FAST_TOOLS and tools[tool].get("same_as_flash_pick"):
                        # the flash pick's program, measured above
                        fwd[tool] = dict(fwd[tool_for(FLASH_TOOLS, FAST_TOOLS[tool])])
                        continue
                    log(f"{dataset}: {tool} on {target}")
                    fwd[tool] = measure_bdnn_model(tools[tool]["path"], target, q["n_timed"],
                                                   tools[tool].get("select") or {})
            entry["firmware_seed"] = seed
        flips = coin_flip_rows(dataset, parts[2][0])
        if flips is not None:  # accuracy where the labels carry signal, and where they do not
            Xt, yt = parts[2]
            for tool, rec in tools.items():
                if rec is not None:
                    right = predictions(tool, rec, Xt, n_classes, work) == yt
                    rec["test_accuracy_signal"] = float(right[~flips].mean())
                    rec["test_accuracy_coin_flips"] = float(right[flips].mean())
                    rec["n_test_coin_flips"] = int(flips.sum())
        entry["runs"].append({
            "seed": seed,
            "n_train": len(parts[0][1]), "n_val": len(parts[1][1]), "n_test": len(parts[2][1]),
            "seconds": round(time.monotonic() - t0, 1),
            "load_avg_1min": round(os.getloadavg()[0], 2),  # the shared machine's load, as seen
            # model files by name: they live in --work, which the record does not cite
            "tools": {k: ({kk: (Path(vv).name if kk == "path" else vv)
                           for kk, vv in v.items() if kk != "model"} if v else None)
                      for k, v in tools.items()},
        })
        entry["summary"] = summarise(entry["runs"])
        line = ", ".join(f"{k} {v['test_accuracy']:.3f}" if v else f"{k} –"
                         for k, v in entry["runs"][-1]["tools"].items())
        log(f"{dataset} seed {seed}: {line} ({time.monotonic() - t0:.0f} s)")
        save()


# ---------------------------------------------------------------- report


def _f(v, fmt="{:,.0f}") -> str:
    return "–" if v is None else fmt.format(v)


def targets_tally(record: dict) -> dict:
    """The issue's targets, per data set: select within 1 point of the MLP with >= 10x less
    model data; at equal or smaller M0 flash at least as accurate as the best emlearn tree or
    forest, and faster per inference."""
    res = {}
    for ds, e in record["datasets"].items():
        s = e.get("summary", {})
        f = e.get("firmware", {}).get("cortex-m0", {})
        mlp = s.get("mlp", {})
        row = {}
        # the model chosen under the 1/10 budget (chosen on validation, never on test)
        best = "bdnn-10"
        if s.get(best, {}).get("test_mean") is not None and mlp.get("test_mean") is not None:
            row["bdnn"] = best
            row["delta_mlp_points"] = 100 * (s[best]["test_mean"] - mlp["test_mean"])
            row["within_1pt_of_mlp"] = row["delta_mlp_points"] >= -1.0 - 100 * MEAN_TIE
            row["data_ratio"] = (mlp["model_bytes_mean"] / s[best]["model_bytes_mean"]
                                 if s[best]["model_bytes_mean"] else None)
            qb = [r["tools"][best]["quantizer_bytes"] for r in e["runs"] if r["tools"].get(best)]
            if qb and s[best]["model_bytes_mean"]:
                # the float entry point also holds the input quantizer's tables (level keys,
                # or a pow2 quantizer's exponents and offsets)
                row["data_ratio_with_quantizer"] = mlp["model_bytes_mean"] / (
                    s[best]["model_bytes_mean"] + float(np.mean(qb)))
            trees = [t for t in ("tree", "forest") if s.get(t, {}).get("test_mean") is not None]
            bt = max(trees, key=lambda t: s[t]["test_mean"]) if trees else None
            row["best_tree"] = bt
            # against the tree: select's pick under that tree's M0 flash when the run has it
            # (what a user with the tree's flash budget gets), else the 1/10 pick
            at = tool_for(FLASH_TOOLS, bt)
            vs = at if at and s.get(at, {}).get("test_mean") is not None else best
            if at and vs == best and f.get(at):
                row["bdnn_vs_tree"] = f"{at}: none fits"
            else:
                row["bdnn_vs_tree"] = vs
            fb, ft = f.get(vs, {}), f.get(bt, {}) if bt else {}
            if fb.get("status") == "ok" and ft.get("status") == "ok":
                row["flash_bdnn"], row["flash_tree"] = fb["flash_bytes"], ft["flash_bytes"]
                row["tree_flash_ratio"] = ft["flash_bytes"] / fb["flash_bytes"]
                row["delta_tree_points"] = 100 * (s[vs]["test_mean"] - s[bt]["test_mean"])
                row["as_accurate_as_tree_at_le_flash"] = (
                    fb["flash_bytes"] <= ft["flash_bytes"]
                    and s[vs]["test_mean"] >= s[bt]["test_mean"] - MEAN_TIE)
                row["speedup_vs_tree"] = ft["per_inference"] / fb["per_inference"]
                row["faster_than_tree"] = row["speedup_vs_tree"] > 1.0
            # the pick under that tree's flash and its instructions per inference: a model on
            # every seed, as accurate, and (seed 0's program) smaller and faster
            fast = tool_for(FAST_TOOLS, bt)
            ff = f.get(fast, {}) if fast else {}
            if fast and fast in s and ff.get("status") == "ok" and ft.get("status") == "ok":
                row["fast_vs_tree"] = fast
                row["fast_seeds"] = s[fast]["n_seeds"]
                row["delta_tree_points_fast"] = 100 * (s[fast]["test_mean"] - s[bt]["test_mean"])
                row["speedup_fast"] = ft["per_inference"] / ff["per_inference"]
                row["as_accurate_fast"] = (
                    s[fast]["n_seeds"] == len(e["runs"])
                    and ff["flash_bytes"] <= ft["flash_bytes"]
                    and s[fast]["test_mean"] >= s[bt]["test_mean"] - MEAN_TIE)
            elif fast and fast in s:
                row["fast_vs_tree"] = f"{fast}: none fits"
            # the tree target whole, for the model a user asks for with both budgets: at <=
            # the tree's flash, faster (seed 0's programs) and as accurate (every seed)
            row["tree_target"] = bool(row.get("as_accurate_fast") and row["speedup_fast"] > 1.0)
        res[ds] = row
    return res


# bdnn train defaults, left out of the firmware table's config column
CONFIG_DEFAULTS = {"activation": "heaviside", "objective": "errors", "output": "argmax",
                   "quantizer": "uniform", "ensemble": None, "lexicographic": False,
                   "margin": None, "max_inputs": None, "sparsify": False, "weight_bound": 1}


def _load_range(e: dict) -> list[float]:
    """The lowest and highest 1-minute load average seen after the data set's seeds (empty
    for runs made before it was recorded)."""
    loads = [r["load_avg_1min"] for r in e["runs"] if "load_avg_1min" in r]
    return [min(loads), max(loads)] if loads else []


def render_md(record: dict, plots: str | None = None) -> str:
    """The Markdown report; ``plots``: the PNG directory relative to the report, linked below
    the tables (none without it)."""
    lines = [
        "# Accuracy benchmark: bdnn select vs tuned float MLP and emlearn trees",
        "",
        "Generated by `benchmarks/accuracy.py`; do not edit by hand (rerun it).",
        "",
        f"- command: `{record['command']}`",
        f"- date: {record['date']}, run time {record.get('elapsed_s', 0):.0f} s, code "
        f"{record['code_version']}",
        f"- machine: {record['machine']}",
        f"- bdnn: {record['bdnn_mode']}",
        *([f"- note: {record['note']}"] if record.get("note") else []),
        *([f"- MLP/tree/forest choices refitted from: {', '.join(record['reused_choices_from'])}"]
          if record.get("reused_choices_from") else []),
        *([f"- {ds}: {e['run']['date']}, code {e['run']['code_version']}, bdnn trainings of "
           f"{e['run']['time_limit']:g} s, load average (1 min) "
           + ("-".join(f"{v:g}" for v in _load_range(e)) or "not recorded")
           for ds, e in record["datasets"].items() if e.get("run")]),
        f"- seeds: {', '.join(map(str, record['seeds']))}; firmware figures from seed "
        f"{record['seeds'][0]}'s models",
        "",
        "## Test accuracy (mean ± sd over seeds) and model data bytes (mean)",
        "",
        "| data set | seeds | MLP | tree | forest | bdnn 1/10 | bdnn 1/30 | bdnn at tree's flash "
        "| bdnn at forest's flash | bdnn at tree's flash and instr. | bdnn at forest's flash "
        "and instr. | MLP B | bdnn 1/10 B (+ quantizer) | bdnn 1/30 B (+ quantizer) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for ds, e in record["datasets"].items():
        s = e.get("summary", {})

        def cell(t, s=s, e=e):
            if t not in s:
                return "–"  # a run from before this tool existed
            v = s[t]
            if v.get("test_mean") is None:
                return "none fits"
            return f"{v['test_mean']:.3f} ± {v['test_sd']:.3f}" + (
                f" ({v['n_seeds']})" if v["n_seeds"] != len(e["runs"]) else "")

        def qb(t, s=s, e=e):
            vals = [r["tools"][t]["quantizer_bytes"] for r in e["runs"] if r["tools"].get(t)]
            b = s.get(t, {}).get("model_bytes_mean")
            return "–" if b is None else f"{b:,.0f} (+ {np.mean(vals):,.0f})"

        lines.append(f"| {ds} | {len(e['runs'])} | {cell('mlp')} | {cell('tree')} | "
                     f"{cell('forest')} | {cell('bdnn-10')} | {cell('bdnn-30')} | "
                     f"{cell('bdnn-tree-flash')} | {cell('bdnn-forest-flash')} | "
                     f"{cell('bdnn-tree-fast')} | {cell('bdnn-forest-fast')} | "
                     f"{_f(s.get('mlp', {}).get('model_bytes_mean'))} | {qb('bdnn-10')} | "
                     f"{qb('bdnn-30')} |")
    lines += ["", "## Firmware (seed-0 models, float input as the user calls it)", "",
              "| data set | target | tool | config | model data B | flash B | RAM B + stack | "
              "per inference (mean / max) | status |",
              "|---|---|---|---|--:|--:|--:|--:|---|"]
    for ds, e in record["datasets"].items():
        run0 = e["runs"][0] if e["runs"] else {"tools": {}}
        for target, tools in e.get("firmware", {}).items():
            for tool, m in tools.items():
                cfg = (run0["tools"].get(tool) or {}).get("config", {})
                cfg_s = ", ".join(f"{k}={v}" for k, v in cfg.items()
                                  if k != "method" and CONFIG_DEFAULTS.get(k, object()) != v)
                # built as select says to ship it: export --small-code / --weights-as-code
                cfg_s += "".join(f", {s.key.replace('_', ' ')}" for s in SWITCHES
                                 if m.get(s.key))
                per = (f"{m['per_inference']:,.0f} / {m['per_inference_max']:,} {m['unit']}"
                       if m.get("per_inference") is not None else "–")
                ram = (f"{_f(m.get('ram_bytes'))} + {_f(m.get('stack_bytes'))}"
                       if m.get("ram_bytes") is not None else "–")
                lines.append(f"| {ds} | {target} | {tool} | {cfg_s} | "
                             f"{_f(m.get('model_data_bytes'))} | {_f(m.get('flash_bytes'))} | "
                             f"{ram} | {per} | {m['status']} |")
    tally = targets_tally(record)
    lines += ["", "## The issue's targets", "",
              "| data set | bdnn model | Δ vs MLP (points) | within 1 pt | MLP / bdnn data | "
              "MLP / (bdnn data + quantizer keys) | "
              "best tree | bdnn model vs tree | flash bdnn / tree (M0) | Δ vs tree (points) | "
              "as accurate at ≤ flash | speed-up vs tree (M0 instr.) | "
              "bdnn at ≤ tree's flash and instr.: Δ vs tree (seeds) | its speed-up | "
              "≤ flash, faster and as accurate |",
              "|---|---|--:|:-:|--:|--:|---|---|--:|--:|:-:|--:|--:|--:|:-:|"]
    n = {"acc": 0, "tree": 0, "fast": 0, "data": 0, "whole": 0}
    for ds, r in tally.items():
        if not r:
            lines.append(f"| {ds} | none fits |||||||||||")
            continue
        n["acc"] += bool(r.get("within_1pt_of_mlp"))
        n["data"] += bool(r.get("data_ratio") and r["data_ratio"] >= 10)
        n["tree"] += bool(r.get("as_accurate_as_tree_at_le_flash"))
        n["fast"] += bool(r.get("faster_than_tree"))
        n["whole"] += bool(r.get("tree_target"))
        if r.get("delta_tree_points_fast") is not None:
            fast_cell = (f"{r['delta_tree_points_fast']:+.1f} ({r['fast_seeds']}) | "
                         f"{r['speedup_fast']:.1f}")
        else:
            fast_cell = f"{r.get('fast_vs_tree', '–')} | –"
        lines.append(
            f"| {ds} | {r['bdnn']} | {r['delta_mlp_points']:+.1f} | "
            f"{'hit' if r['within_1pt_of_mlp'] else '**miss**'} | "
            f"{_f(r.get('data_ratio'), '{:.1f}')} | "
            f"{_f(r.get('data_ratio_with_quantizer'), '{:.1f}')} | "
            f"{r.get('best_tree') or '–'} | {r.get('bdnn_vs_tree', '–')} | "
            f"{_f(r.get('flash_bdnn'))} / {_f(r.get('flash_tree'))} | "
            f"{_f(r.get('delta_tree_points'), '{:+.1f}')} | "
            f"{'hit' if r.get('as_accurate_as_tree_at_le_flash') else '**miss**'} | "
            f"{_f(r.get('speedup_vs_tree'), '{:.1f}')} | {fast_cell} | "
            f"{'hit' if r.get('tree_target') else '**miss**'} |")
    total = len(tally)
    lines += ["", f"Totals over {total} data sets: within 1 point of the MLP {n['acc']}, "
              f">= 10x less model data {n['data']}, at least as accurate as the best tree/forest "
              f"at <= M0 flash {n['tree']}, faster than it on M0 {n['fast']}; under its flash "
              f"and instructions per inference (the pick that is smaller and faster by its "
              f"budgets) as accurate on every seed, and faster measured: {n['whole']}.", ""]
    lines += coin_flip_table(record)
    for ds in record["datasets"] if plots is not None else ():
        lines.append(f"![{ds}: test accuracy vs Cortex-M0 flash]({plots}/accuracy_{ds}.png)")
    return "\n".join(lines) + "\n"


def coin_flip_table(record: dict) -> list[str]:
    """Markdown: per uniform data set and tool, mean test accuracy on the rows whose labels
    carry signal and on the coin-flip rows (``coin_flip_rows``), over the seeds."""
    rows = []
    for ds, entry in record["datasets"].items():
        runs = [r for r in entry["runs"]
                if any(t and "test_accuracy_signal" in t for t in r["tools"].values())]
        if not runs:
            continue
        for tool in TOOLS:
            recs = [r["tools"][tool] for r in runs if r["tools"].get(tool)]
            if not recs:
                continue
            sig = [t["test_accuracy_signal"] for t in recs]
            flip = [t["test_accuracy_coin_flips"] for t in recs]
            n_flip = sum(t["n_test_coin_flips"] for t in recs) / len(recs)
            test = np.mean([t["test_accuracy"] for t in recs])
            rows.append(f"| {ds} | {tool} | {len(recs)} | {test:.3f} | "
                        f"{np.mean(sig):.3f} ({min(sig):.3f}-{max(sig):.3f}) | "
                        f"{np.mean(flip):.3f} | {n_flip:.0f} |")
    if not rows:
        return []
    return ["## Uniform data sets: where the labels carry signal", "",
            "A third of the uniform sets' points lie in [-1, 1]^n with labels that carry no "
            "signal (no classifier beats chance on them), so every tool that classifies the "
            "other rows right scores about 2/3 + 1/3 x 1/2 and the differences between the "
            "tools' test accuracies are coin flips on those rows. Mean over the seeds:", "",
            "| data set | tool | seeds | test accuracy | on the rows with signal (min-max) | "
            "on the coin-flip rows | coin-flip test rows per seed |",
            "|---|---|--:|--:|--:|--:|--:|", *rows, ""]


COLOURS = {"mlp": "tab:blue", "tree": "tab:green", "forest": "tab:olive",
           "bdnn-10": "tab:red", "bdnn-30": "tab:purple", "bdnn-tree-flash": "tab:orange",
           "bdnn-forest-flash": "tab:brown", "bdnn-tree-fast": "tab:pink",
           "bdnn-forest-fast": "tab:gray"}


def plot(record: dict, ds: str, path: Path) -> bool:
    """Mean test accuracy (error bar: sd) vs Cortex-M0 flash of seed 0's model, every tool."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not installed: no plot")
        return False
    e = record["datasets"][ds]
    fwd = e.get("firmware", {}).get("cortex-m0", {})
    s = e.get("summary", {})
    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=110)
    any_point = False
    for tool in TOOLS:
        m, v = fwd.get(tool, {}), s.get(tool, {})
        if m.get("flash_bytes") is None or v.get("test_mean") is None:
            continue
        ax.errorbar(m["flash_bytes"], v["test_mean"], yerr=v["test_sd"], fmt="o", ms=7,
                    color=COLOURS[tool], label=f"{tool} ({m['model_data_bytes']:,} B data)",
                    capsize=3, alpha=0.85)
        any_point = True
    if not any_point:
        plt.close(fig)
        return False
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    # label the 2x, 3x and 5x minor ticks only: all of them overlap
    ax.xaxis.set_minor_formatter(FuncFormatter(
        lambda v, _: f"{v:,.0f}" if f"{v:.0f}"[0] in "235" else ""))
    ax.tick_params(axis="x", which="minor", labelsize=8)
    ax.set_xlabel("Cortex-M0 flash of the minimal program (bytes, log)")
    ax.set_ylabel(f"test accuracy (mean ± sd, {len(e['runs'])} seeds)")
    ax.set_title(f"{ds}: accuracy vs flash, float input")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sklearn

    return (f"{platform.node()}, {cpu}, {os.cpu_count()} cores shared with other jobs (counts, "
            f"not timings); Python {platform.python_version()}, scikit-learn "
            f"{sklearn.__version__}, emlearn {fw.import_emlearn().__version__}")


def write_json(path: Path, record: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)


def merge_records(records: list[dict]) -> dict:
    """One record from the records of runs over disjoint data sets (e.g. two processes), the
    data sets in ``DATASETS`` order; the commands, dates and code versions are all kept."""
    out = {k: v for k, v in records[0].items() if k != "datasets"}
    out["command"] = " && ".join(r["command"] for r in records)
    out["date"] = ", ".join(dict.fromkeys(r["date"] for r in records))
    out["code_version"] = ", ".join(dict.fromkeys(r["code_version"] for r in records))
    out["elapsed_s"] = max(r.get("elapsed_s", 0) for r in records)
    out["complete"] = all(r.get("complete") for r in records)
    # a later record's data set replaces an earlier one's (rerun a few sets, merge over the old
    # run); each data set keeps where it came from
    found = {ds: {**e, "run": e.get("run") or {k: r.get(k) for k in (
                 "command", "date", "code_version", "time_limit")}}
             for r in records for ds, e in r["datasets"].items()}
    order = [d for d in DATASETS if d in found] + [d for d in found if d not in DATASETS]
    out["datasets"] = {ds: found[ds] for ds in order}
    out["targets_tally"] = targets_tally(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: iris, 2 seeds, tiny grids, 2 s per bdnn training")
    ap.add_argument("--datasets", default=None, help=f"comma-separated ({','.join(DATASETS)})")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds (default 0,1,2,3,4)")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--time-limit", type=float, default=None,
                    help=f"seconds per bdnn training (default {BDNN_TIME_LIMIT:g})")
    ap.add_argument("--no-select", action="store_true",
                    help="use the bdnn train grid even when `bdnn select` exists")
    ap.add_argument("--scheduler", default=None,
                    help="Dask scheduler for bdnn select (default: a LocalCluster started once "
                         "for the whole run)")
    ap.add_argument("--processes", type=int, default=2,
                    help="worker processes of that LocalCluster (default 2)")
    ap.add_argument("--work", type=Path, default=None, help="where bdnn model files go")
    ap.add_argument("--json", type=Path, default=None, help="results JSON (written as it goes)")
    ap.add_argument("--md", type=Path, default=None, help="the Markdown summary")
    ap.add_argument("--plots", type=Path, default=None, help="directory for the PNG plots")
    ap.add_argument("--reuse", type=Path, nargs="+", default=None,
                    help="results JSON of earlier runs: their MLP, tree and forest choices "
                         "(same data set and seed) are refitted instead of tuned again")
    ap.add_argument("--merge", type=Path, nargs="+", default=None,
                    help="run nothing: merge these results JSON files (a data set in a later "
                         "file replaces the same set in an earlier one) and write --json, --md "
                         "and --plots from them")
    args = ap.parse_args(argv)
    # the report links the plots where it can name them relative to itself
    links = (os.path.relpath(args.plots.resolve(), args.md.resolve().parent)
             if args.plots and args.md else None)
    if args.merge:
        record = merge_records([json.loads(f.read_text()) for f in args.merge])
        if args.json:
            write_json(args.json, record)
        for ds in record["datasets"] if args.plots else ():
            args.plots.mkdir(parents=True, exist_ok=True)
            plot(record, ds, args.plots / f"accuracy_{ds}.png")
        md = render_md(record, links)
        if args.md:
            args.md.write_text(md)
        print(md)
        return 0
    q = dict(QUICK) if args.quick else {
        "datasets": DATASETS, "seeds": SEEDS, "mlp_shapes": MLP_SHAPES,
        "mlp_solvers": MLP_SOLVERS, "tree_depths": TREE_DEPTHS, "forest_trees": FOREST_TREES,
        "forest_depths": FOREST_DEPTHS, "bdnn_grid": BDNN_GRID, "time_limit": BDNN_TIME_LIMIT,
        "n_timed": N_TIMED}
    if args.time_limit:
        q["time_limit"] = args.time_limit
    datasets = args.datasets.split(",") if args.datasets else list(q["datasets"])
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(q["seeds"])
    targets = [t for t in args.targets.split(",") if t]
    use_select = not args.no_select and has_select()
    work = args.work or Path(tempfile.mkdtemp(prefix="bdnn-accbench-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    record = {
        "command": " ".join(["python3", "benchmarks/accuracy.py", *(argv if argv is not None
                                                                   else sys.argv[1:])]),
        "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "code_version": code_version(), "machine": machine(),
        "bdnn_mode": ("bdnn select --max-model-bytes B (its default grid, --time-limit "
                      f"{q['time_limit']:g}, 1 CP-SAT worker per training, one Dask cluster of "
                      f"{args.processes} worker processes for the whole run; the 1/30 pick "
                      "resumes the 1/10 sweep, training nothing again; the picks under the "
                      "tree's and forest's M0 flash, bdnn select --target cortex-m0 --entry "
                      "predict --max-flash F, resume it too and train only the default "
                      "grid's few-input configurations; the picks under that flash and the "
                      "tree's or forest's mean M0 instructions per inference add --max-cycles "
                      "C)" if use_select else
                      f"{'--no-select' if args.no_select else 'bdnn select unavailable'}: "
                      "bdnn train --method auto (split above "
                      f"{LARGE_TRAIN} train rows) --workers 1 over hidden x input bits "
                      f"{[(list(h), b) for h, b in q['bdnn_grid']]}, chosen here on the "
                      "validation part"),
        "time_limit": q["time_limit"], "seeds": seeds, "targets": targets,
        "datasets": {}, "complete": False,
    }

    def save() -> None:
        record["elapsed_s"] = round(time.monotonic() - t0, 1)
        if args.json:
            write_json(args.json, record)

    reuse: dict = {}
    for f in args.reuse or ():
        for ds, e in json.loads(f.read_text())["datasets"].items():
            for r in e["runs"]:
                reuse.setdefault(ds, {})[r["seed"]] = r["tools"]
    if reuse:
        record["reused_choices_from"] = [str(f) for f in args.reuse]
    log(f"bdnn: {record['bdnn_mode']}; models in {work}")
    with select_cluster(use_select, args.scheduler, args.processes) as scheduler:
        for ds in datasets:
            run_dataset(ds, seeds, q, work, targets, use_select, record, save, scheduler,
                        reuse)
            if args.plots:
                args.plots.mkdir(parents=True, exist_ok=True)
                plot(record, ds, args.plots / f"accuracy_{ds}.png")
            if args.md:
                args.md.write_text(render_md(record, links))
    record["complete"] = True
    record["targets_tally"] = targets_tally(record)
    save()
    md = render_md(record, links)
    if args.md:
        args.md.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
