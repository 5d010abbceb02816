/*
 * test_code_runner.c -- the code engine's pure parts table by table (the
 * checkers with their adversarial cases, type-strict JSON equality, code
 * extraction, the tests parser and the dataset adapters), then the sandbox:
 * a soak of repeated runs (500 in `make check`, RLVR_CODE_SOAK=10000 in
 * `make soak`) that must leak no file descriptor, no memory and no process,
 * parallel slots that do not interfere, and a run that leaves files,
 * processes and a hit limit behind, followed in the same slot by one that
 * must see none of them; the slots' helper processes (an empty
 * environment, a new one when one is killed, none left when the caller
 * dies, a clear refusal when the program is missing). The sandbox part skips (with
 * the reason) on a machine that cannot sandbox.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/file.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "code_runner.h"
#include "tap.h"

#define S(x) x, sizeof(x) - 1

static void test_checkers(void)
{
    static const struct {
        rlvr_code_check c;
        double tol;
        const char *got, *want;
        int eq;
        const char *name;
    } t[] = {
        {RLVR_CHECK_EXACT, 0, "3\n", "3\n", 1, "exact: same bytes"},
        {RLVR_CHECK_EXACT, 0, "3", "3\n", 0, "exact: a missing newline differs"},
        {RLVR_CHECK_LINES, 0, "3  \n4\t\n", "3\n4", 1, "lines: trailing blanks and final newline ignored"},
        {RLVR_CHECK_LINES, 0, "3\n4\n\n\n", "3\n4\n", 1, "lines: trailing blank lines ignored"},
        {RLVR_CHECK_LINES, 0, " 3\n", "3\n", 0, "lines: leading blanks count"},
        {RLVR_CHECK_LINES, 0, "3\n", "3\n4\n", 0, "lines: a correct prefix is not a pass (open-r1's zip)"},
        {RLVR_CHECK_LINES, 0, "3\n4\n5\n", "3\n4\n", 0, "lines: extra lines fail"},
        {RLVR_CHECK_LINES, 0, "3\r\n4\r\n", "3\n4\n", 1, "lines: CRLF is a trailing blank"},
        {RLVR_CHECK_LINES, 0, "", "", 1, "lines: empty equals empty"},
        {RLVR_CHECK_LINES, 0, "\n\n", "", 1, "lines: only blank lines equals empty"},
        {RLVR_CHECK_TOKENS, 0, "1   2\n3", "1 2 3\n", 1, "tokens: whitespace shape ignored"},
        {RLVR_CHECK_TOKENS, 0, "1 2", "1 2 3", 0, "tokens: a prefix fails"},
        {RLVR_CHECK_TOKENS, 0, "1 2 3 4", "1 2 3", 0, "tokens: extra tokens fail"},
        {RLVR_CHECK_TOKENS, 0, "1.0", "1", 0, "tokens: text, not numbers"},
        {RLVR_CHECK_FLOAT, 1e-6, "0.3333333", "0.33333333", 1, "float: within tolerance"},
        {RLVR_CHECK_FLOAT, 1e-6, "0.334", "0.333", 0, "float: outside tolerance"},
        {RLVR_CHECK_FLOAT, 1e-6, "1000000.5", "1000000.0", 1, "float: relative tolerance for large values"},
        {RLVR_CHECK_FLOAT, 1e-6, "nan", "nan", 0, "float: NaN never equals NaN"},
        {RLVR_CHECK_FLOAT, 1e-6, "NaN", "1", 0, "float: NaN never equals a number"},
        {RLVR_CHECK_FLOAT, 1e-6, "inf", "inf", 1, "float: infinities of one sign"},
        {RLVR_CHECK_FLOAT, 1e-6, "-inf", "inf", 0, "float: infinities of two signs"},
        {RLVR_CHECK_FLOAT, 1e-6, "1 2\n3", "1 2 3", 0, "float: line counts must match"},
        {RLVR_CHECK_FLOAT, 1e-6, "1 2", "1 2 3", 0, "float: token counts must match"},
        {RLVR_CHECK_FLOAT, 1e-6, "yes 1.0000001", "yes 1", 1, "float: words compared as text"},
        {RLVR_CHECK_FLOAT, 1e-6, "Yes 1", "yes 1", 0, "float: words are case-sensitive"},
        {RLVR_CHECK_FLOAT, 1e-6, "1e400", "1", 0, "float: overflow is infinity, not a match"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ok(rlvr_code_check_output(t[i].c, t[i].tol, t[i].got, strlen(t[i].got), t[i].want, strlen(t[i].want)) == t[i].eq,
           "%s", t[i].name);
    /* an embedded NUL is a byte like any other */
    ok(!rlvr_code_check_output(RLVR_CHECK_EXACT, 0, "3\0x", 3, "3\0y", 3), "exact: bytes after a NUL count");
}

static void test_json(void)
{
    static const struct {
        const char *a, *b;
        double tol;
        int eq;
        const char *name;
    } t[] = {
        {"3", "3", -1, 1, "ints"},
        {"3", "3.0", -1, 0, "1 != 1.0 without a float checker"},
        {"3", "3.0", 1e-9, 1, "1 == 1.0 with a float checker"},
        {"true", "1", -1, 0, "True != 1"},
        {"true", "1", 1e-6, 0, "True != 1 even with a float checker"},
        {"NaN", "NaN", -1, 0, "NaN never equal"},
        {"NaN", "NaN", 1e-6, 0, "NaN never equal with tolerance"},
        {"[1,[2,3]]", "[1,[2,3]]", -1, 1, "nested lists"},
        {"[1,2]", "[1,2,3]", -1, 0, "a prefix list differs"},
        {"{\"a\":1,\"b\":[null]}", "{\"b\":[null],\"a\":1}", -1, 1, "objects: key order ignored"},
        {"{\"a\":1}", "{\"a\":1,\"b\":2}", -1, 0, "objects: extra keys differ"},
        {"\"1\"", "1", -1, 0, "a string is not a number"},
        {"9223372036854775806", "9223372036854775807", -1, 0, "64-bit integers exactly"},
        {"null", "null", -1, 1, "null"},
        {"0.1", "0.10000001", 1e-6, 1, "floats with tolerance"},
        {"[1", "[1", -1, 0, "invalid JSON is never equal"},
        {"3 4", "3", -1, 0, "trailing text is invalid"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ok(rlvr_code_json_equal(t[i].a, strlen(t[i].a), t[i].b, strlen(t[i].b), t[i].tol) == t[i].eq, "json: %s", t[i].name);
}

static void test_extract(void)
{
    static const struct {
        const char *text;
        int want, whole;
        int rc;
        const char *code;
        int lang;
        const char *name;
    } t[] = {
        {"x\n```python\nprint(1)\n```\n", -1, 1, 0, "print(1)\n", 0, "a tagged block"},
        {"```python\na\n```\n```python\nb\n```", -1, 1, 0, "b\n", 0, "the last block"},
        {"```cpp\nint main(){}\n```\n```python\nb\n```", 2, 1, 0, "int main(){}\n", 2, "the last block of the wanted language"},
        {"```c++\nx\n```", -1, 1, 0, "x\n", 2, "c++ tag is cpp"},
        {"```\nraw\n```", -1, 1, 0, "raw\n", -1, "an untagged block"},
        {"<think>```python\nold\n```</think>\nprint(2)", -1, 1, 0, "\nprint(2)", -1, "blocks in the reasoning are skipped"},
        {"just prose", -1, 0, -1, NULL, -1, "no block, whole_text off: no code"},
        {"just prose", -1, 1, 0, "just prose", -1, "no block, whole_text on: the text"},
        {"   \n\t", -1, 1, -1, NULL, -1, "blank text is no code"},
        {"```python\n```", -1, 0, -1, NULL, -1, "an empty block is no code"},
        {"```python\nunclosed = 1\n", -1, 1, 0, "unclosed = 1\n", 0, "an unclosed last block runs to the end"},
        {"```rust\nfn main(){}\n```", -1, 0, -1, NULL, -1, "an unknown language is not taken"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *code = NULL;
        size_t n = 0;
        int lang = -9;
        int rc = rlvr_code_extract(t[i].text, strlen(t[i].text), t[i].want, t[i].whole, &code, &n, &lang);
        int good = rc == t[i].rc;
        if (good && rc == 0) good = n == strlen(t[i].code) && memcmp(code, t[i].code, n) == 0 && lang == t[i].lang;
        ok(good, "extract: %s", t[i].name);
    }
}

static void test_parse(void)
{
    static const struct {
        int kind; /* 0 tests, 1 apps, 2 open-r1 */
        const char *json;
        int rc;
        const char *why_has;
        const char *name;
    } t[] = {
        {0, "{\"cases\":[{\"stdin\":\"1\",\"stdout\":\"2\"}]}", 0, NULL, "stdio"},
        {0, "{\"cases\":[]}", -1, "tests.cases", "empty cases"},
        {0, "{}", -1, "tests.cases", "no cases"},
        {0, "[1]", -1, "tests:", "not an object"},
        {0, "{\"cases\":[{\"stdin\":1,\"stdout\":\"2\"}]}", -1, "tests.cases.0", "a number as stdin"},
        {0, "{\"cases\":[{\"stdin\":\"1\"}]}", -1, "tests.cases.0", "no stdout"},
        {0, "{\"checker\":\"regex\",\"cases\":[{\"stdin\":\"\",\"stdout\":\"\"}]}", -1, "tests.checker", "unknown checker"},
        {0, "{\"checker\":\"float:-1\",\"cases\":[{\"stdin\":\"\",\"stdout\":\"\"}]}", -1, "tests.checker", "negative tolerance"},
        {0, "{\"language\":\"cobol\",\"cases\":[{\"stdin\":\"\",\"stdout\":\"\"}]}", -1, "tests.language", "unknown language"},
        {0, "{\"time_limit_ms\":0,\"cases\":[{\"stdin\":\"\",\"stdout\":\"\"}]}", -1, "tests.time_limit_ms", "zero time limit"},
        {0, "{\"entry_point\":\"f\",\"cases\":[{\"input\":1,\"output\":2}]}", -1, "tests.cases.0", "function input not a list"},
        {0, "{\"assert\":\"def check(f): pass\"}", -1, "entry_point", "assert without entry_point"},
        {0, "{\"entry_point\":\"f\",\"assert\":\"def check(f): pass\"}", 0, NULL, "assertion mode"},
        {0, "not json", -1, "not valid JSON", "invalid JSON"},
        {1, "\"{\\\"inputs\\\": [\\\"1\\\\n\\\"], \\\"outputs\\\": [\\\"2\\\\n\\\"]}\"", 0, NULL, "APPS as a JSON string"},
        {1, "{\"inputs\": [[\"1\", \"2\"]], \"outputs\": [\"3\"]}", 0, NULL, "APPS with lists of lines"},
        {1, "{\"inputs\": [[1]], \"outputs\": [[2]], \"fn_name\": \"f\"}", 0, NULL, "APPS call-based"},
        {1, "{\"inputs\": [\"1\"], \"outputs\": []}", -1, "same length", "APPS lengths differ"},
        {1, "\"not json\"", -1, "input_output", "APPS string that is not JSON"},
        {2, "{\"language\":\"python\",\"test_cases\":[{\"input\":\"1\",\"output\":\"1\",\"type\":\"stdin_stdout\"}]}", 0, NULL, "open-r1"},
        {2, "{\"test_cases\":[]}", -1, "test_cases", "open-r1 without cases"},
        {2, "{\"test_cases\":[{\"input\":\"1\",\"output\":\"1\",\"type\":\"function_call\"}]}", -1, "type", "open-r1 unknown type"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        rlvr_code_tests x;
        char why[256] = "";
        size_t n = strlen(t[i].json);
        int rc = t[i].kind == 0   ? rlvr_code_tests_parse(t[i].json, n, &x, why, sizeof why)
                 : t[i].kind == 1 ? rlvr_code_tests_from_apps(t[i].json, n, &x, why, sizeof why)
                                  : rlvr_code_tests_from_openr1(t[i].json, n, &x, why, sizeof why);
        ok(rc == t[i].rc && (!t[i].why_has || strstr(why, t[i].why_has)), "parse: %s (%s)", t[i].name, why);
        if (rc == 0) rlvr_code_tests_free(&x);
    }
    rlvr_code_tests x;
    char why[256];
    const char *apps = "{\"inputs\": [[\"1\", \"2\"]], \"outputs\": [\"3\"]}";
    if (rlvr_code_tests_from_apps(apps, strlen(apps), &x, why, sizeof why) == 0) {
        ok(x.n_cases == 1 && x.cases[0].in_len == 4 && memcmp(x.cases[0].in, "1\n2\n", 4) == 0, "APPS: lines are joined with newlines");
        rlvr_code_tests_free(&x);
    } else {
        ok(0, "APPS: lines are joined with newlines");
    }
    const char *he_t = "\"def check(candidate):\\n    assert candidate(1) == 2\\n\"";
    ok(rlvr_code_tests_from_humaneval(he_t, strlen(he_t), "\"inc\"", 5, &x, why, sizeof why) == 0 && x.mode == RLVR_CODE_ASSERT
           && strcmp(x.entry_point, "inc") == 0,
       "HumanEval: test + entry_point is the assertion mode");
    rlvr_code_tests_free(&x);
    ok(rlvr_code_tests_from_humaneval("\"x = 1\"", 7, "\"inc\"", 5, &x, why, sizeof why) == -1 && strstr(why, "test"),
       "HumanEval: a test without check() is refused");
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) n++;
    if (d) closedir(d);
    return n;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

/* Processes of the sandbox uids still alive anywhere on the host. */
static int sandbox_procs(void)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[300], line[256];
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(p, sizeof p, "/proc/%s/status", e->d_name);
        FILE *f = fopen(p, "r");
        while (f && fgets(line, sizeof line, f)) {
            int uid;
            if (sscanf(line, "Uid: %d", &uid) == 1) {
                if (uid >= RLVR_SBX_UID_FIRST && uid <= RLVR_SBX_UID_LAST) n++;
                break;
            }
        }
        if (f) fclose(f);
    }
    if (d) closedir(d);
    return n;
}

/* Directories under dir (depth <= 4) whose name starts with prefix. */
static int count_named(const char *dir, const char *prefix, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
        if (depth < 4) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            n += count_named(p, prefix, depth + 1);
        }
    }
    closedir(d);
    return n;
}

