/*
 * util.c -- buffers, JSON writers, UTF-8 validation and time for the host.
 * See util.h for the contracts; nothing here allocates except rlvr_buf.
 */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void rlvr_buf_free(rlvr_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

int rlvr_buf_reserve(rlvr_buf *b, size_t extra)
{
    if (b->oom) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) { b->oom = 1; return -1; }
        cap *= 2;
    }
    char *p = realloc(b->ptr, cap);
    if (!p) { b->oom = 1; return -1; }
    b->ptr = p;
    b->cap = cap;
    return 0;
}

void rlvr_buf_add(rlvr_buf *b, const void *p, size_t n)
{
    if (rlvr_buf_reserve(b, n)) return;
    if (n) memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = 0;
}

void rlvr_buf_adds(rlvr_buf *b, const char *s) { rlvr_buf_add(b, s, strlen(s)); }

void rlvr_buf_addc(rlvr_buf *b, char c)
{
    if (rlvr_buf_reserve(b, 1)) return;
    b->ptr[b->len++] = c;
    b->ptr[b->len] = 0;
}

void rlvr_buf_vprintf(rlvr_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) { va_end(ap2); return; }
    if ((size_t)n < sizeof small) {
        rlvr_buf_add(b, small, (size_t)n);
    } else if (!rlvr_buf_reserve(b, (size_t)n)) {
        vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void rlvr_buf_printf(rlvr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rlvr_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void rlvr_buf_json_string(rlvr_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (rlvr_buf_reserve(b, n + 2)) return;
    rlvr_buf_addc(b, '"');
    size_t run = 0; /* start of the pending run of plain bytes */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        rlvr_buf_add(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; rlvr_buf_add(b, esc, 2); break;
        case '\\': esc[1] = '\\'; rlvr_buf_add(b, esc, 2); break;
        case '\n': esc[1] = 'n'; rlvr_buf_add(b, esc, 2); break;
        case '\r': esc[1] = 'r'; rlvr_buf_add(b, esc, 2); break;
        case '\t': esc[1] = 't'; rlvr_buf_add(b, esc, 2); break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            rlvr_buf_add(b, esc, 6);
        }
    }
    rlvr_buf_add(b, s + run, n - run);
    rlvr_buf_addc(b, '"');
}

void rlvr_buf_json_number(rlvr_buf *b, double v)
{
    if (!isfinite(v)) { rlvr_buf_add(b, "null", 4); return; }
    if (v == 0) { rlvr_buf_adds(b, signbit(v) ? "-0.0" : "0.0"); return; }
    char s[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(s, sizeof s, "%.*g", prec, v);
        if (strtod(s, NULL) == v) break;
    }
    /* always a float, as Python writes one: 3.0, not 3 */
    if (!strpbrk(s, ".e") && n + 2 < (int)sizeof s) {
        s[n++] = '.';
        s[n++] = '0';
        s[n] = 0;
    }
    rlvr_buf_add(b, s, (size_t)n);
}

int rlvr_utf8_valid(const char *str, size_t n, size_t *bad_offset)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        /* Fast path: eight ASCII bytes at a time. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t need;
        unsigned cp, min;
        if ((c & 0xE0) == 0xC0) { need = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { need = 2; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { need = 3; cp = c & 0x07; min = 0x10000; }
        else goto bad;
        if (i + need >= n) goto bad;
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n || (s[i + k] & 0xC0) != 0x80) goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto bad;
        i += need + 1;
    }
    return 1;
bad:
    if (bad_offset) *bad_offset = i;
    return 0;
}

double rlvr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void rlvr_errf(char *dst, size_t cap, const char *fmt, ...)
{
    if (!dst || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

char *rlvr_read_file(const char *path, size_t *n)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, len = 0;
    char *b = malloc(cap + 1);
    while (b) {
        size_t r = fread(b + len, 1, cap - len, f);
        len += r;
        if (len < cap) {
            if (ferror(f)) {
                free(b);
                b = NULL;
            }
            break;
        }
        char *nb = cap < ((size_t)1 << 30) ? realloc(b, cap * 2 + 1) : NULL;
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    if (f != stdin)
        fclose(f);
    if (b)
        b[len] = 0;
    *n = len;
    return b;
}
