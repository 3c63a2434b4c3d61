"""Tests of the data layer: built-in sets, CSV parsing, splits, the uniform generator, CLI."""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from bdnn.data import (
    Dataset,
    builtin_info,
    builtin_names,
    fingerprint,
    load_dataset,
    make_uniform,
    paper_split,
    train_test_split,
)
from bdnn.errors import DataError

SHARED = Path("/work/shared/data/kurtz_bah_2021")
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not available")

DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
EXPECTED = {
    "iris": ((150, 4), [50, 50, 50]),
    "wine": ((178, 13), [59, 71, 48]),
    "breast-cancer": ((569, 30), [212, 357]),
    "digits": ((1797, 64), DIGIT_COUNTS),
    "bcw": ((699, 9), [458, 241]),
    "credit-card": ((30000, 23), [23364, 6636]),
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


# -- built-in sets ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_shapes_and_class_counts(name):
    shape, counts = EXPECTED[name]
    ds = load_dataset(name, split="none")
    assert ds.X.shape == shape and ds.X.dtype == np.float64 and ds.y.dtype == np.int64
    assert np.bincount(ds.y).tolist() == counts
    assert ds.n_classes == len(counts) == builtin_info(name).classes
    assert (builtin_info(name).rows, builtin_info(name).features) == shape
    assert len(ds.feature_names) == shape[1]
    assert np.isfinite(ds.X).all()


def test_builtin_names_cover_the_issue():
    names = builtin_names()
    for name in ["iris", "wine", "breast-cancer", "digits", "bcw", "credit-card"]:
        assert name in names
    assert "uniform-10" in names and "uniform-100" in names


def test_bcw_is_integers_1_to_10_with_labels_0_1():
    ds = load_dataset("bcw")
    assert ds.classes == [0, 1]
    assert ds.X.min() == 1 and ds.X.max() == 10 and np.all(ds.X == np.round(ds.X))


def test_credit_card_loads_in_a_small_multiple_of_numpys_loadtxt():
    """30,000 rows load in a few times what numpy's C CSV reader needs for the same file (a
    ratio in one run, so a busy machine slows both sides; the fastest of three interleaved
    rounds each, so that a burst of load during one measurement does not decide it)."""
    import gzip
    from importlib import resources

    path = resources.files("bdnn.data") / "files" / "default_of_credit_card_clients.csv.gz"
    t_loadtxt, elapsed = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        with gzip.open(path, "rt") as f:
            reference = np.loadtxt(f, delimiter=";")
        t_loadtxt.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ds = load_dataset("credit-card")
        elapsed.append(time.perf_counter() - t0)
        assert ds.X.shape == (30000, 23)
        np.testing.assert_array_equal(ds.X, reference[:, :-1])
    assert min(elapsed) < 6 * min(t_loadtxt), f"credit-card took {elapsed} s, loadtxt {t_loadtxt} s"


@pytest.mark.parametrize(
    "name,loader", [("iris", "load_iris"), ("wine", "load_wine"), ("digits", "load_digits")]
)
def test_sklearn_sets_equal_sklearn(name, loader):
    from sklearn import datasets

    bunch = getattr(datasets, loader)()
    ds = load_dataset(name, split="none")
    np.testing.assert_array_equal(ds.X, bunch.data)
    np.testing.assert_array_equal(ds.y, bunch.target)
    assert [str(c) for c in ds.classes] == [str(c) for c in bunch.target_names]


def test_breast_cancer_is_the_diagnostic_set():
    from sklearn.datasets import load_breast_cancer

    ds = load_dataset("breast-cancer")
    np.testing.assert_array_equal(ds.X, load_breast_cancer().data)
    assert ds.classes == ["malignant", "benign"]


def _original_files() -> list[Path]:
    return sorted(SHARED.glob("*.csv")) if SHARED.is_dir() else []


@needs_shared
def test_packaged_files_are_byte_identical_to_the_originals():
    originals = _original_files()
    assert len(originals) == 22
    files = resources.files("bdnn.data.files")
    total = 0
    for src in originals:
        packed = files.joinpath(src.name + ".gz").read_bytes()
        total += len(packed)
        assert gzip.decompress(packed) == src.read_bytes(), src.name
    assert total < 5_000_000  # "a few MB at most"


@needs_shared
@pytest.mark.parametrize(
    "spec,filename",
    [
        ("bcw", "breast-cancer-wisconsin.csv"),
        ("uniform-10", "Uniform_N10_m1000_0.csv"),
        ("uniform-10:7", "Uniform_N10_m1000_7.csv"),
        ("uniform-100:3", "Uniform_N100_m200_3.csv"),
        ("uniform-100:9", "Uniform_N100_m200_9.csv"),
    ],
)
def test_paper_sets_equal_an_independent_parse(spec, filename):
    raw = np.loadtxt(SHARED / filename, delimiter=";")
    ds = load_dataset(spec, split="none")
    np.testing.assert_array_equal(ds.X, raw[:, :-1])
    np.testing.assert_array_equal(ds.y, raw[:, -1].astype(np.int64))
    assert ds.classes == [0, 1]


def test_attribution_ships_with_the_data():
    text = resources.files("bdnn.data.files").joinpath("ATTRIBUTION.md").read_text()
    for needle in ["CC BY 4.0", "Wolberg", "Yeh", "UCI", "16 missing", "gzip"]:
        assert needle in text


def test_builtin_default_split_is_the_paper_split():
    ds = load_dataset("bcw", seed=3)
    assert ds.split.protocol == "paper"
    train, val, test = paper_split(699, 3, ds.y)
    np.testing.assert_array_equal(ds.train, train)
    np.testing.assert_array_equal(ds.val, val)
    np.testing.assert_array_equal(ds.test, test)
    Xt, yt = ds.train_part()
    np.testing.assert_array_equal(Xt, ds.X[train])
    np.testing.assert_array_equal(yt, ds.y[train])
    assert len(ds.val_part()[0]) == len(ds.test_part()[1]) == 699 // 4


# -- splits ----------------------------------------------------------------------------------
def _check_partition(n, parts):
    joined = np.concatenate(parts)
    assert len(joined) == n and np.array_equal(np.sort(joined), np.arange(n))
    for p in parts:
        assert p.dtype == np.int64 and np.all(np.diff(p) > 0)


@pytest.mark.parametrize("n", [4, 5, 7, 8, 150, 699, 1001])
@pytest.mark.parametrize("stratified", [False, True])
def test_paper_split_sizes_partition_and_determinism(n, stratified):
    y = np.arange(n) % 3 if stratified else None
    train, val, test = paper_split(n, 0, y)
    _check_partition(n, [train, val, test])
    assert len(val) == len(test) == n // 4 and len(train) == n - 2 * (n // 4)
    again = paper_split(n, 0, y)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))


