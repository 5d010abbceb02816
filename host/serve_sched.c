/*
 * serve_sched.c -- the scheduler behind `rlvr serve` (see serve.h).
 *
 * One mutex guards the scheduler's state (jobs with tasks left, counts,
 * threads); a thread holds it only to pick or to finish a task, never while
 * scoring. Each scoring thread has a context (an engine over the shared mix
 * and its statistics under a lock of its own, so /metrics can sum them
 * while the thread scores). Contexts outlive their threads and are reused,
 * so engines are made at most max_threads times and the statistics are
 * never lost. Tasks are cut at submit time: at most TASK_MAX samples, fewer
 * when the job is small (so one job spreads over the core threads), and
 * never inside a run of one group when the mix wants whole groups.
 */
#include "serve.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define TASK_MAX 16

struct rlvr_job {
    rlvr_sched *s;
    rlvr_line *lines;      /* [n], pointing into bytes: the job's own copy, so
                            * a task still running after its request timed out
                            * (504) never reads a freed request body */
    char *bytes;
    size_t n;
    size_t *cuts;          /* task t is [cuts[t], cuts[t+1]) */
    size_t n_tasks, next_task;
    size_t remaining;      /* samples not finished */
    int running;           /* tasks being scored */
    int released, withdrawn, listed;
    uint64_t seq;          /* submission order */
    rlvr_job_result *res;  /* [n] */
    pthread_cond_t done;
    struct rlvr_job *prev, *next; /* the list of jobs with tasks left */
};

typedef struct ctx {
    int id;                /* worker base: plugins see worker id of max_threads */
    int in_use;            /* a live thread owns it */
    rlvr_engine *eng;
    pthread_mutex_t stats_lock;
    rlvr_sched *s;
} ctx;

struct rlvr_sched {
    rlvr_mix *mix;
    const rlvr_field_map *map;
    rlvr_sched_opts o;
    int wants_groups;
    pthread_mutex_t lock;
    pthread_cond_t work;       /* a task is waiting, or stop */
    pthread_cond_t monitor_cv; /* the monitor's: tasks waiting with no idle thread */
    pthread_cond_t exited;     /* a thread left */
    rlvr_job *head, *tail;     /* jobs with tasks left, in submission order */
    size_t n_listed;
    uint64_t seq;
    size_t queued;
    int live, idle, busy;
    size_t started_extra;
    double progress;           /* last time a task was taken or finished, or a thread started */
    int stop;
    ctx *ctxs;                 /* [max_threads] */
    pthread_mutex_t engine_lock; /* making engines (the mix's Lua states are made one at a time) */
    pthread_t monitor;
    int monitor_started;
};

/* ---- jobs ------------------------------------------------------------------ */

static void job_free(rlvr_job *j)
{
    for (size_t i = 0; j->res && i < j->n; i++) free(j->res[i].json);
    free(j->res);
    free(j->cuts);
    free(j->lines);
    free(j->bytes);
    pthread_cond_destroy(&j->done);
    free(j);
}

static void unlist(rlvr_sched *s, rlvr_job *j)
{
    if (!j->listed) return;
    if (j->prev) j->prev->next = j->next;
    else s->head = j->next;
    if (j->next) j->next->prev = j->prev;
    else s->tail = j->prev;
    j->prev = j->next = NULL;
    j->listed = 0;
    s->n_listed--;
}

/* The job whose turn it is: the fewest tasks running, the oldest first. */
static rlvr_job *pick(rlvr_sched *s)
{
    rlvr_job *best = NULL;
    for (rlvr_job *j = s->head; j; j = j->next) {
        if (!best || j->running < best->running) best = j;
        if (best->running == 0) break; /* the list is oldest first */
    }
    return best;
}

/* The group text of each line (as the engine will read it), to cut tasks
 * between groups. -1 when memory ran out. */
