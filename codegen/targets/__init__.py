"""Microcontroller targets: build the exported model into firmware, run it on an emulator
(QEMU for Cortex-M, simavr for AVR) and measure it (docs/design.md §6).

One concept per module: ``family`` (the ``TargetFamily`` and ``Target`` records),
``cortex_m`` / ``avr`` (one module per family: toolchain, Makefile settings, runner, what a
bench counts), ``registry`` (the target table), ``toolchain`` (which programs are needed and
which Debian package has them), ``vectors`` (generated test-vector headers), ``build``
(project directory + make), ``process`` (emulator runs with a hang guard), ``output``
(parsing the firmware's text), ``run_qemu`` / ``run_simavr`` (one emulator run each),
``measure`` (flash/RAM and instructions or cycles per inference), ``run_rows`` (any rows
through the firmware, for ``verify``).
"""
