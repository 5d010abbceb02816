/*
 * logprob.c -- token log-probabilities from logits and their gradient, on the
 * CPU, without a [n, vocab] softmax (see grpo.h for the contract).
 *
 * Each row of logits (V up to ~152k floats, 600 KB) is walked once per call
 * in chunks of RLVR_LOGPROB_CHUNK entries that stay in L1: the chunk's
 * maximum, then the chunk's sum of exp(z - max) (and of exp(z - max) *
 * (z - max) for the entropy). Running values are rescaled to the larger maximum as chunks
 * arrive (the online log-sum-exp), in double; inside a chunk the sums are
 * float, across many lanes once the compiler vectorises the loops.
 *
 * exp() is our own (rlvr_exp_neg below): the standard range reduction
 * x = n ln2 + f, a degree-6 polynomial for exp(f) on |f| <= ln2/2, and 2^n
 * built in the exponent bits; within 2 ulp of expf on the range it is used
 * on (x <= 0), and written so that gcc vectorises it (no libm call, no
 * branch). The hot loops are compiled for AVX-512 and AVX2 as well as the
 * baseline ISA (target_clones, chosen at load time) where the compiler and
 * the C library support it.
 *
 * Invariants: libc and libm only; outputs are written only for rows that
 * passed their checks, and a refused call names the first bad row; no
 * allocation at all.
 */
#include "grpo.h"
#include "numeric.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Multiversioned hot loops where gcc and glibc's ifunc allow it. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define RLVR_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RLVR_HOT
#endif

/* exp(x) for x <= 0 (and -Inf), float; below -87.33 (where expf turns
 * subnormal) it returns 0, so that 0 * (very negative z) adds nothing.
 * x = n ln2 + f with n = round(x / ln2) (adding and removing 1.5 * 2^23
 * rounds a float to an integer), |f| <= ln2 / 2; exp(f) by its degree-6
 * polynomial (Cephes' expf coefficients); 2^n put straight into the
 * exponent bits. No branch, so the loops that call it vectorise. */
static inline float rlvr_exp_neg(float x0)
{
    float x = x0 < -87.33654f ? -87.33654f : x0; /* keeps 2^n normal below */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float f = x - n * 0.693359375f - n * -2.12194440e-4f; /* ln2 in two parts */
    float y = 1.9875691500e-4f;
    y = y * f + 1.3981999507e-3f;
    y = y * f + 8.3334519073e-3f;
    y = y * f + 4.1665795894e-2f;
    y = y * f + 1.6666665459e-1f;
    y = y * f + 5.0000001201e-1f;
    y = y * f * f + f + 1.0f;
    union {
        int32_t i;
        float f;
    } scale = {.i = ((int32_t)n + 127) << 23}; /* 2^n, n >= -126 */
    return x0 < -87.33654f ? 0.0f : y * scale.f;
}

/* The chunk loops below keep RLVR_LANES independent partial results (one
 * vector register's worth at AVX-512) and combine them at the end, so the
 * compiler can vectorise them without reassociating float sums: the result
 * is the same whichever instruction set runs it. */
#define RLVR_LANES 16