static int group_cuts(rlvr_sched *s, rlvr_job *j)
{
    json_tokener *tok = json_tokener_new_ex(64);
    rlvr_hsample a, b;
    rlvr_sample_init(&a);
    rlvr_sample_init(&b);
    if (!tok) return -1;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    size_t nc = 0;
    j->cuts[nc++] = 0;
    rlvr_hsample *prev = &a, *cur = &b;
    int prev_ok = 0;
    size_t start = 0;
    for (size_t i = 0; i < j->n; i++) {
        rlvr_sample_reset(cur);
        int ok = rlvr_sample_parse(cur, tok, j->lines[i].ptr, j->lines[i].len, j->lines[i].line, s->map) == 0
                 && cur->pub.group.ptr;
        int same = ok && prev_ok && prev->pub.group.len == cur->pub.group.len
                   && memcmp(prev->pub.group.ptr, cur->pub.group.ptr, cur->pub.group.len) == 0;
        /* Cut before i when it starts a new group and the task is long enough,
         * or when a task without groups is full. */
        if (i > start && !same && i - start >= TASK_MAX) {
            j->cuts[nc++] = i;
            start = i;
        }
        rlvr_hsample *t = prev;
        prev = cur;
        cur = t;
        prev_ok = ok;
    }
    j->cuts[nc] = j->n;
    j->n_tasks = nc;
    rlvr_sample_destroy(&a);
    rlvr_sample_destroy(&b);
    json_tokener_free(tok);
    return 0;
}

rlvr_job *rlvr_sched_submit(rlvr_sched *s, const rlvr_line *lines, size_t n, int *busy)
{
    *busy = 0;
    rlvr_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->s = s;
    j->n = n;
    j->remaining = n;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += lines[i].len + 1;
    j->lines = malloc((n ? n : 1) * sizeof *j->lines);
    j->bytes = malloc(total ? total : 1);
    j->res = calloc(n ? n : 1, sizeof *j->res);
    j->cuts = malloc((n + 2) * sizeof *j->cuts);
    if (!j->lines || !j->bytes || !j->res || !j->cuts || pthread_cond_init(&j->done, NULL)) {
        free(j->lines);
        free(j->bytes);
        free(j->res);
        free(j->cuts);
        free(j);
        return NULL;
    }
    for (size_t i = 0, at = 0; i < n; i++) {
        memcpy(j->bytes + at, lines[i].ptr, lines[i].len);
        j->bytes[at + lines[i].len] = 0;
        j->lines[i] = (rlvr_line){.ptr = j->bytes + at, .len = lines[i].len, .line = lines[i].line};
        at += lines[i].len + 1;
    }
    if (s->wants_groups && n > 1) {
        if (group_cuts(s, j)) { job_free(j); return NULL; }
    } else {
        /* Spread a small job over the core threads; at most TASK_MAX a task. */
        size_t per = (n + (size_t)s->o.threads - 1) / (size_t)s->o.threads;
        if (per > TASK_MAX) per = TASK_MAX;
        if (per < 1) per = 1;
        size_t nc = 0;
        for (size_t i = 0; i < n; i += per) j->cuts[nc++] = i;
        j->cuts[nc] = n;
        j->n_tasks = nc;
    }
    pthread_mutex_lock(&s->lock);
    if (s->stop || (s->queued + n > s->o.queue_limit && s->queued > 0)) {
        /* A request larger than the whole queue is let in when the queue is
         * empty (the caller bounds request sizes). */
        pthread_mutex_unlock(&s->lock);
        *busy = 1;
        job_free(j);
        return NULL;
    }
    j->seq = ++s->seq;
    if (j->n_tasks > 0) {
        j->listed = 1;
        j->prev = s->tail;
        if (s->tail) s->tail->next = j;
        else s->head = j;
        s->tail = j;
        s->n_listed++;
        s->queued += n;
        if (s->idle > 0) pthread_cond_broadcast(&s->work);
        else pthread_cond_signal(&s->monitor_cv);
    }
    pthread_mutex_unlock(&s->lock);
    return j;
}

