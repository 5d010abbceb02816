/*
 * sampler.c -- choosing the next token from a row of logits, the random
 * streams behind the choice, and the stop-string matcher (the contract and
 * the order of the filters are in sampler.h).
 *
 * Cost per token at a vocabulary of V; nothing sorts the vocabulary:
 *   - one pass for the maximum, the NaN check, and the maximum of every
 *     block of 64 logits (so later passes can skip blocks);
 *   - greedy: the first index holding the maximum, found through the block
 *     maxima; the exp pass below only when the log-probability is wanted;
 *   - otherwise one pass writing e[v] = exp(z[v] - max z) into the scratch
 *     with a sum per 2048-entry chunk (the normaliser, and an index);
 *   - no filter: the draw picks the chunk from the chunk sums and walks
 *     that chunk alone (inverse CDF);
 *   - top-k: the k-th largest block maximum is a floor for the k-th
 *     largest logit, so a k-entry heap reads only the blocks (and entries)
 *     that reach it, about k blocks; the survivors are gathered from the
 *     blocks that can hold one;
 *   - min-p: a threshold on e (the maximum has e = 1), blocks skipped the
 *     same way;
 *   - top-p: when the tokens within 8 nats of the maximum sit in few blocks
 *     and hold top_p of the mass (a confident model), top-p works on that
 *     short list. Otherwise a histogram of mass over buckets 1/32 nat wide
 *     below the maximum gives the bucket bp where the running mass reaches
 *     top_p; earlier buckets survive whole, later ones not at all, and only
 *     bp's members are sorted. The draw then works in bucket order: find
 *     the bucket, walk its members. No list of the survivors is built,
 *     which matters when the nucleus is most of the vocabulary.
 *
 * Invariants: the scratch is the only memory a token touches besides the
 * logits; exactly one uniform number is taken per non-greedy token (none for
 * greedy), whatever the filters, so a sequence's stream stays aligned with
 * its token positions; the drawn token always has e > 0, so a masked (-Inf)
 * or filtered token is never returned; every sum the draw walks is walked in
 * the order it was summed. exp() is our own (exp_nonpos), a polynomial
 * without libm calls so the exp pass vectorises; the scratch's message
 * buffer is the only place errors go.
 */
#include "sampler.h"
#include "numeric.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The hot loops are compiled for AVX-512 and AVX2 besides the baseline ISA
 * where gcc and glibc's ifunc allow it (the choice is made at load time).
 * In them, and in the helpers they inline (which must carry the same
 * options to be inlined), contraction into fused multiply-adds is off, so
 * that every clone rounds alike and a draw is the same on any x86-64
 * machine (with gcc); and float operations are taken not to trap, which lets gcc
 * compute exp_nonpos's discarded lanes and so vectorise its selects below
 * AVX-512 (nothing here reads the floating-point exception flags). */
#if defined(__GNUC__) && !defined(__clang__)
#define SMP_FP __attribute__((optimize("fp-contract=off", "no-trapping-math")))
#else
#define SMP_FP
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SMP_HOT __attribute__((target_clones("avx512f", "avx2", "default"))) SMP_FP
#else
#define SMP_HOT SMP_FP
#endif

#define SMP_LANES 16     /* independent partial results in the vector loops */
#define SMP_CHUNK 2048   /* entries per chunk sum (8 KB of floats) */
#define SMP_BLOCK 64     /* entries per block maximum (top-k and min-p skip blocks) */
#define SMP_EXP_MIN (-87.33654f) /* below this exp() would be subnormal: taken as 0 */
#define SMP_PER_NAT 32.0f /* top-p histogram buckets per nat below the maximum */
#define SMP_NBUCKET 2816  /* 32 * 88: covers every z with exp(z - max) > 0 */
#define SMP_TRY_NATS 8.0f /* top-p first tries the tokens this close to the maximum */

/* ---- random numbers ----------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rlvr_rng_init(struct rlvr_rng *rng, uint64_t seed, uint64_t stream)
{
    const uint64_t gamma = 0x9E3779B97F4A7C15ull;
    for (uint64_t j = 0; j < 4; j++) rng->s[j] = mix64(seed + (4 * stream + j + 1) * gamma);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rlvr_rng_next(struct rlvr_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double rlvr_rng_uniform(struct rlvr_rng *rng) { return (double)(rlvr_rng_next(rng) >> 11) * 0x1.0p-53; }

/* ---- configuration ------------------------------------------------------------ */

void rlvr_sampling_default(struct rlvr_sampling *s)
{
    memset(s, 0, sizeof *s);
    s->temperature = 1.0;
    s->top_k = 0;
    s->top_p = 1.0;
    s->min_p = 0.0;
    s->max_tokens = 256;
    s->seed = 0;
}

/* The fields a draw depends on; rlvr_sample_token checks these on every
 * call (a few compares), rlvr_sampling_check checks everything. */
