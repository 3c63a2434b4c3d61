"""Integer raw inputs (docs/design.md §2): features that are integer counts (ADC readings, IMU
counts, counters) can be quantized with integer compares only, through
``NAME_predict_i16(const int16_t *x)`` / ``NAME_predict_i32(const int32_t *x)``.

The quantizer is monotone in ``x`` (both forms), and so is the rounding of an integer to float32,
so level ``k`` of input ``j`` starts at one integer: the smallest ``x`` of the type whose level
(of ``float32(x)``, exactly what ``quantize`` gives the integer) is at least ``k``. The level of
an integer is then the number of these integer thresholds at or below it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import BDNNError


@dataclass(frozen=True)
class RawInput:
    """One integer input type of the raw-input C API."""

    name: str  # --raw-input value and training record entry
    c_type: str  # C element type of x[] and of the threshold table
    suffix: str  # function suffix: NAME_predict_{suffix}
    bits: int  # width of the C type (its BDNN_READ_I{bits} macro)
    lo: int
    hi: int

    def holds(self, X: np.ndarray) -> bool:
        """True when every value of ``X`` is an integer this type holds."""
        X = np.asarray(X, dtype=np.float64)
        return bool(X.size and np.all(np.isfinite(X)) and np.all(X == np.round(X))
                    and X.min() >= self.lo and X.max() <= self.hi)


RAW_INPUTS: dict[str, RawInput] = {
    r.name: r
    for r in (
        RawInput("int16", "int16_t", "i16", 16, -(2**15), 2**15 - 1),
        RawInput("int32", "int32_t", "i32", 32, -(2**31), 2**31 - 1),
    )
}


def detect_raw_input(X: np.ndarray) -> RawInput | None:
    """The narrowest integer type holding every training value, or None (not all integers)."""
    return next((r for r in RAW_INPUTS.values() if r.holds(X)), None)


def raw_input_of(net) -> RawInput | None:
    """The raw-input API a network's C export has: its training record's ``raw_input``."""
    name = (net.training or {}).get("raw_input")
    return RAW_INPUTS.get(name) if isinstance(name, str) else None


def with_raw_input(net, name: str | None):
    """A copy of ``net`` whose C export has the raw-input API ``name`` (``"none"``: none)."""
    import dataclasses

    training = dict(net.training or {})
    if name == "none":
        training.pop("raw_input", None)
    elif name is not None:
        training["raw_input"] = get_raw_input(name).name
    return dataclasses.replace(net, training=training)


def get_raw_input(name: str) -> RawInput:
    if name not in RAW_INPUTS:
        raise BDNNError(f"unknown raw input type {name!r}; choose one of {', '.join(RAW_INPUTS)}")
    return RAW_INPUTS[name]
