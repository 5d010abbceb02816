/*
 * services.c -- the table of host services handed to every plugin
 * (rlvr_host in rlvr_plugin.h).
 *
 * Invariants: every service tolerates NULL and unknown arguments (logging
 * and returning a zero value rather than crashing the host); services that
 * write a result touch only that result, so distinct results may be
 * written from distinct threads at once.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "result.h"
#include "sample.h"
#include "util.h"

static rlvr_registry *services_registry;
static rlvr_log_level log_level = RLVR_LOG_WARN;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER; /* non-reentrant call_plugin targets */

void rlvr_services_set_registry(rlvr_registry *r) { services_registry = r; }
void rlvr_services_set_log_level(rlvr_log_level level) { log_level = level; }

static void svc_log(rlvr_log_level level, const char *plugin, const char *fmt, ...)
{
    if (level > log_level) return;
    if (level > RLVR_LOG_DEBUG) level = RLVR_LOG_DEBUG;
    static const char *const words[] = {"error", "warning", "info", "debug"};
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    if (plugin) fprintf(stderr, "rlvr: %s [%s]: %s\n", words[level], plugin, msg);
    else fprintf(stderr, "rlvr: %s: %s\n", words[level], msg);
    pthread_mutex_unlock(&log_lock);
}

static void *svc_alloc(size_t n) { return malloc(n ? n : 1); }
static void *svc_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
static void svc_free(void *p) { free(p); }

static const struct rlvr_config_value *find_value(const rlvr_config *cfg, const char *key, rlvr_option_type t)
{
    if (!cfg || !key) return NULL;
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->values[i].opt->name, key) == 0) {
            if (cfg->values[i].opt->type == t
                || (t == RLVR_OPT_STRING && cfg->values[i].opt->type == RLVR_OPT_JSON))
                return &cfg->values[i];
            svc_log(RLVR_LOG_ERROR, cfg->plugin ? cfg->plugin->name : NULL,
                    "configuration key '%s' read as %s but declared %s", key, rlvr_option_type_name(t),
                    rlvr_option_type_name(cfg->values[i].opt->type));
            return NULL;
        }
    svc_log(RLVR_LOG_ERROR, cfg->plugin ? cfg->plugin->name : NULL, "configuration key '%s' is not declared", key);
    return NULL;
}

static int svc_config_bool(const rlvr_config *cfg, const char *key)
{
    const struct rlvr_config_value *v = find_value(cfg, key, RLVR_OPT_BOOL);
    return v ? v->b : 0;
}

static int64_t svc_config_int(const rlvr_config *cfg, const char *key)
{
    const struct rlvr_config_value *v = find_value(cfg, key, RLVR_OPT_INT);
    return v ? v->i : 0;
}

static double svc_config_number(const rlvr_config *cfg, const char *key)
{
    const struct rlvr_config_value *v = find_value(cfg, key, RLVR_OPT_NUMBER);
    return v ? v->d : 0;
}

static rlvr_text svc_config_string(const rlvr_config *cfg, const char *key)
{
    const struct rlvr_config_value *v = find_value(cfg, key, RLVR_OPT_STRING);
    rlvr_text t = {NULL, 0};
    if (v) { t.ptr = v->s; t.len = v->slen; }
    return t;
}

static int svc_sample_field(const rlvr_sample *s, const char *path, rlvr_text *out)
{
    if (!out) return -1;
    out->ptr = NULL;
    out->len = 0;
    if (!s || !s->host_data) return -1;
    return rlvr_sample_field((rlvr_hsample *)s->host_data, path, out);
}

static int svc_sample_component(const rlvr_sample *s, const char *name, double *value)
{
    if (!s || !s->host_data || !name) return -1;
    rlvr_hsample *hs = (rlvr_hsample *)s->host_data;
    double v = 0;
    int st = hs->component ? hs->component(hs, name, &v) : -1;
    if (value) *value = st == RLVR_OK ? v : 0;
    return st;
}

static rlvr_hresult *hres(rlvr_result *r) { return r ? (rlvr_hresult *)r->host_data : NULL; }

static void svc_set_status(rlvr_result *r, rlvr_status status, double score)
{
    if (!r) return;
    r->status = status;
    r->score = score;
    r->filled = 1;
}

static void svc_set_reason(rlvr_result *r, const char *fmt, ...)
{
    rlvr_hresult *h = hres(r);
    if (!h || !fmt) return;
    rlvr_buf_clear(&h->reason);
    va_list ap;
    va_start(ap, fmt);
    rlvr_buf_vprintf(&h->reason, fmt, ap);
    va_end(ap);
}

/* Starts a detail member; 0 when the key is new and valid. */
static int detail_key(rlvr_hresult *h, const char *key)
{
    if (!h || !key || !*key) return -1;
    if (strcmp(key, "status") == 0 || strcmp(key, "reason") == 0 || strcmp(key, "message") == 0) return -1;
    size_t klen = strlen(key);
    /* Keys are unique: look for "key": at a member start. */
    for (const char *p = h->details.ptr; p && (p = strstr(p, key));) {
        if (p > h->details.ptr && p[-1] == '"' && p[klen] == '"' && p[klen + 1] == ':'
            && (p - 1 == h->details.ptr || p[-2] == ','))
            return -1;
        p += klen;
    }
    if (h->details.len) rlvr_buf_addc(&h->details, ',');
    rlvr_buf_json_string(&h->details, key, klen);
    rlvr_buf_addc(&h->details, ':');
    return 0;
}

