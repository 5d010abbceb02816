/*
 * generate_gpu.c -- generation on the GPU (see generate_gpu.h): generate.c's
 * loop (rlvr_generate_on) over an engine made of gpu_model.h's KV cache and
 * step, and the GPU copy of a CPU model that the commands sample with.
 *
 * Invariants: nothing here decides a token; every decision (sampling, stop
 * rules, budgets) is generate.c's, on logits downloaded to the host, so the
 * CPU and the GPU differ only where their logits do. Errors come back with
 * their messages; nothing prints.
 */
#include "generate_gpu.h"

#include <stdio.h>
#include <string.h>

#include "model.h"

static void *gpu_cache_create(void *ctx, int slots, int max_len, char *err, size_t err_len)
{
    struct rlvr_gpu_kv *kv = NULL;
    if (rlvr_gpu_kv_create(&kv, ctx, slots, max_len, err, err_len))
        return NULL;
    return kv;
}

static void gpu_cache_free(void *cache)
{
    rlvr_gpu_kv_free(cache);
}

static int gpu_cache_copy(void *cache, int from, int to, int len, char *err, size_t err_len)
{
    return rlvr_gpu_kv_copy(cache, from, to, len, err, err_len);
}

static int gpu_step(void *ctx, void *cache, int n, const int32_t *tokens, const int *slot, const int *pos,
                    const uint8_t *emit, float *logits, char *err, size_t err_len)
{
    return rlvr_gpu_model_step(ctx, cache, n, tokens, slot, pos, emit, logits, err, err_len);
}

void rlvr_gen_engine_gpu(struct rlvr_gen_engine *e, struct rlvr_gpu_model *g)
{
    const struct rlvr_gpu_model_config *c = rlvr_gpu_model_config_of(g);
    memset(e, 0, sizeof *e);
    e->ctx = g;
    e->vocab_size = c ? c->vocab_size : 0;
    e->max_position_embeddings = c ? c->max_position_embeddings : 0;
    e->cache_create = gpu_cache_create;
    e->cache_free = gpu_cache_free;
    e->cache_copy = gpu_cache_copy;
    e->step = gpu_step;
}

int rlvr_generate_gpu(struct rlvr_gpu_model *g, const struct rlvr_sampling *s, const int32_t *const *prompts,
                      const int *prompt_lens, int n_prompts, int G, uint64_t stream_base,
                      rlvr_token_piece_fn piece, void *piece_ctx, struct rlvr_gen_sequence *out,
                      struct rlvr_gen_stats *stats, char *err, size_t err_len)
{
    if (!g || !rlvr_gpu_model_config_of(g)) {
        if (err && err_len)
            snprintf(err, err_len, "generate: no GPU model");
        return -1;
    }
    struct rlvr_gen_engine e;
    rlvr_gen_engine_gpu(&e, g);
    return rlvr_generate_on(&e, s, prompts, prompt_lens, n_prompts, G, stream_base, piece, piece_ctx, out, stats,
                            err, err_len);
}

struct rlvr_gpu_model *rlvr_gpu_model_of(const struct rlvr_model *m, int precision, int B, int T, char *err,
                                         size_t err_len)
{
    const struct rlvr_model_config *c = &m->cfg;
    struct rlvr_gpu_model_config gc = {
        .vocab_size = c->vocab_size,
        .hidden_size = c->hidden_size,
        .intermediate_size = c->intermediate_size,
        .num_hidden_layers = c->num_hidden_layers,
        .num_attention_heads = c->num_attention_heads,
        .num_key_value_heads = c->num_key_value_heads,
        .head_dim = c->head_dim,
        .max_position_embeddings = c->max_position_embeddings,
        .rope_theta = c->rope_theta,
        .rms_norm_eps = c->rms_norm_eps,
        .tie_word_embeddings = c->tie_word_embeddings,
        .attention_bias = c->attention_bias,
    };
    struct rlvr_gpu_model *g = NULL;
    if (rlvr_gpu_model_create(&g, &gc, precision, err, err_len))
        return NULL;
    if (rlvr_gpu_model_n_params(g) != m->n_params) {
        if (err && err_len)
            snprintf(err, err_len, "the GPU model has %zu parameters, the CPU model %zu",
                     rlvr_gpu_model_n_params(g), m->n_params);
    } else if (!rlvr_gpu_model_upload(g, m->params, m->n_params, err, err_len) &&
               (B < 1 || T < 1 ||
                (!rlvr_gpu_model_reserve(g, B, T, err, err_len) &&
                 ((precision & RLVR_GPU_FORWARD_ONLY) || !rlvr_gpu_model_zero_grads(g, err, err_len))))) {
        return g;
    }
    rlvr_gpu_model_free(g);
    return NULL;
}

struct rlvr_gpu_model *rlvr_generate_bind_gpu(const struct rlvr_model *m, int precision, char *err,
                                              size_t err_len)
{
    /* generation needs no gradients: a forward-only model */
    struct rlvr_gpu_model *g = rlvr_gpu_model_of(m, precision | RLVR_GPU_FORWARD_ONLY, 0, 0, err, err_len);
    if (!g)
        return NULL;
    struct rlvr_gen_engine e;
    rlvr_gen_engine_gpu(&e, g);
    rlvr_generate_bind(m, &e);
    return g;
}

void rlvr_generate_unbind_gpu(const struct rlvr_model *m, struct rlvr_gpu_model *g)
{
    if (!g)
        return;
    rlvr_generate_bind(m, NULL);
    rlvr_gpu_model_free(g);
}
