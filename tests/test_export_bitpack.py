"""Bit-packing pinned by test vectors over awkward sizes (LSB-first words, zero tail bits)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codegen.bitpack import (
    input_bit_planes,
    n_planes,
    pack_bits,
    plane_stream,
    plane_weights,
    planes_dot,
    popcount,
    signed_fields,
    twos_complement_bits,
    unpack_bits,
    weight_bit_planes,
)

SIZES = [1, 31, 32, 33, 63, 64, 65, 100]
WORDS = [8, 16, 32, 64]


def _full(word_bits: int) -> int:
    return (1 << word_bits) - 1


@pytest.mark.parametrize("word_bits", WORDS)
@pytest.mark.parametrize("n", SIZES)
def test_pack_first_last_and_all_ones(n: int, word_bits: int) -> None:
    nw = math.ceil(n / word_bits)
    first = np.zeros(n, np.uint8)
    first[0] = 1
    assert pack_bits(first, word_bits).tolist() == [1] + [0] * (nw - 1)

    last = np.zeros(n, np.uint8)
    last[-1] = 1
    expected = [0] * nw
    expected[(n - 1) // word_bits] = 1 << ((n - 1) % word_bits)
    assert pack_bits(last, word_bits).tolist() == expected

    ones = np.ones(n, np.uint8)
    tail = n % word_bits
    expected = [_full(word_bits)] * (n // word_bits) + ([(1 << tail) - 1] if tail else [])
    assert pack_bits(ones, word_bits).tolist() == expected


@pytest.mark.parametrize("word_bits", WORDS)
@pytest.mark.parametrize("n", SIZES)
def test_pack_matches_python_integers(n: int, word_bits: int) -> None:
    """Independent computation: each word as a Python integer, bit i of the row at bit
    ``i % word_bits`` of word ``i // word_bits``."""
    rng = np.random.default_rng(n * 100 + word_bits)
    bits = rng.integers(0, 2, size=(5, n)).astype(np.uint8)
    nw = math.ceil(n / word_bits)
    expected = [[0] * nw for _ in range(5)]
    for r in range(5):
        for i in range(n):
            expected[r][i // word_bits] |= int(bits[r, i]) << (i % word_bits)
    words = pack_bits(bits, word_bits)
    assert words.tolist() == expected
    assert np.array_equal(unpack_bits(words, n, word_bits), bits)
    assert np.array_equal(popcount(words).sum(axis=1), bits.sum(axis=1))


@pytest.mark.parametrize("w,planes", [(1, 2), (2, 3), (3, 3), (4, 4), (7, 4), (8, 5), (127, 8)])
def test_plane_count_and_weights(w: int, planes: int) -> None:
    assert n_planes(w) == planes == math.ceil(math.log2(2 * w + 1))
    pw = plane_weights(planes)
    assert pw[-1] == -(1 << (planes - 1)) and pw[:-1] == [1 << p for p in range(planes - 1)]
    # every weight in [-w, w] has a P-bit two's-complement pattern
    values = {
        sum(pw[p] for p in range(planes) if (pattern >> p) & 1) for pattern in range(1 << planes)
    }
    assert set(range(-w, w + 1)) <= values


@pytest.mark.parametrize("word_bits", WORDS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("w", [1, 2, 3])
def test_weight_extremes_in_every_position(n: int, word_bits: int, w: int) -> None:
    """Unit j has its only non-zero weight, -w or +w, at position j."""
    P = n_planes(w)
    for value in (-w, w):
        W = np.zeros((n, n), np.int64)
        W[np.arange(n), np.arange(n)] = value
        planes = weight_bit_planes(W, w, word_bits)
        pattern = value % (1 << P)  # the two's-complement bits of value
        for j in (0, n // 2, n - 1):
            for p in range(P):
                expected = np.zeros(n, np.uint8)
                expected[j] = (pattern >> p) & 1
                assert np.array_equal(unpack_bits(planes[j, p], n, word_bits), expected)
                tail = unpack_bits(planes[j, p], planes.shape[-1] * word_bits, word_bits)[n:]
                assert not tail.any(), "tail bits must be 0"
        h = np.ones((1, n), np.uint8)
        assert planes_dot(pack_bits(h, word_bits), planes).tolist() == [[value] * n]


@pytest.mark.parametrize("word_bits", [8, 32, 64])
def test_planes_dot_equals_matmul(word_bits: int) -> None:
    rng = np.random.default_rng(7)
    for n in SIZES:
        w = int(rng.integers(1, 4))
        W = rng.integers(-w, w + 1, size=(9, n))
        H = rng.integers(0, 2, size=(6, n))
        got = planes_dot(pack_bits(H, word_bits), weight_bit_planes(W, w, word_bits))
        assert np.array_equal(got, H @ W.T)


def test_input_bit_planes_reassemble_the_levels() -> None:
    rng = np.random.default_rng(3)
    Q = rng.integers(0, 256, size=(4, 70))
    planes = input_bit_planes(Q, 8, 32)  # [N, bits, words]
    back = sum(unpack_bits(planes[:, b], 70, 32).astype(np.int64) << b for b in range(8))
    assert np.array_equal(back, Q)


@pytest.mark.parametrize("n_in,n_out,w,pad", [
    (1, 1, 1, 0), (4, 3, 1, 0), (9, 4, 1, 0), (30, 8, 3, 0), (33, 5, 2, 0),
    (9, 4, 1, 3), (30, 3, 3, 2), (1, 2, 1, 3)])
def test_plane_stream_rows(n_in: int, n_out: int, w: int, pad: int) -> None:
    """Bit (u P + p) R + j of the stream is plane p of W[u][j], with rows of R = n_in + pad bits
    (pad 0: no padding between units): ceil(n_out P R / 8) bytes, the planes give back every
    weight, and the row tails and the last byte's tail are 0."""
    rng = np.random.default_rng(n_in * 100 + n_out)
    W = rng.integers(-w, w + 1, size=(n_out, n_in))
    P = n_planes(w)
    R = n_in + pad
    s = plane_stream(W, w) if pad == 0 else plane_stream(W, w, R)
    assert s.dtype == np.uint8 and s.size == -(-n_out * P * R // 8)
    pw = plane_weights(P)
    flat = [(int(s[i // 8]) >> (i % 8)) & 1 for i in range(8 * s.size)]  # LSB-first, by hand
    for u in range(n_out):
        for j in range(n_in):
            bits = [flat[(u * P + p) * R + j] for p in range(P)]
            assert sum(b * v for b, v in zip(bits, pw, strict=True)) == W[u, j]
        for p in range(P):
            assert not any(flat[(u * P + p) * R + n_in:(u * P + p + 1) * R])
    assert not any(flat[n_out * P * R:])
    with pytest.raises(ValueError, match="cannot hold"):
        plane_stream(W, w, n_in - 1)


@pytest.mark.parametrize("bits", [4, 8, 16])
def test_signed_fields_round_trip(bits: int) -> None:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    values = np.array([lo, hi, 0, -1, 1, lo + 1, hi - 1])
    s = signed_fields(values, bits)
    assert s.size == -(-values.size * bits // 8)
    flat = [(int(s[i // 8]) >> (i % 8)) & 1 for i in range(8 * s.size)]
    back = [sum(flat[i * bits + b] << b for b in range(bits)) for i in range(values.size)]
    back = [v - (1 << bits) if v > hi else v for v in back]
    assert back == values.tolist()
    with pytest.raises(ValueError):
        signed_fields(np.array([hi + 1]), bits)


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8, 16, 32])
def test_twos_complement_bits_against_python_integers(bits: int) -> None:
    """Bit b of v mod 2**bits (Python integers), and the plane weights sum back to v."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    rng = np.random.default_rng(bits)
    values = np.unique(np.concatenate([[lo, hi, 0], rng.integers(lo, hi + 1, size=50)]))
    got = twos_complement_bits(values.reshape(-1, 1), bits)  # extra axis kept
    assert got.shape == (values.size, 1, bits) and got.dtype == np.uint8
    for v, row in zip(values.tolist(), got[:, 0].tolist(), strict=True):
        assert row == [((v % (1 << bits)) >> b) & 1 for b in range(bits)]
        assert sum(w * x for w, x in zip(plane_weights(bits), row, strict=True)) == v
    with pytest.raises(ValueError):
        twos_complement_bits(np.array([hi + 1]), bits)
    with pytest.raises(ValueError):
        twos_complement_bits(np.array([lo - 1]), bits)
