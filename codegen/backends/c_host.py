"""The generated C compiled with the host compiler and run through the generic host harness.

The harness (``templates/host_main.c``, also ``firmware_examples/host/main.c``) reads rows on
stdin and prints class, scores and hidden bits per row. Several models can be linked into one
harness (a generated model table), so tests compile hundreds of networks with one compiler call.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bdnn.errors import BDNNError
from bdnn.network import ForwardResult, Network
from bdnn.raw_input import raw_input_of

from ..c_export import render_c
from ..render import read_static, render
from ..targets.process import emulator_timeout

name = "c-host"
description = "generated C built with the host compiler, run by the host harness"

CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic")
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g")


class BackendError(BDNNError):
    """A backend could not build or run a model."""


def find_compiler() -> str | None:
    """``$CC`` if set and found, else the first of gcc, cc, clang on PATH."""
    candidates = [os.environ["CC"]] if os.environ.get("CC") else ["gcc", "cc", "clang"]
    for cc in candidates:
        path = shutil.which(cc)
        if path:
            return path
    return None


def available() -> tuple[bool, str]:
    if find_compiler() is None:
        return False, "no C compiler on PATH (install gcc or set CC)"
    return True, ""


def build(
    models: Sequence[tuple[Network, str]],
    workdir: str | os.PathLike,
    word_bits: int | Sequence[int] = 32,
    cflags: Sequence[str] = CFLAGS,
) -> Path:
    """Generate every model, a model table and the harness in ``workdir``; compile them with
    one compiler call; return the executable. ``word_bits``: one size, or one per model."""
    cc = find_compiler()
    if cc is None:
        raise BackendError("no C compiler on PATH (install gcc or set CC)")
    work = Path(workdir)
    sources = []
    sizes = [word_bits] * len(models) if isinstance(word_bits, int) else list(word_bits)
    for (net, model_name), bits in zip(models, sizes, strict=True):
        for fname, text in render_c(net, model_name, bits).items():
            (work / fname).write_text(text, encoding="utf-8")
        sources.append(f"{model_name}.c")
    (work / "models.h").write_text(
        render("host_models.h.j2", names=[n for _, n in models]), encoding="utf-8"
    )
    (work / "main.c").write_text(read_static("host_main.c"), encoding="utf-8")
    exe = work / "harness"
    cmd = [cc, *cflags, "-I.", '-DBDNN_MODEL_TABLE="models.h"', "main.c", *sources, "-o", exe.name]
    # no time limit: a compile always ends, however busy the machine is
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["(no message)"])[:3]
        raise BackendError(f"{Path(cc).name} failed on the generated C: {' / '.join(first)}")
    return exe


def encode_q(index: int, Q: np.ndarray) -> list[str]:
    """Harness input lines for quantized rows of model ``index``."""
    return [f"q {index} " + " ".join(str(int(v)) for v in row) for row in np.asarray(Q)]


def encode_float(index: int, X: np.ndarray) -> list[str]:
    """Harness input lines for float32 rows (exact C99 hex floats, nan, inf, -inf)."""
    def fmt(v: np.float32) -> str:
        f = float(v)
        if np.isnan(f):
            return "nan"
        if np.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f.hex()

    return [f"f {index} " + " ".join(fmt(v) for v in row) for row in np.asarray(X, np.float32)]


def run_harness(exe: Path, lines: Sequence[str], env: dict | None = None) -> list[str]:
    """Feed ``lines`` to the harness; return its output lines (one per input line).

    The only time limit is the hang guard of an emulator run of as many rows (at least
    minutes; ``BDNN_EMULATOR_TIMEOUT`` overrides it): a native run is far faster."""
    try:
        proc = subprocess.run(
            [str(exe)],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=emulator_timeout(len(lines)),
            env=env,
        )
    except subprocess.TimeoutExpired as e:
        raise BackendError(
            f"host harness did not finish {len(lines)} rows within {e.timeout:g} s (a hang?)"
        ) from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no message)"])[:3]
        raise BackendError(f"host harness exited with {proc.returncode}: {' / '.join(tail)}")
    out = proc.stdout.splitlines()
    if len(out) != len(lines):
        raise BackendError(f"host harness printed {len(out)} lines for {len(lines)} rows")
    return out


def parse_q(lines: Sequence[str], net: Network) -> ForwardResult:
    """Parse harness output lines of ``q`` rows into a ForwardResult."""
    n = len(lines)
    n_out = net.n_outputs
    classes = np.zeros(n, np.int64)
    scores = np.zeros((n, n_out), np.int64)
    bits = np.zeros((n, int(sum(net.hidden_widths))), np.uint8)
    for r, line in enumerate(lines):
        head, _, tail = line.partition(" | ")
        values = [int(v) for v in head.split()]
        classes[r] = values[0]
        scores[r] = values[1:]
        bits[r] = np.frombuffer(tail.strip().encode(), np.uint8) - ord("0")
    hidden, start = [], 0
    for w in net.hidden_widths:
        hidden.append(bits[:, start : start + w].copy())
        start += w
    return ForwardResult(classes, scores, hidden)


def parse_float(lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse ``f`` rows: (classes from NAME_predict, quantized inputs from NAME_quantize)."""
    classes, quantized = [], []
    for line in lines:
        head, _, tail = line.partition(" |")
        classes.append(int(head))
        quantized.append([int(v) for v in tail.split()])
    return np.array(classes, np.int64), np.array(quantized, np.uint8)


