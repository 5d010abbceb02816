/*
 * format.c -- the `format` plugin: is the completion in the R1-Zero shape
 * (<think>reasoning</think> <answer>answer</answer>) or R1's readable one
 * (<think>reasoning</think> summary)?
 *
 * The work is verifiers/format.c's: normalise (leading whitespace, trailing
 * stop tokens, CRLF, a pre-filled <think>), find every tag in one scan, and
 * require exactly one of each, in order, with only whitespace around them.
 * The score is 1 for a well-formed completion, else 0 -- or, with
 * partial_credit, partial_credit times the share of expected tags present
 * exactly once -- always with a reason code in details.reason and, on a
 * failure, the tag and byte offset at fault and the policy that decided.
 * User patterns (pattern, answer_pattern) are compiled once per instance and
 * run under PCRE2's match and depth limits; a subject that reaches a limit
 * scores 0 (pattern_limit): the model's text is accountable for its cost.
 *
 * Invariants: the instance is read-only after create(), so scoring is
 * reentrant; a score is always in [0, 1]; nothing is kept after a call.
 */
#include "rlvr_plugin.h"
#include "format.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STOP_TOKENS \
    "[\"<|im_end|>\",\"<|endoftext|>\",\"<|eot_id|>\",\"<|end_of_text|>\"," \
    "\"<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>\",\"</s>\"]"

static const rlvr_option fmt_options[] = {
    {"template", RLVR_OPT_STRING, "r1_zero", 0, 0, "r1_zero|r1",
     "r1_zero: <think>..</think> then <answer>..</answer>; r1: <think>..</think> then a non-empty summary"},
    {"prefilled_think", RLVR_OPT_STRING, "no", 0, 0, "no|yes|auto",
     "the chat template pre-fills <think> (R1-Distill, Qwen3): yes, no, or auto (unless the completion opens with <think>)"},
    {"newlines", RLVR_OPT_STRING, "tolerant", 0, 0, "tolerant|strict",
     "tolerant: any whitespace around tags; strict: open-r1's <think>\\n..\\n</think>\\n<answer>\\n..\\n</answer>"},
    {"text_after_answer", RLVR_OPT_STRING, "reject", 0, 0, "reject|allow",
     "plain text after </answer> (tags there always fail)"},
    {"empty_think", RLVR_OPT_STRING, "reject", 0, 0, "reject|allow",
     "a think block holding only whitespace (rejected by default: no reasoning, no format reward)"},
    {"answer_inside_think", RLVR_OPT_STRING, "reject", 0, 0, "reject|allow",
     "<answer> or </answer> inside the think block (allow: they are read as text there)"},
    {"empty_answer", RLVR_OPT_STRING, "reject", 0, 0, "reject|allow",
     "an answer block holding only whitespace"},
    {"stop_tokens", RLVR_OPT_JSON, DEFAULT_STOP_TOKENS, 0, 0, NULL,
     "strings removed from the end of the completion (repeatedly, with whitespace) before checking"},
    {"partial_credit", RLVR_OPT_NUMBER, "0", 0, 0.99, NULL,
     "a failed completion scores this times the share of expected tags present exactly once (0: off)"},
    {"pattern", RLVR_OPT_STRING, "", 0, 0, NULL,
     "PCRE2 pattern the normalised completion must also match (unanchored unless anchored); empty: none"},
    {"answer_pattern", RLVR_OPT_STRING, "", 0, 0, NULL,
     "PCRE2 pattern the trimmed answer (r1: the summary) must match; empty: none"},
    {"regex_match_limit", RLVR_OPT_INT, "1000000", 1, 1000000000, NULL,
     "PCRE2 match limit for pattern and answer_pattern (past it: 0, reason pattern_limit)"},
    {"regex_depth_limit", RLVR_OPT_INT, "10000", 1, 10000000, NULL,
     "PCRE2 backtracking depth limit for pattern and answer_pattern"},
};

typedef struct fmt {
    const rlvr_host *host;
    rlvr_format_opts opts;
    rlvr_format_str *stops; /* one allocation (rlvr_format_parse_string_list) */
    double partial;
    rlvr_format_regex *pattern, *answer_pattern;
} fmt;

