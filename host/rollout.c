/*
 * rollout.c -- problems, sampled completions and their scoring, shared by
 * `rlvr train` and `rlvr eval` (see rollout.h).
 *
 * The scorer's thread takes jobs (slices of completions) from a queue in
 * submission order; the engine is used by that thread alone, so the main
 * thread is free to sample the next chunk meanwhile. A job's completions
 * are written only by the scorer until rlvr_scoring_wait returns.
 */
#include "rollout.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "mix.h"
#include "util.h"

/* ---- prompts ---------------------------------------------------------------------- */

/* DeepSeek-R1-Zero's template (the paper's Table 1), with {prompt} where the
 * question goes. */
static const char R1_ZERO_TEMPLATE[] =
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. User: {prompt}. "
    "Assistant:";

static const char R1_SYSTEM_PROMPT[] =
    "You are a careful assistant that reasons before it answers. Write your reasoning inside <think> </think> "
    "tags, then the final answer inside <answer> </answer> tags; put a mathematical result in \\boxed{}.";

const char *rlvr_prompt_template_named(const char *name)
{
    if (!strcmp(name, "plain"))
        return "{prompt}";
    if (!strcmp(name, "r1_zero"))
        return R1_ZERO_TEMPLATE;
    return NULL;
}

const char *rlvr_system_prompt_named(const char *name)
{
    return !strcmp(name, "r1") ? R1_SYSTEM_PROMPT : NULL;
}

/* text with every "{prompt}" of tmpl replaced by prompt[0..n). */
static void apply_template(const char *tmpl, const char *prompt, size_t n, rlvr_buf *out)
{
    const char *at;
    while ((at = strstr(tmpl, "{prompt}"))) {
        rlvr_buf_add(out, tmpl, (size_t)(at - tmpl));
        rlvr_buf_add(out, prompt, n);
        tmpl = at + 8;
    }
    rlvr_buf_adds(out, tmpl);
}

