/*
 * test_gpu_model.c -- the policy on the GPU (gpu_model.h) held to its CPU
 * reference: host/model.c (forward logits and every weight gradient),
 * host/logprob.c (the SFT cross-entropy), host/optim.c (AdamW), and each
 * kernel entry point to plain loops that restate host/model.c's formulas.
 * Without a device, or in a build without CUDA, it prints a TAP skip plan
 * and exits 77. (tests/test_gpu_model_host.cu checks the same graph and
 * arithmetic on the CPU everywhere.)
 *
 * Inputs are seeded pseudo-random values; shapes include odd sizes, a
 * vocabulary that is not a multiple of the 256-thread block, a single row,
 * grouped and plain multi-head attention, tied and untied heads, with and
 * without biases, rows outside the loss.
 *
 * Tolerances (|gpu - cpu| <= A * max|cpu over the tensor| + R * |cpu|):
 *  - kernels (fp32, one operation): A = 1e-6, R = 1e-5: the same float
 *    expressions; only reductions add in another order and the device's
 *    expf/logf differ by up to 2 ulp.
 *  - the whole model in fp32 (TF32 off): A = 5e-5, R = 5e-4: cuBLAS adds
 *    products in its own order and with fused multiply-adds, and that
 *    rounding (about 1e-6 relative per product of depth 64-176) passes
 *    through two layers, attention and the norms; test_model.c allows
 *    2e-5 / 2e-4 for float32 against float64, and the GPU adds its own.
 *  - the whole model in bf16: relative L2 error per tensor <= 5e-2 (bf16
 *    keeps 8 significant bits; both operands of every linear product are
 *    rounded; see test_gpu_model_host.cu, which measures about 1-2% for
 *    the same shapes in emulation).
 *  - AdamW: 1e-6 absolute on the parameters (same expressions; the norm is
 *    a double sum in another order). Its state (moments and step count)
 *    downloaded and uploaded comes back bit for bit; a model resumed from it
 *    steps as host/optim.c does from the same state, within the same 1e-6.
 *  - the forward-only model (RLVR_GPU_FORWARD_ONLY): its logits are the
 *    training model's bit for bit (the same operations on the same inputs;
 *    the forward has no atomics and cuBLAS is deterministic for the same
 *    shapes), in less memory; the calls that need gradients are refused.
 *  - the model without logits (RLVR_GPU_NO_LOGITS) with forward_hidden, the
 *    GRPO loss fused with the LM head and backward_hidden, against the
 *    model with logits, rlvr_gpu_grpo_loss_dev and backward: h bit for
 *    bit (the same operations), h W^T (on the host, in double; in bf16 on h
 *    and W rounded to bf16 as the product reads them) against the logits
 *    at the whole model's tolerance, the
 *    loss within 1e-5 relative, the weight gradients at the whole model's
 *    tolerance in fp32 and within 5e-3 relative L2 in bf16 (other fp32
 *    summation orders: cublasGemmEx chunk by chunk against one strided
 *    batched product). Set without a GPU run: tighten after the first.
 *  - generation (rlvr_gpu_model_step vs rlvr_model_step, the scenario of
 *    test_gpu_model_step.h, and a 300-row prompt): the whole model's fp32
 *    tolerance, A = 5e-5, R = 5e-4 (the same products; decoding attention
 *    sums with an online softmax over 4 warps' parts instead of attend_row's
 *    two passes); bf16 as the whole model's.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "grpo.h"
#include "model.h"
#include "optim.h"
#include "tap.h"
#include "test_gpu_model_step.h"

static char err[512];
static uint64_t rng = 0x853c49e6748fea9bull;

static double uniform(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static float noise(void)
{
    return (float)(2.0 * uniform() - 1.0);
}

static void fill(float *x, size_t n, float scale, float shift)
{
    for (size_t i = 0; i < n; i++) x[i] = scale * noise() + shift;
}

static double worst(const float *got, const float *want, size_t n, double A, double R)
{
    double scale = 0, w = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (!isfinite((double)got[i])) e = INFINITY;
        w = fmax(w, e / (A * scale + R * fabs((double)want[i]) + 1e-30));
    }
    return w;
}

static double rel_l2(const float *got, const float *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        num += isfinite(d) ? d * d : INFINITY;
        den += (double)want[i] * want[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Device buffers, freed together at the end of each case. */
static void *dev[32];
static int ndev;

static void *dput(const void *src, size_t bytes)
{
    void *d = NULL;
    if (rlvr_gpu_mem_alloc(&d, bytes, err, sizeof err) ||
        (src && rlvr_gpu_mem_upload(d, src, bytes, err, sizeof err))) {
        diag("%s", err);
        rlvr_gpu_mem_free(d);
        return NULL;
    }
    dev[ndev++] = d;
    return d;
}

static void dfree_all(void)
{
    while (ndev) rlvr_gpu_mem_free(dev[--ndev]);
}

static int get(void *dst, const void *d, size_t bytes)
{
    return rlvr_gpu_sync(err, sizeof err) || rlvr_gpu_mem_download(dst, d, bytes, err, sizeof err);
}

#define KA 1e-6
#define KR 1e-5

/* ---- kernels, one at a time ------------------------------------------------------ */

static void rmsnorm_case(int N, int D)
{
    size_t n = (size_t)N * D;
    float *x = malloc(n * 4), *w = malloc((size_t)D * 4), *dy = malloc(n * 4), *y = malloc(n * 4);
    float *dx = malloc(n * 4), *dw = calloc((size_t)D, 4), *r = malloc((size_t)N * 4);
    float *gy = malloc(n * 4), *gdx = malloc(n * 4), *gdw = malloc((size_t)D * 4), *gr = malloc((size_t)N * 4);
    fill(x, n, 2.0f, 0.0f), fill(w, (size_t)D, 0.5f, 1.0f), fill(dy, n, 1.0f, 0.0f), fill(dx, n, 1.0f, 0.0f);
    float eps = 1e-6f;
    for (int i = 0; i < N; i++) { /* host/model.c rmsnorm_fwd and rmsnorm_bwd (dx_add = 1) */
        const float *xr = x + (size_t)i * D, *dyr = dy + (size_t)i * D;
        float ss = 0.0f, dot = 0.0f;
        for (int j = 0; j < D; j++) ss += xr[j] * xr[j];
        r[i] = 1.0f / sqrtf(ss / (float)D + eps);
        for (int j = 0; j < D; j++) y[(size_t)i * D + j] = xr[j] * r[i] * w[j];
        for (int j = 0; j < D; j++) dot += dyr[j] * w[j] * xr[j];
        float c = dot * r[i] * r[i] * r[i] / (float)D;
        for (int j = 0; j < D; j++) {
            gdx[(size_t)i * D + j] = dx[(size_t)i * D + j]; /* the starting dx, kept */
            dx[(size_t)i * D + j] += dyr[j] * w[j] * r[i] - xr[j] * c;
            dw[j] += dyr[j] * xr[j] * r[i];
        }
    }
    float *d_x = dput(x, n * 4), *d_w = dput(w, (size_t)D * 4), *d_dy = dput(dy, n * 4);
    float *d_y = dput(NULL, n * 4), *d_r = dput(NULL, (size_t)N * 4), *d_dx = dput(gdx, n * 4);
    float *zeros = calloc((size_t)D, 4), *d_dw = dput(zeros, (size_t)D * 4);
    free(zeros);
    int rc = !d_dw || rlvr_gpu_rmsnorm_forward(d_y, d_r, d_x, d_w, N, D, eps, err, sizeof err) ||
             rlvr_gpu_rmsnorm_backward(d_dx, 1, d_dw, d_dy, d_x, d_w, d_r, N, D, err, sizeof err) ||
             get(gy, d_y, n * 4) || get(gr, d_r, (size_t)N * 4) || get(gdx, d_dx, n * 4) ||
             get(gdw, d_dw, (size_t)D * 4);
    ok(!rc && worst(gy, y, n, KA, KR) <= 1 && worst(gr, r, (size_t)N, KA, KR) <= 1,
       "rmsnorm forward %d x %d (%s)", N, D, rc ? err : "ok");
    ok(!rc && worst(gdx, dx, n, KA, KR) <= 1 && worst(gdw, dw, (size_t)D, 1e-5, 1e-4) <= 1,
       "rmsnorm backward %d x %d: dx added to, dw summed over rows (column sums: 1e-5 / 1e-4)", N, D);
    dfree_all();
    free(x), free(w), free(dy), free(y), free(dx), free(dw), free(r), free(gy), free(gdx), free(gdw), free(gr);
}

