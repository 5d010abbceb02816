/*
 * math_extract.c -- the math verifier's extraction: where in a completion
 * the final answer is, and the cleaning of that answer before parsing.
 *
 * Each source (tag, boxed, final_answer, answer, gsm8k, whole, latex,
 * number) yields candidates, latest first; math.c tries them in the order
 * of options->extract. Multiple-choice letters have their own reader.
 *
 * Invariants: every scan is one forward pass (or a bounded backward walk)
 * over the text, so extraction is linear in the completion's length; spans
 * point into the caller's text or into the arena; brace matching stops at
 * the end of the text; candidate counts are bounded by the caller's array.
 */
#include "math_int.h"

#include <stdio.h>
#include <string.h>

static int is_space(int ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }
static int is_alpha(int ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
static int is_digit(int ch) { return ch >= '0' && ch <= '9'; }
static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

static void trim(const char **s, size_t *n)
{
    while (*n && is_space((unsigned char)(*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_space((unsigned char)(*s)[*n - 1])) (*n)--;
}

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
    const char *end = hay + n - m + 1;
    for (const char *p = hay; p < end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p) return NULL;
        if (memcmp(p, needle, m) == 0) return p;
    }
    return NULL;
}

/* Case-insensitive: last occurrence of an ASCII needle. */
static const char *find_last_ci(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || n < m) return NULL;
    for (size_t i = n - m + 1; i-- > 0;) {
        size_t k = 0;
        while (k < m && lower((unsigned char)hay[i + k]) == (unsigned char)needle[k]) k++;
        if (k == m) return hay + i;
    }
    return NULL;
}

static const char *const source_names[] = {"", "tag", "boxed", "final_answer", "answer", "gsm8k",
                                           "whole", "latex", "number", "choice"};

const char *mx_source_name(int src)
{
    return src > 0 && src < MX_SRC_N ? source_names[src] : "";
}

int mx_extract_order(const char *spec, int *order, char *err, size_t err_len)
{
    int n = 0;
    const char *p = spec;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        const char *s = p;
        while (*p && *p != ',' && *p != ' ' && *p != '+') p++;
        size_t len = (size_t)(p - s);
        int tied = *p == '+';
        if (tied) p++;
        int found = 0;
        for (int k = 1; k < MX_SRC_N - 1; k++)
            if (strlen(source_names[k]) == len && memcmp(source_names[k], s, len) == 0) {
                found = k;
                break;
            }
        if (!found) {
            if (err) snprintf(err, err_len, "unknown place '%.*s' in extract (tag, boxed, final_answer, answer, gsm8k, whole, latex, number)", (int)(len > 40 ? 40 : len), s);
            return -1;
        }
        for (int k = 0; k < n; k++)
            if ((order[k] & 0xff) == found) found = 0;
        if (found && n < MX_SRC_N - 1) order[n++] = found | (tied ? MX_TIED : 0);
    }
    if (n) order[n - 1] &= ~MX_TIED;
    order[n] = 0;
    return n;
}

void mx_after_think(const rlvr_math_options *o, const char **t, size_t *n, int *missing)
{
    *missing = 0;
    if (!o->think_delimiter[0]) return;
    const char *d = find_last(*t, *n, o->think_delimiter);
    if (d) {
        size_t m = strlen(o->think_delimiter);
        *n -= (size_t)(d + m - *t);
        *t = d + m;
    } else if (o->require_think_end) {
        *missing = 1;
    }
}

/* ---- boxes ---------------------------------------------------------- */

typedef struct span {
    const char *b, *e; /* the box command's start and the end after it */
    const char *s;     /* content */
    size_t n;
} span;

/* The body after "\boxed" at p: {balanced} or " token". Unclosed braces run
 * to the end only when allow_open. */
static int box_body(const char *p, const char *end, int allow_open, span *out)
{
    while (p < end && *p == ' ') p++;
    if (p < end && *p == '{') {
        int depth = 0;
        for (const char *q = p; q < end; q++) {
            if (*q == '\\' && q + 1 < end && (q[1] == '{' || q[1] == '}' || q[1] == '\\')) {
                q++;
                continue;
            }
            if (*q == '{') depth++;
            else if (*q == '}' && --depth == 0) {
                out->s = p + 1;
                out->n = (size_t)(q - p - 1);
                out->e = q + 1;
                return 1;
            }
        }
        if (allow_open) {
            out->s = p + 1;
            out->n = (size_t)(end - p - 1);
            out->e = end;
            return 1;
        }
        return 0;
    }
    const char *s = p;
    while (p < end && !is_space((unsigned char)*p) && *p != '$' && *p != '}' && *p != '\\') p++;
    if (p == s) return 0;
    out->s = s;
    out->n = (size_t)(p - s);
    out->e = p;
    return 1;
}

/* Is the text between two boxes a connector ("and", ",", "\quad", a few
 * words without a full stop)? *alt is set when one of its words is "or"
 * (alternatives offered, not a list). */
