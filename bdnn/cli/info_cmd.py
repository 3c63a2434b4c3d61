"""``bdnn info``: what a model file holds (layers, weight histogram, bits, bytes)."""

from __future__ import annotations

import math

import click
import numpy as np

from ..model_file import load_network
from .options import emit_json


@click.command("info")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def command(model, as_json) -> None:
    """Describe MODEL: layers, weights, storage, training record."""
    net = load_network(model)
    layers = []
    for i, layer in enumerate(net.layers):
        w = int(layer.weight_bound)
        values, counts = np.unique(layer.weights, return_counts=True)
        bits_per_weight = math.ceil(math.log2(2 * w + 1))
        layers.append({
            "layer": i,
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
        "training": net.training,
    }
    if as_json:
        emit_json(info)
        return
    arch = "-".join(str(x) for x in [net.n_inputs, *net.hidden_widths, net.output_layer.n_out])
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
    t = net.training
    if t:
        keys = ["method", "status", "objective", "bound", "gap", "seconds", "train_accuracy",
                "test_accuracy", "data", "data_fingerprint", "solver", "seed"]
        click.echo("training: " + ", ".join(f"{k}={t[k]}" for k in keys if k in t))