static void elementwise_case(size_t n, int N, int T, int H, int hd, int V)
{
    float *g = malloc(n * 4), *u = malloc(n * 4), *dh = malloc(n * 4), *h = malloc(n * 4);
    float *dg = malloc(n * 4), *du = malloc(n * 4), *o1 = malloc(n * 4), *o2 = malloc(n * 4);
    fill(g, n, 6.0f, 0.0f), fill(u, n, 1.0f, 0.0f), fill(dh, n, 1.0f, 0.0f);
    for (size_t i = 0; i < n; i++) { /* host/model.c silu and the MLP's backward */
        float sg = 1.0f / (1.0f + expf(-g[i]));
        h[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
        du[i] = dh[i] * g[i] * sg;
        dg[i] = dh[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
    }
    float *d_g = dput(g, n * 4), *d_u = dput(u, n * 4), *d_dh = dput(dh, n * 4);
    float *d_h = dput(NULL, n * 4), *d_du = dput(NULL, n * 4);
    int rc = !d_du || rlvr_gpu_swiglu_forward(d_h, d_g, d_u, n, err, sizeof err) ||
             rlvr_gpu_swiglu_backward(d_dh, d_du, d_dh, d_g, d_u, n, err, sizeof err) ||
             get(o1, d_h, n * 4) || get(o2, d_dh, n * 4);
    ok(!rc && worst(o1, h, n, KA, KR) <= 1, "swiglu forward, %zu elements", n);
    ok(!rc && worst(o2, dg, n, KA, KR) <= 1 && !get(o1, d_du, n * 4) && worst(o1, du, n, KA, KR) <= 1,
       "swiglu backward in place over dh, %zu elements", n);
    /* the residual add */
    rc = rlvr_gpu_add(d_g, d_u, n, err, sizeof err) || get(o1, d_g, n * 4);
    for (size_t i = 0; i < n; i++) o2[i] = g[i] + u[i];
    ok(!rc && worst(o1, o2, n, 0, 0) <= 1, "residual add, %zu elements (exact)", n);
    dfree_all();

    /* rope there and back, against host/model.c's rotate-half */
    size_t m = (size_t)N * H * hd;
    float *x = malloc(m * 4), *want = malloc(m * 4), *got = malloc(m * 4), *cs = malloc((size_t)T * hd * 4);
    fill(x, m, 1.0f, 0.0f);
    rlvr_gpu_rope_table(cs, T, hd, 10000.0);
    memcpy(want, x, m * 4);
    for (int r = 0; r < N; r++)
        for (int k = 0; k < H; k++)
            for (int i = 0; i < hd / 2; i++) {
                int p = r % T;
                float inv = 1.0f / (float)pow(10000.0, (double)(2 * i) / (double)hd);
                float ang = (float)p * inv, c = (float)cos((double)ang), s = (float)sin((double)ang);
                float *v = want + ((size_t)r * H + k) * hd, a = v[i], b = v[i + hd / 2];
                v[i] = a * c - b * s;
                v[i + hd / 2] = b * c + a * s;
            }
    float *d_x = dput(x, m * 4), *d_cs = dput(cs, (size_t)T * hd * 4);
    rc = !d_cs || rlvr_gpu_rope(d_x, d_cs, N, T, H, hd, 0, err, sizeof err) || get(got, d_x, m * 4);
    ok(!rc && worst(got, want, m, KA, KR) <= 1, "rope %d rows of %d heads of %d, T %d", N, H, hd, T);
    rc = rc || rlvr_gpu_rope(d_x, d_cs, N, T, H, hd, 1, err, sizeof err) || get(got, d_x, m * 4);
    ok(!rc && worst(got, x, m, 1e-6, 1e-6) <= 1, "rope's inverse undoes it");
    dfree_all();

    /* embedding: gather and scatter-add with repeated tokens */
    int D = hd * H;
    size_t ne = (size_t)V * D;
    float *E = malloc(ne * 4), *dE = calloc(ne, 4), *gE = malloc(ne * 4), *dx = malloc((size_t)N * D * 4);
    float *out = malloc((size_t)N * D * 4);
    int32_t *tok = malloc((size_t)N * 4);
    fill(E, ne, 1.0f, 0.0f), fill(dx, (size_t)N * D, 1.0f, 0.0f);
    for (int r = 0; r < N; r++) tok[r] = (int32_t)(uniform() * (V < 5 ? V : 5)); /* repeats */
    float *d_E = dput(E, ne * 4), *d_dE = dput(dE, ne * 4), *d_dx = dput(dx, (size_t)N * D * 4);
    float *d_out = dput(NULL, (size_t)N * D * 4);
    int32_t *d_tok = dput(tok, (size_t)N * 4);
    rc = !d_tok || rlvr_gpu_embedding_forward(d_out, d_E, d_tok, N, D, V, err, sizeof err) ||
         rlvr_gpu_embedding_backward(d_dE, d_dx, d_tok, N, D, V, err, sizeof err) ||
         get(out, d_out, (size_t)N * D * 4) || get(gE, d_dE, ne * 4);
    int same = !rc;
    for (int r = 0; same && r < N; r++)
        same = !memcmp(out + (size_t)r * D, E + (size_t)tok[r] * D, (size_t)D * 4);
    for (int r = 0; r < N; r++)
        for (int i = 0; i < D; i++) dE[(size_t)tok[r] * D + i] += dx[(size_t)r * D + i];
    ok(same, "embedding gather, %d rows of %d", N, D);
    ok(!rc && worst(gE, dE, ne, KA, KR) <= 1, "embedding scatter-add, tokens repeated");
    dfree_all();
    free(g), free(u), free(dh), free(h), free(dg), free(du), free(o1), free(o2);
    free(x), free(want), free(got), free(cs), free(E), free(dE), free(gE), free(dx), free(out), free(tok);
}

/* Attention forward (heads first) against a naive causal GQA softmax. */
static void attention_case(int B, int T, int Hq, int Hk, int hd)
{
    size_t nq = (size_t)B * Hq * T * hd, nk = (size_t)B * Hk * T * hd, rows = (size_t)B * Hq * T;
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *o = malloc(nq * 4);
    float *lse = malloc(rows * 4), *go = malloc(nq * 4), *gl = malloc(rows * 4), *p = malloc((size_t)T * 4);
    fill(q, nq, 2.0f, 0.0f), fill(k, nk, 2.0f, 0.0f), fill(v, nk, 1.0f, 0.0f);
    float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < Hq; h++)
            for (int t = 0; t < T; t++) {
                const float *qr = q + (((size_t)b * Hq + h) * T + t) * hd;
                const float *kb = k + ((size_t)b * Hk + h / (Hq / Hk)) * T * hd;
                const float *vb = v + ((size_t)b * Hk + h / (Hq / Hk)) * T * hd;
                float mx = -INFINITY, sum = 0.0f;
                for (int s = 0; s <= t; s++) {
                    float d = 0.0f;
                    for (int i = 0; i < hd; i++) d += qr[i] * kb[(size_t)s * hd + i];
                    p[s] = d * scale;
                    mx = fmaxf(mx, p[s]);
                }
                for (int s = 0; s <= t; s++) sum += p[s] = expf(p[s] - mx);
                float *orow = o + (((size_t)b * Hq + h) * T + t) * hd;
                for (int i = 0; i < hd; i++) {
                    float acc = 0.0f;
                    for (int s = 0; s <= t; s++) acc += p[s] / sum * vb[(size_t)s * hd + i];
                    orow[i] = acc;
                }
                lse[((size_t)b * Hq + h) * T + t] = mx + logf(sum);
            }
    float *d_q = dput(q, nq * 4), *d_k = dput(k, nk * 4), *d_v = dput(v, nk * 4);
    float *d_o = dput(NULL, nq * 4), *d_l = dput(NULL, rows * 4);
    float *d_s = dput(NULL, rlvr_gpu_attention_scratch(B, Hq, T) * 4);
    int rc = !d_s || rlvr_gpu_attention_forward(d_o, d_l, d_q, d_k, d_v, B, T, Hq, Hk, hd, d_s, err, sizeof err) ||
             get(go, d_o, nq * 4) || get(gl, d_l, rows * 4);
    ok(!rc && worst(go, o, nq, 1e-5, 1e-4) <= 1 && worst(gl, lse, rows, KA, KR) <= 1,
       "attention forward B %d T %d heads %d/%d of %d (1e-5 / 1e-4: products in cuBLAS's order) %s",
       B, T, Hq, Hk, hd, rc ? err : "");
    dfree_all();
    free(q), free(k), free(v), free(o), free(lse), free(go), free(gl), free(p);
}

/* ---- the whole model --------------------------------------------------------------- */

struct shape {
    const char *name;
    int V, D, F, L, Hq, Hk, hd, tied, bias, B, T;
};

static const struct shape shapes[] = {
    {"tiny (tied, bias, GQA 4/2)", 264, 64, 176, 2, 4, 2, 16, 1, 1, 2, 9},
    {"odd sizes (untied, no bias, GQA 6/2)", 37, 24, 40, 2, 6, 2, 8, 0, 0, 3, 7},
    {"multi-head 3/3, one sequence", 50, 30, 20, 1, 3, 3, 10, 1, 0, 1, 13},
    {"a single row", 19, 16, 24, 2, 2, 1, 8, 0, 1, 1, 1},
    {"V 1000 (not a multiple of 256), T 67", 1000, 96, 160, 2, 6, 2, 16, 1, 1, 3, 67},
};

static void to_gpu_cfg(const struct rlvr_model_config *c, struct rlvr_gpu_model_config *g)
{
    g->vocab_size = c->vocab_size, g->hidden_size = c->hidden_size;
    g->intermediate_size = c->intermediate_size, g->num_hidden_layers = c->num_hidden_layers;
    g->num_attention_heads = c->num_attention_heads, g->num_key_value_heads = c->num_key_value_heads;
    g->head_dim = c->head_dim, g->max_position_embeddings = c->max_position_embeddings;
    g->rope_theta = c->rope_theta, g->rms_norm_eps = c->rms_norm_eps;
    g->tie_word_embeddings = c->tie_word_embeddings, g->attention_bias = c->attention_bias;
}

/* The host model of a shape, with its weights filled (norms around 1, the
 * rest around 0, amplitude 0.3) and gradients when grads, and its GPU
 * config. Returns 0, or -1 after a failed check naming the shape. */
static int case_model(const struct shape *s, int grads, struct rlvr_model *m, struct rlvr_gpu_model_config *gc)
{
    struct rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    c.vocab_size = s->V, c.hidden_size = s->D, c.intermediate_size = s->F, c.num_hidden_layers = s->L;
    c.num_attention_heads = s->Hq, c.num_key_value_heads = s->Hk, c.head_dim = s->hd;
    c.tie_word_embeddings = s->tied, c.attention_bias = s->bias, c.eos_token_id = -1;
    if (rlvr_model_create(m, &c, err, sizeof err) || (grads && rlvr_model_enable_grads(m, err, sizeof err))) {
        ok(0, "%s: host model: %s", s->name, err);
        return -1;
    }
    for (int t = 0; t < m->n_tensors; t++) {
        const struct rlvr_tensor *x = &m->tensors[t];
        fill(m->params + x->offset, x->numel, 0.3f, strstr(x->name, "norm") ? 1.0f : 0.0f);
    }
    to_gpu_cfg(&m->cfg, gc);
    return 0;
}

static void model_case(const struct shape *s, int prec)
{
    const char *pn = prec == RLVR_GPU_BF16 ? "bf16" : "fp32";
    struct rlvr_model m;
    struct rlvr_gpu_model *g = NULL;
    struct rlvr_gpu_model_config gc;
    if (case_model(s, 1, &m, &gc)) return;
    int B = s->B, T = s->T, N = B * T, V = s->V;
    size_t NV = (size_t)N * V, np = m.n_params;
    int32_t *tok = malloc((size_t)N * 4), *tg = malloc((size_t)N * 4);
    uint8_t *rows = malloc((size_t)N);
    float *logits = malloc(NV * 4), *gl = malloc(NV * 4), *logp = malloc((size_t)N * 4);
    float *lse = malloc((size_t)N * 4), *dlogp = malloc((size_t)N * 4), *gg = malloc(np * 4);
    int active = 0;
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)(uniform() * V), tg[i] = (int32_t)(uniform() * V);
        rows[i] = N == 1 || i % 5 != 2;
        active += rows[i];
    }
    float *d_logits = NULL;
    double loss = 0, want_loss = 0;
    if (rlvr_gpu_model_create(&g, &gc, prec, err, sizeof err) ||
        rlvr_gpu_model_upload(g, m.params, np, err, sizeof err) ||
        rlvr_gpu_model_forward(g, tok, B, T, &d_logits, err, sizeof err) ||
        rlvr_gpu_mem_download(gl, d_logits, NV * 4, err, sizeof err) ||
        rlvr_model_forward(&m, tok, B, T, logits, err, sizeof err)) {
        ok(0, "%s, %s: forward: %s", s->name, pn, err);
        goto done;
    }
    ok(rlvr_gpu_model_n_params(g) == np, "%s: %zu parameters, host/model.c's count", s->name, np);
    if (prec == RLVR_GPU_FP32) {
        double w = worst(gl, logits, NV, 5e-5, 5e-4);
        ok(w <= 1, "%s, fp32: logits match host/model.c (worst %.3g of the tolerance)", s->name, w);
    } else {
        double r = rel_l2(gl, logits, NV);
        ok(r <= 5e-2, "%s, bf16: logits within 5%% of host/model.c (relative L2 %.3g)", s->name, r);
    }
    /* the loss: on the GPU's logits, against rlvr_logprobs on the same logits */
    for (int i = 0; i < N; i++) {
        dlogp[i] = rows[i] ? -1.0f / (float)active : 0.0f;
    }
    if (rlvr_logprobs(gl, tg, rows, (size_t)N, (size_t)V, 1.0f, logp, lse, NULL, err, sizeof err) ||
        rlvr_logprobs_backward(gl, tg, rows, lse, dlogp, (size_t)N, (size_t)V, 1.0f, logits, err, sizeof err) ||
        rlvr_gpu_model_sft_loss(g, tg, rows, 1.0f / (float)active, &loss, err, sizeof err) ||
        rlvr_gpu_mem_download(gl, d_logits, NV * 4, err, sizeof err)) {
        ok(0, "%s, %s: loss: %s", s->name, pn, err);
        goto done;
    }
    for (int i = 0; i < N; i++)
        if (rows[i]) want_loss -= (double)logp[i] / active;
    ok(fabs(loss - want_loss) <= 1e-5 * fmax(1, fabs(want_loss)), "%s, %s: SFT loss %.6f (cpu %.6f)", s->name,
       pn, loss, want_loss);
    ok(worst(gl, logits, NV, 1e-6, 1e-4) <= 1, "%s, %s: the loss's gradient matches rlvr_logprobs_backward",
       s->name, pn);
    /* backward from the same dlogits on both sides (the CPU's) */
    float *d_dl = dput(logits, NV * 4);
    rlvr_model_zero_grads(&m);
    if (!d_dl || rlvr_gpu_model_backward(g, d_dl, err, sizeof err) ||
        rlvr_gpu_model_download_grads(g, gg, np, err, sizeof err) ||
        rlvr_model_backward(&m, logits, err, sizeof err)) {
        ok(0, "%s, %s: backward: %s", s->name, pn, err);
        goto done;
    }
    int bad = 0;
    double wmax = 0;
    for (int t = 0; t < m.n_tensors; t++) {
        const struct rlvr_tensor *x = &m.tensors[t];
        if (!x->numel) continue;
        double w = prec == RLVR_GPU_FP32 ? worst(gg + x->offset, m.grads + x->offset, x->numel, 5e-5, 5e-4)
                                         : rel_l2(gg + x->offset, m.grads + x->offset, x->numel) / 5e-2;
        wmax = fmax(wmax, w);
        if (!(w <= 1)) {
            bad++;
            diag("%s, %s: gradient of %s off (%.3g of the tolerance)", s->name, pn, x->name, w);
        }
    }
    ok(!bad, "%s, %s: every weight gradient matches host/model.c (worst %.3g of the tolerance)", s->name, pn, wmax);
