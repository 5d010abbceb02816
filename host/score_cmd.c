/*
 * score_cmd.c -- `rlvr score`: JSONL samples in, JSONL results out, in
 * input order, with a summary on stderr.
 *
 * The input is read in slices (at most --chunk lines or 32 MiB), each
 * scored by the engine on the thread pool and written before the next is
 * read, so memory stays flat on inputs of any length. Lines: a UTF-8 BOM
 * on the first line, a CR before the newline and a missing last newline
 * are accepted; blank lines are skipped (line numbers still count them).
 * While plugins run, file descriptor 1 points at stderr: results go to a
 * private duplicate of the original stdout, so a plugin's stray printf
 * cannot corrupt them. Exit status: 0 when every sample was scored, 1 when
 * some samples failed (their error results are written), 2 when nothing
 * could start (usage, mix, plugin or file errors).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "commands.h"
#include "engine.h"
#include "mix.h"
#include "reader.h"
#include "registry.h"
#include "sample.h"
#include "util.h"

#define MAX_SLICE_BYTES ((size_t)32 << 20)

/* ---- group statistics ------------------------------------------------------- */

typedef struct group_cell {
    uint64_t hash;     /* 0: empty */
    double min, max;
    uint32_t n;        /* non-null rewards */
} group_cell;

typedef struct group_map {
    group_cell *cells;
    size_t cap, used;
} group_map;

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

static void group_add(group_map *g, rlvr_text group, int null, double reward)
{
    if (g->used * 2 >= g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 1024;
        group_cell *c = calloc(cap, sizeof *c);
        if (!c) return; /* statistics only: keep going without them */
        for (size_t i = 0; i < g->cap; i++) {
            if (!g->cells[i].hash) continue;
            size_t j = g->cells[i].hash & (cap - 1);
            while (c[j].hash) j = (j + 1) & (cap - 1);
            c[j] = g->cells[i];
        }
        free(g->cells);
        g->cells = c;
        g->cap = cap;
    }
    uint64_t h = fnv1a(group.ptr, group.len);
    size_t j = h & (g->cap - 1);
    while (g->cells[j].hash && g->cells[j].hash != h) j = (j + 1) & (g->cap - 1);
    group_cell *c = &g->cells[j];
    if (!c->hash) {
        c->hash = h;
        g->used++;
    }
    if (null) return;
    if (c->n == 0 || reward < c->min) c->min = reward;
    if (c->n == 0 || reward > c->max) c->max = reward;
    c->n++;
}

/* Groups with two or more non-null rewards, and those among them whose
 * rewards are all equal (no GRPO signal: frac_reward_zero_std). */
static void group_counts(const group_map *g, size_t *counted, size_t *equal)
{
    *counted = *equal = 0;
    for (size_t i = 0; i < g->cap; i++) {
        if (!g->cells[i].hash || g->cells[i].n < 2) continue;
        (*counted)++;
        *equal += g->cells[i].min == g->cells[i].max;
    }
}

