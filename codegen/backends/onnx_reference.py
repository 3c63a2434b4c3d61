"""``onnx.reference.ReferenceEvaluator``: a second, independent evaluator of the ONNX graph."""

from __future__ import annotations

import numpy as np

from bdnn.network import ForwardResult, Network

name = "onnx-reference"
description = "exported ONNX graph on onnx.reference.ReferenceEvaluator"


def available() -> tuple[bool, str]:
    try:
        from onnx.reference import ReferenceEvaluator  # noqa: F401
    except ImportError:
        return False, "onnx with onnx.reference is not installed (pip install onnx)"
    return True, ""


def run(net: Network, Q: np.ndarray) -> ForwardResult:
    from onnx.reference import ReferenceEvaluator

    from ..onnx_export import build_onnx

    evaluator = ReferenceEvaluator(build_onnx(net, hidden_outputs=True))
    outputs = evaluator.run(None, {"xq": np.ascontiguousarray(Q, dtype=np.uint8)})
    return ForwardResult(
        np.asarray(outputs[0]).astype(np.int64),
        np.asarray(outputs[1]).astype(np.int64),
        [np.asarray(h, dtype=np.uint8) for h in outputs[2:]],
    )


def run_float(net: Network, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The float-input graph's class and levels (inner tensor ``xq``) of each row of ``X``."""
    from onnx.reference import ReferenceEvaluator

    from ..onnx_export import float_levels_model

    evaluator = ReferenceEvaluator(float_levels_model(net))
    with np.errstate(over="ignore", invalid="ignore"):  # inf * 0 and overflow are intended
        classes, levels = evaluator.run(["class", "xq"], {"x": np.ascontiguousarray(X, np.float32)})
    return np.asarray(classes).astype(np.int64), np.asarray(levels).astype(np.uint8)
