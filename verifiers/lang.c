/*
 * lang.c -- the language-consistency engine declared in lang.h: the chain of
 * thought, stripping, sentences, words, scripts and the proportion of
 * target-language words.
 *
 * Invariants kept here (see lang.h for the rules themselves):
 *   - one left-to-right pass for stripping; a search for a closing delimiter
 *     that fails is remembered per delimiter (no closer after position p
 *     means none after any later position either), and inline $...$ stops at
 *     a blank line, so stripping is linear in the text whatever it holds;
 *   - one pass for counting; ICU sees only runs of Han and kana (converted to
 *     UTF-16 in the scratch buffer), CLD2 only the words of the target's
 *     script of one sentence at a time;
 *   - the scratch buffers are the only memory that grows with the text, and
 *     are freed again after a call that made them larger than 1 MB;
 *   - invalid UTF-8 decodes to U+FFFD one byte at a time and is a separator.
 */
#include "lang.h"
#include "lang_cld2.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>

/* -- UTF-8 ------------------------------------------------------------------------ */

/* Decodes one code point at s[i] (i < n); sets *len >= 1. Invalid bytes,
 * overlong forms and surrogates give U+FFFD with *len = 1. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t i, size_t *len)
{
    unsigned c = s[i];
    *len = 1;
    if (c < 0x80) return c;
    if (c < 0xC2 || c > 0xF4) return 0xFFFD;
    size_t need = c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    if (i + need >= n) return 0xFFFD;
    uint32_t cp = c & (need == 1 ? 0x1F : need == 2 ? 0x0F : 0x07);
    for (size_t k = 1; k <= need; k++) {
        unsigned b = s[i + k];
        if ((b & 0xC0) != 0x80) return 0xFFFD;
        cp = (cp << 6) | (b & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))
        || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0xFFFD;
    *len = need + 1;
    return cp;
}

/* -- 1. the chain of thought ------------------------------------------------------ */

static const char *find_mem(const char *h, size_t hn, const char *needle, size_t nn)
{
    if (nn == 0 || hn < nn) return NULL;
    return memmem(h, hn, needle, nn);
}

rlvr_lang_cot_kind rlvr_lang_cot(const char *s, size_t n, size_t *start, size_t *len)
{
    /* One pass over the text: "</think>" and "<think>" cannot overlap (only
     * their first bytes are '<'), so the first </think> is either before the
     * first <think> (pre-filled) or the first one after it (a block). */
    const char *open = find_mem(s, n, "<think>", 7);
    const char *close = find_mem(s, open ? (size_t)(open - s) : n, "</think>", 8);
    if (close) {
        *start = 0;
        *len = (size_t)(close - s);
        return RLVR_LANG_COT_PREFILLED;
    }
    if (open) {
        const char *b = open + 7;
        const char *c = find_mem(b, (size_t)(s + n - b), "</think>", 8);
        *start = (size_t)(b - s);
        if (c) {
            *len = (size_t)(c - b);
            return RLVR_LANG_COT_BLOCK;
        }
        *len = n - *start;
        return RLVR_LANG_COT_UNCLOSED;
    }
    *start = 0;
    *len = n;
    return RLVR_LANG_COT_WHOLE;
}

const char *rlvr_lang_cot_name(rlvr_lang_cot_kind k)
{
    switch (k) {
    case RLVR_LANG_COT_BLOCK: return "think_block";
    case RLVR_LANG_COT_PREFILLED: return "before_close_tag";
    case RLVR_LANG_COT_UNCLOSED: return "after_open_tag";
    case RLVR_LANG_COT_WHOLE: return "whole_text";
    }
    return "?";
}

/* -- 2. stripping ----------------------------------------------------------------- */

/* Delimiters whose failed searches are remembered: fail[k] is a position
 * from which the closer k is known to be absent to the end of the text. */
enum {
    D_DOLLAR2, D_BRACKET, D_PAREN,
    D_ENV0, /* then one per math environment */
};
static const char *const math_envs[] = {
    "equation", "equation*", "align", "align*", "aligned", "alignat", "alignat*",
    "gather", "gather*", "gathered", "multline", "multline*", "eqnarray", "eqnarray*",
    "math", "displaymath", "flalign", "flalign*", "split", "cases", "array",
    "matrix", "pmatrix", "bmatrix", "vmatrix", "Vmatrix", "smallmatrix", "tikzpicture",
};
#define N_ENVS (sizeof math_envs / sizeof math_envs[0])
#define N_BACKTICK 16 /* inline code fences of 1..16 backticks are searched */
enum { D_COUNT = D_ENV0 + (int)N_ENVS };

typedef struct strip_state {
    const char *s;
    size_t n;
    size_t fail[D_COUNT];
    size_t fail_tick[N_BACKTICK + 1];
} strip_state;

/* Searches the closer `c` (length cl) in s[from..n) unless delimiter d is
 * known to be absent there; returns the position just past it, or 0. */
static size_t find_closer(strip_state *st, int d, size_t from, const char *c, size_t cl)
{
    if (from >= st->fail[d]) return 0;
    const char *p = find_mem(st->s + from, st->n - from, c, cl);
    if (!p) {
        st->fail[d] = from;
        return 0;
    }
    return (size_t)(p - st->s) + cl;
}

