/*
 * eval_cmd.c -- `rlvr eval [CONFIG.lua] [--KEY=VALUE ...]`: how well a policy
 * solves a set of problems, under any reward mix.
 *
 * Samples num_samples completions per problem (or reads completions made
 * elsewhere, e.g. by vLLM, from a JSONL of samples), scores them with the
 * mix and reports pass@1 averaged over the samples, pass@k for each k asked
 * (unbiased estimator), maj@k by the math verifier's equivalence, the mean
 * reward, each component's mean and abstain rate (the format rate is the
 * format component's mean), and the completions' mean length. The results
 * go to standard output as a table and, with `output`, as one JSON object;
 * `samples_out` keeps every scored completion. See evaluate.h for the
 * definitions.
 *
 * device = "cuda" (or "auto" with a GPU) generates on the GPU as rlvr
 * sample does (generate_gpu.h: fp32, TF32 off, sampled on the host with the
 * same streams); the JSON results' "device" says where generation ran.
 * Reading completions generates nothing: "cuda" is refused there.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "device.h"
#include "generate_gpu.h"
#include "evaluate.h"
#include "policy.h"
#include "rollout.h"
#include "runconfig.h"
#include "util.h"

struct eval_config {
    char *model, *tokenizer, *data, *completions, *mix, *output, *samples_out;
    char *prompt_template, *chat_template, *system_prompt, *accuracy_component, *device;
    json_object *pass_k;
    long num_samples, max_completion_length, top_k, seed, max_problems, generation_chunk, score_threads;
    double temperature, top_p, min_p, correct_threshold;
    int maj;
};

enum { N_KEYS = 25 };
static void keys_of(struct eval_config *c, struct rlvr_key *k)
{
    const struct rlvr_key all[] = {
        {"model", RLVR_KEY_PATH, &c->model, "checkpoint folder of the policy"},
        {"tokenizer", RLVR_KEY_PATH, &c->tokenizer, "tokenizer.json or \"bytes\" (default: the model's)"},
        {"data", RLVR_KEY_PATH, &c->data, "JSONL problems: \"prompt\", \"answer\" and what the mix reads"},
        {"completions", RLVR_KEY_PATH, &c->completions,
         "instead of model and data: JSONL samples made elsewhere, grouped by \"group\" (else \"prompt\")"},
        {"mix", RLVR_KEY_PATH, &c->mix, "the reward mix (a Lua file) (required)"},
        {"output", RLVR_KEY_STR, &c->output, "write the results as one JSON object here"},
        {"samples_out", RLVR_KEY_STR, &c->samples_out, "write every scored completion here (JSONL)"},
        {"num_samples", RLVR_KEY_INT, &c->num_samples, "k: completions per problem (1)"},
        {"pass_k", RLVR_KEY_JSON, &c->pass_k, "list of k for pass@k (default {1, num_samples})"},
        {"maj", RLVR_KEY_BOOL, &c->maj, "majority vote maj@k by the math verifier (default: num_samples > 1)"},
        {"accuracy_component", RLVR_KEY_STR, &c->accuracy_component,
         "the component that decides correctness (\"accuracy\")"},
        {"correct_threshold", RLVR_KEY_NUM, &c->correct_threshold, "correct when that component is at least this (1)"},
        {"temperature", RLVR_KEY_NUM, &c->temperature, "sampling temperature (0.6, R1's evaluation; 0 greedy)"},
        {"top_p", RLVR_KEY_NUM, &c->top_p, "(0.95, R1's evaluation)"},
        {"top_k", RLVR_KEY_INT, &c->top_k, "(0: off)"},
        {"min_p", RLVR_KEY_NUM, &c->min_p, "(0: off)"},
        {"max_completion_length", RLVR_KEY_INT, &c->max_completion_length, "tokens per completion (256)"},
        {"prompt_template", RLVR_KEY_STR, &c->prompt_template, "\"plain\", \"r1_zero\", or text with {prompt}"},
        {"chat_template", RLVR_KEY_STR, &c->chat_template, "\"none\" or \"chatml\" (none)"},
        {"system_prompt", RLVR_KEY_STR, &c->system_prompt, "\"r1\" or text (chatml only)"},
        {"seed", RLVR_KEY_INT, &c->seed, "sampling seed (0)"},
        {"max_problems", RLVR_KEY_INT, &c->max_problems, "use the first N problems (0: all)"},
        {"generation_chunk", RLVR_KEY_INT, &c->generation_chunk, "prompts sampled together (8)"},
        {"score_threads", RLVR_KEY_INT, &c->score_threads, "threads for reward plugins (1)"},
        {"device", RLVR_KEY_STR, &c->device, RLVR_DEVICE_HELP},
        {NULL, 0, NULL, NULL}};
    _Static_assert(sizeof all / sizeof all[0] == N_KEYS + 1, "N_KEYS counts the keys");
    memcpy(k, all, sizeof all);
}

static void usage(FILE *f, struct rlvr_key *keys)
{
    fputs("usage: rlvr eval [CONFIG.lua] [--KEY=VALUE ...]\n"
          "Evaluates a policy (model + data) or completions made elsewhere with a reward mix.\n"
          "CONFIG.lua returns a table of these keys; --KEY=VALUE sets or overrides one:\n",
          f);
    rlvr_runconfig_print_keys(keys, f);
}

/* Reads completions made elsewhere: each line a sample (prompt, completion,
 * answer...), grouped by "group" (else "prompt") into problems of equal
 * size. The problems own the samples' fields. */