static int check_numbers(const struct rlvr_sampling *s, char *err, size_t err_len)
{
    if (!(s->temperature >= 0.0) || !isfinite(s->temperature))
        return rlvr_num_fail(err, err_len, "sampling: temperature %g must be 0 (greedy) or finite and > 0",
                             s->temperature);
    if (s->top_k < 0)
        return rlvr_num_fail(err, err_len, "sampling: top_k %d must be 0 (off) or >= 1", s->top_k);
    if (!(s->top_p > 0.0 && s->top_p <= 1.0))
        return rlvr_num_fail(err, err_len, "sampling: top_p %g must be in (0, 1] (1 is off)", s->top_p);
    if (!(s->min_p >= 0.0 && s->min_p < 1.0))
        return rlvr_num_fail(err, err_len, "sampling: min_p %g must be in [0, 1) (0 is off)", s->min_p);
    return 0;
}

int rlvr_sampling_check(const struct rlvr_sampling *s, char *err, size_t err_len)
{
    if (err && err_len) err[0] = '\0';
    if (!s) return rlvr_num_fail(err, err_len, "sampling: the configuration is NULL");
    if (check_numbers(s, err, err_len)) return -1;
    if (s->max_tokens < 1)
        return rlvr_num_fail(err, err_len, "sampling: max_tokens %d must be >= 1", s->max_tokens);
    if (s->n_stop_token_ids && !s->stop_token_ids)
        return rlvr_num_fail(err, err_len, "sampling: stop_token_ids is NULL but n_stop_token_ids is %zu",
                             s->n_stop_token_ids);
    for (size_t i = 0; i < s->n_stop_token_ids; i++)
        if (s->stop_token_ids[i] < 0)
            return rlvr_num_fail(err, err_len, "sampling: stop_token_ids[%zu] is %ld, must be >= 0", i,
                                 (long)s->stop_token_ids[i]);
    if (s->n_stop_strings && !s->stop_strings)
        return rlvr_num_fail(err, err_len, "sampling: stop_strings is NULL but n_stop_strings is %zu",
                             s->n_stop_strings);
    for (size_t i = 0; i < s->n_stop_strings; i++) {
        if (!s->stop_strings[i])
            return rlvr_num_fail(err, err_len, "sampling: stop_strings[%zu] is NULL", i);
        size_t len = s->stop_string_lens ? s->stop_string_lens[i] : strlen(s->stop_strings[i]);
        if (len == 0)
            return rlvr_num_fail(err, err_len, "sampling: stop_strings[%zu] is empty (it would stop at once)", i);
    }
    return 0;
}

int rlvr_sampling_is_stop_token(const struct rlvr_sampling *s, int32_t token)
{
    for (size_t i = 0; i < s->n_stop_token_ids; i++)
        if (s->stop_token_ids[i] == token) return 1;
    return 0;
}

/* ---- scratch ------------------------------------------------------------------ */

/* An entry of the top-k heap and of top-p's sorted boundary bucket. */
struct smp_key {
    float x;
    int32_t id;
};

struct rlvr_sample_scratch {
    int vocab;
    float *e;             /* [V] exp(z - max z) of the row being sampled */
    double *csum;         /* [ceil(V / SMP_CHUNK)] sum of e per chunk */
    float *bmax;          /* [ceil(V / SMP_BLOCK)] largest logit per block */
    uint16_t *bucket;     /* [V] top-p bucket per token (written when top-p runs) */
    int32_t *cand;        /* [V] ids that survive top-k and min-p, increasing */
    struct smp_key *keys; /* [V] the top-k heap, then top-p's boundary bucket */
    double *hist;         /* [SMP_NBUCKET] top-p mass per bucket */
    char err[256];
};

static size_t round_up(size_t n) { return (n + 63) & ~(size_t)63; }

struct rlvr_sample_scratch *rlvr_sample_scratch_create(int vocab)
{
    if (vocab < 1) return NULL;
    size_t V = (size_t)vocab, nchunk = (V + SMP_CHUNK - 1) / SMP_CHUNK, nblock = (V + SMP_BLOCK - 1) / SMP_BLOCK;
    size_t o_e = round_up(sizeof(struct rlvr_sample_scratch));
    size_t o_csum = o_e + round_up(V * sizeof(float));
    size_t o_bmax = o_csum + round_up(nchunk * sizeof(double));
    size_t o_bucket = o_bmax + round_up(nblock * sizeof(float));
    size_t o_cand = o_bucket + round_up(V * sizeof(uint16_t));
    size_t o_keys = o_cand + round_up(V * sizeof(int32_t));
    size_t o_hist = o_keys + round_up(V * sizeof(struct smp_key));
    char *base = malloc(o_hist + SMP_NBUCKET * sizeof(double));
    if (!base) return NULL;
    struct rlvr_sample_scratch *sc = (void *)base;
    sc->vocab = vocab;
    sc->e = (void *)(base + o_e);
    sc->csum = (void *)(base + o_csum);
    sc->bmax = (void *)(base + o_bmax);
    sc->bucket = (void *)(base + o_bucket);
    sc->cand = (void *)(base + o_cand);
    sc->keys = (void *)(base + o_keys);
    sc->hist = (void *)(base + o_hist);
    sc->err[0] = '\0';
    return sc;
}

