/*
 * rm.h -- the reward-model engine: request bodies and reply readers for the
 * scoring endpoints of reward-model servers, an input template, input caps
 * and score normalisation. The HTTP client and the reply cache are the
 * judge engine's (judge.h); this file knows only what goes into a request
 * and what comes out of a reply.
 *
 * APIs, with the shapes their servers document:
 *
 *   tei_predict    text-embeddings-inference, POST /predict (sequence
 *                  classification). Body {"inputs": [[a, b], ...]} for
 *                  pairs or {"inputs": [t, ...]} for texts, plus
 *                  "raw_scores" and "truncate"; reply: per input a list of
 *                  {"label", "score"} (sorted by score: read by label name).
 *                  TEI reads a two-string list as ONE pair, so a batch of
 *                  exactly two texts is refused here; callers send it as two
 *                  requests (rlvr_rm_max_texts_ok).
 *   tei_rerank     text-embeddings-inference, POST /rerank. Body {"query",
 *                  "texts": [...], "raw_scores", "truncate"}; reply
 *                  [{"index", "score"}, ...] in score order: placed by index.
 *                  Every input of one request shares its query.
 *   vllm_pooling   vLLM, POST /pooling (reward models, `--task reward` or
 *                  `--runner pooling`). Body {"model", "input": [t, ...]};
 *                  reply {"data": [{"index", "data": X}]}: X is a number, a
 *                  list of per-token rewards, or per-token vectors.
 *   vllm_classify  vLLM, POST /classify. Body {"model", "input": [...]};
 *                  reply {"data": [{"index", "label", "probs": [...]}]}.
 *   vllm_score     vLLM, POST /score (cross-encoders). Body {"model",
 *                  "text_1": [q, ...], "text_2": [t, ...]} (paired one to
 *                  one); reply {"data": [{"index", "score"}]}.
 *
 * Invariants: a reply is believed only when it holds exactly one score per
 * input, each index once, every score a finite number; anything else is
 * refused with a message (never a partial guess). Request bodies are built
 * with json-c, so any input text (quotes, control characters, embedded NULs)
 * is escaped. Nothing here prints, exits, or keeps a caller's pointer.
 */
#ifndef RLVR_RM_H
#define RLVR_RM_H

#include <stddef.h>

typedef enum rlvr_rm_api {
    RLVR_RM_TEI_PREDICT = 0,
    RLVR_RM_TEI_RERANK,
    RLVR_RM_VLLM_POOLING,
    RLVR_RM_VLLM_CLASSIFY,
    RLVR_RM_VLLM_SCORE,
    RLVR_RM_N_APIS
} rlvr_rm_api;

/* "tei_predict" ... ; -1 when unknown. */
int rlvr_rm_api_from_name(const char *name, rlvr_rm_api *out);
const char *rlvr_rm_api_name(rlvr_rm_api api);
/* The endpoint's path, appended to the base URL: "/predict", "/rerank",
 * "/pooling", "/classify", "/score". */
const char *rlvr_rm_api_path(rlvr_rm_api api);
/* Does the API take (query, text) pairs? single texts? */
int rlvr_rm_api_takes_pairs(rlvr_rm_api api);
int rlvr_rm_api_takes_texts(rlvr_rm_api api);
/* Does it need a query for every input (rerank, score)? */
int rlvr_rm_api_needs_query(rlvr_rm_api api);
/* Is one request of n inputs of this shape unambiguous? (tei_predict reads
 * two texts as one pair: 0 for n == 2 texts.) */
int rlvr_rm_request_size_ok(rlvr_rm_api api, int pairs, size_t n);

/* One input: text, and query (NULL when the API reads a single text). */
typedef struct rlvr_rm_input {
    const char *query;
    size_t query_len;
    const char *text;
    size_t text_len;
} rlvr_rm_input;

