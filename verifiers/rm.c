/*
 * rm.c -- request bodies and reply readers for reward-model servers (see
 * rm.h for the shapes), the {prompt}/{completion} template, input caps and
 * normalisation.
 *
 * Shapes, as documented:
 *   text-embeddings-inference: the OpenAPI of its router
 *     (https://huggingface.github.io/text-embeddings-inference/): PredictRequest
 *     {inputs: Sequence | [Sequence], raw_scores, truncate}, a Sequence being a
 *     string or a two-string pair; reply [Prediction] or [[Prediction]],
 *     Prediction {label, score}. RerankRequest {query, texts, raw_scores,
 *     truncate, return_text}; reply [{index, score}].
 *   vLLM's OpenAI-compatible server
 *     (https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html):
 *     Pooling API {model, input} -> {data: [{index, object: "pooling", data}]};
 *     Classification API {model, input} -> {data: [{index, label, probs,
 *     num_classes}]}; Score API {model, text_1, text_2} -> {data: [{index,
 *     object: "score", score}]}.
 *
 * Invariants: a reply is read only when its shape is the documented one and
 * it has one finite score per input, placed by index where the API gives
 * one (each index exactly once); a reply that is anything else is refused
 * whole. Parsing is bounded by the reply's size (json-c with a depth cap).
 */
#include "rm.h"

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *path;
    int pairs, texts, query;
} apis[RLVR_RM_N_APIS] = {
    {"tei_predict", "/predict", 1, 1, 0},
    {"tei_rerank", "/rerank", 1, 0, 1},
    {"vllm_pooling", "/pooling", 0, 1, 0},
    {"vllm_classify", "/classify", 0, 1, 0},
    {"vllm_score", "/score", 1, 0, 1},
};

int rlvr_rm_api_from_name(const char *name, rlvr_rm_api *out)
{
    for (int i = 0; i < RLVR_RM_N_APIS; i++)
        if (name && strcmp(name, apis[i].name) == 0) {
            *out = (rlvr_rm_api)i;
            return 0;
        }
    return -1;
}

const char *rlvr_rm_api_name(rlvr_rm_api api) { return api < RLVR_RM_N_APIS ? apis[api].name : "?"; }
const char *rlvr_rm_api_path(rlvr_rm_api api) { return api < RLVR_RM_N_APIS ? apis[api].path : "/"; }
int rlvr_rm_api_takes_pairs(rlvr_rm_api api) { return api < RLVR_RM_N_APIS && apis[api].pairs; }
int rlvr_rm_api_takes_texts(rlvr_rm_api api) { return api < RLVR_RM_N_APIS && apis[api].texts; }
int rlvr_rm_api_needs_query(rlvr_rm_api api) { return api < RLVR_RM_N_APIS && apis[api].query; }

int rlvr_rm_request_size_ok(rlvr_rm_api api, int pairs, size_t n)
{
    if (n == 0) return 0;
    return !(api == RLVR_RM_TEI_PREDICT && !pairs && n == 2);
}

#define ERR(...) snprintf(err, err_len, __VA_ARGS__)

static json_object *str(const char *p, size_t n) { return json_object_new_string_len(p ? p : "", (int)(p ? n : 0)); }

