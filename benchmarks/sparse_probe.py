"""Would weights compiled into code make bdnn's networks faster than the forest on Cortex-M0?

    python benchmarks/sparse_probe.py --data digits --config 16:2:qat --config 16:4:qat \\
        [--seeds 0,1,2,3,4] [--time-limit 10] --work DIR --out R.json [--md R.md]

A probe, not a product kernel. For each configuration ``HIDDEN:INPUT_BITS:METHOD`` (one hidden
layer) and seed it trains ``bdnn train DATA --split paper --seed S ...``, times the generated C's
``NAME_predict`` on the emulated Cortex-M0 (``bdnn bench --entry predict``), then writes into
the same firmware project a second ``NAME_predict`` whose two layers are unrolled sums of the
non-zero weights (``s = b + X[1] - X[2] + ...``, the weights as instructions: about two Thumb
instructions, a byte load and an add or subtract, per non-zero weight), the inputs quantized
by the generated ``NAME_quantize`` (variant ``sparse``) or, unrolled, only the inputs the first
layer reads, each with its row of level keys at a constant offset (``sparse_levels``). The
firmware's own runner checks its classes against the numpy reference on the bench's random
vectors (a mismatch stops the probe), and the QEMU trace counts its instructions the way
``bdnn bench`` does.

The report sets both beside the emlearn forest of ``benchmarks/results/accuracy.json`` (same
data set, seed-0 firmware): test accuracy mean over the seeds, M0 instructions per inference,
and the unrolled function's code bytes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bdnn.model_file import load_network  # noqa: E402
from codegen.level_keys import c_level_keys, key_rows  # noqa: E402
from codegen.targets.measure import count_instructions, symbol_ranges  # noqa: E402

ACCURACY = ROOT / "benchmarks" / "results" / "accuracy.json"


def bdnn(*args: str) -> dict:
    """``bdnn ARGS --json`` as a dict (the run stops on an error)."""
    out = subprocess.run([sys.executable, "-m", "bdnn", *args, "--json"], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"bdnn {' '.join(args)} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def terms(weights: list[int], ref) -> str:
    """`` + X[j] - 2 * X[k] ...`` over the non-zero weights."""
    return "".join(f" {'+' if w > 0 else '-'} {str(abs(w)) + ' * ' if abs(w) > 1 else ''}{ref(j)}"
                   for j, w in enumerate(weights) if w)


def level_code(net) -> list[str]:
    """C that sets ``X[j]`` for every input the first layer reads, unrolled: the generated
    ``model_quantize1`` on the input's row of ``model_level_key`` at a constant offset (the
    loop of ``model_quantize`` reads a row index per input and walks every input)."""
    keys = c_level_keys(net.quantizer)
    rows, index = key_rows(keys)
    L = keys.shape[1]
    read = np.flatnonzero(np.any(np.asarray(net.layers[0].weights) != 0, axis=0))
    c = ["    const uint32_t *q_key = model_level_key;", '    __asm__("" : "+l"(q_key));']
    for j in read.tolist():
        row = j if index is None else int(index[j])
        c.append(f"    X[{j}] = (uint8_t)model_quantize1(&x[{j}], &q_key[{L * row}u]);")
    return c


def sparse_predict(model: Path, name: str, unrolled_levels: bool) -> str:
    """C of ``NAME``, a float predict with both layers as unrolled sums; appended to the
    generated ``model.c`` it takes the levels from its ``model_quantize`` or, with
    ``unrolled_levels``, from :func:`level_code`."""
    net = load_network(model)
    if len(net.layers) != 2 or net.output.name != "argmax":
        sys.exit(f"{model}: the probe handles one hidden layer and the argmax output")
    first, out = net.layers
    W0, b0 = np.asarray(first.weights), np.asarray(first.bias)
    scale, folded = net.activation.fold(out.weights, out.bias)
    W1 = np.asarray(out.weights)
    bases = -(-W0.shape[1] // 32)  # Thumb-1 byte loads reach 31 bytes past a base
    opaque = '    __asm__("" : ' + ", ".join(f'"+l"(X{i})' for i in range(bases)) + ");"
    c = [f"int {name}(const float *x);", f"int {name}(const float *x)", "{",
         f"    uint8_t X[{W0.shape[1]}], h[{W0.shape[0]}];",
         "    int32_t s, best = 0, k = 0;",
         *(level_code(net) if unrolled_levels else ["    model_quantize(x, X);"]),
         "    const uint8_t " + ", ".join(f"*X{i} = X + {32 * i}" for i in range(bases)) + ";"]
    for u in range(W0.shape[0]):
        # the opaque bases keep gcc from loading every input once and spilling it
        total = terms(W0[u].tolist(), lambda j: f"X{j // 32}[{j % 32}]")
        c += [opaque, f"    s = {int(b0[u])}{total};", f"    h[{u}] = (uint8_t)(s >= 0);"]
    c.append("    const uint8_t *H = h;")
    for k in range(W1.shape[0]):
        total = terms(W1[k].tolist(), lambda u: f"H[{u}]")
        c += ['    __asm__("" : "+l"(H));',
              f"    s = {int(scale)} * (0{total}) + {int(folded[k])};",
              f"    if ({'1' if k == 0 else 's > best'}) {{ best = s; k = {k}; }}"]
    return "\n".join([*c, "    return (int)k;", "}", ""])


VARIANTS = {"sparse": False, "sparse_levels": True}  # name -> levels unrolled


def probe(model: Path, project: Path) -> dict:
    """The generated ``NAME_predict`` of ``model`` on the emulated M0, and each variant of
    :data:`VARIANTS` built into the same firmware project in its place."""
    gen = bdnn("bench", str(model), "--target", "cortex-m0", "--entry", "predict",
               "--project-dir", str(project), "--vectors", "8")
    out = {"generated_instructions": gen["per_inference"]["mean"],
           "generated_flash_bytes": gen["flash_bytes"]}
    with open(project / "model.c", "a") as f:
        for variant, unrolled in VARIANTS.items():
            f.write(sparse_predict(model, f"model_predict_{variant}", unrolled))
    glue = project / "model_glue.h"
    original = glue.read_text()
    entry = "#define M_PREDICT model_predict\n"
    if entry not in original:  # else the runner would time the generated predict
        sys.exit(f"{glue}: no line {entry.strip()!r} to point at the probe's predict")
    for variant in VARIANTS:
        name = f"model_predict_{variant}"
        glue.write_text(original.replace(entry, f"int {name}(const float *x);\n"
                                                f"#define M_PREDICT {name}\n"))
        for goal in ("run", "trace"):
            r = subprocess.run(["make", goal], cwd=project, capture_output=True, text=True)
            done = re.search(r"^D (\d+)", r.stdout + r.stderr, re.M)
            if goal == "run" and (done is None or done.group(1) != "0"):
                sys.exit(f"{model}: {name} disagrees with the reference "
                         f"({done.group(0) if done else r.stderr.strip()[-300:]})")
            if goal == "trace" and r.returncode:
                sys.exit(f"{model}: make trace failed: {r.stderr.strip()[-300:]}")
        ranges = symbol_ranges("arm-none-eabi-nm", project / "prog.elf")
        counts = count_instructions(project / "trace.log", ranges)
        lo, hi = ranges[name]
        out[f"{variant}_instructions"] = float(np.mean(counts))
        out[f"{variant}_code_bytes"] = hi - lo
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("--config", action="append", required=True,
                    help="HIDDEN:INPUT_BITS:METHOD, repeatable")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--time-limit", default="10")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--md", type=Path)
    args = ap.parse_args()
    for cfg in args.config:  # before any training: a typo should not cost a run
        parts = cfg.split(":")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            ap.error(f"--config {cfg!r}: give HIDDEN:INPUT_BITS:METHOD, e.g. 16:4:qat")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        ap.error(f"--seeds {args.seeds!r}: give whole numbers separated by commas, e.g. 0,1,2")
    rows = []
    for cfg in args.config:
        hidden, bits, method = cfg.split(":")
        for seed in seeds:
            work = args.work / f"{hidden}_{bits}_{method}_{seed}"
            work.mkdir(parents=True, exist_ok=True)
            model = work / "model.json"
            t = bdnn("train", args.data, "--hidden", hidden, "--input-bits", bits, "--method",
                     method, "--split", "paper", "--seed", str(seed), "--time-limit",
                     args.time_limit, "--workers", "1", "-o", str(model))
            row = {"config": cfg, "seed": seed, "test_accuracy": t["test_accuracy"],
                   "val_accuracy": t["val_accuracy"], "nonzero_weights": t["nonzero_weights"],
                   **probe(model, work / "m0")}
            print(json.dumps(row), flush=True)
            rows.append(row)
    forest = json.loads(ACCURACY.read_text())["datasets"].get(args.data, {})
    ref = {"test_mean": forest.get("summary", {}).get("forest", {}).get("test_mean"),
           "instructions": forest.get("firmware", {}).get("cortex-m0", {}).get("forest", {})
           .get("per_inference"),
           "flash_bytes": forest.get("firmware", {}).get("cortex-m0", {}).get("forest", {})
           .get("flash_bytes")}
    record = {"command": "python benchmarks/sparse_probe.py " + " ".join(sys.argv[1:]),
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "data": args.data, "forest": ref, "rows": rows}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    if args.md:
        lines = [f"# Unrolled sparse layers on Cortex-M0: {args.data}", "",
                 f"`{record['command']}`, {record['date']}. Forest (benchmarks/results/"
                 f"accuracy.json): test {ref['test_mean']:.3f}, {ref['instructions']:,.0f} "
                 f"instructions, {ref['flash_bytes']:,} B flash.", "",
                 "| config | seeds | test (mean ± sd) | non-zero weights | generated predict "
                 "(instr.) | unrolled layers (instr.) | its code B | unrolled layers and levels "
                 "(instr.) | its code B |",
                 "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for cfg in args.config:
            rs = [r for r in rows if r["config"] == cfg]
            acc = [r["test_accuracy"] for r in rs]
            sd = float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0
            m = {k: float(np.mean([r[k] for r in rs])) for k in rs[0] if k not in ("config",)}
            lines.append(f"| {cfg} | {len(rs)} | {np.mean(acc):.3f} ± {sd:.3f} "
                         f"| {m['nonzero_weights']:.0f} | {m['generated_instructions']:,.0f} "
                         f"| {m['sparse_instructions']:,.0f} | {m['sparse_code_bytes']:,.0f} "
                         f"| {m['sparse_levels_instructions']:,.0f} "
                         f"| {m['sparse_levels_code_bytes']:,.0f} |")
        args.md.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
