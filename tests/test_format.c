/*
 * test_format.c -- the format engine (verifiers/format.c) in C: what
 * normalisation does (view, spans, offsets), the partial-credit counts,
 * open-r1's tag counting (non-overlapping, as str.count), the normalised
 * copy, look-alike tags, user patterns under PCRE2 limits, the stop-token
 * list parser, and a fuzz of the scanner.
 *
 * The fuzz builds inputs from fragments (the four tags, look-alikes, stop
 * tokens, whitespace, CRLF, NUL, letters) at random and by mutating
 * well-formed completions, copies each into a buffer of its exact size (so
 * that a sanitizer or valgrind sees any overread), and checks invariants:
 * the verdict of the default rule equals a naive reference written here
 * (count every tag by brute force, then check order and the text between),
 * with and without a pre-fill; every allow policy and tolerant newlines
 * only ever accept more; spans and offsets lie inside the input; partial
 * credit is in [0, 1]; the engine is deterministic. RLVR_FUZZ_ITERATIONS
 * sets the number of inputs (make check: 20000; make fuzz: 2,000,000).
 */
#include "format.h"
#include "tap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S(lit) lit, sizeof(lit) - 1

static rlvr_format_reason check(const char *t, size_t n, const rlvr_format_opts *o, rlvr_format_result *r)
{
    return rlvr_format_check(t, n, o, r);
}

static int span_is(const char *p, size_t n, const char *want)
{
    return p && n == strlen(want) && memcmp(p, want, n) == 0;
}

/* ---- a naive reference for the default rule ------------------------------ */

static int ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static size_t count_all(const char *t, size_t n, const char *tag, size_t *first)
{
    size_t m = strlen(tag), c = 0;
    *first = SIZE_MAX;
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(t + i, tag, m) == 0) {
            if (c++ == 0) *first = i;
        }
    return c;
}

static int only_ws(const char *t, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++)
        if (!ws((unsigned char)t[i])) return 0;
    return 1;
}

/* The default R1-Zero rule (tolerant, everything rejected), stop tokens
 * <|im_end|> and <|endoftext|>, optionally with a pre-fill. */
static int reference_ok(const char *t, size_t n, int prefilled)
{
    size_t b = 0, e = n;
    while (b < e && ws((unsigned char)t[b])) b++;
    for (;;) {
        while (e > b && ws((unsigned char)t[e - 1])) e--;
        if (e - b >= 10 && memcmp(t + e - 10, "<|im_end|>", 10) == 0) { e -= 10; continue; }
        if (e - b >= 13 && memcmp(t + e - 13, "<|endoftext|>", 13) == 0) { e -= 13; continue; }
        break;
    }
    const char *u = t + b;
    size_t m = e - b, o, c, a, z;
    size_t no = count_all(u, m, "<think>", &o), nc = count_all(u, m, "</think>", &c);
    size_t na = count_all(u, m, "<answer>", &a), nz = count_all(u, m, "</answer>", &z);
    if (nc != 1 || na != 1 || nz != 1) return 0;
    size_t think_from;
    if (prefilled) {
        if (no != 0) return 0;
        think_from = 0;
    } else {
        if (no != 1 || !only_ws(u, 0, o)) return 0;
        think_from = o + 7;
    }
    if (!(think_from <= c && c < a && a < z)) return 0;
    return !only_ws(u, think_from, c) && only_ws(u, c + 8, a) && !only_ws(u, a + 8, z) && only_ws(u, z + 9, m);
}

/* ---- fuzz inputs -------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const frags[] = {
    "<think>", "</think>", "<answer>", "</answer>", "<think>", "</think>", "<answer>", "</answer>",
    "<THINK>", "<think >", "&lt;think&gt;", "<thinking>", "</answer", "<answer", "<", "</", "<t", "<a",
    " ", "\n", "\r\n", "\t", "\r", "\xc2\xa0", "x", "42", "reason", "\xe4\xb8\x80", "<|im_end|>",
    "<|endoftext|>", "\n\n", " ", "y",
};
#define N_FRAGS (sizeof frags / sizeof frags[0])

static size_t gen_random(char *buf, size_t cap)
{
    size_t k = 0, parts = next() % 24;
    for (size_t i = 0; i < parts; i++) {
        const char *f = frags[next() % N_FRAGS];
        size_t m = strlen(f);
        if (next() % 41 == 0) { f = "\0"; m = 1; } /* an embedded NUL */
        if (k + m > cap) break;
        memcpy(buf + k, f, m);
        k += m;
    }
    return k;
}

