"""l-infinity boxes around inputs, in raw feature units and in quantized levels.

Two views of the same box:

* the exact one (``quantized_box``): every float32 input in a raw box and the quantized levels
  those inputs reach, found with the model's own float32 quantizer. Quantization is monotone in the
  input (scale >= 0), so the levels of the box lie between the levels of its two ends; the
  levels in between are checked one by one, because a very large scale can skip a level.
* the linear one used by robust training (docs/design.md §4): a radius ``rho_q`` in quantized
  units per feature; the first-layer activation pattern of a row holds on its whole box iff
  ``W·q + b - sum_i rho_i |W_i| >= 0`` for active units and ``W·q + b + sum_i rho_i |W_i| <= -1``
  for inactive ones (the box is not clipped to ``0..L``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BDNNError
from ..network import Network
from ..quantizer import Quantizer

_SIGN_BIT = np.int64(0x80000000)


# -- float32 order -----------------------------------------------------------------------------
# A float32 maps to an integer key with the same order (both zeros share key 0), so "the
# smallest float32 in [a, b] whose level is >= k" is a bisection over integer keys.


def _f32_keys(values: np.ndarray) -> np.ndarray:
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.int64)
    return np.where(bits >= _SIGN_BIT, -(bits - _SIGN_BIT), bits)


def _f32_from_keys(keys: np.ndarray) -> np.ndarray:
    keys = np.asarray(keys, dtype=np.int64)
    bits = np.where(keys < 0, -keys + _SIGN_BIT, keys).astype(np.uint32)
    return bits.view(np.float32)


def quantize_features(quantizer: Quantizer, values: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Quantize ``values[j]`` as feature ``features[j]``: the same float32 operations, in the
    same order, as ``Quantizer.quantize`` (so the results are identical)."""
    return quantizer.quantize_at(values, features)


