/*
 * code.c -- the `code` plugin: the program in a completion, run against the
 * sample's tests in the code sandbox (verifiers/code_runner.c).
 *
 * The program is the last fenced block of the tests' language (else of any
 * known language, whose tag then picks the language; else the last
 * untagged block; else, with whole_text, the text after </think>). The tests
 * come from the sample's `tests` field, or, as public datasets ship them,
 * from APPS/CodeContests `input_output`, open-r1 `verification_info`, or
 * HumanEval `test` + `entry_point`. Reward: the fraction of tests passed, or
 * 1/0 with reward = "all_or_nothing".
 *
 * Zero, abstain and error: a program that fails (no code, compile error,
 * wrong answer, limits, sandbox violation) scores with the first failure's
 * verdict as its reason; a sample without tests or with malformed tests
 * abstains, naming the field; a run whose sandbox fails abstains with the
 * sandbox's message. A machine that cannot sandbox at all refuses at load
 * (create fails): code is never run outside the sandbox. Loading logs the
 * sandbox's mechanisms (root, or an unprivileged user namespace per run)
 * and, once, a warning naming the limits that only rlimits enforce.
 *
 * Batches: score_batch runs up to max_parallel samples at once on threads
 * of its own; the sandbox's slots (one uid and cgroup set each) bound the
 * programs running at any moment across all calls, so concurrent batches
 * share them. One bad sample never stops the batch.
 */
#include "rlvr_plugin.h"
#include "code_runner.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct code_inst {
    const rlvr_host *host;
    rlvr_code_runner *runner;
    int default_lang;
    int all_or_nothing;
    int stop_first;
    int whole_text;
    int adapters;
    int parallel;
    char tests_field[128];
} code_inst;

static const rlvr_option code_options[] = {
    {"language", RLVR_OPT_STRING, "python", 0, 0, "python|c|cpp",
     "the program's language when neither the tests nor the code block's tag say"},
    {"tests_field", RLVR_OPT_STRING, "tests", 0, 0, NULL, "the sample field (dotted path) holding the tests object"},
    {"adapters", RLVR_OPT_BOOL, "true", 0, 0, NULL,
     "without tests_field, read APPS input_output, open-r1 verification_info or HumanEval test + entry_point"},
    {"reward", RLVR_OPT_STRING, "pass_fraction", 0, 0, "pass_fraction|all_or_nothing",
     "pass_fraction: tests passed / tests; all_or_nothing: 1 only when every test passes"},
    {"stop_on_first_failure", RLVR_OPT_BOOL, "false", 0, 0, NULL, "skip the remaining tests after the first failure"},
    {"whole_text", RLVR_OPT_BOOL, "true", 0, 0, NULL,
     "with no fenced code block, the whole text after </think> is the program"},
    {"time_limit_ms", RLVR_OPT_INT, "2000", 1, 600000, NULL, "CPU time per test, unless the tests set time_limit_ms"},
    {"memory_mb", RLVR_OPT_INT, "256", 8, 65536, NULL, "memory per run, unless the tests set memory_mb"},
    {"compile_time_limit_ms", RLVR_OPT_INT, "10000", 100, 600000, NULL, "CPU time for compiling C and C++"},
    {"compile_memory_mb", RLVR_OPT_INT, "1024", 64, 65536, NULL, "memory for the compiler"},
    {"output_limit_bytes", RLVR_OPT_INT, "1048576", 1, 1073741824, NULL, "stdout cap; more is output_limit"},
    {"max_parallel", RLVR_OPT_INT, "0", 0, 1024, NULL, "programs run at once (sandbox slots); 0: the number of CPUs"},
    {"compile_cache", RLVR_OPT_INT, "256", 0, 1000000, NULL, "compiled programs kept, keyed by their source (0: none)"},
    {"python", RLVR_OPT_STRING, "/usr/bin/python3", 0, 0, NULL, "the Python interpreter (absolute path)"},
    {"python_site", RLVR_OPT_BOOL, "true", 0, 0, NULL,
     "run Python's site (dist-packages such as numpy, .pth files); false adds -S, which starts faster but "
     "leaves only the standard library importable"},
    {"python_warm", RLVR_OPT_BOOL, "true", 0, 0, NULL,
     "start each Python run as a fork of a warm interpreter kept per sandbox slot (site already run) instead "
     "of a fresh interpreter: same sandbox, no execve at all, about 8 ms less per run"},
    {"gcc", RLVR_OPT_STRING, "/usr/bin/gcc", 0, 0, NULL, "the C compiler (absolute path)"},
    {"gxx", RLVR_OPT_STRING, "/usr/bin/g++", 0, 0, NULL, "the C++ compiler (absolute path)"},
    {"c_flags", RLVR_OPT_STRING, "-O2 -std=gnu11", 0, 0, NULL, "C compiler flags (-lm is always added)"},
    {"cpp_flags", RLVR_OPT_STRING, "-O2 -std=c++17", 0, 0, NULL, "C++ compiler flags (-lm is always added)"},
};

