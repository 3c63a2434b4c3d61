"""Bit-exact cross-checking of every backend against the numpy reference (``bdnn verify``).

Each backend (see :mod:`codegen.backends`) runs the network on the same quantized rows: the data
rows (quantized with the model's quantizer) and random integer inputs, among them all-0 and
all-max and codes above max_level (which every backend clamps to max_level). Class, every
score and every hidden bit must match ``Network.forward_q``. Backends with a float API
(``run_float``) also run float rows that probe every quantization boundary, the special values
and the data rows through ``NAME_predict`` / ``NAME_quantize``: class and levels must match
``Network.forward`` and ``Quantizer.quantize``. Backends with the integer raw-input API
(``run_int``: c-host and the firmware targets) run integer rows through ``NAME_predict_i16`` /
``_i32`` when the network has one; they must match ``Quantizer.quantize`` of the integers as
float32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from bdnn.errors import BDNNError
from bdnn.network import ForwardResult, Network
from bdnn.raw_input import RAW_INPUTS, raw_input_of, with_raw_input

from .backends import REFERENCE, get_backends
from .level_keys import boundary_inputs, boundary_ints


@dataclass
class BackendReport:
    """The outcome of one backend: ``ok``, ``mismatch``, ``skipped``, ``error`` or ``reference``."""

    backend: str
    status: str
    rows: int = 0
    mismatches: int = 0
    reason: str = ""
    first_mismatch: dict | None = None
    float_rows: int = 0  # float rows checked (backends with run_float)
    float_mismatches: int = 0
    int_rows: int = 0  # integer rows through the raw-input API (backends with run_int)
    int_mismatches: int = 0


@dataclass
class VerifyReport:
    data_rows: int
    random_rows: int
    backends: list[BackendReport] = field(default_factory=list)
    float_rows: int = 0  # float probe rows (boundary_float_rows) plus the data rows
    int_rows: int = 0  # integer rows for the raw-input API (0: the model has none)
    raw_input: str | None = None

    @property
    def ok(self) -> bool:
        return all(b.status in ("ok", "reference", "skipped") for b in self.backends)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "data_rows": self.data_rows,
            "random_rows": self.random_rows,
            "float_rows": self.float_rows,
            "int_rows": self.int_rows,
            "raw_input": self.raw_input,
            "backends": [asdict(b) for b in self.backends],
        }


def random_inputs(net: Network, n: int, seed: int) -> np.ndarray:
    """``n`` quantized rows: all-0, all-max, then uniform levels, random extremes and (when
    max_level < 255) random codes 0..255, whose codes above max_level every backend clamps."""
    top = net.quantizer.max_level
    rng = np.random.default_rng(seed)
    rows = [np.zeros(net.n_inputs, np.int64), np.full(net.n_inputs, top, np.int64)][: max(n, 0)]
    rest = max(n - len(rows), 0)
    n_above = rest // 3 if top < 255 else 0
    n_extremes = (rest - n_above) // 2
    uniform = rng.integers(0, top + 1, size=(rest - n_above - n_extremes, net.n_inputs))
    extremes = rng.integers(0, 2, size=(n_extremes, net.n_inputs)) * top
    above = rng.integers(0, 256, size=(n_above, net.n_inputs))
    Q = np.vstack([np.array(rows).reshape(-1, net.n_inputs), uniform, extremes, above])
    return Q.astype(np.uint8)


def float_rows(net: Network, X: np.ndarray | None) -> np.ndarray:
    """Float rows for the float API: every quantization boundary of every input and its
    neighbours 1 ulp away, +-0, +-inf, NaN, subnormals, far values
    (``codegen.level_keys.boundary_inputs``), then the data rows."""
    rows = [boundary_inputs(net.quantizer)]
    if X is not None:
        rows.append(np.asarray(X, dtype=np.float32).reshape(-1, net.n_inputs))
    return np.vstack(rows)


def int_rows(net: Network, X: np.ndarray | None) -> np.ndarray | None:
    """Integer rows for the raw-input API (None without one): every integer threshold and its
    neighbours, 0, +-1 and the type's ends (``codegen.level_keys.boundary_ints``), then the
    data rows if they are integers of the type."""
    raw = raw_input_of(net)
    if raw is None:
        return None
    rows = [boundary_ints(net.quantizer, raw)]
    if X is not None and raw.holds(X):
        rows.append(np.asarray(X, dtype=np.float64).astype(np.int64).reshape(-1, net.n_inputs))
    return np.vstack(rows)


def _input_check(run, net: Network, X: np.ndarray, classes: np.ndarray, levels: np.ndarray,
                 kind: str):
    """(mismatching rows, first mismatch or None) of a backend's entry point ``run`` (its
    ``run_float``, or ``run_int`` on integer rows) on the ``kind`` ("float", "integer") rows
    ``X``, against the reference ``classes`` and quantized ``levels``."""
    got_classes, got_levels = run(net, X)
    got_classes = np.asarray(got_classes).reshape(-1)
    got_levels = np.asarray(got_levels)
    if got_classes.shape != classes.shape or got_levels.shape != levels.shape:
        return np.ones(len(X), bool), {"row": 0, "source": f"{kind} output has the wrong shape"}
    bad = (got_classes != classes) | np.any(got_levels != levels, axis=1)
    if not bad.any():
        return bad, None
    r = int(np.argmax(bad))
    return bad, {
        "row": r,
        "source": f"{kind} row {r}",
        "input": [float(v).hex() for v in X[r]],
        "expected": {"class": int(classes[r]), "levels": [int(v) for v in levels[r]]},
        "got": {"class": int(got_classes[r]), "levels": [int(v) for v in got_levels[r]]},
    }


def row_mismatches(expected: ForwardResult, got: ForwardResult) -> np.ndarray:
    """Boolean per row: class, a score or a hidden bit differs (or shapes are wrong)."""
    n = len(expected.class_index)
    bad = np.zeros(n, bool)
    class_index = np.asarray(got.class_index).reshape(-1)
    scores = np.asarray(got.scores)
    if class_index.shape != (n,) or scores.shape != expected.scores.shape:
        return np.ones(n, bool)
    if len(got.hidden_bits) != len(expected.hidden_bits):
        return np.ones(n, bool)
    bad |= class_index != expected.class_index
    bad |= np.any(scores != expected.scores, axis=1)
    for e, g in zip(expected.hidden_bits, got.hidden_bits, strict=True):
        g = np.asarray(g)
        if g.shape != e.shape:
            return np.ones(n, bool)
        bad |= np.any(g != e, axis=1)
    return bad


def _describe_row(r: int, n_data: int, Q: np.ndarray, expected: ForwardResult, got: ForwardResult):
    def bits(result: ForwardResult) -> str:
        return " ".join("".join(str(int(b)) for b in h[r]) for h in result.hidden_bits)

    return {
        "row": r,
        "source": f"data row {r}" if r < n_data else f"random row {r - n_data}",
        "input": [int(v) for v in Q[r]],
        "expected": {
            "class": int(expected.class_index[r]),
            "scores": [int(v) for v in expected.scores[r]],
            "hidden_bits": bits(expected),
        },
        "got": {
            "class": int(np.asarray(got.class_index).reshape(-1)[r]),
            "scores": [int(v) for v in np.asarray(got.scores)[r]],
            "hidden_bits": bits(got),
        },
    }


def verify_request(backends: list[str] | None, n_random: int, n_data_rows: int) -> list:
    """The backends a verification runs (``None``: all); ``BDNNError`` for a request that
    cannot run (an unknown backend, a negative ``n_random``, no rows at all)."""
    if n_random < 0:
        raise BDNNError(f"--random must be >= 0, got {n_random}")
    if n_random + n_data_rows == 0:
        raise BDNNError("nothing to verify: give a data set or --random N with N >= 1")
    return get_backends(backends) if backends else get_backends(_default_names())


def verify(
    net: Network,
    X: np.ndarray | None = None,
    n_random: int = 200,
    seed: int = 0,
    backends: list[str] | None = None,
    raw_input: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Run every backend on the data rows of ``X`` (float features) and ``n_random`` random
    integer inputs; compare with the numpy reference bit for bit. Backends with ``run_int``
    also run integer rows through the raw-input API (the network's, or ``raw_input``).
    ``progress`` receives a line as each backend starts (a cross-compiled backend under its
    emulator takes a second or more)."""
    say = progress or (lambda message: None)
    net = with_raw_input(net, raw_input)
    modules = verify_request(backends, n_random, 0 if X is None else len(X))
    Q_data = (
        net.quantizer.quantize(np.asarray(X)) if X is not None else np.zeros((0, net.n_inputs))
    )
    Q = np.vstack([Q_data.astype(np.uint8), random_inputs(net, n_random, seed)]).astype(np.uint8)
    report = VerifyReport(len(Q_data), len(Q) - len(Q_data))
    expected = net.forward_q(Q)
    X_float = float_rows(net, X)
    report.float_rows = len(X_float)
    float_levels = net.quantizer.quantize(X_float)
    float_classes = net.forward_q(float_levels).class_index
    X_int = int_rows(net, X)
    if X_int is not None:
        report.int_rows, report.raw_input = len(X_int), raw_input_of(net).name
        int_levels = net.quantizer.quantize(X_int.astype(np.float32))  # what (float)x gives
        int_classes = net.forward_q(int_levels).class_index
    say(f"{len(Q)} level rows, {len(X_float)} float rows"
        + (f", {len(X_int)} integer rows" if X_int is not None else "")
        + f"; {len(modules)} backends")
    for k, module in enumerate(modules, 1):
        say(f"backend {k}/{len(modules)}: {module.name}")
        if module.name == REFERENCE:
            report.backends.append(BackendReport(module.name, "reference", len(Q)))
            continue
        ok, reason = module.available()
        if not ok:
            report.backends.append(BackendReport(module.name, "skipped", reason=reason))
            continue
        try:
            got = module.run(net, Q)
        except Exception as e:  # a failing backend is a verification failure, not a crash
            msg = " ".join(str(e).split()) or type(e).__name__
            report.backends.append(BackendReport(module.name, "error", reason=msg))
            continue
        bad = row_mismatches(expected, got)
        first = None
        if bad.any():
            r = int(np.argmax(bad))
            try:
                first = _describe_row(r, len(Q_data), Q, expected, got)
            except (IndexError, ValueError):
                first = {"row": r, "source": "output has the wrong shape"}
        # the float API (NAME_predict / NAME_quantize) and the raw-input API (_i16 / _i32)
        entry_points = []
        if hasattr(module, "run_float"):
            entry_points.append(("float", module.run_float, X_float, float_classes,
                                 float_levels))
        if X_int is not None and hasattr(module, "run_int"):
            entry_points.append(("integer", module.run_int, X_int, int_classes, int_levels))
        checked = {"float": (0, np.zeros(0, bool)), "integer": (0, np.zeros(0, bool))}
        error = None
        for kind, run, X_k, classes_k, levels_k in entry_points:
            try:
                k_bad, k_first = _input_check(run, net, X_k, classes_k, levels_k, kind)
            except Exception as e:
                msg = " ".join(str(e).split()) or type(e).__name__
                error = BackendReport(module.name, "error", reason=f"{kind} rows: {msg}")
                break
            checked[kind] = (len(X_k), k_bad)
            first = first or k_first
        if error is not None:
            report.backends.append(error)
            continue
        (f_rows, f_bad), (i_rows, i_bad) = checked["float"], checked["integer"]
        report.backends.append(
            BackendReport(
                module.name,
                "mismatch" if bad.any() or f_bad.any() or i_bad.any() else "ok",
                len(Q),
                int(bad.sum()),
                first_mismatch=first,
                float_rows=f_rows,
                float_mismatches=int(f_bad.sum()),
                int_rows=i_rows,
                int_mismatches=int(i_bad.sum()),
            )
        )
    return report


