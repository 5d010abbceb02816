/*
 * judge_client.c -- the judge's HTTP client: POST requests to an
 * OpenAI-compatible chat-completions endpoint through libcurl's multi
 * interface, many in flight, with a concurrency cap, retries and deadlines.
 *
 * Invariants:
 *  - At most max_concurrency transfers of one client are in flight at any
 *    moment, whatever the number of threads performing at once: a slot is
 *    taken before a transfer is added to a multi handle and given back when
 *    it is removed. A caller waiting for a slot sleeps in curl_multi_poll and
 *    is woken (curl_multi_wakeup) when another caller gives one back.
 *  - Requests waiting out a backoff hold no slot.
 *  - Retried: connection errors (refused, closed without a reply, reset),
 *    attempt timeouts, 5xx, 408 and 429 (Retry-After, in seconds or as an
 *    HTTP date, is a lower bound on the wait). Never retried: other 4xx, a
 *    reply over max_reply_bytes, any other libcurl error. A request never
 *    runs past its total deadline: each attempt's timeout is cut to what is
 *    left, and a wait that would end past it ends the request instead.
 *  - Redirects are not followed (the Authorization header would go with
 *    them); only http and https are spoken.
 *  - The API key is held only in the header list and in a copy used to
 *    scrub messages; both are wiped at free. Messages never carry the URL.
 *  - Multi handles (with their connection caches) are pooled in the client,
 *    so consecutive batches reuse connections.
 */
#include "judge.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct waiter {
    CURLM *multi;
    struct waiter *next;
    int linked;
} waiter;