static int connector(const char *s, size_t n, int *alt)
{
    int words = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.' && i + 1 < n && is_space((unsigned char)s[i + 1])) return 0;
        if (ch == '\n' && i + 1 < n && s[i + 1] == '\n') return 0;
        if (is_alpha(ch)) {
            size_t j = i;
            while (j < n && is_alpha((unsigned char)s[j])) j++;
            /* \quad, \text are markup, not words */
            if (!(i > 0 && s[i - 1] == '\\')) {
                words++;
                if (j - i == 2 && lower(ch) == 'o' && lower((unsigned char)s[i + 1]) == 'r') *alt = 1;
            }
            i = j;
            continue;
        }
        if (ch >= 0x80) words++; /* prose in another script */
        while (i < n && (unsigned char)s[i] >= 0x80) i++;
        if (i < n && (unsigned char)s[i] < 0x80) i++;
    }
    return words <= 4;
}

/* The boxes of t, in order, the last max of them; a box inside another is
 * part of the outer one. One pass: a brace depth and a stack of the boxes
 * still open (linear in n whatever the nesting). With allow_open (gold
 * answers), the first box left open runs to the end of the text. */
#define BOX_STACK 256
static int find_boxes(mx_ctx *c, const char *t, size_t n, int allow_open, span *boxes, int max)
{
    int nb = 0;
    struct open_box { const char *b, *body; long depth; } st[BOX_STACK];
    int ns = 0;
    const char *unclosed = NULL, *unclosed_body = NULL;
    long depth = 0;
    const char *end = t + n;
    for (const char *p = t; p < end; p++) {
        char ch = *p;
        if (ch == '\\') {
            if (p + 1 < end && p[1] == '\\' && ((p + 7 <= end && memcmp(p + 2, "boxed", 5) == 0)
                                               || (p + 6 <= end && memcmp(p + 2, "fbox", 4) == 0)))
                continue; /* "\\\\boxed" (an escaped string): the box at the next backslash */
            if (p + 1 < end && (p[1] == '{' || p[1] == '}' || p[1] == '\\')) {
                p++;
                continue;
            }
            const char *after = NULL;
            if (p + 6 <= end && memcmp(p + 1, "boxed", 5) == 0) after = p + 6;
            else if (p + 5 <= end && memcmp(p + 1, "fbox", 4) == 0) after = p + 5;
            if (!after) continue;
            const char *q = after;
            while (q < end && *q == ' ') q++;
            if (q < end && *q == '{') {
                if (ns == BOX_STACK) {
                    /* boxes nested 256 deep: not an answer anyone reads */
                    c->costly = 1;
                    return 0;
                }
                st[ns].b = p;
                st[ns].body = q + 1;
                st[ns].depth = depth;
                ns++;
                depth++;
                p = q;
                continue;
            }
            /* \boxed 5: one token */
            span sp;
            if (ns == 0 && box_body(after, end, 0, &sp)) {
                sp.b = p;
                if (nb == max) {
                    memmove(boxes, boxes + 1, (size_t)(max - 1) * sizeof *boxes);
                    nb--;
                }
                boxes[nb++] = sp;
                p = sp.e - 1;
            }
            continue;
        }
        if (ch == '{') {
            depth++;
        } else if (ch == '}' && depth > 0) {
            depth--;
            if (ns > 0 && st[ns - 1].depth == depth) {
                ns--;
                if (ns == 0) {
                    /* an outermost box closed: record it */
                    span sp;
                    sp.b = st[0].b;
                    sp.s = st[0].body;
                    sp.n = (size_t)(p - st[0].body);
                    sp.e = p + 1;
                    if (nb == max) {
                        memmove(boxes, boxes + 1, (size_t)(max - 1) * sizeof *boxes);
                        nb--;
                    }
                    boxes[nb++] = sp;
                }
            }
        }
    }
    if (ns > 0) {
        unclosed = st[0].b;
        unclosed_body = st[0].body;
    }
    if (allow_open && unclosed && (nb == 0 || boxes[nb - 1].e <= unclosed)) {
        span sp;
        sp.b = unclosed;
        sp.s = unclosed_body;
        sp.n = (size_t)(end - unclosed_body);
        sp.e = end;
        if (nb == max) {
            memmove(boxes, boxes + 1, (size_t)(max - 1) * sizeof *boxes);
            nb--;
        }
        boxes[nb++] = sp;
    }
    return nb;
}

/* Do two boxes hold the same answer? The same text (spaces aside), or the
 * same answer by the engine's own equivalence, both ways, with variable
 * names strict. */
typedef struct box_answer {
    mx_node *e;
    int tried;
} box_answer;

static mx_node *box_parse(mx_ctx *c, const span *b, box_answer *ba, size_t *budget)
{
    if (ba->tried) return ba->e;
    ba->tried = 1;
    if (b->n > c->o->max_answer_bytes || b->n > *budget) return NULL;
    *budget -= b->n;
    size_t n;
    char *s = mx_clean(c, b->s, b->n, &n);
    if (!s) return NULL;
    char err[8];
    ba->e = mx_parse(c, s, n, err, sizeof err);
    c->costly = 0; /* an answer over the bound is simply not collapsed */
    return ba->e;
}

