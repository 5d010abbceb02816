/*
 * judge.c -- the `judge` plugin: a generative judge (an LLM behind any
 * OpenAI-compatible chat-completions server: vLLM, SGLang, llama.cpp's
 * server, Ollama, a hosted API) grades what rules cannot, and its verdict
 * becomes the reward. The engine is verifiers/judge.h.
 *
 * A batch call renders one prompt per sample and vote (a built-in template
 * or a template file; question = the sample's prompt, reference = its
 * answer, response = its completion after the last </think>), looks each
 * request up in the cache, sends the rest at once through the client (many
 * in flight, the concurrency cap holding across every thread that scores
 * with this entry), and reads each verdict from the judge's final answer.
 *
 * Zero, abstain and error: a verdict "incorrect" (or a low score) is a score
 * with reason judge_incorrect (judge_score); a response with nothing to
 * judge is 0 with its reason; a judge that cannot be reached, times out,
 * fails, replies with something unreadable, is cut short (finish_reason
 * "length") or gives no verdict makes the component abstain with the reason
 * and the batch goes on; a bad configuration is refused at load with the
 * key named; only a failure of the plugin itself (memory) is an error.
 *
 * The API key is read at load from the environment variable named by
 * api_key_env and given to the client only; details and messages are
 * scrubbed of it. Reentrant: instances hold only read-only configuration,
 * the thread-safe client and cache, and counters under a mutex.
 */
#include "rlvr_plugin.h"
#include "answer.h"
#include "http_plugin.h"
#include "judge.h"
#include "judge_templates.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rlvr_option judge_options[] = {
    {"base_url", RLVR_OPT_STRING, "http://127.0.0.1:8000/v1", 0, 0, NULL,
     "the server's OpenAI-compatible base URL; requests go to BASE_URL/chat/completions"},
    {"model", RLVR_OPT_STRING, NULL, 0, 0, NULL, "the judge model's name, as the server knows it (required)"},
    {"template", RLVR_OPT_STRING, "r1_json", 0, 0, "r1_json|final_decision|score_10|yes_no",
     "built-in prompt: r1_json (JSON analysis + correctness), final_decision (\"Final Decision: Yes/No\"), "
     "score_10 (\"Score: N\", 1-10), yes_no (one word, for logprobs)"},
    {"template_file", RLVR_OPT_STRING, "", 0, 0, NULL,
     "a prompt template file instead of `template`: {question} {reference} {response} {final_answer}, "
     "{{ }} for braces, optional [system]/[user] sections; needs an explicit `verdict`"},
    {"verdict", RLVR_OPT_STRING, "auto", 0, 0, "auto|json|final_decision|tag|regex|score|logprobs",
     "how the verdict is read from the judge's final answer (auto: the built-in template's own)"},
    {"verdict_key", RLVR_OPT_STRING, "correctness", 0, 0, NULL,
     "json: the key of the verdict label; score: a JSON key tried before the regex (\"\": none)"},
    {"verdict_tag", RLVR_OPT_STRING, "verdict", 0, 0, NULL, "tag: the verdict is the last <TAG>label</TAG>"},
    {"verdict_regex", RLVR_OPT_STRING, "", 0, 0, NULL,
     "regex: PCRE2 pattern whose group 1 is the label (last match); score: replaces the built-in Score: N pattern"},
    {"positive_labels", RLVR_OPT_STRING, "correct|yes|true", 0, 0, NULL,
     "labels meaning correct, '|'-separated, compared whole and case-folded"},
    {"negative_labels", RLVR_OPT_STRING, "incorrect|no|false", 0, 0, NULL, "labels meaning incorrect"},
    {"score_min", RLVR_OPT_NUMBER, "1", -1e9, 1e9, NULL, "score: the lowest score (maps to 0)"},
    {"score_max", RLVR_OPT_NUMBER, "10", -1e9, 1e9, NULL, "score: the highest score (maps to 1)"},
    {"temperature", RLVR_OPT_NUMBER, "0", 0, 2, NULL, "sampling temperature of the judge"},
    {"max_tokens", RLVR_OPT_INT, "2048", 1, 1 << 20, NULL, "the most tokens the judge may write"},
    {"seed", RLVR_OPT_INT, "-1", -1, 9007199254740991.0, NULL, "sampling seed sent to the server (-1: none); vote i sends seed + i"},
    {"stop", RLVR_OPT_JSON, "[]", 0, 0, NULL, "stop strings (a list)"},
    {"response_format", RLVR_OPT_STRING, "none", 0, 0, "none|json_object|json_schema|guided_json",
     "structured output: OpenAI's response_format (json_object or json_schema) or vLLM's guided_json"},
    {"json_schema", RLVR_OPT_JSON, "null", 0, 0, NULL,
     "the schema for json_schema/guided_json (null: {analysis: string, correctness: correct|incorrect})"},
    {"top_logprobs", RLVR_OPT_INT, "5", 1, 20, NULL, "logprobs: alternatives asked for the first answer token"},
    {"extra_body", RLVR_OPT_JSON, "{}", 0, 0, NULL,
     "fields added to every request body, e.g. {chat_template_kwargs = {enable_thinking = false}}"},
    {"n", RLVR_OPT_INT, "1", 1, 64, NULL,
     "verdicts per sample, asked one request each (llama.cpp refuses n > 1); the score is their mean"},
    {"response_after_think", RLVR_OPT_BOOL, "true", 0, 0, NULL,
     "insert only the response after its last </think> (the chain of thought is not sent)"},
    {"max_response_bytes", RLVR_OPT_INT, "16384", 64, 1 << 24, NULL,
     "a longer response is inserted as its first and last halves of this size"},
    {"max_context_bytes", RLVR_OPT_INT, "16384", 64, 1 << 24, NULL, "the same cap for the question and the reference"},
    RLVR_HTTP_OPTIONS("64", "1048576", 1 << 26, "a longer reply abstains (judge_reply_too_large)",
                      "reuse replies to identical requests (model and body)"),
};

