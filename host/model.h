/*
 * model.h -- the policy: a decoder-only transformer of the Llama/Qwen2
 * family on the CPU, shaped by a config (RMSNorm, rotary embeddings in
 * Hugging Face's rotate-half layout, SwiGLU, grouped-query attention,
 * optional QKV bias, tied or untied embeddings).
 *
 * Memory layout (one allocation per tensor family, float32, row-major):
 *   params    every weight, in the order of the tensor table below
 *   grads     same layout as params (allocated by rlvr_model_enable_grads)
 *   acts      the activations a training forward keeps for its backward,
 *             sized for B sequences of T tokens (rlvr_model_reserve)
 *   kv        the key/value cache of generation (struct rlvr_kv_cache)
 *
 * The tensor table names every weight as Hugging Face's Qwen2 checkpoints
 * do, with its shape (out features first, as torch.nn.Linear stores them):
 *   model.embed_tokens.weight                     [V, D]
 *   model.layers.{i}.input_layernorm.weight       [D]
 *   model.layers.{i}.self_attn.q_proj.weight      [Hq*hd, D]   (+ .bias [Hq*hd])
 *   model.layers.{i}.self_attn.k_proj.weight      [Hk*hd, D]   (+ .bias [Hk*hd])
 *   model.layers.{i}.self_attn.v_proj.weight      [Hk*hd, D]   (+ .bias [Hk*hd])
 *   model.layers.{i}.self_attn.o_proj.weight      [D, Hq*hd]
 *   model.layers.{i}.post_attention_layernorm.weight [D]
 *   model.layers.{i}.mlp.gate_proj.weight         [F, D]
 *   model.layers.{i}.mlp.up_proj.weight           [F, D]
 *   model.layers.{i}.mlp.down_proj.weight         [D, F]
 *   model.norm.weight                             [D]
 *   lm_head.weight                                [V, D]  (absent when tied)
 * (V vocab_size, D hidden_size, F intermediate_size, Hq/Hk query/key-value
 * heads, hd head_dim.) Biases exist only with attention_bias.
 *
 * This file and model.c depend on libc, libm and (optionally) BLAS, so they
 * build on a machine with nothing else (DESIGN.md: the numeric core).
 * Conventions as in grpo.h: a status is returned (0, or -1 with a message in
 * err[err_len]); nothing here prints or exits.
 */
#ifndef RLVR_MODEL_H
#define RLVR_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* ---- configuration ---------------------------------------------------------------- */

/* The fields of Hugging Face's Qwen2Config that the model needs, under the
 * same names. A config.json with a field rlvr does not support (rope_scaling,
 * use_sliding_window true, ...) is refused by the checkpoint reader. */
struct rlvr_model_config {
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int num_hidden_layers;
    int num_attention_heads;
    int num_key_value_heads;
    int head_dim;                /* hidden_size / num_attention_heads unless set */
    int max_position_embeddings;
    double rope_theta;
    double rms_norm_eps;
    int tie_word_embeddings;     /* 0 or 1 */
    int attention_bias;          /* 0 or 1: q, k and v projections have biases */
    int bos_token_id;            /* -1 when none */
    int eos_token_id;            /* -1 when none */
};

/* A tiny config that trains from scratch in seconds (byte-level vocabulary of
 * 256 + 3 special tokens). */
void rlvr_model_config_tiny(struct rlvr_model_config *c);
/* Qwen2.5-0.5B's shape (V 151936, D 896, F 4864, 24 layers, 14/2 heads,
 * tied embeddings, QKV bias, rope_theta 1e6, eps 1e-6). */
void rlvr_model_config_qwen2_0_5b(struct rlvr_model_config *c);
/* Checks ranges and divisibility; fills head_dim when 0. */
int rlvr_model_config_check(struct rlvr_model_config *c, char *err, size_t err_len);

/* ---- the model -------------------------------------------------------------------- */

#define RLVR_TENSOR_NAME_MAX 96

