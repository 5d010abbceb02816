/*
 * model.cu -- the policy's transformer on the GPU (gpu_model.h's model
 * object): the graph of model_graph.cuh run on cuda_ops (model_kernels.cu
 * and cuBLAS), the SFT loss, AdamW, and the memory it all lives in.
 *
 * Families of device memory, one allocation each (llm.c's discipline):
 *   params    float [n_params]       fp32 master weights, host/model.c's order
 *   grads     float [n_params]       (none in a forward-only model)
 *   moments   float [2, n_params]    AdamW m and v (allocated at the first step,
 *                                    or by an upload of a checkpoint's)
 *   params_h  bf16  [n_params]       the weights rounded for the BF16 products,
 *                                    rewritten by every upload and AdamW step
 *   acts      float [...]            model_graph.cuh net_carve_acts for B x T:
 *                                    activations, logits, scratch, rope table
 *                                    (forward-only: one layer's activations,
 *                                    no backward scratch, no loss buffers;
 *                                    RLVR_GPU_NO_LOGITS: no logits)
 *   halves    bf16  [...]            the activations rounded for BF16 products
 *   small     the AdamW segment table and the norm's accumulator
 *   workspace 32 MiB handed to cuBLAS (cublasSetWorkspace), so that cuBLAS
 *             allocates nothing of its own during a step
 * and, for generation, per KV cache (struct rlvr_gpu_kv, model_graph.cuh
 * graph_step):
 *   kc, vc    float [L, slots, max_len, KD] each: keys (rotated) and values
 *   cos_sin   float [max_len, hd]        the RoPE table of its positions
 *   rows      float [...]                a step's rows (step_carve), grown to
 *                                        the largest step seen
 *   halves    bf16  [...]                their bf16 operand (BF16)
 *   table     int32 [...]                the rows' tokens, slots, positions
 *                                        and the emitting rows' indices
 * Every allocation goes through track_alloc, which keeps the bytes held and
 * their high-water mark (rlvr_gpu_model_peak_bytes), the figure set beside
 * torch.cuda.max_memory_allocated in the benchmark.
 *
 * Invariants: tokens and targets, and a step's slots and positions, are
 * checked on the host before they reach the device (no kernel indexes with
 * an unchecked id; two rows of a step never write one cache entry); a failed call leaves
 * the model usable (an AdamW step with a non-finite norm changes nothing);
 * a forward-only model refuses, before touching anything, every call that
 * needs gradients, moments or the loss's buffers (fwd_only_refuse), and a
 * model without logits every call that needs them (no_logits_refuse);
 * the loss and backward(NULL) run only on logits the last forward computed
 * (net.cur_logits: not after rlvr_gpu_model_forward_hidden);
 * nothing here prints or exits.
 */
#include "gpu.h"
#include "gpu_fail.h"
#include "model_ops.cuh"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

using namespace rlvr_gm;

namespace {

constexpr size_t kWorkspace = (size_t)32 << 20;


} // namespace

struct rlvr_gpu_model {
    net n;
    rlvr_gpu_model_config cfg;
    cublasHandle_t blas;
    void *workspace;
    float *moments;        /* [2, n_params] or NULL */
    float *acts;           /* the activation block */
    uint16_t *halves;      /* the bf16 operand block (BF16) */
    segment *d_seg;        /* [n_seg] */
    double *d_norm;        /* [1] */
    int n_seg;
    size_t max_seg;        /* the largest tensor's numel */
    long step;             /* AdamW steps taken */
    size_t bytes, peak;
    size_t acts_bytes, halves_bytes;
};

struct rlvr_gpu_kv {
    rlvr_gpu_model *m;
    int slots, max_len;
    float *kc, *vc;          /* [L, slots, max_len, KD] each */
    float *cos_sin;          /* [max_len, hd] */
    size_t cache_bytes;      /* of kc, and of vc */
    int cap_rows, cap_emit;  /* what rows / halves / table are sized for */
    float *rows;
    uint16_t *halves;
    int32_t *table;
    size_t rows_bytes, halves_bytes, table_bytes;
    int32_t *h_table;        /* host staging of the table */
    long long *h_keys;       /* host: slot * max_len + pos of each row, sorted */
};

namespace {

int track_alloc(rlvr_gpu_model *m, void **p, size_t bytes, const char *what, char *err,
                size_t err_len)
{
    *p = nullptr;
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        *p = nullptr;
        return rlvr_gpu_fail(err, err_len, "gpu model: cannot allocate %s (%.2f GB): %s", what,
                     (double)bytes / 1e9, cudaGetErrorString(e));
    }
    m->bytes += bytes;
    if (m->bytes > m->peak) m->peak = m->bytes;
    return 0;
}

