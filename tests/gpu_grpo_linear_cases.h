/*
 * gpu_grpo_linear_cases.h -- what the two tests of the GRPO loss fused with
 * the LM head share (tests/test_gpu_grpo_linear_host.cc, its chunk driver
 * on a host emulation; tests/test_gpu_grpo_linear.cc, the entry point on a
 * GPU): an LM head and hidden states whose logits h W^T drive
 * gpu_grpo_cases.h's micro-batches, the configurations, and the unfused CPU
 * reference of dh and dW (host/logprob.c, host/grpo_loss.c, then double
 * products) with their bounds, argued in test_gpu_grpo_linear_host.cc's
 * opening comment. C++, header only; libc, libm and host/ only (no CUDA).
 */
#ifndef RLVR_GPU_GRPO_LINEAR_CASES_H
#define RLVR_GPU_GRPO_LINEAR_CASES_H

#include "gpu_grpo_cases.h"

/* ---- one micro-batch and its reference --------------------------------------------------------- */

/* h [R, D] and W [V, D] as floats (bf16-rounded values in bf16) and bits. */
struct Head {
    size_t D;
    std::vector<float> h, W;
    std::vector<uint16_t> hb, Wb;
};

static inline void make_head(Head &hd, size_t R, size_t V, size_t D, bool bf16, const Head *share)
{
    hd.D = D;
    hd.h.resize(R * D);
    hd.W.resize(V * D);
    /* logits of spread ~3: h ~ N(0, 1), W ~ N(0, 3 / sqrt(D)), one heavy row */
    for (size_t i = 0; i < R * D; i++) hd.h[i] = (float)normal();
    for (size_t i = 0; i < V * D; i++) hd.W[i] = (float)(normal() * 3.0 / sqrt((double)D));
    for (size_t i = 0; i < D; i++) hd.W[(V / 3) * D + i] *= 4.0f;
    if (share) hd.W = share->W;
    hd.hb.resize(bf16 ? R * D : 0);
    hd.Wb.resize(bf16 ? V * D : 0);
    for (size_t i = 0; bf16 && i < R * D; i++) hd.hb[i] = to_bf16(hd.h[i]), hd.h[i] = from_bf16(hd.hb[i]);
    for (size_t i = 0; bf16 && i < V * D; i++) hd.Wb[i] = to_bf16(hd.W[i]), hd.W[i] = from_bf16(hd.Wb[i]);
}

/* The reference logits: float products, i = 0 .. D-1 (as the emulated gemm adds them). */
static inline void head_logits(const Head &hd, size_t R, size_t V, std::vector<float> &x)
{
    x.resize(R * V);
    for (size_t r = 0; r < R; r++)
        for (size_t v = 0; v < V; v++) {
            float acc = 0.0f;
            for (size_t i = 0; i < hd.D; i++) acc += hd.h[r * hd.D + i] * hd.W[v * hd.D + i];
            x[r * V + v] = acc;
        }
}

/* A loss case over h W^T: lc.k's logits are the reference logits. */
static inline void make_linear_case(LossCase &lc, Head &hd, size_t B, size_t T, uint32_t V, size_t D, float temp, bool bf16,
                             const Head *share = NULL)
{
    Case &k = lc.k;
    k.B = B, k.T = T, k.V = V, k.temperature = temp;
    const size_t R = B * T;
    make_head(hd, R, V, D, bf16, share);
    head_logits(hd, R, V, k.logits);
    const std::vector<float> clean = k.logits;
    k.tok.resize(R);
    for (size_t r = 0; r < R; r++) k.tok[r] = (int32_t)(uniform() * V);
    case_policy(k, lc.c);
    if (!lc.mask) /* every position counts: make them all readable */
        for (size_t r = 0; r < R; r++) {
            k.tok[r] = (int32_t)((r * 7) % V);
            if (!(k.old[r] == k.old[r])) k.old[r] = -7.0f;
            if (!(k.ref[r] == k.ref[r])) k.ref[r] = -7.2f;
        }
    k.logits = clean; /* case_policy marked masked rows' logits NaN for the unfused; here h is clean */
}


/* The reference's dlogits [R, V] and each row's dlogits bound e_r. */
static inline void reference(const LossCase &lc, std::vector<float> &d_cpu, std::vector<double> &e_row)
{
    const Case &k = lc.k;
    const size_t T = k.T, R = k.B * T;
    std::vector<float> g_cpu;
    rlvr_grpo_metrics mc;
    char err[256];
    if (cpu_loss(lc.c, k, lc.old, lc.ref, lc.mask, lc.trunc, lc.dapo, d_cpu, g_cpu, mc, err, sizeof err))
        diag("reference: %s", err);
    e_row.assign(R, 0.0);
    for (size_t r = 0; r < R; r++) {
        double gs = 1e-12;
        for (size_t t = 0; t < T; t++) gs = fmax(gs, fabs(g_cpu[r / T * T + t]));
        e_row[r] = gs / k.temperature * (1e-4 + 4 * ulp_of(20.0));
    }
}

