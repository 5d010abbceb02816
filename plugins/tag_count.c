/*
 * tag_count.c -- the `tag_count` plugin: open-r1's tag_count reward.
 *
 * open-r1 (src/open_r1/rewards.py, tag_count_reward) gives 0.25 for each of
 * "<think>\n", "\n</think>\n", "\n<answer>\n" and "\n</answer>" that occurs
 * exactly once in the completion, counted as Python's str.count counts
 * (non-overlapping, left to right). That is the default here, on the raw
 * completion, so scores equal open-r1's. With normalise = true the text is
 * first normalised as the format plugin does it (leading whitespace and
 * trailing stop tokens dropped, CRLF read as LF, and "<think>\n" taken as
 * pre-filled when prefilled_think says so), so that a CRLF completion or one
 * from a chat template that pre-fills <think> is not short-changed.
 *
 * Invariants: the score is a multiple of 0.25 in [0, 1]; the instance is
 * read-only after create(); a normalised copy is the only allocation, freed
 * before the call returns.
 */
#include "rlvr_plugin.h"
#include "format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STOP_TOKENS \
    "[\"<|im_end|>\",\"<|endoftext|>\",\"<|eot_id|>\",\"<|end_of_text|>\"," \
    "\"<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>\",\"</s>\"]"

static const rlvr_option tc_options[] = {
    {"normalise", RLVR_OPT_BOOL, "false", 0, 0, NULL,
     "normalise first as the format plugin does (CRLF, leading space, stop tokens, pre-fill); false: open-r1's exact counts"},
    {"prefilled_think", RLVR_OPT_STRING, "no", 0, 0, "no|yes|auto",
     "with normalise: the chat template pre-fills <think>, so \"<think>\\n\" counts as present (auto: unless the completion opens with <think>)"},
    {"stop_tokens", RLVR_OPT_JSON, DEFAULT_STOP_TOKENS, 0, 0, NULL,
     "with normalise: strings removed from the end of the completion before counting"},
};

typedef struct tc {
    const rlvr_host *host;
    int normalise;
    rlvr_format_opts opts;
    rlvr_format_str *stops;
} tc;

static void tc_destroy(void *inst)
{
    tc *t = inst;
    if (!t) return;
    free(t->stops);
    t->host->free(t);
}

static void *tc_create(const rlvr_host *h, const rlvr_config *cfg, char *err, size_t err_len)
{
    tc *t = h->alloc(sizeof *t);
    if (!t) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    memset(t, 0, sizeof *t);
    t->host = h;
    t->normalise = h->config_bool(cfg, "normalise");
    rlvr_format_opts_default(&t->opts);
    rlvr_text p = h->config_string(cfg, "prefilled_think");
    t->opts.prefill = p.ptr && strcmp(p.ptr, "yes") == 0    ? RLVR_FORMAT_PREFILL_YES
                      : p.ptr && strcmp(p.ptr, "auto") == 0 ? RLVR_FORMAT_PREFILL_AUTO
                                                            : RLVR_FORMAT_PREFILL_NO;
    if (!t->normalise && t->opts.prefill != RLVR_FORMAT_PREFILL_NO) {
        snprintf(err, err_len, "key 'prefilled_think': takes effect only with normalise = true");
        tc_destroy(t);
        return NULL;
    }
    rlvr_text st = h->config_string(cfg, "stop_tokens");
    char msg[256];
    if (rlvr_format_parse_string_list(st.ptr, st.len, &t->stops, &t->opts.n_stop_tokens, msg, sizeof msg)) {
        snprintf(err, err_len, "key 'stop_tokens': %s", msg);
        tc_destroy(t);
        return NULL;
    }
    t->opts.stop_tokens = t->stops;
    return t;
}

static int tc_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    (void)call;
    const tc *t = inst;
    const rlvr_host *h = t->host;
    const char *text = s->completion.ptr ? s->completion.ptr : "";
    size_t len = s->completion.ptr ? s->completion.len : 0;
    size_t counts[RLVR_TAG_COUNT_N];
    int prefilled = 0;
    if (t->normalise) {
        char *copy = h->alloc(len + 8);
        if (!copy) {
            h->set_status(r, RLVR_ERROR, 0);
            h->set_reason(r, "out of memory");
            return 0;
        }
        size_t n = rlvr_format_normalise_copy(text, len, &t->opts, copy, &prefilled);
        rlvr_tag_count(copy, n, counts);
        h->free(copy);
    } else {
        rlvr_tag_count(text, len, counts);
    }
    int once = 0;
    for (int i = 0; i < RLVR_TAG_COUNT_N; i++) once += counts[i] == 1;
    char json[128];
    int k = snprintf(json, sizeof json, "[%zu,%zu,%zu,%zu]", counts[0], counts[1], counts[2], counts[3]);
    h->detail_json(r, "counts", json, (size_t)k);
    if (prefilled && t->opts.prefill != RLVR_FORMAT_PREFILL_NO) h->detail_string(r, "prefilled", "yes", 3);
    h->set_status(r, RLVR_OK, 0.25 * once);
    h->set_reason(r, "%s", once == RLVR_TAG_COUNT_N ? "ok" : once ? "tags_partial" : "no_tags");
    return 0;
}

static const rlvr_plugin tc_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "tag_count",
    .version = "1.0.0",
    .description = "open-r1's tag_count: 0.25 for each of <think>\\n, \\n</think>\\n, \\n<answer>\\n, \\n</answer> present exactly once",
    .flags = RLVR_REENTRANT | RLVR_DETERMINISTIC,
    .options = tc_options,
    .n_options = sizeof tc_options / sizeof tc_options[0],
    .create = tc_create,
    .destroy = tc_destroy,
    .score = tc_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &tc_plugin;
}
