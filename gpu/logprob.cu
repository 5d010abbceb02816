/*
 * logprob.cu -- token log-probabilities with entropy, and their gradient to
 * the logits, on the GPU (rlvr_gpu_logprobs*, rlvr_gpu_logprobs_backward* of
 * gpu_grpo.h; CPU reference: host/logprob.c), plus the counted device
 * memory that every GRPO kernel allocates through.
 *
 * k_logprobs: one block per row; one sweep over the row gives the online
 * log-sum-exp (and the entropy's sum when asked), merged across the block
 * (grpo_kernels.cuh); thread 0 stores logp, lse, entropy. k_backward: one
 * block per row; the log-sum-exp is taken from lse[] or recomputed by a
 * first sweep, then the gradient is written by a second, backwards sweep.
 * Nothing of size [n, V] is allocated besides the caller's gradient.
 *
 * Refusal kinds (key = row * 8 + kind, first row wins, as on the CPU):
 * logprobs: 0 token out of range, 1 NaN/+Inf/all -Inf, 2 taken logit -Inf;
 * backward: 0 dlogp not finite, 1 token out of range, 2 NaN/+Inf/all -Inf.
 *
 * Invariants: inputs the host can check (pointers, sizes, temperature) are
 * checked before any device work; every path frees what it allocated; the
 * host wrappers copy results back only after a successful run; the
 * allocation counters are updated atomically (thread-safe).
 */
#include "gpu.h"
#include "grpo_kernels.cuh"

#include <math.h>
#include <stdint.h>
#include <string.h>

using namespace rlvr_grpo;