/* The boxes b[0..nb) that hold different answers: their indices in keep
 * (each the latest box of its answer, in the order the answers first
 * appear); returns how many. Texts are compared first; the engine compares
 * the rest, at most 32 pairs, within one evaluation budget (an eighth of
 * ctx->work_cap for all the pairs together) and a parsing budget (twice
 * max_answer_bytes), so a group of 64 boxes costs at most that: past it,
 * boxes are kept apart. The
 * context (costly flag, work, random state, node count) is left as it was,
 * so the verdict of the answer chosen does not depend on the comparisons
 * made here. */
static int same_boxes(mx_ctx *c, const span *b, int nb, int *keep)
{
    if (nb <= 1) {
        keep[0] = 0;
        return nb;
    }
    int nk = 0, pairs = 0, grp[64], rep[64]; /* rep: each answer's first box, compared */
    box_answer ans[64];
    memset(ans, 0, sizeof ans);
    int costly = c->costly, nodes = c->nodes;
    long work = c->work;
    uint64_t rng = c->rng;
    const rlvr_math_options *o = c->o;
    rlvr_math_options strict = *o;
    strict.strict = 1;
    size_t budget = 2 * o->max_answer_bytes;
    c->work = c->work_cap - c->work_cap / 8; /* an eighth of a check's budget */
    for (int i = 0; i < nb && i < 64; i++) {
        int same = -1;
        const char *s = b[i].s;
        size_t n = b[i].n;
        trim(&s, &n);
        for (int j = 0; j < i && same < 0; j++) {
            /* every spelling seen so far, so that alternating spellings cost
             * one comparison each */
            const char *s2 = b[j].s;
            size_t n2 = b[j].n;
            trim(&s2, &n2);
            if (n == n2 && memcmp(s, s2, n) == 0) same = grp[j];
        }
        for (int j = 0; j < nk && same < 0 && c->work <= c->work_cap && pairs < 32; j++, pairs++) {
            mx_node *x = box_parse(c, &b[i], &ans[i], &budget);
            mx_node *y = box_parse(c, &b[rep[j]], &ans[rep[j]], &budget);
            if (!x || !y) continue;
            const char *rule;
            c->o = &strict;
            c->costly = 0;
            if (mx_compare(c, y, x, &rule) == MX_CMP_EQ && mx_compare(c, x, y, &rule) == MX_CMP_EQ) same = j;
            c->o = o;
        }
        if (same < 0) {
            same = nk++;
            rep[same] = i;
        }
        keep[same] = i;
        grp[i] = same;
    }
    c->costly = costly;
    c->nodes = nodes;
    c->work = work;
    c->rng = rng;
    return nk;
}

/* ---- sentences after an anchor ------------------------------------- */

/* The end of the sentence that starts at s. */
static size_t sentence(const char *s, size_t n)
{
    int depth = 0, dollars = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '{') depth++;
        else if (ch == '}' && depth) depth--;
        else if (ch == '$') dollars ^= 1;
        if (depth || dollars) continue;
        if (ch == '\n' && i + 1 < n && s[i + 1] == '\n') return i;
        if (ch == '.' && (i + 1 == n || is_space((unsigned char)s[i + 1]))) return i;
        if (ch == '\n' && i > 0) {
            /* a single newline ends it when what follows is prose */
            size_t j = i + 1;
            while (j < n && s[j] == ' ') j++;
            if (j < n && is_alpha((unsigned char)s[j]) && j + 1 < n && is_alpha((unsigned char)s[j + 1])) return i;
        }
        if (i + 7 <= n && memcmp(s + i, " I hope", 7) == 0) return i;
    }
    return n;
}

/* The closing delimiter of a math span: an escaped \$ does not close. */
static const char *find_close(const char *s, size_t n, const char *close)
{
    for (;;) {
        const char *e = find_first(s, n, close);
        if (!e || close[0] != '$' || e == s || e[-1] != '\\') return e;
        n -= (size_t)(e + 1 - s);
        s = e + 1;
    }
}

/* The first math span at the start of s: $..$, $$..$$, \(..\), \[..\]. */
static int lead_math(const char *s, size_t n, const char **out, size_t *out_n)
{
    const char *open = NULL, *close = NULL;
    if (n >= 2 && s[0] == '$' && s[1] == '$') open = "$$", close = "$$";
    else if (n >= 1 && s[0] == '$') open = "$", close = "$";
    else if (n >= 2 && s[0] == '\\' && s[1] == '(') open = "\\(", close = "\\)";
    else if (n >= 2 && s[0] == '\\' && s[1] == '[') open = "\\[", close = "\\]";
    if (!open) return 0;
    size_t m = strlen(open);
    const char *e = find_close(s + m, n - m, close);
    if (!e) return 0;
    if (m == 1 || open[1] == '(') {
        /* an inline span does not cross a line */
        if (memchr(s + m, '\n', (size_t)(e - s - m))) return 0;
    }
    *out = s + m;
    *out_n = (size_t)(e - s - m);
    return 1;
}

