/*
 * generate_cmd.c -- `rlvr generate`: completions from a policy, written as
 * rlvr samples (JSONL), so that `rlvr generate ... | rlvr score --mix ...`
 * scores what a checkpoint writes.
 *
 * Input: --prompt TEXT (repeatable), or --in FILE.jsonl with one object per
 * line whose "prompt" is a string or a list of chat messages ({role,
 * content}); every other field (answer, tests, language, id...) is carried
 * into each of the prompt's samples. --chat wraps a string prompt as one
 * user turn in ChatML (with --system before it); message lists always use
 * ChatML. Output, per sample: the input's fields, then "completion",
 * "completion_tokens", "finish_reason" ("stop" or "length"), "group" (the
 * prompt's id or line) and "sample" (0..n-1). A line that cannot be read is
 * reported on stderr with its line number and produces no samples; the
 * others go on (exit status 1 at the end).
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "generate.h"
#include "policy.h"
#include "rollout.h"
#include "util.h"

static void usage(FILE *f)
{
    fputs("usage: rlvr generate --model DIR (--prompt TEXT ... | --in FILE.jsonl) [options]\n"
          "  --model DIR          a checkpoint folder (config.json, safetensors, tokenizer.json)\n"
          "  --tokenizer FILE     a tokenizer.json, or \"bytes\" (default: the folder's)\n"
          "  --prompt TEXT        a prompt (repeatable)\n"
          "  --in FILE            JSONL with \"prompt\" (text or chat messages) and any other fields\n"
          "  --out FILE           where the samples go (default: standard output)\n"
          "  --chat               wrap text prompts as a user turn in ChatML\n"
          "  --system TEXT        a system turn before it (with --chat)\n"
          "  -n, --num-samples G  samples per prompt (default 1)\n"
          "  --max-tokens N       tokens per sample, a stop token included (default 256)\n"
          "  --temperature T      0 is greedy (default 1)\n"
          "  --top-p P  --top-k K  --min-p P   filters, in that order after temperature\n"
          "  --seed S             random seed (default 0); sample g of prompt p is reproducible\n"
          "  --stop TEXT          a stop string (repeatable); EOS and <|im_end|> always stop\n"
          "  --batch N            prompts generated together (default 8)\n"
          "  -q, --quiet          no summary on stderr\n",
          f);
}

struct prompt {
    rlvr_tok_ids ids;
    json_object *fields;         /* the input object (owned), or NULL */
    char *group;                 /* the prompt's id, or its line */
};

struct options {
    const char *model, *tokenizer, *in, *out, *system;
    int chat, n, batch, quiet;
    struct rlvr_sampling s;
    const char **stops;
    size_t n_stops;
    const char **prompts;
    size_t n_prompts;
};

