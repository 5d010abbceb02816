/*
 * format.c -- the format engine (see format.h): normalisation, one linear
 * scan for the four tags, the R1-Zero and R1 rules stated over the tags'
 * positions, open-r1's tag counting, and user patterns through PCRE2.
 *
 * Invariants: every pointer stays inside [text, text + len); the scan visits
 * each byte a bounded number of times (memchr for '<', then at most 9 bytes
 * compared); the rules look only at counts and the first two positions of
 * each tag, so their cost does not grow with the number of tags; nothing
 * here allocates except rlvr_format_regex_* and the string-list parser.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "format.h"

#include <json-c/json.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The first non-whitespace byte of [p, q), or NULL. */
static const char *first_text(const char *p, const char *q)
{
    for (; p < q; p++)
        if (!is_ws((unsigned char)*p)) return p;
    return NULL;
}

static void trim(const char **p, size_t *n)
{
    const char *s = *p;
    size_t k = *n;
    while (k && is_ws((unsigned char)s[0])) { s++; k--; }
    while (k && is_ws((unsigned char)s[k - 1])) k--;
    *p = s;
    *n = k;
}

static void errf(char *err, size_t err_len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void errf(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || !err_len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static const char *const reason_names[RLVR_FMT_N_REASONS] = {
    [RLVR_FMT_OK] = "ok",
    [RLVR_FMT_EMPTY] = "empty",
    [RLVR_FMT_NO_THINK_OPEN] = "no_think_open",
    [RLVR_FMT_TEXT_BEFORE_THINK] = "text_before_think",
    [RLVR_FMT_NESTED_THINK] = "nested_think",
    [RLVR_FMT_NO_THINK_CLOSE] = "no_think_close",
    [RLVR_FMT_REPEATED_THINK] = "repeated_think",
    [RLVR_FMT_ANSWER_INSIDE_THINK] = "answer_inside_think",
    [RLVR_FMT_EMPTY_THINK] = "empty_think",
    [RLVR_FMT_NO_ANSWER_OPEN] = "no_answer_open",
    [RLVR_FMT_TEXT_BEFORE_ANSWER] = "text_before_answer",
    [RLVR_FMT_NESTED_ANSWER] = "nested_answer",
    [RLVR_FMT_NO_ANSWER_CLOSE] = "no_answer_close",
    [RLVR_FMT_REPEATED_ANSWER] = "repeated_answer",
    [RLVR_FMT_EMPTY_ANSWER] = "empty_answer",
    [RLVR_FMT_TEXT_AFTER_ANSWER] = "text_after_answer",
    [RLVR_FMT_EMPTY_SUMMARY] = "empty_summary",
    [RLVR_FMT_MISSING_NEWLINE] = "missing_newline",
};

const char *rlvr_format_allowed_name(unsigned bit_index)
{
    static const char *const names[RLVR_FMT_ALLOWED_N] = {
        "answer_inside_think", "empty_think", "empty_answer", "text_after_answer",
    };
    return bit_index < RLVR_FMT_ALLOWED_N ? names[bit_index] : "unknown";
}

const char *rlvr_format_reason_name(rlvr_format_reason r)
{
    return (unsigned)r < RLVR_FMT_N_REASONS ? reason_names[r] : "unknown";
}

void rlvr_format_opts_default(rlvr_format_opts *o)
{
    memset(o, 0, sizeof *o);
    o->tmpl = RLVR_FORMAT_R1_ZERO;
    o->prefill = RLVR_FORMAT_PREFILL_NO;
}

/* ---- normalisation ---------------------------------------------------------- */

static const char THINK_O[] = "<think>", THINK_C[] = "</think>";
static const char ANSWER_O[] = "<answer>", ANSWER_C[] = "</answer>";
enum { LEN_TO = 7, LEN_TC = 8, LEN_AO = 8, LEN_AC = 9 };

void rlvr_format_normalise(const char *text, size_t len, const rlvr_format_opts *o,
                           rlvr_format_view *out)
{
    const char *b = text, *e = text + len;
    while (b < e && is_ws((unsigned char)*b)) b++;
    out->leading_ws = (size_t)(b - text);
    out->stop_tokens_stripped = 0;
    for (;;) {
        while (e > b && is_ws((unsigned char)e[-1])) e--;
        int hit = 0;
        for (size_t i = 0; i < o->n_stop_tokens && !hit; i++) {
            const rlvr_format_str *t = &o->stop_tokens[i];
            if (t->len && (size_t)(e - b) >= t->len && memcmp(e - t->len, t->ptr, t->len) == 0) {
                e -= t->len;
                hit = 1;
            }
        }
        if (!hit) break;
        out->stop_tokens_stripped++;
    }
    int opens = (size_t)(e - b) >= LEN_TO && memcmp(b, THINK_O, LEN_TO) == 0;
    out->prefilled = o->prefill == RLVR_FORMAT_PREFILL_YES
                     || (o->prefill == RLVR_FORMAT_PREFILL_AUTO && !opens);
    out->begin = b;
    out->end = e;
}

/* ---- the scan ------------------------------------------------------------------ */

typedef struct occ {
    size_t n;
    const char *first, *second;
} occ;

static void occ_add(occ *o, const char *p)
{
    if (o->n == 0) o->first = p;
    else if (o->n == 1) o->second = p;
    o->n++;
}

enum { K_TO, K_TC, K_AO, K_AC };

typedef struct scan {
    occ tag[4];            /* every occurrence of each tag */
    occ ans_after[2];      /* <answer>, </answer> after the first </think> */
    occ ans_before;        /* either answer tag before the first </think> */
} scan;

static void scan_tags(const char *b, const char *e, scan *s)
{
    memset(s, 0, sizeof *s);
    const char *p = b;
    while (p < e && (p = memchr(p, '<', (size_t)(e - p))) != NULL) {
        size_t rem = (size_t)(e - p);
        int kind = -1;
        size_t tl = 1;
        if (rem >= LEN_TO && p[1] == 't') {
            if (memcmp(p, THINK_O, LEN_TO) == 0) { kind = K_TO; tl = LEN_TO; }
        } else if (rem >= LEN_AO && p[1] == 'a') {
            if (memcmp(p, ANSWER_O, LEN_AO) == 0) { kind = K_AO; tl = LEN_AO; }
        } else if (rem >= LEN_TC && p[1] == '/') {
            if (memcmp(p, THINK_C, LEN_TC) == 0) { kind = K_TC; tl = LEN_TC; }
            else if (rem >= LEN_AC && memcmp(p, ANSWER_C, LEN_AC) == 0) { kind = K_AC; tl = LEN_AC; }
        }
        if (kind >= 0) {
            if (kind == K_AO || kind == K_AC) {
                if (s->tag[K_TC].n) occ_add(&s->ans_after[kind - K_AO], p);
                else occ_add(&s->ans_before, p);
            }
            occ_add(&s->tag[kind], p);
        }
        p += tl;
    }
}

/* Length of the newline at p ("\n" or "\r\n"), or 0. */
static size_t nl_at(const char *p, const char *e)
{
    if (p < e && *p == '\n') return 1;
    if (e - p >= 2 && p[0] == '\r' && p[1] == '\n') return 2;
    return 0;
}

/* A newline ends just before p, and it starts at or after lo. */
static int nl_before(const char *p, const char *lo)
{
    if (p - 1 < lo || p[-1] != '\n') return 0;
    return 1;
}

static rlvr_format_reason fail(rlvr_format_result *r, const char *text, rlvr_format_reason why,
                               const char *tag, const char *at)
{
    r->reason = why;
    r->tag = tag;
    r->policy = why == RLVR_FMT_ANSWER_INSIDE_THINK ? "answer_inside_think"
                : why == RLVR_FMT_EMPTY_THINK        ? "empty_think"
                : why == RLVR_FMT_EMPTY_ANSWER       ? "empty_answer"
                : why == RLVR_FMT_TEXT_AFTER_ANSWER  ? "text_after_answer"
                : why == RLVR_FMT_MISSING_NEWLINE    ? "newlines"
                                                     : NULL;
    r->offset = at ? (size_t)(at - text) : SIZE_MAX;
    return why;
}

rlvr_format_reason rlvr_format_check(const char *text, size_t len, const rlvr_format_opts *o,
                                     rlvr_format_result *r)
{
    memset(r, 0, sizeof *r);
    r->offset = SIZE_MAX;
    if (!text) { text = ""; len = 0; }
    rlvr_format_normalise(text, len, o, &r->view);
    const char *b = r->view.begin, *e = r->view.end;
    int pre = r->view.prefilled, zero = o->tmpl == RLVR_FORMAT_R1_ZERO;

    scan s;
    scan_tags(b, e, &s);
    r->tags_expected = (pre ? 0u : 1u) + 1u + (zero ? 2u : 0u);
    r->tags_once = (!pre && s.tag[K_TO].n == 1) + (s.tag[K_TC].n == 1);
    if (zero) r->tags_once += (s.tag[K_AO].n == 1) + (s.tag[K_AC].n == 1);

    if (b == e) return fail(r, text, RLVR_FMT_EMPTY, NULL, NULL);

    /* The think block. */
    const char *o1, *o2, *think;
    if (pre) {
        o1 = b;
        think = b;
        o2 = s.tag[K_TO].n ? s.tag[K_TO].first : NULL;
    } else {
        if (!s.tag[K_TO].n) return fail(r, text, RLVR_FMT_NO_THINK_OPEN, THINK_O, NULL);
        o1 = s.tag[K_TO].first;
        think = o1 + LEN_TO;
        o2 = s.tag[K_TO].n >= 2 ? s.tag[K_TO].second : NULL;
        const char *junk = first_text(b, o1);
        if (junk) return fail(r, text, RLVR_FMT_TEXT_BEFORE_THINK, THINK_O, junk);
    }
    const char *c1 = s.tag[K_TC].n ? s.tag[K_TC].first : NULL;
    if (o2 && (!c1 || o2 < c1)) return fail(r, text, RLVR_FMT_NESTED_THINK, THINK_O, o2);
    if (!c1) return fail(r, text, RLVR_FMT_NO_THINK_CLOSE, THINK_C, pre ? NULL : o1);
    if (o2) return fail(r, text, RLVR_FMT_REPEATED_THINK, THINK_O, o2);
    if (s.tag[K_TC].n >= 2) return fail(r, text, RLVR_FMT_REPEATED_THINK, THINK_C, s.tag[K_TC].second);
    r->think = think;
    r->think_len = (size_t)(c1 - think);
    trim(&r->think, &r->think_len);

    if (zero && s.ans_before.n) {
        r->allowed |= RLVR_FMT_ALLOWED_ANSWER_INSIDE_THINK;
        if (!o->allow_answer_inside_think)
            return fail(r, text, RLVR_FMT_ANSWER_INSIDE_THINK,
                        *s.ans_before.first == '<' && s.ans_before.first[1] == '/' ? ANSWER_C : ANSWER_O,
                        s.ans_before.first);
    }
    if (r->think_len == 0) {
        r->allowed |= RLVR_FMT_ALLOWED_EMPTY_THINK;
        if (!o->allow_empty_think) return fail(r, text, RLVR_FMT_EMPTY_THINK, THINK_C, c1);
    }
    const char *after = c1 + LEN_TC;

    if (!zero) {
        r->answer = after;
        r->answer_len = (size_t)(e - after);
        trim(&r->answer, &r->answer_len);
        if (!r->answer_len) return fail(r, text, RLVR_FMT_EMPTY_SUMMARY, THINK_C, c1);
        if (o->strict_newlines) {
            size_t k = pre ? 0 : nl_at(think, e);
            if (!pre && !k) return fail(r, text, RLVR_FMT_MISSING_NEWLINE, THINK_O, o1);
            if (!nl_before(c1, think + k) || !nl_at(after, e))
                return fail(r, text, RLVR_FMT_MISSING_NEWLINE, THINK_C, c1);
        }
        r->reason = RLVR_FMT_OK;
        return RLVR_FMT_OK;
    }

    /* The answer block. */
    const occ *A = &s.ans_after[0], *Z = &s.ans_after[1];
    if (!A->n) return fail(r, text, RLVR_FMT_NO_ANSWER_OPEN, ANSWER_O, NULL);
    const char *a1 = A->first;
    const char *junk = first_text(after, a1);
    if (junk) return fail(r, text, RLVR_FMT_TEXT_BEFORE_ANSWER, ANSWER_O, junk);
    const char *z1 = Z->n ? Z->first : NULL; /* after a1: else it was junk before it */
    const char *a2 = A->n >= 2 ? A->second : NULL;
    if (a2 && (!z1 || a2 < z1)) return fail(r, text, RLVR_FMT_NESTED_ANSWER, ANSWER_O, a2);
    if (!z1) return fail(r, text, RLVR_FMT_NO_ANSWER_CLOSE, ANSWER_C, a1);
    if (a2) return fail(r, text, RLVR_FMT_REPEATED_ANSWER, ANSWER_O, a2);
    if (Z->n >= 2) return fail(r, text, RLVR_FMT_REPEATED_ANSWER, ANSWER_C, Z->second);
    const char *ans = a1 + LEN_AO;
    r->answer = ans;
    r->answer_len = (size_t)(z1 - ans);
    trim(&r->answer, &r->answer_len);
    if (!r->answer_len) {
        r->allowed |= RLVR_FMT_ALLOWED_EMPTY_ANSWER;
        if (!o->allow_empty_answer) return fail(r, text, RLVR_FMT_EMPTY_ANSWER, ANSWER_C, z1);
    }
    const char *tail = z1 + LEN_AC;
    junk = first_text(tail, e);
    if (junk) {
        r->allowed |= RLVR_FMT_ALLOWED_TEXT_AFTER_ANSWER;
        if (!o->allow_text_after_answer) return fail(r, text, RLVR_FMT_TEXT_AFTER_ANSWER, ANSWER_C, junk);
    }
    if (o->strict_newlines) {
        /* open-r1: ^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer> */
        size_t k = pre ? 0 : nl_at(think, e);
        if (!pre && !k) return fail(r, text, RLVR_FMT_MISSING_NEWLINE, THINK_O, o1);
        size_t k2 = nl_at(after, e);
        if (!nl_before(c1, think + k) || !k2) return fail(r, text, RLVR_FMT_MISSING_NEWLINE, THINK_C, c1);
        if (after + k2 != a1) return fail(r, text, RLVR_FMT_MISSING_NEWLINE, ANSWER_O, a1);
        size_t k3 = nl_at(ans, e);
        if (!k3) return fail(r, text, RLVR_FMT_MISSING_NEWLINE, ANSWER_O, a1);
        if (!nl_before(z1, ans + k3)) return fail(r, text, RLVR_FMT_MISSING_NEWLINE, ANSWER_C, z1);
    }
    r->reason = RLVR_FMT_OK;
    return RLVR_FMT_OK;
}

/* ---- look-alikes ------------------------------------------------------------------ */

static int iprefix(const char *p, const char *e, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(e - p) < n) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (c != (unsigned char)word[i]) return 0;
    }
    return 1;
}