struct rlvr_judge_client {
    rlvr_judge_client_options o;
    char *url;
    char *key;                  /* copy for scrubbing; NULL when none */
    struct curl_slist *headers;
    char *auth_header;          /* owned copy, wiped at free */
    pthread_mutex_t lock;
    int in_flight;
    waiter *waiters;
    CURLM **pool;
    size_t n_pool, cap_pool;
    rlvr_judge_stats stats;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

void rlvr_judge_client_options_init(rlvr_judge_client_options *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = 60000;
    o->connect_timeout_ms = 10000;
    o->total_timeout_ms = 300000;
    o->max_retries = 4;
    o->backoff_ms = 500;
    o->max_backoff_ms = 30000;
    o->max_concurrency = 64;
    o->max_reply_bytes = 1 << 20;
}

const char *rlvr_judge_outcome_reason(rlvr_judge_outcome o)
{
    switch (o) {
    case RLVR_JUDGE_REPLY: return "reply";
    case RLVR_JUDGE_TIMEOUT: return "judge_timeout";
    case RLVR_JUDGE_UNREACHABLE: return "judge_unreachable";
    case RLVR_JUDGE_SERVER_ERROR: return "judge_server_error";
    case RLVR_JUDGE_RATE_LIMITED: return "judge_rate_limited";
    case RLVR_JUDGE_HTTP_ERROR: return "judge_http_error";
    case RLVR_JUDGE_TOO_LARGE: return "judge_reply_too_large";
    case RLVR_JUDGE_NOMEM: return "out_of_memory";
    }
    return "judge_error";
}

void rlvr_judge_request_clear(rlvr_judge_request *r)
{
    free(r->reply);
    r->reply = NULL;
    r->reply_len = 0;
}

void rlvr_judge_scrub(char *buf, const char *secret)
{
    if (!buf || !secret || !*secret) return;
    size_t sl = strlen(secret);
    char *p;
    while ((p = strstr(buf, secret)) != NULL) {
        size_t rest = strlen(p + sl);
        memcpy(p, "***", 3);
        memmove(p + 3, p + sl, rest + 1);
    }
}

void rlvr_judge_client_scrub(const rlvr_judge_client *c, char *buf) { rlvr_judge_scrub(buf, c->key); }

static void wipe(char *s)
{
    if (!s) return;
    volatile char *v = s;
    while (*v) *v++ = 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

rlvr_judge_client *rlvr_judge_client_new(const rlvr_judge_client_options *o, char *err, size_t err_len)
{
    if (!o->url || !*o->url) {
        snprintf(err, err_len, "no URL");
        return NULL;
    }
    if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0) {
        snprintf(err, err_len, "the URL must start with http:// or https://");
        return NULL;
    }
    if (o->timeout_ms < 1 || o->connect_timeout_ms < 1 || o->total_timeout_ms < 1 || o->max_retries < 0
        || o->backoff_ms < 0 || o->max_backoff_ms < o->backoff_ms || o->max_concurrency < 1
        || o->max_reply_bytes < 64) {
        snprintf(err, err_len, "client options out of range");
        return NULL;
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, err_len, "libcurl failed to initialise: %s", curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    rlvr_judge_client *c = calloc(1, sizeof *c);
    if (!c) goto nomem;
    c->o = *o;
    c->o.url = NULL;
    c->o.api_key = NULL;
    pthread_mutex_init(&c->lock, NULL);
    if (!(c->url = strdup(o->url))) goto nomem;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (!h) goto nomem;
    c->headers = h;
    /* No "Expect: 100-continue" round trip before large bodies. */
    if (!(h = curl_slist_append(c->headers, "Expect:"))) goto nomem;
    if (o->api_key && *o->api_key) {
        if (!(c->key = strdup(o->api_key))) goto nomem;
        size_t n = strlen(o->api_key) + 32;
        if (!(c->auth_header = malloc(n))) goto nomem;
        snprintf(c->auth_header, n, "Authorization: Bearer %s", o->api_key);
        if (!(h = curl_slist_append(c->headers, c->auth_header))) goto nomem;
    }
    return c;
nomem:
    snprintf(err, err_len, "out of memory");
    rlvr_judge_client_free(c);
    return NULL;
}

void rlvr_judge_client_free(rlvr_judge_client *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n_pool; i++) curl_multi_cleanup(c->pool[i]);
    free(c->pool);
    /* curl_slist_append copies its strings: wipe the copy holding the key. */
    for (struct curl_slist *s = c->headers; s; s = s->next)
        if (strncmp(s->data, "Authorization:", 14) == 0) wipe(s->data);
    curl_slist_free_all(c->headers);
    wipe(c->auth_header);
    free(c->auth_header);
    wipe(c->key);
    free(c->key);
    free(c->url);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void rlvr_judge_client_stats(rlvr_judge_client *c, rlvr_judge_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->stats;
    pthread_mutex_unlock(&c->lock);
}

/* ---- slots and the multi pool --------------------------------------------------- */

static int slot_try(rlvr_judge_client *c, waiter *w)
{
    int got = 0;
    pthread_mutex_lock(&c->lock);
    if (c->in_flight < c->o.max_concurrency) {
        c->in_flight++;
        if (c->in_flight > c->stats.max_in_flight) c->stats.max_in_flight = c->in_flight;
        got = 1;
    } else if (!w->linked) {
        w->next = c->waiters;
        c->waiters = w;
        w->linked = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return got;
}

static void unlink_waiter_locked(rlvr_judge_client *c, waiter *w)
{
    if (!w->linked) return;
    for (waiter **pp = &c->waiters; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    w->linked = 0;
}

static void slot_release(rlvr_judge_client *c)
{
    pthread_mutex_lock(&c->lock);
    c->in_flight--;
    for (waiter *w = c->waiters; w; w = w->next) curl_multi_wakeup(w->multi);
    pthread_mutex_unlock(&c->lock);
}

static CURLM *multi_take(rlvr_judge_client *c)
{
    CURLM *m = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->n_pool) m = c->pool[--c->n_pool];
    pthread_mutex_unlock(&c->lock);
    return m ? m : curl_multi_init();
}

static void multi_give(rlvr_judge_client *c, CURLM *m)
{
    pthread_mutex_lock(&c->lock);
    if (c->n_pool == c->cap_pool) {
        size_t cap = c->cap_pool ? 2 * c->cap_pool : 8;
        CURLM **p = realloc(c->pool, cap * sizeof *p);
        if (p) {
            c->pool = p;
            c->cap_pool = cap;
        }
    }
    if (c->n_pool < c->cap_pool) {
        c->pool[c->n_pool++] = m;
        m = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (m) curl_multi_cleanup(m);
}

/* ---- one request's state ------------------------------------------------------------ */

enum { J_READY, J_FLIGHT, J_WAIT, J_DONE };

typedef struct job {
    rlvr_judge_request *r;
    rlvr_judge_client *c;
    CURL *easy;
    int phase;
    double ready_at, start, deadline;
    char *buf;
    size_t len, cap;
    int too_large;
    double retry_after_ms;      /* < 0: none in the last reply */
    char errbuf[CURL_ERROR_SIZE];
} job;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    job *j = ud;
    size_t n = size * nmemb;
    if (j->len + n > j->c->o.max_reply_bytes) {
        j->too_large = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 4096;
        while (cap < j->len + n + 1) cap *= 2;
        char *b = realloc(j->buf, cap);
        if (!b) return 0;
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, data, n);
    j->len += n;
    j->buf[j->len] = 0;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    job *j = ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && n < 256 && strncasecmp(data, name, sizeof name - 1) == 0) {
        char v[256];
        size_t k = n - (sizeof name - 1);
        memcpy(v, data + sizeof name - 1, k);
        v[k] = 0;
        char *p = v;
        while (*p == ' ' || *p == '\t') p++;
        size_t e = strlen(p);
        while (e && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' ' || p[e - 1] == '\t')) p[--e] = 0;
        if (*p >= '0' && *p <= '9') {
            char *end;
            double s = strtod(p, &end);
            if (*end == 0 && s >= 0 && s < 1e7) j->retry_after_ms = s * 1e3;
        } else if (*p) {
            time_t t = curl_getdate(p, NULL);
            if (t != (time_t)-1) {
                double d = difftime(t, time(NULL));
                j->retry_after_ms = d > 0 ? d * 1e3 : 0;
            }
        }
    }
    return n;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void finish(job *j, rlvr_judge_outcome o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void finish(job *j, rlvr_judge_outcome o, const char *fmt, ...)
{
    rlvr_judge_request *r = j->r;
    r->outcome = o;
    r->elapsed_ms = now_ms() - j->start;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof r->message, fmt, ap);
        va_end(ap);
        rlvr_judge_scrub(r->message, j->c->key);
    }
    if (o == RLVR_JUDGE_REPLY) {
        if (!j->buf) { /* an empty body */
            j->buf = malloc(1);
            if (!j->buf) {
                r->outcome = RLVR_JUDGE_NOMEM;
                snprintf(r->message, sizeof r->message, "out of memory");
            } else {
                j->buf[0] = 0;
            }
        }
        r->reply = j->buf;
        r->reply_len = j->len;
        j->buf = NULL;
    }
    free(j->buf);
    j->buf = NULL;
    j->len = j->cap = 0;
    if (j->easy) {
        curl_easy_cleanup(j->easy);
        j->easy = NULL;
    }
    j->phase = J_DONE;
    rlvr_judge_client *c = j->c;
    pthread_mutex_lock(&c->lock);
    switch (r->outcome) {
    case RLVR_JUDGE_REPLY: c->stats.replies++; break;
    case RLVR_JUDGE_TIMEOUT: c->stats.timeouts++; break;
    case RLVR_JUDGE_UNREACHABLE: c->stats.unreachable++; break;
    case RLVR_JUDGE_SERVER_ERROR: c->stats.server_errors++; break;
    case RLVR_JUDGE_RATE_LIMITED: c->stats.rate_limited++; break;
    case RLVR_JUDGE_HTTP_ERROR: c->stats.http_errors++; break;
    case RLVR_JUDGE_TOO_LARGE: c->stats.too_large++; break;
    case RLVR_JUDGE_NOMEM: break;
    }
    pthread_mutex_unlock(&c->lock);
}

/* Add an attempt to the multi handle. Returns -1 when memory ran out. */
static int start_attempt(job *j, CURLM *multi, double now)
{
    rlvr_judge_client *c = j->c;
    if (!j->easy) {
        CURL *e = curl_easy_init();
        if (!e) return -1;
        j->easy = e;
        curl_easy_setopt(e, CURLOPT_URL, c->url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->r->body_len);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
        curl_easy_setopt(e, CURLOPT_PRIVATE, j);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(e, CURLOPT_USERAGENT, "rlvr-judge/1.0");
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    }
    j->len = 0;
    if (j->buf) j->buf[0] = 0;
    j->too_large = 0;
    j->retry_after_ms = -1;
    j->errbuf[0] = 0;
    double left = j->deadline - now;
    long t = (long)(left < (double)c->o.timeout_ms ? left : (double)c->o.timeout_ms);
    curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, t < 1 ? 1L : t);
    if (curl_multi_add_handle(multi, j->easy) != CURLM_OK) return -1;
    j->phase = J_FLIGHT;
    j->r->attempts++;
    pthread_mutex_lock(&c->lock);
    c->stats.attempts++;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static int retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_OPERATION_TIMEDOUT:
        return 1;
    default:
        return 0;
    }
}

