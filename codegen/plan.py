"""Lowering a :class:`Network` to the integer form every exporter emits.

For each layer the plan holds the packed weight bit-planes (stored as one bit-contiguous stream,
:func:`codegen.bitpack.plane_stream`), one integer threshold per hidden
neuron (bias and sign activation folded in), the output offsets, and the accumulator type chosen
from ``Network.preactivation_bound`` (a model whose bound does not fit is refused, naming the
layer). The C templates, the ONNX exporter and the size report all read this one plan.

The first layer reads quantized inputs and has two C kernels, chosen per model by
:func:`first_layer_kernel` (see ``docs/export.md``): ``popcount`` splits the inputs into bit-planes
and popcounts ``plane & input plane`` words like every other layer; ``sums`` builds, once per
inference, the 16 subset sums of every group of 4 inputs and adds one table entry per weight plane
and group of 4 inputs. A ternary ``sums`` layer also has the forms some targets compile instead:
the Cortex-M4/M7 DSP form (:class:`DspTernary`) and the AVR columns form (:class:`ColumnsKernel`).

A single network that reads at most ``MAX_TABLE_INDEX_BITS`` input bits also gets a predict
table (:mod:`codegen.predict_table`): ``NAME_predict`` and ``NAME_predict_q`` look the class up
instead of running the layers.

Folding (``acc = W . h`` with ``h`` the {0,1} bits of the previous layer, or the quantized inputs
for layer 0):

* heaviside input: ``a = acc + b``; unit on iff ``acc >= -b``; scores ``acc + b``.
* sign input (``x = 2h - 1``): ``a = 2 acc - sum(W) + b``; unit on iff
  ``acc >= ceil((sum(W) - b) / 2)``; scores ``2 acc + (b - sum(W))``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from bdnn.errors import BDNNError
from bdnn.network import Network

from . import predict_table as predict_tables
from .bitpack import (
    check_word_bits,
    n_planes,
    n_words,
    plane_stream,
    plane_weights,
    signed_fields,
    weight_bit_planes,
)

INT4_MAX = 2**3 - 1
INT8_MAX = 2**7 - 1
INT16_MAX = 2**15 - 1
INT32_MAX = 2**31 - 1

SUM_GROUP = 4  # inputs per subset-sum table (16 entries)
# Operation counts of the two first-layer kernels (see first_layer_kernel); only their ratio
# matters. Fitted by least squares to the difference of the two kernels' predict_q counts on
# Cortex-M0, M3 and RV32IMC (10 random networks, 4-100 inputs, 2-16 units, 1-4 bits;
# docs/benchmarks.md §4): packing costs ~9 per input bit (a test and an OR into the word, in a
# loop), a SWAR popcount with its AND, shift and add ~18, a group's 16 table entries ~26 (4 to
# a word) and a table entry ~4 (a mask, an add and a load).
POPCOUNT_OPS = 18
PACK_OPS = 9  # per input and input bit
LOOKUP_OPS = 4
BUILD_OPS = 26  # per group of SUM_GROUP inputs
MAX_SUM_TABLE_BYTES = 512  # stack cap of the subset-sum table (AVR has 2 KB of RAM)


DSP_TERNARY_MAX_BITS = 7  # the DSP ternary kernel needs a byte bit above the top level


@dataclass(frozen=True)
class DspTernary:
    """A layer of ternary weights as the Cortex-M4/M7 DSP kernel stores it.

    One byte per unit and group of 4 inputs, ``sum_i 3^i d_i`` with ``d_i`` = 0, 1, 2 for weight
    0, +1, -1 of input ``4 g + i`` (the same 2 bits per weight as the two planes), indexes a table
    of 81 words whose byte ``i`` is 0, ``L`` or ``2 L + 1``. With ``M`` that word and ``X`` the
    4 inputs (each <= ``L``: the first layer's levels, or a hidden layer's {0, 1} bits spread to
    bytes), ``USADA8(X & M, M & ~L)`` adds ``x`` for a +1 weight and ``(L + 1) - x`` for a -1
    weight: the unit's sum is ``acc + (L + 1) n_neg``, so the stored constants are ``threshold +
    (L + 1) n_neg`` (hidden) or ``offset - score_scale (L + 1) n_neg`` (output), with ``n_neg``
    the unit's negative weights, in at least 8 bits. A hidden layer whose constants need more
    than 8 bits but span at most 255 stores them as ``base`` + int8 differences (the constants
    cluster around ``(L + 1)`` times the typical ``n_neg``), where that takes fewer bytes: the
    kernel starts each unit's sum at ``-base``.
    """

    stream: np.ndarray  # uint8 [n_out * n_groups], unit-major
    thresholds: np.ndarray  # int64 [n_out]: thresholds (less base), or the score offsets
    const_bits: int  # 8, 16 or 32
    base: int | None = None  # subtracted from every threshold (None: no base)

    @property
    def base_bits(self) -> int:
        """Storage of ``base`` (0 without one)."""
        return 0 if self.base is None else max(8, constant_bits(np.array([self.base])))

    @property
    def constant_bytes(self) -> int:
        """Bytes of the stored constants, the base included."""
        return (len(self.thresholds) * self.const_bits + self.base_bits) // 8


COLUMNS_BLOCK = 4  # units per byte of the columns kernel (2 bits each: nonzero, negative)


@dataclass(frozen=True)
class ColumnsKernel:
    """A ternary first layer as the AVR columns kernel stores it (``BDNN_COLUMNS``).

    The units go in blocks of ``COLUMNS_BLOCK``; per block and input ``j`` one byte, bit ``2 k``
    set if unit ``4 b + k`` has a nonzero weight on input ``j`` and bit ``2 k + 1`` if that weight
    is -1 (the two planes' bits). The kernel walks the inputs once per block and adds each level
    to the unit's plane sums where the bits say, in 8-bit partial sums of at most ``chunk``
    inputs (``chunk x L <= 255``): one skip and one add per bit on an 8-bit core, where a
    subset-sum table costs a table build and a 16-bit address per entry. ``acc = plane 0 - 2
    sign plane``, compared with the layer's thresholds (``LayerPlan.thresholds``, stored in at
    least 8 bits).
    """

    stream: np.ndarray  # uint8 [n_blocks * n_in], block-major
    const_bits: int  # 8, 16 or 32: storage of the layer's thresholds
    chunk: int  # inputs per 8-bit partial sum
    n_units: int  # the layer's units (one stored threshold each)

    @property
    def constant_bytes(self) -> int:
        """Bytes of the stored thresholds."""
        return self.n_units * self.const_bits // 8


LANES_PASS = 4  # lane words a pass over the inputs accumulates (registers of an 8-register core)
# words of the first pass, which computes each input's level where it adds it (and keeps it for
# the other passes): the level search and more words spill on Cortex-M0 (digits 64-16-10,
# 6 words: predict 4,700 / 4,541 / 4,733 instructions with a first pass of 1 / 2 / 3 words,
# 4,693 with 4, 5,187 with the levels all computed before a first pass)
LANES_FUSED_WORDS = 2
# up to this many inputs the kernel is unrolled per input (the level code inlined in each);
# beyond, a loop with one inlined copy: unrolled, digits 64-8-10 took 2.4 -> 8.6 KB of flash
LANES_UNROLL_INPUTS = 16
# the lanes form is made only when its tables add at most this share to the model's data (the
# plain weights, thresholds and the float path's quantizer tables): it stores a word per input
# and lane word, several times the 2 bits of a ternary weight, and model data is a budget of its
# own (docs/benchmarks-firmware*.md); tiny nets behind large quantizer tables (wine 13-2-3,
# 2-bit thresholds: +19 B on 165 B) keep it, wide layers and pow2 nets do not
LANES_MAX_DATA_GROWTH = 1 / 8


@dataclass(frozen=True)
class LanesKernel:
    """A hidden first layer as the lanes kernel stores it (``BDNN_LANES``, cores with a
    multiplier).

    The units share words: unit ``u`` is lane ``u % lanes`` (bits ``f i .. f i + f - 1``, ``f``
    = ``lane_bits``) of word ``u // lanes``. Per word, one column per input holds that input's
    weights, ``sum_i W[u_i, j] 2^(f i)`` modulo ``2^word_bits``, and the kernel adds ``level x
    column`` for every input to a start word holding ``2^(f - 1) - t_u`` in each lane (``t_u``
    the unit's threshold, clamped to what its sum can reach). The sums are exact modulo
    ``2^word_bits``, every final lane lies in ``[0, 2^f)``, so no lane borrows from the next and
    unit ``u`` is on iff its lane's top bit is set: one multiply and one add per input and word,
    where the subset-sum kernel builds 16 entries per 4 inputs and reads one per unit and plane.
    The words go in passes, the first of at most ``LANES_FUSED_WORDS`` words, the others of at
    most ``LANES_PASS``; within a pass the columns are input-major.
    """

    lane_bits: int  # f: bits of one unit's lane
    lanes: int  # units per word
    word_bits: int  # 8, 16 or 32: the stored words (and the kernel's arithmetic modulo)
    columns: np.ndarray  # int64 [n_words, n_in]: word k's column of input j, in [0, 2^word_bits)
    starts: np.ndarray  # int64 [n_words]: the start words, in [0, 2^word_bits)

    @property
    def n_words(self) -> int:
        return len(self.starts)

    @property
    def unrolled(self) -> bool:
        """The C adds the inputs unrolled (else in a loop), unless ``BDNN_SMALL_CODE``."""
        return self.columns.shape[1] <= LANES_UNROLL_INPUTS

    @property
    def passes(self) -> list[range]:
        """The words of each pass over the inputs."""
        first = min(self.n_words, LANES_FUSED_WORDS)
        return [range(0, first)] + [range(k, min(k + LANES_PASS, self.n_words))
                                    for k in range(first, self.n_words, LANES_PASS)]

    @property
    def stored_columns(self) -> np.ndarray:
        """The columns in stored order: pass by pass, input-major within a pass."""
        return np.concatenate([self.columns[list(p)].T.reshape(-1) for p in self.passes])

    @property
    def stream(self) -> np.ndarray:
        """The stored columns as bytes (little-endian words)."""
        return _le_bytes(self.stored_columns, self.word_bits)

    @property
    def constant_bytes(self) -> int:
        """Bytes of the start words (the thresholds' form)."""
        return self.n_words * self.word_bits // 8


def _le_bytes(values: np.ndarray, bits: int) -> np.ndarray:
    """``values`` (each in ``[0, 2^bits)``) as little-endian ``bits``-bit words, as bytes."""
    v = np.asarray(values, dtype=np.uint64)
    return np.stack([(v >> np.uint64(8 * b)) & np.uint64(0xFF) for b in range(bits // 8)],
                    axis=-1).reshape(-1).astype(np.uint8)


def lanes_kernel(weights: np.ndarray, thresholds: np.ndarray, max_level: int) -> LanesKernel | None:
    """:class:`LanesKernel` of a hidden first layer whose inputs are at most ``max_level``, or
    None when one unit's lane would need more than 32 bits."""
    W = np.asarray(weights, dtype=np.int64)
    n_out, n_in = W.shape
    lo = max_level * np.minimum(W, 0).sum(axis=1)  # the smallest and largest sum of each unit
    hi = max_level * np.maximum(W, 0).sum(axis=1)
    t = np.clip(np.asarray(thresholds, dtype=np.int64), lo, hi + 1)  # on iff sum >= t
    # a lane holds 2^(f-1) - t + sum: in [0, 2^f) for every sum iff 2^(f-1) covers both sides
    half = int(max(1, (t - lo).max(), (hi - t + 1).max()))
    f = 1 + (half - 1).bit_length()
    if f > 32:
        return None
    lanes = min(32 // f, n_out)
    word_bits = next(b for b in (8, 16, 32) if lanes * f <= b)
    n_words = -(-n_out // lanes)
    mod = 1 << word_bits
    columns = np.zeros((n_words, n_in), dtype=np.int64)
    starts = np.zeros(n_words, dtype=np.int64)
    for u in range(n_out):  # Python ints: a 32-bit lane shifted up stays exact before the modulo
        k, shift = u // lanes, f * (u % lanes)
        starts[k] = (int(starts[k]) + ((1 << (f - 1)) - int(t[u]) << shift)) % mod
        for j in range(n_in):
            columns[k, j] = (int(columns[k, j]) + (int(W[u, j]) << shift)) % mod
    return LanesKernel(lane_bits=f, lanes=lanes, word_bits=word_bits, columns=columns,
                       starts=starts)


@dataclass(frozen=True)
class LayerPlan:
    """One layer in exported form."""

    index: int
    n_in: int
    n_out: int
    weight_bound: int
    is_output: bool
    input_planes: int  # bit-planes of the input: quantizer bits for layer 0, else 1
    n_planes: int  # weight bit-planes
    plane_weights: tuple[int, ...]
    n_words: int  # words per plane (n_in bits)
    planes: np.ndarray  # uint64 [n_out, n_planes, n_words] (per neuron, for reference)
    stream: np.ndarray  # uint8: the stored planes, bit-contiguous (bitpack.plane_stream)
    acc_bits: int  # 16 or 32: accumulator type int{acc_bits}_t
    bound: int  # Network.preactivation_bound(index)
    thresholds: np.ndarray  # int64 [n_out] hidden: unit on iff acc >= threshold
    score_scale: int  # output: scores = score_scale * acc + offsets
    offsets: np.ndarray  # int64 [n_out] (output layer)
    const_bits: int  # 4 (packed signed nibbles), 8, 16 or 32: storage of thresholds / offsets
    kernel: str = "popcount"  # "popcount", or "sums" (first layer by subset-sum tables)
    sum_bits: int = 0  # "sums": uint{sum_bits}_t table entries (8 or 16)
    # 2 planes, a "sums" first layer of 2 planes (and this layer): the DSP kernel's form
    dsp_ternary: DspTernary | None = None
    # a hidden "sums" first layer of 2 planes: the AVR columns kernel's form
    columns: ColumnsKernel | None = None
    # a hidden "sums" first layer: the lanes kernel's form (cores with a multiplier)
    lanes: LanesKernel | None = None

    @property
    def n_groups(self) -> int:
        """Groups of ``SUM_GROUP`` inputs (the subset-sum tables of the ``sums`` kernel)."""
        return -(-self.n_in // SUM_GROUP)

    @property
    def sum_table_entries(self) -> int:
        """Entries of the subset-sum table (0 for the ``popcount`` kernel)."""
        return self.n_groups * (1 << SUM_GROUP) if self.kernel == "sums" else 0

    @property
    def constant_bytes(self) -> int:
        """Bytes of the stored thresholds / score offsets: ``ceil(n_out x const_bits / 8)``."""
        return -(-self.n_out * self.const_bits // 8)

    @property
    def constants(self) -> np.ndarray:
        """Thresholds (hidden layer) or score offsets (output layer)."""
        return self.offsets if self.is_output else self.thresholds

    @property
    def row_bits(self) -> int:
        """Bits of one plane's row in the stream (:func:`row_bits`)."""
        return row_bits(self.kernel, self.n_in)

    @property
    def record_bits(self) -> int:
        """Bits of one neuron's planes in the stream: ``n_planes x row_bits``."""
        return self.n_planes * self.row_bits

    @property
    def period(self) -> int:
        """Neurons per block: after this many neurons the planes (and packed nibble thresholds)
        start on a byte boundary again, so the C reads every field at a constant bit offset
        from the block's first byte."""
        p = 8 // math.gcd(self.record_bits, 8)
        return max(p, 2) if self.const_bits == 4 else p

    @property
    def const_stream(self) -> np.ndarray:
        """Packed signed nibbles of the constants (``const_bits == 4`` only)."""
        return signed_fields(self.constants, 4)


@dataclass(frozen=True)
class ModelPlan:
    """A network lowered for export with ``word_bits``-bit words."""

    net: Network
    word_bits: int
    layers: tuple[LayerPlan, ...]
    # the class as a lookup table for NAME_predict / NAME_predict_q (codegen.predict_table),
    # or None: the network reads too many input bits, or is an ensemble member
    predict_table: predict_tables.PredictTable | None = None

    @property
    def hidden(self) -> tuple[LayerPlan, ...]:
        return self.layers[:-1]

    @property
    def output(self) -> LayerPlan:
        return self.layers[-1]

    @property
    def word_bytes(self) -> int:
        return self.word_bits // 8

    def weight_bytes(self, layer: LayerPlan) -> int:
        """Bytes of the layer's plane stream: ``ceil(n_out x P x row_bits / 8)``."""
        return int(layer.stream.size)

    def constant_bytes(self, layer: LayerPlan) -> int:
        """Bytes of the thresholds / score offsets (``LayerPlan.constant_bytes``)."""
        return layer.constant_bytes

    def scratch_words(self, layer: LayerPlan) -> int:
        """Words of packed input this layer reads (input bit-planes or the previous layer)."""
        return 0 if layer.kernel == "sums" else layer.input_planes * layer.n_words

    def layer_scratch_bytes(self, layer: LayerPlan) -> int:
        """Stack bytes of this layer's input: packed words, or the subset-sum table."""
        table = layer.sum_table_entries * layer.sum_bits // 8
        return self.scratch_words(layer) * self.word_bytes + table

    @property
    def scratch_bytes(self) -> int:
        """Stack bytes of the packed buffers and sum table (scores and locals excluded)."""
        return sum(self.layer_scratch_bytes(layer) for layer in self.layers)


def constant_bits(constants: np.ndarray) -> int:
    """Storage of the thresholds / score offsets: signed 4-bit fields (two per byte), int8,
    int16 or int32, the smallest that holds every value of the layer."""
    if not constants.size:
        return 8
    lo, hi = int(constants.min()), int(constants.max())
    for bits, top in ((4, INT4_MAX), (8, INT8_MAX), (16, INT16_MAX)):
        if -top - 1 <= lo and hi <= top:
            return bits
    return 32


def _int_type_bits(bound: int, what: str) -> int:
    if bound <= INT16_MAX:
        return 16
    if bound <= INT32_MAX:
        return 32
    raise BDNNError(f"{what}: bound {bound} overflows int32_t; use smaller weights or fewer inputs")


def sum_entry_bits(max_input: int) -> int:
    """Bits of a subset-sum table entry: the sum of up to ``SUM_GROUP`` inputs of at most
    ``max_input`` each, in a byte while it fits."""
    return 8 if SUM_GROUP * max_input <= 0xFF else 16


def first_layer_kernel(
    n_in: int, n_out: int, planes: int, input_bits: int, word_bits: int, sum_bits: int
) -> str:
    """``"sums"`` if the subset-sum kernel is estimated cheaper for the first layer, else
    ``"popcount"``.

    Per inference the popcount kernel packs ``n_in x input_bits`` bits and does
    ``n_out x planes x words x input_bits`` popcounts; the sums kernel fills ``16`` entries per
    group of 4 inputs and adds ``n_out x planes x groups`` entries. One-bit inputs, many to a
    word, with many units favour popcounts (64-16-10); two or more input bits the table; the
    table is also capped at ``MAX_SUM_TABLE_BYTES``.
    """
    groups = -(-n_in // SUM_GROUP)
    if groups * (1 << SUM_GROUP) * sum_bits // 8 > MAX_SUM_TABLE_BYTES:
        return "popcount"
    words = n_words(n_in, word_bits)
    popcount = n_in * input_bits * PACK_OPS + n_out * planes * words * input_bits * POPCOUNT_OPS
    sums = groups * BUILD_OPS + n_out * planes * groups * LOOKUP_OPS
    return "sums" if sums < popcount else "popcount"


def dsp_ternary(weights: np.ndarray, constants: np.ndarray, bits: int, is_output: bool = False,
                score_scale: int = 1) -> DspTernary | None:
    """:class:`DspTernary` of a layer with weights in {-1, 0, 1} whose inputs are at most the
    top level ``L = 2^bits - 1`` of ``bits``-bit inputs (the first layer's levels, or the {0,
    1} bits of a hidden layer), or None when the kernel does not apply (more than
    ``DSP_TERNARY_MAX_BITS`` bits). ``constants``: thresholds (hidden) or score offsets
    (output, ``score = score_scale x acc + offset``)."""
    if bits > DSP_TERNARY_MAX_BITS:
        return None
    W = np.asarray(weights, dtype=np.int64)
    n_out, n_in = W.shape
    groups = -(-n_in // SUM_GROUP)
    digits = np.zeros((n_out, groups * SUM_GROUP), dtype=np.int64)
    digits[:, :n_in] = np.where(W > 0, 1, np.where(W < 0, 2, 0))
    codes = digits.reshape(n_out, groups, SUM_GROUP) @ (3 ** np.arange(SUM_GROUP))
    shift = (2**bits) * (W < 0).sum(axis=1)  # (L + 1) per negative weight
    dsp = np.asarray(constants - score_scale * shift if is_output else constants + shift,
                     dtype=np.int64)
    plain = DspTernary(stream=codes.reshape(-1).astype(np.uint8), thresholds=dsp,
                       const_bits=max(8, constant_bits(dsp)))
    if is_output or plain.const_bits == 8 or int(dsp.max() - dsp.min()) > 255:
        return plain
    base = int(dsp.min()) + 128  # the differences fill int8 from -128
    based = DspTernary(stream=plain.stream, thresholds=dsp - base, const_bits=8, base=base)
    return based if based.constant_bytes < plain.constant_bytes else plain


def columns_kernel(weights: np.ndarray, thresholds: np.ndarray, max_level: int) -> ColumnsKernel:
    """:class:`ColumnsKernel` of a ternary first layer whose inputs are at most ``max_level``."""
    W = np.asarray(weights, dtype=np.int64)
    n_out, n_in = W.shape
    n_blocks = -(-n_out // COLUMNS_BLOCK)
    bits = np.zeros((n_blocks * COLUMNS_BLOCK, n_in), dtype=np.int64)
    bits[:n_out] = (W != 0) | ((W < 0) << 1)
    stream = (bits.reshape(n_blocks, COLUMNS_BLOCK, n_in)
              << (2 * np.arange(COLUMNS_BLOCK))[None, :, None]).sum(axis=1)
    return ColumnsKernel(stream=stream.reshape(-1).astype(np.uint8),
                         const_bits=max(8, constant_bits(thresholds)),
                         chunk=max(1, 0xFF // max(1, int(max_level))), n_units=n_out)


def ternary_masks(max_level: int) -> list[int]:
    """The DSP ternary kernel's 81 mask words: byte ``i`` of entry ``sum_i 3^i d_i`` is 0,
    ``L`` or ``2 L + 1`` for ``d_i`` = 0, 1, 2 (weight 0, +1, -1)."""
    byte = (0, max_level, 2 * max_level + 1)
    return [sum(byte[m // 3**i % 3] << 8 * i for i in range(SUM_GROUP))
            for m in range(3**SUM_GROUP)]


# Measured cost of the two searches of a float input's level among its thresholds (see
# level_search), per input, in instructions on Cortex-M0 (32-bit words) and cycles on AVR (8-bit
# words), from `bdnn bench --entry predict` of 9-input networks with 1 to 4 input bits: one
# compare of the linear scan; one step of the binary search, and its fixed cost (the pointer
# arithmetic that turns the position into the level).
LINEAR_COMPARE_COST = {8: 26, 16: 26, 32: 7, 64: 7}
SEARCH_STEP_COST = {8: 20, 16: 20, 32: 3, 64: 3}
SEARCH_FIXED_COST = {8: 20, 16: 20, 32: 7, 64: 7}


def level_search(max_level: int, word_bits: int) -> str:
    """``"linear"`` if comparing the input's key with all ``max_level`` thresholds of its input
    (fixed addresses, no branches) is estimated cheaper than a binary search (``log2(max_level
    + 1)`` dependent steps), else ``"binary"``; both give the same level. With the measured
    costs the linear scan wins for 1-bit inputs only."""
    steps = (max_level + 1).bit_length() - 1
    linear = max_level * LINEAR_COMPARE_COST[word_bits]
    binary = SEARCH_FIXED_COST[word_bits] + steps * SEARCH_STEP_COST[word_bits]
    return "linear" if linear <= binary else "binary"


def row_bits(kernel: str, n_in: int) -> int:
    """Bits of one plane's row in a layer's stream: ``n_in``, or for the ``sums`` kernel
    ``n_in`` rounded up to whole groups, so that every group's index is a nibble the C reads
    with one mask or shift (an 8-bit core pays dearly for a field that straddles bytes)."""
    return SUM_GROUP * -(-n_in // SUM_GROUP) if kernel == "sums" else n_in


def _within_data_budget(layers: list[LayerPlan], net: Network) -> list[LayerPlan]:
    """``layers`` with the first layer's lanes form dropped when its tables would add more than
    ``LANES_MAX_DATA_GROWTH`` to the model's data: the plain weights and thresholds and the
    float path's quantizer tables (its default form)."""
    from .level_keys import quantizer_forms_bytes

    first = layers[0]
    if first.lanes is None:
        return layers
    plain = sum(int(L.stream.size) + L.constant_bytes for L in layers)
    data = plain + next(iter(quantizer_forms_bytes(net.quantizer).values()))
    extra = (int(first.lanes.stream.size) + first.lanes.constant_bytes
             - int(first.stream.size) - first.constant_bytes)
    if extra <= LANES_MAX_DATA_GROWTH * data:
        return layers
    return [dataclasses.replace(first, lanes=None), *layers[1:]]


def plan_model(net: Network, word_bits: int = 32, with_predict_table: bool = True) -> ModelPlan:
    """Lower ``net`` for export; raise ``BDNNError`` if an accumulator bound overflows int32.
    ``with_predict_table``: also make the predict table when the network qualifies (False for
    an ensemble's members, which keep their kernels)."""
    check_word_bits(word_bits)
    layers = []
    n_layers = len(net.layers)
    for i, layer in enumerate(net.layers):
        is_output = i == n_layers - 1
        name = "output layer" if is_output else f"hidden layer {i}"
        bound = int(net.preactivation_bound(i))
        acc_bits = _int_type_bits(bound, f"{name} accumulator")
        W = layer.weights
        # W x + b = scale * (W h) + offset on the bits h (Activation.fold); a unit is on iff
        # W h >= ceil(-offset / scale) = -(offset // scale)
        scale, offsets = (1, layer.bias.copy()) if i == 0 else net.activation.fold(W, layer.bias)
        thresholds = -(offsets // scale)
        constants = offsets if is_output else thresholds
        # the folded constants stay within the pre-activation bound, so they fit the accumulator
        assert int(np.abs(constants).max()) <= bound, (name, constants, bound)
        const_bits = constant_bits(constants)
        P = n_planes(layer.weight_bound)
        # partial sums: the positive planes and the negative plane are accumulated apart; each
        # is at most 2**(P-1) * n_in * max_input <= 2 w n_in max_input, inside the bound.
        # largest input value: max_level for layer 0, 1 for hidden bits (a sign layer reads
        # +-1, folded into the constants, so the kernels still see {0,1} bits)
        max_input = net.input_range(i)[1]
        assert (1 << (P - 1)) * layer.n_in * max_input <= bound, (name, P, bound)
        kernel, sum_bits, dsp, columns, lanes = "popcount", 0, None, None, None
        if i == 0:
            sum_bits = sum_entry_bits(max_input)
            kernel = first_layer_kernel(
                layer.n_in, layer.n_out, P, int(net.quantizer.bits), word_bits, sum_bits
            )
            if kernel == "popcount":
                sum_bits = 0
            else:
                if P == 2:
                    dsp = dsp_ternary(W, thresholds, int(net.quantizer.bits))
                    if not is_output:
                        columns = columns_kernel(W, thresholds, max_input)
                if not is_output:
                    lanes = lanes_kernel(W, thresholds, max_input)
        elif P == 2 and layers[0].dsp_ternary is not None:
            # the same kernel on the {0, 1} bits (<= L) of the previous layer, spread to bytes
            dsp = dsp_ternary(W, constants, int(net.quantizer.bits), is_output, scale)
        layers.append(
            LayerPlan(
                index=i,
                n_in=layer.n_in,
                n_out=layer.n_out,
                weight_bound=int(layer.weight_bound),
                is_output=is_output,
                input_planes=int(net.quantizer.bits) if i == 0 else 1,
                n_planes=P,
                plane_weights=tuple(plane_weights(P)),
                n_words=n_words(layer.n_in, word_bits),
                planes=weight_bit_planes(W, layer.weight_bound, word_bits),
                stream=plane_stream(W, layer.weight_bound, row_bits(kernel, layer.n_in)),
                acc_bits=acc_bits,
                bound=bound,
                thresholds=np.asarray(thresholds, dtype=np.int64),
                score_scale=scale,
                offsets=np.asarray(offsets, dtype=np.int64),
                const_bits=const_bits,
                kernel=kernel,
                sum_bits=sum_bits,
                dsp_ternary=dsp,
                columns=columns,
                lanes=lanes,
            )
        )
    layers = _within_data_budget(layers, net)
    table = predict_tables.predict_table(net) if with_predict_table else None
    return ModelPlan(net=net, word_bits=word_bits, layers=tuple(layers), predict_table=table)