static int exact_tag(const char *p, const char *e)
{
    size_t rem = (size_t)(e - p);
    return (rem >= LEN_TO && memcmp(p, THINK_O, LEN_TO) == 0) || (rem >= LEN_TC && memcmp(p, THINK_C, LEN_TC) == 0)
           || (rem >= LEN_AO && memcmp(p, ANSWER_O, LEN_AO) == 0)
           || (rem >= LEN_AC && memcmp(p, ANSWER_C, LEN_AC) == 0);
}

size_t rlvr_format_lookalike(const char *text, size_t len, size_t *n)
{
    const char *e = text + len;
    for (const char *p = text; p < e; p++) {
        const char *q;
        if (*p == '<') q = p + 1;
        else if (*p == '&' && iprefix(p, e, "&lt;")) q = p + 4;
        else continue;
        if (q < e && *q == '/') q++;
        if (!iprefix(q, e, "think") && !iprefix(q, e, "answer")) continue;
        if (*p == '<' && exact_tag(p, e)) continue;
        size_t k = (size_t)(e - p);
        if (n) *n = k < 16 ? k : 16;
        return (size_t)(p - text);
    }
    return SIZE_MAX;
}

/* ---- open-r1's tag_count ------------------------------------------------------- */

const char *const rlvr_tag_count_strings[RLVR_TAG_COUNT_N] = {
    "<think>\n", "\n</think>\n", "\n<answer>\n", "\n</answer>",
};