typedef struct par_arg {
    rlvr_code_runner *r;
    rlvr_code_prog *p;
    int id, bad;
} par_arg;

static void *par_run(void *a)
{
    par_arg *x = a;
    char in[32], want[32], err[256];
    for (int k = 0; k < 10; k++) {
        int n = snprintf(in, sizeof in, "%d\n", x->id * 100 + k);
        snprintf(want, sizeof want, "%d\n", (x->id * 100 + k) * 2);
        rlvr_sbx_result res;
        if (rlvr_code_exec(x->r, x->p, in, (size_t)n, 0, 0, &res, err, sizeof err)) {
            x->bad++;
            continue;
        }
        if (res.outcome != RLVR_SBX_EXITED || strcmp(res.out, want) != 0) x->bad++;
        rlvr_sbx_result_free(&res);
    }
    return NULL;
}

static void test_sandbox(void)
{
    rlvr_code_config c;
    rlvr_code_config_defaults(&c);
    c.max_parallel = 2;
    char err[1024];
    rlvr_code_runner *r = rlvr_code_runner_open(&c, err, sizeof err);
    if (!r) {
        ok(1, "# SKIP sandbox: %s", err);
        return;
    }
    diag("sandbox: %s", rlvr_sbx_describe(rlvr_code_runner_sandbox(r)));
    /* C: compiled once, then run from the cache */
    const char *src = "#include <stdio.h>\nint main(void){long x; if(scanf(\"%ld\",&x)!=1) return 3; printf(\"%ld\\n\", 2*x); return 0;}\n";
    rlvr_code_prog *p = NULL;
    char diagbuf[1600];
    ok(rlvr_code_prepare(r, RLVR_CODE_C, src, strlen(src), &p, diagbuf, sizeof diagbuf, err, sizeof err) == 0 && p,
       "a C program compiles (%s)", diagbuf);
    if (!p) {
        rlvr_code_runner_close(r);
        return;
    }
    rlvr_code_prog *p2 = NULL;
    uint64_t hits, misses;
    rlvr_code_prepare(r, RLVR_CODE_C, src, strlen(src), &p2, diagbuf, sizeof diagbuf, err, sizeof err);
    rlvr_code_runner_cache_stats(r, &hits, &misses);
    ok(p2 == p && hits == 1 && misses == 1, "the same source is served from the compile cache");
    rlvr_code_prog_free(p2);
    const char *bad = "int main(void) { return x; }\n";
    rlvr_code_prog *p3 = NULL;
    ok(rlvr_code_prepare(r, RLVR_CODE_C, bad, strlen(bad), &p3, diagbuf, sizeof diagbuf, err, sizeof err) == 1 && !p3
           && strstr(diagbuf, "undeclared"),
       "a compile error gives the compiler's diagnostics");
    /* parallel slots: distinct inputs, distinct outputs, no interference */
    par_arg pa[2] = {{r, p, 1, 0}, {r, p, 2, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, par_run, &pa[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    ok(pa[0].bad == 0 && pa[1].bad == 0, "two slots run at once without mixing inputs or outputs");
    /* soak */
    const char *env = getenv("RLVR_CODE_SOAK");
    int n = env ? atoi(env) : 500;
    if (n < 10) n = 10;
    int fds0 = -1;
    long rss0 = 0;
    int failures = 0;
    for (int i = 0; i < n; i++) {
        rlvr_sbx_result res;
        char in[32];
        int k = snprintf(in, sizeof in, "%d\n", i);
        if (rlvr_code_exec(r, p, in, (size_t)k, 0, 0, &res, err, sizeof err)) {
            failures++;
            continue;
        }
        long v = strtol(res.out, NULL, 10);
        if (res.outcome != RLVR_SBX_EXITED || v != 2L * i) failures++;
        rlvr_sbx_result_free(&res);
        if (i == 9) { /* after warm-up: allocator arenas and caches settled */
            fds0 = count_fds();
            rss0 = rss_kb();
        }
    }
    int fds1 = count_fds();
    long rss1 = rss_kb();
    ok(failures == 0, "soak: %d runs, all correct (%d failed)", n, failures);
    ok(fds1 == fds0, "soak: no file descriptor leaked (%d before, %d after)", fds0, fds1);
    ok(rss1 - rss0 < 2048, "soak: memory stays flat (%ld kB -> %ld kB)", rss0, rss1);
    ok(sandbox_procs() == 0, "soak: no sandbox process is left on the host");
    rlvr_code_prog_free(p);
    rlvr_code_runner_close(r);
    /* the slots' cgroups are gone */
    char prefix[64];
    snprintf(prefix, sizeof prefix, "rlvr_code.%d.", (int)getpid());
    int left = count_named("/sys/fs/cgroup", prefix, 0);
    ok(left == 0, "closing the runner removes its cgroups");
}

/* A run starts with nothing of the previous run of its slot: no file in
 * /work, /tmp or /dev/shm, no process (run 1 leaves sleeping children), no
 * limit counter (run 1 hits the process limit). */

/* The pid of a live child of pid `parent` other than `not` whose name is
 * `name` (or, with prefix, starts with it), or 0. */
static int child_named(int parent, const char *name, int prefix, int not)
{
    DIR *d = opendir("/proc");
    int found = 0;
    struct dirent *e;
    while (d && !found && (e = readdir(d))) {
        char p[300], line[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        int pid, ppid;
        char comm[64], state;
        if (fgets(line, sizeof line, f) && sscanf(line, "%d (%63[^)]) %c %d", &pid, comm, &state, &ppid) == 4
            && ppid == parent && (prefix ? strncmp(comm, name, strlen(name)) : strcmp(comm, name)) == 0 && pid != not
            && state != 'Z')
            found = pid;
        fclose(f);
    }
    if (d) closedir(d);
    return found;
}

/* A slot's helper process, a child of the caller. */
static int helper_of(int parent, int not) { return child_named(parent, "rlvr-sandbox", 0, not); }

static int run_true(rlvr_sbx *s, char *err, size_t err_len)
{
    const char *const argv[] = {"/bin/sh", "-c", "echo fine", NULL};
    rlvr_sbx_job job = {.argv = argv, .time_ms = 2000, .wall_ms = 5000, .memory_mb = 64, .stdout_max = 4096,
                        .stderr_max = 4096, .pids_max = 8, .tmpfs_mb = 1};
    rlvr_sbx_result res;
    int slot = rlvr_sbx_acquire(s);
    int rc = rlvr_sbx_run(s, slot, &job, &res, err, err_len);
    rlvr_sbx_release(s, slot);
    if (rc) return -1;
    int good = res.outcome == RLVR_SBX_EXITED && strcmp(res.out, "fine\n") == 0;
    rlvr_sbx_result_free(&res);
    if (!good) snprintf(err, err_len, "the run did not print fine");
    return good ? 0 : -1;
}

/* A slot's warm interpreter, a child of its helper. */
static int python_of(int parent, int not) { return child_named(parent, "python", 1, not); }

static long rss_kb_of(int pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", pid);
    FILE *f = fopen(p, "r");
    long v = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

static int run_double(rlvr_code_runner *r, const rlvr_code_prog *p, int i)
{
    char in[32], err[512];
    int k = snprintf(in, sizeof in, "%d\n", i);
    rlvr_sbx_result res;
    if (rlvr_code_exec(r, p, in, (size_t)k, 0, 0, &res, err, sizeof err)) {
        diag("run %d: %s", i, err);
        return -1;
    }
    int good = res.outcome == RLVR_SBX_EXITED && strtol(res.out, NULL, 10) == 2L * i;
    if (!good) diag("run %d: outcome %d, stdout %s, stderr %.300s", i, (int)res.outcome, res.out, res.err);
    rlvr_sbx_result_free(&res);
    return good ? 0 : -1;
}

/* Python runs from the slot's warm interpreter (python_warm, the default):
 * a soak with no leak, the interpreter's place (a child of the helper, the
 * runs' environment, never the caller's), a killed interpreter replaced at
 * the next run, nothing left when the runner closes. */
static void test_warm(void)
{
    if (access("/usr/bin/python3", X_OK)) {
        ok(1, "# SKIP no /usr/bin/python3");
        return;
    }
    setenv("RLVR_TEST_CALLER_SECRET", "sk-caller-secret", 1);
    rlvr_code_config c;
    rlvr_code_config_defaults(&c);
    c.max_parallel = 1;
    char err[1024], diagbuf[512];
    rlvr_code_runner *r = rlvr_code_runner_open(&c, err, sizeof err);
    if (!r) {
        ok(1, "# SKIP sandbox: %s", err);
        return;
    }
    const char *src = "print(2 * int(input()))\n";
    rlvr_code_prog *p = NULL;
    rlvr_code_prepare(r, RLVR_CODE_PYTHON, src, strlen(src), &p, diagbuf, sizeof diagbuf, err, sizeof err);
    const char *env = getenv("RLVR_CODE_SOAK");
    int n = (env ? atoi(env) : 500) / 5;
    if (n < 10) n = 10;
    int failures = 0, fds0 = -1, w0 = 0;
    long rss0 = 0, wrss0 = 0;
    for (int i = 0; p && i < n; i++) {
        if (run_double(r, p, i)) failures++;
        if (i == 9) {
            fds0 = count_fds();
            rss0 = rss_kb();
            w0 = python_of(helper_of((int)getpid(), 0), 0);
            wrss0 = rss_kb_of(w0);
        }
    }
    int fds1 = count_fds();
    long rss1 = rss_kb(), wrss1 = rss_kb_of(w0);
    ok(p && failures == 0, "warm Python soak: %d runs, all correct (%d failed)", n, failures);
    ok(fds1 == fds0, "warm Python soak: no file descriptor leaked (%d before, %d after)", fds0, fds1);
    ok(rss1 - rss0 < 2048, "warm Python soak: memory stays flat (%ld kB -> %ld kB)", rss0, rss1);
    ok(sandbox_procs() == 0, "warm Python soak: no sandbox process is left on the host");
    ok(w0 > 0 && wrss0 > 0 && wrss1 - wrss0 < 1024, "warm Python soak: the warm interpreter's memory stays flat (%ld kB -> %ld kB)",
       wrss0, wrss1);
    int h = helper_of((int)getpid(), 0);
    int w = h > 0 ? python_of(h, 0) : 0;
    ok(w > 0, "the slot's warm interpreter is a child of its helper (helper %d, interpreter %d)", h, w);
    char path[64], envbuf[4096] = "";
    snprintf(path, sizeof path, "/proc/%d/environ", w);
    FILE *f = fopen(path, "r");
    size_t got = f ? fread(envbuf, 1, sizeof envbuf - 1, f) : 0;
    if (f) fclose(f);
    for (size_t i = 0; i < got; i++)
        if (!envbuf[i]) envbuf[i] = '\n';
    envbuf[got] = 0;
    ok(got > 0 && strstr(envbuf, "PYTHONDONTWRITEBYTECODE=1") && !strstr(envbuf, "sk-caller-secret"),
       "its environment is the runs' own, none of the caller's");
    kill(w, SIGKILL);
    for (int i = 0; i < 200 && python_of(h, 0) == w; i++) usleep(10000);
    ok(p && run_double(r, p, 7) == 0, "after the warm interpreter was killed, the next run works");
    int w2 = python_of(h, w);
    ok(w2 > 0 && w2 != w, "a new warm interpreter runs (pid %d, was %d)", w2, w);
    rlvr_code_prog_free(p);
    rlvr_code_runner_close(r);
    ok(helper_of((int)getpid(), 0) == 0 && (w2 <= 0 || kill(w2, 0) != 0),
       "closing the runner ends the helper and its warm interpreter");
    unsetenv("RLVR_TEST_CALLER_SECRET");
}

static void test_helpers(void)
{
    char err[1024];
    rlvr_sbx *s = rlvr_sbx_open(1, 0, err, sizeof err);
    if (!s) {
        ok(1, "# SKIP sandbox: %s", err);
        return;
    }
    int h = helper_of((int)getpid(), 0);
    ok(h > 0, "the slot has a helper process, a child of the caller (pid %d)", h);
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/environ", h);
    FILE *f = fopen(p, "r");
    int c = f ? fgetc(f) : 0;
    if (f) fclose(f);
    ok(f && c == EOF, "the helper's environment is empty (the caller's secrets never reach it)");
    ok(run_true(s, err, sizeof err) == 0, "a run through the helper (%s)", err);
    kill(h, SIGKILL);
    for (int i = 0; i < 200; i++) { /* until it is dead (a zombie until the sandbox reaps it) */
        char st[64] = "";
        snprintf(p, sizeof p, "/proc/%d/stat", h);
        f = fopen(p, "r");
        if (f) {
            if (!fgets(st, sizeof st, f)) st[0] = 0;
            fclose(f);
        }
        if (!f || strstr(st, ") Z ")) break;
        usleep(10000);
    }
    err[0] = 0;
    ok(run_true(s, err, sizeof err) == 0, "after its helper was killed, the slot's next run gets a new one (%s)", err);
    int h2 = helper_of((int)getpid(), h);
    ok(h2 > 0 && h2 != h, "a new helper runs (pid %d, was %d)", h2, h);
    rlvr_sbx_close(s);
    ok(helper_of((int)getpid(), 0) == 0, "closing the sandbox ends its helpers");

    /* the caller dies: its helper follows */
    int pp[2];
    if (pipe(pp) == 0) {
        pid_t kid = fork();
        if (kid == 0) {
            close(pp[0]);
            char e2[512];
            rlvr_sbx *s2 = rlvr_sbx_open(1, 0, e2, sizeof e2);
            int hk = s2 ? helper_of((int)getpid(), 0) : 0;
            if (write(pp[1], &hk, sizeof hk) != (ssize_t)sizeof hk) _exit(1);
            pause();
            _exit(0);
        }
        close(pp[1]);
        int hk = 0;
        if (read(pp[0], &hk, sizeof hk) != (ssize_t)sizeof hk) hk = 0;
        close(pp[0]);
        kill(kid, SIGKILL);
        waitpid(kid, NULL, 0);
        int gone = 0;
        for (int i = 0; hk > 0 && i < 500 && !gone; i++) {
            char st[128] = "";
            snprintf(p, sizeof p, "/proc/%d/stat", hk);
            f = fopen(p, "r");
            if (f) {
                if (!fgets(st, sizeof st, f)) st[0] = 0;
                fclose(f);
            }
            gone = !f || strstr(st, ") Z ") != NULL || strstr(st, "rlvr-sandbox") == NULL;
            if (!gone) usleep(10000);
        }
        ok(hk > 0 && gone, "when the caller is killed, its slot's helper exits (pid %d)", hk);
    }

    /* a missing helper program: refused, with the path */
    setenv("RLVR_SANDBOX_HELPER", "/nonexistent/rlvr-sandbox", 1);
    rlvr_sbx *s3 = rlvr_sbx_open(1, 0, err, sizeof err);
    unsetenv("RLVR_SANDBOX_HELPER");
    ok(!s3 && strstr(err, "/nonexistent/rlvr-sandbox") && strstr(err, "not run"),
       "a missing helper program is refused, naming it (%s)", err);
    rlvr_sbx_close(s3);
}

static void test_next_run(void)
{
    char err[1024];
    rlvr_sbx *s = rlvr_sbx_open(1, 0, err, sizeof err);
    if (!s) {
        ok(1, "# SKIP sandbox: %s", err);
        return;
    }
    const char *leave[] = {"/usr/bin/python3", "-c",
                           "import os, time\n"
                           "for f in ('/work/left_work', '/tmp/left_tmp', '/dev/shm/left_shm'):\n"
                           "    open(f, 'w').write('x')\n"
                           "n = 0\n"
                           "while n < 20:\n"
                           "    try:\n"
                           "        pid = os.fork()\n"
                           "    except OSError:\n"
                           "        break\n"
                           "    if pid == 0:\n"
                           "        os.setsid()\n"
                           "        time.sleep(30)\n"
                           "        os._exit(0)\n"
                           "    n += 1\n"
                           "print('left', flush=True)\n",
                           NULL};
    const char *look[] = {"/bin/sh", "-c",
                          "for f in /work/left_work /tmp/left_tmp /dev/shm/left_shm; do [ -e $f ] && echo LEFT $f; done; "
                          "for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = python3 ] && echo LEFT $p; done; "
                          "echo checked",
                          NULL};
    for (int round = 0; round < 3; round++) {
        rlvr_sbx_job j = {.argv = leave, .time_ms = 2000, .memory_mb = 256, .stdout_max = 4096, .stderr_max = 4096,
                          .pids_max = 8, .tmpfs_mb = 4, .allow_exec = 1};
        rlvr_sbx_result a, b;
        int slot = rlvr_sbx_acquire(s);
        int rc1 = rlvr_sbx_run(s, slot, &j, &a, err, sizeof err);
        j.argv = look;
        j.pids_max = 64;
        int rc2 = rc1 ? -1 : rlvr_sbx_run(s, slot, &j, &b, err, sizeof err);
        rlvr_sbx_release(s, slot);
        ok(rc1 == 0 && a.outcome == RLVR_SBX_EXITED && strcmp(a.out, "left\n") == 0,
           "round %d: a run leaves files and sleeping processes (%s)", round, rc1 ? err : a.out);
        if (rlvr_sbx_has_cgroup_pids(s))
            ok(rc1 == 0 && a.pids_limit_hit, "round %d: it hits the pids limit", round);
        ok(rc2 == 0 && b.outcome == RLVR_SBX_EXITED && strcmp(b.out, "checked\n") == 0,
           "round %d: the next run in the slot sees none of them (%s)", round, rc2 ? err : b.out);
        ok(rc2 == 0 && !b.pids_limit_hit && !b.memory_limit_hit,
           "round %d: and starts with fresh limit counters", round);
        if (rc1 == 0) rlvr_sbx_result_free(&a);
        if (rc2 == 0) rlvr_sbx_result_free(&b);
    }
    rlvr_sbx_close(s);
}

int main(void)
{
    /* the code tests check the host for sandbox processes: one at a time
     * (code_lib.py takes the same lock) */
    int lock = open("code-sandbox.lock", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (lock >= 0) flock(lock, LOCK_EX);
    test_checkers();
    test_json();
    test_extract();
    test_parse();
    test_sandbox();
    test_next_run();
    test_helpers();
    test_warm();
    return done_testing();
}