void rlvr_sample_scratch_free(struct rlvr_sample_scratch *scratch) { free(scratch); }

const char *rlvr_sample_scratch_error(const struct rlvr_sample_scratch *scratch)
{
    return scratch ? scratch->err : "sampling: the scratch is NULL";
}

/* ---- the vector loops ----------------------------------------------------------- */

/* exp(d) in float for d <= 0, -Inf included; 0 below SMP_EXP_MIN. Splits
 * d = n ln2 + f with n the nearest integer to d / ln2 (adding and taking
 * away 1.5 * 2^23 rounds a float in that range to an integer) and
 * |f| <= ln2 / 2, evaluates exp(f) with Cephes' degree-6 polynomial for
 * expf, and scales by 2^n written straight into the exponent field. exp(0)
 * is exactly 1. No branch and no libm call, so loops over it vectorise. */
SMP_FP static inline float exp_nonpos(float d)
{
    float x = d < SMP_EXP_MIN ? SMP_EXP_MIN : d;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float f = (x - n * 0.693359375f) - n * -2.12194440e-4f; /* ln 2 split in a short and a long part */
    float p = 1.9875691500e-4f;
    p = p * f + 1.3981999507e-3f;
    p = p * f + 8.3334519073e-3f;
    p = p * f + 4.1665795894e-2f;
    p = p * f + 1.6666665459e-1f;
    p = p * f + 5.0000001201e-1f;
    p = p * f * f + f + 1.0f;
    union {
        uint32_t u;
        float f;
    } pow2 = {.u = (uint32_t)((int32_t)n + 127) << 23};
    return d < SMP_EXP_MIN ? 0.0f : p * pow2.f;
}

/* The top-p bucket of an entry: floor((max z - z) * SMP_PER_NAT), clamped
 * to the table. It never decreases as the logit decreases, so bucket order
 * is rank order up to the ties inside a bucket. Entries with e = 0 (z more
 * than 87.3 below the maximum, or -Inf) land in the last buckets, where
 * they add no mass. */
SMP_FP static inline uint16_t bucket_entry(float x, float inv_t, float mz)
{
    float q = (x * inv_t - mz) * -SMP_PER_NAT;
    q = q < (float)(SMP_NBUCKET - 1) ? q : (float)(SMP_NBUCKET - 1);
    q = q > 0.0f ? q : 0.0f;
    return (uint16_t)(int32_t)q;
}

/* e[v] = exp(x[v] * inv_t - mz) for v < n, the sum of each SMP_CHUNK-entry
 * chunk into csum[], the whole sum returned. Inside a chunk the sum is
 * float over SMP_LANES lanes (lane j takes the entries j mod SMP_LANES),
 * across chunks double: the same order whichever clone runs. */
SMP_HOT static double exp_pass(const float *restrict x, size_t n, float inv_t, float mz, float *restrict e,
                               double *restrict csum)
{
    double total = 0.0;
    for (size_t c0 = 0, c = 0; c0 < n; c0 += SMP_CHUNK, c++) {
        size_t len = n - c0 < SMP_CHUNK ? n - c0 : SMP_CHUNK, i = 0;
        const float *restrict xc = x + c0;
        float *restrict ec = e + c0;
        float acc[SMP_LANES] = {0};
        for (; i + SMP_LANES <= len; i += SMP_LANES)
            for (size_t j = 0; j < SMP_LANES; j++) {
                float v = exp_nonpos(xc[i + j] * inv_t - mz);
                ec[i + j] = v;
                acc[j] += v;
            }
        float s = 0.0f;
        for (size_t j = 0; j < SMP_LANES; j++) s += acc[j];
        for (; i < len; i++) {
            float v = exp_nonpos(xc[i] * inv_t - mz);
            ec[i] = v;
            s += v;
        }
        csum[c] = (double)s;
        total += (double)s;
    }
    return total;
}

/* bucket[v] = bucket_entry(x[v]) for v < n. */
SMP_HOT static void bucket_pass(const float *restrict x, size_t n, float inv_t, float mz, uint16_t *restrict bucket)
{
    size_t i = 0;
    for (; i + SMP_LANES <= n; i += SMP_LANES)
        for (size_t j = 0; j < SMP_LANES; j++) bucket[i + j] = bucket_entry(x[i + j], inv_t, mz);
    for (; i < n; i++) bucket[i] = bucket_entry(x[i], inv_t, mz);
}

