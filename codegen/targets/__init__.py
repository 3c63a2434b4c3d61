"""Microcontroller targets: build the exported model into firmware, run it on an emulator
(QEMU for Cortex-M, simavr for AVR) and measure it (DESIGN §6).

One concept per module: ``registry`` (the target table), ``toolchain`` (which programs are
needed and which Debian package has them), ``vectors`` (generated test-vector headers),
``build`` (project directory + make), ``process`` (emulator runs with a timeout),
``output`` (parsing the firmware's text), ``run_qemu`` / ``run_simavr`` (one run each),
``measure`` (flash/RAM and instructions or cycles per inference).
"""
