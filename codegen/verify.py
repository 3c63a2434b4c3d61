"""Bit-exact cross-checking of every backend against the numpy reference (``bdnn verify``).

Each backend (see :mod:`codegen.backends`) runs the network on the same quantized rows: the data
rows (quantized with the model's quantizer) and random integer inputs, among them all-0 and
all-max and codes above max_level (which every backend clamps to max_level). Class, every
score and every hidden bit must match ``Network.forward_q``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from bdnn.errors import BDNNError
from bdnn.network import ForwardResult, Network

from .backends import REFERENCE, get_backends


@dataclass
class BackendReport:
    """The outcome of one backend: ``ok``, ``mismatch``, ``skipped``, ``error`` or ``reference``."""

    backend: str
    status: str
    rows: int = 0
    mismatches: int = 0
    reason: str = ""
    first_mismatch: dict | None = None


@dataclass
class VerifyReport:
    data_rows: int
    random_rows: int
    backends: list[BackendReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(b.status in ("ok", "reference", "skipped") for b in self.backends)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "data_rows": self.data_rows,
            "random_rows": self.random_rows,
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


def verify(
    net: Network,
    X: np.ndarray | None = None,
    n_random: int = 200,
    seed: int = 0,
    backends: list[str] | None = None,
) -> VerifyReport:
    """Run every backend on the data rows of ``X`` (float features) and ``n_random`` random
    integer inputs; compare with the numpy reference bit for bit."""
    if n_random < 0:
        raise BDNNError(f"--random must be >= 0, got {n_random}")
    modules = get_backends(backends) if backends else get_backends(_default_names())
    Q_data = (
        net.quantizer.quantize(np.asarray(X)) if X is not None else np.zeros((0, net.n_inputs))
    )
    Q = np.vstack([Q_data.astype(np.uint8), random_inputs(net, n_random, seed)]).astype(np.uint8)
    report = VerifyReport(len(Q_data), len(Q) - len(Q_data))
    if len(Q) == 0:
        raise BDNNError("nothing to verify: give a data set or --random N with N >= 1")
    expected = net.forward_q(Q)
    for module in modules:
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
        report.backends.append(
            BackendReport(
                module.name,
                "mismatch" if bad.any() else "ok",
                len(Q),
                int(bad.sum()),
                first_mismatch=first,
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
        f"{'backend':<16} {'rows':>6} {'mismatches':>10}  status",
    ]
    for b in report.backends:
        status = b.status + (f" ({b.reason})" if b.reason else "")
        rows = str(b.rows) if b.status not in ("skipped", "error") else "-"
        mism = str(b.mismatches) if b.status not in ("skipped", "error", "reference") else "-"
        lines.append(f"{b.backend:<16} {rows:>6} {mism:>10}  {status}")
    for b in report.backends:
        if b.first_mismatch:
            m = b.first_mismatch
            lines.append(f"first mismatch in {b.backend}: {m['source']}, input {m.get('input')}")
            if "expected" in m:
                lines.append(f"  expected {m['expected']}")
                lines.append(f"  got      {m['got']}")
    lines.append("all backends agree bit for bit" if report.ok else "VERIFY FAILED")
    return "\n".join(lines)
