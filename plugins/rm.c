/*
 * rm.c -- the `rm` plugin: a reward model behind an HTTP server scores the
 * completion, and its score (normalised as configured) is the reward.
 * Servers: text-embeddings-inference (/predict for sequence-classification
 * reward models, /rerank) and vLLM (/pooling for `--task reward` models,
 * /classify, /score for cross-encoders). Request and reply shapes are in
 * verifiers/rm.h; the HTTP client and the cache are the judge engine's.
 *
 * A batch call turns each sample into one input (a (prompt, completion)
 * pair, or one text from the template), looks it up in the cache, packs the
 * rest into requests of batch_size inputs (tei_rerank: inputs sharing a
 * prompt), sends every request at once through the client (the concurrency
 * cap holds across every thread scoring with this entry; retries, backoff,
 * Retry-After and deadlines are the client's), and reads one score per input.
 *
 * Zero, abstain and error: a reward model's score is a score, whatever its
 * value (details carry the raw score); an empty completion scores 0 with
 * reason empty_completion; an input the model cannot be asked about (no
 * prompt where one is needed) abstains; a server that cannot be reached,
 * times out, fails, or replies with something other than one finite score
 * per input makes that request's samples abstain with the reason while the
 * batch goes on; bad configuration is refused at load naming the key; only
 * the plugin's own failure (memory) is an error.
 *
 * The API key is read at load from the variable named by api_key_env and
 * lives only in the client; messages and details are scrubbed of it, and
 * the cache keeps scores, not replies. Reentrant: instances hold read-only
 * configuration, the thread-safe client and cache, and counters under a mutex.
 */
#include "rlvr_plugin.h"
#include "http_plugin.h"
#include "judge.h"
#include "rm.h"

#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rlvr_option rm_options[] = {
    {"base_url", RLVR_OPT_STRING, "http://127.0.0.1:8080", 0, 0, NULL,
     "the server's root URL; requests go to BASE_URL/predict, /rerank, /pooling, /classify or /score"},
    {"api", RLVR_OPT_STRING, NULL, 0, 0, "tei_predict|tei_rerank|vllm_pooling|vllm_classify|vllm_score",
     "the scoring endpoint (required): TEI /predict or /rerank, vLLM /pooling (--task reward), /classify or /score"},
    {"model", RLVR_OPT_STRING, "", 0, 0, NULL, "vLLM: the served model's name, sent as \"model\" (\"\": not sent)"},
    {"input", RLVR_OPT_STRING, "auto", 0, 0, "auto|pair|template",
     "pair: (prompt, completion) as a text pair (tei_predict, tei_rerank, vllm_score); template: one text from "
     "`template`; auto: pair where the API takes pairs, else template"},
    {"template", RLVR_OPT_STRING, "{prompt}\n\n{completion}", 0, 0, NULL,
     "input = template: the text sent, with {prompt} and {completion} ({{ }} for braces); put the model's chat "
     "template here; with tei_rerank/vllm_score it is the text and the prompt the query"},
    {"label", RLVR_OPT_STRING, "", 0, 0, NULL,
     "the class that is the reward: an index (vllm_classify probs, vllm_pooling vectors; on TEI also LABEL_N) or "
     "a TEI class name; \"\": the only class"},
    {"normalize", RLVR_OPT_STRING, "none", 0, 0, "none|sigmoid|minmax",
     "reward from the raw score: none (as is), sigmoid (logits to (0, 1)), minmax ((raw - score_min) / "
     "(score_max - score_min))"},
    {"score_min", RLVR_OPT_NUMBER, "0", -1e12, 1e12, NULL, "minmax: the raw score that maps to 0"},
    {"score_max", RLVR_OPT_NUMBER, "1", -1e12, 1e12, NULL, "minmax: the raw score that maps to 1"},
    {"clamp", RLVR_OPT_BOOL, "false", 0, 0, NULL, "clamp the reward into [0, 1] after normalising"},
    {"raw_scores", RLVR_OPT_BOOL, "false", 0, 0, NULL, "TEI: ask for raw logits instead of probabilities"},
    {"truncate", RLVR_OPT_BOOL, "false", 0, 0, NULL,
     "TEI: let the server cut inputs over the model's length (else it refuses them: the sample abstains)"},
    {"extra_body", RLVR_OPT_JSON, "{}", 0, 0, NULL,
     "fields added to every request, e.g. {truncate_prompt_tokens = 4096} for vLLM"},
    {"response_after_think", RLVR_OPT_BOOL, "false", 0, 0, NULL,
     "score only the completion after its last </think> (the chain of thought is not sent)"},
    {"max_input_chars", RLVR_OPT_INT, "32768", 0, 1 << 26, NULL,
     "prompt and completion each capped at this many characters (first and last halves kept; 0: no cap); a "
     "cut is counted in details.input_chars_cut"},
    {"batch_size", RLVR_OPT_INT, "32", 1, 4096, NULL, "inputs per HTTP request"},
    RLVR_HTTP_OPTIONS("16", "16777216", 1 << 30,
                      "a longer reply abstains (rm_reply_too_large); per-token pooling replies can be large",
                      "reuse the score of an identical input (same server settings)"),
};