namespace {

size_t g_in_use = 0, g_peak = 0;

enum { LP_TOKEN = 0, LP_ROW = 1, LP_TAKEN = 2 };
enum { BW_DLOGP = 0, BW_TOKEN = 1, BW_ROW = 2 };

/* logits[n, V] (T = float or bf16), tokens[n], rows[n] or NULL; outputs [n]
 * (lse and entropy may be NULL). Grid n blocks of kRowThreads. */
template <typename T>
__global__ void __launch_bounds__(kRowThreads)
    k_logprobs(const T *logits, const int32_t *tokens, const uint8_t *rows, uint32_t V, float inv_t, float *logp,
               float *lse, float *entropy, unsigned long long *key)
{
    const size_t row = blockIdx.x;
    if (rows && !rows[row]) {
        if (threadIdx.x == 0) {
            logp[row] = 0.0f;
            if (lse) lse[row] = 0.0f;
            if (entropy) entropy[row] = 0.0f;
        }
        return;
    }
    const int32_t id = tokens[row];
    if (id < 0 || (uint32_t)id >= V) {
        if (threadIdx.x == 0) atomicMin(key, (unsigned long long)row * 8 + LP_TOKEN);
        return;
    }
    const T *x = logits + row * V;
    int bad;
    LseAcc a = block_row_stats(x, V, inv_t, entropy != nullptr, &bad);
    if (threadIdx.x != 0) return;
    RowLogp r = row_finish(a, bad, to_float(x[id]), inv_t);
    if (r.status != ROW_OK) {
        atomicMin(key, (unsigned long long)row * 8 + (r.status == ROW_BAD_LOGITS ? LP_ROW : LP_TAKEN));
        return;
    }
    logp[row] = r.logp;
    if (lse) lse[row] = r.lse;
    if (entropy) entropy[row] = r.entropy;
}

/* dlogits[n, V] from logits[n, V], tokens[n], rows[n] or NULL, lse[n] or
 * NULL, dlogp[n]. Grid n blocks of kRowThreads. d may be logits. */
template <typename T>
__global__ void __launch_bounds__(kRowThreads)
    k_backward(const T *logits, const int32_t *tokens, const uint8_t *rows, const float *lse, const float *dlogp,
               uint32_t V, float inv_t, T *dlogits, unsigned long long *key)
{
    const size_t row = blockIdx.x;
    T *d = dlogits + row * V;
    const float g = dlogp[row];
    if ((rows && !rows[row]) || g == 0.0f) {
        block_row_zero(d, V);
        return;
    }
    if (!(g > -INFINITY && g < INFINITY)) {
        if (threadIdx.x == 0) atomicMin(key, (unsigned long long)row * 8 + BW_DLOGP);
        return;
    }
    const int32_t id = tokens[row];
    if (id < 0 || (uint32_t)id >= V) {
        if (threadIdx.x == 0) atomicMin(key, (unsigned long long)row * 8 + BW_TOKEN);
        return;
    }
    const T *x = logits + row * V;
    float l;
    if (lse) {
        l = lse[row];
    } else {
        int bad;
        LseAcc a = block_row_stats(x, V, inv_t, false, &bad);
        if (bad || !(a.m > -INFINITY)) {
            if (threadIdx.x == 0) atomicMin(key, (unsigned long long)row * 8 + BW_ROW);
            return;
        }
        double ld, h;
        acc_finish(a, &ld, &h);
        l = (float)ld;
    }
    block_row_grad(x, d, V, inv_t, l, g * inv_t, (uint32_t)id);
}

int check_common(const void *logits, const int32_t *tokens, size_t n, size_t vocab, int dtype, float temperature,
                 const char *who, char *err, size_t err_len)
{
    if (err && err_len) err[0] = '\0';
    if (n && (!logits || !tokens)) return rlvr_gpu_fail(err, err_len, "%s: logits or tokens is NULL", who);
    if (n && vocab == 0) return rlvr_gpu_fail(err, err_len, "%s: vocab is 0", who);
    if (vocab > (size_t)INT32_MAX) return rlvr_gpu_fail(err, err_len, "%s: vocab %zu is too large", who, vocab);
    if (!(temperature > 0.0f) || !isfinite(temperature))
        return rlvr_gpu_fail(err, err_len, "%s: temperature %g must be finite and > 0", who, (double)temperature);
    if (dtype != RLVR_GPU_F32 && dtype != RLVR_GPU_BF16)
        return rlvr_gpu_fail(err, err_len, "%s: unknown dtype %d (want RLVR_GPU_F32 or RLVR_GPU_BF16)", who, dtype);
    if (n > (size_t)INT32_MAX) return rlvr_gpu_fail(err, err_len, "%s: %zu rows is too many for one call", who, n);
    if (n && vocab > SIZE_MAX / 4 / n) return rlvr_gpu_fail(err, err_len, "%s: %zu x %zu logits overflow", who, n, vocab);
    return 0;
}

/* The refusal word: allocated, set to kKeyNone, read back. */
struct KeyWord {
    unsigned long long *d = nullptr;
    cudaError_t init()
    {
        cudaError_t e = counted_malloc((void **)&d, sizeof *d);
        if (e != cudaSuccess) return e;
        return cudaMemset(d, 0xff, sizeof *d);
    }
    cudaError_t read(unsigned long long *out)
    {
        return cudaMemcpy(out, d, sizeof *out, cudaMemcpyDeviceToHost);
    }
    ~KeyWord() { counted_free(d); }
};

} // namespace

/* ---- counted device memory ------------------------------------------------------- */

/* Each allocation carries its size in a 256-byte header in front of it, so
 * that free can count it down; the pointer returned stays 256-aligned. */
