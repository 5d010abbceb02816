/*
 * train_gpu.c -- the GRPO policy update on the GPU (see train_gpu.h): the
 * policy and the reference as GPU models, the loss straight from the device
 * logits or fused with the LM head, AdamW on the device.
 *
 * Per micro-batch: the model's forward uploads the input tokens itself
 * (checking them on the host); the loss's inputs (targets, mask, truncated
 * flags, advantages, old and reference log-probabilities) are uploaded into
 * one device block carved once at creation. Unfused: rlvr_gpu_grpo_loss_dev
 * writes dL/dlogits over the logits (d_dlogits == d_logits, no [N, V]
 * copy), and rlvr_gpu_model_backward(NULL) reads them from the model's own
 * buffer. Fused (fused_lm_head): the models are created without logits
 * (RLVR_GPU_NO_LOGITS); rlvr_gpu_model_forward_hidden hands over the final
 * hidden states and the LM head, rlvr_gpu_grpo_linear_loss_dev writes dh
 * into the policy's own dh buffer and adds the head's gradient into its
 * gradient slice, and rlvr_gpu_model_backward_hidden(dh) does the rest; the
 * reference's log-probabilities come from the same fused call forward only
 * (dh and dweight NULL) with a configuration whose only output read is the
 * batch's logp (beta 0, advantages 0: the loss is 0, the log-probabilities
 * are rlvr_logprobs' at the temperature, 0 where the mask is 0).
 * Everything runs on the legacy default stream, so each call sees the
 * previous one's results without further synchronisation; the loss reads
 * its status back, so a fault of the forward surfaces there at the latest.
 *
 * Invariants: nothing here prints or exits; a failed call leaves the
 * trainer's state as it was except for the gradient of the micro-batch
 * that failed mid-backward (the trainer ends the run on any failure); the
 * device block's parts are aligned to 256 bytes and never overlap.
 */
#include "train_gpu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "numeric.h"

struct rlvr_train_gpu {
    struct rlvr_gpu_model *policy, *ref; /* ref NULL without a reference */
    size_t n_params;
    int max_seqs, max_T, vocab;
    int fused;                             /* the loss fused with the LM head */
    void *block;          /* the one device allocation below */
    size_t block_bytes;
    float *d_old, *d_ref, *d_ent, *d_logp; /* [max_seqs * max_T] */
    float *d_adv;                          /* [max_seqs] */
    float *d_zero;                         /* [max_seqs] zeros: the reference's advantages (fused) */
    int32_t *d_targets;                    /* [max_seqs * max_T] */
    uint8_t *d_rows;                       /* [max_seqs * max_T] */
    uint8_t *d_trunc;                      /* [max_seqs] */
};

/* The CPU model's config as gpu_model.h restates it. */
static void gpu_config_of(const struct rlvr_model_config *mc, struct rlvr_gpu_model_config *gc)
{
    memset(gc, 0, sizeof *gc);
    gc->vocab_size = mc->vocab_size;
    gc->hidden_size = mc->hidden_size;
    gc->intermediate_size = mc->intermediate_size;
    gc->num_hidden_layers = mc->num_hidden_layers;
    gc->num_attention_heads = mc->num_attention_heads;
    gc->num_key_value_heads = mc->num_key_value_heads;
    gc->head_dim = mc->head_dim;
    gc->max_position_embeddings = mc->max_position_embeddings;
    gc->rope_theta = mc->rope_theta;
    gc->rms_norm_eps = mc->rms_norm_eps;
    gc->tie_word_embeddings = mc->tie_word_embeddings;
    gc->attention_bias = mc->attention_bias;
}

/* A GPU model holding m's weights, with activations for B x T: a training
 * model (gradients cleared), or a forward-only one (fwd_only: no gradients,
 * one layer's activations), either without logits when no_logits; what
 * names the model in messages. */
