/*
 * test_shaping.c -- the shaping engine (verifiers/shaping.c) by table:
 * character counts, the CJK ranges, approximate tokens, the word split and
 * exact n-gram counts (against a brute-force count on seeded random texts,
 * and on inputs built to be large or repetitive), the step-marker scanner,
 * and the Kimi, cosine and DAPO formulas with their edges.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shaping.h"
#include "tap.h"

static rlvr_shaping_ngrams reps(const char *s, int n, rlvr_shaping_split split)
{
    rlvr_shaping_ngrams g;
    int rc = rlvr_shaping_repetition(s, strlen(s), n, split, &g);
    if (rc) diag("rlvr_shaping_repetition: %s", rlvr_shaping_strerror(rc));
    return g;
}

/* -- a brute-force n-gram count over ASCII words, for the random check -- */
static size_t split_ascii(const char *s, size_t n, size_t *off, size_t *len)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && (s[i] == ' ' || s[i] == '\n')) i++;
        if (i == n) break;
        size_t st = i;
        while (i < n && s[i] != ' ' && s[i] != '\n') i++;
        off[k] = st;
        len[k] = i - st;
        k++;
    }
    return k;
}

static int word_eq(const char *s, size_t o1, size_t l1, size_t o2, size_t l2)
{
    if (l1 != l2) return 0;
    for (size_t i = 0; i < l1; i++) {
        char a = s[o1 + i], b = s[o2 + i];
        if (a >= 'A' && a <= 'Z') a = (char)(a + 32);
        if (b >= 'A' && b <= 'Z') b = (char)(b + 32);
        if (a != b) return 0;
    }
    return 1;
}

