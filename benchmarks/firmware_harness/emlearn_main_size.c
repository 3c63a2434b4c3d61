/* The smallest program that keeps the emlearn model alive: no output, no test vectors
 * (the emlearn counterpart of templates/firmware_common/main_size.c). */
#include <stdint.h>

#include "platform.h"
#include "emlearn_glue.h"

volatile float eml_input[EML_N_INPUTS];
volatile int eml_result;

int main(void)
{
    float x[EML_N_INPUTS];
    unsigned j;
    for (j = 0; j < EML_N_INPUTS; j++) {
        x[j] = eml_input[j];
    }
    eml_result = (int)EML_PREDICT(x);
    platform_exit(0);
}
