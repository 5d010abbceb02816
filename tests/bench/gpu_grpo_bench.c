/*
 * gpu_grpo_bench.c -- `make bench` (bench/gpu_grpo.sh): the GRPO loss and
 * its gradient to the logits on the GPU, from device-resident logits, at
 * Qwen2.5-0.5B's vocabulary.
 *
 *   gpu_grpo_bench [B T V ROUNDS D]     default 8 1024 151936 5 896
 *
 * Inputs: B x T positions of random logits [B*T, V] (uniform in [-4, 4), as
 * bench/gpu_grpo_torch.py makes them), taken tokens, old and ref
 * log-probabilities within 0.05 of the current ones, one advantage per
 * sequence, every position active. Timed per variant, best of ROUNDS after
 * one warm-up call (each call returns once its status is read back, so the
 * wall clock covers the device's work):
 *   fp32 token   rlvr_gpu_grpo_loss_dev, R1 defaults, gradient into its own
 *                [B*T, V] buffer (as torch's .grad)
 *   fp32 inplace the same, gradient written over the logits
 *   fp32 gspo    sequence-level ratios (three passes: stats, sequences, grad)
 *   bf16 token   bfloat16 logits and gradient
 * Printed: ms per call, tokens/s, the bytes the kernels must move (logits
 * read twice, the gradient written once) per second and as a share of the
 * device's peak HBM bandwidth when the device is known, and rlvr's own
 * device-allocation high-water mark (inputs included, as
 * torch.cuda.max_memory_allocated includes them).
 *
 * Then the loss fused with the LM head (rlvr_gpu_grpo_linear_loss_dev), from
 * final hidden states h [B*T, D] (uniform in [-1, 1)) and an LM head W
 * [V, D] (uniform in [-6/sqrt(D), 6/sqrt(D)): logits of standard deviation
 * 2), as bench/gpu_grpo_torch.py makes them; old / ref within 0.05 of the
 * current log-probabilities (a forward-only call gives them), R1 defaults,
 * every position active; dh written, dW accumulated; the default chunk
 * (a 512 MiB budget):
 *   linear fp32 token   fp32 products (TF32 off)
 *   linear fp32 gspo    sequence-level ratios: two sweeps, 4 products a chunk
 *   linear bf16 token   bf16 operands, fp32 accumulation
 * Printed: ms per call, tokens/s, the products' flops (6 B*T*V*D, 8 in
 * GSPO) per second and as a share of the device's peak (fp32 without
 * tensor cores in fp32, dense bf16 tensor cores in bf16) when the device is
 * known, and the allocation high-water mark (h, W, dh, dW and the inputs
 * included). Without a device it says so and exits 0.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include "gpu.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double uniform01(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "gpu_grpo_bench: %s: %s\n", what, err);
    exit(1);
}

/* Peak HBM bandwidth (bytes/s) and dense fp32 (no tensor cores) and bf16
 * (tensor cores) flops of the devices we know, by name (NVIDIA's data sheets). */
static const struct device_peak {
    const char *key, *name;
    double bw, fp32, bf16;
} known_devices[] = {
    {"H200", "H200", 4.8e12, 67e12, 989e12},
    {"H100 NVL", "H100 NVL", 3.9e12, 60e12, 835e12},
    {"H100 PCIe", "H100 PCIe", 2.0e12, 51e12, 756e12},
    {"H100", "H100 SXM", 3.35e12, 67e12, 989e12},
    {"A100-SXM4-80GB", "A100 SXM 80GB", 2.039e12, 19.5e12, 312e12},
    {"A100", "A100 40GB", 1.555e12, 19.5e12, 312e12},
};

static const struct device_peak *device_peak(const char *desc)
{
    for (size_t i = 0; i < sizeof known_devices / sizeof known_devices[0]; i++)
        if (strstr(desc, known_devices[i].key)) return &known_devices[i];
    return NULL;
}

