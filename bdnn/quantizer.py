"""The input quantizer: float features -> small unsigned integers (docs/design.md §2).

``q = clamp(floor((x - lo) * scale + 0.5), 0, L)`` with ``L = 2**bits - 1``, evaluated in float32 in
exactly this order (subtract, multiply, add 0.5, floor) so that C, ONNX and numpy agree bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import BDNNError

MAX_BITS = 8
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Quantizer:
    """Per-feature affine quantizer to ``bits``-bit unsigned integers."""

    bits: int
    lo: np.ndarray  # float32, shape [n_inputs]
    scale: np.ndarray  # float32, shape [n_inputs]

    def __post_init__(self) -> None:
        with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values: refused below
            object.__setattr__(self, "lo", np.asarray(self.lo, dtype=np.float32).reshape(-1))
            object.__setattr__(self, "scale",
                               np.asarray(self.scale, dtype=np.float32).reshape(-1))
        if not 1 <= int(self.bits) <= MAX_BITS:
            raise BDNNError(f"input bits must be in 1..{MAX_BITS}, got {self.bits}")
        if self.lo.shape != self.scale.shape:
            raise BDNNError("quantizer lo and scale must have one value per input feature")
        if not (np.all(np.isfinite(self.lo)) and np.all(np.isfinite(self.scale))):
            raise BDNNError("quantizer lo and scale must be finite numbers")
        if np.any(self.scale < 0):
            raise BDNNError("quantizer scale must be >= 0")

    @property
    def n_inputs(self) -> int:
        return int(self.lo.shape[0])

    @property
    def max_level(self) -> int:
        """The largest quantized value, level ``L = 2**bits - 1`` (max_level)."""
        return (1 << int(self.bits)) - 1

    @property
    def is_identity(self) -> bool:
        return bool(np.all(self.lo == 0) and np.all(self.scale == 1))

    @classmethod
    def identity(cls, n_inputs: int, bits: int) -> Quantizer:
        """Quantizer for features that already are integers in ``0..2**bits-1``."""
        return cls(bits, np.zeros(n_inputs, np.float32), np.ones(n_inputs, np.float32))

    @classmethod
    def fit(cls, X: np.ndarray, bits: int, feature_names: list[str] | None = None,
            source: str | None = None) -> Quantizer:
        """Min-max quantizer from training data; identity when the data are already levels.

        The quantizer computes in float32, so every column's values and range must be finite
        float32 numbers; a column that is not is refused naming ``source`` (the data set or
        file) and the column (from ``feature_names``, else its index).
        """
        X = np.asarray(X, dtype=np.float64)
        max_level = (1 << int(bits)) - 1
        if X.size and np.all(X == np.round(X)) and X.min() >= 0 and X.max() <= max_level:
            return cls.identity(X.shape[1], bits)
        lo64, hi64 = X.min(axis=0), X.max(axis=0)
        # the float32 range of each column, computed as the quantizer does (no warnings)
        with np.errstate(over="ignore", invalid="ignore"):
            lo = lo64.astype(np.float32)
            span = hi64.astype(np.float32) - lo
        bad = ~(np.isfinite(lo) & np.isfinite(span))
        if bad.any():
            j = int(np.argmax(bad))
            name = feature_names[j] if feature_names is not None else f"{j}"
            where = f"{source}: " if source else ""
            raise BDNNError(
                f"{where}column {name!r} ranges from {lo64[j]:g} to {hi64[j]:g}, beyond what "
                f"float32 holds (|x| and the range below {FLOAT32_MAX:.3g}); rescale that column"
            )
        scale = np.where(span > 0, np.float32(max_level) / np.where(span > 0, span, 1), 0)
        return cls(bits, lo, scale.astype(np.float32))

    def quantize(self, X: np.ndarray) -> np.ndarray:
        """Quantize float features ``X`` [N, n_inputs] to uint8 levels, in float32."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            got = X.shape[-1] if X.ndim else 0
            raise BDNNError(f"data has {got} features, the model expects {self.n_inputs}")
        with np.errstate(over="ignore", invalid="ignore"):
            t = (X - self.lo) * self.scale  # float32 ops: each rounded to float32 like C
            t = np.floor(t + np.float32(0.5))
        t = np.nan_to_num(t, nan=0.0, posinf=self.max_level, neginf=0.0)
        return np.clip(t, 0, self.max_level).astype(np.uint8)

    def to_quantized_units(self, radius: float | np.ndarray) -> np.ndarray:
        """A radius in raw feature units (scalar or per feature) in quantized units, per
        feature: ``radius * scale`` in float64 (the one conversion robust training and the
        robustness checks use)."""
        return np.asarray(radius, dtype=np.float64) * self.scale.astype(np.float64)
