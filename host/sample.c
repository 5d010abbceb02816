/*
 * sample.c -- parsing one JSONL line into an rlvr_sample (see sample.h).
 *
 * Invariants: a parse either fills every common field of pub or sets
 * err_stage; text handed to plugins is valid UTF-8 with its exact length
 * (embedded NULs kept); a 64-bit integer id is echoed digit for digit, and
 * an integer id too large for json-c is echoed from the raw line.
 */
#include "sample.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the field map -------------------------------------------------------- */

int rlvr_field_map_add(rlvr_field_map *m, const char *spec, char *err, size_t err_len)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) {
        rlvr_errf(err, err_len, "--field '%s': expected NAME=PATH, e.g. answer=reward_model.ground_truth", spec);
        return -1;
    }
    struct rlvr_field_rule *r = realloc(m->rules, (m->n + 1) * sizeof *r);
    if (!r) { rlvr_errf(err, err_len, "out of memory"); return -1; }
    m->rules = r;
    r[m->n].name = strndup(spec, (size_t)(eq - spec));
    r[m->n].path = strdup(eq + 1);
    if (!r[m->n].name || !r[m->n].path) {
        free(r[m->n].name);
        free(r[m->n].path);
        rlvr_errf(err, err_len, "out of memory");
        return -1;
    }
    m->n++;
    return 0;
}

void rlvr_field_map_free(rlvr_field_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->rules[i].name);
        free(m->rules[i].path);
    }
    free(m->rules);
    m->rules = NULL;
    m->n = 0;
}

/* Walk a dotted path of plen bytes from o; numeric segments index arrays
 * (negative from the end). Returns 1 when the path exists, with its value in
 * *out (NULL for JSON null, as json-c has it), else 0. An empty path is o. */
static int walk(json_object *o, const char *path, size_t plen, json_object **out)
{
    const char *p = path, *end = path + plen;
    while (p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        char key[256];
        if (n >= sizeof key) return 0;
        memcpy(key, p, n);
        key[n] = 0;
        if (json_object_is_type(o, json_type_object)) {
            if (!json_object_object_get_ex(o, key, &o)) return 0;
        } else if (json_object_is_type(o, json_type_array)) {
            char *e;
            errno = 0;
            long idx = strtol(key, &e, 10);
            if (e == key || *e || errno) return 0;
            long len = (long)json_object_array_length(o);
            if (idx < 0) idx += len;
            if (idx < 0 || idx >= len) return 0;
            o = json_object_array_get_idx(o, (size_t)idx);
        } else {
            return 0; /* a scalar or null has no fields */
        }
        p = dot ? dot + 1 : end;
    }
    *out = o;
    return 1;
}

/* The value of sample field `path` (NULL for JSON null); its first segment
 * is read from the field map's path when a rule names it. *found tells an
 * absent field from a null one. */
static json_object *lookup(json_object *root, const rlvr_field_map *map, const char *path, int *found)
{
    size_t first = strcspn(path, ".");
    json_object *base = root, *o = NULL;
    const char *rest = path;
    for (size_t i = 0; map && i < map->n; i++) {
        if (strlen(map->rules[i].name) == first && memcmp(map->rules[i].name, path, first) == 0) {
            if (!walk(root, map->rules[i].path, strlen(map->rules[i].path), &base)) {
                *found = 0;
                return NULL;
            }
            rest = path[first] ? path + first + 1 : path + first;
            break;
        }
    }
    *found = walk(base, rest, strlen(rest), &o);
    return *found ? o : NULL;
}

json_object *rlvr_sample_get(rlvr_hsample *s, const char *path, int *found)
{
    *found = 0;
    return s->root && path ? lookup(s->root, s->map, path, found) : NULL;
}

/* ---- JSON writing --------------------------------------------------------- */

