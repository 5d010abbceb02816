/*
 * grpo_kernels.cuh -- the device-side pieces that gpu/logprob.cu and
 * gpu/grpo_loss.cu share (nvcc only): one block per vocabulary row, its
 * log-sum-exp sweep and its gradient sweep, the shared refusal word, the
 * counted device allocations, and the host-side error helpers.
 *
 * Launch shape of every row kernel: gridDim.x = number of rows (<= 2^31 - 1),
 * blockDim.x = kRowThreads (512, a multiple of 32; __launch_bounds__ say
 * so). Every thread of a block calls block_row_stats together (it
 * synchronises); they return the same merged accumulator to all threads, so
 * every later decision about the row is uniform across the block.
 *
 * The merge order is fixed: within a warp a butterfly with offsets 16, 8,
 * 4, 2, 1 (lane i merges with lane i ^ off, self first), then warp 0 does the
 * same over the warps' lane-0 results (missing warps are empty). The CPU
 * check (tests/test_gpu_grpo_math.cc) replays this order with the same
 * functions (grpo_math.cuh), so only the shuffles themselves are left to
 * the GPU test.
 *
 * Refusals: a kernel that finds a bad input does atomicMin on one 64-bit
 * word, key = position * 8 + kind, so that the host reports the first bad
 * position in the order the CPU reference checks them (kinds per call are
 * listed where they are used); kKeyNone means no refusal.
 */
#ifndef RLVR_GRPO_KERNELS_CUH
#define RLVR_GRPO_KERNELS_CUH

#include "gpu_fail.h"
#include "grpo_math.cuh"

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdarg.h>
#include <stdio.h>

namespace rlvr_grpo {

constexpr int kRowThreads = 512;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr unsigned long long kKeyNone = ~0ull;

/* ---- host-side helpers ---------------------------------------------------------------- */


inline int cuda_fail(char *err, size_t err_len, const char *who, const char *what, cudaError_t e)
{
    (void)cudaGetLastError(); /* clear a non-sticky error for the caller */
    return rlvr_gpu_fail(err, err_len, "%s: %s: %s", who, what, cudaGetErrorString(e));
}

/* Counted device allocations (gpu/logprob.cu defines them); the same as
 * rlvr_gpu_grpo_alloc / _free without the error text. */
cudaError_t counted_malloc(void **p, size_t bytes);
void counted_free(void *p);

inline size_t dtype_size(int dtype)
{
    return dtype == RLVR_GPU_BF16 ? 2 : 4;
}

/* ---- device-side helpers ----------------------------------------------------------------- */

__device__ inline void from_float(float v, float *dst)
{
    *dst = v;
}
__device__ inline void from_float(float v, __nv_bfloat16 *dst)
{
    *dst = __float2bfloat16_rn(v);
}

__device__ inline LseAcc shfl_acc(LseAcc a, int off)
{
    LseAcc b;
    b.m = __shfl_xor_sync(kFullMask, a.m, off);
    b.s = __shfl_xor_sync(kFullMask, a.s, off);
    b.w = __shfl_xor_sync(kFullMask, a.w, off);
    return b;
}

__device__ inline LseAcc warp_merge(LseAcc a)
{
    for (int off = 16; off > 0; off >>= 1) a = acc_merge(a, shfl_acc(a, off));
    return a;
}

/* The row's merged accumulator (the same in every thread) and its bad flag
 * (NaN or +Inf anywhere). x[V] is the row. Called by the whole block. */
template <typename T>
__device__ LseAcc block_row_stats(const T *x, uint32_t V, float inv_t, bool want_w, int *bad_out)
{
    __shared__ LseAcc part[kRowThreads / 32];
    __shared__ LseAcc total;
    int bad = 0;
    LseAcc a = row_partial(x, V, threadIdx.x, blockDim.x, inv_t, want_w, &bad);
    a = warp_merge(a);
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) part[warp] = a;
    bad = __syncthreads_or(bad); /* also the barrier for part[] */
    if (warp == 0) {
        a = lane < blockDim.x / 32 ? part[lane] : acc_empty();
        a = warp_merge(a);
        if (lane == 0) total = a;
    }
    __syncthreads();
    a = total;
    *bad_out = bad;
    return a;
}

