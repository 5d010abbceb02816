/*
 * test_gpu_grpo_math.cc -- the arithmetic of the GRPO GPU kernels, run on
 * the CPU: gpu/grpo_math.cuh's functions (the very ones the kernels call)
 * driven in the kernels' order by a host replay of each kernel, held to the
 * CPU reference (host/logprob.c, host/grpo_loss.c) and to a naive double
 * log-softmax. No GPU and no CUDA are needed: it runs in every build
 * (compiled by the C++ compiler under automake, by nvcc as host code in
 * gpu/Makefile.standalone), so the formulas are checked where no device is.
 *
 * What the replay reproduces exactly: each thread's share of a row (tid,
 * tid + 512, ..., four at a time), the butterfly merge within a warp and
 * across warps (offsets 16..1, lane i with lane i ^ off), row_finish, the
 * per-token and per-sequence loss terms, the weights, and the gradient of
 * each entry. What it cannot: the shuffles, barriers, atomics and indexing
 * of the kernels, the device's expf/logf (within 2 ulp of the host's), and
 * nvcc's FMA contraction; tests/test_gpu_grpo.c checks those on a GPU.
 *
 * Tolerances, and why (measured worst cases are printed as diagnostics):
 *  - logp, lse, entropy against the naive double reference and against
 *    host/logprob.c: 2e-5 * max(1, |x|), test_grpo's bound for the CPU
 *    reference (float sums over V entries; here float per thread over
 *    V / 512 entries, then a 512-way float merge);
 *  - a row's dlogits against rlvr_logprobs_backward at the same dL/dlogp:
 *    4 ulp(max(1, |lse|)) * |c| + 1e-7 * |c|, c = dL/dlogp / T: both sides form p = exp(z - lse) with
 *    lse rounded to float, and the two lse may differ by a couple of float
 *    steps (different summation orders);
 *  - dL/dlogp against rlvr_grpo_loss fed with the CPU's own log-probs:
 *    1e-4 * s, s = the largest |g| of the token's sequence. The two sides'
 *    log-probabilities differ by the CPU reference's own float error (up to
 *    2e-5 * |lse|, test_grpo's bound; ~1e-5 seen), and g = w (dpg/dr r +
 *    beta dKL/dlogp) moves with them in proportion to w |A| r and
 *    w beta |dKL| -- the sequence's scale, not the token's g, which can be
 *    small where the two parts cancel. Inputs keep every log-ratio at
 *    least 1e-3 from a kink (clip edges, delta, dual clip, the clamp), so
 *    both sides take the same branch. Worst seen: 1.8e-5;
 *  - dlogits: the same bound times 1 / T (p <= 1), plus 4 float steps of
 *    lse as above;
 *  - loss, pg_loss, kl_loss, kl, ratio_mean, ratio_max: 5e-5 * max(1, |x|):
 *    the aggregation weights sum to at most 1 and each token's derivative
 *    in logp is O(1) here (|A| r + |1 - e^d|), so the logp differences
 *    above move them by ~1e-5 at most; absolute, because pg_loss sums
 *    terms of both signs and kl ~ d^2 / 2 is small (worst seen: 1e-6);
 *    the clip fractions and active_tokens exactly (same branches); the
 *    entropy metric 2e-5 * max(1, |x|).
 */
#include "grpo_math.cuh"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "gpu_grpo_cases.h"

using namespace rlvr_grpo;

static const uint32_t kThreads = 512; /* kRowThreads of grpo_kernels.cuh */

/* ---- the kernels, replayed on the CPU -------------------------------------------------- */

static void butterfly(LseAcc *lanes, int n)
{
    for (int off = 16; off > 0; off >>= 1) {
        LseAcc next[32];
        for (int i = 0; i < n; i++) next[i] = acc_merge(lanes[i], lanes[i ^ off]);
        for (int i = 0; i < n; i++) lanes[i] = next[i];
    }
}

/* block_row_stats of grpo_kernels.cuh. */
static LseAcc emu_row_stats(const float *x, uint32_t V, float inv_t, bool want_w, int *bad)
{
    std::vector<LseAcc> t(kThreads);
    *bad = 0;
    for (uint32_t tid = 0; tid < kThreads; tid++) t[tid] = row_partial(x, V, tid, kThreads, inv_t, want_w, bad);
    LseAcc part[32];
    for (uint32_t w = 0; w < kThreads / 32; w++) {
        butterfly(&t[w * 32], 32);
        part[w] = t[w * 32];
    }
    for (uint32_t l = kThreads / 32; l < 32; l++) part[l] = acc_empty();
    butterfly(part, 32);
    return part[0];
}

/* k_logprobs on one row: status (ROW_*) and outputs. */
static RowLogp emu_logprob_row(const float *x, uint32_t V, int32_t id, float inv_t, bool want_ent)
{
    int bad;
    LseAcc a = emu_row_stats(x, V, inv_t, want_ent, &bad);
    return row_finish(a, bad, x[id], inv_t);
}