int rlvr_rm_build_request(const rlvr_rm_request_options *o, const rlvr_rm_input *in, size_t n, char **body,
                          size_t *body_len, char *err, size_t err_len)
{
    *body = NULL;
    *body_len = 0;
    if (n == 0 || o->api >= RLVR_RM_N_APIS) {
        ERR("no inputs, or an unknown API");
        return -1;
    }
    int pairs = in[0].query != NULL;
    for (size_t i = 0; i < n; i++) {
        if ((in[i].query != NULL) != pairs) {
            ERR("inputs of mixed shape (pairs and texts) in one request");
            return -1;
        }
        if (in[i].text_len > INT32_MAX || in[i].query_len > INT32_MAX) {
            ERR("an input is over 2 GiB");
            return -1;
        }
    }
    if (pairs && !rlvr_rm_api_takes_pairs(o->api)) {
        ERR("%s takes single texts, not pairs", apis[o->api].name);
        return -1;
    }
    if (!pairs && !rlvr_rm_api_takes_texts(o->api)) {
        ERR("%s takes (query, text) pairs", apis[o->api].name);
        return -1;
    }
    if (!rlvr_rm_request_size_ok(o->api, pairs, n)) {
        ERR("tei_predict reads a list of two texts as one pair: send them one by one");
        return -1;
    }
    if (o->api == RLVR_RM_TEI_RERANK)
        for (size_t i = 1; i < n; i++)
            if (in[i].query_len != in[0].query_len || memcmp(in[i].query, in[0].query, in[0].query_len) != 0) {
                ERR("tei_rerank: one request has one query; inputs %zu and 1 differ", i + 1);
                return -1;
            }
    json_object *b = json_object_new_object(), *extra = NULL;
    if (!b) goto nomem;
    if (o->extra_json && o->extra_json[0]) {
        extra = json_tokener_parse(o->extra_json);
        if (!extra || !json_object_is_type(extra, json_type_object)) {
            json_object_put(extra);
            json_object_put(b);
            ERR("extra fields: not a JSON object");
            return -1;
        }
        json_object_object_foreach(extra, k, v) json_object_object_add(b, k, json_object_get(v));
        json_object_put(extra);
    }
    int tei = o->api == RLVR_RM_TEI_PREDICT || o->api == RLVR_RM_TEI_RERANK;
    if (!tei && o->model && o->model[0]) json_object_object_add(b, "model", json_object_new_string(o->model));
    if (tei) {
        json_object_object_add(b, "raw_scores", json_object_new_boolean(o->raw_scores));
        json_object_object_add(b, "truncate", json_object_new_boolean(o->truncate));
    }
    json_object *a = NULL, *a2 = NULL;
    switch (o->api) {
    case RLVR_RM_TEI_PREDICT:
        if (!(a = json_object_new_array())) goto nomem_b;
        for (size_t i = 0; i < n; i++) {
            if (pairs) {
                json_object *p = json_object_new_array();
                if (!p) goto nomem_a;
                json_object_array_add(p, str(in[i].query, in[i].query_len));
                json_object_array_add(p, str(in[i].text, in[i].text_len));
                json_object_array_add(a, p);
            } else {
                json_object_array_add(a, str(in[i].text, in[i].text_len));
            }
        }
        json_object_object_add(b, "inputs", a);
        break;
    case RLVR_RM_TEI_RERANK:
        if (!(a = json_object_new_array())) goto nomem_b;
        for (size_t i = 0; i < n; i++) json_object_array_add(a, str(in[i].text, in[i].text_len));
        json_object_object_add(b, "query", str(in[0].query, in[0].query_len));
        json_object_object_add(b, "texts", a);
        json_object_object_add(b, "return_text", json_object_new_boolean(0));
        break;
    case RLVR_RM_VLLM_POOLING:
    case RLVR_RM_VLLM_CLASSIFY:
        if (!(a = json_object_new_array())) goto nomem_b;
        for (size_t i = 0; i < n; i++) json_object_array_add(a, str(in[i].text, in[i].text_len));
        json_object_object_add(b, "input", a);
        break;
    case RLVR_RM_VLLM_SCORE:
        if (!(a = json_object_new_array()) || !(a2 = json_object_new_array())) goto nomem_a;
        for (size_t i = 0; i < n; i++) {
            json_object_array_add(a, str(in[i].query, in[i].query_len));
            json_object_array_add(a2, str(in[i].text, in[i].text_len));
        }
        json_object_object_add(b, "text_1", a);
        json_object_object_add(b, "text_2", a2);
        break;
    default:
        break;
    }
    size_t len = 0;
    const char *s = json_object_to_json_string_length(b, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s || !(*body = malloc(len + 1))) goto nomem_b;
    memcpy(*body, s, len + 1);
    *body_len = len;
    json_object_put(b);
    return 0;
nomem_a:
    json_object_put(a);
    json_object_put(a2);
nomem_b:
    json_object_put(b);
nomem:
    ERR("out of memory building a request");
    return -1;
}

int rlvr_rm_label_parse(const char *s, rlvr_rm_label *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    out->index = -1;
    if (!s || !*s) return 0;
    size_t n = strlen(s);
    if (n >= sizeof out->name) {
        ERR("longer than %zu bytes", sizeof out->name - 1);
        return -1;
    }
    memcpy(out->name, s, n + 1);
    int digits = n <= 9;
    for (size_t i = 0; i < n && digits; i++) digits = s[i] >= '0' && s[i] <= '9';
    if (digits) {
        out->has_index = 1;
        out->index = strtol(s, NULL, 10);
    }
    return 0;
}

