/* Runs the exported model on the test vectors in vectors.h and prints every result.
 *
 * Output, one record per line (no '.' anywhere: simavr shows a newline as '.'):
 *   C <i> <class>             class from NAME_forward_debug_q
 *   S <i> <score> ...         integer scores, at most 8 per line, in order
 *   H <i> <hex>               hidden bits, 4 per hex digit, unit 4k+j in bit j of digit k
 *   T <i> <cycles>            cycles of one NAME_predict_q call (boards with a cycle counter)
 *   K <bytes>                 stack bytes used by one NAME_predict_q call
 * Built with -DRUNNER_REPORTS_FLOAT, also per row (its float input):
 *   F <i> <class>             class from NAME_predict
 *   G <i> <level> ...         levels from NAME_quantize, at most 16 per line, in order
 * Built with -DRUNNER_REPORTS_INT as well, F and G report NAME_predict_i16 / _i32 and
 * NAME_quantize_i16 / _i32 of the row's integer input (vec_xi) instead.
 * Built with -DRUNNER_TIMES_PREDICT, T, K and the trace markers measure NAME_predict of the
 * row's float input instead (what a user with raw features calls); with
 * -DRUNNER_TIMES_PREDICT_INT (and -DRUNNER_REPORTS_INT), NAME_predict_i16 / _i32 of the row's
 * integer input (what a user with ADC or IMU counts calls).
 *   D <mismatches>            done; rows whose results (also NAME_predict and NAME_quantize of
 *                             the row's float input) differ from the numpy reference
 * The exit status is the mismatch count (capped at 250).
 */
#include <stdint.h>

#include "platform.h"
#include "vectors.h"

#define HIDDEN_BYTES ((VEC_N_HIDDEN + 7) / 8)

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

#if defined(RUNNER_TIMES_PREDICT) && defined(BDNN_NO_FLOAT)
#error "RUNNER_TIMES_PREDICT needs the float API (no BDNN_NO_FLOAT)"
#endif
#ifdef RUNNER_TIMES_PREDICT
static float x[VEC_N_INPUTS]; /* the current row's float input */
#endif
#if defined(RUNNER_TIMES_PREDICT_INT) && defined(BDNN_NO_FLOAT)
#error "RUNNER_TIMES_PREDICT_INT needs the float API too (its float rows are the reference)"
#endif
#if defined(RUNNER_TIMES_PREDICT_INT) && !defined(RUNNER_REPORTS_INT)
#error "RUNNER_TIMES_PREDICT_INT needs RUNNER_REPORTS_INT (the integer rows vec_xi)"
#endif
#if defined(RUNNER_TIMES_PREDICT_INT) && defined(RUNNER_TIMES_PREDICT)
#error "RUNNER_TIMES_PREDICT_INT and RUNNER_TIMES_PREDICT time different entries: give one"
#endif
#if defined(RUNNER_REPORTS_INT) && !defined(BDNN_NO_FLOAT)
static VEC_INT_T xi[VEC_N_INPUTS]; /* the current row's integer input */
#endif

/* One NAME_predict_q call (NAME_predict of x with RUNNER_TIMES_PREDICT, NAME_predict_i16 /
 * _i32 of xi with RUNNER_TIMES_PREDICT_INT) between the two markers, so an instruction trace
 * can count it. */
__attribute__((noinline)) static int timed_predict(const uint8_t *xq, uint32_t *cycles)
{
    uint32_t t0;
    int c;
    bdnn_mark_begin();
    t0 = platform_cycles();
#if defined(RUNNER_TIMES_PREDICT)
    (void)xq;
    c = M_PREDICT(x);
#elif defined(RUNNER_TIMES_PREDICT_INT)
    (void)xq;
    c = M_PREDICT_INT(xi);
#else
    c = M_PREDICT_Q(xq);
#endif
    *cycles = platform_cycles() - t0 - cycle_overhead;
    bdnn_mark_end();
    return c;
}

#define STACK_PROBE_BYTES 4096u /* deepest stack use the probe can see */

/* Paints the free stack below this frame, runs one inference, and returns how deep the
 * stack went (at most STACK_PROBE_BYTES; the window keeps instruction traces short). */
__attribute__((noinline)) static uint16_t stack_use_of_predict(const uint8_t *xq)
{
    volatile uint8_t here = 0;
    uintptr_t sp = (uintptr_t)&here; /* about the stack pointer of this frame */
    uintptr_t top = sp - 32u;        /* keep clear of this frame */
    uintptr_t bottom = (uintptr_t)platform_stack_bottom();
    uintptr_t a;
    uint32_t cycles;
    if (top - bottom > STACK_PROBE_BYTES) {
        bottom = top - STACK_PROBE_BYTES;
    }
    for (a = bottom; a < top; a++) {
        *(volatile uint8_t *)a = 0xA5u;
    }
    (void)timed_predict(xq, &cycles);
    for (a = bottom; a < top; a++) {
        if (*(volatile uint8_t *)a != 0xA5u) {
            break;
        }
    }
    return (uint16_t)(sp - a);
}

