/* RV32 under QEMU: text and exit status through RISC-V semihosting (the Arm semihosting
 * calls, entered by the slli/ebreak/srai sequence). */
#include <stdint.h>

#include "platform.h"

static uint32_t semihost(uint32_t op, const void *arg)
{
    register uint32_t a0 __asm__("a0") = op;
    register const void *a1 __asm__("a1") = arg;
    /* The three instructions must be uncompressed and in one page: aligning the first to
     * 16 bytes keeps them together. */
    __asm__ volatile(".option push\n"
                     ".option norvc\n"
                     ".balign 16\n"
                     "slli zero, zero, 0x1f\n"
                     "ebreak\n"
                     "srai zero, zero, 7\n"
                     ".option pop"
                     : "+r"(a0)
                     : "r"(a1)
                     : "memory");
    return a0;
}

#include "semihosting_platform.h"