/* A finite JSON number. */
static int num(json_object *o, double *v)
{
    if (!o || !(json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int))) return 0;
    *v = json_object_get_double(o);
    return isfinite(*v);
}

/* Pick the label's element of a vector of numbers. */
static int pick(json_object *vec, const rlvr_rm_label *label, double *v, char *why, size_t why_len)
{
    size_t k = json_object_array_length(vec);
    size_t idx;
    if (label->has_index) idx = (size_t)label->index;
    else if (label->name[0]) {
        snprintf(why, why_len, "label \"%.60s\" is a name; this API's classes are read by index", label->name);
        return -1;
    } else if (k == 1) idx = 0;
    else {
        snprintf(why, why_len, "the reply has %zu classes: set `label` to the class that is the reward", k);
        return -1;
    }
    if (idx >= k) {
        snprintf(why, why_len, "label %zu is past the reply's %zu classes", idx, k);
        return -1;
    }
    if (!num(json_object_array_get_idx(vec, idx), v)) {
        snprintf(why, why_len, "class %zu is not a finite number", idx);
        return -2;
    }
    return 0;
}

/* TEI's list of {label, score} for one input. */
static int tei_predictions(json_object *preds, const rlvr_rm_label *label, rlvr_rm_score *s, char *err, size_t err_len)
{
    size_t k = json_object_array_length(preds);
    if (k == 0) {
        ERR("an input has no predictions");
        return -1;
    }
    int found = 0;
    for (size_t c = 0; c < k; c++) {
        json_object *p = json_object_array_get_idx(preds, c), *lab, *sc;
        double v;
        if (!json_object_is_type(p, json_type_object) || !json_object_object_get_ex(p, "score", &sc) || !num(sc, &v)) {
            ERR("a prediction without a finite \"score\"");
            return -1;
        }
        const char *name = json_object_object_get_ex(p, "label", &lab) && json_object_is_type(lab, json_type_string)
                               ? json_object_get_string(lab) : "";
        int match = 0;
        if (label->name[0]) {
            match = strcmp(name, label->name) == 0;
            if (!match && label->has_index) { /* "1" also names LABEL_1, transformers' default id2label */
                char alt[40];
                snprintf(alt, sizeof alt, "LABEL_%ld", label->index);
                match = strcmp(name, alt) == 0;
            }
        } else {
            match = k == 1;
        }
        if (match && !found) {
            found = 1;
            s->ok = 1;
            s->raw = v;
        }
    }
    if (!found) {
        s->ok = 0;
        if (label->name[0]) snprintf(s->why, sizeof s->why, "no class labelled \"%.60s\" in the reply", label->name);
        else snprintf(s->why, sizeof s->why, "the reply has %zu classes: set `label` to the class that is the reward", k);
    }
    return 0;
}

/* vLLM's {"data": [{index, ...}]}: the entry for each input, by index. */
static int vllm_entries(json_object *root, size_t n, json_object **by_index, char *err, size_t err_len, int *count)
{
    json_object *data;
    *count = 0;
    if (!json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "data", &data)
        || !json_object_is_type(data, json_type_array)) {
        json_object *e;
        if (json_object_is_type(root, json_type_object) && json_object_object_get_ex(root, "error", &e))
            ERR("the server answered 2xx with an error object");
        else ERR("no \"data\" list in the reply");
        return -1;
    }
    size_t k = json_object_array_length(data);
    if (k != n) {
        ERR("%zu scores for %zu inputs", k, n);
        *count = 1;
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        json_object *e = json_object_array_get_idx(data, i), *ix;
        size_t at = i;
        if (!json_object_is_type(e, json_type_object)) {
            ERR("data[%zu] is not an object", i);
            return -1;
        }
        if (json_object_object_get_ex(e, "index", &ix)) {
            if (!json_object_is_type(ix, json_type_int) || json_object_get_int64(ix) < 0
                || (uint64_t)json_object_get_int64(ix) >= n) {
                ERR("data[%zu].index is not an input's index", i);
                return -1;
            }
            at = (size_t)json_object_get_int64(ix);
        }
        if (by_index[at]) {
            ERR("index %zu appears twice", at);
            return -1;
        }
        by_index[at] = e;
    }
    return 0;
}

