/*
 * gpu_model.h -- part of gpu.h (included by it, never on its own): the
 * policy's transformer on the GPU. Its CPU reference is host/model.c (the
 * layers, forward and backward) with host/optim.c (AdamW, clipping) and
 * host/logprob.c (the SFT cross-entropy through rlvr_logprobs and
 * rlvr_logprobs_backward); every function below keeps their semantics.
 *
 * Two layers of interface:
 *  - the kernels, one entry point each, on device memory (arguments named
 *    d_*, shapes in brackets, row-major): the building blocks, exposed so
 *    that tests and benchmarks hold each one to its CPU reference alone;
 *  - the model object (struct rlvr_gpu_model): weights, gradients, AdamW
 *    moments, a bf16 copy of the weights and the training activations, each
 *    family one device allocation, driven from host arrays in host/model.c's
 *    parameter layout (the tensor table's order); or, created with
 *    RLVR_GPU_FORWARD_ONLY, a model for the forward and generation only
 *    (a reference model, a sampler): weights, their bf16 copy and one
 *    layer's activations, no gradients; and, for a loss that applies the
 *    LM head itself (gpu_grpo.h's rlvr_gpu_grpo_linear_loss_dev), a forward
 *    that stops at the final hidden states and a backward that starts from
 *    their gradient (rlvr_gpu_model_forward_hidden / _backward_hidden), with
 *    RLVR_GPU_NO_LOGITS a model that never holds the [B*T, V] logits;
 *  - generation with a KV cache on the device (struct rlvr_gpu_kv and
 *    rlvr_gpu_model_step): host/model.c's rlvr_kv_cache_* and
 *    rlvr_model_step, same semantics, logits handed back to the host.
 * gpu/ may include nothing of host/, so struct rlvr_gpu_model_config
 * restates the fields of struct rlvr_model_config (host/model.h) that the
 * GPU model needs, under the same names; the caller copies them over.
 *
 * Conventions (gpu.h's): 0 or -1 with a one-line message in err[err_len];
 * nothing prints or exits. The kernel entry points return once the work is
 * queued on the default stream, after checking the launch; errors of a
 * kernel that faults surface at the next synchronising call. Every entry
 * point exists in a build without CUDA (gpu/model_stub.c), failing with
 * "built without CUDA".
 */
#ifndef RLVR_GPU_MODEL_H
#define RLVR_GPU_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- device memory for tests and benchmarks ------------------------------------- */

/* cudaMalloc / cudaFree / copies, with gpu.h's error convention. */
int rlvr_gpu_mem_alloc(void **d_ptr, size_t bytes, char *err, size_t err_len);
void rlvr_gpu_mem_free(void *d_ptr);
int rlvr_gpu_mem_upload(void *d_dst, const void *src, size_t bytes, char *err, size_t err_len);
int rlvr_gpu_mem_download(void *dst, const void *d_src, size_t bytes, char *err, size_t err_len);
/* Waits for the device's queued work; reports a kernel's fault. */
int rlvr_gpu_sync(char *err, size_t err_len);

/* ---- the kernels (CPU reference: host/model.c, host/optim.c, host/logprob.c) ---- */

/* out[n, D] = E[tokens[n], D]. Rows whose token is outside [0, V) are
 * zero (the model checks tokens on the host before it uploads them). */
int rlvr_gpu_embedding_forward(float *d_out, const float *d_E, const int32_t *d_tokens, int N,
                               int D, int V, char *err, size_t err_len);
/* dE[tokens[n], D] += dx[n, D] (atomic adds: the order of additions to a
 * row that several positions share is not fixed). */
int rlvr_gpu_embedding_backward(float *d_dE, const float *d_dx, const int32_t *d_tokens, int N,
                                int D, int V, char *err, size_t err_len);

