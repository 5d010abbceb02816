/*
 * cosine.c -- the `cosine` plugin: open-r1's cosine-scaled length reward
 * (get_cosine_scaled_reward, after Yeo et al. 2025, "Demystifying long
 * chain-of-thought reasoning").
 *
 * With progress = len / max_len and c = cos(pi * progress), a correct answer
 * scores min_value_correct + (max_value_correct - min_value_correct) *
 * (1 + c) / 2 (short correct answers earn the most) and a wrong one
 * max_value_wrong + (min_value_wrong - max_value_wrong) * (1 + c) / 2 (short
 * wrong answers lose the most, long ones less). Defaults are those of
 * open-r1's function (-1, -0.5, 0.5, 1, 1000), which follow the paper;
 * open-r1's configs.py sets min_value_wrong = 0, which makes short wrong
 * answers score above long ones: set it to 0 to reproduce that.
 *
 * Past max_len open-r1's cosine goes on and rises again (at 2 * max_len a
 * correct answer earns the full reward again); by default we clamp the
 * length to max_len (over_max_len = "clamp"); "wrap" keeps open-r1's
 * behaviour and "penalty" scores exceed_length, as the paper's reference
 * code does.
 *
 * Correctness is read as `length` reads it (see length.c): the component
 * `accuracy_component` of an earlier entry, correct when >=
 * `correct_threshold`; absent is an error naming the mix problem; abstained
 * or failed makes this sample abstain. Lengths count characters by default,
 * as open-r1 does (length_unit).
 *
 * Invariants: per sample, no allocation; the instance is read-only after
 * create, so the plugin is reentrant.
 */
#include "rlvr_plugin.h"
#include "shaping.h"

#include <stdio.h>
#include <string.h>

typedef struct cos_inst {
    const rlvr_host *host;
    rlvr_shaping_cosine_params p;
    rlvr_shaping_unit unit;
    char component[128];
    double threshold;
} cos_inst;

static const rlvr_option cos_options[] = {
    {"min_value_wrong", RLVR_OPT_NUMBER, "-1.0", -1e9, 1e9, NULL,
     "reward of a wrong answer of length 0 (open-r1's function default; its configs.py uses 0.0)"},
    {"max_value_wrong", RLVR_OPT_NUMBER, "-0.5", -1e9, 1e9, NULL, "reward of a wrong answer of length max_len"},
    {"min_value_correct", RLVR_OPT_NUMBER, "0.5", -1e9, 1e9, NULL, "reward of a correct answer of length max_len"},
    {"max_value_correct", RLVR_OPT_NUMBER, "1.0", -1e9, 1e9, NULL, "reward of a correct answer of length 0"},
    {"max_len", RLVR_OPT_INT, "1000", 1, 1e15, NULL, "the length (in length_unit) at which the cosine reaches its end"},
    {"length_unit", RLVR_OPT_STRING, "chars", 0, 0, "chars|tokens|bytes",
     "what a length counts: characters (code points, as open-r1's len()), the sample's completion_tokens, or UTF-8 bytes"},
    {"over_max_len", RLVR_OPT_STRING, "clamp", 0, 0, "clamp|wrap|penalty",
     "a length over max_len: scored as max_len, as open-r1 (the cosine rises again), or exceed_length"},
    {"exceed_length", RLVR_OPT_NUMBER, "-1.0", -1e9, 1e9, NULL, "the score over max_len when over_max_len = \"penalty\""},
    {"accuracy_component", RLVR_OPT_STRING, "accuracy", 0, 0, NULL,
     "the earlier mix component that says whether an answer is correct"},
    {"correct_threshold", RLVR_OPT_NUMBER, "1", -1e9, 1e9, NULL,
     "an accuracy at or above this value counts as correct"},
};