rlvr_rm_reply_status rlvr_rm_parse_reply(rlvr_rm_api api, const rlvr_rm_label *label, const char *body, size_t len,
                                         size_t n, rlvr_rm_score *out, char *err, size_t err_len)
{
    for (size_t i = 0; i < n; i++) memset(&out[i], 0, sizeof out[i]);
    if (len > INT32_MAX) {
        ERR("the reply is over 2 GiB");
        return RLVR_RM_REPLY_BAD;
    }
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        ERR("out of memory reading the reply");
        return RLVR_RM_REPLY_NOMEM;
    }
    json_object *root = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = (size_t)json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        ERR("the reply is not JSON (%s)", jerr == json_tokener_continue ? "cut short" : json_tokener_error_desc(jerr));
        return RLVR_RM_REPLY_BAD;
    }
    for (; used < len; used++)
        if (body[used] != ' ' && body[used] != '\n' && body[used] != '\r' && body[used] != '\t') {
            json_object_put(root);
            ERR("the reply has text after its JSON");
            return RLVR_RM_REPLY_BAD;
        }
    rlvr_rm_reply_status st = RLVR_RM_REPLY_BAD;
    json_object **by = NULL;
    if (api == RLVR_RM_TEI_PREDICT) {
        if (!json_object_is_type(root, json_type_array)) {
            ERR("the reply is not a list of predictions");
            goto out;
        }
        size_t k = json_object_array_length(root);
        json_object *first = k ? json_object_array_get_idx(root, 0) : NULL;
        if (n == 1 && first && json_object_is_type(first, json_type_object)) { /* one input's flat list */
            if (tei_predictions(root, label, &out[0], err, err_len)) goto out;
            st = RLVR_RM_REPLY_OK;
            goto out;
        }
        if (k != n) {
            ERR("%zu scores for %zu inputs", k, n);
            st = RLVR_RM_REPLY_COUNT;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_object *p = json_object_array_get_idx(root, i);
            if (!json_object_is_type(p, json_type_array)) {
                ERR("predictions of input %zu are not a list", i + 1);
                goto out;
            }
            if (tei_predictions(p, label, &out[i], err, err_len)) goto out;
        }
        st = RLVR_RM_REPLY_OK;
        goto out;
    }
    if (!(by = calloc(n ? n : 1, sizeof *by))) {
        ERR("out of memory reading the reply");
        st = RLVR_RM_REPLY_NOMEM;
        goto out;
    }
    if (api == RLVR_RM_TEI_RERANK) {
        if (!json_object_is_type(root, json_type_array)) {
            ERR("the reply is not a list of ranks");
            goto out;
        }
        size_t k = json_object_array_length(root);
        if (k != n) {
            ERR("%zu scores for %zu inputs", k, n);
            st = RLVR_RM_REPLY_COUNT;
            goto out;
        }
        for (size_t i = 0; i < k; i++) {
            json_object *e = json_object_array_get_idx(root, i), *ix, *sc;
            double v;
            if (!json_object_is_type(e, json_type_object) || !json_object_object_get_ex(e, "index", &ix)
                || !json_object_is_type(ix, json_type_int) || json_object_get_int64(ix) < 0
                || (uint64_t)json_object_get_int64(ix) >= n) {
                ERR("rank %zu has no valid \"index\"", i + 1);
                goto out;
            }
            size_t at = (size_t)json_object_get_int64(ix);
            if (by[at]) {
                ERR("index %zu appears twice", at);
                goto out;
            }
            by[at] = e;
            if (!json_object_object_get_ex(e, "score", &sc) || !num(sc, &v)) {
                ERR("rank %zu has no finite \"score\"", i + 1);
                goto out;
            }
            out[at].ok = 1;
            out[at].raw = v;
        }
        st = RLVR_RM_REPLY_OK;
        goto out;
    }
    int count = 0;
    if (vllm_entries(root, n, by, err, err_len, &count)) {
        st = count ? RLVR_RM_REPLY_COUNT : RLVR_RM_REPLY_BAD;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *e = by[i], *x;
        double v = 0;
        if (api == RLVR_RM_VLLM_SCORE) {
            if (!json_object_object_get_ex(e, "score", &x) || !num(x, &v)) {
                ERR("input %zu: no finite \"score\"", i + 1);
                goto out;
            }
        } else if (api == RLVR_RM_VLLM_CLASSIFY) {
            if (!json_object_object_get_ex(e, "probs", &x) || !json_object_is_type(x, json_type_array)
                || json_object_array_length(x) == 0) {
                ERR("input %zu: no \"probs\" list", i + 1);
                goto out;
            }
            int r = pick(x, label, &v, out[i].why, sizeof out[i].why);
            if (r == -2) {
                ERR("input %zu: %s", i + 1, out[i].why);
                goto out;
            }
            if (r) continue;
        } else { /* pooling: a number, per-token rewards, or per-token vectors */
            if (!json_object_object_get_ex(e, "data", &x)) {
                ERR("input %zu: no \"data\"", i + 1);
                goto out;
            }
            if (json_object_is_type(x, json_type_array)) {
                size_t k = json_object_array_length(x);
                if (k == 0) {
                    ERR("input %zu: an empty \"data\" list", i + 1);
                    goto out;
                }
                json_object *last = json_object_array_get_idx(x, k - 1);
                int r;
                if (json_object_is_type(last, json_type_array)) { /* per-token vectors: the last token's */
                    if (json_object_array_length(last) == 0) {
                        ERR("input %zu: an empty vector", i + 1);
                        goto out;
                    }
                    r = pick(last, label, &v, out[i].why, sizeof out[i].why);
                } else if (label->has_index) { /* one pooled vector: its class */
                    r = pick(x, label, &v, out[i].why, sizeof out[i].why);
                } else if (label->name[0]) {
                    snprintf(out[i].why, sizeof out[i].why, "label \"%.60s\" is a name; pooled data is read by index",
                             label->name);
                    r = -1;
                } else { /* per-token rewards: the last token's (the outcome reward) */
                    r = num(last, &v) ? 0 : -2;
                    if (r) snprintf(out[i].why, sizeof out[i].why, "the last token's reward is not a finite number");
                }
                if (r == -2) {
                    ERR("input %zu: %s", i + 1, out[i].why);
                    goto out;
                }
                if (r) continue;
            } else if (!num(x, &v)) {
                ERR("input %zu: \"data\" is not a finite number or a list", i + 1);
                goto out;
            }
        }
        out[i].ok = 1;
        out[i].raw = v;
    }
    st = RLVR_RM_REPLY_OK;
