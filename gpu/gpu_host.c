/*
 * gpu_host.c -- the parts of gpu/gpu.h that need only the CUDA runtime API
 * (no kernels): how many devices there are and a one-line description.
 *
 * Plain C, compiled by the C compiler against cuda_runtime_api.h (no nvcc):
 * the kernels live in the .cu files. Nothing here changes the runtime's
 * state (the current device stays as the caller left it); any runtime error
 * reads as "no device", never as a failure of the caller.
 */
#include "gpu.h"

#include <cuda_runtime_api.h>
#include <stdarg.h>
#include <stdio.h>

int rlvr_gpu_available(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        (void)cudaGetLastError(); /* a non-sticky error: clear it for the caller */
        return 0;
    }
    return count > 0 ? count : 0;
}

/* Appends printf-style text at buf[*at] within buf[len], keeping *at at the
 * end of what fits (truncation is silent: a description is informative). */
static void append(char *buf, size_t len, size_t *at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void append(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
    if (*at + 1 >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *at, len - *at, fmt, ap);
    va_end(ap);
    if (w < 0) return;
    *at = (size_t)w >= len - *at ? len - 1 : *at + (size_t)w;
}

int rlvr_gpu_describe(char *buf, size_t len)
{
    if (!buf || !len) return -1;
    buf[0] = '\0';
    size_t at = 0;
    int rt = 0;
    if (cudaRuntimeGetVersion(&rt) != cudaSuccess) rt = 0;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count <= 0) {
        append(buf, len, &at, "CUDA %d.%d runtime, no device", rt / 1000, rt % 1000 / 10);
        if (e != cudaSuccess) append(buf, len, &at, " (%s)", cudaGetErrorString(e));
        (void)cudaGetLastError();
        return 0;
    }
    append(buf, len, &at, "CUDA %d.%d, %d device%s:", rt / 1000, rt % 1000 / 10, count,
           count == 1 ? "" : "s");
    for (int d = 0; d < count; d++) {
        struct cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, d) != cudaSuccess) {
            (void)cudaGetLastError();
            append(buf, len, &at, "%s device %d (properties unreadable)", d ? ";" : "", d);
            continue;
        }
        append(buf, len, &at, "%s %s (sm_%d%d, %.0f GiB)", d ? ";" : "", p.name, p.major,
               p.minor, (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    }
    return 0;
}