done:
    dfree_all();
    rlvr_gpu_model_free(g);
    rlvr_model_free(&m);
    free(tok), free(tg), free(rows), free(logits), free(gl), free(logp), free(lse), free(dlogp), free(gg);
}

/* x rounded to the nearest bf16 (ties to even), as a float: finite x only. */
static float bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

/* The model without the LM head (RLVR_GPU_NO_LOGITS, forward_hidden,
 * backward_hidden) driving the GRPO loss fused with the head
 * (rlvr_gpu_grpo_linear_loss_dev), against the model with logits driving
 * rlvr_gpu_grpo_loss_dev on them, on the same weights and micro-batch:
 * token-level GRPO on policy, and GSPO (sequence-level ratios, the fused
 * loss's two sweeps) off policy; chunks of 5 rows that cut through the
 * sequences. Checks: h is the model with logits' forward_hidden's, bit for
 * bit; h W^T (on the host, in double, on bf16-rounded h and W in bf16) is
 * its logits within the whole model's tolerance; the loss within 1e-5
 * relative; every weight gradient
 * within the whole model's tolerance (fp32) or 5e-3 relative L2 (bf16: the
 * same bf16 operands, fp32 sums in other orders); the model without logits
 * holds at least the logits' bytes less; its forward, SFT loss and backward
 * are refused with one message. (Tolerances set without a GPU run: tighten
 * after the first.) */