static int parse(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        {"model", 1, 0, 'm'},     {"tokenizer", 1, 0, 'T'}, {"prompt", 1, 0, 'p'},  {"in", 1, 0, 'i'},
        {"out", 1, 0, 'o'},       {"chat", 0, 0, 'c'},      {"system", 1, 0, 'S'},  {"num-samples", 1, 0, 'n'},
        {"max-tokens", 1, 0, 'M'}, {"temperature", 1, 0, 't'}, {"top-p", 1, 0, 'P'}, {"top-k", 1, 0, 'K'},
        {"min-p", 1, 0, 'N'},     {"seed", 1, 0, 's'},      {"stop", 1, 0, 'x'},    {"batch", 1, 0, 'b'},
        {"quiet", 0, 0, 'q'},     {"help", 0, 0, 'h'},      {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    rlvr_sampling_default(&o->s);
    o->n = 1;
    o->batch = 8;
    o->stops = calloc((size_t)argc, sizeof *o->stops);
    o->prompts = calloc((size_t)argc, sizeof *o->prompts);
    if (!o->stops || !o->prompts)
        return -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:qh", longs, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'T': o->tokenizer = optarg; break;
        case 'p': o->prompts[o->n_prompts++] = optarg; break;
        case 'i': o->in = optarg; break;
        case 'o': o->out = optarg; break;
        case 'c': o->chat = 1; break;
        case 'S': o->system = optarg; break;
        case 'n': o->n = (int)strtol(optarg, &end, 10); break;
        case 'M': o->s.max_tokens = (int)strtol(optarg, &end, 10); break;
        case 't': o->s.temperature = strtod(optarg, &end); break;
        case 'P': o->s.top_p = strtod(optarg, &end); break;
        case 'K': o->s.top_k = (int)strtol(optarg, &end, 10); break;
        case 'N': o->s.min_p = strtod(optarg, &end); break;
        case 's': o->s.seed = strtoull(optarg, &end, 10); break;
        case 'x': o->stops[o->n_stops++] = optarg; break;
        case 'b': o->batch = (int)strtol(optarg, &end, 10); break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        if (end && *end) {
            fprintf(stderr, "rlvr generate: '%s' is not a number\n", optarg);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rlvr generate: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->model || (!o->in) == (!o->n_prompts)) {
        usage(stderr);
        return -1;
    }
    if (o->n < 1 || o->batch < 1) {
        fprintf(stderr, "rlvr generate: --num-samples and --batch must be at least 1\n");
        return -1;
    }
    o->s.stop_strings = o->stops;
    o->s.n_stop_strings = o->n_stops;
    return 0;
}

/* Writes the G samples of one prompt: its fields, then what was made. */
static void write_samples(FILE *out, const struct rlvr_policy *p, const struct prompt *pr,
                          const struct rlvr_gen_sequence *seq, int G)
{
    rlvr_buf text = {0}, line = {0}, valid = {0};
    char err[256];
    for (int g = 0; g < G; g++) {
        const struct rlvr_gen_sequence *q = &seq[g];
        /* a stop token is generated (and counted) but is not text */
        int n = q->finish == RLVR_FINISH_STOP_TOKEN ? q->n_tokens - 1 : q->n_tokens;
        rlvr_buf_clear(&text);
        if (rlvr_tok_decode(p->tok, q->tokens, (size_t)n, 1, &text, err, sizeof err))
            fprintf(stderr, "rlvr generate: group %s sample %d: %s\n", pr->group, g, err);
        size_t len = q->finish == RLVR_FINISH_STOP_STRING && q->text_cut < text.len ? q->text_cut : text.len;
        /* a model may write bytes that are not UTF-8: U+FFFD in their
         * place, so that every line is valid JSON (as vLLM decodes) */
        rlvr_buf_clear(&valid);
        rlvr_tok_utf8_replace(text.ptr ? text.ptr : "", len, &valid);
        rlvr_buf_clear(&line);
        rlvr_buf_addc(&line, '{');
        json_object_object_foreach(pr->fields, key, val)
        {
            if (!strcmp(key, "completion") || !strcmp(key, "completion_tokens") || !strcmp(key, "finish_reason") ||
                !strcmp(key, "sample"))
                continue;
            rlvr_buf_json_string(&line, key, strlen(key));
            rlvr_buf_addc(&line, ':');
            rlvr_buf_adds(&line, json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
            rlvr_buf_addc(&line, ',');
        }
        if (!json_object_object_get_ex(pr->fields, "group", NULL)) {
            rlvr_buf_adds(&line, "\"group\":");
            rlvr_buf_json_string(&line, pr->group, strlen(pr->group));
            rlvr_buf_addc(&line, ',');
        }
        rlvr_buf_adds(&line, "\"completion\":");
        rlvr_buf_json_string(&line, valid.ptr ? valid.ptr : "", valid.len);
        rlvr_buf_printf(&line, ",\"completion_tokens\":%d,\"finish_reason\":\"%s\",\"sample\":%d}\n",
                        q->n_tokens, rlvr_finish_name(q->finish), g);
        fwrite(line.ptr, 1, line.len, out);
    }
    rlvr_buf_free(&text);
    rlvr_buf_free(&line);
    rlvr_buf_free(&valid);
}

static void free_prompts(struct prompt *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rlvr_tok_ids_free(&ps[i].ids);
        json_object_put(ps[i].fields);
        free(ps[i].group);
    }
    free(ps);
}

/* Reads the prompts: from --prompt, or from the JSONL file (bad lines are
 * reported and skipped; *bad counts them). */
static struct prompt *read_prompts(const struct options *o, const struct rlvr_policy *p, size_t *n_out,
                                   int *bad)
{
    size_t cap = 16, n = 0;
    struct prompt *ps = calloc(cap, sizeof *ps);
    char err[512], num[32];
    FILE *f = NULL;
    if (o->in && !(f = fopen(o->in, "rb"))) {
        fprintf(stderr, "rlvr generate: cannot open %s\n", o->in);
        free(ps);
        return NULL;
    }
    char *line = NULL;
    size_t line_cap = 0;
    long lineno = 0;
    for (;;) {
        json_object *obj = NULL;
        if (f) {
            ssize_t got = getline(&line, &line_cap, f);
            if (got < 0)
                break;
            lineno++;
            size_t k = (size_t)got;
            while (k && (line[k - 1] == '\n' || line[k - 1] == '\r' || line[k - 1] == ' '))
                k--;
            if (!k)
                continue;
            json_tokener *tk = json_tokener_new();
            obj = json_tokener_parse_ex(tk, line, (int)k);
            int parsed = json_tokener_get_error(tk) == json_tokener_success &&
                         json_tokener_get_parse_end(tk) == k;
            json_tokener_free(tk);
            if (!parsed || !json_object_is_type(obj, json_type_object)) {
                fprintf(stderr, "rlvr generate: %s:%ld: not a JSON object\n", o->in, lineno);
                json_object_put(obj);
                (*bad)++;
                continue;
            }
        } else {
            if (n == o->n_prompts)
                break;
            obj = json_object_new_object();
            json_object_object_add(obj, "prompt", json_object_new_string(o->prompts[n]));
            lineno = (long)n + 1;
        }
        json_object *prompt, *id;
        if (!json_object_object_get_ex(obj, "prompt", &prompt)) {
            fprintf(stderr, "rlvr generate: %s:%ld: no \"prompt\" field\n", o->in, lineno);
            json_object_put(obj);
            (*bad)++;
            continue;
        }
        if (n == cap) {
            struct prompt *grown = realloc(ps, 2 * cap * sizeof *ps);
            if (!grown)
                break;
            memset(grown + cap, 0, cap * sizeof *ps);
            ps = grown;
            cap *= 2;
        }
        struct prompt *pr = &ps[n];
        struct rlvr_prompt_format fmt = {NULL, o->chat, o->system};
        if (rlvr_prompt_encode(p, &fmt, prompt, &pr->ids, err, sizeof err) || pr->ids.n == 0) {
            fprintf(stderr, "rlvr generate: %s:%ld: prompt: %s\n", o->in ? o->in : "--prompt", lineno,
                    pr->ids.n ? err : "empty");
            rlvr_tok_ids_free(&pr->ids);
            json_object_put(obj);
            (*bad)++;
            continue;
        }
        pr->fields = obj;
        snprintf(num, sizeof num, "%ld", lineno);
        pr->group = strdup(json_object_object_get_ex(obj, "id", &id) && !json_object_is_type(id, json_type_null)
                               ? json_object_get_string(id)
                               : num);
        n++;
    }
    free(line);
    if (f)
        fclose(f);
    *n_out = n;
    return ps;
}

static void add_stats(struct rlvr_gen_stats *total, const struct rlvr_gen_stats *st)
{
    total->prompt_tokens += st->prompt_tokens;
    total->generated_tokens += st->generated_tokens;
    total->prefill_seconds += st->prefill_seconds;
    total->decode_seconds += st->decode_seconds;
}

int rlvr_cmd_generate(int argc, char **argv)
{
    struct options o;
    if (parse(argc, argv, &o)) {
        free(o.stops);
        free(o.prompts);
        return 2;
    }
    char err[1024];
    struct rlvr_policy p;
    if (rlvr_policy_load(&p, o.model, o.tokenizer, err, sizeof err)) {
        fprintf(stderr, "rlvr generate: %s\n", err);
        free(o.stops);
        free(o.prompts);
        return 2;
    }
    int32_t stop_ids[RLVR_CKPT_MAX_EOS + 2];
    o.s.stop_token_ids = stop_ids;
    o.s.n_stop_token_ids = (size_t)rlvr_policy_stop_ids(&p, stop_ids, RLVR_CKPT_MAX_EOS + 2);
    int rc = 0, bad = 0;
    size_t n = 0;
    struct prompt *ps = NULL;
    FILE *out = stdout;
    if (rlvr_sampling_check(&o.s, err, sizeof err)) {
        fprintf(stderr, "rlvr generate: %s\n", err);
        rc = 2;
        goto done;
    }
    if (!(ps = read_prompts(&o, &p, &n, &bad))) {
        rc = 2;
        goto done;
    }
    if (o.out && !(out = fopen(o.out, "wb"))) {
        fprintf(stderr, "rlvr generate: cannot write %s\n", o.out);
        rc = 2;
        goto done;
    }
    struct rlvr_gen_stats total = {0, 0, 0, 0};
    struct rlvr_gen_sequence *seq = calloc((size_t)o.batch * o.n, sizeof *seq);
    const int32_t **ids = calloc((size_t)o.batch, sizeof *ids);
    int *lens = calloc((size_t)o.batch, sizeof *lens);
    for (size_t first = 0; seq && ids && lens && first < n; first += (size_t)o.batch) {
        int k = (int)(n - first < (size_t)o.batch ? n - first : (size_t)o.batch);
        for (int i = 0; i < k; i++) {
            ids[i] = ps[first + i].ids.v;
            lens[i] = (int)ps[first + i].ids.n;
        }
        struct rlvr_gen_stats st;
        if (rlvr_generate(&p.model, &o.s, ids, lens, k, o.n, (uint64_t)first * (uint64_t)o.n, rlvr_policy_piece,
                          p.tok, seq, &st, err, sizeof err)) {
            /* a batch that cannot run (a prompt over the context) is
             * retried prompt by prompt, so that only the bad one is lost */
            for (int i = 0; i < k; i++) {
                if (rlvr_generate(&p.model, &o.s, ids + i, lens + i, 1, o.n,
                                  (uint64_t)(first + (size_t)i) * (uint64_t)o.n, rlvr_policy_piece, p.tok, seq,
                                  &st, err, sizeof err)) {
                    fprintf(stderr, "rlvr generate: group %s: %s\n", ps[first + i].group, err);
                    bad++;
                    continue;
                }
                write_samples(out, &p, &ps[first + i], seq, o.n);
                rlvr_gen_sequences_free(seq, o.n);
                add_stats(&total, &st);
            }
            continue;
        }
        for (int i = 0; i < k; i++)
            write_samples(out, &p, &ps[first + i], seq + (size_t)i * o.n, o.n);
        fflush(out);
        rlvr_gen_sequences_free(seq, k * o.n);
        add_stats(&total, &st);
    }
    free(seq);
    free(ids);
    free(lens);
    if (!o.quiet) {
        double secs = total.prefill_seconds + total.decode_seconds;
        fprintf(stderr,
                "rlvr generate: %zu prompts x %d samples: %ld prompt tokens (%.0f tokens/s), %ld generated "
                "tokens (%.1f tokens/s) in %.2f s%s\n",
                n, o.n, total.prompt_tokens, total.prefill_seconds > 0 ? total.prompt_tokens / total.prefill_seconds : 0,
                total.generated_tokens, secs > 0 ? total.generated_tokens / secs : 0, secs,
                bad ? "; some prompts failed (see above)" : "");
    }
    rc = bad ? 1 : 0;
done:
    if (out && out != stdout && fclose(out)) {
        fprintf(stderr, "rlvr generate: writing %s failed\n", o.out);
        rc = 2;
    }
    free_prompts(ps, n);
    rlvr_policy_free(&p);
    free(o.stops);
    free(o.prompts);
    return rc;
}