def test_paper_split_differs_across_seeds():
    splits = [paper_split(150, s)[2].tobytes() for s in range(10)]
    assert len(set(splits)) == 10


def test_paper_split_is_stratified():
    y = np.repeat([0, 1, 2], [120, 60, 20])
    rng = np.random.default_rng(5)
    y = y[rng.permutation(len(y))]
    for seed in range(5):
        train, val, test = paper_split(len(y), seed, y)
        for part, frac in ((train, 0.5), (val, 0.25), (test, 0.25)):
            counts = np.bincount(y[part], minlength=3)
            expected = np.bincount(y, minlength=3) * frac
            assert np.all(np.abs(counts - expected) <= 1.0), (seed, counts, expected)


@pytest.mark.parametrize(
    "n,frac,n_test", [(2, 0.25, 1), (10, 0.25, 3), (150, 0.2, 30), (7, 0.9, 6)]
)
def test_train_test_split(n, frac, n_test):
    train, test = train_test_split(n, frac, 1)
    _check_partition(n, [train, test])
    assert len(test) == n_test
    assert np.array_equal(train_test_split(n, frac, 1)[1], test)


def test_train_test_split_differs_across_seeds():
    assert len({train_test_split(100, 0.3, s)[1].tobytes() for s in range(10)}) == 10


def test_split_protocols_through_the_loader(tmp_path):
    path = write(tmp_path, "d.csv", "".join(f"{i},{i % 2}\n" for i in range(20)))
    ds = load_dataset(path)  # CSV default: everything trains
    assert ds.split.protocol == "none" and len(ds.train) == 20 and len(ds.val) == len(ds.test) == 0
    ds = load_dataset(path, split="test", test_fraction=0.25, seed=4)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (15, 0, 5)
    ds = load_dataset(path, split="paper", seed=4)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (10, 5, 5)
    ds2 = ds.with_split("paper", 5)
    assert not np.array_equal(ds.test, ds2.test) and ds2.split.seed == 5