static int read_completions(const char *path, struct rlvr_problem_set *ps, struct rlvr_completion **out, int *k_out,
                            char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rlvr_errf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 0, n = 0, pcap = 0;
    struct rlvr_completion *c = NULL;
    char *line = NULL, *last_key = NULL;
    size_t line_cap = 0;
    long lineno = 0;
    int rc = 0, k = 0, in_group = 0;
    ssize_t got;
    memset(ps, 0, sizeof *ps);
    while (!rc && (got = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (!len)
            continue;
        line[len] = 0;
        json_object *o = json_tokener_parse(line), *key = NULL, *comp, *v;
        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "completion", &comp) ||
            !json_object_is_type(comp, json_type_string)) {
            rlvr_errf(err, err_len, "%s:%ld: not a sample with a string \"completion\"", path, lineno);
            json_object_put(o);
            rc = -1;
            break;
        }
        if (!json_object_object_get_ex(o, "group", &key))
            json_object_object_get_ex(o, "prompt", &key);
        const char *ks = key ? json_object_to_json_string(key) : "";
        if (!last_key || strcmp(last_key, ks)) {
            if (ps->n == pcap) {
                size_t nc = pcap ? 2 * pcap : 64;
                struct rlvr_problem *g = realloc(ps->v, nc * sizeof *g);
                if (!g) {
                    json_object_put(o);
                    rc = -1;
                    rlvr_errf(err, err_len, "out of memory");
                    break;
                }
                ps->v = g, pcap = nc;
            }
            struct rlvr_problem *pr = &ps->v[ps->n++];
            memset(pr, 0, sizeof *pr);
            pr->fields = json_object_get(o);
            pr->line = lineno;
            char num[32];
            snprintf(num, sizeof num, "%ld", lineno);
            pr->id = strdup(json_object_object_get_ex(o, "id", &v) ? json_object_get_string(v) : num);
            free(last_key);
            last_key = strdup(ks);
            in_group = 0;
        }
        in_group++;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 256;
            struct rlvr_completion *g = realloc(c, nc * sizeof *g);
            if (!g) {
                json_object_put(o);
                rc = -1;
                rlvr_errf(err, err_len, "out of memory");
                break;
            }
            c = g, cap = nc;
        }
        struct rlvr_completion *x = &c[n++];
        memset(x, 0, sizeof *x);
        x->sample = in_group - 1;
        x->group = (int)ps->n - 1;
        x->text = strdup(json_object_get_string(comp));
        x->text_len = (size_t)json_object_get_string_len(comp);
        x->line = strdup(line);
        x->line_len = len;
        x->reward = NAN;
        if (json_object_object_get_ex(o, "completion_tokens", &v))
            x->seq.n_tokens = json_object_get_int(v);
        if (json_object_object_get_ex(o, "finish_reason", &v) && !strcmp(json_object_get_string(v), "length"))
            x->seq.finish = RLVR_FINISH_LENGTH;
        else
            x->seq.finish = RLVR_FINISH_STOP_TOKEN;
        json_object_put(o);
        if (!x->text || !x->line) {
            rc = -1;
            rlvr_errf(err, err_len, "out of memory");
        }
    }
    /* every problem needs the same number of samples */
    for (size_t i = 0, start = 0; !rc && i <= n; i++) {
        if (i < n && c[i].group == c[start].group)
            continue;
        int size = (int)(i - start);
        if (!k)
            k = size;
        if (size != k) {
            rlvr_errf(err, err_len, "%s:%ld: a group of %d samples where the first group has %d (every problem needs "
                                    "the same number)",
                      path, ps->v[c[start].group].line, size, k);
            rc = -1;
        }
        start = i;
    }
    if (!rc && !n) {
        rlvr_errf(err, err_len, "%s has no samples", path);
        rc = -1;
    }
    free(line);
    free(last_key);
    fclose(f);
    /* problem pointers are fixed now that the array no longer moves */
    for (size_t i = 0; !rc && i < n; i++)
        c[i].problem = &ps->v[c[i].group];
    if (rc) {
        rlvr_completions_free(c, n);
        free(c);
        rlvr_problems_free(ps);
        return -1;
    }
    *out = c;
    *k_out = k;
    return 0;
}