/* The largest entry of each SMP_BLOCK-entry block of x[n] into bmax[], and
 * of the whole row returned; *nan says whether x holds a NaN (a NaN never
 * wins a compare, so the maxima skip it). A block is folded into
 * SMP_LANES lanes, then the lanes in halves down to one. */
SMP_HOT static float row_max(const float *restrict x, size_t n, float *restrict bmax, int *nan)
{
    float m = -INFINITY;
    int32_t nan_seen[SMP_LANES] = {0};
    size_t b = 0, nfull = n / SMP_BLOCK;
    for (; b < nfull; b++) {
        const float *restrict xb = x + b * SMP_BLOCK;
        float acc[SMP_LANES];
        for (size_t j = 0; j < SMP_LANES; j++) acc[j] = -INFINITY;
        for (size_t i = 0; i < SMP_BLOCK; i += SMP_LANES)
            for (size_t j = 0; j < SMP_LANES; j++) {
                float v = xb[i + j];
                acc[j] = v > acc[j] ? v : acc[j];
                nan_seen[j] |= v != v;
            }
        for (size_t h = SMP_LANES / 2; h > 0; h /= 2)
            for (size_t j = 0; j < h; j++) acc[j] = acc[j + h] > acc[j] ? acc[j + h] : acc[j];
        bmax[b] = acc[0];
        m = acc[0] > m ? acc[0] : m;
    }
    int bad = 0;
    for (size_t j = 0; j < SMP_LANES; j++) bad |= nan_seen[j];
    if (b * SMP_BLOCK < n) { /* the last, partial block */
        float bm = -INFINITY;
        for (size_t i = b * SMP_BLOCK; i < n; i++) bm = x[i] > bm ? x[i] : bm, bad |= x[i] != x[i];
        bmax[b] = bm;
        m = bm > m ? bm : m;
    }
    *nan = bad != 0;
    return m;
}

/* ---- the filters ------------------------------------------------------------------ */

/* a ranks below b: a lower logit, or the same logit and a higher id. */
static int ranks_below(struct smp_key a, struct smp_key b) { return a.x < b.x || (a.x == b.x && a.id > b.id); }

/* qsort order: best rank first. */
static int by_rank(const void *pa, const void *pb)
{
    const struct smp_key *a = pa, *b = pb;
    if (a->x != b->x) return a->x > b->x ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Restores the heap h[n] (root: the entry ranking lowest) below i. */
static void sift_down(struct smp_key *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && ranks_below(h[l], h[w])) w = l;
        if (r < n && ranks_below(h[r], h[w])) w = r;
        if (w == i) return;
        struct smp_key t = h[i];
        h[i] = h[w], h[w] = t;
        i = w;
    }
}

/* Offers (v, id) to the heap h of the k best (*m entries so far): ids come
 * in increasing order, so a newcomer beats the heap's worst only with a
 * strictly larger value. */
static void heap_offer(struct smp_key *h, size_t k, size_t *m, float v, size_t id)
{
    if (*m < k) {
        h[(*m)++] = (struct smp_key){v, (int32_t)id};
        if (*m == k)
            for (size_t i = k / 2; i-- > 0;) sift_down(h, k, i);
    } else if (v > h[0].x) {
        h[0] = (struct smp_key){v, (int32_t)id};
        sift_down(h, k, 0);
    }
}

/* The k-th largest of x[n] (0 < k < n), counting equal values separately.
 * The k-th largest of the block maxima, tau, is a floor: k distinct
 * entries reach it. So only the blocks whose maximum reaches tau are read,
 * and of them only the entries that do, through a heap of the k best. */
static float kth_largest(const float *x, size_t n, size_t k, const float *bmax, struct smp_key *h)
{
    size_t nblock = (n + SMP_BLOCK - 1) / SMP_BLOCK, m = 0;
    float tau = -INFINITY;
    if (k <= nblock) {
        for (size_t b = 0; b < nblock; b++) heap_offer(h, k, &m, bmax[b], b);
        tau = h[0].x;
    }
    m = 0;
    for (size_t b = 0; b < nblock; b++) {
        if (!(bmax[b] >= tau)) continue;
        size_t hi = (b + 1) * SMP_BLOCK < n ? (b + 1) * SMP_BLOCK : n;
        for (size_t i = b * SMP_BLOCK; i < hi; i++)
            if (x[i] >= tau) heap_offer(h, k, &m, x[i], i);
    }
    return h[0].x; /* m == k: at least k entries reach tau */
}

/* One row, as prepare() leaves it. */
struct smp_row {
    int greedy;
    float m, inv_t, mz; /* max logit, 1 / temperature, m * inv_t */
    size_t argmax;      /* greedy only */
    double total;       /* sum of e, when the exp pass ran */
};

/* What survives the filters. The source is every token with e > 0
 * (n < 0) or the list cand[n] (ids increasing, each with e > 0). Without a
 * top-p cut (bp < 0) the whole source survives. With one, the source's
 * tokens in buckets below bp survive, and of bucket bp the first nkeep of
 * keys[] (rank order). */