/* Spans of LaTeX math in t, in order of their ends: up to max (the last
 * ones kept). Inline spans ($..$, \(..\)) do not cross a blank line. */
static int math_spans(mx_ctx *c, const char *t, size_t n, span *sp, int max)
{
    int k = 0;
    size_t i = 0;
    int never[4] = {0, 0, 0, 0}; /* $$, $, \), \]: no closing one after here */
    (void)c;
    while (i < n) {
        const char *s = t + i;
        const char *close = NULL;
        int kind = -1;
        size_t m = 0;
        int inl = 0;
        if (s[0] == '$' && i + 1 < n && s[1] == '$') {
            close = "$$";
            m = 2;
            kind = 0;
        } else if (s[0] == '$' && !(i > 0 && t[i - 1] == '\\')) {
            close = "$";
            m = 1;
            inl = 1;
            kind = 1;
        } else if (s[0] == '\\' && i + 1 < n && s[1] == '(') {
            close = "\\)";
            m = 2;
            inl = 1;
            kind = 2;
        } else if (s[0] == '\\' && i + 1 < n && s[1] == '[') {
            close = "\\]";
            m = 2;
            kind = 3;
        } else if (s[0] == '\\' && i + 1 < n && s[1] == '\\') {
            i += 2;
            continue;
        }
        if (!close) {
            i++;
            continue;
        }
        const char *e = never[kind] ? NULL : find_close(s + m, n - i - m, close);
        if (!e) {
            never[kind] = 1;
            i += m;
            continue;
        }
        size_t len = (size_t)(e - s - m);
        int ok = 1;
        if (inl) {
            const char *nl = memchr(s + m, '\n', len);
            if (nl) ok = 0;
        }
        if (ok) {
            if (k == max) {
                memmove(sp, sp + 1, (size_t)(max - 1) * sizeof *sp);
                k--;
            }
            sp[k].s = s + m;
            sp[k].n = len;
            sp[k].b = s;
            sp[k].e = e + strlen(close);
            k++;
            i = (size_t)(e - t) + strlen(close);
        } else {
            i += m;
        }
    }
    return k;
}

/* Numbers in t (with thousands separators and a/b), in order: the last
 * max, or with first, only the first one. */
static int numbers(mx_ctx *c, const char *t, size_t n, span *sp, int max, int first)
{
    int k = 0;
    size_t i = 0;
    (void)c;
    while (i < n) {
        unsigned char ch = (unsigned char)t[i];
        int starts = is_digit(ch) || (ch == '.' && i + 1 < n && is_digit((unsigned char)t[i + 1]));
        if (!starts || (i > 0 && (is_alpha((unsigned char)t[i - 1]) || t[i - 1] == '_' || t[i - 1] == '^'))) {
            /* not a number's start (or glued to a name: x2, a_1): step over
             * it, always at least one byte */
            i++;
            while (starts && i < n && is_digit((unsigned char)t[i])) i++;
            continue;
        }
        size_t b = i;
        if (b > 0 && t[b - 1] == '-') b--;
        while (i < n && (is_digit((unsigned char)t[i])
                         || ((t[i] == ',' || t[i] == '.') && i + 1 < n && is_digit((unsigned char)t[i + 1]))))
            i++;
        /* a/b */
        if (i + 1 < n && t[i] == '/' && is_digit((unsigned char)t[i + 1])) {
            i++;
            while (i < n && is_digit((unsigned char)t[i])) i++;
        }
        if (k == max) {
            memmove(sp, sp + 1, (size_t)(max - 1) * sizeof *sp);
            k--;
        }
        sp[k].s = t + b;
        sp[k].n = i - b;
        sp[k].e = t + i;
        k++;
        if (first) break;
    }
    return k;
}

static int add_at(mx_cand *out, int k, int max, const char *s, size_t n, int src, size_t at)
{
    trim(&s, &n);
    if (!n || k >= max) return k;
    for (int j = 0; j < k; j++)
        if (out[j].n == n && memcmp(out[j].s, s, n) == 0) return k;
    out[k].s = s;
    out[k].n = n;
    out[k].src = src;
    out[k].at = at;
    out[k].alternatives = 0;
    return k + 1;
}
#define add(out, k, max, s, n, src) add_at(out, k, max, s, n, src, pos)

