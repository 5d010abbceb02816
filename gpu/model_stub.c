/*
 * model_stub.c -- gpu_model.h implemented without CUDA.
 *
 * Linked in place of model_kernels.cu and model.cu when configure did not
 * find (or was told not to use) CUDA, so that a build without CUDA is whole:
 * every entry point exists and fails with "built without CUDA", leaving its
 * outputs untouched (a pointer it would have set is set to NULL, a struct
 * it would have filled is zeroed); the sizes
 * and counters are 0; freeing does nothing. libc only.
 */
#include "gpu.h"

#include <stdio.h>
#include <string.h>

static int no_cuda(char *err, size_t err_len)
{
    if (err && err_len) snprintf(err, err_len, "built without CUDA");
    return -1;
}

int rlvr_gpu_mem_alloc(void **d_ptr, size_t bytes, char *err, size_t err_len)
{
    (void)bytes;
    if (d_ptr) *d_ptr = NULL;
    return no_cuda(err, err_len);
}

void rlvr_gpu_mem_free(void *d_ptr)
{
    (void)d_ptr;
}

int rlvr_gpu_mem_upload(void *d_dst, const void *src, size_t bytes, char *err, size_t err_len)
{
    (void)d_dst, (void)src, (void)bytes;
    return no_cuda(err, err_len);
}

int rlvr_gpu_mem_download(void *dst, const void *d_src, size_t bytes, char *err, size_t err_len)
{
    (void)dst, (void)d_src, (void)bytes;
    return no_cuda(err, err_len);
}

int rlvr_gpu_sync(char *err, size_t err_len)
{
    return no_cuda(err, err_len);
}

int rlvr_gpu_embedding_forward(float *d_out, const float *d_E, const int32_t *d_tokens, int N,
                               int D, int V, char *err, size_t err_len)
{
    (void)d_out, (void)d_E, (void)d_tokens, (void)N, (void)D, (void)V;
    return no_cuda(err, err_len);
}

int rlvr_gpu_embedding_backward(float *d_dE, const float *d_dx, const int32_t *d_tokens, int N,
                                int D, int V, char *err, size_t err_len)
{
    (void)d_dE, (void)d_dx, (void)d_tokens, (void)N, (void)D, (void)V;
    return no_cuda(err, err_len);
}

int rlvr_gpu_rmsnorm_forward(float *d_y, float *d_rstd, const float *d_x, const float *d_w,
                             int N, int D, float eps, char *err, size_t err_len)
{
    (void)d_y, (void)d_rstd, (void)d_x, (void)d_w, (void)N, (void)D, (void)eps;
    return no_cuda(err, err_len);
}

int rlvr_gpu_rmsnorm_backward(float *d_dx, int dx_add, float *d_dw, const float *d_dy,
                              const float *d_x, const float *d_w, const float *d_rstd, int N,
                              int D, char *err, size_t err_len)
{
    (void)d_dx, (void)dx_add, (void)d_dw, (void)d_dy, (void)d_x, (void)d_w, (void)d_rstd;
    (void)N, (void)D;
    return no_cuda(err, err_len);
}

int rlvr_gpu_rope(float *d_x, const float *d_cos_sin, int N, int T, int H, int hd, int inverse,
                  char *err, size_t err_len)
{
    (void)d_x, (void)d_cos_sin, (void)N, (void)T, (void)H, (void)hd, (void)inverse;
    return no_cuda(err, err_len);
}

int rlvr_gpu_swiglu_forward(float *d_h, const float *d_gate, const float *d_up, size_t n,
                            char *err, size_t err_len)
{
    (void)d_h, (void)d_gate, (void)d_up, (void)n;
    return no_cuda(err, err_len);
}

int rlvr_gpu_swiglu_backward(float *d_dgate, float *d_dup, const float *d_dh,
                             const float *d_gate, const float *d_up, size_t n, char *err,
                             size_t err_len)
{
    (void)d_dgate, (void)d_dup, (void)d_dh, (void)d_gate, (void)d_up, (void)n;
    return no_cuda(err, err_len);
}

int rlvr_gpu_add(float *d_y, const float *d_x, size_t n, char *err, size_t err_len)
{
    (void)d_y, (void)d_x, (void)n;
    return no_cuda(err, err_len);
}

size_t rlvr_gpu_attention_scratch(int B, int Hq, int T)
{
    (void)B, (void)Hq, (void)T;
    return 0;
}

int rlvr_gpu_attention_forward(float *d_out, float *d_lse, const float *d_q, const float *d_k,
                               const float *d_v, int B, int T, int Hq, int Hk, int hd,
                               float *d_scratch, char *err, size_t err_len)
{
    (void)d_out, (void)d_lse, (void)d_q, (void)d_k, (void)d_v, (void)B, (void)T, (void)Hq;
    (void)Hk, (void)hd, (void)d_scratch;
    return no_cuda(err, err_len);
}

int rlvr_gpu_attention_backward(float *d_dq, float *d_dk, float *d_dv, const float *d_dout,
                                const float *d_q, const float *d_k, const float *d_v,
                                const float *d_out, const float *d_lse, int B, int T, int Hq,
                                int Hk, int hd, float *d_scratch, char *err, size_t err_len)
{
    (void)d_dq, (void)d_dk, (void)d_dv, (void)d_dout, (void)d_q, (void)d_k, (void)d_v;
    (void)d_out, (void)d_lse, (void)B, (void)T, (void)Hq, (void)Hk, (void)hd, (void)d_scratch;
    return no_cuda(err, err_len);
}

