/*
 * test_advantage.c -- the CPU reference of GRPO group advantages
 * (host/advantage.c) against hand-worked cases and a numpy fixture.
 *
 * Part 1 checks values worked out by hand in the comments (group, none and
 * batch scaling, nulls, a group of one, an all-null group, an all-equal group,
 * eps = 0) and every refusal (which must leave the output untouched). Part 2
 * reads tests/fixtures/advantage/cases.txt (written by make_fixture.py with
 * numpy, found through $srcdir) and compares each advantage within
 * 1e-6 * max(1, |A|): the reference is float64, the C output float32.
 */
#include "advantage.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static char err[256];

/* Runs the reference and checks out[n] against want[n] (absolute tol). */
static void check(const char *name, const float *r, const int32_t *g, size_t n, size_t groups,
                  int scale, float eps, const double *want, double tol)
{
    float out[64];
    int rc = rlvr_group_advantages(r, g, n, groups, scale, eps, out, err, sizeof err);
    if (!ok(rc == 0, "%s: returns 0", name)) diag("  error: %s", err);
    for (size_t i = 0; i < n; i++)
        is_num(out[i], want[i], tol, "%s: A[%zu]", name, i);
}

/* A refused call: status -1, a message containing `needle`, output untouched
 * (no output array at all when null_out is set). */
static void refuse(const char *name, const float *r, const int32_t *g, size_t n, size_t groups,
                   int scale, float eps, int null_out, const char *needle)
{
    float out[8] = {42, 42, 42, 42, 42, 42, 42, 42};
    err[0] = '\0';
    int rc = rlvr_group_advantages(r, g, n, groups, scale, eps, null_out ? NULL : out, err,
                                   sizeof err);
    int untouched = 1;
    for (size_t i = 0; i < N_OF(out); i++) untouched &= out[i] == 42.0f;
    ok(rc == -1 && strstr(err, needle) && untouched, "%s: refused (%s)", name, err);
}

