/*
 * http_plugin.c -- the client and the cache of an HTTP-backed plugin (judge,
 * rm), built from the options of RLVR_HTTP_OPTIONS; see http_plugin.h.
 */
#include "http_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *text_dup(rlvr_text t)
{
    size_t n = t.ptr ? t.len : 0;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, t.ptr, n);
    s[n] = 0;
    return s;
}

#define FAIL(...)                              \
    do {                                       \
        snprintf(err, err_len, __VA_ARGS__);   \
        goto fail;                             \
    } while (0)

int rlvr_http_plugin_open(const rlvr_host *h, const rlvr_config *cfg, const char *plugin, const char *path,
                          rlvr_judge_client **client, rlvr_judge_cache **cache, char *err, size_t err_len)
{
    char *url = NULL, *tmp = NULL;
    *client = NULL;
    *cache = NULL;
    rlvr_text bu = h->config_string(cfg, "base_url");
    size_t bl = bu.ptr ? bu.len : 0;
    while (bl && bu.ptr[bl - 1] == '/') bl--;
    if (bl == 0) FAIL("base_url: empty");
    if (memchr(bu.ptr, 0, bl) || memchr(bu.ptr, ' ', bl) || memchr(bu.ptr, '\n', bl))
        FAIL("base_url: must be a URL without spaces");
    size_t pl = strlen(path);
    int has_path = bl >= pl && memcmp(bu.ptr + bl - pl, path, pl) == 0;
    if (!(url = malloc(bl + pl + 1))) FAIL("out of memory");
    memcpy(url, bu.ptr, bl);
    memcpy(url + bl, has_path ? "" : path, has_path ? 1 : pl + 1);

    rlvr_judge_client_options co;
    rlvr_judge_client_options_init(&co);
    co.url = url;
    rlvr_text kenv = h->config_string(cfg, "api_key_env");
    if (kenv.ptr && kenv.len) {
        if (!(tmp = text_dup(kenv))) FAIL("out of memory");
        const char *key = getenv(tmp);
        if (!key || !*key) FAIL("api_key_env: the environment variable %s is not set or empty", tmp);
        for (const char *p = key; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                FAIL("api_key_env: the value of %s holds a control character", tmp);
        co.api_key = key;
    }
    co.timeout_ms = (long)h->config_int(cfg, "timeout_ms");
    co.connect_timeout_ms = (long)h->config_int(cfg, "connect_timeout_ms");
    co.total_timeout_ms = (long)h->config_int(cfg, "total_timeout_ms");
    co.max_retries = (int)h->config_int(cfg, "max_retries");
    co.backoff_ms = (long)h->config_int(cfg, "backoff_ms");
    co.max_backoff_ms = (long)h->config_int(cfg, "max_backoff_ms");
    if (co.max_backoff_ms < co.backoff_ms) FAIL("max_backoff_ms: below backoff_ms");
    co.max_concurrency = (int)h->config_int(cfg, "max_concurrency");
    co.max_reply_bytes = (size_t)h->config_int(cfg, "max_reply_bytes");
    char cerr[300];
    if (!(*client = rlvr_judge_client_new(&co, cerr, sizeof cerr))) FAIL("base_url: %s", cerr);

    if (h->config_bool(cfg, "cache")) {
        free(tmp);
        if (!(tmp = text_dup(h->config_string(cfg, "cache_file")))) FAIL("out of memory");
        size_t skipped = 0;
        if (!(*cache = rlvr_judge_cache_new(tmp, (size_t)h->config_int(cfg, "cache_max_entries"), &skipped, cerr,
                                            sizeof cerr)))
            FAIL("cache_file: %s", cerr);
        if (skipped) h->log(RLVR_LOG_WARN, plugin, "cache_file %s: %zu malformed lines skipped", tmp, skipped);
    } else if (h->config_string(cfg, "cache_file").len) {
        FAIL("cache_file: set, but cache is false");
    }
    free(tmp);
    free(url);
    return 0;
fail:
    if (*client) rlvr_judge_client_free(*client);
    *client = NULL;
    free(tmp);
    free(url);
    return -1;
}
