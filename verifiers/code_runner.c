/*
 * code_runner.c -- programs against tests in the code sandbox: languages,
 * the compile cache, the three test modes, the checkers and the dataset
 * adapters (see code_runner.h for the contract).
 *
 * Invariants: the compile cache compares the whole key (language, compiler,
 * flags, source) on a hit, so a hash collision can never hand out another
 * program's binary; cache entries are immutable once published and shared
 * by reference count; every sandbox slot taken is given back; a checker
 * never sees a prefix as a match (line and token counts must agree).
 */
#include "code_runner.h"
#include "code_harness.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ------------------------------------------------------------------ */
/* Languages.                                                           */

typedef struct lang_def {
    const char *name;
    const char *tags;    /* fence tags, '|' around each */
    const char *source;  /* file name in /work */
    int compiled;
} lang_def;

static const lang_def langs[RLVR_CODE_N_LANGS] = {
    {"python", "|python|py|python3|py3|", "main.py", 0},
    {"c", "|c|", "main.c", 1},
    {"cpp", "|cpp|c++|cxx|cc|", "main.cpp", 1},
};

int rlvr_code_lang_find(const char *tag, size_t len)
{
    if (!tag || len == 0 || len > 16) return -1;
    char t[20];
    t[0] = '|';
    for (size_t i = 0; i < len; i++) t[i + 1] = (char)tolower((unsigned char)tag[i]);
    t[len + 1] = '|';
    t[len + 2] = 0;
    for (int i = 0; i < RLVR_CODE_N_LANGS; i++)
        if (strstr(langs[i].tags, t)) return i;
    return -1;
}

const char *rlvr_code_lang_name(int lang)
{
    return lang >= 0 && lang < RLVR_CODE_N_LANGS ? langs[lang].name : "unknown";
}

const char *rlvr_code_verdict_name(rlvr_code_verdict v)
{
    static const char *const n[] = {"ok", "wrong_answer", "time_limit", "memory_limit", "output_limit",
                                    "runtime_error", "compile_error", "sandbox_violation", "not_run"};
    return (unsigned)v < sizeof n / sizeof n[0] ? n[v] : "unknown";
}

void rlvr_code_config_defaults(rlvr_code_config *c)
{
    memset(c, 0, sizeof *c);
    c->python = "/usr/bin/python3";
    c->python_site = 1;
    c->python_warm = 1;
    c->gcc = "/usr/bin/gcc";
    c->gxx = "/usr/bin/g++";
    c->c_flags = "-O2 -std=gnu11";
    c->cpp_flags = "-O2 -std=c++17";
    c->time_limit_ms = 2000;
    c->memory_mb = 256;
    c->compile_time_limit_ms = 10000;
    c->compile_memory_mb = 1024;
    c->output_limit_bytes = 1 << 20;
    c->pids_max = 64;
    c->tmpfs_mb = 64;
    c->compile_cache = 256;
    c->max_parallel = 1;
}

/* ------------------------------------------------------------------ */
/* The runner and its compile cache.                                    */

struct rlvr_code_prog {
    int lang;
    char *data;      /* Python source, or the binary */
    size_t len;
    int refs;        /* cache entries: shared */
};

typedef struct cache_entry {
    uint64_t hash;
    char *key;       /* lang, compiler, flags, source */
    size_t key_len;
    rlvr_code_prog *prog; /* NULL: a compile error, diagnostics in diag */
    char *diag;
    uint64_t used;
} cache_entry;

struct rlvr_code_runner {
    rlvr_code_config cfg;
    char python[256], gcc[256], gxx[256], c_flags[512], cpp_flags[512];
    rlvr_sbx *sbx;
    pthread_mutex_t mu;
    cache_entry *cache;
    size_t n_cache, cap_cache;
    uint64_t clock, hits, misses;
};

static int abs_path_ok(const char *p)
{
    return p && p[0] == '/' && strlen(p) < 255;
}

rlvr_code_runner *rlvr_code_runner_open(const rlvr_code_config *cfg, char *err, size_t err_len)
{
    if (!abs_path_ok(cfg->python) || !abs_path_ok(cfg->gcc) || !abs_path_ok(cfg->gxx)) {
        snprintf(err, err_len, "interpreter and compiler paths must be absolute (python, gcc, gxx)");
        return NULL;
    }
    if (strlen(cfg->c_flags) >= 512 || strlen(cfg->cpp_flags) >= 512) {
        snprintf(err, err_len, "compiler flags longer than 511 bytes");
        return NULL;
    }
    rlvr_code_runner *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    snprintf(r->python, sizeof r->python, "%s", cfg->python);
    snprintf(r->gcc, sizeof r->gcc, "%s", cfg->gcc);
    snprintf(r->gxx, sizeof r->gxx, "%s", cfg->gxx);
    snprintf(r->c_flags, sizeof r->c_flags, "%s", cfg->c_flags);
    snprintf(r->cpp_flags, sizeof r->cpp_flags, "%s", cfg->cpp_flags);
    r->cfg.python = r->python;
    r->cfg.gcc = r->gcc;
    r->cfg.gxx = r->gxx;
    r->cfg.c_flags = r->c_flags;
    r->cfg.cpp_flags = r->cpp_flags;
    pthread_mutex_init(&r->mu, NULL);
    r->sbx = rlvr_sbx_open(cfg->max_parallel > 0 ? cfg->max_parallel : 1, 0, err, err_len);
    if (!r->sbx) {
        pthread_mutex_destroy(&r->mu);
        free(r);
        return NULL;
    }
    return r;
}

void rlvr_code_prog_free(rlvr_code_prog *p)
{
    if (!p) return;
    if (--p->refs > 0) return;
    free(p->data);
    free(p);
}

void rlvr_code_runner_close(rlvr_code_runner *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_cache; i++) {
        free(r->cache[i].key);
        free(r->cache[i].diag);
        if (r->cache[i].prog) rlvr_code_prog_free(r->cache[i].prog);
    }
    free(r->cache);
    rlvr_sbx_close(r->sbx);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

rlvr_sbx *rlvr_code_runner_sandbox(rlvr_code_runner *r) { return r->sbx; }

void rlvr_code_runner_cache_stats(rlvr_code_runner *r, uint64_t *hits, uint64_t *misses)
{
    pthread_mutex_lock(&r->mu);
    *hits = r->hits;
    *misses = r->misses;
    pthread_mutex_unlock(&r->mu);
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Look the key up; on a hit, *prog gets a reference (or diag a copy). */
static int cache_get(rlvr_code_runner *r, uint64_t h, const char *key, size_t kl, rlvr_code_prog **prog, char *diag,
                     size_t diag_len)
{
    int found = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_cache; i++) {
        cache_entry *e = &r->cache[i];
        if (e->hash != h || e->key_len != kl || memcmp(e->key, key, kl) != 0) continue;
        e->used = ++r->clock;
        if (e->prog) {
            e->prog->refs++;
            *prog = e->prog;
        } else {
            *prog = NULL;
            snprintf(diag, diag_len, "%s", e->diag ? e->diag : "");
        }
        found = 1;
        r->hits++;
        break;
    }
    if (!found) r->misses++;
    pthread_mutex_unlock(&r->mu);
    return found;
}

