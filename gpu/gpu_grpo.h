/*
 * gpu_grpo.h -- part of gpu.h (included by it, after struct
 * rlvr_grpo_config, never on its own): the GRPO kernels on the GPU.
 *
 * Token log-probabilities with entropy (a fused, chunked log-softmax-gather
 * over the vocabulary), their gradient to the logits, and the GRPO policy
 * loss with its gradient to the logits in one pass over them. The CPU
 * references, whose semantics these keep word for word, are host/logprob.c
 * (rlvr_logprobs, rlvr_logprobs_backward) and host/grpo_loss.c
 * (rlvr_grpo_loss); tests/test_gpu_grpo.c holds the two together.
 *
 * Each operation comes twice:
 *  - *_dev: device-resident arrays (names say d_), for the trainer; the
 *    calls run on the legacy default stream and return once the result and
 *    its status are known (each reads a status word back, so it
 *    synchronises with the device);
 *  - the same name without _dev: host arrays, copied to the current device,
 *    run, and copied back (tests, tools).
 * Logits come as float32 (RLVR_GPU_F32) or bfloat16 (RLVR_GPU_BF16, raw
 * bf16 bits in a uint16_t array on the host side); the gradient to the
 * logits has the logits' type. Arithmetic is float32 per element and
 * double per row, sequence and batch, whatever the storage type.
 *
 * No [n, V] temporary exists beyond the gradient itself: each row is read
 * once to get its log-sum-exp (an online maximum and sum of exponentials,
 * in a single sweep), and once more, backwards, to write its gradient. The
 * gradient may be written over the logits (d_dlogits == d_logits, same
 * type): every entry is read by the thread that then writes it.
 *
 * Refusals are those of the CPU reference, named by row or position as
 * there; on a refusal the device outputs are unspecified and the host
 * wrappers copy nothing back (the caller's arrays are left as they were).
 * Limits: vocab <= INT32_MAX, rows <= INT32_MAX (one block per row).
 */
#ifndef RLVR_GPU_GRPO_H
#define RLVR_GPU_GRPO_H

/* Storage types of logits and their gradient. */
#define RLVR_GPU_F32 0
#define RLVR_GPU_BF16 1

/* ---- device memory ---------------------------------------------------------------
 * The allocations the GRPO kernels make (workspaces, the host wrappers'
 * copies) and those a caller makes through rlvr_gpu_grpo_alloc are counted,
 * so that a benchmark can report rlvr's own high-water mark. */
int rlvr_gpu_grpo_alloc(void **d_ptr, size_t bytes, char *err, size_t err_len);
void rlvr_gpu_grpo_free(void *d_ptr); /* NULL is a no-op */
/* bytes from host src to device d_dst, and back. */
int rlvr_gpu_grpo_upload(void *d_dst, const void *src, size_t bytes, char *err, size_t err_len);
int rlvr_gpu_grpo_download(void *dst, const void *d_src, size_t bytes, char *err, size_t err_len);
/* Waits for the device's work; a failure of earlier work is reported. */
int rlvr_gpu_grpo_sync(char *err, size_t err_len);
/* Bytes allocated now and the most at any time since the last reset (either
 * pointer may be NULL); the reset sets the peak to what is allocated now. */
void rlvr_gpu_grpo_memory(size_t *in_use, size_t *peak);
void rlvr_gpu_grpo_memory_reset_peak(void);

/* ---- log-probabilities --------------------------------------------------------------
 * rlvr_logprobs on the GPU:
 *   logits[n, vocab]   dtype as above; -Inf allowed, NaN and +Inf refused.
 *   tokens[n]          0 <= id < vocab, else refused naming the row.
 *   rows[n]            optional (NULL = all): rows with 0 get 0 outputs and
 *                      their logits and tokens are never read.
 *   temperature        finite and > 0; z = logits / temperature.
 *   logp[n]            out: z[token] - lse.
 *   lse[n], entropy[n] optional outs (entropy only costs when asked).
 * Same messages as rlvr_logprobs ("logprobs: row R: ..."). */
int rlvr_gpu_logprobs(const void *logits, int dtype, const int32_t *tokens, const uint8_t *rows, size_t n,
                      size_t vocab, float temperature, float *logp, float *lse, float *entropy, char *err,
                      size_t err_len);
int rlvr_gpu_logprobs_dev(const void *d_logits, int dtype, const int32_t *d_tokens, const uint8_t *d_rows,
                          size_t n, size_t vocab, float temperature, float *d_logp, float *d_lse,
                          float *d_entropy, char *err, size_t err_len);

/* rlvr_logprobs_backward on the GPU: dlogits[t, v] = dlogp[t] / T *
 * ([v == tokens[t]] - p[t, v]), written (not accumulated), in the logits'
 * dtype; lse[n] optional (recomputed when NULL); rows with dlogp 0 or
 * rows[t] == 0 get zeros without their logits being read. In place allowed
 * (dlogits == logits). Same refusals and messages as the CPU's. */
int rlvr_gpu_logprobs_backward(const void *logits, int dtype, const int32_t *tokens, const uint8_t *rows,
                               const float *lse, const float *dlogp, size_t n, size_t vocab,
                               float temperature, void *dlogits, char *err, size_t err_len);