static int choice(const rlvr_host *h, const rlvr_config *cfg, const char *key, const char *yes)
{
    rlvr_text t = h->config_string(cfg, key);
    return t.ptr && strcmp(t.ptr, yes) == 0;
}

static void fmt_destroy(void *inst)
{
    fmt *f = inst;
    if (!f) return;
    rlvr_format_regex_free(f->pattern);
    rlvr_format_regex_free(f->answer_pattern);
    free(f->stops);
    f->host->free(f);
}

static int compile(const rlvr_host *h, const rlvr_config *cfg, const char *key, rlvr_format_regex **out,
                   char *err, size_t err_len)
{
    rlvr_text t = h->config_string(cfg, key);
    *out = NULL;
    if (!t.ptr || !t.len) return 0;
    char msg[300];
    *out = rlvr_format_regex_new(t.ptr, t.len, (uint32_t)h->config_int(cfg, "regex_match_limit"),
                                 (uint32_t)h->config_int(cfg, "regex_depth_limit"), 16384, msg, sizeof msg);
    if (!*out) {
        snprintf(err, err_len, "key '%s': %s", key, msg);
        return -1;
    }
    return 0;
}

static void *fmt_create(const rlvr_host *h, const rlvr_config *cfg, char *err, size_t err_len)
{
    fmt *f = h->alloc(sizeof *f);
    if (!f) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    memset(f, 0, sizeof *f);
    f->host = h;
    rlvr_format_opts_default(&f->opts);
    f->opts.tmpl = choice(h, cfg, "template", "r1") ? RLVR_FORMAT_R1 : RLVR_FORMAT_R1_ZERO;
    f->opts.prefill = choice(h, cfg, "prefilled_think", "yes")    ? RLVR_FORMAT_PREFILL_YES
                      : choice(h, cfg, "prefilled_think", "auto") ? RLVR_FORMAT_PREFILL_AUTO
                                                                  : RLVR_FORMAT_PREFILL_NO;
    f->opts.strict_newlines = choice(h, cfg, "newlines", "strict");
    f->opts.allow_text_after_answer = choice(h, cfg, "text_after_answer", "allow");
    f->opts.allow_empty_think = choice(h, cfg, "empty_think", "allow");
    f->opts.allow_answer_inside_think = choice(h, cfg, "answer_inside_think", "allow");
    f->opts.allow_empty_answer = choice(h, cfg, "empty_answer", "allow");
    f->partial = h->config_number(cfg, "partial_credit");
    rlvr_text st = h->config_string(cfg, "stop_tokens");
    char msg[256];
    if (rlvr_format_parse_string_list(st.ptr, st.len, &f->stops, &f->opts.n_stop_tokens, msg, sizeof msg)) {
        snprintf(err, err_len, "key 'stop_tokens': %s", msg);
        fmt_destroy(f);
        return NULL;
    }
    f->opts.stop_tokens = f->stops;
    if (compile(h, cfg, "pattern", &f->pattern, err, err_len)
        || compile(h, cfg, "answer_pattern", &f->answer_pattern, err, err_len)) {
        fmt_destroy(f);
        return NULL;
    }
    return f;
}

/* A failed completion: partial credit or 0, with the reason. */
static void failed(const fmt *f, rlvr_result *r, const rlvr_format_result *fr, const char *reason)
{
    const rlvr_host *h = f->host;
    double score = 0;
    if (f->partial > 0 && fr->tags_expected) {
        score = f->partial * (double)fr->tags_once / (double)fr->tags_expected;
        h->detail_number(r, "tags_once", fr->tags_once);
        h->detail_number(r, "tags_expected", fr->tags_expected);
    }
    h->set_status(r, RLVR_OK, score);
    h->set_reason(r, "%s", reason);
}