int rlvr_job_wait(rlvr_job *j, double deadline)
{
    rlvr_sched *s = j->s;
    pthread_mutex_lock(&s->lock);
    while (j->remaining > 0) {
        double left = deadline - rlvr_now();
        if (left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double secs = (double)ts.tv_sec + ts.tv_nsec / 1e9 + left;
        ts.tv_sec = (time_t)secs;
        ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&j->done, &s->lock, &ts);
    }
    int rc = j->remaining > 0 ? -1 : 0;
    if (rc) {
        /* Withdraw the tasks no thread has taken. */
        if (j->listed) {
            size_t left = 0;
            for (size_t t = j->next_task; t < j->n_tasks; t++) left += j->cuts[t + 1] - j->cuts[t];
            s->queued -= left;
            j->next_task = j->n_tasks;
            unlist(s, j);
        }
        j->withdrawn = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

const rlvr_job_result *rlvr_job_results(const rlvr_job *j) { return j->res; }

void rlvr_job_release(rlvr_job *j)
{
    rlvr_sched *s = j->s;
    pthread_mutex_lock(&s->lock);
    if (j->listed) { /* released without waiting */
        size_t left = 0;
        for (size_t t = j->next_task; t < j->n_tasks; t++) left += j->cuts[t + 1] - j->cuts[t];
        s->queued -= left;
        j->next_task = j->n_tasks;
        unlist(s, j);
    }
    j->released = 1;
    int free_now = j->running == 0;
    pthread_mutex_unlock(&s->lock);
    if (free_now) job_free(j);
}

/* ---- scoring threads ------------------------------------------------------------ */

static int ctx_engine(rlvr_sched *s, ctx *c)
{
    if (c->eng) return 0;
    char err[512];
    pthread_mutex_lock(&s->engine_lock);
    rlvr_engine *e = rlvr_engine_new(s->mix, s->map, 1, err, sizeof err);
    pthread_mutex_unlock(&s->engine_lock);
    if (!e) return -1;
    rlvr_engine_set_workers(e, c->id, s->o.max_threads);
    pthread_mutex_lock(&c->stats_lock);
    c->eng = e;
    pthread_mutex_unlock(&c->stats_lock);
    return 0;
}

static void fail_task(rlvr_job *j, size_t lo, size_t hi, const char *msg)
{
    for (size_t i = lo; i < hi; i++) {
        rlvr_buf b = {0};
        rlvr_buf_printf(&b, "{\"id\":%lld,\"reward\":null,\"error\":{\"stage\":\"score\",\"plugin\":null,"
                            "\"line\":%lld,\"message\":", (long long)j->lines[i].line, (long long)j->lines[i].line);
        rlvr_buf_json_string(&b, msg, strlen(msg));
        rlvr_buf_adds(&b, "}}");
        j->res[i].json = b.oom ? NULL : b.ptr;
        j->res[i].len = b.oom ? 0 : b.len;
        if (b.oom) rlvr_buf_free(&b);
        j->res[i].failed = 1;
        j->res[i].reward_null = 1;
    }
}

static void run_task(rlvr_sched *s, ctx *c, rlvr_job *j, size_t lo, size_t hi)
{
    size_t n = hi - lo;
    if (ctx_engine(s, c)) {
        fail_task(j, lo, hi, "out of memory making a scoring engine");
        return;
    }
    size_t done = rlvr_engine_score(c->eng, j->lines + lo, n, 1);
    if (done < n) {
        fail_task(j, lo, hi, "out of memory scoring");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        rlvr_outcome oc;
        rlvr_engine_outcome(c->eng, i, &oc);
        rlvr_job_result *r = &j->res[lo + i];
        r->json = malloc(oc.json->len + 1);
        if (!r->json) {
            fail_task(j, lo + i, lo + i + 1, "out of memory keeping the result");
            continue;
        }
        memcpy(r->json, oc.json->ptr, oc.json->len + 1);
        r->len = oc.json->len;
        r->failed = oc.failed;
        r->reward_null = oc.reward_null;
        r->reward = oc.reward;
    }
    pthread_mutex_lock(&c->stats_lock);
    rlvr_engine_count(c->eng, n);
    pthread_mutex_unlock(&c->stats_lock);
}

static void abs_deadline(struct timespec *ts, double secs_from_now)
{
    clock_gettime(CLOCK_REALTIME, ts);
    double t = (double)ts->tv_sec + ts->tv_nsec / 1e9 + secs_from_now;
    ts->tv_sec = (time_t)t;
    ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
}

static void *worker_main(void *arg)
{
    ctx *c = arg;
    rlvr_sched *s = c->s;
    int core = c->id < s->o.threads;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        rlvr_job *j = s->stop ? NULL : pick(s);
        if (!j) {
            if (s->stop) break;
            s->idle++;
            int rc = 0;
            if (core) {
                pthread_cond_wait(&s->work, &s->lock);
            } else {
                struct timespec ts;
                abs_deadline(&ts, s->o.idle_exit_s);
                rc = pthread_cond_timedwait(&s->work, &s->lock, &ts);
            }
            s->idle--;
            if (rc == ETIMEDOUT && !s->head) break; /* an extra thread, idle too long */
            continue;
        }
        size_t t = j->next_task++;
        size_t lo = j->cuts[t], hi = j->cuts[t + 1];
        if (j->next_task == j->n_tasks) unlist(s, j);
        j->running++;
        s->queued -= hi - lo;
        s->busy++;
        s->progress = rlvr_now();
        /* Still waiting work and nobody idle: the monitor watches for a stall. */
        if (s->head && s->idle == 0) pthread_cond_signal(&s->monitor_cv);
        pthread_mutex_unlock(&s->lock);

        run_task(s, c, j, lo, hi);

        pthread_mutex_lock(&s->lock);
        s->busy--;
        s->progress = rlvr_now();
        j->running--;
        j->remaining -= hi - lo;
        if (j->remaining == 0) pthread_cond_broadcast(&j->done);
        if (j->released && j->running == 0) {
            pthread_mutex_unlock(&s->lock);
            job_free(j);
            pthread_mutex_lock(&s->lock);
        }
    }
    c->in_use = 0;
    s->live--;
    pthread_cond_broadcast(&s->exited);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Start a thread on a free context (the lock held). -1 when none is free or
 * the thread cannot start. */
static int spawn(rlvr_sched *s)
{
    for (int i = 0; i < s->o.max_threads; i++) {
        ctx *c = &s->ctxs[i];
        if (c->in_use) continue;
        c->in_use = 1;
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &at, worker_main, c);
        pthread_attr_destroy(&at);
        if (rc) {
            c->in_use = 0;
            return -1;
        }
        s->live++;
        s->progress = rlvr_now();
        return 0;
    }
    return -1;
}

/* Waiting tasks, no idle thread, no progress for stall_ms: start threads. */
static void *monitor_main(void *arg)
{
    rlvr_sched *s = arg;
    double stall = s->o.stall_ms / 1000.0;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        if (!s->head || s->idle > 0 || s->live >= s->o.max_threads) {
            pthread_cond_wait(&s->monitor_cv, &s->lock);
            continue;
        }
        double wait = s->progress + stall - rlvr_now();
        if (wait > 0) {
            struct timespec ts;
            abs_deadline(&ts, wait);
            pthread_cond_timedwait(&s->monitor_cv, &s->lock, &ts);
            continue;
        }
        /* One thread per waiting job (each job gets a thread). */
        size_t want = s->n_listed;
        for (size_t k = 0; k < want && s->live < s->o.max_threads; k++) {
            if (spawn(s)) break;
            s->started_extra++;
        }
        s->progress = rlvr_now();
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- the scheduler --------------------------------------------------------------- */

rlvr_sched *rlvr_sched_new(rlvr_mix *mix, const rlvr_field_map *map, const rlvr_sched_opts *o, char *err,
                           size_t err_len)
{
    rlvr_sched *s = calloc(1, sizeof *s);
    if (!s) { rlvr_errf(err, err_len, "out of memory"); return NULL; }
    s->mix = mix;
    s->map = map;
    s->o = *o;
    if (s->o.threads < 1) s->o.threads = 1;
    if (s->o.max_threads < s->o.threads) s->o.max_threads = s->o.threads;
    for (size_t i = 0; i < mix->n_leaves; i++)
        for (size_t k = 0; k < mix->leaves[i]->n; k++)
            if (mix->leaves[i]->entries[k].plugin->desc.flags & RLVR_GROUPS) s->wants_groups = 1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->engine_lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->monitor_cv, NULL);
    pthread_cond_init(&s->exited, NULL);
    s->ctxs = calloc((size_t)s->o.max_threads, sizeof *s->ctxs);
    if (!s->ctxs) { rlvr_errf(err, err_len, "out of memory"); free(s); return NULL; }
    for (int i = 0; i < s->o.max_threads; i++) {
        s->ctxs[i].id = i;
        s->ctxs[i].s = s;
        pthread_mutex_init(&s->ctxs[i].stats_lock, NULL);
    }
    /* The core threads' engines are made now, so a broken mix (a combine
     * function that fails to load again) is reported at start. */
    for (int i = 0; i < s->o.threads; i++) {
        pthread_mutex_lock(&s->engine_lock);
        s->ctxs[i].eng = rlvr_engine_new(mix, map, 1, err, err_len);
        pthread_mutex_unlock(&s->engine_lock);
        if (!s->ctxs[i].eng) { rlvr_sched_free(s); return NULL; }
        rlvr_engine_set_workers(s->ctxs[i].eng, i, s->o.max_threads);
    }
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->o.threads; i++)
        if (spawn(s)) {
            pthread_mutex_unlock(&s->lock);
            rlvr_errf(err, err_len, "cannot start scoring threads");
            rlvr_sched_free(s);
            return NULL;
        }
    pthread_mutex_unlock(&s->lock);
    if (pthread_create(&s->monitor, NULL, monitor_main, s)) {
        rlvr_errf(err, err_len, "cannot start the scheduler's monitor");
        rlvr_sched_free(s);
        return NULL;
    }
    s->monitor_started = 1;
    return s;
}

