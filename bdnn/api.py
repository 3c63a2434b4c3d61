"""The command line's export, verify and size steps as Python functions.

Each takes a :class:`~bdnn.network.Network` or the path of a model file and behaves like the
matching ``bdnn`` command: a missing output directory is created when its parent exists, every
file is written atomically (all files or none; existing devices, FIFOs and directories are never
replaced), and bad input raises :class:`~bdnn.errors.BDNNError` with a one-line message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BDNNError

if TYPE_CHECKING:
    import numpy as np

    from codegen.verify import VerifyReport

    from .ensemble import Ensemble
    from .network import Network


def _network(model) -> Network | Ensemble:
    """A validated network or ensemble from either itself or a model file path."""
    from .ensemble import Ensemble
    from .model_file import load_model
    from .network import Network

    if isinstance(model, (Network, Ensemble)):
        model.validate()
        return model
    if isinstance(model, (str, os.PathLike)):
        return load_model(model)
    raise BDNNError(f"expected a bdnn Network or Ensemble or a model file path, got "
                    f"{type(model).__name__}")


def default_c_name(model_path: str | os.PathLike) -> str:
    """A C name from the model file's name (``iris-3.json`` -> ``iris_3``), else ``model``."""
    from codegen.names import validate_c_name

    stem = re.sub(r"[^A-Za-z0-9_]", "_", Path(model_path).stem)
    try:
        return validate_c_name(stem)
    except BDNNError:
        return "model"


def _c_name(model, name: str | None) -> str:
    from codegen.names import validate_c_name

    if name is not None:
        return validate_c_name(name)
    return default_c_name(model) if isinstance(model, (str, os.PathLike)) else "model"


def export(
    model,
    *,
    c_dir: str | os.PathLike | None = None,
    onnx_path: str | os.PathLike | None = None,
    arduino_dir: str | os.PathLike | None = None,
    name: str | None = None,
    word_bits: int = 32,
    targets: Iterable[str] = (),
    onnx_float_input: bool = False,
    hidden_outputs: bool = True,
    raw_input: str | None = None,
    small_code: bool = False,
    weights_as_code: bool = False,
) -> list[Path]:
    """Everything ``bdnn export`` writes, all files or none; returns the written paths.

    ``c_dir`` gets ``NAME.h`` and ``NAME.c``; ``onnx_path`` the ONNX graph; ``arduino_dir`` an
    Arduino library. ``targets`` (e.g. ``["cortex-m0"]``) refuse a model too large for them
    (``arduino_dir`` implies ``avr``). ``name`` defaults to the model file's name.
    ``raw_input`` (``int16``, ``int32`` or ``none``) overrides the integer raw-input C API the
    training record asks for (``NAME_predict_i16`` / ``_i32``). ``small_code`` makes
    ``BDNN_SMALL_CODE`` 1 the generated C's default (less flash, a few percent slower);
    ``weights_as_code`` makes ``BDNN_WEIGHTS_AS_CODE`` 1 the default (a single network without
    a predict table: fewer instructions, more flash).
    """
    from codegen.bitpack import check_word_bits

    from .atomic_files import check_output_dir, write_files
    from .raw_input import with_raw_input

    if not c_dir and not onnx_path and not arduino_dir:
        raise BDNNError("nothing to export: give --c DIR, --onnx FILE.onnx or --arduino DIR")
    # an option of one output without that output would be silently ignored
    for flag, on in (("--small-code", small_code), ("--weights-as-code", weights_as_code)):
        if on and not (c_dir or arduino_dir):
            raise BDNNError(f"{flag} shapes the C code: give --c DIR or --arduino DIR too")
    if (onnx_float_input or not hidden_outputs) and not onnx_path:
        raise BDNNError("--onnx-float-input and --no-hidden-outputs shape the ONNX graph: "
                        "give --onnx FILE.onnx too")
    check_word_bits(word_bits)
    c_name = _c_name(model, name)
    net = with_raw_input(_network(model), raw_input)
    if weights_as_code:
        from codegen.weights_as_code import check_weights_as_code

        check_weights_as_code(net)
    _check_fits(net, list(targets) + (["avr"] if arduino_dir else []))
    files: dict[Path, str | bytes] = {}
    created: list[Path] = []  # directories this call makes (removed again on failure)
    if c_dir:
        from codegen.c_export import render_c

        directory = Path(c_dir)
        if not directory.exists():
            check_output_dir(directory.parent if str(directory.parent) else ".")
            created.append(directory)
        else:
            directory = check_output_dir(c_dir)
        for fname, text in render_c(net, c_name, word_bits, small_code,
                                       weights_as_code).items():
            files[directory / fname] = text
    if onnx_path:
        from codegen.onnx_export import onnx_bytes

        target = Path(onnx_path)
        check_output_dir(target.parent if str(target.parent) else ".")
        if target.is_dir():
            raise BDNNError(f"--onnx {target} is a directory; give a file name")
        files[target] = onnx_bytes(net, hidden_outputs, onnx_float_input)
    if arduino_dir:
        from codegen.arduino import render_arduino_library

        root = Path(arduino_dir)
        if root.exists() and not root.is_dir():
            raise BDNNError(f"--arduino {root} is not a directory")
        check_output_dir(root.parent if str(root.parent) else ".")
        library = render_arduino_library(net, c_name, word_bits, library=root.resolve().name,
                                         small_code=small_code,
                                         weights_as_code=weights_as_code)
        for rel in sorted(library):
            for parent in reversed((root / rel).relative_to(root.parent).parents[:-1]):
                path = root.parent / parent
                if not path.exists() and path not in created:
                    created.append(path)
            files[root / rel] = library[rel]
    try:
        for directory in created:
            try:
                directory.mkdir()
            except OSError as e:
                raise BDNNError(f"cannot create directory {directory}: {e.strerror}") from None
        return write_files(files)
    except BaseException:
        for directory in reversed(created):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
        raise


