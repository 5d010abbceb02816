/*
 * advantage.cu -- GRPO group advantages on the GPU (rlvr_gpu_group_advantages
 * of gpu.h; CPU reference: host/advantage.c, whose semantics it keeps).
 *
 * Three kernels, each a grid-stride pass over the n samples, with the group
 * statistics in global memory (slot n_groups holds the whole batch):
 *   k_sum  sum[g] += r, count[g] += 1      over non-null rewards
 *   k_dev  m2[g]  += (r - sum[g]/count[g])^2          (two-pass variance)
 *   k_adv  A = (r - mean_g) / (std + eps), 0 for null rewards
 * Groups may be of any size, in any order, empty or all null. Additions go
 * through double-precision atomics; a warp whose active lanes all fall into
 * one group (the usual layout: a prompt's completions side by side) first
 * sums in registers and issues one atomic, and the batch slot is reduced per
 * block, so contention stays low. All arithmetic is double, as on the CPU;
 * only the order of additions differs, so the results agree with the CPU
 * reference to within 1e-6 * max(1, |A|) (in practice to an ulp of float)
 * and are not bit-for-bit reproducible from run to run.
 *
 * Invariants: inputs are checked on the host before anything is copied, by
 * rlvr_advantage_check (advantage_check.c), which the CPU reference calls too; the kernels
 * still skip an out-of-range group index rather than write out of bounds.
 * One device allocation per call holds every array; it is freed on every
 * path. Block size is kThreads (a multiple of 32) for every launch.
 */
#include "gpu.h"
#include "gpu_fail.h"

#include <cuda_runtime.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

namespace {

constexpr int kThreads = 256;
constexpr unsigned kFullMask = 0xffffffffu;


int cuda_fail(char *err, size_t err_len, const char *what, cudaError_t e)
{
    return rlvr_gpu_fail(err, err_len, "advantages: %s: %s", what, cudaGetErrorString(e));
}

template <typename T>
__device__ T warp_sum(T v)
{
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFullMask, v, off);
    return v;
}

/* Adds v to acc[g] (and 1 to cnt[g] when cnt is given) for the lanes with
 * use set. Called by all 32 lanes of the warp together. When every using
 * lane has the same g, the warp adds once. */
__device__ void warp_add(double *acc, unsigned long long *cnt, int g, double v, bool use)
{
    unsigned ballot = __ballot_sync(kFullMask, use);
    if (!ballot) return;
    int leader = __ffs(ballot) - 1;
    int g0 = __shfl_sync(kFullMask, g, leader);
    if (__all_sync(kFullMask, !use || g == g0)) {
        double s = warp_sum(use ? v : 0.0);
        if ((int)(threadIdx.x & 31) == leader) {
            atomicAdd(&acc[g0], s);
            if (cnt) atomicAdd(&cnt[g0], (unsigned long long)__popc(ballot));
        }
    } else if (use) {
        atomicAdd(&acc[g], v);
        if (cnt) atomicAdd(&cnt[g], 1ull);
    }
}

/* Adds the block's v (one per thread) to *acc with a single atomic. Called
 * by every thread of the block (it synchronises). */
template <typename T>
__device__ void block_add(T *acc, T v)
{
    __shared__ T part[kThreads / 32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads(); /* part may still be read by a previous call */
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < kThreads / 32 ? part[lane] : T(0);
        v = warp_sum(v);
        if (lane == 0) atomicAdd(acc, v);
    }
}

__device__ double std_of(double m2, unsigned long long count)
{
    return count > 1 ? sqrt(m2 / (double)(count - 1)) : 0.0;
}

/* Pass 1: sum[g], count[g] (and slot G for the batch when batch is set).
 * rewards[n], group_index[n]; sum[G+1], count[G+1]. */
__global__ void k_sum(const float *rewards, const int32_t *group_index, size_t n, long long G,
                      bool batch, double *sum, unsigned long long *count)
{
    double bsum = 0.0;
    unsigned long long bcount = 0;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    /* base is the same for the 32 lanes of a warp: they loop together. */
    for (size_t base = (size_t)blockIdx.x * blockDim.x + (threadIdx.x & ~31u); base < n;
         base += stride) {
        size_t i = base + (threadIdx.x & 31);
        float r = i < n ? rewards[i] : NAN;
        int g = i < n ? group_index[i] : -1;
        bool use = g >= 0 && g < G && !isnan(r);
        warp_add(sum, count, g, r, use);
        if (use) {
            bsum += r;
            bcount++;
        }
    }
    if (batch) {
        block_add(&sum[G], bsum);
        block_add(&count[G], bcount);
    }
}

/* Pass 2: m2[g] = sum of (r - mean_g)^2 (and slot G around the batch mean).
 * rewards[n], group_index[n]; sum[G+1], count[G+1] read; m2[G+1] added to. */
__global__ void k_dev(const float *rewards, const int32_t *group_index, size_t n, long long G,
                      bool batch, const double *sum, const unsigned long long *count, double *m2)
{
    double bm2 = 0.0;
    double bmean = batch && count[G] ? sum[G] / (double)count[G] : 0.0;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t base = (size_t)blockIdx.x * blockDim.x + (threadIdx.x & ~31u); base < n;
         base += stride) {
        size_t i = base + (threadIdx.x & 31);
        float r = i < n ? rewards[i] : NAN;
        int g = i < n ? group_index[i] : -1;
        bool use = g >= 0 && g < G && !isnan(r);
        double d = 0.0;
        if (use) {
            d = r - sum[g] / (double)count[g];
            double db = r - bmean;
            bm2 += db * db;
        }
        warp_add(m2, nullptr, g, d * d, use);
    }
    if (batch) block_add(&m2[G], bm2);
}