/* Candidates from the text after an anchor. */
static int anchored(mx_ctx *c, const char *s, size_t n, int src, mx_cand *out, int k, int max, size_t pos)
{
    for (int again = 1; again;) {
        again = 0;
        while (n && (is_space((unsigned char)*s) || *s == ':' || *s == '"' || *s == '*' || *s == '=')) {
            s++;
            n--;
            again = 1;
        }
        if (n >= 2 && s[0] == '\\' && s[1] == '"') {
            s += 2;
            n -= 2;
            again = 1;
        }
        if (n >= 3 && lower((unsigned char)s[0]) == 'i' && lower((unsigned char)s[1]) == 's' && s[2] == ' ') {
            s += 3;
            n -= 3;
            again = 1;
        }
    }
    const char *m;
    size_t mn;
    if (lead_math(s, n, &m, &mn)) {
        /* "$12$ and $13$": spans joined by list words are one answer */
        const char *end = m + mn + 1, *last_end = end;
        int spans = 1;
        for (;;) {
            const char *q = end;
            while (q < s + n && (is_space((unsigned char)*q) || *q == ',' || *q == '"' || *q == '\\')) q++;
            if (q + 3 <= s + n && (memcmp(q, "and", 3) == 0 || memcmp(q, "or ", 3) == 0)) q += q[0] == 'a' ? 3 : 2;
            while (q < s + n && (is_space((unsigned char)*q) || *q == '"')) q++;
            const char *m2;
            size_t mn2;
            if (q == end || !lead_math(q, (size_t)(s + n - q), &m2, &mn2)) break;
            end = m2 + mn2 + 1;
            last_end = end;
            spans++;
        }
        if (spans > 1) k = add(out, k, max, s, (size_t)(last_end - s), src);
        k = add(out, k, max, m, mn, src);
        return k;
    }
    size_t e = sentence(s, n);
    const char *seg = s;
    size_t segn = e;
    /* "The volume of $X$ is 120": after the last " is " / " are " / " = " */
    const char *is = NULL;
    const char *words[] = {" is ", " are ", " was ", " be ", " equals ", " = "};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        const char *f = find_last(seg, segn, words[w]);
        if (f && (!is || f > is)) is = f + strlen(words[w]);
    }
    if (is) {
        size_t rest = (size_t)(seg + segn - is);
        const char *r = is;
        trim(&r, &rest);
        if (lead_math(r, rest, &m, &mn)) k = add(out, k, max, m, mn, src);
        k = add(out, k, max, r, rest, src);
    }
    k = add(out, k, max, seg, segn, src);
    span sp[4];
    int ns = math_spans(c, seg, segn, sp, 4);
    if (ns) k = add(out, k, max, sp[ns - 1].s, sp[ns - 1].n, src);
    /* the last run of ASCII math in a sentence of another script:
     * "每份应该是 (\\frac{2}{5}) 吨" */
    size_t e2 = segn;
    while (e2 > 0) {
        while (e2 > 0 && (unsigned char)seg[e2 - 1] >= 0x80) e2--;
        size_t b2 = e2;
        while (b2 > 0 && (unsigned char)seg[b2 - 1] < 0x80) b2--;
        if (b2 == 0 && e2 == segn) break; /* all ASCII: nothing new */
        int digit = 0;
        for (size_t q = b2; q < e2; q++) digit |= is_digit((unsigned char)seg[q]);
        if (digit) {
            k = add(out, k, max, seg + b2, e2 - b2, src);
            break;
        }
        e2 = b2;
    }
    /* the math that opens the sentence: "\\frac{63}{400} but ..." */
    {
        size_t q = 0, last_good = 0;
        int depth = 0;
        while (q < segn) {
            unsigned char ch = (unsigned char)seg[q];
            if (ch == '{') depth++;
            else if (ch == '}' && depth) depth--;
            if (depth == 0 && ch == ' ') {
                size_t w = q + 1;
                while (w < segn && is_alpha((unsigned char)seg[w])) w++;
                if (w - q - 1 >= 2) break; /* a word: the math ended */
            }
            if (ch >= 0x80 && depth == 0) break;
            if (ch == '\\') {
                q++;
                while (q < segn && is_alpha((unsigned char)seg[q])) q++;
                last_good = q;
                continue;
            }
            q++;
            if (!is_space(ch)) last_good = q;
        }
        int mathy = 0;
        for (size_t r = 0; r < last_good; r++) mathy |= is_digit((unsigned char)seg[r]) || seg[r] == '\\';
        if (mathy && last_good < segn) k = add(out, k, max, seg, last_good, src);
    }
    /* the first number after the anchor: "Answer: 220 $ within 12 months" */
    if (numbers(c, seg, segn, sp, 1, 1)) k = add(out, k, max, sp[0].s, sp[0].n, src);
    return k;
}

