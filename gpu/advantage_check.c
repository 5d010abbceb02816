/*
 * advantage_check.c -- the refusals that the CPU reference of GRPO group
 * advantages (host/advantage.c) and the GPU kernel (gpu/advantage.cu) share,
 * written once so that both refuse the same inputs with the same messages.
 * Plain C, libc and libm only; built in every configuration (with CUDA or
 * without), since the host's reference calls it too.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "gpu.h"
#include "gpu_fail.h"


int rlvr_advantage_check(const float *rewards, const int32_t *group_index, size_t n, size_t n_groups,
                         int scale, float eps, const float *advantages, char *err, size_t err_len)
{
    if (err && err_len) err[0] = '\0';
    if (n == 0) return 0;
    if (!rewards || !group_index || !advantages)
        return rlvr_gpu_fail(err, err_len, "advantages: rewards, group_index or advantages is NULL");
    if (scale != RLVR_SCALE_GROUP && scale != RLVR_SCALE_NONE && scale != RLVR_SCALE_BATCH)
        return rlvr_gpu_fail(err, err_len, "advantages: unknown scale %d (want group, none or batch)", scale);
    if (!isfinite(eps) || eps < 0.0f)
        return rlvr_gpu_fail(err, err_len, "advantages: eps %g must be finite and >= 0", (double)eps);
    if (n_groups == 0)
        return rlvr_gpu_fail(err, err_len, "advantages: n_groups is 0 for %zu samples", n);
    if (n_groups > (size_t)INT32_MAX + 1)
        return rlvr_gpu_fail(err, err_len, "advantages: n_groups %zu is too large", n_groups);
    for (size_t i = 0; i < n; i++) {
        int32_t g = group_index[i];
        if (g < 0 || (uint64_t)g >= (uint64_t)n_groups)
            return rlvr_gpu_fail(err, err_len, "advantages: group_index[%zu] = %ld is outside 0..%zu", i, (long)g,
                        n_groups - 1);
        if (isinf(rewards[i]))
            return rlvr_gpu_fail(err, err_len, "advantages: reward[%zu] is infinite", i);
    }
    return 0;
}