/* A transfer ended: the reply, a retry, or the end of the request. */
static void on_done(job *j, CURLM *multi, CURLcode rc, uint64_t *rng)
{
    rlvr_judge_client *c = j->c;
    long http = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &http);
    curl_multi_remove_handle(multi, j->easy);
    slot_release(c);
    rlvr_judge_request *r = j->r;
    r->http_status = http;
    rlvr_judge_outcome o;
    int retry = 0;
    char what[512];
    if (rc == CURLE_OK) {
        if (http >= 200 && http < 300) {
            finish(j, RLVR_JUDGE_REPLY, NULL);
            return;
        }
        size_t show = j->len < 100 ? j->len : 100;
        char snippet[101];
        for (size_t i = 0; i < show; i++) {
            unsigned char ch = (unsigned char)j->buf[i];
            snippet[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
        }
        snippet[show] = 0;
        /* Cut a partial UTF-8 sequence at the end of the snippet. */
        size_t e = show;
        while (e && ((unsigned char)snippet[e - 1] & 0xC0) == 0x80) e--;
        if (e && (unsigned char)snippet[e - 1] >= 0xC0) snippet[e - 1] = 0;
        else if (e < show) snippet[e] = 0;
        if (http == 429) {
            o = RLVR_JUDGE_RATE_LIMITED;
            retry = 1;
        } else if (http >= 500 || http == 408) {
            o = http == 408 ? RLVR_JUDGE_TIMEOUT : RLVR_JUDGE_SERVER_ERROR;
            retry = 1;
        } else {
            o = RLVR_JUDGE_HTTP_ERROR;
        }
        snprintf(what, sizeof what, "HTTP %ld%s%s", http, snippet[0] ? ": " : "", snippet);
    } else if (rc == CURLE_WRITE_ERROR && j->too_large) {
        finish(j, RLVR_JUDGE_TOO_LARGE, "the reply is longer than max_reply_bytes (%zu)", c->o.max_reply_bytes);
        return;
    } else if (rc == CURLE_WRITE_ERROR) {
        finish(j, RLVR_JUDGE_NOMEM, "out of memory reading the reply");
        return;
    } else {
        o = rc == CURLE_OPERATION_TIMEDOUT ? RLVR_JUDGE_TIMEOUT : RLVR_JUDGE_UNREACHABLE;
        retry = retryable_curl(rc);
        snprintf(what, sizeof what, "%s%s%s", curl_easy_strerror(rc), j->errbuf[0] ? ": " : "", j->errbuf);
    }
    if (retry && r->attempts <= c->o.max_retries) {
        double now = now_ms();
        double exp = (double)c->o.backoff_ms;
        for (int a = 1; a < r->attempts && exp < (double)c->o.max_backoff_ms; a++) exp *= 2;
        if (exp > (double)c->o.max_backoff_ms) exp = (double)c->o.max_backoff_ms;
        double wait = exp * (0.5 + 0.5 * (double)(rng_next(rng) >> 11) / 9007199254740992.0);
        if (j->retry_after_ms >= 0 && j->retry_after_ms > wait) wait = j->retry_after_ms;
        if (now + wait < j->deadline) {
            j->phase = J_WAIT;
            j->ready_at = now + wait;
            pthread_mutex_lock(&c->lock);
            c->stats.retries++;
            pthread_mutex_unlock(&c->lock);
            return;
        }
        if (j->retry_after_ms >= 0 && now + j->retry_after_ms >= j->deadline)
            finish(j, o, "%s; Retry-After %.0f s is past the total timeout", what, j->retry_after_ms / 1e3);
        else
            finish(j, o, "%s; the total timeout ended the retries after %d attempt%s", what, r->attempts,
                   r->attempts == 1 ? "" : "s");
        return;
    }
    if (retry)
        finish(j, o, "%s; gave up after %d attempt%s", what, r->attempts, r->attempts == 1 ? "" : "s");
    else
        finish(j, o, "%s", what);
}

