/*
 * gpu_model_bench.c -- `make bench`: the policy on the GPU (gpu_model.h).
 *
 *   gpu_model_bench kernels           each kernel at Qwen2.5-0.5B's shapes
 *                                     (N = 2048 tokens): time, GB/s (or
 *                                     TFLOP/s for attention) and the share
 *                                     of the device's peak
 *   gpu_model_bench step B T STEPS fp32|bf16
 *                                     forward, SFT cross-entropy, backward and
 *                                     AdamW of a Qwen2.5-0.5B-shaped model with
 *                                     random weights: ms per step, tokens/s,
 *                                     MFU = 6 * params * tokens / time / peak,
 *                                     and the model's own allocation
 *                                     high-water mark
 * One line per figure; the first step is a warm-up and is not timed.
 * bench/gpu_model.sh runs it beside bench/gpu_model_torch.py, which does the
 * same with PyTorch. Without a device it says so and exits 0.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu.h"
#include "model.h"

static char err[512];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Peaks of the device (published figures; dense, no sparsity): HBM bytes/s,
 * bf16 tensor FLOP/s, fp32 FLOP/s (TF32 off). */
struct peak {
    const char *name;
    double bw, bf16, fp32;
};

static struct peak device_peak(void)
{
    char d[256];
    rlvr_gpu_describe(d, sizeof d);
    struct peak p = {"unknown GPU (H100 SXM peaks assumed)", 3.35e12, 989e12, 67e12};
    if (strstr(d, "H200")) p = (struct peak){"H200 (4.8 TB/s, 989 TFLOP/s bf16)", 4.8e12, 989e12, 67e12};
    else if (strstr(d, "H100") && strstr(d, "PCIe")) p = (struct peak){"H100 PCIe (2.0 TB/s, 756 TFLOP/s bf16)", 2.0e12, 756e12, 51e12};
    else if (strstr(d, "H100")) p = (struct peak){"H100 SXM (3.35 TB/s, 989 TFLOP/s bf16)", 3.35e12, 989e12, 67e12};
    return p;
}

static void *dalloc(size_t bytes, float fill_scale)
{
    void *d = NULL;
    if (rlvr_gpu_mem_alloc(&d, bytes, err, sizeof err)) return NULL;
    size_t n = bytes / 4;
    float *h = malloc(bytes);
    if (!h) return d;
    uint64_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        h[i] = fill_scale * ((float)(s >> 40) / (float)(1 << 24) - 0.5f);
    }
    rlvr_gpu_mem_upload(d, h, bytes, err, sizeof err);
    free(h);
    return d;
}

/* Times `reps` calls of the kernel named `what` after one warm-up. */
#define TIME(what, bytes, flops, call)                                                          \
    do {                                                                                        \
        int bad = (call) || rlvr_gpu_sync(err, sizeof err);                                     \
        double t0 = now();                                                                      \
        for (int rep_ = 0; !bad && rep_ < reps; rep_++) bad = (call);                                  \
        bad = bad || rlvr_gpu_sync(err, sizeof err);                                            \
        double ms = (now() - t0) / reps * 1e3;                                                  \
        if (bad) printf("rlvr    %-28s failed: %s\n", what, err);                              \
        else if (flops > 0)                                                                     \
            printf("rlvr    %-28s %9.3f ms  %8.1f TFLOP/s  %5.1f%% of fp32 peak\n", what, ms,  \
                   (flops) / ms * 1e-9, 100.0 * (flops) / (ms * 1e-3) / pk.fp32);               \
        else                                                                                    \
            printf("rlvr    %-28s %9.3f ms  %8.1f GB/s     %5.1f%% of HBM peak\n", what, ms,   \
                   (bytes) / ms * 1e-6, 100.0 * (bytes) / (ms * 1e-3) / pk.bw);                 \
    } while (0)