/* y[N, D] = x * rsqrt(mean(x^2) + eps) * w;  rstd[N] kept (may be NULL). */
int rlvr_gpu_rmsnorm_forward(float *d_y, float *d_rstd, const float *d_x, const float *d_w,
                             int N, int D, float eps, char *err, size_t err_len);
/* Given dy[N, D]: dx[N, D] = (or += when dx_add) the input gradient;
 * dw[D] += sum over rows of dy * x * rstd. */
int rlvr_gpu_rmsnorm_backward(float *d_dx, int dx_add, float *d_dw, const float *d_dy,
                              const float *d_x, const float *d_w, const float *d_rstd, int N,
                              int D, char *err, size_t err_len);

/* Hugging Face's rotate-half RoPE in place on x[N, H, hd], row n at
 * position n % T; cos_sin[T, hd] holds cos(pos * inv_freq[i]) in its first
 * hd/2 entries and sin() in the last hd/2 (rlvr_gpu_rope_table). inverse = 1
 * applies the transpose (the backward). */
int rlvr_gpu_rope(float *d_x, const float *d_cos_sin, int N, int T, int H, int hd, int inverse,
                  char *err, size_t err_len);
/* Fills cos_sin[T, hd] (host memory) as host/model.c computes its angles:
 * inv_freq[i] = (float)(1 / theta^(2i/hd)), angle = (float)pos * inv_freq[i],
 * cos and sin in double rounded to float. */
void rlvr_gpu_rope_table(float *cos_sin, int T, int hd, double theta);

/* h[n] = silu(gate) * up;  backward: dgate[n], dup[n] from dh[n] (dgate may
 * be dh itself). */
int rlvr_gpu_swiglu_forward(float *d_h, const float *d_gate, const float *d_up, size_t n,
                            char *err, size_t err_len);
int rlvr_gpu_swiglu_backward(float *d_dgate, float *d_dup, const float *d_dh,
                             const float *d_gate, const float *d_up, size_t n, char *err,
                             size_t err_len);
/* y[n] += x[n] (the residual adds). */
int rlvr_gpu_add(float *d_y, const float *d_x, size_t n, char *err, size_t err_len);

/* Causal grouped-query attention over whole sequences, heads first:
 * q[B, Hq, T, hd], k/v[B, Hk, T, hd] (already rotated), out[B, Hq, T, hd],
 * lse[B, Hq, T] (each row's log-sum-exp of its scaled scores, for the
 * backward), scale 1/sqrt(hd). Query head h reads key-value head
 * h / (Hq / Hk). Scores are full [T, T] products (cuBLAS strided batched,
 * fp32 with TF32 off) masked by the softmax kernel; scratch is
 * rlvr_gpu_attention_scratch(B, Hq, T) floats of device memory. */
size_t rlvr_gpu_attention_scratch(int B, int Hq, int T);
int rlvr_gpu_attention_forward(float *d_out, float *d_lse, const float *d_q, const float *d_k,
                               const float *d_v, int B, int T, int Hq, int Hk, int hd,
                               float *d_scratch, char *err, size_t err_len);
/* dout[B, Hq, T, hd] -> dq[B, Hq, T, hd], dk/dv[B, Hk, T, hd] (written), from
 * the forward's out and lse (probabilities recomputed, never stored). */
int rlvr_gpu_attention_backward(float *d_dq, float *d_dk, float *d_dv, const float *d_dout,
                                const float *d_q, const float *d_k, const float *d_v,
                                const float *d_out, const float *d_lse, int B, int T, int Hq,
                                int Hk, int hd, float *d_scratch, char *err, size_t err_len);

