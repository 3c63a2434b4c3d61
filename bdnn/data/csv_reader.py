"""Read a classification data set from a CSV file.

Rules (see docs/datasets.md):

- delimiter ``,`` ``;`` tab or runs of whitespace, detected from the first lines unless given;
- blank lines are skipped; every other line must have the same number of fields;
- the first line is a header when it has a non-numeric field and every column that is
  numeric in all later lines is non-numeric in it (so a malformed data line is reported as
  bad data, never silently taken as a header);
- the label column is the last one unless named (header name) or indexed (negative allowed);
- features must be finite numbers; labels are numbers (whole) or class names.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..atomic_files import check_input_file
from ..errors import DataError
from .dataset import Dataset
from .labels import encode_labels

WHITESPACE = "whitespace"
_CANDIDATES = ("\t", ";", ",")  # detection preference when several fit equally well
_DELIMITER_NAMES = {
    ",": ",", "comma": ",",
    ";": ";", "semicolon": ";",
    "\t": "\t", "\\t": "\t", "tab": "\t",
    " ": WHITESPACE, "space": WHITESPACE, "whitespace": WHITESPACE,
}  # fmt: skip
_SAMPLE_LINES = 50
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


def read_csv(
    path: str | Path,
    *,
    label_column: int | str | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    name: str | None = None,
) -> Dataset:
    """Load a CSV file (optionally ``.gz``) as a :class:`Dataset` with every row in training.

    ``label_column``: header name or column index (negative counts from the end); default
    the last column. ``delimiter``: ``","``, ``";"``, ``"\\t"``/``"tab"``, ``"whitespace"``
    or None to detect. ``header``: force (True/False) or None to detect.
    """
    text = _read_text(Path(path))
    return parse_csv_text(
        text,
        source=str(path),
        name=name or Path(path).name,
        label_column=label_column,
        delimiter=delimiter,
        header=header,
    )


def parse_csv_text(
    text: str,
    *,
    source: str,
    name: str,
    label_column: int | str | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
) -> Dataset:
    """Parse CSV text; ``source`` names the file in error messages. See :func:`read_csv`."""
    delim = _resolve_delimiter(delimiter) if delimiter is not None else _detect_delimiter(text)
    rows, lines = _split_rows(text, delim, source)
    if not rows:
        raise DataError(f"{source} has no data rows (the file is empty); give a CSV with data")
    cells = _rectangular(rows, lines, delim, source)

    # each column after the first row is converted once: these arrays decide the header and,
    # when every feature column converts, are the features (half the time on 30,000 rows)
    later = [_floats(cells[1:, j]) for j in range(cells.shape[1])]
    numeric_later = [col is not None for col in later]
    has_header = _is_header(cells[0], numeric_later) if header is None else bool(header)
    if has_header:
        names = [n if n else f"x{j}" for j, n in enumerate(cells[0].tolist())]
        cells, lines = cells[1:], lines[1:]
    else:
        names = [f"x{j}" for j in range(cells.shape[1])]
    if len(cells) == 0:
        raise DataError(f"{source} has a header line but no data rows; add data rows")
    if cells.shape[1] < 2:
        raise DataError(
            f"{source} has only one column (delimiter {_show(delim)}); it needs feature "
            "columns and a label column — check the delimiter"
        )

    label = _label_index(label_column, names, has_header, source)
    feature_cols = [j for j in range(cells.shape[1]) if j != label]
    X = _converted_features(later, feature_cols, cells, has_header)
    if X is None:  # some cell is not a number: _features names it
        X = _features(cells[:, feature_cols], lines, feature_cols, names, has_header, source)
    else:
        X = _checked_finite(X, cells[:, feature_cols], lines, feature_cols, names, source)
    label_desc = f"index {label} ({names[label]!r})"
    y, classes = encode_labels(cells[:, label], lines, label_desc)
    return Dataset(
        name=name,
        X=X,
        y=y,
        classes=classes,
        feature_names=[names[j] for j in feature_cols],
        source=source,
    )


# -- reading -------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    check_input_file(path, "data file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"data file {str(path)!r} not found; give an existing CSV path or a built-in data "
            "set name (see `bdnn datasets`)"
        ) from None
    except IsADirectoryError:
        raise DataError(f"{str(path)!r} is a directory, not a CSV file; give a file") from None
    except PermissionError:
        raise DataError(f"cannot read {str(path)!r}: permission denied; check its mode") from None
    except OSError as e:
        raise DataError(f"cannot read {str(path)!r}: {e.strerror or e}") from None
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise DataError(f"{str(path)!r} is not a valid gzip file ({e})") from None
    if b"\x00" in data:
        raise DataError(f"{str(path)!r} is a binary file, not a CSV text file; export it as CSV")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{str(path)!r} is not UTF-8 text (bad byte at offset {e.start}); save it as UTF-8 CSV"
        ) from None


def _resolve_delimiter(delimiter: str) -> str:
    d = _DELIMITER_NAMES.get(delimiter, _DELIMITER_NAMES.get(delimiter.lower()))
    if d is not None:
        return d
    if len(delimiter) == 1 and delimiter not in '"\r\n' and not delimiter.isalnum():
        return delimiter
    raise DataError(
        f"unknown delimiter {delimiter!r}; use ',', ';', 'tab', 'whitespace' or one "
        "punctuation character"
    )


def _detect_delimiter(text: str) -> str:
    """The candidate present on every sampled line (constant count first), else whitespace."""
    sample = [ln for ln in text.splitlines() if ln.strip()][:_SAMPLE_LINES]
    best, best_key = WHITESPACE, None
    for rank, d in enumerate(_CANDIDATES):
        counts = [ln.count(d) for ln in sample]
        if not counts or min(counts) == 0:
            continue
        key = (len(set(counts)) == 1, -rank)
        if best_key is None or key > best_key:
            best, best_key = d, key
    if best_key is None:
        # Not on every line: take a candidate on most lines (ragged rows get reported later).
        present = [
            (sum(ln.count(d) > 0 for ln in sample), -r, d) for r, d in enumerate(_CANDIDATES)
        ]
        hits, _, d = max(present)
        if hits > len(sample) // 2:
            best = d
    return best


def _split_rows(text: str, delim: str, source: str) -> tuple[list[list[str]], list[int]]:
    """Fields of every non-blank line (stripped) and each row's 1-based line number."""
    rows: list[list[str]] = []
    lines: list[int] = []
    if delim == WHITESPACE:
        for n, ln in enumerate(text.splitlines(), 1):
            fields = ln.split()
            if fields:
                rows.append(fields)
                lines.append(n)
        return rows, lines
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            rows.append([f.strip() for f in row])
            lines.append(reader.line_num)
    except csv.Error as e:
        start = lines[-1] + 1 if lines else 1  # the row that failed starts after the last good one
        raise DataError(
            f"{source}: malformed CSV in the row starting on line {start} ({e}); check its quotes"
        ) from None
    return rows, lines


