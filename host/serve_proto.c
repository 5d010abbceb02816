/*
 * serve_proto.c -- request bodies into sample lines and results into
 * answers, for `rlvr serve` (see serve_proto.h).
 *
 * Invariants: every line handed to the scheduler is JSON text this file
 * wrote with the host's JSON writers (for /get_reward and JSON arrays) or a
 * line of the request body itself (JSONL); text from the request is checked
 * as UTF-8 without lone surrogates before json-c sees it, so no invalid
 * text reaches a plugin; a request that cannot be read as a whole is an
 * error for the request, one item that cannot be scored is an error for
 * that item only.
 */
#include "serve_proto.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"

#define JSON_DEPTH 64

void rlvr_lines_free(rlvr_lines *l)
{
    free(l->v);
    free(l->offs);
    rlvr_buf_free(&l->store);
    memset(l, 0, sizeof *l);
}

static int lines_push(rlvr_lines *l, const char *p, size_t len, int64_t line)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        rlvr_line *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (rlvr_line){p, len, line};
    return 0;
}

/* Append one line made in store (its text from `from` to the end of store);
 * pointers are fixed once store stops moving (lines_fix). */
static int store_push(rlvr_lines *l, size_t from, int64_t line)
{
    if (lines_push(l, NULL, l->store.len - from, line)) return -1;
    size_t *o = realloc(l->offs, l->cap * sizeof *o);
    if (!o) return -1;
    l->offs = o;
    o[l->n - 1] = from;
    return 0;
}

static int lines_fix(rlvr_lines *l)
{
    if (l->store.oom) return -1;
    for (size_t i = 0; i < l->n; i++) l->v[i].ptr = l->store.ptr + l->offs[i];
    return 0;
}

static json_object *parse_json(const char *s, size_t len, char *err, size_t err_len)
{
    if (rlvr_json_text_check(s, len, err, err_len)) return NULL;
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    if (!tok) { rlvr_errf(err, err_len, "out of memory"); return NULL; }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, s, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    if (e != json_tokener_success) {
        rlvr_errf(err, err_len, "malformed JSON: %s", e == json_tokener_continue ? "the text ends inside a value"
                                                                                  : json_tokener_error_desc(e));
        json_object_put(o);
        o = NULL;
    } else {
        while (used < len && (s[used] == ' ' || s[used] == '\n' || s[used] == '\r' || s[used] == '\t')) used++;
        if (used < len) {
            rlvr_errf(err, err_len, "malformed JSON: text after the value at byte %zu", used + 1);
            json_object_put(o);
            o = NULL;
        }
    }
    json_tokener_free(tok);
    return o;
}

long rlvr_batch_lines(const char *body, size_t len, size_t max_samples, rlvr_lines *out, int *is_array,
                      char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0) i = 3;
    size_t k = i;
    while (k < len && (body[k] == ' ' || body[k] == '\t' || body[k] == '\r' || body[k] == '\n')) k++;
    *is_array = k < len && body[k] == '[';
    if (*is_array) {
        if (len > (size_t)INT32_MAX) { rlvr_errf(err, err_len, "the body is too large for a JSON array"); return -1; }
        json_object *a = parse_json(body + i, len - i, err, err_len);
        if (!a) return -1;
        if (!json_object_is_type(a, json_type_array)) {
            json_object_put(a);
            rlvr_errf(err, err_len, "a batch is JSON Lines or a JSON array of samples");
            return -1;
        }
        size_t n = json_object_array_length(a);
        if (n > max_samples) {
            json_object_put(a);
            rlvr_errf(err, err_len, "%zu samples in one request; the limit is %zu (--max-samples)", n, max_samples);
            return -2;
        }
        for (size_t j = 0; j < n; j++) {
            size_t from = out->store.len;
            rlvr_json_write(&out->store, json_object_array_get_idx(a, j));
            if (store_push(out, from, (int64_t)j + 1)) { out->store.oom = 1; break; }
        }
        json_object_put(a);
        if (lines_fix(out)) { rlvr_lines_free(out); rlvr_errf(err, err_len, "out of memory"); return -1; }
        return (long)out->n;
    }
    int64_t lineno = 0;
    while (i < len) {
        const char *p = body + i;
        const char *nl = memchr(p, '\n', len - i);
        size_t l = nl ? (size_t)(nl - p) : len - i;
        i += l + (nl ? 1 : 0);
        lineno++;
        if (l && p[l - 1] == '\r') l--;
        size_t b = 0;
        while (b < l && (p[b] == ' ' || p[b] == '\t' || p[b] == '\r')) b++;
        if (b == l) continue; /* blank: skipped, counted */
        if (out->n >= max_samples) {
            rlvr_lines_free(out);
            rlvr_errf(err, err_len, "more than %zu samples in one request (--max-samples)", max_samples);
            return -2;
        }
        if (lines_push(out, p, l, lineno)) { rlvr_lines_free(out); rlvr_errf(err, err_len, "out of memory"); return -1; }
    }
    return (long)out->n;
}

