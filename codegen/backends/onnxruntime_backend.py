"""onnxruntime's CPU provider running the exported ONNX graph."""

from __future__ import annotations

import numpy as np

from bdnn.network import ForwardResult, Network

name = "onnxruntime"
description = "exported ONNX graph on onnxruntime (CPUExecutionProvider)"


def available() -> tuple[bool, str]:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False, "onnxruntime is not installed (pip install onnxruntime)"
    return True, ""


def run(net: Network, Q: np.ndarray) -> ForwardResult:
    import onnxruntime as ort

    from ..onnx_export import onnx_bytes

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        onnx_bytes(net, hidden_outputs=True), options, providers=["CPUExecutionProvider"]
    )
    outputs = session.run(None, {"xq": np.ascontiguousarray(Q, dtype=np.uint8)})
    return ForwardResult(
        outputs[0].astype(np.int64), outputs[1].astype(np.int64), [h for h in outputs[2:]]
    )


def run_float(net: Network, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The float-input graph's class and levels (inner tensor ``xq``) of each row of ``X``."""
    import onnxruntime as ort

    from ..onnx_export import float_levels_model

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        float_levels_model(net).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    classes, levels = session.run(["class", "xq"], {"x": np.ascontiguousarray(X, np.float32)})
    return classes.astype(np.int64), levels.astype(np.uint8)
