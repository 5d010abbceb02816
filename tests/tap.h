/*
 * tap.h -- a minimal TAP producer for rlvr's C tests (header only).
 *
 * plan(n) or plan_no_plan(); ok(cond, fmt, ...); is_num(got, want, tol, fmt,
 * ...); is_str(got, want, fmt, ...); skip_all(reason) exits 77 after printing
 * a TAP skip plan; done_testing() prints the trailing plan when no plan was
 * given and returns the exit status (0 when every test passed).
 */
#ifndef RLVR_TAP_H
#define RLVR_TAP_H
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned;

static inline void plan(int n) { printf("1..%d\n", n); tap_planned = 1; fflush(stdout); }
static inline void plan_no_plan(void) { tap_planned = 0; }

static inline int tap_vok(int cond, const char *fmt, va_list ap)
{
    tap_n++;
    if (!cond) tap_failed++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

static inline int ok(int cond, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static inline int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = tap_vok(cond, fmt, ap);
    va_end(ap);
    return r;
}

static inline void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static inline int is_num(double got, double want, double tol, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int c = (isnan(got) && isnan(want)) || fabs(got - want) <= tol;
    int r = tap_vok(c, fmt, ap);
    va_end(ap);
    if (!r) diag("  got %.17g, want %.17g (tolerance %g)", got, want, tol);
    return r;
}

static inline int is_str(const char *got, const char *want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int c = got && want ? strcmp(got, want) == 0 : got == want;
    int r = tap_vok(c, fmt, ap);
    va_end(ap);
    if (!r) diag("  got '%s', want '%s'", got ? got : "(null)", want ? want : "(null)");
    return r;
}

static inline void skip_all(const char *reason)
{
    printf("1..0 # SKIP %s\n", reason);
    fflush(stdout);
    exit(77);
}

static inline int done_testing(void)
{
    if (!tap_planned) printf("1..%d\n", tap_n);
    fflush(stdout);
    return tap_failed ? 1 : 0;
}
#endif
