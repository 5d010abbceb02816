/*
 * judge_prompt.c -- the judge's prompt templates: parsing once, rendering per
 * sample with the inserted data delimited, escaped and capped.
 *
 * Template text: an optional system section (a first line "[system]", then
 * text up to a line "[user]"), then the user message. Placeholders are
 * {question}, {reference}, {response} and {final_answer}; {{ and }} are
 * literal braces, and any other brace is an error at parse time (so a JSON
 * example in a template must double its braces).
 *
 * Invariants of rendering:
 *  - A field longer than its cap keeps its first and last cap/2 bytes (the
 *    final answer is at the end of a response), cut on UTF-8 boundaries,
 *    with a marker saying how many bytes were left out.
 *  - Inserted data cannot open or close the template's delimiters or speak
 *    for the chat template: every '<' that starts "<|" or a tag named
 *    question, reference, response, final_answer, answer, think, verdict,
 *    judgment or score (opening or closing, any case) is written "&lt;".
 *    Everything else is copied byte for byte.
 *  - Output is NUL-terminated; the sizes are computed before writing, so no
 *    write goes past what was allocated.
 */
#include "judge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct seg {
    int field;                  /* -1: literal */
    size_t off, len;            /* literal: into lit */
} seg;

typedef struct part {
    seg *segs;
    size_t n;
} part;

struct rlvr_judge_template {
    char *lit;
    part sys, user;
    int has_sys;
    int uses[RLVR_JUDGE_N_FIELDS];
};

static const char *const field_names[RLVR_JUDGE_N_FIELDS] = {"question", "reference", "response", "final_answer"};

void rlvr_judge_template_free(rlvr_judge_template *t)
{
    if (!t) return;
    free(t->lit);
    free(t->sys.segs);
    free(t->user.segs);
    free(t);
}

int rlvr_judge_template_uses(const rlvr_judge_template *t, rlvr_judge_field f)
{
    return f >= 0 && f < RLVR_JUDGE_N_FIELDS && t->uses[f];
}

/* Is there a line exactly `word` (CR allowed) at text[i]? Sets *next past it. */
static int line_is(const char *text, size_t len, size_t i, const char *word, size_t *next)
{
    size_t w = strlen(word);
    if (i + w > len || memcmp(text + i, word, w) != 0) return 0;
    size_t j = i + w;
    if (j < len && text[j] == '\r') j++;
    if (j < len && text[j] != '\n') return 0;
    *next = j < len ? j + 1 : j;
    return 1;
}

static int parse_part(rlvr_judge_template *t, const char *text, size_t from, size_t to, part *p, size_t *lit_len,
                      char *err, size_t err_len)
{
    size_t cap = 8;
    p->segs = malloc(cap * sizeof *p->segs);
    if (!p->segs) goto nomem;
    p->n = 0;
    size_t i = from;
    while (i < to) {
        int field = -1;
        size_t start = *lit_len, adv;
        /* a literal run up to the next brace */
        size_t j = i;
        while (j < to && text[j] != '{' && text[j] != '}') j++;
        if (j > i) {
            memcpy(t->lit + *lit_len, text + i, j - i);
            *lit_len += j - i;
            adv = j - i;
        } else if (i + 1 < to && text[i] == text[i + 1]) {
            t->lit[(*lit_len)++] = text[i];
            adv = 2;
        } else if (text[i] == '}') {
            size_t line = 1;
            for (size_t k = 0; k < i; k++) line += text[k] == '\n';
            snprintf(err, err_len, "line %zu: a lone '}' (write }} for a literal brace)", line);
            return -1;
        } else {
            size_t k = i + 1;
            while (k < to && k < i + 40 && text[k] != '}' && text[k] != '{' && text[k] != '\n') k++;
            size_t line = 1;
            for (size_t q = 0; q < i; q++) line += text[q] == '\n';
            if (k >= to || text[k] != '}') {
                snprintf(err, err_len, "line %zu: an unclosed '{' (write {{ for a literal brace)", line);
                return -1;
            }
            for (int f = 0; f < RLVR_JUDGE_N_FIELDS; f++)
                if (strlen(field_names[f]) == k - i - 1 && memcmp(text + i + 1, field_names[f], k - i - 1) == 0)
                    field = f;
            if (field < 0) {
                snprintf(err, err_len,
                         "line %zu: unknown placeholder {%.*s} (known: {question}, {reference}, {response}, "
                         "{final_answer}; {{ and }} for braces)",
                         line, (int)(k - i - 1), text + i + 1);
                return -1;
            }
            t->uses[field] = 1;
            adv = k + 1 - i;
        }
        /* append or extend a segment */
        if (field < 0 && p->n && p->segs[p->n - 1].field < 0) {
            p->segs[p->n - 1].len += *lit_len - start;
        } else {
            if (p->n == cap) {
                cap *= 2;
                seg *s = realloc(p->segs, cap * sizeof *s);
                if (!s) goto nomem;
                p->segs = s;
            }
            p->segs[p->n].field = field;
            p->segs[p->n].off = start;
            p->segs[p->n].len = field < 0 ? *lit_len - start : 0;
            p->n++;
        }
        i += adv;
    }
    return 0;
nomem:
    snprintf(err, err_len, "out of memory");
    return -1;
}

