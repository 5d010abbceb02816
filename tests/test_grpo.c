/*
 * test_grpo.c -- the GRPO numeric core (host/logprob.c, host/grpo_loss.c,
 * host/advantage.c): hand-worked cases, finite-difference gradient checks for
 * every loss variant, equivalences, edge cases, and a comparison with torch.
 *
 *   test_grpo                 everything, with tests/fixtures/grpo/cases.txt
 *                             (found through $srcdir) as the torch reference
 *   test_grpo --fixture FILE  only the comparison, against FILE (used by
 *                             test_grpo_torch.py with a fresh torch run)
 *
 * Tolerances, and why:
 *  - log-probabilities and entropies against float64 references: 2e-5 *
 *    max(1, |x|) (float storage, our exp() within 2 ulp, sums over V);
 *  - dL/dlogp against central differences of the loss in logp: 1e-6 *
 *    max(1, |g|) (the loss is computed in double; the step is 1e-3 and the
 *    actually representable step is used);
 *  - dlogits against a naive double-precision formula: 1e-6 * max(1, |g|)
 *    (p <= 1); 1e-3 for logits near 1e4, where a float lse is off by ~6e-4;
 *  - against torch: loss t * max(1, |L|), dlogp 1e-4 * max(1e-3, |g|)
 *    (float storage), dlogits t absolute, metrics 2e-5, where t = 1e-6 or
 *    4 float steps of the case's largest |lse| (logp = z - lse is rounded
 *    at that scale: 1.9e-6 per step at V = 151,936): the C inputs are
 *    the float32 values the fixture holds, the reference is float64 over
 *    the same values.
 */
#include "advantage.h"
#include "grpo.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static char err[512];

/* ---- a naive double reference for log-softmax ------------------------------- */

static void naive_row(const float *x, size_t V, double inv_t, int32_t tok, double *logp, double *lse, double *ent)
{
    double m = -INFINITY;
    for (size_t v = 0; v < V; v++)
        if (x[v] * inv_t > m) m = x[v] * inv_t;
    double s = 0;
    for (size_t v = 0; v < V; v++) s += exp(x[v] * inv_t - m);
    *lse = m + log(s);
    *logp = x[tok] * inv_t - *lse;
    double h = 0;
    for (size_t v = 0; v < V; v++) {
        double p = exp(x[v] * inv_t - *lse);
        if (p > 0) h -= p * (x[v] * inv_t - *lse);
    }
    *ent = h;
}

static uint64_t rng_state = 88172645463325252ull;
static double uniform(void) /* [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double normal(void)
{
    double u = uniform() + 1e-12, v = uniform();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- log-probabilities ------------------------------------------------------- */

static void test_logprobs_hand(void)
{
    /* logits ln1, ln2, ln3: p = 1/6, 2/6, 3/6. */
    const float x[] = {0.0f, (float)log(2.0), (float)log(3.0)};
    const int32_t tok[] = {2};
    float lp, lse, ent;
    ok(rlvr_logprobs(x, tok, NULL, 1, 3, 1.0f, &lp, &lse, &ent, err, sizeof err) == 0, "logprobs: 3-way row");
    is_num(lp, log(0.5), 1e-6, "logp of p = 1/2 is ln(1/2)");
    is_num(lse, log(6.0), 1e-6, "lse = ln 6");
    double h = -(1.0 / 6 * log(1.0 / 6) + 2.0 / 6 * log(2.0 / 6) + 3.0 / 6 * log(3.0 / 6));
    is_num(ent, h, 1e-6, "entropy = -sum p ln p");

    /* Temperature 2 on {0, 2 ln2}: z = {0, ln2}, p = {1/3, 2/3}. */
    const float y[] = {0.0f, (float)(2 * log(2.0))};
    const int32_t t0[] = {0};
    ok(rlvr_logprobs(y, t0, NULL, 1, 2, 2.0f, &lp, NULL, NULL, err, sizeof err) == 0, "temperature 2");
    is_num(lp, log(1.0 / 3), 1e-6, "logits are divided by the temperature");

    /* Uniform row of 4: logp = -ln4, entropy ln4. -Inf entries drop out. */
    const float u[] = {1.5f, -INFINITY, 1.5f, 1.5f, -INFINITY, 1.5f};
    const int32_t t3[] = {3};
    ok(rlvr_logprobs(u, t3, NULL, 1, 6, 1.0f, &lp, NULL, &ent, err, sizeof err) == 0, "-Inf entries allowed");
    is_num(lp, -log(4.0), 1e-6, "-Inf entries have p = 0");
    is_num(ent, log(4.0), 1e-6, "and add nothing to the entropy");

    /* Skipped rows get zeros, and their logits are never read. */
    const float bad[] = {NAN, NAN, 0.0f, 0.0f};
    const int32_t tt[] = {99, 1};
    const uint8_t rows[] = {0, 1};
    float lp2[2] = {5, 5};
    ok(rlvr_logprobs(bad, tt, rows, 2, 2, 1.0f, lp2, NULL, NULL, err, sizeof err) == 0 && lp2[0] == 0.0f &&
           fabs(lp2[1] - log(0.5)) < 1e-6,
       "a skipped row is 0 and unread (%s)", err);

    /* Refusals name the row. */
    const int32_t out_of_range[] = {3};
    ok(rlvr_logprobs(x, out_of_range, NULL, 1, 3, 1.0f, &lp, NULL, NULL, err, sizeof err) == -1 &&
           strstr(err, "row 0: token 3 is outside 0..2"),
       "token out of range refused (%s)", err);
    const float nan_row[] = {0, 1, 0, NAN, 0};
    ok(rlvr_logprobs(nan_row, tok, NULL, 1, 5, 1.0f, &lp, NULL, NULL, err, sizeof err) == -1 &&
           strstr(err, "row 0"),
       "NaN logit refused (%s)", err);
    /* A NaN in a chunk that is otherwise all -Inf (the chunk adds nothing to
     * the sums, so only a scan finds it). */
    float *hidden = malloc((RLVR_LOGPROB_CHUNK + 2) * sizeof *hidden);
    for (size_t v = 0; v < RLVR_LOGPROB_CHUNK; v++) hidden[v] = -INFINITY;
    hidden[17] = NAN;
    hidden[RLVR_LOGPROB_CHUNK] = hidden[RLVR_LOGPROB_CHUNK + 1] = 0.0f;
    const int32_t last[] = {RLVR_LOGPROB_CHUNK};
    ok(rlvr_logprobs(hidden, last, NULL, 1, RLVR_LOGPROB_CHUNK + 2, 1.0f, &lp, NULL, NULL, err, sizeof err) == -1,
       "NaN among -Inf refused");
    free(hidden);
    const float inf_row[] = {0, INFINITY, 0};
    ok(rlvr_logprobs(inf_row, tok, NULL, 1, 3, 1.0f, &lp, NULL, NULL, err, sizeof err) == -1, "+Inf refused");
    const float ninf[] = {-INFINITY, -INFINITY, -INFINITY};
    ok(rlvr_logprobs(ninf, tok, NULL, 1, 3, 1.0f, &lp, NULL, NULL, err, sizeof err) == -1, "all -Inf refused");
    const float pick_ninf[] = {0, 0, -INFINITY};
    ok(rlvr_logprobs(pick_ninf, tok, NULL, 1, 3, 1.0f, &lp, NULL, NULL, err, sizeof err) == -1 &&
           strstr(err, "-Inf"),
       "a taken token with a -Inf logit refused (%s)", err);
    ok(rlvr_logprobs(x, tok, NULL, 1, 3, 0.0f, &lp, NULL, NULL, err, sizeof err) == -1 &&
           strstr(err, "temperature"),
       "temperature 0 refused");
}