int main(void)
{
    static uint8_t xq[VEC_N_INPUTS];
    static int32_t scores[VEC_N_OUTPUTS];
    static int32_t scores2[VEC_N_OUTPUTS];
    static uint8_t hidden[VEC_N_HIDDEN];
#if !defined(BDNN_NO_FLOAT) && !defined(RUNNER_TIMES_PREDICT)
    static float x[VEC_N_INPUTS];
#endif
    uint16_t mismatches = 0;
    uint16_t i;
    uint16_t j;

    platform_init();
    cycle_overhead = platform_cycles();
    cycle_overhead = platform_cycles() - cycle_overhead;
    for (i = 0; i < VEC_COUNT; i++) {
        int c;
        int c2;
        int bad = 0;
        uint32_t cycles;
        for (j = 0; j < VEC_N_INPUTS; j++) {
            xq[j] = VEC_READ_U8(&vec_xq[(uint32_t)i * VEC_N_INPUTS + j]);
        }
        c = M_FORWARD_DEBUG_Q(xq, scores, hidden);
        put_record('C', i);
        platform_putc(' ');
        put_int(c);
        platform_putc('\n');
        bad |= c != (int)VEC_READ_U8(&vec_class[i]);
        for (j = 0; j < VEC_N_OUTPUTS; j++) {
            if (j % 8u == 0u) {
                if (j != 0u) {
                    platform_putc('\n');
                }
                put_record('S', i);
            }
            platform_putc(' ');
            put_int(scores[j]);
            bad |= scores[j] != VEC_READ_I32(&vec_scores[(uint32_t)i * VEC_N_OUTPUTS + j]);
        }
        platform_putc('\n');
        for (j = 0; j < VEC_N_HIDDEN; j += 4u) {
            uint16_t k;
            unsigned digit = 0;
            if (j % 64u == 0u) {
                if (j != 0u) {
                    platform_putc('\n');
                }
                put_record('H', i);
                platform_putc(' ');
            }
            for (k = 0; k < 4u && j + k < VEC_N_HIDDEN; k++) {
                digit |= (unsigned)(hidden[j + k] & 1u) << k;
            }
            platform_putc("0123456789abcdef"[digit]);
        }
        platform_putc('\n');
        for (j = 0; j < VEC_N_HIDDEN; j++) {
            uint8_t packed = VEC_READ_U8(&vec_hidden[(uint32_t)i * HIDDEN_BYTES + j / 8u]);
            bad |= hidden[j] != ((packed >> (j % 8u)) & 1u);
        }
        /* The other entry points must agree with the debug pass. */
        c2 = M_SCORES_Q(xq, scores2);
        bad |= c2 != c;
        for (j = 0; j < VEC_N_OUTPUTS; j++) {
            bad |= scores2[j] != scores[j];
        }
#ifndef BDNN_NO_FLOAT
        for (j = 0; j < VEC_N_INPUTS; j++) {
            x[j] = VEC_READ_F32(&vec_x[(uint32_t)i * VEC_N_INPUTS + j]);
        }
#ifdef RUNNER_REPORTS_INT
        /* vec_x holds the same values as floats, so the expected results are shared */
        for (j = 0; j < VEC_N_INPUTS; j++) {
            xi[j] = VEC_READ_INT(&vec_xi[(uint32_t)i * VEC_N_INPUTS + j]);
        }
#endif
#endif
#if defined(RUNNER_TIMES_PREDICT) || defined(RUNNER_TIMES_PREDICT_INT)
        bad |= timed_predict(xq, &cycles) != (int)VEC_READ_U8(&vec_float_class[i]);
#else
        bad |= timed_predict(xq, &cycles) != c;
#endif
        if (platform_has_cycles) {
            put_record('T', i);
            platform_putc(' ');
            put_int((int32_t)cycles);
            platform_putc('\n');
        }
#ifndef BDNN_NO_FLOAT
        c2 = M_PREDICT(x);
        bad |= c2 != (int)VEC_READ_U8(&vec_float_class[i]);
        M_QUANTIZE(x, xq);
        for (j = 0; j < VEC_N_INPUTS; j++) {
            bad |= xq[j] != VEC_READ_U8(&vec_float_xq[(uint32_t)i * VEC_N_INPUTS + j]);
        }
#ifdef RUNNER_REPORTS_INT
        /* The integer raw-input API on the row's integer input (xi, read above); its results
         * are the ones reported. */
        c2 = M_PREDICT_INT(xi);
        bad |= c2 != (int)VEC_READ_U8(&vec_float_class[i]);
        M_QUANTIZE_INT(xi, xq);
        for (j = 0; j < VEC_N_INPUTS; j++) {
            bad |= xq[j] != VEC_READ_U8(&vec_float_xq[(uint32_t)i * VEC_N_INPUTS + j]);
        }
#endif
#ifdef RUNNER_REPORTS_FLOAT
        put_record('F', i);
        platform_putc(' ');
        put_int(c2);
        platform_putc('\n');
        for (j = 0; j < VEC_N_INPUTS; j++) {
            if (j % 16u == 0u) {
                if (j != 0u) {
                    platform_putc('\n');
                }
                put_record('G', i);
            }
            platform_putc(' ');
            put_int(xq[j]);
        }
        platform_putc('\n');
#endif
#endif
        if (bad) {
            mismatches++;
            put_record('E', i);
            platform_putc('\n');
        }
    }
    if (VEC_COUNT > 0) {
        for (j = 0; j < VEC_N_INPUTS; j++) {
            xq[j] = VEC_READ_U8(&vec_xq[j]);
#ifdef RUNNER_TIMES_PREDICT
            x[j] = VEC_READ_F32(&vec_x[j]);
#endif
#ifdef RUNNER_TIMES_PREDICT_INT
            xi[j] = VEC_READ_INT(&vec_xi[j]);
#endif
        }
        put_str("K ");
        put_int(stack_use_of_predict(xq));
        platform_putc('\n');
    }
    put_str("D ");
    put_int(mismatches);
    platform_putc('\n');
    platform_exit(mismatches > 250u ? 250 : (int)mismatches);
}
