/*
 * math.c -- the `math` plugin: the completion's final answer against the
 * sample's gold `answer`, by mathematical equivalence (verifiers/math_verifier.h).
 *
 * Every configuration key is a field of rlvr_math_options, validated by the
 * host (types, ranges, choices) and then by rlvr_math_options_check (the
 * places named in `extract`). Scores: 1 equal, 0 for every failure of the
 * model (no answer, unparseable, not equal, hedge, echo, over the cost
 * bound, undecided), each with its reason; a gold answer that is missing,
 * unparseable or over the bound abstains. Details: the extracted answers,
 * their normalised forms, where each came from, the rule that decided and
 * a sentence. The plugin keeps no state beyond its options: reentrant and
 * deterministic.
 */
#include "rlvr_plugin.h"
#include "math_verifier.h"

#include <stdio.h>
#include <string.h>

typedef struct mp {
    const rlvr_host *host;
    rlvr_math_options o;
    int echo_check;
} mp;

static const rlvr_option mp_options[] = {
    {"extract", RLVR_OPT_STRING, "tag,boxed+final_answer+gsm8k,answer,whole,latex+number", 0, 0, NULL,
     "where the prediction's answer is looked for: places (tag, boxed, final_answer, answer, gsm8k, whole, "
     "latex, number) tried in turn (a,b) or together, latest in the text first (a+b); the gold uses the "
     "anchored ones, else is taken whole"},
    {"think_delimiter", RLVR_OPT_STRING, "</think>", 0, 0, NULL,
     "only the text after the last one is read when present (\"\": read everything)"},
    {"require_think_end", RLVR_OPT_BOOL, "false", 0, 0, NULL,
     "a completion without think_delimiter has no answer (TRL's reasoning accuracy)"},
    {"choices", RLVR_OPT_STRING, "", 0, 0, NULL,
     "multiple choice: the option letters, e.g. \"ABCD\"; both sides are read as one letter"},
    {"decimal_comma", RLVR_OPT_BOOL, "false", 0, 0, NULL,
     "read 2,74 as 2.74 where the comma is not a thousands separator"},
    {"rel_tol", RLVR_OPT_NUMBER, "1e-9", 0, 0.5, NULL,
     "relative tolerance between inexact values (irrationals, random points)"},
    {"float_rounding", RLVR_OPT_INT, "6", -1, 30, NULL,
     "a decimal with at least this many places equals an exact value it rounds to (0.333333 = 1/3); -1 never"},
    {"equation_rhs", RLVR_OPT_BOOL, "true", 0, 0, NULL, "x = 5 equals 5 (a named left side is dropped)"},
    {"percent", RLVR_OPT_STRING, "both", 0, 0, "both|fraction|strip",
     "10% equals: both 0.1 and 10, fraction 0.1 only, strip 10 only"},
    {"unordered_lists", RLVR_OPT_BOOL, "true", 0, 0, NULL, "bare lists (1, 2, 3) compare as sets; false: in order"},
    {"allow_set_relation_comp", RLVR_OPT_BOOL, "true", 0, 0, NULL,
     "a gold interval accepts the same set written as inequalities"},
    {"strict", RLVR_OPT_BOOL, "true", 0, 0, NULL,
     "variable names matter; false: one variable may stand for another (f(x) = f(y))"},
    {"hedge", RLVR_OPT_BOOL, "true", 0, 0, NULL,
     "several values containing a single gold value, or different boxes joined by \"or\", score 0 with reason hedge"},
    {"echo_check", RLVR_OPT_BOOL, "true", 0, 0, NULL,
     "an answer that repeats an expression of the sample's prompt scores 0 (reason echo)"},
    {"max_input_bytes", RLVR_OPT_INT, "8388608", 1024, 1 << 30, NULL, "longer texts are over the cost bound"},
    {"max_answer_bytes", RLVR_OPT_INT, "4096", 16, 1 << 20, NULL, "longer extracted answers are over the cost bound"},
    {"max_depth", RLVR_OPT_INT, "100", 4, 10000, NULL, "nesting of a parsed answer"},
    {"max_nodes", RLVR_OPT_INT, "4096", 16, 1 << 20, NULL, "expression nodes per answer"},
    {"max_number_bits", RLVR_OPT_INT, "8192", 64, 1 << 22, NULL,
     "size of an exact number: larger powers and factorials are over the cost bound"},
    {"max_elements", RLVR_OPT_INT, "256", 1, 1 << 16, NULL, "elements of a set, tuple or matrix"},
    {"eval_points", RLVR_OPT_INT, "8", 1, 256, NULL, "random points at which expressions are compared"},
    {"min_valid_points", RLVR_OPT_INT, "4", 1, 256, NULL, "agreeing valid points needed to call two expressions equal"},
    {"seed", RLVR_OPT_INT, "24301", 0, 9007199254740991.0, NULL, "seed of the random points"},
};

static void copy_opt(char *dst, size_t cap, rlvr_text t)
{
    size_t n = t.ptr ? t.len : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, t.ptr, n);
    dst[n] = 0;
}

