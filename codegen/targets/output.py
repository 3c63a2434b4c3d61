"""Parsing the runner's text output (see ``templates/firmware_common/runner.c``) into the
class, scores and hidden bits of every test vector."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bdnn.errors import BDNNError


@dataclass
class FirmwareRun:
    """What one firmware run computed, per test vector, plus its own self-check."""

    classes: np.ndarray  # int64 [N]
    scores: np.ndarray  # int64 [N, n_outputs]
    hidden: np.ndarray  # uint8 [N, total hidden units], layers concatenated
    mismatches: int  # rows the firmware itself found different from the embedded reference
    error_rows: list[int] = field(default_factory=list)
    cycles: list[int] = field(default_factory=list)  # per row, boards with a cycle counter
    stack_bytes: int | None = None
    # with RUNNER_REPORTS_FLOAT: NAME_predict's class and NAME_quantize's levels of each row's
    # float input (None otherwise)
    float_classes: np.ndarray | None = None  # int64 [N]
    float_levels: np.ndarray | None = None  # uint8 [N, n_inputs]


def parse_runner_output(
    lines: list[str], n_rows: int, n_outputs: int, n_hidden: int
) -> FirmwareRun:
    """Decode the records of a complete run; raise ``BDNNError`` if the run is incomplete."""
    classes = np.full(n_rows, -1, dtype=np.int64)
    scores: list[list[int]] = [[] for _ in range(n_rows)]
    hexes: list[str] = ["" for _ in range(n_rows)]
    cycles: dict[int, int] = {}
    float_classes: dict[int, int] = {}
    float_levels: dict[int, list[int]] = {}
    errors: list[int] = []
    stack = None
    done = None
    for raw in lines:
        parts = raw.split()
        if not parts or len(parts[0]) != 1:
            continue
        tag, args = parts[0], parts[1:]
        try:
            if tag == "C":
                classes[int(args[0])] = int(args[1])
            elif tag == "S":
                scores[int(args[0])].extend(int(v) for v in args[1:])
            elif tag == "H":
                hexes[int(args[0])] += args[1] if len(args) > 1 else ""
            elif tag == "T":
                cycles[int(args[0])] = int(args[1])
            elif tag == "F":
                float_classes[int(args[0])] = int(args[1])
            elif tag == "G":
                float_levels.setdefault(int(args[0]), []).extend(int(v) for v in args[1:])
            elif tag == "E":
                errors.append(int(args[0]))
            elif tag == "K":
                stack = int(args[0])
            elif tag == "D":
                done = int(args[0])
        except (IndexError, ValueError):
            raise BDNNError(f"unreadable firmware output line: {raw[:80]!r}") from None
    if done is None:
        tail = " | ".join(line for line in lines[-3:] if line.strip())
        raise BDNNError(
            f"firmware stopped before finishing its test vectors (last output: {tail!r})"
        )
    if n_rows and (classes < 0).any():
        raise BDNNError(f"firmware output lacks the class of row {int(np.argmax(classes < 0))}")
    for i, row in enumerate(scores):
        if len(row) != n_outputs:
            raise BDNNError(f"firmware printed {len(row)} scores for row {i}, expected {n_outputs}")
    hidden = np.zeros((n_rows, n_hidden), dtype=np.uint8)
    for i, text in enumerate(hexes):
        if len(text) != (n_hidden + 3) // 4:
            raise BDNNError(f"firmware printed {len(text)} hidden digits for row {i}")
        for d, ch in enumerate(text):
            v = int(ch, 16)
            for k in range(4):
                if 4 * d + k < n_hidden:
                    hidden[i, 4 * d + k] = (v >> k) & 1
    f_classes = f_levels = None
    if float_classes:
        if sorted(float_classes) != list(range(n_rows)) or sorted(float_levels) != sorted(
            float_classes
        ):
            raise BDNNError("firmware output lacks the float result of some rows")
        f_classes = np.array([float_classes[i] for i in range(n_rows)], np.int64)
        lengths = {len(v) for v in float_levels.values()}
        if len(lengths) != 1:
            raise BDNNError("firmware printed rows of float levels of different lengths")
        f_levels = np.array([float_levels[i] for i in range(n_rows)], np.int64).astype(np.uint8)
    return FirmwareRun(
        float_classes=f_classes,
        float_levels=f_levels,
        classes=classes,
        scores=np.array(scores, dtype=np.int64).reshape(n_rows, n_outputs),
        hidden=hidden,
        mismatches=done,
        error_rows=errors,
        cycles=[cycles[i] for i in sorted(cycles)],
        stack_bytes=stack,
    )
