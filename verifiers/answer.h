/*
 * answer.h -- locating the final answer inside a model completion.
 *
 * rlvr_answer_find looks, in order of preference, for the last
 * <answer>...</answer> block, then the last \boxed{...} or \fbox{...} (braces
 * balanced, `\boxed 5` accepted), in the text after the last </think> when
 * there is one. It never allocates and never reads past len; nesting depth
 * is bounded, so no input can make it slow (one pass per rule).
 */
#ifndef RLVR_ANSWER_H
#define RLVR_ANSWER_H
#include <stddef.h>

typedef enum rlvr_answer_rule {
    RLVR_ANSWER_NONE = 0,
    RLVR_ANSWER_TAG,    /* <answer>...</answer> */
    RLVR_ANSWER_BOXED,  /* \boxed{...} or \fbox{...} */
    RLVR_ANSWER_WHOLE   /* the whole (trimmed) text */
} rlvr_answer_rule;

typedef struct rlvr_answer_span {
    const char *ptr;       /* into the input; not NUL-terminated */
    size_t len;
    rlvr_answer_rule rule;
} rlvr_answer_span;

/* Find the answer in text[0..len). With whole_fallback, a text with no tag
 * or box is taken whole (trimmed): the rule for gold answers. Returns the
 * rule used (RLVR_ANSWER_NONE: nothing found). */
rlvr_answer_rule rlvr_answer_find(const char *text, size_t len, int whole_fallback,
                                  rlvr_answer_span *out);

/* The name of a rule, for details ("tag", "boxed", "whole", "none"). */
const char *rlvr_answer_rule_name(rlvr_answer_rule rule);

/* Trim ASCII and Unicode-agnostic whitespace (space, \t, \r, \n, \v, \f). */
void rlvr_answer_trim(const char **ptr, size_t *len);
#endif
