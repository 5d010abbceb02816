/*
 * json_candidates.c -- measures the JSON libraries rlvr could parse and write
 * samples with, on the benchmark corpus, one thread.
 *
 *   json_candidates [-q] CORPUS.jsonl [ROUNDS]
 *
 * The corpus (tests/bench/make_corpus.py) is read whole into memory and cut
 * into lines first, so that only JSON work is timed. For each candidate and
 * each line the loop does what `rlvr score` does with a trivial plugin:
 * parse the line, read id, completion, answer and group, compute a trivial
 * function (1.0 when the completion is non-empty), and write the result line
 * {"id":..,"reward":1.0,"components":{"trivial":1.0},"details":{}} with the
 * library's own serializer into one output buffer (reused across lines, as a
 * writer thread's buffer would be). Each candidate runs ROUNDS times (default
 * 3) and the best round is reported: samples/s and input MB/s. -q leaves out
 * the table's heading (score.sh joins the tables of both builds).
 *
 * json-c and jansson cannot share a process: both define json_object,
 * json_object_get and json_object_iter_next, in their headers and as
 * exported symbols, so one would silently call the other. This file is
 * therefore built twice: json_candidates measures json-c (plain; with
 * JSON_TOKENER_VALIDATE_UTF8, which the host needs since invalid UTF-8 is an
 * error for that sample; with JSON_TOKENER_STRICT as well; and strict with
 * the tokenizer's check replaced by a word-at-a-time UTF-8 scan of the raw
 * line, utf8_valid below), and, when configure
 * found jansson, json_candidates_jansson (RLVR_BENCH_JANSSON) measures
 * jansson (which always validates UTF-8). The CPython reference
 * (tests/bench/py_loop.py) is run beside them by tests/bench/score.sh.
 *
 * Invariants: every candidate must parse every line and give reward 1.0 to
 * every sample (the program fails otherwise, so a fast but wrong candidate
 * cannot win); the result lines are folded into a printed checksum, so no
 * work can be optimised away. Exit status: 0, or 1 on a bad corpus or a
 * candidate failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef RLVR_BENCH_JANSSON
#include <jansson.h>
#else
#include <json-c/json.h>
#endif

typedef struct line {
    const char *ptr;
    size_t len;
} line;

typedef struct corpus {
    char *data;
    size_t size;
    line *lines;
    size_t n;
} corpus;

/* The output of one round: appended to, never reallocated past cap. */
typedef struct outbuf {
    char *ptr;
    size_t len, cap;
    uint64_t sum;      /* folded bytes of every result line */
    size_t rewards;    /* results whose reward was 1.0 */
} outbuf;

/* One candidate: runs a round over the corpus, returns 0 or -1 (message on
 * stderr). */
typedef int (*round_fn)(const corpus *c, outbuf *o);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int read_corpus(const char *path, corpus *c)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "json_candidates: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 20;
    c->data = malloc(cap);
    c->size = 0;
    size_t got;
    while (c->data && (got = fread(c->data + c->size, 1, cap - c->size, f)) > 0) {
        c->size += got;
        if (c->size == cap) {
            char *p = realloc(c->data, cap * 2);
            if (!p) {
                free(c->data);
                c->data = NULL;
                break;
            }
            c->data = p;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!c->data || bad) {
        fprintf(stderr, "json_candidates: %s: %s\n", path, bad ? "read error" : "out of memory");
        return -1;
    }
    size_t nl = 0;
    for (size_t i = 0; i < c->size; i++) nl += c->data[i] == '\n';
    c->lines = malloc((nl + 1) * sizeof *c->lines);
    if (!c->lines) {
        fprintf(stderr, "json_candidates: out of memory\n");
        return -1;
    }
    c->n = 0;
    const char *p = c->data, *end = c->data + c->size;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        if (e > p) c->lines[c->n++] = (line){p, (size_t)(e - p)};
        p = e + 1;
    }
    return 0;
}

static int out_append(outbuf *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 1 << 16;
        while (o->len + n + 1 > cap) cap *= 2;
        char *p = realloc(o->ptr, cap);
        if (!p) return -1;
        o->ptr = p;
        o->cap = cap;
    }
    memcpy(o->ptr + o->len, s, n);
    o->len += n;
    o->ptr[o->len++] = '\n';
    /* A cheap fold of the line: its length and a few of its bytes. */
    o->sum = o->sum * 1099511628211u + n + (unsigned char)s[0] + (unsigned char)s[n / 2];
    return 0;
}

