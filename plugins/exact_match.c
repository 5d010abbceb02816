/*
 * exact_match.c -- the `exact_match` plugin: the final answer, compared as
 * text with the gold answer.
 *
 * The completion's answer is found by verifiers/answer.c (last <answer> tag,
 * else last \boxed{}, after </think> when present); the gold goes through the
 * same path but is taken whole when it has no tag or box. Both are then
 * normalised (whitespace collapsed, surrounding $...$ and a trailing period
 * removed, ASCII case folded unless case_sensitive) and compared byte for
 * byte. No answer scores 0 ("no_answer"); a missing gold abstains. For
 * mathematical equivalence use the `math` plugin; this one is for answers
 * that are labels, names or exact strings.
 */
#include "rlvr_plugin.h"
#include "answer.h"

#include <stdlib.h>
#include <string.h>

typedef struct em {
    const rlvr_host *host;
    int case_sensitive;
    int whole;
    size_t max_len;
} em;

static const rlvr_option em_options[] = {
    {"case_sensitive", RLVR_OPT_BOOL, "false", 0, 0, NULL,
     "compare letters with their case (default: ASCII case folded)"},
    {"fallback_whole", RLVR_OPT_BOOL, "false", 0, 0, NULL,
     "with no <answer> tag or \\boxed{}, take the whole text after </think>"},
    {"max_answer_bytes", RLVR_OPT_INT, "4096", 1, 1 << 20, NULL,
     "longer extracted answers score 0 (reason answer_too_long)"},
};

/* Normalise src[0..n) into dst (capacity >= n); returns the new length. */
static size_t normalise(const char *src, size_t n, int fold, char *dst)
{
    rlvr_answer_trim(&src, &n);
    if (n >= 2 && src[0] == '$' && src[n - 1] == '$') {
        src++;
        n -= 2;
        rlvr_answer_trim(&src, &n);
    }
    while (n && src[n - 1] == '.') n--;
    size_t k = 0;
    int space = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f') {
            space = 1;
            continue;
        }
        if (space && k) dst[k++] = ' ';
        space = 0;
        dst[k++] = (char)(fold && c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    return k;
}

static void *em_create(const rlvr_host *host, const rlvr_config *cfg, char *err, size_t err_len)
{
    em *e = host->alloc(sizeof *e);
    if (!e) return NULL;
    e->host = host;
    e->case_sensitive = host->config_bool(cfg, "case_sensitive");
    e->whole = host->config_bool(cfg, "fallback_whole");
    e->max_len = (size_t)host->config_int(cfg, "max_answer_bytes");
    return e;
}

static void em_destroy(void *inst)
{
    em *e = inst;
    if (e) e->host->free(e);
}

static int em_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    em *e = inst;
    const rlvr_host *h = e->host;
    if (!s->answer.ptr) {
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "no gold answer in the sample");
        return 0;
    }
    rlvr_answer_span gold, pred;
    if (rlvr_answer_find(s->answer.ptr, s->answer.len, 1, &gold) == RLVR_ANSWER_NONE) {
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "gold answer is empty");
        return 0;
    }
    if (!s->completion.ptr
        || rlvr_answer_find(s->completion.ptr, s->completion.len, e->whole, &pred) == RLVR_ANSWER_NONE) {
        h->set_status(r, RLVR_OK, 0);
        h->set_reason(r, "no_answer");
        return 0;
    }
    h->detail_string(r, "extracted", pred.ptr, pred.len < 256 ? pred.len : 256);
    h->detail_string(r, "rule", rlvr_answer_rule_name(pred.rule), strlen(rlvr_answer_rule_name(pred.rule)));
    if (pred.len > e->max_len) {
        h->set_status(r, RLVR_OK, 0);
        h->set_reason(r, "answer_too_long");
        return 0;
    }
    if (gold.len > e->max_len) {
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "gold answer longer than max_answer_bytes");
        return 0;
    }
    char *a = h->alloc(pred.len + gold.len + 2);
    if (!a) {
        h->set_status(r, RLVR_ERROR, 0);
        h->set_reason(r, "out of memory");
        return 0;
    }
    char *b = a + pred.len + 1;
    size_t na = normalise(pred.ptr, pred.len, !e->case_sensitive, a);
    size_t nb = normalise(gold.ptr, gold.len, !e->case_sensitive, b);
    int same = na == nb && memcmp(a, b, na) == 0;
    h->free(a);
    h->set_status(r, RLVR_OK, same ? 1.0 : 0.0);
    h->set_reason(r, same ? "match" : "mismatch");
    return 0;
}

static const rlvr_plugin em_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "exact_match",
    .version = "1.0.0",
    .description = "final answer (<answer> tag or \\boxed{}) equals the gold answer as normalised text",
    .flags = RLVR_REENTRANT | RLVR_DETERMINISTIC,
    .options = em_options,
    .n_options = sizeof em_options / sizeof em_options[0],
    .create = em_create,
    .destroy = em_destroy,
    .score = em_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &em_plugin;
}