static void write_results(FILE *f, const struct eval_config *c, const struct rlvr_eval_result *r, rlvr_scoring *sc,
                          const char *device)
{
    rlvr_buf b = {0};
    rlvr_buf_adds(&b, "{\"problems\":");
    rlvr_buf_printf(&b, "%zu,\"samples_per_problem\":%d,\"device\":\"%s\",\"temperature\":", r->n_problems, r->k,
                    device);
    rlvr_buf_json_number(&b, c->completions ? NAN : c->temperature);
    rlvr_buf_adds(&b, ",\"top_p\":");
    rlvr_buf_json_number(&b, c->completions ? NAN : c->top_p);
    rlvr_buf_adds(&b, ",\"pass@1\":");
    rlvr_buf_json_number(&b, r->pass1);
    for (size_t j = 0; j < r->n_ks; j++) {
        if (r->ks[j] == 1)
            continue; /* pass@1 is above */
        rlvr_buf_printf(&b, ",\"pass@%d\":", r->ks[j]);
        rlvr_buf_json_number(&b, r->pass_at[j]);
    }
    if (!isnan(r->maj)) {
        rlvr_buf_printf(&b, ",\"maj@%d\":", r->k);
        rlvr_buf_json_number(&b, r->maj);
        rlvr_buf_printf(&b, ",\"maj_no_gold\":%zu", r->maj_no_gold);
    }
    rlvr_buf_adds(&b, ",\"reward_mean\":");
    rlvr_buf_json_number(&b, r->reward_mean);
    rlvr_buf_printf(&b, ",\"samples\":%zu,\"reward_null\":%zu,\"failed\":%zu,\"mean_length\":", r->samples,
                    r->reward_null, r->failed);
    rlvr_buf_json_number(&b, r->mean_length);
    rlvr_buf_adds(&b, ",\"clipped_ratio\":");
    rlvr_buf_json_number(&b, r->truncated);
    rlvr_buf_adds(&b, ",\"components\":{");
    for (size_t j = 0; j < r->n_comp; j++) {
        const char *nm = rlvr_scoring_component_name(sc, j);
        if (j)
            rlvr_buf_addc(&b, ',');
        rlvr_buf_json_string(&b, nm, strlen(nm));
        rlvr_buf_adds(&b, ":{\"mean\":");
        rlvr_buf_json_number(&b, r->comp_mean[j]);
        rlvr_buf_adds(&b, ",\"abstain_rate\":");
        rlvr_buf_json_number(&b, r->comp_abstain[j]);
        rlvr_buf_adds(&b, ",\"error_rate\":");
        rlvr_buf_json_number(&b, r->comp_error[j]);
        rlvr_buf_addc(&b, '}');
    }
    rlvr_buf_adds(&b, "},\"seconds\":");
    rlvr_buf_json_number(&b, r->seconds);
    rlvr_buf_adds(&b, "}\n");
    if (!b.oom)
        fwrite(b.ptr, 1, b.len, f);
    rlvr_buf_free(&b);
}

