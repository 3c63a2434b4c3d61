"""The reference backend: ``Network.forward_q`` (exact int64 numpy)."""

from __future__ import annotations

import numpy as np

from bdnn.network import ForwardResult, Network

name = "numpy"
description = "Network.forward_q, exact int64 numpy (the reference)"


def available() -> tuple[bool, str]:
    return True, ""


def run(net: Network, Q: np.ndarray) -> ForwardResult:
    return net.forward_q(Q)
