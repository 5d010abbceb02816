/*
 * policy.h -- a policy as the commands use it: the model, its tokenizer and
 * what its config.json says about ending a sequence, loaded from a
 * checkpoint folder or made fresh from a config, and saved as a folder that
 * Hugging Face tools open (config.json, model.safetensors, tokenizer.json).
 *
 * A folder's tokenizer is its tokenizer.json; a model trained with rlvr's
 * byte tokenizer has none and says so in rlvr.json ({"tokenizer": "bytes"}).
 */
#ifndef RLVR_POLICY_H
#define RLVR_POLICY_H

#include "checkpoint.h"
#include "model.h"
#include "tokenizer.h"

struct rlvr_policy {
    struct rlvr_model model;
    struct rlvr_checkpoint_meta meta;
    rlvr_tokenizer *tok;
    char tokenizer_path[4096];   /* the tokenizer.json read, or "bytes" */
};

/* Loads DIR (config.json and weights); the tokenizer from `tokenizer` (a
 * tokenizer.json path or "bytes"), else DIR's own. */
int rlvr_policy_load(struct rlvr_policy *p, const char *dir, const char *tokenizer, char *err,
                     size_t err_len);
/* A fresh model from cfg, weights drawn with `seed` (std 0.02), and a
 * tokenizer as above (required). The vocabulary must hold the tokenizer's. */
int rlvr_policy_init(struct rlvr_policy *p, const struct rlvr_model_config *cfg, uint64_t seed,
                     const char *tokenizer, char *err, size_t err_len);
/* Writes DIR: the checkpoint in `dtype`, and the tokenizer (a copy of the
 * tokenizer.json, or rlvr.json for the byte tokenizer). */
int rlvr_policy_save(const struct rlvr_policy *p, const char *dir, enum rlvr_dtype dtype, char *err,
                     size_t err_len);
void rlvr_policy_free(struct rlvr_policy *p);

/* The ids that end a generated sequence: config.json's eos_token_id list,
 * and the tokenizer's <|im_end|> and <|endoftext|> when it has them. Writes
 * up to max ids; returns how many. */
int rlvr_policy_stop_ids(const struct rlvr_policy *p, int32_t *ids, int max);

/* rlvr_token_piece_fn over the policy's tokenizer (ctx: the tokenizer). */
const char *rlvr_policy_piece(void *tokenizer, int32_t id, size_t *len);

#endif