static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* Fills d_x [R, V] (dtype) with uniform [-4, 4) logits, 64 rows at a time. */
static void fill_logits(void *d_x, int dtype, size_t R, size_t V)
{
    char err[256];
    const size_t chunk = 64, es = dtype == RLVR_GPU_BF16 ? 2 : 4;
    float *h = malloc(chunk * V * sizeof *h);
    uint16_t *hb = malloc(chunk * V * sizeof *hb);
    if (!h || !hb) die("fill", "out of host memory");
    rng = 0x9E3779B97F4A7C15ull;
    for (size_t r0 = 0; r0 < R; r0 += chunk) {
        size_t n = R - r0 < chunk ? R - r0 : chunk;
        for (size_t i = 0; i < n * V; i++) h[i] = (float)(uniform01() * 8.0 - 4.0);
        const void *src = h;
        if (dtype == RLVR_GPU_BF16) {
            for (size_t i = 0; i < n * V; i++) hb[i] = to_bf16(h[i]);
            src = hb;
        }
        if (rlvr_gpu_grpo_upload((char *)d_x + r0 * V * es, src, n * V * es, err, sizeof err)) die("upload", err);
    }
    free(h);
    free(hb);
}

struct inputs {
    size_t B, T, V;
    int32_t *d_tok;
    float *d_old, *d_ref, *d_adv;
};

/* Tokens, advantages, and old / ref near the policy on d_x. */
static void make_inputs(struct inputs *in, const void *d_x, int dtype)
{
    char err[256];
    const size_t R = in->B * in->T;
    int32_t *tok = malloc(R * sizeof *tok);
    float *lp = malloc(R * sizeof *lp), *adv = malloc(in->B * sizeof *adv);
    if (!tok || !lp || !adv) die("inputs", "out of host memory");
    for (size_t r = 0; r < R; r++) tok[r] = (int32_t)(uniform01() * (double)in->V);
    for (size_t b = 0; b < in->B; b++) adv[b] = (float)(uniform01() * 2.0 - 1.0);
    if (rlvr_gpu_grpo_upload(in->d_tok, tok, R * 4, err, sizeof err) ||
        rlvr_gpu_grpo_upload(in->d_adv, adv, in->B * 4, err, sizeof err) ||
        rlvr_gpu_logprobs_dev(d_x, dtype, in->d_tok, NULL, R, in->V, 1.0f, in->d_old, NULL, NULL, err, sizeof err) ||
        rlvr_gpu_grpo_download(lp, in->d_old, R * 4, err, sizeof err))
        die("inputs", err);
    for (size_t r = 0; r < R; r++) lp[r] += (float)(0.05 * (uniform01() * 2.0 - 1.0));
    if (rlvr_gpu_grpo_upload(in->d_old, lp, R * 4, err, sizeof err)) die("inputs", err);
    for (size_t r = 0; r < R; r++) lp[r] += (float)(0.05 * (uniform01() * 2.0 - 1.0));
    if (rlvr_gpu_grpo_upload(in->d_ref, lp, R * 4, err, sizeof err)) die("inputs", err);
    free(tok);
    free(lp);
    free(adv);
}

static void run(const char *label, const struct inputs *in, const struct rlvr_grpo_config *cfg, const void *d_x,
                void *d_grad, int dtype, int rounds, const char *dev_desc)
{
    char err[256];
    struct rlvr_gpu_grpo_batch b;
    memset(&b, 0, sizeof b);
    b.n_seq = in->B, b.seq_len = in->T, b.vocab = in->V, b.dtype = dtype, b.temperature = 1.0f;
    b.logits = d_x, b.tokens = in->d_tok, b.old_logp = in->d_old, b.ref_logp = in->d_ref, b.advantages = in->d_adv;
    struct rlvr_gpu_grpo_metrics m;
    rlvr_gpu_grpo_memory_reset_peak();
    if (rlvr_gpu_grpo_loss_dev(cfg, &b, d_grad, &m, err, sizeof err)) die(label, err);
    double best = INFINITY;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        if (rlvr_gpu_grpo_loss_dev(cfg, &b, d_grad, &m, err, sizeof err)) die(label, err);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    size_t peak = 0;
    rlvr_gpu_grpo_memory(NULL, &peak);
    const size_t R = in->B * in->T, es = dtype == RLVR_GPU_BF16 ? 2 : 4;
    const double bytes = (double)R * (double)in->V * (double)es * 3.0; /* read, read, write */
    const struct device_peak *pk = device_peak(dev_desc);
    char share[96] = "";
    if (pk) snprintf(share, sizeof share, " = %4.1f%% of %s (%.2f TB/s)", 100.0 * bytes / best / pk->bw, pk->name, pk->bw / 1e12);
    printf("rlvr  %-13s B=%zu T=%zu V=%zu  %8.3f ms  %10.0f tokens/s  %7.1f GB/s%s  peak %8.0f MiB  (loss %.6g)\n",
           label, in->B, in->T, in->V, best * 1e3, (double)R / best, bytes / best / 1e9, share,
           (double)peak / 1048576.0, m.loss);
}