/* ---- options ----------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: rlvr score (--mix MIX.lua | --plugin NAME[=WEIGHT] ...) [options]\n"
          "Score JSONL samples with reward plugins; results as JSONL, in input order.\n"
          "\n"
          "  --mix FILE           a reward mix written in Lua (see README.md)\n"
          "  --plugin NAME[=W]    a plugin by name or path, with weight W (default 1); repeatable\n"
          "  --in FILE            samples to read (default: standard input)\n"
          "  --out FILE           results to write (default: standard output)\n"
          "  --field NAME=PATH    read sample field NAME from PATH (dotted), e.g.\n"
          "                       answer=reward_model.ground_truth; repeatable\n"
          "  --threads N          worker threads (default: all cores)\n"
          "  --step N             the training step the mix sees (default 0)\n"
          "  --strict             stop at the first sample that fails\n"
          "  --summary-json FILE  also write the summary as JSON\n"
          "  --chunk N            samples per slice (default 1024)\n"
          "  --quiet              no summary on stderr\n"
          "  -v, --verbose        plugins' info messages too\n",
          f);
}

typedef struct score_opts {
    const char *mix, *in, *out, *summary_json;
    char **plugins;
    size_t n_plugins;
    rlvr_field_map map;
    int threads, strict, quiet, verbose;
    long chunk;
    int64_t step;
} score_opts;

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv, score_opts *o)
{
    static const struct option longs[] = {
        {"mix", required_argument, 0, 'm'},   {"plugin", required_argument, 0, 'p'},
        {"in", required_argument, 0, 'i'},    {"out", required_argument, 0, 'o'},
        {"field", required_argument, 0, 'f'}, {"threads", required_argument, 0, 't'},
        {"step", required_argument, 0, 's'},  {"strict", no_argument, 0, 'S'},
        {"summary-json", required_argument, 0, 'j'}, {"chunk", required_argument, 0, 'c'},
        {"quiet", no_argument, 0, 'q'},       {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
    };
    long v;
    char err[300];
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "vqh", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->mix = optarg; break;
        case 'p': {
            char **p = realloc(o->plugins, (o->n_plugins + 1) * sizeof *p);
            if (!p) return -1;
            o->plugins = p;
            p[o->n_plugins++] = optarg;
            break;
        }
        case 'i': o->in = optarg; break;
        case 'o': o->out = optarg; break;
        case 'j': o->summary_json = optarg; break;
        case 'f':
            if (rlvr_field_map_add(&o->map, optarg, err, sizeof err)) {
                fprintf(stderr, "rlvr score: %s\n", err);
                return -1;
            }
            break;
        case 't':
            if (parse_long(optarg, 1, 1024, &v)) { fprintf(stderr, "rlvr score: --threads wants 1..1024\n"); return -1; }
            o->threads = (int)v;
            break;
        case 'c':
            if (parse_long(optarg, 1, 1 << 20, &v)) { fprintf(stderr, "rlvr score: --chunk wants 1..1048576\n"); return -1; }
            o->chunk = v;
            break;
        case 's':
            if (parse_long(optarg, 0, LONG_MAX, &v)) { fprintf(stderr, "rlvr score: --step wants an integer >= 0\n"); return -1; }
            o->step = v;
            break;
        case 'S': o->strict = 1; break;
        case 'q': o->quiet = 1; break;
        case 'v': o->verbose = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rlvr score: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->mix == !o->n_plugins) {
        fprintf(stderr, "rlvr score: give either --mix FILE or one or more --plugin NAME\n");
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- the summary ----------------------------------------------------------- */

typedef struct totals {
    size_t samples, failed, null_rewards, rewards;
    double reward_sum;
    char first_error[600];
} totals;

static void print_summary(FILE *f, const rlvr_mix *mix, const rlvr_entry_stats *st,
                          const totals *t, const group_map *g, double secs, int threads)
{
    fprintf(f, "rlvr score: %zu sample%s in %.2f s (%.0f samples/s, %d thread%s)\n", t->samples,
            t->samples == 1 ? "" : "s", secs,
            secs > 0 ? (double)t->samples / secs : 0.0, threads, threads == 1 ? "" : "s");
    if (!t->samples) return;
    if (t->rewards)
        fprintf(f, "  reward      mean %.4f   null %zu\n", t->reward_sum / (double)t->rewards, t->null_rewards);
    else
        fprintf(f, "  reward      every reward is null (%zu)\n", t->null_rewards);
    fprintf(f, "  %-30s %8s %9s %8s %8s %8s\n", "component", "weight", "mean", "ok", "abstain", "error");
    for (size_t i = 0; i < mix->n_entries; i++) {
        const rlvr_entry *e = mix->all[i];
        char name[64];
        const char *label = "";
        for (size_t l = 0; l < mix->n_leaves; l++)
            if (e >= mix->leaves[l]->entries && e < mix->leaves[l]->entries + mix->leaves[l]->n)
                label = mix->leaves[l]->label;
        snprintf(name, sizeof name, "%s%s%s", label, *label ? ":" : "", e->name);
        char mean[32] = "-";
        if (st[i].ok) snprintf(mean, sizeof mean, "%.4f", st[i].sum / (double)st[i].ok);
        fprintf(f, "  %-30s %8g %9s %8zu %8zu %8zu%s\n", name, e->weight, mean, st[i].ok, st[i].abstain,
                st[i].error, e->optional ? "  (optional)" : e->lazy ? "  (lazy)" : "");
    }
    if (g->used) {
        size_t counted, equal;
        group_counts(g, &counted, &equal);
        fprintf(f, "  groups      %zu (%zu with two or more rewards), all rewards equal in %zu: "
                   "frac_reward_zero_std %.4f\n",
                g->used, counted, equal, counted ? (double)equal / (double)counted : 0.0);
    }
    if (t->failed)
        fprintf(f, "  errors      %zu sample%s failed; first: %s\n", t->failed, t->failed == 1 ? "" : "s",
                t->first_error);
}

