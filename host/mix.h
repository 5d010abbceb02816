/*
 * mix.h -- reward mixes: which plugins score a sample, with what weights
 * and configuration, and how their components combine into a reward.
 *
 * A mix is a Lua file (see README.md "Reward mixes"), or is made from
 * `--plugin NAME[=WEIGHT]` options. Loading validates everything before any
 * sample is read: unknown plugins, unknown or ill-typed configuration keys,
 * weights that are not numbers, unknown entry keys; each error names the
 * file and the line of the entry. A mix is a tree: a route node picks a
 * sub-mix by a sample field; a leaf holds entries and a combine rule.
 * Leaves are numbered in a fixed walk order (route cases by sorted key), so
 * that every worker's Lua state finds the same combine function for a leaf.
 */
#ifndef RLVR_MIX_H
#define RLVR_MIX_H

#include <lua.h>
#include <pthread.h>

#include "registry.h"

struct rlvr_worker_proc;

typedef struct rlvr_entry {
    char *name;              /* the component's name */
    rlvr_loaded *plugin;
    struct rlvr_config *config;
    void *instance;
    double weight;           /* at the current step */
    int weight_ref;          /* a weight(step) function in the main state, or LUA_NOREF */
    int optional, lazy, isolate;
    double timeout_ms;       /* isolation: per call */
    int line;                /* in the mix file; 0 when not from a file */
    int gid;                 /* index among all entries of the mix */
    pthread_mutex_t lock;    /* serialises non-reentrant plugins */
    struct rlvr_worker_proc **procs; /* isolation: one worker process per thread */
    int n_procs;
} rlvr_entry;

typedef struct rlvr_leaf {
    rlvr_entry *entries;
    size_t n;
    int has_combine_fn;      /* else the weighted sum */
    int has_batch;           /* some non-lazy entry scores by batch */
    int index;
    char *label;             /* "" or "data_source=math" */
} rlvr_leaf;

typedef struct rlvr_node {
    rlvr_leaf *leaf;         /* a leaf, or a route: */
    char *field;
    size_t n_cases;
    char **keys;
    struct rlvr_node **cases;
    struct rlvr_node *fallback;
} rlvr_node;

typedef struct rlvr_mix {
    char *path;              /* NULL for a --plugin mix */
    rlvr_node *root;
    rlvr_leaf **leaves;
    size_t n_leaves;
    rlvr_entry **all;        /* every entry, by gid */
    size_t n_entries;
    size_t max_entries;      /* the most entries of one leaf */
    lua_State *L;            /* the main state: weight functions */
    int64_t step;
} rlvr_mix;

/* Load a mix file. NULL with "file:line: message" in err. */
rlvr_mix *rlvr_mix_load(const char *path, rlvr_registry *reg, char *err, size_t err_len);
/* A mix of plugins given on the command line: specs "NAME[=WEIGHT]". */
rlvr_mix *rlvr_mix_from_plugins(char **specs, size_t n, rlvr_registry *reg, char *err, size_t err_len);
void rlvr_mix_free(rlvr_mix *m);

/* Evaluate weight functions for `step`. -1 with err when one fails. */
int rlvr_mix_set_step(rlvr_mix *m, int64_t step, char *err, size_t err_len);

/* A Lua state for one worker with the mix's combine functions: NULL (and
 * no error) when the mix has none. */
lua_State *rlvr_mix_worker_state(rlvr_mix *m, char *err, size_t err_len);
/* Push leaf i's combine function from a worker state. */
void rlvr_mix_push_combine(lua_State *L, int leaf);
#endif
