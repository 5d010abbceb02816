/*
 * test_gpu_advantage.c -- the GPU group-advantage kernel
 * (rlvr_gpu_group_advantages, gpu/advantage.cu) held to its CPU reference
 * (rlvr_group_advantages, host/advantage.c).
 *
 * Inputs are pseudo-random but seeded (the same every run): batch sizes
 * around warp and block edges up to a million samples; groups side by side,
 * shuffled, of unequal sizes, of one sample, one group for everything, groups
 * left empty; rewards 0/1, normal, on a wide scale, all equal; nulls from
 * none to all; every scale, eps 1e-4 and 0. Each advantage must agree within
 * 1e-6 * max(1, |A_cpu|) (both sides accumulate in double; only the order of
 * additions differs). Refusals must match the CPU's, message for message.
 * Without a device (or a build without CUDA) it prints a TAP skip plan and
 * exits 77.
 */
#include "advantage.h"
#include "gpu.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#define TOLERANCE 1e-6

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* splitmix64: a small, well-mixed generator; the sequence is fixed. */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(void) /* [0, 1) */
{
    return (double)(rng_next() >> 11) * 0x1.0p-53;
}

static double rng_normal(void)
{
    double u = rng_uniform(), v = rng_uniform();
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

enum layout { SIDE_BY_SIDE, SHUFFLED, ONE_GROUP, SINGLETONS, SPARSE };
enum values { BINARY, NORMAL, WIDE, EQUAL };
static const char *layout_name[] = {"side by side", "shuffled", "one group", "singletons", "sparse"};
static const char *values_name[] = {"0/1", "normal", "wide", "equal"};
static const char *scale_name[] = {"group", "none", "batch"};

/* Fills r[n], g[n] and returns the number of groups. */
static size_t make_case(float *r, int32_t *g, size_t n, size_t gsize, enum layout lay,
                        enum values val, double null_p)
{
    size_t groups = 1;
    switch (lay) {
    case SIDE_BY_SIDE:
    case SHUFFLED:
        groups = (n + gsize - 1) / gsize;
        for (size_t i = 0; i < n; i++) g[i] = (int32_t)(i / gsize);
        break;
    case ONE_GROUP:
        groups = 1;
        for (size_t i = 0; i < n; i++) g[i] = 0;
        break;
    case SINGLETONS:
        groups = n;
        for (size_t i = 0; i < n; i++) g[i] = (int32_t)i;
        break;
    case SPARSE: /* random groups among 3 * (n / gsize) + 1: sizes vary, some empty */
        groups = 3 * (n / gsize) + 1;
        for (size_t i = 0; i < n; i++) g[i] = (int32_t)(rng_next() % groups);
        break;
    }
    if (lay == SHUFFLED)
        for (size_t i = n; i > 1; i--) {
            size_t j = rng_next() % i;
            int32_t t = g[i - 1];
            g[i - 1] = g[j];
            g[j] = t;
        }
    for (size_t i = 0; i < n; i++) {
        switch (val) {
        case BINARY: r[i] = (float)(rng_next() & 1); break;
        case NORMAL: r[i] = (float)rng_normal(); break;
        case WIDE: r[i] = (float)(1000.0 + 100.0 * rng_normal()); break;
        case EQUAL: r[i] = 0.25f; break;
        }
        if (null_p > 0 && rng_uniform() < null_p) r[i] = NAN;
    }
    return groups;
}

/* One comparison; scratch arrays are sized for the largest n. */
static void compare(float *r, int32_t *g, float *cpu, float *gpu, size_t n, size_t gsize,
                    enum layout lay, enum values val, double null_p, int scale, float eps)
{
    char err[256];
    size_t groups = make_case(r, g, n, gsize, lay, val, null_p);
    int rc_cpu = rlvr_group_advantages(r, g, n, groups, scale, eps, cpu, err, sizeof err);
    if (rc_cpu != 0) {
        ok(0, "cpu reference refused a valid case: %s", err);
        return;
    }
    int rc = rlvr_gpu_group_advantages(r, g, n, groups, scale, eps, gpu, err, sizeof err);
    size_t bad = 0, worst = 0;
    double worst_err = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double e = fabs((double)gpu[i] - cpu[i]) / fmax(1.0, fabs(cpu[i]));
        if (!(e <= TOLERANCE)) bad++;
        if (!(e <= worst_err)) {
            worst_err = e;
            worst = i;
        }
    }
    if (!ok(rc == 0 && bad == 0, "n %zu, %zu groups (%s, size %zu), %s rewards, nulls %.2f, %s, "
            "eps %g: gpu = cpu", n, groups, layout_name[lay], gsize, values_name[val], null_p,
            scale_name[scale], (double)eps))
        diag("  rc %d (%s); %zu off; worst A[%zu]: gpu %.9g cpu %.9g", rc, rc ? err : "", bad,
             worst, gpu[worst], cpu[worst]);
}

