"""Hostile command lines: each gives one ``error:`` line, exit 2, no traceback, no warning and
leaves every file as it was.

Extend the table with one line per case: ``(command line, fragment of the error line)``. In the
command line, ``{dir}`` is a scratch directory holding the files made by ``FILES`` below (model
files, CSV files, an output directory ``out/`` and a regular file ``out.json``), so a case names
them as ``{dir}/good.json``. Every case runs in-process (``bdnn.cli.main``) and must be quick:
none may get as far as training. The cases that need real processes (devices, signals) are the
tests after the table.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from bdnn.cli import main
from bdnn.model_file import load_network, network_to_dict
from bdnn.network import random_network

ROOT = Path(__file__).resolve().parents[1]
BDNN = [sys.executable, "-m", "bdnn"]


def _good_doc() -> dict:
    net = random_network(np.random.default_rng(0), 4, (3,), 3)
    return network_to_dict(net)


def _mutated(change) -> str:
    doc = _good_doc()
    change(doc)
    return json.dumps(doc)


def _set(path: list, value):
    def change(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _csv(rows: list[str]) -> str:
    return "\n".join(rows) + "\n"


_GOOD_ROWS = [f"{a},{b},{c},{d},{k}" for a, b, c, d, k in (
    (5.1, 3.5, 1.4, 0.2, 0), (4.9, 3.0, 1.4, 0.2, 0), (4.7, 3.2, 1.3, 0.2, 0),
    (7.0, 3.2, 4.7, 1.4, 1), (6.4, 3.2, 4.5, 1.5, 1), (6.9, 3.1, 4.9, 1.5, 1),
    (6.3, 3.3, 6.0, 2.5, 2), (5.8, 2.7, 5.1, 1.9, 2), (7.1, 3.0, 5.9, 2.1, 2),
    (5.0, 3.6, 1.4, 0.2, 0), (5.5, 2.3, 4.0, 1.3, 1), (6.5, 3.0, 5.8, 2.2, 2),
)]

# name -> file content (str or bytes); written into {dir} for every case
FILES: dict[str, str | bytes] = {
    "good.json": json.dumps(_good_doc()),
    "good.csv": _csv(["a,b,c,d,label", *_GOOD_ROWS]),
    "empty.json": "",
    "garbage.json": b"\xff\xfe\x00\x01binary",
    "array.json": "[1, 2, 3]",
    "truncated.json": json.dumps(_good_doc())[:50],
    "format.json": _mutated(_set(["format"], "keras")),
    "version3.json": _mutated(_set(["version"], 3)),
    "version_str.json": _mutated(_set(["version"], "1")),
    "n_inputs_neg.json": _mutated(_set(["n_inputs"], -1)),
    "n_inputs_huge.json": _mutated(_set(["n_inputs"], 10**30)),
    "n_inputs_digits.json": json.dumps(_good_doc()).replace('"n_inputs": 4',
                                                           '"n_inputs": ' + "7" * 5000),
    "nested.json": "[" * 100_000 + "]" * 100_000,
    "weight_min64.json": _mutated(_set(["layers", 0, "weights", 0, 0], -2**63)),
    "bias_min64.json": _mutated(_set(["layers", 0, "bias", 0], -2**63)),
    "weight_2_70.json": _mutated(_set(["layers", 0, "weights", 0, 0], 2**70)),
    "bias_2_70.json": _mutated(_set(["layers", 1, "bias", 0], 2**70)),
    "bias_big.json": _mutated(_set(["layers", 0, "bias", 0], 10**6)),
    "bound_2_70.json": _mutated(_set(["layers", 0, "weight_bound"], 2**70)),
    "bound_zero.json": _mutated(_set(["layers", 0, "weight_bound"], 0)),
    "weight_float.json": _mutated(_set(["layers", 0, "weights", 0, 0], 0.5)),
    "weight_bool.json": _mutated(_set(["layers", 0, "weights", 0, 0], True)),
    "bias_nan.json": json.dumps(_good_doc()).replace('"bias": [', '"bias": [NaN, ', 1),
    "scale_1e308.json": _mutated(_set(["quantizer", "scale", 0], 1e308)),
    "lo_inf.json": json.dumps(_good_doc()).replace('"lo": [', '"lo": [Infinity, ', 1),
    "bits9.json": _mutated(_set(["quantizer", "bits"], 9)),
    "classes_dup.json": _mutated(_set(["classes"], [0, 0, 1])),
    "classes_one.json": _mutated(_set(["classes"], [0])),
    "classes_float.json": _mutated(_set(["classes"], [0.5, 1, 2])),
    "no_layers.json": _mutated(_set(["layers"], [])),
    "ragged.json": _mutated(_set(["layers", 0, "weights", 1], [1])),
    "activation.json": _mutated(_set(["activation"], "relu")),
    "quantizer_short.json": _mutated(_set(["quantizer", "lo"], [0.0])),
    "empty.csv": "",
    "header_only.csv": "a,b,c,d,label\n",
    "one_class.csv": _csv(["a,b,label", "1,2,0", "3,4,0", "5,6,0"]),
    "nan.csv": _csv(["a,b,label", "1,nan,0", "3,4,1", "5,6,0", "2,2,1"]),
    "huge.csv": _csv(["a,b,label", "1,2,0", "1e308,3,1", "2,4,0", "3,1,1"]),
    "fraction.csv": _csv(["a,b,label", "1,2,0.5", "3,4,1", "5,6,0", "2,2,1"]),
    "ragged.csv": _csv(["a,b,label", "1,2,0", "3,1", "5,6,0", "2,2,1"]),
    "text_feature.csv": _csv(["a,b,label", "1,x,0", "3,4,1", "5,6,0", "2,2,1"]),
    "binary.csv": b"a,b,label\n1,2,\x000\n",
    "latin1.csv": "a,é,label\n1,2,0\n3,4,1\n".encode("latin-1"),
    "three_rows.csv": _csv(["a,b,label", "1,2,0", "3,4,1", "5,6,0"]),
    "wide.csv": _csv(["a,b,c,d,e,label", "1,2,3,4,5,0", "2,3,4,5,6,1", "3,4,5,6,7,0"]),
    "out.json": "existing output, must survive",
}

# (command line, fragment of the error line)
CASES = [
    # -- model files ----------------------------------------------------------------------
    ("info {dir}/missing.json", "does not exist"),
    ("info {dir}/modèle😀.json", "does not exist"),
    ("info {dir}/out", "is a directory"),
    ("info {dir}/empty.json", "not valid JSON"),
    ("info {dir}/garbage.json", "cannot read model file"),
    ("info {dir}/array.json", "must contain a JSON object"),
    ("info {dir}/truncated.json", "not valid JSON"),
    ("info {dir}/format.json", "not a bdnn model file"),
    ("info {dir}/version3.json", "unsupported model file version 3"),
    ("info {dir}/version_str.json", "unsupported model file version '1'"),
    ("info {dir}/n_inputs_neg.json", '"n_inputs" must be >= 1'),
    ("info {dir}/n_inputs_huge.json", '"n_inputs" must be <= 1000000'),
    ("info {dir}/n_inputs_digits.json", "thousands of digits"),
    ("info {dir}/nested.json", "nests lists or objects too deeply"),
    ("info {dir}/weight_min64.json", "a weight of -9223372036854775808 exceeds"),
    ("size {dir}/bias_min64.json", "a bias of -9223372036854775808 is beyond"),
    ("export {dir}/bias_min64.json --c {dir}/newc", "a bias of -9223372036854775808"),
    ("verify {dir}/bias_min64.json --backends numpy", "bias of -9223372036854775808"),
    ("info {dir}/weight_2_70.json", "a weight of 1180591620717411303424 exceeds"),
    ("info {dir}/bias_2_70.json", "a bias of 1180591620717411303424"),
    ("info {dir}/bias_big.json", "a bias of 1000000 is beyond the layer's bias bound"),
    ("info {dir}/bound_2_70.json", '"weight_bound" must be <= 2147483647'),
    ("info {dir}/bound_zero.json", '"weight_bound" must be >= 1'),
    ("info {dir}/weight_float.json", "weights must be a list of integers"),
    ("info {dir}/weight_bool.json", "weights must be a list of integers"),
    ("info {dir}/bias_nan.json", "bias must be a list of integers"),
    ("info {dir}/scale_1e308.json", "finite float32 numbers"),
    ("info {dir}/lo_inf.json", '"lo" must be a list of 4 numbers'),
    ("info {dir}/bits9.json", '"bits" must be <= 8'),
    ("info {dir}/classes_dup.json", "distinct"),
    ("info {dir}/classes_one.json", "at least 2 classes"),
    ("info {dir}/classes_float.json", '"classes" must be a list of strings or integers'),
    ("info {dir}/no_layers.json", "at least one hidden layer"),
    ("info {dir}/ragged.json", "same, non-zero length"),
    ("info {dir}/activation.json", "activation must be one of"),
    ("info {dir}/quantizer_short.json", '"lo" must be a list of 4 numbers'),
    # -- export, size, verify -------------------------------------------------------------
    ("export {dir}/good.json", "nothing to export"),
    ("export {dir}/good.json --onnx {dir}/m.onnx --small-code", "--small-code shapes the C"),
    ("export {dir}/good.json --c {dir}/cx --onnx-float-input", "shape the ONNX graph"),
    ("export {dir}/good.json --c {dir}/cx --no-hidden-outputs", "shape the ONNX graph"),
    ("export {dir}/good.json --onnx {dir}/nodir/m.onnx", "does not exist"),
    ("export {dir}/good.json --onnx {dir}/out", "is a directory"),
    ("export {dir}/good.json --c {dir}/out.json", "is not a directory"),
    ("export {dir}/good.json --c {dir}/nodir/deeper", "does not exist"),
    ("export {dir}/good.json --c {dir}/newc --name 1bad", "C identifier"),
    ("export {dir}/good.json --c {dir}/newc --name modèle", "C identifier"),
    ("export {dir}/good.json --c {dir}/newc --word-bits 12", "word size"),
    ("export {dir}/good.json --c {dir}/newc --word-bits -8", "word size"),
    ("export {dir}/good.json --c {dir}/newc --target nosuch", "nosuch"),
    ("export {dir}/good.json --arduino {dir}/out.json", "is not a directory"),
    ("export {dir}/good.json --onnx {dir}/m.onnx --c {dir}/out.json", "is not a directory"),
    ("size {dir}/good.json --word-bits 0", "word size"),
    ("size {dir}/good.json --target nosuch", "nosuch"),
    ("verify {dir}/good.json --backends ,", "--backends is empty"),
    ("verify {dir}/good.json --backends nosuch", "nosuch"),
    ("verify {dir}/good.json --random -1", "--random must be >= 0"),
    ("verify {dir}/good.json {dir}/wide.csv", "5 features, the model expects 4"),
    ("verify {dir}/good.json {dir}/missing.csv", "not found"),
    ("verify {dir}/good.json --random 0", "nothing to verify"),
    # -- evaluate -------------------------------------------------------------------------
    ("evaluate {dir}/good.json {dir}/wide.csv", "5 features, the model expects 4"),
    ("evaluate {dir}/good.json {dir}/good.csv --attack random", "--attack needs --eps"),
    ("evaluate {dir}/good.json {dir}/good.csv --attack random --eps -1", "--attack needs --eps"),
    ("evaluate {dir}/good.json {dir}/good.csv --attack random --eps nan", "--attack needs"),
    ("evaluate {dir}/good.json {dir}/good.csv --eps 1", "--eps only applies"),
    ("evaluate {dir}/good.json {dir}/good.csv --point-time-limit 0", "--point-time-limit"),
    ("evaluate {dir}/good.json {dir}/good.csv --part test", "test part of good.csv is empty"),
    ("evaluate {dir}/good.json {dir}/good.csv --seed -5", "'--seed': -5 is not in the range"),
    ("evaluate {dir}/good.json {dir}/good.csv --part everything", "'--part'"),
    ("evaluate {dir}/good.json iris", "not among the expected classes"),
    # -- train: sizes and numbers ---------------------------------------------------------
    ("train iris --hidden 99999999999999999999999 -o {dir}/m.json", "above the limit 100,000"),
    ("train credit-card --hidden 4000 -o {dir}/m.json", "15,000 rows x 4,002 units"),
    ("train iris --hidden 2000,2000 -o {dir}/m.json", "4,014,000 weights, above the limit"),
    ("train iris --hidden 4,4,4,4,4,4,4,4,0 -o {dir}/m.json", ">= 1"),
    ("train iris --hidden '' -o {dir}/m.json", "at least one layer"),
    ("train iris --hidden 4,,4 -o {dir}/m.json", "not a comma-separated list"),
    ("train iris --hidden -4 -o {dir}/m.json", ">= 1"),
    ("train iris --workers 100000 -o {dir}/m.json", "'--workers': 100000 is not in the range"),
    ("train iris --workers 0 -o {dir}/m.json", "'--workers': 0 is not in the range"),
    ("train iris --weight-bound 99999999 -o {dir}/m.json", "'--weight-bound'"),
    ("train iris --weight-bound -1 -o {dir}/m.json", "'--weight-bound'"),
    ("train iris --input-bits 0 -o {dir}/m.json", "'--input-bits'"),
    ("train iris --input-bits 9 -o {dir}/m.json", "'--input-bits'"),
    ("train iris --time-limit 1e300 -o {dir}/m.json", "'--time-limit'"),
    ("train iris --time-limit inf -o {dir}/m.json", "'--time-limit'"),
    ("train iris --time-limit nan -o {dir}/m.json", "finite number of seconds"),
    ("train iris --time-limit -1 -o {dir}/m.json", "'--time-limit'"),
    ("train iris --time-limit soon -o {dir}/m.json", "'--time-limit'"),
    ("train iris --seed -1 -o {dir}/m.json", "'--seed'"),
    ("train iris --seed 1099511627776 -o {dir}/m.json", "'--seed'"),
    ("train iris --robust-radius nan -o {dir}/m.json", "--robust-radius must be a finite"),
    ("train iris --robust-radius -1 -o {dir}/m.json", "'--robust-radius'"),
    ("train iris --method split --splits 0 -o {dir}/m.json", "'--splits'"),
    ("train iris --method split --batch-size 0 -o {dir}/m.json", "'--batch-size'"),
    ("train iris --method local-search --restarts 0 -o {dir}/m.json", "'--restarts'"),
    ("train iris --method magic -o {dir}/m.json", "'--method'"),
    ("train iris --sparsify --method split -o {dir}/m.json", "--sparsify works with"),
    ("train iris --output single -o {dir}/m.json", "single output unit needs"),
    # -- train: data ----------------------------------------------------------------------
    ("train irs -o {dir}/m.json", "iris"),
    ("train {dir}/empty.csv -o {dir}/m.json", "empty.csv"),
    ("train {dir}/header_only.csv -o {dir}/m.json", "header_only.csv"),
    ("train {dir}/one_class.csv -o {dir}/m.json", "single class"),
    ("train {dir}/nan.csv -o {dir}/m.json", "nan.csv"),
    ("train {dir}/huge.csv -o {dir}/m.json", "huge.csv: column 'a' ranges from 1 to 1e+308"),
    ("train {dir}/fraction.csv -o {dir}/m.json", "not a whole number"),
    ("train {dir}/ragged.csv -o {dir}/m.json", "ragged.csv"),
    ("train {dir}/text_feature.csv -o {dir}/m.json", "text_feature.csv"),
    ("train {dir}/binary.csv -o {dir}/m.json", "binary file"),
    ("train {dir}/latin1.csv -o {dir}/m.json", "not UTF-8"),
    ("train {dir}/out -o {dir}/m.json", "is a directory"),
    ("train {dir}/données😀.csv -o {dir}/m.json", "not found"),
    ("train {dir}/good.csv --label-column nosuch -o {dir}/m.json", "nosuch"),
    ("train {dir}/good.csv --label-column 99 -o {dir}/m.json", "99"),
    ("train {dir}/good.csv --split test --test-fraction 1.5 -o {dir}/m.json", "test fraction"),
    ("train {dir}/good.csv --split test --test-fraction nan -o {dir}/m.json", "test fraction"),
    ("train {dir}/three_rows.csv --split paper -o {dir}/m.json", "too few"),
    ("train {dir}/good.csv --warm-start {dir}/missing.json -o {dir}/m.json", "does not exist"),
    ("train {dir}/wide.csv --warm-start {dir}/good.json -o {dir}/m.json", "warm-start model"),
    # -- train: the output ----------------------------------------------------------------
    ("train iris -o {dir}/out", "is a directory"),
    ("train iris -o {dir}/nodir/m.json", "does not exist"),
    ("train iris --hidden 99999999999999999999999 -o {dir}/out.json", "above the limit"),
    # -- no command, bad command ----------------------------------------------------------
    ("", "no command given"),
    ("nosuch", "No such command"),
    ("train", "Missing argument"),
    ("info", "Missing argument"),
    ("info {dir}/good.json --nosuch", "No such option"),
]


def _snapshot(directory: Path) -> dict:
    """Every path under ``directory``: its type, and a hash of its content for files."""
    state = {}
    for p in sorted(directory.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else ""
        state[str(p.relative_to(directory))] = (stat.S_IFMT(st.st_mode), digest)
    return state


def _args(line: str, directory: Path) -> list[str]:
    import shlex

    return shlex.split(line.replace("{dir}", str(directory)))


@pytest.fixture
def scratch(tmp_path) -> Path:
    for name, content in FILES.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (tmp_path / name).write_bytes(data)
    (tmp_path / "out").mkdir()
    return tmp_path


def run_main(argv: list[str], capsys) -> tuple[int, str, str, list]:
    """Run the CLI in-process; returns (exit code, stdout, stderr, warnings)."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="warn"):
            try:
                main(argv)
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            finally:
                for s, h in handlers.items():
                    signal.signal(s, h)
    out, err = capsys.readouterr()
    return code, out, err, caught


