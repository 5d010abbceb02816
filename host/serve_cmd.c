/*
 * serve_cmd.c -- `rlvr serve`: a reward mix over HTTP, for trainers that
 * keep their own loop (verl, OpenRLHF, TRL) and ask rlvr for rewards.
 *
 * Endpoints: POST /score (rlvr's batch: samples in, results out, as `rlvr
 * score`), POST /get_reward (OpenRLHF's remote reward protocol), GET
 * /health, GET /metrics (Prometheus text). HTTP is libmicrohttpd with a
 * thread per connection: a connection's thread reads the body, submits the
 * samples to the scheduler (serve.h) and waits for them, so scoring never
 * runs on a connection's thread and a slow request holds only its own.
 *
 * Safe by default: it listens on loopback unless told otherwise; a bearer
 * token (from a file or the environment, never from the command line,
 * never logged) guards every endpoint but /health when set; bodies, samples
 * per request, connections, idle connections and scoring time are bounded;
 * a full queue answers 503 with Retry-After; nothing is loaded from the
 * network (the mix and plugins are fixed at start). SIGTERM or SIGINT
 * drains: the listening socket closes, requests in flight finish (new ones
 * on open connections get 503), then the process exits 0; a second signal
 * stops waiting. Exit status 2 when the server cannot start.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "commands.h"
#include "engine.h"
#include "mix.h"
#include "registry.h"
#include "sample.h"
#include "serve.h"
#include "serve_proto.h"
#include "util.h"

#define DEFAULT_LISTEN "127.0.0.1:8400"
#define TOKEN_ENV "RLVR_SERVE_TOKEN"

static const char *const default_end_tokens[] = {
    "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<|end|>", "<end_of_turn>", "<eos>", "<|return|>",
};

/* ---- options --------------------------------------------------------------------- */

typedef struct serve_opts {
    const char *mix, *listen, *port_file, *token_file, *scores_component;
    char **plugins;
    size_t n_plugins;
    const char **end_tokens;
    size_t n_end_tokens;
    rlvr_field_map map;
    int threads, max_threads, max_connections, verbose, quiet;
    double stall_ms, request_timeout, idle_timeout, drain_timeout, abstain_value;
    size_t queue, max_body, max_samples;
    int64_t step;
} serve_opts;

static void usage(FILE *f)
{
    fputs("usage: rlvr serve (--mix MIX.lua | --plugin NAME[=WEIGHT] ...) [options]\n"
          "Serve a reward mix over HTTP: POST /score (JSONL samples in, results out, as\n"
          "rlvr score), POST /get_reward (OpenRLHF's remote reward protocol), GET /health,\n"
          "GET /metrics (Prometheus). SIGTERM or SIGINT finishes the requests in flight, then exits.\n"
          "\n"
          "  --mix FILE             a reward mix written in Lua\n"
          "  --plugin NAME[=W]      a plugin by name or path, with weight W; repeatable\n"
          "  --listen HOST:PORT     where to listen (default " DEFAULT_LISTEN "; port 0: any free port;\n"
          "                         [::1]:PORT for IPv6). Loopback unless you say otherwise\n"
          "  --port-file FILE       write the port listened on into FILE once listening\n"
          "  --token-file FILE      require 'Authorization: Bearer TOKEN' (TOKEN: the file's first\n"
          "                         line) on every endpoint but /health; without it the token is\n"
          "                         read from $" TOKEN_ENV " when set\n"
          "  --threads N            scoring threads always running (default: all cores)\n"
          "  --max-threads N        the most scoring threads, when slow plugins hold some\n"
          "                         (default 4 x threads + 32)\n"
          "  --stall-ms MS          start another thread when samples wait and no thread has\n"
          "                         taken or finished work for MS milliseconds (default 2)\n"
          "  --queue N              samples waiting at most; past it, 503 + Retry-After (default 65536)\n"
          "  --max-body BYTES       largest request body (default 64M; K, M, G suffixes)\n"
          "  --max-samples N        most samples in one request (default 16384)\n"
          "  --request-timeout S    scoring time allowed per request, then 504 (default 600)\n"
          "  --idle-timeout S       close a connection idle this long (default 60)\n"
          "  --max-connections N    open connections at most (default 256)\n"
          "  --drain-timeout S      on SIGTERM, wait this long for requests in flight (default 60)\n"
          "  --field NAME=PATH      read sample field NAME from PATH (dotted); repeatable\n"
          "  --step N               the training step the mix sees (default 0)\n"
          "  --abstain-value X      /get_reward: the reward given for a null one (default 0)\n"
          "  --scores-component C   /get_reward: the component returned as `scores` (clipped to\n"
          "                         [0, 1]; default `accuracy` when the mix has one, else the reward)\n"
          "  --end-token TEXT       /get_reward: a token stripped from the end of a query; repeatable,\n"
          "                         replaces the default list (<|im_end|>, <|endoftext|>, <|eot_id|>, ...)\n"
          "  --quiet                no start and stop lines on stderr\n"
          "  -v, --verbose          a line per request, and plugins' info messages\n",
          f);
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') return -1;
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1ull << 10, end++;
    else if (*end == 'M' || *end == 'm') mul = 1ull << 20, end++;
    else if (*end == 'G' || *end == 'g') mul = 1ull << 30, end++;
    if (*end || v == 0 || v > (1ull << 40) / mul) return -1;
    *out = (size_t)(v * mul);
    return 0;
}

