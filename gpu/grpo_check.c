/*
 * grpo_check.c -- the check of a GRPO configuration (struct
 * rlvr_grpo_config, gpu.h) that the CPU core (host/grpo_loss.c) and the GPU
 * loss (gpu/grpo_loss.cu) both run, written once so that both refuse the
 * same settings with the same messages. Plain C, libc and libm only; built
 * in every configuration (with CUDA or without), as advantage_check.c is,
 * since the host calls it too.
 */
#include <math.h>

#include "gpu.h"
#include "gpu_fail.h"

int rlvr_grpo_config_check(const struct rlvr_grpo_config *c, char *err, size_t err_len)
{
    if (err && err_len) err[0] = '\0';
    if (!c) return rlvr_gpu_fail(err, err_len, "grpo: no configuration");
    if (c->loss_type < RLVR_LOSS_GRPO || c->loss_type > RLVR_LOSS_DR_GRPO)
        return rlvr_gpu_fail(err, err_len, "grpo: unknown loss_type %d (want grpo, bnpo, dapo or dr_grpo)",
                             c->loss_type);
    if (c->importance_level != RLVR_IS_TOKEN && c->importance_level != RLVR_IS_SEQUENCE)
        return rlvr_gpu_fail(err, err_len, "grpo: unknown importance_sampling_level %d (want token or sequence)",
                             c->importance_level);
    if (c->kl_estimator < RLVR_KL_K3 || c->kl_estimator > RLVR_KL_K2)
        return rlvr_gpu_fail(err, err_len, "grpo: unknown kl estimator %d (want k3, k1 or k2)", c->kl_estimator);
    if (!(c->epsilon_low >= 0.0f && c->epsilon_low < 1.0f))
        return rlvr_gpu_fail(err, err_len, "grpo: epsilon_low %g must be in [0, 1)", (double)c->epsilon_low);
    if (!(c->epsilon_high >= 0.0f && c->epsilon_high < 1.0f))
        return rlvr_gpu_fail(err, err_len, "grpo: epsilon_high %g must be in [0, 1)", (double)c->epsilon_high);
    if (!(c->delta == 0.0f || (isfinite(c->delta) && c->delta > 1.0f + c->epsilon_high)))
        return rlvr_gpu_fail(err, err_len, "grpo: delta %g must be 0 (off) or above 1 + epsilon_high",
                             (double)c->delta);
    if (!(c->dual_clip == 0.0f || (isfinite(c->dual_clip) && c->dual_clip > 1.0f)))
        return rlvr_gpu_fail(err, err_len, "grpo: dual_clip %g must be 0 (off) or above 1", (double)c->dual_clip);
    if (!(isfinite(c->beta) && c->beta >= 0.0f))
        return rlvr_gpu_fail(err, err_len, "grpo: beta %g must be finite and >= 0", (double)c->beta);
    if (c->max_completion_length < 1)
        return rlvr_gpu_fail(err, err_len, "grpo: max_completion_length %ld must be >= 1",
                             (long)c->max_completion_length);
    if (c->grad_accum_steps < 1)
        return rlvr_gpu_fail(err, err_len, "grpo: grad_accum_steps %ld must be >= 1", (long)c->grad_accum_steps);
    return 0;
}
