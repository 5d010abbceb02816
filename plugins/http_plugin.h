/*
 * http_plugin.h -- what the plugins that call an HTTP server (judge, rm)
 * share: their transport options (API key, timeouts, retries, concurrency,
 * reply cap, cache) as option-table entries, and the client and cache
 * built from them. One definition, so the two plugins cannot drift apart in
 * how a key is checked or a retry is configured.
 *
 * It is compiled into each plugin that uses it (plugins export one symbol,
 * so nothing here is shared at run time) and reaches the host only through
 * the service table.
 */
#ifndef RLVR_HTTP_PLUGIN_H
#define RLVR_HTTP_PLUGIN_H
#include <stddef.h>

#include "judge.h"
#include "rlvr_plugin.h"

/* The shared entries of an option table. concurrency: the default of
 * max_concurrency; reply_bytes / reply_max / reply_help: max_reply_bytes'
 * default, bound and help; cache_help: what the cache keeps. */
#define RLVR_HTTP_OPTIONS(concurrency, reply_bytes, reply_max, reply_help, cache_help)                                \
    {"api_key_env", RLVR_OPT_STRING, "", 0, 0, NULL,                                                                 \
     "name of the environment variable holding the API key (\"\": no key); it must be set when named"},           \
    {"timeout_ms", RLVR_OPT_INT, "60000", 1, 3600000, NULL, "one attempt's time limit"},                             \
    {"connect_timeout_ms", RLVR_OPT_INT, "10000", 1, 600000, NULL, "time limit to connect"},                         \
    {"total_timeout_ms", RLVR_OPT_INT, "300000", 1, 86400000, NULL,                                                  \
     "one request's limit, every attempt and wait included"},                                                        \
    {"max_retries", RLVR_OPT_INT, "4", 0, 100, NULL,                                                                 \
     "retries after connection errors, timeouts, 5xx, 408 and 429 (never other 4xx)"},                              \
    {"backoff_ms", RLVR_OPT_INT, "500", 0, 600000, NULL,                                                             \
     "first wait before a retry; doubles each retry, with jitter; Retry-After is honoured"},                         \
    {"max_backoff_ms", RLVR_OPT_INT, "30000", 0, 3600000, NULL, "the longest wait between retries"},                 \
    {"max_concurrency", RLVR_OPT_INT, concurrency, 1, 4096, NULL,                                                    \
     "requests in flight at once for this entry, all threads"},                                                      \
    {"cache", RLVR_OPT_BOOL, "true", 0, 0, NULL, cache_help},                                                        \
    {"cache_file", RLVR_OPT_STRING, "", 0, 0, NULL,                                                                  \
     "also keep the cache in this JSONL file, read at load (\"\": memory only)"},                                    \
    {"cache_max_entries", RLVR_OPT_INT, "1000000", 1, 1e9, NULL, "entries the cache holds at most"},                 \
    {"max_reply_bytes", RLVR_OPT_INT, reply_bytes, 1024, reply_max, NULL, reply_help}

/* Builds *client for the URL base_url + path (path is not appended again
 * when base_url already ends with it; trailing slashes are dropped) from the
 * configuration's base_url and shared options, and *cache when `cache` is
 * true (else *cache = NULL). The API key is read from the variable named by
 * api_key_env and handed to the client only. Returns 0, or -1 with
 * "KEY: why" in err (nothing is left allocated). plugin names the plugin
 * in log lines. */
int rlvr_http_plugin_open(const rlvr_host *h, const rlvr_config *cfg, const char *plugin, const char *path,
                          rlvr_judge_client **client, rlvr_judge_cache **cache, char *err, size_t err_len);

#endif
