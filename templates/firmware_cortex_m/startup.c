/* Vector table and reset handler for a bare Cortex-M (M0/M3/M4/M7).
 *
 * Newlib's crt0 brings no Cortex-M vector table, so this file provides one. The reset handler
 * does what a real board needs: copy .data from flash to RAM, clear .bss, switch the FPU on
 * when the code was built for hard float, then call main(). Nothing here needs libc.
 */
#include <stdint.h>

extern uint32_t _sidata; /* .data load address in flash (linker script) */
extern uint32_t _sdata;
extern uint32_t _edata;
extern uint32_t _sbss;
extern uint32_t _ebss;
extern uint32_t _estack; /* top of RAM */

int main(void);
void platform_fault(void) __attribute__((noreturn));

void Reset_Handler(void) __attribute__((noreturn));
static void Default_Handler(void);

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
#if defined(__ARM_FP) && !defined(__SOFTFP__)
    /* CPACR: full access to coprocessors 10 and 11 (the FPU), before any float code runs. */
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    (void)main();
    platform_fault(); /* main() must not return */
}

/* A fault would otherwise spin forever: report it and stop the emulator. */
static void Default_Handler(void)
{
    platform_fault();
}

/* An entry is the initial stack pointer (data) or a handler (code): a union keeps both
 * pedantic C99, where a cast between data and function pointers is not allowed. */
typedef union {
    const void *stack_top;
    void (*handler)(void);
} vector_t;

__attribute__((section(".isr_vector"), used)) static const vector_t vector_table[16] = {
    {.stack_top = &_estack},
    {.handler = Reset_Handler},
    {.handler = Default_Handler}, /* NMI */
    {.handler = Default_Handler}, /* HardFault */
    {.handler = Default_Handler}, /* MemManage (M3+) */
    {.handler = Default_Handler}, /* BusFault (M3+) */
    {.handler = Default_Handler}, /* UsageFault (M3+) */
    {.handler = 0},               /* reserved */
    {.handler = 0},
    {.handler = 0},
    {.handler = 0},
    {.handler = Default_Handler}, /* SVCall */
    {.handler = Default_Handler}, /* DebugMonitor */
    {.handler = 0},               /* reserved */
    {.handler = Default_Handler}, /* PendSV */
    {.handler = Default_Handler}, /* SysTick */
};
