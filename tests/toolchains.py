"""Optional toolchains in tests: skip with a clear reason, or fail when they are required.

Set ``BDNN_REQUIRE_TOOLCHAINS=1`` (e.g. in CI images that install them) to turn every skip for a
missing tool into a failure.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, package: str) -> str:
    """Return the path of executable ``name``; skip the test if it is missing (install
    ``package``), or fail instead when env ``BDNN_REQUIRE_TOOLCHAINS=1``."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found on PATH (install {package})"
    if os.environ.get("BDNN_REQUIRE_TOOLCHAINS") == "1":
        pytest.fail(message + "; BDNN_REQUIRE_TOOLCHAINS=1 requires it")
    pytest.skip(message)