/* Rows over several chunks, against the naive double reference, with the
 * maximum placed in the first, a middle and the last chunk, an all -Inf
 * chunk, and large offsets (1e4) that would overflow a naive exp. */
static void test_logprobs_chunks(void)
{
    const size_t V = 3 * RLVR_LOGPROB_CHUNK + 123, n = 5;
    float *x = malloc(n * V * sizeof *x);
    int32_t tok[5];
    for (size_t t = 0; t < n; t++) {
        float *r = x + t * V;
        for (size_t v = 0; v < V; v++) r[v] = (float)(normal() * 3.0);
        tok[t] = (int32_t)(uniform() * (double)V);
    }
    x[0 * V + 7] = 30.0f;                     /* max in the first chunk */
    x[1 * V + RLVR_LOGPROB_CHUNK + 5] = 25.0f; /* in a middle chunk */
    x[2 * V + V - 1] = 40.0f;                 /* in the last, short chunk */
    tok[2] = (int32_t)(V - 1);
    for (size_t v = 0; v < RLVR_LOGPROB_CHUNK; v++) x[3 * V + v] = -INFINITY; /* a dead chunk */
    for (size_t v = 0; v < V; v++) x[4 * V + v] += 1e4f;
    float lp[5], lse[5], ent[5];
    int rc = rlvr_logprobs(x, tok, NULL, n, V, 1.0f, lp, lse, ent, err, sizeof err);
    ok(rc == 0, "multi-chunk rows (%s)", err);
    for (size_t t = 0; t < n; t++) {
        double wl, wlse, we;
        naive_row(x + t * V, V, 1.0, tok[t], &wl, &wlse, &we);
        is_num(lp[t], wl, 2e-5 * fmax(1, fabs(wl)), "chunked row %zu: logp", t);
        is_num(lse[t], wlse, 2e-5 * fmax(1, fabs(wlse)), "chunked row %zu: lse", t);
        is_num(ent[t], we, 2e-5 * fmax(1, fabs(we)), "chunked row %zu: entropy", t);
    }
    /* Backward against the naive formula; in place gives the same; lse
     * recomputed gives the same. */
    float g[5] = {0.3f, -1.2f, 0.0f, 2.0f, 0.7f};
    float *d = malloc(n * V * sizeof *d), *d2 = malloc(n * V * sizeof *d2), *inplace = malloc(n * V * sizeof *x);
    memcpy(inplace, x, n * V * sizeof *x);
    ok(rlvr_logprobs_backward(x, tok, NULL, lse, g, n, V, 1.0f, d, err, sizeof err) == 0, "backward runs");
    ok(rlvr_logprobs_backward(x, tok, NULL, NULL, g, n, V, 1.0f, d2, err, sizeof err) == 0, "backward without lse");
    ok(rlvr_logprobs_backward(inplace, tok, NULL, lse, g, n, V, 1.0f, inplace, err, sizeof err) == 0,
       "backward in place");
    /* Row 4's logits sit near 1e4, where a float lse carries an error of up
     * to 2^-24 * 1e4 ~ 6e-4, and so does every p (as in torch's float32
     * path): it gets its own, looser bound. */
    double worst = 0, worst_big = 0, worst_nolse = 0, worst_inplace = 0;
    for (size_t t = 0; t < n; t++) {
        double wl, wlse, we;
        naive_row(x + t * V, V, 1.0, tok[t], &wl, &wlse, &we);
        for (size_t v = 0; v < V; v++) {
            double p = exp(x[t * V + v] - wlse);
            double want = g[t] * ((v == (size_t)tok[t]) - p);
            double e = fabs(d[t * V + v] - want) / fmax(1, fabs(g[t]));
            if (t == 4) worst_big = fmax(worst_big, e);
            else worst = fmax(worst, e);
            worst_nolse = fmax(worst_nolse, fabs(d2[t * V + v] - d[t * V + v]));
            worst_inplace = fmax(worst_inplace, fabs(inplace[t * V + v] - d[t * V + v]));
        }
    }
    ok(worst < 1e-6, "backward = g (onehot - softmax) within 1e-6 max(1, |g|) (worst %.3g)", worst);
    ok(worst_big < 1e-3, "logits near 1e4: within 1e-3 max(1, |g|) (worst %.3g)", worst_big);
    ok(worst_nolse < 1e-6, "recomputed lse gives the same gradient (worst %.3g)", worst_nolse);
    ok(worst_inplace == 0, "in place gives the same gradient bit for bit");
    int zero = 1;
    for (size_t v = 0; v < V; v++) zero &= d[2 * V + v] == 0.0f;
    ok(zero, "a row with dlogp 0 gets an all-zero gradient");
    free(x), free(d), free(d2), free(inplace);
}

/* ---- the loss: hand cases ---------------------------------------------------- */

static struct rlvr_grpo_config cfg0(void)
{
    struct rlvr_grpo_config c;
    rlvr_grpo_config_default(&c);
    return c;
}

