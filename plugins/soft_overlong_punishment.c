/*
 * soft_overlong_punishment.c -- the `soft_overlong_punishment` plugin: DAPO's
 * soft overlong punishment (Yu et al. 2025, Eq. 13; open-r1's and TRL's
 * get_soft_overlong_punishment).
 *
 * With L the completion's length in tokens, Lmax = max_completion_len and
 * Lcache = soft_punish_cache: 0 while L <= Lmax - Lcache ("within_limit"),
 * then ((Lmax - Lcache) - L) / Lcache, falling linearly to -1 at Lmax
 * ("soft_punish"), and -1 beyond ("overlong"). It punishes and never rewards.
 *
 * The length is in tokens. The sample's completion_tokens is used when
 * present (details.tokens_source = "completion_tokens"); otherwise, with
 * token_count = "sample_or_approx" (the default), an approximate count: one
 * token per Han, kana or Hangul character plus one per 4 bytes of the rest
 * of the UTF-8 text, rounded up (tokens_source = "approx"; roughly right for
 * English under BPE tokenizers such as Qwen's, and for Chinese, where such
 * tokenizers give about one token per character). token_count = "sample"
 * abstains without completion_tokens ("no_completion_tokens"); "approx"
 * always approximates.
 *
 * Invariants: no allocation; the instance is read-only after create
 * (soft_punish_cache <= max_completion_len is checked there), so the plugin
 * is reentrant.
 */
#include "rlvr_plugin.h"
#include "shaping.h"

#include <stdio.h>
#include <string.h>

enum { COUNT_SAMPLE_OR_APPROX, COUNT_SAMPLE, COUNT_APPROX };

typedef struct sop_inst {
    const rlvr_host *host;
    double max_len, cache;
    int count;
} sop_inst;

static const rlvr_option sop_options[] = {
    {"max_completion_len", RLVR_OPT_INT, "16384", 1, 1e15, NULL,
     "L_max: the length in tokens at which the punishment reaches -1"},
    {"soft_punish_cache", RLVR_OPT_INT, "4096", 0, 1e15, NULL,
     "L_cache: the punishment grows over the last this many tokens before L_max (0: a step at L_max)"},
    {"token_count", RLVR_OPT_STRING, "sample_or_approx", 0, 0, "sample_or_approx|sample|approx",
     "the sample's completion_tokens, else an approximate count; completion_tokens only (abstain without); always approximate"},
};

static void *sop_create(const rlvr_host *host, const rlvr_config *cfg, char *err, size_t err_len)
{
    int64_t max_len = host->config_int(cfg, "max_completion_len");
    int64_t cache = host->config_int(cfg, "soft_punish_cache");
    rlvr_text c = host->config_string(cfg, "token_count");
    if (cache > max_len) {
        snprintf(err, err_len, "soft_punish_cache (%lld) must not exceed max_completion_len (%lld)", (long long)cache,
                 (long long)max_len);
        return NULL;
    }
    sop_inst *e = host->alloc(sizeof *e);
    if (!e) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    e->host = host;
    e->max_len = (double)max_len;
    e->cache = (double)cache;
    if (c.len == 6 && memcmp(c.ptr, "sample", 6) == 0) e->count = COUNT_SAMPLE;
    else if (c.len == 6 && memcmp(c.ptr, "approx", 6) == 0) e->count = COUNT_APPROX;
    else e->count = COUNT_SAMPLE_OR_APPROX;
    return e;
}

static void sop_destroy(void *inst)
{
    sop_inst *e = inst;
    if (e) e->host->free(e);
}

static int sop_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    (void)call;
    sop_inst *e = inst;
    const rlvr_host *h = e->host;
    double tokens;
    const char *source;
    if (e->count != COUNT_APPROX && s->completion_tokens >= 0) {
        tokens = (double)s->completion_tokens;
        source = "completion_tokens";
    } else if (e->count == COUNT_SAMPLE) {
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "no_completion_tokens");
        return 0;
    } else {
        tokens = (double)rlvr_shaping_approx_tokens(s->completion.ptr ? s->completion.ptr : "", s->completion.len,
                                                    NULL);
        source = "approx";
    }
    h->detail_number(r, "tokens", tokens);
    h->detail_string(r, "tokens_source", source, strlen(source));
    double score = rlvr_shaping_overlong(tokens, e->max_len, e->cache);
    h->set_status(r, RLVR_OK, score);
    h->set_reason(r, tokens <= e->max_len - e->cache ? "within_limit" : tokens <= e->max_len ? "soft_punish" : "overlong");
    return 0;
}

static const rlvr_plugin sop_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "soft_overlong_punishment",
    .version = "1.0.0",
    .description = "DAPO soft overlong punishment: 0 up to max_completion_len - soft_punish_cache tokens, down to -1 at the limit",
    .flags = RLVR_REENTRANT | RLVR_DETERMINISTIC,
    .options = sop_options,
    .n_options = sizeof sop_options / sizeof sop_options[0],
    .create = sop_create,
    .destroy = sop_destroy,
    .score = sop_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &sop_plugin;
}
