/*
 * gpu_fail.h -- the one error formatter of gpu/'s sources (C and CUDA C++):
 * writes a printf-style message into err[err_len] (when there is room for
 * one) and returns -1, gpu.h's failure status. Internal to gpu/: the host
 * never includes it.
 */
#ifndef RLVR_GPU_FAIL_H
#define RLVR_GPU_FAIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline int rlvr_gpu_fail(char *err, size_t err_len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static inline int rlvr_gpu_fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#endif