static void copy_text(char *dst, size_t cap, rlvr_text t)
{
    size_t n = t.ptr ? (t.len < cap - 1 ? t.len : cap - 1) : 0;
    if (n) memcpy(dst, t.ptr, n);
    dst[n] = 0;
}

static void *code_create(const rlvr_host *h, const rlvr_config *cfg, char *err, size_t err_len)
{
    char python[256], gcc[256], gxx[256], cf[512], cppf[512], lang[16], reward[32];
    copy_text(python, sizeof python, h->config_string(cfg, "python"));
    copy_text(gcc, sizeof gcc, h->config_string(cfg, "gcc"));
    copy_text(gxx, sizeof gxx, h->config_string(cfg, "gxx"));
    copy_text(cf, sizeof cf, h->config_string(cfg, "c_flags"));
    copy_text(cppf, sizeof cppf, h->config_string(cfg, "cpp_flags"));
    copy_text(lang, sizeof lang, h->config_string(cfg, "language"));
    copy_text(reward, sizeof reward, h->config_string(cfg, "reward"));
    rlvr_code_config c;
    rlvr_code_config_defaults(&c);
    c.python = python;
    c.python_site = h->config_bool(cfg, "python_site");
    c.python_warm = h->config_bool(cfg, "python_warm");
    c.gcc = gcc;
    c.gxx = gxx;
    c.c_flags = cf;
    c.cpp_flags = cppf;
    c.time_limit_ms = h->config_int(cfg, "time_limit_ms");
    c.memory_mb = h->config_int(cfg, "memory_mb");
    c.compile_time_limit_ms = h->config_int(cfg, "compile_time_limit_ms");
    c.compile_memory_mb = h->config_int(cfg, "compile_memory_mb");
    c.output_limit_bytes = h->config_int(cfg, "output_limit_bytes");
    c.compile_cache = h->config_int(cfg, "compile_cache");
    int par = (int)h->config_int(cfg, "max_parallel");
    if (par <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        par = n > 0 ? (int)(n < 1024 ? n : 1024) : 1;
    }
    c.max_parallel = par;
    code_inst *in = h->alloc(sizeof *in);
    if (!in) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    memset(in, 0, sizeof *in);
    in->host = h;
    in->parallel = par;
    in->default_lang = rlvr_code_lang_find(lang, strlen(lang));
    in->all_or_nothing = strcmp(reward, "all_or_nothing") == 0;
    in->stop_first = h->config_bool(cfg, "stop_on_first_failure");
    in->whole_text = h->config_bool(cfg, "whole_text");
    in->adapters = h->config_bool(cfg, "adapters");
    copy_text(in->tests_field, sizeof in->tests_field, h->config_string(cfg, "tests_field"));
    in->runner = rlvr_code_runner_open(&c, err, err_len);
    if (!in->runner) {
        h->free(in);
        return NULL;
    }
    {
        rlvr_sbx *sb = rlvr_code_runner_sandbox(in->runner);
        const char *note = rlvr_sbx_limits_note(sb);
        h->log(RLVR_LOG_INFO, "code", "sandbox: %s", rlvr_sbx_describe(sb));
        if (note) h->log(RLVR_LOG_WARN, "code", "%s", note);
    }
    return in;
}