static void hand_cases(void)
{
    /* One group {1, 0, 1, 0}: mean 1/2, unbiased var (4 * 1/4) / 3 = 1/3,
     * std = 1/sqrt(3); eps 0: A = +-(1/2) sqrt(3) = +-sqrt(3)/2. */
    const float r1[] = {1, 0, 1, 0};
    const int32_t g1[] = {0, 0, 0, 0};
    const double h = sqrt(3.0) / 2.0;
    check("group eps=0", r1, g1, 4, 1, RLVR_SCALE_GROUP, 0.0f, (double[]){h, -h, h, -h}, 1e-6);
    /* eps 1e-4: A = 0.5 / (1/sqrt(3) + 1e-4). */
    const double a = 0.5 / (1.0 / sqrt(3.0) + (double)1e-4f);
    check("group eps=1e-4", r1, g1, 4, 1, RLVR_SCALE_GROUP, RLVR_ADVANTAGE_EPS,
          (double[]){a, -a, a, -a}, 1e-6);
    /* none (Dr. GRPO): A = r - 1/2, whatever eps is. */
    check("none", r1, g1, 4, 1, RLVR_SCALE_NONE, 123.0f, (double[]){0.5, -0.5, 0.5, -0.5}, 0);

    /* batch: groups {1, 0} and {1, 1}; group means 1/2 and 1. The batch
     * {1, 0, 1, 1}: mean 3/4, squared deviations 1/16 * 3 + 9/16 = 12/16,
     * unbiased var 12/16 / 3 = 1/4, std 1/2. eps 0: A = (r - mean_g) / (1/2). */
    const float r2[] = {1, 0, 1, 1};
    const int32_t g2[] = {0, 0, 1, 1};
    check("batch", r2, g2, 4, 2, RLVR_SCALE_BATCH, 0.0f, (double[]){1, -1, 0, 0}, 1e-6);
    /* The same with group scaling: group 0 std sqrt(1/2), group 1 std 0. */
    const double s = 0.5 / sqrt(0.5);
    check("batch data, group scale", r2, g2, 4, 2, RLVR_SCALE_GROUP, 0.0f,
          (double[]){s, -s, 0, 0}, 1e-6);

    /* Nulls: {1, null, 0} is the group {1, 0}: mean 1/2, std sqrt(1/2);
     * the null gets 0. */
    const float r3[] = {1, NAN, 0};
    const int32_t g3[] = {0, 0, 0};
    check("null left out", r3, g3, 3, 1, RLVR_SCALE_GROUP, 0.0f, (double[]){s, 0, -s}, 1e-6);

    /* Groups given out of order and of unequal sizes: 0 = {2, 4}, 1 = {7},
     * 2 = {null, null}, 3 = {} (empty), 4 = {5, null}. Group scale, eps 0:
     * group 0: mean 3, std sqrt(2): A = -+1/sqrt(2); group 1 (one sample)
     * and group 4 (one non-null) have std 0 and A = 0; all-null group 2 is 0
     * and finite. */
    const float r4[] = {7, 2, NAN, 5, NAN, 4, NAN};
    const int32_t g4[] = {1, 0, 2, 4, 2, 0, 4};
    const double q = 1.0 / sqrt(2.0);
    check("ragged, eps=0", r4, g4, 7, 5, RLVR_SCALE_GROUP, 0.0f, (double[]){0, -q, 0, 0, 0, q, 0},
          1e-6);
    /* Same with eps 1e-4: group 0 gets 1 / (sqrt(2) + 1e-4). */
    const double q4 = 1.0 / (sqrt(2.0) + (double)1e-4f);
    check("ragged, eps=1e-4", r4, g4, 7, 5, RLVR_SCALE_GROUP, 1e-4f,
          (double[]){0, -q4, 0, 0, 0, q4, 0}, 1e-6);
    /* none: r - mean. */
    check("ragged, none", r4, g4, 7, 5, RLVR_SCALE_NONE, 0.0f, (double[]){0, -1, 0, 0, 0, 1, 0},
          0);
    /* batch: non-null {7, 2, 5, 4}, mean 9/2, deviations 25/4 + 25/4 + 1/4 +
     * 1/4 = 13, unbiased var 13/3; A = (r - mean_g) / sqrt(13/3). */
    const double b = 1.0 / sqrt(13.0 / 3.0);
    check("ragged, batch", r4, g4, 7, 5, RLVR_SCALE_BATCH, 0.0f,
          (double[]){0, -b, 0, 0, 0, b, 0}, 1e-6);

    /* All-equal group {0.1, 0.1, 0.1}: no signal, A exactly 0 (double sums of
     * equal floats are exact), with eps 1e-4 and with eps 0 (0/0 -> 0). */
    const float r5[] = {0.1f, 0.1f, 0.1f};
    const int32_t g5[] = {0, 0, 0};
    check("all equal", r5, g5, 3, 1, RLVR_SCALE_GROUP, RLVR_ADVANTAGE_EPS, (double[]){0, 0, 0}, 0);
    check("all equal, eps=0", r5, g5, 3, 1, RLVR_SCALE_GROUP, 0.0f, (double[]){0, 0, 0}, 0);
    check("all equal, batch eps=0", r5, g5, 3, 1, RLVR_SCALE_BATCH, 0.0f, (double[]){0, 0, 0}, 0);

    /* A group of one: std 0, A = 0 for every scale. */
    const float r6[] = {3};
    const int32_t g6[] = {0};
    check("group of one", r6, g6, 1, 1, RLVR_SCALE_GROUP, RLVR_ADVANTAGE_EPS, (double[]){0}, 0);
    check("group of one, batch", r6, g6, 1, 1, RLVR_SCALE_BATCH, 0.0f, (double[]){0}, 0);

    /* Everything null: finite zeros. */
    const float r7[] = {NAN, NAN};
    const int32_t g7[] = {0, 1};
    check("all null", r7, g7, 2, 2, RLVR_SCALE_BATCH, 0.0f, (double[]){0, 0}, 0);

    /* n = 0 is a no-op, even with NULL arrays. */
    ok(rlvr_group_advantages(NULL, NULL, 0, 0, RLVR_SCALE_GROUP, 1e-4f, NULL, err, sizeof err) == 0,
       "n = 0: returns 0");

    /* Refusals. */
    const float rb[] = {1, 0};
    const int32_t gb[] = {0, 2};
    refuse("index out of range", rb, gb, 2, 2, RLVR_SCALE_GROUP, 1e-4f, 0, "group_index[1] = 2");
    const int32_t gn[] = {-1, 0};
    refuse("negative index", rb, gn, 2, 2, RLVR_SCALE_GROUP, 1e-4f, 0, "group_index[0] = -1");
    const float ri[] = {1, INFINITY};
    refuse("infinite reward", ri, g1, 2, 1, RLVR_SCALE_GROUP, 1e-4f, 0, "reward[1] is infinite");
    refuse("unknown scale", rb, g1, 2, 1, 7, 1e-4f, 0, "unknown scale 7");
    refuse("negative eps", rb, g1, 2, 1, RLVR_SCALE_GROUP, -1e-4f, 0, "eps");
    refuse("NaN eps", rb, g1, 2, 1, RLVR_SCALE_GROUP, NAN, 0, "eps");
    refuse("no groups", rb, g1, 2, 0, RLVR_SCALE_GROUP, 1e-4f, 0, "n_groups is 0");
    refuse("NULL output", rb, g1, 2, 1, RLVR_SCALE_GROUP, 1e-4f, 1, "NULL");
    ok(rlvr_group_advantages(rb, gb, 2, 2, RLVR_SCALE_GROUP, 1e-4f, (float[2]){0}, NULL, 0) == -1,
       "refusal without an error buffer");
}

