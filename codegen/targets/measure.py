"""Measuring the model on a target: flash and RAM from ``size -A`` of a build without any
output code or test vectors, stack depth painted on the emulator, and per inference what the
target's family counts: instructions in an emulator trace (Cortex-M under QEMU) or CPU cycles
timed by the firmware (AVR, Timer1)."""

from __future__ import annotations

import math
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bdnn.errors import BDNNError
from bdnn.network import Network
from bdnn.raw_input import RAW_INPUTS, RawInput, raw_input_of, with_raw_input

from ..switches import SMALL_CODE, WEIGHTS_AS_CODE, switch_cflags, switch_record
from ..weights_as_code import check_weights_as_code
from .build import (
    ModelWriter,
    Project,
    add_config,
    clean_dir,
    make,
    write_project,
    write_vectors,
)
from .family import Target, TargetFamily
from .output import FirmwareRun, parse_runner_output
from .process import emulator_timeout
from .registry import get_target
from .toolchain import require_toolchain

BENCH_VECTORS = 8
# what bench times: NAME_predict_{suffix} of the integer raw-input API, by entry name
INT_ENTRIES: dict[str, RawInput] = {f"predict_{r.suffix}": r for r in RAW_INPUTS.values()}
# what bench times: quantized, float or integer raw inputs
ENTRIES = ("predict_q", "predict", *INT_ENTRIES)


@dataclass
class Footprint:
    """Bytes a model costs on a target."""

    flash_bytes: int  # the whole minimal program (start-up code, model, main)
    ram_bytes: int  # static RAM of the whole minimal program (.data + .bss)
    model_flash_bytes: int  # the model object alone: code + constants + .data initialisers
    model_ram_bytes: int  # the model object's static RAM
    stack_bytes: int | None  # stack used by one NAME_predict_q call, painted on the emulator


