/*
 * train_cmd.c -- `rlvr train CONFIG.lua`: GRPO, the loop of DeepSeek-R1-Zero.
 *
 * One step:
 *   1. take train_batch_size problems in the data order and sample
 *      num_generations completions of each with the current policy, a
 *      chunk of prompts at a time, each chunk scored by the mix on the
 *      scorer's thread while the next is sampled;
 *   2. group advantages (rlvr_advantages); with dynamic_sampling, groups
 *      whose rewards are all equal are dropped and more problems sampled
 *      until the batch is full or max_num_gen_batches is reached;
 *   3. log pi_old: the sampler's own log-probabilities (the same
 *      distribution the trainer computes: softmax(logits / temperature));
 *      with num_iterations and steps_per_generation 1 the ratio is 1 and
 *      pi_old is logp detached, as in TRL; log pi_ref from a frozen copy of the starting policy when
 *      beta > 0;
 *   4. num_iterations passes over the batch; each pass cuts the batch, in an
 *      order shuffled per step, into steps_per_generation mini-batches and
 *      takes one optimizer step per mini-batch, over micro-batches of
 *      per_device_train_batch_size completions (gradients accumulated, the
 *      loss aggregated as loss_type says). After the first optimizer step
 *      of a batch the policy has moved, so the ratio is taken against the
 *      sampler's log-probabilities.
 * Then metrics (metrics.jsonl, a readable line, a progress bar), sample
 * completions every log_completions_steps, evaluation on eval_data every
 * eval_steps, checkpoints every save_steps, and at the end the final policy
 * (with a trainer_state.json naming its step, as a checkpoint has),
 * eval and a plot (training.svg).
 *
 * Everything random is a function of (seed, position): the data order of
 * epoch e is drawn from (seed, e), and completion g of the problem at global
 * position i of that order draws from stream i * G + g. A checkpoint keeps
 * the policy, the optimizer and that position, so a resumed run takes the
 * very steps an unbroken one takes. Ctrl-C finishes the step, saves a
 * checkpoint and exits with status 130.
 *
 * device = "cuda" (host/device.h) runs the same steps on the GPU: the
 * policy (and the reference when beta > 0) is copied to the device in fp32
 * with TF32 off, rollouts and evaluation generate there
 * (generate_gpu.h's engine, bound with rlvr_generate_bind; the sampler's
 * draws stay on the host), and the update is host/train_gpu.c's on the
 * micro-batches this file lays out, so the bookkeeping is the CPU path's.
 * The weights come back to the host model for every checkpoint and the
 * final save, in the CPU run's format; so do AdamW's moments, which live on
 * the device and come to the host only for a checkpoint's optimizer.bin
 * (train_gpu.h's rlvr_adamw_from_gpu), and --resume on the GPU uploads the
 * checkpoint's (rlvr_adamw_to_gpu): a run checkpointed on either device
 * resumes on either. fused_lm_head_loss = true (GPU only; refused with
 * device = "cpu", ignored when "auto" falls back to the CPU) computes the
 * loss from the final hidden states and the LM head chunk by chunk
 * (train_gpu.h), never holding all the logits.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "advantage.h"
#include "commands.h"
#include "device.h"
#include "evaluate.h"
#include "generate_gpu.h"
#include "gpu.h"
#include "grpo.h"
#include "optim.h"
#include "plot.h"
#include "policy.h"
#include "rollout.h"
#include "runconfig.h"
#include "sampler.h"
#include "registry.h"
#include "train_gpu.h"
#include "util.h"

struct train_config {
    char *model, *tokenizer, *data, *mix, *output_dir, *eval_data, *eval_mix;
    char *prompt_template, *chat_template, *system_prompt, *loss_type, *scale_rewards, *lr_scheduler_type;
    char *accuracy_component, *save_dtype, *device;
    json_object *model_init;
    long init_seed, max_prompt_length, num_generations, train_batch_size, per_device_train_batch_size;
    long num_iterations, steps_per_generation, max_completion_length, top_k, max_num_gen_batches, warmup_steps, max_steps;
    long num_train_epochs, seed, logging_steps, save_steps, log_completions_steps, num_completions_to_print;
    long eval_steps, eval_num_samples, eval_max_problems, score_threads, generation_chunk;
    double beta, epsilon, epsilon_high, temperature, top_p, min_p, learning_rate, weight_decay, max_grad_norm;
    double adam_beta1, adam_beta2, adam_epsilon, warmup_ratio, eval_temperature;
    int mask_truncated_completions, dynamic_sampling, resume_from_checkpoint, progress, plot, eval_on_start;
    int fused_lm_head_loss;
};

static void defaults(struct train_config *c)
{
    memset(c, 0, sizeof *c);
    c->num_generations = 8;
    c->train_batch_size = 16;
    c->per_device_train_batch_size = 16;
    c->num_iterations = 1;
    c->steps_per_generation = 1;
    c->max_completion_length = 256;
    c->max_num_gen_batches = 4;
    c->beta = 0.001;
    c->epsilon = 0.2;
    c->epsilon_high = -1;
    c->temperature = 1.0;
    c->top_p = 1.0;
    c->learning_rate = 1e-6;
    c->max_grad_norm = 1.0;
    c->adam_beta1 = 0.9;
    c->adam_beta2 = 0.999;
    c->adam_epsilon = 1e-8;
    c->max_steps = -1;
    c->num_train_epochs = 1;
    c->seed = 42;
    c->logging_steps = 1;
    c->save_steps = 0;
    c->log_completions_steps = 10;
    c->num_completions_to_print = 2;
    c->eval_steps = 0;
    c->eval_num_samples = 1;
    c->eval_temperature = -1;
    c->score_threads = 1;
    c->generation_chunk = 8;
    c->progress = 1;
    c->plot = 1;
    c->eval_on_start = 1;
}

enum { N_KEYS = 61 }; /* the keys below; the table ends with a NULL entry */
static void keys_of(struct train_config *c, struct rlvr_key *k)
{
    const struct rlvr_key all[] = {
        {"model", RLVR_KEY_PATH, &c->model, "checkpoint folder to start from (e.g. the cold-start SFT's output)"},
        {"model_init", RLVR_KEY_JSON, &c->model_init,
         "instead of model: \"tiny\", or a table of config.json fields, for a fresh model"},
        {"init_seed", RLVR_KEY_INT, &c->init_seed, "seed of a fresh model's weights (0)"},
        {"tokenizer", RLVR_KEY_PATH, &c->tokenizer, "tokenizer.json or \"bytes\" (default: the model's)"},
        {"data", RLVR_KEY_PATH, &c->data, "JSONL problems: \"prompt\" and the fields the mix reads (required)"},
        {"mix", RLVR_KEY_PATH, &c->mix, "the reward mix (a Lua file, as for rlvr score) (required)"},
        {"output_dir", RLVR_KEY_STR, &c->output_dir, "checkpoints, metrics, plot; from the current folder (required)"},
        {"prompt_template", RLVR_KEY_STR, &c->prompt_template,
         "\"plain\", \"r1_zero\", or text with {prompt} (plain)"},
        {"chat_template", RLVR_KEY_STR, &c->chat_template, "\"none\" or \"chatml\" (none)"},
        {"system_prompt", RLVR_KEY_STR, &c->system_prompt, "\"r1\" or text: a system turn (chatml only)"},
        {"max_prompt_length", RLVR_KEY_INT, &c->max_prompt_length, "prompts longer than this are skipped (0: no limit)"},
        {"num_generations", RLVR_KEY_INT, &c->num_generations, "G: completions per prompt (8)"},
        {"train_batch_size", RLVR_KEY_INT, &c->train_batch_size, "prompts per step (16)"},
        {"per_device_train_batch_size", RLVR_KEY_INT, &c->per_device_train_batch_size,
         "completions per micro-batch (16); gradients accumulate over the step"},
        {"num_iterations", RLVR_KEY_INT, &c->num_iterations, "mu: passes over each generated batch (1)"},
        {"steps_per_generation", RLVR_KEY_INT, &c->steps_per_generation,
         "mini-batches per pass, one optimizer step each (1; verl: train_batch_size / ppo_mini_batch_size)"},
        {"max_completion_length", RLVR_KEY_INT, &c->max_completion_length, "tokens per completion (256)"},
        {"temperature", RLVR_KEY_NUM, &c->temperature, "sampling temperature, also applied to the loss's logits (1)"},
        {"top_p", RLVR_KEY_NUM, &c->top_p, "nucleus sampling (1: off)"},
        {"top_k", RLVR_KEY_INT, &c->top_k, "top-k sampling (0: off)"},
        {"min_p", RLVR_KEY_NUM, &c->min_p, "min-p sampling (0: off)"},
        {"beta", RLVR_KEY_NUM, &c->beta, "KL coefficient against the starting policy (0.001; 0: no reference model)"},
        {"epsilon", RLVR_KEY_NUM, &c->epsilon, "clip range below (and above unless epsilon_high) (0.2)"},
        {"epsilon_high", RLVR_KEY_NUM, &c->epsilon_high, "clip range above (DAPO's clip-higher; default epsilon)"},
        {"loss_type", RLVR_KEY_STR, &c->loss_type, "grpo, bnpo, dapo or dr_grpo (grpo)"},
        {"scale_rewards", RLVR_KEY_STR, &c->scale_rewards, "group, batch or none (group)"},
        {"mask_truncated_completions", RLVR_KEY_BOOL, &c->mask_truncated_completions,
         "completions cut at max_completion_length leave the loss (false)"},
        {"dynamic_sampling", RLVR_KEY_BOOL, &c->dynamic_sampling,
         "DAPO: drop groups whose rewards are all equal and sample more (false)"},
        {"max_num_gen_batches", RLVR_KEY_INT, &c->max_num_gen_batches,
         "dynamic sampling: generation batches per step at most (4)"},
        {"learning_rate", RLVR_KEY_NUM, &c->learning_rate, "peak learning rate (1e-6)"},
        {"lr_scheduler_type", RLVR_KEY_STR, &c->lr_scheduler_type, "constant, linear or cosine (linear)"},
        {"warmup_steps", RLVR_KEY_INT, &c->warmup_steps, "linear warmup steps (0)"},
        {"warmup_ratio", RLVR_KEY_NUM, &c->warmup_ratio, "warmup as a fraction of the steps, if no warmup_steps"},
        {"weight_decay", RLVR_KEY_NUM, &c->weight_decay, "AdamW decay on matrices (0)"},
        {"max_grad_norm", RLVR_KEY_NUM, &c->max_grad_norm, "clip the global gradient norm (1; 0 off)"},
        {"adam_beta1", RLVR_KEY_NUM, &c->adam_beta1, "(0.9)"},
        {"adam_beta2", RLVR_KEY_NUM, &c->adam_beta2, "(0.999)"},
        {"adam_epsilon", RLVR_KEY_NUM, &c->adam_epsilon, "(1e-8)"},
        {"max_steps", RLVR_KEY_INT, &c->max_steps, "steps; overrides num_train_epochs when > 0 (-1)"},
        {"num_train_epochs", RLVR_KEY_INT, &c->num_train_epochs, "passes over the problems (1)"},
        {"seed", RLVR_KEY_INT, &c->seed, "data order and sampling (42)"},
        {"logging_steps", RLVR_KEY_INT, &c->logging_steps, "a readable line every N steps (1); metrics.jsonl has all"},
        {"save_steps", RLVR_KEY_INT, &c->save_steps, "checkpoint every N steps (0: at the end only)"},
        {"save_dtype", RLVR_KEY_STR, &c->save_dtype, "the final model's dtype: float32, bfloat16, float16 (float32)"},
        {"log_completions_steps", RLVR_KEY_INT, &c->log_completions_steps,
         "print sample completions every N steps (10; 0 off)"},
        {"num_completions_to_print", RLVR_KEY_INT, &c->num_completions_to_print, "how many (2)"},
        {"accuracy_component", RLVR_KEY_STR, &c->accuracy_component,
         "the mix component that is accuracy (default \"accuracy\" when the mix has one)"},
        {"eval_data", RLVR_KEY_PATH, &c->eval_data, "held-out JSONL problems for periodic evaluation"},
        {"eval_mix", RLVR_KEY_PATH, &c->eval_mix, "the mix for evaluation (default: mix)"},
        {"eval_steps", RLVR_KEY_INT, &c->eval_steps, "evaluate every N steps (0: at the start and end only)"},
        {"eval_on_start", RLVR_KEY_BOOL, &c->eval_on_start, "evaluate before the first step (true)"},
        {"eval_num_samples", RLVR_KEY_INT, &c->eval_num_samples, "samples per eval problem: pass@1 averages them (1)"},
        {"eval_max_problems", RLVR_KEY_INT, &c->eval_max_problems, "use the first N eval problems (0: all)"},
        {"eval_temperature", RLVR_KEY_NUM, &c->eval_temperature, "(default: temperature)"},
        {"score_threads", RLVR_KEY_INT, &c->score_threads, "threads for reward plugins (1)"},
        {"generation_chunk", RLVR_KEY_INT, &c->generation_chunk,
         "prompts sampled together; each chunk is scored while the next samples (8)"},
        {"resume_from_checkpoint", RLVR_KEY_BOOL, &c->resume_from_checkpoint, "continue from the newest checkpoint"},
        {"progress", RLVR_KEY_BOOL, &c->progress, "a progress bar on a terminal (true)"},
        {"plot", RLVR_KEY_BOOL, &c->plot, "write training.svg at the end (true)"},
        {"device", RLVR_KEY_STR, &c->device, RLVR_DEVICE_HELP},
        {"fused_lm_head_loss", RLVR_KEY_BOOL, &c->fused_lm_head_loss,
         "GPU only: the loss from the final hidden states and the LM head, chunk by chunk, never all the "
         "logits (less memory; false). With device = \"cpu\" true is refused; \"auto\" on the CPU ignores it"},
        {NULL, 0, NULL, NULL}};
    _Static_assert(sizeof all / sizeof all[0] == N_KEYS + 1, "N_KEYS counts the keys");
    memcpy(k, all, sizeof all);
}

