"""ONNX export: standard operators only, integer input, exact on onnxruntime's CPU provider.

Graph (docs/design.md §5), with the folded thresholds of :mod:`codegen.plan`:

* integer input ``xq``: ``Min(xq, max_level)``, so codes above ``L`` count as ``L`` as in C and
  numpy (left out when ``L`` is 255);
* hidden layer: ``MatMulInteger(uint8 h, int8 W^T) -> int32 -> GreaterOrEqual(threshold) ->
  Cast(uint8)``; sign activation is folded into the thresholds, so every layer reads {0,1} bits;
* output layer: ``MatMulInteger -> [Mul(2)] -> Add(offset) -> ArgMax(axis=1, keepdims=0)``
  (single output unit: ``GreaterOrEqual(0) -> Cast(int64)``).

Traps handled: ``Gemm`` has no integer kernel (not used). ``MatMulInteger`` uint8 x int8 may
saturate on x86 (``vpmaddubsw`` adds pairs of products into int16) when a pair sum can pass
32767, and int8 cannot hold weights beyond 127: such layers use ``Cast(int32) -> MatMul``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, checker, helper, numpy_helper

import bdnn
from bdnn.atomic_files import write_files
from bdnn.ensemble import Ensemble, decision_matrix, is_ensemble
from bdnn.network import Network

from .plan import plan_model

OPSET = 17  # every operator used exists unchanged since opset 13; 17 is widely supported
IR_VERSION = 8  # the IR version of opset 17 (onnxruntime >= 1.13 reads it)
INT16_MAX = 32767


def matmul_integer_is_exact(max_input: int, weight_bound: int) -> bool:
    """True if uint8 x int8 ``MatMulInteger`` cannot saturate: int8 weights, pair sums <= 32767."""
    return weight_bound <= 127 and max_input <= 255 and 2 * max_input * weight_bound <= INT16_MAX


def build_onnx(
    net: Network, hidden_outputs: bool = True, float_input: bool = False
) -> onnx.ModelProto:
    """The ONNX model of ``net``: input ``xq`` (uint8 [N, n_inputs]) or, with ``float_input``,
    ``x`` (float32) with the quantizer in front; outputs ``class`` (int64 [N]), ``scores``
    (int32 [N, n_outputs]) and, with ``hidden_outputs``, ``hidden_bits<i>`` (uint8 {0,1}
    [N, width_i]) for every hidden layer ``i``; see ``docs/export.md``.
    """
    nodes: list[onnx.NodeProto] = []
    inits: list[TensorProto] = []
    n_in = net.n_inputs

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: object) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=f"{output}_{op}", **attrs))
        return output

    inputs = []
    if float_input:
        inputs.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n_in]))
        current = _quantizer_nodes(net, const, node)
    else:
        inputs.append(helper.make_tensor_value_info("xq", TensorProto.UINT8, ["N", n_in]))
        current = "xq"
        if net.quantizer.max_level < 255:  # codes above max_level count as max_level
            top = const("xq_top", np.array(net.quantizer.max_level, np.uint8))
            current = node("Min", [current, top], "xq_clamped")

    if is_ensemble(net):
        outputs = _ensemble_nodes(net, current, const, node, hidden_outputs)
    else:
        scores, outputs = _layer_nodes(net, plan_model(net, 32), current, const, node, "",
                                       hidden_outputs)
        if net.output.one_unit:
            flat = node("Squeeze", [scores, const("axis1", np.array([1], np.int64))], "score0")
            on = node("GreaterOrEqual", [flat, const("zero", np.array(0, np.int32))], "positive")
            node("Cast", [on], "class", to=TensorProto.INT64)
        else:
            node("ArgMax", [scores], "class", axis=1, keepdims=0, select_last_index=0)
        outputs[:0] = [
            helper.make_tensor_value_info("class", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("scores", TensorProto.INT32, ["N", net.n_outputs]),
        ]

    graph = helper.make_graph(nodes, "bdnn", inputs, outputs, initializer=inits)
    model = helper.make_model(
        graph,
        producer_name="bdnn",
        producer_version=bdnn.__version__,
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string="Binarized deep neural network exported by bdnn; exact integer arithmetic.",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, _metadata(net))
    checker.check_model(model, full_check=True)
    return model


def _layer_nodes(net: Network, plan, current: str, const, node, prefix: str,
                 hidden_outputs: bool) -> tuple[str, list]:
    """The layers of ``net`` reading tensor ``current``; every tensor name starts with
    ``prefix`` (an ensemble member's ``m<k>_``). Returns the int32 scores tensor
    (``<prefix>scores``) and the hidden-bit outputs."""
    outputs = []
    for layer in plan.layers:
        i = layer.index
        W = net.layers[i].weights.T  # [n_in, n_out]
        max_input = net.input_range(i)[1]  # max_level, or 1 for hidden bits
        if matmul_integer_is_exact(max_input, layer.weight_bound):
            acc = node(
                "MatMulInteger", [current, const(f"{prefix}W{i}", W.astype(np.int8))],
                f"{prefix}acc{i}"
            )
        else:
            wide = node("Cast", [current], f"{prefix}in{i}_int32", to=TensorProto.INT32)
            acc = node("MatMul", [wide, const(f"{prefix}W{i}", W.astype(np.int32))],
                       f"{prefix}acc{i}")
        if not layer.is_output:
            on = node(
                "GreaterOrEqual",
                [acc, const(f"{prefix}threshold{i}", layer.thresholds.astype(np.int32))],
                f"{prefix}on{i}",
            )
            current = node("Cast", [on], f"{prefix}hidden_bits{i}", to=TensorProto.UINT8)
            if hidden_outputs:
                outputs.append(
                    helper.make_tensor_value_info(current, TensorProto.UINT8, ["N", layer.n_out])
                )
            continue
        if layer.score_scale != 1:
            scale = const(f"{prefix}score_scale", np.array(layer.score_scale, np.int32))
            acc = node("Mul", [acc, scale], f"{prefix}acc_scaled")
        scores = node("Add", [acc, const(f"{prefix}offset{i}", layer.offsets.astype(np.int32))],
                      f"{prefix}scores")
    return scores, outputs


def _ensemble_nodes(ens: Ensemble, current: str, const, node, hidden_outputs: bool) -> list:
    """Every member (tensors ``m<k>_...``) on the one input, their scores concatenated into
    ``scores``, and the vote into ``class`` (docs/design.md §2), all in int64:

    * decisions ``d = scores @ D`` (D: -1/+1 per two-score member, 1 per one-score member);
    * ovr: ``ArgMax(d)`` over the members (one per class, in class order);
    * ovo: ``b = (d >= t)``; votes ``= b @ (B - A) + colsum(A)`` and margins ``= (|d| * b) @
      (B - A) + |d| @ A`` with A, B the one-hot first / second class of each member; class
      ``= ArgMax(votes * (margin bound + 1) + margins)`` (lowest index wins ties).
    """
    outputs, member_scores = [], []
    for k, m in enumerate(ens.members):
        scores, hidden = _layer_nodes(m, plan_model(m, 32), current, const, node, f"m{k}_",
                                      hidden_outputs)
        member_scores.append(scores)
        outputs += hidden
    scores = node("Concat", member_scores, "scores", axis=1)
    D = np.zeros((ens.n_outputs, len(ens.members)), np.int64)
    start = 0
    for k, m in enumerate(ens.members):
        D[start:start + m.n_outputs, k] = decision_matrix(m)[:, 0]
        start += m.n_outputs
    wide = node("Cast", [scores], "scores_int64", to=TensorProto.INT64)
    d = node("MatMul", [wide, const("vote_decision", D)], "decisions")
    if not ens.kind.pairwise:
        node("ArgMax", [d], "class", axis=1, keepdims=0, select_last_index=0)
    else:
        A = np.zeros((len(ens.members), ens.n_classes), np.int64)
        B = np.zeros_like(A)
        for k, (a, b) in enumerate(ens.member_classes):
            A[k, a], B[k, b] = 1, 1
        picks = node("GreaterOrEqual", [d, const("vote_threshold", ens.decision_thresholds)],
                     "picks_second")
        picks = node("Cast", [picks], "picks_second_int64", to=TensorProto.INT64)
        switch = const("vote_switch", B - A)
        votes = node("Add", [node("MatMul", [picks, switch], "vote_switched"),
                             const("vote_base", A.sum(axis=0))], "votes")
        size = node("Abs", [d], "decision_size")
        margins = node("Add", [
            node("MatMul", [node("Mul", [size, picks], "picked_size"), switch],
                 "margin_switched"),
            node("MatMul", [size, const("vote_first", A)], "margin_base"),
        ], "margins")
        weight = const("vote_weight", np.array(ens.margin_bound() + 1, np.int64))
        key = node("Add", [node("Mul", [votes, weight], "votes_weighted"), margins],
                   "vote_key")
        node("ArgMax", [key], "class", axis=1, keepdims=0, select_last_index=0)
    return [
        helper.make_tensor_value_info("class", TensorProto.INT64, ["N"]),
        helper.make_tensor_value_info("scores", TensorProto.INT32, ["N", ens.n_outputs]),
        *outputs,
    ]


def _quantizer_nodes(net: Network | Ensemble, const, node) -> str:
    """The quantizer's nodes from ``x`` to ``xq`` (uint8 levels), by the quantizer's form."""
    return _QUANTIZER_NODES[net.quantizer.file_kind](net, const, node)


def _affine_nodes(net: Network | Ensemble, const, node) -> str:
    """q = Cast(Clip(Where(IsNaN(t), 0, t), 0, L)) with t = Floor((x - lo) * scale + 0.5), float32.

    Clip maps +inf to L and -inf to 0; NaN (also from inf * 0) becomes 0, as in bdnn/quantizer.py.
    """
    q = net.quantizer
    d = node("Sub", ["x", const("q_lo", q.lo.astype(np.float32))], "q_shifted")
    t = node("Mul", [d, const("q_scale", q.scale.astype(np.float32))], "q_scaled")
    t = node("Add", [t, const("q_half", np.array(0.5, np.float32))], "q_rounded")
    t = node("Floor", [t], "q_floor")
    nan = node("IsNaN", [t], "q_isnan")
    t = node("Where", [nan, const("q_zero", np.array(0.0, np.float32)), t], "q_nonan")
    top = np.array(float(q.max_level), np.float32)
    t = node("Clip", [t, "q_zero", const("q_top", top)], "q_clipped")
    return node("Cast", [t], "xq", to=TensorProto.UINT8)


def _threshold_nodes(net: Network | Ensemble, const, node) -> str:
    """q = Cast(ReduceSum(Cast(Unsqueeze(x, 2) >= T), axis 2)): the cut points ``<= x``,
    counted. ``T`` is float32 [n_inputs, max_level], missing cut points NaN: ``x >= NaN`` is
    false, as is ``NaN >= t``, so NaN inputs get level 0 and the clamp is automatic."""
    T = net.quantizer.table()
    x3 = node("Unsqueeze", ["x", const("q_axis2", np.array([2], np.int64))], "q_x3")
    ge = node("GreaterOrEqual", [x3, const("q_thresholds", T)], "q_reached")
    ones = node("Cast", [ge], "q_reached_int", to=TensorProto.INT32)
    count = node("ReduceSum", [ones, "q_axis2"], "q_count", keepdims=0)
    return node("Cast", [count], "xq", to=TensorProto.UINT8)


#: the model file's quantizer form -> its ONNX nodes (pow2: its exact float32 cut points; a
#: float ``Mul`` by ``2**shift`` could overflow or round in the subnormal range)
_QUANTIZER_NODES = {"affine": _affine_nodes, "thresholds": _threshold_nodes,
                    "pow2": _threshold_nodes}


def _metadata(net: Network | Ensemble) -> dict[str, str]:
    q = net.quantizer
    extra = {}
    if is_ensemble(net):
        extra["ensemble"] = json.dumps({"kind": net.kind.name,
                                        "members": [list(c) for c in net.member_classes]})
    return {
        "bdnn_version": bdnn.__version__,
        "quantizer": json.dumps(q.to_dict(), sort_keys=True),
        "classes": json.dumps([c if isinstance(c, (int, str)) else str(c) for c in net.classes]),
        "activation": net.activation.name,
        "output": net.output.name,
        "max_level": str(q.max_level),
        "training": json.dumps(net.training or {}, sort_keys=True, default=str),
        **extra,
    }


def float_levels_model(net: Network) -> onnx.ModelProto:
    """The float-input graph with its inner tensor ``xq`` (the quantizer's levels) as a second
    output after ``class``: what the verify backends compare on float rows."""
    model = build_onnx(net, hidden_outputs=False, float_input=True)
    outputs = list(model.graph.output)
    del model.graph.output[:]
    model.graph.output.extend(
        [outputs[0], helper.make_tensor_value_info("xq", TensorProto.UINT8, ["N", net.n_inputs])]
    )
    return model


def onnx_bytes(net: Network, hidden_outputs: bool = True, float_input: bool = False) -> bytes:
    """The serialized model (deterministic for identical networks)."""
    return build_onnx(net, hidden_outputs, float_input).SerializeToString(deterministic=True)


def export_onnx(
    net: Network,
    path: str | os.PathLike,
    hidden_outputs: bool = True,
    float_input: bool = False,
) -> Path:
    """Write the ONNX model to ``path`` (temp file + rename)."""
    data = onnx_bytes(net, hidden_outputs, float_input)
    return write_files({Path(path): data})[0]