static const char *const seeds[] = {
    "<think>\nreason\n</think>\n<answer>\n42\n</answer>",
    " <think>r</think><answer>1</answer><|im_end|>",
    "r\n</think>\n<answer>\n1\n</answer>",
    "<think>a</think>\r\n<answer>b</answer>\r\n",
};

static size_t gen_mutated(char *buf, size_t cap)
{
    const char *s = seeds[next() % (sizeof seeds / sizeof seeds[0])];
    size_t k = strlen(s);
    memcpy(buf, s, k);
    size_t edits = 1 + next() % 3;
    for (size_t i = 0; i < edits; i++) {
        size_t at = k ? next() % (k + 1) : 0;
        switch (next() % 4) {
        case 0: { /* insert a fragment */
            const char *f = frags[next() % N_FRAGS];
            size_t m = strlen(f);
            if (k + m > cap) break;
            memmove(buf + at + m, buf + at, k - at);
            memcpy(buf + at, f, m);
            k += m;
            break;
        }
        case 1: { /* delete a run */
            size_t m = 1 + next() % 8;
            if (at + m > k) m = k - at;
            memmove(buf + at, buf + at + m, k - at - m);
            k -= m;
            break;
        }
        case 2: /* flip a byte */
            if (at < k) buf[at] = (char)(buf[at] ^ (1 << (next() % 7)));
            break;
        default: { /* duplicate a run */
            size_t m = 1 + next() % 12;
            if (at + m > k) m = k - at;
            if (k + m > cap) break;
            memmove(buf + at + m, buf + at, k - at);
            k += m;
            break;
        }
        }
    }
    return k;
}

static int inside(const char *p, size_t n, const char *t, size_t len)
{
    return !p || (p >= t && p + n <= t + len);
}

