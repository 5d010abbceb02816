/*
 * gpu_grpo_cases.h -- what the two tests of the GRPO GPU kernels share
 * (tests/test_gpu_grpo_math.cc, the arithmetic replayed on the CPU;
 * tests/test_gpu_grpo.cc, the kernels on a GPU): a seeded generator, rows
 * of logits of several kinds, micro-batches with ragged masks and their
 * log-ratios kept away from the loss's kinks, a naive double log-softmax,
 * and the CPU pipeline (rlvr_logprobs -> rlvr_grpo_loss ->
 * rlvr_logprobs_backward) that both are held to. C++, header only; libc,
 * libm and host/ only (no CUDA).
 */
#ifndef RLVR_GPU_GRPO_CASES_H
#define RLVR_GPU_GRPO_CASES_H

extern "C" {
#include "grpo.h"
}

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <vector>

#include "tap.h"

/* Whether position row (of sequence b) counts: grpo_loss.c's rule. */
static inline bool case_active(const uint8_t *mask, const uint8_t *truncated, int mask_truncated, size_t b, size_t row)
{
    if (mask_truncated && truncated && truncated[b]) return false;
    return !mask || mask[row];
}

/* ---- data --------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static inline double uniform(void)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static inline double normal(void)
{
    double u = uniform() + 1e-12, v = uniform();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static inline void naive_row(const float *x, size_t V, float inv_t, int32_t tok, double *logp, double *lse, double *ent)
{
    double m = -INFINITY;
    for (size_t v = 0; v < V; v++) m = fmax(m, (double)(x[v] * inv_t));
    double s = 0;
    for (size_t v = 0; v < V; v++) s += exp((double)(x[v] * inv_t) - m);
    *lse = m + log(s);
    *logp = (double)(x[tok] * inv_t) - *lse;
    double h = 0;
    for (size_t v = 0; v < V; v++) {
        double p = exp((double)(x[v] * inv_t) - *lse);
        if (p > 0) h -= p * ((double)(x[v] * inv_t) - *lse);
    }
    *ent = h;
}

/* bfloat16 bits from a float, rounded to nearest even (NaN kept NaN), and back. */
static inline uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}
static inline float from_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline double ulp_of(double x)
{
    return ldexp(1.0, ilogb(fmax(1.0, fabs(x))) - 23);
}

enum fill { NORMAL3, WIDE, OFFSET_1E4, NINF_CHUNK, PEAKED };
static const char *const fill_name[] = {"normal*3", "wide", "offset 1e4", "-Inf block", "peaked"};

static inline void make_row(float *x, uint32_t V, enum fill f)
{
    for (uint32_t v = 0; v < V; v++) {
        double z = normal();
        switch (f) {
        case NORMAL3: x[v] = (float)(3 * z); break;
        case WIDE: x[v] = (float)(20 * z); break;
        case OFFSET_1E4: x[v] = (float)(1e4 + 3 * z); break;
        case NINF_CHUNK: x[v] = v < V / 2 && v % 3 ? -INFINITY : (float)(3 * z); break;
        case PEAKED: x[v] = (float)z; break;
        }
    }
    if (f == PEAKED) x[V / 3] = 40.0f;
}

struct Case {
    size_t B, T;
    uint32_t V;
    float temperature;
    std::vector<float> logits, old, ref, adv, ent_cpu;
    std::vector<int32_t> tok;
    std::vector<uint8_t> mask, trunc;
};

/* Whether a log-ratio sits within 1e-3 of a kink of the loss under cfg. */
static inline bool near_kink(const rlvr_grpo_config &c, double lr)
{
    double k[6] = {log(1.0 - c.epsilon_low), log(1.0 + c.epsilon_high), 20.0, -20.0,
                   c.delta > 0 ? log((double)c.delta) : 1e9, c.dual_clip > 0 ? log((double)c.dual_clip) : 1e9};
    for (int i = 0; i < 6; i++)
        if (fabs(lr - k[i]) < 1e-3) return true;
    return false;
}

