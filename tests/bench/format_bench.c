/*
 * format_bench.c -- the engine side of tests/bench/format.sh: the format
 * check (verifiers/format.c, the plugin's defaults) and open-r1's tag count
 * over a corpus held in memory, on 1 and 2 threads.
 *
 *   format_bench CORPUS [ROUNDS]
 *
 * The corpus (format_corpus.py) is read with json-c once; each sample's
 * `expect` field is the reason the format check must give, and every round
 * is checked against it, so a fast but wrong engine reports "wrong" instead
 * of a figure. Output, one line per measurement:
 *   NAME THREADS samples_per_s MB_per_s
 * with the best of ROUNDS (default 5) rounds. Threads split the corpus in
 * contiguous halves; the figure is samples over the wall time of the slowest.
 */
#include "format.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct item {
    char *text;
    size_t len;
    const char *expect;
} item;

static item *items;
static size_t n_items, total_bytes;
static rlvr_format_opts opts;
static const rlvr_format_str stops[] = {
    {"<|im_end|>", 10}, {"<|endoftext|>", 13}, {"<|eot_id|>", 10}, {"<|end_of_text|>", 15},
    {"<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", 27}, {"</s>", 4},
};

typedef struct job {
    size_t from, to;
    int what; /* 0: format, 1: tag count */
    size_t wrong, sum;
} job;

static void *work(void *arg)
{
    job *j = arg;
    for (size_t i = j->from; i < j->to; i++) {
        if (j->what == 0) {
            rlvr_format_result r;
            rlvr_format_check(items[i].text, items[i].len, &opts, &r);
            if (strcmp(rlvr_format_reason_name(r.reason), items[i].expect) != 0) j->wrong++;
            j->sum += r.reason == RLVR_FMT_OK;
        } else {
            size_t c[RLVR_TAG_COUNT_N];
            rlvr_tag_count(items[i].text, items[i].len, c);
            for (int k = 0; k < RLVR_TAG_COUNT_N; k++) j->sum += c[k] == 1;
        }
    }
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void measure(const char *name, int what, int threads, int rounds)
{
    double best = 0;
    size_t wrong = 0;
    for (int r = 0; r < rounds; r++) {
        job jobs[2];
        pthread_t th[2];
        double t0 = now();
        for (int t = 0; t < threads; t++) {
            jobs[t] = (job){n_items * (size_t)t / (size_t)threads, n_items * (size_t)(t + 1) / (size_t)threads, what, 0, 0};
            if (t) pthread_create(&th[t], NULL, work, &jobs[t]);
        }
        work(&jobs[0]);
        for (int t = 1; t < threads; t++) pthread_join(th[t], NULL);
        double dt = now() - t0;
        for (int t = 0; t < threads; t++) wrong += jobs[t].wrong;
        if (r == 0 || dt < best) best = dt;
    }
    if (wrong) {
        printf("%s %d wrong %zu\n", name, threads, wrong);
        return;
    }
    printf("%s %d %.0f %.0f\n", name, threads, (double)n_items / best, (double)total_bytes / best / 1e6);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: format_bench CORPUS [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds < 1) rounds = 1;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 0;
    char *line = NULL;
    ssize_t got;
    size_t n_cap = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        json_object *o = json_tokener_parse(line);
        json_object *c, *e;
        if (!o || !json_object_object_get_ex(o, "completion", &c) || !json_object_object_get_ex(o, "expect", &e)) {
            fprintf(stderr, "format_bench: a line without completion or expect\n");
            return 1;
        }
        if (n_items == n_cap) {
            n_cap = n_cap ? 2 * n_cap : 1024;
            items = realloc(items, n_cap * sizeof *items);
            if (!items) return 1;
        }
        size_t len = (size_t)json_object_get_string_len(c);
        item *it = &items[n_items++];
        it->text = malloc(len + 1);
        memcpy(it->text, json_object_get_string(c), len + 1);
        it->len = len;
        it->expect = strdup(json_object_get_string(e));
        total_bytes += len;
        json_object_put(o);
    }
    free(line);
    fclose(f);
    rlvr_format_opts_default(&opts);
    opts.stop_tokens = stops;
    opts.n_stop_tokens = sizeof stops / sizeof stops[0];
    printf("corpus %zu %.0f\n", n_items, n_items ? (double)total_bytes / (double)n_items : 0.0);
    measure("format", 0, 1, rounds);
    measure("format", 0, 2, rounds);
    measure("tag_count", 1, 1, rounds);
    measure("tag_count", 1, 2, rounds);
    return 0;
}
