/*
 * reader.c -- JSON Lines in large blocks, handed out in place (reader.h).
 *
 * Invariants: buf[pos..len) holds bytes not yet handed out, starting at a
 * line start; lineno counts the lines before pos; lines handed out point
 * into buf, which is not moved or grown until the next call.
 */
#include "reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define BLOCK ((size_t)1 << 22)

void rlvr_reader_init(rlvr_reader *r, FILE *f)
{
    memset(r, 0, sizeof *r);
    r->f = f;
}

void rlvr_reader_free(rlvr_reader *r)
{
    free(r->buf);
    free(r->lines);
    free(r->offs);
    memset(r, 0, sizeof *r);
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* Read one more block at the end of buf, first moving the bytes from
 * *start on to the front when room runs out (offsets relative to *start stay
 * true). Returns 1 when bytes came, 0 at the end, -1 without memory. */
static int fill(rlvr_reader *r, size_t *start, size_t *scan)
{
    if (r->eof) return 0;
    if (r->cap - r->len < BLOCK && *start > 0) {
        memmove(r->buf, r->buf + *start, r->len - *start);
        r->len -= *start;
        *scan -= *start;
        *start = 0;
    }
    if (r->cap - r->len < BLOCK) {
        size_t cap = r->cap ? r->cap : BLOCK;
        while (cap - r->len < BLOCK) cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b) return -1;
        r->buf = b;
        r->cap = cap;
    }
    size_t got = fread(r->buf + r->len, 1, BLOCK, r->f);
    r->len += got;
    if (got == 0) {
        if (ferror(r->f)) r->error = errno ? errno : EIO;
        r->eof = 1;
    }
    return got > 0;
}

ssize_t rlvr_reader_next(rlvr_reader *r, size_t max_lines, size_t max_bytes, const rlvr_line **out)
{
    size_t start = r->pos, scan = r->pos, n = 0;
    int64_t lineno = r->lineno;
    while (n < max_lines && (n == 0 || scan - start < max_bytes)) {
        char *nl = scan < r->len ? memchr(r->buf + scan, '\n', r->len - scan) : NULL;
        size_t end;
        if (nl) {
            end = (size_t)(nl - r->buf);
        } else {
            int f = fill(r, &start, &scan);
            if (f < 0) return -1;
            if (f > 0) continue;
            if (scan >= r->len) break;   /* the end */
            end = r->len;                /* a last line without newline */
        }
        lineno++;
        const char *p = r->buf + scan;
        size_t len = end - scan;
        if (len && p[len - 1] == '\r') len--;
        if (lineno == 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) { p += 3; len -= 3; }
        scan = nl ? end + 1 : end;
        if (blank(p, len)) continue;
        if (n == r->cap_lines) {
            size_t cap = r->cap_lines ? r->cap_lines * 2 : 1024;
            rlvr_line *l = realloc(r->lines, cap * sizeof *l);
            if (l) r->lines = l;
            size_t *o = realloc(r->offs, cap * sizeof *o);
            if (o) r->offs = o;
            if (!l || !o) return -1;
            r->cap_lines = cap;
        }
        /* An offset from the slice's start for now: the bytes may move. */
        r->lines[n].len = len;
        r->lines[n].line = lineno;
        r->offs[n] = (size_t)(p - r->buf) - start;
        n++;
    }
    for (size_t i = 0; i < n; i++) r->lines[i].ptr = r->buf + start + r->offs[i];
    r->pos = scan;
    r->lineno = lineno;
    *out = r->lines;
    return (ssize_t)n;
}

void rlvr_reader_unread(rlvr_reader *r, const rlvr_line *first)
{
    r->pos = (size_t)(first->ptr - r->buf);
    r->lineno = first->line - 1;
}