void rlvr_tag_count(const char *text, size_t len, size_t counts[RLVR_TAG_COUNT_N])
{
    for (int i = 0; i < RLVR_TAG_COUNT_N; i++) {
        const char *needle = rlvr_tag_count_strings[i];
        size_t m = strlen(needle), c = 0;
        const char *p = text, *e = text + len;
        while ((size_t)(e - p) >= m) {
            const char *q = memmem(p, (size_t)(e - p), needle, m);
            if (!q) break;
            c++;
            p = q + m; /* non-overlapping, as str.count */
        }
        counts[i] = c;
    }
}

size_t rlvr_format_normalise_copy(const char *text, size_t len, const rlvr_format_opts *o,
                                  char *dst, int *prefilled)
{
    rlvr_format_view v;
    rlvr_format_normalise(text, len, o, &v);
    size_t k = 0;
    if (v.prefilled) {
        memcpy(dst, "<think>\n", 8);
        k = 8;
    }
    for (const char *p = v.begin; p < v.end; p++) {
        if (*p == '\r' && p + 1 < v.end && p[1] == '\n') continue;
        dst[k++] = *p;
    }
    if (prefilled) *prefilled = v.prefilled;
    return k;
}

/* ---- user patterns ------------------------------------------------------------------ */

struct rlvr_format_regex {
    pcre2_code *code;
    pcre2_match_context *mctx; /* limits only; read-only once built, so shared by threads */
    int jit;
};