typedef struct rlvr_rm_request_options {
    rlvr_rm_api api;
    const char *model;          /* vLLM: sent as "model" ("" or NULL: not sent) */
    int raw_scores;             /* TEI: ask for logits instead of probabilities */
    int truncate;               /* TEI: let the server truncate over-long inputs */
    const char *extra_json;     /* NULL or a JSON object whose fields are added to the body */
} rlvr_rm_request_options;

/* Build one request body for n >= 1 inputs. Returns 0 with *body malloc'd
 * (NUL-terminated), or -1 with a message (inputs of mixed shape, a rerank
 * batch with two queries, a bad extra_json, out of memory). */
int rlvr_rm_build_request(const rlvr_rm_request_options *o, const rlvr_rm_input *in, size_t n, char **body,
                          size_t *body_len, char *err, size_t err_len);

/* Which class (or vector element) is the reward. */
typedef struct rlvr_rm_label {
    int has_index;              /* index >= 0 given */
    long index;
    char name[128];             /* "" when none */
} rlvr_rm_label;

/* "" (none), an index ("1"), or a class name ("LABEL_1", "positive").
 * Returns -1 with a message when too long. */
int rlvr_rm_label_parse(const char *s, rlvr_rm_label *out, char *err, size_t err_len);

typedef struct rlvr_rm_score {
    int ok;                     /* 1: raw is set */
    double raw;
    char why[160];              /* ok == 0: why this input has no score */
} rlvr_rm_score;

typedef enum rlvr_rm_reply_status {
    RLVR_RM_REPLY_OK = 0,       /* out[0..n) set (each may still be !ok: no such label) */
    RLVR_RM_REPLY_BAD = 1,      /* not the documented shape, a non-finite score, a duplicate index */
    RLVR_RM_REPLY_COUNT = 2,    /* a different number of scores than inputs */
    RLVR_RM_REPLY_NOMEM = 3
} rlvr_rm_reply_status;

/* Read a reply to a request of n inputs. */
rlvr_rm_reply_status rlvr_rm_parse_reply(rlvr_rm_api api, const rlvr_rm_label *label, const char *body, size_t len,
                                         size_t n, rlvr_rm_score *out, char *err, size_t err_len);

/* ---- input formatting ------------------------------------------------------------------ */

typedef struct rlvr_rm_template rlvr_rm_template;

/* {prompt} and {completion} placeholders, {{ and }} for literal braces.
 * Refuses an unknown placeholder, an unclosed brace, and a template without
 * {completion}. */
rlvr_rm_template *rlvr_rm_template_parse(const char *text, size_t len, char *err, size_t err_len);
void rlvr_rm_template_free(rlvr_rm_template *t);
int rlvr_rm_template_uses_prompt(const rlvr_rm_template *t);
/* Render into a malloc'd NUL-terminated string (inserted text verbatim,
 * embedded NULs kept). Returns NULL when memory ran out. */
char *rlvr_rm_template_render(const rlvr_rm_template *t, const char *prompt, size_t prompt_len,
                              const char *completion, size_t completion_len, size_t *out_len);

/* Cap text at max_chars code points (0: no cap): a longer text keeps its
 * first and last halves, joined by "\n...\n". *out points into text when
 * nothing was cut (*buf NULL), else at *buf (malloc'd). *cut is the number
 * of code points removed. Returns -1 when memory ran out. */
int rlvr_rm_cap(const char *text, size_t len, size_t max_chars, const char **out, size_t *out_len, char **buf,
                size_t *cut);

/* ---- normalisation ------------------------------------------------------------------------ */

typedef enum rlvr_rm_norm { RLVR_RM_NORM_NONE = 0, RLVR_RM_NORM_SIGMOID, RLVR_RM_NORM_MINMAX } rlvr_rm_norm;

/* none: raw; sigmoid: 1 / (1 + e^-raw), computed without overflow; minmax:
 * (raw - lo) / (hi - lo) (hi > lo). clamp: into [0, 1]. */
double rlvr_rm_normalize(rlvr_rm_norm norm, double raw, double lo, double hi, int clamp);

#endif