struct smp_kept {
    long n;
    int bp;
    size_t nkeep;
    double before; /* mass of the source's buckets below bp */
    double mass;   /* mass of the survivors (sum of their e) */
};

static size_t src_id(const struct smp_kept *k, const int32_t *cand, size_t j)
{
    return k->n < 0 ? j : (size_t)cand[j];
}

/* The first i in [from, n) with bucket[i] == b, or n: four entries per
 * 64-bit word, a word skipped unless one of its four 16-bit lanes equals b
 * (the zero-lane test of x - 0x0001... & ~x & 0x8000... on x = word ^ b in
 * every lane). */
static size_t next_in_bucket(const uint16_t *bucket, size_t n, size_t from, uint16_t b)
{
    const uint64_t ones = 0x0001000100010001ull, highs = 0x8000800080008000ull, bb = ones * b;
    size_t i = from;
    for (; i < n && i % 4; i++)
        if (bucket[i] == b) return i;
    for (; i + 4 <= n; i += 4) {
        uint64_t w;
        memcpy(&w, bucket + i, sizeof w);
        w ^= bb;
        if ((w - ones) & ~w & highs) break;
    }
    for (; i < n; i++)
        if (bucket[i] == b) return i;
    return n;
}

/* Applies top-k, top-p and min-p of s to a row after its exp pass. */
static void filter_row(const float *x, size_t V, struct rlvr_sample_scratch *sc, const struct rlvr_sampling *s,
                       const struct smp_row *row, struct smp_kept *kept)
{
    const float *e = sc->e;
    int32_t *cand = sc->cand;
    size_t nblock = (V + SMP_BLOCK - 1) / SMP_BLOCK;
    double M = row->total; /* the mass top-p measures against */
    *kept = (struct smp_kept){.n = -1, .bp = -1, .mass = row->total};

    /* top-k keeps logits >= the k-th largest; min-p keeps e >= min_p. The
     * survivors are gathered block by block, skipping the blocks whose best
     * logit cannot pass: below the k-th, or (min-p alone) more than a
     * margin below min-p's threshold in z, the margin being far above the
     * float error of z and of exp_nonpos. */
    float xk = -INFINITY;
    if (s->top_k > 0 && (size_t)s->top_k < V) xk = kth_largest(x, V, (size_t)s->top_k, sc->bmax, sc->keys);
    int top_k_on = xk > -INFINITY, min_p_on = s->min_p > 0.0;
    if (top_k_on || min_p_on) {
        float zmin = -INFINITY;
        if (min_p_on && !top_k_on) zmin = (float)log(s->min_p) - 1e-3f * (1.0f + fabsf(row->mz));
        double mass = 0.0; /* of what top-k keeps, before min-p */
        size_t n = 0;
        for (size_t b = 0; b < nblock; b++) {
            float bm = sc->bmax[b];
            if (!(bm >= xk) || bm * row->inv_t - row->mz < zmin) continue;
            size_t hi = (b + 1) * SMP_BLOCK < V ? (b + 1) * SMP_BLOCK : V;
            for (size_t i = b * SMP_BLOCK; i < hi; i++) {
                float ei = e[i];
                if (ei > 0.0f && x[i] >= xk) {
                    mass += ei;
                    if (!min_p_on || (double)ei >= s->min_p) cand[n++] = (int32_t)i;
                }
            }
        }
        if (top_k_on) M = mass;
        kept->n = (long)n;
    }

    /* A confident row (most of the mass on a few tokens) need not be
     * histogrammed whole: when at most one block in 8 holds a logit within
     * SMP_TRY_NATS of the maximum and those tokens hold top_p of the mass,
     * they are a prefix of the ranking that contains every token top-p
     * keeps (a token after them has at least top_p of the mass ranked
     * before it), so top-p runs on that list instead. */
    if (kept->n < 0 && s->top_p < 1.0) {
        size_t hits = 0;
        for (size_t b = 0; b < nblock; b++) hits += sc->bmax[b] * row->inv_t - row->mz >= -SMP_TRY_NATS;
        if (hits <= nblock / 8) {
            double mass = 0.0;
            size_t n = 0;
            for (size_t b = 0; b < nblock; b++) {
                if (!(sc->bmax[b] * row->inv_t - row->mz >= -SMP_TRY_NATS)) continue;
                size_t hi = (b + 1) * SMP_BLOCK < V ? (b + 1) * SMP_BLOCK : V;
                for (size_t i = b * SMP_BLOCK; i < hi; i++)
                    if (x[i] * row->inv_t - row->mz >= -SMP_TRY_NATS && e[i] > 0.0f) {
                        mass += e[i];
                        cand[n++] = (int32_t)i;
                    }
            }
            if (mass >= s->top_p * M) kept->n = (long)n;
        }
    }

    /* top-p on what top-k and min-p left: the bucket bp where the running
     * mass reaches top_p * M, then that bucket's members in rank order.
     * min-p removes the end of the ranking only, so the mass ranked before
     * each token it keeps is the same with or without it. */
    if (s->top_p < 1.0) {
        double target = s->top_p * M, *hist = sc->hist;
        uint16_t *bk = sc->bucket;
        size_t nsrc = kept->n < 0 ? V : (size_t)kept->n;
        memset(hist, 0, SMP_NBUCKET * sizeof *hist);
        if (kept->n < 0) {
            bucket_pass(x, V, row->inv_t, row->mz, bk);
            for (size_t i = 0; i < V; i++) hist[bk[i]] += e[i];
            /* The whole mass again, from the sums the cut is walked with
             * (double over each bucket) rather than the exp pass's float
             * lanes: the cut is then off by float rounding of the e alone. */
            double all = 0.0;
            for (int b = 0; b < SMP_NBUCKET; b++) all += hist[b];
            target = s->top_p * all;
        } else {
            for (size_t j = 0; j < nsrc; j++) {
                size_t i = (size_t)cand[j];
                bk[i] = bucket_entry(x[i], row->inv_t, row->mz);
                hist[bk[i]] += e[i];
            }
        }
        double before = 0.0;
        int bp = -1;
        for (int b = 0; b < SMP_NBUCKET; b++) {
            if (before + hist[b] >= target) {
                bp = b;
                break;
            }
            before += hist[b];
        }
        if (bp >= 0) { /* else the source reaches top_p only by rounding: keep it all */
            struct smp_key *keys = sc->keys;
            size_t nk = 0;
            if (kept->n < 0) {
                for (size_t i = next_in_bucket(bk, V, 0, (uint16_t)bp); i < V;
                     i = next_in_bucket(bk, V, i + 1, (uint16_t)bp))
                    keys[nk++] = (struct smp_key){x[i], (int32_t)i};
            } else {
                for (size_t j = 0; j < nsrc; j++)
                    if (bk[cand[j]] == bp) keys[nk++] = (struct smp_key){x[cand[j]], cand[j]};
            }
            qsort(keys, nk, sizeof *keys, by_rank);
            /* hist[bp] > 0, so nk >= 1; before < target, so one is kept */
            double p = before;
            size_t r = 0;
            while (r < nk && p < target) p += e[keys[r++].id];
            kept->bp = bp, kept->nkeep = r, kept->before = before, kept->mass = p;
            return;
        }
    }
    if (kept->n >= 0) {
        double mass = 0.0;
        for (long j = 0; j < kept->n; j++) mass += e[cand[j]];
        kept->mass = mass;
    }
}