static struct rlvr_gpu_model *gpu_model_of(const struct rlvr_model *m, int B, int T, int fwd_only, int no_logits,
                                           const char *what, char *err, size_t err_len)
{
    struct rlvr_gpu_model_config gc;
    gpu_config_of(&m->cfg, &gc);
    struct rlvr_gpu_model *g = NULL;
    char msg[512];
    int flags = (fwd_only ? RLVR_GPU_FORWARD_ONLY : 0) | (no_logits ? RLVR_GPU_NO_LOGITS : 0);
    if (rlvr_gpu_model_create(&g, &gc, RLVR_GPU_FP32 | flags, msg, sizeof msg)) {
        rlvr_num_fail(err, err_len, "%s: %s", what, msg);
        return NULL;
    }
    if (rlvr_gpu_model_n_params(g) != m->n_params)
        rlvr_num_fail(err, err_len, "%s: the GPU model has %zu parameters, the CPU model %zu", what,
                  rlvr_gpu_model_n_params(g), m->n_params);
    else if (rlvr_gpu_model_upload(g, m->params, m->n_params, msg, sizeof msg) ||
             rlvr_gpu_model_reserve(g, B, T, msg, sizeof msg) ||
             (!fwd_only && rlvr_gpu_model_zero_grads(g, msg, sizeof msg)))
        rlvr_num_fail(err, err_len, "%s: %s", what, msg);
    else
        return g;
    rlvr_gpu_model_free(g);
    return NULL;
}

/* Offsets of the device block's parts: each part starts on a 256-byte
 * boundary. Returns the block's size. */
static size_t carve(struct rlvr_train_gpu *t, char *base)
{
    size_t N = (size_t)t->max_seqs * (size_t)t->max_T, B = (size_t)t->max_seqs, at = 0;
#define PART(field, type, count)                                                                                       \
    do {                                                                                                               \
        t->field = base ? (type *)(void *)(base + at) : NULL;                                                          \
        at += ((count) * sizeof(type) + 255) / 256 * 256;                                                              \
    } while (0)
    PART(d_old, float, N);
    PART(d_ref, float, N);
    PART(d_ent, float, N);
    PART(d_logp, float, N);
    PART(d_adv, float, B);
    PART(d_zero, float, B);
    PART(d_targets, int32_t, N);
    PART(d_rows, uint8_t, N);
    PART(d_trunc, uint8_t, B);
#undef PART
    return at;
}

/* The fused loss's view of a forward_hidden: the operands the head's
 * product reads (the bf16 copies in BF16), and where dh and the head's
 * gradient go (NULL, NULL: forward only). */
static struct rlvr_gpu_grpo_linear linear_of(const struct rlvr_gpu_model_hidden *hid, float *dh, float *dweight)
{
    struct rlvr_gpu_grpo_linear lin = {
        .hidden = (size_t)hid->hidden,
        .dtype = hid->dtype,
        .h = hid->h_bf16 ? (const void *)hid->h_bf16 : (const void *)hid->h,
        .weight = hid->weight_bf16 ? (const void *)hid->weight_bf16 : (const void *)hid->weight,
        .dh = dh,
        .dweight = dweight,
    };
    return lin;
}

int rlvr_train_gpu_create(struct rlvr_train_gpu **out, const struct rlvr_model *policy, const struct rlvr_model *ref,
                          int max_seqs, int max_T, int fused_lm_head, char *err, size_t err_len)
{
    *out = NULL;
    if (max_seqs < 1 || max_T < 1 || (size_t)max_seqs * (size_t)max_T > (size_t)INT32_MAX) {
        rlvr_num_fail(err, err_len, "gpu trainer: micro-batches of %d x %d positions are out of range", max_seqs, max_T);
        return -1;
    }
    if (ref && (ref->n_params != policy->n_params || ref->cfg.vocab_size != policy->cfg.vocab_size)) {
        rlvr_num_fail(err, err_len, "gpu trainer: the reference model's shape differs from the policy's");
        return -1;
    }
    struct rlvr_train_gpu *t = calloc(1, sizeof *t);
    if (!t) {
        rlvr_num_fail(err, err_len, "gpu trainer: out of memory");
        return -1;
    }
    t->n_params = policy->n_params;
    t->max_seqs = max_seqs, t->max_T = max_T, t->vocab = policy->cfg.vocab_size;
    t->fused = fused_lm_head != 0;
    char msg[512];
    float *zeros = NULL;
    int zrc = 0;
    if (!(t->policy = gpu_model_of(policy, max_seqs, max_T, 0, t->fused, "the policy", err, err_len)) ||
        (ref && !(t->ref = gpu_model_of(ref, max_seqs, max_T, 1, t->fused, "the reference model", err, err_len))))
        goto fail;
    t->block_bytes = carve(t, NULL);
    if (rlvr_gpu_grpo_alloc(&t->block, t->block_bytes, msg, sizeof msg)) {
        rlvr_num_fail(err, err_len, "gpu trainer: the micro-batch buffers (%zu bytes): %s", t->block_bytes, msg);
        goto fail;
    }
    carve(t, t->block);
    if (!(zeros = calloc((size_t)max_seqs, sizeof *zeros))) {
        rlvr_num_fail(err, err_len, "gpu trainer: out of memory");
        goto fail;
    }
    zrc = rlvr_gpu_grpo_upload(t->d_zero, zeros, (size_t)max_seqs * sizeof *zeros, msg, sizeof msg);
    free(zeros);
    if (zrc) {
        rlvr_num_fail(err, err_len, "gpu trainer: uploading zeros: %s", msg);
        goto fail;
    }
    *out = t;
    return 0;
fail:
    rlvr_train_gpu_free(t);
    return -1;
}