static void fuzz(long iterations)
{
    static const rlvr_format_str stops[] = {{S("<|im_end|>")}, {S("<|endoftext|>")}};
    rlvr_format_opts dflt, pre, allow, strict, r1;
    rlvr_format_opts_default(&dflt);
    dflt.stop_tokens = stops;
    dflt.n_stop_tokens = 2;
    pre = dflt;
    pre.prefill = RLVR_FORMAT_PREFILL_YES;
    allow = dflt;
    allow.allow_answer_inside_think = allow.allow_empty_answer = allow.allow_empty_think = 1;
    allow.allow_text_after_answer = 1;
    strict = dflt;
    strict.strict_newlines = 1;
    r1 = dflt;
    r1.tmpl = RLVR_FORMAT_R1;
    r1.prefill = RLVR_FORMAT_PREFILL_AUTO;

    char buf[512];
    long bad_ref = 0, bad_pre = 0, bad_mono = 0, bad_bounds = 0, bad_det = 0, bad_tc = 0, oks = 0;
    for (long it = 0; it < iterations; it++) {
        size_t n = (it & 1) ? gen_random(buf, sizeof buf) : gen_mutated(buf, sizeof buf);
        char *t = malloc(n ? n : 1); /* exact size: an overread leaves the block */
        memcpy(t, buf, n);
        rlvr_format_result a, b, c;
        const rlvr_format_opts *all[] = {&dflt, &pre, &allow, &strict, &r1};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            check(t, n, all[i], &a);
            if ((unsigned)a.reason >= RLVR_FMT_N_REASONS
                || strcmp(rlvr_format_reason_name(a.reason), "unknown") == 0
                || !inside(a.think, a.think_len, t, n) || !inside(a.answer, a.answer_len, t, n)
                || (a.offset != SIZE_MAX && a.offset >= n) || a.tags_once > a.tags_expected
                || a.view.begin < t || a.view.end > t + n || a.view.begin > a.view.end
                || ((a.reason == RLVR_FMT_OK) != (a.tag == NULL && a.offset == SIZE_MAX) && a.reason != RLVR_FMT_EMPTY))
                bad_bounds++;
            check(t, n, all[i], &b);
            if (memcmp(&a, &b, sizeof a) != 0) bad_det++;
        }
        rlvr_format_reason rd = check(t, n, &dflt, &a);
        oks += rd == RLVR_FMT_OK;
        if ((rd == RLVR_FMT_OK) != reference_ok(t, n, 0)) {
            if (bad_ref++ < 3) diag("reference differs (%s) on: %.*s", rlvr_format_reason_name(rd), (int)n, t);
        }
        if ((check(t, n, &pre, &c) == RLVR_FMT_OK) != reference_ok(t, n, 1)) {
            if (bad_pre++ < 3) diag("pre-fill reference differs (%s) on: %.*s", rlvr_format_reason_name(c.reason), (int)n, t);
        }
        if (rd == RLVR_FMT_OK && check(t, n, &allow, &b) != RLVR_FMT_OK) bad_mono++;
        if (check(t, n, &strict, &b) == RLVR_FMT_OK && rd != RLVR_FMT_OK) bad_mono++;
        size_t counts[RLVR_TAG_COUNT_N];
        rlvr_tag_count(t, n, counts);
        for (int i = 0; i < RLVR_TAG_COUNT_N; i++)
            if (counts[i] * strlen(rlvr_tag_count_strings[i]) > n) bad_tc++;
        char *copy = malloc(n + 8);
        int pf;
        if (rlvr_format_normalise_copy(t, n, &pre, copy, &pf) > n + 8 || !pf) bad_tc++;
        free(copy);
        size_t ln, at = rlvr_format_lookalike(t, n, &ln);
        if (at != SIZE_MAX && (at >= n || at + ln > n)) bad_bounds++;
        free(t);
    }
    ok(bad_ref == 0, "fuzz: %ld inputs, the default rule equals the naive reference (%ld differ; %ld accepted)",
       iterations, bad_ref, oks);
    ok(bad_pre == 0, "fuzz: with a pre-fill too (%ld differ)", bad_pre);
    ok(bad_mono == 0, "fuzz: allow policies and tolerant newlines only ever accept more (%ld violations)", bad_mono);
    ok(bad_bounds == 0, "fuzz: reasons named, spans, offsets and views inside the input (%ld violations)", bad_bounds);
    ok(bad_det == 0, "fuzz: the same input gives the same result (%ld differ)", bad_det);
    ok(bad_tc == 0, "fuzz: tag counts and normalised copies within bounds (%ld violations)", bad_tc);
    ok(oks > iterations / 50, "fuzz: the generator reaches well-formed completions too (%ld)", oks);
}

int main(void)
{
    plan_no_plan();
    rlvr_format_opts o;
    rlvr_format_result r;
    static const rlvr_format_str stops[] = {{S("<|im_end|>")}, {S("<|endoftext|>")}};

    /* ---- normalisation and spans ---- */
    rlvr_format_opts_default(&o);
    o.stop_tokens = stops;
    o.n_stop_tokens = 2;
    const char t1[] = "  <think>\n reason \n</think>\n<answer> 42 </answer>\n<|im_end|> <|endoftext|>\n";
    is_str(rlvr_format_reason_name(check(t1, sizeof t1 - 1, &o, &r)), "ok", "leading spaces and two stop tokens: ok");
    ok(r.view.leading_ws == 2 && r.view.stop_tokens_stripped == 2 && !r.view.prefilled,
       "the view records the leading whitespace and the stop tokens stripped");
    ok(span_is(r.think, r.think_len, "reason") && span_is(r.answer, r.answer_len, "42"),
       "think and answer spans are trimmed and point into the input");
    ok(r.tags_expected == 4 && r.tags_once == 4 && r.tag == NULL && r.offset == SIZE_MAX && r.allowed == 0,
       "a pass: four tags expected and present once, no fault");

    const char t2[] = "<think>x</think><answer>1</answer>  Thanks";
    check(t2, sizeof t2 - 1, &o, &r);
    ok(r.reason == RLVR_FMT_TEXT_AFTER_ANSWER && r.offset == 36 && strcmp(r.policy, "text_after_answer") == 0,
       "text after the answer: offset of its first byte, and the policy that rejected it");
    o.allow_text_after_answer = 1;
    check(t2, sizeof t2 - 1, &o, &r);
    ok(r.reason == RLVR_FMT_OK && r.allowed == RLVR_FMT_ALLOWED_TEXT_AFTER_ANSWER && r.policy == NULL,
       "allowed: ok, and the allowance is recorded");
    is_str(rlvr_format_allowed_name(3), "text_after_answer", "allowance bits are named after their options");
    o.allow_text_after_answer = 0;

    const char t3[] = "<think>a<think>b</think></think><answer>1</answer>";
    check(t3, sizeof t3 - 1, &o, &r);
    ok(r.reason == RLVR_FMT_NESTED_THINK && r.offset == 8 && strcmp(r.tag, "<think>") == 0 && r.policy == NULL,
       "nested think: the second <think>, no policy involved");

    o.prefill = RLVR_FORMAT_PREFILL_YES;
    const char t4[] = "reasoning\n</think>\n<answer>5</answer>";
    check(t4, sizeof t4 - 1, &o, &r);
    ok(r.reason == RLVR_FMT_OK && r.view.prefilled && r.tags_expected == 3 && span_is(r.think, r.think_len, "reasoning"),
       "pre-filled: the think block starts at the first byte; three tags expected");
    o.prefill = RLVR_FORMAT_PREFILL_AUTO;
    check(t1, sizeof t1 - 1, &o, &r);
    ok(r.reason == RLVR_FMT_OK && !r.view.prefilled, "auto: a completion that opens <think> is not pre-filled");
    check(t4, sizeof t4 - 1, &o, &r);
    ok(r.reason == RLVR_FMT_OK && r.view.prefilled, "auto: one that does not, is");
    o.prefill = RLVR_FORMAT_PREFILL_NO;

    check(NULL, 0, &o, &r);
    ok(r.reason == RLVR_FMT_EMPTY && r.tags_once == 0, "no text at all: empty");
    const char t5[] = "<think>x</think>";
    o.tmpl = RLVR_FORMAT_R1;
    check(t5, sizeof t5 - 1, &o, &r);
    ok(r.reason == RLVR_FMT_EMPTY_SUMMARY && r.tags_expected == 2 && r.tags_once == 2, "R1 without a summary");
    o.tmpl = RLVR_FORMAT_R1_ZERO;
    check(t5, sizeof t5 - 1, &o, &r);
    ok(r.reason == RLVR_FMT_NO_ANSWER_OPEN && r.tags_once == 2 && r.offset == SIZE_MAX, "R1-Zero without an answer");

    /* ---- open-r1's tag counting ---- */
    size_t counts[RLVR_TAG_COUNT_N];
    const char t6[] = "<think>\nx\n</think>\n</think>\n<answer>\n<answer>\n1\n</answer>";
    rlvr_tag_count(t6, sizeof t6 - 1, counts);
    ok(counts[0] == 1 && counts[1] == 1 && counts[2] == 1 && counts[3] == 1,
       "tag counts do not overlap, as str.count: \\n</think>\\n</think>\\n counts once");
    const char t7[] = "a\0<think>\n\0\n</answer>\n</answer>";
    rlvr_tag_count(t7, sizeof t7 - 1, counts);
    ok(counts[0] == 1 && counts[1] == 0 && counts[2] == 0 && counts[3] == 2, "NUL bytes do not stop the count");
    char copy[64];
    int pf = 0;
    o.prefill = RLVR_FORMAT_PREFILL_YES;
    const char t8[] = " x\r\n</think>\r\n<|im_end|>";
    size_t n = rlvr_format_normalise_copy(t8, sizeof t8 - 1, &o, copy, &pf);
    ok(n == 18 && memcmp(copy, "<think>\nx\n</think>", 18) == 0 && pf,
       "the normalised copy: pre-fill prepended, CRLF made LF, stop token and trailing space gone");
    o.prefill = RLVR_FORMAT_PREFILL_NO;

    /* ---- look-alikes ---- */
    size_t ln = 0;
    ok(rlvr_format_lookalike(S("ok <think> and <THINK>"), &ln) == 15 && ln == 7, "look-alike: <THINK>, not the exact tag");
    ok(rlvr_format_lookalike(S("a &lt;/answer&gt; b"), &ln) == 2, "look-alike: &lt;/answer&gt;");
    ok(rlvr_format_lookalike(S("<thinking>"), &ln) == 0, "look-alike: <thinking>");
    ok(rlvr_format_lookalike(S("<think></think><answer></answer> a < b"), &ln) == SIZE_MAX, "exact tags are not look-alikes");

    /* ---- user patterns ---- */
    char err[300];
    rlvr_format_regex *re = rlvr_format_regex_new(S("^\\d+$"), 1000000, 10000, 16384, err, sizeof err);
    ok(re && rlvr_format_regex_match(re, S("123"), err, sizeof err) == RLVR_FORMAT_MATCH
           && rlvr_format_regex_match(re, S("12a"), err, sizeof err) == RLVR_FORMAT_NOMATCH,
       "a pattern matches and fails to match");
    ok(re && rlvr_format_regex_match(re, S("\xd9\xa3"), err, sizeof err) == RLVR_FORMAT_MATCH,
       "patterns see Unicode properties (\\d matches an Arabic-Indic digit)");
    rlvr_format_regex_free(re);
    re = rlvr_format_regex_new(S("^(a|aa)+$"), 5000, 10000, 16384, err, sizeof err);
    char as[64];
    memset(as, 'a', 60);
    as[60] = '!';
    ok(re && rlvr_format_regex_match(re, as, 61, err, sizeof err) == RLVR_FORMAT_LIMIT,
       "catastrophic backtracking stops at the match limit");
    rlvr_format_regex_free(re);
    re = rlvr_format_regex_new(S("^(?:(a)|b)*$"), 100000000, 50, 16384, err, sizeof err);
    char ab[20001];
    for (int i = 0; i < 20000; i++) ab[i] = (i & 1) ? 'a' : 'b';
    ab[20000] = 'c';
    rlvr_format_match dm = re ? rlvr_format_regex_match(re, ab, sizeof ab, err, sizeof err) : RLVR_FORMAT_FAILED;
    ok(dm == RLVR_FORMAT_LIMIT || dm == RLVR_FORMAT_NOMATCH,
       "a deep subject under a depth limit of 50 ends within the limits (%d)", (int)dm);
    rlvr_format_regex_free(re);
    re = rlvr_format_regex_new(S("(unclosed"), 1000, 1000, 1000, err, sizeof err);
    ok(!re && strstr(err, "offset 9"), "a bad pattern is refused with PCRE2's message and offset: %s", err);
    re = rlvr_format_regex_new(S("(*LIMIT_MATCH=100000000)^(a|aa)+$"), 5000, 10000, 16384, err, sizeof err);
    ok(re && rlvr_format_regex_match(re, as, 61, err, sizeof err) == RLVR_FORMAT_LIMIT,
       "an inline (*LIMIT_MATCH) cannot raise the configured limit");
    rlvr_format_regex_free(re);

    /* ---- the stop-token list ---- */
    rlvr_format_str *list;
    size_t k;
    ok(rlvr_format_parse_string_list(S("[\"<|im_end|>\",\"a\\u0000b\"]"), &list, &k, err, sizeof err) == 0 && k == 2
           && list[0].len == 10 && list[1].len == 3 && list[1].ptr[1] == '\0',
       "a JSON list of strings, NUL bytes kept");
    free(list);
    ok(rlvr_format_parse_string_list(S("{}"), &list, &k, err, sizeof err) == 0 && k == 0, "an empty Lua table: no tokens");
    free(list);
    ok(rlvr_format_parse_string_list(S("[\"a\", 3]"), &list, &k, err, sizeof err) == -1 && strstr(err, "item 2"),
       "a non-string item is refused, naming it");
    ok(rlvr_format_parse_string_list(S("[\"\"]"), &list, &k, err, sizeof err) == -1, "an empty token is refused");
    ok(rlvr_format_parse_string_list(S("[1"), &list, &k, err, sizeof err) == -1, "malformed JSON is refused");

    const char *it = getenv("RLVR_FUZZ_ITERATIONS");
    fuzz(it && *it ? atol(it) : 20000);
    return done_testing();
}
