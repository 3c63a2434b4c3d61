"""``bdnn export``: a model file to bit-packed C99 (header + source) and/or ONNX."""

from __future__ import annotations

import re
from pathlib import Path

import click

from codegen.targets.registry import target_names

from ..errors import BDNNError
from ..model_file import load_network


def default_c_name(model_path: str) -> str:
    """A C name from the model file's name (``iris-3.json`` -> ``iris_3``), else ``model``."""
    from codegen.names import validate_c_name

    stem = re.sub(r"[^A-Za-z0-9_]", "_", Path(model_path).stem)
    try:
        return validate_c_name(stem)
    except BDNNError:
        return "model"


@click.command("export")
@click.argument("model")
@click.option("--c", "c_dir", metavar="DIR",
              help="Write NAME.h and NAME.c into DIR (created if its parent exists).")
@click.option("--onnx", "onnx_path", metavar="FILE.onnx", help="Write the ONNX graph to FILE.")
@click.option("--name", default=None,
              help="C identifier prefixing every generated symbol [default: model file name].")
@click.option("--arduino", "arduino_dir", metavar="DIR",
              help="Write an Arduino library (library.properties, src/, examples/) into DIR.")
@click.option("--target", "targets", multiple=True, metavar="TARGET",
              help="Refuse the export unless the model fits this microcontroller's flash and "
                   f"RAM ({', '.join(target_names())}); repeatable. "
                   "--arduino implies avr.")
@click.option("--word-bits", type=int, default=32, show_default=True,
              help="Bits per packed word in the C code: 8, 16, 32 or 64.")
@click.option("--onnx-float-input", is_flag=True,
              help="ONNX input 'x' (float32 features) with the quantizer in the graph, "
                   "instead of 'xq' (uint8 levels).")
@click.option("--no-hidden-outputs", is_flag=True,
              help="Leave the hidden bit-vectors out of the ONNX outputs.")
def command(model, c_dir, onnx_path, arduino_dir, targets, name, word_bits, onnx_float_input,
            no_hidden_outputs) -> None:
    """Export MODEL to C (--c DIR), ONNX (--onnx FILE.onnx) and/or an Arduino library
    (--arduino DIR); all files or none."""
    from codegen.bitpack import check_word_bits
    from codegen.c_export import render_c
    from codegen.names import validate_c_name
    from codegen.onnx_export import onnx_bytes

    from ..atomic_files import check_output_dir, write_files

    if not c_dir and not onnx_path and not arduino_dir:
        raise BDNNError("nothing to export: give --c DIR, --onnx FILE.onnx or --arduino DIR")
    check_word_bits(word_bits)
    if name is not None:
        validate_c_name(name)
    net = load_network(model)
    _check_fits(net, list(targets) + (["avr"] if arduino_dir else []))
    files: dict[Path, str | bytes] = {}
    created: list[Path] = []  # directories this command makes (removed again on failure)
    if c_dir:
        directory = Path(c_dir)
        if not directory.exists():
            check_output_dir(directory.parent if str(directory.parent) else ".")
            created.append(directory)
        else:
            directory = check_output_dir(c_dir)
        c_name = name or default_c_name(model)
        for fname, text in render_c(net, c_name, word_bits).items():
            files[directory / fname] = text
    if onnx_path:
        target = Path(onnx_path)
        check_output_dir(target.parent if str(target.parent) else ".")
        if target.is_dir():
            raise BDNNError(f"--onnx {target} is a directory; give a file name")
        files[target] = onnx_bytes(net, not no_hidden_outputs, onnx_float_input)
    if arduino_dir:
        from codegen.arduino import render_arduino_library

        root = Path(arduino_dir)
        if root.exists() and not root.is_dir():
            raise BDNNError(f"--arduino {root} is not a directory")
        check_output_dir(root.parent if str(root.parent) else ".")
        library = render_arduino_library(net, name or default_c_name(model), word_bits)
        for rel in sorted(library):
            for parent in reversed((root / rel).relative_to(root.parent).parents[:-1]):
                path = root.parent / parent
                if not path.exists() and path not in created:
                    created.append(path)
            files[root / rel] = library[rel]
    for directory in created:
        directory.mkdir()
    try:
        written = write_files(files)
    except BaseException:
        for directory in reversed(created):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
        raise
    for path in written:
        click.echo(f"wrote {path}")


def _check_fits(net, target_names: list[str]) -> None:
    """Refuse (with the sizes) a model too large for any of the named targets."""
    if not target_names:
        return
    from codegen.targets.measure import check_plan_fits
    from codegen.targets.registry import get_target

    for target_name in dict.fromkeys(target_names):
        check_plan_fits(net, get_target(target_name))