int rlvr_judge_client_perform(rlvr_judge_client *c, rlvr_judge_request *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        reqs[i].outcome = RLVR_JUDGE_NOMEM;
        reqs[i].http_status = 0;
        reqs[i].attempts = 0;
        reqs[i].elapsed_ms = 0;
        reqs[i].reply = NULL;
        reqs[i].reply_len = 0;
        snprintf(reqs[i].message, sizeof reqs[i].message, "out of memory");
    }
    if (n == 0) return 0;
    job *jobs = calloc(n, sizeof *jobs);
    CURLM *multi = jobs ? multi_take(c) : NULL;
    if (!multi) {
        free(jobs);
        return -1;
    }
    double t0 = now_ms();
    for (size_t i = 0; i < n; i++) {
        jobs[i].r = &reqs[i];
        jobs[i].c = c;
        jobs[i].phase = J_READY;
        jobs[i].start = jobs[i].ready_at = t0;
        jobs[i].deadline = t0 + (double)c->o.total_timeout_ms;
        reqs[i].message[0] = 0;
    }
    pthread_mutex_lock(&c->lock);
    c->stats.requests += n;
    pthread_mutex_unlock(&c->lock);

    uint64_t rng = (uint64_t)(uintptr_t)jobs ^ ((uint64_t)(t0 * 1e3) * 0x9E3779B97F4A7C15ull);
    if (!rng) rng = 0x2545F4914F6CDD1Dull;
    waiter w = {multi, NULL, 0};
    size_t left = n, first_ready = 0;
    int running = 0;
    while (left) {
        double now = now_ms();
        int blocked = 0;
        double next_wake = -1;
        for (size_t i = first_ready; i < n; i++) {
            job *j = &jobs[i];
            if (j->phase == J_WAIT && j->ready_at > now) {
                if (next_wake < 0 || j->ready_at < next_wake) next_wake = j->ready_at;
                continue;
            }
            if (j->phase != J_READY && j->phase != J_WAIT) continue;
            if (blocked) continue;
            if (now >= j->deadline) {
                finish(j, RLVR_JUDGE_TIMEOUT, "the total timeout passed while waiting for a concurrency slot");
                left--;
                continue;
            }
            if (!slot_try(c, &w)) {
                blocked = 1;
                continue;
            }
            if (start_attempt(j, multi, now)) {
                slot_release(c);
                finish(j, RLVR_JUDGE_NOMEM, "out of memory starting a transfer");
                left--;
                continue;
            }
            running++;
        }
        while (first_ready < n && jobs[first_ready].phase == J_DONE) first_ready++;
        if (!left) break;
        if (!blocked && w.linked) {
            pthread_mutex_lock(&c->lock);
            unlink_waiter_locked(c, &w);
            pthread_mutex_unlock(&c->lock);
        }
        long wait_ms = 1000;
        if (next_wake >= 0) {
            double d = next_wake - now;
            wait_ms = d < 1 ? 1 : d > 1000 ? 1000 : (long)d + 1;
        }
        curl_multi_poll(multi, NULL, 0, (int)wait_ms, NULL);
        int still = 0;
        curl_multi_perform(multi, &still);
        CURLMsg *m;
        int q;
        while ((m = curl_multi_info_read(multi, &q)) != NULL) {
            if (m->msg != CURLMSG_DONE) continue;
            char *priv = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            job *j = (job *)(void *)priv;
            if (!j) continue;
            CURLcode rc = m->data.result;
            running--;
            on_done(j, multi, rc, &rng);
            if (j->phase == J_DONE) left--;
        }
    }
    pthread_mutex_lock(&c->lock);
    unlink_waiter_locked(c, &w);
    pthread_mutex_unlock(&c->lock);
    (void)running;
    free(jobs);
    multi_give(c, multi);
    return 0;
}
