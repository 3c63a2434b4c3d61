"""``bdnn export``: a model file to bit-packed C99 (header + source) and/or ONNX."""

from __future__ import annotations

import click

from codegen.switches import SMALL_CODE, WEIGHTS_AS_CODE, switch_record
from codegen.targets.registry import target_names


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
@click.option("--raw-input", type=click.Choice(["none", "int16", "int32"]), default=None,
              help="Also export NAME_predict_i16 / _i32 for integer raw features (integer "
                   "compares only) [default: int16 or int32 when the training data were "
                   "integers of that range, else none].")
@click.option(SMALL_CODE.flag, "small_code", is_flag=True,
              help=SMALL_CODE.help + " Written as the C's default; -DBDNN_SMALL_CODE=0 "
                   "overrides it.")
@click.option(WEIGHTS_AS_CODE.flag, "weights_as_code", is_flag=True,
              help=WEIGHTS_AS_CODE.help + " Written as the C's default; "
                   "-DBDNN_WEIGHTS_AS_CODE=0 overrides it.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object on stdout: the files written.")
def command(model, c_dir, onnx_path, arduino_dir, targets, name, word_bits, onnx_float_input,
            no_hidden_outputs, raw_input, small_code, weights_as_code, as_json) -> None:
    """Export MODEL to C (--c DIR), ONNX (--onnx FILE.onnx) and/or an Arduino library
    (--arduino DIR); all files or none."""
    from ..api import export

    written = export(model, c_dir=c_dir, onnx_path=onnx_path, arduino_dir=arduino_dir,
                     name=name, word_bits=word_bits, targets=targets,
                     onnx_float_input=onnx_float_input, hidden_outputs=not no_hidden_outputs,
                     raw_input=raw_input, small_code=small_code,
                     weights_as_code=weights_as_code)
    if as_json:
        from .options import emit_json

        emit_json({"model": str(model), "written": [str(p) for p in written],
                   **switch_record({SMALL_CODE.key: small_code,
                                    WEIGHTS_AS_CODE.key: weights_as_code})})
        return
    for path in written:
        click.echo(f"wrote {path}")
