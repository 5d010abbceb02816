/*
 * sample_cmd.c -- `rlvr sample [CONFIG.lua] [--KEY=VALUE ...]`: rejection
 * sampling into SFT data, DeepSeek-R1's stage 3.
 *
 * Generates num_generations completions per problem with a policy (or reads
 * completions made elsewhere, e.g. an R1-distill teacher's, from JSONL),
 * scores them with a reward mix, keeps those that pass every filter (a
 * reward threshold, per-component minimums, no truncation, R1's readability
 * filters: no overlong paragraph, no code in the reasoning, no mixed
 * languages), removes duplicates per problem, keeps at most max_per_prompt
 * per problem (highest reward first, ties by sample order) and writes the
 * kept ones as SFT JSONL that `rlvr sft` trains on.
 *
 * device = "cuda" (or "auto" with a GPU) generates on the GPU
 * (generate_gpu.h: the policy copied to the device in fp32, TF32 off, bound
 * so that rlvr_rollout's generation runs there; sampling stays on the host
 * with the same streams), so the completions are the CPU's wherever the
 * logits round alike; the summary's "device" says where generation ran.
 * Reading completions generates nothing: "cuda" is refused there.
 *
 * Invariants: every key is checked (and the mix loaded, and the output
 * files opened) before any generation; a sample whose scoring failed is
 * rejected as score_error and one whose reward is null as reward_null, never
 * kept and never read as 0; every rejected sample carries all the reasons
 * it failed (in rejected_out and in the summary's counts); the output is a
 * function of the configuration and the seed alone (sample g of the problem
 * at position i draws from stream i * G + g, whatever the chunking); memory
 * is bounded by one block of problems at a time in generation mode; model
 * text is UTF-8 (invalid bytes become U+FFFD) and the filters are linear
 * scans, so no completion can make them slow.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer.h"
#include "commands.h"
#include "device.h"
#include "generate_gpu.h"
#include "policy.h"
#include "registry.h"
#include "rollout.h"
#include "runconfig.h"
#include "tokenizer.h"
#include "util.h"

struct sample_config {
    char *model, *tokenizer, *data, *completions, *mix, *output, *rejected_out, *summary;
    char *prompt_template, *chat_template, *system_prompt, *dedupe, *lang_component, *output_prompt, *device;
    json_object *model_init, *require;
    long init_seed, num_generations, max_completion_length, top_k, seed, generation_chunk, score_threads;
    long max_problems, max_per_prompt, max_paragraph_chars;
    double temperature, top_p, min_p, min_reward;
    int drop_truncated, no_code_in_reasoning, no_mixed_languages;
};

enum { N_KEYS = 34 };
static void keys_of(struct sample_config *c, struct rlvr_key *k)
{
    const struct rlvr_key all[] = {
        {"model", RLVR_KEY_PATH, &c->model, "checkpoint folder of the policy that samples"},
        {"model_init", RLVR_KEY_JSON, &c->model_init, "instead of model: \"tiny\" or a table of config.json fields"},
        {"init_seed", RLVR_KEY_INT, &c->init_seed, "seed of a fresh model's weights (0)"},
        {"tokenizer", RLVR_KEY_PATH, &c->tokenizer, "tokenizer.json or \"bytes\" (default: the model's)"},
        {"data", RLVR_KEY_PATH, &c->data, "JSONL problems: \"prompt\", \"answer\" and what the mix reads"},
        {"completions", RLVR_KEY_PATH, &c->completions,
         "instead of model and data: JSONL samples made elsewhere, grouped by \"group\" (else \"prompt\")"},
        {"mix", RLVR_KEY_PATH, &c->mix, "the reward mix (a Lua file) (required)"},
        {"output", RLVR_KEY_STR, &c->output, "the kept samples as SFT JSONL; \"-\" is standard output (required)"},
        {"rejected_out", RLVR_KEY_STR, &c->rejected_out, "the rejected samples as JSONL, each with its \"reasons\""},
        {"summary", RLVR_KEY_STR, &c->summary, "write the summary as one JSON object here"},
        {"num_generations", RLVR_KEY_INT, &c->num_generations, "N, completions per problem (8)"},
        {"temperature", RLVR_KEY_NUM, &c->temperature, "sampling temperature (0.6, R1's; 0 greedy)"},
        {"top_p", RLVR_KEY_NUM, &c->top_p, "(0.95, R1's)"},
        {"top_k", RLVR_KEY_INT, &c->top_k, "(0: off)"},
        {"min_p", RLVR_KEY_NUM, &c->min_p, "(0: off)"},
        {"max_completion_length", RLVR_KEY_INT, &c->max_completion_length, "tokens per completion (256)"},
        {"prompt_template", RLVR_KEY_STR, &c->prompt_template, "\"plain\", \"r1_zero\", or text with {prompt}"},
        {"chat_template", RLVR_KEY_STR, &c->chat_template, "\"none\" or \"chatml\" (none)"},
        {"system_prompt", RLVR_KEY_STR, &c->system_prompt, "\"r1\" or text (chatml only)"},
        {"seed", RLVR_KEY_INT, &c->seed, "sampling seed (0)"},
        {"generation_chunk", RLVR_KEY_INT, &c->generation_chunk, "prompts sampled together (8)"},
        {"score_threads", RLVR_KEY_INT, &c->score_threads, "threads for reward plugins (1)"},
        {"max_problems", RLVR_KEY_INT, &c->max_problems, "use the first N problems (0: all)"},
        {"min_reward", RLVR_KEY_NUM, &c->min_reward, "keep only a total reward >= this (default: no threshold)"},
        {"require", RLVR_KEY_JSON, &c->require,
         "table component -> minimum, e.g. { accuracy = 1, format = 1 }; an abstaining component fails it"},
        {"drop_truncated", RLVR_KEY_BOOL, &c->drop_truncated, "reject completions cut at max_completion_length (true)"},
        {"max_paragraph_chars", RLVR_KEY_INT, &c->max_paragraph_chars,
         "reject a completion with a paragraph (between blank lines) longer than this, in characters (0: off)"},
        {"no_code_in_reasoning", RLVR_KEY_BOOL, &c->no_code_in_reasoning,
         "reject a ``` or ~~~ fence or a <code> tag in the reasoning (true)"},
        {"no_mixed_languages", RLVR_KEY_BOOL, &c->no_mixed_languages,
         "reject when the lang component is below 1 (some reasoning words not in the target language) (true)"},
        {"lang_component", RLVR_KEY_STR, &c->lang_component, "the component no_mixed_languages reads (\"lang\")"},
        {"dedupe", RLVR_KEY_STR, &c->dedupe,
         "per problem: \"exact\" (same text up to whitespace), \"answer\" (one per final answer) or \"none\" (exact)"},
        {"max_per_prompt", RLVR_KEY_INT, &c->max_per_prompt, "keep at most K per problem, highest reward first (0: all)"},
        {"output_prompt", RLVR_KEY_STR, &c->output_prompt,
         "the prompt written: \"templated\" (prompt_template applied, as the model saw it) or \"raw\" (templated)"},
        {"device", RLVR_KEY_STR, &c->device, RLVR_DEVICE_HELP},
        {NULL, 0, NULL, NULL}};
    _Static_assert(sizeof all / sizeof all[0] == N_KEYS + 1, "N_KEYS counts the keys");
    memcpy(k, all, sizeof all);
}

static void usage(FILE *f, struct rlvr_key *keys)
{
    fputs("usage: rlvr sample [CONFIG.lua] [--KEY=VALUE ...]\n"
          "Rejection sampling (R1's stage 3): generates completions with a policy (model + data), or reads\n"
          "completions made elsewhere, scores them with a reward mix, keeps those that pass the filters,\n"
          "removes duplicates and writes SFT JSONL for `rlvr sft`.\n"
          "CONFIG.lua returns a table of these keys; --KEY=VALUE sets or overrides one:\n",
          f);
    rlvr_runconfig_print_keys(keys, f);
}

/* ---- filters ------------------------------------------------------------------------------ */

