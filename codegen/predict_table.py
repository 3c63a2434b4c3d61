"""The predict table: the class of a network that reads few input bits, as a lookup table.

A first-layer weight column that is all zero is an input the network ignores. When the network
reads ``K`` inputs (``Network.inputs_read``) of ``b`` bits each, its class is a function of
``K x b`` bits, so the C ``NAME_predict`` / ``NAME_predict_q`` can read it from a table of
``2^(K x b)`` class indices instead of running the layers: exact by construction (every entry
is the numpy reference's class), and far cheaper per inference than the unrolled network. A
table is made for a single network (an ensemble's members keep their kernels) when
``1 <= K x b <= MAX_TABLE_INDEX_BITS`` and the class fits 8 bits. ``NAME_scores_q`` and
``NAME_forward_debug_q`` still run the network (docs/export.md, "The predict table").

Entry ``k`` is the class of the row whose input ``inputs_read[i]`` has level
``(k >> (i x b)) & L`` (``L`` = max_level) and every other input level 0; entries are packed at
``entry_bits`` (1, 2, 4 or 8, the fewest that hold ``n_classes - 1``) LSB-first in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bdnn.network import Network

from .bitpack import unsigned_fields

MAX_TABLE_INDEX_BITS = 10  # at most 1024 entries: 1 KB at 8 bits per entry, 128 B at 1 bit
ENTRY_BITS = (1, 2, 4, 8)  # entry widths that never straddle a byte


@dataclass(frozen=True)
class PredictTable:
    """The predict table of one network (see the module docstring)."""

    inputs_read: tuple[int, ...]  # the inputs with a non-zero first-layer weight, ascending
    input_bits: int  # bits of one level (the quantizer's bits)
    entry_bits: int  # bits of one stored class index: 1, 2, 4 or 8
    classes: np.ndarray  # int64 [n_entries]: the class index of entry k

    @property
    def index_bits(self) -> int:
        """Bits of the table index: ``len(inputs_read) x input_bits``."""
        return len(self.inputs_read) * self.input_bits

    @property
    def n_entries(self) -> int:
        return 1 << self.index_bits

    @property
    def stream(self) -> np.ndarray:
        """The stored bytes: entry ``k`` in bits ``k x entry_bits ..`` (LSB-first)."""
        return unsigned_fields(self.classes, self.entry_bits)

    @property
    def n_bytes(self) -> int:
        """Bytes of the stored table: ``ceil(n_entries x entry_bits / 8)``."""
        return -(-self.n_entries * self.entry_bits // 8)


def entry_bits(n_classes: int) -> int | None:
    """The fewest of ``ENTRY_BITS`` that hold every class index, or None beyond 8 bits."""
    return next((b for b in ENTRY_BITS if n_classes - 1 < 1 << b), None)


def table_rows(used: tuple[int, ...], n_inputs: int, bits: int) -> np.ndarray:
    """The quantized rows of every table entry: uint8 ``[2^(len(used) x bits), n_inputs]``,
    row ``k`` with input ``used[i]`` at level ``(k >> (i x bits)) & L``, the others 0."""
    k = np.arange(1 << (len(used) * bits), dtype=np.int64)
    Q = np.zeros((len(k), n_inputs), np.uint8)
    for i, j in enumerate(used):
        Q[:, j] = (k >> (i * bits)) & ((1 << bits) - 1)
    return Q


def predict_table(net: Network) -> PredictTable | None:
    """The predict table of ``net``, or None when it reads no input or more than
    ``MAX_TABLE_INDEX_BITS`` input bits, or has more than 256 classes. The classes come from
    one batched numpy forward pass over every entry's row."""
    used = tuple(net.inputs_read())
    bits = int(net.quantizer.bits)
    e = entry_bits(net.n_classes)
    if not 1 <= len(used) * bits <= MAX_TABLE_INDEX_BITS or e is None:
        return None
    classes = net.forward_q(table_rows(used, net.n_inputs, bits)).class_index
    return PredictTable(used, bits, e, np.asarray(classes, np.int64))
