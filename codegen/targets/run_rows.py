"""Running arbitrary quantized rows through the firmware on an emulator, in chunks that fit the
target's flash, and returning what it computed as a :class:`ForwardResult` (for ``verify``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bdnn.errors import BDNNError
from bdnn.network import ForwardResult, Network

from .build import ModelWriter, add_config, clean_dir, make, write_project, write_vectors
from .family import TargetFamily
from .measure import check_fits, check_plan_fits, footprint_of, run_firmware
from .output import FirmwareRun
from .registry import get_target
from .toolchain import require_toolchain
from .vectors import hidden_bits, vector_bytes_per_row

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

    Duplicate rows run once. The caller compares the returned values (those of
    ``NAME_forward_debug_q``) with the reference itself; the firmware's own comparison is used
    only for what they do not show: a row it flags although they match the reference means
    another entry point (``NAME_predict_q``, e.g. its predict table, or ``NAME_scores_q``)
    disagreed, which raises ``BDNNError``.
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
            _check_entry_points(run, net, chunk, target.name)
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


def _check_entry_points(run: FirmwareRun, net: Network, Q: np.ndarray, where: str) -> None:
    """Raise if the firmware flagged a row whose debug outputs equal the reference: one of its
    other entry points computed something else there."""
    ref = net.forward_q(Q)
    same = ((run.classes == ref.class_index) & (run.scores == ref.scores).all(axis=1)
            & (run.hidden == hidden_bits(ref)).all(axis=1))
    flagged = [r for r in run.error_rows if same[r]]
    if flagged:
        raise BDNNError(
            f"{where}: NAME_predict_q, NAME_scores_q or NAME_predict disagree with "
            f"NAME_forward_debug_q and the reference on {len(flagged)} rows (first input: "
            f"{' '.join(str(int(v)) for v in Q[flagged[0]])})"
        )


def run_float_rows(
    net: Network, X: np.ndarray, target_name: str, work_dir: Path | None = None,
    Xi: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The class ``NAME_predict`` and the levels ``NAME_quantize`` compute on a target for every
    float row of ``X`` (float32 [N, n_inputs]), as (int64 [N], uint8 [N, n_inputs]). With
    integer rows ``Xi`` (``X`` is then ignored), those of ``NAME_predict_i16`` / ``_i32`` and
    ``NAME_quantize_i16`` / ``_i32`` instead (the network's raw-input API)."""
    target = get_target(target_name)
    require_toolchain(target)
    if Xi is not None:
        Xi = np.asarray(Xi, dtype=np.int64)
        X = Xi.astype(np.float32)
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
        add_config(project, ["EXTRA_CFLAGS += -DRUNNER_REPORTS_FLOAT",
                             *(["EXTRA_CFLAGS += -DRUNNER_REPORTS_INT"] if Xi is not None else [])])
        make(project, "size.elf")
        fp = footprint_of(project, None)
        check_fits(target, fp.flash_bytes, fp.ram_bytes)
        step = rows_per_run(net, target.family, target.flash_bytes, fp.flash_bytes)
        for start in range(0, len(X), step):
            stop = min(start + step, len(X))
            write_vectors(project, net, Q[start:stop], X[start:stop],
                          None if Xi is None else Xi[start:stop])
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