void rlvr_train_gpu_free(struct rlvr_train_gpu *t)
{
    if (!t)
        return;
    rlvr_gpu_model_free(t->policy);
    rlvr_gpu_model_free(t->ref);
    rlvr_gpu_grpo_free(t->block);
    free(t);
}

size_t rlvr_train_gpu_bytes(const struct rlvr_train_gpu *t)
{
    return rlvr_gpu_model_bytes(t->policy) + (t->ref ? rlvr_gpu_model_bytes(t->ref) : 0) + t->block_bytes;
}

struct rlvr_gpu_model *rlvr_train_gpu_policy(struct rlvr_train_gpu *t) { return t->policy; }

/* The shape of m against what t was sized for. */
static int check_micro(const struct rlvr_train_gpu *t, const struct rlvr_train_micro *m, char *err, size_t err_len)
{
    if (m->n_seq < 1 || m->n_seq > t->max_seqs || m->seq_len < 1 || m->seq_len > t->max_T || !m->tokens ||
        !m->targets || !m->rows) {
        rlvr_num_fail(err, err_len, "gpu trainer: a micro-batch of %d x %d positions (room for %d x %d) or without "
                  "tokens, targets or rows", m->n_seq, m->seq_len, t->max_seqs, t->max_T);
        return -1;
    }
    return 0;
}

/* bytes of host src into device dst, the message naming what. */
static int up(void *d_dst, const void *src, size_t bytes, const char *what, char *err, size_t err_len)
{
    char msg[512];
    if (!rlvr_gpu_grpo_upload(d_dst, src, bytes, msg, sizeof msg))
        return 0;
    rlvr_num_fail(err, err_len, "gpu trainer: uploading %s: %s", what, msg);
    return -1;
}

int rlvr_train_gpu_ref_logprobs(struct rlvr_train_gpu *t, const struct rlvr_train_micro *m, float temperature,
                                float *logp, char *err, size_t err_len)
{
    if (!t->ref) {
        rlvr_num_fail(err, err_len, "gpu trainer: no reference model (beta is 0)");
        return -1;
    }
    if (check_micro(t, m, err, err_len))
        return -1;
    size_t N = (size_t)m->n_seq * (size_t)m->seq_len;
    float *d_logits = NULL;
    struct rlvr_gpu_model_hidden hid;
    char msg[512];
    if (t->fused ? rlvr_gpu_model_forward_hidden(t->ref, m->tokens, m->n_seq, m->seq_len, &hid, msg, sizeof msg)
                 : rlvr_gpu_model_forward(t->ref, m->tokens, m->n_seq, m->seq_len, &d_logits, msg, sizeof msg)) {
        rlvr_num_fail(err, err_len, "reference model: %s", msg);
        return -1;
    }
    if (up(t->d_targets, m->targets, N * sizeof(int32_t), "the targets", err, err_len) ||
        up(t->d_rows, m->rows, N, "the mask", err, err_len))
        return -1;
    int rc;
    if (t->fused) {
        /* the fused loss forward only: with beta 0 and advantages 0 its one
         * output read is the batch's logp, rlvr_logprobs' (0 where the mask
         * is 0); the head's chunks of logits are its own */
        struct rlvr_grpo_config cfg;
        rlvr_grpo_config_default(&cfg);
        cfg.beta = 0.0f;
        struct rlvr_gpu_grpo_batch gb = {
            .n_seq = (size_t)m->n_seq,
            .seq_len = (size_t)m->seq_len,
            .vocab = (size_t)t->vocab,
            .dtype = RLVR_GPU_F32,
            .temperature = temperature,
            .tokens = t->d_targets,
            .advantages = t->d_zero,
            .mask = t->d_rows,
            .logp = t->d_logp,
        };
        struct rlvr_gpu_grpo_linear lin = linear_of(&hid, NULL, NULL);
        rc = rlvr_gpu_grpo_linear_loss_dev(&cfg, &gb, &lin, NULL, msg, sizeof msg);
    } else {
        rc = rlvr_gpu_logprobs_dev(d_logits, RLVR_GPU_F32, t->d_targets, t->d_rows, N, (size_t)t->vocab, temperature,
                                   t->d_logp, NULL, NULL, msg, sizeof msg);
    }
    if (rc) {
        rlvr_num_fail(err, err_len, "reference model: %s", msg);
        return -1;
    }
    if (rlvr_gpu_grpo_download(logp, t->d_logp, N * sizeof(float), msg, sizeof msg)) {
        rlvr_num_fail(err, err_len, "reference model: downloading the log-probabilities: %s", msg);
        return -1;
    }
    return 0;
}

