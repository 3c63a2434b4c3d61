/* Runs an emlearn MLP (generated C, float32) on the test vectors in emlearn_vectors.h and prints
 * every result, in the same record format and with the same markers as bdnn's
 * templates/firmware_common/runner.c, so both tools are measured by the same code:
 *   C <i> <class>             class from NAME_predict
 *   T <i> <cycles>            cycles of one NAME_predict call (boards with a cycle counter)
 *   K <bytes>                 stack bytes used by one NAME_predict call
 *   D <mismatches>            done; classes that differ from scikit-learn's
 */
#include <stdint.h>

#include "platform.h"
#include "emlearn_vectors.h"

static void put_str(const char *s)
{
    while (*s) {
        platform_putc(*s++);
    }
}

static void put_int(int32_t v)
{
    char buf[12];
    int n = 0;
    uint32_t u = v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v;
    do {
        buf[n++] = (char)('0' + (int)(u % 10u));
        u /= 10u;
    } while (u != 0u);
    if (v < 0) {
        platform_putc('-');
    }
    while (n > 0) {
        platform_putc(buf[--n]);
    }
}

static void put_record(char tag, uint16_t i)
{
    platform_putc(tag);
    platform_putc(' ');
    put_int((int32_t)i);
}

static uint32_t cycle_overhead; /* cycles of reading the counter itself */

/* One emlearn predict call between the two markers, so an instruction trace can count it. */
__attribute__((noinline)) static int timed_predict(const float *x, uint32_t *cycles)
{
    uint32_t t0;
    int c;
    bdnn_mark_begin();
    t0 = platform_cycles();
    c = (int)EML_PREDICT(x);
    *cycles = platform_cycles() - t0 - cycle_overhead;
    bdnn_mark_end();
    return c;
}

#define STACK_PROBE_BYTES 4096u

__attribute__((noinline)) static uint16_t stack_use_of_predict(const float *x)
{
    volatile uint8_t here = 0;
    uintptr_t sp = (uintptr_t)&here;
    uintptr_t top = sp - 32u;
    uintptr_t bottom = (uintptr_t)platform_stack_bottom();
    uintptr_t a;
    uint32_t cycles;
    if (top - bottom > STACK_PROBE_BYTES) {
        bottom = top - STACK_PROBE_BYTES;
    }
    for (a = bottom; a < top; a++) {
        *(volatile uint8_t *)a = 0xA5u;
    }
    (void)timed_predict(x, &cycles);
    for (a = bottom; a < top; a++) {
        if (*(volatile uint8_t *)a != 0xA5u) {
            break;
        }
    }
    return (uint16_t)(sp - a);
}

int main(void)
{
    static float x[EML_N_INPUTS];
    uint16_t mismatches = 0;
    uint16_t i;
    uint16_t j;

    platform_init();
    cycle_overhead = platform_cycles();
    cycle_overhead = platform_cycles() - cycle_overhead;
    for (i = 0; i < EML_VEC_COUNT; i++) {
        int c;
        uint32_t cycles;
        for (j = 0; j < EML_N_INPUTS; j++) {
            x[j] = VEC_READ_F32(&eml_vec_x[(uint32_t)i * EML_N_INPUTS + j]);
        }
        c = timed_predict(x, &cycles);
        put_record('C', i);
        platform_putc(' ');
        put_int(c);
        platform_putc('\n');
        if (platform_has_cycles) {
            put_record('T', i);
            platform_putc(' ');
            put_int((int32_t)cycles);
            platform_putc('\n');
        }
        if (c != (int)VEC_READ_U8(&eml_vec_class[i])) {
            mismatches++;
        }
    }
    if (EML_VEC_COUNT > 0) {
        for (j = 0; j < EML_N_INPUTS; j++) {
            x[j] = VEC_READ_F32(&eml_vec_x[j]);
        }
        put_str("K ");
        put_int(stack_use_of_predict(x));
        platform_putc('\n');
    }
    put_str("D ");
    put_int(mismatches);
    platform_putc('\n');
    platform_exit(0);
}