#define N_OPTIONS (sizeof judge_options / sizeof judge_options[0])

typedef struct judge {
    const rlvr_host *host;
    char *model;
    rlvr_judge_template *tpl;
    rlvr_judge_parser *parser;
    rlvr_judge_client *client;
    rlvr_judge_cache *cache;    /* NULL when off */
    json_object *base;          /* the request body without messages (and seed per vote) */
    int votes;
    rlvr_judge_verdict_kind kind;
    int64_t seed;
    int after_think;
    size_t caps[RLVR_JUDGE_N_FIELDS];
    pthread_mutex_t lock;
    uint64_t samples, cache_hits, bad_replies, truncated, unparseable, cache_write_errors;
} judge;

static const struct {
    const char *name;
    const char *text;
    rlvr_judge_verdict_kind kind;
} builtin[] = {
    {"r1_json", judge_template_r1_json, RLVR_JUDGE_V_JSON},
    {"final_decision", judge_template_final_decision, RLVR_JUDGE_V_FINAL_DECISION},
    {"score_10", judge_template_score_10, RLVR_JUDGE_V_SCORE},
    {"yes_no", judge_template_yes_no, RLVR_JUDGE_V_LOGPROBS},
};

static const char *const verdict_names[] = {"json", "final_decision", "tag", "regex", "score", "logprobs"};

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

