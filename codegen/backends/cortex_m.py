"""The generated C built with arm-none-eabi-gcc and run on emulated Cortex-M cores (QEMU).

One backend per core: cortex-m0 (microbit), cortex-m3 (mps2-an385), cortex-m4 (mps2-an386,
hard float) and cortex-m7 (mps2-an500). ``BACKENDS`` lists them; the module's own ``name``,
``available`` and ``run`` are the cortex-m3 one, so registering the module alone also works.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bdnn.network import ForwardResult, Network

from ..targets.registry import get_target
from ..targets.run_rows import run_rows
from ..targets.toolchain import toolchain_available


@dataclass(frozen=True)
class FirmwareBackend:
    """A verify backend that runs the firmware for one target on its emulator."""

    name: str
    description: str

    def available(self) -> tuple[bool, str]:
        return toolchain_available(get_target(self.name))

    def run(self, net: Network, Q: np.ndarray) -> ForwardResult:
        return run_rows(net, Q, self.name)


def _backend(core: str) -> FirmwareBackend:
    t = get_target(core)
    return FirmwareBackend(core, f"generated C on {t.board} ({core}) under QEMU {t.machine}")


BACKENDS = [_backend(c) for c in ("cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7")]

name = "cortex-m3"
description = BACKENDS[1].description
available = BACKENDS[1].available
run = BACKENDS[1].run
