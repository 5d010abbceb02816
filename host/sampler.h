/*
 * sampler.h -- the policy's sampling primitives: a reproducible random
 * number generator with one independent stream per sequence, the sampling
 * configuration (temperature, top-k, top-p, min-p, length and stop
 * conditions), the choice of one token from a row of logits, and an
 * incremental stop-string matcher. The generation loop (forward pass, KV
 * cache, batching) lives elsewhere and calls these once per token.
 *
 * Part of the numeric core: libc and libm only, no JSON, no Lua.
 * Conventions: a status is returned (0, or -1 with a one-line message);
 * nothing here prints, exits or keeps hidden state. Sampling one token
 * allocates nothing: its working memory is a caller-owned scratch, one per
 * thread, created once for the vocabulary size.
 *
 * What a call to rlvr_sample_token does, on one row logits[V]:
 *   1. temperature: z = logits * (1 / temperature) in float, as
 *      rlvr_logprobs (grpo.h) computes it; temperature 0 means greedy.
 *   2. top-k, then 3. top-p, then 4. min-p: the order of Hugging Face
 *      transformers' generate() (TemperatureLogitsWarper, TopKLogitsWarper,
 *      TopPLogitsWarper, MinPLogitsWarper). top-p's mass is measured on the
 *      distribution left by top-k; min-p is relative to the most likely
 *      token, so it is unchanged by the filters before it.
 *   5. one token drawn from what is left, renormalised, by inverse CDF with
 *      one uniform number from the sequence's stream.
 * Tokens are ranked by logit, higher first, and among equal logits the lower
 * id ranks first. Every filter keeps a prefix of that ranking:
 *   top-k  keeps the k best and every token whose logit equals the k-th
 *          (Hugging Face's rule: scores < k-th value are removed);
 *   top-p  keeps the token of rank r when the tokens ranked before it hold
 *          less than top_p of the mass (so the smallest prefix whose mass
 *          reaches top_p; ties split by id);
 *   min-p  keeps the tokens whose probability is at least min_p times the
 *          largest probability.
 * The most likely token always survives, so something is always left.
 *
 * Masking: a logit of -Inf is a token that cannot be drawn (probability 0).
 * A token whose exp(z - max z) underflows float (z more than 87.3 below the
 * maximum) has probability 0 as well, as in a float32 softmax. NaN and +Inf
 * logits, and a row that is all -Inf, are refused.
 *
 * Reproducibility: a token is a function of the logits' bits, the
 * configuration and the sequence's stream position, nothing else (not the
 * batch, the thread, the scratch or what was sampled before with it). Built
 * with gcc, the result is bit for bit the same on every x86-64 machine,
 * whichever of the AVX-512, AVX2 or baseline code paths runs. The order in
 * which the inverse CDF walks the survivors belongs to the implementation,
 * so the token a given seed gives may change between rlvr versions; the
 * distribution does not. (Logits that differ in their last bit, as a
 * batched forward pass can make them, may of course give another token.)
 */
#ifndef RLVR_SAMPLER_H
#define RLVR_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

/* ---- random numbers ----------------------------------------------------------- */

/* xoshiro256** (Blackman and Vigna, 2018), 256 bits of state. */
struct rlvr_rng {
    uint64_t s[4];
};

/* Seeds the stream `stream` of `seed`: state word j (0..3) is the
 * (4 * stream + j + 1)-th output of splitmix64 started at `seed`, i.e.
 *   s[j] = mix64(seed + (4 * stream + j + 1) * 0x9E3779B97F4A7C15)
 * with mix64 splitmix64's finaliser. Different (seed, stream) pairs get
 * different states (the splitmix64 outputs are a bijection of their
 * counter), so streams are independent for every practical purpose, and a
 * stream depends on nothing but its two numbers: number the sequences
 * (e.g. stream = prompt_index * group_size + sample_index) and sample i of
 * prompt p draws the same numbers whatever the batch size, the order the
 * sequences are stepped in, or the number of threads. */
void rlvr_rng_init(struct rlvr_rng *rng, uint64_t seed, uint64_t stream);

/* The next 64 random bits. */
uint64_t rlvr_rng_next(struct rlvr_rng *rng);

/* A uniform double in [0, 1): the top 53 bits of rlvr_rng_next * 2^-53. */
double rlvr_rng_uniform(struct rlvr_rng *rng);

/* ---- configuration ------------------------------------------------------------ */

/* The knobs of vLLM's SamplingParams and Hugging Face's GenerationConfig that
 * rlvr supports, under the same names. The arrays are borrowed: the caller
 * keeps them alive while the configuration is in use. */
struct rlvr_sampling {
    double temperature; /* 0 = greedy (argmax, lowest id on ties); else finite and > 0 */
    int top_k;          /* 0 = off; else >= 1 (k >= V is the same as off) */
    double top_p;       /* 1 = off; else in (0, 1) */
    double min_p;       /* 0 = off; else in (0, 1) */
    int max_tokens;     /* >= 1: tokens generated per sequence, a stop token included */
    uint64_t seed;      /* the seed of rlvr_rng_init; the stream is the caller's */

    /* Stop token ids[n_stop_token_ids], each >= 0 (an end-of-sequence id and
     * the chat template's end-of-turn id, typically). */
    const int32_t *stop_token_ids;
    size_t n_stop_token_ids;