static int is_alnum_ascii(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_ascii_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A fence line: at most three spaces, then >= 3 of ` or ~. Returns the
 * fence length (0 when not one) and sets *ch to its character. */
static size_t fence_at(const char *s, size_t n, size_t i, char *ch)
{
    size_t k = 0;
    while (k < 3 && i + k < n && s[i + k] == ' ') k++;
    i += k;
    if (i >= n || (s[i] != '`' && s[i] != '~')) return 0;
    char c = s[i];
    size_t m = 0;
    while (i + m < n && s[i + m] == c) m++;
    if (m < 3) return 0;
    *ch = c;
    return m;
}

/* The end of the fenced block opening at line start i (fence length m of
 * character ch): past the closing fence's line, or n when unclosed. */
static size_t fence_end(const char *s, size_t n, size_t i, size_t m, char ch)
{
    const char *nl = memchr(s + i, '\n', n - i);
    if (!nl) return n;
    size_t p = (size_t)(nl - s) + 1;
    while (p < n) {
        char c2;
        size_t m2 = fence_at(s, n, p, &c2);
        const char *e = memchr(s + p, '\n', n - p);
        size_t next = e ? (size_t)(e - s) + 1 : n;
        if (m2 >= m && c2 == ch) {
            /* a closing fence has nothing but spaces after its marks */
            size_t q = p;
            while (q < next && (s[q] == ' ')) q++;
            q += m2;
            while (q < next && (s[q] == ' ' || s[q] == '\t' || s[q] == '\r' || s[q] == '\n')) q++;
            if (q == next) return next;
        }
        p = next;
    }
    return n;
}

/* The bytes at which stripping may do something other than copy: a newline
 * (a fence may open the next line), ` $ \ <, and the first letters of the
 * URL schemes checked below. */
static const unsigned char strip_special[256] = {
    ['\n'] = 1, ['`'] = 1, ['$'] = 1, ['\\'] = 1, ['<'] = 1,
    ['h'] = 1, ['f'] = 1, ['w'] = 1, ['H'] = 1, ['W'] = 1,
};

