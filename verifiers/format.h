/*
 * format.h -- the format engine: is a completion in the DeepSeek-R1 shape?
 *
 * Two templates are checked. R1-Zero's: reasoning in <think>...</think>,
 * then the answer in <answer>...</answer>, and nothing else but whitespace.
 * R1's readable pattern: reasoning in <think>...</think>, then a non-empty
 * summary. The text is normalised first, without copying it: leading
 * whitespace (the space an "...Assistant:" template leaves), trailing stop
 * tokens (<|im_end|>, <|endoftext|>, ...) with the whitespace around them,
 * CRLF read as LF, and a pre-filled <think> (R1-Distill and Qwen3 chat
 * templates end the prompt with it, so the completion starts inside the
 * think block).
 *
 * Tags are exact byte strings: <think>, </think>, <answer>, </answer>.
 * <THINK>, <think >, &lt;think&gt; and <thinking> are text. The rule is
 * "exactly one of each tag, in order, whitespace only around them", stated
 * over the positions of every tag occurrence, which one linear scan finds;
 * no regular expression is involved, so no input is slow.
 *
 * Invariants: rlvr_format_check reads only text[0..len) (NUL bytes are
 * text), never allocates, runs in time linear in len (plus the stop-token
 * list times the number of stop tokens stripped), and every span it returns
 * points into the caller's buffer. The user-configured patterns
 * (rlvr_format_regex) are PCRE2, compiled once, run under match, depth and
 * heap limits; a compiled pattern may be matched from many threads at once.
 */
#ifndef RLVR_FORMAT_H
#define RLVR_FORMAT_H
#include <stddef.h>
#include <stdint.h>

typedef enum rlvr_format_template {
    RLVR_FORMAT_R1_ZERO = 0, /* <think>..</think> <answer>..</answer> */
    RLVR_FORMAT_R1 = 1       /* <think>..</think> summary */
} rlvr_format_template;

typedef enum rlvr_format_prefill {
    RLVR_FORMAT_PREFILL_NO = 0,   /* the completion must open <think> itself */
    RLVR_FORMAT_PREFILL_YES = 1,  /* <think> was in the prompt: the completion starts inside */
    RLVR_FORMAT_PREFILL_AUTO = 2  /* pre-filled unless the completion opens with <think> */
} rlvr_format_prefill;

/* Why a completion passed or failed. Names (rlvr_format_reason_name) are
 * the reason codes the plugin reports. */
typedef enum rlvr_format_reason {
    RLVR_FMT_OK = 0,
    RLVR_FMT_EMPTY,               /* nothing but whitespace (after normalisation) */
    RLVR_FMT_NO_THINK_OPEN,       /* no <think> and no pre-fill */
    RLVR_FMT_TEXT_BEFORE_THINK,   /* non-whitespace before <think> */
    RLVR_FMT_NESTED_THINK,        /* a second <think> before the first </think> */
    RLVR_FMT_NO_THINK_CLOSE,      /* the think block is never closed */
    RLVR_FMT_REPEATED_THINK,      /* a second <think> or </think> after the first </think> */
    RLVR_FMT_ANSWER_INSIDE_THINK, /* <answer> or </answer> inside the think block */
    RLVR_FMT_EMPTY_THINK,         /* the think block holds only whitespace */
    RLVR_FMT_NO_ANSWER_OPEN,      /* no <answer> after </think> */
    RLVR_FMT_TEXT_BEFORE_ANSWER,  /* non-whitespace between </think> and <answer> */
    RLVR_FMT_NESTED_ANSWER,       /* a second <answer> before the first </answer> */
    RLVR_FMT_NO_ANSWER_CLOSE,     /* the answer block is never closed */
    RLVR_FMT_REPEATED_ANSWER,     /* a second <answer> or </answer> after the first </answer> */
    RLVR_FMT_EMPTY_ANSWER,        /* the answer block holds only whitespace */
    RLVR_FMT_TEXT_AFTER_ANSWER,   /* non-whitespace after </answer> */
    RLVR_FMT_EMPTY_SUMMARY,       /* R1 template: nothing but whitespace after </think> */
    RLVR_FMT_MISSING_NEWLINE,     /* strict newlines: a tag without open-r1's newline */
    RLVR_FMT_N_REASONS
} rlvr_format_reason;

/* A string with a length (stop tokens). */
typedef struct rlvr_format_str {
    const char *ptr;
    size_t len;
} rlvr_format_str;

typedef struct rlvr_format_opts {
    rlvr_format_template tmpl;
    rlvr_format_prefill prefill;
    int strict_newlines;           /* open-r1's form: <think>\n..\n</think>\n<answer>\n..\n</answer> */
    int allow_text_after_answer;   /* plain text after </answer> (tags there still fail) */
    int allow_empty_think;
    int allow_answer_inside_think; /* answer tags inside the think block are then text */
    int allow_empty_answer;
    const rlvr_format_str *stop_tokens; /* stripped from the end, repeatedly */
    size_t n_stop_tokens;
} rlvr_format_opts;

/* The defaults: R1-Zero, no pre-fill, whitespace-tolerant, everything
 * rejected, no stop tokens (the plugin's default list is in its options). */
void rlvr_format_opts_default(rlvr_format_opts *o);

