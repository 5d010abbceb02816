/*
 * advantage.h -- GRPO group advantages, the CPU reference (numeric core).
 *
 * This is the definition that the GPU kernel (rlvr_gpu_group_advantages in
 * gpu/gpu.h) is held to: same arguments, same refusals, same results within
 * the tolerance stated there. It depends on libc and libm only, so that its
 * tests build on a machine that has nothing but a C compiler and the CUDA
 * toolkit.
 *
 * The scaling modes RLVR_SCALE_GROUP / _NONE / _BATCH and RLVR_ADVANTAGE_EPS
 * are defined once, in gpu/gpu.h, and taken from there: the host may include
 * gpu/'s header (dependence runs host -> gpu), while gpu/ may include nothing
 * of the host, so the one definition lives on the lower side. gpu.h is plain
 * C with no CUDA types and exists in every build (gpu_stub.c implements it
 * without CUDA), so including it costs the CPU path nothing.
 */
#ifndef RLVR_ADVANTAGE_H
#define RLVR_ADVANTAGE_H

#include <stddef.h>
#include <stdint.h>

#include "gpu.h"

/* Group advantages, as DESIGN.md's "GRPO, as the field defines it" says:
 *   rewards[n]      reward of each sample; NaN = null (abstained/errored):
 *                   left out of every statistic, gets advantage 0; +-Inf is
 *                   refused.
 *   group_index[n]  group of each sample, 0 <= g < n_groups (any order, any
 *                   group sizes, empty and all-null groups allowed).
 *   scale           RLVR_SCALE_GROUP: A = (r - mean_g) / (std_g + eps)
 *                   RLVR_SCALE_NONE:  A =  r - mean_g          (Dr. GRPO)
 *                   RLVR_SCALE_BATCH: A = (r - mean_g) / (std_batch + eps)
 *                   mean_g: mean of group g's non-null rewards; std_g: their
 *                   unbiased (Bessel, count - 1) standard deviation, 0 with
 *                   fewer than two; std_batch: the unbiased std of all
 *                   non-null rewards of the call around their own mean.
 *   eps             finite, >= 0 (RLVR_ADVANTAGE_EPS by default).
 *   advantages[n]   out. A zero denominator (eps = 0, all equal) gives 0.
 * Accumulates in double (two passes: means, then squared deviations), so a
 * group of equal rewards gets exactly 0. Uses O(n_groups) scratch memory.
 * Returns 0, or -1 with a message in err[err_len] (advantages untouched):
 * NULL arrays with n > 0, an unknown scale, a bad eps, a group index out of
 * range, an infinite reward, out of memory. n = 0 returns 0. */
int rlvr_group_advantages(const float *rewards, const int32_t *group_index,
                          size_t n, size_t n_groups, int scale, float eps,
                          float *advantages, char *err, size_t err_len);

/* What a batch of rewards says beyond its advantages (TRL's names where it
 * logs them). Statistics run over the non-null rewards; stds are unbiased. */
struct rlvr_advantage_stats {
    size_t n_null;              /* null rewards (advantage 0) */
    size_t groups_counted;      /* groups with two or more non-null rewards */
    size_t groups_zero_std;     /* of those, groups whose rewards are all equal */
    double frac_reward_zero_std; /* groups_zero_std / groups_counted; 0 if none */
    double reward_mean, reward_std;
    double adv_mean, adv_std, adv_min, adv_max;
};

/* rlvr_group_advantages with the options of the full API:
 *   baseline     RLVR_BASELINE_MEAN (GRPO) or RLVR_BASELINE_RLOO: the
 *                numerator becomes r - (mean of the group's other non-null
 *                rewards); 0 in a group with fewer than two.
 *   no_signal[n_groups]  optional out: 1 for a group whose advantages are
 *                all 0 because its non-null rewards are all equal, or fewer
 *                than two (DAPO's dynamic sampling drops and refills these).
 *   stats        optional out.
 * Same refusals as rlvr_group_advantages, plus an unknown baseline. */
int rlvr_advantages(const float *rewards, const int32_t *group_index, size_t n,
                    size_t n_groups, int scale, int baseline, float eps,
                    float *advantages, uint8_t *no_signal,
                    struct rlvr_advantage_stats *stats, char *err, size_t err_len);

#endif
