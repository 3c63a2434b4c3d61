"""Export benchmark: table bytes vs the information-theoretic minimum, host instructions per
inference (valgrind callgrind, exact), ONNX file size, onnxruntime vs numpy rows per second.

    python3 benchmarks/export.py [MODEL.json ...] [--rows 20000] [--out docs/benchmarks-export.md]

Without model files it generates random networks of the paper's data shapes (iris 4 -> 3,
breast cancer 9 -> 2, digits 64 -> 10) with a few architectures; a trained model's size and speed
depend only on its shape, weight bounds and input bits, not on the weight values.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bdnn.model_file import load_network  # noqa: E402
from bdnn.network import Network, random_network  # noqa: E402
from codegen.backends import c_host  # noqa: E402
from codegen.onnx_export import onnx_bytes  # noqa: E402
from codegen.size_report import size_report  # noqa: E402

# (label, n_inputs, hidden, n_classes, weight bound, input bits)
SHAPES = [
    ("iris 4-3-3 w1", 4, [3], 3, 1, 4),
    ("iris 4-16-8-3 w1", 4, [16, 8], 3, 1, 4),
    ("bcw 9-4-2 w1", 9, [4], 2, 1, 4),
    ("bcw 9-32-2 w3", 9, [32], 2, 3, 4),
    ("digits 64-16-10 w1", 64, [16], 10, 1, 5),
    ("digits 64-64-10 w1", 64, [64], 10, 1, 5),
    ("digits 64-64-32-10 w3", 64, [64, 32], 10, 3, 5),
]


def instructions_per_inference(net: Network, word_bits: int, rows: int) -> float | None:
    """Exact host instructions of ``NAME_forward_debug_q`` per row (callgrind, -O2)."""
    valgrind = shutil.which("valgrind")
    if not valgrind or c_host.find_compiler() is None:
        return None
    rng = np.random.default_rng(0)
    Q = rng.integers(0, net.quantizer.max_level + 1, size=(rows, net.n_inputs))
    with tempfile.TemporaryDirectory() as tmp:
        exe = c_host.build([(net, "bench")], tmp, word_bits)
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
             "--toggle-collect=bench_forward_debug_q", str(exe)],
            input="\n".join(c_host.encode_q(0, Q)) + "\n", capture_output=True, text=True,
        )
        if proc.returncode != 0:
            return None
        match = re.search(r"^(?:summary|totals):\s*(\d+)", out.read_text(), re.M)
        return int(match.group(1)) / rows if match else None


def rows_per_second(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def measure(label: str, net: Network, rows: int, callgrind_rows: int) -> list[dict]:
    import onnxruntime as ort

    data = onnx_bytes(net, hidden_outputs=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    Q = np.random.default_rng(1).integers(0, net.quantizer.max_level + 1, size=(rows, net.n_inputs))
    Q = Q.astype(np.uint8)
    assert np.array_equal(session.run(None, {"xq": Q})[0], net.forward_q(Q).class_index)
    ort_rate = rows_per_second(lambda: (session.run(None, {"xq": Q}), rows)[1])
    numpy_rate = rows_per_second(lambda: (net.forward_q(Q), rows)[1])
    results = []
    for word_bits in (8, 32):
        size = size_report(net, word_bits)["total"]
        instr = instructions_per_inference(net, word_bits, callgrind_rows)
        results.append({
            "model": label,
            "weights": net.n_weights(),
            "word_bits": word_bits,
            "table_bytes": size["weight_bytes"] + size["threshold_bytes"],
            "min_bytes": size["min_weight_bytes"],
            "ratio": size["ratio"],
            "weights_only_ratio": size["weights_only_ratio"],
            "instr": instr,
            "instr_per_weight": instr / net.n_weights() if instr else None,
            "onnx_bytes": len(data),
            "ort_rows_s": ort_rate,
            "numpy_rows_s": numpy_rate,
        })
    return results


def table(results: list[dict]) -> str:
    head = ("| model | weights | word | tables B | minimum B | ratio | weights-only ratio | "
            "instr/inference | instr/weight | ONNX B | onnxruntime rows/s | numpy rows/s |")
    lines = [head, "|" + "---|" * 12]
    for r in results:
        instr = f"{r['instr']:.0f}" if r["instr"] else "n/a"
        per_w = f"{r['instr_per_weight']:.2f}" if r["instr_per_weight"] else "n/a"
        lines.append(
            f"| {r['model']} | {r['weights']} | {r['word_bits']} | {r['table_bytes']} | "
            f"{r['min_bytes']:.1f} | {r['ratio']:.2f} | {r['weights_only_ratio']:.2f} | {instr} | "
            f"{per_w} | {r['onnx_bytes']} | {r['ort_rows_s']:,.0f} | {r['numpy_rows_s']:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model files (default: random networks)")
    parser.add_argument("--rows", type=int, default=20000, help="rows for the rows/s timings")
    parser.add_argument("--callgrind-rows", type=int, default=200)
    parser.add_argument("--out", default=None, help="write a Markdown report here")
    args = parser.parse_args()
    if args.models:
        nets = [(Path(p).stem, load_network(p)) for p in args.models]
    else:
        rng = np.random.default_rng(2021)
        nets = [
            (label, random_network(rng, n_in, hidden, k, weight_bound=w, bits=bits))
            for label, n_in, hidden, k, w, bits in SHAPES
        ]
    results = [r for label, net in nets for r in measure(label, net, args.rows,
                                                            args.callgrind_rows)]
    text = table(results)
    print(text)
    if args.out:
        command = "python3 benchmarks/export.py " + " ".join(sys.argv[1:])
        Path(args.out).write_text(REPORT.format(command=command.strip(), table=text))
        print(f"wrote {args.out}")


REPORT = """# Export benchmark

Command: `{command}` (host: x86-64, gcc -O2, 1 onnxruntime thread).

{table}

- *tables B*: bytes of the weight bit-planes plus one threshold (hidden) or score offset
  (output) per unit in the generated C. *minimum B*: the weights' information-theoretic minimum,
  `n_weights x log2(2w+1)` bits. *ratio* = tables / minimum; *weights-only ratio* leaves the
  thresholds out.
- Two's-complement bit-planes spend `ceil(log2(2w+1))` bits per weight: 2 bits for ternary
  weights (1.26x of log2(3) = 1.585 bits), 3 bits for [-3, 3] (1.07x of log2(7)). A layer's
  planes are one bit stream with no padding between units (only the layer's last byte is
  padded), so the weights-only ratio is exactly that floor; thresholds and output offsets take
  the narrowest signed field that holds them (4 bits where they fit), which is what is left
  above the floor in the tiny nets. The 1.15x target is reached for w = 3 layers, not for ternary
  weights in this layout (base-3 packing would need decoding per weight instead of one popcount
  or table lookup per field).
- *instr/inference*: exact x86-64 instructions of `NAME_forward_debug_q` per row, counted with
  `valgrind --tool=callgrind --toggle-collect` (instructions, not time: perf has no hardware
  counters here).
- rows/s: best of 3 over the same random quantized rows; numpy is `Network.forward_q` (int64).
"""


if __name__ == "__main__":
    main()
