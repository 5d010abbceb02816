/*
 * judge_verdict.c -- reading a chat-completions reply and the judge's verdict
 * in it.
 *
 * Invariants:
 *  - The verdict is read only from the judge's final answer: the message
 *    content after its last </think>. reasoning_content (or `reasoning`) is
 *    noted, never read, and a <think> that is never closed leaves no final
 *    answer. Where several verdicts appear, the last one counts, so a judge
 *    that quotes the response (and a verdict forged inside it) before giving
 *    its own is read right.
 *  - Labels are compared whole, after trimming spaces and surrounding
 *    punctuation and folding ASCII case: "incorrect" is never read as
 *    "correct", "Yes." is "yes".
 *  - JSON objects are found by trying to parse at each '{' and, on success,
 *    jumping past the object, so objects nested in strings or in other
 *    objects are not mistaken for the verdict; at most MAX_JSON_TRIES parses
 *    are attempted, so no reply makes this quadratic without bound.
 *  - Regular expressions run with PCRE2 match and depth limits; a regex that
 *    hits them finds nothing (unparseable), never hangs.
 */
#include "judge.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <json-c/json.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_JSON_TRIES 512
#define MAX_LABELS 16

struct rlvr_judge_parser {
    rlvr_judge_verdict_kind kind;
    char key[64];
    pcre2_code *re;
    pcre2_match_context *mctx;
    char pos[MAX_LABELS][32], neg[MAX_LABELS][32];
    int n_pos, n_neg;
    double smin, smax;
};

/* ---- replies ----------------------------------------------------------------------- */

void rlvr_judge_reply_clear(rlvr_judge_reply *r)
{
    free(r->content);
    for (size_t i = 0; i < r->n_tokens; i++) {
        free(r->tokens[i].text);
        for (size_t k = 0; k < r->tokens[i].n_top; k++) free(r->tokens[i].top[k].text);
        free(r->tokens[i].top);
    }
    free(r->tokens);
    memset(r, 0, sizeof *r);
}

static char *dup_len(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int read_logprobs(json_object *choice, rlvr_judge_reply *out)
{
    json_object *lp, *content;
    if (!json_object_object_get_ex(choice, "logprobs", &lp) || !json_object_is_type(lp, json_type_object)
        || !json_object_object_get_ex(lp, "content", &content) || !json_object_is_type(content, json_type_array))
        return 0;
    size_t n = json_object_array_length(content);
    if (n == 0) return 0;
    out->tokens = calloc(n, sizeof *out->tokens);
    if (!out->tokens) return -1;
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(content, i), *tok, *lpv, *top;
        if (!json_object_is_type(t, json_type_object) || !json_object_object_get_ex(t, "token", &tok)
            || !json_object_is_type(tok, json_type_string))
            break;
        struct rlvr_judge_token *dst = &out->tokens[out->n_tokens];
        if (!(dst->text = dup_len(json_object_get_string(tok), (size_t)json_object_get_string_len(tok)))) return -1;
        dst->len = (size_t)json_object_get_string_len(tok);
        dst->logprob = json_object_object_get_ex(t, "logprob", &lpv) ? json_object_get_double(lpv) : -INFINITY;
        out->n_tokens++;
        if (json_object_object_get_ex(t, "top_logprobs", &top) && json_object_is_type(top, json_type_array)) {
            size_t m = json_object_array_length(top);
            if (m > 64) m = 64;
            if (m && !(dst->top = calloc(m, sizeof *dst->top))) return -1;
            for (size_t k = 0; k < m; k++) {
                json_object *a = json_object_array_get_idx(top, k), *at, *al;
                if (!json_object_is_type(a, json_type_object) || !json_object_object_get_ex(a, "token", &at)
                    || !json_object_is_type(at, json_type_string))
                    continue;
                struct rlvr_judge_alt *alt = &dst->top[dst->n_top];
                alt->len = (size_t)json_object_get_string_len(at);
                if (!(alt->text = dup_len(json_object_get_string(at), alt->len))) return -1;
                alt->logprob = json_object_object_get_ex(a, "logprob", &al) ? json_object_get_double(al) : -INFINITY;
                dst->n_top++;
            }
        }
    }
    return 0;
}

