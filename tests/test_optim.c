/*
 * test_optim.c -- AdamW, clipping and the schedules (host/optim.c) against
 * torch (committed fixture fixtures/optim/cases.txt: torch.optim.AdamW with
 * the HF Trainer's two parameter groups, clip_grad_norm_ and a LambdaLR with
 * transformers' schedule formulas, in float64), plus the state file and the
 * refusals.
 *
 * Tolerances: each step's learning rate and gradient norm to 1e-9 relative
 * (both are computed in double); the parameters after the last step to
 * 2e-6 absolute (float32 updates of size ~lr on values of size ~1).
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, ftruncate, fileno under -std=c11 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optim.h"
#include "fixture_words.h"
#include "tap.h"

static char err[512];


/* The fixture's model: V 11, D 8, F 12, one layer, 2/1 heads of 4, biases,
 * untied head; weights from the hash (as tests/fixtures/model). */
static int small_model(struct rlvr_model *m, uint64_t seed)
{
    struct rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    c.vocab_size = 11, c.hidden_size = 8, c.intermediate_size = 12, c.num_hidden_layers = 1;
    c.num_attention_heads = 2, c.num_key_value_heads = 1, c.head_dim = 4;
    c.tie_word_embeddings = 0, c.attention_bias = 1, c.eos_token_id = -1;
    if (rlvr_model_create(m, &c, err, sizeof err) || rlvr_model_enable_grads(m, err, sizeof err))
        return -1;
    for (int t = 0; t < m->n_tensors; t++) {
        const struct rlvr_tensor *x = &m->tensors[t];
        int norm = strstr(x->name, "norm") != NULL;
        for (size_t j = 0; j < x->numel; j++)
            m->params[x->offset + j] = fixture_hash_value(seed, (uint64_t)t, j) * 0.25f + (norm ? 1.0f : 0.0f);
    }
    return 0;
}

static void set_grads(struct rlvr_model *m, uint64_t seed, float scale)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const struct rlvr_tensor *x = &m->tensors[t];
        for (size_t j = 0; j < x->numel; j++)
            m->grads[x->offset + j] = fixture_hash_value(seed, (uint64_t)t, j) * scale;
    }
}


static char *cur;
static char *word(void) { return fixture_word(&cur); }
static double num(void) { return fixture_num(&cur); }

static void run_fixture(const char *path)
{
    char *buf = fixture_slurp(path);
    if (!ok(buf != NULL, "fixture %s opens", path))
        return;
    cur = buf;
    int cases = 0;
    char *w;
    while ((w = word()) && !strcmp(w, "case")) {
        char name[64];
        snprintf(name, sizeof name, "%s", word());
        word(); /* config */
        struct rlvr_optim_config c;
        rlvr_optim_config_default(&c);
        c.lr = num(), c.beta1 = num(), c.beta2 = num(), c.eps = num(), c.weight_decay = num();
        c.max_grad_norm = num();
        c.schedule = rlvr_lr_schedule_parse(word());
        c.warmup_steps = (long)num(), c.total_steps = (long)num(), c.min_lr_ratio = num();
        float gscale = (float)num();
        int steps = (int)num();
        uint64_t seed = (uint64_t)num();
        struct rlvr_model m;
        struct rlvr_adamw o;
        if (!ok(small_model(&m, seed) == 0 && rlvr_adamw_create(&o, m.n_params, &c, err, sizeof err) == 0,
                "%s: model and optimizer (%s)", name, err))
            break;
        double worst_lr = 0, worst_norm = 0;
        for (int k = 0; k < steps; k++) {
            word(), num(); /* step K */
            double want_lr = num(), want_norm = num();
            set_grads(&m, seed + 100 + (uint64_t)k, gscale);
            struct rlvr_optim_stats st;
            if (!ok(rlvr_adamw_step(&o, &m, &st, err, sizeof err) == 0, "%s: step %d", name, k)) {
                diag("%s", err);
                break;
            }
            worst_lr = fmax(worst_lr, fabs(st.lr - want_lr) / fmax(fabs(want_lr), 1e-300));
            worst_norm = fmax(worst_norm, fabs(st.grad_norm - want_norm) / want_norm);
        }
        ok(worst_lr < 1e-9, "%s: the learning rate of every step (worst relative error %.2g)", name, worst_lr);
        ok(worst_norm < 1e-6, "%s: the gradient norm of every step (worst relative error %.2g)", name,
           worst_norm);
        word(); /* params */
        size_t n = (size_t)num(), i;
        double worst = 0;
        for (i = 0; i < n && i < m.n_params; i++)
            worst = fmax(worst, fabs((double)m.params[i] - num()));
        ok(n == m.n_params && worst < 2e-6, "%s: parameters after %d steps (max abs error %.2g)", name, steps,
           worst);
        w = word();
        ok(w && !strcmp(w, "end"), "%s: read whole", name);
        rlvr_adamw_free(&o);
        rlvr_model_free(&m);
        cases++;
    }
    ok(cases == 4, "fixture: %d cases compared", cases);
    free(buf);
}