/* The SFT cross-entropy on logits[n, vocab] in place, as rlvr_logprobs then
 * rlvr_logprobs_backward at temperature 1 do it, one block per row and the
 * vocabulary read in block-strided chunks with an online log-sum-exp:
 *   rows[n]   uint8 (NULL: all): rows with 0 are outside the loss (prompt,
 *             padding): logp = lse = 0 and a zero gradient row;
 *   targets[n]  the next token of each active row;
 *   dlogp       dL/dlogp of every active row (SFT: -1 / active tokens);
 *   logp[n], lse[n]  out;
 *   logits      overwritten by dL/dlogits = dlogp * ([v == target] - p).
 * A row whose logits hold NaN or +Inf, are all -Inf, whose target's logit is
 * -Inf or whose target is outside [0, vocab) gets logp = NaN and a zero
 * gradient row: the caller reads logp and refuses it (the model does). */
int rlvr_gpu_cross_entropy(float *d_logits, const int32_t *d_targets, const uint8_t *d_rows,
                           size_t n, size_t vocab, float dlogp, float *d_logp, float *d_lse,
                           char *err, size_t err_len);

/* ---- the model ---------------------------------------------------------------------- */

/* Precision of the linear layers' matrix products. */
#define RLVR_GPU_FP32 0 /* fp32 operands and accumulation, TF32 off: the reference path */
#define RLVR_GPU_BF16 1 /* bf16 operands (a bf16 copy of the fp32 master weights,
                           activations rounded on the way in), fp32 accumulation
                           and outputs; attention products in TF32 */
/* Or'd into the precision given to rlvr_gpu_model_create: a forward-only
 * model. It allocates no gradients and no AdamW moments, and reserves one
 * layer's activations, which every layer of the forward reuses, without the
 * backward's scratch or the loss's buffers (gpu/model_graph.cuh's
 * net_carve_acts; tests/test_gpu_model_host.cu prints both modes' bytes for
 * a Qwen2.5-0.5B shape). It runs the same operations on the
 * same inputs in the same order as the training model, so its logits (and
 * its generation steps) are the training model's, bit for bit. Refused on
 * it, with "gpu model: forward-only model: no gradients" and nothing
 * changed: rlvr_gpu_model_sft_loss, _backward, _adamw_step, _zero_grads,
 * _download_grads, _download_adamw and _upload_adamw. */
#define RLVR_GPU_FORWARD_ONLY 0x100
/* Or'd into the precision given to rlvr_gpu_model_create (with or without
 * RLVR_GPU_FORWARD_ONLY): a model without logits, for a caller whose loss
 * reads the final hidden states and the LM head's weight
 * (rlvr_gpu_model_forward_hidden) and hands back their gradient
 * (rlvr_gpu_model_backward_hidden), as the GRPO loss fused with the LM head
 * does. Its activations have no [B*T, V] logits buffer and, in BF16, no
 * [B*T, V] bf16 operand for their gradient (gpu/model_graph.cuh
 * net_carve_acts; tests/test_gpu_model_host.cu prints the bytes for a
 * Qwen2.5-0.5B shape: at 8 x 1024 positions, 4.64 GiB less in fp32 and
 * 6.88 GiB less in bf16). Refused on it, with "gpu model: a model without
 * logits (RLVR_GPU_NO_LOGITS): use rlvr_gpu_model_forward_hidden and
 * rlvr_gpu_model_backward_hidden" and nothing changed:
 * rlvr_gpu_model_forward, _sft_loss and _backward. Generation
 * (rlvr_gpu_model_step) is unaffected: its logits are the step's own. */
#define RLVR_GPU_NO_LOGITS 0x200

/* The fields of host/model.h's struct rlvr_model_config that the GPU needs,
 * same names and meanings (head_dim already filled in: the config checked). */
struct rlvr_gpu_model_config {
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int num_hidden_layers;
    int num_attention_heads;
    int num_key_value_heads;
    int head_dim;
    int max_position_embeddings;
    double rope_theta;
    double rms_norm_eps;
    int tie_word_embeddings;
    int attention_bias;
};

/* AdamW's settings (host/optim.h's struct rlvr_optim_config without the
 * schedule: the caller passes each step's rate, rlvr_lr_at's). */
