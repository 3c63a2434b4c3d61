"""Input boxes for robust training: a raw l-infinity radius as quantized boxes per unique row.

Quantization is monotone in every feature, so the levels a raw box ``[x - rho, x + rho]`` reaches
lie between the levels of its two ends. Identical quantized rows are merged into one solver row,
so that row's box is the union (per feature min / max) of the boxes of its raw rows.
"""

from __future__ import annotations

import numpy as np

from ..errors import BDNNError
from ..quantizer import Quantizer
from .rows import UniqueRows


def check_radius(rho: float) -> float:
    """A valid robust radius (finite, >= 0) or a one-line error."""
    rho = float(rho)
    if not np.isfinite(rho) or rho < 0:
        raise BDNNError(f"--robust-radius must be a finite number >= 0, got {rho:g}")
    return rho


def robust_boxes(
    quantizer: Quantizer, X: np.ndarray, rows: UniqueRows, rho: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per unique row of ``rows``, the quantized box ``[lo, hi]`` (int64 [U, d]) that the raw
    rows ``X`` (the ones ``rows`` was built from) reach when they move by at most ``rho``."""
    rho = check_radius(rho)
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] != rows.inverse.shape[0]:
        raise ValueError("X must hold the raw rows the unique rows were built from")
    q_lo = quantizer.quantize(X - rho).astype(np.int64)
    q_hi = quantizer.quantize(X + rho).astype(np.int64)
    n_unique, d = rows.Q.shape
    lo = np.full((n_unique, d), np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full((n_unique, d), np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(lo, rows.inverse, q_lo)
    np.maximum.at(hi, rows.inverse, q_hi)
    # the row itself always lies in its box (guards float32 rounding at the ends)
    return np.minimum(lo, rows.Q), np.maximum(hi, rows.Q)


def radius_levels(quantizer: Quantizer, rho: float) -> list[float]:
    """The raw radius in quantized units, per feature (for the training record)."""
    return [float(v) for v in quantizer.to_quantized_units(rho)]


def _covering_radius(quantizer: Quantizer, X: np.ndarray) -> float:
    """The raw radius from which every row's box covers every feature's range [lo, hi]."""
    X = np.asarray(X, dtype=np.float64)
    scale = quantizer.scale.astype(np.float64)
    live = scale > 0  # constant features have no range to cover
    if not np.any(live):
        return 0.0
    lo = quantizer.lo.astype(np.float64)[live]
    hi = lo + quantizer.max_level / scale[live]
    half_level = 0.5 / scale[live]  # rounding: the end levels are reached half a level early
    return float(np.max(np.maximum(X[:, live] - lo, hi - X[:, live]) - half_level))


def apply_robust_radius(
    options, quantizer: Quantizer, X_raw: np.ndarray | None, Q: np.ndarray, rows: UniqueRows,
    rho: float | None,
) -> dict:
    """Set ``options.box_lo/box_hi`` for radius ``rho`` (no-op for None); returns the record
    entries. Without raw rows the quantized rows stand in (exact for identity quantizers)."""
    if rho is None:
        return {}
    rho = check_radius(rho)
    if X_raw is None:
        if not quantizer.is_identity:
            raise ValueError("robust training with a scaling quantizer needs the raw rows X_raw")
        X_raw = np.asarray(Q, dtype=np.float64)
    options.box_lo, options.box_hi = robust_boxes(quantizer, X_raw, rows, rho)
    if np.all(options.box_lo == 0) and np.all(options.box_hi == quantizer.max_level):
        raise BDNNError(
            f"robust radius {rho:g} makes every training box cover every feature's whole range, "
            "so no first-layer unit can change its activation (only a constant network "
            f"fits); try a --robust-radius below {_covering_radius(quantizer, X_raw):.4g}")
    return {"robust_radius": rho, "robust_radius_levels": radius_levels(quantizer, rho)}
