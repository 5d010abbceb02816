/*
 * test_sampler.c -- the sampling primitives (host/sampler.c): the random
 * streams, the configuration's checks, greedy and filtered sampling against
 * a brute-force reference, the empirical distribution of many draws,
 * reproducibility, and the stop-string matcher.
 *
 * The reference (ref_probs below) does what Hugging Face's warpers do, the
 * slow way: sort the whole vocabulary by logit (ties: lower id first), keep
 * the logits >= the k-th, softmax in double, sort ascending and drop the
 * tokens whose cumulative probability is <= 1 - top_p (keeping the best),
 * renormalise, drop p < min_p * max p, renormalise. The library's
 * probabilities (rlvr_sample_probs) must keep the same tokens and agree
 * within 2e-5 relative (its exp() is float, within a few ulp; its sums are
 * float within 2048-entry chunks).
 *
 * Chi-square: N seeded draws are binned by token; categories whose
 * expected count N p is below 5 are pooled. The statistic is held below
 * df (1 - 2/(9 df) + 6 sqrt(2/(9 df)))^3, the Wilson-Hilferty approximation
 * of the chi-square quantile six standard deviations up (a tail of about
 * 1e-9 for a correct sampler). The draws are seeded, so a run is the same
 * every time: the bound decides once, and a pass cannot turn into a flake.
 *
 * Runtime: about 3 s on one core, most of it in the draws at V = 151,936.
 */
#include "sampler.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#define QWEN_V 151936

static char err[512];

/* ---- data ------------------------------------------------------------------------ */

