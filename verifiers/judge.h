/*
 * judge.h -- the generative-judge engine: an HTTP client for OpenAI-compatible
 * chat-completions servers (libcurl multi, many requests in flight), prompt
 * templates, a reply cache and the verdict parsers.
 *
 * Four parts, each usable alone; none knows of plugins, Lua or training:
 *
 *   client   rlvr_judge_client_perform sends a set of POST requests at once
 *            through libcurl's multi interface. A concurrency cap holds across
 *            every caller of one client (several threads may perform at the
 *            same time); retries with exponential backoff and jitter follow
 *            connection errors, timeouts, 5xx, 408 and 429 (Retry-After is
 *            honoured), never other 4xx; each request has a per-attempt and a
 *            total deadline; replies are capped in size. The API key lives
 *            only in the client's header list and is wiped at free; no message
 *            the engine writes contains it or the URL.
 *   cache    replies keyed by SHA-256 of (model, request body, vote), in
 *            memory and optionally appended to a JSONL file; bounded in
 *            entries; safe from many threads.
 *   prompt   a template with {question} {reference} {response} {final_answer}
 *            placeholders ({{ and }} for literal braces) and an optional
 *            [system] section. Inserted data is length-capped (head and tail
 *            kept) and cannot close the template's delimiters: a '<' that
 *            opens or closes a tag named like a placeholder is written "&lt;".
 *   verdict  the reply's JSON is read (choices[0].message.content,
 *            finish_reason, logprobs); the verdict is read only from the
 *            judge's final answer (the content after its last </think>;
 *            reasoning_content is never read), by one of the parsers: JSON
 *            object with a key, a regex with one group, a tag, a numeric
 *            score scaled to [0, 1], or the first answer token's P(positive).
 *
 * Every function returns a status and writes a message; nothing prints,
 * exits or keeps a pointer to its caller's buffers after returning.
 */
#ifndef RLVR_JUDGE_H
#define RLVR_JUDGE_H

#include <stddef.h>
#include <stdint.h>

/* ---- client ------------------------------------------------------------------ */

typedef struct rlvr_judge_client_options {
    const char *url;            /* the full endpoint, e.g. http://host:8000/v1/chat/completions */
    const char *api_key;        /* NULL or "": no Authorization header */
    long timeout_ms;            /* one attempt */
    long connect_timeout_ms;
    long total_timeout_ms;      /* one request, all attempts and waits included */
    int max_retries;            /* attempts = 1 + retries at most */
    long backoff_ms;            /* first wait; doubles per retry, with jitter in [1/2, 1] */
    long max_backoff_ms;
    int max_concurrency;        /* requests in flight across all callers */
    size_t max_reply_bytes;     /* a longer reply is refused (RLVR_JUDGE_TOO_LARGE) */
} rlvr_judge_client_options;

void rlvr_judge_client_options_init(rlvr_judge_client_options *o);

typedef enum rlvr_judge_outcome {
    RLVR_JUDGE_REPLY = 0,        /* a 2xx reply: reply/reply_len hold its body */
    RLVR_JUDGE_TIMEOUT,          /* the last attempt timed out */
    RLVR_JUDGE_UNREACHABLE,      /* connection refused, closed, reset, DNS ... */
    RLVR_JUDGE_SERVER_ERROR,     /* 5xx after every retry */
    RLVR_JUDGE_RATE_LIMITED,     /* 429 after every retry, or a Retry-After past the deadline */
    RLVR_JUDGE_HTTP_ERROR,       /* another 4xx (never retried) or an unexpected status */
    RLVR_JUDGE_TOO_LARGE,        /* the reply exceeded max_reply_bytes */
    RLVR_JUDGE_NOMEM             /* the client itself ran out of memory */
} rlvr_judge_outcome;

/* The reason word of an outcome: "reply", "judge_timeout", "judge_unreachable",
 * "judge_server_error", "judge_rate_limited", "judge_http_error",
 * "judge_reply_too_large", "out_of_memory". */
const char *rlvr_judge_outcome_reason(rlvr_judge_outcome o);