static size_t brute_distinct(const char *s, size_t nw, const size_t *off, const size_t *len, int n)
{
    if (nw < (size_t)n) return 0;
    size_t total = nw - (size_t)n + 1, distinct = 0;
    for (size_t i = 0; i < total; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            int same = 1;
            for (int k = 0; k < n && same; k++)
                same = word_eq(s, off[i + (size_t)k], len[i + (size_t)k], off[j + (size_t)k], len[j + (size_t)k]);
            seen = same;
        }
        if (!seen) distinct++;
    }
    return distinct;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(void)
{
    plan_no_plan();

    /* -- characters, CJK ranges, approximate tokens -- */
    ok(rlvr_shaping_chars("", 0) == 0, "chars: empty");
    ok(rlvr_shaping_chars("abc", 3) == 3, "chars: ASCII");
    ok(rlvr_shaping_chars("数学", 6) == 2, "chars: two Han characters in six bytes");
    ok(rlvr_shaping_chars("a\0b", 3) == 3, "chars: a NUL is a character");
    ok(rlvr_shaping_chars("😀x", 5) == 2, "chars: an emoji (4 bytes) is one");
    ok(rlvr_shaping_chars("\xe6\x95", 2) == 1, "chars: a truncated sequence stays in bounds");

    struct { uint32_t cp; int cjk; const char *what; } cps[] = {
        {'a', 0, "Latin a"}, {0x00E9, 0, "é"}, {0x0416, 0, "Cyrillic Ж"}, {0x4E00, 1, "一 (first unified ideograph)"},
        {0x9FFF, 1, "last unified ideograph"}, {0x3400, 1, "extension A"}, {0x20000, 1, "extension B"},
        {0x3042, 1, "hiragana あ"}, {0x30AB, 1, "katakana カ"}, {0xFF76, 1, "half-width katakana"},
        {0xAC00, 1, "Hangul 가"}, {0x1100, 1, "Hangul jamo"}, {0x3005, 1, "々"}, {0x3002, 0, "。 (punctuation)"},
        {0xFF0C, 0, "full-width comma"}, {0x3000, 0, "ideographic space"}, {0x1F600, 0, "emoji"},
        {0x0E01, 0, "Thai"}, {0xF900, 1, "compatibility ideograph"}, {0x323AF, 1, "extension H's end"},
        {0x323B0, 0, "past extension H"},
    };
    for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++)
        ok(rlvr_shaping_is_cjk(cps[i].cp) == cps[i].cjk, "is_cjk(U+%04X %s) = %d", (unsigned)cps[i].cp, cps[i].what,
           cps[i].cjk);

    struct { const char *s; size_t tokens, cjk; } ap[] = {
        {"", 0, 0}, {"abcd", 1, 0}, {"abcde", 2, 0}, {"数学很有趣", 5, 5}, {"数学 is fun", 2 + 2, 2},
        {"ひらがなカタカナ", 8, 8}, {"Ж", 1, 0}, {"😀", 1, 0},
    };
    for (size_t i = 0; i < sizeof ap / sizeof ap[0]; i++) {
        size_t cjk = 99;
        size_t t = rlvr_shaping_approx_tokens(ap[i].s, strlen(ap[i].s), &cjk);
        ok(t == ap[i].tokens && cjk == ap[i].cjk, "approx_tokens(\"%s\") = %zu (%zu CJK)", ap[i].s, ap[i].tokens, ap[i].cjk);
    }

    double len = -1;
    ok(rlvr_shaping_length("数学", 6, -1, RLVR_SHAPING_UNIT_CHARS, &len) == 0 && len == 2, "length in chars");
    ok(rlvr_shaping_length("数学", 6, -1, RLVR_SHAPING_UNIT_BYTES, &len) == 0 && len == 6, "length in bytes");
    ok(rlvr_shaping_length("数学", 6, 17, RLVR_SHAPING_UNIT_TOKENS, &len) == 0 && len == 17, "length in tokens");
    ok(rlvr_shaping_length("数学", 6, -1, RLVR_SHAPING_UNIT_TOKENS, &len) == -1, "length in tokens, none given: -1");
    ok(rlvr_shaping_unit_parse("tokens", 6) == RLVR_SHAPING_UNIT_TOKENS && rlvr_shaping_unit_parse("tok", 3) == -1,
       "unit names parse, and only whole");

    /* -- word split and n-grams -- */
    struct {
        const char *s;
        int n;
        rlvr_shaping_split split;
        size_t words, total, distinct;
        const char *what;
    } rp[] = {
        {"", 3, RLVR_SHAPING_SPLIT_CJK, 0, 0, 0, "empty"},
        {"a b", 3, RLVR_SHAPING_SPLIT_CJK, 2, 0, 0, "fewer words than n"},
        {"a b c", 3, RLVR_SHAPING_SPLIT_CJK, 3, 1, 1, "exactly n words"},
        {"A b C a B c", 3, RLVR_SHAPING_SPLIT_CJK, 6, 4, 3, "ASCII case folded"},
        {"ÉCOLE école École", 1, RLVR_SHAPING_SPLIT_CJK, 3, 3, 1, "non-ASCII case folded (utf8proc)"},
        {"ЖУК жук", 1, RLVR_SHAPING_SPLIT_CJK, 2, 2, 1, "Cyrillic case folded"},
        {"  a\t\nb\r\x1c" "c\v\fd  ", 1, RLVR_SHAPING_SPLIT_WHITESPACE, 4, 4, 4, "Python's ASCII white space, \\x1c included"},
        {"a\xc2\xa0" "b\xe3\x80\x80" "c\xe2\x80\x83" "d", 1, RLVR_SHAPING_SPLIT_WHITESPACE, 4, 4, 4,
         "no-break, ideographic and em spaces split"},
        {"a\xe2\x80\x8b" "b", 1, RLVR_SHAPING_SPLIT_WHITESPACE, 1, 1, 1, "a zero-width space does not (as in Python)"},
        {"我爱你我爱你", 3, RLVR_SHAPING_SPLIT_CJK, 6, 4, 3, "Chinese: one word per character"},
        {"我爱你我爱你", 3, RLVR_SHAPING_SPLIT_WHITESPACE, 1, 0, 0, "Chinese under open-r1's split: one word"},
        {"答えは四です答えは四です", 2, RLVR_SHAPING_SPLIT_CJK, 12, 11, 6, "Japanese kanji and kana"},
        {"정답은사 정답은사", 2, RLVR_SHAPING_SPLIT_CJK, 8, 7, 4, "Hangul syllables"},
        {"x=1数y=2数x=1数", 1, RLVR_SHAPING_SPLIT_CJK, 6, 6, 3, "Latin runs between Han characters are words"},
        {"所以answer是4所以answer是4", 3, RLVR_SHAPING_SPLIT_CJK, 10, 8, 5, "Chinese and English mixed"},
        {"😀 😀 😀 😀", 2, RLVR_SHAPING_SPLIT_CJK, 4, 3, 1, "emoji are ordinary words"},
        {"word", 1024, RLVR_SHAPING_SPLIT_CJK, 1, 0, 0, "the largest n on a short text"},
    };
    for (size_t i = 0; i < sizeof rp / sizeof rp[0]; i++) {
        rlvr_shaping_ngrams g = reps(rp[i].s, rp[i].n, rp[i].split);
        ok(g.words == rp[i].words && g.total == rp[i].total && g.distinct == rp[i].distinct,
           "repetition: %s (%zu words, %zu n-grams, %zu distinct)", rp[i].what, rp[i].words, rp[i].total,
           rp[i].distinct);
        if (g.words != rp[i].words || g.total != rp[i].total || g.distinct != rp[i].distinct)
            diag("  got %zu words, %zu n-grams, %zu distinct", g.words, g.total, g.distinct);
    }
    {
        rlvr_shaping_ngrams g = {0};
        int rc = rlvr_shaping_repetition("a\0b a\0b a\0c", 11, 1, RLVR_SHAPING_SPLIT_CJK, &g);
        ok(rc == 0 && g.words == 3 && g.distinct == 2, "NUL bytes are part of a word, not its end");
        rc = rlvr_shaping_repetition("\xff\xfe x \xff\xfe x", 9, 2, RLVR_SHAPING_SPLIT_CJK, &g);
        ok(rc == 0 && g.words == 4 && g.total == 3 && g.distinct == 2, "invalid bytes: counted, in bounds");
    }
    rlvr_shaping_ngrams g1 = {.words = 10, .total = 8, .distinct = 2};
    is_num(rlvr_shaping_repetition_score(&g1, -1.0), -0.75, 1e-15, "score = (1 - distinct/total) * max_penalty");
    rlvr_shaping_ngrams g0 = {.words = 2, .total = 0, .distinct = 0};
    is_num(rlvr_shaping_repetition_score(&g0, -1.0), 0.0, 0, "no n-gram: 0");
    rlvr_shaping_ngrams g2 = {.words = 5, .total = 3, .distinct = 3};
    double z = rlvr_shaping_repetition_score(&g2, -1.0);
    ok(z == 0.0 && !signbit(z), "no repetition: +0, never -0");

    /* Random texts over a small vocabulary (many repeats, case mixed) against
     * the brute-force count. */
    {
        const char *vocab[] = {"a", "B", "b", "cc", "CC", "d", "ee", "f"};
        enum { LEN = 600 };
        char *buf = malloc(LEN * 4);
        size_t *off = malloc(LEN * sizeof *off), *wl = malloc(LEN * sizeof *wl);
        int bad = 0;
        for (int round = 0; round < 200; round++) {
            size_t k = 0;
            int words = (int)(next() % 120);
            for (int w = 0; w < words; w++) {
                const char *v = vocab[next() % 8];
                memcpy(buf + k, v, strlen(v));
                k += strlen(v);
                buf[k++] = next() % 5 ? ' ' : '\n';
            }
            int n = 1 + (int)(next() % 5);
            rlvr_shaping_ngrams g;
            rlvr_shaping_repetition(buf, k, n, RLVR_SHAPING_SPLIT_WHITESPACE, &g);
            size_t nw = split_ascii(buf, k, off, wl);
            size_t want = brute_distinct(buf, nw, off, wl, n);
            if (g.words != nw || g.distinct != want) {
                if (!bad) diag("round %d: n=%d, %zu words (want %zu), %zu distinct (want %zu)", round, n, g.words, nw,
                               g.distinct, want);
                bad++;
            }
        }
        ok(bad == 0, "200 random texts: distinct n-grams equal a brute-force count");
        free(buf);
        free(off);
        free(wl);
    }
    /* Large: 1,000,000 words cycling through 1,000 (so 1,000 distinct
     * trigrams), and 300,000 distinct words. */
    {
        size_t cap = 8u << 20, k = 0;
        char *buf = malloc(cap);
        for (int w = 0; w < 1000000; w++) k += (size_t)snprintf(buf + k, cap - k, "w%d ", w % 1000);
        rlvr_shaping_ngrams g;
        int rc = rlvr_shaping_repetition(buf, k, 3, RLVR_SHAPING_SPLIT_CJK, &g);
        ok(rc == 0 && g.words == 1000000 && g.total == 999998 && g.distinct == 1000,
           "a million words in a cycle of 1,000: 1,000 distinct trigrams");
        k = 0;
        for (int w = 0; w < 300000; w++) k += (size_t)snprintf(buf + k, cap - k, "%d\n", w);
        rc = rlvr_shaping_repetition(buf, k, 4, RLVR_SHAPING_SPLIT_CJK, &g);
        ok(rc == 0 && g.distinct == g.total && g.total == 299997, "300,000 distinct words: every 4-gram distinct");
        for (k = 0; k < 2000000; k += 2) memcpy(buf + k, k % 4 ? "A " : "a ", 2);
        rc = rlvr_shaping_repetition(buf, k, 1024, RLVR_SHAPING_SPLIT_CJK, &g);
        ok(rc == 0 && g.words == 1000000 && g.total == 1000000 - 1023 && g.distinct == 1,
           "a million copies of one word (case mixed) at the largest n: one distinct 1024-gram");
        free(buf);
    }

    /* -- step markers -- */
    rlvr_shaping_marker zh[] = {{"首先，", strlen("首先，")}, {"最后，", strlen("最后，")}, {"", 0}};
    struct {
        const char *s;
        int multiline;
        int extra;
        size_t want;
        const char *what;
    } st[] = {
        {"Step 1: a Step 2: b", 0, 0, 2, "Step N:"},
        {"Step 1 : a", 0, 0, 0, "Step N needs its colon at once"},
        {"Step : a", 0, 0, 0, "Step needs a number"},
        {"Step 123456789012345678901234567890: a", 0, 0, 1, "a long number"},
        {"Step \xd9\xa1: a", 0, 0, 1, "an Arabic-Indic digit is \\d"},
        {"Step \xe2\x85\xa0: a", 0, 0, 0, "a Roman numeral (Nl) is not \\d"},
        {"1. a\n2. b", 0, 0, 1, "^\\d+\\. at the start of the text only"},
        {"1. a\n2. b", 1, 0, 2, "... and of every line with multiline"},
        {"12. a", 0, 0, 1, "several digits before the dot"},
        {" 1. a", 0, 0, 0, "not after a space"},
        {"1 a", 0, 0, 0, "the dot is needed"},
        {"\n-\n*\n+", 0, 0, 2, "\\n- and \\n*, not \\n+"},
        {"First,Second,Next,Finally,", 0, 0, 4, "the four transitions"},
        {"Firstly, First , FIRST,", 0, 0, 0, "near misses"},
        {"首先，计算。其次，除。最后，完。", 0, 1, 2, "extra markers"},
        {"首先，计算。其次，除。最后，完。", 0, 0, 0, "no extra markers: none"},
        {"Step", 0, 0, 0, "a prefix at the end of the text"},
        {"Step 1", 0, 0, 0, "digits at the end of the text"},
        {"", 0, 0, 0, "empty"},
    };
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        size_t got = rlvr_shaping_steps(st[i].s, strlen(st[i].s), st[i].multiline, st[i].extra ? zh : NULL,
                                        st[i].extra ? 3 : 0);
        ok(got == st[i].want, "steps: %s (%zu)", st[i].what, st[i].want);
        if (got != st[i].want) diag("  got %zu", got);
    }
    {
        size_t n = 1 << 20;
        char *buf = malloc(n);
        for (size_t i = 0; i < n; i++) buf[i] = "\n-"[i % 2];
        ok(rlvr_shaping_steps(buf, n, 1, NULL, 0) == n / 2, "a megabyte of \\n-: one marker per two bytes");
        memset(buf, '9', n);
        ok(rlvr_shaping_steps(buf, n, 1, NULL, 0) == 0, "a megabyte of digits with no dot: none (and no quadratic scan)");
        free(buf);
    }

    /* -- formulas -- */
    is_num(rlvr_shaping_kimi(10, 10, 20, 1), 0.5, 1e-15, "kimi: shortest correct 0.5");
    is_num(rlvr_shaping_kimi(20, 10, 20, 1), -0.5, 1e-15, "kimi: longest correct -0.5");
    is_num(rlvr_shaping_kimi(12, 10, 20, 0), 0.0, 0, "kimi: a short wrong answer 0");
    is_num(rlvr_shaping_kimi(18, 10, 20, 0), -0.3, 1e-15, "kimi: a long wrong answer min(0, lambda)");
    is_num(rlvr_shaping_kimi(15, 15, 15, 1), 0.0, 0, "kimi: all lengths equal: 0");

    rlvr_shaping_cosine_params p = {-1.0, -0.5, 0.5, 1.0, 1000, RLVR_SHAPING_OVER_CLAMP, -1.0};
    is_num(rlvr_shaping_cosine(&p, 0, 1), 1.0, 1e-15, "cosine: correct at 0: max_value_correct");
    is_num(rlvr_shaping_cosine(&p, 1000, 1), 0.5, 1e-15, "cosine: correct at max_len: min_value_correct");
    is_num(rlvr_shaping_cosine(&p, 500, 1), 0.75, 1e-12, "cosine: correct at half: the middle");
    is_num(rlvr_shaping_cosine(&p, 0, 0), -1.0, 1e-15, "cosine: wrong at 0: min_value_wrong");
    is_num(rlvr_shaping_cosine(&p, 1000, 0), -0.5, 1e-15, "cosine: wrong at max_len: max_value_wrong");
    is_num(rlvr_shaping_cosine(&p, 5000, 1), 0.5, 1e-15, "cosine: clamped past max_len");
    p.over = RLVR_SHAPING_OVER_WRAP;
    is_num(rlvr_shaping_cosine(&p, 2000, 1), 1.0, 1e-12, "cosine, wrap: at 2 x max_len the full reward again (open-r1)");
    p.over = RLVR_SHAPING_OVER_PENALTY;
    is_num(rlvr_shaping_cosine(&p, 1001, 1), -1.0, 0, "cosine, penalty: exceed_length past max_len");
    is_num(rlvr_shaping_cosine(&p, 1000, 1), 0.5, 1e-15, "cosine, penalty: max_len itself is not past it");

    is_num(rlvr_shaping_overlong(80, 100, 20), 0.0, 0, "overlong: up to max - cache: 0");
    is_num(rlvr_shaping_overlong(90, 100, 20), -0.5, 1e-15, "overlong: halfway into the cache");
    is_num(rlvr_shaping_overlong(100, 100, 20), -1.0, 1e-15, "overlong: at max: -1");
    is_num(rlvr_shaping_overlong(1e12, 100, 20), -1.0, 0, "overlong: far past: -1");
    is_num(rlvr_shaping_overlong(100, 100, 0), 0.0, 0, "overlong, no cache: at max 0");
    is_num(rlvr_shaping_overlong(101, 100, 0), -1.0, 0, "overlong, no cache: past max -1");

    ok(rlvr_shaping_judge(0, 1.0, 1.0) == RLVR_SHAPING_CORRECT, "judge: 1 at threshold 1 is correct");
    ok(rlvr_shaping_judge(0, 0.999, 1.0) == RLVR_SHAPING_WRONG, "judge: below the threshold is wrong");
    ok(rlvr_shaping_judge(1, 0, 1.0) == RLVR_SHAPING_ABSTAINED, "judge: abstained");
    ok(rlvr_shaping_judge(2, 0, 1.0) == RLVR_SHAPING_ERRORED, "judge: errored");
    ok(rlvr_shaping_judge(-1, 0, 1.0) == RLVR_SHAPING_ABSENT, "judge: absent");
    ok(rlvr_shaping_judge(0, 0.0 / 0.0, 1.0) == RLVR_SHAPING_NONFINITE, "judge: NaN is not a verdict");
    ok(rlvr_shaping_judge(7, 1, 1.0) == RLVR_SHAPING_ERRORED, "judge: an unknown status is an error");
    is_str(rlvr_shaping_verdict_reason(RLVR_SHAPING_ABSTAINED), "accuracy_abstained", "verdict reasons");
    return done_testing();
}
