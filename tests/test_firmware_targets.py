"""The exported model built for every microcontroller target and run on its emulator
(QEMU for Cortex-M, simavr for AVR): bit-exact against ``Network.forward_q``."""

from __future__ import annotations

import numpy as np
import pytest
from firmware_fixtures.helpers import (
    ALL_TARGETS,
    heaviside_single_net,
    input_rows,
    need_target,
    sign_argmax_net,
)
from firmware_fixtures.standin_model import write_standin_model

from codegen.targets.build import make, write_project
from codegen.targets.measure import run_firmware

pytestmark = pytest.mark.toolchain

NETS = {"sign-argmax": sign_argmax_net, "heaviside-single": heaviside_single_net}


def build_and_run(net, target, tmp_path, Q, model_writer=None):
    project = write_project(net, target, tmp_path, "net", Q, model_writer)
    make(project, "prog.elf")
    return run_firmware(project, net, len(Q))


def assert_bit_exact(run, net, Q):
    ref = net.forward_q(Q)
    np.testing.assert_array_equal(run.hidden, np.concatenate(ref.hidden_bits, axis=1))
    np.testing.assert_array_equal(run.scores, ref.scores)
    np.testing.assert_array_equal(run.classes, ref.class_index)
    # the firmware's own check also covers NAME_scores_q, NAME_predict_q and the float API
    assert run.mismatches == 0, f"firmware self-check failed on rows {run.error_rows}"


@pytest.mark.parametrize("net_name", list(NETS))
@pytest.mark.parametrize("target_name", ALL_TARGETS)
def test_generated_model_runs_bit_exact(target_name, net_name, tmp_path):
    target = need_target(target_name)
    net = NETS[net_name]()
    Q = input_rows(net, 120, seed=len(target_name))
    run = build_and_run(net, target, tmp_path, Q)
    assert_bit_exact(run, net, Q)
    assert run.stack_bytes is not None and 8 <= run.stack_bytes < 2048
    if not target.family.counts_from_trace:
        # the firmware times itself (AVR: Timer1 at the CPU clock): every inference takes
        # cycles, about the same for each input
        assert len(run.cycles) == len(Q) and min(run.cycles) > 100
        assert max(run.cycles) < 2 * min(run.cycles)


@pytest.mark.parametrize("target_name", ["cortex-m0", "avr"])
def test_plain_stand_in_model_runs_bit_exact(target_name, tmp_path):
    """The firmware plumbing with a plain C model written independently of codegen.c_export."""
    target = need_target(target_name)
    net = sign_argmax_net()
    Q = input_rows(net, 40, seed=5)
    run = build_and_run(net, target, tmp_path, Q, write_standin_model)
    assert_bit_exact(run, net, Q)


def test_runner_reports_a_wrong_reference(tmp_path):
    """The firmware's own check must notice when its embedded expectations are wrong."""
    target = need_target("cortex-m3")
    net = sign_argmax_net()
    Q = input_rows(net, 10, seed=6)
    project = write_project(net, target, tmp_path, "net", Q, write_standin_model)
    vectors = (tmp_path / "vectors.h").read_text()
    start = vectors.index("vec_class[")
    brace = vectors.index("{", start) + 1
    first = vectors.index(",", brace)
    wrong = (int(vectors[brace:first]) + 1) % 3
    (tmp_path / "vectors.h").write_text(f"{vectors[:brace]}\n    {wrong}{vectors[first:]}")
    make(project, "prog.elf")
    run = run_firmware(project, net, len(Q))
    assert run.mismatches == 1 and run.error_rows == [0]
