/*
 * sft_cmd.c -- `rlvr sft CONFIG.lua`: supervised fine-tuning on JSONL
 * {prompt, completion}, with the loss on the completion's tokens only (R1's
 * cold start; TRL's SFTTrainer with completion_only_loss).
 *
 * Per optimizer step: gradient_accumulation_steps micro-batches of
 * per_device_train_batch_size sequences, each padded on the right to its
 * longest; the loss is the mean negative log-likelihood over every
 * completion token of the whole step (as transformers does since it counts
 * the step's items), so accumulation does not change the result. Data order:
 * one permutation per epoch drawn from (seed, epoch), so a run resumed from
 * a checkpoint sees the same batches as one that never stopped.
 *
 * Output folder: metrics.jsonl (one line per logging step), checkpoint-N/
 * every save_steps (the policy in float32, optimizer.bin, trainer_state.json)
 * and the final policy at the top in save_dtype, with a trainer_state.json
 * naming its step (rlvr sample reads it for source.step). --resume (or
 * resume_from_checkpoint = true) continues from the newest checkpoint-N,
 * bit for bit. Ctrl-C finishes the current step, saves a checkpoint and
 * exits.
 *
 * device = "cuda" (host/device.h) trains the same model on the GPU
 * (gpu/gpu_model.h, fp32 with TF32 off, the path that matches the CPU): the
 * model is built or loaded on the CPU, copied to the device, stepped there
 * with the CPU schedule's rate at each step, and copied back for every
 * checkpoint and the final save, so the files are the CPU run's format.
 * AdamW's moments stay on the device between checkpoints; each checkpoint
 * brings them to the host and writes optimizer.bin as the CPU does
 * (train_gpu.h's rlvr_adamw_from_gpu), and --resume on the GPU uploads the
 * checkpoint's (rlvr_adamw_to_gpu), so a run checkpointed on either device
 * resumes on either, the GPU continuing bit for bit as it would have.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "device.h"
#include "generate_gpu.h"
#include "gpu.h"
#include "grpo.h"
#include "optim.h"
#include "policy.h"
#include "runconfig.h"
#include "sampler.h"
#include "train_gpu.h"
#include "util.h"

struct sft_config {
    char *model, *tokenizer, *data, *output_dir, *chat_template, *system_prompt, *lr_scheduler_type;
    char *save_dtype, *device;
    json_object *model_init;
    double learning_rate, weight_decay, max_grad_norm, adam_beta1, adam_beta2, adam_epsilon, warmup_ratio;
    long warmup_steps, num_train_epochs, max_steps, per_device_train_batch_size, gradient_accumulation_steps;
    long max_length, seed, logging_steps, save_steps, init_seed;
    int resume_from_checkpoint, progress;
};

static void defaults(struct sft_config *c)
{
    memset(c, 0, sizeof *c);
    c->learning_rate = 2e-5;
    c->max_grad_norm = 1.0;
    c->adam_beta1 = 0.9;
    c->adam_beta2 = 0.999;
    c->adam_epsilon = 1e-8;
    c->num_train_epochs = 1;
    c->max_steps = -1;
    c->per_device_train_batch_size = 8;
    c->gradient_accumulation_steps = 1;
    c->max_length = 1024;
    c->seed = 42;
    c->init_seed = 0;
    c->logging_steps = 10;
    c->save_steps = 500;
    c->progress = 1;
}

enum { N_KEYS = 29 }; /* the keys below; the table ends with a NULL entry */
static void keys_of(struct sft_config *c, struct rlvr_key *k)
{
    const struct rlvr_key all[] = {
        {"model", RLVR_KEY_PATH, &c->model, "checkpoint folder to start from (config.json, safetensors)"},
        {"model_init", RLVR_KEY_JSON, &c->model_init,
         "instead of model: \"tiny\", or a table of config.json fields, for a fresh model"},
        {"init_seed", RLVR_KEY_INT, &c->init_seed, "seed of a fresh model's weights (0)"},
        {"tokenizer", RLVR_KEY_PATH, &c->tokenizer, "tokenizer.json or \"bytes\" (default: the model's)"},
        {"data", RLVR_KEY_PATH, &c->data, "JSONL with \"prompt\" and \"completion\" (required)"},
        {"output_dir", RLVR_KEY_STR, &c->output_dir, "where checkpoints and metrics go, from the current folder (required)"},
        {"chat_template", RLVR_KEY_STR, &c->chat_template,
         "\"none\" (prompt + completion as text, then EOS) or \"chatml\" (default none)"},
        {"system_prompt", RLVR_KEY_STR, &c->system_prompt, "a system turn (chatml only)"},
        {"learning_rate", RLVR_KEY_NUM, &c->learning_rate, "peak learning rate (2e-5)"},
        {"lr_scheduler_type", RLVR_KEY_STR, &c->lr_scheduler_type, "constant, linear or cosine (linear)"},
        {"warmup_steps", RLVR_KEY_INT, &c->warmup_steps, "linear warmup steps (0)"},
        {"warmup_ratio", RLVR_KEY_NUM, &c->warmup_ratio, "warmup as a fraction of the steps, if no warmup_steps"},
        {"weight_decay", RLVR_KEY_NUM, &c->weight_decay, "AdamW decay on matrices (0)"},
        {"max_grad_norm", RLVR_KEY_NUM, &c->max_grad_norm, "clip the global gradient norm (1; 0 off)"},
        {"adam_beta1", RLVR_KEY_NUM, &c->adam_beta1, "(0.9)"},
        {"adam_beta2", RLVR_KEY_NUM, &c->adam_beta2, "(0.999)"},
        {"adam_epsilon", RLVR_KEY_NUM, &c->adam_epsilon, "(1e-8)"},
        {"num_train_epochs", RLVR_KEY_INT, &c->num_train_epochs, "passes over the data (1)"},
        {"max_steps", RLVR_KEY_INT, &c->max_steps, "optimizer steps; overrides epochs when > 0 (-1)"},
        {"per_device_train_batch_size", RLVR_KEY_INT, &c->per_device_train_batch_size, "sequences per micro-batch (8)"},
        {"gradient_accumulation_steps", RLVR_KEY_INT, &c->gradient_accumulation_steps, "micro-batches per step (1)"},
        {"max_length", RLVR_KEY_INT, &c->max_length, "tokens per sequence; longer ones are cut at the end (1024)"},
        {"seed", RLVR_KEY_INT, &c->seed, "data order (42)"},
        {"logging_steps", RLVR_KEY_INT, &c->logging_steps, "metrics every N steps (10)"},
        {"save_steps", RLVR_KEY_INT, &c->save_steps, "checkpoint every N steps (500; 0: at the end only)"},
        {"save_dtype", RLVR_KEY_STR, &c->save_dtype, "the final model's dtype: float32, bfloat16, float16 (float32)"},
        {"resume_from_checkpoint", RLVR_KEY_BOOL, &c->resume_from_checkpoint, "continue from the newest checkpoint"},
        {"progress", RLVR_KEY_BOOL, &c->progress, "a progress bar on a terminal (true)"},
        {"device", RLVR_KEY_STR, &c->device, RLVR_DEVICE_HELP},
        {NULL, 0, NULL, NULL}};
    _Static_assert(sizeof all / sizeof all[0] == N_KEYS + 1, "N_KEYS counts the keys");
    memcpy(k, all, sizeof all);
}

struct example {
    int32_t *ids;
    int len, prompt_len;         /* tokens; the loss covers [prompt_len, len) */
};

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Tokenizes one example into ids; returns 0, 1 (skipped, message in err) or
 * -1. */
static int tokenize(const struct rlvr_policy *p, const struct sft_config *c, const char *prompt, size_t plen,
                    const char *completion, size_t clen, int32_t eos, struct example *ex, char *err,
                    size_t err_len)
{
    rlvr_tok_ids ids = {0};
    size_t bad = 0;
    int rc;
    if (!strcmp(c->chat_template, "chatml")) {
        rlvr_tok_chat_msg m[2];
        size_t k = 0;
        if (c->system_prompt)
            m[k++] = (rlvr_tok_chat_msg){"system", c->system_prompt, strlen(c->system_prompt)};
        m[k++] = (rlvr_tok_chat_msg){"user", prompt, plen};
        rc = rlvr_tok_encode_chat(p->tok, m, k, 1, &ids, &bad, err, err_len);
    } else {
        rc = rlvr_tok_encode(p->tok, prompt, plen, 0, &ids, &bad, err, err_len);
    }
    size_t prompt_len = ids.n;
    if (!rc)
        rc = rlvr_tok_encode(p->tok, completion, clen, 0, &ids, &bad, err, err_len);
    if (!rc && eos >= 0)
        rc = rlvr_tok_ids_push(&ids, eos);
    if (rc) {
        rlvr_tok_ids_free(&ids);
        return -1;
    }
    if (prompt_len + 1 >= (size_t)c->max_length || ids.n == prompt_len) {
        rlvr_errf(err, err_len, "the prompt has %zu tokens, leaving no completion token within max_length %ld",
                  prompt_len, c->max_length);
        rlvr_tok_ids_free(&ids);
        return 1;
    }
    ex->ids = ids.v;
    ex->len = (int)(ids.n < (size_t)c->max_length ? ids.n : (size_t)c->max_length);
    ex->prompt_len = (int)prompt_len;
    return 0;
}