/* Part 2: the numpy fixture. Returns the number of cases read. */
static int fixture_cases(void)
{
    const char *srcdir = getenv("srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/fixtures/advantage/cases.txt", srcdir ? srcdir : ".");
    FILE *f = fopen(path, "r");
    if (!ok(f != NULL, "fixture %s opens", path)) return 0;

    char line[512];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        char name[128], scale_name[16];
        size_t n, groups;
        double eps;
        if (line[0] == '#' || line[0] == '\n') continue;
        if (sscanf(line, "case %127s %zu %zu %15s %lf", name, &n, &groups, scale_name, &eps) != 5) {
            ok(0, "fixture: bad line '%s'", line);
            break;
        }
        int scale = !strcmp(scale_name, "group") ? RLVR_SCALE_GROUP
                  : !strcmp(scale_name, "none")  ? RLVR_SCALE_NONE
                  : !strcmp(scale_name, "batch") ? RLVR_SCALE_BATCH
                  : -1;
        /* want[n] (double), then r[n] out[n] (float), g[n] (int32): one block. */
        double *want = malloc(n * (sizeof(double) + sizeof(float) * 2 + sizeof(int32_t)));
        float *r = (float *)(want + n), *out = r + n;
        int32_t *g = (int32_t *)(out + n);
        int good = want != NULL;
        for (size_t i = 0; good && i < n; i++) {
            char rs[64];
            long gi;
            good = fgets(line, sizeof line, f) && sscanf(line, "%63s %ld %lf", rs, &gi, &want[i]) == 3;
            if (good) {
                r[i] = strtof(rs, NULL); /* "nan" reads as NaN */
                g[i] = (int32_t)gi;
            }
        }
        good = good && fgets(line, sizeof line, f) && !strncmp(line, "end", 3);
        if (!ok(good, "fixture %s: %zu samples read", name, n)) {
            free(want);
            break;
        }
        int rc = rlvr_group_advantages(r, g, n, groups, scale, (float)eps, out, err, sizeof err);
        size_t bad = 0, worst = 0;
        double worst_err = 0;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            double e = fabs(out[i] - want[i]) / fmax(1.0, fabs(want[i]));
            if (!(e <= 1e-6)) bad++;
            if (!(e <= worst_err)) {
                worst_err = e;
                worst = i;
            }
        }
        if (!ok(rc == 0 && bad == 0, "fixture %s (%s, %zu samples, %zu groups): within 1e-6",
                name, scale_name, n, groups))
            diag("  rc %d (%s), %zu off, worst A[%zu] = %.9g want %.17g", rc, err, bad, worst,
                 out[worst], want[worst]);
        free(want);
        cases++;
    }
    fclose(f);
    return cases;
}

int main(void)
{
    plan_no_plan();
    hand_cases();
    ok(fixture_cases() >= 10, "fixture: every case read");
    return done_testing();
}