def _default_names() -> list[str]:
    from .backends import all_backends

    return list(all_backends())


def format_table(report: VerifyReport) -> str:
    """The human-readable table: backend x rows checked x mismatches x status."""
    lines = [
        f"rows: {report.data_rows} from data, {report.random_rows} random "
        "(incl. all-0, all-max, codes above max_level)",
        f"float rows: {report.float_rows} (every quantization boundary +-1 ulp, +-0, +-inf, NaN, "
        "subnormals, far values, then the data rows)",
        f"{'backend':<16} {'rows':>6} {'mismatches':>10} {'float rows':>10} {'mismatches':>10}"
        "  status",
    ]
    for b in report.backends:
        status = b.status + (f" ({b.reason})" if b.reason else "")
        done = b.status not in ("skipped", "error")
        rows = str(b.rows) if done else "-"
        mism = str(b.mismatches) if done and b.status != "reference" else "-"
        f_rows = str(b.float_rows) if done and b.float_rows else "-"
        f_mism = str(b.float_mismatches) if done and b.float_rows else "-"
        if b.status == "reference":
            f_rows = str(report.float_rows)
        lines.append(f"{b.backend:<16} {rows:>6} {mism:>10} {f_rows:>10} {f_mism:>10}  {status}")
    if report.int_rows:
        lines.append(f"integer rows ({report.raw_input} raw-input API, NAME_predict_"
                     f"{RAW_INPUTS[report.raw_input].suffix}): {report.int_rows} per backend "
                     "(every integer threshold +-1, 0, the type's ends, integer data rows)")
        for b in report.backends:
            if b.int_rows:
                lines.append(f"  {b.backend:<16} {b.int_rows:>6} rows {b.int_mismatches:>6} "
                             "mismatches")
    for b in report.backends:
        if b.first_mismatch:
            m = b.first_mismatch
            lines.append(f"first mismatch in {b.backend}: {m['source']}, input {m.get('input')}")
            if "expected" in m:
                lines.append(f"  expected {m['expected']}")
                lines.append(f"  got      {m['got']}")
    lines.append("all backends agree bit for bit" if report.ok else "VERIFY FAILED")
    return "\n".join(lines)
