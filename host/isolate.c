/*
 * isolate.c -- running a plugin in a worker process, so that a crash or a
 * hang costs the samples of that call an error, not the batch.
 *
 * Each (mix entry, pool thread) pair gets its own worker: `rlvr __worker
 * PLUGIN CONFIG_JSON`, started on first use with a socketpair on fd 3 and
 * its stdout sent to stderr. A call sends one frame (a 4-byte length, then
 * JSON: the samples with their original objects and the components computed
 * so far) and reads one frame back (a status, score, reason and details per
 * sample). A worker that does not answer within the entry's timeout is
 * killed with SIGKILL; one that dies is reaped and its signal reported; the
 * next call starts a new one. Invariants: a worker slot holds a live child
 * or NULL; every child started is reaped.
 */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "isolate.h"
#include "mix.h"
#include "registry.h"
#include "result.h"
#include "sample.h"
#include "util.h"

#define MAX_FRAME ((uint32_t)1 << 30)

typedef struct rlvr_worker_proc {
    pid_t pid;
    int fd;
} rlvr_worker_proc;


/* ---- frames ------------------------------------------------------------------ */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_frame(int fd, const rlvr_buf *b)
{
    uint32_t len = (uint32_t)b->len;
    if (b->len > MAX_FRAME) return -1;
    if (write_all(fd, &len, 4)) return -1;
    return write_all(fd, b->ptr, b->len);
}

/* Read exactly n bytes before the deadline (seconds, rlvr_now clock; <= 0:
 * none). Returns 0, -1 on EOF or error, -2 on timeout. */