/* ---- OpenRLHF's /get_reward --------------------------------------------------- */

static int ends_with(const char *s, size_t n, const char *t, size_t tn)
{
    return tn && n >= tn && memcmp(s + n - tn, t, tn) == 0;
}

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

int rlvr_reward_completion(const char *query, size_t qlen, const char *prompt, size_t plen,
                           const char *const *end_tokens, size_t n_end, size_t *start, size_t *end)
{
    size_t a = 0;
    if (prompt && plen) {
        const char *p = memmem(query, qlen, prompt, plen);
        if (!p) return -1;
        a = (size_t)(p - query) + plen;
    }
    size_t e = qlen;
    /* Remove end tokens from the end, and the whitespace between (and
     * after) them; whitespace before the first one removed is the model's. */
    for (;;) {
        size_t w = e;
        while (w > a && is_space(query[w - 1])) w--;
        size_t k = 0;
        for (; k < n_end; k++) {
            size_t tl = strlen(end_tokens[k]);
            if (w - a >= tl && ends_with(query + a, w - a, end_tokens[k], tl)) break;
        }
        if (k == n_end) break;
        e = w - strlen(end_tokens[k]);
    }
    *start = a;
    *end = e;
    return 0;
}

/* A label that reads as tests: an object, or a non-empty list of objects. */
static int tests_shaped(json_object *o)
{
    if (json_object_is_type(o, json_type_object)) return 1;
    if (!json_object_is_type(o, json_type_array) || json_object_array_length(o) == 0) return 0;
    for (size_t i = 0; i < json_object_array_length(o); i++)
        if (!json_object_is_type(json_object_array_get_idx(o, i), json_type_object)) return 0;
    return 1;
}

static void write_label(rlvr_buf *b, json_object *label)
{
    if (!label) return;
    if (json_object_is_type(label, json_type_string)) {
        const char *s = json_object_get_string(label);
        size_t n = (size_t)json_object_get_string_len(label);
        size_t k = 0;
        while (k < n && is_space(s[k])) k++;
        if (k < n && (s[k] == '{' || s[k] == '[') && n < (size_t)INT32_MAX) {
            char err[8];
            json_object *t = parse_json(s, n, err, sizeof err);
            if (t && tests_shaped(t)) {
                rlvr_buf_adds(b, ",\"tests\":");
                rlvr_json_write(b, t);
                json_object_put(t);
                return;
            }
            json_object_put(t);
        }
        rlvr_buf_adds(b, ",\"answer\":");
        rlvr_buf_json_string(b, s, n);
        return;
    }
    rlvr_buf_adds(b, tests_shaped(label) ? ",\"tests\":" : ",\"answer\":");
    rlvr_json_write(b, label);
}

/* The list under `key`: NULL when absent or null; -1 with err when it is
 * not a list of n items. */
static int get_list(json_object *root, const char *key, size_t n, json_object **out, char *err, size_t err_len)
{
    *out = NULL;
    json_object *v;
    if (!json_object_object_get_ex(root, key, &v) || !v) return 0;
    if (!json_object_is_type(v, json_type_array)) {
        rlvr_errf(err, err_len, "'%s' must be a list", key);
        return -1;
    }
    if (json_object_array_length(v) != n) {
        rlvr_errf(err, err_len, "'%s' has %zu items but 'query' has %zu", key, json_object_array_length(v), n);
        return -1;
    }
    *out = v;
    return 0;
}

void rlvr_reward_req_free(rlvr_reward_req *r)
{
    for (size_t i = 0; r->bad && i < r->n; i++) free(r->bad[i]);
    free(r->bad);
    free(r->index);
    rlvr_lines_free(&r->lines);
    memset(r, 0, sizeof *r);
}

