/*
 * grpo_math.cuh -- the arithmetic of the GRPO kernels (gpu/logprob.cu,
 * gpu/grpo_loss.cu), written once as inline functions that compile both for
 * the device (nvcc: __host__ __device__) and for the CPU (any C++ compiler:
 * plain inline), so that tests/test_gpu_grpo_math.cc runs this very code on
 * the CPU against the reference in host/ (host/logprob.c, host/grpo_loss.c)
 * on machines without a GPU. What only a GPU can check is the kernels'
 * indexing, shuffles and launches; the per-element, per-row, per-token and
 * per-sequence formulas are all here.
 *
 * The row algorithm (log-softmax over a vocabulary row without a [V]
 * temporary): thread `tid` of `nt` walks the row's entries tid, tid + nt,
 * ... four at a time (row_partial), keeping an online log-sum-exp in float:
 * the running maximum m, s = sum exp(z - m) and, for the entropy,
 * w = sum exp(z - m) (z - m); the block then merges its threads' triples
 * in a fixed butterfly order (acc_merge), and acc_finish turns the result
 * into lse = m + log s and the entropy log s - w / s, in double.
 *
 * The loss formulas (seq_weight, seq_terms, token_terms) are those of
 * host/grpo_loss.c, in double, with the same clamps and the same autograd
 * rules at the kinks (torch.clamp passes no gradient outside its interval;
 * max/min give it to the winner and split a tie); see host/grpo.h.
 *
 * Invariants: no allocation, no I/O, no state; -Inf logits contribute
 * nothing (their z - m is bounded before it multiplies a zero); NaN and
 * +Inf are reported through the `bad` flag rather than trusted; merging
 * with an empty accumulator returns the other one bit for bit.
 */
#ifndef RLVR_GRPO_MATH_CUH
#define RLVR_GRPO_MATH_CUH

#include "gpu.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#include <cuda_bf16.h>
#define RLVR_HD __host__ __device__ inline
#else
#define RLVR_HD inline
#endif