# -- fingerprint -----------------------------------------------------------------------------
def test_fingerprint_matches_an_independent_hash_and_is_sensitive():
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    y = np.array([0, 1, 0, 1])
    h = hashlib.sha256(b"bdnn-data-v1")
    h.update(np.array([4, 3], dtype="<i8").tobytes() + X.astype("<f8").tobytes())
    h.update(y.astype("<i8").tobytes())
    fp = fingerprint(X, y)
    assert fp == h.hexdigest()[:16] and len(fp) == 16
    assert Dataset.fingerprint(X, y) == fp
    X2 = X.copy()
    X2[2, 1] = np.nextafter(X2[2, 1], 100)
    assert fingerprint(X2, y) != fp
    assert fingerprint(X, y[::-1]) != fp
    assert fingerprint(X.reshape(3, 4), y[:3]) != fingerprint(X.reshape(4, 3)[:3], y[:3])


def test_fingerprint_of_parts_differ_and_are_stable():
    ds = load_dataset("iris", seed=0)
    fps = {fingerprint(*ds.train_part()), fingerprint(*ds.val_part()), fingerprint(*ds.test_part())}
    assert len(fps) == 3
    assert fingerprint(*load_dataset("iris", seed=0).train_part()) in fps


# -- CSV dialects ----------------------------------------------------------------------------
ROWS = [[1.5, 2.0, 0], [3.0, -4.25, 1], [5.0, 6.0, 1], [7.0, 8e3, 0]]


def _expect_rows(ds, names=None):
    np.testing.assert_array_equal(ds.X, np.array([r[:2] for r in ROWS]))
    assert ds.y.tolist() == [0, 1, 1, 0] and ds.classes == [0, 1]
    if names is not None:
        assert ds.feature_names == names


@pytest.mark.parametrize(
    "text,names",
    [
        ("a,b,label\n1.5,2,0\n3,-4.25,1\n5,6,1\n7,8e3,0\n", ["a", "b"]),
        ("1.5;2;0\n3;-4.25;1\n5;6;1\n7;8e3;0\n", ["x0", "x1"]),
        ("a\tb\tlabel\n1.5\t2\t0\n3\t-4.25\t1\n5\t6\t1\n7\t8e3\t0\n", ["a", "b"]),
        ("1.5   2  0\n 3 -4.25\t1\n5 6 1\n7 8e3 0\n", ["x0", "x1"]),
        ('"a","b","label"\r\n"1.5","2","0"\r\n3,-4.25,1\r\n5,6,1\r\n7,8e3,0\r\n', ["a", "b"]),
        ("\ufeffa, b, label\n\n1.5, 2, 0\n3, -4.25, 1\n\n5, 6, 1\n7, 8e3, 0\n\n", ["a", "b"]),
        ("1.5;2;0;\n3;-4.25;1;\n5;6;1;\n7;8e3;0;\n", ["x0", "x1"]),
    ],
    ids=["comma-header", "semicolon", "tab-header", "whitespace", "quoted-crlf", "bom-spaces",
         "trailing-delimiter"],
)  # fmt: skip
def test_csv_dialects(tmp_path, text, names):
    _expect_rows(load_dataset(write(tmp_path, "d.csv", text)), names)


def test_csv_gzip_and_explicit_options(tmp_path):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(b"0|1.5|2\n1|3|-4.25\n1|5|6\n0|7|8e3\n"))
    ds = load_dataset(path, delimiter="|", label_column=0)
    _expect_rows(ds, ["x1", "x2"])
    ds = load_dataset(str(path), delimiter="|", label_column="0")  # index given as text
    _expect_rows(ds)


@pytest.mark.parametrize("label_column", ["label", 1, -2, "1", "-2"])
def test_label_column_by_name_or_index(tmp_path, label_column):
    path = write(tmp_path, "d.csv", "a,label,b\n1.5,0,2\n3,1,-4.25\n5,1,6\n7,0,8e3\n")
    ds = load_dataset(path, label_column=label_column)
    _expect_rows(ds, ["a", "b"])


def test_forced_header(tmp_path):
    path = write(tmp_path, "d.csv", "10,20,1\n1.5,2,0\n3,-4.25,1\n5,6,1\n7,8e3,0\n")
    ds = load_dataset(path, header=True)
    _expect_rows(ds, ["10", "20"])
    assert load_dataset(path).n_rows == 5  # detection: an all-numeric first line is data


def test_string_labels_sorted(tmp_path):
    path = write(tmp_path, "d.csv", "x,y,kind\n1,2,zebra\n3,4,ant\n5,6,moth\n7,8,ant\n")
    ds = load_dataset(path)
    assert ds.classes == ["ant", "moth", "zebra"]
    assert ds.y.tolist() == [2, 0, 1, 0]
    assert ds.feature_names == ["x", "y"]


