/*
 * model_math.cuh -- the per-element and per-row arithmetic of the policy's
 * kernels (gpu/model_kernels.cu), as __host__ __device__ inline functions,
 * so that the very same expressions run in the kernels and, compiled for the
 * CPU, in tests/test_gpu_model_host.cu, which holds them to host/model.c,
 * host/optim.c and host/logprob.c on a machine without a GPU.
 *
 * Each function restates one formula of the CPU reference in the same order
 * of float operations (the CPU file and line are named), so that the only
 * differences between a kernel and its reference are the order of the
 * additions inside reductions and the device's expf/logf (within 2 ulp).
 * No state, no memory of its own, no CUDA runtime call: this header compiles
 * as host-only C++ under nvcc.
 */
#ifndef RLVR_MODEL_MATH_CUH
#define RLVR_MODEL_MATH_CUH

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define RLVR_HD __host__ __device__ inline
#else
#define RLVR_HD static inline
#endif

namespace rlvr_gm {

/* ---- bf16 (raw bits; the device's __float2bfloat16_rn for finite values) -------- */

RLVR_HD uint32_t f32_bits(float f)
{
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
#endif
}

RLVR_HD float bits_f32(uint32_t u)
{
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, 4);
    return f;
#endif
}

/* Round to nearest even; NaN stays a (quiet) NaN, infinities stay. */
RLVR_HD uint16_t to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

