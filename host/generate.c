/*
 * generate.c -- the generation loop (see generate.h), written once over an
 * engine (struct rlvr_gen_engine): the CPU's (rlvr_model_step) here, the
 * GPU's in generate_gpu.c. Memory: one KV cache of n_prompts * G slots (the
 * engine's), one host logits block [n_prompts * G, V], per-sequence token
 * arrays of max_tokens. The sampler's scratch is one per call; the
 * per-token work outside the model is a sampling pass over V logits per
 * sequence, on the host whatever the engine.
 *
 * Invariants: sample g of prompt p draws only from its own stream, in
 * token order, so the engine, the batch and the order of the rows in a step
 * change nothing but the logits; the binding (rlvr_generate_bind) is read
 * once per call.
 */
#include "generate.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "numeric.h"

const char *rlvr_finish_name(int finish)
{
    return finish == RLVR_FINISH_LENGTH ? "length" : "stop";
}

void rlvr_gen_sequences_free(struct rlvr_gen_sequence *s, int n)
{
    for (int i = 0; i < n; i++) {
        free(s[i].tokens);
        free(s[i].logprobs);
        memset(&s[i], 0, sizeof s[i]);
    }
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Appends token t to sequence i and decides whether it has finished. */
static void take_token(struct rlvr_gen_sequence *q, int32_t t, float lp, const struct rlvr_sampling *s,
                       struct rlvr_stop_matcher *sm, rlvr_token_piece_fn piece, void *ctx, int *done)
{
    q->tokens[q->n_tokens] = t;
    q->logprobs[q->n_tokens] = lp;
    q->n_tokens++;
    if (rlvr_sampling_is_stop_token(s, t)) {
        q->finish = RLVR_FINISH_STOP_TOKEN;
        *done = 1;
        return;
    }
    if (sm && piece) {
        size_t n = 0, cut = 0;
        const char *bytes = piece(ctx, t, &n);
        if (rlvr_stop_matcher_feed(sm, bytes, bytes ? n : 0, &cut)) {
            q->finish = RLVR_FINISH_STOP_STRING;
            q->text_cut = cut;
            *done = 1;
            return;
        }
    }
    if (q->n_tokens >= s->max_tokens) {
        q->finish = RLVR_FINISH_LENGTH;
        *done = 1;
    }
}

/* ---- the CPU engine ------------------------------------------------------------------ */

struct cpu_cache {
    struct rlvr_kv_cache kv;
};

static void *cpu_cache_create(void *ctx, int slots, int max_len, char *err, size_t err_len)
{
    struct cpu_cache *c = malloc(sizeof *c);
    if (!c) {
        rlvr_num_fail(err, err_len, "generate: out of memory");
        return NULL;
    }
    if (rlvr_kv_cache_create(&c->kv, ctx, slots, max_len, err, err_len)) {
        free(c);
        return NULL;
    }
    return c;
}

static void cpu_cache_free(void *cache)
{
    struct cpu_cache *c = cache;
    if (!c)
        return;
    rlvr_kv_cache_free(&c->kv);
    free(c);
}

static int cpu_cache_copy(void *cache, int from, int to, int len, char *err, size_t err_len)
{
    (void)err, (void)err_len;
    rlvr_kv_cache_copy(&((struct cpu_cache *)cache)->kv, from, to, len);
    return 0;
}

static int cpu_step(void *ctx, void *cache, int n, const int32_t *tokens, const int *slot, const int *pos,
                    const uint8_t *emit, float *logits, char *err, size_t err_len)
{
    return rlvr_model_step(ctx, &((struct cpu_cache *)cache)->kv, n, tokens, slot, pos, emit, logits, err,
                           err_len);
}

static struct {
    const struct rlvr_model *model;
    struct rlvr_gen_engine engine;
} binding;

void rlvr_generate_bind(const struct rlvr_model *m, const struct rlvr_gen_engine *e)
{
    binding.model = e ? m : NULL;
    if (e)
        binding.engine = *e;
    else
        memset(&binding.engine, 0, sizeof binding.engine);
}

int rlvr_generate(struct rlvr_model *m, const struct rlvr_sampling *s, const int32_t *const *prompts,
                  const int *prompt_lens, int n_prompts, int G, uint64_t stream_base,
                  rlvr_token_piece_fn piece, void *piece_ctx, struct rlvr_gen_sequence *out,
                  struct rlvr_gen_stats *stats, char *err, size_t err_len)
{
    struct rlvr_gen_engine e;
    if (binding.model && binding.model == m) {
        e = binding.engine;
    } else {
        e.ctx = m;
        e.vocab_size = m->cfg.vocab_size;
        e.max_position_embeddings = m->cfg.max_position_embeddings;
        e.cache_create = cpu_cache_create;
        e.cache_free = cpu_cache_free;
        e.cache_copy = cpu_cache_copy;
        e.step = cpu_step;
    }
    return rlvr_generate_on(&e, s, prompts, prompt_lens, n_prompts, G, stream_base, piece, piece_ctx, out, stats,
                            err, err_len);
}

/* ---- the loop ------------------------------------------------------------------------ */

int rlvr_generate_on(const struct rlvr_gen_engine *e, const struct rlvr_sampling *s,
                     const int32_t *const *prompts, const int *prompt_lens, int n_prompts, int G,
                     uint64_t stream_base, rlvr_token_piece_fn piece, void *piece_ctx,
                     struct rlvr_gen_sequence *out, struct rlvr_gen_stats *stats, char *err,
                     size_t err_len)
{
    if (rlvr_sampling_check(s, err, err_len))
        return -1;
    if (n_prompts < 1 || G < 1)
        return rlvr_num_fail(err, err_len, "generate: %d prompts x %d samples", n_prompts, G);
    if (s->n_stop_strings && !piece)
        return rlvr_num_fail(err, err_len, "generate: stop strings need the tokenizer's pieces");
    int V = e->vocab_size, max_prompt = 0;
    for (int p = 0; p < n_prompts; p++) {
        if (prompt_lens[p] < 1)
            return rlvr_num_fail(err, err_len, "generate: prompt %d is empty (a model needs at least "
                                 "one token to condition on)", p);
        if (prompt_lens[p] > max_prompt)
            max_prompt = prompt_lens[p];
    }
    long max_len = (long)max_prompt + s->max_tokens;
    if (max_len > e->max_position_embeddings)
        return rlvr_num_fail(err, err_len,
                             "generate: a prompt of %d tokens plus max_tokens %d exceeds the model's "
                             "max_position_embeddings (%d)",
                             max_prompt, s->max_tokens, e->max_position_embeddings);
    int n = n_prompts * G;
    memset(out, 0, (size_t)n * sizeof *out);
    void *kv = e->cache_create(e->ctx, n, (int)max_len, err, err_len);
    if (!kv)
        return -1;
    float *logits = malloc((size_t)n * V * sizeof(float));
    struct rlvr_rng *rng = calloc((size_t)n, sizeof *rng);
    struct rlvr_stop_matcher **sm = calloc((size_t)n, sizeof *sm);
    int *slot = malloc((size_t)n * sizeof(int)), *pos = malloc((size_t)n * sizeof(int));
    int *kpos = malloc((size_t)n * sizeof(int));
    int32_t *tok = malloc((size_t)n * sizeof(int32_t));
    int *active = malloc((size_t)n * sizeof(int));
    struct rlvr_sample_scratch *scratch = rlvr_sample_scratch_create(V);
    int rc = 0;
    if (!logits || !rng || !sm || !slot || !pos || !kpos || !tok || !active || !scratch) {
        rc = rlvr_num_fail(err, err_len, "generate: out of memory for %d sequences", n);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        out[i].tokens = malloc((size_t)s->max_tokens * sizeof(int32_t));
        out[i].logprobs = malloc((size_t)s->max_tokens * sizeof(float));
        if (!out[i].tokens || !out[i].logprobs) {
            rc = rlvr_num_fail(err, err_len, "generate: out of memory for %d sequences", n);
            goto done;
        }
        rlvr_rng_init(&rng[i], s->seed, stream_base + (uint64_t)i);
        if (s->n_stop_strings && !(sm[i] = rlvr_stop_matcher_create(s))) {
            rc = rlvr_num_fail(err, err_len, "generate: the stop strings cannot be matched");
            goto done;
        }
    }
    struct rlvr_gen_stats st = {0, 0, 0, 0};
    double t0 = seconds_now();
    /* prefill: one prompt at a time, its last row's logits shared by its G
     * samples */
    int finished = 0;
    for (int p = 0; p < n_prompts && !rc; p++) {
        int L = prompt_lens[p], first = p * G;
        int *ps = malloc((size_t)L * sizeof(int)), *sl = malloc((size_t)L * sizeof(int));
        uint8_t *emit = calloc((size_t)L, 1);
        if (!ps || !sl || !emit) {
            rc = rlvr_num_fail(err, err_len, "generate: out of memory for a prompt of %d tokens", L);
        } else {
            for (int t = 0; t < L; t++)
                ps[t] = t, sl[t] = first;
            emit[L - 1] = 1;
            rc = e->step(e->ctx, kv, L, prompts[p], sl, ps, emit, logits, err, err_len);
        }
        free(ps);
        free(sl);
        free(emit);
        if (rc)
            break;
        st.prompt_tokens += L;
        for (int g = 0; g < G && !rc; g++) {
            int i = first + g, d = 0;
            if (g && e->cache_copy(kv, first, i, L, err, err_len)) {
                rc = -1;
                break;
            }
            int32_t t;
            float lp;
            if (rlvr_sample_token(logits, V, s, &rng[i], scratch, &t, &lp)) {
                rc = rlvr_num_fail(err, err_len, "generate: prompt %d: %s", p,
                                   rlvr_sample_scratch_error(scratch));
                break;
            }
            take_token(&out[i], t, lp, s, sm[i], piece, piece_ctx, &d);
            pos[i] = L;
            finished += d;
            active[i] = !d;
        }
    }
    double t1 = seconds_now();
    st.prefill_seconds = t1 - t0;
    /* decode: every unfinished sequence, one token per step */
    while (!rc && finished < n) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (active[i]) {
                slot[k] = i;
                tok[k] = out[i].tokens[out[i].n_tokens - 1];
                k++;
            }
        for (int r = 0; r < k; r++)
            kpos[r] = pos[slot[r]];
        rc = e->step(e->ctx, kv, k, tok, slot, kpos, NULL, logits, err, err_len);
        for (int r = 0; r < k && !rc; r++) {
            int i = slot[r], d = 0;
            int32_t t;
            float lp;
            if (rlvr_sample_token(logits + (size_t)r * V, V, s, &rng[i], scratch, &t, &lp)) {
                rc = rlvr_num_fail(err, err_len, "generate: sequence %d: %s", i,
                                   rlvr_sample_scratch_error(scratch));
                break;
            }
            pos[i]++;
            take_token(&out[i], t, lp, s, sm[i], piece, piece_ctx, &d);
            if (d) {
                active[i] = 0;
                finished++;
            }
        }
    }
    st.decode_seconds = seconds_now() - t1;
    for (int i = 0; i < n; i++)
        st.generated_tokens += out[i].n_tokens;
    if (stats)
        *stats = st;
done:
    if (rc)
        rlvr_gen_sequences_free(out, n);
    if (sm)
        for (int i = 0; i < n; i++)
            rlvr_stop_matcher_free(sm[i]);
    free(sm);
    rlvr_sample_scratch_free(scratch);
    free(active);
    free(tok);
    free(kpos);
    free(pos);
    free(slot);
    free(rng);
    free(logits);
    e->cache_free(kv);
    return rc;
}
