/*
 * math_verifier.h -- the math verifier: is a model's final answer equal to
 * the gold answer?
 *
 * rlvr_math_verify takes the gold answer and the model's completion as text,
 * extracts the final answer from each (the gold goes through the same path,
 * and is taken whole when it has no box or anchor), normalises the LaTeX,
 * parses both into expressions and decides equivalence: exact rationals
 * first, then numbers within a tolerance, then expressions evaluated at
 * seeded random points, and the structured kinds (sets, tuples, intervals,
 * matrices, equations, multiple choice) element by element.
 *
 * Contract:
 *   - It never exits, never writes to stdout or stderr, never reads past the
 *     lengths given, and is reentrant (all state lives in the call).
 *   - Every check is bounded: input sizes, nesting depth, number sizes and
 *     the work of evaluation all have caps (rlvr_math_options), so no input
 *     can hang it or take unbounded memory.
 *   - Zero versus abstain (DESIGN.md): a prediction with no answer, an
 *     unparseable prediction, a prediction over the cost bound and a hedge
 *     all score 0 with their reason; only a gold answer that is missing,
 *     unparseable or over the bound abstains.
 *   - The verdict says why: the extracted answers, their normalised forms,
 *     the rule that decided or the reason it could not.
 *   - Deterministic: the random points are drawn from options->seed, so the
 *     same inputs and options give the same verdict on every run.
 */
#ifndef RLVR_MATH_H
#define RLVR_MATH_H
#include <stddef.h>
#include <stdint.h>

/* How a check ended. */
typedef enum rlvr_math_status {
    RLVR_MATH_EQUAL = 0,        /* score 1 */
    RLVR_MATH_NOT_EQUAL,        /* score 0: answers differ */
    RLVR_MATH_NO_ANSWER,        /* score 0: no answer found in the prediction */
    RLVR_MATH_PRED_INVALID,     /* score 0: the prediction's answer does not parse */
    RLVR_MATH_PRED_TOO_COSTLY,  /* score 0: the prediction is over the cost bound */
    RLVR_MATH_HEDGE,            /* score 0: several different answers offered */
    RLVR_MATH_GOLD_INVALID,     /* abstain: gold missing or unparseable */
    RLVR_MATH_GOLD_TOO_COSTLY,  /* abstain: gold over the cost bound */
    RLVR_MATH_UNDECIDED,        /* score 0: too few valid random points to
                                   tell (the prediction is accountable) */
    RLVR_MATH_ECHO              /* score 0: the answer is the question's own
                                   expression, echoed back (needs the prompt) */
} rlvr_math_status;

/* Percentages: how "10%" compares with a plain number. */
typedef enum rlvr_math_percent {
    RLVR_MATH_PERCENT_BOTH = 0, /* 10% equals 0.1 and 10 */
    RLVR_MATH_PERCENT_FRACTION, /* 10% equals 0.1 only */
    RLVR_MATH_PERCENT_STRIP     /* 10% equals 10 only (the sign is dropped) */
} rlvr_math_percent;

#define RLVR_MATH_EXTRACT_CAP 128

/* Options. rlvr_math_options_init sets the defaults given in brackets; the
 * `math` plugin exposes each field as a configuration key of the same name. */
