"""Backend ``c-host-code``: the generated C built as weights as code (``BDNN_WEIGHTS_AS_CODE``
1, ``bdnn export --weights-as-code``) with the host compiler, run by the host harness.

The harness prints ``NAME_forward_debug_q``'s results (the table kernels) and exits 1 when
``NAME_predict_q`` (the code form) gives another class; the float rows run ``NAME_predict``
(the code form's own quantization of the inputs read). For a model the form is not made for
(an ensemble, a network with a predict table) the switch changes nothing: this backend then
runs the same C as ``c-host``.
"""

from __future__ import annotations

import numpy as np

from bdnn.network import ForwardResult, Network

from ..switches import WEIGHTS_AS_CODE
from . import c_host

name = "c-host-code"
description = "generated C with the weights as code (BDNN_WEIGHTS_AS_CODE 1), host compiler"
CFLAGS = (*c_host.CFLAGS, *WEIGHTS_AS_CODE.cflags(True))
available = c_host.available


def run(net: Network, Q: np.ndarray) -> ForwardResult:
    """``c_host.run`` built with ``BDNN_WEIGHTS_AS_CODE`` 1."""
    return c_host.run(net, Q, CFLAGS)


def run_float(net: Network, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``c_host.run_float`` built with ``BDNN_WEIGHTS_AS_CODE`` 1."""
    return c_host.run_float(net, X, CFLAGS)


def run_int(net: Network, Xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``c_host.run_int`` built with ``BDNN_WEIGHTS_AS_CODE`` 1."""
    return c_host.run_int(net, Xi, CFLAGS)
