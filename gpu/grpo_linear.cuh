/*
 * grpo_linear.cuh -- the chunk driver of the GRPO loss fused with the LM
 * head (gpu_grpo.h's rlvr_gpu_grpo_linear_*), written once over an `ops`
 * type and run by two backends: gpu/grpo_linear.cu's, whose operations are
 * cuBLAS products and gpu/grpo_loss.cu's kernels, and a host emulation in
 * tests/test_gpu_grpo_linear_host.cc, which holds the chunking, the two
 * sweeps of sequence-level ratios, the whole-batch weights and every
 * product's transposes and leading dimensions to the unfused CPU reference
 * on a machine without a GPU. Plain C++ (no CUDA needed), as grpo_math.cuh.
 *
 * What lives here: the plan (linear_plan: shape checks, the chunk's rows,
 * the workspace's layout and bytes) and the driver (linear_run).
 *
 * An Ops type provides (pointers in its own memory; each returns 0 or -1,
 * having written its message):
 *   prep()                         the whole micro-batch's active counts,
 *                                  first checks and aggregation weights
 *                                  (grpo_loss.cu's loss_prep);
 *   rows(phase, row0, n, x, d, dt) the row kernel of phase (grpo_math.cuh's
 *                                  PHASE_*) on batch rows row0 .. row0+n-1:
 *                                  fp32 logits x [n, V], gradient d [n, V]
 *                                  of type dt (NULL: none; == x in fp32);
 *   seq()                          GSPO's per-sequence terms;
 *   finish(metrics)                the metrics, the status read back and
 *                                  the refusals reported;
 *   gemm(tA, tB, m, n, k, A, lda, B, ldb, beta, C, ldc, dt)
 *                                  cuBLAS's column-major cublasGemmEx:
 *                                  C[m, n] = op(A) op(B) + beta C, A and B
 *                                  of type dt (RLVR_GPU_F32: TF32 off;
 *                                  RLVR_GPU_BF16), C and the accumulation
 *                                  fp32.
 * The row-major products (h [R, D], W [V, D], X [C, V]) map onto it in
 * linear_logits / linear_grads, the only place that knows the mapping.
 *
 * Invariants: the per-sequence work runs once, on the whole micro-batch,
 * before any row; a chunk's rows are always named by their batch index, so
 * weights, tokens and outputs are the batch's; the gradient of a chunk is
 * complete (zero rows included) before the products read it; dh is written
 * once per row, dW only added to.
 */
#ifndef RLVR_GRPO_LINEAR_CUH
#define RLVR_GRPO_LINEAR_CUH

#include "gpu.h"
#include "gpu_fail.h"
#include "grpo_math.cuh"

#include <stddef.h>
#include <stdint.h>