static int kernels(void)
{
    struct peak pk = device_peak();
    printf("rlvr    device: %s\n", pk.name);
    const int N = 2048, D = 896, F = 4864, Hq = 14, Hk = 2, hd = 64, B = 4, T = 512, V = 151936;
    const int reps = 20;
    size_t nd = (size_t)N * D, nf = (size_t)N * F;
    float *x = dalloc(nd * 4, 2), *y = dalloc(nd * 4, 1), *w = dalloc((size_t)D * 4, 1), *r = dalloc((size_t)N * 4, 1);
    float *dx = dalloc(nd * 4, 1), *dw = dalloc((size_t)D * 4, 0);
    float *g = dalloc(nf * 4, 4), *u = dalloc(nf * 4, 1), *h = dalloc(nf * 4, 1), *du = dalloc(nf * 4, 1);
    float *q = dalloc((size_t)N * Hq * hd * 4, 1), *k = dalloc((size_t)N * Hk * hd * 4, 1), *v = dalloc((size_t)N * Hk * hd * 4, 1);
    float *o = dalloc((size_t)N * Hq * hd * 4, 0), *lse = dalloc((size_t)N * Hq * 4, 0);
    float *dq = dalloc((size_t)N * Hq * hd * 4, 0), *dk = dalloc((size_t)N * Hk * hd * 4, 0), *dv = dalloc((size_t)N * Hk * hd * 4, 0);
    float *sc = dalloc(rlvr_gpu_attention_scratch(B, Hq, T) * 4, 0);
    float *cs = malloc((size_t)T * hd * 4), *d_cs = dalloc((size_t)T * hd * 4, 0);
    float *logits = dalloc((size_t)N * V * 4, 8), *logp = dalloc((size_t)N * 4, 0), *l2 = dalloc((size_t)N * 4, 0);
    int32_t *tg = dalloc((size_t)N * 4, 0);
    if (!logits || !tg || !sc || !cs || !d_cs) {
        printf("rlvr    allocation failed: %s\n", err);
        return 0;
    }
    int32_t *ht = malloc((size_t)N * 4);
    for (int i = 0; i < N; i++) ht[i] = (i * 7919) % V;
    rlvr_gpu_mem_upload(tg, ht, (size_t)N * 4, err, sizeof err);
    rlvr_gpu_rope_table(cs, T, hd, 1e6);
    rlvr_gpu_mem_upload(d_cs, cs, (size_t)T * hd * 4, err, sizeof err);
    TIME("rmsnorm forward [2048,896]", 2.0 * nd * 4, 0, rlvr_gpu_rmsnorm_forward(y, r, x, w, N, D, 1e-6f, err, sizeof err));
    TIME("rmsnorm backward", 4.0 * nd * 4, 0, rlvr_gpu_rmsnorm_backward(dx, 0, dw, y, x, w, r, N, D, err, sizeof err));
    TIME("rope q [2048,14,64]", 2.0 * N * Hq * hd * 4, 0, rlvr_gpu_rope(q, d_cs, N, T, Hq, hd, 0, err, sizeof err));
    TIME("swiglu forward [2048,4864]", 3.0 * nf * 4, 0, rlvr_gpu_swiglu_forward(h, g, u, nf, err, sizeof err));
    TIME("swiglu backward", 5.0 * nf * 4, 0, rlvr_gpu_swiglu_backward(h, du, h, g, u, nf, err, sizeof err));
    TIME("residual add [2048,896]", 3.0 * nd * 4, 0, rlvr_gpu_add(y, x, nd, err, sizeof err));
    /* causal attention: the full [T, T] products are computed (4 B Hq T^2 hd) */
    double af = 4.0 * B * Hq * (double)T * T * hd;
    TIME("attention forward 4x512 14/2", 0, af, rlvr_gpu_attention_forward(o, lse, q, k, v, B, T, Hq, Hk, hd, sc, err, sizeof err));
    TIME("attention backward", 0, 2.5 * af, rlvr_gpu_attention_backward(dq, dk, dv, o, q, k, v, o, lse, B, T, Hq, Hk, hd, sc, err, sizeof err));
    /* the loss reads the logits twice and writes them once */
    TIME("cross-entropy [2048,151936]", 3.0 * N * (double)V * 4, 0,
         rlvr_gpu_cross_entropy(logits, tg, NULL, (size_t)N, (size_t)V, -1.0f / N, logp, l2, err, sizeof err));
    free(cs), free(ht);
    return 0;
}