enum reason {
    R_SCORE_ERROR, R_REWARD_NULL, R_MIN_REWARD, R_REQUIRE, R_TRUNCATED, R_PARAGRAPH, R_CODE, R_MIXED,
    R_DUPLICATE, R_MAX_PER_PROMPT, N_REASONS
};
static const char *const reason_name[N_REASONS] = {
    "score_error", "reward_null", "min_reward", "require", "truncated", "overlong_paragraph",
    "code_in_reasoning", "mixed_languages", "duplicate", "max_per_prompt"};

enum { MAX_REQUIRE = 32 };

static int is_space(unsigned char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'; }

/* The longest paragraph of s[0..n) in characters (code points): a paragraph
 * is a run of lines that are not blank, joined by one newline each. */
static size_t longest_paragraph(const char *s, size_t n)
{
    size_t best = 0, para = 0, i = 0;
    while (i < n) {
        size_t chars = 0;
        int blank = 1;
        while (i < n && s[i] != '\n') {
            unsigned char ch = (unsigned char)s[i];
            if (!is_space(ch))
                blank = 0;
            if ((ch & 0xC0) != 0x80 && ch != '\r')
                chars++;
            i++;
        }
        if (i < n)
            i++; /* the newline */
        if (blank) {
            para = 0;
            continue;
        }
        para += (para ? 1 : 0) + chars;
        if (para > best)
            best = para;
    }
    return best;
}

/* The reasoning of a completion, as the lang plugin reads its chain of
 * thought: the <think> block (to the end when unclosed), what precedes
 * </think> when <think> was pre-filled, else the whole text. */
static void reasoning_span(const char *s, size_t n, size_t *a, size_t *b)
{
    const char *op = memmem(s, n, "<think>", 7);
    if (op) {
        size_t start = (size_t)(op - s) + 7;
        const char *cl = memmem(s + start, n - start, "</think>", 8);
        *a = start, *b = cl ? (size_t)(cl - s) : n;
        return;
    }
    const char *cl = memmem(s, n, "</think>", 8);
    *a = 0, *b = cl ? (size_t)(cl - s) : n;
}

/* 1 when s[a..b) holds a code fence (``` or ~~~ opening a line, after at
 * most three spaces) or a <code> tag (any case, with or without attributes). */
static int has_code(const char *s, size_t a, size_t b)
{
    int line_start = 1, indent = 0;
    for (size_t i = a; i < b; i++) {
        char ch = s[i];
        if (line_start && ch == ' ' && indent < 3) {
            indent++;
            continue;
        }
        if (line_start && (ch == '`' || ch == '~') && i + 2 < b && s[i + 1] == ch && s[i + 2] == ch)
            return 1;
        line_start = ch == '\n';
        indent = 0;
        if (ch == '<' && i + 5 < b && (s[i + 1] | 0x20) == 'c' && (s[i + 2] | 0x20) == 'o' &&
            (s[i + 3] | 0x20) == 'd' && (s[i + 4] | 0x20) == 'e' && (s[i + 5] == '>' || is_space((unsigned char)s[i + 5])))
            return 1;
    }
    return 0;
}

/* s[0..n) with runs of ASCII whitespace made one space and the ends
 * trimmed, into out. */
static void squeeze(const char *s, size_t n, rlvr_buf *out)
{
    rlvr_buf_clear(out);
    int gap = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_space((unsigned char)s[i])) {
            gap = 1;
            continue;
        }
        if (gap && out->len)
            rlvr_buf_addc(out, ' ');
        gap = 0;
        rlvr_buf_addc(out, s[i]);
    }
    if (!out->ptr)
        rlvr_buf_adds(out, "");
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* ---- the run ------------------------------------------------------------------------------ */

struct run {
    const struct sample_config *c;
    rlvr_scoring *sc;
    size_t n_comp;
    int lang;                        /* component index no_mixed_languages reads, or -1 */
    int n_req;
    int req_idx[MAX_REQUIRE];
    double req_min[MAX_REQUIRE];
    const char *tmpl;                /* the prompt template's text */
    int templated;                   /* write prompts with the template applied */
    const char *source_model;        /* JSON text of source.model (generation) */
    const char *device;              /* "cpu" or "cuda": where generation ran */
    char step_json[32];              /* source.step */
    FILE *out, *rej;
    /* counts */
    size_t problems, generated, kept, rejected, problems_none, skipped_lines;
    size_t reasons[N_REASONS], req_fail[MAX_REQUIRE];
    size_t *comp_ok, *comp_abstain, *comp_error, *comp_pass;
    double *comp_sum;
    int write_failed;
};

static double comp_threshold(const struct run *r, size_t j)
{
    for (int q = 0; q < r->n_req; q++)
        if (r->req_idx[q] == (int)j)
            return r->req_min[q];
    return 1.0;
}

/* Appends a JSON string value of a string prompt with the template applied. */
static void add_templated(rlvr_buf *b, const char *tmpl, const char *p, size_t n)
{
    rlvr_buf t = {0};
    const char *at;
    while ((at = strstr(tmpl, "{prompt}"))) {
        rlvr_buf_add(&t, tmpl, (size_t)(at - tmpl));
        rlvr_buf_add(&t, p, n);
        tmpl = at + 8;
    }
    rlvr_buf_adds(&t, tmpl);
    if (t.oom)
        b->oom = 1;
    else
        rlvr_buf_json_string(b, t.ptr ? t.ptr : "", t.len);
    rlvr_buf_free(&t);
}

static int skip_key(const char *k)
{
    static const char *const skip[] = {"prompt", "completion", "completion_tokens", "finish_reason", "reward",
                                       "source", "sample", "reasons", "result", NULL};
    for (const char *const *s = skip; *s; s++)
        if (!strcmp(k, *s))
            return 1;
    return 0;
}

