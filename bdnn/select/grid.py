"""The selection grid: axes that map 1:1 onto ``bdnn train``'s options (docs/design.md §10).

A *configuration* is a dict ``{axis name: value}`` holding every axis of :data:`GRID_AXES`.
Each axis says which training stage takes it (``quantizer``: ``fit_quantizer``, ``problem``:
``TrainProblem.build``, ``method``: ``train_network``) and under which keyword, so a training
option added to ``bdnn train`` becomes a grid axis by adding one :class:`GridAxis` entry here;
nothing else in ``bdnn select`` names an option.

A grid file is JSON: an object ``{axis: value or [values]}`` (the cartesian product of the
lists) or a list of such objects (the union of their products). Axes left out take
:data:`GRID_AXES`' defaults, which are ``bdnn train``'s defaults. ``hidden`` values are
written as on the command line: ``4`` or ``"8,4"`` (a list of them lists alternatives).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..activation import ACTIVATIONS
from ..ensemble import ENSEMBLE_KINDS, get_ensemble_kind
from ..errors import BDNNError
from ..objective import OBJECTIVES
from ..output_kind import OUTPUT_KINDS, get_output_kind
from ..quantizer import QUANTIZER_KINDS
from ..train.float_start import FLOAT_ALPHA
from ..train.limits import MAX_INPUT_BITS, MAX_INPUTS, MAX_WEIGHT_BOUND
from ..train.methods import METHODS
from ..train.problem import valid_float_alpha

STAGES = ("quantizer", "problem", "method", "ensemble")


@dataclass(frozen=True)
class GridAxis:
    """One option of ``bdnn train`` as a grid axis."""

    name: str  # the key in grid files, configurations and results (= the train option name)
    stage: str  # which call takes it: one of STAGES
    keyword: str  # the keyword argument of that call
    parse: Callable[[Any], Any]  # one JSON value -> the canonical value; raises ValueError
    default: Any  # bdnn train's default
    help: str = ""

    def value(self, raw: Any) -> Any:
        """The canonical value of ``raw``, or ``BDNNError`` naming the axis."""
        try:
            return self.parse(raw)
        except (ValueError, TypeError) as e:
            raise BDNNError(f"grid axis {self.name!r}: {e}") from None


def _shown(v: Any) -> str:
    """``v`` as the grid file spells it (JSON), else its repr."""
    try:
        return json.dumps(v)
    except (TypeError, ValueError):
        return repr(v)


def _hidden(v: Any) -> str:
    """``4``, ``"8,4"`` -> the command line form ``"8,4"``."""
    if isinstance(v, bool):
        raise ValueError(f"{_shown(v)} is not a layer width list like 4 or \"8,4\"")
    if isinstance(v, int):
        widths = [v]
    elif isinstance(v, str):
        try:
            widths = [int(w) for w in v.split(",")]
        except ValueError:
            raise ValueError(f"{_shown(v)} is not a layer width list like 4 or \"8,4\"") from None
    else:
        raise ValueError(f"{_shown(v)} is not a layer width list like 4 or \"8,4\"")
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"every layer width must be >= 1, got {_shown(v)}")
    return ",".join(str(w) for w in widths)


def _int_in(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"{_shown(v)} is not a whole number in {lo}..{hi}")
        return int(v)
    return parse


def _choice(names: Iterable[str]) -> Callable[[Any], str]:
    allowed = list(names)

    def parse(v: Any) -> str:
        if v not in allowed:
            raise ValueError(f"{_shown(v)} is not one of: {', '.join(allowed)}")
        return str(v)
    return parse


def _float_alpha(v: Any) -> float:
    if not valid_float_alpha(v):
        raise ValueError(f"{_shown(v)} is not a number >= 0")
    return float(v)


def _flag(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{_shown(v)} is not true or false")
    return v


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``parse``, with ``null`` (the option left out) allowed."""
    return lambda v: None if v is None else parse(v)