def _rectangular(rows: list[list[str]], lines: list[int], delim: str, source: str) -> np.ndarray:
    width = len(rows[0])
    for row, n in zip(rows, lines, strict=True):
        if len(row) != width:
            raise DataError(
                f"{source} line {n} has {len(row)} fields but line {lines[0]} has {width} "
                f"(delimiter {_show(delim)}); every row needs the same number of columns"
            )
    cells = np.array(rows, dtype=str)
    if width > 1 and not np.any(cells[:, -1] != ""):
        cells = cells[:, :-1]  # every line ends with a delimiter: an empty trailing column
    return cells


# -- header, label and features --------------------------------------------------------------
def _floats(column: np.ndarray) -> np.ndarray | None:
    """The column as float64, or None when a cell is not a number."""
    try:
        return column.astype(np.float64)
    except ValueError:
        return None


def _converted_features(later: list[np.ndarray | None], cols: list[int], cells: np.ndarray,
                        has_header: bool) -> np.ndarray | None:
    """The feature matrix from the columns already converted, or None if a cell is not a number.

    ``later`` holds the columns below the first line; ``cells`` has the header removed, so
    without a header its first row still has to be converted.
    """
    if not cols or any(later[j] is None for j in cols):
        return None
    body = np.column_stack([later[j] for j in cols])
    if has_header:
        return body
    first = _floats(cells[0, cols])
    return None if first is None else np.vstack([first[None, :], body])


