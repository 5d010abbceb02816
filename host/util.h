/*
 * util.h -- small pieces the host is built from: a growable byte buffer,
 * JSON string and number writers, UTF-8 validation, monotonic time.
 *
 * rlvr_buf owns its bytes and keeps them NUL-terminated (the NUL is not
 * counted in len); appending never fails silently: on allocation failure
 * the buffer is marked failed (oom = 1) and later appends do nothing, so a
 * caller checks once at the end.
 */
#ifndef RLVR_UTIL_H
#define RLVR_UTIL_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rlvr_buf {
    char *ptr;
    size_t len, cap;
    int oom;
} rlvr_buf;

void rlvr_buf_free(rlvr_buf *b);
static inline void rlvr_buf_clear(rlvr_buf *b) { b->len = 0; if (b->ptr) b->ptr[0] = 0; }
int rlvr_buf_reserve(rlvr_buf *b, size_t extra);
void rlvr_buf_add(rlvr_buf *b, const void *p, size_t n);
void rlvr_buf_adds(rlvr_buf *b, const char *s);
void rlvr_buf_addc(rlvr_buf *b, char c);
void rlvr_buf_printf(rlvr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rlvr_buf_vprintf(rlvr_buf *b, const char *fmt, va_list ap);
/* A JSON string literal (quotes included) for s[0..n); bytes are copied
 * as they are, so the caller passes valid UTF-8. */
void rlvr_buf_json_string(rlvr_buf *b, const char *s, size_t n);
/* A JSON number: the shortest %.*g that reads back exactly; non-finite
 * values are written as null. */
void rlvr_buf_json_number(rlvr_buf *b, double v);

/* The whole of the file at path ("-": standard input), NUL-terminated,
 * its length in *n; NULL when it cannot be opened or read or memory runs
 * out (errno says which), or past 1 GiB. The caller frees it. */
char *rlvr_read_file(const char *path, size_t *n);

/* 1 when s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF);
 * else 0 and *bad_offset is the offset of the first bad byte. */
int rlvr_utf8_valid(const char *s, size_t n, size_t *bad_offset);

/* Seconds from an arbitrary fixed point (CLOCK_MONOTONIC). */
double rlvr_now(void);

/* Copy at most cap-1 bytes of a printf result into dst, always terminated. */
void rlvr_errf(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