int rlvr_judge_reply_parse(const char *body, size_t len, rlvr_judge_reply *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    json_object *root = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    int rc = -1;
    if (!root || jerr != json_tokener_success) {
        snprintf(err, err_len, "the reply is not JSON (%s)",
                 jerr == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(jerr));
        goto out;
    }
    while (end < len && (body[end] == ' ' || body[end] == '\n' || body[end] == '\r' || body[end] == '\t')) end++;
    if (end != len) {
        snprintf(err, err_len, "the reply has text after its JSON value (byte %zu)", end);
        goto out;
    }
    json_object *choices, *choice, *msg, *v;
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(err, err_len, "the reply is not a JSON object");
        goto out;
    }
    if (json_object_object_get_ex(root, "error", &v) && !json_object_object_get_ex(root, "choices", &choices)) {
        json_object *m;
        const char *what = json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "message", &m)
                               ? json_object_get_string(m)
                               : json_object_get_string(v);
        snprintf(err, err_len, "the server replied with an error: %.120s", what ? what : "");
        goto out;
    }
    if (!json_object_object_get_ex(root, "choices", &choices) || !json_object_is_type(choices, json_type_array)
        || json_object_array_length(choices) == 0) {
        snprintf(err, err_len, "the reply has no choices");
        goto out;
    }
    choice = json_object_array_get_idx(choices, 0);
    if (!json_object_is_type(choice, json_type_object) || !json_object_object_get_ex(choice, "message", &msg)
        || !json_object_is_type(msg, json_type_object)) {
        snprintf(err, err_len, "the reply's first choice has no message");
        goto out;
    }
    if (json_object_object_get_ex(choice, "finish_reason", &v) && json_object_is_type(v, json_type_string))
        snprintf(out->finish_reason, sizeof out->finish_reason, "%s", json_object_get_string(v));
    if ((json_object_object_get_ex(msg, "reasoning_content", &v) || json_object_object_get_ex(msg, "reasoning", &v))
        && !json_object_is_type(v, json_type_null))
        out->has_reasoning = 1;
    const char *content = "";
    size_t clen = 0;
    if (json_object_object_get_ex(msg, "content", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_string)) {
            snprintf(err, err_len, "the reply's message content is not text");
            goto out;
        }
        content = json_object_get_string(v);
        clen = (size_t)json_object_get_string_len(v);
    }
    if (!(out->content = dup_len(content, clen))) {
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    out->content_len = clen;
    if (read_logprobs(choice, out)) {
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    rc = 0;
out:
    json_object_put(root);
    if (rc) rlvr_judge_reply_clear(out);
    return rc;
}

static const char *find_last(const char *s, size_t n, const char *needle)
{
    size_t w = strlen(needle);
    if (n < w) return NULL;
    for (size_t i = n - w + 1; i-- > 0;)
        if (memcmp(s + i, needle, w) == 0) return s + i;
    return NULL;
}

int rlvr_judge_final_answer(const char *content, size_t len, const char **ptr, size_t *out_len)
{
    const char *close = find_last(content, len, "</think>");
    if (close) {
        *ptr = close + 8;
        *out_len = len - (size_t)(*ptr - content);
        return 0;
    }
    if (find_last(content, len, "<think>")) return -1;
    *ptr = content;
    *out_len = len;
    return 0;
}

/* ---- parsers ----------------------------------------------------------------------- */

static int split_labels(const char *s, char out[MAX_LABELS][32], int *n, char *err, size_t err_len)
{
    *n = 0;
    if (!s) return 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t w = e ? (size_t)(e - p) : strlen(p);
        if (w == 0 || w >= 32 || *n == MAX_LABELS) {
            snprintf(err, err_len, "labels are 1 to 31 bytes, at most %d, separated by '|': \"%s\"", MAX_LABELS, s);
            return -1;
        }
        for (size_t i = 0; i < w; i++) {
            char c = p[i];
            out[*n][i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        out[*n][w] = 0;
        ++*n;
        p = e ? e + 1 : p + w;
    }
    return 0;
}

static pcre2_code *compile(const char *pattern, uint32_t flags, char *err, size_t err_len)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   flags | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(err, err_len, "regex does not compile at offset %zu: %s", (size_t)off, (const char *)msg);
    }
    return re;
}