static void fused_head_case(const struct shape *s, int prec, int gspo)
{
    const char *pn = prec == RLVR_GPU_BF16 ? "bf16" : "fp32";
    const char *what = gspo ? "GSPO off policy" : "GRPO on policy";
    struct rlvr_model m;
    struct rlvr_gpu_model *g = NULL, *h = NULL;
    struct rlvr_gpu_model_config gc;
    if (case_model(s, 0, &m, &gc)) return;
    int B = s->B, T = s->T, N = B * T, V = s->V, D = s->D;
    size_t NV = (size_t)N * V, ND = (size_t)N * D, np = m.n_params;
    int32_t *tok = malloc((size_t)N * 4), *tg = malloc((size_t)N * 4);
    uint8_t *mask = malloc((size_t)N);
    float *adv = malloc((size_t)B * 4), *old = malloc((size_t)N * 4), *lg = malloc(NV * 4);
    float *hh = malloc(ND * 4), *hg = malloc(ND * 4), *W = malloc((size_t)V * D * 4);
    float *ga = malloc(np * 4), *gb = malloc(np * 4);
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)(uniform() * V), tg[i] = (int32_t)(uniform() * V);
        mask[i] = N == 1 || i % 5 != 2;
    }
    for (int b = 0; b < B; b++) adv[b] = noise();
    struct rlvr_grpo_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.loss_type = RLVR_LOSS_GRPO, cfg.importance_level = gspo ? RLVR_IS_SEQUENCE : RLVR_IS_TOKEN;
    cfg.kl_estimator = RLVR_KL_K3, cfg.epsilon_low = 0.2f, cfg.epsilon_high = 0.28f, cfg.beta = 0.0f;
    cfg.max_completion_length = T, cfg.grad_accum_steps = 1;
    float *d_logits = NULL, *d_old = NULL;
    int32_t *d_tg = dput(tg, (size_t)N * 4);
    uint8_t *d_mask = dput(mask, (size_t)N);
    float *d_adv = dput(adv, (size_t)B * 4), *d_logp = dput(NULL, (size_t)N * 4);
    struct rlvr_gpu_model_hidden hid, hidg;
    struct rlvr_gpu_grpo_metrics ma, mb;
    struct rlvr_gpu_grpo_batch bt = {.n_seq = (size_t)B, .seq_len = (size_t)T, .vocab = (size_t)V,
                                     .dtype = RLVR_GPU_F32, .temperature = 0.9f, .tokens = d_tg,
                                     .advantages = d_adv, .mask = d_mask, .logp = d_logp};
    int rc = !d_tg || !d_mask || !d_adv || !d_logp ||
             rlvr_gpu_model_create(&g, &gc, prec, err, sizeof err) ||
             rlvr_gpu_model_create(&h, &gc, prec | RLVR_GPU_NO_LOGITS, err, sizeof err) ||
             rlvr_gpu_model_upload(g, m.params, np, err, sizeof err) ||
             rlvr_gpu_model_upload(h, m.params, np, err, sizeof err);
    if (!rc && gspo) { /* pi_old: the policy's own log-probabilities, moved a little */
        rc = rlvr_gpu_model_forward(g, tok, B, T, &d_logits, err, sizeof err) ||
             rlvr_gpu_logprobs_dev(d_logits, RLVR_GPU_F32, d_tg, d_mask, (size_t)N, (size_t)V, 0.9f, d_logp, NULL,
                                   NULL, err, sizeof err) ||
             get(old, d_logp, (size_t)N * 4);
        for (int i = 0; !rc && i < N; i++) old[i] += 0.05f * noise();
        rc = rc || !(d_old = dput(old, (size_t)N * 4));
        bt.old_logp = d_old;
    }
    /* h of the model with logits, and of the model without */
    rc = rc || rlvr_gpu_model_forward_hidden(g, tok, B, T, &hidg, err, sizeof err) ||
         get(hg, hidg.h, ND * 4) ||
         rlvr_gpu_model_forward_hidden(h, tok, B, T, &hid, err, sizeof err) || get(hh, hid.h, ND * 4) ||
         get(W, hid.weight, (size_t)V * D * 4);
    ok(!rc && !memcmp(hh, hg, ND * 4) && hid.rows == N && hid.hidden == D && hid.vocab == V && hid.dtype == prec &&
           (prec == RLVR_GPU_BF16) == (hid.h_bf16 != NULL && hid.weight_bf16 != NULL) && hid.dh && hid.dweight,
       "%s, %s, %s: without logits: forward_hidden's h is the model with logits', bit for bit%s%s", s->name, pn,
       what, rc ? ": " : "", rc ? err : "");
    /* the unfused path: logits, the loss over them in place, backward */
    rc = rc || rlvr_gpu_model_zero_grads(g, err, sizeof err) ||
         rlvr_gpu_model_forward(g, tok, B, T, &d_logits, err, sizeof err) || get(lg, d_logits, NV * 4);
    if (!rc) {
        double wl = 0, scale = 0;
        for (size_t i = 0; i < NV; i++) scale = fmax(scale, fabs((double)lg[i]));
        if (prec == RLVR_GPU_BF16) { /* the head product's operands: h and W rounded to bf16 */
            for (size_t i = 0; i < ND; i++) hh[i] = bf16_round(hh[i]);
            for (size_t i = 0; i < (size_t)V * D; i++) W[i] = bf16_round(W[i]);
        }
        for (int n = 0; n < N; n++)
            for (int v = 0; v < V; v++) {
                double acc = 0;
                for (int k = 0; k < D; k++) acc += (double)hh[(size_t)n * D + k] * W[(size_t)v * D + k];
                double e = fabs(acc - lg[(size_t)n * V + v]);
                wl = fmax(wl, e / (5e-5 * scale + 5e-4 * fabs(acc) + 1e-30));
            }
        ok(wl <= 1.0, "%s, %s, %s: h W^T is the model's logits (worst %.3g of the tolerance)", s->name, pn, what, wl);
    }
    bt.logits = d_logits;
    rc = rc || rlvr_gpu_grpo_loss_dev(&cfg, &bt, d_logits, &ma, err, sizeof err) ||
         rlvr_gpu_model_backward(g, NULL, err, sizeof err) || rlvr_gpu_model_download_grads(g, ga, np, err, sizeof err);
    /* the fused path: forward_hidden, the loss with the head, backward_hidden */
    struct rlvr_gpu_grpo_linear lin = {.hidden = (size_t)D, .dtype = hid.dtype,
                                       .h = hid.h_bf16 ? (const void *)hid.h_bf16 : (const void *)hid.h,
                                       .weight = hid.weight_bf16 ? (const void *)hid.weight_bf16 : (const void *)hid.weight,
                                       .dh = hid.dh, .dweight = hid.dweight, .chunk_rows = 5};
    bt.logits = NULL;
    rc = rc || rlvr_gpu_model_zero_grads(h, err, sizeof err) ||
         rlvr_gpu_model_forward_hidden(h, tok, B, T, &hid, err, sizeof err) ||
         rlvr_gpu_grpo_linear_loss_dev(&cfg, &bt, &lin, &mb, err, sizeof err) ||
         rlvr_gpu_model_backward_hidden(h, hid.dh, err, sizeof err) ||
         rlvr_gpu_model_download_grads(h, gb, np, err, sizeof err);
    ok(!rc && fabs(ma.loss - mb.loss) <= 1e-5 * fmax(fabs(ma.loss), 1e-3),
       "%s, %s, %s: the fused loss %.6g, the unfused %.6g%s%s", s->name, pn, what, mb.loss, ma.loss, rc ? ": " : "",
       rc ? err : "");
    int bad = 0;
    double wmax = 0;
    for (int t = 0; !rc && t < m.n_tensors; t++) {
        const struct rlvr_tensor *x = &m.tensors[t];
        if (!x->numel) continue;
        double w = prec == RLVR_GPU_FP32 ? worst(gb + x->offset, ga + x->offset, x->numel, 5e-5, 5e-4)
                                         : rel_l2(gb + x->offset, ga + x->offset, x->numel) / 5e-3;
        wmax = fmax(wmax, w);
        if (!(w <= 1)) {
            bad++;
            diag("%s, %s, %s: gradient of %s off (%.3g of the tolerance)", s->name, pn, what, x->name, w);
        }
    }
    ok(!rc && !bad, "%s, %s, %s: forward_hidden, the fused loss, backward_hidden: every weight gradient as the "
       "unfused path's (worst %.3g of the tolerance)", s->name, pn, what, wmax);
    ok(!rc && rlvr_gpu_model_bytes(g) >= rlvr_gpu_model_bytes(h) + NV * 4,
       "%s, %s: the model without logits holds %zu bytes, the model with them %zu (the logits are %zu)", s->name, pn,
       h ? rlvr_gpu_model_bytes(h) : 0, g ? rlvr_gpu_model_bytes(g) : 0, NV * 4);
    const char *want = "gpu model: a model without logits (RLVR_GPU_NO_LOGITS): use rlvr_gpu_model_forward_hidden "
                       "and rlvr_gpu_model_backward_hidden";
    int refused = 0;
    float *d_lg = NULL;
    err[0] = 0;
    refused += h && rlvr_gpu_model_forward(h, tok, B, T, &d_lg, err, sizeof err) == -1 && !strcmp(err, want) && !d_lg;
    err[0] = 0;
    refused += h && rlvr_gpu_model_sft_loss(h, tg, mask, 1.0f, NULL, err, sizeof err) == -1 && !strcmp(err, want);
    err[0] = 0;
    refused += h && rlvr_gpu_model_backward(h, NULL, err, sizeof err) == -1 && !strcmp(err, want);
    ok(refused == 3, "%s, %s: without logits: forward, the SFT loss and backward refused with \"%s\" (%d of 3)",
       s->name, pn, want, refused);
    /* a model with logits after forward_hidden: its logits are stale */
    err[0] = 0;
    ok(g && rlvr_gpu_model_forward_hidden(g, tok, B, T, &hidg, err, sizeof err) == 0 &&
           rlvr_gpu_model_sft_loss(g, tg, mask, 1.0f, NULL, err, sizeof err) == -1 && strstr(err, "without logits") &&
           rlvr_gpu_model_backward(g, NULL, err, sizeof err) == -1 && strstr(err, "without logits"),
       "%s, %s: after forward_hidden the SFT loss and backward(NULL) refuse the stale logits (%s)", s->name, pn, err);
    dfree_all();
    rlvr_gpu_model_free(g);
    rlvr_gpu_model_free(h);
    rlvr_model_free(&m);
    free(tok), free(tg), free(mask), free(adv), free(old), free(lg), free(hh), free(hg), free(W), free(ga), free(gb);
}

/* forward_hidden on a forward-only model (the reference's use): the
 * training model's h bit for bit; backward_hidden refused. */