/* ---- log-probabilities and their gradient --------------------------------------------------- */

static void test_logprobs(void)
{
    const uint32_t vocabs[] = {1, 2, 7, 31, 511, 512, 513, 2047, 2048, 2049, 4099, 12411, 151936};
    const float temps[] = {1.0f, 0.7f, 1.6f};
    char err[256];
    for (size_t vi = 0; vi < sizeof vocabs / sizeof vocabs[0]; vi++) {
        const uint32_t V = vocabs[vi];
        for (int f = NORMAL3; f <= PEAKED; f++) {
            if (V < 4 && f == NINF_CHUNK) continue;
            const float T = temps[(vi + (size_t)f) % 3], inv_t = 1.0f / T;
            std::vector<float> x(V);
            make_row(x.data(), V, (enum fill)f);
            int32_t tok = (int32_t)(uniform() * V);
            if (f == NINF_CHUNK) tok = (int32_t)(V - 1);
            RowLogp g = emu_logprob_row(x.data(), V, tok, inv_t, true);
            float lp, lse, ent;
            int rc = rlvr_logprobs(x.data(), &tok, NULL, 1, V, T, &lp, &lse, &ent, err, sizeof err);
            double wl, wlse, we;
            naive_row(x.data(), V, inv_t, tok, &wl, &wlse, &we);
            double tl = 2e-5 * fmax(1, fabs(wl)), tlse = 2e-5 * fmax(1, fabs(wlse)), te = 2e-5 * fmax(1, fabs(we));
            /* z ~ 1e4: the logits themselves are float steps of 1e-3 apart, which
             * bounds any float implementation (the CPU's entropy is off by 4e-4). */
            if (f == OFFSET_1E4) tl = tlse = te = 4 * ulp_of(wlse) + 1e-5;
            int good = g.status == ROW_OK && rc == 0 && fabs(g.logp - wl) <= tl && fabs(g.lse - wlse) <= tlse &&
                       fabs(g.entropy - we) <= te && fabs(g.logp - lp) <= tl && fabs(g.lse - lse) <= tlse &&
                       fabs(g.entropy - ent) <= te;
            if (!ok(good, "row V %u, %s, T %g: logp, lse, entropy = naive double and host/logprob.c", V,
                    fill_name[f], (double)T))
                diag("  status %d rc %d: logp %.9g cpu %.9g naive %.9g; lse %.9g cpu %.9g naive %.9g; "
                     "entropy %.9g cpu %.9g naive %.9g",
                     g.status, rc, g.logp, lp, wl, g.lse, lse, wlse, g.entropy, ent, we);

            /* The gradient, entry by entry, against rlvr_logprobs_backward. */
            const float dl = (float)(normal() * 0.3);
            std::vector<float> d(V);
            rc = rlvr_logprobs_backward(x.data(), &tok, NULL, &lse, &dl, 1, V, T, d.data(), err, sizeof err);
            const float c = dl * inv_t;
            double worst = 0;
            for (uint32_t v = 0; v < V; v++) {
                double e = fabs((double)grad_elem(x[v], inv_t, g.lse, c, v == (uint32_t)tok) - d[v]);
                worst = fmax(worst, e);
            }
            double tg = fabs(c) * (4 * ulp_of(wlse) + 1e-7) + 1e-30;
            if (!ok(rc == 0 && worst <= tg, "row V %u, %s: gradient = host/logprob.c within %.3g", V, fill_name[f],
                    tg))
                diag("  worst %.3g", worst);
        }
    }

    /* Refusals, as the CPU's: NaN anywhere (also among -Inf), +Inf, all -Inf,
     * a -Inf taken logit; the kernels map them to the same messages. */
    const uint32_t V = 3000;
    std::vector<float> x(V);
    int32_t tok = 5;
    struct {
        const char *name;
        uint32_t at;
        float val;
        int want;
    } bad[] = {{"NaN", 2999, NAN, ROW_BAD_LOGITS},
               {"+Inf", 17, INFINITY, ROW_BAD_LOGITS},
               {"taken -Inf", 5, -INFINITY, ROW_TAKEN_NINF}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_row(x.data(), V, NORMAL3);
        x[bad[i].at] = bad[i].val;
        RowLogp g = emu_logprob_row(x.data(), V, tok, 1.0f, false);
        ok(g.status == bad[i].want, "refused: %s (status %d)", bad[i].name, g.status);
    }
    for (uint32_t v = 0; v < V; v++) x[v] = -INFINITY;
    ok(emu_logprob_row(x.data(), V, tok, 1.0f, true).status == ROW_BAD_LOGITS, "refused: all -Inf");
    x[1234] = NAN;
    ok(emu_logprob_row(x.data(), V, tok, 1.0f, false).status == ROW_BAD_LOGITS, "refused: NaN among -Inf");
    make_row(x.data(), V, NORMAL3);
    x[77] = 3e38f;
    ok(emu_logprob_row(x.data(), V, tok, 1.0f / 0.01f, false).status == ROW_BAD_LOGITS,
       "refused: a finite logit that overflows once divided by the temperature");

    /* The merge's identity and -Inf handling. */
    LseAcc a = {1.5f, 2.25f, -0.5f};
    LseAcc m1 = acc_merge(a, acc_empty()), m2 = acc_merge(acc_empty(), a);
    ok(!memcmp(&m1, &a, sizeof a) && !memcmp(&m2, &a, sizeof a), "merging with an empty accumulator is the identity");
    float zs[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    LseAcc e = acc_empty();
    acc_push(e, zs, 4, true);
    ok(e.m == -INFINITY && e.s == 0 && e.w == 0, "an all -Inf group adds nothing");
    float z2[4] = {0.0f, -INFINITY, 0.0f, -INFINITY};
    acc_push(e, z2, 4, true);
    ok(e.m == 0 && e.s == 2 && e.w == 0, "-Inf entries add 0 to s and w (no NaN from 0 * -Inf)");
}

/* ---- the policy loss ------------------------------------------------------------------------- */

/* The GPU pipeline of grpo_loss.cu replayed: k_prep, k_weights, the row
 * kernels (fused, or stats / k_seq / grad), k_reduce. */
static void emu_loss(const rlvr_grpo_config &c, const Case &k, bool use_old, bool use_ref, bool use_mask,
                     bool use_trunc, double dapo_tokens, std::vector<float> &dlogits, std::vector<float> &dlogp,
                     std::vector<float> &ent, rlvr_gpu_grpo_metrics &m)
{
    const size_t B = k.B, T = k.T, R = B * T;
    const uint32_t V = k.V;
    const float inv_t = 1.0f / k.temperature;
    const uint8_t *mask = use_mask ? k.mask.data() : NULL, *tr = use_trunc ? k.trunc.data() : NULL;
    std::vector<int32_t> nb(B, 0);
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++) nb[b] += position_active(mask, tr, c.mask_truncated, b, b * T + t);
    double N = 0;
    for (size_t b = 0; b < B; b++) N += nb[b];
    double dapo = dapo_tokens > 0 ? dapo_tokens : N;
    std::vector<double> w(B);
    for (size_t b = 0; b < B; b++) w[b] = nb[b] ? seq_weight(c, (double)B, (double)nb[b], N, dapo) : 0.0;
    std::vector<RowLogp> rl(R);
    for (size_t r = 0; r < R; r++)
        if (position_active(mask, tr, c.mask_truncated, r / T, r))
            rl[r] = emu_logprob_row(&k.logits[r * V], V, k.tok[r], inv_t, true);
    std::vector<SeqTerms> seq(B);
    if (c.importance_level == RLVR_IS_SEQUENCE)
        for (size_t b = 0; b < B; b++) {
            if (!nb[b]) continue;
            double s = 0;
            for (size_t t = 0; t < T; t++) {
                size_t r = b * T + t;
                if (use_old && position_active(mask, tr, c.mask_truncated, b, r))
                    s += (double)rl[r].logp - (double)k.old[r];
            }
            seq[b] = seq_terms(c, s, (double)nb[b], (double)k.adv[b], w[b]);
        }
    Sums sums = sums_zero();
    dlogits.assign(R * V, 0.0f);
    dlogp.assign(R, 0.0f);
    ent.assign(R, 0.0f);
    for (size_t r = 0; r < R; r++) {
        size_t b = r / T;
        if (!position_active(mask, tr, c.mask_truncated, b, r)) continue;
        double g;
        TokRec rec = token_terms(c, rl[r].logp, use_old ? &k.old[r] : NULL, use_old ? k.old[r] : 0.0f,
                                 use_ref ? &k.ref[r] : NULL, use_ref ? k.ref[r] : 0.0f, rl[r].entropy,
                                 (double)k.adv[b], w[b], c.importance_level == RLVR_IS_SEQUENCE ? &seq[b] : NULL, &g);
        sums_add(sums, rec);
        float gf = (float)g;
        dlogp[r] = gf;
        ent[r] = rl[r].entropy;
        if (gf != 0.0f)
            for (uint32_t v = 0; v < V; v++)
                dlogits[r * V + v] =
                    grad_elem(k.logits[r * V + v], inv_t, rl[r].lse, gf * inv_t, v == (uint32_t)k.tok[r]);
    }
    m = metrics_finish(c, sums, N);
}

static void test_loss(void)
{
    LossStats st;
    loss_matrix([&](const LossCase &lc) {
        std::vector<float> d_emu, g_emu, ent_emu;
        rlvr_gpu_grpo_metrics me;
        emu_loss(lc.c, lc.k, lc.old, lc.ref, lc.mask, lc.trunc, lc.dapo, d_emu, g_emu, ent_emu, me);
        compare_loss(lc, 0, "", g_emu.data(), d_emu.data(), NULL, me, st);
    });
    st.report();
}

int main(void)
{
    plan_no_plan();
    test_logprobs();
    test_loss();
    return done_testing();
}