/* A refusal must read the same on both sides. */
static void same_refusal(const char *name, const float *r, const int32_t *g, size_t n,
                         size_t groups, int scale, float eps)
{
    char e_cpu[256] = "", e_gpu[256] = "";
    float a[4] = {7, 7, 7, 7};
    int rc_cpu = rlvr_group_advantages(r, g, n, groups, scale, eps, a, e_cpu, sizeof e_cpu);
    int rc_gpu = rlvr_gpu_group_advantages(r, g, n, groups, scale, eps, a, e_gpu, sizeof e_gpu);
    ok(rc_cpu == -1 && rc_gpu == -1 && !strcmp(e_cpu, e_gpu) && a[0] == 7 && a[3] == 7,
       "refusal parity, %s: '%s'", name, e_gpu);
}

int main(void)
{
    char desc[512];
    rlvr_gpu_describe(desc, sizeof desc);
    if (rlvr_gpu_available() <= 0) {
        diag("%s", desc);
        skip_all("no CUDA device");
    }
    plan_no_plan();
    diag("%s", desc);

    const size_t max_n = (1u << 20) + 17;
    float *r = malloc(max_n * sizeof *r), *cpu = malloc(max_n * sizeof *cpu);
    float *gpu = malloc(max_n * sizeof *gpu);
    int32_t *g = malloc(max_n * sizeof *g);
    if (!r || !cpu || !gpu || !g) {
        ok(0, "out of memory");
        return done_testing();
    }

    /* Sizes at the edges of a warp and a block, then large. */
    const size_t sizes[] = {1, 2, 31, 32, 33, 255, 256, 257, 1000, 4099, 65536, max_n};
    const size_t gsizes[] = {8, 16, 5};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int scale = RLVR_SCALE_GROUP; scale <= RLVR_SCALE_BATCH; scale++) {
            size_t n = sizes[s], gs = gsizes[s % 3];
            compare(r, g, cpu, gpu, n, gs, SIDE_BY_SIDE, BINARY, 0.0, scale, RLVR_ADVANTAGE_EPS);
            compare(r, g, cpu, gpu, n, gs, SIDE_BY_SIDE, NORMAL, 0.1, scale, RLVR_ADVANTAGE_EPS);
            compare(r, g, cpu, gpu, n, gs, SHUFFLED, WIDE, 0.05, scale, RLVR_ADVANTAGE_EPS);
            compare(r, g, cpu, gpu, n, gs, SPARSE, NORMAL, 0.2, scale, 0.0f);
        }
    /* Degenerate layouts and values, every scale. */
    for (int scale = RLVR_SCALE_GROUP; scale <= RLVR_SCALE_BATCH; scale++) {
        compare(r, g, cpu, gpu, 100000, 8, ONE_GROUP, NORMAL, 0.1, scale, RLVR_ADVANTAGE_EPS);
        compare(r, g, cpu, gpu, 70000, 8, SINGLETONS, NORMAL, 0.1, scale, RLVR_ADVANTAGE_EPS);
        compare(r, g, cpu, gpu, 4096, 16, SIDE_BY_SIDE, EQUAL, 0.0, scale, 0.0f);
        compare(r, g, cpu, gpu, 4096, 16, SHUFFLED, BINARY, 1.0, scale, 0.0f); /* all null */
        compare(r, g, cpu, gpu, 4096, 16, SHUFFLED, BINARY, 0.5, scale, 0.0f);
    }

    /* Refusals: checked on the host, same words as the CPU reference. */
    const float rr[] = {1, 0, INFINITY, 1};
    const int32_t gg[] = {0, 0, 1, 1}, gbad[] = {0, 3, 0, 0};
    same_refusal("infinite reward", rr, gg, 4, 2, RLVR_SCALE_GROUP, 1e-4f);
    same_refusal("index out of range", r, gbad, 4, 2, RLVR_SCALE_GROUP, 1e-4f);
    same_refusal("unknown scale", r, gg, 4, 2, 9, 1e-4f);
    same_refusal("negative eps", r, gg, 4, 2, RLVR_SCALE_GROUP, -1.0f);
    same_refusal("no groups", r, gg, 4, 0, RLVR_SCALE_GROUP, 1e-4f);
    ok(rlvr_gpu_group_advantages(NULL, NULL, 0, 0, RLVR_SCALE_GROUP, 1e-4f, NULL, NULL, 0) == 0,
       "n = 0 is a no-op");

    free(r);
    free(cpu);
    free(gpu);
    free(g);
    return done_testing();
}