static uint64_t lcg = 0x2545F4914F6CDD1Dull;
static double unif(void) /* [0, 1), the test's own generator */
{
    lcg ^= lcg << 13;
    lcg ^= lcg >> 7;
    lcg ^= lcg << 17;
    return (double)(lcg >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
    double u = unif() + 1e-12, v = unif();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* logits[V]: sigma * N(0, 1), rounded to multiples of `step` when step > 0
 * (ties), with a fraction `masked` set to -Inf. */
static void make_logits(float *x, int V, double sigma, double step, double masked)
{
    for (int i = 0; i < V; i++) {
        double v = sigma * gauss();
        if (step > 0) v = step * floor(v / step + 0.5);
        x[i] = unif() < masked ? -INFINITY : (float)v;
    }
}

/* ---- the brute-force reference ------------------------------------------------------ */

/* How close to a top-p or min-p threshold (relative to the row's mass, or
 * to the largest probability) a token's decision must be to count as
 * ambiguous: a float implementation's sums are good to about 1e-7. */
#define AMBIGUOUS 1e-6

static const float *cmp_x;
static int by_rank(const void *a, const void *b) /* logit descending, id ascending */
{
    int i = *(const int *)a, j = *(const int *)b;
    if (cmp_x[i] != cmp_x[j]) return cmp_x[i] > cmp_x[j] ? -1 : 1;
    return i < j ? -1 : 1;
}

static void ref_probs(const float *x, int V, const struct rlvr_sampling *s, double *p, char *amb)
{
    if (amb) memset(amb, 0, (size_t)V);
    int *order = malloc((size_t)V * sizeof *order);
    char *keep = malloc((size_t)V);
    for (int i = 0; i < V; i++) order[i] = i, keep[i] = x[i] > -INFINITY;
    cmp_x = x;
    qsort(order, (size_t)V, sizeof *order, by_rank);
    memset(p, 0, (size_t)V * sizeof *p);
    if (s->temperature == 0) {
        p[order[0]] = 1;
        free(order), free(keep);
        return;
    }
    float inv_t = 1.0f / (float)s->temperature;
    /* top-k (TopKLogitsWarper): scores < the k-th largest are removed */
    if (s->top_k > 0 && s->top_k < V) {
        float kth = x[order[s->top_k - 1]];
        for (int i = 0; i < V; i++)
            if (x[i] < kth) keep[i] = 0;
    }
    double zmax = (double)(x[order[0]] * inv_t), sum = 0;
    for (int i = 0; i < V; i++)
        if (keep[i]) sum += p[i] = exp((double)(x[i] * inv_t) - zmax);
    for (int i = 0; i < V; i++) p[i] /= sum;
    /* top-p (TopPLogitsWarper): ascending order, drop cumsum <= 1 - top_p,
     * the best token always kept */
    if (s->top_p < 1) {
        double cum = 0;
        for (int r = V - 1; r >= 1; r--) {
            int i = order[r];
            if (!keep[i]) continue;
            cum += p[i];
            if (cum <= 1 - s->top_p) keep[i] = 0;
            if (amb && fabs(cum - (1 - s->top_p)) <= AMBIGUOUS) amb[i] = 1;
        }
        sum = 0;
        for (int i = 0; i < V; i++) sum += keep[i] ? p[i] : 0;
        for (int i = 0; i < V; i++) p[i] = keep[i] ? p[i] / sum : 0;
    }
    /* min-p (MinPLogitsWarper): drop p < min_p * max p */
    if (s->min_p > 0) {
        double pmax = p[order[0]];
        sum = 0;
        for (int i = 0; i < V; i++) {
            if (p[i] < s->min_p * pmax) keep[i] = 0;
            if (amb && p[i] > 0 && fabs(p[i] - s->min_p * pmax) <= AMBIGUOUS * pmax) amb[i] = 1;
            sum += keep[i] ? p[i] : 0;
        }
        for (int i = 0; i < V; i++) p[i] = keep[i] ? p[i] / sum : 0;
    }
    free(order), free(keep);
}

/* The library's probabilities against the reference: the same support
 * (tokens the reference gives less than 1e-30 are taken as 0: the library's
 * float exp underflows there) and the same values within 2e-5 relative,
 * except for the tokens amb[] marks: those whose fate the reference decided
 * within AMBIGUOUS of a threshold, which float sums may decide either way. */
static int same_probs(const double *got, const double *want, const char *amb, int V, int *kept)
{
    int n = 0, bad = 0;
    for (int i = 0; i < V; i++) {
        int g = got[i] > 0, w = want[i] > 1e-30;
        n += g;
        if (amb[i]) continue;
        if (g != w || fabs(got[i] - want[i]) > 2e-5 * want[i] + 1e-30) {
            if (bad++ < 3) diag("  token %d: got %.9g, want %.9g", i, got[i], want[i]);
        }
    }
    *kept = n;
    return bad == 0;
}

/* ---- random numbers --------------------------------------------------------------- */

static void test_rng(void)
{
    /* Known answers from the formula in sampler.h, computed independently
     * in Python (splitmix64's finaliser and xoshiro256**). */
    static const struct {
        uint64_t seed, stream, out[3];
    } kat[] = {
        {0, 0, {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull, 0x1a5f849d4933e6e0ull}},
        {42, 0, {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull, 0xae17533239e499a1ull}},
        {42, 1, {0xfe647e5153400883ull, 0x7fcb8e42f6a75c30ull, 0xb4d1e9a12a159020ull}},
        {12345, 987654321, {0xd491671d7f576effull, 0x0744764697ae1370ull, 0x7a34ad0a73f33484ull}},
    };
    for (size_t k = 0; k < sizeof kat / sizeof kat[0]; k++) {
        struct rlvr_rng r;
        rlvr_rng_init(&r, kat[k].seed, kat[k].stream);
        int same = 1;
        for (int j = 0; j < 3; j++) same &= rlvr_rng_next(&r) == kat[k].out[j];
        ok(same, "rng: seed %llu stream %llu gives the known first three outputs",
           (unsigned long long)kat[k].seed, (unsigned long long)kat[k].stream);
    }

    /* Same seed and stream: the same numbers; neighbouring streams: no
     * shared output among the first 4096 and uncorrelated uniforms. */
    struct rlvr_rng a, b, c;
    rlvr_rng_init(&a, 7, 3), rlvr_rng_init(&b, 7, 3), rlvr_rng_init(&c, 7, 4);
    int same = 1, shared = 0, in_range = 1;
    double sa = 0, sc = 0, sac = 0, saa = 0, scc = 0;
    enum { N = 4096 };
    uint64_t *xa = malloc(N * sizeof *xa);
    for (int i = 0; i < N; i++) {
        xa[i] = rlvr_rng_next(&a);
        same &= xa[i] == rlvr_rng_next(&b);
    }
    rlvr_rng_init(&a, 7, 3);
    for (int i = 0; i < N; i++) {
        uint64_t y = rlvr_rng_next(&c);
        for (int j = 0; j < N; j++) shared += xa[j] == y;
    }
    rlvr_rng_init(&c, 7, 4);
    for (int i = 0; i < 100000; i++) {
        double u = rlvr_rng_uniform(&a) - 0.5, v = rlvr_rng_uniform(&c) - 0.5;
        in_range &= u >= -0.5 && u < 0.5;
        sa += u, sc += v, sac += u * v, saa += u * u, scc += v * v;
    }
    free(xa);
    ok(same, "rng: the same seed and stream give the same 4096 outputs");
    ok(shared == 0, "rng: streams 3 and 4 share none of their first 4096 outputs (%d)", shared);
    ok(in_range, "rng: uniforms lie in [0, 1)");
    double corr = sac / sqrt(saa * scc);
    /* 100,000 pairs: the correlation of independent streams has sd 0.0032 */
    ok(fabs(corr) < 0.02 && fabs(sa / 1e5) < 0.01, "rng: streams 3 and 4 uncorrelated (r = %.4f, mean %.4f)", corr,
       sa / 1e5 + 0.5);
    rlvr_rng_init(&a, 8, 3);
    rlvr_rng_init(&b, 7, 3);
    ok(rlvr_rng_next(&a) != rlvr_rng_next(&b), "rng: seeds 7 and 8 differ on stream 3");
}

/* ---- configuration ---------------------------------------------------------------- */

static int refused(const struct rlvr_sampling *s, const char *field)
{
    int rc = rlvr_sampling_check(s, err, sizeof err);
    if (rc == 0) return 0;
    if (!strstr(err, field)) {
        diag("  message '%s' does not name %s", err, field);
        return 0;
    }
    return 1;
}

static void test_config(void)
{
    struct rlvr_sampling s, d;
    rlvr_sampling_default(&d);
    ok(rlvr_sampling_check(&d, err, sizeof err) == 0 && d.temperature == 1 && d.top_k == 0 && d.top_p == 1 &&
           d.min_p == 0 && d.max_tokens == 256,
       "config: the default passes (T 1, top_k 0, top_p 1, min_p 0, max_tokens 256)");
    s = d, s.temperature = 0;
    ok(rlvr_sampling_check(&s, err, sizeof err) == 0, "config: temperature 0 (greedy) is allowed");
    s = d, s.top_p = 1, s.min_p = 0, s.top_k = 1;
    ok(rlvr_sampling_check(&s, err, sizeof err) == 0, "config: top_k 1 is allowed");
    struct {
        const char *what, *field;
        int which;
        double v;
    } bad[] = {
        {"temperature -1", "temperature", 0, -1},   {"temperature NaN", "temperature", 0, NAN},
        {"temperature Inf", "temperature", 0, INFINITY}, {"top_k -1", "top_k", 1, -1},
        {"top_p 0", "top_p", 2, 0},                  {"top_p 1.5", "top_p", 2, 1.5},
        {"top_p -0.1", "top_p", 2, -0.1},            {"top_p NaN", "top_p", 2, NAN},
        {"min_p -0.1", "min_p", 3, -0.1},            {"min_p 1", "min_p", 3, 1},
        {"min_p NaN", "min_p", 3, NAN},              {"max_tokens 0", "max_tokens", 4, 0},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        s = d;
        switch (bad[k].which) {
        case 0: s.temperature = bad[k].v; break;
        case 1: s.top_k = (int)bad[k].v; break;
        case 2: s.top_p = bad[k].v; break;
        case 3: s.min_p = bad[k].v; break;
        default: s.max_tokens = (int)bad[k].v; break;
        }
        ok(refused(&s, bad[k].field), "config: %s is refused, naming %s", bad[k].what, bad[k].field);
    }
    const int32_t ids[] = {151643, -2};
    s = d, s.stop_token_ids = ids, s.n_stop_token_ids = 2;
    ok(refused(&s, "stop_token_ids[1]"), "config: a negative stop token id is refused");
    s = d, s.n_stop_token_ids = 1;
    ok(refused(&s, "stop_token_ids"), "config: stop_token_ids NULL with a count is refused");
    s = d, s.n_stop_strings = 2;
    ok(refused(&s, "stop_strings"), "config: stop_strings NULL with a count is refused");
    const char *strs[] = {"</answer>", ""};
    s = d, s.stop_strings = strs, s.n_stop_strings = 2;
    ok(refused(&s, "stop_strings[1]"), "config: an empty stop string is refused");
    const size_t lens[] = {9, 0};
    const char *strs2[] = {"</answer>", "x"};
    s = d, s.stop_strings = strs2, s.stop_string_lens = lens, s.n_stop_strings = 2;
    ok(refused(&s, "stop_strings[1]"), "config: a stop string of length 0 is refused");
    ok(rlvr_stop_matcher_create(&s) == NULL, "config: the matcher refuses an empty stop string too");
    ok(refused(NULL, "NULL"), "config: NULL is refused");

    s = d, s.stop_token_ids = ids, s.n_stop_token_ids = 1;
    ok(rlvr_sampling_is_stop_token(&s, 151643) && !rlvr_sampling_is_stop_token(&s, 151644) &&
           !rlvr_sampling_is_stop_token(&d, 0),
       "config: is_stop_token finds the listed id only");
}

/* ---- greedy ------------------------------------------------------------------------ */

static void test_greedy(struct rlvr_sample_scratch *sc)
{
    struct rlvr_sampling s;
    rlvr_sampling_default(&s);
    s.temperature = 0;
    float x[6] = {-INFINITY, 1.5f, 3.0f, -2.0f, 3.0f, 3.0f};
    struct rlvr_rng r, r0;
    rlvr_rng_init(&r, 1, 1);
    r0 = r;
    int32_t tok = -1;
    float lp = 0;
    int rc = rlvr_sample_token(x, 6, &s, &r, sc, &tok, &lp);
    ok(rc == 0 && tok == 2, "greedy: argmax, the lowest id among tied maxima (got %d)", (int)tok);
    double lse = log(exp(1.5) + 3 * exp(3.0) + exp(-2.0));
    is_num(lp, 3.0 - lse, 1e-6, "greedy: logprob under softmax(logits) (temperature 1)");
    ok(memcmp(&r, &r0, sizeof r) == 0, "greedy: draws no random number");
    s.top_k = 1, s.top_p = 0.1, s.min_p = 0.5;
    ok(rlvr_sample_token(x, 6, &s, &r, sc, &tok, NULL) == 0 && tok == 2, "greedy: the filters do not change it");

    float *big = malloc(QWEN_V * sizeof *big);
    make_logits(big, QWEN_V, 3, 0, 0.1);
    int best = 0;
    for (int i = 1; i < QWEN_V; i++)
        if (big[i] > big[best]) best = i;
    big[QWEN_V - 1] = big[best]; /* a tie at the far end */
    rlvr_sampling_default(&s);
    s.temperature = 0;
    rc = rlvr_sample_token(big, QWEN_V, &s, &r, sc, &tok, &lp);
    ok(rc == 0 && tok == best,
       "greedy: V = 151,936 with -Inf entries and a tie at the end: argmax %d (got %d)", best, (int)tok);
    double m = big[best], sum = 0;
    for (int i = 0; i < QWEN_V; i++) sum += exp((double)big[i] - m);
    is_num(lp, -log(sum), 2e-5, "greedy: V = 151,936 logprob against a double reference");
    free(big);
}

/* ---- the filters against the reference -------------------------------------------- */

struct filt {
    double t;
    int k;
    double p, minp;
};

static void check_filters(struct rlvr_sample_scratch *sc, const float *x, int V, const char *data, struct filt f)
{
    struct rlvr_sampling s;
    rlvr_sampling_default(&s);
    s.temperature = f.t, s.top_k = f.k, s.top_p = f.p, s.min_p = f.minp;
    double *got = malloc((size_t)V * sizeof *got), *want = malloc((size_t)V * sizeof *want);
    char *amb = malloc((size_t)V);
    ref_probs(x, V, &s, want, amb);
    int rc = rlvr_sample_probs(x, V, &s, sc, got), kept = 0;
    if (rc) diag("  %s", rlvr_sample_scratch_error(sc));
    int same = rc == 0 && same_probs(got, want, amb, V, &kept), n_amb = 0;
    for (int i = 0; i < V; i++) n_amb += amb[i];
    free(amb);
    ok(same, "filters: V=%d %s T=%g top_k=%d top_p=%g min_p=%g (%d kept, %d at the threshold)", V, data, f.t,
       f.k, f.p, f.minp, kept, n_amb);
    free(got), free(want);
}

static void test_filters_hand(struct rlvr_sample_scratch *sc)
{
    struct rlvr_sampling s;
    rlvr_sampling_default(&s);
    double p[5];
    /* top-k 2 with the 2nd logit tied three ways: all three kept */
    const float a[5] = {1, 2, 2, 2, 0};
    s.top_k = 2;
    rlvr_sample_probs(a, 5, &s, sc, p);
    ok(p[0] == 0 && p[4] == 0 && fabs(p[1] - 1.0 / 3) < 1e-7 && p[1] == p[2] && p[2] == p[3],
       "top-k: every token tied with the k-th is kept (Hugging Face's rule)");
    /* top-p 0.5 on four equal logits: ranks by id; id 2 has 0.5 before it */
    const float b[4] = {0, 0, 0, 0};
    rlvr_sampling_default(&s);
    s.top_p = 0.5;
    rlvr_sample_probs(b, 4, &s, sc, p);
    ok(p[0] == 0.5 && p[1] == 0.5 && p[2] == 0 && p[3] == 0, "top-p: equal logits are kept by increasing id");
    s.top_p = 0.50001;
    rlvr_sample_probs(b, 4, &s, sc, p);
    ok(fabs(p[2] - 1.0 / 3) < 1e-9 && p[3] == 0, "top-p: just past 0.5, the third token is kept");
    /* min-p 0.05 against p proportional to 1, 0.5, 0.1, 0.04 */
    const float c[4] = {0, (float)log(0.5), (float)log(0.1), (float)log(0.04)};
    rlvr_sampling_default(&s);
    s.min_p = 0.05;
    rlvr_sample_probs(c, 4, &s, sc, p);
    ok(p[2] > 0 && p[3] == 0 && fabs(p[0] - 1 / 1.6) < 1e-6, "min-p: 0.04 < 0.05 * max is dropped, 0.1 kept");
    /* top-p's mass is that of top-k's survivors: k 2 leaves 2/3, 1/3, and
     * top_p 0.6 keeps the first only; on the full distribution (0.59 for
     * the first) it would keep two */
    const float d[3] = {(float)log(2.0), 0, -1};
    rlvr_sampling_default(&s);
    s.top_k = 2, s.top_p = 0.6;
    rlvr_sample_probs(d, 3, &s, sc, p);
    ok(p[0] == 1 && p[1] == 0, "top-k then top-p: top-p measures the mass top-k left");
    /* the masked token is never kept, even by top-k larger than the rest */
    const float e[4] = {-INFINITY, 1, -INFINITY, 1};
    rlvr_sampling_default(&s);
    s.top_k = 3;
    rlvr_sample_probs(e, 4, &s, sc, p);
    ok(p[0] == 0 && p[2] == 0 && p[1] == 0.5 && p[3] == 0.5, "top-k: -Inf entries stay at probability 0");
}

static void test_filters_random(struct rlvr_sample_scratch *sc)
{
    static const struct filt fs[] = {
        {1, 0, 1, 0},       {0.7, 0, 1, 0},    {1.3, 0, 1, 0},       {1, 1, 1, 0},        {1, 5, 1, 0},
        {1, 50, 1, 0},      {0.8, 1000, 1, 0}, {1, 0, 0.5, 0},       {1, 0, 0.9, 0},      {0.6, 0, 0.95, 0},
        {1, 0, 1, 0.05},    {1.2, 0, 1, 0.2},  {1, 50, 0.9, 0},      {1, 0, 0.95, 0.05},  {0.9, 20, 0.8, 0.1},
        {1, 200, 0.99, 0.01},
    };
    const int nf = (int)(sizeof fs / sizeof fs[0]);
    float *x = malloc(QWEN_V * sizeof *x);
    static const struct {
        int V;
        double sigma, step, masked;
        const char *name;
    } ds[] = {
        {10, 1, 0, 0, "N(0,1)"},
        {1000, 2, 0, 0.1, "2N(0,1) 10% -Inf"},
        {1000, 2, 0.5, 0, "ties (steps of 0.5)"},
        {QWEN_V, 3, 0, 0.05, "3N(0,1) 5% -Inf"},
        {QWEN_V, 2, 0.25, 0.01, "ties (steps of 0.25) 1% -Inf"},
    };
    for (size_t d = 0; d < sizeof ds / sizeof ds[0]; d++) {
        make_logits(x, ds[d].V, ds[d].sigma, ds[d].step, ds[d].masked);
        /* every configuration on the small rows, a spread of them at 152k */
        for (int f = 0; f < nf; f++)
            if (ds[d].V < 2000 || f % 2 == 0 || f == nf - 1) check_filters(sc, x, ds[d].V, ds[d].name, fs[f]);
    }
    /* a peaked row, as a trained model's: a few tokens hold most mass */
    make_logits(x, QWEN_V, 2, 0, 0);
    for (int i = 0; i < 5; i++) x[(i * 7919) % QWEN_V] = 14.0f - (float)i;
    check_filters(sc, x, QWEN_V, "peaked", (struct filt){1, 0, 0.9, 0});
    check_filters(sc, x, QWEN_V, "peaked", (struct filt){0.7, 40, 0.95, 0.02});
    /* a confident row (8 tokens hold about 99% of the mass): top-p's
     * shortcut through the tokens near the maximum, and past it */
    make_logits(x, QWEN_V, 2, 0, 0);
    for (int i = 0; i < 8; i++) x[(i * 15401 + 3) % QWEN_V] = (float)(16 + gauss());
    check_filters(sc, x, QWEN_V, "confident", (struct filt){1, 0, 0.95, 0});
    check_filters(sc, x, QWEN_V, "confident", (struct filt){1, 0, 0.5, 0});
    check_filters(sc, x, QWEN_V, "confident", (struct filt){1, 0, 0.9999, 0});
    check_filters(sc, x, QWEN_V, "confident", (struct filt){2.5, 0, 0.9, 0});
    /* all logits equal: the whole vocabulary in one top-p bucket */
    for (int i = 0; i < QWEN_V; i++) x[i] = 1.0f;
    check_filters(sc, x, QWEN_V, "all equal", (struct filt){1, 0, 0.3, 0});
    check_filters(sc, x, QWEN_V, "all equal", (struct filt){1, 100, 1, 0});
    free(x);
}

/* ---- the distribution of the draws --------------------------------------------------- */

/* Draws n tokens from x[V] under f with stream (seed 11, 0), bins them, and
 * compares with the reference probabilities; also checks that no draw
 * lands on a token of probability 0 and that the logprob is the
 * temperature-only one. */
static void chi_square(struct rlvr_sample_scratch *sc, const float *x, int V, const char *data, struct filt f, int n)
{
    struct rlvr_sampling s;
    rlvr_sampling_default(&s);
    s.temperature = f.t, s.top_k = f.k, s.top_p = f.p, s.min_p = f.minp;
    double *want = malloc((size_t)V * sizeof *want), *lpt = malloc((size_t)V * sizeof *lpt);
    long *count = calloc((size_t)V, sizeof *count);
    ref_probs(x, V, &s, want, NULL);
    float inv_t = 1.0f / (float)f.t;
    double zmax = -INFINITY, sum = 0;
    for (int i = 0; i < V; i++) zmax = fmax(zmax, (double)(x[i] * inv_t));
    for (int i = 0; i < V; i++) sum += exp((double)(x[i] * inv_t) - zmax);
    for (int i = 0; i < V; i++) lpt[i] = (double)(x[i] * inv_t) - zmax - log(sum);
    struct rlvr_rng r;
    rlvr_rng_init(&r, 11, 0);
    int zero_hit = 0, rc = 0;
    double lp_err = 0;
    for (int k = 0; k < n; k++) {
        int32_t tok;
        float lp;
        rc |= rlvr_sample_token(x, V, &s, &r, sc, &tok, &lp);
        if (rc) break;
        count[tok]++;
        zero_hit += !(want[tok] > 0);
        lp_err = fmax(lp_err, fabs(lp - lpt[tok]) / fmax(1, fabs(lpt[tok])));
    }
    /* pool the categories with N p < 5 into one */
    double stat = 0, pool_e = 0;
    long pool_o = 0;
    int cats = 0;
    for (int i = 0; i < V; i++) {
        double e = n * want[i];
        if (e < 5) {
            pool_e += e, pool_o += count[i];
            continue;
        }
        stat += (count[i] - e) * (count[i] - e) / e, cats++;
    }
    if (pool_e >= 5) stat += (pool_o - pool_e) * (pool_o - pool_e) / pool_e, cats++;
    else if (pool_o > 0 && cats > 0) stat += (pool_o - pool_e) * (pool_o - pool_e) / 5.0; /* pooled mass tiny */
    int df = cats > 1 ? cats - 1 : 1;
    double h = 2.0 / (9.0 * df), bound = df * pow(1 - h + 6 * sqrt(h), 3);
    ok(rc == 0 && zero_hit == 0 && stat < bound,
       "draws: %s V=%d T=%g top_k=%d top_p=%g min_p=%g: %d draws, chi2 %.1f < %.1f (df %d), none outside the support",
       data, V, f.t, f.k, f.p, f.minp, n, stat, bound, df);
    ok(lp_err < 2e-5, "draws: %s logprob is the temperature-only log-softmax (max rel. error %.2g)", data, lp_err);
    free(want), free(lpt), free(count);
}

static void test_draws(struct rlvr_sample_scratch *sc)
{
    float *x = malloc(QWEN_V * sizeof *x);
    make_logits(x, 12, 1.5, 0, 0);
    x[3] = -INFINITY;
    chi_square(sc, x, 12, "12 tokens", (struct filt){1, 0, 1, 0}, 200000);
    chi_square(sc, x, 12, "12 tokens", (struct filt){0.5, 0, 1, 0}, 100000);
    chi_square(sc, x, 12, "12 tokens", (struct filt){1.5, 6, 0.9, 0}, 100000);
    chi_square(sc, x, 12, "12 tokens", (struct filt){1, 0, 1, 0.15}, 100000);
    chi_square(sc, x, 12, "12 tokens", (struct filt){1, 0, 0.8, 0}, 100000);
    chi_square(sc, x, 12, "12 tokens", (struct filt){0.8, 0, 0.9, 0.05}, 100000);
    make_logits(x, 300, 2, 0.5, 0.1); /* ties at the filters' edges */
    chi_square(sc, x, 300, "300 tokens, ties", (struct filt){1, 40, 0.95, 0}, 100000);
    chi_square(sc, x, 300, "300 tokens, ties", (struct filt){1.2, 0, 0.9, 0}, 100000);
    /* the vocabulary of Qwen2, mass spread over every chunk: 96 live tokens
     * far apart, the rest -Inf, so the chunk index of the draw is used */
    for (int i = 0; i < QWEN_V; i++) x[i] = -INFINITY;
    for (int j = 0; j < 96; j++) x[(j * 1583 + 17) % QWEN_V] = (float)(0.5 * gauss());
    chi_square(sc, x, QWEN_V, "151936, 96 live", (struct filt){1, 0, 1, 0}, 5000);
    make_logits(x, QWEN_V, 2, 0, 0);
    for (int i = 0; i < 20; i++) x[(i * 7919) % QWEN_V] = 12.0f - 0.2f * (float)i;
    chi_square(sc, x, QWEN_V, "151936 peaked", (struct filt){1, 10, 1, 0}, 2000);
    chi_square(sc, x, QWEN_V, "151936 peaked", (struct filt){1, 0, 0.9, 0}, 2000);
    make_logits(x, QWEN_V, 2, 0, 0);
    for (int i = 0; i < 8; i++) x[(i * 15401 + 3) % QWEN_V] = (float)(15 + 0.5 * i);
    chi_square(sc, x, QWEN_V, "151936 confident", (struct filt){1, 0, 0.95, 0}, 3000);

    /* a row where nothing but one token is left: always that token */
    struct rlvr_sampling s;
    rlvr_sampling_default(&s);
    const float one[3] = {-INFINITY, 0.5f, -INFINITY};
    struct rlvr_rng r;
    rlvr_rng_init(&r, 5, 5);
    int all1 = 1;
    for (int k = 0; k < 100; k++) {
        int32_t tok;
        all1 &= rlvr_sample_token(one, 3, &s, &r, sc, &tok, NULL) == 0 && tok == 1;
    }
    ok(all1, "draws: a row with one finite logit always gives it");
    free(x);
}

/* ---- reproducibility ----------------------------------------------------------------- */

/* The logits sequence `seq` sees at step `t`: a function of (seq, t) only,
 * standing in for a model's forward pass. */
static void step_logits(float *x, int V, int seq, int t)
{
    uint64_t save = lcg;
    lcg = 0x9E3779B97F4A7C15ull * (uint64_t)(seq * 1000 + t + 1);
    make_logits(x, V, 2, 0, 0);
    lcg = save;
}

enum { NSEQ = 8, NSTEP = 24, RV = 500 };

/* Generates NSEQ sequences of NSTEP tokens, stepping them in `order`
 * (0: one sequence after the other, 1: round robin, 2: round robin from
 * the last), each with its own stream (seed, seq). */
static void generate(struct rlvr_sample_scratch *sc, const struct rlvr_sampling *s, int order,
                     int32_t out[NSEQ][NSTEP])
{
    struct rlvr_rng r[NSEQ];
    for (int q = 0; q < NSEQ; q++) rlvr_rng_init(&r[q], s->seed, (uint64_t)q);
    float x[RV];
    for (int a = 0; a < NSEQ * NSTEP; a++) {
        int q, t;
        if (order == 0) q = a / NSTEP, t = a % NSTEP;
        else q = order == 1 ? a % NSEQ : NSEQ - 1 - a % NSEQ, t = a / NSEQ;
        step_logits(x, RV, q, t);
        rlvr_sample_token(x, RV, s, &r[q], sc, &out[q][t], NULL);
    }
}

static void test_reproducible(struct rlvr_sample_scratch *sc)
{
    struct rlvr_sampling s;
    rlvr_sampling_default(&s);
    s.seed = 1234, s.top_k = 50, s.top_p = 0.95, s.temperature = 0.9;
    int32_t a[NSEQ][NSTEP], b[NSEQ][NSTEP], c[NSEQ][NSTEP], d[NSEQ][NSTEP];
    generate(sc, &s, 0, a);
    generate(sc, &s, 0, b);
    ok(memcmp(a, b, sizeof a) == 0, "reproducible: the same seed gives the same tokens");
    generate(sc, &s, 1, b);
    generate(sc, &s, 2, c);
    ok(memcmp(a, b, sizeof a) == 0 && memcmp(a, c, sizeof a) == 0,
       "reproducible: sequence-major, round-robin and reversed stepping give the same tokens");
    /* a second scratch (another thread's) gives the same as well */
    struct rlvr_sample_scratch *sc2 = rlvr_sample_scratch_create(RV);
    generate(sc2, &s, 1, c);
    rlvr_sample_scratch_free(sc2);
    ok(memcmp(a, c, sizeof a) == 0, "reproducible: another scratch gives the same tokens");
    int differ = 0;
    for (int q = 1; q < NSEQ; q++) differ += memcmp(a[0], a[q], sizeof a[0]) != 0;
    ok(differ == NSEQ - 1, "reproducible: different streams give different sequences (%d of %d)", differ, NSEQ - 1);
    s.seed = 1235;
    generate(sc, &s, 0, d);
    ok(memcmp(a, d, sizeof a) != 0, "reproducible: another seed gives other tokens");
}

/* ---- refusals ----------------------------------------------------------------------- */

/* A refused call: rc -1 and a message holding `needle`, read after the
 * call. */
static void refusal(int rc, const struct rlvr_sample_scratch *sc, const char *needle, const char *what)
{
    const char *msg = rlvr_sample_scratch_error(sc);
    ok(rc == -1 && strstr(msg, needle) != NULL, "refused: %s (%s)", what, msg);
}

static void test_refusals(struct rlvr_sample_scratch *sc)
{
    struct rlvr_sampling s;
    rlvr_sampling_default(&s);
    struct rlvr_rng r;
    rlvr_rng_init(&r, 0, 0);
    int32_t tok;
    float lp;
    double p[4];
    float x[4] = {0, 1, NAN, 2};
    refusal(rlvr_sample_token(x, 4, &s, &r, sc, &tok, &lp), sc, "2 is NaN", "a NaN logit, named");
    s.temperature = 0;
    refusal(rlvr_sample_token(x, 4, &s, &r, sc, &tok, NULL), sc, "NaN", "a NaN logit when greedy too");
    s.temperature = 1;
    refusal(rlvr_sample_probs(x, 4, &s, sc, p), sc, "NaN", "a NaN logit by sample_probs");
    x[2] = INFINITY;
    refusal(rlvr_sample_token(x, 4, &s, &r, sc, &tok, &lp), sc, "2 is +Inf", "a +Inf logit, named");
    for (int i = 0; i < 4; i++) x[i] = -INFINITY;
    refusal(rlvr_sample_token(x, 4, &s, &r, sc, &tok, &lp), sc, "-Inf", "every logit -Inf");
    x[0] = 3e38f, x[1] = 0;
    s.temperature = 0.01;
    refusal(rlvr_sample_token(x, 4, &s, &r, sc, &tok, &lp), sc, "overflow", "logits / temperature overflowing");
    x[0] = 1;
    s.temperature = 1;
    s.top_p = 0;
    refusal(rlvr_sample_token(x, 4, &s, &r, sc, &tok, &lp), sc, "top_p", "a bad configuration at the call");
    s.top_p = 1;
    refusal(rlvr_sample_token(x, QWEN_V + 1, &s, &r, sc, &tok, &lp), sc, "vocab",
            "a vocabulary larger than the scratch's");
    refusal(rlvr_sample_token(x, 4, &s, NULL, sc, &tok, &lp), sc, "NULL", "a NULL rng");
    int rc = rlvr_sample_token(x, 4, &s, &r, sc, &tok, &lp);
    ok(rc == 0 && tok <= 1 && rlvr_sample_scratch_error(sc)[0] == 0,
       "a good call after refusals works and clears the message");
    ok(rlvr_sample_token(x, 4, &s, &r, NULL, &tok, &lp) == -1, "refused: a NULL scratch (no message to write)");
    ok(rlvr_sample_scratch_create(0) == NULL, "scratch: vocab 0 is refused");
}

/* ---- stop strings ---------------------------------------------------------------------- */

/* Feeds `pieces` (NULL-terminated) one at a time; returns the cut, or -1
 * when no stop appeared; *at gets the index of the piece that stopped. */
static long feed_all(struct rlvr_stop_matcher *m, const char *const *pieces, int *at)
{
    rlvr_stop_matcher_reset(m);
    for (int i = 0; pieces[i]; i++) {
        size_t cut = 12345;
        if (rlvr_stop_matcher_feed(m, pieces[i], strlen(pieces[i]), &cut)) {
            *at = i;
            return (long)cut;
        }
    }
    *at = -1;
    return -1;
}

static struct rlvr_stop_matcher *matcher(const char *const *stops, size_t n)
{
    struct rlvr_sampling s;
    rlvr_sampling_default(&s);
    s.stop_strings = stops, s.n_stop_strings = n;
    return rlvr_stop_matcher_create(&s);
}

static void test_stop_strings(void)
{
    int at;
    const char *const s1[] = {"</answer>"};
    struct rlvr_stop_matcher *m = matcher(s1, 1);
    const char *const split[] = {"The answer is 4.", "</an", "sw", "er>", "tail", NULL};
    ok(feed_all(m, split, &at) == 16 && at == 3, "stop: split over three tokens: cut at 16, found in the third");
    const char *const whole[] = {"x</answer>y", NULL};
    ok(feed_all(m, whole, &at) == 1 && at == 0, "stop: inside one token, text after it dropped");
    const char *const start[] = {"</answer>", NULL};
    ok(feed_all(m, start, &at) == 0, "stop: at the very start: cut 0");
    const char *const none[] = {"</answ", "er", NULL};
    ok(feed_all(m, none, &at) == -1, "stop: an almost-match does not stop");
    rlvr_stop_matcher_reset(m);
    size_t cut = 99;
    ok(rlvr_stop_matcher_feed(m, "", 0, &cut) == 0 && cut == 99, "stop: empty input, no stop, cut untouched");
    ok(rlvr_stop_matcher_feed(m, "</answer>", 9, &cut) == 1 && cut == 0 &&
           rlvr_stop_matcher_feed(m, "more", 4, &cut) == 1 && cut == 0 &&
           rlvr_stop_matcher_feed(m, "", 0, &cut) == 1 && cut == 0,
       "stop: once stopped, it stays stopped with the same cut");
    rlvr_stop_matcher_free(m);

    const char *const s2[] = {"aab"};
    m = matcher(s2, 1);
    const char *const over[] = {"aaab", NULL};
    ok(feed_all(m, over, &at) == 1, "stop: overlapping prefix ('aab' in 'aaab'): cut 1");
    const char *const over2[] = {"a", "a", "a", "a", "b", NULL};
    ok(feed_all(m, over2, &at) == 2 && at == 4, "stop: overlapping prefix one byte a token: cut 2");
    const char *const over3[] = {"aa", "aab", NULL};
    ok(feed_all(m, over3, &at) == 2, "stop: 'aa' then 'aab': the first match ends first, cut 2");
    rlvr_stop_matcher_free(m);

    const char *const s3[] = {"STOP", "\n\n", "op"};
    m = matcher(s3, 3);
    const char *const multi[] = {"line one\n", "\nline STOP", NULL};
    ok(feed_all(m, multi, &at) == 8, "stop: several strings, the one ending first wins (\\n\\n at 8)");
    const char *const multi2[] = {"ST", "OP", NULL};
    ok(feed_all(m, multi2, &at) == 0, "stop: 'STOP' split in two at the start: cut 0 ('op' is bytes: not 'OP')");
    const char *const multi3[] = {"st", "op", NULL};
    ok(feed_all(m, multi3, &at) == 2, "stop: 'op' split after 'st': cut 2");
    rlvr_stop_matcher_free(m);
    const char *const s4[] = {"b", "ab"};
    m = matcher(s4, 2);
    const char *const same_end[] = {"xa", "b", NULL};
    ok(feed_all(m, same_end, &at) == 1, "stop: two stops ending on the same byte: the longer one, cut 1");
    rlvr_stop_matcher_free(m);

    /* binary stop strings (a NUL inside), a long text, a long stop string */
    struct rlvr_sampling s;
    rlvr_sampling_default(&s);
    const char *bin[] = {"a\0b", "<|im_end|>"};
    const size_t lens[] = {3, 10};
    s.stop_strings = bin, s.stop_string_lens = lens, s.n_stop_strings = 2;
    m = rlvr_stop_matcher_create(&s);
    rlvr_stop_matcher_reset(m);
    int stopped = 0;
    for (int i = 0; i < 5000 && !stopped; i++) stopped = rlvr_stop_matcher_feed(m, "a\0c", 3, &cut);
    ok(!stopped, "stop: 15,000 bytes of near-misses with a NUL do not stop");
    int r1 = rlvr_stop_matcher_feed(m, "xa", 2, &cut), r2 = rlvr_stop_matcher_feed(m, "\0b", 2, &cut);
    ok(r1 == 0 && r2 == 1 && cut == 15001,
       "stop: a stop string holding a NUL, split across tokens, after a long text (cut %zu)", cut);
    rlvr_stop_matcher_reset(m);
    const char *im[] = {"<|im", "_e", "nd", "|", ">\n"};
    stopped = 0;
    for (int i = 0; i < 5 && !stopped; i++) stopped = rlvr_stop_matcher_feed(m, im[i], strlen(im[i]), &cut);
    ok(stopped && cut == 0, "stop: <|im_end|> in five pieces, reset reused the matcher");
    rlvr_stop_matcher_free(m);

    rlvr_sampling_default(&s);
    m = rlvr_stop_matcher_create(&s);
    ok(m && rlvr_stop_matcher_feed(m, "anything", 8, &cut) == 0, "stop: no stop strings never stops");
    rlvr_stop_matcher_free(m);
}

int main(void)
{
    plan_no_plan();
    struct rlvr_sample_scratch *sc = rlvr_sample_scratch_create(QWEN_V);
    if (!sc) {
        printf("Bail out! cannot allocate the scratch\n");
        return 1;
    }
    test_rng();
    test_config();
    test_greedy(sc);
    test_filters_hand(sc);
    test_filters_random(sc);
    test_draws(sc);
    test_reproducible(sc);
    test_refusals(sc);
    test_stop_strings();
    rlvr_sample_scratch_free(sc);
    return done_testing();
}
