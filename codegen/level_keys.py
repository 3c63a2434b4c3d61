"""Exact float32 thresholds of the input quantizer, as ordered integer keys.

The quantizer (``bdnn/quantizer.py``) is monotone in ``x``: every step of ``floor((x - lo) *
scale + 0.5)`` with ``scale >= 0`` is monotone, rounding included, and so is the clamp. So level
``k`` of input ``j`` starts at one float32, the smallest ``x`` with ``quantize(x) >= k``, and the
level of any non-NaN ``x`` is the number of these thresholds at or below ``x``. The C float path
(``BDNN_FLOAT_QUANTIZER 0``) counts them with integer compares only, so it needs no soft-float or
libm code, and it is bit-exact with the numpy quantizer by construction: every threshold is found
by bisection over float32 bit patterns and checked against ``Quantizer.quantize`` itself on both
sides.

Here a float32 is handled through its *key*: the sign-and-magnitude bits as a two's-complement
int32 (``-(bits & 0x7FFFFFFF)`` for a set sign bit), so key order is float order and ``-0`` and
``+0`` share key 0. Keys of non-NaN floats lie in ``-KEY_INF..KEY_INF``; NaN (level 0) is told
apart by its bits, ``bits & 0x7FFFFFFF > 0x7F800000``. The C uses another, branch-free key
(``c_keys``: uint32, NaN below ``-inf``) and the matching thresholds ``c_level_keys``, derived
from ``level_keys``.
"""

from __future__ import annotations

import numpy as np

from bdnn.errors import BDNNError
from bdnn.quantizer import AnyQuantizer as Quantizer
from bdnn.raw_input import RawInput

KEY_INF = 0x7F800000  # key of +inf (and minus the key of -inf)
KEY_NEVER = 0x7FFFFFFF  # threshold of a level no non-NaN input reaches (e.g. scale 0)
# The C's key (c_keys): one's-complement order for negatives, rotated so that NaNs wrap below -inf
C_KEY_OFFSET = 0x807FFFFF
C_KEY_NEVER = 0xFFFFFFFF  # the C's bound of a level no float reaches: no key is above it


def float_keys(X: np.ndarray) -> np.ndarray:
    """Ordered int64 keys of float32 values (NaN gives a key above ``KEY_INF``)."""
    bits = np.ascontiguousarray(X, dtype=np.float32).view(np.uint32).astype(np.int64)
    mag = bits & 0x7FFFFFFF
    return np.where(bits >> 31, -mag, mag)


def key_floats(keys: np.ndarray) -> np.ndarray:
    """The float32 values of keys in ``-KEY_INF..KEY_INF`` (key 0 gives +0)."""
    keys = np.asarray(keys, dtype=np.int64)
    bits = np.where(keys < 0, (-keys) | 0x80000000, keys).astype(np.uint32)
    return bits.view(np.float32)


def _levels(q: Quantizer, keys: np.ndarray) -> np.ndarray:
    """``q.quantize`` of the floats with ``keys`` [L, n_inputs], column j for input j."""
    return q.quantize(key_floats(keys)).astype(np.int64)


def level_keys(q: Quantizer) -> np.ndarray:
    """int32 [n_inputs, L]: entry ``[j, k - 1]`` is the key of the smallest float32 whose level
    on input ``j`` is at least ``k`` (``KEY_NEVER`` if no non-NaN float reaches it).

    Raises ``BDNNError`` if a threshold fails its check against ``Quantizer.quantize`` (which
    would mean the quantizer is not monotone).
    """
    L, n = q.max_level, q.n_inputs
    k = np.arange(1, L + 1, dtype=np.int64).reshape(-1, 1)
    # invariant: level(lo) < k (-inf has level 0) and level(hi) >= k (hi past +inf: "never")
    lo = np.full((L, n), -KEY_INF, np.int64)
    hi = np.full((L, n), KEY_INF + 1, np.int64)
    while True:
        open_ = hi - lo > 1
        if not open_.any():
            break
        mid = (lo + hi) // 2
        mid = np.where(open_, mid, lo)  # closed pairs: a harmless in-range probe
        up = _levels(q, np.minimum(mid, KEY_INF)) >= k
        hi = np.where(open_ & up, mid, hi)
        lo = np.where(open_ & ~up, mid, lo)
    never = hi > KEY_INF
    # check both sides of every threshold with the quantizer itself
    at = _levels(q, np.where(never, KEY_INF, hi))
    below = _levels(q, np.where(never, KEY_INF, hi - 1))
    ok = np.where(never, at < k, (at >= k) & (below < k))
    if not ok.all():
        r, j = map(int, np.argwhere(~ok)[0])
        raise BDNNError(
            f"internal error: no exact float32 threshold for level {r + 1} of input {j} "
            "(the quantizer is not monotone)"
        )
    keys = np.where(never, KEY_NEVER, hi)
    return np.ascontiguousarray(keys.T).astype(np.int32)