void track_free(rlvr_gpu_model *m, void *p, size_t bytes)
{
    if (!p) return;
    cudaFree(p);
    m->bytes -= bytes;
}

size_t params_bytes(const rlvr_gpu_model *m)
{
    return m->n.c.n_params * sizeof(float);
}

cuda_ops ops_of(rlvr_gpu_model *m, char *err, size_t err_len)
{
    cuda_ops o;
    o.blas = m->blas;
    o.err = err;
    o.err_len = err_len;
    return o;
}

int cuda_check(const char *what, cudaError_t e, char *err, size_t err_len)
{
    if (e == cudaSuccess) return 0;
    (void)cudaGetLastError();
    return rlvr_gpu_fail(err, err_len, "gpu model: %s: %s", what, cudaGetErrorString(e));
}

/* -1 with the message when m is forward-only (what it does not have). */
int fwd_only_refuse(const rlvr_gpu_model *m, char *err, size_t err_len)
{
    if (!m->n.fwd_only) return 0;
    return rlvr_gpu_fail(err, err_len, "gpu model: forward-only model: no gradients");
}

/* -1 with the message when m was created without logits. */
int no_logits_refuse(const rlvr_gpu_model *m, char *err, size_t err_len)
{
    if (!m->n.no_logits) return 0;
    return rlvr_gpu_fail(err, err_len, "gpu model: a model without logits (RLVR_GPU_NO_LOGITS): use "
                         "rlvr_gpu_model_forward_hidden and rlvr_gpu_model_backward_hidden");
}

int config_check(const rlvr_gpu_model_config *c, char *err, size_t err_len)
{
    if (c->vocab_size < 1 || c->hidden_size < 1 || c->intermediate_size < 1 ||
        c->num_hidden_layers < 1 || c->num_attention_heads < 1 || c->num_key_value_heads < 1 ||
        c->num_attention_heads % c->num_key_value_heads || c->head_dim < 2 || c->head_dim % 2 ||
        c->max_position_embeddings < 1 || !(c->rope_theta > 1.0) || !(c->rms_norm_eps > 0.0) ||
        (c->tie_word_embeddings != 0 && c->tie_word_embeddings != 1) ||
        (c->attention_bias != 0 && c->attention_bias != 1) || c->num_hidden_layers > 4096)
        return rlvr_gpu_fail(err, err_len, "gpu model: the config is not a checked model config "
                     "(run rlvr_model_config_check first)");
    return 0;
}

} // namespace

