/*
 * trivial.c -- the `trivial` test plugin: 1.0 when the completion is
 * non-empty, else 0.0.
 *
 * It exists to measure the host, not a reward: `make bench`
 * (tests/bench/score.sh) scores the benchmark corpus with it, so every
 * sample/s it reports is the cost of reading, parsing, dispatching to worker
 * threads and writing results. It does the same work as the Lua plugin
 * tests/bench/trivial.lua and the Python loop tests/bench/py_loop.py, so the
 * three are comparable. Reentrant and deterministic: no state at all (no
 * instance, create is NULL), it reads only the completion's length and
 * fills the result directly, which the ABI allows for single-sample calls.
 * An absent completion (ptr NULL, len 0) scores 0 like an empty one.
 */
#include "rlvr_plugin.h"

static int trivial_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    r->status = RLVR_OK;
    r->score = s->completion.len > 0 ? 1.0 : 0.0;
    r->filled = 1;
    return 0;
}

static const rlvr_plugin trivial_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "trivial",
    .version = "1.0.0",
    .description = "1.0 when the completion is non-empty (benchmark plugin: measures the host)",
    .flags = RLVR_REENTRANT | RLVR_DETERMINISTIC,
    .score = trivial_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host);

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    return &trivial_plugin;
}