static void write_summary_json(const char *path, const rlvr_mix *mix, const rlvr_entry_stats *st, const totals *t,
                               const group_map *g, double secs, int threads)
{
    rlvr_buf b = {0};
    rlvr_buf_printf(&b, "{\"samples\":%zu,\"failed\":%zu,\"seconds\":", t->samples, t->failed);
    rlvr_buf_json_number(&b, secs);
    rlvr_buf_printf(&b, ",\"threads\":%d,\"reward_mean\":", threads);
    if (t->rewards) rlvr_buf_json_number(&b, t->reward_sum / (double)t->rewards);
    else rlvr_buf_adds(&b, "null");
    rlvr_buf_printf(&b, ",\"reward_null\":%zu,\"components\":{", t->null_rewards);
    for (size_t i = 0; i < mix->n_entries; i++) {
        if (i) rlvr_buf_addc(&b, ',');
        rlvr_buf_json_string(&b, mix->all[i]->name, strlen(mix->all[i]->name));
        rlvr_buf_adds(&b, ":{\"mean\":");
        if (st[i].ok) rlvr_buf_json_number(&b, st[i].sum / (double)st[i].ok);
        else rlvr_buf_adds(&b, "null");
        rlvr_buf_printf(&b, ",\"ok\":%zu,\"abstain\":%zu,\"error\":%zu,\"skipped\":%zu}", st[i].ok, st[i].abstain,
                        st[i].error, st[i].skipped);
    }
    size_t counted, equal;
    group_counts(g, &counted, &equal);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    rlvr_buf_printf(&b, "},\"max_rss_kb\":%ld,\"groups\":%zu,\"frac_reward_zero_std\":", ru.ru_maxrss, g->used);
    if (counted) rlvr_buf_json_number(&b, (double)equal / (double)counted);
    else rlvr_buf_adds(&b, "null");
    rlvr_buf_adds(&b, "}\n");
    FILE *f = fopen(path, "we");
    if (!f || fwrite(b.ptr, 1, b.len, f) != b.len || fclose(f))
        fprintf(stderr, "rlvr score: cannot write %s: %s\n", path, strerror(errno));
    rlvr_buf_free(&b);
}

/* ---- the loop -------------------------------------------------------------------- */

