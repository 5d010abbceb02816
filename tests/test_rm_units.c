/*
 * test_rm_units.c -- the reward-model engine's reply readers (verifiers/rm.c)
 * table by table, per API: the documented shapes, and every way a reply may
 * be wrong (not JSON, text after the JSON, a wrong count, a duplicate or
 * missing index, a non-finite or non-numeric score, a missing label); then a
 * seeded fuzz of the readers: mutations of the valid replies (byte flips,
 * deletions, duplications, splices, hostile numbers) must never crash, and
 * whatever is accepted must hold one finite score per input that has one.
 * RLVR_FUZZ_ITERATIONS sets the mutations per API (20,000 in make check;
 * `make fuzz-rm` runs 1,000,000).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm.h"
#include "tap.h"

typedef struct reply_case {
    rlvr_rm_api api;
    const char *label;
    size_t n;
    const char *body;
    rlvr_rm_reply_status want;
    double s0, s1; /* expected raw scores of inputs 0 and 1 when OK (NAN: no score) */
    const char *why; /* part of the message when refused */
} reply_case;

static const reply_case cases[] = {
    /* TEI /predict */
    {RLVR_RM_TEI_PREDICT, "", 1, "[{\"label\":\"LABEL_0\",\"score\":0.25}]", RLVR_RM_REPLY_OK, 0.25, NAN, NULL},
    {RLVR_RM_TEI_PREDICT, "positive", 2,
     "[[{\"label\":\"negative\",\"score\":0.9},{\"label\":\"positive\",\"score\":0.1}],"
     "[{\"label\":\"positive\",\"score\":0.7},{\"label\":\"negative\",\"score\":0.3}]]",
     RLVR_RM_REPLY_OK, 0.1, 0.7, NULL},
    {RLVR_RM_TEI_PREDICT, "", 2, "[[{\"label\":\"a\",\"score\":1}]]", RLVR_RM_REPLY_COUNT, 0, 0, "1 scores for 2"},
    {RLVR_RM_TEI_PREDICT, "", 2, "[[{\"label\":\"a\",\"score\":1}], {\"label\":\"a\"}]", RLVR_RM_REPLY_BAD, 0, 0, "not a list"},
    {RLVR_RM_TEI_PREDICT, "", 1, "{\"error\":\"model overloaded\"}", RLVR_RM_REPLY_BAD, 0, 0, "not a list"},
    {RLVR_RM_TEI_PREDICT, "", 1, "[{\"label\":\"a\",\"score\":\"0.5\"}]", RLVR_RM_REPLY_BAD, 0, 0, NULL},
    {RLVR_RM_TEI_PREDICT, "", 1, "[{\"label\":\"a\",\"score\":1e999}]", RLVR_RM_REPLY_BAD, 0, 0, NULL},
    /* TEI /rerank: placed by index, not by order */
    {RLVR_RM_TEI_RERANK, "", 2, "[{\"index\":1,\"score\":0.9},{\"index\":0,\"score\":0.2}]", RLVR_RM_REPLY_OK, 0.2, 0.9, NULL},
    {RLVR_RM_TEI_RERANK, "", 2, "[{\"index\":1,\"score\":0.9},{\"index\":1,\"score\":0.2}]", RLVR_RM_REPLY_BAD, 0, 0, "twice"},
    {RLVR_RM_TEI_RERANK, "", 2, "[{\"index\":2,\"score\":0.9},{\"index\":0,\"score\":0.2}]", RLVR_RM_REPLY_BAD, 0, 0, "index"},
    {RLVR_RM_TEI_RERANK, "", 2, "[{\"index\":-1,\"score\":0.9},{\"index\":0,\"score\":0.2}]", RLVR_RM_REPLY_BAD, 0, 0, "index"},
    {RLVR_RM_TEI_RERANK, "", 2, "[{\"index\":0,\"score\":0.9}]", RLVR_RM_REPLY_COUNT, 0, 0, NULL},
    {RLVR_RM_TEI_RERANK, "", 1, "[{\"index\":0,\"score\":null}]", RLVR_RM_REPLY_BAD, 0, 0, "score"},
    {RLVR_RM_TEI_RERANK, "", 1, "[{\"index\":0.0,\"score\":1}]", RLVR_RM_REPLY_BAD, 0, 0, "index"},
    /* vLLM /pooling: a number, per-token rewards, per-token vectors */
    {RLVR_RM_VLLM_POOLING, "", 2, "{\"data\":[{\"index\":0,\"data\":1.5},{\"index\":1,\"data\":-2}]}", RLVR_RM_REPLY_OK, 1.5, -2,
     NULL},
    {RLVR_RM_VLLM_POOLING, "", 1, "{\"data\":[{\"index\":0,\"data\":[0.1,0.2,0.75]}]}", RLVR_RM_REPLY_OK, 0.75, NAN, NULL},
    {RLVR_RM_VLLM_POOLING, "", 2, "{\"data\":[{\"index\":0,\"data\":1}]}", RLVR_RM_REPLY_COUNT, 0, 0, NULL},
    {RLVR_RM_VLLM_POOLING, "", 1, "{\"data\":[{\"index\":0}]}", RLVR_RM_REPLY_BAD, 0, 0, NULL},
    {RLVR_RM_VLLM_POOLING, "", 1, "{\"object\":\"error\",\"message\":\"no\"}", RLVR_RM_REPLY_BAD, 0, 0, NULL},
    /* vLLM /classify: probs read at the label's index */
    {RLVR_RM_VLLM_CLASSIFY, "1", 1, "{\"data\":[{\"index\":0,\"label\":\"LABEL_1\",\"probs\":[0.3,0.7]}]}", RLVR_RM_REPLY_OK, 0.7,
     NAN, NULL},
    {RLVR_RM_VLLM_CLASSIFY, "", 1, "{\"data\":[{\"index\":0,\"probs\":[]}]}", RLVR_RM_REPLY_BAD, 0, 0, "probs"},
    /* vLLM /score */
    {RLVR_RM_VLLM_SCORE, "", 2, "{\"data\":[{\"index\":1,\"score\":0.5},{\"index\":0,\"score\":0.25}]}", RLVR_RM_REPLY_OK, 0.25, 0.5,
     NULL},
    {RLVR_RM_VLLM_SCORE, "", 1, "{\"data\":[{\"index\":0,\"score\":true}]}", RLVR_RM_REPLY_BAD, 0, 0, "score"},
    /* for every API: not JSON, cut short, text after the JSON, empty */
    {RLVR_RM_VLLM_SCORE, "", 1, "<html>502 Bad Gateway</html>", RLVR_RM_REPLY_BAD, 0, 0, "not JSON"},
    {RLVR_RM_VLLM_SCORE, "", 1, "{\"data\":[{\"index\":0,\"score\":0.5}", RLVR_RM_REPLY_BAD, 0, 0, "not JSON"},
    {RLVR_RM_TEI_RERANK, "", 1, "[{\"index\":0,\"score\":0.5}] trailing", RLVR_RM_REPLY_BAD, 0, 0, "after its JSON"},
    {RLVR_RM_TEI_PREDICT, "", 1, "", RLVR_RM_REPLY_BAD, 0, 0, "not JSON"},
};

