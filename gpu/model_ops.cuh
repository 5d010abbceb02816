/*
 * model_ops.cuh -- the CUDA backend of model_graph.cuh's operations
 * (struct cuda_ops), shared by gpu/model_kernels.cu (which defines it, with
 * the kernels) and gpu/model.cu (the model object, which runs the graph on
 * it). Internal to gpu/: included by .cu files only.
 *
 * Every method queues its work on the default stream, checks the launch (or
 * the cuBLAS status) and turns a failure into "OP: reason" in err; no
 * method synchronises. The cuBLAS handle is the caller's.
 */
#ifndef RLVR_MODEL_OPS_CUH
#define RLVR_MODEL_OPS_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "model_graph.cuh"
#include "model_math.cuh"

namespace rlvr_gm {

struct cuda_ops {
    cublasHandle_t blas;
    char *err;
    size_t err_len;

    int fail(const char *op, const char *why);
    int check(const char *op); /* the last launch */

    int embed_fwd(float *out, const float *E, const int32_t *tok, int N, int D, int V);
    int embed_bwd(float *dE, const float *dx, const int32_t *tok, int N, int D, int V);
    int rms_fwd(float *y, float *rstd, const float *x, const float *w, int N, int D, float eps);
    int rms_bwd(float *dx, int add, float *dw, const float *dy, const float *x, const float *w,
                const float *rstd, int N, int D);
    int rope(float *x, const float *cs, int N, int T, int H, int hd, int inverse);
    int permute(float *dst, const float *src, int B, int T, int H, int hd, int to_heads);
    int softmax_fwd(float *S, float *lse, int rows, int T, float scale);
    int softmax_p(float *S, const float *lse, int rows, int T, float scale);
    int softmax_bwd(float *dP, const float *P, const float *Dt, int rows, int T, float scale);
    int rowdot(float *out, const float *a, const float *b, int rows, int len);
    int swiglu_fwd(float *h, const float *g, const float *u, size_t n);
    int swiglu_bwd(float *dg, float *du, const float *dh, const float *g, const float *u,
                   size_t n);
    int add(float *y, const float *x, size_t n);
    int bias_add(float *y, const float *b, int N, int C);
    int colsum(float *out, const float *a, int N, int C);
    int copy(float *dst, const float *src, size_t n);
    int zero(void *p, size_t bytes);
    int to_bf16(uint16_t *dst, const float *src, size_t n);
    int gemm(int tA, int tB, int m, int n, int k, const void *A, int lda, long long sA,
             const void *B, int ldb, long long sB, float beta, float *C, int ldc, long long sC,
             int batch, int kind);
    /* generation (graph_step) */
    int rope_at(float *x, const float *cs, const int32_t *pos, int N, int H, int hd);
    int kv_store(float *kc, float *vc, const float *k, const float *v, const int32_t *slot,
                 const int32_t *pos, int N, int KD, int max_len);
    int attend(float *out, const float *q, const float *kc, const float *vc, const int32_t *slot,
               const int32_t *pos, int N, int Hq, int Hk, int hd, int max_len, float scale);
    int gather_rows(float *dst, const float *src, const int32_t *rows, int n, int D);
    /* outside the graph: the loss, the optimizer */
    int cross_entropy(float *logits, const int32_t *targets, const uint8_t *rows, size_t n,
                      size_t vocab, float dlogp, float *logp, float *lse);
    int sumsq(double *d_out, const float *x, size_t n); /* *d_out += sum x^2 */
    int adamw(float *p, float *g, float *m, float *v, uint16_t *ph, const segment *d_seg,
              int n_seg, size_t max_numel, const adamw_scalars &s);
};

} // namespace rlvr_gm

#endif