def c_keys(X: np.ndarray) -> np.ndarray:
    """The C's uint32 keys of float32 values (as int64): ``(u ^ ((0 - (u >> 31)) >> 1)) +
    C_KEY_OFFSET`` mod 2**32 of the bits ``u``. Unsigned order of these keys is float order
    (``-0`` just below ``+0``), and every NaN, whatever its sign, falls below ``-inf``: the
    positive NaNs wrap past 2**32 to the bottom, the negative NaNs sit between them and
    ``-inf``. So the C needs no NaN test and no branch: three or four integer operations."""
    u = np.ascontiguousarray(X, dtype=np.float32).view(np.uint32).astype(np.int64)
    flip = (-(u >> 31) & 0xFFFFFFFF) >> 1
    return ((u ^ flip) + C_KEY_OFFSET) & 0xFFFFFFFF


def c_level_keys(q: Quantizer) -> np.ndarray:
    """int64 [n_inputs, L], the C's form of ``level_keys``: entry ``[j, k - 1]`` is one less than
    the ``c_keys`` key of the smallest float32 (in ``c_keys`` order, where ``-0`` precedes
    ``+0``) whose level on input ``j`` is at least ``k``, so the level of ``x`` is the number
    of entries strictly below its key; ``C_KEY_NEVER`` if no float reaches the level. NaN
    keys lie below every entry (``-inf`` has level 0, so every reached level starts above it):
    NaN gets level 0 as in ``Quantizer.quantize``."""
    keys = level_keys(q).astype(np.int64)
    never = keys == KEY_NEVER
    first = key_floats(np.where(never, 0, keys))
    # a threshold at +-0 starts at -0, which comes first in c_keys order (same level as +0)
    first = np.where(keys == 0, np.float32(-0.0), first).astype(np.float32)
    return np.where(never, C_KEY_NEVER, c_keys(first) - 1)


def levels_by_c_keys(keys: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Levels of float rows ``X`` [N, n_inputs] as the C counts them from ``c_level_keys``
    (uint8): the entries strictly below the key."""
    counts = (keys[None, :, :].astype(np.int64) < c_keys(X)[:, :, None]).sum(axis=2)
    return counts.astype(np.uint8)


def levels_by_keys(keys: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Levels of float rows ``X`` [N, n_inputs] by counting thresholds, as the C does (uint8)."""
    kx = float_keys(X)
    nan = kx > KEY_INF
    counts = (keys[None, :, :].astype(np.int64) <= kx[:, :, None]).sum(axis=2)
    return np.where(nan, 0, counts).astype(np.uint8)


def boundary_inputs(q: Quantizer) -> np.ndarray:
    """float32 rows that probe every quantization boundary of every input: each threshold and
    its neighbours 1 ulp below and above, +-0, +-inf, NaN, the smallest and largest subnormals,
    the largest finite floats and values far outside the training range. Row ``r`` puts the
    ``r``-th probe of each input's own list in that input (lists of different lengths wrap)."""
    keys = level_keys(q)
    value_lo, value_hi = q.value_range()
    special = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38,
         3.4028235e38, -3.4028235e38, 1e30, -1e30, 1e6, -1e6],
        np.float32,
    )
    columns = []
    for j in range(q.n_inputs):
        t = keys[j][keys[j] != KEY_NEVER].astype(np.int64)
        near = np.concatenate([t - 1, t, t + 1])
        near = near[(near >= -KEY_INF) & (near <= KEY_INF)]
        lo = float(value_lo[j])
        span = float(value_hi[j] - value_lo[j]) or 1.0
        with np.errstate(over="ignore"):  # beyond the float32 range: +-inf, also a probe
            far = np.array([lo - 100 * span, lo - span, lo + 2 * span, lo + 100 * span],
                           np.float32)
        columns.append(np.concatenate([key_floats(np.unique(near)), special, far]))
    n = max(len(c) for c in columns)
    return np.stack([np.resize(c, n) for c in columns], axis=1).astype(np.float32)


