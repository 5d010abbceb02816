/*
 * code_runner.h -- running a program against tests in the code sandbox:
 * the languages table, compilation with a cache keyed by the source, the
 * three test modes (stdin/stdout, function, assertion), the checkers, and
 * the adapters that read public datasets' test fields as they are.
 *
 * Invariants: expected outputs and checkers never enter the program's
 * sandbox (outputs are compared here, a custom checker runs in a sandbox of
 * its own); a malformed test specification is reported as such (the
 * dataset's fault) and never as the program's failure; a sandbox that
 * cannot run is reported as -1, never as a verdict. The library never
 * prints or exits.
 */
#ifndef RLVR_CODE_RUNNER_H
#define RLVR_CODE_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "code_sandbox.h"

typedef enum rlvr_code_verdict {
    RLVR_CODE_OK = 0,
    RLVR_CODE_WRONG_ANSWER,
    RLVR_CODE_TIME_LIMIT,
    RLVR_CODE_MEMORY_LIMIT,
    RLVR_CODE_OUTPUT_LIMIT,
    RLVR_CODE_RUNTIME_ERROR,
    RLVR_CODE_COMPILE_ERROR,
    RLVR_CODE_SANDBOX_VIOLATION,
    RLVR_CODE_NOT_RUN          /* after a failure, with stop_on_first_failure */
} rlvr_code_verdict;

const char *rlvr_code_verdict_name(rlvr_code_verdict v);

/* Languages: an index into the table, or -1. */
enum { RLVR_CODE_PYTHON = 0, RLVR_CODE_C = 1, RLVR_CODE_CPP = 2, RLVR_CODE_N_LANGS = 3 };
int rlvr_code_lang_find(const char *tag, size_t len); /* "python", "py", "c", "cpp", "c++", ... */
const char *rlvr_code_lang_name(int lang);

typedef struct rlvr_code_config {
    const char *python, *gcc, *gxx;      /* absolute paths */
    const char *c_flags, *cpp_flags;     /* space-separated compiler flags */
    int64_t time_limit_ms, memory_mb;    /* per test, unless the tests say otherwise */
    int64_t compile_time_limit_ms, compile_memory_mb;
    int64_t output_limit_bytes, pids_max, tmpfs_mb;
    int64_t compile_cache;               /* entries kept (0: no cache) */
    int max_parallel;                    /* sandbox slots */
    int python_site;                     /* 1 (default): site runs (dist-packages, .pth files); 0: python -S */
    int python_warm;                     /* 1 (default): Python runs are forks of a warm interpreter per
                                            slot (rlvr_sbx_job.warm_argi); 0: a fresh interpreter each */
} rlvr_code_config;

/* The defaults: /usr/bin/python3, /usr/bin/gcc, /usr/bin/g++, -O2, 2 s, 256 MiB... */
void rlvr_code_config_defaults(rlvr_code_config *c);

typedef struct rlvr_code_runner rlvr_code_runner;
rlvr_code_runner *rlvr_code_runner_open(const rlvr_code_config *cfg, char *err, size_t err_len);
void rlvr_code_runner_close(rlvr_code_runner *r);
rlvr_sbx *rlvr_code_runner_sandbox(rlvr_code_runner *r);
/* Compile-cache statistics. */
void rlvr_code_runner_cache_stats(rlvr_code_runner *r, uint64_t *hits, uint64_t *misses);

/* ---- one program ---- */

/* A program ready to run: its source (Python) or binary (C, C++). */
typedef struct rlvr_code_prog rlvr_code_prog;

/* Prepare src in lang: compiles C and C++ (through the cache). Returns 0
 * with *out set; 1 for a compile error (diagnostics in diag, *out NULL);
 * -1 when the sandbox failed (message in err). */
int rlvr_code_prepare(rlvr_code_runner *r, int lang, const char *src, size_t len, rlvr_code_prog **out,
                      char *diag, size_t diag_len, char *err, size_t err_len);
void rlvr_code_prog_free(rlvr_code_prog *p);

/* Run a prepared program once with stdin (limits: 0 = the runner's). */
int rlvr_code_exec(rlvr_code_runner *r, const rlvr_code_prog *p, const char *in, size_t in_len, int64_t time_ms,
                   int64_t memory_mb, rlvr_sbx_result *res, char *err, size_t err_len);

