/*
 * generate_gpu.h -- generation with the policy on the GPU (gpu/gpu_model.h's
 * KV cache and step), with the semantics of generate.h's rlvr_generate.
 *
 * The loop is generate.c's (rlvr_generate_on), run on an engine whose cache
 * and step are the device's: only the model's forward runs on the GPU; each
 * step's logits of the emitting rows ([n_emitted, V] fp32) come back to the
 * host and are sampled there by rlvr_sample_token, with the same per-sequence
 * random streams, stop tokens, stop strings and token budget. So with an
 * fp32 GPU model (RLVR_GPU_FP32) a sequence's tokens are the CPU's whenever
 * its logits round to the same choices (greedy: the same argmax; sampled:
 * the same draw, which a logit difference of a few ulp changes only at a
 * boundary of the sampler's cumulative sum); bf16 is faster and samples a
 * slightly different distribution.
 *
 * Invariants: the GPU model's weights are the caller's to keep current (the
 * GPU model is the one sampled, whatever the CPU model holds); one
 * generation at a time per GPU model (its cuBLAS handle and memory are not
 * shared between threads); the device memory of a call (the cache of
 * n_prompts * G slots and the step's rows) is freed when it returns and is
 * counted in the model's rlvr_gpu_model_bytes / peak while it lives.
 */
#ifndef RLVR_GENERATE_GPU_H
#define RLVR_GENERATE_GPU_H

#include "generate.h"
#include "gpu.h"

/* rlvr_generate on the GPU model g: every argument after the model and every
 * result (tokens, logprobs, finish, text_cut, stats) as rlvr_generate's. */
int rlvr_generate_gpu(struct rlvr_gpu_model *g, const struct rlvr_sampling *s, const int32_t *const *prompts,
                      const int *prompt_lens, int n_prompts, int G, uint64_t stream_base,
                      rlvr_token_piece_fn piece, void *piece_ctx, struct rlvr_gen_sequence *out,
                      struct rlvr_gen_stats *stats, char *err, size_t err_len);

/* Fills e with the GPU engine of g (for rlvr_generate_on or
 * rlvr_generate_bind); g must outlive every use of e. */
void rlvr_gen_engine_gpu(struct rlvr_gen_engine *e, struct rlvr_gpu_model *g);

/* A GPU copy of the CPU model m: same config, same weights, in `precision`
 * (RLVR_GPU_FP32: products in fp32 with TF32 off, the path that matches the
 * CPU; RLVR_GPU_BF16), with RLVR_GPU_FORWARD_ONLY or'd in for a model that
 * never trains (sampling, evaluation, a reference: no gradients, one
 * layer's activations) and left out for one that does (rlvr sft). When B
 * and T are > 0 the activations are reserved for B sequences of T tokens
 * (rlvr_gpu_model_reserve) and a training model's gradients cleared; 0, 0
 * for a model that only generates. NULL with a message on failure (no
 * device, built without CUDA, out of device memory). */
struct rlvr_gpu_model *rlvr_gpu_model_of(const struct rlvr_model *m, int precision, int B, int T, char *err,
                                         size_t err_len);

/* For a command that generates through rlvr_rollout / rlvr_evaluate: the
 * GPU copy of m (rlvr_gpu_model_of, forward-only, no activations reserved:
 * generation needs the weights and the KV cache only) bound with
 * rlvr_generate_bind, so that every rlvr_generate(m, ...) from now on runs
 * on it. Returns the GPU model, or NULL with a message (nothing bound). */
struct rlvr_gpu_model *rlvr_generate_bind_gpu(const struct rlvr_model *m, int precision, char *err,
                                              size_t err_len);
/* Undoes rlvr_generate_bind_gpu and frees g (NULL: nothing to do). */
void rlvr_generate_unbind_gpu(const struct rlvr_model *m, struct rlvr_gpu_model *g);

#endif