/* The trivial function of the benchmark plugins. */
static double trivial(size_t completion_len)
{
    return completion_len > 0 ? 1.0 : 0.0;
}

/* ---- json-c --------------------------------------------------------------- */

#ifndef RLVR_BENCH_JANSSON

/* Whether s[0..n) is valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), eight ASCII bytes at a time: the check
 * a host can run on the raw line instead of the tokenizer's own. */
static int utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + n;
    while (s < end) {
        if (end - s >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if (!(w & 0x8080808080808080u)) {
                s += 8;
                continue;
            }
        }
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else return 0;
        if ((size_t)(end - s) < len || s[1] < lo || s[1] > hi) return 0;
        for (size_t k = 2; k < len; k++)
            if ((s[k] & 0xC0) != 0x80) return 0;
        s += len;
    }
    return 1;
}

static int jsonc_round(const corpus *c, outbuf *o, int flags, int prescan)
{
    json_tokener *tok = json_tokener_new();
    if (!tok) return -1;
    json_tokener_set_flags(tok, flags);
    int rc = 0;
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        if (prescan && !utf8_valid(c->lines[i].ptr, c->lines[i].len)) {
            fprintf(stderr, "json-c: line %zu: invalid UTF-8\n", i + 1);
            rc = -1;
            break;
        }
        json_tokener_reset(tok);
        json_object *s = json_tokener_parse_ex(tok, c->lines[i].ptr, (int)c->lines[i].len);
        if (!s || json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(s, json_type_object)) {
            fprintf(stderr, "json-c: line %zu: %s\n", i + 1,
                    json_tokener_error_desc(json_tokener_get_error(tok)));
            json_object_put(s);
            rc = -1;
            break;
        }
        json_object *id = NULL, *comp = NULL, *ans = NULL, *grp = NULL;
        json_object_object_get_ex(s, "id", &id);
        json_object_object_get_ex(s, "completion", &comp);
        json_object_object_get_ex(s, "answer", &ans);
        json_object_object_get_ex(s, "group", &grp);
        int64_t idv = json_object_get_int64(id);
        size_t clen = comp ? (size_t)json_object_get_string_len(comp) : 0;
        if (!ans || !grp || !json_object_get_string(ans) || !json_object_get_string(grp)) {
            fprintf(stderr, "json-c: line %zu: no answer or group\n", i + 1);
            rc = -1;
        }
        double reward = trivial(clen);

        json_object *r = json_object_new_object(), *comps = json_object_new_object();
        json_object_object_add(r, "id", json_object_new_int64(idv));
        json_object_object_add(r, "reward", json_object_new_double(reward));
        json_object_object_add(comps, "trivial", json_object_new_double(reward));
        json_object_object_add(r, "components", comps);
        json_object_object_add(r, "details", json_object_new_object());
        size_t n;
        const char *text = json_object_to_json_string_length(r, JSON_C_TO_STRING_PLAIN, &n);
        if (!text || out_append(o, text, n) != 0) rc = -1;
        o->rewards += reward == 1.0;
        json_object_put(r);
        json_object_put(s);
    }
    json_tokener_free(tok);
    return rc;
}

static int jsonc_plain(const corpus *c, outbuf *o) { return jsonc_round(c, o, 0, 0); }
static int jsonc_utf8(const corpus *c, outbuf *o)
{
    return jsonc_round(c, o, JSON_TOKENER_VALIDATE_UTF8, 0);
}
static int jsonc_strict(const corpus *c, outbuf *o)
{
    return jsonc_round(c, o, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8, 0);
}
static int jsonc_prescan(const corpus *c, outbuf *o)
{
    return jsonc_round(c, o, JSON_TOKENER_STRICT, 1);
}
#endif

/* ---- jansson -------------------------------------------------------------- */