typedef struct rlvr_judge_request {
    /* in */
    const char *body;           /* JSON request body */
    size_t body_len;
    /* out */
    rlvr_judge_outcome outcome;
    long http_status;           /* of the last attempt; 0 when none was received */
    int attempts;
    double elapsed_ms;          /* from the first attempt to the outcome */
    char *reply;                /* RLVR_JUDGE_REPLY: the body (NUL-terminated); free with rlvr_judge_request_clear */
    size_t reply_len;
    char message[200];          /* what went wrong, for details (never the key or the URL) */
} rlvr_judge_request;

void rlvr_judge_request_clear(rlvr_judge_request *r);

typedef struct rlvr_judge_client rlvr_judge_client;

/* Returns NULL with a message on a bad option or when libcurl cannot start. */
rlvr_judge_client *rlvr_judge_client_new(const rlvr_judge_client_options *o, char *err, size_t err_len);
void rlvr_judge_client_free(rlvr_judge_client *c);

/* Send n requests, up to the cap at a time, and wait for every outcome.
 * Returns 0, or -1 when the client could not run at all (out of memory);
 * each request's outcome is set either way. Safe to call from many threads. */
int rlvr_judge_client_perform(rlvr_judge_client *c, rlvr_judge_request *reqs, size_t n);

typedef struct rlvr_judge_stats {
    uint64_t requests, attempts, retries, replies;
    uint64_t timeouts, unreachable, server_errors, rate_limited, http_errors, too_large;
    int max_in_flight;          /* the most requests in flight at once so far */
} rlvr_judge_stats;

void rlvr_judge_client_stats(rlvr_judge_client *c, rlvr_judge_stats *out);

/* Replace every occurrence of secret in buf (NUL-terminated) by "***";
 * the client's form scrubs its own API key (nothing when it has none). */
void rlvr_judge_scrub(char *buf, const char *secret);
void rlvr_judge_client_scrub(const rlvr_judge_client *c, char *buf);

/* ---- cache ------------------------------------------------------------------- */

typedef struct rlvr_judge_cache rlvr_judge_cache;

/* path NULL or "": memory only. An existing file is read first (malformed
 * lines are skipped and counted in *skipped when not NULL); then new entries
 * are appended to it, one JSON line each: {"key":"<sha256 hex>","reply":"..."}. */
rlvr_judge_cache *rlvr_judge_cache_new(const char *path, size_t max_entries, size_t *skipped, char *err,
                                       size_t err_len);
void rlvr_judge_cache_free(rlvr_judge_cache *c);

/* key: 32 bytes (rlvr_judge_cache_key). get returns a malloc'd copy of the
 * reply (NUL-terminated) or NULL when absent. put copies; a full cache keeps
 * what it has. put returns 0, or -1 when the file could not be written. */
char *rlvr_judge_cache_get(rlvr_judge_cache *c, const unsigned char key[32], size_t *len);
int rlvr_judge_cache_put(rlvr_judge_cache *c, const unsigned char key[32], const char *reply, size_t len);
size_t rlvr_judge_cache_count(rlvr_judge_cache *c);

/* SHA-256 of model, '\0', body, '\0', the vote index as decimal. */
void rlvr_judge_cache_key(const char *model, const char *body, size_t body_len, int vote, unsigned char key[32]);

/* FIPS 180-4 SHA-256 of data[0..len). */
void rlvr_judge_sha256(const void *data, size_t len, unsigned char out[32]);

/* ---- prompt templates ---------------------------------------------------------- */

typedef enum rlvr_judge_field {
    RLVR_JUDGE_QUESTION = 0,
    RLVR_JUDGE_REFERENCE,
    RLVR_JUDGE_RESPONSE,
    RLVR_JUDGE_FINAL_ANSWER,
    RLVR_JUDGE_N_FIELDS
} rlvr_judge_field;

typedef struct rlvr_judge_template rlvr_judge_template;

/* Parse a template. Refuses an unknown placeholder, an unclosed brace and a
 * template that inserts neither {response} nor {final_answer}. */
rlvr_judge_template *rlvr_judge_template_parse(const char *text, size_t len, char *err, size_t err_len);
void rlvr_judge_template_free(rlvr_judge_template *t);

/* Does the template use this field? */
int rlvr_judge_template_uses(const rlvr_judge_template *t, rlvr_judge_field f);