#define N_OPTIONS (sizeof rm_options / sizeof rm_options[0])

typedef struct rm {
    const rlvr_host *host;
    rlvr_rm_request_options ro;
    char *model;
    char *extra;                /* extra_body as JSON text, or NULL */
    rlvr_rm_template *tpl;      /* NULL: pair input */
    int pairs;
    rlvr_rm_label label;
    rlvr_rm_norm norm;
    double lo, hi;
    int clamp, after_think;
    size_t max_chars, batch;
    char *keyhead;              /* what the cache key holds besides the input */
    size_t keyhead_len;
    rlvr_judge_client *client;
    rlvr_judge_cache *cache;
    pthread_mutex_t lock;
    uint64_t samples, cache_hits, requests, bad_replies, cut, cache_write_errors;
} rm;

static char *text_dup(rlvr_text t)
{
    size_t n = t.ptr ? t.len : 0;
    char *s = malloc(n + 1);
    if (s) {
        if (n) memcpy(s, t.ptr, n);
        s[n] = 0;
    }
    return s;
}

static int text_is(rlvr_text t, const char *s) { return t.ptr && t.len == strlen(s) && memcmp(t.ptr, s, t.len) == 0; }

static void rm_destroy(void *inst)
{
    rm *m = inst;
    if (!m) return;
    if (m->client) {
        rlvr_judge_stats st;
        rlvr_judge_client_stats(m->client, &st);
        if (m->samples)
            m->host->log(RLVR_LOG_INFO, "rm",
                         "%llu samples, %llu cached, %llu requests, %llu attempts, %llu retries, at most %d in "
                         "flight; replies %llu, timeouts %llu, unreachable %llu, server errors %llu, rate limited "
                         "%llu, other HTTP errors %llu, bad replies %llu, inputs cut %llu",
                         (unsigned long long)m->samples, (unsigned long long)m->cache_hits,
                         (unsigned long long)st.requests, (unsigned long long)st.attempts,
                         (unsigned long long)st.retries, st.max_in_flight, (unsigned long long)st.replies,
                         (unsigned long long)st.timeouts, (unsigned long long)st.unreachable,
                         (unsigned long long)st.server_errors, (unsigned long long)st.rate_limited,
                         (unsigned long long)st.http_errors, (unsigned long long)m->bad_replies,
                         (unsigned long long)m->cut);
        rlvr_judge_client_free(m->client);
    }
    rlvr_judge_cache_free(m->cache);
    rlvr_rm_template_free(m->tpl);
    free(m->model);
    free(m->extra);
    free(m->keyhead);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

#define FAIL(...)                                   \
    do {                                            \
        snprintf(err, err_len, __VA_ARGS__);        \
        goto fail;                                  \
    } while (0)

static void *rm_create(const rlvr_host *h, const rlvr_config *cfg, char *err, size_t err_len)
{
    rm *m = calloc(1, sizeof *m);
    char *tmp = NULL;
    json_object *extra = NULL;
    if (!m) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->host = h;
    if (!(tmp = text_dup(h->config_string(cfg, "api")))) FAIL("out of memory");
    if (rlvr_rm_api_from_name(tmp, &m->ro.api)) FAIL("api: unknown API \"%s\"", tmp);
    rlvr_rm_api api = m->ro.api;
    if (!(m->model = text_dup(h->config_string(cfg, "model")))) FAIL("out of memory");
    m->ro.model = m->model;
    m->ro.raw_scores = h->config_bool(cfg, "raw_scores");
    m->ro.truncate = h->config_bool(cfg, "truncate");

    /* input: pair or template */
    rlvr_text in = h->config_string(cfg, "input");
    if (text_is(in, "pair")) {
        if (!rlvr_rm_api_takes_pairs(api))
            FAIL("input: %s takes single texts, not pairs; use input = \"template\"", rlvr_rm_api_name(api));
        m->pairs = 1;
    } else if (text_is(in, "template")) {
        m->pairs = 0;
    } else {
        m->pairs = rlvr_rm_api_takes_pairs(api);
    }
    if (!m->pairs) {
        rlvr_text t = h->config_string(cfg, "template");
        char terr[200];
        if (!(m->tpl = rlvr_rm_template_parse(t.ptr ? t.ptr : "", t.ptr ? t.len : 0, terr, sizeof terr)))
            FAIL("template: %s", terr);
    }

    free(tmp);
    if (!(tmp = text_dup(h->config_string(cfg, "label")))) FAIL("out of memory");
    char lerr[120];
    if (rlvr_rm_label_parse(tmp, &m->label, lerr, sizeof lerr)) FAIL("label: %s", lerr);
    if ((api == RLVR_RM_VLLM_CLASSIFY || api == RLVR_RM_VLLM_POOLING) && m->label.name[0] && !m->label.has_index)
        FAIL("label: %s reads classes by index (0, 1, ...), not by name \"%s\"", rlvr_rm_api_name(api), tmp);
    if ((api == RLVR_RM_TEI_RERANK || api == RLVR_RM_VLLM_SCORE) && m->label.name[0])
        FAIL("label: %s returns one score per input; it has no classes", rlvr_rm_api_name(api));

    rlvr_text nm = h->config_string(cfg, "normalize");
    m->norm = text_is(nm, "sigmoid") ? RLVR_RM_NORM_SIGMOID : text_is(nm, "minmax") ? RLVR_RM_NORM_MINMAX : RLVR_RM_NORM_NONE;
    m->lo = h->config_number(cfg, "score_min");
    m->hi = h->config_number(cfg, "score_max");
    if (m->norm == RLVR_RM_NORM_MINMAX && !(m->hi > m->lo)) FAIL("score_max: must be above score_min for minmax");
    m->clamp = h->config_bool(cfg, "clamp");
    m->after_think = h->config_bool(cfg, "response_after_think");
    m->max_chars = (size_t)h->config_int(cfg, "max_input_chars");
    m->batch = (size_t)h->config_int(cfg, "batch_size");

    rlvr_text eb = h->config_string(cfg, "extra_body");
    if (!eb.ptr || !(extra = json_tokener_parse(eb.ptr)) || !json_object_is_type(extra, json_type_object))
        FAIL("extra_body: must be a table of request fields");
    static const char *const owned[] = {"model", "input", "inputs", "query", "texts", "text_1", "text_2",
                                        "raw_scores", "truncate", "return_text"};
    json_object_object_foreach(extra, ek, ev) {
        (void)ev;
        for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
            if (strcmp(ek, owned[i]) == 0) FAIL("extra_body: the field \"%s\" is set by the plugin", ek);
    }
    if (json_object_object_length(extra)) {
        const char *s = json_object_to_json_string_ext(extra, JSON_C_TO_STRING_PLAIN);
        if (!s || !(m->extra = strdup(s))) FAIL("out of memory");
        m->ro.extra_json = m->extra;
    }

    /* what, besides the input, makes a score: the cache key's head */
    char head[512];
    int hl = snprintf(head, sizeof head, "rm1|%s|%s|%d|%d|%s|", rlvr_rm_api_name(api), m->label.name, m->ro.raw_scores,
                      m->ro.truncate, m->pairs ? "pair" : "text");
    size_t ml = strlen(m->model), el = m->extra ? strlen(m->extra) : 0;
    m->keyhead_len = (size_t)hl + ml + 1 + el + 1;
    if (!(m->keyhead = malloc(m->keyhead_len + 1))) FAIL("out of memory");
    snprintf(m->keyhead, m->keyhead_len + 1, "%s%s|%s|", head, m->model, m->extra ? m->extra : "");

    /* the client */
    char herr[400];
    if (rlvr_http_plugin_open(h, cfg, "rm", rlvr_rm_api_path(api), &m->client, &m->cache, herr, sizeof herr))
        FAIL("%s", herr);
    free(tmp);
    json_object_put(extra);
    return m;
fail:
    free(tmp);
    json_object_put(extra);
    rm_destroy(m);
    return NULL;
}

/* ---- scoring ----------------------------------------------------------------------------- */

enum { S_PENDING, S_SCORE, S_ABSTAIN, S_ERROR };

typedef struct item {
    int state;
    double raw;                 /* S_SCORE from the server or the cache */
    double score;               /* S_SCORE decided without the server (0 for empty) */
    int decided;                /* the score was decided here, not by the model */
    const char *reason;
    char why[200];
    rlvr_rm_input in;
    char *bufs[3];              /* owned copies: capped prompt, capped completion, rendered text */
    size_t cut;
    unsigned char key[32];
    int cached, shared;
    int req;                    /* request index, -1 none */
    size_t slot;                /* position in its request */
    int first;                  /* index of the item whose request this shares */
} item;

static void set_detail_text(const rm *m, rlvr_result *r, const char *key, const char *s)
{
    char buf[300];
    snprintf(buf, sizeof buf, "%s", s);
    rlvr_judge_client_scrub(m->client, buf);
    m->host->detail_string(r, key, buf, strlen(buf));
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\n' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

static void prepare(rm *m, const rlvr_sample *s, item *it)
{
    it->req = -1;
    it->first = -1;
    const char *c = s->completion.ptr ? s->completion.ptr : "";
    size_t cl = s->completion.ptr ? s->completion.len : 0;
    if (m->after_think)
        for (size_t i = cl; i >= 8; i--)
            if (memcmp(c + i - 8, "</think>", 8) == 0) {
                c += i;
                cl -= i;
                break;
            }
    if (blank(c, cl)) {
        it->state = S_SCORE;
        it->decided = 1;
        it->score = 0;
        it->reason = "empty_completion";
        snprintf(it->why, sizeof it->why, "nothing to score%s",
                 m->after_think && cl < s->completion.len ? " after </think>" : "");
        return;
    }
    int need_prompt = m->pairs || rlvr_rm_api_needs_query(m->ro.api) || rlvr_rm_template_uses_prompt(m->tpl);
    const char *p = s->prompt.ptr ? s->prompt.ptr : "";
    size_t pl = s->prompt.ptr ? s->prompt.len : 0;
    if (need_prompt && blank(p, pl)) {
        it->state = S_ABSTAIN;
        it->reason = "no_prompt";
        snprintf(it->why, sizeof it->why, "the sample has no prompt, and this input format needs one");
        return;
    }
    size_t cut1 = 0, cut2 = 0;
    if (rlvr_rm_cap(p, pl, m->max_chars, &p, &pl, &it->bufs[0], &cut1)
        || rlvr_rm_cap(c, cl, m->max_chars, &c, &cl, &it->bufs[1], &cut2))
        goto nomem;
    it->cut = cut1 + cut2;
    if (m->pairs || rlvr_rm_api_needs_query(m->ro.api)) {
        it->in.query = p;
        it->in.query_len = pl;
    }
    if (m->pairs) {
        it->in.text = c;
        it->in.text_len = cl;
    } else {
        if (!(it->bufs[2] = rlvr_rm_template_render(m->tpl, p, pl, c, cl, &it->in.text_len))) goto nomem;
        it->in.text = it->bufs[2];
    }
    /* the cache key: settings, then query and text, each with its length */
    size_t kl = m->keyhead_len + 48 + it->in.query_len + it->in.text_len;
    char *k = malloc(kl);
    if (!k) goto nomem;
    int n = snprintf(k, kl, "%s%zu|%zu|", m->keyhead, it->in.query ? it->in.query_len : (size_t)-1, it->in.text_len);
    size_t at = (size_t)n;
    if (it->in.query_len) memcpy(k + at, it->in.query, it->in.query_len);
    at += it->in.query_len;
    memcpy(k + at, it->in.text, it->in.text_len);
    at += it->in.text_len;
    rlvr_judge_cache_key(m->model, k, at, 0, it->key);
    free(k);
    it->state = S_PENDING;
    return;
nomem:
    it->state = S_ERROR;
    it->reason = "out of memory preparing the input";
}

/* "rm_" + the client's outcome reason without its "judge_". */
static const char *outcome_reason(rlvr_judge_outcome o)
{
    switch (o) {
    case RLVR_JUDGE_TIMEOUT: return "rm_timeout";
    case RLVR_JUDGE_UNREACHABLE: return "rm_unreachable";
    case RLVR_JUDGE_SERVER_ERROR: return "rm_server_error";
    case RLVR_JUDGE_RATE_LIMITED: return "rm_rate_limited";
    case RLVR_JUDGE_HTTP_ERROR: return "rm_http_error";
    case RLVR_JUDGE_TOO_LARGE: return "rm_reply_too_large";
    default: return "rm_error";
    }
}

typedef struct request {
    size_t first, n;            /* into order[] */
    char *body;
    size_t body_len;
} request;

static int rm_score_batch(void *inst, const rlvr_call *call, size_t n, const rlvr_sample *const *samples,
                          rlvr_result *const *results)
{
    rm *m = inst;
    const rlvr_host *h = m->host;
    item *items = calloc(n ? n : 1, sizeof *items);
    size_t *order = malloc((n ? n : 1) * sizeof *order);     /* pending items, grouped by request */
    request *rq = calloc(n ? n : 1, sizeof *rq);
    rlvr_judge_request *reqs = calloc(n ? n : 1, sizeof *reqs);
    rlvr_rm_input *ins = malloc((n ? n : 1) * sizeof *ins);
    rlvr_rm_score *scores = malloc((n ? n : 1) * sizeof *scores);
    unsigned char *assigned = calloc(n ? n : 1, 1);
    if (!items || !order || !rq || !reqs || !ins || !scores || !assigned) {
        for (size_t i = 0; i < n; i++) {
            h->set_status(results[i], RLVR_ERROR, 0);
            h->set_reason(results[i], "out of memory for a batch of %zu", n);
        }
        goto out;
    }
    uint64_t hits = 0, bad = 0, cut = 0, write_errors = 0;
    size_t npend = 0;
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        prepare(m, samples[i], it);
        if (it->state != S_PENDING) continue;
        if (it->cut) cut++;
        if (m->cache) {
            size_t rl = 0;
            char *rep = rlvr_judge_cache_get(m->cache, it->key, &rl);
            if (rep) {
                char *end;
                double v = strtod(rep, &end);
                int good = end != rep && *end == 0 && isfinite(v);
                free(rep);
                if (good) {
                    it->state = S_SCORE;
                    it->raw = v;
                    it->cached = 1;
                    hits++;
                    continue;
                }
            }
            for (size_t q = 0; q < npend && it->first < 0; q++)
                if (memcmp(items[order[q]].key, it->key, 32) == 0) it->first = (int)order[q];
            if (it->first >= 0) {
                it->shared = 1;
                hits++;
                continue;
            }
        }
        order[npend++] = i;
    }
    /* pack the pending inputs into requests */
    size_t nreq = 0, placed = 0;
    size_t *packed = malloc((npend ? npend : 1) * sizeof *packed);
    if (!packed) {
        for (size_t i = 0; i < n; i++) {
            h->set_status(results[i], RLVR_ERROR, 0);
            h->set_reason(results[i], "out of memory for a batch of %zu", n);
        }
        goto out;
    }
    for (size_t a = 0; a < npend; a++) {
        if (assigned[a]) continue;
        size_t cap = m->batch, start = placed;
        for (size_t b = a; b < npend && placed - start < cap; b++) {
            if (assigned[b]) continue;
            if (m->ro.api == RLVR_RM_TEI_RERANK) {
                const rlvr_rm_input *x = &items[order[a]].in, *y = &items[order[b]].in;
                if (x->query_len != y->query_len || memcmp(x->query, y->query, x->query_len) != 0) continue;
            }
            assigned[b] = 1;
            packed[placed++] = order[b];
        }
        size_t cnt = placed - start;
        /* tei_predict reads two texts as one pair: send a request of two as two of one */
        if (!rlvr_rm_request_size_ok(m->ro.api, m->pairs, cnt)) {
            rq[nreq].first = start;
            rq[nreq++].n = 1;
            rq[nreq].first = start + 1;
            rq[nreq++].n = cnt - 1;
        } else {
            rq[nreq].first = start;
            rq[nreq++].n = cnt;
        }
    }
    for (size_t r = 0; r < nreq; r++) {
        for (size_t k = 0; k < rq[r].n; k++) {
            item *it = &items[packed[rq[r].first + k]];
            ins[k] = it->in;
            it->req = (int)r;
            it->slot = k;
        }
        char berr[200];
        if (rlvr_rm_build_request(&m->ro, ins, rq[r].n, &rq[r].body, &rq[r].body_len, berr, sizeof berr)) {
            for (size_t k = 0; k < rq[r].n; k++) {
                item *it = &items[packed[rq[r].first + k]];
                it->state = S_ERROR;
                it->reason = "rm_request";
                snprintf(it->why, sizeof it->why, "%s", berr);
            }
            continue;
        }
        reqs[r].body = rq[r].body;
        reqs[r].body_len = rq[r].body_len;
    }
    /* every request at once: build failures (memory) are sent as nothing */
    size_t nsend = 0;
    size_t *sendmap = malloc((nreq ? nreq : 1) * sizeof *sendmap);
    rlvr_judge_request *send = calloc(nreq ? nreq : 1, sizeof *send);
    int run_failed = 0;
    if (!sendmap || !send) run_failed = 1;
    else {
        for (size_t r = 0; r < nreq; r++)
            if (rq[r].body) {
                sendmap[nsend] = r;
                send[nsend++] = reqs[r];
            }
        run_failed = nsend ? rlvr_judge_client_perform(m->client, send, nsend) : 0;
        for (size_t q = 0; q < nsend; q++) reqs[sendmap[q]] = send[q];
    }
    free(sendmap);
    free(send);
    for (size_t r = 0; r < nreq; r++) {
        if (!rq[r].body) continue;
        rlvr_judge_request *jr = &reqs[r];
        const char *reason = NULL;
        char why[200] = "";
        int error = 0;
        rlvr_rm_reply_status st = RLVR_RM_REPLY_BAD;
        if (run_failed || jr->outcome == RLVR_JUDGE_NOMEM) {
            error = 1;
            reason = "out of memory in the HTTP client";
        } else if (jr->outcome != RLVR_JUDGE_REPLY) {
            reason = outcome_reason(jr->outcome);
            snprintf(why, sizeof why, "%s", jr->message);
        } else {
            st = rlvr_rm_parse_reply(m->ro.api, &m->label, jr->reply, jr->reply_len, rq[r].n, scores, why, sizeof why);
            if (st == RLVR_RM_REPLY_NOMEM) {
                error = 1;
                reason = "out of memory reading the reply";
            } else if (st != RLVR_RM_REPLY_OK) {
                reason = st == RLVR_RM_REPLY_COUNT ? "rm_count_mismatch" : "rm_bad_reply";
                bad++;
            }
        }
        for (size_t k = 0; k < rq[r].n; k++) {
            item *it = &items[packed[rq[r].first + k]];
            if (reason) {
                it->state = error ? S_ERROR : S_ABSTAIN;
                it->reason = reason;
                snprintf(it->why, sizeof it->why, "%s", why);
            } else if (!scores[k].ok) {
                it->state = S_ABSTAIN;
                it->reason = "rm_no_label";
                snprintf(it->why, sizeof it->why, "%s", scores[k].why);
            } else {
                it->state = S_SCORE;
                it->raw = scores[k].raw;
                if (m->cache) {
                    char txt[40];
                    snprintf(txt, sizeof txt, "%.17g", it->raw);
                    if (rlvr_judge_cache_put(m->cache, it->key, txt, strlen(txt))) write_errors++;
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        if (it->shared) { /* an identical input of this batch: its outcome */
            const item *f = &items[it->first];
            it->state = f->state;
            it->raw = f->raw;
            it->reason = f->reason;
            memcpy(it->why, f->why, sizeof it->why);
            it->req = f->req;
        }
        rlvr_result *res = results[i];
        if (it->state == S_SCORE && !it->decided) {
            double v = rlvr_rm_normalize(m->norm, it->raw, m->lo, m->hi, m->clamp);
            h->set_status(res, RLVR_OK, v);
            h->set_reason(res, "rm_score");
            h->detail_number(res, "raw_score", it->raw);
        } else {
            h->set_status(res, it->state == S_SCORE ? RLVR_OK : it->state == S_ABSTAIN ? RLVR_ABSTAIN : RLVR_ERROR,
                          it->state == S_SCORE ? it->score : 0);
            h->set_reason(res, "%s", it->reason ? it->reason : "rm_error");
        }
        if (it->why[0]) set_detail_text(m, res, "why", it->why);
        if (it->state != S_SCORE || !it->decided) {
            if (it->req >= 0 || it->cached) {
                int c = it->cached || it->shared;
                h->detail_json(res, "cached", c ? "true" : "false", c ? 4 : 5);
            }
            if (it->req >= 0 && !it->shared && reqs[it->req].attempts) {
                h->detail_number(res, "attempts", reqs[it->req].attempts);
                if (reqs[it->req].http_status) h->detail_number(res, "http_status", (double)reqs[it->req].http_status);
                h->detail_number(res, "batch", (double)rq[it->req].n);
            }
            if (it->cut) h->detail_number(res, "input_chars_cut", (double)it->cut);
        }
    }
    for (size_t r = 0; r < nreq; r++) {
        rlvr_judge_request_clear(&reqs[r]);
        free(rq[r].body);
    }
    pthread_mutex_lock(&m->lock);
    m->samples += n;
    m->cache_hits += hits;
    m->requests += nreq;
    m->bad_replies += bad;
    m->cut += cut;
    if (write_errors && !m->cache_write_errors)
        h->log(RLVR_LOG_WARN, "rm", "the cache file could not be written; scores stay cached in memory");
    m->cache_write_errors += write_errors;
    pthread_mutex_unlock(&m->lock);
    free(packed);
out:
    if (items)
        for (size_t i = 0; i < n; i++)
            for (int b = 0; b < 3; b++) free(items[i].bufs[b]);
    free(items);
    free(order);
    free(rq);
    free(reqs);
    free(ins);
    free(scores);
    free(assigned);
    (void)call;
    return 0;
}

static const rlvr_plugin rm_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "rm",
    .version = "1.0.0",
    .description = "a reward model behind an HTTP server (text-embeddings-inference or vLLM) scores the completion",
    .flags = RLVR_REENTRANT | RLVR_BATCH,
    .options = rm_options,
    .n_options = N_OPTIONS,
    .create = rm_create,
    .destroy = rm_destroy,
    .score_batch = rm_score_batch,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &rm_plugin;
}