struct rlvr_gpu_adamw_config {
    double beta1, beta2, eps;
    double weight_decay;   /* decoupled; matrices only (the embedding included) */
    double max_grad_norm;  /* 0: no clipping */
};

struct rlvr_gpu_model;

/* Creates the model with zero weights on the current device. The parameter
 * count and order are host/model.c's for the same config. precision:
 * RLVR_GPU_FP32 or RLVR_GPU_BF16, with RLVR_GPU_FORWARD_ONLY or'd in for a
 * forward-only model and RLVR_GPU_NO_LOGITS for one without logits. */
int rlvr_gpu_model_create(struct rlvr_gpu_model **out, const struct rlvr_gpu_model_config *cfg,
                          int precision, char *err, size_t err_len);
void rlvr_gpu_model_free(struct rlvr_gpu_model *m);
/* The config the model was created with (never NULL for a model). */
const struct rlvr_gpu_model_config *rlvr_gpu_model_config_of(const struct rlvr_gpu_model *m);
size_t rlvr_gpu_model_n_params(const struct rlvr_gpu_model *m);
/* Bytes of device memory the model holds now, and the most it ever held
 * (its own allocations: every family, the cuBLAS workspace it hands
 * cuBLAS; not the CUDA context). */
size_t rlvr_gpu_model_bytes(const struct rlvr_gpu_model *m);
size_t rlvr_gpu_model_peak_bytes(const struct rlvr_gpu_model *m);

/* params[n_params] (host, host/model.c's layout) to and from the device. */
int rlvr_gpu_model_upload(struct rlvr_gpu_model *m, const float *params, size_t n_params,
                          char *err, size_t err_len);
int rlvr_gpu_model_download(const struct rlvr_gpu_model *m, float *params, size_t n_params,
                            char *err, size_t err_len);
int rlvr_gpu_model_download_grads(const struct rlvr_gpu_model *m, float *grads, size_t n_params,
                                  char *err, size_t err_len);
int rlvr_gpu_model_zero_grads(struct rlvr_gpu_model *m, char *err, size_t err_len);

/* Sizes the activations for up to B sequences of up to T tokens. */
int rlvr_gpu_model_reserve(struct rlvr_gpu_model *m, int B, int T, char *err, size_t err_len);
/* tokens[B, T] (host) -> the logits [B*T, V] on the device, returned in
 * *d_logits (owned by the model, valid until the next forward or reserve).
 * Causal attention within each sequence, positions 0..T-1. */
int rlvr_gpu_model_forward(struct rlvr_gpu_model *m, const int32_t *tokens, int B, int T,
                           float **d_logits, char *err, size_t err_len);
/* The SFT loss on the last forward's logits (rlvr_gpu_cross_entropy with
 * dlogp = -scale): targets[B*T] and rows[B*T] are host arrays; *loss =
 * -scale * sum of the active rows' logp (in double). The logits become the
 * gradient, ready for rlvr_gpu_model_backward(m, NULL). A non-finite row or
 * a target out of range is refused, naming the row. */
int rlvr_gpu_model_sft_loss(struct rlvr_gpu_model *m, const int32_t *targets,
                            const uint8_t *rows, float scale, double *loss, char *err,
                            size_t err_len);
/* dlogits[B*T, V] on the device (NULL: the model's logits buffer, as the
 * loss left it; refused after rlvr_gpu_model_forward_hidden, which computes
 * no logits) -> adds the parameter gradients. dlogits may be clobbered. */
int rlvr_gpu_model_backward(struct rlvr_gpu_model *m, const float *d_dlogits, char *err,
                            size_t err_len);
/* One AdamW step at rate lr (host/optim.c's update, order and bias
 * corrections; clipping by the global norm, gradients scaled in place and
 * not zeroed). A non-finite norm refuses the step (nothing changes). The
 * bf16 copy of the weights is refreshed by the same pass. */