static void code_destroy(void *p)
{
    code_inst *in = p;
    if (!in) return;
    rlvr_code_runner_close(in->runner);
    in->host->free(in);
}

/* The tests of a sample: 1 found and parsed, 0 malformed or absent (why set). */
static int find_tests(code_inst *in, const rlvr_sample *s, rlvr_code_tests *t, char *why, size_t why_len)
{
    const rlvr_host *h = in->host;
    rlvr_text v, w;
    if (h->sample_field(s, in->tests_field, &v) == 0 && v.ptr) {
        if (rlvr_code_tests_parse(v.ptr, v.len, t, why, why_len)) return 0;
        return 1;
    }
    if (in->adapters) {
        if (h->sample_field(s, "input_output", &v) == 0 && v.ptr)
            return rlvr_code_tests_from_apps(v.ptr, v.len, t, why, why_len) == 0;
        if (h->sample_field(s, "verification_info", &v) == 0 && v.ptr)
            return rlvr_code_tests_from_openr1(v.ptr, v.len, t, why, why_len) == 0;
        if (h->sample_field(s, "test", &v) == 0 && v.ptr) {
            char *tv = strndup(v.ptr, v.len);
            if (!tv) {
                snprintf(why, why_len, "out of memory");
                return 0;
            }
            int ok = h->sample_field(s, "entry_point", &w) == 0 && w.ptr
                     && rlvr_code_tests_from_humaneval(tv, strlen(tv), w.ptr, w.len, t, why, why_len) == 0;
            if (!w.ptr) snprintf(why, why_len, "test: HumanEval tests need an entry_point field");
            free(tv);
            return ok;
        }
    }
    snprintf(why, why_len, "no %s field%s", in->tests_field,
             in->adapters ? " (nor input_output, verification_info, or test + entry_point)" : "");
    return 0;
}

/* Details are UTF-8: a program's bytes (stderr, a cut diagnostic) are
 * copied with every byte that does not belong to a valid sequence as '?'. */
static void detail_text(const rlvr_host *h, rlvr_result *r, const char *key, const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (!d) return;
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    size_t k = 0;
    while (p < e) {
        unsigned c = *p;
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 && c >= 0xc2 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 && c <= 0xf4 ? 4 : 0;
        int good = len > 0 && (size_t)(e - p) >= len;
        for (size_t i = 1; good && i < len; i++) good = (p[i] & 0xc0) == 0x80;
        if (good && len == 3) {
            unsigned v = ((c & 15u) << 12) | ((p[1] & 63u) << 6);
            good = v >= 0x800 && (v < 0xd800 || v > 0xdfff);
        }
        if (good && len == 4) good = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] > 0x8f);
        if (good && len == 1 && c < 0x20 && c != '\n' && c != '\t') good = 0;
        if (!good) len = 1;
        if (good) memcpy(d + k, p, len);
        else d[k] = '?';
        k += len;
        p += len;
    }
    h->detail_string(r, key, d, k);
    free(d);
}

