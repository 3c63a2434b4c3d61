/* Cortex-M under QEMU: text and exit status through ARM semihosting (BKPT 0xAB). */
#include <stdint.h>

#include "platform.h"

static uint32_t semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#include "semihosting_platform.h"