/* ---- drawing ---------------------------------------------------------------------- */

/* The last token with e > 0 (there is one: the maximum has e = 1). */
static size_t last_positive(const float *e, size_t V)
{
    size_t i = V;
    while (i > 0 && !(e[i - 1] > 0.0f)) i--;
    return i ? i - 1 : 0;
}

/* Inverse CDF over every token, t in [0, total): the chunk whose running
 * sum passes t, then the token inside it. */
static size_t draw_all(const float *e, const double *csum, size_t V, double t)
{
    size_t nchunk = (V + SMP_CHUNK - 1) / SMP_CHUNK;
    double cum = 0.0;
    for (size_t c = 0; c < nchunk; c++) {
        if (csum[c] > 0.0 && cum + csum[c] > t) {
            size_t lo = c * SMP_CHUNK, hi = lo + SMP_CHUNK < V ? lo + SMP_CHUNK : V, last = lo;
            for (size_t i = lo; i < hi; i++) {
                if (!(e[i] > 0.0f)) continue;
                last = i;
                cum += e[i];
                if (cum > t) return i;
            }
            /* the float chunk sum and this double walk differ by rounding */
            return e[last] > 0.0f ? last : last_positive(e, V);
        }
        cum += csum[c];
    }
    return last_positive(e, V);
}

/* Inverse CDF, t in [0, mass): the list in id order; with a top-p cut, the
 * buckets below bp in bucket order (each bucket's members in id order, the
 * order its mass was summed in), then bucket bp's survivors in rank order.
 * Any fixed order gives the same distribution; this one needs no list of
 * the survivors. */
