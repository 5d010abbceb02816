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

/* Number of CUDA devices the runtime reports and this build can use; 0 when
 * built without CUDA, when no device or driver is present, or on any error. */
int rlvr_gpu_available(void);

/* Writes a one-line description of the backend into buf[len], e.g.
 * "built without CUDA", "CUDA 13.0 runtime, no device (...)" or
 * "CUDA 13.0, 1 device: NVIDIA H100 80GB HBM3 (sm_90, 80 GiB)".
 * Returns 0 (-1 only when buf is NULL or len is 0). */
int rlvr_gpu_describe(char *buf, size_t len);

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