/* Pass 3: advantages[n] from the statistics. */
__global__ void k_adv(const float *rewards, const int32_t *group_index, size_t n, long long G,
                      int scale, double eps, const double *sum, const unsigned long long *count,
                      const double *m2, float *advantages)
{
    double batch_den = scale == RLVR_SCALE_BATCH ? std_of(m2[G], count[G]) + eps : 1.0;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float r = rewards[i];
        int g = group_index[i];
        if (isnan(r) || g < 0 || g >= G) {
            advantages[i] = 0.0f;
            continue;
        }
        double num = r - sum[g] / (double)count[g];
        double den = scale == RLVR_SCALE_GROUP ? std_of(m2[g], count[g]) + eps
                   : scale == RLVR_SCALE_BATCH ? batch_den
                   : 1.0;
        advantages[i] = den == 0.0 ? 0.0f : (float)(num / den);
    }
}

/* Bytes at which the next array starts, aligned for any element type. */
size_t align_up(size_t x)
{
    return (x + 255) & ~(size_t)255;
}

} // namespace

extern "C" int rlvr_gpu_group_advantages(const float *rewards, const int32_t *group_index,
                                         size_t n, size_t n_groups, int scale, float eps,
                                         float *advantages, char *err, size_t err_len)
{
    if (rlvr_advantage_check(rewards, group_index, n, n_groups, scale, eps, advantages, err, err_len))
        return -1;
    if (n == 0) return 0;

    int devices = 0;
    cudaError_t e = cudaGetDeviceCount(&devices);
    if (e != cudaSuccess || devices <= 0) {
        (void)cudaGetLastError();
        return rlvr_gpu_fail(err, err_len, "advantages: no CUDA device (%s)",
                    e != cudaSuccess ? cudaGetErrorString(e) : "none found");
    }
    int dev = 0, sms = 0;
    if ((e = cudaGetDevice(&dev)) != cudaSuccess ||
        (e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev)) != cudaSuccess)
        return cuda_fail(err, err_len, "device query", e);

    /* One allocation: sum[G+1] m2[G+1] (double), count[G+1] (u64), then
     * rewards[n] (float), group_index[n] (int32), advantages[n] (float). */
    size_t slots = n_groups + 1;
    if (n > SIZE_MAX / 16 || slots > SIZE_MAX / 32)
        return rlvr_gpu_fail(err, err_len, "advantages: %zu samples, %zu groups: too large", n, n_groups);
    size_t off_m2 = align_up(slots * sizeof(double));
    size_t off_count = off_m2 + align_up(slots * sizeof(double));
    size_t off_rewards = off_count + align_up(slots * sizeof(unsigned long long));
    size_t off_index = off_rewards + align_up(n * sizeof(float));
    size_t off_adv = off_index + align_up(n * sizeof(int32_t));
    size_t bytes = off_adv + align_up(n * sizeof(float));

    char *mem = nullptr;
    if ((e = cudaMalloc((void **)&mem, bytes)) != cudaSuccess) {
        (void)cudaGetLastError();
        return rlvr_gpu_fail(err, err_len, "advantages: cudaMalloc of %zu bytes: %s", bytes,
                    cudaGetErrorString(e));
    }
    double *d_sum = (double *)mem;
    double *d_m2 = (double *)(mem + off_m2);
    unsigned long long *d_count = (unsigned long long *)(mem + off_count);
    float *d_rewards = (float *)(mem + off_rewards);
    int32_t *d_index = (int32_t *)(mem + off_index);
    float *d_adv = (float *)(mem + off_adv);

    int rc = 0;
    const char *what = "copy to device";
    long long G = (long long)n_groups;
    bool batch = scale == RLVR_SCALE_BATCH;
    size_t want = (n + kThreads - 1) / kThreads, cap = (size_t)(sms > 0 ? sms : 1) * 8;
    unsigned blocks = (unsigned)(want < cap ? want : cap);
    if ((e = cudaMemcpy(d_rewards, rewards, n * sizeof(float), cudaMemcpyHostToDevice)) != cudaSuccess ||
        (e = cudaMemcpy(d_index, group_index, n * sizeof(int32_t), cudaMemcpyHostToDevice)) != cudaSuccess)
        goto out;
    what = "clear statistics";
    if ((e = cudaMemset(mem, 0, off_rewards)) != cudaSuccess) goto out;
    what = "launch";
    k_sum<<<blocks, kThreads>>>(d_rewards, d_index, n, G, batch, d_sum, d_count);
    k_dev<<<blocks, kThreads>>>(d_rewards, d_index, n, G, batch, d_sum, d_count, d_m2);
    k_adv<<<blocks, kThreads>>>(d_rewards, d_index, n, G, scale, (double)eps, d_sum, d_count, d_m2,
                                d_adv);
    if ((e = cudaGetLastError()) != cudaSuccess) goto out;
    what = "copy from device";
    e = cudaMemcpy(advantages, d_adv, n * sizeof(float), cudaMemcpyDeviceToHost);
out:
    if (e != cudaSuccess) rc = cuda_fail(err, err_len, what, e);
    cudaFree(mem);
    return rc;
}