def row_entry_bytes(q: Quantizer) -> float:
    """Bytes per level of a shared row of the C's default quantizer tables, for ``key_rows``:
    4 (a level key), or for a pow2 quantizer ``(1 + offset bytes) / L`` (its row is one exponent
    and one offset, so sharing it saves 2 or 3 bytes, less than an index byte per input usually
    costs)."""
    return (1 + pow2_offset_bytes(q)) / q.max_level if q.pow2_steps else 4


# The lowest C threshold (c_level_keys) of a row whose levels all start at positive floats: the
# c_keys key of -0. Such a row needs no sign fold (positive_key_inputs).
C_KEY_MINUS_ZERO = 0x807FFFFE


def positive_key_inputs(level_c_keys: np.ndarray) -> np.ndarray:
    """bool [n_inputs]: inputs whose every C threshold (``level_c_keys``, the quantizer's
    ``c_level_keys``) is at least ``C_KEY_MINUS_ZERO``. Their level may use the key without
    the sign fold, ``unfolded_c_keys``: it equals ``c_keys`` for every float without the sign
    bit, and puts every float with it (negatives, -0, -inf, negative NaNs: all at level 0,
    since their keys are at most the key of -0) between ``0x007FFFFF`` and
    ``C_KEY_MINUS_ZERO``, below every such threshold, so it gives the same level with three
    instructions less."""
    return np.all(np.asarray(level_c_keys) >= C_KEY_MINUS_ZERO, axis=1)


def unfolded_c_keys(X: np.ndarray) -> np.ndarray:
    """The key the C's ``NAME_quantize1_positive`` compares: ``(u + C_KEY_OFFSET) mod 2**32`` of
    the bits ``u`` (``c_keys`` without the sign fold); for ``positive_key_inputs`` only."""
    u = np.ascontiguousarray(X, dtype=np.float32).view(np.uint32).astype(np.int64)
    return (u + C_KEY_OFFSET) & 0xFFFFFFFF


def key_rows(keys: np.ndarray, entry_bytes: float = 4) -> tuple[np.ndarray, np.ndarray | None]:
    """The level keys [n_inputs, L] stored once per distinct row: ``(rows [U, L], index)``,
    ``index[j]`` the row of input ``j`` (uint8). Inputs with the same quantizer (e.g. pixels,
    or features on one scale) share a row. ``index`` is None when every input keeps its own
    row ``j`` (no two alike, more than 256 distinct rows, or the index would cost more than
    the rows it saves); a single row shared by every input needs no index either (``rows``
    has one row and ``index`` is all zeros). ``entry_bytes``: bytes of one entry in C."""
    n, L = keys.shape
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(first)  # distinct rows in order of first use
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    rows = keys[np.sort(first)]
    U = len(rows)
    saved = entry_bytes * L * (n - U)
    if U == n or U > 256 or (U > 1 and saved <= n):
        return keys, None
    return rows, rank[inverse].astype(np.uint8)


def pow2_offset_bytes(q: Quantizer) -> int:
    """Bytes of one offset of the pow2 quantizer's C table: 1 (``int8_t``) when every offset
    fits, else 2 (``int16_t``)."""
    return 1 if all(-128 <= int(v) <= 127 for v in q.offset) else 2


def quantizer_bytes(q: Quantizer, float_arithmetic: bool, pow2_steps: bool = False) -> int:
    """Bytes of the C float path's quantizer tables: level keys (``BDNN_FLOAT_QUANTIZER 0``,
    ``4 L`` per row), ``lo`` and ``scale`` (1, 8 per row) or, with ``pow2_steps`` (a
    ``Pow2Quantizer``, ``BDNN_POW2_QUANTIZER 1``), a uint8 exponent and an int8 or int16 offset
    (2 or 3 per row, ``pow2_offset_bytes``), one row per distinct quantizer (``key_rows``), and
    one index byte per input when some but not all inputs share a row."""
    rows, index = key_rows(level_keys(q), row_entry_bytes(q))
    per_row = (1 + pow2_offset_bytes(q) if pow2_steps else 8 if float_arithmetic
               else 4 * q.max_level)
    return per_row * len(rows) + (0 if index is None or len(rows) == 1 else len(index))


def quantizer_forms_bytes(q: Quantizer) -> dict[str, int]:
    """Bytes of each C form of the float API's quantizer that ``q`` has (``bdnn size``):
    ``level_keys`` always, ``lo_scale`` for the affine quantizer, ``pow2`` (exponent + offset)
    for a ``Pow2Quantizer``; the default form comes first."""
    keys = quantizer_bytes(q, float_arithmetic=False)
    if q.pow2_steps:
        return {"pow2": quantizer_bytes(q, False, pow2_steps=True), "level_keys": keys}
    if q.affine:
        return {"level_keys": keys, "lo_scale": quantizer_bytes(q, float_arithmetic=True)}
    return {"level_keys": keys}


def level_thresholds_int(q: Quantizer, raw: RawInput) -> tuple[np.ndarray, np.ndarray]:
    """Integer thresholds of the raw-input API (``NAME_quantize_i16`` / ``_i32``).

    Returns ``(T, top)``: ``T`` int64 [n_inputs, L], entry ``[j, k - 1]`` the smallest integer
    ``x`` of the type whose level ``q.quantize(float32(x))`` on input ``j`` is at least ``k``
    (``raw.hi`` when no integer of the type reaches it), and ``top`` uint8 [n_inputs], the
    level of ``raw.hi``. The level of an integer ``x`` is ``min(count(T[j] <= x), top[j])``:
    the ``min`` only matters at ``x = raw.hi``, where the unreached levels' ``raw.hi`` entries
    would count. Found by bisection over the integers, with ``Quantizer.quantize`` itself as
    the only judge (monotone: float32 rounding of integers and the quantizer both are).
    """
    L, n = q.max_level, q.n_inputs
    k = np.arange(1, L + 1, dtype=np.int64).reshape(-1, 1)

    def levels(x: np.ndarray) -> np.ndarray:  # x int64 [L, n], column j on input j
        return q.quantize(x.astype(np.float32)).astype(np.int64)

    lo = np.full((L, n), raw.lo - 1, np.int64)  # level < k (virtually: below the type)
    hi = np.full((L, n), raw.hi + 1, np.int64)  # level >= k (virtually: "never")
    while True:
        open_ = hi - lo > 1
        if not open_.any():
            break
        mid = np.where(open_, (lo + hi) // 2, raw.lo)
        up = levels(mid) >= k
        hi = np.where(open_ & up, mid, hi)
        lo = np.where(open_ & ~up, mid, lo)
    T = np.minimum(hi, raw.hi).T.copy()
    top = q.quantize(np.full((1, n), raw.hi, np.float32))[0].astype(np.uint8)
    return T, top


def int_threshold_rows(q: Quantizer, raw: RawInput) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray | None]:
    """``level_thresholds_int`` stored once per distinct row, as the C has them: ``(T [U, L],
    top [U], index)``, ``index[j]`` input ``j``'s row (uint8), or None as in ``key_rows``
    (each input its own row, or one row for all). Inputs with the same quantizer share a row."""
    T, top = level_thresholds_int(q, raw)
    both = np.concatenate([T, top[:, None].astype(np.int64)], axis=1)
    rows, index = key_rows(both, entry_bytes=raw.bits // 8)
    return rows[:, :-1], rows[:, -1].astype(np.uint8), index


def levels_by_int_thresholds(T: np.ndarray, top: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Levels of integer rows ``X`` [N, n_inputs] as the C raw-input API counts them (uint8)."""
    X = np.asarray(X, dtype=np.int64)
    counts = (T[None, :, :] <= X[:, :, None]).sum(axis=2)
    return np.minimum(counts, top[None, :]).astype(np.uint8)


def boundary_ints(q: Quantizer, raw: RawInput) -> np.ndarray:
    """Integer rows probing every integer threshold and its neighbours, 0, the type's ends."""
    T, _ = level_thresholds_int(q, raw)
    columns = []
    for j in range(q.n_inputs):
        near = np.concatenate([T[j] - 1, T[j], T[j] + 1, [raw.lo, raw.lo + 1, -1, 0, 1,
                                                          raw.hi - 1, raw.hi]])
        near = near[(near >= raw.lo) & (near <= raw.hi)]
        columns.append(np.unique(near))
    n = max(len(c) for c in columns)
    return np.stack([np.resize(c, n) for c in columns], axis=1).astype(np.int64)
