/*
 * exec_cmd.c -- `rlvr exec --lang LANG [--stdin FILE] [--time-limit MS]
 * [--memory-limit MB] FILE`: one program in the code sandbox, one JSON
 * object on stdout.
 *
 * The object: verdict (ok, runtime_error, time_limit, memory_limit,
 * output_limit, sandbox_violation, compile_error), exit_code, signal,
 * stdout, stderr (capped; compiler diagnostics for compile_error), cpu_ms,
 * wall_ms, memory_kb. Bytes that are not UTF-8 are written as U+FFFD so
 * the line is always valid JSON. Exit status: 0 the program ran and exited
 * with 0, 1 any other verdict, 2 usage error or no sandbox on this machine
 * (nothing is ever run outside the sandbox). `rlvr exec --describe` prints
 * the sandbox's mechanisms, or why there is none. As root the sandbox is
 * set up directly; as another user each run gets an unprivileged user
 * namespace; limits that only rlimits enforce (no cgroup controller, or
 * none delegated to this user) are named once on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "code_runner.h"
#include "commands.h"
#include "util.h"

static void usage(FILE *f)
{
    fputs("usage: rlvr exec --lang LANG [--stdin FILE] [--time-limit MS] [--memory-limit MB] FILE\n"
          "       rlvr exec --describe\n"
          "Runs FILE (python, c or cpp; C and C++ are compiled first) in the code sandbox and\n"
          "prints one JSON object: verdict, exit_code, signal, stdout, stderr, cpu_ms, wall_ms,\n"
          "memory_kb. FILE and --stdin may be '-' (stdin).\n"
          "  --lang LANG          python, c or cpp (also py, c++)\n"
          "  --stdin FILE         the program's standard input (default: empty)\n"
          "  --time-limit MS      CPU time limit (default 2000; wall clock: the same + 1 s)\n"
          "  --memory-limit MB    memory limit (default 256)\n"
          "  --output-limit BYTES stdout cap (default 1048576)\n"
          "  --python PATH, --gcc PATH, --gxx PATH   absolute interpreter and compiler paths\n"
          "  --python-cold        start a fresh Python interpreter for the run, not a fork of the\n"
          "                       sandbox slot's warm one (the code plugin's python_warm = false)\n"
          "  --describe           print the sandbox's mechanisms and exit\n"
          "Exit status: 0 ran and exited 0, 1 any other verdict, 2 usage error or no sandbox.\n",
          f);
}

/* Valid UTF-8 copy of s (invalid bytes become U+FFFD). */
static char *utf8_clean(const char *s, size_t n, size_t *out_len)
{
    char *d = malloc(n * 3 + 1), *q = d;
    if (!d) return NULL;
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p;
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = k > 0 && (size_t)(e - p) >= k;
        for (size_t i = 1; ok && i < k; i++) ok = (p[i] & 0xc0) == 0x80;
        if (ok && k == 2) ok = c >= 0xc2;
        if (ok && k == 3) {
            unsigned v = ((c & 15u) << 12) | ((p[1] & 63u) << 6) | (p[2] & 63u);
            ok = v >= 0x800 && (v < 0xd800 || v > 0xdfff);
        }
        if (ok && k == 4) {
            unsigned v = ((c & 7u) << 18) | ((p[1] & 63u) << 12) | ((p[2] & 63u) << 6) | (p[3] & 63u);
            ok = v >= 0x10000 && v <= 0x10ffff;
        }
        if (ok) {
            memcpy(q, p, k);
            q += k;
            p += k;
        } else {
            memcpy(q, "\xef\xbf\xbd", 3);
            q += 3;
            p++;
        }
    }
    *q = 0;
    *out_len = (size_t)(q - d);
    return d;
}

static void add_text(json_object *o, const char *key, const char *s, size_t n)
{
    size_t m;
    char *c = utf8_clean(s ? s : "", s ? n : 0, &m);
    json_object_object_add(o, key, json_object_new_string_len(c ? c : "", c ? (int)m : 0));
    free(c);
}