static int step(int B, int T, int steps, int prec)
{
    struct peak pk = device_peak();
    struct rlvr_model_config c;
    rlvr_model_config_qwen2_0_5b(&c);
    struct rlvr_model m;
    if (rlvr_model_create(&m, &c, err, sizeof err)) {
        printf("rlvr    model: %s\n", err);
        return 0;
    }
    rlvr_model_init_random(&m, 1, 0.02f);
    struct rlvr_gpu_model_config g = {c.vocab_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers,
                                      c.num_attention_heads, c.num_key_value_heads, c.head_dim,
                                      c.max_position_embeddings, c.rope_theta, c.rms_norm_eps,
                                      c.tie_word_embeddings, c.attention_bias};
    struct rlvr_gpu_model *gm = NULL;
    struct rlvr_gpu_adamw_config ac = {0.9, 0.999, 1e-8, 0.0, 1.0};
    int N = B * T;
    int32_t *tok = malloc((size_t)N * 4), *tg = malloc((size_t)N * 4);
    for (int i = 0; i < N; i++) tok[i] = (int32_t)((i * 2654435761u) % (unsigned)c.vocab_size);
    for (int i = 0; i < N; i++) tg[i] = tok[(i + 1) % N];
    double loss = 0, t0 = 0;
    int rc = rlvr_gpu_model_create(&gm, &g, prec, err, sizeof err) ||
             rlvr_gpu_model_upload(gm, m.params, m.n_params, err, sizeof err);
    for (int s = 0; !rc && s <= steps; s++) {
        if (s == 1) {
            rc = rlvr_gpu_sync(err, sizeof err);
            t0 = now();
        }
        rc = rc || rlvr_gpu_model_zero_grads(gm, err, sizeof err) ||
             rlvr_gpu_model_forward(gm, tok, B, T, NULL, err, sizeof err) ||
             rlvr_gpu_model_sft_loss(gm, tg, NULL, 1.0f / (float)N, &loss, err, sizeof err) ||
             rlvr_gpu_model_backward(gm, NULL, err, sizeof err) ||
             rlvr_gpu_model_adamw_step(gm, &ac, 1e-5, NULL, NULL, err, sizeof err);
    }
    rc = rc || rlvr_gpu_sync(err, sizeof err);
    if (rc) {
        printf("rlvr    step %s: %s\n", prec ? "bf16" : "fp32", err);
    } else {
        double ms = (now() - t0) / steps * 1e3, flops = 6.0 * (double)m.n_params * N;
        printf("rlvr    step %s B %d T %d: %8.1f ms/step  %8.0f tokens/s  MFU %5.1f%% (of %s peak)  "
               "peak memory %.2f GB  loss %.4f\n",
               prec ? "bf16" : "fp32", B, T, ms, N / (ms * 1e-3),
               100.0 * flops / (ms * 1e-3) / (prec ? pk.bf16 : pk.fp32), prec ? "bf16" : "fp32",
               (double)rlvr_gpu_model_peak_bytes(gm) / 1e9, loss);
    }
    rlvr_gpu_model_free(gm);
    rlvr_model_free(&m);
    free(tok), free(tg);
    return 0;
}

int main(int argc, char **argv)
{
    if (!rlvr_gpu_available()) {
        char d[256];
        rlvr_gpu_describe(d, sizeof d);
        printf("rlvr    no GPU: %s\n", d);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "kernels")) return kernels();
    if (argc == 6 && !strcmp(argv[1], "step"))
        return step(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]) > 0 ? atoi(argv[4]) : 1,
                    !strcmp(argv[5], "bf16") ? RLVR_GPU_BF16 : RLVR_GPU_FP32);
    fprintf(stderr, "usage: gpu_model_bench kernels | step B T STEPS fp32|bf16\n");
    return 2;
}
