"""Bad input to the firmware side: unknown target, missing toolchain, a model too large for
the target, a hanging or faulting firmware (timeout, process group killed, no zombies)."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from cli_helpers import bdnn
from firmware_fixtures.helpers import need_target, sign_argmax_net
from firmware_fixtures.standin_model import write_standin_model

from bdnn.errors import BDNNError
from bdnn.model_file import save_network
from bdnn.network import random_network
from codegen.backends import all_backends
from codegen.targets.build import make, write_project
from codegen.targets.measure import bench, run_firmware
from codegen.targets.process import EmulatorTimeout
from codegen.targets.registry import get_target
from codegen.targets.toolchain import require_toolchain


def test_unknown_target_lists_the_known_ones(tmp_path):
    with pytest.raises(BDNNError, match="known targets: cortex-m0, cortex-m3.*avr"):
        get_target("pic16")
    model = tmp_path / "m.json"
    save_network(sign_argmax_net(), model)
    proc = bdnn("bench", str(model), "--target", "esp32")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown target 'esp32'")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("value", ["0", "-48e6", "nan", "inf"])
def test_bench_refuses_a_hostile_clock(tmp_path, value):
    """--clock-hz must be a finite positive number: one error line, exit 2, before any build."""
    model = tmp_path / "m.json"
    save_network(sign_argmax_net(), model)
    proc = bdnn("bench", str(model), "--target", "avr", "--clock-hz", value)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --clock-hz") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_every_target_names_a_board_clock():
    """bench's default clock: every built-in target names the board it comes from; AVR's is
    the clock its emulator and F_CPU run at."""
    from codegen.targets.registry import TARGETS

    for t in TARGETS.values():
        assert t.clock_hz and t.clock_hz >= 1_000_000 and t.clock_board, t.name
        assert f"{t.clock_hz // 1_000_000} MHz" in t.clock_board, t.name
    assert f"-DF_CPU={get_target('avr').clock_hz}UL" in get_target("avr").cflags


def test_missing_toolchain_names_the_debian_package(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BDNNError, match="apt-get install .*gcc-avr.*simavr"):
        require_toolchain(get_target("avr"))
    with pytest.raises(BDNNError, match="gcc-arm-none-eabi.*qemu-system-arm"):
        bench(sign_argmax_net(), "cortex-m4")
    ok, reason = all_backends()["cortex-m0"].available()
    assert not ok and "arm-none-eabi-gcc" in reason
    assert all_backends()["avr"].available()[0] is False


def test_model_too_large_for_the_avr_is_refused(tmp_path):
    need_target("avr")
    net = random_network(np.random.default_rng(1), 200, [700], 3, bits=8)
    with pytest.raises(BDNNError, match=r"does not fit target avr.*32768 bytes of flash"):
        bench(net, "avr")
    # just over the limit after linking (the weights alone would fit)
    mid = random_network(np.random.default_rng(2), 100, [400, 200], 3, bits=8)
    with pytest.raises(BDNNError, match="does not fit target avr"):
        bench(mid, "avr")
    model = tmp_path / "big.json"
    save_network(net, model)
    proc = bdnn("bench", str(model), "--target", "avr")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "does not fit target avr" in proc.stderr


def _broken_writer(body: str):
    """A stand-in model whose forward pass first executes ``body`` (a hang or a fault)."""

    def write(net, out_dir, name, word_bits):
        write_standin_model(net, out_dir, name, word_bits)
        c = out_dir / f"{name}.c"
        text = c.read_text().replace("    int best = 0;\n", f"    int best = 0;\n    {body}\n", 1)
        c.write_text(text)

    return write


def _children() -> list[str]:
    out = subprocess.run(["ps", "-o", "pid=,stat=,comm=", "--ppid", str(os.getpid())],
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "ps" not in line.split()[-1]]


@pytest.mark.parametrize("target_name", ["cortex-m3", "avr", "rv32ec"])
def test_hanging_firmware_times_out_and_leaves_no_process(target_name, tmp_path, monkeypatch):
    target = need_target(target_name)
    net = sign_argmax_net()
    Q = np.zeros((2, net.n_inputs), np.uint8)
    hang = "for (;;) { __asm__ volatile(\"\"); }"
    project = write_project(net, target, tmp_path, "net", Q, _broken_writer(hang))
    make(project, "prog.elf")
    # the firmware never ends, so a short guard (set the documented way) must stop it
    monkeypatch.setenv("BDNN_EMULATOR_TIMEOUT", "2")
    with pytest.raises(EmulatorTimeout, match="did not finish within 2 s.*BDNN_EMULATOR_TIMEOUT"):
        run_firmware(project, net, len(Q))
    assert _children() == []  # the emulator's process group was killed and reaped


def test_faulting_cortex_m_firmware_is_reported(tmp_path):
    target = need_target("cortex-m3")
    net = sign_argmax_net()
    Q = np.zeros((1, net.n_inputs), np.uint8)
    fault = "*(volatile uint32_t *)0xFFFFFFF0u = 1u;"  # unmapped: a bus fault
    project = write_project(net, target, tmp_path, "net", Q, _broken_writer(fault))
    make(project, "prog.elf")
    with pytest.raises(BDNNError, match="faulted on cortex-m3"):
        run_firmware(project, net, len(Q))