def _first_key_reaching(
    quantizer: Quantizer, features: np.ndarray, level: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Smallest key in ``[lo, hi]`` whose quantized value is ``>= level`` (the value at ``hi``
    must reach ``level``)."""
    lo = np.array(lo, dtype=np.int64)
    hi = np.array(hi, dtype=np.int64)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) >> 1  # arithmetic shift: floor, also for negative keys
        reached = quantize_features(quantizer, _f32_from_keys(mid), features) >= level
        hi = np.where(active & reached, mid, hi)
        lo = np.where(active & ~reached, mid + 1, lo)


# -- the exact box -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QuantizedBox:
    """The float32 inputs ``lo <= v <= hi`` (per feature) and the levels they quantize to."""

    lo: np.ndarray  # float32 [n_inputs]
    hi: np.ndarray  # float32 [n_inputs]
    q_lo: np.ndarray  # int64 [n_inputs], level of lo
    q_hi: np.ndarray  # int64 [n_inputs], level of hi

    def levels(self, quantizer: Quantizer) -> list[np.ndarray]:
        """Per feature, the sorted levels some float32 input of the box quantizes to.

        Usually every level from ``q_lo`` to ``q_hi``; a level is missing only when the
        quantizer's scale is so large that one float32 step jumps over it.
        """
        n = self.lo.shape[0]
        widths = self.q_hi - self.q_lo
        feats = np.repeat(np.arange(n), widths)
        ranges = [
            np.arange(a + 1, b + 1, dtype=np.int64)
            for a, b in zip(self.q_lo, self.q_hi, strict=True)
        ]
        cand = np.concatenate([np.zeros(0, np.int64), *ranges])
        reached = np.zeros(0, np.int64)
        if feats.size:
            keys = _first_key_reaching(
                quantizer, feats, cand, _f32_keys(self.lo)[feats], _f32_keys(self.hi)[feats]
            )
            reached = quantize_features(quantizer, _f32_from_keys(keys), feats)
        out = []
        for i in range(n):
            mine = cand[feats == i]
            hit = mine[reached[feats == i] == mine]
            out.append(np.concatenate([[self.q_lo[i]], hit]).astype(np.int64))
        return out

    def preimage(self, quantizer: Quantizer, q: np.ndarray, prefer: np.ndarray) -> np.ndarray:
        """A float32 input inside the box that quantizes to ``q``; per feature ``prefer`` (e.g.
        the unperturbed input) when it already does, else the smallest such value."""
        q = np.asarray(q, dtype=np.int64).reshape(-1)
        n = q.shape[0]
        feats = np.arange(n)
        out = np.asarray(prefer, dtype=np.float32).reshape(-1).copy()
        own = quantize_features(quantizer, out, feats)
        inside = (out >= self.lo) & (out <= self.hi)
        todo = np.flatnonzero((own != q) | ~inside)
        if todo.size:
            if np.any((q[todo] < self.q_lo[todo]) | (q[todo] > self.q_hi[todo])):
                raise ValueError("requested levels lie outside the box")
            keys = _first_key_reaching(
                quantizer, todo, q[todo], _f32_keys(self.lo)[todo], _f32_keys(self.hi)[todo]
            )
            out[todo] = _f32_from_keys(keys)
        if not np.array_equal(quantize_features(quantizer, out, feats), q):
            raise ValueError("a requested level is not reached by any float32 input of the box")
        return out


def _feature_bound(bound, n: int, side: str) -> np.ndarray:
    b = np.asarray(bound, dtype=np.float64)
    if b.ndim > 1 or (b.ndim == 1 and b.shape[0] != n):
        raise BDNNError(f"give one {side} feature bound per feature ({n}), or one number")
    if np.any(np.isnan(b)):
        raise BDNNError(f"the {side} feature bounds contain NaN")
    return np.broadcast_to(b, (n,))


def quantized_box(
    quantizer: Quantizer,
    x: np.ndarray,
    eps: float,
    feature_lo: np.ndarray | None = None,
    feature_hi: np.ndarray | None = None,
) -> QuantizedBox:
    """The box ``|v - x|_inf <= eps`` (raw feature units) in float32 and in quantized levels.

    The box is intersected with ``[feature_lo, feature_hi]`` where given (per feature arrays or
    scalars; ``None`` = no limit, which is the quantizer's range since it saturates at 0 and L),
    but always keeps ``x`` itself. Its ends are rounded to float32 to nearest, so every real
    perturbation ``x + d`` with ``|d| <= eps`` lands in the box once the model casts it to float32.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.shape[0] != quantizer.n_inputs:
        raise BDNNError(f"data has {x.shape[0]} features, the model expects {quantizer.n_inputs}")
    lo = x - float(eps)
    hi = x + float(eps)
    if feature_lo is not None:
        lo = np.maximum(lo, _feature_bound(feature_lo, x.shape[0], "lower"))
    if feature_hi is not None:
        hi = np.minimum(hi, _feature_bound(feature_hi, x.shape[0], "upper"))
    lo32 = np.minimum(x, lo).astype(np.float32)
    hi32 = np.maximum(x, hi).astype(np.float32)
    feats = np.arange(x.shape[0])
    return QuantizedBox(
        lo32,
        hi32,
        quantize_features(quantizer, lo32, feats),
        quantize_features(quantizer, hi32, feats),
    )


def radius_in_levels(
    quantizer: Quantizer, rho: float | np.ndarray, integer: bool = False
) -> np.ndarray:
    """A raw radius ``rho`` (scalar or per feature) in quantized units, per feature.

    ``rho * scale``; with ``integer=True`` rounded up, the integer radius that covers the raw
    box (floor(t + d) - floor(t) <= ceil(d)), up to float32 rounding at the box's ends; use
    ``quantized_box`` for the exact levels of one point.
    """
    rho = np.broadcast_to(np.asarray(rho, dtype=np.float64), (quantizer.n_inputs,))
    if not np.all(np.isfinite(rho)) or np.any(rho < 0):
        raise BDNNError("the radius must be a finite number >= 0")
    r = quantizer.to_quantized_units(rho)
    return np.ceil(r - 1e-12).clip(min=0) if integer else r


# -- the linear box of robust training -------------------------------------------------------


def _radius_vector(net: Network, rho_q: float | np.ndarray) -> np.ndarray:
    r = np.broadcast_to(np.asarray(rho_q, dtype=np.float64), (net.n_inputs,))
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise BDNNError("the radius must be a finite number >= 0")
    return r


def rows_with_stable_pattern(net: Network, Q: np.ndarray, rho_q: float | np.ndarray) -> np.ndarray:
    """Per row, whether the first layer's pattern provably holds on the box ``|q' - q| <= rho_q``.

    docs/design.md §4: active units need ``a - sum_i rho_i |W_i| >= 0``, inactive ones
    ``a + sum_i rho_i |W_i| <= -1`` (``a = W·q + b``; ``rho_q`` scalar or per feature).
    """
    layer = net.layers[0]
    a = np.asarray(Q, dtype=np.int64) @ layer.weights.T + layer.bias
    slack = np.abs(layer.weights).astype(np.float64) @ _radius_vector(net, rho_q)
    ok = np.where(a >= 0, a - slack >= 0, a + slack <= -1)
    return ok.all(axis=1)


def pattern_holds_on_box(net: Network, Q: np.ndarray, rho_q: float | np.ndarray) -> bool:
    """True iff every row's first-layer activation pattern holds on its whole box."""
    return bool(rows_with_stable_pattern(net, Q, rho_q).all())


def random_corners_check(
    net: Network, Q: np.ndarray, rho_q: float | np.ndarray, n_corners: int = 32, seed: int = 0
) -> bool:
    """Sample ``n_corners`` random corners ``q ± rho_q`` of each row's box and check that the
    first layer gives the same pattern there as at ``q``.

    An independent, sampling-based check of ``pattern_holds_on_box`` (which implies it). The
    first layer is evaluated directly (``W @ corner + b``, Heaviside ``>= 0``) because corners may
    leave ``0..L`` or be fractional. With an integer radius, checking all corners is equivalent
    to ``pattern_holds_on_box``.
    """
    layer = net.layers[0]
    Q = np.asarray(Q, dtype=np.float64)
    r = _radius_vector(net, rho_q)
    rng = np.random.default_rng(seed)
    centre = (Q @ layer.weights.T + layer.bias) >= 0
    for _ in range(int(n_corners)):
        signs = rng.integers(0, 2, size=Q.shape) * 2 - 1
        a = (Q + signs * r) @ layer.weights.T + layer.bias
        if np.any((a >= 0) != centre):
            return False
    return True
