/*
 * shaping.c -- the scanners and formulas behind rlvr's shaping rewards (see
 * shaping.h for each function's contract).
 *
 * Invariants: every loop advances by at least one byte and never reads past
 * s + n (a truncated or invalid UTF-8 sequence counts as one character of one
 * byte); the repetition count's memory is O(words) (20 bytes a word, a
 * table of 4 bytes and one of 8 bytes per slot, at most four slots per word
 * or n-gram), allocated and freed within the call; words are compared
 * exactly once each, to number them (equal words, equal ids), and n-grams
 * are compared as runs of ids, so a hash only finds candidates and a
 * collision can cost time but never a wrong count; case is compared through utf8proc's simple lower-case mapping.
 */
#include "shaping.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Finite: neither NaN nor infinite (x - x is NaN for both). */
static int finite_number(double x) { return x - x == 0.0; }

static int cont(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Decode one code point at s[i] (i < n); returns its length in bytes (>= 1).
 * A bad sequence (truncated, overlong, a surrogate, past U+10FFFF) decodes
 * as U+FFFD of length 1, so that scanning goes on from the next byte. */
static size_t decode(const char *str, size_t n, size_t i, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str + i;
    size_t left = n - i;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF && left >= 2 && cont(s[1])) {
        *cp = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF && left >= 3 && cont(s[1]) && cont(s[2]) && (c != 0xE0 || s[1] >= 0xA0)
        && (c != 0xED || s[1] < 0xA0)) {
        *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4 && left >= 4 && cont(s[1]) && cont(s[2]) && cont(s[3]) && (c != 0xF0 || s[1] >= 0x90)
        && (c != 0xF4 || s[1] < 0x90)) {
        *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6)
              | (s[3] & 0x3F);
        return 4;
    }
    *cp = 0xFFFD;
    return 1;
}

size_t rlvr_shaping_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

int rlvr_shaping_length(const char *s, size_t n, int64_t tokens, rlvr_shaping_unit unit, double *len)
{
    switch (unit) {
    case RLVR_SHAPING_UNIT_TOKENS:
        if (tokens < 0) return -1;
        *len = (double)tokens;
        return 0;
    case RLVR_SHAPING_UNIT_BYTES:
        *len = (double)n;
        return 0;
    default:
        *len = (double)rlvr_shaping_chars(s, n);
        return 0;
    }
}

static const char *const unit_names[] = {"chars", "tokens", "bytes"};

const char *rlvr_shaping_unit_name(rlvr_shaping_unit unit)
{
    return (unsigned)unit < 3 ? unit_names[unit] : "chars";
}

int rlvr_shaping_unit_parse(const char *name, size_t len)
{
    for (int u = 0; u < 3; u++)
        if (name && strlen(unit_names[u]) == len && memcmp(unit_names[u], name, len) == 0) return u;
    return -1;
}

int rlvr_shaping_is_cjk(uint32_t cp)
{
    if (cp < 0x1100) return 0;
    return (cp >= 0x1100 && cp <= 0x11FF)      /* Hangul jamo */
           || (cp >= 0x2E80 && cp <= 0x2FDF)   /* CJK and Kangxi radicals */
           || cp == 0x3005 || cp == 0x3007     /* 々 〇 */
           || (cp >= 0x3021 && cp <= 0x3029)   /* Hangzhou numerals */
           || (cp >= 0x3038 && cp <= 0x303B)   /* more Hangzhou numerals, 〻 */
           || (cp >= 0x3041 && cp <= 0x309F)   /* hiragana */
           || (cp >= 0x30A0 && cp <= 0x30FF)   /* katakana */
           || (cp >= 0x3131 && cp <= 0x318E)   /* Hangul compatibility jamo */
           || (cp >= 0x31F0 && cp <= 0x31FF)   /* katakana phonetic extensions */
           || (cp >= 0x3400 && cp <= 0x4DBF)   /* CJK extension A */
           || (cp >= 0x4E00 && cp <= 0x9FFF)   /* CJK unified ideographs */
           || (cp >= 0xA960 && cp <= 0xA97F)   /* Hangul jamo extended A */
           || (cp >= 0xAC00 && cp <= 0xD7AF)   /* Hangul syllables */
           || (cp >= 0xD7B0 && cp <= 0xD7FF)   /* Hangul jamo extended B */
           || (cp >= 0xF900 && cp <= 0xFAFF)   /* CJK compatibility ideographs */
           || (cp >= 0xFF66 && cp <= 0xFF9F)   /* half-width katakana */
           || (cp >= 0xFFA0 && cp <= 0xFFDC)   /* half-width Hangul */
           || (cp >= 0x1B000 && cp <= 0x1B16F) /* kana supplement and extensions */
           || (cp >= 0x20000 && cp <= 0x2FA1F) /* extensions B to F, compatibility supplement */
           || (cp >= 0x30000 && cp <= 0x323AF); /* extensions G and H */
}