static void common_details(const fmt *f, rlvr_result *r, const rlvr_format_result *fr)
{
    const rlvr_host *h = f->host;
    if (fr->view.prefilled && f->opts.prefill != RLVR_FORMAT_PREFILL_NO) h->detail_string(r, "prefilled", "yes", 3);
    if (fr->view.stop_tokens_stripped) h->detail_number(r, "stop_tokens", (double)fr->view.stop_tokens_stripped);
}

/* Run a user pattern; returns 1 when it matched (scoring goes on), else 0
 * with the result filled. */
static int run_pattern(const fmt *f, rlvr_result *r, const rlvr_format_result *fr, const rlvr_format_regex *re,
                       const char *key, const char *s, size_t n)
{
    const rlvr_host *h = f->host;
    char msg[300];
    rlvr_format_match m = rlvr_format_regex_match(re, s, n, msg, sizeof msg);
    if (m == RLVR_FORMAT_MATCH) return 1;
    if (m == RLVR_FORMAT_FAILED) {
        h->set_status(r, RLVR_ERROR, 0);
        h->set_reason(r, "%s: %s", key, msg);
        return 0;
    }
    h->detail_string(r, "pattern", key, strlen(key));
    failed(f, r, fr, m == RLVR_FORMAT_LIMIT ? "pattern_limit"
                     : re == f->pattern    ? "pattern_mismatch"
                                           : "answer_pattern_mismatch");
    return 0;
}

static int fmt_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    (void)call;
    const fmt *f = inst;
    const rlvr_host *h = f->host;
    rlvr_format_result fr;
    const char *text = s->completion.ptr ? s->completion.ptr : "";
    size_t len = s->completion.ptr ? s->completion.len : 0;
    rlvr_format_check(text, len, &f->opts, &fr);
    common_details(f, r, &fr);
    if (fr.reason != RLVR_FMT_OK) {
        if (fr.tag) h->detail_string(r, "tag", fr.tag, strlen(fr.tag));
        if (fr.offset != SIZE_MAX) h->detail_number(r, "offset", (double)fr.offset);
        if (fr.policy) h->detail_string(r, "policy", fr.policy, strlen(fr.policy));
        if (fr.reason == RLVR_FMT_NO_THINK_OPEN || fr.reason == RLVR_FMT_NO_THINK_CLOSE
            || fr.reason == RLVR_FMT_NO_ANSWER_OPEN || fr.reason == RLVR_FMT_NO_ANSWER_CLOSE) {
            size_t n = 0, at = rlvr_format_lookalike(text, len, &n);
            if (at != SIZE_MAX) h->detail_string(r, "lookalike", text + at, n);
        }
        failed(f, r, &fr, rlvr_format_reason_name(fr.reason));
        return 0;
    }
    if (fr.allowed) {
        char list[128];
        size_t k = 0;
        list[k++] = '[';
        for (unsigned i = 0; i < RLVR_FMT_ALLOWED_N; i++)
            if (fr.allowed & (1u << i))
                k += (size_t)snprintf(list + k, sizeof list - k, "%s\"%s\"", k > 1 ? "," : "",
                                      rlvr_format_allowed_name(i));
        list[k++] = ']';
        h->detail_json(r, "allowed", list, k);
    }
    if (f->pattern && !run_pattern(f, r, &fr, f->pattern, "pattern", fr.view.begin,
                                   (size_t)(fr.view.end - fr.view.begin)))
        return 0;
    if (f->answer_pattern && !run_pattern(f, r, &fr, f->answer_pattern, "answer_pattern",
                                          fr.answer, fr.answer_len))
        return 0;
    h->set_status(r, RLVR_OK, 1.0);
    h->set_reason(r, "ok");
    return 0;
}

static const rlvr_plugin fmt_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "format",
    .version = "1.0.0",
    .description = "R1-Zero <think>..</think><answer>..</answer> (or R1 think + summary) format, with a reason code",
    .flags = RLVR_REENTRANT | RLVR_DETERMINISTIC,
    .options = fmt_options,
    .n_options = sizeof fmt_options / sizeof fmt_options[0],
    .create = fmt_create,
    .destroy = fmt_destroy,
    .score = fmt_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &fmt_plugin;
}