def assert_one_error_line(code: int, err: str, fragment: str, expected_code: int = 2) -> None:
    assert code == expected_code, (code, err)
    assert "Traceback" not in err and "Warning" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert fragment in lines[0], (fragment, lines[0])


def test_the_list_is_long_enough():
    assert len(CASES) >= 60
    assert len({line for line, _ in CASES}) == len(CASES), "a case is listed twice"


@pytest.mark.parametrize("line, fragment", CASES, ids=[c[0] or "(none)" for c in CASES])
def test_hostile_command_line(scratch, capsys, line, fragment):
    before = _snapshot(scratch)
    code, out, err, caught = run_main(_args(line, scratch), capsys)
    assert_one_error_line(code, err, fragment)
    assert not caught, [str(w.message) for w in caught]
    assert _snapshot(scratch) == before, "a file was created, changed or removed"


# -- real processes: devices, links, full disks, signals ----------------------------------------

def as_in_a_terminal() -> None:
    """Ctrl-C's default action in the child. A shell's background job (a CI runner, a
    `cmd &`) starts with SIGINT ignored, and Python then never raises KeyboardInterrupt;
    a command a user runs in a terminal has the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def bdnn_process(*args, env=None, **kw) -> subprocess.Popen:
    return subprocess.Popen([*BDNN, *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=as_in_a_terminal, **kw)


def run_bdnn(*args, env=None) -> subprocess.CompletedProcess:
    p = bdnn_process(*args, env=env)
    out, err = p.communicate()
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def _make_device(path: Path) -> None:
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # the null device's numbers
    except PermissionError:
        pytest.skip("creating a device node needs root")


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_never_replaces_a_device_or_fifo(scratch, kind):
    """export --onnx/--c and train -o refuse a device or FIFO at the output path and leave it."""
    target = scratch / f"fake{kind}"
    if kind == "device":
        _make_device(target)
    else:
        os.mkfifo(target)
    mode = target.lstat().st_mode
    (scratch / "c").mkdir()
    os.symlink(target, scratch / "c" / "m.h")  # a C output file that is a link to it
    before = _snapshot(scratch)
    for args, fragment in [
        (("export", scratch / "good.json", "--onnx", target), "not a regular file"),
        (("export", scratch / "good.json", "--c", scratch / "c", "--name", "m"),
         "not a regular file"),
        (("train", "iris", "--hidden", "1", "--time-limit", "1", "-o", target),
         "not a regular file"),
    ]:
        p = run_bdnn(*args)
        assert_one_error_line(p.returncode, p.stderr, fragment)
        assert target.lstat().st_mode == mode
        assert _snapshot(scratch) == before


def test_symlink_to_a_regular_file_is_written_through(scratch):
    """A link to a regular file stays a link; the file it points to gets the new content."""
    real = scratch / "real.onnx"
    real.write_bytes(b"old")
    link = scratch / "link.onnx"
    os.symlink(real, link)
    p = run_bdnn("export", scratch / "good.json", "--onnx", link)
    assert p.returncode == 0, p.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    import onnx

    model = onnx.load(str(real))  # the target now holds a real ONNX graph
    assert model.graph.output[0].name
    os.symlink(scratch / "nowhere.onnx", scratch / "dangling.onnx")
    before = _snapshot(scratch)
    p = run_bdnn("export", scratch / "good.json", "--onnx", scratch / "dangling.onnx")
    assert_one_error_line(p.returncode, p.stderr, "dangling symbolic link")
    assert _snapshot(scratch) == before


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs (root only), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def _fill(directory: Path) -> None:
    """Write until the file system is full."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_full_disk_export_and_train(scratch, small_disk):
    """On a full disk: export and train give one error line and leave nothing behind; train
    refuses before training."""
    _fill(small_disk)
    before = _snapshot(small_disk)
    p = run_bdnn("export", scratch / "good.json", "--c", small_disk / "c", "--onnx",
                 small_disk / "m.onnx")
    assert_one_error_line(p.returncode, p.stderr, "No space left on device")
    assert _snapshot(small_disk) == before
    t0 = time.monotonic()
    p = run_bdnn("train", "iris", "--hidden", "2", "--time-limit", "20", "-o",
                 small_disk / "m.json")
    assert_one_error_line(p.returncode, p.stderr, "No space left on device")
    assert time.monotonic() - t0 < 20  # refused before training, not after
    assert _snapshot(small_disk) == before


