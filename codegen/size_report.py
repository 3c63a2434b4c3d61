"""Bytes per layer of the exported C tables vs the information-theoretic minimum (``bdnn size``).

The minimum counts the weights only: ``n_weights * log2(2w + 1)`` bits per layer (each weight is
one of ``2w + 1`` values). The exported tables hold the bit-planes (``ceil(log2(2w + 1))`` bits per
weight, in rows of ``n_in`` bits across units, whole nibbles in a subset-sum first layer; the
layer's last byte padded) plus one threshold or score offset per unit as a signed nibble (two a
byte), int8, int16 or int32, exactly the arrays the C declares; and the forms some targets
compile instead (:data:`TARGET_FORMS`).

A network that reads few input bits also has a predict table (``codegen.predict_table``), which
``NAME_predict`` and ``NAME_predict_q`` read instead of the layers' tables: reported on its own
(``predict_table``), outside the per-layer rows and the totals, which keep their meaning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bdnn.ensemble import Ensemble, is_ensemble
from bdnn.network import Network

from .plan import ModelPlan, plan_model


@dataclass(frozen=True)
class TargetForm:
    """A form of a layer's tables that some targets compile instead of the plain ones: its
    ``Target`` flag (``name``), the ``LayerPlan`` attribute holding it (its ``stream`` and
    ``constant_bytes``), and the title of its line in ``bdnn size`` and the C
    header."""

    name: str
    layer_attr: str
    title: str

    @property
    def keys(self) -> tuple[str, str]:
        """The size report's total keys of the form's weight and threshold bytes."""
        return f"{self.name}_weight_bytes", f"{self.name}_threshold_bytes"


TARGET_FORMS = (
    TargetForm("dsp", "dsp_ternary", "Cortex-M4/M7 (DSP kernel of the ternary layers)"),
    TargetForm("columns", "columns", "AVR (columns kernel of the ternary first layer)"),
    TargetForm("lanes", "lanes",
               "Cortex-M0/M3, RV32IMC (lanes kernel of the first layer)"),
)

def size_report(net: Network | Ensemble, word_bits: int = 32) -> dict:
    """Per layer and total: weights, thresholds, scratch bytes, minimum bytes and the ratio.
    An ensemble lists every member's layers (``m<k> ...``)."""
    if is_ensemble(net):
        return ensemble_size_report(net, word_bits)
    return plan_size_report(plan_model(net, word_bits))


def ensemble_size_report(ens: Ensemble, word_bits: int = 32) -> dict:
    """The members' reports joined: their layers prefixed ``m<k>``, the tables summed, the
    scratch the largest member's (the members run one after the other on the same stack)."""
    reports = [plan_size_report(plan_model(m, word_bits, with_predict_table=False))
               for m in ens.members]
    layers = [{**row, "layer": f"m{k} {row['layer']}"}
              for k, r in enumerate(reports) for row in r["layers"]]
    weights = sum(r["total"]["weight_bytes"] for r in reports)
    constants = sum(r["total"]["threshold_bytes"] for r in reports)
    min_bytes = sum(r["total"]["min_weight_bytes"] for r in reports)
    return {
        "word_bits": word_bits,
        "ensemble": ens.kind.name,
        "members": len(ens.members),
        "layers": layers,
        "predict_table": None,  # an ensemble's vote always runs its members
        "total": {
            "weight_bytes": weights,
            "threshold_bytes": constants,
            "scratch_bytes": max(r["total"]["scratch_bytes"] for r in reports),
            "min_weight_bytes": min_bytes,
            "ratio": (weights + constants) / min_bytes,
            "weights_only_ratio": weights / min_bytes,
            **{key: sum(r["total"][key] for r in reports)
               for form in TARGET_FORMS for key in form.keys},
        },
    }


