"""The input quantizer: float features -> small unsigned integers (docs/design.md §2).

Two forms, one interface (``bits``, ``n_inputs``, ``max_level``, ``quantize``, ``level_values``,
``to_dict``; the exporters read nothing else but the class attributes ``affine``,
``pow2_steps`` and ``file_version``, and ``Pow2Quantizer``'s ``shift`` and ``offset``):

- ``Quantizer`` (affine, kind ``uniform``): ``q = clamp(floor((x - lo) * scale + 0.5), 0, L)`` with
  ``L = 2**bits - 1``, evaluated in float32 in exactly this order (subtract, multiply, add 0.5,
  floor) so that C, ONNX and numpy agree bit for bit.
- ``ThresholdQuantizer`` (kinds ``quantile`` and ``supervised``): per feature up to ``L`` sorted
  float32 cut points; ``q`` = the number of cut points ``<= x`` (NaN -> 0).
- ``Pow2Quantizer`` (kind ``pow2``), a ``ThresholdQuantizer`` with two integers per feature:
  ``q = clamp(floor(x * 2**shift + 0.5) - offset, 0, L)`` in exact arithmetic, i.e. the cut
  points ``(offset + k - 0.5) * 2**-shift``, each exactly a float32; C computes the level from
  the float's bits with integer operations only (``templates/quantizer_level.c.j2``).

``QUANTIZER_KINDS`` is the record of the ``--quantizer`` choices: each kind's name, help and fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import BDNNError

MAX_BITS = 8
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_bits(bits: int) -> None:
    """Refuses input bits outside ``1..MAX_BITS`` (every quantizer form)."""
    if not 1 <= int(bits) <= MAX_BITS:
        raise BDNNError(f"input bits must be in 1..{MAX_BITS}, got {bits}")


def _already_levels(X: np.ndarray, max_level: int) -> bool:
    """True when the (non-empty) data are integers in ``0..max_level``: the quantizers fitted
    by min-max or power-of-two steps are then the identity."""
    return bool(X.size and np.all(X == np.round(X)) and X.min() >= 0 and X.max() <= max_level)


@dataclass(frozen=True)
class Quantizer:
    """Per-feature affine quantizer to ``bits``-bit unsigned integers (kind ``uniform``)."""

    #: C may also quantize by float32 arithmetic (``BDNN_FLOAT_QUANTIZER 1``); ONNX uses it.
    affine = True
    #: the C may compute the level from the float's bits by a shift and an offset (Pow2Quantizer)
    pow2_steps = False
    file_kind = "affine"
    #: the oldest model file version that can hold this quantizer
    file_version = 1

    bits: int
    lo: np.ndarray  # float32, shape [n_inputs]
    scale: np.ndarray  # float32, shape [n_inputs]

    def __post_init__(self) -> None:
        with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values: refused below
            object.__setattr__(self, "lo", np.asarray(self.lo, dtype=np.float32).reshape(-1))
            object.__setattr__(self, "scale",
                               np.asarray(self.scale, dtype=np.float32).reshape(-1))
        _check_bits(self.bits)
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
        if _already_levels(X, max_level):
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

    def quantize_at(self, values: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Levels (int64) of ``values[i]`` as feature ``features[i]``: the same float32
        operations, in the same order, as ``quantize``."""
        v = np.asarray(values, dtype=np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            t = (v - self.lo[features]) * self.scale[features]
            t = np.floor(t + np.float32(0.5))
        t = np.nan_to_num(t, nan=0.0, posinf=self.max_level, neginf=0.0)
        return np.clip(t, 0, self.max_level).astype(np.int64)

    def level_values(self, Q: np.ndarray) -> np.ndarray:
        """float32 raw values that quantize to (about) the levels ``Q``: bin centres."""
        scale = self.scale.astype(np.float64)
        safe = np.where(scale > 0, scale, 1.0)
        x = self.lo.astype(np.float64) + np.where(scale > 0, np.asarray(Q, np.float64) / safe, 0.0)
        return x.astype(np.float32)

    def value_range(self) -> tuple[np.ndarray, np.ndarray]:
        """float64 per feature: the raw values of level 0 and level ``max_level`` (lo == hi for a
        constant feature)."""
        lo = self.lo.astype(np.float64)
        scale = self.scale.astype(np.float64)
        return lo, lo + np.where(scale > 0, self.max_level / np.where(scale > 0, scale, 1), 0)

    def to_dict(self) -> dict[str, Any]:
        """The model file's ``"quantizer"`` object (version 1 form, no ``"kind"``)."""
        return {
            "bits": int(self.bits),
            "lo": [float(v) for v in self.lo],
            "scale": [float(v) for v in self.scale],
        }

    def to_quantized_units(self, radius: float | np.ndarray) -> np.ndarray:
        """A radius in raw feature units (scalar or per feature) in quantized units, per
        feature: ``radius * scale`` in float64 (the one conversion robust training and the
        robustness checks use)."""
        return np.asarray(radius, dtype=np.float64) * self.scale.astype(np.float64)

    def columns(self, cols: Sequence[int]) -> Quantizer:
        """The quantizer of the inputs ``cols`` only, in that order."""
        idx = np.asarray(cols, dtype=np.int64)
        return Quantizer(self.bits, self.lo[idx], self.scale[idx])

    def reading_only(self, cols: Sequence[int]) -> Quantizer:
        """This quantizer with every input outside ``cols`` at level 0 whatever its value
        (scale 0): what a network that reads only ``cols`` needs, and the C keeps no level keys
        for those inputs (they share one row)."""
        scale = np.zeros_like(self.scale)
        idx = np.asarray(cols, dtype=np.int64)
        scale[idx] = self.scale[idx]
        return Quantizer(self.bits, self.lo, scale)


@dataclass(frozen=True)
class ThresholdQuantizer:
    """Per-feature cut points: level of ``x`` = number of the feature's cut points ``<= x``.

    ``thresholds[j]`` is a strictly increasing float32 array of 0..``max_level`` finite values
    (-0 is stored as +0; they compare equal). NaN has level 0; the clamp is automatic (+inf
    has the level ``len(thresholds[j])``). Fitted by ``fit_quantile`` or ``fit_supervised``.
    """

    affine = False
    pow2_steps = False
    file_kind = "thresholds"
    file_version = 2

    bits: int
    thresholds: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        _check_bits(self.bits)
        L = (1 << int(self.bits)) - 1
        cols = []
        for j, t in enumerate(self.thresholds):
            t64 = np.asarray(t, dtype=np.float64).reshape(-1)
            if not np.all(np.isfinite(t64)) or np.any(np.abs(t64) > FLOAT32_MAX):
                raise BDNNError(f"thresholds of input {j} must be finite float32 numbers")
            t32 = t64.astype(np.float32) + np.float32(0.0)  # -0 -> +0
            if len(t32) > L:
                raise BDNNError(f"input {j} has {len(t32)} thresholds, at most {L} "
                                f"(2^bits - 1) with {self.bits} bits")
            if np.any(np.diff(t32) <= 0):
                raise BDNNError(f"thresholds of input {j} must be strictly increasing")
            cols.append(t32)
        if not cols:
            raise BDNNError("a threshold quantizer needs one list of thresholds per input")
        object.__setattr__(self, "thresholds", tuple(cols))

    @property
    def n_inputs(self) -> int:
        return len(self.thresholds)

    @property
    def max_level(self) -> int:
        """The largest quantized value, level ``L = 2**bits - 1`` (max_level)."""
        return (1 << int(self.bits)) - 1

    @property
    def is_identity(self) -> bool:
        return False

    def table(self) -> np.ndarray:
        """float32 [n_inputs, max_level]: the cut points, missing ones NaN (which no x reaches:
        ``x >= NaN`` is false), the form ONNX and numpy compare against."""
        T = np.full((self.n_inputs, self.max_level), np.nan, np.float32)
        for j, t in enumerate(self.thresholds):
            T[j, : len(t)] = t
        return T

    def quantize(self, X: np.ndarray) -> np.ndarray:
        """Levels of float features ``X`` [N, n_inputs]: cut points ``<= x``, counted (uint8)."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            got = X.shape[-1] if X.ndim else 0
            raise BDNNError(f"data has {got} features, the model expects {self.n_inputs}")
        with np.errstate(invalid="ignore"):
            return (X[:, :, None] >= self.table()[None]).sum(axis=2).astype(np.uint8)

    def quantize_at(self, values: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Levels (int64) of ``values[i]`` as feature ``features[i]``, as ``quantize``."""
        v = np.asarray(values, dtype=np.float32).reshape(-1)
        with np.errstate(invalid="ignore"):
            return (v[:, None] >= self.table()[np.asarray(features)]).sum(axis=1).astype(np.int64)

    def level_values(self, Q: np.ndarray) -> np.ndarray:
        """float32 raw values with exactly the levels ``Q`` (midpoints between cut points)."""
        Q = np.asarray(Q, dtype=np.int64)
        out = np.zeros(Q.shape, np.float64)
        for j, t in enumerate(self.thresholds):
            t = t.astype(np.float64)
            if len(t) == 0:
                continue
            step = max(float(t[-1] - t[0]) / max(len(t), 1), 1.0)
            edges = np.concatenate([[t[0] - step], t, [t[-1] + step]])
            k = np.minimum(Q[..., j], len(t))
            out[..., j] = (edges[k] + edges[k + 1]) / 2
        return np.clip(out, -FLOAT32_MAX, FLOAT32_MAX).astype(np.float32)

    def value_range(self) -> tuple[np.ndarray, np.ndarray]:
        """float64 per feature: the first and the last cut point (0, 0 without any)."""
        lo = np.array([float(t[0]) if len(t) else 0.0 for t in self.thresholds])
        hi = np.array([float(t[-1]) if len(t) else 0.0 for t in self.thresholds])
        return lo, hi

    def to_dict(self) -> dict[str, Any]:
        """The model file's ``"quantizer"`` object (version 2)."""
        return {
            "kind": "thresholds",
            "bits": int(self.bits),
            "thresholds": [[float(v) for v in t] for t in self.thresholds],
        }

    def to_quantized_units(self, radius: float | np.ndarray) -> np.ndarray:
        """Robust radii need the affine quantizer's scale."""
        raise BDNNError("robust training and robustness checks need --quantizer uniform "
                        "(fitted thresholds have no single scale)")

    def columns(self, cols: Sequence[int]) -> ThresholdQuantizer:
        """The quantizer of the inputs ``cols`` only, in that order."""
        return ThresholdQuantizer(self.bits, tuple(self.thresholds[int(j)] for j in cols))

    def reading_only(self, cols: Sequence[int]) -> ThresholdQuantizer:
        """This quantizer with no cut point on the inputs outside ``cols`` (level 0 whatever
        the value), as ``Quantizer.reading_only``."""
        keep = {int(j) for j in cols}
        empty = np.zeros(0, np.float32)
        return ThresholdQuantizer(self.bits, tuple(t if j in keep else empty
                                                   for j, t in enumerate(self.thresholds)))


#: Bounds of ``Pow2Quantizer``: with ``|shift| <= 100`` and int16 offsets every cut point is
#: an odd integer below 2**17 times a power of two in [2**-101, 2**99], a normal float32; the C
#: kernel stores ``149 - shift`` as a uint8 (49..249: below +-inf's and NaN's exponent 255, and
#: far enough above a subnormal's 0 that ``x * 2**(shift + 1)`` is below 1 there).
POW2_MAX_SHIFT = 100
POW2_OFFSET_RANGE = (-32768, 32767)


@dataclass(frozen=True)
class Pow2Quantizer(ThresholdQuantizer):
    """Power-of-two steps (kind ``pow2``): ``level(x) = clamp(floor(x * 2**shift[j] + 0.5) -
    offset[j], 0, L)`` in exact arithmetic, NaN -> 0, ``+inf`` -> L, ``-inf`` -> 0.

    The same as the threshold quantizer with the ``L`` cut points ``t_k = (offset[j] + k - 0.5)
    * 2**-shift[j]`` (k = 1..L), which are exact float32 values within the bounds that
    ``__post_init__`` enforces (``|shift| <= POW2_MAX_SHIFT``, offset in int16), so numpy and
    ONNX count cut points as for any threshold quantizer and the C may instead compute the
    level from the float's bits with integers (two small integers per input, no table).
    """

    pow2_steps = True
    file_kind = "pow2"

    thresholds: tuple[np.ndarray, ...] = field(init=False, default=())  # derived
    shift: np.ndarray  # int64 [n_inputs]
    offset: np.ndarray  # int64 [n_inputs]

    def __post_init__(self) -> None:
        shift = _integers(self.shift, "shift")
        offset = _integers(self.offset, "offset")
        if shift.shape != offset.shape:
            raise BDNNError("pow2 quantizer: shift and offset need one value per input feature")
        if np.any(np.abs(shift) > POW2_MAX_SHIFT):
            raise BDNNError(f"pow2 quantizer: shift must be an integer in -{POW2_MAX_SHIFT}.."
                            f"{POW2_MAX_SHIFT}, got {int(shift[np.argmax(np.abs(shift))])}")
        lo, hi = POW2_OFFSET_RANGE
        if np.any((offset < lo) | (offset > hi)):
            bad = int(offset[np.argmax((offset < lo) | (offset > hi))])
            raise BDNNError(f"pow2 quantizer: offset must be an integer in {lo}..{hi} (int16), "
                            f"got {bad}")
        _check_bits(self.bits)
        object.__setattr__(self, "shift", shift)
        object.__setattr__(self, "offset", offset)
        L = (1 << int(self.bits)) - 1
        k = np.arange(1, L + 1, dtype=np.int64)
        # (2 (offset + k) - 1) * 2**-(shift + 1): |odd| < 2**17, exact in float64 and float32
        cols = tuple(np.ldexp((2 * (int(o) + k) - 1).astype(np.float64), -(int(s) + 1))
                     for s, o in zip(shift, offset, strict=True))
        object.__setattr__(self, "thresholds", cols)
        super().__post_init__()

    @property
    def is_identity(self) -> bool:
        return bool(np.all(self.shift == 0) and np.all(self.offset == 0))

    @classmethod
    def identity(cls, n_inputs: int, bits: int) -> Pow2Quantizer:
        """Levels ``0..2**bits-1`` quantize to themselves (shift 0, offset 0)."""
        return cls(bits, np.zeros(n_inputs, np.int64), np.zeros(n_inputs, np.int64))

    @property
    def scale(self) -> np.ndarray:
        """float64 ``2**shift``: the exact affine form is ``floor((x - lo) * scale + 0.5)``."""
        return np.ldexp(1.0, self.shift)

    @property
    def lo(self) -> np.ndarray:
        """float64 ``offset * 2**-shift``: the value of level 0's centre (exact)."""
        return np.ldexp(self.offset.astype(np.float64), -self.shift)

    def value_range(self) -> tuple[np.ndarray, np.ndarray]:
        """float64 per feature: the centres of level 0 and level ``max_level``."""
        return self.lo, self.lo + self.max_level / self.scale

    def level_values(self, Q: np.ndarray) -> np.ndarray:
        """float32 raw values with exactly the levels ``Q``: the centres of the steps."""
        Q = np.asarray(Q, dtype=np.int64)
        x = np.ldexp((self.offset + Q).astype(np.float64), -self.shift)
        return np.clip(x, -FLOAT32_MAX, FLOAT32_MAX).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """The model file's ``"quantizer"`` object (version 2, kind ``pow2``)."""
        return {
            "kind": "pow2",
            "bits": int(self.bits),
            "shift": [int(v) for v in self.shift],
            "offset": [int(v) for v in self.offset],
        }

    def to_quantized_units(self, radius: float | np.ndarray) -> np.ndarray:
        """A raw radius in levels, per feature: ``radius * 2**shift`` (float64, exact)."""
        return np.asarray(radius, dtype=np.float64) * self.scale

    def columns(self, cols: Sequence[int]) -> Pow2Quantizer:
        """The quantizer of the inputs ``cols`` only, in that order."""
        idx = np.asarray(cols, dtype=np.int64)
        return Pow2Quantizer(self.bits, self.shift[idx], self.offset[idx])

    def reading_only(self, cols: Sequence[int]) -> Pow2Quantizer:
        """This quantizer unchanged: a power-of-two step cannot be made constant (its cut
        points are finite), and the C stores only 2-3 bytes per input for it."""
        return self

    @classmethod
    def fit(cls, X: np.ndarray, bits: int, feature_names: list[str] | None = None,
            source: str | None = None) -> Pow2Quantizer:
        """Per feature the power-of-two step and offset whose levels reconstruct the training
        values best; identity when the data already are levels.

        Candidates (``_pow2_candidates``): the smallest power-of-two step covering the training
        range ``[lo, hi]`` in ``L`` steps and the step half as large, each with its levels
        centred on the range, starting at ``lo`` or ending at ``hi``; the one with the smallest
        sum of squared differences between the training values and their levels' centres wins
        (ties: the earlier, so a covering, centred step). The finer step clips the range's
        tails and wins where the values are dense inside it: digits' pixels 0..16 at 4 bits
        get steps of 1 with 16 clipped to 15, not steps of 2 (benchmarks/quantizers.py measured
        both rules; docs/benchmarks.md §9). Where no candidate's offset fits int16 (a narrow
        range far from 0) the covering step doubles until it does; a shift beyond the bounds is
        clamped (ranges below ``2**-100`` or above ``2**100`` are not resolved). Refuses
        non-float32 ranges as ``Quantizer.fit`` does.
        """
        X = np.asarray(X, dtype=np.float64)
        L = (1 << int(bits)) - 1
        if _already_levels(X, L):
            return cls.identity(X.shape[1], bits)
        Quantizer.fit(X, bits, feature_names=feature_names, source=source)  # the range checks
        shifts, offsets = [], []
        for j in range(X.shape[1]):
            s, o = min(_pow2_candidates(X[:, j], L), key=lambda c: _pow2_sse(X[:, j], *c, L))
            shifts.append(s)
            offsets.append(o)
        return cls(bits, np.array(shifts, np.int64), np.array(offsets, np.int64))


def _pow2_sse(x: np.ndarray, shift: int, offset: int, L: int) -> float:
    """Sum of squared differences between float64 values ``x`` and the centres of their pow2
    levels (``x * 2**shift`` is exact in float64)."""
    q = np.clip(np.floor(np.ldexp(x, shift) + 0.5) - offset, 0, L)
    return float(np.square(x - np.ldexp(q + offset, -shift)).sum())


def _offset_fits(offset: int, L: int) -> bool:
    """Whether ``offset`` and ``offset + L`` (the first and the last level's) are int16."""
    return POW2_OFFSET_RANGE[0] <= offset and offset + L <= POW2_OFFSET_RANGE[1]


def _pow2_candidates(x: np.ndarray, L: int) -> list[tuple[int, int]]:
    """The (shift, offset) pairs ``Pow2Quantizer.fit`` chooses from for one feature's training
    values ``x``, in order of preference on ties (see there); never empty."""
    lo, hi = float(x.min()), float(x.max())
    cover = 0
    if hi > lo:
        # smallest power of two >= (hi - lo) / L; frexp: m in [0.5, 1), v = m 2**e
        m, e = math.frexp((hi - lo) / L)
        cover = -(e - 1 if m == 0.5 else e)
    cover = max(-POW2_MAX_SHIFT, min(POW2_MAX_SHIFT, cover))
    out = []
    for s in (cover, cover + 1) if hi > lo else (cover,):
        if abs(s) > POW2_MAX_SHIFT:
            continue
        c = 2.0 ** s
        for o in (math.floor((lo + hi) / 2 * c - L / 2 + 0.5), math.floor(lo * c + 0.5),
                  math.floor(hi * c + 0.5) - L):
            if _offset_fits(o, L) and (s, o) not in out:
                out.append((s, o))
    s = cover
    while not out:  # a narrow range far from 0: coarser steps until the offset fits int16
        s -= 1
        o = math.floor((lo + hi) / 2 * 2.0 ** s - L / 2 + 0.5)
        if _offset_fits(o, L) or s <= -POW2_MAX_SHIFT:
            out.append((s, min(max(o, POW2_OFFSET_RANGE[0]), POW2_OFFSET_RANGE[1])))
    return out


def _integers(v: Any, what: str) -> np.ndarray:
    """``v`` as a 1-d int64 array; refuses non-integers (e.g. 1.5, NaN, True)."""
    a = np.asarray(v).reshape(-1)
    if a.size == 0 or np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64)
    if a.dtype != bool and np.issubdtype(a.dtype, np.floating):
        with np.errstate(invalid="ignore"):
            if np.all(np.isfinite(a)) and np.all(a == np.round(a)) and np.all(np.abs(a) < 2**31):
                return a.astype(np.int64)
    raise BDNNError(f"pow2 quantizer: {what} must be integers")