static void judge_destroy(void *inst)
{
    judge *j = inst;
    if (!j) return;
    if (j->client) {
        rlvr_judge_stats st;
        rlvr_judge_client_stats(j->client, &st);
        if (j->samples)
            j->host->log(RLVR_LOG_INFO, "judge",
                         "%llu samples, %llu requests (%llu cached), %llu attempts, %llu retries, at most %d in "
                         "flight; replies %llu, timeouts %llu, unreachable %llu, server errors %llu, rate limited "
                         "%llu, other HTTP errors %llu, bad replies %llu, truncated %llu, no verdict %llu",
                         (unsigned long long)j->samples, (unsigned long long)(st.requests + j->cache_hits),
                         (unsigned long long)j->cache_hits, (unsigned long long)st.attempts,
                         (unsigned long long)st.retries, st.max_in_flight, (unsigned long long)st.replies,
                         (unsigned long long)st.timeouts, (unsigned long long)st.unreachable,
                         (unsigned long long)st.server_errors, (unsigned long long)st.rate_limited,
                         (unsigned long long)st.http_errors, (unsigned long long)j->bad_replies,
                         (unsigned long long)j->truncated, (unsigned long long)j->unparseable);
        rlvr_judge_client_free(j->client);
    }
    rlvr_judge_cache_free(j->cache);
    rlvr_judge_parser_free(j->parser);
    rlvr_judge_template_free(j->tpl);
    json_object_put(j->base);
    free(j->model);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

/* Read a whole file (at most 1 MiB). */
static char *read_file(const char *path, size_t *len, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "template_file: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    n = fread(buf, 1, cap + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > cap) {
        free(buf);
        snprintf(err, err_len, "template_file: %s %s", path, bad ? "could not be read" : "is larger than 1 MiB");
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static json_object *parse_json_opt(const rlvr_host *h, const rlvr_config *cfg, const char *key)
{
    rlvr_text t = h->config_string(cfg, key);
    if (!t.ptr) return NULL;
    return json_tokener_parse(t.ptr);
}

static json_object *r1_schema(void)
{
    const char *s = "{\"type\":\"object\",\"properties\":{\"analysis\":{\"type\":\"string\"},"
                    "\"correctness\":{\"type\":\"string\",\"enum\":[\"correct\",\"incorrect\"]}},"
                    "\"required\":[\"analysis\",\"correctness\"],\"additionalProperties\":false}";
    return json_tokener_parse(s);
}

#define FAIL(...)                                   \
    do {                                            \
        snprintf(err, err_len, __VA_ARGS__);        \
        goto fail;                                  \
    } while (0)

static void *judge_create(const rlvr_host *h, const rlvr_config *cfg, char *err, size_t err_len)
{
    judge *j = calloc(1, sizeof *j);
    char *tfile_text = NULL, *tmp = NULL;
    json_object *stop = NULL, *schema = NULL, *extra = NULL;
    if (!j) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&j->lock, NULL);
    j->host = h;
    if (!(j->model = text_dup(h->config_string(cfg, "model")))) FAIL("out of memory");
    if (!j->model[0]) FAIL("model: the judge model's name is empty");

    /* the template and its verdict */
    rlvr_text tname = h->config_string(cfg, "template");
    rlvr_text tfile = h->config_string(cfg, "template_file");
    rlvr_text vname = h->config_string(cfg, "verdict");
    int kind = -1;
    const char *ttext = NULL;
    size_t tlen = 0;
    if (tfile.ptr && tfile.len) {
        if (!(tmp = text_dup(tfile))) FAIL("out of memory");
        if (!(tfile_text = read_file(tmp, &tlen, err, err_len))) goto fail;
        ttext = tfile_text;
        if (text_is(vname, "auto"))
            FAIL("verdict: a template_file needs an explicit verdict (json, final_decision, tag, regex, score or logprobs)");
    } else {
        for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
            if (text_is(tname, builtin[i].name)) {
                ttext = builtin[i].text;
                tlen = strlen(ttext);
                kind = (int)builtin[i].kind;
            }
        if (!ttext) FAIL("template: unknown built-in template");
    }
    for (int k = 0; k < (int)(sizeof verdict_names / sizeof verdict_names[0]); k++)
        if (text_is(vname, verdict_names[k])) kind = k;
    char terr[300];
    if (!(j->tpl = rlvr_judge_template_parse(ttext, tlen, terr, sizeof terr)))
        FAIL("%s: %s", tfile.len ? "template_file" : "template", terr);

    rlvr_judge_parser_options po = {0};
    po.kind = j->kind = (rlvr_judge_verdict_kind)kind;
    char *vkey = text_dup(h->config_string(cfg, "verdict_key"));
    char *vtag = text_dup(h->config_string(cfg, "verdict_tag"));
    char *vre = text_dup(h->config_string(cfg, "verdict_regex"));
    char *pos = text_dup(h->config_string(cfg, "positive_labels"));
    char *neg = text_dup(h->config_string(cfg, "negative_labels"));
    if (vkey && kind == RLVR_JUDGE_V_SCORE && text_is(h->config_string(cfg, "verdict_key"), "correctness"))
        vkey[0] = 0; /* the default key belongs to json verdicts; a score is read from "score" */
    po.key = kind == RLVR_JUDGE_V_SCORE && vkey && !vkey[0] ? "score" : vkey;
    po.tag = vtag;
    po.regex = vre;
    po.positive = pos;
    po.negative = neg;
    po.score_min = h->config_number(cfg, "score_min");
    po.score_max = h->config_number(cfg, "score_max");
    char perr[300] = "out of memory";
    if (vkey && vtag && vre && pos && neg) j->parser = rlvr_judge_parser_new(&po, perr, sizeof perr);
    free(vkey);
    free(vtag);
    free(vre);
    free(pos);
    free(neg);
    if (!j->parser) FAIL("verdict: %s", perr);

    /* the request body, less the messages */
    j->votes = (int)h->config_int(cfg, "n");
    j->seed = h->config_int(cfg, "seed");
    double temp = h->config_number(cfg, "temperature");
    if (j->votes > 1 && temp <= 0 && j->seed < 0)
        FAIL("n: %d votes at temperature 0 without a seed would all be the same; raise temperature", j->votes);
    if (!(j->base = json_object_new_object())) FAIL("out of memory");
    json_object_object_add(j->base, "model", json_object_new_string(j->model));
    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%.6g", temp);
    json_object_object_add(j->base, "temperature", json_object_new_double_s(temp, tbuf));
    json_object_object_add(j->base, "max_tokens", json_object_new_int64(h->config_int(cfg, "max_tokens")));
    if (!(stop = parse_json_opt(h, cfg, "stop")) || !json_object_is_type(stop, json_type_array))
        FAIL("stop: must be a list of strings");
    size_t ns = json_object_array_length(stop);
    if (ns > 16) FAIL("stop: at most 16 stop strings");
    for (size_t i = 0; i < ns; i++)
        if (!json_object_is_type(json_object_array_get_idx(stop, i), json_type_string)
            || json_object_get_string_len(json_object_array_get_idx(stop, i)) == 0)
            FAIL("stop: element %zu is not a non-empty string", i + 1);
    if (ns) json_object_object_add(j->base, "stop", json_object_get(stop));
    rlvr_text rf = h->config_string(cfg, "response_format");
    schema = parse_json_opt(h, cfg, "json_schema");
    if (schema && !json_object_is_type(schema, json_type_object)) FAIL("json_schema: must be an object (a JSON schema)");
    if (!schema && (text_is(rf, "json_schema") || text_is(rf, "guided_json"))) {
        if (kind != RLVR_JUDGE_V_JSON)
            FAIL("json_schema: give a schema for response_format with a verdict other than json");
        schema = r1_schema();
    }
    if (text_is(rf, "json_object")) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string("json_object"));
        json_object_object_add(j->base, "response_format", o);
    } else if (text_is(rf, "json_schema")) {
        json_object *o = json_object_new_object(), *js = json_object_new_object();
        json_object_object_add(js, "name", json_object_new_string("verdict"));
        json_object_object_add(js, "schema", json_object_get(schema));
        json_object_object_add(o, "type", json_object_new_string("json_schema"));
        json_object_object_add(o, "json_schema", js);
        json_object_object_add(j->base, "response_format", o);
    } else if (text_is(rf, "guided_json")) {
        json_object_object_add(j->base, "guided_json", json_object_get(schema));
    }
    if (kind == RLVR_JUDGE_V_LOGPROBS) {
        json_object_object_add(j->base, "logprobs", json_object_new_boolean(1));
        json_object_object_add(j->base, "top_logprobs", json_object_new_int64(h->config_int(cfg, "top_logprobs")));
    }
    if (!(extra = parse_json_opt(h, cfg, "extra_body")) || !json_object_is_type(extra, json_type_object))
        FAIL("extra_body: must be a table of request fields");
    json_object_object_foreach(extra, ek, ev) {
        if (strcmp(ek, "messages") == 0 || strcmp(ek, "model") == 0 || strcmp(ek, "n") == 0 || strcmp(ek, "stream") == 0)
            FAIL("extra_body: the field \"%s\" is set by the plugin", ek);
        json_object_object_add(j->base, ek, json_object_get(ev));
    }

    j->after_think = h->config_bool(cfg, "response_after_think");
    j->caps[RLVR_JUDGE_RESPONSE] = j->caps[RLVR_JUDGE_FINAL_ANSWER] = (size_t)h->config_int(cfg, "max_response_bytes");
    j->caps[RLVR_JUDGE_QUESTION] = j->caps[RLVR_JUDGE_REFERENCE] = (size_t)h->config_int(cfg, "max_context_bytes");

    /* the client */
    char herr[400];
    if (rlvr_http_plugin_open(h, cfg, "judge", "/chat/completions", &j->client, &j->cache, herr, sizeof herr))
        FAIL("%s", herr);
    free(tmp);
    free(tfile_text);
    json_object_put(stop);
    json_object_put(schema);
    json_object_put(extra);
    return j;