size_t rlvr_lang_strip(const char *s, size_t n, char *out)
{
    strip_state st;
    st.s = s;
    st.n = n;
    for (int d = 0; d < D_COUNT; d++) st.fail[d] = (size_t)-1;
    for (int k = 0; k <= N_BACKTICK; k++) st.fail_tick[k] = (size_t)-1;
    size_t o = 0, i = 0;
    int line_start = 1;
#define EMIT(c) do { if (o < n) out[o++] = (c); } while (0)
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (line_start) {
            char fc;
            size_t m = fence_at(s, n, i, &fc);
            if (m) {
                i = fence_end(s, n, i, m, fc);
                EMIT('\n');
                line_start = 1;
                continue;
            }
        }
        line_start = 0;
        if (!strip_special[c]) {
            /* a run of bytes that start nothing: copied as they are (o <= i
             * always, each byte emitted having consumed at least one) */
            size_t j = i + 1;
            while (j < n && !strip_special[(unsigned char)s[j]]) j++;
            memmove(out + o, s + i, j - i);
            o += j - i;
            i = j;
            continue;
        }
        if (c == '\n') {
            EMIT('\n');
            i++;
            line_start = 1;
            continue;
        }
        if (c == '`') {
            size_t k = 0;
            while (i + k < n && s[i + k] == '`') k++;
            size_t end = 0;
            if (k <= N_BACKTICK && i + k < st.fail_tick[k]) {
                /* the next run of exactly k backticks */
                size_t p = i + k;
                while (p < n) {
                    const char *q = memchr(s + p, '`', n - p);
                    if (!q) break;
                    size_t a = (size_t)(q - s), m = 0;
                    while (a + m < n && s[a + m] == '`') m++;
                    if (m == k) {
                        end = a + m;
                        break;
                    }
                    p = a + m;
                }
                if (!end) st.fail_tick[k] = i + k;
            }
            EMIT(' ');
            i = end ? end : i + k;
            continue;
        }
        if (c == '$') {
            if (i + 1 < n && s[i + 1] == '$') {
                size_t end = find_closer(&st, D_DOLLAR2, i + 2, "$$", 2);
                EMIT(' ');
                i = end ? end : i + 2;
                continue;
            }
            /* inline: the next '$' not escaped, before a blank line */
            size_t p = i + 1, end = 0;
            while (p < n) {
                unsigned char d = (unsigned char)s[p];
                if (d == '\\') {
                    p += 2;
                    continue;
                }
                if (d == '$') {
                    end = p + 1;
                    break;
                }
                if (d == '\n') {
                    size_t q = p + 1;
                    while (q < n && (s[q] == ' ' || s[q] == '\t' || s[q] == '\r')) q++;
                    if (q < n && s[q] == '\n') break;
                }
                p++;
            }
            EMIT(' ');
            i = end ? (end < n ? end : n) : i + 1;
            continue;
        }
        if (c == '\\' && i + 1 < n) {
            unsigned char d = (unsigned char)s[i + 1];
            if (d == '[' || d == '(') {
                size_t end = d == '[' ? find_closer(&st, D_BRACKET, i + 2, "\\]", 2)
                                      : find_closer(&st, D_PAREN, i + 2, "\\)", 2);
                EMIT(' ');
                i = end ? end : i + 2;
                continue;
            }
            if (is_ascii_letter(d)) {
                size_t p = i + 1;
                while (p < n && is_ascii_letter((unsigned char)s[p])) p++;
                size_t name = p - (i + 1);
                int begin = name == 5 && memcmp(s + i + 1, "begin", 5) == 0;
                int endc = name == 3 && memcmp(s + i + 1, "end", 3) == 0;
                if ((begin || endc) && p < n && s[p] == '{') {
                    const char *rb = memchr(s + p, '}', (n - p) < 64 ? n - p : 64);
                    if (rb) {
                        size_t env_len = (size_t)(rb - s) - (p + 1);
                        size_t after = (size_t)(rb - s) + 1;
                        if (begin) {
                            for (size_t e = 0; e < N_ENVS; e++) {
                                if (strlen(math_envs[e]) != env_len
                                    || memcmp(math_envs[e], s + p + 1, env_len) != 0)
                                    continue;
                                char closer[32];
                                int cl = snprintf(closer, sizeof closer, "\\end{%s}", math_envs[e]);
                                size_t end = find_closer(&st, D_ENV0 + (int)e, after, closer, (size_t)cl);
                                if (end) after = end;
                                break;
                            }
                        }
                        EMIT(' ');
                        i = after;
                        continue;
                    }
                }
                EMIT(' ');
                i = p;
                continue;
            }
            /* \$, \{, \\ and the like: an escaped character, not a word */
            EMIT(' ');
            i += 2;
            continue;
        }
        if (c == '<') {
            /* a tag without attributes: <think>, </answer>, <br/> */
            size_t p = i + 1;
            if (p < n && s[p] == '/') p++;
            size_t name = p;
            while (p < n && p - name < 32
                   && (is_alnum_ascii((unsigned char)s[p]) || s[p] == '_' || s[p] == '-' || s[p] == '|'))
                p++;
            if (p > name && (is_ascii_letter((unsigned char)s[name]) || s[name] == '|')) {
                if (p < n && s[p] == '/') p++;
                if (p < n && s[p] == '>') {
                    EMIT(' ');
                    i = p + 1;
                    continue;
                }
            }
        }
        if ((c == 'h' || c == 'f' || c == 'w' || c == 'H' || c == 'W')
            && (i == 0 || !is_alnum_ascii((unsigned char)s[i - 1]))) {
            size_t rest = n - i, skip = 0;
            /* the second letter first: most words stop here */
            unsigned char c1 = rest > 1 ? (unsigned char)(s[i + 1] | 0x20) : 0;
            if (c1 != ((c | 0x20) == 'w' ? 'w' : 't')) rest = 0;
            if (rest >= 7 && strncasecmp(s + i, "http://", 7) == 0) skip = 7;
            else if (rest >= 8 && strncasecmp(s + i, "https://", 8) == 0) skip = 8;
            else if (rest >= 6 && strncasecmp(s + i, "ftp://", 6) == 0) skip = 6;
            else if (rest >= 4 && strncasecmp(s + i, "www.", 4) == 0) skip = 4;
            if (skip) {
                size_t p = i + skip;
                while (p < n && !(s[p] == ' ' || s[p] == '\t' || s[p] == '\n' || s[p] == '\r'
                                  || s[p] == '"' || s[p] == '<' || s[p] == '>'))
                    p++;
                EMIT(' ');
                i = p;
                continue;
            }
        }
        EMIT((char)c);
        i++;
    }
#undef EMIT
    return o;
}

/* -- scripts ----------------------------------------------------------------------- */

const char *rlvr_lang_script_name(rlvr_lang_script s)
{
    static const char *const names[RLVR_SCRIPT_COUNT] = {
        "latin", "cyrillic", "greek", "arabic", "hebrew", "devanagari",
        "han", "kana", "hangul", "thai", "other",
    };
    return (unsigned)s < RLVR_SCRIPT_COUNT ? names[s] : "other";
}

