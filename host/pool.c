/*
 * pool.c -- the worker pool (see pool.h).
 *
 * Invariants: `generation` counts loops started; a worker runs a loop once
 * per generation; `busy` counts workers still inside the current loop, and
 * the caller returns only when it is zero, so ctx may live on its stack.
 */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct rlvr_pool {
    int n;                  /* threads including the caller */
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    unsigned long generation;
    int busy;
    int quit;
    /* the current loop */
    size_t count, block;
    atomic_size_t next;
    rlvr_pool_fn fn;
    void *ctx;
};

typedef struct { rlvr_pool *p; int worker; } start_arg;

static void run_loop(rlvr_pool *p, int worker)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, p->block);
        if (i >= p->count) break;
        size_t end = i + p->block < p->count ? i + p->block : p->count;
        for (; i < end; i++) p->fn(p->ctx, i, worker);
    }
}

static void *thread_main(void *arg)
{
    start_arg a = *(start_arg *)arg;
    free(arg);
    rlvr_pool *p = a.p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->start, &p->lock);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        run_loop(p, a.worker);
        pthread_mutex_lock(&p->lock);
        if (--p->busy == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

rlvr_pool *rlvr_pool_new(int n_threads)
{
    if (n_threads < 1) n_threads = 1;
    rlvr_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) { free(p); return NULL; }
    for (int i = 1; i < n_threads; i++) {
        start_arg *a = malloc(sizeof *a);
        if (!a || (a->p = p, a->worker = i, pthread_create(&p->threads[i], NULL, thread_main, a))) {
            free(a);
            p->n = i; /* run with the threads we have */
            break;
        }
    }
    return p;
}

void rlvr_pool_free(rlvr_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int rlvr_pool_size(const rlvr_pool *p) { return p->n; }

void rlvr_pool_for(rlvr_pool *p, size_t n, rlvr_pool_fn fn, void *ctx)
{
    if (n == 0) return;
    size_t block = n / ((size_t)p->n * 8);
    if (block < 1) block = 1;
    if (block > 64) block = 64;
    if (p->n == 1 || n == 1) {
        for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->count = n;
    p->block = block;
    atomic_store(&p->next, 0);
    p->fn = fn;
    p->ctx = ctx;
    p->busy = p->n - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    run_loop(p, 0);
    pthread_mutex_lock(&p->lock);
    while (p->busy > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}