def run(net: Network, Q: np.ndarray, cflags: Sequence[str] = CFLAGS) -> ForwardResult:
    """Build the model with the host compiler (``cflags``) and run every row of ``Q`` through
    the harness."""
    with tempfile.TemporaryDirectory(prefix="bdnn-c-host-") as tmp:
        exe = build([(net, "model")], tmp, cflags=cflags)
        return parse_q(run_harness(exe, encode_q(0, Q)), net)


def run_float(net: Network, X: np.ndarray, cflags: Sequence[str] = CFLAGS
              ) -> tuple[np.ndarray, np.ndarray]:
    """``NAME_predict``'s class and ``NAME_quantize``'s levels of each float row of ``X``."""
    with tempfile.TemporaryDirectory(prefix="bdnn-c-host-") as tmp:
        exe = build([(net, "model")], tmp, cflags=cflags)
        return parse_float(run_harness(exe, encode_float(0, X)))


_INT_MAIN = """/* Integer rows on stdin, one per line; prints the class, "|", the levels. */
#include <stdio.h>
#include "model.h"

int main(void)
{
    static %(t)s x[MODEL_N_INPUTS];
    static uint8_t xq[MODEL_N_INPUTS];
    long v;
    unsigned j;
    for (;;) {
        for (j = 0; j < MODEL_N_INPUTS; j++) {
            if (scanf("%%ld", &v) != 1)
                return 0;
            x[j] = (%(t)s)v;
        }
        printf("%%d |", model_predict_%(s)s(x));
        model_quantize_%(s)s(x, xq);
        for (j = 0; j < MODEL_N_INPUTS; j++)
            printf(" %%u", (unsigned)xq[j]);
        printf("\\n");
    }
}
"""


def run_int(net: Network, Xi: np.ndarray, cflags: Sequence[str] = CFLAGS
            ) -> tuple[np.ndarray, np.ndarray]:
    """``NAME_predict_i16`` / ``_i32``'s class and ``NAME_quantize_i16`` / ``_i32``'s levels of
    each integer row of ``Xi`` (the network's raw-input API), built with a small harness."""
    raw = raw_input_of(net)
    if raw is None:
        raise BackendError("the network has no raw-input API (train on integers or give "
                           "--raw-input int16|int32)")
    cc = find_compiler()
    if cc is None:
        raise BackendError("no C compiler on PATH (install gcc or set CC)")
    with tempfile.TemporaryDirectory(prefix="bdnn-c-host-") as tmp:
        work = Path(tmp)
        for fname, text in render_c(net, "model").items():
            (work / fname).write_text(text, encoding="utf-8")
        (work / "main.c").write_text(_INT_MAIN % {"t": raw.c_type, "s": raw.suffix})
        proc = subprocess.run([cc, *cflags, "-I.", "main.c", "model.c", "-o", "harness"],
                              cwd=work, capture_output=True, text=True)
        if proc.returncode != 0:
            first = (proc.stderr.strip().splitlines() or ["(no message)"])[:3]
            raise BackendError(f"{Path(cc).name} failed on the generated C: {' / '.join(first)}")
        lines = [" ".join(str(int(v)) for v in row) for row in np.asarray(Xi, np.int64)]
        return parse_float(run_harness(work / "harness", lines))