int rlvr_train_gpu_micro(struct rlvr_train_gpu *t, const struct rlvr_grpo_config *cfg,
                         const struct rlvr_train_micro *m, float temperature, struct rlvr_grpo_metrics *metrics,
                         char *err, size_t err_len)
{
    if (check_micro(t, m, err, err_len))
        return -1;
    if (!m->truncated || !m->advantages) {
        rlvr_num_fail(err, err_len, "gpu trainer: a micro-batch without truncated flags or advantages");
        return -1;
    }
    size_t N = (size_t)m->n_seq * (size_t)m->seq_len, B = (size_t)m->n_seq;
    float *d_logits = NULL;
    struct rlvr_gpu_model_hidden hid;
    char msg[512];
    if (t->fused ? rlvr_gpu_model_forward_hidden(t->policy, m->tokens, m->n_seq, m->seq_len, &hid, msg, sizeof msg)
                 : rlvr_gpu_model_forward(t->policy, m->tokens, m->n_seq, m->seq_len, &d_logits, msg, sizeof msg)) {
        rlvr_num_fail(err, err_len, "%s", msg);
        return -1;
    }
    if (up(t->d_targets, m->targets, N * sizeof(int32_t), "the targets", err, err_len) ||
        up(t->d_rows, m->rows, N, "the mask", err, err_len) ||
        up(t->d_trunc, m->truncated, B, "the truncated flags", err, err_len) ||
        up(t->d_adv, m->advantages, B * sizeof(float), "the advantages", err, err_len) ||
        (m->old_logp && up(t->d_old, m->old_logp, N * sizeof(float), "the old log-probabilities", err, err_len)) ||
        (m->ref_logp && up(t->d_ref, m->ref_logp, N * sizeof(float), "the reference log-probabilities", err, err_len)))
        return -1;
    struct rlvr_gpu_grpo_batch gb = {
        .n_seq = B,
        .seq_len = (size_t)m->seq_len,
        .vocab = (size_t)t->vocab,
        .dtype = RLVR_GPU_F32,
        .temperature = temperature,
        .logits = d_logits,
        .tokens = t->d_targets,
        .old_logp = m->old_logp ? t->d_old : NULL,
        .ref_logp = m->ref_logp ? t->d_ref : NULL,
        .advantages = t->d_adv,
        .mask = t->d_rows,
        .truncated = t->d_trunc,
        .dapo_tokens = m->dapo_tokens,
        .entropy = m->entropy ? t->d_ent : NULL,
    };
    struct rlvr_gpu_grpo_metrics gm;
    int rc;
    if (t->fused) {
        /* the loss with the LM head: dh into the policy's dh buffer, the
         * head's gradient added into its slice of the policy's gradient;
         * then the backward from dh */
        struct rlvr_gpu_grpo_linear lin = linear_of(&hid, hid.dh, hid.dweight);
        rc = rlvr_gpu_grpo_linear_loss_dev(cfg, &gb, &lin, &gm, msg, sizeof msg) ||
             rlvr_gpu_model_backward_hidden(t->policy, hid.dh, msg, sizeof msg);
    } else {
        /* the gradient over the logits, in place: the backward reads it
         * from the model's own buffer */
        rc = rlvr_gpu_grpo_loss_dev(cfg, &gb, d_logits, &gm, msg, sizeof msg) ||
             rlvr_gpu_model_backward(t->policy, NULL, msg, sizeof msg);
    }
    if (rc) {
        rlvr_num_fail(err, err_len, "%s", msg);
        return -1;
    }
    if (metrics) {
        metrics->loss = gm.loss;
        metrics->pg_loss = gm.pg_loss;
        metrics->kl_loss = gm.kl_loss;
        metrics->active_tokens = gm.active_tokens;
        metrics->kl = gm.kl;
        metrics->entropy = gm.entropy;
        metrics->clip_low = gm.clip_low;
        metrics->clip_high = gm.clip_high;
        metrics->clip_region = gm.clip_region;
        metrics->clip_dual = gm.clip_dual;
        metrics->ratio_mean = gm.ratio_mean;
        metrics->ratio_max = gm.ratio_max;
    }
    return 0;
}

