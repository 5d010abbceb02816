/*
 * lang.h -- the language-consistency engine: DeepSeek-R1's proportion of
 * target-language words in a chain of thought.
 *
 * The pipeline, each stage with its own entry point so it can be tested:
 *   1. rlvr_lang_cot: the chain of thought is the <think> block, what comes
 *      before </think> when <think> was pre-filled, what follows an unclosed
 *      <think>, else the whole text.
 *   2. rlvr_lang_strip: fenced and inline code, LaTeX math ($...$, $$...$$,
 *      \(...\), \[...\], math environments), other LaTeX commands, URLs
 *      and tags without attributes (<answer>, </think>, <|im_end|>) are
 *      replaced by a space (a fenced block by a newline).
 *   3. rlvr_lang_count: sentences (ended by . ! ? followed by a non-letter,
 *      by 。！？ and by newlines) and words. A word is a run of letters and
 *      marks (an apostrophe between letters joins); runs with a digit are
 *      numbers or formulas, single letters of Latin, Greek and Cyrillic are
 *      variables, a fixed list of function names (sin, log, dx...) and words
 *      touching an operator (= + ^ _ * / < > | \, or an opening parenthesis
 *      right after) are mathematics: none of these count. Han and kana have
 *      no spaces: with RLVR_LANG_UNIT_WORD, ICU's dictionary word-break
 *      iterator segments them; with RLVR_LANG_UNIT_CHAR each Han or kana
 *      character is one word.
 *   4. Each word's script (ICU's), then its language: kana is Japanese; Han
 *      is Japanese in a sentence with kana, Korean in one with Hangul, else
 *      Chinese; Hangul, Greek, Hebrew and Thai name their language. Latin,
 *      Cyrillic, Arabic and Devanagari are shared by many languages: when the
 *      target is written in one of them, the sentence's words in that script
 *      go to CLD2 (lang_cld2.h), one call per sentence, and take the language
 *      it names; a sentence CLD2 cannot name is "unidentified".
 * The score is target words / counted words; nothing countable abstains.
 *
 * Invariants: every function is reentrant; all per-call state lives in a
 * rlvr_lang_scratch (one per thread: it holds ICU's break iterator and the
 * buffers, which grow with the text and are given back above 1 MB). Time and
 * memory are linear in the text: every search for a closing delimiter that
 * fails is remembered, so that no text makes stripping quadratic. Invalid
 * UTF-8 bytes are separators, never letters; NUL bytes are text.
 *
 * CLD2 allocates about 175 KB of scratch per call and frees it. glibc's
 * default trim threshold (128 KB) hands those pages back to the kernel after
 * every call and faults them in again on the next, which costs eight times
 * CLD2's own work on a short sentence. The first rlvr_lang_scratch_new frees
 * one 1 MB block, which (glibc's documented dynamic threshold, mallopt(3))
 * raises the mmap threshold to 1 MB and the trim threshold to 2 MB for the
 * process; nothing else about allocation changes.
 */
#ifndef RLVR_LANG_H
#define RLVR_LANG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* -- 1. the chain of thought --------------------------------------------------- */
typedef enum rlvr_lang_cot_kind {
    RLVR_LANG_COT_BLOCK = 0,     /* <think> ... </think> */
    RLVR_LANG_COT_PREFILLED = 1, /* ... </think> with no <think> before it */
    RLVR_LANG_COT_UNCLOSED = 2,  /* <think> ... to the end */
    RLVR_LANG_COT_WHOLE = 3      /* no think tag: the whole text */
} rlvr_lang_cot_kind;

/* Finds the chain of thought in s[0..n): sets *start and *len. */
rlvr_lang_cot_kind rlvr_lang_cot(const char *s, size_t n, size_t *start, size_t *len);
const char *rlvr_lang_cot_name(rlvr_lang_cot_kind k); /* "think_block", ... */

/* -- 2. stripping ---------------------------------------------------------------- */
/* Writes s[0..n) with code, math, LaTeX commands, URLs and tags removed into out
 * (capacity n bytes at least; never more are written). Returns the length. */
size_t rlvr_lang_strip(const char *s, size_t n, char *out);