    /* Stop strings[n_stop_strings]: byte strings of stop_string_lens[i] bytes
     * each (NUL bytes allowed), or NUL-terminated when stop_string_lens is
     * NULL. None may be empty. */
    const char *const *stop_strings;
    const size_t *stop_string_lens;
    size_t n_stop_strings;
};

/* temperature 1, top_k 0, top_p 1, min_p 0 (plain sampling from the model's
 * distribution), max_tokens 256 (TRL's max_completion_length), seed 0, no
 * stop tokens, no stop strings. */
void rlvr_sampling_default(struct rlvr_sampling *s);

/* Refuses, with a message naming the field: temperature < 0, NaN or Inf;
 * top_k < 0; top_p outside (0, 1] or NaN; min_p outside [0, 1) or NaN;
 * max_tokens < 1; a negative stop token id; an array that is NULL while its
 * count is not 0; an empty stop string. */
int rlvr_sampling_check(const struct rlvr_sampling *s, char *err, size_t err_len);

/* 1 when `token` is one of s->stop_token_ids, else 0. Stop-token semantics:
 * the stop token is generated (it counts toward max_tokens, it is part of
 * the completion's token ids, and its log-probability is the one the policy
 * is trained on, as TRL keeps the EOS token in completion_ids and its mask);
 * its text is not part of the returned completion. Generation of that
 * sequence ends with it. */
int rlvr_sampling_is_stop_token(const struct rlvr_sampling *s, int32_t token);

/* ---- sampling one token ------------------------------------------------------- */

/* Working memory for rlvr_sample_token: one allocation sized for a
 * vocabulary (about 18 bytes per entry: 2.7 MB at V = 151,936). Owned by
 * the caller, used by one thread at a time, reused for every token. */
struct rlvr_sample_scratch;

/* NULL when vocab < 1 or out of memory. */
struct rlvr_sample_scratch *rlvr_sample_scratch_create(int vocab);
void rlvr_sample_scratch_free(struct rlvr_sample_scratch *scratch);

/* The message of the last refused call made with this scratch ("" when the
 * last call succeeded). */
const char *rlvr_sample_scratch_error(const struct rlvr_sample_scratch *scratch);

/* Draws one token from logits[vocab] under s (the steps above), with one
 * uniform number from rng (none when greedy), and writes it to *token_out.
 *
 * *logprob_out (may be NULL: then the log-sum-exp is not computed when the
 * draw does not need it) is the log-probability of the chosen token under
 * softmax(logits / temperature) over the whole vocabulary: the distribution
 * after temperature only, before top-k, top-p and min-p. That is the
 * distribution whose log-probability the trainer computes (rlvr_logprobs with
 * the same temperature), so it is GRPO's old log-probability when the filters
 * are off; with filters on it is still the policy's log-probability of the
 * token, not the log of the probability it was drawn with (rlvr_sample_probs
 * gives that). With temperature 0 it is taken under softmax(logits), the
 * model's own distribution.
 *
 * vocab must be at most the scratch's vocabulary. Returns 0, or -1 with the
 * message in rlvr_sample_scratch_error(scratch): NaN or +Inf logits, all
 * -Inf, logits / temperature overflowing, a configuration that
 * rlvr_sampling_check refuses (its numeric fields), NULL arguments. */
int rlvr_sample_token(const float *logits, int vocab, const struct rlvr_sampling *s, struct rlvr_rng *rng,
                      struct rlvr_sample_scratch *scratch, int32_t *token_out, float *logprob_out);

/* The distribution rlvr_sample_token draws from: probs[vocab] (written in
 * full) holds the renormalised probabilities left after temperature, top-k,
 * top-p and min-p, 0 for every filtered or masked token; with temperature 0,
 * 1 at the argmax. Same refusals as rlvr_sample_token. */
int rlvr_sample_probs(const float *logits, int vocab, const struct rlvr_sampling *s,
                      struct rlvr_sample_scratch *scratch, double *probs);

/* ---- stop strings ------------------------------------------------------------- */

/* Watches the text of one sequence, fed as it is decoded, for the first
 * appearance of any stop string, also when one is split across tokens.
 * Keeps the last (longest stop string - 1) bytes, so the work per byte is
 * bounded by the total length of the stop strings. Owns a copy of them. */
struct rlvr_stop_matcher;

/* A matcher for s->stop_strings (none is fine: it never matches). NULL when
 * s is NULL, a stop string is NULL or empty, or out of memory. */
struct rlvr_stop_matcher *rlvr_stop_matcher_create(const struct rlvr_sampling *s);
void rlvr_stop_matcher_free(struct rlvr_stop_matcher *m);

/* Forgets the text: the matcher is ready for a new sequence. */
void rlvr_stop_matcher_reset(struct rlvr_stop_matcher *m);

/* Feeds the next bytes[n] of the generated text (the bytes the newest token
 * decodes to; n may be 0). Returns 1 once a stop string has appeared in the
 * text fed since the last reset, and then writes *cut: the number of bytes of
 * that text to keep, the stop string excluded (what vLLM and Hugging Face
 * return by default). The stop that ends first in the text wins; among stop
 * strings ending at the same byte, the longest (it starts first). Returns 0
 * while none has appeared (*cut untouched). Once it has returned 1 it keeps
 * returning 1 with the same *cut and ignores further bytes. The token in
 * which the stop string ends is generated and counts like any other: only
 * the text is cut. */
int rlvr_stop_matcher_feed(struct rlvr_stop_matcher *m, const void *bytes, size_t n, size_t *cut);

#endif
