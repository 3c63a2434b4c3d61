"""The RISC-V family: QEMU's CPU has exactly the chip's ISA extensions (a multiply traps on the
rv32ec), the issue's nets fit the rv32ec's 16 KB flash and 2 KB RAM, and its instruction
counts are exact. Bit-exactness on every target is in test_firmware_targets.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from firmware_fixtures.helpers import input_rows, need_target, sign_argmax_net
from firmware_fixtures.standin_model import write_standin_model

from bdnn.errors import BDNNError
from bdnn.model_file import load_network
from codegen.plan import plan_model
from codegen.targets.build import make, write_project
from codegen.targets.measure import bench, run_firmware
from codegen.targets.riscv import qemu_cpu

MODELS = Path(__file__).resolve().parents[1] / "benchmarks" / "models"
MUL_ZERO = '__asm__ volatile(".word 0x02000033");'  # mul zero, zero, zero (M extension)


def test_qemu_cpu_has_exactly_the_march_extensions():
    ec = dict(p.split("=") for p in qemu_cpu("rv32ec").split(",")[1:])
    assert ec == {"i": "false", "e": "true", "h": "false", "m": "false", "a": "false",
                  "f": "false", "d": "false", "c": "true"}
    imc = dict(p.split("=") for p in qemu_cpu("rv32imc").split(",")[1:])
    assert {k for k, v in imc.items() if v == "true"} == {"i", "m", "c"}
    with pytest.raises(BDNNError, match="not an RV32 -march"):
        qemu_cpu("rv64gc")


def _writer_with(body: str):
    """A stand-in model whose forward pass first executes ``body``."""

    def write(net, out_dir, name, word_bits):
        write_standin_model(net, out_dir, name, word_bits)
        c = out_dir / f"{name}.c"
        text = c.read_text().replace("    int best = 0;\n", f"    int best = 0;\n    {body}\n", 1)
        c.write_text(text)

    return write


@pytest.mark.toolchain
@pytest.mark.parametrize("target_name", ["rv32imc", "rv32ec"])
def test_a_multiply_runs_on_rv32imc_and_traps_on_rv32ec(target_name, tmp_path):
    target = need_target(target_name)
    net = sign_argmax_net()
    Q = input_rows(net, 3, seed=1)
    project = write_project(net, target, tmp_path, "net", Q, _writer_with(MUL_ZERO))
    make(project, "prog.elf")
    if target_name == "rv32imc":
        run = run_firmware(project, net, len(Q))
        np.testing.assert_array_equal(run.classes, net.forward_q(Q).class_index)
        assert run.mismatches == 0
    else:
        with pytest.raises(BDNNError, match="faulted on rv32ec"):
            run_firmware(project, net, len(Q))


@pytest.mark.toolchain
def test_rv32ec_build_has_no_multiply_instruction(tmp_path):
    """The rv32ec program holds no mul, div or rem instruction (the core has none: a multiply
    would have to be libgcc's __mulsi3, and the model's integer and threshold paths need none)."""
    target = need_target("rv32ec")
    net = sign_argmax_net()
    project = write_project(net, target, tmp_path, "net", input_rows(net, 2, seed=2))
    make(project, "prog.elf")
    dump = subprocess.run(["riscv64-unknown-elf-objdump", "-d", "prog.elf"], cwd=tmp_path,
                          capture_output=True, text=True, check=True).stdout
    mnemonics = {line.split("\t")[2].strip() for line in dump.splitlines()
                 if line.count("\t") >= 2}
    assert "add" in mnemonics or "c.add" in mnemonics or "addi" in mnemonics
    assert not mnemonics & {"mul", "mulh", "mulhu", "mulhsu", "div", "divu", "rem", "remu"}


@pytest.mark.toolchain
@pytest.mark.parametrize("model", ["bcw-h8", "iris-h8"])
def test_issue_nets_fit_the_rv32ec(model):
    """bcw 9-8-2 and iris 4-8-3 run bit-exact within 16 KB flash and 2 KB RAM (stack too)."""
    need_target("rv32ec")
    net = load_network(MODELS / f"{model}.json")
    a = bench(net, "rv32ec", n_vectors=4)  # checks the outputs against numpy first
    b = bench(net, "rv32ec", n_vectors=4)
    assert (a["flash_capacity"], a["ram_capacity"]) == (16 * 1024, 2 * 1024)
    assert a["flash_bytes"] <= 16 * 1024
    assert a["ram_bytes"] + a["stack_bytes"] <= 2 * 1024
    plan = plan_model(net, 32)
    weights = sum(plan.weight_bytes(la) + plan.constant_bytes(la) for la in plan.layers)
    assert a["model_flash_bytes"] >= weights  # the packed weights are in the model object
    assert a["unit"] == "instructions"
    assert a["per_inference"] == b["per_inference"]  # the trace count is exact
    # at least one instruction per weight word and layer, far below one per weight bit * 100
    n_words = sum(la.n_out * la.n_planes * la.n_words * la.input_planes for la in plan.layers)
    assert n_words < a["per_inference"]["min"] < 100 * net.n_weights()
