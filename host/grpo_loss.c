/*
 * grpo_loss.c -- the GRPO policy loss on the CPU: the clipped surrogate with
 * its variants (DAPO clip-higher, dual clip, delta cap, GSPO sequence
 * ratios), the KL penalty, the four aggregations, TRL's metrics, and the
 * exact gradient dL/dlogp (see grpo.h for the contract).
 *
 * The gradient is written by hand from the formula, following torch's
 * autograd rules for the pieces that have kinks, so that this code, a torch
 * reference and the CUDA kernels agree: torch.clamp passes the gradient
 * where min <= x <= max and none outside; torch.maximum / torch.minimum
 * give it to the larger / smaller input and split it in half on a tie.
 *
 * Invariants: libc and libm only; every quantity is computed and summed in
 * double and rounded to float only when stored in dlogp; inputs at masked
 * positions are never read; nothing is written (dlogp, metrics) unless every
 * input has passed its checks; no allocation.
 */
#include "grpo.h"
#include "numeric.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void rlvr_grpo_config_default(struct rlvr_grpo_config *cfg)
{
    *cfg = (struct rlvr_grpo_config){
        .loss_type = RLVR_LOSS_GRPO,
        .importance_level = RLVR_IS_TOKEN,
        .kl_estimator = RLVR_KL_K3,
        .mask_truncated = 0,
        .epsilon_low = 0.2f,
        .epsilon_high = 0.2f,
        .delta = 0.0f,
        .dual_clip = 0.0f,
        .beta = 0.001f,
        .max_completion_length = 256,
        .grad_accum_steps = 1,
    };
}

/* Whether position (b, t) counts. */
static int active(const struct rlvr_grpo_batch *in, const struct rlvr_grpo_config *c, size_t b, size_t t)
{
    if (c->mask_truncated && in->truncated && in->truncated[b]) return 0;
    return !in->mask || in->mask[b * in->seq_len + t];
}

/* Clamps a log-ratio to RLVR_LOG_RATIO_CLAMP; *passes = whether it passes
 * gradient (torch.clamp: inside the closed interval). */
static double clamp_lr(double x, int *passes)
{
    const double k = RLVR_LOG_RATIO_CLAMP;
    *passes = x >= -k && x <= k;
    return x < -k ? -k : x > k ? k : x;
}

/* The clipped surrogate at ratio r and advantage a: returns pg and sets
 * *dr = d pg / d r (autograd's rules; see the file's paragraph). */
static double surrogate(const struct rlvr_grpo_config *c, double r, double a, double *dr, int *dual)
{
    double lo = 1.0 - (double)c->epsilon_low, hi = 1.0 + (double)c->epsilon_high;
    double ru = r, dru = 1.0;
    if (c->delta > 0.0f && r > (double)c->delta) ru = c->delta, dru = 0.0;
    double rc = r < lo ? lo : r > hi ? hi : r;
    double drc = r >= lo && r <= hi ? 1.0 : 0.0;
    double u1 = -a * ru, u2 = -a * rc;
    double pg, g;
    if (u1 > u2) pg = u1, g = -a * dru;
    else if (u1 < u2) pg = u2, g = -a * drc;
    else pg = u1, g = 0.5 * (-a * dru - a * drc);
    *dual = 0;
    if (c->dual_clip > 0.0f && a < 0.0) {
        double cap = -(double)c->dual_clip * a;
        if (pg > cap) pg = cap, g = 0.0, *dual = 1;
        else if (pg == cap) g *= 0.5, *dual = 1;
    }
    *dr = g;
    return pg;
}

/* KL at d = ref - logp (clamped); *dlogp = d KL / d logp. */
static double kl_term(int estimator, double ref, double logp, double *dlogp)
{
    int passes;
    double d = clamp_lr(ref - logp, &passes);
    double kl, g;
    switch (estimator) {
    case RLVR_KL_K1: kl = -d, g = 1.0; break;
    case RLVR_KL_K2: kl = 0.5 * d * d, g = -d; break;
    default: {
        double e = exp(d);
        kl = e - d - 1.0, g = 1.0 - e;
    }
    }
    *dlogp = passes ? g : 0.0;
    return kl;
}