/* What normalisation did: the text is [begin, end) of the input. */
typedef struct rlvr_format_view {
    const char *begin, *end;
    int prefilled;               /* the <think> was taken as pre-filled */
    size_t stop_tokens_stripped;
    size_t leading_ws;           /* bytes of leading whitespace dropped */
} rlvr_format_view;

typedef struct rlvr_format_result {
    rlvr_format_reason reason;
    const char *tag;        /* the tag the reason is about, or NULL */
    const char *policy;     /* on a failure: the option that rejected it, or NULL */
    unsigned allowed;       /* RLVR_FMT_ALLOWED_* bits: what an allow policy let pass */
    size_t offset;          /* byte offset in the input of the fault; SIZE_MAX when none */
    const char *think;      /* the think block's content (between the tags), or NULL */
    size_t think_len;
    const char *answer;     /* the answer block's content (R1-Zero) or summary (R1), or NULL */
    size_t answer_len;
    unsigned tags_expected; /* tags the completion itself should hold (3 or 4; 1 or 2 for R1) */
    unsigned tags_once;     /* of those, how many occur exactly once (partial credit) */
    rlvr_format_view view;
} rlvr_format_result;

/* Bits of rlvr_format_result.allowed; rlvr_format_allowed_name names them
 * after their options. */
#define RLVR_FMT_ALLOWED_ANSWER_INSIDE_THINK (1u << 0)
#define RLVR_FMT_ALLOWED_EMPTY_THINK (1u << 1)
#define RLVR_FMT_ALLOWED_EMPTY_ANSWER (1u << 2)
#define RLVR_FMT_ALLOWED_TEXT_AFTER_ANSWER (1u << 3)
#define RLVR_FMT_ALLOWED_N 4
const char *rlvr_format_allowed_name(unsigned bit_index);

/* Check text[0..len) against the options. Fills *out; returns out->reason. */
rlvr_format_reason rlvr_format_check(const char *text, size_t len, const rlvr_format_opts *o,
                                     rlvr_format_result *out);

/* The reason code ("ok", "no_think_open", ...); "unknown" out of range. */
const char *rlvr_format_reason_name(rlvr_format_reason r);

/* Normalise only (the first step of rlvr_format_check). */
void rlvr_format_normalise(const char *text, size_t len, const rlvr_format_opts *o,
                           rlvr_format_view *out);

/* The first look-alike of a tag in text[0..len) (<THINK>, <think >,
 * &lt;think&gt;, <Answer>, ...: a tag name in any case after '<', '</',
 * '&lt;' or '&lt;/' that is not an exact tag), for diagnostics. Returns its
 * offset and sets *n to a short length to quote, or SIZE_MAX when none. */
size_t rlvr_format_lookalike(const char *text, size_t len, size_t *n);

/* ---- open-r1's tag_count --------------------------------------------------- */

/* The four strings open-r1's tag_count_reward counts. */
#define RLVR_TAG_COUNT_N 4
extern const char *const rlvr_tag_count_strings[RLVR_TAG_COUNT_N];

/* Non-overlapping occurrences (as Python's str.count) of "<think>\n",
 * "\n</think>\n", "\n<answer>\n" and "\n</answer>" in text[0..len). */
void rlvr_tag_count(const char *text, size_t len, size_t counts[RLVR_TAG_COUNT_N]);

/* The normalised text as a copy, for counting: leading whitespace and
 * trailing stop tokens dropped, CRLF turned into LF, and "<think>\n"
 * prepended when the <think> is taken as pre-filled. dst must hold len + 8
 * bytes; returns the length written. *prefilled is set as in the view. */
size_t rlvr_format_normalise_copy(const char *text, size_t len, const rlvr_format_opts *o,
                                  char *dst, int *prefilled);

/* ---- user-configured patterns (PCRE2) -------------------------------------- */

typedef struct rlvr_format_regex rlvr_format_regex;

/* Compile pattern[0..len) (UTF-8, Unicode properties). The limits bound one
 * match: match_limit (calls of the matcher's internal function), depth_limit
 * (backtracking depth; the JIT's stack plays that part when JIT is used, and
 * a match that overflows it is retried by the interpreter under the depth
 * limit), heap_limit_kib. Returns NULL with a message in err on a bad
 * pattern or no memory. */
rlvr_format_regex *rlvr_format_regex_new(const char *pattern, size_t len, uint32_t match_limit,
                                         uint32_t depth_limit, uint32_t heap_limit_kib,
                                         char *err, size_t err_len);
void rlvr_format_regex_free(rlvr_format_regex *re);

typedef enum rlvr_format_match {
    RLVR_FORMAT_NOMATCH = 0,
    RLVR_FORMAT_MATCH = 1,
    RLVR_FORMAT_LIMIT = 2,   /* a limit was reached: the subject costs too much */
    RLVR_FORMAT_FAILED = 3   /* no memory, invalid UTF-8, another PCRE2 error: see err */
} rlvr_format_match;

/* Match subject[0..len) anywhere (anchor in the pattern). Thread-safe. */
rlvr_format_match rlvr_format_regex_match(const rlvr_format_regex *re, const char *subject,
                                          size_t len, char *err, size_t err_len);

/* Parse a JSON list of strings (the stop_tokens option) into *out (an array
 * of n strings, and the bytes they point at, in one allocation: free(*out)).
 * Returns 0, or -1 with a message in err. */
int rlvr_format_parse_string_list(const char *json, size_t len, rlvr_format_str **out, size_t *n,
                                  char *err, size_t err_len);
#endif