fail:
    free(tmp);
    free(tfile_text);
    json_object_put(stop);
    json_object_put(schema);
    json_object_put(extra);
    judge_destroy(j);
    return NULL;
}

/* ---- scoring ----------------------------------------------------------------------------- */

enum { V_PENDING, V_SCORE, V_ABSTAIN, V_ERROR };

typedef struct vote {
    int state;
    double score;
    char *body;
    size_t body_len;
    unsigned char key[32];
    int cached;
    int shared;                 /* the reply of an identical request of this batch */
    char *reply;                /* from the cache */
    size_t reply_len;
    int req;                    /* index into the requests, -1 none */
    const char *reason;
    char why[200];
    char label[64];
    char final[256];
} vote;

typedef struct item {
    int state;                  /* V_PENDING: votes decide */
    double score;
    const char *reason;
    char why[200];
    int truncated;
    vote *votes;
} item;

/* A detail that came from the server: scrubbed of the API key, should the
 * server echo it. */
static void set_detail_text(const judge *j, rlvr_result *r, const char *key, const char *s)
{
    char buf[300];
    snprintf(buf, sizeof buf, "%s", s);
    rlvr_judge_client_scrub(j->client, buf);
    j->host->detail_string(r, key, buf, strlen(buf));
}

/* Build the request body for one vote: base + messages (+ seed). */
static char *make_body(const judge *j, const char *system, const char *user, int v, size_t *len)
{
    json_object *body = json_object_new_object();
    if (!body) return NULL;
    json_object_object_foreach(j->base, k, val) json_object_object_add(body, k, json_object_get(val));
    json_object *msgs = json_object_new_array();
    if (system) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "role", json_object_new_string("system"));
        json_object_object_add(m, "content", json_object_new_string(system));
        json_object_array_add(msgs, m);
    }
    json_object *m = json_object_new_object();
    json_object_object_add(m, "role", json_object_new_string("user"));
    json_object_object_add(m, "content", json_object_new_string(user));
    json_object_array_add(msgs, m);
    json_object_object_add(body, "messages", msgs);
    if (j->seed >= 0) json_object_object_add(body, "seed", json_object_new_int64(j->seed + v));
    size_t n = 0;
    const char *s = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    char *out = s ? malloc(n + 1) : NULL;
    if (out) {
        memcpy(out, s, n + 1);
        *len = n;
    }
    json_object_put(body);
    return out;
}

