"""An Arduino library per model: ``library.properties`` (named after the library's folder),
``src/NAME.{h,c}`` (the generated C) and ``examples/NAME/NAME.ino``, a sketch that classifies
one row of raw features (a real row of the training data, embedded at export) with
``NAME_predict`` and prints the class index and name.

Weights are const arrays in ``BDNN_STORAGE`` (PROGMEM on AVR boards), so the library builds
unchanged for AVR and ARM Arduinos. Files are written all or nothing.
"""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import bdnn
from bdnn.atomic_files import write_files
from bdnn.errors import BDNNError
from bdnn.network import Network

from .c_export import render_c
from .names import comment_text, validate_c_name

DEFAULT_WORD_BITS = 8  # the AVR's native width; correct (if slower) on 32-bit boards too


# Arduino library names: a letter or digit first, then letters, digits, space, _ . -; <= 63
_LIBRARY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}")


def check_library_name(library: str) -> str:
    """``library`` if it is a valid Arduino library name (the library folder's name), else a
    ``BDNNError`` saying how to fix it."""
    if not _LIBRARY_NAME.fullmatch(library):
        raise BDNNError(
            f"--arduino: the folder name {library!r} is not an Arduino library name (a letter "
            "or digit, then letters, digits, spaces, '_', '.', '-'; at most 63 characters); "
            "choose another folder"
        )
    return library


def library_properties(net: Network, name: str, library: str | None = None) -> str:
    """The Arduino ``library.properties`` of the model's library; ``name=`` is ``library``, the
    library folder's name (the Arduino IDE expects them equal; default: the C name)."""
    widths = "-".join(str(w) for w in (net.n_inputs, *net.hidden_widths, net.n_outputs))
    return (
        f"name={library or name}\n"
        f"version={bdnn.__version__}\n"
        "author=bdnn\n"
        "maintainer=bdnn\n"
        f"sentence=Binarized neural network {name} ({widths}) exported by bdnn.\n"
        "paragraph=Integer-only inference: bit-packed weights in flash, no malloc, no float "
        "arithmetic (NAME_predict quantizes raw features by integer compares).\n"
        "category=Data Processing\n"
        "url=\n"
        "architectures=*\n"
        "includes=" + f"{name}.h\n"
    )


@dataclass
class ExampleRow:
    """The sketch's input: one row of raw features and where it comes from."""

    x: np.ndarray  # float32 [n_inputs]
    source: str  # for the sketch's comment
    label: str | None = None  # the row's true class, when it comes from labelled data


def training_data_row(net: Network) -> ExampleRow | None:
    """The first test row (else the first row) of the data set the model's training record
    names (``data``, ``split``, ``split_seed``, as ``bdnn train`` records them), or None when it
    cannot be loaded here: no record, a CSV file read with other options or moved, other
    columns or classes."""
    rec = net.training or {}
    data, split, seed = rec.get("data"), rec.get("split", "default"), rec.get("split_seed", 0)
    if not isinstance(data, str) or not isinstance(seed, int):
        return None
    from bdnn.data import load_dataset

    try:
        ds = load_dataset(data, split=str(split), seed=seed, classes=list(net.classes),
                          test_fraction=float(rec.get("test_fraction", 0.25)))
        X, y = ds.test_part()
        part = "test part"
        if len(y) == 0:
            X, y = ds.train_part()
            part = "training part"
    except (BDNNError, OSError, ValueError, TypeError):
        return None
    if len(y) == 0 or X.shape[1] != net.n_inputs or not np.isfinite(X[0]).all():
        return None
    source = f"row 0 of the {part} of data set '{data}' ({split} split, seed {seed})"
    return ExampleRow(np.asarray(X[0], np.float32), source, str(net.classes[int(y[0])]))


def middle_row(net: Network) -> ExampleRow:
    """Without training data: the raw value of the middle level of every input."""
    q = net.quantizer
    mid = (q.max_level + 1) // 2
    scale = q.scale.astype(np.float64)
    x = q.lo.astype(np.float64) + np.where(scale > 0, mid / np.where(scale > 0, scale, 1), 0)
    return ExampleRow(x.astype(np.float32),
                      f"no training data found: the raw value of level {mid} of every input")


