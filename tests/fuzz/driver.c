/*
 * driver.c -- a small standalone fuzz driver for `make check` (no clang or
 * libFuzzer needed): it feeds the math fuzz target (math_fuzz.c's
 * math_fuzz_one) the seed corpus, a set of hostile inputs made here, and
 * seeded random mutations of both, under a time budget, and reports TAP.
 *
 *   test_math_fuzz [CORPUS_DIR [DICT]]
 *       default: $srcdir/fuzz/math_corpus and $srcdir/fuzz/math.dict
 *   RLVR_FUZZ_ITERATIONS  mutations to try (default 30000)
 *   RLVR_FUZZ_SECONDS     time budget for the mutations (default 15)
 *   RLVR_FUZZ_SEED        seed of the mutations (default 1)
 *   RLVR_FUZZ_HANG_S      one input running longer than this ends the run
 *                         as a hang, its input saved (default 10)
 *
 * The hostile inputs: 100k nested braces, \frac and \sqrt and parentheses,
 * exponent towers (10^{10^{10}}, 2^{2^{...}}), 1000000! and (10^9)!,
 * 100k-digit numbers, 1 MB completions (random LaTeX tokens with a final
 * box, a megabyte of digits, of unclosed boxes), NUL bytes and invalid
 * UTF-8, divisions by zero and indeterminate forms. Mutations: byte flips,
 * dictionary tokens inserted, ranges deleted or repeated (which also nests
 * deeply), splices of two inputs, a separator moved.
 *
 * TAP: one line per group (corpus, hostile, mutations): "ok" when every
 * input kept the invariants and each check took under RLVR_FUZZ_MAX_MS
 * (default 2000 ms: a hang detector, far above the cost bound); the slowest
 * input of each group is printed. A crash is caught by a signal handler
 * that saves the input to math_fuzz_crash.bin and prints "Bail out!"; so
 * is a hang (SIGALRM after RLVR_FUZZ_HANG_S seconds on one input). The
 * run is reproducible from the seed; the time budget only cuts it short.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int math_fuzz_one(const uint8_t *data, size_t size, char *why, size_t why_cap);

static int tap_n;
static unsigned hang_s = 10; /* RLVR_FUZZ_HANG_S */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* -- the input being run, for the crash handler -------------------------- */
static const uint8_t *volatile cur_data;
static volatile size_t cur_size;

