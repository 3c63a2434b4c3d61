"""All-or-nothing writing of generated files: temp names first, renames at the very end.

Only regular files are ever replaced. An existing device, FIFO, socket or directory at an output
path is refused (renaming over ``/dev/null`` as root would replace the system's device), and so
is a dangling symbolic link. A symbolic link to a regular file is written *through*: the file it
points to is replaced atomically and the link itself stays as it is.
"""

from __future__ import annotations

import errno
import os
import stat
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
