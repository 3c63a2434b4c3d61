"""Bit-packing of activations and weights (docs/design.md §5).

Activations are packed LSB-first into unsigned words of ``word_bits`` bits: element ``i`` goes to
word ``i // word_bits``, bit ``i % word_bits``; unused tail bits are 0.

Integer weights are stored as two's-complement bit-planes per neuron: with ``P`` planes a weight
``v`` is ``sum_{p < P-1} 2**p * bit_p - 2**(P-1) * bit_{P-1}``, so for a {0,1} activation vector
``h`` the dot product is ``sum_p planeweight_p * popcount(h & plane_p)``.

Storage (what the C arrays hold): a layer's planes are one bit stream of rows of ``row_bits``
bits (:func:`plane_stream`): bit ``(u * P + p) * row_bits + j`` is plane ``p`` of weight
``W[u][j]``, LSB-first in bytes; ``row_bits`` is ``n_in`` (no padding between neurons) or, for
the subset-sum kernel, ``n_in`` rounded up to whole nibbles, the row's tail 0; the last byte is
padded with 0. Narrow thresholds are packed the same way as signed fields
(:func:`signed_fields`).
"""

from __future__ import annotations

import numpy as np

from bdnn.errors import BDNNError

WORD_BITS = (8, 16, 32, 64)


def check_word_bits(word_bits: int) -> int:
    """Return ``word_bits`` if it is a supported word size, else raise ``BDNNError``."""
    if isinstance(word_bits, bool) or word_bits not in WORD_BITS:
        sizes = ", ".join(map(str, WORD_BITS))
        raise BDNNError(f"word size (--word-bits) must be one of {sizes} bits, got {word_bits}")
    return int(word_bits)


def n_words(n_bits: int, word_bits: int) -> int:
    """Number of words holding ``n_bits`` bits."""
    return -(-int(n_bits) // int(word_bits))


def n_planes(weight_bound: int) -> int:
    """Planes needed for two's-complement weights in ``[-w, w]``: ``ceil(log2(2w + 1))``."""
    w = int(weight_bound)
    if w < 1:
        raise BDNNError(f"weight bound must be >= 1, got {w}")
    # smallest P with 2**(P-1) - 1 >= w (the negative end -2**(P-1) then covers -w too)
    return (2 * w).bit_length()


def plane_weights(planes: int) -> list[int]:
    """The weight of each plane: ``1, 2, 4, ..., -2**(P-1)`` (the top plane is the sign)."""
    return [1 << p for p in range(planes - 1)] + [-(1 << (planes - 1))]


def pack_bits(bits: np.ndarray, word_bits: int) -> np.ndarray:
    """Pack {0,1} values along the last axis LSB-first into uint64 words of ``word_bits`` bits.

    Returns an array with the last axis replaced by ``n_words(n, word_bits)`` words (stored as
    uint64 whatever the word size; only the low ``word_bits`` bits are used).
    """
    check_word_bits(word_bits)
    b = np.asarray(bits)
    if b.size and (b.min() < 0 or b.max() > 1):
        raise ValueError("pack_bits takes 0/1 values")
    n = b.shape[-1]
    nw = n_words(n, word_bits)
    padded = np.zeros(b.shape[:-1] + (nw * word_bits,), dtype=np.uint8)
    padded[..., :n] = b
    # LSB-first bytes, word_bits / 8 of them per word, widened to 8 little-endian bytes per word
    word_bytes = np.packbits(padded, axis=-1, bitorder="little").reshape(
        b.shape[:-1] + (nw, word_bits // 8)
    )
    wide = np.zeros(b.shape[:-1] + (nw, 8), dtype=np.uint8)
    wide[..., : word_bits // 8] = word_bytes
    return wide.view("<u8").reshape(b.shape[:-1] + (nw,)).astype(np.uint64)


def unpack_bits(words: np.ndarray, n: int, word_bits: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: the first ``n`` bits as uint8 {0,1} values."""
    w = np.asarray(words, dtype=np.uint64)
    as_bytes = np.ascontiguousarray(w.astype("<u8")).view(np.uint8)
    low = as_bytes.reshape(w.shape + (8,))[..., : word_bits // 8]  # the low word_bits bits
    flat = low.reshape(w.shape[:-1] + (-1,))
    return np.unpackbits(flat, axis=-1, bitorder="little")[..., :n]


def twos_complement_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Bit ``b`` of the ``bits``-bit two's-complement pattern of every value, on a new last axis
    (uint8 {0,1}, ``[..., bits]``): ``v = sum_{b < bits-1} 2**b bit_b - 2**(bits-1) bit_{bits-1}``.

    The one place that turns signed integers into bit-planes: weight planes, packed thresholds.
    """
    v = np.asarray(values, dtype=np.int64)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"a value does not fit {bits} signed bits")
    twos = np.where(v < 0, v + (1 << bits), v)  # the unsigned pattern
    return ((twos[..., None] >> np.arange(bits)) & 1).astype(np.uint8)


def weight_planes(weights: np.ndarray, weight_bound: int) -> np.ndarray:
    """The ``P = n_planes(weight_bound)`` two's-complement planes of an integer matrix
    ``[n_out, n_in]``, unpacked: uint8 ``[n_out, P, n_in]``."""
    W = np.asarray(weights, dtype=np.int64)
    P = n_planes(weight_bound)
    if W.size and int(np.abs(W).max()) > int(weight_bound):
        raise ValueError("a weight exceeds the weight bound")
    return np.moveaxis(twos_complement_bits(W, P), -1, 1)


def weight_bit_planes(weights: np.ndarray, weight_bound: int, word_bits: int) -> np.ndarray:
    """Two's-complement bit-planes of an integer matrix ``[n_out, n_in]``, packed per neuron.

    Returns uint64 words ``[n_out, P, n_words(n_in)]`` with ``P = n_planes(weight_bound)``.
    """
    return pack_bits(weight_planes(weights, weight_bound), word_bits)


def input_bit_planes(q: np.ndarray, bits: int, word_bits: int) -> np.ndarray:
    """Bit-planes of quantized inputs ``[N, n_in]`` -> packed words ``[N, bits, n_words(n_in)]``.

    Plane ``b`` holds bit ``b`` of every input; ``q = sum_b 2**b * plane_b``.
    """
    Q = np.asarray(q, dtype=np.int64)
    planes = np.stack([(Q >> b) & 1 for b in range(bits)], axis=-2)
    return pack_bits(planes, word_bits)


def popcount(words: np.ndarray) -> np.ndarray:
    """Number of set bits of each uint64 word."""
    w = np.asarray(words, dtype=np.uint64)
    as_bytes = w[..., None].view(np.uint8)
    return np.unpackbits(as_bytes, axis=-1).sum(axis=-1).astype(np.int64)


def planes_dot(act_words: np.ndarray, planes: np.ndarray) -> np.ndarray:
    """``sum_p planeweight_p * popcount(act & plane_p)`` for packed {0,1} activations.

    ``act_words`` [N, nw], ``planes`` [n_out, P, nw] -> int64 [N, n_out] (equals ``h @ W.T``).
    """
    pw = np.array(plane_weights(planes.shape[1]), dtype=np.int64)
    counts = popcount(act_words[:, None, None, :] & planes[None, :, :, :]).sum(axis=-1)
    return counts @ pw


def stream_bytes(bits: np.ndarray) -> np.ndarray:
    """Pack a flat {0,1} sequence LSB-first into bytes (bit ``i`` -> byte ``i // 8``, bit
    ``i % 8``); the tail of the last byte is 0."""
    b = np.asarray(bits, dtype=np.uint8).reshape(-1)
    if b.size and b.max() > 1:
        raise ValueError("stream_bytes takes 0/1 values")
    return np.packbits(b, bitorder="little")


def plane_stream(weights: np.ndarray, weight_bound: int, row_bits: int | None = None) -> np.ndarray:
    """A layer's two's-complement planes as one byte stream of ``row_bits``-bit rows.

    Bit ``(u * P + p) * row_bits + j`` is bit ``p`` of ``W[u][j]``: the ``P`` planes of a
    neuron follow each other, the neurons follow each other. ``row_bits`` (default ``n_in``:
    no padding in between) pads each plane's row with zeros, e.g. to whole nibbles.
    """
    planes = weight_planes(weights, weight_bound)
    n_in = np.asarray(weights).shape[1]
    row_bits = n_in if row_bits is None else int(row_bits)
    if row_bits < n_in:
        raise ValueError(f"plane_stream: rows of {row_bits} bits cannot hold {n_in} weights")
    rows = planes.reshape(-1, n_in)
    padded = np.zeros((rows.shape[0], row_bits), dtype=np.uint8)
    padded[:, :n_in] = rows
    return stream_bytes(padded)


def unsigned_fields(values: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned integers as ``bits``-bit fields, LSB-first, packed into bytes: value ``k`` in
    bits ``k * bits .. k * bits + bits - 1`` of the stream."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if v.size and (v.min() < 0 or v.max() >= 1 << bits):
        raise ValueError(f"a value does not fit {bits} unsigned bits")
    return stream_bytes((v[:, None] >> np.arange(bits)) & 1)


def signed_fields(values: np.ndarray, bits: int) -> np.ndarray:
    """Signed integers as ``bits``-bit two's-complement fields, LSB-first, packed into bytes."""
    return stream_bytes(twos_complement_bits(np.asarray(values).reshape(-1), bits))
