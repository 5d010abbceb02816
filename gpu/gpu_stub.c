/*
 * gpu_stub.c -- gpu/gpu.h implemented without CUDA.
 *
 * Linked in place of gpu_host.c and the .cu kernels when configure did not
 * find (or was told not to use) CUDA, so that a build without CUDA is whole:
 * every caller links, rlvr_gpu_available() says 0, rlvr_gpu_describe() says
 * "built without CUDA", and each kernel entry point (and rlvr_cublas_load:
 * there is no cuBLAS to load) returns -1 with that same message, leaving its
 * outputs untouched. libc only.
 */
#include "gpu.h"

#include <stdio.h>

static const char no_cuda[] = "built without CUDA";

static int stub_fail(char *err, size_t err_len)
{
    if (err && err_len) snprintf(err, err_len, "%s", no_cuda);
    return -1;
}

int rlvr_gpu_available(void)
{
    return 0;
}

int rlvr_gpu_describe(char *buf, size_t len)
{
    if (!buf || !len) return -1;
    snprintf(buf, len, "%s", no_cuda);
    return 0;
}

int rlvr_cublas_load(char *err, size_t err_len)
{
    return stub_fail(err, err_len);
}

int rlvr_gpu_group_advantages(const float *rewards, const int32_t *group_index,
                              size_t n, size_t n_groups, int scale, float eps,
                              float *advantages, char *err, size_t err_len)
{
    (void)rewards, (void)group_index, (void)n, (void)n_groups, (void)scale, (void)eps;
    (void)advantages;
    return stub_fail(err, err_len);
}