int rlvr_reward_parse(const char *body, size_t len, size_t max_samples, const rlvr_reward_opts *o,
                      rlvr_reward_req *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (len > (size_t)INT32_MAX) { rlvr_errf(err, err_len, "the body is too large"); return -1; }
    json_object *root = parse_json(body, len, err, err_len);
    if (!root) return -1;
    int rc = -1;
    json_object *q, *prompts, *labels;
    if (!json_object_is_type(root, json_type_object)) {
        rlvr_errf(err, err_len, "the body must be a JSON object {\"query\": [...], \"prompts\": [...], \"labels\": [...]}");
        goto out;
    }
    if (!json_object_object_get_ex(root, "query", &q) || !json_object_is_type(q, json_type_array)) {
        rlvr_errf(err, err_len, "'query' must be a list of strings (prompt + response)");
        goto out;
    }
    size_t n = json_object_array_length(q);
    if (n > max_samples) {
        rlvr_errf(err, err_len, "%zu samples in one request; the limit is %zu (--max-samples)", n, max_samples);
        rc = -2;
        goto out;
    }
    if (get_list(root, "prompts", n, &prompts, err, err_len) || get_list(root, "labels", n, &labels, err, err_len))
        goto out;
    for (size_t i = 0; i < n; i++) {
        json_object *qi = json_object_array_get_idx(q, i);
        json_object *pi = prompts ? json_object_array_get_idx(prompts, i) : NULL;
        if (!json_object_is_type(qi, json_type_string)) {
            rlvr_errf(err, err_len, "query[%zu] is not a string", i);
            goto out;
        }
        if (pi && !json_object_is_type(pi, json_type_string)) {
            rlvr_errf(err, err_len, "prompts[%zu] is not a string or null", i);
            goto out;
        }
    }
    out->n = n;
    out->bad = calloc(n ? n : 1, sizeof *out->bad);
    out->index = calloc(n ? n : 1, sizeof *out->index);
    if (!out->bad || !out->index) { rlvr_errf(err, err_len, "out of memory"); goto out; }
    rlvr_lines *L = &out->lines;
    size_t group = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *qi = json_object_array_get_idx(q, i);
        json_object *pi = prompts ? json_object_array_get_idx(prompts, i) : NULL;
        json_object *prev = prompts && i ? json_object_array_get_idx(prompts, i - 1) : NULL;
        const char *qs = json_object_get_string(qi);
        size_t qn = (size_t)json_object_get_string_len(qi);
        const char *ps = pi ? json_object_get_string(pi) : NULL;
        size_t pn = pi ? (size_t)json_object_get_string_len(pi) : 0;
        /* A group is a run of one prompt (OpenRLHF sends a prompt's samples together). */
        if (i && !(pi && prev && (size_t)json_object_get_string_len(prev) == pn
                   && memcmp(json_object_get_string(prev), ps, pn) == 0))
            group = i;
        size_t a, e;
        if (rlvr_reward_completion(qs, qn, ps, pn, o->end_tokens, o->n_end_tokens, &a, &e)) {
            rlvr_buf m = {0};
            rlvr_buf_printf(&m, "query[%zu] does not contain its prompt (prompts[%zu]): cannot tell the response apart",
                            i, i);
            out->bad[i] = m.ptr;
            if (!m.ptr) { rlvr_errf(err, err_len, "out of memory"); goto out; }
            continue;
        }
        size_t from = L->store.len;
        rlvr_buf_printf(&L->store, "{\"id\":%zu", i);
        if (ps) {
            rlvr_buf_adds(&L->store, ",\"prompt\":");
            rlvr_buf_json_string(&L->store, ps, pn);
            rlvr_buf_printf(&L->store, ",\"group\":%zu", group);
        }
        rlvr_buf_adds(&L->store, ",\"completion\":");
        rlvr_buf_json_string(&L->store, qs + a, e - a);
        write_label(&L->store, labels ? json_object_array_get_idx(labels, i) : NULL);
        rlvr_buf_addc(&L->store, '}');
        out->index[L->n] = i;
        if (store_push(L, from, (int64_t)i + 1)) { rlvr_errf(err, err_len, "out of memory"); goto out; }
    }
    if (lines_fix(L)) { rlvr_errf(err, err_len, "out of memory"); goto out; }
    rc = 0;
