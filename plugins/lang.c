/*
 * lang.c -- the `lang` plugin: DeepSeek-R1's language-consistency reward,
 * the proportion of target-language words in the chain of thought.
 *
 * The target language is the sample's `language` field, else the `language`
 * option, else the language CLD2 detects in the prompt (detect_from_prompt).
 * The chain of thought is the <think> block (what comes before </think> when
 * <think> was pre-filled) or, with scope = "completion", the whole
 * completion. The engine (verifiers/lang.h) strips code, math, URLs,
 * numbers and punctuation, segments and classifies the words, and
 * identifies the sentences of shared-script targets with CLD2.
 *
 * Statuses: the score is target words / counted words, with reason
 * "consistent" (1), "mixed" (between) or "no_target_words" (0). It abstains
 * with "nothing_countable" (fewer than min_words countable words),
 * "no_target_language" (no field, no option, and no language detectable in
 * the prompt) or "unsupported_language" (a tag rlvr cannot count, e.g. a
 * language CLD2 does not know). Out of memory is an error.
 *
 * Invariants: reentrant. Each worker (call->worker) owns one engine scratch,
 * made on its first call and kept until destroy; the table of scratches is
 * made once, under a mutex, for the n_workers of the first call, and a call
 * from a worker beyond it uses a scratch of its own for that call only.
 */
#include "rlvr_plugin.h"
#include "lang.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

typedef struct lang_inst {
    const rlvr_host *host;
    rlvr_lang_opts opts;
    int has_default;
    rlvr_lang_target deflt;
    int detect;
    int scope_completion;
    int64_t min_words;
    pthread_mutex_t lock;
    _Atomic(rlvr_lang_scratch **) scratch;
    int n_scratch;
} lang_inst;

static const rlvr_option lang_options[] = {
    {"language", RLVR_OPT_STRING, "", 0, 0, NULL,
     "target language (ISO 639-1: en, zh, ja...) for samples without a `language` field; empty: detect it in the prompt"},
    {"detect_from_prompt", RLVR_OPT_BOOL, "true", 0, 0, NULL,
     "with no language from the sample or the configuration, take the prompt's (else abstain: no_target_language)"},
    {"cjk_unit", RLVR_OPT_STRING, "word", 0, 0, "word|char",
     "unit for Han and kana: word (ICU dictionary word break) or char (one character, one word)"},
    {"scope", RLVR_OPT_STRING, "think", 0, 0, "think|completion",
     "think: the <think> block (or what precedes </think>; the whole text without tags); completion: all of it"},
    {"unidentified", RLVR_OPT_STRING, "skip", 0, 0, "skip|other",
     "words of a sentence the identifier cannot name: skip (not counted) or other (counted, not target)"},
    {"min_words", RLVR_OPT_INT, "1", 1, 1000000, NULL,
     "abstain (nothing_countable) below this many countable words"},
};

static void *lang_create(const rlvr_host *host, const rlvr_config *cfg, char *err, size_t err_len)
{
    lang_inst *li = host->alloc(sizeof *li);
    if (!li) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    memset(li, 0, sizeof *li);
    li->host = host;
    rlvr_text lang = host->config_string(cfg, "language");
    if (lang.ptr && lang.len) {
        rlvr_lang_target_status st = rlvr_lang_target_parse(lang.ptr, lang.len, &li->deflt);
        if (st != RLVR_LANG_TARGET_OK) {
            snprintf(err, err_len, "language: '%.*s' is %s", (int)(lang.len > 32 ? 32 : lang.len), lang.ptr,
                     st == RLVR_LANG_TARGET_MALFORMED
                         ? "not a language tag (ISO 639-1, e.g. en, zh, ja)"
                         : "a language that lang cannot count (not one the identifier CLD2 knows)");
            host->free(li);
            return NULL;
        }
        li->has_default = 1;
    }
    rlvr_text unit = host->config_string(cfg, "cjk_unit");
    li->opts.unit = unit.ptr && strcmp(unit.ptr, "char") == 0 ? RLVR_LANG_UNIT_CHAR : RLVR_LANG_UNIT_WORD;
    rlvr_text un = host->config_string(cfg, "unidentified");
    li->opts.unidentified_counts = un.ptr && strcmp(un.ptr, "other") == 0;
    rlvr_text scope = host->config_string(cfg, "scope");
    li->scope_completion = scope.ptr && strcmp(scope.ptr, "completion") == 0;
    li->detect = host->config_bool(cfg, "detect_from_prompt");
    li->min_words = host->config_int(cfg, "min_words");
    pthread_mutex_init(&li->lock, NULL);
    atomic_init(&li->scratch, NULL);
    /* fail at load, not on the first sample, when ICU cannot segment */
    rlvr_lang_scratch *probe = rlvr_lang_scratch_new(err, err_len);
    if (!probe) {
        pthread_mutex_destroy(&li->lock);
        host->free(li);
        return NULL;
    }
    rlvr_lang_scratch_free(probe);
    return li;
}