AnyQuantizer = Quantizer | ThresholdQuantizer


def _cut_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 cut points ``c`` with ``a < c <= b`` (a < b float32): the midpoint, or ``b``
    when no float32 lies strictly between."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    with np.errstate(over="ignore"):
        m = ((a.astype(np.float64) + b.astype(np.float64)) / 2).astype(np.float32)
    return np.where((m > a) & (m <= b), m, b).astype(np.float32)


def _checked_columns(X: np.ndarray, feature_names: list[str] | None,
                     source: str | None) -> np.ndarray:
    """``X`` as float32 after refusing columns beyond float32 (as ``Quantizer.fit`` does)."""
    X = np.asarray(X, dtype=np.float64)
    if np.isnan(X).any():
        raise BDNNError(f"{source + ': ' if source else ''}the data hold NaN; fill or drop "
                        "those values before fitting thresholds")
    Quantizer.fit(X, 1, feature_names=feature_names, source=source)  # the range checks
    return X.astype(np.float32)


def fit_quantile(X: np.ndarray, y: np.ndarray | None, bits: int,
                 feature_names: list[str] | None = None,
                 source: str | None = None) -> ThresholdQuantizer:
    """Equal-frequency cut points: per feature up to ``L = 2**bits - 1`` cuts at the
    ``k / (L + 1)`` quantiles of the training values (``k = 1..L``), each placed midway between
    the two distinct values it separates; repeated values merge cuts (fewer than L)."""
    X = _checked_columns(X, feature_names, source)
    L = (1 << int(bits)) - 1
    cols = []
    for j in range(X.shape[1]):
        v = np.sort(X[:, j])
        n = len(v)
        cuts = set()
        for k in range(1, L + 1):
            i = min(max(int(round(k * n / (L + 1))), 1), n - 1) if n > 1 else 0
            if n > 1 and v[i] > v[i - 1]:
                cuts.add(float(_cut_between(v[i - 1], v[i])))
            elif n > 1:  # inside a run of equal values: cut at the run's nearer end
                below = np.searchsorted(v, v[i], "left")
                above = np.searchsorted(v, v[i], "right")
                if below > 0 and (i - below <= above - i or above >= n):
                    cuts.add(float(_cut_between(v[below - 1], v[below])))
                elif above < n:
                    cuts.add(float(_cut_between(v[above - 1], v[above])))
        cols.append(np.array(sorted(cuts), np.float32))
    return ThresholdQuantizer(bits, tuple(cols))