#: Every axis, in the order configurations are printed. To make a new ``bdnn train`` option
#: an axis, add one entry (as ``quantizer``: ``--quantizer`` is ``Quantizer`` fitting's
#: ``kind``).
GRID_AXES: dict[str, GridAxis] = {a.name: a for a in (
    GridAxis("hidden", "problem", "hidden", _hidden, "4", "hidden layer widths"),
    GridAxis("weight_bound", "problem", "weight_bound", _int_in(1, MAX_WEIGHT_BOUND), 1),
    GridAxis("input_bits", "quantizer", "bits", _int_in(1, MAX_INPUT_BITS), 4),
    GridAxis("quantizer", "quantizer", "kind", _choice(QUANTIZER_KINDS), "uniform",
             "how raw features become levels (bdnn train --quantizer)"),
    GridAxis("activation", "problem", "activation", _choice(ACTIVATIONS), "heaviside"),
    GridAxis("output", "problem", "output", _choice(OUTPUT_KINDS), "argmax"),
    GridAxis("objective", "problem", "objective", _choice(OBJECTIVES), "errors"),
    GridAxis("margin", "problem", "margin", _optional(_int_in(0, MAX_WEIGHT_BOUND)), None,
             "the margin objective's margin (bdnn train --margin; null: its default)"),
    GridAxis("method", "method", "method", _choice(METHODS), "auto"),
    GridAxis("float_alpha", "problem", "float_alpha", _float_alpha, FLOAT_ALPHA,
             "L2 penalty of the float MLP that is rounded (bdnn train --float-alpha)"),
    GridAxis("sparsify", "method", "sparsify", _flag, False),
    GridAxis("lexicographic", "method", "lexicographic", _flag, False,
             "exact: the loss, then the smallest margin (bdnn train --lexicographic)"),
    GridAxis("max_inputs", "method", "max_inputs", _optional(_int_in(1, MAX_INPUTS)), None,
             "read at most this many inputs (bdnn train --max-inputs; null: all)"),
    GridAxis("ensemble", "ensemble", "kind", _optional(_choice(ENSEMBLE_KINDS)), None,
             "a structured ensemble of two-class members (bdnn train --ensemble; null: one "
             "network)"),
)}
#: Axes added after results files existed: left out of a training's resume key while at their
#: default, so an older sweep's results still resume (``select.task.task_key``).
KEY_OMITS_DEFAULT = ("margin", "lexicographic", "ensemble", "max_inputs", "float_alpha")


def hidden_widths(config: dict) -> tuple[int, ...]:
    """The hidden widths of a configuration as integers."""
    return tuple(int(w) for w in str(config["hidden"]).split(","))


def stage_arguments(config: dict) -> dict[str, dict[str, Any]]:
    """``{stage: {keyword: value}}`` for the training calls (hidden as a tuple of ints)."""
    out: dict[str, dict[str, Any]] = {stage: {} for stage in STAGES}
    for name, axis in GRID_AXES.items():
        value = config.get(name, axis.default)
        out[axis.stage][axis.keyword] = hidden_widths(config) if name == "hidden" else value
    return out


def normalised(config: dict) -> dict:
    """``config`` with the axes that do not apply to it at their defaults: ``margin`` belongs
    to the margin objective only, so ``{"objective": ["errors", "margin"], "margin": [1, 2]}``
    is errors once and margin twice."""
    if config["objective"] != "margin":
        config = {**config, "margin": GRID_AXES["margin"].default}
    return config


def compatible(config: dict) -> bool:
    """False for combinations ``bdnn train`` refuses: ``--sparsify`` and ``--lexicographic``
    need method exact (or auto), ``--lexicographic`` the errors or margin objective,
    ``--max-inputs`` one network (no ensemble)."""
    exact = config["method"] in ("exact", "auto")
    if config["sparsify"] and not exact:
        return False
    if config["max_inputs"] is not None and config["ensemble"] is not None:
        return False
    return not (config["lexicographic"]
                and (not exact or config["objective"] not in ("errors", "margin")))


def config_label(config: dict) -> str:
    """A short label: the axes that differ from the defaults (``hidden`` always)."""
    parts = [f"hidden {config['hidden']}"]
    for name, axis in GRID_AXES.items():
        if name != "hidden" and config.get(name, axis.default) != axis.default:
            value = config[name]
            parts.append(name if value is True else f"{name} {value}")
    return ", ".join(parts)


