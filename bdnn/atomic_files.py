"""All-or-nothing writing of generated files: temp names first, renames at the very end.

Only regular files are ever replaced. An existing device, FIFO, socket or directory at an output
path is refused (renaming over ``/dev/null`` as root would replace the system's device), and so
is a dangling symbolic link. A symbolic link to a regular file is written *through*: the file it
points to is replaced atomically and the link itself stays as it is.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def resolve_output_file(path: str | os.PathLike) -> Path:
    """The regular file that writing ``path`` replaces, after checking it may be replaced.

    Returns ``path`` itself, or for a symbolic link to a regular file the file it points to.
    Raises ``BDNNError`` for a missing or unwritable directory, a directory, device, FIFO or
    socket at ``path``, and a dangling link.
    """
    p = Path(path)
    target = p
    if p.is_symlink():
        target = Path(os.path.realpath(p))
        if not target.exists():
            raise BDNNError(f"output path {p} is a dangling symbolic link; remove it or give "
                            "another file name")
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise BDNNError(f"cannot use output path {p}: {e.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise BDNNError(f"output path {p} is {_kind(mode)}, not a regular file; give a file "
                        "name")
    check_output_dir(target.parent if str(target.parent) else ".")
    return target


def check_input_file(path: str | os.PathLike, what: str) -> None:
    """Refuse a device or socket given as an input file (``/dev/zero`` would be read forever).

    Missing paths and directories are left to the reader's own messages; FIFOs are allowed
    (``<(...)`` in a shell is one).
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        raise BDNNError(f"{what} {path} is {_kind(mode)}, not a file; give a regular file")


def read_json_file(path: str | os.PathLike, what: str, max_bytes: int,
                   error: type[BDNNError] = BDNNError) -> Any:
    """The JSON document in ``path`` (a ``what``: "model file", "certificate"), every problem
    a one-line ``error``: missing, a directory or device, larger than ``max_bytes``, unreadable,
    not UTF-8, not JSON, nested too deeply or holding a number Python will not convert."""
    p = Path(path)
    check_input_file(p, what)
    try:
        if p.is_file() and p.stat().st_size > max_bytes:
            raise error(f"{what} {p} is {p.stat().st_size:,} bytes, more than any bdnn {what} "
                        f"({max_bytes:,}); is it a {what}?")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} {p} does not exist") from None
    except IsADirectoryError:
        raise error(f"{what} {p} is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or e
        raise error(f"cannot read {what} {p}: {reason}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{what} {p} is not valid JSON (line {e.lineno}: {e.msg})") from None
    except RecursionError:
        raise error(f"{what} {p} nests lists or objects too deeply") from None
    except ValueError:  # an integer with more digits than Python converts (4,300)
        raise error(f"{what} {p} holds a number with thousands of digits; it is not a bdnn "
                    f"{what}") from None


def write_error(path: str | os.PathLike, e: OSError) -> BDNNError:
    """A one-line error for a failed write (disk full, quota, I/O error)."""
    reason = e.strerror or str(e)
    hint = ("; free some space or write elsewhere"
            if e.errno in (errno.ENOSPC, errno.EDQUOT) else "")
    return BDNNError(f"cannot write {path}: {reason}{hint}; nothing was written")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_files(files: Mapping[str | os.PathLike, str | bytes]) -> list[Path]:
    """Write every file to a temp name in its directory, then rename them all.

    Nothing is renamed until every temp file is complete; on any error (including a full disk
    or Ctrl-C) the temp files are removed, so a failure never leaves a half-written output.
    Returns the paths as given.
    """
    pending: list[tuple[str, Path, Path]] = []
    try:
        targets = [(Path(path), resolve_output_file(path), content)
                   for path, content in files.items()]
        for p, target, content in targets:
            directory = target.parent if str(target.parent) else Path(".")
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                           dir=directory)
            except OSError as e:
                raise BDNNError(f"cannot write to {directory}: {e.strerror}") from None
            pending.append((tmp, target, p))
            data = content.encode("utf-8") if isinstance(content, str) else content
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o666 & ~_umask())
            except OSError as e:
                raise write_error(p, e) from None
        for tmp, target, p in pending:
            try:
                os.replace(tmp, target)
            except OSError as e:
                raise write_error(p, e) from None
        return [p for _, _, p in pending]
    except BaseException:
        for tmp, _, _ in pending:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise
