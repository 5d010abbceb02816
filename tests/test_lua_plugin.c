/*
 * test_lua_plugin.c -- Lua scripts as plugins (lua/luaplugin.c), driven
 * through a small fake host.
 *
 * The fake host keeps configuration as key/text pairs (falling back to the
 * descriptor's defaults, as the real host's validation does), records what
 * a score call writes into a `rec` hung on the result, answers sample_field
 * and sample_component for a few names, and plays two plugins for
 * rlvr.call ("fixed" scores 0.25, "abstainer" abstains). What must hold:
 * the descriptor (name, flags, options in order with their defaults, ranges
 * and choices, plus time_limit_ms and memory_limit_mb); load errors that
 * name the path (and line for syntax errors); the return protocol of score
 * (number; number and details; nil and reason; an error; wrong types); the
 * configuration, context and host services seen by the script; the time and
 * memory caps, after which the worker's state is made afresh; and two
 * threads scoring through one instance on workers 0 and 1.
 */
#define _POSIX_C_SOURCE 200809L

#include "rlvr_lua.h"
#include "tap.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the fake host -------------------------------------------------------- */

struct rlvr_config {
    const rlvr_plugin *desc;
    const char *keys[8];
    const char *vals[8];
    int n;
};

typedef struct rec {
    rlvr_status st;
    double score;
    int filled;
    char reason[1024];
    char details[4096];
} rec;

static const char *cfg_text(const rlvr_config *c, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0) return c->vals[i];
    for (size_t i = 0; i < c->desc->n_options; i++)
        if (strcmp(c->desc->options[i].name, key) == 0) return c->desc->options[i].default_value;
    return NULL;
}

static void h_log(rlvr_log_level level, const char *plugin, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%d] %s: ", (int)level, plugin);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int h_bool(const rlvr_config *c, const char *k)
{
    const char *t = cfg_text(c, k);
    return t && strcmp(t, "true") == 0;
}
static int64_t h_int(const rlvr_config *c, const char *k)
{
    const char *t = cfg_text(c, k);
    return t ? strtoll(t, NULL, 10) : 0;
}
static double h_number(const rlvr_config *c, const char *k)
{
    const char *t = cfg_text(c, k);
    return t ? strtod(t, NULL) : 0;
}
static rlvr_text h_string(const rlvr_config *c, const char *k)
{
    const char *t = cfg_text(c, k);
    rlvr_text r = {t, t ? strlen(t) : 0};
    return r;
}

static int h_field(const rlvr_sample *s, const char *path, rlvr_text *out)
{
    (void)s;
    const char *v = NULL;
    if (strcmp(path, "extra") == 0) v = "{\"k\":[1,2,3]}";
    else if (strcmp(path, "meta.src") == 0) v = "\"gsm8k\"";
    out->ptr = v;
    out->len = v ? strlen(v) : 0;
    return v ? 0 : -1;
}

static int h_component(const rlvr_sample *s, const char *name, double *value)
{
    (void)s;
    if (strcmp(name, "acc") == 0) {
        *value = 0.75;
        return RLVR_OK;
    }
    if (strcmp(name, "judge") == 0) return RLVR_ABSTAIN;
    return -1;
}

static void h_set_status(rlvr_result *r, rlvr_status st, double score)
{
    rec *x = r->host_data;
    r->status = st;
    r->score = score;
    r->filled = 1;
    x->st = st;
    x->score = score;
    x->filled++;
}

static void h_set_reason(rlvr_result *r, const char *fmt, ...)
{
    rec *x = r->host_data;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->reason, sizeof x->reason, fmt, ap);
    va_end(ap);
}

static void add_detail(rlvr_result *r, const char *key, const char *kind, const char *v, size_t len)
{
    rec *x = r->host_data;
    size_t at = strlen(x->details);
    int n = snprintf(x->details + at, sizeof x->details - at, "%s:%s=", key, kind);
    if (n < 0 || (size_t)n >= sizeof x->details - at) return;
    at += (size_t)n;
    for (size_t i = 0; i < len && at + 3 < sizeof x->details; i++) {
        if (v[i] == '\0') {
            memcpy(x->details + at, "\\0", 2);
            at += 2;
        } else {
            x->details[at++] = v[i];
        }
    }
    if (at + 1 < sizeof x->details) x->details[at++] = ';';
    x->details[at] = '\0';
}

static void h_detail_string(rlvr_result *r, const char *key, const char *s, size_t len)
{
    add_detail(r, key, "s", s, len);
}
static void h_detail_number(rlvr_result *r, const char *key, double v)
{
    char b[64];
    snprintf(b, sizeof b, "%g", v);
    add_detail(r, key, "n", b, strlen(b));
}
static void h_detail_json(rlvr_result *r, const char *key, const char *json, size_t len)
{
    add_detail(r, key, "j", json, len);
}

static const rlvr_plugin *self_plugin;
static void *self_instance;

static int h_call_plugin(const rlvr_call *call, const char *plugin, const rlvr_sample *s, double *score,
                         char *reason, size_t reason_len)
{
    if (strcmp(plugin, "fixed") == 0) {
        *score = 0.25;
        return RLVR_OK;
    }
    if (strcmp(plugin, "abstainer") == 0) {
        snprintf(reason, reason_len, "cannot judge this");
        return RLVR_ABSTAIN;
    }
    if (strcmp(plugin, "protocol") == 0 && self_plugin) { /* a script calling itself */
        rec x;
        memset(&x, 0, sizeof x);
        rlvr_result r = {sizeof r, RLVR_OK, 0, 0, &x};
        self_plugin->score(self_instance, call, s, &r);
        snprintf(reason, reason_len, "%s", x.reason);
        *score = x.score;
        return (int)x.st;
    }
    snprintf(reason, reason_len, "no plugin named %s", plugin);
    return RLVR_ERROR;
}

static const rlvr_plugin *h_config_plugin(const rlvr_config *cfg) { return cfg ? cfg->desc : NULL; }

static const rlvr_host host = {
    sizeof(rlvr_host), RLVR_ABI_MAJOR, RLVR_ABI_MINOR, h_log, malloc, realloc, free,
    h_bool, h_int, h_number, h_string, h_field, h_component, h_set_status, h_set_reason,
    h_detail_string, h_detail_number, h_detail_json, h_call_plugin, h_config_plugin};

/* ---- helpers ---------------------------------------------------------------- */

static char err[2048];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *fixture(const char *rel, char *buf, size_t cap)
{
    const char *srcdir = getenv("srcdir");
    snprintf(buf, cap, "%s/%s", srcdir ? srcdir : ".", rel);
    return buf;
}

/* Scores one sample whose completion is `completion` (answer `answer`). */
static rec score_ext(const rlvr_plugin *p, void *inst, const char *completion, const char *answer,
                     int worker, int n_workers, int64_t step)
{
    rec x;
    memset(&x, 0, sizeof x);
    x.st = (rlvr_status)-1;
    rlvr_sample s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.completion.ptr = completion;
    s.completion.len = completion ? strlen(completion) : 0;
    s.answer.ptr = answer;
    s.answer.len = answer ? strlen(answer) : 0;
    s.completion_tokens = -1;
    s.line = 1;
    rlvr_call call = {sizeof call, worker, n_workers, step, "entry_x", NULL};
    rlvr_result r = {sizeof r, RLVR_OK, 0, 0, &x};
    p->score(inst, &call, &s, &r);
    return x;
}

static rec score(const rlvr_plugin *p, void *inst, const char *completion)
{
    return score_ext(p, inst, completion, NULL, 0, 1, 0);
}

/* Writes a script to a temporary file and tries to load it. */
static const rlvr_plugin *load_text(const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/test_lua_plugin_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    const rlvr_plugin *p = rlvr_lua_plugin_load(path, &host, err, sizeof err);
    remove(path);
    return p;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_descriptor(const rlvr_plugin *p)
{
    is_str(p->name, "protocol", "name");
    is_str(p->version, "2.1", "version");
    is_str(p->description, "drives the Lua plugin adapter's tests", "description");
    ok(p->struct_size == sizeof(rlvr_plugin) && p->abi_major == RLVR_ABI_MAJOR && p->abi_minor == RLVR_ABI_MINOR,
       "struct size and ABI version");
    ok(p->flags == (RLVR_REENTRANT | RLVR_DETERMINISTIC), "flags: reentrant and deterministic");
    ok(p->create && p->destroy && p->score && !p->score_batch, "create, destroy and score are set");
    ok(p->n_options == 8, "six options of its own and two limits (%zu)", p->n_options);
    if (p->n_options != 8) return;
    static const char *const names[] = {"count", "extra", "flag", "mode", "needed", "ratio",
                                        "time_limit_ms", "memory_limit_mb"};
    static const rlvr_option_type types[] = {RLVR_OPT_INT, RLVR_OPT_JSON, RLVR_OPT_BOOL, RLVR_OPT_STRING,
                                             RLVR_OPT_STRING, RLVR_OPT_NUMBER, RLVR_OPT_NUMBER, RLVR_OPT_INT};
    static const char *const defaults[] = {"3", "{\"a\":1,\"b\":[1,2]}", "true", "strict", NULL, "0.5",
                                           "1000", "64"};
    for (int i = 0; i < 8; i++) {
        const rlvr_option *o = &p->options[i];
        ok(strcmp(o->name, names[i]) == 0 && o->type == types[i], "option %d is %s of type %d", i, names[i],
           (int)types[i]);
        is_str(o->default_value, defaults[i], "option %s default", names[i]);
        ok(o->help != NULL, "option %s has help", names[i]);
    }
    ok(p->options[0].min == 0 && p->options[0].max == 10, "count range [0, 10]");
    ok(p->options[5].min == 0 && p->options[5].max == 1, "ratio range [0, 1]");
    is_str(p->options[3].choices, "strict|loose", "mode choices");
    ok(p->options[6].min == 1 && p->options[6].max == 600000, "time_limit_ms range");
    ok(p->options[7].min == 1 && p->options[7].max == 65536, "memory_limit_mb range");
    ok(p->options[1].choices == NULL && p->options[0].choices == NULL, "no choices elsewhere");
}

static void test_protocol(const rlvr_plugin *p, void *inst)
{
    rec x = score(p, inst, "num");
    ok(x.st == RLVR_OK && x.score == 0.5 && x.filled == 1, "a number: ok 0.5");
    x = score(p, inst, "int");
    ok(x.st == RLVR_OK && x.score == 2, "an integer: ok 2");
    x = score(p, inst, "details");
    ok(x.st == RLVR_OK && x.score == 1, "number and details: ok");
    is_str(x.reason, "looks fine", "details.reason becomes the reason");
    is_str(x.details, "flag:j=true;list:j=[1,2];n:n=3;text:s=a\\0b;", "the other details, sorted by key");
    x = score(p, inst, "abstain");
    ok(x.st == RLVR_ABSTAIN, "nil, reason: abstain");
    is_str(x.reason, "cannot judge", "... with the reason");
    x = score(p, inst, "abstain_noreason");
    ok(x.st == RLVR_ABSTAIN && strstr(x.reason, "no reason"), "nil alone: abstain (%s)", x.reason);
    x = score(p, inst, "error");
    ok(x.st == RLVR_ERROR && strncmp(x.reason, "protocol: ", 10) == 0 && strstr(x.reason, "protocol.lua:") &&
           strstr(x.reason, "boom"),
       "an error: error naming plugin and line (%s)", x.reason);
    x = score(p, inst, "errtable");
    ok(x.st == RLVR_ERROR && strstr(x.reason, "error object is a table"), "an error with a table (%s)", x.reason);
    x = score(p, inst, "string");
    ok(x.st == RLVR_ERROR && strstr(x.reason, "must return a number") && strstr(x.reason, "string"),
       "a string: error (%s)", x.reason);
    x = score(p, inst, "bool");
    ok(x.st == RLVR_ERROR && strstr(x.reason, "boolean"), "a boolean: error (%s)", x.reason);
    x = score(p, inst, "nothing");
    ok(x.st == RLVR_ERROR && strstr(x.reason, "returned nothing"), "no value: error (%s)", x.reason);
    x = score(p, inst, "baddetails");
    ok(x.st == RLVR_ERROR && strstr(x.reason, "details table"), "a non-table second value: error (%s)", x.reason);
    x = score(p, inst, "badvalue");
    ok(x.st == RLVR_ERROR && strstr(x.reason, "details.f"), "an unrecordable detail: error (%s)", x.reason);
    x = score(p, inst, "anything else");
    ok(x.st == RLVR_OK && x.score == 0 && strcmp(x.reason, "unknown request") == 0, "zero with a reason");
}

static void test_services(const rlvr_plugin *p, void *inst)
{
    rec x = score(p, inst, "config");
    ok(x.st == RLVR_OK && x.score == 7 + 0.25 + 0 + 0 + 20000, "configuration values reach the script (%g)",
       x.score);
    is_str(x.details, "needed:s=given;", "a required string");
    x = score_ext(p, inst, "ctx", NULL, 0, 1, 12);
    ok(x.st == RLVR_OK && x.score == 1200, "ctx.step and ctx.worker");
    is_str(x.details, "entry:s=entry_x;n:n=1;", "ctx.entry and ctx.n_workers");
    x = score(p, inst, "field");
    ok(x.st == RLVR_OK && x.score == 13, "sample fields through host->sample_field (%s)", x.reason);
    x = score(p, inst, "component");
    ok(x.st == RLVR_OK && x.score == 0.75, "sample:component");
    is_str(x.details, "st:s=ok;st2:s=abstain;w:j=true;", "... with statuses");
    x = score(p, inst, "call");
    ok(x.st == RLVR_OK && x.score == 0.25, "rlvr.call scores through the host");
    is_str(x.details, "n:j=true;st:s=abstain;why:s=cannot judge this;", "... and reports an abstention");
    x = score(p, inst, "self");
    ok(x.st == RLVR_ERROR && strstr(x.reason, "same worker"), "a script calling itself is refused (%s)", x.reason);
    x = score(p, inst, "keep");
    ok(x.st == RLVR_OK, "a script may keep a sample in a global...");
    x = score(p, inst, "kept");
    ok(x.st == RLVR_ERROR && strstr(x.reason, "after its scoring call"), "... but not use it later (%s)", x.reason);
    x = score(p, inst, "limits");
    ok(x.st == RLVR_OK && x.score == 100 + 16, "the limits are in the configuration table (%g)", x.score);
}

static void test_limits(const rlvr_plugin *p, void *inst)
{
    rec x = score(p, inst, "count");
    rec y = score(p, inst, "count");
    ok(x.score + 1 == y.score, "a worker keeps its state between calls");
    double t0 = now_s();
    x = score(p, inst, "loop");
    double dt = now_s() - t0;
    ok(x.st == RLVR_ERROR && strstr(x.reason, "protocol: time limit of 100 ms exceeded"),
       "an endless score is an error naming the plugin (%s)", x.reason);
    ok(dt < 2.0, "... stopped after %.3f s", dt);
    x = score(p, inst, "count");
    ok(x.st == RLVR_OK && x.score == 1, "the state was made afresh after the overrun");
    x = score(p, inst, "mem");
    ok(x.st == RLVR_ERROR && strstr(x.reason, "protocol: memory limit of 16 MiB exceeded"),
       "unbounded allocation is an error naming the plugin (%s)", x.reason);
    x = score(p, inst, "count");
    ok(x.st == RLVR_OK && x.score == 1, "the state was made afresh after the memory overrun");
}

typedef struct job {
    const rlvr_plugin *p;
    void *inst;
    int worker;
    int bad;
    int last_count;
} job;

static void *worker_main(void *arg)
{
    job *j = arg;
    for (int i = 0; i < 300; i++) {
        const char *what = i % 3 == 0 ? "num" : i % 3 == 1 ? "details" : "count";
        rec x = score_ext(j->p, j->inst, what, NULL, j->worker, 2, 0);
        if (x.st != RLVR_OK) j->bad++;
        else if (i % 3 == 0 && x.score != 0.5) j->bad++;
        else if (i % 3 == 1 && strcmp(x.reason, "looks fine") != 0) j->bad++;
        else if (i % 3 == 2) {
            if (x.score != j->last_count + 1) j->bad++;
            j->last_count = (int)x.score;
        }
    }
    return NULL;
}

static void test_threads(const rlvr_plugin *p, void *inst)
{
    job a = {p, inst, 0, 0, 0}, b = {p, inst, 1, 0, 0};
    /* worker 0's state already counted: start from its current count */
    rec x = score_ext(p, inst, "count", NULL, 0, 2, 0);
    a.last_count = (int)x.score;
    pthread_t ta, tb;
    int ra = pthread_create(&ta, NULL, worker_main, &a);
    int rb = pthread_create(&tb, NULL, worker_main, &b);
    if (ra == 0) pthread_join(ta, NULL);
    if (rb == 0) pthread_join(tb, NULL);
    ok(ra == 0 && rb == 0, "two threads started");
    ok(a.bad == 0 && b.bad == 0, "two threads on workers 0 and 1 score correctly (%d, %d bad)", a.bad, b.bad);
    ok(b.last_count == 100, "worker 1 has a state of its own (count %d)", b.last_count);
    x = score_ext(p, inst, "count", NULL, 9, 10, 0);
    ok(x.st == RLVR_OK && x.score == 1, "a later, larger worker index gets a fresh state");
}

static void test_load_errors(void)
{
    char path[4096], want[4200];
    const rlvr_plugin *p = rlvr_lua_plugin_load(fixture("fixtures/lua/syntax_error.lua", path, sizeof path), &host,
                                                err, sizeof err);
    snprintf(want, sizeof want, "%s:4:", path);
    ok(!p && strncmp(err, want, strlen(want)) == 0, "a syntax error names path:line: (%s)", err);
    p = rlvr_lua_plugin_load("/nonexistent/plugin.lua", &host, err, sizeof err);
    ok(!p && strstr(err, "/nonexistent/plugin.lua"), "a missing file names its path (%s)", err);

    static const struct {
        const char *text, *want, *what;
    } bad[] = {
        {"return 42", "must return the plugin table", "a script returning a number"},
        {"return {score = function() return 1 end}", "has no name", "a missing name"},
        {"return {name = 'Has-Think', score = function() return 1 end}", "a-z, 0-9", "a bad name"},
        {"return {name = 'x'}", "no score function", "a missing score"},
        {"return {name = 'x', score = 1}", "score must be a function", "a score that is not a function"},
        {"return {name = 'x', scroe = 1, score = function() end}", "unknown key 'scroe'", "an unknown key"},
        {"return {name = 'x', score = function() end, config = {n = {type = 'integer'}}}",
         "config.n: unknown type \"integer\"", "a bad option type"},
        {"return {name = 'x', score = function() end, config = {n = {type = 'int', default = 5, max = 3}}}",
         "config.n: default 5 is above the max 3", "a default out of range"},
        {"return {name = 'x', score = function() end, config = {n = {type = 'int', default = 1.5}}}",
         "config.n: default must be an integer", "a fractional int default"},
        {"return {name = 'x', score = function() end, config = {m = {type = 'string', default = 'c', "
         "choices = {'a', 'b'}}}}",
         "not one of the choices a|b", "a default outside the choices"},
        {"return {name = 'x', score = function() end, config = {m = {type = 'bool', min = 1}}}",
         "min and max apply to int and number", "a range on a bool"},
        {"return {name = 'x', score = function() end, config = {m = {type = 'int', dflt = 1}}}",
         "unknown field 'dflt'", "an unknown option field"},
        {"return {name = 'x', score = function() end, config = {time_limit_ms = {type = 'int'}}}",
         "reserved", "a reserved option name"},
        {"return {name = 'x', score = function() end, config = {['Bad-Name'] = {type = 'int'}}}",
         "option name", "a bad option name"},
        {"local t = nil\nreturn t.x", ":2: attempt to index", "a runtime error at load"},
        {"while true do end", "time limit of 1000 ms exceeded", "an endless script at load"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double t0 = now_s();
        p = load_text(bad[i].text, path, sizeof path);
        ok(!p && strstr(err, bad[i].want) && strncmp(err, path, strlen(path)) == 0 && now_s() - t0 < 3,
           "%s is refused: %s", bad[i].what, err);
        rlvr_lua_plugin_free(p);
    }
}

static void test_examples(void)
{
    char path[4096];
    const rlvr_plugin *p =
        rlvr_lua_plugin_load(fixture("../lua/examples/has_think.lua", path, sizeof path), &host, err, sizeof err);
    ok(p != NULL, "the has_think example loads (%s)", p ? "" : err);
    if (p) {
        rlvr_config dflt = {p, {0}, {0}, 0};
        void *inst = p->create(&host, &dflt, err, sizeof err);
        ok(inst != NULL, "an instance with the defaults");
        rec x = score(p, inst, "<think>Let me add 2 and 2.</think>4");
        ok(x.st == RLVR_OK && x.score == 1, "a closed think block scores 1");
        x = score(p, inst, "4");
        ok(x.st == RLVR_OK && x.score == 0 && strcmp(x.reason, "no_think_tag") == 0, "no block scores 0 with a reason");
        x = score(p, inst, "<think>hmm");
        ok(x.st == RLVR_OK && x.score == 0 && strcmp(x.reason, "unclosed_think") == 0, "an unclosed block scores 0");
        x = score(p, inst, "<think>  </think>4");
        ok(x.st == RLVR_OK && x.score == 0 && strcmp(x.reason, "think_too_short") == 0, "an empty block scores 0");
        p->destroy(inst);
        rlvr_lua_plugin_free(p);
    }
    p = rlvr_lua_plugin_load(fixture("../lua/examples/answer_tag.lua", path, sizeof path), &host, err, sizeof err);
    ok(p != NULL, "the answer_tag example loads (%s)", p ? "" : err);
    if (p) {
        rlvr_config dflt = {p, {0}, {0}, 0};
        void *inst = p->create(&host, &dflt, err, sizeof err);
        rec x = score_ext(p, inst, "<answer>1</answer> then <answer>  4\n2 </answer>", "4 2", 0, 1, 0);
        ok(x.st == RLVR_OK && x.score == 1, "the last answer block matches");
        x = score_ext(p, inst, "<answer>5</answer>", "4", 0, 1, 0);
        ok(x.st == RLVR_OK && x.score == 0 && strcmp(x.reason, "wrong_answer") == 0, "a wrong answer scores 0");
        x = score_ext(p, inst, "no tags", "4", 0, 1, 0);
        ok(x.st == RLVR_OK && x.score == 0 && strcmp(x.reason, "no_answer") == 0, "no answer block scores 0");
        x = score_ext(p, inst, "<answer>5</answer>", NULL, 0, 1, 0);
        ok(x.st == RLVR_ABSTAIN, "no gold answer abstains");
        p->destroy(inst);
        rlvr_lua_plugin_free(p);
    }
}

int main(void)
{
    plan_no_plan();
    char path[4096];
    const rlvr_plugin *p =
        rlvr_lua_plugin_load(fixture("fixtures/lua/protocol.lua", path, sizeof path), &host, err, sizeof err);
    ok(p != NULL, "the protocol fixture loads (%s)", p ? "" : err);
    if (!p) return done_testing();
    test_descriptor(p);


    rlvr_config cfg = {p, {"needed", "time_limit_ms", "memory_limit_mb", "count", "ratio", "flag", "mode"},
                       {"given", "100", "16", "7", "0.25", "false", "loose"}, 7};
    void *inst = p->create(&host, &cfg, err, sizeof err);
    ok(inst != NULL, "an instance is made (%s)", inst ? "" : err);
    if (!inst) return done_testing();
    self_plugin = p;
    self_instance = inst;
    test_protocol(p, inst);
    test_services(p, inst);
    test_limits(p, inst);
    test_threads(p, inst);
    p->destroy(inst);
    rlvr_lua_plugin_free(p);

    test_load_errors();
    test_examples();
    return done_testing();
}
