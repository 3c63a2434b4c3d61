/* The platform of the targets that QEMU runs with semihosting (Cortex-M, RISC-V): text
 * through SYS_WRITE0, line by line, and the exit status through SYS_EXIT_EXTENDED. The
 * including platform.c defines `static uint32_t semihost(uint32_t op, const void *arg)`, its
 * architecture's trap into the debugger, first; this file is the rest. */
#ifndef SEMIHOSTING_PLATFORM_H
#define SEMIHOSTING_PLATFORM_H

#include <stdint.h>

#include "platform.h"

#define SYS_WRITE0 0x04u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

extern uint32_t _ebss;

const uint8_t platform_has_cycles = 0; /* QEMU does not model cycles; count instructions */

static char line[128];
static unsigned line_len;

void platform_init(void)
{
    line_len = 0;
}

void platform_putc(char c)
{
    if (c != '\n') {
        line[line_len++] = c;
    }
    if (c == '\n' || line_len == sizeof line - 2u) {
        line[line_len++] = '\n';
        line[line_len] = '\0';
        (void)semihost(SYS_WRITE0, line);
        line_len = 0;
    }
}

void platform_exit(int status)
{
    /* Plain SYS_EXIT (0x18) would take its argument register itself as the reason; the
     * extended call carries the status, which QEMU turns into its own exit code. */
    static uint32_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)status;
    for (;;) {
        (void)semihost(SYS_EXIT_EXTENDED, block);
    }
}

void platform_fault(void)
{
    static const char msg[] = "FAULT\n";
    (void)semihost(SYS_WRITE0, msg);
    platform_exit(255);
}

uint32_t platform_cycles(void)
{
    return 0;
}

uint8_t *platform_stack_bottom(void)
{
    return (uint8_t *)&_ebss;
}

__attribute__((noinline)) void bdnn_mark_begin(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void bdnn_mark_end(void)
{
    __asm__ volatile("" ::: "memory");
}

#endif