/* Render: fields[f] (ptr, len; ptr NULL: empty) are inserted escaped and
 * capped at caps[f] bytes (0: no cap). *system (NULL when the template has
 * no [system] section) and *user are malloc'd, NUL-terminated. Returns 0, or
 * -1 when memory ran out. *truncated counts the fields that were cut. */
int rlvr_judge_template_render(const rlvr_judge_template *t, const char *const fields[RLVR_JUDGE_N_FIELDS],
                               const size_t lens[RLVR_JUDGE_N_FIELDS], const size_t caps[RLVR_JUDGE_N_FIELDS],
                               char **system, char **user, int *truncated);

/* ---- replies and verdicts -------------------------------------------------------- */

typedef struct rlvr_judge_reply {
    char *content;              /* choices[0].message.content ("" when null) */
    size_t content_len;
    char finish_reason[32];     /* "" when absent */
    int has_reasoning;          /* reasoning_content / reasoning was present (never read) */
    /* logprobs.content[]: per token its text and top alternatives */
    size_t n_tokens;
    struct rlvr_judge_token {
        char *text;
        size_t len;
        double logprob;
        size_t n_top;
        struct rlvr_judge_alt { char *text; size_t len; double logprob; } *top;
    } *tokens;
} rlvr_judge_reply;

/* Read a chat-completions body. Returns 0, or -1 with a message: malformed
 * JSON, no choices, no message. */
int rlvr_judge_reply_parse(const char *body, size_t len, rlvr_judge_reply *out, char *err, size_t err_len);
void rlvr_judge_reply_clear(rlvr_judge_reply *r);

/* The judge's final answer: the content after its last </think>. Returns -1
 * when an opened <think> is never closed (the final answer is missing). */
int rlvr_judge_final_answer(const char *content, size_t len, const char **ptr, size_t *out_len);

typedef enum rlvr_judge_verdict_kind {
    RLVR_JUDGE_V_JSON = 0,      /* the last JSON object holding `key`: a label */
    RLVR_JUDGE_V_FINAL_DECISION,/* the last "Final Decision: Yes|No" */
    RLVR_JUDGE_V_TAG,           /* the last <tag>label</tag> */
    RLVR_JUDGE_V_REGEX,         /* the last match of a regex; group 1 is a label */
    RLVR_JUDGE_V_SCORE,         /* a number (regex group 1, or the JSON key), scaled */
    RLVR_JUDGE_V_LOGPROBS       /* P(positive) of the final answer's first token */
} rlvr_judge_verdict_kind;

typedef struct rlvr_judge_parser rlvr_judge_parser;

typedef struct rlvr_judge_parser_options {
    rlvr_judge_verdict_kind kind;
    const char *key;            /* JSON: the verdict key ("correctness"); SCORE: also tried as a JSON key */
    const char *tag;            /* TAG: the tag name ("verdict") */
    const char *regex;          /* REGEX (required), SCORE (optional: replaces the built-in) */
    const char *positive;       /* labels, '|'-separated, compared case-folded and trimmed */
    const char *negative;
    double score_min, score_max;/* SCORE: the scale; outside it is unparseable */
} rlvr_judge_parser_options;

rlvr_judge_parser *rlvr_judge_parser_new(const rlvr_judge_parser_options *o, char *err, size_t err_len);
void rlvr_judge_parser_free(rlvr_judge_parser *p);

typedef enum rlvr_judge_verdict_status {
    RLVR_JUDGE_VERDICT = 0,     /* *score is set */
    RLVR_JUDGE_UNPARSEABLE = 1, /* no verdict in the final answer: why says so */
    RLVR_JUDGE_VERDICT_NOMEM = 2
} rlvr_judge_verdict_status;

/* Read the verdict from a parsed reply: *score in [0, 1] (1 positive, 0
 * negative; SCORE and LOGPROBS in between); label (at most label_len bytes)
 * gets the label or number read. */
rlvr_judge_verdict_status rlvr_judge_verdict(const rlvr_judge_parser *p, const rlvr_judge_reply *reply,
                                             double *score, char *label, size_t label_len, char *why,
                                             size_t why_len);

#endif
