/*
 * generate.h -- batched generation with the policy: G samples for each of
 * several prompts, with a KV cache, the sampler's filters, stop tokens,
 * stop strings and a token budget.
 *
 * Each prompt is prefilled once (its tokens run through the model as one
 * block), its cache is copied to its G slots, and then every unfinished
 * sequence advances one token per model step, all of them in the same step.
 * Sample g of prompt p draws from the random stream
 *     stream_base + p * G + g
 * of the configured seed, so its tokens do not depend on the batch, the
 * order of the sequences or the number of threads.
 *
 * Stop strings need the bytes each token decodes to: the caller passes a
 * function for that (the tokenizer's), or NULL when there are no stop
 * strings. The text is not built here; each sequence reports where a stop
 * string cut it (in bytes of the decoded completion).
 *
 * Part of the numeric core: libc, libm and the model.
 */
#ifndef RLVR_GENERATE_H
#define RLVR_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "sampler.h"

enum rlvr_finish { RLVR_FINISH_LENGTH = 0, RLVR_FINISH_STOP_TOKEN = 1, RLVR_FINISH_STOP_STRING = 2 };
/* "length" or "stop", as OpenAI's and vLLM's finish_reason. */
const char *rlvr_finish_name(int finish);

struct rlvr_gen_sequence {
    int32_t *tokens;             /* [n_tokens], the stop token included; malloc'd */
    float *logprobs;             /* [n_tokens] under the temperature's distribution */
    int n_tokens;
    int finish;                  /* enum rlvr_finish */
    size_t text_cut;             /* with RLVR_FINISH_STOP_STRING: bytes of text to keep */
};
void rlvr_gen_sequences_free(struct rlvr_gen_sequence *s, int n);

struct rlvr_gen_stats {
    long prompt_tokens, generated_tokens;
    double prefill_seconds, decode_seconds;
};

/* Bytes that token `id` decodes to (for stop strings). */
typedef const char *(*rlvr_token_piece_fn)(void *ctx, int32_t id, size_t *len);

/* prompts[n_prompts][prompt_lens[p]] -> out[n_prompts * G], sample g of
 * prompt p at out[p * G + g]. The cache is sized for the longest prompt plus
 * max_tokens and must fit max_position_embeddings. Returns 0, or -1 with a
 * message (nothing is left allocated in out then). Runs on the CPU
 * (rlvr_model_step), unless m is bound to another engine by
 * rlvr_generate_bind (the GPU's: generate_gpu.h). */
int rlvr_generate(struct rlvr_model *m, const struct rlvr_sampling *s, const int32_t *const *prompts,
                  const int *prompt_lens, int n_prompts, int G, uint64_t stream_base,
                  rlvr_token_piece_fn piece, void *piece_ctx, struct rlvr_gen_sequence *out,
                  struct rlvr_gen_stats *stats, char *err, size_t err_len);

/* ---- the engine a generation runs on ------------------------------------------------
 * The loop above (prefill, cache copies, decode steps, sampling on the host
 * with rlvr_sample_token, stop rules, statistics) is written once, over
 * these operations; the CPU's are rlvr_kv_cache_* and rlvr_model_step, the
 * GPU's are gpu_model.h's rlvr_gpu_kv_* and rlvr_gpu_model_step. Every
 * operation has rlvr_model_step's semantics (model.h): rows (token, slot,
 * position), K/V stored before attention, logits [n_emitted, V] in host
 * memory for the rows with emit != 0 (emit NULL: all). Status 0 or -1 with
 * a message in err. */
struct rlvr_gen_engine {
    void *ctx;                   /* the model (the engine's own) */
    int vocab_size;
    int max_position_embeddings;
    /* a cache of `slots` sequences of max_len positions; NULL on failure */
    void *(*cache_create)(void *ctx, int slots, int max_len, char *err, size_t err_len);
    void (*cache_free)(void *cache);
    /* the first len positions of slot from into slot to */
    int (*cache_copy)(void *cache, int from, int to, int len, char *err, size_t err_len);
    int (*step)(void *ctx, void *cache, int n, const int32_t *tokens, const int *slot, const int *pos,
                const uint8_t *emit, float *logits, char *err, size_t err_len);
};

/* rlvr_generate on engine e (same arguments after it, same results). */
int rlvr_generate_on(const struct rlvr_gen_engine *e, const struct rlvr_sampling *s,
                     const int32_t *const *prompts, const int *prompt_lens, int n_prompts, int G,
                     uint64_t stream_base, rlvr_token_piece_fn piece, void *piece_ctx,
                     struct rlvr_gen_sequence *out, struct rlvr_gen_stats *stats, char *err,
                     size_t err_len);

/* From now on rlvr_generate(m, ...) runs on e (copied; its ctx must outlive
 * the binding) instead of the CPU; e NULL undoes it. This is how a command
 * that generates through rlvr_rollout / rlvr_evaluate moves its generation
 * to the GPU without those layers knowing. One binding per process: binding
 * another model replaces it. Bind and unbind from one thread, while no
 * generation runs; rlvr_generate reads the binding at its start. */
void rlvr_generate_bind(const struct rlvr_model *m, const struct rlvr_gen_engine *e);

#endif