rlvr_format_regex *rlvr_format_regex_new(const char *pattern, size_t len, uint32_t match_limit,
                                         uint32_t depth_limit, uint32_t heap_limit_kib,
                                         char *err, size_t err_len)
{
    rlvr_format_regex *re = calloc(1, sizeof *re);
    if (!re) { errf(err, err_len, "out of memory"); return NULL; }
    int code;
    PCRE2_SIZE off;
    re->code = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        errf(err, err_len, "%s at offset %zu of the pattern", (const char *)msg, (size_t)off);
        free(re);
        return NULL;
    }
    re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    re->mctx = pcre2_match_context_create(NULL);
    if (!re->mctx) {
        errf(err, err_len, "out of memory");
        rlvr_format_regex_free(re);
        return NULL;
    }
    pcre2_set_match_limit(re->mctx, match_limit);
    pcre2_set_depth_limit(re->mctx, depth_limit);
    pcre2_set_heap_limit(re->mctx, heap_limit_kib);
    return re;
}

void rlvr_format_regex_free(rlvr_format_regex *re)
{
    if (!re) return;
    pcre2_match_context_free(re->mctx);
    pcre2_code_free(re->code);
    free(re);
}

rlvr_format_match rlvr_format_regex_match(const rlvr_format_regex *re, const char *subject,
                                          size_t len, char *err, size_t err_len)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) { errf(err, err_len, "out of memory"); return RLVR_FORMAT_FAILED; }
    if (!subject) subject = "";
    int rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, md, re->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter, under the depth limit */
        rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, PCRE2_NO_JIT, md, re->mctx);
    pcre2_match_data_free(md);
    if (rc >= 0) return RLVR_FORMAT_MATCH;
    if (rc == PCRE2_ERROR_NOMATCH) return RLVR_FORMAT_NOMATCH;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT
        || rc == PCRE2_ERROR_JIT_STACKLIMIT)
        return RLVR_FORMAT_LIMIT;
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    errf(err, err_len, "PCRE2: %s", (const char *)msg);
    return RLVR_FORMAT_FAILED;
}