rlvr_lang_script rlvr_lang_script_of(uint32_t cp)
{
    if (cp < 0x80)
        return is_ascii_letter((unsigned char)cp) ? RLVR_SCRIPT_LATIN : RLVR_SCRIPT_OTHER;
    UErrorCode e = U_ZERO_ERROR;
    UScriptCode sc = uscript_getScript((UChar32)cp, &e);
    if (U_FAILURE(e)) return RLVR_SCRIPT_OTHER;
    switch (sc) {
    case USCRIPT_LATIN: return RLVR_SCRIPT_LATIN;
    case USCRIPT_CYRILLIC: return RLVR_SCRIPT_CYRILLIC;
    case USCRIPT_GREEK: return RLVR_SCRIPT_GREEK;
    case USCRIPT_ARABIC: return RLVR_SCRIPT_ARABIC;
    case USCRIPT_HEBREW: return RLVR_SCRIPT_HEBREW;
    case USCRIPT_DEVANAGARI: return RLVR_SCRIPT_DEVANAGARI;
    case USCRIPT_HAN: return RLVR_SCRIPT_HAN;
    case USCRIPT_HIRAGANA:
    case USCRIPT_KATAKANA:
    case USCRIPT_KATAKANA_OR_HIRAGANA: return RLVR_SCRIPT_KANA;
    case USCRIPT_HANGUL: return RLVR_SCRIPT_HANGUL;
    case USCRIPT_THAI: return RLVR_SCRIPT_THAI;
    case USCRIPT_COMMON:
    case USCRIPT_INHERITED:
        if (uscript_hasScript((UChar32)cp, USCRIPT_KATAKANA) || uscript_hasScript((UChar32)cp, USCRIPT_HIRAGANA))
            return RLVR_SCRIPT_KANA;
        if (uscript_hasScript((UChar32)cp, USCRIPT_HAN)) return RLVR_SCRIPT_HAN;
        return RLVR_SCRIPT_OTHER;
    default: return RLVR_SCRIPT_OTHER;
    }
}

/* -- targets ----------------------------------------------------------------------- */

/* Languages told by their script alone (Han with kana is Japanese, see
 * script_language). Every other language is one CLD2 knows, written in a
 * script that several languages share: CLD2 tells its sentences apart. */
static const struct {
    const char *code;
    rlvr_lang_script script;
} by_script[] = {
    {"zh", RLVR_SCRIPT_HAN}, {"ja", RLVR_SCRIPT_KANA}, {"ko", RLVR_SCRIPT_HANGUL},
    {"el", RLVR_SCRIPT_GREEK}, {"he", RLVR_SCRIPT_HEBREW}, {"th", RLVR_SCRIPT_THAI},
};

static int shared_script(rlvr_lang_script s)
{
    return s == RLVR_SCRIPT_LATIN || s == RLVR_SCRIPT_CYRILLIC || s == RLVR_SCRIPT_ARABIC
           || s == RLVR_SCRIPT_DEVANAGARI;
}

