/*
 * length.c -- the `length` plugin: Kimi 1.5's group-relative length reward
 * (open-r1's len_reward).
 *
 * Scored by batch over whole groups (RLVR_BATCH | RLVR_GROUPS: the host hands
 * it every consecutive sample of one `group`). With min and max the shortest
 * and longest completion of the group, lambda = 0.5 - (len - min) /
 * (max - min); a correct answer scores lambda, a wrong one min(0, lambda);
 * when every length in the group is equal, every sample scores 0
 * ("all_lengths_equal"), as open-r1 and the paper do.
 *
 * Correctness is the component named `accuracy_component` (default
 * "accuracy"), computed by an earlier entry of the mix: a value >=
 * `correct_threshold` is correct. Where open-r1 would re-parse with
 * math-verify, and treat an unparseable gold as correct, we keep to the
 * three-state rule: no such component earlier in the mix is an error (the mix
 * is misconfigured, and every sample says so); an accuracy that abstained or
 * failed makes this sample abstain ("accuracy_abstained", "accuracy_error");
 * a sample alone in its group (no `group` field, or a group of one) abstains
 * ("group_of_one"): there is nothing to be relative to. All lengths of the
 * group, including those of samples that abstain for their accuracy, set
 * min and max (a length is a fact of the group whatever the grader said).
 * With length_unit = "tokens", a sample without completion_tokens abstains
 * ("no_completion_tokens") and takes no part in min and max.
 *
 * Invariants: every result of the batch is filled exactly once; no state
 * outside the instance, which is read-only after create, so the plugin is
 * reentrant; memory is one array of n doubles per batch.
 */
#include "rlvr_plugin.h"
#include "shaping.h"

#include <stdio.h>
#include <string.h>

typedef struct len_inst {
    const rlvr_host *host;
    rlvr_shaping_unit unit;
    char component[128];
    double threshold;
} len_inst;

static const rlvr_option len_options[] = {
    {"length_unit", RLVR_OPT_STRING, "chars", 0, 0, "chars|tokens|bytes",
     "what a length counts: characters (code points, as open-r1's len()), the sample's completion_tokens, or UTF-8 bytes"},
    {"accuracy_component", RLVR_OPT_STRING, "accuracy", 0, 0, NULL,
     "the earlier mix component that says whether an answer is correct"},
    {"correct_threshold", RLVR_OPT_NUMBER, "1", -1e9, 1e9, NULL,
     "an accuracy at or above this value counts as correct"},
};

static void *len_create(const rlvr_host *host, const rlvr_config *cfg, char *err, size_t err_len)
{
    rlvr_text u = host->config_string(cfg, "length_unit");
    rlvr_text c = host->config_string(cfg, "accuracy_component");
    int unit = rlvr_shaping_unit_parse(u.ptr, u.len);
    if (unit < 0) {
        snprintf(err, err_len, "length_unit: unknown unit '%.*s'", (int)u.len, u.ptr ? u.ptr : "");
        return NULL;
    }
    if (!c.ptr || c.len == 0 || c.len >= sizeof ((len_inst *)0)->component) {
        snprintf(err, err_len, "accuracy_component: a component name of 1 to 127 bytes is needed");
        return NULL;
    }
    len_inst *e = host->alloc(sizeof *e);
    if (!e) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    e->host = host;
    e->unit = (rlvr_shaping_unit)unit;
    memcpy(e->component, c.ptr, c.len);
    e->component[c.len] = 0;
    e->threshold = host->config_number(cfg, "correct_threshold");
    return e;
}

static void len_destroy(void *inst)
{
    len_inst *e = inst;
    if (e) e->host->free(e);
}

static int len_batch(void *inst, const rlvr_call *call, size_t n, const rlvr_sample *const *s,
                     rlvr_result *const *r)
{
    (void)call;
    len_inst *e = inst;
    const rlvr_host *h = e->host;
    const char *unit = rlvr_shaping_unit_name(e->unit);
    double *len = h->alloc((n ? n : 1) * sizeof *len);
    unsigned char *known = h->alloc(n ? n : 1);
    if (!len || !known) {
        for (size_t i = 0; i < n; i++) {
            h->set_status(r[i], RLVR_ERROR, 0);
            h->set_reason(r[i], "out of memory");
        }
        h->free(len);
        h->free(known);
        return 0;
    }
    size_t m = 0;
    double lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        known[i] = rlvr_shaping_length(s[i]->completion.ptr, s[i]->completion.len, s[i]->completion_tokens,
                                       e->unit, &len[i]) == 0;
        if (!known[i]) continue;
        if (m == 0 || len[i] < lo) lo = len[i];
        if (m == 0 || len[i] > hi) hi = len[i];
        m++;
    }
    for (size_t i = 0; i < n; i++) {
        rlvr_result *ri = r[i];
        h->detail_string(ri, "unit", unit, strlen(unit));
        h->detail_number(ri, "group_size", (double)n);
        if (!known[i]) {
            h->set_status(ri, RLVR_ABSTAIN, 0);
            h->set_reason(ri, "no_completion_tokens");
            continue;
        }
        h->detail_number(ri, "length", len[i]);
        double acc = 0;
        int st = h->sample_component(s[i], e->component, &acc);
        rlvr_shaping_verdict v = rlvr_shaping_judge(st, acc, e->threshold);
        if (v == RLVR_SHAPING_ABSENT) {
            h->set_status(ri, RLVR_ERROR, 0);
            h->set_reason(ri, "no component '%s' earlier in the mix: put the accuracy entry before this one "
                              "(or set accuracy_component)", e->component);
            continue;
        }
        if (m < 2) {
            h->set_status(ri, RLVR_ABSTAIN, 0);
            h->set_reason(ri, "group_of_one");
            continue;
        }
        if (v != RLVR_SHAPING_CORRECT && v != RLVR_SHAPING_WRONG) {
            h->set_status(ri, RLVR_ABSTAIN, 0);
            h->set_reason(ri, "%s", rlvr_shaping_verdict_reason(v));
            continue;
        }
        int correct = v == RLVR_SHAPING_CORRECT;
        h->detail_number(ri, "min_length", lo);
        h->detail_number(ri, "max_length", hi);
        h->detail_number(ri, "accuracy", acc);
        h->detail_json(ri, "correct", correct ? "true" : "false", correct ? 4 : 5);
        if (hi == lo) {
            h->set_status(ri, RLVR_OK, 0.0);
            h->set_reason(ri, "all_lengths_equal");
            continue;
        }
        double lambda = 0.5 - (len[i] - lo) / (hi - lo);
        h->detail_number(ri, "lambda", lambda);
        h->set_status(ri, RLVR_OK, rlvr_shaping_kimi(len[i], lo, hi, correct));
        h->set_reason(ri, correct ? "correct" : "wrong");
    }
    h->free(len);
    h->free(known);
    return 0;
}

static const rlvr_plugin len_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "length",
    .version = "1.0.0",
    .description = "Kimi 1.5 length reward, relative to the group: shorter correct answers earn more, long wrong ones lose",
    .flags = RLVR_REENTRANT | RLVR_BATCH | RLVR_GROUPS, /* not cacheable: the group decides */
    .options = len_options,
    .n_options = sizeof len_options / sizeof len_options[0],
    .create = len_create,
    .destroy = len_destroy,
    .score_batch = len_batch,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &len_plugin;
}