static void fused_head_forward_only(void)
{
    struct rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    struct rlvr_model m;
    struct rlvr_gpu_model_config gc;
    struct rlvr_gpu_model *g = NULL, *f = NULL;
    if (rlvr_model_create(&m, &c, err, sizeof err)) {
        ok(0, "forward-only hidden: %s", err);
        return;
    }
    rlvr_model_init_random(&m, 3, 0.2f);
    to_gpu_cfg(&m.cfg, &gc);
    int32_t tok[12];
    for (int i = 0; i < 12; i++) tok[i] = (int32_t)(uniform() * c.vocab_size);
    size_t ND = (size_t)12 * c.hidden_size;
    float *a = malloc(ND * 4), *b = malloc(ND * 4);
    struct rlvr_gpu_model_hidden ha, hb;
    int rc = rlvr_gpu_model_create(&g, &gc, RLVR_GPU_FP32, err, sizeof err) ||
             rlvr_gpu_model_create(&f, &gc, RLVR_GPU_FP32 | RLVR_GPU_FORWARD_ONLY | RLVR_GPU_NO_LOGITS, err,
                                   sizeof err) ||
             rlvr_gpu_model_upload(g, m.params, m.n_params, err, sizeof err) ||
             rlvr_gpu_model_upload(f, m.params, m.n_params, err, sizeof err) ||
             rlvr_gpu_model_forward_hidden(g, tok, 2, 6, &ha, err, sizeof err) || get(a, ha.h, ND * 4) ||
             rlvr_gpu_model_forward_hidden(f, tok, 2, 6, &hb, err, sizeof err) || get(b, hb.h, ND * 4);
    ok(!rc && !memcmp(a, b, ND * 4) && !hb.dh && !hb.dweight && hb.weight,
       "forward-only without logits: forward_hidden's h is the training model's, bit for bit, with no gradient "
       "buffers%s%s", rc ? ": " : "", rc ? err : "");
    err[0] = 0;
    ok(f && rlvr_gpu_model_backward_hidden(f, a, err, sizeof err) == -1 &&
           !strcmp(err, "gpu model: forward-only model: no gradients"),
       "forward-only: backward_hidden refused (%s)", err);
    free(a), free(b);
    rlvr_gpu_model_free(g);
    rlvr_gpu_model_free(f);
    rlvr_model_free(&m);
}

/* Two AdamW steps (clipping and weight decay on) against host/optim.c. */
static void adamw_case(void)
{
    struct rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    c.tie_word_embeddings = 0;
    struct rlvr_model m;
    struct rlvr_gpu_model *g = NULL;
    struct rlvr_gpu_model_config gc;
    struct rlvr_adamw opt;
    struct rlvr_optim_config oc;
    rlvr_optim_config_default(&oc);
    oc.lr = 1e-3, oc.weight_decay = 0.1, oc.max_grad_norm = 1.0, oc.schedule = RLVR_LR_CONSTANT;
    struct rlvr_gpu_adamw_config ac = {oc.beta1, oc.beta2, oc.eps, oc.weight_decay, oc.max_grad_norm};
    if (rlvr_model_create(&m, &c, err, sizeof err) || rlvr_model_enable_grads(&m, err, sizeof err) ||
        rlvr_adamw_create(&opt, m.n_params, &oc, err, sizeof err)) {
        ok(0, "adamw: %s", err);
        return;
    }
    rlvr_model_init_random(&m, 7, 0.02f);
    to_gpu_cfg(&m.cfg, &gc);
    size_t np = m.n_params;
    float *p = malloc(np * 4), *gr = malloc(np * 4);
    int32_t tok[16];
    for (int i = 0; i < 16; i++) tok[i] = i * 7;
    double gpu_norm = 0, max_p = 0;
    int clipped = 0, rc = rlvr_gpu_model_create(&g, &gc, RLVR_GPU_FP32, err, sizeof err) ||
                          rlvr_gpu_model_upload(g, m.params, np, err, sizeof err);
    for (int step = 0; !rc && step < 2; step++) {
        /* the same gradients on both sides: the GPU's backward of a fixed dlogits */
        float *dl = malloc((size_t)16 * c.vocab_size * 4);
        fill(dl, (size_t)16 * c.vocab_size, 1.0f, 0.0f);
        float *d_dl = dput(dl, (size_t)16 * c.vocab_size * 4);
        struct rlvr_optim_stats st;
        rc = !d_dl || rlvr_gpu_model_zero_grads(g, err, sizeof err) ||
             rlvr_gpu_model_forward(g, tok, 2, 8, NULL, err, sizeof err) ||
             rlvr_gpu_model_backward(g, d_dl, err, sizeof err) ||
             rlvr_gpu_model_download_grads(g, m.grads, np, err, sizeof err) ||
             rlvr_gpu_model_adamw_step(g, &ac, rlvr_lr_at(&oc, opt.step), &gpu_norm, &clipped, err, sizeof err) ||
             rlvr_adamw_step(&opt, &m, &st, err, sizeof err) ||
             rlvr_gpu_model_download(g, p, np, err, sizeof err) ||
             rlvr_gpu_model_download_grads(g, gr, np, err, sizeof err);
        free(dl);
        dfree_all();
        if (rc) break;
        ok(fabs(gpu_norm - st.grad_norm) <= 1e-9 * st.grad_norm && clipped == st.clipped,
           "adamw step %d: gradient norm %.6g (cpu %.6g), clipped %d", step + 1, gpu_norm, st.grad_norm, clipped);
        max_p = 0;
        for (size_t i = 0; i < np; i++) max_p = fmax(max_p, fabs((double)p[i] - m.params[i]));
        ok(max_p <= 1e-6, "adamw step %d: parameters match host/optim.c (max error %.3g)", step + 1, max_p);
        ok(worst(gr, m.grads, np, 0, 1e-6) <= 1, "adamw step %d: gradients scaled in place as the cpu does", step + 1);
        /* the GPU's gradients become the next step's host copy: host and GPU
         * parameters stay in step (they are equal to 1e-6) */
        rc = rlvr_gpu_model_upload(g, m.params, np, err, sizeof err);
    }
    if (rc) ok(0, "adamw: %s", err);
    rlvr_adamw_free(&opt);
    rlvr_gpu_model_free(g);
    rlvr_model_free(&m);
    free(p), free(gr);
}

/* The forward-only model (RLVR_GPU_FORWARD_ONLY) beside the training model
 * on the same weights and tokens: the same logits, bit for bit (the same
 * operations on the same inputs: the forward has no atomics, and cuBLAS is
 * deterministic for the same shapes), in less device memory (no gradients,
 * one layer's activations). */
static void forward_only_case(const struct shape *s, int prec)
{
    const char *pn = prec == RLVR_GPU_BF16 ? "bf16" : "fp32";
    struct rlvr_model m;
    struct rlvr_gpu_model *g = NULL, *f = NULL;
    struct rlvr_gpu_model_config gc;
    if (case_model(s, 0, &m, &gc)) return;
    int B = s->B, T = s->T, N = B * T;
    size_t NV = (size_t)N * s->V, np = m.n_params;
    int32_t *tok = malloc((size_t)N * 4);
    float *lg = malloc(NV * 4), *lf = malloc(NV * 4), *d_lg = NULL, *d_lf = NULL;
    for (int i = 0; i < N; i++) tok[i] = (int32_t)(uniform() * s->V);
    int rc = rlvr_gpu_model_create(&g, &gc, prec, err, sizeof err) ||
             rlvr_gpu_model_create(&f, &gc, prec | RLVR_GPU_FORWARD_ONLY, err, sizeof err) ||
             rlvr_gpu_model_upload(g, m.params, np, err, sizeof err) ||
             rlvr_gpu_model_upload(f, m.params, np, err, sizeof err) ||
             rlvr_gpu_model_forward(g, tok, B, T, &d_lg, err, sizeof err) ||
             rlvr_gpu_model_forward(f, tok, B, T, &d_lf, err, sizeof err) ||
             rlvr_gpu_mem_download(lg, d_lg, NV * 4, err, sizeof err) ||
             rlvr_gpu_mem_download(lf, d_lf, NV * 4, err, sizeof err);
    ok(!rc && !memcmp(lg, lf, NV * 4), "%s, %s: the forward-only model's logits are the training model's, bit for "
       "bit%s%s", s->name, pn, rc ? ": " : "", rc ? err : "");
    ok(!rc && rlvr_gpu_model_n_params(f) == np && rlvr_gpu_model_bytes(f) + np * 4 <= rlvr_gpu_model_bytes(g),
       "%s, %s: forward-only: %zu bytes of device memory, the training model %zu", s->name, pn,
       f ? rlvr_gpu_model_bytes(f) : 0, g ? rlvr_gpu_model_bytes(g) : 0);
    rlvr_gpu_model_free(g);
    rlvr_gpu_model_free(f);
    rlvr_model_free(&m);
    free(tok), free(lg), free(lf);
}

/* Every call that needs gradients, moments or the loss's buffers, refused
 * on a forward-only model with one message, leaving it usable. */
