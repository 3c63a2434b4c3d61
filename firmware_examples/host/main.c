/*
 * bdnn host harness: runs generated models on rows read from stdin and prints every result, so
 * that any backend can be compared bit for bit with the Python reference (`bdnn verify`).
 *
 * One model:  cc -std=c99 -DBDNN_MODEL=iris -DBDNN_MODEL_UPPER=IRIS \
 *                -DBDNN_MODEL_HEADER='"iris.h"' main.c iris.c -o harness
 *             (firmware_examples/host/Makefile does this: make MODEL=iris MODEL_DIR=out)
 * Several:    cc -std=c99 -DBDNN_MODEL_TABLE='"models.h"' main.c a.c b.c ...
 *             where models.h defines `static const bdnn_model bdnn_models[]` (bdnn writes it).
 *
 * Input, one row per line (M is the model's index in the table, 0 with one model):
 *   q M v1 .. vn     quantized inputs (integers 0 .. 255; above MAX_LEVEL count as MAX_LEVEL)
 *   f M x1 .. xn     float features (decimal, C99 hex float, nan, inf, -inf)
 * Output, one line per input line:
 *   q: class s1 .. sK | h1h2..hH     scores, then every hidden bit as a 0/1 character
 *                                    (NAME_predict_q must give the same class, else exit 1)
 *   f: class | q1 .. qn              class of NAME_predict and the quantized inputs
 * Exit status 0, or 1 on malformed input (with a message on stderr).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *name;
    int n_inputs;
    int n_outputs;
    int n_hidden_units;
    int (*forward_debug_q)(const uint8_t *xq, int32_t *scores, uint8_t *hidden_bits);
    int (*predict_q)(const uint8_t *xq);
#ifndef BDNN_NO_FLOAT
    void (*quantize)(const float *x, uint8_t *xq);
    int (*predict)(const float *x);
#endif
} bdnn_model;

#ifdef BDNN_MODEL_TABLE
#include BDNN_MODEL_TABLE
#else
#include BDNN_MODEL_HEADER
#define BDNN_CAT_(a, b) a##b
#define BDNN_CAT(a, b) BDNN_CAT_(a, b)
#define BDNN_STR_(a) #a
#define BDNN_STR(a) BDNN_STR_(a)
static const bdnn_model bdnn_models[] = {{
    BDNN_STR(BDNN_MODEL),
    BDNN_CAT(BDNN_MODEL_UPPER, _N_INPUTS),
    BDNN_CAT(BDNN_MODEL_UPPER, _N_OUTPUTS),
    BDNN_CAT(BDNN_MODEL_UPPER, _N_HIDDEN_UNITS),
    BDNN_CAT(BDNN_MODEL, _forward_debug_q),
    BDNN_CAT(BDNN_MODEL, _predict_q),
#ifndef BDNN_NO_FLOAT
    BDNN_CAT(BDNN_MODEL, _quantize),
    BDNN_CAT(BDNN_MODEL, _predict),
#endif
}};
#endif

#define N_MODELS ((int)(sizeof bdnn_models / sizeof bdnn_models[0]))

static int fail(const char *what, long line)
{
    fprintf(stderr, "harness: line %ld: %s\n", line, what);
    return 1;
}

int main(void)
{
    int max_in = 1, max_out = 1, max_hidden = 1, m, i;
    uint8_t *xq, *hidden_bits;
    int32_t *scores;
    float *x;
    long line = 0;
    char mode;
    for (m = 0; m < N_MODELS; m++) {
        if (bdnn_models[m].n_inputs > max_in) max_in = bdnn_models[m].n_inputs;
        if (bdnn_models[m].n_outputs > max_out) max_out = bdnn_models[m].n_outputs;
        if (bdnn_models[m].n_hidden_units > max_hidden) max_hidden = bdnn_models[m].n_hidden_units;
    }
    xq = malloc((size_t)max_in);
    x = malloc(sizeof(float) * (size_t)max_in);
    scores = malloc(sizeof(int32_t) * (size_t)max_out);
    hidden_bits = malloc((size_t)max_hidden);
    if (!xq || !x || !scores || !hidden_bits)
        return fail("out of memory", 0);
    while (scanf(" %c %d", &mode, &m) == 2) {
        const bdnn_model *model;
        line++;
        if (m < 0 || m >= N_MODELS)
            return fail("model index out of range", line);
        model = &bdnn_models[m];
        if (mode == 'q') {
            int c;
            for (i = 0; i < model->n_inputs; i++) {
                long v;
                if (scanf("%ld", &v) != 1 || v < 0 || v > 255)
                    return fail("expected an integer 0..255", line);
                xq[i] = (uint8_t)v;
            }
            c = model->forward_debug_q(xq, scores, hidden_bits);
            /* a predict table (or any other kernel) of predict_q must agree with the network */
            if (model->predict_q(xq) != c)
                return fail("NAME_predict_q gives another class than NAME_forward_debug_q", line);
            printf("%d", c);
            for (i = 0; i < model->n_outputs; i++)
                printf(" %ld", (long)scores[i]);
            printf(" | ");
            for (i = 0; i < model->n_hidden_units; i++)
                putchar(hidden_bits[i] ? '1' : '0');
            putchar('\n');
#ifndef BDNN_NO_FLOAT
        } else if (mode == 'f') {
            int c;
            for (i = 0; i < model->n_inputs; i++) {
                char token[80];
                char *end;
                if (scanf("%79s", token) != 1)
                    return fail("expected a number", line);
                x[i] = strtof(token, &end);
                if (*end != '\0')
                    return fail("expected a number", line);
            }
            c = model->predict(x);
            model->quantize(x, xq);
            printf("%d |", c);
            for (i = 0; i < model->n_inputs; i++)
                printf(" %d", xq[i]);
            putchar('\n');
#endif
        } else {
            return fail("a row starts with q or f", line);
        }
    }
    free(xq);
    free(x);
    free(scores);
    free(hidden_bits);
    return 0;
}
