/*
 * tokenizer_bench.c -- `make bench`: encode throughput of rlvr's tokenizer
 * with Qwen3's tokenizer.json on the text of ../shared/data, one thread.
 *
 *   tokenizer_bench [--dump DIR] [QWEN_TOKENIZER_JSON [SHARED_DATA_DIR]]
 *
 * Corpora (read from the shared data, never copied into the tree):
 *   en  the problem and solution of every math500.jsonl row, the question
 *       and answer of every gsm8k_test.jsonl row (English with LaTeX);
 *   zh  every gold/pred string of peer_cases.jsonl with a CJK ideograph in
 *       it (Chinese; only 2.5 kB there, so the set is repeated to 500 kB,
 *       which favours a tokenizer with a word cache, as HF's is).
 * Each string is encoded as its own call (as samples are); then, as en1
 * and zh1, all strings joined by blank lines in one call. The best of
 * several rounds is kept. --dump writes the corpora as JSON arrays (DIR/en.json,
 * DIR/zh.json) so that bench/tokenizer_hf.py encodes exactly the same
 * strings. Paths default to what configure found.
 */
#include "tokenizer.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RLVR_QWEN_TOKENIZER
#define RLVR_QWEN_TOKENIZER ""
#endif
#ifndef RLVR_SHARED_DATA
#define RLVR_SHARED_DATA ""
#endif

struct corpus {
    char **doc;
    size_t *len, n, cap, bytes;
};

static void add_doc(struct corpus *c, const char *s, size_t n)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->doc = realloc(c->doc, c->cap * sizeof *c->doc);
        c->len = realloc(c->len, c->cap * sizeof *c->len);
        if (!c->doc || !c->len) { fprintf(stderr, "out of memory\n"); exit(1); }
    }
    c->doc[c->n] = malloc(n + 1);
    memcpy(c->doc[c->n], s, n);
    c->doc[c->n][n] = 0;
    c->len[c->n++] = n;
    c->bytes += n;
}

static int has_cjk(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    for (; *u; u++) /* U+4E00..U+9FFF: lead bytes E4..E9 */
        if (*u >= 0xE4 && *u <= 0xE9 && (u[1] & 0xC0) == 0x80) return 1;
    return 0;
}

/* Adds the named string fields of every line of a JSONL file. */
static int read_jsonl(struct corpus *c, const char *dir, const char *file, const char *const *fields, int cjk_only)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/math/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "tokenizer_bench: cannot open %s\n", path); return -1; }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        struct json_object *o = json_tokener_parse(line), *v;
        for (const char *const *k = fields; o && *k; k++)
            if (json_object_object_get_ex(o, *k, &v) && json_object_is_type(v, json_type_string)
                && (!cjk_only || has_cjk(json_object_get_string(v))))
                add_doc(c, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        json_object_put(o);
    }
    free(line);
    fclose(f);
    return 0;
}

static void dump(const struct corpus *c, const char *dir, const char *name)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    rlvr_buf b = {0};
    rlvr_buf_addc(&b, '[');
    for (size_t i = 0; i < c->n; i++) {
        if (i) rlvr_buf_adds(&b, ",\n");
        rlvr_buf_json_string(&b, c->doc[i], c->len[i]);
    }
    rlvr_buf_adds(&b, "]\n");
    FILE *f = fopen(path, "w");
    if (!f || fwrite(b.ptr, 1, b.len, f) != b.len) fprintf(stderr, "tokenizer_bench: cannot write %s\n", path);
    if (f) fclose(f);
    rlvr_buf_free(&b);
}

static void run(const rlvr_tokenizer *t, const struct corpus *c, const char *name)
{
    char err[256];
    rlvr_tok_ids ids = {0};
    double best = 1e30;
    size_t tokens = 0;
    int rounds = 0;
    double start = rlvr_now();
    while (rounds < 3 || (rounds < 20 && rlvr_now() - start < 3.0)) {
        tokens = 0;
        double t0 = rlvr_now();
        for (size_t i = 0; i < c->n; i++) {
            ids.n = 0;
            if (rlvr_tok_encode(t, c->doc[i], c->len[i], 0, &ids, NULL, err, sizeof err)) {
                fprintf(stderr, "tokenizer_bench: %s\n", err);
                exit(1);
            }
            tokens += ids.n;
        }
        double dt = rlvr_now() - t0;
        if (dt < best) best = dt;
        rounds++;
    }
    printf("rlvr   %-3s %6zu strings %9zu bytes %8zu tokens  %7.2f MB/s  %9.0f tokens/s  (best of %d)\n", name,
           c->n, c->bytes, tokens, c->bytes / best / 1e6, tokens / best, rounds);
    rlvr_tok_ids_free(&ids);
}

int main(int argc, char **argv)
{
    const char *dumpdir = NULL;
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--dump") == 0) { dumpdir = argv[a + 1]; a += 2; }
    const char *qwen = a < argc ? argv[a++] : RLVR_QWEN_TOKENIZER;
    const char *data = a < argc ? argv[a++] : RLVR_SHARED_DATA;
    if (!*qwen) { printf("tokenizer_bench: no Qwen3 tokenizer.json (./autogen.sh --deps fetches it): skipped\n"); return 0; }
    if (!*data) { printf("tokenizer_bench: no shared data (configure --with-shared-data): skipped\n"); return 0; }

    struct corpus en = {0}, zh1 = {0}, zh = {0};
    static const char *const en1[] = {"problem", "solution", NULL}, *const en2[] = {"question", "answer", NULL},
                             *const zhf[] = {"gold", "pred", NULL};
    if (read_jsonl(&en, data, "math500.jsonl", en1, 0) || read_jsonl(&en, data, "gsm8k_test.jsonl", en2, 0)
        || read_jsonl(&zh1, data, "peer_cases.jsonl", zhf, 1))
        return 0;
    while (zh1.n && zh.bytes < 500000)
        for (size_t i = 0; i < zh1.n; i++) add_doc(&zh, zh1.doc[i], zh1.len[i]);
    if (dumpdir) {
        dump(&en, dumpdir, "en");
        dump(&zh, dumpdir, "zh");
    }

    char err[512];
    rlvr_tokenizer *t = NULL;
    double t0 = rlvr_now();
    if (rlvr_tokenizer_load(qwen, &t, err, sizeof err)) {
        printf("tokenizer_bench: %s\n", err);
        return 0;
    }
    printf("rlvr   load tokenizer.json: %.3f s (%s)\n", rlvr_now() - t0, qwen);
    run(t, &en, "en");
    run(t, &zh, "zh");
    /* One call on all the strings joined by blank lines: the encoder
     * alone, without per-call costs (HF's Python binding has large ones). */
    for (int k = 0; k < 2; k++) {
        const struct corpus *c = k ? &zh : &en;
        rlvr_buf j = {0};
        for (size_t i = 0; i < c->n; i++) {
            if (i) rlvr_buf_adds(&j, "\n\n");
            rlvr_buf_add(&j, c->doc[i], c->len[i]);
        }
        struct corpus one = {0};
        add_doc(&one, j.ptr, j.len);
        run(t, &one, k ? "zh1" : "en1");
        free(one.doc[0]);
        free(one.doc);
        free(one.len);
        rlvr_buf_free(&j);
    }
    rlvr_tokenizer_free(t);
    return 0;
}