/* Writes the gradient of row x[V] into d[V] (d may be x): c * ([v == id] -
 * exp(x[v] / T - lse)). Walks the row backwards so that its most recently
 * read end is written first, while it may still sit in L2. Each entry is
 * read and written by one thread, read first. The gradient's type may
 * differ from the logits' (fp32 logits, a bf16 gradient: then d is another
 * array). */
template <typename TX, typename TD>
__device__ void block_row_grad(const TX *x, TD *d, uint32_t V, float inv_t, float lse, float c, uint32_t id)
{
    const uint32_t nt = blockDim.x;
    if (threadIdx.x >= V) return;
    uint32_t v = threadIdx.x + ((V - 1 - threadIdx.x) / nt) * nt;
    for (;;) {
        float g = grad_elem(to_float(x[v]), inv_t, lse, c, v == id);
        from_float(g, &d[v]);
        if (v < nt) break;
        v -= nt;
    }
}

template <typename T>
__device__ void block_row_zero(T *d, uint32_t V)
{
    for (uint32_t v = threadIdx.x; v < V; v += blockDim.x) from_float(0.0f, &d[v]);
}

/* ---- the policy loss's pipeline (defined in grpo_loss.cu) ----------------------------------
 * rlvr_gpu_grpo_loss_dev runs it over the whole micro-batch's logits as one
 * chunk; the fused linear loss (grpo_linear.cu, driven by grpo_linear.cuh)
 * over chunks of rows whose logits it has just computed. The per-sequence
 * work (counts, weights, GSPO's terms) and the metrics are always the whole
 * micro-batch's; only the row kernels see a chunk, rows row0 .. row0 + n - 1
 * of the batch, whose logits are the chunk's rows 0 .. n - 1. */

/* What the kernels read; pointers are device memory ([R] per position,
 * [B] per sequence). */
struct LossArgs {
    const int32_t *tokens;
    const uint8_t *mask, *trunc;
    const float *old, *ref, *adv;
    uint32_t T, V;
    float inv_t;
    int want_ent;
    rlvr_grpo_config cfg;
    const double *w;       /* [B] */
    const SeqTerms *seq;   /* [B], PHASE_GRAD */
    float *lp, *lse, *ent; /* [R] kept by PHASE_STATS */
    TokRec *rec;           /* [R] */
    float *out_logp, *out_ent, *out_dlogp; /* [R] or NULL */
    unsigned long long *key;
};

struct LossRun {
    rlvr_grpo_config c;
    const rlvr_gpu_grpo_batch *in; /* device arrays; its logits are not read here */
    size_t B, T, R;
    LossWs ws;
    LossArgs a;
};

/* The checks that need no device, in the CPU's order (the configuration,
 * the batch's pointers and sizes, the temperature; with from_logits, the
 * logits pointer and dtype too). *dapo_msg gets the dapo_tokens refusal,
 * which the CPU reports only after its first pass ("" when none). */
int loss_checks(const rlvr_grpo_config *c, const rlvr_gpu_grpo_batch *in, bool from_logits, char *dapo_msg,
                size_t dapo_len, char *err, size_t err_len);
/* Fills run for batch in (checked) over the workspace ws (loss_ws_carve). */
void loss_begin(LossRun &run, const rlvr_grpo_config &c, const rlvr_gpu_grpo_batch *in, const LossWs &ws);
/* Queues the counts, the first pass's checks and the weights. */
cudaError_t loss_prep(const LossRun &run);
/* Queues the row kernel of phase over rows row0 .. row0 + n - 1: logits x
 * [n, V] of type x_dtype, gradient d [n, V] of type d_dtype (NULL: none; it
 * may be x when the types agree). Types: (F32, F32), (BF16, BF16), (F32,
 * BF16); others give cudaErrorInvalidValue. */
cudaError_t loss_rows(const LossRun &run, int phase, size_t row0, size_t n, const void *x, int x_dtype, void *d,
                      int d_dtype);
/* Queues GSPO's per-sequence terms (after every row's PHASE_STATS). */
cudaError_t loss_seq(const LossRun &run);
/* Queues the metrics' reduction, reads the status back (synchronising) and
 * reports the first refusal as the CPU would, else the dapo_msg of
 * loss_checks, else fills *metrics (may be NULL). 0 or -1. */
int loss_end(const LossRun &run, const char *dapo_msg, rlvr_gpu_grpo_metrics *metrics, char *err, size_t err_len);

} // namespace rlvr_grpo

#endif
