"""The ONNX export on onnxruntime and onnx.reference against Network.forward_q bit for bit."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
from export_strategies import NetSpec, assert_same, net_specs, test_inputs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx.reference import ReferenceEvaluator

import bdnn
from bdnn.network import ForwardResult, random_network
from bdnn.quantizer import Quantizer
from codegen.backends import onnx_reference, onnxruntime_backend
from codegen.onnx_export import OPSET, build_onnx, export_onnx, onnx_bytes


def _session(data: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _result(outputs) -> ForwardResult:
    return ForwardResult(np.asarray(outputs[0]), np.asarray(outputs[1]), list(outputs[2:]))


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(specs=st.lists(net_specs(), min_size=60, max_size=60), seed=st.integers(0, 2**16))
def test_random_networks_on_onnxruntime_and_reference(specs: list[NetSpec], seed: int) -> None:
    for i, spec in enumerate(specs):
        net = spec.build()
        Q = test_inputs(net, 24, seed + i)
        expected = net.forward_q(Q)
        model = build_onnx(net)
        data = model.SerializeToString()
        assert_same(expected, _result(_session(data).run(None, {"xq": Q})), f"ort {spec}")
        ref = ReferenceEvaluator(model).run(None, {"xq": Q})
        assert_same(expected, _result(ref), f"onnx.reference {spec}")


def test_graph_uses_standard_integer_ops_and_checks() -> None:
    net = random_network(np.random.default_rng(1), 9, [8, 6], 3, activation="sign", bits=8)
    model = build_onnx(net)
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    assert "Gemm" not in ops and ops.count("MatMulInteger") == 3
    assert {n.domain for n in model.graph.node} == {""}
    assert [o.version for o in model.opset_import] == [OPSET] and OPSET >= 17
    types = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    assert types == {"xq": onnx.TensorProto.UINT8}
    outs = {o.name: o.type.tensor_type.elem_type for o in model.graph.output}
    assert outs["class"] == onnx.TensorProto.INT64 and outs["scores"] == onnx.TensorProto.INT32
    assert list(outs) == ["class", "scores", "hidden_bits0", "hidden_bits1"]
    assert outs["hidden_bits0"] == outs["hidden_bits1"] == onnx.TensorProto.UINT8
    lean = build_onnx(net, hidden_outputs=False)
    assert [o.name for o in lean.graph.output] == ["class", "scores"]


def test_metadata() -> None:
    net = random_network(np.random.default_rng(2), 4, [3], 2, output="single", bits=4)
    net.training = {"status": "OPTIMAL", "accuracy": 0.9}
    model = build_onnx(net)
    props = {p.key: p.value for p in model.metadata_props}
    assert model.producer_name == "bdnn" and model.producer_version == bdnn.__version__
    assert props["bdnn_version"] == bdnn.__version__
    assert json.loads(props["quantizer"])["bits"] == 4
    assert props["max_level"] == "15"  # L = 2**4 - 1, the largest quantized input
    assert json.loads(props["training"])["status"] == "OPTIMAL"


def test_wide_weights_fall_back_to_int32_matmul() -> None:
    """uint8 x int8 MatMulInteger may saturate once 2 * 255 * w > 32767: int32 MatMul instead."""
    rng = np.random.default_rng(3)
    net = random_network(rng, 70, [20], 3, weight_bound=[100, 1], bits=8)
    model = build_onnx(net)
    ops = [n.op_type for n in model.graph.node]
    assert ops[:2] == ["Cast", "MatMul"] and "MatMulInteger" in ops
    Q = test_inputs(net, 100, 0)
    Q[2:10] = 255  # the worst case for saturation: every input at its maximum
    expected = net.forward_q(Q)
    assert_same(expected, onnxruntime_backend.run(net, Q), "ort")
    assert_same(expected, onnx_reference.run(net, Q), "reference")
    small = build_onnx(random_network(rng, 70, [20], 3, weight_bound=[64, 1], bits=8))
    assert small.graph.node[0].op_type == "MatMulInteger"  # 2 * 255 * 64 = 32640 <= 32767


def test_float_input_graph_applies_the_quantizer() -> None:
    rng = np.random.default_rng(4)
    net = random_network(rng, 6, [7], 3, bits=5)
    net.quantizer = Quantizer(5, rng.normal(0, 5, 6), np.abs(rng.normal(0, 2, 6)))
    X = rng.normal(0, 10, (300, 6)).astype(np.float32)
    X[:8] = np.array([np.nan, np.inf, -np.inf, 3e38, -3e38, 0.0, -0.0, 1e-40], np.float32)[:, None]
    out = _session(onnx_bytes(net, float_input=True)).run(None, {"x": X})
    assert np.array_equal(out[0], net.predict(X))
    assert np.array_equal(out[1], net.forward(X).scores)


def test_bytes_deterministic_and_written_atomically(tmp_path) -> None:
    net = random_network(np.random.default_rng(5), 12, [9], 4, weight_bound=3, bits=3)
    again = random_network(np.random.default_rng(5), 12, [9], 4, weight_bound=3, bits=3)
    assert onnx_bytes(net) == onnx_bytes(again)
    path = export_onnx(net, tmp_path / "m.onnx")
    assert path.read_bytes() == onnx_bytes(net)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temp file left