static size_t draw_kept(const struct rlvr_sample_scratch *sc, size_t V, const struct smp_kept *k, double t)
{
    const float *e = sc->e;
    const int32_t *cand = sc->cand;
    if (k->bp < 0) {
        double cum = 0.0;
        for (long j = 0; j < k->n; j++) {
            cum += e[cand[j]];
            if (cum > t) return (size_t)cand[j];
        }
        return (size_t)cand[k->n - 1];
    }
    if (t >= k->before) {
        double cum = k->before;
        size_t last = (size_t)sc->keys[0].id;
        for (size_t r = 0; r < k->nkeep; r++) {
            size_t i = (size_t)sc->keys[r].id;
            if (!(e[i] > 0.0f)) continue;
            last = i;
            cum += e[i];
            if (cum > t) return i;
        }
        return last;
    }
    int b = 0;
    double cum = 0.0;
    while (b < k->bp - 1 && !(cum + sc->hist[b] > t)) cum += sc->hist[b++];
    size_t last = SIZE_MAX;
    if (k->n < 0) {
        for (size_t i = next_in_bucket(sc->bucket, V, 0, (uint16_t)b); i < V;
             i = next_in_bucket(sc->bucket, V, i + 1, (uint16_t)b)) {
            if (!(e[i] > 0.0f)) continue;
            last = i;
            cum += e[i];
            if (cum > t) return i;
        }
    } else {
        for (long j = 0; j < k->n; j++) {
            size_t i = (size_t)cand[j];
            if (sc->bucket[i] != b || !(e[i] > 0.0f)) continue;
            last = i;
            cum += e[i];
            if (cum > t) return i;
        }
    }
    /* hist[b] > 0, so the bucket has a member with e > 0 */
    return last != SIZE_MAX ? last : last_positive(e, V);
}

/* The steps both entry points share: the checks, the maxima, the greedy
 * choice, and (unless greedy without want_lse) the exp pass. */
static int prepare(const float *logits, int vocab, const struct rlvr_sampling *s, struct rlvr_sample_scratch *sc,
                   int want_lse, struct smp_row *row)
{
    sc->err[0] = '\0';
    if (!logits || !s) return rlvr_num_fail(sc->err, sizeof sc->err, "sample: logits or sampling is NULL");
    if (vocab < 1 || vocab > sc->vocab)
        return rlvr_num_fail(sc->err, sizeof sc->err, "sample: vocab %d is outside 1..%d (the scratch's)", vocab,
                             sc->vocab);
    if (check_numbers(s, sc->err, sizeof sc->err)) return -1;
    size_t V = (size_t)vocab;
    int nan;
    float m = row_max(logits, V, sc->bmax, &nan);
    if (nan) {
        size_t i = 0;
        while (!isnan(logits[i])) i++;
        return rlvr_num_fail(sc->err, sizeof sc->err, "sample: logit %zu is NaN", i);
    }
    if (m == INFINITY) {
        size_t i = 0;
        while (logits[i] != INFINITY) i++;
        return rlvr_num_fail(sc->err, sizeof sc->err, "sample: logit %zu is +Inf", i);
    }
    if (m == -INFINITY) return rlvr_num_fail(sc->err, sizeof sc->err, "sample: every logit is -Inf");
    row->m = m;
    row->greedy = s->temperature == 0.0;
    row->inv_t = row->greedy ? 1.0f : 1.0f / (float)s->temperature;
    row->mz = m * row->inv_t;
    if (!isfinite(row->inv_t) || !isfinite(row->mz))
        return rlvr_num_fail(sc->err, sizeof sc->err,
                             "sample: the largest logit %g over temperature %g overflows float", (double)m,
                             s->temperature);
    row->argmax = 0;
    if (row->greedy) { /* the first index holding the maximum: lowest id on ties */
        size_t b = 0;
        while (sc->bmax[b] != m) b++;
        row->argmax = b * SMP_BLOCK;
        while (logits[row->argmax] != m) row->argmax++;
    }
    row->total = 0.0;
    if (!row->greedy || want_lse) row->total = exp_pass(logits, V, row->inv_t, row->mz, sc->e, sc->csum);
    return 0;
}

int rlvr_sample_token(const float *logits, int vocab, const struct rlvr_sampling *s, struct rlvr_rng *rng,
                      struct rlvr_sample_scratch *scratch, int32_t *token_out, float *logprob_out)
{
    if (!scratch) return -1;
    if (!rng || !token_out)
        return rlvr_num_fail(scratch->err, sizeof scratch->err, "sample: rng or token_out is NULL");
    struct smp_row row;
    if (prepare(logits, vocab, s, scratch, logprob_out != NULL, &row)) return -1;
    size_t V = (size_t)vocab, tok;
    if (row.greedy) {
        tok = row.argmax;
    } else {
        double u = rlvr_rng_uniform(rng);
        struct smp_kept kept;
        filter_row(logits, V, scratch, s, &row, &kept);
        if (kept.n < 0 && kept.bp < 0) tok = draw_all(scratch->e, scratch->csum, V, u * row.total);
        else tok = draw_kept(scratch, V, &kept, u * kept.mass);
    }
    *token_out = (int32_t)tok;
    if (logprob_out)
        *logprob_out = (float)((double)(logits[tok] * row.inv_t) - (double)row.mz - log(row.total));
    return 0;
}