/* The verdict of a finished run, before any output check. */
rlvr_code_verdict rlvr_code_run_verdict(const rlvr_sbx_result *res);

/* ---- tests ---- */

typedef enum { RLVR_CODE_STDIO = 0, RLVR_CODE_FUNCTION, RLVR_CODE_ASSERT } rlvr_code_mode;
typedef enum { RLVR_CHECK_EXACT = 0, RLVR_CHECK_LINES, RLVR_CHECK_TOKENS, RLVR_CHECK_FLOAT, RLVR_CHECK_CUSTOM } rlvr_code_check;

typedef struct rlvr_code_case {
    char *in;  size_t in_len;     /* stdin, or the JSON arguments (function mode) */
    char *out; size_t out_len;    /* expected stdout, or the JSON value */
    int unwrap;                   /* APPS: the value may also equal out[0] */
} rlvr_code_case;

typedef struct rlvr_code_tests {
    rlvr_code_mode mode;
    int lang;                     /* -1: not given */
    rlvr_code_check check;
    double tolerance;             /* float checker */
    char *checker_src;            /* custom: Python source defining check(input, output, expected) */
    char *entry_point;
    char *assert_src;
    int64_t time_limit_ms, memory_mb; /* 0: not given */
    rlvr_code_case *cases;
    size_t n_cases;
} rlvr_code_tests;

/* Parse a `tests` object (JSON text). 0, or -1 with why naming the field. */
int rlvr_code_tests_parse(const char *json, size_t len, rlvr_code_tests *t, char *why, size_t why_len);
/* APPS / CodeContests `input_output` (a JSON string or object: inputs, outputs, optional fn_name). */
int rlvr_code_tests_from_apps(const char *json, size_t len, rlvr_code_tests *t, char *why, size_t why_len);
/* open-r1 `verification_info` ({"language", "test_cases": [{"input", "output", "type"}]}). */
int rlvr_code_tests_from_openr1(const char *json, size_t len, rlvr_code_tests *t, char *why, size_t why_len);
/* HumanEval `test` and `entry_point` (both JSON strings). */
int rlvr_code_tests_from_humaneval(const char *test_json, size_t test_len, const char *entry_json, size_t entry_len,
                                   rlvr_code_tests *t, char *why, size_t why_len);
void rlvr_code_tests_free(rlvr_code_tests *t);

/* Compare output with expected under a checker (stdio mode); 1 equal. */
int rlvr_code_check_output(rlvr_code_check check, double tol, const char *got, size_t got_len, const char *want,
                           size_t want_len);
/* Compare two JSON values type-strictly (function mode); numbers of either
 * type compare with tolerance when float_tol >= 0. 1 equal. */
int rlvr_code_json_equal(const char *a, size_t a_len, const char *b, size_t b_len, double float_tol);

typedef struct rlvr_code_report {
    size_t total, passed, run;
    rlvr_code_verdict *verdicts;  /* total entries */
    long first_failure;           /* -1: none */
    rlvr_code_verdict first_verdict;
    char message[512];            /* about the first failure: diagnostics, exception, signal */
    int64_t cpu_ms, wall_ms, max_memory_kb;
} rlvr_code_report;

/* Judge src (lang) against t. 0: judged (rep filled; free with
 * rlvr_code_report_free); -1: the sandbox failed (err). */
int rlvr_code_judge(rlvr_code_runner *r, const rlvr_code_tests *t, int lang, const char *src, size_t len,
                    int stop_on_first_failure, rlvr_code_report *rep, char *err, size_t err_len);
void rlvr_code_report_free(rlvr_code_report *rep);

/* The program in a completion: the last fenced block tagged with lang (or
 * untagged when want_lang < 0: the block's tag picks the language), else
 * the last untagged block, else (whole_text) the text after the last
 * </think>. *lang_out: the language of the tag found, or -1. Returns 0, or
 * -1 when there is no code. */
int rlvr_code_extract(const char *text, size_t len, int want_lang, int whole_text, const char **code, size_t *code_len,
                      int *lang_out);

#endif