struct rlvr_tensor {
    char name[RLVR_TENSOR_NAME_MAX];
    int ndim;                    /* 1 or 2 */
    int64_t shape[2];
    size_t offset;               /* in floats, into params (and grads) */
    size_t numel;
    int decay;                   /* 1: AdamW applies weight decay (matrices) */
};
/* Entries with numel 0 are absent from the model (the q/k/v biases when
 * attention_bias is 0): they keep their slot so that the table's indices
 * are the same for every config. Iterate and skip them. */

struct rlvr_model_acts;          /* the training activations (model.c) */

struct rlvr_model {
    struct rlvr_model_config cfg;
    size_t n_params;             /* floats */
    float *params;               /* [n_params] */
    float *grads;                /* [n_params] or NULL */
    int n_tensors;
    struct rlvr_tensor *tensors; /* [n_tensors], table order = params order */
    struct rlvr_model_acts *acts;
};

/* Allocates the parameters (zero-filled) for a checked config. */
int rlvr_model_create(struct rlvr_model *m, const struct rlvr_model_config *cfg, char *err,
                      size_t err_len);
void rlvr_model_free(struct rlvr_model *m);
/* Random initialisation as Hugging Face's _init_weights does it: normal with
 * standard deviation `std` (initializer_range, 0.02) for matrices, zeros for
 * biases, ones for norm weights; deterministic for a seed. */
void rlvr_model_init_random(struct rlvr_model *m, uint64_t seed, float std);
/* The tensor with this Hugging Face name, or NULL. */
const struct rlvr_tensor *rlvr_model_tensor(const struct rlvr_model *m, const char *name);
/* Allocates the gradient family (zeroed). */
int rlvr_model_enable_grads(struct rlvr_model *m, char *err, size_t err_len);
void rlvr_model_zero_grads(struct rlvr_model *m);

/* ---- training: forward and backward over whole sequences -------------------------- */

/* Sizes the activation family for up to B sequences of up to T tokens. */
int rlvr_model_reserve(struct rlvr_model *m, int B, int T, char *err, size_t err_len);

/* tokens[B, T] -> logits[B, T, V]; positions 0..T-1 in every sequence,
 * causal attention within each sequence (right padding never influences the
 * tokens before it). Keeps the activations for rlvr_model_backward. */
int rlvr_model_forward(struct rlvr_model *m, const int32_t *tokens, int B, int T, float *logits,
                       char *err, size_t err_len);

/* dlogits[B, T, V] (the gradient of the loss w.r.t. the logits of the last
 * forward) -> adds the parameter gradients into m->grads. dlogits may be
 * overwritten. */
int rlvr_model_backward(struct rlvr_model *m, const float *dlogits, char *err, size_t err_len);

/* ---- generation: a key/value cache and a step over many rows ---------------------- */

struct rlvr_kv_cache {
    int slots;                   /* sequences held */
    int max_len;                 /* positions per sequence */
    int n_layers, kv_dim;        /* kv_dim = Hk * hd */
    float *k, *v;                /* [n_layers, slots, max_len, kv_dim] each */
};

int rlvr_kv_cache_create(struct rlvr_kv_cache *c, const struct rlvr_model *m, int slots,
                         int max_len, char *err, size_t err_len);
void rlvr_kv_cache_free(struct rlvr_kv_cache *c);
/* Copies the first `len` positions of slot `from` into slot `to` (one prompt
 * prefilled once, then sampled G times). */
void rlvr_kv_cache_copy(struct rlvr_kv_cache *c, int from, int to, int len);

/* Runs n rows through the model with the cache: row r is token tokens[r] at
 * position pos[r] of sequence slot[r]. Each row's key and value are stored in
 * the cache before attention, so a prefill passes a prompt's tokens as
 * consecutive rows of one slot, and a decode step passes one row per slot.
 * Rows with emit[r] != 0 (emit NULL: every row) get logits, written in row
 * order to logits[n_emitted, V]. */
int rlvr_model_step(struct rlvr_model *m, struct rlvr_kv_cache *c, int n, const int32_t *tokens,
                    const int *slot, const int *pos, const uint8_t *emit, float *logits, char *err,
                    size_t err_len);

#endif