int rlvr_gpu_logprobs_backward_dev(const void *d_logits, int dtype, const int32_t *d_tokens,
                                   const uint8_t *d_rows, const float *d_lse, const float *d_dlogp, size_t n,
                                   size_t vocab, float temperature, void *d_dlogits, char *err,
                                   size_t err_len);

/* ---- the policy loss and its gradient to the logits ------------------------------------
 * One micro-batch of B completions padded to T positions, straight from
 * the logits (the CPU's rlvr_logprobs -> rlvr_grpo_loss ->
 * rlvr_logprobs_backward in one call). The arrays are device memory for
 * rlvr_gpu_grpo_loss_dev and host memory for rlvr_gpu_grpo_loss. */
struct rlvr_gpu_grpo_batch {
    size_t n_seq, seq_len, vocab; /* B, T, V */
    int dtype;                    /* RLVR_GPU_F32 or RLVR_GPU_BF16 */
    float temperature;            /* finite, > 0 */
    const void *logits;           /* [B*T, V] */
    const int32_t *tokens;        /* [B*T]: the taken tokens */
    const float *old_logp;        /* [B*T] or NULL (ratio 1, as on the CPU) */
    const float *ref_logp;        /* [B*T]; required when beta > 0 */
    const float *advantages;      /* [B] */
    const uint8_t *mask;          /* [B*T] or NULL (all count) */
    const uint8_t *truncated;     /* [B] or NULL; used with mask_truncated */
    double dapo_tokens;           /* loss_type dapo: as struct rlvr_grpo_batch */
    /* optional outputs [B*T], 0 at positions that do not count: */
    float *logp;    /* log-probabilities of the taken tokens */
    float *entropy; /* per-token entropy; when given, metrics.entropy too */
    float *dlogp;   /* dL/dlogp, as rlvr_grpo_loss writes it */
};

/* The metrics of rlvr_grpo_loss, field for field (host/grpo.h's struct
 * rlvr_grpo_metrics: loss, pg_loss, kl_loss are the micro-batch's share of
 * the step's loss; the rest are means over its active tokens). */
struct rlvr_gpu_grpo_metrics {
    double loss, pg_loss, kl_loss, active_tokens, kl, entropy;
    double clip_low, clip_high, clip_region, clip_dual, ratio_mean, ratio_max;
};

/* The loss of one micro-batch (cfg as rlvr_grpo_loss takes it), its metrics
 * (may be NULL) and the gradient to the logits, dlogits [B*T, V] in the
 * logits' dtype (NULL: forward only; it may be the logits array itself).
 * Rows that do not count (masked, or truncated with mask_truncated) get a
 * zero gradient and their logits and tokens are never read.
 * The order of work (gpu/grpo_loss.cu): the active-token counts and input
 * checks per sequence; the aggregation weights; then per row, for
 * token-level ratios, one kernel that sweeps the row for its log-sum-exp,
 * computes the token's loss and dL/dlogp and sweeps the row again to write
 * the gradient; for sequence-level ratios (GSPO), which need every token's
 * log-probability first, a sweep for the log-sum-exps, the sequences'
 * ratios, then the gradient sweep; last, the metrics in a fixed order.
 * Refused as rlvr_grpo_loss refuses (configuration, missing ref_logp,
 * non-finite old_logp / ref_logp / advantage at a position that counts,
 * dapo_tokens), and, where the CPU refuses in rlvr_logprobs, a token out
 * of range or unusable logits at a position that counts ("grpo: row R
 * (sequence b, position t): ..."). */
int rlvr_gpu_grpo_loss(const struct rlvr_grpo_config *cfg, const struct rlvr_gpu_grpo_batch *batch,
                       void *dlogits, struct rlvr_gpu_grpo_metrics *metrics, char *err, size_t err_len);
int rlvr_gpu_grpo_loss_dev(const struct rlvr_grpo_config *cfg, const struct rlvr_gpu_grpo_batch *batch,
                           void *d_dlogits, struct rlvr_gpu_grpo_metrics *metrics, char *err,
                           size_t err_len);