static double loss_of(const struct rlvr_grpo_config *c, const struct rlvr_grpo_batch *b, float *dlogp,
                      struct rlvr_grpo_metrics *m)
{
    struct rlvr_grpo_metrics mm;
    if (!m) m = &mm;
    if (rlvr_grpo_loss(c, b, dlogp, m, err, sizeof err)) {
        diag("loss refused: %s", err);
        return NAN;
    }
    return m->loss;
}

static void test_loss_hand(void)
{
    struct rlvr_grpo_config c = cfg0();
    ok(c.loss_type == RLVR_LOSS_GRPO && c.beta == 0.001f && c.epsilon_low == 0.2f && c.epsilon_high == 0.2f &&
           c.kl_estimator == RLVR_KL_K3 && c.grad_accum_steps == 1,
       "defaults are R1's: grpo, beta 0.001, epsilon 0.2, k3");
    c.beta = 0.0f;

    /* On-policy (no old_logp): ratio 1, loss -A per token; grpo averages
     * per sequence then over sequences: -(A0 + A1) / 2. dL/dlogp = -A w. */
    float lp[] = {-1.0f, -2.0f, -0.5f, -3.0f};
    float adv[] = {0.5f, -2.0f};
    struct rlvr_grpo_batch b = {.n_seq = 2, .seq_len = 2, .logp = lp, .advantages = adv};
    float g[8];
    struct rlvr_grpo_metrics m;
    is_num(loss_of(&c, &b, g, &m), -(0.5 - 2.0) / 2, 1e-12, "on-policy grpo loss = -mean(A)");
    is_num(g[0], -0.5 / 4, 1e-9, "dL/dlogp = -A / (B n_b)");
    is_num(g[3], 2.0 / 4, 1e-9, "dL/dlogp for a negative advantage");
    is_num(m.ratio_mean, 1, 0, "ratio 1 on-policy");
    /* old_logp == logp is the same thing. */
    b.old_logp = lp;
    float g2[4];
    is_num(loss_of(&c, &b, g2, NULL), -(0.5 - 2.0) / 2, 1e-12, "old_logp = logp: same loss");
    ok(memcmp(g, g2, sizeof g) == 0, "old_logp = logp: same gradient");

    /* Clipping. One token, A = 1: ratio 1.5 > 1.2 -> pg = -1.2, gradient 0,
     * counted in clip_ratio/high. A = -1, ratio 0.5 < 0.8 -> pg = 0.8, 0. */
    float l1[] = {(float)log(1.5)}, o1[] = {0.0f}, a1[] = {1.0f};
    struct rlvr_grpo_batch one = {.n_seq = 1, .seq_len = 1, .logp = l1, .old_logp = o1, .advantages = a1};
    is_num(loss_of(&c, &one, g, &m), -1.2, 1e-6, "ratio 1.5, A = 1: clipped to -1.2");
    is_num(g[0], 0, 0, "clipped: no gradient");
    ok(m.clip_high == 1 && m.clip_low == 0 && m.clip_region == 1, "clip_ratio/high_mean counts it");
    l1[0] = (float)log(0.5), a1[0] = -1.0f;
    is_num(loss_of(&c, &one, g, &m), 0.8, 1e-6, "ratio 0.5, A = -1: clipped to 0.8");
    ok(m.clip_low == 1 && m.clip_high == 0, "clip_ratio/low_mean counts it");
    /* ratio 0.5 with A = +1 is not clipped (the min takes the unclipped). */
    a1[0] = 1.0f;
    is_num(loss_of(&c, &one, g, &m), -0.5, 1e-6, "ratio 0.5, A = 1: unclipped -0.5");
    is_num(g[0], -0.5, 1e-6, "gradient -A r");
    /* DAPO clip-higher: eps_high 0.28 lets 1.25 through. */
    l1[0] = (float)log(1.25);
    c.epsilon_high = 0.28f;
    is_num(loss_of(&c, &one, g, NULL), -1.25, 1e-6, "clip-higher: 1.25 within 1 + 0.28");
    c.epsilon_high = 0.2f;
    is_num(loss_of(&c, &one, g, NULL), -1.2, 1e-6, "symmetric: 1.25 clipped at 1.2");
    /* Dual clip: A = -1, ratio 5: pg = max(5, 1.2) = 5, capped at 3. */
    l1[0] = (float)log(5.0), a1[0] = -1.0f;
    is_num(loss_of(&c, &one, g, NULL), 5.0, 1e-5, "no dual clip: 5");
    c.dual_clip = 3.0f;
    is_num(loss_of(&c, &one, g, &m), 3.0, 1e-6, "dual clip 3: capped at 3");
    ok(g[0] == 0 && m.clip_dual == 1, "dual clip: no gradient, counted");
    c.dual_clip = 0.0f;
    /* Delta: A = +1, ratio 5 -> min(5 A, 1.2 A) = 1.2: delta does not act;
     * A = -1, ratio 5: -A min(r, delta) = delta = 2. */
    c.delta = 2.0f;
    is_num(loss_of(&c, &one, g, NULL), 2.0, 1e-6, "delta 2 caps the unclipped ratio for A < 0");
    c.delta = 0.0f;

    /* KL: ref - logp = ln 2: k3 = 2 - ln2 - 1; k1 = -ln2; k2 = (ln2)^2 / 2. */
    float lk[] = {-1.0f}, rk[] = {(float)(-1.0 + log(2.0))}, ak[] = {0.0f};
    struct rlvr_grpo_batch kb = {.n_seq = 1, .seq_len = 1, .logp = lk, .ref_logp = rk, .advantages = ak};
    double d = (double)rk[0] - (double)lk[0];
    c.beta = 0.5f;
    is_num(loss_of(&c, &kb, g, &m), 0.5 * (exp(d) - d - 1), 1e-9, "k3 = e^d - d - 1, times beta");
    is_num(m.kl, exp(d) - d - 1, 1e-9, "kl metric is the mean k3");
    is_num(g[0], 0.5 * (1 - exp(d)), 1e-7, "d k3 / d logp = 1 - e^d");
    c.kl_estimator = RLVR_KL_K1;
    is_num(loss_of(&c, &kb, g, NULL), 0.5 * -d, 1e-9, "k1 = logp - ref");
    c.kl_estimator = RLVR_KL_K2;
    is_num(loss_of(&c, &kb, g, NULL), 0.5 * d * d / 2, 1e-9, "k2 = d^2 / 2");
    c.kl_estimator = RLVR_KL_K3;
    c.beta = 0.0f;
    is_num(loss_of(&c, &kb, g, &m), 0, 0, "beta 0: no KL term in the loss");
    ok(m.kl > 0 && g[0] == 0, "beta 0: kl still reported, no KL gradient");

    /* Aggregations. Two sequences, 1 and 3 active tokens, on-policy, per
     * token loss -A: seq 0 A = 1 (one token), seq 1 A = -1 (three tokens,
     * one masked position). */
    float la[] = {-1, 0, 0, 0, -1, -1, -1, 0};
    float aa[] = {1.0f, -1.0f};
    uint8_t ma[] = {1, 0, 0, 0, 1, 1, 1, 0};
    struct rlvr_grpo_batch ab = {.n_seq = 2, .seq_len = 4, .logp = la, .advantages = aa, .mask = ma};
    c.loss_type = RLVR_LOSS_GRPO;
    is_num(loss_of(&c, &ab, g, NULL), (-1 + 1) / 2.0, 1e-12, "grpo: mean of sequence means");
    c.loss_type = RLVR_LOSS_BNPO;
    is_num(loss_of(&c, &ab, g, NULL), (-1 + 3) / 4.0, 1e-12, "bnpo: mean over active tokens");
    c.loss_type = RLVR_LOSS_DAPO;
    is_num(loss_of(&c, &ab, g, NULL), (-1 + 3) / 4.0, 1e-12, "dapo, one micro-batch: same as bnpo");
    ab.dapo_tokens = 10;
    is_num(loss_of(&c, &ab, g, NULL), (-1 + 3) / 10.0, 1e-12, "dapo: over the accumulated batch's tokens");
    ab.dapo_tokens = 3;
    ok(rlvr_grpo_loss(&c, &ab, g, NULL, err, sizeof err) == -1 && strstr(err, "fewer"),
       "dapo_tokens below the micro-batch's count refused (%s)", err);
    ab.dapo_tokens = 0;
    c.grad_accum_steps = 2;
    ok(rlvr_grpo_loss(&c, &ab, g, NULL, err, sizeof err) == -1 && strstr(err, "dapo_tokens"),
       "dapo with accumulation needs dapo_tokens (%s)", err);
    c.loss_type = RLVR_LOSS_BNPO;
    is_num(loss_of(&c, &ab, g, NULL), (-1 + 3) / 4.0 / 2, 1e-12, "bnpo with 2 accumulation steps: halved");
    c.loss_type = RLVR_LOSS_GRPO;
    is_num(loss_of(&c, &ab, g, NULL), 0, 1e-12, "grpo with accumulation (0 / 2)");
    c.grad_accum_steps = 1;
    c.loss_type = RLVR_LOSS_DR_GRPO;
    c.max_completion_length = 8;
    is_num(loss_of(&c, &ab, g, NULL), (-1 + 3) / (2.0 * 8), 1e-12, "dr_grpo: sum / (B max_completion_length)");
    is_num(g[4], 1.0 / 16, 1e-9, "dr_grpo: dL/dlogp = -A / (B L)");
    ok(g[1] == 0 && g[7] == 0, "masked positions get 0");

    /* Truncation masking: seq 1 truncated leaves only seq 0 but B stays 2. */
    uint8_t tr[] = {0, 1};
    ab.truncated = tr;
    c.loss_type = RLVR_LOSS_GRPO;
    is_num(loss_of(&c, &ab, g, NULL), 0, 1e-12, "truncated but not masked: unchanged");
    c.mask_truncated = 1;
    is_num(loss_of(&c, &ab, g, &m), -1 / 2.0, 1e-12, "mask_truncated: the sequence leaves, B stays");
    ok(m.active_tokens == 1 && g[4] == 0, "and its tokens get no gradient");
    c.mask_truncated = 0;

    /* GSPO: sequence ratio exp(mean log-ratio): log-ratios ln2 and 0 ->
     * r = sqrt(2); A = 1, eps 0.5: unclipped, pg = -sqrt 2 per token. */
    float lg[] = {(float)log(2.0), 0.0f}, og[] = {0.0f, 0.0f}, agg[] = {1.0f};
    struct rlvr_grpo_batch gb = {.n_seq = 1, .seq_len = 2, .logp = lg, .old_logp = og, .advantages = agg};
    c.importance_level = RLVR_IS_SEQUENCE;
    c.epsilon_low = c.epsilon_high = 0.5f;
    is_num(loss_of(&c, &gb, g, &m), -sqrt(2.0), 1e-6, "GSPO: ratio exp(mean log-ratio)");
    is_num(g[0], -sqrt(2.0) / 2, 1e-6, "GSPO: each token gets d/dlr / n");
    is_num(g[0], g[1], 0, "GSPO: the same gradient for every token");
    c.importance_level = RLVR_IS_TOKEN;

    /* Config refusals. */
    struct rlvr_grpo_config bad = cfg0();
    bad.loss_type = 9;
    ok(rlvr_grpo_config_check(&bad, err, sizeof err) == -1 && strstr(err, "loss_type 9"), "bad loss_type");
    bad = cfg0(), bad.epsilon_low = 1.0f;
    ok(rlvr_grpo_config_check(&bad, err, sizeof err) == -1 && strstr(err, "epsilon_low"), "bad epsilon_low");
    bad = cfg0(), bad.delta = 1.1f;
    ok(rlvr_grpo_config_check(&bad, err, sizeof err) == -1 && strstr(err, "delta"), "delta inside the clip");
    bad = cfg0(), bad.dual_clip = 0.5f;
    ok(rlvr_grpo_config_check(&bad, err, sizeof err) == -1 && strstr(err, "dual_clip"), "dual_clip <= 1");
    bad = cfg0(), bad.grad_accum_steps = 0;
    ok(rlvr_grpo_config_check(&bad, err, sizeof err) == -1, "grad_accum_steps 0");
    /* Input refusals name the position; masked garbage is fine. */
    c = cfg0();
    float ln[] = {-1.0f, NAN}, an[] = {1.0f}, rn[] = {-1.0f, -1.0f};
    uint8_t mn[] = {1, 1};
    struct rlvr_grpo_batch nb = {.n_seq = 1, .seq_len = 2, .logp = ln, .ref_logp = rn, .advantages = an, .mask = mn};
    g[0] = 7;
    ok(rlvr_grpo_loss(&c, &nb, g, NULL, err, sizeof err) == -1 && strstr(err, "logp[0][1]") && g[0] == 7,
       "NaN logp at an active position refused, nothing written (%s)", err);
    mn[1] = 0;
    ok(rlvr_grpo_loss(&c, &nb, g, NULL, err, sizeof err) == 0, "NaN at a masked position is never read");
    nb.ref_logp = NULL;
    ok(rlvr_grpo_loss(&c, &nb, g, NULL, err, sizeof err) == -1 && strstr(err, "ref_logp"),
       "beta > 0 without ref_logp refused (%s)", err);
}

