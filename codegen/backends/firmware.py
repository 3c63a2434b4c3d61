"""The generated C built for a microcontroller target and run on its emulator: one verify
backend per entry of the target table (``codegen.targets.registry``), named like the target."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bdnn.network import ForwardResult, Network

from ..targets.registry import TARGETS, Target
from ..targets.run_rows import run_float_rows, run_rows
from ..targets.toolchain import toolchain_available


@dataclass(frozen=True)
class FirmwareBackend:
    """A verify backend that runs the firmware for one target on its emulator."""

    target: Target

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def description(self) -> str:
        t = self.target
        return f"generated C on {t.board} ({t.name}) under {t.family.emulator_title} {t.machine}"

    def available(self) -> tuple[bool, str]:
        return toolchain_available(self.target)

    def run(self, net: Network, Q: np.ndarray) -> ForwardResult:
        """Class, scores and hidden bits computed by the firmware for each row of ``Q``."""
        return run_rows(net, Q, self.target.name)

    def run_float(self, net: Network, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``NAME_predict``'s class and ``NAME_quantize``'s levels of each float row of ``X``."""
        return run_float_rows(net, X, self.target.name)

    def run_int(self, net: Network, Xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The raw-input API's class and levels (``NAME_predict_i16`` / ``_i32``) of each
        integer row of ``Xi``."""
        return run_float_rows(net, None, self.target.name, Xi=Xi)


def firmware_backends() -> list[FirmwareBackend]:
    """One backend per registered target, in table order."""
    return [FirmwareBackend(t) for t in TARGETS.values()]
