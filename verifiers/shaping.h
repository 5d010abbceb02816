/*
 * shaping.h -- the scanners and formulas behind rlvr's shaping rewards
 * (`length`, `cosine`, `repetition_penalty`, `soft_overlong_punishment`,
 * `reasoning_steps`).
 *
 * Plain C over UTF-8 text given as pointer and length (NUL bytes are
 * ordinary characters). The text is assumed to be valid UTF-8 (the host
 * refuses anything else before a plugin sees it); on invalid bytes the
 * functions still terminate and stay in bounds, counting each bad byte as
 * one character. Every function runs in time linear in the text (times the
 * n-gram size for the repetition count) and allocates only in
 * rlvr_shaping_repetition, O(words), freed before it returns. Nothing here
 * keeps state between calls, so every function is safe to call from many
 * threads at once.
 */
#ifndef RLVR_SHAPING_H
#define RLVR_SHAPING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Characters (Unicode code points) in s[0..n): what Python's len() counts. */
size_t rlvr_shaping_chars(const char *s, size_t n);

/* The unit a length is measured in (length and cosine). */
typedef enum rlvr_shaping_unit {
    RLVR_SHAPING_UNIT_CHARS = 0,  /* code points, as open-r1's len(content) */
    RLVR_SHAPING_UNIT_TOKENS = 1, /* the sample's completion_tokens */
    RLVR_SHAPING_UNIT_BYTES = 2   /* UTF-8 bytes */
} rlvr_shaping_unit;

/* The length of s[0..n) in unit; tokens is the sample's completion_tokens
 * (negative when absent). Returns 0, or -1 when the unit is tokens and the
 * sample has none. */
int rlvr_shaping_length(const char *s, size_t n, int64_t tokens, rlvr_shaping_unit unit, double *len);

/* "chars", "tokens", "bytes"; and the unit named so, or -1. */
const char *rlvr_shaping_unit_name(rlvr_shaping_unit unit);
int rlvr_shaping_unit_parse(const char *name, size_t len);

/* Whether code point cp is written without spaces between words in CJK text
 * and so counts as one word by itself: Han (CJK unified ideographs, their
 * extensions A to H, compatibility ideographs, radicals, 々 and 〇), kana
 * (hiragana, katakana, their extensions, half-width katakana) and Hangul
 * (syllables and jamo). */
int rlvr_shaping_is_cjk(uint32_t cp);

/* An approximate token count for a tokenizer of the BPE family: one token per
 * CJK character (rlvr_shaping_is_cjk) plus one per 4 bytes of the rest of
 * the text, rounded up. *cjk (when not NULL) receives the CJK characters. */
size_t rlvr_shaping_approx_tokens(const char *s, size_t n, size_t *cjk);

/* How text is cut into words for the repetition count. Both lower-case the
 * text (Unicode simple case mapping) and cut at white space as Python's
 * str.split() does (the ASCII spaces, \x1c-\x1f, U+0085, U+00A0, U+1680,
 * U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000). CJK also makes
 * each CJK character a word of its own, so that "我爱你我爱你" is six words
 * and not one. */
typedef enum rlvr_shaping_split {
    RLVR_SHAPING_SPLIT_WHITESPACE = 0, /* open-r1's text.lower().split() */
    RLVR_SHAPING_SPLIT_CJK = 1
} rlvr_shaping_split;

typedef struct rlvr_shaping_ngrams {
    size_t words;    /* words after the split */
    size_t total;    /* n-grams: words - n + 1, or 0 when words < n */
    size_t distinct; /* distinct n-grams (compared exactly, not by hash) */
} rlvr_shaping_ngrams;

#define RLVR_SHAPING_OK 0
#define RLVR_SHAPING_ENOMEM (-1)  /* out of memory */
#define RLVR_SHAPING_ETOOBIG (-2) /* text of 4 GiB or more */

/* Count the words, n-grams and distinct n-grams of s[0..n) for an n-gram
 * size ngram (1 <= ngram <= 1024). Returns RLVR_SHAPING_OK or a negative
 * code (see rlvr_shaping_strerror); *out is zeroed on failure. */