/* ---- finite differences -------------------------------------------------------- */

/* A random batch whose log-ratios keep 0.05 away from every kink of cfg. */
struct rb {
    size_t B, T, V;
    float *logits, *logp, *old, *ref, *adv, *lse;
    int32_t *tok;
    uint8_t *mask, *trunc;
};

static int near_kink(const struct rlvr_grpo_config *c, double r)
{
    /* the clip bounds; delta; the ratio where the dual clip's cap starts */
    double k[] = {1 - c->epsilon_low, 1 + c->epsilon_high, c->delta, c->dual_clip};
    for (size_t i = 0; i < 4; i++)
        if (fabs(r - k[i]) < 0.05) return 1;
    return 0;
}

static void make_batch(struct rb *b, const struct rlvr_grpo_config *c, size_t B, size_t T, size_t V)
{
    b->B = B, b->T = T, b->V = V;
    b->logits = malloc(B * T * V * sizeof(float));
    b->logp = malloc(B * T * sizeof(float));
    b->old = malloc(B * T * sizeof(float));
    b->ref = malloc(B * T * sizeof(float));
    b->lse = malloc(B * T * sizeof(float));
    b->adv = malloc(B * sizeof(float));
    b->tok = malloc(B * T * sizeof(int32_t));
    b->mask = malloc(B * T);
    b->trunc = malloc(B);
    for (size_t i = 0; i < B * T * V; i++) b->logits[i] = (float)(normal() * 1.5);
    for (size_t i = 0; i < B * T; i++) {
        b->tok[i] = (int32_t)(uniform() * (double)V);
        b->mask[i] = uniform() < 0.8;
    }
    b->mask[0] = 0, b->mask[1] = 1; /* a masked and an active position, always */
    for (size_t s = 0; s < B; s++) {
        b->adv[s] = (float)normal();
        b->trunc[s] = s == 1;
    }
    rlvr_logprobs(b->logits, b->tok, NULL, B * T, V, 1.0f, b->logp, b->lse, NULL, err, sizeof err);
    for (size_t i = 0; i < B * T; i++) {
        double r;
        do {
            b->old[i] = b->logp[i] + (float)(normal() * 0.4);
            r = exp((double)b->logp[i] - b->old[i]);
        } while (near_kink(c, r));
        b->ref[i] = b->logp[i] + (float)(normal() * 0.5);
    }
}