int rlvr_gpu_model_adamw_step(struct rlvr_gpu_model *m, const struct rlvr_gpu_adamw_config *c,
                              double lr, double *grad_norm, int *clipped, char *err,
                              size_t err_len);
/* AdamW's state to and from the host, for checkpoints and their resume:
 * the moments m1[n_params] and v[n_params] (host arrays, host/model.c's
 * layout: host/optim.h's struct rlvr_adamw m and v) and the number of steps
 * taken (its step: the next step's bias corrections use step + 1). A model
 * that has not stepped downloads zeros and step 0. Upload allocates the
 * moments when the model has none yet (counted in its bytes) and refuses a
 * negative step; the model then continues exactly as the one that was
 * downloaded (or as the CPU's optimizer with that state). */
int rlvr_gpu_model_download_adamw(const struct rlvr_gpu_model *m, float *m1, float *v,
                                  size_t n_params, long *step, char *err, size_t err_len);
int rlvr_gpu_model_upload_adamw(struct rlvr_gpu_model *m, const float *m1, const float *v,
                                size_t n_params, long step, char *err, size_t err_len);

/* ---- the forward and backward without the LM head ---------------------------------
 * For a loss that multiplies the final hidden states by the LM head itself,
 * chunk by chunk, never holding all the logits (gpu_grpo.h's
 * rlvr_gpu_grpo_linear_loss_dev, which takes h, W, dh and dW as they are
 * handed out here). With
 *   h = final_norm(x_L)  [N, D]  (N = B*T)      W  the LM head [V, D]
 *   logits = h W^T                              (rlvr_gpu_model_forward's)
 * the two halves below and the caller's products are the model's own:
 *   rlvr_gpu_model_forward_hidden    = rlvr_gpu_model_forward up to, and
 *                                      without, logits = h W^T;
 *   dh = dlogits W, dW += dlogits^T h  (the caller's)
 *   rlvr_gpu_model_backward_hidden(dh) = the rest of
 *                                      rlvr_gpu_model_backward(dlogits).
 * The same operations on the same inputs in the same order: in the host
 * emulation (tests/test_gpu_model_host.cu) forward_hidden then h W^T gives
 * rlvr_gpu_model_forward's logits bit for bit, and dW plus
 * backward_hidden(dlogits W) rlvr_gpu_model_backward's gradients bit for
 * bit, in fp32 and in bf16 (where the caller's products read h_bf16 and
 * weight_bf16 and round dlogits to bf16 as the model does). */
struct rlvr_gpu_model_hidden {
    int rows, hidden, vocab;     /* N = B*T, D, V */
    int dtype;                   /* the model's precision: RLVR_GPU_FP32 (gpu_grpo.h's
                                    RLVR_GPU_F32) or RLVR_GPU_BF16: what the head's
                                    products read, h and weight or their bf16 copies */
    const float *h;              /* [N, D] the final norm's output, fp32 */
    const uint16_t *h_bf16;      /* [N, D] h rounded to bf16 (the head product's
                                    operand), BF16 only, else NULL */
    const float *weight;         /* [V, D] the LM head: the embedding when
                                    tie_word_embeddings, else lm_head; fp32 */
    const uint16_t *weight_bf16; /* [V, D] its bf16 copy, BF16 only, else NULL */
    float *dweight;              /* [V, D] the LM head's slice of the model's
                                    gradients: add dlogits^T h here (+=); NULL in
                                    a forward-only model */
    float *dh;                   /* [N, D] a buffer of the model's where the caller
                                    may write dh for rlvr_gpu_model_backward_hidden
                                    (its backward scratch, free until then); NULL
                                    in a forward-only model */
};

/* tokens[B, T] (host) -> the final hidden states on the device: the
 * forward of rlvr_gpu_model_forward without the LM head's product. *out
 * gets device pointers owned by the model: h and h_bf16 valid until the
 * next forward, backward or reserve; weight, weight_bf16 and dweight until
 * the model is freed (weight changes with uploads and AdamW steps). Runs on
 * any model (with logits too, whose logits it leaves stale: the SFT loss
 * and backward(NULL) then refuse). On failure *out is zeroed. */