def _check_fits(net: Network, target_names: list[str]) -> None:
    """Refuse (with the sizes) a model too large for any of the named targets."""
    if not target_names:
        return
    from codegen.targets.measure import check_plan_fits
    from codegen.targets.registry import get_target

    for target_name in dict.fromkeys(target_names):
        check_plan_fits(net, get_target(target_name))


def export_c(model, directory: str | os.PathLike, name: str | None = None,
             word_bits: int = 32) -> list[Path]:
    """Write ``NAME.h`` and ``NAME.c`` into ``directory`` (created if its parent exists), as
    ``bdnn export --c``. Returns the two paths."""
    return export(model, c_dir=directory, name=name, word_bits=word_bits)


def export_onnx(model, path: str | os.PathLike, float_input: bool = False,
                hidden_outputs: bool = True) -> Path:
    """Write the ONNX graph to ``path``, as ``bdnn export --onnx``. ``float_input`` puts the
    quantizer in the graph (input ``x``, float32 features) instead of input ``xq`` (levels)."""
    return export(model, onnx_path=path, onnx_float_input=float_input,
                  hidden_outputs=hidden_outputs)[0]


def export_arduino(model, directory: str | os.PathLike, name: str | None = None,
                   word_bits: int = 32) -> list[Path]:
    """Write an Arduino library into ``directory``, as ``bdnn export --arduino`` (refused when
    the model does not fit an AVR board). Returns the written paths."""
    return export(model, arduino_dir=directory, name=name, word_bits=word_bits)


def verify(model, X: np.ndarray | None = None, n_random: int = 200, seed: int = 0,
           backends: Sequence[str] | None = None) -> VerifyReport:
    """Run the backends (default: all) on the rows of ``X`` (float features) and ``n_random``
    random inputs and compare with the numpy reference bit for bit, as ``bdnn verify``.
    ``report.ok`` is True when every backend agrees; ``codegen.verify.format_table(report)``
    prints it."""
    import numpy as np

    from codegen.verify import verify as run_verify

    net = _network(model)
    if X is not None:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != net.n_inputs:
            raise BDNNError(f"X has shape {X.shape}, the model expects [n_rows, {net.n_inputs}]")
    return run_verify(net, X, n_random=n_random, seed=seed,
                      backends=list(backends) if backends is not None else None)


def size(model, word_bits: int = 32) -> dict:
    """Bytes of weights, thresholds and scratch per layer of the C export and the
    information-theoretic minimum, as ``bdnn size --json``."""
    from codegen.bitpack import check_word_bits
    from codegen.size_report import size_report

    check_word_bits(word_bits)
    return size_report(_network(model), word_bits)