static void free_batch(struct rb *b)
{
    free(b->logits), free(b->logp), free(b->old), free(b->ref), free(b->lse), free(b->adv), free(b->tok);
    free(b->mask), free(b->trunc);
}

/* dL/dlogp against central differences of the loss in each logp. */
static void fd_loss(const char *name, const struct rlvr_grpo_config *c)
{
    struct rb r;
    make_batch(&r, c, 3, 5, 7);
    struct rlvr_grpo_batch b = {.n_seq = r.B, .seq_len = r.T, .logp = r.logp, .old_logp = r.old,
                                .ref_logp = r.ref, .advantages = r.adv, .mask = r.mask, .truncated = r.trunc};
    if (c->loss_type == RLVR_LOSS_DAPO && c->grad_accum_steps > 1) b.dapo_tokens = 31;
    float g[15];
    int rc = rlvr_grpo_loss(c, &b, g, NULL, err, sizeof err);
    double worst = 0;
    int kinks = 0;
    for (size_t i = 0; i < r.B * r.T && rc == 0; i++) {
        float keep = r.logp[i];
        r.logp[i] = keep + 1e-3f;
        double hp = (double)r.logp[i] - keep;
        double lp = loss_of(c, &b, NULL, NULL);
        r.logp[i] = keep - 1e-3f;
        double hm = (double)keep - r.logp[i];
        double lm = loss_of(c, &b, NULL, NULL);
        r.logp[i] = keep;
        double fd = (lp - lm) / (hp + hm);
        /* GSPO moves every token's ratio together: a kink can still be
         * crossed through the mean; skip those few positions. */
        double e = fabs(fd - g[i]) / fmax(1e-3, fabs(g[i]));
        if (c->importance_level == RLVR_IS_SEQUENCE && e > 1e-3 && fabs(fd - g[i]) > 1e-6) {
            kinks++;
            continue;
        }
        worst = fmax(worst, fabs(fd - g[i]) / fmax(1.0, fabs(g[i])));
    }
    ok(rc == 0 && worst < 1e-6 && kinks <= 1, "finite differences, %s: dL/dlogp (worst %.2g%s)", name, worst,
       kinks ? ", one GSPO kink skipped" : "");
    free_batch(&r);
}

/* End to end: L(logits) = loss(logprobs(logits)); the chained gradient
 * against central differences in the logits (float pipeline: step 1e-2,
 * tolerance 2e-4 absolute on gradients of order 0.1). */
static void fd_chain(const char *name, const struct rlvr_grpo_config *c, float temperature)
{
    struct rb r;
    make_batch(&r, c, 2, 3, 5);
    size_t n = r.B * r.T;
    float logp[6], lse[6], g[6], dlogits[30];
    struct rlvr_grpo_batch b = {.n_seq = r.B, .seq_len = r.T, .logp = logp, .old_logp = r.old,
                                .ref_logp = r.ref, .advantages = r.adv, .mask = r.mask, .truncated = r.trunc};
    int rc = rlvr_logprobs(r.logits, r.tok, r.mask, n, r.V, temperature, logp, lse, NULL, err, sizeof err);
    rc |= rlvr_grpo_loss(c, &b, g, NULL, err, sizeof err);
    rc |= rlvr_logprobs_backward(r.logits, r.tok, r.mask, lse, g, n, r.V, temperature, dlogits, err, sizeof err);
    double worst = 0;
    for (size_t i = 0; i < n * r.V && rc == 0; i++) {
        float keep = r.logits[i];
        double l[2];
        for (int s = 0; s < 2; s++) {
            r.logits[i] = keep + (s ? -1e-2f : 1e-2f);
            rlvr_logprobs(r.logits, r.tok, r.mask, n, r.V, temperature, logp, NULL, NULL, err, sizeof err);
            l[s] = loss_of(c, &b, NULL, NULL);
        }
        r.logits[i] = keep;
        double fd = (l[0] - l[1]) / 2e-2;
        worst = fmax(worst, fabs(fd - dlogits[i]));
    }
    ok(rc == 0 && worst < 2e-4, "finite differences, %s: dL/dlogits end to end (worst %.2g)", name, worst);
    free_batch(&r);
}