int rlvr_sample_probs(const float *logits, int vocab, const struct rlvr_sampling *s,
                      struct rlvr_sample_scratch *scratch, double *probs)
{
    if (!scratch) return -1;
    if (!probs) return rlvr_num_fail(scratch->err, sizeof scratch->err, "sample: probs is NULL");
    struct smp_row row;
    if (prepare(logits, vocab, s, scratch, 0, &row)) return -1;
    size_t V = (size_t)vocab;
    memset(probs, 0, V * sizeof *probs);
    if (row.greedy) {
        probs[row.argmax] = 1.0;
        return 0;
    }
    struct smp_kept k;
    filter_row(logits, V, scratch, s, &row, &k);
    const float *e = scratch->e;
    size_t nsrc = k.n < 0 ? V : (size_t)k.n;
    for (size_t j = 0; j < nsrc; j++) {
        size_t i = src_id(&k, scratch->cand, j);
        if (k.bp < 0 || scratch->bucket[i] < k.bp) probs[i] = e[i] / k.mass;
    }
    for (size_t r = 0; k.bp >= 0 && r < k.nkeep; r++) {
        size_t i = (size_t)scratch->keys[r].id;
        probs[i] = e[i] / k.mass;
    }
    return 0;
}

/* ---- stop strings ----------------------------------------------------------------- */

struct rlvr_stop_matcher {
    size_t n;             /* stop strings */
    size_t *len;          /* [n] their lengths */
    unsigned char **str;  /* [n] the matcher's copies */
    size_t maxlen;        /* the longest */
    unsigned char *buf;   /* [2 * maxlen] the latest bytes of the text */
    size_t held;          /* bytes in buf: the last min(fed, ...) bytes */
    size_t fed;           /* bytes fed since the reset */
    int stopped;
    size_t cut;
};

struct rlvr_stop_matcher *rlvr_stop_matcher_create(const struct rlvr_sampling *s)
{
    if (!s || (s->n_stop_strings && !s->stop_strings)) return NULL;
    size_t n = s->n_stop_strings, bytes = 0, maxlen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s->stop_strings[i]) return NULL;
        size_t len = s->stop_string_lens ? s->stop_string_lens[i] : strlen(s->stop_strings[i]);
        if (len == 0) return NULL;
        bytes += len;
        maxlen = len > maxlen ? len : maxlen;
    }
    size_t o_len = round_up(sizeof(struct rlvr_stop_matcher));
    size_t o_str = o_len + round_up(n * sizeof(size_t));
    size_t o_buf = o_str + round_up(n * sizeof(unsigned char *));
    size_t o_copy = o_buf + 2 * maxlen;
    char *base = malloc(o_copy + bytes);
    if (!base) return NULL;
    struct rlvr_stop_matcher *m = (void *)base;
    m->n = n;
    m->len = (void *)(base + o_len);
    m->str = (void *)(base + o_str);
    m->buf = (unsigned char *)base + o_buf;
    m->maxlen = maxlen;
    unsigned char *copy = (unsigned char *)base + o_copy;
    for (size_t i = 0; i < n; i++) {
        size_t len = s->stop_string_lens ? s->stop_string_lens[i] : strlen(s->stop_strings[i]);
        memcpy(copy, s->stop_strings[i], len);
        m->str[i] = copy;
        m->len[i] = len;
        copy += len;
    }
    rlvr_stop_matcher_reset(m);
    return m;
}

void rlvr_stop_matcher_free(struct rlvr_stop_matcher *m) { free(m); }

void rlvr_stop_matcher_reset(struct rlvr_stop_matcher *m)
{
    m->held = m->fed = m->cut = 0;
    m->stopped = 0;
}

int rlvr_stop_matcher_feed(struct rlvr_stop_matcher *m, const void *bytes, size_t n, size_t *cut)
{
    if (m->stopped) {
        if (cut) *cut = m->cut;
        return 1;
    }
    if (m->n == 0) {
        m->fed += n;
        return 0;
    }
    const unsigned char *in = bytes;
    size_t cap = 2 * m->maxlen;
    for (size_t k = 0; k < n; k++) {
        /* Keep the last maxlen - 1 bytes when the buffer is full: no stop
         * string ending at a later byte can reach further back. */
        if (m->held == cap) {
            memmove(m->buf, m->buf + m->held - (m->maxlen - 1), m->maxlen - 1);
            m->held = m->maxlen - 1;
        }
        unsigned char c = in[k];
        m->buf[m->held++] = c;
        m->fed++;
        size_t best = 0; /* the longest stop string ending at this byte */
        for (size_t i = 0; i < m->n; i++) {
            size_t len = m->len[i];
            if (len <= m->held && len > best && m->str[i][len - 1] == c &&
                memcmp(m->buf + m->held - len, m->str[i], len) == 0)
                best = len;
        }
        if (best) {
            m->stopped = 1;
            m->cut = m->fed - best;
            if (cut) *cut = m->cut;
            return 1;
        }
    }
    return 0;
}
