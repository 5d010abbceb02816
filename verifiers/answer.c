/*
 * answer.c -- locating the final answer inside a model completion.
 *
 * Invariants: every scan is a single forward pass over the input (or a
 * backward search for the last occurrence of a fixed string), pointers
 * returned point into the caller's buffer, and the brace matcher stops at
 * the end of the text: an unbalanced box yields no answer, never an
 * overread.
 */
#include "answer.h"
#include <string.h>

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

void rlvr_answer_trim(const char **ptr, size_t *len)
{
    const char *p = *ptr;
    size_t n = *len;
    while (n && is_space((unsigned char)p[0])) { p++; n--; }
    while (n && is_space((unsigned char)p[n - 1])) n--;
    *ptr = p;
    *len = n;
}

/* Last occurrence of needle in hay[0..n), or NULL. */
static const char *find_last(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || n < m) return NULL;
    for (size_t i = n - m + 1; i-- > 0;)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

static const char *find_first(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || n < m) return NULL;
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

static int find_tag(const char *t, size_t n, rlvr_answer_span *out)
{
    const char *open = find_last(t, n, "<answer>");
    if (!open) return 0;
    const char *body = open + 8;
    const char *close = find_first(body, (size_t)(t + n - body), "</answer>");
    if (!close) return 0;
    out->ptr = body;
    out->len = (size_t)(close - body);
    rlvr_answer_trim(&out->ptr, &out->len);
    return 1;
}

/* After "\boxed" at p: either {balanced} or a space and one token. */
static int box_body(const char *p, const char *end, rlvr_answer_span *out)
{
    if (p < end && *p == '{') {
        int depth = 0;
        for (const char *q = p; q < end; q++) {
            if (*q == '\\' && q + 1 < end) { q++; continue; }
            if (*q == '{') depth++;
            else if (*q == '}' && --depth == 0) {
                out->ptr = p + 1;
                out->len = (size_t)(q - p - 1);
                rlvr_answer_trim(&out->ptr, &out->len);
                return 1;
            }
        }
        return 0;
    }
    if (p < end && *p == ' ') {
        while (p < end && *p == ' ') p++;
        const char *s = p;
        while (p < end && !is_space((unsigned char)*p) && *p != '$') p++;
        if (p == s) return 0;
        out->ptr = s;
        out->len = (size_t)(p - s);
        return 1;
    }
    return 0;
}

static int find_box(const char *t, size_t n, rlvr_answer_span *out)
{
    static const char *const names[] = {"\\boxed", "\\fbox"};
    const char *best = NULL;
    rlvr_answer_span span = {0};
    for (int k = 0; k < 2; k++) {
        size_t m = strlen(names[k]);
        size_t lim = n;
        /* Walk backwards over occurrences until one has a valid body. */
        for (;;) {
            const char *p = find_last(t, lim, names[k]);
            if (!p) break;
            rlvr_answer_span s = {0};
            if (box_body(p + m, t + n, &s)) {
                if (!best || p > best) { best = p; span = s; }
                break;
            }
            lim = (size_t)(p - t);
        }
    }
    if (!best) return 0;
    *out = span;
    return 1;
}

rlvr_answer_rule rlvr_answer_find(const char *text, size_t len, int whole_fallback,
                                  rlvr_answer_span *out)
{
    const char *t = text;
    size_t n = len;
    const char *think_end = find_last(text, len, "</think>");
    if (think_end) {
        t = think_end + 8;
        n = (size_t)(text + len - t);
    }
    out->ptr = NULL;
    out->len = 0;
    out->rule = RLVR_ANSWER_NONE;
    if (find_tag(t, n, out)) {
        /* A box inside the tag is the answer itself. */
        rlvr_answer_span inner;
        if (find_box(out->ptr, out->len, &inner)) *out = inner;
        out->rule = RLVR_ANSWER_TAG;
    } else if (find_box(t, n, out)) {
        out->rule = RLVR_ANSWER_BOXED;
    } else if (whole_fallback) {
        out->ptr = t;
        out->len = n;
        rlvr_answer_trim(&out->ptr, &out->len);
        out->rule = out->len ? RLVR_ANSWER_WHOLE : RLVR_ANSWER_NONE;
    }
    return out->rule;
}

const char *rlvr_answer_rule_name(rlvr_answer_rule rule)
{
    switch (rule) {
    case RLVR_ANSWER_TAG: return "tag";
    case RLVR_ANSWER_BOXED: return "boxed";
    case RLVR_ANSWER_WHOLE: return "whole";
    default: return "none";
    }
}