static void forward_only_refusals(void)
{
    struct rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    struct rlvr_gpu_model_config gc;
    to_gpu_cfg(&c, &gc);
    struct rlvr_gpu_model *f = NULL;
    if (rlvr_gpu_model_create(&f, &gc, RLVR_GPU_FP32 | RLVR_GPU_FORWARD_ONLY, err, sizeof err)) {
        ok(0, "forward-only: create: %s", err);
        return;
    }
    size_t np = rlvr_gpu_model_n_params(f);
    float *h = calloc(2 * np, 4);
    int32_t tok[4] = {1, 2, 3, 4};
    long step = 0;
    struct rlvr_gpu_adamw_config ac = {0.9, 0.999, 1e-8, 0.0, 1.0};
    float *d_logits = NULL;
    ok(rlvr_gpu_model_forward(f, tok, 1, 4, &d_logits, err, sizeof err) == 0 && d_logits,
       "forward-only: the forward runs%s%s", d_logits ? "" : ": ", d_logits ? "" : err);
    const char *want = "gpu model: forward-only model: no gradients";
    int refused = 0;
    err[0] = 0;
    refused += rlvr_gpu_model_sft_loss(f, tok, NULL, 1.0f, NULL, err, sizeof err) == -1 && !strcmp(err, want);
    err[0] = 0;
    refused += rlvr_gpu_model_backward(f, NULL, err, sizeof err) == -1 && !strcmp(err, want);
    err[0] = 0;
    refused += rlvr_gpu_model_adamw_step(f, &ac, 1e-3, NULL, NULL, err, sizeof err) == -1 && !strcmp(err, want);
    err[0] = 0;
    refused += rlvr_gpu_model_zero_grads(f, err, sizeof err) == -1 && !strcmp(err, want);
    err[0] = 0;
    refused += rlvr_gpu_model_download_grads(f, h, np, err, sizeof err) == -1 && !strcmp(err, want);
    err[0] = 0;
    refused += rlvr_gpu_model_download_adamw(f, h, h + np, np, &step, err, sizeof err) == -1 && !strcmp(err, want);
    err[0] = 0;
    refused += rlvr_gpu_model_upload_adamw(f, h, h + np, np, 0, err, sizeof err) == -1 && !strcmp(err, want);
    ok(refused == 7, "forward-only: the loss, backward, AdamW step, clearing and downloading the gradients and "
       "AdamW's state each refused with \"%s\" (%d of 7)", want, refused);
    ok(rlvr_gpu_model_forward(f, tok, 1, 4, &d_logits, err, sizeof err) == 0 && rlvr_gpu_sync(err, sizeof err) == 0,
       "forward-only: the model forwards after the refusals");
    ok(rlvr_gpu_model_bytes(f) == rlvr_gpu_model_peak_bytes(f),
       "forward-only: the refusals allocated nothing (%zu bytes held, the peak)", rlvr_gpu_model_bytes(f));
    free(h);
    rlvr_gpu_model_free(f);
}

/* One AdamW step of g at rate lr on the gradient of the fixed d_dl[16, V]
 * over tok (2 x 8). */
static int gpu_step_on(struct rlvr_gpu_model *g, const struct rlvr_gpu_adamw_config *ac, double lr,
                       const int32_t *tok, const float *d_dl)
{
    return rlvr_gpu_model_zero_grads(g, err, sizeof err) || rlvr_gpu_model_forward(g, tok, 2, 8, NULL, err, sizeof err) ||
           rlvr_gpu_model_backward(g, d_dl, err, sizeof err) ||
           rlvr_gpu_model_adamw_step(g, ac, lr, NULL, NULL, err, sizeof err);
}

/* AdamW's state to and from the device (what a checkpoint's optimizer.bin
 * and its resume carry): a model that has not stepped gives zeros and step
 * 0; after 2 steps the state goes into a second model (allocating its
 * moments) and comes back bit for bit; that model's step 3 is host/optim.c's
 * from the same state and gradient (1e-6, as adamw_case) and the first
 * model's step 3; a model given the weights but fresh moments ends
 * elsewhere; sizes and step counts out of range are refused. No clipping,
 * so that the norm's summation order plays no part. */
static void adamw_state_case(void)
{
    struct rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    c.tie_word_embeddings = 0;
    struct rlvr_model m;
    struct rlvr_gpu_model *g = NULL, *g2 = NULL, *g3 = NULL;
    struct rlvr_gpu_model_config gc;
    struct rlvr_adamw opt;
    struct rlvr_optim_config oc;
    rlvr_optim_config_default(&oc);
    oc.lr = 1e-3, oc.weight_decay = 0.1, oc.max_grad_norm = 0.0, oc.schedule = RLVR_LR_CONSTANT;
    struct rlvr_gpu_adamw_config ac = {oc.beta1, oc.beta2, oc.eps, oc.weight_decay, oc.max_grad_norm};
    if (rlvr_model_create(&m, &c, err, sizeof err) || rlvr_model_enable_grads(&m, err, sizeof err) ||
        rlvr_adamw_create(&opt, m.n_params, &oc, err, sizeof err)) {
        ok(0, "adamw state: %s", err);
        return;
    }
    rlvr_model_init_random(&m, 11, 0.02f);
    to_gpu_cfg(&m.cfg, &gc);
    size_t np = m.n_params, V = (size_t)c.vocab_size;
    float *m1 = malloc(np * 4), *v1 = malloc(np * 4), *m2 = malloc(np * 4), *v2 = malloc(np * 4);
    float *w = malloc(np * 4), *wa = malloc(np * 4), *wb = malloc(np * 4), *dl = malloc(16 * V * 4);
    int32_t tok[16];
    for (int i = 0; i < 16; i++) tok[i] = i * 7;
    fill(dl, 16 * V, 1.0f, 0.0f);
    float *d_dl = dput(dl, 16 * V * 4);
    long step = -1, step2 = -1;
    int rc = !d_dl || rlvr_gpu_model_create(&g, &gc, RLVR_GPU_FP32, err, sizeof err) ||
             rlvr_gpu_model_upload(g, m.params, np, err, sizeof err);
    if (rc) {
        ok(0, "adamw state: %s", err);
        goto out;
    }
    size_t before = rlvr_gpu_model_bytes(g);
    rc = rlvr_gpu_model_download_adamw(g, m1, v1, np, &step, err, sizeof err);
    int zero = !rc && step == 0;
    for (size_t i = 0; zero && i < np; i++) zero = m1[i] == 0.0f && v1[i] == 0.0f;
    ok(zero && rlvr_gpu_model_bytes(g) == before,
       "adamw state: a model that has not stepped downloads zeros and step 0 (allocating nothing)%s%s",
       rc ? ": " : "", rc ? err : "");
    rc = rc || gpu_step_on(g, &ac, oc.lr, tok, d_dl) || gpu_step_on(g, &ac, oc.lr, tok, d_dl) ||
         rlvr_gpu_model_download_adamw(g, m1, v1, np, &step, err, sizeof err) ||
         rlvr_gpu_model_download(g, w, np, err, sizeof err);
    int moved = 0;
    for (size_t i = 0; !rc && i < np; i++) moved += m1[i] != 0.0f && v1[i] > 0.0f;
    ok(!rc && step == 2 && moved > 0, "adamw state: after 2 steps, step 2 and moments that moved (%d of %zu)%s%s",
       moved, np, rc ? ": " : "", rc ? err : "");
    if (rc) goto out;
    rc = rlvr_gpu_model_create(&g2, &gc, RLVR_GPU_FP32, err, sizeof err) ||
         rlvr_gpu_model_upload(g2, w, np, err, sizeof err);
    before = rc ? 0 : rlvr_gpu_model_bytes(g2);
    rc = rc || rlvr_gpu_model_upload_adamw(g2, m1, v1, np, step, err, sizeof err) ||
         rlvr_gpu_model_download_adamw(g2, m2, v2, np, &step2, err, sizeof err);
    ok(!rc && step2 == 2 && !memcmp(m1, m2, np * 4) && !memcmp(v1, v2, np * 4) &&
           rlvr_gpu_model_bytes(g2) == before + 2 * np * 4,
       "adamw state: uploaded into a fresh model (its moments allocated) it comes back bit for bit%s%s",
       rc ? ": " : "", rc ? err : "");
    if (rc) goto out;
    /* step 3: the second model, with its gradient taken to the host for the CPU's step */
    rc = rlvr_gpu_model_zero_grads(g2, err, sizeof err) || rlvr_gpu_model_forward(g2, tok, 2, 8, NULL, err, sizeof err) ||
         rlvr_gpu_model_backward(g2, d_dl, err, sizeof err) ||
         rlvr_gpu_model_download_grads(g2, m.grads, np, err, sizeof err) ||
         rlvr_gpu_model_adamw_step(g2, &ac, oc.lr, NULL, NULL, err, sizeof err) ||
         rlvr_gpu_model_download(g2, wb, np, err, sizeof err) || gpu_step_on(g, &ac, oc.lr, tok, d_dl) ||
         rlvr_gpu_model_download(g, wa, np, err, sizeof err);
    if (rc) {
        ok(0, "adamw state: step 3: %s", err);
        goto out;
    }
    memcpy(m.params, w, np * 4);
    memcpy(opt.m, m1, np * 4);
    memcpy(opt.v, v1, np * 4);
    opt.step = 2;
    struct rlvr_optim_stats st;
    rc = rlvr_adamw_step(&opt, &m, &st, err, sizeof err);
    double e_cpu = 0, e_run = 0;
    for (size_t i = 0; i < np; i++) {
        e_cpu = fmax(e_cpu, fabs((double)wb[i] - m.params[i]));
        e_run = fmax(e_run, fabs((double)wb[i] - wa[i]));
    }
    ok(!rc && e_cpu <= 1e-6, "adamw state: the resumed model's step 3 is host/optim.c's from that state (max error "
       "%.3g)", e_cpu);
    ok(e_run <= 1e-6, "adamw state: and the uninterrupted model's step 3 (max difference %.3g)", e_run);
    /* fresh moments: bias corrections of step 1 on a new average, another update */
    rc = rlvr_gpu_model_create(&g3, &gc, RLVR_GPU_FP32, err, sizeof err) ||
         rlvr_gpu_model_upload(g3, w, np, err, sizeof err) || gpu_step_on(g3, &ac, oc.lr, tok, d_dl) ||
         rlvr_gpu_model_download(g3, wa, np, err, sizeof err);
    double e_fresh = 0;
    for (size_t i = 0; !rc && i < np; i++) e_fresh = fmax(e_fresh, fabs((double)wb[i] - wa[i]));
    ok(!rc && e_fresh > 1e-5, "adamw state: a model given the weights but fresh moments ends elsewhere (by %.3g)",
       e_fresh);
    ok(rlvr_gpu_model_upload_adamw(g3, m1, v1, np - 1, 2, err, sizeof err) == -1 && strstr(err, "parameters"),
       "adamw state: an upload of another size is refused: %s", err);
    ok(rlvr_gpu_model_upload_adamw(g3, m1, v1, np, -1, err, sizeof err) == -1 && strstr(err, "step"),
       "adamw state: a negative step count is refused: %s", err);
    ok(rlvr_gpu_model_download_adamw(g3, m2, v2, np + 1, &step2, err, sizeof err) == -1 && strstr(err, "parameters"),
       "adamw state: a download into room of another size is refused: %s", err);
out:
    dfree_all();
    rlvr_gpu_model_free(g), rlvr_gpu_model_free(g2), rlvr_gpu_model_free(g3);
    rlvr_adamw_free(&opt);
    rlvr_model_free(&m);
    free(m1), free(v1), free(m2), free(v2), free(w), free(wa), free(wb), free(dl);
}

