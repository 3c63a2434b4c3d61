"""C99 export: a header and a source file per model, rendered from ``templates/model.*.j2``.

All C text comes from the templates; Python only computes the numbers (from :mod:`codegen.plan`)
and formats literals. Output is deterministic: identical models give byte-identical files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

import bdnn
from bdnn.atomic_files import check_output_dir, write_files
from bdnn.ensemble import Ensemble, decision_threshold, is_ensemble
from bdnn.errors import BDNNError
from bdnn.network import Network
from bdnn.raw_input import raw_input_of

from .bitpack import n_words
from .level_keys import (
    c_level_keys,
    int_threshold_rows,
    key_rows,
    positive_key_inputs,
    pow2_offset_bytes,
    quantizer_bytes,
    row_entry_bytes,
)
from .names import c_string_literal, comment_text, validate_c_name
from .plan import (
    COLUMNS_BLOCK,
    INT32_MAX,
    LayerPlan,
    level_search,
    plan_model,
    ternary_masks,
)
from .predict_table import PredictTable
from .render import render
from .size_report import ensemble_size_report, form_lines, plan_size_report
from .weights_as_code import BASE_SPAN, code_form, unit_statements

WORD_TYPES = {8: "uint8_t", 16: "uint16_t", 32: "uint32_t", 64: "uint64_t"}
MAX_PROVENANCE_VALUE = 160


# Up to this many weights NAME_layers is inlined into both entry points on AVR too (the
# benchmark's networks have at most 592); above, one out-of-line copy (docs/export.md)
AVR_INLINE_LAYERS_MAX_WEIGHTS = 1024


def byte_literal(value: int) -> str:
    """A C literal of one stored byte."""
    return f"0x{int(value):02X}u"


def field_terms(pos: int, n: int, word_bits: int) -> dict:
    """How the C reads the ``n``-bit field at bit ``pos`` of a byte stream.

    The bytes it spans are combined little-endian into one integer of up to ``max(word_bits,
    16)`` bits (``low``, as the C's ``join`` type; a compiler may turn that into one unaligned
    load) and shifted right by ``shift``; a field that spills past them takes one more byte
    (``extra``, shifted left). ``masked``: bits above the field belong to the next field.
    """
    first, sh = divmod(pos, 8)
    n_bytes = (sh + n + 7) // 8
    m = min(n_bytes, max(word_bits, 16) // 8)
    join_bits = next(b for b in (16, 32, 64) if b >= 8 * m)
    return {
        "low": [{"byte": first + i, "shift": 8 * i} for i in range(m)],
        "join": "unsigned" if join_bits == 16 else f"uint{join_bits}_t",
        "shift": sh,
        "extra": (
            {"byte": first + m, "shift": 8 * m - sh} if n_bytes > m else None
        ),
        "n": n,
        "masked": 8 * n_bytes - sh > n,
        "mask": (1 << n) - 1,
    }


def popcount_bits(n: int, word_bits: int) -> int:
    """The narrowest popcount (2, 4, 8, 16, 32 or 64 bits) that covers ``n`` bits of a word.

    A field's bits above ``n`` are 0 (the words' tail bits are), so a 2- or 4-bit popcount
    may read a byte."""
    return min(word_bits, next(b for b in (2, 4, 8, 16, 32, 64) if b >= n))


def unit_fields(layer: LayerPlan, k: int, word_bits: int) -> list[list[dict]]:
    """Per plane, the fields the ``k``-th neuron of a block reads: nibbles (4 inputs) for the
    ``sums`` kernel, ``word_bits`` inputs for ``popcount``; positions relative to the block."""
    planes = []
    for p in range(layer.n_planes):
        base = k * layer.record_bits + p * layer.row_bits
        step = 4 if layer.kernel == "sums" else word_bits
        fields = []
        for c in range(0, layer.n_in, step):
            n = min(step, layer.n_in - c)
            f = field_terms(base + c, n, word_bits)
            f["index"] = c // step
            f["pop_bits"] = popcount_bits(n, word_bits)
            fields.append(f)
        planes.append(fields)
    return planes


def int_literal(value: int, bits: int) -> str:
    """A C literal of a signed constant that is valid for int16_t / int32_t even on 16-bit int."""
    v = int(value)
    if bits == 32 and v == -(2**31):
        return "(-2147483647l - 1)"
    return f"{v}l" if bits == 32 else str(v)


def unsigned_literal(value: int, bits: int) -> str:
    """A C literal of an unsigned ``bits``-bit value in hex (``ul`` past 16 bits)."""
    return f"0x{int(value):0{bits // 4}X}{'ul' if bits > 16 else 'u'}"


def lanes_context(layer: LayerPlan) -> dict:
    """What the template's lanes kernel reads of ``layer.lanes`` (plan.LanesKernel): the words,
    the start words, and per pass its words and, per word, its units' top-bit masks."""
    K = layer.lanes
    f, wb = K.lane_bits, K.word_bits
    words = [{"k": k, "units": [{"u": u, "mask": unsigned_literal(1 << (f * i + f - 1), wb)}
                                for i, u in enumerate(range(k * K.lanes,
                                                            min((k + 1) * K.lanes, layer.n_out)))]}
             for k in range(K.n_words)]
    passes = [{"width": len(p), "words": [words[k] for k in p]} for p in K.passes]
    return {
        "word_bits": wb,
        "lane_bits": f,
        "lanes": K.lanes,
        "n_words": K.n_words,
        "lane_t": "unsigned" if wb <= 16 else "uint32_t",  # never promoted to a signed int
        "columns": [unsigned_literal(v, wb) for v in K.stored_columns],
        "starts": [unsigned_literal(v, wb) for v in K.starts],
        "passes": passes,
        "words": words,
        "unrolled": K.unrolled,
    }