static void free_config(struct train_config *c)
{
    free(c->model), free(c->tokenizer), free(c->data), free(c->mix), free(c->output_dir), free(c->eval_data);
    free(c->eval_mix), free(c->prompt_template), free(c->chat_template), free(c->system_prompt);
    free(c->loss_type), free(c->scale_rewards), free(c->lr_scheduler_type), free(c->accuracy_component);
    free(c->save_dtype), free(c->device);
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- the data order ----------------------------------------------------------------- */

struct order {
    size_t *perm, n;
    long epoch;
    uint64_t seed;
};

static size_t order_at(struct order *o, long pos)
{
    long e = pos / (long)o->n;
    if (e != o->epoch) {
        rlvr_data_order(o->perm, o->n, o->seed, e);
        o->epoch = e;
    }
    return o->perm[pos % (long)o->n];
}

/* ---- step statistics ---------------------------------------------------------------- */

struct step_stats {
    size_t samples, null_rewards, failed, groups, zero_std_groups, truncated;
    double reward_sum, reward_sq;
    double len_sum, len_max, len_min;
    double *comp_sum;             /* [n_comp] */
    size_t *comp_ok, *comp_abstain, *comp_error;
    size_t acc_n;
    double acc_sum;
};

static void stats_reset(struct step_stats *s, size_t n_comp)
{
    double *cs = s->comp_sum;
    size_t *ok = s->comp_ok, *ab = s->comp_abstain, *er = s->comp_error;
    memset(s, 0, sizeof *s);
    s->comp_sum = cs, s->comp_ok = ok, s->comp_abstain = ab, s->comp_error = er;
    memset(cs, 0, n_comp * sizeof *cs);
    memset(ok, 0, n_comp * sizeof *ok);
    memset(ab, 0, n_comp * sizeof *ab);
    memset(er, 0, n_comp * sizeof *er);
    s->len_min = INFINITY;
}

static void stats_add(struct step_stats *s, const struct rlvr_completion *c, size_t n, size_t n_comp, int acc,
                      const struct rlvr_advantage_stats *as, int max_len)
{
    for (size_t i = 0; i < n; i++) {
        s->samples++;
        if (isnan(c[i].reward))
            s->null_rewards++;
        else
            s->reward_sum += c[i].reward, s->reward_sq += c[i].reward * c[i].reward;
        s->failed += c[i].failed != 0;
        double len = c[i].seq.n_tokens;
        s->len_sum += len;
        if (len > s->len_max) s->len_max = len;
        if (len < s->len_min) s->len_min = len;
        s->truncated += c[i].seq.finish == RLVR_FINISH_LENGTH && c[i].seq.n_tokens >= max_len;
        for (size_t j = 0; j < n_comp && c[i].comp_status; j++) {
            if (c[i].comp_status[j] == RLVR_COMP_OK)
                s->comp_sum[j] += c[i].comp[j], s->comp_ok[j]++;
            else if (c[i].comp_status[j] == RLVR_COMP_ABSTAIN)
                s->comp_abstain[j]++;
            else if (c[i].comp_status[j] == RLVR_COMP_ERROR)
                s->comp_error[j]++;
        }
        if (acc >= 0 && c[i].comp_status && c[i].comp_status[acc] == RLVR_COMP_OK)
            s->acc_sum += c[i].comp[acc], s->acc_n++;
    }
    s->groups += as->groups_counted;
    s->zero_std_groups += as->groups_zero_std;
}

/* ---- checkpoints -------------------------------------------------------------------- */

static int read_state(const char *dir, long *step, long *cursor, char *err, size_t err_len)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/trainer_state.json", dir);
    json_object *o = json_object_from_file(path), *v;
    if (!o) {
        rlvr_errf(err, err_len, "cannot read %s", path);
        return -1;
    }
    int ok = json_object_object_get_ex(o, "global_step", &v) && json_object_is_type(v, json_type_int);
    if (ok)
        *step = (long)json_object_get_int64(v);
    ok = ok && json_object_object_get_ex(o, "prompt_cursor", &v) && json_object_is_type(v, json_type_int);
    if (ok)
        *cursor = (long)json_object_get_int64(v);
    json_object_put(o);
    if (!ok)
        rlvr_errf(err, err_len, "%s: needs integer global_step and prompt_cursor (is it a checkpoint of rlvr train?)",
                  path);
    return ok ? 0 : -1;
}

/* ---- the training pass -------------------------------------------------------------- */

/* Buffers of one micro-batch, sized for mb completions of up to T input
 * positions each. */
struct micro {
    int mb, T, V;
    int32_t *tokens, *targets;    /* [mb, T] */
    uint8_t *rows, *trunc;        /* [mb, T], [mb] */
    float *logits;                /* [mb, T, V]; NULL on the GPU (the logits stay there) */
    float *logp, *lse, *ent, *old, *ref, *dlogp; /* [mb, T] */
    float *adv;                   /* [mb] */
};

