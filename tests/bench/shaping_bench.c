/*
 * shaping_bench.c -- the shaping engine in memory: each rule of
 * verifiers/shaping.c timed over the completions of a JSONL corpus already
 * read into memory, on one thread, best of ROUNDS. It is the C side of the
 * "func" column of bench/shaping.sh (Python's side: shaping_pyref.py times
 * open-r1's functions the same way), so that the rule's own cost can be
 * compared apart from the JSON work that `rlvr score` adds.
 *
 *   shaping_bench CORPUS.jsonl [ROUNDS]
 * prints one line per rule: NAME func=SAMPLES_PER_S
 * Correctness for length and cosine is decided before timing (an
 * <answer> tag equal to the gold, as shaping_pyref.py decides it).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shaping.h"

typedef struct row {
    char *text;
    size_t len;
    long long tokens;
    long long group;
    int correct;
} row;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int answer_is(const char *t, size_t n, const char *gold)
{
    const char *best = NULL, *p = t, *end = t + n;
    size_t blen = 0;
    while (p < end) {
        const char *a = strstr(p, "<answer>");
        if (!a) break;
        const char *b = strstr(a + 8, "</answer>");
        if (!b) break;
        best = a + 8;
        blen = (size_t)(b - best);
        p = b + 9;
    }
    return best && strlen(gold) == blen && memcmp(best, gold, blen) == 0;
}

static volatile double sink;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: shaping_bench CORPUS.jsonl [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    if (rounds < 1) rounds = 1;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    size_t n = 0, cap = 0;
    row *rows = NULL;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, f)) > 0) {
        json_object *o = json_tokener_parse(line), *v;
        if (!o) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            rows = realloc(rows, cap * sizeof *rows);
            if (!rows) return 2;
        }
        row *r = &rows[n];
        memset(r, 0, sizeof *r);
        if (json_object_object_get_ex(o, "completion", &v)) {
            r->len = (size_t)json_object_get_string_len(v);
            r->text = malloc(r->len + 1);
            memcpy(r->text, json_object_get_string(v), r->len + 1);
        }
        r->tokens = json_object_object_get_ex(o, "completion_tokens", &v) ? json_object_get_int64(v) : -1;
        r->group = json_object_object_get_ex(o, "group", &v) ? json_object_get_int64(v) : (long long)n;
        const char *gold = json_object_object_get_ex(o, "answer", &v) ? json_object_get_string(v) : "";
        r->correct = r->text && answer_is(r->text, r->len, gold);
        json_object_put(o);
        if (r->text) n++;
    }
    free(line);
    fclose(f);
    if (!n) {
        fprintf(stderr, "shaping_bench: no completions in %s\n", argv[1]);
        return 2;
    }
    double *len = malloc(n * sizeof *len);
    const char *names[] = {"length", "cosine", "repetition_penalty", "soft_overlong_punishment", "reasoning_steps"};
    rlvr_shaping_cosine_params cp = {-1.0, -0.5, 0.5, 1.0, 1000, RLVR_SHAPING_OVER_CLAMP, -1.0};
    for (int rule = 0; rule < 5; rule++) {
        double best = 1e300;
        for (int k = 0; k < rounds; k++) {
            double t0 = now(), acc = 0;
            if (rule == 0) {
                for (size_t i = 0; i < n;) {
                    size_t j = i;
                    double lo = 0, hi = 0;
                    for (; j < n && rows[j].group == rows[i].group; j++) {
                        rlvr_shaping_length(rows[j].text, rows[j].len, rows[j].tokens, RLVR_SHAPING_UNIT_CHARS, &len[j]);
                        if (j == i || len[j] < lo) lo = len[j];
                        if (j == i || len[j] > hi) hi = len[j];
                    }
                    for (size_t q = i; q < j; q++) acc += rlvr_shaping_kimi(len[q], lo, hi, rows[q].correct);
                    i = j;
                }
            } else {
                for (size_t i = 0; i < n; i++) {
                    const row *r = &rows[i];
                    if (rule == 1) {
                        double l;
                        rlvr_shaping_length(r->text, r->len, r->tokens, RLVR_SHAPING_UNIT_CHARS, &l);
                        acc += rlvr_shaping_cosine(&cp, l, r->correct);
                    } else if (rule == 2) {
                        rlvr_shaping_ngrams g;
                        rlvr_shaping_repetition(r->text, r->len, 3, RLVR_SHAPING_SPLIT_CJK, &g);
                        acc += rlvr_shaping_repetition_score(&g, -1.0);
                    } else if (rule == 3) {
                        double t = r->tokens >= 0 ? (double)r->tokens
                                                  : (double)rlvr_shaping_approx_tokens(r->text, r->len, NULL);
                        acc += rlvr_shaping_overlong(t, 16384, 4096);
                    } else {
                        acc += (double)rlvr_shaping_steps(r->text, r->len, 0, NULL, 0);
                    }
                }
            }
            double dt = now() - t0;
            sink = acc;
            if (dt < best) best = dt;
        }
        printf("%s func=%.0f\n", names[rule], (double)n / best);
    }
    for (size_t i = 0; i < n; i++) free(rows[i].text);
    free(rows);
    free(len);
    return 0;
}