void rlvr_json_write(rlvr_buf *b, json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null: rlvr_buf_add(b, "null", 4); break;
    case json_type_boolean: rlvr_buf_adds(b, json_object_get_boolean(o) ? "true" : "false"); break;
    case json_type_int:
        if (json_object_get_int64(o) == INT64_MAX && json_object_get_uint64(o) > (uint64_t)INT64_MAX)
            rlvr_buf_printf(b, "%" PRIu64, json_object_get_uint64(o));
        else
            rlvr_buf_printf(b, "%" PRId64, json_object_get_int64(o));
        break;
    case json_type_double: rlvr_buf_json_number(b, json_object_get_double(o)); break;
    case json_type_string:
        rlvr_buf_json_string(b, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        break;
    case json_type_array: {
        size_t n = json_object_array_length(o);
        rlvr_buf_addc(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i) rlvr_buf_addc(b, ',');
            rlvr_json_write(b, json_object_array_get_idx(o, i));
        }
        rlvr_buf_addc(b, ']');
        break;
    }
    case json_type_object: {
        int first = 1;
        rlvr_buf_addc(b, '{');
        json_object_object_foreach(o, k, v) {
            if (!first) rlvr_buf_addc(b, ',');
            first = 0;
            rlvr_buf_json_string(b, k, strlen(k));
            rlvr_buf_addc(b, ':');
            rlvr_json_write(b, v);
        }
        rlvr_buf_addc(b, '}');
        break;
    }
    }
}

/* ---- the raw-text check --------------------------------------------------- */

static int hex4(const char *s, const char *end, unsigned *v)
{
    if (end - s < 4) return -1;
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') x |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') x |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *v = x;
    return 0;
}

int rlvr_json_text_check(const char *s, size_t n, char *err, size_t err_len)
{
    size_t bad;
    if (!rlvr_utf8_valid(s, n, &bad)) {
        rlvr_errf(err, err_len, "invalid UTF-8 at byte %zu", bad + 1);
        return -1;
    }
    const char *end = s + n;
    for (const char *p = memchr(s, '\\', n); p; p = memchr(p, '\\', (size_t)(end - p))) {
        if (p + 1 >= end) break;
        if (p[1] != 'u') { p += 2; continue; }
        unsigned u;
        if (hex4(p + 2, end, &u)) { p += 2; continue; } /* the parser reports it */
        if (u >= 0xDC00 && u <= 0xDFFF) goto lone;
        if (u >= 0xD800 && u <= 0xDBFF) {
            unsigned lo;
            if (p + 12 > end || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, end, &lo)
                || lo < 0xDC00 || lo > 0xDFFF)
                goto lone;
            p += 12;
            continue;
        }
        p += 6;
        continue;
    lone:
        rlvr_errf(err, err_len, "lone UTF-16 surrogate escape \\u%04X at byte %zu", u, (size_t)(p - s) + 1);
        return -1;
    }
    return 0;
}

/* ---- samples -------------------------------------------------------------- */

void rlvr_sample_init(rlvr_hsample *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->scratch_lock, NULL);
}