/* Fills d [n] (dtype) with uniform [-a, a) values, 1 Mi at a time. */
static void fill_uniform(void *d, int dtype, size_t n, double a)
{
    char err[256];
    const size_t chunk = (size_t)1 << 20, es = dtype == RLVR_GPU_BF16 ? 2 : 4;
    float *h = malloc(chunk * sizeof *h);
    uint16_t *hb = malloc(chunk * sizeof *hb);
    if (!h || !hb) die("fill", "out of host memory");
    for (size_t i0 = 0; i0 < n; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        for (size_t i = 0; i < m; i++) h[i] = (float)((uniform01() * 2.0 - 1.0) * a);
        const void *src = h;
        if (dtype == RLVR_GPU_BF16) {
            for (size_t i = 0; i < m; i++) hb[i] = to_bf16(h[i]);
            src = hb;
        }
        if (rlvr_gpu_grpo_upload((char *)d + i0 * es, src, m * es, err, sizeof err)) die("upload", err);
    }
    free(h);
    free(hb);
}

/* The loss fused with the LM head: B x T positions, hidden size D, operands
 * of dtype, token- or sequence-level ratios. */
static void run_linear(const char *label, size_t B, size_t T, size_t V, size_t D, int dtype, int sequence_level,
                       int rounds, const char *dev_desc)
{
    char err[256];
    const size_t R = B * T, es = dtype == RLVR_GPU_BF16 ? 2 : 4;
    rlvr_gpu_grpo_memory_reset_peak();
    struct rlvr_gpu_grpo_linear lin;
    memset(&lin, 0, sizeof lin);
    lin.hidden = D, lin.dtype = dtype;
    void *d_h = NULL, *d_w = NULL, *d_dh = NULL, *d_dw = NULL;
    int32_t *d_tok = NULL;
    float *d_old = NULL, *d_ref = NULL, *d_adv = NULL;
    if (rlvr_gpu_grpo_alloc(&d_h, R * D * es, err, sizeof err) || rlvr_gpu_grpo_alloc(&d_w, V * D * es, err, sizeof err) ||
        rlvr_gpu_grpo_alloc(&d_dh, R * D * 4, err, sizeof err) || rlvr_gpu_grpo_alloc(&d_dw, V * D * 4, err, sizeof err) ||
        rlvr_gpu_grpo_alloc((void **)&d_tok, R * 4, err, sizeof err) ||
        rlvr_gpu_grpo_alloc((void **)&d_old, R * 4, err, sizeof err) ||
        rlvr_gpu_grpo_alloc((void **)&d_ref, R * 4, err, sizeof err) ||
        rlvr_gpu_grpo_alloc((void **)&d_adv, B * 4, err, sizeof err))
        die(label, err);
    rng = 0x9E3779B97F4A7C15ull;
    fill_uniform(d_h, dtype, R * D, 1.0);
    fill_uniform(d_w, dtype, V * D, 6.0 / sqrt((double)D));
    fill_uniform(d_dw, RLVR_GPU_F32, V * D, 0.0);
    lin.h = d_h, lin.weight = d_w;

    /* Tokens and advantages; old / ref from a forward-only call. */
    int32_t *tok = malloc(R * sizeof *tok);
    float *lp = malloc(R * sizeof *lp), *adv = malloc(B * sizeof *adv);
    if (!tok || !lp || !adv) die(label, "out of host memory");
    for (size_t r = 0; r < R; r++) tok[r] = (int32_t)(uniform01() * (double)V);
    for (size_t b = 0; b < B; b++) adv[b] = (float)(uniform01() * 2.0 - 1.0);
    struct rlvr_grpo_config cfg = {RLVR_LOSS_GRPO, RLVR_IS_TOKEN, RLVR_KL_K3, 0, 0.2f, 0.2f, 0.0f, 0.0f, 0.0f, 256, 1};
    struct rlvr_gpu_grpo_batch b;
    memset(&b, 0, sizeof b);
    b.n_seq = B, b.seq_len = T, b.vocab = V, b.temperature = 1.0f;
    b.tokens = d_tok, b.advantages = d_adv, b.logp = d_old;
    struct rlvr_gpu_grpo_metrics m;
    if (rlvr_gpu_grpo_upload(d_tok, tok, R * 4, err, sizeof err) ||
        rlvr_gpu_grpo_upload(d_adv, adv, B * 4, err, sizeof err) ||
        rlvr_gpu_grpo_linear_loss_dev(&cfg, &b, &lin, &m, err, sizeof err) ||
        rlvr_gpu_grpo_download(lp, d_old, R * 4, err, sizeof err))
        die(label, err);
    for (size_t r = 0; r < R; r++) lp[r] += (float)(0.05 * (uniform01() * 2.0 - 1.0));
    if (rlvr_gpu_grpo_upload(d_old, lp, R * 4, err, sizeof err)) die(label, err);
    for (size_t r = 0; r < R; r++) lp[r] += (float)(0.05 * (uniform01() * 2.0 - 1.0));
    if (rlvr_gpu_grpo_upload(d_ref, lp, R * 4, err, sizeof err)) die(label, err);
    free(tok);
    free(lp);
    free(adv);

    cfg.beta = 0.001f;
    cfg.importance_level = sequence_level ? RLVR_IS_SEQUENCE : RLVR_IS_TOKEN;
    b.logp = NULL, b.old_logp = d_old, b.ref_logp = d_ref;
    lin.dh = d_dh, lin.dweight = d_dw;
    size_t chunk = 0, ws = 0;
    if (rlvr_gpu_grpo_linear_plan(&b, &lin, &chunk, &ws, err, sizeof err)) die(label, err);
    if (rlvr_gpu_grpo_linear_loss_dev(&cfg, &b, &lin, &m, err, sizeof err)) die(label, err);
    double best = INFINITY;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        if (rlvr_gpu_grpo_linear_loss_dev(&cfg, &b, &lin, &m, err, sizeof err)) die(label, err);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    size_t peak = 0;
    rlvr_gpu_grpo_memory(NULL, &peak);
    const double flops = (sequence_level ? 8.0 : 6.0) * (double)R * (double)V * (double)D;
    const struct device_peak *pk = device_peak(dev_desc);
    char share[96] = "";
    if (pk) {
        double p = dtype == RLVR_GPU_BF16 ? pk->bf16 : pk->fp32;
        snprintf(share, sizeof share, " = %4.1f%% of %s %s (%.0f TFLOP/s)", 100.0 * flops / best / p, pk->name,
                 dtype == RLVR_GPU_BF16 ? "bf16" : "fp32", p / 1e12);
    }
    printf("rlvr  %-18s B=%zu T=%zu V=%zu D=%zu  %8.3f ms  %10.0f tokens/s  %6.1f TFLOP/s%s  peak %8.0f MiB  "
           "(chunk %zu rows, workspace %.0f MiB; loss %.6g)\n",
           label, B, T, V, D, best * 1e3, (double)R / best, flops / best / 1e12, share, (double)peak / 1048576.0,
           chunk, (double)ws / 1048576.0, m.loss);
    rlvr_gpu_grpo_free(d_h);
    rlvr_gpu_grpo_free(d_w);
    rlvr_gpu_grpo_free(d_dh);
    rlvr_gpu_grpo_free(d_dw);
    rlvr_gpu_grpo_free(d_tok);
    rlvr_gpu_grpo_free(d_old);
    rlvr_gpu_grpo_free(d_ref);
    rlvr_gpu_grpo_free(d_adv);
}