def key_literal(value: int) -> str:
    """A C literal of a uint32 level key (``codegen.level_keys.c_level_keys``) in hex."""
    return f"0x{int(value):08X}ul"


def _pow2_offset_min(q, key_inputs) -> dict | None:
    """The pow2 FPU form's shared bias: the smallest offset K as C literals (None: not pow2)."""
    if not q.pow2_steps:
        return None
    k = int(min(int(q.offset[j]) for j in key_inputs))
    return {"half_minus": float_literal(0.5 - k), "bytes": f"0x{(k & 0xFF) * 0x01010101:08X}ul"}


def float_literal(value: float) -> str:
    """An exact C float literal (C99 hex float) of a float32 value."""
    mantissa, exponent = float(np.float32(value)).hex().split("p")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}p{exponent}f"


def provenance_lines(training: dict) -> list[tuple[str, str]]:
    """The training record as sorted ``(key, value)`` lines, nested keys dotted, comment-safe."""
    lines: list[tuple[str, str]] = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k in sorted(value, key=str):
                walk(f"{prefix}.{k}" if prefix else str(k), value[k])
            return
        if isinstance(value, float):
            text = repr(value)
        elif isinstance(value, (list, tuple)):
            text = json.dumps(value, sort_keys=True, default=str)
        else:
            text = str(value)
        if len(text) > MAX_PROVENANCE_VALUE:
            text = text[: MAX_PROVENANCE_VALUE - 3] + "..."
        lines.append((comment_text(prefix), comment_text(text)))

    walk("", training or {})
    return lines