static void score_one(code_inst *in, const rlvr_sample *s, rlvr_result *r)
{
    const rlvr_host *h = in->host;
    rlvr_code_tests t;
    char why[512];
    if (!find_tests(in, s, &t, why, sizeof why)) {
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "%s", why);
        return;
    }
    const char *code = NULL;
    size_t code_len = 0;
    int tag_lang = -1;
    if (!s->completion.ptr
        || rlvr_code_extract(s->completion.ptr, s->completion.len, t.lang, in->whole_text, &code, &code_len, &tag_lang)) {
        rlvr_code_tests_free(&t);
        h->set_status(r, RLVR_OK, 0);
        h->set_reason(r, "no_code");
        return;
    }
    int lang = t.lang >= 0 ? t.lang : tag_lang >= 0 ? tag_lang : in->default_lang;
    rlvr_code_report rep;
    char err[1024];
    if (rlvr_code_judge(in->runner, &t, lang, code, code_len, in->stop_first, &rep, err, sizeof err)) {
        rlvr_code_tests_free(&t);
        h->set_status(r, RLVR_ABSTAIN, 0);
        h->set_reason(r, "sandbox_failed: %s", err);
        return;
    }
    double score = rep.total ? (double)rep.passed / (double)rep.total : 0;
    if (in->all_or_nothing) score = rep.passed == rep.total ? 1.0 : 0.0;
    const char *lname = rlvr_code_lang_name(lang);
    h->detail_string(r, "language", lname, strlen(lname));
    h->detail_number(r, "passed", (double)rep.passed);
    h->detail_number(r, "total", (double)rep.total);
    const char *vname = rep.first_failure < 0 ? "ok" : rlvr_code_verdict_name(rep.first_verdict);
    h->detail_string(r, "verdict", vname, strlen(vname));
    if (rep.first_failure >= 0) {
        h->detail_number(r, "first_failure", (double)rep.first_failure);
        detail_text(h, r, "failure", rep.message);
    }
    /* per-test verdicts, as a list of names */
    size_t cap = rep.total * 20 + 8;
    char *js = malloc(cap);
    if (js) {
        size_t k = 0;
        js[k++] = '[';
        for (size_t i = 0; i < rep.total; i++)
            k += (size_t)snprintf(js + k, cap - k, "%s\"%s\"", i ? "," : "", rlvr_code_verdict_name(rep.verdicts[i]));
        js[k++] = ']';
        h->detail_json(r, "verdicts", js, k);
        free(js);
    }
    h->detail_number(r, "cpu_ms", (double)rep.cpu_ms);
    h->detail_number(r, "wall_ms", (double)rep.wall_ms);
    h->set_status(r, RLVR_OK, score);
    if (rep.first_failure < 0) h->set_reason(r, "all_passed");
    else h->set_reason(r, "%s", vname);
    rlvr_code_report_free(&rep);
    rlvr_code_tests_free(&t);
}

typedef struct batch {
    code_inst *in;
    size_t n;
    const rlvr_sample *const *samples;
    rlvr_result *const *results;
    atomic_size_t next;
} batch;

static void *batch_worker(void *arg)
{
    batch *b = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&b->next, 1);
        if (i >= b->n) return NULL;
        score_one(b->in, b->samples[i], b->results[i]);
    }
}

static int code_score_batch(void *p, const rlvr_call *call, size_t n, const rlvr_sample *const *samples,
                            rlvr_result *const *results)
{
    (void)call;
    code_inst *in = p;
    batch b = {in, n, samples, results, 0};
    size_t nt = n < (size_t)in->parallel ? n : (size_t)in->parallel;
    if (nt > 64) nt = 64;
    pthread_t th[64];
    size_t started = 0;
    for (size_t i = 1; i < nt; i++) {
        if (pthread_create(&th[started], NULL, batch_worker, &b) != 0) break;
        started++;
    }
    batch_worker(&b); /* this thread works too; with no extra thread it does all */
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    return 0;
}

static const rlvr_plugin code_plugin = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "code",
    .version = "1.0.0",
    .description = "runs the completion's program against the sample's tests in a seccomp sandbox; pass fraction",
    .flags = RLVR_REENTRANT | RLVR_BATCH,
    .options = code_options,
    .n_options = sizeof code_options / sizeof code_options[0],
    .create = code_create,
    .destroy = code_destroy,
    .score_batch = code_score_batch,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &code_plugin;
}