static int parse_opts(int argc, char **argv, serve_opts *o)
{
    enum { O_LISTEN = 256, O_PORTFILE, O_TOKENFILE, O_MAXTHREADS, O_STALL, O_QUEUE, O_MAXBODY, O_MAXSAMPLES,
           O_REQTIMEOUT, O_IDLETIMEOUT, O_MAXCONN, O_DRAIN, O_ABSTAIN, O_SCORES, O_ENDTOKEN };
    static const struct option longs[] = {
        {"mix", required_argument, 0, 'm'}, {"plugin", required_argument, 0, 'p'},
        {"listen", required_argument, 0, O_LISTEN}, {"port-file", required_argument, 0, O_PORTFILE},
        {"token-file", required_argument, 0, O_TOKENFILE}, {"threads", required_argument, 0, 't'},
        {"max-threads", required_argument, 0, O_MAXTHREADS}, {"stall-ms", required_argument, 0, O_STALL},
        {"queue", required_argument, 0, O_QUEUE}, {"max-body", required_argument, 0, O_MAXBODY},
        {"max-samples", required_argument, 0, O_MAXSAMPLES}, {"request-timeout", required_argument, 0, O_REQTIMEOUT},
        {"idle-timeout", required_argument, 0, O_IDLETIMEOUT}, {"max-connections", required_argument, 0, O_MAXCONN},
        {"drain-timeout", required_argument, 0, O_DRAIN}, {"field", required_argument, 0, 'f'},
        {"step", required_argument, 0, 's'}, {"abstain-value", required_argument, 0, O_ABSTAIN},
        {"scores-component", required_argument, 0, O_SCORES}, {"end-token", required_argument, 0, O_ENDTOKEN},
        {"quiet", no_argument, 0, 'q'}, {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    double v;
    char err[300];
    optind = 1;
    int c;
#define NUM(name, lo, hi, dst)                                                                   \
    do {                                                                                         \
        if (parse_num(optarg, lo, hi, &v)) {                                                     \
            fprintf(stderr, "rlvr serve: %s wants a number in [%g, %g]\n", name, (double)(lo), (double)(hi)); \
            return -1;                                                                           \
        }                                                                                        \
        dst = v;                                                                                 \
    } while (0)
    while ((c = getopt_long(argc, argv, "vqh", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->mix = optarg; break;
        case 'p': {
            char **p = realloc(o->plugins, (o->n_plugins + 1) * sizeof *p);
            if (!p) return -1;
            o->plugins = p;
            p[o->n_plugins++] = optarg;
            break;
        }
        case O_LISTEN: o->listen = optarg; break;
        case O_PORTFILE: o->port_file = optarg; break;
        case O_TOKENFILE: o->token_file = optarg; break;
        case 't':
            NUM("--threads", 1, 1024, o->threads);
            if (v != floor(v)) {
                fprintf(stderr, "rlvr serve: --threads wants a whole number\n");
                return -1;
            }
            break;
        case O_MAXTHREADS: NUM("--max-threads", 1, 4096, o->max_threads); break;
        case O_STALL: NUM("--stall-ms", 0.1, 60000, o->stall_ms); break;
        case O_QUEUE: NUM("--queue", 1, 1e9, o->queue); break;
        case O_MAXBODY:
            if (parse_size(optarg, &o->max_body)) {
                fprintf(stderr, "rlvr serve: --max-body wants a size such as 64M\n");
                return -1;
            }
            break;
        case O_MAXSAMPLES: NUM("--max-samples", 1, 1e8, o->max_samples); break;
        case O_REQTIMEOUT: NUM("--request-timeout", 0.001, 86400, o->request_timeout); break;
        case O_IDLETIMEOUT: NUM("--idle-timeout", 1, 86400, o->idle_timeout); break;
        case O_MAXCONN: NUM("--max-connections", 1, 65536, o->max_connections); break;
        case O_DRAIN: NUM("--drain-timeout", 0, 86400, o->drain_timeout); break;
        case O_ABSTAIN: NUM("--abstain-value", -1e300, 1e300, o->abstain_value); break;
        case O_SCORES: o->scores_component = optarg; break;
        case O_ENDTOKEN: {
            if (!*optarg) { fprintf(stderr, "rlvr serve: --end-token wants a non-empty text\n"); return -1; }
            const char **p = realloc(o->end_tokens, (o->n_end_tokens + 1) * sizeof *p);
            if (!p) return -1;
            o->end_tokens = p;
            p[o->n_end_tokens++] = optarg;
            break;
        }
        case 'f':
            if (rlvr_field_map_add(&o->map, optarg, err, sizeof err)) {
                fprintf(stderr, "rlvr serve: %s\n", err);
                return -1;
            }
            break;
        case 's': NUM("--step", 0, 9e15, o->step); break;
        case 'q': o->quiet = 1; break;
        case 'v': o->verbose = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
#undef NUM
    if (optind < argc) {
        fprintf(stderr, "rlvr serve: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->mix == !o->n_plugins) {
        fprintf(stderr, "rlvr serve: give either --mix FILE or one or more --plugin NAME\n");
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- metrics ------------------------------------------------------------------- */

enum { EP_SCORE, EP_REWARD, EP_HEALTH, EP_METRICS, EP_OTHER, EP_N };
static const char *const ep_names[EP_N] = {"/score", "/get_reward", "/health", "/metrics", "other"};
static const int codes[] = {200, 400, 401, 404, 405, 413, 500, 503, 504};
#define N_CODES (sizeof codes / sizeof codes[0])
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct metrics {
    pthread_mutex_t lock;
    unsigned long long requests[EP_N][N_CODES + 1]; /* the last: another code */
    unsigned long long hist[EP_N][N_BUCKETS];       /* not cumulative; summed when written */
    unsigned long long hist_count[EP_N];
    double hist_sum[EP_N];
    unsigned long long samples[EP_N], sample_errors, rewards_null, substituted;
} metrics;

/* ---- the server ----------------------------------------------------------------- */

typedef struct server {
    serve_opts *o;
    rlvr_mix *mix;
    rlvr_sched *sched;
    char *token;
    size_t token_len;
    const char **components;     /* distinct entry names, for extra_logs */
    size_t n_components;
    rlvr_reward_opts ropts;
    metrics m;
    pthread_mutex_t lock;        /* in_flight, draining */
    pthread_cond_t idle;
    int in_flight, draining;
    double started;
} server;

typedef struct req {
    int ep;
    int code;
    double t0;
    rlvr_buf body;
    size_t dropped;              /* bytes of a chunked body over --max-body, read and dropped */
    int answered;                /* a response is queued */
} req;

static int classify(const char *url)
{
    if (strcmp(url, "/score") == 0) return EP_SCORE;
    if (strcmp(url, "/get_reward") == 0) return EP_REWARD;
    if (strcmp(url, "/health") == 0) return EP_HEALTH;
    if (strcmp(url, "/metrics") == 0) return EP_METRICS;
    return EP_OTHER;
}

/* Queue a response; the body (malloc'd) is taken. */
static enum MHD_Result respond(server *sv, struct MHD_Connection *c, req *r, int code, const char *ctype, char *body,
                               size_t len, const char *retry_after)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE
                                                                                                     : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (retry_after) MHD_add_response_header(resp, "Retry-After", retry_after);
    if (code == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"rlvr\"");
    if (code == 405) MHD_add_response_header(resp, "Allow", r->ep == EP_SCORE || r->ep == EP_REWARD ? "POST" : "GET, HEAD");
    pthread_mutex_lock(&sv->lock);
    int draining = sv->draining;
    pthread_mutex_unlock(&sv->lock);
    if (draining) MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)code, resp);
    MHD_destroy_response(resp);
    r->code = code;
    r->answered = 1;
    return rc;
}

static enum MHD_Result respond_error(server *sv, struct MHD_Connection *c, req *r, int code, const char *msg,
                                     const char *retry_after)
{
    rlvr_buf b = {0};
    rlvr_buf_printf(&b, "{\"error\":{\"code\":%d,\"message\":", code);
    rlvr_buf_json_string(&b, msg, strlen(msg));
    rlvr_buf_adds(&b, "}}\n");
    if (b.oom) { rlvr_buf_free(&b); return MHD_NO; }
    return respond(sv, c, r, code, "application/json", b.ptr, b.len, retry_after);
}

/* Constant-time comparison of the presented token with ours. */
static int token_ok(server *sv, struct MHD_Connection *c)
{
    if (!sv->token) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    while (*h == ' ') h++;
    size_t n = strlen(h);
    unsigned char diff = (unsigned char)(n != sv->token_len);
    for (size_t i = 0; i < sv->token_len; i++) diff |= (unsigned char)(sv->token[i] ^ (i < n ? h[i] : 0));
    return diff == 0;
}

static void count_results(server *sv, int ep, const rlvr_job_result *res, size_t n, size_t substituted)
{
    size_t errors = 0, nulls = 0;
    for (size_t i = 0; i < n; i++) {
        errors += res[i].failed != 0;
        nulls += res[i].reward_null != 0;
    }
    pthread_mutex_lock(&sv->m.lock);
    sv->m.samples[ep] += n;
    sv->m.sample_errors += errors;
    sv->m.rewards_null += nulls;
    sv->m.substituted += substituted;
    pthread_mutex_unlock(&sv->m.lock);
}

/* Submit and wait; on success *job holds the finished job. */
static enum MHD_Result score_lines(server *sv, struct MHD_Connection *c, req *r, const rlvr_line *lines, size_t n,
                                   rlvr_job **job)
{
    int busy;
    *job = NULL;
    rlvr_job *j = rlvr_sched_submit(sv->sched, lines, n, &busy);
    if (!j) {
        if (busy) return respond_error(sv, c, r, 503, "the scoring queue is full; retry after a second", "1");
        return respond_error(sv, c, r, 500, "out of memory", NULL);
    }
    if (rlvr_job_wait(j, r->t0 + sv->o->request_timeout)) {
        rlvr_job_release(j);
        char msg[160];
        snprintf(msg, sizeof msg, "scoring did not finish within %g s (--request-timeout)", sv->o->request_timeout);
        return respond_error(sv, c, r, 504, msg, NULL);
    }
    *job = j;
    return MHD_YES;
}

static enum MHD_Result do_score(server *sv, struct MHD_Connection *c, req *r)
{
    rlvr_lines lines;
    int is_array;
    char err[512];
    long n = rlvr_batch_lines(r->body.ptr ? r->body.ptr : "", r->body.len, sv->o->max_samples, &lines, &is_array, err,
                              sizeof err);
    if (n < 0) return respond_error(sv, c, r, n == -2 ? 413 : 400, err, NULL);
    if (n == 0) {
        rlvr_lines_free(&lines);
        return respond_error(sv, c, r, 400, "no samples in the body (JSON Lines, or a JSON array of samples)", NULL);
    }
    rlvr_job *j;
    enum MHD_Result rc = score_lines(sv, c, r, lines.v, (size_t)n, &j);
    if (!j) {
        rlvr_lines_free(&lines);
        return rc;
    }
    const rlvr_job_result *res = rlvr_job_results(j);
    rlvr_buf b = {0};
    if (is_array) rlvr_buf_addc(&b, '[');
    for (long i = 0; i < n; i++) {
        if (is_array && i) rlvr_buf_addc(&b, ',');
        if (res[i].json) rlvr_buf_add(&b, res[i].json, res[i].len);
        else rlvr_buf_adds(&b, "{\"id\":null,\"reward\":null,\"error\":{\"stage\":\"output\",\"plugin\":null,"
                               "\"line\":null,\"message\":\"out of memory\"}}");
        if (!is_array) rlvr_buf_addc(&b, '\n');
    }
    if (is_array) rlvr_buf_adds(&b, "]\n");
    count_results(sv, EP_SCORE, res, (size_t)n, 0);
    rlvr_job_release(j);
    rlvr_lines_free(&lines);
    if (b.oom) { rlvr_buf_free(&b); return respond_error(sv, c, r, 500, "out of memory", NULL); }
    return respond(sv, c, r, 200, is_array ? "application/json" : "application/x-ndjson", b.ptr, b.len, NULL);
}

static enum MHD_Result do_reward(server *sv, struct MHD_Connection *c, req *r)
{
    rlvr_reward_req rq;
    char err[512];
    int prc = rlvr_reward_parse(r->body.ptr ? r->body.ptr : "", r->body.len, sv->o->max_samples, &sv->ropts, &rq, err,
                                sizeof err);
    if (prc) return respond_error(sv, c, r, prc == -2 ? 413 : 400, err, NULL);
    rlvr_job *j = NULL;
    const rlvr_job_result *res = NULL;
    if (rq.lines.n) {
        enum MHD_Result rc = score_lines(sv, c, r, rq.lines.v, rq.lines.n, &j);
        if (!j) {
            rlvr_reward_req_free(&rq);
            return rc;
        }
        res = rlvr_job_results(j);
    }
    rlvr_buf b = {0};
    rlvr_reward_counts counts;
    rlvr_reward_answer(&rq, res, &sv->ropts, &b, &counts);
    rlvr_buf_addc(&b, '\n');
    if (res) count_results(sv, EP_REWARD, res, rq.lines.n, counts.substituted);
    /* Items that could not be made into samples are errors too. */
    if (rq.n > rq.lines.n) {
        pthread_mutex_lock(&sv->m.lock);
        sv->m.samples[EP_REWARD] += rq.n - rq.lines.n;
        sv->m.sample_errors += rq.n - rq.lines.n;
        sv->m.rewards_null += rq.n - rq.lines.n;
        if (!res) sv->m.substituted += counts.substituted;
        pthread_mutex_unlock(&sv->m.lock);
    }
    if (j) rlvr_job_release(j);
    rlvr_reward_req_free(&rq);
    if (b.oom) { rlvr_buf_free(&b); return respond_error(sv, c, r, 500, "out of memory", NULL); }
    return respond(sv, c, r, 200, "application/json", b.ptr, b.len, NULL);
}

static enum MHD_Result do_health(server *sv, struct MHD_Connection *c, req *r)
{
    rlvr_sched_info si;
    rlvr_sched_info_get(sv->sched, &si);
    pthread_mutex_lock(&sv->lock);
    int draining = sv->draining, in_flight = sv->in_flight;
    pthread_mutex_unlock(&sv->lock);
    rlvr_buf b = {0};
    rlvr_buf_printf(&b, "{\"status\":\"%s\",\"version\":\"%s\",\"mix\":", draining ? "draining" : "ok", PACKAGE_VERSION);
    if (sv->mix->path) rlvr_buf_json_string(&b, sv->mix->path, strlen(sv->mix->path));
    else rlvr_buf_adds(&b, "null");
    rlvr_buf_printf(&b, ",\"threads\":%d,\"busy\":%d,\"queued_samples\":%zu,\"queue_limit\":%zu,\"in_flight\":%d,"
                        "\"uptime_s\":",
                    si.threads, si.busy, si.queued, si.queue_limit, in_flight);
    rlvr_buf_json_number(&b, rlvr_now() - sv->started);
    rlvr_buf_adds(&b, "}\n");
    if (b.oom) { rlvr_buf_free(&b); return MHD_NO; }
    return respond(sv, c, r, draining ? 503 : 200, "application/json", b.ptr, b.len, NULL);
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label(rlvr_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') rlvr_buf_addc(b, '\\');
        if (*s == '\n') { rlvr_buf_adds(b, "\\n"); continue; }
        rlvr_buf_addc(b, *s);
    }
}

static enum MHD_Result do_metrics(server *sv, struct MHD_Connection *c, req *r)
{
    rlvr_buf b = {0};
    metrics m;
    pthread_mutex_lock(&sv->m.lock);
    memcpy(&m, &sv->m, sizeof m);
    pthread_mutex_unlock(&sv->m.lock);
    rlvr_buf_adds(&b, "# HELP rlvr_http_requests_total HTTP requests answered, by endpoint and status code.\n"
                      "# TYPE rlvr_http_requests_total counter\n");
    for (int e = 0; e < EP_N; e++)
        for (size_t k = 0; k <= N_CODES; k++) {
            if (!m.requests[e][k] && !(k == 0 && (e == EP_SCORE || e == EP_REWARD))) continue;
            char code[16];
            if (k < N_CODES) snprintf(code, sizeof code, "%d", codes[k]);
            else snprintf(code, sizeof code, "other");
            rlvr_buf_printf(&b, "rlvr_http_requests_total{endpoint=\"%s\",code=\"%s\"} %llu\n", ep_names[e], code,
                            m.requests[e][k]);
        }
    rlvr_buf_adds(&b, "# HELP rlvr_http_request_duration_seconds Scoring requests: time from the headers read to the answer sent.\n"
                      "# TYPE rlvr_http_request_duration_seconds histogram\n");
    for (int e = EP_SCORE; e <= EP_REWARD; e++) { /* the scoring endpoints */
        unsigned long long cum = 0;
        for (size_t k = 0; k < N_BUCKETS; k++) {
            cum += m.hist[e][k];
            rlvr_buf_printf(&b, "rlvr_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                            ep_names[e], buckets[k], cum);
        }
        rlvr_buf_printf(&b, "rlvr_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                        ep_names[e], m.hist_count[e]);
        rlvr_buf_printf(&b, "rlvr_http_request_duration_seconds_sum{endpoint=\"%s\"} ", ep_names[e]);
        rlvr_buf_json_number(&b, m.hist_sum[e]);
        rlvr_buf_printf(&b, "\nrlvr_http_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", ep_names[e],
                        m.hist_count[e]);
    }
    rlvr_buf_printf(&b, "# HELP rlvr_samples_total Samples scored, by endpoint.\n# TYPE rlvr_samples_total counter\n"
                        "rlvr_samples_total{endpoint=\"/score\"} %llu\nrlvr_samples_total{endpoint=\"/get_reward\"} %llu\n"
                        "# HELP rlvr_sample_errors_total Samples that failed (parse, input or plugin errors).\n"
                        "# TYPE rlvr_sample_errors_total counter\nrlvr_sample_errors_total %llu\n"
                        "# HELP rlvr_rewards_null_total Samples whose reward is null (a required component abstained or failed).\n"
                        "# TYPE rlvr_rewards_null_total counter\nrlvr_rewards_null_total %llu\n"
                        "# HELP rlvr_abstain_substitutions_total /get_reward: null rewards answered with --abstain-value.\n"
                        "# TYPE rlvr_abstain_substitutions_total counter\nrlvr_abstain_substitutions_total %llu\n",
                    m.samples[EP_SCORE], m.samples[EP_REWARD], m.sample_errors, m.rewards_null, m.substituted);
    size_t ne = sv->mix->n_entries;
    rlvr_entry_stats *st = calloc(ne ? ne : 1, sizeof *st);
    if (st) {
        rlvr_sched_entry_stats(sv->sched, st);
        static const char *const fam[4][2] = {
            {"rlvr_component_score_sum", "Sum of the scores a component gave (status ok)."},
            {"rlvr_component_ok_total", "Samples a component scored."},
            {"rlvr_component_abstain_total", "Samples a component abstained on."},
            {"rlvr_component_error_total", "Samples a component failed on."},
        };
        for (int f = 0; f < 4; f++) {
            rlvr_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", fam[f][0], fam[f][1], fam[f][0],
                            f == 0 ? "counter" : "counter");
            for (size_t i = 0; i < ne; i++) {
                const rlvr_entry *e = sv->mix->all[i];
                const char *route = "";
                for (size_t l = 0; l < sv->mix->n_leaves; l++)
                    if (e >= sv->mix->leaves[l]->entries && e < sv->mix->leaves[l]->entries + sv->mix->leaves[l]->n)
                        route = sv->mix->leaves[l]->label;
                rlvr_buf_printf(&b, "%s{component=\"", fam[f][0]);
                label(&b, e->name);
                rlvr_buf_adds(&b, "\",plugin=\"");
                label(&b, e->plugin->name);
                rlvr_buf_adds(&b, "\",route=\"");
                label(&b, route);
                rlvr_buf_adds(&b, "\"} ");
                if (f == 0) rlvr_buf_json_number(&b, st[i].sum);
                else rlvr_buf_printf(&b, "%zu", f == 1 ? st[i].ok : f == 2 ? st[i].abstain : st[i].error);
                rlvr_buf_addc(&b, '\n');
            }
        }
        free(st);
    }
    rlvr_sched_info si;
    rlvr_sched_info_get(sv->sched, &si);
    pthread_mutex_lock(&sv->lock);
    int in_flight = sv->in_flight;
    pthread_mutex_unlock(&sv->lock);
    rlvr_buf_printf(&b, "# HELP rlvr_queue_samples Samples waiting for a scoring thread.\n# TYPE rlvr_queue_samples gauge\n"
                        "rlvr_queue_samples %zu\n# HELP rlvr_queue_limit_samples The queue's bound (--queue).\n"
                        "# TYPE rlvr_queue_limit_samples gauge\nrlvr_queue_limit_samples %zu\n"
                        "# HELP rlvr_scoring_threads Scoring threads running.\n# TYPE rlvr_scoring_threads gauge\n"
                        "rlvr_scoring_threads %d\n# HELP rlvr_scoring_threads_busy Scoring threads scoring now.\n"
                        "# TYPE rlvr_scoring_threads_busy gauge\nrlvr_scoring_threads_busy %d\n"
                        "# HELP rlvr_scoring_threads_started_total Threads started beyond --threads because slow plugins held the others.\n"
                        "# TYPE rlvr_scoring_threads_started_total counter\nrlvr_scoring_threads_started_total %zu\n"
                        "# HELP rlvr_requests_in_flight HTTP requests being read, scored or answered.\n"
                        "# TYPE rlvr_requests_in_flight gauge\nrlvr_requests_in_flight %d\n",
                    si.queued, si.queue_limit, si.threads, si.busy, si.threads_started, in_flight);
    if (b.oom) { rlvr_buf_free(&b); return MHD_NO; }
    return respond(sv, c, r, 200, "text/plain; version=0.0.4; charset=utf-8", b.ptr, b.len, NULL);
}

/* The checks a request passes before its body is read: a known endpoint, the
 * right method, the token, not draining, a declared length within bounds.
 * Returns 1 when it may go on, else the result of the error response. */
static int refuse(server *sv, struct MHD_Connection *c, req *r, const char *method, enum MHD_Result *out)
{
    pthread_mutex_lock(&sv->lock);
    int draining = sv->draining;
    pthread_mutex_unlock(&sv->lock);
    int post = strcmp(method, "POST") == 0;
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (r->ep == EP_OTHER)
        *out = respond_error(sv, c, r, 404, "no such endpoint (POST /score, POST /get_reward, GET /health, GET /metrics)",
                             NULL);
    else if ((r->ep == EP_SCORE || r->ep == EP_REWARD) ? !post : !get)
        *out = respond_error(sv, c, r, 405, "method not allowed on this endpoint", NULL);
    else if (r->ep != EP_HEALTH && !token_ok(sv, c))
        *out = respond_error(sv, c, r, 401, "a valid bearer token is required (Authorization: Bearer TOKEN)", NULL);
    else if (draining && (r->ep == EP_SCORE || r->ep == EP_REWARD))
        *out = respond_error(sv, c, r, 503, "the server is shutting down", "5");
    else {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (!cl) return 0;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (errno || end == cl || *end || v > sv->o->max_body) {
            char msg[160];
            snprintf(msg, sizeof msg, "the body is larger than %zu bytes (--max-body)", sv->o->max_body);
            *out = respond_error(sv, c, r, 413, msg, NULL);
        } else if (post && rlvr_buf_reserve(&r->body, (size_t)v)) {
            *out = respond_error(sv, c, r, 500, "out of memory", NULL);
        } else {
            return 0;
        }
    }
    return 1;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    server *sv = cls;
    req *r = *con_cls;
    enum MHD_Result rc;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->t0 = rlvr_now();
        r->ep = classify(url);
        *con_cls = r;
        pthread_mutex_lock(&sv->lock);
        sv->in_flight++;
        pthread_mutex_unlock(&sv->lock);
        /* A POST that will be refused is refused before its body is read
         * (the connection then closes); anything else is answered once the
         * request is complete, so the connection can be kept alive. */
        if (strcmp(method, "POST") == 0 && refuse(sv, c, r, method, &rc)) return rc;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->answered) return MHD_YES;
        if (r->dropped || r->body.len + n > sv->o->max_body) {
            /* a chunked body over the limit (libmicrohttpd 0.9 cannot answer
             * before the body ends): the rest is read and dropped, and
             * answered 413 at its end; a body still going 1 MiB past the
             * limit closes the connection */
            rlvr_buf_free(&r->body);
            r->dropped += n;
            return r->dropped > ((size_t)1 << 20) ? MHD_NO : MHD_YES;
        }
        rlvr_buf_add(&r->body, upload_data, n);
        if (r->body.oom) return MHD_NO;
        return MHD_YES;
    }
    if (r->answered) return MHD_YES;
    if (r->dropped) {
        char msg[160];
        snprintf(msg, sizeof msg, "the body is larger than %zu bytes (--max-body)", sv->o->max_body);
        return respond_error(sv, c, r, 413, msg, NULL);
    }
    if (refuse(sv, c, r, method, &rc)) return rc;
    switch (r->ep) {
    case EP_HEALTH: return do_health(sv, c, r);
    case EP_METRICS: return do_metrics(sv, c, r);
    case EP_SCORE: return do_score(sv, c, r);
    default: return do_reward(sv, c, r);
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    server *sv = cls;
    req *r = *con_cls;
    if (!r) return;
    double dt = rlvr_now() - r->t0;
    pthread_mutex_lock(&sv->m.lock);
    size_t k = 0;
    while (k < N_CODES && codes[k] != r->code) k++;
    if (r->code) sv->m.requests[r->ep][k]++;
    size_t bk = 0;
    while (bk < N_BUCKETS && dt > buckets[bk]) bk++;
    if (bk < N_BUCKETS) sv->m.hist[r->ep][bk]++;
    sv->m.hist_count[r->ep]++;
    sv->m.hist_sum[r->ep] += dt;
    pthread_mutex_unlock(&sv->m.lock);
    if (sv->o->verbose)
        fprintf(stderr, "rlvr serve: %s %d %.1f ms%s\n", ep_names[r->ep], r->code, dt * 1000,
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)");
    rlvr_buf_free(&r->body);
    free(r);
    *con_cls = NULL;
    pthread_mutex_lock(&sv->lock);
    sv->in_flight--;
    if (sv->in_flight == 0) pthread_cond_broadcast(&sv->idle);
    pthread_mutex_unlock(&sv->lock);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    fputs("rlvr serve: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* ---- start and stop -------------------------------------------------------------- */

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(signal_pipe[1], &b, 1);
    (void)w;
    errno = saved;
}

/* HOST:PORT (HOST may be [v6]) into an address. */
static int resolve(const char *spec, struct sockaddr_storage *ss, socklen_t *sl, int *v6, char *err, size_t err_len)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || !colon[1]) { rlvr_errf(err, err_len, "--listen wants HOST:PORT, got '%s'", spec); return -1; }
    size_t hl = (size_t)(colon - spec);
    if (hl >= sizeof host) { rlvr_errf(err, err_len, "--listen: host too long"); return -1; }
    memcpy(host, spec, hl);
    host[hl] = 0;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) { rlvr_errf(err, err_len, "--listen: bad port '%s'", colon + 1); return -1; }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (rc || !ai) { rlvr_errf(err, err_len, "--listen: cannot resolve '%s': %s", host, gai_strerror(rc)); return -1; }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sl = ai->ai_addrlen;
    *v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    return 0;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

static char *read_token(const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "re");
    if (!f) { rlvr_errf(err, err_len, "cannot read the token file %s: %s", path, strerror(errno)); return NULL; }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    buf[strcspn(buf, "\r\n")] = 0;
    if (!buf[0]) { rlvr_errf(err, err_len, "the token file %s is empty", path); return NULL; }
    char *t = strdup(buf);
    memset(buf, 0, sizeof buf);
    return t;
}

int rlvr_cmd_serve(int argc, char **argv)
{
    serve_opts o = {0};
    o.listen = DEFAULT_LISTEN;
    o.stall_ms = 2;
    o.queue = 65536;
    o.max_body = (size_t)64 << 20;
    o.max_samples = 16384;
    o.request_timeout = 600;
    o.idle_timeout = 60;
    o.max_connections = 256;
    o.drain_timeout = 60;
    if (parse_opts(argc, argv, &o)) return 2;
    if (o.verbose) rlvr_services_set_log_level(RLVR_LOG_INFO);
    if (!o.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = n > 0 ? (int)(n > 1024 ? 1024 : n) : 1;
    }
    if (!o.max_threads) o.max_threads = 4 * o.threads + 32;
    if (o.max_threads < o.threads) o.max_threads = o.threads;

    server sv;
    memset(&sv, 0, sizeof sv);
    sv.o = &o;
    char err[1024];
    if (o.token_file) {
        if (!(sv.token = read_token(o.token_file, err, sizeof err))) { fprintf(stderr, "rlvr serve: %s\n", err); return 2; }
    } else if (getenv(TOKEN_ENV) && *getenv(TOKEN_ENV)) {
        sv.token = strdup(getenv(TOKEN_ENV));
    }
    sv.token_len = sv.token ? strlen(sv.token) : 0;

    struct sockaddr_storage ss;
    socklen_t sl;
    int v6;
    if (resolve(o.listen, &ss, &sl, &v6, err, sizeof err)) { fprintf(stderr, "rlvr serve: %s\n", err); return 2; }

    /* Plugins' stray printf lands on stderr. */
    fflush(stdout);
    if (dup2(2, 1) < 0) { fprintf(stderr, "rlvr serve: cannot guard stdout: %s\n", strerror(errno)); return 2; }

    rlvr_registry reg;
    if (rlvr_registry_init(&reg, err, sizeof err)) { fprintf(stderr, "rlvr serve: %s\n", err); return 2; }
    rlvr_services_set_registry(&reg);
    sv.mix = o.mix ? rlvr_mix_load(o.mix, &reg, err, sizeof err)
                   : rlvr_mix_from_plugins(o.plugins, o.n_plugins, &reg, err, sizeof err);
    if (!sv.mix) { fprintf(stderr, "rlvr serve: %s\n", err); return 2; }
    if (o.step && rlvr_mix_set_step(sv.mix, o.step, err, sizeof err)) { fprintf(stderr, "rlvr serve: %s\n", err); return 2; }

    /* extra_logs: each distinct entry name once, in the mix's order. */
    sv.components = calloc(sv.mix->n_entries ? sv.mix->n_entries : 1, sizeof *sv.components);
    if (!sv.components) { fprintf(stderr, "rlvr serve: out of memory\n"); return 2; }
    int has_accuracy = 0;
    for (size_t i = 0; i < sv.mix->n_entries; i++) {
        const char *name = sv.mix->all[i]->name;
        size_t k = 0;
        while (k < sv.n_components && strcmp(sv.components[k], name) != 0) k++;
        if (k == sv.n_components) sv.components[sv.n_components++] = name;
        has_accuracy |= strcmp(name, "accuracy") == 0;
    }
    if (o.scores_component) {
        size_t k = 0;
        while (k < sv.n_components && strcmp(sv.components[k], o.scores_component) != 0) k++;
        if (k == sv.n_components) {
            fprintf(stderr, "rlvr serve: --scores-component: the mix has no component named '%s'\n", o.scores_component);
            return 2;
        }
    }
    sv.ropts.end_tokens = o.n_end_tokens ? o.end_tokens : (const char *const *)default_end_tokens;
    sv.ropts.n_end_tokens = o.n_end_tokens ? o.n_end_tokens : sizeof default_end_tokens / sizeof *default_end_tokens;
    sv.ropts.abstain_value = o.abstain_value;
    sv.ropts.scores_component = o.scores_component ? o.scores_component : has_accuracy ? "accuracy" : NULL;
    sv.ropts.components = sv.components;
    sv.ropts.n_components = sv.n_components;

    rlvr_sched_opts so = {o.threads, o.max_threads, o.stall_ms, o.queue, 5.0};
    sv.sched = rlvr_sched_new(sv.mix, &o.map, &so, err, sizeof err);
    if (!sv.sched) { fprintf(stderr, "rlvr serve: %s\n", err); return 2; }
    pthread_mutex_init(&sv.lock, NULL);
    pthread_cond_init(&sv.idle, NULL);
    pthread_mutex_init(&sv.m.lock, NULL);
    sv.started = rlvr_now();

    if (pipe2(signal_pipe, O_CLOEXEC)) { fprintf(stderr, "rlvr serve: pipe: %s\n", strerror(errno)); return 2; }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC
                     | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, handler, &sv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, completed, &sv, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o.idle_timeout,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)o.max_connections, MHD_OPTION_LISTEN_BACKLOG_SIZE, 256u,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)1 << 20, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "rlvr serve: cannot listen on %s (in use, or not an address of this machine?)\n", o.listen);
        return 2;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : 0;
    char host[128] = "";
    if (ss.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
    else inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
    if (o.port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp%d", o.port_file, (int)getpid());
        FILE *f = fopen(tmp, "we");
        if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) || rename(tmp, o.port_file)) {
            fprintf(stderr, "rlvr serve: cannot write %s: %s\n", o.port_file, strerror(errno));
            MHD_stop_daemon(d);
            return 2;
        }
    }
    if (!o.quiet) {
        fprintf(stderr, "rlvr serve: listening on http://%s%s%s:%u (%s, %d thread%s, up to %d)%s\n",
                v6 ? "[" : "", host, v6 ? "]" : "", port, sv.mix->path ? sv.mix->path : "plugins", o.threads,
                o.threads == 1 ? "" : "s", o.max_threads, sv.token ? ", bearer token required" : "");
        if (!is_loopback(&ss) && !sv.token)
            fprintf(stderr, "rlvr serve: warning: listening beyond loopback without a token: anyone who can reach "
                            "this port can use it (--token-file)\n");
    }

    /* Wait for a signal. */
    unsigned char sig = 0;
    while (read(signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {}
    if (!o.quiet) fprintf(stderr, "rlvr serve: %s: finishing the requests in flight\n", strsignal(sig));
    pthread_mutex_lock(&sv.lock);
    sv.draining = 1;
    pthread_mutex_unlock(&sv.lock);
    MHD_socket ls = MHD_quiesce_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    double deadline = rlvr_now() + o.drain_timeout;
    int forced = 0;
    for (;;) {
        pthread_mutex_lock(&sv.lock);
        int left = sv.in_flight;
        pthread_mutex_unlock(&sv.lock);
        if (left == 0) break;
        if (rlvr_now() >= deadline) { forced = 1; break; }
        struct pollfd pfd = {signal_pipe[0], POLLIN, 0};
        if (poll(&pfd, 1, 20) > 0 && read(signal_pipe[0], &sig, 1) == 1) { forced = 1; break; }
    }
    if (forced) {
        /* Connection threads still wait on their jobs: leave without joining them. */
        fprintf(stderr, "rlvr serve: stopping with %d request%s still in flight\n", sv.in_flight,
                sv.in_flight == 1 ? "" : "s");
        fflush(stderr);
        _exit(1);
    }
    MHD_stop_daemon(d);
    rlvr_sched_free(sv.sched);
    if (!o.quiet) {
        pthread_mutex_lock(&sv.m.lock);
        fprintf(stderr, "rlvr serve: stopped after %.0f s: %llu samples scored (%llu /score, %llu /get_reward)\n",
                rlvr_now() - sv.started, sv.m.samples[EP_SCORE] + sv.m.samples[EP_REWARD], sv.m.samples[EP_SCORE],
                sv.m.samples[EP_REWARD]);
        pthread_mutex_unlock(&sv.m.lock);
    }
    rlvr_mix_free(sv.mix);
    rlvr_registry_free(&reg);
    if (sv.token) {
        memset(sv.token, 0, sv.token_len);
        free(sv.token);
    }
    free(sv.components);
    free(o.plugins);
    free(o.end_tokens);
    rlvr_field_map_free(&o.map);
    return 0;
}