static void refusal_cases(void)
{
    struct rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    struct rlvr_gpu_model_config gc;
    to_gpu_cfg(&c, &gc);
    struct rlvr_gpu_model *g = NULL;
    if (rlvr_gpu_model_create(&g, &gc, RLVR_GPU_FP32, err, sizeof err)) {
        ok(0, "create: %s", err);
        return;
    }
    int32_t tok[4] = {1, 2, 264, 3};
    ok(rlvr_gpu_model_backward(g, NULL, err, sizeof err) == -1 && strstr(err, "without a forward"),
       "backward before any forward is refused: %s", err);
    ok(rlvr_gpu_model_forward(g, tok, 1, 4, NULL, err, sizeof err) == -1 && strstr(err, "token 264 at row 2"),
       "a token outside the vocabulary is refused before upload: %s", err);
    ok(rlvr_gpu_model_forward(g, tok, 1, 2000, NULL, err, sizeof err) == -1 && strstr(err, "max_position"),
       "T over max_position_embeddings is refused: %s", err);
    tok[2] = 5;
    int32_t tg[4] = {0, -1, 7, 300};
    uint8_t rows[4] = {1, 0, 1, 1};
    ok(rlvr_gpu_model_forward(g, tok, 1, 4, NULL, err, sizeof err) == 0 &&
           rlvr_gpu_model_sft_loss(g, tg, rows, 1.0f, NULL, err, sizeof err) == -1 && strstr(err, "target 300 at row 3"),
       "a target outside the vocabulary is refused (one outside the loss is not read): %s", err);
    /* a NaN gradient: the step is refused and nothing changes */
    size_t np = rlvr_gpu_model_n_params(g);
    float *p = calloc(np, 4), *q = malloc(np * 4);
    p[5] = NAN;
    struct rlvr_gpu_adamw_config ac = {0.9, 0.999, 1e-8, 0.0, 1.0};
    double norm = 0;
    /* weights upload as p (a NaN weight makes NaN gradients through the forward) */
    int32_t t2[2] = {0, 1};
    ok(rlvr_gpu_model_upload(g, p, np, err, sizeof err) == 0 &&
           rlvr_gpu_model_forward(g, t2, 1, 2, NULL, err, sizeof err) == 0 &&
           rlvr_gpu_model_sft_loss(g, t2, NULL, 1.0f, NULL, err, sizeof err) == -1,
       "NaN logits are refused by the loss, naming the row: %s", err);
    ok(rlvr_gpu_model_zero_grads(g, err, sizeof err) == 0 && rlvr_gpu_model_forward(g, t2, 1, 2, NULL, err, sizeof err) == 0,
       "the model is usable after a refusal");
    float *dl = malloc((size_t)2 * c.vocab_size * 4);
    fill(dl, (size_t)2 * c.vocab_size, 1.0f, 0.0f);
    float *d_dl = dput(dl, (size_t)2 * c.vocab_size * 4);
    int rc = !d_dl || rlvr_gpu_model_backward(g, d_dl, err, sizeof err);
    ok(!rc && rlvr_gpu_model_adamw_step(g, &ac, 1e-3, &norm, NULL, err, sizeof err) == -1 && !isfinite(norm) &&
           strstr(err, "skipped"),
       "a non-finite gradient norm refuses the AdamW step: %s", err);
    ok(rlvr_gpu_model_download(g, q, np, err, sizeof err) == 0 && !memcmp(p, q, np * 4),
       "the refused step changed no weight");
    ok(rlvr_gpu_model_peak_bytes(g) >= rlvr_gpu_model_bytes(g) && rlvr_gpu_model_bytes(g) > np * 8,
       "the memory counters: %zu bytes held, peak %zu", rlvr_gpu_model_bytes(g), rlvr_gpu_model_peak_bytes(g));
    dfree_all();
    free(p), free(q), free(dl);
    rlvr_gpu_model_free(g);
}

/* ---- generation: rlvr_gpu_model_step vs rlvr_model_step ---------------------------- */

struct dev_gen {
    struct rlvr_gpu_model *g;
    struct rlvr_gpu_kv *kv;
};

static int dev_gen_create(void *ctx, int slots, int max_len)
{
    struct dev_gen *d = ctx;
    if (rlvr_gpu_kv_create(&d->kv, d->g, slots, max_len, err, sizeof err)) {
        diag("kv create: %s", err);
        return -1;
    }
    return 0;
}

static int dev_gen_copy(void *ctx, int from, int to, int len)
{
    struct dev_gen *d = ctx;
    if (rlvr_gpu_kv_copy(d->kv, from, to, len, err, sizeof err)) {
        diag("kv copy: %s", err);
        return -1;
    }
    return 0;
}

static int dev_gen_step(void *ctx, int n, const int32_t *tok, const int *slot, const int *pos, const uint8_t *emit,
                        float *logits)
{
    struct dev_gen *d = ctx;
    if (rlvr_gpu_model_step(d->g, d->kv, n, tok, slot, pos, emit, logits, err, sizeof err)) {
        diag("step: %s", err);
        return -1;
    }
    return 0;
}

static void dev_gen_destroy(void *ctx)
{
    struct dev_gen *d = ctx;
    rlvr_gpu_kv_free(d->kv);
    d->kv = NULL;
}

static int host_model(struct rlvr_model *m, int V, int D, int F, int L, int Hq, int Hk, int hd, int tied,
                      int bias, int max_pos)
{
    struct rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    c.vocab_size = V, c.hidden_size = D, c.intermediate_size = F, c.num_hidden_layers = L;
    c.num_attention_heads = Hq, c.num_key_value_heads = Hk, c.head_dim = hd;
    c.tie_word_embeddings = tied, c.attention_bias = bias, c.eos_token_id = -1, c.rope_theta = 10000.0;
    c.max_position_embeddings = max_pos;
    if (rlvr_model_create(m, &c, err, sizeof err))
        return -1;
    for (int t = 0; t < m->n_tensors; t++) {
        const struct rlvr_tensor *x = &m->tensors[t];
        fill(m->params + x->offset, x->numel, 0.3f, strstr(x->name, "norm") ? 1.0f : 0.0f);
    }
    return 0;
}

static struct rlvr_gpu_model *device_copy(const struct rlvr_model *m, int prec)
{
    struct rlvr_gpu_model_config gc;
    to_gpu_cfg(&m->cfg, &gc);
    struct rlvr_gpu_model *g = NULL;
    if (rlvr_gpu_model_create(&g, &gc, prec, err, sizeof err) ||
        rlvr_gpu_model_upload(g, m->params, m->n_params, err, sizeof err)) {
        rlvr_gpu_model_free(g);
        return NULL;
    }
    return g;
}

static const struct gen_shape {
    const char *name;
    int V, D, F, L, Hq, Hk, hd, tied, bias;
} gen_shapes[] = {
    {"step: tied, bias, GQA 4/2, hd 16", 264, 64, 176, 2, 4, 2, 16, 1, 1},
    {"step: odd sizes, untied, GQA 6/2, hd 8", 37, 24, 40, 2, 6, 2, 8, 0, 0},
    {"step: GQA 8/1, hd 40", 61, 40, 56, 2, 8, 1, 40, 0, 1},
    {"step: Qwen-like heads 14/2, hd 64, V 1000", 1000, 128, 160, 2, 14, 2, 64, 1, 1},
    {"step: hd 256 (the kernel's largest)", 300, 64, 96, 1, 2, 1, 256, 1, 0},
};