/* What the response is: the completion after its last </think> when asked. */
static void response_text(const judge *j, const rlvr_sample *s, const char **p, size_t *n)
{
    *p = s->completion.ptr ? s->completion.ptr : "";
    *n = s->completion.ptr ? s->completion.len : 0;
    if (!j->after_think) return;
    for (size_t i = *n; i >= 8; i--)
        if (memcmp(*p + i - 8, "</think>", 8) == 0) {
            *p += i;
            *n -= i;
            return;
        }
}

/* Prepare a sample: 0 with bodies made, or the item decided (no request). */
static void prepare_item(judge *j, const rlvr_sample *s, item *it)
{
    const char *resp;
    size_t rlen;
    response_text(j, s, &resp, &rlen);
    const char *fields[RLVR_JUDGE_N_FIELDS] = {0};
    size_t lens[RLVR_JUDGE_N_FIELDS] = {0};
    fields[RLVR_JUDGE_QUESTION] = s->prompt.ptr;
    lens[RLVR_JUDGE_QUESTION] = s->prompt.ptr ? s->prompt.len : 0;
    fields[RLVR_JUDGE_REFERENCE] = s->answer.ptr;
    lens[RLVR_JUDGE_REFERENCE] = s->answer.ptr ? s->answer.len : 0;
    fields[RLVR_JUDGE_RESPONSE] = resp;
    lens[RLVR_JUDGE_RESPONSE] = rlen;
    if (rlvr_judge_template_uses(j->tpl, RLVR_JUDGE_REFERENCE) && (!s->answer.ptr || s->answer.len == 0)) {
        it->state = V_ABSTAIN;
        it->reason = "no_reference";
        snprintf(it->why, sizeof it->why, "the sample has no reference answer (field `answer`)");
        return;
    }
    if (rlvr_judge_template_uses(j->tpl, RLVR_JUDGE_QUESTION) && (!s->prompt.ptr || s->prompt.len == 0)) {
        it->state = V_ABSTAIN;
        it->reason = "no_question";
        snprintf(it->why, sizeof it->why, "the sample has no question (field `prompt`)");
        return;
    }
    int blank = 1;
    for (size_t i = 0; i < rlen && blank; i++)
        blank = resp[i] == ' ' || resp[i] == '\n' || resp[i] == '\t' || resp[i] == '\r';
    if (blank) {
        it->state = V_SCORE;
        it->score = 0;
        it->reason = "empty_response";
        snprintf(it->why, sizeof it->why, "nothing to judge%s", j->after_think && rlen < s->completion.len
                                                                    ? " after </think>" : "");
        return;
    }
    if (rlvr_judge_template_uses(j->tpl, RLVR_JUDGE_FINAL_ANSWER)) {
        rlvr_answer_span span;
        if (rlvr_answer_find(resp, rlen, 0, &span) == RLVR_ANSWER_NONE) {
            it->state = V_SCORE;
            it->score = 0;
            it->reason = "no_answer";
            snprintf(it->why, sizeof it->why, "no final answer (<answer> tag or \\boxed{}) for {final_answer}");
            return;
        }
        fields[RLVR_JUDGE_FINAL_ANSWER] = span.ptr;
        lens[RLVR_JUDGE_FINAL_ANSWER] = span.len;
    }
    char *system = NULL, *user = NULL;
    if (rlvr_judge_template_render(j->tpl, fields, lens, j->caps, &system, &user, &it->truncated)) goto nomem;
    for (int v = 0; v < j->votes; v++) {
        vote *vt = &it->votes[v];
        vt->req = -1;
        if (v == 0 || j->seed >= 0) {
            if (!(vt->body = make_body(j, system, user, v, &vt->body_len))) goto nomem;
        } else { /* same body; the vote index keeps the cache keys apart */
            if (!(vt->body = malloc(it->votes[0].body_len + 1))) goto nomem;
            memcpy(vt->body, it->votes[0].body, it->votes[0].body_len + 1);
            vt->body_len = it->votes[0].body_len;
        }
        rlvr_judge_cache_key(j->model, vt->body, vt->body_len, v, vt->key);
    }
    free(system);
    free(user);
    it->state = V_PENDING;
    return;
nomem:
    free(system);
    free(user);
    it->state = V_ERROR;
    it->reason = "out of memory preparing the request";
}