int main(int argc, char **argv)
{
    size_t B = argc > 1 ? strtoul(argv[1], NULL, 10) : 8, T = argc > 2 ? strtoul(argv[2], NULL, 10) : 1024;
    size_t V = argc > 3 ? strtoul(argv[3], NULL, 10) : 151936;
    int rounds = argc > 4 ? atoi(argv[4]) : 5;
    size_t D = argc > 5 ? strtoul(argv[5], NULL, 10) : 896;
    if (!B || !T || !V || rounds < 1 || !D) die("usage", "gpu_grpo_bench [B T V ROUNDS D]");
    char desc[512], err[256];
    rlvr_gpu_describe(desc, sizeof desc);
    if (rlvr_gpu_available() <= 0) {
        printf("gpu_grpo_bench: no GPU (%s): nothing measured\n", desc);
        return 0;
    }
    printf("# %s\n", desc);
    const size_t R = B * T;
    struct inputs in = {B, T, V, NULL, NULL, NULL, NULL};
    void *d_x = NULL, *d_g = NULL;
    if (rlvr_gpu_grpo_alloc((void **)&in.d_tok, R * 4, err, sizeof err) ||
        rlvr_gpu_grpo_alloc((void **)&in.d_old, R * 4, err, sizeof err) ||
        rlvr_gpu_grpo_alloc((void **)&in.d_ref, R * 4, err, sizeof err) ||
        rlvr_gpu_grpo_alloc((void **)&in.d_adv, B * 4, err, sizeof err) ||
        rlvr_gpu_grpo_alloc(&d_x, R * V * 4, err, sizeof err))
        die("alloc", err);
    fill_logits(d_x, RLVR_GPU_F32, R, V);
    make_inputs(&in, d_x, RLVR_GPU_F32);

    struct rlvr_grpo_config cfg = {RLVR_LOSS_GRPO, RLVR_IS_TOKEN, RLVR_KL_K3, 0, 0.2f, 0.2f, 0.0f, 0.0f, 0.001f, 256, 1};
    if (rlvr_gpu_grpo_alloc(&d_g, R * V * 4, err, sizeof err)) die("alloc", err);
    run("fp32 token", &in, &cfg, d_x, d_g, RLVR_GPU_F32, rounds, desc);
    cfg.importance_level = RLVR_IS_SEQUENCE;
    run("fp32 gspo", &in, &cfg, d_x, d_g, RLVR_GPU_F32, rounds, desc);
    cfg.importance_level = RLVR_IS_TOKEN;
    rlvr_gpu_grpo_free(d_g);
    /* In place: after the first call the "logits" are a gradient: finite,
     * the same amount of work. */
    run("fp32 inplace", &in, &cfg, d_x, d_x, RLVR_GPU_F32, rounds, desc);
    rlvr_gpu_grpo_free(d_x);

    if (rlvr_gpu_grpo_alloc(&d_x, R * V * 2, err, sizeof err) || rlvr_gpu_grpo_alloc(&d_g, R * V * 2, err, sizeof err))
        die("alloc", err);
    fill_logits(d_x, RLVR_GPU_BF16, R, V);
    make_inputs(&in, d_x, RLVR_GPU_BF16);
    run("bf16 token", &in, &cfg, d_x, d_g, RLVR_GPU_BF16, rounds, desc);
    rlvr_gpu_grpo_free(d_x);
    rlvr_gpu_grpo_free(d_g);
    rlvr_gpu_grpo_free(in.d_tok);
    rlvr_gpu_grpo_free(in.d_old);
    rlvr_gpu_grpo_free(in.d_ref);
    rlvr_gpu_grpo_free(in.d_adv);

    run_linear("linear fp32 token", B, T, V, D, RLVR_GPU_F32, 0, rounds, desc);
    run_linear("linear fp32 gspo", B, T, V, D, RLVR_GPU_F32, 1, rounds, desc);
    run_linear("linear bf16 token", B, T, V, D, RLVR_GPU_BF16, 0, rounds, desc);
    return 0;
}
