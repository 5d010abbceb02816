/*
 * rollout.h -- what `rlvr train` and `rlvr eval` share: problems read from
 * JSONL and put in a prompt template, completions sampled from the policy,
 * and those completions scored with a reward mix while generation goes on.
 *
 * A problem is one JSONL object with a "prompt" (text, or a list of chat
 * messages) and any other fields (answer, tests, language, id...), which
 * are carried into each of its samples, so the mix's plugins read them as
 * they would from `rlvr score`. A completion's text is its tokens decoded
 * without the stop token, cut where a stop string began, with invalid UTF-8
 * replaced by U+FFFD (a model that emits broken bytes is scored, not
 * dropped).
 *
 * The scorer owns a mix and an engine, and a thread of its own: chunks of
 * completions are handed to it as soon as they are generated and scored
 * while the next chunk is sampled; rlvr_scoring_wait returns when all are
 * done. Every completion ends with a reward (or null) and one value and
 * status per mix entry.
 */
#ifndef RLVR_ROLLOUT_H
#define RLVR_ROLLOUT_H

#include <json-c/json.h>
#include <stdio.h>

#include "generate.h"
#include "policy.h"
#include "registry.h"

/* ---- prompts ---------------------------------------------------------------------- */

/* How a problem's prompt becomes tokens. template_text holds "{prompt}",
 * which is replaced by the problem's prompt text; chatml wraps the result as
 * a user turn after an optional system turn. A problem whose prompt is a
 * list of messages always goes through ChatML, unchanged by the template. */
struct rlvr_prompt_format {
    const char *template_text;   /* NULL: "{prompt}" */
    int chatml;
    const char *system_prompt;   /* NULL: none (ChatML only) */
};

/* The text of a shipped template or system prompt by name ("plain",
 * "r1_zero"; "r1"), or NULL when `name` is not one. */
const char *rlvr_prompt_template_named(const char *name);
const char *rlvr_system_prompt_named(const char *name);

struct rlvr_problem {
    rlvr_tok_ids ids;            /* the prompt's tokens */
    json_object *fields;         /* the JSONL object (owned) */
    char *id;                    /* "id" as text, else "LINE" */
    long line;
};

struct rlvr_problem_set {
    struct rlvr_problem *v;
    size_t n;
    long skipped;                /* lines reported and left out */
};

/* Reads path. A line that is not an object, has no usable "prompt", or whose
 * prompt takes more than max_prompt_tokens (0: no limit) is reported on
 * `warn` as "PATH:LINE: reason" and skipped. Returns 0, or -1 with a message
 * (the file cannot be read, out of memory). */
int rlvr_problems_load(const char *path, const struct rlvr_policy *p, const struct rlvr_prompt_format *f,
                       int max_prompt_tokens, FILE *warn, const char *who, struct rlvr_problem_set *out,
                       char *err, size_t err_len);
void rlvr_problems_free(struct rlvr_problem_set *s);

/* Encodes one prompt (a JSON string or message list) under f. */
int rlvr_prompt_encode(const struct rlvr_policy *p, const struct rlvr_prompt_format *f, json_object *prompt,
                       rlvr_tok_ids *out, char *err, size_t err_len);

/* ---- completions ------------------------------------------------------------------ */

enum rlvr_component_status { RLVR_COMP_OK = 0, RLVR_COMP_ABSTAIN, RLVR_COMP_ERROR, RLVR_COMP_ABSENT };

struct rlvr_completion {
    struct rlvr_gen_sequence seq;   /* tokens (stop token included), logprobs, finish */
    const struct rlvr_problem *problem;
    int sample;                  /* 0..G-1 within its group */
    int group;                   /* the group's index in the rollout */
    char *text;                  /* decoded completion (NUL-terminated, owned) */
    size_t text_len;
    char *line;                  /* the sample as a JSONL line, for scoring (owned) */
    size_t line_len;
    /* after scoring: */
    double reward;               /* NaN when null */
    int failed;                  /* a parse error or a component error */
    double *comp;                /* [n_components]: the value, NaN when not OK */
    uint8_t *comp_status;        /* [n_components]: enum rlvr_component_status */
    char *result;                /* the result line (owned) */
};

/* Builds c->text and c->line from c->seq and the problem's fields. */
int rlvr_completion_finish(struct rlvr_completion *c, const struct rlvr_policy *p, char *err, size_t err_len);
void rlvr_completions_free(struct rlvr_completion *c, size_t n);

/* ---- scoring ---------------------------------------------------------------------- */

typedef struct rlvr_scoring rlvr_scoring;

/* A scorer for the mix file at mix_path, loaded from reg (which must outlive
 * it), with `threads` threads for plugins (counting the scorer's own). */
rlvr_scoring *rlvr_scoring_new(const char *mix_path, rlvr_registry *reg, int threads, char *err,
                             size_t err_len);
void rlvr_scoring_free(rlvr_scoring *s);
size_t rlvr_scoring_components(const rlvr_scoring *s);
const char *rlvr_scoring_component_name(const rlvr_scoring *s, size_t i);
/* Index of the component named `name`, or -1. */
int rlvr_scoring_component_index(const rlvr_scoring *s, const char *name);
/* The training step the mix sees (weight schedules). Not while scoring. */
int rlvr_scoring_set_step(rlvr_scoring *s, long step, char *err, size_t err_len);

/* Queues c[0..n) (finished with rlvr_completion_finish, whole groups) for
 * scoring on the scorer's thread; returns at once. */
int rlvr_scoring_submit(rlvr_scoring *s, struct rlvr_completion *c, size_t n, char *err, size_t err_len);
/* Waits until everything submitted is scored. -1 with a message when
 * scoring could not run at all (out of memory); a sample's own failure is
 * in its fields, not here. *seconds (may be NULL) gets the time spent
 * scoring since the last wait. */
int rlvr_scoring_wait(rlvr_scoring *s, double *seconds, char *err, size_t err_len);

/* ---- sampling a set of problems ---------------------------------------------------- */

/* Samples G completions for each of problems[0..n) (pointers into a problem
 * set), chunk_prompts prompts at a time, finishing each chunk's completions
 * and handing them to the scorer (when not NULL) before sampling the next.
 * Sample g of problem i draws from the random stream (stream_base + i) * G
 * + g of s->seed. out[n * G] receives them; group = i. Does not wait for the
 * scorer. A prompt that cannot be generated fails the call. */
int rlvr_rollout(struct rlvr_policy *p, const struct rlvr_sampling *s, struct rlvr_problem *const *problems,
                 size_t n, int G, uint64_t stream_base, int chunk_prompts, rlvr_scoring *scorer,
                 struct rlvr_completion *out, struct rlvr_gen_stats *stats, char *err, size_t err_len);

#endif