static void test_finite_differences(void)
{
    static const char *loss_names[] = {"grpo", "bnpo", "dapo", "dr_grpo"};
    static const char *kl_names[] = {"k3", "k1", "k2"};
    char name[128];
    for (int lt = 0; lt < 4; lt++)
        for (int lvl = 0; lvl < 2; lvl++)
            for (int kl = 0; kl < 3; kl++) {
                struct rlvr_grpo_config c = cfg0();
                c.loss_type = lt, c.importance_level = lvl, c.kl_estimator = kl, c.beta = 0.04f;
                c.max_completion_length = 6;
                snprintf(name, sizeof name, "%s %s %s", loss_names[lt], lvl ? "sequence" : "token",
                         kl_names[kl]);
                fd_loss(name, &c);
            }
    struct rlvr_grpo_config c = cfg0();
    c.epsilon_high = 0.28f, c.beta = 0;
    fd_loss("clip-higher, beta 0", &c);
    c = cfg0(), c.dual_clip = 3.0f, c.delta = 1.5f;
    fd_loss("dual clip and delta", &c);
    c = cfg0(), c.mask_truncated = 1, c.grad_accum_steps = 4;
    fd_loss("mask_truncated, 4 accumulation steps", &c);
    c = cfg0(), c.loss_type = RLVR_LOSS_DAPO, c.grad_accum_steps = 2;
    fd_loss("dapo with dapo_tokens", &c);
    c = cfg0(), c.importance_level = RLVR_IS_SEQUENCE, c.epsilon_low = 3e-4f, c.epsilon_high = 4e-4f;
    fd_loss("GSPO with its tight clip", &c);

    c = cfg0(), c.beta = 0.04f;
    fd_chain("grpo", &c, 1.0f);
    fd_chain("grpo, temperature 0.7", &c, 0.7f);
    c.loss_type = RLVR_LOSS_DR_GRPO, c.importance_level = RLVR_IS_SEQUENCE, c.kl_estimator = RLVR_KL_K2;
    fd_chain("dr_grpo, sequence, k2", &c, 1.0f);
}

/* ---- edge cases ---------------------------------------------------------------- */

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static void test_edges(void)
{
    struct rlvr_grpo_config c = cfg0();
    float g[8];
    struct rlvr_grpo_metrics m;
    /* A fully masked sequence among others, and a fully masked batch. */
    float lp[] = {-1, -1, -2, -2}, ref[] = {-1, -1, -1, -1}, adv[] = {1, -1};
    uint8_t mask[] = {0, 0, 1, 1};
    struct rlvr_grpo_batch b = {.n_seq = 2, .seq_len = 2, .logp = lp, .ref_logp = ref, .advantages = adv,
                                .mask = mask};
    for (int lt = 0; lt < 4; lt++) {
        c.loss_type = lt;
        double l = loss_of(&c, &b, g, &m);
        ok(isfinite(l) && all_finite(g, 4) && g[0] == 0 && g[1] == 0, "loss type %d: a fully masked sequence", lt);
    }
    memset(mask, 0, sizeof mask);
    for (int lt = 0; lt < 4; lt++) {
        c.loss_type = lt;
        double l = loss_of(&c, &b, g, &m);
        ok(l == 0 && all_finite(g, 4) && m.active_tokens == 0 && m.kl == 0, "loss type %d: nothing active: 0", lt);
    }
    c = cfg0();
    /* Log-ratios and ref differences of +-50: clamped, finite. */
    float lx[] = {50, -50, 0, 0}, ox[] = {0, 0, 50, -50}, rx[] = {-50, 50, 50, -50}, ax[] = {-1, 1};
    struct rlvr_grpo_batch x = {.n_seq = 2, .seq_len = 2, .logp = lx, .old_logp = ox, .ref_logp = rx,
                                .advantages = ax};
    for (int kl = 0; kl < 3; kl++)
        for (int lvl = 0; lvl < 2; lvl++) {
            c.kl_estimator = kl, c.importance_level = lvl;
            double l = loss_of(&c, &x, g, &m);
            ok(isfinite(l) && all_finite(g, 4) && isfinite(m.kl) && m.ratio_max <= exp(20.0) * 1.0000001,
               "log-ratios of +-50, kl %d, level %d: finite (loss %.3g)", kl, lvl, l);
        }
    /* Advantages from an all-null group and a group of one: 0, finite. */
    const float rw[] = {NAN, NAN, 1.0f, 0.5f, 0.5f, 0.5f};
    const int32_t gi[] = {0, 0, 1, 2, 2, 2};
    float a[6];
    uint8_t no_signal[3];
    struct rlvr_advantage_stats st;
    int rc = rlvr_advantages(rw, gi, 6, 3, RLVR_SCALE_GROUP, RLVR_BASELINE_MEAN, RLVR_ADVANTAGE_EPS, a,
                             no_signal, &st, err, sizeof err);
    ok(rc == 0 && a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0, "all-null group and group of one: A = 0");
    ok(no_signal[0] && no_signal[1] && no_signal[2], "all three groups carry no signal");
    ok(st.groups_counted == 1 && st.groups_zero_std == 1 && st.frac_reward_zero_std == 1 && st.n_null == 2,
       "frac_reward_zero_std counts groups of two or more");
    c = cfg0();
    float la[] = {-1, -2, -3, -4, -5, -6};
    struct rlvr_grpo_batch ab = {.n_seq = 6, .seq_len = 1, .logp = la, .ref_logp = la, .advantages = a};
    double l = loss_of(&c, &ab, g, NULL);
    ok(l == 0 && all_finite(g, 6), "zero advantages and ref = logp: loss 0, finite gradient");
}

