"""All-or-nothing writing of generated files: temp names first, renames at the very end."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .errors import BDNNError


def check_output_dir(directory: str | os.PathLike) -> Path:
    """Return ``directory`` as a Path if it exists and is writable, else raise ``BDNNError``."""
    d = Path(directory)
    if not d.exists():
        raise BDNNError(f"output directory {d} does not exist; create it first")
    if not d.is_dir():
        raise BDNNError(f"output path {d} is not a directory")
    if not os.access(d, os.W_OK | os.X_OK):
        raise BDNNError(f"output directory {d} is not writable")
    return d


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_files(files: Mapping[str | os.PathLike, str | bytes]) -> list[Path]:
    """Write every file to a temp name in its directory, then rename them all.

    Nothing is renamed until every temp file is complete; on any error the temp files are
    removed, so a failure never leaves a half-written output.
    """
    pending: list[tuple[str, Path]] = []
    try:
        for path, content in files.items():
            p = Path(path)
            directory = check_output_dir(p.parent if str(p.parent) else ".")
            if p.is_dir():
                raise BDNNError(f"output path {p} is a directory; give a file name")
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=directory)
            except OSError as e:
                raise BDNNError(f"cannot write to {directory}: {e.strerror}") from None
            pending.append((tmp, p))
            data = content.encode("utf-8") if isinstance(content, str) else content
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
        for tmp, p in pending:
            os.replace(tmp, p)
        return [p for _, p in pending]
    except BaseException:
        for tmp, _ in pending:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise
