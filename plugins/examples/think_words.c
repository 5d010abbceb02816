/*
 * think_words.c -- an example reward plugin, walked through in README.md.
 *
 * It rewards reasoning of a useful length: the number of words inside the
 * completion's <think>...</think> block, divided by a target and capped at
 * 1. A completion without a think block scores 0 with the reason
 * "no_think_block" (the model failed: it is accountable). It shows the
 * whole ABI a simple plugin needs: one exported entry, a descriptor, a
 * validated option, an instance, and a per-sample score with details.
 *
 * Build it against an installed rlvr:
 *   cc -shared $(pkg-config --cflags rlvr) think_words.c -o think_words.so
 * and use it:
 *   rlvr score --plugin ./think_words.so --in samples.jsonl
 */
#include <string.h>

#include "rlvr_plugin.h"

/* The host's services, kept from the entry call. */
static const rlvr_host *host;

/* Configuration keys: validated by the host before create() is called. */
static const rlvr_option options[] = {
    {"target_words", RLVR_OPT_INT, "50", 1, 100000, NULL,
     "words of reasoning that earn the full reward"},
};

typedef struct think_words {
    long target;
} think_words;

static void *tw_create(const rlvr_host *h, const rlvr_config *cfg, char *err, size_t err_len)
{
    (void)err;
    (void)err_len;
    think_words *tw = h->alloc(sizeof *tw);
    if (tw) tw->target = (long)h->config_int(cfg, "target_words");
    return tw;
}

static void tw_destroy(void *inst) { host->free(inst); }

static const char *find(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

static int tw_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    (void)call;
    const think_words *tw = inst;
    const char *text = s->completion.ptr;
    size_t n = s->completion.len;
    const char *open = find(text, n, "<think>");
    const char *close = open ? find(open, n - (size_t)(open - text), "</think>") : NULL;
    if (!close) {
        host->set_status(r, RLVR_OK, 0.0);
        host->set_reason(r, "no_think_block");
        return 0;
    }
    long words = 0;
    int in_word = 0;
    for (const char *p = open + 7; p < close; p++) {
        int space = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
        if (!space && !in_word) words++;
        in_word = !space;
    }
    double score = words >= tw->target ? 1.0 : (double)words / (double)tw->target;
    host->set_status(r, RLVR_OK, score);
    host->detail_number(r, "words", (double)words);
    return 0;
}

static const rlvr_plugin descriptor = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "think_words",
    .version = "1.0.0",
    .description = "words of reasoning in <think>...</think>, over a target, capped at 1",
    .flags = RLVR_REENTRANT | RLVR_DETERMINISTIC,
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .create = tw_create,
    .destroy = tw_destroy,
    .score = tw_score,
};

/* The one exported symbol. */
RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *h)
{
    host = h;
    return &descriptor;
}