#ifdef RLVR_BENCH_JANSSON
static int jansson_round(const corpus *c, outbuf *o)
{
    char text[512];
    for (size_t i = 0; i < c->n; i++) {
        json_error_t err;
        json_t *s = json_loadb(c->lines[i].ptr, c->lines[i].len, 0, &err);
        if (!s || !json_is_object(s)) {
            fprintf(stderr, "jansson: line %zu: %s\n", i + 1, s ? "not an object" : err.text);
            json_decref(s);
            return -1;
        }
        json_t *id = json_object_get(s, "id");
        json_t *comp = json_object_get(s, "completion");
        json_t *ans = json_object_get(s, "answer");
        json_t *grp = json_object_get(s, "group");
        if (!json_string_value(ans) || !json_string_value(grp)) {
            fprintf(stderr, "jansson: line %zu: no answer or group\n", i + 1);
            json_decref(s);
            return -1;
        }
        json_int_t idv = json_integer_value(id);
        double reward = trivial(json_string_length(comp));

        json_t *r = json_object(), *comps = json_object();
        json_object_set_new(r, "id", json_integer(idv));
        json_object_set_new(r, "reward", json_real(reward));
        json_object_set_new(comps, "trivial", json_real(reward));
        json_object_set_new(r, "components", comps);
        json_object_set_new(r, "details", json_object());
        size_t n = json_dumpb(r, text, sizeof text, JSON_COMPACT | JSON_PRESERVE_ORDER);
        int bad = n == 0 || n > sizeof text || out_append(o, text, n) != 0;
        o->rewards += reward == 1.0;
        json_decref(r);
        json_decref(s);
        if (bad) return -1;
    }
    return 0;
}
#endif

/* ---- driver --------------------------------------------------------------- */

typedef struct candidate {
    const char *name;
    round_fn run;
} candidate;

static const candidate candidates[] = {
#ifdef RLVR_BENCH_JANSSON
    {"jansson " JANSSON_VERSION, jansson_round},
#else
    {"json-c " JSON_C_VERSION, jsonc_plain},
    {"json-c " JSON_C_VERSION " utf8", jsonc_utf8},
    {"json-c " JSON_C_VERSION " strict+utf8", jsonc_strict},
    {"json-c " JSON_C_VERSION " strict+prescan", jsonc_prescan},
#endif
};

int main(int argc, char **argv)
{
    int quiet = argc > 1 && strcmp(argv[1], "-q") == 0;
    argv += quiet;
    argc -= quiet;
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: json_candidates [-q] CORPUS.jsonl [ROUNDS]\n");
        return 1;
    }
    int rounds = argc == 3 ? atoi(argv[2]) : 3;
    if (rounds < 1) rounds = 1;
    corpus c;
    if (read_corpus(argv[1], &c) != 0) return 1;
    if (c.n == 0) {
        fprintf(stderr, "json_candidates: %s: no lines\n", argv[1]);
        return 1;
    }
    double mb = (double)c.size / 1e6;
    if (!quiet) {
        printf("JSON candidates: %zu samples, %.1f MB, in memory, one thread, best of %d\n",
               c.n, mb, rounds);
        printf("%-28s %12s %9s %18s\n", "library", "samples/s", "MB/s", "checksum");
    }

    outbuf o = {0};
    int status = 0;
    for (size_t k = 0; k < sizeof candidates / sizeof candidates[0]; k++) {
        double best = 0;
        for (int r = 0; r < rounds; r++) {
            o.len = 0;
            o.sum = 0;
            o.rewards = 0;
            double t0 = now_s();
            int rc = candidates[k].run(&c, &o);
            double dt = now_s() - t0;
            if (rc != 0 || o.rewards != c.n) {
                fprintf(stderr, "json_candidates: %s failed (%zu of %zu rewards)\n",
                        candidates[k].name, o.rewards, c.n);
                status = 1;
                break;
            }
            if (dt > 0 && (double)c.n / dt > best) best = (double)c.n / dt;
        }
        if (best == 0) continue;
        /* The serializers differ in how they print 1.0, so checksums are
         * shown for inspection, not compared across libraries. */
        printf("%-28s %12.0f %9.1f %18llx\n", candidates[k].name, best,
               best * mb / (double)c.n, (unsigned long long)o.sum);
        fflush(stdout);
    }
    free(o.ptr);
    free(c.lines);
    free(c.data);
    return status;
}
