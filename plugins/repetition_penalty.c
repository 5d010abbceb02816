/*
 * repetition_penalty.c -- the `repetition_penalty` plugin: open-r1's n-gram
 * repetition penalty (get_repetition_penalty_reward, after Yeo et al. 2025,
 * appendix C.2), with a word split that works for Chinese.
 *
 * The completion is lower-cased and cut into words; with total n-grams of
 * ngram_size words and distinct of them different, the score is
 * (1 - distinct / total) * max_penalty: 0 when nothing repeats, approaching
 * max_penalty (<= 0) as the text repeats itself. Fewer words than ngram_size
 * (the empty completion included) score 0 ("too_short", "empty"), as in
 * open-r1.
 *
 * open-r1 splits on white space, which sees a Chinese or Japanese sentence
 * as one word, so a Chinese completion that loops is never penalised. With
 * split = "cjk" (the default) every Han, kana or Hangul character is a word
 * of its own (Unicode ranges, verifiers/shaping.c) and the rest of the text
 * is cut at white space as Python's str.split() cuts it; split =
 * "whitespace" is open-r1's split exactly. Case is folded with utf8proc's
 * simple lower-case mapping (Python's lower() differs only for U+0130 and the
 * final sigma).
 *
 * Invariants: time linear in the completion (times ngram_size), memory
 * O(words), freed before the call returns; n-grams compared exactly; the
 * instance is read-only after create, so the plugin is reentrant.
 */
#include "rlvr_plugin.h"
#include "shaping.h"

#include <stdio.h>
#include <string.h>

typedef struct rep_inst {
    const rlvr_host *host;
    int ngram;
    double max_penalty;
    rlvr_shaping_split split;
} rep_inst;

static const rlvr_option rep_options[] = {
    {"ngram_size", RLVR_OPT_INT, "3", 1, 1024, NULL, "words per n-gram"},
    {"max_penalty", RLVR_OPT_NUMBER, "-1.0", -1e9, 0, NULL,
     "the score of a text made of one repeated n-gram (not positive)"},
    {"split", RLVR_OPT_STRING, "cjk", 0, 0, "cjk|whitespace",
     "words: white space and one word per Han/kana/Hangul character, or white space only (open-r1)"},
};

static void *rep_create(const rlvr_host *host, const rlvr_config *cfg, char *err, size_t err_len)
{
    rlvr_text sp = host->config_string(cfg, "split");
    rep_inst *e = host->alloc(sizeof *e);
    if (!e) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    e->host = host;
    e->ngram = (int)host->config_int(cfg, "ngram_size");
    e->max_penalty = host->config_number(cfg, "max_penalty");
    e->split = sp.len == 10 && memcmp(sp.ptr, "whitespace", 10) == 0 ? RLVR_SHAPING_SPLIT_WHITESPACE
                                                                      : RLVR_SHAPING_SPLIT_CJK;
    return e;
}

static void rep_destroy(void *inst)
{
    rep_inst *e = inst;
    if (e) e->host->free(e);
}

static int rep_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    (void)call;
    rep_inst *e = inst;
    const rlvr_host *h = e->host;
    rlvr_shaping_ngrams g;
    int rc = rlvr_shaping_repetition(s->completion.ptr ? s->completion.ptr : "", s->completion.len, e->ngram,
                                     e->split, &g);
    if (rc != RLVR_SHAPING_OK) {
        h->set_status(r, RLVR_ERROR, 0);
        h->set_reason(r, "%s", rlvr_shaping_strerror(rc));
        return 0;
    }
    h->detail_number(r, "words", (double)g.words);
    h->detail_number(r, "ngrams", (double)g.total);
    h->detail_number(r, "distinct", (double)g.distinct);
    double score = rlvr_shaping_repetition_score(&g, e->max_penalty);
    h->set_status(r, RLVR_OK, score);
    if (s->completion.len == 0) h->set_reason(r, "empty");
    else if (g.total == 0) h->set_reason(r, "too_short");
    else h->set_reason(r, g.distinct < g.total ? "repeated" : "no_repetition");
    return 0;
}

static const rlvr_plugin rep_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "repetition_penalty",
    .version = "1.0.0",
    .description = "n-gram repetition penalty (0 to max_penalty); Chinese, Japanese and Korean split per character",
    .flags = RLVR_REENTRANT | RLVR_DETERMINISTIC,
    .options = rep_options,
    .n_options = sizeof rep_options / sizeof rep_options[0],
    .create = rep_create,
    .destroy = rep_destroy,
    .score = rep_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &rep_plugin;
}
