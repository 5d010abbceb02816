/*
 * test_host_units.c -- unit tests of the host's pieces: UTF-8 validation,
 * JSON writers, the raw-text check, sample parsing with a field map, the
 * answer locator of verifiers/, the worker pool; and a mutation fuzzer of
 * the sample parser (RLVR_FUZZ_ITERATIONS, default 20000 in `make check`;
 * `make fuzz` runs millions): no crash, no hang, every outcome either a
 * sample or an error with a message.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../verifiers/answer.h"
#include "pool.h"
#include "sample.h"
#include "tap.h"
#include "util.h"

static void test_utf8(void)
{
    struct { const char *s; int valid; } cases[] = {
        {"plain ascii", 1}, {"caf\xc3\xa9", 1}, {"\xe4\xb8\xad\xe6\x96\x87", 1}, {"\xf0\x9f\x98\x80", 1},
        {"\xff", 0}, {"\xc0\xaf", 0}, {"\xe0\x80\xaf", 0}, {"\xed\xa0\x80", 0}, {"\xf4\x90\x80\x80", 0},
        {"\xc3", 0}, {"ab\xe4\xb8", 0}, {"\x80", 0}, {"12345678\xc3\xa9" "12345678", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t bad = 0;
        ok(rlvr_utf8_valid(cases[i].s, strlen(cases[i].s), &bad) == cases[i].valid, "utf8 case %zu (%s)", i,
           cases[i].valid ? "valid" : "invalid");
    }
    char err[128];
    ok(rlvr_json_text_check("\"\\\\ud800\"", 9, err, sizeof err) == 0, "an escaped backslash before u is not an escape");
    ok(rlvr_json_text_check("\"\\ud800\\udc00\"", 14, err, sizeof err) == 0, "a surrogate pair is fine");
    ok(rlvr_json_text_check("\"\\ud800\"", 8, err, sizeof err) == -1, "a lone high surrogate is refused");
    ok(rlvr_json_text_check("\"\\uDFFF\"", 8, err, sizeof err) == -1, "a lone low surrogate is refused");
}

static void test_writers(void)
{
    rlvr_buf b = {0};
    double vals[] = {0.1, 1.0, 0.0, -2.5, 1e-300, 123456789.125, 1.0 / 3};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        rlvr_buf_clear(&b);
        rlvr_buf_json_number(&b, vals[i]);
        ok(strtod(b.ptr, NULL) == vals[i], "number %.17g written as %s reads back exactly", vals[i], b.ptr);
    }
    static const struct {
        double v;
        const char *s;
    } floats[] = {{1.0, "1.0"}, {3.0, "3.0"}, {-2.0, "-2.0"}, {0.0, "0.0"}, {1e20, "1e+20"}, {0.5, "0.5"}, {1e22, "1e+22"}};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        rlvr_buf_clear(&b);
        rlvr_buf_json_number(&b, floats[i].v);
        is_str(b.ptr, floats[i].s, "a whole number is written as a float, as Python writes it");
    }
    rlvr_buf_clear(&b);
    rlvr_buf_json_number(&b, 0.0 / 0.0);
    is_str(b.ptr, "null", "NaN is written as null");
    rlvr_buf_clear(&b);
    rlvr_buf_json_string(&b, "a\"b\\c\n\x01\0z", 9);
    is_str(b.ptr, "\"a\\\"b\\\\c\\n\\u0001\\u0000z\"", "strings are escaped, NUL included");
    rlvr_buf_free(&b);
}

static void test_parse(void)
{
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    rlvr_field_map map = {0};
    char err[128];
    ok(rlvr_field_map_add(&map, "answer=reward_model.ground_truth", err, sizeof err) == 0, "field map rule");
    ok(rlvr_field_map_add(&map, "bad", err, sizeof err) == -1, "a rule without '=' is refused");
    rlvr_hsample s;
    rlvr_sample_init(&s);
    const char *line = "{\"id\":\"q1\",\"prompt\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"U\"}],"
                       "\"completion\":\"C\",\"reward_model\":{\"ground_truth\":42},\"group\":7,\"language\":\"zh\","
                       "\"completion_tokens\":12,\"tests\":{\"cases\":[{\"stdin\":\"1\"}]}}";
    ok(rlvr_sample_parse(&s, tok, line, strlen(line), 3, &map) == 0, "a full sample parses");
    is_str(s.pub.id.ptr, "\"q1\"", "id as JSON text");
    is_str(s.pub.prompt.ptr, "S\nU", "a chat prompt is its contents joined");
    is_str(s.pub.answer.ptr, "42", "a mapped numeric answer as JSON text");
    is_str(s.pub.group.ptr, "7", "an integer group as text");
    ok(s.pub.completion_tokens == 12 && s.pub.line == 3, "completion_tokens and line");
    rlvr_text t;
    ok(rlvr_sample_field(&s, "tests.cases.0.stdin", &t) == 0 && strcmp(t.ptr, "\"1\"") == 0, "sample_field by dotted path");
    ok(rlvr_sample_field(&s, "answer", &t) == 0 && strcmp(t.ptr, "42") == 0, "sample_field follows the field map");
    ok(rlvr_sample_field(&s, "nope.x", &t) == -1 && !t.ptr, "an absent field");
    const char *bad = "{\"completion\":\"x\",\"completion_tokens\":-1}";
    ok(rlvr_sample_parse(&s, tok, bad, strlen(bad), 1, &map) == -1 && strcmp(s.err_stage, "input") == 0,
       "a negative completion_tokens is an input error");
    rlvr_sample_destroy(&s);
    rlvr_field_map_free(&map);
    json_tokener_free(tok);
}

static void test_answer(void)
{
    struct { const char *text; int whole; const char *want; rlvr_answer_rule rule; } cases[] = {
        {"so \\boxed{\\frac{1}{2}} done", 0, "\\frac{1}{2}", RLVR_ANSWER_BOXED},
        {"\\boxed{1} then \\boxed{2}", 0, "2", RLVR_ANSWER_BOXED},
        {"<think>\\boxed{9}</think><answer> 4 </answer>", 0, "4", RLVR_ANSWER_TAG},
        {"<think>\\boxed{9}</think>nothing", 0, "", RLVR_ANSWER_NONE},
        {"<answer>\\boxed{x^2}</answer>", 0, "x^2", RLVR_ANSWER_TAG},
        {"\\fbox{7}", 0, "7", RLVR_ANSWER_BOXED},
        {"\\boxed 5$", 0, "5", RLVR_ANSWER_BOXED},
        {"\\boxed{unbalanced", 0, "", RLVR_ANSWER_NONE},
        {"  10\\sqrt3 ", 1, "10\\sqrt3", RLVR_ANSWER_WHOLE},
        {"\\boxed{a\\}b}", 0, "a\\}b", RLVR_ANSWER_BOXED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rlvr_answer_span sp;
        rlvr_answer_rule r = rlvr_answer_find(cases[i].text, strlen(cases[i].text), cases[i].whole, &sp);
        char got[64] = "";
        if (sp.ptr) snprintf(got, sizeof got, "%.*s", (int)sp.len, sp.ptr);
        ok(r == cases[i].rule && strcmp(got, cases[i].want) == 0, "answer %zu: '%s' by %s", i, got, rlvr_answer_rule_name(r));
    }
    /* 100k nested braces: bounded, no answer. */
    size_t n = 200000;
    char *deep = malloc(n + 8);
    memcpy(deep, "\\boxed", 6);
    memset(deep + 6, '{', n);
    rlvr_answer_span sp;
    ok(rlvr_answer_find(deep, n + 6, 0, &sp) == RLVR_ANSWER_NONE, "200k unclosed braces: no answer, no crash");
    free(deep);
}

static atomic_long pool_sum;
static void add_i(void *ctx, size_t i, int worker)
{
    (void)ctx;
    (void)worker;
    atomic_fetch_add(&pool_sum, (long)i);
}

static void test_pool(void)
{
    rlvr_pool *p = rlvr_pool_new(3);
    for (int round = 0; round < 50; round++) {
        atomic_store(&pool_sum, 0);
        size_t n = (size_t)round * 37 + 1;
        rlvr_pool_for(p, n, add_i, NULL);
        if (atomic_load(&pool_sum) != (long)(n * (n - 1) / 2)) {
            ok(0, "pool round %d", round);
            rlvr_pool_free(p);
            return;
        }
    }
    ok(1, "the pool visits every index exactly once (50 loops)");
    rlvr_pool_free(p);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fuzz(long iterations)
{
    static const char *const seeds[] = {
        "{\"id\":1,\"completion\":\"<think>a</think>\\\\boxed{1}\",\"answer\":\"1\",\"group\":\"g\"}",
        "{\"completion\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"x\\u0000\"}]}],\"prompt\":[]}",
        "{\"id\":18446744073709551615,\"completion\":\"\\ud83d\\ude00\",\"reward_model\":{\"ground_truth\":[1,2.5e3,null]}}",
        "{\"completion\":\"caf\xc3\xa9\",\"completion_tokens\":3,\"language\":\"fr\",\"finish_reason\":\"stop\"}",
    };
    static const char tokens[] = "{}[]\":,\\u0123456789abcdefnulltruefalse\x00\xc3\xa9\xff\xed\xa0 \t\r\n";
    json_tokener *tok = json_tokener_new_ex(64);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    rlvr_field_map map = {0};
    char err[64];
    rlvr_field_map_add(&map, "answer=reward_model.ground_truth", err, sizeof err);
    rlvr_hsample s;
    rlvr_sample_init(&s);
    char buf[512];
    long parsed = 0, failed = 0, bad = 0;
    for (long it = 0; it < iterations; it++) {
        const char *seed = seeds[next() % 4];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int muts = 1 + (int)(next() % 6);
        for (int m = 0; m < muts; m++) {
            size_t pos = n ? next() % n : 0;
            switch (next() % 4) {
            case 0: buf[pos] = tokens[next() % (sizeof tokens - 1)]; break;           /* replace */
            case 1: if (n) { memmove(buf + pos, buf + pos + 1, n - pos - 1); n--; } break; /* delete */
            case 2: if (n + 1 < sizeof buf) { memmove(buf + pos + 1, buf + pos, n - pos); buf[pos] = tokens[next() % (sizeof tokens - 1)]; n++; } break;
            case 3: if (n > 4) n = pos + 1; break;                                      /* truncate */
            }
        }
        if (rlvr_sample_parse(&s, tok, buf, n, it + 1, &map) == 0) {
            parsed++;
            if (!s.pub.completion.ptr) bad++;
            size_t off;
            if (!rlvr_utf8_valid(s.pub.completion.ptr, s.pub.completion.len, &off)) bad++;
        } else {
            failed++;
            if (!s.err_stage || !s.err_msg[0]) bad++;
        }
    }
    ok(bad == 0, "fuzz: %ld mutated lines, %ld parsed, %ld refused with a message, none inconsistent", iterations,
       parsed, failed);
    rlvr_sample_destroy(&s);
    rlvr_field_map_free(&map);
    json_tokener_free(tok);
}

int main(void)
{
    plan_no_plan();
    test_utf8();
    test_writers();
    test_parse();
    test_answer();
    test_pool();
    const char *it = getenv("RLVR_FUZZ_ITERATIONS");
    fuzz(it ? atol(it) : 20000);
    return done_testing();
}
