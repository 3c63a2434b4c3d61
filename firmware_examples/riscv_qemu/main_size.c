/* The smallest program that keeps the model alive: no output, no libc, no test vectors.
 * Its flash/RAM footprint (size -A) is what the model costs on a real board. */
#include <stdint.h>

#include "platform.h"
#include "model_glue.h"

volatile int bdnn_result;

#ifdef SIZE_FLOAT_INPUT
/* Built with -DSIZE_FLOAT_INPUT: the program a user with raw float features has. */
volatile float bdnn_input[VEC_N_INPUTS];

int main(void)
{
    float x[VEC_N_INPUTS];
    unsigned j;
    for (j = 0; j < VEC_N_INPUTS; j++) {
        x[j] = bdnn_input[j];
    }
    bdnn_result = M_PREDICT(x);
    platform_exit(0);
}
#elif defined(SIZE_INT_INPUT)
/* Built with -DSIZE_INT_INPUT: the program a user with integer raw features (ADC or IMU
 * counts) has; NAME_predict_i16 / _i32 need no float code (built with BDNN_NO_FLOAT). */
volatile VEC_INT_T bdnn_input[VEC_N_INPUTS];

int main(void)
{
    VEC_INT_T x[VEC_N_INPUTS];
    unsigned j;
    for (j = 0; j < VEC_N_INPUTS; j++) {
        x[j] = bdnn_input[j];
    }
    bdnn_result = M_PREDICT_INT(x);
    platform_exit(0);
}
#else
volatile uint8_t bdnn_input[VEC_N_INPUTS];

int main(void)
{
    uint8_t xq[VEC_N_INPUTS];
    unsigned j;
    for (j = 0; j < VEC_N_INPUTS; j++) {
        xq[j] = bdnn_input[j];
    }
    bdnn_result = M_PREDICT_Q(xq);
    platform_exit(0);
}
#endif