int mx_extract(mx_ctx *c, int src, const char *t, size_t n, int is_gold, mx_cand *out, int max)
{
    int k = 0;
    size_t pos = 0;
    switch (src) {
    case MX_SRC_TAG: {
        const char *open = find_last(t, n, "<answer>");
        if (!open) break;
        const char *body = open + 8;
        const char *close = find_first(body, (size_t)(t + n - body), "</answer>");
        if (!close) break;
        pos = (size_t)(close - t);
        size_t bn = (size_t)(close - body);
        span boxes[8];
        int nb = find_boxes(c, body, bn, 0, boxes, 8);
        if (nb) {
            k = add(out, k, max, boxes[nb - 1].s, boxes[nb - 1].n, src);
            break;
        }
        /* "<answer>The answer is 5</answer>" */
        const char *a = find_last_ci(body, bn, "answer is");
        if (a) k = anchored(c, a + 9, (size_t)(body + bn - a - 9), src, out, k, max, pos);
        k = add(out, k, max, body, bn, src);
        break;
    }
    case MX_SRC_BOXED: {
        span boxes[64];
        int nb = find_boxes(c, t, n, is_gold, boxes, 64);
        if (!nb) break;
        pos = (size_t)(boxes[nb - 1].e - t);
        /* join the last box with the ones before it that only a connector
         * separates: \boxed{1}, \boxed{2} and \boxed{3} */
        int first = nb - 1, alt = 0;
        for (;;) {
            int or_word = 0;
            if (!(first > 0 && connector(boxes[first - 1].e, (size_t)(boxes[first].b - boxes[first - 1].e), &or_word)))
                break;
            alt |= or_word;
            first--;
        }
        /* the same answer boxed again is one answer */
        int keep[64];
        int nk = same_boxes(c, boxes + first, nb - first, keep);
        if (nk == 1) {
            k = add(out, k, max, boxes[first + keep[0]].s, boxes[first + keep[0]].n, src);
            break;
        }
        size_t total = 0;
        for (int b = 0; b < nk; b++) total += boxes[first + keep[b]].n + 4;
        char *buf = mx_alloc(&c->arena, total + 1);
        if (!buf) {
            c->costly = 1;
            break;
        }
        size_t w = 0;
        for (int b = 0; b < nk; b++) {
            const span *x = &boxes[first + keep[b]];
            if (b > 0) {
                buf[w++] = ',';
                buf[w++] = ' ';
            }
            buf[w++] = '{';
            memcpy(buf + w, x->s, x->n);
            w += x->n;
            buf[w++] = '}';
        }
        buf[w] = 0;
        int k0 = k;
        k = add(out, k, max, buf, w, src);
        /* different answers joined by "or": offered as alternatives */
        if (k > k0 && alt) out[k - 1].alternatives = 1;
        break;
    }
    case MX_SRC_FINAL: {
        const char *a = find_last_ci(t, n, "final answer");
        if (!a) break;
        pos = (size_t)(a - t);
        const char *s = a + 12;
        size_t rest = (size_t)(t + n - s);
        /* "Final Answer: The final answer is X" */
        const char *again = find_last_ci(s, rest, "final answer is");
        if (again) {
            s = again + 15;
            rest = (size_t)(t + n - s);
        }
        k = anchored(c, s, rest, src, out, k, max, pos);
        break;
    }
    case MX_SRC_ANSWER: {
        static const char *const anchors[] = {"answer is", "answer:", "answer would be", "answer should be",
                                              "réponse est", "réponse :", "réponse:", "respuesta es",
                                              "antwort ist", "答案是", "答案：", "答案:", "答案为",
                                              "answer", NULL};
        const char *best = NULL;
        size_t best_len = 0;
        for (int q = 0; anchors[q]; q++) {
            const char *a = find_last_ci(t, n, anchors[q]);
            if (a && !anchors[q + 1]) {
                /* the bare word "Answer" counts only before math: Answer $9$ */
                const char *f = a + 6;
                while (f < t + n && (*f == ' ' || *f == ':')) f++;
                if (!(f < t + n && (*f == '$' || *f == '\\' || is_digit((unsigned char)*f)))) a = NULL;
            }
            if (a && (!best || a > best || (a == best && strlen(anchors[q]) > best_len))) {
                best = a;
                best_len = strlen(anchors[q]);
            }
        }
        if (!best) break;
        pos = (size_t)(best - t);
        k = anchored(c, best + best_len, (size_t)(t + n - best - best_len), src, out, k, max, pos);
        break;
    }
    case MX_SRC_GSM8K: {
        const char *a = find_last(t, n, "####");
        if (!a) break;
        pos = (size_t)(a - t);
        const char *s = a + 4;
        const char *e = memchr(s, '\n', (size_t)(t + n - s));
        size_t len = e ? (size_t)(e - s) : (size_t)(t + n - s);
        k = add(out, k, max, s, len, src);
        break;
    }
    case MX_SRC_WHOLE:
        pos = n;
        k = add(out, k, max, t, n, src);
        break;
    case MX_SRC_LATEX: {
        span sp[8];
        int ns = math_spans(c, t, n, sp, 8);
        for (int q = ns - 1; q >= 0; q--) {
            pos = (size_t)(sp[q].e - t);
            k = add(out, k, max, sp[q].s, sp[q].n, src);
        }
        break;
    }
    case MX_SRC_NUMBER: {
        span sp[4];
        int nn = numbers(c, t, n, sp, 4, 0);
        if (nn) {
            pos = (size_t)(sp[nn - 1].e - t);
            k = add(out, k, max, sp[nn - 1].s, sp[nn - 1].n, src);
        }
        break;
    }
    default: break;
    }
    return k;
}

/* ---- multiple choice ---------------------------------------------- */