static inline void case_policy(Case &k, const rlvr_grpo_config &c);

/* A batch with ragged masks, one fully masked sequence, a zero advantage,
 * truncated sequences, old / ref near the policy (plus a few log-ratios
 * beyond the clamp), every log-ratio away from the kinks. */
static inline void make_case(Case &k, const rlvr_grpo_config &c, size_t B, size_t T, uint32_t V, float temp)
{
    k.B = B, k.T = T, k.V = V, k.temperature = temp;
    const size_t R = B * T;
    k.logits.resize(R * V);
    k.tok.resize(R);
    for (size_t r = 0; r < R; r++) {
        make_row(&k.logits[r * V], V, r % 5 == 3 ? PEAKED : NORMAL3);
        k.tok[r] = (int32_t)(uniform() * V);
    }
    case_policy(k, c);
}

/* The rest of make_case, for a Case whose B, T, V, temperature, logits
 * [B*T, V] and tokens are set: the masks, truncation, advantages, and old /
 * ref near the policy on those logits. Masked positions then hold garbage
 * (token -7, a NaN logit, NaN old / ref) that must never be read. */
static inline void case_policy(Case &k, const rlvr_grpo_config &c)
{
    const size_t B = k.B, T = k.T, R = B * T;
    const uint32_t V = k.V;
    const float temp = k.temperature;
    k.mask.assign(R, 0);
    k.trunc.assign(B, 0);
    k.adv.resize(B);
    for (size_t b = 0; b < B; b++) {
        size_t len = b == 1 ? 0 : 1 + (size_t)(uniform() * T); /* sequence 1: fully masked */
        for (size_t t = 0; t < len && t < T; t++) k.mask[b * T + t] = 1;
        k.adv[b] = b == 2 ? 0.0f : (float)normal();
        k.trunc[b] = b % 3 == 0;
    }
    /* Masked positions hold garbage that must never be read. */
    for (size_t r = 0; r < R; r++)
        if (!k.mask[r]) {
            k.tok[r] = -7;
            k.logits[r * V] = NAN;
        }
    std::vector<float> lp(R);
    char err[256];
    std::vector<uint8_t> rows = k.mask;
    if (rlvr_logprobs(k.logits.data(), k.tok.data(), rows.data(), R, V, temp, lp.data(), NULL, NULL, err, sizeof err))
        diag("make_case: %s", err);
    k.old.resize(R);
    k.ref.resize(R);
    for (size_t b = 0; b < B; b++) {
        for (size_t t = 0; t < T; t++) {
            size_t r = b * T + t;
            if (!k.mask[r]) {
                k.old[r] = k.ref[r] = NAN;
                continue;
            }
            double lr;
            do lr = (t % 11 == 5) ? 25.0 * (uniform() < 0.5 ? -1 : 1) : (uniform() - 0.5) * 0.9;
            while (near_kink(c, lr));
            k.old[r] = (float)(lp[r] - lr);
            double d;
            do d = (t % 13 == 7) ? 30.0 : (uniform() - 0.5);
            while (fabs(fabs(d) - 20.0) < 1e-3);
            k.ref[r] = (float)(lp[r] + d);
        }
        /* GSPO's kink is on the sequence mean: shift the sequence until clear. */
        for (int tries = 0; tries < 100; tries++) {
            double s = 0;
            size_t n = 0;
            for (size_t t = 0; t < T; t++) {
                size_t r = b * T + t;
                if (k.mask[r]) s += (double)lp[r] - (double)k.old[r], n++;
            }
            if (!n || !near_kink(c, s / (double)n)) break;
            for (size_t t = 0; t < T; t++)
                if (k.mask[b * T + t]) k.old[b * T + t] -= 0.01f;
        }
    }
}