static void test_schedules_and_refusals(void)
{
    struct rlvr_optim_config c;
    rlvr_optim_config_default(&c);
    c.lr = 1.0, c.schedule = RLVR_LR_COSINE, c.warmup_steps = 10, c.total_steps = 110;
    ok(rlvr_lr_at(&c, 0) == 0, "warmup starts at 0 (transformers' first step)");
    is_num(rlvr_lr_at(&c, 5), 0.5, 1e-15, "half way through warmup");
    is_num(rlvr_lr_at(&c, 10), 1.0, 1e-15, "peak after warmup");
    is_num(rlvr_lr_at(&c, 60), 0.5, 1e-12, "cosine half way: 0.5");
    is_num(rlvr_lr_at(&c, 110), 0.0, 0, "cosine ends at 0");
    is_num(rlvr_lr_at(&c, 500), 0.0, 0, "and stays there");
    c.schedule = RLVR_LR_LINEAR;
    is_num(rlvr_lr_at(&c, 85), 0.25, 1e-12, "linear: a quarter left");
    ok(rlvr_lr_schedule_parse("cosine") == RLVR_LR_COSINE && rlvr_lr_schedule_parse("cosine_x") == -1,
       "schedule names");
    c.total_steps = 0;
    ok(rlvr_optim_config_check(&c, err, sizeof err) == -1 && strstr(err, "total"),
       "linear without a total is refused: %s", err);
    rlvr_optim_config_default(&c);
    c.beta2 = 1.0;
    ok(rlvr_optim_config_check(&c, err, sizeof err) == -1 && strstr(err, "adam_beta2"), "beta2 = 1 refused");
    rlvr_optim_config_default(&c);
    c.lr = NAN;
    ok(rlvr_optim_config_check(&c, err, sizeof err) == -1 && strstr(err, "learning_rate"), "NaN lr refused");

    /* A NaN gradient: the step is refused and changes nothing. */
    struct rlvr_model m;
    struct rlvr_adamw o;
    rlvr_optim_config_default(&c);
    c.schedule = RLVR_LR_CONSTANT, c.lr = 0.1;
    small_model(&m, 9);
    rlvr_adamw_create(&o, m.n_params, &c, err, sizeof err);
    float *before = malloc(m.n_params * sizeof(float));
    memcpy(before, m.params, m.n_params * sizeof(float));
    set_grads(&m, 1, 1.0f);
    m.grads[3] = NAN;
    ok(rlvr_adamw_step(&o, &m, NULL, err, sizeof err) == -1 && strstr(err, "nan") && o.step == 0 &&
           !memcmp(before, m.params, m.n_params * sizeof(float)),
       "a NaN gradient refuses the step, nothing changes: %s", err);

    /* State round trip: two steps, save, two more; versus load and two more. */
    set_grads(&m, 1, 1.0f);
    rlvr_adamw_step(&o, &m, NULL, err, sizeof err);
    rlvr_adamw_step(&o, &m, NULL, err, sizeof err);
    char dir[] = "/tmp/rlvr-optim-XXXXXX", path[256];
    ok(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof path, "%s/optimizer.bin", dir);
    ok(rlvr_adamw_save(&o, path, err, sizeof err) == 0, "state saved");
    memcpy(before, m.params, m.n_params * sizeof(float));
    rlvr_adamw_step(&o, &m, NULL, err, sizeof err);
    rlvr_adamw_step(&o, &m, NULL, err, sizeof err);
    float *after = malloc(m.n_params * sizeof(float));
    memcpy(after, m.params, m.n_params * sizeof(float));
    struct rlvr_adamw o2;
    rlvr_adamw_create(&o2, m.n_params, &c, err, sizeof err);
    ok(rlvr_adamw_load(&o2, path, err, sizeof err) == 0 && o2.step == 2, "state loaded (step 2)");
    memcpy(m.params, before, m.n_params * sizeof(float));
    rlvr_adamw_step(&o2, &m, NULL, err, sizeof err);
    rlvr_adamw_step(&o2, &m, NULL, err, sizeof err);
    ok(!memcmp(after, m.params, m.n_params * sizeof(float)), "resumed steps are bit-identical");
    struct rlvr_adamw o3;
    rlvr_adamw_create(&o3, m.n_params + 1, &c, err, sizeof err);
    ok(rlvr_adamw_load(&o3, path, err, sizeof err) == -1 && strstr(err, "parameters"),
       "a state for another model is refused: %s", err);
    FILE *f = fopen(path, "r+b");
    if (f) {
        if (ftruncate(fileno(f), 40) != 0)
            diag("ftruncate failed");
        fclose(f);
    }
    ok(rlvr_adamw_load(&o2, path, err, sizeof err) == -1 && strstr(err, "truncated"),
       "a truncated state is refused: %s", err);
    remove(path);
    rmdir(dir);
    free(before);
    free(after);
    rlvr_adamw_free(&o);
    rlvr_adamw_free(&o2);
    rlvr_adamw_free(&o3);
    rlvr_model_free(&m);
}

int main(void)
{
    plan_no_plan();
    test_schedules_and_refusals();
    const char *srcdir = getenv("srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/fixtures/optim/cases.txt", srcdir ? srcdir : ".");
    run_fixture(path);
    return done_testing();
}