rlvr_judge_template *rlvr_judge_template_parse(const char *text, size_t len, char *err, size_t err_len)
{
    rlvr_judge_template *t = calloc(1, sizeof *t);
    if (!t || !(t->lit = malloc(len + 1))) {
        free(t);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (memchr(text, 0, len)) {
        snprintf(err, err_len, "the template contains a NUL byte");
        goto fail;
    }
    size_t lit_len = 0, body = 0, next;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) body = 3;
    if (line_is(text, len, body, "[system]", &next)) {
        size_t u = next, after = 0;
        int found = 0;
        for (size_t i = next; i <= len; i++) {
            if (i == next || text[i - 1] == '\n') {
                if (line_is(text, len, i, "[user]", &after)) {
                    u = i;
                    found = 1;
                    break;
                }
            }
        }
        if (!found) {
            snprintf(err, err_len, "a [system] section needs a line [user] before the user message");
            goto fail;
        }
        /* the system text, without the newline that ends it */
        size_t end = u;
        if (end > next && text[end - 1] == '\n') end--;
        if (end > next && text[end - 1] == '\r') end--;
        t->has_sys = 1;
        if (parse_part(t, text, next, end, &t->sys, &lit_len, err, err_len)) goto fail;
        body = after;
    }
    if (parse_part(t, text, body, len, &t->user, &lit_len, err, err_len)) goto fail;
    if (!t->uses[RLVR_JUDGE_RESPONSE] && !t->uses[RLVR_JUDGE_FINAL_ANSWER]) {
        snprintf(err, err_len, "the template inserts neither {response} nor {final_answer}");
        goto fail;
    }
    return t;
fail:
    rlvr_judge_template_free(t);
    return NULL;
}

/* ---- rendering ----------------------------------------------------------------------- */

static const char *const reserved[] = {"question", "reference", "response", "final_answer", "answer",
                                       "think", "verdict", "judgment", "score"};

/* Does text[i] (a '<') start something inserted data must not write? */
static int must_escape(const char *s, size_t n, size_t i)
{
    size_t j = i + 1;
    if (j < n && s[j] == '|') return 1;
    if (j < n && s[j] == '/') j++;
    for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++) {
        size_t w = strlen(reserved[r]);
        if (j + w <= n && strncasecmp(s + j, reserved[r], w) == 0) {
            if (j + w == n) return 1;
            char c = s[j + w];
            if (c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\r') return 1;
        }
    }
    return 0;
}

/* Bytes of s[0..n) escaped; writes them when out is not NULL. */
static size_t escape(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<' && must_escape(s, n, i)) {
            if (out) memcpy(out + k, "&lt;", 4);
            k += 4;
        } else {
            if (out) out[k] = s[i];
            k++;
        }
    }
    return k;
}

/* A UTF-8 boundary at or before i (never inside a sequence). */
static size_t back_to_boundary(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    return i;
}

typedef struct piece {
    const char *head;
    size_t head_len;
    const char *tail;           /* NULL when not cut */
    size_t tail_len;
    char marker[64];
    size_t size;                /* escaped bytes in all */
} piece;

static void prepare(piece *p, const char *s, size_t n, size_t cap)
{
    if (!s) n = 0;
    p->head = s;
    p->head_len = n;
    p->tail = NULL;
    p->tail_len = 0;
    p->marker[0] = 0;
    if (cap && n > cap) {
        size_t h = back_to_boundary(s, cap / 2);
        size_t t = back_to_boundary(s, n - cap / 2);
        if (t < h) t = h;
        p->head_len = h;
        p->tail = s + t;
        p->tail_len = n - t;
        snprintf(p->marker, sizeof p->marker, "\n[... %zu bytes left out ...]\n", t - h);
    }
    p->size = escape(p->head, p->head_len, NULL) + strlen(p->marker)
              + (p->tail ? escape(p->tail, p->tail_len, NULL) : 0);
}

static size_t write_piece(const piece *p, char *out)
{
    size_t k = escape(p->head, p->head_len, out);
    size_t m = strlen(p->marker);
    memcpy(out + k, p->marker, m);
    k += m;
    if (p->tail) k += escape(p->tail, p->tail_len, out + k);
    return k;
}

static char *render_part(const rlvr_judge_template *t, const part *pt, const piece pcs[RLVR_JUDGE_N_FIELDS])
{
    size_t n = 1;
    for (size_t i = 0; i < pt->n; i++)
        n += pt->segs[i].field < 0 ? pt->segs[i].len : pcs[pt->segs[i].field].size;
    char *out = malloc(n);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < pt->n; i++) {
        const seg *s = &pt->segs[i];
        if (s->field < 0) {
            memcpy(out + k, t->lit + s->off, s->len);
            k += s->len;
        } else {
            k += write_piece(&pcs[s->field], out + k);
        }
    }
    out[k] = 0;
    return out;
}

int rlvr_judge_template_render(const rlvr_judge_template *t, const char *const fields[RLVR_JUDGE_N_FIELDS],
                               const size_t lens[RLVR_JUDGE_N_FIELDS], const size_t caps[RLVR_JUDGE_N_FIELDS],
                               char **system, char **user, int *truncated)
{
    piece pcs[RLVR_JUDGE_N_FIELDS];
    *truncated = 0;
    for (int f = 0; f < RLVR_JUDGE_N_FIELDS; f++) {
        prepare(&pcs[f], fields[f], fields[f] ? lens[f] : 0, caps[f]);
        if (pcs[f].tail && t->uses[f]) ++*truncated;
    }
    *system = NULL;
    *user = NULL;
    if (t->has_sys && !(*system = render_part(t, &t->sys, pcs))) return -1;
    if (!(*user = render_part(t, &t->user, pcs))) {
        free(*system);
        *system = NULL;
        return -1;
    }
    return 0;
}