/* The CPU reference: rlvr_logprobs -> rlvr_grpo_loss -> rlvr_logprobs_backward. */
static inline int cpu_loss(const rlvr_grpo_config &c, const Case &k, bool use_old, bool use_ref, bool use_mask,
                    bool use_trunc, double dapo_tokens, std::vector<float> &dlogits, std::vector<float> &dlogp,
                    rlvr_grpo_metrics &m, char *err, size_t err_len)
{
    const size_t B = k.B, T = k.T, R = B * T;
    std::vector<uint8_t> rows(R);
    for (size_t r = 0; r < R; r++)
        rows[r] = case_active(use_mask ? k.mask.data() : NULL, use_trunc ? k.trunc.data() : NULL,
                                  c.mask_truncated, r / T, r);
    std::vector<float> lp(R), lse(R), ent(R);
    if (rlvr_logprobs(k.logits.data(), k.tok.data(), rows.data(), R, k.V, k.temperature, lp.data(), lse.data(),
                      ent.data(), err, err_len))
        return -1;
    rlvr_grpo_batch in;
    memset(&in, 0, sizeof in);
    in.n_seq = B, in.seq_len = T, in.logp = lp.data();
    in.old_logp = use_old ? k.old.data() : NULL;
    in.ref_logp = use_ref ? k.ref.data() : NULL;
    in.advantages = k.adv.data();
    in.mask = use_mask ? k.mask.data() : NULL;
    in.truncated = use_trunc ? k.trunc.data() : NULL;
    in.entropy = ent.data();
    in.dapo_tokens = dapo_tokens;
    dlogp.assign(R, 0.0f);
    if (rlvr_grpo_loss(&c, &in, dlogp.data(), &m, err, err_len)) return -1;
    dlogits.assign(R * k.V, 0.0f);
    return rlvr_logprobs_backward(k.logits.data(), k.tok.data(), rows.data(), lse.data(), dlogp.data(), R, k.V,
                                  k.temperature, dlogits.data(), err, err_len);
}

static inline double rel(double a, double b, double floor_)
{
    return fabs(a - b) / fmax(floor_, fabs(b));
}


/* ---- the loss matrix ------------------------------------------------------------------------ */

/* One case of the matrix: a configuration, a batch, which inputs are given. */
struct LossCase {
    rlvr_grpo_config c;
    Case k;
    bool old, ref, mask, trunc;
    double dapo;
    char name[160];
};

/* The names of the loss types, importance levels and KL estimators, and
 * the variants of the loss cases (shared by the unfused and fused tests). */
static const char *const lt_name[] = {"grpo", "bnpo", "dapo", "dr_grpo"};
static const char *const is_name[] = {"token", "sequence"};
static const char *const kl_name[] = {"k3", "k1", "k2"};
struct Variant {
    const char *name;
    float eps_high, delta, dual, beta;
    int mask_truncated, accum;
    bool old, ref, mask, trunc;
};
static const Variant variants[] = {
    {"R1 defaults", 0.2f, 0, 0, 0.001f, 0, 1, true, true, true, false},
    {"clip-higher 0.28, beta 0.04, truncated masked", 0.28f, 0, 0, 0.04f, 1, 1, true, true, true, true},
    {"delta 1.5, dual clip 3", 0.2f, 1.5f, 3.0f, 0.01f, 0, 1, true, true, true, true},
    {"no old_logp, beta 0 with ref (kl metric only)", 0.2f, 0, 0, 0.0f, 0, 1, false, true, true, false},
    {"no ref, beta 0, no mask, 2 accumulation steps", 0.2f, 0, 0, 0.0f, 0, 2, true, false, false, false},
};

/* Every loss type x importance level x KL estimator x temperature (1, 0.7)
 * x a variant (R1 defaults; DAPO's clip-higher with truncated completions
 * masked; delta and dual clip; no old_logp; no ref_logp, no mask and two
 * accumulation steps), on 5 sequences of 9 positions (one sequence fully
 * masked, one with advantage 0, ragged lengths) over V = 600 or 1031.
 * Calls f(const LossCase &) for each (240 cases). */