/* One output row for completion x: the prompt, the problem's (or the
 * input line's) other fields, the completion, reward and source; with
 * reasons (a rejected row), also the reasons and the scoring result. */
static void write_row(struct run *r, const struct rlvr_completion *x, uint32_t mask, uint32_t req_mask, FILE *f)
{
    const struct sample_config *c = r->c;
    json_object *base = NULL, *own = NULL, *pv;
    if (c->completions) {
        own = json_tokener_parse(x->line);
        base = own;
    } else {
        base = x->problem->fields;
    }
    rlvr_buf b = {0};
    rlvr_buf_addc(&b, '{');
    int first = 1;
    if (base && json_object_object_get_ex(base, "prompt", &pv)) {
        rlvr_buf_adds(&b, "\"prompt\":");
        if (!c->completions && r->templated && json_object_is_type(pv, json_type_string))
            add_templated(&b, r->tmpl, json_object_get_string(pv), (size_t)json_object_get_string_len(pv));
        else
            rlvr_buf_adds(&b, json_object_to_json_string_ext(pv, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        first = 0;
    }
    if (base && json_object_is_type(base, json_type_object)) {
        json_object_object_foreach(base, key, val)
        {
            if (skip_key(key))
                continue;
            if (!first)
                rlvr_buf_addc(&b, ',');
            first = 0;
            rlvr_buf_json_string(&b, key, strlen(key));
            rlvr_buf_addc(&b, ':');
            rlvr_buf_adds(&b, json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        }
    }
    if (!first)
        rlvr_buf_addc(&b, ',');
    rlvr_buf_adds(&b, "\"completion\":");
    rlvr_buf_json_string(&b, x->text, x->text_len);
    rlvr_buf_printf(&b, ",\"completion_tokens\":%d,\"finish_reason\":\"%s\",\"reward\":", x->seq.n_tokens,
                    x->seq.finish == RLVR_FINISH_LENGTH ? "length" : "stop");
    rlvr_buf_json_number(&b, x->reward);
    if (c->completions) {
        rlvr_buf_adds(&b, ",\"source\":{\"completions\":");
        rlvr_buf_json_string(&b, c->completions, strlen(c->completions));
        rlvr_buf_printf(&b, ",\"line\":%d,\"sample\":%d}", x->group, x->sample);
    } else {
        rlvr_buf_printf(&b, ",\"source\":{\"model\":%s,\"step\":%s,\"seed\":%ld,\"sample\":%d}", r->source_model,
                        r->step_json, c->seed, x->sample);
    }
    if (mask || req_mask) {
        rlvr_buf_adds(&b, ",\"reasons\":[");
        int n = 0;
        for (int k = 0; k < N_REASONS; k++) {
            if (!(mask & (1u << k)))
                continue;
            if (k == R_REQUIRE) {
                for (int q = 0; q < r->n_req; q++) {
                    if (!(req_mask & (1u << q)))
                        continue;
                    const char *nm = rlvr_scoring_component_name(r->sc, (size_t)r->req_idx[q]);
                    rlvr_buf_adds(&b, n++ ? ",\"require:" : "\"require:");
                    rlvr_buf_adds(&b, nm); /* mix entry names are identifiers */
                    rlvr_buf_addc(&b, '"');
                }
                continue;
            }
            rlvr_buf_printf(&b, "%s\"%s\"", n++ ? "," : "", reason_name[k]);
        }
        rlvr_buf_adds(&b, "],\"result\":");
        rlvr_buf_adds(&b, x->result ? x->result : "null");
    }
    rlvr_buf_adds(&b, "}\n");
    if (b.oom || fwrite(b.ptr, 1, b.len, f) != b.len)
        r->write_failed = 1;
    rlvr_buf_free(&b);
    json_object_put(own);
}

/* The completion's text filters and scores: a mask of reasons. */
static uint32_t judge(struct run *r, const struct rlvr_completion *x, uint32_t *req_mask)
{
    const struct sample_config *c = r->c;
    uint32_t m = 0;
    *req_mask = 0;
    if (x->failed)
        m |= 1u << R_SCORE_ERROR;
    else if (isnan(x->reward))
        m |= 1u << R_REWARD_NULL;
    else if (!isnan(c->min_reward) && x->reward < c->min_reward)
        m |= 1u << R_MIN_REWARD;
    for (int q = 0; q < r->n_req; q++) {
        size_t j = (size_t)r->req_idx[q];
        if (!x->comp || x->comp_status[j] != RLVR_COMP_OK || !(x->comp[j] >= r->req_min[q]))
            *req_mask |= 1u << q;
    }
    if (*req_mask)
        m |= 1u << R_REQUIRE;
    if (c->drop_truncated && x->seq.finish == RLVR_FINISH_LENGTH)
        m |= 1u << R_TRUNCATED;
    if (c->max_paragraph_chars > 0 && longest_paragraph(x->text, x->text_len) > (size_t)c->max_paragraph_chars)
        m |= 1u << R_PARAGRAPH;
    if (c->no_code_in_reasoning) {
        size_t a, b;
        reasoning_span(x->text, x->text_len, &a, &b);
        if (has_code(x->text, a, b))
            m |= 1u << R_CODE;
    }
    if (r->lang >= 0 && x->comp && x->comp_status[r->lang] == RLVR_COMP_OK && x->comp[r->lang] < 1.0)
        m |= 1u << R_MIXED;
    return m;
}

struct cand {
    size_t i;
    double reward;
    int sample;
};

static int by_reward(const void *pa, const void *pb)
{
    const struct cand *a = pa, *b = pb;
    if (a->reward != b->reward)
        return a->reward > b->reward ? -1 : 1;
    return (a->sample > b->sample) - (a->sample < b->sample);
}

/* The key a dedupe mode compares, into key. */
static void dedupe_key(const char *mode, const struct rlvr_completion *x, rlvr_buf *key)
{
    if (!strcmp(mode, "answer")) {
        rlvr_answer_span sp;
        if (rlvr_answer_find(x->text, x->text_len, 0, &sp) == RLVR_ANSWER_NONE) {
            sp.ptr = "", sp.len = 0;
        }
        squeeze(sp.ptr, sp.len, key);
    } else {
        squeeze(x->text, x->text_len, key);
    }
}

/* Filters, dedupes and writes the m completions of one problem. */
static int one_problem(struct run *r, struct rlvr_completion *x, size_t m)
{
    const struct sample_config *c = r->c;
    uint32_t *mask = calloc(m ? m : 1, sizeof *mask), *req = calloc(m ? m : 1, sizeof *req);
    struct cand *cd = malloc((m ? m : 1) * sizeof *cd);
    uint64_t *hash = malloc((m ? m : 1) * sizeof *hash);
    char **keys = calloc(m ? m : 1, sizeof *keys);
    size_t *klen = calloc(m ? m : 1, sizeof *klen);
    int rc = 0;
    if (!mask || !req || !cd || !hash || !keys || !klen) {
        rc = -1;
        goto out;
    }
    size_t nc = 0;
    for (size_t i = 0; i < m; i++) {
        mask[i] = judge(r, &x[i], &req[i]);
        for (size_t j = 0; j < r->n_comp; j++) {
            int st = x[i].comp ? x[i].comp_status[j] : RLVR_COMP_ERROR;
            if (st == RLVR_COMP_OK) {
                r->comp_ok[j]++;
                r->comp_sum[j] += x[i].comp[j];
                if (x[i].comp[j] >= comp_threshold(r, j))
                    r->comp_pass[j]++;
            } else if (st == RLVR_COMP_ERROR) {
                r->comp_error[j]++;
            } else if (st == RLVR_COMP_ABSTAIN) {
                r->comp_abstain[j]++;
            }
        }
        if (!mask[i])
            cd[nc++] = (struct cand){i, x[i].reward, x[i].sample};
    }
    /* qsort is not stable, but (reward, sample) is a total order here */
    qsort(cd, nc, sizeof *cd, by_reward);
    size_t kept = 0, nk = 0;
    rlvr_buf key = {0};
    int dedupe = strcmp(c->dedupe, "none") != 0;
    for (size_t t = 0; t < nc; t++) {
        size_t i = cd[t].i;
        if (dedupe) {
            dedupe_key(c->dedupe, &x[i], &key);
            if (key.oom) {
                rc = -1;
                break;
            }
            uint64_t h = fnv1a(key.ptr, key.len);
            int dup = 0;
            for (size_t u = 0; u < nk && !dup; u++)
                dup = hash[u] == h && klen[u] == key.len && !memcmp(keys[u], key.ptr, key.len);
            if (dup) {
                mask[i] |= 1u << R_DUPLICATE;
                continue;
            }
            if (!(keys[nk] = malloc(key.len + 1))) {
                rc = -1;
                break;
            }
            memcpy(keys[nk], key.ptr, key.len + 1);
            hash[nk] = h, klen[nk] = key.len;
            nk++;
        }
        if (c->max_per_prompt > 0 && kept >= (size_t)c->max_per_prompt) {
            mask[i] |= 1u << R_MAX_PER_PROMPT;
            continue;
        }
        kept++;
    }
    rlvr_buf_free(&key);
    if (rc)
        goto out;
    r->problems++;
    r->generated += m;
    r->kept += kept;
    r->rejected += m - kept;
    if (!kept)
        r->problems_none++;
    for (size_t i = 0; i < m; i++) {
        for (int k = 0; k < N_REASONS; k++)
            if (mask[i] & (1u << k))
                r->reasons[k]++;
        for (int q = 0; q < r->n_req; q++)
            if (req[i] & (1u << q))
                r->req_fail[q]++;
        if (!mask[i])
            write_row(r, &x[i], 0, 0, r->out);
        else if (r->rej)
            write_row(r, &x[i], mask[i], req[i], r->rej);
    }
out:
    for (size_t u = 0; keys && u < m; u++)
        free(keys[u]);
    free(keys), free(klen), free(hash), free(cd), free(mask), free(req);
    return rc;
}

/* ---- completions made elsewhere ------------------------------------------------------------- */

/* Reads path: each line a sample (invalid UTF-8 replaced by U+FFFD), grouped
 * by "group", else "prompt" (anywhere in the file; groups in order of first
 * appearance, samples in file order). A line that is not an object with a
 * string "completion" is reported and skipped. */
static int read_completions(const char *path, struct rlvr_problem_set *ps, struct rlvr_completion **out,
                            size_t *n_out, size_t **starts_out, size_t *skipped, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rlvr_errf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct raw {
        char *line;
        size_t len;
        long lineno;
        size_t group;
        int finish, tokens;
    } *raw = NULL;
    size_t n = 0, cap = 0, pcap = 0, hcap = 1024;
    size_t *table = calloc(hcap, sizeof *table); /* problem index + 1, open addressing on the key */
    char **gkey = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    long lineno = 0;
    ssize_t got;
    int rc = table ? 0 : -1;
    rlvr_buf fixed = {0};
    memset(ps, 0, sizeof *ps);
    while (!rc && (got = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
            len--;
        if (!len)
            continue;
        rlvr_buf_clear(&fixed);
        rlvr_tok_utf8_replace(line, len, &fixed);
        if (fixed.oom) {
            rc = -1;
            break;
        }
        json_tokener *tk = json_tokener_new();
        json_object *o = tk ? json_tokener_parse_ex(tk, fixed.ptr, (int)fixed.len) : NULL, *comp, *key = NULL, *v;
        int parsed = tk && json_tokener_get_error(tk) == json_tokener_success &&
                     json_tokener_get_parse_end(tk) == fixed.len && json_object_is_type(o, json_type_object);
        json_tokener_free(tk);
        if (!parsed || !json_object_object_get_ex(o, "completion", &comp) || !json_object_is_type(comp, json_type_string)) {
            fprintf(stderr, "rlvr sample: %s:%ld: skipped: %s\n", path, lineno,
                    parsed ? "no string \"completion\"" : "not a JSON object");
            (*skipped)++;
            json_object_put(o);
            continue;
        }
        char num[32];
        snprintf(num, sizeof num, "#line %ld", lineno);
        if (!json_object_object_get_ex(o, "group", &key))
            json_object_object_get_ex(o, "prompt", &key);
        const char *ks = key ? json_object_to_json_string_ext(key, JSON_C_TO_STRING_PLAIN) : num;
        size_t kl = strlen(ks), h = (size_t)fnv1a(ks, kl) & (hcap - 1), g;
        while (table[h] && strcmp(gkey[table[h] - 1], ks))
            h = (h + 1) & (hcap - 1);
        if (table[h]) {
            g = table[h] - 1;
        } else {
            if (ps->n == pcap) {
                size_t nc = pcap ? 2 * pcap : 64;
                struct rlvr_problem *pv = realloc(ps->v, nc * sizeof *pv);
                char **gk = pv ? realloc(gkey, nc * sizeof *gk) : NULL;
                if (pv)
                    ps->v = pv;
                if (!gk) {
                    json_object_put(o);
                    rc = -1;
                    break;
                }
                gkey = gk, pcap = nc;
            }
            g = ps->n;
            struct rlvr_problem *pr = &ps->v[g];
            memset(pr, 0, sizeof *pr);
            pr->fields = json_object_get(o);
            pr->line = lineno;
            pr->id = strdup(json_object_object_get_ex(o, "id", &v) ? json_object_get_string(v) : num);
            gkey[g] = strdup(ks);
            ps->n++;
            if (!pr->id || !gkey[g]) {
                json_object_put(o);
                rc = -1;
                break;
            }
            table[h] = g + 1;
            if (2 * ps->n > hcap) { /* grow and rehash */
                size_t nh = 2 * hcap, *nt = calloc(nh, sizeof *nt);
                if (!nt) {
                    json_object_put(o);
                    rc = -1;
                    break;
                }
                for (size_t q = 0; q < ps->n; q++) {
                    size_t hh = (size_t)fnv1a(gkey[q], strlen(gkey[q])) & (nh - 1);
                    while (nt[hh])
                        hh = (hh + 1) & (nh - 1);
                    nt[hh] = q + 1;
                }
                free(table);
                table = nt, hcap = nh;
            }
        }
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 256;
            struct raw *nr = realloc(raw, nc * sizeof *nr);
            if (!nr) {
                json_object_put(o);
                rc = -1;
                break;
            }
            raw = nr, cap = nc;
        }
        struct raw *x = &raw[n];
        x->line = strndup(fixed.ptr, fixed.len);
        x->len = fixed.len;
        x->lineno = lineno;
        x->group = g;
        x->tokens = json_object_object_get_ex(o, "completion_tokens", &v) ? json_object_get_int(v) : 0;
        x->finish = json_object_object_get_ex(o, "finish_reason", &v) && json_object_is_type(v, json_type_string) &&
                            !strcmp(json_object_get_string(v), "length")
                        ? RLVR_FINISH_LENGTH
                        : RLVR_FINISH_STOP_TOKEN;
        json_object_put(o);
        if (!x->line) {
            rc = -1;
            break;
        }
        n++;
    }
    if (rc)
        rlvr_errf(err, err_len, "out of memory reading %s", path);
    else if (ferror(f)) {
        rlvr_errf(err, err_len, "reading %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    rlvr_buf_free(&fixed);
    fclose(f);
    free(table);
    for (size_t q = 0; gkey && q < ps->n; q++)
        free(gkey[q]);
    free(gkey);
    /* samples in group order: counting sort, stable */
    size_t *starts = rc ? NULL : calloc(ps->n + 1, sizeof *starts);
    struct rlvr_completion *c = rc ? NULL : calloc(n ? n : 1, sizeof *c);
    if (!rc && (!starts || !c)) {
        rlvr_errf(err, err_len, "out of memory reading %s", path);
        rc = -1;
    }
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            starts[raw[i].group + 1]++;
        for (size_t g = 0; g < ps->n; g++)
            starts[g + 1] += starts[g];
        size_t *fill = calloc(ps->n ? ps->n : 1, sizeof *fill);
        if (!fill) {
            rlvr_errf(err, err_len, "out of memory reading %s", path);
            rc = -1;
        }
        for (size_t i = 0; !rc && i < n; i++) {
            size_t g = raw[i].group, at = starts[g] + fill[g];
            struct rlvr_completion *x = &c[at];
            x->problem = &ps->v[g];
            x->sample = (int)fill[g]++;
            x->group = (int)raw[i].lineno; /* the input line, for source.line */
            x->line = raw[i].line, x->line_len = raw[i].len;
            raw[i].line = NULL;
            x->seq.n_tokens = raw[i].tokens;
            x->seq.finish = raw[i].finish;
            x->reward = NAN;
            json_object *o = json_tokener_parse(x->line), *comp;
            if (o && json_object_object_get_ex(o, "completion", &comp)) {
                x->text_len = (size_t)json_object_get_string_len(comp);
                x->text = malloc(x->text_len + 1);
                if (x->text)
                    memcpy(x->text, json_object_get_string(comp), x->text_len + 1);
            }
            json_object_put(o);
            if (!x->text) {
                rlvr_errf(err, err_len, "%s:%ld: cannot read the completion again", path, raw[i].lineno);
                rc = -1;
            }
        }
        free(fill);
    }
    for (size_t i = 0; i < n; i++)
        free(raw[i].line);
    free(raw);
    if (rc) {
        rlvr_completions_free(c, n);
        free(c);
        free(starts);
        rlvr_problems_free(ps);
        return -1;
    }
    *out = c, *n_out = n, *starts_out = starts;
    return 0;
}

/* ---- summary -------------------------------------------------------------------------------- */

static void summary_json(const struct run *r, double seconds, long gen_tokens, double gen_seconds, rlvr_buf *b)
{
    const struct sample_config *c = r->c;
    rlvr_buf_printf(b, "{\"problems\":%zu,\"generated\":%zu,\"kept\":%zu,\"rejected\":%zu,\"device\":\"%s\",",
                    r->problems, r->generated, r->kept, r->rejected, r->device ? r->device : "cpu");
    rlvr_buf_adds(b, "\"kept_per_problem\":{\"mean\":");
    rlvr_buf_json_number(b, r->problems ? (double)r->kept / (double)r->problems : NAN);
    rlvr_buf_printf(b, ",\"problems_with_none\":%zu},\"rejections\":{", r->problems_none);
    int n = 0;
    for (int k = 0; k < N_REASONS; k++) {
        if (k == R_REQUIRE) {
            for (int q = 0; q < r->n_req; q++) {
                rlvr_buf_printf(b, "%s\"require:%s\":%zu", n++ ? "," : "",
                                rlvr_scoring_component_name(r->sc, (size_t)r->req_idx[q]), r->req_fail[q]);
            }
            continue;
        }
        rlvr_buf_printf(b, "%s\"%s\":%zu", n++ ? "," : "", reason_name[k], r->reasons[k]);
    }
    rlvr_buf_adds(b, "},\"components\":{");
    for (size_t j = 0; j < r->n_comp; j++) {
        const char *nm = rlvr_scoring_component_name(r->sc, j);
        double g = r->generated ? (double)r->generated : NAN;
        rlvr_buf_printf(b, "%s", j ? "," : "");
        rlvr_buf_json_string(b, nm, strlen(nm));
        rlvr_buf_adds(b, ":{\"mean\":");
        rlvr_buf_json_number(b, r->comp_ok[j] ? r->comp_sum[j] / (double)r->comp_ok[j] : NAN);
        rlvr_buf_adds(b, ",\"threshold\":");
        rlvr_buf_json_number(b, comp_threshold(r, j));
        rlvr_buf_adds(b, ",\"pass_rate\":");
        rlvr_buf_json_number(b, (double)r->comp_pass[j] / g);
        rlvr_buf_adds(b, ",\"abstain_rate\":");
        rlvr_buf_json_number(b, (double)r->comp_abstain[j] / g);
        rlvr_buf_adds(b, ",\"error_rate\":");
        rlvr_buf_json_number(b, (double)r->comp_error[j] / g);
        rlvr_buf_addc(b, '}');
    }
    rlvr_buf_adds(b, "},\"filters\":{\"min_reward\":");
    rlvr_buf_json_number(b, c->min_reward);
    rlvr_buf_printf(b, ",\"drop_truncated\":%s,\"max_paragraph_chars\":%ld,\"no_code_in_reasoning\":%s,"
                       "\"no_mixed_languages\":",
                    c->drop_truncated ? "true" : "false", c->max_paragraph_chars,
                    c->no_code_in_reasoning ? "true" : "false");
    if (r->lang >= 0) {
        const char *nm = rlvr_scoring_component_name(r->sc, (size_t)r->lang);
        rlvr_buf_json_string(b, nm, strlen(nm));
    } else {
        rlvr_buf_adds(b, "false");
    }
    rlvr_buf_adds(b, ",\"dedupe\":");
    rlvr_buf_json_string(b, c->dedupe, strlen(c->dedupe));
    rlvr_buf_printf(b, ",\"max_per_prompt\":%ld},\"skipped_lines\":%zu,\"generated_tokens\":%ld,\"tokens_per_second\":",
                    c->max_per_prompt, r->skipped_lines, gen_tokens);
    rlvr_buf_json_number(b, gen_seconds > 0 ? (double)gen_tokens / gen_seconds : NAN);
    rlvr_buf_adds(b, ",\"seconds\":");
    rlvr_buf_json_number(b, seconds);
    rlvr_buf_adds(b, "}");
}

static void summary_text(FILE *f, const struct run *r, long gen_tokens, double gen_seconds)
{
    fprintf(f, "rlvr sample: %zu problems, %zu generated, %zu kept (%.2f per problem; %zu problems with none)\n",
            r->problems, r->generated, r->kept, r->problems ? (double)r->kept / (double)r->problems : 0.0,
            r->problems_none);
    for (int k = 0; k < N_REASONS; k++) {
        if (k == R_REQUIRE) {
            for (int q = 0; q < r->n_req; q++) {
                char nm[64];
                snprintf(nm, sizeof nm, "require:%.50s", rlvr_scoring_component_name(r->sc, (size_t)r->req_idx[q]));
                if (r->req_fail[q])
                    fprintf(f, "  rejected  %-28s %zu\n", nm, r->req_fail[q]);
            }
            continue;
        }
        if (r->reasons[k])
            fprintf(f, "  rejected  %-28s %zu\n", reason_name[k], r->reasons[k]);
    }
    for (size_t j = 0; j < r->n_comp; j++)
        fprintf(f, "  component %-28.28s pass %.4f (>= %g)\n", rlvr_scoring_component_name(r->sc, j),
                r->generated ? (double)r->comp_pass[j] / (double)r->generated : 0.0, comp_threshold(r, j));
    if (gen_seconds > 0)
        fprintf(f, "  generation %ld tokens, %.1f tokens/s\n", gen_tokens, (double)gen_tokens / gen_seconds);
}

/* ---- the command ---------------------------------------------------------------------------- */

/* source.step: the "global_step" of trainer_state.json in the model's
 * folder (a checkpoint-N of rlvr sft or rlvr train, or the top of a
 * finished run's folder, which both write one with the final step), else
 * null (a model from elsewhere). */
static void read_step(const char *model, char *out, size_t cap)
{
    snprintf(out, cap, "null");
    if (!model)
        return;
    char path[4200];
    snprintf(path, sizeof path, "%s/trainer_state.json", model);
    json_object *o = json_object_from_file(path), *v;
    if (o && json_object_object_get_ex(o, "global_step", &v) && json_object_is_type(v, json_type_int))
        snprintf(out, cap, "%lld", (long long)json_object_get_int64(v));
    json_object_put(o);
}

static FILE *open_out(const char *path)
{
    if (!strcmp(path, "-"))
        return stdout;
    return fopen(path, "wb");
}

static int close_out(FILE *f)
{
    if (!f)
        return 0;
    if (f == stdout)
        return fflush(f);
    return fclose(f);
}

int rlvr_cmd_sample(int argc, char **argv)
{
    struct sample_config c;
    memset(&c, 0, sizeof c);
    c.num_generations = 8, c.max_completion_length = 256, c.temperature = 0.6, c.top_p = 0.95;
    c.generation_chunk = 8, c.score_threads = 1, c.min_reward = NAN;
    c.drop_truncated = 1, c.no_code_in_reasoning = 1, c.no_mixed_languages = 1;
    struct rlvr_key keys[N_KEYS + 1];
    keys_of(&c, keys);
    struct rlvr_run_args args;
    int start = rlvr_run_args_start("rlvr sample", argc, argv, 0, 0, usage, keys, &args);
    if (start >= 0)
        return start;
    char err[1024];
    const char *path = args.path;
    json_object *cfg = NULL;
    int rc = 2;
    struct rlvr_gpu_model *gm = NULL;
    struct rlvr_policy p;
    memset(&p, 0, sizeof p);
    int policy_ok = 0;
    struct rlvr_problem_set ps = {0};
    struct rlvr_completion *comps = NULL;
    size_t n_comps = 0, *starts = NULL;
    rlvr_registry reg;
    int reg_ok = 0;
    char *model_json = NULL;
    struct run r;
    memset(&r, 0, sizeof r);
    r.lang = -1;
    if (rlvr_runconfig_load(path, args.over, args.n_over, &cfg, err, sizeof err)) {
        fprintf(stderr, "rlvr sample: %s\n", err);
        goto out;
    }
    const char *where = path ? path : "the command line";
    if (rlvr_runconfig_read(cfg, where, keys, err, sizeof err)) {
        fprintf(stderr, "rlvr sample: %s\n", err);
        goto out;
    }
    enum rlvr_device device;
    if (rlvr_device_resolve("rlvr sample", c.device,
                            c.completions ? "rlvr sample reads completions here (nothing is generated)" : NULL,
                            &device, err, sizeof err)) {
        fprintf(stderr, "rlvr sample: %s\n", err);
        goto out;
    }
    r.device = device == RLVR_DEVICE_CUDA ? "cuda" : "cpu";
    if (!c.dedupe && !(c.dedupe = strdup("exact"))) {
        fprintf(stderr, "rlvr sample: out of memory\n");
        goto out;
    }
    const char *tmpl = c.prompt_template ? rlvr_prompt_template_named(c.prompt_template) : "{prompt}";
    if (!tmpl)
        tmpl = c.prompt_template;
    const char *system = c.system_prompt ? rlvr_system_prompt_named(c.system_prompt) : NULL;
    if (c.system_prompt && !system)
        system = c.system_prompt;
    const char *problem = NULL;
    if (!c.mix)
        problem = "'mix' is required";
    else if (!c.output)
        problem = "'output' is required (the SFT JSONL to write)";
    else if (!c.completions && (!c.model == !c.model_init || !c.data))
        problem = "give 'data' and one of 'model' or 'model_init' (or 'completions')";
    else if (c.completions && (c.model || c.model_init || c.data))
        problem = "'completions' replaces 'model' and 'data': give one or the other";
    else if (c.chat_template && strcmp(c.chat_template, "none") && strcmp(c.chat_template, "chatml"))
        problem = "'chat_template' must be \"none\" or \"chatml\"";
    else if (!strstr(tmpl, "{prompt}"))
        problem = "'prompt_template' must be \"plain\", \"r1_zero\" or a text holding {prompt}";
    else if (c.num_generations < 1)
        problem = "'num_generations' must be at least 1";
    else if (c.max_completion_length < 1)
        problem = "'max_completion_length' must be at least 1";
    else if (c.generation_chunk < 1)
        problem = "'generation_chunk' must be at least 1";
    else if (c.score_threads < 1 || c.score_threads > 1024)
        problem = "'score_threads' must be in [1, 1024]";
    else if (c.max_problems < 0)
        problem = "'max_problems' must be 0 (all) or positive";
    else if (c.max_per_prompt < 0)
        problem = "'max_per_prompt' must be 0 (no limit) or positive";
    else if (c.max_paragraph_chars < 0)
        problem = "'max_paragraph_chars' must be 0 (off) or positive";
    else if (!isnan(c.min_reward) && !isfinite(c.min_reward))
        problem = "'min_reward' must be a finite number";
    else if (strcmp(c.dedupe, "exact") && strcmp(c.dedupe, "answer") && strcmp(c.dedupe, "none"))
        problem = "'dedupe' must be \"exact\", \"answer\" or \"none\"";
    else if (c.output_prompt && strcmp(c.output_prompt, "templated") && strcmp(c.output_prompt, "raw"))
        problem = "'output_prompt' must be \"templated\" or \"raw\"";
    else if (c.rejected_out && !strcmp(c.rejected_out, c.output))
        problem = "'rejected_out' must not be 'output'";
    else if (c.require && !json_object_is_type(c.require, json_type_object) &&
             !(json_object_is_type(c.require, json_type_array) && !json_object_array_length(c.require)))
        problem = "'require' must be a table of component = minimum";
    if (!problem && c.require && json_object_is_type(c.require, json_type_object)) {
        if (json_object_object_length(c.require) > MAX_REQUIRE)
            problem = "'require' names more than 32 components";
        json_object_object_foreach(c.require, k0, v0)
        {
            (void)k0;
            if (!problem && !json_object_is_type(v0, json_type_int) && !json_object_is_type(v0, json_type_double))
                problem = "'require': each minimum must be a number";
            else if (!problem && !isfinite(json_object_get_double(v0)))
                problem = "'require': each minimum must be finite";
        }
    }
    if (problem) {
        fprintf(stderr, "rlvr sample: %s: %s\n", where, problem);
        goto out;
    }
    if (rlvr_registry_init(&reg, err, sizeof err)) {
        fprintf(stderr, "rlvr sample: %s\n", err);
        goto out;
    }
    reg_ok = 1;
    rlvr_services_set_registry(&reg);
    if (!(r.sc = rlvr_scoring_new(c.mix, &reg, (int)c.score_threads, err, sizeof err))) {
        fprintf(stderr, "rlvr sample: %s\n", err);
        goto out;
    }
    r.c = &c;
    r.n_comp = rlvr_scoring_components(r.sc);
    if (c.require && json_object_is_type(c.require, json_type_object)) {
        json_object_object_foreach(c.require, k1, v1)
        {
            int j = rlvr_scoring_component_index(r.sc, k1);
            if (j < 0) {
                fprintf(stderr, "rlvr sample: %s: 'require' names '%s', which is not a component of the mix %s\n",
                        where, k1, c.mix);
                goto out;
            }
            r.req_idx[r.n_req] = j;
            r.req_min[r.n_req++] = json_object_get_double(v1);
        }
    }
    if (c.no_mixed_languages) {
        r.lang = rlvr_scoring_component_index(r.sc, c.lang_component ? c.lang_component : "lang");
        if (r.lang < 0 && c.lang_component) {
            fprintf(stderr, "rlvr sample: %s: 'lang_component' names '%s', which is not a component of the mix %s\n",
                    where, c.lang_component, c.mix);
            goto out;
        }
        if (r.lang < 0)
            fprintf(stderr, "rlvr sample: the mix has no 'lang' component: no_mixed_languages checks nothing "
                            "(add the lang plugin, or set lang_component)\n");
    }
    size_t cs = 1;
    if (!(r.comp_ok = calloc(r.n_comp + cs, sizeof *r.comp_ok)) ||
        !(r.comp_abstain = calloc(r.n_comp + cs, sizeof *r.comp_abstain)) ||
        !(r.comp_error = calloc(r.n_comp + cs, sizeof *r.comp_error)) ||
        !(r.comp_pass = calloc(r.n_comp + cs, sizeof *r.comp_pass)) ||
        !(r.comp_sum = calloc(r.n_comp + cs, sizeof *r.comp_sum))) {
        fprintf(stderr, "rlvr sample: out of memory\n");
        goto out;
    }
    r.tmpl = tmpl;
    r.templated = !c.output_prompt || !strcmp(c.output_prompt, "templated");
    /* the policy and the problems, before any output file is made */
    struct rlvr_sampling s;
    int32_t stop_ids[RLVR_CKPT_MAX_EOS + 2];
    size_t n = 0;
    if (!c.completions) {
        if (rlvr_policy_from_config(&p, c.model, c.model_init, c.init_seed, c.tokenizer, where, err, sizeof err)) {
            fprintf(stderr, "rlvr sample: %s\n", err);
            goto out;
        }
        policy_ok = 1;
        if (device == RLVR_DEVICE_CUDA) {
            /* fp32 with TF32 off: the completions are the CPU's wherever
             * the logits round alike (generate_gpu.h) */
            char desc[256];
            rlvr_gpu_describe(desc, sizeof desc);
            if (!(gm = rlvr_generate_bind_gpu(&p.model, RLVR_GPU_FP32, err, sizeof err))) {
                fprintf(stderr, "rlvr sample: device = \"cuda\": %s\n", err);
                goto out;
            }
            fprintf(stderr, "rlvr sample: generating on the GPU (%s), fp32, %.1f MiB of device memory for the "
                            "weights\n", desc, (double)rlvr_gpu_model_bytes(gm) / 1048576.0);
        }
        rlvr_sampling_default(&s);
        s.temperature = c.temperature, s.top_p = c.top_p, s.top_k = (int)c.top_k, s.min_p = c.min_p;
        s.max_tokens = (int)c.max_completion_length, s.seed = (uint64_t)c.seed;
        s.stop_token_ids = stop_ids;
        s.n_stop_token_ids = (size_t)rlvr_policy_stop_ids(&p, stop_ids, RLVR_CKPT_MAX_EOS + 2);
        if (rlvr_sampling_check(&s, err, sizeof err)) {
            fprintf(stderr, "rlvr sample: %s: %s\n", where, err);
            goto out;
        }
        long room = (long)p.model.cfg.max_position_embeddings - c.max_completion_length;
        if (room < 1) {
            fprintf(stderr, "rlvr sample: %s: 'max_completion_length' %ld leaves no room for a prompt within the "
                            "model's max_position_embeddings (%d)\n",
                    where, c.max_completion_length, p.model.cfg.max_position_embeddings);
            goto out;
        }
        struct rlvr_prompt_format fmt = {tmpl, c.chat_template && !strcmp(c.chat_template, "chatml"), system};
        if (rlvr_problems_load(c.data, &p, &fmt, (int)room, stderr, "rlvr sample", &ps, err, sizeof err)) {
            fprintf(stderr, "rlvr sample: %s\n", err);
            goto out;
        }
        n = c.max_problems && (size_t)c.max_problems < ps.n ? (size_t)c.max_problems : ps.n;
        if (!n) {
            fprintf(stderr, "rlvr sample: %s has no usable problem\n", c.data);
            goto out;
        }
        r.skipped_lines = (size_t)ps.skipped;
        rlvr_buf mj = {0};
        if (c.model)
            rlvr_buf_json_string(&mj, c.model, strlen(c.model));
        else
            rlvr_buf_printf(&mj, "{\"model_init\":%s,\"init_seed\":%ld}",
                            json_object_to_json_string_ext(c.model_init, JSON_C_TO_STRING_PLAIN), c.init_seed);
        model_json = mj.oom ? NULL : mj.ptr;
        if (!model_json) {
            rlvr_buf_free(&mj);
            fprintf(stderr, "rlvr sample: out of memory\n");
            goto out;
        }
        r.source_model = model_json;
        read_step(c.model, r.step_json, sizeof r.step_json);
    } else {
        if (read_completions(c.completions, &ps, &comps, &n_comps, &starts, &r.skipped_lines, err, sizeof err)) {
            fprintf(stderr, "rlvr sample: %s\n", err);
            goto out;
        }
        if (!n_comps) {
            fprintf(stderr, "rlvr sample: %s has no samples\n", c.completions);
            goto out;
        }
        n = ps.n;
    }
    if (!(r.out = open_out(c.output))) {
        fprintf(stderr, "rlvr sample: cannot write %s: %s\n", c.output, strerror(errno));
        goto out;
    }
    if (c.rejected_out && !(r.rej = open_out(c.rejected_out))) {
        fprintf(stderr, "rlvr sample: cannot write %s: %s\n", c.rejected_out, strerror(errno));
        goto out;
    }
    /* the work */
    rc = 1;
    double t0 = rlvr_now(), gen_seconds = 0;
    long gen_tokens = 0;
    int G = (int)c.num_generations;
    if (c.completions) {
        if (rlvr_scoring_submit(r.sc, comps, n_comps, err, sizeof err) ||
            rlvr_scoring_wait(r.sc, NULL, err, sizeof err)) {
            fprintf(stderr, "rlvr sample: %s\n", err);
            goto out;
        }
        for (size_t g = 0; g < ps.n; g++)
            if (one_problem(&r, comps + starts[g], starts[g + 1] - starts[g])) {
                fprintf(stderr, "rlvr sample: out of memory\n");
                goto out;
            }
    } else {
        /* a block of problems at a time bounds memory; within a block,
         * scoring of one chunk overlaps sampling of the next */
        size_t block = (size_t)c.generation_chunk * 4;
        struct rlvr_problem **set = malloc(n * sizeof *set);
        if (!set || !(comps = calloc(block * (size_t)G, sizeof *comps))) {
            free(set);
            fprintf(stderr, "rlvr sample: out of memory\n");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            set[i] = &ps.v[i];
        for (size_t first = 0; first < n; first += block) {
            size_t k = n - first < block ? n - first : block;
            struct rlvr_gen_stats st;
            if (rlvr_rollout(&p, &s, set + first, k, G, first, (int)c.generation_chunk, r.sc, comps, &st, err,
                             sizeof err)) {
                fprintf(stderr, "rlvr sample: %s\n", err);
                free(set);
                goto out;
            }
            n_comps = k * (size_t)G;
            gen_tokens += st.generated_tokens;
            gen_seconds += st.prefill_seconds + st.decode_seconds;
            if (rlvr_scoring_wait(r.sc, NULL, err, sizeof err)) {
                fprintf(stderr, "rlvr sample: %s\n", err);
                free(set);
                goto out;
            }
            for (size_t i = 0; i < k; i++)
                if (one_problem(&r, comps + i * (size_t)G, (size_t)G)) {
                    fprintf(stderr, "rlvr sample: out of memory\n");
                    free(set);
                    goto out;
                }
            rlvr_completions_free(comps, n_comps);
            n_comps = 0;
            if (isatty(2))
                fprintf(stderr, "\rrlvr sample: %zu/%zu problems, %zu kept", first + k, n, r.kept);
        }
        if (isatty(2))
            fputc('\n', stderr);
        free(set);
    }
    double seconds = rlvr_now() - t0;
    summary_text(stderr, &r, gen_tokens, gen_seconds);
    rlvr_buf sj = {0};
    summary_json(&r, seconds, gen_tokens, gen_seconds, &sj);
    int bad = r.write_failed || sj.oom;
    if (close_out(r.out))
        bad = 1;
    r.out = NULL;
    if (close_out(r.rej))
        bad = 1;
    r.rej = NULL;
    if (bad)
        fprintf(stderr, "rlvr sample: cannot write the output\n");
    if (c.summary && !sj.oom) {
        FILE *f = fopen(c.summary, "wb");
        if (!f || fprintf(f, "%s\n", sj.ptr) < 0 || fclose(f)) {
            fprintf(stderr, "rlvr sample: cannot write %s\n", c.summary);
            bad = 1;
        }
    }
    rlvr_buf_free(&sj);
    rc = bad || r.reasons[R_SCORE_ERROR] || r.skipped_lines ? 1 : 0;
out:
    if (r.out && r.out != stdout)
        fclose(r.out);
    if (r.rej && r.rej != stdout)
        fclose(r.rej);
    rlvr_completions_free(comps, n_comps);
    free(comps);
    free(starts);
    rlvr_scoring_free(r.sc);
    if (reg_ok)
        rlvr_registry_free(&reg);
    rlvr_problems_free(&ps);
    rlvr_generate_unbind_gpu(&p.model, gm);
    if (policy_ok)
        rlvr_policy_free(&p);
    free(r.comp_ok), free(r.comp_abstain), free(r.comp_error), free(r.comp_pass), free(r.comp_sum);
    free(model_json);
    json_object_put(cfg);
    free(c.model), free(c.tokenizer), free(c.data), free(c.completions), free(c.mix), free(c.output);
    free(c.rejected_out), free(c.summary), free(c.prompt_template), free(c.chat_template), free(c.system_prompt);
    free(c.dedupe), free(c.lang_component), free(c.output_prompt), free(c.device);
    rlvr_run_args_free(&args);
    return rc;
}