static int same(double got, double want)
{
    return isnan(want) ? 1 : fabs(got - want) < 1e-12;
}

static void test_tables(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const reply_case *c = &cases[i];
        rlvr_rm_label label;
        char err[512] = "";
        rlvr_rm_score out[4];
        if (rlvr_rm_label_parse(c->label, &label, err, sizeof err)) {
            ok(0, "case %zu: label %s parses (%s)", i, c->label, err);
            continue;
        }
        rlvr_rm_reply_status st = rlvr_rm_parse_reply(c->api, &label, c->body, strlen(c->body), c->n, out, err, sizeof err);
        int good = st == c->want;
        if (good && st == RLVR_RM_REPLY_OK) {
            good = out[0].ok && same(out[0].raw, c->s0) && (c->n < 2 || (out[1].ok && same(out[1].raw, c->s1)));
        } else if (good && c->why) {
            good = strstr(err, c->why) != NULL;
        }
        if (good && st != RLVR_RM_REPLY_OK) good = err[0] != 0; /* a refusal always says why */
        ok(good, "%s, %zu input(s): %.60s -> %d (%s)", rlvr_rm_api_name(c->api), c->n, c->body, (int)st, err);
    }
}

/* ---- fuzz ---------------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const tokens[] = {"1e308", "1e309", "-1e309", "NaN", "Infinity", "-0", "null", "true", "[", "]", "{",
                                     "}", ",", ":", "\"index\"", "\"score\"", "\"data\"", "\"probs\"", "\"label\"",
                                     "18446744073709551616", "-9223372036854775809", "0.5", "\"\\u0000\"", "\xff\xfe"};

/* One mutation of src into dst (cap bytes); returns its length. */
static size_t mutate(const char *src, size_t len, const char *other, size_t olen, char *dst, size_t cap)
{
    size_t n = len < cap ? len : cap;
    memcpy(dst, src, n);
    int rounds = 1 + (int)(next() % 4);
    for (int r = 0; r < rounds; r++) {
        size_t at = n ? (size_t)(next() % n) : 0;
        switch (next() % 6) {
        case 0: /* flip a byte */
            if (n) dst[at] = (char)(dst[at] ^ (1u << (next() % 8)));
            break;
        case 1: { /* delete a range */
            size_t k = n - at ? (size_t)(next() % (n - at)) + 1 : 0;
            memmove(dst + at, dst + at + k, n - at - k);
            n -= k;
            break;
        }
        case 2: { /* duplicate a range (nests deeper) */
            size_t k = n - at ? (size_t)(next() % (n - at)) + 1 : 0;
            if (n + k > cap) break;
            memmove(dst + at + k, dst + at, n - at);
            n += k;
            break;
        }
        case 3: { /* insert a token */
            const char *t = tokens[next() % (sizeof tokens / sizeof tokens[0])];
            size_t k = strlen(t);
            if (n + k > cap) break;
            memmove(dst + at + k, dst + at, n - at);
            memcpy(dst + at, t, k);
            n += k;
            break;
        }
        case 4: { /* splice the other reply's tail */
            size_t from = olen ? (size_t)(next() % olen) : 0, k = olen - from;
            if (at + k > cap) k = cap - at;
            memcpy(dst + at, other + from, k);
            n = at + k;
            break;
        }
        default: /* cut short */
            n = at;
            break;
        }
    }
    return n;
}