int rlvr_prompt_encode(const struct rlvr_policy *p, const struct rlvr_prompt_format *f, json_object *prompt,
                       rlvr_tok_ids *out, char *err, size_t err_len)
{
    size_t bad = 0;
    if (json_object_is_type(prompt, json_type_string)) {
        rlvr_buf text = {0};
        apply_template(f->template_text ? f->template_text : "{prompt}", json_object_get_string(prompt),
                       (size_t)json_object_get_string_len(prompt), &text);
        int rc;
        if (text.oom) {
            rlvr_errf(err, err_len, "out of memory");
            rc = -1;
        } else if (!f->chatml) {
            /* special tokens written in the text are read as tokens, as
             * Hugging Face tokenizers (and so TRL) read them */
            rc = rlvr_tok_encode(p->tok, text.ptr ? text.ptr : "", text.len, 1, out, &bad, err, err_len);
        } else {
            rlvr_tok_chat_msg m[2];
            size_t k = 0;
            if (f->system_prompt)
                m[k++] = (rlvr_tok_chat_msg){"system", f->system_prompt, strlen(f->system_prompt)};
            m[k++] = (rlvr_tok_chat_msg){"user", text.ptr ? text.ptr : "", text.len};
            rc = rlvr_tok_encode_chat(p->tok, m, k, 1, out, &bad, err, err_len);
        }
        rlvr_buf_free(&text);
        return rc;
    }
    if (!json_object_is_type(prompt, json_type_array)) {
        rlvr_errf(err, err_len, "\"prompt\" must be a string or a list of messages");
        return -1;
    }
    size_t n = json_object_array_length(prompt);
    rlvr_tok_chat_msg *m = calloc(n + 1, sizeof *m);
    if (!m) {
        rlvr_errf(err, err_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *msg = json_object_array_get_idx(prompt, i), *role, *content;
        if (!json_object_object_get_ex(msg, "role", &role) || !json_object_object_get_ex(msg, "content", &content) ||
            !json_object_is_type(role, json_type_string) || !json_object_is_type(content, json_type_string)) {
            free(m);
            rlvr_errf(err, err_len, "\"prompt\" message %zu needs string \"role\" and \"content\"", i);
            return -1;
        }
        m[i] = (rlvr_tok_chat_msg){json_object_get_string(role), json_object_get_string(content),
                                   (size_t)json_object_get_string_len(content)};
    }
    int rc = rlvr_tok_encode_chat(p->tok, m, n, 1, out, &bad, err, err_len);
    free(m);
    return rc;
}

int rlvr_problems_load(const char *path, const struct rlvr_policy *p, const struct rlvr_prompt_format *f,
                       int max_prompt_tokens, FILE *warn, const char *who, struct rlvr_problem_set *out,
                       char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    FILE *in = fopen(path, "rb");
    if (!in) {
        rlvr_errf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    char *line = NULL, msg[512], num[32];
    size_t line_cap = 0;
    long lineno = 0;
    ssize_t got;
    int rc = 0;
    while ((got = getline(&line, &line_cap, in)) >= 0) {
        lineno++;
        size_t k = (size_t)got;
        while (k && (line[k - 1] == '\n' || line[k - 1] == '\r' || line[k - 1] == ' ' || line[k - 1] == '\t'))
            k--;
        if (!k)
            continue;
        json_tokener *tk = json_tokener_new();
        json_object *o = tk ? json_tokener_parse_ex(tk, line, (int)k) : NULL, *prompt, *id;
        int parsed = tk && json_tokener_get_error(tk) == json_tokener_success && json_tokener_get_parse_end(tk) == k;
        json_tokener_free(tk);
        const char *why = NULL;
        rlvr_tok_ids ids = {0};
        if (!parsed || !json_object_is_type(o, json_type_object))
            why = "not a JSON object";
        else if (!json_object_object_get_ex(o, "prompt", &prompt))
            why = "no \"prompt\" field";
        else if (rlvr_prompt_encode(p, f, prompt, &ids, msg, sizeof msg))
            why = msg;
        else if (!ids.n)
            why = "the prompt is empty";
        else if (max_prompt_tokens > 0 && ids.n > (size_t)max_prompt_tokens) {
            snprintf(msg, sizeof msg, "the prompt has %zu tokens, more than max_prompt_length %d", ids.n,
                     max_prompt_tokens);
            why = msg;
        }
        if (why) {
            if (warn)
                fprintf(warn, "%s: %s:%ld: skipped: %s\n", who, path, lineno, why);
            out->skipped++;
            rlvr_tok_ids_free(&ids);
            json_object_put(o);
            continue;
        }
        if (out->n == cap) {
            size_t nc = cap ? 2 * cap : 256;
            struct rlvr_problem *g = realloc(out->v, nc * sizeof *g);
            if (!g) {
                rlvr_tok_ids_free(&ids);
                json_object_put(o);
                rlvr_errf(err, err_len, "out of memory reading %s", path);
                rc = -1;
                break;
            }
            out->v = g;
            cap = nc;
        }
        struct rlvr_problem *pr = &out->v[out->n];
        pr->ids = ids;
        pr->fields = o;
        pr->line = lineno;
        snprintf(num, sizeof num, "%ld", lineno);
        pr->id = strdup(json_object_object_get_ex(o, "id", &id) && !json_object_is_type(id, json_type_null)
                            ? json_object_get_string(id)
                            : num);
        out->n++;
        if (!pr->id) {
            rlvr_errf(err, err_len, "out of memory reading %s", path);
            rc = -1;
            break;
        }
    }
    if (!rc && ferror(in)) {
        rlvr_errf(err, err_len, "reading %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(in);
    if (rc)
        rlvr_problems_free(out);
    return rc;
}

void rlvr_problems_free(struct rlvr_problem_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        rlvr_tok_ids_free(&s->v[i].ids);
        json_object_put(s->v[i].fields);
        free(s->v[i].id);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- completions ------------------------------------------------------------------ */

int rlvr_completion_finish(struct rlvr_completion *c, const struct rlvr_policy *p, char *err, size_t err_len)
{
    const struct rlvr_gen_sequence *q = &c->seq;
    int n = q->finish == RLVR_FINISH_STOP_TOKEN ? q->n_tokens - 1 : q->n_tokens;
    rlvr_buf raw = {0}, text = {0}, line = {0};
    int rc = -1;
    /* token by token: an id the tokenizer lacks (the embedding table may
     * be larger than the vocabulary) is the model's failure, written as
     * U+FFFD, not the sample's end; special tokens are not text */
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *bytes = rlvr_tok_token_bytes(p->tok, q->tokens[i], &len);
        if (!bytes)
            rlvr_buf_adds(&raw, "\xEF\xBF\xBD");
        else if (!rlvr_tok_is_special(p->tok, q->tokens[i]))
            rlvr_buf_add(&raw, bytes, len);
    }
    size_t len = q->finish == RLVR_FINISH_STOP_STRING && q->text_cut < raw.len ? q->text_cut : raw.len;
    rlvr_tok_utf8_replace(raw.ptr ? raw.ptr : "", len, &text);
    if (!text.ptr)
        rlvr_buf_adds(&text, "");
    rlvr_buf_addc(&line, '{');
    json_object_object_foreach(c->problem->fields, key, val)
    {
        if (!strcmp(key, "completion") || !strcmp(key, "completion_tokens") || !strcmp(key, "finish_reason") ||
            !strcmp(key, "sample") || !strcmp(key, "group") || !strcmp(key, "id"))
            continue;
        rlvr_buf_json_string(&line, key, strlen(key));
        rlvr_buf_addc(&line, ':');
        rlvr_buf_adds(&line,
                      json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        rlvr_buf_addc(&line, ',');
    }
    /* the id names the problem and the sample; the group is the rollout's */
    rlvr_buf_adds(&line, "\"id\":");
    {
        rlvr_buf id = {0};
        rlvr_buf_printf(&id, "%s#%d", c->problem->id, c->sample);
        rlvr_buf_json_string(&line, id.ptr ? id.ptr : "", id.len);
        if (id.oom)
            line.oom = 1;
        rlvr_buf_free(&id);
    }
    rlvr_buf_printf(&line, ",\"group\":\"%d\",\"completion\":", c->group);
    rlvr_buf_json_string(&line, text.ptr, text.len);
    rlvr_buf_printf(&line, ",\"completion_tokens\":%d,\"finish_reason\":\"%s\",\"sample\":%d}", q->n_tokens,
                    rlvr_finish_name(q->finish), c->sample);
    if (text.oom || line.oom) {
        rlvr_errf(err, err_len, "out of memory");
        goto out;
    }
    c->text = text.ptr, c->text_len = text.len;
    c->line = line.ptr, c->line_len = line.len;
    text.ptr = line.ptr = NULL;
    rc = 0;
out:
    rlvr_buf_free(&raw);
    rlvr_buf_free(&text);
    rlvr_buf_free(&line);
    return rc;
}

void rlvr_completions_free(struct rlvr_completion *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].seq.tokens);
        free(c[i].seq.logprobs);
        free(c[i].text);
        free(c[i].line);
        free(c[i].comp);
        free(c[i].comp_status);
        free(c[i].result);
        memset(&c[i], 0, sizeof c[i]);
    }
}

/* ---- scoring ---------------------------------------------------------------------- */

struct job {
    struct rlvr_completion *c;
    size_t n;
    struct job *next;
};

struct rlvr_scoring {
    rlvr_mix *mix;
    rlvr_engine *eng;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    struct job *head, *tail;
    int busy, quit, failed;
    double seconds;
    char err[256];
};

/* Fills c's scoring fields from its result line. */
static void read_result(rlvr_scoring *s, struct rlvr_completion *c, const rlvr_outcome *oc)
{
    size_t k = s->mix->n_entries;
    c->failed = oc->failed;
    c->reward = oc->reward_null ? NAN : oc->reward;
    c->result = strndup(oc->json->ptr, oc->json->len);
    c->comp = malloc((k ? k : 1) * sizeof *c->comp);
    c->comp_status = malloc(k ? k : 1);
    if (!c->comp || !c->comp_status || !c->result) {
        c->failed = 1;
        c->reward = NAN;
        return;
    }
    json_object *r = json_tokener_parse(c->result), *comps = NULL, *details = NULL;
    if (r) {
        json_object_object_get_ex(r, "components", &comps);
        json_object_object_get_ex(r, "details", &details);
    }
    for (size_t i = 0; i < k; i++) {
        const char *name = s->mix->all[i]->name;
        json_object *v, *d, *st;
        c->comp[i] = NAN;
        c->comp_status[i] = RLVR_COMP_ABSENT;
        if (!comps || !json_object_object_get_ex(comps, name, &v))
            continue;
        if (!json_object_is_type(v, json_type_null)) {
            c->comp[i] = json_object_get_double(v);
            c->comp_status[i] = RLVR_COMP_OK;
            continue;
        }
        c->comp_status[i] = RLVR_COMP_ABSTAIN;
        if (details && json_object_object_get_ex(details, name, &d) && json_object_object_get_ex(d, "status", &st) &&
            !strcmp(json_object_get_string(st), "error"))
            c->comp_status[i] = RLVR_COMP_ERROR;
    }
    json_object_put(r);
}

static int score_job(rlvr_scoring *s, struct job *j)
{
    rlvr_line *lines = malloc((j->n ? j->n : 1) * sizeof *lines);
    if (!lines)
        return -1;
    for (size_t i = 0; i < j->n; i++)
        lines[i] = (rlvr_line){j->c[i].line, j->c[i].line_len, (int64_t)i + 1};
    size_t done = rlvr_engine_score(s->eng, lines, j->n, 1);
    free(lines);
    if (done != j->n)
        return -1;
    for (size_t i = 0; i < j->n; i++) {
        rlvr_outcome oc;
        rlvr_engine_outcome(s->eng, i, &oc);
        read_result(s, &j->c[i], &oc);
    }
    rlvr_engine_count(s->eng, j->n);
    return 0;
}

static void *scorer_main(void *arg)
{
    rlvr_scoring *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->quit)
            pthread_cond_wait(&s->wake, &s->lock);
        if (!s->head && s->quit)
            break;
        struct job *j = s->head;
        s->head = j->next;
        if (!s->head)
            s->tail = NULL;
        s->busy = 1;
        pthread_mutex_unlock(&s->lock);
        double t0 = rlvr_now();
        int rc = score_job(s, j);
        double dt = rlvr_now() - t0;
        free(j);
        pthread_mutex_lock(&s->lock);
        s->seconds += dt;
        if (rc && !s->failed) {
            s->failed = 1;
            snprintf(s->err, sizeof s->err, "scoring ran out of memory");
        }
        s->busy = 0;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

rlvr_scoring *rlvr_scoring_new(const char *mix_path, rlvr_registry *reg, int threads, char *err, size_t err_len)
{
    rlvr_scoring *s = calloc(1, sizeof *s);
    if (!s) {
        rlvr_errf(err, err_len, "out of memory");
        return NULL;
    }
    if (!(s->mix = rlvr_mix_load(mix_path, reg, err, err_len))) {
        free(s);
        return NULL;
    }
    if (!(s->eng = rlvr_engine_new(s->mix, NULL, threads, err, err_len))) {
        rlvr_mix_free(s->mix);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->done, NULL);
    if (pthread_create(&s->thread, NULL, scorer_main, s)) {
        rlvr_errf(err, err_len, "cannot start the scoring thread");
        rlvr_engine_free(s->eng);
        rlvr_mix_free(s->mix);
        free(s);
        return NULL;
    }
    return s;
}

void rlvr_scoring_free(rlvr_scoring *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->quit = 1;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    while (s->head) {
        struct job *j = s->head;
        s->head = j->next;
        free(j);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->done);
    rlvr_engine_free(s->eng);
    rlvr_mix_free(s->mix);
    free(s);
}

size_t rlvr_scoring_components(const rlvr_scoring *s) { return s->mix->n_entries; }

const char *rlvr_scoring_component_name(const rlvr_scoring *s, size_t i) { return s->mix->all[i]->name; }

int rlvr_scoring_component_index(const rlvr_scoring *s, const char *name)
{
    for (size_t i = 0; i < s->mix->n_entries; i++)
        if (!strcmp(s->mix->all[i]->name, name))
            return (int)i;
    return -1;
}

int rlvr_scoring_set_step(rlvr_scoring *s, long step, char *err, size_t err_len)
{
    return rlvr_mix_set_step(s->mix, (int64_t)step, err, err_len);
}

int rlvr_scoring_submit(rlvr_scoring *s, struct rlvr_completion *c, size_t n, char *err, size_t err_len)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        rlvr_errf(err, err_len, "out of memory");
        return -1;
    }
    j->c = c, j->n = n;
    pthread_mutex_lock(&s->lock);
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int rlvr_scoring_wait(rlvr_scoring *s, double *seconds, char *err, size_t err_len)
{
    pthread_mutex_lock(&s->lock);
    while (s->head || s->busy)
        pthread_cond_wait(&s->done, &s->lock);
    int rc = s->failed ? -1 : 0;
    if (rc)
        rlvr_errf(err, err_len, "%s", s->err);
    s->failed = 0;
    if (seconds)
        *seconds = s->seconds;
    s->seconds = 0;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- sampling a set of problems ---------------------------------------------------- */

int rlvr_rollout(struct rlvr_policy *p, const struct rlvr_sampling *s, struct rlvr_problem *const *problems,
                 size_t n, int G, uint64_t stream_base, int chunk_prompts, rlvr_scoring *scorer,
                 struct rlvr_completion *out, struct rlvr_gen_stats *stats, char *err, size_t err_len)
{
    if (chunk_prompts < 1)
        chunk_prompts = 1;
    const int32_t **ids = malloc((size_t)chunk_prompts * sizeof *ids);
    int *lens = malloc((size_t)chunk_prompts * sizeof *lens);
    struct rlvr_gen_sequence *seq = calloc((size_t)chunk_prompts * (size_t)G, sizeof *seq);
    int rc = 0;
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!ids || !lens || !seq) {
        rlvr_errf(err, err_len, "out of memory");
        rc = -1;
    }
    size_t made = 0; /* completions written into out */
    for (size_t first = 0; !rc && first < n; first += (size_t)chunk_prompts) {
        int k = (int)(n - first < (size_t)chunk_prompts ? n - first : (size_t)chunk_prompts);
        for (int i = 0; i < k; i++) {
            ids[i] = problems[first + (size_t)i]->ids.v;
            lens[i] = (int)problems[first + (size_t)i]->ids.n;
        }
        struct rlvr_gen_stats st;
        char msg[512];
        if (rlvr_generate(&p->model, s, ids, lens, k, G, (stream_base + first) * (uint64_t)G, rlvr_policy_piece,
                          p->tok, seq, &st, msg, sizeof msg)) {
            rlvr_errf(err, err_len, "generating for problems %s..%s: %s", problems[first]->id,
                      problems[first + (size_t)k - 1]->id, msg);
            rc = -1;
            break;
        }
        if (stats) {
            stats->prompt_tokens += st.prompt_tokens;
            stats->generated_tokens += st.generated_tokens;
            stats->prefill_seconds += st.prefill_seconds;
            stats->decode_seconds += st.decode_seconds;
        }
        struct rlvr_completion *c = out + first * (size_t)G;
        for (int i = 0; i < k * G; i++) {
            memset(&c[i], 0, sizeof c[i]);
            c[i].seq = seq[i];
            c[i].problem = problems[first + (size_t)(i / G)];
            c[i].sample = i % G;
            c[i].group = (int)(first + (size_t)(i / G));
            c[i].reward = NAN;
            if (!rc && rlvr_completion_finish(&c[i], p, err, err_len))
                rc = -1;
        }
        memset(seq, 0, (size_t)k * (size_t)G * sizeof *seq);
        made += (size_t)k * (size_t)G;
        if (!rc && scorer && rlvr_scoring_submit(scorer, c, (size_t)k * (size_t)G, err, err_len))
            rc = -1;
    }
    if (rc) {
        char ignored[64];
        if (scorer) /* earlier chunks may be in the scorer's hands */
            rlvr_scoring_wait(scorer, NULL, ignored, sizeof ignored);
        rlvr_completions_free(out, made);
    }
    free(ids);
    free(lens);
    free(seq);
    return rc;
}