out:
    free(by);
    json_object_put(root);
    return st;
}

/* ---- template ---------------------------------------------------------------------------- */

enum { T_TEXT, T_PROMPT, T_COMPLETION };

struct rlvr_rm_template {
    size_t n;
    struct piece { int kind; char *text; size_t len; } *pieces;
    int uses_prompt;
};

void rlvr_rm_template_free(rlvr_rm_template *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->pieces[i].text);
    free(t->pieces);
    free(t);
}

static int add_piece(rlvr_rm_template *t, int kind, const char *s, size_t len)
{
    if (kind == T_TEXT && len == 0) return 0;
    struct piece *p = realloc(t->pieces, (t->n + 1) * sizeof *p);
    if (!p) return -1;
    t->pieces = p;
    p[t->n].kind = kind;
    p[t->n].text = NULL;
    p[t->n].len = len;
    if (kind == T_TEXT) {
        if (!(p[t->n].text = malloc(len + 1))) return -1;
        memcpy(p[t->n].text, s, len);
        p[t->n].text[len] = 0;
    }
    t->n++;
    return 0;
}

rlvr_rm_template *rlvr_rm_template_parse(const char *text, size_t len, char *err, size_t err_len)
{
    rlvr_rm_template *t = calloc(1, sizeof *t);
    char *lit = calloc(1, len + 1);
    size_t ll = 0;
    int has_completion = 0;
    if (!t || !lit) {
        ERR("out of memory");
        goto fail;
    }
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if ((c == '{' || c == '}') && i + 1 < len && text[i + 1] == c) {
            lit[ll++] = c;
            i++;
            continue;
        }
        if (c == '}') {
            ERR("a lone '}' at byte %zu (write }} for a literal brace)", i + 1);
            goto fail;
        }
        if (c != '{') {
            lit[ll++] = c;
            continue;
        }
        const char *close = memchr(text + i, '}', len - i);
        if (!close) {
            ERR("an unclosed '{' at byte %zu (write {{ for a literal brace)", i + 1);
            goto fail;
        }
        size_t nl = (size_t)(close - (text + i + 1));
        int kind;
        if (nl == 6 && memcmp(text + i + 1, "prompt", 6) == 0) kind = T_PROMPT;
        else if (nl == 10 && memcmp(text + i + 1, "completion", 10) == 0) kind = T_COMPLETION;
        else {
            ERR("unknown placeholder {%.*s} (use {prompt} and {completion})", (int)(nl > 40 ? 40 : nl), text + i + 1);
            goto fail;
        }
        if (add_piece(t, T_TEXT, lit, ll) || add_piece(t, kind, NULL, 0)) {
            ERR("out of memory");
            goto fail;
        }
        ll = 0;
        if (kind == T_PROMPT) t->uses_prompt = 1;
        else has_completion = 1;
        i += nl + 1;
    }
    if (add_piece(t, T_TEXT, lit, ll)) {
        ERR("out of memory");
        goto fail;
    }
    if (!has_completion) {
        ERR("the template never inserts {completion}");
        goto fail;
    }
    free(lit);
    return t;
