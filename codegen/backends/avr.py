"""The generated C built with avr-gcc (weights in PROGMEM) and run on an ATmega328P under
simavr."""

from __future__ import annotations

import numpy as np

from bdnn.network import ForwardResult, Network

from ..targets.registry import get_target
from ..targets.run_rows import run_rows
from ..targets.toolchain import toolchain_available

name = "avr"
description = "generated C on an ATmega328P (16 MHz) under simavr"


def available() -> tuple[bool, str]:
    return toolchain_available(get_target(name))


def run(net: Network, Q: np.ndarray) -> ForwardResult:
    """Class, scores and hidden bits computed by the firmware for each row of ``Q``."""
    return run_rows(net, Q, name)
