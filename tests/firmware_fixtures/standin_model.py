"""A plain (not bit-packed) C rendering of a Network with the agreed generated-C API.

Used only to bring the firmware targets up before/independently of ``codegen.c_export``:
``NAME_predict_q``, ``NAME_scores_q``, ``NAME_forward_debug_q``, ``NAME_quantize``,
``NAME_predict`` and the
``NAME_N_*`` macros, const arrays in ``BDNN_STORAGE`` (PROGMEM on AVR).
"""

from __future__ import annotations

from pathlib import Path

from bdnn.network import Network


def _array(ctype: str, name: str, values) -> str:
    body = ", ".join(str(int(v)) for v in values) or "0"
    return f"static const {ctype} {name}[] BDNN_STORAGE = {{{body}}};\n"


def write_standin_model(net: Network, out_dir: Path, name: str, word_bits: int = 32) -> list[Path]:
    """Write ``NAME.h`` and ``NAME.c`` for ``net`` into ``out_dir``; return the paths."""
    up = name.upper()
    widths = [layer.n_out for layer in net.hidden_layers]
    sign = 1 if net.activation == "sign" else 0
    h = f"""#ifndef {up}_H
#define {up}_H
#include <stdint.h>
#define {up}_N_INPUTS {net.n_inputs}
#define {up}_N_CLASSES {net.n_classes}
#define {up}_N_OUTPUTS {net.output_layer.n_out}
#define {up}_N_HIDDEN_LAYERS {len(widths)}
#define {up}_N_HIDDEN_UNITS {sum(widths)}
#define {up}_MAX_LEVEL {net.quantizer.max_level}
#define {up}_SCRATCH_BYTES 0
int {name}_predict_q(const uint8_t *xq);
int {name}_scores_q(const uint8_t *xq, int32_t *scores);
int {name}_forward_debug_q(const uint8_t *xq, int32_t *scores, uint8_t *hidden_bits);
#ifndef BDNN_NO_FLOAT
void {name}_quantize(const float *x, uint8_t *xq);
int {name}_predict(const float *x);
#endif
#endif
"""
    c = [f'#include "{name}.h"\n',
         "#ifdef __AVR__\n#include <avr/pgmspace.h>\n#define BDNN_STORAGE PROGMEM\n"
         "#define RD8(p) ((int8_t)pgm_read_byte(p))\n#define RD32(p) ((int32_t)pgm_read_dword(p))\n"
         "#else\n#define BDNN_STORAGE\n#define RD8(p) (*(p))\n#define RD32(p) (*(p))\n#endif\n"]
    for i, layer in enumerate(net.layers):
        c.append(_array("int8_t", f"W{i}", layer.weights.reshape(-1)))
        c.append(_array("int32_t", f"B{i}", layer.bias))
    maxw = max(widths)
    c.append(f"#define MAXW {maxw}\n")
    c.append("""
static int fwd(const uint8_t *xq, int32_t *scores, uint8_t *hidden)
{
    uint8_t a[MAXW];
    uint8_t b[MAXW];
    uint8_t *cur = a;
    uint8_t *nxt = b;
    unsigned i, j, n_in;
    int best = 0;
""")
    n_in = net.n_inputs
    for li, layer in enumerate(net.layers):
        is_out = li == len(net.layers) - 1
        top = net.quantizer.max_level  # codes above max_level count as max_level
        hidden = "(2 * (int32_t)cur[j] - 1)" if sign else "cur[j]"
        src = f"(xq[j] > {top}u ? {top}u : xq[j])" if li == 0 else hidden
        c.append(f"""    n_in = {n_in};
    for (i = 0; i < {layer.n_out}u; i++) {{
        int32_t acc = RD32(&B{li}[i]);
        for (j = 0; j < n_in; j++) acc += (int32_t)RD8(&W{li}[i * n_in + j]) * (int32_t){src};
""")
        if is_out:
            c.append("        scores[i] = acc;\n    }\n")
        else:
            c.append("        nxt[i] = acc >= 0;\n        if (hidden) *hidden++ = nxt[i];\n    }\n"
                     "    { uint8_t *t = cur; cur = nxt; nxt = t; }\n")
        n_in = layer.n_out
    if net.output == "single":
        c.append("    best = scores[0] >= 0;\n")
    else:
        c.append(f"    for (i = 1; i < {net.output_layer.n_out}u; i++) "
                 "if (scores[i] > scores[best]) best = (int)i;\n")
    c.append("    (void)nxt;\n    return best;\n}\n")
    nout = net.output_layer.n_out
    c.append(f"""
int {name}_forward_debug_q(const uint8_t *xq, int32_t *scores, uint8_t *hidden_bits)
{{ return fwd(xq, scores, hidden_bits); }}
int {name}_scores_q(const uint8_t *xq, int32_t *scores) {{ return fwd(xq, scores, 0); }}
int {name}_predict_q(const uint8_t *xq) {{ int32_t s[{nout}]; return fwd(xq, s, 0); }}
#ifndef BDNN_NO_FLOAT
""")
    lo = ", ".join(repr(float(v)) + "f" for v in net.quantizer.lo)
    sc = ", ".join(repr(float(v)) + "f" for v in net.quantizer.scale)
    c.append(f"""static const float LO[] = {{{lo}}};
static const float SC[] = {{{sc}}};
void {name}_quantize(const float *x, uint8_t *q)
{{
    unsigned j;
    for (j = 0; j < {net.n_inputs}u; j++) {{
        float t = (x[j] - LO[j]) * SC[j];
        t = t + 0.5f;
        if (!(t == t)) q[j] = 0;
        else if (t >= {net.quantizer.max_level}.0f) q[j] = {net.quantizer.max_level};
        else if (t < 1.0f) q[j] = 0;
        else q[j] = (uint8_t)t;
    }}
}}
int {name}_predict(const float *x)
{{
    uint8_t q[{net.n_inputs}];
    {name}_quantize(x, q);
    return {name}_predict_q(q);
}}
#endif
""")
    out_dir = Path(out_dir)
    hp, cp = out_dir / f"{name}.h", out_dir / f"{name}.c"
    hp.write_text(h)
    cp.write_text("".join(c))
    return [hp, cp]