static int read_all(int fd, void *p, size_t n, double deadline)
{
    char *c = p;
    while (n) {
        if (deadline > 0) {
            double left = deadline - rlvr_now();
            if (left <= 0) return -2;
            struct pollfd pfd = {fd, POLLIN, 0};
            int pr = poll(&pfd, 1, (int)(left * 1000) + 1);
            if (pr < 0 && errno == EINTR) continue;
            if (pr == 0) return -2;
            if (pr < 0) return -1;
        }
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static int recv_frame(int fd, rlvr_buf *b, double deadline)
{
    uint32_t len;
    int rc = read_all(fd, &len, 4, deadline);
    if (rc) return rc;
    if (len > MAX_FRAME) return -1;
    rlvr_buf_clear(b);
    if (rlvr_buf_reserve(b, len)) return -1;
    rc = read_all(fd, b->ptr, len, deadline);
    if (rc) return rc;
    b->len = len;
    b->ptr[len] = 0;
    return 0;
}

/* ---- the host side ----------------------------------------------------------- */

static char worker_exe[PATH_MAX];

static const char *exe_path(void)
{
    if (!worker_exe[0]) {
        const char *env = getenv("RLVR_WORKER");
        if (env && *env) {
            snprintf(worker_exe, sizeof worker_exe, "%s", env);
        } else {
            ssize_t n = readlink("/proc/self/exe", worker_exe, sizeof worker_exe - 1);
            if (n <= 0) snprintf(worker_exe, sizeof worker_exe, "%s/rlvr", RLVR_BINDIR);
            else worker_exe[n] = 0;
        }
    }
    return worker_exe;
}

static rlvr_worker_proc *spawn(rlvr_entry *e, char *err, size_t err_len)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        rlvr_errf(err, err_len, "cannot make a socket pair: %s", strerror(errno));
        return NULL;
    }
    char *argv[] = {(char *)exe_path(), (char *)"__worker", e->plugin->path, e->config->json, NULL};
    pid_t pid = fork();
    if (pid < 0) {
        rlvr_errf(err, err_len, "cannot start a worker process: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls until exec. */
        if (dup2(sv[1], 3) < 0 || dup2(2, 1) < 0) _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    close(sv[1]);
    rlvr_worker_proc *p = malloc(sizeof *p);
    if (!p) {
        close(sv[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        rlvr_errf(err, err_len, "out of memory");
        return NULL;
    }
    p->pid = pid;
    p->fd = sv[0];
    return p;
}

/* Kill (when asked) and reap; describe how it ended. */
static void reap(rlvr_worker_proc *p, int do_kill, char *how, size_t how_len)
{
    if (do_kill) kill(p->pid, SIGKILL);
    close(p->fd);
    int st = 0;
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {}
    if (WIFSIGNALED(st))
        rlvr_errf(how, how_len, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        rlvr_errf(how, how_len, "could not run %s __worker", exe_path());
    else
        rlvr_errf(how, how_len, "exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    free(p);
}

static void text_member(rlvr_buf *b, const char *key, rlvr_text t)
{
    if (!t.ptr) return;
    rlvr_buf_addc(b, ',');
    rlvr_buf_json_string(b, key, strlen(key));
    rlvr_buf_addc(b, ':');
    rlvr_buf_json_string(b, t.ptr, t.len);
}

static void request(rlvr_buf *b, rlvr_entry *e, int64_t step, int worker, int n_workers,
                    rlvr_hsample **samples, size_t n)
{
    rlvr_buf_clear(b);
    rlvr_buf_printf(b, "{\"step\":%lld,\"worker\":%d,\"n_workers\":%d,\"entry\":", (long long)step, worker,
                    n_workers);
    rlvr_buf_json_string(b, e->name, strlen(e->name));
    rlvr_buf_adds(b, ",\"samples\":[");
    for (size_t i = 0; i < n; i++) {
        const rlvr_sample *s = &samples[i]->pub;
        if (i) rlvr_buf_addc(b, ',');
        rlvr_buf_printf(b, "{\"line\":%lld,\"completion_tokens\":%lld", (long long)s->line,
                        (long long)s->completion_tokens);
        text_member(b, "id", s->id);
        text_member(b, "prompt", s->prompt);
        text_member(b, "completion", s->completion);
        text_member(b, "answer", s->answer);
        text_member(b, "language", s->language);
        text_member(b, "group", s->group);
        text_member(b, "finish_reason", s->finish_reason);
        if (samples[i]->root) {
            rlvr_buf_adds(b, ",\"root\":");
            rlvr_json_write(b, samples[i]->root);
        }
        rlvr_buf_adds(b, ",\"components\":");
        rlvr_engine_components_json(samples[i], b);
        rlvr_buf_addc(b, '}');
    }
    rlvr_buf_adds(b, "]}");
}

static int apply_reply(const rlvr_buf *reply, rlvr_hresult **results, size_t n, char *err, size_t err_len)
{
    json_object *o = json_tokener_parse(reply->ptr), *arr;
    if (!o || !json_object_object_get_ex(o, "results", &arr) || !json_object_is_type(arr, json_type_array)
        || json_object_array_length(arr) != n) {
        json_object_put(o);
        rlvr_errf(err, err_len, "the worker process sent a malformed reply");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(arr, i), *v;
        rlvr_hresult *h = results[i];
        h->pub.status = json_object_object_get_ex(r, "status", &v) ? (rlvr_status)json_object_get_int(v) : RLVR_ERROR;
        h->pub.score = json_object_object_get_ex(r, "score", &v) ? json_object_get_double(v) : 0;
        h->pub.filled = json_object_object_get_ex(r, "filled", &v) ? json_object_get_boolean(v) : 0;
        if (json_object_object_get_ex(r, "reason", &v) && json_object_is_type(v, json_type_string)) {
            rlvr_buf_clear(&h->reason);
            rlvr_buf_add(&h->reason, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        }
        if (json_object_object_get_ex(r, "details", &v) && json_object_is_type(v, json_type_string)) {
            rlvr_buf_clear(&h->details);
            rlvr_buf_add(&h->details, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        }
    }
    json_object_put(o);
    return 0;
}

int rlvr_isolate_run(rlvr_entry *e, int worker, int n_workers, int64_t step, rlvr_hsample **samples,
                     rlvr_hresult **results, size_t n)
{
    char err[512] = "";
    pthread_mutex_lock(&e->lock);
    if (!e->procs) {
        e->procs = calloc((size_t)n_workers, sizeof *e->procs);
        e->n_procs = e->procs ? n_workers : 0;
    }
    pthread_mutex_unlock(&e->lock);
    if (!e->procs || worker >= e->n_procs) {
        for (size_t i = 0; i < n; i++) rlvr_hresult_fail(results[i], "isolation: out of memory");
        return -1;
    }
    rlvr_worker_proc *p = e->procs[worker];
    if (!p && !(p = e->procs[worker] = spawn(e, err, sizeof err))) {
        for (size_t i = 0; i < n; i++) rlvr_hresult_fail(results[i], "isolation: %s", err);
        return -1;
    }
    rlvr_buf b = {0};
    request(&b, e, step, worker, n_workers, samples, n);
    int rc = b.oom ? -1 : send_frame(p->fd, &b);
    if (rc == 0) rc = recv_frame(p->fd, &b, rlvr_now() + e->timeout_ms / 1000.0);
    if (rc == 0 && apply_reply(&b, results, n, err, sizeof err) == 0) {
        rlvr_buf_free(&b);
        return 0;
    }
    rlvr_buf_free(&b);
    char how[200];
    e->procs[worker] = NULL;
    reap(p, 1, how, sizeof how);
    for (size_t i = 0; i < n; i++) {
        if (rc == -2)
            rlvr_hresult_fail(results[i], "%s timed out after %.0f ms in its worker process (killed)",
                              e->plugin->name, e->timeout_ms);
        else if (err[0])
            rlvr_hresult_fail(results[i], "%s: %s", e->plugin->name, err);
        else
            rlvr_hresult_fail(results[i], "%s crashed in its worker process (%s)", e->plugin->name, how);
    }
    return -1;
}

void rlvr_isolate_free_entry(rlvr_entry *e)
{
    for (int i = 0; i < e->n_procs; i++) {
        if (!e->procs[i]) continue;
        close(e->procs[i]->fd); /* EOF: the worker exits by itself */
        e->procs[i]->fd = -1;
        int st;
        pid_t pid = e->procs[i]->pid;
        /* Give it a moment, then make sure. */
        for (int t = 0; t < 50 && waitpid(pid, &st, WNOHANG) == 0; t++) usleep(2000);
        if (waitpid(pid, &st, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
        }
        free(e->procs[i]);
    }
    free(e->procs);
    e->procs = NULL;
    e->n_procs = 0;
}

/* ---- the worker side ------------------------------------------------------------ */

static int worker_component(rlvr_hsample *hs, const char *name, double *value)
{
    json_object *comps = hs->engine_data, *c;
    if (!comps || !json_object_object_get_ex(comps, name, &c) || json_object_array_length(c) != 2) return -1;
    *value = json_object_get_double(json_object_array_get_idx(c, 1));
    return json_object_get_int(json_object_array_get_idx(c, 0));
}

static void get_text(json_object *o, const char *key, rlvr_text *t)
{
    json_object *v;
    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)) {
        t->ptr = json_object_get_string(v);
        t->len = (size_t)json_object_get_string_len(v);
    }
}

int rlvr_worker_main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "rlvr __worker: internal command (usage: rlvr __worker PLUGIN CONFIG_JSON)\n");
        return 2;
    }
    int fd = 3;
    signal(SIGPIPE, SIG_IGN);
    rlvr_registry reg;
    char err[600];
    if (rlvr_registry_init(&reg, err, sizeof err)) { fprintf(stderr, "rlvr __worker: %s\n", err); return 1; }
    rlvr_services_set_registry(&reg);
    rlvr_loaded *p = rlvr_registry_get(&reg, argv[2], err, sizeof err);
    if (!p) { fprintf(stderr, "rlvr __worker: %s\n", err); return 1; }
    json_object *cj = json_tokener_parse(argv[3]);
    struct rlvr_config *cfg = rlvr_config_build(p, cj, err, sizeof err);
    json_object_put(cj);
    if (!cfg) { fprintf(stderr, "rlvr __worker: %s: %s\n", p->name, err); return 1; }
    void *inst = NULL;
    if (p->desc.create && !(inst = p->desc.create(&rlvr_host_services, cfg, err, sizeof err))) {
        fprintf(stderr, "rlvr __worker: %s: create failed: %s\n", p->name, err);
        return 1;
    }
    rlvr_buf in = {0}, out = {0};
    for (;;) {
        if (recv_frame(fd, &in, 0)) break;
        json_object *req = json_tokener_parse(in.ptr), *arr, *v;
        if (!req || !json_object_object_get_ex(req, "samples", &arr)) { json_object_put(req); break; }
        size_t n = json_object_array_length(arr);
        rlvr_hsample *hs = calloc(n ? n : 1, sizeof *hs);
        rlvr_hresult *hr = calloc(n ? n : 1, sizeof *hr);
        const rlvr_sample **ps = calloc(n ? n : 1, sizeof *ps);
        rlvr_result **pr = calloc(n ? n : 1, sizeof *pr);
        if (!hs || !hr || !ps || !pr) break;
        rlvr_call call = {sizeof call, 0, 1, 0, NULL, NULL};
        if (json_object_object_get_ex(req, "step", &v)) call.step = json_object_get_int64(v);
        if (json_object_object_get_ex(req, "worker", &v)) call.worker = json_object_get_int(v);
        if (json_object_object_get_ex(req, "n_workers", &v)) call.n_workers = json_object_get_int(v);
        if (json_object_object_get_ex(req, "entry", &v)) call.entry = json_object_get_string(v);
        for (size_t i = 0; i < n; i++) {
            json_object *so = json_object_array_get_idx(arr, i);
            rlvr_sample_init(&hs[i]);
            rlvr_sample *s = &hs[i].pub;
            s->struct_size = sizeof *s;
            s->host_data = &hs[i];
            s->line = json_object_object_get_ex(so, "line", &v) ? json_object_get_int64(v) : 0;
            s->completion_tokens = json_object_object_get_ex(so, "completion_tokens", &v) ? json_object_get_int64(v) : -1;
            get_text(so, "id", &s->id);
            get_text(so, "prompt", &s->prompt);
            get_text(so, "completion", &s->completion);
            get_text(so, "answer", &s->answer);
            get_text(so, "language", &s->language);
            get_text(so, "group", &s->group);
            get_text(so, "finish_reason", &s->finish_reason);
            if (json_object_object_get_ex(so, "root", &v)) hs[i].root = json_object_get(v);
            if (json_object_object_get_ex(so, "components", &v)) hs[i].engine_data = v;
            hs[i].component = worker_component;
            rlvr_hresult_reset(&hr[i]);
            ps[i] = s;
            pr[i] = &hr[i].pub;
        }
        if (p->desc.score) {
            for (size_t i = 0; i < n; i++) {
                p->desc.score(inst, &call, ps[i], pr[i]);
                if (!(hr[i].pub.status == RLVR_ERROR && hr[i].reason.len == 0)) hr[i].pub.filled = 1;
            }
        } else {
            p->desc.score_batch(inst, &call, n, ps, pr);
        }
        /* A service misuse becomes an error here, before the reply. */
        for (size_t i = 0; i < n; i++)
            if (hr[i].fault.len) rlvr_hresult_fail(&hr[i], "%s: %s", p->desc.name, hr[i].fault.ptr);
        rlvr_buf_clear(&out);
        rlvr_buf_adds(&out, "{\"results\":[");
        for (size_t i = 0; i < n; i++) {
            if (i) rlvr_buf_addc(&out, ',');
            rlvr_buf_printf(&out, "{\"status\":%d,\"filled\":%s,\"score\":", (int)hr[i].pub.status,
                            hr[i].pub.filled ? "true" : "false");
            if (isfinite(hr[i].pub.score)) rlvr_buf_json_number(&out, hr[i].pub.score);
            else rlvr_buf_adds(&out, isnan(hr[i].pub.score) ? "NaN" : hr[i].pub.score > 0 ? "Infinity" : "-Infinity");
            rlvr_buf_adds(&out, ",\"reason\":");
            rlvr_buf_json_string(&out, hr[i].reason.ptr ? hr[i].reason.ptr : "", hr[i].reason.len);
            rlvr_buf_adds(&out, ",\"details\":");
            rlvr_buf_json_string(&out, hr[i].details.ptr ? hr[i].details.ptr : "", hr[i].details.len);
            rlvr_buf_addc(&out, '}');
            hs[i].engine_data = NULL;
            rlvr_sample_destroy(&hs[i]);
            rlvr_hresult_free(&hr[i]);
        }
        rlvr_buf_adds(&out, "]}");
        free(hs);
        free(hr);
        free(ps);
        free(pr);
        json_object_put(req);
        if (out.oom || send_frame(fd, &out)) break;
    }
    if (inst && p->desc.destroy) p->desc.destroy(inst);
    rlvr_config_free(cfg);
    rlvr_buf_free(&in);
    rlvr_buf_free(&out);
    rlvr_registry_free(&reg);
    return 0;
}
