/*
 * reasoning_steps.c -- the `reasoning_steps` plugin: open-r1's
 * reasoning_steps_reward, step markers counted and capped.
 *
 * Markers are counted as Python's re.findall counts open-r1's pattern
 *     (Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,|Finally,)
 * over the whole completion (verifiers/shaping.c); the score is
 * min(1, count / target_steps), target_steps = 3 by default (open-r1's
 * "magic number"). open-r1 compiles the pattern without re.MULTILINE, so
 * "^\d+\." matches a numbered line only at the very start of the text; we
 * keep that by default and multiline = true counts a number at the start of
 * every line. extra_markers adds literal markers separated by '|' (for
 * example "首先，|其次，|最后，" for Chinese chains of thought, which the
 * English markers never match). Reasons: "no_steps" (0), "few_steps",
 * "enough_steps".
 *
 * Invariants: the markers are copied at create and the instance is read-only
 * afterwards, so the plugin is reentrant; no allocation per sample; time
 * linear in the completion times the number of markers.
 */
#include "rlvr_plugin.h"
#include "shaping.h"

#include <stdio.h>
#include <string.h>

#define MAX_MARKERS 64

typedef struct steps_inst {
    const rlvr_host *host;
    double target;
    int multiline;
    char *markers; /* the extra markers' bytes */
    rlvr_shaping_marker extra[MAX_MARKERS];
    size_t n_extra;
} steps_inst;

static const rlvr_option steps_options[] = {
    {"target_steps", RLVR_OPT_INT, "3", 1, 1000000, NULL, "markers that earn the full reward of 1"},
    {"multiline", RLVR_OPT_BOOL, "false", 0, 0, NULL,
     "count \"1.\" at the start of every line (open-r1: at the start of the text only)"},
    {"extra_markers", RLVR_OPT_STRING, "", 0, 0, NULL,
     "more literal markers, separated by '|' (at most 64), e.g. \"首先，|其次，|最后，\""},
};

static void *steps_create(const rlvr_host *host, const rlvr_config *cfg, char *err, size_t err_len)
{
    rlvr_text m = host->config_string(cfg, "extra_markers");
    steps_inst *e = host->alloc(sizeof *e);
    if (!e) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    memset(e, 0, sizeof *e);
    e->host = host;
    e->target = (double)host->config_int(cfg, "target_steps");
    e->multiline = host->config_bool(cfg, "multiline");
    if (m.ptr && m.len) {
        e->markers = host->alloc(m.len + 1);
        if (!e->markers) {
            host->free(e);
            snprintf(err, err_len, "out of memory");
            return NULL;
        }
        memcpy(e->markers, m.ptr, m.len);
        e->markers[m.len] = 0;
        size_t start = 0;
        for (size_t i = 0; i <= m.len; i++) {
            if (i < m.len && e->markers[i] != '|') continue;
            if (i > start) {
                if (e->n_extra == MAX_MARKERS) {
                    snprintf(err, err_len, "extra_markers: more than %d markers", MAX_MARKERS);
                    host->free(e->markers);
                    host->free(e);
                    return NULL;
                }
                e->extra[e->n_extra].ptr = e->markers + start;
                e->extra[e->n_extra].len = i - start;
                e->n_extra++;
            }
            start = i + 1;
        }
    }
    return e;
}

static void steps_destroy(void *inst)
{
    steps_inst *e = inst;
    if (!e) return;
    e->host->free(e->markers);
    e->host->free(e);
}

static int steps_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    (void)call;
    steps_inst *e = inst;
    const rlvr_host *h = e->host;
    size_t n = rlvr_shaping_steps(s->completion.ptr ? s->completion.ptr : "", s->completion.len, e->multiline,
                                  e->extra, e->n_extra);
    double score = (double)n / e->target;
    if (score > 1.0) score = 1.0;
    h->detail_number(r, "steps", (double)n);
    h->set_status(r, RLVR_OK, score);
    h->set_reason(r, n == 0 ? "no_steps" : score < 1.0 ? "few_steps" : "enough_steps");
    return 0;
}

static const rlvr_plugin steps_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "reasoning_steps",
    .version = "1.0.0",
    .description = "step-by-step markers (Step 1:, lists, First/Next/Finally), min(1, count / target_steps)",
    .flags = RLVR_REENTRANT | RLVR_DETERMINISTIC,
    .options = steps_options,
    .n_options = sizeof steps_options / sizeof steps_options[0],
    .create = steps_create,
    .destroy = steps_destroy,
    .score = steps_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &steps_plugin;
}