static void *mp_create(const rlvr_host *h, const rlvr_config *cfg, char *err, size_t err_len)
{
    rlvr_math_options o;
    rlvr_math_options_init(&o);
    rlvr_text ex = h->config_string(cfg, "extract");
    if (ex.len >= sizeof o.extract) {
        snprintf(err, err_len, "extract is longer than %zu bytes", sizeof o.extract - 1);
        return NULL;
    }
    copy_opt(o.extract, sizeof o.extract, ex);
    rlvr_text td = h->config_string(cfg, "think_delimiter");
    if (td.len >= sizeof o.think_delimiter) {
        snprintf(err, err_len, "think_delimiter is longer than %zu bytes", sizeof o.think_delimiter - 1);
        return NULL;
    }
    copy_opt(o.think_delimiter, sizeof o.think_delimiter, td);
    rlvr_text ch = h->config_string(cfg, "choices");
    if (ch.len >= sizeof o.choices) {
        snprintf(err, err_len, "choices is longer than %zu letters", sizeof o.choices - 1);
        return NULL;
    }
    copy_opt(o.choices, sizeof o.choices, ch);
    o.require_think_end = h->config_bool(cfg, "require_think_end");
    o.decimal_comma = h->config_bool(cfg, "decimal_comma");
    o.rel_tol = h->config_number(cfg, "rel_tol");
    o.float_rounding = (int)h->config_int(cfg, "float_rounding");
    o.equation_rhs = h->config_bool(cfg, "equation_rhs");
    rlvr_text pc = h->config_string(cfg, "percent");
    o.percent = (pc.len == 8 && memcmp(pc.ptr, "fraction", 8) == 0) ? RLVR_MATH_PERCENT_FRACTION
                : (pc.len == 5 && memcmp(pc.ptr, "strip", 5) == 0) ? RLVR_MATH_PERCENT_STRIP
                                                                  : RLVR_MATH_PERCENT_BOTH;
    o.unordered_lists = h->config_bool(cfg, "unordered_lists");
    o.allow_set_relation_comp = h->config_bool(cfg, "allow_set_relation_comp");
    o.strict = h->config_bool(cfg, "strict");
    o.hedge = h->config_bool(cfg, "hedge");
    o.max_input_bytes = (size_t)h->config_int(cfg, "max_input_bytes");
    o.max_answer_bytes = (size_t)h->config_int(cfg, "max_answer_bytes");
    o.max_depth = (int)h->config_int(cfg, "max_depth");
    o.max_nodes = (int)h->config_int(cfg, "max_nodes");
    o.max_number_bits = (int)h->config_int(cfg, "max_number_bits");
    o.max_elements = (int)h->config_int(cfg, "max_elements");
    o.eval_points = (int)h->config_int(cfg, "eval_points");
    o.min_valid_points = (int)h->config_int(cfg, "min_valid_points");
    o.seed = (uint64_t)h->config_int(cfg, "seed");
    if (rlvr_math_options_check(&o, err, err_len)) return NULL;
    mp *m = h->alloc(sizeof *m);
    if (!m) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    m->host = h;
    m->o = o;
    m->echo_check = h->config_bool(cfg, "echo_check");
    return m;
}

static void mp_destroy(void *inst)
{
    mp *m = inst;
    if (m) m->host->free(m);
}

static void detail(const rlvr_host *h, rlvr_result *r, const char *key, const char *s)
{
    if (s && s[0]) h->detail_string(r, key, s, strlen(s));
}

static int mp_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    mp *m = inst;
    const rlvr_host *h = m->host;
    (void)call;
    if (!s->answer.ptr) {
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "gold_unparseable");
        detail(h, r, "why", "the sample has no answer field");
        return 0;
    }
    rlvr_math_verdict v;
    const char *prompt = m->echo_check ? s->prompt.ptr : NULL;
    size_t prompt_len = m->echo_check && s->prompt.ptr ? s->prompt.len : 0;
    if (rlvr_math_verify_prompt(s->answer.ptr, s->answer.len, s->completion.ptr,
                                s->completion.ptr ? s->completion.len : 0, prompt, prompt_len, &m->o, &v)) {
        h->set_status(r, RLVR_ERROR, 0);
        h->set_reason(r, "%s", v.message);
        return 0;
    }
    if (v.abstain) h->set_status(r, RLVR_ABSTAIN, 0);
    else h->set_status(r, RLVR_OK, v.score);
    h->set_reason(r, "%s", v.reason);
    detail(h, r, "rule", v.rule);
    detail(h, r, "source", v.pred_source);
    detail(h, r, "extracted", v.pred_extracted);
    detail(h, r, "normalised", v.pred_normalised);
    detail(h, r, "gold_source", v.gold_source);
    detail(h, r, "gold_extracted", v.gold_extracted);
    detail(h, r, "gold_normalised", v.gold_normalised);
    detail(h, r, "why", v.message);
    return 0;
}

static const rlvr_plugin mp_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "math",
    .version = "1.0.0",
    .description = "final answer equals the gold answer mathematically (rationals, numbers, expressions, sets, "
                   "intervals, matrices, equations)",
    .flags = RLVR_REENTRANT | RLVR_DETERMINISTIC,
    .options = mp_options,
    .n_options = sizeof mp_options / sizeof mp_options[0],
    .create = mp_create,
    .destroy = mp_destroy,
    .score = mp_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &mp_plugin;
}