rlvr_judge_parser *rlvr_judge_parser_new(const rlvr_judge_parser_options *o, char *err, size_t err_len)
{
    rlvr_judge_parser *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    p->kind = o->kind;
    p->smin = o->score_min;
    p->smax = o->score_max;
    if (o->key && strlen(o->key) >= sizeof p->key) {
        snprintf(err, err_len, "the verdict key is longer than %zu bytes", sizeof p->key - 1);
        goto fail;
    }
    snprintf(p->key, sizeof p->key, "%s", o->key ? o->key : "");
    if (split_labels(o->positive, p->pos, &p->n_pos, err, err_len)
        || split_labels(o->negative, p->neg, &p->n_neg, err, err_len))
        goto fail;
    for (int i = 0; i < p->n_pos; i++)
        for (int k = 0; k < p->n_neg; k++)
            if (strcmp(p->pos[i], p->neg[k]) == 0) {
                snprintf(err, err_len, "the label \"%s\" is both positive and negative", p->pos[i]);
                goto fail;
            }
    if (o->kind != RLVR_JUDGE_V_SCORE && (p->n_pos == 0 || p->n_neg == 0)) {
        snprintf(err, err_len, "positive and negative labels are both needed");
        goto fail;
    }
    char pat[256];
    switch (o->kind) {
    case RLVR_JUDGE_V_JSON:
        if (!p->key[0]) {
            snprintf(err, err_len, "a JSON verdict needs a key");
            goto fail;
        }
        break;
    case RLVR_JUDGE_V_FINAL_DECISION:
        p->re = compile("final\\s+decision\\s*[:\\x{FF1A}]?\\s*[*_`\"'\\[(]*\\s*(yes|no)\\b", PCRE2_CASELESS, err,
                        err_len);
        if (!p->re) goto fail;
        break;
    case RLVR_JUDGE_V_TAG: {
        const char *t = o->tag && *o->tag ? o->tag : "verdict";
        size_t tl = strlen(t);
        for (size_t i = 0; i < tl; i++) {
            char c = t[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')
                || tl > 64) {
                snprintf(err, err_len, "a tag name is letters, digits, '_' and '-' (at most 64)");
                goto fail;
            }
        }
        snprintf(pat, sizeof pat, "<%s>\\s*([^<]{0,200}?)\\s*</%s>", t, t);
        if (!(p->re = compile(pat, PCRE2_CASELESS, err, err_len))) goto fail;
        break;
    }
    case RLVR_JUDGE_V_REGEX:
        if (!o->regex || !*o->regex) {
            snprintf(err, err_len, "a regex verdict needs verdict_regex");
            goto fail;
        }
        if (!(p->re = compile(o->regex, 0, err, err_len))) goto fail;
        break;
    case RLVR_JUDGE_V_SCORE:
        if (!(p->smin < p->smax)) {
            snprintf(err, err_len, "score_min must be below score_max");
            goto fail;
        }
        p->re = compile(o->regex && *o->regex ? o->regex
                                              : "\\b(?:score|rating|grade)\\s*[:=]\\s*[*_]*\\s*(-?\\d+(?:\\.\\d+)?)",
                        o->regex && *o->regex ? 0 : PCRE2_CASELESS, err, err_len);
        if (!p->re) goto fail;
        break;
    case RLVR_JUDGE_V_LOGPROBS:
        break;
    default:
        snprintf(err, err_len, "unknown verdict kind");
        goto fail;
    }
    if (p->re) {
        uint32_t groups = 0;
        pcre2_pattern_info(p->re, PCRE2_INFO_CAPTURECOUNT, &groups);
        if (groups < 1) {
            snprintf(err, err_len, "verdict_regex needs a capture group (the label or number)");
            goto fail;
        }
        if (!(p->mctx = pcre2_match_context_create(NULL))) {
            snprintf(err, err_len, "out of memory");
            goto fail;
        }
        pcre2_set_match_limit(p->mctx, 1000000);
        pcre2_set_depth_limit(p->mctx, 10000);
    }
    return p;
fail:
    rlvr_judge_parser_free(p);
    return NULL;
}