template <typename F>
static inline void loss_matrix(F f)
{
    const float temps[] = {1.0f, 0.7f};
    for (int lt = RLVR_LOSS_GRPO; lt <= RLVR_LOSS_DR_GRPO; lt++)
        for (int is = RLVR_IS_TOKEN; is <= RLVR_IS_SEQUENCE; is++)
            for (int kl = RLVR_KL_K3; kl <= RLVR_KL_K2; kl++)
                for (size_t ti = 0; ti < 2; ti++)
                    for (size_t vi = 0; vi < sizeof variants / sizeof variants[0]; vi++) {
                        const Variant &va = variants[vi];
                        LossCase lc;
                        rlvr_grpo_config &c = lc.c;
                        rlvr_grpo_config_default(&c);
                        c.loss_type = lt, c.importance_level = is, c.kl_estimator = kl;
                        c.epsilon_high = va.eps_high, c.delta = va.delta, c.dual_clip = va.dual, c.beta = va.beta;
                        c.mask_truncated = va.mask_truncated, c.grad_accum_steps = va.accum;
                        c.max_completion_length = 9;
                        const size_t B = 5, T = 9;
                        const uint32_t V = (vi % 2) ? 1031 : 600;
                        make_case(lc.k, c, B, T, V, temps[ti]);
                        if (!va.mask) /* every position counts: make them all readable */
                            for (size_t r = 0; r < B * T; r++) {
                                lc.k.tok[r] = (int32_t)(r % V);
                                make_row(&lc.k.logits[r * V], V, NORMAL3);
                                if (!(lc.k.old[r] == lc.k.old[r])) lc.k.old[r] = -7.0f;
                                if (!(lc.k.ref[r] == lc.k.ref[r])) lc.k.ref[r] = -7.2f;
                            }
                        lc.old = va.old, lc.ref = va.ref, lc.mask = va.mask, lc.trunc = va.trunc;
                        lc.dapo = lt == RLVR_LOSS_DAPO && va.accum > 1 ? 3.0 * B * T : 0.0;
                        snprintf(lc.name, sizeof lc.name, "loss %s, %s-level, %s, T %g, %s", lt_name[lt],
                                 is_name[is], kl_name[kl], (double)temps[ti], va.name);
                        f(lc);
                    }
}

/* Worst differences seen over a run of compare_loss. */
struct LossStats {
    int cases = 0;
    double g = 0, d = 0, m = 0;
    void report() const
    {
        diag("%d loss cases; worst differences: dL/dlogp %.3g, dlogits %.3g (of the sequence's scale), "
             "metrics %.3g (of max(1, |x|))",
             cases, g, d, m);
    }
};

/* Holds one implementation's loss to the CPU pipeline on case lc (see the
 * tolerances in test_gpu_grpo_math.cc's opening comment; extra_d is added
 * to the dlogits bound, relative to the sequence's scale, for storage in
 * bfloat16). g[B*T], d[B*T*V] (NULL: not checked), ent[B*T] (NULL: not
 * checked), m: what the implementation gave; rc / why: its status. */