/* Read one vote's verdict from a reply body. */
static void read_vote(judge *j, vote *vt, const char *body, size_t len)
{
    rlvr_judge_reply rep;
    char err[200];
    if (rlvr_judge_reply_parse(body, len, &rep, err, sizeof err)) {
        vt->state = V_ABSTAIN;
        vt->reason = "judge_bad_reply";
        snprintf(vt->why, sizeof vt->why, "%s", err);
        pthread_mutex_lock(&j->lock);
        j->bad_replies++;
        pthread_mutex_unlock(&j->lock);
        return;
    }
    const char *fa;
    size_t fl;
    if (rlvr_judge_final_answer(rep.content, rep.content_len, &fa, &fl) == 0) {
        while (fl && (*fa == ' ' || *fa == '\n' || *fa == '\r' || *fa == '\t')) fa++, fl--;
        size_t k = fl < sizeof vt->final - 1 ? fl : sizeof vt->final - 1;
        while (k && k < fl && ((unsigned char)fa[k] & 0xC0) == 0x80) k--;
        memcpy(vt->final, fa, k);
        vt->final[k] = 0;
    }
    if (strcmp(rep.finish_reason, "length") == 0) {
        vt->state = V_ABSTAIN;
        vt->reason = "judge_truncated";
        snprintf(vt->why, sizeof vt->why, "the judge's reply was cut at max_tokens (finish_reason \"length\")");
        pthread_mutex_lock(&j->lock);
        j->truncated++;
        pthread_mutex_unlock(&j->lock);
        rlvr_judge_reply_clear(&rep);
        return;
    }
    double score = 0;
    rlvr_judge_verdict_status st =
        rlvr_judge_verdict(j->parser, &rep, &score, vt->label, sizeof vt->label, vt->why, sizeof vt->why);
    rlvr_judge_reply_clear(&rep);
    if (st == RLVR_JUDGE_VERDICT_NOMEM) {
        vt->state = V_ERROR;
        vt->reason = "out of memory reading the verdict";
        return;
    }
    if (st == RLVR_JUDGE_UNPARSEABLE) {
        vt->state = V_ABSTAIN;
        vt->reason = "judge_unparseable";
        pthread_mutex_lock(&j->lock);
        j->unparseable++;
        pthread_mutex_unlock(&j->lock);
        return;
    }
    vt->state = V_SCORE;
    vt->score = score;
}