rlvr_lang_target_status rlvr_lang_target_parse(const char *s, size_t n, rlvr_lang_target *t)
{
    memset(t, 0, sizeof *t);
    t->cld2 = -1;
    if (!s) return RLVR_LANG_TARGET_MALFORMED;
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    size_t k = 0;
    while (k < n && is_ascii_letter((unsigned char)s[k])) k++;
    if (k < 2 || k > 3) return RLVR_LANG_TARGET_MALFORMED;
    if (k < n) {
        if (s[k] != '-' && s[k] != '_') return RLVR_LANG_TARGET_MALFORMED;
        for (size_t j = k + 1; j < n; j++)
            if (!is_alnum_ascii((unsigned char)s[j]) && s[j] != '-' && s[j] != '_')
                return RLVR_LANG_TARGET_MALFORMED;
        if (k + 1 == n) return RLVR_LANG_TARGET_MALFORMED;
    }
    for (size_t j = 0; j < k; j++) {
        char c = s[j];
        t->code[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    t->code[k] = 0;
    if (strcmp(t->code, "iw") == 0) strcpy(t->code, "he");
    for (size_t j = 0; j < sizeof by_script / sizeof by_script[0]; j++)
        if (strcmp(by_script[j].code, t->code) == 0) {
            t->script = by_script[j].script;
            return RLVR_LANG_TARGET_OK;
        }
    t->cld2 = rlvr_lang_cld2_from_code(t->code);
    if (t->cld2 < 0) return RLVR_LANG_TARGET_UNSUPPORTED;
    const char *sc = rlvr_lang_cld2_script(t->cld2);
    if (strcmp(sc, "Latn") == 0) t->script = RLVR_SCRIPT_LATIN;
    else if (strcmp(sc, "Cyrl") == 0) t->script = RLVR_SCRIPT_CYRILLIC;
    else if (strcmp(sc, "Arab") == 0) t->script = RLVR_SCRIPT_ARABIC;
    else if (strcmp(sc, "Deva") == 0) t->script = RLVR_SCRIPT_DEVANAGARI;
    else {
        t->cld2 = -1;
        return RLVR_LANG_TARGET_UNSUPPORTED;
    }
    return RLVR_LANG_TARGET_OK;
}

/* -- scratch -------------------------------------------------------------------------- */

struct rlvr_lang_scratch {
    UBreakIterator *bi;
    char *text;       /* stripped text */
    size_t text_cap;
    char *idbuf;      /* the current sentence's words for CLD2 */
    size_t id_len, id_cap;
    UChar *u16;
    size_t u16_cap;
};

#define KEEP_LIMIT ((size_t)1 << 20)

static pthread_once_t malloc_once = PTHREAD_ONCE_INIT;
static void *(*volatile malloc_fn)(size_t) = malloc;
static void (*volatile free_fn)(void *) = free;

/* See lang.h: one freed 1 MB block raises glibc's dynamic mmap and trim
 * thresholds, so that CLD2's per-call scratch stays mapped. */
static void raise_malloc_thresholds(void)
{
    char *p = malloc_fn((size_t)1 << 20);
    if (p) {
        ((volatile char *)p)[0] = 0;
        free_fn(p);
    }
}

rlvr_lang_scratch *rlvr_lang_scratch_new(char *err, size_t err_len)
{
    pthread_once(&malloc_once, raise_malloc_thresholds);
    rlvr_lang_scratch *sc = calloc(1, sizeof *sc);
    if (!sc) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    UErrorCode e = U_ZERO_ERROR;
    sc->bi = ubrk_open(UBRK_WORD, "", NULL, 0, &e);
    if (U_FAILURE(e) || !sc->bi) {
        snprintf(err, err_len, "ICU cannot open its word-break iterator: %s", u_errorName(e));
        free(sc);
        return NULL;
    }
    return sc;
}

void rlvr_lang_scratch_free(rlvr_lang_scratch *sc)
{
    if (!sc) return;
    if (sc->bi) ubrk_close(sc->bi);
    free(sc->text);
    free(sc->idbuf);
    free(sc->u16);
    free(sc);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need) {
        if (c > ((size_t)-1) / 2 / elem) return -1;
        c *= 2;
    }
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static void shrink(rlvr_lang_scratch *sc)
{
    if (sc->text_cap > KEEP_LIMIT) free(sc->text), sc->text = NULL, sc->text_cap = 0;
    if (sc->id_cap > KEEP_LIMIT) free(sc->idbuf), sc->idbuf = NULL, sc->id_cap = 0;
    if (sc->u16_cap * sizeof(UChar) > KEEP_LIMIT) free(sc->u16), sc->u16 = NULL, sc->u16_cap = 0;
}

/* -- 3. words and sentences -------------------------------------------------------- */

/* Character classes of the scanner. */
enum { C_SPACE, C_NEWLINE, C_LETTER, C_DIGIT, C_APOS, C_END, C_DOT, C_PUNCT };

/* The classes of the ASCII characters (row k: 16k..16k+15): letters,
 * digits, \n, the spaces \t \v \f \r and ' ', the apostrophe, '.', '!'
 * and '?'; everything else is punctuation. */
#define SP C_SPACE
#define NL C_NEWLINE
#define LE C_LETTER
#define DI C_DIGIT
#define AP C_APOS
#define EN C_END
#define DO C_DOT
#define PU C_PUNCT
static const unsigned char ascii_class[128] = {
    PU, PU, PU, PU, PU, PU, PU, PU, PU, SP, NL, SP, SP, SP, PU, PU,
    PU, PU, PU, PU, PU, PU, PU, PU, PU, PU, PU, PU, PU, PU, PU, PU,
    SP, EN, PU, PU, PU, PU, PU, AP, PU, PU, PU, PU, PU, PU, DO, PU,
    DI, DI, DI, DI, DI, DI, DI, DI, DI, DI, PU, PU, PU, PU, PU, EN,
    PU, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE,
    LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, PU, PU, PU, PU, PU,
    PU, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE,
    LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, LE, PU, PU, PU, PU, PU,
};
#undef SP
#undef NL
#undef LE
#undef DI
#undef AP
#undef EN
#undef DO
#undef PU

static int classify(uint32_t cp)
{
    if (cp < 0x80) return ascii_class[cp];
    switch (cp) {
    case 0x2019: return C_APOS;
    case 0x3002: case 0xFF01: case 0xFF1F: case 0xFF0E: case 0xFF61: return C_END;
    case 0x2028: case 0x2029: case 0x85: return C_NEWLINE;
    case 0xFFFD: return C_PUNCT;
    default: break;
    }
    int8_t t = u_charType((UChar32)cp);
    switch (t) {
    case U_UPPERCASE_LETTER: case U_LOWERCASE_LETTER: case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER: case U_OTHER_LETTER:
    case U_NON_SPACING_MARK: case U_ENCLOSING_MARK: case U_COMBINING_SPACING_MARK:
        return C_LETTER;
    case U_DECIMAL_DIGIT_NUMBER: case U_LETTER_NUMBER: case U_OTHER_NUMBER:
        return C_DIGIT;
    case U_SPACE_SEPARATOR: return C_SPACE;
    case U_LINE_SEPARATOR: case U_PARAGRAPH_SEPARATOR: return C_NEWLINE;
    default: return C_PUNCT;
    }
}

/* The code point at u[i] (i < n), its length and its class. */
static inline int next_class(const unsigned char *u, size_t n, size_t i, uint32_t *cp, size_t *len)
{
    if (u[i] < 0x80) {
        *cp = u[i];
        *len = 1;
        return ascii_class[u[i]];
    }
    *cp = utf8_next(u, n, i, len);
    return classify(*cp);
}

static int is_mark(uint32_t cp)
{
    if (cp < 0x300) return 0;
    int8_t t = u_charType((UChar32)cp);
    return t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK || t == U_COMBINING_SPACING_MARK;
}

/* Function names and differentials of mathematics written without $...$:
 * the lower-cased word, packed into an integer (one byte a letter, first
 * letter highest), is matched by a switch. */
#define K2(a, b) ((uint64_t)(a) << 8 | (uint64_t)(b))
#define K3(a, b, c) (K2(a, b) << 8 | (uint64_t)(c))
#define K4(a, b, c, d) (K3(a, b, c) << 8 | (uint64_t)(d))
#define K6(a, b, c, d, e, f) (K4(a, b, c, d) << 16 | K2(e, f))

static int math_name(const char *w, size_t n)
{
    if (n < 2 || n > 6 || n == 5) return 0;
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c >= 0x80) return 0;
        k = k << 8 | (c >= 'A' && c <= 'Z' ? c + 32u : c);
    }
    switch (k) {
    case K2('d', 'p'): case K2('d', 'q'): case K2('d', 'r'): case K2('d', 's'): case K2('d', 't'):
    case K2('d', 'u'): case K2('d', 'v'): case K2('d', 'x'): case K2('d', 'y'): case K2('d', 'z'):
    case K2('l', 'g'): case K2('l', 'n'):
    case K3('a', 'r', 'g'): case K3('c', 'o', 's'): case K3('c', 'o', 't'): case K3('c', 's', 'c'):
    case K3('d', 'e', 't'): case K3('d', 'i', 'm'): case K3('e', 'x', 'p'): case K3('g', 'c', 'd'):
    case K3('i', 'n', 'f'): case K3('k', 'e', 'r'): case K3('l', 'c', 'm'): case K3('l', 'i', 'm'):
    case K3('l', 'o', 'g'): case K3('m', 'a', 'x'): case K3('m', 'i', 'n'): case K3('m', 'o', 'd'):
    case K3('s', 'e', 'c'): case K3('s', 'i', 'n'): case K3('s', 'u', 'p'): case K3('t', 'a', 'n'):
    case K4('c', 'o', 's', 'h'): case K4('f', 'r', 'a', 'c'): case K4('s', 'i', 'n', 'h'):
    case K4('s', 'q', 'r', 't'): case K4('t', 'a', 'n', 'h'):
    case K6('a', 'r', 'c', 'c', 'o', 's'): case K6('a', 'r', 'c', 's', 'i', 'n'):
    case K6('a', 'r', 'c', 't', 'a', 'n'):
        return 1;
    default:
        return 0;
    }
}
#undef K2
#undef K3
#undef K4
#undef K6