/* White space as Python's str.isspace() and str.split() see it. */
static int is_space(uint32_t cp)
{
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028
           || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t rlvr_shaping_approx_tokens(const char *s, size_t n, size_t *cjk)
{
    size_t han = 0, other = 0;
    for (size_t i = 0; i < n;) {
        if ((unsigned char)s[i] < 0x80) {
            other++;
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = decode(s, n, i, &cp);
        if (rlvr_shaping_is_cjk(cp)) han++;
        else other += k;
        i += k;
    }
    if (cjk) *cjk = han;
    return han + other / 4 + (other % 4 != 0);
}

/* -- repetition ------------------------------------------------------------ */

typedef struct word {
    uint64_t hash;
    uint32_t off, len;
} word;

typedef struct slot {
    uint32_t check; /* high bits of the n-gram's hash */
    uint32_t idx;   /* n-gram start + 1; 0 for an empty slot */
} slot;

static uint32_t lower(uint32_t cp)
{
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    if (cp >= 0x3040 && cp <= 0xD7FF) return cp; /* kana, Han, Hangul: no case */
    return (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static int grow_words(word **w, size_t *cap)
{
    size_t nc = *cap ? *cap * 2 : 64;
    word *p = realloc(*w, nc * sizeof *p);
    if (!p) return -1;
    *w = p;
    *cap = nc;
    return 0;
}

static inline int push_word(word **w, size_t *nw, size_t *cap, size_t off, size_t len, uint64_t h)
{
    if (*nw == *cap && grow_words(w, cap)) return -1;
    word *x = &(*w)[(*nw)++];
    x->hash = mix64(h);
    x->off = (uint32_t)off;
    x->len = (uint32_t)len;
    return 0;
}

/* Whether two words are equal once lower-cased. */
static int same_word(const char *s, size_t n, const word *a, const word *b)
{
    if (a->hash != b->hash) return 0;
    if (a->len == b->len && memcmp(s + a->off, s + b->off, a->len) == 0) return 1;
    size_t i = a->off, ie = a->off + a->len, j = b->off, je = b->off + b->len;
    while (i < ie && j < je) {
        uint32_t x, y;
        i += decode(s, n < ie ? n : ie, i, &x);
        j += decode(s, n < je ? n : je, j, &y);
        if (lower(x) != lower(y)) return 0;
    }
    return i == ie && j == je;
}

/* Number the words so that equal words (once lower-cased) share an id:
 * ids[i] for each of the nw words. Returns 0, or -1 when out of memory. */
static int intern(const char *s, size_t n, const word *w, size_t nw, uint32_t *ids)
{
    size_t tsize = 16;
    while (tsize < 2 * nw) tsize *= 2;
    uint32_t *t = calloc(tsize, sizeof *t); /* word index + 1; 0: empty */
    if (!t) return -1;
    uint32_t next = 0;
    for (size_t i = 0; i < nw; i++) {
        size_t p = (size_t)w[i].hash & (tsize - 1);
        for (;;) {
            if (t[p] == 0) {
                t[p] = (uint32_t)(i + 1);
                ids[i] = next++;
                break;
            }
            if (same_word(s, n, &w[t[p] - 1], &w[i])) {
                ids[i] = ids[t[p] - 1];
                break;
            }
            p = (p + 1) & (tsize - 1);
        }
    }
    free(t);
    return 0;
}

int rlvr_shaping_repetition(const char *s, size_t n, int ngram, rlvr_shaping_split split,
                            rlvr_shaping_ngrams *out)
{
    memset(out, 0, sizeof *out);
    if (ngram < 1) ngram = 1;
    if (ngram > 1024) ngram = 1024;
    if (n >= UINT32_MAX) return RLVR_SHAPING_ETOOBIG;

    size_t cap = n / 4 + 16, nw = 0;
    word *w = malloc(cap * sizeof *w);
    if (!w) return RLVR_SHAPING_ENOMEM;
    size_t start = 0;
    int in_word = 0;
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) { /* ASCII: the common case, without decoding */
            if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) {
                if (in_word && push_word(&w, &nw, &cap, start, i - start, h)) goto oom;
                in_word = 0;
            } else {
                if (!in_word) {
                    in_word = 1;
                    start = i;
                    h = FNV_OFFSET;
                }
                h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32u : c)) * FNV_PRIME;
            }
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = decode(s, n, i, &cp);
        int sp = is_space(cp);
        int single = !sp && split == RLVR_SHAPING_SPLIT_CJK && rlvr_shaping_is_cjk(cp);
        if ((sp || single) && in_word) {
            if (push_word(&w, &nw, &cap, start, i - start, h)) goto oom;
            in_word = 0;
        }
        if (single) {
            if (push_word(&w, &nw, &cap, i, k, (FNV_OFFSET ^ lower(cp)) * FNV_PRIME)) goto oom;
        } else if (!sp) {
            if (!in_word) {
                in_word = 1;
                start = i;
                h = FNV_OFFSET;
            }
            h = (h ^ lower(cp)) * FNV_PRIME;
        }
        i += k;
    }
    if (in_word && push_word(&w, &nw, &cap, start, n - start, h)) goto oom;

    out->words = nw;
    if (nw < (size_t)ngram) {
        free(w);
        return RLVR_SHAPING_OK;
    }
    size_t total = nw - (size_t)ngram + 1;
    size_t tsize = 16;
    while (tsize < 2 * total) tsize *= 2;
    uint32_t *ids = malloc(nw * sizeof *ids);
    slot *t = calloc(tsize, sizeof *t);
    if (!ids || !t || intern(s, n, w, nw, ids)) {
        free(ids);
        free(t);
        goto oom;
    }
    const uint64_t B = 0x9E3779B97F4A7C15ULL; /* odd: a unit modulo 2^64 */
    uint64_t top = 1;                         /* B^(ngram-1) */
    for (int k = 1; k < ngram; k++) top *= B;
    uint64_t rh = 0;
    for (int k = 0; k < ngram; k++) rh = rh * B + w[k].hash;
    size_t distinct = 0;
    for (size_t i = 0; i < total; i++) {
        if (i > 0) rh = (rh - w[i - 1].hash * top) * B + w[i + (size_t)ngram - 1].hash;
        uint64_t key = mix64(rh);
        uint32_t check = (uint32_t)(key >> 32);
        size_t p = (size_t)key & (tsize - 1);
        for (;;) {
            if (t[p].idx == 0) {
                t[p].check = check;
                t[p].idx = (uint32_t)(i + 1);
                distinct++;
                break;
            }
            if (t[p].check == check
                && memcmp(ids + (t[p].idx - 1), ids + i, (size_t)ngram * sizeof *ids) == 0)
                break;
            p = (p + 1) & (tsize - 1);
        }
    }
    free(t);
    free(ids);
    free(w);
    out->total = total;
    out->distinct = distinct;
    return RLVR_SHAPING_OK;
oom:
    free(w);
    memset(out, 0, sizeof *out);
    return RLVR_SHAPING_ENOMEM;
}