int rlvr_cmd_score(int argc, char **argv)
{
    score_opts o = {0};
    o.chunk = 1024;
    if (parse_opts(argc, argv, &o)) return 2;
    if (o.verbose) rlvr_services_set_log_level(RLVR_LOG_INFO);
    if (!o.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = n > 0 ? (int)(n > 1024 ? 1024 : n) : 1;
    }

    FILE *in = stdin;
    if (o.in && strcmp(o.in, "-") != 0 && !(in = fopen(o.in, "re"))) {
        fprintf(stderr, "rlvr score: cannot read %s: %s\n", o.in, strerror(errno));
        return 2;
    }
    /* Results go to a private descriptor; fd 1 becomes stderr for plugins. */
    fflush(stdout);
    int out_fd = -1;
    if (o.out && strcmp(o.out, "-") != 0) out_fd = open(o.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    else out_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
    if (out_fd < 0) {
        fprintf(stderr, "rlvr score: cannot write %s: %s\n", o.out ? o.out : "standard output", strerror(errno));
        return 2;
    }
    FILE *out = fdopen(out_fd, "w");
    if (!out || dup2(2, 1) < 0) {
        fprintf(stderr, "rlvr score: cannot set up output: %s\n", strerror(errno));
        return 2;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 16);

    rlvr_registry reg;
    char err[1024];
    if (rlvr_registry_init(&reg, err, sizeof err)) { fprintf(stderr, "rlvr score: %s\n", err); return 2; }
    rlvr_services_set_registry(&reg);
    rlvr_mix *mix = o.mix ? rlvr_mix_load(o.mix, &reg, err, sizeof err)
                          : rlvr_mix_from_plugins(o.plugins, o.n_plugins, &reg, err, sizeof err);
    if (!mix) { fprintf(stderr, "rlvr score: %s\n", err); return 2; }
    if (o.step && rlvr_mix_set_step(mix, o.step, err, sizeof err)) { fprintf(stderr, "rlvr score: %s\n", err); return 2; }
    rlvr_engine *eng = rlvr_engine_new(mix, &o.map, o.threads, err, sizeof err);
    if (!eng) { fprintf(stderr, "rlvr score: %s\n", err); return 2; }

    int tty = isatty(2) && !o.quiet;
    double t0 = rlvr_now(), last_progress = t0;
    totals t = {0};
    group_map groups = {0};
    rlvr_reader rd;
    rlvr_reader_init(&rd, in);
    int stop = 0, rc = 0;
    size_t chunk = (size_t)o.chunk;

    while (!stop) {
        const rlvr_line *lines;
        ssize_t got = rlvr_reader_next(&rd, chunk, MAX_SLICE_BYTES, &lines);
        if (got < 0) { fprintf(stderr, "rlvr score: out of memory reading the input\n"); rc = 2; break; }
        if (got == 0) {
            if (rd.error) {
                fprintf(stderr, "rlvr score: reading %s: %s\n", o.in ? o.in : "standard input", strerror(rd.error));
                rc = 2;
            }
            break;
        }
        size_t n = (size_t)got;
        int last = rd.eof && rd.pos >= rd.len;
        size_t done = rlvr_engine_score(eng, lines, n, last);
        if (done == 0) {
            if (!last && chunk < ((size_t)1 << 20)) {
                chunk *= 2; /* one group is longer than the slice: widen it */
                rlvr_reader_unread(&rd, &lines[0]);
                continue;
            }
            done = rlvr_engine_score(eng, lines, n, 1);
            if (done == 0) { fprintf(stderr, "rlvr score: out of memory\n"); rc = 2; break; }
        }
        size_t written = 0;
        for (size_t i = 0; i < done; i++) {
            rlvr_outcome oc;
            rlvr_engine_outcome(eng, i, &oc);
            fwrite(oc.json->ptr, 1, oc.json->len, out);
            fputc('\n', out);
            written = i + 1;
            t.samples++;
            if (oc.reward_null) t.null_rewards++;
            else { t.rewards++; t.reward_sum += oc.reward; }
            if (oc.group.ptr) group_add(&groups, oc.group, oc.reward_null, oc.reward);
            if (oc.failed) {
                if (!t.failed && oc.first_error) snprintf(t.first_error, sizeof t.first_error, "%s", oc.first_error);
                t.failed++;
                if (o.strict) { stop = 1; break; }
            }
        }
        rlvr_engine_count(eng, written);
        if (done < n && !stop) rlvr_reader_unread(&rd, &lines[done]); /* a group held back */
        if (tty && rlvr_now() - last_progress > 0.5) {
            last_progress = rlvr_now();
            fprintf(stderr, "\rrlvr score: %zu samples, %.0f/s   ", t.samples, (double)t.samples / (last_progress - t0));
        }
    }
    if (tty && last_progress > t0) fputs("\r\033[K", stderr);
    double secs = rlvr_now() - t0;
    if (fflush(out) || ferror(out)) {
        fprintf(stderr, "rlvr score: writing results: %s\n", strerror(errno));
        rc = 2;
    }
    fclose(out);
    if (!o.quiet) print_summary(stderr, mix, rlvr_engine_stats(eng), &t, &groups, secs, rlvr_engine_threads(eng));
    if (o.summary_json)
        write_summary_json(o.summary_json, mix, rlvr_engine_stats(eng), &t, &groups, secs, rlvr_engine_threads(eng));
    if (o.strict && t.failed && !o.quiet)
        fprintf(stderr, "rlvr score: stopped at the first failed sample (--strict)\n");
    if (!rc && t.failed) rc = 1;

    rlvr_engine_free(eng);
    rlvr_mix_free(mix);
    rlvr_registry_free(&reg);
    rlvr_field_map_free(&o.map);
    free(o.plugins);
    free(groups.cells);
    rlvr_reader_free(&rd);
    if (in != stdin) fclose(in);
    return rc;
}