static void lang_destroy(void *inst)
{
    lang_inst *li = inst;
    if (!li) return;
    rlvr_lang_scratch **t = atomic_load(&li->scratch);
    if (t) {
        for (int i = 0; i < li->n_scratch; i++) rlvr_lang_scratch_free(t[i]);
        li->host->free(t);
    }
    pthread_mutex_destroy(&li->lock);
    li->host->free(li);
}

/* The worker's scratch; *temp is set when the caller must free it. */
static rlvr_lang_scratch *worker_scratch(lang_inst *li, const rlvr_call *call, int *temp,
                                         char *err, size_t err_len)
{
    *temp = 0;
    rlvr_lang_scratch **t = atomic_load_explicit(&li->scratch, memory_order_acquire);
    if (!t) {
        pthread_mutex_lock(&li->lock);
        t = atomic_load_explicit(&li->scratch, memory_order_relaxed);
        if (!t) {
            int n = call->n_workers > 0 && call->n_workers <= 4096 ? call->n_workers : 1;
            t = li->host->alloc((size_t)n * sizeof *t);
            if (t) {
                memset(t, 0, (size_t)n * sizeof *t);
                li->n_scratch = n;
                atomic_store_explicit(&li->scratch, t, memory_order_release);
            }
        }
        pthread_mutex_unlock(&li->lock);
    }
    int w = call->worker;
    if (t && w >= 0 && w < li->n_scratch) {
        if (!t[w]) t[w] = rlvr_lang_scratch_new(err, err_len);
        return t[w];
    }
    *temp = 1;
    return rlvr_lang_scratch_new(err, err_len);
}

static void text_detail(const rlvr_host *h, rlvr_result *r, const char *key, const char *s)
{
    h->detail_string(r, key, s, strlen(s));
}

/* Appends s at buf[o]; returns the new length (the caller sized buf). */
static size_t put_str(char *buf, size_t o, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf + o, s, n);
    return o + n;
}

/* Appends v in decimal at buf[o] (at most 20 digits); returns the new length. */
static size_t put_uint(char *buf, size_t o, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do d[n++] = (char)('0' + v % 10), v /= 10; while (v);
    while (n) buf[o++] = d[--n];
    return o;
}