def _c_float(v: np.float32) -> str:
    # numpy's shortest repr of a float32 reads back as the same float32 in C (correctly
    # rounded decimal -> float)
    text = str(np.float32(v))
    return text + ("f" if any(c in text for c in ".e") else ".0f")


def example_sketch(net: Network, name: str, row: ExampleRow) -> str:
    """``examples/NAME/NAME.ino``: classify one row of raw features every second with
    ``NAME_predict`` and print the class index and name over Serial."""
    NAME = name.upper()
    x = np.asarray(row.x, np.float32).reshape(1, -1)
    expected = int(net.forward(x).class_index[0])
    values = ",\n  ".join(", ".join(_c_float(v) for v in x[0, i:i + 6])
                          for i in range(0, net.n_inputs, 6))
    label = "" if row.label is None else f" Its label: {comment_text(row.label)}."
    about = textwrap.fill(f"Raw features in the order of {name}.h's input list: "
                          f"{comment_text(row.source)}.{label}", 96,
                          initial_indent="// ", subsequent_indent="// ")
    return f"""// Generated by bdnn {bdnn.__version__}: classify one row with model '{name}'.
#include <Arduino.h>
#include <{name}.h>

{about}
// Put your sensor readings here; {name}_predict quantizes them with integer compares.
static const float example_x[{NAME}_N_INPUTS] = {{
  {values}
}};
// bdnn's numpy reference predicts class {expected} ({comment_text(net.classes[expected])}) for it
static const int expected_class = {expected};

void setup() {{
  Serial.begin(115200);
}}

void loop() {{
  unsigned long t0 = micros();
  int c = {name}_predict(example_x);
  unsigned long t1 = micros();
  Serial.print("class ");
  Serial.print(c);
  Serial.print(" ");
  Serial.print({name}_class_names[c]);
  Serial.print(c == expected_class ? " ok" : " MISMATCH");
  Serial.print(" in ");
  Serial.print(t1 - t0);
  Serial.println(" us");
  delay(1000);
}}
"""


def render_arduino_library(
    net: Network, name: str, word_bits: int = DEFAULT_WORD_BITS,
    example: ExampleRow | None = None, library: str | None = None, small_code: bool = False,
    weights_as_code: bool = False,
) -> dict[str, str]:
    """The library's files as ``{relative path: text}``.

    ``example`` is the sketch's input row; by default the first test row of the data set the
    training record names (``training_data_row``), else the middle level of every input.
    ``library`` is the library folder's name, for ``library.properties`` (default: ``name``).
    ``small_code`` / ``weights_as_code``: ``BDNN_SMALL_CODE`` / ``BDNN_WEIGHTS_AS_CODE``
    defaults to 1 in the model's C.
    """
    name = validate_c_name(name)
    if library is not None:
        check_library_name(library)
    if example is None:
        example = training_data_row(net) or middle_row(net)
    x = np.asarray(example.x, np.float32).reshape(-1)
    if x.shape[0] != net.n_inputs or not np.isfinite(x).all():
        raise BDNNError(f"the example row needs {net.n_inputs} finite raw feature values")
    files = {f"src/{fname}": text for fname, text in render_c(
        net, name, word_bits, small_code, weights_as_code).items()}
    files["library.properties"] = library_properties(net, name, library)
    files[f"examples/{name}/{name}.ino"] = example_sketch(net, name, example)
    return files


def write_arduino_library(
    net: Network,
    out_dir: str | os.PathLike,
    name: str,
    word_bits: int = DEFAULT_WORD_BITS,
    example: ExampleRow | None = None,
) -> list[Path]:
    """Write the Arduino library for ``net`` into ``out_dir`` (created if missing; its parent
    must exist), named after that folder. Returns the written paths."""
    root = Path(out_dir)
    files = render_arduino_library(net, name, word_bits, example, root.resolve().name)
    if root.exists() and not root.is_dir():
        raise BDNNError(f"--arduino {root} is not a directory")
    if not root.parent.is_dir():
        raise BDNNError(f"--arduino {root}: directory {root.parent} does not exist")
    try:
        for rel in files:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BDNNError(f"cannot create the Arduino library in {root}: {e.strerror}") from None
    return write_files({root / rel: text for rel, text in sorted(files.items())})