def template_context(
    net: Network, name: str, word_bits: int = 32, with_predict_table: bool = True,
    small_code: bool = False, weights_as_code: bool = False,
) -> dict:
    """Everything the C templates need, as plain data. ``with_predict_table``: False for an
    ensemble, whose members keep their kernels (and have no weights-as-code form).
    ``small_code`` / ``weights_as_code``: the
    file's default of ``BDNN_SMALL_CODE`` / ``BDNN_WEIGHTS_AS_CODE`` (``codegen.switches``)
    is 1."""
    name = validate_c_name(name)
    plan = plan_model(net, word_bits, with_predict_table)
    layers = []
    in_offset, hidden_offset = 0, 0
    pop_widths: set[int] = set()
    for layer in plan.layers:
        n_bodies = min(layer.period, layer.n_out)
        rem = layer.n_out % layer.period
        units = [
            {
                "k": k,
                "planes": unit_fields(layer, k, word_bits),
                "stop": layer.n_out > layer.period and rem and k + 1 == rem,
            }
            for k in range(n_bodies)
        ]
        if layer.kernel == "popcount":
            pop_widths |= {f["pop_bits"] for f in units[0]["planes"][0]}
        in_words = plan.scratch_words(layer)
        out_offset = in_offset + in_words
        layers.append(
            {
                "index": layer.index,
                "title": "output layer" if layer.is_output else f"hidden layer {layer.index}",
                "input_kind": (
                    "quantized inputs"
                    if layer.kernel == "sums"
                    else f"quantized inputs ({layer.input_planes} bit-planes)"
                    if layer.index == 0
                    else "hidden bits"
                ),
                "n_in": layer.n_in,
                "n_out": layer.n_out,
                "weight_bound": layer.weight_bound,
                "is_output": layer.is_output,
                # the activation whose reading of the bits is folded into the thresholds
                "folded_activation": (net.activation.name if layer.index > 0 and (
                    net.activation.scale, net.activation.shift) != (1, 0) else ""),
                "n_planes": layer.n_planes,
                "plane_weights": list(layer.plane_weights),
                "n_words": layer.n_words,
                "input_planes": layer.input_planes,
                "kernel": layer.kernel,
                "sum_bits": layer.sum_bits,
                "n_groups": layer.n_groups,
                "sum_table_entries": layer.sum_table_entries,
                "acc_bits": layer.acc_bits,
                "bound": layer.bound,
                "score_scale": layer.score_scale,
                "const_bits": layer.const_bits,
                "record_bits": layer.record_bits,
                "row_bits": layer.row_bits,
                "period": layer.period,
                "block_bytes": layer.period * layer.record_bits // 8,
                "units": units,
                "stream": [byte_literal(v) for v in layer.stream],
                "constants": (
                    [byte_literal(v) for v in layer.const_stream]
                    if layer.const_bits == 4
                    else [int_literal(v, layer.const_bits) for v in layer.constants]
                ),
                # the Cortex-M4/M7 DSP kernel of ternary weights (plan.DspTernary), or None
                "dsp": None if layer.dsp_ternary is None else {
                    "stream": [byte_literal(v) for v in layer.dsp_ternary.stream],
                    "const_bits": layer.dsp_ternary.const_bits,
                    "thresholds": [int_literal(v, layer.dsp_ternary.const_bits)
                                   for v in layer.dsp_ternary.thresholds],
                    # hidden constants stored as base + int8 differences (None: plain)
                    "base": (None if layer.dsp_ternary.base is None
                             else int_literal(layer.dsp_ternary.base,
                                              layer.dsp_ternary.base_bits)),
                    "base_bits": layer.dsp_ternary.base_bits,
                },
                # the AVR columns kernel of a ternary first layer (plan.ColumnsKernel), or None
                "columns": None if layer.columns is None else {
                    "stream": [byte_literal(v) for v in layer.columns.stream],
                    "const_bits": layer.columns.const_bits,
                    "thresholds": [int_literal(v, layer.columns.const_bits)
                                   for v in layer.thresholds],
                    "chunk": layer.columns.chunk,
                    "block": COLUMNS_BLOCK,  # units per weight byte
                },
                # the lanes kernel of a hidden first layer (plan.LanesKernel), or None
                "lanes": None if layer.lanes is None else lanes_context(layer),
                "out_words": n_words(layer.n_out, word_bits),
                "in_offset": in_offset,
                "out_offset": out_offset,
                "hidden_offset": hidden_offset,
            }
        )
        in_offset = out_offset
        if not layer.is_output:
            hidden_offset += layer.n_out
    q = net.quantizer
    level_c_keys = c_level_keys(q)
    key_table, key_index = key_rows(level_c_keys, row_entry_bytes(q))
    positive_keys = positive_key_inputs(level_c_keys)
    # the first input of each row (its lo and scale stand for the row's inputs)
    key_inputs = (range(q.n_inputs) if key_index is None
                  else [int(np.argmax(key_index == r)) for r in range(len(key_table))])
    names = net.feature_names()
    if q.affine:
        features = [
            {
                "index": j,
                "name": comment_text(names[j]) if names else "-",
                "lo": f"{float(q.lo[j]):.6g}",
                "scale": f"{float(q.scale[j]):.6g}",
                "top": (
                    f"{float(q.lo[j]) + q.max_level / float(q.scale[j]):.6g}"
                    if q.scale[j] > 0
                    else "never"
                ),
            }
            for j in range(net.n_inputs)
        ]
    else:
        features = [
            {
                "index": j,
                "name": comment_text(names[j]) if names else "-",
                "levels": f"0..{len(t)}",
                "first": f"{float(t[0]):.9g}" if len(t) else "-",
                "last": f"{float(t[-1]):.9g}" if len(t) else "-",
            }
            for j, t in enumerate(q.thresholds)
        ]
    size = plan_size_report(plan)
    return {
        "small_code": small_code,
        "weights_as_code_default": weights_as_code,
        # a single network's only: an ensemble's members keep their kernels, like the table
        "weights_as_code": (_code_form_context(plan, positive_keys) if with_predict_table
                            else None),
        # rows whose levels start at positive floats: a cheaper key (NAME_quantize1_positive)
        "positive_key_rows": bool(positive_keys.any()),
        "base_span": BASE_SPAN,
        "avr_inline_layers_max_weights": AVR_INLINE_LAYERS_MAX_WEIGHTS,
        "member": False,  # True: the body of an ensemble member (ensemble_context)
        # NAME_predict puts each float input's level straight into the first layer's input
        # (no xq array, no clamp); an ensemble quantizes once into xq for all its members
        "fused_float_input": True,
        "ensemble": None,  # the vote of an ensemble (ensemble_context)
        "name": name,
        "NAME": name.upper(),
        "version": bdnn.__version__,
        "n_inputs": net.n_inputs,
        "n_classes": net.n_classes,
        "n_outputs": net.output_layer.n_out,
        "hidden_widths": list(net.hidden_widths),
        "n_hidden_units": int(sum(net.hidden_widths)),
        "input_bits": int(q.bits),
        "max_level": q.max_level,
        # the DSP ternary kernel's table: byte i of entry sum_i 3^i d_i is 0, L, 2 L + 1 for
        # d_i = 0, 1, 2 (weight 0, +1, -1), and the mask of the bits above L in every byte
        "ternary_masks": [f"0x{v:08X}ul" for v in ternary_masks(q.max_level)],
        "above_top_mask": f"0x{(0xFF ^ q.max_level) * 0x01010101:08X}ul",
        "word_bits": word_bits,
        "word_type": WORD_TYPES[word_bits],
        "scratch_words": in_offset,
        "popcount_widths": sorted(pop_widths),
        "scratch_bytes": plan.scratch_bytes,
        "activation": net.activation.name,
        "output": net.output.name,
        "one_unit_output": net.output.one_unit,
        "class_labels": [comment_text(c) for c in net.classes],
        "class_strings": [c_string_literal(c) for c in net.classes],
        "feature_names": names,
        "features": features,
        "name_width": max([4, *(len(f["name"]) for f in features)]),
        "provenance": provenance_lines(net.training),
        "size": size,
        "size_forms": form_lines(size["total"]),
        "n_weights": net.n_weights(),
        "layers": layers,
        # only the affine quantizer has a float-arithmetic form (BDNN_FLOAT_QUANTIZER 1); it
        # stores one lo/scale per row of level keys: inputs with the same keys quantize alike
        "quantizer_affine": bool(q.affine),
        "quantizer_lo": [float_literal(q.lo[j]) for j in key_inputs] if q.affine else [],
        "quantizer_scale": [float_literal(q.scale[j]) for j in key_inputs] if q.affine else [],
        "quantizer_lo_scale_bytes": quantizer_bytes(q, float_arithmetic=True) if q.affine else 0,
        # the pow2 quantizer's integer form (BDNN_POW2_QUANTIZER 1): shift and offset per row
        "quantizer_pow2": bool(q.pow2_steps),
        # stored as the biased float exponent 149 - shift (49..249: a uint8), see pow2_level
        "quantizer_exponent": ([str(149 - int(q.shift[j])) for j in key_inputs]
                               if q.pow2_steps else []),
        "quantizer_offset": [str(int(q.offset[j])) for j in key_inputs] if q.pow2_steps else [],
        # the FPU form's shared bias (pow2_levels): the smallest offset K, as 0.5 - K and as
        # four bytes K
        "quantizer_offset_min": _pow2_offset_min(q, key_inputs),
        # the pow2 FPU form's group kernel with one offset word per group (distinct rows,
        # int8 offsets): unrolled over the groups, the rounding mode set once
        "pow2_group_offsets": bool(q.pow2_steps and key_index is None
                                   and pow2_offset_bytes(q) == 1),
        "quantizer_pow2_bytes": (quantizer_bytes(q, False, pow2_steps=True) if q.pow2_steps
                                 else 0),
        # the narrowest offset type that holds every offset
        "quantizer_offset_bits": 8 * pow2_offset_bytes(q) if q.pow2_steps else 16,
        "quantizer_row": (
            "j" if key_index is None
            else "0u" if len(key_table) == 1
            else "BDNN_READ_U8(&q_row[j])"
        ),
        "level_keys": [key_literal(v) for v in key_table.reshape(-1)],
        "level_key_rows": len(key_table),
        "level_row_index": None if key_index is None else [int(v) for v in key_index],
        "quantizer_key_bytes": quantizer_bytes(q, float_arithmetic=False),
        "level_search": level_search(q.max_level, word_bits),
        "raw_input": _raw_input_context(net),
        "search_steps": [1 << b for b in reversed(range(int(q.bits)))],
        "predict_table": _predict_table_context(plan.predict_table, q.bits),
    }