def plan_size_report(plan: ModelPlan) -> dict:
    """:func:`size_report` of an already lowered model (the C header's size table reads it)."""
    layers = []
    for layer in plan.layers:
        min_bits = layer.n_in * layer.n_out * math.log2(2 * layer.weight_bound + 1)
        weights = plan.weight_bytes(layer)
        constants = plan.constant_bytes(layer)
        layers.append(
            {
                "layer": "output" if layer.is_output else f"hidden {layer.index}",
                "shape": [layer.n_out, layer.n_in],
                "weight_bound": layer.weight_bound,
                "planes": layer.n_planes,
                "weight_bytes": weights,
                "threshold_bytes": constants,
                "scratch_bytes": plan.layer_scratch_bytes(layer),
                "kernel": layer.kernel,
                "min_weight_bytes": min_bits / 8,
                "ratio": (weights + constants) / (min_bits / 8),
            }
        )
    weights = sum(r["weight_bytes"] for r in layers)
    constants = sum(r["threshold_bytes"] for r in layers)
    # what the targets with a form of their own compile: that form where a layer has one
    forms = {}
    for form in TARGET_FORMS:
        form_weights, form_constants = weights, constants
        for layer, row in zip(plan.layers, layers, strict=True):
            own = getattr(layer, form.layer_attr)
            if own is not None:
                form_weights += int(own.stream.size) - row["weight_bytes"]
                form_constants += own.constant_bytes - row["threshold_bytes"]
        forms.update(zip(form.keys, (form_weights, form_constants), strict=True))
    min_bytes = sum(r["min_weight_bytes"] for r in layers)
    table = plan.predict_table
    return {
        "word_bits": plan.word_bits,
        "layers": layers,
        # what NAME_predict / NAME_predict_q read instead of the weights (None: no table)
        "predict_table": None if table is None else {
            "bytes": table.n_bytes,
            "entries": table.n_entries,
            "entry_bits": table.entry_bits,
            "inputs_read": list(table.inputs_read),
            "index_bits": table.index_bits,
        },
        "total": {
            "weight_bytes": weights,
            "threshold_bytes": constants,
            "scratch_bytes": plan.scratch_bytes,
            "min_weight_bytes": min_bytes,
            "ratio": (weights + constants) / min_bytes,
            "weights_only_ratio": weights / min_bytes,
            **forms,
        },
    }


def format_size_table(report: dict) -> str:
    """A text table of :func:`size_report`."""
    lw = max([10, *(len(r["layer"]) for r in report["layers"])])  # "m12 hidden 0" in ensembles
    head = (
        f"{'layer':<{lw}} {'shape':>9} {'w':>3} {'weights':>8} {'thresh':>7} {'scratch':>8} "
        f"{'minimum':>8} {'ratio':>6}"
    )
    title = f"word size {report['word_bits']} bits; bytes per layer"
    if "ensemble" in report:
        title += f" of the {report['members']} members of the {report['ensemble']} ensemble"
    lines = [title, head]
    for r in report["layers"]:
        shape = f"{r['shape'][0]}x{r['shape'][1]}"
        lines.append(
            f"{r['layer']:<{lw}} {shape:>9} {r['weight_bound']:>3} {r['weight_bytes']:>8} "
            f"{r['threshold_bytes']:>7} {r['scratch_bytes']:>8} {r['min_weight_bytes']:>8.1f} "
            f"{r['ratio']:>6.2f}"
        )
    t = report["total"]
    lines.append(
        f"{'total':<{lw}} {'':>9} {'':>3} {t['weight_bytes']:>8} {t['threshold_bytes']:>7} "
        f"{t['scratch_bytes']:>8} {t['min_weight_bytes']:>8.1f} {t['ratio']:>6.2f}"
    )
    lines.append(
        "minimum = n_weights x log2(2w+1) bits; ratio = (weights + thresholds) / minimum "
        f"(weights alone: {t['weights_only_ratio']:.2f})"
    )
    lines += [f"{title}: weights {w} B, thresholds {c} B" for title, w, c in form_lines(t)]
    table = report.get("predict_table")
    if table:
        lines.append(predict_table_line(table))
    return "\n".join(lines)


def form_lines(total: dict) -> list[tuple[str, int, int]]:
    """``(title, weight bytes, threshold bytes)`` of each target form whose tables differ from
    the plain ones (``bdnn size`` and the C header print one line each)."""
    rows = [(form.title, total[form.keys[0]], total[form.keys[1]]) for form in TARGET_FORMS]
    return [r for r in rows if r[1:] != (total["weight_bytes"], total["threshold_bytes"])]


def target_data_bytes(total: dict, target) -> int:
    """Weights and thresholds the C compiles on ``target`` (a ``codegen.targets.Target``): its
    form's tables (DSP on Cortex-M4/M7, columns on AVR), else the plain tables."""
    keys = next((f.keys for f in TARGET_FORMS if getattr(target, f.name)),
                ("weight_bytes", "threshold_bytes"))
    return int(total[keys[0]] + total[keys[1]])


def predict_table_line(table: dict) -> str:
    """One line on the predict table of a :func:`size_report` (its ``predict_table``)."""
    used = table["inputs_read"]
    inputs = f"input{'s' if len(used) > 1 else ''} {', '.join(map(str, used))}"
    entry = f"{table['entry_bits']} bit{'s' if table['entry_bits'] > 1 else ''}"
    return (
        f"predict table: {table['bytes']} B ({table['entries']} entries x {entry}), read by "
        "NAME_predict and NAME_predict_q instead of the weights and thresholds, no scratch "
        f"(the network reads only {inputs}: {table['index_bits']} bits)"
    )