static void gen_case(const struct gen_shape *s, int prec)
{
    struct rlvr_model m;
    if (host_model(&m, s->V, s->D, s->F, s->L, s->Hq, s->Hk, s->hd, s->tied, s->bias, 64)) {
        ok(0, "%s: host model: %s", s->name, err);
        return;
    }
    struct dev_gen d = {device_copy(&m, prec), NULL};
    char name[160];
    snprintf(name, sizeof name, "%s, %s%s", s->name, (prec & ~RLVR_GPU_FORWARD_ONLY) == RLVR_GPU_BF16 ? "bf16" : "fp32",
             prec & RLVR_GPU_FORWARD_ONLY ? ", forward-only" : "");
    if (!d.g) {
        ok(0, "%s: device model: %s", name, err);
        rlvr_model_free(&m);
        return;
    }
    size_t before = rlvr_gpu_model_bytes(d.g);
    struct step_target t = {&d, dev_gen_create, dev_gen_copy, dev_gen_step, dev_gen_destroy};
    step_scenario(name, &m, &t, (prec & ~RLVR_GPU_FORWARD_ONLY) == RLVR_GPU_BF16, 5e-5, 5e-4);
    ok(rlvr_gpu_model_bytes(d.g) == before && rlvr_gpu_model_peak_bytes(d.g) > before,
       "%s: the cache and the step's rows were counted in the peak (%zu > %zu) and given back", name,
       rlvr_gpu_model_peak_bytes(d.g), before);
    rlvr_gpu_model_free(d.g);
    rlvr_model_free(&m);
}

/* A long prompt (300 rows, every row emitting: more positions than a
 * block's threads), two samples, a few decode steps. */
static void long_gen_case(void)
{
    struct rlvr_model m;
    if (host_model(&m, 500, 96, 128, 2, 6, 2, 32, 1, 1, 512)) {
        ok(0, "long context: host model: %s", err);
        return;
    }
    struct rlvr_gpu_model *g = device_copy(&m, RLVR_GPU_FP32);
    struct rlvr_kv_cache kv;
    struct rlvr_gpu_kv *dkv = NULL;
    enum { L = 300, STEPS = 4 };
    int32_t *tok = malloc(L * sizeof *tok);
    int *slot = malloc(L * sizeof *slot), *pos = malloc(L * sizeof *pos);
    float *want = malloc((size_t)L * m.cfg.vocab_size * sizeof(float));
    float *got = malloc((size_t)L * m.cfg.vocab_size * sizeof(float));
    if (!g || rlvr_kv_cache_create(&kv, &m, 2, L + STEPS, err, sizeof err) ||
        rlvr_gpu_kv_create(&dkv, g, 2, L + STEPS, err, sizeof err)) {
        ok(0, "long context: %s", err);
        goto out;
    }
    for (int r = 0; r < L; r++)
        tok[r] = (int32_t)(uniform() * m.cfg.vocab_size), slot[r] = 0, pos[r] = r;
    int rc = rlvr_model_step(&m, &kv, L, tok, slot, pos, NULL, want, err, sizeof err) ||
             rlvr_gpu_model_step(g, dkv, L, tok, slot, pos, NULL, got, err, sizeof err);
    double w = rc ? INFINITY : worst(got, want, (size_t)L * m.cfg.vocab_size, 5e-5, 5e-4);
    ok(!rc && w <= 1.0, "long context: prefill of 300 rows, all emitting (worst %.3g of the tolerance)%s%s", w,
       rc ? ": " : "", rc ? err : "");
    rlvr_kv_cache_copy(&kv, 0, 1, L);
    rc = rlvr_gpu_kv_copy(dkv, 0, 1, L, err, sizeof err);
    double wd = 0;
    for (int d = 0; d < STEPS && !rc; d++) {
        for (int r = 0; r < 2; r++)
            tok[r] = (int32_t)(uniform() * m.cfg.vocab_size), slot[r] = r, pos[r] = L + d;
        rc = rlvr_model_step(&m, &kv, 2, tok, slot, pos, NULL, want, err, sizeof err) ||
             rlvr_gpu_model_step(g, dkv, 2, tok, slot, pos, NULL, got, err, sizeof err);
        if (!rc) wd = fmax(wd, worst(got, want, 2 * (size_t)m.cfg.vocab_size, 5e-5, 5e-4));
    }
    ok(!rc && wd <= 1.0, "long context: the copy to a second slot and %d decode steps at positions 300.. (worst "
       "%.3g)", STEPS, wd);
    rlvr_kv_cache_free(&kv);
out:
    rlvr_gpu_kv_free(dkv);
    rlvr_gpu_model_free(g);
    rlvr_model_free(&m);
    free(tok), free(slot), free(pos), free(want), free(got);
}

static void gen_refusals(void)
{
    struct rlvr_model m;
    if (host_model(&m, 40, 16, 24, 1, 2, 1, 8, 1, 0, 32)) {
        ok(0, "refusals: host model: %s", err);
        return;
    }
    struct rlvr_gpu_model *g = device_copy(&m, RLVR_GPU_FP32), *g2 = device_copy(&m, RLVR_GPU_FP32);
    struct rlvr_gpu_kv *kv = NULL, *kv2 = NULL;
    float logits[2 * 40];
    if (!g || !g2) {
        ok(0, "refusals: device model: %s", err);
        goto out;
    }
    ok(rlvr_gpu_kv_create(&kv, g, 2, 33, err, sizeof err) == -1 && kv == NULL && strstr(err, "max_position"),
       "a cache longer than max_position_embeddings is refused: %s", err);
    ok(rlvr_gpu_kv_create(&kv, g, 0, 8, err, sizeof err) == -1, "a cache of 0 slots is refused: %s", err);
    if (rlvr_gpu_kv_create(&kv, g, 2, 8, err, sizeof err) || rlvr_gpu_kv_create(&kv2, g2, 2, 8, err, sizeof err)) {
        ok(0, "refusals: %s", err);
        goto out;
    }
    const struct {
        const char *what, *needle;
        int n;
        int32_t tok[2];
        int slot[2], pos[2];
    } bad[] = {
        {"a token outside the vocabulary", "vocabulary", 1, {40, 0}, {0, 0}, {0, 0}},
        {"a negative token", "vocabulary", 1, {-1, 0}, {0, 0}, {0, 0}},
        {"a slot outside the cache", "outside the cache", 1, {1, 0}, {2, 0}, {0, 0}},
        {"a position outside the cache", "outside the cache", 1, {1, 0}, {0, 0}, {8, 0}},
        {"a negative position", "outside the cache", 1, {1, 0}, {0, 0}, {-1, 0}},
        {"two rows at one (slot, position)", "two rows", 2, {1, 2}, {1, 1}, {3, 3}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        int rc = rlvr_gpu_model_step(g, kv, bad[i].n, bad[i].tok, bad[i].slot, bad[i].pos, NULL, logits, err,
                                     sizeof err);
        ok(rc == -1 && strstr(err, bad[i].needle), "step: %s is refused: %s", bad[i].what, err);
    }
    int32_t t1 = 1;
    int z = 0;
    ok(rlvr_gpu_model_step(g, kv2, 1, &t1, &z, &z, NULL, logits, err, sizeof err) == -1 &&
           strstr(err, "another model"),
       "step: a cache of another model is refused: %s", err);
    ok(rlvr_gpu_kv_copy(kv, 0, 2, 1, err, sizeof err) == -1 && rlvr_gpu_kv_copy(kv, 0, 1, 9, err, sizeof err) == -1,
       "kv copy: a slot or a length outside the cache is refused: %s", err);
    ok(rlvr_gpu_model_step(g, kv, 1, &t1, &z, &z, NULL, logits, err, sizeof err) == 0,
       "the model and cache stay usable after the refusals");
out:
    rlvr_gpu_kv_free(kv);
    rlvr_gpu_kv_free(kv2);
    rlvr_gpu_model_free(g);
    rlvr_gpu_model_free(g2);
    rlvr_model_free(&m);
}

int main(void)
{
    if (!rlvr_gpu_available()) {
        char why[256];
        rlvr_gpu_describe(why, sizeof why);
        char msg[300];
        snprintf(msg, sizeof msg, "no CUDA device (%s)", why);
        skip_all(msg);
    }
    plan_no_plan();
    rmsnorm_case(1, 7);
    rmsnorm_case(37, 896);
    rmsnorm_case(5, 1000);
    elementwise_case(1, 1, 1, 1, 2, 3);
    elementwise_case(100003, 67, 13, 3, 16, 1000);
    elementwise_case(4096, 256, 64, 14, 64, 151);
    attention_case(1, 1, 1, 1, 4);
    attention_case(2, 37, 6, 2, 16);
    attention_case(3, 130, 14, 2, 64);
    attention_case(1, 300, 4, 4, 8);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        model_case(&shapes[i], RLVR_GPU_FP32);
        model_case(&shapes[i], RLVR_GPU_BF16);
        forward_only_case(&shapes[i], RLVR_GPU_FP32);
        forward_only_case(&shapes[i], RLVR_GPU_BF16);
        for (int gspo = 0; gspo <= 1; gspo++) {
            fused_head_case(&shapes[i], RLVR_GPU_FP32, gspo);
            fused_head_case(&shapes[i], RLVR_GPU_BF16, gspo);
        }
    }
    fused_head_forward_only();
    adamw_case();
    adamw_state_case();
    refusal_cases();
    forward_only_refusals();
    for (size_t i = 0; i < sizeof gen_shapes / sizeof gen_shapes[0]; i++) {
        gen_case(&gen_shapes[i], RLVR_GPU_FP32);
        gen_case(&gen_shapes[i], RLVR_GPU_BF16);
        gen_case(&gen_shapes[i], RLVR_GPU_FP32 | RLVR_GPU_FORWARD_ONLY);
        gen_case(&gen_shapes[i], RLVR_GPU_BF16 | RLVR_GPU_FORWARD_ONLY);
    }
    long_gen_case();
    gen_refusals();
    return done_testing();
}