fail:
    free(lit);
    rlvr_rm_template_free(t);
    return NULL;
}

int rlvr_rm_template_uses_prompt(const rlvr_rm_template *t) { return t->uses_prompt; }

char *rlvr_rm_template_render(const rlvr_rm_template *t, const char *prompt, size_t prompt_len,
                              const char *completion, size_t completion_len, size_t *out_len)
{
    size_t total = 0;
    for (size_t i = 0; i < t->n; i++)
        total += t->pieces[i].kind == T_TEXT ? t->pieces[i].len
                 : t->pieces[i].kind == T_PROMPT ? prompt_len : completion_len;
    char *out = malloc(total + 1), *w = out;
    if (!out) return NULL;
    for (size_t i = 0; i < t->n; i++) {
        const struct piece *p = &t->pieces[i];
        const char *s = p->kind == T_TEXT ? p->text : p->kind == T_PROMPT ? prompt : completion;
        size_t n = p->kind == T_TEXT ? p->len : p->kind == T_PROMPT ? prompt_len : completion_len;
        if (n) memcpy(w, s, n);
        w += n;
    }
    *w = 0;
    *out_len = total;
    return out;
}

/* ---- caps -------------------------------------------------------------------------------- */

/* Byte offset after the first k code points (UTF-8 continuation bytes do not count). */
static size_t after_chars(const char *s, size_t len, size_t k)
{
    size_t i = 0, c = 0;
    while (i < len) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (c == k) return i;
            c++;
        }
        i++;
    }
    return len;
}

static size_t count_chars(const char *s, size_t len)
{
    size_t c = 0;
    for (size_t i = 0; i < len; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

int rlvr_rm_cap(const char *text, size_t len, size_t max_chars, const char **out, size_t *out_len, char **buf,
                size_t *cut)
{
    *buf = NULL;
    *out = text;
    *out_len = len;
    *cut = 0;
    if (max_chars == 0 || len <= max_chars) return 0; /* bytes >= code points */
    size_t chars = count_chars(text, len);
    if (chars <= max_chars) return 0;
    static const char mark[] = "\n...\n";
    size_t head_chars = max_chars / 2, tail_chars = max_chars - head_chars;
    size_t head = after_chars(text, len, head_chars);
    size_t tail_at = after_chars(text, len, chars - tail_chars);
    size_t n = head + (sizeof mark - 1) + (len - tail_at);
    char *b = malloc(n + 1);
    if (!b) return -1;
    memcpy(b, text, head);
    memcpy(b + head, mark, sizeof mark - 1);
    memcpy(b + head + sizeof mark - 1, text + tail_at, len - tail_at);
    b[n] = 0;
    *buf = b;
    *out = b;
    *out_len = n;
    *cut = chars - max_chars;
    return 0;
}

/* ---- normalisation ------------------------------------------------------------------------ */

double rlvr_rm_normalize(rlvr_rm_norm norm, double raw, double lo, double hi, int clamp)
{
    double v = raw;
    if (norm == RLVR_RM_NORM_SIGMOID) {
        if (raw >= 0) v = 1.0 / (1.0 + exp(-raw));
        else {
            double e = exp(raw);
            v = e / (1.0 + e);
        }
    } else if (norm == RLVR_RM_NORM_MINMAX && hi > lo) {
        v = (raw - lo) / (hi - lo);
    }
    if (clamp) v = v < 0 ? 0 : v > 1 ? 1 : v;
    return v;
}