int rlvr_gpu_cross_entropy(float *d_logits, const int32_t *d_targets, const uint8_t *d_rows,
                           size_t n, size_t vocab, float dlogp, float *d_logp, float *d_lse,
                           char *err, size_t err_len)
{
    (void)d_logits, (void)d_targets, (void)d_rows, (void)n, (void)vocab, (void)dlogp;
    (void)d_logp, (void)d_lse;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_create(struct rlvr_gpu_model **out, const struct rlvr_gpu_model_config *cfg,
                          int precision, char *err, size_t err_len)
{
    (void)cfg, (void)precision;
    if (out) *out = NULL;
    return no_cuda(err, err_len);
}

void rlvr_gpu_model_free(struct rlvr_gpu_model *m)
{
    (void)m;
}

size_t rlvr_gpu_model_n_params(const struct rlvr_gpu_model *m)
{
    (void)m;
    return 0;
}

size_t rlvr_gpu_model_bytes(const struct rlvr_gpu_model *m)
{
    (void)m;
    return 0;
}

size_t rlvr_gpu_model_peak_bytes(const struct rlvr_gpu_model *m)
{
    (void)m;
    return 0;
}

int rlvr_gpu_model_upload(struct rlvr_gpu_model *m, const float *params, size_t n_params,
                          char *err, size_t err_len)
{
    (void)m, (void)params, (void)n_params;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_download(const struct rlvr_gpu_model *m, float *params, size_t n_params,
                            char *err, size_t err_len)
{
    (void)m, (void)params, (void)n_params;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_download_grads(const struct rlvr_gpu_model *m, float *grads, size_t n_params,
                                  char *err, size_t err_len)
{
    (void)m, (void)grads, (void)n_params;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_zero_grads(struct rlvr_gpu_model *m, char *err, size_t err_len)
{
    (void)m;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_reserve(struct rlvr_gpu_model *m, int B, int T, char *err, size_t err_len)
{
    (void)m, (void)B, (void)T;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_forward(struct rlvr_gpu_model *m, const int32_t *tokens, int B, int T,
                           float **d_logits, char *err, size_t err_len)
{
    (void)m, (void)tokens, (void)B, (void)T;
    if (d_logits) *d_logits = NULL;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_sft_loss(struct rlvr_gpu_model *m, const int32_t *targets,
                            const uint8_t *rows, float scale, double *loss, char *err,
                            size_t err_len)
{
    (void)m, (void)targets, (void)rows, (void)scale, (void)loss;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_backward(struct rlvr_gpu_model *m, const float *d_dlogits, char *err,
                            size_t err_len)
{
    (void)m, (void)d_dlogits;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_forward_hidden(struct rlvr_gpu_model *m, const int32_t *tokens, int B, int T,
                                  struct rlvr_gpu_model_hidden *out, char *err, size_t err_len)
{
    (void)m, (void)tokens, (void)B, (void)T;
    if (out) memset(out, 0, sizeof *out);
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_backward_hidden(struct rlvr_gpu_model *m, const float *d_dh, char *err,
                                   size_t err_len)
{
    (void)m, (void)d_dh;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_adamw_step(struct rlvr_gpu_model *m, const struct rlvr_gpu_adamw_config *c,
                              double lr, double *grad_norm, int *clipped, char *err,
                              size_t err_len)
{
    (void)m, (void)c, (void)lr, (void)grad_norm, (void)clipped;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_download_adamw(const struct rlvr_gpu_model *m, float *m1, float *v,
                                  size_t n_params, long *step, char *err, size_t err_len)
{
    (void)m, (void)m1, (void)v, (void)n_params, (void)step;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_upload_adamw(struct rlvr_gpu_model *m, const float *m1, const float *v,
                                size_t n_params, long step, char *err, size_t err_len)
{
    (void)m, (void)m1, (void)v, (void)n_params, (void)step;
    return no_cuda(err, err_len);
}

const struct rlvr_gpu_model_config *rlvr_gpu_model_config_of(const struct rlvr_gpu_model *m)
{
    (void)m;
    return NULL;
}

int rlvr_gpu_kv_create(struct rlvr_gpu_kv **out, struct rlvr_gpu_model *m, int slots, int max_len,
                       char *err, size_t err_len)
{
    (void)m, (void)slots, (void)max_len;
    if (out) *out = NULL;
    return no_cuda(err, err_len);
}

void rlvr_gpu_kv_free(struct rlvr_gpu_kv *kv)
{
    (void)kv;
}

int rlvr_gpu_kv_copy(struct rlvr_gpu_kv *kv, int from, int to, int len, char *err, size_t err_len)
{
    (void)kv, (void)from, (void)to, (void)len;
    return no_cuda(err, err_len);
}

int rlvr_gpu_model_step(struct rlvr_gpu_model *m, struct rlvr_gpu_kv *kv, int n,
                        const int32_t *tokens, const int *slot, const int *pos,
                        const uint8_t *emit, float *logits, char *err, size_t err_len)
{
    (void)m, (void)kv, (void)n, (void)tokens, (void)slot, (void)pos, (void)emit, (void)logits;
    return no_cuda(err, err_len);
}
