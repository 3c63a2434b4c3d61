"""Running firmware under QEMU (``qemu-system-arm`` for Cortex-M, ``qemu-system-riscv32`` for
RISC-V) with semihosting."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bdnn.errors import BDNNError

from .family import Target
from .process import Completed, emulator_timeout, run_command

FAULT_STATUS = 255  # platform_fault() in firmware_cortex_m/ and firmware_riscv/platform.c


def qemu_command(
    target: Target, elf: Path, trace_log: Path | None = None, extra_args: Sequence[str] = ()
) -> list[str]:
    """The QEMU command line that runs ``elf``; with ``trace_log``, one line per instruction.
    ``extra_args`` are the family's own options (RISC-V: ``-cpu`` with the chip's extensions)."""
    argv = [
        target.family.emulator, "-M", target.machine, *extra_args, "-nographic", "-monitor",
        "none", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf),
    ]
    if trace_log is not None:
        argv += ["-singlestep", "-d", "exec,nochain", "-D", str(trace_log)]
    return argv


def run_qemu(
    target: Target,
    elf: Path,
    timeout: float | None = None,
    trace_log: Path | None = None,
    extra_args: Sequence[str] = (),
) -> tuple[list[str], int]:
    """Run ``elf``; return its output lines and its exit status (the runner's mismatch count).

    A hang raises after ``timeout`` seconds (default: ``emulator_timeout`` of one row; the
    process group is killed); a CPU fault raises with a clear message.
    """
    if timeout is None:
        timeout = emulator_timeout(1, traced=trace_log is not None)
    result: Completed = run_command(
        qemu_command(target, Path(elf).resolve(), trace_log and Path(trace_log).resolve(),
                     extra_args),
        cwd=Path(elf).parent,
        timeout=timeout,
        what=f"QEMU ({target.machine}) running {Path(elf).name}",
    )
    # QEMU 7.2 writes semihosting text to stderr, beside its own (harmless) warnings such as
    # microbit's "Timer with period zero"; the runner's records are told apart by their tags.
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    if result.returncode == FAULT_STATUS and any(line.strip() == "FAULT" for line in lines):
        raise BDNNError(f"the firmware faulted on {target.name} (QEMU {target.machine})")
    if result.returncode < 0 or (result.returncode != 0 and not lines):
        raise BDNNError(
            f"QEMU ({target.machine}) failed with status {result.returncode}: "
            f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no output'}"
        )
    return lines, result.returncode