static void write_result(judge *j, const rlvr_host *h, item *it, rlvr_result *r)
{
    if (it->state != V_PENDING) {
        h->set_status(r, it->state == V_SCORE ? RLVR_OK : it->state == V_ABSTAIN ? RLVR_ABSTAIN : RLVR_ERROR,
                      it->state == V_SCORE ? it->score : 0);
        h->set_reason(r, "%s", it->reason);
        if (it->why[0]) h->detail_string(r, "why", it->why, strlen(it->why));
        return;
    }
    int ok = 0, abst = 0, err = 0;
    double sum = 0;
    const vote *first_bad = NULL;
    for (int v = 0; v < j->votes; v++) {
        const vote *vt = &it->votes[v];
        if (vt->state == V_SCORE) {
            ok++;
            sum += vt->score;
        } else {
            if (vt->state == V_ERROR) err++;
            else abst++;
            if (!first_bad) first_bad = vt;
        }
    }
    const vote *v0 = &it->votes[0];
    const vote *shown = ok ? NULL : first_bad;
    for (int v = 0; v < j->votes && !shown; v++)
        if (it->votes[v].state == V_SCORE) shown = &it->votes[v];
    if (ok == 0 && err) {
        h->set_status(r, RLVR_ERROR, 0);
        h->set_reason(r, "%s", first_bad->reason);
    } else if (ok == 0) {
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "%s", first_bad->reason);
    } else {
        double score = sum / ok;
        h->set_status(r, RLVR_OK, score);
        if (j->votes > 1) h->set_reason(r, "judge_votes");
        else if (j->kind == RLVR_JUDGE_V_SCORE || j->kind == RLVR_JUDGE_V_LOGPROBS) h->set_reason(r, "judge_score");
        else h->set_reason(r, "%s", score == 1 ? "judge_correct" : "judge_incorrect");
    }
    if (shown->label[0]) {
        char buf[sizeof shown->label];
        memcpy(buf, shown->label, sizeof buf);
        set_detail_text(j, r, "verdict", buf);
    }
    if (shown->why[0]) set_detail_text(j, r, "why", shown->why);
    if (shown->final[0]) set_detail_text(j, r, "judge_final", shown->final);
    int c0 = v0->cached || v0->shared;
    h->detail_json(r, "cached", c0 ? "true" : "false", c0 ? 4 : 5);
    if (j->votes > 1) {
        h->detail_number(r, "votes", ok);
        h->detail_number(r, "votes_abstained", abst + err);
    }
    if (it->truncated) h->detail_number(r, "fields_cut", it->truncated);
}