def test_full_disk_after_training_keeps_a_rescue_copy(small_disk, tmp_path):
    """The disk fills while training runs: the network goes to a rescue copy, named in the
    one error line, and is the network training reported."""
    rescue_dir = tmp_path / "rescue"
    rescue_dir.mkdir()
    env = {**os.environ, "TMPDIR": str(rescue_dir)}
    p = bdnn_process("train", "iris", "--hidden", "4,4", "--time-limit", "600", "--json",
                     "-o", small_disk / "m.json", env=env)
    first = p.stderr.readline()  # the first progress line: training has started
    assert first.startswith("["), first
    _fill(small_disk)
    p.send_signal(signal.SIGINT)  # stop early; the network is kept
    out, err = p.communicate()
    lines = [line for line in (first + err).splitlines() if line.startswith("error:")]
    assert p.returncode == 2, err
    assert len(lines) == 1 and "No space left on device" in lines[0], err
    assert "Traceback" not in err
    (rescue,) = rescue_dir.glob("bdnn-rescue-*.json")
    assert str(rescue) in lines[0]
    assert not (small_disk / "m.json").exists()
    assert [x.name for x in small_disk.iterdir()] == ["filler"]  # no temp file left
    net = load_network(rescue)
    from bdnn.data import load_dataset

    X, y = load_dataset("iris", split="paper", seed=0).train_part()
    assert net.hidden_widths == (4, 4)
    assert net.training["train_errors"] == int(np.sum(net.predict(X) != y))
    assert net.training["data"] == "iris" and net.training["interrupted"] is True