extern "C" {

int rlvr_gpu_model_create(struct rlvr_gpu_model **out, const struct rlvr_gpu_model_config *cfg,
                          int precision, char *err, size_t err_len)
{
    *out = nullptr;
    if (config_check(cfg, err, err_len)) return -1;
    int fwd_only = (precision & RLVR_GPU_FORWARD_ONLY) != 0;
    int no_logits = (precision & RLVR_GPU_NO_LOGITS) != 0;
    precision &= ~(RLVR_GPU_FORWARD_ONLY | RLVR_GPU_NO_LOGITS);
    if (precision != RLVR_GPU_FP32 && precision != RLVR_GPU_BF16)
        return rlvr_gpu_fail(err, err_len, "gpu model: unknown precision %d", precision);
    if (!rlvr_gpu_available()) return rlvr_gpu_fail(err, err_len, "gpu model: no CUDA device");
    rlvr_gpu_model *m = (rlvr_gpu_model *)calloc(1, sizeof *m);
    if (!m) return rlvr_gpu_fail(err, err_len, "gpu model: out of host memory");
    m->n.c = make_layout(*cfg);
    m->cfg = *cfg;
    m->n.prec = precision;
    m->n.fwd_only = fwd_only;
    m->n.no_logits = no_logits;
    size_t np = m->n.c.n_params;
    int max_seg = 3 + m->n.c.L * PER_LAYER;
    segment *seg = (segment *)calloc((size_t)max_seg, sizeof *seg);
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    int rc = -1;
    if (!seg) {
        rlvr_gpu_fail(err, err_len, "gpu model: out of host memory");
        goto out;
    }
    m->n_seg = make_segments(m->n.c, seg);
    for (int i = 0; i < m->n_seg; i++)
        if (seg[i].numel > m->max_seg) m->max_seg = seg[i].numel;
    if ((st = cublasCreate(&m->blas)) != CUBLAS_STATUS_SUCCESS ||
        (st = cublasSetMathMode(m->blas, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS) {
        rlvr_gpu_fail(err, err_len, "gpu model: cuBLAS: %s", cublasGetStatusString(st));
        goto out;
    }
    if (track_alloc(m, (void **)&m->n.params, np * sizeof(float), "the weights", err, err_len) ||
        (!fwd_only &&
         track_alloc(m, (void **)&m->n.grads, np * sizeof(float), "the gradients", err, err_len)) ||
        (precision == RLVR_GPU_BF16 &&
         track_alloc(m, (void **)&m->n.params_h, np * sizeof(uint16_t), "the bf16 weights", err,
                     err_len)) ||
        track_alloc(m, (void **)&m->d_seg, (size_t)m->n_seg * sizeof(segment), "the tensor table",
                    err, err_len) ||
        track_alloc(m, (void **)&m->d_norm, sizeof(double), "the norm", err, err_len) ||
        track_alloc(m, &m->workspace, kWorkspace, "the cuBLAS workspace", err, err_len))
        goto out;
    if ((st = cublasSetWorkspace(m->blas, m->workspace, kWorkspace)) != CUBLAS_STATUS_SUCCESS) {
        rlvr_gpu_fail(err, err_len, "gpu model: cuBLAS workspace: %s", cublasGetStatusString(st));
        goto out;
    }
    if (cuda_check("clear the weights", cudaMemset(m->n.params, 0, np * sizeof(float)), err, err_len) ||
        (m->n.grads &&
         cuda_check("clear the gradients", cudaMemset(m->n.grads, 0, np * sizeof(float)), err, err_len)) ||
        (m->n.params_h &&
         cuda_check("clear the bf16 weights", cudaMemset(m->n.params_h, 0, np * sizeof(uint16_t)),
                    err, err_len)) ||
        cuda_check("copy the tensor table",
                   cudaMemcpy(m->d_seg, seg, (size_t)m->n_seg * sizeof(segment), cudaMemcpyHostToDevice),
                   err, err_len))
        goto out;
    rc = 0;
out:
    free(seg);
    if (rc) {
        rlvr_gpu_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void rlvr_gpu_model_free(struct rlvr_gpu_model *m)
{
    if (!m) return;
    size_t np = m->n.c.n_params;
    track_free(m, m->n.params, np * sizeof(float));
    track_free(m, m->n.grads, np * sizeof(float));
    track_free(m, m->n.params_h, np * sizeof(uint16_t));
    track_free(m, m->moments, 2 * np * sizeof(float));
    track_free(m, m->acts, m->acts_bytes);
    track_free(m, m->halves, m->halves_bytes);
    track_free(m, m->d_seg, (size_t)m->n_seg * sizeof(segment));
    track_free(m, m->d_norm, sizeof(double));
    track_free(m, m->workspace, kWorkspace);
    if (m->blas) cublasDestroy(m->blas);
    free(m);
}

const struct rlvr_gpu_model_config *rlvr_gpu_model_config_of(const struct rlvr_gpu_model *m)
{
    return &m->cfg;
}

size_t rlvr_gpu_model_n_params(const struct rlvr_gpu_model *m)
{
    return m->n.c.n_params;
}

size_t rlvr_gpu_model_bytes(const struct rlvr_gpu_model *m)
{
    return m->bytes;
}

size_t rlvr_gpu_model_peak_bytes(const struct rlvr_gpu_model *m)
{
    return m->peak;
}

int rlvr_gpu_model_upload(struct rlvr_gpu_model *m, const float *params, size_t n_params,
                          char *err, size_t err_len)
{
    if (n_params != m->n.c.n_params)
        return rlvr_gpu_fail(err, err_len, "gpu model: %zu parameters given, the model has %zu", n_params,
                     m->n.c.n_params);
    if (cuda_check("upload the weights",
                   cudaMemcpy(m->n.params, params, params_bytes(m), cudaMemcpyHostToDevice), err,
                   err_len))
        return -1;
    if (!m->n.params_h) return 0;
    cuda_ops o = ops_of(m, err, err_len);
    return o.to_bf16(m->n.params_h, m->n.params, n_params);
}

int rlvr_gpu_model_download(const struct rlvr_gpu_model *m, float *params, size_t n_params,
                            char *err, size_t err_len)
{
    if (n_params != m->n.c.n_params)
        return rlvr_gpu_fail(err, err_len, "gpu model: room for %zu parameters, the model has %zu",
                     n_params, m->n.c.n_params);
    return cuda_check("download the weights",
                      cudaMemcpy(params, m->n.params, params_bytes(m), cudaMemcpyDeviceToHost), err,
                      err_len);
}

int rlvr_gpu_model_download_grads(const struct rlvr_gpu_model *m, float *grads, size_t n_params,
                                  char *err, size_t err_len)
{
    if (fwd_only_refuse(m, err, err_len)) return -1;
    if (n_params != m->n.c.n_params)
        return rlvr_gpu_fail(err, err_len, "gpu model: room for %zu gradients, the model has %zu",
                     n_params, m->n.c.n_params);
    return cuda_check("download the gradients",
                      cudaMemcpy(grads, m->n.grads, params_bytes(m), cudaMemcpyDeviceToHost), err,
                      err_len);
}

int rlvr_gpu_model_zero_grads(struct rlvr_gpu_model *m, char *err, size_t err_len)
{
    if (fwd_only_refuse(m, err, err_len)) return -1;
    return cuda_check("clear the gradients", cudaMemsetAsync(m->n.grads, 0, params_bytes(m), 0),
                      err, err_len);
}

int rlvr_gpu_model_reserve(struct rlvr_gpu_model *m, int B, int T, char *err, size_t err_len)
{
    if (B < 1 || T < 1 || T > m->n.c.max_pos || (long long)B * T > (1ll << 30))
        return rlvr_gpu_fail(err, err_len, "gpu model: cannot reserve %d sequences of %d tokens "
                     "(max_position_embeddings %d)", B, T, m->n.c.max_pos);
    if (m->acts && m->n.B >= B && m->n.T >= T) return 0;
    track_free(m, m->acts, m->acts_bytes);
    track_free(m, m->halves, m->halves_bytes);
    m->acts = nullptr, m->halves = nullptr, m->acts_bytes = m->halves_bytes = 0;
    m->n.cur_B = m->n.cur_T = 0;
    acts_size s = net_carve_acts(m->n, B, T, nullptr, nullptr);
    size_t ab = s.floats * sizeof(float), hb = s.halves * sizeof(uint16_t);
    if (track_alloc(m, (void **)&m->acts, ab, "the activations", err, err_len)) return -1;
    m->acts_bytes = ab;
    if (hb) {
        if (track_alloc(m, (void **)&m->halves, hb, "the bf16 activations", err, err_len)) {
            track_free(m, m->acts, ab);
            m->acts = nullptr, m->acts_bytes = 0;
            return -1;
        }
        m->halves_bytes = hb;
    }
    net_carve_acts(m->n, B, T, m->acts, m->halves);
    size_t nt = (size_t)T * m->n.c.hd;
    float *table = (float *)malloc(nt * sizeof(float));
    if (!table) return rlvr_gpu_fail(err, err_len, "gpu model: out of host memory for the rope table");
    rlvr_gpu_rope_table(table, T, m->n.c.hd, m->n.c.theta);
    int rc = cuda_check("upload the rope table",
                        cudaMemcpy(m->n.cos_sin, table, nt * sizeof(float), cudaMemcpyHostToDevice),
                        err, err_len);
    free(table);
    return rc;
}

} // extern "C"

namespace {

/* The forward of rlvr_gpu_model_forward (head 1) or of
 * rlvr_gpu_model_forward_hidden (head 0): checks, uploads the tokens, runs
 * the graph; the shape of the last forward cleared on any failure. */
int forward_run(rlvr_gpu_model *m, const int32_t *tokens, int B, int T, int head, char *err, size_t err_len)
{
    if (rlvr_gpu_model_reserve(m, B, T, err, err_len)) return -1;
    size_t N = (size_t)B * T;
    for (size_t i = 0; i < N; i++)
        if (tokens[i] < 0 || tokens[i] >= m->n.c.V)
            return rlvr_gpu_fail(err, err_len, "gpu model: token %d at row %zu is outside the vocabulary (%d)",
                         tokens[i], i, m->n.c.V);
    m->n.cur_B = m->n.cur_T = 0;
    if (cuda_check("upload the tokens",
                   cudaMemcpy(m->n.tokens, tokens, N * sizeof(int32_t), cudaMemcpyHostToDevice), err,
                   err_len))
        return -1;
    cuda_ops o = ops_of(m, err, err_len);
    if (head ? graph_forward(o, m->n, B, T) : graph_forward_hidden(o, m->n, B, T)) {
        m->n.cur_B = m->n.cur_T = 0;
        return -1;
    }
    return 0;
}

} // namespace

extern "C" {

int rlvr_gpu_model_forward(struct rlvr_gpu_model *m, const int32_t *tokens, int B, int T,
                           float **d_logits, char *err, size_t err_len)
{
    if (d_logits) *d_logits = nullptr;
    if (no_logits_refuse(m, err, err_len) || forward_run(m, tokens, B, T, 1, err, err_len)) return -1;
    if (d_logits) *d_logits = m->n.logits;
    return 0;
}

int rlvr_gpu_model_forward_hidden(struct rlvr_gpu_model *m, const int32_t *tokens, int B, int T,
                                  struct rlvr_gpu_model_hidden *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (forward_run(m, tokens, B, T, 0, err, err_len)) return -1;
    const layout &c = m->n.c;
    size_t head = head_offset(c);
    bool bf16 = m->n.prec == RLVR_GPU_BF16;
    out->rows = B * T;
    out->hidden = c.D;
    out->vocab = c.V;
    out->dtype = m->n.prec;
    out->h = m->n.xf;
    out->h_bf16 = bf16 ? m->n.hA : nullptr;
    out->weight = m->n.params + head;
    out->weight_bf16 = bf16 ? m->n.params_h + head : nullptr;
    out->dweight = m->n.grads ? m->n.grads + head : nullptr;
    out->dh = m->n.fwd_only ? nullptr : m->n.dn;
    return 0;
}

int rlvr_gpu_model_sft_loss(struct rlvr_gpu_model *m, const int32_t *targets, const uint8_t *rows,
                            float scale, double *loss, char *err, size_t err_len)
{
    if (fwd_only_refuse(m, err, err_len) || no_logits_refuse(m, err, err_len)) return -1;
    if (!m->n.cur_B) return rlvr_gpu_fail(err, err_len, "gpu model: loss without a forward");
    if (!m->n.cur_logits)
        return rlvr_gpu_fail(err, err_len, "gpu model: loss without logits (the last forward was "
                             "rlvr_gpu_model_forward_hidden)");
    if (!isfinite(scale)) return rlvr_gpu_fail(err, err_len, "gpu model: loss scale %g is not finite", (double)scale);
    size_t N = (size_t)m->n.cur_B * m->n.cur_T;
    for (size_t i = 0; i < N; i++)
        if ((!rows || rows[i]) && (targets[i] < 0 || targets[i] >= m->n.c.V))
            return rlvr_gpu_fail(err, err_len, "gpu model: target %d at row %zu is outside the vocabulary (%d)",
                         targets[i], i, m->n.c.V);
    float *logp = (float *)malloc(N * sizeof(float));
    if (!logp) return rlvr_gpu_fail(err, err_len, "gpu model: out of host memory");
    cuda_ops o = ops_of(m, err, err_len);
    int rc = cuda_check("upload the targets",
                        cudaMemcpy(m->n.targets, targets, N * sizeof(int32_t), cudaMemcpyHostToDevice),
                        err, err_len);
    if (!rc && rows)
        rc = cuda_check("upload the rows",
                        cudaMemcpy(m->n.rowmask, rows, N, cudaMemcpyHostToDevice), err, err_len);
    if (!rc)
        rc = o.cross_entropy(m->n.logits, m->n.targets, rows ? m->n.rowmask : nullptr, N,
                             (size_t)m->n.c.V, -scale, m->n.logp, m->n.ce_lse);
    if (!rc)
        rc = cuda_check("download the log-probabilities",
                        cudaMemcpy(logp, m->n.logp, N * sizeof(float), cudaMemcpyDeviceToHost), err,
                        err_len);
    double sum = 0.0;
    for (size_t i = 0; !rc && i < N; i++) {
        if (rows && !rows[i]) continue;
        if (!isfinite(logp[i]))
            rc = rlvr_gpu_fail(err, err_len, "gpu model: loss: row %zu: logits hold NaN or +Inf, are all "
                       "-Inf, or the target's logit is -Inf", i);
        sum += (double)logp[i];
    }
    free(logp);
    if (!rc && loss) *loss = -(double)scale * sum;
    if (rc) m->n.cur_B = m->n.cur_T = 0; /* the logits are no longer a gradient to trust */
    return rc;
}

int rlvr_gpu_model_backward(struct rlvr_gpu_model *m, const float *d_dlogits, char *err,
                            size_t err_len)
{
    if (fwd_only_refuse(m, err, err_len) || no_logits_refuse(m, err, err_len)) return -1;
    if (!m->n.cur_B) return rlvr_gpu_fail(err, err_len, "gpu model: backward without a forward");
    if (!d_dlogits && !m->n.cur_logits)
        return rlvr_gpu_fail(err, err_len, "gpu model: backward of the model's logits without logits (the "
                             "last forward was rlvr_gpu_model_forward_hidden)");
    cuda_ops o = ops_of(m, err, err_len);
    return graph_backward(o, m->n, d_dlogits ? d_dlogits : m->n.logits);
}

int rlvr_gpu_model_backward_hidden(struct rlvr_gpu_model *m, const float *d_dh, char *err, size_t err_len)
{
    if (fwd_only_refuse(m, err, err_len)) return -1;
    if (!m->n.cur_B) return rlvr_gpu_fail(err, err_len, "gpu model: backward without a forward");
    if (!d_dh) return rlvr_gpu_fail(err, err_len, "gpu model: backward_hidden without dh");
    cuda_ops o = ops_of(m, err, err_len);
    return graph_backward_hidden(o, m->n, d_dh);
}

int rlvr_gpu_model_adamw_step(struct rlvr_gpu_model *m, const struct rlvr_gpu_adamw_config *c,
                              double lr, double *grad_norm, int *clipped, char *err,
                              size_t err_len)
{
    if (fwd_only_refuse(m, err, err_len)) return -1;
    if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1) || !(c->eps > 0) ||
        !(c->weight_decay >= 0) || !(c->max_grad_norm >= 0) || !(lr >= 0) || !isfinite(lr))
        return rlvr_gpu_fail(err, err_len, "gpu model: adamw: a setting is out of range (betas in [0, 1), "
                     "eps > 0, weight decay, max_grad_norm and lr >= 0)");
    size_t np = m->n.c.n_params;
    if (!m->moments) {
        if (track_alloc(m, (void **)&m->moments, 2 * np * sizeof(float), "the AdamW moments", err,
                        err_len))
            return -1;
        if (cuda_check("clear the moments", cudaMemset(m->moments, 0, 2 * np * sizeof(float)), err,
                       err_len))
            return -1;
    }
    cuda_ops o = ops_of(m, err, err_len);
    double ss = 0.0;
    if (o.zero(m->d_norm, sizeof(double)) || o.sumsq(m->d_norm, m->n.grads, np) ||
        cuda_check("read the gradient norm",
                   cudaMemcpy(&ss, m->d_norm, sizeof(double), cudaMemcpyDeviceToHost), err, err_len))
        return -1;
    double norm = sqrt(ss);
    if (grad_norm) *grad_norm = norm;
    if (clipped) *clipped = 0;
    if (!isfinite(norm))
        return rlvr_gpu_fail(err, err_len, "gpu model: adamw: the gradient norm is %g; step %ld skipped", norm,
                     m->step + 1);
    adamw_scalars s = adamw_prepare(norm, c->max_grad_norm, lr, c->beta1, c->beta2, c->eps,
                                    c->weight_decay, m->step + 1);
    if (o.adamw(m->n.params, m->n.grads, m->moments, m->moments + np, m->n.params_h, m->d_seg,
                m->n_seg, m->max_seg, s))
        return -1;
    m->step++;
    if (clipped) *clipped = s.clipped;
    return 0;
}

int rlvr_gpu_model_download_adamw(const struct rlvr_gpu_model *m, float *m1, float *v,
                                  size_t n_params, long *step, char *err, size_t err_len)
{
    if (fwd_only_refuse(m, err, err_len)) return -1;
    size_t np = m->n.c.n_params;
    if (n_params != np)
        return rlvr_gpu_fail(err, err_len, "gpu model: room for the AdamW moments of %zu parameters, "
                             "the model has %zu", n_params, np);
    if (!m->moments) { /* no step taken: torch's fresh state */
        memset(m1, 0, np * sizeof(float));
        memset(v, 0, np * sizeof(float));
    } else if (cuda_check("download the AdamW moments",
                          cudaMemcpy(m1, m->moments, np * sizeof(float), cudaMemcpyDeviceToHost), err,
                          err_len) ||
               cuda_check("download the AdamW moments",
                          cudaMemcpy(v, m->moments + np, np * sizeof(float), cudaMemcpyDeviceToHost),
                          err, err_len)) {
        return -1;
    }
    *step = m->step;
    return 0;
}

int rlvr_gpu_model_upload_adamw(struct rlvr_gpu_model *m, const float *m1, const float *v,
                                size_t n_params, long step, char *err, size_t err_len)
{
    if (fwd_only_refuse(m, err, err_len)) return -1;
    size_t np = m->n.c.n_params;
    if (n_params != np)
        return rlvr_gpu_fail(err, err_len, "gpu model: AdamW moments of %zu parameters given, the "
                             "model has %zu", n_params, np);
    if (step < 0) return rlvr_gpu_fail(err, err_len, "gpu model: AdamW step count %ld", step);
    if (!m->moments && track_alloc(m, (void **)&m->moments, 2 * np * sizeof(float),
                                   "the AdamW moments", err, err_len))
        return -1;
    if (cuda_check("upload the AdamW moments",
                   cudaMemcpy(m->moments, m1, np * sizeof(float), cudaMemcpyHostToDevice), err,
                   err_len) ||
        cuda_check("upload the AdamW moments",
                   cudaMemcpy(m->moments + np, v, np * sizeof(float), cudaMemcpyHostToDevice), err,
                   err_len))
        return -1;
    m->step = step;
    return 0;
}

} // extern "C"

/* ---- generation: the KV cache and the step ------------------------------------------ */

namespace {

void kv_rows_free(rlvr_gpu_kv *kv)
{
    track_free(kv->m, kv->rows, kv->rows_bytes);
    track_free(kv->m, kv->halves, kv->halves_bytes);
    track_free(kv->m, kv->table, kv->table_bytes);
    free(kv->h_table);
    free(kv->h_keys);
    kv->rows = nullptr, kv->halves = nullptr, kv->table = nullptr;
    kv->h_table = nullptr, kv->h_keys = nullptr;
    kv->rows_bytes = kv->halves_bytes = kv->table_bytes = 0;
    kv->cap_rows = kv->cap_emit = 0;
}

/* Sizes the step's buffers for n rows, ne emitting (kept when big enough). */
int kv_rows_reserve(rlvr_gpu_kv *kv, int n, int ne, char *err, size_t err_len)
{
    if (kv->rows && kv->cap_rows >= n && kv->cap_emit >= ne) return 0;
    int R = n > kv->cap_rows ? n : kv->cap_rows, E = ne > kv->cap_emit ? ne : kv->cap_emit;
    if (E < 1) E = 1;
    kv_rows_free(kv);
    step_bufs b;
    step_size z = step_carve(kv->m->n.c, kv->m->n.prec, b, R, E, nullptr, nullptr, nullptr);
    size_t fb = z.floats * sizeof(float), hb = z.halves * sizeof(uint16_t), ib = z.ints * sizeof(int32_t);
    if (track_alloc(kv->m, (void **)&kv->rows, fb, "the step's rows", err, err_len)) return -1;
    kv->rows_bytes = fb;
    if (hb) {
        if (track_alloc(kv->m, (void **)&kv->halves, hb, "the step's bf16 rows", err, err_len)) {
            kv_rows_free(kv);
            return -1;
        }
        kv->halves_bytes = hb;
    }
    if (track_alloc(kv->m, (void **)&kv->table, ib, "the step's row table", err, err_len)) {
        kv_rows_free(kv);
        return -1;
    }
    kv->table_bytes = ib;
    kv->h_table = (int32_t *)malloc(ib);
    kv->h_keys = (long long *)malloc((size_t)R * sizeof(long long));
    if (!kv->h_table || !kv->h_keys) {
        kv_rows_free(kv);
        return rlvr_gpu_fail(err, err_len, "gpu model step: out of host memory for %d rows", R);
    }
    kv->cap_rows = R;
    kv->cap_emit = E;
    return 0;
}

int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

} // namespace

extern "C" {

int rlvr_gpu_kv_create(struct rlvr_gpu_kv **out, struct rlvr_gpu_model *m, int slots, int max_len,
                       char *err, size_t err_len)
{
    *out = nullptr;
    const layout &c = m->n.c;
    if (slots < 1 || max_len < 1 || max_len > c.max_pos)
        return rlvr_gpu_fail(err, err_len, "gpu kv cache: %d slots of %d positions "
                             "(max_position_embeddings %d)", slots, max_len, c.max_pos);
    if (c.hd > 256)
        return rlvr_gpu_fail(err, err_len, "gpu kv cache: head_dim %d is over the decoding "
                             "attention kernel's 256", c.hd);
    rlvr_gpu_kv *kv = (rlvr_gpu_kv *)calloc(1, sizeof *kv);
    if (!kv) return rlvr_gpu_fail(err, err_len, "gpu kv cache: out of host memory");
    kv->m = m;
    kv->slots = slots;
    kv->max_len = max_len;
    kv->cache_bytes = kv_layer_size(c, slots, max_len) * (size_t)c.L * sizeof(float);
    size_t nt = (size_t)max_len * c.hd;
    float *table = nullptr;
    int rc = -1;
    if (track_alloc(m, (void **)&kv->kc, kv->cache_bytes, "the key cache", err, err_len) ||
        track_alloc(m, (void **)&kv->vc, kv->cache_bytes, "the value cache", err, err_len) ||
        track_alloc(m, (void **)&kv->cos_sin, nt * sizeof(float), "the cache's rope table", err,
                    err_len))
        goto out;
    if (!(table = (float *)malloc(nt * sizeof(float)))) {
        rlvr_gpu_fail(err, err_len, "gpu kv cache: out of host memory for the rope table");
        goto out;
    }
    rlvr_gpu_rope_table(table, max_len, c.hd, c.theta);
    if (cuda_check("upload the cache's rope table",
                   cudaMemcpy(kv->cos_sin, table, nt * sizeof(float), cudaMemcpyHostToDevice), err,
                   err_len) ||
        cuda_check("clear the key cache", cudaMemset(kv->kc, 0, kv->cache_bytes), err, err_len) ||
        cuda_check("clear the value cache", cudaMemset(kv->vc, 0, kv->cache_bytes), err, err_len))
        goto out;
    rc = 0;
out:
    free(table);
    if (rc) {
        rlvr_gpu_kv_free(kv);
        return -1;
    }
    *out = kv;
    return 0;
}

void rlvr_gpu_kv_free(struct rlvr_gpu_kv *kv)
{
    if (!kv) return;
    kv_rows_free(kv);
    track_free(kv->m, kv->kc, kv->cache_bytes);
    track_free(kv->m, kv->vc, kv->cache_bytes);
    track_free(kv->m, kv->cos_sin, (size_t)kv->max_len * kv->m->n.c.hd * sizeof(float));
    free(kv);
}

int rlvr_gpu_kv_copy(struct rlvr_gpu_kv *kv, int from, int to, int len, char *err, size_t err_len)
{
    if (from < 0 || from >= kv->slots || to < 0 || to >= kv->slots || len < 0 || len > kv->max_len)
        return rlvr_gpu_fail(err, err_len, "gpu kv cache: copy of %d positions from slot %d to "
                             "slot %d outside the cache (%d slots of %d positions)", len, from, to,
                             kv->slots, kv->max_len);
    cuda_ops o = ops_of(kv->m, err, err_len);
    return graph_kv_copy(o, kv->m->n.c, kv->kc, kv->vc, kv->slots, kv->max_len, from, to, len);
}

int rlvr_gpu_model_step(struct rlvr_gpu_model *m, struct rlvr_gpu_kv *kv, int n,
                        const int32_t *tokens, const int *slot, const int *pos,
                        const uint8_t *emit, float *logits, char *err, size_t err_len)
{
    if (kv->m != m) return rlvr_gpu_fail(err, err_len, "gpu model step: the cache belongs to another model");
    if (n < 1) return 0;
    const layout &c = m->n.c;
    for (int r = 0; r < n; r++)
        if (tokens[r] < 0 || tokens[r] >= c.V)
            return rlvr_gpu_fail(err, err_len, "gpu model step: token %d at row %d is outside the "
                                 "vocabulary (%d)", tokens[r], r, c.V);
    for (int r = 0; r < n; r++)
        if (slot[r] < 0 || slot[r] >= kv->slots || pos[r] < 0 || pos[r] >= kv->max_len)
            return rlvr_gpu_fail(err, err_len, "gpu model step: row %d has slot %d, position %d "
                                 "outside the cache (%d slots of %d positions)", r, slot[r], pos[r],
                                 kv->slots, kv->max_len);
    int ne = 0;
    for (int r = 0; r < n; r++) ne += !emit || emit[r];
    if (kv_rows_reserve(kv, n, ne, err, err_len)) return -1;
    for (int r = 0; r < n; r++) kv->h_keys[r] = (long long)slot[r] * kv->max_len + pos[r];
    qsort(kv->h_keys, (size_t)n, sizeof(long long), cmp_ll);
    for (int r = 1; r < n; r++)
        if (kv->h_keys[r] == kv->h_keys[r - 1])
            return rlvr_gpu_fail(err, err_len, "gpu model step: two rows at slot %lld, position %lld",
                                 kv->h_keys[r] / kv->max_len, kv->h_keys[r] % kv->max_len);
    step_bufs b;
    step_carve(c, m->n.prec, b, kv->cap_rows, kv->cap_emit, kv->rows, kv->halves, kv->table);
    /* the row table on the host, in step_carve's layout, then one upload */
    size_t ri = round64((size_t)kv->cap_rows);
    int32_t *ht = kv->h_table;
    for (int r = 0, e = 0; r < n; r++) {
        ht[r] = tokens[r];
        ht[ri + r] = (int32_t)slot[r];
        ht[2 * ri + r] = (int32_t)pos[r];
        if (!emit || emit[r]) ht[3 * ri + e++] = r;
    }
    size_t used = 3 * ri + (size_t)ne;
    if (cuda_check("upload the step's rows",
                   cudaMemcpy(kv->table, ht, used * sizeof(int32_t), cudaMemcpyHostToDevice), err,
                   err_len))
        return -1;
    b.n = n;
    b.ne = ne;
    b.slots = kv->slots;
    b.max_len = kv->max_len;
    b.kc = kv->kc;
    b.vc = kv->vc;
    b.cos_sin = kv->cos_sin;
    cuda_ops o = ops_of(m, err, err_len);
    if (graph_step(o, m->n, b)) return -1;
    if (!ne) return rlvr_gpu_sync(err, err_len);
    return cuda_check("download the logits",
                      cudaMemcpy(logits, b.logits, (size_t)ne * c.V * sizeof(float),
                                 cudaMemcpyDeviceToHost),
                      err, err_len);
}

} // extern "C"