def section_sizes(size_tool: str, path: Path) -> dict[str, int]:
    """``size -A`` of an ELF or object file as ``{section: bytes}``."""
    proc = subprocess.run([size_tool, "-A", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BDNNError(f"{size_tool} failed on {path}: {proc.stderr.strip()[:200]}")
    sizes: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = sizes.get(parts[0], 0) + int(parts[1])
    return sizes


def flash_and_ram(sections: dict[str, int], family: TargetFamily) -> tuple[int, int]:
    """(flash, static RAM) bytes of ``sections`` of a linked program or an object file.

    Code and constants live in flash (a family with ``rodata_in_ram``, AVR, keeps ``.rodata``
    in RAM too unless it is PROGMEM); ``.data`` takes flash for its initial values and RAM;
    ``.bss`` takes RAM.
    """
    flash = ram = 0
    for name, size in sections.items():
        if name.startswith((".text", ".progmem", ".isr_vector", ".ARM.exidx", ".vectors")):
            flash += size
        elif name.startswith(".rodata"):
            flash += size
            if family.rodata_in_ram:
                ram += size
        elif name.startswith(".data"):
            flash += size
            ram += size
        elif name.startswith((".bss", ".noinit")):
            ram += size
    return flash, ram


def footprint_of(project: Project, stack_bytes: int | None) -> Footprint:
    """Sizes of the project's ``size.elf`` and of its model object (built by ``make``)."""
    t = project.target
    size_tool = t.family.size_tool
    flash, ram = flash_and_ram(section_sizes(size_tool, project.path / "size.elf"), t.family)
    obj = project.path / f"size_{project.name}.o"
    m_flash, m_ram = flash_and_ram(section_sizes(size_tool, obj), t.family)
    return Footprint(flash, ram, m_flash, m_ram, stack_bytes)


def check_fits(target: Target, flash: int, ram: int) -> None:
    """Refuse (``BDNNError``) a model whose program does not fit the target's flash or RAM."""
    if flash > target.flash_bytes or ram > target.ram_bytes:
        raise BDNNError(
            f"model does not fit target {target.name} ({target.board}): it needs {flash} bytes "
            f"of flash and {ram} bytes of RAM, the target has {target.flash_bytes} and "
            f"{target.ram_bytes}; use fewer or narrower hidden layers"
        )


def check_plan_fits(net: Network, target: Target) -> None:
    """Refuse before compiling when the weights alone exceed flash or the packed activation
    buffers alone exceed RAM (a compiler may not even accept such arrays: avr-gcc's limit is
    32 KB per object)."""
    from ..size_report import size_report

    total = size_report(net, target.family.word_bits)["total"]  # an ensemble: all members
    data = total["weight_bytes"] + total["threshold_bytes"]
    scratch = total["scratch_bytes"]
    if data > target.flash_bytes or scratch > target.ram_bytes:
        raise BDNNError(
            f"model does not fit target {target.name} ({target.board}): its weights and "
            f"thresholds take {data} bytes of flash and its activation buffers "
            f"{scratch} bytes of RAM, the target has {target.flash_bytes} bytes of "
            f"flash and {target.ram_bytes} of RAM; use fewer or narrower hidden layers"
        )


def symbol_ranges(nm_tool: str, elf: Path) -> dict[str, tuple[int, int]]:
    """Function symbols of ``elf`` as ``{name: (start, end)}`` (``nm -S``; Thumb bit cleared)."""
    proc = subprocess.run([nm_tool, "-S", str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BDNNError(f"{nm_tool} failed on {elf}: {proc.stderr.strip()[:200]}")
    ranges: dict[str, tuple[int, int]] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            start = int(parts[0], 16) & ~1
            ranges[parts[3]] = (start, start + int(parts[1], 16))
    return ranges


def _range_of(ranges: dict[str, tuple[int, int]], prefix: str) -> tuple[int, int]:
    for name, rng in ranges.items():
        if name == prefix or name.startswith(prefix + "."):  # gcc adds .constprop.0 etc.
            return rng
    raise BDNNError(f"symbol {prefix} not found in the firmware (was it inlined?)")


def count_instructions(trace_log: Path, ranges: dict[str, tuple[int, int]]) -> list[int]:
    """Instructions of each inference in a QEMU ``-singlestep -d exec,nochain`` trace.

    Each trace line is one executed instruction. An inference is everything executed between
    entering ``bdnn_mark_begin`` and entering ``bdnn_mark_end``, except the instructions of
    the measuring function itself and of the cycle-counter stub: the model's code plus any
    library helper it calls.
    """
    begin = _range_of(ranges, "bdnn_mark_begin")
    end = _range_of(ranges, "bdnn_mark_end")
    excluded = [
        begin, end, _range_of(ranges, "timed_predict"), _range_of(ranges, "platform_cycles")
    ]
    counts: list[int] = []
    counting = False
    n = 0
    with open(trace_log, encoding="ascii", errors="replace") as f:
        for line in f:
            lb = line.find("[")
            if lb < 0:
                continue
            fields = line[lb + 1 : line.find("]", lb)].split("/")
            if len(fields) < 2:
                continue
            pc = int(fields[1], 16)
            if begin[0] <= pc < begin[1]:
                counting, n = True, 0
            elif end[0] <= pc < end[1]:
                if counting:
                    counts.append(n)
                counting = False
            elif counting and not any(lo <= pc < hi for lo, hi in excluded):
                n += 1
    return counts


def random_inputs(net: Network, n: int, seed: int = 0) -> np.ndarray:
    """``n`` uniformly random quantized input rows (0..L), reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, net.quantizer.max_level + 1, size=(n, net.n_inputs)).astype(np.uint8)


def int_entry_network(net: Network, raw: RawInput) -> Network:
    """``net`` with the integer raw-input API ``raw`` (as ``bdnn export --raw-input``), or
    ``BDNNError`` when that entry does not fit the model: its training data needed a wider type,
    or the type's values cannot reach the lowest or highest level that float inputs reach on
    some input (the features' range lies beyond the type)."""
    entry = f"predict_{raw.suffix}"
    recorded = raw_input_of(net)
    if recorded is not None and recorded.bits > raw.bits:
        raise BDNNError(
            f"--entry {entry}: the model's training data were {recorded.name} values beyond "
            f"the {raw.name} range; use --entry predict_{recorded.suffix}"
        )
    from ..level_keys import level_thresholds_int

    q = net.quantizer
    _, top = level_thresholds_int(q, raw)
    ends = np.array([[-3.4028235e38], [3.4028235e38]], np.float32).repeat(net.n_inputs, 1)
    with np.errstate(over="ignore", invalid="ignore"):
        f_lo, f_hi = q.quantize(ends)  # the lowest and highest level a float input reaches
        i_lo = q.quantize(np.full((1, net.n_inputs), raw.lo, np.float32))[0]
    bad = np.flatnonzero((i_lo != f_lo) | (top != f_hi))
    if bad.size:
        j = int(bad[0])
        lo, hi = q.value_range()
        raise BDNNError(
            f"--entry {entry} does not fit this model: {raw.name} values reach levels "
            f"{int(i_lo[j])}..{int(top[j])} of input {j}, floats {int(f_lo[j])}..{int(f_hi[j])} "
            f"(its features span {float(lo[j]):g}..{float(hi[j]):g}); use --entry "
            f"{'predict_i32 or ' if raw.bits < 32 else ''}predict"
        )
    return with_raw_input(net, raw.name)


def random_int_inputs(net: Network, raw: RawInput, n: int, seed: int = 0) -> np.ndarray:
    """``n`` uniformly random integer rows (int64) for the raw-input API ``raw``: input ``j``
    spans its integer thresholds (every level) and a quarter of their span beyond both ends,
    within the type's range; reproducible by ``seed``."""
    from ..level_keys import level_thresholds_int

    T, _ = level_thresholds_int(net.quantizer, raw)
    first, last = T[:, 0], T[:, -1]
    margin = (last - first) // 4 + 2
    lo = np.maximum(first - margin, raw.lo)
    hi = np.minimum(last + margin, raw.hi)
    rng = np.random.default_rng(seed)
    cols = [rng.integers(lo[j], hi[j] + 1, size=n) for j in range(net.n_inputs)]
    return np.stack(cols, axis=1).astype(np.int64).reshape(n, net.n_inputs)


def run_firmware(
    project: Project,
    net: Network,
    n_rows: int,
    trace_log: Path | None = None,
    timeout: float | None = None,
) -> FirmwareRun:
    """Run the project's ``prog.elf`` on its emulator and decode every record.

    ``timeout`` (seconds) is only a hang guard; by default ``emulator_timeout`` of the rows.
    """
    t = project.target
    if timeout is None:
        timeout = emulator_timeout(n_rows, traced=trace_log is not None)
    lines = t.family.run(t, project.path / "prog.elf", timeout, trace_log)
    return parse_runner_output(
        lines, n_rows, net.n_outputs, int(sum(net.hidden_widths))
    )


def check_against_reference(run: FirmwareRun, net: Network, Q: np.ndarray, where: str) -> None:
    """Raise unless the firmware reproduced the numpy reference bit for bit."""
    ref = net.forward_q(Q)
    bits = np.concatenate(ref.hidden_bits, axis=1)
    bad = (
        (run.classes != ref.class_index)
        | (run.scores != ref.scores).any(axis=1)
        | (run.hidden != bits).any(axis=1)
    )
    if bad.any() or run.mismatches:
        row = int(np.argmax(bad)) if bad.any() else (run.error_rows or [0])[0]
        raise BDNNError(
            f"{where}: firmware output differs from the numpy reference on "
            f"{max(int(bad.sum()), run.mismatches)} of {len(Q)} rows (first: row {row})"
        )


def check_int_entry(run: FirmwareRun, net: Network, Xi: np.ndarray, where: str) -> None:
    """Raise unless the raw-input API's classes and levels of the integer rows ``Xi`` (the
    runner's F and G records) are the numpy forward pass and quantizer of float32(Xi)."""
    X = Xi.astype(np.float32)
    if run.float_classes is None or run.float_levels is None:
        raise BDNNError(f"{where}: the firmware reported no raw-input results")
    bad = (run.float_classes != net.forward(X).class_index) | (
        run.float_levels != net.quantizer.quantize(X)).any(axis=1)
    if bad.any():
        raise BDNNError(f"{where}: firmware output differs from the numpy reference on "
                        f"{int(bad.sum())} of {len(Xi)} integer rows (first: row "
                        f"{int(np.argmax(bad))})")


def check_clock_hz(clock_hz: float) -> float:
    """``clock_hz`` if it is a finite positive number; else ``BDNNError`` saying what to give."""
    if not (isinstance(clock_hz, (int, float)) and math.isfinite(clock_hz) and clock_hz > 0):
        raise BDNNError(f"--clock-hz {clock_hz}: give the CPU clock in Hz as a positive number, "
                        "e.g. 48e6")
    return float(clock_hz)


def inference_time(target: Target, per: dict, clock_hz: float | None = None) -> dict:
    """Time per inference at ``clock_hz`` (default: the target's ``clock_hz``, its typical
    board's clock) from ``per`` ({min, max, mean} of the family's counts).

    Cycles (AVR) give the time exactly at that clock; instructions (QEMU, which models no
    pipeline or wait states) give an estimate at one instruction per cycle: a Cortex-M0/M3 or
    a RISC-V core with flash wait states takes more cycles than instructions, an M7 may take
    fewer. No clock known: the times are None.
    """
    board = target.clock_board if clock_hz is None else "given by --clock-hz"
    hz = target.clock_hz if clock_hz is None else check_clock_hz(clock_hz)
    basis = ("cycles" if target.family.counts == "cycles"
             else "estimate at 1 instruction per cycle")
    return {
        "clock_hz": hz,
        "clock_board": board,
        "time_basis": basis,
        "seconds_per_inference": (
            None if hz is None else {k: per[k] / hz for k in ("min", "max", "mean")}
        ),
    }


def bench(
    net: Network,
    target_name: str,
    n_vectors: int = BENCH_VECTORS,
    seed: int = 0,
    work_dir: Path | None = None,
    model_writer: ModelWriter | None = None,
    name: str = "model",
    entry: str = "predict_q",
    cflags: tuple[str, ...] = (),
    clock_hz: float | None = None,
    small_code: bool = False,
    weights_as_code: bool = False,
) -> dict:
    """Build, check and measure ``net`` on a target.

    Returns flash/RAM (whole minimal program that calls ``entry``, and the model alone), the
    stack of one inference, and per inference of ``entry`` the family's ``counts``
    (instructions on Cortex-M, cycles on AVR): min, max and mean over ``n_vectors`` random
    inputs. ``entry`` is ``predict_q`` (quantized inputs) or ``predict`` (float inputs, the
    quantizer included); ``cflags`` are added to every compile (e.g.
    ``-DBDNN_FLOAT_QUANTIZER=1``); ``small_code`` / ``weights_as_code`` build with
    ``BDNN_SMALL_CODE`` / ``BDNN_WEIGHTS_AS_CODE`` 1 (``codegen.switches``) and record it
    (``check_weights_as_code`` refuses a model the form is not made for). The firmware's
    outputs are checked against the reference first. The time per inference is at
    ``clock_hz`` (default: the target's board clock), see
    ``inference_time``. An integer entry (``predict_i16`` / ``predict_i32``, see
    ``INT_ENTRIES``) exports the raw-input API itself (``int_entry_network``: a one-line error
    when it does not fit the model) and times it on ``random_int_inputs``, whose classes and
    levels are checked against the numpy quantizer and forward pass of the same values.
    """
    if entry not in ENTRIES:
        raise BDNNError(f"--entry {entry!r}: choose one of {', '.join(ENTRIES)}")
    raw = INT_ENTRIES.get(entry)
    if raw is not None:
        net = int_entry_network(net, raw)
    if clock_hz is not None:
        check_clock_hz(clock_hz)
    switches = _switches(net, small_code, weights_as_code)
    target = get_target(target_name)
    require_toolchain(target)
    tmp = (
        Path(work_dir).resolve()
        if work_dir
        else Path(tempfile.mkdtemp(prefix=f"bdnn-{target.name}-"))
    )
    try:
        check_plan_fits(net, target)
        Xi = None if raw is None else random_int_inputs(net, raw, n_vectors, seed)
        # an integer entry's rows: the levels the numpy quantizer gives the same values
        Q = random_inputs(net, n_vectors, seed) if Xi is None else net.quantizer.quantize(
            Xi.astype(np.float32))
        project = write_project(net, target, tmp, name, Q, model_writer)
        cflags = (*cflags, *switch_cflags(switches))
        config = [f"EXTRA_CFLAGS += {' '.join(cflags)}"] if cflags else []
        if entry == "predict":  # time NAME_predict, and size a program that calls it
            config += ["EXTRA_CFLAGS += -DRUNNER_TIMES_PREDICT", "SIZE_CFLAGS = -DSIZE_FLOAT_INPUT"]
        elif Xi is not None:  # time NAME_predict_i16 / _i32; its program needs no float code
            write_vectors(project, net, Q, Xi=Xi)
            config += ["EXTRA_CFLAGS += -DRUNNER_REPORTS_FLOAT -DRUNNER_REPORTS_INT "
                       "-DRUNNER_TIMES_PREDICT_INT",
                       "SIZE_CFLAGS = -DBDNN_NO_FLOAT -DSIZE_INT_INPUT"]
        add_config(project, config)
        make(project, "size.elf")
        fp = footprint_of(project, None)
        check_fits(target, fp.flash_bytes, fp.ram_bytes)
        make(project, "prog.elf")
        trace = tmp / "trace.log" if target.family.counts_from_trace else None
        run = run_firmware(project, net, len(Q), trace_log=trace)
        check_against_reference(run, net, Q, f"bench on {target.name}")
        if Xi is not None:
            check_int_entry(run, net, Xi, f"bench of {entry} on {target.name}")
        if trace is not None:
            ranges = symbol_ranges(target.family.nm_tool, project.path / "prog.elf")
            per = count_instructions(trace, ranges)[: len(Q)]
            trace.unlink()
        else:
            per = run.cycles
        if len(per) != len(Q):
            raise BDNNError(f"bench on {target.name}: measured {len(per)} of {len(Q)} inferences")
        _add_stack(target, fp, run.stack_bytes)
        per_inference = {"min": min(per), "max": max(per), "mean": float(np.mean(per))}
        return {
            **_size_record(target, fp, switches),
            "entry": entry,
            "unit": target.family.counts,
            "per_inference": per_inference,
            **inference_time(target, per_inference, clock_hz),
            "n_inferences": len(per),
            "word_bits": target.family.word_bits,
        }
    finally:
        if work_dir is None:
            clean_dir(tmp)


def _add_stack(target, fp, stack_bytes: int | None) -> None:
    """Record the measured stack of one inference and check that RAM still fits."""
    fp.stack_bytes = stack_bytes
    check_fits(target, fp.flash_bytes, fp.ram_bytes + (stack_bytes or 0))


def _switches(net: Network, small_code: bool, weights_as_code: bool) -> dict:
    """The C switches of a build as ``{CSwitch.key: bool}``; weights as code only for a model
    it is made for (``check_weights_as_code``: a one-line error before any build)."""
    if weights_as_code:
        check_weights_as_code(net)
    return {SMALL_CODE.key: small_code, WEIGHTS_AS_CODE.key: weights_as_code}


def _size_record(target, fp, switches: dict) -> dict:
    """The footprint fields that ``bench`` and ``size --target`` both report."""
    return {"target": target.name, "board": target.board, **asdict(fp),
            "flash_capacity": target.flash_bytes, "ram_capacity": target.ram_bytes,
            **switch_record(switches)}


def measured_size(net: Network, target_name: str, run: bool = True,
                  small_code: bool = False, weights_as_code: bool = False) -> dict:
    """Flash/RAM of ``net`` built for a target (for ``bdnn size --target``).

    With ``run`` the firmware also runs once on the emulator to measure the stack of one
    inference; ``small_code`` / ``weights_as_code`` build with ``BDNN_SMALL_CODE`` /
    ``BDNN_WEIGHTS_AS_CODE`` 1. Raises ``BDNNError`` for an unknown target, a missing
    toolchain, a model that does not fit, or one that weights as code is not made for.
    """
    switches = _switches(net, small_code, weights_as_code)
    target = get_target(target_name)
    require_toolchain(target, run=run)
    tmp = Path(tempfile.mkdtemp(prefix=f"bdnn-size-{target.name}-"))
    try:
        check_plan_fits(net, target)
        Q = random_inputs(net, 1)
        project = write_project(net, target, tmp, "model", Q)
        flags = switch_cflags(switches)
        if flags:
            add_config(project, [f"EXTRA_CFLAGS += {' '.join(flags)}"])
        make(project, "size.elf")
        fp = footprint_of(project, None)
        check_fits(target, fp.flash_bytes, fp.ram_bytes)
        if run:
            make(project, "prog.elf")
            fw = run_firmware(project, net, len(Q))
            check_against_reference(fw, net, Q, f"size check on {target.name}")
            _add_stack(target, fp, fw.stack_bytes)
        return _size_record(target, fp, switches)
    finally:
        clean_dir(tmp)