double rlvr_shaping_repetition_score(const rlvr_shaping_ngrams *g, double max_penalty)
{
    if (g->total == 0) return 0.0;
    double scaling = 1.0 - (double)g->distinct / (double)g->total;
    double v = scaling * max_penalty;
    return v == 0 ? 0.0 : v; /* never -0 */
}

/* -- reasoning steps ------------------------------------------------------- */

/* A Unicode decimal digit (Python's \d) at s[i]: its length, or 0. */
static size_t digit_at(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c >= '0' && c <= '9') return 1;
    if (c < 0x80) return 0;
    uint32_t cp;
    size_t k = decode(s, n, i, &cp);
    if (cp == 0xFFFD) return 0;
    return utf8proc_category((utf8proc_int32_t)cp) == UTF8PROC_CATEGORY_ND ? k : 0;
}

/* One or more digits from s[i]: the end, or i when there is none. */
static size_t digits(const char *s, size_t n, size_t i)
{
    size_t j = i, k;
    while (j < n && (k = digit_at(s, n, j)) > 0) j += k;
    return j;
}

static int lit(const char *s, size_t n, size_t i, const char *w, size_t wl)
{
    return n - i >= wl && memcmp(s + i, w, wl) == 0;
}

/* The length of the match of the pattern at s[i], or 0. */
static size_t step_at(const char *s, size_t n, size_t i, int multiline, const rlvr_shaping_marker *extra,
                      size_t n_extra)
{
    unsigned char c = (unsigned char)s[i];
    if (c == 'S' && lit(s, n, i, "Step ", 5)) {
        size_t j = digits(s, n, i + 5);
        if (j > i + 5 && j < n && s[j] == ':') return j + 1 - i;
    }
    if (i == 0 || (multiline && s[i - 1] == '\n')) {
        size_t j = digits(s, n, i);
        if (j > i && j < n && s[j] == '.') return j + 1 - i;
    }
    if (c == '\n' && i + 1 < n && (s[i + 1] == '-' || s[i + 1] == '*')) return 2;
    if (c == 'F' && lit(s, n, i, "First,", 6)) return 6;
    if (c == 'S' && lit(s, n, i, "Second,", 7)) return 7;
    if (c == 'N' && lit(s, n, i, "Next,", 5)) return 5;
    if (c == 'F' && lit(s, n, i, "Finally,", 8)) return 8;
    for (size_t e = 0; e < n_extra; e++)
        if (extra[e].len && lit(s, n, i, extra[e].ptr, extra[e].len)) return extra[e].len;
    return 0;
}