int rlvr_train_gpu_step(struct rlvr_train_gpu *t, const struct rlvr_optim_config *oc, double lr,
                        struct rlvr_optim_stats *stats, char *err, size_t err_len)
{
    struct rlvr_gpu_adamw_config ac = {oc->beta1, oc->beta2, oc->eps, oc->weight_decay, oc->max_grad_norm};
    double norm = NAN;
    int clipped = 0;
    char msg[512];
    if (rlvr_gpu_model_adamw_step(t->policy, &ac, lr, &norm, &clipped, msg, sizeof msg) ||
        rlvr_gpu_model_zero_grads(t->policy, msg, sizeof msg)) {
        rlvr_num_fail(err, err_len, "%s", msg);
        return -1;
    }
    if (stats) {
        stats->grad_norm = norm;
        stats->lr = lr;
        stats->clipped = clipped;
    }
    return 0;
}

int rlvr_train_gpu_download(const struct rlvr_train_gpu *t, struct rlvr_model *policy, char *err, size_t err_len)
{
    if (policy->n_params != t->n_params) {
        rlvr_num_fail(err, err_len, "gpu trainer: the host model has %zu parameters, the GPU's %zu", policy->n_params,
                  t->n_params);
        return -1;
    }
    char msg[512];
    if (rlvr_gpu_model_download(t->policy, policy->params, policy->n_params, msg, sizeof msg)) {
        rlvr_num_fail(err, err_len, "downloading the policy from the GPU: %s", msg);
        return -1;
    }
    return 0;
}

int rlvr_adamw_from_gpu(struct rlvr_adamw *o, const struct rlvr_gpu_model *g, char *err, size_t err_len)
{
    size_t n = rlvr_gpu_model_n_params(g);
    if (o->n != n) {
        rlvr_num_fail(err, err_len, "optimizer state: %zu parameters on the host, the GPU model has %zu", o->n, n);
        return -1;
    }
    if (!o->m) {
        if (!(o->m = calloc(2 * n, sizeof(float)))) {
            rlvr_num_fail(err, err_len, "optimizer state: out of memory for the moments of %zu parameters (%.1f GB)", n,
                          (double)n * 8 / 1e9);
            return -1;
        }
        o->v = o->m + n;
    }
    long step = 0;
    char msg[512];
    if (rlvr_gpu_model_download_adamw(g, o->m, o->v, n, &step, msg, sizeof msg)) {
        rlvr_num_fail(err, err_len, "optimizer state: downloading from the GPU: %s", msg);
        return -1;
    }
    o->step = step;
    return 0;
}

int rlvr_adamw_to_gpu(const struct rlvr_adamw *o, struct rlvr_gpu_model *g, char *err, size_t err_len)
{
    size_t n = rlvr_gpu_model_n_params(g);
    if (o->n != n || !o->m) {
        rlvr_num_fail(err, err_len, "optimizer state: %zu parameters%s on the host, the GPU model has %zu", o->n,
                      o->m ? "" : " without moments", n);
        return -1;
    }
    char msg[512];
    if (rlvr_gpu_model_upload_adamw(g, o->m, o->v, n, o->step, msg, sizeof msg)) {
        rlvr_num_fail(err, err_len, "optimizer state: uploading to the GPU: %s", msg);
        return -1;
    }
    return 0;
}

void rlvr_adamw_drop_moments(struct rlvr_adamw *o)
{
    free(o->m);
    o->m = o->v = NULL;
}