static void test_fuzz(void)
{
    const char *env = getenv("RLVR_FUZZ_ITERATIONS");
    long iters = env ? atol(env) : 20000;
    size_t n_cases = sizeof cases / sizeof cases[0];
    static char buf[1 << 16];
    for (int api = 0; api < RLVR_RM_N_APIS; api++) {
        long bad_invariant = 0, accepted = 0;
        for (long it = 0; it < iters; it++) {
            const reply_case *a = &cases[next() % n_cases], *b = &cases[next() % n_cases];
            size_t len = mutate(a->body, strlen(a->body), b->body, strlen(b->body), buf, sizeof buf - 1);
            size_t n = 1 + (size_t)(next() % 3);
            rlvr_rm_label label;
            char err[256];
            rlvr_rm_label_parse((next() & 1) ? "1" : "", &label, err, sizeof err);
            rlvr_rm_score out[3];
            err[0] = 0;
            rlvr_rm_reply_status st = rlvr_rm_parse_reply((rlvr_rm_api)api, &label, buf, len, n, out, err, sizeof err);
            if (st == RLVR_RM_REPLY_OK) {
                accepted++;
                for (size_t i = 0; i < n; i++)
                    if (out[i].ok ? !isfinite(out[i].raw) : out[i].why[0] == 0) bad_invariant++;
            } else if (st != RLVR_RM_REPLY_BAD && st != RLVR_RM_REPLY_COUNT && st != RLVR_RM_REPLY_NOMEM) {
                bad_invariant++;
            } else if (!err[0]) {
                bad_invariant++;
            }
        }
        ok(bad_invariant == 0, "fuzz %s: %ld mutated replies, %ld accepted, every accepted score finite (or a reason), "
           "every refusal with a message (%ld broke that)", rlvr_rm_api_name((rlvr_rm_api)api), iters, accepted,
           bad_invariant);
    }
}

int main(void)
{
    test_tables();
    test_fuzz();
    return done_testing();
}