out:
    json_object_put(root);
    if (rc) rlvr_reward_req_free(out);
    return rc;
}

static double clip01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

void rlvr_reward_answer(const rlvr_reward_req *r, const rlvr_job_result *res, const rlvr_reward_opts *o,
                        rlvr_buf *out, rlvr_reward_counts *counts)
{
    size_t n = r->n, nc = o->n_components;
    counts->substituted = counts->errors = 0;
    /* Per item: the reward (NaN: null), failed, and each component (NaN: null or absent). */
    double *rew = malloc((n ? n : 1) * sizeof *rew);
    size_t ncell = n * (nc + 1);
    double *comp = malloc((ncell ? ncell : 1) * sizeof *comp);
    unsigned char *failed = calloc(n ? n : 1, 1);
    long *pos = malloc((n ? n : 1) * sizeof *pos);
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    if (!rew || !comp || !failed || !pos || !tok) {
        out->oom = 1;
        goto done;
    }
    for (size_t i = 0; i < n; i++) pos[i] = -1;
    for (size_t l = 0; l < r->lines.n; l++) pos[r->index[l]] = (long)l;
    for (size_t i = 0; i < n; i++) {
        rew[i] = NAN;
        for (size_t k = 0; k <= nc; k++) comp[i * (nc + 1) + k] = NAN;
        if (pos[i] < 0) { failed[i] = 1; continue; }
        const rlvr_job_result *jr = &res[pos[i]];
        failed[i] = jr->failed != 0;
        if (!jr->reward_null) rew[i] = jr->reward;
        if (!jr->json) continue;
        json_tokener_reset(tok);
        json_object *o2 = json_tokener_parse_ex(tok, jr->json, (int)jr->len);
        json_object *cs;
        if (o2 && json_object_object_get_ex(o2, "components", &cs) && json_object_is_type(cs, json_type_object)) {
            for (size_t k = 0; k < nc; k++) {
                json_object *v;
                if (json_object_object_get_ex(cs, o->components[k], &v) && v
                    && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
                    comp[i * (nc + 1) + k] = json_object_get_double(v);
            }
            if (o->scores_component) {
                json_object *v;
                if (json_object_object_get_ex(cs, o->scores_component, &v) && v
                    && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
                    comp[i * (nc + 1) + nc] = json_object_get_double(v);
            }
        }
        json_object_put(o2);
    }
    rlvr_buf_adds(out, "{\"rewards\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) rlvr_buf_addc(out, ',');
        if (isnan(rew[i])) {
            counts->substituted++;
            counts->errors += failed[i];
        }
        rlvr_buf_json_number(out, isnan(rew[i]) ? o->abstain_value : rew[i]);
    }
    rlvr_buf_adds(out, "],\"scores\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) rlvr_buf_addc(out, ',');
        double v = o->scores_component ? comp[i * (nc + 1) + nc] : rew[i];
        rlvr_buf_json_number(out, clip01(isnan(v) ? o->abstain_value : v));
    }
    rlvr_buf_adds(out, "],\"extra_logs\":{");
    for (size_t k = 0; k < nc; k++) {
        rlvr_buf_json_string(out, o->components[k], strlen(o->components[k]));
        rlvr_buf_adds(out, ":[");
        for (size_t i = 0; i < n; i++) {
            if (i) rlvr_buf_addc(out, ',');
            double v = comp[i * (nc + 1) + k];
            rlvr_buf_json_number(out, isnan(v) ? o->abstain_value : v);
        }
        rlvr_buf_adds(out, "],");
    }
    rlvr_buf_adds(out, "\"rlvr_abstain_substituted\":[");
    for (size_t i = 0; i < n; i++) rlvr_buf_adds(out, i ? (isnan(rew[i]) ? ",1" : ",0") : (isnan(rew[i]) ? "1" : "0"));
    rlvr_buf_adds(out, "],\"rlvr_sample_error\":[");
    for (size_t i = 0; i < n; i++) rlvr_buf_adds(out, i ? (failed[i] ? ",1" : ",0") : (failed[i] ? "1" : "0"));
    rlvr_buf_adds(out, "]}}");
done:
    free(rew);
    free(comp);
    free(failed);
    free(pos);
    if (tok) json_tokener_free(tok);
}