static int parse_pos(const char *v, long long lo, long long hi, long long *out)
{
    char *e;
    errno = 0;
    long long x = strtoll(v, &e, 10);
    if (errno || *e || e == v || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

int rlvr_cmd_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"lang", required_argument, 0, 'l'},         {"stdin", required_argument, 0, 'i'},
        {"time-limit", required_argument, 0, 't'},   {"memory-limit", required_argument, 0, 'm'},
        {"output-limit", required_argument, 0, 'o'}, {"python", required_argument, 0, 'p'},
        {"gcc", required_argument, 0, 'g'},          {"gxx", required_argument, 0, 'x'},
        {"describe", no_argument, 0, 'd'},           {"help", no_argument, 0, 'h'},
        {"python-cold", no_argument, 0, 'C'},        {0, 0, 0, 0}};
    rlvr_code_config cfg;
    rlvr_code_config_defaults(&cfg);
    const char *lang_s = NULL, *stdin_path = NULL;
    int describe = 0, c;
    long long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': lang_s = optarg; break;
        case 'i': stdin_path = optarg; break;
        case 't':
            if (parse_pos(optarg, 1, 600000, &v)) { fputs("rlvr exec: --time-limit wants 1..600000 ms\n", stderr); return 2; }
            cfg.time_limit_ms = v;
            break;
        case 'm':
            if (parse_pos(optarg, 8, 65536, &v)) { fputs("rlvr exec: --memory-limit wants 8..65536 MB\n", stderr); return 2; }
            cfg.memory_mb = v;
            break;
        case 'o':
            if (parse_pos(optarg, 1, 1 << 30, &v)) { fputs("rlvr exec: --output-limit wants 1..1073741824\n", stderr); return 2; }
            cfg.output_limit_bytes = v;
            break;
        case 'p': cfg.python = optarg; break;
        case 'g': cfg.gcc = optarg; break;
        case 'x': cfg.gxx = optarg; break;
        case 'C': cfg.python_warm = 0; break;
        case 'd': describe = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!describe && (optind != argc - 1 || !lang_s)) {
        usage(stderr);
        return 2;
    }
    int lang = lang_s ? rlvr_code_lang_find(lang_s, strlen(lang_s)) : RLVR_CODE_PYTHON;
    if (lang < 0) {
        fprintf(stderr, "rlvr exec: unknown language '%s' (python, c, cpp)\n", lang_s);
        return 2;
    }
    size_t src_len = 0, in_len = 0;
    char *src = NULL, *in = NULL;
    if (!describe) {
        src = rlvr_read_file(argv[optind], &src_len);
        if (!src) {
            fprintf(stderr, "rlvr exec: cannot read %s: %s\n", argv[optind], strerror(errno));
            return 2;
        }
        if (stdin_path && !(in = rlvr_read_file(stdin_path, &in_len))) {
            fprintf(stderr, "rlvr exec: cannot read %s: %s\n", stdin_path, strerror(errno));
            free(src);
            return 2;
        }
    }
    char err[1024];
    rlvr_code_runner *r = rlvr_code_runner_open(&cfg, err, sizeof err);
    if (!r) {
        fprintf(stderr, "rlvr exec: %s\n", err);
        free(src);
        free(in);
        return 2;
    }
    /* limits that no cgroup enforces here are said once, on stderr */
    const char *note = rlvr_sbx_limits_note(rlvr_code_runner_sandbox(r));
    if (note) fprintf(stderr, "rlvr exec: note: %s\n", note);
    if (describe) {
        printf("%s\n", rlvr_sbx_describe(rlvr_code_runner_sandbox(r)));
        rlvr_code_runner_close(r);
        return 0;
    }
    json_object *o = json_object_new_object();
    rlvr_code_prog *p = NULL;
    char diag[1600];
    int rc = rlvr_code_prepare(r, lang, src, src_len, &p, diag, sizeof diag, err, sizeof err);
    int status = 1;
    if (rc < 0) {
        fprintf(stderr, "rlvr exec: %s\n", err);
        status = 2;
    } else if (rc == 1) {
        json_object_object_add(o, "verdict", json_object_new_string("compile_error"));
        json_object_object_add(o, "exit_code", json_object_new_int(0));
        json_object_object_add(o, "signal", json_object_new_int(0));
        add_text(o, "stdout", "", 0);
        add_text(o, "stderr", diag, strlen(diag));
        json_object_object_add(o, "cpu_ms", json_object_new_int(0));
        json_object_object_add(o, "wall_ms", json_object_new_int(0));
        json_object_object_add(o, "memory_kb", json_object_new_int(0));
    } else {
        rlvr_sbx_result res;
        if (rlvr_code_exec(r, p, in, in_len, 0, 0, &res, err, sizeof err)) {
            fprintf(stderr, "rlvr exec: %s\n", err);
            status = 2;
        } else {
            rlvr_code_verdict vd = rlvr_code_run_verdict(&res);
            json_object_object_add(o, "verdict", json_object_new_string(rlvr_code_verdict_name(vd)));
            json_object_object_add(o, "exit_code", json_object_new_int(res.exit_code));
            json_object_object_add(o, "signal", json_object_new_int(res.signal));
            add_text(o, "stdout", res.out, res.out_len);
            add_text(o, "stderr", res.err, res.err_len);
            json_object_object_add(o, "cpu_ms", json_object_new_int64(res.cpu_ms));
            json_object_object_add(o, "wall_ms", json_object_new_int64(res.wall_ms));
            json_object_object_add(o, "memory_kb", json_object_new_int64(res.memory_kb));
            status = vd == RLVR_CODE_OK ? 0 : 1;
            rlvr_sbx_result_free(&res);
        }
        rlvr_code_prog_free(p);
    }
    if (status != 2) printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    rlvr_code_runner_close(r);
    free(src);
    free(in);
    return status;
}
