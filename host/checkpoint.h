/*
 * checkpoint.h -- the policy's checkpoints in Hugging Face's format: a
 * directory holding config.json and the weights as safetensors, either one
 * model.safetensors or shards named model-00001-of-0000N.safetensors with a
 * model.safetensors.index.json that maps every tensor to its shard.
 *
 * Reading is strict. A config.json field that rlvr does not implement
 * (rope_scaling, a sliding window, another activation, mixture of experts,
 * quantization, ...) or does not know at all is refused by name: ignoring
 * it could silently change the model. Safetensors headers are validated
 * before any weight is touched (sizes, dtypes, shapes, offsets that tile the
 * data exactly), every tensor of the model must be present with the shape of
 * the tensor table (model.h), and a tensor the model has no place for is
 * refused by name, apart from rotary buffers (rotary_emb.inv_freq) that
 * carry no weights. Stored F32, BF16, F16 and F64 become float32.
 *
 * Writing produces what transformers' save_pretrained produces: F32, BF16 or
 * F16 (rounded to nearest even as torch rounds), __metadata__
 * {"format":"pt"}, headers padded with spaces to a multiple of 8, sharding by
 * a byte budget under HF's file names. Every file is written under a
 * temporary name and synced, and the files are renamed into place only once
 * all of them are written: no file under its final name is ever half
 * written, and a save that fails leaves the previous checkpoint as it was. A
 * checkpoint saved into a directory that does not exist yet appears all at
 * once (the directory is built under a temporary name).
 *
 * Conventions as in model.h: a status is returned (0, or -1 with a one-line
 * message in err[err_len] naming the file and the field or tensor); nothing
 * here prints or exits.
 */
#ifndef RLVR_CHECKPOINT_H
#define RLVR_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Storage types of tensors written by rlvr. */
enum rlvr_dtype {
    RLVR_DTYPE_F32,
    RLVR_DTYPE_BF16,
    RLVR_DTYPE_F16,
};

/* "F32", "BF16", "F16" (safetensors' names). */
const char *rlvr_dtype_name(enum rlvr_dtype d);
/* Parses "f32"/"float32", "bf16"/"bfloat16", "f16"/"float16" (any case);
 * -1 when unknown. */
int rlvr_dtype_parse(const char *s, enum rlvr_dtype *d);

/* ---- config.json ------------------------------------------------------------------ */

#define RLVR_CKPT_MAX_EOS 8

/* What config.json says beyond struct rlvr_model_config. */
struct rlvr_checkpoint_meta {
    int n_eos;                               /* entries of eos_token_id (0 when null) */
    int eos_token_ids[RLVR_CKPT_MAX_EOS];    /* generation stops on any of them */
    int pad_token_id;                        /* -1 when none */
    char torch_dtype[16];                    /* "bfloat16", ...; "" when absent */
};

/* Reads a config.json file into cfg (checked with rlvr_model_config_check)
 * and, when meta is not NULL, meta. cfg->eos_token_id is the first of the
 * list. */
int rlvr_config_read(const char *path, struct rlvr_model_config *cfg,
                     struct rlvr_checkpoint_meta *meta, char *err, size_t err_len);
/* The same from text[len]; `name` stands for the file in messages. */
int rlvr_config_parse(const char *text, size_t len, const char *name,
                      struct rlvr_model_config *cfg, struct rlvr_checkpoint_meta *meta, char *err,
                      size_t err_len);
/* Writes config.json for cfg (atomically): Qwen2ForCausalLM when the model
 * has q/k/v biases, LlamaForCausalLM otherwise; torch_dtype names `dtype`.
 * meta may be NULL (eos_token_id is then cfg's single id). */
int rlvr_config_write(const char *path, const struct rlvr_model_config *cfg,
                      const struct rlvr_checkpoint_meta *meta, enum rlvr_dtype dtype, char *err,
                      size_t err_len);

/* ---- safetensors ------------------------------------------------------------------ */

/* Loads every tensor of m (already created) from one safetensors file. All of
 * the model's tensors must be in it. */
int rlvr_safetensors_load(struct rlvr_model *m, const char *path, char *err, size_t err_len);
/* The same from a file's bytes data[size]; `name` stands for the file in
 * messages. */
int rlvr_safetensors_load_buffer(struct rlvr_model *m, const void *data, size_t size,
                                 const char *name, char *err, size_t err_len);
/* Writes every tensor of m into one safetensors file (atomically). */
int rlvr_safetensors_save(const struct rlvr_model *m, const char *path, enum rlvr_dtype dtype,
                          char *err, size_t err_len);

/* ---- whole checkpoints ------------------------------------------------------------ */

/* Reads dir/config.json, creates m from it and loads its weights from
 * dir/model.safetensors or the shards named by dir/model.safetensors.index.json.
 * meta may be NULL. On failure m is left freed (zeroed). */
int rlvr_checkpoint_load_meta(const char *dir, struct rlvr_model *m,
                              struct rlvr_checkpoint_meta *meta, char *err, size_t err_len);
int rlvr_checkpoint_load(const char *dir, struct rlvr_model *m, char *err, size_t err_len);

/* Writes config.json and the weights into dir (created, with its parents,
 * when missing). max_shard_bytes 0 writes one model.safetensors; otherwise
 * tensors go in order into shards of at most that many bytes of data (a
 * larger tensor gets a shard of its own), and one shard is written as
 * model.safetensors. Weight files of the other layout left in dir by an
 * earlier save are removed once the new ones are in place. meta may be NULL. */
int rlvr_checkpoint_save_meta(const struct rlvr_model *m, const struct rlvr_checkpoint_meta *meta,
                              const char *dir, enum rlvr_dtype dtype, size_t max_shard_bytes,
                              char *err, size_t err_len);
int rlvr_checkpoint_save(const struct rlvr_model *m, const char *dir, enum rlvr_dtype dtype,
                         size_t max_shard_bytes, char *err, size_t err_len);

/* ---- float conversions (as torch converts) ---------------------------------------- */

/* Round to nearest, ties to even; NaN stays NaN (quiet), and F16 overflows
 * to infinity. The widening conversions are exact. */
uint16_t rlvr_f32_to_bf16(float f);
uint16_t rlvr_f32_to_f16(float f);
float rlvr_bf16_to_f32(uint16_t h);
float rlvr_f16_to_f32(uint16_t h);

#endif