def expand(grid: Any) -> list[dict]:
    """The configurations of a grid (object or list of objects; see the module docstring),
    without duplicates and without combinations ``bdnn train`` would refuse."""
    blocks = grid if isinstance(grid, list) else [grid]
    if not blocks:
        raise BDNNError("the grid is empty; give at least one object like {\"hidden\": [4, 8]}")
    configs: list[dict] = []
    seen: set[str] = set()
    for block in blocks:
        if not isinstance(block, dict):
            raise BDNNError(f"a grid entry must be an object like {{\"hidden\": [4, 8]}}, "
                            f"got {json.dumps(block)[:40]}")
        unknown = sorted(set(block) - set(GRID_AXES))
        if unknown:
            raise BDNNError(f"unknown grid axis {unknown[0]!r}; the axes are: "
                            + ", ".join(GRID_AXES))
        values = []
        for name, axis in GRID_AXES.items():
            raw = block.get(name, axis.default)
            raw = raw if isinstance(raw, list) else [raw]
            if not raw:
                raise BDNNError(f"grid axis {name!r} has an empty list of values")
            values.append([axis.value(v) for v in raw])
        if "margin" in block and "margin" not in values[list(GRID_AXES).index("objective")]:
            raise BDNNError("grid axis 'margin' is the margin objective's; add "
                            "\"objective\": \"margin\" to the same object")
        for combo in itertools.product(*values):
            config = normalised(dict(zip(GRID_AXES, combo, strict=True)))
            key = json.dumps(config, sort_keys=True)
            if compatible(config) and key not in seen:
                seen.add(key)
                configs.append(config)
    if not configs:
        raise BDNNError("the grid has no configuration bdnn train accepts (--sparsify and "
                        "--lexicographic need method exact or auto, --lexicographic the errors "
                        "or margin objective)")
    return configs