static int letter_at(const char *letters, const char *t, size_t n, size_t i)
{
    unsigned char ch = (unsigned char)t[i];
    if (!strchr(letters, ch) || ch == 0) return 0;
    int before = i == 0 || !is_alpha((unsigned char)t[i - 1]);
    int after = i + 1 >= n || !is_alpha((unsigned char)t[i + 1]);
    return before && after ? ch : 0;
}

int mx_extract_choice(const char *letters, const char *t, size_t n, int is_gold)
{
    /* 1. after an anchor: the first letter */
    static const char *const anchors[] = {"answer is", "answer:", "answer", "réponse est", "réponse",
                                          "答案是", "答案", "option", "choice", NULL};
    const char *best = NULL;
    size_t blen = 0;
    for (int q = 0; anchors[q]; q++) {
        const char *a = find_last_ci(t, n, anchors[q]);
        if (a && (!best || a > best)) {
            best = a;
            blen = strlen(anchors[q]);
        }
    }
    if (best) {
        size_t i = (size_t)(best - t) + blen;
        size_t lim = i + 40 < n ? i + 40 : n;
        for (; i < lim; i++) {
            int ch = letter_at(letters, t, n, i);
            if (ch) return ch;
            if (is_alpha((unsigned char)t[i]) && !(i + 1 < n && is_alpha((unsigned char)t[i + 1]))) {
                /* a word ended: keep looking only past short words (is, be) */
            }
        }
    }
    /* 2. a letter that opens the text: "D. it can't be A", "(D) Alina", "B。" */
    size_t i = 0;
    while (i < n && (is_space((unsigned char)t[i]) || t[i] == '(' || t[i] == '*' || t[i] == '$' || t[i] == '{'))
        i++;
    if (i < n && strchr(letters, t[i]) && t[i]) {
        int after = i + 1 >= n || !is_alpha((unsigned char)t[i + 1]);
        if (after) return (unsigned char)t[i];
    }
    /* 3. a line "(C) Cecile" in a gold, else the last standalone letter */
    int last = 0;
    for (size_t j = 0; j < n; j++) {
        int ch = letter_at(letters, t, n, j);
        if (ch) {
            if (is_gold && j > 0 && t[j - 1] == '(') return ch;
            last = ch;
        }
    }
    return last;
}

/* ---- cleaning ------------------------------------------------------ */

static const struct { const char *from, *to; } utf8_map[] = {
    {"\xe2\x88\x92", "-"}, {"\xe2\x80\x93", "-"}, {"\xe2\x80\x94", "-"}, {"\xc3\x97", "*"},
    {"\xc2\xb7", "*"}, {"\xe2\x8b\x85", "*"}, {"\xc3\xb7", "/"}, {"\xcf\x80", "\\pi "},
    {"\xe2\x88\x9a", "\\sqrt"}, {"\xe2\x88\x9e", "\\infty "}, {"\xe2\x89\xa4", "\\le "},
    {"\xe2\x89\xa5", "\\ge "}, {"\xe2\x89\xa0", "\\ne "}, {"\xc2\xb1", "\\pm "},
    {"\xe2\x88\xaa", "\\cup "}, {"\xc2\xb2", "^2"}, {"\xc2\xb3", "^3"}, {"\xe2\x88\x88", "\\in "},
    {"\xef\xbc\x8c", ","}, {"\xe3\x80\x82", "."}, {"\xef\xbc\x9a", ":"}, {"\xef\xbc\x9b", ";"},
    {"\xef\xbc\x88", "("}, {"\xef\xbc\x89", ")"}, {"\xc2\xa0", " "}, {"\xc2\xb0", ""},
    {"\xe2\x82\xac", ""}, {"\xc2\xa3", ""}, {"\xc2\xa5", ""}, {"\xe2\x80\xb2", "'"},
    {"\xe2\x88\xa9", "\\cap "}, {"\xe2\x89\x88", "\\approx "},
};