void rlvr_sample_reset(rlvr_hsample *s)
{
    if (s->root) json_object_put(s->root);
    s->root = NULL;
    for (rlvr_scratch *c = s->scratch, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    s->scratch = NULL;
    s->err_stage = NULL;
    s->err_msg[0] = 0;
    rlvr_buf_clear(&s->prompt_buf);
    rlvr_buf_clear(&s->completion_buf);
    rlvr_buf_clear(&s->id_buf);
    rlvr_buf_clear(&s->answer_buf);
    rlvr_buf_clear(&s->group_buf);
    memset(&s->pub, 0, sizeof s->pub);
}

void rlvr_sample_destroy(rlvr_hsample *s)
{
    rlvr_sample_reset(s);
    rlvr_buf_free(&s->prompt_buf);
    rlvr_buf_free(&s->completion_buf);
    rlvr_buf_free(&s->id_buf);
    rlvr_buf_free(&s->answer_buf);
    rlvr_buf_free(&s->group_buf);
    pthread_mutex_destroy(&s->scratch_lock);
}

static int fail(rlvr_hsample *s, const char *stage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(rlvr_hsample *s, const char *stage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err_msg, sizeof s->err_msg, fmt, ap);
    va_end(ap);
    s->err_stage = stage;
    return -1;
}

static void set_text(rlvr_text *t, const char *p, size_t n)
{
    t->ptr = p;
    t->len = n;
}

/* Text of a string, or a chat content (string or list of parts). */
static int content_text(json_object *c, rlvr_buf *b, rlvr_text *out)
{
    if (json_object_is_type(c, json_type_string)) {
        set_text(out, json_object_get_string(c), (size_t)json_object_get_string_len(c));
        return 0;
    }
    if (json_object_is_type(c, json_type_array)) {
        size_t start = b->len;
        for (size_t i = 0; i < json_object_array_length(c); i++) {
            json_object *part = json_object_array_get_idx(c, i), *t;
            if (json_object_is_type(part, json_type_string)) t = part;
            else if (!json_object_object_get_ex(part, "text", &t) || !json_object_is_type(t, json_type_string)) continue;
            rlvr_buf_add(b, json_object_get_string(t), (size_t)json_object_get_string_len(t));
        }
        if (b->oom) return -1;
        set_text(out, b->ptr ? b->ptr + start : "", b->len - start);
        return 0;
    }
    return -1;
}

/* The raw text of the top-level "id" value, for integers json-c clamped. */
static int raw_top_level_id(const char *t, size_t n, rlvr_buf *out)
{
    const char *end = t + n;
    int depth = 0;
    for (const char *p = t; p < end; p++) {
        if (*p == '"') {
            const char *q = p + 1;
            while (q < end && *q != '"') q += *q == '\\' ? 2 : 1;
            if (q >= end) return -1;
            if (depth == 1 && q - p - 1 == 2 && memcmp(p + 1, "id", 2) == 0) {
                const char *v = q + 1;
                while (v < end && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')) v++;
                if (v < end && *v == ':') {
                    v++;
                    while (v < end && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')) v++;
                    const char *w = v;
                    while (w < end && (*w == '-' || *w == '+' || *w == '.' || *w == 'e' || *w == 'E'
                                       || (*w >= '0' && *w <= '9')))
                        w++;
                    if (w == v) return -1;
                    rlvr_buf_clear(out);
                    rlvr_buf_add(out, v, (size_t)(w - v));
                    return 0;
                }
            }
            p = q;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
        }
    }
    return -1;
}

static int int_clamped(json_object *o)
{
    int64_t i = json_object_get_int64(o);
    return i == INT64_MIN || (i == INT64_MAX && json_object_get_uint64(o) == UINT64_MAX);
}

int rlvr_sample_parse(rlvr_hsample *s, json_tokener *tok, const char *text, size_t len,
                      int64_t line, const rlvr_field_map *map)
{
    rlvr_sample_reset(s);
    s->map = map;
    s->pub.struct_size = sizeof s->pub;
    s->pub.line = line;
    s->pub.completion_tokens = -1;
    s->pub.host_data = s;
    rlvr_buf_printf(&s->id_buf, "%" PRId64, line);
    set_text(&s->pub.id, s->id_buf.ptr, s->id_buf.len);

    char msg[200];
    if (rlvr_json_text_check(text, len, msg, sizeof msg))
        return fail(s, "parse", "%s", msg);
    json_tokener_reset(tok);
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    if (!root || e != json_tokener_success) {
        if (root) json_object_put(root);
        if (e == json_tokener_continue) return fail(s, "parse", "malformed JSON: the line ends inside a value");
        return fail(s, "parse", "malformed JSON at byte %zu: %s", used + 1, json_tokener_error_desc(e));
    }
    while (used < len && (text[used] == ' ' || text[used] == '\t' || text[used] == '\r')) used++;
    if (used < len) {
        json_object_put(root);
        return fail(s, "parse", "malformed JSON: text after the object at byte %zu", used + 1);
    }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return fail(s, "parse", "a sample must be a JSON object");
    }
    s->root = root;

    int found;
    json_object *o = lookup(root, map, "id", &found);
    if (found && o) {
        if (json_object_is_type(o, json_type_string) || json_object_is_type(o, json_type_int)
            || json_object_is_type(o, json_type_double)) {
            rlvr_buf_clear(&s->id_buf);
            if (json_object_is_type(o, json_type_int) && int_clamped(o)
                && raw_top_level_id(text, len, &s->id_buf) == 0)
                ;
            else if (json_object_is_type(o, json_type_double))
                rlvr_buf_adds(&s->id_buf, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
            else
                rlvr_json_write(&s->id_buf, o);
            set_text(&s->pub.id, s->id_buf.ptr, s->id_buf.len);
        } else {
            return fail(s, "input", "field 'id' must be a string or a number");
        }
    }

    o = lookup(root, map, "completion", &found);
    if (!found || !o)
        return fail(s, "input", "missing field 'completion'");
    if (json_object_is_type(o, json_type_string)) {
        set_text(&s->pub.completion, json_object_get_string(o), (size_t)json_object_get_string_len(o));
    } else if (json_object_is_type(o, json_type_array)) {
        json_object *msg_o = NULL;
        for (size_t i = json_object_array_length(o); i-- > 0;) {
            json_object *m = json_object_array_get_idx(o, i), *role;
            if (json_object_object_get_ex(m, "role", &role) && json_object_is_type(role, json_type_string)
                && strcmp(json_object_get_string(role), "assistant") == 0) {
                msg_o = m;
                break;
            }
        }
        json_object *content;
        if (!msg_o)
            return fail(s, "input", "field 'completion' is a list of messages with no assistant message");
        if (!json_object_object_get_ex(msg_o, "content", &content)
            || content_text(content, &s->completion_buf, &s->pub.completion))
            return fail(s, "input", "field 'completion': the last assistant message has no text content");
    } else {
        return fail(s, "input", "field 'completion' must be a string or a list of chat messages");
    }

    o = lookup(root, map, "prompt", &found);
    if (found && o) {
        if (json_object_is_type(o, json_type_string)) {
            set_text(&s->pub.prompt, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        } else if (json_object_is_type(o, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(o); i++) {
                json_object *m = json_object_array_get_idx(o, i), *content;
                rlvr_text t;
                if (!json_object_object_get_ex(m, "content", &content)) continue;
                if (s->prompt_buf.len) rlvr_buf_addc(&s->prompt_buf, '\n');
                rlvr_buf tmp = {0};
                if (content_text(content, &tmp, &t) == 0) rlvr_buf_add(&s->prompt_buf, t.ptr, t.len);
                rlvr_buf_free(&tmp);
            }
            set_text(&s->pub.prompt, s->prompt_buf.ptr ? s->prompt_buf.ptr : "", s->prompt_buf.len);
        } else {
            return fail(s, "input", "field 'prompt' must be a string or a list of chat messages");
        }
    }

    /* answer and group: strings as they are, other values as JSON text. */
    struct { const char *name; rlvr_text *dst; rlvr_buf *buf; int strict; } texts[] = {
        {"answer", &s->pub.answer, &s->answer_buf, 0},
        {"group", &s->pub.group, &s->group_buf, 1},
    };
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        o = lookup(root, map, texts[k].name, &found);
        if (!found || !o) continue;
        if (json_object_is_type(o, json_type_string)) {
            set_text(texts[k].dst, json_object_get_string(o), (size_t)json_object_get_string_len(o));
            continue;
        }
        if (texts[k].strict && !json_object_is_type(o, json_type_int))
            return fail(s, "input", "field '%s' must be a string or an integer", texts[k].name);
        rlvr_json_write(texts[k].buf, o);
        set_text(texts[k].dst, texts[k].buf->ptr, texts[k].buf->len);
    }

    struct { const char *name; rlvr_text *dst; } strs[] = {
        {"language", &s->pub.language},
        {"finish_reason", &s->pub.finish_reason},
    };
    for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) {
        o = lookup(root, map, strs[k].name, &found);
        if (!found || !o) continue;
        if (!json_object_is_type(o, json_type_string))
            return fail(s, "input", "field '%s' must be a string", strs[k].name);
        set_text(strs[k].dst, json_object_get_string(o), (size_t)json_object_get_string_len(o));
    }

    o = lookup(root, map, "completion_tokens", &found);
    if (found && o) {
        if (!json_object_is_type(o, json_type_int) || json_object_get_int64(o) < 0)
            return fail(s, "input", "field 'completion_tokens' must be a non-negative integer");
        s->pub.completion_tokens = json_object_get_int64(o);
    }
    if (s->prompt_buf.oom || s->completion_buf.oom || s->id_buf.oom || s->answer_buf.oom || s->group_buf.oom)
        return fail(s, "input", "out of memory");
    return 0;
}

int rlvr_sample_field(rlvr_hsample *s, const char *path, rlvr_text *out)
{
    out->ptr = NULL;
    out->len = 0;
    int found;
    json_object *o = rlvr_sample_get(s, path, &found);
    if (!found) return -1;
    rlvr_buf b = {0};
    rlvr_json_write(&b, o);
    if (b.oom) { rlvr_buf_free(&b); return -1; }
    rlvr_scratch *c = malloc(sizeof *c + b.len + 1);
    if (!c) { rlvr_buf_free(&b); return -1; }
    memcpy(c->data, b.ptr, b.len + 1);
    c->len = b.len;
    rlvr_buf_free(&b);
    pthread_mutex_lock(&s->scratch_lock);
    c->next = s->scratch;
    s->scratch = c;
    pthread_mutex_unlock(&s->scratch_lock);
    out->ptr = c->data;
    out->len = c->len;
    return 0;
}