static void svc_detail_string(rlvr_result *r, const char *key, const char *s, size_t len)
{
    rlvr_hresult *h = hres(r);
    if (!s) { if (detail_key(h, key) == 0) rlvr_buf_adds(&h->details, "null"); return; }
    size_t bad;
    if (!rlvr_utf8_valid(s, len, &bad)) len = bad; /* cut at the first invalid byte */
    if (detail_key(h, key) == 0) rlvr_buf_json_string(&h->details, s, len);
}

static void svc_detail_number(rlvr_result *r, const char *key, double v)
{
    rlvr_hresult *h = hres(r);
    if (detail_key(h, key) == 0) rlvr_buf_json_number(&h->details, v);
}

static void svc_detail_json(rlvr_result *r, const char *key, const char *json, size_t len)
{
    rlvr_hresult *h = hres(r);
    if (!h) return;
    json_tokener *tok = json && len < INT_MAX ? json_tokener_new() : NULL;
    json_object *o = tok ? json_tokener_parse_ex(tok, json, (int)len) : NULL;
    int good = 0;
    if (tok) {
        enum json_tokener_error e = json_tokener_get_error(tok);
        if (e == json_tokener_continue && json_tokener_get_parse_end(tok) == len) {
            /* A bare literal or number ("true", "12") ends only at the end
             * of input: say so with a terminating NUL. */
            o = json_tokener_parse_ex(tok, "", 1);
            good = json_tokener_get_error(tok) == json_tokener_success;
        } else {
            good = e == json_tokener_success && json_tokener_get_parse_end(tok) == len;
        }
    }
    char m[120];
    if (good && rlvr_json_text_check(json, len, m, sizeof m)) good = 0;
    if (!good) {
        /* The result becomes an error when the plugin returns, whatever
         * status it sets afterwards (rlvr_hresult_check). */
        if (h->fault.len == 0) rlvr_buf_printf(&h->fault, "detail '%s' is not valid JSON", key ? key : "?");
    } else if (detail_key(h, key) == 0) {
        rlvr_json_write(&h->details, o);
    }
    json_object_put(o);
    if (tok) json_tokener_free(tok);
}

static int svc_call_plugin(const rlvr_call *call, const char *name, const rlvr_sample *s, double *score,
                           char *reason, size_t reason_len)
{
    if (reason && reason_len) reason[0] = 0;
    if (score) *score = 0;
    if (!services_registry || !name || !s) {
        rlvr_errf(reason, reason_len, "call_plugin: no registry or bad arguments");
        return RLVR_ERROR;
    }
    char err[512];
    rlvr_loaded *p = rlvr_registry_get(services_registry, name, err, sizeof err);
    if (!p) { rlvr_errf(reason, reason_len, "%s", err); return RLVR_ERROR; }
    void *inst = rlvr_loaded_default_instance(services_registry, p, err, sizeof err);
    if (p->default_failed) { rlvr_errf(reason, reason_len, "%s", err); return RLVR_ERROR; }
    rlvr_hresult r = {0};
    rlvr_hresult_reset(&r);
    rlvr_call c = {sizeof c, call ? call->worker : 0, call ? call->n_workers : 1, call ? call->step : 0, p->name, NULL};
    int serial = !(p->desc.flags & RLVR_REENTRANT);
    if (serial) pthread_mutex_lock(&call_lock);
    if (p->desc.score) {
        p->desc.score(inst, &c, s, &r.pub);
    } else {
        const rlvr_sample *ss[1] = {s};
        rlvr_result *rr[1] = {&r.pub};
        p->desc.score_batch(inst, &c, 1, ss, rr);
        if (!r.pub.filled) rlvr_hresult_fail(&r, "%s left its result unfilled", p->name);
    }
    if (serial) pthread_mutex_unlock(&call_lock);
    rlvr_hresult_check(&r, p->name);
    if (score) *score = r.pub.status == RLVR_OK ? r.pub.score : 0;
    if (r.reason.len) rlvr_errf(reason, reason_len, "%s", r.reason.ptr);
    int st = r.pub.status;
    rlvr_hresult_free(&r);
    return st;
}

static const rlvr_plugin *svc_config_plugin(const rlvr_config *cfg)
{
    return cfg && cfg->plugin ? cfg->plugin->raw : NULL;
}

const rlvr_host rlvr_host_services = {
    .struct_size = sizeof(rlvr_host),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .log = svc_log,
    .alloc = svc_alloc,
    .realloc = svc_realloc,
    .free = svc_free,
    .config_bool = svc_config_bool,
    .config_int = svc_config_int,
    .config_number = svc_config_number,
    .config_string = svc_config_string,
    .sample_field = svc_sample_field,
    .sample_component = svc_sample_component,
    .set_status = svc_set_status,
    .set_reason = svc_set_reason,
    .detail_string = svc_detail_string,
    .detail_number = svc_detail_number,
    .detail_json = svc_detail_json,
    .call_plugin = svc_call_plugin,
    .config_plugin = svc_config_plugin,
};