static void print_table(FILE *f, const struct rlvr_eval_result *r, rlvr_scoring *sc)
{
    fprintf(f, "%-24s %10s\n", "metric", "value");
    fprintf(f, "%-24s %10zu\n", "problems", r->n_problems);
    fprintf(f, "%-24s %10d\n", "samples per problem", r->k);
    fprintf(f, "%-24s %10.4f\n", "pass@1", r->pass1);
    for (size_t j = 0; j < r->n_ks; j++) {
        if (r->ks[j] == 1)
            continue;
        char name[32];
        snprintf(name, sizeof name, "pass@%d", r->ks[j]);
        fprintf(f, "%-24s %10.4f\n", name, r->pass_at[j]);
    }
    if (!isnan(r->maj)) {
        char name[32];
        snprintf(name, sizeof name, "maj@%d", r->k);
        fprintf(f, "%-24s %10.4f\n", name, r->maj);
    }
    fprintf(f, "%-24s %10.4f\n", "reward (mean)", r->reward_mean);
    for (size_t j = 0; j < r->n_comp; j++) {
        char name[64];
        snprintf(name, sizeof name, "%.40s (mean)", rlvr_scoring_component_name(sc, j));
        fprintf(f, "%-24s %10.4f", name, r->comp_mean[j]);
        if (r->comp_abstain[j] > 0 || r->comp_error[j] > 0)
            fprintf(f, "   abstain %.4f  error %.4f", r->comp_abstain[j], r->comp_error[j]);
        fputc('\n', f);
    }
    fprintf(f, "%-24s %10.1f\n", "length (tokens, mean)", r->mean_length);
    fprintf(f, "%-24s %10.4f\n", "clipped at max length", r->truncated);
}