static int lang_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    lang_inst *li = inst;
    const rlvr_host *h = li->host;
    char err[256] = "";
    int temp;
    rlvr_lang_scratch *sc = worker_scratch(li, call, &temp, err, sizeof err);
    if (!sc) {
        h->set_status(r, RLVR_ERROR, 0);
        h->set_reason(r, "%s", err[0] ? err : "out of memory");
        return 0;
    }

    /* the target language */
    rlvr_lang_target target;
    const char *source = NULL;
    if (s->language.ptr && s->language.len) {
        rlvr_lang_target_status st = rlvr_lang_target_parse(s->language.ptr, s->language.len, &target);
        if (st != RLVR_LANG_TARGET_OK) {
            h->set_status(r, RLVR_ABSTAIN, 0);
            h->set_reason(r, "unsupported_language");
            h->detail_string(r, "language", s->language.ptr, s->language.len > 64 ? 64 : s->language.len);
            text_detail(h, r, "language_source", "sample");
            goto out;
        }
        source = "sample";
    } else if (li->has_default) {
        target = li->deflt;
        source = "config";
    } else if (li->detect && s->prompt.ptr && s->prompt.len) {
        char code[8];
        int d = rlvr_lang_detect(sc, s->prompt.ptr, s->prompt.len, code);
        if (d == -2) {
            h->set_status(r, RLVR_ERROR, 0);
            h->set_reason(r, "out of memory while detecting the prompt's language");
            goto out;
        }
        if (d == 0 && rlvr_lang_target_parse(code, strlen(code), &target) == RLVR_LANG_TARGET_OK)
            source = "prompt";
    }
    if (!source) {
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "no_target_language");
        goto out;
    }
    text_detail(h, r, "language", target.code);
    text_detail(h, r, "language_source", source);

    /* the chain of thought */
    size_t start = 0, len = s->completion.len;
    const char *text = s->completion.ptr ? s->completion.ptr : "";
    if (li->scope_completion) {
        text_detail(h, r, "cot", "completion");
    } else {
        rlvr_lang_cot_kind k = rlvr_lang_cot(text, len, &start, &len);
        text_detail(h, r, "cot", rlvr_lang_cot_name(k));
    }

    rlvr_lang_result res;
    if (rlvr_lang_count(sc, text + start, len, &target, &li->opts, &res, err, sizeof err)) {
        h->set_status(r, RLVR_ERROR, 0);
        h->set_reason(r, "%s", err);
        goto out;
    }
    text_detail(h, r, "unit", li->opts.unit == RLVR_LANG_UNIT_CHAR ? "char" : "word");
    h->detail_number(r, "counted_words", (double)res.counted);
    h->detail_number(r, "target_words", (double)res.target);
    if (res.unidentified) h->detail_number(r, "unidentified_words", (double)res.unidentified);

    /* the two JSON details, written by hand (no printf on the per-sample
     * path): at most 11 scripts and 16 sentences, each well under 96 bytes,
     * so 2048 bytes always suffice */
    char json[2048];
    size_t o = 0;
    json[o++] = '{';
    for (int i = 0; i < RLVR_SCRIPT_COUNT; i++) {
        if (!res.by_script[i]) continue;
        if (o > 1) json[o++] = ',';
        json[o++] = '"';
        o = put_str(json, o, rlvr_lang_script_name((rlvr_lang_script)i));
        json[o++] = '"';
        json[o++] = ':';
        o = put_uint(json, o, res.by_script[i]);
    }
    json[o++] = '}';
    h->detail_json(r, "scripts", json, o);

    h->detail_number(r, "sentences", (double)res.sentences);
    o = 0;
    json[o++] = '[';
    for (size_t i = 0; i < res.n_kept; i++) {
        const rlvr_lang_sentence *k = &res.kept[i];
        /* lang is a code or a script name: [a-z-] only, no escaping needed */
        if (i) json[o++] = ',';
        o = put_str(json, o, "{\"lang\":\"");
        o = put_str(json, o, k->lang);
        o = put_str(json, o, "\",\"words\":");
        o = put_uint(json, o, k->words);
        o = put_str(json, o, ",\"target\":");
        o = put_uint(json, o, k->target);
        json[o++] = '}';
    }
    json[o++] = ']';
    h->detail_json(r, "sentence_languages", json, o);

    if (res.counted == 0 || (int64_t)res.counted < li->min_words) {
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "nothing_countable");
        goto out;
    }
    double score = (double)res.target / (double)res.counted;
    h->set_status(r, RLVR_OK, score);
    /* reasons without a conversion: set_reason's format is the text itself */
    h->set_reason(r, res.target == res.counted ? "consistent" : res.target ? "mixed" : "no_target_words");
out:
    if (temp) rlvr_lang_scratch_free(sc);
    return 0;
}

static const rlvr_plugin lang_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "lang",
    .version = "1.0.0",
    .description = "language consistency (DeepSeek-R1): proportion of target-language words in the chain of thought",
    .flags = RLVR_REENTRANT | RLVR_DETERMINISTIC,
    .options = lang_options,
    .n_options = sizeof lang_options / sizeof lang_options[0],
    .create = lang_create,
    .destroy = lang_destroy,
    .score = lang_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &lang_plugin;
}