void rlvr_sched_free(rlvr_sched *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->monitor_cv);
    while (s->live > 0) pthread_cond_wait(&s->exited, &s->lock);
    pthread_mutex_unlock(&s->lock);
    if (s->monitor_started) pthread_join(s->monitor, NULL);
    for (int i = 0; s->ctxs && i < s->o.max_threads; i++) {
        rlvr_engine_free(s->ctxs[i].eng);
        pthread_mutex_destroy(&s->ctxs[i].stats_lock);
    }
    free(s->ctxs);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->monitor_cv);
    pthread_cond_destroy(&s->exited);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->engine_lock);
    free(s);
}

void rlvr_sched_info_get(rlvr_sched *s, rlvr_sched_info *out)
{
    pthread_mutex_lock(&s->lock);
    out->queued = s->queued;
    out->queue_limit = s->o.queue_limit;
    out->threads = s->live;
    out->busy = s->busy;
    out->max_threads = s->o.max_threads;
    out->threads_started = s->started_extra;
    pthread_mutex_unlock(&s->lock);
}

void rlvr_sched_entry_stats(rlvr_sched *s, rlvr_entry_stats *stats)
{
    memset(stats, 0, s->mix->n_entries * sizeof *stats);
    for (int i = 0; i < s->o.max_threads; i++) {
        ctx *c = &s->ctxs[i];
        pthread_mutex_lock(&c->stats_lock);
        if (c->eng) {
            const rlvr_entry_stats *st = rlvr_engine_stats(c->eng);
            for (size_t k = 0; k < s->mix->n_entries; k++) {
                stats[k].sum += st[k].sum;
                stats[k].ok += st[k].ok;
                stats[k].abstain += st[k].abstain;
                stats[k].error += st[k].error;
                stats[k].skipped += st[k].skipped;
            }
        }
        pthread_mutex_unlock(&c->stats_lock);
    }
}