def _entropy(counts: np.ndarray) -> np.ndarray:
    """Class entropy (bits) of count rows [..., n_classes], 0 for empty rows."""
    tot = counts.sum(axis=-1, keepdims=True)
    p = counts / np.where(tot > 0, tot, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0).sum(axis=-1)


def _best_cut(cum: np.ndarray, a: int, b: int) -> tuple[float, int]:
    """Best entropy cut among distinct values ``[a, b)`` (``cum``: cumulative class counts per
    distinct value, a leading zero row): ``(gain, c)``, values ``>= vals[c]`` go up; gain =
    rows times entropy before, minus the two sides' rows times entropy."""
    if b - a < 2:
        return 0.0, -1
    c = np.arange(a + 1, b)
    left = cum[c] - cum[a]
    right = cum[b] - cum[c]
    whole = cum[b] - cum[a]
    gain = (whole.sum() * _entropy(whole) - left.sum(1) * _entropy(left)
            - right.sum(1) * _entropy(right))
    i = int(np.argmax(gain))
    return float(gain[i]), int(c[i])


def fit_supervised(X: np.ndarray, y: np.ndarray | None, bits: int,
                   feature_names: list[str] | None = None,
                   source: str | None = None) -> ThresholdQuantizer:
    """Class-aware cut points, per feature: greedy best-first entropy splits as a decision tree
    on that feature alone grows them. Start from one interval; repeatedly split the interval
    whose best cut gains the most weighted information (interval rows times entropy drop),
    until ``L = 2**bits - 1`` cuts or no cut gains. Cuts lie midway between distinct values."""
    if y is None:
        raise BDNNError("--quantizer supervised needs the class labels")
    X = _checked_columns(X, feature_names, source)
    _, yi = np.unique(np.asarray(y), return_inverse=True)
    n_classes = int(yi.max()) + 1 if len(yi) else 1
    L = (1 << int(bits)) - 1
    cols = []
    for j in range(X.shape[1]):
        vals, inv = np.unique(X[:, j], return_inverse=True)
        counts = np.zeros((len(vals), n_classes), np.int64)  # per distinct value
        np.add.at(counts, (inv, yi), 1)
        cum = np.vstack([np.zeros((1, n_classes), np.int64), np.cumsum(counts, axis=0)])

        intervals = [(0, len(vals), *_best_cut(cum, 0, len(vals)))]
        cut_idx: list[int] = []
        while len(cut_idx) < L:
            k = max(range(len(intervals)), key=lambda i: intervals[i][2], default=None)
            if k is None or intervals[k][2] <= 1e-12:
                break
            a, b, _, c = intervals.pop(k)
            cut_idx.append(c)
            intervals += [(a, c, *_best_cut(cum, a, c)), (c, b, *_best_cut(cum, c, b))]
        cut_idx.sort()
        cuts = _cut_between(vals[np.array(cut_idx, int) - 1], vals[np.array(cut_idx, int)]) \
            if cut_idx else np.zeros(0, np.float32)
        cols.append(np.asarray(cuts, np.float32))
    return ThresholdQuantizer(bits, tuple(cols))