static int micro_alloc(struct micro *m, int mb, int T, int V, int with_logits)
{
    size_t n = (size_t)mb * T;
    m->mb = mb, m->T = T, m->V = V;
    m->tokens = malloc(n * sizeof *m->tokens);
    m->targets = malloc(n * sizeof *m->targets);
    m->rows = malloc(n);
    m->trunc = malloc((size_t)mb);
    m->logits = with_logits ? malloc(n * (size_t)V * sizeof(float)) : NULL;
    m->logp = malloc(n * sizeof(float));
    m->lse = malloc(n * sizeof(float));
    m->ent = malloc(n * sizeof(float));
    m->old = malloc(n * sizeof(float));
    m->ref = malloc(n * sizeof(float));
    m->dlogp = malloc(n * sizeof(float));
    m->adv = malloc((size_t)mb * sizeof(float));
    return m->tokens && m->targets && m->rows && m->trunc && (m->logits || !with_logits) && m->logp && m->lse && m->ent && m->old &&
                   m->ref && m->dlogp && m->adv
               ? 0
               : -1;
}

static void micro_free(struct micro *m)
{
    free(m->tokens), free(m->targets), free(m->rows), free(m->trunc), free(m->logits), free(m->logp);
    free(m->lse), free(m->ent), free(m->old), free(m->ref), free(m->dlogp), free(m->adv);
}

/* Lays completions c[0..nb) out as input rows: the prompt and the
 * completion but its last token, right-padded to the longest; row r of
 * sequence b predicts token r + 1, and counts (rows = 1) where that token
 * is a completion token. Returns the padded length. */
static int micro_fill(struct micro *m, struct rlvr_completion *const *c, int nb, const float *adv)
{
    int T = 1;
    for (int b = 0; b < nb; b++) {
        int len = (int)c[b]->problem->ids.n + c[b]->seq.n_tokens - 1;
        if (len > T)
            T = len;
    }
    for (int b = 0; b < nb; b++) {
        const int32_t *pr = c[b]->problem->ids.v;
        int P = (int)c[b]->problem->ids.n, n = c[b]->seq.n_tokens;
        for (int t = 0; t < T; t++) {
            size_t r = (size_t)b * T + t;
            int full = P + n; /* tokens of the whole sequence */
            m->tokens[r] = t < P ? pr[t] : t < full ? c[b]->seq.tokens[t - P] : 0;
            int next = t + 1;
            m->rows[r] = next >= P && next < full;
            m->targets[r] = m->rows[r] ? c[b]->seq.tokens[next - P] : 0;
        }
        m->adv[b] = adv ? adv[b] : 0;
        m->trunc[b] = c[b]->seq.finish == RLVR_FINISH_LENGTH;
    }
    return T;
}

/* Where the policy update runs. On the CPU (gpu NULL): the host model, its
 * gradients and opt. On the GPU (train_gpu.h): the device's copy of the
 * policy, which generation is bound to as well (rlvr_generate_bind: the
 * rollouts and evaluation sample from it); opt then keeps the schedule and
 * the step count, its moments only while a checkpoint is saved or loaded
 * (they live on the device), and the host model is brought up to date
 * (host_sync) only when the CPU needs its weights: checkpoints and the
 * final save. The bookkeeping around it (train_on, micro_fill) is the same
 * for both. */
struct update {
    struct rlvr_policy *p;
    struct rlvr_adamw *opt;
    struct rlvr_train_gpu *gpu;
    int host_stale; /* the GPU's policy has stepped since the host's copy was made */
};

static int host_sync(struct update *u, char *err, size_t err_len)
{
    if (!u->gpu || !u->host_stale)
        return 0;
    if (rlvr_train_gpu_download(u->gpu, &u->p->model, err, err_len))
        return -1;
    u->host_stale = 0;
    return 0;
}

/* The micro-batch mb laid out by micro_fill (nb sequences of T rows) as
 * train_gpu.h takes it. */
static struct rlvr_train_micro gpu_micro_of(const struct micro *mb, int nb, int T, int old, int ref, int entropy,
                                            double dapo_tokens)
{
    struct rlvr_train_micro m = {
        .n_seq = nb,
        .seq_len = T,
        .tokens = mb->tokens,
        .targets = mb->targets,
        .rows = mb->rows,
        .truncated = mb->trunc,
        .advantages = mb->adv,
        .old_logp = old ? mb->old : NULL,
        .ref_logp = ref ? mb->ref : NULL,
        .dapo_tokens = dapo_tokens,
        .entropy = entropy,
    };
    return m;
}

/* log-probabilities of the completion tokens of c[0..nb) under the
 * reference (temperature applied): the CPU model `model`, or the GPU's
 * reference when gpu is not NULL; written per completion into
 * out[b][0..n_tokens). */
static int completion_logprobs(struct rlvr_model *model, struct rlvr_train_gpu *gpu, struct micro *mb,
                               struct rlvr_completion *const *c, int nb, float temperature, float **out, char *err,
                               size_t err_len)
{
    int T = micro_fill(mb, c, nb, NULL);
    size_t N = (size_t)nb * T;
    if (gpu) {
        struct rlvr_train_micro m = gpu_micro_of(mb, nb, T, 0, 0, 0, 0);
        if (rlvr_train_gpu_ref_logprobs(gpu, &m, temperature, mb->logp, err, err_len))
            return -1;
    } else if (rlvr_model_forward(model, mb->tokens, nb, T, mb->logits, err, err_len) ||
               rlvr_logprobs(mb->logits, mb->targets, mb->rows, N, (size_t)mb->V, temperature, mb->logp, NULL, NULL,
                             err, err_len)) {
        return -1;
    }
    for (int b = 0; b < nb; b++) {
        int P = (int)c[b]->problem->ids.n;
        for (int j = 0; j < c[b]->seq.n_tokens; j++)
            out[b][j] = mb->logp[(size_t)b * T + (P - 1 + j)];
    }
    return 0;
}

/* The loss of the micro-batch mb (nb sequences of T rows, filled with its
 * old and reference log-probabilities) under cfg, its gradient added to
 * the policy's: the CPU's forward -> log-probabilities -> loss ->
 * backward, or the same on the GPU. */
static int micro_loss(struct update *u, const struct rlvr_grpo_config *cfg, struct micro *mb, int nb, int T,
                      int off_policy, int with_ref, int entropy, double dapo_tokens, float temperature,
                      struct rlvr_grpo_metrics *gm, char *err, size_t err_len)
{
    if (u->gpu) {
        struct rlvr_train_micro m = gpu_micro_of(mb, nb, T, off_policy, with_ref, entropy, dapo_tokens);
        return rlvr_train_gpu_micro(u->gpu, cfg, &m, temperature, gm, err, err_len);
    }
    size_t N = (size_t)nb * T;
    if (rlvr_model_forward(&u->p->model, mb->tokens, nb, T, mb->logits, err, err_len) ||
        rlvr_logprobs(mb->logits, mb->targets, mb->rows, N, (size_t)mb->V, temperature, mb->logp, mb->lse,
                      entropy ? mb->ent : NULL, err, err_len))
        return -1;
    struct rlvr_grpo_batch gb = {
        .n_seq = (size_t)nb,
        .seq_len = (size_t)T,
        .logp = mb->logp,
        .old_logp = off_policy ? mb->old : NULL,
        .ref_logp = with_ref ? mb->ref : NULL,
        .advantages = mb->adv,
        .mask = mb->rows,
        .truncated = mb->trunc,
        .entropy = entropy ? mb->ent : NULL,
        .dapo_tokens = dapo_tokens,
    };
    if (rlvr_grpo_loss(cfg, &gb, mb->dlogp, gm, err, err_len) ||
        rlvr_logprobs_backward(mb->logits, mb->targets, mb->rows, mb->lse, mb->dlogp, N, (size_t)mb->V, temperature,
                               mb->logits, err, err_len) ||
        rlvr_model_backward(&u->p->model, mb->logits, err, err_len))
        return -1;
    return 0;
}

/* One optimizer step over the accumulated gradient at the schedule's rate
 * for the optimizer's step count, then the gradient cleared. */
static int optimizer_step(struct update *u, struct rlvr_optim_stats *st, char *err, size_t err_len)
{
    if (u->gpu) {
        double lr = rlvr_lr_at(&u->opt->cfg, u->opt->step);
        if (rlvr_train_gpu_step(u->gpu, &u->opt->cfg, lr, st, err, err_len))
            return -1;
        u->opt->step++;
        u->host_stale = 1;
        return 0;
    }
    if (rlvr_adamw_step(u->opt, &u->p->model, st, err, err_len))
        return -1;
    rlvr_model_zero_grads(&u->p->model);
    return 0;
}

struct train_metrics {
    double loss, kl, entropy, clip_low, clip_high, clip_region, active, grad_norm, lr, tokens;
    int clipped;
};

/* iterations passes over the n kept completions, each pass steps
 * optimizer steps over consecutive mini-batches (the caller shuffles the
 * order); a mini-batch with nothing in it (fewer completions than steps)
 * still steps the optimizer, with zero gradients, so the schedule and a
 * resume stay in line. The metrics are those of the first pass. */
