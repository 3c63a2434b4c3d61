"""Running arbitrary quantized rows through the firmware on an emulator, in chunks that fit the
target's flash, and returning what it computed as a :class:`ForwardResult` (for ``verify``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bdnn.errors import BDNNError
from bdnn.network import ForwardResult, Network

from .build import ModelWriter, clean_dir, make, write_project, write_vectors
from .family import TargetFamily
from .measure import check_fits, check_plan_fits, footprint_of, run_firmware
from .registry import get_target
from .toolchain import require_toolchain
from .vectors import vector_bytes_per_row

MAX_ROWS_PER_RUN = 2000


def rows_per_run(
    net: Network, family: TargetFamily, flash_capacity: int, model_flash: int
) -> int:
    """How many test vectors one firmware image can hold next to the model (and the family's
    reserve for the runner, the float API and libgcc)."""
    budget = min(
        family.max_vector_bytes, flash_capacity - model_flash - family.runner_reserve_bytes
    )
    n = budget // vector_bytes_per_row(net)
    if n < 1:
        raise BDNNError(
            f"the model leaves no flash for test vectors on this target ({model_flash} of "
            f"{flash_capacity} bytes used by the minimal program)"
        )
    return int(min(n, MAX_ROWS_PER_RUN))


def run_rows(
    net: Network,
    Q: np.ndarray,
    target_name: str,
    model_writer: ModelWriter | None = None,
    work_dir: Path | None = None,
) -> ForwardResult:
    """Class, scores and hidden bits the firmware computes for every row of ``Q`` on a target.

    Duplicate rows run once. The firmware's own comparison with the embedded reference is not
    used here: the caller compares the returned values with the reference itself.
    """
    target = get_target(target_name)
    require_toolchain(target)
    Q = np.asarray(Q)
    if Q.ndim != 2 or Q.shape[1] != net.n_inputs:
        raise BDNNError(f"data has {Q.shape[-1]} features, the model expects {net.n_inputs}")
    if Q.size and (Q.min() < 0 or Q.max() > 255):
        raise BDNNError("quantized inputs must lie in 0..255 (codes above max_level count as it)")
    check_plan_fits(net, target)
    unique, inverse = np.unique(Q.astype(np.uint8), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_out, n_hidden = net.n_outputs, int(sum(net.hidden_widths))
    classes = np.zeros(len(unique), np.int64)
    scores = np.zeros((len(unique), n_out), np.int64)
    hidden = np.zeros((len(unique), n_hidden), np.uint8)
    tmp = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix=f"bdnn-{target.name}-"))
    try:
        project = write_project(net, target, tmp, "model", unique[:0], model_writer)
        make(project, "size.elf")
        fp = footprint_of(project, None)
        check_fits(target, fp.flash_bytes, fp.ram_bytes)
        step = rows_per_run(net, target.family, target.flash_bytes, fp.flash_bytes)
        for start in range(0, len(unique), step):
            chunk = unique[start : start + step]
            write_vectors(project, net, chunk)
            make(project, "prog.elf")
            run = run_firmware(project, net, len(chunk))
            classes[start : start + len(chunk)] = run.classes
            scores[start : start + len(chunk)] = run.scores
            hidden[start : start + len(chunk)] = run.hidden
    finally:
        if work_dir is None:
            clean_dir(tmp)
    layers, at = [], 0
    for w in net.hidden_widths:
        layers.append(hidden[inverse, at : at + w].copy())
        at += w
    return ForwardResult(classes[inverse], scores[inverse], layers)


def run_float_rows(
    net: Network, X: np.ndarray, target_name: str, work_dir: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The class ``NAME_predict`` and the levels ``NAME_quantize`` compute on a target for every
    float row of ``X`` (float32 [N, n_inputs]), as (int64 [N], uint8 [N, n_inputs])."""
    target = get_target(target_name)
    require_toolchain(target)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise BDNNError(f"data has {X.shape[-1]} features, the model expects {net.n_inputs}")
    check_plan_fits(net, target)
    classes = np.zeros(len(X), np.int64)
    levels = np.zeros(X.shape, np.uint8)
    Q = net.quantizer.quantize(X)  # the integer part of each vector: the reference's levels
    tmp = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix=f"bdnn-{target.name}-"))
    try:
        project = write_project(net, target, tmp, "model", Q[:0])
        with open(project.path / "config.mk", "a", encoding="utf-8") as f:
            f.write("EXTRA_CFLAGS += -DRUNNER_REPORTS_FLOAT\n")
        make(project, "size.elf")
        fp = footprint_of(project, None)
        check_fits(target, fp.flash_bytes, fp.ram_bytes)
        step = rows_per_run(net, target.family, target.flash_bytes, fp.flash_bytes)
        for start in range(0, len(X), step):
            stop = min(start + step, len(X))
            write_vectors(project, net, Q[start:stop], X[start:stop])
            make(project, "prog.elf")
            run = run_firmware(project, net, stop - start)
            if run.float_classes is None or run.float_levels is None:
                raise BDNNError("the firmware reported no float results")
            classes[start:stop] = run.float_classes
            levels[start:stop] = run.float_levels
    finally:
        if work_dir is None:
            clean_dir(tmp)
    return classes, levels
