"""Firmware benchmark: bdnn against emlearn (scikit-learn MLP -> float C) on real
microcontroller builds, side by side.

    python3 benchmarks/firmware.py [--quick] [--retrain] [--out docs/benchmarks-firmware.md]
    python3 benchmarks/firmware.py --quantizer pow2 --out docs/benchmarks-firmware-pow2.md

For each data set (paper split, seed 0) and hidden widths (4,) and (8,) it trains a bdnn network
(CP-SAT, `bdnn train --method auto`, 60 s, 2 workers; saved under benchmarks/models/ and reused)
and a scikit-learn ``MLPClassifier`` of the same widths on standardised inputs, exports both to C
(bdnn: ``codegen.c_export``; emlearn: ``emlearn.convert(mlp, method="inline")``) and builds both
with the same firmware (start-up code, board support, Makefile, compiler flags: -Os,
--gc-sections) for Cortex-M0, M3, M4F, the ATmega328P, RV32IMC and RV32EC (emlearn's C builds
for RISC-V as plain C). Measured per build:

- model data bytes: the weight and bias/threshold arrays of the model object (``nm -S``);
- flash / static RAM of a minimal program (no output code, no test vectors; ``size -A``) and
  the stack of one inference (painted on the emulator);
- per inference: instructions on Cortex-M (QEMU ``-singlestep -d exec,nochain`` trace between
  the runner's markers: ``codegen.targets.measure.count_instructions``), CPU cycles on AVR
  (Timer1 under simavr), over the first test rows;
- test accuracy of the C running on the emulator over every test row, and its agreement with
  the Python reference (bdnn: the numpy forward pass; emlearn: scikit-learn's predict).

Both tools are fed the same raw float32 features, as a user calls them: bdnn's
``NAME_predict(const float *)`` (the quantizer included; its flash, model data and any library
code it pulls in are counted), emlearn's ``eml_net_predict`` on an MLP whose first layer absorbs
the standardisation (``W / sigma``, ``b - (mu / sigma) W``: no preprocessing code at all, the
most favourable way to feed emlearn raw features). bdnn's ``NAME_predict_q`` (inputs already
quantized) is measured as a third column.

``--quantizer pow2`` measures the twins of these nets trained with ``--quantizer pow2`` (same
data, widths and seed; ``benchmarks/models/pow2/``): their C computes each level from the
float's bits with a shift and an offset per input (2-3 bytes) instead of level keys (4 bytes per
level), and the accuracy table shows the uniform twin's test accuracy beside the pow2 net's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bdnn.data import load_dataset  # noqa: E402
from bdnn.errors import BDNNError  # noqa: E402
from bdnn.model_file import load_network  # noqa: E402
from bdnn.network import Network  # noqa: E402
from codegen.level_keys import quantizer_bytes  # noqa: E402
from codegen.size_report import size_report, target_data_bytes  # noqa: E402
from codegen.targets.build import (  # noqa: E402
    Project,
    config_mk,
    firmware_source_files,
    first_error_line,
    make,
    write_project,
    write_vectors,
)
from codegen.targets.measure import (  # noqa: E402
    check_against_reference,
    count_instructions,
    flash_and_ram,
    run_firmware,
    section_sizes,
    symbol_ranges,
)
from codegen.targets.output import FirmwareRun, parse_runner_output  # noqa: E402
from codegen.targets.process import emulator_timeout, run_command  # noqa: E402
from codegen.targets.registry import Target, get_target  # noqa: E402
from codegen.targets.toolchain import toolchain_available  # noqa: E402

MODELS_DIR = ROOT / "benchmarks" / "models"
HARNESS_DIR = ROOT / "benchmarks" / "firmware_harness"
DEFAULT_OUT = ROOT / "docs" / "benchmarks-firmware.md"
PLOT_NAME = "firmware_bytes_vs_accuracy.png"
RATIO_PLOT_NAME = "firmware_float_input_speed_ratio.png"

DATASETS = ("iris", "bcw", "breast-cancer", "digits")
QUICK_DATASETS = ("iris",)
HIDDEN = ((4,), (8,))
TARGETS = ("cortex-m0", "cortex-m3", "cortex-m4", "avr", "rv32imc", "rv32ec")
UNIT = {"instructions": "instr.", "cycles": "cycles"}
TARGET_LABEL = {"cortex-m0": "M0", "cortex-m3": "M3", "cortex-m4": "M4F", "avr": "AVR",
                "rv32imc": "RV32IMC", "rv32ec": "RV32EC"}
SEED = 0
TRAIN_SECONDS = 60.0
TRAIN_WORKERS = 2
N_TIMED = 16  # test rows traced / timed per build (a QEMU trace is one line per instruction)
N_TIMED_QUICK = 4
# RAM a program needs beyond its static data: one inference's stack (measured: at most ~140 B
# for emlearn, ~70 B for bdnn on the ATmega328P) plus the runner's frames
STACK_RESERVE = 256
# flash bytes of test vectors per firmware image (more rows run in several images): half of
# what verify puts in one image (the family's max_vector_bytes)
VECTOR_BUDGET_SHARE = 2
VECTOR_SLACK = 256  # flash for the vector arrays' alignment and the runner's longer loops

EML_NAME = "mlp"  # prefix of the emlearn-generated C
BDNN_NAME = "model"
# bit-planes, thresholds (and a DSP-form base), output score offsets
BDNN_DATA = re.compile(rf"^{BDNN_NAME}_(w\d+|threshold\d+(_base)?|offset\d+)$")
# the float input's quantizer: level keys (BDNN_FLOAT_QUANTIZER 0) or lo / scale (1), or the
# pow2 quantizer's exponent and offset (BDNN_POW2_QUANTIZER 1)
BDNN_QUANTIZER = re.compile(rf"^{BDNN_NAME}_(level_key|level_row|lo|scale|q_exponent|q_offset)$")
BDNN_DATA_FLOAT = re.compile(f"{BDNN_DATA.pattern}|{BDNN_QUANTIZER.pattern}")
# appended to config.mk: the runner times NAME_predict on the rows' float inputs and the size
# program calls NAME_predict (the float API and whatever it pulls in are linked)
FLOAT_ENTRY_CONFIG = ("EXTRA_CFLAGS += -DRUNNER_TIMES_PREDICT", "SIZE_CFLAGS = -DSIZE_FLOAT_INPUT")
EML_DATA = re.compile(rf"^{EML_NAME}_layer_\d+_(weights|biases)$")
# an inline float tree or forest (emlearn ``method="inline"``, ``dtype="float"``) is code
EML_TREE_CODE = re.compile(rf"^{EML_NAME}_(predict|tree_\d+)(\.\w+)*$")  # gcc: .constprop.0

# the targets of the issue: emlearn / bdnn at least this much
GOAL_DATA = 5.0  # model data including the quantizer
GOAL_SPEED = {"cortex-m0": 10.0, "cortex-m3": 10.0, "cortex-m4": 3.0, "avr": 10.0,
              "rv32imc": 10.0, "rv32ec": 10.0}
GOAL_ACC_POINTS = 1.0


@dataclass
class Measurement:
    """One tool's model on one target."""

    dataset: str
    hidden: str
    target: str
    tool: str  # "bdnn" or "emlearn"
    status: str  # "ok" or why it was not measured
    model_data_bytes: int | None = None  # bdnn: with the quantizer of the float input
    model_object_bytes: int | None = None  # flash of the model object: code + data
    flash_bytes: int | None = None  # minimal program
    ram_bytes: int | None = None  # minimal program, static (.data + .bss; AVR: + .rodata)
    stack_bytes: int | None = None
    unit: str = ""
    per_inference: float | None = None  # mean over the timed rows
    per_inference_max: int | None = None
    c_accuracy: float | None = None  # the C on the emulator, every test row
    agree: int | None = None  # rows where the C equals the Python reference
    n_test: int = 0
    # bdnn only: the quantizer's share of model_data_bytes, and NAME_predict_q (quantized
    # inputs): per inference and the flash of the minimal program that calls it
    quantizer_bytes: int | None = None
    per_inference_q: float | None = None
    flash_bytes_q: int | None = None


