"""The versioned JSON model file (DESIGN §3, documented in docs/model-format.md).

Loading validates everything (format, version, types, shapes, bounds, class count) and turns any
problem into a one-line ``ModelFileError``. Saving is atomic: temp file in the same directory, then
rename, so a crash never leaves half a model.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .atomic_files import write_files
from .errors import BDNNError, ModelFileError
from .network import Layer, Network
from .quantizer import Quantizer

FORMAT = "bdnn"
VERSION = 1


def network_to_dict(net: Network) -> dict[str, Any]:
    """The JSON-ready dictionary of a network."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "n_inputs": net.n_inputs,
        "classes": [_json_scalar(c) for c in net.classes],
        "activation": net.activation.name,
        "output": net.output.name,
        "quantizer": {
            "bits": int(net.quantizer.bits),
            "lo": [float(v) for v in net.quantizer.lo],
            "scale": [float(v) for v in net.quantizer.scale],
        },
        "layers": [
            {
                "weight_bound": int(layer.weight_bound),
                "weights": layer.weights.astype(int).tolist(),
                "bias": layer.bias.astype(int).tolist(),
            }
            for layer in net.layers
        ],
        "training": _jsonable(net.training),
    }


def network_from_dict(doc: Any) -> Network:
    """Build and validate a network from a parsed model document."""
    if not isinstance(doc, dict):
        raise ModelFileError("model file must contain a JSON object")
    if doc.get("format") != FORMAT:
        raise ModelFileError(
            f"not a bdnn model file (\"format\" is {doc.get('format')!r}, expected \"bdnn\")"
        )
    if doc.get("version") != VERSION:
        raise ModelFileError(
            f"unsupported model file version {doc.get('version')!r}; "
            f"this bdnn reads version {VERSION}"
        )
    n_inputs = _int(doc, "n_inputs", minimum=1)
    classes = doc.get("classes")
    if not isinstance(classes, list) or not all(_is_label(c) for c in classes):
        raise ModelFileError('"classes" must be a list of strings or integers')
    q = doc.get("quantizer")
    if not isinstance(q, dict):
        raise ModelFileError('"quantizer" must be an object with "bits", "lo" and "scale"')
    bits = _int(q, "bits", minimum=1, where="quantizer")
    lo = _floats(q, "lo", n_inputs)
    scale = _floats(q, "scale", n_inputs)
    layers_doc = doc.get("layers")
    if not isinstance(layers_doc, list) or len(layers_doc) < 2:
        raise ModelFileError('"layers" must list at least one hidden layer and the output layer')
    layers = []
    for i, ld in enumerate(layers_doc):
        if not isinstance(ld, dict):
            raise ModelFileError(f"layer {i} must be an object")
        wb = _int(ld, "weight_bound", minimum=1, where=f"layer {i}")
        W = _int_matrix(ld.get("weights"), f"layer {i} weights")
        b = _int_vector(ld.get("bias"), f"layer {i} bias")
        try:
            layers.append(Layer(W, b, wb))
        except BDNNError as e:
            raise ModelFileError(f"layer {i}: {e}") from None
    training = doc.get("training", {})
    if not isinstance(training, dict):
        raise ModelFileError('"training" must be an object')
    try:
        quantizer = Quantizer(bits, np.array(lo), np.array(scale))
        return Network(
            quantizer,
            layers,
            classes=list(classes),
            activation=doc.get("activation", "heaviside"),
            output=doc.get("output", "argmax"),
            training=training,
        )
    except ModelFileError:
        raise
    except BDNNError as e:
        raise ModelFileError(f"inconsistent model: {e}") from None


def save_network(net: Network, path: str | os.PathLike) -> None:
    """Write the model file atomically (temp file in the same directory + rename)."""
    atomic_write_text(path, dumps_model(net))


def dumps_model(net: Network) -> str:
    """The model file text: indented JSON with every list of numbers on one line."""
    text = json.dumps(network_to_dict(net), indent=1)
    return _NUMBER_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


_NUMBER_LIST = re.compile(r"\[\s*((?:-?[0-9][0-9.eE+-]*,\s*)*-?[0-9][0-9.eE+-]*)\s*\]")


def load_network(path: str | os.PathLike) -> Network:
    """Read and validate a model file; every problem becomes a one-line ``ModelFileError``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFileError(f"model file {p} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(f"model file {p} is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or e
        raise ModelFileError(f"cannot read model file {p}: {reason}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelFileError(
            f"model file {p} is not valid JSON (line {e.lineno}: {e.msg})"
        ) from None
    try:
        return network_from_dict(doc)
    except ModelFileError as e:
        raise ModelFileError(f"model file {p}: {e}") from None


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file and rename; refuse a missing directory."""
    write_files({Path(path): text})


# -- validation helpers ---------------------------------------------------------------------

def _int(doc: dict, key: str, minimum: int | None = None, where: str = "model") -> int:
    v = doc.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ModelFileError(f'{where}: "{key}" must be an integer')
    if minimum is not None and v < minimum:
        raise ModelFileError(f'{where}: "{key}" must be >= {minimum}, got {v}')
    return v


def _floats(doc: dict, key: str, n: int) -> list[float]:
    v = doc.get(key)
    if not isinstance(v, list) or len(v) != n:
        raise ModelFileError(f'quantizer: "{key}" must be a list of {n} numbers (one per input)')
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ModelFileError(f'quantizer: "{key}" must hold finite numbers')
        out.append(float(x))
    return out


def _int_vector(v: Any, what: str) -> list[int]:
    if not isinstance(v, list) or not all(_is_int(x) for x in v):
        raise ModelFileError(f"{what} must be a list of integers")
    return v


def _int_matrix(v: Any, what: str) -> np.ndarray:
    if not isinstance(v, list) or not v or not all(isinstance(r, list) for r in v):
        raise ModelFileError(f"{what} must be a non-empty list of rows")
    rows = [_int_vector(r, what) for r in v]
    if len({len(r) for r in rows}) != 1 or not rows[0]:
        raise ModelFileError(f"{what} rows must all have the same, non-zero length")
    return np.array(rows, dtype=np.int64)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_label(c: Any) -> bool:
    return isinstance(c, str) or _is_int(c)


def _json_scalar(c: Any) -> Any:
    if isinstance(c, (np.integer,)):
        return int(c)
    if isinstance(c, (int, str)):
        return c
    return str(c)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