void rlvr_judge_parser_free(rlvr_judge_parser *p)
{
    if (!p) return;
    pcre2_code_free(p->re);
    pcre2_match_context_free(p->mctx);
    free(p);
}

/* 1 positive, 0 negative, -1 neither. */
static int classify(const rlvr_judge_parser *p, const char *s, size_t n)
{
    static const char strip[] = " \t\r\n*_`\"'.,;:!?()[]{}";
    while (n && strchr(strip, s[0])) s++, n--;
    while (n && strchr(strip, s[n - 1])) n--;
    if (n == 0 || n >= 32) return -1;
    char low[32];
    for (size_t i = 0; i < n; i++) low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    low[n] = 0;
    for (int i = 0; i < p->n_pos; i++)
        if (strcmp(low, p->pos[i]) == 0) return 1;
    for (int i = 0; i < p->n_neg; i++)
        if (strcmp(low, p->neg[i]) == 0) return 0;
    return -1;
}

static void copy_label(char *dst, size_t cap, const char *s, size_t n)
{
    if (!cap) return;
    if (n >= cap) n = cap - 1;
    /* never end inside a UTF-8 sequence */
    while (n && ((unsigned char)s[n] & 0xC0) == 0x80 && n < cap) n--;
    memcpy(dst, s, n);
    dst[n] = 0;
}

/* The last top-level JSON object in s that has `key`: a new reference to the
 * value (put it), or NULL. */
static json_object *last_json_value(const char *s, size_t n, const char *key)
{
    json_object *found = NULL;
    json_tokener *tok = json_tokener_new();
    if (!tok) return NULL;
    int tries = 0;
    size_t i = 0;
    while (i < n && tries < MAX_JSON_TRIES) {
        const char *b = memchr(s + i, '{', n - i);
        if (!b) break;
        i = (size_t)(b - s);
        tries++;
        json_tokener_reset(tok);
        json_object *o = json_tokener_parse_ex(tok, s + i, (int)(n - i));
        if (o && json_tokener_get_error(tok) == json_tokener_success && json_object_is_type(o, json_type_object)) {
            json_object *v = NULL;
            if (!json_object_object_get_ex(o, key, &v)) {
                json_object_object_foreach(o, k, val) {
                    if (strcasecmp(k, key) == 0) {
                        v = val;
                        break;
                    }
                }
            }
            if (v) {
                json_object_put(found);
                found = json_object_get(v);
            }
            size_t used = json_tokener_get_parse_end(tok);
            json_object_put(o);
            i += used ? used : 1;
            continue;
        }
        json_object_put(o);
        i++;
    }
    json_tokener_free(tok);
    return found;
}

/* The last match's group 1 in s: 0 with g and gl set, -1 none. */
static int last_match(const rlvr_judge_parser *p, const char *s, size_t n, const char **g, size_t *gl, int *nomem)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->re, NULL);
    if (!md) {
        *nomem = 1;
        return -1;
    }
    int found = -1;
    size_t off = 0;
    while (off <= n) {
        int rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, off, 0, md, p->mctx);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (rc >= 2 && ov[2] != PCRE2_UNSET) {
            *g = s + ov[2];
            *gl = ov[3] - ov[2];
            found = 0;
        }
        size_t next = ov[1];
        if (next <= off) { /* an empty match: step one character */
            next = off + 1;
            while (next < n && ((unsigned char)s[next] & 0xC0) == 0x80) next++;
        }
        off = next;
    }
    pcre2_match_data_free(md);
    return found;
}

static int parse_number(const char *s, size_t n, double *v)
{
    char buf[64];
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '*')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '*'
                 || s[n - 1] == '.'))
        n--;
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double d = strtod(buf, &end);
    if (*end || !isfinite(d)) return -1;
    *v = d;
    return 0;
}