RLVR_HD float from_bf16(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

/* ---- RMSNorm (host/model.c rmsnorm_fwd, rmsnorm_bwd) ----------------------------- */

/* r = 1 / sqrtf(ss / D + eps), ss the row's sum of squares. */
RLVR_HD float rms_rstd(float ss, int D, float eps)
{
    return 1.0f / sqrtf(ss / (float)D + eps);
}

RLVR_HD float rms_y(float x, float r, float w)
{
    return x * r * w;
}

/* c = dot(dy * w, x) * r^3 / D, the row's term of the input gradient. */
RLVR_HD float rms_c(float dot, float r, int D)
{
    return dot * r * r * r / (float)D;
}

RLVR_HD float rms_dx(float dy, float w, float r, float x, float c)
{
    return dy * w * r - x * c;
}

RLVR_HD float rms_dw(float dy, float x, float r)
{
    return dy * x * r;
}

/* ---- RoPE (host/model.c rope, rope_inv_freq) ------------------------------------ */

/* (a, b) = (v[i], v[i + hd/2]) rotated by the angle whose cos and sin are
 * c and s (the transpose when inverse). */
RLVR_HD void rope_pair(float *a, float *b, float c, float s, int inverse)
{
    if (inverse) s = -s;
    float x = *a, y = *b;
    *a = x * c - y * s;
    *b = y * c + x * s;
}

/* ---- SwiGLU (host/model.c silu, the MLP's backward) ------------------------------ */

RLVR_HD float silu(float g)
{
    return g / (1.0f + expf(-g));
}

RLVR_HD void swiglu_bwd(float dh, float g, float u, float *dg, float *du)
{
    float sg = 1.0f / (1.0f + expf(-g));
    *du = dh * g * sg;
    *dg = dh * u * sg * (1.0f + g * (1.0f - sg));
}

/* ---- attention (host/model.c attend_row, attention_bwd) -------------------------- */

/* The probability of a score sc (unscaled dot product) in a row whose
 * log-sum-exp of scaled scores is lse. */
RLVR_HD float attn_p(float sc, float scale, float lse)
{
    return expf(sc * scale - lse);
}

/* ds = p * (dp - Dt) * scale, dp = dout . v, Dt = dout . out. */
RLVR_HD float attn_ds(float p, float dp, float Dt, float scale)
{
    return p * (dp - Dt) * scale;
}

/* ---- decoding attention (host/model.c attend_row over a cache) ------------------ */

/* One query row against positions 0..pos of its sequence, in parts: each
 * part sees some of the positions, one at a time, and keeps the running
 * maximum m of its scaled scores, the sum s of exp(score - m) and the
 * weighted sum of value rows o[hd] (scaled by the same exp(. - m)); the
 * parts are then merged by rescaling each to the largest m. The result
 * o / s is attend_row's softmax(scores) . V; only the order of additions
 * differs (attend_row: one pass for the maximum, exp(score - max) summed in
 * position order). */
struct attn_state {
    float m, s;
};

/* exp(m_old - m_new), 0 for a part that has seen nothing (m_old -Inf). */
RLVR_HD float attn_rescale(float m_old, float m_new)
{
    return m_old == -INFINITY ? 0.0f : expf(m_old - m_new);
}

/* Adds the scaled score sc: *corr is the factor that the part's o must be
 * multiplied by, *p the weight of the new value row (o = o * corr + p * v).
 * A NaN or +Inf score makes the part NaN (as attend_row's result is). */
RLVR_HD void attn_push(attn_state *a, float sc, float *corr, float *p)
{
    if (sc == -INFINITY) {
        *corr = 1.0f;
        *p = 0.0f;
        return;
    }
    float m = a->m > sc ? a->m : sc;
    if (sc != sc) m = sc; /* NaN: carried into s */
    *corr = attn_rescale(a->m, m);
    *p = expf(sc - m);
    a->s = a->s * *corr + *p;
    a->m = m;
}

/* ---- online log-sum-exp (merging two partial (max, sum of exp(z - max))) -------- */

struct lse_acc {
    float m, s;
};

RLVR_HD lse_acc lse_merge(lse_acc a, lse_acc b)
{
    if (b.m == -INFINITY) return a;
    if (a.m == -INFINITY) return b;
    if (a.m >= b.m) return lse_acc{a.m, a.s + b.s * expf(b.m - a.m)};
    return lse_acc{b.m, b.s + a.s * expf(a.m - b.m)};
}

/* Adds one value z (not NaN, not +Inf) to a running accumulator. */
RLVR_HD lse_acc lse_push(lse_acc a, float z)
{
    if (z == -INFINITY) return a;
    if (z <= a.m) return lse_acc{a.m, a.s + expf(z - a.m)};
    return lse_acc{z, (a.m == -INFINITY ? 0.0f : a.s * expf(a.m - z)) + 1.0f};
}

/* The cross-entropy's gradient entry (host/logprob.c chunk_grad and the
 * taken token's entry): c = dlogp (temperature 1). */
RLVR_HD float ce_grad(float z, float lse, float c, int taken, float p_taken)
{
    return taken ? c * (1.0f - p_taken) : -c * expf(z - lse);
}

/* ---- AdamW (host/optim.c rlvr_adamw_step) ----------------------------------------- */

/* The step's scalars, computed once on the host in double as optim.c does. */
struct adamw_scalars {
    float clip;         /* the gradient scale, 1 when not clipped */
    int clipped;
    float b1, b2, eps;
    float step_size;    /* lr / (1 - b1^t) */
    float inv_sqrt_bc2; /* 1 / sqrt(1 - b2^t) */
    float keep_decay;   /* 1 - lr * weight_decay (matrices) */
};

/* norm: the global gradient norm; t: the step number after increment. */
RLVR_HD adamw_scalars adamw_prepare(double norm, double max_grad_norm, double lr, double b1,
                                    double b2, double eps, double weight_decay, long t)
{
    adamw_scalars s;
    s.clip = 1.0f;
    s.clipped = 0;
    if (max_grad_norm > 0) {
        double coef = max_grad_norm / (norm + 1e-6);
        if (coef < 1.0) {
            s.clip = (float)coef;
            s.clipped = 1;
        }
    }
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    s.step_size = (float)(lr / bc1);
    s.inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    s.eps = (float)eps;
    s.b1 = (float)b1;
    s.b2 = (float)b2;
    s.keep_decay = (float)(1.0 - lr * weight_decay);
    return s;
}

/* One parameter: the gradient scaled in place when clipped, the moments,
 * the decoupled decay (keep = 1 for vectors), the update. */
RLVR_HD void adamw_elem(float *p, float *g, float *m, float *v, const adamw_scalars &s, float keep)
{
    float gi = *g;
    if (s.clipped) {
        gi *= s.clip;
        *g = gi;
    }
    float mi = s.b1 * *m + (1.0f - s.b1) * gi;
    float vi = s.b2 * *v + (1.0f - s.b2) * gi * gi;
    *m = mi;
    *v = vi;
    float denom = sqrtf(vi) * s.inv_sqrt_bc2 + s.eps;
    *p = *p * keep - s.step_size * mi / denom;
}

} // namespace rlvr_gm

#endif