int rlvr_grpo_loss(const struct rlvr_grpo_config *c, const struct rlvr_grpo_batch *in,
                   float *dlogp, struct rlvr_grpo_metrics *metrics, char *err, size_t err_len)
{
    if (rlvr_grpo_config_check(c, err, err_len)) return -1;
    if (!in) return rlvr_num_fail(err, err_len, "grpo: no batch");
    const size_t B = in->n_seq, T = in->seq_len;
    if (B && T && (!in->logp || !in->advantages))
        return rlvr_num_fail(err, err_len, "grpo: logp or advantages is NULL");
    if (c->beta > 0.0f && B && T && !in->ref_logp)
        return rlvr_num_fail(err, err_len, "grpo: beta is %g but there is no ref_logp", (double)c->beta);
    if (T && B > SIZE_MAX / T) return rlvr_num_fail(err, err_len, "grpo: %zu x %zu positions overflow", B, T);

    /* Pass 1: check every active input; count active tokens. */
    double N = 0.0;
    for (size_t b = 0; b < B; b++) {
        size_t nb = 0;
        for (size_t t = 0; t < T; t++) {
            if (!active(in, c, b, t)) continue;
            size_t i = b * T + t;
            if (!isfinite(in->logp[i]))
                return rlvr_num_fail(err, err_len, "grpo: logp[%zu][%zu] is not finite", b, t);
            if (in->old_logp && !isfinite(in->old_logp[i]))
                return rlvr_num_fail(err, err_len, "grpo: old_logp[%zu][%zu] is not finite", b, t);
            if (in->ref_logp && !isfinite(in->ref_logp[i]))
                return rlvr_num_fail(err, err_len, "grpo: ref_logp[%zu][%zu] is not finite", b, t);
            if (in->entropy && !isfinite(in->entropy[i]))
                return rlvr_num_fail(err, err_len, "grpo: entropy[%zu][%zu] is not finite", b, t);
            nb++;
        }
        if (nb && !isfinite(in->advantages[b]))
            return rlvr_num_fail(err, err_len, "grpo: advantages[%zu] is not finite", b);
        N += (double)nb;
    }
    const double G = c->grad_accum_steps;
    double dapo = N;
    if (c->loss_type == RLVR_LOSS_DAPO) {
        if (!isfinite(in->dapo_tokens) || in->dapo_tokens < 0.0)
            return rlvr_num_fail(err, err_len, "grpo: dapo_tokens %g must be finite and >= 0", in->dapo_tokens);
        if (in->dapo_tokens > 0.0) dapo = in->dapo_tokens;
        else if (c->grad_accum_steps > 1)
            return rlvr_num_fail(err, err_len,
                                 "grpo: loss_type dapo with %ld accumulation steps needs dapo_tokens, "
                                 "the active tokens of the whole accumulated batch",
                                 (long)c->grad_accum_steps);
        if (dapo < N)
            return rlvr_num_fail(err, err_len,
                                 "grpo: dapo_tokens %g is fewer than this micro-batch's %g active tokens",
                                 in->dapo_tokens, N);
    }

    struct rlvr_grpo_metrics m = {0};
    m.active_tokens = N;
    double sum_kl = 0, sum_ent = 0, n_low = 0, n_high = 0, n_region = 0, n_dual = 0, sum_ratio = 0;
    const double beta = c->beta;
    for (size_t b = 0; b < B; b++) {
        size_t nb = 0;
        double lr_sum = 0.0;
        for (size_t t = 0; t < T; t++) {
            if (!active(in, c, b, t)) continue;
            nb++;
            if (in->old_logp) lr_sum += (double)in->logp[b * T + t] - (double)in->old_logp[b * T + t];
        }
        if (dlogp && !nb) memset(dlogp + b * T, 0, T * sizeof *dlogp);
        if (!nb) continue;
        double a = in->advantages[b];
        double w; /* the aggregation weight of each active token of b */
        switch (c->loss_type) {
        case RLVR_LOSS_GRPO: w = 1.0 / ((double)B * (double)nb * G); break;
        case RLVR_LOSS_BNPO: w = 1.0 / (N * G); break;
        case RLVR_LOSS_DAPO: w = 1.0 / dapo; break;
        default: w = 1.0 / ((double)B * (double)c->max_completion_length * G);
        }
        /* GSPO: one ratio for the sequence, from the mean log-ratio. */
        double seq_r = 1.0, seq_g = 0.0, seq_pg = 0.0;
        int seq_dual = 0;
        if (c->importance_level == RLVR_IS_SEQUENCE) {
            int passes;
            double lr = clamp_lr(lr_sum / (double)nb, &passes);
            seq_r = exp(lr);
            double dr;
            seq_pg = surrogate(c, seq_r, a, &dr, &seq_dual);
            /* d L / d logp_t through the shared ratio: the nb active tokens'
             * weights (w each) times d pg / d lr (dr * r), times d lr /
             * d logp_t = 1 / nb: w * dr * r. */
            seq_g = passes ? w * dr * seq_r : 0.0;
        }
        for (size_t t = 0; t < T; t++) {
            size_t i = b * T + t;
            if (!active(in, c, b, t)) {
                if (dlogp) dlogp[i] = 0.0f;
                continue;
            }
            double lp = in->logp[i];
            double r, pg, g;
            int dual;
            if (c->importance_level == RLVR_IS_SEQUENCE) {
                r = seq_r, pg = seq_pg, g = seq_g, dual = seq_dual;
            } else {
                int passes;
                double lr = in->old_logp ? clamp_lr(lp - (double)in->old_logp[i], &passes) : (passes = 1, 0.0);
                r = exp(lr);
                double dr;
                pg = surrogate(c, r, a, &dr, &dual);
                g = passes ? w * dr * r : 0.0; /* d r / d lp = r */
            }
            m.pg_loss += w * pg;
            if (in->ref_logp) {
                double dk;
                double kl = kl_term(c->kl_estimator, in->ref_logp[i], lp, &dk);
                m.kl_loss += w * kl;
                sum_kl += kl;
                if (beta > 0.0) g += w * beta * dk;
            }
            if (in->entropy) sum_ent += in->entropy[i];
            int low = r < 1.0 - (double)c->epsilon_low && a < 0.0;
            int high = r > 1.0 + (double)c->epsilon_high && a > 0.0;
            n_low += low, n_high += high, n_region += low || high, n_dual += dual;
            sum_ratio += r;
            if (r > m.ratio_max) m.ratio_max = r;
            if (dlogp) dlogp[i] = (float)g;
        }
    }
    m.loss = m.pg_loss + beta * m.kl_loss;
    if (N > 0.0) {
        m.kl = sum_kl / N;
        m.entropy = sum_ent / N;
        m.clip_low = n_low / N;
        m.clip_high = n_high / N;
        m.clip_region = n_region / N;
        m.clip_dual = n_dual / N;
        m.ratio_mean = sum_ratio / N;
    }
    if (metrics) *metrics = m;
    return 0;
}