static int is_operator(unsigned char c)
{
    return c == '=' || c == '+' || c == '^' || c == '_' || c == '*' || c == '/' || c == '<'
           || c == '>' || c == '|' || c == '\\';
}

/* The state of the sentence being read. */
typedef struct sentence {
    size_t words[RLVR_SCRIPT_COUNT];
} sentence;

typedef struct counter {
    rlvr_lang_scratch *sc;
    const rlvr_lang_target *target;
    const rlvr_lang_opts *opts;
    rlvr_lang_result *r;
    sentence cur;
    int collect_all; /* detection: every word goes to idbuf */
    int oom;
} counter;

static void id_append(counter *c, const char *w, size_t n)
{
    rlvr_lang_scratch *sc = c->sc;
    if (grow((void **)&sc->idbuf, &sc->id_cap, sc->id_len + n + 2, 1)) {
        c->oom = 1;
        return;
    }
    memcpy(sc->idbuf + sc->id_len, w, n);
    sc->id_len += n;
    sc->idbuf[sc->id_len++] = ' ';
}

static void add_word(counter *c, rlvr_lang_script s, const char *w, size_t n)
{
    c->cur.words[s]++;
    if (c->collect_all || (c->target && c->target->cld2 >= 0 && s == c->target->script))
        id_append(c, w, n);
}

static void keep_sentence(rlvr_lang_result *r, const char *lang, size_t words, size_t target)
{
    if (r->n_kept >= RLVR_LANG_MAX_SENTENCES) return;
    rlvr_lang_sentence *k = &r->kept[r->n_kept++];
    size_t n = strlen(lang);
    if (n >= sizeof k->lang) n = sizeof k->lang - 1;
    memcpy(k->lang, lang, n);
    k->lang[n] = 0;
    k->words = (uint32_t)(words > UINT32_MAX ? UINT32_MAX : words);
    k->target = (uint32_t)(target > UINT32_MAX ? UINT32_MAX : target);
}

/* The language of the sentence's words of script s (not a shared script). */
static const char *script_language(const sentence *st, rlvr_lang_script s)
{
    switch (s) {
    case RLVR_SCRIPT_HAN:
        if (st->words[RLVR_SCRIPT_KANA]) return "ja";
        if (st->words[RLVR_SCRIPT_HANGUL]) return "ko";
        return "zh";
    case RLVR_SCRIPT_KANA: return "ja";
    case RLVR_SCRIPT_HANGUL: return "ko";
    case RLVR_SCRIPT_GREEK: return "el";
    case RLVR_SCRIPT_HEBREW: return "he";
    case RLVR_SCRIPT_THAI: return "th";
    default: return rlvr_lang_script_name(s);
    }
}