/* dh and dW (accumulated from dW0 over the given micro-batches) against the
 * double products of the reference's dlogits; *worst gets the largest
 * error over its bound. */
struct GradRef {
    std::vector<double> dW, dW_bound;
};

static inline void add_dW_ref(GradRef &gr, const Head &hd, const std::vector<float> &d, const std::vector<double> &e,
                       size_t R, size_t V, bool bf16)
{
    const size_t D = hd.D;
    if (gr.dW.empty()) gr.dW.assign(V * D, 0.0), gr.dW_bound.assign(V * D, 0.0);
    for (size_t v = 0; v < V; v++)
        for (size_t i = 0; i < D; i++) {
            double s = 0, a = 0, eb = 0;
            for (size_t r = 0; r < R; r++) {
                double hv = hd.h[r * D + i];
                s += (double)d[r * V + v] * hv;
                a += fabs((double)d[r * V + v] * hv);
                eb += e[r] * fabs(hv);
            }
            gr.dW[v * D + i] += s;
            gr.dW_bound[v * D + i] += eb + a * (1e-5 + (bf16 ? 0x1p-7 : 0.0));
        }
}

static inline bool check_dh(const float *dh, const Head &hd, const std::vector<float> &d, const std::vector<double> &e, size_t R,
                     size_t V, bool bf16, double *worst)
{
    const size_t D = hd.D;
    size_t off = 0;
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < D; i++) {
            double s = 0, a = 0, eb = 0;
            for (size_t v = 0; v < V; v++) {
                double w = hd.W[v * D + i];
                s += (double)d[r * V + v] * w;
                a += fabs((double)d[r * V + v] * w);
                eb += e[r] * fabs(w);
            }
            double bound = eb + a * (1e-5 + (bf16 ? 0x1p-7 : 0.0)) + 1e-30;
            double err = fabs((double)dh[r * D + i] - s);
            *worst = fmax(*worst, err / bound);
            off += !(err <= bound);
        }
    return off == 0;
}

static inline bool check_dW(const std::vector<float> &dW, const std::vector<float> &dW0, const GradRef &gr, double *worst)
{
    size_t off = 0;
    for (size_t j = 0; j < dW.size(); j++) {
        double want = (double)dW0[j] + gr.dW[j];
        /* the float sum onto dW0 adds a rounding of |want| */
        double bound = gr.dW_bound[j] + 2e-7 * fabs(want) + 1e-30;
        double err = fabs((double)dW[j] - want);
        *worst = fmax(*worst, err / bound);
        off += !(err <= bound);
    }
    return off == 0;
}

static inline bool check_logp(const float *logp, const LossCase &lc)
{
    const Case &k = lc.k;
    const size_t R = k.B * k.T;
    std::vector<uint8_t> rows(R);
    for (size_t r = 0; r < R; r++)
        rows[r] = case_active(lc.mask ? k.mask.data() : NULL, lc.trunc ? k.trunc.data() : NULL, lc.c.mask_truncated,
                              r / k.T, r);
    std::vector<float> lp(R, 0.0f), lse(R, 0.0f);
    rlvr_logprobs(k.logits.data(), k.tok.data(), rows.data(), R, k.V, k.temperature, lp.data(), lse.data(), NULL, NULL,
                  0);
    for (size_t r = 0; r < R; r++) {
        float want = rows[r] ? lp[r] : 0.0f;
        if (!(fabs(logp[r] - want) <= 2e-5 * fmax(1, fabs(lse[r])))) return false;
    }
    return true;
}


/* lt_name, is_name, Variant and variants: gpu_grpo_cases.h. */
static inline void config_case(LossCase &lc, int lt, int is, int kl, const Variant &va, size_t B, size_t T)
{
    rlvr_grpo_config &c = lc.c;
    rlvr_grpo_config_default(&c);
    c.loss_type = lt, c.importance_level = is, c.kl_estimator = kl;
    c.epsilon_high = va.eps_high, c.delta = va.delta, c.dual_clip = va.dual, c.beta = va.beta;
    c.mask_truncated = va.mask_truncated, c.grad_accum_steps = va.accum;
    c.max_completion_length = (long)T;
    lc.old = va.old, lc.ref = va.ref, lc.mask = va.mask, lc.trunc = va.trunc;
    lc.dapo = lt == RLVR_LOSS_DAPO && va.accum > 1 ? 3.0 * B * T : 0.0;
}


#endif
