"""``bdnn info``: what a model file holds (layers, weight histogram, bits, bytes)."""

from __future__ import annotations

import math

import click
import numpy as np

from ..ensemble import is_ensemble
from ..model_file import load_model
from .options import emit_json


@click.command("info")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def command(model, as_json) -> None:
    """Describe MODEL: layers, weights, storage, training record."""
    net = load_model(model)
    members = net.members if is_ensemble(net) else [net]
    layers = []
    for k, member in enumerate(members):
        layers += _layer_info(member, f"m{k} " if is_ensemble(net) else "")
    info = {
        "model": str(model),
        "inputs": net.n_inputs,
        "input_bits": int(net.quantizer.bits),
        "identity_quantizer": net.quantizer.is_identity,
        "quantizer": net.quantizer.file_kind,
        "classes": [str(c) for c in net.classes],
        "activation": net.activation.name,
        "output": net.output.name,
        "layers": layers,
        "total_weights": net.n_weights(),
        "nonzero_weights": net.n_nonzero_weights(),
        # the inputs the network reads (union over an ensemble's members): the C quantizes
        # only these in a predict table (docs/export.md)
        "inputs_read": sorted({j for m in members for j in m.inputs_read()}),
        "training": net.training,
    }
    if is_ensemble(net):
        info["ensemble"] = {"kind": net.kind.name,
                            "members": [list(c) for c in net.member_classes]}
    if as_json:
        emit_json(info)
        return
    if is_ensemble(net):
        m = net.members[0]
        arch = "-".join(str(x) for x in [m.n_inputs, *m.hidden_widths, m.n_outputs])
        click.echo(f"{model}: {net.kind.name} ensemble of {len(net.members)} {arch} BDNNs "
                   f"({net.kind.description}), {net.activation} activation, {net.output} "
                   f"output, {net.n_classes} classes, inputs on {net.quantizer.bits} bits "
                   f"({net.quantizer.file_kind} quantizer)")
    else:
        arch = "-".join(str(x) for x in [net.n_inputs, *net.hidden_widths, net.n_outputs])
        click.echo(f"{model}: {arch} BDNN, {net.activation} activation, {net.output} output, "
                   f"{net.n_classes} classes, inputs on {net.quantizer.bits} bits "
                   f"({net.quantizer.file_kind} quantizer)")
    click.echo(f"{'layer':>5} {'in':>5} {'units':>5} {'w':>3} {'weights':>8} {'nonzero':>8} "
               f"{'bits/w':>6} {'bytes':>6}  histogram")
    for L in layers:
        hist = " ".join(f"{k}:{v}" for k, v in L["histogram"].items())
        click.echo(f"{L['layer']:>5} {L['inputs']:>5} {L['units']:>5} {L['weight_bound']:>3} "
                   f"{L['weights']:>8} {L['nonzero']:>8} {L['weight_bits']:>6} "
                   f"{L['weight_bytes_packed']:>6}  {hist}")
    read = info["inputs_read"]
    if len(read) < net.n_inputs:
        names = net.feature_names()
        shown = [names[j] if names else str(j) for j in read]
        click.echo(f"inputs read: {len(read)} of {net.n_inputs} ({', '.join(shown)})")
    t = net.training
    if t:
        keys = ["ensemble", "method", "status", "objective", "bound", "gap", "seconds",
                "train_accuracy", "test_accuracy", "data", "data_fingerprint", "solver", "seed"]
        click.echo("training: " + ", ".join(f"{k}={t[k]}" for k in keys if k in t))


def _layer_info(net, prefix: str) -> list[dict]:
    """One row per layer of ``net``; ``prefix`` (an ensemble member's ``m<k> ``) is put before
    the layer's index."""
    layers = []
    for i, layer in enumerate(net.layers):
        w = int(layer.weight_bound)
        values, counts = np.unique(layer.weights, return_counts=True)
        bits_per_weight = math.ceil(math.log2(2 * w + 1))
        layers.append({
            "layer": f"{prefix}{i}" if prefix else i,
            "kind": "output" if i == len(net.layers) - 1 else "hidden",
            "inputs": layer.n_in,
            "units": layer.n_out,
            "weight_bound": w,
            "weights": int(layer.weights.size),
            "nonzero": int(np.count_nonzero(layer.weights)),
            "histogram": {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)},
            "weight_bits": bits_per_weight,
            "weight_bytes_packed": math.ceil(layer.weights.size * bits_per_weight / 8),
            "min_bits": layer.weights.size * math.log2(2 * w + 1),
        })
    return layers
