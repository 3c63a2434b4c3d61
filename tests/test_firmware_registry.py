"""The target table as the single source: a chip registered at run time (one call) is built,
run and measured by verify, size and bench like a built-in one; the emulator hang guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from firmware_fixtures.helpers import heaviside_single_net, need_toolchain

from bdnn.cli import main
from bdnn.errors import BDNNError
from bdnn.model_file import save_network
from codegen.backends import all_backends, backend_names
from codegen.targets import cortex_m, registry
from codegen.targets.build import write_project
from codegen.targets.measure import bench, measured_size
from codegen.targets.process import MIN_EMULATOR_TIMEOUT_S, emulator_timeout

NEW = "cortex-m3-an511"
NEW_BOARD = "ARM MPS2 AN511 (Cortex-M3 DesignStart)"


@pytest.fixture
def new_target():
    """A Cortex-M3 on another QEMU machine (mps2-an511, which no built-in target uses), with
    the family's 256 KB / 16 KB linker script: registered with one call, removed afterwards."""
    target = registry.register_target(
        cortex_m.core(NEW, "mps2-an511", NEW_BOARD, ("-mfloat-abi=soft",), 256 * 1024,
                      16 * 1024, linker_script="microbit.ld", cpu="cortex-m3")
    )
    try:
        yield target
    finally:
        registry.TARGETS.pop(NEW, None)


def test_registered_target_is_a_backend_and_a_target(new_target):
    assert registry.get_target(NEW) is new_target
    assert NEW in registry.target_names()
    assert backend_names()[-1] == NEW and all_backends()[NEW].name == NEW
    assert "under QEMU mps2-an511" in all_backends()[NEW].description
    with pytest.raises(BDNNError, match="already registered"):
        registry.register_target(new_target)


def test_registered_target_config_mk_carries_the_chip(new_target, tmp_path):
    """The family's Makefile has no per-chip table: the chip comes from config.mk."""
    project = write_project(heaviside_single_net(), new_target, tmp_path, "model")
    config = dict(
        line.split(" = ", 1) for line in (project.path / "config.mk").read_text().splitlines()
        if " = " in line
    )
    assert config["MACHINE"] == "mps2-an511" and config["BOARD_LD"] == "microbit.ld"
    assert config["ARCH"] == "-mcpu=cortex-m3 -mthumb -mfloat-abi=soft"


@pytest.mark.toolchain
def test_verify_size_and_bench_see_a_registered_target(new_target, tmp_path, capsys):
    need_toolchain(new_target)
    net = heaviside_single_net()
    model = tmp_path / "m.json"
    save_network(net, model)

    # bdnn verify: the firmware on QEMU mps2-an511 against the numpy reference, bit for bit
    with pytest.raises(SystemExit) as exc:
        main(["verify", str(model), "--random", "40", "--backends", f"numpy,{NEW}", "--json"])
    out = capsys.readouterr().out
    assert exc.value.code == 0, out
    report = {b["backend"]: b for b in json.loads(out)["backends"]}
    assert report[NEW]["status"] == "ok" and report[NEW]["rows"] == 40
    assert report[NEW]["mismatches"] == 0

    # bdnn size --target: the new target's own board and capacity; the same code as cortex-m3
    with pytest.raises(SystemExit) as exc:
        main(["size", str(model), "--target", NEW, "--json"])
    measured = json.loads(capsys.readouterr().out)["measured"]
    assert exc.value.code == 0
    assert measured["target"] == NEW and measured["board"] == NEW_BOARD
    assert measured["flash_capacity"] == 256 * 1024 and measured["ram_capacity"] == 16 * 1024
    m3 = measured_size(net, "cortex-m3")
    assert measured["flash_bytes"] == m3["flash_bytes"] > 0
    assert measured["stack_bytes"] == m3["stack_bytes"]

    # bench: the same code (same -mcpu and flags) executes the same instructions per inference
    got, ref = bench(net, NEW, n_vectors=3), bench(net, "cortex-m3", n_vectors=3)
    assert got["unit"] == "instructions" and got["per_inference"] == ref["per_inference"]


def test_emulator_hang_guard_is_generous_and_grows_with_the_work(monkeypatch):
    monkeypatch.delenv("BDNN_EMULATOR_TIMEOUT", raising=False)
    assert emulator_timeout(1) == MIN_EMULATOR_TIMEOUT_S >= 300
    assert emulator_timeout(1, traced=True) >= MIN_EMULATOR_TIMEOUT_S
    assert emulator_timeout(100_000) > emulator_timeout(1_000) >= MIN_EMULATOR_TIMEOUT_S
    assert emulator_timeout(1_000, traced=True) > emulator_timeout(1_000)


def test_emulator_hang_guard_environment_override(monkeypatch):
    monkeypatch.setenv("BDNN_EMULATOR_TIMEOUT", "7.5")
    assert emulator_timeout(100_000, traced=True) == 7.5
    for bad in ("soon", "0", "-3", "nan", "inf"):
        monkeypatch.setenv("BDNN_EMULATOR_TIMEOUT", bad)
        with pytest.raises(BDNNError, match="BDNN_EMULATOR_TIMEOUT.*positive number"):
            emulator_timeout(1)


@pytest.mark.toolchain
def test_bad_emulator_timeout_is_one_line_error(tmp_path, monkeypatch, capsys):
    """The CLI turns a bad BDNN_EMULATOR_TIMEOUT into one `error:` line, exit 2."""
    need_toolchain(registry.get_target("cortex-m3"))
    model = tmp_path / "m.json"
    save_network(heaviside_single_net(), model)
    monkeypatch.setenv("BDNN_EMULATOR_TIMEOUT", "soon")
    with pytest.raises(SystemExit) as exc:
        main(["size", str(model), "--target", "cortex-m3"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error: BDNN_EMULATOR_TIMEOUT")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_export_doc_lists_every_backend():
    """docs/export.md's backend table names exactly the registered backends, in order."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "export.md").read_text()
    table = doc[doc.index("| backend | runs |"):].split("\n\n")[0].splitlines()[2:]
    rows = [line.split("`")[1] for line in table]
    assert rows == backend_names()


def _bash_array(script: str, name: str) -> list[str]:
    start = script.index(f"\n{name}=(") + len(name) + 3
    return script[start : script.index(")", start)].split()


def test_install_script_covers_every_family():
    """.ci/install-toolchains.sh checks every program a family needs and installs the package
    of its compiler and emulator, so CI (BDNN_REQUIRE_TOOLCHAINS=1) gets every target."""
    script = (Path(__file__).resolve().parents[1] / ".ci" / "install-toolchains.sh").read_text()
    tools, packages = _bash_array(script, "TOOLS"), _bash_array(script, "PACKAGES")
    for family in registry.FAMILIES:
        needed = family.programs()
        assert set(needed) <= set(tools), family.name
        for program in (family.cc, family.emulator):
            assert family.packages[program] in packages, (family.name, program)


def test_export_doc_lists_every_target():
    """docs/export.md's target table names exactly the registered targets, in order."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "export.md").read_text()
    table = doc[doc.index("| target | chip class |"):].split("\n\n")[0].splitlines()[2:]
    assert [line.split("`")[1] for line in table] == registry.target_names()