/* ---- advantages: RLOO and statistics ------------------------------------------ */

static void test_advantages_more(void)
{
    /* Group {1, 0, 0, 1, null}: RLOO baseline for r=1 is mean(0, 0, 1) = 1/3:
     * A = 2/3; for r=0: mean(1, 0, 1) = 2/3: A = -2/3. Scale none. */
    const float r[] = {1, 0, 0, 1, NAN};
    const int32_t g[] = {0, 0, 0, 0, 0};
    float a[5];
    uint8_t ns[1];
    struct rlvr_advantage_stats st;
    ok(rlvr_advantages(r, g, 5, 1, RLVR_SCALE_NONE, RLVR_BASELINE_RLOO, 0, a, ns, &st, err, sizeof err) == 0,
       "rloo runs");
    is_num(a[0], 2.0 / 3, 1e-6, "rloo: r - mean of the others");
    is_num(a[1], -2.0 / 3, 1e-6, "rloo: negative");
    is_num(a[4], 0, 0, "rloo: null gets 0");
    ok(ns[0] == 0 && st.n_null == 1 && st.groups_counted == 1 && st.groups_zero_std == 0, "rloo: stats");
    is_num(st.reward_mean, 0.5, 1e-12, "reward_mean");
    is_num(st.adv_max, 2.0 / 3, 1e-6, "adv_max");
    is_num(st.adv_min, -2.0 / 3, 1e-6, "adv_min");
    is_num(st.adv_mean, 0, 1e-7, "adv_mean");
    /* RLOO with group scale: (r - mean) c/(c-1) / (std + eps). */
    ok(rlvr_advantages(r, g, 5, 1, RLVR_SCALE_GROUP, RLVR_BASELINE_RLOO, 0, a, NULL, NULL, err, sizeof err) == 0,
       "rloo, group scale");
    is_num(a[0], (2.0 / 3) / sqrt(1.0 / 3), 1e-6, "rloo divided by the group std");
    /* A group of one under RLOO: 0. */
    const float r1[] = {1};
    const int32_t g1[] = {0};
    ok(rlvr_advantages(r1, g1, 1, 1, RLVR_SCALE_NONE, RLVR_BASELINE_RLOO, 0, a, ns, NULL, err, sizeof err) == 0 &&
           a[0] == 0 && ns[0] == 1,
       "rloo: a group of one has no baseline: 0, no signal");
    ok(rlvr_advantages(r1, g1, 1, 1, RLVR_SCALE_NONE, 5, 0, a, NULL, NULL, err, sizeof err) == -1 &&
           strstr(err, "baseline"),
       "unknown baseline refused");
}

/* ---- against torch ----------------------------------------------------------------- */

typedef struct {
    char *buf, *p;
} reader;

static char *next_tok(reader *r)
{
    for (;;) {
        while (*r->p == ' ' || *r->p == '\n' || *r->p == '\t') r->p++;
        if (*r->p == '#') { /* comment line */
            while (*r->p && *r->p != '\n') r->p++;
            continue;
        }
        break;
    }
    if (!*r->p) return NULL;
    char *s = r->p;
    while (*r->p && *r->p != ' ' && *r->p != '\n' && *r->p != '\t') r->p++;
    if (*r->p) *r->p++ = '\0';
    return s;
}

static int expect(reader *r, const char *word)
{
    char *t = next_tok(r);
    if (!t || strcmp(t, word)) {
        diag("fixture: expected '%s', got '%s'", word, t ? t : "end of file");
        return -1;
    }
    return 0;
}

/* Reads "NAME v1 ... vn" into a new double array; *none = "NAME none". */
static double *read_array(reader *r, const char *name, size_t n, int *none)
{
    if (expect(r, name)) return NULL;
    if (none) { /* peek: "none" instead of values */
        char *q = r->p;
        while (*q == ' ' || *q == '\t') q++;
        *none = !strncmp(q, "none", 4) && (q[4] == '\n' || q[4] == ' ' || !q[4]);
        if (*none) {
            next_tok(r);
            return NULL;
        }
    }
    double *a = malloc((n ? n : 1) * sizeof *a);
    for (size_t i = 0; i < n; i++) {
        char *t = next_tok(r);
        if (!t) {
            free(a);
            return NULL;
        }
        a[i] = strtod(t, NULL);
    }
    return a;
}

