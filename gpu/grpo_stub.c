/*
 * grpo_stub.c -- gpu_grpo.h implemented without CUDA (linked with
 * gpu_stub.c when configure found no CUDA or was told not to use it).
 *
 * Every entry point fails with "built without CUDA" and leaves its outputs
 * untouched; the memory counters read 0 and freeing does nothing (nothing
 * can have been allocated). libc only.
 */
#include "gpu.h"

#include <stdio.h>

static int grpo_stub_fail(char *err, size_t err_len)
{
    if (err && err_len) snprintf(err, err_len, "built without CUDA");
    return -1;
}

int rlvr_gpu_grpo_alloc(void **d_ptr, size_t bytes, char *err, size_t err_len)
{
    (void)bytes;
    if (d_ptr) *d_ptr = NULL;
    return grpo_stub_fail(err, err_len);
}

void rlvr_gpu_grpo_free(void *d_ptr)
{
    (void)d_ptr;
}

int rlvr_gpu_grpo_upload(void *d_dst, const void *src, size_t bytes, char *err, size_t err_len)
{
    (void)d_dst, (void)src, (void)bytes;
    return grpo_stub_fail(err, err_len);
}

int rlvr_gpu_grpo_download(void *dst, const void *d_src, size_t bytes, char *err, size_t err_len)
{
    (void)dst, (void)d_src, (void)bytes;
    return grpo_stub_fail(err, err_len);
}

int rlvr_gpu_grpo_sync(char *err, size_t err_len)
{
    return grpo_stub_fail(err, err_len);
}

void rlvr_gpu_grpo_memory(size_t *in_use, size_t *peak)
{
    if (in_use) *in_use = 0;
    if (peak) *peak = 0;
}

void rlvr_gpu_grpo_memory_reset_peak(void)
{
}

int rlvr_gpu_logprobs(const void *logits, int dtype, const int32_t *tokens, const uint8_t *rows, size_t n,
                      size_t vocab, float temperature, float *logp, float *lse, float *entropy, char *err,
                      size_t err_len)
{
    (void)logits, (void)dtype, (void)tokens, (void)rows, (void)n, (void)vocab, (void)temperature;
    (void)logp, (void)lse, (void)entropy;
    return grpo_stub_fail(err, err_len);
}

int rlvr_gpu_logprobs_dev(const void *d_logits, int dtype, const int32_t *d_tokens, const uint8_t *d_rows,
                          size_t n, size_t vocab, float temperature, float *d_logp, float *d_lse,
                          float *d_entropy, char *err, size_t err_len)
{
    (void)d_logits, (void)dtype, (void)d_tokens, (void)d_rows, (void)n, (void)vocab, (void)temperature;
    (void)d_logp, (void)d_lse, (void)d_entropy;
    return grpo_stub_fail(err, err_len);
}

int rlvr_gpu_logprobs_backward(const void *logits, int dtype, const int32_t *tokens, const uint8_t *rows,
                               const float *lse, const float *dlogp, size_t n, size_t vocab,
                               float temperature, void *dlogits, char *err, size_t err_len)
{
    (void)logits, (void)dtype, (void)tokens, (void)rows, (void)lse, (void)dlogp, (void)n, (void)vocab;
    (void)temperature, (void)dlogits;
    return grpo_stub_fail(err, err_len);
}

int rlvr_gpu_logprobs_backward_dev(const void *d_logits, int dtype, const int32_t *d_tokens,
                                   const uint8_t *d_rows, const float *d_lse, const float *d_dlogp, size_t n,
                                   size_t vocab, float temperature, void *d_dlogits, char *err,
                                   size_t err_len)
{
    (void)d_logits, (void)dtype, (void)d_tokens, (void)d_rows, (void)d_lse, (void)d_dlogp, (void)n;
    (void)vocab, (void)temperature, (void)d_dlogits;
    return grpo_stub_fail(err, err_len);
}

int rlvr_gpu_grpo_loss(const struct rlvr_grpo_config *cfg, const struct rlvr_gpu_grpo_batch *batch,
                       void *dlogits, struct rlvr_gpu_grpo_metrics *metrics, char *err, size_t err_len)
{
    (void)cfg, (void)batch, (void)dlogits, (void)metrics;
    return grpo_stub_fail(err, err_len);
}

int rlvr_gpu_grpo_loss_dev(const struct rlvr_grpo_config *cfg, const struct rlvr_gpu_grpo_batch *batch,
                           void *d_dlogits, struct rlvr_gpu_grpo_metrics *metrics, char *err,
                           size_t err_len)
{
    (void)cfg, (void)batch, (void)d_dlogits, (void)metrics;
    return grpo_stub_fail(err, err_len);
}

int rlvr_gpu_grpo_linear_plan(const struct rlvr_gpu_grpo_batch *batch, const struct rlvr_gpu_grpo_linear *lin,
                              size_t *chunk_rows, size_t *workspace_bytes, char *err, size_t err_len)
{
    (void)batch, (void)lin, (void)chunk_rows, (void)workspace_bytes;
    return grpo_stub_fail(err, err_len);
}

int rlvr_gpu_grpo_linear_loss_dev(const struct rlvr_grpo_config *cfg, const struct rlvr_gpu_grpo_batch *batch,
                                  const struct rlvr_gpu_grpo_linear *lin, struct rlvr_gpu_grpo_metrics *metrics,
                                  char *err, size_t err_len)
{
    (void)cfg, (void)batch, (void)lin, (void)metrics;
    return grpo_stub_fail(err, err_len);
}