namespace rlvr_grpo {

/* ---- logits ------------------------------------------------------------------- */

RLVR_HD float to_float(float x)
{
    return x;
}
#ifdef __CUDACC__
RLVR_HD float to_float(__nv_bfloat16 x)
{
    return __bfloat162float(x);
}
#endif

/* Whether a scaled logit makes its row unusable: NaN or +Inf. */
RLVR_HD int bad_logit(float z)
{
    return z != z || z == INFINITY;
}

/* ---- the online log-sum-exp ------------------------------------------------------ */

/* m: running maximum of z (-Inf while empty); s = sum exp(z - m);
 * w = sum exp(z - m) * (z - m). */
struct LseAcc {
    float m, s, w;
};

RLVR_HD LseAcc acc_empty()
{
    LseAcc a;
    a.m = -INFINITY;
    a.s = 0.0f;
    a.w = 0.0f;
    return a;
}

/* Adds k (<= 4) scaled logits z[k]. NaN is skipped by the maximum and
 * caught by bad_logit; an all -Inf group adds nothing. */
RLVR_HD void acc_push(LseAcc &a, const float *z, int k, bool want_w)
{
    float cm = -INFINITY;
    for (int i = 0; i < k; i++) cm = z[i] > cm ? z[i] : cm;
    if (!(cm > -INFINITY)) return;
    if (cm > a.m) {
        if (a.m > -INFINITY) { /* rescale to the new maximum: each z - m becomes z - cm */
            float r = expf(a.m - cm);
            a.w = (a.w + (a.m - cm) * a.s) * r;
            a.s *= r;
        }
        a.m = cm;
    }
    for (int i = 0; i < k; i++) {
        float d = z[i] - a.m;
        d = d < -FLT_MAX ? -FLT_MAX : d; /* -Inf: exp is 0, and 0 * d stays 0 */
        float e = expf(d);
        a.s += e;
        if (want_w) a.w += e * d;
    }
}

/* The merge of two accumulators (an empty one is the identity). */
RLVR_HD LseAcc acc_merge(LseAcc a, LseAcc b)
{
    if (!(b.m > -INFINITY)) return a;
    if (!(a.m > -INFINITY)) return b;
    float M = a.m > b.m ? a.m : b.m;
    float ka = expf(a.m - M), kb = expf(b.m - M);
    LseAcc r;
    r.m = M;
    r.s = a.s * ka + b.s * kb;
    r.w = (a.w + (a.m - M) * a.s) * ka + (b.w + (b.m - M) * b.s) * kb;
    return r;
}

/* lse = m + log s and the entropy log s - w / s, in double. The
 * accumulator must be non-empty (m finite). */
RLVR_HD void acc_finish(LseAcc a, double *lse, double *entropy)
{
    double ls = log((double)a.s);
    *lse = (double)a.m + ls;
    *entropy = ls - (double)a.w / (double)a.s;
}

/* One thread's share of a row: entries tid, tid + nt, ... of x[V], four
 * strided entries per step (so four loads are in flight), then the rest one
 * at a time. Sets *bad when one of its entries is NaN or +Inf after
 * scaling. V <= INT32_MAX and nt <= 1024, so v + 3 nt never wraps. */
template <typename T>
RLVR_HD LseAcc row_partial(const T *x, uint32_t V, uint32_t tid, uint32_t nt, float inv_t, bool want_w,
                           int *bad)
{
    LseAcc a = acc_empty();
    int flag = 0;
    uint32_t v = tid;
    for (; v + 3 * nt < V; v += 4 * nt) {
        float z[4];
        for (int j = 0; j < 4; j++) {
            z[j] = to_float(x[v + (uint32_t)j * nt]) * inv_t;
            flag |= bad_logit(z[j]);
        }
        acc_push(a, z, 4, want_w);
    }
    for (; v < V; v += nt) {
        float z = to_float(x[v]) * inv_t;
        flag |= bad_logit(z);
        acc_push(a, &z, 1, want_w);
    }
    *bad |= flag;
    return a;
}

/* What a row reports once its accumulator is merged. status: 0, or one of
 * the row failures below (the same refusals as rlvr_logprobs). */
enum { ROW_OK = 0, ROW_BAD_LOGITS = 1, ROW_TAKEN_NINF = 2 };
struct RowLogp {
    int status;
    float logp, lse, entropy; /* as rlvr_logprobs stores them */
};

/* From the merged accumulator, the row's bad flag and the taken token's raw
 * logit: logp = z[id] - lse (in double, rounded once), entropy clipped at 0
 * (rounding can dip below), exactly as host/logprob.c finishes a row. */
RLVR_HD RowLogp row_finish(LseAcc a, int bad, float x_taken, float inv_t)
{
    RowLogp r;
    r.logp = r.lse = r.entropy = 0.0f;
    if (bad || !(a.m > -INFINITY)) {
        r.status = ROW_BAD_LOGITS;
        return r;
    }
    double l, h;
    acc_finish(a, &l, &h);
    double lp = (double)(x_taken * inv_t) - l;
    if (!(lp > -INFINITY && lp < INFINITY)) {
        r.status = ROW_TAKEN_NINF;
        return r;
    }
    r.status = ROW_OK;
    r.logp = (float)lp;
    r.lse = (float)l;
    r.entropy = (float)(h > 0.0 ? h : 0.0);
    return r;
}

/* dL/dlogit at one entry, c = dL/dlogp / temperature:
 * c * ([taken] - p), p = exp(x / T - lse). */
RLVR_HD float grad_elem(float x, float inv_t, float lse, float c, bool taken)
{
    float p = expf(x * inv_t - lse);
    return taken ? c * (1.0f - p) : -c * p;
}

/* ---- the policy loss ---------------------------------------------------------------- */

/* Whether position t of sequence b counts (host/grpo_loss.c's active()). */
RLVR_HD bool position_active(const uint8_t *mask, const uint8_t *truncated, int mask_truncated, size_t b,
                             size_t row)
{
    if (mask_truncated && truncated && truncated[b]) return false;
    return !mask || mask[row];
}

/* The aggregation weight of each active token of a sequence with nb active
 * tokens, in a micro-batch of B sequences and N active tokens; dapo is the
 * dapo denominator (dapo_tokens, or N). */
RLVR_HD double seq_weight(const rlvr_grpo_config &c, double B, double nb, double N, double dapo)
{
    const double G = c.grad_accum_steps;
    switch (c.loss_type) {
    case RLVR_LOSS_GRPO: return 1.0 / (B * nb * G);
    case RLVR_LOSS_BNPO: return 1.0 / (N * G);
    case RLVR_LOSS_DAPO: return 1.0 / dapo;
    default: return 1.0 / (B * (double)c.max_completion_length * G);
    }
}

/* Clamps a log-ratio to RLVR_LOG_RATIO_CLAMP; *passes: whether the gradient
 * goes through (torch.clamp: inside the closed interval). */
RLVR_HD double clamp_lr(double x, int *passes)
{
    const double k = RLVR_LOG_RATIO_CLAMP;
    *passes = x >= -k && x <= k;
    return x < -k ? -k : x > k ? k : x;
}

/* The clipped surrogate at ratio r, advantage a: returns pg, sets *dr =
 * d pg / d r and *dual = whether the dual-clip bound is active. */
RLVR_HD double surrogate(const rlvr_grpo_config &c, double r, double a, double *dr, int *dual)
{
    double lo = 1.0 - (double)c.epsilon_low, hi = 1.0 + (double)c.epsilon_high;
    double ru = r, dru = 1.0;
    if (c.delta > 0.0f && r > (double)c.delta) ru = c.delta, dru = 0.0;
    double rc = r < lo ? lo : r > hi ? hi : r;
    double drc = r >= lo && r <= hi ? 1.0 : 0.0;
    double u1 = -a * ru, u2 = -a * rc;
    double pg, g;
    if (u1 > u2) pg = u1, g = -a * dru;
    else if (u1 < u2) pg = u2, g = -a * drc;
    else pg = u1, g = 0.5 * (-a * dru - a * drc);
    *dual = 0;
    if (c.dual_clip > 0.0f && a < 0.0) {
        double cap = -(double)c.dual_clip * a;
        if (pg > cap) pg = cap, g = 0.0, *dual = 1;
        else if (pg == cap) g *= 0.5, *dual = 1;
    }
    *dr = g;
    return pg;
}

/* The KL estimate at d = ref - logp (clamped); *dlogp = d KL / d logp. */
RLVR_HD double kl_term(int estimator, double ref, double logp, double *dlogp)
{
    int passes;
    double d = clamp_lr(ref - logp, &passes);
    double kl, g;
    if (estimator == RLVR_KL_K1) {
        kl = -d, g = 1.0;
    } else if (estimator == RLVR_KL_K2) {
        kl = 0.5 * d * d, g = -d;
    } else {
        double e = exp(d);
        kl = e - d - 1.0, g = 1.0 - e;
    }
    *dlogp = passes ? g : 0.0;
    return kl;
}

/* GSPO: a sequence's one ratio from the sum of its nb active tokens'
 * log-ratios, its surrogate, and the gradient each active token gets
 * through it (w * dpg/dr * r: the nb tokens' weights times d lr / d logp_t
 * = 1 / nb). */
struct SeqTerms {
    double r, pg, g;
    int dual;
};
RLVR_HD SeqTerms seq_terms(const rlvr_grpo_config &c, double lr_sum, double nb, double a, double w)
{
    SeqTerms s;
    int passes;
    double lr = clamp_lr(lr_sum / nb, &passes);
    s.r = exp(lr);
    double dr;
    s.pg = surrogate(c, s.r, a, &dr, &s.dual);
    s.g = passes ? w * dr * s.r : 0.0;
    return s;
}

/* What one active token adds to the loss and metrics; flags: CLIP_* bits.
 * Zeroed, it is what an inactive position adds. */
enum { CLIP_LOW = 1, CLIP_HIGH = 2, CLIP_REGION = 4, CLIP_DUAL = 8 };
struct TokRec {
    double pg_w;  /* w * pg */
    double kl_w;  /* w * kl (0 without ref_logp) */
    double kl;    /* kl (0 without ref_logp) */
    double ratio; /* importance ratio after the clamp */
    float entropy;
    int flags;
};

/* One active token: its record and dL/dlogp (*g). old / ref may be NULL
 * (the pointer only says whether there is a value: old_v / ref_v are read
 * when it is not). seq: the sequence's terms when the importance level is
 * SEQUENCE, NULL for TOKEN. */
RLVR_HD TokRec token_terms(const rlvr_grpo_config &c, float logp, const float *old, float old_v,
                           const float *ref, float ref_v, float entropy, double a, double w,
                           const SeqTerms *seq, double *g_out)
{
    TokRec rec;
    double lp = logp;
    double r, pg, g;
    int dual;
    if (seq) {
        r = seq->r, pg = seq->pg, g = seq->g, dual = seq->dual;
    } else {
        int passes = 1;
        double lr = old ? clamp_lr(lp - (double)old_v, &passes) : 0.0;
        r = exp(lr);
        double dr;
        pg = surrogate(c, r, a, &dr, &dual);
        g = passes ? w * dr * r : 0.0; /* d r / d lp = r */
    }
    rec.pg_w = w * pg;
    rec.kl_w = rec.kl = 0.0;
    if (ref) {
        double dk;
        double kl = kl_term(c.kl_estimator, (double)ref_v, lp, &dk);
        rec.kl_w = w * kl;
        rec.kl = kl;
        if (c.beta > 0.0f) g += w * (double)c.beta * dk;
    }
    rec.entropy = entropy;
    int low = r < 1.0 - (double)c.epsilon_low && a < 0.0;
    int high = r > 1.0 + (double)c.epsilon_high && a > 0.0;
    rec.flags = (low ? CLIP_LOW : 0) | (high ? CLIP_HIGH : 0) | (low || high ? CLIP_REGION : 0) |
                (dual ? CLIP_DUAL : 0);
    rec.ratio = r;
    *g_out = g;
    return rec;
}

/* The metrics' running sums over records; merge is a sum (a max for
 * ratio_max, which starts at 0 as the CPU's does). */
struct Sums {
    double pg, kl_loss, kl, entropy, low, high, region, dual, ratio, ratio_max;
};
RLVR_HD Sums sums_zero()
{
    Sums s;
    s.pg = s.kl_loss = s.kl = s.entropy = s.low = s.high = s.region = s.dual = s.ratio = s.ratio_max = 0.0;
    return s;
}
RLVR_HD void sums_add(Sums &s, const TokRec &r)
{
    s.pg += r.pg_w;
    s.kl_loss += r.kl_w;
    s.kl += r.kl;
    s.entropy += (double)r.entropy;
    s.low += (r.flags & CLIP_LOW) ? 1.0 : 0.0;
    s.high += (r.flags & CLIP_HIGH) ? 1.0 : 0.0;
    s.region += (r.flags & CLIP_REGION) ? 1.0 : 0.0;
    s.dual += (r.flags & CLIP_DUAL) ? 1.0 : 0.0;
    s.ratio += r.ratio;
    s.ratio_max = r.ratio > s.ratio_max ? r.ratio : s.ratio_max;
}
RLVR_HD Sums sums_merge(Sums a, const Sums &b)
{
    a.pg += b.pg, a.kl_loss += b.kl_loss, a.kl += b.kl, a.entropy += b.entropy;
    a.low += b.low, a.high += b.high, a.region += b.region, a.dual += b.dual, a.ratio += b.ratio;
    a.ratio_max = b.ratio_max > a.ratio_max ? b.ratio_max : a.ratio_max;
    return a;
}

/* The metrics of a micro-batch with N active tokens from its sums, as
 * host/grpo_loss.c reports them (means are 0 when N is 0). */
RLVR_HD rlvr_gpu_grpo_metrics metrics_finish(const rlvr_grpo_config &c, const Sums &s, double N)
{
    rlvr_gpu_grpo_metrics m;
    m.pg_loss = s.pg;
    m.kl_loss = s.kl_loss;
    m.loss = s.pg + (double)c.beta * s.kl_loss;
    m.active_tokens = N;
    m.ratio_max = s.ratio_max;
    m.kl = m.entropy = m.clip_low = m.clip_high = m.clip_region = m.clip_dual = m.ratio_mean = 0.0;
    if (N > 0.0) {
        m.kl = s.kl / N;
        m.entropy = s.entropy / N;
        m.clip_low = s.low / N;
        m.clip_high = s.high / N;
        m.clip_region = s.region / N;
        m.clip_dual = s.dual / N;
        m.ratio_mean = s.ratio / N;
    }
    return m;
}

/* ---- the loss pipeline's workspace -----------------------------------------------------------
 * One allocation per call of gpu/grpo_loss.cu's pipeline (rlvr_gpu_grpo_loss_dev
 * and the fused linear loss, gpu/grpo_linear.cuh), carved here so that both,
 * and the CPU test of the fused driver, agree on its bytes:
 *   st        LossStatus        what the host reads back
 *   nb [B]    int32             each sequence's active tokens
 *   w [B]     double            each sequence's aggregation weight
 *   seq [B]   SeqTerms          GSPO's per-sequence terms
 *   lp, lse, ent [R]  float     kept by the first sweep of sequence-level ratios
 *   rec [R]   TokRec            per-token records for the metrics
 * Every array starts on a 256-byte boundary. */

/* Bytes at which the next array of a shared allocation starts. */
RLVR_HD size_t align_up(size_t x)
{
    return (x + 255) & ~(size_t)255;
}

/* The refusal key (see grpo_kernels.cuh), N and the metrics. */
struct LossStatus {
    unsigned long long key;
    double N;
    rlvr_gpu_grpo_metrics metrics;
};

struct LossWs {
    LossStatus *st;
    int32_t *nb;
    double *w;
    SeqTerms *seq;
    float *lp, *lse, *ent;
    TokRec *rec;
};

/* The row kernels' phases: FUSED (token-level ratios: the row's sweep, its
 * terms and its gradient in one), STATS (the first sweep of sequence-level
 * ratios: logp, lse, entropy kept), GRAD (their second: terms and gradient
 * from what STATS kept). */
enum { PHASE_FUSED = 0, PHASE_STATS = 1, PHASE_GRAD = 2 };

inline size_t loss_ws_bytes(size_t B, size_t R)
{
    return align_up(sizeof(LossStatus)) + align_up(B * sizeof(int32_t)) + align_up(B * sizeof(double)) +
           align_up(B * sizeof(SeqTerms)) + 3 * align_up(R * sizeof(float)) + align_up(R * sizeof(TokRec));
}

/* The arrays of a workspace of loss_ws_bytes(B, R) bytes at m. */
inline LossWs loss_ws_carve(char *m, size_t B, size_t R)
{
    LossWs w;
    size_t o = 0;
    w.st = (LossStatus *)(m + o), o += align_up(sizeof(LossStatus));
    w.nb = (int32_t *)(m + o), o += align_up(B * sizeof(int32_t));
    w.w = (double *)(m + o), o += align_up(B * sizeof(double));
    w.seq = (SeqTerms *)(m + o), o += align_up(B * sizeof(SeqTerms));
    w.lp = (float *)(m + o), o += align_up(R * sizeof(float));
    w.lse = (float *)(m + o), o += align_up(R * sizeof(float));
    w.ent = (float *)(m + o), o += align_up(R * sizeof(float));
    w.rec = (TokRec *)(m + o);
    return w;
}

} // namespace rlvr_grpo

#endif