static int train_on(struct update *u, const struct rlvr_grpo_config *gc, struct micro *mb,
                    struct rlvr_completion **kept, const float *adv, float **ref, int n, int iterations, int steps,
                    float temperature, struct train_metrics *tm, char *err, size_t err_len)
{
    memset(tm, 0, sizeof *tm);
    int per = mb->mb;
    int off_policy = iterations > 1 || steps > 1;
    double ent_tokens = 0, grad_norm = 0;
    for (int it = 0; it < iterations; it++) {
        for (int s = 0; s < steps; s++) {
            int lo = (int)((long)n * s / steps), hi = (int)((long)n * (s + 1) / steps);
            int n_micro = (hi - lo + per - 1) / per;
            struct rlvr_grpo_config cfg = *gc;
            cfg.grad_accum_steps = n_micro > 0 ? n_micro : 1;
            double dapo_tokens = 0;
            for (int i = lo; i < hi; i++)
                if (!(cfg.mask_truncated && kept[i]->seq.finish == RLVR_FINISH_LENGTH))
                    dapo_tokens += kept[i]->seq.n_tokens;
            for (int m = 0; m < n_micro; m++) {
                int first = lo + m * per, nb = hi - first < per ? hi - first : per;
                struct rlvr_completion *const *c = kept + first;
                int T = micro_fill(mb, c, nb, adv + first);
                for (int b = 0; b < nb; b++) {
                    int P = (int)c[b]->problem->ids.n;
                    for (int t = 0; t < T; t++) {
                        size_t r = (size_t)b * T + t;
                        int j = t - (P - 1);
                        mb->old[r] = mb->rows[r] ? c[b]->seq.logprobs[j] : 0;
                        mb->ref[r] = mb->rows[r] && ref ? ref[first + b][j] : 0;
                    }
                }
                struct rlvr_grpo_metrics gm;
                if (micro_loss(u, &cfg, mb, nb, T, off_policy, ref != NULL, it == 0,
                               cfg.loss_type == RLVR_LOSS_DAPO ? (dapo_tokens > 0 ? dapo_tokens : 1) : 0, temperature,
                               &gm, err, err_len))
                    return -1;
                tm->tokens += gm.active_tokens;
                if (it == 0) {
                    tm->loss += gm.loss / steps;
                    tm->kl += gm.kl * gm.active_tokens;
                    tm->entropy += gm.entropy * gm.active_tokens;
                    tm->clip_low += gm.clip_low * gm.active_tokens;
                    tm->clip_high += gm.clip_high * gm.active_tokens;
                    tm->clip_region += gm.clip_region * gm.active_tokens;
                    ent_tokens += gm.active_tokens;
                }
            }
            struct rlvr_optim_stats st;
            if (optimizer_step(u, &st, err, err_len))
                return -1;
            grad_norm += st.grad_norm;
            tm->lr = st.lr, tm->clipped |= st.clipped;
        }
    }
    tm->grad_norm = grad_norm / ((double)iterations * steps);
    if (ent_tokens > 0) {
        tm->kl /= ent_tokens, tm->entropy /= ent_tokens;
        tm->clip_low /= ent_tokens, tm->clip_high /= ent_tokens, tm->clip_region /= ent_tokens;
    }
    tm->active = ent_tokens;
    return 0;
}

/* Shuffles the kept completions, their advantages and reference
 * log-probabilities alike, from (seed, step), before they are cut into
 * mini-batches: a mini-batch then mixes the groups. */
static void shuffle_kept(struct rlvr_completion **kept, float *adv, float **ref, size_t n, uint64_t seed, long step)
{
    struct rlvr_rng rng;
    rlvr_rng_init(&rng, seed, UINT64_C(0x6d696e69) + (uint64_t)step); /* "mini" */
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rlvr_rng_next(&rng) % i);
        struct rlvr_completion *tc = kept[i - 1];
        kept[i - 1] = kept[j], kept[j] = tc;
        float ta = adv[i - 1];
        adv[i - 1] = adv[j], adv[j] = ta;
        if (ref) {
            float *tr = ref[i - 1];
            ref[i - 1] = ref[j], ref[j] = tr;
        }
    }
}

/* ---- output ------------------------------------------------------------------------- */

static void json_key_num(rlvr_buf *b, const char *key, double v)
{
    rlvr_buf_addc(b, ',');
    rlvr_buf_json_string(b, key, strlen(key));
    rlvr_buf_addc(b, ':');
    rlvr_buf_json_number(b, v);
}

static void progress_bar(long step, long total, double reward, double acc)
{
    int width = 30, fill = total ? (int)(width * step / total) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r[%s] step %ld/%ld  reward %.3f  accuracy %.3f ", bar, step, total, reward, acc);
    fflush(stderr);
}

/* Writes an eval line into metrics and a readable line. */
static void log_eval(FILE *metrics, long step, const struct rlvr_eval_result *r, rlvr_scoring *sc, int tty)
{
    rlvr_buf b = {0};
    rlvr_buf_printf(&b, "{\"step\":%ld", step);
    json_key_num(&b, "eval/accuracy", r->pass1);
    json_key_num(&b, "eval/reward", r->reward_mean);
    json_key_num(&b, "eval/reward_null", (double)r->reward_null);
    json_key_num(&b, "eval/completions/mean_length", r->mean_length);
    json_key_num(&b, "eval/completions/clipped_ratio", r->truncated);
    for (size_t j = 0; j < r->n_comp; j++) {
        char key[256];
        snprintf(key, sizeof key, "eval/rewards/%s/mean", rlvr_scoring_component_name(sc, j));
        json_key_num(&b, key, r->comp_mean[j]);
        snprintf(key, sizeof key, "eval/rewards/%s/abstain_rate", rlvr_scoring_component_name(sc, j));
        json_key_num(&b, key, r->comp_abstain[j]);
    }
    json_key_num(&b, "eval/problems", (double)r->n_problems);
    json_key_num(&b, "eval/samples_per_problem", (double)r->k);
    json_key_num(&b, "eval/seconds", r->seconds);
    rlvr_buf_adds(&b, "}\n");
    if (!b.oom) {
        fwrite(b.ptr, 1, b.len, metrics);
        fflush(metrics);
    }
    rlvr_buf_free(&b);
    fprintf(stderr, "%seval at step %ld: accuracy %.4f  reward %.4f  length %.1f", tty ? "\r\033[K" : "", step,
            r->pass1, r->reward_mean, r->mean_length);
    for (size_t j = 0; j < r->n_comp; j++)
        fprintf(stderr, "  %s %.4f", rlvr_scoring_component_name(sc, j), r->comp_mean[j]);
    fprintf(stderr, "  (%zu problems x %d, %.1f s)\n", r->n_problems, r->k, r->seconds);
}