int rlvr_shaping_repetition(const char *s, size_t n, int ngram, rlvr_shaping_split split,
                            rlvr_shaping_ngrams *out);

/* open-r1's repetition penalty from the counts: 0 when there are fewer words
 * than ngram (no n-gram), else (1 - distinct / total) * max_penalty. */
double rlvr_shaping_repetition_score(const rlvr_shaping_ngrams *g, double max_penalty);

/* Reasoning-step markers, counted as Python's re.findall counts the matches
 * of open-r1's pattern
 *     (Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,|Finally,)
 * (non-overlapping, left to right, the first alternative that matches at a
 * position wins; \d is any Unicode decimal digit, as in Python). Without
 * multiline, ^ is the start of the text only, as in open-r1 (which passes no
 * re.MULTILINE); with it, also the start of every line. extra[0..n_extra)
 * are literal markers tried after the pattern's alternatives, in order (an
 * empty one is ignored). */
typedef struct rlvr_shaping_marker {
    const char *ptr;
    size_t len;
} rlvr_shaping_marker;

size_t rlvr_shaping_steps(const char *s, size_t n, int multiline, const rlvr_shaping_marker *extra,
                          size_t n_extra);

/* Kimi 1.5's length reward: lambda = 0.5 - (len - min) / (max - min) (0 when
 * max == min); a correct answer gets lambda, an incorrect one min(0, lambda). */
double rlvr_shaping_kimi(double len, double min_len, double max_len, int correct);

/* The cosine-scaled length reward of open-r1 (Yeo et al. 2025):
 *   r = lo + (hi - lo) * (1 + cos(pi * len / max_len)) / 2
 * with (lo, hi) = (min_value_correct, max_value_correct) for a correct
 * answer and (max_value_wrong, min_value_wrong) for a wrong one, so a length
 * of 0 earns max_value_correct or min_value_wrong and a length of max_len
 * earns min_value_correct or max_value_wrong. How a length over max_len is
 * treated: */
typedef enum rlvr_shaping_over {
    RLVR_SHAPING_OVER_CLAMP = 0,  /* as if it were max_len (the default) */
    RLVR_SHAPING_OVER_WRAP = 1,   /* open-r1: the cosine goes on and rises again */
    RLVR_SHAPING_OVER_PENALTY = 2 /* the paper's exceed_length score */
} rlvr_shaping_over;

typedef struct rlvr_shaping_cosine_params {
    double min_value_wrong, max_value_wrong;
    double min_value_correct, max_value_correct;
    double max_len;
    rlvr_shaping_over over;
    double exceed_length;
} rlvr_shaping_cosine_params;

double rlvr_shaping_cosine(const rlvr_shaping_cosine_params *p, double len, int correct);

/* DAPO's soft overlong punishment (Eq. 13): 0 up to max_len - cache, then
 * falling linearly to -1 at max_len, and -1 beyond. */
double rlvr_shaping_overlong(double len, double max_len, double cache);

/* How an accuracy component read from an earlier mix entry is taken. status
 * is what the host's sample_component returned (0 ok, 1 abstain, 2 error,
 * negative absent). */
typedef enum rlvr_shaping_verdict {
    RLVR_SHAPING_CORRECT = 0,
    RLVR_SHAPING_WRONG = 1,
    RLVR_SHAPING_ABSENT = 2,    /* no such component before this entry */
    RLVR_SHAPING_ABSTAINED = 3, /* it abstained */
    RLVR_SHAPING_ERRORED = 4,   /* it failed, or said something else */
    RLVR_SHAPING_NONFINITE = 5  /* ok, but not a finite number */
} rlvr_shaping_verdict;

rlvr_shaping_verdict rlvr_shaping_judge(int status, double value, double threshold);

/* The reason code of a verdict that is neither CORRECT nor WRONG:
 * "accuracy_missing", "accuracy_abstained", "accuracy_error". */
const char *rlvr_shaping_verdict_reason(rlvr_shaping_verdict v);

const char *rlvr_shaping_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif /* RLVR_SHAPING_H */
