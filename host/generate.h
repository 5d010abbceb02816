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
 * message (nothing is left allocated in out then). */
int rlvr_generate(struct rlvr_model *m, const struct rlvr_sampling *s, const int32_t *const *prompts,
                  const int *prompt_lens, int n_prompts, int G, uint64_t stream_base,
                  rlvr_token_piece_fn piece, void *piece_ctx, struct rlvr_gen_sequence *out,
                  struct rlvr_gen_stats *stats, char *err, size_t err_len);

#endif