int rlvr_gpu_model_forward_hidden(struct rlvr_gpu_model *m, const int32_t *tokens, int B, int T,
                                  struct rlvr_gpu_model_hidden *out, char *err, size_t err_len);
/* dh[N, D] on the device (the gradient at the final norm's output, of the
 * last forward: either kind; it may be the hidden's dh buffer) -> adds the
 * parameter gradients of everything below the LM head (the final norm, the
 * layers, the embedding's lookups) exactly as rlvr_gpu_model_backward does
 * after the head's products. The LM head's own gradient is the caller's
 * (dweight). With tie_word_embeddings the caller's dW and the embedding's
 * lookups add into one tensor, the head's first, as rlvr_gpu_model_backward
 * adds them. Refused on a forward-only model (its message) and without a
 * forward. */
int rlvr_gpu_model_backward_hidden(struct rlvr_gpu_model *m, const float *d_dh, char *err,
                                   size_t err_len);

/* ---- generation: a KV cache and a step over many rows --------------------------------
 * host/model.h's struct rlvr_kv_cache, rlvr_kv_cache_copy and rlvr_model_step
 * on the device, word for word; the generation loop that drives them is
 * host/generate.c's, shared with the CPU (host/generate_gpu.h).
 *
 * The cache holds keys (rotated) and values of `slots` sequences of max_len
 * positions: two device allocations, [L, slots, max_len, Hk * hd] fp32
 * each, with the RoPE table of its positions, counted in the model's bytes
 * and high-water mark (rlvr_gpu_model_bytes / peak_bytes), as are the step's
 * buffers for its rows, which the cache keeps and grows to the largest step
 * it has run (rows x (3 D + 2 Hq hd + 2 Hk hd + 3 F) floats and n_emitted x
 * V floats of logits, a bf16 operand in BF16). A cache belongs to the model
 * it was made for, which must outlive it; one step at a time. Decoding
 * attention is fp32 in both precisions (one block per (row, query head),
 * an online softmax over the positions); head_dim up to 256. */
struct rlvr_gpu_kv;

int rlvr_gpu_kv_create(struct rlvr_gpu_kv **out, struct rlvr_gpu_model *m, int slots, int max_len,
                       char *err, size_t err_len);
void rlvr_gpu_kv_free(struct rlvr_gpu_kv *kv);
/* The first len positions of slot from into slot to (one prompt prefilled
 * once, then sampled G times); from == to or len 0 does nothing. Queued. */
int rlvr_gpu_kv_copy(struct rlvr_gpu_kv *kv, int from, int to, int len, char *err, size_t err_len);

/* rlvr_model_step on the device: row r (0 <= r < n) is token tokens[r] at
 * position pos[r] of sequence slot[r] (host arrays). Per layer, every row's
 * key and value are stored in the cache before any row attends, so a
 * prefill passes a prompt as consecutive rows of one slot and a decode step
 * one row per slot; row r attends to positions 0..pos[r] of its slot. Rows
 * with emit[r] != 0 (emit NULL: every row) get logits, written in row order
 * to logits[n_emitted, V] in HOST memory: the caller samples them on the
 * host (host/sampler.h), which keeps the sampler's exact semantics and its
 * random streams; V floats per emitting row cross the bus. Refused (nothing
 * runs): a token outside the vocabulary, a slot or position outside the
 * cache, two rows at one (slot, pos) (the CPU would keep the last; the
 * device could keep either). Returns once the logits are on the host (with
 * no emitting row, once the step has run). n = 0 does nothing. */
int rlvr_gpu_model_step(struct rlvr_gpu_model *m, struct rlvr_gpu_kv *kv, int n,
                        const int32_t *tokens, const int *slot, const int *pos,
                        const uint8_t *emit, float *logits, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
