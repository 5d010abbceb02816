/*
 * engine.h -- scoring samples with a mix on a pool of threads.
 *
 * The caller hands over a slice of input lines; the engine parses them,
 * routes each to its leaf mix, runs the entries in the mix's order (a later
 * entry may read earlier components; lazy entries run when asked for),
 * combines the components into a reward, and leaves one JSON result line
 * per sample. Leaves whose entries all score per sample are done in one
 * parallel pass; entries that score by batch are run stage by stage, over
 * slices or, for RLVR_GROUPS plugins, over runs of consecutive samples with
 * the same `group`. So that a group is never split, the engine may hold
 * back a suffix of a slice (unless it is the last), which the caller hands
 * over again at the head of the next slice.
 */
#ifndef RLVR_ENGINE_H
#define RLVR_ENGINE_H

#include "mix.h"
#include "pool.h"
#include "result.h"
#include "sample.h"

typedef struct rlvr_engine rlvr_engine;

typedef struct rlvr_line {
    const char *ptr;
    size_t len;
    int64_t line;
} rlvr_line;

/* What one scored sample left behind. */
typedef struct rlvr_outcome {
    const rlvr_buf *json;      /* the result line, without newline */
    int failed;                /* a parse, input or route error, or a component error */
    int reward_null;
    double reward;
    rlvr_text group;
    const char *first_error;   /* for the summary: "stage: message" or NULL */
} rlvr_outcome;

rlvr_engine *rlvr_engine_new(rlvr_mix *mix, const rlvr_field_map *map, int n_threads,
                             char *err, size_t err_len);
void rlvr_engine_free(rlvr_engine *e);
int rlvr_engine_threads(const rlvr_engine *e);
/* The worker numbers plugins see (rlvr_call.worker, n_workers): base + the
 * pool's own worker (0 .. threads-1), of n_workers in all. Several engines
 * sharing one mix (rlvr serve) each take their own range, so a plugin's
 * per-worker state (a Lua plugin's states, an isolated entry's worker
 * processes) is never used by two threads at once. Default: base 0 of the
 * pool's size. A range that does not fit (base + threads > n_workers) is
 * ignored. Call it before scoring. */
void rlvr_engine_set_workers(rlvr_engine *e, int base, int n_workers);

/* Score lines[0..n). Returns how many are finished (all of them when
 * `last` is set); outcomes are then read with rlvr_engine_outcome. 0 when
 * n > 0 means the slice is one group that may go on (hand over a longer
 * slice), or that memory ran out (then `last` also returns 0). */
size_t rlvr_engine_score(rlvr_engine *e, const rlvr_line *lines, size_t n, int last);
void rlvr_engine_outcome(rlvr_engine *e, size_t i, rlvr_outcome *out);

/* Per-entry counts over the finished samples so far (index: entry gid). */
typedef struct rlvr_entry_stats {
    double sum;
    size_t ok, abstain, error, skipped;
} rlvr_entry_stats;
const rlvr_entry_stats *rlvr_engine_stats(const rlvr_engine *e);

/* The components computed so far for a sample, as {"name": [status, value]}
 * (for isolation workers, whose plugins may read earlier components). */
void rlvr_engine_components_json(rlvr_hsample *hs, rlvr_buf *b);
/* Count finished samples [0, n) into the statistics (the caller does this
 * after writing them, so held-back samples are not counted twice). */
void rlvr_engine_count(rlvr_engine *e, size_t n);
#endif