static int judge_score_batch(void *inst, const rlvr_call *call, size_t n, const rlvr_sample *const *samples,
                             rlvr_result *const *results)
{
    judge *j = inst;
    const rlvr_host *h = j->host;
    item *items = calloc(n ? n : 1, sizeof *items);
    vote *votes = calloc(n * (size_t)j->votes + 1, sizeof *votes);
    rlvr_judge_request *reqs = calloc(n * (size_t)j->votes + 1, sizeof *reqs);
    unsigned char *reqkeys = malloc(32 * (n * (size_t)j->votes + 1));
    if (!items || !votes || !reqs || !reqkeys) {
        for (size_t i = 0; i < n; i++) {
            h->set_status(results[i], RLVR_ERROR, 0);
            h->set_reason(results[i], "out of memory for a batch of %zu", n);
        }
        free(items);
        free(votes);
        free(reqs);
        free(reqkeys);
        return 0;
    }
    size_t nreq = 0;
    uint64_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        it->votes = votes + i * (size_t)j->votes;
        prepare_item(j, samples[i], it);
        if (it->state != V_PENDING) continue;
        for (int v = 0; v < j->votes; v++) {
            vote *vt = &it->votes[v];
            if (j->cache && (vt->reply = rlvr_judge_cache_get(j->cache, vt->key, &vt->reply_len)) != NULL) {
                vt->cached = 1;
                hits++;
                continue;
            }
            /* with the cache on, the same request twice in one batch is sent once */
            int same = -1;
            for (size_t q = 0; j->cache && q < nreq && same < 0; q++)
                if (memcmp(reqkeys + 32 * q, vt->key, 32) == 0) same = (int)q;
            if (same >= 0) {
                vt->req = same;
                vt->shared = 1;
                hits++;
                continue;
            }
            memcpy(reqkeys + 32 * nreq, vt->key, 32);
            vt->req = (int)nreq;
            reqs[nreq].body = vt->body;
            reqs[nreq].body_len = vt->body_len;
            nreq++;
        }
    }
    int run_failed = nreq ? rlvr_judge_client_perform(j->client, reqs, nreq) : 0;
    uint64_t write_errors = 0;
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        if (it->state != V_PENDING) continue;
        for (int v = 0; v < j->votes; v++) {
            vote *vt = &it->votes[v];
            if (vt->cached) {
                read_vote(j, vt, vt->reply, vt->reply_len);
                continue;
            }
            rlvr_judge_request *rq = &reqs[vt->req];
            if (run_failed || rq->outcome == RLVR_JUDGE_NOMEM) {
                vt->state = V_ERROR;
                vt->reason = "out of memory in the HTTP client";
                continue;
            }
            if (rq->outcome != RLVR_JUDGE_REPLY) {
                vt->state = V_ABSTAIN;
                vt->reason = rlvr_judge_outcome_reason(rq->outcome);
                snprintf(vt->why, sizeof vt->why, "%s", rq->message);
                continue;
            }
            read_vote(j, vt, rq->reply, rq->reply_len);
            if (vt->state == V_SCORE && j->cache && !vt->shared) {
                /* a server that echoed the API key has it scrubbed before the reply is kept */
                rlvr_judge_client_scrub(j->client, rq->reply);
                if (rlvr_judge_cache_put(j->cache, vt->key, rq->reply, strlen(rq->reply))) write_errors++;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        write_result(j, h, it, results[i]);
        const vote *v0 = &it->votes[0];
        if (it->state == V_PENDING && v0->req >= 0 && !v0->shared) {
            h->detail_number(results[i], "attempts", reqs[v0->req].attempts);
            if (reqs[v0->req].http_status) h->detail_number(results[i], "http_status", (double)reqs[v0->req].http_status);
        }
    }
    for (size_t i = 0; i < nreq; i++) rlvr_judge_request_clear(&reqs[i]);
    for (size_t i = 0; i < n * (size_t)j->votes; i++) {
        free(votes[i].body);
        free(votes[i].reply);
    }
    pthread_mutex_lock(&j->lock);
    j->samples += n;
    j->cache_hits += hits;
    if (write_errors && !j->cache_write_errors)
        h->log(RLVR_LOG_WARN, "judge", "the cache file could not be written; replies stay cached in memory");
    j->cache_write_errors += write_errors;
    pthread_mutex_unlock(&j->lock);
    free(items);
    free(votes);
    free(reqs);
    free(reqkeys);
    (void)call;
    return 0;
}

static const rlvr_plugin judge_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "judge",
    .version = "1.0.0",
    .description = "an LLM judge over an OpenAI-compatible chat-completions server grades the response against the reference",
    .flags = RLVR_REENTRANT | RLVR_BATCH,
    .options = judge_options,
    .n_options = N_OPTIONS,
    .create = judge_create,
    .destroy = judge_destroy,
    .score_batch = judge_score_batch,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &judge_plugin;
}
