"""Running the ``bdnn`` command line in tests: one subprocess helper and the one-line-error
check that every CLI test module uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bdnn(*args, cwd=None, env=None, **kw) -> subprocess.CompletedProcess:
    """``python -m bdnn ARGS`` (each argument passed through ``str``) from the repository root
    or ``cwd``, with ``env`` (default: this process's), its stdout and stderr captured as text."""
    return subprocess.run([sys.executable, "-m", "bdnn", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env, **kw)


def assert_one_line_error(p: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, exactly one stderr line starting with ``error: `` and holding every
    fragment, and no traceback."""
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in p.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
