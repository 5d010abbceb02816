/*
 * numeric.h -- what the CPU numeric core's files share (advantage.c,
 * logprob.c, grpo_loss.c, model.c, optim.c, generate.c; checkpoint.c uses
 * it too): their one way of failing. Header-only and libc only, so those
 * files still build alone with a C compiler (tests,
 * gpu/Makefile.standalone). gpu/advantage_check.c keeps its own copy: gpu/
 * may include nothing of host/.
 */
#ifndef RLVR_NUMERIC_H
#define RLVR_NUMERIC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Writes the message into err[err_len] (when there is room) and returns -1,
 * the status every numeric-core function fails with. */
static inline int rlvr_num_fail(char *err, size_t err_len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static inline int rlvr_num_fail(char *err, size_t err_len, const char *fmt, ...)
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
