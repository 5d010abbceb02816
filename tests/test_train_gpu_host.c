/*
 * test_train_gpu_host.c -- host/train_gpu.c (the GRPO policy update of
 * rlvr train on the GPU) run on this machine against a fake device, and
 * held to the CPU path of train_cmd.c step for step.
 *
 * The fake implements the gpu.h entry points that train_gpu.c calls with
 * host/'s own CPU code (model.c, logprob.c, grpo_loss.c, optim.c) behind
 * the GPU's contracts: "device memory" is a registry of blocks, and every
 * pointer a _dev function or a copy is handed must lie inside a registered
 * block (for device arguments) or outside every block (for host ones), with
 * room for the bytes it is used for; the model's logits are device memory
 * valid until the next forward; backward(NULL) reads them where the loss
 * left its gradient; AdamW refuses a non-finite norm. A fake that computes
 * exactly what the CPU path computes, in the same order, makes the
 * comparison exact: any difference is train_gpu.c handing the device the
 * wrong array, flag, shape, accumulation or step order. What the fake
 * cannot check (the kernels, cuBLAS, the real allocations) is
 * test_gpu_grpo's and test_gpu_model's on a GPU, and test_train_gpu.py's
 * end to end.
 *
 * The fake models gpu_model.h's kinds of model: a training one, and a
 * forward-only one (RLVR_GPU_FORWARD_ONLY: no gradients, no moments; the
 * calls that need them refused with the real message), each with logits or
 * without (RLVR_GPU_NO_LOGITS: forward, the SFT loss and backward refused
 * with the real message), and counts what the trainer creates: the policy
 * must be a training model, the reference a forward-only one (which the
 * trainer must never ask for gradients), both without logits when the loss
 * is fused with the LM head.
 *
 * The fused path (train_gpu.h's fused_lm_head): the fake's
 * rlvr_gpu_model_forward_hidden / _backward_hidden run host/model.c's own
 * operations below the head (a probe model whose head is the identity; see
 * struct rlvr_gpu_model), and its rlvr_gpu_grpo_linear_loss_dev is built
 * from the CPU references: logits = h W^T with model.c's loop, rlvr_logprobs,
 * rlvr_grpo_loss, rlvr_logprobs_backward, dh = dlogits W and dW += dlogits^T
 * h with model.c's loops, chunk by chunk; the same sums in the same order,
 * so the fused trainer is held to the CPU path bit for bit too, and the
 * reference's log-probabilities (the fused call forward only) to
 * rlvr_logprobs exactly.
 *
 * Cases (table below): every loss type, on and off policy (old
 * log-probabilities), with and without the reference (beta), GSPO, the
 * truncated-completion mask, delta and the dual clip, two optimizer steps
 * of two micro-batches of different shapes each, each over the logits and
 * fused with the LM head (tied), and two of them with an untied head both
 * ways; then refusals, both ways: a
 * micro-batch larger than the buffers, a reference that was never made, a
 * non-finite advantage, a token outside the vocabulary, a gradient whose
 * norm overflows (the step refused, the weights unchanged), bad shapes at
 * creation; and no device memory left behind.
 *
 * Resume (train_gpu.h's rlvr_adamw_from_gpu / rlvr_adamw_to_gpu, what
 * rlvr sft and rlvr train do at a checkpoint and at --resume on the GPU):
 * after 2 steps the GPU's AdamW state equals the CPU path's bit for bit and
 * rlvr_adamw_save writes the same optimizer.bin bytes; trainers resumed from
 * the GPU's and from the CPU's file, and a CPU optimizer resumed from the
 * GPU's, take steps 3 and 4 exactly as the uninterrupted runs; one resumed
 * without the state does not (the comparison can fail); sizes that differ
 * are refused.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp under -std=c11 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu.h"
#include "grpo.h"
#include "model.h"
#include "optim.h"
#include "tap.h"
#include "train_gpu.h"

/* ---- the fake device ---------------------------------------------------------------- */

#define MAX_BLOCKS 128
static struct {
    char *p;
    size_t bytes;
    int owned; /* 0: memory the fake's model owns (its weights, its gradients), registered as device memory */
} blocks[MAX_BLOCKS];
static int misuse; /* pointer checks that failed */

static void *dev_alloc(size_t bytes)
{
    for (int i = 0; i < MAX_BLOCKS; i++)
        if (!blocks[i].p) {
            blocks[i].p = calloc(1, bytes ? bytes : 1);
            blocks[i].bytes = bytes;
            blocks[i].owned = 1;
            return blocks[i].p;
        }
    return NULL;
}

/* Registers p[bytes] (the fake model's own weights or gradients, which live
 * on the device in the real model) as device memory; 0 or -1 when full. */
static int dev_register(void *p, size_t bytes)
{
    for (int i = 0; p && i < MAX_BLOCKS; i++)
        if (!blocks[i].p) {
            blocks[i].p = p;
            blocks[i].bytes = bytes;
            blocks[i].owned = 0;
            return 0;
        }
    return -1;
}

/* Unregisters p if it is registered (a failed creation's cleanup). */
static void dev_forget(void *p)
{
    for (int i = 0; p && i < MAX_BLOCKS; i++)
        if (blocks[i].p == p && !blocks[i].owned)
            blocks[i].p = NULL;
}

static void dev_free(void *p)
{
    for (int i = 0; p && i < MAX_BLOCKS; i++)
        if (blocks[i].p == p) {
            if (blocks[i].owned)
                free(blocks[i].p);
            blocks[i].p = NULL;
            return;
        }
    if (p)
        misuse++;
}

static int blocks_held(void)
{
    int n = 0;
    for (int i = 0; i < MAX_BLOCKS; i++)
        n += blocks[i].p != NULL;
    return n;
}

/* 1 when [p, p + bytes) lies inside one device block. */
static int is_dev(const void *p, size_t bytes)
{
    const char *c = p;
    for (int i = 0; c && i < MAX_BLOCKS; i++)
        if (blocks[i].p && c >= blocks[i].p && c + bytes <= blocks[i].p + blocks[i].bytes)
            return 1;
    return 0;
}

/* 1 when p (host memory) touches no device block. */
static int is_host(const void *p, size_t bytes)
{
    const char *c = p;
    if (!c)
        return 0;
    for (int i = 0; i < MAX_BLOCKS; i++)
        if (blocks[i].p && c < blocks[i].p + blocks[i].bytes && c + bytes > blocks[i].p)
            return 0;
    return 1;
}

static int fail(char *err, size_t err_len, const char *msg)
{
    snprintf(err, err_len, "%s", msg);
    return -1;
}

