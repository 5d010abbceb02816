/*
 * serve.h -- the scheduler behind `rlvr serve`: requests' samples scored on
 * a shared set of scoring threads, with slow plugins kept from blocking
 * fast requests.
 *
 * A job is one request's samples (JSONL lines the caller keeps alive until
 * the job is released). It is cut into tasks of a few consecutive samples
 * (never splitting a run of one `group` when the mix has a plugin that
 * scores whole groups). Each scoring thread owns an engine of one thread
 * over the shared mix, with its own range of worker numbers (so plugins'
 * per-worker state is never shared), and takes the next task from the job
 * that has the fewest tasks running (oldest first among equals): a 1-sample
 * request is served by the next free thread even behind a 256-sample batch.
 *
 * Slow plugins (a judge, a sandbox, a plugin that sleeps) hold a thread
 * while they wait. When tasks are waiting, no thread is idle, and no thread
 * has started or finished a task for `stall_ms`, a monitor starts more
 * threads (one per waiting job, up to max_threads): a thread blocked off the
 * CPU does not stop the others' requests. Threads beyond the core count
 * leave after idling for a while. Invariants: queued counts the samples of
 * tasks not yet taken; a job is freed when the requester has released it
 * and no task of it is running; results are written only by the thread
 * that ran the task, and read only after the job is done.
 */
#ifndef RLVR_SERVE_H
#define RLVR_SERVE_H

#include <stddef.h>

#include "engine.h"
#include "mix.h"
#include "sample.h"

typedef struct rlvr_sched rlvr_sched;
typedef struct rlvr_job rlvr_job;

typedef struct rlvr_sched_opts {
    int threads;        /* scoring threads always running */
    int max_threads;    /* the most, when slow plugins hold threads */
    double stall_ms;    /* no progress for this long with tasks waiting: another thread */
    size_t queue_limit; /* samples waiting at most */
    double idle_exit_s; /* a thread beyond `threads` leaves after idling this long */
} rlvr_sched_opts;

/* One sample's result, valid after the job is done. */
typedef struct rlvr_job_result {
    char *json;          /* the result line (as rlvr score writes it), malloc'd */
    size_t len;
    int failed;          /* an error result, or a component error */
    int reward_null;
    double reward;
} rlvr_job_result;

rlvr_sched *rlvr_sched_new(rlvr_mix *mix, const rlvr_field_map *map, const rlvr_sched_opts *o, char *err,
                           size_t err_len);
/* Stop the threads (after the tasks already taken end) and free. Jobs still
 * held must have been released. */
void rlvr_sched_free(rlvr_sched *s);

/* Submit lines[0..n) (the job copies them: the caller may free them once
 * this returns).
 * Returns the job, or NULL with *busy = 1 when the queue has no room (answer
 * 503), or *busy = 0 when memory ran out. */
rlvr_job *rlvr_sched_submit(rlvr_sched *s, const rlvr_line *lines, size_t n, int *busy);
/* Wait until the job is done or `deadline` (rlvr_now() seconds) passes.
 * 0: done; -1: timed out (its waiting tasks are withdrawn). */
int rlvr_job_wait(rlvr_job *j, double deadline);
const rlvr_job_result *rlvr_job_results(const rlvr_job *j);
void rlvr_job_release(rlvr_job *j);

/* Gauges and per-entry statistics for /metrics. */
typedef struct rlvr_sched_info {
    size_t queued;       /* samples waiting */
    size_t queue_limit;
    int threads, busy, max_threads;
    size_t threads_started; /* beyond the core, since the start */
} rlvr_sched_info;
void rlvr_sched_info_get(rlvr_sched *s, rlvr_sched_info *out);
/* Sums of every thread's engine statistics into stats[mix->n_entries]. */
void rlvr_sched_entry_stats(rlvr_sched *s, rlvr_entry_stats *stats);
#endif
