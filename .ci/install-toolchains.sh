#!/usr/bin/env bash
# Install the microcontroller toolchains and emulators the firmware tests use (docs/design.md §6).
# Idempotent: does nothing when every tool is already on PATH. Needs root (or sudo) and apt.
set -euo pipefail

PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
          gcc-avr avr-libc binutils-avr simavr clang
          gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc)
TOOLS=(arm-none-eabi-gcc arm-none-eabi-size arm-none-eabi-nm qemu-system-arm
       avr-gcc avr-size avr-nm simavr clang
       riscv64-unknown-elf-gcc riscv64-unknown-elf-size riscv64-unknown-elf-nm qemu-system-riscv32)

missing=()
for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# avr-libc, newlib and picolibc are libraries, not programs: check a file of each.
[ -f /usr/lib/avr/include/avr/io.h ] || missing+=("avr-libc")
[ -d /usr/lib/arm-none-eabi/newlib ] || missing+=("libnewlib-arm-none-eabi")
[ -f /usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs ] || missing+=("picolibc-riscv64-unknown-elf")

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-toolchains: all present (${TOOLS[*]})"
    exit 0
fi
echo "install-toolchains: missing ${missing[*]}; installing ${PACKAGES[*]}"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-toolchains: need root or sudo" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
echo "install-toolchains: done"