def _all_numeric(column: np.ndarray) -> bool:
    return _floats(column) is not None


def _is_number(text: str) -> bool:
    return _all_numeric(np.array([text]))


def _is_header(first: np.ndarray, numeric_later: Sequence[bool]) -> bool:
    first_numeric = [_is_number(v) for v in first.tolist()]
    if all(first_numeric):
        return False
    return not any(fn and nl for fn, nl in zip(first_numeric, numeric_later, strict=True))


def _label_index(
    label_column: int | str | None, names: list[str], has_header: bool, source: str
) -> int:
    ncol = len(names)
    if label_column is None:
        return ncol - 1
    if isinstance(label_column, bool):
        label_column = str(label_column)
    if isinstance(label_column, str):
        if has_header and label_column in names:
            return names.index(label_column)
        try:
            label_column = int(label_column.strip())
        except ValueError:
            message = _no_label_column(repr(label_column), names, has_header, source)
            raise DataError(message) from None
    if isinstance(label_column, (int, np.integer)) and -ncol <= label_column < ncol:
        return int(label_column) % ncol
    raise DataError(_no_label_column(repr(label_column), names, has_header, source))


def _no_label_column(asked: str, names: list[str], has_header: bool, source: str) -> str:
    ncol = len(names)
    index_range = f"an index from {-ncol} to {ncol - 1}"
    if not has_header:
        return (
            f"label column {asked} not found in {source}: it has no header line and {ncol} "
            f"columns; give {index_range}"
        )
    shown = ", ".join(f"{j} {n!r}" for j, n in enumerate(names[:20]))
    more = f", ... ({ncol} in all)" if ncol > 20 else ""
    return (
        f"label column {asked} not found in {source}; the columns are: {shown}{more} "
        f"(give a name or {index_range})"
    )


def _features(
    cells: np.ndarray,
    lines: list[int],
    cols: list[int],
    names: list[str],
    has_header: bool,
    source: str,
) -> np.ndarray:
    try:
        X = cells.astype(np.float64)
    except ValueError:
        raise DataError(_non_numeric(cells, lines, cols, names, has_header, source)) from None
    return _checked_finite(X, cells, lines, cols, names, source)


def _checked_finite(X: np.ndarray, cells: np.ndarray, lines: list[int], cols: list[int],
                    names: list[str], source: str) -> np.ndarray:
    """``X``, refused naming the first cell that is NaN or infinite."""
    bad = ~np.isfinite(X)
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise DataError(
            f"{source} line {lines[i]}, column index {cols[k]} ({names[cols[k]]!r}): value "
            f"{str(cells[i, k])!r} is NaN or infinite; remove or fill in that value"
        )
    return X


def _non_numeric(
    cells: np.ndarray,
    lines: list[int],
    cols: list[int],
    names: list[str],
    has_header: bool,
    source: str,
) -> str:
    """Message for the first (by line, then column) feature value that is not a number."""
    found = None
    for k in range(cells.shape[1]):
        if _all_numeric(cells[:, k]):
            continue
        i = next(i for i, v in enumerate(cells[:, k].tolist()) if not _is_number(v))
        if found is None or i < found[0]:
            found = (i, k)
    i, k = found  # type: ignore[misc]  # astype failed, so some cell is not a number
    value = str(cells[i, k])
    where = f"{source} line {lines[i]}, column index {cols[k]} ({names[cols[k]]!r})"
    if value == "":
        return f"{where}: empty value (missing); fill it in or drop the row"
    hint = "features must be numbers; check the delimiter and the label column"
    if _DECIMAL_COMMA.match(value):
        hint = "decimal commas are not supported: write 1.5, not 1,5"
    elif i == 0 and not has_header:
        hint += "; if this line is a header, every column needs a non-numeric name"
    return f"{where}: value {value!r} is not a number; {hint}"


def _show(delim: str) -> str:
    return {"\t": "tab", WHITESPACE: "whitespace"}.get(delim, repr(delim))
