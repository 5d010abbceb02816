/*
 * optim.c -- AdamW, clipping and learning-rate schedules (see optim.h for
 * the semantics each follows). The moments live in one allocation [2, n];
 * the update is one pass over the parameters.
 */
#include "optim.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numeric.h"

#define PI 3.14159265358979323846

void rlvr_optim_config_default(struct rlvr_optim_config *c)
{
    memset(c, 0, sizeof *c);
    c->lr = 1e-6;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->weight_decay = 0.0;
    c->max_grad_norm = 1.0;
    c->schedule = RLVR_LR_LINEAR;
    c->warmup_steps = 0;
    c->total_steps = 0;
    c->min_lr_ratio = 0.0;
}

int rlvr_lr_schedule_parse(const char *name)
{
    static const char *const names[] = {"constant", "linear", "cosine"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

int rlvr_optim_config_check(const struct rlvr_optim_config *c, char *err, size_t err_len)
{
    if (!(c->lr >= 0) || !isfinite(c->lr))
        return rlvr_num_fail(err, err_len, "optimizer: learning_rate = %g must be >= 0", c->lr);
    if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
        return rlvr_num_fail(err, err_len, "optimizer: adam_beta1 = %g and adam_beta2 = %g must be "
                             "in [0, 1)", c->beta1, c->beta2);
    if (!(c->eps > 0) || !isfinite(c->eps))
        return rlvr_num_fail(err, err_len, "optimizer: adam_epsilon = %g must be > 0", c->eps);
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        return rlvr_num_fail(err, err_len, "optimizer: weight_decay = %g must be >= 0",
                             c->weight_decay);
    if (!(c->max_grad_norm >= 0) || !isfinite(c->max_grad_norm))
        return rlvr_num_fail(err, err_len, "optimizer: max_grad_norm = %g must be >= 0 (0: off)",
                             c->max_grad_norm);
    if (c->schedule < RLVR_LR_CONSTANT || c->schedule > RLVR_LR_COSINE)
        return rlvr_num_fail(err, err_len, "optimizer: unknown lr_scheduler_type %d", c->schedule);
    if (c->warmup_steps < 0 || c->total_steps < 0)
        return rlvr_num_fail(err, err_len, "optimizer: warmup_steps and the total step count must "
                             "be >= 0");
    if (c->schedule != RLVR_LR_CONSTANT && c->total_steps == 0)
        return rlvr_num_fail(err, err_len, "optimizer: a linear or cosine schedule needs the total "
                             "number of steps");
    if (!(c->min_lr_ratio >= 0 && c->min_lr_ratio <= 1))
        return rlvr_num_fail(err, err_len, "optimizer: min_lr_ratio = %g must be in [0, 1]",
                             c->min_lr_ratio);
    return 0;
}

double rlvr_lr_at(const struct rlvr_optim_config *c, long step)
{
    if (step < c->warmup_steps)
        return c->lr * (double)step / (double)c->warmup_steps;
    if (c->schedule == RLVR_LR_CONSTANT)
        return c->lr;
    long span = c->total_steps - c->warmup_steps;
    double progress = span > 0 ? (double)(step - c->warmup_steps) / (double)span : 1.0;
    if (c->schedule == RLVR_LR_LINEAR)
        return c->lr * fmax(0.0, 1.0 - progress);
    double cosine = fmax(0.0, 0.5 * (1.0 + cos(PI * progress)));
    if (progress >= 1.0)
        cosine = 0.0;
    return c->lr * (c->min_lr_ratio + (1.0 - c->min_lr_ratio) * cosine);
}

int rlvr_adamw_create(struct rlvr_adamw *o, size_t n_params, const struct rlvr_optim_config *c,
                      char *err, size_t err_len)
{
    memset(o, 0, sizeof *o);
    if (rlvr_optim_config_check(c, err, err_len))
        return -1;
    o->cfg = *c;
    o->n = n_params;
    o->m = calloc(2 * n_params, sizeof(float));
    if (!o->m)
        return rlvr_num_fail(err, err_len, "optimizer: out of memory for the moments of %zu "
                             "parameters (%.1f GB)", n_params, (double)n_params * 8 / 1e9);
    o->v = o->m + n_params;
    return 0;
}

void rlvr_adamw_free(struct rlvr_adamw *o)
{
    free(o->m);
    memset(o, 0, sizeof *o);
}

int rlvr_adamw_step(struct rlvr_adamw *o, struct rlvr_model *mdl, struct rlvr_optim_stats *stats,
                    char *err, size_t err_len)
{
    if (!mdl->grads || mdl->n_params != o->n)
        return rlvr_num_fail(err, err_len, "optimizer: the model has no gradients or %zu "
                             "parameters where the optimizer has %zu", mdl->n_params, o->n);
    float *p = mdl->params, *g = mdl->grads;
    double ss = 0;
    for (size_t i = 0; i < o->n; i++)
        ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    struct rlvr_optim_stats st = {norm, rlvr_lr_at(&o->cfg, o->step), 0};
    if (stats)
        *stats = st;
    if (!isfinite(norm))
        return rlvr_num_fail(err, err_len, "optimizer: the gradient norm is %g; step %ld skipped",
                             norm, o->step + 1);
    if (o->cfg.max_grad_norm > 0) {
        double coef = o->cfg.max_grad_norm / (norm + 1e-6);
        if (coef < 1.0) {
            float fc = (float)coef;
            for (size_t i = 0; i < o->n; i++)
                g[i] *= fc;
            st.clipped = 1;
        }
    }
    long t = ++o->step;
    double lr = st.lr, b1 = o->cfg.beta1, b2 = o->cfg.beta2;
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    float step_size = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    float eps = (float)o->cfg.eps, fb1 = (float)b1, fb2 = (float)b2;
    for (int ti = 0; ti < mdl->n_tensors; ti++) {
        const struct rlvr_tensor *x = &mdl->tensors[ti];
        if (!x->numel)
            continue;
        float keep = x->decay ? (float)(1.0 - lr * o->cfg.weight_decay) : 1.0f;
        float *pp = p + x->offset, *gg = g + x->offset, *mm = o->m + x->offset, *vv = o->v + x->offset;
        long n = (long)x->numel;
        for (long i = 0; i < n; i++) {
            float gi = gg[i];
            mm[i] = fb1 * mm[i] + (1.0f - fb1) * gi;
            vv[i] = fb2 * vv[i] + (1.0f - fb2) * gi * gi;
            float denom = sqrtf(vv[i]) * inv_sqrt_bc2 + eps;
            pp[i] = pp[i] * keep - step_size * mm[i] / denom;
        }
    }
    if (stats)
        *stats = st;
    return 0;
}

/* ---- state files -------------------------------------------------------------------- */

static const char MAGIC[8] = {'R', 'L', 'V', 'R', 'A', 'D', 'A', 'M'};
enum { STATE_VERSION = 1 };

int rlvr_adamw_save(const struct rlvr_adamw *o, const char *path, char *err, size_t err_len)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return rlvr_num_fail(err, err_len, "optimizer state: path too long: %s", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return rlvr_num_fail(err, err_len, "optimizer state: cannot write %s", tmp);
    uint64_t head[3] = {STATE_VERSION, (uint64_t)o->n, (uint64_t)o->step};
    int bad = fwrite(MAGIC, 1, 8, f) != 8 || fwrite(head, sizeof head, 1, f) != 1 ||
              fwrite(o->m, sizeof(float), 2 * o->n, f) != 2 * o->n;
    if (fclose(f) || bad) {
        remove(tmp);
        return rlvr_num_fail(err, err_len, "optimizer state: writing %s failed", tmp);
    }
    if (rename(tmp, path)) {
        remove(tmp);
        return rlvr_num_fail(err, err_len, "optimizer state: cannot rename %s to %s", tmp, path);
    }
    return 0;
}

int rlvr_adamw_load(struct rlvr_adamw *o, const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rlvr_num_fail(err, err_len, "optimizer state: cannot open %s", path);
    char magic[8];
    uint64_t head[3];
    int rc = 0;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, MAGIC, 8) || fread(head, sizeof head, 1, f) != 1)
        rc = rlvr_num_fail(err, err_len, "optimizer state: %s is not an rlvr optimizer state", path);
    else if (head[0] != STATE_VERSION)
        rc = rlvr_num_fail(err, err_len, "optimizer state: %s has version %llu (this rlvr reads %d)",
                           path, (unsigned long long)head[0], STATE_VERSION);
    else if (head[1] != o->n)
        rc = rlvr_num_fail(err, err_len, "optimizer state: %s holds %llu parameters, the model has "
                           "%zu", path, (unsigned long long)head[1], o->n);
    else if (fread(o->m, sizeof(float), 2 * o->n, f) != 2 * o->n || fgetc(f) != EOF)
        rc = rlvr_num_fail(err, err_len, "optimizer state: %s is truncated or too long", path);
    else
        o->step = (long)head[2];
    fclose(f);
    return rc;
}