def _fit_pow2(X: np.ndarray, y: np.ndarray | None, bits: int,
              feature_names: list[str] | None = None,
              source: str | None = None) -> Pow2Quantizer:
    return Pow2Quantizer.fit(X, bits, feature_names=feature_names, source=source)


def _fit_uniform(X: np.ndarray, y: np.ndarray | None, bits: int,
                 feature_names: list[str] | None = None,
                 source: str | None = None) -> Quantizer:
    return Quantizer.fit(X, bits, feature_names=feature_names, source=source)


@dataclass(frozen=True)
class QuantizerKind:
    """One ``--quantizer`` choice: its name, one-line help and how it is fitted on the
    training part (``fit(X, y, bits, feature_names, source)``)."""

    name: str
    help: str
    fit: Callable[..., AnyQuantizer]


QUANTIZER_KINDS: dict[str, QuantizerKind] = {
    k.name: k
    for k in (
        QuantizerKind("uniform", "min-max affine levels (the default; model file version 1)",
                      _fit_uniform),
        QuantizerKind("quantile", "equal-frequency cut points per feature", fit_quantile),
        QuantizerKind("supervised", "class-aware cut points per feature (greedy entropy "
                      "splits, as a decision tree's)", fit_supervised),
        QuantizerKind("pow2", "power-of-two steps per feature (two small integers per input; "
                      "integer-only C on chips without an FPU)", _fit_pow2),
    )
}