static void *cos_create(const rlvr_host *host, const rlvr_config *cfg, char *err, size_t err_len)
{
    rlvr_text u = host->config_string(cfg, "length_unit");
    rlvr_text o = host->config_string(cfg, "over_max_len");
    rlvr_text c = host->config_string(cfg, "accuracy_component");
    int unit = rlvr_shaping_unit_parse(u.ptr, u.len);
    if (unit < 0) {
        snprintf(err, err_len, "length_unit: unknown unit '%.*s'", (int)u.len, u.ptr ? u.ptr : "");
        return NULL;
    }
    rlvr_shaping_over over;
    if (o.len == 5 && memcmp(o.ptr, "clamp", 5) == 0) over = RLVR_SHAPING_OVER_CLAMP;
    else if (o.len == 4 && memcmp(o.ptr, "wrap", 4) == 0) over = RLVR_SHAPING_OVER_WRAP;
    else if (o.len == 7 && memcmp(o.ptr, "penalty", 7) == 0) over = RLVR_SHAPING_OVER_PENALTY;
    else {
        snprintf(err, err_len, "over_max_len: unknown value '%.*s'", (int)o.len, o.ptr ? o.ptr : "");
        return NULL;
    }
    if (!c.ptr || c.len == 0 || c.len >= sizeof ((cos_inst *)0)->component) {
        snprintf(err, err_len, "accuracy_component: a component name of 1 to 127 bytes is needed");
        return NULL;
    }
    cos_inst *e = host->alloc(sizeof *e);
    if (!e) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    e->host = host;
    e->unit = (rlvr_shaping_unit)unit;
    e->p.min_value_wrong = host->config_number(cfg, "min_value_wrong");
    e->p.max_value_wrong = host->config_number(cfg, "max_value_wrong");
    e->p.min_value_correct = host->config_number(cfg, "min_value_correct");
    e->p.max_value_correct = host->config_number(cfg, "max_value_correct");
    e->p.max_len = (double)host->config_int(cfg, "max_len");
    e->p.over = over;
    e->p.exceed_length = host->config_number(cfg, "exceed_length");
    memcpy(e->component, c.ptr, c.len);
    e->component[c.len] = 0;
    e->threshold = host->config_number(cfg, "correct_threshold");
    return e;
}

static void cos_destroy(void *inst)
{
    cos_inst *e = inst;
    if (e) e->host->free(e);
}

static int cos_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    (void)call;
    cos_inst *e = inst;
    const rlvr_host *h = e->host;
    const char *unit = rlvr_shaping_unit_name(e->unit);
    h->detail_string(r, "unit", unit, strlen(unit));
    double len;
    if (rlvr_shaping_length(s->completion.ptr, s->completion.len, s->completion_tokens, e->unit, &len) != 0) {
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "no_completion_tokens");
        return 0;
    }
    h->detail_number(r, "length", len);
    double acc = 0;
    int st = h->sample_component(s, e->component, &acc);
    rlvr_shaping_verdict v = rlvr_shaping_judge(st, acc, e->threshold);
    if (v == RLVR_SHAPING_ABSENT) {
        h->set_status(r, RLVR_ERROR, 0);
        h->set_reason(r, "no component '%s' earlier in the mix: put the accuracy entry before this one "
                         "(or set accuracy_component)", e->component);
        return 0;
    }
    if (v != RLVR_SHAPING_CORRECT && v != RLVR_SHAPING_WRONG) {
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "%s", rlvr_shaping_verdict_reason(v));
        return 0;
    }
    int correct = v == RLVR_SHAPING_CORRECT;
    h->detail_number(r, "accuracy", acc);
    h->detail_json(r, "correct", correct ? "true" : "false", correct ? 4 : 5);
    h->detail_number(r, "max_len", e->p.max_len);
    int over = len > e->p.max_len;
    h->set_status(r, RLVR_OK, rlvr_shaping_cosine(&e->p, len, correct));
    h->set_reason(r, "%s%s", correct ? "correct" : "wrong", over ? "_over_max_len" : "");
    return 0;
}

static const rlvr_plugin cos_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "cosine",
    .version = "1.0.0",
    .description = "cosine-scaled length reward: short correct answers earn most, short wrong ones lose most",
    .flags = RLVR_REENTRANT, /* reads an earlier component, so not cacheable by sample alone */
    .options = cos_options,
    .n_options = sizeof cos_options / sizeof cos_options[0],
    .create = cos_create,
    .destroy = cos_destroy,
    .score = cos_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &cos_plugin;
}
