/*
 * grpo_linear.cu -- the GRPO loss fused with the LM head on the GPU
 * (gpu_grpo.h's rlvr_gpu_grpo_linear_plan and rlvr_gpu_grpo_linear_loss_dev):
 * grpo_linear.cuh's chunk driver run on cuda_linear_ops, whose operations
 * are cublasGemmEx and gpu/grpo_loss.cu's pipeline (loss_prep, loss_rows,
 * loss_seq, loss_end: the kernels of rlvr_gpu_grpo_loss_dev, not copies).
 *
 * cuBLAS: one handle per device for the process, created at the first call
 * on that device (which opens cuBLAS, gpu/cublas_load.c) with math mode
 * CUBLAS_DEFAULT_MATH (so fp32 products with CUBLAS_COMPUTE_32F never use
 * TF32), never destroyed (a handle destroyed at exit may outlive its
 * context). The handle is private to this file; a lock is held for a whole
 * call, during which its workspace is the call's own (32 MiB of the call's
 * counted allocation, cublasSetWorkspace), so the products use no memory
 * of cuBLAS's own and rlvr_gpu_grpo_memory's high-water mark covers the
 * call (what cublasCreate allocates, once per device, is not counted).
 * Every call sets the workspace before its first product; between calls
 * the handle is not used, so its pointer to freed memory is never followed.
 *
 * Invariants: one allocation per call, freed on every path; all work on the
 * legacy default stream (the handle's stream is never set), so each product
 * follows the kernels before it; the call returns after loss_end has read
 * the status back.
 */
#include "gpu.h"
#include "grpo_kernels.cuh"
#include "grpo_linear.cuh"

#include <cublas_v2.h>
#include <pthread.h>
#include <string.h>

using namespace rlvr_grpo;

namespace {

constexpr int kMaxDevices = 64;
pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
cublasHandle_t g_handle[kMaxDevices];

struct Arena {
    char *base = nullptr;
    ~Arena() { counted_free(base); }
};

struct Locked {
    Locked() { pthread_mutex_lock(&g_lock); }
    ~Locked() { pthread_mutex_unlock(&g_lock); }
};

/* The current device's handle (created on first use); call with g_lock held. */
int device_handle(cublasHandle_t *out, char *err, size_t err_len)
{
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return cuda_fail(err, err_len, "grpo linear", "device", e);
    if (dev < 0 || dev >= kMaxDevices)
        return rlvr_gpu_fail(err, err_len, "grpo linear: device %d: only devices 0 .. %d are supported", dev,
                             kMaxDevices - 1);
    if (!g_handle[dev]) {
        cublasHandle_t h = nullptr;
        cublasStatus_t st = cublasCreate(&h);
        if (st != CUBLAS_STATUS_SUCCESS)
            return rlvr_gpu_fail(err, err_len, "grpo linear: cuBLAS: %s", cublasGetStatusString(st));
        if ((st = cublasSetMathMode(h, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS) {
            cublasDestroy(h);
            return rlvr_gpu_fail(err, err_len, "grpo linear: cuBLAS: %s", cublasGetStatusString(st));
        }
        g_handle[dev] = h;
    }
    *out = g_handle[dev];
    return 0;
}

struct cuda_linear_ops {
    LossRun run;
    cublasHandle_t blas;
    const char *dapo_msg;
    char *err;
    size_t err_len;

    int launched(cudaError_t e) { return e == cudaSuccess ? 0 : cuda_fail(err, err_len, "grpo linear", "launch", e); }
    int prep() { return launched(loss_prep(run)); }
    int rows(int phase, size_t row0, size_t n, const float *x, void *d, int d_dtype)
    {
        return launched(loss_rows(run, phase, row0, n, x, RLVR_GPU_F32, d, d_dtype));
    }
    int seq() { return launched(loss_seq(run)); }
    int finish(rlvr_gpu_grpo_metrics *metrics) { return loss_end(run, dapo_msg, metrics, err, err_len); }
    int gemm(int tA, int tB, int m, int n, int k, const void *A, int lda, const void *B, int ldb, float beta,
             float *C, int ldc, int dtype)
    {
        const float alpha = 1.0f;
        const cudaDataType_t ab = dtype == RLVR_GPU_BF16 ? CUDA_R_16BF : CUDA_R_32F;
        cublasStatus_t st = cublasGemmEx(blas, tA ? CUBLAS_OP_T : CUBLAS_OP_N, tB ? CUBLAS_OP_T : CUBLAS_OP_N, m, n,
                                         k, &alpha, A, ab, lda, B, ab, ldb, &beta, C, CUDA_R_32F, ldc,
                                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (st != CUBLAS_STATUS_SUCCESS)
            return rlvr_gpu_fail(err, err_len, "grpo linear: matrix product (m %d n %d k %d): %s", m, n, k,
                                 cublasGetStatusString(st));
        return 0;
    }
};

} // namespace

extern "C" int rlvr_gpu_grpo_linear_plan(const struct rlvr_gpu_grpo_batch *batch,
                                         const struct rlvr_gpu_grpo_linear *lin, size_t *chunk_rows,
                                         size_t *workspace_bytes, char *err, size_t err_len)
{
    LinearPlan p;
    if (err && err_len) err[0] = '\0';
    if (linear_plan(&p, batch, lin, err, err_len)) return -1;
    if (chunk_rows) *chunk_rows = p.chunk;
    if (workspace_bytes) *workspace_bytes = p.R ? p.bytes : 0;
    return 0;
}

extern "C" int rlvr_gpu_grpo_linear_loss_dev(const struct rlvr_grpo_config *cfg,
                                             const struct rlvr_gpu_grpo_batch *in,
                                             const struct rlvr_gpu_grpo_linear *lin,
                                             struct rlvr_gpu_grpo_metrics *metrics, char *err, size_t err_len)
{
    char dapo_msg[256];
    if (loss_checks(cfg, in, false, dapo_msg, sizeof dapo_msg, err, err_len)) return -1;
    LinearPlan p;
    if (linear_plan(&p, in, lin, err, err_len)) return -1;
    if (p.R == 0) {
        if (dapo_msg[0]) return rlvr_gpu_fail(err, err_len, "%s", dapo_msg);
        if (metrics) memset(metrics, 0, sizeof *metrics);
        return 0;
    }
    Locked hold;
    cuda_linear_ops o;
    if (device_handle(&o.blas, err, err_len)) return -1;
    Arena ws;
    cudaError_t e = counted_malloc((void **)&ws.base, p.bytes);
    if (e != cudaSuccess) return cuda_fail(err, err_len, "grpo linear", "workspace", e);
    cublasStatus_t st = cublasSetWorkspace(o.blas, ws.base + p.o_blas, kBlasWorkspace);
    if (st != CUBLAS_STATUS_SUCCESS)
        return rlvr_gpu_fail(err, err_len, "grpo linear: cuBLAS workspace: %s", cublasGetStatusString(st));
    loss_begin(o.run, *cfg, in, loss_ws_carve(ws.base, p.B, p.R));
    o.dapo_msg = dapo_msg;
    o.err = err;
    o.err_len = err_len;
    return linear_run(o, p, ws.base, *lin, cfg->importance_level == RLVR_IS_SEQUENCE, metrics);
}
