"""firmware_examples/ must be exactly what the package writes for the hello model, so a user
who copies an example gets the firmware that the tests and `bdnn bench` run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bdnn.model_file import load_network
from codegen.targets.build import write_project
from codegen.targets.measure import BENCH_VECTORS, random_inputs
from codegen.targets.registry import FAMILIES, get_target

EXAMPLES = Path(__file__).resolve().parents[1] / "firmware_examples"
REGENERATE = (
    "regenerate: bdnn bench firmware_examples/hello_model.json --target {t} "
    "--project-dir firmware_examples/{d} && make -C firmware_examples/{d} clean"
)


EXAMPLE_DIRS = [("cortex-m3", "cortex_m_qemu"), ("avr", "avr_atmega328p"),
                ("rv32ec", "riscv_qemu")]


def test_every_target_family_has_an_example():
    assert {get_target(t).family.name for t, _ in EXAMPLE_DIRS} == {
        f.name for f in FAMILIES}


@pytest.mark.parametrize("target_name,dirname", EXAMPLE_DIRS)
def test_example_matches_generated_project(target_name, dirname, tmp_path):
    net = load_network(EXAMPLES / "hello_model.json")
    write_project(net, get_target(target_name), tmp_path, "model",
                  random_inputs(net, BENCH_VECTORS, 0))
    generated = sorted(p.name for p in tmp_path.iterdir())
    example = EXAMPLES / dirname
    hint = REGENERATE.format(t=target_name, d=dirname)
    for name in generated:
        assert (example / name).is_file(), f"{dirname}/{name} missing; {hint}"
        assert (example / name).read_bytes() == (tmp_path / name).read_bytes(), (
            f"{dirname}/{name} differs from the generated file; {hint}"
        )
    assert (example / "README.md").is_file()