/* Is the token a non-empty prefix of one of the labels? */
static int token_matches(const char labels[MAX_LABELS][32], int n, const char *t, size_t len)
{
    static const char strip[] = " \t\r\n*_`\"'.,:;!?()[]{}";
    while (len && strchr(strip, t[0])) t++, len--;
    while (len && strchr(strip, t[len - 1])) len--;
    if (len == 0 || len >= 32) return 0;
    for (int i = 0; i < n; i++) {
        if (strlen(labels[i]) < len) continue;
        size_t k = 0;
        while (k < len && (char)(t[k] >= 'A' && t[k] <= 'Z' ? t[k] + 32 : t[k]) == labels[i][k]) k++;
        if (k == len) return 1;
    }
    return 0;
}

static rlvr_judge_verdict_status verdict_logprobs(const rlvr_judge_parser *p, const rlvr_judge_reply *r,
                                                  double *score, char *label, size_t label_len, char *why,
                                                  size_t why_len)
{
    if (r->n_tokens == 0) {
        snprintf(why, why_len, "the reply has no logprobs (does the server return them?)");
        return RLVR_JUDGE_UNPARSEABLE;
    }
    /* The final answer starts after the last token that completes "</think>". */
    size_t first = 0, acc = 0;
    const char *close = find_last(r->content, r->content_len, "</think>");
    if (close) {
        size_t want = (size_t)(close - r->content) + 8;
        first = r->n_tokens;
        for (size_t i = 0; i < r->n_tokens; i++) {
            acc += r->tokens[i].len;
            if (acc >= want) {
                first = i + 1;
                break;
            }
        }
    }
    while (first < r->n_tokens) {
        const struct rlvr_judge_token *t = &r->tokens[first];
        size_t k = 0;
        while (k < t->len && (t->text[k] == ' ' || t->text[k] == '\n' || t->text[k] == '\r' || t->text[k] == '\t'))
            k++;
        if (k < t->len) break;
        first++;
    }
    if (first >= r->n_tokens) {
        snprintf(why, why_len, "no token after the judge's reasoning");
        return RLVR_JUDGE_UNPARSEABLE;
    }
    const struct rlvr_judge_token *t = &r->tokens[first];
    double pp = 0, pn = 0;
    int seen_self = 0;
    for (size_t k = 0; k < t->n_top; k++) {
        const struct rlvr_judge_alt *a = &t->top[k];
        if (!isfinite(a->logprob)) continue;
        if (a->len == t->len && memcmp(a->text, t->text, t->len) == 0) seen_self = 1;
        int ip = token_matches(p->pos, p->n_pos, a->text, a->len);
        int in = token_matches(p->neg, p->n_neg, a->text, a->len);
        if (ip && !in) pp += exp(a->logprob);
        else if (in && !ip) pn += exp(a->logprob);
    }
    if (!seen_self && isfinite(t->logprob)) {
        int ip = token_matches(p->pos, p->n_pos, t->text, t->len);
        int in = token_matches(p->neg, p->n_neg, t->text, t->len);
        if (ip && !in) pp += exp(t->logprob);
        else if (in && !ip) pn += exp(t->logprob);
    }
    copy_label(label, label_len, t->text, t->len);
    if (pp + pn <= 0) {
        snprintf(why, why_len, "the first answer token and its alternatives are no label");
        return RLVR_JUDGE_UNPARSEABLE;
    }
    *score = pp / (pp + pn);
    return RLVR_JUDGE_VERDICT;
}

