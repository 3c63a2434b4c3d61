"""The versioned JSON model file (docs/design.md §3, documented in docs/model-format.md).

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

from .atomic_files import read_json_file, write_files
from .ensemble import ENSEMBLE_KINDS, Ensemble
from .errors import BDNNError, ModelFileError
from .network import Layer, Network
from .quantizer import MAX_BITS as MAX_INPUT_BITS
from .quantizer import (
    QUANTIZER_FORMS,
    AnyQuantizer,
    Pow2Quantizer,
    Quantizer,
    ThresholdQuantizer,
)

#: The largest weight bound a model file may declare: far above what training produces, low
#: enough that every pre-activation stays well inside int64.
MAX_FILE_WEIGHT_BOUND = 2**31 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Inputs of a model file (far above what training accepts).
MAX_FILE_INPUTS = 1_000_000
#: A model at the training limits (100,000 weights) takes well under a MB of JSON.
MAX_MODEL_FILE_BYTES = 256 * 2**20

FORMAT = "bdnn"
#: The newest version this bdnn reads and writes. A file is written with the oldest version that
#: holds everything in it (``file_version``), so models without a version-2 feature (a threshold
#: quantizer, an ensemble) stay readable by older bdnn, byte for byte as before; the loader reads
#: every version in ``READ_VERSIONS``.
VERSION = 2
READ_VERSIONS = (1, 2)
#: Members of an ensemble file: far above any k(k-1)/2 bdnn trains (45 for 10 classes).
MAX_FILE_MEMBERS = 10_000


def file_version(model: Network | Ensemble) -> int:
    """The version a model is written with: 1 unless it uses a version-2 feature (a threshold
    quantizer, or the top-level ``"ensemble"`` object)."""
    version = max(1, int(model.quantizer.file_version))
    return max(2, version) if isinstance(model, Ensemble) else version


def network_to_dict(net: Network) -> dict[str, Any]:
    """The JSON-ready dictionary of a network (version 1 unless its quantizer needs 2)."""
    return {
        "format": FORMAT,
        "version": file_version(net),
        "n_inputs": net.n_inputs,
        "classes": [_json_scalar(c) for c in net.classes],
        "activation": net.activation.name,
        "output": net.output.name,
        "quantizer": net.quantizer.to_dict(),
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


def _layers_to_list(net: Network) -> list[dict[str, Any]]:
    return network_to_dict(net)["layers"]


def ensemble_to_dict(ens: Ensemble) -> dict[str, Any]:
    """The JSON-ready dictionary of an ensemble (version 2): the shared quantizer, classes,
    activation and output at the top, the members under ``"ensemble"``."""
    doc = network_to_dict(ens.members[0])
    del doc["layers"], doc["training"]  # the record goes last, after the members
    doc.update({
        "version": file_version(ens),
        "classes": [_json_scalar(c) for c in ens.classes],
        "ensemble": {
            "kind": ens.kind.name,
            "members": [
                {"classes": list(classes), "layers": _layers_to_list(m)}
                for classes, m in zip(ens.member_classes, ens.members, strict=True)
            ],
        },
        "training": _jsonable(ens.training),
    })
    return doc


def model_to_dict(model: Network | Ensemble) -> dict[str, Any]:
    """The JSON-ready dictionary of a network or an ensemble."""
    return ensemble_to_dict(model) if isinstance(model, Ensemble) else network_to_dict(model)


def network_from_dict(doc: Any) -> Network:
    """Build and validate a plain network from a parsed model document (refuses an
    ensemble: use :func:`model_from_dict`)."""
    model = model_from_dict(doc)
    if isinstance(model, Ensemble):
        raise ModelFileError(f"this is a {model.kind.name} ensemble of {len(model.members)} "
                             "networks, not a single network")
    return model


def model_from_dict(doc: Any) -> Network | Ensemble:
    """Build and validate a network or an ensemble (version 2, ``"ensemble"``) from a parsed
    model document."""
    if not isinstance(doc, dict):
        raise ModelFileError("model file must contain a JSON object")
    if doc.get("format") != FORMAT:
        raise ModelFileError(
            f"not a bdnn model file (\"format\" is {doc.get('format')!r}, expected \"bdnn\")"
        )
    version = doc.get("version")
    if isinstance(version, bool) or version not in READ_VERSIONS:
        raise ModelFileError(
            f"unsupported model file version {version!r}; this bdnn reads versions "
            f"{', '.join(str(v) for v in READ_VERSIONS)}"
        )
    if "ensemble" in doc:
        if version < 2:
            raise ModelFileError('"ensemble" needs model file version 2')
        return _ensemble_from_dict(doc)
    n_inputs = _int(doc, "n_inputs", minimum=1, maximum=MAX_FILE_INPUTS)
    classes = doc.get("classes")
    if not isinstance(classes, list) or not all(_is_label(c) for c in classes):
        raise ModelFileError('"classes" must be a list of strings or integers')
    quantizer = quantizer_from_doc(doc.get("quantizer"), n_inputs, version)
    layers = _layers_from_list(doc.get("layers"), quantizer.bits, "")
    training = doc.get("training", {})
    if not isinstance(training, dict):
        raise ModelFileError('"training" must be an object')
    try:
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


def _layers_from_list(layers_doc: Any, bits: int, where: str) -> list[Layer]:
    """The validated layers of a ``"layers"`` list (``where`` prefixes the messages)."""
    if not isinstance(layers_doc, list) or len(layers_doc) < 2:
        raise ModelFileError(f'{where}"layers" must list at least one hidden layer and the '
                             "output layer")
    layers = []
    largest_input = (1 << bits) - 1  # layer 0 reads quantized levels, later layers bits
    for i, ld in enumerate(layers_doc):
        if not isinstance(ld, dict):
            raise ModelFileError(f"{where}layer {i} must be an object")
        wb = _int(ld, "weight_bound", minimum=1, maximum=MAX_FILE_WEIGHT_BOUND,
                  where=f"{where}layer {i}")
        rows = _int_rows(ld.get("weights"), f"{where}layer {i} weights")
        b = _int_vector(ld.get("bias"), f"{where}layer {i} bias")
        # Bounds checked on Python integers, before any int64 cast can wrap around (-2**63).
        for row in rows:
            for w in row:
                if abs(w) > wb:
                    raise ModelFileError(f"{where}layer {i}: a weight of {_short(w)} exceeds the "
                                         f"layer's weight bound {wb}")
        bias_bound = wb * len(rows[0]) * (largest_input if i == 0 else 1) + 1
        for v in b:
            if abs(v) > bias_bound:
                raise ModelFileError(f"{where}layer {i}: a bias of {_short(v)} is beyond the "
                                     f"layer's bias bound {bias_bound}")
        W = np.array(rows, dtype=np.int64)
        try:
            layers.append(Layer(W, b, wb))
        except BDNNError as e:
            raise ModelFileError(f"{where}layer {i}: {e}") from None
    return layers


def _ensemble_from_dict(doc: dict) -> Ensemble:
    """An ensemble document: each member is checked as a plain two-class network with the
    shared quantizer, activation and output, then the members against the kind."""
    ens = doc["ensemble"]
    if not isinstance(ens, dict):
        raise ModelFileError('"ensemble" must be an object with "kind" and "members"')
    kind = ens.get("kind")
    if kind not in ENSEMBLE_KINDS:
        raise ModelFileError(f'ensemble: "kind" must be one of {", ".join(ENSEMBLE_KINDS)}, '
                             f"got {kind!r}")
    members_doc = ens.get("members")
    if not isinstance(members_doc, list) or not members_doc:
        raise ModelFileError('ensemble: "members" must be a non-empty list')
    if len(members_doc) > MAX_FILE_MEMBERS:
        raise ModelFileError(f"ensemble: {len(members_doc)} members, more than any bdnn "
                             f"ensemble ({MAX_FILE_MEMBERS})")
    classes = doc.get("classes")
    if not isinstance(classes, list):
        raise ModelFileError('"classes" must be a list of strings or integers')
    member_classes, members = [], []
    for k, md in enumerate(members_doc):
        if not isinstance(md, dict):
            raise ModelFileError(f"ensemble member {k} must be an object")
        mc = md.get("classes")
        if (not isinstance(mc, list) or not mc or len(mc) > 2
                or not all(_is_int(c) and 0 <= c < len(classes) for c in mc)):
            raise ModelFileError(f'ensemble member {k}: "classes" must list 1 or 2 class '
                                 f"indices in 0..{len(classes) - 1}")
        member_doc = {key: v for key, v in doc.items() if key not in ("ensemble", "training")}
        # the file's own version: its shared quantizer may be a version-2 form
        member_doc.update({"classes": [0, 1], "layers": md.get("layers")})
        try:
            members.append(network_from_dict(member_doc))
        except ModelFileError as e:
            raise ModelFileError(f"ensemble member {k}: {e}") from None
        member_classes.append(tuple(mc))
    training = doc.get("training", {})
    if not isinstance(training, dict):
        raise ModelFileError('"training" must be an object')
    try:
        return Ensemble(kind, members, member_classes, classes=list(classes), training=training)
    except BDNNError as e:
        raise ModelFileError(f"inconsistent ensemble: {e}") from None


def quantizer_from_doc(q: Any, n_inputs: int, version: int) -> AnyQuantizer:
    """The model file's ``"quantizer"`` object, validated: version 1 holds the affine form
    (``bits``, ``lo``, ``scale``); version 2 adds ``"kind"``: ``"affine"`` (the default) or
    ``"thresholds"`` (``bits``, ``thresholds``: one strictly increasing list of at most
    ``2^bits - 1`` finite float32 numbers per input) or ``"pow2"`` (``bits``, ``shift``,
    ``offset``: one integer each per input, ``|shift| <= 100``, offset in int16)."""
    if not isinstance(q, dict):
        raise ModelFileError('"quantizer" must be an object with "bits", "lo" and "scale"')
    kind = q.get("kind", "affine") if version >= 2 else "affine"
    if version < 2 and "kind" in q:
        raise ModelFileError('quantizer: "kind" needs model file version 2')
    form = QUANTIZER_FORMS.get(kind) if isinstance(kind, str) else None
    if form is None:
        raise ModelFileError(f'quantizer: "kind" must be one of '
                             f'{", ".join(map(repr, QUANTIZER_FORMS))}, got {kind!r}')
    bits = _int(q, "bits", minimum=1, maximum=MAX_INPUT_BITS, where="quantizer")
    try:
        if form is Pow2Quantizer:
            return Pow2Quantizer(bits, np.array(_int_vector_n(q, "shift", n_inputs), np.int64),
                                 np.array(_int_vector_n(q, "offset", n_inputs), np.int64))
        if form is ThresholdQuantizer:
            return ThresholdQuantizer(bits, tuple(
                np.array(t, np.float64) for t in _float_rows(q, "thresholds", n_inputs)))
        return Quantizer(bits, np.array(_floats(q, "lo", n_inputs)),
                         np.array(_floats(q, "scale", n_inputs)))
    except ModelFileError:
        raise
    except BDNNError as e:
        raise ModelFileError(f"quantizer: {e}") from None


def _int_vector_n(q: dict, key: str, n: int) -> list[int]:
    """``q[key]``: ``n`` integers of a moderate size (one per input)."""
    v = q.get(key)
    if (not isinstance(v, list) or len(v) != n
            or not all(_is_int(x) and abs(x) < 2**31 for x in v)):
        raise ModelFileError(f'quantizer: "{key}" must be a list of {n} integers '
                             "(one per input)")
    return v


def _float_rows(q: dict, key: str, n: int) -> list[list[float]]:
    """``q[key]``: ``n`` lists of finite float32 numbers (one list per input)."""
    rows = q.get(key)
    if not isinstance(rows, list) or len(rows) != n or not all(isinstance(r, list) for r in rows):
        raise ModelFileError(f'quantizer: "{key}" must be a list of {n} lists of numbers '
                             "(one per input)")
    return [_floats({key: r}, key, len(r)) for r in rows]


def save_network(net: Network | Ensemble, path: str | os.PathLike) -> None:
    """Write the model file (a network or an ensemble) atomically (temp file in the same
    directory + rename)."""
    atomic_write_text(path, dumps_model(net))


def dumps_model(net: Network | Ensemble) -> str:
    """The model file text: indented JSON with every list of numbers on one line."""
    text = json.dumps(model_to_dict(net), indent=1)
    return _NUMBER_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


_NUMBER_LIST = re.compile(r"\[\s*((?:-?[0-9][0-9.eE+-]*,\s*)*-?[0-9][0-9.eE+-]*)\s*\]")


def load_network(path: str | os.PathLike) -> Network:
    """Read and validate a model file of one network; every problem (an ensemble file
    included) becomes a one-line ``ModelFileError``."""
    model = load_model(path)
    if isinstance(model, Ensemble):
        raise ModelFileError(f"model file {path} holds a {model.kind.name} ensemble, not a "
                             "single network")
    return model


def load_model(path: str | os.PathLike) -> Network | Ensemble:
    """Read and validate a model file (a network or an ensemble); every problem becomes a
    one-line ``ModelFileError``."""
    p = Path(path)
    doc = read_json_file(p, "model file", MAX_MODEL_FILE_BYTES, ModelFileError)
    try:
        return model_from_dict(doc)
    except ModelFileError as e:
        raise ModelFileError(f"model file {p}: {e}") from None


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file and rename; refuse a missing directory."""
    write_files({Path(path): text})