/* training.svg from metrics.jsonl (so a resumed run plots the whole run). */
static int write_plot(const char *out_dir, int acc, char *err, size_t err_len)
{
    char path[4200], svg[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", out_dir);
    snprintf(svg, sizeof svg, "%s/training.svg", out_dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        rlvr_errf(err, err_len, "cannot read %s", path);
        return -1;
    }
    enum { S_REWARD, S_ACC, S_LEN, S_EVAL_ACC, S_EVAL_REWARD, S_EVAL_LEN, N_SERIES };
    static const char *const keys[N_SERIES] = {"reward",
                                               "accuracy",
                                               "completions/mean_length",
                                               "eval/accuracy",
                                               "eval/reward",
                                               "eval/completions/mean_length"};
    size_t n[N_SERIES] = {0}, cap[N_SERIES] = {0};
    double *xs[N_SERIES] = {0}, *ys[N_SERIES] = {0};
    char *line = NULL;
    size_t lcap = 0;
    int rc = 0;
    while (getline(&line, &lcap, f) >= 0) {
        json_object *o = json_tokener_parse(line), *st, *v;
        if (!o || !json_object_object_get_ex(o, "step", &st)) {
            json_object_put(o);
            continue;
        }
        for (int s = 0; s < N_SERIES; s++) {
            if (!json_object_object_get_ex(o, keys[s], &v) || json_object_is_type(v, json_type_null))
                continue;
            if (n[s] == cap[s]) {
                size_t nc = cap[s] ? 2 * cap[s] : 64;
                double *gx = realloc(xs[s], nc * sizeof *gx), *gy = gx ? realloc(ys[s], nc * sizeof *gy) : NULL;
                if (gx) xs[s] = gx;
                if (gy) ys[s] = gy;
                if (!gx || !gy) {
                    rc = -1;
                    break;
                }
                cap[s] = nc;
            }
            xs[s][n[s]] = json_object_get_double(st);
            ys[s][n[s]++] = json_object_get_double(v);
        }
        json_object_put(o);
    }
    free(line);
    fclose(f);
    if (!rc) {
        struct rlvr_plot_series reward[2] = {{"train", xs[S_REWARD], ys[S_REWARD], n[S_REWARD]},
                                             {"eval", xs[S_EVAL_REWARD], ys[S_EVAL_REWARD], n[S_EVAL_REWARD]}};
        struct rlvr_plot_series accs[2] = {{"train", xs[S_ACC], ys[S_ACC], n[S_ACC]},
                                           {"eval", xs[S_EVAL_ACC], ys[S_EVAL_ACC], n[S_EVAL_ACC]}};
        struct rlvr_plot_series lens[2] = {{"train", xs[S_LEN], ys[S_LEN], n[S_LEN]},
                                           {"eval", xs[S_EVAL_LEN], ys[S_EVAL_LEN], n[S_EVAL_LEN]}};
        struct rlvr_plot_panel panels[3] = {{"reward (mean)", reward, 2},
                                            {"accuracy", accs, 2},
                                            {"completion length (tokens)", lens, 2}};
        struct rlvr_plot_panel *pp = panels;
        size_t np = 3;
        if (acc < 0) { /* no accuracy component: reward and length only */
            panels[1] = panels[2];
            np = 2;
        }
        rc = rlvr_plot_svg(svg, "rlvr train", "step", pp, np, err, err_len);
    } else {
        rlvr_errf(err, err_len, "out of memory plotting");
    }
    for (int s = 0; s < N_SERIES; s++)
        free(xs[s]), free(ys[s]);
    return rc;
}

static void print_completions(FILE *log, long step, struct rlvr_completion *c, size_t n, size_t want, int tty)
{
    rlvr_buf b = {0};
    for (size_t i = 0; i < n && i < want; i++) {
        /* spread the picks over the batch: different problems */
        size_t k = n <= want ? i : i * (n / want);
        const struct rlvr_completion *x = &c[k];
        json_object *prompt = NULL;
        json_object_object_get_ex(x->problem->fields, "prompt", &prompt);
        char reward[32];
        if (isnan(x->reward))
            snprintf(reward, sizeof reward, "null");
        else
            snprintf(reward, sizeof reward, "%.4f", x->reward);
        fprintf(stderr, "%s--- step %ld, problem %s, sample %d: reward %s\n", tty && i == 0 ? "\r\033[K" : "", step,
                x->problem->id, x->sample, reward);
        fprintf(stderr, "prompt: %.300s\ncompletion: %.600s\n", prompt ? json_object_get_string(prompt) : "",
                x->text);
        rlvr_buf_clear(&b);
        rlvr_buf_printf(&b, "{\"step\":%ld,\"sample\":", step);
        rlvr_buf_adds(&b, x->line);
        rlvr_buf_adds(&b, ",\"result\":");
        rlvr_buf_adds(&b, x->result ? x->result : "null");
        rlvr_buf_adds(&b, "}\n");
        if (log && !b.oom)
            fwrite(b.ptr, 1, b.len, log);
    }
    if (log)
        fflush(log);
    rlvr_buf_free(&b);
}

static void usage(FILE *f, struct rlvr_key *keys)
{
    fputs("usage: rlvr train CONFIG.lua [--resume] [--KEY=VALUE ...]\n"
          "GRPO with reward plugins. CONFIG.lua returns a table with these keys (names as in\n"
          "TRL's GRPOConfig and verl); --KEY=VALUE overrides one (VALUE read as JSON when it\n"
          "parses, else text):\n",
          f);
    rlvr_runconfig_print_keys(keys, f);
}

static int parse_enum(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

int rlvr_cmd_train(int argc, char **argv)
{
    struct train_config c;
    struct rlvr_key keys[N_KEYS + 1];
    defaults(&c);
    keys_of(&c, keys);
    struct rlvr_run_args args;
    int start = rlvr_run_args_start("rlvr train", argc, argv, 1, 1, usage, keys, &args);
    if (start >= 0)
        return start;
    char err[1024];
    const char *path = args.path;
    json_object *cfg = NULL;
    int rc = 2;
    struct rlvr_policy p, refp;
    memset(&p, 0, sizeof p);
    memset(&refp, 0, sizeof refp);
    struct rlvr_adamw opt;
    memset(&opt, 0, sizeof opt);
    struct rlvr_problem_set data = {0}, eval_data = {0};
    rlvr_registry reg;
    int reg_ok = 0;
    rlvr_scoring *sc = NULL, *esc = NULL;
    FILE *metrics = NULL, *complog = NULL;
    struct order ord = {0};
    struct micro mb = {0};
    struct rlvr_completion *gen = NULL, **kept = NULL;
    struct rlvr_problem **batch = NULL, **eval_set = NULL;
    float *rewards = NULL, *adv = NULL, *kept_adv = NULL, **ref_lp = NULL;
    int32_t *gidx = NULL;
    uint8_t *no_signal = NULL;
    struct step_stats ss = {0};
    struct rlvr_completion *store = NULL; /* the kept completions of a step, owned */
    size_t n_kept = 0, n_eval = 0;
    int T = 0;
    struct update up = {&p, &opt, NULL, 0};

    if (rlvr_runconfig_load(path, args.over, args.n_over, &cfg, err, sizeof err) ||
        rlvr_runconfig_read(cfg, path, keys, err, sizeof err)) {
        fprintf(stderr, "rlvr train: %s\n", err);
        goto out;
    }
    enum rlvr_device device;
    if (rlvr_device_resolve("rlvr train", c.device, NULL, &device, err, sizeof err)) {
        fprintf(stderr, "rlvr train: %s: %s\n", path, err);
        goto out;
    }
#define DEFAULT_STR(f, v)                                                                                              \
    if (!c.f)                                                                                                          \
    c.f = strdup(v)
    DEFAULT_STR(chat_template, "none");
    DEFAULT_STR(prompt_template, "plain");
    DEFAULT_STR(loss_type, "grpo");
    DEFAULT_STR(scale_rewards, "group");
    DEFAULT_STR(lr_scheduler_type, "linear");
    DEFAULT_STR(save_dtype, "float32");
#undef DEFAULT_STR
    if (c.epsilon_high < 0)
        c.epsilon_high = c.epsilon;
    if (c.eval_temperature < 0)
        c.eval_temperature = c.temperature;
    int resume = args.resume || c.resume_from_checkpoint;
    static const char *const loss_names[] = {"grpo", "bnpo", "dapo", "dr_grpo"};
    static const char *const scale_names[] = {"group", "none", "batch"};
    int loss_type = parse_enum(c.loss_type, loss_names, 4), scale = parse_enum(c.scale_rewards, scale_names, 3);
    enum rlvr_dtype save_dtype;
    const char *tmpl = rlvr_prompt_template_named(c.prompt_template);
    const char *system = c.system_prompt ? rlvr_system_prompt_named(c.system_prompt) : NULL;
    if (c.system_prompt && !system)
        system = c.system_prompt;
    if (!tmpl)
        tmpl = c.prompt_template;
    const char *problem = NULL;
    char why[512];
    if (!c.data || !c.mix || !c.output_dir)
        problem = "'data', 'mix' and 'output_dir' are required";
    else if ((c.model != NULL) == (c.model_init != NULL))
        problem = "give exactly one of 'model' (a checkpoint folder) and 'model_init' (a fresh model)";
    else if (strcmp(c.chat_template, "none") && strcmp(c.chat_template, "chatml"))
        problem = "'chat_template' must be \"none\" or \"chatml\"";
    else if (!strstr(tmpl, "{prompt}"))
        problem = "'prompt_template' must be \"plain\", \"r1_zero\" or a text holding {prompt}";
    else if (loss_type < 0)
        problem = "'loss_type' must be grpo, bnpo, dapo or dr_grpo";
    else if (scale < 0)
        problem = "'scale_rewards' must be group, batch or none";
    else if (rlvr_lr_schedule_parse(c.lr_scheduler_type) < 0)
        problem = "'lr_scheduler_type' must be constant, linear or cosine";
    else if (rlvr_dtype_parse(c.save_dtype, &save_dtype))
        problem = "'save_dtype' must be float32, bfloat16 or float16";
    else if (c.num_generations < 2)
        problem = "'num_generations' must be at least 2 (GRPO compares the completions of a prompt)";
    else if (c.train_batch_size < 1 || c.per_device_train_batch_size < 1 || c.num_iterations < 1 ||
             c.steps_per_generation < 1 ||
             c.max_completion_length < 1 || c.num_train_epochs < 1 || c.logging_steps < 1 || c.save_steps < 0 ||
             c.eval_steps < 0 || c.eval_num_samples < 1 || c.score_threads < 1 || c.generation_chunk < 1 ||
             c.max_num_gen_batches < 1 || c.log_completions_steps < 0 || c.num_completions_to_print < 0 ||
             c.eval_max_problems < 0 || c.max_prompt_length < 0)
        problem = "batch sizes, num_iterations, steps_per_generation, max_completion_length, epochs, logging_steps, eval_num_samples, "
                  "score_threads, generation_chunk and max_num_gen_batches must be positive; save_steps, "
                  "eval_steps and the other counts at least 0";
    else if (c.steps_per_generation > c.num_generations * c.train_batch_size)
        problem = "'steps_per_generation' is more than the completions of a step (num_generations x train_batch_size)";
    else if (c.num_generations * c.train_batch_size > 1000000)
        problem = "num_generations x train_batch_size is over a million completions per step";
    else if (c.top_k < 0 || c.top_p <= 0 || c.top_p > 1 || c.min_p < 0 || c.min_p >= 1 || !(c.temperature > 0) ||
             !(c.eval_temperature >= 0))
        problem = "sampling: temperature > 0, top_p in (0, 1], top_k >= 0, min_p in [0, 1)";
    else if (c.eval_steps && !c.eval_data)
        problem = "'eval_steps' needs 'eval_data'";
    else if (c.eval_mix && !c.eval_data)
        problem = "'eval_mix' needs 'eval_data'";
    else if (c.fused_lm_head_loss && device == RLVR_DEVICE_CPU && !(c.device && !strcmp(c.device, "auto")))
        problem = "'fused_lm_head_loss' is a GPU option (the loss fused with the GPU's LM head); with device = "
                  "\"cpu\" set it to false";
    struct rlvr_grpo_config gc;
    rlvr_grpo_config_default(&gc);
    gc.loss_type = loss_type;
    gc.epsilon_low = (float)c.epsilon;
    gc.epsilon_high = (float)c.epsilon_high;
    gc.beta = (float)c.beta;
    gc.max_completion_length = (int32_t)c.max_completion_length;
    gc.mask_truncated = c.mask_truncated_completions;
    if (!problem && rlvr_grpo_config_check(&gc, why, sizeof why))
        problem = why;
    if (problem) {
        fprintf(stderr, "rlvr train: %s: %s\n", path, problem);
        goto out;
    }
    if (c.fused_lm_head_loss && device == RLVR_DEVICE_CPU) /* "auto" fell back to the CPU */
        fprintf(stderr, "rlvr train: fused_lm_head_loss is a GPU option; the run is on the CPU, which ignores it\n");

    /* the policy: the newest checkpoint, or the one the config names */
    if (rlvr_mkdirs(c.output_dir)) {
        fprintf(stderr, "rlvr train: cannot create %s: %s\n", c.output_dir, strerror(errno));
        goto out;
    }
    long start_step = 0, cursor = 0;
    long ck = resume ? rlvr_newest_checkpoint(c.output_dir) : -1;
    char ckdir[4200];
    if (resume && ck < 0)
        fprintf(stderr, "rlvr train: no checkpoint in %s to resume from; starting afresh\n", c.output_dir);
    if (ck >= 0) {
        snprintf(ckdir, sizeof ckdir, "%s/checkpoint-%ld", c.output_dir, ck);
        if (read_state(ckdir, &start_step, &cursor, err, sizeof err) ||
            rlvr_policy_load(&p, ckdir, c.tokenizer, err, sizeof err)) {
            fprintf(stderr, "rlvr train: resume: %s\n", err);
            goto out;
        }
    } else if (rlvr_policy_from_config(&p, c.model, c.model_init, c.init_seed, c.tokenizer, path, err, sizeof err)) {
        fprintf(stderr, "rlvr train: %s\n", err);
        goto out;
    }
    /* the reference: the starting policy, frozen (made again on resume) */
    if (c.beta > 0) {
        if (rlvr_policy_from_config(&refp, c.model, c.model_init, c.init_seed, c.tokenizer, path, err, sizeof err)) {
            fprintf(stderr, "rlvr train: reference model: %s\n", err);
            goto out;
        }
        if (refp.model.n_params != p.model.n_params) {
            fprintf(stderr, "rlvr train: the reference model's shape differs from the checkpoint's\n");
            goto out;
        }
    }
    struct rlvr_prompt_format fmt = {tmpl, !strcmp(c.chat_template, "chatml"), system};
    if (rlvr_problems_load(c.data, &p, &fmt, (int)c.max_prompt_length, stderr, "rlvr train", &data, err,
                           sizeof err)) {
        fprintf(stderr, "rlvr train: %s\n", err);
        goto out;
    }
    if (!data.n) {
        fprintf(stderr, "rlvr train: %s has no usable problem\n", c.data);
        goto out;
    }
    if (c.eval_data) {
        if (rlvr_problems_load(c.eval_data, &p, &fmt, (int)c.max_prompt_length, stderr, "rlvr train", &eval_data, err,
                               sizeof err)) {
            fprintf(stderr, "rlvr train: %s\n", err);
            goto out;
        }
        n_eval = c.eval_max_problems && (size_t)c.eval_max_problems < eval_data.n ? (size_t)c.eval_max_problems
                                                                                   : eval_data.n;
        if (!n_eval) {
            fprintf(stderr, "rlvr train: %s has no usable problem\n", c.eval_data);
            goto out;
        }
        eval_set = malloc(n_eval * sizeof *eval_set);
        if (!eval_set)
            goto oom;
        for (size_t i = 0; i < n_eval; i++)
            eval_set[i] = &eval_data.v[i];
    }
    /* the mixes */
    if (rlvr_registry_init(&reg, err, sizeof err)) {
        fprintf(stderr, "rlvr train: %s\n", err);
        goto out;
    }
    reg_ok = 1;
    rlvr_services_set_registry(&reg);
    if (!(sc = rlvr_scoring_new(c.mix, &reg, (int)c.score_threads, err, sizeof err)) ||
        (c.eval_data && !(esc = c.eval_mix ? rlvr_scoring_new(c.eval_mix, &reg, (int)c.score_threads, err, sizeof err)
                                           : rlvr_scoring_new(c.mix, &reg, (int)c.score_threads, err, sizeof err)))) {
        fprintf(stderr, "rlvr train: %s\n", err);
        goto out;
    }
    size_t n_comp = rlvr_scoring_components(sc);
    const char *acc_name = c.accuracy_component ? c.accuracy_component : "accuracy";
    int acc = rlvr_scoring_component_index(sc, acc_name);
    int eacc = esc ? rlvr_scoring_component_index(esc, acc_name) : -1;
    if (c.accuracy_component && acc < 0) {
        fprintf(stderr, "rlvr train: %s: accuracy_component '%s' is not a component of %s\n", path, acc_name, c.mix);
        goto out;
    }

    /* steps and the optimizer */
    long B = c.train_batch_size, G = c.num_generations;
    long total = c.max_steps > 0 ? c.max_steps
                                 : (long)((data.n * (size_t)c.num_train_epochs + (size_t)B - 1) / (size_t)B);
    struct rlvr_optim_config oc;
    rlvr_optim_config_default(&oc);
    oc.lr = c.learning_rate, oc.beta1 = c.adam_beta1, oc.beta2 = c.adam_beta2, oc.eps = c.adam_epsilon;
    oc.weight_decay = c.weight_decay, oc.max_grad_norm = c.max_grad_norm;
    oc.schedule = rlvr_lr_schedule_parse(c.lr_scheduler_type);
    oc.total_steps = total * c.num_iterations * c.steps_per_generation;
    oc.warmup_steps = c.warmup_steps ? c.warmup_steps : (long)ceil(c.warmup_ratio * (double)oc.total_steps);
    if (rlvr_optim_config_check(&oc, err, sizeof err)) {
        fprintf(stderr, "rlvr train: %s: %s\n", path, err);
        goto out;
    }
    if (device == RLVR_DEVICE_CUDA && ck < 0) {
        /* the schedule and the step count; the moments live on the device */
        opt.cfg = oc, opt.n = p.model.n_params, opt.step = 0;
    } else if (rlvr_adamw_create(&opt, p.model.n_params, &oc, err, sizeof err) ||
               (device == RLVR_DEVICE_CPU && rlvr_model_enable_grads(&p.model, err, sizeof err))) {
        fprintf(stderr, "rlvr train: %s: %s\n", path, err);
        goto out;
    }
    if (ck >= 0) {
        char op[4300];
        snprintf(op, sizeof op, "%s/optimizer.bin", ckdir);
        if (rlvr_adamw_load(&opt, op, err, sizeof err)) {
            fprintf(stderr, "rlvr train: resume: %s\n", err);
            goto out;
        }
        if (opt.step != start_step * c.num_iterations * c.steps_per_generation) {
            fprintf(stderr, "rlvr train: resume: %s holds optimizer step %ld, expected %ld\n", op, opt.step,
                    start_step * c.num_iterations * c.steps_per_generation);
            goto out;
        }
    }

    /* sampling */
    struct rlvr_sampling samp;
    rlvr_sampling_default(&samp);
    int32_t stop_ids[RLVR_CKPT_MAX_EOS + 2];
    samp.temperature = c.temperature, samp.top_p = c.top_p, samp.top_k = (int)c.top_k, samp.min_p = c.min_p;
    samp.max_tokens = (int)c.max_completion_length;
    samp.seed = (uint64_t)c.seed;
    samp.stop_token_ids = stop_ids;
    samp.n_stop_token_ids = (size_t)rlvr_policy_stop_ids(&p, stop_ids, RLVR_CKPT_MAX_EOS + 2);
    struct rlvr_sampling esamp = samp;
    esamp.temperature = c.eval_temperature;
    /* eval streams: far from the training ones, the same at every eval */
    const uint64_t eval_seed = (uint64_t)c.seed ^ 0x65766131ULL;
    esamp.seed = eval_seed;
    if (rlvr_sampling_check(&samp, err, sizeof err) || rlvr_sampling_check(&esamp, err, sizeof err)) {
        fprintf(stderr, "rlvr train: %s: %s\n", path, err);
        goto out;
    }

    /* buffers */
    size_t per_gen = (size_t)(B * G), cap_kept = per_gen;
    size_t max_prompt = 0;
    for (size_t i = 0; i < data.n; i++)
        if (data.v[i].ids.n > max_prompt)
            max_prompt = data.v[i].ids.n;
    T = (int)(max_prompt + (size_t)c.max_completion_length);
    if (T > p.model.cfg.max_position_embeddings) {
        fprintf(stderr,
                "rlvr train: the longest prompt (%zu tokens) plus max_completion_length (%ld) is over the model's "
                "max_position_embeddings (%d); set max_prompt_length or shorten max_completion_length\n",
                max_prompt, c.max_completion_length, p.model.cfg.max_position_embeddings);
        goto out;
    }
    ord.n = data.n, ord.seed = (uint64_t)c.seed, ord.epoch = -1;
    ord.perm = malloc(data.n * sizeof *ord.perm);
    gen = calloc(per_gen, sizeof *gen);
    kept = calloc(cap_kept, sizeof *kept);
    batch = malloc((size_t)B * sizeof *batch);
    rewards = malloc(per_gen * sizeof *rewards);
    adv = malloc(per_gen * sizeof *adv);
    kept_adv = malloc(cap_kept * sizeof *kept_adv);
    gidx = malloc(per_gen * sizeof *gidx);
    no_signal = malloc((size_t)B);
    ss.comp_sum = calloc(n_comp + 1, sizeof *ss.comp_sum);
    ss.comp_ok = calloc(n_comp + 1, sizeof *ss.comp_ok);
    ss.comp_abstain = calloc(n_comp + 1, sizeof *ss.comp_abstain);
    ss.comp_error = calloc(n_comp + 1, sizeof *ss.comp_error);
    if (c.beta > 0 && !(ref_lp = calloc(cap_kept, sizeof *ref_lp)))
        goto oom;
    if (!ord.perm || !gen || !kept || !batch || !rewards || !adv || !kept_adv || !gidx || !no_signal || !ss.comp_sum ||
        !ss.comp_ok || !ss.comp_abstain || !ss.comp_error ||
        micro_alloc(&mb, (int)c.per_device_train_batch_size, T, p.model.cfg.vocab_size, device == RLVR_DEVICE_CPU))
        goto oom;
    if (!(store = calloc(cap_kept, sizeof *store)))
        goto oom;
    if (device == RLVR_DEVICE_CUDA) {
        char desc[512];
        rlvr_gpu_describe(desc, sizeof desc);
        if (rlvr_train_gpu_create(&up.gpu, &p.model, c.beta > 0 ? &refp.model : NULL,
                                  (int)c.per_device_train_batch_size, T, c.fused_lm_head_loss, err, sizeof err)) {
            fprintf(stderr, "rlvr train: device = \"cuda\": %s\n", err);
            goto out;
        }
        rlvr_policy_free(&refp); /* the GPU holds the reference now */
        /* a resumed run: the checkpoint's AdamW state onto the device */
        if (ck >= 0 && rlvr_adamw_to_gpu(&opt, rlvr_train_gpu_policy(up.gpu), err, sizeof err)) {
            fprintf(stderr, "rlvr train: resume: %s\n", err);
            goto out;
        }
        rlvr_adamw_drop_moments(&opt);
        /* rollouts and evaluation generate with the GPU's policy (the
         * sampler's draws stay on the host) */
        struct rlvr_gen_engine ge;
        rlvr_gen_engine_gpu(&ge, rlvr_train_gpu_policy(up.gpu));
        rlvr_generate_bind(&p.model, &ge);
        fprintf(stderr,
                "rlvr train: the policy update and generation on the GPU (%s), fp32, %.1f MiB of device memory "
                "(the policy%s)%s\n",
                desc, (double)rlvr_train_gpu_bytes(up.gpu) / 1048576.0, c.beta > 0 ? " and the reference" : "",
                c.fused_lm_head_loss ? "; the loss fused with the LM head, without logits" : "");
    }

    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", c.output_dir);
    if (!(metrics = fopen(mpath, ck >= 0 ? "ab" : "wb"))) {
        fprintf(stderr, "rlvr train: cannot write %s\n", mpath);
        goto out;
    }
    snprintf(mpath, sizeof mpath, "%s/completions.jsonl", c.output_dir);
    complog = fopen(mpath, ck >= 0 ? "ab" : "wb");
    fprintf(stderr,
            "rlvr train: %zu problems (%ld skipped), %ld steps of %ld prompts x %ld completions, %zu parameters, "
            "mix %s (%zu components)%s%s\n",
            data.n, data.skipped, total, B, G, p.model.n_params, c.mix, n_comp, c.beta > 0 ? ", reference model" : "",
            ck >= 0 ? ", resumed" : "");
    signal(SIGINT, on_sigint);
    int tty = c.progress && isatty(2);
    double t_start = rlvr_now();
    rc = 0;
    if (esc && c.eval_on_start && start_step == 0) {
        struct rlvr_eval_result er;
        if (rlvr_evaluate(&p, &esamp, eval_set, n_eval, (int)c.eval_num_samples, 0, (int)c.generation_chunk, esc,
                          eacc, 1.0, NULL, 0, 0, &er, NULL, err, sizeof err)) {
            fprintf(stderr, "rlvr train: eval: %s\n", err);
            rc = 1;
            goto out;
        }
        log_eval(metrics, 0, &er, esc, tty);
        rlvr_eval_result_free(&er);
    }
    long step;
    for (step = start_step; step < total && !interrupted && !rc; step++) {
        double t_step = rlvr_now(), t_gen = 0, t_score_wait = 0, score_busy = 0;
        if (rlvr_scoring_set_step(sc, step, err, sizeof err)) {
            fprintf(stderr, "rlvr train: step %ld: %s\n", step + 1, err);
            rc = 1;
            break;
        }
        stats_reset(&ss, n_comp);
        n_kept = 0;
        int gen_batches = 0;
        long gen_tokens = 0;
        size_t kept_groups = 0;
        while (!rc) {
            for (long i = 0; i < B; i++)
                batch[i] = &data.v[order_at(&ord, cursor + i)];
            double t0 = rlvr_now();
            struct rlvr_gen_stats gs;
            if (rlvr_rollout(&p, &samp, batch, (size_t)B, (int)G, (uint64_t)cursor, (int)c.generation_chunk, sc, gen,
                             &gs, err, sizeof err)) {
                fprintf(stderr, "%srlvr train: step %ld: %s\n", tty ? "\n" : "", step + 1, err);
                rc = 1;
                break;
            }
            double t1 = rlvr_now();
            double busy;
            if (rlvr_scoring_wait(sc, &busy, err, sizeof err)) {
                rlvr_completions_free(gen, per_gen);
                fprintf(stderr, "%srlvr train: step %ld: %s\n", tty ? "\n" : "", step + 1, err);
                rc = 1;
                break;
            }
            t_gen += t1 - t0, t_score_wait += rlvr_now() - t1, score_busy += busy;
            gen_tokens += gs.generated_tokens;
            cursor += B;
            gen_batches++;
            for (size_t i = 0; i < per_gen; i++) {
                rewards[i] = (float)gen[i].reward;
                gidx[i] = (int32_t)(i / (size_t)G);
            }
            struct rlvr_advantage_stats as;
            if (rlvr_advantages(rewards, gidx, per_gen, (size_t)B, scale, RLVR_BASELINE_MEAN, RLVR_ADVANTAGE_EPS, adv,
                                no_signal, &as, err, sizeof err)) {
                rlvr_completions_free(gen, per_gen);
                fprintf(stderr, "%srlvr train: step %ld: advantages: %s\n", tty ? "\n" : "", step + 1, err);
                rc = 1;
                break;
            }
            stats_add(&ss, gen, per_gen, n_comp, acc, &as, (int)c.max_completion_length);
            if (gen_batches == 1 && c.log_completions_steps && (step + 1) % c.log_completions_steps == 0)
                print_completions(complog, step + 1, gen, per_gen, (size_t)c.num_completions_to_print, tty);
            for (long g = 0; g < B; g++) {
                int keep = kept_groups < (size_t)B && (!c.dynamic_sampling || !no_signal[g]);
                for (long i = 0; i < G; i++) {
                    struct rlvr_completion *x = &gen[g * G + i];
                    if (keep) {
                        store[n_kept] = *x;
                        memset(x, 0, sizeof *x);
                        n_kept++;
                    }
                }
                kept_groups += keep;
            }
            rlvr_completions_free(gen, per_gen);
            if (!c.dynamic_sampling || kept_groups >= (size_t)B)
                break;
            if (gen_batches >= c.max_num_gen_batches) {
                fprintf(stderr,
                        "%srlvr train: step %ld: dynamic sampling kept %zu of %ld groups after max_num_gen_batches "
                        "(%ld) generation batches: the other groups' rewards were all equal. Training on those "
                        "kept; if this repeats, the problems are too easy or too hard for the policy (or raise "
                        "max_num_gen_batches)\n",
                        tty ? "\r\033[K" : "", step + 1, kept_groups, B, c.max_num_gen_batches);
                break;
            }
        }
        if (rc)
            break;
        /* advantages over what is kept (the same per group unless scale is batch) */
        for (size_t i = 0; i < n_kept; i++) {
            rewards[i] = (float)store[i].reward;
            gidx[i] = (int32_t)(i / (size_t)G);
            kept[i] = &store[i];
        }
        double t_train0 = rlvr_now();
        struct train_metrics tm;
        memset(&tm, 0, sizeof tm);
        if (n_kept &&
            rlvr_advantages(rewards, gidx, n_kept, n_kept / (size_t)G, scale, RLVR_BASELINE_MEAN, RLVR_ADVANTAGE_EPS,
                            kept_adv, NULL, NULL, err, sizeof err)) {
            fprintf(stderr, "%srlvr train: step %ld: advantages: %s\n", tty ? "\n" : "", step + 1, err);
            rc = 1;
        }
        if (!rc && n_kept && ref_lp) {
            for (size_t i = 0; i < n_kept && !rc; i++)
                if (!(ref_lp[i] = malloc((size_t)(store[i].seq.n_tokens ? store[i].seq.n_tokens : 1) * sizeof(float))))
                    rc = 1, rlvr_errf(err, sizeof err, "out of memory");
            for (size_t first = 0; !rc && first < n_kept; first += (size_t)mb.mb) {
                int nb = (int)(n_kept - first < (size_t)mb.mb ? n_kept - first : (size_t)mb.mb);
                if (completion_logprobs(&refp.model, up.gpu, &mb, kept + first, nb, (float)c.temperature, ref_lp + first, err,
                                        sizeof err))
                    rc = 1;
            }
            if (rc)
                fprintf(stderr, "%srlvr train: step %ld: reference model: %s\n", tty ? "\n" : "", step + 1, err);
        }
        if (!rc && n_kept && c.steps_per_generation > 1)
            shuffle_kept(kept, kept_adv, ref_lp, n_kept, (uint64_t)c.seed, step);
        if (!rc && n_kept &&
            train_on(&up, &gc, &mb, kept, kept_adv, ref_lp, (int)n_kept, (int)c.num_iterations,
                     (int)c.steps_per_generation, (float)c.temperature, &tm, err, sizeof err)) {
            fprintf(stderr, "%srlvr train: step %ld: %s\n", tty ? "\n" : "", step + 1, err);
            rc = 1;
        }
        if (!n_kept) {
            /* nothing to learn from: the optimizer still counts the step so
             * the schedule and a resume stay in line */
            struct rlvr_optim_stats st = {0};
            rlvr_model_zero_grads(&p.model);
            for (long it = 0; it < c.num_iterations * c.steps_per_generation && !rc; it++)
                if (optimizer_step(&up, &st, err, sizeof err)) {
                    fprintf(stderr, "%srlvr train: step %ld: %s\n", tty ? "\n" : "", step + 1, err);
                    rc = 1;
                }
            tm.lr = st.lr;
        }
        for (size_t i = 0; ref_lp && i < n_kept; i++) {
            free(ref_lp[i]);
            ref_lp[i] = NULL;
        }
        rlvr_completions_free(store, n_kept);
        n_kept = 0;
        if (rc)
            break;
        double now = rlvr_now(), t_train = now - t_train0;
        long done = step + 1;
        /* metrics */
        double nr = (double)(ss.samples - ss.null_rewards);
        double rmean = nr > 0 ? ss.reward_sum / nr : NAN;
        double rstd = nr > 1 ? sqrt(fmax(0, (ss.reward_sq - nr * rmean * rmean) / (nr - 1))) : NAN;
        double accm = ss.acc_n ? ss.acc_sum / (double)ss.acc_n : NAN;
        double mlen = ss.samples ? ss.len_sum / (double)ss.samples : NAN;
        rlvr_buf b = {0};
        rlvr_buf_printf(&b, "{\"step\":%ld", done);
        json_key_num(&b, "epoch", (double)cursor / (double)data.n);
        json_key_num(&b, "reward", rmean);
        json_key_num(&b, "reward_std", rstd);
        for (size_t j = 0; j < n_comp; j++) {
            char key[256];
            const char *nm = rlvr_scoring_component_name(sc, j);
            snprintf(key, sizeof key, "rewards/%s/mean", nm);
            json_key_num(&b, key, ss.comp_ok[j] ? ss.comp_sum[j] / (double)ss.comp_ok[j] : NAN);
            snprintf(key, sizeof key, "rewards/%s/abstain_rate", nm);
            json_key_num(&b, key, (double)ss.comp_abstain[j] / (double)ss.samples);
            snprintf(key, sizeof key, "rewards/%s/error_rate", nm);
            json_key_num(&b, key, (double)ss.comp_error[j] / (double)ss.samples);
        }
        json_key_num(&b, "accuracy", accm);
        json_key_num(&b, "reward_null", (double)ss.null_rewards);
        json_key_num(&b, "completions/mean_length", mlen);
        json_key_num(&b, "completions/max_length", ss.len_max);
        json_key_num(&b, "completions/min_length", ss.len_min);
        json_key_num(&b, "completions/clipped_ratio", (double)ss.truncated / (double)ss.samples);
        json_key_num(&b, "frac_reward_zero_std", ss.groups ? (double)ss.zero_std_groups / (double)ss.groups : 0);
        json_key_num(&b, "loss", tm.loss);
        json_key_num(&b, "kl", c.beta > 0 ? tm.kl : NAN);
        json_key_num(&b, "entropy", tm.entropy);
        json_key_num(&b, "clip_ratio/low_mean", tm.clip_low);
        json_key_num(&b, "clip_ratio/high_mean", tm.clip_high);
        json_key_num(&b, "clip_ratio/region_mean", tm.clip_region);
        json_key_num(&b, "grad_norm", tm.grad_norm);
        json_key_num(&b, "learning_rate", tm.lr);
        json_key_num(&b, "num_gen_batches", gen_batches);
        json_key_num(&b, "groups_trained", (double)kept_groups);
        json_key_num(&b, "tokens_per_second/generation", t_gen > 0 ? (double)gen_tokens / t_gen : NAN);
        json_key_num(&b, "tokens_per_second/training", t_train > 0 ? tm.tokens / t_train : NAN);
        json_key_num(&b, "time/generation", t_gen);
        json_key_num(&b, "time/scoring", score_busy);
        json_key_num(&b, "time/scoring_wait", t_score_wait);
        json_key_num(&b, "time/training", t_train);
        json_key_num(&b, "time/step", now - t_step);
        json_key_num(&b, "elapsed", now - t_start);
        rlvr_buf_adds(&b, "}\n");
        if (!b.oom)
            fwrite(b.ptr, 1, b.len, metrics);
        fflush(metrics);
        rlvr_buf_free(&b);
        if (done % c.logging_steps == 0 || done == total)
            fprintf(stderr,
                    "%sstep %ld/%ld  reward %.4f ± %.3f  accuracy %.4f  length %.1f (clipped %.2f)  kl %.4g  "
                    "entropy %.3f  zero-std %.2f  gen %.0f tok/s  train %.0f tok/s  %.2f s\n",
                    tty ? "\r\033[K" : "", done, total, rmean, rstd, accm, mlen,
                    (double)ss.truncated / (double)ss.samples, c.beta > 0 ? tm.kl : 0.0, tm.entropy,
                    ss.groups ? (double)ss.zero_std_groups / (double)ss.groups : 0.0,
                    t_gen > 0 ? (double)gen_tokens / t_gen : 0.0, t_train > 0 ? tm.tokens / t_train : 0.0,
                    now - t_step);
        if (tty)
            progress_bar(done, total, rmean, accm);
        if (esc && c.eval_steps && done % c.eval_steps == 0 && done != total) {
            struct rlvr_eval_result er;
            if (rlvr_evaluate(&p, &esamp, eval_set, n_eval, (int)c.eval_num_samples, 0, (int)c.generation_chunk, esc,
                              eacc, 1.0, NULL, 0, 0, &er, NULL, err, sizeof err)) {
                fprintf(stderr, "%srlvr train: eval: %s\n", tty ? "\n" : "", err);
                rc = 1;
                break;
            }
            log_eval(metrics, done, &er, esc, tty);
            rlvr_eval_result_free(&er);
        }
        if ((c.save_steps && done % c.save_steps == 0) || interrupted || done == total) {
            char state[160];
            snprintf(state, sizeof state, "{\"global_step\": %ld, \"max_steps\": %ld, \"prompt_cursor\": %ld}", done,
                     total, cursor);
            /* on the GPU: the weights and AdamW's state brought to the host first */
            int bad = host_sync(&up, err, sizeof err) ||
                      (up.gpu && rlvr_adamw_from_gpu(&opt, rlvr_train_gpu_policy(up.gpu), err, sizeof err)) ||
                      rlvr_run_checkpoint_save(&p, &opt, c.output_dir, done, state, err, sizeof err);
            if (up.gpu)
                rlvr_adamw_drop_moments(&opt);
            if (bad) {
                fprintf(stderr, "%srlvr train: %s\n", tty ? "\n" : "", err);
                rc = 1;
                break;
            }
        }
    }
    if (tty)
        fputs("\r\033[K", stderr);
    if (rc)
        goto out;
    if (interrupted) {
        fprintf(stderr, "rlvr train: interrupted at step %ld; checkpoint-%ld saved; --resume continues\n", step, step);
        rc = 130;
        goto out;
    }
    if (esc) {
        struct rlvr_eval_result er;
        if (rlvr_evaluate(&p, &esamp, eval_set, n_eval, (int)c.eval_num_samples, 0, (int)c.generation_chunk, esc,
                          eacc, 1.0, NULL, 0, 0, &er, NULL, err, sizeof err)) {
            fprintf(stderr, "rlvr train: eval: %s\n", err);
            rc = 1;
            goto out;
        }
        log_eval(metrics, total, &er, esc, 0);
        rlvr_eval_result_free(&er);
    }
    fflush(metrics);
    char final_state[160];
    snprintf(final_state, sizeof final_state, "{\"global_step\": %ld, \"max_steps\": %ld, \"prompt_cursor\": %ld}",
             total, total, cursor);
    if (host_sync(&up, err, sizeof err) ||
        rlvr_run_final_save(&p, c.output_dir, save_dtype, final_state, err, sizeof err)) {
        fprintf(stderr, "rlvr train: %s\n", err);
        rc = 1;
        goto out;
    }
    if (c.plot && write_plot(c.output_dir, acc, err, sizeof err))
        fprintf(stderr, "rlvr train: plot: %s\n", err);
    fprintf(stderr, "rlvr train: done: %ld steps in %.1f s; the model is in %s (%s)%s\n", total - start_step,
            rlvr_now() - t_start, c.output_dir, c.save_dtype, c.plot ? ", plot in training.svg" : "");
    rc = data.skipped || eval_data.skipped ? 1 : 0;
    goto out;
oom:
    fprintf(stderr, "rlvr train: out of memory for the step's buffers (micro-batches of %ld x %d tokens)\n",
            c.per_device_train_batch_size, T);
    rc = 2;
out:
    if (metrics)
        fclose(metrics);
    if (complog)
        fclose(complog);
    rlvr_scoring_free(sc);
    rlvr_scoring_free(esc);
    if (reg_ok)
        rlvr_registry_free(&reg);
    rlvr_problems_free(&data);
    rlvr_problems_free(&eval_data);
    micro_free(&mb);
    free(ord.perm), free(gen), free(kept), free(batch), free(rewards), free(adv), free(kept_adv), free(gidx);
    free(no_signal), free(ref_lp), free(eval_set), free(store);
    free(ss.comp_sum), free(ss.comp_ok), free(ss.comp_abstain), free(ss.comp_error);
    if (up.gpu)
        rlvr_generate_bind(&p.model, NULL);
    rlvr_train_gpu_free(up.gpu);
    rlvr_adamw_free(&opt);
    rlvr_policy_free(&p);
    rlvr_policy_free(&refp);
    json_object_put(cfg);
    free_config(&c);
    rlvr_run_args_free(&args);
    return rc;
}