namespace rlvr_grpo {

/* The workspace handed to cuBLAS by the CUDA backend (counted with the rest). */
constexpr size_t kBlasWorkspace = (size_t)32 << 20;

struct LinearPlan {
    size_t B, T, R, V, D;
    size_t chunk, n_chunks; /* C rows a chunk, ceil(R / C) chunks */
    int dtype;              /* the operands' */
    bool grad;              /* dh or dweight asked for */
    /* Workspace: [loss arrays][logits C x V fp32][dlogits C x V bf16, BF16 with grad][cuBLAS] */
    size_t o_logits, o_grad, o_blas, bytes;
};

/* Checks lin against batch's shape (batch's own fields are loss_checks'
 * business) and fills *p. 0, or -1 with "grpo linear: ..." in err. */
inline int linear_plan(LinearPlan *p, const rlvr_gpu_grpo_batch *in, const rlvr_gpu_grpo_linear *lin, char *err,
                       size_t err_len)
{
    if (!in) return rlvr_gpu_fail(err, err_len, "grpo linear: no batch");
    if (!lin) return rlvr_gpu_fail(err, err_len, "grpo linear: no LM head (struct rlvr_gpu_grpo_linear)");
    const size_t B = in->n_seq, T = in->seq_len, V = in->vocab, D = lin->hidden;
    if (T && B > SIZE_MAX / T) return rlvr_gpu_fail(err, err_len, "grpo linear: %zu x %zu positions overflow", B, T);
    const size_t R = B * T;
    if (lin->dtype != RLVR_GPU_F32 && lin->dtype != RLVR_GPU_BF16)
        return rlvr_gpu_fail(err, err_len, "grpo linear: unknown dtype %d (want RLVR_GPU_F32 or RLVR_GPU_BF16)",
                             lin->dtype);
    if (D == 0 || D > (size_t)INT32_MAX)
        return rlvr_gpu_fail(err, err_len, "grpo linear: hidden size %zu must be 1 .. %d", D, INT32_MAX);
    if (V == 0 || V > (size_t)INT32_MAX)
        return rlvr_gpu_fail(err, err_len, "grpo linear: vocab %zu must be 1 .. %d", V, INT32_MAX);
    if (R > (size_t)INT32_MAX)
        return rlvr_gpu_fail(err, err_len, "grpo linear: %zu positions is too many for one call", R);
    const size_t es = lin->dtype == RLVR_GPU_BF16 ? 2 : 4;
    if (R && D > SIZE_MAX / es / R) return rlvr_gpu_fail(err, err_len, "grpo linear: %zu x %zu hidden states overflow", R, D);
    if (D > SIZE_MAX / es / V) return rlvr_gpu_fail(err, err_len, "grpo linear: %zu x %zu weights overflow", V, D);
    if (R && (!lin->h || !lin->weight)) return rlvr_gpu_fail(err, err_len, "grpo linear: h or weight is NULL");
    p->B = B, p->T = T, p->R = R, p->V = V, p->D = D;
    p->dtype = lin->dtype;
    p->grad = lin->dh || lin->dweight;
    /* Chunk buffers per row: the logits (fp32), and in bf16 with a gradient
     * the dlogits operand (bf16); in fp32 the gradient overwrites the logits. */
    const size_t per = (p->dtype == RLVR_GPU_BF16 && p->grad) ? 6 : 4;
    if (V > SIZE_MAX / 8 / per) return rlvr_gpu_fail(err, err_len, "grpo linear: vocab %zu is too large", V);
    const size_t row_bytes = V * per;
    size_t C = lin->chunk_rows;
    if (C == 0) {
        const size_t budget = lin->budget ? lin->budget : RLVR_GPU_GRPO_LINEAR_BUDGET;
        C = budget / row_bytes;
        if (C == 0)
            return rlvr_gpu_fail(err, err_len,
                                 "grpo linear: a budget of %zu bytes holds no row of logits (one row needs %zu)",
                                 budget, row_bytes);
    }
    if (C > R) C = R;
    if (C > (size_t)INT32_MAX) C = INT32_MAX; /* R <= INT32_MAX: only when R is */
    if (C && C > (SIZE_MAX / 4 - kBlasWorkspace) / row_bytes)
        return rlvr_gpu_fail(err, err_len, "grpo linear: %zu rows of %zu logits overflow", C, V);
    p->chunk = C;
    p->n_chunks = C ? (R + C - 1) / C : 0;
    p->o_logits = loss_ws_bytes(B, R);
    p->o_grad = p->o_logits + align_up(C * V * 4);
    p->o_blas = p->o_grad + ((p->dtype == RLVR_GPU_BF16 && p->grad) ? align_up(C * V * 2) : 0);
    p->bytes = p->o_blas + kBlasWorkspace;
    return 0;
}

/* X[n, V] (fp32) = h[r0 .. r0+n-1] W^T, as cuBLAS sees it: the column-major
 * X^T [V, n] = op(W^T viewed [D, V])^T . h^T [D, n]. */
template <class O>
int linear_logits(O &o, const LinearPlan &p, const rlvr_gpu_grpo_linear &lin, float *X, size_t r0, size_t n)
{
    const size_t es = p.dtype == RLVR_GPU_BF16 ? 2 : 4;
    const void *h = (const char *)lin.h + r0 * p.D * es;
    const int V = (int)p.V, D = (int)p.D;
    return o.gemm(1, 0, V, (int)n, D, lin.weight, D, h, D, 0.0f, X, V, p.dtype);
}

/* The chunk's gradient G[n, V] (its rows r0 .. r0+n-1) into the products:
 *   dh[r0 ..][n, D] = G W          column-major dh^T [D, n] = W^T [D, V] . G^T [V, n]
 *   dW[V, D]      += G^T h[r0 ..]  column-major dW^T [D, V] += h^T [D, n] . G [n, V] */
template <class O>
int linear_grads(O &o, const LinearPlan &p, const rlvr_gpu_grpo_linear &lin, const void *G, size_t r0, size_t n)
{
    const size_t es = p.dtype == RLVR_GPU_BF16 ? 2 : 4;
    const int V = (int)p.V, D = (int)p.D, N = (int)n;
    if (lin.dh && o.gemm(0, 0, D, N, V, lin.weight, D, G, V, 0.0f, lin.dh + r0 * p.D, D, p.dtype)) return -1;
    const void *h = (const char *)lin.h + r0 * p.D * es;
    if (lin.dweight && o.gemm(0, 1, D, V, N, h, D, G, V, 1.0f, lin.dweight, D, p.dtype)) return -1;
    return 0;
}

/* The whole call over a workspace of p.bytes at ws (its loss arrays already
 * carved into the ops by the backend: ops and plan agree on loss_ws_carve).
 * Token-level ratios: per chunk, its logits, the fused row kernel (terms and
 * gradient), its products. Sequence-level: per chunk, its logits and the
 * first sweep (logp, lse, entropy kept); the sequences' terms; per chunk
 * again, its logits (recomputed: the second sweep), the gradient, its
 * products. */
template <class O>
int linear_run(O &o, const LinearPlan &p, char *ws, const rlvr_gpu_grpo_linear &lin, bool sequence_level,
               rlvr_gpu_grpo_metrics *metrics)
{
    float *X = (float *)(ws + p.o_logits);
    const int gt = p.dtype == RLVR_GPU_BF16 ? RLVR_GPU_BF16 : RLVR_GPU_F32;
    void *G = !p.grad ? nullptr : gt == RLVR_GPU_BF16 ? (void *)(ws + p.o_grad) : (void *)X;
    if (o.prep()) return -1;
    if (sequence_level) {
        for (size_t r0 = 0; r0 < p.R; r0 += p.chunk) {
            const size_t n = p.R - r0 < p.chunk ? p.R - r0 : p.chunk;
            if (linear_logits(o, p, lin, X, r0, n) || o.rows(PHASE_STATS, r0, n, X, nullptr, gt)) return -1;
        }
        if (o.seq()) return -1;
    }
    for (size_t r0 = 0; r0 < p.R; r0 += p.chunk) {
        const size_t n = p.R - r0 < p.chunk ? p.R - r0 : p.chunk;
        /* The second sweep reads the logits only for the gradient. */
        if ((!sequence_level || p.grad) && linear_logits(o, p, lin, X, r0, n)) return -1;
        if (o.rows(sequence_level ? PHASE_GRAD : PHASE_FUSED, r0, n, X, G, gt)) return -1;
        if (p.grad && linear_grads(o, p, lin, G, r0, n)) return -1;
    }
    return o.finish(metrics);
}

} // namespace rlvr_grpo

#endif