def _code_form_context(plan, positive_keys: np.ndarray) -> dict:
    """The weights-as-code form of the C (``BDNN_WEIGHTS_AS_CODE``,
    :mod:`codegen.weights_as_code`): each unit's sum as statements, and the inputs read with
    whether each may take the unfolded key (``positive_keys``, ``positive_key_inputs``)."""
    F = code_form(plan)
    layers = []
    for i, L in enumerate(F.layers):
        units = [{"constant": u.constant,
                  "statements": unit_statements(
                      u, f"in{i}_", 0 if L.is_output and L.score_scale != 1 else u.constant)}
                 for u in L.units]
        layers.append({"index": i, "is_output": L.is_output, "score_scale": L.score_scale,
                       "bases": L.bases, "units": units,
                       "n_terms": sum(len(u.terms) for u in L.units)})
    return {"inputs_read": list(F.inputs_read), "layers": layers, "n_terms": F.n_terms,
            "positive": [bool(positive_keys[j]) for j in F.inputs_read],
            "sum_t": "int_fast16_t" if F.sum_bits == 16 else "int32_t"}


def _predict_table_context(table: PredictTable | None, bits: int) -> dict | None:
    """The predict table of the C (``NAME_predict_table``), or None."""
    if table is None:
        return None
    e = table.entry_bits
    return {
        "entries": table.n_entries,
        "entry_bits": e,
        "bytes": table.n_bytes,
        "stream": [byte_literal(v) for v in table.stream],
        "index_bits": table.index_bits,
        # entry k: byte k >> byte_shift, from bit (k & slot_mask) << entry_shift (1, 2, 4 bits)
        "byte_shift": (8 // e).bit_length() - 1,
        "slot_mask": 8 // e - 1,
        "entry_shift": e.bit_length() - 1,
        "entry_mask": (1 << e) - 1,
        # each input read, j: its level goes to bits shift .. shift + bits - 1 of the index
        "inputs": [{"j": j, "shift": i * bits} for i, j in enumerate(table.inputs_read)],
        "inputs_read": ", ".join(map(str, table.inputs_read)),
    }


def _raw_input_context(net: Network | Ensemble) -> dict | None:
    """The integer raw-input API of the C (``NAME_predict_i16`` / ``_i32``), or None."""
    raw = raw_input_of(net)
    if raw is None:
        return None
    T, top, index = int_threshold_rows(net.quantizer, raw)
    bits = raw.bits
    return {
        "c_type": raw.c_type,
        "suffix": raw.suffix,
        "read": f"BDNN_READ_I{bits}",
        "lo": raw.lo,
        "hi": raw.hi,
        "thresholds": [int_literal(v, bits) for v in T.reshape(-1)],
        "top": [str(int(v)) for v in top],
        "rows": len(T),
        # input j's row: its own, the only one, or by the index (as the float path's rows)
        "row_index": None if index is None or len(T) == 1 else [str(int(v)) for v in index],
        "row": "j" if index is None else "0u" if len(T) == 1 else None,
    }


def member_name(name: str, k: int) -> str:
    """The C prefix of member ``k`` of ensemble ``name`` (its functions are static)."""
    return f"{name}_m{k}"


def ensemble_context(ens: Ensemble, name: str, word_bits: int = 32,
                     small_code: bool = False) -> dict:
    """The templates' context of an ensemble: the header's numbers for the whole ensemble
    (scores and hidden bits of the members concatenated), every member's C body (the model
    template with ``member``: static functions, no quantizer) and the vote."""
    name = validate_c_name(name)
    if ens.margin_bound() > INT32_MAX:
        raise BDNNError(f"the ensemble's vote margins can reach {ens.margin_bound()}, beyond "
                        "int32_t; use smaller weights or fewer inputs")
    ctx = template_context(ens.members[0], name, word_bits, with_predict_table=False,
                           small_code=small_code)
    members, score_offset, hidden_offset, scratch = [], 0, 0, 0
    for k, (m, classes) in enumerate(zip(ens.members, ens.member_classes, strict=True)):
        mctx = template_context(m, member_name(name, k), word_bits, with_predict_table=False)
        mctx["member"] = True
        mctx["fused_float_input"] = False
        o = score_offset
        members.append({
            "name": mctx["name"],
            "classes": list(classes),
            "labels": [comment_text(ens.classes[c]) for c in classes],
            "architecture": "-".join(str(v) for v in (m.n_inputs, *m.hidden_widths,
                                                       m.n_outputs)),
            "text": render("model.c.j2", **mctx),
            "score_offset": o,
            "hidden_offset": hidden_offset,
            # the member's decision d (docs/design.md §2) from the concatenated scores
            "decision": (f"scores[{o}]" if m.output.one_unit
                         else f"(int32_t)(scores[{o + 1}] - scores[{o}])"),
            "threshold": decision_threshold(m),
        })
        score_offset += m.n_outputs
        hidden_offset += int(sum(m.hidden_widths))
        scratch = max(scratch, mctx["scratch_bytes"])
    size = ensemble_size_report(ens, word_bits)
    ctx.update({
        "fused_float_input": False,
        "n_classes": ens.n_classes,
        "n_outputs": ens.n_outputs,
        "hidden_widths": list(ens.hidden_widths),
        "n_hidden_units": int(sum(ens.hidden_widths)),
        "scratch_bytes": scratch,
        "class_labels": [comment_text(c) for c in ens.classes],
        "class_strings": [c_string_literal(c) for c in ens.classes],
        "provenance": provenance_lines(ens.training),
        "size": size,
        "size_forms": form_lines(size["total"]),
        "n_weights": ens.n_weights(),
        "feature_names": ens.feature_names(),
        # the members share the quantizer, so one NAME_predict_i16/_i32 serves the ensemble
        "raw_input": _raw_input_context(ens),
        "ensemble": {"kind": ens.kind.name, "pairwise": ens.kind.pairwise,
                     "description": ens.kind.description, "members": members},
    })
    names = ctx["feature_names"]
    for j, f in enumerate(ctx["features"]):
        f["name"] = comment_text(names[j]) if names else "-"
    ctx["name_width"] = max([4, *(len(f["name"]) for f in ctx["features"])])
    return ctx


def render_c(net: Network | Ensemble, name: str, word_bits: int = 32,
             small_code: bool = False, weights_as_code: bool = False) -> dict[str, str]:
    """The generated files ``{name}.h`` and ``{name}.c`` as text (one ``NAME_predict`` for a
    whole ensemble); ``small_code`` / ``weights_as_code``: ``BDNN_SMALL_CODE`` /
    ``BDNN_WEIGHTS_AS_CODE`` defaults to 1 in ``{name}.c`` (a single network's only: an
    ensemble's members keep their kernels, so ``weights_as_code`` is refused for one)."""
    if is_ensemble(net):
        if weights_as_code:
            raise BDNNError("weights as code is made for a single network, not an ensemble; "
                            "export the ensemble without --weights-as-code")
        ctx = ensemble_context(net, name, word_bits, small_code)
        return {
            f"{name}.h": render("model.h.j2", **ctx),
            f"{name}.c": render("ensemble.c.j2", **ctx),
        }
    ctx = template_context(net, name, word_bits, small_code=small_code,
                           weights_as_code=weights_as_code)
    return {
        f"{name}.h": render("model.h.j2", **ctx),
        f"{name}.c": render("model.c.j2", **ctx),
    }


def export_c(
    net: Network, directory: str | os.PathLike, name: str, word_bits: int = 32
) -> list[Path]:
    """Write ``{name}.h`` and ``{name}.c`` into ``directory`` (all or nothing)."""
    d = check_output_dir(directory)
    files = render_c(net, name, word_bits)
    return write_files({d / fname: text for fname, text in files.items()})
