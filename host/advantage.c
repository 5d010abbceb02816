/*
 * advantage.c -- GRPO group advantages on the CPU: the reference that
 * gpu/advantage.cu is tested against (see advantage.h for the contract).
 *
 * Invariants: libc and libm only; every statistic is accumulated in double
 * in two passes (sums -> means, then squared deviations from the mean), so
 * the result does not depend on cancellation in sum(x^2) - n*mean^2 and a
 * group of equal rewards has std exactly 0; the output array is written only
 * after every input has been checked, so a refused call leaves it untouched.
 * Scratch: one allocation of n_groups + 1 statistics (the extra slot is the
 * whole batch, used by RLVR_SCALE_BATCH).
 */
#include "advantage.h"
#include "numeric.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Running statistics of one group (or of the batch). */
struct adv_stat {
    double mean;  /* sum of non-null rewards, then (pass 2 on) their mean */
    double m2;    /* sum of squared deviations from the mean */
    size_t count; /* non-null rewards seen */
};

/* Unbiased std of a statistic whose m2 is complete; 0 below two samples. */
static double stat_std(const struct adv_stat *s)
{
    return s->count > 1 ? sqrt(s->m2 / (double)(s->count - 1)) : 0.0;
}

int rlvr_group_advantages(const float *rewards, const int32_t *group_index,
                          size_t n, size_t n_groups, int scale, float eps,
                          float *advantages, char *err, size_t err_len)
{
    return rlvr_advantages(rewards, group_index, n, n_groups, scale, RLVR_BASELINE_MEAN, eps,
                           advantages, NULL, NULL, err, err_len);
}

int rlvr_advantages(const float *rewards, const int32_t *group_index, size_t n,
                    size_t n_groups, int scale, int baseline, float eps,
                    float *advantages, uint8_t *no_signal,
                    struct rlvr_advantage_stats *stats, char *err, size_t err_len)
{
    if (rlvr_advantage_check(rewards, group_index, n, n_groups, scale, eps, advantages, err, err_len))
        return -1;
    if (baseline != RLVR_BASELINE_MEAN && baseline != RLVR_BASELINE_RLOO)
        return rlvr_num_fail(err, err_len, "advantages: unknown baseline %d (want mean or rloo)", baseline);
    if (stats) *stats = (struct rlvr_advantage_stats){0};
    if (n == 0) return 0;
    if (n_groups >= SIZE_MAX / sizeof(struct adv_stat))
        return rlvr_num_fail(err, err_len, "advantages: n_groups %zu is too large", n_groups);

    /* stat[n_groups + 1]: one per group, then the batch. */
    struct adv_stat *stat = calloc(n_groups + 1, sizeof *stat);
    if (!stat) return rlvr_num_fail(err, err_len, "advantages: out of memory for %zu groups", n_groups);
    struct adv_stat *batch = &stat[n_groups];

    /* Pass 1: sum the non-null rewards (the inputs are checked above). */
    for (size_t i = 0; i < n; i++) {
        float r = rewards[i];
        if (isnan(r)) continue;
        int32_t g = group_index[i];
        stat[g].mean += r;
        stat[g].count++;
        batch->mean += r;
        batch->count++;
    }
    for (size_t g = 0; g <= n_groups; g++)
        if (stat[g].count) stat[g].mean /= (double)stat[g].count;

    /* Pass 2: squared deviations from each mean. */
    for (size_t i = 0; i < n; i++) {
        float r = rewards[i];
        if (isnan(r)) continue;
        double d = r - stat[group_index[i]].mean;
        stat[group_index[i]].m2 += d * d;
        double db = r - batch->mean;
        batch->m2 += db * db;
    }

    /* Pass 3: the advantages, and their running statistics (Welford). */
    double batch_den = stat_std(batch) + (double)eps;
    double a_mean = 0, a_m2 = 0, a_min = 0, a_max = 0;
    size_t a_n = 0;
    for (size_t i = 0; i < n; i++) {
        float r = rewards[i];
        if (isnan(r)) {
            advantages[i] = 0.0f;
            continue;
        }
        const struct adv_stat *s = &stat[group_index[i]];
        double num = r - s->mean;
        if (baseline == RLVR_BASELINE_RLOO)
            num = s->count > 1 ? num * (double)s->count / (double)(s->count - 1) : 0.0;
        double den = scale == RLVR_SCALE_GROUP ? stat_std(s) + (double)eps
                   : scale == RLVR_SCALE_BATCH ? batch_den
                   : 1.0;
        /* den == 0 only with eps = 0 and a std of 0, where num is 0 too. */
        float a = den == 0.0 ? 0.0f : (float)(num / den);
        advantages[i] = a;
        a_n++;
        if (a_n == 1 || a < a_min) a_min = a;
        if (a_n == 1 || a > a_max) a_max = a;
        double d = a - a_mean;
        a_mean += d / (double)a_n;
        a_m2 += d * (a - a_mean);
    }

    for (size_t g = 0; g < n_groups; g++) {
        int flat = stat[g].m2 == 0.0; /* every non-null reward equal */
        if (no_signal) no_signal[g] = stat[g].count < 2 || flat;
        if (stats && stat[g].count >= 2) {
            stats->groups_counted++;
            stats->groups_zero_std += flat;
        }
    }
    if (stats) {
        stats->n_null = n - batch->count;
        stats->frac_reward_zero_std =
            stats->groups_counted ? (double)stats->groups_zero_std / (double)stats->groups_counted : 0.0;
        stats->reward_mean = batch->mean;
        stats->reward_std = stat_std(batch);
        stats->adv_mean = a_mean;
        stats->adv_std = a_n > 1 ? sqrt(a_m2 / (double)(a_n - 1)) : 0.0;
        stats->adv_min = a_min;
        stats->adv_max = a_max;
    }
    free(stat);
    return 0;
}