static inline int compare_loss(const LossCase &lc, int rc, const char *why, const float *g, const float *d,
                               const float *ent, const rlvr_gpu_grpo_metrics &me, LossStats &st,
                               double extra_d = 0.0)
{
    const Case &k = lc.k;
    const size_t B = k.B, T = k.T, V = k.V;
    char err[256];
    std::vector<float> d_cpu, g_cpu;
    rlvr_grpo_metrics mc;
    int rc_cpu = cpu_loss(lc.c, k, lc.old, lc.ref, lc.mask, lc.trunc, lc.dapo, d_cpu, g_cpu, mc, err, sizeof err);
    if (rc || rc_cpu) return ok(0, "%s: rc %d (%s), cpu rc %d (%s)", lc.name, rc, why, rc_cpu, rc_cpu ? err : "");
    double wg = 0, wd = 0;
    int bad_g = 0, bad_d = 0, bad_e = 0;
    std::vector<float> lp(B * T), ent_cpu(B * T);
    if (ent) {
        std::vector<uint8_t> rows(B * T);
        for (size_t r = 0; r < B * T; r++)
            rows[r] = case_active(lc.mask ? k.mask.data() : NULL, lc.trunc ? k.trunc.data() : NULL,
                                  lc.c.mask_truncated, r / T, r);
        rlvr_logprobs(k.logits.data(), k.tok.data(), rows.data(), B * T, V, k.temperature, lp.data(), NULL,
                      ent_cpu.data(), err, sizeof err);
    }
    for (size_t r = 0; r < B * T; r++) {
        /* The scale of an error in g is its sequence's largest |g| (w |A| r
         * + w beta |dKL|): where the surrogate and KL parts cancel, g is
         * small but its error is not. */
        double gs = 1e-12;
        for (size_t t = 0; t < T; t++) gs = fmax(gs, fabs(g_cpu[r / T * T + t]));
        double e = fabs((double)g[r] - g_cpu[r]);
        wg = fmax(wg, e / gs);
        if (!(e <= 1e-4 * gs)) bad_g++;
        if (ent && !(fabs(ent[r] - ent_cpu[r]) <= 2e-5 * fmax(1, fabs(ent_cpu[r])))) bad_e++;
        if (!d) continue;
        const double cr = gs / k.temperature;
        for (size_t v = 0; v < V; v++) {
            double ed = fabs((double)d[r * V + v] - d_cpu[r * V + v]);
            wd = fmax(wd, ed / (cr + 1e-12));
            if (!(ed <= cr * (1e-4 + 4 * ulp_of(20.0) + extra_d) + 1e-12)) bad_d++;
        }
    }
    /* Differences measured against max(1, |x|): sums of terms of both
     * signs (pg_loss) and small ones (kl ~ d^2 / 2) are not relatively
     * accurate, only absolutely. */
    double em = fmax(fmax(rel(me.loss, mc.loss, 1), rel(me.pg_loss, mc.pg_loss, 1)),
                     fmax(rel(me.kl_loss, mc.kl_loss, 1), rel(me.kl, mc.kl, 1)));
    em = fmax(em, fmax(rel(me.ratio_mean, mc.ratio_mean, 1), rel(me.ratio_max, mc.ratio_max, 1)));
    int exact = me.active_tokens == mc.active_tokens && me.clip_low == mc.clip_low && me.clip_high == mc.clip_high &&
                me.clip_region == mc.clip_region && me.clip_dual == mc.clip_dual;
    int ent_ok = fabs(me.entropy - mc.entropy) <= 2e-5 * fmax(1, fabs(mc.entropy));
    st.cases++;
    st.g = fmax(st.g, wg), st.d = fmax(st.d, wd), st.m = fmax(st.m, em);
    int good = !bad_g && !bad_d && !bad_e && em <= 5e-5 && exact && ent_ok;
    if (!ok(good, "%s: metrics, dL/dlogp%s = CPU", lc.name, d ? ", dlogits" : ""))
        diag("  dlogp off %d (worst %.3g), dlogits off %d (worst %.3g), entropy off %d; metrics worst rel %.3g; "
             "loss %.12g cpu %.12g; exact %d; entropy %.9g cpu %.9g; clip low %g/%g high %g/%g dual %g/%g",
             bad_g, wg, bad_d, wd, bad_e, em, me.loss, mc.loss, exact, me.entropy, mc.entropy, me.clip_low,
             mc.clip_low, me.clip_high, mc.clip_high, me.clip_dual, mc.clip_dual);
    return good;
}

#endif