/* ---- a JSON list of strings ------------------------------------------------------------ */

int rlvr_format_parse_string_list(const char *json, size_t len, rlvr_format_str **out, size_t *n,
                                  char *err, size_t err_len)
{
    *out = NULL;
    *n = 0;
    json_tokener *tok = json_tokener_new();
    if (!tok) { errf(err, err_len, "out of memory"); return -1; }
    json_object *v = json_tokener_parse_ex(tok, json ? json : "", (int)(json ? len : 0));
    int bad = json_tokener_get_error(tok) != json_tokener_success;
    json_tokener_free(tok);
    if (bad || !v) {
        json_object_put(v);
        /* an empty Lua table arrives as {} */
        errf(err, err_len, "expected a list of strings");
        return -1;
    }
    if (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 0) {
        json_object_put(v);
        return 0;
    }
    if (!json_object_is_type(v, json_type_array)) {
        json_object_put(v);
        errf(err, err_len, "expected a list of strings");
        return -1;
    }
    size_t k = json_object_array_length(v), bytes = 0;
    if (k > 256) {
        json_object_put(v);
        errf(err, err_len, "at most 256 strings, got %zu", k);
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        json_object *s = json_object_array_get_idx(v, i);
        if (!json_object_is_type(s, json_type_string)) {
            json_object_put(v);
            errf(err, err_len, "item %zu is not a string", i + 1);
            return -1;
        }
        size_t m = (size_t)json_object_get_string_len(s);
        if (m == 0 || m > 1024) {
            json_object_put(v);
            errf(err, err_len, "item %zu: a string of 1 to 1024 bytes is needed, got %zu", i + 1, m);
            return -1;
        }
        bytes += m + 1;
    }
    rlvr_format_str *arr = malloc(k * sizeof *arr + bytes + 1);
    if (!arr) {
        json_object_put(v);
        errf(err, err_len, "out of memory");
        return -1;
    }
    char *dst = (char *)(arr + k);
    for (size_t i = 0; i < k; i++) {
        json_object *s = json_object_array_get_idx(v, i);
        size_t m = (size_t)json_object_get_string_len(s);
        memcpy(dst, json_object_get_string(s), m);
        dst[m] = '\0';
        arr[i].ptr = dst;
        arr[i].len = m;
        dst += m + 1;
    }
    json_object_put(v);
    *out = arr;
    *n = k;
    return 0;
}