def test_numeric_labels_sorted_numerically(tmp_path):
    path = write(tmp_path, "d.csv", "1,10\n2,2\n3,-1\n4,2.0\n5,10\n")
    ds = load_dataset(path)
    assert ds.classes == [-1, 2, 10] and all(type(c) is int for c in ds.classes)
    assert ds.y.tolist() == [2, 1, 0, 1, 2]


def test_string_label_file_without_header(tmp_path):
    path = write(tmp_path, "d.csv", "5.1,3.5,setosa\n4.9,3.0,setosa\n6.3,3.3,virginica\n")
    ds = load_dataset(path)
    assert ds.n_rows == 3 and ds.classes == ["setosa", "virginica"]


def test_classes_given_reindex_the_labels(tmp_path):
    path = write(tmp_path, "d.csv", "1,2,b\n3,4,b\n")
    ds = load_dataset(path, classes=["a", "b", "c"], allow_single_class=True)
    assert ds.classes == ["a", "b", "c"] and ds.y.tolist() == [1, 1]
    ds = load_dataset(write(tmp_path, "n.csv", "1,2,1\n3,4,0\n"), classes=[0, 1, 2])
    assert ds.y.tolist() == [1, 0]
    with pytest.raises(DataError, match="not among the expected classes"):
        load_dataset(path, classes=["a", "c"])


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,kwargs,pattern",
    [
        ("", {}, "no data rows"),
        ("\n  \n\n", {}, "no data rows"),
        ("a,b,label\n", {}, "header line but no data rows"),
        ("1,2,0\n3,4,1\n5,6\n7,8,1\n", {}, "line 3 has 2 fields but line 1 has 3"),
        ("a,b,y\n1,2,0\n3,x,1\n", {}, r"line 3, column index 1 \('b'\): value 'x' is not a num"),
        ("1,2,0\n3,?,1\n", {}, r"line 2, column index 1 .*'\?' is not a number"),
        ("1,2,0\n3,,1\n", {}, "line 2, column index 1 .*empty value"),
        ("1,5;2;0\n1;2;1\n", {}, "decimal commas are not supported"),
        ("1,2,0\n3,nan,1\n", {}, "line 2, column index 1 .*NaN or infinite"),
        ("1,2,0\ninf,4,1\n", {}, "line 2, column index 0 .*NaN or infinite"),
        ("1,2,0\n3,4,1\n", {"label_column": 3}, "label column 3 not found.*-3 to 2"),
        ("a,b,y\n1,2,0\n3,4,1\n", {"label_column": "z"}, r"columns are: 0 'a', 1 'b', 2 'y'"),
        ("a,b,y\n1,2,0\n3,4,1\n", {"label_column": -4}, "label column -4 not found"),
        ("1,2,0\n3,4,0\n", {}, "single class"),
        ("1,2,0\n3,4,1\n5,6,0\n", {"split": "paper"}, "3 row.*needs at least 4"),
        ("1,2,0\n", {"split": "test", "allow_single_class": True}, "1 row.*needs at least 2"),
        ("1,2,0.5\n3,4,1\n", {}, "not a whole number"),
        ("1,2,\n3,4,1\n", {}, "empty label on line 1"),
        ("1\n2\n", {}, "only one column"),
        ('1,2,0\n3,"4,1\n', {}, "malformed CSV in the row starting on line 2"),
        ("1,2,0\n3,4,1\n", {"delimiter": "ab"}, "unknown delimiter"),
        ("1,2,0\n3,4,1\n", {"split": "random"}, "unknown split"),
        ("1,2,0\n3,4,1\n", {"split": "test", "test_fraction": 1.0}, "between 0 and 1"),
    ],
)
def test_bad_csv_inputs(tmp_path, text, kwargs, pattern):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(DataError, match=pattern) as info:
        load_dataset(path, **kwargs)
    assert "\n" not in str(info.value)


def test_malformed_first_line_is_not_taken_as_header(tmp_path):
    # Column 0 is numeric in every later line and in line 1, so line 1 is data, not a header.
    path = write(tmp_path, "d.csv", "5.1,abc,0\n4.9,3.0,0\n6.3,3.3,1\n")
    with pytest.raises(DataError, match=r"line 1, column index 1 .*'abc' is not a number"):
        load_dataset(path)