size_t rlvr_shaping_steps(const char *s, size_t n, int multiline, const rlvr_shaping_marker *extra,
                          size_t n_extra)
{
    /* Bytes a match can start with, so that most bytes are passed over with
     * one table look-up: the pattern's 'S', 'F', 'N', '\n', and the first
     * byte of each extra marker (a number at a line start is checked by
     * position). */
    unsigned char first[256] = {0};
    first['S'] = first['F'] = first['N'] = first['\n'] = 1;
    for (size_t e = 0; e < n_extra; e++)
        if (extra[e].len) first[(unsigned char)extra[e].ptr[0]] = 1;
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        if (!first[(unsigned char)s[i]] && i != 0 && !(multiline && s[i - 1] == '\n')) {
            i++;
            continue;
        }
        size_t m = step_at(s, n, i, multiline, extra, n_extra);
        if (m) {
            count++;
            i += m;
        } else {
            /* Python's findall moves on by one character; an ASCII pattern
             * cannot start inside a multi-byte character, nor can a valid
             * UTF-8 marker, so moving on by one byte finds the same matches. */
            i++;
        }
    }
    return count;
}

/* -- formulas -------------------------------------------------------------- */

double rlvr_shaping_kimi(double len, double min_len, double max_len, int correct)
{
    if (!(max_len > min_len)) return 0.0;
    double lambda = 0.5 - (len - min_len) / (max_len - min_len);
    return correct ? lambda : (lambda < 0 ? lambda : 0.0);
}

double rlvr_shaping_cosine(const rlvr_shaping_cosine_params *p, double len, int correct)
{
    double lo, hi;
    if (correct) {
        lo = p->min_value_correct;
        hi = p->max_value_correct;
    } else {
        lo = p->max_value_wrong;
        hi = p->min_value_wrong;
    }
    double progress = p->max_len > 0 ? len / p->max_len : 1.0;
    if (len > p->max_len) {
        if (p->over == RLVR_SHAPING_OVER_PENALTY) return p->exceed_length;
        if (p->over == RLVR_SHAPING_OVER_CLAMP) progress = 1.0;
    }
    double c = cos(progress * 3.14159265358979323846);
    return lo + 0.5 * (hi - lo) * (1.0 + c);
}

double rlvr_shaping_overlong(double len, double max_len, double cache)
{
    if (len <= max_len - cache) return 0.0;
    if (len <= max_len) return (max_len - cache - len) / cache;
    return -1.0;
}

rlvr_shaping_verdict rlvr_shaping_judge(int status, double value, double threshold)
{
    if (status < 0) return RLVR_SHAPING_ABSENT;
    if (status == 1) return RLVR_SHAPING_ABSTAINED;
    if (status != 0) return RLVR_SHAPING_ERRORED;
    if (!finite_number(value)) return RLVR_SHAPING_NONFINITE;
    return value >= threshold ? RLVR_SHAPING_CORRECT : RLVR_SHAPING_WRONG;
}

const char *rlvr_shaping_verdict_reason(rlvr_shaping_verdict v)
{
    switch (v) {
    case RLVR_SHAPING_CORRECT: return "correct";
    case RLVR_SHAPING_WRONG: return "wrong";
    case RLVR_SHAPING_ABSENT: return "accuracy_missing";
    case RLVR_SHAPING_ABSTAINED: return "accuracy_abstained";
    default: return "accuracy_error";
    }
}

const char *rlvr_shaping_strerror(int code)
{
    switch (code) {
    case RLVR_SHAPING_OK: return "ok";
    case RLVR_SHAPING_ENOMEM: return "out of memory counting n-grams";
    case RLVR_SHAPING_ETOOBIG: return "text of 4 GiB or more";
    default: return "unknown error";
    }
}
