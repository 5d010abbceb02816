/*
 * gpu.h -- the whole face of rlvr's CUDA backend (gpu/), as plain C.
 *
 * The host reaches gpu/ through this header alone: no CUDA type, no CUDA
 * header and no host header appears here, so any C11 file can include it
 * whether or not the build has CUDA. Two implementations exist and exactly
 * one is linked: gpu_host.c + *.cu (built with nvcc when configure found
 * CUDA), or gpu_stub.c (no CUDA: nothing is available, every kernel entry
 * point fails with "built without CUDA"). Dependence runs host -> gpu, never
 * back, so the GRPO constants that both sides share (the reward scaling
 * modes below) are defined here, once, and host/advantage.h includes this
 * header for them instead of repeating the values.
 *
 * Conventions, kept by every function declared here:
 *  - a status is returned (0 ok, -1 failure); on failure a one-line message is
 *    written into err[err_len] (always NUL-terminated, truncated if need be;
 *    err may be NULL or err_len 0 when the caller does not want it);
 *  - nothing here exits, aborts or prints;
 *  - array arguments are host memory unless a name says otherwise; their
 *    shapes are given in brackets in the comments ([n] = n elements);
 *  - every kernel has a CPU reference in host/ with the same semantics, and a
 *    test (tests/test_gpu_*.c) holds the two together within a stated
 *    tolerance.
 */
#ifndef RLVR_GPU_H
#define RLVR_GPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How group advantages are scaled (TRL's `scale_rewards`). The values are
 * part of the contract: configuration maps the names to these numbers.
 *   GROUP: A = (r - group mean) / (unbiased group std + eps)   (GRPO, default)
 *   NONE:  A =  r - group mean                                 (Dr. GRPO)
 *   BATCH: A = (r - group mean) / (unbiased std of the whole batch + eps) */
#define RLVR_SCALE_GROUP 0
#define RLVR_SCALE_NONE 1
#define RLVR_SCALE_BATCH 2

/* The default eps of the advantage denominator (DeepSeek-R1, TRL). */
#define RLVR_ADVANTAGE_EPS 1e-4f

/* The advantage baseline (RLOO as an option beside GRPO's group mean):
 *   MEAN: r - mean of the group's non-null rewards            (GRPO, default)
 *   RLOO: r - mean of the group's other non-null rewards
 *         = (r - mean) * c / (c - 1) for c >= 2 non-null rewards, else 0
 * The chosen scale divides either. verl's RLOO is RLOO with SCALE_NONE. */
#define RLVR_BASELINE_MEAN 0
#define RLVR_BASELINE_RLOO 1

/* ---- The GRPO policy loss: conventions shared by the CPU reference ------------
 * (host/grpo.h, where every field is defined in full) and the CUDA kernels
 * (the loss and log-probability kernels take this same struct when they
 * come; they are defined here because gpu/ may include nothing of host/). The
 * names follow TRL's GRPOConfig (loss_type, beta, epsilon_low/high, delta,
 * importance_sampling_level, mask_truncated_completions,
 * max_completion_length) and verl (clip_ratio_c: the dual clip; kl_loss_type).
 * The numbers are part of the contract: configuration maps names to them. */
#define RLVR_LOSS_GRPO 0    /* token mean per sequence, then mean over sequences */
#define RLVR_LOSS_BNPO 1    /* mean over the micro-batch's active tokens */
#define RLVR_LOSS_DAPO 2    /* sum over the accumulated batch's active tokens */
#define RLVR_LOSS_DR_GRPO 3 /* sum / (B * max_completion_length) */

#define RLVR_KL_K3 0 /* exp(d) - d - 1, d = ref - logp   (low_var_kl; default) */
#define RLVR_KL_K1 1 /* -d = logp - ref                  (kl) */
#define RLVR_KL_K2 2 /* d^2 / 2                          (mse) */

#define RLVR_IS_TOKEN 0    /* one importance ratio per token (GRPO, DAPO) */
#define RLVR_IS_SEQUENCE 1 /* one per sequence: exp(mean token log-ratio) (GSPO) */

/* Log-ratios (logp - old_logp, or GSPO's mean of them) and KL's d = ref - logp
 * are clamped to [-RLVR_LOG_RATIO_CLAMP, +RLVR_LOG_RATIO_CLAMP] before exp(),
 * as verl does; a clamped value passes no gradient (torch.clamp's rule). */
#define RLVR_LOG_RATIO_CLAMP 20.0f