def fit_quantizer(kind: str, X: np.ndarray, y: np.ndarray | None, bits: int,
                  feature_names: list[str] | None = None,
                  source: str | None = None) -> AnyQuantizer:
    """Fit the quantizer of ``kind`` (a ``QUANTIZER_KINDS`` name) on the training part."""
    if kind not in QUANTIZER_KINDS:
        raise BDNNError(f"unknown quantizer {kind!r}; choose one of "
                        f"{', '.join(QUANTIZER_KINDS)}")
    return QUANTIZER_KINDS[kind].fit(X, y, int(bits), feature_names=feature_names,
                                     source=source)


def recorded_kind(kind: str, warm_training: dict | None) -> str:
    """The ``QUANTIZER_KINDS`` name a trained model records in ``training["quantizer"]``:
    ``kind``, unless the training was warm-started, which keeps the warm model's quantizer and
    hence its recorded kind (``uniform`` for models from before the record existed)."""
    return kind if warm_training is None else warm_training.get("quantizer", "uniform")


#: The model file's ``"quantizer"."kind"`` -> the class that reads it (absent: ``affine``).
QUANTIZER_FORMS: dict[str, type] = {"affine": Quantizer, "thresholds": ThresholdQuantizer,
                                     "pow2": Pow2Quantizer}
