/*
 * serve_proto.h -- the request and response formats of `rlvr serve`,
 * apart from HTTP: rlvr's batch body (JSONL or a JSON array) split into
 * sample lines, and OpenRLHF's /get_reward body turned into samples and
 * its results into {"rewards", "scores", "extra_logs"}.
 *
 * Every function here is pure (no globals, no I/O) so the protocol is
 * tested without a socket. Errors are request errors: the caller answers
 * 400 (or 413 for too many samples) with the message.
 */
#ifndef RLVR_SERVE_PROTO_H
#define RLVR_SERVE_PROTO_H

#include <stddef.h>

#include "engine.h"
#include "serve.h"
#include "util.h"

/* Sample lines of a batch body. JSONL (as rlvr score reads: a BOM, CRs and
 * blank lines are accepted; lines are numbered from 1, blanks counted) or,
 * when the body starts with '[', a JSON array of sample objects (each
 * written out as one line into `store`). *is_array tells which, so the
 * answer takes the same shape. Returns the number of lines, or -1 with
 * err (-2 when there are more than max_samples). */
typedef struct rlvr_lines {
    rlvr_line *v;
    size_t n, cap;
    rlvr_buf store;    /* lines made from a JSON array, or /get_reward's samples */
    size_t *offs;      /* while store fills: each line's offset in store */
} rlvr_lines;
void rlvr_lines_free(rlvr_lines *l);
long rlvr_batch_lines(const char *body, size_t len, size_t max_samples, rlvr_lines *out, int *is_array,
                      char *err, size_t err_len);

/* OpenRLHF's remote reward request. */
typedef struct rlvr_reward_req {
    size_t n;
    rlvr_lines lines;       /* the samples that could be made */
    size_t *index;          /* [lines.n]: the request position of line i */
    char **bad;             /* [n]: NULL, or why request item i is an error for that sample */
} rlvr_reward_req;

typedef struct rlvr_reward_opts {
    const char *const *end_tokens;   /* stripped from the end of a completion, repeatedly */
    size_t n_end_tokens;
    double abstain_value;
    const char *scores_component;    /* NULL: the reward */
    const char *const *components;   /* names for extra_logs, in order */
    size_t n_components;
} rlvr_reward_opts;

/* Parse {"query": [...], "prompts": [...], "labels": [...]} into samples:
 * the completion is the query after the first occurrence of prompts[i]
 * (the whole query when no prompts are given), with trailing end tokens
 * (and the whitespace between them) removed; labels[i] becomes `answer`,
 * or `tests` when it is (or is a string that parses as) a JSON object or a
 * list of objects. A query without its prompt is an error for that sample.
 * Consecutive samples with one prompt share a `group`. 0, or -1 with err. */
int rlvr_reward_parse(const char *body, size_t len, size_t max_samples, const rlvr_reward_opts *o,
                      rlvr_reward_req *out, char *err, size_t err_len);
void rlvr_reward_req_free(rlvr_reward_req *r);

/* Counts of one answered /get_reward request, for /metrics. */
typedef struct rlvr_reward_counts {
    size_t substituted;   /* null rewards given abstain_value */
    size_t errors;        /* samples that failed (and were substituted) */
} rlvr_reward_counts;

/* The answer: res[i] is the result of lines[i] (request item index[i]). */
void rlvr_reward_answer(const rlvr_reward_req *r, const rlvr_job_result *res, const rlvr_reward_opts *o,
                        rlvr_buf *out, rlvr_reward_counts *counts);

/* The completion of a query (for tests): the text after `prompt` (NULL:
 * the whole query) less trailing end tokens. -1 when the prompt is absent. */
int rlvr_reward_completion(const char *query, size_t qlen, const char *prompt, size_t plen,
                           const char *const *end_tokens, size_t n_end, size_t *start, size_t *end);
#endif