static struct example *read_data(const struct rlvr_policy *p, const struct sft_config *c, int32_t eos, size_t *n_out,
                                 long *skipped)
{
    FILE *f = fopen(c->data, "rb");
    if (!f) {
        fprintf(stderr, "rlvr sft: cannot open %s: %s\n", c->data, strerror(errno));
        return NULL;
    }
    size_t cap = 64, n = 0;
    struct example *ex = malloc(cap * sizeof *ex);
    char *line = NULL, err[512];
    size_t line_cap = 0;
    long lineno = 0;
    ssize_t got;
    while (ex && (got = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        size_t k = (size_t)got;
        while (k && (line[k - 1] == '\n' || line[k - 1] == '\r'))
            k--;
        if (!k)
            continue;
        json_tokener *tk = json_tokener_new();
        json_object *o = json_tokener_parse_ex(tk, line, (int)k), *pr, *co;
        int parsed = json_tokener_get_error(tk) == json_tokener_success && json_tokener_get_parse_end(tk) == k;
        json_tokener_free(tk);
        const char *why = NULL;
        if (!parsed || !json_object_is_type(o, json_type_object))
            why = "not a JSON object";
        else if (!json_object_object_get_ex(o, "prompt", &pr) || !json_object_is_type(pr, json_type_string))
            why = "field \"prompt\" (a string) is missing";
        else if (!json_object_object_get_ex(o, "completion", &co) || !json_object_is_type(co, json_type_string))
            why = "field \"completion\" (a string) is missing";
        if (!why) {
            if (n == cap) {
                struct example *g = realloc(ex, 2 * cap * sizeof *ex);
                if (!g) {
                    json_object_put(o);
                    break;
                }
                ex = g;
                cap *= 2;
            }
            int rc = tokenize(p, c, json_object_get_string(pr), (size_t)json_object_get_string_len(pr),
                              json_object_get_string(co), (size_t)json_object_get_string_len(co), eos, &ex[n], err,
                              sizeof err);
            if (rc == 0)
                n++;
            else
                why = err;
        }
        if (why) {
            fprintf(stderr, "rlvr sft: %s:%ld: skipped: %s\n", c->data, lineno, why);
            (*skipped)++;
        }
        json_object_put(o);
    }
    free(line);
    fclose(f);
    *n_out = n;
    return ex;
}

static void progress_bar(long step, long total, double loss, double lr, double tps)
{
    int width = 30, fill = total ? (int)(width * step / total) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r[%s] step %ld/%ld  loss %.4f  lr %.3g  %.0f tokens/s ", bar, step, total, loss, lr, tps);
    fflush(stderr);
}

/* A GPU run's checkpoint-N: the weights and AdamW's state brought back and
 * saved as the CPU path saves them (the host copy of the moments is
 * dropped again: they live on the device). */
static int gpu_checkpoint_save(struct rlvr_gpu_model *g, struct rlvr_policy *p, struct rlvr_adamw *opt,
                               const char *out_dir, long step, const char *state_json, char *err, size_t err_len)
{
    int rc = rlvr_gpu_model_download(g, p->model.params, p->model.n_params, err, err_len) ||
                     rlvr_adamw_from_gpu(opt, g, err, err_len) ||
                     rlvr_run_checkpoint_save(p, opt, out_dir, step, state_json, err, err_len)
                 ? -1
                 : 0;
    rlvr_adamw_drop_moments(opt);
    return rc;
}

static void usage(FILE *f, struct rlvr_key *keys)
{
    fputs("usage: rlvr sft CONFIG.lua [--resume] [--KEY=VALUE ...]\n"
          "CONFIG.lua returns a table with these keys (names as in TRL's SFTConfig);\n"
          "--KEY=VALUE overrides one (VALUE read as JSON when it parses, else text):\n",
          f);
    rlvr_runconfig_print_keys(keys, f);
}

int rlvr_cmd_sft(int argc, char **argv)
{
    struct sft_config c;
    struct rlvr_key keys[N_KEYS + 1];
    defaults(&c);
    keys_of(&c, keys);
    struct rlvr_run_args args;
    int start = rlvr_run_args_start("rlvr sft", argc, argv, 1, 1, usage, keys, &args);
    if (start >= 0)
        return start;
    char err[1024];
    const char *path = args.path;
    json_object *cfg = NULL;
    int rc = 2;
    struct rlvr_policy p;
    memset(&p, 0, sizeof p);
    struct rlvr_adamw opt;
    memset(&opt, 0, sizeof opt);
    struct example *ex = NULL;
    size_t n_ex = 0;
    FILE *metrics = NULL;
    size_t *perm = NULL;
    int32_t *tokens = NULL, *targets = NULL;
    uint8_t *rows = NULL;
    const struct example **mb = NULL;
    float *logits = NULL, *logp = NULL, *lse = NULL, *dlogp = NULL;
    struct rlvr_gpu_model *gm = NULL;
    if (rlvr_runconfig_load(path, args.over, args.n_over, &cfg, err, sizeof err) ||
        rlvr_runconfig_read(cfg, path, keys, err, sizeof err)) {
        fprintf(stderr, "rlvr sft: %s\n", err);
        goto out;
    }
    if (!c.chat_template)
        c.chat_template = strdup("none");
    if (!c.lr_scheduler_type)
        c.lr_scheduler_type = strdup("linear");
    if (!c.save_dtype)
        c.save_dtype = strdup("float32");
    int resume = args.resume || c.resume_from_checkpoint;
    enum rlvr_dtype save_dtype;
    const char *problem = NULL;
    if (!c.data || !c.output_dir)
        problem = "'data' and 'output_dir' are required";
    else if ((c.model != NULL) == (c.model_init != NULL))
        problem = "give exactly one of 'model' (a checkpoint folder) and 'model_init' (a fresh model)";
    else if (strcmp(c.chat_template, "none") && strcmp(c.chat_template, "chatml"))
        problem = "'chat_template' must be \"none\" or \"chatml\"";
    else if (rlvr_lr_schedule_parse(c.lr_scheduler_type) < 0)
        problem = "'lr_scheduler_type' must be constant, linear or cosine";
    else if (rlvr_dtype_parse(c.save_dtype, &save_dtype))
        problem = "'save_dtype' must be float32, bfloat16 or float16";
    else if (c.per_device_train_batch_size < 1 || c.gradient_accumulation_steps < 1 || c.max_length < 2 ||
             c.num_train_epochs < 1 || c.logging_steps < 1 || c.save_steps < 0)
        problem = "batch sizes, max_length (>= 2), epochs and logging_steps must be positive, save_steps >= 0";
    if (problem) {
        fprintf(stderr, "rlvr sft: %s: %s\n", path, problem);
        goto out;
    }
    enum rlvr_device device;
    if (rlvr_device_resolve("rlvr sft", c.device, NULL, &device, err, sizeof err)) {
        fprintf(stderr, "rlvr sft: %s: %s\n", path, err);
        goto out;
    }
    if (rlvr_mkdirs(c.output_dir)) {
        fprintf(stderr, "rlvr sft: cannot create %s: %s\n", c.output_dir, strerror(errno));
        goto out;
    }
    long start_step = 0;
    long ck = resume ? rlvr_newest_checkpoint(c.output_dir) : -1;
    char ckdir[4200];
    if (resume && ck < 0)
        fprintf(stderr, "rlvr sft: no checkpoint in %s to resume from; starting afresh\n", c.output_dir);
    if (ck >= 0) {
        snprintf(ckdir, sizeof ckdir, "%s/checkpoint-%ld", c.output_dir, ck);
        if (rlvr_policy_load(&p, ckdir, c.tokenizer, err, sizeof err)) {
            fprintf(stderr, "rlvr sft: resume: %s\n", err);
            goto out;
        }
        start_step = ck;
    } else if (rlvr_policy_from_config(&p, c.model, c.model_init, c.init_seed, c.tokenizer, path, err,
                                       sizeof err)) {
        fprintf(stderr, "rlvr sft: %s\n", err);
        goto out;
    }
    int32_t eos = -1;
    if (!strcmp(c.chat_template, "chatml")) {
        eos = rlvr_tok_token_id(p.tok, "<|im_end|>", 10);
        if (eos < 0) {
            fprintf(stderr, "rlvr sft: chat_template chatml needs <|im_end|> in the tokenizer (%s)\n",
                    p.tokenizer_path);
            goto out;
        }
    } else if (p.meta.n_eos) {
        eos = p.meta.eos_token_ids[0];
    }
    long skipped = 0;
    if (!(ex = read_data(&p, &c, eos, &n_ex, &skipped)))
        goto out;
    if (!n_ex) {
        fprintf(stderr, "rlvr sft: %s has no usable example\n", c.data);
        goto out;
    }
    long B = c.per_device_train_batch_size, A = c.gradient_accumulation_steps;
    long per_epoch = (long)((n_ex + (size_t)(B * A) - 1) / (size_t)(B * A));
    long total = c.max_steps > 0 ? c.max_steps : per_epoch * c.num_train_epochs;
    struct rlvr_optim_config oc;
    rlvr_optim_config_default(&oc);
    oc.lr = c.learning_rate, oc.beta1 = c.adam_beta1, oc.beta2 = c.adam_beta2, oc.eps = c.adam_epsilon;
    oc.weight_decay = c.weight_decay, oc.max_grad_norm = c.max_grad_norm;
    oc.schedule = rlvr_lr_schedule_parse(c.lr_scheduler_type);
    oc.total_steps = total;
    oc.warmup_steps = c.warmup_steps ? c.warmup_steps : (long)ceil(c.warmup_ratio * (double)total);
    /* on the GPU the gradients live there, and the host's moments only
     * until the checkpoint's are uploaded */
    if (rlvr_adamw_create(&opt, p.model.n_params, &oc, err, sizeof err) ||
        (device == RLVR_DEVICE_CPU && rlvr_model_enable_grads(&p.model, err, sizeof err))) {
        fprintf(stderr, "rlvr sft: %s\n", err);
        goto out;
    }
    if (ck >= 0) {
        char op[4300];
        snprintf(op, sizeof op, "%s/optimizer.bin", ckdir);
        if (rlvr_adamw_load(&opt, op, err, sizeof err)) {
            fprintf(stderr, "rlvr sft: resume: %s\n", err);
            goto out;
        }
        if (opt.step != start_step) {
            fprintf(stderr, "rlvr sft: resume: %s holds step %ld, the folder says %ld\n", op, opt.step, start_step);
            goto out;
        }
    }
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", c.output_dir);
    if (!(metrics = fopen(mpath, ck >= 0 ? "ab" : "wb"))) {
        fprintf(stderr, "rlvr sft: cannot write %s\n", mpath);
        goto out;
    }
    int T = (int)c.max_length, V = p.model.cfg.vocab_size;
    size_t NT = (size_t)B * T;
    perm = malloc(n_ex * sizeof *perm);
    tokens = malloc(NT * sizeof *tokens);
    targets = malloc(NT * sizeof *targets);
    rows = malloc(NT);
    mb = malloc((size_t)(A * B) * sizeof *mb);
    if (device == RLVR_DEVICE_CPU)
        logits = malloc(NT * V * sizeof(float));
    logp = malloc(NT * sizeof(float));
    lse = malloc(NT * sizeof(float));
    dlogp = malloc(NT * sizeof(float));
    if (!perm || !tokens || !targets || !rows || !mb || (!logits && device == RLVR_DEVICE_CPU) || !logp || !lse ||
        !dlogp) {
        fprintf(stderr, "rlvr sft: out of memory for batches of %ld x %d tokens (logits %.1f GB)\n", B, T,
                (double)NT * V * 4 / 1e9);
        goto out;
    }
    fprintf(stderr,
            "rlvr sft: %zu examples (%ld skipped), %ld steps of %ld x %ld sequences, %zu parameters, "
            "tokenizer %s%s\n",
            n_ex, skipped, total, B, A, p.model.n_params, p.tokenizer_path, ck >= 0 ? ", resumed" : "");
    struct rlvr_gpu_adamw_config gac = {oc.beta1, oc.beta2, oc.eps, oc.weight_decay, oc.max_grad_norm};
    if (device == RLVR_DEVICE_CUDA) {
        char desc[512];
        rlvr_gpu_describe(desc, sizeof desc);
        if (!(gm = rlvr_gpu_model_of(&p.model, RLVR_GPU_FP32, (int)B, T, err, sizeof err))) {
            fprintf(stderr, "rlvr sft: device = \"cuda\": %s\n", err);
            goto out;
        }
        if (ck >= 0 && rlvr_adamw_to_gpu(&opt, gm, err, sizeof err)) {
            fprintf(stderr, "rlvr sft: resume: %s\n", err);
            goto out;
        }
        rlvr_adamw_drop_moments(&opt);
        fprintf(stderr, "rlvr sft: on the GPU (%s), fp32, %.1f MiB of device memory\n", desc,
                (double)rlvr_gpu_model_bytes(gm) / 1048576.0);
    }
    signal(SIGINT, on_sigint);
    int tty = c.progress && isatty(2);
    long epoch_of_perm = -1;
    double t_start = rlvr_now(), t_log = t_start, loss_log = 0;
    long tokens_log = 0, steps_log = 0;
    rc = 0;
    long step;
    for (step = start_step; step < total && !interrupted; step++) {
        /* the step's examples: positions step*A*B .. +A*B-1 of the data
         * order, in A micro-batches of B */
        long n_tok = 0;
        for (long i = 0; i < A * B; i++) {
            long k = step * A * B + i, e = k / (long)n_ex;
            if (e != epoch_of_perm) {
                rlvr_data_order(perm, n_ex, (uint64_t)c.seed, e);
                epoch_of_perm = e;
            }
            mb[i] = &ex[perm[k % (long)n_ex]];
            n_tok += mb[i]->len - mb[i]->prompt_len;
        }
        double step_loss = 0;
        for (long a = 0; a < A && !rc; a++) {
            const struct example **x = mb + a * B;
            int Tm = 1;
            long nb = B;
            for (long b = 0; b < nb; b++)
                if (x[b]->len > Tm)
                    Tm = x[b]->len;
            size_t N = (size_t)nb * Tm;
            for (long b = 0; b < nb; b++)
                for (int t = 0; t < Tm; t++) {
                    size_t r = (size_t)b * Tm + t;
                    tokens[r] = t < x[b]->len ? x[b]->ids[t] : 0;
                    int next = t + 1;
                    rows[r] = next < x[b]->len && next >= x[b]->prompt_len;
                    targets[r] = rows[r] ? x[b]->ids[next] : 0;
                }
            if (gm) {
                double l = 0;
                float *d_logits;
                if (rlvr_gpu_model_forward(gm, tokens, (int)nb, Tm, &d_logits, err, sizeof err) ||
                    rlvr_gpu_model_sft_loss(gm, targets, rows, 1.0f / (float)n_tok, &l, err, sizeof err) ||
                    rlvr_gpu_model_backward(gm, NULL, err, sizeof err))
                    rc = 1;
                step_loss += l;
                continue;
            }
            if (rlvr_model_forward(&p.model, tokens, (int)nb, Tm, logits, err, sizeof err) ||
                rlvr_logprobs(logits, targets, rows, N, (size_t)V, 1.0f, logp, lse, NULL, err, sizeof err)) {
                rc = 1;
                break;
            }
            for (size_t r = 0; r < N; r++) {
                dlogp[r] = rows[r] ? -1.0f / (float)n_tok : 0.0f;
                if (rows[r])
                    step_loss -= (double)logp[r] / (double)n_tok;
            }
            if (rlvr_logprobs_backward(logits, targets, rows, lse, dlogp, N, (size_t)V, 1.0f, logits, err,
                                       sizeof err) ||
                rlvr_model_backward(&p.model, logits, err, sizeof err))
                rc = 1;
        }
        struct rlvr_optim_stats st;
        if (gm && !rc) {
            st.lr = rlvr_lr_at(&opt.cfg, opt.step);
            if (rlvr_gpu_model_adamw_step(gm, &gac, st.lr, &st.grad_norm, &st.clipped, err, sizeof err) ||
                rlvr_gpu_model_zero_grads(gm, err, sizeof err))
                rc = 1;
            else
                opt.step++;
        }
        if (rc || (!gm && rlvr_adamw_step(&opt, &p.model, &st, err, sizeof err))) {
            fprintf(stderr, "%srlvr sft: step %ld: %s\n", tty ? "\n" : "", step + 1, err);
            rc = 1;
            break;
        }
        rlvr_model_zero_grads(&p.model);
        loss_log += step_loss;
        tokens_log += n_tok;
        steps_log++;
        long done = step + 1;
        double now = rlvr_now();
        if (tty)
            progress_bar(done, total, step_loss, st.lr, (double)tokens_log / fmax(now - t_log, 1e-9));
        if (done % c.logging_steps == 0 || done == total) {
            double tps = (double)tokens_log / fmax(now - t_log, 1e-9);
            fprintf(metrics,
                    "{\"step\": %ld, \"epoch\": %.4f, \"loss\": %.6f, \"grad_norm\": %.6g, \"learning_rate\": %.6g, "
                    "\"completion_tokens\": %ld, \"tokens_per_second\": %.1f, \"elapsed\": %.2f}\n",
                    done, (double)(done * A * B) / (double)n_ex, loss_log / steps_log, st.grad_norm, st.lr, tokens_log,
                    tps, now - t_start);
            fflush(metrics);
            if (!tty)
                fprintf(stderr, "step %ld/%ld  loss %.4f  grad_norm %.3g  lr %.3g  %.0f tokens/s\n", done, total,
                        loss_log / steps_log, st.grad_norm, st.lr, tps);
            loss_log = 0, tokens_log = 0, steps_log = 0, t_log = now;
        }
        if ((c.save_steps && done % c.save_steps == 0) || interrupted || done == total) {
            char state[160];
            snprintf(state, sizeof state, "{\"global_step\": %ld, \"max_steps\": %ld, \"loss\": %.9g}", done, total,
                     step_loss);
            if (gm ? gpu_checkpoint_save(gm, &p, &opt, c.output_dir, done, state, err, sizeof err)
                   : rlvr_run_checkpoint_save(&p, &opt, c.output_dir, done, state, err, sizeof err)) {
                fprintf(stderr, "%srlvr sft: %s\n", tty ? "\n" : "", err);
                rc = 1;
                break;
            }
        }
    }
    if (tty)
        fputc('\n', stderr);
    if (rc)
        goto out;
    if (interrupted) {
        fprintf(stderr, "rlvr sft: interrupted at step %ld; checkpoint-%ld saved; --resume continues\n", step, step);
        rc = 130;
        goto out;
    }
    char final_state[96];
    snprintf(final_state, sizeof final_state, "{\"global_step\": %ld, \"max_steps\": %ld}", total, total);
    if ((gm && rlvr_gpu_model_download(gm, p.model.params, p.model.n_params, err, sizeof err)) ||
        rlvr_run_final_save(&p, c.output_dir, save_dtype, final_state, err, sizeof err)) {
        fprintf(stderr, "rlvr sft: %s\n", err);
        rc = 1;
        goto out;
    }
    fprintf(stderr, "rlvr sft: done: %ld steps in %.1f s; the model is in %s (%s)\n", total - start_step,
            rlvr_now() - t_start, c.output_dir, c.save_dtype);
    rc = skipped ? 1 : 0;
out:
    if (metrics)
        fclose(metrics);
    for (size_t i = 0; i < n_ex; i++)
        free(ex[i].ids);
    free(ex);
    free(perm);
    free(tokens);
    free(targets);
    free(rows);
    free(mb);
    free(logits);
    free(logp);
    free(lse);
    free(dlogp);
    rlvr_gpu_model_free(gm);
    rlvr_adamw_free(&opt);
    rlvr_policy_free(&p);
    json_object_put(cfg);
    free(c.model), free(c.tokenizer), free(c.data), free(c.output_dir), free(c.chat_template);
    free(c.system_prompt), free(c.lr_scheduler_type), free(c.save_dtype), free(c.device);
    rlvr_run_args_free(&args);
    return rc;
}