# ---------------------------------------------------------------- models


@dataclass
class Case:
    """One data set and architecture with both trained models and the test rows."""

    dataset: str
    hidden: tuple[int, ...]
    net: Network
    Q_test: np.ndarray  # bdnn quantized test rows
    X_test: np.ndarray  # raw float32 test rows: the input of both tools
    y_test: np.ndarray
    bdnn_pred: np.ndarray  # numpy reference (Network.forward of the float rows)
    mlp_pred: np.ndarray  # scikit-learn (the MLP with the scaler folded in, on X_test)
    emlearn_code: str
    n_inputs: int
    n_classes: int
    train_seconds: float | None

    @property
    def label(self) -> str:
        return "-".join(str(v) for v in (self.n_inputs, *self.hidden, self.n_classes))

    #: the uniform twin's test accuracy when ``net`` is of another model set (else None)
    uniform_accuracy: float | None = None

    def accuracy(self, tool: str) -> float:
        pred = self.bdnn_pred if tool == "bdnn" else self.mlp_pred
        return float(np.mean(pred == self.y_test))


#: the model sets (``--quantizer``): the quantizer kind -> (directory, training workers). The
#: pow2 twins were trained with 1 worker (the machine was shared), the uniform nets with 2.
MODEL_SETS = {"uniform": (MODELS_DIR, TRAIN_WORKERS), "pow2": (MODELS_DIR / "pow2", 1)}


def model_path(dataset: str, hidden: tuple[int, ...], quantizer: str = "uniform") -> Path:
    return MODEL_SETS[quantizer][0] / f"{dataset}-h{'-'.join(map(str, hidden))}.json"


def bdnn_network(dataset: str, hidden: tuple[int, ...], retrain: bool,
                 quantizer: str = "uniform") -> Network:
    """The saved bdnn model of the ``quantizer`` set, trained with the CLI first when missing
    (or with ``retrain``)."""
    path = model_path(dataset, hidden, quantizer)
    if retrain or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable, "-m", "bdnn", "train", dataset, "--hidden", ",".join(map(str, hidden)),
            "--method", "auto", "--time-limit", str(TRAIN_SECONDS), "--workers",
            str(MODEL_SETS[quantizer][1]), "--seed", str(SEED), "--quiet", "-o", str(path),
            *(["--quantizer", quantizer] if quantizer != "uniform" else []),
        ]
        print(f"  training bdnn: {' '.join(argv[1:])}", flush=True)
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BDNNError(f"training {dataset} {hidden} failed: {proc.stderr.strip()[-300:]}")
    return load_network(path)