int rlvr_cmd_eval(int argc, char **argv)
{
    struct eval_config c;
    memset(&c, 0, sizeof c);
    c.num_samples = 1, c.max_completion_length = 256, c.temperature = 0.6, c.top_p = 0.95, c.generation_chunk = 8;
    c.score_threads = 1, c.correct_threshold = 1.0, c.maj = -1;
    struct rlvr_key keys[N_KEYS + 1];
    keys_of(&c, keys);
    struct rlvr_run_args args;
    int start = rlvr_run_args_start("rlvr eval", argc, argv, 0, 0, usage, keys, &args);
    if (start >= 0)
        return start;
    char err[1024];
    const char *path = args.path;
    json_object *cfg = NULL;
    int rc = 2;
    struct rlvr_policy p;
    memset(&p, 0, sizeof p);
    struct rlvr_gpu_model *gm = NULL;
    const char *device_name = "cpu";
    struct rlvr_problem_set ps = {0};
    struct rlvr_problem **set = NULL;
    struct rlvr_completion *comps = NULL;
    size_t n_comps = 0, n_problems = 0;
    rlvr_registry reg;
    int reg_ok = 0;
    rlvr_scoring *sc = NULL;
    int ks[RLVR_EVAL_MAX_KS];
    size_t n_ks = 0;
    if (rlvr_runconfig_load(path, args.over, args.n_over, &cfg, err, sizeof err)) {
        fprintf(stderr, "rlvr eval: %s\n", err);
        goto out;
    }
    const char *where = path ? path : "the command line";
    if (rlvr_runconfig_read(cfg, where, keys, err, sizeof err)) {
        fprintf(stderr, "rlvr eval: %s\n", err);
        goto out;
    }
    enum rlvr_device device;
    if (rlvr_device_resolve("rlvr eval", c.device,
                            c.completions ? "rlvr eval reads completions here (nothing is generated)" : NULL, &device,
                            err, sizeof err)) {
        fprintf(stderr, "rlvr eval: %s\n", err);
        goto out;
    }
    device_name = device == RLVR_DEVICE_CUDA ? "cuda" : "cpu";
    const char *tmpl = c.prompt_template ? rlvr_prompt_template_named(c.prompt_template) : "{prompt}";
    if (!tmpl)
        tmpl = c.prompt_template;
    const char *system = c.system_prompt ? rlvr_system_prompt_named(c.system_prompt) : NULL;
    if (c.system_prompt && !system)
        system = c.system_prompt;
    const char *problem = NULL;
    if (!c.mix)
        problem = "'mix' is required";
    else if (!c.completions && (!c.model || !c.data))
        problem = "give 'model' and 'data' (or 'completions')";
    else if (c.completions && (c.model || c.data))
        problem = "'completions' replaces 'model' and 'data': give one or the other";
    else if (c.chat_template && strcmp(c.chat_template, "none") && strcmp(c.chat_template, "chatml"))
        problem = "'chat_template' must be \"none\" or \"chatml\"";
    else if (!strstr(tmpl, "{prompt}"))
        problem = "'prompt_template' must be \"plain\", \"r1_zero\" or a text holding {prompt}";
    else if (c.num_samples < 1 || c.max_completion_length < 1 || c.generation_chunk < 1 || c.score_threads < 1 ||
             c.max_problems < 0)
        problem = "num_samples, max_completion_length, generation_chunk and score_threads must be positive";
    if (!problem && c.pass_k) {
        if (!json_object_is_type(c.pass_k, json_type_array) ||
            json_object_array_length(c.pass_k) > RLVR_EVAL_MAX_KS) {
            problem = "'pass_k' must be a list of at most 16 integers";
        } else {
            for (size_t i = 0; i < json_object_array_length(c.pass_k); i++) {
                json_object *v = json_object_array_get_idx(c.pass_k, i);
                if (!json_object_is_type(v, json_type_int) || json_object_get_int(v) < 1) {
                    problem = "'pass_k' must be a list of positive integers";
                    break;
                }
                ks[n_ks++] = json_object_get_int(v);
            }
        }
    }
    if (problem) {
        fprintf(stderr, "rlvr eval: %s: %s\n", where, problem);
        goto out;
    }
    if (rlvr_registry_init(&reg, err, sizeof err)) {
        fprintf(stderr, "rlvr eval: %s\n", err);
        goto out;
    }
    reg_ok = 1;
    rlvr_services_set_registry(&reg);
    if (!(sc = rlvr_scoring_new(c.mix, &reg, (int)c.score_threads, err, sizeof err))) {
        fprintf(stderr, "rlvr eval: %s\n", err);
        goto out;
    }
    const char *acc_name = c.accuracy_component ? c.accuracy_component : "accuracy";
    int acc = rlvr_scoring_component_index(sc, acc_name);
    if (acc < 0)
        fprintf(stderr, "rlvr eval: the mix has no component '%s': pass figures are left out (set "
                        "accuracy_component)\n",
                acc_name);
    int k = (int)c.num_samples;
    struct rlvr_eval_result r;
    double t0 = rlvr_now();
    if (c.completions) {
        if (read_completions(c.completions, &ps, &comps, &k, err, sizeof err)) {
            fprintf(stderr, "rlvr eval: %s\n", err);
            goto out;
        }
        n_problems = ps.n;
        n_comps = ps.n * (size_t)k;
        if (rlvr_scoring_submit(sc, comps, n_comps, err, sizeof err) || rlvr_scoring_wait(sc, NULL, err, sizeof err)) {
            fprintf(stderr, "rlvr eval: %s\n", err);
            rc = 1;
            goto out;
        }
    } else {
        if (rlvr_policy_load(&p, c.model, c.tokenizer, err, sizeof err)) {
            fprintf(stderr, "rlvr eval: %s\n", err);
            goto out;
        }
        if (device == RLVR_DEVICE_CUDA) {
            /* fp32 with TF32 off: the completions are the CPU's wherever
             * the logits round alike (generate_gpu.h) */
            char desc[256];
            rlvr_gpu_describe(desc, sizeof desc);
            if (!(gm = rlvr_generate_bind_gpu(&p.model, RLVR_GPU_FP32, err, sizeof err))) {
                fprintf(stderr, "rlvr eval: device = \"cuda\": %s\n", err);
                goto out;
            }
            fprintf(stderr, "rlvr eval: generating on the GPU (%s), fp32, %.1f MiB of device memory for the weights\n",
                    desc, (double)rlvr_gpu_model_bytes(gm) / 1048576.0);
        }
        struct rlvr_prompt_format fmt = {tmpl, c.chat_template && !strcmp(c.chat_template, "chatml"), system};
        if (rlvr_problems_load(c.data, &p, &fmt, 0, stderr, "rlvr eval", &ps, err, sizeof err)) {
            fprintf(stderr, "rlvr eval: %s\n", err);
            goto out;
        }
        size_t n = c.max_problems && (size_t)c.max_problems < ps.n ? (size_t)c.max_problems : ps.n;
        if (!n) {
            fprintf(stderr, "rlvr eval: %s has no usable problem\n", c.data);
            goto out;
        }
        struct rlvr_sampling s;
        rlvr_sampling_default(&s);
        int32_t stop_ids[RLVR_CKPT_MAX_EOS + 2];
        s.temperature = c.temperature, s.top_p = c.top_p, s.top_k = (int)c.top_k, s.min_p = c.min_p;
        s.max_tokens = (int)c.max_completion_length, s.seed = (uint64_t)c.seed;
        s.stop_token_ids = stop_ids;
        s.n_stop_token_ids = (size_t)rlvr_policy_stop_ids(&p, stop_ids, RLVR_CKPT_MAX_EOS + 2);
        if (rlvr_sampling_check(&s, err, sizeof err)) {
            fprintf(stderr, "rlvr eval: %s: %s\n", where, err);
            goto out;
        }
        if (!(set = malloc(n * sizeof *set)) || !(comps = calloc(n * (size_t)k, sizeof *comps))) {
            fprintf(stderr, "rlvr eval: out of memory\n");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            set[i] = &ps.v[i];
        n_problems = n;
        if (rlvr_rollout(&p, &s, set, n, k, 0, (int)c.generation_chunk, sc, comps, NULL, err, sizeof err)) {
            fprintf(stderr, "rlvr eval: %s\n", err);
            rc = 1;
            goto out;
        }
        n_comps = n * (size_t)k;
        if (rlvr_scoring_wait(sc, NULL, err, sizeof err)) {
            fprintf(stderr, "rlvr eval: %s\n", err);
            rc = 1;
            goto out;
        }
    }
    if (!n_ks) {
        ks[n_ks++] = 1;
        if (k > 1)
            ks[n_ks++] = k;
    }
    if (rlvr_eval_summarise(comps, n_problems, k, rlvr_scoring_components(sc), acc, c.correct_threshold, ks, n_ks,
                            c.maj < 0 ? k > 1 : c.maj,
                            &r, err, sizeof err)) {
        fprintf(stderr, "rlvr eval: %s\n", err);
        goto out;
    }
    r.seconds = rlvr_now() - t0;
    print_table(stdout, &r, sc);
    rc = 0;
    if (c.output) {
        FILE *f = fopen(c.output, "wb");
        if (f)
            write_results(f, &c, &r, sc, device_name);
        if (!f || fclose(f)) {
            fprintf(stderr, "rlvr eval: cannot write %s\n", c.output);
            rc = 1;
        }
    }
    if (c.samples_out) {
        FILE *f = fopen(c.samples_out, "wb");
        for (size_t i = 0; f && i < n_comps; i++)
            fprintf(f, "{\"sample\":%s,\"result\":%s}\n", comps[i].line, comps[i].result ? comps[i].result : "null");
        if (!f || fclose(f)) {
            fprintf(stderr, "rlvr eval: cannot write %s\n", c.samples_out);
            rc = 1;
        }
    }
    if (!rc && (r.failed || ps.skipped))
        rc = 1;
    rlvr_eval_result_free(&r);
out:
    if (gm)
        fprintf(stderr, "rlvr eval: device memory at its peak: %.1f MiB\n",
                (double)rlvr_gpu_model_peak_bytes(gm) / 1048576.0);
    rlvr_generate_unbind_gpu(&p.model, gm);
    rlvr_completions_free(comps, n_comps);
    free(comps);
    free(set);
    rlvr_scoring_free(sc);
    if (reg_ok)
        rlvr_registry_free(&reg);
    rlvr_problems_free(&ps);
    rlvr_policy_free(&p);
    json_object_put(cfg);
    free(c.model), free(c.tokenizer), free(c.data), free(c.completions), free(c.mix), free(c.output);
    free(c.samples_out), free(c.prompt_template), free(c.chat_template), free(c.system_prompt);
    free(c.accuracy_component), free(c.device);
    rlvr_run_args_free(&args);
    return rc;
}