/* ---- the loss fused with the LM head ---------------------------------------------------------
 * The loss of rlvr_gpu_grpo_loss_dev from the final hidden states (after
 * the final norm) and the LM head's weight instead of the logits, as
 * Liger-Kernel's fused linear GRPO loss does: the logits [B*T, V] are never
 * all in memory, only a chunk of C rows of them at a time.
 *
 * Semantics: those of
 *   logits = h W^T                       [B*T, V], fp32 accumulation
 *   rlvr_gpu_grpo_loss_dev on them       loss, metrics, dlogits, logp, ...
 *   dh  = dlogits W                      [B*T, D], written
 *   dW += dlogits^T h                    [V, D], accumulated
 * computed chunk by chunk: for rows r0 .. r0 + C - 1, one cuBLAS product
 * gives their logits (into the workspace), the row kernels of
 * rlvr_gpu_grpo_loss_dev (gpu/grpo_loss.cu, the very same) turn them into
 * their gradient in place, and two more products add the chunk's share to
 * dh and dW. The per-sequence work (active counts, the aggregation weights
 * of grpo / bnpo / dapo / dr_grpo, GSPO's ratios) and the metrics are the
 * whole micro-batch's, so a chunk may cut through a sequence.
 *   Token-level ratios: one sweep, 3 products per chunk (6 B*T*V*D flops).
 *   Sequence-level ratios (GSPO): a sequence's ratio needs all its tokens'
 *   log-probabilities before any gradient, so two sweeps: the first
 *   computes each chunk's logits and keeps each row's logp, lse and
 *   entropy; after the sequences' terms, the second recomputes each
 *   chunk's logits for its gradient: 4 products per chunk (8 B*T*V*D
 *   flops, a third more than token level). Forward only (dh and dweight
 *   NULL), the second sweep needs no product.
 * Operands (dtype):
 *   RLVR_GPU_F32   h and W fp32; fp32 products with TF32 off; dlogits fp32
 *                  (written over the chunk's logits).
 *   RLVR_GPU_BF16  h and W bf16 (raw bits, as gpu_model.h's RLVR_GPU_BF16
 *                  rounds its operands); the logits fp32 (fp32
 *                  accumulation); the chunk's dlogits rounded to bf16, the
 *                  operand of the two gradient products (fp32
 *                  accumulation); dh and dW fp32.
 * Memory: one counted allocation per call (rlvr_gpu_grpo_memory), made of
 * the loss's per-position and per-sequence arrays (52 bytes a position, 44
 * a sequence: rlvr_gpu_grpo_loss_dev's own), the chunk's logits [C, V] fp32,
 * in bf16 with a gradient its dlogits [C, V] bf16, and 32 MiB handed to
 * cuBLAS as its workspace (cublasSetWorkspace: the products use no
 * workspace of cuBLAS's own; what cublasCreate allocates, once per device,
 * is cuBLAS's and not counted); each array rounded up to 256 bytes.
 * rlvr_gpu_grpo_linear_plan gives the exact bytes. The chunk: chunk_rows when not 0 (at most B*T), else as many
 * rows as fit in budget bytes of chunk buffers (4 V bytes a row, 6 V in
 * bf16 with a gradient; budget 0 means RLVR_GPU_GRPO_LINEAR_BUDGET, 512 MiB:
 * 883 rows at V = 151,936 in fp32, 588 in bf16), at most B*T.
 * cuBLAS: one handle per device for the process, created on first use
 * (cuBLAS is opened then), math mode CUBLAS_DEFAULT_MATH, never destroyed;
 * calls from several threads take turns on it (a lock held for the call).
 * Everything runs on the legacy default stream; the call returns once its
 * status is read back. */
#define RLVR_GPU_GRPO_LINEAR_BUDGET ((size_t)512 << 20)

struct rlvr_gpu_grpo_linear {
    size_t hidden;        /* D, 1 .. INT32_MAX */
    int dtype;            /* the operands: RLVR_GPU_F32 or RLVR_GPU_BF16 */
    const void *h;        /* [B*T, D] final hidden states */
    const void *weight;   /* [V, D] the LM head (the embedding when tied) */
    float *dh;            /* [B*T, D] written; NULL: not computed */
    float *dweight;       /* [V, D] added to (+=); NULL: not computed */
    size_t chunk_rows;    /* rows of logits at a time; 0: from budget */
    size_t budget;        /* bytes of chunk buffers when chunk_rows is 0 (0: the default) */
};

/* The chunk's rows and the workspace's bytes that
 * rlvr_gpu_grpo_linear_loss_dev would use for this batch's shape (n_seq,
 * seq_len, vocab) and lin (both 0 when there is no position: nothing is
 * allocated); the shape refusals of that call. Either out may be NULL. */
int rlvr_gpu_grpo_linear_plan(const struct rlvr_gpu_grpo_batch *batch, const struct rlvr_gpu_grpo_linear *lin,
                              size_t *chunk_rows, size_t *workspace_bytes, char *err, size_t err_len);

/* The loss of one micro-batch from device arrays: batch as for
 * rlvr_gpu_grpo_loss_dev except that its logits and dtype are not read;
 * lin gives h, W, the gradients' destinations and the chunk. Outputs as
 * rlvr_gpu_grpo_loss_dev's (metrics, and the batch's optional logp,
 * entropy, dlogp), plus dh and dweight. Refused as rlvr_gpu_grpo_loss_dev
 * refuses (same messages; "unusable logits" now means that h W^T holds NaN
 * or Inf), and for shapes ("grpo linear: ..."). On a refusal found on the
 * device (a token, old_logp, ref_logp, an advantage, the logits,
 * dapo_tokens) dh and dweight are unspecified: dweight may hold part of the
 * micro-batch's contribution, so the caller drops the step. */
int rlvr_gpu_grpo_linear_loss_dev(const struct rlvr_grpo_config *cfg, const struct rlvr_gpu_grpo_batch *batch,
                                  const struct rlvr_gpu_grpo_linear *lin, struct rlvr_gpu_grpo_metrics *metrics,
                                  char *err, size_t err_len);

#endif