/* Largest entry of x[len]; a NaN is skipped here and caught by the sums. */
RLVR_HOT static float chunk_max(const float *x, size_t len)
{
    float acc[RLVR_LANES];
    for (size_t j = 0; j < RLVR_LANES; j++) acc[j] = -INFINITY;
    size_t i = 0;
    for (; i + RLVR_LANES <= len; i += RLVR_LANES)
        for (size_t j = 0; j < RLVR_LANES; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
    float m = -INFINITY;
    for (size_t j = 0; j < RLVR_LANES; j++) m = acc[j] > m ? acc[j] : m;
    for (; i < len; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* sum(exp(x * inv_t - m)) over x[len]. */
RLVR_HOT static float chunk_sum_exp(const float *x, size_t len, float inv_t, float m)
{
    float acc[RLVR_LANES] = {0};
    size_t i = 0;
    for (; i + RLVR_LANES <= len; i += RLVR_LANES)
        for (size_t j = 0; j < RLVR_LANES; j++) acc[j] += rlvr_exp_neg(x[i + j] * inv_t - m);
    float s = 0.0f;
    for (size_t j = 0; j < RLVR_LANES; j++) s += acc[j];
    for (; i < len; i++) s += rlvr_exp_neg(x[i] * inv_t - m);
    return s;
}

/* The same, with sum(exp(z - m) * (z - m)) for the entropy in *zs; -Inf
 * entries contribute 0 to both (exp is 0, and z - m is bounded first). */
static inline void sum_exp_z_one(float x, float inv_t, float m, float *s, float *w)
{
    float d = x * inv_t - m;
    d = d < -FLT_MAX ? -FLT_MAX : d;
    float e = rlvr_exp_neg(d);
    *s += e;
    *w += e * d;
}
RLVR_HOT static float chunk_sum_exp_z(const float *x, size_t len, float inv_t, float m, float *zs)
{
    float acc[RLVR_LANES] = {0}, accw[RLVR_LANES] = {0};
    size_t i = 0;
    for (; i + RLVR_LANES <= len; i += RLVR_LANES)
        for (size_t j = 0; j < RLVR_LANES; j++) sum_exp_z_one(x[i + j], inv_t, m, &acc[j], &accw[j]);
    float s = 0.0f, w = 0.0f;
    for (size_t j = 0; j < RLVR_LANES; j++) s += acc[j], w += accw[j];
    for (; i < len; i++) sum_exp_z_one(x[i], inv_t, m, &s, &w);
    *zs = w;
    return s;
}

/* dst[i] = -c * exp(x[i] * inv_t - lse); dst may be x. Each block of lanes
 * is loaded before any of it is stored, which is what makes the in-place
 * case safe to vectorise without an aliasing check. */
RLVR_HOT static void chunk_grad(const float *x, float *dst, size_t len, float inv_t, float lse, float c)
{
    size_t i = 0;
    for (; i + RLVR_LANES <= len; i += RLVR_LANES) {
        float v[RLVR_LANES];
        for (size_t j = 0; j < RLVR_LANES; j++) v[j] = x[i + j];
        for (size_t j = 0; j < RLVR_LANES; j++) dst[i + j] = -c * rlvr_exp_neg(v[j] * inv_t - lse);
    }
    for (; i < len; i++) dst[i] = -c * rlvr_exp_neg(x[i] * inv_t - lse);
}

/* One row: log-sum-exp of z = x / T, and optionally the entropy. Returns 0,
 * or -1 when the row holds NaN or +Inf or is all -Inf. */
static int row_lse(const float *x, size_t vocab, float inv_t, double *lse_out, double *ent_out)
{
    double m = -INFINITY; /* running maximum of z */
    double s = 0.0;       /* sum of exp(z - m) */
    double w = 0.0;       /* sum of exp(z - m) * (z - m), for the entropy */
    for (size_t c0 = 0; c0 < vocab; c0 += RLVR_LOGPROB_CHUNK) {
        size_t len = vocab - c0 < RLVR_LOGPROB_CHUNK ? vocab - c0 : RLVR_LOGPROB_CHUNK;
        const float *xc = x + c0;
        float cm = chunk_max(xc, len) * inv_t; /* never NaN: the maximum skips them */
        if (cm == INFINITY) return -1;
        if (cm == -INFINITY) { /* adds nothing, unless it hides a NaN */
            for (size_t i = 0; i < len; i++)
                if (isnan(xc[i])) return -1;
            continue;
        }
        float cs, cw = 0.0f;
        if (ent_out) cs = chunk_sum_exp_z(xc, len, inv_t, cm, &cw);
        else cs = chunk_sum_exp(xc, len, inv_t, cm);
        /* The chunk's NaN check: a NaN anywhere makes the sum NaN. */
        if (isnan(cs)) return -1;
        if (cm > m) { /* rescale the running values to the new maximum */
            if (m == -INFINITY) {
                s = w = 0.0;
            } else {
                double k = exp(m - cm);
                w = (w + (m - cm) * s) * k; /* each z - m becomes z - cm */
                s *= k;
            }
            m = cm;
        }
        double k = exp((double)cm - m);
        s += (double)cs * k;
        w += ((double)cw + ((double)cm - m) * (double)cs) * k;
    }
    if (m == -INFINITY) return -1;
    double lse = m + log(s);
    *lse_out = lse;
    /* H = lse - sum(p z) = log s - w / s, with z measured from m. */
    if (ent_out) *ent_out = log(s) - w / s;
    return 0;
}

static int check_common(const float *logits, const int32_t *tokens, size_t n, size_t vocab,
                        float temperature, const char *who, char *err, size_t err_len)
{
    if (err && err_len) err[0] = '\0';
    if (n && (!logits || !tokens)) return rlvr_num_fail(err, err_len, "%s: logits or tokens is NULL", who);
    if (n && vocab == 0) return rlvr_num_fail(err, err_len, "%s: vocab is 0", who);
    if (vocab > (size_t)INT32_MAX) return rlvr_num_fail(err, err_len, "%s: vocab %zu is too large", who, vocab);
    if (!(temperature > 0.0f) || !isfinite(temperature))
        return rlvr_num_fail(err, err_len, "%s: temperature %g must be finite and > 0", who, (double)temperature);
    return 0;
}

int rlvr_logprobs(const float *logits, const int32_t *tokens, const uint8_t *rows, size_t n,
                  size_t vocab, float temperature, float *logp, float *lse, float *entropy,
                  char *err, size_t err_len)
{
    if (check_common(logits, tokens, n, vocab, temperature, "logprobs", err, err_len)) return -1;
    if (n && !logp) return rlvr_num_fail(err, err_len, "logprobs: logp is NULL");
    float inv_t = 1.0f / temperature;
    for (size_t t = 0; t < n; t++) {
        if (rows && !rows[t]) {
            logp[t] = 0.0f;
            if (lse) lse[t] = 0.0f;
            if (entropy) entropy[t] = 0.0f;
            continue;
        }
        int32_t id = tokens[t];
        if (id < 0 || (size_t)id >= vocab)
            return rlvr_num_fail(err, err_len, "logprobs: row %zu: token %ld is outside 0..%zu", t, (long)id,
                                 vocab - 1);
        const float *x = logits + t * vocab;
        double l, h = 0.0;
        if (row_lse(x, vocab, inv_t, &l, entropy ? &h : NULL))
            return rlvr_num_fail(err, err_len, "logprobs: row %zu: logits hold NaN or +Inf, or are all -Inf", t);
        double lp = (double)(x[id] * inv_t) - l;
        if (!isfinite(lp))
            return rlvr_num_fail(err, err_len, "logprobs: row %zu: the logit of token %ld is -Inf", t, (long)id);
        logp[t] = (float)lp;
        if (lse) lse[t] = (float)l;
        if (entropy) entropy[t] = (float)(h > 0.0 ? h : 0.0); /* rounding can dip below 0 */
    }
    return 0;
}

int rlvr_logprobs_backward(const float *logits, const int32_t *tokens, const uint8_t *rows,
                           const float *lse, const float *dlogp, size_t n, size_t vocab,
                           float temperature, float *dlogits, char *err, size_t err_len)
{
    if (check_common(logits, tokens, n, vocab, temperature, "logprobs_backward", err, err_len))
        return -1;
    if (n && (!dlogp || !dlogits))
        return rlvr_num_fail(err, err_len, "logprobs_backward: dlogp or dlogits is NULL");
    float inv_t = 1.0f / temperature;
    for (size_t t = 0; t < n; t++) {
        float *d = dlogits + t * vocab;
        float g = dlogp[t];
        if ((rows && !rows[t]) || g == 0.0f) {
            memset(d, 0, vocab * sizeof *d);
            continue;
        }
        if (!isfinite(g)) return rlvr_num_fail(err, err_len, "logprobs_backward: row %zu: dlogp is not finite", t);
        int32_t id = tokens[t];
        if (id < 0 || (size_t)id >= vocab)
            return rlvr_num_fail(err, err_len, "logprobs_backward: row %zu: token %ld is outside 0..%zu", t,
                                 (long)id, vocab - 1);
        const float *x = logits + t * vocab;
        double l;
        if (lse) l = lse[t];
        else if (row_lse(x, vocab, inv_t, &l, NULL))
            return rlvr_num_fail(err, err_len,
                                 "logprobs_backward: row %zu: logits hold NaN or +Inf, or are all -Inf", t);
        float c = g * inv_t;
        /* p of the taken token, before the row is overwritten (in place). */
        float p_id = rlvr_exp_neg(x[id] * inv_t - (float)l);
        for (size_t c0 = 0; c0 < vocab; c0 += RLVR_LOGPROB_CHUNK) {
            size_t len = vocab - c0 < RLVR_LOGPROB_CHUNK ? vocab - c0 : RLVR_LOGPROB_CHUNK;
            chunk_grad(x + c0, d + c0, len, inv_t, (float)l, c);
        }
        d[id] = c * (1.0f - p_id);
    }
    return 0;
}