typedef struct rlvr_math_options {
    /* Extraction. `extract` is the order in which places are tried for the
     * prediction's answer, separated by ',' (tried in turn) or '+' (tried
     * together, the one latest in the text first), from:
     *   tag           the last <answer>...</answer> (a box inside wins)
     *   boxed         the last \boxed{} / \fbox{} (boxes joined by "and" or
     *                 commas count as one list answer; a box repeating an
     *                 earlier one's answer, by text or by equivalence, is
     *                 the same answer; different boxes joined by "or" are
     *                 alternatives: a hedge, never a list)
     *   final_answer  "final answer is X" / "Final Answer: X" (Minerva)
     *   answer        "answer: X", "the answer is X" (and a few languages)
     *   gsm8k         "#### X"
     *   whole         the whole text, when all of it parses as an answer
     *   latex         the last LaTeX span ($..$, $$..$$, \(..\), \[..\])
     *                 that parses (earlier spans are tried next)
     *   number        the last number in the text
     * ["tag,boxed+final_answer+gsm8k,answer,whole,latex+number"]. The gold
     * answer goes through the same anchors (tag, boxed, final_answer,
     * answer, gsm8k) and is otherwise taken whole. */
    char extract[RLVR_MATH_EXTRACT_CAP];
    char think_delimiter[32];   /* only the text after the last one is read
                                   when present; "" reads everything ["</think>"] */
    int require_think_end;      /* 1: a prediction without think_delimiter
                                   has no answer (TRL's reasoning reward) [0] */
    char choices[32];           /* multiple choice: the option letters (for
                                   example "ABCD"); both sides are read as a
                                   letter; "" for free answers [""] */
    int decimal_comma;          /* 1: "2,74" is 2.74 where a comma is not a
                                   thousands separator [0] */

    /* Equivalence. */
    double rel_tol;             /* relative tolerance between two inexact
                                   values (irrationals, random points) [1e-9] */
    int float_rounding;         /* a decimal written with at least this many
                                   places equals an exact value it rounds to
                                   (1/3 ~ 0.333333); -1: never [6] */
    int equation_rhs;           /* 1: "x = 5" equals "5" (a named left side
                                   is dropped) [1] */
    rlvr_math_percent percent;  /* [BOTH] */
    int unordered_lists;        /* 1: bare lists "1, 2, 3" compare as sets;
                                   0: in order [1] */
    int allow_set_relation_comp;/* 1: a gold interval equals the same set
                                   written as inequalities (a gold
                                   inequality always accepts an interval) [1] */
    int strict;                 /* 1: variable names matter (f(x) is not
                                   f(y)); 0: one variable on each side may
                                   stand for the other [1] */
    int hedge;                  /* 1: a list of several values that contains
                                   a single gold value is a hedge (0, reason
                                   "hedge"), and so are different boxed
                                   answers joined by "or" whatever the gold;
                                   0: plain not_equal [1] */

    /* Cost bounds: over them the prediction scores 0 (pred_too_costly) and
     * the gold abstains (gold_too_costly). */
    size_t max_input_bytes;     /* completions longer than this [8 MiB] */
    size_t max_answer_bytes;    /* extracted answers longer than this [4096] */
    int max_depth;              /* nesting of the parsed answer [100] */
    int max_nodes;              /* expression nodes per answer [4096] */
    int max_number_bits;        /* size of an exact number (exponents and
                                   factorials that would exceed it) [8192] */
    int max_elements;           /* elements of a set, tuple or matrix [256] */
    int eval_points;            /* random points for expressions [8] */
    int min_valid_points;       /* valid points needed to decide [4] */
    uint64_t seed;              /* of the random points [0x5eed] */
} rlvr_math_options;

/* The outcome of one check. Text fields are NUL-terminated and truncated to
 * their capacity. */
#define RLVR_MATH_TEXT_CAP 256
typedef struct rlvr_math_verdict {
    rlvr_math_status status;
    double score;              /* 1 for EQUAL, else 0 (meaningless when abstaining) */
    int abstain;               /* 1 for GOLD_INVALID and GOLD_TOO_COSTLY */
    const char *reason;        /* static snake_case code: the status name
                                  (rlvr_math_status_name) */
    const char *rule;          /* static: what decided, e.g. "rational",
                                  "rounded", "numeric", "symbolic", "set",
                                  "tuple", "interval", "matrix", "equation",
                                  "inequality", "choice", "string"; "" when
                                  nothing compared */
    const char *pred_source;   /* static: where the prediction's answer came
                                  from: "tag", "boxed", "final_answer",
                                  "answer", "gsm8k", "whole", "latex",
                                  "number", "choice", "" (none) */
    const char *gold_source;   /* the same for the gold answer */
    char pred_extracted[RLVR_MATH_TEXT_CAP];
    char gold_extracted[RLVR_MATH_TEXT_CAP];
    char pred_normalised[RLVR_MATH_TEXT_CAP];
    char gold_normalised[RLVR_MATH_TEXT_CAP];
    char message[RLVR_MATH_TEXT_CAP]; /* a readable sentence on the outcome */
} rlvr_math_verdict;

/* Set o to the defaults. */
void rlvr_math_options_init(rlvr_math_options *o);

/* Check o->extract (and the other fields) for consistency. Returns 0, or -1
 * with a sentence in err (at most err_len bytes). rlvr_math_verify treats
 * an unknown place in `extract` as absent; callers that take options from
 * users check them here first. */
int rlvr_math_options_check(const rlvr_math_options *o, char *err, size_t err_len);

/* Check pred[0..pred_len) (a completion or a bare answer) against
 * gold[0..gold_len). o may be NULL for the defaults. Fills v. Returns 0, or
 * -1 only when memory ran out (v->message says so); every other outcome,
 * including hostile input, is a status in v. */
int rlvr_math_verify(const char *gold, size_t gold_len, const char *pred, size_t pred_len,
                     const rlvr_math_options *o, rlvr_math_verdict *v);

/* The same, with the question: an answer equal to the gold only because it
 * repeats an expression of the prompt verbatim (an unsimplified echo such as
 * "2+3" for "Compute 2+3") scores 0 with status ECHO. prompt may be NULL. */
int rlvr_math_verify_prompt(const char *gold, size_t gold_len, const char *pred, size_t pred_len,
                            const char *prompt, size_t prompt_len,
                            const rlvr_math_options *o, rlvr_math_verdict *v);

/* The snake_case name of a status ("equal", "not_equal", ...). */
const char *rlvr_math_status_name(rlvr_math_status s);
#endif