static void cache_put(rlvr_code_runner *r, uint64_t h, const char *key, size_t kl, rlvr_code_prog *prog, const char *diag)
{
    if (r->cfg.compile_cache <= 0) return;
    char *k = malloc(kl);
    char *d = diag ? strdup(diag) : NULL;
    if (!k || (diag && !d)) {
        free(k);
        free(d);
        return;
    }
    memcpy(k, key, kl);
    pthread_mutex_lock(&r->mu);
    size_t slot = r->n_cache;
    if (r->n_cache >= (size_t)r->cfg.compile_cache) { /* evict the least recently used */
        slot = 0;
        for (size_t i = 1; i < r->n_cache; i++)
            if (r->cache[i].used < r->cache[slot].used) slot = i;
        free(r->cache[slot].key);
        free(r->cache[slot].diag);
        if (r->cache[slot].prog) rlvr_code_prog_free(r->cache[slot].prog);
    } else if (r->n_cache == r->cap_cache) {
        size_t nc = r->cap_cache ? r->cap_cache * 2 : 16;
        cache_entry *ne = realloc(r->cache, nc * sizeof *ne);
        if (!ne) {
            pthread_mutex_unlock(&r->mu);
            free(k);
            free(d);
            return;
        }
        r->cache = ne;
        r->cap_cache = nc;
    }
    if (slot == r->n_cache) r->n_cache++;
    if (prog) prog->refs++;
    r->cache[slot] = (cache_entry){h, k, kl, prog, d, ++r->clock};
    pthread_mutex_unlock(&r->mu);
}

/* Split flags on spaces into argv[*n...]; returns -1 when too many. */
static int split_flags(char *flags, const char **argv, int *n, int max)
{
    for (char *t = strtok(flags, " \t"); t; t = strtok(NULL, " \t")) {
        if (*n >= max) return -1;
        argv[(*n)++] = t;
    }
    return 0;
}

static void run_job_defaults(const rlvr_code_runner *r, rlvr_sbx_job *j)
{
    j->time_ms = r->cfg.time_limit_ms;
    j->memory_mb = r->cfg.memory_mb;
    j->stdout_max = r->cfg.output_limit_bytes;
    j->stderr_max = 16384;
    j->pids_max = r->cfg.pids_max;
    j->tmpfs_mb = r->cfg.tmpfs_mb;
}