def _mapped(pid: int, name: str) -> bool:
    try:
        return name in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _children(pid: int) -> list[str]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += (task / "children").read_text().split()
        except OSError:
            pass
    return out


@pytest.mark.parametrize("library", ["numpy", "ortools"])
def test_ctrl_c_while_imports_load(scratch, library):
    """Ctrl-C while numpy or OR-Tools is being loaded: one line, exit 130, no traceback.

    The command fails at once after its imports (a missing model file), so a signal that
    comes too late finds it gone (exit 2) and the attempt is repeated; any traceback fails."""
    for _attempt in range(20):
        p = bdnn_process("info", scratch / "missing.json")
        while p.poll() is None and not _mapped(p.pid, library):
            time.sleep(0.001)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        out, err = p.communicate()
        assert "Traceback" not in err, err
        if p.returncode != 2:
            break
        assert_one_error_line(p.returncode, err, "does not exist")
    assert_one_error_line(p.returncode, err, "interrupted (Ctrl-C)", expected_code=130)


@pytest.mark.toolchain
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_during_verify(scratch, tmp_path, sig, code):
    """Ctrl-C (to the whole process group, as a terminal sends it) or SIGTERM while the C
    backend compiles: one line, exit 130/143, bdnn's temporary files removed."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    p = bdnn_process("verify", scratch / "good.json", "--backends", "numpy,c-host", "--quiet",
                     env=env, start_new_session=True)
    while p.poll() is None and not _children(p.pid):  # the compiler is running
        time.sleep(0.005)
    if p.poll() is not None:
        pytest.skip(f"verify finished before a compiler started: {p.communicate()[1]}")
    if sig == signal.SIGINT:
        os.killpg(p.pid, sig)
    else:
        p.send_signal(sig)
    out, err = p.communicate()
    name = "Ctrl-C" if sig == signal.SIGINT else "SIGTERM"
    assert_one_error_line(p.returncode, err, f"interrupted ({name})", expected_code=code)
    # bdnn's own work directory is gone; (a compiler killed by SIGTERM's clean-up may leave
    # its own cc* scratch files, as after any killed gcc)
    assert [x.name for x in tmp.iterdir() if x.name.startswith("bdnn")] == []
    if sig == signal.SIGINT:
        assert list(tmp.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_train_keeps_the_best_network(tmp_path, sig):
    """SIGTERM (as `timeout` or a job scheduler sends) and Ctrl-C during training stop it and
    write the best network so far, which is the one the summary describes."""
    out_path = tmp_path / "m.json"
    p = bdnn_process("train", "iris", "--hidden", "4,4", "--time-limit", "600", "--json",
                     "-o", out_path)
    first = p.stderr.readline()
    assert first.startswith("["), first
    t0 = time.monotonic()
    p.send_signal(sig)
    out, err = p.communicate()
    assert p.returncode == 0, err
    assert "Traceback" not in err
    assert time.monotonic() - t0 < 300  # stopped, not run to the 600 s limit
    res = json.loads(out)
    assert res["interrupted"] is True
    net = load_network(out_path)
    from bdnn.data import load_dataset

    X, y = load_dataset("iris", split="paper", seed=0).train_part()
    assert res["train_errors"] == int(np.sum(net.predict(X) != y))
    assert net.training["interrupted"] is True


def test_a_closed_stdout_ends_quietly_like_a_unix_tool():
    """`bdnn datasets | head -0`: the reader is gone before bdnn writes (the pipe's read end is
    closed before the process starts, so every write fails): exit 141 as SIGPIPE would, and
    no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        p = subprocess.run([*BDNN, "datasets"], stdout=write_end, stderr=subprocess.PIPE,
                           text=True, cwd=ROOT)
    finally:
        os.close(write_end)
    assert p.returncode == 141, p.stderr
    assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr, p.stderr