#define DEV(p, bytes)                                                                                                  \
    do {                                                                                                               \
        if (!is_dev((p), (bytes))) {                                                                                   \
            misuse++;                                                                                                  \
            return fail(err, err_len, "fake device: " #p " is not device memory of that size");                      \
        }                                                                                                              \
    } while (0)
#define HOST(p, bytes)                                                                                                 \
    do {                                                                                                               \
        if (!is_host((p), (bytes))) {                                                                                  \
            misuse++;                                                                                                  \
            return fail(err, err_len, "fake device: " #p " is not host memory");                                     \
        }                                                                                                              \
    } while (0)

int rlvr_gpu_grpo_alloc(void **d_ptr, size_t bytes, char *err, size_t err_len)
{
    return (*d_ptr = dev_alloc(bytes)) ? 0 : fail(err, err_len, "fake device: out of blocks");
}
void rlvr_gpu_grpo_free(void *d_ptr) { dev_free(d_ptr); }
int rlvr_gpu_grpo_upload(void *d_dst, const void *src, size_t bytes, char *err, size_t err_len)
{
    DEV(d_dst, bytes);
    HOST(src, bytes);
    memcpy(d_dst, src, bytes);
    return 0;
}
int rlvr_gpu_grpo_download(void *dst, const void *d_src, size_t bytes, char *err, size_t err_len)
{
    DEV(d_src, bytes);
    HOST(dst, bytes);
    memcpy(dst, d_src, bytes);
    return 0;
}

/* A model as gpu_model.h has it: a training model (gradients, AdamW), or a
 * forward-only one (RLVR_GPU_FORWARD_ONLY: neither; every call that needs
 * them refused with the real model's message), either with logits or
 * without (RLVR_GPU_NO_LOGITS: no logits block; forward, the SFT loss and
 * backward refused with the real message). Its weights and gradients are
 * registered as device memory: the fused loss reads the LM head and adds
 * into its gradient there. created_* count what the trainer asked for.
 *
 * The halves without the LM head run on a probe: an untied copy of the
 * model (the same embedding, layers and final norm, copied in before each
 * forward) whose lm_head is [I_D; 0] (V >= D), so that its "logits" are
 * h = the final norm's output exactly (each is a sum of one product by 1
 * and of zeros), and whose backward from [dh, 0] gives the head's dn = dh
 * exactly: so forward_hidden and backward_hidden run host/model.c's very
 * operations below the head, and the probe's gradients (the model's copied
 * in, then copied back) accumulate exactly where and in the order the
 * model's own backward adds them (with tied embeddings the loss's dW is in
 * the embedding's gradient before the lookups add theirs, as in
 * rlvr_model_backward). */
struct rlvr_gpu_model {
    struct rlvr_model m;
    struct rlvr_adamw opt; /* zeroed in a forward-only model */
    int fwd_only, no_logits;
    float *d_logits;       /* a device block: [B*T, V] of the reserve (NULL without logits) */
    float *d_h, *d_dh;     /* device blocks: [B*T, D] each */
    struct rlvr_model probe;
    int have_probe;
    size_t below_head;     /* floats of the embedding, layers and final norm */
    int B, T, cur_B, cur_T, cur_logits;
};
static int created_training, created_fwd_only, created_no_logits;

#define FWD_ONLY_REFUSED(m)                                                                                            \
    do {                                                                                                               \
        if ((m)->fwd_only)                                                                                             \
            return fail(err, err_len, "gpu model: forward-only model: no gradients");                                 \
    } while (0)
#define NO_LOGITS_REFUSED(m)                                                                                           \
    do {                                                                                                               \
        if ((m)->no_logits)                                                                                            \
            return fail(err, err_len, "gpu model: a model without logits (RLVR_GPU_NO_LOGITS): use "                  \
                                      "rlvr_gpu_model_forward_hidden and rlvr_gpu_model_backward_hidden");            \
    } while (0)

int rlvr_gpu_model_create(struct rlvr_gpu_model **out, const struct rlvr_gpu_model_config *g, int precision,
                          char *err, size_t err_len)
{
    *out = NULL;
    int fwd_only = (precision & RLVR_GPU_FORWARD_ONLY) != 0, no_logits = (precision & RLVR_GPU_NO_LOGITS) != 0;
    if ((precision & ~(RLVR_GPU_FORWARD_ONLY | RLVR_GPU_NO_LOGITS)) != RLVR_GPU_FP32)
        return fail(err, err_len, "fake device: the trainer must ask for fp32");
    struct rlvr_model_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = g->vocab_size, c.hidden_size = g->hidden_size, c.intermediate_size = g->intermediate_size;
    c.num_hidden_layers = g->num_hidden_layers, c.num_attention_heads = g->num_attention_heads;
    c.num_key_value_heads = g->num_key_value_heads, c.head_dim = g->head_dim;
    c.max_position_embeddings = g->max_position_embeddings, c.rope_theta = g->rope_theta;
    c.rms_norm_eps = g->rms_norm_eps, c.tie_word_embeddings = g->tie_word_embeddings;
    c.attention_bias = g->attention_bias, c.bos_token_id = -1, c.eos_token_id = -1;
    struct rlvr_gpu_model *m = calloc(1, sizeof *m);
    struct rlvr_optim_config oc;
    rlvr_optim_config_default(&oc);
    oc.schedule = RLVR_LR_CONSTANT, oc.warmup_steps = 0;
    int rc = !m ? fail(err, err_len, "fake device: out of memory")
             : rlvr_model_config_check(&c, err, err_len) || rlvr_model_create(&m->m, &c, err, err_len) ||
                     (!fwd_only && (rlvr_model_enable_grads(&m->m, err, err_len) ||
                                    rlvr_adamw_create(&m->opt, m->m.n_params, &oc, err, err_len)))
                 ? -1
             : dev_register(m->m.params, m->m.n_params * sizeof(float)) ||
                     (m->m.grads && dev_register(m->m.grads, m->m.n_params * sizeof(float)))
                 ? fail(err, err_len, "fake device: out of blocks")
                 : 0;
    if (rc) {
        if (m) {
            dev_forget(m->m.params), dev_forget(m->m.grads);
            rlvr_model_free(&m->m), rlvr_adamw_free(&m->opt);
        }
        free(m);
        return -1;
    }
    m->fwd_only = fwd_only, m->no_logits = no_logits;
    if (fwd_only)
        created_fwd_only++;
    else
        created_training++;
    created_no_logits += no_logits;
    *out = m;
    return 0;
}
void rlvr_gpu_model_free(struct rlvr_gpu_model *m)
{
    if (!m)
        return;
    dev_free(m->d_logits), dev_free(m->d_h), dev_free(m->d_dh);
    dev_free(m->m.params), dev_free(m->m.grads);
    rlvr_model_free(&m->m);
    rlvr_adamw_free(&m->opt);
    if (m->have_probe)
        rlvr_model_free(&m->probe);
    free(m);
}
size_t rlvr_gpu_model_n_params(const struct rlvr_gpu_model *m) { return m->m.n_params; }
size_t rlvr_gpu_model_bytes(const struct rlvr_gpu_model *m) { return m->m.n_params * 4 * (m->fwd_only ? 1 : 2); }
int rlvr_gpu_model_upload(struct rlvr_gpu_model *m, const float *params, size_t n, char *err, size_t err_len)
{
    if (n != m->m.n_params)
        return fail(err, err_len, "fake device: upload of the wrong size");
    HOST(params, n * sizeof(float));
    memcpy(m->m.params, params, n * sizeof(float));
    return 0;
}
int rlvr_gpu_model_download(const struct rlvr_gpu_model *m, float *params, size_t n, char *err, size_t err_len)
{
    if (n != m->m.n_params)
        return fail(err, err_len, "fake device: download of the wrong size");
    HOST(params, n * sizeof(float));
    memcpy(params, m->m.params, n * sizeof(float));
    return 0;
}
int rlvr_gpu_model_zero_grads(struct rlvr_gpu_model *m, char *err, size_t err_len)
{
    FWD_ONLY_REFUSED(m);
    rlvr_model_zero_grads(&m->m);
    return 0;
}
int rlvr_gpu_model_reserve(struct rlvr_gpu_model *m, int B, int T, char *err, size_t err_len)
{
    if (B < 1 || T < 1 || T > m->m.cfg.max_position_embeddings)
        return fail(err, err_len, "fake device: reserve out of range");
    if (m->d_h && B <= m->B && T <= m->T)
        return 0;
    dev_free(m->d_logits), dev_free(m->d_h), dev_free(m->d_dh);
    size_t N = (size_t)B * T;
    m->d_logits = m->no_logits ? NULL : dev_alloc(N * (size_t)m->m.cfg.vocab_size * sizeof(float));
    m->d_h = dev_alloc(N * (size_t)m->m.cfg.hidden_size * sizeof(float));
    m->d_dh = dev_alloc(N * (size_t)m->m.cfg.hidden_size * sizeof(float));
    m->B = B, m->T = T, m->cur_B = m->cur_T = 0;
    return (m->no_logits || m->d_logits) && m->d_h && m->d_dh ? 0 : fail(err, err_len, "fake device: out of blocks");
}
static int check_tokens(const struct rlvr_gpu_model *m, const int32_t *tokens, int N, char *err, size_t err_len)
{
    for (int i = 0; i < N; i++)
        if (tokens[i] < 0 || tokens[i] >= m->m.cfg.vocab_size) {
            snprintf(err, err_len, "gpu model: token %d at row %d is outside the vocabulary (%d)", tokens[i], i,
                     m->m.cfg.vocab_size);
            return -1;
        }
    return 0;
}
int rlvr_gpu_model_forward(struct rlvr_gpu_model *m, const int32_t *tokens, int B, int T, float **d_logits,
                           char *err, size_t err_len)
{
    *d_logits = NULL;
    NO_LOGITS_REFUSED(m);
    HOST(tokens, (size_t)B * T * sizeof(int32_t));
    if (rlvr_gpu_model_reserve(m, B, T, err, err_len) || check_tokens(m, tokens, B * T, err, err_len))
        return -1;
    if (rlvr_model_forward(&m->m, tokens, B, T, m->d_logits, err, err_len))
        return -1;
    m->cur_B = B, m->cur_T = T, m->cur_logits = 1;
    *d_logits = m->d_logits;
    return 0;
}
int rlvr_gpu_model_backward(struct rlvr_gpu_model *m, const float *d_dlogits, char *err, size_t err_len)
{
    FWD_ONLY_REFUSED(m);
    NO_LOGITS_REFUSED(m);
    if (!m->cur_B)
        return fail(err, err_len, "gpu model: backward without a forward");
    if (!d_dlogits && !m->cur_logits)
        return fail(err, err_len, "gpu model: backward of the model's logits without logits");
    if (d_dlogits)
        DEV(d_dlogits, (size_t)m->cur_B * m->cur_T * (size_t)m->m.cfg.vocab_size * sizeof(float));
    return rlvr_model_backward(&m->m, d_dlogits ? d_dlogits : m->d_logits, err, err_len);
}

/* The probe (see struct rlvr_gpu_model), made on first use. */
static int probe_of(struct rlvr_gpu_model *m, char *err, size_t err_len)
{
    if (m->have_probe)
        return 0;
    struct rlvr_model_config c = m->m.cfg;
    int V = c.vocab_size, D = c.hidden_size;
    if (V < D)
        return fail(err, err_len, "fake device: the probe needs vocab_size >= hidden_size");
    c.tie_word_embeddings = 0;
    if (rlvr_model_create(&m->probe, &c, err, err_len))
        return -1;
    if (!m->fwd_only && rlvr_model_enable_grads(&m->probe, err, err_len)) {
        rlvr_model_free(&m->probe);
        return -1;
    }
    const struct rlvr_tensor *norm = rlvr_model_tensor(&m->m, "model.norm.weight");
    const struct rlvr_tensor *head = rlvr_model_tensor(&m->probe, "lm_head.weight");
    m->below_head = norm->offset + norm->numel;
    for (int i = 0; i < D; i++)
        m->probe.params[head->offset + (size_t)i * D + i] = 1.0f;
    m->have_probe = 1;
    return 0;
}

int rlvr_gpu_model_forward_hidden(struct rlvr_gpu_model *m, const int32_t *tokens, int B, int T,
                                  struct rlvr_gpu_model_hidden *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    HOST(tokens, (size_t)B * T * sizeof(int32_t));
    if (rlvr_gpu_model_reserve(m, B, T, err, err_len) || check_tokens(m, tokens, B * T, err, err_len) ||
        probe_of(m, err, err_len))
        return -1;
    int N = B * T, V = m->m.cfg.vocab_size, D = m->m.cfg.hidden_size;
    memcpy(m->probe.params, m->m.params, m->below_head * sizeof(float));
    float *x = malloc((size_t)N * V * sizeof(float));
    if (!x)
        return fail(err, err_len, "fake device: out of memory");
    m->cur_B = m->cur_T = 0;
    int rc = rlvr_model_forward(&m->probe, tokens, B, T, x, err, err_len);
    for (int n = 0; !rc && n < N; n++)
        memcpy(m->d_h + (size_t)n * D, x + (size_t)n * V, (size_t)D * sizeof(float));
    free(x);
    if (rc)
        return -1;
    m->cur_B = B, m->cur_T = T, m->cur_logits = 0;
    size_t head = m->m.cfg.tie_word_embeddings ? 0 : m->below_head;
    out->rows = N, out->hidden = D, out->vocab = V, out->dtype = RLVR_GPU_FP32;
    out->h = m->d_h;
    out->weight = m->m.params + head;
    out->dweight = m->fwd_only ? NULL : m->m.grads + head;
    out->dh = m->fwd_only ? NULL : m->d_dh;
    return 0;
}

int rlvr_gpu_model_backward_hidden(struct rlvr_gpu_model *m, const float *d_dh, char *err, size_t err_len)
{
    FWD_ONLY_REFUSED(m);
    if (!m->cur_B)
        return fail(err, err_len, "gpu model: backward without a forward");
    int N = m->cur_B * m->cur_T, V = m->m.cfg.vocab_size, D = m->m.cfg.hidden_size;
    DEV(d_dh, (size_t)N * D * sizeof(float));
    float *dl = calloc((size_t)N * V, sizeof(float));
    if (!dl)
        return fail(err, err_len, "fake device: out of memory");
    for (int n = 0; n < N; n++)
        memcpy(dl + (size_t)n * V, d_dh + (size_t)n * D, (size_t)D * sizeof(float));
    memcpy(m->probe.grads, m->m.grads, m->below_head * sizeof(float));
    int rc = rlvr_model_backward(&m->probe, dl, err, err_len);
    if (!rc)
        memcpy(m->m.grads, m->probe.grads, m->below_head * sizeof(float));
    free(dl);
    return rc;
}

int rlvr_gpu_model_adamw_step(struct rlvr_gpu_model *m, const struct rlvr_gpu_adamw_config *c, double lr,
                              double *grad_norm, int *clipped, char *err, size_t err_len)
{
    FWD_ONLY_REFUSED(m);
    m->opt.cfg.lr = lr, m->opt.cfg.beta1 = c->beta1, m->opt.cfg.beta2 = c->beta2, m->opt.cfg.eps = c->eps;
    m->opt.cfg.weight_decay = c->weight_decay, m->opt.cfg.max_grad_norm = c->max_grad_norm;
    struct rlvr_optim_stats st;
    int rc = rlvr_adamw_step(&m->opt, &m->m, &st, err, err_len);
    if (grad_norm)
        *grad_norm = st.grad_norm;
    if (clipped)
        *clipped = rc ? 0 : st.clipped;
    return rc;
}

int rlvr_gpu_model_download_adamw(const struct rlvr_gpu_model *m, float *m1, float *v, size_t n, long *step,
                                  char *err, size_t err_len)
{
    FWD_ONLY_REFUSED(m);
    if (n != m->m.n_params)
        return fail(err, err_len, "fake device: moments of the wrong size");
    HOST(m1, n * sizeof(float));
    HOST(v, n * sizeof(float));
    memcpy(m1, m->opt.m, n * sizeof(float));
    memcpy(v, m->opt.v, n * sizeof(float));
    *step = m->opt.step;
    return 0;
}
int rlvr_gpu_model_upload_adamw(struct rlvr_gpu_model *m, const float *m1, const float *v, size_t n, long step,
                                char *err, size_t err_len)
{
    FWD_ONLY_REFUSED(m);
    if (n != m->m.n_params)
        return fail(err, err_len, "fake device: moments of the wrong size");
    if (step < 0)
        return fail(err, err_len, "fake device: a negative step count");
    HOST(m1, n * sizeof(float));
    HOST(v, n * sizeof(float));
    memcpy(m->opt.m, m1, n * sizeof(float));
    memcpy(m->opt.v, v, n * sizeof(float));
    m->opt.step = step;
    return 0;
}

int rlvr_gpu_logprobs_dev(const void *d_logits, int dtype, const int32_t *d_tokens, const uint8_t *d_rows, size_t n,
                          size_t vocab, float temperature, float *d_logp, float *d_lse, float *d_entropy, char *err,
                          size_t err_len)
{
    if (dtype != RLVR_GPU_F32)
        return fail(err, err_len, "fake device: logits must be fp32");
    DEV(d_logits, n * vocab * sizeof(float));
    DEV(d_tokens, n * sizeof(int32_t));
    DEV(d_logp, n * sizeof(float));
    if (d_rows)
        DEV(d_rows, n);
    if (d_lse)
        DEV(d_lse, n * sizeof(float));
    if (d_entropy)
        DEV(d_entropy, n * sizeof(float));
    return rlvr_logprobs(d_logits, d_tokens, d_rows, n, vocab, temperature, d_logp, d_lse, d_entropy, err, err_len);
}

/* The loss of batch b on host-side logits[B*T, V] (the fake's device
 * memory): rlvr_logprobs -> rlvr_grpo_loss -> rlvr_logprobs_backward into
 * dlogits (NULL: forward only), the batch's optional outputs (logp,
 * entropy, dlogp) written as the GPU writes them; b's other arrays must be
 * device memory. */
static int loss_core(const struct rlvr_grpo_config *cfg, const struct rlvr_gpu_grpo_batch *b, const float *logits,
                     float *dlogits, struct rlvr_gpu_grpo_metrics *metrics, char *err, size_t err_len)
{
    size_t B = b->n_seq, N = b->n_seq * b->seq_len, V = b->vocab;
    DEV(b->tokens, N * sizeof(int32_t));
    DEV(b->advantages, B * sizeof(float));
    if (b->old_logp)
        DEV(b->old_logp, N * sizeof(float));
    if (b->ref_logp)
        DEV(b->ref_logp, N * sizeof(float));
    if (b->mask)
        DEV(b->mask, N);
    if (b->truncated)
        DEV(b->truncated, B);
    if (b->entropy)
        DEV(b->entropy, N * sizeof(float));
    if (b->logp)
        DEV(b->logp, N * sizeof(float));
    if (b->dlogp)
        DEV(b->dlogp, N * sizeof(float));
    float *logp = malloc(N * sizeof *logp), *lse = malloc(N * sizeof *lse), *dlogp = malloc(N * sizeof *dlogp);
    int rc = logp && lse && dlogp ? 0 : fail(err, err_len, "fake device: out of memory");
    /* the CPU's rows: a masked position, or a truncated completion under
     * mask_truncated, is never read (the kernel's rule) */
    uint8_t *rows = malloc(N);
    if (!rc && !rows)
        rc = fail(err, err_len, "fake device: out of memory");
    for (size_t r = 0; !rc && r < N; r++)
        rows[r] = (!b->mask || b->mask[r]) && !(cfg->mask_truncated && b->truncated && b->truncated[r / b->seq_len]);
    if (!rc)
        rc = rlvr_logprobs(logits, b->tokens, rows, N, V, b->temperature, logp, lse, b->entropy, err, err_len);
    struct rlvr_grpo_batch gb = {B, b->seq_len, logp, b->old_logp, b->ref_logp, b->advantages, b->mask,
                                 b->truncated, b->entropy, b->dapo_tokens};
    struct rlvr_grpo_metrics gm;
    if (!rc)
        rc = rlvr_grpo_loss(cfg, &gb, dlogp, &gm, err, err_len);
    if (!rc && dlogits)
        rc = rlvr_logprobs_backward(logits, b->tokens, rows, lse, dlogp, N, V, b->temperature, dlogits, err,
                                    err_len);
    if (!rc && b->logp)
        memcpy(b->logp, logp, N * sizeof(float));
    if (!rc && b->dlogp)
        memcpy(b->dlogp, dlogp, N * sizeof(float));
    if (!rc && metrics) {
        metrics->loss = gm.loss, metrics->pg_loss = gm.pg_loss, metrics->kl_loss = gm.kl_loss;
        metrics->active_tokens = gm.active_tokens, metrics->kl = gm.kl, metrics->entropy = gm.entropy;
        metrics->clip_low = gm.clip_low, metrics->clip_high = gm.clip_high, metrics->clip_region = gm.clip_region;
        metrics->clip_dual = gm.clip_dual, metrics->ratio_mean = gm.ratio_mean, metrics->ratio_max = gm.ratio_max;
    }
    free(logp), free(lse), free(dlogp), free(rows);
    return rc;
}

int rlvr_gpu_grpo_loss_dev(const struct rlvr_grpo_config *cfg, const struct rlvr_gpu_grpo_batch *b, void *d_dlogits,
                           struct rlvr_gpu_grpo_metrics *metrics, char *err, size_t err_len)
{
    size_t N = b->n_seq * b->seq_len, V = b->vocab;
    if (b->dtype != RLVR_GPU_F32)
        return fail(err, err_len, "fake device: logits must be fp32");
    DEV(b->logits, N * V * sizeof(float));
    if (d_dlogits)
        DEV(d_dlogits, N * V * sizeof(float));
    return loss_core(cfg, b, b->logits, d_dlogits, metrics, err, err_len);
}

/* The loss fused with the LM head, from the CPU references: logits = h W^T
 * (host/model.c's lin_fwd, its plain loop: the same sums in the same
 * order), loss_core over them, then per chunk of lin->chunk_rows rows (the
 * whole batch when 0) dh = dlogits W and dW += dlogits^T h (lin_bwd's
 * loops: every dW entry adds its rows in ascending order, chunk after
 * chunk, as the unchunked loop does), so the result is the unfused CPU
 * path's bit for bit. calls_fused counts the calls, fused_forward_only
 * those without dh and dweight. */
static int calls_fused, fused_forward_only;
int rlvr_gpu_grpo_linear_loss_dev(const struct rlvr_grpo_config *cfg, const struct rlvr_gpu_grpo_batch *b,
                                  const struct rlvr_gpu_grpo_linear *lin, struct rlvr_gpu_grpo_metrics *metrics,
                                  char *err, size_t err_len)
{
    size_t N = b->n_seq * b->seq_len, V = b->vocab, D = lin->hidden;
    calls_fused++;
    if (lin->dtype != RLVR_GPU_F32)
        return fail(err, err_len, "fake device: the trainer's operands must be fp32");
    if (b->logits)
        return fail(err, err_len, "fake device: the fused loss takes no logits");
    DEV(lin->h, N * D * sizeof(float));
    DEV(lin->weight, V * D * sizeof(float));
    if (lin->dh)
        DEV(lin->dh, N * D * sizeof(float));
    if (lin->dweight)
        DEV(lin->dweight, V * D * sizeof(float));
    fused_forward_only += !lin->dh && !lin->dweight;
    const float *h = lin->h, *W = lin->weight;
    float *X = malloc(N * V * sizeof(float));
    if (!X)
        return fail(err, err_len, "fake device: out of memory");
    for (size_t n = 0; n < N; n++)
        for (size_t o = 0; o < V; o++) {
            float acc = 0.0f;
            for (size_t i = 0; i < D; i++)
                acc += h[n * D + i] * W[o * D + i];
            X[n * V + o] = acc + 0.0f;
        }
    int grad = lin->dh || lin->dweight;
    int rc = loss_core(cfg, b, X, grad ? X : NULL, metrics, err, err_len);
    size_t C = lin->chunk_rows ? lin->chunk_rows : N;
    for (size_t r0 = 0; !rc && grad && r0 < N; r0 += C) {
        size_t r1 = r0 + C < N ? r0 + C : N;
        if (lin->dh)
            for (size_t n = r0; n < r1; n++) {
                float *dxr = lin->dh + n * D;
                memset(dxr, 0, D * sizeof(float));
                for (size_t o = 0; o < V; o++) {
                    float g = X[n * V + o];
                    for (size_t i = 0; i < D; i++)
                        dxr[i] += g * W[o * D + i];
                }
            }
        if (lin->dweight)
            for (size_t o = 0; o < V; o++) {
                float *dwr = lin->dweight + o * D;
                for (size_t n = r0; n < r1; n++) {
                    float g = X[n * V + o];
                    for (size_t i = 0; i < D; i++)
                        dwr[i] += g * h[n * D + i];
                }
            }
    }
    free(X);
    return rc;
}

/* ---- the CPU path (train_cmd.c's micro_loss and optimizer_step) --------------------- */

/* A micro-batch of nb sequences of T rows: prompt then completion, padding
 * at the end, as micro_fill lays it out. */
struct mb {
    int nb, T;
    int32_t tokens[8 * 32], targets[8 * 32];
    uint8_t rows[8 * 32], trunc[8];
    float adv[8], old[8 * 32], ref[8 * 32];
};

static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Random prompts of 2-4 tokens and completions of 1..T-P+1 tokens. */
static void make_mb(struct mb *m, int nb, int T, int V)
{
    memset(m, 0, sizeof *m);
    m->nb = nb, m->T = T;
    for (int b = 0; b < nb; b++) {
        int P = 2 + (int)(urand() * 3), n = 1 + (int)(urand() * (T - P + 1)), full = P + n;
        if (b == 0)
            n = T - P + 1, full = P + n; /* the longest sets T */
        int32_t seq[64];
        for (int i = 0; i < full; i++)
            seq[i] = (int32_t)(urand() * V);
        for (int t = 0; t < T; t++) {
            int r = b * T + t, next = t + 1;
            m->tokens[r] = t < full ? seq[t] : 0;
            m->rows[r] = next >= P && next < full;
            /* where the row does not count its target is garbage, which
             * nothing may read */
            m->targets[r] = m->rows[r] ? seq[next] : -7;
            m->old[r] = m->rows[r] ? (float)(-1.0 - 4.0 * urand()) : NAN;
            m->ref[r] = m->rows[r] ? (float)(-1.0 - 4.0 * urand()) : NAN;
        }
        m->adv[b] = (float)(2.0 * urand() - 1.0);
        m->trunc[b] = b == 1;
    }
}

static int cpu_micro(struct rlvr_model *model, const struct rlvr_grpo_config *cfg, const struct mb *m, int old,
                     int ref, int entropy, double dapo, float temp, struct rlvr_grpo_metrics *gm, char *err,
                     size_t err_len)
{
    size_t N = (size_t)m->nb * m->T, V = (size_t)model->cfg.vocab_size;
    float *logits = malloc(N * V * sizeof(float)), logp[8 * 32], lse[8 * 32], ent[8 * 32], dlogp[8 * 32];
    int32_t tg[8 * 32];
    uint8_t rows[8 * 32];
    for (size_t r = 0; r < N; r++) { /* train_cmd.c's micro_fill: targets 0 where the row does not count */
        rows[r] = m->rows[r];
        tg[r] = m->rows[r] ? m->targets[r] : 0;
    }
    struct rlvr_grpo_batch gb = {(size_t)m->nb, (size_t)m->T, logp, old ? m->old : NULL, ref ? m->ref : NULL,
                                 m->adv, m->rows, m->trunc, entropy ? ent : NULL, dapo};
    int rc = !logits || rlvr_model_forward(model, m->tokens, m->nb, m->T, logits, err, err_len) ||
             rlvr_logprobs(logits, tg, rows, N, V, temp, logp, lse, entropy ? ent : NULL, err, err_len) ||
             rlvr_grpo_loss(cfg, &gb, dlogp, gm, err, err_len) ||
             rlvr_logprobs_backward(logits, tg, rows, lse, dlogp, N, V, temp, logits, err, err_len) ||
             rlvr_model_backward(model, logits, err, err_len);
    free(logits);
    return rc ? -1 : 0;
}

static struct rlvr_train_micro micro_of(const struct mb *m, int old, int ref, int entropy, double dapo)
{
    struct rlvr_train_micro x = {m->nb, m->T, m->tokens, m->targets, m->rows, m->trunc, m->adv,
                                 old ? m->old : NULL, ref ? m->ref : NULL, dapo, entropy};
    return x;
}

/* ---- the cases ---------------------------------------------------------------------- */

struct tcase {
    const char *name;
    int loss_type, importance, mask_truncated, off_policy;
    float beta, delta, dual_clip;
};

static const struct tcase cases[] = {
    {"grpo on policy, beta 0", RLVR_LOSS_GRPO, RLVR_IS_TOKEN, 0, 0, 0, 0, 0},
    {"grpo off policy, beta 0.04", RLVR_LOSS_GRPO, RLVR_IS_TOKEN, 0, 1, 0.04f, 0, 0},
    {"bnpo on policy, beta 0.04", RLVR_LOSS_BNPO, RLVR_IS_TOKEN, 0, 0, 0.04f, 0, 0},
    {"bnpo off policy, beta 0", RLVR_LOSS_BNPO, RLVR_IS_TOKEN, 0, 1, 0, 0, 0},
    {"dapo off policy, beta 0", RLVR_LOSS_DAPO, RLVR_IS_TOKEN, 0, 1, 0, 0, 0},
    {"dapo on policy, beta 0.001, mask_truncated", RLVR_LOSS_DAPO, RLVR_IS_TOKEN, 1, 0, 0.001f, 0, 0},
    {"dr_grpo off policy, beta 0.04", RLVR_LOSS_DR_GRPO, RLVR_IS_TOKEN, 0, 1, 0.04f, 0, 0},
    {"dr_grpo on policy, mask_truncated", RLVR_LOSS_DR_GRPO, RLVR_IS_TOKEN, 1, 0, 0, 0, 0},
    {"gspo (sequence ratios) off policy, beta 0.04", RLVR_LOSS_GRPO, RLVR_IS_SEQUENCE, 0, 1, 0.04f, 0, 0},
    {"grpo off policy, delta 1.5 and dual clip 3", RLVR_LOSS_GRPO, RLVR_IS_TOKEN, 0, 1, 0.04f, 1.5f, 3.0f},
};

static int same_metrics(const struct rlvr_grpo_metrics *a, const struct rlvr_grpo_metrics *b)
{
    const double *x = &a->loss, *y = &b->loss;
    for (size_t i = 0; i < sizeof *a / sizeof(double); i++)
        if (!(x[i] == y[i] || (isnan(x[i]) && isnan(y[i]))))
            return 0;
    return 1;
}

static int run_case(const struct tcase *tc, const struct rlvr_model *init, const struct rlvr_model *refm, int fused)
{
    char err[512], name[200];
    snprintf(name, sizeof name, "%s%s%s", fused ? "fused LM-head loss, " : "",
             init->cfg.tie_word_embeddings ? "" : "untied head, ", tc->name);
    struct rlvr_grpo_config cfg;
    rlvr_grpo_config_default(&cfg);
    cfg.loss_type = tc->loss_type, cfg.importance_level = tc->importance, cfg.mask_truncated = tc->mask_truncated;
    cfg.beta = tc->beta, cfg.delta = tc->delta, cfg.dual_clip = tc->dual_clip, cfg.max_completion_length = 12;
    cfg.epsilon_high = 0.28f;
    struct rlvr_optim_config oc;
    rlvr_optim_config_default(&oc);
    oc.lr = 3e-3, oc.schedule = RLVR_LR_LINEAR, oc.total_steps = 4, oc.warmup_steps = 0, oc.weight_decay = 0.1;
    oc.max_grad_norm = 0.05; /* small, so that clipping happens */
    struct rlvr_model cpu;
    struct rlvr_adamw opt;
    struct rlvr_train_gpu *t = NULL;
    int ref = tc->beta > 0, ok_all = 1;
    if (rlvr_model_create(&cpu, &init->cfg, err, sizeof err) || rlvr_model_enable_grads(&cpu, err, sizeof err) ||
        rlvr_adamw_create(&opt, cpu.n_params, &oc, err, sizeof err)) {
        ok(0, "%s: CPU model: %s", name, err);
        return 0;
    }
    memcpy(cpu.params, init->params, cpu.n_params * sizeof(float));
    created_training = created_fwd_only = created_no_logits = 0;
    calls_fused = fused_forward_only = 0;
    if (rlvr_train_gpu_create(&t, init, ref ? refm : NULL, 3, 12, fused, err, sizeof err)) {
        ok(0, "%s: create: %s", name, err);
        rlvr_model_free(&cpu), rlvr_adamw_free(&opt);
        return 0;
    }
    ok_all &= ok(created_training == 1 && created_fwd_only == ref && created_no_logits == (fused ? 1 + ref : 0),
                 "%s: the policy is a training model%s, %s (%d training, %d forward-only, %d without logits)", name,
                 ref ? ", the reference a forward-only one" : "", fused ? (ref ? "both without logits" : "without logits") : "with logits",
                 created_training, created_fwd_only, created_no_logits);
    long gpu_step = 0;
    int V = init->cfg.vocab_size;
    for (int step = 0; step < 2 && ok_all; step++) {
        struct mb m[2];
        make_mb(&m[0], 3, 12, V);
        make_mb(&m[1], 2, 9, V);
        cfg.grad_accum_steps = 2;
        double dapo = 0;
        for (int k = 0; k < 2; k++)
            for (int r = 0; r < m[k].nb * m[k].T; r++)
                dapo += m[k].rows[r] && !(cfg.mask_truncated && m[k].trunc[r / m[k].T]);
        if (cfg.loss_type != RLVR_LOSS_DAPO)
            dapo = 0;
        for (int k = 0; k < 2 && ok_all; k++) {
            if (ref) { /* the reference's log-probabilities, as the trainer takes them */
                float want[8 * 32], got[8 * 32];
                struct rlvr_model rm;
                memset(&rm, 0, sizeof rm);
                size_t N = (size_t)m[k].nb * m[k].T;
                float *lg = malloc(N * (size_t)V * sizeof(float));
                int32_t tg[8 * 32];
                for (size_t r = 0; r < N; r++)
                    tg[r] = m[k].rows[r] ? m[k].targets[r] : 0;
                int rc = !lg || rlvr_model_create(&rm, &refm->cfg, err, sizeof err);
                if (!rc) {
                    memcpy(rm.params, refm->params, rm.n_params * sizeof(float));
                    rc = rlvr_model_forward(&rm, m[k].tokens, m[k].nb, m[k].T, lg, err, sizeof err) ||
                         rlvr_logprobs(lg, tg, m[k].rows, N, (size_t)V, 0.7f, want, NULL, NULL, err, sizeof err);
                }
                struct rlvr_train_micro x = micro_of(&m[k], 0, 0, 0, 0);
                rc = rc || rlvr_train_gpu_ref_logprobs(t, &x, 0.7f, got, err, sizeof err);
                int same = !rc;
                for (size_t r = 0; same && r < N; r++)
                    same = m[k].rows[r] ? got[r] == want[r] : got[r] == 0;
                ok_all &= ok(same, "%s: step %d micro-batch %d: the reference's log-probabilities are the CPU's%s%s",
                             name, step + 1, k + 1, rc ? ": " : "", rc ? err : "");
                for (size_t r = 0; r < N; r++)
                    if (m[k].rows[r])
                        m[k].ref[r] = want[r];
                rlvr_model_free(&rm);
                free(lg);
            }
            struct rlvr_grpo_metrics a, b;
            memset(&a, 0, sizeof a), memset(&b, 0, sizeof b);
            char err2[512] = "";
            int rc_cpu = cpu_micro(&cpu, &cfg, &m[k], tc->off_policy, ref, step == 0, dapo, 0.7f, &a, err, sizeof err);
            struct rlvr_train_micro x = micro_of(&m[k], tc->off_policy, ref, step == 0, dapo);
            int rc_gpu = rlvr_train_gpu_micro(t, &cfg, &x, 0.7f, &b, err2, sizeof err2);
            ok_all &= ok(!rc_cpu && !rc_gpu && same_metrics(&a, &b),
                         "%s: step %d micro-batch %d: loss %.6g and every metric as the CPU's%s%s%s%s", name,
                         step + 1, k + 1, b.loss, rc_cpu ? ": cpu: " : "", rc_cpu ? err : "",
                         rc_gpu ? ": gpu: " : "", rc_gpu ? err2 : "");
            if (!ok_all)
                diag("  cpu loss %.17g kl %.17g ent %.17g clip %.17g; gpu loss %.17g kl %.17g ent %.17g clip %.17g",
                     a.loss, a.kl, a.entropy, a.clip_region, b.loss, b.kl, b.entropy, b.clip_region);
        }
        struct rlvr_optim_stats sa, sb;
        int rc_cpu = rlvr_adamw_step(&opt, &cpu, &sa, err, sizeof err);
        rlvr_model_zero_grads(&cpu);
        int rc_gpu = rlvr_train_gpu_step(t, &oc, rlvr_lr_at(&oc, gpu_step), &sb, err, sizeof err);
        gpu_step++;
        ok_all &= ok(!rc_cpu && !rc_gpu && sa.grad_norm == sb.grad_norm && sa.lr == sb.lr && sa.clipped == sb.clipped,
                     "%s: step %d: AdamW at lr %g, gradient norm %.6g%s as the CPU's", name, step + 1, sb.lr,
                     sb.grad_norm, sb.clipped ? " (clipped)" : "");
    }
    float *w = malloc(cpu.n_params * sizeof(float));
    int rc = !w || rlvr_train_gpu_download(t, &(struct rlvr_model){.n_params = cpu.n_params, .params = w}, err,
                                           sizeof err);
    ok_all &= ok(!rc && !memcmp(w, cpu.params, cpu.n_params * sizeof(float)) &&
                     memcmp(w, init->params, cpu.n_params * sizeof(float)),
                 "%s: after 2 steps the weights are the CPU's, bit for bit (and have moved)", name);
    free(w);
    /* 2 steps of 2 micro-batches, and the reference's 4 */
    ok_all &= ok(calls_fused == (fused ? 4 + 4 * ref : 0) && fused_forward_only == (fused ? 4 * ref : 0),
                 "%s: %d calls of the fused loss, %d of them forward only (the reference's)", name, calls_fused,
                 fused_forward_only);
    rlvr_train_gpu_free(t);
    rlvr_model_free(&cpu);
    rlvr_adamw_free(&opt);
    return ok_all;
}

/* ---- resume: AdamW's state through optimizer.bin ------------------------------------ */

/* One optimizer step over the micro-batches m[0..1] (grpo, off policy, no
 * reference): on the trainer t at the schedule's rate for `step`, or on the
 * CPU model and its optimizer (train_cmd.c's optimizer_step). */
static int gpu_train_step(struct rlvr_train_gpu *t, const struct rlvr_grpo_config *cfg,
                          const struct rlvr_optim_config *oc, long step, const struct mb *m, char *err, size_t err_len)
{
    struct rlvr_optim_stats st;
    for (int k = 0; k < 2; k++) {
        struct rlvr_train_micro x = micro_of(&m[k], 1, 0, 0, 0);
        if (rlvr_train_gpu_micro(t, cfg, &x, 0.7f, NULL, err, err_len))
            return -1;
    }
    return rlvr_train_gpu_step(t, oc, rlvr_lr_at(oc, step), &st, err, err_len);
}

static int cpu_train_step(struct rlvr_model *cpu, struct rlvr_adamw *opt, const struct rlvr_grpo_config *cfg,
                          const struct mb *m, char *err, size_t err_len)
{
    struct rlvr_grpo_metrics gm;
    struct rlvr_optim_stats st;
    for (int k = 0; k < 2; k++)
        if (cpu_micro(cpu, cfg, &m[k], 1, 0, 0, 0, 0.7f, &gm, err, err_len))
            return -1;
    int rc = rlvr_adamw_step(opt, cpu, &st, err, err_len);
    rlvr_model_zero_grads(cpu);
    return rc;
}

/* 1 when files a and b hold the same bytes (and exist). */
static int same_bytes(const char *a, const char *b)
{
    FILE *f = fopen(a, "rb"), *g = fopen(b, "rb");
    int same = f && g, x = 0, y = 0;
    while (same && (x = fgetc(f)) == (y = fgetc(g)) && x != EOF)
        ;
    same = same && x == EOF && y == EOF;
    if (f)
        fclose(f);
    if (g)
        fclose(g);
    return same;
}

/* A trainer whose policy holds params[] (init's config), with the AdamW
 * state read from path uploaded (path NULL: a fresh optimizer). */
static struct rlvr_train_gpu *resumed_trainer(const struct rlvr_model *init, const float *params, const char *path,
                                              const struct rlvr_optim_config *oc, char *err, size_t err_len)
{
    struct rlvr_model h;
    struct rlvr_adamw o;
    struct rlvr_train_gpu *t = NULL;
    memset(&o, 0, sizeof o);
    if (rlvr_model_create(&h, &init->cfg, err, err_len))
        return NULL;
    memcpy(h.params, params, h.n_params * sizeof(float));
    int rc = rlvr_train_gpu_create(&t, &h, NULL, 3, 12, 0, err, err_len) ||
             (path && (rlvr_adamw_create(&o, h.n_params, oc, err, err_len) || rlvr_adamw_load(&o, path, err, err_len) ||
                       rlvr_adamw_to_gpu(&o, rlvr_train_gpu_policy(t), err, err_len)));
    rlvr_adamw_free(&o);
    rlvr_model_free(&h);
    if (rc) {
        rlvr_train_gpu_free(t);
        return NULL;
    }
    return t;
}

/* k = 2 steps on the GPU, AdamW's state brought to the host and saved as
 * the CPU saves it, is the CPU path's bit for bit (optimizer.bin's bytes
 * too); trainers resumed from it (a GPU checkpoint, a CPU checkpoint) and a
 * CPU optimizer resumed from the GPU's file take steps 3 and 4 exactly as
 * the runs that never stopped; without the state the continuation differs
 * (what the check would catch). */
static void resume_case(const struct rlvr_model *init)
{
    char err[512], dir[] = "/tmp/rlvr-train-gpu-host-XXXXXX", gpu_bin[128], cpu_bin[128];
    if (!mkdtemp(dir)) {
        ok(0, "resume: a temporary folder");
        return;
    }
    snprintf(gpu_bin, sizeof gpu_bin, "%s/gpu-optimizer.bin", dir);
    snprintf(cpu_bin, sizeof cpu_bin, "%s/cpu-optimizer.bin", dir);
    struct rlvr_grpo_config cfg;
    rlvr_grpo_config_default(&cfg);
    cfg.max_completion_length = 12, cfg.grad_accum_steps = 2, cfg.epsilon_high = 0.28f, cfg.beta = 0;
    struct rlvr_optim_config oc;
    rlvr_optim_config_default(&oc);
    oc.lr = 3e-3, oc.schedule = RLVR_LR_LINEAR, oc.total_steps = 4, oc.warmup_steps = 0, oc.weight_decay = 0.1;
    oc.max_grad_norm = 0.05;
    int V = init->cfg.vocab_size;
    struct mb m[4][2];
    for (int s = 0; s < 4; s++)
        make_mb(&m[s][0], 3, 12, V), make_mb(&m[s][1], 2, 9, V);
    size_t n = init->n_params;
    struct rlvr_model cpu, cpu_b;
    struct rlvr_adamw opt, opt_b, o, fresh;
    memset(&cpu_b, 0, sizeof cpu_b), memset(&opt_b, 0, sizeof opt_b);
    memset(&o, 0, sizeof o), memset(&fresh, 0, sizeof fresh);
    struct rlvr_train_gpu *a = NULL, *b = NULL, *c = NULL, *nostate = NULL;
    float *w2 = malloc(n * sizeof(float)), *w = malloc(n * sizeof(float));
    if (!w2 || !w || rlvr_model_create(&cpu, &init->cfg, err, sizeof err) ||
        rlvr_model_enable_grads(&cpu, err, sizeof err) || rlvr_adamw_create(&opt, n, &oc, err, sizeof err) ||
        rlvr_train_gpu_create(&a, init, NULL, 3, 12, 0, err, sizeof err)) {
        ok(0, "resume: setting up: %s", err);
        free(w2), free(w);
        return;
    }
    memcpy(cpu.params, init->params, n * sizeof(float));
    struct rlvr_model view = {.n_params = n, .params = w};

    /* a fresh GPU model: zeros and step 0 */
    fresh.n = n;
    int rc = rlvr_adamw_from_gpu(&fresh, rlvr_train_gpu_policy(a), err, sizeof err);
    int zero = !rc && fresh.m && fresh.step == 0;
    for (size_t i = 0; zero && i < 2 * n; i++)
        zero = fresh.m[i] == 0.0f;
    ok(zero, "a GPU model that has not stepped gives zero moments and step 0%s%s", rc ? ": " : "", rc ? err : "");

    /* 2 steps on each device */
    for (long s = 0; s < 2 && !rc; s++)
        rc = gpu_train_step(a, &cfg, &oc, s, m[s], err, sizeof err) ||
             cpu_train_step(&cpu, &opt, &cfg, m[s], err, sizeof err);
    o.n = n;
    rc = rc || rlvr_adamw_from_gpu(&o, rlvr_train_gpu_policy(a), err, sizeof err);
    ok(!rc && o.step == 2 && opt.step == 2 && !memcmp(o.m, opt.m, n * sizeof(float)) &&
           !memcmp(o.v, opt.v, n * sizeof(float)),
       "after 2 steps the GPU's AdamW state (m, v, step %ld) is the CPU path's, bit for bit%s%s", o.step,
       rc ? ": " : "", rc ? err : "");
    rc = rc || rlvr_adamw_save(&o, gpu_bin, err, sizeof err) || rlvr_adamw_save(&opt, cpu_bin, err, sizeof err);
    ok(!rc && same_bytes(gpu_bin, cpu_bin), "the GPU run's optimizer.bin is the CPU run's, byte for byte%s%s",
       rc ? ": " : "", rc ? err : "");
    rc = rc || rlvr_train_gpu_download(a, &(struct rlvr_model){.n_params = n, .params = w2}, err, sizeof err);
    ok(!rc && !memcmp(w2, cpu.params, n * sizeof(float)), "and the weights after 2 steps are the CPU's%s%s",
       rc ? ": " : "", rc ? err : "");
    rlvr_adamw_drop_moments(&o);
    ok(!o.m && !o.v && o.n == n && o.step == 2, "dropping the host moments keeps the size and the step count");

    /* the resumed runs: B from the GPU's checkpoint, C from the CPU's, a
     * CPU optimizer from the GPU's file, and one without the state */
    if (!rc && (!(b = resumed_trainer(init, w2, gpu_bin, &oc, err, sizeof err)) ||
                !(c = resumed_trainer(init, cpu.params, cpu_bin, &oc, err, sizeof err)) ||
                !(nostate = resumed_trainer(init, w2, NULL, &oc, err, sizeof err)) ||
                rlvr_model_create(&cpu_b, &init->cfg, err, sizeof err) ||
                rlvr_model_enable_grads(&cpu_b, err, sizeof err) || rlvr_adamw_create(&opt_b, n, &oc, err, sizeof err) ||
                rlvr_adamw_load(&opt_b, gpu_bin, err, sizeof err)))
        rc = 1;
    ok(!rc, "trainers resumed from the GPU's and the CPU's optimizer.bin%s%s", rc ? ": " : "", rc ? err : "");
    if (!rc)
        memcpy(cpu_b.params, w2, n * sizeof(float));
    for (long s = 2; s < 4 && !rc; s++)
        rc = gpu_train_step(a, &cfg, &oc, s, m[s], err, sizeof err) ||
             cpu_train_step(&cpu, &opt, &cfg, m[s], err, sizeof err) ||
             gpu_train_step(b, &cfg, &oc, s, m[s], err, sizeof err) ||
             gpu_train_step(c, &cfg, &oc, s, m[s], err, sizeof err) ||
             gpu_train_step(nostate, &cfg, &oc, s, m[s], err, sizeof err) ||
             cpu_train_step(&cpu_b, &opt_b, &cfg, m[s], err, sizeof err);
    ok(!rc, "steps 3 and 4 on every run%s%s", rc ? ": " : "", rc ? err : "");
    struct {
        const char *what;
        struct rlvr_train_gpu *t;
    } runs[] = {{"the uninterrupted GPU run", a},
                {"the GPU run resumed from the GPU's checkpoint", b},
                {"the GPU run resumed from the CPU's checkpoint", c}};
    for (int i = 0; i < 3 && !rc; i++) {
        int r = rlvr_train_gpu_download(runs[i].t, &view, err, sizeof err);
        ok(!r && !memcmp(w, cpu.params, n * sizeof(float)),
           "after 4 steps %s has the uninterrupted CPU run's weights, bit for bit%s%s", runs[i].what, r ? ": " : "",
           r ? err : "");
    }
    if (!rc) {
        ok(!memcmp(cpu_b.params, cpu.params, n * sizeof(float)) && opt_b.step == 4 &&
               !memcmp(opt_b.m, opt.m, 2 * n * sizeof(float)),
           "the CPU run resumed from the GPU's checkpoint ends as the uninterrupted one (weights and state)");
        o.n = n;
        int r = rlvr_adamw_from_gpu(&o, rlvr_train_gpu_policy(b), err, sizeof err);
        ok(!r && o.step == 4 && !memcmp(o.m, opt.m, 2 * n * sizeof(float)),
           "the resumed GPU run's AdamW state after step 4 is the CPU's (step %ld)", o.step);
        r = rlvr_train_gpu_download(nostate, &view, err, sizeof err);
        ok(!r && memcmp(w, cpu.params, n * sizeof(float)),
           "a run resumed with the weights but fresh moments ends elsewhere (the state matters)");
    }

    /* refusals */
    struct rlvr_adamw bad;
    memset(&bad, 0, sizeof bad);
    bad.n = n - 1;
    ok(rlvr_adamw_from_gpu(&bad, rlvr_train_gpu_policy(a), err, sizeof err) && strstr(err, "parameters") && !bad.m,
       "downloading AdamW's state into an optimizer of another size is refused (%s)", err);
    ok(rlvr_adamw_to_gpu(&opt_b, rlvr_train_gpu_policy(a), err, sizeof err) == 0 && opt_b.n == n,
       "uploading a state of the right size is accepted");
    opt_b.n = n - 1;
    ok(rlvr_adamw_to_gpu(&opt_b, rlvr_train_gpu_policy(a), err, sizeof err) && strstr(err, "parameters"),
       "uploading a state of another size is refused (%s)", err);
    opt_b.n = n;
    struct rlvr_adamw none = {.n = n};
    ok(rlvr_adamw_to_gpu(&none, rlvr_train_gpu_policy(a), err, sizeof err) && strstr(err, "without moments"),
       "uploading a state without moments is refused (%s)", err);

    remove(gpu_bin), remove(cpu_bin), rmdir(dir);
    rlvr_train_gpu_free(a), rlvr_train_gpu_free(b), rlvr_train_gpu_free(c), rlvr_train_gpu_free(nostate);
    rlvr_adamw_free(&opt), rlvr_adamw_free(&opt_b), rlvr_adamw_free(&o), rlvr_adamw_free(&fresh);
    rlvr_model_free(&cpu), rlvr_model_free(&cpu_b);
    free(w2), free(w);
}

/* The refusals of a trainer (the loss over the logits, or fused with the LM
 * head): each comes back as -1 with the device's message, and a refused
 * step leaves the weights as they were. */
static void refusal_case(const struct rlvr_model *init, int fused)
{
    char err[512];
    const char *how = fused ? "fused LM-head loss: " : "";
    struct rlvr_train_gpu *t = NULL;
    struct rlvr_grpo_config cfg;
    rlvr_grpo_config_default(&cfg);
    cfg.max_completion_length = 12;
    if (rlvr_train_gpu_create(&t, init, NULL, 2, 12, fused, err, sizeof err)) {
        ok(0, "%screate: %s", how, err);
        return;
    }
    struct mb m;
    make_mb(&m, 3, 12, init->cfg.vocab_size);
    struct rlvr_train_micro x = micro_of(&m, 0, 0, 1, 0);
    ok(rlvr_train_gpu_micro(t, &cfg, &x, 1.0f, NULL, err, sizeof err) && strstr(err, "room for 2 x 12"),
       "%sa micro-batch larger than the buffers is refused (%s)", how, err);
    make_mb(&m, 2, 12, init->cfg.vocab_size);
    x = micro_of(&m, 0, 0, 1, 0);
    float lp[64];
    ok(rlvr_train_gpu_ref_logprobs(t, &x, 1.0f, lp, err, sizeof err) && strstr(err, "no reference model"),
       "%sreference log-probabilities without a reference are refused (%s)", how, err);
    cfg.beta = 0.04f;
    ok(rlvr_train_gpu_micro(t, &cfg, &x, 1.0f, NULL, err, sizeof err) && strstr(err, "ref_logp"),
       "%sbeta > 0 without reference log-probabilities: the loss's refusal comes back (%s)", how, err);
    cfg.beta = 0;
    m.adv[1] = NAN;
    ok(rlvr_train_gpu_micro(t, &cfg, &x, 1.0f, NULL, err, sizeof err) && strstr(err, "advantage"),
       "%sa NaN advantage: the loss's refusal comes back, naming it (%s)", how, err);
    m.adv[1] = 0.5f;
    m.tokens[3] = init->cfg.vocab_size + 5;
    ok(rlvr_train_gpu_micro(t, &cfg, &x, 1.0f, NULL, err, sizeof err) && strstr(err, "outside the vocabulary"),
       "%sa token outside the vocabulary: the model's refusal comes back (%s)", how, err);
    m.tokens[3] = 1;
    /* a gradient whose norm overflows: the step is refused and nothing moves */
    struct rlvr_optim_config oc;
    rlvr_optim_config_default(&oc);
    m.adv[0] = 3e38f, m.adv[1] = -3e38f;
    int rc = rlvr_train_gpu_micro(t, &cfg, &x, 1.0f, NULL, err, sizeof err);
    struct rlvr_optim_stats st;
    rc = rc || !rlvr_train_gpu_step(t, &oc, 1e-3, &st, err, sizeof err);
    float *w = malloc(init->n_params * sizeof(float));
    struct rlvr_model view = {.n_params = init->n_params, .params = w};
    ok(!rc && strstr(err, "gradient norm") && !rlvr_train_gpu_download(t, &view, err, sizeof err) &&
           !memcmp(w, init->params, init->n_params * sizeof(float)),
       "%sa non-finite gradient norm refuses the step and leaves the weights as they were (%s)", how, err);
    view.n_params = init->n_params - 1;
    ok(rlvr_train_gpu_download(t, &view, err, sizeof err) && strstr(err, "parameters"),
       "%sdownloading into a model of another size is refused (%s)", how, err);
    free(w);
    rlvr_train_gpu_free(t);
}

int main(void)
{
    char err[512];
    struct rlvr_model_config mc;
    rlvr_model_config_tiny(&mc);
    mc.vocab_size = 64, mc.hidden_size = 32, mc.intermediate_size = 48, mc.num_attention_heads = 4;
    mc.num_key_value_heads = 2, mc.head_dim = 8, mc.max_position_embeddings = 64, mc.eos_token_id = -1;
    struct rlvr_model init, refm;
    if (rlvr_model_config_check(&mc, err, sizeof err) || rlvr_model_create(&init, &mc, err, sizeof err) ||
        rlvr_model_create(&refm, &mc, err, sizeof err)) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    rlvr_model_init_random(&init, 1, 0.2f);
    rlvr_model_init_random(&refm, 2, 0.2f);

    for (int fused = 0; fused <= 1; fused++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            run_case(&cases[i], &init, &refm, fused);
    /* an untied LM head (lm_head.weight its own tensor): a reference, and GSPO */
    struct rlvr_model_config mu = mc;
    mu.tie_word_embeddings = 0;
    struct rlvr_model uinit, urefm;
    if (rlvr_model_config_check(&mu, err, sizeof err) || rlvr_model_create(&uinit, &mu, err, sizeof err) ||
        rlvr_model_create(&urefm, &mu, err, sizeof err)) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    rlvr_model_init_random(&uinit, 3, 0.2f);
    rlvr_model_init_random(&urefm, 4, 0.2f);
    for (int fused = 0; fused <= 1; fused++) {
        run_case(&cases[1], &uinit, &urefm, fused);
        run_case(&cases[8], &uinit, &urefm, fused);
    }
    rlvr_model_free(&uinit);
    rlvr_model_free(&urefm);
    resume_case(&init);

    /* ---- refusals ---- */
    struct rlvr_train_gpu *t = NULL;
    ok(rlvr_train_gpu_create(&t, &init, NULL, 0, 12, 0, err, sizeof err) && !t && strstr(err, "out of range"),
       "create: no room for a sequence is refused (%s)", err);
    struct rlvr_model other;
    struct rlvr_model_config mc2 = mc;
    mc2.vocab_size = 80;
    if (rlvr_model_config_check(&mc2, err, sizeof err) || rlvr_model_create(&other, &mc2, err, sizeof err)) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    ok(rlvr_train_gpu_create(&t, &init, &other, 2, 12, 1, err, sizeof err) && !t && strstr(err, "shape differs"),
       "create: a reference of another shape is refused (%s)", err);
    rlvr_model_free(&other);
    ok(blocks_held() == 0, "refused creations leave no device memory behind");

    for (int fused = 0; fused <= 1; fused++)
        refusal_case(&init, fused);
    rlvr_train_gpu_free(NULL);
    ok(blocks_held() == 0, "no device memory left behind (%d blocks)", blocks_held());
    ok(misuse == 0, "no host pointer handed to the device and no device pointer to the host (%d misuses)", misuse);
    rlvr_model_free(&init);
    rlvr_model_free(&refm);
    return done_testing();
}