/* -- scripts and languages ----------------------------------------------------- */
typedef enum rlvr_lang_script {
    RLVR_SCRIPT_LATIN = 0,
    RLVR_SCRIPT_CYRILLIC,
    RLVR_SCRIPT_GREEK,
    RLVR_SCRIPT_ARABIC,
    RLVR_SCRIPT_HEBREW,
    RLVR_SCRIPT_DEVANAGARI,
    RLVR_SCRIPT_HAN,
    RLVR_SCRIPT_KANA,
    RLVR_SCRIPT_HANGUL,
    RLVR_SCRIPT_THAI,
    RLVR_SCRIPT_OTHER,
    RLVR_SCRIPT_COUNT
} rlvr_lang_script;

const char *rlvr_lang_script_name(rlvr_lang_script s); /* "latin", "han", ... */
/* The script of a code point that is a letter or mark (Common and Inherited
 * letters with kana in their script extensions are kana). */
rlvr_lang_script rlvr_lang_script_of(uint32_t cp);

/* A target language. */
typedef struct rlvr_lang_target {
    char code[8];            /* ISO 639-1 (or -3), lower case: "en", "zh" */
    rlvr_lang_script script; /* the script it is written in */
    int cld2;                /* CLD2's number when the script is shared (the
                                sentence is then identified), else -1 */
} rlvr_lang_target;

typedef enum rlvr_lang_target_status {
    RLVR_LANG_TARGET_OK = 0,
    RLVR_LANG_TARGET_MALFORMED = 1,   /* not a language tag */
    RLVR_LANG_TARGET_UNSUPPORTED = 2  /* a tag, but a language rlvr cannot count */
} rlvr_lang_target_status;

/* Parses a language tag: ASCII letters, case-insensitive, with an optional
 * region or script subtag after '-' or '_' that is ignored ("en-US" is en,
 * "zh_Hant" is zh). Surrounding whitespace is ignored. */
rlvr_lang_target_status rlvr_lang_target_parse(const char *s, size_t n, rlvr_lang_target *t);

/* -- 3. counting ------------------------------------------------------------------ */
typedef struct rlvr_lang_scratch rlvr_lang_scratch;

/* NULL when out of memory or when ICU cannot open its word-break iterator
 * (with a message in err). */
rlvr_lang_scratch *rlvr_lang_scratch_new(char *err, size_t err_len);
void rlvr_lang_scratch_free(rlvr_lang_scratch *sc);

typedef enum rlvr_lang_unit {
    RLVR_LANG_UNIT_WORD = 0, /* ICU's dictionary word break for Han and kana */
    RLVR_LANG_UNIT_CHAR = 1  /* one Han or kana character, one word */
} rlvr_lang_unit;

typedef struct rlvr_lang_opts {
    rlvr_lang_unit unit;
    int unidentified_counts; /* 1: words of a sentence CLD2 cannot name count
                                as not the target; 0: they are not counted */
} rlvr_lang_opts;

/* Sentences kept in the result, for the details. */
#define RLVR_LANG_MAX_SENTENCES 16

typedef struct rlvr_lang_sentence {
    char lang[12];   /* the language of most of its words: "en", "zh"; a
                        script name ("latin") when it was not identified
                        (not the target's script); "un" when CLD2 could not */
    uint32_t words;  /* counted words */
    uint32_t target; /* of which in the target language */
} rlvr_lang_sentence;

typedef struct rlvr_lang_result {
    size_t counted;      /* words counted (the denominator) */
    size_t target;       /* words in the target language (the numerator) */
    size_t unidentified; /* words of sentences CLD2 could not name */
    size_t by_script[RLVR_SCRIPT_COUNT]; /* words found, per script */
    size_t sentences;    /* sentences with at least one word */
    size_t identified_sentences; /* sentences sent to CLD2 */
    size_t n_kept;       /* sentences kept below (the first ones) */
    rlvr_lang_sentence kept[RLVR_LANG_MAX_SENTENCES];
} rlvr_lang_result;

/* Strips text[0..n) (stage 2) and counts its words (stages 3 and 4) for the
 * target. Returns 0, or -1 when out of memory (message in err). */
int rlvr_lang_count(rlvr_lang_scratch *sc, const char *text, size_t n,
                    const rlvr_lang_target *target, const rlvr_lang_opts *opts,
                    rlvr_lang_result *r, char *err, size_t err_len);

/* The language of a text (a prompt), after stripping: its words go to CLD2
 * whole, and Han with kana is Japanese. Writes the code (CLD2's "zh-Hant" is
 * zh, "iw" is he) into code[8] and returns 0; -1 when no language can be
 * told; -2 when out of memory. */
int rlvr_lang_detect(rlvr_lang_scratch *sc, const char *text, size_t n, char code[8]);

#ifdef __cplusplus
}
#endif
#endif /* RLVR_LANG_H */