def train_mlp(X: np.ndarray, y: np.ndarray, hidden: tuple[int, ...]):
    """A standardised scikit-learn MLP (default solver, ReLU), deterministic by its seed."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X)
    mlp = MLPClassifier(hidden_layer_sizes=hidden, max_iter=3000, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(scaler.transform(X), y)
    return scaler, mlp


def fold_scaler(scaler, mlp) -> None:
    """Fold ``scaler`` into the MLP's first layer, so the MLP takes raw features:
    ``((x - mu) / sigma) W + b = x (W / sigma) + (b - (mu / sigma) W)``."""
    W, b = mlp.coefs_[0], mlp.intercepts_[0]
    mlp.coefs_[0] = W / scaler.scale_[:, None]
    mlp.intercepts_[0] = b - (scaler.mean_ / scaler.scale_) @ W


def import_emlearn():
    """``import emlearn``, keeping numpy's error handling: emlearn 0.23.2's ``bayes`` module runs
    ``numpy.seterr(all="raise")`` on import, after which scikit-learn's adam solver dies on a
    harmless float underflow."""
    saved = np.geterr()
    try:
        import emlearn
    finally:
        np.seterr(**saved)
    return emlearn


def emlearn_c(mlp, method: str = "loadable") -> str:
    """emlearn's C for the MLP: ``emlearn.convert(mlp, method=...).save(name=...)``.

    ``save`` writes emlearn's default "loadable" code (an ``EmlNet`` struct run by
    ``eml_net_predict``). Its "inline" generator fails in emlearn 0.23.2 for float MLPs
    (``cgen.constant_declare`` formats the activation enum name as an int); ``inline`` here
    renders it with that one declaration written as an enum constant instead.
    """
    model = import_emlearn().convert(mlp, method=method)
    if method == "loadable":
        return model.save(name=EML_NAME)
    from emlearn import cgen

    original = cgen.constant_declare

    def declare(name, val, dtype="int"):
        if isinstance(val, str):  # EmlNetActivation* enum constant
            return f"static const EmlNetActivationFunction {name} = {val}; "
        return original(name, val, dtype)

    cgen.constant_declare = declare
    try:
        return model.save(name=EML_NAME, inference=["inline"])
    finally:
        cgen.constant_declare = original


def make_case(dataset: str, hidden: tuple[int, ...], retrain: bool, eml_method: str,
              quantizer: str = "uniform") -> Case:
    ds = load_dataset(dataset, split="paper", seed=SEED)
    X, y = ds.train_part()
    Xt, yt = ds.test_part()
    net = bdnn_network(dataset, hidden, retrain, quantizer)
    Xt = np.asarray(Xt, np.float32)
    uniform_acc = None
    if quantizer != "uniform" and model_path(dataset, hidden).exists():
        twin = load_network(model_path(dataset, hidden))
        uniform_acc = float(np.mean(twin.forward(Xt).class_index == yt))
    Qt = net.quantizer.quantize(Xt)
    scaler, mlp = train_mlp(X, y, hidden)
    fold_scaler(scaler, mlp)
    return Case(
        dataset=dataset, hidden=hidden, net=net, Q_test=Qt, X_test=Xt,
        y_test=yt, bdnn_pred=net.forward(Xt).class_index,
        mlp_pred=mlp.predict(Xt.astype(np.float64)),
        emlearn_code=emlearn_c(mlp, eml_method), n_inputs=X.shape[1], n_classes=len(ds.classes),
        train_seconds=net.training.get("seconds"), uniform_accuracy=uniform_acc,
    )


# ---------------------------------------------------------------- measuring


def data_symbol_bytes(nm_tool: str, obj: Path, pattern: re.Pattern) -> int:
    """Sum of the sizes of the symbols of ``obj`` whose names match ``pattern`` (``nm -S``)."""
    proc = subprocess.run([nm_tool, "-S", "--size-sort", str(obj)], capture_output=True,
                          text=True, check=True)
    total = 0
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and pattern.match(parts[3]):
            total += int(parts[1], 16)
    return total


def declared_data_bytes(t: Target, work: Path, source: str, pattern: re.Pattern,
                        extra: tuple[str, ...] = ("-DBDNN_NO_FLOAT",)) -> int:
    """Bytes of the model's weight and bias arrays as declared: ``nm -S`` of the model compiled
    at -O0 for the target. At -Os gcc may fold a small constant array into immediate operands
    (it does for bdnn's output layers), so the -Os object can hide part of the data in code."""
    obj = work / "data_probe.o"
    cmd = [t.family.cc, *t.cflags, "-std=c99", "-O0", *extra, "-c", source, "-o", obj.name]
    res = run_command(cmd, cwd=work, timeout=None, what="compiling the data probe")
    if res.returncode != 0:
        raise BDNNError(f"data probe for {t.name} failed: {res.stderr.strip()[:300]}")
    return data_symbol_bytes(t.family.nm_tool, obj, pattern)


def sizes_of(m: Measurement, t: Target, work: Path, name: str, pattern: re.Pattern,
             extra: tuple[str, ...]) -> None:
    elf, obj = work / "size.elf", work / f"size_{name}.o"
    size_tool = t.family.size_tool
    m.flash_bytes, m.ram_bytes = flash_and_ram(section_sizes(size_tool, elf), t.family)
    m.model_object_bytes = flash_and_ram(section_sizes(size_tool, obj), t.family)[0]
    m.model_data_bytes = declared_data_bytes(t, work, f"{name}.c", pattern, extra)


def chunks(n_rows: int, bytes_per_row: int, t: Target, elf: Path) -> list[tuple[int, int]]:
    """Row ranges of the test set, one per firmware image: the vector budget, and no more than
    the flash left beside ``elf`` (the runner built with one row of vectors; on a 16 KB
    rv32ec that is the tighter bound)."""
    program, _ram = flash_and_ram(section_sizes(t.family.size_tool, elf), t.family)
    free = t.flash_bytes - (program - bytes_per_row) - VECTOR_SLACK
    if free < bytes_per_row:
        raise BDNNError(f"does not fit: the runner takes {program:,} B of the {t.flash_bytes:,} "
                        f"B of flash, leaving no room for test vectors")
    step = max(1, min(t.family.max_vector_bytes // VECTOR_BUDGET_SHARE, free) // bytes_per_row)
    return [(a, min(n_rows, a + step)) for a in range(0, n_rows, step)]


def traced_counts(t: Target, elf: Path, run_once) -> list[int]:
    """Instructions of each timed inference: one traced emulator run, counted between markers."""
    trace = elf.parent / "trace.log"
    try:
        run_once(trace)
        return count_instructions(trace, symbol_ranges(t.family.nm_tool, elf))
    finally:
        trace.unlink(missing_ok=True)


def _bdnn_entry(project: Project, float_entry: bool) -> None:
    """Configure the project for ``NAME_predict`` (float input) or ``NAME_predict_q`` and drop
    the previous build (the Makefile does not track config.mk)."""
    t = project.target
    text = config_mk(t, project.name)
    if float_entry:
        text += "\n".join(FLOAT_ENTRY_CONFIG) + "\n"
    (project.path / "config.mk").write_text(text)
    for f in [*project.path.glob("*.o"), *project.path.glob("*.elf")]:
        f.unlink()


def _bdnn_timed(project: Project, case: Case, n_timed: int) -> list[int]:
    """Instructions (trace) or cycles (the runner's T records) of the entry the project is
    configured for, on the first ``n_timed`` test rows (outputs checked first)."""
    t, net = project.target, case.net
    run = _bdnn_run(project, net, case.Q_test[:n_timed], case.X_test[:n_timed])
    if not t.family.counts_from_trace:
        return list(run.cycles[:n_timed])
    return traced_counts(t, project.path / "prog.elf", lambda trace: run_firmware(
        project, net, n_timed, trace_log=trace))[:n_timed]


def measure_bdnn(case: Case, t: Target, work: Path, n_timed: int) -> Measurement:
    """bdnn's own firmware project and runner (``codegen.targets``), on the test rows:
    ``NAME_predict`` of the raw float rows (sizes, accuracy, per inference) and
    ``NAME_predict_q`` of their quantized codes (per inference, flash)."""
    m = Measurement(case.dataset, case.label, t.name, "bdnn", "ok", unit=t.family.counts,
                    n_test=len(case.y_test))
    net, Q, X = case.net, case.Q_test, case.X_test
    project = write_project(net, t, work, BDNN_NAME, Q[:0])
    # NAME_predict_q: per inference and the flash of a program calling it
    _bdnn_entry(project, float_entry=False)
    make(project, "size.elf")
    m.flash_bytes_q = flash_and_ram(section_sizes(t.family.size_tool, work / "size.elf"),
                                    t.family)[0]
    per_q = _bdnn_timed(project, case, n_timed)
    m.per_inference_q = float(np.mean(per_q))
    # NAME_predict: everything else
    _bdnn_entry(project, float_entry=True)
    make(project, "size.elf")
    sizes_of(m, t, work, BDNN_NAME, BDNN_DATA_FLOAT, ())
    m.quantizer_bytes = declared_data_bytes(t, work, f"{BDNN_NAME}.c", BDNN_QUANTIZER, ())
    plan = size_report(net, t.family.word_bits)["total"]
    q = net.quantizer
    # a DSP core (M4F, M7) compiles the DSP form of a ternary first layer (plan.DspTernary),
    # AVR its columns form (plan.ColumnsKernel)
    network_bytes = target_data_bytes(plan, t)
    keys, lo_scale = quantizer_bytes(q, False), quantizer_bytes(q, True)
    pow2 = quantizer_bytes(q, False, pow2_steps=True) if q.pow2_steps else None
    if (m.model_data_bytes != network_bytes + m.quantizer_bytes
            or m.quantizer_bytes not in (keys, lo_scale, pow2)):
        raise BDNNError(f"bdnn data bytes on {t.name}: nm says {m.model_data_bytes} "
                        f"(quantizer {m.quantizer_bytes}), codegen.size_report {network_bytes} "
                        f"+ level keys {keys}, lo/scale {lo_scale} or pow2 {pow2}")
    classes = []
    from codegen.targets.vectors import vector_bytes_per_row

    write_vectors(project, net, Q[:1], X[:1])
    make(project, "prog.elf")  # with one row: what the runner itself takes
    for a, b in chunks(len(Q), vector_bytes_per_row(net), t, work / "prog.elf"):
        run = _bdnn_run(project, net, Q[a:b], X[a:b])
        classes.append(run.classes)
        m.stack_bytes = run.stack_bytes
    c_pred = np.concatenate(classes)
    m.c_accuracy = float(np.mean(c_pred == case.y_test))
    m.agree = int(np.sum(c_pred == case.bdnn_pred))
    per = _bdnn_timed(project, case, n_timed)
    m.per_inference, m.per_inference_max = float(np.mean(per)), int(max(per))
    return m


def _bdnn_run(project: Project, net: Network, Q: np.ndarray, X: np.ndarray) -> FirmwareRun:
    """Run the rows ``Q`` and their float rows ``X`` (``Q`` = their levels); the runner checks
    ``NAME_predict`` and ``NAME_quantize`` of ``X`` too (its mismatch count)."""
    write_vectors(project, net, Q, X)
    make(project, "prog.elf")
    run = run_firmware(project, net, len(Q))
    check_against_reference(run, net, Q, f"bdnn on {project.target.name}")
    return run


def _c_floats(values: np.ndarray) -> str:
    # hex float literals are exact: the C reads the very float32 values Python holds
    vals = [float(v).hex() + "f" for v in np.asarray(values, np.float32).reshape(-1)] or ["0"]
    return ",\n".join(", ".join(vals[i:i + 8]) for i in range(0, len(vals), 8))


def write_emlearn_project(code: str, n_inputs: int, t: Target, work: Path) -> None:
    """bdnn's firmware sources for the target, with the emlearn runner and size program around
    emlearn's generated C ``code`` (any model whose C entry is
    ``int32_t mlp_predict(const float *, int32_t)``: an MLP, or an inline float tree/forest
    generated with ``name=EML_NAME``)."""
    emlearn = import_emlearn()

    work.mkdir(parents=True, exist_ok=True)
    for fname, data in firmware_source_files(t).items():
        (work / fname).write_bytes(data)
    shutil.copy(HARNESS_DIR / "emlearn_runner.c", work / "runner.c")
    shutil.copy(HARNESS_DIR / "emlearn_main_size.c", work / "main_size.c")
    (work / f"{EML_NAME}.c").write_text(code)
    (work / f"{EML_NAME}.h").write_text(
        f"#include <stdint.h>\nint32_t {EML_NAME}_predict(const float *in, int32_t in_length);\n"
    )
    (work / "emlearn_glue.h").write_text(
        "#ifndef EML_GLUE_H\n#define EML_GLUE_H\n"
        f'#include "{EML_NAME}.h"\n#define EML_N_INPUTS {n_inputs}u\n'
        f"#define EML_PREDICT(x) {EML_NAME}_predict((x), (int32_t)EML_N_INPUTS)\n#endif\n"
    )
    (work / "config.mk").write_text(config_mk(t, EML_NAME))
    (work / ".emlearn_include").write_text(emlearn.includedir)


def write_emlearn_vectors(work: Path, Z: np.ndarray, expected: np.ndarray) -> None:
    n = len(Z)
    classes = ", ".join(str(int(c)) for c in expected) or "0"
    (work / "emlearn_vectors.h").write_text(
        "#ifndef EML_VECTORS_H\n#define EML_VECTORS_H\n#include <stdint.h>\n"
        '#include "platform.h"\n#include "emlearn_glue.h"\n'
        f"#define EML_VEC_COUNT {n}u\n"
        f"static const float eml_vec_x[{max(1, Z.size)}] VEC_STORAGE = {{\n{_c_floats(Z)}\n}};\n"
        f"static const uint8_t eml_vec_class[{max(1, n)}] VEC_STORAGE = {{ {classes} }};\n"
        "#endif\n"
    )


def make_emlearn(t: Target, work: Path, goal: str) -> None:
    """The target's Makefile with emlearn's headers on the include path and libm linked
    (its softmax / logistic call expf); -Wno-error because emlearn's headers warn."""
    inc = (work / ".emlearn_include").read_text()
    argv = ["make", "--no-print-directory", goal, f"EXTRA_CFLAGS=-I{inc} -Wno-error -w"]
    argv += t.family.libm_make_args
    res = run_command(argv, cwd=work, timeout=None, what=f"building emlearn {goal}")
    if res.returncode != 0:
        text = res.stdout + res.stderr
        over = re.search(r"region [`']?(\w+)'? overflowed by (\d+) bytes", text)
        if over:
            raise BDNNError(f"does not fit: region {over.group(1)} overflowed by "
                            f"{over.group(2)} bytes")
        outside = re.search(r"section [`']?([\w.]+)'? is not within region [`']?(\w+)", text)
        if outside:  # avr-ld's way of saying the same
            raise BDNNError(f"does not fit: section {outside.group(1)} lies beyond region "
                            f"{outside.group(2)} ({t.ram_bytes:,} B of RAM on the {t.board})")
        raise BDNNError(f"emlearn build for {t.name} failed: {first_error_line(text)[:300]}")


def _emlearn_run(t: Target, work: Path, n: int, trace: Path | None = None) -> FirmwareRun:
    timeout = emulator_timeout(n, traced=trace is not None)
    lines = t.family.run(t, work / "prog.elf", timeout, trace)
    return parse_runner_output(lines, n, 0, 0)


def measure_emlearn(case: Case, t: Target, work: Path, n_timed: int) -> Measurement:
    m = Measurement(case.dataset, case.label, t.name, "emlearn", "ok", unit=t.family.counts,
                    n_test=len(case.y_test))
    return measure_emlearn_code(m, case.emlearn_code, case.n_inputs, case.X_test, case.mlp_pred,
                                case.y_test, t, work, n_timed)


def measure_emlearn_code(m: Measurement, code: str, n_inputs: int, Z: np.ndarray,
                         ref: np.ndarray, y: np.ndarray, t: Target, work: Path, n_timed: int,
                         data_pattern: re.Pattern | None = EML_DATA,
                         all_rows: bool = True) -> Measurement:
    """Fill ``m`` for emlearn's C ``code`` on target ``t``: sizes, and per inference over the
    first ``n_timed`` rows of ``Z`` (float32 inputs as the C takes them). ``ref`` is the Python
    reference class of every row, ``y`` the true class. ``data_pattern`` names the model data
    symbols; ``None`` counts the code of the predict and tree functions in the minimal
    program as the model's data (inline trees: the model is code). With ``all_rows`` the C
    runs on every row for its accuracy; else only the timed rows run (``c_accuracy`` and
    ``agree`` then cover those rows)."""
    write_emlearn_project(code, n_inputs, t, work)
    write_emlearn_vectors(work, Z[:0], ref[:0])
    inc = (work / ".emlearn_include").read_text()
    if data_pattern is not None:
        m.model_data_bytes = declared_data_bytes(t, work, f"{EML_NAME}.c", data_pattern,
                                                 (f"-I{inc}", "-w"))
    try:
        make_emlearn(t, work, "size.elf")
    except BDNNError as e:
        if not str(e).startswith("does not fit"):
            raise
        m.status = str(e)
        return m
    if data_pattern is not None:
        sizes_of(m, t, work, EML_NAME, data_pattern, (f"-I{inc}", "-w"))
    else:
        elf, obj = work / "size.elf", work / f"size_{EML_NAME}.o"
        m.flash_bytes, m.ram_bytes = flash_and_ram(section_sizes(t.family.size_tool, elf),
                                                   t.family)
        m.model_object_bytes = flash_and_ram(section_sizes(t.family.size_tool, obj),
                                             t.family)[0]
        # the model is code: its predict function and whatever tree functions gcc kept
        m.model_data_bytes = data_symbol_bytes(t.family.nm_tool, elf, EML_TREE_CODE)
    if m.ram_bytes + STACK_RESERVE > t.ram_bytes:
        # emlearn keeps weights in .rodata: on AVR that is RAM too (no PROGMEM support)
        m.status = (f"does not fit: {m.ram_bytes:,} B static RAM leaves less than "
                    f"{STACK_RESERVE} B of the {t.ram_bytes:,} B for the stack")
        return m
    if not all_rows:
        Z, ref, y = Z[:n_timed], ref[:n_timed], y[:n_timed]
    classes, cycles = [], []
    write_emlearn_vectors(work, Z[:1], ref[:1])
    make_emlearn(t, work, "prog.elf")  # with one row: what the runner itself takes
    for a, b in chunks(len(Z), 4 * n_inputs + 1, t, work / "prog.elf"):
        write_emlearn_vectors(work, Z[a:b], ref[a:b])
        make_emlearn(t, work, "prog.elf")
        run = _emlearn_run(t, work, b - a)
        classes.append(run.classes)
        cycles += run.cycles
        m.stack_bytes = run.stack_bytes
    c_pred = np.concatenate(classes)
    m.c_accuracy = float(np.mean(c_pred == y))
    m.agree = int(np.sum(c_pred == ref))
    if not t.family.counts_from_trace:
        per = cycles[:n_timed]
    else:
        write_emlearn_vectors(work, Z[:n_timed], ref[:n_timed])
        make_emlearn(t, work, "prog.elf")
        per = traced_counts(t, work / "prog.elf",
                            lambda trace: _emlearn_run(t, work, n_timed, trace))[:n_timed]
    m.per_inference, m.per_inference_max = float(np.mean(per)), int(max(per))
    return m


def measure(case: Case, tool: str, target_name: str, n_timed: int) -> Measurement:
    t = get_target(target_name)
    ok, why = toolchain_available(t)
    if not ok:
        return Measurement(case.dataset, case.label, t.name, tool, f"skipped: {why}")
    work = Path(tempfile.mkdtemp(prefix=f"bdnn-fwbench-{tool}-{t.name}-"))
    try:
        fn = measure_bdnn if tool == "bdnn" else measure_emlearn
        return fn(case, t, work, min(n_timed, len(case.y_test)))
    except BDNNError as e:
        why = str(e)
        return Measurement(case.dataset, case.label, t.name, tool,
                           why if why.startswith("does not fit") else f"failed: {why}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- report


def _n(v, fmt="{:,}") -> str:
    return "–" if v is None else fmt.format(v)


def _ratio(a, b) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def results_table(results: list[Measurement], cases: dict) -> list[str]:
    rows = [
        "| data set | net | target | tool | model data B (bdnn: + quantizer) | model object B | "
        "flash B | RAM B (static + stack) | per inference (mean / max) | bdnn predict_q | "
        "C test acc. | C = reference |",
        "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for m in results:
        if m.status != "ok" and m.model_data_bytes is None:
            rows.append(f"| {m.dataset} | {m.hidden} | {TARGET_LABEL[m.target]} | {m.tool} | "
                        f"{m.status} |||||||| ")
            continue
        ram = _n(m.ram_bytes) + (f" + {m.stack_bytes:,}" if m.stack_bytes is not None else "")
        per = (f"{m.per_inference:,.0f} / {m.per_inference_max:,} {UNIT[m.unit]}"
               if m.per_inference is not None else m.status)
        data = _n(m.model_data_bytes)
        if m.quantizer_bytes is not None:
            data = (f"{m.model_data_bytes - m.quantizer_bytes:,} + {m.quantizer_bytes:,} = "
                    f"{m.model_data_bytes:,}")
        per_q = (f"{m.per_inference_q:,.0f} (flash {m.flash_bytes_q:,})"
                 if m.per_inference_q is not None else "")
        acc = _n(m.c_accuracy, "{:.3f}")
        agree = f"{m.agree}/{m.n_test}" if m.agree is not None else "–"
        rows.append(
            f"| {m.dataset} | {m.hidden} | {TARGET_LABEL[m.target]} | {m.tool} | "
            f"{data} | {_n(m.model_object_bytes)} | {_n(m.flash_bytes)} | "
            f"{ram} | {per} | {per_q} | {acc} | {agree} |"
        )
    return rows


def ratio_rows(results: list[Measurement], cases: dict) -> tuple[list[str], dict]:
    """emlearn / bdnn per data set, net and target, with the size and speed goals."""
    by = {(m.dataset, m.hidden, m.target, m.tool): m for m in results}
    rows = [
        "| data set | net | target | emlearn | bdnn predict (float in) | bdnn predict_q | "
        "× float in | × predict_q | speed goal | model data × (incl. quantizer) | "
        f"data ≥ {GOAL_DATA:g}× | flash B: emlearn / bdnn float-input program | flash smaller |",
        "|---|---|---|--:|--:|--:|--:|--:|:-:|--:|:-:|--:|:-:|",
    ]
    tally = {"data": [0, 0], "speed": [0, 0], "flash": [0, 0], "acc": [0, 0]}

    def mark(key, value, goal):
        if value is None:
            return "–"
        hit = value >= goal
        tally[key][0 if hit else 1] += 1
        return "hit" if hit else "**miss**"

    for (ds, net, target, tool), b in by.items():
        e = by.get((ds, net, target, "emlearn"))
        if tool != "bdnn" or e is None or b.status != "ok":
            continue
        d = _ratio(e.model_data_bytes, b.model_data_bytes)
        goal = GOAL_SPEED[target]
        if e.status == "ok":
            sp = _ratio(e.per_inference, b.per_inference)
            sq = _ratio(e.per_inference, b.per_inference_q)
            eml = f"{e.per_inference:,.0f}"
            speed = mark("speed", sp, goal) + f" (≥ {goal:g})"
            flash = f"{e.flash_bytes:,} / {b.flash_bytes:,}"
            smaller = mark("flash", _ratio(e.flash_bytes, b.flash_bytes), 1.0 + 1e-9)
        else:
            sp = sq = None
            eml = f"emlearn {e.status.split(':')[0]}"
            speed, smaller = "–", "hit (emlearn does not fit)"
            flash = f"– / {b.flash_bytes:,}"
            tally["flash"][0] += 1
        unit = UNIT[b.unit]
        rows.append(
            f"| {ds} | {net} | {TARGET_LABEL[target]} | {eml} | {b.per_inference:,.0f} {unit} | "
            f"{b.per_inference_q:,.0f} | {_n(sp, '{:.1f}')} | {_n(sq, '{:.1f}')} | {speed} | "
            f"{_n(d, '{:.1f}')} | {mark('data', d, GOAL_DATA)} | {flash} | {smaller} |"
        )
    for c in cases.values():
        mark("acc", 100 * (c.accuracy("bdnn") - c.accuracy("emlearn")), -GOAL_ACC_POINTS)
    return rows, tally


def machine_lines() -> list[str]:
    def first_line(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "not found"

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sklearn

    emlearn = import_emlearn()
    version = first_line(["git", "-C", str(ROOT), "describe", "--always", "--dirty"])
    return [
        f"- code: bdnn {version}",
        f"- machine: {platform.node()}, {platform.system()} {platform.release()}, {cpu}, "
        f"{os.cpu_count()} cores (shared with other jobs; all figures below are counts, not "
        "timings)",
        f"- Python {platform.python_version()}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, emlearn {emlearn.__version__}",
        f"- {first_line(['arm-none-eabi-gcc', '--version'])}; "
        f"{first_line(['avr-gcc', '--version'])}",
        f"- {first_line(['qemu-system-arm', '--version'])}; simavr "
        f"{first_line(['dpkg-query', '-W', '-f=${Version}', 'simavr'])}",
    ]


NOTES = """\
## What the kernels and the layout do

Storage (docs/export.md, "How the C computes"): each layer's weight bit-planes are one byte
stream with no padding between units (bit `(u P + p) n_in + j` is plane p of weight j of unit
u); thresholds and output offsets use the narrowest signed field that holds the layer's values
(4-bit fields two to a byte, else int8/16/32). The first layer (every benchmark model: 4-bit
inputs) runs by subset sums: once per inference the 16 sums of every group of 4 clamped inputs,
then one table entry per unit, weight plane and group. Units are processed in blocks that start
on a byte boundary, so every field is read at a constant offset; the arrays are read through a
pointer the compiler cannot see through, so gcc never folds weights into instructions and the
arrays stay the model.

On the Cortex-M4F (and M7) the DSP instructions replace the table: 4 inputs packed in a word
(`UQSUB8` clamps them), and every benchmark model being ternary, the core compiles its own form
of the layers (`codegen.plan.DspTernary`): a byte per unit and group of 4 inputs (`sum 3^i d_i`,
the same 2 bits per weight) picks one of 81 mask words `M`, and one `USADA8(X & M, M & ~L)` adds
`x` per +1 and `L + 1 - x` per -1 weight (both planes at once; the thresholds carry `+(L + 1)`
per -1 weight, a few bytes more model data); the later ternary layers do the same on their bits
spread to bytes. With float input the levels of 4 inputs are one `asm` block: one `VLDM` for the
4 floats and one each for their `lo` and `scale`, `VSUB`/`VMUL`/`VADD` per input (float32, in
the Python quantizer's order), `VCVT.S16.F32`, `VMOV` of two registers, `PKHBT`, `USAT16`.

Before -> after this layout and these kernels (same models; instructions, cycles on AVR):
iris 4-4-3 data 21 -> 13 B, M4F 319 -> 163; bcw 9-4-2 data 26 -> 16 B, M4F 421 -> 190;
bcw 9-8-2 M4F 661 -> 352; breast-cancer 30-8-2 M4F 1,358 -> 871; digits 64-8-10 M4F
3,030 -> 1,876, M3 3,030 -> 2,421. Earlier still (popcount first layer, int16 accumulators,
word-sized planes): iris 4-4-3 M3 1,028, bcw 9-4-2 M3 1,217, digits 64-8-10 AVR 48,991 cycles.
Then the M4F DSP ternary form and the `VLDM` levels (branch m4f-kernel; `NAME_predict` /
`NAME_predict_q`): bcw 9-8-2 397 -> 294 / 352 -> 256, breast-cancer 30-4-2 729 -> 452 / 487 ->
300, 30-8-2 1,113 -> 674 / 871 -> 534, digits 64-8-10 2,284 -> 1,505 / 1,876 -> 1,159.

Accuracy is where bdnn still loses: ternary networks with 4 or 8 binary hidden units (training:
descended float start, 60 s of CP-SAT, centred biases; docs/training.md) against float MLPs of
the same widths. The test parts are small (iris: 37 rows, one row = 2.7 points) and the binary
bottleneck is real on digits (4 binary units give at most 16 patterns for 10 classes).

## How it is measured

- **Same firmware for both tools.** The emlearn build uses bdnn's own firmware sources for the
  target (`templates/firmware_cortex_m`, `templates/firmware_avr`: start-up code, board support,
  Makefile, `-Os -ffunction-sections -fdata-sections -Wl,--gc-sections`), with the runner and the
  size program replaced by `benchmarks/firmware_harness/emlearn_runner.c` and
  `emlearn_main_size.c`, which keep the record format and the `bdnn_mark_begin`/`bdnn_mark_end`
  markers of `templates/firmware_common/runner.c`. emlearn's C is linked with `-lm` (its
  softmax/logistic output calls `expf`/`logf`).
- **Model data** = the weight and bias arrays as declared, from `nm -S` of the model's C
  compiled for the target at `-O0` (at `-Os` gcc folds small constant arrays, e.g. bdnn's output
  layer, into immediate operands, which would hide them in code): bdnn `model_w*` (bit-planes),
  `model_threshold*` (thresholds), `model_offset*` (output offsets) — checked on every run to
  equal `codegen.size_report`'s weights + thresholds — **plus the float input's quantizer**:
  `model_level_key` (+ `model_level_row`) where `NAME_predict` compares level keys (M0, M3,
  AVR, RISC-V), `model_lo` + `model_scale` where it computes in float (M4F); emlearn
  `mlp_layer_*_weights` and
  `mlp_layer_*_biases` (float32, 4 bytes per parameter). **Model object** = all flash of the
  model's object file (code + constants). **Flash / RAM** = the minimal program (`size.elf`: the
  model, a `main` that calls predict once on float input — bdnn's `NAME_predict`, so the
  quantizer and any library code it pulls in are linked — start-up code; no output code, no
  vectors), plus the stack of one inference painted on the emulator. The `predict_q` column's
  flash is the same program calling `NAME_predict_q` (built with `-DBDNN_NO_FLOAT`). emlearn
  has no `PROGMEM` support, so on the ATmega328P its weights sit in `.rodata`, i.e. in RAM as
  well as flash.
- **Per inference**: Cortex-M: instructions executed between the markers in a QEMU
  `-singlestep -d exec,nochain` trace (`codegen.targets.measure.count_instructions`, the code path
  `bdnn bench` uses; it counts the model and every library helper it calls, soft-float and libm
  included); AVR: CPU cycles from Timer1 (prescaler 1) under simavr. Mean (and max) over the
  first 16 test rows (`--quick`: 4). **Both tools get the same raw float32 features**, as a
  user calls them: bdnn `model_predict` (the quantizer included), emlearn `mlp_predict` on an
  MLP whose first layer absorbs the standardisation (`W / sigma`, `b - (mu / sigma) W`: no
  preprocessing code, the cheapest way to feed emlearn raw features). bdnn's `model_predict_q`
  (inputs already quantized) is a third column, timed the same way on the same rows.
- **Accuracy**: the C running on the emulator over every test row of the paper split (seed 0).
  "C = reference" counts rows where the firmware class equals the Python one (bdnn:
  `Network.forward` of the float rows, bit-exact by contract, and the firmware's runner also
  checks `NAME_quantize` against `Quantizer.quantize` on every row; emlearn: scikit-learn's
  `predict` of the folded MLP in float64, so a borderline row may differ in float32).
- **What emlearn's count holds**: its `predict` always runs the output activation (softmax with
  `expf`/`logf` for 3+ classes, logistic with `expf` for 2). Measured on iris 4-4-3 (per-function
  split of the same trace): on the M4F about 460 of its 1,082 instructions are `expf`/`logf`;
  on the M3, soft-float helpers (`__addsf3`, `__aeabi_fmul`, `__aeabi_fdiv`, ...) take about
  9,000 of 10,650.
- **emlearn caveats found on the way** (emlearn 0.23.2): `save(..., inference=["inline"])`
  fails for float MLPs (`cgen.constant_declare` formats the activation enum as an int); the
  benchmark renders that one declaration as an enum constant (`--emlearn-method loadable`
  measures emlearn's default `EmlNet` code instead: within 1 % of inline in instructions).
  `import emlearn` runs `numpy.seterr(all="raise")` (in `emlearn/bayes.py`); the benchmark
  restores numpy's error state, or scikit-learn's adam solver stops on a harmless underflow.
- **Training**: bdnn with `bdnn train DATA --hidden H --method auto --time-limit 60 --workers 2
  --seed 0` on the training part (models in `benchmarks/models/`, reused; `--retrain` trains
  again); the MLP with `StandardScaler` + `MLPClassifier(hidden_layer_sizes=H, max_iter=3000,
  random_state=0)` (adam, ReLU, softmax / logistic output) on the same rows.
"""


def render_markdown(results, cases, command, elapsed, tally, plot_rel,
                    quantizer: str = "uniform", ratio_plot: str = RATIO_PLOT_NAME) -> str:
    ratios, _ = ratio_rows(results, cases)
    twin = quantizer != "uniform"
    acc_rows = [
        "| data set | net | train rows | test rows | bdnn test acc. | "
        + ("uniform twin test acc. | " if twin else "")
        + "MLP test acc. | Δ points | "
        "within 1 pt | bdnn training (s, status, method) | bdnn train acc. |",
        "|---|---|--:|--:|--:|" + ("--:|" if twin else "") + "--:|--:|:-:|---|--:|",
    ]
    for (ds, net), c in cases.items():
        tr = c.net.training
        delta = 100 * (c.accuracy("bdnn") - c.accuracy("emlearn"))
        uniform = f"{_n(c.uniform_accuracy, '{:.3f}')} | " if twin else ""
        acc_rows.append(
            f"| {ds} | {net} | {tr.get('n_train', '–')} | {len(c.y_test)} | "
            f"{c.accuracy('bdnn'):.3f} | {uniform}{c.accuracy('emlearn'):.3f} | {delta:+.1f} | "
            f"{'hit' if delta >= -GOAL_ACC_POINTS else '**miss**'} | "
            f"{tr.get('seconds', 0):.0f}, {tr.get('status', '?')}, "
            f"{tr.get('auto_choice', tr.get('method', '?'))} | "
            f"{_n(tr.get('train_accuracy'), '{:.3f}')} |"
        )
    goals = [
        f"- model data including the quantizer ≥ {GOAL_DATA:g}× smaller (per data set, net and "
        f"target): {tally['data'][0]} hit, {tally['data'][1]} miss",
        f"- float input (`NAME_predict`): instructions / cycles ≥ 10× fewer (M0, M3, AVR, "
        f"RV32IMC, RV32EC), ≥ 3× (M4F): {tally['speed'][0]} hit, {tally['speed'][1]} miss",
        f"- flash of the whole float-input program smaller than emlearn's: "
        f"{tally['flash'][0]} hit, {tally['flash'][1]} miss",
        f"- test accuracy within {GOAL_ACC_POINTS:g} point of the MLP or better (per data set "
        "and net): "
        f"{tally['acc'][0]} hit, {tally['acc'][1]} miss",
    ]
    skipped = [f"- {m.tool}, {m.dataset} {m.hidden} on {TARGET_LABEL[m.target]}: {m.status}"
               for m in results if m.status != "ok"]
    title = "# Firmware benchmark: bdnn vs emlearn" + (
        f" (bdnn nets with the `{quantizer}` quantizer)" if twin else "")
    about = ([f"The bdnn nets here are the twins of the default run's nets trained with "
              f"`--quantizer {quantizer}` (same data, widths and seed; models in "
              f"`benchmarks/models/{quantizer}/`, 1 CP-SAT worker); their float input's "
              "quantizer is a shift and an offset per input (2-3 bytes, `model_q_exponent` + "
              "`model_q_offset`), its level computed from the float's bits with integer "
              "operations, on the M4F by the FPU rounding toward minus infinity (docs/export.md "
              "\"Power-of-two steps\"). The default run (uniform quantizer, level keys or "
              "lo/scale) is docs/benchmarks-firmware.md.", ""] if twin else [])
    return "\n".join([
        title,
        "",
        "Generated by `benchmarks/firmware.py`; do not edit by hand (rerun it).",
        "",
        *about,
        f"- command: `{command}`",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"run time {elapsed:.0f} s",
        *machine_lines(),
        "",
        "## Goals (emlearn / bdnn on the same data set, net and target)",
        "",
        *goals,
        "",
        "## Ratios: emlearn / bdnn (larger = bdnn better)",
        "",
        *ratios,
        "",
        "## Accuracy (Python reference, test part of the paper split, seed 0)",
        "",
        *acc_rows,
        "",
        "## Measurements",
        "",
        *results_table(results, cases),
        "",
        *(["Not measured:", "", *skipped, ""] if skipped else []),
        f"![emlearn / bdnn per inference, float input]({ratio_plot})",
        "",
        f"![model data bytes vs test accuracy]({plot_rel})",
        "",
        NOTES,
    ]) + "\n"


def plot(results: list[Measurement], cases: dict, path: Path) -> bool:
    """Model data bytes (log) vs test accuracy, both tools, one point per data set and net."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
        return False
    ref_target = next((t for t in ("cortex-m3", "cortex-m0", "cortex-m4", "avr")
                       if any(m.target == t and m.model_data_bytes for m in results)), None)
    if ref_target is None:
        return False
    colours = dict(zip(DATASETS, ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=True))
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    for m in results:
        if m.target != ref_target or m.model_data_bytes is None:
            continue
        case = cases[(m.dataset, m.hidden)]
        acc = case.accuracy(m.tool)
        ax.scatter(m.model_data_bytes, acc, s=70, color=colours.get(m.dataset, "grey"),
                   marker="o" if m.tool == "bdnn" else "^", edgecolors="black", linewidths=0.6)
        ax.annotate(f"{m.hidden}", (m.model_data_bytes, acc), textcoords="offset points",
                    xytext=(6, 4), fontsize=8)
    # a dotted line joins the two tools' points of one data set and net
    pts = {(m.dataset, m.hidden, m.tool): (m.model_data_bytes, cases[(m.dataset, m.hidden)]
                                             .accuracy(m.tool))
           for m in results if m.target == ref_target and m.model_data_bytes is not None}
    for (ds, net, tool), (x, y) in pts.items():
        other = pts.get((ds, net, "emlearn"))
        if tool == "bdnn" and other:
            ax.plot([x, other[0]], [y, other[1]], ls=":", lw=0.8,
                    color=colours.get(ds, "grey"), zorder=0)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel(f"model data bytes on {TARGET_LABEL[ref_target]} (weights + biases/thresholds, "
                  "log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title("bdnn (circles) vs emlearn MLP float32 (triangles)")
    ax.grid(True, which="both", alpha=0.3)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", ls="", color="grey", label="bdnn"),
               Line2D([], [], marker="^", ls="", color="grey", label="emlearn")]
    handles += [Line2D([], [], marker="s", ls="", color=c, label=d) for d, c in colours.items()
                if any(k[0] == d for k in cases)]
    ax.legend(handles=handles, loc="lower right", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def plot_ratios(results: list[Measurement], path: Path) -> bool:
    """Heat map of emlearn / bdnn ``NAME_predict`` (float input) per inference, one cell per
    net and target, annotated with the ratio and the predict_q ratio; green where the goal is
    met."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    by = {(m.dataset, m.hidden, m.target, m.tool): m for m in results}
    nets = list(dict.fromkeys((m.dataset, m.hidden) for m in results))
    targets = [t for t in TARGETS if any(m.target == t for m in results)]
    if not nets or not targets:
        return False
    fig, ax = plt.subplots(figsize=(1.5 * len(targets) + 2, 0.55 * len(nets) + 1.6), dpi=120)
    for i, (ds, net) in enumerate(nets):
        for k, t in enumerate(targets):
            b, e = by.get((ds, net, t, "bdnn")), by.get((ds, net, t, "emlearn"))
            if b is None or e is None or b.per_inference is None:
                text, colour = "–", "lightgrey"
            elif e.per_inference is None:
                text, colour = "emlearn\ndoes not fit", "lightgrey"
            else:
                r = e.per_inference / b.per_inference
                rq = e.per_inference / b.per_inference_q
                text = f"{r:.1f}×\n(q {rq:.0f}×)"
                colour = "#9be29b" if r >= GOAL_SPEED[t] else "#f4a3a3"
            ax.add_patch(plt.Rectangle((k, i), 1, 1, color=colour, ec="white"))
            ax.text(k + 0.5, i + 0.5, text, ha="center", va="center", fontsize=7)
    ax.set_xlim(0, len(targets))
    ax.set_ylim(len(nets), 0)
    ax.set_xticks([k + 0.5 for k in range(len(targets))])
    ax.set_xticklabels([f"{TARGET_LABEL[t]}\n(goal {GOAL_SPEED[t]:g}×)" for t in targets],
                       fontsize=8)
    ax.set_yticks([i + 0.5 for i in range(len(nets))])
    ax.set_yticklabels([f"{ds} {net}" for ds, net in nets], fontsize=8)
    ax.set_title("emlearn / bdnn per inference, float input (NAME_predict); "
                 "q: bdnn predict_q", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def console_table(results: list[Measurement], cases: dict) -> str:
    lines = results_table(results, cases) + [""] + ratio_rows(results, cases)[0]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="iris only, 4 timed rows (a smoke run of a minute or two)")
    ap.add_argument("--retrain", action="store_true", help="train the bdnn models again")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"write the Markdown report here (and the plot beside it, {PLOT_NAME})")
    ap.add_argument("--emlearn-method", choices=("inline", "loadable"), default="inline",
                    help="emlearn's inference strategy (default inline: the network unrolled "
                         "into its own C; loadable: a generic EmlNet struct)")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results as JSON")
    ap.add_argument("--datasets", default=None,
                    help=f"comma-separated subset of {','.join(DATASETS)}")
    ap.add_argument("--targets", default=",".join(TARGETS), help="comma-separated targets")
    ap.add_argument("--quantizer", choices=list(MODEL_SETS), default="uniform",
                    help="the bdnn model set: uniform (benchmarks/models/) or their twins "
                         "trained with --quantizer pow2 (benchmarks/models/pow2/)")
    args = ap.parse_args(argv)
    try:
        import_emlearn()
    except ImportError:
        print("error: emlearn is not installed (pip install emlearn)", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    datasets = (args.datasets.split(",") if args.datasets
                else QUICK_DATASETS if args.quick else DATASETS)
    targets = [t for t in args.targets.split(",") if t]
    n_timed = N_TIMED_QUICK if args.quick else N_TIMED
    for name in targets:
        ok, why = toolchain_available(get_target(name))
        if not ok:
            print(f"skipping {name}: {why}", flush=True)
    cases: dict[tuple[str, str], Case] = {}
    results: list[Measurement] = []
    for ds in datasets:
        for hidden in HIDDEN:
            case = make_case(ds, hidden, args.retrain, args.emlearn_method, args.quantizer)
            cases[(ds, case.label)] = case
            print(f"{ds} {case.label}: test acc bdnn {case.accuracy('bdnn'):.3f}, "
                  f"MLP {case.accuracy('emlearn'):.3f}", flush=True)
            for target in targets:
                for tool in ("bdnn", "emlearn"):
                    m = measure(case, tool, target, n_timed)
                    results.append(m)
                    print(f"  {target:9s} {tool:7s} data {_n(m.model_data_bytes):>7s} B  "
                          f"flash {_n(m.flash_bytes):>7s} B  per inf. "
                          f"{_n(m.per_inference, '{:,.0f}'):>9s} {m.unit}  acc "
                          f"{_n(m.c_accuracy, '{:.3f}')}  {m.status if m.status != 'ok' else ''}",
                          flush=True)
    elapsed = time.monotonic() - t0
    print()
    print(console_table(results, cases))
    _, tally = ratio_rows(results, cases)
    print(f"\ngoals (hit, miss): {tally}   run time {elapsed:.0f} s")
    command = " ".join(["python3", "benchmarks/firmware.py", *(argv or sys.argv[1:])])
    if args.json:
        args.json.write_text(json.dumps([asdict(m) for m in results], indent=1) + "\n")
    if args.out:
        out = args.out.resolve()
        suffix = "" if args.quantizer == "uniform" else f"_{args.quantizer}"
        plot_name = PLOT_NAME.replace(".png", f"{suffix}.png")
        ratio_name = RATIO_PLOT_NAME.replace(".png", f"{suffix}.png")
        png = out.parent / plot_name
        has_plot = plot(results, cases, png)
        plot_ratios(results, out.parent / ratio_name)
        text = render_markdown(results, cases, command, elapsed, tally,
                               plot_name if has_plot else "(no plot: matplotlib missing)",
                               args.quantizer, ratio_name)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
        print(f"wrote {out}" + (f" and {png}" if has_plot else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