rlvr_judge_verdict_status rlvr_judge_verdict(const rlvr_judge_parser *p, const rlvr_judge_reply *reply,
                                             double *score, char *label, size_t label_len, char *why,
                                             size_t why_len)
{
    if (label_len) label[0] = 0;
    why[0] = 0;
    const char *s;
    size_t n;
    if (rlvr_judge_final_answer(reply->content, reply->content_len, &s, &n)) {
        snprintf(why, why_len, "the judge's <think> block never closes: no final answer");
        return RLVR_JUDGE_UNPARSEABLE;
    }
    if (p->kind == RLVR_JUDGE_V_LOGPROBS) return verdict_logprobs(p, reply, score, label, label_len, why, why_len);
    int nomem = 0;
    const char *g = NULL;
    size_t gl = 0;
    if (p->kind == RLVR_JUDGE_V_JSON || (p->kind == RLVR_JUDGE_V_SCORE && p->key[0])) {
        json_object *v = last_json_value(s, n, p->key);
        if (v) {
            rlvr_judge_verdict_status st = RLVR_JUDGE_UNPARSEABLE;
            if (p->kind == RLVR_JUDGE_V_SCORE) {
                double d;
                const char *vs = json_object_get_string(v);
                if ((json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)
                     || json_object_is_type(v, json_type_string))
                    && parse_number(vs, strlen(vs), &d) == 0) {
                    copy_label(label, label_len, vs, strlen(vs));
                    if (d < p->smin || d > p->smax) {
                        snprintf(why, why_len, "the score %g is outside [%g, %g]", d, p->smin, p->smax);
                    } else {
                        *score = (d - p->smin) / (p->smax - p->smin);
                        st = RLVR_JUDGE_VERDICT;
                    }
                } else {
                    snprintf(why, why_len, "\"%s\" is not a number", p->key);
                }
            } else if (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_boolean)) {
                const char *vs = json_object_get_string(v);
                copy_label(label, label_len, vs, strlen(vs));
                int c = classify(p, vs, strlen(vs));
                if (c >= 0) {
                    *score = c;
                    st = RLVR_JUDGE_VERDICT;
                } else {
                    snprintf(why, why_len, "the verdict \"%s\" is neither a positive nor a negative label", label);
                }
            } else {
                snprintf(why, why_len, "\"%s\" is not a string", p->key);
            }
            json_object_put(v);
            return st;
        }
        if (p->kind == RLVR_JUDGE_V_JSON) {
            snprintf(why, why_len, "no JSON object with \"%s\" in the judge's final answer", p->key);
            return RLVR_JUDGE_UNPARSEABLE;
        }
    }
    if (last_match(p, s, n, &g, &gl, &nomem) == 0) {
        copy_label(label, label_len, g, gl);
        if (p->kind == RLVR_JUDGE_V_SCORE) {
            double d;
            if (parse_number(g, gl, &d)) {
                snprintf(why, why_len, "the score \"%s\" is not a number", label);
                return RLVR_JUDGE_UNPARSEABLE;
            }
            if (d < p->smin || d > p->smax) {
                snprintf(why, why_len, "the score %g is outside [%g, %g]", d, p->smin, p->smax);
                return RLVR_JUDGE_UNPARSEABLE;
            }
            *score = (d - p->smin) / (p->smax - p->smin);
            return RLVR_JUDGE_VERDICT;
        }
        int c = classify(p, g, gl);
        if (c < 0) {
            snprintf(why, why_len, "the verdict \"%s\" is neither a positive nor a negative label", label);
            return RLVR_JUDGE_UNPARSEABLE;
        }
        *score = c;
        return RLVR_JUDGE_VERDICT;
    }
    if (nomem) return RLVR_JUDGE_VERDICT_NOMEM;
    if (p->kind == RLVR_JUDGE_V_SCORE) {
        double d; /* a final answer that is only a number */
        if (parse_number(s, n, &d) == 0 && d >= p->smin && d <= p->smax) {
            copy_label(label, label_len, s, n);
            *score = (d - p->smin) / (p->smax - p->smin);
            return RLVR_JUDGE_VERDICT;
        }
        snprintf(why, why_len, "no score in the judge's final answer");
        return RLVR_JUDGE_UNPARSEABLE;
    }
    snprintf(why, why_len, p->kind == RLVR_JUDGE_V_FINAL_DECISION ? "no \"Final Decision: Yes/No\" in the judge's final answer"
                           : p->kind == RLVR_JUDGE_V_TAG ? "no verdict tag in the judge's final answer"
                                                         : "verdict_regex does not match the judge's final answer");
    return RLVR_JUDGE_UNPARSEABLE;
}
