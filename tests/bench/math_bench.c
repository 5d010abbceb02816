/*
 * math_bench.c -- `make bench`: the math verifier's C API (rlvr_math_verify,
 * default options) timed per check on labelled JSONL cases, one thread.
 *
 *   math_bench [--rounds R] NAME FILE.jsonl [NAME FILE.jsonl ...]
 *
 * Each line of FILE must be an object with string fields "gold" and "pred"
 * (peer_cases.jsonl and math500_selfcheck.jsonl of ../shared/data/math are);
 * "expected" (true/false) is read when present, to print how many verdicts
 * agree with it. Every case is checked once to warm up, then R rounds
 * (default 5) time every call separately with CLOCK_MONOTONIC.
 *
 * Printed per file, on one line: checks/s over all timed calls, the median,
 * p99 and max latency over all timed calls, and "max of per-case best" (the
 * largest over cases of the fastest of its R calls: the worst case without
 * the preemptions of a busy machine), then the slowest case's index. The
 * format matches bench/math_mathverify.py so bench/math.sh prints the two
 * side by side. Exit status 0, or 1 when a file cannot be read (a benchmark
 * reports; it does not judge).
 */
#include "math_verifier.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *gold, *pred;
    size_t gold_len, pred_len;
    int expected; /* 1, 0, or -1 when absent/null */
} bench_case;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static char *dup_str(json_object *o, size_t *len)
{
    if (!o || !json_object_is_type(o, json_type_string))
        return NULL;
    int n = json_object_get_string_len(o);
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    memcpy(s, json_object_get_string(o), (size_t)n);
    s[n] = 0;
    *len = (size_t)n;
    return s;
}

/* Reads FILE's cases; returns the count, or -1 with a message. */
static long load(const char *path, bench_case **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 256, n = 0;
    bench_case *cs = malloc(cap * sizeof *cs);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    long lineno = 0;
    while (cs && (got = getline(&line, &lcap, f)) > 0) {
        lineno++;
        json_object *o = json_tokener_parse(line);
        if (!o)
            continue;
        json_object *g = NULL, *p = NULL, *e = NULL;
        json_object_object_get_ex(o, "gold", &g);
        json_object_object_get_ex(o, "pred", &p);
        json_object_object_get_ex(o, "expected", &e);
        bench_case c;
        c.gold = dup_str(g, &c.gold_len);
        c.pred = dup_str(p, &c.pred_len);
        c.expected = e && json_object_is_type(e, json_type_boolean) ? json_object_get_boolean(e) : -1;
        json_object_put(o);
        if (!c.gold || !c.pred) {
            free(c.gold);
            free(c.pred);
            fprintf(stderr, "%s:%ld: no string gold/pred, skipped\n", path, lineno);
            continue;
        }
        if (n == cap) {
            bench_case *m = realloc(cs, 2 * cap * sizeof *cs);
            if (!m)
                break;
            cs = m, cap *= 2;
        }
        cs[n++] = c;
    }
    free(line);
    fclose(f);
    if (!cs) {
        fprintf(stderr, "out of memory\n");
        return -1;
    }
    *out = cs;
    return (long)n;
}

static int bench_file(const char *name, const char *path, int rounds)
{
    bench_case *cs = NULL;
    long n = load(path, &cs);
    if (n < 0)
        return 1;
    if (n == 0) {
        printf("%-24s no cases in %s\n", name, path);
        free(cs);
        return 1;
    }
    double *all = malloc((size_t)n * (size_t)rounds * sizeof *all);
    double *best = malloc((size_t)n * sizeof *best);
    if (!all || !best) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    rlvr_math_verdict v;
    long agree = 0, labelled = 0, equal = 0, abstain = 0, oom = 0;
    for (long i = 0; i < n; i++) { /* warm-up pass; verdicts counted here */
        if (rlvr_math_verify(cs[i].gold, cs[i].gold_len, cs[i].pred, cs[i].pred_len, NULL, &v) != 0) {
            oom++;
            continue;
        }
        equal += v.status == RLVR_MATH_EQUAL;
        abstain += v.abstain != 0;
        if (cs[i].expected >= 0) {
            labelled++;
            agree += (v.status == RLVR_MATH_EQUAL) == (cs[i].expected == 1);
        }
    }
    double total = 0;
    for (long i = 0; i < n; i++)
        best[i] = 1e30;
    for (int r = 0; r < rounds; r++)
        for (long i = 0; i < n; i++) {
            double t0 = now();
            rlvr_math_verify(cs[i].gold, cs[i].gold_len, cs[i].pred, cs[i].pred_len, NULL, &v);
            double dt = now() - t0;
            all[(size_t)r * (size_t)n + (size_t)i] = dt;
            total += dt;
            if (dt < best[i])
                best[i] = dt;
        }
    long worst = 0;
    for (long i = 1; i < n; i++)
        if (best[i] > best[worst])
            worst = i;
    double worst_best = best[worst];
    size_t m = (size_t)n * (size_t)rounds;
    qsort(all, m, sizeof *all, cmp_double);
    double med = all[m / 2], p99 = all[(size_t)((double)(m - 1) * 0.99)], mx = all[m - 1];
    printf("%-24s rlvr (C API)     %6ld cases x %d: %10.0f checks/s  median %8.4f ms  p99 %8.4f ms  "
           "max %8.4f ms  max of per-case best %8.4f ms (case %ld)\n",
           name, n, rounds, (double)m / total, med * 1e3, p99 * 1e3, mx * 1e3, worst_best * 1e3, worst);
    printf("%-24s rlvr verdicts: %ld equal, %ld abstained; %ld/%ld agree with the labels%s\n", name, equal,
           abstain, agree, labelled, oom ? " (out of memory on some)" : "");
    for (long i = 0; i < n; i++)
        free(cs[i].gold), free(cs[i].pred);
    free(cs);
    free(all);
    free(best);
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = 5, rc = 0, a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--rounds") == 0) {
        rounds = atoi(argv[a + 1]);
        a += 2;
    }
    if (rounds < 1 || (argc - a) < 2 || (argc - a) % 2) {
        fprintf(stderr, "usage: math_bench [--rounds R] NAME FILE.jsonl [NAME FILE.jsonl ...]\n");
        return 2;
    }
    for (; a + 1 < argc; a += 2)
        rc |= bench_file(argv[a], argv[a + 1], rounds);
    return rc;
}