static void end_sentence(counter *c)
{
    sentence *st = &c->cur;
    rlvr_lang_result *r = c->r;
    size_t total = 0;
    for (int s = 0; s < RLVR_SCRIPT_COUNT; s++) total += st->words[s];
    if (total == 0 || c->collect_all) {
        if (!c->collect_all) c->sc->id_len = 0;
        memset(st, 0, sizeof *st);
        return;
    }
    const rlvr_lang_target *t = c->target;
    size_t counted = 0, target = 0, best = 0;
    const char *best_lang = "un";
    for (int s = 0; s < RLVR_SCRIPT_COUNT; s++) {
        size_t w = st->words[s];
        if (!w) continue;
        r->by_script[s] += w;
        const char *lang;
        int is_target = 0;
        if (shared_script((rlvr_lang_script)s)) {
            if (t->cld2 >= 0 && s == (int)t->script) {
                int l = rlvr_lang_cld2_detect(c->sc->idbuf, c->sc->id_len, NULL);
                r->identified_sentences++;
                if (l < 0) {
                    lang = "un";
                    r->unidentified += w;
                    if (!c->opts->unidentified_counts) {
                        if (w > best) best = w, best_lang = lang;
                        continue;
                    }
                } else {
                    lang = rlvr_lang_cld2_code(l);
                    is_target = l == t->cld2;
                    if (is_target) lang = t->code;
                }
            } else {
                lang = rlvr_lang_script_name((rlvr_lang_script)s);
            }
        } else {
            lang = script_language(st, (rlvr_lang_script)s);
            is_target = strcmp(lang, t->code) == 0;
        }
        counted += w;
        if (is_target) target += w;
        if (w > best) best = w, best_lang = lang;
    }
    r->counted += counted;
    r->target += target;
    r->sentences++;
    keep_sentence(r, best_lang, counted, target);
    c->sc->id_len = 0;
    memset(st, 0, sizeof *st);
}

/* A run of Han and kana at s[a..b): its words, by ICU or by character. */
static void cjk_run(counter *c, const char *s, size_t a, size_t b)
{
    rlvr_lang_scratch *sc = c->sc;
    if (c->opts->unit == RLVR_LANG_UNIT_CHAR || b - a > (size_t)INT32_MAX / 2) {
        size_t i = a, len;
        while (i < b) {
            uint32_t cp = utf8_next((const unsigned char *)s, b, i, &len);
            rlvr_lang_script sp = rlvr_lang_script_of(cp);
            if ((sp == RLVR_SCRIPT_HAN || sp == RLVR_SCRIPT_KANA) && !is_mark(cp))
                add_word(c, sp, s + i, len);
            i += len;
        }
        return;
    }
    if (grow((void **)&sc->u16, &sc->u16_cap, (b - a) + 1, sizeof(UChar))) {
        c->oom = 1;
        return;
    }
    UErrorCode e = U_ZERO_ERROR;
    int32_t ulen = 0;
    u_strFromUTF8Lenient(sc->u16, (int32_t)sc->u16_cap, &ulen, s + a, (int32_t)(b - a), &e);
    if (U_FAILURE(e)) {
        c->oom = 1;
        return;
    }
    ubrk_setText(sc->bi, sc->u16, ulen, &e);
    if (U_FAILURE(e)) {
        c->oom = 1;
        return;
    }
    /* UTF-16 offsets back to bytes: walk both in step */
    int32_t prev = ubrk_first(sc->bi), pos;
    size_t bytep = a;
    int32_t u16p = 0;
    while ((pos = ubrk_next(sc->bi)) != UBRK_DONE) {
        int32_t status = ubrk_getRuleStatus(sc->bi);
        /* advance bytep to the UTF-16 offset prev */
        size_t len;
        while (u16p < prev && bytep < b) {
            uint32_t cp = utf8_next((const unsigned char *)s, b, bytep, &len);
            u16p += cp >= 0x10000 ? 2 : 1;
            bytep += len;
        }
        size_t wstart = bytep;
        int has_kana = 0, has_han = 0;
        while (u16p < pos && bytep < b) {
            uint32_t cp = utf8_next((const unsigned char *)s, b, bytep, &len);
            rlvr_lang_script sp = rlvr_lang_script_of(cp);
            has_kana |= sp == RLVR_SCRIPT_KANA;
            has_han |= sp == RLVR_SCRIPT_HAN;
            u16p += cp >= 0x10000 ? 2 : 1;
            bytep += len;
        }
        if (status >= UBRK_WORD_LETTER && (has_kana || has_han))
            add_word(c, has_kana ? RLVR_SCRIPT_KANA : RLVR_SCRIPT_HAN, s + wstart, bytep - wstart);
        prev = pos;
    }
}