struct rlvr_grpo_config {
    int loss_type;                 /* RLVR_LOSS_*; default GRPO */
    int importance_level;          /* RLVR_IS_*; default TOKEN */
    int kl_estimator;              /* RLVR_KL_*; default K3 */
    int mask_truncated;            /* 1: truncated completions leave the loss */
    float epsilon_low;             /* clip below at 1 - epsilon_low; default 0.2 */
    float epsilon_high;            /* clip above at 1 + epsilon_high; default 0.2 */
    float delta;                   /* 0 off; else cap of the unclipped ratio */
    float dual_clip;               /* 0 off; else c > 1: loss <= -c*A for A < 0 */
    float beta;                    /* KL coefficient; default 0.001 */
    int32_t max_completion_length; /* dr_grpo's divisor; default 256 */
    int32_t grad_accum_steps;      /* micro-batches per optimizer step; default 1 */
};

/* Checks a configuration: known enums, epsilons in [0, 1), delta 0 or
 * > 1 + epsilon_high, dual_clip 0 or > 1, beta finite and >= 0,
 * max_completion_length >= 1, grad_accum_steps >= 1. Returns 0, or -1 with
 * the message in err. One implementation (gpu/grpo_check.c), run by the CPU
 * core and the GPU loss alike; built in every configuration. */
int rlvr_grpo_config_check(const struct rlvr_grpo_config *cfg, char *err, size_t err_len);

/* The GRPO kernels (log-probabilities, entropy, the policy loss and its
 * gradient) and the policy's kernels (layers, attention, optimizer, the
 * model's forward and backward) are declared in these two parts of this
 * header, kept in their own files so that each area reads alone. They are
 * part of gpu.h's face: the host includes gpu.h, never them directly. */
#include "gpu_grpo.h"
#include "gpu_model.h"

/* Number of CUDA devices the runtime reports and this build can use; 0 when
 * built without CUDA, when no device or driver is present, or on any error. */
int rlvr_gpu_available(void);

/* Writes a one-line description of the backend into buf[len], e.g.
 * "built without CUDA", "CUDA 13.0 runtime, no device (...)" or
 * "CUDA 13.0, 1 device: NVIDIA H100 80GB HBM3 (sm_90, 80 GiB)".
 * Returns 0 (-1 only when buf is NULL or len is 0). */
int rlvr_gpu_describe(char *buf, size_t len);

/* cuBLAS is not linked: gpu/cublas_load.c opens it (dlopen) the first time
 * gpu/ calls one of its functions, so a process that stays on the CPU never
 * maps it. This loads it now (once; later calls return the first outcome):
 * 0 when loaded, else -1 with the reason in err, e.g. "cannot load cuBLAS:
 * libcublas.so.13: cannot open shared object file: No such file or
 * directory" ("built without CUDA" without CUDA). The environment variable
 * RLVR_CUBLAS_LIBRARY=FILE names the file to open instead of the soname
 * configure found. Calling it is never required: it gives the reason up
 * front, for messages and tests. */
int rlvr_cublas_load(char *err, size_t err_len);

/* GRPO group advantages on the GPU (CPU reference: rlvr_group_advantages in
 * host/advantage.h; the semantics are the same, word for word):
 *   rewards[n]      reward of each sample; NaN means null (abstained or
 *                   errored): left out of every statistic, advantage 0.
 *                   +-Inf is refused (status -1).
 *   group_index[n]  group (prompt) of each sample, 0 <= g < n_groups; groups
 *                   need not be contiguous nor of equal size; a group may be
 *                   empty or all null.
 *   scale           RLVR_SCALE_GROUP, RLVR_SCALE_NONE or RLVR_SCALE_BATCH.
 *   eps             finite and >= 0 (RLVR_ADVANTAGE_EPS by default); unused
 *                   by RLVR_SCALE_NONE.
 *   advantages[n]   out; may alias nothing else.
 * Group statistics: mean over the group's non-null rewards; std unbiased
 * (divides by count - 1), 0 for a group with fewer than two non-null
 * rewards. Where a denominator std + eps is 0 (eps = 0 and all rewards of
 * the group equal), the advantage is 0. Accumulation is in double on both
 * sides; results agree with the CPU reference to within
 * 1e-6 * max(1, |A|) (only the order of additions differs).
 * The arrays are host memory: they are copied to the current device and
 * back (a device-resident variant comes with the trainer's GPU path).
 * n = 0 is a no-op returning 0. */
/* The refusals both implementations share (gpu/advantage_check.c): NULL
 * arrays with n > 0, an unknown scale, a bad eps, no or too many groups, a
 * group index out of range, an infinite reward. Returns 0, or -1 with the
 * message in err. Built in every configuration. */
int rlvr_advantage_check(const float *rewards, const int32_t *group_index, size_t n, size_t n_groups,
                         int scale, float eps, const float *advantages, char *err, size_t err_len);

int rlvr_gpu_group_advantages(const float *rewards, const int32_t *group_index,
                              size_t n, size_t n_groups, int scale, float eps,
                              float *advantages, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