def test_missing_unreadable_and_binary_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="not found"):
        load_dataset(str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="is a directory"):
        load_dataset(tmp_path)
    (tmp_path / "b.csv").write_bytes(b"\x00\x01\x02")
    with pytest.raises(DataError, match="binary"):
        load_dataset(tmp_path / "b.csv")
    (tmp_path / "l.csv").write_bytes(b"caf\xe9,1\n2,0\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load_dataset(tmp_path / "l.csv")
    (tmp_path / "g.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="gzip"):
        load_dataset(tmp_path / "g.csv.gz")


@pytest.mark.skipif(sys.platform == "win32" or not hasattr(sys, "getuid"), reason="POSIX modes")
def test_permission_denied(tmp_path):
    import os

    if os.getuid() == 0:
        pytest.skip("root can read any file")
    path = write(tmp_path, "d.csv", "1,0\n2,1\n")
    path.chmod(0)
    with pytest.raises(DataError, match="permission denied"):
        load_dataset(path)


@pytest.mark.parametrize(
    "spec,kwargs,pattern",
    [
        ("irs", {}, "unknown data set 'irs'; built-in names are: iris, wine"),
        ("uniform-10:10", {}, "from 0 to 9"),
        ("uniform-100:x", {}, "from 0 to 9"),
        ("iris:1", {}, "no instances"),
        ("uniform-gen:10", {}, "uniform-gen:N:M"),
        ("uniform-gen:0:10:1", {}, "features must be an integer >= 1"),
        ("iris", {"label_column": 0}, "CSV files only"),
        ("iris", {"seed": -1}, "non-negative"),
        ("", {}, "no data set given"),
    ],
)
def test_bad_names_and_options(spec, kwargs, pattern):
    with pytest.raises(DataError, match=pattern):
        load_dataset(spec, **kwargs)


# -- uniform generator -----------------------------------------------------------------------
@pytest.mark.parametrize("n,m,seed", [(10, 1000, 0), (3, 31, 7), (100, 20, 2)])
def test_uniform_generator_construction(n, m, seed):
    ds = make_uniform(n, m, seed)
    assert ds.X.shape == (m, n) and ds.classes == [0, 1]
    for i in range(m):
        row, label = ds.X[i], ds.y[i]
        if i % 3 == 0:
            assert np.all((row >= 0) & (row <= 10)) and label == 1
        elif i % 3 == 1:
            assert np.all((row >= -10) & (row <= 0)) and label == 0
        else:
            assert np.all(np.abs(row) <= 1) and label in (0, 1)
    again = make_uniform(n, m, seed)
    np.testing.assert_array_equal(again.X, ds.X)
    np.testing.assert_array_equal(again.y, ds.y)
    assert not np.array_equal(make_uniform(n, m, seed + 1).X, ds.X)


def test_uniform_generator_spreads_and_mixes():
    ds = make_uniform(10, 3000, 1)
    pos, neg, mid = ds.X[0::3], ds.X[1::3], ds.X[2::3]
    assert pos.min() < 0.1 and pos.max() > 9.9 and neg.min() < -9.9 and neg.max() > -0.1
    assert 0.4 < ds.y[2::3].mean() < 0.6 and mid.min() < -0.99 and mid.max() > 0.99


@needs_shared
def test_generator_matches_the_paper_instances_construction():
    raw = np.loadtxt(SHARED / "Uniform_N100_m200_0.csv", delimiter=";")
    gen = make_uniform(100, 200, 0)
    for kind in range(3):
        # Same box per row kind and the same deterministic labels for kinds 0 and 1.
        a, b = raw[kind::3, :-1], gen.X[kind::3]
        assert (a.min() >= b.min() - 0.5) and (a.max() <= b.max() + 0.5)
    np.testing.assert_array_equal(raw[0::3, -1], gen.y[0::3])
    np.testing.assert_array_equal(raw[1::3, -1], gen.y[1::3])


def test_uniform_gen_by_name():
    ds = load_dataset("uniform-gen:4:40:3", split="none")
    np.testing.assert_array_equal(ds.X, make_uniform(4, 40, 3).X)
    assert ds.name == "uniform-gen:4:40:3"
    assert load_dataset("uniform-gen:4:40").X.shape == (40, 4)  # seed defaults to 0


# -- CLI -------------------------------------------------------------------------------------
def test_cli_datasets_table_and_json():
    from click.testing import CliRunner

    from bdnn.cli import cli

    result = CliRunner().invoke(cli, ["datasets"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["NAME", "ROWS", "FEATURES", "CLASSES"]
    assert any(ln.split()[:4] == ["bcw", "699", "9", "2"] for ln in lines)
    assert any(ln.split()[:4] == ["credit-card", "30000", "23", "2"] for ln in lines)
    result = CliRunner().invoke(cli, ["datasets", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert [d["name"] for d in data["datasets"]] == builtin_names()
    assert {d["name"]: d["rows"] for d in data["datasets"]}["digits"] == 1797