/* Scans s[0..n) (already stripped) into c's result. */
static void scan(counter *c, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, len;
    while (i < n && !c->oom) {
        uint32_t cp;
        int cl = next_class(u, n, i, &cp, &len);
        if (cl == C_LETTER || cl == C_DIGIT) {
            rlvr_lang_script sp = cl == C_LETTER ? rlvr_lang_script_of(cp) : RLVR_SCRIPT_OTHER;
            if (sp == RLVR_SCRIPT_HAN || sp == RLVR_SCRIPT_KANA) {
                /* a run of Han and kana letters (and marks) */
                size_t b = i + len;
                while (b < n) {
                    size_t l2;
                    uint32_t c2 = utf8_next(u, n, b, &l2);
                    if (classify(c2) != C_LETTER) break;
                    rlvr_lang_script s2 = rlvr_lang_script_of(c2);
                    if (s2 != RLVR_SCRIPT_HAN && s2 != RLVR_SCRIPT_KANA && !is_mark(c2)) break;
                    b += l2;
                }
                cjk_run(c, s, i, b);
                i = b;
                continue;
            }
            /* a token: letters, marks, digits, apostrophes between letters */
            size_t a = i, b = i + len, letters = cl == C_LETTER ? 1 : 0;
            int digit = cl == C_DIGIT;
            rlvr_lang_script ws = sp;
            while (b < n) {
                if (is_ascii_letter(u[b]) && ws != RLVR_SCRIPT_OTHER) {
                    /* the common case, without decoding */
                    letters++;
                    b++;
                    continue;
                }
                size_t l2;
                uint32_t c2;
                int k2 = next_class(u, n, b, &c2, &l2);
                if (k2 == C_LETTER) {
                    rlvr_lang_script s2 = rlvr_lang_script_of(c2);
                    if (s2 == RLVR_SCRIPT_HAN || s2 == RLVR_SCRIPT_KANA) break;
                    if (!is_mark(c2)) {
                        letters++;
                        if (ws == RLVR_SCRIPT_OTHER) ws = s2;
                    }
                    b += l2;
                } else if (k2 == C_DIGIT) {
                    digit = 1;
                    b += l2;
                } else if (k2 == C_APOS && b + l2 < n) {
                    size_t l3;
                    uint32_t c3;
                    if (next_class(u, n, b + l2, &c3, &l3) != C_LETTER) break;
                    b += l2;
                } else {
                    break;
                }
            }
            int counts = !digit && letters > 0;
            if (counts && letters == 1
                && (ws == RLVR_SCRIPT_LATIN || ws == RLVR_SCRIPT_GREEK || ws == RLVR_SCRIPT_CYRILLIC))
                counts = 0;
            if (counts && ws == RLVR_SCRIPT_LATIN && math_name(s + a, b - a)) counts = 0;
            if (counts && ((a > 0 && is_operator(u[a - 1])) || (b < n && (is_operator(u[b]) || u[b] == '('))))
                counts = 0;
            if (counts) add_word(c, ws, s + a, b - a);
            i = b;
            continue;
        }
        if (cl == C_NEWLINE || cl == C_END) {
            end_sentence(c);
        } else if (cl == C_DOT) {
            /* a full stop ends a sentence unless an ASCII letter or digit
             * follows it (3.14, e.g, file.txt) */
            if (i + 1 >= n || !is_alnum_ascii(u[i + 1])) end_sentence(c);
        }
        i += len;
    }
    end_sentence(c);
}

int rlvr_lang_count(rlvr_lang_scratch *sc, const char *text, size_t n,
                    const rlvr_lang_target *target, const rlvr_lang_opts *opts,
                    rlvr_lang_result *r, char *err, size_t err_len)
{
    memset(r, 0, sizeof *r);
    if (grow((void **)&sc->text, &sc->text_cap, n + 1, 1)) {
        snprintf(err, err_len, "out of memory (%zu bytes of text)", n);
        return -1;
    }
    size_t m = rlvr_lang_strip(text, n, sc->text);
    counter c;
    memset(&c, 0, sizeof c);
    c.sc = sc;
    c.target = target;
    c.opts = opts;
    c.r = r;
    sc->id_len = 0;
    scan(&c, sc->text, m);
    shrink(sc);
    if (c.oom) {
        memset(r, 0, sizeof *r);
        snprintf(err, err_len, "out of memory while counting words");
        return -1;
    }
    return 0;
}

int rlvr_lang_detect(rlvr_lang_scratch *sc, const char *text, size_t n, char code[8])
{
    if (grow((void **)&sc->text, &sc->text_cap, n + 1, 1)) return -2;
    size_t m = rlvr_lang_strip(text, n, sc->text);
    rlvr_lang_result r;
    rlvr_lang_opts o = {RLVR_LANG_UNIT_WORD, 0};
    counter c;
    memset(&c, 0, sizeof c);
    memset(&r, 0, sizeof r);
    c.sc = sc;
    c.opts = &o;
    c.r = &r;
    c.collect_all = 1;
    sc->id_len = 0;
    scan(&c, sc->text, m);
    int rc = -1;
    if (!c.oom && sc->id_len) {
        int l = rlvr_lang_cld2_detect(sc->idbuf, sc->id_len, NULL);
        if (l >= 0) {
            const char *k = rlvr_lang_cld2_code(l);
            if (strncmp(k, "zh", 2) == 0) k = "zh";
            else if (strcmp(k, "iw") == 0) k = "he";
            else if (strcmp(k, "jw") == 0) k = "jv";
            snprintf(code, 8, "%s", k);
            rc = 0;
        }
    }
    sc->id_len = 0;
    shrink(sc);
    return c.oom ? -2 : rc;
}