static void on_crash(int sig)
{
    static const char msg[] = "Bail out! math_fuzz: crashed on an input; saved to math_fuzz_crash.bin\n";
    static const char hang[] = "Bail out! math_fuzz: an input ran past the hang limit (RLVR_FUZZ_HANG_S); "
                               "saved to math_fuzz_crash.bin\n";
    int fd = open("math_fuzz_crash.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t off = 0;
        while (cur_data && off < cur_size) {
            ssize_t w = write(fd, cur_data + off, cur_size - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        close(fd);
    }
    ssize_t ignored = sig == SIGALRM ? write(1, hang, sizeof hang - 1) : write(1, msg, sizeof msg - 1);
    (void)ignored;
    if (sig == SIGALRM)
        _exit(1);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* -- a growable byte buffer ------------------------------------------------- */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

static void die(const char *what)
{
    printf("Bail out! %s\n", what);
    exit(1);
}

static void put(buf *b, const void *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 64;
        while (c < b->n + n + 1)
            c *= 2;
        uint8_t *q = realloc(b->p, c);
        if (!q)
            die("out of memory");
        b->p = q, b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }
static void rep(buf *b, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        puts_(b, s);
}

/* -- a group of runs -------------------------------------------------------- */
typedef struct {
    const char *name;
    long runs, bad;
    double slowest;
    char slowest_what[96];
    char first_bad[600];
    double max_ms;
} group;

static void run_one(group *g, const uint8_t *d, size_t n, const char *what)
{
    char why[512];
    cur_data = d, cur_size = n;
    alarm(hang_s); /* a hang ends the run with the input saved */
    double t0 = now();
    int broke = math_fuzz_one(d, n, why, sizeof why);
    double dt = now() - t0;
    alarm(0);
    g->runs++;
    if (dt > g->slowest) {
        g->slowest = dt;
        snprintf(g->slowest_what, sizeof g->slowest_what, "%s (%zu bytes)", what, n);
    }
    if (!broke && dt * 1e3 > g->max_ms) {
        broke = 1;
        snprintf(why, sizeof why, "took %.0f ms (limit %.0f ms)", dt * 1e3, g->max_ms);
    }
    if (broke) {
        if (!g->bad) {
            snprintf(g->first_bad, sizeof g->first_bad, "%s (%zu bytes): %s", what, n, why);
            FILE *f = fopen("math_fuzz_failure.bin", "wb");
            if (f) {
                fwrite(d, 1, n, f);
                fclose(f);
            }
        }
        g->bad++;
    }
}

static void report(group *g)
{
    tap_n++;
    printf("%s %d - %s: %ld inputs keep the invariants, each under %.0f ms\n", g->bad ? "not ok" : "ok", tap_n, g->name,
           g->runs, g->max_ms);
    if (g->bad)
        printf("#   %ld broken; first: %s (input saved to math_fuzz_failure.bin)\n", g->bad, g->first_bad);
    printf("#   slowest: %.3f ms on %s\n", g->slowest * 1e3, g->slowest_what);
    fflush(stdout);
}

/* -- seeded random numbers (xorshift64*) ------------------------------------ */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* -- corpus and dictionary ---------------------------------------------------- */
typedef struct {
    buf *v;
    size_t n, cap;
} list;

static buf *add(list *l)
{
    if (l->n == l->cap) {
        size_t c = l->cap ? 2 * l->cap : 64;
        buf *q = realloc(l->v, c * sizeof *q);
        if (!q)
            die("out of memory");
        l->v = q, l->cap = c;
    }
    buf *b = &l->v[l->n++];
    memset(b, 0, sizeof *b);
    return b;
}

static int read_file(const char *path, buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
        put(b, tmp, k);
    fclose(f);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static long load_corpus(const char *dir, list *l)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char *names[4096];
    size_t k = 0;
    struct dirent *e;
    while ((e = readdir(d)) && k < 4096)
        if (e->d_name[0] != '.')
            names[k++] = strdup(e->d_name);
    closedir(d);
    qsort(names, k, sizeof *names, by_name); /* a reproducible order */
    for (size_t i = 0; i < k; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        if (!path)
            die("out of memory");
        snprintf(path, len, "%s/%s", dir, names[i]);
        buf *b = add(l);
        if (read_file(path, b) != 0)
            l->n--;
        free(path);
        free(names[i]);
    }
    return (long)l->n;
}

/* libFuzzer dictionary lines: name="value" or "value", with \\, \" and \xNN escapes. */
static void load_dict(const char *path, list *l)
{
    buf all = {0};
    if (read_file(path, &all) != 0)
        return;
    put(&all, "", 1);
    char *save = NULL;
    for (char *line = strtok_r((char *)all.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *q = strchr(line, '"'), *end = strrchr(line, '"');
        if (!q || end == q)
            continue;
        buf *b = add(l);
        for (char *s = q + 1; s < end; s++) {
            if (*s == '\\' && s + 1 < end) {
                s++;
                if (*s == 'x' && s + 2 < end) {
                    char hex[3] = {s[1], s[2], 0};
                    uint8_t c = (uint8_t)strtoul(hex, NULL, 16);
                    put(b, &c, 1);
                    s += 2;
                    continue;
                }
            }
            put(b, s, 1);
        }
    }
    free(all.p);
}

/* -- hostile inputs ------------------------------------------------------------ */
static void hostile(group *g, list *dict)
{
    static const char *const small[] = {
        "10^{10^{10}}\x1e" "10^{10^{10}}",
        "10^{10^{10}}\x1e" "10^{10^{10}}+1",
        "2^{2^{2^{2^{2^{2^{2}}}}}}\x1e" "2^{2^{2^{2^{2^{2^{2}}}}}}",
        "1000000!\x1e" "1000000!",
        "5\x1e\\boxed{1000000!}",
        "(10^9)!\x1e" "(10^9)!",
        "7\x1e\\boxed{(10^{9})!-(10^9)!+7}",
        "\\binom{10^9}{5 \\cdot 10^8}\x1e" "1",
        "x^{x^{x^{x^{x^{x^{x^{x}}}}}}}\x1e" "x^{x^{x^{x^{x^{x^{x^{x}}}}}}}",
        "9^{9^{9^{9}}}\x1e" "9^{9^{9^{9}}}",
        "10^{-10^{10}}\x1e" "0",
        "1.0e999999999\x1e" "1e999999999",
        "\\frac{1}{0}\x1e\\frac{1}{0}",
        "0\x1e\\boxed{0/0}",
        "1\x1e\\boxed{\\infty - \\infty}",
        "\\sqrt{-1}\x1e\\boxed{i}",
        "\\log 0\x1e\\boxed{-\\infty}",
        "\\tan(\\pi/2)\x1e\\boxed{\\tan\\frac{\\pi}{2}}",
        "e^{e^{e^{e^{e^{e}}}}}\x1e" "e^{e^{e^{e^{e^{e}}}}}",
        "\\sin(10^{100})\x1e\\sin(10^{100})",
        "x\x1ex^{10^{10}}/x^{10^{10}-1}",
        "\\boxed{\x1e\\boxed{",
        "}}}}}}\x1e{{{{{{",
        "\\left(\\right.\x1e\\left.\\right)",
        "\\begin{pmatrix}\x1e\\end{pmatrix}",
        "\x1e",
        "",
        "<answer>\x1e</answer>",
        "\xff\xfe\xc0\xaf\x1e\xed\xa0\x80",
    };
    char what[96];
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
        snprintf(what, sizeof what, "hostile #%zu", i);
        run_one(g, (const uint8_t *)small[i], strlen(small[i]), what);
    }
    /* NUL bytes inside both sides */
    static const uint8_t nul[] = {'\\', 'b', 'o', 'x', 'e', 'd', '{', '3', 0, '}', 0x1e, '3', 0, '4'};
    run_one(g, nul, sizeof nul, "NUL bytes");

    static const char *const nests[][2] = {
        {"{", "}"}, {"(", ")"}, {"\\frac{1}{", "}"}, {"\\sqrt{", "}"}, {"\\boxed{", "}"},
        {"\\left(", "\\right)"}, {"[", "]"}, {"x^{", "}"}, {"-", ""}, {"\\{", "\\}"},
    };
    for (size_t i = 0; i < sizeof nests / sizeof *nests; i++)
        for (int closed = 0; closed < 2; closed++) {
            buf b = {0};
            puts_(&b, "1\x1e\\boxed{");
            rep(&b, nests[i][0], 100000);
            puts_(&b, "1");
            if (closed)
                rep(&b, nests[i][1], 100000);
            puts_(&b, "}");
            snprintf(what, sizeof what, "100k nested %s (%s)", nests[i][0], closed ? "closed" : "unclosed");
            run_one(g, b.p, b.n, what);
            /* the same nesting in the gold */
            buf c = {0};
            rep(&c, nests[i][0], 100000);
            puts_(&c, "1");
            if (closed)
                rep(&c, nests[i][1], 100000);
            puts_(&c, "\x1e\\boxed{1}");
            snprintf(what, sizeof what, "100k nested %s in the gold (%s)", nests[i][0], closed ? "closed" : "unclosed");
            run_one(g, c.p, c.n, what);
            free(b.p);
            free(c.p);
        }
    /* a 100k-digit number, and a 100k-digit decimal */
    {
        buf b = {0};
        rep(&b, "9", 100000);
        puts_(&b, "\x1e\\boxed{");
        rep(&b, "9", 100000);
        puts_(&b, "}");
        run_one(g, b.p, b.n, "100k-digit integers");
        b.n = 0;
        puts_(&b, "0.");
        rep(&b, "3", 100000);
        puts_(&b, "\x1e\\boxed{\\frac{1}{3}}");
        run_one(g, b.p, b.n, "100k-digit decimal");
        free(b.p);
    }
    /* 1 MB completions */
    {
        buf b = {0};
        puts_(&b, "42\x1e");
        while (b.n < (1u << 20)) {
            if (dict->n) {
                buf *t = &dict->v[below(dict->n)];
                put(&b, t->p, t->n);
            } else
                puts_(&b, "x + ");
            puts_(&b, " ");
        }
        puts_(&b, "\\boxed{42}");
        run_one(g, b.p, b.n, "1 MB of dictionary tokens, a final box");
        b.n = 0;
        puts_(&b, "42\x1e");
        rep(&b, "1234567890", 1u << 17);
        run_one(g, b.p, b.n, "1 MB of digits");
        b.n = 0;
        puts_(&b, "42\x1e");
        rep(&b, "\\boxed{", (1u << 20) / 7);
        run_one(g, b.p, b.n, "1 MB of unclosed boxes");
        b.n = 0;
        puts_(&b, "42\x1e");
        rep(&b, "\\boxed{42} ", (1u << 20) / 11);
        run_one(g, b.p, b.n, "1 MB of the same box");
        b.n = 0;
        puts_(&b, "42\x1e\\boxed{");
        rep(&b, "1,", (1u << 20) / 2);
        puts_(&b, "42}");
        run_one(g, b.p, b.n, "a 500k-element list in one box");
        b.n = 0;
        puts_(&b, "1\x1e\\boxed{\\begin{pmatrix}");
        for (int r = 0; r < 300; r++) {
            rep(&b, "1 & ", 299);
            puts_(&b, "1 \\\\ ");
        }
        puts_(&b, "\\end{pmatrix}}");
        run_one(g, b.p, b.n, "a 300x300 matrix");
        b.n = 0;
        rep(&b, "x+", 50000);
        puts_(&b, "1\x1e\\boxed{");
        rep(&b, "x+", 50000);
        puts_(&b, "1}");
        run_one(g, b.p, b.n, "a 100k-term sum on both sides");
        free(b.p);
    }
}

/* -- mutations -------------------------------------------------------------------- */
static void mutate(buf *b, list *corpus, list *dict)
{
    int k = 1 + (int)below(8);
    for (int i = 0; i < k; i++) {
        size_t at = below(b->n + 1);
        switch (below(8)) {
        case 0: /* flip a byte */
            if (b->n)
                b->p[below(b->n)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: /* a random byte */
            if (b->n)
                b->p[below(b->n)] = (uint8_t)rnd();
            break;
        case 2: /* insert a dictionary token */
        case 3:
            if (dict->n) {
                buf *t = &dict->v[below(dict->n)];
                buf nb = {0};
                put(&nb, b->p, at);
                put(&nb, t->p, t->n);
                put(&nb, b->p + at, b->n - at);
                free(b->p);
                *b = nb;
            }
            break;
        case 4: /* delete a range */
            if (b->n) {
                size_t len = below(b->n - at + 1);
                memmove(b->p + at, b->p + at + len, b->n - at - len);
                b->n -= len;
            }
            break;
        case 5: { /* repeat a short range many times (deep nesting, long runs) */
            if (!b->n || at >= b->n)
                break;
            size_t len = 1 + below(b->n - at < 8 ? b->n - at : 8);
            size_t times = 1 + below(below(2) ? 16 : 4000);
            uint8_t piece[8];
            memcpy(piece, b->p + at, len);
            buf nb = {0};
            put(&nb, b->p, at);
            for (size_t t = 0; t < times; t++)
                put(&nb, piece, len);
            put(&nb, b->p + at, b->n - at);
            free(b->p);
            *b = nb;
            break;
        }
        case 6: /* splice with another input */
            if (corpus->n) {
                buf *o = &corpus->v[below(corpus->n)];
                size_t from = below(o->n + 1);
                buf nb = {0};
                put(&nb, b->p, at);
                put(&nb, o->p + from, o->n - from);
                free(b->p);
                *b = nb;
            }
            break;
        default: { /* move or add the gold/pred separator */
            uint8_t sep = 0x1e;
            uint8_t *old = b->n ? memchr(b->p, 0x1e, b->n) : NULL;
            if (old)
                *old = (uint8_t)'x';
            buf nb = {0};
            put(&nb, b->p, at);
            put(&nb, &sep, 1);
            put(&nb, b->p + at, b->n - at);
            free(b->p);
            *b = nb;
            break;
        }
        }
        if (b->n > (1u << 20)) /* keep inputs at 1 MB at most */
            b->n = 1u << 20;
    }
}

int main(int argc, char **argv)
{
    const char *srcdir = getenv("srcdir");
    char cdir[4096], dpath[4096];
    snprintf(cdir, sizeof cdir, "%s/fuzz/math_corpus", srcdir ? srcdir : ".");
    snprintf(dpath, sizeof dpath, "%s/fuzz/math.dict", srcdir ? srcdir : ".");
    const char *corpus_dir = argc > 1 ? argv[1] : cdir;
    const char *dict_path = argc > 2 ? argv[2] : dpath;
    long iterations = getenv("RLVR_FUZZ_ITERATIONS") ? atol(getenv("RLVR_FUZZ_ITERATIONS")) : 30000;
    double budget = getenv("RLVR_FUZZ_SECONDS") ? atof(getenv("RLVR_FUZZ_SECONDS")) : 15.0;
    double max_ms = getenv("RLVR_FUZZ_MAX_MS") ? atof(getenv("RLVR_FUZZ_MAX_MS")) : 2000.0;
    rng_state = getenv("RLVR_FUZZ_SEED") ? strtoull(getenv("RLVR_FUZZ_SEED"), NULL, 10) : 1;
    rng_state = rng_state * 0x9E3779B97F4A7C15ull + 1;
    if (getenv("RLVR_FUZZ_HANG_S") && atoi(getenv("RLVR_FUZZ_HANG_S")) > 0)
        hang_s = (unsigned)atoi(getenv("RLVR_FUZZ_HANG_S"));

    setvbuf(stdout, NULL, _IOLBF, 0); /* TAP lines out before any crash */
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);
    signal(SIGILL, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGALRM, on_crash);

    list corpus = {0}, dict = {0};
    long nc = load_corpus(corpus_dir, &corpus);
    load_dict(dict_path, &dict);
    tap_n++;
    printf("%s %d - the seed corpus (%s) has inputs (%ld) and the dictionary tokens (%zu)\n",
           nc > 0 && dict.n > 0 ? "ok" : "not ok", tap_n, corpus_dir, nc, dict.n);

    group g1 = {.name = "seed corpus", .max_ms = max_ms};
    char what[96];
    for (size_t i = 0; i < corpus.n; i++) {
        snprintf(what, sizeof what, "corpus #%zu", i);
        run_one(&g1, corpus.v[i].p, corpus.v[i].n, what);
    }
    report(&g1);

    group g2 = {.name = "hostile inputs (deep nesting, huge exponents, factorials, 1 MB)", .max_ms = max_ms};
    hostile(&g2, &dict);
    report(&g2);

    group g3 = {.name = "seeded mutations", .max_ms = max_ms};
    double t0 = now();
    long done = 0;
    for (; done < iterations && corpus.n; done++) {
        if ((done & 15) == 0 && now() - t0 > budget)
            break;
        buf b = {0};
        buf *src = &corpus.v[below(corpus.n)];
        put(&b, src->p, src->n);
        mutate(&b, &corpus, &dict);
        snprintf(what, sizeof what, "mutation #%ld", done);
        run_one(&g3, b.p, b.n, what);
        free(b.p);
    }
    report(&g3);
    printf("# %ld of %ld mutations in %.1f s (budget %.0f s, seed %s)\n", done, iterations, now() - t0, budget,
           getenv("RLVR_FUZZ_SEED") ? getenv("RLVR_FUZZ_SEED") : "1");
    printf("1..%d\n", tap_n);
    for (size_t i = 0; i < corpus.n; i++)
        free(corpus.v[i].p);
    for (size_t i = 0; i < dict.n; i++)
        free(dict.v[i].p);
    free(corpus.v);
    free(dict.v);
    return g1.bad || g2.bad || g3.bad || nc <= 0 ? 1 : 0;
}