def load_grid(path: str | Path) -> list[dict]:
    """The configurations of a grid file; one-line ``BDNNError`` on a bad file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise BDNNError(f"cannot read grid file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise BDNNError(f"grid file {path} is not UTF-8 text") from None
    try:
        grid = json.loads(text)
    except json.JSONDecodeError as e:
        raise BDNNError(f"grid file {path} is not valid JSON: {e.msg} at line {e.lineno}; "
                        "e.g. {\"hidden\": [4, 8], \"input_bits\": [2, 4]}") from None
    return expand(grid)


def estimated_model_bytes(config: dict, n_inputs: int, n_classes: int) -> int:
    """The fewest model data bytes a trained network of the configuration can have (for sizing
    the default grid before training): the bit-planes of every weight, packed, plus a 4-bit
    field per unit's threshold (the narrowest ``codegen.plan`` stores). A configuration above
    a byte budget by this count cannot meet it; one below may still miss it once trained (wider
    thresholds), which the pick checks with the exact size (``codegen.size_report``). An upper
    estimate here dropped configurations that fit: digits' 32 units with 7 weight levels, 962
    B, estimated at 972 under a budget of 964."""
    members = 1
    if config["ensemble"] is not None:  # members of two classes each
        members = len(get_ensemble_kind(config["ensemble"]).member_classes(n_classes))
        n_classes = 2
    n_out = get_output_kind(config["output"]).n_outputs(n_classes)
    sizes = [n_inputs, *hidden_widths(config), n_out]
    planes = max(1, math.ceil(math.log2(2 * config["weight_bound"] + 1)))
    pairs = zip(sizes[:-1], sizes[1:], strict=True)
    return members * sum(math.ceil(a * b * planes / 8) + math.ceil(b / 2) for a, b in pairs)


#: Hidden widths of the default grid, smallest first; cut by the budget and the data's size.
DEFAULT_HIDDEN: Sequence[str] = ("2", "4", "8", "16", "4,4", "8,4")
#: Extra widths for data sets with more than MANY_CLASSES classes: an argmax over 10 classes
#: from 16 hidden bits was the limit on digits (width 32 lifted select's pick from 0.897 to
#: 0.924, seeds 0-4, 10 s trainings; width 64 lifted it on one seed of five, 0.915 to 0.942;
#: docs/benchmarks.md §11).
MANY_CLASSES = 4
DEFAULT_HIDDEN_MANY_CLASSES: Sequence[str] = ("32", "64")
#: Also above MANY_CLASSES classes: 7 weight levels (``weight_bound`` 3) at the wider widths,
#: uniform 4-bit inputs; on digits picked on 4 of 5 seeds, mean 0.926 -> 0.932 (§11).
DEFAULT_MANY_CLASSES_LEVELS: dict[str, Any] = {"hidden": ["16", "32"], "weight_bound": 3,
                                               "quantizer": "uniform", "input_bits": 4}
#: Input resolutions of the default grid, as (quantizer kind, input bits) pairs. Fitted cut
#: points beat min-max levels at 2 bits on most sets (docs/benchmarks.md §9: iris, wine,
#: breast-cancer, uniform-10, uniform-100), so 2 bits come fitted (quantile) and the fitted
#: kind is tried once more at 4 bits (supervised); uniform 4 bits stays for sets whose levels
#: fitted kinds merge badly (digits). Three resolutions x six widths keep the default bcw
#: sweep near 90 s of trainings on 2 cores (docs/select.md "The grid").
DEFAULT_INPUTS: Sequence[tuple[str, int]] = (("uniform", 4), ("quantile", 2), ("supervised", 4))


#: Also in the default grid: the float MLP rounded and kept (``--method rounded``) at the
#: searching widths 2, 4, 8 and wider, with 3 or 7 weight levels and the float start's L2
#: penalty or a thousand times more. The searching methods lower the training loss from the
#: same rounded network and, on wide networks that fit anyway, lose test accuracy doing it
#: (digits 64-128-10: 0.962 rounded, 0.942 after coordinate descent); 7 levels keep more of the
#: float network (digits 64-64-10, penalty 1: 0.964 vs 0.951, seeds 0-2); the narrow ones are
#: what a small byte budget admits (wine, 1/10 of the float MLP's bytes: docs/benchmarks.md
#: §11); the validation part decides (§13). Each takes seconds. Above MANY_CLASSES classes also
#: 128 units. Each also with quantization-aware training on from the rounding (``--method
#: qat``: digits 64-32-10 ternary, 0.928 rounded -> 0.951, a second more).
DEFAULT_ROUNDED: dict[str, Any] = {"hidden": ["2", "4", "8", "16", "32", "64"],
                                   "method": ["rounded", "qat"],
                                   "weight_bound": [1, 3], "float_alpha": [FLOAT_ALPHA, 1.0],
                                   "quantizer": "uniform", "input_bits": 4}
DEFAULT_ROUNDED_MANY_CLASSES: Sequence[str] = ("128",)

#: Added to the default grid under a flash budget (``--max-flash``): narrow networks that read
#: 3-5 inputs at 2 fitted bits (equal-frequency or class-aware cut points), whose C quantizes
#: only those inputs and is a predict table of at most 1,024 entries (docs/export.md): programs
#: the size of a decision tree's (docs/benchmarks.md §11; 2 inputs was the weakest choice on 6 of
#: 7 sets there). Values of ``max_inputs`` not below the data's inputs are dropped.
DEFAULT_FEW_INPUTS: dict[str, Any] = {"hidden": ["2", "4"], "quantizer": ["quantile", "supervised"],
                                      "input_bits": 2, "max_inputs": [3, 4, 5]}


def default_grid(n_inputs: int, n_classes: int, n_train: int,
                 max_bytes: int | None = None, few_inputs: bool = False) -> list[dict]:
    """The grid ``bdnn select`` runs without ``--grid``: one- and two-layer widths (and widths
    32 and 64 with more than :data:`MANY_CLASSES` classes) times the input resolutions of
    :data:`DEFAULT_INPUTS`, method auto, every other axis at ``bdnn train``'s default, and with
    more than :data:`MANY_CLASSES` classes :data:`DEFAULT_MANY_CLASSES_LEVELS`; the rounded
    float MLPs of :data:`DEFAULT_ROUNDED`; with ``few_inputs`` (a flash budget) also
    :data:`DEFAULT_FEW_INPUTS`.

    Widths at least as large as the training rows are dropped (they can memorise), and so are
    configurations whose fewest possible model bytes (:func:`estimated_model_bytes`, a lower
    bound) exceed ``max_bytes`` (the tightest byte budget given); at least the smallest
    configuration is always kept.
    """
    widths = [*DEFAULT_HIDDEN, *(DEFAULT_HIDDEN_MANY_CLASSES if n_classes > MANY_CLASSES else ())]
    hidden = [h for h in widths if max(int(w) for w in h.split(",")) < max(4, n_train)]
    configs = expand([{"hidden": hidden, "quantizer": kind, "input_bits": bits}
                      for kind, bits in DEFAULT_INPUTS])
    if n_classes > MANY_CLASSES:
        configs += [c for c in expand(DEFAULT_MANY_CLASSES_LEVELS) if c["hidden"] in hidden]
    rounded = [*DEFAULT_ROUNDED["hidden"],
               *(DEFAULT_ROUNDED_MANY_CLASSES if n_classes > MANY_CLASSES else ())]
    widths += [w for w in rounded if w not in widths]
    configs += [c for c in expand({**DEFAULT_ROUNDED, "hidden": rounded})
                if int(c["hidden"]) < max(4, n_train)]
    configs.sort(key=lambda c: widths.index(c["hidden"]))  # the widths' order, smallest first
    few = [k for k in DEFAULT_FEW_INPUTS["max_inputs"] if k < n_inputs]
    if few_inputs and few:
        configs += [c for c in expand({**DEFAULT_FEW_INPUTS, "max_inputs": few})
                    if int(c["hidden"]) < max(4, n_train)]
    if max_bytes is not None:
        fitting = [c for c in configs
                   if estimated_model_bytes(c, n_inputs, n_classes) <= max_bytes]
        configs = fitting or configs[:1]
    return configs
