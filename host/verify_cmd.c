/*
 * verify_cmd.c -- `rlvr verify math --gold G --pred P [--KEY=VALUE ...]`:
 * one check by the math verifier, its verdict and why.
 *
 * The keys are the `math` plugin's configuration keys (the fields of
 * rlvr_math_options), given as --KEY=VALUE. Exit status: 0 equal, 1 not
 * equal (any score of 0: no answer, unparseable, hedge, over the bound...),
 * 2 usage error, 3 abstain (the gold answer cannot be judged). The verdict
 * goes to stdout, as text or, with --json, as one JSON object.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "math_verifier.h"
#include "commands.h"
#include "util.h"

static void usage(FILE *f)
{
    fputs("usage: rlvr verify math --gold TEXT --pred TEXT [--prompt TEXT] [--json] [--KEY=VALUE ...]\n"
          "       (--gold-file, --pred-file, --prompt-file read a file; '-' is stdin)\n"
          "Checks a prediction (a bare answer or a whole completion) against a gold answer\n"
          "with the math verifier and prints the verdict and why. KEY is any configuration\n"
          "key of the `math` plugin (see `rlvr plugins math`), e.g. --float_rounding=3,\n"
          "--extract=boxed,latex, --percent=fraction, --choices=ABCD.\n"
          "Exit status: 0 equal, 1 not equal (score 0), 2 usage error, 3 abstain.\n",
          f);
}

static int parse_bool(const char *v, int *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0) *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0) *out = 0;
    else return -1;
    return 0;
}

static int parse_long(const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

/* Set one option from "KEY=VALUE"; returns 0, or -1 with a message. */
static int set_option(rlvr_math_options *o, const char *kv, char *err, size_t err_len)
{
    const char *eq = strchr(kv, '=');
    if (!eq) {
        snprintf(err, err_len, "option --%s needs =VALUE", kv);
        return -1;
    }
    size_t kl = (size_t)(eq - kv);
    const char *v = eq + 1;
    char key[64];
    if (kl >= sizeof key) kl = sizeof key - 1;
    memcpy(key, kv, kl);
    key[kl] = 0;
    long long x;
    int b;
#define STR(field)                                                                  \
    if (strcmp(key, #field) == 0) {                                                 \
        if (strlen(v) >= sizeof o->field) {                                         \
            snprintf(err, err_len, "--%s: at most %zu bytes", key, sizeof o->field - 1); \
            return -1;                                                              \
        }                                                                           \
        snprintf(o->field, sizeof o->field, "%s", v);                               \
        return 0;                                                                   \
    }
#define BOOL(field)                                                         \
    if (strcmp(key, #field) == 0) {                                         \
        if (parse_bool(v, &b)) {                                            \
            snprintf(err, err_len, "--%s: expected true or false", key);    \
            return -1;                                                      \
        }                                                                   \
        o->field = b;                                                       \
        return 0;                                                           \
    }
#define INT(field, lo, hi)                                                          \
    if (strcmp(key, #field) == 0) {                                                 \
        if (parse_long(v, lo, hi, &x)) {                                            \
            snprintf(err, err_len, "--%s: expected an integer in [%lld, %lld]", key, \
                     (long long)(lo), (long long)(hi));                             \
            return -1;                                                              \
        }                                                                           \
        o->field = (__typeof__(o->field))x;                                         \
        return 0;                                                                   \
    }
    STR(extract)
    STR(think_delimiter)
    STR(choices)
    BOOL(require_think_end)
    BOOL(decimal_comma)
    BOOL(equation_rhs)
    BOOL(unordered_lists)
    BOOL(allow_set_relation_comp)
    BOOL(strict)
    BOOL(hedge)
    INT(float_rounding, -1, 30)
    INT(max_input_bytes, 1024, 1 << 30)
    INT(max_answer_bytes, 16, 1 << 20)
    INT(max_depth, 4, 10000)
    INT(max_nodes, 16, 1 << 20)
    INT(max_number_bits, 64, 1 << 22)
    INT(max_elements, 1, 1 << 16)
    INT(eval_points, 1, 256)
    INT(min_valid_points, 1, 256)
    INT(seed, 0, 9007199254740991LL)
#undef STR
#undef BOOL
#undef INT
    if (strcmp(key, "rel_tol") == 0) {
        char *end;
        double d = strtod(v, &end);
        if (*end || end == v || !(d >= 0 && d <= 0.5)) {
            snprintf(err, err_len, "--rel_tol: expected a number in [0, 0.5]");
            return -1;
        }
        o->rel_tol = d;
        return 0;
    }
    if (strcmp(key, "percent") == 0) {
        if (strcmp(v, "both") == 0) o->percent = RLVR_MATH_PERCENT_BOTH;
        else if (strcmp(v, "fraction") == 0) o->percent = RLVR_MATH_PERCENT_FRACTION;
        else if (strcmp(v, "strip") == 0) o->percent = RLVR_MATH_PERCENT_STRIP;
        else {
            snprintf(err, err_len, "--percent: one of both, fraction, strip");
            return -1;
        }
        return 0;
    }
    snprintf(err, err_len, "unknown option --%s (see rlvr plugins math)", key);
    return -1;
}

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p == '\n') fputs("\\n", stdout);
        else if (*p == '\t') fputs("\\t", stdout);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

int rlvr_cmd_verify(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "math") != 0) {
        fprintf(stderr, "rlvr verify: unknown verifier '%s' (this version has: math)\n", argv[1]);
        return 2;
    }
    rlvr_math_options o;
    rlvr_math_options_init(&o);
    char *gold = NULL, *pred = NULL, *prompt = NULL;
    size_t gold_n = 0, pred_n = 0, prompt_n = 0;
    int json = 0, rc = 2;
    char err[256];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        char **dst = NULL;
        size_t *dn = NULL;
        int file = 0;
        if (strcmp(a, "--gold") == 0 || strcmp(a, "--gold-file") == 0) dst = &gold, dn = &gold_n, file = a[6] == '-';
        else if (strcmp(a, "--pred") == 0 || strcmp(a, "--pred-file") == 0) dst = &pred, dn = &pred_n, file = a[6] == '-';
        else if (strcmp(a, "--prompt") == 0 || strcmp(a, "--prompt-file") == 0) dst = &prompt, dn = &prompt_n, file = a[8] == '-';
        if (dst) {
            if (i + 1 >= argc) {
                fprintf(stderr, "rlvr verify: %s needs a value\n", a);
                goto done;
            }
            free(*dst);
            if (file) {
                *dst = rlvr_read_file(argv[++i], dn);
                if (!*dst) {
                    fprintf(stderr, "rlvr verify: cannot read %s: %s\n", argv[i], strerror(errno));
                    goto done;
                }
            } else {
                *dn = strlen(argv[++i]);
                *dst = malloc(*dn + 1);
                if (!*dst) goto done;
                memcpy(*dst, argv[i], *dn + 1);
            }
            continue;
        }
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (strncmp(a, "--", 2) == 0 && set_option(&o, a + 2, err, sizeof err) == 0) continue;
        if (strncmp(a, "--", 2) == 0) fprintf(stderr, "rlvr verify: %s\n", err);
        else fprintf(stderr, "rlvr verify: unexpected argument '%s'\n", a);
        goto done;
    }
    if (!gold || !pred) {
        fprintf(stderr, "rlvr verify: --gold and --pred are required\n");
        usage(stderr);
        goto done;
    }
    if (rlvr_math_options_check(&o, err, sizeof err)) {
        fprintf(stderr, "rlvr verify: %s\n", err);
        goto done;
    }
    rlvr_math_verdict v;
    if (rlvr_math_verify_prompt(gold, gold_n, pred, pred_n, prompt, prompt_n, &o, &v)) {
        fprintf(stderr, "rlvr verify: %s\n", v.message);
        rc = 1;
        goto done;
    }
    if (json) {
        printf("{\"status\": ");
        json_str(v.reason);
        if (v.abstain) printf(", \"score\": null");
        else printf(", \"score\": %g", v.score);
        printf(", \"rule\": ");
        json_str(v.rule);
        printf(", \"pred_source\": ");
        json_str(v.pred_source);
        printf(", \"pred_extracted\": ");
        json_str(v.pred_extracted);
        printf(", \"pred_normalised\": ");
        json_str(v.pred_normalised);
        printf(", \"gold_source\": ");
        json_str(v.gold_source);
        printf(", \"gold_extracted\": ");
        json_str(v.gold_extracted);
        printf(", \"gold_normalised\": ");
        json_str(v.gold_normalised);
        printf(", \"message\": ");
        json_str(v.message);
        printf("}\n");
    } else {
        printf("verdict: %s (%s)\n", v.reason, v.abstain ? "abstain" : v.score > 0 ? "score 1" : "score 0");
        if (v.rule[0]) printf("rule:    %s\n", v.rule);
        printf("gold:    %s", v.gold_extracted);
        if (v.gold_source[0]) printf("   [%s] -> %s", v.gold_source, v.gold_normalised);
        printf("\npred:    %s", v.pred_extracted);
        if (v.pred_source[0]) printf("   [%s] -> %s", v.pred_source, v.pred_normalised);
        printf("\nwhy:     %s\n", v.message);
    }
    rc = v.abstain ? 3 : v.status == RLVR_MATH_EQUAL ? 0 : 1;
done:
    free(gold);
    free(pred);
    free(prompt);
    return rc;
}