int rlvr_code_prepare(rlvr_code_runner *r, int lang, const char *src, size_t len, rlvr_code_prog **out, char *diag,
                      size_t diag_len, char *err, size_t err_len)
{
    *out = NULL;
    if (diag_len) diag[0] = 0;
    if (lang < 0 || lang >= RLVR_CODE_N_LANGS) {
        snprintf(err, err_len, "unknown language");
        return -1;
    }
    if (!langs[lang].compiled) {
        rlvr_code_prog *p = calloc(1, sizeof *p);
        if (p) p->data = malloc(len + 1);
        if (!p || !p->data) {
            free(p);
            snprintf(err, err_len, "out of memory");
            return -1;
        }
        memcpy(p->data, src, len);
        p->data[len] = 0;
        p->len = len;
        p->lang = lang;
        p->refs = 1;
        *out = p;
        return 0;
    }
    const char *cc = lang == RLVR_CODE_C ? r->gcc : r->gxx;
    const char *fl = lang == RLVR_CODE_C ? r->c_flags : r->cpp_flags;
    size_t kl = strlen(cc) + strlen(fl) + len + 8;
    char *key = malloc(kl);
    if (!key) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    int hl = snprintf(key, kl, "%d\n%s\n%s\n", lang, cc, fl);
    memcpy(key + hl, src, len);
    kl = (size_t)hl + len;
    uint64_t h = fnv1a(key, kl);
    rlvr_code_prog *hit = NULL;
    if (r->cfg.compile_cache > 0 && cache_get(r, h, key, kl, &hit, diag, diag_len)) {
        free(key);
        if (!hit) return 1;
        *out = hit;
        return 0;
    }
    char flags[512];
    snprintf(flags, sizeof flags, "%s", fl);
    const char *argv[48];
    int n = 0;
    argv[n++] = cc;
    if (split_flags(flags, argv, &n, 40)) {
        free(key);
        snprintf(err, err_len, "too many compiler flags");
        return -1;
    }
    argv[n++] = "-o";
    argv[n++] = "prog";
    argv[n++] = langs[lang].source;
    argv[n++] = "-lm";
    argv[n] = NULL;
    rlvr_sbx_file f = {langs[lang].source, src, len, 0644};
    rlvr_sbx_job j;
    memset(&j, 0, sizeof j);
    run_job_defaults(r, &j);
    j.argv = argv;
    j.files = &f;
    j.n_files = 1;
    j.collect = "prog";
    j.collect_max = 64u << 20;
    j.time_ms = r->cfg.compile_time_limit_ms;
    j.memory_mb = r->cfg.compile_memory_mb;
    j.pids_max = 32;
    j.tmpfs_mb = r->cfg.tmpfs_mb > 128 ? r->cfg.tmpfs_mb : 128;
    j.stdout_max = 16384;
    j.stderr_max = 16384;
    j.allow_exec = 1;
    static const char *const cenv[] = {"PATH=/usr/bin:/bin", "HOME=/work", "TMPDIR=/tmp", "LC_ALL=C", NULL};
    j.envp = cenv;
    rlvr_sbx_result res;
    int slot = rlvr_sbx_acquire(r->sbx);
    int rc = rlvr_sbx_run(r->sbx, slot, &j, &res, err, err_len);
    rlvr_sbx_release(r->sbx, slot);
    if (rc) {
        free(key);
        return -1;
    }
    int ok = res.outcome == RLVR_SBX_EXITED && res.exit_code == 0 && res.collected;
    if (!ok) {
        if (res.outcome == RLVR_SBX_EXITED)
            snprintf(diag, diag_len, "%.*s", (int)(res.err_len < 1500 ? res.err_len : 1500), res.err);
        else
            snprintf(diag, diag_len, "the compiler was stopped: %s%s%.*s", rlvr_sbx_outcome_name(res.outcome),
                     res.err_len ? "; " : "", (int)(res.err_len < 1200 ? res.err_len : 1200), res.err);
        /* a compiler stopped by the limits is cached too: the same source stops it again */
        cache_put(r, h, key, kl, NULL, diag);
        rlvr_sbx_result_free(&res);
        free(key);
        return 1;
    }
    rlvr_code_prog *p = calloc(1, sizeof *p);
    if (!p) {
        rlvr_sbx_result_free(&res);
        free(key);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    p->lang = lang;
    p->data = res.collected;
    p->len = res.collected_len;
    p->refs = 1;
    res.collected = NULL;
    rlvr_sbx_result_free(&res);
    cache_put(r, h, key, kl, p, NULL);
    free(key);
    *out = p;
    return 0;
}

static int exec_files(const rlvr_code_runner *r, const rlvr_code_prog *p, rlvr_sbx_file *f, const char **argv)
{
    if (p->lang == RLVR_CODE_PYTHON) {
        *f = (rlvr_sbx_file){"main.py", p->data, p->len, 0644};
        argv[0] = r->python;
        argv[1] = "-B";
        argv[2] = r->cfg.python_site ? "-s" : "-sS";
        argv[3] = "main.py";
        argv[4] = NULL;
    } else {
        *f = (rlvr_sbx_file){"prog", p->data, p->len, 0755};
        argv[0] = "./prog";
        argv[1] = NULL;
    }
    return 0;
}

int rlvr_code_exec(rlvr_code_runner *r, const rlvr_code_prog *p, const char *in, size_t in_len, int64_t time_ms,
                   int64_t memory_mb, rlvr_sbx_result *res, char *err, size_t err_len)
{
    rlvr_sbx_file f;
    const char *argv[8];
    exec_files(r, p, &f, argv);
    rlvr_sbx_job j;
    memset(&j, 0, sizeof j);
    run_job_defaults(r, &j);
    if (time_ms > 0) j.time_ms = time_ms;
    if (memory_mb > 0) j.memory_mb = memory_mb;
    j.argv = argv;
    if (p->lang == RLVR_CODE_PYTHON && r->cfg.python_warm) j.warm_argi = 3;
    j.files = &f;
    j.n_files = 1;
    j.stdin_data = in;
    j.stdin_len = in_len;
    int slot = rlvr_sbx_acquire(r->sbx);
    int rc = rlvr_sbx_run(r->sbx, slot, &j, res, err, err_len);
    rlvr_sbx_release(r->sbx, slot);
    return rc;
}

rlvr_code_verdict rlvr_code_run_verdict(const rlvr_sbx_result *res)
{
    switch (res->outcome) {
    case RLVR_SBX_EXITED: return res->exit_code == 0 ? RLVR_CODE_OK : RLVR_CODE_RUNTIME_ERROR;
    case RLVR_SBX_SIGNALED: return RLVR_CODE_RUNTIME_ERROR;
    case RLVR_SBX_TIME: return RLVR_CODE_TIME_LIMIT;
    case RLVR_SBX_MEMORY: return RLVR_CODE_MEMORY_LIMIT;
    case RLVR_SBX_OUTPUT: return RLVR_CODE_OUTPUT_LIMIT;
    case RLVR_SBX_VIOLATION: return RLVR_CODE_SANDBOX_VIOLATION;
    }
    return RLVR_CODE_RUNTIME_ERROR;
}

/* ------------------------------------------------------------------ */
/* Checkers.                                                            */

typedef struct span {
    const char *p;
    size_t n;
} span;

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* The next line of [*p, end), without its terminator and trailing blanks. */
static int next_line(const char **p, const char *end, span *out)
{
    if (*p >= end) return 0;
    const char *s = *p, *e = memchr(s, '\n', (size_t)(end - s));
    const char *le = e ? e : end;
    *p = e ? e + 1 : end;
    while (le > s && is_ws(le[-1])) le--;
    *out = (span){s, (size_t)(le - s)};
    return 1;
}

/* Number of lines once trailing blank lines are dropped. */
static size_t count_lines(const char *p, size_t n)
{
    const char *end = p + n, *q = p;
    size_t k = 0, last = 0;
    span l;
    while (next_line(&q, end, &l)) {
        k++;
        if (l.n) last = k;
    }
    return last;
}

static int next_token(const char **p, const char *end, span *out)
{
    const char *s = *p;
    while (s < end && is_ws(*s)) s++;
    if (s >= end) {
        *p = end;
        return 0;
    }
    const char *e = s;
    while (e < end && !is_ws(*e)) e++;
    *out = (span){s, (size_t)(e - s)};
    *p = e;
    return 1;
}

static int token_number(span t, double *v)
{
    if (t.n == 0 || t.n > 64) return 0;
    char b[72];
    memcpy(b, t.p, t.n);
    b[t.n] = 0;
    char *e;
    errno = 0;
    *v = strtod(b, &e);
    return *e == 0 && e != b;
}

static int float_eq(double a, double b, double tol)
{
    if (isnan(a) || isnan(b)) return 0;
    if (isinf(a) || isinf(b)) return a == b;
    double d = fabs(a - b);
    return d <= tol || d <= tol * fabs(b);
}

static int tokens_eq(span a, span b, int floats, double tol)
{
    const char *pa = a.p, *ea = a.p + a.n, *pb = b.p, *eb = b.p + b.n;
    span ta, tb;
    for (;;) {
        int ha = next_token(&pa, ea, &ta), hb = next_token(&pb, eb, &tb);
        if (ha != hb) return 0;
        if (!ha) return 1;
        if (ta.n == tb.n && memcmp(ta.p, tb.p, ta.n) == 0) {
            double x;
            /* "nan" == "nan" as text is still not equal under the float checker */
            if (floats && token_number(ta, &x) && isnan(x)) return 0;
            continue;
        }
        double x, y;
        if (floats && token_number(ta, &x) && token_number(tb, &y) && float_eq(x, y, tol)) continue;
        return 0;
    }
}

int rlvr_code_check_output(rlvr_code_check check, double tol, const char *got, size_t got_len, const char *want,
                           size_t want_len)
{
    if (check == RLVR_CHECK_EXACT) return got_len == want_len && memcmp(got, want, got_len) == 0;
    if (check == RLVR_CHECK_TOKENS) return tokens_eq((span){got, got_len}, (span){want, want_len}, 0, 0);
    /* lines and floats: same number of lines (trailing blank lines aside), line by line */
    size_t ng = count_lines(got, got_len), nw = count_lines(want, want_len);
    if (ng != nw) return 0;
    const char *pg = got, *eg = got + got_len, *pw = want, *ew = want + want_len;
    for (size_t i = 0; i < nw; i++) {
        span lg, lw;
        next_line(&pg, eg, &lg);
        next_line(&pw, ew, &lw);
        if (check == RLVR_CHECK_LINES) {
            if (lg.n != lw.n || memcmp(lg.p, lw.p, lg.n) != 0) return 0;
        } else if (!tokens_eq(lg, lw, 1, tol)) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* JSON values.                                                         */

/* Parse s[0..n) as one JSON value (JSON null is a NULL object: *good says
 * whether the text parsed). */
static json_object *parse_json_ok(const char *s, size_t n, int *good)
{
    *good = 0;
    if (n > ((size_t)1 << 30)) return NULL;
    /* the text with its NUL, so that a number at the very end is complete */
    char *b = malloc(n + 1);
    json_tokener *tk = json_tokener_new_ex(64);
    if (!b || !tk) {
        free(b);
        if (tk) json_tokener_free(tk);
        return NULL;
    }
    memcpy(b, s, n);
    b[n] = 0;
    json_object *o = json_tokener_parse_ex(tk, b, (int)n + 1);
    enum json_tokener_error e = json_tokener_get_error(tk);
    size_t used = json_tokener_get_parse_end(tk);
    json_tokener_free(tk);
    while (used < n && is_ws(b[used])) used++;
    free(b);
    if (e != json_tokener_success || used < n) {
        json_object_put(o);
        return NULL;
    }
    *good = 1;
    return o;
}

static json_object *parse_json(const char *s, size_t n)
{
    int good;
    return parse_json_ok(s, n, &good);
}

static int is_number(json_object *o)
{
    json_type t = json_object_get_type(o);
    return t == json_type_int || t == json_type_double;
}

static int json_eq(json_object *a, json_object *b, double tol)
{
    json_type ta = json_object_get_type(a), tb = json_object_get_type(b);
    if (tol >= 0 && is_number(a) && is_number(b))
        return float_eq(json_object_get_double(a), json_object_get_double(b), tol);
    if (ta != tb) return 0;
    switch (ta) {
    case json_type_null: return 1;
    case json_type_boolean: return json_object_get_boolean(a) == json_object_get_boolean(b);
    case json_type_int: {
        /* big integers: compare their text */
        const char *sa = json_object_to_json_string(a), *sb = json_object_to_json_string(b);
        return json_object_get_int64(a) == json_object_get_int64(b) && strcmp(sa, sb) == 0;
    }
    case json_type_double: {
        double x = json_object_get_double(a), y = json_object_get_double(b);
        return !isnan(x) && x == y;
    }
    case json_type_string:
        return json_object_get_string_len(a) == json_object_get_string_len(b)
               && memcmp(json_object_get_string(a), json_object_get_string(b), (size_t)json_object_get_string_len(a)) == 0;
    case json_type_array: {
        size_t n = json_object_array_length(a);
        if (n != json_object_array_length(b)) return 0;
        for (size_t i = 0; i < n; i++)
            if (!json_eq(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i), tol)) return 0;
        return 1;
    }
    case json_type_object: {
        if (json_object_object_length(a) != json_object_object_length(b)) return 0;
        json_object_object_foreach(a, k, v)
        {
            json_object *w;
            if (!json_object_object_get_ex(b, k, &w) || !json_eq(v, w, tol)) return 0;
        }
        return 1;
    }
    }
    return 0;
}

int rlvr_code_json_equal(const char *a, size_t a_len, const char *b, size_t b_len, double float_tol)
{
    int ga, gb;
    json_object *x = parse_json_ok(a, a_len, &ga), *y = parse_json_ok(b, b_len, &gb);
    int eq = ga && gb && json_eq(x, y, float_tol);
    json_object_put(x);
    json_object_put(y);
    return eq;
}

/* ------------------------------------------------------------------ */
/* Test specifications.                                                 */

void rlvr_code_tests_free(rlvr_code_tests *t)
{
    for (size_t i = 0; i < t->n_cases; i++) {
        free(t->cases[i].in);
        free(t->cases[i].out);
    }
    free(t->cases);
    free(t->checker_src);
    free(t->entry_point);
    free(t->assert_src);
    memset(t, 0, sizeof *t);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* A text value: a string, or a list of lines joined with "\n" (APPS). */
static char *text_of(json_object *o, size_t *n)
{
    if (json_object_is_type(o, json_type_string)) {
        *n = (size_t)json_object_get_string_len(o);
        return dup_n(json_object_get_string(o), *n);
    }
    if (json_object_is_type(o, json_type_array)) {
        size_t total = 0, k = json_object_array_length(o);
        for (size_t i = 0; i < k; i++) {
            json_object *e = json_object_array_get_idx(o, i);
            if (!json_object_is_type(e, json_type_string)) return NULL;
            total += (size_t)json_object_get_string_len(e) + 1;
        }
        char *d = malloc(total + 1), *p = d;
        if (!d) return NULL;
        for (size_t i = 0; i < k; i++) {
            json_object *e = json_object_array_get_idx(o, i);
            size_t l = (size_t)json_object_get_string_len(e);
            memcpy(p, json_object_get_string(e), l);
            p += l;
            *p++ = '\n';
        }
        *p = 0;
        *n = (size_t)(p - d);
        return d;
    }
    return NULL;
}

static char *json_text(json_object *o, size_t *n)
{
    size_t l;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &l);
    *n = l;
    return dup_n(s, l);
}

static int add_case(rlvr_code_tests *t, char *in, size_t in_len, char *out, size_t out_len, int unwrap)
{
    rlvr_code_case *nc = realloc(t->cases, (t->n_cases + 1) * sizeof *nc);
    if (!nc || !in || !out) {
        if (nc) t->cases = nc;
        free(in);
        free(out);
        return -1;
    }
    t->cases = nc;
    t->cases[t->n_cases++] = (rlvr_code_case){in, in_len, out, out_len, unwrap};
    return 0;
}

/* Say why the tests are refused, drop what was parsed; returns -1. */
__attribute__((format(printf, 4, 5))) static int why_fail(rlvr_code_tests *t, char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    rlvr_code_tests_free(t);
    return -1;
}
#define WHY(...) why_fail(t, why, why_len, __VA_ARGS__)

static int parse_checker(json_object *c, rlvr_code_tests *t, char *why, size_t why_len)
{
    if (json_object_is_type(c, json_type_object)) {
        json_object *py;
        if (!json_object_object_get_ex(c, "python", &py) || !json_object_is_type(py, json_type_string))
            return WHY("tests.checker: a custom checker is {\"python\": \"def check(input, output, expected): ...\"}");
        t->check = RLVR_CHECK_CUSTOM;
        t->checker_src = strdup(json_object_get_string(py));
        return t->checker_src ? 0 : WHY("out of memory");
    }
    if (!json_object_is_type(c, json_type_string)) return WHY("tests.checker: a string or {\"python\": ...}");
    const char *s = json_object_get_string(c);
    if (strcmp(s, "exact") == 0) t->check = RLVR_CHECK_EXACT;
    else if (strcmp(s, "lines") == 0) t->check = RLVR_CHECK_LINES;
    else if (strcmp(s, "tokens") == 0) t->check = RLVR_CHECK_TOKENS;
    else if (strncmp(s, "float", 5) == 0) {
        t->check = RLVR_CHECK_FLOAT;
        t->tolerance = 1e-6;
        if (s[5] == ':') {
            char *e;
            t->tolerance = strtod(s + 6, &e);
            if (*e || !(t->tolerance >= 0) || t->tolerance > 1e6) return WHY("tests.checker: float:TOL wants a tolerance >= 0");
        } else if (s[5]) {
            return WHY("tests.checker: unknown checker '%.40s'", s);
        }
    } else {
        return WHY("tests.checker: unknown checker '%.40s' (exact, lines, tokens, float:TOL, {\"python\": ...})", s);
    }
    return 0;
}

static int limit_field(json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *out, rlvr_code_tests *t,
                       char *why, size_t why_len)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v)) return 0;
    if (!is_number(v)) return WHY("tests.%s: a number", key);
    double d = json_object_get_double(v);
    if (!(d >= (double)lo && d <= (double)hi)) return WHY("tests.%s: out of range [%lld, %lld]", key, (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return 0;
}

int rlvr_code_tests_parse(const char *json, size_t len, rlvr_code_tests *t, char *why, size_t why_len)
{
    memset(t, 0, sizeof *t);
    t->lang = -1;
    t->check = RLVR_CHECK_LINES;
    json_object *o = parse_json(json, len);
    if (!o) return WHY("tests: not valid JSON");
    int rc = -1;
    if (!json_object_is_type(o, json_type_object)) {
        WHY("tests: an object with cases (or entry_point and assert)");
        goto out;
    }
    json_object *v;
    if (json_object_object_get_ex(o, "language", &v)) {
        if (!json_object_is_type(v, json_type_string)
            || (t->lang = rlvr_code_lang_find(json_object_get_string(v), (size_t)json_object_get_string_len(v))) < 0) {
            WHY("tests.language: python, c or cpp");
            goto out;
        }
    }
    if (json_object_object_get_ex(o, "checker", &v) && parse_checker(v, t, why, why_len)) goto out;
    if (limit_field(o, "time_limit_ms", 1, 600000, &t->time_limit_ms, t, why, why_len)) goto out;
    if (limit_field(o, "memory_mb", 8, 65536, &t->memory_mb, t, why, why_len)) goto out;
    if (json_object_object_get_ex(o, "entry_point", &v)) {
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0
            || json_object_get_string_len(v) > 200) {
            WHY("tests.entry_point: a function name");
            goto out;
        }
        t->entry_point = strdup(json_object_get_string(v));
    }
    if (json_object_object_get_ex(o, "assert", &v)) {
        if (!json_object_is_type(v, json_type_string)) {
            WHY("tests.assert: Python source defining check(candidate)");
            goto out;
        }
        if (!t->entry_point) {
            WHY("tests.assert needs tests.entry_point");
            goto out;
        }
        t->mode = RLVR_CODE_ASSERT;
        t->assert_src = strdup(json_object_get_string(v));
        rc = add_case(t, strdup(""), 0, strdup(""), 0, 0);
        if (rc) WHY("out of memory");
        goto out;
    }
    if (t->entry_point) t->mode = RLVR_CODE_FUNCTION;
    json_object *cases;
    if (!json_object_object_get_ex(o, "cases", &cases) || !json_object_is_type(cases, json_type_array)
        || json_object_array_length(cases) == 0) {
        WHY("tests.cases: a non-empty list");
        goto out;
    }
    for (size_t i = 0; i < json_object_array_length(cases); i++) {
        json_object *c = json_object_array_get_idx(cases, i), *a, *b;
        if (!json_object_is_type(c, json_type_object)) {
            WHY("tests.cases.%zu: an object", i);
            goto out;
        }
        if (t->mode == RLVR_CODE_FUNCTION) {
            if (!json_object_object_get_ex(c, "input", &a) || !json_object_is_type(a, json_type_array)
                || !json_object_object_get_ex(c, "output", &b)) {
                WHY("tests.cases.%zu: function mode wants {\"input\": [args], \"output\": value}", i);
                goto out;
            }
            size_t ni, no;
            char *in = json_text(a, &ni), *ou = json_text(b, &no);
            if (add_case(t, in, ni, ou, no, 0)) {
                WHY("out of memory");
                goto out;
            }
        } else {
            size_t ni = 0, no = 0;
            char *in = NULL, *ou = NULL;
            if (json_object_object_get_ex(c, "stdin", &a)) in = text_of(a, &ni);
            else in = strdup("");
            if (json_object_object_get_ex(c, "stdout", &b)) ou = text_of(b, &no);
            if (!in || !ou) {
                free(in);
                free(ou);
                WHY("tests.cases.%zu: {\"stdin\": text, \"stdout\": text}", i);
                goto out;
            }
            if (add_case(t, in, ni, ou, no, 0)) {
                WHY("out of memory");
                goto out;
            }
        }
    }
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int rlvr_code_tests_from_apps(const char *json, size_t len, rlvr_code_tests *t, char *why, size_t why_len)
{
    memset(t, 0, sizeof *t);
    t->lang = RLVR_CODE_PYTHON;
    t->check = RLVR_CHECK_TOKENS;
    json_object *o = parse_json(json, len), *inner = NULL;
    if (!o) return WHY("input_output: not valid JSON");
    int rc = -1;
    if (json_object_is_type(o, json_type_string)) { /* APPS keeps it as a JSON string */
        inner = parse_json(json_object_get_string(o), (size_t)json_object_get_string_len(o));
        if (!inner) {
            WHY("input_output: the string is not valid JSON");
            goto out;
        }
    }
    json_object *io = inner ? inner : o, *ins, *outs, *fn;
    if (!json_object_is_type(io, json_type_object) || !json_object_object_get_ex(io, "inputs", &ins)
        || !json_object_object_get_ex(io, "outputs", &outs) || !json_object_is_type(ins, json_type_array)
        || !json_object_is_type(outs, json_type_array)) {
        WHY("input_output: an object with inputs and outputs lists");
        goto out;
    }
    size_t n = json_object_array_length(ins);
    if (n == 0 || n != json_object_array_length(outs)) {
        WHY("input_output: inputs and outputs must be non-empty and of the same length");
        goto out;
    }
    if (json_object_object_get_ex(io, "fn_name", &fn)) {
        if (!json_object_is_type(fn, json_type_string) || json_object_get_string_len(fn) == 0) {
            WHY("input_output.fn_name: a function name");
            goto out;
        }
        t->mode = RLVR_CODE_FUNCTION;
        t->entry_point = strdup(json_object_get_string(fn));
    }
    for (size_t i = 0; i < n; i++) {
        json_object *a = json_object_array_get_idx(ins, i), *b = json_object_array_get_idx(outs, i);
        size_t ni, no;
        char *in, *ou;
        if (t->mode == RLVR_CODE_FUNCTION) {
            if (!json_object_is_type(a, json_type_array)) {
                WHY("input_output.inputs.%zu: a list of arguments", i);
                goto out;
            }
            in = json_text(a, &ni);
            ou = json_text(b, &no);
        } else {
            in = text_of(a, &ni);
            ou = text_of(b, &no);
            if (!in || !ou) {
                free(in);
                free(ou);
                WHY("input_output: inputs.%zu and outputs.%zu must be text", i, i);
                goto out;
            }
        }
        if (add_case(t, in, ni, ou, no, t->mode == RLVR_CODE_FUNCTION)) {
            WHY("out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    json_object_put(inner);
    json_object_put(o);
    return rc;
}

int rlvr_code_tests_from_openr1(const char *json, size_t len, rlvr_code_tests *t, char *why, size_t why_len)
{
    memset(t, 0, sizeof *t);
    t->lang = -1;
    t->check = RLVR_CHECK_LINES;
    json_object *o = parse_json(json, len), *tc, *v;
    if (!o) return WHY("verification_info: not valid JSON");
    int rc = -1;
    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "test_cases", &tc)
        || !json_object_is_type(tc, json_type_array) || json_object_array_length(tc) == 0) {
        WHY("verification_info.test_cases: a non-empty list");
        goto out;
    }
    if (json_object_object_get_ex(o, "language", &v) && json_object_is_type(v, json_type_string)) {
        t->lang = rlvr_code_lang_find(json_object_get_string(v), (size_t)json_object_get_string_len(v));
        if (t->lang < 0) {
            WHY("verification_info.language: python, c or cpp");
            goto out;
        }
    }
    for (size_t i = 0; i < json_object_array_length(tc); i++) {
        json_object *c = json_object_array_get_idx(tc, i), *a, *b, *ty;
        if (!json_object_is_type(c, json_type_object) || !json_object_object_get_ex(c, "input", &a)
            || !json_object_object_get_ex(c, "output", &b)) {
            WHY("verification_info.test_cases.%zu: {\"input\", \"output\"}", i);
            goto out;
        }
        if (json_object_object_get_ex(c, "type", &ty) && json_object_is_type(ty, json_type_string)
            && strcmp(json_object_get_string(ty), "stdin_stdout") != 0) {
            WHY("verification_info.test_cases.%zu.type: only stdin_stdout is known", i);
            goto out;
        }
        size_t ni, no;
        char *in = text_of(a, &ni), *ou = text_of(b, &no);
        if (!in || !ou) {
            free(in);
            free(ou);
            WHY("verification_info.test_cases.%zu: input and output must be text", i);
            goto out;
        }
        if (add_case(t, in, ni, ou, no, 0)) {
            WHY("out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int rlvr_code_tests_from_humaneval(const char *test_json, size_t test_len, const char *entry_json, size_t entry_len,
                                   rlvr_code_tests *t, char *why, size_t why_len)
{
    memset(t, 0, sizeof *t);
    t->lang = RLVR_CODE_PYTHON;
    t->mode = RLVR_CODE_ASSERT;
    json_object *a = parse_json(test_json, test_len), *b = parse_json(entry_json, entry_len);
    int rc = -1;
    if (!a || !json_object_is_type(a, json_type_string) || !strstr(json_object_get_string(a), "def check")) {
        WHY("test: Python source defining check(candidate)");
    } else if (!b || !json_object_is_type(b, json_type_string) || json_object_get_string_len(b) == 0) {
        WHY("entry_point: a function name");
    } else {
        t->assert_src = strdup(json_object_get_string(a));
        t->entry_point = strdup(json_object_get_string(b));
        rc = add_case(t, strdup(""), 0, strdup(""), 0, 0);
        if (rc || !t->assert_src || !t->entry_point) rc = WHY("out of memory");
    }
    json_object_put(a);
    json_object_put(b);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Judging.                                                             */

void rlvr_code_report_free(rlvr_code_report *rep)
{
    free(rep->verdicts);
    memset(rep, 0, sizeof *rep);
}

static void note_failure(rlvr_code_report *rep, size_t i, rlvr_code_verdict v, const char *msg)
{
    rep->verdicts[i] = v;
    if (v != RLVR_CODE_OK && rep->first_failure < 0) {
        rep->first_failure = (long)i;
        rep->first_verdict = v;
        snprintf(rep->message, sizeof rep->message, "%.500s", msg ? msg : "");
    }
}

static void describe_run(const rlvr_sbx_result *res, char *msg, size_t n)
{
    if (res->signal)
        snprintf(msg, n, "killed by signal %d (%s)%s%.300s", res->signal, strsignal(res->signal), res->err_len ? "; stderr: " : "",
                 res->err);
    else if (res->outcome == RLVR_SBX_EXITED && res->exit_code)
        snprintf(msg, n, "exit status %d%s%.300s", res->exit_code, res->err_len ? "; stderr: " : "", res->err);
    else
        snprintf(msg, n, "%s", rlvr_sbx_outcome_name(res->outcome));
}

/* A custom checker, in a sandbox of its own: 1 accept, 0 reject, -1 failed. */
static int run_checker(rlvr_code_runner *r, const rlvr_code_tests *t, const rlvr_code_case *c, const char *got,
                       size_t got_len, char *err, size_t err_len)
{
    static const char wrapper[] =
        "import json, sys\n"
        "d = json.loads(sys.stdin.buffer.read())\n"
        "g = {'__name__': 'checker'}\n"
        "exec(compile(open('/work/checker.py').read(), 'checker.py', 'exec'), g)\n"
        "r = g['check'](d['input'], d['output'], d['expected'])\n"
        "sys.stdout.write('accept' if r is True or r == 1 else 'reject')\n";
    json_object *o = json_object_new_object();
    json_object_object_add(o, "input", json_object_new_string_len(c->in, (int)c->in_len));
    json_object_object_add(o, "output", json_object_new_string_len(got, (int)got_len));
    json_object_object_add(o, "expected", json_object_new_string_len(c->out, (int)c->out_len));
    size_t n;
    const char *in = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
    rlvr_sbx_file f[2] = {{"checker_main.py", wrapper, sizeof wrapper - 1, 0644},
                          {"checker.py", t->checker_src, strlen(t->checker_src), 0644}};
    const char *argv[] = {r->python, "-B", r->cfg.python_site ? "-s" : "-sS", "checker_main.py", NULL};
    rlvr_sbx_job j;
    memset(&j, 0, sizeof j);
    run_job_defaults(r, &j);
    j.argv = argv;
    j.warm_argi = r->cfg.python_warm ? 3 : 0;
    j.files = f;
    j.n_files = 2;
    j.stdin_data = in;
    j.stdin_len = n;
    j.time_ms = 10000;
    rlvr_sbx_result res;
    int slot = rlvr_sbx_acquire(r->sbx);
    int rc = rlvr_sbx_run(r->sbx, slot, &j, &res, err, err_len);
    rlvr_sbx_release(r->sbx, slot);
    json_object_put(o);
    if (rc) return -1;
    int v = -1;
    if (res.outcome == RLVR_SBX_EXITED && res.exit_code == 0) {
        if (strcmp(res.out, "accept") == 0) v = 1;
        else if (strcmp(res.out, "reject") == 0) v = 0;
    }
    if (v < 0) snprintf(err, err_len, "the custom checker failed: %s: %.300s", rlvr_sbx_outcome_name(res.outcome), res.err);
    rlvr_sbx_result_free(&res);
    return v;
}

/* Python's last stderr line names a syntax error: the program never ran. */
static int python_syntax_error(const char *err, size_t n)
{
    while (n && is_ws(err[n - 1])) n--;
    size_t b = n;
    while (b && err[b - 1] != '\n') b--;
    static const char *const kinds[] = {"SyntaxError:", "IndentationError:", "TabError:"};
    for (size_t i = 0; i < 3; i++)
        if (n - b >= strlen(kinds[i]) && memcmp(err + b, kinds[i], strlen(kinds[i])) == 0) return 1;
    return 0;
}

static int judge_stdio(rlvr_code_runner *r, const rlvr_code_tests *t, const rlvr_code_prog *p, int stop,
                       rlvr_code_report *rep, char *err, size_t err_len)
{
    for (size_t i = 0; i < t->n_cases; i++) {
        if (stop && rep->first_failure >= 0) {
            rep->verdicts[i] = RLVR_CODE_NOT_RUN;
            continue;
        }
        const rlvr_code_case *c = &t->cases[i];
        rlvr_sbx_result res;
        if (rlvr_code_exec(r, p, c->in, c->in_len, t->time_limit_ms, t->memory_mb, &res, err, err_len)) return -1;
        rep->run++;
        rep->cpu_ms += res.cpu_ms;
        rep->wall_ms += res.wall_ms;
        if (res.memory_kb > rep->max_memory_kb) rep->max_memory_kb = res.memory_kb;
        rlvr_code_verdict v = rlvr_code_run_verdict(&res);
        char msg[512] = "";
        if (v == RLVR_CODE_OK) {
            int eq;
            if (t->check == RLVR_CHECK_CUSTOM) {
                eq = run_checker(r, t, c, res.out, res.out_len, err, err_len);
                if (eq < 0) {
                    rlvr_sbx_result_free(&res);
                    return -1;
                }
            } else {
                eq = rlvr_code_check_output(t->check, t->tolerance, res.out, res.out_len, c->out, c->out_len);
            }
            if (!eq) {
                v = RLVR_CODE_WRONG_ANSWER;
                snprintf(msg, sizeof msg, "output differs (%zu bytes, expected %zu)", res.out_len, c->out_len);
            }
        } else {
            describe_run(&res, msg, sizeof msg);
            if (p->lang == RLVR_CODE_PYTHON && res.outcome == RLVR_SBX_EXITED && res.exit_code == 1
                && python_syntax_error(res.err, res.err_len))
                v = RLVR_CODE_COMPILE_ERROR;
        }
        if (v == RLVR_CODE_OK) rep->passed++;
        note_failure(rep, i, v, msg);
        rlvr_sbx_result_free(&res);
    }
    return 0;
}

static rlvr_code_verdict verdict_of(const char *kind, const rlvr_sbx_result *res)
{
    if (strcmp(kind, "time_limit") == 0) return RLVR_CODE_TIME_LIMIT;
    if (strcmp(kind, "compile_error") == 0) return RLVR_CODE_COMPILE_ERROR;
    if (strcmp(kind, "wrong_answer") == 0) return RLVR_CODE_WRONG_ANSWER;
    if (strcmp(kind, "died") == 0) {
        if (res->memory_limit_hit) return RLVR_CODE_MEMORY_LIMIT;
        return RLVR_CODE_RUNTIME_ERROR;
    }
    return RLVR_CODE_RUNTIME_ERROR;
}

/* Function and assertion modes: one run of the judge for all cases. */
static int judge_harness(rlvr_code_runner *r, const rlvr_code_tests *t, const char *src, size_t len, int stop,
                         rlvr_code_report *rep, char *err, size_t err_len)
{
    unsigned char rnd[16];
    char token[40];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        snprintf(err, err_len, "getrandom failed");
        return -1;
    }
    for (int i = 0; i < 16; i++) snprintf(token + 2 * i, 3, "%02x", rnd[i]);
    int64_t tl = t->time_limit_ms > 0 ? t->time_limit_ms : r->cfg.time_limit_ms;
    json_object *spec = json_object_new_object();
    json_object_object_add(spec, "token", json_object_new_string(token));
    json_object_object_add(spec, "mode", json_object_new_string(t->mode == RLVR_CODE_ASSERT ? "assert" : "function"));
    json_object_object_add(spec, "time_limit_ms", json_object_new_int64(tl));
    json_object_object_add(spec, "entry_point", json_object_new_string(t->entry_point));
    if (t->mode == RLVR_CODE_ASSERT) {
        json_object_object_add(spec, "test", json_object_new_string(t->assert_src));
    } else {
        json_object *cases = json_object_new_array();
        for (size_t i = 0; i < t->n_cases; i++) json_object_array_add(cases, parse_json(t->cases[i].in, t->cases[i].in_len));
        json_object_object_add(spec, "cases", cases);
    }
    size_t spec_len;
    const char *spec_txt = json_object_to_json_string_length(spec, JSON_C_TO_STRING_PLAIN, &spec_len);
    rlvr_sbx_file f[2] = {{"main.py", src, len, 0644}, {"judge.py", rlvr_code_harness_py, strlen(rlvr_code_harness_py), 0644}};
    const char *argv[] = {r->python, "-B", r->cfg.python_site ? "-s" : "-sS", "judge.py", t->mode == RLVR_CODE_ASSERT ? "assert" : "function", NULL};
    rlvr_sbx_job j;
    memset(&j, 0, sizeof j);
    run_job_defaults(r, &j);
    if (t->memory_mb > 0) j.memory_mb = t->memory_mb;
    j.argv = argv;
    j.warm_argi = r->cfg.python_warm ? 3 : 0;
    j.files = f;
    j.n_files = 2;
    j.stdin_data = spec_txt;
    j.stdin_len = spec_len;
    size_t calls = t->mode == RLVR_CODE_ASSERT ? 4 : t->n_cases;
    j.time_ms = tl * (int64_t)calls + 2000;
    j.wall_ms = (tl + 300) * (int64_t)calls + 3000;
    j.stdout_max = r->cfg.output_limit_bytes * 4 + 4096;
    rlvr_sbx_result res;
    int slot = rlvr_sbx_acquire(r->sbx);
    int rc = rlvr_sbx_run(r->sbx, slot, &j, &res, err, err_len);
    rlvr_sbx_release(r->sbx, slot);
    json_object_put(spec);
    if (rc) return -1;
    rep->run = t->n_cases;
    rep->cpu_ms += res.cpu_ms;
    rep->wall_ms += res.wall_ms;
    rep->max_memory_kb = res.memory_kb;
    /* the judge's lines: TOKEN CASE KIND JSON */
    char *seen = calloc(t->n_cases, 1);
    if (!seen) {
        rlvr_sbx_result_free(&res);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    double tol = t->check == RLVR_CHECK_FLOAT ? t->tolerance : -1;
    for (char *line = res.out; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        if (strncmp(line, token, 32) == 0 && line[32] == ' ') {
            char *p = line + 33, *e;
            unsigned long i = strtoul(p, &e, 10);
            if (e != p && *e == ' ' && i < t->n_cases && !seen[i]) {
                char *kind = e + 1, *sp = strchr(kind, ' ');
                if (sp) {
                    *sp = 0;
                    const char *val = sp + 1;
                    seen[i] = 1;
                    rlvr_code_verdict v;
                    char msg[512] = "";
                    if (strcmp(kind, "value") == 0) {
                        const rlvr_code_case *c = &t->cases[i];
                        int eq = rlvr_code_json_equal(val, strlen(val), c->out, c->out_len, tol);
                        if (!eq && c->unwrap) {
                            json_object *w = parse_json(c->out, c->out_len);
                            if (w && json_object_is_type(w, json_type_array) && json_object_array_length(w) > 0) {
                                size_t n0;
                                const char *w0 = json_object_to_json_string_length(json_object_array_get_idx(w, 0),
                                                                                   JSON_C_TO_STRING_PLAIN, &n0);
                                eq = rlvr_code_json_equal(val, strlen(val), w0, n0, tol);
                            }
                            json_object_put(w);
                        }
                        v = eq ? RLVR_CODE_OK : RLVR_CODE_WRONG_ANSWER;
                        if (!eq) snprintf(msg, sizeof msg, "returned %.200s", val);
                    } else if (strcmp(kind, "pass") == 0) {
                        v = RLVR_CODE_OK;
                    } else {
                        v = verdict_of(kind, &res);
                        json_object *m = parse_json(val, strlen(val));
                        snprintf(msg, sizeof msg, "%.400s", m && json_object_is_type(m, json_type_string) ? json_object_get_string(m) : "");
                        json_object_put(m);
                    }
                    if (v == RLVR_CODE_OK) rep->passed++;
                    note_failure(rep, i, v, msg);
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    /* cases the judge never reported: the run as a whole decides */
    for (size_t i = 0; i < t->n_cases; i++) {
        if (seen[i]) continue;
        rlvr_code_verdict v = rlvr_code_run_verdict(&res);
        if (v == RLVR_CODE_OK) v = RLVR_CODE_RUNTIME_ERROR;
        char msg[512];
        describe_run(&res, msg, sizeof msg);
        note_failure(rep, i, v, msg);
    }
    free(seen);
    if (stop && rep->first_failure >= 0)
        for (size_t i = (size_t)rep->first_failure + 1; i < t->n_cases; i++)
            if (rep->verdicts[i] == RLVR_CODE_OK) {
                rep->verdicts[i] = RLVR_CODE_NOT_RUN;
                rep->passed--;
            }
    rlvr_sbx_result_free(&res);
    return 0;
}

int rlvr_code_judge(rlvr_code_runner *r, const rlvr_code_tests *t, int lang, const char *src, size_t len,
                    int stop_on_first_failure, rlvr_code_report *rep, char *err, size_t err_len)
{
    memset(rep, 0, sizeof *rep);
    rep->first_failure = -1;
    rep->total = t->n_cases;
    rep->verdicts = calloc(t->n_cases ? t->n_cases : 1, sizeof *rep->verdicts);
    if (!rep->verdicts) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (t->mode != RLVR_CODE_STDIO && lang != RLVR_CODE_PYTHON) {
        /* function and assertion modes call Python functions */
        for (size_t i = 0; i < t->n_cases; i++)
            note_failure(rep, i, RLVR_CODE_COMPILE_ERROR, "function and assertion tests need a Python program");
        return 0;
    }
    if (t->mode != RLVR_CODE_STDIO) {
        int rc = judge_harness(r, t, src, len, stop_on_first_failure, rep, err, err_len);
        if (rc) rlvr_code_report_free(rep);
        return rc;
    }
    rlvr_code_prog *p = NULL;
    char diag[1600];
    int rc = rlvr_code_prepare(r, lang, src, len, &p, diag, sizeof diag, err, err_len);
    if (rc < 0) {
        rlvr_code_report_free(rep);
        return -1;
    }
    if (rc == 1) {
        for (size_t i = 0; i < t->n_cases; i++) note_failure(rep, i, RLVR_CODE_COMPILE_ERROR, diag);
        return 0;
    }
    rc = judge_stdio(r, t, p, stop_on_first_failure, rep, err, err_len);
    rlvr_code_prog_free(p);
    if (rc) rlvr_code_report_free(rep);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The program in a completion.                                         */

int rlvr_code_extract(const char *text, size_t len, int want_lang, int whole_text, const char **code, size_t *code_len,
                      int *lang_out)
{
    *lang_out = -1;
    /* after the reasoning, when there is one */
    const char *start = text, *end = text + len;
    for (const char *p = text; p + 8 <= end; p++) {
        p = memchr(p, '<', (size_t)(end - p));
        if (!p || p + 8 > end) break;
        if (memcmp(p, "</think>", 8) == 0) start = p + 8;
    }
    const char *best = NULL, *untagged = NULL;
    size_t best_len = 0, untagged_len = 0;
    int best_lang = -1;
    const char *p = start;
    for (;;) {
        /* an opening fence: ``` at the start of a line */
        const char *f = NULL;
        for (const char *q = p; q + 3 <= end; q++) {
            q = memchr(q, '`', (size_t)(end - q));
            if (!q || q + 3 > end) break;
            if (memcmp(q, "```", 3) == 0 && (q == start || q[-1] == '\n')) {
                f = q;
                break;
            }
        }
        if (!f) break;
        const char *tag = f + 3, *tag_end = tag;
        while (tag_end < end && *tag_end != '\n' && *tag_end != ' ' && *tag_end != '{' && *tag_end != '`') tag_end++;
        const char *nl = memchr(tag, '\n', (size_t)(end - tag));
        if (!nl) break;
        const char *body = nl + 1, *close = NULL;
        for (const char *q = body; q + 3 <= end; q++) {
            q = memchr(q, '`', (size_t)(end - q));
            if (!q || q + 3 > end) break;
            if (memcmp(q, "```", 3) == 0 && q[-1] == '\n') {
                close = q;
                break;
            }
        }
        const char *body_end = close ? close : end; /* an unclosed last block runs to the end */
        int l = rlvr_code_lang_find(tag, (size_t)(tag_end - tag));
        if (tag_end == tag) {
            untagged = body;
            untagged_len = (size_t)(body_end - body);
        } else if (l >= 0 && (want_lang < 0 || l == want_lang)) {
            best = body;
            best_len = (size_t)(body_end - body);
            best_lang = l;
        }
        if (!close) break;
        p = close + 3;
    }
    if (best) {
        *code = best;
        *code_len = best_len;
        *lang_out = best_lang;
    } else if (untagged) {
        *code = untagged;
        *code_len = untagged_len;
    } else if (whole_text) {
        *code = start;
        *code_len = (size_t)(end - start);
    } else {
        return -1;
    }
    /* nothing but blanks is no code */
    for (size_t i = 0; i < *code_len; i++)
        if (!is_ws((*code)[i])) return 0;
    return -1;
}
