/*
 * pool.h -- a fixed pool of worker threads running parallel loops.
 *
 * rlvr_pool_for(pool, n, fn, ctx) calls fn(ctx, i, worker) for every i in
 * [0, n) across the pool's threads and the calling thread (worker 0), and
 * returns when all calls have returned. Indices are handed out in small
 * blocks from an atomic counter. One loop runs at a time per pool.
 */
#ifndef RLVR_POOL_H
#define RLVR_POOL_H
#include <stddef.h>

typedef struct rlvr_pool rlvr_pool;
typedef void (*rlvr_pool_fn)(void *ctx, size_t i, int worker);

/* n_threads counts the caller: 1 means no extra thread. NULL on failure. */
rlvr_pool *rlvr_pool_new(int n_threads);
void rlvr_pool_free(rlvr_pool *p);
int rlvr_pool_size(const rlvr_pool *p);
void rlvr_pool_for(rlvr_pool *p, size_t n, rlvr_pool_fn fn, void *ctx);
#endif
