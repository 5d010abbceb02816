/*
 * score_api.c -- librlvr_score: the in-process scoring API (rlvr_score.h).
 *
 * A scorer owns its registry, mix, field map and engine; one mutex per
 * scorer serialises calls (an engine scores one slice at a time). The
 * input is split into lines as /score splits a body (serve_proto.c), so
 * the three ways in (rlvr score, rlvr serve, this library) read samples
 * alike, and the whole input is one slice (a group is never split). The
 * library never writes to stdout or stderr itself; plugins' log messages
 * go where the host's log goes (stderr).
 */
#include "config.h"

#include "rlvr_score.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "mix.h"
#include "registry.h"
#include "sample.h"
#include "serve_proto.h"
#include "util.h"

struct rlvr_scorer {
    rlvr_registry reg;
    rlvr_mix *mix;
    rlvr_field_map map;
    rlvr_engine *eng;
    pthread_mutex_t lock;
};

const char *rlvr_scorer_version(void) { return "rlvr " PACKAGE_VERSION; }

rlvr_scorer *rlvr_scorer_new(const char *mix_path, int threads,
                                                                     const char *const *fields, size_t n_fields,
                                                                     char *err, size_t err_len)
{
    if (!mix_path) { rlvr_errf(err, err_len, "no mix file given"); return NULL; }
    rlvr_scorer *s = calloc(1, sizeof *s);
    if (!s) { rlvr_errf(err, err_len, "out of memory"); return NULL; }
    pthread_mutex_init(&s->lock, NULL);
    for (size_t i = 0; i < n_fields; i++)
        if (rlvr_field_map_add(&s->map, fields[i], err, err_len)) goto fail;
    if (rlvr_registry_init(&s->reg, err, err_len)) goto fail_map;
    rlvr_services_set_registry(&s->reg);
    /* An isolated entry's worker is the rlvr program, not this process. */
    if (!getenv("RLVR_WORKER") && access(RLVR_BINDIR "/rlvr", X_OK) == 0) setenv("RLVR_WORKER", RLVR_BINDIR "/rlvr", 0);
    if (!(s->mix = rlvr_mix_load(mix_path, &s->reg, err, err_len))) goto fail_reg;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)(n > 1024 ? 1024 : n) : 1;
    }
    if (!(s->eng = rlvr_engine_new(s->mix, &s->map, threads, err, err_len))) goto fail_mix;
    return s;
fail_mix:
    rlvr_mix_free(s->mix);
fail_reg:
    rlvr_registry_free(&s->reg);
fail_map:
fail:
    rlvr_field_map_free(&s->map);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

int rlvr_scorer_score(rlvr_scorer *s, const char *jsonl, size_t len, char **out,
                                                             size_t *out_len, char *err, size_t err_len)
{
    *out = NULL;
    *out_len = 0;
    rlvr_lines lines;
    int is_array;
    long n = rlvr_batch_lines(jsonl ? jsonl : "", jsonl ? len : 0, SIZE_MAX, &lines, &is_array, err, err_len);
    if (n < 0) return -1;
    rlvr_buf b = {0};
    rlvr_buf_reserve(&b, 64);
    pthread_mutex_lock(&s->lock);
    size_t done = n ? rlvr_engine_score(s->eng, lines.v, (size_t)n, 1) : 0;
    if (done == (size_t)n) {
        for (size_t i = 0; i < done; i++) {
            rlvr_outcome oc;
            rlvr_engine_outcome(s->eng, i, &oc);
            if (is_array) rlvr_buf_addc(&b, i ? ',' : '[');
            rlvr_buf_add(&b, oc.json->ptr, oc.json->len);
            if (!is_array) rlvr_buf_addc(&b, '\n');
        }
        if (is_array) rlvr_buf_adds(&b, n ? "]" : "[]");
        rlvr_engine_count(s->eng, done);
    }
    pthread_mutex_unlock(&s->lock);
    rlvr_lines_free(&lines);
    if (done != (size_t)n || b.oom) {
        rlvr_buf_free(&b);
        rlvr_errf(err, err_len, "out of memory scoring %ld samples", n);
        return -1;
    }
    *out = b.ptr;
    *out_len = b.len;
    return 0;
}

void rlvr_scorer_free_text(char *text) { free(text); }

void rlvr_scorer_free(rlvr_scorer *s)
{
    if (!s) return;
    rlvr_engine_free(s->eng);
    rlvr_mix_free(s->mix);
    rlvr_registry_free(&s->reg);
    rlvr_field_map_free(&s->map);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