# -- validation helpers ---------------------------------------------------------------------

def _short(v: int) -> str:
    """An integer for a message: in full, or its size when it is absurdly long."""
    text = str(v)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} digits)"


def _int(doc: dict, key: str, minimum: int | None = None, maximum: int | None = None,
         where: str = "model") -> int:
    v = doc.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ModelFileError(f'{where}: "{key}" must be an integer')
    if minimum is not None and v < minimum:
        raise ModelFileError(f'{where}: "{key}" must be >= {minimum}, got {_short(v)}')
    if maximum is not None and v > maximum:
        raise ModelFileError(f'{where}: "{key}" must be <= {maximum}, got {_short(v)}')
    return v


def _floats(doc: dict, key: str, n: int) -> list[float]:
    v = doc.get(key)
    if not isinstance(v, list) or len(v) != n:
        raise ModelFileError(f'quantizer: "{key}" must be a list of {n} numbers (one per input)')
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise ModelFileError(f'quantizer: "{key}" must hold finite numbers')
        try:
            fx = float(x)
        except OverflowError:
            fx = math.inf
        if not math.isfinite(fx) or abs(fx) > FLOAT32_MAX:
            shown = _short(x) if isinstance(x, int) else x
            raise ModelFileError(f'quantizer: "{key}" must hold finite float32 numbers '
                                 f"(|x| <= {FLOAT32_MAX:.7g}), got {shown}")
        out.append(fx)
    return out


def _int_vector(v: Any, what: str) -> list[int]:
    if not isinstance(v, list) or not all(_is_int(x) for x in v):
        raise ModelFileError(f"{what} must be a list of integers")
    return v


def _int_rows(v: Any, what: str) -> list[list[int]]:
    if not isinstance(v, list) or not v or not all(isinstance(r, list) for r in v):
        raise ModelFileError(f"{what} must be a non-empty list of rows")
    rows = [_int_vector(r, what) for r in v]
    if len({len(r) for r in rows}) != 1 or not rows[0]:
        raise ModelFileError(f"{what} rows must all have the same, non-zero length")
    return rows


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