char *mx_clean(mx_ctx *c, const char *s, size_t n, size_t *out_n)
{
    /* the output is never more than 3x the input (the UTF-8 map's widest
     * replacement, "\\infty ", is 7 bytes for 3) */
    char *d = mx_alloc(&c->arena, 3 * n + 8);
    if (!d) {
        c->costly = 1;
        return NULL;
    }
    size_t k = 0, i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x80) {
            int done = 0;
            for (size_t m = 0; m < sizeof utf8_map / sizeof utf8_map[0]; m++) {
                size_t fl = strlen(utf8_map[m].from);
                if (i + fl <= n && memcmp(s + i, utf8_map[m].from, fl) == 0) {
                    size_t tl = strlen(utf8_map[m].to);
                    memcpy(d + k, utf8_map[m].to, tl);
                    k += tl;
                    i += fl;
                    done = 1;
                    break;
                }
            }
            if (!done) d[k++] = s[i++];
            continue;
        }
        if (ch == '$') {
            i++;
            continue;
        }
        if (ch == '{') {
            /* 14{,}916 and 14 {, }916: a thousands separator */
            size_t j = i + 1;
            while (j < n && s[j] == ' ') j++;
            if (j < n && s[j] == ',') {
                j++;
                while (j < n && s[j] == ' ') j++;
                if (j < n && s[j] == '}') {
                    while (k && d[k - 1] == ' ') k--;
                    i = j + 1;
                    while (i < n && s[i] == ' ') i++;
                    continue;
                }
            }
        }
        if (ch == '\f' && i + 3 < n && memcmp(s + i + 1, "rac", 3) == 0) {
            /* "\frac" written through a string escape: a form feed and "rac" */
            memcpy(d + k, "\\frac", 5);
            k += 5;
            i += 4;
            continue;
        }
        if (ch == ',' && i + 2 < n && s[i + 1] == '\\' && s[i + 2] == '!') {
            /* 11,\! 111: a thousands separator */
            size_t j = i + 3;
            while (j < n && s[j] == ' ') j++;
            if (k && is_digit((unsigned char)d[k - 1]) && j < n && is_digit((unsigned char)s[j])) {
                i = j;
                continue;
            }
        }
        if (ch == '~') {
            d[k++] = ' ';
            i++;
            continue;
        }
        if (ch == '^' && i + 1 < n) {
            /* degrees: ^\circ, ^{\circ}, ^{\circ}C */
            static const char *const deg[] = {"^\\circ", "^{\\circ}", "^ \\circ", "^{ \\circ }", NULL};
            int done = 0;
            for (int q = 0; deg[q]; q++) {
                size_t dl = strlen(deg[q]);
                if (i + dl <= n && memcmp(s + i, deg[q], dl) == 0) {
                    i += dl;
                    done = 1;
                    break;
                }
            }
            if (done) continue;
        }
        if (ch == '\\' && i + 1 < n) {
            unsigned char nx = (unsigned char)s[i + 1];
            /* "\\frac" (a doubled backslash before a command) is "\frac" */
            if (nx == '\\' && i + 3 < n && is_alpha((unsigned char)s[i + 2]) && is_alpha((unsigned char)s[i + 3])) {
                i++;
                continue;
            }
            if (nx == '$' || nx == '"') {
                i += 2;
                continue;
            }
            if (nx == '\f') {
                i++; /* "\\\frac" mangled: the form feed rule below reads it */
                continue;
            }
            if (nx == '!') {
                i += 2;
                continue;
            }
            if (nx == ',' || nx == ';' || nx == ':' || nx == ' ') {
                /* 1\,000: digits joined; else a space */
                if (nx == ',' && k && is_digit((unsigned char)d[k - 1]) && i + 2 < n && is_digit((unsigned char)s[i + 2])) {
                    size_t j = i + 2, dg = 0;
                    while (j < n && is_digit((unsigned char)s[j])) {
                        j++;
                        dg++;
                    }
                    if (dg == 3) {
                        i += 2;
                        continue;
                    }
                }
                d[k++] = ' ';
                i += 2;
                continue;
            }
            if (is_alpha(nx)) {
                size_t j = i + 1;
                while (j < n && is_alpha((unsigned char)s[j])) j++;
                size_t len = j - i - 1;
                const char *w = s + i + 1;
#define W(lit) (len == sizeof(lit) - 1 && memcmp(w, lit, len) == 0)
                if (W("left") || W("right") || W("bigl") || W("bigr") || W("Bigl") || W("Bigr") || W("big")
                    || W("Big") || W("biggl") || W("biggr")) {
                    i = j;
                    if (i < n && s[i] == '.') i++; /* \left. */
                    continue;
                }
                if (W("quad") || W("qquad") || W("displaystyle") || W("textstyle") || W("hfill")) {
                    d[k++] = ' ';
                    i = j;
                    continue;
                }
                if (W("circ") || W("degree") || W("dollar") || W("euro")) {
                    i = j;
                    continue;
                }
                /* \quadx: a spacing command glued to a letter */
                if (len > 4 && memcmp(w, "quad", 4) == 0 && !(len == 4)) {
                    if (len > 5 && w[0] == 'q' && memcmp(w, "qquad", 5) == 0) {
                        d[k++] = ' ';
                        i += 6;
                        continue;
                    }
                    d[k++] = ' ';
                    i += 5;
                    continue;
                }
#undef W
                memcpy(d + k, s + i, j - i);
                k += j - i;
                i = j;
                continue;
            }
            d[k++] = s[i++];
            d[k++] = s[i++];
            continue;
        }
        d[k++] = s[i++];
    }
    /* trailing punctuation and backslashes */
    while (k && (is_space((unsigned char)d[k - 1]) || d[k - 1] == '.' || d[k - 1] == ',' || d[k - 1] == ';'
                 || (d[k - 1] == '\\' && !(k >= 2 && d[k - 2] == '\\'))))
        k--;
    size_t st = 0;
    while (st < k && is_space((unsigned char)d[st])) st++;
    d[k] = 0;
    *out_n = k - st;
    return d + st;
}