static float *to_float(const double *a, size_t n)
{
    if (!a) return NULL;
    float *f = malloc((n ? n : 1) * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = (float)a[i];
    return f;
}

static int run_fixture(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ok(0, "fixture %s opens", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    reader r = {malloc((size_t)size + 1), NULL};
    size_t got = fread(r.buf, 1, (size_t)size, f);
    fclose(f);
    r.buf[got] = '\0';
    r.p = r.buf;
    int cases = 0;
    char *t;
    while ((t = next_tok(&r))) {
        if (strcmp(t, "case")) {
            ok(0, "fixture: expected 'case', got '%s'", t);
            break;
        }
        char name[64];
        snprintf(name, sizeof name, "%s", next_tok(&r));
        size_t B = strtoul(next_tok(&r), NULL, 10), T = strtoul(next_tok(&r), NULL, 10),
               V = strtoul(next_tok(&r), NULL, 10);
        size_t n = B * T;
        struct rlvr_grpo_config c;
        rlvr_grpo_config_default(&c);
        double dapo_tokens;
        expect(&r, "config");
        c.loss_type = atoi(next_tok(&r));
        c.importance_level = atoi(next_tok(&r));
        c.kl_estimator = atoi(next_tok(&r));
        c.epsilon_low = strtof(next_tok(&r), NULL);
        c.epsilon_high = strtof(next_tok(&r), NULL);
        c.delta = strtof(next_tok(&r), NULL);
        c.dual_clip = strtof(next_tok(&r), NULL);
        c.beta = strtof(next_tok(&r), NULL);
        c.max_completion_length = atoi(next_tok(&r));
        c.grad_accum_steps = atoi(next_tok(&r));
        c.mask_truncated = atoi(next_tok(&r));
        float temperature = strtof(next_tok(&r), NULL);
        dapo_tokens = strtod(next_tok(&r), NULL);
        int none_old, none_ref;
        double *tok_d = read_array(&r, "tokens", n, NULL), *mask_d = read_array(&r, "mask", n, NULL),
               *trunc_d = read_array(&r, "truncated", B, NULL), *logits_d = read_array(&r, "logits", n * V, NULL),
               *old_d = read_array(&r, "old_logp", n, &none_old), *ref_d = read_array(&r, "ref_logp", n, &none_ref),
               *adv_d = read_array(&r, "advantages", B, NULL), *w_logp = read_array(&r, "want_logp", n, NULL),
               *w_ent = read_array(&r, "want_entropy", n, NULL), *w_dlogp = read_array(&r, "want_dlogp", n, NULL),
               *w_dlogits = read_array(&r, "want_dlogits", n * V, NULL),
               *w_loss = read_array(&r, "want_loss", 3, NULL), *w_met = read_array(&r, "want_metrics", 7, NULL);
        if (expect(&r, "end") || !w_met) {
            ok(0, "fixture case %s reads whole", name);
            break;
        }
        int32_t *tok = malloc(n * sizeof *tok);
        uint8_t *mask = malloc(n), *trunc = malloc(B);
        for (size_t i = 0; i < n; i++) tok[i] = (int32_t)tok_d[i], mask[i] = (uint8_t)mask_d[i];
        for (size_t i = 0; i < B; i++) trunc[i] = (uint8_t)trunc_d[i];
        float *logits = to_float(logits_d, n * V), *old = to_float(old_d, n), *ref = to_float(ref_d, n),
              *adv = to_float(adv_d, B);
        float *logp = malloc(n * sizeof *logp), *lse = malloc(n * sizeof *lse), *ent = malloc(n * sizeof *ent),
              *dlogp = malloc(n * sizeof *dlogp), *dlogits = malloc(n * V * sizeof *dlogits);
        /* Every row: the reference computes logp for padding too. */
        int rc = rlvr_logprobs(logits, tok, NULL, n, V, temperature, logp, lse, ent, err, sizeof err);
        struct rlvr_grpo_batch b = {.n_seq = B, .seq_len = T, .logp = logp, .old_logp = old, .ref_logp = ref,
                                    .advantages = adv, .mask = mask, .truncated = trunc, .entropy = ent,
                                    .dapo_tokens = dapo_tokens};
        struct rlvr_grpo_metrics m;
        rc = rc ? rc : rlvr_grpo_loss(&c, &b, dlogp, &m, err, sizeof err);
        rc = rc ? rc : rlvr_logprobs_backward(logits, tok, NULL, lse, dlogp, n, V, temperature, dlogits, err,
                                              sizeof err);
        if (!ok(rc == 0, "torch case %s: runs", name)) diag("  %s", err);
        double e_lp = 0, e_ent = 0, e_dlogp = 0, e_dlogits = 0;
        for (size_t i = 0; i < n; i++) {
            e_lp = fmax(e_lp, fabs(logp[i] - w_logp[i]) / fmax(1, fabs(w_logp[i])));
            e_ent = fmax(e_ent, fabs(ent[i] - w_ent[i]) / fmax(1, fabs(w_ent[i])));
            e_dlogp = fmax(e_dlogp, fabs(dlogp[i] - w_dlogp[i]) / (fmax(1e-3, fabs(w_dlogp[i]))));
        }
        for (size_t i = 0; i < n * V; i++) e_dlogits = fmax(e_dlogits, fabs(dlogits[i] - w_dlogits[i]));
        ok(e_lp < 2e-5 && e_ent < 2e-5, "torch case %s: logp and entropy (worst %.2g, %.2g)", name, e_lp, e_ent);
        /* logp is a float difference z - lse, so its rounding error grows
         * with the log-sum-exp: about 20 at V = 151,936 and temperature
         * 0.6, where a float step is 1.9e-6. The loss and dlogits inherit
         * it: tolerance 1e-6, or 4 float steps of the largest |lse|. */
        double max_lse = 0;
        for (size_t i = 0; i < n; i++) max_lse = fmax(max_lse, fabs(lse[i]));
        double t_lp = fmax(1e-6, 4 * FLT_EPSILON * max_lse);
        is_num(m.loss, w_loss[0], t_lp * fmax(1, fabs(w_loss[0])), "torch case %s: loss", name);
        is_num(m.pg_loss, w_loss[1], t_lp * fmax(1, fabs(w_loss[1])), "torch case %s: pg_loss", name);
        is_num(m.kl_loss, w_loss[2], t_lp * fmax(1, fabs(w_loss[2])), "torch case %s: kl_loss", name);
        ok(e_dlogp < 1e-4, "torch case %s: dL/dlogp (worst relative %.2g)", name, e_dlogp);
        ok(e_dlogits < t_lp, "torch case %s: dL/dlogits (worst %.2g, tolerance %.2g)", name, e_dlogits, t_lp);
        double got_m[7] = {m.active_tokens, m.kl, m.entropy, m.clip_low, m.clip_high, m.clip_region, m.ratio_mean};
        double e_m = 0;
        for (int i = 0; i < 7; i++) e_m = fmax(e_m, fabs(got_m[i] - w_met[i]) / fmax(1, fabs(w_met[i])));
        ok(e_m < 2e-5, "torch case %s: metrics (worst %.2g)", name, e_m);
        if (c.dual_clip > 0 && c.delta == 0) /* the case must exercise the cap */
            ok(m.clip_dual > 0, "torch case %s: the dual clip acts on %.0f%% of tokens", name, 100 * m.clip_dual);
        cases++;
        free(tok_d), free(mask_d), free(trunc_d), free(logits_d), free(old_d), free(ref_d), free(adv_d);
        free(w_logp), free(w_ent), free(w_dlogp), free(w_dlogits), free(w_loss), free(w_met);
        free(tok), free(mask), free(trunc), free(logits), free(old), free(ref), free(adv);
        free(logp), free(lse), free(ent), free(dlogp), free(dlogits);
    }
    ok(cases >= 12, "fixture %s: %d cases compared", path, cases);
    free(r.buf);
    return 0;
}

int main(int argc, char **argv)
{
    plan_no_plan();
    if (argc == 3 && !strcmp(argv[1], "--fixture")) {
        run_fixture(argv[2]);
        return done_testing();
    }
    test_logprobs_hand();
    test_logprobs_chunks();
    test_loss_hand();
    test_finite_differences();
    test_edges();
    test_advantages_more();
    const char *srcdir = getenv("srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/fixtures/grpo/cases.txt", srcdir ? srcdir : ".");
    run_fixture(path);
    return done_testing();
}