cudaError_t rlvr_grpo::counted_malloc(void **p, size_t bytes)
{
    *p = nullptr;
    if (bytes > SIZE_MAX - 256) return cudaErrorMemoryAllocation;
    char *base = nullptr;
    cudaError_t e = cudaMalloc((void **)&base, bytes + 256);
    if (e != cudaSuccess) return e;
    e = cudaMemcpy(base, &bytes, sizeof bytes, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) {
        cudaFree(base);
        return e;
    }
    size_t now = __atomic_add_fetch(&g_in_use, bytes, __ATOMIC_SEQ_CST);
    size_t peak = __atomic_load_n(&g_peak, __ATOMIC_SEQ_CST);
    while (now > peak && !__atomic_compare_exchange_n(&g_peak, &peak, now, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    *p = base + 256;
    return cudaSuccess;
}

void rlvr_grpo::counted_free(void *p)
{
    if (!p) return;
    char *base = (char *)p - 256;
    size_t bytes = 0;
    if (cudaMemcpy(&bytes, base, sizeof bytes, cudaMemcpyDeviceToHost) == cudaSuccess)
        __atomic_sub_fetch(&g_in_use, bytes, __ATOMIC_SEQ_CST);
    else
        (void)cudaGetLastError();
    cudaFree(base);
}

extern "C" int rlvr_gpu_grpo_alloc(void **d_ptr, size_t bytes, char *err, size_t err_len)
{
    if (!d_ptr) return rlvr_gpu_fail(err, err_len, "gpu alloc: d_ptr is NULL");
    cudaError_t e = counted_malloc(d_ptr, bytes);
    if (e != cudaSuccess) return rlvr_gpu_fail(err, err_len, "gpu alloc: %zu bytes: %s", bytes, cudaGetErrorString(e));
    return 0;
}

extern "C" void rlvr_gpu_grpo_free(void *d_ptr)
{
    counted_free(d_ptr);
}

extern "C" int rlvr_gpu_grpo_upload(void *d_dst, const void *src, size_t bytes, char *err, size_t err_len)
{
    cudaError_t e = cudaMemcpy(d_dst, src, bytes, cudaMemcpyHostToDevice);
    return e == cudaSuccess ? 0 : cuda_fail(err, err_len, "gpu upload", "cudaMemcpy", e);
}

extern "C" int rlvr_gpu_grpo_download(void *dst, const void *d_src, size_t bytes, char *err, size_t err_len)
{
    cudaError_t e = cudaMemcpy(dst, d_src, bytes, cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? 0 : cuda_fail(err, err_len, "gpu download", "cudaMemcpy", e);
}

extern "C" int rlvr_gpu_grpo_sync(char *err, size_t err_len)
{
    cudaError_t e = cudaDeviceSynchronize();
    return e == cudaSuccess ? 0 : cuda_fail(err, err_len, "gpu sync", "cudaDeviceSynchronize", e);
}

extern "C" void rlvr_gpu_grpo_memory(size_t *in_use, size_t *peak)
{
    if (in_use) *in_use = __atomic_load_n(&g_in_use, __ATOMIC_SEQ_CST);
    if (peak) *peak = __atomic_load_n(&g_peak, __ATOMIC_SEQ_CST);
}

extern "C" void rlvr_gpu_grpo_memory_reset_peak(void)
{
    __atomic_store_n(&g_peak, __atomic_load_n(&g_in_use, __ATOMIC_SEQ_CST), __ATOMIC_SEQ_CST);
}

/* ---- log-probabilities ------------------------------------------------------------------ */

extern "C" int rlvr_gpu_logprobs_dev(const void *d_logits, int dtype, const int32_t *d_tokens, const uint8_t *d_rows,
                                     size_t n, size_t vocab, float temperature, float *d_logp, float *d_lse,
                                     float *d_entropy, char *err, size_t err_len)
{
    if (check_common(d_logits, d_tokens, n, vocab, dtype, temperature, "logprobs", err, err_len)) return -1;
    if (n && !d_logp) return rlvr_gpu_fail(err, err_len, "logprobs: logp is NULL");
    if (n == 0) return 0;
    const float inv_t = 1.0f / temperature;
    KeyWord key;
    cudaError_t e = key.init();
    if (e != cudaSuccess) return cuda_fail(err, err_len, "logprobs", "status word", e);
    if (dtype == RLVR_GPU_BF16)
        k_logprobs<<<(unsigned)n, kRowThreads>>>((const __nv_bfloat16 *)d_logits, d_tokens, d_rows, (uint32_t)vocab,
                                                 inv_t, d_logp, d_lse, d_entropy, key.d);
    else
        k_logprobs<<<(unsigned)n, kRowThreads>>>((const float *)d_logits, d_tokens, d_rows, (uint32_t)vocab, inv_t,
                                                 d_logp, d_lse, d_entropy, key.d);
    if ((e = cudaGetLastError()) != cudaSuccess) return cuda_fail(err, err_len, "logprobs", "launch", e);
    unsigned long long k;
    if ((e = key.read(&k)) != cudaSuccess) return cuda_fail(err, err_len, "logprobs", "run", e);
    if (k == kKeyNone) return 0;
    size_t row = (size_t)(k / 8);
    switch ((int)(k % 8)) {
    case LP_TOKEN: {
        int32_t id = 0;
        const int32_t *src = d_tokens + row;
        if ((e = cudaMemcpy(&id, src, sizeof id, cudaMemcpyDeviceToHost)) != cudaSuccess)
            return cuda_fail(err, err_len, "logprobs", "read token", e);
        return rlvr_gpu_fail(err, err_len, "logprobs: row %zu: token %ld is outside 0..%zu", row, (long)id, vocab - 1);
    }
    case LP_ROW: return rlvr_gpu_fail(err, err_len, "logprobs: row %zu: logits hold NaN or +Inf, or are all -Inf", row);
    default: {
        int32_t id = 0;
        if ((e = cudaMemcpy(&id, d_tokens + row, sizeof id, cudaMemcpyDeviceToHost)) != cudaSuccess)
            return cuda_fail(err, err_len, "logprobs", "read token", e);
        return rlvr_gpu_fail(err, err_len, "logprobs: row %zu: the logit of token %ld is -Inf", row, (long)id);
    }
    }
}

extern "C" int rlvr_gpu_logprobs_backward_dev(const void *d_logits, int dtype, const int32_t *d_tokens,
                                              const uint8_t *d_rows, const float *d_lse, const float *d_dlogp,
                                              size_t n, size_t vocab, float temperature, void *d_dlogits, char *err,
                                              size_t err_len)
{
    if (check_common(d_logits, d_tokens, n, vocab, dtype, temperature, "logprobs_backward", err, err_len))
        return -1;
    if (n && (!d_dlogp || !d_dlogits)) return rlvr_gpu_fail(err, err_len, "logprobs_backward: dlogp or dlogits is NULL");
    if (n == 0) return 0;
    const float inv_t = 1.0f / temperature;
    KeyWord key;
    cudaError_t e = key.init();
    if (e != cudaSuccess) return cuda_fail(err, err_len, "logprobs_backward", "status word", e);
    if (dtype == RLVR_GPU_BF16)
        k_backward<<<(unsigned)n, kRowThreads>>>((const __nv_bfloat16 *)d_logits, d_tokens, d_rows, d_lse, d_dlogp,
                                                 (uint32_t)vocab, inv_t, (__nv_bfloat16 *)d_dlogits, key.d);
    else
        k_backward<<<(unsigned)n, kRowThreads>>>((const float *)d_logits, d_tokens, d_rows, d_lse, d_dlogp,
                                                 (uint32_t)vocab, inv_t, (float *)d_dlogits, key.d);
    if ((e = cudaGetLastError()) != cudaSuccess) return cuda_fail(err, err_len, "logprobs_backward", "launch", e);
    unsigned long long k;
    if ((e = key.read(&k)) != cudaSuccess) return cuda_fail(err, err_len, "logprobs_backward", "run", e);
    if (k == kKeyNone) return 0;
    size_t row = (size_t)(k / 8);
    switch ((int)(k % 8)) {
    case BW_DLOGP: return rlvr_gpu_fail(err, err_len, "logprobs_backward: row %zu: dlogp is not finite", row);
    case BW_TOKEN: {
        int32_t id = 0;
        if ((e = cudaMemcpy(&id, d_tokens + row, sizeof id, cudaMemcpyDeviceToHost)) != cudaSuccess)
            return cuda_fail(err, err_len, "logprobs_backward", "read token", e);
        return rlvr_gpu_fail(err, err_len, "logprobs_backward: row %zu: token %ld is outside 0..%zu", row, (long)id,
                    vocab - 1);
    }
    default:
        return rlvr_gpu_fail(err, err_len, "logprobs_backward: row %zu: logits hold NaN or +Inf, or are all -Inf", row);
    }
}

/* ---- host-memory wrappers ------------------------------------------------------------------ */

namespace {

/* One device allocation carved into arrays; freed by the destructor. */
struct Arena {
    char *base = nullptr;
    ~Arena() { counted_free(base); }
};

} // namespace

extern "C" int rlvr_gpu_logprobs(const void *logits, int dtype, const int32_t *tokens, const uint8_t *rows, size_t n,
                                 size_t vocab, float temperature, float *logp, float *lse, float *entropy, char *err,
                                 size_t err_len)
{
    if (check_common(logits, tokens, n, vocab, dtype, temperature, "logprobs", err, err_len)) return -1;
    if (n && !logp) return rlvr_gpu_fail(err, err_len, "logprobs: logp is NULL");
    if (n == 0) return 0;
    const size_t xb = n * vocab * dtype_size(dtype);
    const size_t o_tok = align_up(xb), o_rows = o_tok + align_up(n * 4), o_logp = o_rows + align_up(n);
    const size_t o_lse = o_logp + align_up(n * 4), o_ent = o_lse + align_up(n * 4), bytes = o_ent + align_up(n * 4);
    Arena a;
    cudaError_t e = counted_malloc((void **)&a.base, bytes);
    if (e != cudaSuccess) return cuda_fail(err, err_len, "logprobs", "cudaMalloc", e);
    char *m = a.base;
    if ((e = cudaMemcpy(m, logits, xb, cudaMemcpyHostToDevice)) != cudaSuccess ||
        (e = cudaMemcpy(m + o_tok, tokens, n * 4, cudaMemcpyHostToDevice)) != cudaSuccess ||
        (rows && (e = cudaMemcpy(m + o_rows, rows, n, cudaMemcpyHostToDevice)) != cudaSuccess))
        return cuda_fail(err, err_len, "logprobs", "copy to device", e);
    if (rlvr_gpu_logprobs_dev(m, dtype, (const int32_t *)(m + o_tok), rows ? (const uint8_t *)(m + o_rows) : nullptr,
                              n, vocab, temperature, (float *)(m + o_logp), lse ? (float *)(m + o_lse) : nullptr,
                              entropy ? (float *)(m + o_ent) : nullptr, err, err_len))
        return -1;
    if ((e = cudaMemcpy(logp, m + o_logp, n * 4, cudaMemcpyDeviceToHost)) != cudaSuccess ||
        (lse && (e = cudaMemcpy(lse, m + o_lse, n * 4, cudaMemcpyDeviceToHost)) != cudaSuccess) ||
        (entropy && (e = cudaMemcpy(entropy, m + o_ent, n * 4, cudaMemcpyDeviceToHost)) != cudaSuccess))
        return cuda_fail(err, err_len, "logprobs", "copy from device", e);
    return 0;
}

extern "C" int rlvr_gpu_logprobs_backward(const void *logits, int dtype, const int32_t *tokens, const uint8_t *rows,
                                          const float *lse, const float *dlogp, size_t n, size_t vocab,
                                          float temperature, void *dlogits, char *err, size_t err_len)
{
    if (check_common(logits, tokens, n, vocab, dtype, temperature, "logprobs_backward", err, err_len)) return -1;
    if (n && (!dlogp || !dlogits)) return rlvr_gpu_fail(err, err_len, "logprobs_backward: dlogp or dlogits is NULL");
    if (n == 0) return 0;
    /* The gradient is written over the device copy of the logits. */
    const size_t xb = n * vocab * dtype_size(dtype);
    const size_t o_tok = align_up(xb), o_rows = o_tok + align_up(n * 4), o_lse = o_rows + align_up(n);
    const size_t o_g = o_lse + align_up(n * 4), bytes = o_g + align_up(n * 4);
    Arena a;
    cudaError_t e = counted_malloc((void **)&a.base, bytes);
    if (e != cudaSuccess) return cuda_fail(err, err_len, "logprobs_backward", "cudaMalloc", e);
    char *m = a.base;
    if ((e = cudaMemcpy(m, logits, xb, cudaMemcpyHostToDevice)) != cudaSuccess ||
        (e = cudaMemcpy(m + o_tok, tokens, n * 4, cudaMemcpyHostToDevice)) != cudaSuccess ||
        (rows && (e = cudaMemcpy(m + o_rows, rows, n, cudaMemcpyHostToDevice)) != cudaSuccess) ||
        (lse && (e = cudaMemcpy(m + o_lse, lse, n * 4, cudaMemcpyHostToDevice)) != cudaSuccess) ||
        (e = cudaMemcpy(m + o_g, dlogp, n * 4, cudaMemcpyHostToDevice)) != cudaSuccess)
        return cuda_fail(err, err_len, "logprobs_backward", "copy to device", e);
    if (rlvr_gpu_logprobs_backward_dev(m, dtype, (const int32_t *)(m + o_tok),
                                       rows ? (const uint8_t *)(m + o_rows) : nullptr,
                                       lse ? (const float *)(m + o_lse) : nullptr, (const float *)(m + o_g), n, vocab,
                                       temperature, m, err, err_len))
        return -1;
    if ((e = cudaMemcpy(dlogits, m, xb, cudaMemcpyDeviceToHost)) != cudaSuccess)
        return cuda_fail(err, err_len, "logprobs_backward", "copy from device", e);
    return 0;
}
