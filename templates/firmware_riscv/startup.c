/* Reset code and trap handler for a bare RV32 microcontroller (rv32imc, rv32ec).
 *
 * _start sets the global and stack pointers and the trap vector, then the reset handler does
 * what a real board needs: copy .data from flash to RAM, clear .bss, call main(). Any trap
 * (illegal instruction, misaligned or bad access) reports a fault and stops the emulator.
 * Nothing here needs libc.
 */
#include <stdint.h>

extern uint32_t _sidata; /* .data load address in flash (linker script) */
extern uint32_t _sdata;
extern uint32_t _edata;
extern uint32_t _sbss;
extern uint32_t _ebss;

int main(void);
void platform_fault(void) __attribute__((noreturn));
void Reset_Handler(void) __attribute__((noreturn));
void Trap_Handler(void) __attribute__((noreturn));

/* gp must be set without linker relaxation (which would make "la gp" gp-relative itself);
 * mtvec needs a 4-byte aligned handler in direct mode. */
__asm__(".section .text.start, \"ax\", @progbits\n"
        ".globl _start\n"
        "_start:\n"
        ".option push\n"
        ".option norelax\n"
        "    la gp, __global_pointer$\n"
        ".option pop\n"
        "    la sp, _estack\n"
        "    la t0, trap_entry\n"
        ".option push\n"
        ".option arch, +zicsr\n" /* CSR access is an extension of its own to the assembler */
        "    csrw mtvec, t0\n"
        ".option pop\n"
        "    j Reset_Handler\n"
        ".balign 4\n"
        "trap_entry:\n"
        "    j Trap_Handler\n");

void Reset_Handler(void)
{
    const uint32_t *src = &_sidata;
    uint32_t *dst;
    for (dst = &_sdata; dst < &_edata; dst++) {
        *dst = *src++;
    }
    for (dst = &_sbss; dst < &_ebss; dst++) {
        *dst = 0u;
    }
    (void)main();
    platform_fault(); /* main() must not return */
}

/* A trap would otherwise loop forever: report it and stop the emulator. */
void Trap_Handler(void)
{
    platform_fault();
}
